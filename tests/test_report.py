"""The report and its distributions, from a run directory written the way a run writes it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawlsieve.core.layout import FINALIZE, RunLayout
from crawlsieve.dedup.cluster_facts import run_facts, write_facts
from crawlsieve.pipelines.cli import main as cli_main
from crawlsieve.pipelines.finalize import write_cluster_examples
from crawlsieve.quality.distributions import build_distributions, display_bins
from crawlsieve.quality.report import build_report, safe_href, script_json
from crawlsieve.quality.summaries import (
    GRID,
    GRID_BINS,
    Summary,
    extract_summary,
    file_summary,
    final_summary,
    grid_bins,
    write_summary,
)

PAYLOAD = "<script>alert(1)</script> <img src=x onerror=alert(2)> </script><b>bold</b>"
KEPT_TEXTS = [f"Kept article number {i}. " + "words " * (50 * (i + 1)) for i in range(5)]


def _write(path: Path, rows: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows), path)


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def write_run_dir(root: Path, *, records_read: int = 12, report: dict | None = None) -> Path:
    """A run directory with every file the report reads: 5 kept, 6 removed, 1 failed."""
    removed = {"gopher_quality:word_count": 3, "language:low_score": 2, "dedup:exact": 1}
    stats = {
        "records_read": records_read,
        "documents_kept": 5,
        "removed": removed,
        "failed": {"extract_timeout": 1},
        "accounting_closes": records_read == 12,
        "stages": [
            {"name": "read", "in": 12, "out": 12, "removed": {}, "failed": {}},
            {"name": "extract", "in": 12, "out": 11, "removed": {}, "failed": {"extract_timeout": 1}},
            {"name": "language", "in": 11, "out": 9, "removed": {"language:low_score": 2}, "failed": {}},
            {
                "name": "filters",
                "in": 9,
                "out": 6,
                "removed": {"gopher_quality:word_count": 3},
                "failed": {},
            },
            {"name": "dedup", "in": 6, "out": 5, "removed": {"dedup:exact": 1}, "failed": {}},
        ],
        "inputs": {
            "/warcs/a.warc.gz": {
                "records_read": 12,
                "documents_kept": 5,
                "removed": removed,
                "failed": {"extract_timeout": 1},
                "accounting_closes": True,
            }
        },
        "version": "0.1.0",
        "started": "2024-01-01T00:00:00+00:00",
        "duration_seconds": 1.5,
        "config": {"report": report or {}},
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
    mixture = {
        "groups": [
            {
                "domain": "news",
                "language": "en",
                "documents": 3,
                "tokens": 300,
                "bytes": 1500,
                "mean_quality": 0.8,
                "weight": 0.6,
            },
            {
                "domain": "forum",
                "language": "de",
                "documents": 2,
                "tokens": 200,
                "bytes": 1000,
                "mean_quality": 0.5,
                "weight": 0.4,
            },
        ],
        "totals": {"documents": 5, "tokens": 500, "bytes": 2500},
        "tokens_estimated": True,
    }
    (root / "mixture.json").write_text(json.dumps(mixture), encoding="utf-8")
    gopher = [
        {
            "id": f"g{i}",
            "url": url,
            "reason": "gopher_quality:word_count",
            "stage": "filters",
            "text": f"{PAYLOAD} short page {i}",
            "language": "en",
            "language_score": 0.9,
            "quality_score": None,
            "signals": {"sig_gopher_quality_word_count": 12.0 + i, "sig_c4_sentences": 1.0},
        }
        for i, url in enumerate(
            ["javascript:alert(3)", "https://ok.example/page", 'http://x.example/"onmouseover=1']
        )
    ]
    _jsonl(root / "review" / "removed" / "gopher_quality__word_count.jsonl", gopher)
    _jsonl(
        root / "review" / "removed" / "language__low_score.jsonl",
        [
            {
                "id": "l0",
                "url": "https://l.example/",
                "reason": "language:low_score",
                "stage": "language",
                "text": "zzz qqq",
                "language": "en",
                "language_score": 0.3,
                "quality_score": None,
                "signals": {},
            }
        ],
    )
    _jsonl(
        root / "review" / "kept.jsonl",
        [
            {
                "id": f"k{i}",
                "url": f"https://k.example/{i}",
                "reason": None,
                "stage": None,
                "text": t,
                "language": "en",
                "language_score": 0.95,
                "quality_score": 0.7,
                "signals": {},
            }
            for i, t in enumerate(KEPT_TEXTS)
        ],
    )
    _write(
        RunLayout(root).ledger("a", "extract"),
        {
            "id": ["g0", "g1", "g2", "l0", "l1", "f0"],
            "stage": ["filters", "filters", "filters", "language", "language", "extract"],
            "removed": ["gopher_quality:word_count"] * 3 + ["language:low_score"] * 2 + [None],
            "failed": [None] * 5 + ["extract_timeout"],
            "url": [
                "javascript:alert(3)",
                "https://ok.example/page",
                "http://x.example/",
                "https://l.example/",
                "https://l2.example/",
                "https://f.example/",
            ],
            "text": [f"{PAYLOAD} short page {i}" for i in range(3)] + ["zzz qqq", "yyy", None],
            "language_score": [0.9, 0.9, 0.9, 0.3, 0.2, None],
            "sig_gopher_quality_word_count": [12.0, 13.0, 14.0, None, None, None],
        },
    )
    _write(
        RunLayout(root).ledger("a", FINALIZE),
        {  # dedup removals: no signal columns at all
            "id": ["k0-copy"],
            "stage": ["dedup"],
            "removed": ["dedup:exact"],
            "failed": pa.array([None], pa.string()),
            "url": ["https://copy.example/"],
            "text": [KEPT_TEXTS[0]],
            "language_score": [0.95],
        },
    )
    _write(
        root / "data" / "domain=news" / "language=en" / "part-a-0.parquet",
        {
            "id": [f"k{i}" for i in range(5)],
            "text": KEPT_TEXTS,
            "url": [f"https://k.example/{i}" for i in range(5)],
            "site": ["k.example", "k.example", "k.example", "other.example", "<b>evil</b>.example"],
            "language_score": [0.95, 0.9, 0.85, 0.99, 0.97],
            "quality_score": [0.7, 0.6, 0.8, 0.9, 0.5],
            "token_count": pa.array([60, 110, 160, 210, 260], pa.int64()),
            "dup_cluster_size": pa.array([2, 1, 1, 1, 1], pa.int64()),
        },
    )
    # What the dedup step and finalize write for the duplicates section.
    decided = pa.table(
        {
            "id": ["k0", "k0-copy", "k1"],
            "kept": [True, False, True],
            "cluster_id": ["c1", "c1", "k1"],
            "dup_cluster_size": pa.array([2, 2, 1], pa.int64()),
            "shard": ["a", "a", "a"],
        }
    )
    write_facts(RunLayout(root), run_facts(decided, clusters_shown=4, members_shown=4))
    docs = pa.table(
        {
            "id": ["k0", "k0-copy", "k1"],
            "url": ["https://k.example/0", "https://copy.example/", "https://k.example/1"],
            "text": [KEPT_TEXTS[0], KEPT_TEXTS[0], KEPT_TEXTS[1]],
        }
    )
    write_cluster_examples(docs, "a", RunLayout(root), chars=600)
    write_summaries(root, "a", "/warcs/a.warc.gz", records_read)
    return root


def write_summaries(root: Path, shard: str, warc_path: str, records_read: int) -> None:
    """The per-file summaries the run's tasks write, from the files above (as the tasks do)."""
    kept = pq.read_table(root / "data" / "domain=news" / "language=en" / f"part-{shard}-0.parquet")
    kept = kept.append_column("domain", pa.array(["news"] * kept.num_rows)).append_column(
        "language", pa.array(["en"] * kept.num_rows)
    )
    layout = RunLayout(root)
    summary, review = extract_summary(
        shard, warc_path, records_read, None, pq.read_table(layout.ledger(shard, "extract")), 20
    )
    extract_path, extract_review = layout.summary(shard, "extract"), layout.review_rows(shard, "extract")
    write_summary(summary, review, extract_path, extract_review)
    final, rows = final_summary(shard, warc_path, kept, pq.read_table(layout.ledger(shard, FINALIZE)), 20)
    whole, rows = file_summary(Summary.read(extract_path), pq.read_table(extract_review), final, rows)
    write_summary(whole, rows, layout.summary(shard, FINALIZE), layout.review_rows(shard, FINALIZE))


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run_dir(tmp_path / "run")


