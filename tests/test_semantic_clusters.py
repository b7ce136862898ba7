"""`crawlsieve cluster`, cluster labels and their effect, on a real run (real Ray, Parquet, trafilatura).

Three kinds of pages are planted in three WARC files: generated gambling SEO pages, generated
product listings and real articles of the shared corpus. Each kind must land in clusters of its
own; the same run clustered with one and with two workers gives the same clusters; labelling the
gambling cluster(s) `drop` and refiltering removes exactly the gambling pages, with the accounting
closed; `mix` applies a cluster's weight.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from run_outputs import data_table
from warc_bytes import gzip_members, page, warcinfo

from crawlsieve.core.layout import RunLayout
from crawlsieve.filters.config import FastTextClassifierEntry
from crawlsieve.pipelines.cli import main as cli
from crawlsieve.pipelines.cluster import cluster_run
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.refilter import refilter_run
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.samples.warcs import html_page

PER_KIND = 24
FILES = 3
GAMBLING = [
    "casino",
    "bonus",
    "jackpot",
    "slots",
    "poker",
    "roulette",
    "blackjack",
    "betting",
    "odds",
    "wager",
    "spins",
    "deposit",
    "withdrawal",
    "payout",
    "cashback",
    "vip",
    "live",
    "dealer",
    "sportsbook",
    "accumulator",
    "stake",
    "lucky",
    "bankroll",
]
PRODUCTS = [
    "kettle",
    "toaster",
    "blender",
    "lamp",
    "chair",
    "desk",
    "sofa",
    "mattress",
    "pillow",
    "blanket",
    "towel",
    "mug",
    "plate",
    "knife",
    "pan",
    "backpack",
    "jacket",
    "sneakers",
    "headphones",
    "charger",
    "cable",
    "keyboard",
    "monitor",
]
ADJECTIVES = [
    "stainless",
    "compact",
    "wireless",
    "ergonomic",
    "cotton",
    "leather",
    "bamboo",
    "premium",
    "classic",
    "foldable",
]


def quiet(message: str) -> None:
    pass


def gambling_page(rng: random.Random) -> list[str]:
    def line() -> str:
        a, b, c, d = rng.sample(GAMBLING, 4)
        return (
            f"Claim your {a} {b} today and enjoy {rng.randint(10, 500)} free {c} at the best online {d}. "
            f"Our {rng.choice(GAMBLING)} experts rank every {rng.choice(GAMBLING)} by {rng.choice(GAMBLING)} "
            f"and {rng.choice(GAMBLING)}, so you can win big with a {rng.randint(50, 400)}% "
            f"{rng.choice(GAMBLING)}."
        )

    return [" ".join(line() for _ in range(3)) for _ in range(6)]


def listing_page(rng: random.Random) -> list[str]:
    def item() -> str:
        return (
            f"{rng.choice(ADJECTIVES).title()} {rng.choice(ADJECTIVES)} {rng.choice(PRODUCTS)}, "
            f"model {rng.randint(100, 999)}: price ${rng.randint(5, 300)}.{rng.randint(10, 99)}, "
            f"{rng.choice(['in stock', 'ships in 2 days', 'only 3 left'])}, rated {rng.randint(1, 5)} "
            f"of 5 by {rng.randint(2, 900)} customers. Add the {rng.choice(PRODUCTS)} to your cart."
        )

    return [" ".join(item() for _ in range(3)) for _ in range(6)]


def corpus_articles(shared_corpus: Path) -> list[tuple[str, list[str]]]:
    rows = [json.loads(line) for line in (shared_corpus / "extraction" / "ground_truth.jsonl").open()]
    rows = [r for r in rows if len(r["text"]) > 1500][:PER_KIND]
    return [(r["url"], [p for p in r["text"].split("\n") if p.strip()]) for r in rows]


def write_warcs(directory: Path, shared_corpus: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The three WARC files; returns url -> kind, and url -> paragraphs."""
    rng = random.Random(28)
    pages: list[tuple[str, str, list[str]]] = []
    for n in range(PER_KIND):
        pages.append((f"https://bet{n}.casino-wins.example/bonus-{n}", "gambling", gambling_page(rng)))
        pages.append((f"https://shop.example/category/{n}", "listing", listing_page(rng)))
    pages += [(url, "article", paragraphs) for url, paragraphs in corpus_articles(shared_corpus)]
    rng.shuffle(pages)
    kinds = {}
    for f in range(FILES):
        records = [warcinfo()]
        for url, kind, paragraphs in pages[f::FILES]:
            records.append(page(url, html_page(f"{kind} {url}", paragraphs).encode()))
            kinds[url] = kind
        (directory / f"planted-{f}.warc.gz").write_bytes(gzip_members(records))
    return kinds, {url: paragraphs for url, _, paragraphs in pages}


