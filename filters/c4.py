"""C4's line cleaning and document rules, as datatrove's C4QualityFilter.

Same line rules, order and document rules as datatrove; also returns the cleaned text (kept
lines), which replaces the document's text when the filter runs in ``drop`` mode. Lines of
unspaced languages (Chinese, Japanese, Thai) are split into words by the language's rules,
not by spaces, or every such line would count as one word and be dropped. Sentences are
counted only up to ``min_num_sentences`` (the decision needs no more; splitting is costly).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from datatrove.pipeline.filters.c4_filters import CITATION_REGEX, ELLIPSIS, END_PUNCTUATION, POLICY_SUBSTRINGS

from crawlsieve.filters.base import Rule, Signals, TextFilter, ratio
from crawlsieve.filters.cjk import CJK_LANGUAGES, CJK_SENTENCE_ENDS
from crawlsieve.filters.config import C4Config
from crawlsieve.filters.languages import LanguageRules, spacy_words
from crawlsieve.filters.text_stats import DocStats


@dataclass
class _Pass:
    """One pass of C4's line rules over a document."""

    kept: list[str] = field(default_factory=list)
    #: Indices of the kept lines in the document's lines.
    kept_index: list[int] = field(default_factory=list)
    sentences: int = 0
    javascript_lines: int = 0
    policy_lines: int = 0
    #: The document rule a kept-so-far line broke first ("lorem_ipsum" or "curly_bracket").
    document_rule: str | None = None


#: C4's line ends for Chinese and Japanese: its own, 。！？ and their other sentence ends.
CJK_SENTENCE_ENDS_C4 = ("。", "！", "？", *CJK_SENTENCE_ENDS)


class C4(TextFilter):
    name = "c4"
    config: C4Config
    signal_fields = (
        "filter_no_terminal_punct",
        "min_words_per_line",
        "max_word_length",
        "remove_citations",
        "filter_lorem_ipsum",
        "filter_javascript",
        "filter_curly_bracket",
        "filter_policy",
    )
    rules = (
        Rule("lorem_ipsum", ("lorem_ipsum",), "above", off_at=()),
        Rule("curly_bracket", ("curly_bracket",), "above", off_at=()),
        Rule(
            "too_few_sentences",
            ("sentences",),
            "below",
            "min_num_sentences",
            off_at=(-1,),
            # Name the line rule that emptied the page when there was one: more explainable.
            named_by=(("javascript_lines", "javascript"), ("policy_lines", "policy")),
            measured_up_to_threshold=True,
        ),
    )

    def signal_names(self) -> list[str]:
        return [
            "kept_lines_frac",
            "sentences",
            "javascript_lines",
            "policy_lines",
            "lorem_ipsum",
            "curly_bracket",
        ]

    def signals(self, stats: DocStats) -> Signals:
        result = self.clean(stats)
        return {
            "kept_lines_frac": ratio(len(result.kept), len(stats.lines)),
            "sentences": result.sentences,
            "javascript_lines": result.javascript_lines,
            "policy_lines": result.policy_lines,
            "lorem_ipsum": float(result.document_rule == "lorem_ipsum"),
            "curly_bracket": float(result.document_rule == "curly_bracket"),
        }

    def cleaned_text(self, stats: DocStats, cut: set[int] = frozenset()) -> str:
        """The kept lines (without ``cut``, indices another filter cuts), of the page as written."""
        result = self.clean(stats)
        if stats.published is stats.text and not cut:
            return "\n".join(result.kept).strip()
        lines = stats.published_lines
        return "\n".join(self._line(lines[i]) for i in result.kept_index if i not in cut).strip()

    def _line(self, raw: str) -> str:
        """A kept line as C4 keeps it: stripped, without citations."""
        line = raw.strip()
        return CITATION_REGEX.sub("", line) if self.config.remove_citations else line

    def clean(self, stats: DocStats) -> _Pass:
        return stats.shared("c4_pass", lambda: self._run(stats.lines, stats.rules))

    def _run(self, lines: list[str], rules: LanguageRules) -> _Pass:
        c, result = self.config, _Pass()
        ends = END_PUNCTUATION + CJK_SENTENCE_ENDS_C4 if rules.language in CJK_LANGUAGES else END_PUNCTUATION
        for index, raw in enumerate(lines):
            line = raw.strip()
            words = rules.split_words(line) if rules.unspaced else line.split()
            if c.max_word_length != -1 and any(len(word) > c.max_word_length for word in words):
                continue
            if c.remove_citations:
                line = CITATION_REGEX.sub("", line)
            if c.filter_no_terminal_punct and (not line.endswith(ends) or line.endswith(ELLIPSIS)):
                continue
            if len(words) < c.min_words_per_line:
                continue
            lowered = line.lower()
            if c.filter_lorem_ipsum and "lorem ipsum" in lowered:
                result.document_rule = result.document_rule or "lorem_ipsum"
                continue
            if c.filter_javascript and "javascript" in lowered:
                result.javascript_lines += 1
                continue
            if c.filter_curly_bracket and "{" in line:
                result.document_rule = result.document_rule or "curly_bracket"
                continue
            if c.filter_policy and any(p in lowered for p in POLICY_SUBSTRINGS):
                result.policy_lines += 1
                continue
            if result.sentences < c.min_num_sentences:  # enough is enough: splitting is costly
                result.sentences += _line_sentences(line, rules)
            result.kept.append(line)
            result.kept_index.append(index)
        return result


