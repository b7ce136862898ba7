"""Every path of a run's output directory, in one place.

The tasks, the dedup step, the driver, the report and the tests all find a run's files through a
``RunLayout``; nothing else spells a path inside the run directory.

    DIR/data/                        the published Parquet shards (Hive: domain=, language=)
    DIR/stats.json, mixture.json, distributions.json, report.html, dedup_index/
    DIR/review/                      removed/, tagged/, kept.jsonl, precision.json (review labels)
    DIR/_work/docs/<shard>.parquet   documents that passed phase A, for dedup and finalize
    DIR/_work/ledger/<shard>.<extract|final>.parquet    every decided row of a phase
    DIR/_work/dedup/                 decisions/<shard>.parquet, clusters/, duplicates.json,
                                     examples/<shard>.parquet, cpu/ (transient),
                                     subdoc/<shard>.parquet, subdoc_units.json (sub-document dedup)
    DIR/_work/decontamination_index.npy   the benchmarks' n-gram hashes, built once per run
    DIR/_work/summaries/<extract|files>/<shard>.sum     a task's summary (finalize's: the whole file's)
    DIR/_work/review/<extract|files>/<shard>.parquet    its review candidates
    DIR/clusters/                    `crawlsieve cluster`: model.npz, clusters.json,
                                     assignments/<shard>.parquet (the side table id -> cluster),
                                     summaries/<shard>.json, sample/ (transient)
    DIR/_state/run.json, lock.json   the run's inputs and config; the lock on DIR
    DIR/_state/<extract|final>/<shard>.json            completion markers, for --resume
    DIR/_state/attempts/<extract|final>/<shard>        attempts at a file, for the retry bound
    DIR/plan.json                    (a ``mix --materialize`` output) the plan it was sampled by

The per-file methods take ``(shard, phase)``, the phase one of ``PHASES``; finalize's files keep
the names earlier versions gave them on disk (``final``, ``files``), so ``--resume`` and the
commands that read a run (report, review, refilter) read older runs as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from crawlsieve.core.errors import UsageError

WORK, STATE = "_work", "_state"
#: The phases that write files per input file: A (read, extract, filters) and C (finalize).
EXTRACT, FINALIZE = "extract", "finalize"
PHASES = (EXTRACT, FINALIZE)
#: Each phase as its ledgers, markers and attempts spell it on disk.
_STATE_NAMES = {EXTRACT: "extract", FINALIZE: "final"}
#: Each phase as its summaries and review candidates spell it on disk, and a summary's header.
SUMMARY_NAMES = {EXTRACT: "extract", FINALIZE: "files"}
#: A run's products; a fresh (non --resume) run clears them, and nothing else in DIR.
OUTPUTS = (
    "data",
    WORK,
    STATE,
    "review",
    "dedup_index",
    "clusters",
    "stats.json",
    "mixture.json",
    "distributions.json",
    "report.html",
)


def _on_disk(phase: str, names: dict[str, str]) -> str:
    if phase not in names:
        raise ValueError(f"not a phase: {phase!r} (one of {', '.join(PHASES)})")
    return names[phase]


def review_file_name(reason: str) -> str:
    """`gopher_quality:word_count` -> `gopher_quality__word_count.jsonl`, safe as a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", reason.replace(":", "__")) + ".jsonl"


def within(path: Path, directory: Path) -> bool:
    """Whether ``path`` is ``directory`` or lies inside it (resolve both first: links, ``..``)."""
    return path == directory or directory in path.parents


def check_apart(
    output: Path, flag: str, files: Iterable[tuple[str, str]] = (), runs: Iterable[tuple[str, str]] = ()
) -> None:
    """Refuse, before anything is touched, a command whose output would destroy what it reads:
    an input file (WARC, listing, config, model, benchmark) inside one of the output's run
    products, or an input run directory (a dedup index, a run to refilter or sample) that the
    output lies in or holds. ``files`` and ``runs``: (what the user called it, local path)."""
    out = Path(output).resolve()
    for name, path in files:
        resolved = Path(path).resolve()
        holder = RunLayout(out).output_holding(resolved)
        if holder is not None:
            raise UsageError(
                f"{name} {path} lies in {holder}, which {flag} {out} rewrites: move it out of there first"
            )
    for name, path in runs:
        resolved = Path(path).resolve()
        if within(resolved, out) or within(out, resolved):
            inside = "is" if resolved == out else "lies inside" if within(resolved, out) else "holds"
            raise UsageError(
                f"{name} {path} {inside} {flag} {out}: choose an output apart from what it reads"
            )


