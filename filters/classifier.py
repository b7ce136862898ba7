"""fastText classifiers (the quality classifier and any others) and KenLM perplexity: the expensive
stages, run last.

They hold only their config section and a model path (stages are pickled to Ray workers); the
model loads once per worker process through ``core.models``. Each declares its one rule over its
score (``filters.base``), as the text filters do. Both models split their input at spaces, so a
text in a language written without spaces is given as its units (``core.units``: jieba's words for
Chinese, characters for Japanese, Thai, ...) separated by spaces; otherwise a Chinese clause would
be one "word" the model has never seen.
"""

from __future__ import annotations

import math
import re
from importlib import resources

import pyarrow as pa

from crawlsieve.core import units
from crawlsieve.core.errors import ConfigError
from crawlsieve.core.models import fasttext_model, kenlm_model
from crawlsieve.core.stages import Stage, with_decisions
from crawlsieve.filters.base import Judge, Rule, threshold_keys
from crawlsieve.filters.config import ClassifierConfig, FastTextClassifierEntry, KenlmConfig

QUALITY_SCORE = "quality_score"
_WHITESPACE = re.compile(r"\s+")


def model_input(text: str, max_chars: int, language: str | None = None) -> str:
    """What fastText sees: one line (its predict refuses newlines) of at most ``max_chars`` of the
    text, in its language's units separated by spaces (``language`` None: as the text's script
    says, for training texts, which carry no language)."""
    line = _WHITESPACE.sub(" ", text[: max_chars * 2]).strip()[:max_chars]
    language = units.language_of(line) if language is None else language
    return " ".join(units.words(line, language)) if units.unspaced(language) else line


def positive_probability(model, texts: list[str], positive_label: str) -> list[float]:
    """P(positive label) per text, from every label's probability (k=-1)."""
    labels, probs = model.predict(texts, k=-1)
    scores = []
    for row_labels, row_probs in zip(labels, probs, strict=True):
        by_label = dict(zip(row_labels, row_probs, strict=True))
        scores.append(min(1.0, max(0.0, float(by_label.get(positive_label, 0.0)))))
    return scores


#: The project's own quality classifier (see filters/train_default.py and the README).
DEFAULT_QUALITY_MODEL = "quality_default.ftz"


def default_quality_model_path() -> str:
    return str(resources.files("crawlsieve.filters") / "data" / DEFAULT_QUALITY_MODEL)


class ScoreStage(Judge, Stage):
    """A stage that adds one score column to every row and, when it removes, removes rows by its
    rules over that score (one signal, ``signal``)."""

    signal: str
    column: str
    removes: bool

    def signal_names(self) -> list[str]:
        return [self.signal]

    def signal_column(self, signal: str) -> str:
        return self.column

    def decide(self, batch: pa.Table, values: list[float | None]) -> pa.Table:
        """``batch`` with the score column and, when the stage removes, its decisions."""
        batch = batch.append_column(self.column, pa.array(values, type=pa.float64()))
        if not self.removes:
            return batch
        keys = threshold_keys(batch)
        sections = {key: self.config.thresholds_for(*key) for key in dict.fromkeys(keys)}
        return with_decisions(
            batch,
            removed=[
                self.reason({self.signal: v}, sections[key]) for v, key in zip(values, keys, strict=True)
            ],
        )


