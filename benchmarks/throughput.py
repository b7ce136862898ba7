"""crawlsieve against datatrove, whole command, on Common-Crawl-shaped files of two page mixes.

Full size (the figures the README quotes; a quiet machine, about 4 hours):

    .venv/bin/python -m benchmarks.throughput --responses 15000 --repeat 1

Development on a shared machine (compare the ratios of one session, say which load it ran under):

    .venv/bin/python -m benchmarks.throughput --responses 2000 --repeat 1

Inputs (``benchmarks.cc_shaped``, written once into ``--cc-dir`` and reused): for each mix,
``--files`` WARC files of ``--responses`` responses, shaped like Common Crawl's, each copy of a
page with its own host and edits:

- ``corpus``: the shared corpus's 341 pages (news and blog articles, assorted sites; mostly
  English and German);
- ``multilingual``: ``../shared/corpus/multilingual/``'s 143 pages (articles and forum/Q&A
  threads; 39 Chinese, 5 Japanese, 4 Arabic), the mix that cannot flatter us: long threads, and
  languages whose rules cost more.

Systems, each run as the command its users would run, in a child process, rounds alternating
so that background load falls on all alike:

- ``crawlsieve``: ``crawlsieve run FILES --output DIR`` (the default config: the accelerated
  trafilatura; a local Ray of ``--cpus`` CPUs, whose start is inside the timing);
  ``--stock-extractor`` adds ``crawlsieve (stock trafilatura)``, ``extract.accelerated: false``;
- ``datatrove[processing]``: ``benchmarks/datatrove_pipeline.py`` in a venv holding datatrove as
  its users install it, ``pip install "datatrove[io,processing]==<the version we have>"``, which
  brings the trafilatura that extra pins (< 1.12), plus the two packages its pipeline then asks
  for (spaCy, lxml_html_clean); the benchmark creates it once from PyPI under
  ``~/.cache/crawlsieve/bench-venvs/`` and reuses it;
- ``datatrove (our venv)``: the same script in crawlsieve's venv (trafilatura 2.3.1).

Columns: wall seconds; ms/page-core = wall seconds x cpus / documents (documents: the HTML 200
responses, the same for every system); cpu ms/page = CPU seconds of every process the command
started (Ray's and datatrove's workers included: the benchmark makes itself their subreaper, so
each one's CPU time is collected when it ends) / documents, the figure background load changes
least; the ratios of ms/page-core (wall) to both datatrove runs, and of cpu ms/page to
datatrove[processing]; the share of the wall time outside crawlsieve's phase A (Ray start, the
driver, dedup, finalize, report); core-hours for a ``--dump-pages`` dump at that wall rate.

Then, per mix: crawlsieve's CPU by part from its stats.json (the figures every run records,
ms per page), and the warm CPU per page of each stage of phase A, per language
(``benchmarks.stage_cpu``: the mix's own pages in this process, after a warm-up pass), with the
heuristic filters as a share of extraction.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from benchmarks import stage_cpu
from benchmarks.cc_shaped import MIXES, corpus_pages, generate_cc_files

REPO = Path(__file__).resolve().parent.parent
DATATROVE_SCRIPT = Path(__file__).resolve().parent / "datatrove_pipeline.py"
BENCH_VENVS = Path.home() / ".cache" / "crawlsieve" / "bench-venvs"


def count_html_responses(paths: list[Path]) -> int:
    """HTML 200 responses: the documents every pipeline is asked to extract."""
    from crawlsieve.ingest.config import ReadConfig
    from crawlsieve.ingest.warc import HttpCheckStage, read_warc

    read = ReadConfig()
    check = HttpCheckStage(read)
    total = 0
    for path in paths:
        for batch in read_warc(str(path), path.name, read):
            total += check(batch).column("_removed").null_count
    return total


# --------------------------------------------------------------------------- whole commands


def _become_subreaper() -> None:
    """Orphaned descendants (Ray's workers when its raylet ends first) are re-parented to this
    process instead of init, so their CPU time reaches RUSAGE_CHILDREN when they are reaped."""
    PR_SET_CHILD_SUBREAPER = 36
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _reap_descendants(timeout: float = 120.0) -> None:
    """Wait for (and reap) what the command left running; kill what is still there at ``timeout``."""
    import psutil

    deadline = time.monotonic() + timeout
    while children := psutil.Process().children():
        if time.monotonic() > deadline:
            for child in children:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        time.sleep(0.2)


def measured(argv: list[str]) -> tuple[float, float, str]:
    """Run a command to its end: (wall seconds, CPU seconds of all its processes, its stdout).
    One clear line and exit 1 if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - started
    _reap_descendants()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"benchmark command failed (exit {result.returncode}): {' '.join(argv[:4])} ...: {last}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, result.stdout


def run_crawlsieve(paths: list[Path], work: Path, cpus: int, accelerated: bool = True) -> dict:
    out = work / "crawlsieve"
    config = work / "config.yaml"
    work.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"ray": {"num_cpus": cpus}, "extract": {"accelerated": accelerated}}))
    argv = [sys.executable, "-m", "crawlsieve", "run", *map(str, paths), "--output", str(out)]
    seconds, cpu, _ = measured([*argv, "--config", str(config)])
    stats = json.loads((out / "stats.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "kept": stats["documents_kept"],
        "cost": stats["cost"],
        "outside_phase_a": seconds - stats["phases"]["wall_seconds"]["extract"],
    }


def datatrove_venv() -> Path:
    """The Python of a venv with datatrove as its users install it (made once, then reused):
    ``datatrove[io,processing]`` at our datatrove version, so the versions of what its extras pin
    (trafilatura < 1.12, xxhash < 4, fasttext-numpy2-wheel) are theirs, plus what its pipeline
    then needs and no extra declares: spaCy (its English word tokenizer; our version) and
    lxml_html_clean (justext imports ``lxml.html.clean``, which lxml 6 no longer ships)."""
    requirements = [
        f"datatrove[io,processing]=={version('datatrove')}",
        f"spacy=={version('spacy')}",
        "lxml_html_clean",
    ]
    root = BENCH_VENVS / f"datatrove-{version('datatrove')}-io-processing"
    python, done = root / "bin" / "python", root / "crawlsieve-requirements.txt"
    if not done.is_file() or done.read_text().split() != requirements:
        print(f"creating {root} (pip install {' '.join(requirements)})", file=sys.stderr, flush=True)
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run([sys._base_executable, "-m", "venv", str(root)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
        done.write_text("\n".join(requirements) + "\n")
    return python


def datatrove_spec(paths: list[Path], work: Path, cpus: int) -> Path:
    """The settings datatrove's pipeline takes from crawlsieve's config, as the script's JSON spec."""
    from crawlsieve.dedup.minhash import lsh_params
    from crawlsieve.filters.language_id import default_model_path
    from crawlsieve.pipelines.config import Config

    config = Config()
    dedup = config.dedup
    bands, rows = lsh_params(
        dedup.threshold, dedup.num_perm, dedup.false_positive_weight, dedup.false_negative_weight
    )
    input_dir = work / "input"
    input_dir.mkdir(parents=True, exist_ok=True)
    for path in paths:  # datatrove reads a folder; links keep the files where they are
        (input_dir / path.name).symlink_to(path.resolve())
    spec = {
        "input": str(input_dir),
        "work": str(work / "datatrove"),
        "cpus": cpus,
        "extract": config.extract.model_dump(),
        "language_threshold": config.language.min_score,
        "lid_model": str(default_model_path()),
        # crawlsieve's shingle size, its permutations split into the same bands
        "minhash": {"n_grams": dedup.ngram_size, "num_buckets": bands, "hashes_per_bucket": rows,
                    "seed": dedup.seed},
    }  # fmt: skip
    (work / "spec.json").write_text(json.dumps(spec))
    return work / "spec.json"


def run_datatrove(paths: list[Path], work: Path, cpus: int, python: str | Path) -> dict:
    spec = datatrove_spec(paths, work, cpus)
    seconds, cpu, stdout = measured([str(python), str(DATATROVE_SCRIPT), str(spec)])
    result = json.loads(stdout.strip().splitlines()[-1])
    shutil.rmtree(work, ignore_errors=True)
    return {"seconds": seconds, "cpu": cpu, "kept": result["kept"], "versions": result["versions"]}


#: System -> how it runs (paths, work folder, cpus); the first datatrove is the ratios' reference.
SYSTEMS = {
    "crawlsieve": lambda paths, work, cpus: run_crawlsieve(paths, work, cpus),
    "crawlsieve (stock trafilatura)": lambda paths, work, cpus: run_crawlsieve(paths, work, cpus, False),
    "datatrove[processing]": lambda paths, work, cpus: run_datatrove(paths, work, cpus, datatrove_venv()),
    "datatrove (our venv)": lambda paths, work, cpus: run_datatrove(paths, work, cpus, sys.executable),
}
REFERENCE, OUR_VENV = "datatrove[processing]", "datatrove (our venv)"

HEADER = [
    "input",
    "system",
    "wall s",
    "ms/page-core",
    "cpu ms/page",
    "vs datatrove[processing]",
    "vs datatrove (our venv)",
    "cpu vs datatrove[processing]",
    "outside phase A",
    "core-h/dump",
    "kept",
]


def compare(name: str, paths: list[Path], systems: list[str], args, work: Path) -> tuple[list, dict]:
    """Rows of the table for one input set: each system's median over ``--repeat`` alternating rounds."""
    docs = count_html_responses(paths)
    runs: dict[str, list[dict]] = {s: [] for s in systems}
    for round_ in range(args.repeat):
        for system in systems:
            # no brackets or spaces in the folder: datatrove reads its input folder as a glob
            folder = work / f"{round_}-{re.sub(r'[^a-z]+', '-', system).strip('-')}"
            result = SYSTEMS[system](paths, folder, args.cpus)
            runs[system].append(result)
            print(
                f"  [{name}] round {round_ + 1} {system}: {result['seconds']:.1f}s wall, "
                f"{result['cpu']:.1f}s cpu, kept {result['kept']}, load {os.getloadavg()[0]:.1f}",
                file=sys.stderr,
                flush=True,
            )
    wall = {
        s: statistics.median(r["seconds"] for r in rs) * args.cpus * 1000 / docs for s, rs in runs.items()
    }
    cpu = {s: statistics.median(r["cpu"] for r in rs) * 1000 / docs for s, rs in runs.items()}

    def ratio(system: str, reference: str, per_page: dict) -> str:
        return f"{per_page[reference] / per_page[system]:.2f}x" if reference in per_page else "–"

    rows = []
    for system, results in runs.items():
        outside = [r["outside_phase_a"] / r["seconds"] for r in results if "outside_phase_a" in r]
        rows.append(
            [
                f"{name}: {len(paths)} files, {docs:,} docs" if not rows else "",
                system,
                f"{statistics.median(r['seconds'] for r in results):.1f}",
                f"{wall[system]:.1f}",
                f"{cpu[system]:.1f}",
                ratio(system, REFERENCE, wall),
                ratio(system, OUR_VENV, wall),
                ratio(system, REFERENCE, cpu),
                f"{100 * statistics.median(outside):.1f}%" if outside else "–",
                f"{args.dump_pages * wall[system] / 1000 / 3600:,.0f}",
                f"{results[-1]['kept']:,}",
            ]
        )
    return rows, runs


def stage_shares(result: dict) -> str:
    """crawlsieve's CPU seconds by part, from the run's own stats.json cost."""
    cost = result["cost"]
    total = cost["cpu_seconds_total"]
    rows = [["part", "cpu s", "share", "ms/page"]]
    pages = 1000 * total / cost["core_seconds_per_1000_pages"] if cost["core_seconds_per_1000_pages"] else 0
    for part, seconds in cost["cpu_seconds"].items():
        if seconds >= 0.005 * total:
            share, per_page = f"{100 * seconds / total:.1f}%", f"{1000 * seconds / pages:.2f}"
            rows.append([part, f"{seconds:.1f}", share, per_page])
    rows.append(["total", f"{total:.1f}", "100%", f"{cost['core_seconds_per_1000_pages']:.2f}"])
    return stage_cpu.format_rows(rows)


def language_profile(mix: str, work: Path, repeat: int) -> str:
    """The warm CPU per page of each stage, per language, over the mix's own pages."""
    from crawlsieve.pipelines.config import Config

    config = Config()
    config.ray.num_cpus = 1
    pages = corpus_pages(sorted(MIXES[mix].glob("*.warc.gz")))
    work.mkdir(parents=True, exist_ok=True)
    groups = stage_cpu.languages(pages, config, work)
    ms = stage_cpu.warm_ms_per_page(groups, config, work, repeat)
    return stage_cpu.table(ms, {name: len(group) for name, group in groups.items()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mixes", nargs="+", choices=sorted(MIXES), default=list(MIXES), help="page mixes")
    parser.add_argument("--files", type=int, default=2, help="CC-shaped files per mix (2 = one per core)")
    parser.add_argument("--responses", type=int, default=15_000, help="responses per file")
    parser.add_argument("--repeat", type=int, default=1, help="alternating rounds per mix")
    parser.add_argument(
        "--stock-extractor", action="store_true", help="also run crawlsieve with extract.accelerated off"
    )
    parser.add_argument(
        "--cc-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "crawlsieve-cc-shaped",
        help="where the CC-shaped files are written (and reused from)",
    )
    parser.add_argument("--dump-pages", type=float, default=3e9, help="pages of the dump projected to")
    parser.add_argument("--cpus", type=int, default=2, help="cores for every pipeline")
    parser.add_argument(
        "--profile-repeat", type=int, default=2, help="warm passes of the per-language profile"
    )
    parser.add_argument("--profile-only", action="store_true", help="only the per-language stage profile")
    args = parser.parse_args(argv)
    missing = [str(MIXES[m]) for m in args.mixes if not any(MIXES[m].glob("*.warc.gz"))]
    if missing:
        print(f"no *.warc.gz in {', '.join(missing)}", file=sys.stderr)
        return 2
    try:  # datatrove's WarcReader needs these in our venv, and does not declare them
        import cchardet  # noqa: F401
        import magic  # noqa: F401
    except ImportError:
        print("datatrove's WarcReader needs cchardet and magic: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    _become_subreaper()
    systems = [s for s in SYSTEMS if args.stock_extractor or s != "crawlsieve (stock trafilatura)"]
    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="crawlsieve-bench-") as tmp:
        work = Path(tmp)
        if not args.profile_only:
            rows, last = [HEADER], {}
            for mix in args.mixes:
                paths = generate_cc_files(args.cc_dir, args.files, args.responses, mix=mix)
                mix_rows, runs = compare(mix, paths, systems, args, work / mix)
                rows += mix_rows
                last[mix] = runs["crawlsieve"][-1]
            theirs = runs[REFERENCE][-1]["versions"]
            print()
            print(stage_cpu.format_rows(rows))
            print(
                f"\n{REFERENCE}: datatrove {theirs['datatrove']}, trafilatura {theirs['trafilatura']}, "
                f"lxml {theirs['lxml']}; crawlsieve and {OUR_VENV}: trafilatura {version('trafilatura')}, "
                f"lxml {version('lxml')}. Load average at the end: {os.getloadavg()[0]:.1f}"
            )
            for mix, result in last.items():
                print(f"\ncrawlsieve's CPU by part ({mix}, last round, from its stats.json):")
                print(stage_shares(result))
        for mix in args.mixes:
            print(f"\n{mix}: warm CPU per page by stage and language (this process, one core)")
            print(language_profile(mix, work / f"profile-{mix}", args.profile_repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
