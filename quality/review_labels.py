"""`crawlsieve review DIR --labels labels.jsonl`: reviewers' labels turned into filter precision;
`crawlsieve review DIR --cluster-labels labels.csv`: keep, drop or weight:<w> per semantic cluster.

Reviewers read the samples in DIR/review/ and label documents `good` (should have been kept)
or `bad` (rightly removed). A filter's precision is the share of its removed documents that
are bad; with a few dozen labels that estimate is rough, so each comes with a Wilson score
interval (sound for small samples and for shares near 0 or 1, where the normal
approximation is not). The result goes to DIR/review/precision.json and into the report.

Cluster labels are checked against DIR/clusters/clusters.json and recorded with the file's digest
in DIR/review/cluster_labels.json, which `refilter` (drop) and `mix` (every weight) apply.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

from crawlsieve.core.io import write_bytes_atomically
from crawlsieve.core.layout import RunLayout

HELP = (
    "Add reviewers' good/bad labels on the review/ samples to the report as per-filter precision, "
    "or their keep/drop/weight labels of the semantic clusters."
)
LABELS = ("good", "bad")
KEPT = "kept"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="output directory of `crawlsieve run`")
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument(
        "--labels",
        metavar="FILE",
        help='JSONL, one {"id": ..., "label": "good"|"bad"} per line (ids from DIR/review/)',
    )
    given.add_argument(
        "--cluster-labels",
        metavar="CSV",
        help="lines 'cluster,label', label keep, drop or weight:<w> (clusters of `crawlsieve cluster DIR`)",
    )


def wilson_interval(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial share `hits / n` (written out: one formula,
    and the stats libraries that have it are not dependencies of crawlsieve)."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    share = hits / n
    denominator = 1 + z * z / n
    centre = (share + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate(hits: int, n: int, confidence: float, hit_label: str) -> dict:
    low, high = wilson_interval(hits, n, confidence)
    return {
        "labelled": n,
        hit_label: hits,
        ("good" if hit_label == "bad" else "bad"): n - hits,
        "precision": hits / n if n else 0.0,
        "low": low,
        "high": high,
    }


def read_labels(path: Path) -> dict[str, str]:
    """id -> label; a later line for the same id replaces an earlier one (a corrected label)."""
    from crawlsieve.core.errors import UsageError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read labels {path}: {error}") from None
    labels: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise UsageError(f"{path}:{number}: not a JSON object") from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise UsageError(f'{path}:{number}: expected {{"id": "...", "label": "good"|"bad"}}')
        label = str(row.get("label", "")).strip().lower()
        if label not in LABELS:
            raise UsageError(f"{path}:{number}: label must be good or bad, not {row.get('label')!r}")
        labels[row["id"]] = label
    return labels


def sampled_groups(layout: RunLayout) -> dict[str, str]:
    """id -> the reason it was sampled for (`kept` for kept documents), from DIR/review/."""
    groups: dict[str, str] = {}
    files = [*sorted(layout.review_removed_dir.glob("*.jsonl")), layout.review_kept]
    for path in files:
        if not path.is_file():
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict) and isinstance(row.get("id"), str):
                    groups[row["id"]] = row.get("reason") or KEPT
    return groups


def filter_of(reason: str) -> str:
    """`gopher_quality:word_count` -> `gopher_quality`: the filter that owns a reason."""
    return reason.split(":", 1)[0]


def precision_table(labels: dict[str, str], groups: dict[str, str], confidence: float) -> dict:
    """Per reason and per filter: labelled removed documents, how many bad, precision and interval."""
    per_reason: dict[str, Counter] = defaultdict(Counter)
    unmatched = 0
    for doc_id, label in labels.items():
        group = groups.get(doc_id)
        if group is None:
            unmatched += 1
        else:
            per_reason[group][label] += 1
    per_filter: dict[str, Counter] = defaultdict(Counter)
    for reason, counts in per_reason.items():
        if reason != KEPT:
            per_filter[filter_of(reason)].update(counts)

    def table(counters: dict[str, Counter]) -> dict:
        return {
            name: estimate(c["bad"], c["bad"] + c["good"], confidence, "bad")
            for name, c in sorted(counters.items())
            if name != KEPT
        }

    kept = per_reason.get(KEPT)
    return {
        "confidence": confidence,
        "labelled": len(labels),
        "unmatched": unmatched,
        "reasons": table(per_reason),
        "filters": table(per_filter),
        "kept": estimate(kept["good"], kept["good"] + kept["bad"], confidence, "good") if kept else None,
    }


def main(args: argparse.Namespace) -> int:
    from crawlsieve.core.errors import UsageError
    from crawlsieve.quality.distributions import report_config
    from crawlsieve.quality.report import build_report

    output_dir = Path(args.directory)
    if args.cluster_labels:
        return cluster_labels_main(output_dir, Path(args.cluster_labels))
    layout = RunLayout(output_dir)
    review_dir = layout.review
    if not review_dir.is_dir():
        raise UsageError(f"{output_dir} holds no review/ samples: is it the --output of `crawlsieve run`?")
    labels_path = Path(args.labels)
    labels = read_labels(labels_path)
    config = report_config(output_dir)
    result = precision_table(labels, sampled_groups(layout), config.confidence)
    result["labels_file"] = str(labels_path)
    write_bytes_atomically((json.dumps(result, indent=1) + "\n").encode("utf-8"), layout.precision)
    for name, values in result["filters"].items():
        print(
            f"{name}: precision {values['precision']:.0%} ({values['low']:.0%}–{values['high']:.0%}) "
            f"from {values['labelled']} labelled"
        )
    if result["unmatched"]:
        print(f"{result['unmatched']} label(s) matched no document of {review_dir}")
    path = build_report(output_dir, config)
    print(f"wrote {path}")
    return 0


# --- cluster labels ---------------------------------------------------------------------------------

#: keep, drop, or weight:<w> (w >= 0: a multiplier of the cluster's natural share in `mix`).
_CLUSTER_LABEL = re.compile(r"keep|drop|weight:(\d+(?:\.\d*)?|\.\d+)")


def cluster_weight(label: str) -> float:
    """The label as a multiplier of the cluster's documents: keep 1, drop 0, weight:<w> w."""
    if label in ("keep", "drop"):
        return 1.0 if label == "keep" else 0.0
    return float(label.removeprefix("weight:"))


