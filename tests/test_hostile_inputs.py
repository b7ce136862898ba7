"""Hostile inputs and operational faults (issue 12): one bad record never costs a run, a file or a count.

Each test generates its input (``hostile_inputs``, raw WARC bytes) and pins the outcome: the run
ends, the accounting closes with every record of the file counted, and the outputs are written;
or, where the outcome is a refusal, exit status 2 and one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pytest
from hostile_inputs import (
    NON_UTF8_NAME,
    content_encodings,
    duplicate_record_ids,
    overflowing_content_length,
    punycode_charset,
    single_gzip_member,
    slow_page_file,
)
from run_outputs import clean_env, data_table
from test_faults import find_task_process
from warc_bytes import gzip_members, page, warcinfo

from crawlsieve.core.layout import RunLayout
from crawlsieve.core.stages import FAILED
from crawlsieve.ingest import warc as warc_module
from crawlsieve.ingest.config import ReadConfig
from crawlsieve.ingest.warc import read_warc
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline

CLI = str(Path(sys.executable).parent / "crawlsieve")


def rows_of(path: Path) -> list[dict]:
    return [row for batch in read_warc(str(path), "t", ReadConfig()) for row in batch.to_pylist()]


def run(paths: list[Path], output: Path, config: Config | None = None, report: bool = True) -> dict:
    stats = run_pipeline(
        [str(p) for p in paths], output, config or Config(), report=report, log=lambda m: None
    )
    assert stats["accounting_closes"], stats
    for row in stats["inputs"].values():
        assert row["accounting_closes"], row
    return stats


# 1. An exception from the WARC reader is the file's damage, never the task's failure.


def test_an_overflowing_content_length_is_one_damaged_record_and_the_file_goes_on(tmp_path):
    path = tmp_path / "overflow.warc.gz"
    path.write_bytes(overflowing_content_length())
    rows = rows_of(path)
    assert [r["url"] for r in rows if r["record_type"]] == [
        "",
        "https://overflow.example/before",
        "https://overflow.example/after",
    ]
    damage = [r for r in rows if r[FAILED]]
    assert len(damage) == 1 and damage[0][FAILED] == "corrupt_warc"
    assert "OverflowError" in damage[0]["_error"] and "went on at byte" in damage[0]["_error"]


class _Unforeseen(Exception):
    """An exception type no list of known read errors can name."""


def test_any_exception_type_from_the_reader_becomes_corrupt_warc_and_reading_goes_on(tmp_path, monkeypatch):
    path = tmp_path / "three.warc.gz"
    path.write_bytes(gzip_members([warcinfo(), *(page(f"https://x.example/{i}") for i in range(3))]))
    real = warc_module._record_row

    def flaky(record, warc_path, dump, offset, config):
        if record.rec_headers.get_header("WARC-Target-URI") == "https://x.example/1":
            raise _Unforeseen("something nobody expected")
        return real(record, warc_path, dump, offset, config)

    monkeypatch.setattr(warc_module, "_record_row", flaky)
    rows = rows_of(path)
    assert [r["url"] for r in rows if r["record_type"] == "response"] == [
        "https://x.example/0",
        "https://x.example/2",
    ]
    assert [r["_error"].split(":")[0] for r in rows if r[FAILED]] == ["_Unforeseen"]


@pytest.mark.slow
def test_a_run_over_an_overflowing_record_ends_with_every_record_counted(ray_local, tmp_path):
    path = tmp_path / "overflow.warc.gz"
    path.write_bytes(overflowing_content_length())
    stats = run([path], tmp_path / "out")
    assert stats["records_read"] == 4 and stats["failed"] == {"corrupt_warc": 1}
    assert stats["documents_kept"] == 2
    assert (tmp_path / "out" / "report.html").is_file()


# 2. Repeated WARC-Record-IDs: every record its own id and its own dedup decision.


@pytest.mark.slow
def test_repeated_record_ids_within_and_across_files_get_unique_ids_and_their_own_decisions(
    ray_local, tmp_path
):
    shared = "0a0a0a0a-0000-4000-8000-000000000001"
    first, second = duplicate_record_ids(shared)
    paths = [tmp_path / "ids-1.warc.gz", tmp_path / "ids-2.warc.gz"]
    for path, data in zip(paths, (first, second), strict=True):
        path.write_bytes(data)
    stats = run(paths, tmp_path / "out")
    kept = data_table(tmp_path / "out").to_pylist()
    ids = [row["id"] for row in kept]
    assert len(ids) == len(set(ids)) == 3, ids
    urls = sorted(row["url"] for row in kept)
    assert urls[1:] == ["https://dup-id.example/b", "https://dup-id.example/c"], urls
    assert urls[0] in ("https://dup-id.example/a", "https://dup-id.example/a-again"), urls
    assert {row["warc_record_id"] for row in kept} == {shared}
    assert stats["removed"].get("dedup:exact") == 1, stats["removed"]
    renamed = [i for i in ids if i != shared]
    assert all(i.startswith(f"{shared}@") for i in renamed) and len(renamed) == 2
    out = tmp_path / "out"
    assert (out / "mixture.json").is_file() and (out / "report.html").is_file()
    assert any((out / "review" / "removed").glob("*.jsonl"))


# 3. The per-page time limit is hard: a page lxml spins on for hours is stopped.


@pytest.mark.slow
def test_a_page_with_a_million_attributes_times_out_and_the_rest_of_the_file_is_kept(ray_local, tmp_path):
    path = tmp_path / "attributes.warc.gz"
    path.write_bytes(slow_page_file())
    config = Config()
    config.extract.timeout_seconds = 3
    started = time.monotonic()
    stats = run([path], tmp_path / "out", config)
    assert time.monotonic() - started < 120
    assert stats["failed"] == {"extract_timeout": 1}
    assert sorted(r["url"] for r in data_table(tmp_path / "out").to_pylist()) == [
        "https://slow.example/after",
        "https://slow.example/before",
    ]


# 4. Content encodings: brotli and zstd decoded; a broken body costs only its record.


def test_brotli_and_zstd_bodies_are_decoded_and_a_broken_one_fails_alone(tmp_path):
    path = tmp_path / "encodings.warc.gz"
    path.write_bytes(content_encodings())
    rows = {r["url"]: r for r in rows_of(path) if r["url"]}
    assert rows["https://enc.example/br"]["html"].startswith(b"<!DOCTYPE html>")
    assert rows["https://enc.example/zstd"]["html"].startswith(b"<!DOCTYPE html>")
    assert rows["https://enc.example/broken-br"][FAILED] == "payload_decode_error"
    assert rows["https://enc.example/plain"]["html"] and not rows["https://enc.example/plain"][FAILED]


def test_a_brotli_bomb_stops_at_the_payload_limit(tmp_path):
    import brotli

    bomb = brotli.compress(b"<p>" + b"a" * 200_000_000)
    record = warc_module_record("https://bomb.example/", bomb, "br")
    path = tmp_path / "bomb.warc.gz"
    path.write_bytes(gzip_members([warcinfo(), record]))
    rows = [
        row
        for batch in read_warc(str(path), "t", ReadConfig(max_payload_bytes=1_000_000))
        for row in batch.to_pylist()
    ]
    assert rows[-1][FAILED] == "payload_too_large"


def warc_module_record(uri: str, body: bytes, encoding: str) -> bytes:
    from hostile_inputs import encoded_page

    return encoded_page(uri, body, encoding)


def test_reading_that_cannot_go_on_counts_the_unread_rest_as_truncated_file(tmp_path):
    data = bytearray(single_gzip_member(pages=400))  # long enough that warcio reads its start
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64  # breaks the one deflate stream
    path = tmp_path / "broken-single-member.warc.gz"
    path.write_bytes(bytes(data))
    rows = rows_of(path)
    assert rows[-1][FAILED] == "truncated_file"
    assert "bytes unread" in rows[-1]["_error"]
    assert sum(1 for r in rows if r[FAILED]) == 1 and len(rows) > 100


@pytest.mark.slow
def test_a_run_over_encoded_bodies_keeps_them_and_counts_every_record(ray_local, tmp_path):
    path = tmp_path / "encodings.warc.gz"
    path.write_bytes(content_encodings())
    stats = run([path], tmp_path / "out")
    assert stats["records_read"] == 5
    assert stats["failed"] == {"payload_decode_error": 1}
    assert sorted(r["url"] for r in data_table(tmp_path / "out").to_pylist()) == [
        "https://enc.example/br",
        "https://enc.example/plain",
        "https://enc.example/zstd",
    ]


# 5. One gzip member for the whole file: read whole.


def test_a_warc_gz_written_as_one_gzip_member_is_read_whole(tmp_path):
    path = tmp_path / "one-member.warc.gz"
    path.write_bytes(single_gzip_member())
    rows = rows_of(path)
    assert len(rows) == 5 and not any(r[FAILED] for r in rows)
    offsets = [r["record_offset"] for r in rows]
    assert offsets == sorted(offsets) and offsets[0] == 0 and len(set(offsets)) == 5


# 7. A file name that is not UTF-8.


@pytest.mark.slow
def test_a_non_utf8_file_name_runs_and_is_shown_escaped(ray_local, tmp_path):
    path = tmp_path / NON_UTF8_NAME
    path.write_bytes(gzip_members([warcinfo(), page("https://latin1.example/")]))
    stats = run([path], tmp_path / "out")
    shown = os.fsencode(path).decode("utf-8", "backslashreplace")
    assert list(stats["inputs"]) == [shown] and "\\xe9" in shown
    assert stats["documents_kept"] == 1
    assert data_table(tmp_path / "out").column("warc_path").to_pylist() == [shown]


@pytest.mark.slow
def test_a_non_utf8_file_name_on_the_command_line_starts_ray_and_runs(tmp_path):
    """Ray records the driver's command line as UTF-8: the name there must not stop ``ray.init``."""
    path = tmp_path / NON_UTF8_NAME
    path.write_bytes(gzip_members([warcinfo(), page("https://latin1.example/")]))
    driver = _start_run([path], tmp_path / "out")
    _, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr
    stats = json.loads(RunLayout(tmp_path / "out").stats.read_text(encoding="utf-8"))
    assert list(stats["inputs"]) == [os.fsencode(path).decode("utf-8", "backslashreplace")]
    assert stats["accounting_closes"] and stats["documents_kept"] == 1