@dataclass(frozen=True)
class RunLayout:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # --- published outputs ---

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def stats(self) -> Path:
        return self.root / "stats.json"

    @property
    def mixture(self) -> Path:
        return self.root / "mixture.json"

    @property
    def distributions(self) -> Path:
        return self.root / "distributions.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def review(self) -> Path:
        return self.root / "review"

    @property
    def review_kept(self) -> Path:
        """The sample of kept documents."""
        return self.review / "kept.jsonl"

    @property
    def review_removed_dir(self) -> Path:
        return self.review / "removed"

    def review_removed(self, reason: str) -> Path:
        """The sample of documents removed (or failed) for ``reason``."""
        return self.review_removed_dir / review_file_name(reason)

    @property
    def review_tagged_dir(self) -> Path:
        return self.review / "tagged"

    def review_tagged(self, tag: str) -> Path:
        """The sample of kept documents with a spam and safety tag (``core.stages.SAFETY_TAGS``)."""
        return self.review_tagged_dir / review_file_name(tag)

    @property
    def precision(self) -> Path:
        """Reviewers' labels of the samples turned into precision per filter (`crawlsieve review`)."""
        return self.review / "precision.json"

    @property
    def dedup_index(self) -> Path:
        return self.root / "dedup_index"

    @property
    def plan(self) -> Path:
        """The plan a ``mix --materialize`` output was sampled by."""
        return self.root / "plan.json"

    # --- semantic clusters (`crawlsieve cluster`) ---

    @property
    def semantic_clusters(self) -> Path:
        return self.root / "clusters"

    @property
    def cluster_model(self) -> Path:
        return self.semantic_clusters / "model.npz"

    @property
    def cluster_facts(self) -> Path:
        """The merged per-cluster facts the report shows and labels are checked against."""
        return self.semantic_clusters / "clusters.json"

    def cluster_assignments(self, shard: str) -> Path:
        """The side table (id, cluster) of one shard's published documents."""
        return self.semantic_clusters / "assignments" / f"{shard}.parquet"

    def cluster_assignment_files(self) -> list[Path]:
        return sorted((self.semantic_clusters / "assignments").glob("*.parquet"))

    def cluster_summary(self, shard: str) -> Path:
        """One shard's per-cluster facts (sizes, tokens, tags, terms, samples), merged into clusters.json."""
        return self.semantic_clusters / "summaries" / f"{shard}.json"

    def cluster_summaries(self) -> list[Path]:
        return sorted((self.semantic_clusters / "summaries").glob("*.json"))

    @property
    def cluster_sample_dir(self) -> Path:
        """The fitting sample: per shard, the hashed term counts of its sampled documents (transient)."""
        return self.semantic_clusters / "sample"

    def cluster_sample(self, shard: str) -> Path:
        return self.cluster_sample_dir / f"{shard}.parquet"

    @property
    def cluster_labels(self) -> Path:
        """The reviewer's cluster labels as `crawlsieve review --cluster-labels` recorded them."""
        return self.review / "cluster_labels.json"

    def outputs(self) -> list[Path]:
        return [self.root / name for name in OUTPUTS]

    def output_holding(self, path: Path) -> Path | None:
        """The run's product (``OUTPUTS``) that is or holds ``path`` (both resolved), if any: what
        a fresh run clears and any run rewrites."""
        return next((output for output in self.outputs() if within(path, output)), None)

    # --- work files ---

    @property
    def work(self) -> Path:
        return self.root / WORK

    def docs(self, shard: str) -> Path:
        return self.work / "docs" / f"{shard}.parquet"

    def docs_files(self) -> list[Path]:
        return sorted((self.work / "docs").glob("*.parquet"))

    def ledger(self, shard: str, phase: str) -> Path:
        return self.work / "ledger" / f"{shard}.{_on_disk(phase, _STATE_NAMES)}.parquet"

    def ledger_files(self) -> list[Path]:
        return sorted((self.work / "ledger").glob("*.parquet"))

    @property
    def dedup(self) -> Path:
        return self.work / "dedup"

    @property
    def decisions_dir(self) -> Path:
        return self.dedup / "decisions"

    def decisions(self, shard: str) -> Path:
        return self.decisions_dir / f"{shard}.parquet"

    @property
    def clusters(self) -> Path:
        return self.dedup / "clusters"

    @property
    def duplicates(self) -> Path:
        """The duplicate clusters the report shows (``dedup.cluster_facts``)."""
        return self.dedup / "duplicates.json"

    def cluster_examples(self, shard: str) -> Path:
        """url and text of the shown cluster members of one shard (written by its finalize)."""
        return self.dedup / "examples" / f"{shard}.parquet"

    @property
    def decontamination_index(self) -> Path:
        return self.work / "decontamination_index.npy"

    @property
    def dedup_cpu(self) -> Path:
        """CPU-time logs of the dedup step's tasks, summed and removed when the step ends."""
        return self.dedup / "cpu"

    @property
    def subdoc_decisions_dir(self) -> Path:
        return self.dedup / "subdoc"

    def subdoc_decisions(self, shard: str) -> Path:
        """The repeated units to cut from each of a shard's documents (sub-document dedup)."""
        return self.subdoc_decisions_dir / f"{shard}.parquet"

    @property
    def subdoc_units(self) -> Path:
        """The sub-document dedup's counts and most repeated units, for phase D."""
        return self.dedup / "subdoc_units.json"

    def summary(self, shard: str, phase: str) -> Path:
        return self.work / "summaries" / _on_disk(phase, SUMMARY_NAMES) / f"{shard}.sum"

    def summaries(self, phase: str) -> list[Path]:
        return sorted((self.work / "summaries" / _on_disk(phase, SUMMARY_NAMES)).glob("*.sum"))

    def review_rows(self, shard: str, phase: str) -> Path:
        return self.work / "review" / _on_disk(phase, SUMMARY_NAMES) / f"{shard}.parquet"

    # --- state ---

    @property
    def state(self) -> Path:
        return self.root / STATE

    @property
    def run_record(self) -> Path:
        return self.state / "run.json"

    @property
    def lock(self) -> Path:
        return self.state / "lock.json"

    def marker(self, shard: str, phase: str) -> Path:
        return self.state / _on_disk(phase, _STATE_NAMES) / f"{shard}.json"

    def markers(self, phase: str) -> list[Path]:
        return sorted((self.state / _on_disk(phase, _STATE_NAMES)).glob("*.json"))

    def attempts(self, shard: str, phase: str) -> Path:
        return self.state / "attempts" / _on_disk(phase, _STATE_NAMES) / shard

    @property
    def attempts_dir(self) -> Path:
        return self.state / "attempts"