class FastTextClassifierStage(ScoreStage):
    """Adds one float64 score column, the probability of ``label`` under a fastText model, to every
    row; in ``remove`` mode removes rows scoring below ``threshold`` (reason ``classifier:<name>``)."""

    signal = "score"
    signal_fields = ("model_path", "label", "max_chars")
    rules = (Rule(None, ("score",), "below", "threshold", off_at=()),)

    def __init__(self, entry: FastTextClassifierEntry):
        self.config = entry
        self.name = f"classifier:{entry.name}"
        self.model_path = entry.model_path
        self.label = entry.label
        self.removes = entry.mode == "remove"
        self.max_chars = entry.max_chars
        self.column = classifier_column(entry.name)

    @property
    def config_key(self) -> str:
        return f"filters.classifiers[{self.config.name}]"

    def check(self) -> None:
        try:
            fasttext_model(self.model_path)
        except ConfigError as error:
            raise ConfigError(f"{self.config_key}: {error}") from None

    def __call__(self, batch: pa.Table) -> pa.Table:
        texts = [
            model_input(t or "", self.max_chars, language)
            for t, language in zip(batch.column("text").to_pylist(), _languages(batch), strict=True)
        ]
        try:
            scores = positive_probability(fasttext_model(self.model_path), texts, self.label)
        except Exception as error:  # a model that fails at run time fails its rows, not the run
            batch = batch.append_column(self.column, pa.nulls(batch.num_rows, pa.float64()))
            return with_decisions(
                batch,
                failed=[f"{self.name}_error"] * batch.num_rows,
                error=[str(error)] * batch.num_rows,
            )
        return self.decide(batch, scores)


def _languages(batch: pa.Table) -> list[str | None]:
    """Each row's language (None where the batch has none: judged by the text's script)."""
    return batch["language"].to_pylist() if "language" in batch.column_names else [None] * batch.num_rows


def classifier_column(name: str) -> str:
    return f"sig_{name}"


class QualityClassifierStage(FastTextClassifierStage):
    """The built-in entry: ``quality_score`` on every row; in drop mode removes rows below
    ``min_score`` (reason ``quality_classifier:score``)."""

    signal_fields = ("model_path", "positive_label", "max_chars")
    rules = (Rule("score", ("score",), "below", "min_score", off_at=()),)
    config: ClassifierConfig

    def __init__(self, config: ClassifierConfig):
        # It always runs: "off" is read as "tag" (an off section would have no thresholds).
        off = config.mode == "off"
        self.config = (
            ClassifierConfig.model_validate({**config.model_dump(), "mode": "tag"}) if off else config
        )
        self.name = "quality_classifier"
        self.model_path = config.model_path or default_quality_model_path()
        self.label = config.positive_label
        self.removes = config.mode == "drop"
        self.max_chars = config.max_chars
        self.column = QUALITY_SCORE

    @property
    def config_key(self) -> str:
        return "filters.quality_classifier"

    def check(self) -> None:
        fasttext_model(self.model_path)


class KenlmPerplexityStage(ScoreStage):
    """Adds ``sig_kenlm_perplexity`` (CCNet-style, per word of the language's units, lowercased);
    in drop mode removes rows above ``max_perplexity`` (reason ``kenlm:perplexity``)."""

    name = "kenlm"
    column = "sig_kenlm_perplexity"
    signal = "perplexity"
    signal_fields = ("model_path",)
    rules = (Rule("perplexity", ("perplexity",), "above", "max_perplexity", off_at=()),)
    config: KenlmConfig

    def __init__(self, config: KenlmConfig):
        self.config = config
        self.removes = config.mode == "drop"

    def check(self) -> None:
        kenlm_model(self.config.model_path)

    def __call__(self, batch: pa.Table) -> pa.Table:
        model = kenlm_model(self.config.model_path)
        texts = batch.column("text").to_pylist()
        values = [
            perplexity(model, t or "", language) for t, language in zip(texts, _languages(batch), strict=True)
        ]
        return self.decide(batch, values)


def perplexity(model, text: str, language: str | None = None) -> float | None:
    """10^(-log10 P / words) over the text's lines, as CCNet computes it; each line in the units of
    ``language`` (None: of the text's script), separated by spaces."""
    log10_prob, words = 0.0, 0
    language = units.language_of(text) if language is None else language
    for line in text.splitlines():
        line = _WHITESPACE.sub(" ", line.lower()).strip()
        if units.unspaced(language):
            line = " ".join(units.words(line, language))
        if line:
            log10_prob += model.score(line, bos=True, eos=True)
            words += len(line.split()) + 1  # + </s>
    return math.pow(10.0, -log10_prob / words) if words else None
