"""Scale of `crawlsieve cluster` on generated documents: seconds per million documents and peak memory.

    .venv/bin/python -m benchmarks.cluster_scale --sizes 1000000 4000000 [--words 150] [--k 200]

For each size: writes a run directory of generated documents (50 topics, each with its own words
over a shared Zipf-like vocabulary; 50,000 documents per shard) in a pool of plain processes that
has exited before clustering starts, then starts a fresh local Ray (2 CPUs) and runs the whole
command (``pipelines.cluster.cluster_run``: sample, fit, assign, merge). Prints per size the CPU
seconds per million documents the tasks spent making vectors (text units, hashing, TF-IDF and
the SVD projection), assigning (nearest centroid, side table) and on the per-cluster facts, the
fit's seconds (on ``cluster.sample_documents``, whatever the size), wall seconds per million
documents, the largest private memory of one Ray worker and of the whole tree (``PeakMemory``
of ``benchmarks.dedup_scale``), and the purity of the clusters against the generating topic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.dedup_scale import PeakMemory
from crawlsieve.core.layout import RunLayout
from crawlsieve.pipelines.config import Config

DOCS_PER_SHARD = 50_000
TOPICS = 50
VOCABULARY = 20_000
TOPIC_WORDS = 300


def _words() -> np.ndarray:
    rng = np.random.default_rng(7)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return np.array(["".join(rng.choice(letters, rng.integers(3, 10))) for _ in range(VOCABULARY)])


def write_shard(args: tuple[Path, int, int, int]) -> None:
    """One shard of generated documents: a topic each, 30% of its words from the topic's own."""
    directory, shard, docs, words = args
    rng = np.random.default_rng(1000 + shard)
    vocabulary = _words()
    common = np.cumsum(1.0 / np.arange(1, VOCABULARY + 1) ** 1.1)
    own = np.stack(
        [np.random.default_rng(t).choice(VOCABULARY, TOPIC_WORDS, replace=False) for t in range(TOPICS)]
    )
    topics = rng.integers(0, TOPICS, docs)
    words_of_common = np.searchsorted(common, rng.random((docs, words)) * common[-1])
    words_of_topic = own[topics[:, None], rng.integers(0, TOPIC_WORDS, (docs, words))]
    chosen = np.where(rng.random((docs, words)) < 0.3, words_of_topic, words_of_common)
    texts = [" ".join(row) + "." for row in vocabulary[chosen].tolist()]
    ids = [f"{shard:05d}-{n:07d}" for n in range(docs)]
    table = pa.table(
        {
            "id": ids,
            "text": texts,
            "url": [f"https://site{t}.example/{i}" for t, i in zip(topics.tolist(), ids, strict=True)],
            "site": [f"site{t}.example" for t in topics.tolist()],
            "domain": ["other"] * docs,
            "language": ["en"] * docs,
            "quality_score": rng.random(docs),
            "token_count": pa.array([words + 1] * docs, pa.int64()),
            "topic": pa.array(topics, pa.int32()),
        }
    )
    path = RunLayout(directory).data / "domain=other" / "language=en" / f"part-s{shard:05d}-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def make_run(directory: Path, size: int, words: int) -> None:
    shards = [(directory, n, min(DOCS_PER_SHARD, size - n * DOCS_PER_SHARD), words)
              for n in range((size + DOCS_PER_SHARD - 1) // DOCS_PER_SHARD)]  # fmt: skip
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(write_shard, shards))
    stats = {"documents_kept": size, "config": Config().model_dump(mode="json")}
    RunLayout(directory).stats.write_text(json.dumps(stats), encoding="utf-8")


def purity_against_topics(directory: Path) -> float:
    from crawlsieve.quality.clusters import purity

    layout = RunLayout(directory)
    clusters, topics = [], []
    for path in sorted(layout.data.rglob("*.parquet")):
        data = pq.read_table(path, columns=["id", "topic"])
        side = pq.read_table(layout.cluster_assignments(path.stem.removeprefix("part-").rsplit("-", 1)[0]))
        assert side.column("id").to_pylist() == data.column("id").to_pylist()
        clusters += side.column("cluster").to_pylist()
        topics += [str(t) for t in data.column("topic").to_pylist()]
    return purity(clusters, topics)


def measure(size: int, words: int, k: int) -> dict:
    import ray

    from crawlsieve.pipelines.cluster import cluster_run

    with tempfile.TemporaryDirectory(prefix="cluster-scale-", dir=os.environ.get("TMPDIR")) as tmp:
        run = Path(tmp) / "run"
        started = time.monotonic()
        make_run(run, size, words)
        generated = time.monotonic() - started
        config = Config()
        config.ray.num_cpus = 2
        config.cluster.k = k
        with PeakMemory() as memory:
            started = time.monotonic()
            result = cluster_run(run, config, size, log=lambda m: None, report=False)
            wall = time.monotonic() - started
        ray.shutdown()
        return {
            "docs": size,
            "generated_s": generated,
            "wall_s": wall,
            "cpu": result["cpu_seconds"],
            "sample": result["sample_documents"],
            "worker_gib": memory.worker / 2**30,
            "total_gib": memory.total / 2**30,
            "purity": purity_against_topics(run),
            "clusters": Counter(len(r["terms"]) > 0 for r in result["clusters"])[True],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--words", type=int, default=150, help="words per generated document")
    parser.add_argument("--k", type=int, default=200)
    args = parser.parse_args()
    rows = [measure(size, args.words, args.k) for size in args.sizes]
    print(f"cluster_scale {dt.date.today()}: {args.words} words per document, k={args.k}, 2 CPUs")
    print(
        "| docs | vectors s/M | sample s | fit s | assign s/M | facts s/M | wall s/M | peak worker GiB "
        "| tree GiB | purity |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per_million = 1e6 / r["docs"]
        cpu = r["cpu"]
        print(
            f"| {r['docs']:,} | {cpu['vectors'] * per_million:.0f} | {cpu['sample']:.0f} | {cpu['fit']:.0f} "
            f"| {cpu['assign'] * per_million:.1f} | {cpu['facts'] * per_million:.0f} "
            f"| {r['wall_s'] * per_million:.0f} | {r['worker_gib']:.2f} | {r['total_gib']:.2f} "
            f"| {r['purity']:.3f} |"
        )
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
