"""Damage that cost a whole file or stalled its worker (issue 21, defects 2 and 5).

A stretch of bytes without a line end (zeros: a hole a crash left in a file, a disk error) made
warcio's line reader work for hours, as its time grows with the square of a line's length; a
named pipe or a device as an input blocked or never ended. A bad Content-Length in one record of a
gzip-per-record file made the reader take the file for a single gzip member, and the records after
it were neither read nor counted. Each test makes its input and pins the outcome: the good records
are read and counted, the damage is one row, in bounded time (the timeouts prove "does not hang",
they measure nothing) and bounded memory.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hostile_inputs import article_page
from run_outputs import data_table
from warc_bytes import gzip_members, page, warcinfo

from crawlsieve.core.stages import ERROR, FAILED
from crawlsieve.ingest.config import ReadConfig
from crawlsieve.ingest.warc import MAX_LINE_BYTES, read_warc
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline

CLI = str(Path(sys.executable).parent / "crawlsieve")
ZEROS = 64 << 20


def rows_of(path: Path) -> list[dict]:
    return [row for batch in read_warc(str(path), "t", ReadConfig()) for row in batch.to_pylist()]


def good_records(prefix: str, articles: range) -> list[bytes]:
    return [warcinfo(), *(page(f"https://{prefix}.example/{i}", article_page(i)) for i in articles)]


def with_zeros(path: Path, head: bytes, zeros: int, tail: bytes = b"") -> Path:
    """``head``, a hole of ``zeros`` zero bytes (sparse: nothing written), then ``tail``."""
    with open(path, "wb") as handle:
        handle.write(head)
        handle.seek(len(head) + zeros)
        handle.write(tail)
        handle.truncate(len(head) + zeros + len(tail))
    return path


def pack(records: list[bytes], gzipped: bool) -> bytes:
    return gzip_members(records) if gzipped else b"".join(records)


# Defect 2: a stretch without a line end.


@pytest.mark.timeout(60)
@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("after", [False, True], ids=["at-the-end", "then-a-record"])
def test_a_zero_stretch_is_one_damage_row_and_the_records_around_it_are_read(tmp_path, gzipped, after):
    head = pack(good_records("zeros", range(4)), gzipped)
    tail = pack([page("https://zeros.example/after", article_page(4))], gzipped) if after else b""
    path = with_zeros(tmp_path / f"zeros.warc{'.gz' if gzipped else ''}", head, ZEROS, tail)
    rows = rows_of(path)
    urls = [r["url"] for r in rows if not r[FAILED]]
    assert urls == ["", *(f"https://zeros.example/{i}" for i in range(4))] + (
        ["https://zeros.example/after"] if after else []
    )
    damage = [r for r in rows if r[FAILED]]
    assert [r[FAILED] for r in damage] == ["corrupt_warc"]
    assert "no line end within 4 MiB" in damage[0][ERROR]
    assert damage[0]["record_offset"] == len(head)  # where the zeros start
    if after:
        assert damage[0][ERROR].endswith(f"went on at byte {len(head) + ZEROS}")


@pytest.mark.timeout(60)
def test_a_file_of_zeros_is_one_damage_row(tmp_path):
    rows = rows_of(with_zeros(tmp_path / "zeros.warc.gz", b"", ZEROS))
    assert [(r[FAILED], r["record_offset"]) for r in rows] == [("corrupt_warc", 0)]


@pytest.mark.timeout(60)
def test_header_lines_up_to_the_bound_are_read_and_one_past_it_is_damage(tmp_path):
    """The bound is on a line, not a record: a 1 MiB header line is read (as in test_malformed)."""
    long_header = [("X-Crawler-Note", "b" * (1 << 20))]
    too_long = [("X-Crawler-Note", "b" * MAX_LINE_BYTES)]
    path = tmp_path / "long-lines.warc.gz"
    path.write_bytes(
        gzip_members(
            [
                warcinfo(),
                page("https://lines.example/long", article_page(0), extra_headers=long_header),
                page("https://lines.example/too-long", article_page(1), extra_headers=too_long),
                page("https://lines.example/after", article_page(2)),
            ]
        )
    )
    rows = rows_of(path)
    assert [r["url"] for r in rows if not r[FAILED]] == [
        "",
        "https://lines.example/long",
        "https://lines.example/after",
    ]
    assert [r[FAILED] for r in rows if r[FAILED]] == ["corrupt_warc"]


MEASURE = """
import resource, sys
from crawlsieve.ingest.config import ReadConfig
from crawlsieve.ingest.warc import read_warc
rows = [row for batch in read_warc(sys.argv[1], "t", ReadConfig()) for row in batch.to_pylist()]
print(len(rows), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.timeout(120)
def test_reading_a_256_mb_zero_stretch_holds_a_few_mb_not_the_stretch(tmp_path):
    """In a process of its own, as a worker reads: its peak memory minus that of reading the same
    records without the zeros stays far below the stretch (warcio held the whole line)."""
    head = gzip_members(good_records("rss", range(4)))
    clean = tmp_path / "clean.warc.gz"
    clean.write_bytes(head)
    zeros = with_zeros(tmp_path / "zeros.warc.gz", head, 256 << 20)

    def peak_kib(path: Path) -> tuple[int, int]:
        result = subprocess.run(
            [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=100
        )
        assert result.returncode == 0, result.stderr[-2000:]
        rows, peak = map(int, result.stdout.split())
        return rows, peak

    clean_rows, clean_peak = peak_kib(clean)
    zeros_rows, zeros_peak = peak_kib(zeros)
    assert (clean_rows, zeros_rows) == (5, 6)
    assert zeros_peak - clean_peak < 64 << 10, f"{(zeros_peak - clean_peak) >> 10} MiB more"


# Pipes and devices as inputs.


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "device", "fifo-in-a-listing"])
def test_a_named_pipe_or_a_device_as_input_is_refused_with_one_line(tmp_path, kind):
    good = tmp_path / "good.warc.gz"
    good.write_bytes(gzip_members(good_records("pipe", range(1))))
    fifo = tmp_path / "stream.warc.gz"
    os.mkfifo(fifo)  # nothing ever writes to it: opening it would wait forever
    stream, inputs = {
        "fifo": (fifo, [str(good), str(fifo)]),
        "device": (Path("/dev/zero"), [str(good), "/dev/zero"]),
        "fifo-in-a-listing": (fifo, [f"@{tmp_path / 'paths.txt'}"]),
    }[kind]
    (tmp_path / "paths.txt").write_text(f"{good}\n{fifo}\n")
    result = subprocess.run(
        [CLI, "run", *inputs, "--output", str(tmp_path / "out")], capture_output=True, text=True, timeout=50
    )
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    what = "a character device" if kind == "device" else "a named pipe"
    assert len(lines) == 1 and lines[0].startswith("crawlsieve run: error: "), lines
    assert f"input {stream} is {what}, not a file" in lines[0]
    assert not (tmp_path / "out").exists()


