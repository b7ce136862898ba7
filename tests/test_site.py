"""`site`: the registered domain of a URL, from tldextract's bundled suffix list, offline."""

from __future__ import annotations

import pyarrow as pa
import pytest

from crawlsieve.tagging.site import SiteStage, site_of


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://www.bbc.co.uk/news/world-1", "bbc.co.uk"),
        ("https://news.bbc.co.uk/", "bbc.co.uk"),
        ("http://foo.github.io/project/", "foo.github.io"),  # private suffix: one user, one site
        ("http://bar.github.io/", "bar.github.io"),
        ("https://a.b.blogspot.com/2020/post.html", "b.blogspot.com"),
        ("https://s3.amazonaws.com/bucket/key", "s3.amazonaws.com"),  # only a suffix: the host itself
        ("http://192.168.0.1:8080/admin", "192.168.0.1"),
        ("http://[2001:db8::1]:8443/x", "2001:db8::1"),
        ("https://münchen.de/stadt", "münchen.de"),
        ("https://www.xn--mnchen-3ya.de/stadt", "münchen.de"),  # punycode and Unicode agree
        ("example.com:8080/path?q=1", "example.com"),  # no scheme, a port
        ("HTTPS://WWW.Example.COM./a", "example.com"),  # case and the root dot
        ("http://user:secret@shop.example.org:99/", "example.org"),
        ("http://localhost:8000/", "localhost"),
        ("https://www.gov.uk/guidance", "www.gov.uk"),  # gov.uk is a public suffix
    ],
)
def test_site_is_the_registered_domain_on_tricky_hosts(url, site):
    assert site_of(url) == site


@pytest.mark.parametrize("url", [None, "", "   ", "http://", "http://[not-closed/", "http://exa mple.com/"])
def test_site_is_null_where_the_url_has_no_usable_host(url):
    assert site_of(url) is None


def test_site_never_fetches_the_suffix_list(monkeypatch):
    import socket

    from crawlsieve.tagging import site

    site._extractor.cache_clear()

    def refuse(*args, **kwargs):
        raise AssertionError("site tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert site_of("https://www.bbc.co.uk/") == "bbc.co.uk"


def test_site_stage_adds_a_column_for_every_real_warc_uri(shared_corpus):
    from warcio.archiveiterator import ArchiveIterator

    urls = []
    for path in sorted((shared_corpus / "warc").glob("*.warc.gz")):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type == "response":
                    urls.append(record.rec_headers.get_header("WARC-Target-URI"))
    batch = pa.table({"id": [str(i) for i in range(len(urls))], "url": urls})
    out = SiteStage()(batch)
    assert out.column_names == ["id", "url", "site"]
    sites = out.column("site").to_pylist()
    assert len(urls) == 341 and all(sites), "every corpus URL has a host"
    assert all(s == s.lower() and not s.startswith("www.") for s in sites)
    by_url = dict(zip(urls, sites, strict=True))
    assert by_url["https://www.bbc.com/news/newsbeat-50470672"] == "bbc.com"
    assert by_url["https://wien.orf.at/stories/3017954/"] == "orf.at"
    assert by_url["https://journals.univie.ac.at/index.php/wdr/about/submissions"] == "univie.ac.at"
