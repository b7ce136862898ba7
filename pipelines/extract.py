"""Main-text extraction (trafilatura, or resiliparse: `pipelines.extractors`), bounded in time per page.

One pathological page must not stall a worker: each page runs under a wall-clock alarm
(SIGALRM, available because Ray runs task code on the worker's main thread); when the
alarm fires the page fails with `extract_timeout` and the batch goes on.
"""

from __future__ import annotations

import contextlib
import signal
import threading

import pyarrow as pa

from crawlsieve.pipelines.config import ExtractConfig
from crawlsieve.pipelines.decode import decode_html
from crawlsieve.pipelines.stages import error_text, with_decisions


class ExtractTimeout(Exception):
    """A page took longer than `extract.timeout_seconds`."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise ExtractTimeout in the block after ``seconds``; a no-op off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expire(signum, frame):
        raise ExtractTimeout

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class ExtractStage:
    """Decode each payload and extract its main text; replaces `html` with `text`."""

    name = "extract"

    def __init__(self, config: ExtractConfig):
        from crawlsieve.pipelines.extractors import make_extractor

        self.config = config
        self._extract = make_extractor(config)

    def __call__(self, batch: pa.Table) -> pa.Table:
        texts: list[str | None] = []
        charsets: list[str | None] = []
        removed: list[str | None] = []
        failed: list[str | None] = []
        errors: list[str | None] = []
        for payload, http_charset in zip(
            batch.column("html").to_pylist(), batch.column("http_charset").to_pylist(), strict=True
        ):
            text, charset, reason, kind, error = None, None, None, None, None
            try:
                html, charset = decode_html(payload or b"", http_charset)
                with time_limit(self.config.timeout_seconds):
                    text = self._extract(html)
            except ExtractTimeout:
                kind, error = "extract_timeout", f"over {self.config.timeout_seconds}s"
            except RecursionError:
                kind, error = "extract_error", "RecursionError: HTML nested too deep"
            except Exception as exc:
                kind, error = "extract_error", error_text(exc)
            if kind is None and (text is None or len(text.strip()) < max(self.config.min_text_chars, 1)):
                reason, text = "extract:empty", None
            texts.append(text)
            charsets.append(charset)
            removed.append(reason)
            failed.append(kind)
            errors.append(error)
        batch = batch.drop_columns(["html"])
        batch = batch.append_column("text", pa.array(texts, pa.string()))
        batch = batch.append_column("charset", pa.array(charsets, pa.string()))
        return with_decisions(batch, removed=removed, failed=failed, error=errors)
