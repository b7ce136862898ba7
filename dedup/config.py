"""Config of exact and near-duplicate removal."""

from __future__ import annotations

from pydantic import Field

from crawlsieve.pipelines.config_base import Section


class DedupConfig(Section):
    """Exact and MinHash-LSH near-dedup over the whole run."""

    against: list[str] = Field(
        default_factory=list,
        description="Output directories of earlier runs whose dedup index this run is deduplicated against.",
    )
