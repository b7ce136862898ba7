"""Config of exact and near-duplicate removal."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crawlsieve.core.config import Section


class SubdocConfig(Section):
    """Sub-document dedup: lines or paragraphs repeated across documents (CCNet, Dolma)."""

    enabled: bool = Field(
        False,
        description="Remove units (lines or paragraphs) found in `min_docs` or more documents of the run "
        "from every document but the one the survivor rule picks (site navigation, cookie notices).",
    )
    unit: Literal["line", "paragraph"] = Field(
        "line",
        description="line: each line (trafilatura writes one block per line, as CCNet and Dolma split); "
        "paragraph: blocks separated by blank lines.",
    )
    min_docs: int = Field(2, ge=2, description="Distinct documents a unit must be in to count as repeated.")
    min_unit_chars: int = Field(
        20,
        ge=1,
        description="Units shorter than this after normalization (lowercase, digits as 0, no punctuation "
        "or symbols, one space) are never removed.",
    )
    mode: Literal["remove", "tag"] = Field(
        "remove",
        description="remove: cut the units from the text; tag: keep the text, publish only the "
        "share that would be cut (sig_dedup_subdoc_frac).",
    )
    min_words_after: int = Field(
        50,
        ge=0,
        description="A document left with fewer words after the cut is removed (dedup:subdoc_empty); "
        "words are its language's units (jieba's words for Chinese, characters for Japanese, Thai, ...).",
    )
    top_units: int = Field(
        30, ge=0, le=10_000, description="Most repeated units listed in stats.json and the report."
    )


class DedupConfig(Section):
    """Exact and MinHash-LSH near-dedup over the whole run."""

    enabled: bool = Field(True, description="Run the global dedup step (exact, near and index).")
    payload: bool = Field(
        True,
        description="Before extraction, remove records whose WARC-Payload-Digest repeats within the file "
        "(dedup:payload); repeats across files are caught as dedup:exact.",
    )
    exact: bool = Field(
        True, description="Remove documents whose normalized text is identical (dedup:exact)."
    )
    near: bool = Field(True, description="Remove MinHash-LSH near-duplicates (dedup:near).")
    ngram_size: int = Field(
        5,
        ge=1,
        le=32,
        description="Units per shingle: words, or characters for languages written without spaces "
        "(Chinese, Japanese, Thai, ...: core/units.py); shorter documents get no bands.",
    )
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations per signature.")
    seed: int = Field(1, ge=0, description="Seed of the MinHash permutations (datasketch's).")
    threshold: float = Field(
        0.8, gt=0, lt=1, description="Jaccard similarity above which documents count as near-duplicates."
    )
    lsh_threshold: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Jaccard similarity that bands x rows are chosen for (datasketch's optimal "
        "parameters); default: the verify threshold, since every candidate pair is verified anyway "
        "(`threshold` when verification is off).",
    )
    false_positive_weight: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Weight of false positives when choosing bands x rows (datasketch): a false "
        "positive costs one verified candidate pair.",
    )
    false_negative_weight: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Weight of false negatives when choosing bands x rows (datasketch): a false "
        "negative is a near-duplicate nothing later finds.",
    )
    verify_threshold: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="Estimated Jaccard (from the MinHash signatures) a near-duplicate must have with the "
        "document that survives in its place; members of a cluster below it are split off into their "
        "own sub-clusters (stops chaining A~B~C from removing C for A). Default: `threshold` - 0.05, "
        "since the estimate's noise (about ±0.04 at 128 permutations) would otherwise split true "
        "duplicates; 0 disables the check.",
    )
    shuffle_min_docs: int = Field(
        500_000,
        ge=0,
        description="Runs with fewer documents than this are deduplicated in one Ray task (same "
        "functions, same decisions) instead of Ray Data shuffles, whose fixed cost is ~1 minute; "
        "0 always shuffles.",
    )
    shuffle_partitions: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="Partitions of every dedup shuffle; default: from each shuffle's bytes and "
        "`max_worker_memory_gb`.",
    )
    max_worker_memory_gb: float = Field(
        2.0,
        gt=0,
        le=1024,
        description="Memory one dedup task may use: each shuffle gets as many partitions (and Ray Data "
        "blocks are made as small) as keep a task's share of the data under it, so a worker's peak "
        "does not grow with the run. One band bucket, one cluster and one input shard must fit whole.",
    )
    max_rounds: int = Field(
        40, ge=1, le=1000, description="Upper bound on connected-components rounds (a run fails beyond it)."
    )
    against: list[str] = Field(
        default_factory=list,
        description="Output directories of earlier runs whose dedup index this run is deduplicated against.",
    )
    subdoc: SubdocConfig = Field(default_factory=SubdocConfig)
