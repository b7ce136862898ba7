"""Arguments that would cost a user data, memory or a clear answer (issue 21: defects 3, 4, 9, 10,
11 and 13) are refused up front: exit status 2, one line on stderr, nothing touched.

Each test makes its input: a run of a generated WARC (real Ray, real Parquet), copied and then
damaged or pointed at itself; config files with aliases or booleans; listings naming one file
in every way a path can be written; a read-only file system mounted for the test.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from run_outputs import clean_env, small_run
from warc_bytes import gzip_members, page, warcinfo

from crawlsieve.core.errors import UsageError
from crawlsieve.core.layout import RunLayout
from crawlsieve.dedup.config import DedupConfig
from crawlsieve.dedup.index import index_root
from crawlsieve.ingest.config import ReadConfig
from crawlsieve.ingest.inputs import resolve_inputs
from crawlsieve.pipelines.config import Config, config_from_dict, load_config
from crawlsieve.pipelines.run import check_inputs_apart, run_pipeline

CLI = str(Path(sys.executable).parent / "crawlsieve")
#: Address space of a refused command: the alias bomb once grew a run past 6 GB.
MEMORY_LIMIT = 2 << 30


def crawlsieve(
    *args, cwd: Path | None = None, memory_limit: int | None = None
) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    return subprocess.run(
        [CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=clean_env(),
        preexec_fn=limit if memory_limit else None,
    )


def refused(result: subprocess.CompletedProcess, *words: str) -> str:
    """The one line of a refusal (exit status 2), which holds ``words``."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in result.stderr, lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: equal before and after means nothing was touched."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def five_records(path: Path) -> Path:
    """A WARC file of 5 records (warcinfo and 4 pages)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip_members([warcinfo(), *(page(f"https://site{i}.example/a") for i in range(4))]))
    return path


@pytest.fixture(scope="module")
def earlier_run(ray_local, tmp_path_factory) -> Path:
    """A finished run (with a dedup index) of one generated file; tests copy it before damaging it."""
    root = tmp_path_factory.mktemp("earlier")
    stats = run_pipeline([str(five_records(root / "in.warc.gz"))], root / "run", Config(), log=lambda m: None)
    assert stats["accounting_closes"] and stats["records_read"] == 5
    return root / "run"


@pytest.fixture()
def run_copy(earlier_run, tmp_path) -> Path:
    shutil.copytree(earlier_run, tmp_path / "run", symlinks=True)
    return tmp_path / "run"


# 3. An output never destroys what the command reads.


@pytest.mark.parametrize("against", [".", "dedup_index", ".."], ids=["itself", "its-index", "its-parent"])
@pytest.mark.parametrize("resume", [False, True], ids=["fresh", "resume"])
def test_dedup_against_the_runs_own_output_is_refused_and_the_earlier_run_kept(
    run_copy, tmp_path, against, resume
):
    assert (index_root(run_copy) / "metadata.json").is_file()  # the index check alone would pass
    before = snapshot(run_copy)
    warc = five_records(tmp_path / "new.warc.gz")
    result = crawlsieve(
        "run",
        warc,
        "--output",
        run_copy,
        "--dedup-against",
        run_copy / against,
        *(["--resume"] if resume else []),
    )
    refused(result, "dedup.against", str(run_copy))
    assert snapshot(run_copy) == before


def _inside_products(out: Path, tmp_path: Path) -> dict[str, tuple[list, str]]:
    """Per case: the arguments of a run into ``out`` whose input lies in one of its products,
    and the input's path the refusal names."""
    warc = five_records(out / "data" / "in.warc.gz")
    listing = out / "_work" / "paths.txt"
    listing.write_text(str(five_records(tmp_path / "elsewhere.warc.gz")) + "\n")
    config = out / "review" / "my.yaml"
    config.write_text("read: {batch_records: 50}\n")
    benchmark = out / "_state" / "bench.txt"
    benchmark.write_text("a passage of a benchmark that the run is decontaminated against " * 3)
    bench_config = tmp_path / "bench.yaml"
    bench_config.write_text(f"filters: {{decontamination: {{benchmarks: {{quiz: {benchmark}}}}}}}\n")
    directory = out / "_work" / "warcs"
    five_records(directory / "d.warc.gz")
    clean = tmp_path / "elsewhere.warc.gz"
    return {
        "warc": ([warc], str(warc)),
        "listing": ([f"@{listing}"], str(listing)),
        "config": ([clean, "--config", config], str(config)),
        "benchmark": ([clean, "--config", bench_config], str(benchmark)),
        "directory": ([directory], str(directory / "d.warc.gz")),
    }


