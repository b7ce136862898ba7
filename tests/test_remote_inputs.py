"""Remote inputs over http(s) (issue 21, defect 1): throttling, broken and stalled bodies.

A local server of this test (threaded, on 127.0.0.1, plain or TLS) serves generated WARC files
and meets each GET with the fault the test scripted for it: a 503 Slow Down, a body cut short, a
Content-Length longer than the body, a reset connection, a body that stalls. Retries, backoff and
the timeout are set small (``FAST``) so every case runs in seconds.
"""

from __future__ import annotations

import http.server
import json
import os
import random
import re
import socket
import ssl
import struct
import sys
import threading
from pathlib import Path

import pytest
import yaml
from run_outputs import data_rows, decisions
from warc_bytes import ARTICLE, gzip_members, page, warcinfo

from crawlsieve.core.layout import RunLayout
from crawlsieve.core.ledger import UNFINISHED_FILE
from crawlsieve.core.stages import FAILED
from crawlsieve.ingest.config import HttpConfig, ReadConfig
from crawlsieve.ingest.inputs import resolve_inputs, shard_name
from crawlsieve.ingest.warc import read_warc
from crawlsieve.pipelines.cli import main as cli
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.samples.warcs import html_page

#: Bytes of noise (hex) per page where a test breaks a body.
PADDING = 200_000
FAST = {"retries": 3, "retry_wait_seconds": 0.01, "retry_max_wait_seconds": 0.05, "timeout_seconds": 1.0}
RECORDS = 20


class _QuietServer(http.server.ThreadingHTTPServer):
    """A client closing its kept-alive connection is no fault of the test: the stock server would
    print the reset to stderr, which the tests read for crawlsieve's one line."""

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FaultyServer:
    """Files over HTTP(S) on 127.0.0.1, honouring `Range: bytes=N-`, with faults scripted per path.

    ``serve(path, data, *faults, refuse=False)``: the next GETs of ``path`` meet ``faults`` in
    order, then the file is served (or, with ``refuse``, answered 503 until ``heal(path)``).
    Faults: "503" (Slow Down); "cut" (half the body, then the connection closes); "reset" (half the
    body, then a TCP reset); "long" (the whole file under a Content-Length 1,000 bytes longer,
    then the connection closes); "stall" (half the body, then nothing until the test ends).
    ``requests``: (path, Range header) of every GET, in order.
    """

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list[str]] = {}
        self.refusing: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        self.ended = threading.Event()
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                with server.lock:
                    server.requests.append((self.path, self.headers.get("Range")))
                    script = server.faults.get(self.path) or []
                    fault = script.pop(0) if script else ("503" if self.path in server.refusing else None)
                data = server.files.get(self.path)
                if data is None:
                    self._answer(404, b"not found")
                elif fault == "503":
                    self._answer(503, b"<Error><Code>SlowDown</Code></Error>", "Slow Down")
                elif fault == "long":
                    self._headers(200, len(data) + 1000)
                    self.wfile.write(data)
                    self.close_connection = True
                else:
                    self._range(data, fault)

            def _range(self, data: bytes, fault: str | None) -> None:
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                first = int(match[1]) if match else 0
                if first >= len(data) > 0:
                    self._answer(416, b"", content_range=f"bytes */{len(data)}")
                    return
                body = data[first:]
                self._headers(206, len(body), f"bytes {first}-{len(data) - 1}/{len(data)}")
                if fault is None:
                    self.wfile.write(body)
                    return
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                if fault == "stall":
                    server.ended.wait(300)
                elif fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                self.close_connection = True

            def _headers(self, status: int, length: int, content_range: str | None = None, reason=None):
                self.send_response(status, reason)
                self.send_header("Content-Length", str(length))
                if content_range:
                    self.send_header("Content-Range", content_range)
                self.end_headers()

            def _answer(self, status: int, body: bytes, reason=None, content_range=None) -> None:
                self._headers(status, len(body), content_range, reason)
                self.wfile.write(body)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, path: str, data: bytes, *faults: str, refuse: bool = False) -> str:
        with self.lock:
            self.files[path], self.faults[path] = data, list(faults)
            if refuse:
                self.refusing.add(path)
        return self.url + path

    def heal(self, path: str) -> None:
        with self.lock:
            self.refusing.discard(path)

    def ranges(self, path: str) -> list[str | None]:
        return [r for p, r in self.requests if p == path]

    def close(self) -> None:
        self.ended.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(params=["http", "https"])
def server(request, tls_context):
    faulty = FaultyServer(tls_context if request.param == "https" else None)
    yield faulty
    faulty.close()


