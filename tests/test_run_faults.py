"""Faults found too late or reported badly (issue 21, defects 6 to 8): a damaged dedup index, a
full disk while shards are written, and a driver killed with ``kill -9``.

Each test makes its fault for real: an index written by a run and then damaged, a tmpfs too
small for the shards, a SIGKILL of a `crawlsieve run` process.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hostile_inputs import ARTICLES
from run_outputs import clean_env
from warc_bytes import gzip_members, page, warcinfo

from crawlsieve.core.layout import RunLayout
from crawlsieve.dedup.index import BANDS_DIR, METADATA, subdoc_index_dir, validate_against
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.samples.warcs import generate_sample_warcs, html_page

CLI = str(Path(sys.executable).parent / "crawlsieve")
#: A line every page shares, so that the sub-document unit index holds a unit.
SHARED_LINE = "Read more stories from the district in our weekly newsletter, sent every Friday morning."
SUBDOC = "dedup: {subdoc: {enabled: true}}\n"


def article_warc(path: Path) -> Path:
    """Five distinct articles that the default filters keep, with one line in common."""
    pages = [
        page(f"https://news.example.org/{n}", html_page(f"Story {n}", [*paragraphs, SHARED_LINE]).encode())
        for n, paragraphs in enumerate(ARTICLES)
    ]
    path.write_bytes(gzip_members([warcinfo(), *pages]))
    return path


def stderr_lines(result: subprocess.CompletedProcess) -> list[str]:
    return result.stderr.strip().splitlines()


# 6. A damaged dedup index is refused before phase A, with one line naming the file.


@pytest.fixture(scope="module")
def earlier_run(ray_local, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(a run with a dedup index and a sub-document unit index, its input, the config of both)."""
    root = tmp_path_factory.mktemp("earlier")
    config_file = root / "subdoc.yaml"
    config_file.write_text(SUBDOC, encoding="utf-8")
    warc = article_warc(root / "articles.warc.gz")
    config = Config()
    config.dedup.subdoc.enabled = True
    stats = run_pipeline([str(warc)], root / "run", config, report=False, log=lambda m: None)
    assert stats["documents_kept"] == len(ARTICLES), stats["removed"]
    return root / "run", warc, config_file


def _flip_last_byte_of_column(path: Path, column: int) -> Path:
    """Changes the last byte of a column chunk: inside the compressed body of its last data page."""
    chunk = pq.read_metadata(path).row_group(0).column(column)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + chunk.total_compressed_size - 1] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def _bands_file(index: Path) -> Path:
    return sorted((index / BANDS_DIR).glob("*.parquet"))[0]


def flipped_byte_in_a_band_page(index: Path) -> Path:
    return _flip_last_byte_of_column(_bands_file(index), 2)


def broken_zstd_frame_without_checksums(index: Path) -> Path:
    """The band file as indexes were written before page checksums, its last page's zstd frame
    broken (its magic number)."""
    path = _bands_file(index)
    pq.write_table(pq.read_table(path), path, compression="zstd")
    chunk = pq.read_metadata(path).row_group(0).column(2)
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    frame = data.rfind(b"\x28\xb5\x2f\xfd", start, start + chunk.total_compressed_size)
    assert frame > 0, "no zstd frame in the column chunk"
    data[frame] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def text_hash_as_strings(index: Path) -> Path:
    path = _bands_file(index)
    table = pq.read_table(path)
    hashes = pa.array([None if h is None else str(h) for h in table["dedup_text_hash"].to_pylist()])
    pq.write_table(table.set_column(1, "dedup_text_hash", hashes), path)
    return path


def a_band_file_lost(index: Path) -> Path:
    _bands_file(index).unlink()
    return index / METADATA


