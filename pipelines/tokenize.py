"""`crawlsieve tokenize SRC --tokenizer tokenizer.json --output OUT`: token files a trainer reads as is.

SRC is a run directory or a `mix --materialize` output. With ``--plan plan.yaml`` (from `crawlsieve
mix`) each document of a run is repeated as `mix --materialize` would repeat it (its group's epochs
times its rehydration factor: ``quality.mix.document_copies``, the same function), without writing
the sample as Parquet first; a materialized SRC was sampled already, by its own plan.json.

Every document's text is batch-encoded with Hugging Face ``tokenizers`` (no special tokens added)
and followed by the end-of-document token. Output, per mixture group ``<group>`` =
``domain=<d>/language=<l>/genre=<g>`` (``quality.mixture.GROUP_KEYS``; ``pipelines.token_files``
has the formats):

    OUT/tokens/<group>.bin, .idx              --format megatron (MMIDIDX)
    OUT/tokens/<group>/part-<b>.npy, .csv.gz  --format npy (OLMo / Dolma)
    OUT/index/<group>/part-<b>.parquet        each document's token range and source:
                                        path, document, start, end, id, shard, file, row, copy
    OUT/blend.json            per group: files, documents, tokens, epochs, weight (plan's or mixture's)
    OUT/megatron_data_args.txt  ``weight prefix`` pairs for Megatron's --data-args-path (or --data-path)
    OUT/olmo_data.yaml        the ``data`` section of an OLMo config (npy)
    OUT/mixture.json          the same groups with exact token counts; OUT/plan.json with its report

**Order.** Documents of a group are written sorted by a seeded 64-bit hash of their id (copy k >= 1
of a document has the id ``<id>#epoch<k>``, as --materialize names it): a uniform shuffle across
files and sites that depends only on the seed and the documents, never on the workers. It is an
external sort through files, as a shuffle, because no task may hold a whole group:

1. per source shard (one Ray task each): read its Parquet files, repeat, tokenize, sort its documents
   by (group, key), write ``_work/shards/<shard>.tokens`` (the ids), ``.meta.arrow`` (the index rows)
   and ``.offsets.npy`` (where each (group, bucket) starts). A group's key range is cut into buckets
   of about ``BUCKET_TOKENS`` expected tokens (from the plan or SRC's mixture.json), so one task
   later holds one bucket.
2. per group: the buckets' documents and tokens, summed over the shards' offsets.
3. per (group, bucket): its slice of every shard, sorted by key, written at its place (the sums of
   the buckets before it): into the group's .bin/.idx, or as the group's part-<bucket>.npy.
4. the driver publishes tokens/ and index/ and writes the blend, mixture.json and the plan's report.

The driver handles files, groups and buckets, never a document. ``--resume`` skips the shards of
step 1 and the buckets of step 3 that have their completion markers in OUT/_state.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from crawlsieve import __version__
from crawlsieve.core.errors import ConfigError, UsageError
from crawlsieve.core.io import (
    atomic_file,
    read_json,
    read_parquet,
    read_parquet_schema,
    write_bytes_atomically,
    write_json_atomically,
)
from crawlsieve.core.layout import RunLayout, check_apart
from crawlsieve.pipelines.config import Config
from crawlsieve.quality.mixture import GROUP_KEYS, group_key, group_values, key_columns

HELP = "Tokenize a run (or a sampled mixture) into Megatron-LM or OLMo/Dolma token files with a blend file."

EXAMPLES = """examples:
  crawlsieve tokenize out --tokenizer tokenizer.json --output out-tokens
  crawlsieve tokenize out --tokenizer tokenizer.json --output out-npy --format npy --plan plan.yaml
  crawlsieve tokenize mixed --tokenizer tokenizer.json --output tokens --resume

then train with Megatron-LM: --data-args-path out-tokens/megatron_data_args.txt;
blend.json has each group's documents, tokens, epochs and weight."""

