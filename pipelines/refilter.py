"""`crawlsieve refilter DIR --config NEW.yaml --output NEWDIR`: a run's filters re-decided for new
thresholds from the signals it stored, without reading a WARC or extracting a page.

A substitute for phase A (``pipelines.extract_phase``): one Ray task per input file reads what the run's
phase A wrote for it (the documents that passed, the ledger of the rest), re-decides the
heuristic and classifier filters with ``filters.refilter`` and writes the same per-file documents,
ledger, summary and completion marker phase A writes. The rest is the run's own code: the global
dedup, finalize and phase D, so NEWDIR is a complete run directory (shards, stats, mixture,
report). Decisions of other stages (HTTP checks, URL filter, extraction, language) stand.

Exact when the run had ``filters.compute_all_signals: true``; otherwise refilter refuses (one
line, exit 2) as soon as a document needs a signal the run did not compute.

When DIR holds cluster labels (``crawlsieve review DIR --cluster-labels``), the documents of the
clusters labelled drop are removed after dedup as ``cluster:<id>`` (``cluster.labels``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from crawlsieve import __version__
from crawlsieve.core.errors import ConfigError, UsageError
from crawlsieve.core.layout import EXTRACT, RunLayout
from crawlsieve.core.ledger import LEDGER_COLUMNS
from crawlsieve.core.stages import DECIDED_BY, REMOVED, check_stages
from crawlsieve.pipelines.config import Config, config_from_dict, load_config

HELP = "Re-decide a finished run's filters for a new config from its stored signals (no WARC is read)."

EXAMPLES = """examples:
  crawlsieve refilter out --config stricter.yaml --output out-stricter

only thresholds and modes of filters.* may differ from the run's config (and dedup's global-step
settings, domain, output, report, ray); exit 2 with one line when the run lacks a signal the new
config needs (run with filters.compute_all_signals: true to refilter anything)."""

#: Dedup settings that shape phase A (payload dedup, the signatures): they cannot change.
DEDUP_PHASE_A_FIELDS = (
    "enabled",
    "payload",
    "near",
    "ngram_size",
    "num_perm",
    "seed",
    "threshold",
    "false_positive_weight",
    "false_negative_weight",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("run", metavar="DIR", help="a finished `crawlsieve run` output directory")
    parser.add_argument("--config", "-c", required=True, metavar="FILE", help="the new YAML config")
    parser.add_argument("--output", "-o", required=True, metavar="NEWDIR", help="output directory")
    parser.add_argument("--ray-address", metavar="ADDR", help="join a Ray cluster (auto, ray://host:10001)")
    parser.add_argument("--num-cpus", type=int, metavar="N", help="CPUs of the local Ray (default: all)")
    parser.add_argument("--no-report", action="store_true", help="skip writing report.html")


def check_phase_a_unchanged(old: Config, new: Config) -> None:
    """Refuse a config that would change what phase A did before the filters."""
    for section in ("read", "extract", "language"):
        if getattr(old, section) != getattr(new, section):
            raise ConfigError(f"{section} differs from the run's; refilter re-decides only the filters")
    for field in DEDUP_PHASE_A_FIELDS:
        if getattr(old.dedup, field) != getattr(new.dedup, field):
            raise ConfigError(
                f"dedup.{field} differs from the run's (phase A used it); run the pipeline again"
            )


def check_same_units(source: Path, record: dict, config: Config) -> None:
    """Refuse a run whose text was cut into other units (``core.units``) when near-dedup is on: the
    documents refilter keeps newly would get signatures of other shingles than the run's."""
    from crawlsieve.core import units

    if config.dedup.enabled and config.dedup.near and record.get("units") != units.VERSION:
        raise UsageError(
            f"{source} cut text into other units ({record.get('units') or 'units-v1'}, this crawlsieve "
            f"{units.VERSION}): its dedup signatures would be mixed with new ones; run the pipeline again"
        )


