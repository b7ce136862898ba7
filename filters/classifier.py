"""fastText quality classifier and KenLM perplexity: the expensive stages, run last.

Both hold only a model path (stages are pickled to Ray workers); the model loads once per
worker process through ``core.models``.
"""

from __future__ import annotations

import math
import re
from importlib import resources

import pyarrow as pa

from crawlsieve.core.models import fasttext_model, kenlm_model
from crawlsieve.core.stages import with_decisions
from crawlsieve.filters.config import ClassifierConfig, KenlmConfig

QUALITY_SCORE = "quality_score"
_WHITESPACE = re.compile(r"\s+")


def model_input(text: str, max_chars: int) -> str:
    """What fastText sees: one line (its predict refuses newlines), at most ``max_chars``."""
    return _WHITESPACE.sub(" ", text[: max_chars * 2]).strip()[:max_chars]


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


class QualityClassifierStage:
    """Adds ``quality_score`` to every row; in drop mode removes rows below ``min_score``
    (reason ``quality_classifier:score``)."""

    name = "quality_classifier"

    def __init__(self, config: ClassifierConfig):
        self.config = config
        self.model_path = config.model_path or default_quality_model_path()

    def check(self) -> None:
        fasttext_model(self.model_path)

    def __call__(self, batch: pa.Table) -> pa.Table:
        c = self.config
        texts = [model_input(t or "", c.max_chars) for t in batch.column("text").to_pylist()]
        try:
            scores = positive_probability(fasttext_model(self.model_path), texts, c.positive_label)
        except Exception as error:  # a model that fails at run time fails its rows, not the run
            batch = batch.append_column(QUALITY_SCORE, pa.nulls(batch.num_rows, pa.float64()))
            return with_decisions(
                batch,
                failed=["quality_classifier_error"] * batch.num_rows,
                error=[str(error)] * batch.num_rows,
            )
        batch = batch.append_column(QUALITY_SCORE, pa.array(scores, type=pa.float64()))
        if c.mode != "drop":
            return batch
        return with_decisions(
            batch, removed=[None if s >= c.min_score else "quality_classifier:score" for s in scores]
        )


class KenlmPerplexityStage:
    """Adds ``sig_kenlm_perplexity`` (CCNet-style, per whitespace word, lowercased);
    in drop mode removes rows above ``max_perplexity`` (reason ``kenlm:perplexity``)."""

    name = "kenlm"

    def __init__(self, config: KenlmConfig):
        self.config = config

    def check(self) -> None:
        kenlm_model(self.config.model_path)

    def __call__(self, batch: pa.Table) -> pa.Table:
        model = kenlm_model(self.config.model_path)
        values = [perplexity(model, text or "") for text in batch.column("text").to_pylist()]
        batch = batch.append_column("sig_kenlm_perplexity", pa.array(values, type=pa.float64()))
        if self.config.mode != "drop":
            return batch
        limit = self.config.max_perplexity
        return with_decisions(
            batch, removed=["kenlm:perplexity" if v is not None and v > limit else None for v in values]
        )


def perplexity(model, text: str) -> float | None:
    """10^(-log10 P / words) over the text's lines, as CCNet computes it."""
    log10_prob, words = 0.0, 0
    for line in text.splitlines():
        line = _WHITESPACE.sub(" ", line.lower()).strip()
        if line:
            log10_prob += model.score(line, bos=True, eos=True)
            words += len(line.split()) + 1  # + </s>
    return math.pow(10.0, -log10_prob / words) if words else None
