"""The cached word splitter gives exactly the reference's words, for every language split with spaCy.

``SpacyWords`` (chunks tokenized once and cached) against ``ReferenceSpacyWords`` (spaCy's
blank tokenizer over the whole text, the splitter the filters used before), and C4's
``sentence_count`` (from those words) against ``_sentence_count`` (spaCy's sentencizer): on
every corpus text and line under several language codes, and on generated text for every
spaCy tokenizer that a language code lid.176 can output is split with. CI runs a bounded,
derandomized number of generated cases per tokenizer; a longer random run:

    CRAWLSIEVE_FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/test_word_splitter.py -q
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from functools import cache

import pytest
from datatrove.pipeline.filters.c4_filters import CITATION_REGEX
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacy.pipeline import Sentencizer

from crawlsieve.core.models import fasttext_model
from crawlsieve.core.units import UNSPACED_LANGUAGES
from crawlsieve.filters.c4 import _sentence_count, sentence_count
from crawlsieve.filters.language_id import default_model_path
from crawlsieve.filters.languages import rules_for, spacy_words
from crawlsieve.filters.spacy_words import _SPACES, ReferenceSpacyWords, SpacyWords

LONG_RUN = "CRAWLSIEVE_FUZZ_EXAMPLES" in os.environ
FUZZ = settings(
    max_examples=int(os.environ.get("CRAWLSIEVE_FUZZ_EXAMPLES", "60")),
    deadline=timedelta(seconds=10),
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _lid_codes() -> list[str]:
    """Every language lid.176 can output."""
    labels = fasttext_model(str(default_model_path())).get_labels()
    return sorted(label.removeprefix("__label__") for label in labels)


#: The codes whose words spaCy splits: all but Chinese (jieba) and the character-split ones.
SPACED_CODES = [code for code in _lid_codes() if code not in UNSPACED_LANGUAGES]


def _datatrove_language(code: str) -> str:
    """The spaCy language whose blank tokenizer splits ``code`` (without building it): datatrove's
    assignment, or ``xx`` where datatrove's tokenizer cannot load offline or is its
    ``WhitespaceTokenizer`` (whose words are spaCy ``xx``'s)."""
    from datatrove.utils.word_tokenizers import SpaCyTokenizer, load_word_tokenizer

    try:
        tokenizer = load_word_tokenizer(code)
    except Exception:
        return "xx"
    return tokenizer.language if isinstance(tokenizer, SpaCyTokenizer) else "xx"


SPACY_LANGUAGES = sorted({_datatrove_language(code) for code in SPACED_CODES})


@cache
def _reference(code: str):
    """The splitter the filters used for ``code`` before the cache (its own spaCy pipeline)."""
    from datatrove.utils.word_tokenizers import SpaCyTokenizer, WhitespaceTokenizer, load_word_tokenizer

    try:
        tokenizer = load_word_tokenizer(code)
        tokenizer.word_tokenize("probe")
    except Exception:
        tokenizer = SpaCyTokenizer("xx")
    if isinstance(tokenizer, SpaCyTokenizer) and tokenizer.config is None:
        return ReferenceSpacyWords(tokenizer)
    assert type(tokenizer) is WhitespaceTokenizer, f"{code}: {tokenizer!r}"
    return tokenizer.word_tokenize


def test_lid_can_output_168_codes_split_with_spacy():
    assert len(SPACED_CODES) == 168
    assert {"en", "de", "ru", "ar", "ko", "vi", "ka", "dv", "sw", "jv"} <= set(SPACED_CODES)
    assert len(SPACY_LANGUAGES) == 52


def test_every_spaced_code_is_split_by_the_cached_splitter_of_its_spacy_language():
    for code in SPACED_CODES:
        splitter = rules_for(code).split_words
        assert isinstance(splitter, SpacyWords), code
        assert splitter.language == _datatrove_language(code), code
        assert splitter.rules is not None, f"{code}: not spaCy's rule-based tokenizer"


def test_whitespace_is_cut_where_spacy_cuts_it():
    """spaCy cuts runs at ``str.isspace``; the splitter cuts with ``str.split`` and ``\\s``."""
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        if 0xD800 <= point <= 0xDFFF:
            continue
        assert char.isspace() == (len(f"a{char}b".split()) == 2) == bool(_SPACES.fullmatch(char)), hex(point)


CORPUS_CODES = ["own", "en", "id", "ms", "ka"]


@pytest.mark.parametrize("code", CORPUS_CODES)
def test_words_equal_the_reference_on_every_corpus_text(corpus_docs, code, capsys):
    """Each corpus text under a code: its own language ("own") where spaCy splits it, English,
    Indonesian (the most special cases, some with spaces), Malay (one with a newline), Georgian
    (datatrove's WhitespaceTokenizer, whose words are spaCy xx's)."""
    compared = 0
    for doc in corpus_docs:
        language = doc["language"] if code == "own" else code
        if language not in SPACED_CODES:
            continue
        text = doc["text"]
        assert rules_for(language).split_words(text) == _reference(language)(text), doc["url"]
        compared += 1
    with capsys.disabled():
        print(f"\n{code}: {compared} corpus texts, words identical")
    assert compared >= 330


@pytest.mark.parametrize("code", CORPUS_CODES)
def test_sentence_counts_equal_the_reference_on_every_corpus_line(corpus_docs, code, capsys):
    """Each line as C4 counts it (stripped, citations removed), and under the own language each
    whole text, under the codes above (Malay's count takes spaCy's tokens; Georgian's is
    datatrove's regex, as before)."""
    compared = 0
    for doc in corpus_docs:
        language = doc["language"] if code == "own" else code
        if language not in SPACED_CODES:
            continue
        texts = [CITATION_REGEX.sub("", line.strip()) for line in doc["text"].splitlines()]
        for text in [*texts, doc["text"]] if code == "own" else texts:
            assert sentence_count(text, language) == _sentence_count(text, language), (doc["url"], text)
            compared += 1
    with capsys.disabled():
        print(f"\n{code}: {compared} corpus lines and texts, sentence counts identical")
    assert compared >= 5000


def test_sentences_are_counted_from_the_words_for_every_spacy_language_but_malay():
    assert {language for language in SPACY_LANGUAGES if not spacy_words(language)._sentences_from_words} == {
        "ms"
    }


def test_the_chunk_cache_is_bounded_and_refills(corpus_docs):
    from datatrove.utils.word_tokenizers import SpaCyTokenizer

    splitter = SpacyWords(SpaCyTokenizer("en"), max_entries=500)
    for doc in corpus_docs[:60]:
        assert splitter(doc["text"]) == _reference("en")(doc["text"])
        assert len(splitter.chunks) <= 500


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("es", "los EE. UU. y la UE"),  # a special case with a space
        ("el", "Μ. Ασία"),
        ("ru", "в т. ч. в т.ч. и т. д."),
        ("sr", "да л' је л’ и сл."),
        ("es", "n °C."),  # "n °" matches the pattern of "n°" and blocks the one of "°C." inside a chunk
    ],
)
def test_chunks_that_a_special_case_joins_are_tokenized_together(code, text):
    reference = _reference(code)
    chunk_by_chunk = [word for chunk in text.split() for word in reference(chunk)]
    assert rules_for(code).split_words(text) == reference(text) != chunk_by_chunk


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("es", "los EE.\nUU. y EE.  UU."),  # not matched across other whitespace
        ("en", "Note: Do it :D and : D, :-) or : -)"),
        ("en", "it's 5 p.m. and 5p.m . on Jan. 1 (Jan .) e.g. U.S."),
        ("id", "Dr. rer. nat. Budi dan Dr. med Ani"),  # a special case over two spaces
        ("ms", "produk 3M\nM\n dan M \nM"),  # "M\n": a special case ending in a newline
        ("ms", "M\n"),
        ("fa", ".ق "),  # a special case ending in a space
        ("en", "\u00a0 lead\u2009and\u3000trail \n\t"),
        ("en", ""),
        ("en", " \n "),
    ],
)
def test_words_equal_the_reference_where_special_cases_meet_whitespace(code, text):
    assert rules_for(code).split_words(text) == _reference(code)(text)


