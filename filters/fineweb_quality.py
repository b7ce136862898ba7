"""FineWeb's quality filter (datatrove's FineWebQualityFilter): signals and the same decisions;
a Chinese or Japanese line may also end in their other sentence ends (``cjk.line_end_punctuation``)."""

from __future__ import annotations

from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates

from crawlsieve.filters.base import Rule, Signals, TextFilter, ratio
from crawlsieve.filters.cjk import line_end_punctuation
from crawlsieve.filters.config import FineWebQualityConfig
from crawlsieve.filters.text_stats import DocStats


class FineWebQuality(TextFilter):
    config: FineWebQualityConfig
    name = "fineweb_quality"
    signal_fields = ("short_line_length",)
    #: As datatrove's: a zero threshold is a threshold; a page without a non-blank line is "empty".
    rules = (
        Rule("empty", ("line_punct_ratio",), "unmeasured"),
        Rule(
            "line_punct_ratio",
            ("line_punct_ratio",),
            "below",
            "line_punct_thr",
            off_at=(),
            spare_zero="line_punct_exclude_zero",
        ),
        Rule("short_line_ratio", ("short_line_ratio",), "above", "short_line_thr", off_at=()),
        Rule("char_dup_ratio", ("char_dup_ratio",), "above", "char_duplicates_ratio", off_at=()),
        Rule("list_ratio", ("list_ratio",), "above", "new_line_ratio", off_at=()),
    )

    def signal_names(self) -> list[str]:
        return ["line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio"]

    def signals(self, stats: DocStats) -> Signals:
        lines = stats.nonblank_lines
        if not lines:
            return dict.fromkeys(self.signal_names(), None)
        newlines = stats.text.count("\n")
        words = len(stats.words)
        ends = line_end_punctuation(stats.rules.language)
        return {
            "line_punct_ratio": ratio(sum(line.endswith(ends) for line in lines), len(lines)),
            "short_line_ratio": ratio(
                sum(len(line) <= self.config.short_line_length for line in lines), len(lines)
            ),
            "char_dup_ratio": ratio(find_duplicates(lines)[1], len(stats.text) - newlines),
            "list_ratio": newlines / words if words else float(newlines > 0),
        }
