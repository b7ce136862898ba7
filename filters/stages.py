"""Which filter stages a run has, in the order they run (cheap first)."""

from __future__ import annotations

from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.stages import Stage


def pre_extraction_stages(config: Config) -> list[Stage]:
    """Stages over the raw record (url, http headers) that run before extraction."""
    return []


def post_language_stages(config: Config) -> list[Stage]:
    """Heuristic and classifier filters over the extracted text, after language id."""
    return []
