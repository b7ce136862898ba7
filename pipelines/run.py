"""`crawlsieve run`: WARC files in, DIR/data + stats.json + mixture.json + report.html out.

The pipeline reads top to bottom as the data flow (docs/ARCHITECTURE.md):
A. each input file through the per-document stages (one Ray Data task per file);
B. the global dedup over everything phase A kept;
C. each shard's survivors tagged and written as Parquet;
D. the run's stats, mixture, review samples and report.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from crawlsieve import __version__
from crawlsieve.core.errors import UsageError
from crawlsieve.core.layout import EXTRACT, FINALIZE, RunLayout, check_apart
from crawlsieve.core.ledger import UNFINISHED_FILE
from crawlsieve.core.stages import check_stages, prepare_stages
from crawlsieve.pipelines.config import Config, load_config
from crawlsieve.pipelines.output_lock import OutputLock
from crawlsieve.pipelines.ray_runtime import count_attempt, init_ray, per_shard, shutdown_ray

HELP = "Run the pipeline over WARC files (paths, globs, URLs, @lists or a crawl name)."


EXAMPLES = """examples:
  crawlsieve run 'warcs/*.warc.gz' --output out
  crawlsieve run CC-MAIN-2024-10 --limit 10 --output out --config my.yaml
  crawlsieve run @warc.paths.gz --output /shared/out --ray-address auto --resume

