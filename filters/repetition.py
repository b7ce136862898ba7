"""Our own repetition checks: long runs of one character, and lines of one repeated token.

A single page of ten thousand slashes once derailed a 100B-parameter training run; the
Gopher rules miss it (it is one "word"), so the longest run of one non-space character is
measured directly, as are lines where one token is most of the line ("buy buy buy ...").
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from crawlsieve.filters.base import Rule, Signals, TextFilter, ratio
from crawlsieve.filters.config import RepetitionConfig
from crawlsieve.filters.text_stats import DocStats

_MIN_RUN = 10  # shorter runs never matter
_MIN_LINE_TOKENS = 8


def longest_run(codes: np.ndarray) -> int:
    """The longest run of one non-space character in a text's code points if it has at least
    ``_MIN_RUN`` characters, else 0: the longest match of ``(\\S)\\1{9,}``, found by comparing each
    code point with the next (numpy) instead of trying the regex at every position (~3x faster)."""
    if len(codes) < _MIN_RUN:
        return 0
    starts = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))  # where each run starts
    lengths = np.concatenate((starts[1:], [len(codes)])) - starts
    long = np.flatnonzero(lengths >= _MIN_RUN).tolist()
    return max((int(lengths[i]) for i in long if not chr(codes[starts[i]]).isspace()), default=0)


class Repetition(TextFilter):
    config: RepetitionConfig
    name = "repetition"
    rules = (
        Rule("char_run", ("char_run",), "above", "max_char_run"),
        Rule("line_token_repeat", ("token_repeat_line_frac",), "above", "max_token_repeat_line_frac"),
    )

    def signal_names(self) -> list[str]:
        return ["char_run", "token_repeat_line_frac"]

    def signals(self, stats: DocStats) -> Signals:
        counted = [line.split() for line in stats.nonblank_lines]
        counted = [tokens for tokens in counted if len(tokens) >= _MIN_LINE_TOKENS]
        repeated = sum(max(Counter(tokens).values()) * 2 > len(tokens) for tokens in counted)
        return {
            "char_run": longest_run(stats.code_points),
            "token_repeat_line_frac": ratio(repeated, len(counted)),
        }