FORMATS = ("megatron", "npy")
#: Expected tokens per bucket of a group: one bucket task holds its ids and index rows
#: (~8 bytes per token in all at uint32, plus the sort's copy: ~1 GB).
BUCKET_TOKENS = 1 << 26
#: Texts per call to the batch encoder.
ENCODE_BATCH = 1024
#: End-of-document tokens of the usual tokenizers (GPT-2/NeoX/OLMo, Llama 3, Llama 2/Mistral,
#: Gemma), tried in this order when --eod is not given.
EOD_NAMES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|eos|>", "[EOS]")
META_SCHEMA = pa.schema(
    [
        ("key", pa.uint64()),
        ("length", pa.int64()),
        ("id", pa.string()),
        ("file", pa.string()),
        ("row", pa.int64()),
        ("copy", pa.int32()),
    ]
)
_SUMS = ("documents", "tokens", "bytes", "quality_sum", "quality_count")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("source", metavar="SRC", help="a run directory or a `mix --materialize` output")
    parser.add_argument("--tokenizer", required=True, metavar="FILE", help="a Hugging Face tokenizer.json")
    parser.add_argument("--output", "-o", required=True, metavar="OUT", help="output directory (new)")
    parser.add_argument(
        "--format", choices=FORMATS, default="megatron", help="token files (default megatron)"
    )
    parser.add_argument(
        "--plan", metavar="FILE", help="a plan of `crawlsieve mix --output`: repeat documents by it"
    )
    parser.add_argument(
        "--eod", metavar="TOKEN", help=f"end-of-document token (default: the first of {', '.join(EOD_NAMES)})"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the document order (and of --plan's draws)"
    )
    parser.add_argument("--resume", action="store_true", help="continue an interrupted tokenize into OUT")
    parser.add_argument("--ray-address", metavar="ADDR", help="join a Ray cluster (auto, ray://host:10001)")
    parser.add_argument("--num-cpus", type=int, metavar="N", help="CPUs of the local Ray (default: all)")


# --- what a run tokenizes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """Everything the tasks need, and what a --resume must find unchanged."""

    source: str  # SRC, resolved
    tokenizer: str
    tokenizer_sha256: str
    eod: str
    eod_id: int
    vocab_size: int
    format: str
    dtype: str
    seed: int
    groups: tuple[tuple[str, ...], ...]  # GROUP_KEYS (domain, language, genre), sorted
    buckets: tuple[int, ...]  # per group
    shards: dict[str, list[str]]  # shard -> its files, relative to SRC/data
    plan: dict | None = None  # the plan documents are repeated by (None: each document once)
    bases: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bases", tuple(np.concatenate([[0], np.cumsum(self.buckets)]).tolist()))

    @property
    def slots(self) -> int:
        """(group, bucket) pairs; slot ``bases[g] + b``."""
        return self.bases[-1]

    def record(self) -> dict:
        data = asdict(self)
        data.pop("bases")
        return json.loads(json.dumps(data))


@dataclass(frozen=True)
class TokenizedLayout:
    """Every path of a `tokenize` output directory."""

    root: Path

    @property
    def state(self) -> Path:
        return RunLayout(self.root).state

    @property
    def lock(self) -> Path:
        return RunLayout(self.root).lock

    @property
    def record(self) -> Path:
        return self.state / "tokenize.json"

    def shard_marker(self, shard: str) -> Path:
        return self.state / "shards" / f"{shard}.json"

    def bucket_marker(self, group: int, bucket: int) -> Path:
        return self.state / "buckets" / f"{group}-{bucket}.json"

    def attempts(self, step: str, name: str) -> Path:
        """The retry counter of ``name`` (a shard, a bucket) in ``step`` (tokenize, write)."""
        return RunLayout(self.root).attempts_dir / f"tokenize-{step}" / name

    @property
    def work(self) -> Path:
        return RunLayout(self.root).work

    def shard_file(self, shard: str, suffix: str) -> Path:
        return self.work / "shards" / f"{shard}.{suffix}"

    @property
    def staged(self) -> Path:
        """tokens/ and index/ as the bucket tasks write them, published by one rename each."""
        return self.work / "out"

    @property
    def blend(self) -> Path:
        return self.root / "blend.json"

    @property
    def megatron_data_args(self) -> Path:
        return self.root / "megatron_data_args.txt"

    @property
    def olmo_data(self) -> Path:
        return self.root / "olmo_data.yaml"

    @property
    def mixture(self) -> Path:
        return RunLayout(self.root).mixture

    @property
    def plan(self) -> Path:
        return RunLayout(self.root).plan


def group_path(domain: str, language: str, genre: str) -> str:
    return f"domain={domain}/language={language}/genre={genre}"


def token_path(job: Job, group: int, bucket: int) -> str:
    """The token file a bucket's documents go to, relative to OUT (and to the staging directory)."""
    name = group_path(*job.groups[group])
    return f"tokens/{name}.bin" if job.format == "megatron" else f"tokens/{name}/part-{bucket:05d}.npy"


def index_path(job: Job, group: int, bucket: int) -> str:
    return f"index/{group_path(*job.groups[group])}/part-{bucket:05d}.parquet"


# --- checks before any work -------------------------------------------------------------------


def load_tokenizer(path: str, eod: str | None):
    """The tokenizer, its end-of-document token and id; one line (exit 2) for a bad file or token."""
    from crawlsieve.core import models

    try:
        tokenizer = models.tokenizer(path)
    except ConfigError as error:
        raise UsageError(f"--tokenizer: {error}") from None
    names = (eod,) if eod else EOD_NAMES
    for name in names:
        token_id = tokenizer.token_to_id(name)
        if token_id is not None:
            return tokenizer, name, token_id
    if eod:
        raise UsageError(f"--eod: {eod!r} is not a token of {path}")
    raise UsageError(
        f"--tokenizer {path} has none of the end-of-document tokens {', '.join(EOD_NAMES)}: use --eod"
    )


def source_shards(source: Path) -> dict[str, list[str]]:
    """shard -> its Parquet files (relative to SRC/data), from the listing alone."""
    from crawlsieve.core.shards import data_files, shard_of

    data = RunLayout(source).data
    if not data.is_dir():
        raise UsageError(
            f"{source} has no data/ directory (a `crawlsieve run` or `mix --materialize` output)"
        )
    shards: dict[str, list[str]] = defaultdict(list)
    for path in data_files(data):
        shards[shard_of(path)].append(path.relative_to(data).as_posix())
    if not shards:
        raise UsageError(f"{data} holds no Parquet files")
    return dict(sorted(shards.items()))


def group_of_path(relative: str) -> tuple[str, ...]:
    """The group of a ``group_path``."""
    return tuple(part.split("=", 1)[1] for part in relative.split("/")[: len(GROUP_KEYS)])


def check_plan_weights(plan: dict, source: Path, shards: dict[str, list[str]]) -> None:
    """A plan weighing documents (cluster labels, quality buckets) fits SRC: its clusters are those
    the labels were made for, and its shards have quality_bucket when buckets are weighed."""
    from crawlsieve.quality.mix import DocumentWeights, check_plan_clusters

    check_plan_clusters(plan, source)
    if DocumentWeights.from_plan(plan).buckets and any(
        "quality_bucket" not in read_parquet_schema(RunLayout(source).data / files[0]).names
        for files in shards.values()
    ):
        raise UsageError(
            f"the plan's quality_bucket weights need quality_bucket, which {source}'s shards lack"
        )


def choose_plan(source: Path, plan_path: str | None) -> tuple[dict | None, dict | None]:
    """(the plan to repeat documents by, the plan the blend's weights and epochs come from).

    A materialized SRC was sampled by its plan.json already: that plan gives the weights, and
    nothing is repeated again (a second --plan on it is refused)."""
    from crawlsieve.quality.mix import load_plan

    recorded = RunLayout(source).plan
    if plan_path is not None:
        if recorded.is_file():
            raise UsageError(
                f"{source} is a `mix --materialize` output, sampled by its plan.json: "
                "tokenize it without --plan"
            )
        plan = load_plan(Path(plan_path))
        plan.pop("report", None)  # what an earlier tokenize wrote back: not part of the plan
        return plan, plan
    return None, (load_plan(recorded) if recorded.is_file() else None)


def check_plan_groups(plan: dict, groups: set[tuple[str, ...]], plan_name: str) -> None:
    for group in plan["groups"]:
        if group["target_tokens"] > 0 and group_key(group) not in groups:
            named = " ".join(f"{k}={v}" for k, v in group_values(group).items())
            raise UsageError(f"plan {plan_name}: group {named} is not in SRC's data")


def expected_tokens(source: Path, plan: dict | None) -> dict[tuple[str, ...], float]:
    """Tokens each group should get, to size its buckets (the plan's targets, else SRC's mixture)."""
    from crawlsieve.quality.mix import load_groups

    if plan is not None:
        return {group_key(g): g["target_tokens"] for g in plan["groups"]}
    groups, _ = load_groups(source)
    return {group_key(g): g["tokens"] for g in groups}


def check_output(out: Path, source: Path, resume: bool) -> None:
    layout = TokenizedLayout(out)
    check_apart(out, "--output", runs=[("SRC", str(source))])
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output {out} exists and is not a directory")
    if resume:
        if layout.blend.is_file():
            raise UsageError(f"--resume: {out} already holds a finished tokenized dataset")
        if not layout.record.is_file():
            raise UsageError(f"--resume: {out} holds no tokenize to resume")
        return
    if layout.blend.is_file() or (out / "tokens").exists():
        raise UsageError(f"--output {out} already holds a tokenized dataset: choose another directory")
    if layout.record.is_file():
        raise UsageError(
            f"--output {out} holds an interrupted tokenize: add --resume, or choose another directory"
        )
    if out.is_dir() and any(out.iterdir()):
        raise UsageError(f"--output {out} is not empty: choose another directory")


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare(
    source: Path,
    out: Path,
    tokenizer_path: str,
    *,
    file_format: str = "megatron",
    plan_path: str | None = None,
    eod: str | None = None,
    seed: int = 0,
    resume: bool = False,
    bucket_tokens: int = BUCKET_TOKENS,
) -> tuple[Job, dict | None]:
    """Every check that can refuse the command (one line, exit 2), before Ray or the lock; returns
    the job and the plan the blend's weights and epochs come from."""
    from crawlsieve.pipelines.token_files import token_dtype

    if file_format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    source = source.resolve()
    shards = source_shards(source)
    tokenizer, eod_name, eod_id = load_tokenizer(str(Path(tokenizer_path).resolve()), eod)
    repeat_by, weigh_by = choose_plan(source, plan_path)
    present = set(expected_tokens(source, None))
    if repeat_by is not None:
        check_plan_groups(repeat_by, present, plan_path)
        planned = {group_key(g) for g in repeat_by["groups"] if g["epochs"] > 0}
        present &= planned
        if repeat_by.get("rehydrate") and any(
            "dup_cluster_size" not in read_parquet_schema(RunLayout(source).data / files[0]).names
            for files in shards.values()
        ):
            raise UsageError(
                f"the plan's rehydrate rule needs dup_cluster_size, which {source}'s shards lack"
            )
        check_plan_weights(repeat_by, source, shards)
    groups = tuple(sorted(present))
    expected = expected_tokens(source, repeat_by)
    buckets = tuple(max(1, math.ceil(expected.get(g, 0) / bucket_tokens)) for g in groups)
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    job = Job(
        source=str(source),
        tokenizer=str(Path(tokenizer_path).resolve()),
        tokenizer_sha256=_sha256(tokenizer_path),
        eod=eod_name,
        eod_id=eod_id,
        vocab_size=vocab_size,
        format=file_format,
        dtype=token_dtype(file_format, vocab_size),
        seed=seed,
        groups=groups,
        buckets=buckets,
        shards=shards,
        plan=repeat_by,
    )
    check_output(out, source, resume)
    if resume:
        previous = read_json(TokenizedLayout(out).record)
        if previous != job.record():
            raise UsageError(
                "--resume: SRC, the tokenizer, the plan or the options differ from the interrupted run's"
            )
    return job, weigh_by


# --- step 1: one task per source shard --------------------------------------------------------


def _read_source(job: Job, relative: str) -> pa.Table:
    path = Path(job.source) / "data" / relative
    names = read_parquet_schema(path).names
    wanted = ["id", "text", *GROUP_KEYS, "dup_cluster_size", "quality_bucket", "quality_score"]
    table = read_parquet(path, columns=[c for c in wanted if c in names])
    if "quality_score" not in table.column_names:
        table = table.append_column("quality_score", pa.nulls(table.num_rows, pa.float64()))
    keys = key_columns(table)  # a source from before the genre column: genre NO_VALUE
    table = pa.table(
        {name: table.column(name) for name in table.column_names if name not in keys} | keys
    ).select(
        [
            "id",
            "text",
            *GROUP_KEYS,
            "quality_score",
            *(c for c in ("dup_cluster_size", "quality_bucket") if c in table.column_names),
        ]
    )
    table = table.append_column("file", pa.array([relative] * table.num_rows, pa.string()))
    return table.append_column("row", pa.array(np.arange(table.num_rows, dtype=np.int64)))


def encode(tokenizer, texts: list[str], dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(token count of each text, all ids back to back), special tokens not added."""
    lengths: list[int] = []
    chunks = []
    for start in range(0, len(texts), ENCODE_BATCH):
        ids = [
            e.ids
            for e in tokenizer.encode_batch_fast(
                texts[start : start + ENCODE_BATCH], add_special_tokens=False
            )
        ]
        counts = [len(i) for i in ids]
        lengths += counts
        chunks.append(np.fromiter(chain.from_iterable(ids), dtype=dtype, count=sum(counts)))
    return np.asarray(lengths, dtype=np.int64), (np.concatenate(chunks) if chunks else np.zeros(0, dtype))


def with_eod(lengths: np.ndarray, ids: np.ndarray, eod_id: int) -> np.ndarray:
    """The ids with the end-of-document token after each document's."""
    tokens = np.full(len(ids) + len(lengths), eod_id, dtype=ids.dtype)
    ends = np.cumsum(lengths + 1) - 1
    keep = np.ones(len(tokens), dtype=bool)
    keep[ends] = False
    tokens[keep] = ids
    return tokens


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices of the concatenated ranges [start, start + length), vectorized."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.repeat(np.asarray(starts, dtype=np.int64) - offsets, lengths) + np.arange(total)


def order_keys(ids: list[str], seed: int) -> np.ndarray:
    """The seeded order key of each document copy (by its id alone)."""
    import xxhash

    return np.fromiter(
        (xxhash.xxh64_intdigest(f"order:{seed}:{doc_id}".encode()) for doc_id in ids),
        np.uint64,
        count=len(ids),
    )


def tokenize_shard(shard: str, job: Job, out: Path) -> dict:
    """Step 1 for one source shard; writes its files, then its marker (the per-group sums)."""
    from crawlsieve.core import models
    from crawlsieve.quality.mix import copy_ids, copy_numbers, document_copies

    # The task reserves one CPU: without this the tokenizer's thread pool would take every core.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    layout = TokenizedLayout(out)
    table = pa.concat_tables([_read_source(job, f) for f in job.shards[shard]], promote_options="permissive")
    paths = pc.binary_join_element_wise(
        "domain=", table.column("domain"), "/language=", table.column("language"),
        "/genre=", table.column("genre"), "",
    )  # fmt: skip
    group = pc.index_in(paths, value_set=pa.array([group_path(*g) for g in job.groups]))
    copies = (
        np.ones(table.num_rows, np.int64)
        if job.plan is None
        else document_copies(table, job.plan, job.seed, Path(job.source), shard)
    )
    copies[np.asarray(pc.is_null(group))] = 0
    kept = np.flatnonzero(copies)
    table, copies = table.take(kept), copies[kept]
    group = np.asarray(pc.fill_null(group, 0).to_numpy(zero_copy_only=False))[kept]

    texts = pc.fill_null(table.column("text"), "").to_pylist()
    lengths, flat = encode(models.tokenizer(job.tokenizer), texts, job.dtype)
    tokens = with_eod(lengths, flat, job.eod_id)
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])

    source = np.repeat(np.arange(table.num_rows), copies)  # one entry per document copy
    copy = copy_numbers(copies)
    ids = copy_ids(table.column("id").take(source), copy)
    keys = order_keys(ids.to_pylist(), job.seed)
    buckets = np.asarray(job.buckets, dtype=np.uint64)[group[source]]
    slot = np.asarray(job.bases, dtype=np.int64)[group[source]] + (
        (keys >> np.uint64(32)) * buckets >> np.uint64(32)
    ).astype(np.int64)
    rows = table.column("row").to_numpy()[source]
    _, file_rank = np.unique(np.asarray(table.column("file").to_pylist(), dtype=object), return_inverse=True)
    order = np.lexsort((np.asarray(copy), rows, file_rank[source], keys, slot))

    doc_lengths = (lengths + 1)[source][order]
    with atomic_file(layout.shard_file(shard, "tokens")) as handle:
        tokens[ranges(starts[source][order], doc_lengths)].tofile(handle)
    meta = pa.table(
        {
            "key": keys[order],
            "length": doc_lengths,
            "id": ids.take(order),
            "file": table.column("file").take(source[order]),
            "row": rows[order],
            "copy": pc.take(copy, order),
        },
        schema=META_SCHEMA,
    )
    with (
        atomic_file(layout.shard_file(shard, "meta.arrow")) as handle,
        pa.ipc.new_file(handle, META_SCHEMA) as w,
    ):
        w.write_table(meta)
    row_offsets = np.searchsorted(slot[order], np.arange(job.slots + 1))
    token_offsets = np.concatenate([[0], np.cumsum(doc_lengths)])[row_offsets]
    with atomic_file(layout.shard_file(shard, "offsets.npy")) as handle:
        np.save(handle, np.stack([row_offsets, token_offsets], axis=1).astype(np.int64))

    text_bytes = np.asarray(
        pc.fill_null(pc.binary_length(table.column("text")), 0).to_numpy(zero_copy_only=False)
    )
    quality = table.column("quality_score").to_numpy(zero_copy_only=False).astype(np.float64)
    rated = ~np.isnan(quality)
    sums = {
        "documents": copies,
        "tokens": copies * lengths,
        "bytes": copies * text_bytes,
        "quality_sum": copies * np.where(rated, quality, 0.0),
        "quality_count": copies * rated,
    }
    by_group = {name: np.bincount(group, weights=w, minlength=len(job.groups)) for name, w in sums.items()}
    marker = {
        "shard": shard,
        "groups": {
            group_path(*g): {name: float(by_group[name][i]) for name in _SUMS}
            for i, g in enumerate(job.groups)
            if by_group["documents"][i]
        },
    }
    write_json_atomically(marker, layout.shard_marker(shard))
    return {"shard": shard, "documents": int(copies.sum())}


