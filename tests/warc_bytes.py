"""WARC files written byte by byte, so tests can break exactly one thing in them.

Records are WARC/1.0 with the headers Common Crawl writes; ``gzip_members`` compresses each
record into its own gzip member, as Common Crawl's files are.
"""

from __future__ import annotations

import gzip
import itertools
import uuid

from crawlsieve.samples.warcs import html_page

#: Makes every record id unique across the files, as WARC-Record-IDs are in a real crawl.
SERIAL = itertools.count()
# Hand-written, so the quality filters keep it (the sample grammar repeats its 5-grams).
ARTICLE = [
    "The river authority published its long report about last winter's floods on Tuesday. "
    "It explains how quickly the water rose in the northern district, why two of the old pumps "
    "failed during the second night, and which streets will be raised before the next season.",
    "Engineers spent four months measuring the banks and interviewing residents. Several families "
    "described waking up to find their cellars full; a baker near the bridge lost most of her "
    "equipment, but reopened three weeks later with help from neighbours and a small grant.",
    "The council will discuss the recommendations next month. Most members support building a "
    "second barrier upstream, although some argue that cheaper measures, such as clearing drains "
    "more often, would protect the district just as well for the coming years.",
]
OTHER_ARTICLE = [
    "A small orchestra from the valley gave its first concert abroad last weekend. The musicians, "
    "most of them teachers and students, had rehearsed every Thursday evening since the autumn.",
    "Their programme mixed folk songs collected by a local priest a century ago with two new pieces "
    "written by a young composer who grew up in the village and now lives in the capital.",
    "Tickets sold out within days, and the organisers are already planning a tour for next spring, "
    "hoping that a regional foundation will cover the cost of the bus and the hotel rooms.",
    "The conductor thanked the audience after the last encore. She said the village had waited a long "
    "time for this evening. Several listeners travelled from the coast to hear the old songs again.",
]


def warc_record(
    rec_type: str,
    uri: str,
    block: bytes,
    *,
    content_length: int | str | None = None,
    extra_headers: list[tuple[str, str]] = (),
    record_id: str | None = None,
) -> bytes:
    """One WARC/1.0 record; ``content_length`` may lie about the block's size, and ``record_id``
    may repeat another record's."""
    content_type = {"response": "application/http; msgtype=response"}.get(rec_type, "application/warc-fields")
    headers = [
        ("WARC-Type", rec_type),
        (
            "WARC-Record-ID",
            f"<urn:uuid:{record_id or uuid.uuid5(uuid.NAMESPACE_URL, f'{uri}|{next(SERIAL)}')}>",
        ),
        ("WARC-Date", "2024-03-01T10:00:00Z"),
        ("WARC-Target-URI", uri),
        *extra_headers,
        ("Content-Type", content_type),
        ("Content-Length", str(len(block) if content_length is None else content_length)),
    ]
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("utf-8") + block + b"\r\n\r\n"


def http_response(body: bytes, content_type: str = "text/html; charset=utf-8", extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n{extra}\r\n".encode() + body


def page(uri: str, body: bytes | None = None, **kwargs) -> bytes:
    body = html_page("A page", ARTICLE).encode() if body is None else body
    return warc_record("response", uri, http_response(body), **kwargs)


def gzip_members(records: list[bytes]) -> bytes:
    return b"".join(gzip.compress(r, compresslevel=6) for r in records)


def warcinfo() -> bytes:
    return warc_record("warcinfo", "", b"software: crawlsieve-tests\r\nisPartOf: CC-MAIN-2024-10\r\n")
