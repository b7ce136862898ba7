"""The config sections of reading and extraction (`read`, `read.http`, `extract`): the run's
`Config` (`pipelines.config`) composes them with the other packages' sections.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from crawlsieve.core.config import Section


class HttpConfig(Section):
    """Reading http(s) inputs: retries, backoff and the timeout of every request.

    Sized for Common Crawl (https://data.commoncrawl.org, the default for crawl names): its "503
    Slow Down" is S3 backpressure that hits every client for minutes at a time, and its advice is
    to retry politely, no more than once a second, for as long as curl's `--retry 1000
    --retry-delay 1` would (about 17 minutes). These settings do not shape the output: `--resume`
    accepts other values.
    """

    retries: int = Field(
        20,
        ge=0,
        le=1000,
        description="Retries of a request that failed transiently (a retry_statuses answer, a reset or "
        "refused connection, a timeout, a body cut short) before the file is given up as unfinished "
        "(not marked done; --resume reads it again). A body that made progress starts a new count.",
    )
    retry_wait_seconds: float = Field(
        2.0,
        gt=0,
        le=3600,
        description="Wait before the first retry; it doubles with each retry up to retry_max_wait_seconds, "
        "times a random factor in [0.5, 1] so that throttled workers do not retry together.",
    )
    retry_max_wait_seconds: float = Field(
        60.0, gt=0, le=3600, description="Longest wait between two tries of one request."
    )
    timeout_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Longest wait of a request to connect, for its answer or for the next bytes of its "
        "body; past it, the request fails (and is retried from the last byte received).",
    )
    retry_statuses: list[int] = Field(
        default_factory=lambda: [408, 429, 500, 502, 503, 504],
        description="HTTP statuses that are retried (add 403 for a rate limiter that answers 403); "
        "others are not (a file answered 404 is an open_error row).",
    )


class ReadConfig(Section):
    """Reading WARC records and the checks that run before extraction."""

    batch_records: int = Field(
        200, ge=1, le=100_000, description="Records read into one Arrow batch; bounds a worker's memory."
    )
    html_content_types: list[str] = Field(
        default_factory=lambda: ["text/html", "application/xhtml+xml"],
        description="HTTP Content-Type values (without parameters) treated as HTML.",
    )
    max_payload_bytes: int = Field(
        10_000_000,
        ge=1,
        le=1 << 30,
        description="Larger HTTP payloads are not decoded or extracted (failed: payload_too_large).",
    )
    storage_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="fsspec options per protocol, e.g. {s3: {endpoint_url: 'http://minio:9000'}}.",
    )
    crawl_base_url: str = Field(
        "https://data.commoncrawl.org/",
        description="Where a crawl name (CC-MAIN-YYYY-WW) and its warc.paths.gz listing are fetched from.",
    )
    http: HttpConfig = Field(default_factory=HttpConfig)


class ExtractConfig(Section):
    """Main-text extraction with trafilatura."""

    extractor: Literal["trafilatura", "resiliparse"] = Field(
        "trafilatura",
        description="Main-text extractor; resiliparse: faster, less precise (crawlsieve[resiliparse]).",
    )
    favor_precision: bool = Field(True, description="trafilatura: prefer less text, less boilerplate.")
    favor_recall: bool = Field(False, description="trafilatura: prefer more text when unsure.")
    include_comments: bool = Field(False, description="trafilatura: keep user comments below articles.")
    include_tables: bool = Field(True, description="trafilatura: keep the text of tables.")
    include_links: bool = Field(False, description="trafilatura: keep link targets in the text.")
    deduplicate: bool = Field(False, description="trafilatura: drop repeated segments within a page.")
    forum_extractor: Literal["posts", "trafilatura"] = Field(
        "posts",
        description="Forum threads and Q&A pages (genre forum): posts: the question and every reply from "
        "the page's post blocks (ingest/threads.py); trafilatura: the same extractor as articles.",
    )
    accelerated: bool = Field(
        True,
        description="trafilatura: faster extraction, same text (ingest/fast_trafilatura.py); off: stock.",
    )
    timeout_seconds: float = Field(
        20.0,
        gt=0,
        le=3600,
        description="Per-page time limit, hard (the extraction process is killed); slower pages fail "
        "with extract_timeout.",
    )
    min_text_chars: int = Field(
        1, ge=0, le=1_000_000, description="Extracted texts shorter than this are removed as extract:empty."
    )
