"""Scale of the dedup on generated documents: time and peak memory per corpus size.

    .venv/bin/python benchmarks/dedup_scale.py --sizes 250000 500000 1000000 [--words 60]
        [--shuffle-min-docs 0]

For each size: generates docs shards (random Zipf-like text, 10% planted near-duplicates) in
Ray tasks, runs the phase-A signature stage over them in Ray tasks (``signatures`` column), then
the global ``deduplicate`` (``dedup`` column), by default forced through the scalable shuffle
path (``--shuffle-min-docs 0``; pass e.g. 500000 to time the single-task path). Peak memory is
the largest sum of resident memory of this process and all its children (Ray's raylet, workers,
object store) sampled every 0.2 s.
Prints a table; does not assert.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import threading
import time
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
    """Samples the resident memory of this process tree in a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@ray.remote
def make_shard(path: str, shard: int, docs: int, words: int, config: Config) -> None:
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
    for stage in signature_stages(config.dedup):
        table = stage(table)
    pq.write_table(table.drop_columns(["text"]), path)


def run(size: int, words: int, shuffle_min_docs: int) -> dict:
    config = Config()
    config.dedup.shuffle_min_docs = shuffle_min_docs
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        layout = RunLayout(Path(tmp))
        layout.docs("any").parent.mkdir(parents=True)
        shards = range((size + DOCS_PER_SHARD - 1) // DOCS_PER_SHARD)
        with PeakMemory() as memory:
            started = time.monotonic()
            ray.get(
                [
                    make_shard.remote(
                        str(layout.docs(f"{s:05d}")),
                        s,
                        min(DOCS_PER_SHARD, size - s * DOCS_PER_SHARD),
                        words,
                        config,
                    )
                    for s in shards
                ]
            )
            generated = time.monotonic()
            summary = deduplicate(layout, config.dedup)
            finished = time.monotonic()
    return {
        "size": size,
        "generate+signatures_s": generated - started,
        "dedup_s": finished - generated,
        "peak_rss_gib": memory.peak / 2**30,
        "removed": sum(summary["removed"].values()),
        "clusters": summary["clusters"],
        "path": summary["path"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 500_000, 1_000_000])
    parser.add_argument("--words", type=int, default=60, help="Words per generated document.")
    parser.add_argument(
        "--shuffle-min-docs", type=int, default=0, help="dedup.shuffle_min_docs (0: always shuffle)."
    )
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    header = ("docs", "gen+sig s", "dedup s", "dedup us/doc", "peak GiB", "removed", "clusters", "path")
    print(" ".join(f"{h:>13}" for h in header))
    for size in args.sizes:
        r = run(size, args.words, args.shuffle_min_docs)
        values = (
            r["size"],
            f"{r['generate+signatures_s']:.1f}",
            f"{r['dedup_s']:.1f}",
            f"{1e6 * r['dedup_s'] / r['size']:.1f}",
            f"{r['peak_rss_gib']:.2f}",
            r["removed"],
            r["clusters"],
            r["path"],
        )
        print(" ".join(f"{v:>13}" for v in values), flush=True)


if __name__ == "__main__":
    main()
