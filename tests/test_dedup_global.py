"""The global dedup step on real Ray: survivors by rule across files, and runs against an index."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawlsieve.core.errors import ConfigError
from crawlsieve.core.layout import RunLayout
from crawlsieve.dedup.index import index_metadata, validate_against
from crawlsieve.dedup.run import deduplicate
from crawlsieve.dedup.stages import minhasher, signature_stages
from crawlsieve.pipelines.config import Config

#: Each test shares one Ray dedup run of ~20-60 s (more on a loaded machine).
pytestmark = pytest.mark.slow

JAN = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
JUN = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def _edit(text: str, position: int) -> str:
    words = text.split()
    return " ".join([*words[:position], "EDITED", *words[position + 1 :]])


@pytest.fixture(scope="module")
def texts(shared_corpus) -> list[str]:
    lines = (shared_corpus / "extraction" / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    return [t for t in (json.loads(line)["text"] for line in lines) if len(t.split()) > 400][:8]


def _doc(doc_id: str, text: str, quality: float | None, fetched: dt.datetime) -> dict:
    return {
        "id": doc_id,
        "url": f"https://example.com/{doc_id}",
        "text": text,
        "language": "en",
        "quality_score": quality,
        "fetch_time": fetched,
        "payload_digest": f"sha1:{doc_id}",
    }


def _write_shards(layout: RunLayout, shards: list[list[dict]]) -> None:
    """Each shard is one phase-A output file, with the signature columns added by the stages."""
    layout.docs("any").parent.mkdir(parents=True)
    stages = signature_stages(Config().dedup)
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("url", pa.string()),
            ("text", pa.string()),
            ("language", pa.string()),
            ("quality_score", pa.float64()),
            ("fetch_time", pa.timestamp("us", tz="UTC")),
            ("payload_digest", pa.string()),
        ]
    )
    for number, docs in enumerate(shards):
        table = pa.Table.from_pylist(docs, schema=schema)
        for stage in stages:
            table = stage(table)
        pq.write_table(table, layout.docs(f"shard-{number:05d}"))


def _decisions(layout: RunLayout) -> dict[str, tuple[str | None, int]]:
    rows = pq.read_table(layout.decisions_dir).to_pylist()
    return {r["id"]: (r["_removed"], r["dup_cluster_size"]) for r in rows}


@pytest.fixture(scope="module")
def first_shards(texts) -> list[list[dict]]:
    """Three files; clusters spread across them; empty and one-word pages."""
    t = texts
    return [
        [
            _doc("a-low-quality", t[0], 0.5, JUN),
            _doc("b-2", t[1], None, JAN),
            _doc("u-0", t[2], 0.3, JAN),
            _doc("empty-0", "", 0.9, JAN),
            _doc("word-0", "Hello", 0.9, JAN),
        ],
        [
            _doc("a-edited", _edit(t[0], 150), 0.9, JAN),
            _doc("b-1", t[1], None, JAN),
            _doc("u-1", t[3], 0.3, JAN),
            _doc("empty-1", "  ", 0.9, JAN),
            _doc("word-1", "world!", 0.9, JAN),
        ],
        [
            _doc("a-newest", t[0], 0.9, JUN),
            _doc("c-edited", _edit(t[4], 300), 0.2, JAN),
            _doc("c-orig", t[4], 0.1, JUN),
            _doc("u-2", t[5], 0.3, JAN),
        ],
    ]


@pytest.fixture(scope="module")
def first_run(first_shards, tmp_path_factory, ray_local):
    """The default config: a run this small takes the single-task path."""
    work = tmp_path_factory.mktemp("first")
    _write_shards(RunLayout(work), first_shards)
    summary = deduplicate(RunLayout(work), Config().dedup)
    assert summary["path"] == "single-task"
    return work, summary


@pytest.fixture(scope="module")
def shuffled_run(first_shards, tmp_path_factory, ray_local):
    """The same documents forced through the Ray Data shuffles."""
    work = tmp_path_factory.mktemp("shuffled")
    _write_shards(RunLayout(work), first_shards)
    config = Config()
    config.dedup.shuffle_min_docs = 0
    summary = deduplicate(RunLayout(work), config.dedup)
    assert summary["path"] == "shuffle"
    return work, summary


def _sorted_rows(path: Path, key: str = "id") -> list[dict]:
    return sorted(pq.read_table(path).to_pylist(), key=lambda row: row[key])


def test_single_task_and_shuffle_paths_decide_identically(first_run, shuffled_run):
    (single, single_summary), (shuffled, shuffled_summary) = first_run, shuffled_run
    for name in ("clusters", "decisions_dir"):
        assert _sorted_rows(getattr(RunLayout(single), name)) == _sorted_rows(
            getattr(RunLayout(shuffled), name)
        ), name
    assert _sorted_rows(single / "dedup_index" / "bands") == _sorted_rows(shuffled / "dedup_index" / "bands")
    for field in ("documents", "kept", "removed", "clusters"):
        assert single_summary[field] == shuffled_summary[field], field
    # The report's duplicate clusters, computed by the dedup tasks: the same on both paths.
    single_facts = json.loads(RunLayout(single).duplicates.read_text())
    assert single_facts == json.loads(RunLayout(shuffled).duplicates.read_text())
    assert single_facts["size_counts"] == {"2": 2, "3": 1}
    assert [c["cluster_id"] for c in single_facts["clusters"]] == ["a-newest", "b-1", "c-edited"]
    assert [(m["id"], m["kept"]) for m in single_facts["clusters"][0]["members"]] == [
        ("a-newest", True),
        ("a-edited", False),
        ("a-low-quality", False),
    ]
    # Both report the CPU their tasks spent (stats.json's cost section sums it).
    assert single_summary["cpu_seconds"] > 0 and shuffled_summary["cpu_seconds"] > 0


@pytest.mark.parametrize("run", ["first_run", "shuffled_run"])
def test_decisions_are_written_one_file_per_shard_holding_that_shards_ids(run, first_shards, request):
    work = request.getfixturevalue(run)[0]
    decisions = RunLayout(work).decisions_dir
    assert sorted(p.name for p in decisions.iterdir()) == [f"shard-{n:05d}.parquet" for n in range(3)]
    for number, docs in enumerate(first_shards):
        ids = pq.read_table(decisions / f"shard-{number:05d}.parquet").column("id").to_pylist()
        assert ids == sorted(d["id"] for d in docs)


def test_near_duplicates_in_different_files_keep_exactly_one_survivor_chosen_by_the_rule(first_run):
    work, summary = first_run
    decided = _decisions(RunLayout(work))
    assert len(decided) == 14
    # Highest quality first, then the newest fetch: a-newest beats a-edited (same quality, older).
    assert decided["a-newest"] == (None, 3)
    assert decided["a-low-quality"] == ("dedup:exact", 3)
    assert decided["a-edited"] == ("dedup:near", 3)
    # Equal quality (absent = 0) and fetch time: the smallest id survives.
    assert decided["b-1"] == (None, 2)
    assert decided["b-2"] == ("dedup:exact", 2)
    # Quality outranks recency: the edited copy has the higher score.
    assert decided["c-edited"] == (None, 2)
    assert decided["c-orig"] == ("dedup:near", 2)
    assert summary["removed"] == {"dedup:exact": 2, "dedup:near": 2}
    assert summary["clusters"] == 3 and summary["kept"] == 10


def test_empty_and_one_word_documents_are_never_clustered(first_run):
    decided = _decisions(RunLayout(first_run[0]))
    for doc_id in ("empty-0", "empty-1", "word-0", "word-1", "u-0", "u-1", "u-2"):
        assert decided[doc_id] == (None, 1), doc_id


def test_clusters_file_lists_each_cluster_with_its_one_kept_member(first_run):
    clusters = pq.read_table(RunLayout(first_run[0]).clusters).to_pylist()
    by_cluster: dict[str, list[dict]] = {}
    for row in clusters:
        by_cluster.setdefault(row["cluster_id"], []).append(row)
    assert set(by_cluster) == {"a-newest", "b-1", "c-edited"}
    for cluster_id, rows in by_cluster.items():
        assert [r["id"] for r in rows if r["kept"]] == [cluster_id]


def test_index_holds_the_kept_documents_and_its_settings(first_run):
    index = first_run[0] / "dedup_index"
    meta = json.loads((index / "metadata.json").read_text())
    assert (meta["ngram_size"], meta["num_perm"], meta["documents"]) == (5, 128, 10)
    ids = set(pq.read_table(index / "bands").column("id").to_pylist())
    assert ids == {
        "a-newest",
        "b-1",
        "c-edited",
        "u-0",
        "u-1",
        "u-2",
        "empty-0",
        "empty-1",
        "word-0",
        "word-1",
    }


def test_second_run_against_the_first_removes_what_the_first_kept(first_run, texts, tmp_path):
    first_out, _ = first_run
    shards = [
        [_doc("new-a-copy", _edit(texts[0], 40), 1.0, JUN), _doc("new-unique", texts[6], 0.5, JUN)],
        [_doc("new-u0-copy", texts[2], 1.0, JUN), _doc("new-pair-1", texts[7], 0.5, JAN)],
        [_doc("new-pair-2", _edit(texts[7], 100), 0.4, JAN)],
    ]
    _write_shards(RunLayout(tmp_path), shards)
    config = Config()
    config.dedup.against = [str(first_out)]
    summary = deduplicate(RunLayout(tmp_path), config.dedup)
    decided = _decisions(RunLayout(tmp_path))
    assert decided["new-a-copy"][0] == "dedup:index"
    assert decided["new-u0-copy"][0] == "dedup:index"
    assert decided["new-unique"] == (None, 1)
    assert decided["new-pair-1"] == (None, 2) and decided["new-pair-2"] == ("dedup:near", 2)
    assert summary["removed"] == {"dedup:index": 2, "dedup:near": 1}


def test_an_index_of_other_shingle_units_is_refused_before_work(tmp_path):
    """An index built before Chinese, Japanese, ... were shingled by characters has other bands
    for the same pages: its hash scheme names the units, so it is refused, not silently mixed."""
    config = Config()
    meta = index_metadata(minhasher(config.dedup), 0)
    meta["hash_scheme"] = "crawlsieve-minhash-v1:xxh64-words,poly-fmix64,datasketch-affine32"
    (tmp_path / "old" / "dedup_index").mkdir(parents=True)
    (tmp_path / "old" / "dedup_index" / "metadata.json").write_text(json.dumps(meta))
    config.dedup.against = [str(tmp_path / "old")]
    with pytest.raises(ConfigError, match="incompatible: hash_scheme='crawlsieve-minhash-v1") as error:
        validate_against(config.dedup)
    assert "units-v2" in str(error.value) and "\n" not in str(error.value)


def test_missing_corrupt_or_incompatible_index_is_refused_before_work(first_run, tmp_path):
    config = Config()
    config.dedup.against = [str(tmp_path / "nowhere")]
    with pytest.raises(ConfigError, match="no dedup index"):
        validate_against(config.dedup)
    config.dedup.against = [str(first_run[0])]
    config.dedup.num_perm = 64
    with pytest.raises(ConfigError, match="incompatible: num_perm=128"):
        validate_against(config.dedup)
    corrupt = tmp_path / "corrupt" / "dedup_index"
    corrupt.mkdir(parents=True)
    (corrupt / "metadata.json").write_text("{not json")
    config = Config()
    config.dedup.against = [str(corrupt.parent)]
    with pytest.raises(ConfigError, match="corrupt index metadata"):
        validate_against(config.dedup)
