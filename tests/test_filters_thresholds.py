"""Each threshold's what-if count is what its filter removes: over every page of the shared corpus.

The what-if counts (stats.json ``what_if``, the report) say, per threshold, how many documents it
alone removes; `crawlsieve refilter` re-decides from the same stored signals. Both must agree
with the filters themselves, for every threshold and every document: the filter is run with that
one threshold live (its other thresholds moved out of reach, the other filters off) and the
documents it removes are compared with the documents the what-if counts at x1.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from crawlsieve.filters.classifier import QualityClassifierStage
from crawlsieve.filters.config import FiltersConfig
from crawlsieve.filters.refilter import what_if_counts, what_if_section
from crawlsieve.filters.stages import HeuristicFilterStage

TEXT_FILTERS = (
    "repetition",
    "compression",
    "chinese",
    "fineweb_quality",
    "gopher_repetition",
    "gopher_quality",
    "c4",
)
#: Thresholds near the corpus's medians, so every rule removes some pages and keeps others, with
#: FineWeb's line_punct_exclude_zero on (eight pages have no line ending in punctuation).
STRICT = {
    "repetition": {"max_char_run": 12, "max_token_repeat_line_frac": 0.05},
    "compression": {"max_ratio": 2.1},
    "fineweb_quality": {
        "line_punct_thr": 0.6,
        "line_punct_exclude_zero": True,
        "short_line_thr": 0.1,
        "char_duplicates_ratio": 0.005,
        "new_line_ratio": 0.025,
    },
    "gopher_repetition": {
        "dup_line_frac": 0.05,
        "dup_para_frac": 0.05,
        "dup_line_char_frac": 0.01,
        "dup_para_char_frac": 0.01,
        "top_n_grams": {2: 0.012, 3: 0.012, 4: 0.013},
        "dup_n_grams": {5: 0.006, 6: 0.006, 7: 0.005, 8: 0.005, 9: 0.005, 10: 0.005},
    },
    "gopher_quality": {
        "min_doc_words": 500,
        "max_doc_words": 900,
        "min_avg_word_length": 5.0,
        "max_avg_word_length": 5.5,
        "max_symbol_word_ratio": 0.002,
        "max_bullet_lines_ratio": 0.2,
        "max_ellipsis_lines_ratio": 0.05,
        "min_alpha_words_ratio": 0.98,
        "min_stop_words": 11,
    },
    "c4": {"min_num_sentences": 7},
    "quality_classifier": {"min_score": 0.5},
}
#: A threshold value no document reaches, by the way the threshold removes.
OUT_OF_REACH = {"above": 1e18, "below": -1e18}


def _table(docs: list[dict]) -> pa.Table:
    return pa.table(
        {key: [doc[key] for doc in docs] for key in ("id", "url", "text", "language", "language_score")}
    )


def _with(config: FiltersConfig, key: str, value) -> FiltersConfig:
    """``config`` with the threshold ``key`` (a what-if key: ``section.field[.n]``) at ``value``,
    set past validation (a value out of reach may lie outside the field's range)."""
    section, field, *entry = key.split(".")
    part = getattr(config, section)
    if entry:
        value = {**getattr(part, field), int(entry[0]): value}
    return config.model_copy(update={section: part.model_copy(update={field: value})})


def _modes(config: FiltersConfig, drop: str | None) -> FiltersConfig:
    """Every text filter off but ``drop`` (in drop mode); the quality classifier tags unless it is
    ``drop``."""
    config = config.model_copy(deep=True)
    for name in TEXT_FILTERS:
        getattr(config, name).mode = "drop" if name == drop else "off"
    config.quality_classifier.mode = "drop" if drop == "quality_classifier" else "tag"
    return config


def _removed(table: pa.Table, config: FiltersConfig, section: str) -> set[int]:
    """The rows the filter ``section`` removes on its own under ``config``."""
    config = _modes(config, section)
    if section == "quality_classifier":
        out = QualityClassifierStage(config.quality_classifier)(table)
    else:
        out = HeuristicFilterStage(config)(table)
    return {row for row, reason in enumerate(out.column("_removed").to_pylist()) if reason}


def _measured(table: pa.Table, config: FiltersConfig) -> pa.Table:
    """Every signal of every document, as a run with ``compute_all_signals`` stores them."""
    config = config.model_copy(deep=True)
    for name in TEXT_FILTERS:
        getattr(config, name).mode = "tag"
    return QualityClassifierStage(config.quality_classifier)(HeuristicFilterStage(config)(table))


def _section(rule: dict) -> str:
    return rule["threshold"].split(".")[0]


def _out_of_reach(config: FiltersConfig, rules: list[dict], section: str, but: str | None = None):
    """``config`` with every threshold of ``section`` but ``but`` out of reach."""
    for rule in rules:
        if _section(rule) == section and rule["threshold"] != but:
            config = _with(config, rule["threshold"], OUT_OF_REACH[rule["removes"]])
    return config


def _at_x1(rule: dict) -> int:
    return next(entry["documents"] for entry in rule["removed_at"] if entry["step"] == 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("thresholds", [{}, STRICT], ids=["defaults", "strict"])
def test_every_thresholds_what_if_count_is_what_its_filter_alone_removes(corpus_docs, thresholds):
    config = FiltersConfig.model_validate(thresholds)
    table = _table(corpus_docs)
    measured = _measured(table, config)
    rules = what_if_section(config, what_if_counts(measured, None, config))
    # The documents the what-if counts for each threshold at x1, one document at a time.
    by_what_if: dict[str, set[int]] = {rule["threshold"]: set() for rule in rules}
    for row in range(measured.num_rows):
        for rule in what_if_section(config, what_if_counts(measured.slice(row, 1), None, config)):
            if _at_x1(rule):
                by_what_if[rule["threshold"]].add(row)
    # Rules that are no threshold (C4's lorem ipsum and curly bracket) remove whatever the
    # thresholds: the documents they remove say nothing about a threshold.
    sections = {_section(rule) for rule in rules}
    fixed = {s: _removed(table, _out_of_reach(config, rules, s), s) for s in sections}
    wrong, shown = [], []
    for rule in rules:
        key, section = rule["threshold"], _section(rule)
        alone = _removed(table, _out_of_reach(config, rules, section, but=key), section) - fixed[section]
        counted = by_what_if[key] - fixed[section]
        shown.append(f"{key}: {len(alone)}")
        if alone != counted or _at_x1(rule) != len(by_what_if[key]):
            urls = [corpus_docs[row]["url"] for row in sorted(alone ^ counted)[:3]]
            wrong.append(f"{key}: filter removes {len(alone)}, what-if counts {_at_x1(rule)}; e.g. {urls}")
    print(f"\n{len(rules)} thresholds, documents each removes alone: {', '.join(shown)}")
    assert len(rules) >= 25
    assert not wrong, "\n".join(wrong)


# --- the declaration, one threshold at a time -------------------------------------------------

#: Three paragraphs of three, two and one sentences.
ARTICLE = (
    "The river authority published a long report about the floods of the last winter. It describes how "
    "the water rose in the northern district and what the city will do next. Several volunteers helped "
    "the families who had to leave their homes for a few days.\n\n"
    "The mayor thanked them at a public meeting in the town hall on Friday evening, where many of the "
    "residents had come to hear about the new dams. She said that the work on the first of them would "
    "begin in the spring and that the region had promised to pay for most of it.\n\n"
    "A second meeting about the cost of the repairs to the old bridge will be held at the end of the month."
)
SHORT = (
    "The committee met on Tuesday to discuss the new budget for the coming year and the plan for the bridge."
)


def _docs(texts: list[str], languages: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table(
        {
            "id": [str(i) for i in range(n)],
            "url": [f"https://example.com/{i}" for i in range(n)],
            "text": texts,
            "language": languages,
            "language_score": [0.99] * n,
        }
    )


def _only(name: str, **fields) -> FiltersConfig:
    """The default config with only the text filter ``name`` deciding (the others tag)."""
    config = FiltersConfig()
    for other in TEXT_FILTERS:
        getattr(config, other).mode = "drop" if other == name else "tag"
    for field, value in fields.items():
        setattr(getattr(config, name), field, value)
    return config


def _what_if(docs: pa.Table, config: FiltersConfig) -> dict[str, dict]:
    return {rule["threshold"]: rule for rule in what_if_section(config, what_if_counts(docs, None, config))}


def test_thresholds_resolved_per_language_judge_alike_in_the_filter_the_what_if_counts_and_refilter(
    monkeypatch,
):
    """The seam per-language tables plug into: a threshold that differs for German judges the
    German page so in the stage, in the what-if counts and in `refilter`'s re-decision."""
    from crawlsieve.filters.config import GopherQualityConfig
    from crawlsieve.filters.refilter import redecide

    def german_is_laxer(section, language, genre):
        return section.model_copy(update={"min_doc_words": 10}) if language == "de" else section

    monkeypatch.setattr(GopherQualityConfig, "thresholds_for", german_is_laxer)
    config = _only("gopher_quality", min_stop_words=None)
    judged = HeuristicFilterStage(config)(_docs([SHORT, SHORT], ["en", "de"]))
    assert judged.column("_removed").to_pylist() == ["gopher_quality:word_count", None]
    assert _at_x1(_what_if(judged, config)["gopher_quality.min_doc_words"]) == 1
    reasons, stages = redecide(judged, config, [None, None], [True, True])
    assert reasons == ["gopher_quality:word_count", None]
    assert stages == ["heuristic_filters", None]


def test_gopher_symbol_ratio_bounds_ellipses_as_well_as_hashes_in_the_what_if_counts():
    config = _only("gopher_quality")
    dots = " ".join(word + "..." * (i % 5 == 4) for i, word in enumerate(ARTICLE.split(" ")))
    judged = HeuristicFilterStage(config)(_docs([ARTICLE, dots], ["en", "en"]))
    assert judged.column("_removed").to_pylist() == [None, "gopher_quality:symbol_ratio"]
    assert judged.column("sig_gopher_quality_hash_ratio").to_pylist() == [0.0, 0.0]
    rule = _what_if(judged, config)["gopher_quality.max_symbol_word_ratio"]
    assert rule["signal"] == "sig_gopher_quality_hash_ratio or sig_gopher_quality_ellipsis_ratio"
    assert _at_x1(rule) == 1


def test_fineweb_spares_pages_without_any_punctuated_line_when_told_to_and_the_what_if_counts_do_too():
    menu = "\n".join(f"The latest news from the city council and the region, part {i}" for i in range(5))
    for exclude_zero, removed in ((False, "fineweb_quality:line_punct_ratio"), (True, None)):
        config = _only("fineweb_quality", line_punct_exclude_zero=exclude_zero)
        judged = HeuristicFilterStage(config)(_docs([menu], ["en"]))
        assert judged.column("sig_fineweb_quality_line_punct_ratio").to_pylist() == [0.0]
        assert judged.column("_removed").to_pylist() == [removed]
        assert _at_x1(_what_if(judged, config)["fineweb_quality.line_punct_thr"]) == (removed is not None)


def test_a_zero_fineweb_threshold_is_a_threshold_and_a_zero_gopher_one_is_off():
    """As datatrove's filters: FineWeb compares with 0, Gopher turns the rule off."""
    page = ARTICLE + "\nRead more about the budget.\nRead more about the budget."
    config = _only("fineweb_quality", char_duplicates_ratio=0.0)
    config.gopher_quality.min_doc_words = 0
    judged = HeuristicFilterStage(config)(_docs([page, ARTICLE], ["en", "en"]))
    assert judged.column("_removed").to_pylist() == ["fineweb_quality:char_dup_ratio", None]
    what_if = _what_if(judged, config)
    assert what_if["fineweb_quality.char_duplicates_ratio"]["current"] == 0.0
    assert _at_x1(what_if["fineweb_quality.char_duplicates_ratio"]) == 1
    assert "gopher_quality.min_doc_words" not in what_if


def test_c4_counts_sentences_only_up_to_its_threshold_so_no_higher_one_can_be_judged_from_them():
    from crawlsieve.core.errors import ConfigError
    from crawlsieve.filters.refilter import check_refilter

    config = _only("c4")
    counted = HeuristicFilterStage(config)(_docs([ARTICLE], ["en"]))
    every = HeuristicFilterStage(_only("c4", min_num_sentences=100))(_docs([ARTICLE], ["en"]))
    counted_up_to_5, all_sentences = (
        counted["sig_c4_sentences"][0].as_py(),
        every["sig_c4_sentences"][0].as_py(),
    )
    assert 5 <= counted_up_to_5 < all_sentences  # stopped counting once it had enough
    steps = {
        e["step"]: e["documents"] for e in _what_if(counted, config)["c4.min_num_sentences"]["removed_at"]
    }
    assert steps == {0.5: 0, 0.75: 0, 1.0: 0, 1.25: None, 1.5: None}  # unknown above x1
    lower, higher = _only("c4", min_num_sentences=3), _only("c4", min_num_sentences=all_sentences)
    check_refilter(config, lower)
    with pytest.raises(ConfigError, match=r"^filters\.c4\.min_num_sentences is above the run's"):
        check_refilter(config, higher)
    with pytest.raises(ConfigError, match=r"^filters\.c4\.min_num_sentences is above the run's"):
        check_refilter(_only("c4", min_num_sentences=-1), config)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            {"gopher_repetition": {"top_n_grams": {2: 0.2, 3: 0.18, 4: 0.16, 5: 0.15}}},
            "filters.gopher_repetition",
        ),
        ({"fineweb_quality": {"short_line_length": 40}}, "filters.fineweb_quality.short_line_length"),
        (
            {"gopher_quality": {"alpha_ratio_over_words": False}},
            "filters.gopher_quality.alpha_ratio_over_words",
        ),
        ({"kenlm": {"model_path": "lm.arpa"}}, "filters.kenlm"),
    ],
)
def test_refilter_refuses_a_change_of_what_the_signals_are_naming_the_filter(change, named):
    from crawlsieve.core.errors import ConfigError
    from crawlsieve.filters.refilter import check_refilter

    with pytest.raises(ConfigError, match=rf"^{named.replace('.', '[.]')}\b"):
        check_refilter(FiltersConfig(), FiltersConfig.model_validate(change))


