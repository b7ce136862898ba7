"""Nemotron-CC's quality buckets: each classifier's score as a token-weighted percentile in one of 20
buckets, and a document's ``quality_bucket`` the highest of its classifiers' buckets.

Nemotron-CC (Su et al., 2024) ensembles classifiers this way: each one's scores are binned by
percentile into 20 integer buckets (their scales differ, so raw scores are not compared), the
maximum over the classifiers is the document's bucket, and the mixture weights the buckets (the
top ones repeated, the bottom ones left out). Here the percentiles are token-weighted and come from
mergeable histograms, not from sorting the run: each finalize task counts its kept documents'
tokens per score bin (``SCORE_BINS`` over [0, 1]) and classifier into its summary, phase D adds
them, and a bin's bucket is 20 x the share of the run's tokens scoring below the bin. With one
classifier, the bucket is the percentile of the maximum over the classifiers, trivially.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

#: Bins of a score in [0, 1]: percentiles are exact to a bin (1/1000 of the score range).
SCORE_BINS = 1000
BUCKETS = 20
COLUMN = "quality_bucket"


def score_bins(values: np.ndarray) -> np.ndarray:
    """The bin of each score (-1 where there is none)."""
    bins = np.clip(np.floor(np.nan_to_num(values, nan=-1.0) * SCORE_BINS), -1, SCORE_BINS - 1)
    return np.where(np.isnan(values), -1, bins).astype(np.int64)


def _scores(table: pa.Table, column: str) -> np.ndarray:
    return table.column(column).cast(pa.float64()).to_numpy(zero_copy_only=False)


def token_histograms(table: pa.Table, columns: list[str]) -> dict[str, np.ndarray]:
    """Per score column of ``table``: tokens of its documents per score bin."""
    if table.num_rows == 0 or "token_count" not in table.column_names:
        return {}
    tokens = table.column("token_count").cast(pa.float64()).fill_null(0).to_numpy(zero_copy_only=False)
    out = {}
    for column in columns:
        if column in table.column_names:
            bins = score_bins(_scores(table, column))
            valid = bins >= 0
            out[column] = np.bincount(bins[valid], weights=tokens[valid], minlength=SCORE_BINS).astype(
                np.int64
            )
    return out


def bucket_edges(histogram: np.ndarray) -> list[int]:
    """The first bin of buckets 1..19: a bin's bucket is 20 x the share of tokens in lower bins."""
    total = int(histogram.sum())
    below = np.concatenate([[0], np.cumsum(histogram)[:-1]])
    bucket_of_bin = (
        np.minimum(BUCKETS - 1, BUCKETS * below // total) if total else np.zeros(SCORE_BINS, np.int64)
    )
    return [int(np.searchsorted(bucket_of_bin, b, side="left")) for b in range(1, BUCKETS)]


def quality_buckets(table: pa.Table, edges: dict[str, list[int]]) -> pa.Array:
    """Each document's bucket (int8): the highest over its classifiers (null: no score at all)."""
    best = np.full(table.num_rows, -1, np.int64)
    for column, first_bins in edges.items():
        if column in table.column_names:
            bins = score_bins(_scores(table, column))
            bucket = np.searchsorted(np.asarray(first_bins, np.int64), bins, side="right")
            best = np.maximum(best, np.where(bins >= 0, bucket, -1))
    return pa.array(best, pa.int8(), mask=best < 0)