@pytest.mark.parametrize("code", ["en", "ms", "ru", "ar"])
@pytest.mark.parametrize(
    "text",
    [
        "Hi.  !",  # a whitespace token between two sentence-final characters starts a sentence
        "Hi. !",
        "Hi.\t!\n",  # ... and so does one at the end
        "a .  . b",
        " . a",
        "Yes. No. Maybe... Fine!!! ok",
        "Er sagte: «Nein.» Dann ging er.",
        "Wait।  ok؟ fine。 yes",
        "M\n. x M\n",
        "",
        " ",
    ],
)
def test_sentence_counts_equal_the_reference_around_whitespace_tokens(code, text):
    assert sentence_count(text, code) == _sentence_count(text, code)


WORDS = [
    "the", "Straße", "naïve", "façade", "привет", "Ελλάδα", "مرحبا", "שלום", "नमस्ते", "ქართული",
    "中文", "日本語", "한국어", "ไทย", "İstanbul", "ǅemal", "Ａｂｃ",
]  # fmt: skip
PUNCTUATION = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»‹›„“”‘’‚–—…·•§¶©®°′″")
FORMS = [
    "https://example.com/a/b?c=d&e=f#g", "www.example.org", "http://ex.com/path_(x)", "ftp://x.y/z.",
    "jane.doe@example.com", "<mail@ex.de>", "3.14", "1,000,000", "10%", "$5", "€20,50", "12:30",
    "2024-01-01", "1st", "3M", "+49", "-5", "1/2", "e.g.", "U.S.", "Dr.", "a.m.", "etc.", "z.B.",
    "well-known", "co-op", "--", "—", "don't", "l'homme", "aujourd'hui", "rock'n'roll", "’s", "n't",
    '"quoted"', "'single'", "«x»", "„y“", "(a)", "[1]", "😀", "👍🏽", "🇩🇪", "❤️", "👨‍👩‍👧", ":)", ":-D", "<3",
    "...", "?!", "#tag", "@user", "C++", "A&B", "x²", "IS_ALPHA",
]  # fmt: skip
SEPARATORS = [
    "", "", " ", " ", " ", "  ", "\n", "\n\n", " \n", "\t", "\r\n", "\xa0", "\u2009", "\u3000",
    "\u2028", "\x1c", "\x85", "\x0b", "\u200b", "\ufeff",
]  # fmt: skip


