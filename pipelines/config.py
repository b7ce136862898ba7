"""The one typed, validated config file of a run (YAML), with documented defaults.

``crawlsieve config --defaults`` prints it; ``--config FILE`` overrides any part of it.
Unknown keys and bad values are refused with one line naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from crawlsieve.core.config import Section, read_yaml
from crawlsieve.core.errors import ConfigError
from crawlsieve.core.shards import OutputConfig
from crawlsieve.dedup.config import DedupConfig
from crawlsieve.filters.config import FiltersConfig, LanguageConfig
from crawlsieve.quality.config import ClusterConfig, ReportConfig
from crawlsieve.tagging.config import DomainConfig


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
        "the page's post blocks (pipelines/threads.py); trafilatura: the same extractor as articles.",
    )
    accelerated: bool = Field(
        True,
        description="trafilatura: faster extraction, same text (pipelines/fast_trafilatura.py); off: stock.",
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


class RayConfig(Section):
    """Where and how wide the run goes."""

    address: str | None = Field(
        None, description="Ray cluster address (auto, ray://host:10001); default: start a local Ray."
    )
    num_cpus: int | None = Field(None, ge=1, le=4096, description="CPUs of a local Ray; default: all cores.")
    object_store_memory: int | None = Field(
        None, ge=75 * 1024 * 1024, description="Object store bytes of a local Ray; default: Ray's choice."
    )
    cpus_per_shard_task: float = Field(1.0, gt=0, le=1024, description="CPUs one WARC-file task reserves.")
    max_task_retries: int = Field(
        3,
        ge=0,
        le=100,
        description="Retries of a file whose worker died; past them, the file is one worker_lost row.",
    )


class Config(Section):
    """crawlsieve's whole configuration."""

    read: ReadConfig = Field(default_factory=ReadConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    language: LanguageConfig = Field(default_factory=LanguageConfig)
    filters: FiltersConfig = Field(default_factory=FiltersConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    domain: DomainConfig = Field(default_factory=DomainConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    ray: RayConfig = Field(default_factory=RayConfig)


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    return f"bad value for '{key}': {first['msg']}"


def config_from_dict(data: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


def load_config(path: str | Path | None) -> Config:
    """Read a YAML config file over the defaults; ``None`` gives the defaults."""
    if path is None:
        return Config()
    data = read_yaml(path, "config")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping of sections, not {type(data).__name__}")
    try:
        return config_from_dict(data)
    except ConfigError as error:
        raise ConfigError(f"config {path}: {error}") from None
    except RecursionError:
        raise ConfigError(f"config {path} is nested too deeply to be a crawlsieve config") from None


def defaults_yaml() -> str:
    """The default config as YAML, each key preceded by its description."""
    lines = ["# crawlsieve configuration: every key with its default. Override any subset with --config."]
    _emit(Config(), lines, indent=0)
    return "\n".join(lines) + "\n"


def _emit(model: Section, lines: list[str], indent: int) -> None:
    pad = "  " * indent
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, Section):
            lines.append("")
            doc = (type(value).__doc__ or "").strip().splitlines()
            if doc:
                lines.append(f"{pad}# {doc[0]}")
            if type(value).model_fields:
                lines.append(f"{pad}{name}:")
                _emit(value, lines, indent + 1)
            else:
                lines.append(f"{pad}{name}: {{}}")
            continue
        if field.description:
            lines.append(f"{pad}# {field.description}")
        dumped = yaml.safe_dump({name: _plain(value)}, default_flow_style=True, sort_keys=False, width=10_000)
        lines.append(pad + dumped.strip().removeprefix("{").removesuffix("}"))


def _plain(value: Any) -> Any:
    if isinstance(value, Section):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
