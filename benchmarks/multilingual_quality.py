"""Every language and genre as first-class as English articles, measured on real pages.

    .venv/bin/python -m benchmarks.multilingual_quality [--config FILE] [--output DIR]
        [--sections kept extraction neardup shingles decontamination cpu genre extractors] [--repeat 2]

Runs on ``../shared/corpus/multilingual/`` (143 real pages, all good: articles and forum/Q&A
threads, 39 of them Chinese; ``extraction/ground_truth.jsonl`` gives each page's human-marked
main text, its genre and its script) and prints, per script and genre:

- ``kept``: pages kept by a whole ``crawlsieve run`` (default config, or ``--config``), and the
  removal reasons of the good pages it removed, each page listed; the domain tags of the kept pages
  per script (how many are left as ``other``);
- ``extraction``: F1 of the pipeline's extraction (its read, HTTP checks and extract stages)
  against the human-marked text: bag of lowercased ``\\w+`` tokens, or of characters for
  Chinese and Japanese (where a "word" is a clause); a page extracted as nothing scores 0;
- ``neardup``: a whole run over light edits of the corpus's Chinese articles (characters) and,
  as a control, of its Latin-script ones (words), with known Jaccard of unit 5-grams (character
  5-grams for Chinese) to the original: the
  recall of pairs at J >= 0.85 (not both kept) and the removals of far variants (J < 0.5);
  only pairs whose two pages both reached dedup count (the filters may remove a page first);
- ``shingles``: the choice of Chinese shingle unit and length, without a run: the MinHash decision
  (a shared band and an estimated Jaccard at the verify threshold) for many edits of every Chinese
  page (edit rates 0.5% to 20%: J from 0.3 to 0.98), per unit (characters or jieba words) and n,
  with the CPU milliseconds per page of cutting and signing;
- ``decontamination``: a C-Eval-style Chinese question and an MMLU-style English one copied
  into a corpus article each, with the question files as decontamination benchmarks: removed
  or not (or the run refused);
- ``cpu``: CPU milliseconds per page by stage, and by text filter inside the heuristic stage, for
  the Chinese and the Latin-script articles and forum pages, in this process (each stage's own
  CPU, the extraction child's included), after a warm-up pass (``benchmarks.stage_cpu``);
- ``genre``: forum threads and Q&A pages judged as conversations, before (every page extracted
  and judged as an article: ``extract.forum_extractor: trafilatura``, no ``filters.genre_thresholds``)
  and after (the config's): pages kept and extraction F1 per script and genre, both halves of the
  corpus apart (``dev``: page ids starting 0, 2, 4 or 6, the half the forum settings were chosen
  on; ``held``: the others), the genre the pipeline gave each page against its label, and the share
  of generated forum junk (``samples.forum``: empty threads, spam replies, link dumps,
  signature-only posts) a whole run removes, with generated real conversations as the control;
- ``extractors``: extraction F1 of the candidate extractors on every page of the corpus, per
  script and genre: trafilatura with the run's settings, with comments, with its defaults, the
  post blocks (``extract.forum_extractor: posts``) and, when it is importable, magic-html's forum
  extractor (its HTML output as text).

Prints, does not assert. CPU figures depend on the machine's load: say which when quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.parquet as pq

from benchmarks import stage_cpu
from benchmarks.cc_shaped import _Writer, corpus_pages
from benchmarks.extraction_quality import url_key

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CORPUS = Path(os.environ.get("CRAWLSIEVE_SHARED_CORPUS", SHARED)) / "multilingual"
SECTIONS = ("kept", "extraction", "neardup", "shingles", "decontamination", "cpu", "genre", "extractors")
CHARACTER_SCRIPTS = frozenset({"zh", "ja"})
TOKEN = re.compile(r"\w+")
HTML_HEADERS = [("Content-Type", "text/html; charset=utf-8")]

#: Questions in the shape of C-Eval's and MMLU's test items (written here, not copied from them).
CEVAL_ITEM = {
    "id": 0,
    "question": "下列关于我国古代科学技术成就的表述中，正确的一项是哪一个选项，"
    "请从四个选项中选出唯一正确的答案",
    "A": "《齐民要术》是我国现存最早的一部完整的农学著作",
    "B": "张衡发明的地动仪能够准确预测地震发生的时间和地点",
    "C": "祖冲之第一次把圆周率精确计算到小数点后第十位数字",
    "D": "《天工开物》被外国学者称为中国十七世纪的工艺百科全书",
    "answer": "A",
}
MMLU_ITEM = {
    "question": "Which of the following best explains why the boiling point of water decreases as the "
    "altitude above sea level increases in mountainous regions of the world?",
    "choices": [
        "The atmospheric pressure acting on the surface of the water is lower at high altitude",
        "The water molecules contain less dissolved oxygen at high altitude",
        "The temperature of the surrounding air is lower at high altitude",
        "The gravitational pull on the water molecules is weaker at high altitude",
    ],
    "answer": 0,
}


def ground_truth(corpus: Path) -> dict[str, dict]:
    """url (as the WARC reader gives it) -> {text, genre, script} of every page."""
    lines = (corpus / "extraction" / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    return {url_key(case["url"]): case for case in map(json.loads, filter(str.strip, lines))}


def groups_of(truth: dict[str, dict]) -> list[tuple[str, str]]:
    return sorted({(case["script"], case["genre"]) for case in truth.values()})


def run(inputs: list[str], output: Path, config) -> dict:
    """A whole ``crawlsieve run``; returns stats.json."""
    from crawlsieve.pipelines.run import run_pipeline

    return run_pipeline(inputs, output, config, report=False, log=lambda message: None)


def page_outcomes(output: Path) -> dict[str, str]:
    """url -> ``kept`` or the reason (or error kind) that removed each response page of a run."""
    from crawlsieve.core.layout import RunLayout
    from crawlsieve.quality.mixture import data_files

    layout = RunLayout(output)
    outcome: dict[str, str] = {}
    for path in layout.ledger_files():
        table = pq.read_table(path, columns=["url", "removed", "failed"])
        columns = (table.column(c).to_pylist() for c in table.column_names)
        for url, removed, failed in zip(*columns, strict=True):
            if removed != "not_response" and url is not None:
                outcome[url_key(url)] = removed or f"failed:{failed}"
    kept = data_files(layout.data)
    if kept:  # a run that kept nothing has an empty data/
        for url in pads.dataset(kept, format="parquet").to_table(columns=["url"])["url"].to_pylist():
            outcome[url_key(url)] = "kept"
    return outcome


def kept_domains(output: Path) -> dict[str, str]:
    """url -> the domain tag of each page a run kept."""
    from crawlsieve.core.layout import RunLayout

    if not RunLayout(output).data.is_dir():
        return {}
    table = pads.dataset(RunLayout(output).data, format="parquet", partitioning="hive").to_table(
        columns=["url", "domain"]
    )
    return {url_key(u): d for u, d in zip(table["url"].to_pylist(), table["domain"].to_pylist(), strict=True)}


def kept_section(corpus: Path, truth: dict[str, dict], config, work: Path) -> None:
    stats = run([str(p) for p in sorted((corpus / "warc").glob("*.warc.gz"))], work / "kept", config)
    outcome = page_outcomes(work / "kept")
    print(f"\n## Pages kept (whole run; accounting closes: {stats['accounting_closes']})")
    print(f"{'script':<9} {'genre':<8} {'pages':>5} {'kept':>5} {'share':>6}  removal reasons of good pages")
    totals: Counter = Counter()
    for script, genre in groups_of(truth):
        urls = [url for url, case in truth.items() if (case["script"], case["genre"]) == (script, genre)]
        reasons = Counter(outcome.get(url, "missing") for url in urls)
        kept = reasons.pop("kept", 0)
        totals[(genre, "pages")] += len(urls)
        totals[(genre, "kept")] += kept
        listed = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common())
        print(f"{script:<9} {genre:<8} {len(urls):>5} {kept:>5} {kept / len(urls):>6.0%}  {listed}")
    for genre in sorted({g for g, _ in totals}):
        pages, kept = totals[(genre, "pages")], totals[(genre, "kept")]
        print(f"{'all':<9} {genre:<8} {pages:>5} {kept:>5} {kept / pages:>6.0%}")
    print("removed good pages:")
    for url, case in sorted(truth.items(), key=lambda item: (item[1]["script"], item[1]["genre"], item[0])):
        if outcome.get(url) != "kept":
            print(f"  {case['script']:<8} {case['genre']:<7} {outcome.get(url, 'missing'):<40} {url[:90]}")
    domains = kept_domains(work / "kept")
    print("domain tags of the kept pages, by script (other: the share no rule could tag):")
    for script in sorted({case["script"] for case in truth.values()}):
        tags = Counter(
            domains[url] for url, case in truth.items() if case["script"] == script and url in domains
        )
        if tags:
            listed = ", ".join(f"{tag} {n}" for tag, n in tags.most_common())
            kept = sum(tags.values())
            print(f"  {script:<9} other {tags['other']} of {kept} ({tags['other'] / kept:.0%}): {listed}")


def units(text: str, script: str) -> Counter:
    if script in CHARACTER_SCRIPTS:
        return Counter(ch for ch in text.lower() if not ch.isspace())
    return Counter(TOKEN.findall(text.lower()))


def f1(predicted: str | None, truth: str, script: str) -> float:
    got, want = units(predicted or "", script), units(truth, script)
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def extracted_texts(corpus: Path, config) -> dict[str, str | None]:
    """url -> the text the pipeline's extraction gives each page (None: removed before or by it)."""
    from crawlsieve.core.ledger import run_stages
    from crawlsieve.ingest.extract import ExtractStage
    from crawlsieve.ingest.warc import HttpCheckStage, read_warc

    texts: dict[str, str | None] = {}
    for path in sorted((corpus / "warc").glob("*.warc.gz")):
        stages = [HttpCheckStage(config.read), ExtractStage(config.extract)]
        docs, _ = run_stages(read_warc(str(path), path.name, config.read), stages, path.name)
        for batch in docs:
            for url, text in zip(batch["url"].to_pylist(), batch["text"].to_pylist(), strict=True):
                texts[url_key(url)] = text
    return texts


