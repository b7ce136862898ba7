"""`crawlsieve tokenize` on a real small run: Megatron and npy files read back by readers written
here from the published formats with numpy alone, exact counts, determinism, plans, rehydration."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import random
import shutil
import struct
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml

from crawlsieve.pipelines.cli import main as cli
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.pipelines.tokenize import TokenizedLayout, tokenize_dataset, tokenize_shard
from crawlsieve.quality.mix import rehydration_factors
from crawlsieve.quality.mixture import group_key
from crawlsieve.samples.warcs import Record, article_text, html_page, sentence, write_warc

#: A real run, then several tokenize runs on a 2-CPU Ray: a few minutes on a loaded machine.
pytestmark = pytest.mark.slow

EOD = "<|endoftext|>"
#: Planted clusters of identical pages: size -> how many clusters.
PLANTED = {2: 2, 3: 1, 4: 1, 6: 1}
#: Copies by dup_cluster_size bucket: 1 -> 1, 2-3 -> 3, 4-5 -> 2, 6+ -> 0 (dropped).
RULE = {1: 1, 2: 3, 4: 2, 6: 0}
#: Small buckets, so groups span several and the bucket seams are exercised.
BUCKET_TOKENS = 2_000


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer_json(shared_corpus, tmp_path_factory) -> str:
    """A byte-level BPE tokenizer.json trained here on corpus text (nothing downloaded); every byte
    is in its alphabet, so any text round-trips through encode and decode."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    lines = (shared_corpus / "extraction" / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=3000, special_tokens=[EOD], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(texts, trainer)
    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    tokenizer.save(str(path))
    return str(path)


def _page(rng: random.Random, language: str, extra_head: str = "", paragraphs=None) -> tuple[str, list[str]]:
    paragraphs = paragraphs or article_text(rng, language, rng.randint(3, 5))
    html = html_page(sentence(rng, language)[:50], paragraphs, lang=language)
    return html.replace("<head>", f"<head>{extra_head}"), paragraphs


@pytest.fixture(scope="module")
def warcs(tmp_path_factory) -> tuple[list[Path], dict[int, list[str]]]:
    """Three WARC files: unique pages in en, de and zh from six sites, clusters of identical pages
    (PLANTED, spread over the files, each copy with its own payload), and one page whose text
    holds the end-of-document token literally. Returns the files and each size's cluster URLs."""
    rng = random.Random(7)
    directory = tmp_path_factory.mktemp("warcs")
    hosts = [
        "news.example.com",
        "blog.example.org",
        "forum.example.net",
        "docs.example.io",
        "a.example",
        "b.example",
    ]
    files: list[list[Record]] = [[], [], []]
    for i in range(45):
        language = ("en", "en", "de", "zh")[i % 4]
        html, _ = _page(rng, language)
        files[i % 3].append(Record(f"https://{hosts[i % 6]}/{language}/{i}", html.encode("utf-8")))
    clusters: dict[int, list[str]] = {}
    for size, count in PLANTED.items():
        for c in range(count):
            paragraphs = article_text(rng, "en", 4)
            for k in range(size):
                url = f"https://{hosts[(c + k) % 6]}/copied/{size}-{c}-{k}"
                html, _ = _page(rng, "en", f'<meta name="copy" content="{k}">', paragraphs)
                files[(c + k) % 3].append(Record(url, html.encode("utf-8")))
                clusters.setdefault(size, []).append(url)
    literal = [*article_text(rng, "en", 3), "A page may write &lt;|endoftext|&gt; in the middle of its text."]
    html, _ = _page(rng, "en", paragraphs=literal)
    files[0].append(Record("https://news.example.com/literal-eod", html.encode("utf-8")))
    paths = []
    for n, records in enumerate(files):
        path = directory / f"planted-{n}.warc.gz"
        write_warc(path, records, datetime(2024, 5, 1, tzinfo=UTC))
        paths.append(path)
    return paths, clusters


