"""Tokens per second per core: `crawlsieve tokenize` against datatrove's ``DocumentTokenizer``.

    .venv/bin/python -m benchmarks.tokenize_throughput [--corpus ../shared/corpus] [--copies 20]
        [--repeat 3] [--tokenizer tokenizer.json]

The documents are the human-written texts of the shared corpus (``extraction/ground_truth.jsonl``
and ``multilingual/extraction/ground_truth.jsonl``: English, Chinese and other languages), each
``--copies`` times under its own id (copy k starts with "k. ", so no two texts are equal). The
tokenizer is ``--tokenizer``, or a byte-level BPE of 32,000 ids trained here on those texts
(nothing is downloaded). Both systems append the same end-of-document token.

- ``datatrove``: ``DocumentTokenizer`` (datatrove's own batch size and writer) over the documents
  in memory, as its pipeline hands them over; once with ``shuffle_documents=False`` and once with
  its default shuffle (a second pass that copies every document to its shuffled place).
- ``crawlsieve``: the per-document work of `crawlsieve tokenize` (steps 1-3 of
  ``pipelines/tokenize.py``: read the Parquet shards, tokenize, order by the seeded key, write the
  Megatron .bin/.idx and the per-document index), in this process without Ray: Ray adds a fixed
  start and per-file scheduling, not per-token work. The documents are written as 4 Parquet
  shards first (not timed).
- ``tokenizers alone``: only ``Tokenizer.encode_batch_fast`` over the same texts, the floor both
  systems stand on: each system's CPU over it (``/ encoder``) is what it adds per token, which
  load from other processes on a shared machine disturbs less than the ratio between systems.
- ``mixture, 2 epochs``: a plan that repeats every document twice. crawlsieve tokenizes each text
  once and writes it twice; datatrove is given the repeated documents (as `mix --materialize`
  would write them). Not the same work per token: a separate row, for what --plan saves.

Every system runs single-threaded (``TOKENIZERS_PARALLELISM=false``, as a crawlsieve task does: it
reserves one CPU) and is timed in CPU seconds of this process, alternating, best of ``--repeat``
(wall time on a shared machine says little). Then the token ids of every document are compared
with datatrove's unshuffled output: equal for every document, or the benchmark fails.
"""

from __future__ import annotations

import os

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # before tokenizers loads: both systems on one core

import argparse
import json
import shutil
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from crawlsieve.core.shards import OutputConfig, write_shard
from crawlsieve.pipelines import token_files
from crawlsieve.pipelines.tokenize import (
    TokenizedLayout,
    count_group,
    prepare,
    token_path,
    tokenize_shard,
    write_bucket,
)

EOD = "<|endoftext|>"
SHARDS = 4


def corpus_texts(corpus: Path) -> list[str]:
    texts = []
    for name in ("extraction/ground_truth.jsonl", "multilingual/extraction/ground_truth.jsonl"):
        for line in (corpus / name).read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            if text.strip():
                texts.append(text)
    return texts


def train_tokenizer(texts: list[str], path: Path) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=32_000, special_tokens=[EOD], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.save(str(path))
    return str(path)


