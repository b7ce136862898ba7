"""Per-document dedup columns computed inside the per-file tasks (before the global step)."""

from __future__ import annotations

from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.stages import Stage


def signature_stages(config: Config) -> list[Stage]:
    """Stages that add the columns the global dedup step needs (hashes, MinHash bands)."""
    return []
