"""Semantic clusters of the kept documents: Yi's cluster-based filter, with the reviewer in the loop.

Yi (01.AI, 2024) groups web documents by unsupervised semantic clustering, labels the clusters
(automatically, then checked by people), removes the low-quality ones and steers the mixture with
the labels. Here a document's vector is hashed TF-IDF over its text units (words; segmenter words
or characters for unspaced scripts, from the units function the caller gives), reduced by
truncated SVD and L2-normalized; scikit-learn's MiniBatchKMeans is fitted on a sample. Chosen by
measurement against fastText sentence vectors (``benchmarks/cluster_purity.py``).

The fitted model is three arrays (idf weights, SVD components, centroids) in one ``.npz``, and
``vectors`` applies them by hand: every assignment task makes exactly the vectors the fit made,
and nothing is unpickled from a run directory.

Each assignment task (one shard) writes its documents' clusters and its per-cluster facts
(``shard_facts``: counts, tags, top terms, bottom-k samples); the driver merges facts only
(``merge_facts``), so its work grows with files and clusters, never with documents.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex

from crawlsieve.quality.config import ClusterConfig
from crawlsieve.quality.mixture import key_columns
from crawlsieve.quality.review import sample_key

#: A unit counts as a term when it holds a letter (numbers and punctuation say little of a topic).
_TERM = regex.compile(r"\p{L}")
#: Content-domain tags the spam and safety signals give (DESIGN.md, "Document columns").
SPAM_DOMAINS = ("gambling", "adult", "ads")
#: Terms each file keeps per cluster for the top terms (by document frequency x idf).
TERMS_PER_FILE = 40
#: Characters of a sample document's text kept in the facts.
SAMPLE_CHARS = 400
#: Columns an assignment task reads (those present).
FACT_COLUMNS = (
    "id",
    "url",
    "title",
    "text",
    "language",
    "domain",
    "genre",
    "token_count",
    "quality_score",
    "quality_bucket",
)

Units = Callable[[str, str | None], list[str]]


def terms(units: list[str]) -> list[str]:
    """The units that carry topic: lower-cased, with a letter in them."""
    return [u.lower() for u in units if _TERM.search(u)]


def document_terms(texts: list[str | None], languages: list[str | None], units: Units, max_chars: int):
    return [
        terms(units((text or "")[:max_chars], language))
        for text, language in zip(texts, languages, strict=True)
    ]


# --- vectors and the model ------------------------------------------------------------------------


def _given(doc: list[str]) -> list[str]:
    return doc


def hashed_counts(docs: list[list[str]], features: int):
    """Term counts per document, hashed into ``features`` columns (a scipy CSR matrix)."""
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import HashingVectorizer

    if not docs:  # the vectorizer cannot transform nothing
        return csr_matrix((0, features), dtype=np.float32)
    vectorizer = HashingVectorizer(
        n_features=features, analyzer=_given, alternate_sign=False, norm=None, dtype=np.float32
    )
    return vectorizer.transform(docs)


def _tfidf(counts, idf: np.ndarray):
    """Sublinear tf (1 + log tf) times idf, rows L2-normalized, as scikit-learn's TfidfTransformer."""
    from sklearn.preprocessing import normalize

    weighted = counts.copy()
    weighted.data = (1.0 + np.log(weighted.data)) * idf[weighted.indices]
    return normalize(weighted)


@dataclass
class ClusterModel:
    idf: np.ndarray  # (features,) float32
    components: np.ndarray  # (dimensions, features) float32
    centroids: np.ndarray  # (k, dimensions) float64

    @property
    def k(self) -> int:
        return len(self.centroids)

    @property
    def features(self) -> int:
        return len(self.idf)

    def vectors(self, counts) -> np.ndarray:
        """Unit-length vectors of documents given as their hashed term counts."""
        reduced = np.asarray(_tfidf(counts, self.idf) @ self.components.T, dtype=np.float64)
        norms = np.linalg.norm(reduced, axis=1, keepdims=True)
        return reduced / np.where(norms > 0, norms, 1.0)

    def assign(self, counts) -> np.ndarray:
        """The nearest centroid of each document (int32), given its hashed term counts."""
        if counts.shape[0] == 0:
            return np.zeros(0, np.int32)
        return self.nearest(self.vectors(counts))

    def nearest(self, vectors: np.ndarray) -> np.ndarray:
        """The nearest centroid of each vector (int32)."""
        distances = (self.centroids**2).sum(axis=1)[None, :] - 2.0 * vectors @ self.centroids.T
        return np.argmin(distances, axis=1).astype(np.int32)

    def term_weights(self, words) -> dict[str, float]:
        """log(N / documents of the sample holding it) of each term (its idf - 1, through its hashed
        column): ~0 for a word every page has. One hashing pass for all the words."""
        words = sorted(set(words))
        counts = hashed_counts([[w] for w in words], self.features).tocsr()
        return dict(zip(words, (self.idf[counts.indices] - 1.0).tolist(), strict=True)) if words else {}

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, idf=self.idf, components=self.components, centroids=self.centroids)
        return buffer.getvalue()

    @classmethod
    def read(cls, path: Path) -> ClusterModel:
        with np.load(path, allow_pickle=False) as arrays:
            return cls(arrays["idf"], arrays["components"], arrays["centroids"])


