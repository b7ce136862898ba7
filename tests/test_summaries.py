"""Per-file summaries: the driver builds stats, mixture and review from them alone."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from crawlsieve.core.layout import FINALIZE, RunLayout
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import RunState, aggregate, run_pipeline
from crawlsieve.quality import summaries
from crawlsieve.quality.summaries import GRID_BINS, RunSummary, Summary, grid_bins, merge_run, summary_paths

VOLATILE = ("started", "finished", "duration_seconds", "phases", "cost")


def without_buckets(mixture: dict) -> list[dict]:
    return [{k: v for k, v in group.items() if k != "quality_buckets"} for group in mixture["groups"]]


def _stable(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if k not in VOLATILE}


@pytest.mark.slow
def test_stats_mixture_and_review_come_from_the_summaries_alone(ray_local, sample_warcs, tmp_path):
    out = tmp_path / "out"
    config = Config()
    first = run_pipeline([str(p) for p in sample_warcs], out, config, log=lambda m: None)
    mixture = (out / "mixture.json").read_text()
    review = {p.name: p.read_text() for p in sorted((out / "review").rglob("*.jsonl"))}
    # Everything the tasks wrote besides their summaries and review candidates goes.
    for name in ("ledger", "docs"):
        shutil.rmtree(RunLayout(out).work / name)
    for path in (out / "data").rglob("*.parquet"):
        path.unlink()
    again = aggregate(RunState(out, config, log=lambda m: None), first["dedup"])
    assert _stable(again) == _stable(first)
    assert _stable(json.loads((out / "stats.json").read_text())) == _stable(json.loads(json.dumps(first)))
    # Only the per-bucket sums are not the summaries': the pass that writes quality_bucket into the
    # data files counts them (here there is no data left to write into).
    assert without_buckets(json.loads((out / "mixture.json").read_text())) == without_buckets(
        json.loads(mixture)
    )
    assert {p.name: p.read_text() for p in sorted((out / "review").rglob("*.jsonl"))} == review
    assert (out / "report.html").is_file()


@pytest.mark.slow
def test_a_summary_reads_back_as_written_and_merging_is_order_free(
    ray_local, sample_warcs, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    run_pipeline([str(p) for p in sample_warcs], out, Config(), report=False, log=lambda m: None)
    paths = summary_paths(out)
    assert len(paths) == len(sample_warcs) and {Summary.read(p).phase for p in paths} == {FINALIZE}
    summary = Summary.read(paths[0])
    assert Summary.from_bytes(summary.to_bytes()).to_bytes() == summary.to_bytes()
    # One file per Ray task: the forward merge goes through the tasks' partial merges.
    monkeypatch.setattr(summaries, "FILES_PER_MERGE_TASK", 1)
    forward = merge_run(out, 20)
    backward = RunSummary(review_k=20)
    for path in reversed(paths):
        backward.add(Summary.read(path))
    assert forward.decided == backward.decided and forward.groups == backward.groups
    assert forward.review == backward.review
    for key, row in forward.hist_index.items():
        assert (forward.hist_counts[row] == backward.hist_counts[backward.hist_index[key]]).all()


def test_grid_bins_are_ascending_and_cover_every_value():
    values = np.array([-1e12, -3.0, -0.5, 0.0, 0.3, 1.0, 1.5, 1e5, 1e12])
    bins = grid_bins(values)
    assert (np.diff(bins) >= 0).all() and bins.min() == 0 and bins.max() == GRID_BINS - 1


@pytest.mark.parametrize("seed", range(8))
def test_review_candidates_are_each_groups_k_smallest_keys_past_many_cuts(seed):
    """Enough candidates for cuts of the buffer, so most arrive above a group's k-th key and are
    dropped as they come: the k kept are still exactly the smallest. Group "ties" draws the high
    key bits from a few values (the k-th key's high bits tie with later candidates'); group
    "falling" draws later files' keys from ever smaller ranges (later files hold the smallest)."""
    rng = np.random.default_rng(seed)
    review_k, highs = 5, {"ties": lambda f: 8, "uniform": lambda f: 2**63, "falling": lambda f: 2**62 >> f}
    run, every = RunSummary(review_k=review_k), {g: [] for g in highs}
    for file in range(60):
        summary = Summary(shard=f"s{file:02d}", phase=FINALIZE)
        for g, high in highs.items():
            his = rng.integers(0, max(high(file), 1), 200, dtype=np.int64).tolist()
            los = rng.integers(0, 2**63, 200, dtype=np.int64).tolist()
            keys = [(hi << 64) | lo for hi, lo in zip(his, los, strict=True)]
            summary.review[g] = [(key, row) for row, key in enumerate(keys)]
            every[g] += [(key, summary.shard, FINALIZE, row) for row, key in enumerate(keys)]
        run.add(summary)
    assert len(run.candidates) < 60  # the buffer was cut
    assert run.review == {g: sorted(every[g])[:review_k] for g in sorted(highs)}