def source_run(source: Path) -> tuple[dict, Config]:
    """The run record and config of the run to refilter. Refuses, naming what is missing, a
    directory that holds no run or not all of what refilter reads: every input file's phase A
    marker, and the documents, ledger and summary each marker says it wrote."""
    from crawlsieve.core.io import read_json

    layout = RunLayout(source)
    if not layout.run_record.is_file():
        raise UsageError(f"{source} holds no crawlsieve run")
    record = read_json(layout.run_record)
    if not isinstance(record.get("shards"), dict) or not isinstance(record.get("config"), dict):
        raise UsageError(f"{layout.run_record} is damaged: it lacks the run's shards or config")
    missing = set(record["shards"]) - {p.stem for p in layout.markers(EXTRACT)}
    if missing:
        raise UsageError(
            f"{source}: {len(missing)} input file(s) did not finish phase A; resume the run first"
        )
    absent = []
    for shard in sorted(record["shards"]):
        marker = read_json(layout.marker(shard, EXTRACT))
        wrote = [layout.summary(shard, EXTRACT)]
        wrote += [layout.docs(shard)] if marker.get("documents_out") else []
        wrote += [layout.ledger(shard, EXTRACT)] if marker.get("decided") else []
        absent += [path for path in wrote if not path.is_file()]
    if absent:
        raise UsageError(
            f"{source} is incomplete: {len(absent)} file(s) its phase A wrote are missing "
            f"(first: {absent[0]}); run it again"
        )
    try:
        return record, config_from_dict(record["config"])
    except ConfigError as error:
        raise UsageError(f"{layout.run_record}: the run's config: {error}") from None


def refilter_run(
    source: Path,
    output_dir: Path,
    config: Config,
    *,
    report: bool = True,
    log=print,
    config_file: str | None = None,
) -> dict:
    """The whole refilter; returns the stats (also written to NEWDIR/stats.json). ``config_file``:
    where ``config`` was read from, which NEWDIR must not hold."""
    from crawlsieve.core.layout import check_apart
    from crawlsieve.dedup.index import validate_against
    from crawlsieve.filters.refilter import check_refilter
    from crawlsieve.pipelines.finalize import finalize_stages
    from crawlsieve.pipelines.output_lock import OutputLock
    from crawlsieve.pipelines.run import Phases, StopOnSignals, check_output

    phases = Phases()
    source, output_dir = source.resolve(), output_dir.resolve()
    record, old = source_run(source)
    labels = RunLayout(source).cluster_labels
    if config.cluster.labels is None and labels.is_file():  # the reviewer's drop labels of DIR's clusters
        config.cluster.labels = str(labels)
        log(f"crawlsieve refilter: applying the cluster labels recorded in {labels}")
    files = [("--config", config_file)] if config_file else []
    runs = [("DIR", str(source)), *(("dedup.against", path) for path in config.dedup.against)]
    check_apart(output_dir, "--output", [*files, *config.named_files()], runs)
    check_phase_a_unchanged(old, config)
    check_same_units(source, record, config)
    check_refilter(old.filters, config.filters)
    check_stages(finalize_stages(config))
    validate_against(config.dedup)
    check_output(output_dir, resume=False)
    with OutputLock(RunLayout(output_dir).lock), StopOnSignals() as stop:
        return _refilter_locked(source, record, old, output_dir, config, stop, phases, report=report, log=log)


def _refilter_locked(source, record, old, output_dir, config, stop, phases, *, report, log) -> dict:
    from crawlsieve.core.io import write_json_atomically
    from crawlsieve.pipelines.ray_runtime import init_ray, per_shard
    from crawlsieve.pipelines.run import RunState, clear_output, finish_run

    clear_output(output_dir)
    run = RunState(output_dir, config, phases, report=report, log=log)
    shards = record["shards"]
    write_json_atomically(
        {
            "shards": shards,
            "config": config.model_dump(mode="json"),
            "version": __version__,
            "units": record.get("units"),
            "refiltered_from": str(source),
        },
        RunLayout(output_dir).run_record,
    )
    init_ray(config)
    stop.install()
    phases.end("startup")
    order = sorted(shards)
    log(f"crawlsieve refilter: {len(order)} input file(s) of {source}")
    results = per_shard(
        _refilter_batch, [{"shard": s} for s in order], config, output_dir, source=str(source), old=old
    )
    refusals = sorted(r["refused"] for r in results if r["refused"])
    if refusals:
        clear_output(output_dir)
        raise ConfigError(refusals[0])
    phases.end("refilter")
    log(f"crawlsieve refilter: filters re-decided ({run.elapsed()}); deduplicating")
    return finish_run(run, order)


def _refilter_batch(batch, config: Config, output_dir: str, source: str, old: Config):
    records = [
        refilter_shard(shard, Path(source), old, config, Path(output_dir))
        for shard in batch.column("shard").to_pylist()
    ]
    return pa.Table.from_pylist(records, schema=pa.schema([("shard", pa.string()), ("refused", pa.string())]))


