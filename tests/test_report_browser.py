"""The report of a real pipeline run, opened in real headless Chromium (Debian's `chromium`).

Two real runs: one over shared-corpus and generated sample WARCs, one over a WARC whose
pages carry script-injection payloads. Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import html
import io
from contextlib import contextmanager
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SECTIONS = ("funnel", "removed", "distributions", "mixture", "duplicates", "inputs")
PAYLOADS = [
    "<script>alert('xss-script')</script>",
    "<img src=x onerror=\"alert('xss-img')\">",
    "</script><script>document.title='pwned'</script>",
    "<a href=\"javascript:alert('xss-link')\">click me</a>",
]
INJECTION_URL = "javascript:alert('xss-url')//"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (apt-get install -y chromium chromium-driver)",
    ),
]


def injection_page(index: int) -> bytes:
    """An English article whose visible text starts with the payloads (HTML-escaped in the source,
    so the extracted text holds them literally, as a page quoting code would)."""
    topics = ["library", "harbour", "museum", "orchestra", "bakery", "river", "school", "market"]
    sentences = " ".join(
        f"Our reporter visited the {topic} on day {index + n} and wrote about what the {topic} plans next."
        for n, topic in enumerate(topics)
    )
    quoted = "".join(
        f"<p>Example {i}: {html.escape(p)} is how the attack looked.</p>" for i, p in enumerate(PAYLOADS)
    )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Security notes {index}</title></head>"
        f"<body><article><h1>Security notes {index}</h1>{quoted}<p>{sentences}</p></article></body></html>"
    )
    return page.encode("utf-8")


def write_injection_warc(path: Path) -> Path:
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    pages = [(f"https://security.example/notes/{i}", injection_page(i)) for i in range(3)]
    pages.append((INJECTION_URL, injection_page(7)))
    for url, payload in pages:
        headers = StatusAndHeaders(
            "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
        )
        record = writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=headers)
        writer.write_record(record)
    path.write_bytes(buffer.getvalue())
    return path


def run_and_report(warcs: list[Path], output: Path) -> Path:
    """The real pipeline over `warcs`; returns the report it wrote."""
    from crawlsieve.pipelines.config import Config
    from crawlsieve.pipelines.run import run_pipeline

    stats = run_pipeline([str(p) for p in warcs], output, Config(), log=lambda _: None)
    assert stats["records_read"] > 0 and stats["accounting_closes"]
    report = output / "report.html"
    assert report.is_file(), "the run did not write report.html"
    return report


@pytest.fixture(scope="module")
def sample_run_report(tmp_path_factory, ray_local, shared_corpus: Path) -> Path:
    """Real pages (two files of the shared corpus) and the generated samples, whose junk pages,
    near-duplicates and broken records exercise removals, duplicates and failures; and spam built
    on real Chinese articles (gambling SEO, ads, adult link farms) beside near-misses."""
    from spam_pages import ad_and_adult_pages, corpus_articles, injected_pages, near_miss_pages, write_pages

    from crawlsieve.samples.warcs import generate_sample_warcs

    root = tmp_path_factory.mktemp("sample-run")
    real = [shared_corpus / "warc" / name for name in ("articles-00.warc.gz", "webpages-00.warc.gz")]
    generated = generate_sample_warcs(root / "warcs", files=2, pages_per_file=16)
    spam = injected_pages(corpus_articles(shared_corpus, "zh")[:4], "zh") + ad_and_adult_pages("en", 2)
    spam_warc = write_pages(root / "warcs" / "spam.warc.gz", spam + near_miss_pages())
    return run_and_report([*real, *generated, spam_warc], root / "out")


@pytest.fixture(scope="module")
def injection_run_report(tmp_path_factory, ray_local) -> Path:
    root = tmp_path_factory.mktemp("injection-run")
    return run_and_report([write_injection_warc(root / "injection.warc.gz")], root / "out")


@contextmanager
def open_report(report: Path):
    """The report open in Chromium, with the requests, dialogs and script errors it caused."""
    from playwright.sync_api import sync_playwright

    requests, dialogs, errors = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda request: requests.append(request.url))
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(report.as_uri(), wait_until="load")
            page.wait_for_function("document.body.getAttribute('data-charts-drawn') !== null")
            yield page, requests, dialogs, errors
        finally:
            browser.close()


def screenshot(page, name: str, selector: str | None = None) -> Path:
    """The whole page, or the element ``selector`` picks."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    if selector:
        page.locator(selector).screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


