"""Per-file summaries: the driver builds stats, mixture and review from them alone."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from crawlsieve.core.layout import RunLayout
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import aggregate, run_pipeline
from crawlsieve.quality.summaries import GRID_BINS, RunSummary, Summary, grid_bins, merge_run, summary_paths

VOLATILE = ("started", "finished", "duration_seconds", "phases", "cost")


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
    again = aggregate(
        out, config, datetime.now(UTC), time.monotonic(), first["dedup"], report=True, log=lambda m: None
    )
    assert _stable(again) == _stable(first)
    assert _stable(json.loads((out / "stats.json").read_text())) == _stable(json.loads(json.dumps(first)))
    assert json.loads((out / "mixture.json").read_text())["groups"] == json.loads(mixture)["groups"]
    assert {p.name: p.read_text() for p in sorted((out / "review").rglob("*.jsonl"))} == review
    assert (out / "report.html").is_file()


@pytest.mark.slow
def test_a_summary_reads_back_as_written_and_merging_is_order_free(ray_local, sample_warcs, tmp_path):
    out = tmp_path / "out"
    run_pipeline([str(p) for p in sample_warcs], out, Config(), report=False, log=lambda m: None)
    paths = summary_paths(out)
    assert len(paths) == len(sample_warcs) and {Summary.read(p).phase for p in paths} == {"files"}
    summary = Summary.read(paths[0])
    assert Summary.from_bytes(summary.to_bytes()).to_bytes() == summary.to_bytes()
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