def test_refilter_accepts_fewer_n_gram_sizes_and_new_values_for_every_threshold():
    from crawlsieve.filters.refilter import check_refilter

    check_refilter(FiltersConfig(), FiltersConfig.model_validate({**STRICT, "c4": {"min_num_sentences": 3}}))
    check_refilter(
        FiltersConfig(), FiltersConfig.model_validate({"gopher_repetition": {"top_n_grams": {2: 0.1}}})
    )


def test_kenlm_is_judged_listed_and_counted_from_its_declaration():
    from crawlsieve.filters.classifier import KenlmPerplexityStage
    from crawlsieve.filters.refilter import filter_stage_names, signal_columns

    config = FiltersConfig.model_validate(
        {"kenlm": {"model_path": "lm.arpa", "mode": "drop", "max_perplexity": 100}}
    )
    assert filter_stage_names(config) == ["heuristic_filters", "quality_classifier", "kenlm"]
    assert signal_columns(config)[-1] == "sig_kenlm_perplexity"
    batch = KenlmPerplexityStage(config.kenlm).decide(_docs(["a", "b", "c"], ["en"] * 3), [50.0, 500.0, None])
    assert batch.column("_removed").to_pylist() == [None, "kenlm:perplexity", None]
    rule = _what_if(batch, config)["kenlm.max_perplexity"]
    assert (rule["signal"], rule["removes"], _at_x1(rule)) == ("sig_kenlm_perplexity", "above", 1)
    assert "kenlm.max_perplexity" not in _what_if(batch, FiltersConfig())


def test_the_signal_columns_refilter_expects_are_the_columns_the_filters_write():
    from crawlsieve.filters.classifier import default_quality_model_path
    from crawlsieve.filters.refilter import signal_columns
    from crawlsieve.filters.stages import post_language_stages

    config = FiltersConfig.model_validate(
        {
            "compute_all_signals": True,
            "classifiers": [{"name": "edu", "model_path": default_quality_model_path()}],
        }
    )
    [stage] = post_language_stages(config)
    written = stage(_docs([ARTICLE, SHORT], ["en", "de"])).column_names
    assert [c for c in written if c.startswith("sig_") or c == "quality_score"] == signal_columns(config)
