"""RunLayout's per-file paths: one argument order, the code's phase names, the names on disk that
earlier versions wrote (so --resume and the readers of a run take older runs as they are)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlsieve.core.layout import EXTRACT, FINALIZE, PHASES, RunLayout


def test_finalize_files_keep_the_names_earlier_versions_wrote():
    layout = RunLayout(Path("/run"))
    assert layout.ledger("s", EXTRACT) == Path("/run/_work/ledger/s.extract.parquet")
    assert layout.ledger("s", FINALIZE) == Path("/run/_work/ledger/s.final.parquet")
    assert layout.marker("s", EXTRACT) == Path("/run/_state/extract/s.json")
    assert layout.marker("s", FINALIZE) == Path("/run/_state/final/s.json")
    assert layout.attempts("s", FINALIZE) == Path("/run/_state/attempts/final/s")
    assert layout.summary("s", EXTRACT) == Path("/run/_work/summaries/extract/s.sum")
    assert layout.summary("s", FINALIZE) == Path("/run/_work/summaries/files/s.sum")
    assert layout.review_rows("s", FINALIZE) == Path("/run/_work/review/files/s.parquet")


def test_listings_find_what_the_per_file_paths_name(tmp_path):
    layout = RunLayout(tmp_path)
    for phase in PHASES:
        for path in (layout.marker("a", phase), layout.summary("a", phase)):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        assert layout.markers(phase) == [layout.marker("a", phase)]
        assert layout.summaries(phase) == [layout.summary("a", phase)]


@pytest.mark.parametrize("method", ["ledger", "marker", "attempts", "summary", "review_rows"])
def test_a_phase_that_is_not_one_is_refused(method):
    """A call with the arguments swapped, or an old phase spelling, fails instead of naming a path
    nothing reads."""
    layout = RunLayout(Path("/run"))
    for arguments in ((EXTRACT, "s"), ("s", "final"), ("s", "files")):
        with pytest.raises(ValueError, match="not a phase"):
            getattr(layout, method)(*arguments)


def test_review_paths_are_the_runs_own():
    layout = RunLayout(Path("/run"))
    assert layout.review_kept == Path("/run/review/kept.jsonl")
    assert layout.review_removed("gopher_quality:word_count") == Path(
        "/run/review/removed/gopher_quality__word_count.jsonl"
    )
    assert layout.review_removed("failed:extract_timeout").parent == layout.review_removed_dir
    assert layout.review_tagged("adult") == Path("/run/review/tagged/adult.jsonl")
    assert layout.precision == Path("/run/review/precision.json")
    assert layout.plan == Path("/run/plan.json")
