"""Spam and safety signals: gambling and lottery SEO, adult content, commercial and medical ads.

The terms are our own lists (``data/spam_terms.txt``, Chinese and English, a comment on each
section), found in one pass over a text by one Aho-Corasick automaton (pyahocorasick), after NFKC
normalization and lowercasing; terms of ASCII letters match whole words only.

Signals (``sig_spam_<signal>``), from ``spam_signals``:

* ``gambling``, ``adult``, ``ads``: the weighted hits of a category's terms in the title, the URL
  and the text, per 100 words of the text (at least ``MIN_WORDS``): how much the page is about it.
* ``gambling_seo``: where gambling brands sit, the mark of the most common Chinese web spam, an
  ordinary article with a betting brand injected: a brand ending the title (``..._欧宝体育``,
  ``... | Bet365``) counts 2, one elsewhere in the title or in the URL 1, a sentence that starts with
  a brand 1 and another mention 0.5 (the text's share at most 4), a brand in the first or the last
  line 1 each, a link text with a brand 0.5 (at most 2).

Decisions (``SpamConfig``): a page is gambling SEO when its placement score is above
``gambling_seo_threshold`` while its gambling vocabulary stays at or below ``seo_topic_limit``
(brands do not count as vocabulary): a real article about a sports lottery, a betting company or
gambling law names the brand where it belongs *and* speaks of betting, an injected article does not.
Gambling, adult and ads are flagged above their thresholds. Flagged categories listed in
``drop`` remove the page (``spam:<category>``); the others tag it: its signals are published and
the domain tagger weighs the flags (``SpamFlags``) into the domains ``gambling``, ``adult``, ``ads``.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import ahocorasick

from crawlsieve.filters.base import Rule, Signals, TextFilter
from crawlsieve.filters.config import SpamConfig
from crawlsieve.filters.text_stats import DocStats

TERMS_FILE = Path(__file__).parent / "data" / "spam_terms.txt"
KINDS = ("brand", "brand_suffix", "brand_word", "gambling", "adult", "ads")
BRAND_KINDS = ("brand", "brand_suffix", "brand_word")
DENSITY_KINDS = ("gambling", "adult", "ads")
#: Words a density is taken over at least, so a page of ten words with one term is not "10%".
MIN_WORDS = 50
#: Characters of a brand's own name before a ``brand_suffix`` hit ("欧宝" of "欧宝体育app").
BRAND_NAME_CHARS = 4
#: Characters that end a sentence, or separate the parts of a title.
_SENTENCE_END = frozenset("\n。！？!?；;.…")
_TITLE_SEPARATORS = frozenset("_-|｜丨–—:：")
#: What may stand between a sentence's start and its brand: brackets, quotes, marks, spaces.
_LEADING = re.compile(r"[\s\"'“”‘’「」『』【】\[\]()（）《》<>#*·•\-–—:：,，、]*")
#: After a ``brand_word`` that ends a name: at most two more words, then a colon, a dash, a bar,
#: a closing bracket or the end of the line ("Royal Ace Casino Login: ...").
_NAME_AFTER = re.compile(r"(?:[ \t]+[a-z0-9]+){0,2}[ \t]*(?:[:：|\-–—\]】)]|\n|$)")
#: Words of a name a ``brand_word`` ends, before it and after it.
NAME_WORDS = (1, 3), 4
#: Placement weights (see the module docstring) and caps.
TITLE_SUFFIX, TITLE_OTHER, IN_URL = 2.0, 1.0, 1.0
SENTENCE_START, MENTION, EDGE_LINE, ANCHOR = 1.0, 0.5, 1.0, 0.5
TEXT_CAP, ANCHOR_CAP = 4.0, 2.0
#: Characters a title's last part has at most to be a suffix (a name, not a second headline).
SUFFIX_CHARS = 40


@dataclass(frozen=True)
class Hit:
    start: int
    end: int  # exclusive
    kind: str
    weight: float


def normalized(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def read_terms(path: Path = TERMS_FILE) -> list[tuple[str, str, float]]:
    """(term, kind, weight) of every term of the file (see its header); raises ``ValueError`` on a
    malformed section or a term listed twice."""
    terms: dict[tuple[str, bool], tuple[str, float]] = {}
    kind, weight = None, 0.0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            name, _, value = line.strip("[]").partition(" ")
            if name not in KINDS or not value:
                raise ValueError(f"{path}:{number}: a section is [<{'|'.join(KINDS)}> <weight>]")
            kind, weight = name, float(value)
            continue
        key = (normalized(line), kind == "brand_word")  # a brand word is also a gambling word
        if kind is None or key in terms:
            raise ValueError(f"{path}:{number}: {line!r} is outside a section or listed twice")
        terms[key] = (kind, weight)
    return [(term, kind, weight) for (term, _), (kind, weight) in terms.items()]


@cache
def _brand_words() -> frozenset[str]:
    return frozenset(term for term, kind, _ in read_terms() if kind == "brand_word")


@cache
def _automaton() -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for term, kind, weight in read_terms():
        if kind == "brand_word":
            continue
        automaton.add_word(term, (len(term), kind, weight, _word_char(term[0]), _word_char(term[-1])))
    automaton.make_automaton()
    return automaton


def _word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def find_terms(text: str) -> list[Hit]:
    """The terms in a normalized text, leftmost-longest and not overlapping; a term that starts
    or ends with an ASCII letter or digit only where the text has no letter or digit beside it."""
    hits = []
    for last, (length, kind, weight, word_start, word_end) in _automaton().iter_long(text):
        start, end = last - length + 1, last + 1
        if word_start and start > 0 and _word_char(text[start - 1]):
            continue
        if word_end and end < len(text) and _word_char(text[end]):
            continue
        hits.append(Hit(start, end, kind, weight))
    return hits


def _named(text: str, hit: Hit) -> Hit:
    """A gambling word that ends a brand's name ("Royal Ace Casino: ...", "Title | Spin Palace
    Slots") as a ``brand_word`` hit over the whole name; any other hit as it is. A name is one to
    three words from the start of its sentence or title part, the word, at most two more words and
    a colon, a dash, a bracket or the end: "The casino said" names nothing."""
    if hit.kind != "gambling" or text[hit.start : hit.end] not in _brand_words():
        return hit
    after = _NAME_AFTER.match(text, hit.end)
    begin = hit.start
    while begin > 0 and text[begin - 1] not in _SENTENCE_END and text[begin - 1] not in _TITLE_SEPARATORS:
        begin -= 1
    lead = _LEADING.match(text, begin, hit.start).end()
    words = text[lead : hit.start].split()
    (fewest, most), total = NAME_WORDS
    if (
        after is None
        or not fewest <= len(words) <= most
        or not all(w.isascii() and w.isalnum() for w in words)
    ):
        return hit
    if len(words) + len(after.group().split()) > total:
        return hit
    return Hit(lead, hit.end, "brand_word", hit.weight)


def _classified(text: str) -> list[Hit]:
    """The terms of a normalized text, gambling words that end a brand name turned into brands."""
    return [_named(text, hit) for hit in find_terms(text)]


def _brand_start(text: str, hit: Hit) -> int:
    """Where the brand of a hit starts: a ``brand_suffix`` hit's name runs back over up to
    ``BRAND_NAME_CHARS`` letters or CJK characters."""
    start = hit.start
    if hit.kind == "brand_suffix":
        while start > 0 and hit.start - start < BRAND_NAME_CHARS and text[start - 1].isalnum():
            start -= 1
    return start


def _starts_sentence(text: str, start: int) -> bool:
    """Nothing but brackets, quotes and marks between the sentence's start and ``start``."""
    begin = start
    while begin > 0 and text[begin - 1] not in _SENTENCE_END:
        begin -= 1
    return _LEADING.fullmatch(text, begin, start) is not None


