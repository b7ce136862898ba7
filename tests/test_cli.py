"""The command line as a user meets it: help, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from crawlsieve.pipelines.config import Config, config_from_dict, defaults_yaml


def crawlsieve(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawlsieve", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_help_lists_every_command_and_exits_0(tmp_path):
    result = crawlsieve("--help", cwd=tmp_path)  # from any directory
    assert result.returncode == 0
    for command in ("run", "demo", "report", "mix", "train-quality", "config"):
        assert command in result.stdout


def test_run_help_explains_inputs_and_options_and_exits_0():
    result = crawlsieve("run", "--help")
    assert result.returncode == 0
    for words in ("INPUT", "--output", "--config", "--ray-address", "--limit", "--resume", "CC-MAIN-2024-10"):
        assert words in result.stdout


def test_bad_config_key_exits_2_with_one_line_naming_the_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("language:\n  min_scor: 0.5\n")
    warc = tmp_path / "x.warc.gz"
    warc.write_bytes(b"")
    result = crawlsieve("run", str(warc), "--output", str(tmp_path / "out"), "--config", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "language.min_scor" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_config_value_and_unreadable_config_exit_2(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("read:\n  batch_records: -3\n")
    for path in (config, tmp_path / "missing.yaml"):
        result = crawlsieve("config", "--check", str(path))
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_missing_input_exits_2_with_one_line(tmp_path):
    result = crawlsieve("run", str(tmp_path / "nope.warc.gz"), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"crawlsieve run: error: input not found: {tmp_path / 'nope.warc.gz'}"
    ]


def test_config_defaults_is_the_full_config_and_reads_back_equal():
    result = crawlsieve("config", "--defaults")
    assert result.returncode == 0
    assert config_from_dict(yaml.safe_load(result.stdout)) == Config()
    assert result.stdout == defaults_yaml()
    # every setting is documented by a comment line above it
    assert result.stdout.count("\n  # ") >= result.stdout.count(":\n  ")