def fingerprint(path: Path) -> str:
    """The model's sha256: labels name the clustering they were made for."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fit_model(counts, k: int, config: ClusterConfig) -> ClusterModel:
    """Fit the idf weights, the SVD and k-means on a sample's hashed term counts (in a fixed order:
    the caller sorts it). Clusters are numbered by their size in the sample, largest first."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import TruncatedSVD

    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=config.features)
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    k = max(1, min(k, n))
    dimensions = min(config.dimensions, n - 1)
    if dimensions < 1 or k == 1:  # one document, or one cluster: nothing to separate
        components = np.zeros((1, config.features), np.float32)
        return ClusterModel(idf, components, np.zeros((1, 1)))
    svd = TruncatedSVD(n_components=dimensions, algorithm="randomized", n_iter=5, random_state=config.seed)
    svd.fit(_tfidf(counts, idf))
    model = ClusterModel(idf, svd.components_.astype(np.float32), np.zeros((k, dimensions)))
    vectors = model.vectors(counts)
    kmeans = MiniBatchKMeans(
        n_clusters=k, random_state=config.seed, n_init=3, batch_size=min(4096, n), max_iter=200
    )
    labels = kmeans.fit_predict(vectors)
    sizes = np.bincount(labels, minlength=k)
    order = np.lexsort((np.arange(k), -sizes))  # largest first; ties by k-means' own order
    model.centroids = kmeans.cluster_centers_[order].astype(np.float64)
    return model


def sample_keys(ids: list[str]) -> np.ndarray:
    """Each id's sampling key (uint64): a document is in the fitting sample when its key is below
    ``rate_limit(rate)``, the same documents whatever the number of workers."""
    return np.array([sample_key(i) >> 64 for i in ids], dtype=np.uint64)


def rate_limit(rate: float) -> np.uint64:
    return np.uint64(min(2**64 - 1, int(rate * 2**64)))


def counts_table(keys: np.ndarray, ids: list[str], counts) -> pa.Table:
    """Sampled documents as rows of their hashed term counts (what the fit reads)."""
    counts = counts.tocsr()
    offsets = pa.array(counts.indptr.astype(np.int32))
    return pa.table(
        {
            "key": pa.array(keys, pa.uint64()),
            "id": pa.array(ids, pa.string()),
            "columns": pa.ListArray.from_arrays(offsets, pa.array(counts.indices.astype(np.int32))),
            "counts": pa.ListArray.from_arrays(offsets, pa.array(counts.data.astype(np.float32))),
        }
    )


def counts_of(table: pa.Table, features: int):
    """The CSR matrix of ``counts_table`` rows."""
    from scipy.sparse import csr_matrix

    columns, counts = table.column("columns").combine_chunks(), table.column("counts").combine_chunks()
    indptr = columns.offsets.to_numpy().astype(np.int64)
    indptr -= indptr[0]
    return csr_matrix(
        (counts.flatten().to_numpy(), columns.flatten().to_numpy(), indptr), shape=(table.num_rows, features)
    )


# --- per-shard facts ------------------------------------------------------------------------------


def _column(table: pa.Table, name: str) -> list:
    return table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows


def spam_columns(table: pa.Table) -> list[str]:
    """Spam and safety signal columns (``sig_spam_*``) the documents carry, if any."""
    return [c for c in table.column_names if c.startswith("sig_spam")]