# --- step 2: per group, its buckets' sizes ----------------------------------------------------


def count_group(group: int, job: Job, out: Path) -> tuple[list[int], list[int]]:
    """(documents, tokens with end-of-document) of each of the group's buckets, over every shard."""
    layout = TokenizedLayout(out)
    first, last = job.bases[group], job.bases[group + 1]
    totals = np.zeros((last - first, 2), dtype=np.int64)
    for shard in job.shards:
        offsets = np.load(layout.shard_file(shard, "offsets.npy"), mmap_mode="r")
        totals += np.diff(np.asarray(offsets[first : last + 1]), axis=0)
    return totals[:, 0].tolist(), totals[:, 1].tolist()


# --- step 3: per (group, bucket), its documents in order, at their place ------------------------


def gather_bucket(job: Job, out: Path, group: int, bucket: int) -> tuple[pa.Table, np.ndarray]:
    """The bucket's index rows (with ``shard``) sorted by key, and their tokens in that order."""
    layout = TokenizedLayout(out)
    slot = job.bases[group] + bucket
    itemsize = np.dtype(job.dtype).itemsize
    metas, pieces = [], []
    for shard in job.shards:
        (row0, token0), (row1, token1) = np.load(layout.shard_file(shard, "offsets.npy"), mmap_mode="r")[
            slot : slot + 2
        ]
        if row1 == row0:
            continue
        with pa.memory_map(str(layout.shard_file(shard, "meta.arrow"))) as source:
            meta = pa.ipc.open_file(source).read_all().slice(row0, row1 - row0)
        metas.append(meta.append_column("shard", pa.array([shard] * meta.num_rows, pa.string())))
        pieces.append(
            np.fromfile(
                layout.shard_file(shard, "tokens"), job.dtype, count=token1 - token0, offset=token0 * itemsize
            )
        )
    if not metas:
        return pa.table({}), np.zeros(0, job.dtype)
    meta = pa.concat_tables(metas)
    tokens = np.concatenate(pieces)
    lengths = meta.column("length").to_numpy()
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ties = ("shard", "file", "row", "copy")  # a 64-bit key almost never ties; when it does, still one order
    order = pc.sort_indices(meta, sort_keys=[(c, "ascending") for c in ("key", *ties)]).to_numpy()
    return meta.take(order), tokens[ranges(starts[order], lengths[order])]


