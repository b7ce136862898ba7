"""Our own repetition checks: long runs of one character, and lines of one repeated token.

A single page of ten thousand slashes once derailed a 100B-parameter training run; the
Gopher rules miss it (it is one "word"), so the longest run of one non-space character is
measured directly, as are lines where one token is most of the line ("buy buy buy ...").
"""

from __future__ import annotations

import re
from collections import Counter

from crawlsieve.filters.base import Rule, Signals, TextFilter, ratio
from crawlsieve.filters.config import RepetitionConfig
from crawlsieve.filters.text_stats import DocStats

_RUN = re.compile(r"(\S)\1{9,}")  # runs of 10+; shorter ones never matter
_MIN_LINE_TOKENS = 8


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
        longest = max((m.end() - m.start() for m in _RUN.finditer(stats.text)), default=0)
        counted = [line.split() for line in stats.nonblank_lines]
        counted = [tokens for tokens in counted if len(tokens) >= _MIN_LINE_TOKENS]
        repeated = sum(Counter(tokens).most_common(1)[0][1] * 2 > len(tokens) for tokens in counted)
        return {"char_run": longest, "token_repeat_line_frac": ratio(repeated, len(counted))}
