"""Memory: a run over inputs much larger than Ray's object store, with the peak RSS of each worker.

    .venv/bin/python -m benchmarks.memory [--input-mb 300] [--object-store-mb 100] [--cpus 2]

Generates WARC files into ``--workdir``: article pages in several languages (the project's
sample generator) plus large non-HTML payloads of random bytes, so the files are big on disk
and in the reader but cheap to extract; then runs the whole pipeline (``run_pipeline``) on a
local Ray whose object store is ``--object-store-mb``. A sampler thread reads the RSS of every
process under this one (psutil) every ``--interval`` seconds and prints, per Ray worker, its
peak RSS and the tasks it was seen running; also the driver's peak, the object store's
spill counters, and whether the accounting closed. Results also go to WORKDIR/memory.json.

Why it stays bounded: a phase-A task streams its file in batches of ``read.batch_records``
records and writes Parquet itself; only a small completion record passes through the object
store, so the input size does not have to fit in it. A worker's peak is set by one batch
of pages, the largest payload it reads (at most ``read.max_payload_bytes``) and its models.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

MB = 1024 * 1024


def generate_inputs(directory: Path, input_mb: int, files: int, pages_per_file: int) -> list[Path]:
    """WARC files of about ``input_mb`` MB in total, each with pages and large binary records."""
    from crawlsieve.samples.warcs import Record, build_samples, write_warc

    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)
    per_file_binary_mb = max(1, input_mb // files)
    paths = []
    for index, sample in enumerate(build_samples(seed=11, files=files, pages_per_file=pages_per_file)):
        path = directory / f"memory-{index:03d}.warc.gz"
        if not path.exists() or path.stat().st_size < per_file_binary_mb * MB:
            records = list(sample.records)
            for part in range(per_file_binary_mb):
                # Random bytes do not compress: the file on disk is as large as its payloads.
                records.insert(
                    (part * 7) % (len(records) + 1),
                    Record(f"https://files.example/{index}/{part}.pdf", rng.randbytes(MB), "application/pdf"),
                )
            write_warc(path, records, datetime(2024, 2, 1, tzinfo=UTC) + timedelta(days=index))
        paths.append(path)
    return paths


class RssSampler(threading.Thread):
    """Peak RSS of this process and of every process under it, sampled until stopped."""

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.root = psutil.Process()
        self.peak: dict[int, int] = defaultdict(int)
        self.titles: dict[int, set[str]] = defaultdict(set)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for process in [self.root, *self.root.children(recursive=True)]:
                try:
                    rss = process.memory_info().rss
                    title = " ".join(process.cmdline())[:80]
                except psutil.Error:
                    continue
                self.peak[process.pid] = max(self.peak[process.pid], rss)
                self.titles[process.pid].add(title)
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
        self.join()

    def workers(self) -> list[dict]:
        """Ray worker processes (their titles start with `ray::`), largest peak first."""
        rows = []
        for pid, peak in self.peak.items():
            titles = {t for t in self.titles[pid] if t.startswith("ray::")}
            if not titles:
                continue
            tasks = sorted({t.removeprefix("ray::").split(" ")[0] for t in titles} - {"IDLE"})
            rows.append({"pid": pid, "peak_rss_mb": round(peak / MB, 1), "tasks": tasks})
        return sorted(rows, key=lambda r: -r["peak_rss_mb"])


def spill_summary() -> str:
    """The object store's spill/restore line of Ray's memory summary, if it reports one."""
    try:
        from ray._private.internal_api import memory_summary

        summary = memory_summary(stats_only=True)
    except Exception as error:  # an internal API: report its absence, do not fail the benchmark
        return f"(memory summary unavailable: {type(error).__name__})"
    lines = [line.strip() for line in summary.splitlines() if "pill" in line or "estor" in line]
    return "; ".join(lines) or "no spilling reported"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/crawlsieve-memory"))
    parser.add_argument("--input-mb", type=int, default=300, help="total size of the generated WARCs")
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--pages-per-file", type=int, default=150)
    parser.add_argument("--object-store-mb", type=int, default=100)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.2, help="RSS sampling period (s)")
    args = parser.parse_args()

    import ray

    from crawlsieve.pipelines.config import Config
    from crawlsieve.pipelines.run import run_pipeline

    started = time.monotonic()
    paths = generate_inputs(args.workdir / "warc", args.input_mb, args.files, args.pages_per_file)
    input_mb = sum(p.stat().st_size for p in paths) / MB
    print(f"inputs: {len(paths)} files, {input_mb:.0f} MB ({time.monotonic() - started:.0f}s to generate)")

    config = Config()
    config.ray.num_cpus = args.cpus
    config.ray.object_store_memory = args.object_store_mb * MB
    sampler = RssSampler(args.interval)
    sampler.start()
    clock = time.monotonic()
    stats = run_pipeline([str(p) for p in paths], args.workdir / "out", config, report=False, log=print)
    seconds = time.monotonic() - clock
    spills = spill_summary()
    sampler.stop()
    ray.shutdown()

    workers = sampler.workers()
    driver_mb = round(sampler.peak[sampler.root.pid] / MB, 1)
    print(
        f"\nobject store {args.object_store_mb} MB, inputs {input_mb:.0f} MB "
        f"({input_mb / args.object_store_mb:.1f}x the store), {args.cpus} CPUs, {seconds:.0f}s"
    )
    print(f"{'worker pid':>10}  {'peak RSS MB':>11}  tasks seen")
    for row in workers:
        print(f"{row['pid']:>10}  {row['peak_rss_mb']:>11}  {', '.join(row['tasks']) or '(idle)'}")
    print(f"{'driver':>10}  {driver_mb:>11}")
    print(f"object store: {spills}")
    print(
        f"completed: records read {stats['records_read']:,}, kept {stats['documents_kept']:,}, "
        f"accounting {'closes' if stats['accounting_closes'] else 'DOES NOT CLOSE'}"
    )
    result = {
        "input_mb": round(input_mb, 1),
        "object_store_mb": args.object_store_mb,
        "cpus": args.cpus,
        "seconds": round(seconds, 1),
        "driver_peak_rss_mb": driver_mb,
        "workers": workers,
        "spill": spills,
        "records_read": stats["records_read"],
        "documents_kept": stats["documents_kept"],
        "accounting_closes": stats["accounting_closes"],
    }
    (args.workdir / "memory.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0 if stats["accounting_closes"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