def spread_classifier(path: Path, kinds: dict[str, str], pages: dict[str, list[str]]) -> Path:
    """A fastText classifier trained on the planted pages with a third of the labels flipped, so
    its scores spread over [0, 1] (the default classifier gives all of these pages 1.0)."""
    import fasttext

    rng = random.Random(5)
    lines = []
    for url, kind in sorted(kinds.items()):
        label = "hq" if (kind == "article") != (rng.random() < 0.35) else "lq"
        lines += [f"__label__{label} {' '.join(p.split())}" for p in pages[url]]
    data = path.with_suffix(".txt")
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = fasttext.train_supervised(str(data), epoch=3, lr=0.1, dim=16, thread=1, verbose=0)
    model.save_model(str(path))
    return path


def planted_config(classifier: Path | None = None) -> Config:
    """Every heuristic filter tags (the listings and SEO pages are kept to be clustered); one more
    classifier for the quality buckets."""
    config = Config()
    for name in ("repetition", "compression", "fineweb_quality", "gopher_repetition", "gopher_quality", "c4"):
        getattr(config.filters, name).mode = "tag"
    config.cluster.k = 6
    config.cluster.sample_documents = 50  # fitted on a sample (by id hash) of the 72 pages
    if classifier is not None:
        config.filters.classifiers = [FastTextClassifierEntry(name="spread", model_path=str(classifier))]
    return config


@pytest.fixture(scope="module")
def planted_run(ray_local, shared_corpus, tmp_path_factory):
    warcs = tmp_path_factory.mktemp("planted-warcs")
    kinds, pages = write_warcs(warcs, shared_corpus)
    config = planted_config(spread_classifier(tmp_path_factory.mktemp("model") / "spread.bin", kinds, pages))
    out = tmp_path_factory.mktemp("planted") / "run"
    stats = run_pipeline(sorted(str(p) for p in warcs.glob("*.warc.gz")), out, config, log=quiet)
    assert stats["accounting_closes"]
    return out, kinds, config


def assignments(out: Path) -> dict[str, int]:
    layout = RunLayout(out)
    rows = {}
    for path in layout.cluster_assignment_files():
        table = pq.read_table(path)
        rows.update(zip(table.column("id").to_pylist(), table.column("cluster").to_pylist(), strict=True))
    return rows


@pytest.fixture(scope="module")
def clustered(planted_run):
    """The run clustered with one worker (a task takes both CPUs), then with two."""
    out, kinds, config = planted_run
    one = config.model_copy(deep=True)
    one.ray.cpus_per_shard_task = 2.0
    cluster_run(out, one, documents=len(kinds), log=quiet)
    first = (assignments(out), json.loads(RunLayout(out).cluster_facts.read_text()))
    cluster_run(out, config, documents=len(kinds), log=quiet)
    return out, kinds, first, config


def kind_of_ids(out: Path, kinds: dict[str, str]) -> dict[str, str]:
    table = data_table(out)
    return {
        i: kinds[u]
        for i, u in zip(table.column("id").to_pylist(), table.column("url").to_pylist(), strict=True)
    }


