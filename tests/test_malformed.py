"""A set of malformed WARC files through the whole pipeline: no crash, no hang, nothing lost.

Each file is built by hand (raw WARC bytes, gzip per record as Common Crawl writes them) to break
one thing: truncated gzip, a Content-Length too long or too short, a 1 MB header line, a 50 MB
page, HTML nested 100,000 deep, an unknown charset, a zero-byte file, a file that is no WARC.
The test prints a table of each file, its outcome and its counts (shown without -s too).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from warc_bytes import ARTICLE, OTHER_ARTICLE, gzip_members, http_response, page, warc_record, warcinfo

from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.samples.warcs import html_page


def build_malformed(directory: Path) -> dict[str, Path]:
    """name -> path of each malformed file (and one good file as a control)."""

    def good() -> list[bytes]:
        return [warcinfo(), page("https://ok.example/1"), page("https://ok.example/2")]

    payload_50mb = b"<html><body>" + b"<p>" + b"word " * (10 * 1024 * 1024) + b"</p></body></html>"
    nested = (
        b"<html><body>"
        + b"<div>" * 100_000
        + " ".join(ARTICLE).encode()
        + b"</div>" * 100_000
        + b"</body></html>"
    )
    bad_charset = (
        html_page("Concert", OTHER_ARTICLE, charset="x-no-such-charset").encode() + b"\xff\xfe\xc3\x28"
    )
    huge_http = warc_record(
        "response",
        "https://huge.example/http",
        http_response(html_page("Huge", ARTICLE).encode(), extra=f"X-Padding: {'a' * 1_000_000}\r\n"),
    )
    files = {
        "good.warc.gz": gzip_members(good()),
        "truncated-gzip.warc.gz": gzip_members(good())[:-300],
        "content-length-too-long.warc": b"".join(
            [
                warcinfo(),
                page("https://cl.example/long", content_length=50_000),
                page("https://cl.example/after"),
            ]
        ),
        "content-length-too-long.warc.gz": gzip_members(
            [
                warcinfo(),
                page("https://cl.example/long", content_length=50_000),
                page("https://cl.example/after"),
            ]
        ),
        "content-length-too-short.warc": b"".join(
            [
                warcinfo(),
                page("https://cl.example/short", content_length=100),
                page("https://cl.example/after"),
            ]
        ),
        "content-length-too-short.warc.gz": gzip_members(
            [
                warcinfo(),
                page("https://cl.example/short", content_length=100),
                page("https://cl.example/after"),
            ]
        ),
        "huge-headers.warc.gz": gzip_members(
            [
                warcinfo(),
                huge_http,
                page("https://huge.example/warc", extra_headers=[("X-Crawler-Note", "b" * 1_000_000)]),
            ]
        ),
        "page-50mb.warc.gz": gzip_members([warcinfo(), page("https://big.example/", payload_50mb)]),
        "nested-100k.warc.gz": gzip_members([warcinfo(), page("https://deep.example/", nested)]),
        "invalid-charset.warc.gz": gzip_members(
            [
                warcinfo(),
                warc_record(
                    "response",
                    "https://charset.example/",
                    http_response(bad_charset, "text/html; charset=x-no-such-charset"),
                ),
            ]
        ),
        "zero-byte.warc.gz": b"",
        "not-a-warc.warc.gz": ("just some notes, not a WARC file\n" * 200).encode(),
    }
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in files.items():
        paths[name] = directory / name
        paths[name].write_bytes(data)
    return paths


def outcome(row: dict) -> str:
    if row["failed"]:
        return "failed: " + ", ".join(f"{k}={v}" for k, v in sorted(row["failed"].items()))
    return "kept all pages" if row["documents_kept"] else "removed"


def table(stats: dict, paths: dict[str, Path]) -> str:
    lines = [f"{'file':<34} {'read':>5} {'kept':>5} {'removed':>8} {'failed':>7}  outcome"]
    for name, path in paths.items():
        row = stats["inputs"][str(path)]
        lines.append(
            f"{name:<34} {row['records_read']:>5} {row['documents_kept']:>5} "
            f"{sum(row['removed'].values()):>8} {sum(row['failed'].values()):>7}  {outcome(row)}"
        )
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_malformed_files_run_through_the_pipeline_with_every_record_accounted_for(
    ray_local, tmp_path, capsys
):
    paths = build_malformed(tmp_path / "in")
    started = time.monotonic()
    stats = run_pipeline(
        [str(p) for p in paths.values()], tmp_path / "out", Config(), report=False, log=lambda m: None
    )
    seconds = time.monotonic() - started
    with capsys.disabled():
        print(f"\n{table(stats, paths)}\n({seconds:.1f}s)")

    assert stats["accounting_closes"] is True
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["records_read"] == stats["records_read"]
    per = {name: stats["inputs"][str(path)] for name, path in paths.items()}
    for name, row in per.items():
        assert row["accounting_closes"], name
    assert per["good.warc.gz"]["failed"] == {} and per["good.warc.gz"]["records_read"] == 3
    assert per["truncated-gzip.warc.gz"]["failed"] == {"corrupt_warc": 1}
    assert per["zero-byte.warc.gz"]["failed"] == {"empty_file": 1}
    assert per["not-a-warc.warc.gz"]["failed"] == {"not_warc": 1}
    assert per["page-50mb.warc.gz"]["failed"] == {"payload_too_large": 1}
    # Too long in a plain file: the record swallows the next one and runs past the end of the file.
    assert per["content-length-too-long.warc"]["failed"] == {"corrupt_warc": 1}
    # In a gzip member per record the member's end bounds the record, so the next one is still read.
    assert per["content-length-too-long.warc.gz"]["records_read"] == 3
    # Too short: the page is cut (nothing to extract) and warcio finds the next record again.
    for name in ("content-length-too-short.warc", "content-length-too-short.warc.gz"):
        assert per[name]["records_read"] == 3, name
        assert per[name]["removed"].get("extract:empty") == 1, name
    # Odd but readable pages go through extraction and come out with a decision, not a crash.
    for name in ("huge-headers.warc.gz", "nested-100k.warc.gz", "invalid-charset.warc.gz"):
        assert not per[name]["failed"], name
    assert per["huge-headers.warc.gz"]["records_read"] == 3
    assert per["nested-100k.warc.gz"]["records_read"] == 2
    assert per["invalid-charset.warc.gz"]["documents_kept"] == 1
    # The shared article survives once over all the files (dedup), plus the page with the bad charset.
    assert stats["documents_kept"] == 2
