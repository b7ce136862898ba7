"""`crawlsieve cluster DIR`: semantic clusters of a finished run's kept documents, for review and mixing.

1. sample: one Ray task per shard takes its documents whose id hash falls below the sampling rate
   (the same documents with any number of workers) and writes their hashed term counts;
2. fit: one Ray task fits the vectors and k-means on the sample, in key order (``quality.clusters``);
3. assign: one Ray task per shard gives each document its nearest centroid, written as the side
   table DIR/clusters/assignments/<shard>.parquet (id, cluster), and the shard's per-cluster facts;
4. the driver merges the facts (in Ray tasks of many files for a large run) into clusters.json and
   rebuilds the report.

A side table rather than a ``cluster`` column in data/: clustering runs after the run, maybe again
with another k; rewriting every data file for one integer column would copy the dataset each
time, and readers of data/ would meet files of two schemas meanwhile. The side table is Dolma's
attribute files: join it on ``id`` (DuckDB, pyarrow, ``datasets``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import regex

from crawlsieve.core.errors import UsageError
from crawlsieve.core.layout import RunLayout

HELP = "Group a finished run's kept documents into semantic clusters (k-means), for review and mixing."

EXAMPLES = """examples:
  crawlsieve cluster out
  crawlsieve cluster out --k 50

writes out/clusters/ (model.npz, clusters.json, assignments/<shard>.parquet: id -> cluster) and the
report's Clusters section; label clusters with `crawlsieve review out --cluster-labels labels.csv`."""


#: English clitics (the "'ll" of "I'll", the "n't" of "don't"): no topic, and split at the apostrophe
#: they would leave "ll" and "don" among a cluster's top terms. Read as spaces.
_CLITICS = regex.compile(r"(?i)n['’]t\b|['’](?:[sdm]|ll|ve|re)\b")
#: Punctuation and symbols, read as spaces, as near-dedup and decontamination normalize: "topic," and
#: "topic" are one term, and a Chinese comma ends a word.
_NOT_WORDS = regex.compile(r"[\p{P}\p{S}]+")


def text_units(text: str, language: str | None) -> list[str]:
    """A document's text units under its language (``core.units``, as every other consumer cuts
    it: jieba's words for Chinese, characters for Japanese and Thai, whitespace words otherwise),
    English clitics, punctuation and symbols left out, and in a spaced language single letters too
    (they say nothing of a topic; a Chinese or Japanese character may)."""
    from crawlsieve.core import units

    if "'" in text or "’" in text:  # a second pass only where there can be clitics (a fourth of the CPU)
        text = _CLITICS.sub(" ", text)
    words = units.words(_NOT_WORDS.sub(" ", text), language)
    return words if units.unspaced(language) else [w for w in words if len(w) > 1]


@cache
def stop_words(language: str | None) -> frozenset[str]:
    """Words left out of the clusters' top terms: the language's function words of the filters and
    spaCy's longer stop-word list for it (a few hundred words), where spaCy has one."""
    from crawlsieve.filters.languages import rules_for

    words = set(rules_for(language).stop_words or ())
    try:
        from spacy.util import get_lang_class

        words |= set(get_lang_class(language or "en").Defaults.stop_words)
    except Exception:  # spaCy has no such language
        pass
    return frozenset(words)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("directory", metavar="DIR", help="a finished `crawlsieve run` output directory")
    parser.add_argument(
        "--k", type=int, metavar="K", help="clusters (default: cluster.k, or sized to the run)"
    )
    parser.add_argument(
        "--config", "-c", metavar="FILE", help="YAML config whose `cluster` and `ray` sections are used"
    )
    parser.add_argument("--ray-address", metavar="ADDR", help="join a Ray cluster (auto, ray://host:10001)")
    parser.add_argument("--num-cpus", type=int, metavar="N", help="CPUs of the local Ray (default: all)")
    parser.add_argument("--no-report", action="store_true", help="do not rebuild report.html")


def cluster_config(output_dir: Path, args: argparse.Namespace):
    """The run's config with the `cluster` and `ray` sections of --config and the flags over it."""
    from crawlsieve.core.io import read_json
    from crawlsieve.pipelines.config import config_from_dict, load_config

    layout = RunLayout(output_dir)
    if not layout.stats.is_file() or not layout.data.is_dir():
        raise UsageError(
            f"{output_dir} holds no finished run (no stats.json or data/): run `crawlsieve run` first"
        )
    stats = read_json(layout.stats)
    config = config_from_dict(stats.get("config") or {})
    if args.config:
        given = load_config(args.config)
        config.cluster, config.ray = given.cluster, given.ray
    if args.k is not None:
        if args.k < 1:
            raise UsageError("--k must be at least 1")
        config.cluster.k = args.k
    if args.ray_address:
        config.ray.address = args.ray_address
    if args.num_cpus:
        config.ray.num_cpus = args.num_cpus
    return config, int(stats.get("documents_kept") or 0)


