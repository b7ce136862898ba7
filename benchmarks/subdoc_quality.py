"""Quality of sub-document dedup: template lines cut, article lines wrongly cut.

    .venv/bin/python -m benchmarks.subdoc_quality [--sites 10] [--seed 0] [--min-unit-chars 20]
                                                   [--warcs 'DIR/*.warc.gz' --output OUT]

Builds pages from ../shared/corpus/extraction/ground_truth.jsonl: each article (one paragraph per
line, as trafilatura writes them) goes to one of ``--sites`` sites, and each site wraps its pages
in its own template: navigation, a cookie notice, a newsletter box, a footer with a year and a
page number (digits vary, the normalization makes them match), short menu words, and lines only
some pages show. Runs the real global dedup step (``dedup.run.deduplicate`` with ``dedup.subdoc``
on, local Ray) and phase C's cut stage, then prints the share of template lines cut (and the
share that could be cut: every unit stays in its survivor), the share of article lines wrongly
cut with examples, and the pages removed as ``dedup:subdoc_empty``.

With ``--warcs``, also runs the whole pipeline on those WARC files (e.g. the corpus's) with
sub-document dedup on and prints what it cut: the most repeated lines and the counters.
Prints, does not assert.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from crawlsieve.core.layout import RunLayout
from crawlsieve.dedup.config import SubdocConfig
from crawlsieve.dedup.run import deduplicate
from crawlsieve.dedup.stages import signature_stages
from crawlsieve.dedup.subdoc import EMPTY, SubdocCut, cuts_for, unit_hashes, with_cuts
from crawlsieve.pipelines.config import Config

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPUS = Path(os.environ.get("CRAWLSIEVE_SHARED_CORPUS", SHARED)) / "extraction" / "ground_truth.jsonl"
PLACES = ["Harbour", "Valley", "Northern", "Riverside", "Hill", "Coast", "Forest", "Lake", "Bay", "Moor"]
PAPERS = ["Gazette", "Courier", "Herald", "Observer", "Post", "Chronicle", "Times", "Echo", "Ledger"]
SECTIONS = ["World", "Business", "Markets", "Sport", "Culture", "Science", "Travel", "Opinion", "Video"]


def site_template(name: str, rng: random.Random) -> dict[str, list[str]]:
    """A site's template lines: ``top`` and ``bottom`` on every page, ``sometimes`` on some."""
    sections = rng.sample(SECTIONS, 6)
    return {
        "top": [
            "Menu",
            " | ".join(["Home", *sections, "Contact us"]),
            f"We use cookies on {name} to improve your experience. By continuing to browse the site "
            "you agree to our use of cookies. Read our cookie policy.",
        ],
        "sometimes": [
            f"Sign up for the {name} newsletter and get the day's top stories in your inbox.",
            "This article is more than {years} years old",
            "Share this article",
        ],
        "bottom": [
            f"© {{year}} {name} Media Group. All rights reserved. Page {{page}} of {{pages}}.",
            f"About {name} · Advertise with us · Privacy policy · Terms of use · Careers",
        ],
    }


def build_pages(sites: int, seed: int) -> tuple[list[dict], list[list[tuple[str, bool]]]]:
    """Docs rows and, per doc, its lines with ``True`` for template lines."""
    rng = random.Random(seed)
    articles = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    names = [f"The {a} {b}" for a in PLACES for b in PAPERS][:sites]  # no digits: they normalize to 0
    templates = [site_template(name, rng) for name in names]
    docs, labelled = [], []
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for number, article in enumerate(articles):
        paragraphs = [p.strip() for p in article.split("\n") if p.strip()]
        if not paragraphs:
            continue
        site = number % sites
        template = templates[site]
        values = {"year": rng.choice([2019, 2023, 2024]), "page": rng.randint(1, 40), "pages": 40}
        values["years"] = rng.randint(2, 9)
        top = list(template["top"])
        optional = [line for line in template["sometimes"] if rng.random() < 0.5]
        bottom = [line.format(**values) for line in template["bottom"]]
        optional = [line.format(**values) for line in optional]
        lines = [(line, True) for line in top + optional[:1]]
        lines += [(p, False) for p in paragraphs]
        lines += [(line, True) for line in optional[1:] + bottom]
        labelled.append(lines)
        docs.append(
            {
                "id": f"site{site:02d}-{number:04d}",
                "url": f"https://site{site}.example/{number}",
                "text": "\n".join(line for line, _ in lines),
                "language": "en",
                "quality_score": rng.random(),
                "fetch_time": start + dt.timedelta(hours=rng.randint(0, 5000)),
            }
        )
    return docs, labelled


def write_docs(layout: RunLayout, docs: list[dict], config: Config, shards: int = 3) -> list[str]:
    layout.docs("any").parent.mkdir(parents=True, exist_ok=True)
    names = []
    for shard in range(shards):
        table = pa.Table.from_pylist(docs[shard::shards])
        for stage in signature_stages(config.dedup):
            table = stage(table)
        names.append(f"shard-{shard:02d}")
        pq.write_table(table, layout.docs(names[-1]))
    return names