def test_a_groups_key_limit_is_its_kth_key_and_none_below_k_candidates():
    run = RunSummary(review_k=3)
    for name in ("full", "short", "none"):
        run._group_id(name)
    group = np.array([0, 0, 0, 1, 1])
    hi = np.array([4, 9, 12, 1, 2], np.uint64)
    assert run._kth_keys(group, hi).tolist() == [12, 2**64 - 1, 2**64 - 1]


def _file(shard: str, keys: tuple[int, ...] = (), values: list[float] | None = None) -> Summary:
    summary = Summary(shard=shard, phase=FINALIZE)
    if keys:
        summary.review["g"] = [(key, row) for row, key in enumerate(keys)]
    if values is not None:
        summary.histograms.add_values("text_chars", "kept", np.array(values))
    return summary


def test_merging_a_partial_without_candidates_keeps_the_keys_exact(monkeypatch):
    """An empty partial's candidate arrays must not turn the 64-bit keys into floats: a key near
    2**64 would round to a limit of 0 and drop every later, smaller key."""
    monkeypatch.setattr(summaries, "REVIEW_BUFFER", 1)
    run = RunSummary(review_k=1)
    run.add(_file("a", ((2**64 - 100) << 64,)))
    run.merge(RunSummary(review_k=1))
    run.add(_file("b", ((2**64 - 50) << 64,)))
    run.add(_file("c", (5 << 64,)))
    assert run.review == {"g": [(5 << 64, "c", FINALIZE, 0)]}


def test_a_merged_partials_moments_are_its_own_at_the_merge():
    run, partial = RunSummary(review_k=1), RunSummary(review_k=1)
    run.add(_file("x", values=[1.0, 2.0]))
    partial.add(_file("y", values=[10.0]))
    run.merge(partial)
    partial.add(_file("z", values=[100.0]))
    assert partial.hist_moments.tolist() == [[2.0, 110.0, 10.0, 100.0]]
    assert run.hist_moments.tolist() == [[3.0, 13.0, 1.0, 10.0]]


def test_a_summary_written_before_breakdowns_still_merges():
    """A `--resume` may meet summaries of files finished before the breakdown columns existed:
    they merge, adding nothing to the breakdown, and the files with one add theirs."""
    import struct

    old = Summary(shard="old", phase=FINALIZE, records_read=2, kept=2).to_bytes()
    (size,) = struct.unpack("<I", old[4:8])
    header = json.loads(old[8 : 8 + size])
    assert header["phase"] == "files"  # finalize's summaries spell their phase as earlier versions did
    for key in ("breakdown_keys", "breakdown_outcomes"):
        del header[key]
    for name in ("breakdown_key", "breakdown_outcome", "breakdown_count"):
        assert header["arrays"].pop(name)[1] == 0  # empty: no bytes to take out
    head = json.dumps(header).encode("utf-8")
    old = summaries.MAGIC + struct.pack("<I", len(head)) + head + old[8 + size :]
    new = Summary(shard="new", phase=FINALIZE, records_read=3, kept=2)
    new.breakdown.update({("language", "zh", "kept"): 2, ("language", "(none)", "http_status"): 1})
    run = RunSummary(review_k=1)
    run.add(Summary.from_bytes(old))
    run.add(new)
    assert run.breakdown() == new.breakdown and sum(run.read_per_input.values()) == 5
