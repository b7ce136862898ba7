"""WARC files that each hold one input a new user or an attacker found to break a run (issue 12).

Each builder returns the bytes of a gzip-per-record WARC file (as Common Crawl writes them) or, for
the file-level cases, a whole file. ``write_all(directory)`` writes every case, plus one file that
holds all the record-level cases together, for a run over the corpus and all of them at once:

    .venv/bin/python tests/hostile_inputs.py /tmp/hostile
    .venv/bin/crawlsieve run '../shared/corpus/warc/*.warc.gz' /tmp/hostile --output /tmp/hostile-run
"""

from __future__ import annotations

import gzip
import os
import sys
import uuid
from pathlib import Path

import brotli
from warc_bytes import ARTICLE, OTHER_ARTICLE, gzip_members, http_response, page, warc_record, warcinfo

from crawlsieve.ingest.http_payload import zstd
from crawlsieve.samples.warcs import html_page

#: Distinct hand-written articles that pass every default filter, for pages that must be kept.
ARTICLES = [
    ARTICLE,
    OTHER_ARTICLE,
    [
        "The old railway bridge over the canal will close for repairs from the first of May. "
        "Engineers found that several of its iron beams have rusted far more than expected.",
        "Trains will stop at the station on the eastern side, and a free bus will carry travellers "
        "across the water every fifteen minutes while the work goes on through the summer. "
        "Cyclists may still cross on a narrow footpath beside the tracks.",
        "The company apologised for the trouble and promised that the bridge would reopen before "
        "the autumn term, when thousands of students return to the university on the hill. "
        "A second bridge further north will be inspected next year.",
    ],
    [
        "Farmers in the southern valley began the grape harvest two weeks earlier than usual. "
        "A warm spring and a dry summer ripened the fruit quickly, and the first wine looks promising.",
        "Pickers came from nearby towns and from abroad; many of them return every year and stay "
        "with the same families, who cook for them after the long days in the vineyards. "
        "Evenings end with songs in the village square.",
        "The cooperative expects a smaller but better crop than last year. Its director said that "
        "prices should stay stable, although the cost of bottles and transport keeps rising. "
        "Some growers are already planting vines that need less water.",
    ],
    [
        "The city library opened its new reading room on Saturday after three years of building. "
        "Large windows face the park, and the shelves hold more than forty thousand books.",
        "Children have their own corner with low tables and a small stage for story hours, while "
        "older readers can borrow laptops and use quiet rooms for study or meetings. "
        "A small café on the ground floor serves soup and bread at noon.",
        "The librarians hope the room will bring back people who stopped visiting during the "
        "long closure. Opening hours now include Sunday afternoons for the first time. "
        "Membership remains free for everyone who lives or works in the city.",
    ],
]


def article_page(n: int) -> bytes:
    return html_page(f"Article {n}", ARTICLES[n % len(ARTICLES)]).encode()


def overflowing_content_length() -> bytes:
    """A record whose WARC Content-Length overflows every integer type (warcio: OverflowError)."""
    return gzip_members(
        [
            warcinfo(),
            page("https://overflow.example/before", article_page(0)),
            page("https://overflow.example/bad", content_length="99999999999999999999999"),
            page("https://overflow.example/after", article_page(1)),
        ]
    )


def duplicate_record_ids(shared_id: str) -> tuple[bytes, bytes]:
    """Two files whose records repeat one WARC-Record-ID, within the first file and across both.

    The three records with ``shared_id`` hold three different articles, so all must be kept, each
    with its own id. A fourth record repeats the first one's id *and* its text: an exact duplicate.
    """
    first = gzip_members(
        [
            warcinfo(),
            page("https://dup-id.example/a", article_page(2), record_id=shared_id),
            page("https://dup-id.example/b", article_page(3), record_id=shared_id),
        ]
    )
    second = gzip_members(
        [
            warcinfo(),
            page("https://dup-id.example/c", article_page(4), record_id=shared_id),
            page("https://dup-id.example/a-again", article_page(2), record_id=shared_id),
        ]
    )
    return first, second


