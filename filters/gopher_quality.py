"""Gopher's quality rules (Rae et al. 2021, appendix A), as datatrove's GopherQualityFilter.

Same rules, order and thresholds as datatrove; the words and stop words come from the
document's language (``languages.py``) instead of English for every page.
"""

from __future__ import annotations

from crawlsieve.filters.base import Signals, above, below, ratio
from crawlsieve.filters.config import GopherQualityConfig
from crawlsieve.filters.text_stats import DocStats

_BULLETS = ("•", "-")
_ELLIPSES = ("...", "…")


def _has_letter(word: str) -> bool:
    """Any character of ``word`` is alphabetic; whole-letter words (most) answer in one call."""
    return word.isalpha() or any(map(str.isalpha, word))


class GopherQuality:
    name = "gopher_quality"

    def __init__(self, config: GopherQualityConfig):
        self.config = config
        self.mode = config.mode

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
            "alpha_words_frac": ratio(sum(1 for w in counted if _has_letter(w)), len(counted)),
            "stop_words": len(stop_words.intersection(words)) if stop_words else None,
        }

    def reason(self, s: Signals) -> str | None:
        c = self.config
        if below(s["word_count"], c.min_doc_words) or above(s["word_count"], c.max_doc_words):
            return "word_count"
        if below(s["mean_word_length"], c.min_avg_word_length) or above(
            s["mean_word_length"], c.max_avg_word_length
        ):
            return "mean_word_length"
        if above(s["hash_ratio"], c.max_symbol_word_ratio) or above(
            s["ellipsis_ratio"], c.max_symbol_word_ratio
        ):
            return "symbol_ratio"
        if above(s["bullet_lines_frac"], c.max_bullet_lines_ratio):
            return "bullet_lines"
        if above(s["ellipsis_lines_frac"], c.max_ellipsis_lines_ratio):
            return "ellipsis_lines"
        if below(s["alpha_words_frac"], c.min_alpha_words_ratio):
            return "alpha_ratio"
        if below(s["stop_words"], c.min_stop_words):
            return "stop_words"
        return None