# Defect 5: one bad Content-Length in a gzip-per-record file.


def bad_content_length_file(content_length: str) -> bytes:
    """Six records, gzip per record; the second's Content-Length is ``content_length``."""
    return gzip_members(
        [
            warcinfo(),
            page("https://cl.example/bad", article_page(0), content_length=content_length),
            *(page(f"https://cl.example/{i}", article_page(i)) for i in range(1, 5)),
        ]
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("content_length", ["10", "-5", "abc"], ids=["short", "negative", "non-numeric"])
def test_a_bad_content_length_costs_the_rest_of_its_member_and_the_next_members_are_read(
    tmp_path, content_length
):
    path = tmp_path / "bad-cl.warc.gz"
    path.write_bytes(bad_content_length_file(content_length))
    rows = rows_of(path)
    assert [r["url"] for r in rows if not r[FAILED]] == [
        "",
        "https://cl.example/bad",
        *(f"https://cl.example/{i}" for i in range(1, 5)),
    ]
    damage = [r for r in rows if r[FAILED]]
    assert [r[FAILED] for r in damage] == ["corrupt_warc"], damage
    bad = next(r for r in rows if r["url"] == "https://cl.example/bad")
    assert damage[0]["record_offset"] == bad["record_offset"]
    assert "Content-Length ends inside its gzip member" in damage[0][ERROR]
    next_member = next(r for r in rows if r["url"] == "https://cl.example/1")["record_offset"]
    assert damage[0][ERROR].endswith(f"went on at byte {next_member}")


@pytest.mark.timeout(60)
def test_a_single_member_file_damaged_part_way_counts_the_bytes_it_did_not_read(tmp_path):
    """The same bad record in a file that is one gzip member: reading cannot go on, and the row
    counts the compressed bytes after the damage (warcio had read the whole small file ahead)."""
    records = [
        warcinfo(),
        page("https://one.example/0", article_page(0)),
        page("https://one.example/bad", article_page(1), content_length="abc"),
        *(page(f"https://one.example/{i}", article_page(i)) for i in range(2, 5)),
    ]
    data = gzip.compress(b"".join(records))
    path = tmp_path / "one-member.warc.gz"
    path.write_bytes(data)
    rows = rows_of(path)
    assert [r["url"] for r in rows if not r[FAILED]] == [
        "",
        "https://one.example/0",
        "https://one.example/bad",
    ]
    damage = rows[-1]
    assert damage[FAILED] == "truncated_file"
    unread, size = map(int, re.search(r"(\d+) of (\d+) bytes unread", damage[ERROR]).groups())
    assert size == len(data) and 0 < unread < size
    # The count is where the damage is: inflating the bytes before it gives the decompressed
    # stream up to the damage's offset, and a few bytes fewer do not.
    read = len(data) - unread
    assert len(zlib.decompressobj(31).decompress(data[:read])) >= damage["record_offset"]
    assert len(zlib.decompressobj(31).decompress(data[: read - 32])) < damage["record_offset"]
    assert damage["record_offset"] > b"".join(records).index(b"https://one.example/bad")


# Through a whole run.


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_run_over_a_zero_stretch_and_a_bad_content_length_counts_every_record(ray_local, tmp_path):
    zeros = with_zeros(
        tmp_path / "zeros.warc.gz",
        gzip_members(good_records("zeros", range(4))),
        ZEROS,
        gzip_members([page("https://zeros.example/after", article_page(4))]),
    )
    bad = tmp_path / "bad-cl.warc.gz"
    bad.write_bytes(bad_content_length_file("abc"))
    output = tmp_path / "out"
    stats = run_pipeline([str(zeros), str(bad)], output, Config(), report=False, log=lambda m: None)
    assert stats["accounting_closes"], stats
    assert json.loads((output / "stats.json").read_text())["records_read"] == stats["records_read"]
    per = {Path(name).name: row for name, row in stats["inputs"].items()}
    assert all(row["accounting_closes"] for row in per.values())
    assert per["zeros.warc.gz"]["records_read"] == 6 + 1 and per["zeros.warc.gz"]["failed"] == {
        "corrupt_warc": 1
    }
    assert per["bad-cl.warc.gz"]["records_read"] == 6 + 1 and per["bad-cl.warc.gz"]["failed"] == {
        "corrupt_warc": 1
    }
    # Each article is kept once: the bad file's four good pages are copies of the zero file's pages
    # 1 to 3 and of the page after the zeros, so dedup keeps one of each pair.
    kept = data_table(output).column("url").to_pylist()
    pairs = [(f"https://zeros.example/{i}", f"https://cl.example/{i}") for i in range(1, 4)]
    pairs.append(("https://zeros.example/after", "https://cl.example/4"))
    assert len(kept) == 5 and "https://zeros.example/0" in kept
    assert all(len(set(pair) & set(kept)) == 1 for pair in pairs), kept
    assert stats["removed"].get("dedup:exact") == 4, stats["removed"]