def _title_score(title: str, brands: list[Hit]) -> float:
    """2 for a brand in the title's last part, after a separator (``标题_品牌app官网``,
    ``Title | Brand Casino``), 1 for one elsewhere in it, 0 without. The last part is short: a
    site's or brand's name, not a headline."""
    inside = {i for hit in brands for i in range(hit.start, hit.end)}
    cut = max((i for i, c in enumerate(title) if c in _TITLE_SEPARATORS and i not in inside), default=-1)
    head = title[:cut].strip().rstrip("".join(_TITLE_SEPARATORS)).strip() if cut >= 0 else ""
    suffix = len(head) >= 2 and len(title[cut + 1 :].strip()) <= SUFFIX_CHARS
    if suffix and any(hit.start > cut for hit in brands):
        return TITLE_SUFFIX
    return TITLE_OTHER if brands else 0.0


def _text_placements(text: str, brands: list[Hit]) -> float:
    score = 0.0
    for hit in brands:
        score += SENTENCE_START if _starts_sentence(text, _brand_start(text, hit)) else MENTION
    score = min(score, TEXT_CAP)
    if not brands:
        return score
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]*\S[^\n]*", text)]
    if lines:
        for begin, end in {lines[0], lines[-1]}:
            if any(begin <= hit.start < end for hit in brands):
                score += EDGE_LINE
    return score