@pytest.fixture
def https(tls_context):
    faulty = FaultyServer(tls_context)
    yield faulty
    faulty.close()


@pytest.fixture
def plain():
    """For a command run in this process, whose aiohttp may not trust the test certificate."""
    faulty = FaultyServer()
    yield faulty
    faulty.close()


def read_config(**http) -> ReadConfig:
    """Fast retries; this process trusts the test certificate through the session's options
    (aiohttp read SSL_CERT_FILE when it was imported, maybe before the certificate existed)."""
    client = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    return ReadConfig(http=HttpConfig(**{**FAST, **http}), storage_options={"https": {"ssl": client}})


def warc_file(name: str, padding: int = 0) -> bytes:
    """A gzip-per-record WARC file of ``RECORDS`` records: a warcinfo and pages, each page with
    ``padding`` bytes of noise in a comment.

    A body that breaks loses what aiohttp had received but not handed over yet (hundreds of KiB
    at most): with ``PADDING``, a file is ~2 MB, and a break in its middle follows data read.
    """
    noise = random.Random(name)
    html = html_page("A page", ARTICLE).encode()
    pages = [
        page(
            f"https://{name}.example/{i}",
            html + b"<!-- %s -->" % noise.randbytes(padding // 2).hex().encode(),
        )
        for i in range(RECORDS - 1)
    ]
    return gzip_members([warcinfo(), *pages])


def rows_of(url: str, config: ReadConfig) -> list[dict]:
    return [row for batch in read_warc(url, "t", config) for row in batch.to_pylist()]


def assert_read_whole(rows: list[dict]) -> None:
    assert len(rows) == RECORDS, [(r["record_offset"], r[FAILED], r["_error"]) for r in rows if r[FAILED]]
    assert not [r for r in rows if r[FAILED]]


# The reader: every transient fault is retried or resumed, and the file is read whole.


def test_two_503_slow_downs_are_retried_and_the_file_is_read_whole(server):
    url = server.serve("/a.warc.gz", warc_file("a"), "503", "503")
    assert_read_whole(rows_of(url, read_config()))
    assert server.ranges("/a.warc.gz") == ["bytes=0-"] * 3


def starts(server: FaultyServer, path: str) -> list[int]:
    """Where each GET of ``path`` asked the body to start."""
    return [int(re.fullmatch(r"bytes=(\d+)-", r)[1]) for r in server.ranges(path)]


def test_a_body_broken_twice_is_resumed_from_the_last_byte_received(server):
    data = warc_file("b", padding=PADDING)
    url = server.serve("/b.warc.gz", data, "cut", "reset")
    assert_read_whole(rows_of(url, read_config()))
    first, second, third = starts(server, "/b.warc.gz")
    assert first == 0 and 0 < second <= len(data) // 2 and second <= third < len(data)


def test_a_content_length_longer_than_the_body_is_not_taken_for_its_end(server):
    data = warc_file("c", padding=PADDING)
    url = server.serve("/c.warc.gz", data, "long")
    assert_read_whole(rows_of(url, read_config()))
    first, second = starts(server, "/c.warc.gz")  # the second answered 206, or 416 at the end
    assert first == 0 and 0 < second <= len(data)


@pytest.mark.timeout(60)  # the server holds the body for 300 s, as long as aiohttp's default waits
def test_a_stalled_body_times_out_and_is_resumed(server):
    data = warc_file("d", padding=PADDING)
    url = server.serve("/d.warc.gz", data, "stall")
    assert_read_whole(rows_of(url, read_config()))
    assert starts(server, "/d.warc.gz") == [0, len(data) // 2]  # all it got before the stall was used


# Past the retries: one unfinished_file row that says what was not received.


def test_a_file_the_server_keeps_refusing_is_one_unfinished_file_row(https):
    url = https.serve("/e.warc.gz", warc_file("e"), refuse=True)
    rows = rows_of(url, read_config())
    assert [r[FAILED] for r in rows] == [UNFINISHED_FILE]
    assert "HTTP 503 Slow Down (given up after 3 retries)" in rows[0]["_error"], rows[0]["_error"]
    assert len(https.requests) == 4


def test_a_file_cut_off_mid_body_keeps_its_records_and_says_how_many_bytes_it_lacks(https):
    data = warc_file("f", padding=PADDING)
    url = https.serve("/f.warc.gz", data, "cut", refuse=True)
    rows = rows_of(url, read_config())
    assert [r[FAILED] for r in rows[:-1]] == [None] * (len(rows) - 1) and 1 < len(rows) < RECORDS
    assert rows[-1][FAILED] == UNFINISHED_FILE
    received = rows[-1]["record_offset"]  # what aiohttp handed over before the cut, at most half
    assert 0 < received <= len(data) // 2
    assert rows[-1]["_error"].endswith(f"; {len(data) - received} of {len(data)} bytes not received")


def test_a_missing_file_is_an_open_error_and_not_retried(https):
    rows = rows_of(https.url + "/nothing.warc.gz", read_config())
    assert [r[FAILED] for r in rows] == ["open_error"] and "404" in rows[0]["_error"]
    assert len(https.requests) == 1


# Listings: the crawl name's warc.paths.gz and @listing URLs are retried the same way.


def test_a_crawl_listing_and_an_at_listing_answered_503_twice_are_retried(https):
    import gzip

    names = "crawl-data/CC-MAIN-2024-10/segments/1/warc/x.warc.gz\n"
    https.serve("/crawl-data/CC-MAIN-2024-10/warc.paths.gz", gzip.compress(names.encode()), "503", "503")
    listing = https.serve("/list.txt", f"{https.url}/y.warc.gz\n".encode(), "503", "503")
    read = read_config().model_copy(update={"crawl_base_url": https.url})
    assert resolve_inputs(["CC-MAIN-2024-10", "@" + listing], read) == [
        f"{https.url}/{names.strip()}",
        f"{https.url}/y.warc.gz",
    ]


def test_a_listing_the_server_keeps_refusing_fails_the_run_with_one_line(plain, tmp_path, capsys):
    listing = plain.serve("/list.txt", b"a.warc.gz\n", refuse=True)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"read": {"http": FAST}}))
    status = cli(["run", "@" + listing, "--output", str(tmp_path / "out"), "--config", str(config)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and len(err) == 1, err
    assert f"cannot read listing {listing} now: HTTP 503 Slow Down (given up after 3 retries)" in err[0]


# A run: the file the server stops serving is not done; --resume reads it, and the run is whole.


def run_cli(inputs: list[str], output: Path, config: Path, capsys, *extra: str) -> tuple[int, list[str]]:
    status = cli(["run", *inputs, "--output", str(output), "--config", str(config), "--no-report", *extra])
    return status, capsys.readouterr().err.strip().splitlines()


COUNTS = ("records_read", "pages_read", "documents_kept", "removed", "failed", "inputs", "stages", "counters")


def comparable(stats: dict) -> dict:
    return {key: stats[key] for key in (*COUNTS, "inputs_unfinished", "accounting_closes")}


@pytest.mark.timeout(400)
def test_a_file_the_server_stops_serving_is_not_done_and_resume_finishes_the_run(
    ray_local, https, tmp_path, capsys
):
    throttled = https.serve("/throttled.warc.gz", warc_file("g"), "503", "503", "cut")
    lost = https.serve("/lost.warc.gz", warc_file("h", padding=PADDING), "cut", refuse=True)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"read": {"http": {**FAST, "retries": 2}}}))
    output = tmp_path / "out"

    status, err = run_cli([throttled, lost], output, config, capsys)
    assert status == 1, err
    assert err[-1].startswith("crawlsieve run: 1 input file(s) not finished"), err
    assert lost in err[-1] and throttled not in err[-1] and "--resume" in err[-1], err[-1]
    stats = json.loads((output / "stats.json").read_text())
    assert stats["inputs_unfinished"] == 1 and stats["accounting_closes"], stats
    assert stats["inputs"][throttled]["records_read"] == RECORDS and not stats["inputs"][throttled]["failed"]
    assert stats["inputs"][lost]["failed"] == {UNFINISHED_FILE: 1}
    assert 1 < stats["inputs"][lost]["records_read"] < RECORDS  # what arrived before the cut, and the row
    done = {p.stem for p in RunLayout(output).markers("extract")}
    assert done == {shard_name(throttled)}

    https.heal("/lost.warc.gz")
    # Other retry settings do not make it another run: the next try may well want more patience.
    config.write_text(yaml.safe_dump({"read": {"http": {**FAST, "retries": 5}}}))
    status, err = run_cli([throttled, lost], output, config, capsys, "--resume")
    assert status == 0, err
    assert "2 input file(s), 1 to process, 1 done before" in "\n".join(err)
    resumed = json.loads((output / "stats.json").read_text())
    assert resumed["inputs_unfinished"] == 0 and resumed["inputs"][lost]["records_read"] == RECORDS

    clean = run_pipeline(
        [throttled, lost],
        tmp_path / "clean",
        Config(read=ReadConfig(http=HttpConfig(**FAST))),
        report=False,
        log=lambda m: None,
    )
    assert comparable(resumed) == comparable(clean)
    assert data_rows(output) == data_rows(tmp_path / "clean")
    assert decisions(output) == decisions(tmp_path / "clean")
