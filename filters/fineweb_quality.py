"""FineWeb's quality filter (datatrove's FineWebQualityFilter): signals and the same decisions."""

from __future__ import annotations

from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates
from datatrove.utils.text import TERMINAL_PUNCTUATION

from crawlsieve.filters.base import Signals, ratio
from crawlsieve.filters.config import FineWebQualityConfig
from crawlsieve.filters.text_stats import DocStats

_STOP_CHARS = tuple(TERMINAL_PUNCTUATION)


class FineWebQuality:
    name = "fineweb_quality"

    def __init__(self, config: FineWebQualityConfig):
        self.config = config
        self.mode = config.mode

    def signal_names(self) -> list[str]:
        return ["line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio"]

    def signals(self, stats: DocStats) -> Signals:
        lines = stats.nonblank_lines
        if not lines:
            return dict.fromkeys(self.signal_names(), None)
        newlines = stats.text.count("\n")
        words = len(stats.words)
        return {
            "line_punct_ratio": ratio(sum(line.endswith(_STOP_CHARS) for line in lines), len(lines)),
            "short_line_ratio": ratio(
                sum(len(line) <= self.config.short_line_length for line in lines), len(lines)
            ),
            "char_dup_ratio": ratio(find_duplicates(lines)[1], len(stats.text.replace("\n", ""))),
            "list_ratio": newlines / words if words else float(newlines > 0),
        }

    def reason(self, s: Signals) -> str | None:
        c = self.config
        if s["line_punct_ratio"] is None:
            return "empty"
        punct = s["line_punct_ratio"]
        if punct < c.line_punct_thr and not (punct == 0 and c.line_punct_exclude_zero):
            return "line_punct_ratio"
        if s["short_line_ratio"] > c.short_line_thr:
            return "short_line_ratio"
        if s["char_dup_ratio"] > c.char_duplicates_ratio:
            return "char_dup_ratio"
        if s["list_ratio"] > c.new_line_ratio:
            return "list_ratio"
        return None