@pytest.fixture(scope="module")
def run_dir(ray_local, warcs, tokenizer_json, tmp_path_factory) -> Path:
    """A real run over the planted WARCs, token_count counted with the tokenizer (exact)."""
    config = Config()
    config.domain.tokenizer_path = tokenizer_json
    for name in ("repetition", "compression", "gopher_quality", "gopher_repetition", "c4", "fineweb_quality"):
        getattr(config.filters, name).mode = "tag"  # these tests are about tokens, not page quality
    out = tmp_path_factory.mktemp("run") / "out"
    stats = run_pipeline([str(p) for p in warcs[0]], out, config, report=False, log=lambda m: None)
    assert stats["records_read"] == stats["documents_kept"] + sum(stats["removed"].values()) + sum(
        stats["failed"].values()
    )
    return out


def _config(cpus_per_task: float = 1.0) -> Config:
    config = Config()
    config.ray.cpus_per_shard_task = cpus_per_task
    return config


@pytest.fixture(scope="module")
def megatron_out(run_dir, tokenizer_json, tmp_path_factory) -> Path:
    """The run tokenized to Megatron files by one worker at a time (2 CPUs per task on 2 CPUs)."""
    out = tmp_path_factory.mktemp("megatron") / "tokens"
    tokenize_dataset(
        run_dir, out, tokenizer_json, config=_config(2.0), bucket_tokens=BUCKET_TOKENS, log=lambda m: None
    )
    return out


# --- readers written from the published formats ---------------------------------------------------