def read_shard(files: list[str], wanted) -> pa.Table:
    import pyarrow.dataset as ds

    dataset = ds.dataset(files, format="parquet")
    names = dataset.schema.names
    columns = [c for c in names if c in wanted or c.startswith("sig_spam")]
    return dataset.to_table(columns=columns)


def cluster_run(output_dir: Path, config, documents: int, *, log=print, report: bool = True) -> dict:
    """The whole command; returns clusters.json's content."""
    from crawlsieve.core.shards import shard_files
    from crawlsieve.pipelines.output_lock import OutputLock
    from crawlsieve.pipelines.ray_runtime import init_ray

    output_dir = output_dir.resolve()
    layout = RunLayout(output_dir)
    files = shard_files(layout.data)
    with OutputLock(layout.lock):
        shutil.rmtree(layout.semantic_clusters, ignore_errors=True)
        layout.cluster_labels.unlink(missing_ok=True)  # labels belong to the clustering they were made for
        layout.semantic_clusters.mkdir(parents=True)
        init_ray(config)
        result = _cluster_locked(output_dir, config, documents, files, log)
        if report and layout.report.is_file():
            from crawlsieve.quality.report import build_report

            build_report(output_dir)
    return result


def _cluster_locked(output_dir: Path, config, documents: int, files: dict, log) -> dict:
    import ray

    from crawlsieve.core.io import write_json_atomically
    from crawlsieve.pipelines.ray_runtime import per_shard
    from crawlsieve.quality.clusters import cluster_rows, fingerprint

    layout = RunLayout(output_dir)
    settings = config.cluster
    k = settings.k_for(documents)
    rate = min(1.0, settings.sample_documents / max(1, documents))
    items = [{"shard": shard, "files": json.dumps([str(p) for p in paths])} for shard, paths in files.items()]
    started = time.monotonic()
    log(f"crawlsieve cluster: {documents:,} documents in {len(items)} shard(s); k={k}, sampling {rate:.2%}")
    sampled = per_shard(_sample_batch, items, config, output_dir, rate=rate)
    fitted = ray.get(ray.remote(num_cpus=1)(fit_task).remote(str(output_dir), k, settings))
    shutil.rmtree(layout.cluster_sample_dir, ignore_errors=True)
    log(
        f"crawlsieve cluster: fitted on {fitted['sample']:,} documents ({time.monotonic() - started:.0f}s); "
        "assigning"
    )
    per_shard(_assign_batch, items, config, output_dir)
    merged = merge_cluster_facts(output_dir, settings.samples)
    model = _model(layout)
    rows = cluster_rows(merged, model, settings)
    result = {
        "k": model.k,
        "documents": sum(r["documents"] for r in rows),
        "sample_documents": fitted["sample"],
        "fingerprint": fingerprint(layout.cluster_model),
        "vectors": f"hashed TF-IDF ({settings.features} features) over text units, truncated SVD "
        f"({model.components.shape[0]} dimensions), MiniBatchKMeans",
        "settings": settings.model_dump(mode="json"),
        "cpu_seconds": {
            "sample": round(sum(row["cpu_seconds"] for row in sampled), 3),
            "fit": fitted["cpu_seconds"],
            **{part: round(s, 3) for part, s in merged["cpu_seconds"].items()},
        },
        "clusters": rows,
    }
    write_json_atomically(result, layout.cluster_facts, sort_keys=False)
    log(f"crawlsieve cluster: {len(rows)} cluster(s) written ({time.monotonic() - started:.0f}s)")
    return result


def _model(layout: RunLayout):
    from crawlsieve.quality.clusters import ClusterModel

    return ClusterModel.read(layout.cluster_model)


def _shards(batch) -> list[tuple[str, list[str]]]:
    shards, files = batch.column("shard").to_pylist(), batch.column("files").to_pylist()
    return [(shard, json.loads(paths)) for shard, paths in zip(shards, files, strict=True)]


def _sample_batch(batch, config, output_dir: str, rate: float):
    seconds = []
    for shard, files in _shards(batch):
        started = time.process_time()
        sample_shard(shard, files, config.cluster, Path(output_dir), rate)
        seconds.append(time.process_time() - started)
    return pa.table({"shard": batch.column("shard"), "cpu_seconds": pa.array(seconds, pa.float64())})


def sample_shard(shard: str, files: list[str], settings, output_dir: Path, rate: float) -> int:
    """Write the hashed term counts of this shard's documents in the fitting sample."""
    from crawlsieve.core.io import write_atomically
    from crawlsieve.quality.clusters import (
        counts_table,
        document_terms,
        hashed_counts,
        rate_limit,
        sample_keys,
    )

    table = read_shard(files, ("id", "text", "language"))
    keys = sample_keys(table.column("id").to_pylist())
    chosen = np.flatnonzero(keys < rate_limit(rate))
    if not len(chosen):
        return 0
    table = table.take(chosen)
    docs = document_terms(
        table.column("text").to_pylist(), table.column("language").to_pylist(), text_units, settings.max_chars
    )
    counts = hashed_counts(docs, settings.features)
    write_atomically(
        counts_table(keys[chosen], table.column("id").to_pylist(), counts),
        RunLayout(output_dir).cluster_sample(shard),
    )
    return len(chosen)


