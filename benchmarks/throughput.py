"""crawlsieve against datatrove on the same WARC files, the same stages, the same 2 cores.

    .venv/bin/python -m benchmarks.throughput [--repeat 2] [--copies 3] [--files N] [--cpus 2]
    .venv/bin/python -m benchmarks.throughput --repeat 1 --copies 0 --cc-files 2   # CC-sized files

Inputs: the shared corpus's WARC files, and a larger set made by repeating each file
``--copies`` times with new URLs, new record ids and perturbed text (a few words dropped or
doubled per paragraph), so the copies are near- but not exact duplicates. ``--files N`` packs
the copies into N large files, as a real Common Crawl file holds ~30,000 records; otherwise
each copy is a file as small as the corpus's (57 records), where per-file start-up weighs most.
``--cc-files N`` adds N files shaped like Common Crawl's (``benchmarks.cc_shaped``: 30,000
responses each with their request and metadata records, a few % non-HTML and non-200).

(a) crawlsieve: ``run_pipeline`` on a local Ray with ``--cpus`` CPUs (Ray start and stop are
    inside the timing, as datatrove's process pool start is inside its timing), with the stock
    trafilatura and, where it is installed, with the accelerated one (``extract.accelerated``);
(b) datatrove: WarcReader -> Trafilatura -> LanguageFilter -> GopherRepetition + GopherQuality
    -> C4QualityFilter -> FineWebQualityFilter -> ParquetWriter + MinhashDedupSignature, then
    MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, on a LocalPipelineExecutor
    with ``--cpus`` workers and one task per file.

Runs alternate (crawlsieve, datatrove, crawlsieve, ...) so background load hits all alike.
Documents are the HTML 200 responses of the input (the same count for both pipelines);
documents/second/core = documents / wall seconds / cpus. The table also gives each system's
core-hours for a whole dump at that rate, and crawlsieve's CPU seconds by part, from its own
stats.json (the figures every run records).

It then profiles one phase-A pass in this process (outside Ray): the CPU seconds of each stage
of ``per_file_stages(config)`` over the batches of ``read_warc``, the time inside the extractor
separated from the rest of the extract stage, and the Parquet writes.

Offline: datatrove's language filter is pointed at crawlsieve's lid.176.ftz (its default
downloads lid.176.bin); its English word tokenizer is spaCy's blank one (no download), and
C4 splits on lines (``split_paragraph=True``, its default), so NLTK's punkt is never loaded.
datatrove's WarcReader needs undeclared packages: ``pip install -e .[bench]``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from datatrove.pipeline.filters import LanguageFilter
from datatrove.utils.lid import FT176LID

REPO = Path(__file__).resolve().parent.parent
CORPUS_WARCS = REPO.parent / "shared" / "corpus" / "warc"

# --------------------------------------------------------------------------- inputs

#: Text between tags long enough to be prose; only these runs are perturbed.
PROSE = re.compile(rb">([^<>]{80,})<")


def _perturb(html: bytes, rng: random.Random) -> bytes:
    """Drop or double about 3% of the words of each prose run, as an edited copy would.

    Works on bytes and splits on ASCII spaces only, so any encoding survives untouched.
    """

    def edit(match: re.Match) -> bytes:
        words = match.group(1).split(b" ")
        out = []
        for word in words:
            roll = rng.random()
            if roll < 0.015:
                continue
            out.append(word)
            if roll > 0.985:
                out.append(word)
        return b">" + b" ".join(out) + b"<"

    return PROSE.sub(edit, html)


def _sha1_digest(payload: bytes) -> str:
    import base64

    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode("ascii")


def generate_copies(
    sources: list[Path], out_dir: Path, copies: int, files: int = 0, seed: int = 0
) -> list[Path]:
    """Write ``copies`` edited versions of each source WARC; returns their paths.

    ``files`` = 0 writes one file per copy of each source (files as small as the corpus's);
    ``files`` = N packs all copies into N files, as large as the run allows, the way a real
    Common Crawl file holds ~30,000 records, so per-file start-up costs weigh as they do there.
    """
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(copy, source) for copy in range(1, copies + 1) for source in sources]
    targets = [
        out_dir / f"{source.name.removesuffix('.warc.gz')}-copy{copy}.warc.gz" for copy, source in jobs
    ]
    if files:
        targets = [out_dir / f"packed-{i % files:03d}.warc.gz" for i in range(len(jobs))]
    with contextlib.ExitStack() as stack:
        handles = {target: stack.enter_context(open(target, "wb")) for target in dict.fromkeys(targets)}
        for (copy, source), target in zip(jobs, targets, strict=True):
            rng = random.Random(f"{seed}:{copy}:{source.name}")
            writer = WARCWriter(handles[target], gzip=True)
            with open(source, "rb") as handle:
                for record in ArchiveIterator(handle):
                    writer.write_record(_edited(record, writer, copy, rng))
    return list(handles)


def _edited(record, writer, copy: int, rng: random.Random):
    """The record with a new id, a URL on a copy-specific host, and (responses) perturbed HTML."""
    headers = record.rec_headers
    url = headers.get_header("WARC-Target-URI")
    new_url = re.sub(r"^(https?://)", rf"\g<1>copy{copy}.", url) if url else url
    payload = record.content_stream().read()
    http_headers = record.http_headers
    if record.rec_type == "response":
        payload = _perturb(payload, rng)
        http_headers.remove_header("Content-Length")
        http_headers.remove_header("Transfer-Encoding")
        http_headers.remove_header("Content-Encoding")
    warc_headers = {
        name: value
        for name, value in headers.headers
        if name not in ("WARC-Record-ID", "WARC-Target-URI", "WARC-Payload-Digest", "WARC-Block-Digest")
        and name != "Content-Length"
    }
    warc_headers["WARC-Record-ID"] = f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>"
    if record.rec_type == "response":
        warc_headers["WARC-Payload-Digest"] = _sha1_digest(payload)
    return writer.create_warc_record(
        new_url or "",
        record.rec_type,
        payload=io.BytesIO(payload),
        length=len(payload),
        warc_headers_dict=warc_headers,
        http_headers=http_headers,
    )


def count_html_responses(paths: list[Path]) -> int:
    """HTML 200 responses: the documents both pipelines are asked to extract."""
    from crawlsieve.ingest.config import ReadConfig
    from crawlsieve.ingest.warc import HttpCheckStage, read_warc

    read = ReadConfig()
    check = HttpCheckStage(read)
    total = 0
    for path in paths:
        for batch in read_warc(str(path), path.name, read):
            total += check(batch).column("_removed").null_count
    return total


# --------------------------------------------------------------------------- crawlsieve


def crawlsieve_config(cpus: int, accelerated: bool | None = None):
    from crawlsieve.pipelines.config import Config

    config = Config()
    config.ray.num_cpus = cpus
    if accelerated is not None and "accelerated" in type(config.extract).model_fields:
        config.extract.accelerated = accelerated
    return config


def run_crawlsieve(paths: list[Path], work: Path, cpus: int, accelerated: bool | None = None) -> dict:
    import ray

    from crawlsieve.pipelines.ray_runtime import init_ray
    from crawlsieve.pipelines.run import run_pipeline

    config = crawlsieve_config(cpus, accelerated)
    out = work / "crawlsieve"
    started = time.perf_counter()
    init_ray(config)
    ray_up = time.perf_counter()
    stats = run_pipeline([str(p) for p in paths], out, config, report=False, log=lambda m: None)
    ray.shutdown()
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    phases = stats["phases"]["wall_seconds"]
    return {
        "seconds": seconds,
        "ray_init": ray_up - started,
        "kept": stats["documents_kept"],
        "cost": stats["cost"],
        # Driver start-up and everything after phase A, against the whole wall time.
        "outside_phase_a": (ray_up - started) + sum(v for k, v in phases.items() if k != "extract"),
    }


# --------------------------------------------------------------------------- datatrove


class _LocalFT176(FT176LID):
    """datatrove's lid.176 language id, loading a local model file (its default downloads one)."""

    def __init__(self, path: str):
        super().__init__(None)
        self.path = path

    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText

            self._model = _FastText(self.path)
        return self._model


class OfflineLanguageFilter(LanguageFilter):
    """datatrove's LanguageFilter on crawlsieve's lid.176.ftz, never downloading.

    Its dependency check looks for the ``fasttext-numpy2-wheel`` distribution by name; the
    ``fasttext`` module here comes from ``fasttext-community``, so the check (done in
    ``PipelineStep.__new__``) is skipped.
    """

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, language_threshold: float):
        from crawlsieve.filters.language_id import default_model_path

        super().__init__(language_threshold=language_threshold)
        self.model = _LocalFT176(str(default_model_path()))