def extraction_section(corpus: Path, truth: dict[str, dict], config) -> None:
    texts = extracted_texts(corpus, config)
    print("\n## Extraction F1 against the human-marked text (tokens; characters for zh and ja)")
    print(f"{'script':<9} {'genre':<8} {'pages':>5} {'F1':>6} {'empty':>6}")
    by_genre: dict[str, list[float]] = defaultdict(list)
    for script, genre in groups_of(truth):
        cases = [(url, c) for url, c in truth.items() if (c["script"], c["genre"]) == (script, genre)]
        scores = [f1(texts.get(url), case["text"], script) for url, case in cases]
        by_genre[genre] += scores
        empty = sum(not texts.get(url) for url, _ in cases)
        print(f"{script:<9} {genre:<8} {len(cases):>5} {sum(scores) / len(scores):>6.3f} {empty:>6}")
    for genre, scores in sorted(by_genre.items()):
        print(f"{'all':<9} {genre:<8} {len(scores):>5} {sum(scores) / len(scores):>6.3f}")


def unit_list(text: str, script: str) -> list[str]:
    """The page's units: characters for Chinese and Japanese, words elsewhere."""
    return [ch for ch in text if not ch.isspace()] if script in CHARACTER_SCRIPTS else text.split()


def jaccard(a: str, b: str, script: str, n: int = 5) -> float:
    """Jaccard similarity of the two texts' unit 5-grams."""

    def grams(text: str) -> set[tuple[str, ...]]:
        units = unit_list(text, script)
        return {tuple(units[i : i + n]) for i in range(max(1, len(units) - n + 1))}

    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y)