def million_attributes_page() -> bytes:
    """One element with 10⁶ attributes (9.5 MB): libxml2 checks attributes pairwise, for hours."""
    attributes = " ".join(f"a{i}=x" for i in range(1_000_000)).encode()
    return (
        b"<html><body><div " + attributes + b"><p>" + " ".join(ARTICLE).encode() + b"</p></div></body></html>"
    )


def slow_page_file() -> bytes:
    return gzip_members(
        [
            warcinfo(),
            page("https://slow.example/before", article_page(0)),
            page("https://slow.example/attributes", million_attributes_page()),
            page("https://slow.example/after", article_page(1)),
        ]
    )


def encoded_page(uri: str, body: bytes, encoding: str) -> bytes:
    return warc_record("response", uri, http_response(body, extra=f"Content-Encoding: {encoding}\r\n"))


def content_encodings() -> bytes:
    """A brotli and a zstd body (valid), a brotli body that breaks part-way, then a plain page."""
    long_page = html_page("Long", [p for article in ARTICLES for p in article] * 3).encode()
    broken = bytearray(brotli.compress(long_page, quality=0))  # a few KiB: it breaks after the first
    at = len(broken) * 2 // 3
    broken[at : at + 16] = b"\xff" * 16
    return gzip_members(
        [
            warcinfo(),
            encoded_page("https://enc.example/br", brotli.compress(article_page(0)), "br"),
            encoded_page("https://enc.example/zstd", zstd.compress(article_page(1)), "zstd"),
            encoded_page("https://enc.example/broken-br", bytes(broken), "br"),
            page("https://enc.example/plain", article_page(2)),
        ]
    )


def single_gzip_member(pages: int = 4) -> bytes:
    """A valid WARC file compressed as one gzip member instead of one per record."""
    records = [page(f"https://one-member.example/{i}", article_page(i)) for i in range(pages)]
    return gzip.compress(b"".join([warcinfo(), *records]))


def punycode_charset() -> bytes:
    """A good page whose Content-Type names `punycode` as its charset (a codec, not a charset)."""
    body = html_page("Punycode", ARTICLES[4]).encode()
    return gzip_members(
        [
            warcinfo(),
            warc_record(
                "response", "https://puny.example/", http_response(body, "text/html; charset=punycode")
            ),
        ]
    )


#: A file name that is not UTF-8 (legal on Linux): `caf\xe9.warc.gz` in Latin-1.
NON_UTF8_NAME = os.fsdecode(b"caf\xe9-latin1.warc.gz")


def record_level_cases() -> list[bytes]:
    """Every record-level case, as records of one gzip-per-record file."""
    return [
        page("https://all.example/overflow", content_length="99999999999999999999999"),
        page("https://all.example/attributes", million_attributes_page()),
        encoded_page("https://all.example/br", brotli.compress(article_page(0)), "br"),
        encoded_page("https://all.example/zstd", zstd.compress(article_page(1)), "zstd"),
        warc_record(
            "response",
            "https://all.example/puny",
            http_response(article_page(4), "text/html; charset=punycode"),
        ),
        page("https://all.example/dup-1", article_page(2), record_id="00000000-0000-4000-8000-00000000d0d0"),
        page("https://all.example/dup-2", article_page(3), record_id="00000000-0000-4000-8000-00000000d0d0"),
    ]


def write_all(directory: Path) -> dict[str, Path]:
    """Write every case into ``directory``; returns name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    shared = str(uuid.UUID(int=0xD0D1, version=4))
    first, second = duplicate_record_ids(shared)
    files = {
        "overflow.warc.gz": overflowing_content_length(),
        "dup-ids-1.warc.gz": first,
        "dup-ids-2.warc.gz": second,
        "million-attributes.warc.gz": slow_page_file(),
        "content-encodings.warc.gz": content_encodings(),
        "single-member.warc.gz": single_gzip_member(),
        "punycode.warc.gz": punycode_charset(),
        NON_UTF8_NAME: gzip_members([warcinfo(), page("https://latin1.example/", article_page(1))]),
        "all-record-cases.warc.gz": gzip_members([warcinfo(), *record_level_cases()]),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = directory / name
        paths[name].write_bytes(data)
    return paths


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1])).values():
        print(os.fsencode(path).decode("utf-8", "backslashreplace"))