def write_bucket(
    job: Job, out: Path, group: int, bucket: int, first: int, first_token: int, documents: int
) -> dict:
    """Step 3: the bucket's tokens into its token file, its index rows, then its marker.

    ``first``/``first_token``: the bucket's first document and token in the group's .bin (Megatron);
    ``documents``: the group's, for the .idx layout."""
    from crawlsieve.pipelines.token_files import write_megatron_slice, write_npy_part

    layout = TokenizedLayout(out)
    meta, tokens = gather_bucket(job, out, group, bucket)
    lengths = meta.column("length").to_numpy()
    path = token_path(job, group, bucket)
    if job.format == "megatron":
        prefix = layout.staged / path.removesuffix(".bin")
        write_megatron_slice(prefix, job.dtype, documents, first, first_token, tokens, lengths)
    else:
        first, first_token = 0, 0  # each part starts its own documents and tokens
        write_npy_part(
            layout.staged / path,
            tokens,
            lengths,
            meta.column("id").to_pylist(),
            meta.column("file").to_pylist(),
            meta.column("row").to_pylist(),
        )
    ends = first_token + np.cumsum(lengths)
    index = pa.table(
        {
            "path": pa.array([path] * meta.num_rows, pa.string()),
            "document": pa.array(np.arange(first, first + meta.num_rows, dtype=np.int64)),
            "start": pa.array(ends - lengths),
            "end": pa.array(ends),
            "id": meta.column("id"),
            "shard": meta.column("shard"),
            "file": meta.column("file"),
            "row": meta.column("row"),
            "copy": meta.column("copy"),
        }
    )
    with atomic_file(layout.staged / index_path(job, group, bucket)) as handle:
        pq.write_table(index, handle, compression="zstd")
    write_json_atomically(
        {"documents": meta.num_rows, "tokens": int(lengths.sum())}, layout.bucket_marker(group, bucket)
    )
    return {"group": group, "bucket": bucket}