def _read(path: Path) -> pa.Table | None:
    return pq.read_table(path) if path.is_file() else None


def refilter_shard(shard: str, source: Path, old: Config, config: Config, output_dir: Path) -> dict:
    """Phase A's outputs for one file, from the run's; ``refused``: why it cannot (one line)."""
    from crawlsieve.core.io import write_atomically, write_json_atomically
    from crawlsieve.core.ledger import CpuClock
    from crawlsieve.core.stages import LANGUAGE_SETTINGS
    from crawlsieve.filters.refilter import language_settings_counts, what_if_counts
    from crawlsieve.pipelines.ray_runtime import ray_node_id
    from crawlsieve.quality.summaries import Summary, extract_summary, write_summary

    started = time.monotonic()
    clock = CpuClock()
    src, dst = RunLayout(source), RunLayout(output_dir)
    marker = json.loads(src.marker(shard, EXTRACT).read_text(encoding="utf-8"))
    with clock.part("refilter:read"):
        docs, ledger = _read(src.docs(shard)), _read(src.ledger(shard, EXTRACT))
    with clock.part("refilter"):
        try:
            docs, ledger = refiltered(shard, docs, ledger, old, config)
        except ConfigError as error:
            return {"shard": shard, "refused": str(error)}
    with clock.part("write"):
        for table, path in ((docs, dst.docs(shard)), (ledger, dst.ledger(shard, EXTRACT))):
            if table is not None and table.num_rows:
                write_atomically(table, path)
            else:
                path.unlink(missing_ok=True)
    with clock.part("summary"):
        summary, review = extract_summary(
            shard, marker["warc_path"], marker["records_read"], docs, ledger, config.report.review_per_reason
        )
        summary.what_if = what_if_counts(docs, ledger, config.filters)
        # The run's counts, but which settings judged each language is counted anew.
        counters = Summary.read(src.summary(shard, EXTRACT)).counters
        summary.counters.update({k: n for k, n in counters.items() if not k.startswith(LANGUAGE_SETTINGS)})
        summary.counters.update(language_settings_counts(docs, ledger, config.filters))
    summary.cpu_seconds = clock.rounded()
    write_summary(summary, review, dst.summary(shard, EXTRACT), dst.review_rows(shard, EXTRACT))
    write_json_atomically(
        {
            **marker,
            "documents_out": 0 if docs is None else docs.num_rows,
            "decided": 0 if ledger is None else ledger.num_rows,
            "seconds": round(time.monotonic() - started, 3),
            "cpu_seconds": summary.cpu_seconds,
            "node_id": ray_node_id(),
            "refiltered_from": str(source),
        },
        dst.marker(shard, EXTRACT),
    )
    return {"shard": shard, "refused": None}


