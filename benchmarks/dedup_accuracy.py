"""Accuracy of the global dedup on planted near-duplicates of known Jaccard, from real text.

    .venv/bin/python -m benchmarks.dedup_accuracy [--copies 6] [--seed 0] [--verify-threshold T]
        [--lsh-threshold T] [--weights FP FN]

Builds four docs shards from $CRAWLSIEVE_SHARED_CORPUS/extraction/ground_truth.jsonl:
every original article plus copies edited by word substitutions, insertions, deletions and
boilerplate changes at several strengths; computes the exact Jaccard of 5-word shingles of each
copy with its original, runs ``dedup.run.deduplicate`` on a local Ray, and prints recall of pairs
with J >= 0.85, precision (a removed document's pair with its cluster's survivor has J >= 0.7)
and removals of pairs below J 0.5. Targets: recall >= 0.98, precision >= 0.98, no removal below
0.5. Recall is printed two ways: the pair ends in one cluster, and the pair does not survive
twice (at least one copy removed), which is what dedup owes; the two differ when verification
splits a chained cluster. Prints, does not assert.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from crawlsieve.core.layout import RunLayout
from crawlsieve.dedup.minhash import normalized_words
from crawlsieve.dedup.run import deduplicate
from crawlsieve.dedup.stages import signature_stages
from crawlsieve.pipelines.config import Config

SHARED_CORPUS = Path(
    os.environ.get("CRAWLSIEVE_SHARED_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus")
)
CORPUS = SHARED_CORPUS / "extraction" / "ground_truth.jsonl"
BOILERPLATE = "Subscribe to our newsletter for the latest news and offers. Accept all cookies to continue."


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = normalized_words(pa.array([text])).to_pylist()[0]
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def variant(text: str, kind: str, strength: float, rng: random.Random) -> str:
    words = text.split()
    edits = max(1, int(len(words) * strength))
    for _ in range(edits):
        i = rng.randrange(len(words))
        if kind == "substitute":
            words[i] = f"w{rng.randrange(10**6)}"
        elif kind == "insert":
            words.insert(i, f"w{rng.randrange(10**6)}")
        elif kind == "delete" and len(words) > 10:
            del words[i]
    if kind == "boilerplate":
        return f"{BOILERPLATE} {' '.join(words[: len(words) - edits])} {BOILERPLATE}"
    return " ".join(words)


def build(copies: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    originals = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    originals = [t for t in originals if len(t.split()) >= 100]
    kinds = ["substitute", "insert", "delete", "boilerplate"]
    docs = []
    for n, text in enumerate(originals):
        docs.append({"id": f"orig-{n:04d}", "text": text, "origin": n})
        for c in range(copies):
            strength = rng.choice([0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15])
            kind = kinds[c % len(kinds)]
            docs.append({"id": f"copy-{n:04d}-{c}", "text": variant(text, kind, strength, rng), "origin": n})
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=6, help="Edited copies per original article.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--verify-threshold",
        type=float,
        default=None,
        help="dedup.verify_threshold (default: threshold - 0.05).",
    )
    parser.add_argument(
        "--lsh-threshold", type=float, default=None, help="dedup.lsh_threshold (default: verify threshold)."
    )
    parser.add_argument(
        "--weights",
        type=float,
        nargs=2,
        metavar=("FP", "FN"),
        help="dedup.false_positive_weight and false_negative_weight (default: the config's).",
    )
    args = parser.parse_args()
    docs = build(args.copies, args.seed)
    sets = {d["id"]: shingles(d["text"]) for d in docs}
    config = Config()
    config.dedup.verify_threshold = args.verify_threshold
    config.dedup.lsh_threshold = args.lsh_threshold
    if args.weights:
        config.dedup.false_positive_weight, config.dedup.false_negative_weight = args.weights
    stage = signature_stages(config.dedup)[0]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory() as tmp:
        layout = RunLayout(Path(tmp))
        layout.docs("any").parent.mkdir(parents=True)
        when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        for shard in range(4):  # copies spread over files, so pairs cross tasks
            part = docs[shard::4]
            table = pa.table(
                {
                    "id": [d["id"] for d in part],
                    "text": [d["text"] for d in part],
                    "quality_score": [0.0] * len(part),
                    "fetch_time": [when] * len(part),
                }
            )
            pq.write_table(stage(table), layout.docs(f"shard-{shard}"))
        summary = deduplicate(layout, config.dedup)
        clusters = pq.read_table(layout.clusters).to_pylist()
    survivor = {}
    for row in clusters:
        if row["kept"]:
            survivor[row["cluster_id"]] = row["id"]
    cluster_of = {row["id"]: row["cluster_id"] for row in clusters}
    removed = [row["id"] for row in clusters if not row["kept"]]
    removed_pairs_j = [jaccard(sets[r], sets[survivor[cluster_of[r]]]) for r in removed]
    precise = sum(j >= 0.7 for j in removed_pairs_j)
    dissimilar = sum(j < 0.5 for j in removed_pairs_j)
    members: dict[str, list[str]] = {}
    for row in clusters:
        members.setdefault(row["cluster_id"], []).append(row["id"])
    # Lenient reading: the removed document truly duplicates some other member of its cluster.
    best = [max(jaccard(sets[r], sets[m]) for m in members[cluster_of[r]] if m != r) for r in removed]
    precise_best = sum(j >= 0.7 for j in best)
    # Ground-truth pairs: each copy with its original; found if both ended in one cluster.
    truth = [(d["id"], f"orig-{d['origin']:04d}") for d in docs if d["id"].startswith("copy")]
    high = [(a, b) for a, b in truth if jaccard(sets[a], sets[b]) >= 0.85]
    found = sum(1 for a, b in high if a in cluster_of and cluster_of.get(a) == cluster_of.get(b))
    removed_ids = set(removed)
    not_both_kept = sum(1 for a, b in high if a in removed_ids or b in removed_ids)
    print(f"documents: {len(docs)}  planted pairs: {len(truth)}  pairs with J>=0.85: {len(high)}")
    print(f"dedup summary: {summary}")
    print(f"recall    (J>=0.85 pairs clustered): {found / max(1, len(high)):.4f}  target >= 0.98")
    print(f"recall    (J>=0.85 pairs not both kept): {not_both_kept / max(1, len(high)):.4f}  target >= 0.98")
    print(
        f"precision (removed pair J>=0.7):     {precise / max(1, len(removed)):.4f}  target >= 0.98"
        f"  ({precise}/{len(removed)} removed; pair = removed doc and its cluster's survivor)"
    )
    print(f"removals  (removed pair J<0.5):      {dissimilar}  target 0")
    print(
        f"precision (best cluster member):     {precise_best / max(1, len(removed)):.4f}"
        "  (pair = removed doc and its most similar other cluster member)"
    )


if __name__ == "__main__":
    main()
