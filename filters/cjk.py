"""What Chinese and Japanese text is made of: its sentence-ending punctuation, its Han characters,
and, for Chinese, its script (Simplified or Traditional).

Traditional Chinese pages are judged on a Simplified conversion (OpenCC's ``t2s``, phrase-level,
offline: its dictionaries ship in the wheel) so that word splitting, stop words and the boilerplate
list, all Simplified, treat them alike; the page is published as written. The conversion keeps
line breaks, so a line of the conversion is the same line of the page.
"""

from __future__ import annotations

import sys
from functools import cache

import numpy as np
import regex
from datatrove.utils.text import TERMINAL_PUNCTUATION

from crawlsieve.filters.text_stats import code_points

#: lid.176's codes of Chinese (Mandarin, Cantonese, Wu): Han-character and script rules apply.
CHINESE_LANGUAGES = frozenset({"zh", "yue", "wuu"})
#: Languages whose lines end in Chinese and Japanese punctuation.
CJK_LANGUAGES = CHINESE_LANGUAGES | {"ja"}
#: Chinese and Japanese sentence ends datatrove's terminal punctuation lacks (it has 。！？): an
#: ellipsis, a full-width semicolon or colon (a line that introduces a list), closing quotes.
CJK_SENTENCE_ENDS = "…；：」』”"
_LINE_ENDS = tuple(TERMINAL_PUNCTUATION)
_CJK_LINE_ENDS = (*_LINE_ENDS, *CJK_SENTENCE_ENDS)
_HAN = regex.compile(r"\p{Han}")
#: Characters of the sample ``script_of`` looks at.
SCRIPT_SAMPLE = 2000


def line_end_punctuation(language: str | None) -> tuple[str, ...]:
    """What may end a punctuated line of ``language`` (FineWeb's line rule; C4's with
    ``filter_no_terminal_punct``): datatrove's terminal punctuation, and for Chinese and Japanese
    their sentence ends too. Other languages' lines are judged as FineWeb judges them."""
    return _CJK_LINE_ENDS if language in CJK_LANGUAGES else _LINE_ENDS


def han_share(text: str) -> float:
    """Han characters among the letters (``str.isalpha``: Han, kana, Latin, ...) of ``text``."""
    letters = sum(map(str.isalpha, text))
    if not letters:
        return 0.0
    return int(np.count_nonzero(_han_code_points()[code_points(text)])) / letters


@cache
def _han_code_points() -> np.ndarray:
    """Whether ``\\p{Han}`` matches each code point, from ``regex``'s own tables: one substitution over
    every code point, once per process (~0.2 s), after which a text's Han characters are counted by
    indexing (~40x faster than ``findall`` on a page)."""
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    return code_points(_HAN.sub("\x00", every)) != np.arange(sys.maxunicode + 1, dtype=np.uint32)


@cache
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    """``text`` in Simplified characters (OpenCC ``t2s``)."""
    return _converter("t2s").convert(text)


def script_of(text: str) -> str:
    """``Hant`` when the start of a Chinese text has more characters that only Traditional writes
    (changed by ``t2s``) than characters that only Simplified writes (changed by ``s2t``), else
    ``Hans``. On the corpus's 39 Chinese pages the two counts are 0 against 23-667, and 46 against 0
    for the one Traditional page."""
    sample = text[:SCRIPT_SAMPLE]
    traditional = sum(a != b for a, b in zip(sample, _converter("t2s").convert(sample), strict=False))
    simplified = sum(a != b for a, b in zip(sample, _converter("s2t").convert(sample), strict=False))
    return "Hant" if traditional > simplified else "Hans"