def edited(text: str, script: str, rate: float, rng: random.Random) -> str:
    """``text`` with a share ``rate`` of its units (characters for Chinese, words for Latin script)
    replaced, deleted or doubled, as a scraper's template, a typo fix or an editor's touch changes
    a copied article. Line breaks stay."""
    by_char = script in CHARACTER_SCRIPTS
    alphabet = unit_list(text, script)
    lines = []
    for line in text.split("\n"):
        out = []
        for unit in line if by_char else line.split(" "):
            if (by_char and unit.isspace()) or not unit or rng.random() >= rate:
                out.append(unit)
                continue
            roll = rng.random()
            if roll < 0.5:
                out.append(rng.choice(alphabet))
            elif roll < 0.75:
                out += [unit, unit]
        lines.append(("" if by_char else " ").join(out))
    return "\n".join(lines)


def html_page(text: str, language: str) -> bytes:
    paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    title = escape(paragraphs[0][:40])
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><header><nav><a href='/'>Home</a></nav></header><main><article><h1>{title}</h1>"
        f"{body}</article></main><footer>Contact</footer></body></html>"
    ).encode()


def write_warc(path: Path, pages: list[tuple[str, bytes]], seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "wb") as handle:
        writer = _Writer(handle, path.name, rng)
        when = datetime(2024, 2, 20, tzinfo=UTC)
        for number, (url, payload) in enumerate(pages):
            writer.write(url, "200 OK", HTML_HEADERS, payload, when + timedelta(seconds=number))
    return path


