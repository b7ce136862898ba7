"""Main-text extraction (trafilatura, or resiliparse: `ingest.extractors`), bounded in time per page.

Each page's genre is known first (`ingest.genre`): a forum thread or Q&A page is extracted
whole, its question and replies (`ingest.threads`).

One pathological page must not stall a worker: pages are decoded and extracted in a child
process (`ingest.extract_process`) that is killed when a page overruns
`extract.timeout_seconds`; that page fails with `extract_timeout` and the batch goes on.
"""

from __future__ import annotations

import pyarrow as pa

from crawlsieve.core.stages import Stage, with_decisions
from crawlsieve.ingest.config import ExtractConfig
from crawlsieve.ingest.extract_process import ExtractCrashed, ExtractTimeout, PageError, extraction_process


class ExtractStage(Stage):
    """Decode each payload and extract its main text; replaces `html` with `text`, and adds the
    page's `title` and `anchors` (its short link texts, one per line), which the spam filter reads
    (an injected brand sits in the title and in link lists that the main text leaves out), its
    `genre` and the `extractor` that gave the text."""

    name = "extract"

    def __init__(self, config: ExtractConfig):
        self.config = config
        #: CPU seconds the extraction process spent on this stage's pages (its own, not the worker's),
        #: and those of them inside the extractor (the rest: decoding).
        self.child_cpu_seconds = 0.0
        self.extractor_cpu_seconds = 0.0

    def check(self) -> None:
        """The configured extractors are installed (the extraction process builds its own)."""
        from crawlsieve.ingest.extractors import PageExtractor

        PageExtractor(self.config)

    def __call__(self, batch: pa.Table) -> pa.Table:
        texts: list[str | None] = []
        charsets: list[str | None] = []
        titles: list[str | None] = []
        anchor_texts: list[str | None] = []
        genres: list[str | None] = []
        extractors: list[str | None] = []
        removed: list[str | None] = []
        failed: list[str | None] = []
        errors: list[str | None] = []
        process = extraction_process(self.config)
        columns = (batch.column(name).to_pylist() for name in ("html", "http_charset", "url"))
        for payload, http_charset, url in zip(*columns, strict=True):
            text, charset, title, anchors, genre, extractor, reason, kind, error = (None,) * 9
            try:
                text, charset, title, anchors, genre, extractor, cpu_seconds, extractor_seconds = (
                    process.extract(payload, http_charset, url)
                )
                self.child_cpu_seconds += cpu_seconds
                self.extractor_cpu_seconds += extractor_seconds
            except ExtractTimeout:
                kind, error = "extract_timeout", f"over {self.config.timeout_seconds}s"
            except (ExtractCrashed, PageError) as exc:
                kind, error = "extract_error", str(exc)[:500]
            if kind is None and (text is None or len(text.strip()) < max(self.config.min_text_chars, 1)):
                reason, text = "extract:empty", None
            texts.append(text)
            charsets.append(charset)
            titles.append(title)
            anchor_texts.append(anchors)
            genres.append(genre)
            extractors.append(extractor)
            removed.append(reason)
            failed.append(kind)
            errors.append(error)
        batch = batch.drop_columns(["html"])
        batch = batch.append_column("text", pa.array(texts, pa.string()))
        batch = batch.append_column("charset", pa.array(charsets, pa.string()))
        batch = batch.append_column("title", pa.array(titles, pa.string()))
        batch = batch.append_column("anchors", pa.array(anchor_texts, pa.string()))
        batch = batch.append_column("genre", pa.array(genres, pa.string()))
        batch = batch.append_column("extractor", pa.array(extractors, pa.string()))
        return with_decisions(batch, removed=removed, failed=failed, error=errors)
