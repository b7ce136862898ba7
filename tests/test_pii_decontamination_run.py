"""PII replacement and benchmark decontamination in a whole run: real Ray, real Parquet, the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from run_outputs import data_rows
from warc_bytes import ARTICLE, OTHER_ARTICLE

from crawlsieve.core.layout import RunLayout
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.samples.warcs import Record, html_page, write_warc

QUESTION = (
    "Which of the following best explains why the ice cap on the northern mountain melted faster "
    "during the unusually warm spring than the scientists had predicted in their earlier models?"
)
CONTACT = (
    "For copies of the report, write to the river authority's press office at "
    "press.office@rivers-authority.co.uk or download it from our server at 151.101.65.140. "
    "The internal archive at 10.20.30.40 and version 1.2.3.4 of the flood model stay as they are."
)
THIRD_ARTICLE = [
    "The town library reopened on Monday after a year of repairs to its roof and heating. Readers "
    "queued outside before the doors opened, and the children's corner was full within an hour.",
    "The librarians used the closure to sort the local history collection, which now fills two rooms "
    "and includes letters written by the families who founded the town two centuries ago.",
    "A reading group meets on Wednesday evenings, and volunteers will teach older residents how to "
    "borrow electronic books from home, which the council hopes will bring back former members.",
    "The new roof cost less than planned. Its architect says the building should now stay dry and warm "
    "for at least forty years, and the reading room is brighter than it has ever been.",
]


def corpus(tmp_path: Path) -> tuple[Path, Path]:
    """A WARC of three pages (one with contact addresses, one quoting a benchmark question, one
    clean) and the benchmark file."""
    pages = [
        ("https://rivers.example.org/report", html_page("Flood report", [*ARTICLE, CONTACT])),
        (
            "https://quiz.example.net/geography",
            html_page("Orchestra and quiz", [*OTHER_ARTICLE, f"Quiz of the week: {QUESTION}"]),
        ),
        ("https://library.example.com/news", html_page("Library reopens", THIRD_ARTICLE)),
    ]
    warc = tmp_path / "pages.warc.gz"
    write_warc(warc, [Record(url, html.encode()) for url, html in pages], datetime(2024, 3, 1, tzinfo=UTC))
    bench = tmp_path / "bench.jsonl"
    bench.write_text(
        json.dumps({"question": QUESTION, "choices": ["albedo", "wind"], "answer": 0}) + "\n",
        encoding="utf-8",
    )
    return warc, bench


def configured(bench: Path, decontamination_mode: str, pii_mode: str) -> Config:
    config = Config()
    config.filters.decontamination.benchmarks = {"geo_quiz": str(bench)}
    config.filters.decontamination.mode = decontamination_mode
    config.filters.pii.enabled = True
    config.filters.pii.mode = pii_mode
    config.output.keep_signals = ["pii_emails", "pii_ips"]
    return config


def closes(stats: dict, output: Path) -> None:
    removed, failed = sum(stats["removed"].values()), sum(stats["failed"].values())
    assert stats["records_read"] == stats["documents_kept"] + removed + failed
    assert stats["accounting_closes"] is True
    rows = ds.dataset(RunLayout(output).data, format="parquet", partitioning="hive").count_rows()
    assert rows == stats["documents_kept"]


def test_a_run_replaces_pii_and_removes_a_page_quoting_a_benchmark(ray_local, tmp_path):
    warc, bench = corpus(tmp_path)
    output = tmp_path / "out"
    stats = run_pipeline(
        [str(warc)], output, configured(bench, "drop", "replace"), report=True, log=lambda m: None
    )
    closes(stats, output)
    assert stats["records_read"] == 10  # warcinfo + 3 x (request, response, metadata)
    assert stats["documents_kept"] == 2
    assert stats["removed"]["decontamination:geo_quiz"] == 1
    assert stats["counters"]["decontamination:geo_quiz"] == 1
    assert stats["counters"]["pii:emails"] == 1
    assert stats["counters"]["pii:ips"] == 1
    assert stats["counters"]["pii:documents"] == 1
    assert stats["counters"]["pii:kept_private"] == 1
    names = [stage["name"] for stage in stats["stages"]]
    assert names.index("language") < names.index("decontamination") < names.index("heuristic_filters")
    assert names.index("quality_classifier") < names.index("pii") < names.index("dedup_signatures")

    rows = {row["url"]: row for row in data_rows(output)}
    assert set(rows) == {"https://rivers.example.org/report", "https://library.example.com/news"}
    report_text = rows["https://rivers.example.org/report"]["text"]
    assert "press.office@rivers-authority.co.uk" not in report_text and "151.101.65.140" not in report_text
    assert "email@example.com" in report_text and "22.214.171.124" in report_text
    assert "10.20.30.40" in report_text and "version 1.2.3.4" in report_text
    assert rows["https://rivers.example.org/report"]["sig_pii_emails"] == 1.0
    assert rows["https://rivers.example.org/report"]["sig_pii_ips"] == 1.0
    assert rows["https://library.example.com/news"]["sig_pii_emails"] == 0.0
    assert "decontamination_match" not in rows["https://library.example.com/news"]  # drop mode: not published

    ledger = ds.dataset(RunLayout(output).ledger_files(), format="parquet").to_table()
    removed = ledger.filter(pc.equal(ledger.column("removed"), "decontamination:geo_quiz")).to_pylist()
    assert [row["url"] for row in removed] == ["https://quiz.example.net/geography"]
    ngram = "which of the following best explains why the ice cap on the northern"
    assert removed[0]["decontamination_match"] == f"geo_quiz: {ngram}"
    assert removed[0]["sig_decontamination_ngrams"] == 18.0  # the question's 30 words: 18 13-grams

    review = RunLayout(output).review / "removed" / "decontamination__geo_quiz.jsonl"
    sample = json.loads(review.read_text(encoding="utf-8").splitlines()[0])
    assert sample["match"] == f"geo_quiz: {ngram}"
    page = RunLayout(output).report.read_text(encoding="utf-8")
    assert 'data-section="text-checks"' in page
    assert f"“{ngram}”" in page
    assert 'data-counter="pii:emails">1<' in page and 'data-counter="pii:kept_private">1<' in page
    assert f"matched: <b>geo_quiz: {ngram}</b>" in page


@pytest.mark.slow
def test_tag_modes_keep_every_page_and_publish_the_match_and_signals(ray_local, tmp_path):
    warc, bench = corpus(tmp_path)
    output = tmp_path / "out"
    stats = run_pipeline(
        [str(warc)], output, configured(bench, "tag", "tag"), report=False, log=lambda m: None
    )
    closes(stats, output)
    assert stats["documents_kept"] == 3
    assert not any(reason.startswith("decontamination") for reason in stats["removed"])
    assert stats["counters"]["decontamination:geo_quiz"] == 1 and stats["counters"]["pii:emails"] == 1
    rows = {row["url"]: row for row in data_rows(output)}
    quiz = rows["https://quiz.example.net/geography"]
    assert quiz["decontamination_match"].startswith("geo_quiz: which of the following best explains")
    assert quiz["sig_decontamination_ngrams"] == 18.0
    assert rows["https://library.example.com/news"]["decontamination_match"] is None
    report = rows["https://rivers.example.org/report"]
    assert "press.office@rivers-authority.co.uk" in report["text"]  # tag mode: text unchanged
    assert report["sig_pii_emails"] == 1.0