def write_source(docs: list[tuple[str, str]], directory: Path) -> Path:
    """The documents as a run-like directory: one group, SHARDS shards (not timed)."""
    for shard in range(SHARDS):
        part = docs[shard::SHARDS]
        table = pa.table(
            {
                "id": [doc_id for doc_id, _ in part],
                "text": [text for _, text in part],
                "domain": ["other"] * len(part),
                "language": ["mixed"] * len(part),
                "token_count": [len(text) // 4 for _, text in part],  # sizes the buckets only
            }
        )
        write_shard(table, directory / "data", f"s{shard}", OutputConfig())
    return directory


def run_crawlsieve(source: Path, out: Path, tokenizer: str, plan: dict | None = None) -> float:
    """CPU seconds of steps 1-3 of `crawlsieve tokenize` (Megatron files), in this process."""
    shutil.rmtree(out, ignore_errors=True)
    plan_path = None
    if plan is not None:
        plan_path = out.parent / "plan.json"
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
    job, _ = prepare(source, out, tokenizer, plan_path=str(plan_path) if plan_path else None)
    start = time.process_time()
    for shard in job.shards:
        tokenize_shard(shard, job, out)
    documents, tokens = (np.asarray(a) for a in count_group(0, job, out))
    prefix = TokenizedLayout(out).staged / token_path(job, 0, 0).removesuffix(".bin")
    token_files.allocate_megatron(prefix, job.dtype, int(documents.sum()), int(tokens.sum()))
    firsts, first_tokens = np.cumsum(documents) - documents, np.cumsum(tokens) - tokens
    for bucket in np.flatnonzero(documents):
        write_bucket(
            job, out, 0, int(bucket), int(firsts[bucket]), int(first_tokens[bucket]), int(documents.sum())
        )
    return time.process_time() - start


def run_encoder(docs: list[tuple[str, str]], tokenizer: str) -> float:
    """CPU seconds of the bare batch encoder over the texts (crawlsieve's settings and batches)."""
    from crawlsieve.core.models import tokenizer as load
    from crawlsieve.pipelines.tokenize import ENCODE_BATCH

    encoder = load(tokenizer)
    texts = [text for _, text in docs]
    start = time.process_time()
    for first in range(0, len(texts), ENCODE_BATCH):
        encoder.encode_batch_fast(texts[first : first + ENCODE_BATCH], add_special_tokens=False)
    return time.process_time() - start


def run_datatrove(docs: list[tuple[str, str]], out: Path, tokenizer: str, shuffle: bool) -> float:
    from datatrove.data import Document
    from datatrove.pipeline.tokens.tokenizer import DocumentTokenizer
    from datatrove.utils.logging import logger

    logger.remove()
    shutil.rmtree(out, ignore_errors=True)
    step = DocumentTokenizer(
        str(out), tokenizer, eos_token=EOD, seed=0, shuffle_documents=shuffle, save_final_metadata=False
    )
    documents = [Document(text=text, id=doc_id) for doc_id, text in docs]
    start = time.process_time()
    step.run(iter(documents))
    return time.process_time() - start


def datatrove_documents(out: Path, dtype: str) -> list[np.ndarray]:
    """The documents of datatrove's unshuffled output (.ds tokens, .ds.index uint64 ends), in input order."""
    (data,) = out.glob("*.ds")
    ends = np.frombuffer(Path(f"{data}.index").read_bytes(), "<u8").astype(np.int64)
    tokens = np.fromfile(data, dtype)
    return np.split(tokens, ends[:-1])


def crawlsieve_documents(out: Path) -> dict[str, np.ndarray]:
    """Each document of our Megatron output by id (read through the per-document index)."""
    idx = (TokenizedLayout(out).staged / "tokens/domain=other/language=mixed.idx").read_bytes()
    _, code, count, _ = struct.unpack_from("<QBQQ", idx, 9)
    dtype = {8: "<u2", 4: "<i4"}[code]
    tokens = np.fromfile(TokenizedLayout(out).staged / "tokens/domain=other/language=mixed.bin", dtype)
    index = ds.dataset(TokenizedLayout(out).staged / "index", format="parquet").to_table().to_pylist()
    assert len(index) == count
    return {row["id"]: tokens[row["start"] : row["end"]] for row in index}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus"
    )
    parser.add_argument("--copies", type=int, default=20, help="copies of each corpus text (own ids)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes of each system (best kept)")
    parser.add_argument("--tokenizer", help="a tokenizer.json (default: a BPE trained on the corpus)")
    args = parser.parse_args()

    texts = corpus_texts(args.corpus)
    work = Path(tempfile.mkdtemp(prefix="crawlsieve-tokenize-bench-"))
    try:
        tokenizer = args.tokenizer or train_tokenizer(texts, work / "tokenizer.json")
        docs = [(f"{n}-{k}", f"{k}. {text}") for k in range(args.copies) for n, text in enumerate(texts)]
        twice = [(f"{doc_id}{suffix}", text) for doc_id, text in docs for suffix in ("", "#epoch1")]
        source = write_source(docs, work / "src")
        group = {
            "domain": "other",
            "language": "mixed",
            "epochs": 2.0,
            "target_tokens": 1,
            "target_weight": 1.0,
        }
        plan = {"groups": [group]}
        runs = {
            "tokenizers alone": lambda: run_encoder(docs, tokenizer),
            "crawlsieve": lambda: run_crawlsieve(source, work / "ours", tokenizer),
            "datatrove": lambda: run_datatrove(docs, work / "dt", tokenizer, shuffle=False),
            "datatrove, shuffled": lambda: run_datatrove(docs, work / "dt-shuffled", tokenizer, shuffle=True),
            "crawlsieve, 2 epochs": lambda: run_crawlsieve(source, work / "ours-twice", tokenizer, plan),
            "datatrove, 2 epochs": lambda: run_datatrove(twice, work / "dt-twice", tokenizer, shuffle=False),
        }
        best = {name: float("inf") for name in runs}
        for _ in range(args.repeat):
            for name, run in runs.items():
                best[name] = min(best[name], run())

        from crawlsieve.core.models import tokenizer as load

        dtype = "<u2" if load(tokenizer).get_vocab_size() <= 1 << 16 else "<u4"
        reference = datatrove_documents(work / "dt", dtype)
        ours = crawlsieve_documents(work / "ours")
        equal = sum(
            np.array_equal(ours[doc_id], ref) for (doc_id, _), ref in zip(docs, reference, strict=True)
        )
        tokens = sum(len(r) for r in reference)
        print(
            f"{len(docs):,} documents, {tokens:,} tokens with {EOD} (load average {os.getloadavg()[0]:.1f})"
        )
        print(f"token ids equal to datatrove's for {equal:,} of {len(docs):,} documents")
        print()
        print("| system | documents | tokens | CPU s | tokens/s/core | vs datatrove | / encoder |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, seconds in best.items():
            twice_as_many = "2 epochs" in name
            n_docs, n_tokens = (2 * len(docs), 2 * tokens) if twice_as_many else (len(docs), tokens)
            baseline = best["datatrove, 2 epochs" if twice_as_many else "datatrove"]
            print(
                f"| {name} | {n_docs:,} | {n_tokens:,} | {seconds:.2f} | {n_tokens / seconds:,.0f} "
                f"| {baseline / seconds:.2f}x | {seconds / best['tokenizers alone']:.2f} |"
            )
        if equal != len(docs):
            raise SystemExit("token ids differ from datatrove's")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
