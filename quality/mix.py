"""`crawlsieve mix DIR --target target.yaml --tokens N`: a sampling plan for a target mixture.

(`--fit experiments.csv` instead fits the mixture on small proxy runs: see `quality/mixfit.py`.)

The target file gives weights by `language`, `domain` and/or `genre`::

    language: {en: 2, zh: 1}     # English:Chinese 2:1
    domain: {code: 0.1}          # code is 10% of each language's tokens
    genre: {forum: 0.2}          # forum threads and Q&A pages are 20% of each (language, domain)

Weights of one key read the same way for both: when the listed weights add up to less than
1 they are shares, and the values not listed split the rest in their natural proportion
(`code: 0.1` -> code 10%, the other domains 90% as they come); when they add up to 1 or
more they are ratios, normalized, and values not listed are left out (`en: 2, zh: 1` ->
only English and Chinese, 2:1). Languages are split first; within each language the domain
weights apply. A listed value with no data is reported as missing and its share goes to the
others, so the plan still adds up to N tokens. Within each (language, domain) the genre weights
apply the same way.

For each (domain, language, genre) group the plan says how many tokens it should give, the epochs
that takes (target / available tokens; below 1 that is the sampling rate) and warns where a
group would be repeated more than `--max-epochs` times (4 by default: Muennighoff et al.,
"Scaling Data-Constrained Language Models", 2023, find up to ~4 epochs nearly as good as new
data). `--materialize OUT` writes the sample: each document appears floor(epochs) times plus
once more with probability frac(epochs), decided by a hash of its id (deterministic, any
number of workers), as Hive-partitioned Parquet shards with OUT/mixture.json and OUT/plan.json
(whose `report` section holds the exact documents and tokens written per group).

Rehydration (FineWeb-2, Penedo et al. 2025): a `rehydrate` rule in the target file, e.g.
`rehydrate: {1: 1, 2: 2, 3: 3, 5: 5, 100: 8, 1000: 1}`, repeats each kept document by the bucket
of its `dup_cluster_size` (the copies of the largest bound not above the size: a document whose
page was seen 7 times gets 5). Dedup kept one page per cluster; repeating pages that the web
copied somewhat (but not thousands of times) brings back a quality signal. The plan's available
tokens are then the rehydrated ones (`kept_tokens`: before), so epochs x rehydration reach the
target; `--materialize` and `crawlsieve tokenize --plan` repeat documents by the same function
(`document_copies`), so the plan, the sample and its mixture.json agree.

Document weights (``DocumentWeights``): `quality_bucket: {18-19: 3, 0-4: 0}` in the target weighs
Nemotron-CC's quality buckets, and the cluster labels a reviewer recorded in DIR (Yi's cluster
filter: keep 1, drop 0, weight:<w>) weigh clusters; within each group a document counts its
tokens x weight, the targets are taken of those, and `document_copies` multiplies its epochs by it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import yaml

from crawlsieve.core.io import write_bytes_atomically
from crawlsieve.core.layout import RunLayout
from crawlsieve.quality.mixture import GROUP_KEYS, NO_VALUE, group_key, group_values, key_columns

HELP = (
    "Sampling plan (rate or epochs per domain/language group) to reach N tokens of a target mixture, "
    "or of the mixture a law fitted on proxy runs predicts best."
)
DEFAULT_MAX_EPOCHS = 4.0
TARGET_KEYS = ("language", "domain", "genre", "quality_bucket")
#: quality_bucket values (Nemotron-CC's 20 buckets).
BUCKETS = 20
REHYDRATE = "rehydrate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="Output directory of `crawlsieve run` (holds data/).")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--target", help="YAML/JSON file with weights by language and/or domain.")
    source.add_argument(
        "--fit",
        metavar="CSV",
        help="Proxy runs (shares per group, loss:<evalset> columns): fit a law and plan its best mixture.",
    )
    parser.add_argument("--tokens", required=True, help="Tokens the mixture should have (e.g. 1000000, 2e9).")
    parser.add_argument(
        "--max-epochs",
        type=float,
        default=DEFAULT_MAX_EPOCHS,
        help=(
            f"Warn when a group is repeated more than this many times; with --fit, a hard limit "
            f"(default {DEFAULT_MAX_EPOCHS:g})."
        ),
    )
    parser.add_argument(
        "--method",
        choices=("law", "regmix"),
        help="With --fit: the data mixing law (default) or RegMix regression (gradient-boosted trees).",
    )
    parser.add_argument(
        "--eval-weights",
        metavar="SET=W,...",
        help="With --fit: weights of the eval sets in the objective (default equal; unlisted sets 0).",
    )
    parser.add_argument("--output", help="Write the plan to this file (.yaml, .yml or .json).")
    parser.add_argument(
        "--materialize", metavar="OUT", help="Write the sampled mixture as Parquet under OUT."
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="Seed of the per-document sampling hash (and of --method regmix)."
    )


# --- the plan -------------------------------------------------------------------------------


def resolve_weights(
    spec: dict[str, float] | None, natural: dict[str, float]
) -> tuple[dict[str, float], list[str]]:
    """Shares (summing to 1) over the values of ``natural`` for one target key; and missing values.

    See the module docstring for how listed and unlisted values are weighed.
    """
    present = {k: v for k, v in natural.items() if v > 0}
    if not present:
        return {}, sorted(spec or {})
    if not spec:
        total = sum(present.values())
        return {k: v / total for k, v in present.items()}, []
    missing = sorted(k for k, w in spec.items() if w > 0 and k not in present)
    listed = {k: w for k, w in spec.items() if k in present}
    unlisted = {k: v for k, v in present.items() if k not in spec}
    shares: dict[str, float] = {}
    if sum(spec.values()) < 1 and unlisted:
        shares.update(listed)
        rest = (1 - sum(spec.values())) / sum(unlisted.values())
        shares.update({k: v * rest for k, v in unlisted.items()})
    else:
        shares.update(listed)
    total = sum(shares.values())
    if total <= 0:
        return {}, missing
    return {k: w / total for k, w in shares.items() if w > 0}, missing


def target_shares(groups: list[dict], target: dict) -> tuple[dict[tuple[str, ...], float], list[str]]:
    """Each (domain, language, genre) group's share of a target mixture, and warnings about
    missing values."""
    available = {group_key(g): g for g in groups}
    by_language: dict[str, float] = defaultdict(float)
    for g in groups:
        by_language[g["language"]] += g["tokens"]
    language_shares, missing_languages = resolve_weights(target.get("language"), by_language)
    warnings = [f"target language '{k}' has no tokens in the data" for k in missing_languages]
    shares: dict[tuple[str, ...], float] = {}
    for language, language_share in sorted(language_shares.items()):
        natural: dict[str, float] = defaultdict(float)
        for (d, lang, _), g in available.items():
            if lang == language:
                natural[d] += g["tokens"]
        domain_shares, missing_domains = resolve_weights(target.get("domain"), natural)
        warnings += [f"target domain '{d}' has no tokens in language '{language}'" for d in missing_domains]
        for domain, domain_share in domain_shares.items():
            natural = {
                genre: g["tokens"]
                for (d, lang, genre), g in available.items()
                if (d, lang) == (domain, language)
            }
            genre_shares, missing_genres = resolve_weights(target.get("genre"), natural)
            warnings += [
                f"target genre '{genre}' has no tokens in language '{language}', domain '{domain}'"
                for genre in missing_genres
            ]
            for genre, genre_share in genre_shares.items():
                shares[(domain, language, genre)] = language_share * domain_share * genre_share
    return shares, warnings


def plan_for_shares(
    groups: list[dict],
    shares: dict[tuple[str, ...], float],
    tokens: int,
    max_epochs: float,
    warnings: list[str],
    **source,
) -> dict:
    """The plan giving each group its share of ``tokens``; ``source`` (target or fit) is recorded as is."""
    available = {group_key(g): g for g in groups}
    warnings = list(warnings)
    plan_groups = []
    for key in sorted(available):
        group = available[key]
        share = shares.get(key, 0.0)
        target_tokens = share * tokens
        epochs = target_tokens / group["tokens"] if group["tokens"] else 0.0
        if epochs > max_epochs * (1 + 1e-9):
            named = " ".join(f"{k}={v}" for k, v in zip(GROUP_KEYS, key, strict=True) if v != NO_VALUE)
            warnings.append(
                f"group {named} would be repeated {epochs:.2f} epochs "
                f"(> max {max_epochs:g}): {group['tokens']:,} tokens available for {round(target_tokens):,}"
            )
        plan_groups.append(
            {
                **dict(zip(GROUP_KEYS, key, strict=True)),
                "documents": group["documents"],
                "available_tokens": group["tokens"],
                **({"kept_tokens": group["kept_tokens"]} if "kept_tokens" in group else {}),
                "target_weight": round(share, 8),
                "target_tokens": round(target_tokens),
                "epochs": round(epochs, 6),
                "sampling_rate": round(min(1.0, epochs), 6),
            }
        )
    return {
        "tokens": tokens,
        "max_epochs": max_epochs,
        **source,
        "groups": plan_groups,
        "totals": {
            "available_tokens": sum(g["tokens"] for g in groups),
            "target_tokens": sum(g["target_tokens"] for g in plan_groups),
        },
        "warnings": warnings,
    }


def compute_plan(groups: list[dict], target: dict, tokens: int, max_epochs: float) -> dict:
    """The plan for ``tokens`` tokens over mixture ``groups`` (dicts with domain, language, genre, tokens)."""
    shares, warnings = target_shares(groups, target)
    return plan_for_shares(groups, shares, tokens, max_epochs, warnings, target=target)


# --- rehydration -----------------------------------------------------------------------------


def parse_rehydrate(rule, where: str) -> dict[int, float]:
    """A rehydrate rule as {dup_cluster_size lower bound: copies}, bounds ascending.

    Keys may be strings (a rule read back from JSON); copies may be fractional (then the extra
    copy is drawn, as for fractional epochs)."""
    from crawlsieve.core.errors import UsageError

    example = "e.g. {1: 1, 2: 2, 3: 3, 5: 5, 100: 8, 1000: 1}"
    if not isinstance(rule, dict) or not rule:
        raise UsageError(f"{where}: {REHYDRATE} must map dup_cluster_size bounds to copies, {example}")
    clean: dict[int, float] = {}
    for size, copies in rule.items():
        try:
            bound = int(str(size).strip())
        except ValueError:
            bound = 0
        if isinstance(size, bool | float) or bound < 1:
            raise UsageError(f"{where}: {REHYDRATE} bound {size!r} must be a whole number >= 1, {example}")
        if isinstance(copies, bool) or not isinstance(copies, int | float) or not 0 <= copies < math.inf:
            raise UsageError(f"{where}: {REHYDRATE} copies for {bound} must be a number >= 0")
        clean[bound] = float(copies)
    return dict(sorted(clean.items()))


def rehydration_factors(sizes, rule: dict[int, float]):
    """Copies of each document by its ``dup_cluster_size``: the value of the largest bound not
    above it (1 below the smallest bound, and for a missing size: a page seen once)."""
    import numpy as np
    import pyarrow.compute as pc

    sizes = np.asarray(pc.fill_null(sizes, 1).to_numpy(zero_copy_only=False), dtype=np.int64)
    bounds = np.fromiter(rule, dtype=np.int64, count=len(rule))
    copies = np.fromiter(rule.values(), dtype=np.float64, count=len(rule))
    position = np.searchsorted(bounds, sizes, side="right") - 1
    return np.where(position >= 0, copies[np.maximum(position, 0)], 1.0)


def rehydrated_groups(
    output_dir: Path, groups: list[dict], rule: dict[int, float], weights: DocumentWeights
) -> list[dict]:
    """``groups`` with ``documents`` and ``tokens`` as rehydration (and the document ``weights``)
    repeat them (the deduplicated counts kept as ``kept_documents`` and ``kept_tokens``), summed from
    the data's columns shard by shard: mixture.json has no per-cluster-size sums."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from crawlsieve.core.errors import UsageError
    from crawlsieve.core.shards import shard_files

    data_dir = RunLayout(output_dir).data
    sums: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0.0, 0.0])
    try:
        for shard, files in shard_files(data_dir).items():
            dataset = ds.dataset(files, format="parquet")
            if "dup_cluster_size" not in dataset.schema.names:
                raise UsageError(
                    f"{REHYDRATE} needs the dup_cluster_size column, which {data_dir}'s shards lack"
                )
            if weights.buckets and "quality_bucket" not in dataset.schema.names:
                raise _no_buckets(output_dir)
            wanted = ["id", *GROUP_KEYS, "token_count", "dup_cluster_size", "quality_bucket"]
            table = dataset.to_table(columns=[c for c in wanted if c in dataset.schema.names])
            factors = rehydration_factors(table.column("dup_cluster_size"), rule)
            if weights:
                clusters = shard_clusters(table, output_dir, shard) if weights.clusters else None
                factors *= weights.factors(table, clusters)
            tokens = np.asarray(pc.fill_null(table.column("token_count"), 0).to_numpy(zero_copy_only=False))
            weighted = pa.table({**key_columns(table), "documents": factors, "tokens": factors * tokens})
            by_group = weighted.group_by(list(GROUP_KEYS), use_threads=False).aggregate(
                [("documents", "sum"), ("tokens", "sum")]
            )
            for row in by_group.to_pylist():
                into = sums[tuple(row[key] for key in GROUP_KEYS)]
                into[0] += row["documents_sum"]
                into[1] += row["tokens_sum"]
    except (OSError, pa.ArrowException) as error:
        raise UsageError(f"{data_dir} holds a damaged Parquet file: {error}") from None
    rehydrated = []
    for group in groups:
        documents, tokens = sums.get(group_key(group), (0.0, 0.0))
        rehydrated.append(
            group
            | {
                "documents": round(documents),
                "tokens": round(tokens),
                "kept_documents": group["documents"],
                "kept_tokens": group["tokens"],
            }
        )
    return rehydrated