@pytest.mark.slow
def test_report_of_a_run_renders_every_section_with_charts_and_no_network(sample_run_report: Path) -> None:
    with open_report(sample_run_report) as (page, requests, _, errors):
        for section in SECTIONS:
            charts = page.locator(f"section#{section} .js-plotly-plot")
            assert charts.count() >= 1, f"section {section} drew no chart"
            assert page.locator(f"section#{section} .js-plotly-plot svg.main-svg").count() >= 1
        assert page.locator(".chart-fallback").count() == 0  # every chart drawn
        assert page.locator("#accounting.ok").is_visible()
        assert page.locator("section#removed table.reasons tr").count() >= 2
        assert page.locator("section#distributions .distribution").count() >= 2
        # the funnel per language: drawn, a row per language and one for pages that never got one,
        # adding up to the pages the funnel counts
        assert page.locator('section#funnel [data-chart="funnel-language"] svg.main-svg').count() >= 1
        rows = page.locator('section#funnel table.breakdown[data-column="language"] tr[data-value]')
        values = rows.evaluate_all("rows => rows.map(row => row.dataset.value)")
        assert {"en", "(none)"} <= set(values) and values[-1] == "all", values
        pages = rows.evaluate_all(
            "rows => rows.map(row => Number(row.querySelector('td.pages').textContent.replace(/,/g, '')))"
        )
        # the thresholds that judged each language's pages are named beside its counts
        english = rows.and_(page.locator('[data-value="en"]')).locator("td.settings")
        assert english.inner_text() == "crawlsieve default"
        assert (
            sum(pages[:-1]) == pages[-1] == int(page.locator("#pages b").first.inner_text().replace(",", ""))
        )
        assert page.locator("#funnel-language").is_visible()
        assert "not_response" in page.locator("#not-pages").inner_text()
        screenshot(page, "report-funnel.png", "section#funnel")
        assert errors == []
        assert requests == [sample_run_report.as_uri()], f"the report made network requests: {requests[1:]}"
        assert screenshot(page, "report.png").stat().st_size > 10_000


@pytest.mark.slow
def test_injected_page_text_shows_as_text_and_runs_nothing(injection_run_report: Path) -> None:
    with open_report(injection_run_report) as (page, requests, dialogs, errors):
        title = page.title()
        for details in page.locator("details.reason-examples").all():
            details.evaluate("element => { element.open = true; }")
        page.wait_for_timeout(300)
        assert dialogs == [] and errors == []
        assert page.title() == title == "crawlsieve report"
        assert page.evaluate("document.querySelectorAll('main script, main img, main iframe').length") == 0
        text = page.locator("main").inner_text()
        for payload in PAYLOADS:
            assert payload in text, f"payload not shown as text: {payload}"
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
        assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")]
        assert page.locator("span.url", has_text="javascript:alert").count() >= 1  # shown, not linked
        assert requests == [injection_run_report.as_uri()]
        screenshot(page, "report-injection.png")


@pytest.mark.slow
def test_report_lists_spam_and_safety_tags_with_counts_and_examples(sample_run_report: Path) -> None:
    with open_report(sample_run_report) as (page, requests, _, errors):
        section = page.locator("section#spam")
        assert section.is_visible()
        assert section.locator("table.spam tr[data-category]").count() == 4
        assert int(section.locator("td[data-removed=gambling_seo]").inner_text().replace(",", "")) >= 3
        kept = sum(
            int(section.locator(f"td[data-kept={tag}]").inner_text().replace(",", ""))
            for tag in ("gambling", "adult", "ads")
        )
        assert kept >= 2  # the near-misses about betting, the ad pages
        for details in section.locator("details.spam-examples").all():
            details.evaluate("element => { element.open = true; }")
        removed = section.locator("details[data-category=gambling_seo] .example .tag.removed")
        assert removed.count() >= 1 and section.locator(".example .tag.kept").count() >= 2
        assert "sig_spam_gambling_seo" not in section.inner_text()  # shown as spam_gambling_seo = …
        assert "spam_gambling_seo" in section.inner_text()
        assert errors == [] and requests == [sample_run_report.as_uri()]
        ARTIFACTS.mkdir(exist_ok=True)
        section.screenshot(path=str(ARTIFACTS / "report-spam.png"))
