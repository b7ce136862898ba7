"""Phase C of a run: one shard's surviving documents after the global dedup, tagged and written.

Joins the dedup decisions to the shard's documents, moves the removed duplicates to the
ledger, runs the tagging stages (site, domain, tokens) and writes the Hive-partitioned
Parquet shard. Like phase A it records its completion last.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from crawlsieve.core.io import write_atomically, write_json_atomically
from crawlsieve.core.layout import EXTRACT, FINALIZE, RunLayout
from crawlsieve.core.ledger import CpuClock, run_stages
from crawlsieve.core.stages import DECONTAMINATION_MATCH, REMOVED, Stage, stage_counters
from crawlsieve.dedup.cluster_facts import members_of, read_facts
from crawlsieve.filters.decontamination import NGRAMS_SIGNAL
from crawlsieve.pipelines.config import Config

#: Columns of an output row, in order (DESIGN.md "Document columns"); signals follow.
OUTPUT_COLUMNS = (
    "id",
    "text",
    "url",
    "site",
    "domain",
    "genre",
    "language",
    "language_score",
    "script",
    "quality_score",
    "token_count",
    "dup_cluster_size",
    "dump",
    "warc_path",
    "warc_record_id",
    "fetch_time",
    "extractor",
)


def finalize_stages(config: Config) -> list[Stage]:
    """Dropped clusters first (nothing else need be done for them), then repeated lines cut, so
    that tokens and the domain are of the text published."""
    from crawlsieve.dedup.subdoc import subdoc_stages
    from crawlsieve.filters.spam import spam_flags
    from crawlsieve.tagging import domain

    flags = spam_flags(config.filters.spam)
    return [
        *cluster_label_stages(config),
        *subdoc_stages(config.dedup.subdoc),
        *domain.domain_stages(config.domain, flags),
    ]


def score_columns(config: Config) -> tuple[str, ...]:
    """The classifier scores the quality buckets are made of (``quality.buckets``)."""
    from crawlsieve.filters.classifier import QUALITY_SCORE, classifier_column

    first = (QUALITY_SCORE,) if config.filters.quality_classifier.mode != "off" else ()
    return (*first, *(classifier_column(entry.name) for entry in config.filters.classifiers))


def add_quality_buckets(output_dir: Path, config: Config, edges: dict[str, list[int]]) -> dict:
    """After phase D's merge: each shard's data files get ``quality_bucket`` (one Ray task per shard,
    each file rewritten in place, atomically); returns group key (``quality.mixture.GROUP_KEYS``) ->
    bucket -> [documents, tokens] for mixture.json."""
    from crawlsieve.core.shards import shard_files
    from crawlsieve.pipelines.ray_runtime import per_shard

    items = [
        {"shard": shard, "files": json.dumps([str(p) for p in paths])}
        for shard, paths in shard_files(RunLayout(output_dir).data).items()
    ]
    rows = per_shard(_bucket_batch, items, config, output_dir, edges=json.dumps(edges))
    sums: dict[tuple[str, ...], dict[int, list[int]]] = {}
    for row in rows:
        for *key, bucket, documents, tokens in json.loads(row["sums"]):
            into = sums.setdefault(tuple(key), {}).setdefault(bucket, [0, 0])
            into[0] += documents
            into[1] += tokens
    return sums


def _bucket_batch(batch, config: Config, output_dir: str, edges: str):
    sums = [
        json.dumps(bucket_shard([Path(p) for p in json.loads(files)], json.loads(edges), config))
        for files in batch.column("files").to_pylist()
    ]
    return pa.table({"shard": batch.column("shard"), "sums": pa.array(sums, pa.string())})


def bucket_shard(files: list[Path], edges: dict[str, list[int]], config: Config) -> list[list]:
    """Add (or replace) ``quality_bucket`` in each file; returns its [*group key, bucket, documents,
    tokens] sums."""
    from crawlsieve.core.shards import write_file
    from crawlsieve.quality.buckets import COLUMN, quality_buckets
    from crawlsieve.quality.mixture import key_columns

    sums: dict[tuple, list[int]] = {}
    for path in files:
        table = pq.read_table(path)
        buckets = quality_buckets(table, edges)
        if COLUMN in table.column_names:
            table = table.set_column(table.schema.get_field_index(COLUMN), COLUMN, buckets)
        else:
            table = table.append_column(COLUMN, buckets)
        write_file(table, path, config.output)
        columns = [*key_columns(table).values(), table.column(COLUMN), table.column("token_count")]
        for *key, bucket, tokens in zip(*(c.to_pylist() for c in columns), strict=True):
            if bucket is not None:
                into = sums.setdefault((*key, bucket), [0, 0])
                into[0] += 1
                into[1] += int(tokens or 0)
    return [[*key, *values] for key, values in sorted(sums.items())]


def cluster_label_stages(config: Config) -> list[Stage]:
    """With ``cluster.labels``: the stage that removes the documents of the clusters labelled drop."""
    if not config.cluster.labels:
        return []
    from crawlsieve.filters.cluster_labels import ClusterLabelStage
    from crawlsieve.quality.review_labels import recorded_cluster_labels

    return [ClusterLabelStage(recorded_cluster_labels(Path(config.cluster.labels)).dropped)]


def with_clusters(docs: pa.Table, config: Config, shard: str) -> pa.Table:
    """``docs`` with the ``cluster`` of each in the labelled run's side table (null where none)."""
    from crawlsieve.filters.cluster_labels import CLUSTER
    from crawlsieve.quality.review_labels import recorded_cluster_labels

    path = RunLayout(recorded_cluster_labels(Path(config.cluster.labels)).run).cluster_assignments(shard)
    if not path.is_file():
        return docs.append_column(CLUSTER, pa.nulls(docs.num_rows, pa.int32()))
    side = pq.read_table(path)
    position = pc.index_in(docs.column("id"), value_set=side.column("id").combine_chunks())
    return docs.append_column(CLUSTER, side.column("cluster").take(position))


