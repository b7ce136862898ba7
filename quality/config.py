"""Config of domain tagging, token counting, mixture metadata and the report."""

from __future__ import annotations

from pydantic import Field

from crawlsieve.core.config import Section


class ReportConfig(Section):
    """The reviewer's report (DIR/report.html) and its distributions (DIR/distributions.json)."""

    price_per_core_hour: float | None = Field(
        None,
        ge=0,
        description="Price of one core-hour (e.g. 0.02 USD): the report then prices the dump "
        "projection. Default: no price.",
    )
    currency: str = Field("USD", max_length=8, description="Currency of price_per_core_hour.")
    dump_pages: int = Field(
        3_000_000_000,
        ge=1,
        description="Pages (HTTP responses) of the dump the cost is projected to (a Common Crawl "
        "dump: ~90,000 files of ~30,000 pages).",
    )
    review_per_reason: int = Field(
        20, ge=1, le=10_000, description="Documents sampled per removal reason (and kept) into DIR/review/."
    )
    histogram_bins: int = Field(
        40, ge=2, le=500, description="Bins of each distribution (document length, scores, signals)."
    )
    examples_per_reason: int = Field(
        5, ge=0, le=100, description="Example documents shown per removal reason (from DIR/review/)."
    )
    example_text_chars: int = Field(
        600, ge=50, le=2000, description="Characters of each example's text shown in the report."
    )
    duplicate_clusters_shown: int = Field(
        4, ge=0, le=50, description="Largest duplicate clusters shown with their members side by side."
    )
    cluster_members_shown: int = Field(4, ge=2, le=20, description="Members shown per duplicate cluster.")
    top_sites: int = Field(25, ge=0, le=1000, description="Sites listed in the mixture's top-sites table.")
    inputs_listed: int = Field(
        200,
        ge=1,
        le=100_000,
        description="Input files listed (those with most failures first); the rest are summed.",
    )
    confidence: float = Field(
        0.95, gt=0, lt=1, description="Confidence level of the precision intervals of `crawlsieve review`."
    )
