"""Benchmark decontamination: benchmark files in every format, normalized n-gram matches, the index."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawlsieve.core.errors import ConfigError
from crawlsieve.core.layout import RunLayout
from crawlsieve.filters.config import DecontaminationConfig
from crawlsieve.filters.decontamination import DecontaminationStage, build_index, normalized_words
from crawlsieve.pipelines.config import config_from_dict, defaults_yaml
from crawlsieve.pipelines.run import validate

QUESTION = (
    "Which gas do green plants absorb from the air during photosynthesis to build the sugars they store?"
)
ANSWER = "Carbon dioxide, which the leaves take in through small pores called stomata on their lower surface."
PASSAGE = (
    "The committee met in the old library on a cold morning in March,\n"
    "and after a long discussion about the budget for the coming year\n"
    "it decided to close the reading room on Sundays until further notice."
)


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def stage_for(tmp_path: Path, **config) -> DecontaminationStage:
    return DecontaminationStage(
        DecontaminationConfig(**config), RunLayout(tmp_path / "run").decontamination_index
    )


def judged(stage: DecontaminationStage, *texts: str) -> list[dict]:
    return stage(pa.table({"text": list(texts)})).to_pylist()


def test_a_page_quoting_a_benchmark_question_with_other_case_and_punctuation_is_removed(tmp_path):
    bench = write_jsonl(tmp_path / "quiz.jsonl", [{"question": QUESTION, "answer": 1}])
    stage = stage_for(tmp_path, benchmarks={"quiz": str(bench)})
    page = (
        "Homework help!! Q: WHICH gas do green plants absorb from the air -- during photosynthesis -- "
        "to build the sugars they store? Our tutors explain it below."
    )
    clean = "Green plants absorb light and water; the sugars they store feed the whole plant."
    contaminated, kept = judged(stage, page, clean)
    assert contaminated["_removed"] == "decontamination:quiz"
    assert contaminated["decontamination_match"] == (
        "quiz: which gas do green plants absorb from the air during photosynthesis to build"
    )
    assert contaminated["sig_decontamination_ngrams"] == 5.0  # the question's 17 words: five 13-grams
    assert kept["_removed"] is None and kept["decontamination_match"] is None
    assert kept["sig_decontamination_ngrams"] == 0.0
    assert dict(stage.counters) == {"decontamination:quiz": 1}


#: A question in the shape of C-Eval's (written here): 60 characters, one whitespace "word", 34 jieba words.
CHINESE_QUESTION = (
    "下列关于我国古代科学技术成就的表述中，正确的一项是哪一个选项？"
    "请从下面给出的四个选项中选出唯一正确的答案并简要说明理由。"
)


def test_a_chinese_benchmark_question_is_indexed_and_found_where_a_chinese_page_copies_it(
    tmp_path, chinese_pages
):
    """By whitespace a Chinese question is two "words" and the benchmark would be refused; in jieba's
    words (the benchmark by its script, the page by its language) it is indexed and matches."""
    bench = tmp_path / "ceval.jsonl"
    bench.write_text(json.dumps({"question": CHINESE_QUESTION, "answer": "A"}, ensure_ascii=False) + "\n")
    stage = stage_for(tmp_path, benchmarks={"ceval": str(bench)})
    stage.check()
    article = next(p["text"] for p in chinese_pages if p["genre"] == "article" and len(p["text"]) > 400)
    lines = article.splitlines()
    copied = "\n".join([*lines[: len(lines) // 2], CHINESE_QUESTION, *lines[len(lines) // 2 :]])
    pages = [copied, *(p["text"] for p in chinese_pages)]
    out = stage(pa.table({"text": pages, "language": ["zh"] * len(pages)})).to_pylist()
    assert out[0]["_removed"] == "decontamination:ceval"
    assert out[0]["decontamination_match"].startswith("ceval: 下列 关于 我国 古代")
    assert len(CHINESE_QUESTION) == 60 and len(CHINESE_QUESTION.split()) == 1
    assert out[0]["sig_decontamination_ngrams"] == len(normalized_words(CHINESE_QUESTION, "zh")) - 13 + 1
    assert [row["_removed"] for row in out[1:]] == [None] * len(chinese_pages)  # every page of the corpus


def test_twelve_shared_words_are_not_a_thirteen_gram_match(tmp_path):
    bench = write_jsonl(tmp_path / "quiz.jsonl", [{"question": QUESTION}])
    stage = stage_for(tmp_path, benchmarks={"quiz": str(bench)})
    twelve = "gas do green plants absorb from the air during photosynthesis to build"
    assert judged(stage, f"{twelve} houses")[0]["_removed"] is None
    shorter = stage_for(tmp_path / "n12", benchmarks={"quiz": str(bench)}, ngram=12)
    assert judged(shorter, f"{twelve} houses")[0]["_removed"] == "decontamination:quiz"


def test_jsonl_rows_give_every_string_field_and_list_item_unless_fields_are_configured(tmp_path):
    bench = write_jsonl(
        tmp_path / "qa.jsonl", [{"id": 7, "question": "short?", "choices": ["Oxygen", ANSWER], "answer": 1}]
    )
    every = stage_for(tmp_path / "a", benchmarks={"qa": str(bench)})
    assert judged(every, f"In short: {ANSWER}")[0]["_removed"] == "decontamination:qa"
    only_question = stage_for(
        tmp_path / "b",
        benchmarks={
            "qa": str(
                write_jsonl(tmp_path / "qa2.jsonl", [{"question": QUESTION, "choices": ["Oxygen", ANSWER]}])
            )
        },
        fields=["question"],
    )
    assert judged(only_question, ANSWER)[0]["_removed"] is None
    assert judged(only_question, QUESTION)[0]["_removed"] == "decontamination:qa"


def test_parquet_gzip_jsonl_and_txt_benchmarks_and_a_passage_wrapped_over_lines(tmp_path):
    parquet = tmp_path / "arc.parquet"
    pq.write_table(
        pa.table({"question": [QUESTION], "choices": [["Oxygen", "Nitrogen"]], "label": [2]}), parquet
    )
    zipped = tmp_path / "answers.jsonl.gz"
    with gzip.open(zipped, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": ANSWER}) + "\n")
    txt = tmp_path / "passages.txt"
    txt.write_text(PASSAGE, encoding="utf-8")
    stage = stage_for(tmp_path, benchmarks={"arc": str(parquet), "answers": str(zipped), "reading": str(txt)})
    removed = [
        row["_removed"] for row in judged(stage, QUESTION, ANSWER, PASSAGE.replace("\n", " "), "Nothing.")
    ]
    assert removed == ["decontamination:arc", "decontamination:answers", "decontamination:reading", None]


def test_an_ngram_in_two_benchmarks_is_counted_for_the_first_in_config_order(tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", [{"q": QUESTION}])
    second = write_jsonl(tmp_path / "b.jsonl", [{"q": QUESTION}, {"q": ANSWER}])
    stage = stage_for(tmp_path, benchmarks={"first": str(first), "second": str(second)})
    assert [row["_removed"] for row in judged(stage, QUESTION, ANSWER)] == [
        "decontamination:first",
        "decontamination:second",
    ]
    index = build_index(stage.config)
    assert index.dtype == np.uint64 and np.all(np.diff(index[0].astype(np.float64)) >= 0)
    assert len(np.unique(index[0])) == index.shape[1]


def test_tag_mode_records_the_match_and_removes_nothing(tmp_path):
    bench = write_jsonl(tmp_path / "quiz.jsonl", [{"question": QUESTION}])
    row = judged(stage_for(tmp_path, benchmarks={"quiz": str(bench)}, mode="tag"), QUESTION)[0]
    assert row["_removed"] is None
    assert row["decontamination_match"].startswith("quiz: which gas do green plants")
    assert row["sig_decontamination_ngrams"] == 5.0


def test_the_index_is_written_once_into_the_run_directory_and_memory_mapped(tmp_path):
    bench = write_jsonl(tmp_path / "quiz.jsonl", [{"question": QUESTION}])
    stage = stage_for(tmp_path, benchmarks={"quiz": str(bench)})
    path = RunLayout(tmp_path / "run").decontamination_index
    assert not path.exists()
    stage.prepare()
    written = path.stat().st_mtime_ns
    stage.prepare()  # a resumed run keeps the index it started with
    assert path.stat().st_mtime_ns == written
    index = stage.index()
    assert isinstance(index, np.memmap)
    assert np.array_equal(index, build_index(stage.config))


def test_unusable_benchmarks_are_refused_with_one_line(tmp_path):
    with pytest.raises(ConfigError, match="decontamination"):
        config_from_dict({"filters": {"decontamination": {"benchmarks": {"bad name!": "x.jsonl"}}}})
    missing = config_from_dict(
        {"filters": {"decontamination": {"benchmarks": {"q": str(tmp_path / "no.jsonl")}}}}
    )
    with pytest.raises(ConfigError, match="not found"):
        validate(missing)
    csv = tmp_path / "q.csv"
    csv.write_text("question\n")
    with pytest.raises(ConfigError, match="not one of"):
        DecontaminationStage(DecontaminationConfig(benchmarks={"q": str(csv)})).check()
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "ok"}\n{not json\n')
    with pytest.raises(ConfigError, match="line 2 is not JSON"):  # the pre-run check reads the files
        DecontaminationStage(DecontaminationConfig(benchmarks={"q": str(broken)})).check()
    short = write_jsonl(tmp_path / "short.jsonl", [{"question": "too short"}])
    with pytest.raises(ConfigError, match="no text of 13 words"):
        build_index(DecontaminationConfig(benchmarks={"q": str(short)}))


def test_defaults_list_the_pii_and_decontamination_keys_off():
    text = defaults_yaml()
    for key in (
        "decontamination:",
        "benchmarks: {}",
        "ngram: 13",
        "pii:",
        "enabled: false",
        "keep_private: true",
    ):
        assert key in text


def test_crawlsieve_run_refuses_a_broken_benchmark_in_one_line_before_touching_the_output(tmp_path, capsys):
    from crawlsieve.pipelines.cli import main

    broken = tmp_path / "quiz.jsonl"
    broken.write_text(json.dumps({"question": QUESTION}) + "\n{oops\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"filters:\n  decontamination:\n    benchmarks:\n      quiz: {broken}\n", encoding="utf-8"
    )
    warc = tmp_path / "in.warc.gz"
    warc.write_bytes(b"")
    status = main(["run", str(warc), "--output", str(tmp_path / "out"), "--config", str(config)])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert error == f"crawlsieve run: error: decontamination benchmark {broken}: line 2 is not JSON"
    assert not (tmp_path / "out").exists()
