"""The hand-written fast paths of the heuristic filters give exactly the library's answers.

``DocStats.duplicate_n_gram_chars`` stands in for datatrove's ``find_all_duplicate`` and
``DocStats.top_n_gram_chars`` count n-grams cut from one joined string (``JoinedWords``); both
skip n-grams whose hash is unique. These tests pin them to the plain definitions on
generated word lists, including words whose concatenations collide ("ab"+"c" == "a"+"bc") and
n-grams whose hashes collide; and the statistics computed over a text's code points at once (the
longest character run, the share of Han characters) to the regular expressions they replace.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import pytest
import regex
from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate
from datatrove.utils.text import PUNCTUATION_SET
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from crawlsieve.filters.cjk import han_share
from crawlsieve.filters.config import GopherRepetitionConfig
from crawlsieve.filters.gopher_quality import letter_words
from crawlsieve.filters.languages import rules_for
from crawlsieve.filters.repetition import longest_run
from crawlsieve.filters.text_stats import DocStats, JoinedWords, code_points

#: Few, short, overlapping words, so n-grams repeat and concatenations collide often.
COLLIDING_WORDS = st.lists(
    st.sampled_from(["a", "b", "ab", "ba", "aa", "c", "bc", "abc", "é", "😀", "."]), max_size=80
)
ANY_WORDS = st.lists(st.text(min_size=0, max_size=6), max_size=60)
WORD_LISTS = st.one_of(COLLIDING_WORDS, ANY_WORDS)


def stats_over(words: list[str], unspaced: bool) -> DocStats:
    """Statistics whose word split returns ``words`` (the text itself is not used)."""
    rules = replace(rules_for("zh" if unspaced else "en"), split_words=lambda _text: list(words))
    return DocStats(" ".join(words), rules)


def top_n_gram_chars_by_definition(words: list[str], n: int, joiner: str) -> int:
    counts = Counter(joiner.join(words[i : i + n]) for i in range(len(words) - n + 1))
    if not counts:
        return 0
    gram, count = counts.most_common(1)[0]
    return len(gram) * count


@settings(max_examples=400, deadline=None)
@given(words=WORD_LISTS, n=st.integers(min_value=1, max_value=12))  # the config rejects n < 1
def test_duplicate_n_gram_chars_equals_datatrove_find_all_duplicate(words, n):
    assert stats_over(words, unspaced=False).duplicate_n_gram_chars(n) == find_all_duplicate(words, n)


@settings(max_examples=400, deadline=None)
@given(words=WORD_LISTS, n=st.integers(min_value=1, max_value=12), unspaced=st.booleans())
def test_top_n_gram_chars_and_joined_slices_equal_their_plain_definitions(words, n, unspaced):
    joiner = "" if unspaced else " "
    joined = JoinedWords(words, joiner)
    slices = [joined.n_gram(i, n) for i in range(joined.count(n))]
    assert slices == [joiner.join(words[i : i + n]) for i in range(len(words) - n + 1)]
    assert stats_over(words, unspaced).top_n_gram_chars(n) == top_n_gram_chars_by_definition(words, n, joiner)


@settings(max_examples=200, deadline=None)
@given(words=COLLIDING_WORDS, n=st.integers(min_value=1, max_value=6), unspaced=st.booleans())
def test_n_gram_counts_stay_exact_when_different_n_grams_share_a_hash(words, n, unspaced):
    """With a hash base of 1 an n-gram's hash is the sum of its code points ("ab" and "ba" collide):
    the candidates are checked as strings, and the top n-gram is counted from the strings."""
    joiner = "" if unspaced else " "
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(JoinedWords, "_BASE", 1)
        top = stats_over(words, unspaced).top_n_gram_chars(n)
        duplicated = stats_over(words, unspaced=False).duplicate_n_gram_chars(n)
    assert top == top_n_gram_chars_by_definition(words, n, joiner)
    assert duplicated == find_all_duplicate(words, n)


def test_duplicate_n_grams_count_concatenation_collisions_as_datatrove_does():
    words = ["ab", "c", "x", "a", "bc", "x"]  # "abcx" twice, from different words
    assert find_all_duplicate(words, 3) == 4
    assert stats_over(words, unspaced=False).duplicate_n_gram_chars(3) == 4


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.text(max_size=5), max_size=40))
def test_non_symbol_words_and_letter_count_equal_their_plain_definitions(words):
    stats = stats_over(words, unspaced=False)
    assert stats.non_symbol_words == [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
    assert letter_words(words) == sum(1 for w in words if any(c.isalpha() for c in w))


@pytest.mark.parametrize("field", ["top_n_grams", "dup_n_grams"])
def test_n_gram_sizes_below_one_are_refused_by_the_config(field):
    # datatrove's find_all_duplicate never returns for n = 0; the config stops it at the door
    with pytest.raises(ValidationError, match="greater than 0"):
        GopherRepetitionConfig(**{field: {0: 0.1}})
    assert getattr(GopherRepetitionConfig(**{field: {3: 0.1}}), field) == {3: 0.1}


_RUN = re.compile(r"(\S)\1{9,}")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("a/ \t\n\x1c\u3000-好"), st.integers(1, 25)), max_size=12))
def test_longest_character_run_equals_the_regex_it_replaces(runs):
    text = "".join(char * count for char, count in runs)
    expected = max((len(m.group()) for m in _RUN.finditer(text)), default=0)
    assert longest_run(code_points(text)) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("中文漢字〇々㐀𠀀かなカナabc 123。，\n")) | st.text())
def test_han_share_equals_counting_with_the_regex(text):
    letters = sum(map(str.isalpha, text))
    assert han_share(text) == (len(regex.findall(r"\p{Han}", text)) / letters if letters else 0.0)
