"""The one typed, validated config file of a run (YAML), with documented defaults.

``crawlsieve config --defaults`` prints it; ``--config FILE`` overrides any part of it.
Unknown keys and bad values are refused with one line naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from crawlsieve.core.config import Section, read_yaml
from crawlsieve.core.errors import ConfigError
from crawlsieve.core.shards import OutputConfig
from crawlsieve.dedup.config import DedupConfig
from crawlsieve.filters.config import FiltersConfig, LanguageConfig
from crawlsieve.ingest.config import ExtractConfig, ReadConfig
from crawlsieve.quality.config import ClusterConfig, ReportConfig
from crawlsieve.tagging.config import DomainConfig


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
