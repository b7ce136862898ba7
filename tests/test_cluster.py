"""The pipeline on a real multi-node Ray cluster: a head and two worker nodes on this machine.

The nodes are `ray start` processes on 127.0.0.1 with their own ports, temp dir and auth token,
so the cluster is invisible to any other Ray on the machine (and to the session's `ray_local`);
the run is a `crawlsieve run --ray-address` subprocess, as a user would start it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
from run_outputs import data_rows, decisions

from crawlsieve.core.layout import RunLayout
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline

BIN = Path(sys.executable).parent
RUN_TIMEOUT = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalRayCluster:
    """`ray start` nodes on 127.0.0.1 that this object alone started and stops.

    Each `ray start` runs in its own process group; its daemons keep that group and the task
    workers are their children, so `stop` kills exactly those processes by id (never `ray stop`,
    which would take down every Ray on the machine).
    """

    def __init__(self) -> None:
        # Short path: Ray's Unix sockets live under it and must stay under 108 characters.
        self.temp_dir = tempfile.mkdtemp(prefix="cs-ray-", dir="/tmp")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        self.env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
        self.groups: list[int] = []

    def _start(self, *args: str) -> None:
        command = [
            str(BIN / "ray"),
            "start",
            "--node-ip-address=127.0.0.1",
            f"--temp-dir={self.temp_dir}",
            "--object-store-memory=100000000",
            "--disable-usage-stats",
            *args,
        ]
        process = subprocess.Popen(
            command,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.groups.append(process.pid)
        output, _ = process.communicate(timeout=120)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")

    def start(self, workers: int, cpus_per_worker: int) -> LocalRayCluster:
        # The head gets no CPUs, so every task has to run on a worker node.
        self._start(
            "--head",
            f"--port={self.port}",
            "--num-cpus=0",
            "--include-dashboard=false",
            f"--dashboard-port={free_port()}",
            f"--ray-client-server-port={free_port()}",
        )
        for _ in range(workers):
            self._start(f"--address={self.address}", f"--num-cpus={cpus_per_worker}")
        return self

    def processes(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        for process in psutil.process_iter():
            try:
                if os.getpgid(process.pid) in self.groups:
                    for p in [process, *process.children(recursive=True)]:
                        found[p.pid] = p
            except (psutil.Error, ProcessLookupError):
                continue
        return list(found.values())

    def stop(self) -> None:
        for process in self.processes():
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGKILL)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture
def ray_cluster():
    cluster = LocalRayCluster()
    try:
        yield cluster.start(workers=2, cpus_per_worker=1)
    finally:
        cluster.stop()


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.cluster
def test_run_on_a_three_node_cluster_matches_a_single_node_run_and_uses_both_workers(
    ray_local, ray_cluster, sample_warcs, tmp_path
):
    result = subprocess.run(
        [
            str(BIN / "crawlsieve"),
            "run",
            *map(str, sample_warcs),
            "--output",
            str(tmp_path / "cluster"),
            "--ray-address",
            ray_cluster.address,
            "--no-report",
        ],
        env=ray_cluster.env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run_pipeline(
        [str(w) for w in sample_warcs], tmp_path / "single", Config(), report=False, log=lambda m: None
    )

    assert data_rows(tmp_path / "cluster") == data_rows(tmp_path / "single")
    fates = decisions(tmp_path / "cluster")
    assert len(fates) > 100 and fates == decisions(tmp_path / "single")
    stats = json.loads((tmp_path / "cluster" / "stats.json").read_text())
    single = json.loads((tmp_path / "single" / "stats.json").read_text())
    assert stats["accounting_closes"] is True
    for key in ("records_read", "documents_kept", "removed", "failed"):
        assert stats[key] == single[key], key

    markers = [json.loads(p.read_text()) for p in RunLayout(tmp_path / "cluster").markers("extract")]
    nodes = {marker["node_id"] for marker in markers}
    assert len(markers) == len(sample_warcs)
    assert None not in nodes
    assert len(nodes) >= 2, f"every input file ran on one node: {nodes}"
