"""The fastText quality classifier and KenLM stages: scores, modes, bad model files, Ray workers."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pyarrow as pa
import pytest

from crawlsieve.core import units
from crawlsieve.core.errors import ConfigError
from crawlsieve.filters.classifier import (
    QUALITY_SCORE,
    FastTextClassifierStage,
    KenlmPerplexityStage,
    QualityClassifierStage,
    model_input,
)
from crawlsieve.filters.config import ClassifierConfig, FastTextClassifierEntry, KenlmConfig
from crawlsieve.filters.stages import post_language_stages
from crawlsieve.filters.train import fasttext_line, train_classifier
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import validate

ARTICLE = (
    "The river authority published a long report about the floods of the last winter. It describes how the "
    "water rose in the northern district and what the city will do next. Several volunteers helped the "
    "families who had to leave their homes for a few days, and the mayor thanked them at a public meeting."
)
CHROME = "Home\nAbout us\nContact\nLogin\nRegister\nShare on Facebook\nShare on Twitter\nAccept all cookies"


def table(texts: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table(
        {
            "id": [str(i) for i in range(n)],
            "url": [f"https://example.com/{i}" for i in range(n)],
            "text": texts,
            "language": ["en"] * n,
            "language_score": [0.9] * n,
        }
    )


def test_default_model_scores_every_row_and_prefers_article_prose_to_page_chrome():
    out = QualityClassifierStage(ClassifierConfig())(table([ARTICLE, CHROME, ""]))
    scores = out.column(QUALITY_SCORE).to_pylist()
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[0] > 0.5 > scores[1]
    assert nothing_removed(out)


def nothing_removed(out: pa.Table) -> bool:  # tag mode (the default) decides nothing
    return "_removed" not in out.column_names or out.column("_removed").null_count == out.num_rows


def test_drop_mode_removes_documents_below_the_minimum_score():
    out = QualityClassifierStage(ClassifierConfig(mode="drop", min_score=0.5))(table([ARTICLE, CHROME]))
    assert out.column("_removed").to_pylist() == [None, "quality_classifier:score"]


def test_post_language_stages_end_with_the_classifier_so_quality_score_is_always_written():
    names = [stage.name for stage in post_language_stages(Config().filters)]
    assert names == ["heuristic_filters", "quality_classifier"]


@pytest.mark.parametrize("content", [None, b"", b"not a fasttext model" * 50])
def test_validate_refuses_a_missing_or_corrupt_model_with_one_line(tmp_path, content):
    path = tmp_path / "model.bin"
    if content is not None:
        path.write_bytes(content)
    config = Config()
    config.filters.quality_classifier.model_path = str(path)
    with pytest.raises(ConfigError) as error:
        validate(config)
    assert str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_validate_accepts_the_default_model():
    validate(Config())


def test_stage_pickles_without_its_model_and_scores_in_a_ray_worker(ray_local):
    stage = QualityClassifierStage(ClassifierConfig())
    stage(table([ARTICLE]))  # loads the model in this process
    assert len(pickle.dumps(stage)) < 5_000

    @ray_local.remote
    def score(stage, batch):
        return stage(batch).column(QUALITY_SCORE).to_pylist()

    scores = ray_local.get(score.remote(stage, table([ARTICLE, CHROME])))
    assert scores[0] > scores[1]


ARPA = """\\data\\
ngram 1=7
ngram 2=6

\\1-grams:
-3.0\t<unk>\t0
0\t<s>\t-0.3
-1.0\t</s>\t0
-0.5\tthe\t-0.3
-0.7\triver\t-0.3
-0.7\trose\t-0.3
-0.9\tfast\t-0.3

\\2-grams:
-0.1\t<s> the
-0.1\tthe river
-0.1\triver rose
-0.2\trose fast
-0.1\tfast </s>
-0.3\trose </s>