# --- Ray tasks ---------------------------------------------------------------------------------


def _tokenize_batch(batch, config: Config, output_dir: str, job: Job):
    from crawlsieve.pipelines.ray_runtime import count_attempt

    records = []
    for shard in batch.column("shard").to_pylist():
        if (
            count_attempt(TokenizedLayout(Path(output_dir)).attempts("tokenize", shard))
            > config.ray.max_task_retries + 1
        ):
            raise RuntimeError(f"tokenizing {shard}: its worker died {config.ray.max_task_retries + 1} times")
        records.append(tokenize_shard(shard, job, Path(output_dir)))
    return pa.Table.from_pylist(records)


def _count_batch(batch, config: Config, output_dir: str, job: Job):
    rows = []
    for group in batch.column("group").to_pylist():
        documents, tokens = count_group(group, job, Path(output_dir))
        rows.append({"group": group, "documents": documents, "tokens": tokens})
    return pa.Table.from_pylist(rows)


def _write_batch(batch, config: Config, output_dir: str, job: Job):
    from crawlsieve.pipelines.ray_runtime import count_attempt

    records = []
    for item in batch.to_pylist():
        name = f"{item['group']}-{item['bucket']}"
        if (
            count_attempt(TokenizedLayout(Path(output_dir)).attempts("write", name))
            > config.ray.max_task_retries + 1
        ):
            raise RuntimeError(
                f"writing bucket {name}: its worker died {config.ray.max_task_retries + 1} times"
            )
        records.append(
            write_bucket(
                job,
                Path(output_dir),
                item["group"],
                item["bucket"],
                item["first"],
                item["first_token"],
                item["documents"],
            )
        )
    return pa.Table.from_pylist(records)