def shard_facts(
    table: pa.Table,
    clusters: np.ndarray,
    docs: list[list[str]],
    counts,
    model: ClusterModel,
    config: ClusterConfig,
    stop_words: Callable[[str | None], frozenset[str]] = lambda language: frozenset(),
) -> dict:
    """One shard's per-cluster facts (JSON-ready): the sums the report's Clusters section and the
    mixture need, the terms most typical of each cluster here (a language's ``stop_words`` left
    out: a reviewer reads topics, not the language), and its bottom-k samples. ``docs``: the
    documents' terms, ``counts``: their hashed counts."""
    facts: dict[str, dict] = {}
    ids, urls, titles, texts = (_column(table, c) for c in ("id", "url", "title", "text"))
    languages, domains, genres = (_column(table, c) for c in ("language", "domain", "genre"))
    tokens = [int(t or 0) for t in _column(table, "token_count")]
    quality = _column(table, "quality_score")
    buckets = _column(table, "quality_bucket")
    sizes = pc.binary_length(table.column("text")).to_pylist() if "text" in table.column_names else None
    spam = {c: table.column(c).cast(pa.float64()).to_pylist() for c in spam_columns(table)}
    groups = list(zip(*(column.to_pylist() for column in key_columns(table).values()), strict=True))
    for row, cluster in enumerate(clusters.tolist()):
        fact = facts.setdefault(str(cluster), _empty_fact())
        fact["documents"] += 1
        fact["tokens"] += tokens[row]
        fact["bytes"] += int(sizes[row] or 0) if sizes else 0
        if quality[row] is not None:
            fact["quality_sum"] += float(quality[row])
            fact["quality_count"] += 1
        for key, value in (("languages", languages[row]), ("domains", domains[row]), ("genres", genres[row])):
            if value is not None:
                fact[key][value] = fact[key].get(value, 0) + 1
        for name, values in spam.items():
            if values[row] is not None:
                fact["spam"][name] = fact["spam"].get(name, 0.0) + values[row]
        cell = "\t".join([*groups[row], "" if buckets[row] is None else str(buckets[row])])
        into = fact["cells"].setdefault(cell, [0, 0])
        into[0] += 1
        into[1] += tokens[row]
        key = sample_key(ids[row])
        fact["samples"].append(
            [f"{key:032x}", ids[row], urls[row], titles[row], (texts[row] or "")[:SAMPLE_CHARS]]
        )
    for fact in facts.values():
        fact["samples"] = sorted(fact["samples"])[: config.samples]
    stop = frozenset().union(*(stop_words(language) for language in set(languages)))
    for cluster, terms in _cluster_terms(clusters, docs, counts, model, stop).items():
        facts[str(cluster)]["terms"] = terms
    return {"k": model.k, "clusters": facts}


def _cluster_terms(
    clusters: np.ndarray, docs: list[list[str]], counts, model: ClusterModel, stop: frozenset[str]
):
    """cluster -> its ``TERMS_PER_FILE`` most typical terms with the documents holding them: document
    frequencies of every cluster at once (a clusters x documents indicator times the documents' term
    indicators), each hashed column named by the shard's most frequent word hashing there, and left
    out when that is a stop word (words share columns: named by another word, the column of "und"
    showed a German cluster a Portuguese word of one document)."""
    from scipy.sparse import csr_matrix

    frequency = Counter(chain.from_iterable(docs))
    words = sorted(frequency, key=lambda w: (-frequency[w], w))
    if not words:
        return {}
    hashed = hashed_counts([[w] for w in words], model.features).tocsr().indices.tolist()
    word_of: dict[int, str] = {}
    for word, column in zip(words, hashed, strict=True):
        word_of.setdefault(column, word)  # the most frequent first
    word_of = {column: word for column, word in word_of.items() if word not in stop}
    columns = np.fromiter(word_of, dtype=np.int64, count=len(word_of))
    present = counts.tocsr(copy=True)
    present.data[:] = 1
    members = csr_matrix(
        (np.ones(len(clusters)), (clusters, np.arange(len(clusters)))), shape=(model.k, len(docs))
    )
    frequencies = (members @ present).tocsr()
    weight = model.idf - 1.0
    out = {}
    for cluster in np.unique(clusters).tolist():
        row = frequencies[cluster]
        named = np.isin(row.indices, columns)
        cols, counts = row.indices[named], row.data[named]
        order = np.lexsort((cols, -counts * weight[cols]))[:TERMS_PER_FILE]
        out[cluster] = {
            word_of[c]: int(n) for c, n in zip(cols[order].tolist(), counts[order].tolist(), strict=True)
        }
    return out


def typical_terms(counts: dict[str, int], weights: dict[str, float], top: int) -> list[str]:
    """The ``top`` terms by documents of the cluster holding them x their ``term_weights``: frequent
    in the cluster, rare elsewhere."""
    return sorted(counts, key=lambda w: (-counts[w] * weights[w], w))[:top]


def _empty_fact() -> dict:
    return {
        "documents": 0,
        "tokens": 0,
        "bytes": 0,
        "quality_sum": 0.0,
        "quality_count": 0,
        "languages": {},
        "domains": {},
        "genres": {},
        "spam": {},
        "cells": {},
        "terms": {},
        "samples": [],
    }