\\end\\
"""


@pytest.fixture
def arpa_model(tmp_path):
    pytest.importorskip("kenlm", reason="kenlm is installed with the test extra")
    path = tmp_path / "tiny.arpa"
    path.write_text(ARPA)
    return str(path)


def test_kenlm_perplexity_is_low_for_text_the_model_knows_and_drop_mode_removes_the_rest(arpa_model):
    stage = KenlmPerplexityStage(KenlmConfig(model_path=arpa_model, mode="drop", max_perplexity=50))
    out = stage(table(["The river rose fast", "Zebras juggle quietly over purple mountains", ""]))
    known, unknown, empty = out.column("sig_kenlm_perplexity").to_pylist()
    assert known < 5 < 50 < unknown
    assert empty is None
    assert out.column("_removed").to_pylist() == [None, "kenlm:perplexity", None]


def test_kenlm_stage_runs_only_when_a_model_is_given_and_a_missing_one_is_refused(arpa_model, tmp_path):
    config = Config()
    config.filters.kenlm.model_path = arpa_model
    assert [s.name for s in post_language_stages(config.filters)][-1] == "kenlm"
    config.filters.kenlm.model_path = str(tmp_path / "missing.arpa")
    with pytest.raises(ConfigError, match="KenLM model not found"):
        validate(config)


def _chinese_article_lines_and_boilerplate(
    chinese_pages, shared_corpus
) -> tuple[list[str], list[str], list[str]]:
    """Lines of half the corpus's Chinese articles, the other half whole, and real repeated
    template lines of Chinese sites."""
    articles = [page["text"] for page in chinese_pages if page["genre"] == "article"]
    lines = (shared_corpus / "multilingual" / "zh_repeated_lines.jsonl").read_text(encoding="utf-8")
    boilerplate = [json.loads(line)["text"] for line in lines.splitlines()]
    training = [line for text in articles[::2] for line in text.splitlines() if len(line) >= 30]
    return training, articles[1::2], boilerplate


def test_a_classifier_reads_chinese_as_jieba_words_when_trained_and_when_scoring(
    tmp_path, chinese_pages, shared_corpus
):
    """fastText splits at spaces: a Chinese clause would be one unseen "word". Training lines (no
    language: judged by their script) and the stage's input (the page's language) are both jieba's
    words, so a model trained on Chinese articles against template lines tells them apart."""
    training, held_out, boilerplate = _chinese_article_lines_and_boilerplate(chinese_pages, shared_corpus)
    page = held_out[0]
    line = " ".join(page.split())
    assert model_input(page, 10_000, "zh").split() == units.words(line, "zh")
    assert fasttext_line("__label__hq", page).split()[1:] == model_input(page, 10_000, "zh").split()
    model = tmp_path / "zh.bin"
    train_classifier(training, boilerplate[:800], model, epoch=10, dim=16)
    stage = FastTextClassifierStage(
        FastTextClassifierEntry(name="zh", model_path=str(model), threshold=0.5, max_chars=10_000)
    )
    texts = [*held_out, *boilerplate[800:]]

    def scores(language: str) -> tuple[float, float]:
        out = stage(pa.table({"text": texts, "language": [language] * len(texts)}))
        values = np.array(out["sig_zh"].to_pylist())
        return values[: len(held_out)].mean(), values[len(held_out) :].mean()

    articles, templates = scores("zh")
    unsegmented, _ = scores("en")  # what the stage read before: whole clauses
    assert articles > 3 * templates and articles > 2 * unsegmented


def _arpa(sentences: list[list[str]]) -> str:
    """A bigram ARPA model over the words of ``sentences`` (every unigram -1, every bigram -0.1)."""
    vocabulary = sorted({word for words in sentences for word in words})
    bigrams = sorted(
        {pair for words in sentences for pair in zip(["<s>", *words], [*words, "</s>"], strict=True)}
    )
    unigrams = ["-3.0\t<unk>\t0", "0\t<s>\t-0.3", "-1.0\t</s>\t0", *(f"-1.0\t{w}\t-0.3" for w in vocabulary)]
    return "\n".join(
        [
            "\\data\\",
            f"ngram 1={len(unigrams)}",
            f"ngram 2={len(bigrams)}",
            "",
            "\\1-grams:",
            *unigrams,
            "",
            "\\2-grams:",
            *(f"-0.1\t{a} {b}" for a, b in bigrams),
            "",
            "\\end\\",
            "",
        ]
    )


def test_kenlm_scores_a_chinese_page_by_its_jieba_words(tmp_path, chinese_pages):
    """A KenLM model knows words: a Chinese line whole is one unknown token; in jieba's words each
    is known, so the perplexity of text the model was built from is low, per word."""
    pytest.importorskip("kenlm", reason="kenlm is installed with the test extra")
    article = next(page["text"] for page in chinese_pages if page["genre"] == "article")
    lines = [line for line in article.splitlines() if line.strip()][:5]
    path = tmp_path / "zh.arpa"
    path.write_text(_arpa([units.words(line.lower(), "zh") for line in lines]), encoding="utf-8")
    stage = KenlmPerplexityStage(KenlmConfig(model_path=str(path), mode="tag"))
    text = "\n".join(lines)
    out = stage(pa.table({"text": [text, text], "language": ["zh", "en"]}))
    by_words, by_spaces = out["sig_kenlm_perplexity"].to_pylist()
    assert by_words < 2 and by_spaces > 10 * by_words  # 1.3 and 21