def read_megatron(prefix: Path) -> list[np.ndarray]:
    """The documents of a Megatron-LM MMIDIDX dataset (PREFIX.bin + PREFIX.idx), with numpy alone."""
    idx = Path(f"{prefix}.idx").read_bytes()
    assert idx[:9] == b"MMIDIDX\x00\x00"
    version, code, sequences, documents = struct.unpack_from("<QBQQ", idx, 9)
    assert version == 1 and documents == sequences + 1
    dtype = {8: np.dtype("<u2"), 4: np.dtype("<i4")}[code]
    at = 9 + 8 + 1 + 8 + 8
    lengths = np.frombuffer(idx, "<i4", sequences, at)
    pointers = np.frombuffer(idx, "<i8", sequences, at + 4 * sequences)
    document_indices = np.frombuffer(idx, "<i8", documents, at + 12 * sequences)
    assert len(idx) == at + 12 * sequences + 8 * documents
    assert document_indices.tolist() == list(range(documents))
    data = np.fromfile(f"{prefix}.bin", dtype)
    assert data.nbytes == int(lengths.sum()) * dtype.itemsize
    assert (pointers == np.concatenate([[0], np.cumsum(lengths)[:-1]]) * dtype.itemsize).all()
    return [
        data[p // dtype.itemsize : p // dtype.itemsize + n] for p, n in zip(pointers, lengths, strict=True)
    ]


def read_npy_part(path: Path, dtype: str) -> list[tuple[np.ndarray, list[str]]]:
    """(tokens, metadata row) of each document of an OLMo/Dolma part: a headerless memmap and its
    start,end,id,src,loc csv.gz."""
    tokens = np.memmap(path, dtype=dtype, mode="r")
    rows = list(csv.reader(io.StringIO(gzip.decompress(path.with_suffix(".csv.gz").read_bytes()).decode())))
    assert int(rows[-1][1]) == len(tokens)
    return [(np.asarray(tokens[int(r[0]) : int(r[1])]), r) for r in rows]


def source_texts(run: Path) -> dict[tuple[str, int], dict]:
    """Each source row by (file relative to data/, row)."""
    rows = {}
    for path in sorted((run / "data").rglob("*.parquet")):
        relative = path.relative_to(run / "data").as_posix()
        table = pq.read_table(path, columns=["id", "text", "site", "dup_cluster_size"])
        for n, row in enumerate(table.to_pylist()):
            rows[(relative, n)] = row
    return rows


def index_rows(out: Path) -> list[dict]:
    return ds.dataset(out / "index", format="parquet").to_table().to_pylist()


def decoder(tokenizer_json: str):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(tokenizer_json)


def _base_id(doc_id: str) -> str:
    return doc_id.split("#epoch")[0]


# --- tests ----------------------------------------------------------------------------------------


def test_megatron_files_decode_to_the_parquet_text_and_count_what_the_blend_says(
    megatron_out, run_dir, tokenizer_json
):
    blend = json.loads((megatron_out / "blend.json").read_text())
    tokenizer, sources = decoder(tokenizer_json), source_texts(run_dir)
    eod = tokenizer.token_to_id(EOD)
    assert blend["dtype"] == "uint16" and blend["eod"] == {"token": EOD, "id": eod}
    by_position = {(r["path"], r["document"]): r for r in index_rows(megatron_out)}
    seen = Counter()
    assert len(blend["groups"]) >= 3
    for group in blend["groups"]:
        documents = read_megatron(megatron_out / group["path"])
        assert len(documents) == group["documents"]
        assert (
            sum(len(d) for d in documents) == group["tokens_with_eod"] == group["tokens"] + group["documents"]
        )
        starts = np.concatenate([[0], np.cumsum([len(d) for d in documents])[:-1]])
        for n, tokens in enumerate(documents):
            row = by_position[(f"{group['path']}.bin", n)]
            source = sources[(row["file"], row["row"])]
            assert row["id"] == source["id"] and (row["start"], row["end"]) == (
                starts[n],
                starts[n] + len(tokens),
            ), "the index gives each document's token range in the .bin"
            assert tokens[-1] == eod and eod not in tokens[:-1]
            assert tokenizer.decode(tokens[:-1].tolist(), skip_special_tokens=False) == source["text"]
            seen[source["id"]] += 1
    assert seen == Counter({row["id"]: 1 for row in sources.values()}), "every kept document once"
    literal = [r for r in sources.values() if EOD in r["text"]]
    assert len(literal) == 1, "a page that writes the token is text, not a document boundary"

    run_mixture = json.loads((run_dir / "mixture.json").read_text())
    exact = {group_key(g): g["tokens"] for g in run_mixture["groups"]}
    assert not run_mixture["tokens_estimated"]
    assert {group_key(g): g["tokens"] for g in blend["groups"]} == exact
    out_mixture = json.loads((megatron_out / "mixture.json").read_text())
    assert {group_key(g): g["tokens"] for g in out_mixture["groups"]} == exact
    assert out_mixture["tokens_estimated"] is False
    weights = [float(w) for w in (megatron_out / "megatron_data_args.txt").read_text().split()[::2]]
    assert weights == [g["weight"] for g in blend["groups"]] and sum(weights) == pytest.approx(1, abs=1e-6)


def test_documents_are_mixed_across_files_and_sites_by_the_seed(
    megatron_out, run_dir, tokenizer_json, tmp_path
):
    rows = sorted(index_rows(megatron_out), key=lambda r: (r["path"], r["document"]))
    largest = Counter(r["path"] for r in rows).most_common(1)[0][0]
    shards = [r["shard"] for r in rows if r["path"] == largest]
    changes = sum(a != b for a, b in itertools.pairwise(shards))
    assert len(set(shards)) == 3 and changes > len(shards) / 3, shards
    sources = source_texts(run_dir)
    sites = [sources[(r["file"], r["row"])]["site"] for r in rows if r["path"] == largest]
    site_changes = sum(a != b for a, b in itertools.pairwise(sites))
    assert len(set(sites)) >= 3 and site_changes > 2 * (len(set(sites)) - 1), (sites, "not in site blocks")
    other = tmp_path / "seed1"
    tokenize_dataset(run_dir, other, tokenizer_json, seed=1, config=_config(), log=lambda m: None)
    reordered = sorted(index_rows(other), key=lambda r: (r["path"], r["document"]))
    assert [r["id"] for r in reordered] != [r["id"] for r in rows]
    assert sorted(r["id"] for r in reordered) == sorted(r["id"] for r in rows)


def assert_same_files(one: Path, two: Path, token_suffix: str) -> None:
    """The published files of two outputs are the same, byte for byte (but the trainer's config,
    which names OUT's absolute path)."""
    published = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file() and "_state" not in p.parts)
    assert any(p.suffix == token_suffix for p in published) and any(p.suffix == ".parquet" for p in published)
    assert published == sorted(
        p.relative_to(two) for p in two.rglob("*") if p.is_file() and "_state" not in p.parts
    )
    for path in published:
        if path.name not in ("megatron_data_args.txt", "olmo_data.yaml"):
            assert (one / path).read_bytes() == (two / path).read_bytes(), path


