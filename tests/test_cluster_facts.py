"""The per-cluster facts merge like summaries, flag low-quality-looking clusters, and show genre and
spam signals when the documents carry them; the cluster-label stage removes exactly the dropped
clusters' documents. No Ray: the functions the tasks and the driver call."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from crawlsieve.core.stages import REMOVED
from crawlsieve.filters.cluster_labels import ClusterLabelStage
from crawlsieve.pipelines.cluster import text_units
from crawlsieve.quality.buckets import bucket_edges, quality_buckets
from crawlsieve.quality.clusters import (
    cluster_rows,
    document_terms,
    fit_model,
    hashed_counts,
    merge_facts,
    shard_facts,
)
from crawlsieve.quality.config import ClusterConfig

CASINO = "Casino jackpot bonus: spin the slots, win the poker jackpot and claim free spins today."
FORUM = "Re: how do I fix my bike chain? I tried oiling it, but it still slips when I climb hills."
CHINESE = "我们今天在论坛讨论自行车链条的问题，很多人说要换新的链条。"


def documents() -> pa.Table:
    rows = []
    for n in range(12):
        rows.append(
            {
                "id": f"c{n}",
                "url": f"https://casino{n}.example/",
                "text": f"{CASINO} {n}",
                "language": "en",
                "domain": "gambling",
                "genre": "listing",
                "token_count": 20,
                "quality_score": 0.1,
                "sig_spam_gambling": 0.9,
            }
        )
        rows.append(
            {
                "id": f"f{n}",
                "url": f"https://bikes.example/t/{n}",
                "text": f"{FORUM} {n}",
                "language": "en",
                "domain": "forum",
                "genre": "forum",
                "token_count": 80,
                "quality_score": 0.9,
                "sig_spam_gambling": 0.0,
            }
        )
        rows.append(
            {
                "id": f"z{n}",
                "url": f"https://bbs.example.cn/{n}",
                "text": f"{CHINESE}{n}",
                "language": "zh",
                "domain": "forum",
                "genre": "forum",
                "token_count": 90,
                "quality_score": 0.8,
                "sig_spam_gambling": 0.0,
            }
        )
    return pa.Table.from_pylist(rows)


def clustered(config: ClusterConfig):
    table = documents()
    docs = document_terms(
        table.column("text").to_pylist(), table.column("language").to_pylist(), text_units, 5000
    )
    counts = hashed_counts(docs, config.features)
    model = fit_model(counts, 3, config)
    return table, docs, counts, model, model.assign(counts)


def test_three_kinds_make_three_clusters_and_chinese_is_split_into_words():
    config = ClusterConfig(k=3)
    table, docs, _, _, clusters = clustered(config)
    kinds = [i[0] for i in table.column("id").to_pylist()]
    assert len(set(clusters.tolist())) == 3
    assert all(
        len({k for k, c in zip(kinds, clusters, strict=True) if c == cluster}) == 1 for cluster in range(3)
    )
    assert "自行车" in docs[2] and "链条" in docs[2]  # jieba words, not characters


def test_text_units_leave_clitics_punctuation_and_single_letters_out_but_keep_unspaced_characters():
    assert text_units("I'll say we've done it, don't you? It's “Kim’s” John's 3.5% a-ha", "en") == [
        "say", "we", "done", "it", "do", "you", "It", "Kim", "John", "ha",
    ]  # fmt: skip
    assert text_units("l'homme d'affaires aujourd'hui", "fr") == ["homme", "affaires", "aujourd", "hui"]
    assert text_units("今日は、いい天気。", "ja") == ["今", "日", "は", "い", "い", "天", "気"]
    assert text_units("我们讨论自行车链条。", "zh") == ["我们", "讨论", "自行车", "链条"]


def test_facts_of_two_shards_merge_to_the_facts_of_both():
    config = ClusterConfig(k=3)
    table, docs, counts, model, clusters = clustered(config)
    whole = merge_facts([shard_facts(table, clusters, docs, counts, model, config)], config.samples)
    half = table.num_rows // 2
    parts = [
        shard_facts(table.slice(0, half), clusters[:half], docs[:half], counts[:half], model, config),
        shard_facts(table.slice(half), clusters[half:], docs[half:], counts[half:], model, config),
    ]
    merged = merge_facts(parts, config.samples)
    for cluster, fact in whole["clusters"].items():
        other = merged["clusters"][cluster]
        for key in (
            "documents",
            "tokens",
            "bytes",
            "quality_count",
            "languages",
            "domains",
            "genres",
            "cells",
        ):
            assert other[key] == fact[key]
        assert other["samples"] == fact["samples"]  # the same bottom-k by id hash
        assert np.isclose(other["quality_sum"], fact["quality_sum"])


def test_rows_show_genre_and_spam_signals_and_flag_the_casino_cluster():
    config = ClusterConfig(k=3)
    table, docs, counts, model, clusters = clustered(config)
    rows = cluster_rows(
        merge_facts([shard_facts(table, clusters, docs, counts, model, config)], 5), model, config
    )
    assert [r["documents"] for r in rows] == [12, 12, 12]
    casino = next(r for r in rows if r["domains"][0][0] == "gambling")
    assert casino["spam_share"] == 1.0 and casino["spam_signals"]["sig_spam_gambling"] == pytest.approx(0.9)
    assert casino["genres"] == [["listing", 12, 1.0]]
    assert casino["proposed"] == "drop" and len(casino["flags"]) == 4  # quality, spam, short, listings
    assert {"casino", "jackpot"} & set(casino["terms"])
    forums = [r for r in rows if r is not casino]
    assert all(r["flags"] == [] and r["proposed"] == "keep" for r in forums)
    assert sorted(r["languages"][0][0] for r in forums) == ["en", "zh"]
    assert all(len(r["samples"]) == 5 for r in rows)


def test_without_a_genre_column_no_genres_are_shown_and_listings_are_not_flagged():
    config = ClusterConfig(k=3)
    table, docs, counts, model, clusters = clustered(config)
    table = table.drop_columns(["genre"])
    rows = cluster_rows(
        merge_facts([shard_facts(table, clusters, docs, counts, model, config)], 5), model, config
    )
    assert all(r["genres"] is None for r in rows)
    casino = next(r for r in rows if r["domains"][0][0] == "gambling")
    assert len(casino["flags"]) == 3 and not any(f.startswith("listings") for f in casino["flags"])


def test_a_hashed_column_is_named_by_its_most_frequent_word_not_by_a_rare_one_sharing_it():
    config = ClusterConfig(k=3, features=1 << 10)

    def column(word: str) -> int:
        return int(hashed_counts([[word]], config.features).indices[0])

    rare = next(w for w in (f"aa{n}" for n in range(100_000)) if column(w) == column("jackpot"))
    table = documents()
    texts = table.column("text").to_pylist()
    texts[1] = f"{texts[1]} {rare}"  # one forum post; "jackpot" is in all twelve casino pages
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts))
    docs = document_terms(texts, table.column("language").to_pylist(), text_units, 5000)
    counts = hashed_counts(docs, config.features)
    model = fit_model(counts, 3, config)
    clusters = model.assign(counts)
    rows = cluster_rows(
        merge_facts([shard_facts(table, clusters, docs, counts, model, config)], 5), model, config
    )
    casino = next(r for r in rows if r["domains"][0][0] == "gambling")
    assert "jackpot" in casino["terms"]
    assert not any(rare in r["terms"] for r in rows)


def test_the_column_of_a_stop_word_is_left_out_not_named_by_a_rare_word_sharing_it():
    config = ClusterConfig(k=3, features=1 << 10)
    stop = frozenset({"when", "the", "it", "but", "do", "my"})

    def column(word: str) -> int:
        return int(hashed_counts([[word]], config.features).indices[0])

    rare = next(w for w in (f"aa{n}" for n in range(100_000)) if column(w) == column("when"))
    table = documents()
    texts = table.column("text").to_pylist()
    texts[1] = f"{texts[1]} {rare}"  # one forum post; "when" is in all twelve
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts))
    docs = document_terms(texts, table.column("language").to_pylist(), text_units, 5000)
    counts = hashed_counts(docs, config.features)
    model = fit_model(counts, 3, config)
    facts = shard_facts(table, model.assign(counts), docs, counts, model, config, lambda language: stop)
    terms = {word for fact in facts["clusters"].values() for word in fact["terms"]}
    assert "bike" in terms and not terms & {rare, *stop}


def test_the_label_stage_removes_only_dropped_clusters_as_cluster_id():
    batch = pa.table({"id": ["a", "b", "c", "d"], "cluster": pa.array([3, 1, None, 3], pa.int32())})
    decided = ClusterLabelStage(frozenset({3}))(batch)
    assert decided.column(REMOVED).to_pylist() == ["cluster:3", None, None, "cluster:3"]


def test_buckets_split_tokens_into_twenty_shares_and_take_the_highest_classifier():
    scores = np.linspace(0, 0.9999, 100)
    table = pa.table({"a": scores, "b": scores[::-1].copy(), "token_count": [10] * 100})
    histogram = np.bincount((scores * 1000).astype(int), weights=[10] * 100, minlength=1000).astype(np.int64)
    edges = bucket_edges(histogram)
    only_a = quality_buckets(table, {"a": edges}).to_pylist()
    assert only_a == [n // 5 for n in range(100)]  # five documents of equal tokens per bucket
    both = quality_buckets(table, {"a": edges, "b": edges}).to_pylist()
    assert both == [max(n // 5, (99 - n) // 5) for n in range(100)]
    assert quality_buckets(pa.table({"c": [0.5]}), {"a": edges}).to_pylist() == [None]


def test_default_k_grows_with_the_run_between_two_and_max_auto_k():
    config = ClusterConfig()
    assert [config.k_for(n) for n in (0, 72, 800, 20_000, 10**9)] == [2, 6, 20, 100, 200]
    assert ClusterConfig(k=7).k_for(10**9) == 7
