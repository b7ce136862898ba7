"""Throughput of crawlsieve's heuristic filter stage vs. datatrove's filters, on the same texts.

    .venv/bin/python -m benchmarks.filters_throughput [--corpus ../shared/corpus] [--repeat 3]
        [--parts datatrove splitters stage]

Every part gets the trafilatura text of every page of the shared corpus (extracted once,
not timed) and its lid.176 language (crawlsieve's language stage). CPU time is reported,
since wall time on a shared machine says little.

- ``datatrove``: datatrove runs its four filters one after another (FineWeb's order; each
  splits the text itself); crawlsieve runs its heuristic stage (shared statistics, its own
  signals for tag mode, the same decisions) with English rules for every page, as datatrove.
- ``splitters``: the word splitters of each page's language (the spaCy ones), the reference
  (spaCy over the whole text) against the cached ``SpacyWords``, alternating, on half the
  pages: from empty caches (pessimistic: a quarter of the chunks are new), on pages not seen
  before by splitters warmed on the other half, and warm (every chunk cached: optimistic).
- ``stage``: the heuristic stage with the default config (each page's own language rules),
  with the reference splitters (before) and the cached ones (after), alternating: a first
  pass (the cached splitters start empty), then ``--repeat`` warm passes.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pyarrow as pa


def corpus_docs(corpus: Path) -> list[tuple[str, str]]:
    """(text, language) of every page of the corpus with a text."""
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    from crawlsieve.filters.language_id import LanguageStage
    from crawlsieve.pipelines.config import LanguageConfig

    texts = []
    for path in sorted(glob.glob(str(corpus / "warc" / "*.warc.gz"))):
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    text = trafilatura.extract(record.content_stream().read(), favor_precision=True)
                    if text and text.strip():
                        texts.append(text)
    languages = LanguageStage(LanguageConfig())(pa.table({"text": texts})).column("language").to_pylist()
    return list(zip(texts, languages, strict=True))


def time_datatrove(texts: list[str]) -> float:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    filters = [
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
    ]
    filters.append(FineWebQualityFilter())
    start = time.process_time()
    for i, text in enumerate(texts):
        doc = Document(text=text, id=str(i))
        for f in filters:
            if f.filter(doc) is not True:
                break
    return time.process_time() - start


def _batch(docs: list[tuple[str, str]]) -> pa.Table:
    n = len(docs)
    return pa.table(
        {"id": [str(i) for i in range(n)], "url": [""] * n, "text": [t for t, _ in docs],
         "language": [lang for _, lang in docs], "language_score": [1.0] * n}
    )  # fmt: skip


def time_crawlsieve(texts: list[str]) -> float:
    from crawlsieve.filters.config import FiltersConfig
    from crawlsieve.filters.stages import HeuristicFilterStage

    config = FiltersConfig(per_language_rules=False)
    config.gopher_quality.alpha_ratio_over_words = False
    batch = _batch([(text, "en") for text in texts])
    stage = HeuristicFilterStage(config)
    start = time.process_time()
    stage(batch)
    return time.process_time() - start


def compare_with_datatrove(docs: list[tuple[str, str]], repeat: int) -> None:
    texts = [text for text, _ in docs]
    chars = sum(map(len, texts))
    time_datatrove(texts[:5]), time_crawlsieve(texts[:5])  # load tokenizers outside the timing
    for name, timer in (("datatrove", time_datatrove), ("crawlsieve", time_crawlsieve)):
        best = min(timer(texts) for _ in range(repeat))
        rate = len(texts) / best
        print(f"{name:10s} {len(texts)} docs, {chars / 1e6:.1f} M chars: {best:.2f} s CPU, {rate:.0f} docs/s")


def _splitter_factories() -> dict[str, Callable[[str], Callable[[str], list[str]]]]:
    """Fresh splitters per spaCy language, their pipelines built: the reference and the cached one."""
    from datatrove.utils.word_tokenizers import SpaCyTokenizer

    from crawlsieve.filters.spacy_words import ReferenceSpacyWords, SpacyWords

    def built(language: str) -> SpaCyTokenizer:
        tokenizer = SpaCyTokenizer(language)
        tokenizer.word_tokenize("probe")  # datatrove builds the pipeline on first use: now, not timed
        return tokenizer

    return {
        "reference": cache(lambda language: ReferenceSpacyWords(built(language))),
        "SpacyWords": cache(lambda language: SpacyWords(built(language))),
    }


def _spacy_docs(docs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(text, spaCy language of its splitter) for the pages whose language spaCy splits."""
    from crawlsieve.filters.languages import rules_for
    from crawlsieve.filters.spacy_words import SpacyWords

    splitters = {lang: rules_for(lang).split_words for _, lang in docs}
    return [
        (text, splitters[lang].language) for text, lang in docs if isinstance(splitters[lang], SpacyWords)
    ]