#: (rate of unit edits, label) per variant: three light edits (J ~0.88-0.99), one far one (J < 0.5).
EDITS = ((0.002, "light"), (0.006, "light"), (0.012, "light"), (0.25, "far"))


def neardup_section(truth: dict[str, dict], config, work: Path, seed: int = 0) -> None:
    rng = random.Random(seed)
    print("\n## Near-duplicates: light edits of the corpus's articles, J of unit 5-grams (whole run)")
    print(
        f"{'script':<9} {'articles':>8} {'pairs J>=0.85':>13} {'reached dedup':>13} {'recall':>7}"
        f" {'far (J<0.5)':>11} {'far removed':>11}"
    )
    for script, language in (("zh", "zh"), ("latin", "en")):
        articles = [
            (url, case["text"])
            for url, case in sorted(truth.items())
            if case["script"] == script and case["genre"] == "article" and len(case["text"]) >= 200
        ]
        pages, pairs = [], []
        for number, (_, text) in enumerate(articles):
            original = f"https://origin-{number}.example.org/{script}/article.html"
            pages.append((original, html_page(text, language)))
            for variant, (rate, label) in enumerate(EDITS):
                copy = edited(text, script, rate, rng)
                copy_url = f"https://copy-{number}-{variant}.example.net/{script}/page.html"
                pages.append((copy_url, html_page(copy, language)))
                pairs.append((original, copy_url, jaccard(text, copy, script), label))
        rng.shuffle(pages)
        directory = work / f"neardup-{script}"
        directory.mkdir(parents=True, exist_ok=True)
        warc = write_warc(directory / "pages.warc.gz", pages, seed)
        run([str(warc)], directory / "out", config)
        outcome = page_outcomes(directory / "out")

        reached = {url for url, result in outcome.items() if result == "kept" or result.startswith("dedup:")}
        near = [(a, b) for a, b, j, _ in pairs if j >= 0.85]
        near_reached = [(a, b) for a, b in near if a in reached and b in reached]
        caught = sum(not (outcome[a] == "kept" and outcome[b] == "kept") for a, b in near_reached)
        far = [(a, b) for a, b, j, _ in pairs if j < 0.5]
        far_removed = sum(
            outcome.get(b, "").startswith("dedup:") for a, b in far if a in reached and b in reached
        )
        recall = caught / len(near_reached) if near_reached else float("nan")
        print(
            f"{script:<9} {len(articles):>8} {len(near):>13} {len(near_reached):>13} {recall:>7.3f}"
            f" {len(far):>11} {far_removed:>11}"
        )
        light = [j for *_, j, label in pairs if label == "light"]
        if light:
            print(
                f"  light edits' J: {min(light):.3f}-{max(light):.3f}; "
                f"pairs below 0.85 not scored: {sum(j < 0.85 for j in light)}"
            )


