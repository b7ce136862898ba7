"""Config of the tagging stages (site, content domain, token count)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crawlsieve.core.config import NAMES_FILES, Section


class DomainConfig(Section):
    """How each kept document gets its `site`, `domain` tag and `token_count`."""

    topic_model_path: str | None = Field(
        None,
        description=(
            "A fastText topic model whose labels are domain tags (__label__news, ...); "
            "default: the URL rules and content signals alone."
        ),
        json_schema_extra=NAMES_FILES,
    )
    topic_model_mode: Literal["complement", "replace"] = Field(
        "complement",
        description="complement: the model tags what the rules leave as 'other'; replace: it tags all.",
    )
    topic_min_score: float = Field(
        0.5, ge=0, le=1, description="Below this probability the topic model's label is not used."
    )
    sample_chars: int = Field(
        5000,
        ge=100,
        le=1_000_000,
        description="Characters of text the content signals and the topic model look at.",
    )
    tokenizer_path: str | None = Field(
        None,
        description=(
            "A Hugging Face `tokenizers` tokenizer.json used to count tokens; "
            "default: an estimate (mixture.json says tokens_estimated: true)."
        ),
        json_schema_extra=NAMES_FILES,
    )
