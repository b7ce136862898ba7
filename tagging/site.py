"""`site`: the registered domain of a document's URL (`www.bbc.co.uk` -> `bbc.co.uk`).

tldextract splits the host with the public-suffix list snapshot bundled in its wheel; it is
built with no suffix-list URLs and no cache dir, so it never fetches or writes at run time.
Private suffixes count (`foo.github.io` and `bar.github.io` are different sites), which is
what a mixture wants: one GitHub Pages user is not all of github.io.
"""

from __future__ import annotations

import contextlib
import ipaddress
from functools import cache
from urllib.parse import urlsplit

import pyarrow as pa

from crawlsieve.core.stages import Stage

#: Longest site value kept; hosts are at most 253 characters by RFC 1035.
MAX_SITE_CHARS = 253


@cache
def _extractor():
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def _host(url: str) -> str:
    """The lowercased host of a URL, scheme optional, without port, userinfo or trailing dot."""
    url = url.strip()
    if "://" not in url and not url.startswith("//"):
        url = "//" + url
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # e.g. an unbalanced '[' in the netloc
        return ""
    return host.strip().rstrip(".").lower()


def _unicode_host(host: str) -> str:
    """Punycode labels (xn--) as Unicode, so both spellings of an IDN give one site."""
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError):
                label = label.encode("ascii").decode("idna")
        labels.append(label)
    return ".".join(labels)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def site_of(url: str | None) -> str | None:
    """The registered domain of ``url``; the bare host where there is none; None without a host.

    IP addresses and hosts that are only a public suffix (`s3.amazonaws.com`) or have none
    (`localhost`) are their own site.
    """
    if not url:
        return None
    host = _unicode_host(_host(url))
    if not host or any(c.isspace() for c in host):
        return None
    if _is_ip(host):
        return host
    registered = _extractor()(host).top_domain_under_public_suffix
    return (registered or host)[:MAX_SITE_CHARS]


class SiteStage(Stage):
    """Adds `site` (string, null for a URL without a host)."""

    name = "site"

    def __call__(self, batch: pa.Table) -> pa.Table:
        sites = [site_of(url) for url in batch.column("url").to_pylist()]
        return batch.append_column("site", pa.array(sites, pa.string()))