def flipped_byte_in_the_unit_index(index: Path) -> Path:
    return _flip_last_byte_of_column(sorted(subdoc_index_dir(index, "line").glob("*.parquet"))[0], 1)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (flipped_byte_in_a_band_page, "CRC"),
        (broken_zstd_frame_without_checksums, "ZSTD"),
        (text_hash_as_strings, "dedup_text_hash: string"),
        (a_band_file_lost, "incomplete"),
        (flipped_byte_in_the_unit_index, "CRC"),
    ],
)
def test_a_damaged_dedup_index_is_refused_before_any_work_naming_the_file(
    earlier_run, tmp_path, damage, words
):
    run, warc, config_file = earlier_run
    damaged = tmp_path / "earlier"
    shutil.copytree(RunLayout(run).dedup_index, damaged / "dedup_index")
    config = Config()
    config.dedup.subdoc.enabled = True
    config.dedup.against = [str(damaged)]
    validate_against(config.dedup)  # the copy is whole until damaged
    path = damage(damaged / "dedup_index")
    output = tmp_path / "out"
    result = subprocess.run(
        [
            *(CLI, "run", str(warc), "--output", str(output)),
            *("--dedup-against", str(damaged), "--config", str(config_file), "--no-report"),
        ],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = stderr_lines(result)
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("crawlsieve run: error: dedup.against:"), lines
    assert str(path) in lines[0] and words in lines[0], lines[0]
    assert not output.exists()  # refused before the output was touched, so before phase A


# 7. A full disk while shards are written: rc 1 and one line that names it.


@pytest.fixture
def tiny_tmpfs():
    """Mounts a 4 kB tmpfs on a given directory (root only); unmounted after the test."""
    mounted = []

    def mount(directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(directory)], capture_output=True, text=True
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
        mounted.append(directory)

    yield mount
    for directory in mounted:
        if subprocess.run(["umount", str(directory)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(directory)], capture_output=True)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_full_disk_while_writing_shards_fails_the_run_with_one_line_naming_it(
    ray_local, tmp_path, tiny_tmpfs
):
    warc = article_warc(tmp_path / "articles.warc.gz")
    output = tmp_path / "out"
    run_pipeline([str(warc)], output, Config(), report=False, log=lambda m: None)
    data = RunLayout(output).data
    tiny_tmpfs(data)  # phase A's and the dedup's files stay where they are; the shards have 4 kB
    result = subprocess.run(
        [CLI, "run", str(warc), "--output", str(output), "--resume", "--no-report", "--num-cpus", "2"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=400,
    )
    lines = stderr_lines(result)
    assert result.returncode == 1, result.stderr[-3000:]
    assert lines[-2].endswith("tagging and writing shards"), lines  # phase C was reached
    assert lines[-1].startswith("crawlsieve run: failed: OSError:") and "No space left on device" in lines[-1]
    assert "retr" not in lines[-1], lines[-1]  # not Ray's advice on retries
    assert all(line.startswith("crawlsieve: ") for line in lines[:-1]), lines  # no Ray line, no traceback
    assert not [p for p in data.rglob("*") if p.is_file()]  # no half-written temporary file left


# 8. The local Ray of a driver killed with SIGKILL does not outlive it.


def session_processes(ray_tmp: Path) -> list[psutil.Process]:
    """The processes of the Ray whose temp dir is ``ray_tmp``: they inherit RAY_TMPDIR from the
    driver, name the directory on their command line, or write their output into it."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if (
                process.environ().get("RAY_TMPDIR") == str(ray_tmp)
                or str(ray_tmp) in " ".join(process.cmdline())
                or any(f.path.startswith(f"{ray_tmp}/") for f in process.open_files())
            ):
                found.append(process)
    return found


def _names(processes: list[psutil.Process]) -> list[str]:
    names = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            names.append(f"{process.pid} {' '.join(process.cmdline())[:80]}")
    return names


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_driver_killed_with_sigkill_takes_its_local_ray_with_it(tmp_path):
    warcs = generate_sample_warcs(tmp_path / "in", files=2, pages_per_file=10)
    # Short: Ray's socket paths under it must fit in 107 bytes.
    ray_tmp = Path(tempfile.mkdtemp(prefix="cs-ray-", dir="/tmp"))
    stderr = tmp_path / "stderr"
    with open(stderr, "w") as err:
        driver = subprocess.Popen(
            [
                CLI,
                "run",
                *map(str, warcs),
                "--output",
                str(tmp_path / "out"),
                "--num-cpus",
                "2",
                "--no-report",
            ],
            env=clean_env() | {"RAY_TMPDIR": str(ray_tmp)},
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # Ray is up, with the agents that outlived the driver
            names = " ".join(_names(session_processes(ray_tmp)))
            if (
                "to process" in stderr.read_text()
                and "DashboardAgent" in names
                and "RuntimeEnvAgent" in names
            ):
                break
            assert driver.poll() is None, stderr.read_text()[-3000:]
            time.sleep(0.5)
        else:
            raise AssertionError(f"Ray did not come up: {names}")
        assert len(session_processes(ray_tmp)) > 4  # the watchdog, GCS, raylet, agents, workers...
        driver.kill()
        driver.wait(timeout=30)
        deadline = time.monotonic() + 30  # generous: without the watchdog, agents lived 60 s and more
        while session_processes(ray_tmp) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not session_processes(ray_tmp), _names(session_processes(ray_tmp))
    finally:
        if driver.poll() is None:
            driver.kill()
        for process in session_processes(ray_tmp):  # only this test's Ray: it carries our temp dir
            with contextlib.suppress(psutil.Error):
                process.kill()
        shutil.rmtree(ray_tmp, ignore_errors=True)