def test_distributions_count_each_kept_and_removed_document_once(run_dir: Path) -> None:
    result = build_distributions(run_dir)
    score = result["columns"]["language_score"]["groups"]
    assert score["kept"]["n"] == 5 and sum(score["kept"]["counts"]) == 5
    # six removed ledger rows carry a language score; the failed row is not "removed"
    assert score["removed"]["n"] == 6 and sum(score["removed"]["counts"]) == 6
    per_stage = {g: v["n"] for g, v in score.items() if g.startswith("removed:")}
    assert per_stage == {"removed:dedup": 1, "removed:filters": 3, "removed:language": 2}
    assert score["kept"]["mean"] == pytest.approx(sum([0.95, 0.9, 0.85, 0.99, 0.97]) / 5)
    assert (
        json.loads((run_dir / "distributions.json").read_text())["columns"].keys() == result["columns"].keys()
    )


def test_signals_only_in_some_ledger_files_are_read_per_file(run_dir: Path) -> None:
    signal = build_distributions(run_dir)["columns"]["sig_gopher_quality_word_count"]
    assert signal["groups"]["removed"]["n"] == 3
    assert (signal["groups"]["removed"]["min"], signal["groups"]["removed"]["max"]) == (12.0, 14.0)
    assert "kept" not in signal["groups"]  # DIR/data does not keep this signal and there is no _work/docs