def _brands(hits: list[Hit]) -> list[Hit]:
    return [hit for hit in hits if hit.kind in BRAND_KINDS]


def _vocabulary(text: str, hits: list[Hit]) -> list[Hit]:
    """The hits that are not brands nor part of one: a word right after a brand names it
    ("Bet365 Casino", "Stake Sportsbook"), it does not speak of gambling."""
    out, brand_end = [], None
    for hit in hits:
        if hit.kind in BRAND_KINDS:
            brand_end = hit.end
        elif brand_end is None or text[brand_end : hit.start].strip():
            out.append(hit)
    return out


def spam_signals(stats: DocStats) -> Signals:
    """Every signal of the spam filter for one document (see the module docstring)."""
    text, title = normalized(stats.text), normalized(stats.title)
    url = normalized(unquote(stats.url))
    found = {
        name: (part, _classified(part)) for name, part in (("text", text), ("title", title), ("url", url))
    }
    vocabulary = [hit for value, hits in found.values() for hit in _vocabulary(value, hits)]
    words = max(len(stats.words), MIN_WORDS)
    signals: Signals = {}
    for kind in DENSITY_KINDS:
        weight = sum(hit.weight for hit in vocabulary if hit.kind == kind)
        signals[kind] = round(100 * weight / words, 4)
    signals["gambling_seo"] = (
        _title_score(title, _brands(found["title"][1]))
        + (IN_URL if _brands(found["url"][1]) else 0.0)
        + _text_placements(text, _brands(found["text"][1]))
        + min(ANCHOR * _brand_lines(normalized(stats.anchors)), ANCHOR_CAP)
    )
    return signals


def _brand_lines(anchors: str) -> int:
    """How many link texts (lines) hold a brand. One search over all of them: no term holds a line
    break and a name ends at one, so each line's hits are those it has alone."""
    brands = _brands(_classified(anchors))
    if not brands:
        return 0
    breaks = [match.start() for match in re.finditer("\n", anchors)]
    return len({bisect.bisect(breaks, hit.start) for hit in brands})


#: The categories in the order a removal reason is chosen, each with its rule: above its
#: threshold; gambling SEO only while the page's gambling vocabulary stays within the topic limit.
RULES = {
    "gambling_seo": Rule(
        "gambling_seo",
        ("gambling_seo",),
        "above",
        "gambling_seo_threshold",
        unless_above=("gambling", "seo_topic_limit"),
    ),
    "adult": Rule("adult", ("adult",), "above", "adult_threshold"),
    "gambling": Rule("gambling", ("gambling",), "above", "gambling_threshold"),
    "ads": Rule("ads", ("ads",), "above", "ads_threshold"),
}
CATEGORIES = tuple(RULES)


def flagged(signals: Signals, config: SpamConfig) -> list[str]:
    """The categories a document's signals reach, in ``CATEGORIES`` order."""
    return [category for category, rule in RULES.items() if rule.breaks(signals, config)]


class Spam(TextFilter):
    config: SpamConfig
    name = "spam"

    def __init__(self, config: SpamConfig):
        super().__init__(config)
        #: Only the categories listed in ``drop`` remove a page; the others are tags.
        self.rules = tuple(rule for category, rule in RULES.items() if category in config.drop)

    def signal_names(self) -> list[str]:
        return [*DENSITY_KINDS, "gambling_seo"]

    def signals(self, stats: DocStats) -> Signals:
        return spam_signals(stats)


class SpamFlags:
    """The categories a kept document's stored signals reach, for the domain tagger: the pipeline
    hands it over, so tagging follows the filter's thresholds without importing the filters."""

    def __init__(self, config: SpamConfig):
        self.config = config
        self.columns = tuple(f"sig_spam_{name}" for name in Spam(config).signal_names())

    def __call__(self, values: dict[str, float | None]) -> list[str]:
        return flagged({c.removeprefix("sig_spam_"): values.get(c) for c in self.columns}, self.config)


def spam_flags(config: SpamConfig) -> SpamFlags | None:
    """``SpamFlags`` for a run whose spam filter is on."""
    return SpamFlags(config) if config.mode != "off" else None