def refiltered(
    shard: str, docs: pa.Table | None, ledger: pa.Table | None, old: Config, config: Config
) -> tuple[pa.Table | None, pa.Table | None]:
    """One file's phase A documents and ledger under ``config``, from the run's (``old``).

    The documents that reached the filters (the run's documents, and its ledger rows the
    filters removed) are decided again; the other ledger rows stand. Raises ``ConfigError``
    when a decision needs what the run did not store.
    """
    from crawlsieve.core.ledger import ledger_rows
    from crawlsieve.dedup.stages import BANDS, SIGNATURE, TEXT_HASH
    from crawlsieve.filters.refilter import computed_filters, filter_stage_names, redecide
    from crawlsieve.filters.stages import EMPTY_TEXT

    whole_ledger = old.filters.compute_all_signals
    fixed, redo = None, None
    if ledger is not None and ledger.num_rows:
        filter_stages = pa.array(filter_stage_names(old.filters), pa.string())
        again = pc.and_(
            pc.is_in(ledger.column("stage"), value_set=filter_stages),
            pc.fill_null(pc.not_equal(ledger.column("removed"), EMPTY_TEXT), False),
        )
        fixed, redo = ledger.filter(pc.invert(again)), ledger.filter(again)
    # Documents whose whole row is at hand: the run's documents, and with compute_all_signals
    # the rows its filters removed (the ledger kept them whole).
    rows = [] if docs is None else [docs.drop_columns([c for c in ("shard",) if c in docs.column_names])]
    if whole_ledger and redo is not None and redo.num_rows:
        rows.append(redo.drop_columns([c for c in LEDGER_COLUMNS if c in redo.column_names]))
        redo = None
    candidates = pa.concat_tables(rows, promote_options="permissive") if rows else None
    removed_rows: list[pa.Table] = [] if fixed is None else [fixed]
    kept = None
    if candidates is not None and candidates.num_rows:
        n = candidates.num_rows
        reasons, booked = redecide(candidates, config.filters, [None] * n, [True] * n)
        candidates = _without_unused_signals(candidates, config)
        gone = pa.array([r is not None for r in reasons])
        if pc.any(gone).as_py():
            removed = candidates.filter(gone).drop_columns(
                [c for c in (TEXT_HASH, BANDS, SIGNATURE) if c in candidates.column_names]
            )
            removed = removed.append_column(REMOVED, pa.array([r for r in reasons if r], pa.string()))
            removed = removed.append_column(DECIDED_BY, pa.array([b for b in booked if b], pa.string()))
            removed_rows.append(
                ledger_rows(removed, shard, "filters", whole=config.filters.compute_all_signals)
            )
        kept, signature_failures = _with_signatures(candidates.filter(pc.invert(gone)), shard, config)
        removed_rows += signature_failures
    if redo is not None and redo.num_rows:
        computed_for = computed_filters(old.filters)
        stages, was = redo.column("stage").to_pylist(), redo.column("removed").to_pylist()
        computed = [computed_for(s, r) for s, r in zip(stages, was, strict=True)]
        reasons, booked = redecide(redo, config.filters, computed, [False] * redo.num_rows)
        for name, values in (("removed", reasons), ("stage", booked)):
            redo = redo.set_column(redo.schema.get_field_index(name), name, pa.array(values, pa.string()))
        removed_rows.append(_without_unused_signals(redo, config))
    new_ledger = pa.concat_tables(removed_rows, promote_options="permissive") if removed_rows else None
    return kept, new_ledger


def _without_unused_signals(table: pa.Table, config: Config) -> pa.Table:
    """Drop the signals of filters the new config has off: a run with it would not have them."""
    from crawlsieve.filters.refilter import signal_columns

    wanted = set(signal_columns(config.filters))
    return table.drop_columns([c for c in table.column_names if c.startswith("sig_") and c not in wanted])


def _with_signatures(kept: pa.Table, shard: str, config: Config) -> tuple[pa.Table | None, list[pa.Table]]:
    """The kept documents in record order with the dedup signatures (computed for the rows the run
    had removed, after PII replacement when it is on: the run replaced addresses only in the texts
    it kept), as phase A writes them; and the ledger rows of any that failed."""
    from crawlsieve.core.ledger import run_stages
    from crawlsieve.dedup.stages import TEXT_HASH, signature_stages
    from crawlsieve.filters.stages import pii_stages

    if not kept.num_rows:
        return None, []
    order = kept.column_names
    failures: list[pa.Table] = []
    if TEXT_HASH in kept.column_names and (stages := signature_stages(config.dedup)):
        has = pc.is_valid(kept.column(TEXT_HASH))
        missing = kept.filter(pc.invert(has))
        parts = [kept.filter(has)]
        if missing.num_rows:
            signed, failures = run_stages(
                [missing.drop_columns([c for c in missing.column_names if c.startswith("dedup_")])],
                [*pii_stages(config.filters.pii), *stages],
                shard,
                source="filters",
            )
            parts += signed
        kept = pa.concat_tables(parts, promote_options="permissive").select(order)
    elif stages := signature_stages(config.dedup):
        signed, failures = run_stages([kept], stages, shard, source="filters")
        kept = pa.concat_tables(signed, promote_options="permissive") if signed else kept.slice(0, 0)
    if "record_offset" in kept.column_names:
        kept = kept.take(pc.sort_indices(kept, sort_keys=[("record_offset", "ascending")]))
    return kept.append_column("shard", pa.array([shard] * kept.num_rows, pa.string())), failures


def main(args: argparse.Namespace) -> int:
    from crawlsieve.pipelines.run import check_output_location, summary_lines

    config = load_config(args.config)
    if args.ray_address:
        config.ray.address = args.ray_address
    if args.num_cpus:
        config.ray.num_cpus = args.num_cpus
    output_dir = check_output_location(args.output)
    stats = refilter_run(
        Path(args.run),
        output_dir,
        config,
        report=not args.no_report,
        log=lambda m: print(m, file=sys.stderr),
        config_file=args.config,
    )
    for line in summary_lines(output_dir.resolve(), stats):
        print(line)
    return 0 if stats["accounting_closes"] else 1