#: Edit rates of the ``shingles`` section: J of character 5-grams from ~0.98 down to ~0.3.
SHINGLE_EDIT_RATES = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.05, 0.08, 0.12, 0.2)


def shingles_section(truth: dict[str, dict], config, seeds: int = 6) -> None:
    """recall: share of pairs at J >= 0.85 the MinHash decision removes; est-J: mean estimated minus
    true J of those pairs; ms: CPU per page of normalizing, cutting and signing."""
    import time

    import numpy as np
    import pyarrow as pa

    from crawlsieve.core import units
    from crawlsieve.dedup.minhash import normalized_texts, shingle_hashes, split_words
    from crawlsieve.dedup.stages import minhasher, verify_threshold

    texts = [
        case["text"]
        for _, case in sorted(truth.items())
        if case["script"] == "zh" and len(case["text"]) >= 200
    ]
    pairs = []
    for seed in range(seeds):
        rng = random.Random(seed)
        pairs += [(t, edited(t, "zh", rate, rng)) for t in texts for rate in SHINGLE_EDIT_RATES]
    truth_j = np.array([jaccard(a, b, "zh") for a, b in pairs])
    near, far, middle = truth_j >= 0.85, truth_j < 0.5, (truth_j >= 0.5) & (truth_j < 0.75)
    hasher, limit = minhasher(config.dedup), verify_threshold(config.dedup)

    def jieba_words(normalized: pa.Array) -> pa.ListArray:
        return pa.array([units.words(t, "zh") for t in normalized.to_pylist()], pa.list_(pa.string()))

    cutters = {  # unit -> (how normalized texts are cut, shingle lengths tried)
        "spaces": (split_words, (5,)),
        "characters": (units.character_unit_lists, (3, 4, 5, 6, 7)),
        "jieba words": (jieba_words, (2, 3, 4, 5)),
    }
    print(
        f"\n## Chinese shingles: MinHash decisions on {len(pairs)} edits of {len(texts)} pages "
        f"(J of character 5-grams; {int(near.sum())} at J >= 0.85, {int(middle.sum())} at 0.5-0.75, "
        f"{int(far.sum())} below 0.5)"
    )
    print("unit          n  recall 0.5-0.75 removed far removed  est-J     ms")
    for name, (cut, lengths) in cutters.items():
        for n in lengths:
            started = time.process_time()
            signed = []
            for side in (0, 1):
                shingled = cut(normalized_texts(pa.array([pair[side] for pair in pairs])))
                signed.append(hasher.signatures(*shingle_hashes(shingled, n)))
            ms = (time.process_time() - started) / (2 * len(pairs)) * 1000
            same_band = (hasher.band_hashes(signed[0]) == hasher.band_hashes(signed[1])).any(axis=1)
            estimate = (signed[0] == signed[1]).mean(axis=1)
            removed = same_band & (estimate >= limit)
            print(
                f"{name:<12} {n:>2} {removed[near].mean():>7.3f} {int(removed[middle].sum()):>16}"
                f" {int(removed[far].sum()):>11} {(estimate - truth_j)[near].mean():>+6.3f} {ms:>6.2f}"
            )


