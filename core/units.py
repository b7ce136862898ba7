"""Text units: the one place that decides what a word is in each language.

The filters count words, near-dedup shingles runs of them, sub-document dedup counts what a cut
leaves, decontamination hashes n-grams of them, and the classifiers and KenLM read them. Splitting
at spaces works for spaced scripts only: in Chinese a whole clause is one "word", so a 60-character
benchmark question has no 13-word n-gram and a light edit changes every whitespace shingle of a
page. For the languages written without spaces:

- Chinese (zh, yue, wuu): jieba's words, as datatrove's and FineWeb-2's Chinese tokenizer gives
  them, from jieba-rs (``rjieba``: the same words on the corpus, ~30x faster than pure-Python jieba;
  ``tests/test_units.py``);
- Japanese, Thai, Lao, Khmer, Burmese: characters (no light, offline segmenter is installed);
- near-dedup shingles of every unspaced language: characters, not words (measured; README
  "Deduplication"): a character n-gram does not depend on a segmenter's dictionary, so a dedup
  index stays comparable across segmenter versions.

Runs of other scripts inside such text (numbers, Latin names) stay whole words. A spaced
language's words are its consumer's: spaCy's tokens in the filters (datatrove's), whitespace words
of the normalized text in dedup and decontamination. A text without a language (a benchmark file,
a classifier's training text) is cut as its script says (``language_of``).
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import regex

#: Changes whenever any unit below changes: runs and dedup indexes record it, and what was made
#: with other units is refused rather than mixed (``--resume``, ``refilter``, ``--dedup-against``).
#: v1 (not recorded): whitespace words everywhere but the filters' jieba; v2: this module.
VERSION = "units-v2"

#: Scripts written without spaces between words (RE2 and ``regex`` both know these classes).
UNSPACED_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
#: Languages cut into words by a segmenter (jieba's dictionary).
SEGMENTED_LANGUAGES = frozenset({"zh", "yue", "wuu"})
#: Languages cut into characters.
CHARACTER_LANGUAGES = frozenset({"ja", "th", "lo", "km", "my"})
UNSPACED_LANGUAGES = SEGMENTED_LANGUAGES | CHARACTER_LANGUAGES

Kind = Literal["words", "segmenter", "characters"]

_CHARACTERS = regex.compile(rf"[{UNSPACED_SCRIPTS}]|[^\s{UNSPACED_SCRIPTS}]+")
#: Unicode White_Space in RE2 (its ``\s`` is ASCII only), the separators ``regex``'s ``\s`` knows.
_WHITE_SPACE_RE2 = r"[\t-\r\x{85}\p{Z}]+"
_UNSPACED = regex.compile(rf"[{UNSPACED_SCRIPTS}]")
_SPACED_WORDS = regex.compile(r"[^\W\d_]+")
_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}]")
_HAN = regex.compile(r"\p{Han}")
_OTHER_UNSPACED = regex.compile(r"(\p{Thai})|(\p{Lao})|(\p{Khmer})|(\p{Myanmar})")
_OTHER_CODES = ("th", "lo", "km", "my")


def kind(language: str | None) -> Kind:
    """How the language's text is cut: ``segmenter`` words, ``characters``, or spaced ``words``."""
    if language in SEGMENTED_LANGUAGES:
        return "segmenter"
    if language in CHARACTER_LANGUAGES:
        return "characters"
    return "words"


def unspaced(language: str | None) -> bool:
    return language in UNSPACED_LANGUAGES


def language_of(text: str) -> str | None:
    """A language whose units fit a text that has no language label, judged by its script: a text
    with at least as many characters of unspaced scripts as words of other scripts is Japanese if
    it has kana, else Chinese if it has Han characters, else Thai, Lao, Khmer or Burmese (its first
    such letter); any other text is spaced (None), so a Chinese name in an English passage leaves
    it spaced, and a Chinese line naming a file or a place in Latin letters is still Chinese."""
    unspaced_characters = len(_UNSPACED.findall(text))
    if not unspaced_characters or unspaced_characters < len(_SPACED_WORDS.findall(_UNSPACED.sub(" ", text))):
        return None
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh"
    match = _OTHER_UNSPACED.search(text)
    return _OTHER_CODES[match.lastindex - 1]


def segmenter_words(text: str) -> list[str]:
    """jieba's words of the text (jieba-rs, HMM for unknown words on, as ``jieba.lcut``), without
    the whitespace tokens."""
    import rjieba

    return [word for word in rjieba.cut(text) if not word.isspace()]


def character_units(text: str) -> list[str]:
    """One unit per character of an unspaced script; runs of other scripts are whole words."""
    return _CHARACTERS.findall(text)


def words(text: str, language: str | None) -> list[str]:
    """The text's units under its language: segmenter words, characters, or whitespace words."""
    match kind(language):
        case "segmenter":
            return segmenter_words(text)
        case "characters":
            return character_units(text)
    return text.split()


def shingles_by_characters(language: str | None) -> bool:
    """Whether near-dedup shingles the language's text by characters (every unspaced language)."""
    return unspaced(language)


def character_unit_lists(texts: pa.Array) -> pa.ListArray:
    """``character_units`` of every text of an Arrow column, vectorized (RE2): each unspaced-script
    character gets a space on either side, then the text is split at Unicode whitespace."""
    spaced = pc.replace_substring_regex(texts, rf"([{UNSPACED_SCRIPTS}])", r" \1 ")
    spaced = pc.utf8_trim(pc.replace_substring_regex(spaced, _WHITE_SPACE_RE2, " "), " ")
    units = pc.split_pattern(spaced, " ")
    # Splitting "" gives [""]: a text without units must have none.
    return pc.if_else(pc.equal(spaced, ""), pa.scalar([], type=pa.list_(pa.string())), units)
