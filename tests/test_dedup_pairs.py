"""Verified pairs through the whole dedup step on real Ray: chains, a big bucket, many partitions.

The docs shards are written with phase A's dedup columns crafted from chosen MinHash signatures
(bands from the run's own ``MinHasher``), so each case is exact rather than a property of some
text: ``a~b`` and ``b~c`` verify, ``a~c`` does not; 300 pages are copies of one boilerplate page.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawlsieve.core.layout import RunLayout
from crawlsieve.dedup.run import deduplicate
from crawlsieve.dedup.stages import BANDS, SIGNATURE, TEXT_HASH, minhasher, signature_column
from crawlsieve.pipelines.config import Config

pytestmark = pytest.mark.slow

BOILERPLATE = 300


def _signatures() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    a = rng.integers(0, 2**32, 128, dtype=np.uint32)
    b = a.copy()
    b[:20] += 1  # estimated J(a, b) = 108/128 = 0.84
    c = b.copy()
    c[20:40] += 1  # J(b, c) = 0.84, J(a, c) = 88/128 = 0.69
    return {"a": a, "b": b, "c": c, "d": c, "boiler": rng.integers(0, 2**32, 128, dtype=np.uint32)}


def _shard(path: Path, docs: list[tuple[str, str, int]], config: Config, quality: float = 0.5) -> None:
    """``docs``: (id, which signature, text hash)."""
    signatures = _signatures()
    matrix = np.stack([signatures[which] for _, which, _ in docs])
    bands = minhasher(config.dedup).band_hashes(matrix)
    pq.write_table(
        pa.table(
            {
                "id": [doc_id for doc_id, _, _ in docs],
                "quality_score": [quality] * len(docs),
                TEXT_HASH: pa.array([h for _, _, h in docs], pa.uint64()),
                BANDS: pa.array(bands.tolist(), pa.list_(pa.uint64())),
                SIGNATURE: signature_column(matrix, np.ones(len(docs), bool)),
            }
        ),
        path,
    )


def _first_docs(layout: RunLayout, config: Config) -> None:
    layout.docs("any").parent.mkdir(parents=True)
    boiler = [(f"boiler-{i:03d}", "boiler", 99) for i in range(BOILERPLATE)]
    _shard(layout.docs("s0"), [("a", "a", 1), *boiler[:100]], config)
    _shard(layout.docs("s1"), [("b", "b", 2), *boiler[100:200]], config)
    _shard(layout.docs("s2"), [("c", "c", 3), ("d", "d", 3), *boiler[200:]], config)


def _many_partitions(config: Config) -> Config:
    """Forces the shuffle path with a budget so small that every big step has several partitions."""
    config.dedup.shuffle_min_docs = 0
    config.dedup.max_worker_memory_gb = 0.0002  # ~210 KB: even the components get 3 partitions
    return config


def _run(root: Path, config: Config, write_docs) -> tuple[dict, dict[str, tuple]]:
    layout = RunLayout(root)
    write_docs(layout, config)
    summary = deduplicate(layout, config.dedup)
    rows = pq.read_table(layout.decisions_dir).to_pylist()
    return summary, {r["id"]: (r["_removed"], r["dup_cluster_size"]) for r in rows}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, ray_local):
    single = _run(tmp_path_factory.mktemp("single"), Config(), _first_docs)
    shuffled_root = tmp_path_factory.mktemp("shuffled")
    shuffled = _run(shuffled_root, _many_partitions(Config()), _first_docs)
    assert (single[0]["path"], shuffled[0]["path"]) == ("single-task", "shuffle")
    return single, shuffled, shuffled_root


def test_many_partitions_decide_exactly_like_one_task(runs):
    (single_summary, single), (shuffled_summary, shuffled), _ = runs
    assert shuffled_summary["partitions"] > 2
    assert single == shuffled
    for field in ("documents", "kept", "removed", "clusters", "candidate_pairs", "verified_pairs"):
        assert single_summary[field] == shuffled_summary[field], field


def test_a_chained_member_is_removed_only_for_a_survivor_it_verifies_against(runs):
    (summary, decided), _, _ = runs
    assert decided["a"] == (None, 2)
    assert decided["b"] == ("dedup:near", 2)
    # c reaches a only through b (a~c is below the threshold): it survives, and takes its copy d.
    assert decided["c"] == (None, 2)
    assert decided["d"] == ("dedup:exact", 2)
    assert summary["members_checked"] == 2  # c and d: their pairs with a were not verified edges


def test_a_bucket_of_many_copies_gives_a_star_of_pairs_not_all_pairs(runs):
    (summary, decided), _, _ = runs
    assert decided["boiler-000"] == (None, BOILERPLATE)
    assert all(decided[f"boiler-{i:03d}"] == ("dedup:exact", BOILERPLATE) for i in range(1, BOILERPLATE))
    assert BOILERPLATE - 1 <= summary["candidate_pairs"] < BOILERPLATE + 10


def _second_docs(layout: RunLayout, config: Config) -> None:
    layout.docs("any").parent.mkdir(parents=True)
    _shard(layout.docs("t0"), [("new-a", "a", 1), ("new-boiler", "boiler", 99)], config, quality=1.0)
    _shard(layout.docs("t1"), [("new-c", "c", 5)], config, quality=1.0)


def test_a_second_run_against_the_index_decides_alike_on_both_paths(runs, tmp_path):
    _, _, first = runs
    config = Config()
    config.dedup.against = [str(first)]
    _, single = _run(tmp_path / "single", config, _second_docs)
    shuffled_config = _many_partitions(Config())
    shuffled_config.dedup.against = [str(first)]
    _, shuffled = _run(tmp_path / "shuffled", shuffled_config, _second_docs)
    assert single == shuffled
    assert single["new-a"][0] == "dedup:index"
    assert single["new-boiler"][0] == "dedup:index"
    assert single["new-c"][0] == "dedup:index"  # c was kept by the first run
