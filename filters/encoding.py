"""Ours: text damaged by decoding (mojibake, garbled characters), in every language.

A page whose bytes were decoded with the wrong charset somewhere between its author and us (GBK
read as Latin-1: ``ÖÐÎÄ`` for 中文; UTF-8 read as cp1252: ``ä¸­æ–‡``) or that lost characters
(``\\ufffd``, and the □ and ■ that Chinese sites print for a character their font or charset lacks)
is removed, not repaired. Measured on the corpus's 39 Chinese pages (``tests/test_encoding.py``):
ftfy detects every such page, but repairs none of the GBK ones (it re-decodes as UTF-8 only) and
one of 39 read as cp1252 (the bytes cp1252 lacks are lost); and ``ftfy.fix_text`` changes 83 of the
corpus's 143 clean pages (quotes, ligatures, widths), so it is no no-op on good text. The stage runs
right after extraction, before language identification: lid.176 gives such a page a low score in
some language (all 39 GBK variants, below 0.65), so the page is removed for what is wrong with it.
Its decisions stand in `crawlsieve refilter` like the language stage's (nothing after it can be
re-decided without it).
"""

from __future__ import annotations

import pyarrow as pa

from crawlsieve.core.stages import Stage, with_decisions
from crawlsieve.filters.base import Judge, Rule, Signals, ratio
from crawlsieve.filters.config import EncodingConfig

#: Characters that stand for characters lost on the way: the replacement character, white and
#: black squares.
GARBLED = frozenset("\ufffd□■")


class EncodingStage(Judge, Stage):
    """Adds ``sig_encoding_garbled_ratio`` and ``sig_encoding_mojibake_ratio`` to every row and, in
    drop mode, removes rows above their thresholds (``encoding:garbled``, ``encoding:mojibake``)."""

    name = "encoding"
    config: EncodingConfig
    rules = (
        Rule("garbled", ("garbled_ratio",), "above", "max_garbled_ratio"),
        Rule("mojibake", ("mojibake_ratio",), "above", "max_mojibake_ratio"),
    )

    def __init__(self, config: EncodingConfig):
        self.config = config
        self.removes = config.mode == "drop"

    def signal_names(self) -> list[str]:
        return ["garbled_ratio", "mojibake_ratio"]

    def signals(self, text: str) -> Signals:
        if text.isascii():  # neither kind of damage is possible
            return {"garbled_ratio": 0.0, "mojibake_ratio": 0.0}
        from ftfy.badness import badness

        characters = len(text) - sum(map(str.isspace, text))
        return {
            "garbled_ratio": ratio(sum(text.count(c) for c in GARBLED), characters),
            "mojibake_ratio": ratio(badness(text), characters),
        }

    def __call__(self, batch: pa.Table) -> pa.Table:
        measured = [self.signals(text or "") for text in batch.column("text").to_pylist()]
        for signal in self.signal_names():
            values = pa.array([m[signal] for m in measured], pa.float64())
            batch = batch.append_column(self.signal_column(signal), values)
        if not self.removes:
            return batch
        return with_decisions(batch, removed=[self.reason(m) for m in measured])


def encoding_stages(config: EncodingConfig) -> list[EncodingStage]:
    """The encoding check, unless it is off."""
    return [] if config.mode == "off" else [EncodingStage(config)]
