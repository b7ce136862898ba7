"""Per-language rules: how to split words and which stop words count.

Gopher's stop-word and word-length rules were made for English; applied to every language
they remove good German and French pages (141 of the 341 shared-corpus pages fail the
English stop-word rule alone). Each language gets its own most frequent function words
(FineWeb-2's, where it has them), and languages written without spaces are cut into the units
``core.units`` decides for every consumer (Chinese: jieba's words; Japanese, Thai, Lao, Khmer,
Burmese: characters), with the rules that assume spaced words (mean word length, duplicated word
n-grams) switched off for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from crawlsieve.core import units
from crawlsieve.filters.language_table import stop_words

if TYPE_CHECKING:
    from crawlsieve.filters.spacy_words import SpacyWords

ENGLISH = "en"

#: English's stop words, Gopher's 8 (Rae et al. 2021). Every language FineWeb-2 covers has its own
#: (``language_table.stop_words``); the others fall back to spaCy's stop-word list.
STOP_WORDS = {ENGLISH: frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})}


@dataclass(frozen=True)
class LanguageRules:
    """How the text rules treat one language."""

    language: str
    split_words: Callable[[str], list[str]]
    stop_words: frozenset[str] | None
    unspaced: bool

    @property
    def by_characters(self) -> bool:
        """Words are single characters (no segmenter for the language)."""
        return units.kind(self.language) == "characters"

    @property
    def ngram_joiner(self) -> str:
        """What joins the words of an n-gram when its characters are counted."""
        return "" if self.unspaced else " "


def rules_for(language: str | None, per_language: bool = True) -> LanguageRules:
    """The rules for ``language`` (English rules for everything when ``per_language`` is off)."""
    if not per_language or not language:
        return _rules(ENGLISH)
    return _rules(language)


@cache
def _rules(language: str) -> LanguageRules:
    return LanguageRules(
        language=language,
        split_words=_word_splitter(language),
        stop_words=STOP_WORDS.get(language) or stop_words(language) or _spacy_stop_words(language),
        unspaced=units.unspaced(language),
    )


def _word_splitter(language: str) -> Callable[[str], list[str]]:
    match units.kind(language):
        case "segmenter":
            return units.segmenter_words
        case "characters":
            return units.character_units
    return _datatrove_words(language)


def _datatrove_words(language: str) -> Callable[[str], list[str]]:
    """datatrove's word tokenizer for the language (spaCy's blank tokenizer), offline only.

    Where datatrove's choice needs a package or model we do not install (Korean's kiwipiepy,
    stanza), the language-neutral spaCy ``xx`` tokenizer splits on spaces and punctuation,
    as datatrove's ``WhitespaceTokenizer`` does for the languages it is assigned to.
    """
    from datatrove.utils.word_tokenizers import SpaCyTokenizer, WhitespaceTokenizer, load_word_tokenizer

    try:
        tokenizer = load_word_tokenizer(language)
    except Exception:  # unknown language or a tokenizer we cannot load offline
        return spacy_words("xx")
    if isinstance(tokenizer, SpaCyTokenizer) and tokenizer.config is None:
        return spacy_words(tokenizer.language)
    if type(tokenizer) is WhitespaceTokenizer:  # its words are spaCy xx's
        return spacy_words("xx")
    try:
        tokenizer.word_tokenize("probe")
    except Exception:  # needs a package or model we do not install
        return spacy_words("xx")
    return tokenizer.word_tokenize


@cache
def spacy_words(language: str) -> SpacyWords:
    """spaCy's blank tokenizer for ``language`` (``xx`` if it cannot load), one per process for
    all the codes that use it."""
    from datatrove.utils.word_tokenizers import SpaCyTokenizer

    from crawlsieve.filters.spacy_words import SpacyWords

    try:
        return SpacyWords(SpaCyTokenizer(language))
    except Exception:  # a spaCy language that needs a package we do not install (vi: pyvi)
        return spacy_words("xx")


def _spacy_stop_words(language: str) -> frozenset[str] | None:
    try:
        from spacy.util import get_lang_class

        words = get_lang_class(language).Defaults.stop_words
    except Exception:  # spaCy has no such language
        return None
    return frozenset(words) if words else None