def _texts(splitter: SpacyWords) -> st.SearchStrategy[str]:
    """Pieces (words, forms, the tokenizer's special cases and their patterns' tokens, any
    characters, chunks too long to cache) joined by assorted whitespace or nothing."""
    tokenizer = splitter.spacy.tokenizer.tokenizer.tokenizer
    piece = st.one_of(
        st.sampled_from(WORDS + PUNCTUATION + FORMS + sorted(Sentencizer.default_punct_chars)),
        st.sampled_from(sorted(tokenizer.rules)),
        st.sampled_from(sorted(splitter.rules.pair_tokens)),
        st.text(max_size=6),
        st.text(st.sampled_from("ab.-:'/ "), min_size=60, max_size=90),
    )
    separator = st.sampled_from(SEPARATORS)
    pairs = st.lists(st.tuples(piece, separator), max_size=30)
    return st.tuples(separator, pairs).map(lambda t: t[0] + "".join(p + s for p, s in t[1]))


@pytest.mark.parametrize("language", SPACY_LANGUAGES)
def test_words_and_sentence_counts_equal_the_reference_on_generated_text(language):
    """For every spaCy tokenizer that splits some code."""
    code = next(c for c in SPACED_CODES if _datatrove_language(c) == language)
    splitter, reference = rules_for(code).split_words, _reference(code)

    @FUZZ
    @given(text=_texts(splitter))
    def check(text):
        assert splitter(text) == reference(text)
        assert sentence_count(text, code) == _sentence_count(text, code)

    check()