def datatrove_stages(paths: list[Path], work: Path, cpus: int, minhash_config) -> list:
    """The four LocalPipelineExecutors of datatrove's FineWeb-style pipeline."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.readers import ParquetReader, WarcReader
    from datatrove.pipeline.writers import ParquetWriter

    from crawlsieve.ingest.config import ExtractConfig

    extract = ExtractConfig()
    input_dir = work / "input"
    input_dir.mkdir(parents=True, exist_ok=True)
    for path in paths:  # datatrove reads a folder; links keep the files where they are
        (input_dir / path.name).symlink_to(path.resolve())
    language = OfflineLanguageFilter(language_threshold=crawlsieve_config(1).language.min_score)
    filtered, sigs, buckets, clusters = (work / n for n in ("filtered", "sigs", "buckets", "clusters"))
    tasks = len(paths)
    common = {"workers": cpus, "skip_completed": False}
    stage_a = LocalPipelineExecutor(
        pipeline=[
            WarcReader(str(input_dir), glob_pattern="*.warc.gz"),
            Trafilatura(
                favour_precision=extract.favor_precision,
                timeout=extract.timeout_seconds,
                deduplicate=extract.deduplicate,
                favor_recall=extract.favor_recall,
                include_tables=extract.include_tables,
                include_links=extract.include_links,
                with_metadata=False,
                output_format="txt",
            ),
            language,
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(),
            FineWebQualityFilter(),
            ParquetWriter(str(filtered)),
            MinhashDedupSignature(output_folder=str(sigs), config=minhash_config),
        ],
        tasks=tasks,
        logging_dir=str(work / "logs" / "a"),
        **common,
    )
    stage_b = LocalPipelineExecutor(
        pipeline=[
            MinhashDedupBuckets(input_folder=str(sigs), output_folder=str(buckets), config=minhash_config)
        ],
        tasks=minhash_config.num_buckets,
        logging_dir=str(work / "logs" / "b"),
        **common,
    )
    stage_c = LocalPipelineExecutor(
        pipeline=[
            MinhashDedupCluster(input_folder=str(buckets), output_folder=str(clusters), config=minhash_config)
        ],
        tasks=1,
        logging_dir=str(work / "logs" / "c"),
        **common,
    )
    stage_d = LocalPipelineExecutor(
        pipeline=[
            ParquetReader(str(filtered)),
            MinhashDedupFilter(input_folder=str(clusters)),
            ParquetWriter(str(work / "deduped")),
        ],
        tasks=tasks,
        logging_dir=str(work / "logs" / "d"),
        **common,
    )
    return [stage_a, stage_b, stage_c, stage_d]


def datatrove_minhash_config():
    """datatrove's MinHash with crawlsieve's shingle size, permutations split into the same bands."""
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.utils.hashing import HashConfig

    from crawlsieve.dedup.minhash import lsh_params

    d = crawlsieve_config(1).dedup
    bands, rows = lsh_params(d.threshold, d.num_perm, d.false_positive_weight, d.false_negative_weight)
    # datatrove's default xxhash path passes str, which xxhash>=4 refuses; sha1 is its other choice
    return MinhashConfig(
        n_grams=d.ngram_size,
        num_buckets=bands,
        hashes_per_bucket=rows,
        seed=d.seed,
        hash_config=HashConfig(hash_fc="sha1"),
    )


def run_datatrove(paths: list[Path], work: Path, cpus: int) -> dict:
    import pyarrow.parquet as pq

    out = work / "datatrove"
    stages = datatrove_stages(paths, out, cpus, datatrove_minhash_config())
    started = time.perf_counter()
    for stage in stages:
        stage.run()
    seconds = time.perf_counter() - started
    kept = sum(pq.read_metadata(p).num_rows for p in (out / "deduped").glob("*.parquet"))
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "kept": kept}


# --------------------------------------------------------------------------- stage profile


def profile_phase_a(paths: list[Path], config) -> tuple[dict[str, float], float]:
    """CPU seconds per part of phase A over ``paths``, in this process; returns (parts, total).

    Parts: ``read`` (warcio + row building), each stage by name (the extraction process's CPU
    included), with ``extract`` split into ``extract:<extractor>`` (inside the extractor) and
    ``extract:decode+ipc``, ``ledger`` (moving decided rows) and ``write`` (the Parquet files).
    CPU time, not wall time: what another process on the machine does changes it least.
    """
    import pyarrow as pa

    from crawlsieve.core.io import write_atomically
    from crawlsieve.core.ledger import CpuClock, run_stages
    from crawlsieve.ingest.extract import ExtractStage
    from crawlsieve.ingest.warc import read_warc
    from crawlsieve.pipelines.extract_phase import per_file_stages

    clock = CpuClock()
    stages = per_file_stages(config)
    extract = next(s for s in stages if isinstance(s, ExtractStage))
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            batches = clock.timed("read", read_warc(str(path), path.name, config.read))
            docs, ledger = run_stages(batches, stages, path.name, clock=clock)
            with clock.part("write"):
                for name, tables in (("docs", docs), ("ledger", ledger)):
                    if tables:
                        table = pa.concat_tables(tables, promote_options="permissive")
                        write_atomically(table, Path(tmp) / f"{path.name}.{name}.parquet")
    parts = dict(clock.seconds)
    inner = "extract:" + config.extract.extractor
    parts[inner] = extract.extractor_cpu_seconds
    parts["extract:decode+ipc"] = parts.pop("extract", 0.0) - extract.extractor_cpu_seconds
    return parts, sum(parts.values())


# --------------------------------------------------------------------------- report


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


SYSTEMS = {
    "crawlsieve": lambda paths, work, cpus: run_crawlsieve(paths, work, cpus, accelerated=False),
    "crawlsieve+fast": lambda paths, work, cpus: run_crawlsieve(paths, work, cpus, accelerated=True),
    "datatrove": run_datatrove,
}


def _accelerator_available() -> bool:
    from crawlsieve.ingest.config import ExtractConfig

    return "accelerated" in ExtractConfig.model_fields


def compare(
    name: str, paths: list[Path], repeat: int, cpus: int, work: Path, dump_pages: float
) -> tuple[list[list[str]], dict]:
    """Rows of the table for one input set: each system's median over ``repeat`` alternating rounds."""
    docs = count_html_responses(paths)
    systems = [s for s in SYSTEMS if s != "crawlsieve+fast" or _accelerator_available()]
    runs: dict[str, list[dict]] = {s: [] for s in systems}
    for round_ in range(repeat):
        for system in systems:
            result = SYSTEMS[system](paths, work / f"{system}-{round_}", cpus)
            runs[system].append(result)
            print(
                f"  [{name}] round {round_ + 1} {system}: {result['seconds']:.1f}s, kept {result['kept']}",
                file=sys.stderr,
                flush=True,
            )
    median = {s: statistics.median(r["seconds"] for r in rs) for s, rs in runs.items()}
    rate = {s: docs / median[s] / cpus for s in systems}
    rows = []
    for system in systems:
        last = runs[system][-1]
        outside = (
            f"{100 * statistics.median(r['outside_phase_a'] / r['seconds'] for r in runs[system]):.1f}%"
            if "outside_phase_a" in last
            else "–"
        )
        core_hours = dump_pages / rate[system] / 3600
        rows.append(
            [
                name if system == systems[0] else "",
                f"{len(paths)}",
                f"{docs}",
                system,
                f"{median[system]:.1f}",
                f"{rate[system]:.2f}",
                f"{1000 / rate[system]:.1f}",
                f"{rate[system] / rate['datatrove']:.2f}x",
                outside,
                f"{core_hours:,.0f}",
                f"{last['kept']}",
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
    return _table(rows)


def profile_report(paths: list[Path], extractor: str, accelerated: bool | None = None) -> str:
    """Two passes in one process: the first pays one-time loading (models, spaCy languages, the
    URL list), the second is the steady state a worker reaches on a real, 30,000-page WARC file."""
    config = crawlsieve_config(1, accelerated)
    config.extract.extractor = extractor
    reports = []
    for label in ("cold: first pass, loading included", "warm: second pass, steady state"):
        parts, total = profile_phase_a(paths, config)
        rows = [[f"phase A, {label}", "cpu s", "share"]]
        for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
            rows.append([name, f"{seconds:.2f}", f"{100 * seconds / total:.1f}%"])
        rows.append(["total", f"{total:.2f}", "100.0%"])
        inner = parts["extract:" + extractor]
        reports.append(
            _table(rows) + f"\ninside {extractor}: {100 * inner / total:.1f}% of phase A; "
            f"everything else: {100 * (total - inner) / total:.1f}%"
        )
    return "\n\n".join(reports)


HEADER = [
    "input",
    "files",
    "docs",
    "system",
    "wall s",
    "doc/s/core",
    "ms/page-core",
    "vs datatrove",
    "outside phase A",
    "core-h/dump",
    "kept",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="alternating rounds per input set")
    parser.add_argument(
        "--copies", type=int, default=3, help="edited copies per file in the larger set (0: none)"
    )
    parser.add_argument(
        "--files",
        type=int,
        default=0,
        help="pack the edited copies into this many large files (0: one small file per copy)",
    )
    parser.add_argument(
        "--cc-files",
        type=int,
        default=0,
        help="also run this many Common-Crawl-shaped files (benchmarks.cc_shaped; 2 = one per core)",
    )
    parser.add_argument("--cc-responses", type=int, default=30_000, help="responses per CC-shaped file")
    parser.add_argument(
        "--cc-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "crawlsieve-cc-shaped",
        help="where the CC-shaped files are written (and reused from)",
    )
    parser.add_argument("--dump-pages", type=float, default=3e9, help="pages of the dump projected to")
    parser.add_argument("--cpus", type=int, default=2, help="cores for both pipelines")
    parser.add_argument("--input", type=Path, default=CORPUS_WARCS, help="folder of *.warc.gz")
    parser.add_argument("--profile-only", action="store_true", help="only the in-process stage profile")
    args = parser.parse_args(argv)
    sources = sorted(args.input.glob("*.warc.gz"))
    if not sources:
        print(f"no *.warc.gz in {args.input}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="crawlsieve-bench-") as tmp:
        work = Path(tmp)
        sets = [("corpus", sources)]
        if args.copies:
            copies = generate_copies(sources, work / "copies", args.copies, args.files)
            packed = f" in {args.files} files" if args.files else ""
            sets.append((f"corpus + {args.copies} edited copies{packed}", sources + copies))
        if args.cc_files:
            from benchmarks.cc_shaped import generate_cc_files

            cc = generate_cc_files(args.cc_dir, args.cc_files, args.cc_responses, sources=sources)
            sets.append((f"CC-shaped {args.cc_files} x {args.cc_responses:,} responses", cc))
        if not args.profile_only:
            rows, shares = [HEADER], []
            for name, paths in sets:
                set_rows, runs = compare(
                    name, paths, args.repeat, args.cpus, work / f"set{len(rows)}", args.dump_pages
                )
                rows += set_rows
                shares += [(name, system, rs[-1]) for system, rs in runs.items() if "cost" in rs[-1]]
            print(_table(rows))
            print(
                "\noutside phase A: Ray start, driver start-up, dedup, finalize and aggregate, "
                "as a share of the wall time; core-h/dump: core-hours for a "
                f"{args.dump_pages / 1e9:g}-billion-page dump at the measured doc/s/core"
            )
            name, system, last = shares[-1]
            print(f"\ncrawlsieve's CPU by part ({system}, {name}, last round, from its stats.json):")
            print(stage_shares(last))
            print()
        print(profile_report(sources, "trafilatura", accelerated=False))
        if _accelerator_available():
            print("\nwith the accelerated extractor:\n")
            print(profile_report(sources, "trafilatura", accelerated=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
