"""Per-document text statistics, computed once and shared by every filter that needs them.

Each property is computed on first use and kept, so a document that the cheap filters
already removed never pays for word splitting, and Gopher, FineWeb and C4 reuse one split.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from functools import cached_property
from itertools import filterfalse
from typing import Any

import numpy as np
from datatrove.utils.text import PUNCTUATION_SET

from crawlsieve.filters.languages import LanguageRules

_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_LINE_BREAKS = re.compile("\n+")


def code_points(text: str) -> np.ndarray:
    """The text's code points (numpy ``uint32``), for the statistics computed over all of them at once."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


class DocStats:
    """Lazily computed views of one document's text under its language's rules, with the page's
    URL, title and link texts for the filters that judge more than the text (spam)."""

    def __init__(
        self,
        text: str,
        rules: LanguageRules,
        published: str | None = None,
        *,
        url: str | None = None,
        title: str | None = None,
        anchors: str | None = None,
    ):
        #: What the filters judge: the page, or its Simplified conversion (``filters.cjk``).
        self.text = text
        #: The page as written, when ``text`` is a conversion of it with the same lines.
        self.published = text if published is None else published
        self.rules = rules
        self.url = url or ""
        self.title = title or ""
        #: the page's short link texts, one per line (``ingest.extractors.title_and_anchors``)
        self.anchors = anchors or ""
        self._shared: dict[str, Any] = {}

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """A result one filter computes and another step reuses (C4's cleaned lines)."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    @cached_property
    def code_points(self) -> np.ndarray:
        return code_points(self.text)

    @cached_property
    def lines(self) -> list[str]:
        """``str.splitlines()``: Gopher quality's and C4's notion of a line."""
        return self.text.splitlines()

    @cached_property
    def published_lines(self) -> list[str]:
        """``lines`` of the page as written: the lines a filter that cuts lines keeps."""
        return self.published.splitlines() if self.published is not self.text else self.lines

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
        """Words with at least one character that is not punctuation or a symbol (datatrove's set)."""
        return list(filterfalse(PUNCTUATION_SET.issuperset, self.words))

    def _joined(self, joiner: str) -> JoinedWords:
        return self.shared(f"joined:{joiner}", lambda: JoinedWords(self.words, joiner))

    def top_n_gram_chars(self, n: int) -> int:
        """Characters covered by the most frequent n-gram (its length times its count).

        As ``Counter`` over all n-grams and ``most_common(1)`` (the first n-gram to reach the highest
        count wins a tie), counting only the n-grams that may repeat: every other one occurs
        once, so when nothing repeats the winner is the first n-gram, once.
        """
        joined = self._joined(self.rules.ngram_joiner)
        if joined.count(n) == 0:
            return 0
        found = joined.most_common(n)
        if found is None:  # two different n-grams share a hash: count the strings themselves
            grams = Counter(joined.n_gram(i, n) for i in range(joined.count(n)))
            gram, count = grams.most_common(1)[0]
            return len(gram) * count
        position, count = found
        return len(joined.n_gram(position, n)) * count

    def duplicate_n_gram_chars(self, n: int) -> int:
        """datatrove's ``find_all_duplicate(words, n)``: characters of repeated n-grams.

        Written out here because datatrove joins every n-gram anew, the costliest step of
        the Gopher filters. Same strings (words joined by nothing, so different splits of one
        string are one n-gram, as there) and same left-to-right scan: a repeat adds its length
        and skips ``n`` words, anything else is remembered and the scan moves one word on.
        Only n-grams that may repeat are visited: any other is never met again, so
        remembering it or not changes nothing. ``tests/test_filters_fast_paths.py`` pins this
        to datatrove's function.
        """
        joined = self._joined("")
        seen: set[str] = set()
        repeated_chars, idx = 0, 0
        for position in joined.maybe_repeated(n):
            if position < idx:  # skipped over by an earlier repeat
                continue
            gram = joined.n_gram(position, n)
            if gram in seen:
                repeated_chars += len(gram)
                idx = position + n
            else:
                seen.add(gram)
                idx = position + 1
        return repeated_chars


class JoinedWords:
    """A document's words joined once, so every n-gram is one slice of one string.

    ``n_gram(i, n)`` is ``joiner.join(words[i : i + n])``. Which n-grams may occur more
    than once is found from a polynomial hash of each n-gram (numpy, over the joined text's
    code points) without building the strings: equal strings have equal hashes, so an
    n-gram whose hash is unique occurs once; hash collisions only add candidates, which the
    callers compare as strings.
    """

    _BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64 (numpy's uint64 wraps)

    def __init__(self, words: list[str], joiner: str):
        self.text = joiner.join(words) + joiner
        self.cut = len(joiner)
        starts = np.zeros(len(words) + 1, dtype=np.int64)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        np.cumsum(lengths + self.cut, out=starts[1:])
        self._starts = starts
        self.starts: list[int] = starts.tolist()
        self._prefix_hashes: tuple[np.ndarray, np.ndarray] | None = None

    def count(self, n: int) -> int:
        return max(len(self.starts) - n, 0)

    def n_gram(self, i: int, n: int) -> str:
        return self.text[self.starts[i] : self.starts[i + n] - self.cut]

    def maybe_repeated(self, n: int) -> list[int]:
        """Positions (ascending) of the n-grams whose hash another n-gram shares."""
        if self.count(n) < 2:
            return []
        order, keys = self._by_hash(n)
        same = keys[1:] == keys[:-1]
        if not same.any():
            return []
        shared = np.zeros(len(order), dtype=bool)
        shared[1:] = same
        shared[:-1] |= same
        return np.sort(order[shared]).tolist()

    def most_common(self, n: int) -> tuple[int, int] | None:
        """(position, count) of the n-gram ``Counter.most_common(1)`` over all n-grams gives: the
        most frequent, the first to occur of equally frequent ones. Counted by hash, then checked:
        ``None`` when the n-grams of the winning hash are not all the same string (a collision)."""
        order, keys = self._by_hash(n)
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        sizes = np.concatenate((starts[1:], [len(order)])) - starts
        best = sizes.max()
        firsts = np.minimum.reduceat(order, starts)  # each hash's first position
        winner = int(np.argmin(np.where(sizes == best, firsts, len(order))))
        position = int(firsts[winner])
        gram = self.n_gram(position, n)
        group = order[starts[winner] : starts[winner] + best].tolist()
        if any(self.n_gram(i, n) != gram for i in group):
            return None
        return position, int(best)

    def _by_hash(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The n-gram positions in the order of their hashes, and those hashes (ascending)."""
        prefix, inverse_powers = self._hashes()
        begin, end = self._starts[:-n], self._starts[n:] - self.cut
        keys = (prefix[end] - prefix[begin]) * inverse_powers[begin]
        order = np.argsort(keys)
        return order, keys[order]

    def _hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """Prefix sums of code point times ``BASE**(k+1)``, and the inverse powers.

        ``(prefix[e] - prefix[s]) * BASE**-(s+1)`` hashes ``text[s:e]`` wherever it occurs.
        """
        if self._prefix_hashes is None:
            codes = code_points(self.text).astype(np.uint64)
            size = len(codes) + 1
            powers = np.cumprod(np.full(size, self._BASE, dtype=np.uint64))
            inverse_powers = np.cumprod(np.full(size, pow(self._BASE, -1, 2**64), dtype=np.uint64))
            prefix = np.zeros(size, dtype=np.uint64)
            np.cumsum(codes * powers[: size - 1], out=prefix[1:])
            self._prefix_hashes = (prefix, inverse_powers)
        return self._prefix_hashes
