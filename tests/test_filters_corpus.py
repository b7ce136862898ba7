"""The filters over the real pages of ../shared/corpus: agreement with datatrove, languages kept."""

from __future__ import annotations

import pyarrow as pa
import pytest

from crawlsieve.filters.c4 import C4
from crawlsieve.filters.config import FiltersConfig
from crawlsieve.filters.fineweb_quality import FineWebQuality
from crawlsieve.filters.gopher_quality import GopherQuality
from crawlsieve.filters.gopher_repetition import GopherRepetition
from crawlsieve.filters.languages import rules_for
from crawlsieve.filters.stages import HeuristicFilterStage
from crawlsieve.filters.text_stats import DocStats


def _datatrove_filters():
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    config = FiltersConfig()
    config.gopher_quality.alpha_ratio_over_words = False  # datatrove's definition
    return [
        (GopherRepetitionFilter(), GopherRepetition(config.gopher_repetition)),
        (GopherQualityFilter(), GopherQuality(config.gopher_quality)),
        (C4QualityFilter(filter_no_terminal_punct=False), C4(config.c4)),
        (FineWebQualityFilter(), FineWebQuality(config.fineweb_quality)),
    ]


@pytest.mark.slow
def test_decisions_agree_with_datatrove_on_the_shared_corpus(corpus_docs, capsys):
    """Each of our filters with English rules (as datatrove's FineWeb stack) vs datatrove's own."""
    from datatrove.data import Document

    english = rules_for("de", per_language=False)
    compared = agreed = 0
    disagreements = []
    for reference, ours in _datatrove_filters():
        for doc in corpus_docs:
            kept_by_datatrove = reference.filter(Document(text=doc["text"], id=doc["id"])) is True
            kept_by_us = ours.reason(ours.signals(DocStats(doc["text"], english))) is None
            compared += 1
            agreed += kept_by_datatrove == kept_by_us
            if kept_by_datatrove != kept_by_us:
                disagreements.append((ours.name, doc["url"]))
    rate = agreed / compared
    with capsys.disabled():  # the rate is part of the result: shown without -s too
        print(
            f"\ndatatrove agreement: {agreed}/{compared} filter decisions = {rate:.2%};"
            f" differ: {disagreements}"
        )
    assert rate == 1.0, disagreements


def _table(docs: list[dict]) -> pa.Table:
    return pa.table(
        {key: [doc[key] for doc in docs] for key in ("id", "url", "text", "language", "language_score")}
    )


def test_per_language_rules_keep_german_and_french_pages_the_english_stop_words_remove(corpus_docs):
    pages = [d for d in corpus_docs if d["language"] in ("de", "fr")]
    english = HeuristicFilterStage(FiltersConfig(per_language_rules=False))(_table(pages))
    own = HeuristicFilterStage(FiltersConfig())(_table(pages))
    english_stop = english.column("_removed").to_pylist().count("gopher_quality:stop_words")
    own_stop = own.column("_removed").to_pylist().count("gopher_quality:stop_words")
    kept = own.column("_removed").null_count
    print(f"\nde+fr pages: {len(pages)}; English stop-word rule removes {english_stop}, own rules {own_stop}")
    assert english_stop > 50
    assert own_stop <= 2
    assert kept > len(pages) * 0.6


def test_japanese_pages_of_the_corpus_are_judged_by_characters_and_kept(corpus_docs):
    pages = [d for d in corpus_docs if d["language"] == "ja" and len(d["text"]) > 500]
    if not pages:
        pytest.skip("no Japanese page with text in the corpus")
    out = HeuristicFilterStage(FiltersConfig())(_table(pages))
    assert out.column("_removed").to_pylist() == [None] * len(pages)
    assert all(v and v >= 50 for v in out.column("sig_gopher_quality_word_count").to_pylist())


def test_alpha_ratio_over_words_keeps_number_heavy_news_that_datatrove_counting_removes(corpus_docs):
    pages = _table([d for d in corpus_docs if d["language"] == "en"])
    datatrove_way = FiltersConfig()
    datatrove_way.gopher_quality.alpha_ratio_over_words = False
    before = HeuristicFilterStage(datatrove_way)(pages).column("_removed").to_pylist()
    after = HeuristicFilterStage(FiltersConfig())(pages).column("_removed").to_pylist()
    print(f"\nalpha_ratio removals: {before.count('gopher_quality:alpha_ratio')} -> "
          f"{after.count('gopher_quality:alpha_ratio')} of {len(after)} English pages")  # fmt: skip
    assert after.count("gopher_quality:alpha_ratio") < before.count("gopher_quality:alpha_ratio") / 2
    assert after.count(None) > before.count(None)
