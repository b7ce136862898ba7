"""`crawlsieve review DIR --labels`: reviewers' labels become per-filter precision in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawlsieve.pipelines.cli import main as cli_main
from crawlsieve.quality.review_labels import precision_table, wilson_interval


def test_wilson_interval_matches_the_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 8/10 -> 0.4902-0.9433, 0/10 -> 0-0.2775
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=5e-5)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=5e-5)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=5e-5)
    low, high = wilson_interval(8, 10, confidence=0.99)
    assert low < 0.4902 and high > 0.9433  # a higher confidence widens the interval
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_precision_is_the_share_of_a_filters_labelled_removals_that_are_bad() -> None:
    groups = {
        "a1": "gopher_quality:word_count",
        "a2": "gopher_quality:word_count",
        "a3": "gopher_quality:mean_word_length",
        "b1": "c4:lorem_ipsum",
        "k1": "kept",
        "k2": "kept",
    }
    labels = {"a1": "bad", "a2": "bad", "a3": "good", "b1": "good", "k1": "good", "k2": "bad", "zz": "bad"}
    table = precision_table(labels, groups, confidence=0.95)
    gopher = table["filters"]["gopher_quality"]
    assert (gopher["labelled"], gopher["bad"], gopher["good"]) == (3, 2, 1)
    assert gopher["precision"] == pytest.approx(2 / 3)
    assert (gopher["low"], gopher["high"]) == pytest.approx(wilson_interval(2, 3))
    assert table["filters"]["c4"]["precision"] == 0.0
    assert table["reasons"]["gopher_quality:word_count"]["precision"] == 1.0
    assert set(table["reasons"]) == {
        "gopher_quality:word_count",
        "gopher_quality:mean_word_length",
        "c4:lorem_ipsum",
    }
    assert table["kept"]["precision"] == 0.5 and table["kept"]["good"] == 1
    assert (table["labelled"], table["unmatched"]) == (7, 1)


def _review_dir(root: Path) -> Path:
    removed = root / "review" / "removed"
    removed.mkdir(parents=True)
    rows = [
        {
            "id": f"w{i}",
            "url": f"https://w.example/{i}",
            "reason": "gopher_quality:word_count",
            "text": "short",
            "signals": {},
        }
        for i in range(3)
    ]
    (removed / "gopher_quality__word_count.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "review" / "kept.jsonl").write_text(
        json.dumps({"id": "k0", "reason": None, "text": "fine"}) + "\n"
    )
    stats = {
        "records_read": 4,
        "documents_kept": 1,
        "removed": {"gopher_quality:word_count": 3},
        "failed": {},
        "accounting_closes": True,
        "stages": [],
        "inputs": {},
    }
    (root / "stats.json").write_text(json.dumps(stats))
    return root


def test_review_command_writes_precision_and_adds_it_to_the_report(tmp_path: Path, capsys) -> None:
    run_dir = _review_dir(tmp_path / "run")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        '{"id": "w0", "label": "bad"}\n{"id": "w1", "label": "bad"}\n\n'
        '{"id": "w2", "label": "bad"}\n{"id": "w2", "label": "good"}\n{"id": "k0", "label": "good"}\n'
    )
    assert cli_main(["review", str(run_dir), "--labels", str(labels)]) == 0
    assert "gopher_quality: precision 67% (21%–94%) from 3 labelled" in capsys.readouterr().out
    precision = json.loads((run_dir / "review" / "precision.json").read_text())
    assert precision["filters"]["gopher_quality"]["bad"] == 2  # the later label of w2 replaced the earlier
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Estimated precision per filter" in page
    assert "67% (21%–94%)" in page  # the reason's row in the "why removed" table


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"id": "w0", "label": "bad"}\n{"id": "w1", "label": "maybe"}\n',
            "labels.jsonl:2: label must be good or bad",
        ),
        ('{"id": "w0", "label": "bad"}\nnot json\n', "labels.jsonl:2: not a JSON object"),
        ('{"label": "bad"}\n', 'labels.jsonl:1: expected {"id"'),
    ],
)
def test_bad_labels_file_is_a_one_line_usage_error(
    tmp_path: Path, capsys, content: str, message: str
) -> None:
    run_dir = _review_dir(tmp_path / "run")
    labels = tmp_path / "labels.jsonl"
    labels.write_text(content)
    assert cli_main(["review", str(run_dir), "--labels", str(labels)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (run_dir / "review" / "precision.json").exists()


def test_review_refuses_a_directory_without_samples(tmp_path: Path, capsys) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"id": "a", "label": "bad"}\n')
    assert cli_main(["review", str(tmp_path), "--labels", str(labels)]) == 2
    assert "holds no review/ samples" in capsys.readouterr().err
