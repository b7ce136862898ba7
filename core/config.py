"""The base of every config section: typed, validated, documented, unknown keys refused.

Each package owns the config of its own stages (``filters.config``, ``dedup.config``,
``quality.config``); ``pipelines.config`` composes them into the one YAML file.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section. Field descriptions are printed by ``crawlsieve config --defaults``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)