def document_copies(table: pa.Table, plan: dict, seed: int, run_dir: Path, shard: str):
    """How many times each row of ``table`` (of ``shard`` of the run ``run_dir``) goes into the
    sample of ``plan``: its group's epochs times its rehydration factor (when the plan has a rule)
    times its weight (cluster label, quality bucket), drawn by ``copies_of``. Groups the plan does
    not list get none. The one place `mix --materialize` and `tokenize --plan` decide it."""
    import numpy as np

    epochs = {group_key(g): float(g["epochs"]) for g in plan["groups"]}
    keys = zip(*(column.to_pylist() for column in key_columns(table).values()), strict=True)
    row_epochs = np.fromiter((epochs.get(key, 0.0) for key in keys), dtype=np.float64, count=table.num_rows)
    if plan.get(REHYDRATE):
        row_epochs *= rehydration_factors(table.column("dup_cluster_size"), plan[REHYDRATE])
    weights = DocumentWeights.from_plan(plan)
    if weights:
        row_epochs *= weights.factors(
            table, shard_clusters(table, run_dir, shard) if weights.clusters else None
        )
    return np.asarray(copies_of(table.column("id").to_pylist(), row_epochs.tolist(), seed), dtype=np.int64)


def plan_report(plan: dict, written: dict[tuple[str, ...], dict], **about) -> dict:
    """The plan's ``report`` section: per group, the tokens it targeted and the documents and tokens
    actually written (``written``: exact counts per ``group_key``); ``about`` says by what."""
    rows = []
    for group in plan["groups"]:
        got = written.get(group_key(group), {})
        rows.append(
            {
                **group_values(group),
                "target_tokens": group["target_tokens"],
                "documents": int(got.get("documents", 0)),
                "tokens": int(got.get("tokens", 0)),
            }
        )
    totals = {key: sum(row[key] for row in rows) for key in ("target_tokens", "documents", "tokens")}
    return {**about, "groups": rows, "totals": totals}