def _time_splitting(docs: list[tuple[str, str]], splitter_for) -> tuple[float, int]:
    start, words = time.process_time(), 0
    for text, language in docs:
        words += len(splitter_for(language)(text))
    return time.process_time() - start, words


def _cached_share(docs: list[tuple[str, str]], splitter_for) -> str:
    """The share of the docs' chunks that the cached splitters hold before the pass."""
    chunks = [(chunk, language) for text, language in docs for chunk in text.split()]
    held = sum(chunk in splitter_for(language).chunks for chunk, language in chunks)
    return f", {held / len(chunks):4.0%} of chunks cached"


def compare_splitters(docs: list[tuple[str, str]], repeat: int) -> None:
    """Timed on the odd-numbered pages: from empty caches; then, with new splitters warmed on the
    even-numbered ones, the first pass (pages unseen, most words seen) and ``repeat`` more."""
    docs = _spacy_docs(docs)
    warm_up, timed = docs[::2], docs[1::2]
    languages = sorted({language for _, language in docs})
    print(f"splitters: {len(timed)} docs in spaCy languages {', '.join(languages)} (CPU time)")
    seconds: dict[str, dict[str, list[float]]] = {}
    for warmed in (False, True):
        factories = _splitter_factories()
        for factory in factories.values():  # build the pipelines outside the timing
            for _, language in docs:
                factory(language)
            if warmed:
                _time_splitting(warm_up, factory)
        for round_ in range(repeat + 1 if warmed else 1):
            label = ("unseen docs" if round_ == 0 else f"warm {round_}") if warmed else "empty caches"
            for name, factory in factories.items():
                cached = _cached_share(timed, factory) if name == "SpacyWords" else ""
                elapsed, words = _time_splitting(timed, factory)
                seconds.setdefault(name, {}).setdefault(label.split()[0], []).append(elapsed)
                print(
                    f"  {label:12s} {name:10s} {elapsed / len(timed) * 1e3:7.2f} ms/doc"
                    f" {words / elapsed / 1e3:7.0f} k words/s{cached}"
                )
    ratios = {
        label: min(seconds["reference"][label]) / min(seconds["SpacyWords"][label])
        for label in seconds["reference"]
    }
    print(
        f"  reference / SpacyWords: {ratios['empty']:.1f}x from empty caches, {ratios['unseen']:.1f}x"
        f" on unseen docs after warming on the others, {ratios['warm']:.1f}x warm (best of {repeat})"
    )


@contextlib.contextmanager
def _stage_splitters(spacy_words: Callable[[str], Callable[[str], list[str]]] | None) -> Iterator[None]:
    """The filters get the cached splitters, or those of ``spacy_words`` (spaCy language ->
    splitter): the language rules are rebuilt with ``languages.spacy_words`` swapped."""
    from crawlsieve.filters import languages

    cached = languages.spacy_words
    languages.spacy_words = spacy_words or cached
    languages._rules.cache_clear()
    try:
        yield
    finally:
        languages.spacy_words = cached
        languages._rules.cache_clear()


def compare_stage(docs: list[tuple[str, str]], repeat: int) -> None:
    from crawlsieve.filters.config import FiltersConfig
    from crawlsieve.filters.languages import rules_for
    from crawlsieve.filters.stages import HeuristicFilterStage

    batch = _batch(docs)
    stage = HeuristicFilterStage(FiltersConfig())
    splitters = {"reference": _splitter_factories()["reference"], "SpacyWords": None}
    print(f"heuristic stage, default config, each page's language: {len(docs)} docs (CPU time)")
    seconds: dict[str, list[float]] = {name: [] for name in splitters}
    for round_ in range(repeat + 1):
        for name, spacy_words in splitters.items():
            with _stage_splitters(spacy_words):
                for _, language in docs:  # build pipelines and rules outside the timing
                    rules_for(language)
                start = time.process_time()
                stage(batch)
                elapsed = time.process_time() - start
            seconds[name].append(elapsed)
            label = "first" if round_ == 0 else f"warm {round_}"
            print(f"  {label:6s} with {name:10s} {elapsed / len(docs) * 1e3:6.2f} ms/doc")
    before, after = min(seconds["reference"][1:]), min(seconds["SpacyWords"][1:])
    print(f"  before / after: {before / after:.2f}x (best of {repeat} warm)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["datatrove", "splitters", "stage"],
        default=["datatrove", "splitters", "stage"],
    )
    args = parser.parse_args()
    docs = corpus_docs(args.corpus)
    if "splitters" in args.parts:
        compare_splitters(docs, args.repeat)
    if "stage" in args.parts:  # before the datatrove part warms the English splitter's cache
        compare_stage(docs, args.repeat)
    if "datatrove" in args.parts:
        compare_with_datatrove(docs, args.repeat)


if __name__ == "__main__":
    main()