# --- the driver -------------------------------------------------------------------------------


def tokenize_dataset(
    source: Path,
    out: Path,
    tokenizer_path: str,
    *,
    file_format: str = "megatron",
    plan_path: str | None = None,
    eod: str | None = None,
    seed: int = 0,
    resume: bool = False,
    config: Config | None = None,
    bucket_tokens: int = BUCKET_TOKENS,
    log=print,
) -> dict:
    """The whole command; returns the blend (also OUT/blend.json)."""
    from crawlsieve.pipelines.output_lock import OutputLock
    from crawlsieve.pipelines.run import StopOnSignals

    config = config or Config()
    out = out.resolve()
    job, weigh_by = prepare(
        source,
        out,
        tokenizer_path,
        file_format=file_format,
        plan_path=plan_path,
        eod=eod,
        seed=seed,
        resume=resume,
        bucket_tokens=bucket_tokens,
    )
    with OutputLock(TokenizedLayout(out).lock), StopOnSignals() as stop:
        return _tokenize_locked(job, weigh_by, out, config, stop, plan_path, log)


def _tokenize_locked(
    job: Job, weigh_by: dict | None, out: Path, config: Config, stop, plan_path, log
) -> dict:
    from crawlsieve.pipelines.ray_runtime import init_ray, per_shard

    layout = TokenizedLayout(out)
    write_json_atomically(job.record(), layout.record)
    if (out / "tokens").is_dir():  # an interrupted attempt got to publishing: only that is left
        return publish(job, weigh_by, out, plan_path)
    shutil.rmtree(RunLayout(out).attempts_dir, ignore_errors=True)  # counted per run
    init_ray(config)
    stop.install()
    clock = time.monotonic()
    done = {p.stem for p in (layout.state / "shards").glob("*.json")}
    todo = [{"shard": s} for s in job.shards if s not in done]
    log(
        f"crawlsieve tokenize: {len(job.shards)} shard(s) of {job.source}, {len(todo)} to tokenize"
        + (f", {len(done)} done before" if done else "")
        + f"; {len(job.groups)} group(s) in {job.slots} bucket(s), {job.format} {job.dtype}"
    )
    per_shard(_tokenize_batch, todo, config, out, job=job)
    log(f"crawlsieve tokenize: shards tokenized ({time.monotonic() - clock:.0f}s); writing the groups")
    counts = {
        r["group"]: r
        for r in per_shard(_count_batch, [{"group": g} for g in range(len(job.groups))], config, out, job=job)
    }
    items = []
    for group in range(len(job.groups)):
        documents, tokens = np.asarray(counts[group]["documents"]), np.asarray(counts[group]["tokens"])
        if job.format == "megatron" and documents.sum():
            from crawlsieve.pipelines.token_files import allocate_megatron

            prefix = layout.staged / token_path(job, group, 0).removesuffix(".bin")
            allocate_megatron(prefix, job.dtype, int(documents.sum()), int(tokens.sum()))
        firsts, first_tokens = np.cumsum(documents) - documents, np.cumsum(tokens) - tokens
        for bucket in np.flatnonzero(documents).tolist():
            if not layout.bucket_marker(group, bucket).is_file():
                items.append(
                    {
                        "group": group,
                        "bucket": bucket,
                        "first": int(firsts[bucket]),
                        "first_token": int(first_tokens[bucket]),
                        "documents": int(documents.sum()),
                    }
                )
    per_shard(_write_batch, items, config, out, job=job)
    log(f"crawlsieve tokenize: groups written ({time.monotonic() - clock:.0f}s)")
    return publish(job, weigh_by, out, plan_path)


