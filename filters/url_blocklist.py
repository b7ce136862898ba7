"""URL blocklist before extraction: datatrove's URLFilter rules over its bundled lists.

datatrove's URLFilter cannot be used as is here: its tldextract fetches the public suffix
list over the network, and it extracts its 120 MB domain list to a cache folder and keeps
it as a Python set (~500 MB per worker). This module applies the same rules, in the same
order, reading the bundled archive in memory and keeping the 4.5 M domains and the blocked
URLs as sorted arrays of 64-bit hashes (36 MB). Hashing them costs ~2.5 s, so the arrays are
cached as .npy files on first use (``cache_dir()``) and memory-mapped by every later process:
a worker starts in milliseconds and the workers of a node share one copy of the pages.
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import xxhash
from datatrove.pipeline.filters.url_filter import normalize, normalizer, parse_list
from datatrove.utils._import_utils import ASSETS_PATH

from crawlsieve.core.io import durable
from crawlsieve.core.stages import Stage, with_decisions
from crawlsieve.filters.config import UrlFilterConfig

_ARCHIVE = os.path.join(ASSETS_PATH, "url_filterblacklistsv0_3_0.tar.gz")
#: Part of the cache folder's name; bump it when the cached arrays change meaning.
_CACHE_FORMAT = 1


def cache_dir() -> Path:
    """Where rebuildable derived files go: ``$CRAWLSIEVE_CACHE_DIR``, else ~/.cache/crawlsieve."""
    return Path(os.environ.get("CRAWLSIEVE_CACHE_DIR") or Path.home() / ".cache" / "crawlsieve")


@dataclass(frozen=True)
class _Lists:
    domains: np.ndarray  # sorted xxh3-64 hashes of blocked domains
    urls: np.ndarray  # sorted xxh3-64 hashes of blocked URLs without scheme
    banned_words: frozenset[str]
    soft_words: frozenset[str]
    banned_subwords: tuple[str, ...]


def _hash(text: str | bytes) -> int:
    return xxhash.xxh3_64_intdigest(text.encode("utf-8") if isinstance(text, str) else text)


@cache
def _integrated_lists() -> _Lists:
    """datatrove's bundled lists, loaded once per process."""
    domains, urls = _blocked_hashes()

    def words(name: str) -> frozenset[str]:
        with open(os.path.join(ASSETS_PATH, name), encoding="utf-8") as f:
            return frozenset(parse_list(line for line in f if line.strip()))

    return _Lists(
        domains=domains,
        urls=urls,
        banned_words=words("banned_words.txt"),
        soft_words=words("soft_banned_words.txt"),
        banned_subwords=tuple(sorted(words("banned_subwords.txt"))),
    )


def _blocked_hashes() -> tuple[np.ndarray, np.ndarray]:
    """The sorted domain and URL hashes: memory-mapped from the cache, else built and cached.

    The cache folder is named after the archive's size and mtime, so a new datatrove list
    is a new folder. Files are written ``durable`` (a temporary name, then renamed), so concurrent
    workers never read a partial file; an unwritable cache only costs the rebuild.
    """
    archive = os.stat(_ARCHIVE)
    folder = cache_dir() / f"url-blocklist-{_CACHE_FORMAT}-{archive.st_size}-{archive.st_mtime_ns}"
    paths = (folder / "domains.npy", folder / "urls.npy")
    try:
        return np.load(paths[0], mmap_mode="r"), np.load(paths[1], mmap_mode="r")
    except (OSError, ValueError):
        pass
    arrays = _hash_archive()
    try:
        for array, path in zip(arrays, paths, strict=True):
            with durable(path) as tmp, open(tmp, "wb") as handle:
                np.save(handle, array)
    except OSError:
        pass
    return arrays


def _hash_archive() -> tuple[np.ndarray, np.ndarray]:
    with tarfile.open(_ARCHIVE, "r:gz") as archive:
        domains = archive.extractfile("domains").read().split(b"\n")
        urls = archive.extractfile("urls").read().decode("utf-8", "replace").split("\n")
    domain_hashes = np.fromiter(
        (_hash(d.strip()) for d in domains if d.strip() and not d.startswith(b"#")), dtype=np.uint64
    )
    url_hashes = np.fromiter(
        (_hash(u.strip()) for u in urls if u.strip() and not u.startswith("#")), dtype=np.uint64
    )
    domain_hashes.sort()
    url_hashes.sort()
    return domain_hashes, url_hashes


@cache
def suffix_extractor():
    from tldextract import TLDExtract

    # suffix_list_urls=() : use tldextract's bundled public suffix snapshot, never the network.
    return TLDExtract(suffix_list_urls=(), cache_dir=None)


class UrlBlocklistStage(Stage):
    """Removes records whose URL is on a blocklist (reasons ``url:blocklist``, ``url:banned_word``,
    ``url:soft_words``, ``url:banned_subword``); writes ``sig_url_soft_words``."""

    name = "url_filter"

    def __init__(self, config: UrlFilterConfig):
        self.config = config

    def __call__(self, batch: pa.Table) -> pa.Table:
        reasons, soft = [], []
        for url in batch.column("url").to_pylist():
            reason, soft_count = self.judge(url or "")
            reasons.append(f"url:{reason}" if reason and self.config.mode == "drop" else None)
            soft.append(soft_count)
        batch = batch.append_column("sig_url_soft_words", pa.array(soft, type=pa.float64()))
        return with_decisions(batch, removed=reasons)

    def judge(self, url: str) -> tuple[str | None, int]:
        """The rule the URL breaks (or None), and how many soft banned words it has."""
        c = self.config
        lists = _integrated_lists() if c.use_integrated_lists else None
        extra_domains = frozenset(c.extra_domains)
        parts = suffix_extractor()(url)
        for host in (parts.top_domain_under_public_suffix, parts.fqdn):
            if host and (host in extra_domains or (lists is not None and _in_sorted(lists.domains, host))):
                return "blocklist", 0
        if lists is not None and _in_sorted(lists.urls, url.split("://", 1)[-1]):
            return "blocklist", 0
        url_words = set(normalizer.split(url.lower()))
        banned = (lists.banned_words if lists else frozenset()) | {normalize(w) for w in c.extra_words}
        soft = sum(word in url_words for word in (lists.soft_words if lists else ()))
        if url_words & banned:
            return "banned_word", soft
        if soft >= c.soft_word_threshold:
            return "soft_words", soft
        flat = normalize(url)
        if lists is not None and any(sub in flat for sub in lists.banned_subwords):
            return "banned_subword", soft
        return None, soft


def _in_sorted(hashes: np.ndarray, host: str) -> bool:
    key = np.uint64(_hash(host))
    i = int(np.searchsorted(hashes, key))
    return i < len(hashes) and hashes[i] == key