def test_each_planted_kind_lands_in_clusters_of_its_own(clustered):
    out, kinds, _, _ = clustered
    by_id = kind_of_ids(out, kinds)
    clusters = assignments(out)
    assert set(clusters) == set(by_id)  # every kept document has its cluster
    assert Counter(by_id.values()) == {"gambling": PER_KIND, "listing": PER_KIND, "article": PER_KIND}
    members: dict[int, Counter] = {}
    for doc_id, cluster in clusters.items():
        members.setdefault(cluster, Counter())[by_id[doc_id]] += 1
    mixed = {c: dict(m) for c, m in members.items() if len(m) > 1}
    assert not mixed, f"clusters holding more than one kind: {mixed}"
    facts = json.loads(RunLayout(out).cluster_facts.read_text())
    assert [r["cluster"] for r in facts["clusters"]] == sorted(
        members, key=lambda c: (-sum(members[c].values()), c)
    )
    assert sum(r["documents"] for r in facts["clusters"]) == len(by_id)
    gambling = [r for r in facts["clusters"] if members[r["cluster"]]["gambling"]]
    assert all({"casino", "jackpot", "poker"} & set(r["terms"]) for r in gambling), gambling
    # The spam filter's signals reach the facts; its gambling tag flags the cluster, and only it.
    assert all(r["spam_signals"]["sig_spam_gambling"] > 1 for r in gambling)
    assert all(r["proposed"] == "drop" and r["flags"][0].startswith("spam domains") for r in gambling)
    assert all(r["flags"] == [] for r in facts["clusters"] if not members[r["cluster"]]["gambling"])
    assert all(r["genres"] == [["article", r["documents"], 1.0]] for r in facts["clusters"])  # genre column
    assert all("s" not in r["terms"] for r in facts["clusters"])  # no single letters ("it's")
    assert all(len(r["samples"]) == min(5, r["documents"]) for r in facts["clusters"])


def test_one_and_two_workers_give_the_same_clusters(clustered):
    out, _, (first_assignments, first_facts), _ = clustered
    assert assignments(out) == first_assignments
    again = json.loads(RunLayout(out).cluster_facts.read_text())
    assert 0 < again["sample_documents"] < len(first_assignments)  # the sampling is part of it
    assert again["fingerprint"] == first_facts["fingerprint"]
    assert again["clusters"] == first_facts["clusters"]


def labels_for(out: Path, kinds: dict[str, str], kind: str, label: str, path: Path) -> set[str]:
    """Label the clusters of ``kind``; returns the ids of its documents."""
    by_id = kind_of_ids(out, kinds)
    clusters = assignments(out)
    chosen = sorted({clusters[i] for i, k in by_id.items() if k == kind})
    path.write_text("cluster,label\n" + "".join(f"{c},{label}\n" for c in chosen), encoding="utf-8")
    return {i for i, k in by_id.items() if k == kind}


def test_dropping_the_gambling_cluster_and_refiltering_removes_exactly_the_gambling_pages(
    clustered, tmp_path, capsys
):
    out, kinds, _, config = clustered
    labels = tmp_path / "labels.csv"
    gambling = labels_for(out, kinds, "gambling", "drop", labels)
    assert cli(["review", str(out), "--cluster-labels", str(labels)]) == 0
    recorded = json.loads(RunLayout(out).cluster_labels.read_text())
    assert recorded["effect"]["removed_documents"] == PER_KIND
    assert "Cluster labels" in RunLayout(out).report.read_text(encoding="utf-8")
    before = set(data_table(out).column("id").to_pylist())
    stats = refilter_run(out, tmp_path / "refiltered", config.model_copy(deep=True), log=quiet)
    after = set(data_table(tmp_path / "refiltered").column("id").to_pylist())
    assert after == before - gambling
    removed = {r: n for r, n in stats["removed"].items() if r.startswith("cluster:")}
    assert sum(removed.values()) == PER_KIND
    assert stats["accounting_closes"]
    assert stats["records_read"] == stats["documents_kept"] + sum(stats["removed"].values()) + sum(
        stats["failed"].values()
    )
    assert stats["cluster_labels"]["sha256"] == recorded["sha256"]
    page = RunLayout(tmp_path / "refiltered").report.read_text(encoding="utf-8")
    assert "Cluster labels applied" in page and recorded["sha256"] in page