def _group_sums(job: Job, out: Path) -> dict[tuple[str, ...], dict[str, float]]:
    """Per group: documents, tokens (exact, without end-of-document), bytes, quality sums."""
    sums: dict[tuple[str, ...], dict[str, float]] = {}
    for shard in job.shards:
        marker = read_json(TokenizedLayout(out).shard_marker(shard))
        for name, values in marker["groups"].items():
            into = sums.setdefault(group_of_path(name), dict.fromkeys(_SUMS, 0.0))
            for key in _SUMS:
                into[key] += values[key]
    return {
        key: {k: (round(v) if k != "quality_sum" else v) for k, v in s.items()}
        for key, s in sorted(sums.items())
    }


def publish(job: Job, weigh_by: dict | None, out: Path, plan_path: str | None) -> dict:
    """Step 4: tokens/ and index/ into place, then the blend files, mixture.json and the plan's report."""
    from crawlsieve.pipelines.token_files import megatron_data_args
    from crawlsieve.quality.mix import plan_report, write_plan
    from crawlsieve.quality.mixture import write_mixture

    layout = TokenizedLayout(out)
    for name in ("tokens", "index"):
        if (layout.staged / name).is_dir() and not (out / name).exists():
            os.replace(layout.staged / name, out / name)
    sums = _group_sums(job, out)
    source_mixture = RunLayout(Path(job.source)).mixture
    recorded = read_json(source_mixture).get("config", {}) if source_mixture.is_file() else {}
    mixture = write_mixture(out, sums, job.tokenizer, recorded)
    natural = {group_key(g): g for g in mixture["groups"]}
    planned = {group_key(g): g for g in (weigh_by or {}).get("groups", [])}
    plan_source = str(Path(plan_path).resolve()) if plan_path else None
    if weigh_by is not None and plan_source is None:
        plan_source = str(RunLayout(Path(job.source)).plan)
    groups = []
    for key, counted in natural.items():
        prefix = f"tokens/{group_path(*key)}"
        files = (
            [f"{prefix}.bin", f"{prefix}.idx"]
            if job.format == "megatron"
            else sorted(p.relative_to(out).as_posix() for p in (out / prefix).glob("part-*.npy"))
        )
        plan_group = planned.get(key)
        groups.append(
            {
                **dict(zip(GROUP_KEYS, key, strict=True)),
                "path": prefix,
                "files": files,
                "index": f"index/{group_path(*key)}",
                "documents": counted["documents"],
                "tokens": counted["tokens"],
                "tokens_with_eod": counted["tokens"] + counted["documents"],
                "epochs": plan_group["epochs"] if plan_group else 1.0,
                "weight": plan_group["target_weight"] if plan_group else counted["weight"],
                **({"target_tokens": plan_group["target_tokens"]} if plan_group else {}),
            }
        )
    blend = {
        "version": __version__,
        "format": job.format,
        "dtype": job.dtype,
        "tokenizer": job.tokenizer,
        "tokenizer_sha256": job.tokenizer_sha256,
        "vocab_size": job.vocab_size,
        "eod": {"token": job.eod, "id": job.eod_id},
        "seed": job.seed,
        "source": job.source,
        "plan": plan_source,
        "weights_from": "plan" if weigh_by else "mixture.json",
        "groups": groups,
        "totals": {
            "documents": sum(g["documents"] for g in groups),
            "tokens": sum(g["tokens"] for g in groups),
            "tokens_with_eod": sum(g["tokens_with_eod"] for g in groups),
            "groups": len(groups),
        },
    }
    if job.format == "megatron":
        pairs = [(g["weight"], out / g["path"]) for g in groups]
        write_bytes_atomically(megatron_data_args(pairs).encode("utf-8"), layout.megatron_data_args)
    else:
        import yaml

        datasets = {
            "_".join(g[key] for key in GROUP_KEYS): [str(out / f) for f in g["files"]] for g in groups
        }
        data = {"data": {"memmap_dtype": job.dtype, "datasets": datasets}}
        write_bytes_atomically(yaml.safe_dump(data, sort_keys=False).encode("utf-8"), layout.olmo_data)
    if weigh_by is not None:
        report = plan_report(weigh_by, natural, tokenizer=job.tokenizer, output=str(out), format=job.format)
        reported = weigh_by | {"report": report}
        write_bytes_atomically(
            (json.dumps(reported, indent=1, ensure_ascii=False) + "\n").encode("utf-8"), layout.plan
        )
        if plan_path:
            write_plan(reported, Path(plan_path))
    write_json_atomically(blend, layout.blend, sort_keys=False)  # last: the dataset is complete
    shutil.rmtree(layout.work, ignore_errors=True)
    shutil.rmtree(RunLayout(out).attempts_dir, ignore_errors=True)
    return blend


