"""MinHash signatures, LSH bands and the per-file dedup stages (no Ray needed)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from crawlsieve.core.layout import RunLayout
from crawlsieve.core.stages import REMOVED
from crawlsieve.dedup.config import DedupConfig
from crawlsieve.dedup.minhash import MinHasher, normalized_words, shingle_hash32, shingle_hashes
from crawlsieve.dedup.stages import (
    BANDS,
    SIGNATURE,
    TEXT_HASH,
    PayloadDigestDedup,
    minhasher,
    signature_column,
    signature_matrix,
    signature_stages,
    verify_threshold,
)
from crawlsieve.dedup.verify import CheckedMembers, ClusterDecider, ShardReader, SignatureLookup
from crawlsieve.pipelines.config import Config


def _datasketch_signature(words: list[str], hasher: MinHasher) -> np.ndarray:
    sketch = MinHash(num_perm=hasher.num_perm, seed=hasher.seed, hashfunc=shingle_hash32)
    sketch.update_batch([tuple(words[p : p + hasher.ngram]) for p in range(len(words) - hasher.ngram + 1)])
    return sketch.hashvalues


@pytest.fixture(scope="module")
def real_texts(shared_corpus) -> list[str]:
    lines = (shared_corpus / "extraction" / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]


@pytest.mark.parametrize(("num_perm", "seed", "ngram"), [(128, 1, 5), (64, 42, 3)])
def test_vectorized_signatures_equal_datasketch_minhash_with_same_seed_and_permutations(
    real_texts, num_perm, seed, ngram
):
    texts = [*real_texts[:60], "", "one", "Ünïcode, wörds — and PUNCTUATION!!! " * 3, None]
    hasher = MinHasher(num_perm=num_perm, seed=seed, ngram=ngram)
    words = normalized_words(pa.array(texts, pa.string()))
    signatures = hasher.signatures(*shingle_hashes(words, ngram))
    for row, doc_words in enumerate(words.to_pylist()):
        np.testing.assert_array_equal(
            signatures[row], _datasketch_signature(doc_words, hasher), err_msg=str(row)
        )


def _bands_rows(dedup: DedupConfig) -> tuple[int, int]:
    hasher = minhasher(dedup)
    return hasher.bands, hasher.rows


def test_bands_and_rows_come_from_datasketch_optimal_param_for_the_verify_threshold():
    # Candidates are verified at threshold - 0.05, so the bands aim there, weighted against misses.
    assert _bands_rows(DedupConfig()) == _optimal_param(0.75, 128, 0.2, 0.8) == (16, 8)
    assert _bands_rows(DedupConfig(threshold=0.6)) == _optimal_param(0.55, 128, 0.2, 0.8)
    assert _bands_rows(DedupConfig(verify_threshold=0.7)) == _optimal_param(0.7, 128, 0.2, 0.8)
    assert _bands_rows(DedupConfig(verify_threshold=0)) == _optimal_param(0.8, 128, 0.2, 0.8)
    before = DedupConfig(lsh_threshold=0.8, false_positive_weight=0.5, false_negative_weight=0.5)
    assert _bands_rows(before) == _optimal_param(0.8, 128, 0.5, 0.5) == (9, 13)


def test_words_are_lowercased_without_punctuation_so_formatting_changes_hash_the_same():
    words = normalized_words(pa.array(["Hello, World!  It's  here.", "hello world it s here", "   "]))
    assert words.to_pylist() == [["hello", "world", "it", "s", "here"]] * 2 + [[]]


def test_empty_and_short_documents_get_no_bands_and_empty_ones_no_text_hash():
    stage = signature_stages(Config().dedup)[0]
    out = stage(pa.table({"text": ["", "word", "four words only here", "five words are enough here", None]}))
    assert out[TEXT_HASH].to_pylist()[0] is None and out[TEXT_HASH].to_pylist()[4] is None
    assert all(h is not None for h in out[TEXT_HASH].to_pylist()[1:4])
    assert [len(b) for b in out[BANDS].to_pylist()] == [0, 0, 0, minhasher(Config().dedup).bands, 0]


def test_near_duplicate_texts_share_a_band_and_unrelated_texts_share_none(real_texts):
    long = next(t for t in real_texts if len(t.split()) > 400)
    words = long.split()
    edited = " ".join([*words[:200], "CHANGED", *words[201:]])
    other = next(t for t in real_texts if len(t.split()) > 400 and t != long)
    bands = signature_stages(Config().dedup)[0](pa.table({"text": [long, edited, other]}))[BANDS].to_pylist()
    assert set(bands[0]) & set(bands[1])
    assert not set(bands[0]) & set(bands[2])


def _edited(text: str, every: int) -> str:
    """``text`` with every ``every``-th character that is not a space replaced by another Han one."""
    chars = list(text)
    for position in range(every - 1, len(chars), every):
        if not chars[position].isspace():
            chars[position] = "某" if chars[position] != "某" else "甲"
    return "".join(chars)


def _character_jaccard(a: str, b: str, n: int = 5) -> float:
    """Jaccard of the character n-grams (whitespace left out): how the benchmark measures edits."""
    grams = [
        {"".join(c[i : i + n]) for i in range(len(c) - n + 1)}
        for c in ([x for x in t if not x.isspace()] for t in (a, b))
    ]
    return len(grams[0] & grams[1]) / len(grams[0] | grams[1])


def test_light_edits_of_real_chinese_articles_stay_near_duplicates_by_character_shingles(chinese_pages):
    """In Chinese a whole clause is one whitespace "word": one changed character changes every
    word 5-gram around it. Shingled by characters (the language's shingle units), copies with 1 in
    100 characters changed keep their Jaccard and share a band; copies with 1 in 12 changed
    (J < 0.5) do not."""
    articles = [
        page["text"] for page in chinese_pages if page["genre"] == "article" and len(page["text"]) > 300
    ]
    light, heavy = [_edited(t, 100) for t in articles], [_edited(t, 12) for t in articles]
    texts = [*articles, *light, *heavy]
    stage, n = signature_stages(Config().dedup)[0], len(articles)

    def estimates(language: str) -> tuple[np.ndarray, np.ndarray, list[bool]]:
        out = stage(pa.table({"text": texts, "language": [language] * len(texts)}))
        signatures, _ = signature_matrix(out[SIGNATURE], minhasher(Config().dedup).num_perm)
        bands = out[BANDS].to_pylist()
        shared = [bool(set(bands[i]) & set(bands[n + i])) for i in range(n)]
        return (
            (signatures[:n] == signatures[n : 2 * n]).mean(1),
            (signatures[:n] == signatures[2 * n :]).mean(1),
            shared,
        )

    assert len(articles) >= 15
    assert min(_character_jaccard(a, b) for a, b in zip(articles, light, strict=True)) >= 0.85
    assert max(_character_jaccard(a, b) for a, b in zip(articles, heavy, strict=True)) < 0.5
    near, far, shared = estimates("zh")
    assert near.min() >= verify_threshold(Config().dedup) and all(shared)
    assert far.max() < 0.5
    by_words, _, _ = estimates("en")  # what whitespace shingles made of these copies
    assert by_words.max() < verify_threshold(Config().dedup)


def test_the_shingles_of_a_spaced_language_row_do_not_change_in_a_batch_with_chinese_rows(
    real_texts, chinese_pages
):
    english = real_texts[:5]
    stage = signature_stages(Config().dedup)[0]
    alone = stage(pa.table({"text": english, "language": ["en"] * 5}))
    mixed = stage(pa.table({"text": [chinese_pages[0]["text"], *english], "language": ["zh", *["en"] * 5]}))
    assert mixed[SIGNATURE].to_pylist()[1:] == alone[SIGNATURE].to_pylist()
    assert mixed[TEXT_HASH].to_pylist()[1:] == alone[TEXT_HASH].to_pylist()
    without_language = stage(pa.table({"text": english}))
    assert without_language[SIGNATURE].to_pylist() == alone[SIGNATURE].to_pylist()


def _records(path: str, rows: list[tuple[int, str | None]]) -> pa.Table:
    return pa.table(
        {
            "warc_path": [path] * len(rows),
            "record_offset": pa.array([offset for offset, _ in rows], pa.int64()),
            "payload_digest": [digest for _, digest in rows],
        }
    )


def test_payload_digest_repeats_within_a_file_are_removed_across_batches_but_not_across_files():
    stage = PayloadDigestDedup()
    first = stage(_records("a.warc.gz", [(0, "sha1:A"), (10, "sha1:B"), (20, "sha1:A"), (30, None)]))
    second = stage(_records("a.warc.gz", [(40, "sha1:B"), (50, None), (60, "sha1:C")]))
    other_file = stage(_records("b.warc.gz", [(0, "sha1:A"), (5, "sha1:A")]))
    assert first[REMOVED].to_pylist() == [None, None, "dedup:payload", None]
    assert second[REMOVED].to_pylist() == ["dedup:payload", None, None]
    assert other_file[REMOVED].to_pylist() == [None, "dedup:payload"]


def test_payload_dedup_of_a_retried_file_in_the_same_process_keeps_the_first_copies():
    stage = PayloadDigestDedup()
    rows = [(0, "sha1:A"), (10, "sha1:A")]
    stage(_records("a.warc.gz", rows))
    retried = stage(_records("a.warc.gz", rows))
    assert retried[REMOVED].to_pylist() == [None, "dedup:payload"]


def _key(doc_id: str, shard: str = "s") -> str:
    """A priority key of equal quality and fetch time (32 hex digits), then the id and shard."""
    return "0" * 32 + doc_id + "\x00" + shard


def _component(layout: RunLayout, signatures: dict[str, np.ndarray], hashes: dict[str, int], root: str):
    """One component's members (all but ``root``), checked against the root as the shuffle path
    does it: the signatures read back from a real docs shard ``s``."""
    ids = sorted(signatures)
    docs = pa.table(
        {
            "id": ids,
            TEXT_HASH: pa.array([hashes[i] for i in ids], pa.uint64()),
            SIGNATURE: signature_column(np.stack([signatures[i] for i in ids]), np.ones(len(ids), bool)),
        }
    )
    layout.docs("s").parent.mkdir(parents=True)
    pq.write_table(docs, layout.docs("s"))
    return pa.table({"u": [_key(root)] * (len(ids) - 1), "v": [_key(i) for i in ids if i != root]})


def _checked(layout: RunLayout, pending: pa.Table, threshold: float) -> pa.Table:
    reader = ShardReader(layout, stored=True, hasher=MinHasher(), near=True)
    return CheckedMembers(reader, 128, threshold)(SignatureLookup(reader, "v")(pending))


def test_chained_member_not_similar_to_the_survivor_is_split_off_with_its_exact_copy(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2**32, 128, dtype=np.uint32)
    b = a.copy()
    b[:20] += 1  # estimated J(a, b) = 108/128 = 0.84
    c = b.copy()
    c[20:40] += 1  # J(b, c) = 0.84, but J(a, c) = 88/128 = 0.69: only chained to a
    layout = RunLayout(tmp_path)
    pending = _component(layout, {"a": a, "b": b, "c": c, "d": c}, {"a": 1, "b": 2, "c": 3, "d": 3}, "a")
    checked = _checked(layout, pending, 0.8)
    assert dict(zip(checked["v"].to_pylist(), checked["verified"].to_pylist(), strict=True)) == {
        _key("b"): True,
        _key("c"): False,
        _key("d"): False,
    }
    decided = {r["id"]: r for r in ClusterDecider(num_perm=128, threshold=0.8)(checked).to_pylist()}
    assert (decided["a"]["_removed"], decided["a"]["dup_cluster_size"]) == (None, 2)
    assert (decided["b"]["_removed"], decided["b"]["cluster_id"]) == ("dedup:near", "a")
    assert (decided["c"]["_removed"], decided["c"]["dup_cluster_size"], decided["c"]["kept"]) == (
        None,
        2,
        True,
    )
    assert (decided["d"]["_removed"], decided["d"]["cluster_id"]) == ("dedup:exact", "c")
    unverified = ClusterDecider(128, 0.0)(_checked(layout, pending, 0.0))
    assert dict(zip(unverified["id"].to_pylist(), unverified["_removed"].to_pylist(), strict=True)) == {
        "a": None,
        "b": "dedup:near",
        "c": "dedup:near",
        "d": "dedup:near",
    }


def test_signature_column_round_trips_through_bytes_with_nulls():
    matrix = np.arange(12, dtype=np.uint32).reshape(3, 4) * np.uint32(2**28 + 7)
    column = signature_column(matrix, np.array([True, False, True]))
    back, valid = signature_matrix(column.slice(1), num_perm=4)
    assert valid.tolist() == [False, True]
    np.testing.assert_array_equal(back[1], matrix[2])