def test_mix_down_weights_a_labelled_cluster(clustered, tmp_path, capsys):
    out, kinds, _, _ = clustered
    labels = tmp_path / "labels.csv"
    listings = labels_for(out, kinds, "listing", "weight:0.5", labels)
    by_id = kind_of_ids(out, kinds)
    assert cli(["review", str(out), "--cluster-labels", str(labels)]) == 0
    effect = json.loads(RunLayout(out).cluster_labels.read_text())["effect"]
    assert effect["weighted_documents"] == PER_KIND and effect["removed_documents"] == 0
    target = tmp_path / "target.yaml"
    target.write_text("language: {en: 1}\n", encoding="utf-8")
    sample = tmp_path / "sample"
    assert (
        cli(["mix", str(out), "--target", str(target), "--tokens", "3e6", "--materialize", str(sample)]) == 0
    )
    table = data_table(sample)
    copies = Counter(i.split("#")[0] for i in table.column("id").to_pylist())
    listing_copies = sum(copies[i] for i in listings)
    gambling_copies = sum(copies[i] for i, kind in by_id.items() if kind == "gambling")
    # Every document is repeated tens of times; a listing half as often as a gambling page (both English).
    assert gambling_copies > 20 * PER_KIND
    assert 0.45 < listing_copies / gambling_copies < 0.55
    plan = json.loads((sample / "plan.json").read_text())
    assert plan["cluster_labels"]["sha256"] == json.loads(RunLayout(out).cluster_labels.read_text())["sha256"]
    assert not pc.any(pc.is_null(table.column("id"))).as_py()


