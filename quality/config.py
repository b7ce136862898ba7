"""Config of domain tagging, token counting, mixture metadata and the report."""

from __future__ import annotations

from crawlsieve.pipelines.config_base import Section


class DomainConfig(Section):
    """How each kept document gets its `site`, `domain` tag and `token_count`."""


class ReportConfig(Section):
    """The reviewer's report and the review samples."""