# --- inputs ---------------------------------------------------------------------------------


def parse_tokens(value: str) -> int:
    from crawlsieve.core.errors import UsageError

    try:
        number = float(value.replace("_", "").replace(",", ""))
    except ValueError:
        raise UsageError(f"--tokens must be a number, not {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise UsageError(f"--tokens must be positive, not {value!r}")
    return round(number)


def load_target(path: str) -> dict:
    """{language: {code: weight}, domain: {tag: weight}, genre: {genre: weight}}, keys sanitized like
    partition values."""
    from crawlsieve.core.config import read_yaml
    from crawlsieve.core.errors import UsageError
    from crawlsieve.core.shards import partition_value

    data = read_yaml(path, "target")
    if not isinstance(data, dict) or not data:
        raise UsageError(f"target {path} must map 'language', 'domain' and/or 'genre' to weights")
    unknown = sorted(set(data) - {*TARGET_KEYS, REHYDRATE})
    if unknown:
        raise UsageError(
            f"target {path}: unknown key '{unknown[0]}' (use language, domain, genre, quality_bucket, "
            f"{REHYDRATE})"
        )
    target = {}
    for key, weights in data.items():
        if key == "quality_bucket":
            target[key] = bucket_weights(weights, path)
            continue
        if key == REHYDRATE:
            target[key] = parse_rehydrate(weights, f"target {path}")
            continue
        if not isinstance(weights, dict) or not weights:
            raise UsageError(f"target {path}: '{key}' must map values to weights, e.g. {{en: 2}}")
        clean = {}
        for name, weight in weights.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                raise UsageError(f"target {path}: weight of {key} '{name}' must be a number >= 0")
            clean[partition_value(str(name), key)] = float(weight)
        target[key] = clean
    return target


def bucket_weights(weights, path: str) -> dict[int, float]:
    """``{18-19: 3, 0-4: 0}`` -> a multiplier per bucket (``18-19`` and ``0-4`` are ranges)."""
    from crawlsieve.core.errors import UsageError

    if not isinstance(weights, dict) or not weights:
        raise UsageError(f"target {path}: 'quality_bucket' must map buckets to weights, e.g. {{18-19: 3}}")
    out: dict[int, float] = {}
    for name, weight in weights.items():
        low, _, high = str(name).partition("-")
        if not (low.strip().isdigit() and (not high or high.strip().isdigit())):
            raise UsageError(f"target {path}: quality_bucket '{name}' must be a bucket or a range like 18-19")
        first, last = int(low), int(high or low)
        if not 0 <= first <= last < BUCKETS:
            raise UsageError(f"target {path}: quality_bucket '{name}' is not within 0-{BUCKETS - 1}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise UsageError(f"target {path}: weight of quality_bucket '{name}' must be a number >= 0")
        out.update(dict.fromkeys(range(first, last + 1), float(weight)))
    return out


#: The plan's key for the multipliers of documents (``DocumentWeights``) its epochs are for weight 1.
WEIGHTS = "document_weights"


@dataclass(frozen=True)
class DocumentWeights:
    """Multipliers of a document's natural share, from its cluster's label (keep 1, drop 0,
    weight:<w>) and its quality bucket's target (unlisted buckets 1): Yi's cluster labels and
    Nemotron-CC's bucket weights, applied within each mixture group. The plan carries
    them (``WEIGHTS``), so `mix --materialize` and `tokenize --plan` repeat documents alike."""

    clusters: dict[int, float] = field(default_factory=dict)  # the labelled clusters
    buckets: dict[int, float] = field(default_factory=dict)
    labels: dict | None = None  # where the cluster labels come from (file, sha256, clustering)

    def __bool__(self) -> bool:
        return self.labels is not None or bool(self.buckets)

    def of(self, cluster: int | None, bucket: int | None) -> float:
        return self.clusters.get(cluster, 1.0) * self.buckets.get(bucket, 1.0)

    def factors(self, table: pa.Table, clusters: list | None):
        """Each row's multiplier (``clusters``: the rows' clusters, None when no cluster is weighed)."""
        import numpy as np

        n = table.num_rows
        buckets = table.column("quality_bucket").to_pylist() if self.buckets else [None] * n
        pairs = zip(clusters or [None] * n, buckets, strict=True)
        return np.fromiter((self.of(c, b) for c, b in pairs), dtype=np.float64, count=n)

    def to_plan(self) -> dict:
        return {
            "cluster": {str(c): w for c, w in sorted(self.clusters.items())},
            "quality_bucket": {str(b): w for b, w in sorted(self.buckets.items())},
        }

    @classmethod
    def from_plan(cls, plan: dict, where: str = "plan") -> DocumentWeights:
        from crawlsieve.core.errors import UsageError

        record = plan.get(WEIGHTS) or {}
        try:
            return cls(
                {int(c): float(w) for c, w in (record.get("cluster") or {}).items()},
                {int(b): float(w) for b, w in (record.get("quality_bucket") or {}).items()},
                plan.get("cluster_labels"),
            )
        except (AttributeError, TypeError, ValueError):
            raise UsageError(f"{where}: {WEIGHTS} must map clusters and buckets to numbers") from None


def shard_clusters(table: pa.Table, run_dir: Path, shard: str) -> list[int | None]:
    """Each row's cluster in the run's side table (None where the clustering never saw it)."""
    import pyarrow.compute as pc

    from crawlsieve.core.io import read_parquet

    side = RunLayout(run_dir).cluster_assignments(shard)
    if not side.is_file():
        return [None] * table.num_rows
    assigned = read_parquet(side)
    position = pc.index_in(table.column("id"), value_set=assigned.column("id").combine_chunks())
    return assigned.column("cluster").take(position).to_pylist()


def check_plan_clusters(plan: dict, run_dir: Path) -> None:
    """Refuse (one line) a plan weighing the clusters of another clustering than the run's."""
    from crawlsieve.core.errors import UsageError
    from crawlsieve.core.io import read_json

    if not DocumentWeights.from_plan(plan).clusters:
        return
    facts = RunLayout(run_dir).cluster_facts
    current = read_json(facts).get("fingerprint") if facts.is_file() else None
    if current != (plan.get("cluster_labels") or {}).get("fingerprint"):
        raise UsageError(
            f"the plan weighs the clusters of another clustering than {run_dir}'s: "
            "plan again with `crawlsieve mix`"
        )


def _no_buckets(output_dir: Path):
    from crawlsieve.core.errors import UsageError

    return UsageError(
        f"{output_dir} has no quality_bucket column: the target's quality_bucket weights need a run "
        "with classifier scores (filters.quality_classifier or filters.classifiers)"
    )


def cells(output_dir: Path, weights: DocumentWeights, groups: list[dict]) -> list[tuple]:
    """(group key, cluster, bucket, tokens) of the run: from the clusters' facts when cluster labels
    apply, else per bucket from mixture.json."""
    from crawlsieve.core.io import read_json

    if weights.labels is not None:
        facts = read_json(RunLayout(output_dir).cluster_facts)
        out = [
            (tuple(key), int(row["cluster"]), int(bucket) if bucket != "" else None, tokens)
            for row in facts.get("clusters") or []
            for *key, bucket, _, tokens in row.get("cells") or []
        ]
    else:
        out = [
            (group_key(g), None, int(bucket), tokens)
            for g in groups
            for bucket, (_, tokens) in (g.get("quality_buckets") or {}).items()
        ]
    if (weights.buckets and any(bucket is None for *_, bucket, _ in out)) or (weights.buckets and not out):
        raise _no_buckets(output_dir)
    return out


def reweighted(groups: list[dict], weights: DocumentWeights, run_cells: list[tuple]) -> list[dict]:
    """The groups with ``tokens`` as the weights make them (Σ tokens x weight over the group's cells;
    what the target shares are taken of) and ``unweighted_tokens`` as they are."""
    effective: dict[tuple[str, ...], float] = defaultdict(float)
    for key, cluster, bucket, tokens in run_cells:
        effective[key] += tokens * weights.of(cluster, bucket)
    return [
        {**g, "unweighted_tokens": g["tokens"], "tokens": round(effective.get(group_key(g), 0))}
        for g in groups
    ]


def load_groups(output_dir: Path) -> tuple[list[dict], dict | None]:
    """The groups of DIR/mixture.json (or computed from DIR/data), and the mixture if there is one."""
    from crawlsieve.core.errors import UsageError
    from crawlsieve.core.io import read_json
    from crawlsieve.quality.mixture import group_sums, mixture_groups

    path = RunLayout(output_dir).mixture
    if path.is_file():
        mixture = read_json(path)
        groups = mixture.get("groups")
        if not isinstance(groups, list) or not all(
            isinstance(g, dict) and {"domain", "language", "documents", "tokens"} <= set(g) for g in groups
        ):
            raise UsageError(f"{path} is damaged: 'groups' is not a list of groups")
        return groups, mixture
    try:
        return mixture_groups(group_sums(RunLayout(output_dir).data)), None
    except (OSError, pa.ArrowException) as error:
        raise UsageError(f"{RunLayout(output_dir).data} holds a damaged Parquet file: {error}") from None


# --- materializing --------------------------------------------------------------------------


def copies_of(ids: list[str], epochs: list[float], seed: int) -> list[int]:
    """floor(e) copies, plus one with probability frac(e), by a hash of (seed, id)."""
    import xxhash

    copies = []
    for doc_id, e in zip(ids, epochs, strict=True):
        whole = math.floor(e)
        u = xxhash.xxh64_intdigest(f"{seed}:{doc_id}".encode()) / 2**64
        copies.append(whole + (1 if u < e - whole else 0))
    return copies


def copy_numbers(copies):
    """0, 1, ..., c-1 for each document repeated c times (int32), in the order ``np.repeat`` gives."""
    import numpy as np

    copies = np.asarray(copies, dtype=np.int64)
    starts = np.repeat(np.cumsum(copies) - copies, copies)
    return pa.array(np.arange(int(copies.sum())) - starts, pa.int32())


def copy_ids(ids, epoch) -> pa.Array:
    """Copy k >= 1 of a document gets the id ``<id>#epoch<k>``, so a downstream dedup by id does
    not fold the epochs the plan asked for back into one (and `tokenize` orders copies by it)."""
    import pyarrow.compute as pc

    suffix = pc.if_else(
        pc.equal(epoch, 0), pa.scalar(""), pc.binary_join_element_wise("#epoch", epoch.cast(pa.string()), "")
    )
    return pc.binary_join_element_wise(ids, suffix, "")


def with_epochs(repeated: pa.Table, copies) -> pa.Table:
    """Number the copies of each document (``epoch`` 0, 1, ...) and give each its own id (``copy_ids``)."""
    epoch = copy_numbers(copies)
    ids = copy_ids(repeated.column("id"), epoch)
    repeated = repeated.set_column(repeated.schema.get_field_index("id"), "id", ids)
    return repeated.append_column("epoch", epoch)


def materialize(output_dir: Path, plan: dict, out: Path, recorded: dict, seed: int) -> dict:
    """Write the sample of ``plan`` under OUT (data/, mixture.json, plan.json with its ``report``);
    returns OUT's mixture.

    ``recorded``: the run's config as its mixture.json records it (its output and tokenizer
    settings carry over to OUT)."""
    import numpy as np
    import pyarrow.dataset as ds

    from crawlsieve.core.errors import ConfigError, UsageError
    from crawlsieve.core.io import write_bytes_atomically
    from crawlsieve.core.shards import OutputConfig, shard_files, write_shard
    from crawlsieve.quality.mixture import build_mixture

    try:
        output = OutputConfig.model_validate(recorded.get("output") or {})
    except (ConfigError, ValueError):  # a mixture.json from another version: default shard settings
        output = OutputConfig()
    for shard, files in shard_files(RunLayout(output_dir).data).items():
        try:
            table = ds.dataset(files, format="parquet").to_table()
        except (OSError, pa.ArrowException) as error:
            raise UsageError(
                f"cannot read the Parquet files of shard {shard} under {output_dir}: {error}"
            ) from None
        copies = document_copies(table, plan, seed, output_dir, shard)
        indices = np.repeat(np.arange(table.num_rows), copies)
        write_shard(with_epochs(table.take(indices), copies), RunLayout(out).data, shard, output)
    tokenizer = (recorded.get("domain") or {}).get("tokenizer_path")
    mixture = build_mixture(out, tokenizer, recorded)
    written = {group_key(g): g for g in mixture["groups"]}
    report = plan_report(plan, written, tokens_estimated=mixture["tokens_estimated"])
    text = json.dumps(plan | {"report": report}, indent=1, ensure_ascii=False) + "\n"
    write_bytes_atomically(text.encode("utf-8"), RunLayout(out).plan)
    return mixture


def _weighted(table: pa.Table, epochs: list[float], weights: DocumentWeights, side: Path) -> list[float]:
    """Each document's epochs times its weight (its cluster from the side table, its bucket)."""
    import pyarrow.compute as pc

    from crawlsieve.core.io import read_parquet

    clusters = [None] * table.num_rows
    if weights.labels is not None and side.is_file():
        assigned = read_parquet(side)
        position = pc.index_in(table.column("id"), value_set=assigned.column("id").combine_chunks())
        clusters = assigned.column("cluster").take(position).to_pylist()
    names = table.column_names
    buckets = (
        table.column("quality_bucket").to_pylist() if "quality_bucket" in names else [None] * len(epochs)
    )
    return [e * weights.of(c, b) for e, c, b in zip(epochs, clusters, buckets, strict=True)]


# --- the command ----------------------------------------------------------------------------


def format_plan(plan: dict) -> str:
    header = (
        f"{'domain':<12} {'language':<9} {'genre':<8} {'available':>13} {'target':>13} {'weight':>7}"
        f" {'epochs':>8}"
    )
    lines = [f"plan for {plan['tokens']:,} tokens (max {plan['max_epochs']:g} epochs)", header]
    if plan.get(REHYDRATE):
        rule = ", ".join(f"{size}: {copies:g}" for size, copies in plan[REHYDRATE].items())
        lines.insert(1, f"available tokens rehydrated by dup_cluster_size {{{rule}}}")
    for g in plan["groups"]:
        domain, language, genre = group_key(g)
        lines.append(
            f"{domain:<12} {language:<9} {genre:<8} {g['available_tokens']:>13,} {g['target_tokens']:>13,} "
            f"{g['target_weight']:>7.3f} {g['epochs']:>8.3f}"
        )
    totals = plan["totals"]
    lines.append(f"{'total':<31} {totals['available_tokens']:>13,} {totals['target_tokens']:>13,}")
    return "\n".join(lines)


def write_plan(plan: dict, path: Path) -> None:
    from crawlsieve.core.errors import UsageError

    if path.suffix == ".json":
        text = json.dumps(plan, indent=1, ensure_ascii=False) + "\n"
    elif path.suffix in (".yaml", ".yml"):
        text = yaml.safe_dump(plan, sort_keys=False, allow_unicode=True)
    else:
        raise UsageError(f"--output must end in .yaml, .yml or .json, not {path.name}")
    write_bytes_atomically(text.encode("utf-8"), path)


def load_plan(path: Path) -> dict:
    """A plan written by `mix --output` (or `--materialize`'s plan.json), checked enough to sample by:
    every group has its domain, language, epochs, target tokens and weight; a rehydrate rule is
    parsed. Refused with one line otherwise."""
    from crawlsieve.core.config import read_yaml
    from crawlsieve.core.errors import UsageError

    plan = read_yaml(path, "plan")  # JSON is YAML too
    groups = plan.get("groups") if isinstance(plan, dict) else None
    if not isinstance(groups, list) or not groups:
        raise UsageError(f"plan {path} has no groups (write one with `crawlsieve mix --output`)")
    for group in groups:
        numbers = ("epochs", "target_tokens", "target_weight")
        if not isinstance(group, dict) or not {"domain", "language", *numbers} <= set(group):
            raise UsageError(f"plan {path}: each group needs domain, language, {', '.join(numbers)}")
        values = [group[k] for k in numbers]
        if any(isinstance(v, bool) or not isinstance(v, int | float) or v < 0 for v in values):
            raise UsageError(
                f"plan {path}: group domain={group['domain']} language={group['language']} has a bad number"
            )
    if plan.get(REHYDRATE):
        plan[REHYDRATE] = parse_rehydrate(plan[REHYDRATE], f"plan {path}")
    DocumentWeights.from_plan(plan, f"plan {path}")  # refused here, not in a task
    return plan


def fitted_plan(args: argparse.Namespace, output_dir: Path, groups: list[dict], tokens: int) -> dict:
    """Fit the experiments, print the fit, and plan the mixture it predicts best."""
    from crawlsieve.quality import mixfit

    method = args.method or "law"
    experiments = mixfit.read_experiments(Path(args.fit))
    members = mixfit.members_of(experiments, groups, output_dir)
    weights = mixfit.parse_eval_weights(args.eval_weights, experiments.eval_sets)
    fit = mixfit.fit_mixture(experiments, members, method, weights, tokens, args.max_epochs, args.seed)
    print(mixfit.format_fit(fit, tokens))
    print()
    warnings = mixfit.uncovered_warnings(groups, members) + mixfit.extrapolation_warnings(fit)
    shares = mixfit.group_shares(fit, members)
    return plan_for_shares(groups, shares, tokens, args.max_epochs, warnings, fit=mixfit.fit_record(fit))


def document_weights(output_dir: Path, target: dict | None) -> DocumentWeights:
    """The reviewer's cluster labels recorded in DIR (if any) and the target's bucket weights."""
    from crawlsieve.quality.review_labels import cluster_weight, recorded_cluster_labels

    buckets = (target or {}).get("quality_bucket") or {}
    path = RunLayout(output_dir).cluster_labels
    if not path.is_file():
        return DocumentWeights(buckets=buckets)
    labels = recorded_cluster_labels(path)
    clusters = {cluster: cluster_weight(label) for cluster, label in labels.labels.items()}
    return DocumentWeights(clusters, buckets, {**labels.provenance(), "fingerprint": labels.fingerprint})


def check_outputs_apart(args: argparse.Namespace, output_dir: Path) -> None:
    """Refuse outputs that would overwrite what the command reads: a plan file over DIR's files or
    over the target or experiments file, a sample (``--materialize``) in or around DIR."""
    from crawlsieve.core.errors import UsageError
    from crawlsieve.core.layout import check_apart

    inputs = [(flag, path) for flag, path in (("--target", args.target), ("--fit", args.fit)) if path]
    if args.output:
        plan = Path(args.output).resolve()
        holder = RunLayout(output_dir.resolve()).output_holding(plan)
        if holder is not None:
            raise UsageError(f"--output {args.output} would overwrite {holder}, which DIR's run wrote")
        for flag, path in inputs:
            if Path(path).resolve() == plan:
                raise UsageError(f"--output {args.output} would overwrite {flag} {path}")
    if args.materialize:
        check_apart(Path(args.materialize), "--materialize", inputs, [("DIR", str(output_dir))])


def main(args: argparse.Namespace) -> int:
    from crawlsieve.core.errors import UsageError

    output_dir = Path(args.dir)
    if not RunLayout(output_dir).data.is_dir():
        raise UsageError(f"{output_dir} has no data/ directory (run `crawlsieve run` first)")
    check_outputs_apart(args, output_dir)
    if args.max_epochs <= 0:
        raise UsageError("--max-epochs must be positive")
    if args.fit is None and (args.method or args.eval_weights):
        raise UsageError("--method and --eval-weights go with --fit")
    tokens = parse_tokens(args.tokens)
    target = load_target(args.target) if args.fit is None else None
    groups, mixture = load_groups(output_dir)
    if not groups:
        raise UsageError(f"{output_dir / 'data'} holds no documents")
    weights = document_weights(output_dir, target)
    if target is not None and REHYDRATE in target:  # the weights are summed in the same pass
        groups = rehydrated_groups(output_dir, groups, target[REHYDRATE], weights)
    elif weights:
        groups = reweighted(groups, weights, cells(output_dir, weights, groups))
    if weights and not any(g["tokens"] for g in groups):
        raise UsageError("the cluster labels and quality_bucket weights leave no tokens to sample")
    if target is not None:
        plan = compute_plan(groups, target, tokens, args.max_epochs)
        if REHYDRATE in target:
            plan[REHYDRATE] = target[REHYDRATE]
    else:
        plan = fitted_plan(args, output_dir, groups, tokens)
    plan["source"] = str(output_dir)
    if weights:
        plan[WEIGHTS] = weights.to_plan()
    if weights.labels is not None:
        labels = plan["cluster_labels"] = weights.labels
        print(f"cluster labels applied: {labels['labels_file']} (sha256 {labels['sha256'][:12]})")
    print(format_plan(plan))
    for warning in plan["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    if args.output:
        write_plan(plan, Path(args.output))
        print(f"plan written to {args.output}")
    if args.materialize:
        out = Path(args.materialize)
        recorded = (mixture or {}).get("config")
        recorded = recorded if isinstance(recorded, dict) else {}
        written = materialize(output_dir, plan, out, recorded, args.seed)
        totals = written["totals"]
        print(f"materialized {totals['documents']:,} documents, {totals['tokens']:,} tokens under {out}")
    return 0