def fit_task(output_dir: str, k: int, settings) -> dict:
    """Fit on the whole sample, in key order (the same model with any number of workers)."""
    import pyarrow.parquet as pq

    from crawlsieve.core.io import write_bytes_atomically
    from crawlsieve.quality.clusters import counts_of, counts_table, fit_model, hashed_counts

    started = time.process_time()
    layout = RunLayout(Path(output_dir))
    parts = [pq.read_table(p) for p in sorted(layout.cluster_sample_dir.glob("*.parquet"))]
    empty = counts_table(np.zeros(0, np.uint64), [], hashed_counts([], settings.features))
    table = pa.concat_tables([empty, *parts]).sort_by([("key", "ascending"), ("id", "ascending")])
    model = fit_model(counts_of(table, settings.features), k, settings)
    write_bytes_atomically(model.to_bytes(), layout.cluster_model)
    return {"sample": table.num_rows, "k": model.k, "cpu_seconds": round(time.process_time() - started, 3)}


def _assign_batch(batch, config, output_dir: str):
    for shard, files in _shards(batch):
        assign_shard(shard, files, config.cluster, Path(output_dir))
    return pa.table({"shard": batch.column("shard")})


def assign_shard(shard: str, files: list[str], settings, output_dir: Path) -> int:
    """The side table and the per-cluster facts of one shard."""
    from crawlsieve.core.io import write_atomically, write_json_atomically
    from crawlsieve.quality.clusters import FACT_COLUMNS, document_terms, hashed_counts, shard_facts

    layout = RunLayout(output_dir)
    model = _model(layout)
    table = read_shard(files, FACT_COLUMNS)
    clock = [time.process_time()]

    def lap() -> float:
        clock.append(time.process_time())
        return clock[-1] - clock[-2]

    docs = document_terms(
        table.column("text").to_pylist(), table.column("language").to_pylist(), text_units, settings.max_chars
    )
    counts = hashed_counts(docs, model.features)
    vectors = model.vectors(counts)
    cpu = {"vectors": lap()}
    clusters = model.nearest(vectors)
    write_atomically(
        pa.table({"id": table.column("id"), "cluster": pa.array(clusters, pa.int32())}),
        layout.cluster_assignments(shard),
    )
    cpu["assign"] = lap()
    facts = shard_facts(table, clusters, docs, counts, model, settings, stop_words)
    facts["cpu_seconds"] = {**cpu, "facts": lap()}
    write_json_atomically(facts, layout.cluster_summary(shard))
    return table.num_rows


def _merge_files(paths: list[str], samples: int) -> dict:
    from crawlsieve.core.io import read_json
    from crawlsieve.quality.clusters import merge_facts

    return merge_facts([read_json(Path(p)) for p in paths], samples)


def merge_cluster_facts(output_dir: Path, samples: int) -> dict:
    """Every shard's facts merged: in Ray tasks of ``FILES_PER_MERGE_TASK`` files for a large run,
    the driver merging one partial at a time, in order (as phase D merges the run's summaries)."""
    import ray

    from crawlsieve.quality.clusters import merge_facts
    from crawlsieve.quality.summaries import FILES_PER_MERGE_TASK, in_order

    paths = [str(p) for p in RunLayout(output_dir).cluster_summaries()]
    chunks = [paths[i : i + FILES_PER_MERGE_TASK] for i in range(0, len(paths), FILES_PER_MERGE_TASK)]
    if len(chunks) <= 1:
        return _merge_files(paths, samples)
    task = ray.remote(_merge_files)
    merged = {"k": 0, "clusters": {}}
    for part in in_order([task.remote(chunk, samples) for chunk in chunks]):
        merged = merge_facts([merged, part], samples)
    return merged


def main(args: argparse.Namespace) -> int:
    import sys

    output_dir = Path(args.directory)
    config, documents = cluster_config(output_dir, args)
    result = cluster_run(
        output_dir, config, documents, log=lambda m: print(m, file=sys.stderr), report=not args.no_report
    )
    layout = RunLayout(output_dir.resolve())
    print(f"{result['k']} clusters of {result['documents']:,} documents: {layout.cluster_facts}")
    for row in result["clusters"][:10]:
        flags = f"  [{'; '.join(row['flags'])}]" if row["flags"] else ""
        print(f"  {row['cluster']:>4}  {row['documents']:>9,} docs  {' '.join(row['terms'][:6])}{flags}")
    return 0