def test_document_length_histogram_uses_log_bins_for_long_texts(run_dir: Path) -> None:
    length = build_distributions(run_dir)["columns"]["text_chars"]
    assert length["scale"] == "log" and length["edges"][0] == 1
    assert length["groups"]["kept"]["max"] == len(KEPT_TEXTS[-1])
    assert length["edges"][-2] <= len(KEPT_TEXTS[-1]) < length["edges"][-1]
    assert sum(length["groups"]["kept"]["counts"]) == 5


def test_the_grid_bins_shares_like_numpy_and_everything_else_on_log_bins() -> None:
    shares = np.array([0.0, 0.024, 0.025, 0.5, 0.999, 1.0])
    counts = np.bincount(grid_bins(shares), minlength=GRID_BINS)
    edges, shown, scale = display_bins(counts, 0.0, 1.0)
    assert scale == "linear" and edges == pytest.approx(np.linspace(0, 1, 41).tolist())
    assert shown == np.histogram(shares, bins=np.linspace(0, 1, 41))[0].tolist()
    edges, shown, scale = display_bins(
        np.bincount(grid_bins(np.array([0.0, 3.0, 999.0])), minlength=GRID_BINS), 0, 999
    )
    assert scale == "log" and edges[0] == 1 and edges[-2] <= 999 < edges[-1] and sum(shown) == 3
    assert grid_bins(np.array([-5.0, 2e12]))[0] < grid_bins(np.array([0.0]))[0] and GRID[-1] == 1e9


def test_duplicates_pair_the_kept_document_with_its_removed_copy(run_dir: Path) -> None:
    duplicates = build_distributions(run_dir)["duplicates"]
    assert duplicates["size_counts"] == {"2": 1}
    [cluster] = duplicates["clusters"]
    assert [(m["id"], m["kept"]) for m in cluster["members"]] == [("k0", True), ("k0-copy", False)]
    assert cluster["members"][1]["url"] == "https://copy.example/"
    assert cluster["members"][0]["text"].startswith("Kept article number 0.")


def test_top_sites_rank_sites_by_kept_documents(run_dir: Path) -> None:
    assert build_distributions(run_dir)["top_sites"][0] == ["k.example", 3]


def test_report_has_every_section_and_shows_the_accounting_closing(run_dir: Path) -> None:
    build_distributions(run_dir)
    page = build_report(run_dir).read_text(encoding="utf-8")
    for section in ("funnel", "removed", "distributions", "mixture", "duplicates", "inputs"):
        assert f'data-section="{section}"' in page
    assert 'data-closes="true"' in page and "Accounting closes" in page
    assert "gopher_quality:word_count" in page and "extract_timeout" in page
    assert "word_count = <b>12</b>" in page  # the rule's own signal value next to its example