def small_tokenizer(directory: Path, texts: list[str]) -> str:
    """A byte-level BPE tokenizer.json trained on ``texts`` (nothing downloaded), with an end token."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=500, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(texts, trainer)
    path = directory / "tokenizer.json"
    tokenizer.save(str(path))
    return str(path)


def test_tokenize_plan_repeats_each_document_by_its_weights_as_materialize_does(clustered, tmp_path, capsys):
    """Cluster labels, bucket weights and a rehydrate rule together: the plan's available tokens are
    the documents' tokens x rehydration x weight, and `tokenize --plan` writes exactly the copies
    `mix --materialize` writes."""
    out, kinds, _, _ = clustered
    labels = tmp_path / "labels.csv"
    gambling = labels_for(out, kinds, "gambling", "drop", labels)
    assert cli(["review", str(out), "--cluster-labels", str(labels)]) == 0
    target = tmp_path / "target.yaml"
    target.write_text("language: {en: 1}\nquality_bucket: {0-4: 0, 18-19: 3}\nrehydrate: {1: 2}\n")
    plan_path, mixed, tokens_out = tmp_path / "plan.json", tmp_path / "mixed", tmp_path / "tokens"
    mix = ["mix", str(out), "--target", str(target), "--tokens", "2e5", "--output", str(plan_path)]
    assert cli([*mix, "--materialize", str(mixed)]) == 0
    source = data_table(out)
    ids, buckets = source.column("id").to_pylist(), source.column("quality_bucket").to_pylist()
    weight = {
        i: 0 if i in gambling or b <= 4 else 3 if b >= 18 else 1 for i, b in zip(ids, buckets, strict=True)
    }
    expected = sum(
        2 * weight[i] * t for i, t in zip(ids, source.column("token_count").to_pylist(), strict=True)
    )
    plan = json.loads(plan_path.read_text())
    assert sum(g["available_tokens"] for g in plan["groups"]) == pytest.approx(
        expected, abs=len(plan["groups"])
    )
    assert plan["document_weights"]["cluster"] and plan["cluster_labels"]["fingerprint"]
    materialized = Counter(i.split("#")[0] for i in data_table(mixed).column("id").to_pylist())
    assert materialized and not any(materialized[i] for i, w in weight.items() if w == 0)
    tokenizer = small_tokenizer(tmp_path, source.column("text").to_pylist())
    argv = [
        "tokenize",
        str(out),
        "--tokenizer",
        tokenizer,
        "--output",
        str(tokens_out),
        "--plan",
        str(plan_path),
    ]
    assert cli([*argv, "--format", "npy"]) == 0
    index = ds.dataset(tokens_out / "index", format="parquet").to_table(columns=["id"]).column("id")
    assert Counter(i.split("#")[0] for i in index.to_pylist()) == materialized
    # A plan made for another clustering of the run is refused, not applied to the wrong clusters.
    plan["cluster_labels"]["fingerprint"] = "another clustering"
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(plan), encoding="utf-8")
    argv[argv.index(str(plan_path))] = str(stale)
    argv[argv.index(str(tokens_out))] = str(tmp_path / "stale-tokens")
    capsys.readouterr()
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert "another clustering" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("3,maybe", "label must be keep, drop or weight:<w>"),
        ("999,drop", "no cluster 999"),
        ("x", "expected"),
    ],
)
def test_bad_cluster_labels_are_refused_with_one_line(clustered, tmp_path, capsys, line, message):
    out, _, _, _ = clustered
    labels = tmp_path / "labels.csv"
    labels.write_text(f"{line}\n", encoding="utf-8")
    assert cli(["review", str(out), "--cluster-labels", str(labels)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_labels_of_an_earlier_clustering_are_refused(clustered, tmp_path, capsys):
    out, kinds, _, config = clustered
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("lock.json"))
    labels = tmp_path / "labels.csv"
    labels_for(copy, kinds, "gambling", "drop", labels)
    assert cli(["review", str(copy), "--cluster-labels", str(labels)]) == 0
    facts = json.loads(RunLayout(copy).cluster_facts.read_text())
    facts["fingerprint"] = "another clustering"
    RunLayout(copy).cluster_facts.write_text(json.dumps(facts))
    argv = [
        "refilter",
        str(copy),
        "--config",
        str(write_config(tmp_path, config)),
        "--output",
        str(tmp_path / "o"),
    ]
    assert cli(argv) == 2
    assert "another clustering" in capsys.readouterr().err


def write_config(tmp_path: Path, config: Config) -> Path:
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    return path


def percentile_buckets(scores: list[float], tokens: list[int]) -> list[int]:
    """Each document's bucket by sorting: 20 x the share of tokens scoring in lower bins."""
    total = sum(tokens)
    bins = [min(999, int(s * 1000)) for s in scores]
    below, seen = {}, 0
    for score_bin, count in sorted(zip(bins, tokens, strict=True)):
        below.setdefault(score_bin, seen)
        seen += count
    return [min(19, 20 * below[b] // total) for b in bins]


def test_quality_buckets_are_the_highest_token_weighted_percentile_over_the_classifiers(planted_run):
    out, _, _ = planted_run
    table = data_table(out)
    tokens = table.column("token_count").to_pylist()
    total = sum(tokens)
    per_classifier = [
        percentile_buckets(table.column(c).to_pylist(), tokens) for c in ("quality_score", "sig_spread")
    ]
    expected = [max(pair) for pair in zip(*per_classifier, strict=True)]
    assert table.column("quality_bucket").to_pylist() == expected
    assert set(per_classifier[0]) == {0}  # the default classifier scores every planted page 1.0: one tie
    assert min(expected) == 0 and max(expected) == 19 and len(set(expected)) >= 10
    mixture = json.loads(RunLayout(out).mixture.read_text())
    per_bucket = Counter()
    for group in mixture["groups"]:
        for bucket, (_, group_tokens) in group["quality_buckets"].items():
            per_bucket[int(bucket)] += group_tokens
    assert sum(per_bucket.values()) == total
    stats = json.loads(RunLayout(out).stats.read_text())
    assert set(stats["quality_buckets"]["first_score"]) == {"quality_score", "sig_spread"}


def test_mix_weights_quality_buckets(planted_run, tmp_path):
    out, _, _ = planted_run
    RunLayout(out).cluster_labels.unlink(missing_ok=True)  # another test's cluster labels
    target = tmp_path / "target.yaml"
    target.write_text("quality_bucket: {18-19: 3, 0-4: 0}\n", encoding="utf-8")
    sample = tmp_path / "sample"
    argv = ["mix", str(out), "--target", str(target), "--tokens", "3e6", "--materialize", str(sample)]
    assert cli(argv) == 0
    source = data_table(out)
    bucket_of = dict(
        zip(source.column("id").to_pylist(), source.column("quality_bucket").to_pylist(), strict=True)
    )
    copies = Counter(i.split("#")[0] for i in data_table(sample).column("id").to_pylist())
    assert all(copies[i] == 0 for i, b in bucket_of.items() if b <= 4)
    top = [copies[i] for i, b in bucket_of.items() if b >= 18]
    middle = [copies[i] for i, b in bucket_of.items() if 5 <= b <= 17]
    assert 2.5 < (sum(top) / len(top)) / (sum(middle) / len(middle)) < 3.5
