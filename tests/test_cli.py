"""The command line as a user meets it: help, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from crawlsieve.core.layout import RunLayout
from crawlsieve.pipelines.config import Config, config_from_dict, defaults_yaml


def crawlsieve(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawlsieve", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_help_lists_every_command_and_exits_0(tmp_path):
    result = crawlsieve("--help", cwd=tmp_path)  # from any directory
    assert result.returncode == 0
    listed = {
        line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ") and line.split()
    }
    assert {"run", "demo", "report", "review", "mix", "train-quality", "config"} <= listed


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


def test_a_non_empty_directory_that_holds_no_run_is_never_cleared(tmp_path, sample_warcs):
    output = tmp_path / "home"
    output.mkdir()
    (output / "thesis.tex").write_text("years of work")
    (output / "data").mkdir()
    result = crawlsieve("run", str(sample_warcs[0]), "--output", str(output))
    assert result.returncode == 2 and "not empty" in result.stderr
    assert (output / "thesis.tex").read_text() == "years of work" and (output / "data").is_dir()


def test_resume_refuses_a_config_that_would_change_the_output(tmp_path, sample_warcs):
    import json

    from crawlsieve.ingest.inputs import shard_name

    output = tmp_path / "out"
    RunLayout(output).state.mkdir(parents=True)
    location = str(sample_warcs[0].resolve())
    earlier = Config()
    earlier.language.min_score = 0.9
    RunLayout(output).run_record.write_text(
        json.dumps({"shards": {shard_name(location): location}, "config": earlier.model_dump(mode="json")})
    )
    result = crawlsieve("run", location, "--output", str(output), "--resume")
    assert result.returncode == 2 and "config differs" in result.stderr


def test_resume_refuses_a_run_that_cut_text_into_other_units(tmp_path, sample_warcs):
    """Its finished files' signatures and signals are of other units than the rest would get."""
    import json

    from crawlsieve.ingest.inputs import shard_name

    output = tmp_path / "out"
    RunLayout(output).state.mkdir(parents=True)
    location = str(sample_warcs[0].resolve())
    record = {"shards": {shard_name(location): location}, "config": Config().model_dump(mode="json")}
    RunLayout(output).run_record.write_text(json.dumps(record))
    result = crawlsieve("run", location, "--output", str(output), "--resume")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "other units (units-v1, this crawlsieve units-v2)" in result.stderr
