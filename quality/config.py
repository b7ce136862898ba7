"""Config of domain tagging, token counting, mixture metadata and the report."""

from __future__ import annotations

from pydantic import Field

from crawlsieve.core.config import NAMES_FILES, Section


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


class ClusterConfig(Section):
    """Semantic clusters of the kept documents (`crawlsieve cluster DIR`), for review and mixing."""

    k: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="Clusters; default: sized to the run, sqrt(documents / 2) between 2 and max_auto_k.",
    )
    max_auto_k: int = Field(
        200, ge=2, le=100_000, description="Most clusters the default k gives (a reviewer reads each)."
    )
    sample_documents: int = Field(
        100_000,
        ge=10,
        le=10_000_000,
        description="Documents the vectors' weights and the k-means are fitted on (a sample by id hash).",
    )
    features: int = Field(
        1 << 17, ge=1 << 10, le=1 << 22, description="Hashed features of a document's text units."
    )
    dimensions: int = Field(
        32,
        ge=2,
        le=1024,
        description="Dimensions of the vectors (truncated SVD of hashed TF-IDF); 32 measured best "
        "(benchmarks/cluster_purity.py).",
    )
    max_chars: int = Field(
        5_000, ge=100, le=1_000_000, description="Characters of each document's text its vector is made of."
    )
    seed: int = Field(0, ge=0, description="Seed of the SVD and the k-means.")
    top_terms: int = Field(12, ge=1, le=100, description="Top terms shown per cluster.")
    samples: int = Field(5, ge=1, le=50, description="Sample documents shown per cluster.")
    flag_quality: float = Field(
        0.3, ge=0, le=1, description="A cluster whose mean quality_score is below this is flagged."
    )
    flag_spam_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A cluster whose documents are more than this share spam domains (gambling, adult, "
        "ads) is flagged.",
    )
    flag_min_tokens: int = Field(
        60, ge=0, description="A cluster whose documents have fewer mean tokens than this is flagged."
    )
    labels: str | None = Field(
        None,
        description="A run's review/cluster_labels.json (`crawlsieve review --cluster-labels`): documents "
        "of clusters labelled drop are removed after dedup as cluster:<id>. `crawlsieve refilter` sets it "
        "to its DIR's labels.",
        json_schema_extra=NAMES_FILES,
    )

    def k_for(self, documents: int) -> int:
        """The number of clusters for a run of ``documents`` kept documents."""
        if self.k is not None:
            return self.k
        return int(min(self.max_auto_k, max(2, round((documents / 2) ** 0.5))))
