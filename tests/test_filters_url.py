"""The URL blocklist stage before extraction, over datatrove's bundled lists (offline)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from crawlsieve.filters.config import UrlFilterConfig
from crawlsieve.filters.url_blocklist import UrlBlocklistStage


def judge(urls: list[str], config: UrlFilterConfig | None = None) -> pa.Table:
    return UrlBlocklistStage(config or UrlFilterConfig())(pa.table({"url": urls}))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://0-1avsex.com/index.html", "url:blocklist"),  # on the bundled domain list
        ("http://www.0-1sex.com/page", "url:blocklist"),  # subdomain of a listed domain
        ("https://example.org/blog/bukkake-videos", "url:banned_word"),
        ("https://example.org/hot-babes-with-boobs", "url:soft_words"),
        ("https://example.org/barely-legal-story", "url:banned_subword"),
        ("https://www.bbc.co.uk/news/world-europe-123", None),
        ("https://de.wikipedia.org/wiki/Essex", None),
        ("", None),
        ("not a url at all", None),
    ],
)
def test_urls_are_judged_by_the_bundled_lists(url, reason):
    out = judge([url])
    assert out.column("_removed")[0].as_py() == reason
    assert out.schema.field("sig_url_soft_words").type == pa.float64()


def test_extra_domains_and_words_from_the_config_are_blocked():
    config = UrlFilterConfig(
        extra_domains=["spam-example.net"], extra_words=["casinobonus"], use_integrated_lists=False
    )
    out = judge(
        ["https://a.spam-example.net/x", "https://ok.example/casinobonus/x", "https://ok.example/x"], config
    )
    assert out.column("_removed").to_pylist() == ["url:blocklist", "url:banned_word", None]


def test_tag_mode_keeps_blocked_urls_and_counts_soft_words():
    out = judge(["https://example.org/hot-babes-with-boobs"], UrlFilterConfig(mode="tag"))
    assert out.column("_removed").to_pylist() == [None]
    assert out.column("sig_url_soft_words")[0].as_py() >= 2