def test_one_and_two_workers_write_byte_identical_files(megatron_out, run_dir, tokenizer_json, tmp_path):
    two = tmp_path / "two-workers"
    tokenize_dataset(
        run_dir, two, tokenizer_json, config=_config(1.0), bucket_tokens=BUCKET_TOKENS, log=lambda m: None
    )
    assert_same_files(megatron_out, two, ".bin")


def test_npy_parts_decode_to_the_parquet_text_with_dolma_metadata(run_dir, tokenizer_json, tmp_path):
    out = tmp_path / "npy"
    tokenize_dataset(
        run_dir,
        out,
        tokenizer_json,
        file_format="npy",
        config=_config(),
        bucket_tokens=BUCKET_TOKENS,
        log=lambda m: None,
    )
    blend = json.loads((out / "blend.json").read_text())
    olmo = yaml.safe_load((out / "olmo_data.yaml").read_text())["data"]
    assert olmo["memmap_dtype"] == blend["dtype"] == "uint16"
    tokenizer, sources = decoder(tokenizer_json), source_texts(run_dir)
    ids = []
    for group in blend["groups"]:
        assert olmo["datasets"][f"{group['domain']}_{group['language']}_{group['genre']}"] == [
            str(out / f) for f in group["files"]
        ]
        documents = [d for f in group["files"] for d in read_npy_part(out / f, olmo["memmap_dtype"])]
        assert len(documents) == group["documents"]
        assert sum(len(tokens) for tokens, _ in documents) == group["tokens_with_eod"]
        for tokens, (_, _, doc_id, src, loc) in documents:
            source = sources[(src, int(loc))]
            assert doc_id == source["id"] and tokens[-1] == blend["eod"]["id"]
            assert tokenizer.decode(tokens[:-1].tolist(), skip_special_tokens=False) == source["text"]
            ids.append(doc_id)
    assert sorted(ids) == sorted(row["id"] for row in sources.values())
    assert max(len(g["files"]) for g in blend["groups"]) > 1, "groups span several parts (buckets)"

    one = tmp_path / "npy-one-worker"  # 2 CPUs per task on 2 CPUs
    tokenize_dataset(
        run_dir,
        one,
        tokenizer_json,
        file_format="npy",
        config=_config(2.0),
        bucket_tokens=BUCKET_TOKENS,
        log=lambda m: None,
    )
    assert_same_files(out, one, ".npy")


