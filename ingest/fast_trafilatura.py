"""trafilatura.extract, faster, with output identical to stock trafilatura's, character for character.

Main-text extraction is most of a page's cost. ``ingest/fast_trafilatura_twins.py`` runs
stock trafilatura's own code with its hot helpers (the XPath expressions that call back into
Python for regular expressions) replaced by faster twins; its docstring says what and why.
That is proven identical (``tests/test_fast_trafilatura.py``) for the pinned trafilatura
version only: with another version installed, ``extract`` is stock ``trafilatura.extract``
and a warning is logged once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trafilatura

from crawlsieve.ingest.extractors import TrafilaturaExtractor

#: The trafilatura release whose output the accelerated extraction is proven identical to.
PINNED_VERSION = "2.3.1"

LOGGER = logging.getLogger(__name__)


def select_extract(version: str = trafilatura.__version__) -> Callable[..., str | None]:
    """The accelerated ``extract`` if ``version`` is the pinned one; otherwise stock
    ``trafilatura.extract``, which logs a warning at its first call."""
    if version == PINNED_VERSION:
        from crawlsieve.ingest.fast_trafilatura_twins import extract

        return extract
    warned = False

    def stock_extract(*args: Any, **kwargs: Any) -> str | None:
        nonlocal warned
        if not warned:
            warned = True
            LOGGER.warning(
                "trafilatura %s installed, accelerated extraction proven for %s only: stock trafilatura used",
                version,
                PINNED_VERSION,
            )
        return trafilatura.extract(*args, **kwargs)

    return stock_extract


#: Same signature and output as ``trafilatura.extract``; made once per process.
extract = select_extract()


class FastTrafilaturaExtractor(TrafilaturaExtractor):
    """TrafilaturaExtractor (same settings, same text) through the accelerated ``extract``.

    It is looked up at each call, not stored, so the extractor pickles like the stock one."""

    def __call__(self, html: str) -> str | None:
        return extract(html, **self.options)
