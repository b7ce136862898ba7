"""Pair verification against signatures read back from real docs shards (no Ray needed)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from crawlsieve.core.layout import RunLayout
from crawlsieve.dedup.minhash import MinHasher
from crawlsieve.dedup.stages import SIGNATURE, TEXT_HASH, signature_column
from crawlsieve.dedup.verify import (
    MAX_SPLIT_SURVIVORS,
    MEMBER_SCHEMA,
    ClusterDecider,
    ShardReader,
    SignatureLookup,
    judge_pairs,
    mark_direct,
)


def _key(doc_id: str, shard: str) -> str:
    """A priority key of equal quality and fetch time (32 hex digits), then the id and shard."""
    return "0" * 32 + doc_id + "\x00" + shard


def _id(key: str) -> str:
    return key if key.startswith("!") else key[32:].partition("\x00")[0]


def _shard(folder, name: str, signatures: dict[str, np.ndarray], hashes: dict[str, int]) -> None:
    ids = sorted(signatures)
    path = RunLayout(folder).docs(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "id": ids,
                TEXT_HASH: pa.array([hashes[i] for i in ids], pa.uint64()),
                SIGNATURE: signature_column(np.stack([signatures[i] for i in ids]), np.ones(len(ids), bool)),
            }
        ),
        path,
    )


def _reader(folder) -> ShardReader:
    return ShardReader(RunLayout(folder), stored=True, hasher=MinHasher(), near=True)


def _signatures(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 2**32, 128, dtype=np.uint32) for _ in range(n)]


def test_signature_lookup_reads_each_key_from_its_own_shard_and_leaves_indexed_keys_null(tmp_path):
    x, y = _signatures(2)
    _shard(tmp_path, "s1", {"same-id": x}, {"same-id": 1})
    _shard(tmp_path, "s2", {"same-id": y}, {"same-id": 2})
    pairs = pa.table(
        {"u": ["!indexed", _key("same-id", "s1")], "v": [_key("same-id", "s2"), _key("same-id", "s2")]}
    )
    looked_up = SignatureLookup(_reader(tmp_path), "u")(SignatureLookup(_reader(tmp_path), "v")(pairs))
    rows = {r["u"]: r for r in looked_up.to_pylist()}
    assert rows["!indexed"]["u_signature"] is None and rows["!indexed"]["u_hash"] is None
    assert rows[_key("same-id", "s1")]["u_signature"] == x.astype("<u4").tobytes()
    assert [r["v_hash"] for r in looked_up.to_pylist()] == [2, 2]


def test_equal_texts_and_indexed_roots_verify_and_dissimilar_signatures_do_not(tmp_path):
    a, b = _signatures(2)
    close = a.copy()
    close[:16] += 1  # estimated J = 112/128 = 0.875
    signatures = {"a": a, "b": b, "close": close, "copy": b}
    _shard(tmp_path, "s", signatures, {"a": 1, "b": 2, "close": 3, "copy": 2})
    pairs = pa.table(
        {
            "u": [_key("a", "s"), _key("a", "s"), "!old", _key("b", "s")],
            "v": [_key("close", "s"), _key("b", "s"), _key("b", "s"), _key("copy", "s")],
        }
    )
    reader = _reader(tmp_path)
    judged = judge_pairs(SignatureLookup(reader, "u")(SignatureLookup(reader, "v")(pairs)), 128, 0.8)
    outcome = {(_id(r["u"]), _id(r["v"])): (r["verified"], r["same_text"]) for r in judged.to_pylist()}
    assert outcome == {
        ("a", "close"): (True, False),
        ("a", "b"): (False, False),
        ("!old", "b"): (True, False),
        ("b", "copy"): (True, True),
    }


def test_a_member_linked_to_its_root_by_a_verified_edge_needs_no_signature_check():
    root, direct, chained = _key("a", "s"), _key("b", "s"), _key("c", "s")
    rows = pa.table(
        {
            "u": [root, root, root, direct, "!old"],
            "v": [direct, chained, direct, chained, _key("d", "s")],
            "same_text": [None, None, True, False, None],
            "member": [True, True, False, False, True],
        },
        schema=pa.schema(
            [("u", pa.string()), ("v", pa.string()), ("same_text", pa.bool_()), ("member", pa.bool_())]
        ),
    )
    members = {_id(r["v"]): (r["verified"], r["same_text"]) for r in mark_direct(rows).to_pylist()}
    assert members == {"b": (True, True), "c": (False, False), "d": (True, False)}


def test_split_of_a_component_stops_at_max_survivors_and_keeps_the_members_left():
    """Members that all failed the root: each of the first MAX_SPLIT_SURVIVORS differs from the
    others, so each becomes a survivor; the last two are copies of each other, but past the
    bound both are kept rather than compared with ever more survivors."""
    signatures = _signatures(MAX_SPLIT_SURVIVORS + 1, seed=1)
    signatures.append(signatures[-1])
    ids = [f"m{i:03d}" for i in range(len(signatures))]
    members = pa.table(
        {
            "u": [_key("a", "s")] * len(ids),
            "v": [_key(i, "s") for i in ids],
            "verified": [False] * len(ids),
            "same_text": [False] * len(ids),
            "v_signature": signature_column(np.stack(signatures), np.ones(len(ids), bool)),
            "v_hash": pa.array(range(len(ids)), pa.uint64()),
        },
        schema=MEMBER_SCHEMA,
    )
    decided = {r["id"]: r for r in ClusterDecider(128, 0.8)(members).to_pylist()}
    assert all(decided[i]["_removed"] is None and decided[i]["dup_cluster_size"] == 1 for i in ids)
    assert decided["a"]["dup_cluster_size"] == 1

    fewer = members.slice(len(ids) - 3)  # the same copies, well within the bound: one is removed
    decided = {r["id"]: r["_removed"] for r in ClusterDecider(128, 0.8)(fewer).to_pylist()}
    assert decided[ids[-1]] == "dedup:near" and decided[ids[-2]] is None
