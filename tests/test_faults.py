"""A Ray worker SIGKILLed in the middle of a file: the task is retried and nothing changes.

The run is a `crawlsieve run` subprocess with its own local Ray. One of its inputs is served by a
local HTTP server of this test that, until released, sends the first half of the file and then
holds the connection: the task reading it is, for certain, in the middle of its file when the test
kills the worker process connected to the server. The retried task asks again and gets the whole
file. No timing decides what is killed.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from run_outputs import clean_env, data_rows, decisions

from crawlsieve.core.layout import RunLayout
from crawlsieve.samples.warcs import generate_sample_warcs

BIN = Path(sys.executable).parent
TASK_TITLE = "extract_batch"
TIMEOUT = 240


def find_task_process(root: psutil.Process, title: str, timeout: float) -> psutil.Process:
    """The first descendant of ``root`` whose process title shows it running ``title``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if title in " ".join(process.cmdline()):
                    return process
        if not root.is_running():
            break
        time.sleep(0.05)
    raise AssertionError(f"no process ran {title} within {timeout}s")


def client_of(root: psutil.Process, port: int, timeout: float) -> psutil.Process:
    """The descendant of ``root`` with a TCP connection to ``port`` on this machine."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any(c.raddr and c.raddr.port == port for c in process.net_connections("tcp")):
                    return process
        time.sleep(0.05)
    raise AssertionError(f"no process connected to port {port} within {timeout}s")


def kill_tree(root: psutil.Process) -> None:
    """Whatever is left of the run (nothing, when it ended well)."""
    with contextlib.suppress(psutil.Error):
        for process in [*root.children(recursive=True), root]:
            with contextlib.suppress(psutil.Error):
                process.kill()


class StallingServer:
    """Serves ``data`` over HTTP on 127.0.0.1 (HEAD and ranged GET, as fsspec reads). Until
    ``release()``, a GET sends the first half of its range and then holds the connection open."""

    def __init__(self, data: bytes):
        self.data = data
        self.stalled = threading.Event()
        self.released = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                self._headers(200, len(server.data))

            def _headers(self, status: int, length: int, first: int = 0) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(length))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header(
                        "Content-Range", f"bytes {first}-{first + length - 1}/{len(server.data)}"
                    )
                self.end_headers()

            def do_GET(self) -> None:
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
                first, last = (int(match[1]), int(match[2] or len(server.data) - 1)) if match else (0, None)
                body = server.data[first : None if last is None else last + 1]
                self._headers(206 if match else 200, len(body), first)
                if server.released.is_set():
                    self.wfile.write(body)
                    return
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                server.stalled.set()
                server.released.wait(timeout=300)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/stalling.warc.gz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.release()
        self.httpd.shutdown()


def run_over(inputs: list[str], output: Path) -> subprocess.Popen:
    command = [str(BIN / "crawlsieve"), "run", *inputs, "--output", str(output), "--num-cpus", "2"]
    return subprocess.Popen(
        [*command, "--no-report"], env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_killing_a_worker_mid_file_retries_its_task_and_the_output_matches_an_undisturbed_run(tmp_path):
    warcs = generate_sample_warcs(tmp_path / "in", files=4, pages_per_file=40)
    outputs = {}
    for name, disturb in (("disturbed", True), ("undisturbed", False)):
        server = StallingServer(warcs[0].read_bytes())
        if not disturb:
            server.release()
        output = tmp_path / name
        driver = run_over([*map(str, warcs[1:]), server.url], output)
        root = psutil.Process(driver.pid)
        try:
            if disturb:
                assert server.stalled.wait(timeout=180), "no task read the served file"
                victim = client_of(root, server.port, timeout=60)
                assert TASK_TITLE in " ".join(victim.cmdline()), "the server's client is not a phase-A task"
                victim.kill()
                victim.wait(timeout=30)
                server.release()
            stdout, stderr = driver.communicate(timeout=TIMEOUT)
        finally:
            kill_tree(root)
            server.close()
        assert driver.returncode == 0, stderr[-3000:]
        assert "accounting closes" in stdout
        outputs[name] = output
        assert len(RunLayout(output).markers("extract")) == len(warcs)

    def without_paths(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "warc_path"} for row in rows]

    assert without_paths(data_rows(outputs["disturbed"])) == without_paths(data_rows(outputs["undisturbed"]))
    fates = decisions(outputs["disturbed"])
    assert len(fates) > 100 and fates == decisions(outputs["undisturbed"])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_file_whose_worker_dies_on_every_attempt_becomes_one_worker_lost_row(tmp_path):
    warcs = generate_sample_warcs(tmp_path / "in", files=2, pages_per_file=10)
    config = tmp_path / "one-retry.yaml"
    config.write_text("ray: {max_task_retries: 1}\n", encoding="utf-8")
    server = StallingServer(warcs[0].read_bytes())  # never released: every attempt stalls
    output = tmp_path / "out"
    command = [str(BIN / "crawlsieve"), "run", str(warcs[1]), server.url, "--output", str(output)]
    driver = subprocess.Popen(
        [*command, "--num-cpus", "2", "--no-report", "--config", str(config)],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    root = psutil.Process(driver.pid)
    try:
        for _ in range(2):  # the first attempt and its one retry
            assert server.stalled.wait(timeout=180), "no task read the served file"
            server.stalled.clear()
            victim = client_of(root, server.port, timeout=60)
            victim.kill()
            victim.wait(timeout=30)
        _, stderr = driver.communicate(timeout=TIMEOUT)
    finally:
        kill_tree(root)
        server.close()
    assert driver.returncode == 0, stderr[-3000:]
    stats = json.loads((output / "stats.json").read_text())
    assert stats["accounting_closes"] and stats["failed"].get("worker_lost") == 1
    assert stats["inputs"][server.url]["failed"] == {"worker_lost": 1}
    assert stats["inputs"][str(warcs[1])]["documents_kept"] > 0
