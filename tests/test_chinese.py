"""What a Chinese page is made of, on the corpus's real Chinese pages: Han share, script,
boilerplate lines, and Chinese and Japanese sentence ends in the line-punctuation rules."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from crawlsieve.filters.c4 import C4
from crawlsieve.filters.chinese import _BOILERPLATE
from crawlsieve.filters.cjk import script_of, to_simplified
from crawlsieve.filters.config import C4Config, FiltersConfig
from crawlsieve.filters.languages import rules_for
from crawlsieve.filters.stages import HeuristicFilterStage
from crawlsieve.filters.text_stats import DocStats

MULTILINGUAL = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "multilingual"


@pytest.fixture(scope="module")
def pages() -> list[dict]:
    path = MULTILINGUAL / "extraction" / "ground_truth.jsonl"
    if not path.is_file():
        pytest.skip(f"no multilingual corpus at {MULTILINGUAL}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def chinese(pages) -> list[dict]:
    return [page for page in pages if page["script"] == "zh"]


def _judge(texts: list[str], language: str, config: FiltersConfig | None = None) -> pa.Table:
    table = pa.table(
        {
            "id": [str(i) for i in range(len(texts))],
            "text": texts,
            "language": [language] * len(texts),
            "script": [script_of(t) if language == "zh" else None for t in texts],
        }
    )
    return HeuristicFilterStage(config or FiltersConfig())(table)


def test_script_tells_the_one_traditional_page_of_the_corpus_from_the_simplified_ones(chinese):
    scripts = {page["url"]: script_of(page["text"]) for page in chinese}
    traditional = [url for url, script in scripts.items() if script == "Hant"]
    assert traditional == [next(p["url"] for p in chinese if "hk.finance.yahoo.com" in p["url"])]
    assert script_of(to_simplified(chinese[0]["text"])) == "Hans"


def test_a_traditional_page_is_judged_as_its_simplified_conversion_and_published_as_written(chinese):
    written = "分享到：微信 微博\n" + next(p["text"] for p in chinese if "hk.finance.yahoo.com" in p["url"])
    converted = to_simplified(written)
    assert converted != written and script_of(converted) == "Hans"
    judged = _judge([converted, written], "zh")
    signals = [c for c in judged.column_names if c.startswith("sig_")]
    for column in signals:  # the same measurements for both scripts
        assert judged.column(column)[0].as_py() == judged.column(column)[1].as_py(), column
    assert judged.column("sig_chinese_boilerplate_lines").to_pylist() == [1, 1]
    assert judged.column("_removed").to_pylist() == [None, None]
    assert judged.column("text").to_pylist() == [converted.partition("\n")[2], written.partition("\n")[2]]


def test_han_ratio_removes_a_zh_page_of_mostly_latin_letters_and_keeps_the_corpus_chinese_pages(chinese):
    judged = _judge([p["text"] for p in chinese], "zh")
    ratios = judged.column("sig_chinese_han_ratio").to_pylist()
    assert min(ratios) > 0.45  # forums with code: 0.46
    assert "chinese:han_ratio" not in judged.column("_removed").to_pylist()
    latin = "\n".join(
        f"{chinese[0]['text'][:20]} lorem ipsum dolor sit amet consectetur {i}" for i in range(40)
    )
    plain = FiltersConfig()
    plain.compression.mode = "tag"  # the made-up page repeats itself
    assert _judge([latin], "zh", plain).column("_removed").to_pylist() == ["chinese:han_ratio"]
    assert _judge([latin], "en").column("sig_chinese_han_ratio").to_pylist() == [None]  # zh only


def test_boilerplate_lines_are_cut_from_chinese_pages_and_no_line_of_the_corpus_texts_is(chinese):
    for page in chinese:  # the human-marked text of every Chinese page: nothing is boilerplate
        hits = [line for line in page["text"].splitlines() if _BOILERPLATE.search(line.strip())]
        assert [line for line in hits if len(line.strip()) <= 64] == [], page["url"]
    article = next(p["text"] for p in chinese if p["genre"] == "article")
    template = [
        "上一篇：城市更新的三个问题",
        "分享到：微信 微博 QQ空间",
        "版权所有 © 2024 某某网 京ICP备12345678号",
    ]
    judged = _judge(["\n".join([*template[:2], article, template[2]])], "zh")
    assert judged.column("sig_chinese_boilerplate_lines").to_pylist() == [3]
    assert judged.column("text").to_pylist() == [article]
    tagged = FiltersConfig()
    tagged.chinese.mode = "tag"
    assert (
        _judge(["\n".join([article, *template])], "zh", tagged).column("text").to_pylist()[0].endswith("号")
    )
    only = _judge(["\n".join(template * 3 + ["一段很短的正文。"])], "zh")
    assert only.column("_removed").to_pylist() == ["chinese:boilerplate_lines"]


def test_the_template_lines_of_common_crawl_that_the_list_cuts_are_boilerplate():
    path = MULTILINGUAL / "zh_repeated_lines.jsonl"
    if not path.is_file():
        pytest.skip(f"no multilingual corpus at {MULTILINGUAL}")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    cut = [
        r
        for r in rows
        if len(r["text"].strip()) <= 64 and _BOILERPLATE.search(to_simplified(r["text"].strip()))
    ]
    print(f"\nrepeated template lines cut: {len(cut)} of {len(rows)}: {[r['text'][:20] for r in cut]}")
    assert {"标签：暂无数据！", "此主題已被刪除！"} <= {r["text"] for r in cut}
    assert len(cut) >= 6


def test_chinese_and_japanese_sentence_ends_count_as_punctuated_lines_english_ones_do_not():
    lines = ["他说：", "「这是真的」", "好的…", "结束。", "第二部分；"]
    zh = _judge(["\n".join(lines * 8)], "zh").column("sig_fineweb_quality_line_punct_ratio").to_pylist()
    assert zh == [1.0]
    english = "\n".join(["He said:", "“It is true”", "The end."] * 8)
    assert _judge([english], "en").column("sig_fineweb_quality_line_punct_ratio").to_pylist() == [
        pytest.approx(1 / 3)
    ]
    c4 = C4(C4Config(filter_no_terminal_punct=True, min_words_per_line=1))
    kept = c4.clean(
        DocStats("\n".join(["这是第一句话：", "没有标点的一行", "结束了」"]), rules_for("zh"))
    ).kept
    assert kept == ["这是第一句话：", "结束了」"]