def measure(sites: int, seed: int, min_unit_chars: int) -> None:
    docs, labelled = build_pages(sites, seed)
    lines_of = {doc["id"]: lines for doc, lines in zip(docs, labelled, strict=True)}
    config = Config()
    config.dedup.subdoc = SubdocConfig(enabled=True, min_unit_chars=min_unit_chars)
    with tempfile.TemporaryDirectory() as tmp:
        layout = RunLayout(Path(tmp))
        shards = write_docs(layout, docs, config)
        summary = deduplicate(layout, config.dedup)
        stage = SubdocCut(config.dedup.subdoc)
        outcome: dict[str, tuple[str, str | None]] = {}
        for shard in shards:
            table = pq.read_table(layout.docs(shard), columns=["id", "text"])
            removed = {r["id"] for r in pq.read_table(layout.decisions(shard)).to_pylist() if r["_removed"]}
            out = stage(with_cuts(table, cuts_for(layout, shard)))
            reasons = out["_removed"].to_pylist() if "_removed" in out.column_names else [None] * out.num_rows
            for doc_id, text, reason in zip(
                out["id"].to_pylist(), out["text"].to_pylist(), reasons, strict=True
            ):
                if doc_id not in removed:
                    outcome[doc_id] = (text, reason)
        top = json.loads(layout.subdoc_units.read_text(encoding="utf-8"))
    counts: Counter = Counter()
    wrong: list[str] = []
    for doc_id, (text, reason) in outcome.items():
        kept = Counter(text.split("\n"))
        counts["empty"] += reason == EMPTY
        for line, is_template in lines_of[doc_id]:
            kind = "template" if is_template else "article"
            counts[f"{kind}_lines"] += 1
            if kept[line] > 0:
                kept[line] -= 1
            else:
                counts[f"{kind}_cut"] += 1
                if not is_template:
                    wrong.append(line)
    article_lines = Counter(line for lines in labelled for line, is_template in lines if not is_template)
    repeated_in_corpus = sum(1 for line in wrong if article_lines[line] > 1)
    template, article = counts["template_lines"], counts["article_lines"]
    template_lines = [
        line for doc_id, _ in outcome.items() for line, is_template in lines_of[doc_id] if is_template
    ]
    hashes, long_enough = unit_hashes(pa.array(template_lines), min_unit_chars)
    short = int((~long_enough).sum())
    can_go = int(long_enough.sum()) - len(set(hashes[long_enough].tolist()))  # one survivor per unit
    print(
        f"pages {len(docs)} on {sites} sites; after document-level dedup {len(outcome)} "
        f"(dedup removed {sum(summary['removed'].values())}); unit=line, min_docs=2, "
        f"min_unit_chars={min_unit_chars}"
    )
    print(
        f"template lines cut: {counts['template_cut']}/{template} = {counts['template_cut'] / template:.1%} "
        f"(at most {can_go}/{template} = {can_go / template:.1%} can go: each unit stays in its survivor; "
        f"{short} are shorter than min_unit_chars and stay by design)"
    )
    print(
        f"article lines wrongly cut: {counts['article_cut']}/{article} = "
        f"{counts['article_cut'] / article:.2%}"
        f" ({repeated_in_corpus} of them are lines the corpus itself repeats across articles)"
    )
    print(f"pages removed as {EMPTY}: {counts['empty']}")
    for line in sorted(set(wrong))[:10]:
        print(f"  wrongly cut: {line[:110]!r}")
    print("most repeated units (documents):")
    for unit in top["top_units"][:8]:
        print(f"  {unit['documents']:5d}  {unit['text'][:100]!r}")


def corpus_warcs(pattern: str, output: Path) -> None:
    from crawlsieve.pipelines.run import run_pipeline

    config = Config()
    config.dedup.subdoc = SubdocConfig(enabled=True)
    stats = run_pipeline([pattern], output, config, report=False, log=lambda m: None)
    print(
        f"\n{pattern}: records {stats['records_read']}, kept {stats['documents_kept']}, "
        f"removed as {EMPTY}: {stats['removed'].get(EMPTY, 0)}, accounting closes: "
        f"{stats['accounting_closes']}"
    )
    print({k: v for k, v in stats["counters"].items() if k.startswith("subdoc_")})
    print(
        f"units in 2+ documents: {stats['subdoc']['units_repeated']}, "
        f"copies cut: {stats['subdoc']['unit_copies_cut']}; most repeated (documents):"
    )
    for unit in stats["subdoc"]["top_units"][:15]:
        print(f"  {unit['documents']:5d}  {unit['text'][:100]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-unit-chars", type=int, default=SubdocConfig().min_unit_chars)
    parser.add_argument("--warcs", help="also run the pipeline on these WARC files (a glob)")
    parser.add_argument("--output", type=Path, help="output directory of the --warcs run")
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    measure(args.sites, args.seed, args.min_unit_chars)
    if args.warcs:
        corpus_warcs(args.warcs, args.output or Path(tempfile.mkdtemp()) / "out")


if __name__ == "__main__":
    main()