@pytest.mark.parametrize("case", ["warc", "listing", "config", "benchmark", "directory"])
def test_an_input_inside_the_outputs_products_is_refused_before_anything_is_touched(run_copy, tmp_path, case):
    arguments, named = _inside_products(run_copy, tmp_path)[case]
    before = snapshot(run_copy)
    result = crawlsieve("run", *arguments, "--output", run_copy)
    refused(result, named, "rewrites")
    assert snapshot(run_copy) == before


def test_inputs_beside_the_outputs_products_are_accepted(tmp_path):
    out = tmp_path / "out"
    config = out / "my.yaml"  # in DIR, but in none of a run's products: a run leaves it alone
    warc = five_records(out / "warcs" / "in.warc.gz")
    check_inputs_apart(out, [str(warc)], [str(warc)], Config(), str(config))
    with pytest.raises(UsageError, match="rewrites"):
        check_inputs_apart(out, [str(warc)], [str(out / "dedup_index" / "x.warc.gz")], Config(), None)


@pytest.mark.parametrize("where", ["itself", "data/x", "new", "holder"])
def test_refilter_into_or_around_the_run_it_reads_is_refused(run_copy, tmp_path, where):
    config = tmp_path / "same.yaml"
    config.write_text("filters: {}\n")
    output = {"itself": run_copy, "holder": run_copy.parent}.get(where, run_copy / where)
    before = snapshot(run_copy)
    refused(
        crawlsieve("refilter", run_copy, "--config", config, "--output", output), str(run_copy), "--output"
    )
    assert snapshot(run_copy) == before


def test_refilter_with_its_config_inside_the_new_outputs_products_is_refused(run_copy, earlier_run, tmp_path):
    config = run_copy / "_state" / "new.yaml"  # run_copy: an earlier refilter's NEWDIR, cleared by this one
    config.write_text("filters: {}\n")
    before = snapshot(run_copy)
    refused(
        crawlsieve("refilter", earlier_run, "--config", config, "--output", run_copy), str(config), "rewrites"
    )
    assert snapshot(run_copy) == before


@pytest.mark.parametrize(
    "arguments",
    [
        ["--materialize", "{dir}"],
        ["--materialize", "{dir}/data/sample"],
        ["--materialize", "{tmp}"],
        ["--output", "{dir}/mixture.json"],
        ["--output", "{target}"],
        ["--materialize", "{tmp}/sample", "--target-inside"],
    ],
    ids=[
        "materialize-itself",
        "materialize-inside",
        "materialize-around",
        "plan-over-mixture",
        "plan-over-target",
        "target-inside-sample",
    ],
)
def test_mix_outputs_that_would_overwrite_what_it_reads_are_refused(tmp_path, arguments):
    run = small_run(tmp_path / "run", [("news", "en", 20), ("code", "en", 5)])
    target = tmp_path / "target.yaml"
    if "--target-inside" in arguments:
        arguments = arguments[:-1]
        target = tmp_path / "sample" / "data" / "target.yaml"
        target.parent.mkdir(parents=True)
    target.write_text("language: {en: 1}\n")
    arguments = [a.format(dir=run, tmp=tmp_path, target=target) for a in arguments]
    before = snapshot(tmp_path)
    result = crawlsieve("mix", run, "--target", target, "--tokens", "100", *arguments)
    refused(result)
    assert snapshot(tmp_path) == before


