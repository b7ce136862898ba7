"""WARC files shaped like Common Crawl's, made from the shared corpus's real pages.

    .venv/bin/python -m benchmarks.cc_shaped --out /tmp/cc [--mix corpus] [--files 2] [--responses 30000]

A real Common Crawl WARC file is ~1 GB of gzip holding ~30,000 responses, each preceded by
its request and followed by its metadata record, one gzip member per record, after one
`warcinfo` record. The corpus holds 341 pages in files of 57 records, where start-up weighs
far more than it does on a real file, so this module writes files of the real shape:

- gzip per record; warcinfo, then request -> response -> metadata triples;
- ``--responses`` responses per file, cycling over the HTML pages of a mix (``--mix``: ``corpus``,
  the shared corpus's 341 pages; ``multilingual``, its 143 forum, Chinese, Japanese, Arabic and
  other pages); every copy of a page gets a new host, a new record id and its own edits (a few
  words, or characters of Chinese and Japanese, dropped or doubled per paragraph: `perturb`), so
  neither the payload-digest nor the exact-text dedup shortcut applies;
- `WARC-Identified-Payload-Type` as Common Crawl writes it, and a few % of responses that are
  not HTML (PDF, JPEG, JSON) or not 200 (301 redirects, 404 pages), as in a real crawl;
- metadata records with `fetchTimeMs`, like Common Crawl's.

Files are cached by their parameters: a second call with the same arguments reuses them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import random
import re
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import repeat
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
#: Page mix -> the folder of its WARC files.
MIXES = {"corpus": SHARED / "warc", "multilingual": SHARED / "multilingual" / "warc"}
#: Share of responses that are not HTML 200s, by kind (Common Crawl's main WARCs hold mostly
#: successful HTML fetches; these make the cheap checks do real work).
NON_HTML_SHARE = 0.03
NON_200_SHARE = 0.02
NON_HTML_TYPES = (
    ("application/pdf", b"%PDF-1.4\n"),
    ("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF"),
    ("application/json", b'{"items": []}'),
)
CRAWL_START = datetime(2024, 2, 20, tzinfo=UTC)

#: Text between tags long enough to be prose; only these runs are perturbed.
PROSE = re.compile(rb">([^<>]{80,})<")
#: Characters edited one by one (scripts written without spaces: CJK, kana, hangul syllables).
UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def _edited_units(units: list, rng: random.Random) -> list:
    """Each unit dropped (1.5%) or doubled (1.5%), as an edited copy would."""
    out = []
    for unit in units:
        roll = rng.random()
        if roll < 0.015:
            continue
        out.append(unit)
        if roll > 0.985:
            out.append(unit)
    return out


def _edited_word(word: str, rng: random.Random) -> list[str]:
    if UNSPACED.search(word) is None:
        return _edited_units([word], rng)
    return ["".join(_edited_units(list(word), rng))]


def perturb(html: bytes, rng: random.Random) -> bytes:
    """Drop or double about 3% of the words of each prose run, and of the characters of the
    unspaced scripts (a Chinese paragraph is one "word" between spaces).

    Works on bytes: a run that is not UTF-8 is split on ASCII spaces only, so any encoding
    survives untouched.
    """

    def edit(match: re.Match) -> bytes:
        run = match.group(1)
        try:
            words = run.decode("utf-8").split(" ")
        except UnicodeDecodeError:
            return b">" + b" ".join(_edited_units(run.split(b" "), rng)) + b"<"
        return b">" + " ".join(w for word in words for w in _edited_word(word, rng)).encode() + b"<"

    return PROSE.sub(edit, html)


def _digest(payload: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode("ascii")


def corpus_pages(sources: list[Path]) -> list[tuple[str, bytes, list[tuple[str, str]]]]:
    """(url, html, http headers) of every HTML 200 response of the corpus, in file order."""
    pages = []
    for source in sources:
        with open(source, "rb") as handle:
            for record in ArchiveIterator(handle):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                if record.http_headers.get_statuscode() != "200":
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                headers = [
                    (k, v)
                    for k, v in record.http_headers.headers
                    if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
                ]
                pages.append((url, record.content_stream().read(), headers))
    return pages


class _Writer:
    """One CC-shaped file: request, response and metadata records around each payload."""

    def __init__(self, handle, name: str, rng: random.Random):
        self.writer = WARCWriter(handle, gzip=True)
        self.rng = rng
        info = self.writer.create_warcinfo_record(
            name,
            {
                "software": "crawlsieve benchmarks.cc_shaped",
                "isPartOf": "CC-MAIN-2024-10",
                "description": "CC-shaped benchmark file made from the shared corpus's pages",
                "format": "WARC File Format 1.1",
            },
        )
        self.writer.write_record(info)

    def _id(self) -> str:
        return f"<urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}>"

    def write(self, url: str, status: str, headers: list[tuple[str, str]], payload: bytes, when) -> None:
        date = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        host = url.split("/")[2] if "//" in url else "example.org"
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
        request_headers = StatusAndHeaders(
            f"GET {path} HTTP/1.1",
            [
                ("User-Agent", "CCBot/2.0 (https://commoncrawl.org/faq/)"),
                ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
                ("Host", host),
            ],
            is_http_request=True,
        )
        request = self.writer.create_warc_record(
            url,
            "request",
            http_headers=request_headers,
            warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": self._id()},
        )
        response_id = self._id()
        media_type = dict((k.lower(), v) for k, v in headers).get("content-type", "text/html")
        response = self.writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(payload),
            length=len(payload),
            http_headers=StatusAndHeaders(status, headers, protocol="HTTP/1.1"),
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Record-ID": response_id,
                "WARC-Payload-Digest": _digest(payload),
                "WARC-Identified-Payload-Type": media_type.split(";")[0].strip(),
                "WARC-Concurrent-To": request.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        metadata = self.writer.create_warc_record(
            url,
            "metadata",
            payload=io.BytesIO(f"fetchTimeMs: {self.rng.randint(40, 2000)}\r\n".encode()),
            warc_content_type="application/warc-fields",
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Record-ID": self._id(),
                "WARC-Concurrent-To": response_id,
            },
        )
        for record in (request, response, metadata):
            self.writer.write_record(record)


def generate_cc_files(
    out_dir: Path, files: int = 2, responses: int = 30_000, seed: int = 0, mix: str = "corpus"
) -> list[Path]:
    """Write (or reuse) ``files`` CC-shaped WARC files of ``responses`` responses each, from the
    pages of ``mix`` (a key of ``MIXES``)."""
    sources = sorted(MIXES[mix].glob("*.warc.gz"))
    out_dir.mkdir(parents=True, exist_ok=True)
    # v2: Chinese and Japanese text edited by character (v1 copies of such pages were exact copies)
    targets = [
        out_dir / f"CC-MAIN-2024-10-{mix}-v2-s{seed}-r{responses}-{i:05d}.warc.gz" for i in range(files)
    ]
    if all(t.is_file() and t.stat().st_size for t in targets):
        return targets
    pages = corpus_pages(sources)
    missing = [index for index, target in enumerate(targets) if not target.is_file()]
    # One process per file: generating 30,000 gzip-per-record responses is minutes of CPU each.
    with ProcessPoolExecutor(max_workers=max(1, min(len(missing), os.cpu_count() or 1))) as pool:
        list(
            pool.map(
                _write_cc_file,
                missing,
                [targets[index] for index in missing],
                repeat(responses),
                repeat(seed),
                repeat(pages),
            )
        )
    return targets


def _write_cc_file(index: int, target: Path, responses: int, seed: int, pages: list) -> None:
    rng = random.Random(f"{seed}:{index}")
    tmp = target.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        writer = _Writer(handle, target.name, rng)
        when = CRAWL_START + timedelta(days=index)
        for slot in range(responses):
            url, html, headers = pages[slot % len(pages)]
            copy = index * (responses // len(pages) + 1) + slot // len(pages)
            host_url = url.replace("://", f"://c{copy}-", 1)
            when += timedelta(seconds=rng.randint(0, 3))
            roll = rng.random()
            if roll < NON_HTML_SHARE:
                media_type, magic = NON_HTML_TYPES[slot % len(NON_HTML_TYPES)]
                body = magic + rng.randbytes(rng.randint(2_000, 40_000))
                writer.write(host_url + ".bin", "200 OK", [("Content-Type", media_type)], body, when)
            elif roll < NON_HTML_SHARE + NON_200_SHARE:
                if slot % 2:
                    writer.write(
                        host_url,
                        "301 Moved Permanently",
                        [("Location", host_url + "/"), ("Content-Type", "text/html")],
                        b"<html><body>Moved</body></html>",
                        when,
                    )
                else:
                    writer.write(
                        host_url,
                        "404 Not Found",
                        [("Content-Type", "text/html; charset=utf-8")],
                        b"<html><body><h1>Not Found</h1></body></html>",
                        when,
                    )
            else:
                writer.write(host_url, "200 OK", headers, perturb(html, rng), when)
    tmp.replace(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the files (reused if present)")
    parser.add_argument("--mix", choices=sorted(MIXES), default="corpus", help="the pages copied")
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--responses", type=int, default=30_000, help="responses per file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in generate_cc_files(args.out, args.files, args.responses, args.seed, args.mix):
        print(f"{path}  {path.stat().st_size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