def decisions_for(output_dir: Path, shard: str) -> pa.Table | None:
    """This shard's rows of the global dedup decisions (the dedup step writes one file per shard)."""
    path = RunLayout(output_dir).decisions(shard)
    return pq.read_table(path) if path.is_file() else None


def apply_decisions(docs: pa.Table, decisions: pa.Table | None) -> pa.Table:
    """Add `dup_cluster_size` and the dedup `_removed` reason to each document, in document order,
    and give a document whose id a record of another file has too its unique id.

    A lookup by id (the first decision of an id wins) rather than a join: it keeps the row count
    even if an id repeats, and the texts and list columns never move.
    """
    if decisions is None or decisions.num_rows == 0:
        return docs.append_column("dup_cluster_size", pa.array([1] * docs.num_rows, pa.int64()))
    position = pc.index_in(docs.column("id"), value_set=decisions.column("id").combine_chunks())
    size = pc.fill_null(decisions.column("dup_cluster_size").take(position), 1).cast(pa.int64())
    docs = docs.append_column("dup_cluster_size", size)
    if REMOVED in decisions.column_names:
        docs = docs.append_column(REMOVED, decisions.column(REMOVED).take(position).cast(pa.string()))
    if "new_id" in decisions.column_names:  # an id another file's record has too (dedup.run.renamed_ids)
        new_id = decisions.column("new_id").take(position)
        docs = docs.set_column(
            docs.schema.get_field_index("id"), "id", pc.coalesce(new_id, docs.column("id"))
        )
    return docs


def kept_signal(name: str, config: Config) -> bool:
    """A signal goes into the output when the config lists it, its filter runs in tag mode, or it is
    the score of one of ``filters.classifiers`` (published, like ``quality_score``); sub-document
    dedup's share cut whenever it runs; the spam filter's whenever it runs (its signals are tags
    first: what the mixture and the reviewer judge adult, gambling and ads by)."""
    keep = set(config.output.keep_signals)
    keep |= {entry.name for entry in config.filters.classifiers}
    if name in keep or name.removeprefix("sig_") in keep:
        return True
    if name.startswith("sig_dedup_subdoc_") and config.dedup.subdoc.enabled:
        return True
    if name.startswith("sig_spam_") and config.filters.spam.mode != "off":
        return True
    tagged = (f for f, section in config.filters if getattr(section, "mode", None) == "tag")
    return any(name.startswith(f"sig_{f}_") for f in tagged)


