"""Per-document text statistics, computed once and shared by every filter that needs them.

Each property is computed on first use and kept, so a document that the cheap filters
already removed never pays for word splitting, and Gopher, FineWeb and C4 reuse one split.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from functools import cached_property
from typing import Any

from crawlsieve.filters.languages import LanguageRules

_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile("\n+")


class DocStats:
    """Lazily computed views of one document's text under its language's rules."""

    def __init__(self, text: str, rules: LanguageRules):
        self.text = text
        self.rules = rules
        self._shared: dict[str, Any] = {}

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """A result one filter computes and another step reuses (C4's cleaned lines)."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    @cached_property
    def lines(self) -> list[str]:
        """``str.splitlines()``: Gopher quality's and C4's notion of a line."""
        return self.text.splitlines()

    @cached_property
    def nonblank_lines(self) -> list[str]:
        """Lines split on ``\\n`` that are not blank: FineWeb's notion of a line."""
        return [line for line in self.text.split("\n") if line.strip()]

    @cached_property
    def repetition_lines(self) -> list[str]:
        """Lines split on runs of ``\\n``: Gopher repetition's notion of a line."""
        return _LINE_BREAKS.split(self.text)

    @cached_property
    def paragraphs(self) -> list[str]:
        return _PARAGRAPH_BREAK.split(self.text.strip())

    @cached_property
    def words(self) -> list[str]:
        return self.rules.split_words(self.text)

    @cached_property
    def non_symbol_words(self) -> list[str]:
        from datatrove.utils.text import PUNCTUATION_SET

        return [w for w in self.words if any(ch not in PUNCTUATION_SET for ch in w)]

    def n_grams(self, n: int) -> list[str]:
        """Word n-grams, joined by a space (spaced languages, as Gopher) or by nothing."""
        words, joiner = self.words, self.rules.ngram_joiner
        return [joiner.join(words[i : i + n]) for i in range(len(words) - n + 1)]

    def top_n_gram_chars(self, n: int) -> int:
        """Characters covered by the most frequent n-gram (its length times its count)."""
        counts = Counter(self.n_grams(n))
        if not counts:
            return 0
        gram, count = counts.most_common(1)[0]
        return len(gram) * count