def test_a_vocabulary_past_uint16_gets_int32_megatron_and_uint32_npy_ids(run_dir, shared_corpus, tmp_path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from crawlsieve.pipelines.token_files import token_dtype

    assert [token_dtype("megatron", n) for n in (65_499, 65_500)] == ["uint16", "int32"]  # Megatron's rule
    assert [token_dtype("npy", n) for n in (65_536, 65_537)] == ["uint16", "uint32"]
    # 65,600 reserved tokens first: every token of the text has an id above 65,535.
    lines = (shared_corpus / "extraction" / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    reserved = [EOD, *(f"<reserved_{n}>" for n in range(65_599))]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=len(reserved) + 256 + 1000,
        special_tokens=reserved,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator([json.loads(line)["text"] for line in lines], trainer)
    path = str(tmp_path / "large.json")
    tokenizer.save(path)
    sources = source_texts(run_dir)

    out = tmp_path / "megatron"
    tokenize_dataset(run_dir, out, path, config=_config(), log=lambda m: None)
    blend = json.loads((out / "blend.json").read_text())
    assert blend["dtype"] == "int32" and blend["vocab_size"] > 1 << 16
    rows = {(r["path"], r["document"]): r for r in index_rows(out)}
    for group in blend["groups"]:
        for n, tokens in enumerate(read_megatron(out / group["path"])):
            row = rows[(f"{group['path']}.bin", n)]
            assert tokens[:-1].min() > 65_535 and tokens[-1] == blend["eod"]["id"] == 0
            assert tokenizer.decode(tokens[:-1].tolist()) == sources[(row["file"], row["row"])]["text"]

    out = tmp_path / "npy"
    tokenize_dataset(run_dir, out, path, file_format="npy", config=_config(), log=lambda m: None)
    blend = json.loads((out / "blend.json").read_text())
    olmo = yaml.safe_load((out / "olmo_data.yaml").read_text())["data"]
    assert blend["dtype"] == olmo["memmap_dtype"] == "uint32"
    for group in blend["groups"]:
        for name in group["files"]:
            for tokens, (_, _, _, src, loc) in read_npy_part(out / name, olmo["memmap_dtype"]):
                assert tokens[:-1].min() > 65_535
                assert tokenizer.decode(tokens[:-1].tolist()) == sources[(src, int(loc))]["text"]


def test_a_plan_repeats_documents_and_the_plan_blend_and_mixture_agree(
    run_dir, tokenizer_json, tmp_path, capsys
):
    target = tmp_path / "target.yaml"
    target.write_text("language: {en: 1, de: 2}\n", encoding="utf-8")  # en below 1 epoch, de above
    plan_path = tmp_path / "plan.yaml"
    tokens = sum(g["tokens"] for g in json.loads((run_dir / "mixture.json").read_text())["groups"])
    mix = ["mix", str(run_dir), "--target", str(target), "--tokens", str(tokens), "--max-epochs", "10"]
    assert cli([*mix, "--output", str(plan_path)]) == 0
    plan = yaml.safe_load(plan_path.read_text())
    assert any(g["epochs"] > 1 for g in plan["groups"]) and any(0 < g["epochs"] < 1 for g in plan["groups"])

    out = tmp_path / "planned"
    argv = [
        "tokenize",
        str(run_dir),
        "--tokenizer",
        tokenizer_json,
        "--output",
        str(out),
        "--plan",
        str(plan_path),
    ]
    assert cli(argv) == 0
    blend = json.loads((out / "blend.json").read_text())
    printed = capsys.readouterr().out
    assert "vs target" in printed and f"{blend['totals']['tokens']:,}" in printed
    report = yaml.safe_load(plan_path.read_text())["report"]  # written back into the plan
    got = {group_key(g): g["tokens"] for g in blend["groups"]}
    assert got == {group_key(g): g["tokens"] for g in report["groups"] if g["documents"]}
    mixture = json.loads((out / "mixture.json").read_text())
    assert got == {group_key(g): g["tokens"] for g in mixture["groups"]}
    for group in blend["groups"]:
        planned = next(g for g in plan["groups"] if group_key(g) == group_key(group))
        assert (group["weight"], group["epochs"]) == (planned["target_weight"], planned["epochs"])
    assert blend["totals"]["tokens"] == pytest.approx(plan["totals"]["target_tokens"], rel=0.35)
    assert "zh" not in {g["language"] for g in blend["groups"]}, "groups the plan gives nothing are left out"
    copies = Counter(_base_id(r["id"]) for r in index_rows(out))
    assert max(copies.values()) >= 2 and all(
        r["id"].endswith(f"#epoch{r['copy']}") for r in index_rows(out) if r["copy"]
    )

    # The same plan materialized as Parquet, then tokenized: the very same token files.
    mixed = tmp_path / "mixed"
    assert cli([*mix, "--materialize", str(mixed)]) == 0
    again = tmp_path / "again"
    assert cli(["tokenize", str(mixed), "--tokenizer", tokenizer_json, "--output", str(again)]) == 0
    for group in blend["groups"]:
        for name in group["files"]:
            assert (again / name).read_bytes() == (out / name).read_bytes(), name
    materialized = json.loads((mixed / "mixture.json").read_text())
    assert got == {group_key(g): g["tokens"] for g in materialized["groups"]}
    weighed = json.loads((again / "blend.json").read_text())
    assert weighed["weights_from"] == "plan" and [g["weight"] for g in weighed["groups"]] == [
        g["weight"] for g in blend["groups"]
    ]


def test_rehydration_repeats_documents_by_their_dup_cluster_size(run_dir, warcs, tokenizer_json, tmp_path):
    sources = source_texts(run_dir)
    sizes = {row["id"]: row["dup_cluster_size"] for row in sources.values()}
    planted = Counter(size for size in sizes.values() if size > 1)
    assert planted == Counter(PLANTED), "the run found the planted clusters"
    tokens = {row["id"]: 0 for row in sources.values()}
    for path in (run_dir / "data").rglob("*.parquet"):
        for row in pq.read_table(path, columns=["id", "token_count"]).to_pylist():
            tokens[row["id"]] = row["token_count"]
    factors = dict(zip(sizes, rehydration_factors(pa_array(list(sizes.values())), RULE), strict=True))
    assert {factors[i] for i in factors} == {0, 1, 2, 3}
    rehydrated = round(sum(factors[i] * tokens[i] for i in sizes))

    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"rehydrate": RULE}), encoding="utf-8")
    plan_path, mixed, out = tmp_path / "plan.json", tmp_path / "mixed", tmp_path / "tokens"
    mix = ["mix", str(run_dir), "--target", str(target), "--tokens", str(rehydrated)]
    assert cli([*mix, "--output", str(plan_path), "--materialize", str(mixed)]) == 0
    plan = json.loads(plan_path.read_text())
    assert sum(g["available_tokens"] for g in plan["groups"]) == rehydrated
    assert {g["epochs"] for g in plan["groups"] if g["available_tokens"]} == {1.0}

    materialized = Counter(
        _base_id(row["id"]) for row in ds.dataset(mixed / "data").to_table(columns=["id"]).to_pylist()
    )
    assert materialized == Counter({i: int(f) for i, f in factors.items() if f})

    argv = [
        "tokenize",
        str(run_dir),
        "--tokenizer",
        tokenizer_json,
        "--output",
        str(out),
        "--plan",
        str(plan_path),
    ]
    assert cli([*argv, "--format", "npy"]) == 0
    assert Counter(_base_id(r["id"]) for r in index_rows(out)) == materialized
    blend = json.loads((out / "blend.json").read_text())
    report = json.loads(plan_path.read_text())["report"]
    materialized_mixture = json.loads((mixed / "mixture.json").read_text())
    by_group = {group_key(g): g["tokens"] for g in blend["groups"]}
    assert by_group == {group_key(g): g["tokens"] for g in materialized_mixture["groups"]}
    assert by_group == {group_key(g): g["tokens"] for g in report["groups"] if g["documents"]}
    assert sum(by_group.values()) == rehydrated == report["totals"]["target_tokens"]


