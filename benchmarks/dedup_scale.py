"""Scale of the dedup on generated documents: seconds per million documents and peak memory.

    .venv/bin/python benchmarks/dedup_scale.py --sizes 1000000 2000000 4000000 [--words 60]
        [--shuffle-min-docs 0] [--max-worker-memory-gb 2] [--object-store-gb 4]

For each size: generates docs shards (random Zipf-like text, 10% planted near-duplicates, with
the phase-A signature columns) in a pool of plain processes that has exited before the dedup
starts, then starts a fresh local Ray (2 CPUs, the object store capped at ``--object-store-gb``,
spilling beyond) and times the global ``deduplicate``, by default forced through the scalable
shuffle path (``--shuffle-min-docs 0``). Only the dedup is measured: the generation's memory and
Ray workers never overlap it.

Memory is sampled every 0.2 s over this process and all its children (Ray's GCS, raylet and
object store, workers): *worker* is the largest private memory (resident minus shared pages,
i.e. the heap, not the object store it maps) of any one Ray worker process, the figure
``dedup.max_worker_memory_gb`` bounds; *total* is the largest sum of private memory over the
whole tree plus the largest shared memory of one process (the object store, counted once).
Prints a table, the input bytes per document of each dedup step (``shuffled_bytes``; the
components' figure is one of their rounds) and the load average; does not assert.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import ray

from crawlsieve.core.layout import RunLayout
from crawlsieve.dedup.run import deduplicate
from crawlsieve.dedup.stages import signature_stages
from crawlsieve.pipelines.config import Config

DOCS_PER_SHARD = 50_000


class PeakMemory:
    """Samples this process tree's memory in a thread: the largest worker and total (see module doc).

    From ``/proc/<pid>/statm`` (cheap): private memory is resident minus shared pages. PSS and USS
    from ``smaps_rollup`` would be exact, but reading them walks the page tables of every process
    mapping the object store, which at 5 Hz took a good part of a core from the run it measures.
    """

    def __init__(self) -> None:
        self.worker = 0
        self.total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            private, shared = 0, 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    info = process.memory_info()
                    name = process.name()
                except psutil.Error:
                    continue
                private += info.rss - info.shared
                shared = max(shared, info.shared)
                if name.startswith("ray::"):
                    self.worker = max(self.worker, info.rss - info.shared)
            self.total = max(self.total, private + shared)
            time.sleep(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def make_shard(path: str, shard: int, docs: int, words: int) -> None:
    """One shard of generated docs, 10% of them edited copies of others, with signatures."""
    rng = np.random.default_rng(shard)
    vocabulary = np.array([f"w{i}" for i in range(50_000)])
    ranks = np.minimum(rng.zipf(1.2, size=(docs, words)), vocabulary.size) - 1
    texts = [" ".join(row) for row in vocabulary[ranks]]
    for i in range(0, docs, 10):  # plant: doc i+1 is doc i with one word changed
        if i + 1 < docs:
            changed = texts[i].split()
            changed[words // 2] = "edited"
            texts[i + 1] = " ".join(changed)
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    table = pa.table(
        {
            "id": [f"{shard:05d}-{i:07d}" for i in range(docs)],
            "text": texts,
            "quality_score": rng.random(docs),
            "fetch_time": pa.array([when] * docs, pa.timestamp("us", tz="UTC")),
        }
    )
    for stage in signature_stages(Config().dedup):
        table = stage(table)
    pq.write_table(table.drop_columns(["text"]), path)


def generate(layout: RunLayout, size: int, words: int) -> float:
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(
                make_shard,
                str(layout.docs(f"{s:05d}")),
                s,
                min(DOCS_PER_SHARD, size - s * DOCS_PER_SHARD),
                words,
            )
            for s in range((size + DOCS_PER_SHARD - 1) // DOCS_PER_SHARD)
        ]
        for future in futures:
            future.result()
    return time.monotonic() - started


def run(size: int, args: argparse.Namespace) -> dict:
    config = Config()
    config.dedup.shuffle_min_docs = args.shuffle_min_docs
    config.dedup.max_worker_memory_gb = args.max_worker_memory_gb
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        layout = RunLayout(Path(tmp))
        layout.docs("any").parent.mkdir(parents=True)
        generated = generate(layout, size, args.words)
        ray.init(
            num_cpus=2,
            object_store_memory=int(args.object_store_gb * 2**30),
            include_dashboard=False,
            log_to_driver=False,
        )
        ray.data.DataContext.get_current().enable_progress_bars = False
        load = os.getloadavg()[0]
        try:
            with PeakMemory() as memory:
                started = time.monotonic()
                summary = deduplicate(layout, config.dedup)
                seconds = time.monotonic() - started
        finally:
            ray.shutdown()
    return {
        "size": size,
        "generate_s": generated,
        "dedup_s": seconds,
        "worker_gib": memory.worker / 2**30,
        "total_gib": memory.total / 2**30,
        "load": load,
        "summary": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000, 4_000_000])
    parser.add_argument("--words", type=int, default=60, help="Words per generated document.")
    parser.add_argument(
        "--shuffle-min-docs", type=int, default=0, help="dedup.shuffle_min_docs (0: always shuffle)."
    )
    parser.add_argument("--max-worker-memory-gb", type=float, default=Config().dedup.max_worker_memory_gb)
    parser.add_argument(
        "--object-store-gb", type=float, default=4.0, help="Ray's object store (spills beyond)."
    )
    args = parser.parse_args()
    header = (
        "docs",
        "gen s",
        "dedup s",
        "s/M docs",
        "worker GiB",
        "total GiB",
        "candidates",
        "verified",
        "checked",
        "removed",
        "clusters",
        "partitions",
        "cpu s",
        "load",
        "path",
    )
    print(f"max_worker_memory_gb={args.max_worker_memory_gb} object_store_gb={args.object_store_gb}")
    print(" ".join(f"{h:>11}" for h in header), flush=True)
    for size in args.sizes:
        r = run(size, args)
        s = r["summary"]
        values = (
            r["size"],
            f"{r['generate_s']:.0f}",
            f"{r['dedup_s']:.1f}",
            f"{r['dedup_s'] / (r['size'] / 1e6):.1f}",
            f"{r['worker_gib']:.2f}",
            f"{r['total_gib']:.2f}",
            s.get("candidate_pairs"),
            s.get("verified_pairs"),
            s.get("members_checked"),
            sum(s["removed"].values()),
            s["clusters"],
            s.get("partitions"),
            f"{s.get('cpu_seconds', 0):.0f}",
            f"{r['load']:.1f}",
            s["path"],
        )
        print(" ".join(f"{v!s:>11}" for v in values), flush=True)
        shuffled = s.get("shuffled_bytes", {})
        per_doc = " ".join(f"{step}={n / r['size']:.0f}" for step, n in shuffled.items())
        print(f"{'':>11} input bytes per document of each step: {per_doc}", flush=True)


if __name__ == "__main__":
    main()
