"""Models loaded once per worker process, keyed by path.

Stages are pickled to Ray workers, so they hold only the model's path; the loaded model
lives in this module's cache of the process that uses it, loaded on first use.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from crawlsieve.core.errors import ConfigError


@cache
def fasttext_model(path: str) -> Any:
    """A fastText model, loaded once per process; raises ConfigError for a missing or bad file."""
    import fasttext

    if not Path(path).is_file():
        raise ConfigError(f"fastText model not found: {path}")
    try:
        return fasttext.load_model(path)
    except Exception as error:  # fastText raises ValueError or RuntimeError for bad files
        raise ConfigError(f"cannot load fastText model {path}: {error}") from None


@cache
def kenlm_model(path: str) -> Any:
    """A KenLM model, loaded once per process; raises ConfigError for a missing or bad file."""
    try:
        import kenlm
    except ImportError:
        raise ConfigError("filters.kenlm.model_path is set but the kenlm package is not installed") from None
    if not Path(path).is_file():
        raise ConfigError(f"KenLM model not found: {path}")
    try:
        return kenlm.Model(path)
    except Exception as error:  # kenlm raises OSError/RuntimeError for bad files
        raise ConfigError(f"cannot load KenLM model {path}: {error}") from None