def read_cluster_labels(path: Path, known: set[int]) -> dict[int, str]:
    """cluster -> label from a CSV of ``cluster,label`` lines (a header line is allowed; a later
    line for the same cluster replaces an earlier one). One line naming the problem otherwise."""
    import csv

    from crawlsieve.core.errors import UsageError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read cluster labels {path}: {error}") from None
    labels: dict[int, str] = {}
    for number, row in enumerate(csv.reader(lines), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or (number == 1 and [c.lower() for c in cells] == ["cluster", "label"]):
            continue
        if len(cells) != 2 or not cells[0].isdigit():
            raise UsageError(f"{path}:{number}: expected 'cluster,label', e.g. '3,drop'")
        cluster, label = int(cells[0]), cells[1].lower()
        if cluster not in known:
            raise UsageError(f"{path}:{number}: no cluster {cluster} among this run's {len(known)} clusters")
        if not _CLUSTER_LABEL.fullmatch(label):
            raise UsageError(f"{path}:{number}: label must be keep, drop or weight:<w>, not {cells[1]!r}")
        labels[cluster] = label
    return labels


@dataclass(frozen=True)
class ClusterLabels:
    """A reviewer's cluster labels as `review --cluster-labels` recorded them for a run."""

    run: Path
    labels: dict[int, str]
    labels_file: str
    sha256: str
    fingerprint: str

    @property
    def dropped(self) -> frozenset[int]:
        return frozenset(c for c, label in self.labels.items() if label == "drop")

    def weight(self, cluster: int | None) -> float:
        """A document's multiplier: its cluster's label (1 when unlabelled or unassigned)."""
        label = self.labels.get(cluster) if cluster is not None else None
        return 1.0 if label is None else cluster_weight(label)

    def provenance(self) -> dict:
        return {"labels_file": self.labels_file, "sha256": self.sha256, "run": str(self.run)}


def record_cluster_labels(output_dir: Path, labels_path: Path) -> dict:
    """Check the labels against DIR's clusters and record them (DIR/review/cluster_labels.json) with
    the file's digest and what they remove and down-weight."""
    from crawlsieve.core.errors import UsageError
    from crawlsieve.core.io import read_json, write_json_atomically

    layout = RunLayout(output_dir)
    if not layout.cluster_facts.is_file():
        raise UsageError(f"{output_dir} has no clusters: run `crawlsieve cluster {output_dir}` first")
    facts = read_json(layout.cluster_facts)
    rows = {int(row["cluster"]): row for row in facts.get("clusters") or []}
    labels = read_cluster_labels(labels_path, set(rows))
    effect = {"removed_documents": 0, "removed_tokens": 0, "weighted_documents": 0, "weighted_tokens": 0,
              "weighted_effective_tokens": 0.0}  # fmt: skip
    for cluster, label in labels.items():
        weight, row = cluster_weight(label), rows[cluster]
        if weight == 0:
            effect["removed_documents"] += row["documents"]
            effect["removed_tokens"] += row["tokens"]
        elif weight != 1:
            effect["weighted_documents"] += row["documents"]
            effect["weighted_tokens"] += row["tokens"]
            effect["weighted_effective_tokens"] += row["tokens"] * weight
    record = {
        "labels_file": str(labels_path.resolve()),
        "sha256": hashlib.sha256(labels_path.read_bytes()).hexdigest(),
        "fingerprint": facts.get("fingerprint"),
        "run": str(Path(output_dir).resolve()),
        "labels": {str(c): label for c, label in sorted(labels.items())},
        "counts": dict(sorted(Counter(_kind(label) for label in labels.values()).items())),
        "effect": effect,
    }
    layout.review.mkdir(parents=True, exist_ok=True)
    write_json_atomically(record, layout.cluster_labels, sort_keys=False)
    return record


def _kind(label: str) -> str:
    return "weight" if label.startswith("weight:") else label


def recorded_cluster_labels(path: Path) -> ClusterLabels:
    """The labels recorded in ``path`` (a run's review/cluster_labels.json); ``ConfigError`` when it
    is missing, damaged, or was made for another clustering than the run's clusters.json."""
    from crawlsieve.core.errors import ConfigError, UsageError
    from crawlsieve.core.io import read_json

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"cluster labels {path}: no such file (record them with `crawlsieve review --cluster-labels`)"
        )
    try:
        record = read_json(path)
        run = Path(record["run"])
        labels = {int(c): str(label) for c, label in record["labels"].items()}
    except (UsageError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise ConfigError(f"cluster labels {path} are damaged: {error}") from None
    facts = RunLayout(run).cluster_facts
    current = read_json(facts).get("fingerprint") if facts.is_file() else None
    if current != record.get("fingerprint"):
        raise ConfigError(
            f"cluster labels {path} were made for another clustering than {facts}: label the clusters again"
        )
    return ClusterLabels(run, labels, str(record.get("labels_file")), str(record.get("sha256")), current)


def cluster_labels_main(output_dir: Path, labels_path: Path) -> int:
    from crawlsieve.quality.report import build_report

    record = record_cluster_labels(output_dir, labels_path)
    effect = record["effect"]
    counts = ", ".join(f"{n} {kind}" for kind, n in record["counts"].items()) or "no labels"
    print(
        f"{counts}: {effect['removed_documents']:,} documents ({effect['removed_tokens']:,} tokens) to "
        f"remove with `crawlsieve refilter`, {effect['weighted_documents']:,} re-weighted by `crawlsieve mix`"
    )
    print(f"recorded in {RunLayout(output_dir).cluster_labels} (sha256 {record['sha256'][:12]})")
    if RunLayout(output_dir).report.is_file():
        print(f"wrote {build_report(output_dir)}")
    return 0
