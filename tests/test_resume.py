"""The driver SIGKILLed mid-run, then `crawlsieve run --resume`: done files stay done, nothing twice.

Phase A writes a file's outputs under temporary names, fsyncs and renames them, and only then
its completion marker; so after a kill every marker stands for complete outputs, and the
resumed run redoes exactly the files without one.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
from run_outputs import clean_env, data_rows, decisions

from crawlsieve.core.layout import RunLayout
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.samples.warcs import generate_sample_warcs

BIN = Path(sys.executable).parent
FILES = 6
TIMEOUT = 240


def crawlsieve_run(inputs: list[Path], output: Path, *extra: str) -> list[str]:
    return [str(BIN / "crawlsieve"), "run", *map(str, inputs), "--output", str(output), "--no-report", *extra]


def markers(output: Path) -> dict[str, tuple[int, str]]:
    """Completion markers of phase A: shard -> (mtime in ns, content)."""
    return {p.stem: (p.stat().st_mtime_ns, p.read_text()) for p in RunLayout(output).markers("extract")}


def kill_driver_when_some_files_are_done(driver: subprocess.Popen, output: Path) -> None:
    """SIGKILL the driver once one file is complete, then its Ray (as if its machine died)."""
    root = psutil.Process(driver.pid)
    deadline = time.monotonic() + 150
    while not markers(output) and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    family = root.children(recursive=True)
    root.kill()
    for process in family:
        with contextlib.suppress(psutil.Error):
            process.kill()
    driver.wait(timeout=30)
    psutil.wait_procs(family, timeout=30)


def assert_markers_stand_for_complete_outputs(output: Path) -> None:
    for shard, (_, content) in markers(output).items():
        record = json.loads(content)
        docs = RunLayout(output).docs(shard)
        ledger = RunLayout(output).ledger(shard, "extract")
        assert (pq.read_metadata(docs).num_rows if docs.exists() else 0) == record["documents_out"], shard
        assert (pq.read_metadata(ledger).num_rows if ledger.exists() else 0) == record["decided"], shard


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_resume_after_the_driver_is_killed_skips_done_files_and_matches_an_uninterrupted_run(
    ray_local, tmp_path
):
    warcs = generate_sample_warcs(tmp_path / "in", files=FILES, pages_per_file=40)
    output = tmp_path / "out"
    # One CPU: files complete one after another, so the kill lands with some done, some not.
    driver = subprocess.Popen(
        crawlsieve_run(warcs, output, "--num-cpus", "1"),
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_driver_when_some_files_are_done(driver, output)
    done_before = markers(output)
    assert 1 <= len(done_before) < FILES, f"{len(done_before)} of {FILES} files done at the kill"
    assert not (output / "stats.json").exists()
    assert_markers_stand_for_complete_outputs(output)

    resumed = subprocess.run(
        crawlsieve_run(warcs, output, "--resume", "--num-cpus", "2"),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{FILES - len(done_before)} to process, {len(done_before)} done before" in resumed.stderr
    after = markers(output)
    assert len(after) == FILES
    for shard, marker in done_before.items():
        assert after[shard] == marker, f"{shard} was redone"
    assert_markers_stand_for_complete_outputs(output)

    rows = data_rows(output)
    duplicates = [i for i, n in Counter(row["id"] for row in rows).items() if n > 1]
    assert not duplicates
    fates = decisions(output)
    assert not [i for i, n in Counter(f[0] for f in fates).items() if n > 1], "a record decided twice"
    stats = json.loads((output / "stats.json").read_text())
    assert stats["accounting_closes"] is True
    assert all(row["accounting_closes"] for row in stats["inputs"].values())

    reference = run_pipeline(
        [str(w) for w in warcs], tmp_path / "uninterrupted", Config(), report=False, log=lambda m: None
    )
    for key in ("records_read", "documents_kept", "removed", "failed"):
        assert stats[key] == reference[key], key
    assert rows == data_rows(tmp_path / "uninterrupted")
    assert fates == decisions(tmp_path / "uninterrupted")