def test_train_quality_refuses_a_model_path_that_is_one_of_its_inputs(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("A long and careful article about the river and its floods.\n")
    junk = tmp_path / "junk.txt"
    junk.write_text("buy now cheap cheap\n")
    before = snapshot(tmp_path)
    result = crawlsieve(
        "train-quality", "--positive", tmp_path / "g*.txt", "--negative", junk, "--output", good
    )
    refused(result, "would overwrite --positive", str(good))
    assert snapshot(tmp_path) == before


# 4. A YAML alias bomb ("billion laughs") is refused by every command that reads YAML.

BOMB = "".join(
    [
        '    a: &a {x: "' + "lol" * 30 + '"}\n',
        *(
            f"    {b}: &{b} {{x: [{', '.join(['*' + a] * 9)}]}}\n"
            for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


@pytest.fixture()
def bomb_config(tmp_path) -> Path:
    path = tmp_path / "bomb.yaml"
    path.write_text("read:\n  storage_options:\n" + BOMB)
    return path


def test_an_alias_bomb_in_a_config_is_refused_by_every_command_that_reads_one(
    bomb_config, run_copy, tmp_path
):
    warc = five_records(tmp_path / "in.warc.gz")
    out = tmp_path / "out"
    target = tmp_path / "bomb-target.yaml"
    target.write_text("language:\n  en: 1\nextra:\n" + BOMB)
    for arguments in (
        ["config", "--check", bomb_config],
        ["run", warc, "--output", out, "--config", bomb_config],
        ["refilter", run_copy, "--config", bomb_config, "--output", out],
        ["mix", run_copy, "--target", target, "--tokens", "100"],
    ):
        refused(crawlsieve(*arguments, memory_limit=MEMORY_LIMIT), "aliases", "at most")
    assert not out.exists()


def test_an_alias_inside_its_own_anchor_is_refused_and_a_few_aliases_pass(tmp_path):
    cycle = tmp_path / "cycle.yaml"
    cycle.write_text("read:\n  storage_options: &loop\n    s3: {x: *loop}\n")
    refused(crawlsieve("config", "--check", cycle), "refers to a node inside itself")
    shared = tmp_path / "shared.yaml"
    shared.write_text("read:\n  storage_options:\n    s3: &opts {anon: true}\n    gcs: *opts\n")
    assert load_config(shared).read.storage_options == {"s3": {"anon": True}, "gcs": {"anon": True}}


# 9. Every input is normalised the same way: one file is one input, read once.


def _named_every_way(root: Path) -> list[str]:
    """One 5-record file under 11 names: as given, relative, through `..`, through a link, as a
    file:// URL, by a glob, by its directory, and by a listing's relative, `..` and file:// lines."""
    warc = five_records(root / "a.warc.gz")
    (root / "link.warc.gz").symlink_to(warc)
    listing = root / "lists" / "paths.txt"
    listing.parent.mkdir()
    listing.write_text(f"../a.warc.gz\nsub/../../a.warc.gz\nfile://{warc}\n{root}/./lists/../a.warc.gz\n")
    return [str(warc), f"file://{warc}", str(root / "*.warc.gz"), str(root), f"@{listing}", "a.warc.gz"]


def test_one_file_named_in_every_way_is_one_input_and_the_repeats_are_said_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    said = []
    locations = resolve_inputs(_named_every_way(tmp_path), ReadConfig(), log=said.append)
    assert locations == [str((tmp_path / "a.warc.gz").resolve())]
    assert said == ["crawlsieve: 10 repeated input(s) read once"]
    (tmp_path / "nul.txt").write_text("a.warc.gz\x00.gz\n")
    with pytest.raises(UsageError, match="NUL byte"):
        resolve_inputs([f"@{tmp_path / 'nul.txt'}"], ReadConfig())


def test_a_run_over_one_file_named_in_every_way_reads_its_records_once(ray_local, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    said = []
    stats = run_pipeline(
        _named_every_way(tmp_path), tmp_path / "out", Config(), report=False, log=said.append
    )
    assert stats["records_read"] == 5 and stats["accounting_closes"]
    assert len(stats["inputs"]) == 1 and sum(stats["failed"].values()) == 0
    assert [m for m in said if "repeated" in m] == ["crawlsieve: 10 repeated input(s) read once"]


# 10. refilter checks that the run it reads is complete before it starts.


@pytest.mark.parametrize("missing", ["_work/docs", "_work/ledger", "_work/summaries/extract"])
def test_refilter_of_a_run_missing_what_phase_a_wrote_is_refused_naming_it(run_copy, tmp_path, missing):
    import json

    (marker,) = RunLayout(run_copy).markers("extract")
    counts = json.loads(marker.read_text())
    assert counts["documents_out"] > 0 and counts["decided"] > 0  # the run wrote documents and a ledger
    shutil.rmtree(run_copy / missing)
    config = tmp_path / "same.yaml"
    config.write_text("filters: {}\n")
    out = tmp_path / "refiltered"
    refused(crawlsieve("refilter", run_copy, "--config", config, "--output", out), "incomplete", missing)
    assert not out.exists()


# 11. A damaged file of a run is named, with exit status 2, by every command that reads it.


def _damage(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("damaged", "commands"),
    [
        ("stats.json", [["report"], ["review", "--labels", "{labels}"]]),
        ("mixture.json", [["report"], ["mix", "--target", "{target}", "--tokens", "100"]]),
        ("distributions.json", [["report", "--skip-distributions"]]),
        ("_work/summaries/files", [["report"]]),
        ("data", [["mix", "--target", "{target}", "--tokens", "100", "--materialize", "{tmp}/sample"]]),
    ],
)
def test_a_damaged_run_file_is_named_with_status_2(run_copy, tmp_path, damaged, commands):
    path = run_copy / damaged
    for file in sorted(path.rglob("*.*")) if path.is_dir() else [path]:
        _damage(file)
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"id": "x", "label": "good"}\n')
    target = tmp_path / "target.yaml"
    target.write_text("language: {en: 1}\n")
    for command in commands:
        arguments = [a.format(labels=labels, target=target, tmp=tmp_path) for a in command[1:]]
        line = refused(crawlsieve(command[0], run_copy, *arguments))
        assert str(path) in line or f"{path}/" in line or damaged in line, line


# 13. true is not a number, and an output that cannot be written is a bad argument.


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ("read: {batch_records: true}", "read.batch_records"),
        ("extract: {timeout_seconds: true}", "extract.timeout_seconds"),
        ("ray: {num_cpus: false}", "ray.num_cpus"),
        ("filters: {gopher_quality: {min_doc_words: true}}", "filters.gopher_quality.min_doc_words"),
        ("filters: {gopher_repetition: {top_n_grams: {2: true}}}", "filters.gopher_repetition.top_n_grams"),
    ],
)
def test_true_where_a_config_wants_a_number_is_refused(tmp_path, content, key):
    config = tmp_path / "config.yaml"
    config.write_text(content + "\n")
    refused(crawlsieve("config", "--check", config), key, "not true or false")


def test_booleans_where_booleans_are_wanted_and_the_run_record_still_pass():
    config = config_from_dict(
        {"extract": {"favor_precision": False}, "read": {"storage_options": {"s3": {"anon": True}}}}
    )
    assert config.extract.favor_precision is False and config.read.storage_options["s3"]["anon"] is True
    import json

    recorded = json.loads(json.dumps(Config().model_dump(mode="json")))  # dict keys become strings
    assert config_from_dict(recorded) == Config()
    assert DedupConfig.model_validate({"num_perm": 64}).num_perm == 64


def _in_read_only_mount(tmp_path: Path, command: list) -> subprocess.CompletedProcess:
    """``command`` with ``tmp_path/ro`` a read-only tmpfs, in a mount namespace of its own (so
    nothing stays mounted); skips where this user cannot mount."""
    mount = tmp_path / "ro"
    mount.mkdir()
    script = (
        f"mount -t tmpfs -o size=1m tmpfs {mount} && mkdir {mount}/existing && mount -o remount,ro {mount} "
        f'|| exit 99; exec "$@"'
    )
    result = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", CLI, *map(str, command)],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    if result.returncode == 99 or "unshare:" in result.stderr:
        pytest.skip(f"cannot mount a read-only tmpfs here: {result.stderr.strip()}")
    return result


@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux unshare is not installed")
def test_an_output_on_a_read_only_file_system_is_a_bad_argument(earlier_run, tmp_path):
    warc = five_records(tmp_path / "in.warc.gz")
    config = tmp_path / "same.yaml"
    config.write_text("filters: {}\n")
    for command in (
        ["run", warc, "--output", tmp_path / "ro" / "out"],
        ["refilter", earlier_run, "--config", config, "--output", tmp_path / "ro" / "existing"],
    ):
        refused(_in_read_only_mount(tmp_path, command), "cannot write there", "Read-only file system")
        shutil.rmtree(tmp_path / "ro")
