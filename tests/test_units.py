"""Text units (core/units.py): jieba-rs gives jieba's words, characters are cut the same in Python
and Arrow, and a text without a language is cut as its script says."""

from __future__ import annotations

import difflib
import json
import logging

import pyarrow as pa
import pytest
import regex

from crawlsieve.core import units
from crawlsieve.filters.languages import rules_for

HAN = regex.compile(r"\p{Han}")


def _jieba_words(text: str) -> list[str]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return [word for word in jieba.lcut(text) if not word.isspace()]


def _differences(reference: list[str], fast: list[str]) -> list[tuple[list[str], list[str]]]:
    matcher = difflib.SequenceMatcher(a=reference, b=fast, autojunk=False)
    return [(reference[a:b], fast[c:d]) for tag, a, b, c, d in matcher.get_opcodes() if tag != "equal"]


def test_jieba_rs_gives_jiebas_words_on_every_chinese_page_and_line_of_the_corpus(
    chinese_pages, shared_corpus
):
    """The only differences: a run of Latin letters and digits joined by '.', '-' or '_' (a URL, a
    file name, a range like 6.55-6.60), which jieba's HMM step cuts at those marks and jieba-rs keeps
    whole, as spaCy keeps such tokens whole in the spaced languages. No Han word differs."""
    lines = (shared_corpus / "multilingual" / "zh_repeated_lines.jsonl").read_text(encoding="utf-8")
    texts = [page["text"] for page in chinese_pages] + [
        json.loads(line)["text"] for line in lines.splitlines()
    ]
    assert len(chinese_pages) >= 39 and len(texts) >= 1039
    differing = 0
    for text in texts:
        differences = _differences(_jieba_words(text), units.segmenter_words(text))
        differing += bool(differences)
        for cut, whole in differences:
            assert "".join(cut) == "".join(whole) and len(cut) > len(whole), (cut, whole)
            assert all(not HAN.search(word) and regex.search(r"[.\-_]", word) for word in whole), whole
    assert differing < len(texts) / 10  # 58 of the 1,039 texts: 9 pages, 49 lines


def test_chinese_is_cut_by_the_segmenter_the_character_languages_by_character_the_rest_at_spaces():
    assert units.words("我们今天去北京大学参观了图书馆。", "zh") == [
        "我们", "今天", "去", "北京大学", "参观", "了", "图书馆", "。",
    ]  # fmt: skip
    assert units.words("東京都に住む Tanaka さん", "ja") == [
        "東",
        "京",
        "都",
        "に",
        "住",
        "む",
        "Tanaka",
        "さ",
        "ん",
    ]
    assert units.words("ภาษา ไทย", "th") == ["ภ", "า", "ษ", "า", "ไ", "ท", "ย"]
    assert units.words("Ein  kurzer\tSatz 我们", "de") == ["Ein", "kurzer", "Satz", "我们"]
    assert [units.kind(code) for code in ("zh", "yue", "ja", "my", "en", None)] == [
        "segmenter", "segmenter", "characters", "characters", "words", "words",
    ]  # fmt: skip


def test_the_filters_split_unspaced_languages_with_the_same_units():
    text = "据新华社报道，北京时间今天上午，国家统计局发布了最新数据。"
    assert rules_for("zh").split_words(text) == units.words(text, "zh")
    assert rules_for("ja").split_words("日本語の文章") == units.words("日本語の文章", "ja")
    assert rules_for("zh").unspaced and rules_for("ja").by_characters and not rules_for("zh").by_characters


def test_character_units_of_an_arrow_column_equal_the_python_ones(chinese_pages, shared_corpus):
    lines = (shared_corpus / "multilingual" / "extraction" / "ground_truth.jsonl").read_text(encoding="utf-8")
    texts = [json.loads(line)["text"] for line in lines.splitlines()]  # every script of the corpus
    texts += ["", " \u3000 ", "a\u3000b\u00a0c\x1cd\x85e\u2028f\u200bg\x0bh中", "全角\u3000空格"]
    vectorized = units.character_unit_lists(pa.array(texts)).to_pylist()
    assert vectorized == [units.character_units(text) for text in texts]
    assert vectorized[-1] == ["全", "角", "空", "格"]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("下列关于我国古代科学技术成就的表述中，正确的一项是", "zh"),
        ("次のうち、正しいものはどれか。東京都の人口について", "ja"),
        ("ข้อใดต่อไปนี้ถูกต้อง", "th"),
        ("Which of the following is correct?", None),
        ("The Analects (论语) were compiled by his disciples after Confucius died.", None),
        ("2024-01-01 12:00", None),
    ],
)
def test_a_text_without_a_language_is_cut_as_its_script_says(text, language):
    assert units.language_of(text) == language
