"""A Ray worker SIGKILLed in the middle of a run: the task is retried and nothing changes.

The run is a `crawlsieve run` subprocess with its own local Ray; the test finds the worker
process executing a phase-A task (its process title names `_extract_batch`) and kills it.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from run_outputs import clean_env, data_rows, decisions

from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.pipelines.samples import generate_sample_warcs

BIN = Path(sys.executable).parent
TASK_TITLE = "_extract_batch"
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


def kill_tree(root: psutil.Process) -> None:
    """Whatever is left of the run (nothing, when it ended well)."""
    with contextlib.suppress(psutil.Error):
        for process in [*root.children(recursive=True), root]:
            with contextlib.suppress(psutil.Error):
                process.kill()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_killing_a_worker_mid_task_retries_it_and_the_output_matches_an_undisturbed_run(ray_local, tmp_path):
    warcs = generate_sample_warcs(tmp_path / "in", files=4, pages_per_file=40)
    output = tmp_path / "disturbed"
    driver = subprocess.Popen(
        [
            str(BIN / "crawlsieve"),
            "run",
            *map(str, warcs),
            "--output",
            str(output),
            "--num-cpus",
            "2",
            "--no-report",
        ],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    root = psutil.Process(driver.pid)
    try:
        victim = find_task_process(root, TASK_TITLE, timeout=120)
        done_at_kill = len(list((output / "_state" / "extract").glob("*.json")))
        victim.kill()
        victim.wait(timeout=30)
        stdout, stderr = driver.communicate(timeout=TIMEOUT)
    finally:
        kill_tree(root)
    assert done_at_kill < len(warcs), "the run had finished its files before the kill"
    assert driver.returncode == 0, stderr[-3000:]
    assert "accounting closes" in stdout

    run_pipeline(
        [str(w) for w in warcs], tmp_path / "undisturbed", Config(), report=False, log=lambda m: None
    )
    assert data_rows(output) == data_rows(tmp_path / "undisturbed")
    fates = decisions(output)
    assert len(fates) > 100 and fates == decisions(tmp_path / "undisturbed")
    assert len(list((output / "_state" / "extract").glob("*.json"))) == len(warcs)