def test_report_flags_accounting_that_does_not_close_in_red(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run", records_read=13)
    page = build_report(run_dir).read_text(encoding="utf-8")
    assert 'class="check bad"' in page and 'data-closes="false"' in page
    assert "does NOT close (off by 1)" in page


def test_report_escapes_page_text_and_never_links_javascript_urls(run_dir: Path) -> None:
    build_distributions(run_dir)
    page = build_report(run_dir).read_text(encoding="utf-8")
    assert PAYLOAD not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;" in page
    assert len(re.findall(r"<script\b", page, re.IGNORECASE)) == 3  # charts JSON, plotly.js, the boot script
    assert len(re.findall(r"</script", page, re.IGNORECASE)) == 3
    assert 'href="javascript:' not in page.lower()
    assert '<span class="url">javascript:alert(3)</span>' in page
    assert '<a class="url" href="https://ok.example/page"' in page
    assert 'onmouseover=1"' not in page  # a URL with a quote is shown as text, escaped
    charts = re.search(r'<script type="application/json" id="report-charts">(.*?)</script>', page, re.S)
    assert "&lt;b&gt;evil&lt;/b&gt;.example" in json.loads(charts.group(1))["mix-sites"]["data"][0]["y"][0:5]


def test_script_json_cannot_end_its_script_element() -> None:
    value = {"text": "</script><script>alert(1)</script><!-- & \u2028 \u2029"}
    encoded = script_json(value)
    assert not set("<>&\u2028\u2029") & set(encoded)
    assert json.loads(encoded) == value


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://example.com/a?b=c", True),
        ("http://example.com/", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("java\tscript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("vbscript:msgbox(1)", False),
        ('https://example.com/"><script>', False),
        ("//example.com/", False),
        (None, False),
    ],
)
def test_only_http_urls_become_links(url, linked: bool) -> None:
    assert (safe_href(url) is not None) is linked


def test_report_is_self_contained(run_dir: Path) -> None:
    page = build_report(run_dir).read_text(encoding="utf-8")
    assert not re.search(r"<(script|img|iframe|link)\b[^>]*\b(src|href)=", page, re.IGNORECASE)
    assert "connect-src 'none'" in page  # the CSP forbids fetches even if a script tried one


def test_report_settings_come_from_the_runs_config(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run", report={"examples_per_reason": 1, "example_text_chars": 60})
    page = build_report(run_dir).read_text(encoding="utf-8")
    block = page.split('data-reason="gopher_quality:word_count"')[1].split("</details>")[0]
    assert block.count('class="example"') == 1
    assert "(1 example)" in block and " …</div>" in block


def test_report_command_rebuilds_the_report_and_refuses_a_non_run_dir(run_dir: Path, capsys) -> None:
    assert cli_main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").stat().st_size > 1_000_000  # plotly.js inlined
    assert (run_dir / "distributions.json").is_file()
    assert cli_main(["report", str(run_dir.parent / "nothing")]) == 2
    assert "holds no stats.json" in capsys.readouterr().err


def test_report_builds_without_distributions_or_mixture(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run")
    (run_dir / "mixture.json").unlink()
    page = build_report(run_dir).read_text(encoding="utf-8")
    assert "No mixture.json in this run." in page and "No distributions.json" in page


def test_report_prices_the_dump_projection_when_a_price_is_configured(tmp_path: Path) -> None:
    from crawlsieve.quality.config import ReportConfig
    from crawlsieve.quality.stats import cost

    run_dir = write_run_dir(tmp_path / "run")
    stats = json.loads((run_dir / "stats.json").read_text())
    report = ReportConfig(price_per_core_hour=0.02, currency="EUR")
    stats["cost"] = cost({"extract": 30.0, "read": 6.0, "driver": 4.0}, 12, report)
    (run_dir / "stats.json").write_text(json.dumps(stats))
    assert stats["cost"]["core_seconds_per_1000_pages"] == pytest.approx(40_000 / 12, rel=1e-3)
    assert stats["cost"]["dump"]["cost"] == pytest.approx(40 / 12 * 3e9 / 3600 * 0.02, rel=1e-3)
    page = build_report(run_dir).read_text(encoding="utf-8")
    assert "core-hours" in page and "EUR at 0.02 EUR per core-hour" in page
    assert '<td>extract</td><td class="n">30.0</td><td class="n">75.0%</td>' in page


def test_pii_and_contamination_show_only_when_a_run_counted_them(run_dir: Path, tmp_path: Path) -> None:
    assert 'data-section="text-checks"' not in build_report(run_dir).read_text(encoding="utf-8")
    stats = json.loads(RunLayout(run_dir).stats.read_text(encoding="utf-8"))
    stats["counters"] = {"pii:emails": 7, "pii:ips": 2, "pii:documents": 4, "decontamination:mmlu": 1}
    stats["removed"]["decontamination:mmlu"] = 1
    RunLayout(run_dir).stats.write_text(json.dumps(stats), encoding="utf-8")
    ngram = "which of the following <b>best</b> explains why the ice cap melted"
    _jsonl(
        RunLayout(run_dir).review / "removed" / "decontamination__mmlu.jsonl",
        [
            {
                "id": "d0",
                "url": "https://quiz.example/",
                "reason": "decontamination:mmlu",
                "text": "Quiz",
                "signals": {"sig_decontamination_ngrams": 3.0},
                "match": f"mmlu: {ngram}",
            }
        ],
    )
    page = build_report(run_dir).read_text(encoding="utf-8")
    assert 'data-section="text-checks"' in page and "E-mail and IP addresses replaced" in page
    assert 'data-counter="pii:emails">7<' in page and 'data-counter="pii:kept_private">0<' in page
    escaped = ngram.replace("<", "&lt;").replace(">", "&gt;")
    assert f"“{escaped}”" in page and "<b>best</b>" not in page
    assert f"matched: <b>mmlu: {escaped}</b>" in page


def test_report_lists_the_most_repeated_lines_of_sub_document_dedup(tmp_path: Path) -> None:
    run_dir = write_run_dir(tmp_path / "run")
    stats_path = RunLayout(run_dir).stats
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    stats["subdoc"] = {
        "unit": "line",
        "mode": "remove",
        "min_docs": 2,
        "units_repeated": 2,
        "unit_copies_cut": 1205,
        "top_units": [
            {"text": "We use cookies <b>to</b> improve your experience.", "documents": 1200},
            {"text": "Home | News | Sport | Contact", "documents": 7},
        ],
    }
    stats_path.write_text(json.dumps(stats), encoding="utf-8")
    page = build_report(run_dir).read_text(encoding="utf-8")
    table = page.split('class="subdoc-units"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<td class="n">([^<]*)</td><td class="text">([^<]*)</td>', table)
    assert rows == [
        ("1,200", "We use cookies &lt;b&gt;to&lt;/b&gt; improve your experience."),
        ("7", "Home | News | Sport | Contact"),
    ]
    assert "2 lines found in 2 or more documents; 1,205 copies cut" in page


def test_report_has_no_repeated_lines_table_without_sub_document_dedup(run_dir: Path) -> None:
    assert 'class="subdoc-units"' not in build_report(run_dir).read_text(encoding="utf-8")


def _summarize_file(root: Path, shard: str, extract_ledger: dict, final_ledger: dict, kept: dict) -> int:
    """One input file's summaries, written as its tasks write them; returns its records read."""
    layout = RunLayout(root)
    extract_table, final_table, kept_table = pa.table(extract_ledger), pa.table(final_ledger), pa.table(kept)
    summary, review = extract_summary(shard, f"/warcs/{shard}.warc.gz", 0, None, extract_table, 20)
    summary.records_read = extract_table.num_rows + final_table.num_rows + kept_table.num_rows
    extract_path, extract_review = layout.summary(shard, "extract"), layout.review_rows(shard, "extract")
    write_summary(summary, review, extract_path, extract_review)
    final, rows = final_summary(shard, summary.warc_path, kept_table, final_table, 20)
    whole, rows = file_summary(Summary.read(extract_path), pq.read_table(extract_review), final, rows)
    write_summary(whole, rows, layout.summary(shard, FINALIZE), layout.review_rows(shard, FINALIZE))
    return summary.records_read


def _ledger(rows: list[tuple[str, str, str | None, str | None, str | None]]) -> dict:
    """Ledger columns from (id, stage, removed, failed, language) rows."""
    names = ("id", "stage", "removed", "failed", "language")
    return {name: pa.array([row[i] for row in rows], pa.string()) for i, name in enumerate(names)}


def _kept(shard: str, languages: list[str]) -> dict:
    n = len(languages)
    return {
        "id": [f"{shard}-k{i}" for i in range(n)],
        "text": ["kept words"] * n,
        "domain": ["news"] * n,
        "language": languages,
        "token_count": pa.array([2] * n, pa.int64()),
    }


def test_the_funnel_per_language_adds_up_to_the_runs_funnel(tmp_path: Path, monkeypatch) -> None:
    """Issue 21: per language, what was kept and why the rest went; pages removed before language
    identification are the row "(none)", and requests and damaged stretches are not pages."""
    from crawlsieve.quality import summaries
    from crawlsieve.quality.stats import build_stats

    monkeypatch.setattr(summaries, "FILES_PER_MERGE_TASK", 1)  # the partial-merge path too
    root = tmp_path / "run"
    read = _summarize_file(
        root,
        "a",
        _ledger(
            [
                *((f"a-r{i}", "http", "not_response", None, None) for i in range(3)),
                ("a-s", "http", "http_status", None, None),
                ("a-c", "read", None, "corrupt_warc", None),
                ("a-t", "extract", None, "extract_timeout", None),
                ("a-l1", "language", "language:low_score", None, "zh"),
                ("a-l2", "language", "language:low_score", None, "de"),
                ("a-g1", "filters", "gopher_quality:word_count", None, "en"),
                ("a-g2", "filters", "gopher_quality:word_count", None, "zh"),
            ]
        ),
        _ledger([("a-d", "dedup", "dedup:exact", None, "en")]),
        _kept("a", ["en", "en", "zh"]),
    )
    read += _summarize_file(
        root,
        "b",
        _ledger(
            [
                ("b-q", "http", "not_response", None, None),
                ("b-g", "filters", "gopher_quality:word_count", None, "zh"),
            ]
        ),
        _ledger([]),
        _kept("b", ["zh", "de"]),
    )
    stats = build_stats(root, ["read", "http", "extract", "language", "filters", "dedup"])
    assert stats["records_read"] == read == 18 and stats["accounting_closes"]
    languages = stats["breakdowns"]["language"]
    assert list(languages) == ["(none)", "zh", "en", "de"]  # by records, the most first
    assert languages["zh"] == {
        "records_read": 5,
        "pages_read": 5,
        "documents_kept": 2,
        "removed": {"gopher_quality:word_count": 2, "language:low_score": 1},
        "failed": {},
    }
    none = languages["(none)"]
    assert none["records_read"] == 7 and none["pages_read"] == 2 and none["documents_kept"] == 0
    assert none["removed"] == {"not_response": 4, "http_status": 1}
    # the per-language funnels add up to the run's, count by count
    for key in ("records_read", "pages_read", "documents_kept"):
        assert sum(v[key] for v in languages.values()) == stats[key], key
    for key in ("removed", "failed"):
        added: dict = {}
        for v in languages.values():
            for reason, n in v[key].items():
                added[reason] = added.get(reason, 0) + n
        assert added == stats[key], key

    page = build_report(root).read_text(encoding="utf-8")
    cells = re.findall(
        r'<tr data-value="([^"]+)"><td>(?:<b>)?[^<]+(?:</b>)?</td>'
        r'<td class="n pages">(\d+)</td><td class="n">(\d+)</td>',
        page,
    )
    rows = {value: (int(pages), int(kept)) for value, pages, kept in cells}
    assert rows == {"zh": (5, 2), "en": (4, 2), "de": (2, 1), "(none)": (2, 0), "all": (13, 5)}
    assert stats["pages_read"] == 13 and stats["documents_kept"] == 5
    assert "Funnel per language" in page and "removed before their language was known" in page
    assert "gopher_quality:word_count 2 (40.0%)" in page  # zh's main reason, of its 5 pages
    # the reasons chart counts pages; the records that are not pages are named beside it
    charts = json.loads(re.search(r'id="report-charts"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert "not_response" not in charts["reasons"]["data"][0]["y"]
    assert "failed:corrupt_warc" not in charts["reasons"]["data"][0]["y"]
    assert "gopher_quality:word_count" in charts["reasons"]["data"][0]["y"]
    assert "records but not pages (see the funnel): not_response 4, failed:corrupt_warc 1." in page
    bars = charts["funnel-language"]["data"]
    assert bars[0]["name"] == "kept" and bars[0]["x"] == [0, 1, 2, 2]  # (none), de, en, zh: bottom up


def test_the_funnel_per_language_names_the_thresholds_that_judged_each_language(run_dir: Path) -> None:
    stats = json.loads(RunLayout(run_dir).stats.read_text(encoding="utf-8"))
    funnel = {
        "records_read": 4,
        "pages_read": 4,
        "documents_kept": 3,
        "removed": {"c4:policy": 1},
        "failed": {},
    }
    stats["breakdowns"] = {"language": {"zh": funnel, "en": funnel}}
    stats["language_settings"] = {"zh": {"fineweb2:cmn_Hani + config": 3}, "en": {"crawlsieve default": 4}}
    RunLayout(run_dir).stats.write_text(json.dumps(stats), encoding="utf-8")
    page = build_report(run_dir).read_text(encoding="utf-8")
    assert "<th>thresholds</th>" in page
    assert '<tr data-value="zh"><td>zh</td><td class="settings">fineweb2:cmn_Hani + config</td>' in page
    assert '<tr data-value="en"><td>en</td><td class="settings">crawlsieve default</td>' in page
