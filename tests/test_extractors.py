"""The extractor registry: trafilatura by default, resiliparse as the optional faster choice."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from crawlsieve.core.errors import ConfigError
from crawlsieve.ingest.config import ExtractConfig, ReadConfig
from crawlsieve.ingest.decode import decode_html
from crawlsieve.ingest.extract import ExtractStage
from crawlsieve.ingest.extractors import make_extractor
from crawlsieve.ingest.warc import HttpCheckStage, read_warc


def html_responses(warc: Path) -> pa.Table:
    """The HTML 200 responses of one WARC file, as the extract stage receives them."""
    read = ReadConfig()
    check = HttpCheckStage(read)
    batches = [check(b) for b in read_warc(str(warc), warc.name, read)]
    table = pa.concat_tables(batches)
    return table.filter(table.column("_removed").is_null()).drop_columns(["_removed", "_failed", "_error"])


def token_f1(predicted: str, truth: str) -> float:
    got, want = Counter(re.findall(r"\w+", predicted.lower())), Counter(re.findall(r"\w+", truth.lower()))
    overlap = sum((got & want).values())
    return 0.0 if not overlap else 2 * overlap / (sum(got.values()) + sum(want.values()))


def test_trafilatura_extractor_gives_exactly_the_direct_trafilatura_call(shared_corpus):
    """The registry changed no output: same text as calling trafilatura with the config's options."""
    import trafilatura

    config = ExtractConfig()
    extractor = make_extractor(config)
    pages = html_responses(shared_corpus / "warc" / "webpages-03.warc.gz").slice(0, 12)
    compared = 0
    for payload, charset in zip(
        pages.column("html").to_pylist(), pages.column("http_charset").to_pylist(), strict=True
    ):
        html = decode_html(payload, charset)[0]
        direct = trafilatura.extract(
            html,
            favor_precision=config.favor_precision,
            favor_recall=config.favor_recall,
            include_comments=config.include_comments,
            include_tables=config.include_tables,
            include_links=config.include_links,
            deduplicate=config.deduplicate,
            with_metadata=False,
            output_format="txt",
        )
        assert extractor(html) == direct
        compared += bool(direct)
    assert compared >= 8


def test_unknown_extractor_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown extractor 'boilerpipe'"):
        make_extractor(ExtractConfig(), "boilerpipe")


def test_config_refuses_an_extractor_it_does_not_know():
    with pytest.raises(ValueError, match="extractor"):
        ExtractConfig(extractor="boilerpipe")


def test_resiliparse_extracts_the_main_text_of_real_articles(shared_corpus):
    pytest.importorskip("resiliparse", reason="resiliparse is optional: pip install crawlsieve[resiliparse]")
    truth = {
        case["url"]: case["text"]
        for case in map(json.loads, (shared_corpus / "extraction" / "ground_truth.jsonl").open())
    }
    extractor = make_extractor(ExtractConfig(extractor="resiliparse"))
    pages = html_responses(shared_corpus / "warc" / "articles-01.warc.gz")
    scores = []
    for url, payload, charset in zip(
        pages.column("url").to_pylist(),
        pages.column("html").to_pylist(),
        pages.column("http_charset").to_pylist(),
        strict=True,
    ):
        if url in truth:
            scores.append(token_f1(extractor(decode_html(payload, charset)[0]) or "", truth[url]))
    assert len(scores) >= 50
    assert sum(scores) / len(scores) > 0.85  # measured 0.93 over all 121 articles
    assert extractor("<html><body><script>var x = 1;</script></body></html>") is None


def test_extract_stage_runs_the_configured_extractor(shared_corpus):
    pytest.importorskip("resiliparse", reason="resiliparse is optional: pip install crawlsieve[resiliparse]")
    pages = html_responses(shared_corpus / "warc" / "webpages-02.warc.gz").slice(0, 10)
    by_trafilatura = ExtractStage(ExtractConfig())(pages).column("text").to_pylist()
    by_resiliparse = ExtractStage(ExtractConfig(extractor="resiliparse"))(pages).column("text").to_pylist()
    assert sum(t is not None for t in by_resiliparse) >= 8
    assert by_resiliparse != by_trafilatura


def test_extract_stage_adds_each_pages_title_and_short_link_texts(shared_corpus):
    """The spam filter reads the <title> and the link texts, which the main text leaves out."""
    pages = html_responses(shared_corpus / "multilingual" / "warc" / "magichtml-00.warc.gz").slice(0, 20)
    out = ExtractStage(ExtractConfig())(pages)
    titles, anchors = out.column("title").to_pylist(), out.column("anchors").to_pylist()
    assert sum(bool(t) for t in titles) >= 18
    assert any(re.search(r"[\u4e00-\u9fff]", t or "") for t in titles)  # Chinese titles decoded
    assert sum(bool(a) for a in anchors) >= 15
    for links in filter(None, anchors):
        assert all(0 < len(line) <= 60 and line == line.strip() for line in links.split("\n"))


def test_title_and_link_texts_are_unescaped_and_cut_and_hostile_html_costs_linear_time():
    from crawlsieve.ingest.extractors import ANCHORS_KEPT, title_and_anchors

    page = (
        "<html><head><title>\n Lottery law &amp;  order_Site </title></head><body>"
        "<a href='/1'>欧宝<b>体育</b></a> <A HREF=2>\n Bet365 \n</A> <a href=3>" + "long " * 30 + "</a>"
        "<a href=4></a></body></html>"
    )
    assert title_and_anchors(page) == ("Lottery law & order_Site", "欧宝体育\nBet365")
    many = "".join(f"<a href='/{i}'>link {i}</a>" for i in range(1000))
    links = title_and_anchors(many)[1].split("\n")
    assert len(links) == ANCHORS_KEPT and links[0] == "link 0" and links[-1] == "link 999"
    assert title_and_anchors("<p>no title, no links</p>") == (None, None)
    # Unclosed tags by the hundred thousand: each pattern is bounded, so this ends in well under
    # a second (the timeout only proves it does not hang).
    for hostile in ("<a " * 300_000, "<a>" + "x" * 1_000_000, "<a><b" * 200_000, "<title>" + "y" * 10**6):
        title_and_anchors(hostile)