def _line_sentences(line: str, rules: LanguageRules) -> int:
    """Sentences of a line under the document's language rules.

    Languages written without spaces are counted by the regex splitter: spaCy's blank Chinese
    pipeline, for one, sees a whole line of sentences ending in 。 as one sentence, which would
    remove every Chinese page as too short. The others as spaCy's sentencizer counts them.
    """
    if rules.unspaced:
        return _regex_sentences(line)
    return sentence_count(line, rules.language)


def _sentence_count(line: str, language: str) -> int:
    """Sentences of a line as datatrove's ``split_into_sentences`` counts them (spaCy's
    sentencizer for the language), without its per-call memory zone; the regex splitter where no
    spaCy loads offline. The reference ``sentence_count`` is proven equal to."""
    from datatrove.utils.word_tokenizers import SpaCyTokenizer, load_word_tokenizer

    try:
        tokenizer = load_word_tokenizer(language)
    except Exception:  # no tokenizer for the language offline
        tokenizer = None
    if isinstance(tokenizer, SpaCyTokenizer) and tokenizer.config is None:
        nlp = tokenizer.tokenizer
        nlp.max_length = len(line) + 10
        return max(1, sum(1 for _ in nlp(line).sents))
    try:
        return len(tokenizer.sent_tokenize(line)) or 1 if tokenizer else _regex_sentences(line)
    except Exception:  # a tokenizer that needs a package we do not install
        return _regex_sentences(line)


def sentence_count(line: str, language: str) -> int:
    """``_sentence_count(line, language)``, faster where that count is spaCy's: the same count
    from the words of the language's cached splitter (``SpacyWords.sentence_count``)."""
    from datatrove.utils.word_tokenizers import SpaCyTokenizer, load_word_tokenizer

    try:
        tokenizer = load_word_tokenizer(language)
    except Exception:  # no tokenizer for the language offline: _sentence_count's regex
        tokenizer = None
    if isinstance(tokenizer, SpaCyTokenizer) and tokenizer.config is None:
        splitter = spacy_words(tokenizer.language)
        if splitter.language == tokenizer.language:  # not the xx stand-in for a pipeline that fails
            return splitter.sentence_count(line)
    return _sentence_count(line, language)


def _regex_sentences(line: str) -> int:
    from datatrove.utils.word_tokenizers import WhitespaceTokenizer

    return len(WhitespaceTokenizer().sent_tokenize(line)) or 1