def format_counts(blend: dict) -> str:
    """The exact tokens per group, against the plan's targets when there is one."""
    planned = any("target_tokens" in g for g in blend["groups"])
    header = f"{'domain':<12} {'language':<9} {'genre':<8} {'documents':>11} {'tokens':>14} {'weight':>7}"
    header += f" {'target':>14} {'vs target':>9}" if planned else ""
    lines = [header]
    for g in blend["groups"]:
        line = (
            f"{g['domain']:<12} {g['language']:<9} {g['genre']:<8} {g['documents']:>11,} {g['tokens']:>14,}"
        )
        line += f" {g['weight']:>7.3f}"
        if planned:
            target = g.get("target_tokens", 0)
            change = f"{(g['tokens'] - target) / target:+.1%}" if target else "-"
            line += f" {target:>14,} {change:>9}"
        lines.append(line)
    totals = blend["totals"]
    lines.append(f"{'total':<31} {totals['documents']:>11,} {totals['tokens']:>14,}")
    lines.append(
        f"{totals['tokens_with_eod']:,} tokens with one {blend['eod']['token']} per document "
        f"({blend['format']}, {blend['dtype']})"
    )
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from crawlsieve.pipelines.ray_runtime import shutdown_ray
    from crawlsieve.pipelines.run import Interrupted, check_output_location, resume_hint

    config = Config()
    if args.ray_address:
        config.ray.address = args.ray_address
    if args.num_cpus:
        config.ray.num_cpus = args.num_cpus
    out = check_output_location(args.output)
    try:
        blend = tokenize_dataset(
            Path(args.source),
            out,
            args.tokenizer,
            file_format=args.format,
            plan_path=args.plan,
            eod=args.eod,
            seed=args.seed,
            resume=args.resume,
            config=config,
            log=lambda m: print(m, file=sys.stderr),
        )
    except Interrupted as stop:
        shutdown_ray()
        print(
            f"crawlsieve tokenize: stopped by {stop}; finished shards are kept, continue with: "
            f"{resume_hint(sys.argv[1:])}",
            file=sys.stderr,
        )
        return stop.exit_status
    print(format_counts(blend))
    print(f"  blend:    {out.resolve() / 'blend.json'}")
    return 0