def merge_facts(parts: list[dict], samples: int) -> dict:
    """The facts of many shards as one (sums added, terms summed, the ``samples`` smallest keys)."""
    merged: dict[str, dict] = {}
    k = 0
    cpu: Counter = Counter()
    for part in parts:
        k = max(k, int(part.get("k") or 0))
        cpu.update(part.get("cpu_seconds") or {})
        for cluster, fact in part["clusters"].items():
            into = merged.setdefault(cluster, _empty_fact())
            for key in ("documents", "tokens", "bytes", "quality_sum", "quality_count"):
                into[key] += fact[key]
            for key in ("languages", "domains", "genres", "spam", "terms"):
                for name, value in fact[key].items():
                    into[key][name] = into[key].get(name, 0) + value
            for cell, (documents, tokens) in fact["cells"].items():
                counts = into["cells"].setdefault(cell, [0, 0])
                counts[0] += documents
                counts[1] += tokens
            into["samples"] = sorted(into["samples"] + fact["samples"])[:samples]
            if len(into["terms"]) > 4 * TERMS_PER_FILE:  # bounded: the least frequent go
                top = sorted(into["terms"].items(), key=lambda t: (-t[1], t[0]))[: 2 * TERMS_PER_FILE]
                into["terms"] = dict(top)
    return {"k": k, "clusters": merged, "cpu_seconds": dict(cpu)}


# --- the clusters as the report and the labels see them ---------------------------------------------


def _shares(counts: dict, total: int, top: int = 5) -> list[list]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [[name, n, n / total if total else 0.0] for name, n in ranked]


def cluster_rows(merged: dict, model: ClusterModel, config: ClusterConfig) -> list[dict]:
    """One row per cluster, largest first: shares, tags, mean quality, top terms, samples, flags and
    the label a reviewer is offered (Yi's automatic verification: the reviewer checks it)."""
    clusters = merged["clusters"]
    all_documents = sum(f["documents"] for f in clusters.values())
    all_tokens = sum(f["tokens"] for f in clusters.values())
    weights = model.term_weights(w for fact in clusters.values() for w in fact["terms"])
    rows = []
    for cluster, fact in clusters.items():
        n = fact["documents"]
        mean_quality = fact["quality_sum"] / fact["quality_count"] if fact["quality_count"] else None
        spam_docs = sum(fact["domains"].get(d, 0) for d in SPAM_DOMAINS)
        row = {
            "cluster": int(cluster),
            "documents": n,
            "documents_share": n / all_documents if all_documents else 0.0,
            "tokens": fact["tokens"],
            "tokens_share": fact["tokens"] / all_tokens if all_tokens else 0.0,
            "mean_tokens": fact["tokens"] / n if n else 0.0,
            "mean_quality": mean_quality,
            "languages": _shares(fact["languages"], n),
            "domains": _shares(fact["domains"], n),
            "genres": _shares(fact["genres"], n) if fact["genres"] else None,
            "spam_share": spam_docs / n if n else 0.0,
            "spam_signals": {name: total / n for name, total in sorted(fact["spam"].items())} or None,
            "terms": typical_terms(fact["terms"], weights, config.top_terms),
            "samples": [
                {"id": s[1], "url": s[2], "title": s[3], "text": s[4]}
                for s in fact["samples"][: config.samples]
            ],
            "cells": [[*cell.split("\t"), *counts] for cell, counts in sorted(fact["cells"].items())],
        }
        row["flags"] = flags(row, config)
        row["proposed"] = proposed_label(row["flags"])
        rows.append(row)
    return sorted(rows, key=lambda r: (-r["documents"], r["cluster"]))


def flags(row: dict, config: ClusterConfig) -> list[str]:
    """Why a cluster looks low-quality (empty: it does not)."""
    out = []
    if row["mean_quality"] is not None and row["mean_quality"] < config.flag_quality:
        out.append(f"low quality (mean {row['mean_quality']:.2f} < {config.flag_quality:g})")
    if row["spam_share"] > config.flag_spam_share:
        out.append(f"spam domains ({row['spam_share']:.0%} gambling/adult/ads)")
    if row["mean_tokens"] < config.flag_min_tokens:
        out.append(f"short pages (mean {row['mean_tokens']:.0f} tokens)")
    listing = next((share for name, _, share in row["genres"] or [] if name == "listing"), 0.0)
    if listing > 0.5:
        out.append(f"listings ({listing:.0%})")
    return out


def proposed_label(reasons: list[str]) -> str:
    """drop for spam or low quality, a lower weight for short pages and listings, else keep."""
    if any(r.startswith(("low quality", "spam")) for r in reasons):
        return "drop"
    return "weight:0.5" if reasons else "keep"


def purity(clusters: list[int], truth: list[str]) -> float:
    """The share of documents whose cluster's most common ``truth`` value is their own."""
    by_cluster: dict[int, Counter] = {}
    for cluster, value in zip(clusters, truth, strict=True):
        by_cluster.setdefault(cluster, Counter())[value] += 1
    total = sum(sum(c.values()) for c in by_cluster.values())
    return sum(c.most_common(1)[0][1] for c in by_cluster.values()) / total if total else math.nan
