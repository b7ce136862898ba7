"""Gopher's repetition rules (Rae et al. 2021, table A1), as datatrove's GopherRepetitionFilter.

datatrove's own helper counts duplicated lines and paragraphs. The n-gram counts come from
the shared statistics: duplicated n-grams as datatrove's ``find_all_duplicate`` counts them,
and the top n-gram characters with the words of unspaced languages joined without spaces,
so Chinese and Japanese n-grams are not inflated by separators the text never had.
"""

from __future__ import annotations

from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates

from crawlsieve.core.errors import ConfigError
from crawlsieve.filters.base import Rule, Signals, TextFilter, ratio
from crawlsieve.filters.config import GopherRepetitionConfig
from crawlsieve.filters.text_stats import DocStats


class GopherRepetition(TextFilter):
    name = "gopher_repetition"
    config: GopherRepetitionConfig

    def __init__(self, config: GopherRepetitionConfig):
        super().__init__(config)
        # datatrove's order; an unset or zero threshold is off. The n-gram sizes are the config's.
        fractions = ("dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac")
        self.rules = (
            *(Rule(name, (name,), "above", name) for name in fractions),
            *(
                Rule(f"top_{n}_gram", (f"top_{n}_gram",), "above", "top_n_grams", entry=n)
                for n in sorted(config.top_n_grams)
            ),
            *(
                Rule(f"dup_{n}_gram", (f"dup_{n}_gram",), "above", "dup_n_grams", entry=n)
                for n in sorted(config.dup_n_grams)
            ),
        )

    def check_languages(self) -> None:
        """Also refuse a language's n-gram size the section lacks: its signal is not measured."""
        super().check_languages()
        for language in self.config.languages:
            for field in ("top_n_grams", "dup_n_grams"):
                sizes = set(getattr(self.config.thresholds_for(language, None), field))
                if extra := sorted(sizes - set(getattr(self.config, field))):
                    raise ConfigError(
                        f"{self.config_key}.languages.{language}.{field}: no signal for n={extra[0]}; "
                        f"add it to {field} of the section"
                    )

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
