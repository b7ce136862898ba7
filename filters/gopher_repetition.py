"""Gopher's repetition rules (Rae et al. 2021, table A1), as datatrove's GopherRepetitionFilter.

datatrove's own helper counts duplicated lines and paragraphs. The n-gram counts come from
the shared statistics: duplicated n-grams as datatrove's ``find_all_duplicate`` counts them,
and the top n-gram characters with the words of unspaced languages joined without spaces,
so Chinese and Japanese n-grams are not inflated by separators the text never had.
"""

from __future__ import annotations

from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates

from crawlsieve.filters.base import Signals, above, ratio
from crawlsieve.filters.config import GopherRepetitionConfig
from crawlsieve.filters.text_stats import DocStats


class GopherRepetition:
    name = "gopher_repetition"

    def __init__(self, config: GopherRepetitionConfig):
        self.config = config
        self.mode = config.mode

    def signal_names(self) -> list[str]:
        names = ["dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"]
        names += [f"top_{n}_gram" for n in sorted(self.config.top_n_grams)]
        names += [f"dup_{n}_gram" for n in sorted(self.config.dup_n_grams)]
        return names

    def signals(self, stats: DocStats) -> Signals:
        size = len(stats.text)
        para_dups, para_dup_chars = find_duplicates(stats.paragraphs)
        line_dups, line_dup_chars = find_duplicates(stats.repetition_lines)
        signals: Signals = {
            "dup_para_frac": ratio(para_dups, len(stats.paragraphs)),
            "dup_para_char_frac": ratio(para_dup_chars, size),
            "dup_line_frac": ratio(line_dups, len(stats.repetition_lines)),
            "dup_line_char_frac": ratio(line_dup_chars, size),
        }
        for n in sorted(self.config.top_n_grams):
            signals[f"top_{n}_gram"] = ratio(stats.top_n_gram_chars(n), size)
        for n in sorted(self.config.dup_n_grams):
            # Character runs of unspaced scripts repeat short words by nature ("しています"):
            # the duplicated-n-gram rule is not applied to them (signal left empty).
            by_chars = stats.rules.by_characters
            signals[f"dup_{n}_gram"] = None if by_chars else ratio(stats.duplicate_n_gram_chars(n), size)
        return signals

    def reason(self, s: Signals) -> str | None:
        c = self.config
        for key, limit in (
            ("dup_para_frac", c.dup_para_frac),
            ("dup_para_char_frac", c.dup_para_char_frac),
            ("dup_line_frac", c.dup_line_frac),
            ("dup_line_char_frac", c.dup_line_char_frac),
        ):
            if above(s[key], limit):
                return key
        for n, limit in sorted(self.config.top_n_grams.items()):
            if above(s[f"top_{n}_gram"], limit):
                return f"top_{n}_gram"
        for n, limit in sorted(self.config.dup_n_grams.items()):
            if above(s[f"dup_{n}_gram"], limit):
                return f"dup_{n}_gram"
        return None