writes out/data/domain=<tag>/language=<code>/*.parquet, out/stats.json, out/mixture.json,
out/report.html and out/review/; exit 0 when done, 2 for bad input, 1 if the run failed."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="WARC path or glob, s3:// or https:// URL, @listing (plain or .gz), "
        "or a crawl name (CC-MAIN-2024-10)",
    )
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--config", "-c", metavar="FILE", help="YAML config (see `crawlsieve config --defaults`)"
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="join a Ray cluster (auto, ray://host:10001); default: start a local Ray",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="process at most N input files")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in DIR: skip input files already completed",
    )
    parser.add_argument(
        "--dedup-against",
        nargs="+",
        default=[],
        metavar="DIR",
        help="also remove documents already kept by these earlier runs (their dedup index)",
    )
    parser.add_argument(
        "--num-cpus", type=int, metavar="N", help="CPUs of the local Ray (default: all cores)"
    )
    parser.add_argument("--no-report", action="store_true", help="skip writing report.html")


def prepare_config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if args.ray_address:
        config.ray.address = args.ray_address
    if args.num_cpus:
        config.ray.num_cpus = args.num_cpus
    if args.dedup_against:
        config.dedup.against = [str(Path(d).resolve()) for d in args.dedup_against]
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    return config


def validate(config: Config) -> None:
    """Refuse bad models, lists and indexes with one line before any work starts: every stage
    that will run loads what it declares it needs (``Stage.check``)."""
    from crawlsieve.dedup.index import validate_against
    from crawlsieve.pipelines.extract_phase import per_file_stages
    from crawlsieve.pipelines.finalize import finalize_stages

    check_stages([*per_file_stages(config), *finalize_stages(config)])
    validate_against(config.dedup)


def check_output_location(output: str) -> Path:
    """The output must be a directory every node sees: a local or shared (NFS/EFS) path."""
    from crawlsieve.ingest.inputs import is_remote

    if is_remote(output):
        raise UsageError(
            f"--output {output}: must be a directory on a filesystem every node mounts, not a URL"
        )
    return Path(output.removeprefix("file://"))


def check_inputs_apart(
    output_dir: Path, inputs: list[str], locations: list[str], config: Config, config_file: str | None
) -> None:
    """Refuse inputs the run would destroy (``core.layout.check_apart``): WARC files, listings, the
    config and the files it names inside the output's products, and a dedup index that the output
    and it lie in one another (the run rewrites DIR/dedup_index, a fresh one after clearing it)."""
    from crawlsieve.ingest.inputs import is_remote

    files = [("input", location) for location in locations if not is_remote(location)]
    files += [("listing", item[1:]) for item in inputs if item.startswith("@") and not is_remote(item[1:])]
    files += [("--config", config_file)] if config_file else []
    files += [(key, path) for key, path in config.named_files() if not is_remote(path)]
    check_apart(output_dir, "--output", files, [("dedup.against", path) for path in config.dedup.against])


def check_output(output_dir: Path, resume: bool) -> None:
    """Refuse an output that is a file, holds something else than a run, or has nothing to resume."""
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"--output {output_dir} exists and is not a directory")
    if resume:
        if not RunLayout(output_dir).run_record.is_file():
            raise UsageError(f"--resume: {output_dir} holds no run to resume")
        return
    if output_dir.is_dir() and any(output_dir.iterdir()) and not RunLayout(output_dir).run_record.is_file():
        raise UsageError(f"--output {output_dir} is not empty and holds no crawlsieve run: choose another")


def clear_output(output_dir: Path) -> None:
    """Remove an earlier run's outputs (never the lock this run holds on the directory)."""
    layout = RunLayout(output_dir)
    for path in layout.outputs():
        if path == layout.state and path.is_dir():
            for child in path.iterdir():
                if child != layout.lock:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    layout.data.mkdir(parents=True, exist_ok=True)  # readers see a dataset even if nothing is kept


class Phases:
    """Wall seconds and the driver's own CPU seconds of each phase of a run, in order.

    `startup` runs from the command's start to Ray being up; the driver's CPU time joins the
    workers' in the run's cost (`stats.json` `cost`).
    """

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.driver_cpu: dict[str, float] = {}
        self._mark = (time.monotonic(), time.process_time())

    def end(self, name: str) -> None:
        wall, cpu = time.monotonic(), time.process_time()
        self.wall[name] = round(self.wall.get(name, 0.0) + wall - self._mark[0], 3)
        self.driver_cpu[name] = round(self.driver_cpu.get(name, 0.0) + cpu - self._mark[1], 3)
        self._mark = (wall, cpu)

    def summary(self) -> dict:
        return {"wall_seconds": dict(self.wall), "driver_cpu_seconds": dict(self.driver_cpu)}


@dataclass
class RunState:
    """What every phase of one run (or refilter) needs, passed as one object: where it writes, its
    config, when it started, its phases' clock, whether it writes the report, and where it talks."""

    output_dir: Path
    config: Config
    phases: Phases = field(default_factory=lambda: Phases())
    report: bool = True
    log: Callable[[str], None] = print
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    clock: float = field(default_factory=time.monotonic)

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.clock:.0f}s"


class Interrupted(KeyboardInterrupt):
    """The driver got SIGINT (Ctrl-C) or SIGTERM (a scheduler stopping the job).

    A KeyboardInterrupt, so that Ray Data passes it through instead of logging it as its own error.
    """

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


class StopOnSignals:
    """Turns SIGINT and SIGTERM into ``Interrupted`` in the driver's main thread, for a ``with`` block.

    ``install()`` again after Ray starts: Ray's core sets its own SIGTERM handler. Handlers are
    installed even where the shell started us with SIGINT ignored (a background job). A Ctrl-C
    reaches Ray's own processes too, so whatever Ray raises after a signal arrived is reported as
    the interruption it is, not as a failed run.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self.previous: dict = {}

    def _stop(self, signum, frame):
        self.received = signum
        raise Interrupted(signum)

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                handler = signal.signal(signum, self._stop)
                self.previous.setdefault(signum, handler)

    def __enter__(self) -> StopOnSignals:
        self.install()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        if self.received is not None and isinstance(error, Exception):
            raise Interrupted(self.received) from error


def extract_batch(batch, config: Config, output_dir: str):
    import pyarrow as pa

    from crawlsieve.pipelines.extract_phase import process_shard, worker_lost

    records = []
    for location, shard in zip(
        batch.column("location").to_pylist(), batch.column("shard").to_pylist(), strict=True
    ):
        location = location.decode("utf-8", "surrogateescape")
        if count_attempt(RunLayout(output_dir).attempts(shard, EXTRACT)) > config.ray.max_task_retries + 1:
            records.append(worker_lost(location, shard, Path(output_dir), config.ray.max_task_retries + 1))
        else:
            records.append(process_shard(location, shard, config, Path(output_dir)))
    return pa.Table.from_pylist([{"shard": r["shard"], "records_read": r["records_read"]} for r in records])


def finalize_batch(batch, config: Config, output_dir: str):
    import pyarrow as pa

    from crawlsieve.pipelines.finalize import finalize_shard

    records = []
    for shard in batch.column("shard").to_pylist():
        attempts = count_attempt(RunLayout(output_dir).attempts(shard, FINALIZE))
        if attempts > config.ray.max_task_retries + 1:
            raise RuntimeError(f"finalizing {shard}: its worker died {attempts - 1} times")
        records.append(finalize_shard(shard, config, Path(output_dir)))
    return pa.Table.from_pylist(
        [{"shard": r["shard"], "documents_kept": r["documents_kept"]} for r in records]
    )


def _shaping(config: dict) -> dict:
    """The parts of a config that shape the output; `ray` only says where and how wide it runs,
    and `read.http` how patiently remote inputs are asked for (a run whose files a throttled server
    left unfinished may well be resumed with more retries)."""
    shaping = {section: values for section, values in config.items() if section != "ray"}
    shaping["read"] = {key: value for key, value in shaping.get("read", {}).items() if key != "http"}
    return shaping


def completed(output_dir: Path, phase: str) -> set[str]:
    return {p.stem for p in RunLayout(output_dir).markers(phase)}


def run_pipeline(
    inputs: list[str],
    output_dir: Path,
    config: Config,
    *,
    resume: bool = False,
    limit: int | None = None,
    report: bool = True,
    log=print,
    config_file: str | None = None,
) -> dict:
    """The whole run; returns the stats (also written to DIR/stats.json). ``config_file``: where
    ``config`` was read from, which the run must not destroy."""
    from crawlsieve.ingest.inputs import resolve_inputs

    phases = Phases()
    locations = resolve_inputs(inputs, config.read, limit, log=log)
    check_inputs_apart(output_dir, inputs, locations, config, config_file)
    validate(config)
    output_dir = output_dir.resolve()
    check_output(output_dir, resume)
    with OutputLock(RunLayout(output_dir).lock), StopOnSignals() as stop:
        return _run_locked(locations, output_dir, config, stop, phases, resume=resume, report=report, log=log)


def _run_locked(
    locations: list[str],
    output_dir: Path,
    config: Config,
    stop: StopOnSignals,
    phases: Phases,
    *,
    resume: bool,
    report: bool,
    log,
) -> dict:
    from crawlsieve.core import units
    from crawlsieve.core.io import read_json, write_json_atomically
    from crawlsieve.ingest.inputs import shard_name

    if not resume:
        clear_output(output_dir)
    run = RunState(output_dir, config, phases, report=report, log=log)
    shards = {shard_name(loc): loc for loc in locations}
    if resume:
        previous = read_json(RunLayout(output_dir).run_record)
        if sorted(previous.get("shards") or {}) != sorted(shards):
            raise UsageError("--resume: the inputs differ from the interrupted run's")
        if _shaping(previous.get("config") or {}) != _shaping(config.model_dump(mode="json")):
            raise UsageError("--resume: the config differs from the interrupted run's (other than `ray`)")
        if (was := previous.get("units") or "units-v1") != units.VERSION:
            raise UsageError(
                f"--resume: the interrupted run cut text into other units ({was}, this crawlsieve "
                f"{units.VERSION}); run it again without --resume"
            )
    write_json_atomically(
        {
            "shards": shards,
            "config": config.model_dump(mode="json"),
            "version": __version__,
            "units": units.VERSION,
        },
        RunLayout(output_dir).run_record,
    )
    shutil.rmtree(RunLayout(output_dir).attempts_dir, ignore_errors=True)  # counted per run
    init_ray(config)
    stop.install()
    phases.end("startup")
    return _run_phases(run, shards, resume=resume)


def _run_phases(run: RunState, shards: dict, *, resume: bool) -> dict:
    from crawlsieve.ingest.inputs import largest_first, location_bytes, shard_name
    from crawlsieve.pipelines.extract_phase import per_file_stages

    output_dir, config = run.output_dir, run.config
    # What the stages need built once per run (the decontamination index).
    prepare_stages(per_file_stages(config, RunLayout(output_dir)))
    done = completed(output_dir, EXTRACT) if resume else set()
    order = [shard_name(loc) for loc in largest_first(list(shards.values()))]
    # Locations travel as bytes: a Linux file name need not be UTF-8 (inputs.location_bytes).
    todo = [{"location": location_bytes(shards[s]), "shard": s} for s in order if s not in done]
    run.log(
        f"crawlsieve: {len(shards)} input file(s), {len(todo)} to process"
        + (f", {len(done)} done before" if done else "")
    )
    per_shard(extract_batch, todo, config, output_dir)
    run.phases.end(EXTRACT)
    run.log(f"crawlsieve: extraction and filters done ({run.elapsed()}); deduplicating the run")
    return finish_run(run, order)


def finish_run(run: RunState, order: list[str]) -> dict:
    """Phases B to D once every file has its phase A outputs (from `run`, or from `refilter`)."""
    from crawlsieve.dedup.run import deduplicate

    output_dir, config = run.output_dir, run.config
    dedup_summary = deduplicate(
        RunLayout(output_dir),
        config.dedup,
        (config.report.duplicate_clusters_shown, config.report.cluster_members_shown),
    )
    run.phases.end("dedup")
    run.log(f"crawlsieve: dedup done ({run.elapsed()}); tagging and writing shards")
    per_shard(finalize_batch, [{"shard": s} for s in order], config, output_dir)
    run.phases.end(FINALIZE)
    run.log(f"crawlsieve: shards written ({run.elapsed()}); writing stats, mixture and report")
    return aggregate(run, dedup_summary)


def aggregate(run: RunState, dedup_summary: dict) -> dict:
    """Phase D: the run's stats, review samples and mixture, then (stats final) the report."""
    from crawlsieve.filters.refilter import what_if_section
    from crawlsieve.pipelines.extract_phase import stage_names
    from crawlsieve.pipelines.finalize import add_quality_buckets, finalize_stages
    from crawlsieve.quality.buckets import SCORE_BINS, bucket_edges
    from crawlsieve.quality.distributions import build_distributions
    from crawlsieve.quality.mixture import build_mixture
    from crawlsieve.quality.report import build_report
    from crawlsieve.quality.review import build_review
    from crawlsieve.quality.stats import build_stats
    from crawlsieve.quality.summaries import merge_run

    output_dir, config, phases = run.output_dir, run.config, run.phases
    order = [*stage_names(config), "dedup", *(s.name for s in finalize_stages(config))]
    summaries = merge_run(output_dir, config.report.review_per_reason)
    edges = {c: bucket_edges(hist) for c, hist in sorted(summaries.score_tokens.items()) if hist.any()}
    buckets = add_quality_buckets(output_dir, config, edges) if edges else None
    build_review(output_dir, config.report.review_per_reason, summaries)
    build_mixture(
        output_dir, config.domain.tokenizer_path, config.model_dump(mode="json"), summaries, buckets=buckets
    )
    phases.end("aggregate")
    driver = sum(phases.driver_cpu.values())
    extra = {
        "version": __version__,
        "started": run.started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "duration_seconds": round(time.monotonic() - run.clock, 3),
        "phases": phases.summary(),
        "dedup": dedup_summary,
        "what_if": what_if_section(config.filters, summaries.what_if),
        "config": config.model_dump(mode="json"),
        "other_cpu_seconds": {"dedup": dedup_summary.get("cpu_seconds", 0.0), "driver": driver},
    }
    if edges:
        extra["quality_buckets"] = {
            "method": "Nemotron-CC: per classifier, 20 token-weighted percentile buckets; the maximum",
            # per classifier, the lowest score of buckets 1..19 (null: no score reaches the bucket)
            "first_score": {
                c: [b / SCORE_BINS if b < SCORE_BINS else None for b in first] for c, first in edges.items()
            },
        }
    if config.cluster.labels:
        from crawlsieve.quality.review_labels import recorded_cluster_labels

        labels = recorded_cluster_labels(Path(config.cluster.labels))
        extra["cluster_labels"] = {**labels.provenance(), "dropped": sorted(labels.dropped)}
    subdoc = _subdoc_units(output_dir)
    if subdoc is not None:
        extra["subdoc"] = subdoc
    stats = build_stats(output_dir, order, extra, config.report, summaries)
    if run.report:
        build_distributions(output_dir, config.report, summaries)
        build_report(output_dir, config.report)
    return stats


def _subdoc_units(output_dir: Path) -> dict | None:
    """The sub-document dedup's counts and most repeated units, as the dedup step wrote them."""
    path = RunLayout(output_dir).subdoc_units
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def summary_lines(output_dir: Path, stats: dict) -> list[str]:
    removed, failed = sum(stats["removed"].values()), sum(stats["failed"].values())
    check = "closes" if stats["accounting_closes"] else "DOES NOT CLOSE"
    cost = stats.get("cost") or {}
    lines = [
        f"records read {stats['records_read']:,} = kept {stats['documents_kept']:,} + removed {removed:,}"
        f" + failed {failed:,}  (accounting {check})",
        f"pages read {stats.get('pages_read', 0):,}, kept {stats['documents_kept']:,}; "
        f"{cost.get('core_seconds_per_1000_pages', 0):,.1f} core-seconds per 1,000 pages "
        f"(a {cost.get('dump', {}).get('pages', 0) / 1e9:g}-billion-page dump: "
        f"~{cost.get('dump', {}).get('core_hours', 0):,.0f} core-hours)",
        f"  data:     {RunLayout(output_dir).data}",
        f"  stats:    {RunLayout(output_dir).stats}",
    ]
    layout = RunLayout(output_dir)
    for path, label in ((layout.mixture, "mixture"), (layout.report, "report"), (layout.review, "review")):
        if path.exists():
            lines.append(f"  {label + ':':<9} {path}")
    return lines


def unfinished_line(stats: dict, hint: str, shown: int = 3) -> str:
    """The one line of a run that could not read every input: which, and how to go on."""
    names = [path for path, row in stats["inputs"].items() if UNFINISHED_FILE in row["failed"]]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return (
        f"crawlsieve run: {len(names)} input file(s) not finished, the server stopped serving them: "
        f"{', '.join(names[:shown])}{more}; the other files are done, continue with: {hint}"
    )


def resume_hint(argv: list[str]) -> str:
    """The command that continues this run: the same one, with --resume."""
    args = [a for a in argv if a != "--resume"]
    return shlex.join(["crawlsieve", *args, "--resume"])


def main(args: argparse.Namespace) -> int:
    config = prepare_config(args)
    output_dir = check_output_location(args.output)
    try:
        stats = run_pipeline(
            args.inputs,
            output_dir,
            config,
            resume=args.resume,
            limit=args.limit,
            report=not args.no_report,
            log=lambda m: print(m, file=sys.stderr),
            config_file=args.config,
        )
    except Interrupted as stop:
        shutdown_ray()
        print(
            f"crawlsieve run: stopped by {stop}; finished files are kept, continue with: "
            f"{resume_hint(sys.argv[1:])}",
            file=sys.stderr,
        )
        return stop.exit_status
    for line in summary_lines(output_dir.resolve(), stats):
        print(line)
    if stats["inputs_unfinished"]:
        print(unfinished_line(stats, resume_hint(sys.argv[1:])), file=sys.stderr)
        return 1
    return 0 if stats["accounting_closes"] else 1
