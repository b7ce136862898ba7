"""The URL blocklist stage before extraction, over datatrove's bundled lists (offline)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from crawlsieve.filters import url_blocklist
from crawlsieve.filters.config import UrlFilterConfig
from crawlsieve.filters.url_blocklist import UrlBlocklistStage


def judge(urls: list[str], config: UrlFilterConfig | None = None) -> pa.Table:
    return UrlBlocklistStage(config or UrlFilterConfig())(pa.table({"url": urls}))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://0-1avsex.com/index.html", "url:blocklist"),  # on the bundled domain list
        ("http://www.0-1sex.com/page", "url:blocklist"),  # subdomain of a listed domain
        ("http://198.46.178.148/360/vbc.exe", "url:blocklist"),  # on the URL list, not the domain list
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


#: Run in a fresh process: how the lists were loaded, and two decisions made with them.
LOAD_AND_JUDGE = """
from crawlsieve.filters import url_blocklist as u
from crawlsieve.filters.config import UrlFilterConfig
lists = u._integrated_lists()
stage = u.UrlBlocklistStage(UrlFilterConfig())
print(type(lists.domains).__name__, type(lists.urls).__name__, len(lists.domains), len(lists.urls),
      stage.judge("https://0-1avsex.com/x")[0], stage.judge("http://198.46.178.148/360/vbc.exe")[0])
"""


def load_in_fresh_process(cache: str) -> list[str]:
    env = {**os.environ, "CRAWLSIEVE_CACHE_DIR": cache}
    done = subprocess.run(
        [sys.executable, "-c", LOAD_AND_JUDGE], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_the_hashed_lists_are_cached_once_and_memory_mapped_by_later_processes(tmp_path):
    cache = tmp_path / "cache"
    first = load_in_fresh_process(str(cache))
    assert first[:2] == ["ndarray", "ndarray"]  # built from the archive
    cached = sorted(p.name for p in cache.rglob("*.npy"))
    assert cached == ["domains.npy", "urls.npy"]
    second = load_in_fresh_process(str(cache))
    assert second[:2] == ["memmap", "memmap"]  # mapped from the cache, nothing rebuilt
    assert first[2:] == second[2:]
    assert second[4:] == ["blocklist", "blocklist"]
    domains, urls = url_blocklist._hash_archive()
    folder = next(cache.iterdir())
    assert np.array_equal(np.load(folder / "domains.npy"), domains)
    assert np.array_equal(np.load(folder / "urls.npy"), urls)
    assert np.all(domains[:-1] < domains[1:])  # sorted and unique: binary search is exact


def test_an_unusable_cache_folder_only_costs_the_rebuild(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("in the way")
    assert load_in_fresh_process(str(not_a_folder))[:2] == ["ndarray", "ndarray"]
    assert not_a_folder.read_text() == "in the way"
