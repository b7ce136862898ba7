"""`ray job submit` against a local `ray start --head`, the way deploy/README.md tells users to.

The head uses non-default ports and its own --temp-dir so it cannot collide with other Ray
instances on the machine, and token authentication, which Ray enables for a new cluster: the
client needs the same token. Everything the head starts is in one process group, ended in a
finally.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
GCS_PORT, DASHBOARD_PORT, CLIENT_PORT = 6390, 8275, 10011
# Ray's default worker ports (10002-19999) would include CLIENT_PORT: give workers their own range.
WORKER_PORTS = (21000, 21999)
DASHBOARD_AGENT_PORT = 52375  # the default 52365 may belong to another head on this machine


@dataclass
class LocalHead:
    address: str
    env: dict[str, str]
    temp_dir: Path

    def ray(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(VENV_BIN / "ray"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def submit(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return self.ray("job", "submit", "--address", self.address, *args, timeout=timeout)

    def status(self, submission_id: str) -> str:
        """The job's status from the job REST API (the one `ray job status` uses)."""
        request = urllib.request.Request(
            f"{self.address}/api/jobs/{submission_id}",
            headers={"Authorization": f"Bearer {self.env['RAY_AUTH_TOKEN']}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["status"]


def head_environment(token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(
        # The job's driver inherits the raylet's PATH: `crawlsieve` must resolve there, as the image's
        # PATH does on a real cluster.
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=token,
        RAY_USAGE_STATS_ENABLED="0",
    )
    return env


def wait_for_dashboard(address: str, token: str, head: subprocess.Popen, timeout: float = 60) -> None:
    request = urllib.request.Request(f"{address}/api/version", headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise RuntimeError(f"ray start exited with {head.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"no Ray dashboard at {address} after {timeout} s")


def stop_process_group(head: subprocess.Popen) -> None:
    """End the head and everything it started (its own process group), gently first."""
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(head.pid, sig)
        except ProcessLookupError:
            return
        try:
            head.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        if sig == signal.SIGTERM:
            time.sleep(1)  # children may outlive the `ray start` process by a moment


@pytest.fixture(scope="module")
def local_head():
    token = secrets.token_hex(32)
    env = head_environment(token)
    temp_dir = Path(tempfile.mkdtemp(prefix="csjob-", dir="/tmp"))  # short: Ray's socket paths
    address = f"http://127.0.0.1:{DASHBOARD_PORT}"
    command = [
        str(VENV_BIN / "ray"), "start", "--head", "--block",
        "--num-cpus=1", "--object-store-memory=150000000",
        f"--port={GCS_PORT}", f"--dashboard-port={DASHBOARD_PORT}",
        f"--ray-client-server-port={CLIENT_PORT}",
        f"--min-worker-port={WORKER_PORTS[0]}", f"--max-worker-port={WORKER_PORTS[1]}",
        f"--dashboard-agent-listen-port={DASHBOARD_AGENT_PORT}",
        "--include-dashboard=true", "--dashboard-host=127.0.0.1",
        f"--temp-dir={temp_dir}", "--disable-usage-stats",
    ]  # fmt: skip
    log = (temp_dir / "ray-start.log").open("w")
    head = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_dashboard(address, token, head)
        yield LocalHead(address=address, env=env, temp_dir=temp_dir)
    finally:
        stop_process_group(head)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_submitted_job_finds_the_crawlsieve_entrypoint(local_head):
    result = local_head.submit("--submission-id", "crawlsieve-help", "--", "crawlsieve", "--help")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "usage: crawlsieve" in result.stdout
    assert local_head.status("crawlsieve-help") == "SUCCEEDED"


def test_job_api_refuses_a_request_without_the_cluster_token(local_head):
    body = json.dumps({"entrypoint": "crawlsieve --help"}).encode()
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        request = urllib.request.Request(f"{local_head.address}/api/jobs/", data=body, headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code in (401, 403)


PAGE = """<html><head><title>{title}</title></head><body><article><h1>{title}</h1>
<p>{body}</p></article><footer>Contact us · Privacy · Terms</footer></body></html>"""
ARTICLE = (
    "The river authority published its yearly report on Tuesday, and the findings surprised "
    "many of the farmers who depend on the valley's water. After two dry summers the reservoirs "
    "held less than half of their usual volume by September, yet the report shows that careful "
    "scheduling of the sluices kept every irrigation channel open through the harvest. Engineers "
    "walked the embankments each week, repaired three small breaches before the autumn storms, "
    "and replaced the old wooden gates near the mill with steel ones. The authority now plans to "
    "plant willows along the northern bank, where erosion has been worst, and asks residents to "
    "report any new leaks they notice while walking their dogs along the towpath."
)


def write_warc(path: Path) -> int:
    """A small WARC of HTML responses plus one request record; returns the number of records."""
    pages = [
        ("https://river.example.org/report", "Yearly report of the river authority", ARTICLE),
        ("https://river.example.org/copy", "Yearly report of the river authority", ARTICLE),
        ("https://shop.example.com/x", "Buy", "buy buy buy cheap cheap"),
    ]
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url, title, body in pages:
            payload = PAGE.format(title=title, body=body).encode("utf-8")
            headers = StatusAndHeaders(
                "200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1"
            )
            writer.write_record(
                writer.create_warc_record(url, "response", payload=BytesIO(payload), http_headers=headers)
            )
        writer.write_record(
            writer.create_warc_record(pages[0][0], "request", payload=BytesIO(b"GET / HTTP/1.1\r\n\r\n"))
        )
    return len(pages) + 1


def test_submitted_crawlsieve_run_succeeds_and_closes_the_accounting(local_head, tmp_path):
    # Inputs and output live outside the working dir, as on shared storage; the working dir
    # carries only the run's config, which the driver reads.
    warc = tmp_path / "data" / "CC-MAIN-2024-10-sample.warc.gz"
    warc.parent.mkdir()
    records = write_warc(warc)
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "crawl.yaml").write_text("ray:\n  max_task_retries: 2\n", encoding="utf-8")
    output = tmp_path / "out"
    runtime_env = {"env_vars": {"CRAWLSIEVE_PROGRESS": ""}, "excludes": ["*.parquet"]}
    result = local_head.submit(
        "--submission-id", "crawlsieve-run",
        "--working-dir", str(job_dir),
        "--runtime-env-json", json.dumps(runtime_env),
        "--", "crawlsieve", "run", str(warc), "--config", "crawl.yaml",
        "--output", str(output), "--ray-address", "auto", "--no-report",
        timeout=150,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert local_head.status("crawlsieve-run") == "SUCCEEDED"
    stats = json.loads((output / "stats.json").read_text(encoding="utf-8"))
    assert stats["records_read"] == records
    assert stats["records_read"] == (
        stats["documents_kept"] + sum(stats["removed"].values()) + sum(stats["failed"].values())
    )