# 8. A charset that is a codec but no charset.


@pytest.mark.slow
def test_a_page_declaring_charset_punycode_is_kept(ray_local, tmp_path):
    path = tmp_path / "puny.warc.gz"
    path.write_bytes(punycode_charset())
    stats = run([path], tmp_path / "out", report=False)
    assert stats["documents_kept"] == 1 and not stats["failed"]


# 9. Config files that are not YAML, or not the config they look like.


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"read: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
        (b"read:\n  batch_records: 10\n  \xff\xfe: 1\n", "not UTF-8"),
        (b"read:\n  batch_records: 10\n  batch_records: 20\n", "key 'batch_records' given twice (line 3)"),
        (b"read: {batch_records: 100000000}\n", "read.batch_records"),
        (b"dedup: {max_rounds: 99999999}\n", "dedup.max_rounds"),
    ],
)
def test_a_bad_config_file_is_refused_with_one_line_and_status_2(tmp_path, content, message):
    config = tmp_path / "config.yaml"
    config.write_bytes(content)
    result = subprocess.run(
        [CLI, "config", "--check", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


# 6 and 10: one run per output directory; Ctrl-C and SIGTERM stop a run, resumably.


def _start_run(inputs: list[Path], output: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            CLI,
            "run",
            *map(str, inputs),
            "--output",
            str(output),
            "--num-cpus",
            "1",
            *extra,
        ],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives a foreground job
    )


def _wait_until_processing(driver: subprocess.Popen, timeout: float = 180) -> None:
    """Until a Ray worker of the run executes a phase-A task."""
    find_task_process(psutil.Process(driver.pid), "extract_batch", timeout)


def _slow_inputs(directory: Path, files: int = 3) -> list[Path]:
    """Files whose million-attribute page keeps a run busy for the time limit."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        path = directory / f"slow-{i}.warc.gz"
        path.write_bytes(slow_page_file())
        paths.append(path)
    return paths


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_second_run_into_the_same_output_is_refused_and_resume_takes_over_a_dead_holder(tmp_path):
    inputs = _slow_inputs(tmp_path / "in")
    output = tmp_path / "out"
    first = _start_run(inputs, output)
    try:
        _wait_until_processing(first)
        second = subprocess.run(
            [CLI, "run", *map(str, inputs), "--output", str(output)],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "is in use by run" in lines[0] and f"pid {first.pid}" in lines[0], lines
        os.killpg(first.pid, signal.SIGKILL)  # the holder dies without a word
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    resumed = subprocess.run(
        [
            CLI,
            "run",
            *map(str, inputs),
            "--output",
            str(output),
            "--resume",
            "--no-report",
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    stats = json.loads((output / "stats.json").read_text())
    assert stats["accounting_closes"] and stats["records_read"] == 4 * len(inputs)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_within_seconds_and_leaves_it_resumable(tmp_path, signum, status):
    inputs = _slow_inputs(tmp_path / "in")
    output = tmp_path / "out"
    driver = _start_run(inputs, output, "--config", str(_short_timeout(tmp_path)))
    try:
        _wait_until_processing(driver)
        time.sleep(1)
        os.killpg(driver.pid, signum) if signum == signal.SIGINT else driver.send_signal(signum)
        sent = time.monotonic()
        _, stderr = driver.communicate(timeout=60)
        stopped_after = time.monotonic() - sent
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == status, stderr[-2000:]
    assert stopped_after < 20, stopped_after
    last = stderr.strip().splitlines()[-1]
    assert "stopped by" in last and "--resume" in last, last
    assert "Traceback" not in stderr
    config = str(_short_timeout(tmp_path))
    resumed = subprocess.run(
        [
            CLI,
            "run",
            *map(str, inputs),
            "--output",
            str(output),
            "--resume",
            "--no-report",
            "--config",
            config,
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((output / "stats.json").read_text())["accounting_closes"]


def _short_timeout(directory: Path) -> Path:
    path = directory / "short-timeout.yaml"
    path.write_text("extract: {timeout_seconds: 3}\n")
    return path


def test_reader_rows_form_a_valid_arrow_table_for_every_case(tmp_path):
    """Guards the builders: each hostile file is read into the reader's schema without raising."""
    from hostile_inputs import write_all

    for path in write_all(tmp_path).values():
        tables = list(read_warc(str(path), "t", ReadConfig()))
        assert tables and all(isinstance(t, pa.Table) and t.num_rows for t in tables)
