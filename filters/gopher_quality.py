"""Gopher's quality rules (Rae et al. 2021, appendix A), as datatrove's GopherQualityFilter.

Same rules, order and thresholds as datatrove; the words and stop words come from the
document's language (``languages.py``) instead of English for every page.
"""

from __future__ import annotations

from itertools import filterfalse

from crawlsieve.filters.base import Rule, Signals, TextFilter, ratio
from crawlsieve.filters.config import GopherQualityConfig
from crawlsieve.filters.text_stats import DocStats

_BULLETS = ("•", "-")
_ELLIPSES = ("...", "…")


def letter_words(words: list[str]) -> int:
    """How many ``words`` have an alphabetic character: the whole-letter words (most) are counted
    in C, only the others character by character."""
    others = list(filterfalse(str.isalpha, words))
    return len(words) - len(others) + sum(1 for word in others if any(map(str.isalpha, word)))


class GopherQuality(TextFilter):
    config: GopherQualityConfig
    name = "gopher_quality"
    signal_fields = ("alpha_ratio_over_words",)
    #: datatrove's order; an unset or zero threshold is off. The symbol ratio bounds both '#' and ellipses.
    rules = (
        Rule("word_count", ("word_count",), "below", "min_doc_words"),
        Rule("word_count", ("word_count",), "above", "max_doc_words"),
        Rule("mean_word_length", ("mean_word_length",), "below", "min_avg_word_length"),
        Rule("mean_word_length", ("mean_word_length",), "above", "max_avg_word_length"),
        Rule("symbol_ratio", ("hash_ratio", "ellipsis_ratio"), "above", "max_symbol_word_ratio"),
        Rule("bullet_lines", ("bullet_lines_frac",), "above", "max_bullet_lines_ratio"),
        Rule("ellipsis_lines", ("ellipsis_lines_frac",), "above", "max_ellipsis_lines_ratio"),
        Rule("alpha_ratio", ("alpha_words_frac",), "below", "min_alpha_words_ratio"),
        Rule("stop_words", ("stop_words",), "below", "min_stop_words"),
    )

    def signal_names(self) -> list[str]:
        return [
            "word_count",
            "mean_word_length",
            "hash_ratio",
            "ellipsis_ratio",
            "bullet_lines_frac",
            "ellipsis_lines_frac",
            "alpha_words_frac",
            "stop_words",
        ]

    def signals(self, stats: DocStats) -> Signals:
        text, words, content = stats.text, stats.words, stats.non_symbol_words
        lines = stats.lines
        counted = content if self.config.alpha_ratio_over_words else words
        stop_words = stats.rules.stop_words
        return {
            "word_count": len(content),
            # Words of unspaced languages are one or two characters: the rule does not apply.
            "mean_word_length": None if stats.rules.unspaced else ratio(sum(map(len, content)), len(content)),
            "hash_ratio": ratio(text.count("#"), len(words)),
            "ellipsis_ratio": ratio(text.count("...") + text.count("…"), len(words)),
            "bullet_lines_frac": ratio(sum(s.lstrip().startswith(_BULLETS) for s in lines), len(lines)),
            "ellipsis_lines_frac": ratio(sum(s.rstrip().endswith(_ELLIPSES) for s in lines), len(lines)),
            "alpha_words_frac": ratio(letter_words(counted), len(counted)),
            "stop_words": len(stop_words.intersection(words)) if stop_words else None,
        }