def pa_array(values):
    import pyarrow as pa

    return pa.array(values, pa.int64())


def test_resume_tokenizes_only_the_shards_left_and_writes_the_same_files(
    megatron_out, run_dir, tokenizer_json, tmp_path
):
    from crawlsieve.core.io import write_json_atomically
    from crawlsieve.pipelines.tokenize import prepare

    out = tmp_path / "resumed"
    job, _ = prepare(run_dir, out.resolve(), tokenizer_json, bucket_tokens=BUCKET_TOKENS)
    write_json_atomically(
        job.record(), TokenizedLayout(out.resolve()).record
    )  # as a run interrupted in step 1
    first = sorted(job.shards)[0]
    tokenize_shard(first, job, out.resolve())
    marker = TokenizedLayout(out).shard_marker(first)
    before = marker.stat().st_mtime_ns
    lines = []
    assert cli(["tokenize", str(run_dir), "--tokenizer", tokenizer_json, "--output", str(out)]) == 2, (
        "needs --resume"
    )
    tokenize_dataset(
        run_dir,
        out,
        tokenizer_json,
        resume=True,
        config=_config(),
        bucket_tokens=BUCKET_TOKENS,
        log=lines.append,
    )
    assert "2 to tokenize, 1 done before" in lines[0]
    assert marker.stat().st_mtime_ns == before
    for path in megatron_out.glob("tokens/**/*.*"):
        assert path.read_bytes() == (out / path.relative_to(megatron_out)).read_bytes(), path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing tokenizer", "--tokenizer: no such file"),
        ("bad tokenizer", "is not a tokenizer.json"),
        ("no end-of-document token", "has none of the end-of-document tokens"),
        ("unknown --eod", "--eod: '<nope>' is not a token"),
        ("plan group missing", "group domain=recipes language=en genre=(none) is not in SRC's data"),
        ("output holds a dataset", "already holds a tokenized dataset"),
        ("output not empty", "is not empty"),
        ("nothing to resume", "--resume: "),
        ("no data", "has no data/ directory"),
        ("output inside SRC", "holds --output"),
        ("damaged mixture.json", "mixture.json is damaged"),
        ("damaged shard", "cannot read Parquet file"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    case, message, run_dir, megatron_out, tokenizer_json, tmp_path, capsys
):
    from tokenizers import Tokenizer, models

    src, tokenizer, out, extra = str(run_dir), tokenizer_json, str(tmp_path / "out"), []
    if case == "missing tokenizer":
        tokenizer = str(tmp_path / "nope.json")
    elif case == "bad tokenizer":
        tokenizer = str(tmp_path / "bad.json")
        Path(tokenizer).write_text('{"model": "not one"}')
    elif case == "no end-of-document token":
        tokenizer = str(tmp_path / "plain.json")
        Tokenizer(models.BPE()).save(tokenizer)
    elif case == "unknown --eod":
        extra = ["--eod", "<nope>"]
    elif case == "plan group missing":
        plan = tmp_path / "plan.yaml"
        group = {
            "domain": "recipes",
            "language": "en",
            "epochs": 1.0,
            "target_tokens": 10,
            "target_weight": 1.0,
        }
        plan.write_text(yaml.safe_dump({"groups": [group]}))
        extra = ["--plan", str(plan)]
    elif case == "output holds a dataset":
        out = str(megatron_out)
    elif case == "output not empty":
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "notes.txt").write_text("mine")
    elif case == "nothing to resume":
        extra = ["--resume"]
    elif case == "no data":
        src = str(tmp_path)
    elif case == "output inside SRC":
        out = str(run_dir / "tokens")
    elif case.startswith("damaged"):
        src = str(shutil.copytree(run_dir, tmp_path / "copy"))
        damaged = (
            Path(src) / "mixture.json"
            if case == "damaged mixture.json"
            else sorted((Path(src) / "data").rglob("*.parquet"))[0]
        )
        damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
        message = f"{message} {damaged}" if case == "damaged shard" else message
    assert cli(["tokenize", src, "--tokenizer", tokenizer, "--output", out, *extra]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert message in lines[-1] and lines[-1].startswith("crawlsieve tokenize: error: "), lines
    # A damaged shard is found by its task, after the progress line.
    assert len(lines) == (2 if case == "damaged shard" else 1), lines
    assert case == "output holds a dataset" or not (Path(out) / "blend.json").exists()


def test_an_output_in_use_is_refused_with_its_holder(run_dir, tokenizer_json, tmp_path, capsys):
    from crawlsieve.core.io import write_json_atomically
    from crawlsieve.pipelines.output_lock import OutputLock
    from crawlsieve.pipelines.tokenize import prepare

    out = (tmp_path / "busy").resolve()
    job, _ = prepare(run_dir, out, tokenizer_json)
    write_json_atomically(job.record(), TokenizedLayout(out).record)
    with OutputLock(TokenizedLayout(out).lock):
        argv = ["tokenize", str(run_dir), "--tokenizer", tokenizer_json, "--output", str(out), "--resume"]
        assert cli(argv) == 2
    err = capsys.readouterr().err
    assert "is in use by run" in err and err.count("\n") == 1
