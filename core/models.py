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


@cache
def tokenizer(path: str) -> Any:
    """A Hugging Face `tokenizers.Tokenizer` for page text from a tokenizer.json file (read from disk
    only, never the hub), loaded once per process; raises ConfigError for a missing or bad file.

    Special tokens written in a page (a literal ``<|endoftext|>``) are encoded as the text they are
    (``encode_special_tokens``): a web page must not end a training document early or inject
    control tokens, and the counts of `token_count` and `crawlsieve tokenize` then agree."""
    from tokenizers import Tokenizer

    if not Path(path).is_file():
        raise ConfigError(f"no such file {path}")
    try:
        loaded = Tokenizer.from_file(path)
    except Exception as error:  # tokenizers raises a bare Exception for malformed files
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{path} is not a tokenizer.json ({reason})") from None
    loaded.encode_special_tokens = True
    return loaded