def decontamination_section(truth: dict[str, dict], config, work: Path) -> None:
    from crawlsieve.core.errors import ConfigError, UsageError
    from crawlsieve.filters.config import DecontaminationConfig

    print("\n## Decontamination: a benchmark question copied into a corpus article (whole run)")
    directory = work / "decontamination"
    directory.mkdir(parents=True, exist_ok=True)
    ceval = json.dumps(CEVAL_ITEM, ensure_ascii=False)
    (directory / "ceval.jsonl").write_text(ceval + "\n", encoding="utf-8")
    (directory / "mmlu.jsonl").write_text(json.dumps(MMLU_ITEM) + "\n", encoding="utf-8")
    cases = {
        "zh": ("ceval", "\n".join([CEVAL_ITEM["question"], *(CEVAL_ITEM[k] for k in "ABCD")])),
        "latin": ("mmlu", "\n".join([MMLU_ITEM["question"], *MMLU_ITEM["choices"]])),
    }
    pages, expected = [], {}
    for script, (benchmark, copied) in cases.items():
        host = next(
            case["text"]
            for _, case in sorted(truth.items())
            if case["script"] == script and case["genre"] == "article" and len(case["text"]) >= 400
        )
        lines = host.splitlines()
        text = "\n".join([*lines[: len(lines) // 2], copied, *lines[len(lines) // 2 :]])
        url = f"https://contaminated.example.org/{script}.html"
        pages.append((url, html_page(text, "zh" if script == "zh" else "en")))
        expected[url] = (script, benchmark)
    warc = write_warc(directory / "pages.warc.gz", pages)
    config = config.model_copy(deep=True)
    config.filters.decontamination = DecontaminationConfig(
        benchmarks={"ceval": str(directory / "ceval.jsonl"), "mmlu": str(directory / "mmlu.jsonl")}
    )
    try:
        run([str(warc)], directory / "out", config)
    except (ConfigError, UsageError) as error:
        print(f"run refused: {error}")
        return
    outcome = page_outcomes(directory / "out")
    for url, (script, benchmark) in expected.items():
        print(f"{script:<6} {benchmark:<6} {outcome.get(url, 'missing')}")


def cpu_section(corpus: Path, truth: dict[str, dict], config, work: Path, repeat: int) -> None:
    pages = corpus_pages(sorted((corpus / "warc").glob("*.warc.gz")))
    groups: dict[str, list] = {f"{s} {g}": [] for s in ("zh", "latin") for g in ("article", "forum")}
    for page in pages:
        case = truth.get(url_key(page[0]))
        if case and f"{case['script']} {case['genre']}" in groups:
            groups[f"{case['script']} {case['genre']}"].append(page)
    ms = stage_cpu.warm_ms_per_page(groups, config, work, repeat)
    print(f"\n## CPU ms per page by stage, and by filter (warm, mean of {repeat} passes)")
    print(stage_cpu.table(ms, {name: len(group) for name, group in groups.items()}))


def half(case: dict) -> str:
    """``dev`` for the pages the forum settings were chosen on (ids starting 0, 2, 4, 6), else ``held``."""
    return "dev" if case["id"][0] in "0246" else "held"


def article_treatment(config):
    """``config`` with every page extracted and judged as an article (the run before genres)."""
    config = config.model_copy(deep=True)
    config.extract.forum_extractor = "trafilatura"
    config.filters.genre_thresholds = {}
    return config


def page_genres(output: Path) -> dict[str, str]:
    """url -> the genre a run gave each page that reached extraction."""
    from crawlsieve.core.layout import RunLayout
    from crawlsieve.quality.mixture import data_files

    layout = RunLayout(output)
    tables = [pq.read_table(path) for path in layout.ledger_files()]
    if kept := data_files(layout.data):
        tables.append(pads.dataset(kept, format="parquet").to_table())
    genres = {}
    for table in tables:
        if "genre" in table.column_names:
            for url, genre in zip(table["url"].to_pylist(), table["genre"].to_pylist(), strict=True):
                if url is not None and genre is not None:
                    genres[url_key(url)] = genre
    return genres


def genre_section(corpus: Path, truth: dict[str, dict], config, work: Path, seed: int = 0) -> None:
    from crawlsieve.samples.forum import JUNK_KINDS, forum_pages

    configs = {"before": article_treatment(config), "after": config}
    warcs = [str(p) for p in sorted((corpus / "warc").glob("*.warc.gz"))]
    outcomes, texts = {}, {}
    for name, variant in configs.items():
        run(warcs, work / f"genre-{name}", variant)
        outcomes[name] = page_outcomes(work / f"genre-{name}")
        texts[name] = extracted_texts(corpus, variant)
    print("\n## Forum threads and Q&A pages: before (every page an article) and after (the config)")
    print(
        f"{'script':<9} {'genre':<8} {'half':<5} {'pages':>5} {'kept before':>12} {'kept after':>11}"
        f" {'F1 before':>10} {'F1 after':>9}"
    )
    rows = sorted({(c["script"], c["genre"], half(c)) for c in truth.values()})
    rows += sorted({("all", c["genre"], h) for c in truth.values() for h in ("dev", "held", "both")})
    for script, genre, part in rows:
        urls = [
            url
            for url, c in truth.items()
            if script in ("all", c["script"]) and c["genre"] == genre and part in ("both", half(c))
        ]
        if not urls:
            continue
        kept = {n: sum(outcomes[n].get(url) == "kept" for url in urls) for n in configs}
        scores = {
            n: sum(f1(texts[n].get(url), truth[url]["text"], truth[url]["script"]) for url in urls)
            / len(urls)
            for n in configs
        }
        shares = {n: f"{kept[n]:>4} ({kept[n] / len(urls):>4.0%})" for n in configs}
        print(
            f"{script:<9} {genre:<8} {part:<5} {len(urls):>5} {shares['before']:>12} {shares['after']:>11}"
            f" {scores['before']:>10.3f} {scores['after']:>9.3f}"
        )
    genres = page_genres(work / "genre-after")
    print("detected genre (after) of the corpus's pages, by their label:")
    for label in sorted({c["genre"] for c in truth.values()}):
        found = Counter(genres.get(url, "(none)") for url, c in truth.items() if c["genre"] == label)
        print(f"  {label:<8} " + ", ".join(f"{g} {n}" for g, n in found.most_common()))
    print("removed forum pages (after):")
    for url, case in sorted(truth.items(), key=lambda item: (item[1]["script"], item[0])):
        if case["genre"] == "forum" and outcomes["after"].get(url) != "kept":
            outcome = outcomes["after"].get(url, "missing")
            print(f"  {case['script']:<6} {half(case):<5} {genres.get(url, '-'):<8} {outcome:<38} {url[:80]}")

    pages = forum_pages(seed)
    directory = work / "forum-junk"
    directory.mkdir(parents=True, exist_ok=True)
    warc = write_warc(directory / "forum.warc.gz", [(url, html) for url, _, html in pages], seed)
    kinds = {url_key(url): kind for url, kind, _ in pages}
    results = {}
    for name, variant in configs.items():
        run([str(warc)], directory / name, variant)
        results[name] = page_outcomes(directory / name)
    print("\n## Generated forum threads (samples.forum, English and Chinese): removed by a whole run")
    print(f"{'kind':<16} {'pages':>5} {'removed before':>15} {'removed after':>14}  reasons after")
    junk_total = {n: 0 for n in configs}
    for kind in (*JUNK_KINDS, "conversation"):
        urls = [url for url, k in kinds.items() if k == kind]
        removed = {n: sum(results[n].get(url) != "kept" for url in urls) for n in configs}
        reasons = Counter(results["after"].get(url) for url in urls if results["after"].get(url) != "kept")
        if kind in JUNK_KINDS:
            for n in configs:
                junk_total[n] += removed[n]
        listed = ", ".join(f"{r} {c}" for r, c in reasons.most_common())
        print(f"{kind:<16} {len(urls):>5} {removed['before']:>15} {removed['after']:>14}  {listed}")
    junk = sum(k in JUNK_KINDS for k in kinds.values())
    print(
        f"{'all junk':<16} {junk:>5} {junk_total['before']:>8} ({junk_total['before'] / junk:.0%})"
        f" {junk_total['after']:>7} ({junk_total['after'] / junk:.0%})"
    )


def magic_html_forum():
    """magic-html's forum extractor as HTML -> text, or None when it is not importable (it needs
    Python >= 3.12: ``pip install --ignore-requires-python magic-html chardet py_asciimath lark``)."""
    try:
        from magic_html import GeneralExtractor
    except ImportError:
        return None
    from crawlsieve.ingest import threads

    extractor = GeneralExtractor()

    def extract(html: str, url: str) -> str | None:
        try:
            body = extractor.extract(html, base_url=url, html_type="forum")["html"]
        except Exception:  # it raises on pages it cannot parse
            return None
        tree = threads.parse(body) if body.strip() else None
        return "\n".join(threads.block_lines(tree, chrome=False)) if tree is not None else None

    return extract


def extractors_section(corpus: Path, truth: dict[str, dict], config) -> None:
    from crawlsieve.ingest import threads
    from crawlsieve.ingest.decode import decode_html
    from crawlsieve.ingest.extractors import ThreadExtractor, make_extractor
    from crawlsieve.ingest.warc import read_warc

    settings = config.extract
    comments = settings.model_copy(update={"include_comments": True})
    defaults = settings.model_copy(
        update={"include_comments": True, "favor_precision": False, "favor_recall": False}
    )
    thread = ThreadExtractor(settings)
    candidates = {
        "run's": lambda html, url: make_extractor(settings)(html),
        "comments": lambda html, url: make_extractor(comments)(html),
        "defaults": lambda html, url: make_extractor(defaults)(html),
        "posts": lambda html, url: thread(html, threads.parse(html))[0],
    }
    if (magic := magic_html_forum()) is not None:
        candidates["magic-html"] = magic
    else:
        print("\n(magic-html is not importable here: left out)")
    scores: dict[str, dict[tuple[str, str], list[float]]] = {name: defaultdict(list) for name in candidates}
    pages = (
        row
        for path in sorted((corpus / "warc").glob("*.warc.gz"))
        for batch in read_warc(str(path), path.name, config.read)
        for row in batch.select(["url", "html", "http_charset"]).to_pylist()
    )
    for row in pages:
        case = truth.get(url_key(row["url"] or ""))
        if case is None or row["html"] is None:
            continue
        html, _ = decode_html(row["html"], row["http_charset"])
        for name, extract in candidates.items():
            score = f1(extract(html, row["url"]), case["text"], case["script"])
            scores[name][(case["script"], case["genre"])].append(score)
    print("\n## Extractors: F1 against the human-marked text, every page through each")
    print(f"{'script':<9} {'genre':<8} {'pages':>5} " + " ".join(f"{name:>10}" for name in candidates))
    for script, genre in groups_of(truth):
        n = len(scores["posts"][(script, genre)])
        means = [sum(scores[name][(script, genre)]) / n for name in candidates]
        print(f"{script:<9} {genre:<8} {n:>5} " + " ".join(f"{m:>10.3f}" for m in means))
    for genre in sorted({g for _, g in groups_of(truth)}):
        merged = {
            name: [v for (_, g), vs in scores[name].items() if g == genre for v in vs] for name in candidates
        }
        n = len(merged["posts"])
        print(
            f"{'all':<9} {genre:<8} {n:>5} "
            + " ".join(f"{sum(merged[name]) / n:>10.3f}" for name in candidates)
        )


def main(argv: list[str] | None = None) -> int:
    import ray

    from crawlsieve.pipelines.config import Config, load_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, help="crawlsieve config (default: the defaults)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the multilingual corpus folder")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--output", type=Path, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--repeat", type=int, default=2, help="warm passes of the cpu section")
    args = parser.parse_args(argv)
    if not (args.corpus / "warc").is_dir():
        print(f"no multilingual corpus at {args.corpus}", file=sys.stderr)
        return 2
    config = load_config(args.config) if args.config else Config()
    truth = ground_truth(args.corpus)
    work = args.output or Path(tempfile.mkdtemp(prefix="multilingual-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{len(truth)} pages of {args.corpus}; runs in {work}")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        if "kept" in args.sections:
            kept_section(args.corpus, truth, config, work)
        if "extraction" in args.sections:
            extraction_section(args.corpus, truth, config)
        if "neardup" in args.sections:
            neardup_section(truth, config, work)
        if "shingles" in args.sections:
            shingles_section(truth, config)
        if "decontamination" in args.sections:
            decontamination_section(truth, config, work)
        if "cpu" in args.sections:
            cpu_section(args.corpus, truth, config, work, args.repeat)
        if "genre" in args.sections:
            genre_section(args.corpus, truth, config, work)
        if "extractors" in args.sections:
            extractors_section(args.corpus, truth, config)
    finally:
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
