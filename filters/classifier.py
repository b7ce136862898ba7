"""fastText classifiers (the quality classifier and any others) and KenLM perplexity: the expensive
stages, run last.

Both hold only a model path (stages are pickled to Ray workers); the model loads once per
worker process through ``core.models``. Both models split their input at spaces, so a text in a
language written without spaces is given as its units (``core.units``: jieba's words for Chinese,
characters for Japanese, Thai, ...) separated by spaces; otherwise a Chinese clause would be one
"word" the model has never seen.
"""

from __future__ import annotations

import math
import re
from importlib import resources

import pyarrow as pa

from crawlsieve.core import units
from crawlsieve.core.errors import ConfigError
from crawlsieve.core.models import fasttext_model, kenlm_model
from crawlsieve.core.stages import with_decisions
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


class FastTextClassifierStage:
    """Adds one float64 score column, the probability of ``label`` under a fastText model, to every
    row; with ``remove`` it removes rows scoring below ``threshold`` with ``reason``."""

    def __init__(
        self,
        *,
        name: str,
        model_path: str,
        label: str,
        threshold: float,
        remove: bool,
        max_chars: int,
        column: str,
        reason: str,
        config_key: str,
    ):
        self.name = name
        self.model_path = model_path
        self.label = label
        self.threshold = threshold
        self.removes = remove
        self.max_chars = max_chars
        self.column = column
        self.reason = reason
        self.config_key = config_key

    @classmethod
    def from_entry(cls, entry: FastTextClassifierEntry) -> FastTextClassifierStage:
        return cls(
            name=f"classifier:{entry.name}",
            model_path=entry.model_path,
            label=entry.label,
            threshold=entry.threshold,
            remove=entry.mode == "remove",
            max_chars=entry.max_chars,
            column=classifier_column(entry.name),
            reason=f"classifier:{entry.name}",
            config_key=f"filters.classifiers[{entry.name}]",
        )

    def check(self) -> None:
        try:
            fasttext_model(self.model_path)
        except ConfigError as error:
            raise ConfigError(f"{self.config_key}: {error}") from None

    def decide(self, scores: list[float | None]) -> list[str | None]:
        """The removal reason of each score (``None``: kept); also what `refilter` re-decides with."""
        if not self.removes:
            return [None] * len(scores)
        return [self.reason if s is not None and s < self.threshold else None for s in scores]

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
        batch = batch.append_column(self.column, pa.array(scores, type=pa.float64()))
        if not self.removes:
            return batch
        return with_decisions(batch, removed=self.decide(scores))


def _languages(batch: pa.Table) -> list[str | None]:
    """Each row's language (None where the batch has none: judged by the text's script)."""
    return batch["language"].to_pylist() if "language" in batch.column_names else [None] * batch.num_rows


def classifier_column(name: str) -> str:
    return f"sig_{name}"


class QualityClassifierStage(FastTextClassifierStage):
    """The built-in entry: ``quality_score`` on every row; in drop mode removes rows below
    ``min_score`` (reason ``quality_classifier:score``)."""

    def __init__(self, config: ClassifierConfig):
        self.config = config
        super().__init__(
            name="quality_classifier",
            model_path=config.model_path or default_quality_model_path(),
            label=config.positive_label,
            threshold=config.min_score,
            remove=config.mode == "drop",
            max_chars=config.max_chars,
            column=QUALITY_SCORE,
            reason="quality_classifier:score",
            config_key="filters.quality_classifier",
        )

    def check(self) -> None:
        fasttext_model(self.model_path)


class KenlmPerplexityStage:
    """Adds ``sig_kenlm_perplexity`` (CCNet-style, per word of the language's units, lowercased);
    in drop mode removes rows above ``max_perplexity`` (reason ``kenlm:perplexity``)."""

    name = "kenlm"
    column = "sig_kenlm_perplexity"

    def __init__(self, config: KenlmConfig):
        self.config = config

    def check(self) -> None:
        kenlm_model(self.config.model_path)

    @property
    def removes(self) -> bool:
        return self.config.mode == "drop"

    def decide(self, values: list[float | None]) -> list[str | None]:
        """The removal reason of each perplexity (``None``: kept); also what `refilter` re-decides with."""
        if not self.removes:
            return [None] * len(values)
        limit = self.config.max_perplexity
        return ["kenlm:perplexity" if v is not None and v > limit else None for v in values]

    def __call__(self, batch: pa.Table) -> pa.Table:
        model = kenlm_model(self.config.model_path)
        texts = batch.column("text").to_pylist()
        values = [
            perplexity(model, t or "", language) for t, language in zip(texts, _languages(batch), strict=True)
        ]
        batch = batch.append_column(self.column, pa.array(values, type=pa.float64()))
        if not self.removes:
            return batch
        return with_decisions(batch, removed=self.decide(values))


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
