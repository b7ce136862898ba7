"""Our own compression-ratio signal: how much the text shrinks under zlib.

Natural text compresses about 2.5-3.5x; templated and repetitive junk (keyword lists,
repeated boilerplate, generated spam) compresses far better. zlib is in the standard
library and fast enough to run on every document.
"""

from __future__ import annotations

import zlib

from crawlsieve.filters.base import Rule, Signals, TextFilter
from crawlsieve.filters.config import CompressionConfig
from crawlsieve.filters.text_stats import DocStats


class Compression(TextFilter):
    config: CompressionConfig
    name = "compression"
    signal_fields = ("min_chars",)
    rules = (Rule("ratio", ("ratio",), "above", "max_ratio"),)

    def signal_names(self) -> list[str]:
        return ["ratio"]

    def signals(self, stats: DocStats) -> Signals:
        if len(stats.text) < self.config.min_chars:
            return {"ratio": None}  # short texts are dominated by zlib's fixed overhead
        data = stats.text.encode("utf-8", errors="replace")
        return {"ratio": len(data) / len(zlib.compress(data, 6))}