def output_table(kept: pa.Table, config: Config) -> pa.Table:
    """The published columns: the contract's, then the signals the config keeps (and, with the
    decontamination signal, the n-gram each tagged document matched)."""
    columns = {name: kept.column(name) for name in OUTPUT_COLUMNS if name in kept.column_names}
    for name in kept.column_names:
        if name.startswith("sig_") and kept_signal(name, config):
            columns[name] = kept.column(name)
    if DECONTAMINATION_MATCH in kept.column_names and kept_signal(NGRAMS_SIGNAL, config):
        columns[DECONTAMINATION_MATCH] = kept.column(DECONTAMINATION_MATCH)
    return pa.table(columns)


def _read_or_empty(path: Path) -> pa.Table | None:
    return pq.read_table(path) if path.is_file() else None


def write_cluster_examples(docs: pa.Table | None, shard: str, layout: RunLayout, chars: int) -> None:
    """url and start of text of this shard's members of the clusters the report shows."""
    path = layout.cluster_examples(shard)
    wanted = members_of(read_facts(layout), shard)
    if docs is None or not wanted:
        path.unlink(missing_ok=True)
        return
    rows = docs.filter(pc.is_in(docs["id"], pa.array(sorted(wanted), pa.string())))
    write_atomically(
        pa.table(
            {"id": rows["id"], "url": rows["url"], "text": pc.utf8_slice_codeunits(rows["text"], 0, chars)}
        ),
        path,
    )


def finalize_shard(shard: str, config: Config, output_dir: Path) -> dict:
    from crawlsieve.core.shards import sanitized, write_shard
    from crawlsieve.dedup.subdoc import cuts_for, with_cuts
    from crawlsieve.quality.summaries import Summary, file_summary, final_summary, write_summary

    started = time.monotonic()
    clock = CpuClock()
    layout = RunLayout(output_dir)
    docs_path, ledger_path = layout.docs(shard), layout.ledger(shard, FINALIZE)
    kept = pa.table({"id": pa.array([], pa.string())})
    decided = 0
    with clock.part("finalize:read"):
        docs = pq.read_table(docs_path) if docs_path.is_file() else None
        write_cluster_examples(docs, shard, layout, config.report.example_text_chars)
        if docs is not None and docs.num_rows:
            if config.dedup.subdoc.enabled:  # by the phase-A ids, before apply_decisions renames any
                docs = with_cuts(docs, cuts_for(layout, shard))
            docs = apply_decisions(docs, decisions_for(output_dir, shard))
            if config.cluster.labels:  # by the published ids, which apply_decisions gave
                docs = with_clusters(docs, config, shard)
    if docs is not None and docs.num_rows:
        stages = finalize_stages(config)
        survivors, ledger = run_stages([docs], stages, shard, source="dedup", clock=clock)
        with clock.part("finalize:write"):
            if ledger:
                write_atomically(pa.concat_tables(ledger, promote_options="permissive"), ledger_path)
                decided = sum(t.num_rows for t in ledger)
            else:
                ledger_path.unlink(missing_ok=True)
            if survivors:
                kept = output_table(pa.concat_tables(survivors, promote_options="permissive"), config)
    else:
        ledger_path.unlink(missing_ok=True)
    with clock.part("finalize:write"):
        kept = sanitized(kept)
        # Always called: an empty table still replaces what an earlier run wrote for this shard.
        written = write_shard(kept, layout.data, shard, config.output)
    with clock.part("finalize:summary"):
        ledger_table = pq.read_table(ledger_path) if decided else None
        # Phase A's summary, not its marker: an unfinished file has none, yet is finalized too.
        extract = Summary.read(layout.summary(shard, EXTRACT))
        summary, review = final_summary(
            shard,
            extract.warc_path,
            kept,
            ledger_table,
            config.report.review_per_reason,
            score_columns(config),
        )
        extract_review = layout.review_rows(shard, EXTRACT)
        cpu = {("finalize:ledger" if k == "ledger" else k): v for k, v in clock.rounded().items()}
        summary.cpu_seconds = cpu
        if docs is not None and docs.num_rows:
            summary.counters.update(stage_counters(stages))
        summary, review = file_summary(extract, _read_or_empty(extract_review), summary, review)
    write_summary(summary, review, layout.summary(shard, FINALIZE), layout.review_rows(shard, FINALIZE))
    record = {
        "shard": shard,
        "documents_kept": kept.num_rows,
        "decided": decided,
        "files": [str(p.relative_to(output_dir)) for p in written],
        "seconds": round(time.monotonic() - started, 3),
        "cpu_seconds": cpu,
    }
    write_json_atomically(record, layout.marker(shard, FINALIZE))
    return record
