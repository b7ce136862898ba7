"""`domain`: the content domain tag each kept document carries into the mixture.

The taxonomy (stable lowercase names, safe as directory names; see ``TAXONOMY``):

========== ===========================================================================
news        news sites and magazines: reporting, press releases, sport, opinion
reference   encyclopedias, dictionaries, glossaries, how-to and recipe references
forum       forums and Q&A: threads, replies, answers
code        source code, software documentation, code hosting
science     academic and scientific: papers, journals, universities, preprints
government  government, public bodies, law and courts
commerce    shops, products, prices, ads, finance and booking offers
adult       sexual content
personal    personal sites and blogs
other       none of the above, or no signal strong enough
========== ===========================================================================

The default tagger (``RuleTagger``) adds up evidence, as a reviewer would read a page: URL
rules (host suffixes like ``.gov``, known hosts, host words like ``forum.``, path patterns
like ``/wiki/`` or ``/blog/``) and content signals (share of code-looking lines, LaTeX/math
density, forum and shop markers). The tag with the most evidence wins if it reaches
``MIN_EVIDENCE``; ties go to the earlier tag of the taxonomy. A fastText topic model
(``domain.topic_model_path``, labels ``__label__<tag>``) can complement it (tag what the
rules leave as ``other``) or replace it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pyarrow as pa

from crawlsieve.core.models import fasttext_model
from crawlsieve.core.stages import Stage
from crawlsieve.tagging.config import DomainConfig

TAXONOMY: tuple[str, ...] = (
    "news",
    "reference",
    "forum",
    "code",
    "science",
    "government",
    "commerce",
    "adult",
    "personal",
    "other",
)
OTHER = "other"
#: Evidence a tag needs to win over `other`.
MIN_EVIDENCE = 2.0


@dataclass(frozen=True)
class Rule:
    """One piece of evidence: a regex over part of the URL or the text, worth ``weight``."""

    tag: str
    pattern: str
    weight: float
    flags: int = re.IGNORECASE
    compiled: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", re.compile(self.pattern, self.flags))


# Host rules match the lowercased host with a leading dot (".www.bbc.co.uk"), so `\.gov$`
# and `\.bbc\.` are anchored on label boundaries.
HOST_RULES: tuple[Rule, ...] = (
    Rule("government", r"\.(gov|mil)(\.[a-z]{2})?$|\.gouv\.[a-z]{2}$|\.gob\.[a-z]{2}$", 4),
    Rule("government", r"\.(bund\.de|admin\.ch|gv\.at|europa\.eu|parliament\.uk|go\.jp|gc\.ca)$", 4),
    Rule("science", r"\.(edu|ac\.[a-z]{2}|edu\.[a-z]{2})$", 3),
    Rule(
        "science",
        r"\.(arxiv\.org|nature\.com|sciencedirect\.com|springer\.com|plos\.org|ncbi\.nlm\.nih\.gov"
        r"|acpjournals\.org|biorxiv\.org|researchgate\.net|jstor\.org|ieee\.org|acm\.org|phys\.org"
        r"|sciencealert\.com|quantamagazine\.org|spektrum\.de)$|^\.(journals?|scholar|pubs)\.",
        4,
    ),
    Rule(
        "reference",
        r"\.(wikipedia\.org|wiktionary\.org|wikibooks\.org|britannica\.com|wordsmith\.org|dictionary\.com"
        r"|merriam-webster\.com|duden\.de|dwds\.de|fandom\.com|wikihow\.com|investopedia\.com)$",
        4,
    ),
    Rule(
        "code",
        r"\.(github\.com|gitlab\.com|bitbucket\.org|readthedocs\.io|pypi\.org|npmjs\.com|crates\.io"
        r"|docs\.python\.org|developer\.mozilla\.org|golang\.org|rust-lang\.org|hackernoon\.com|dev\.to)$"
        r"|^\.(docs|developer|developers|api)\.",
        4,
    ),
    Rule(
        "forum",
        r"\.(stackoverflow\.com|stackexchange\.com|reddit\.com|quora\.com|superuser\.com|serverfault\.com"
        r"|gutefrage\.net)$|^\.(www\.)?(forum|forums|board|boards|community|discuss|answers)\.",
        4,
    ),
    Rule(
        "personal",
        r"\.(wordpress\.com|blogspot\.[a-z.]+|medium\.com|tumblr\.com|substack\.com|livejournal\.com"
        r"|typepad\.com|wixsite\.com|github\.io)$|^\.blogs?\.",
        3,
    ),
    Rule(
        "news",
        r"\.(bbc\.co\.uk|bbc\.com|cnn\.com|reuters\.com|nytimes\.com|theguardian\.com|washingtonpost\.com"
        r"|apnews\.com|ap\.org|bloomberg\.com|wsj\.com|latimes\.com|usatoday\.com|foxnews\.com|nbcnews\.com"
        r"|cbsnews\.com|aljazeera\.com|spiegel\.de|zeit\.de|faz\.net|tagesspiegel\.de|sueddeutsche\.de"
        r"|focus\.de|welt\.de|orf\.at|lemonde\.fr|lefigaro\.fr|elpais\.com|corriere\.it|rt\.com|msn\.com"
        r"|cnbc\.com|forbes\.com|newsweek\.com|techcrunch\.com|theverge\.com|wired\.com|axios\.com)$",
        3,
    ),
    Rule("news", r"news|times|herald|tribune|gazette|zeitung|journal|daily|reporter|[.-](post|press)\.", 1.5),
    Rule("personal", r"blog\.|blog$|-blog\.", 2),
    Rule("commerce", r"^\.(www\.)?(shop|store|buy|deals)\.|shop\.|store\.", 2),
    Rule("commerce", r"\.(amazon|ebay|etsy|aliexpress|walmart|zalando|otto|booking)\.[a-z.]+$", 4),
    Rule("adult", r"(^|[.-])(porn\w*|xxx|sex|sexy|adult|nude\w*|camgirls?|escort\w*|hentai)([.-]|$)", 5),
)

PATH_RULES: tuple[Rule, ...] = (
    Rule("reference", r"/(wiki|lexikon|glossar|glossary|encyclopedia|dictionary|definition|words)/", 3),
    Rule("reference", r"/(rezepte?|recipes?|how-to|howto|tutorials?|guide)/", 1.5),
    Rule("forum", r"/(forums?|threads?|topic|questions|showthread\.php|viewtopic\.php)/", 3),
    Rule("forum", r"/r/\w+/comments/", 3),
    Rule("code", r"/(docs?|api|reference|manual|sdk|source|src|blob|tree)/|\.(py|js|c|cpp|rs|go|java)$", 1.5),
    Rule("science", r"/(doi|abs|pdf|articles?/10\.\d+|papers?|publications?|research)/", 2),
    Rule("news", r"/(news|nachrichten|noticias?|actualites|notizie|artikel|story|stories)/", 2),
    Rule("news", r"/(press|presse|pressemitteilungen|press-releases?|pressebereich|aktuelle-meldungen)/", 2),
    Rule("news", r"/(politik|politics|politique|politica|innenpolitik|opinion|kommentar|debatte)/", 1.5),
    Rule("news", r"/(article|articles|sport|sports|business|economy|wirtschaft|magazin|magazine)/", 1),
    Rule("news", r"/(19|20)\d\d/[01]?\d/([0-3]?\d/)?", 1.5),
    Rule("news", r"[-_/.]\d{6,}(\.html?|\.php|\.cms)?/$", 1),
    Rule("personal", r"/(blog|blogs|~\w+|about-me|ueber-mich)/", 2),
    Rule("commerce", r"/(shop|store|products?|produkte?|cart|checkout|kaufen|angebote?|deals?|dp|itm)/", 2.5),
    Rule("commerce", r"/(kredit|loans?|leasing|insurance|versicherung|ferienhaus|hotels?)/", 1.5),
    Rule("government", r"/(gesetze?|legislation|statutes?|laws?|court|urteil|verordnung)/", 1.5),
)

# Content markers: counted per occurrence in the text sample, capped per rule.
TEXT_RULES: tuple[Rule, ...] = (
    Rule(
        "forum",
        r"^\s*(reply|quote|report|posted by|joined:|posts:|re: |answered|asked \d|upvotes?|antworten|zitieren"
        r"|beiträge:|registriert seit|répondre|responder)\b",
        0.75,
        re.IGNORECASE | re.MULTILINE,
    ),
    Rule(
        "commerce",
        r"add to (cart|basket)|in den warenkorb|jetzt kaufen|buy now|free shipping|versandkostenfrei"
        r"|inkl\. mwst|in stock|auf lager|(\$|€|£)\s?\d+[.,]\d\d|\d+[.,]\d\d\s?(€|eur\b)",
        0.75,
    ),
    Rule(
        "science",
        r"\babstract\b|\bet al\.|\bdoi:|\bdoi\.org/|\barxiv\b|\bpeer[- ]reviewed\b|\bp\s?<\s?0\.\d",
        0.5,
    ),
    Rule(
        "news",
        r"\b(reported|according to|said on (monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
        r"|told reporters|press release|sagte am|teilte mit|laut einem bericht)\b",
        0.5,
    ),
    Rule("adult", r"\b(porn|xxx|nude|naked|sex (video|cam|chat)|escort service|hardcore)\b", 1.0),
)
#: Most evidence one text rule adds, so a long page cannot outvote everything else.
TEXT_RULE_CAP = 3.0

_CODE_LINE = re.compile(
    r"[;{}]\s*$|^\s*(def |class |import |from \S+ import|#include|function\b|return\b|public |private "
    r"|const |let |var |fn |package |func |if \(|for \(|while \(|</?\w+>|\$ |>>> )|=>|\)\s*\{"
    r"|\w+\(.*\);?\s*$"
)
# LaTeX commands, or $...$ holding ^, _, = or a backslash (so "$5 and $10" is not math).
_MATH = re.compile(
    r"\\(frac|sum|int|alpha|beta|gamma|mathbb|mathrm|begin\{(equation|align)\}|cdot|leq|geq)"
    r"|\$[^$\n]{0,80}[\\^_=][^$\n]{0,80}\$"
)


def code_line_ratio(text: str) -> float:
    """Share of non-empty lines that look like source code."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return 0.0
    return sum(1 for line in lines if _CODE_LINE.search(line)) / len(lines)


def math_density(text: str) -> float:
    """LaTeX/math markers per 1,000 characters."""
    if not text:
        return 0.0
    return 1000 * len(_MATH.findall(text)) / len(text)


def _split_url(url: str) -> tuple[str, str]:
    """('.host', '/path/') lowercased; empty parts for an unparsable URL."""
    url = (url or "").strip()
    if "://" not in url:
        url = "//" + url
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return "", ""
    return "." + host.lower(), (parts.path or "/").lower() + "/"


@dataclass
class Evidence:
    """Evidence per tag, for one document; `best()` is the decision."""

    scores: dict[str, float] = field(default_factory=dict)

    def add(self, tag: str, weight: float) -> None:
        self.scores[tag] = self.scores.get(tag, 0.0) + weight

    def best(self) -> str:
        if not self.scores:
            return OTHER
        tag = max(TAXONOMY, key=lambda t: (self.scores.get(t, 0.0), -TAXONOMY.index(t)))
        return tag if self.scores.get(tag, 0.0) >= MIN_EVIDENCE else OTHER


def rule_evidence(url: str, text: str) -> Evidence:
    """All the rules' evidence for one document (see module docstring)."""
    evidence = Evidence()
    host, path = _split_url(url)
    for rule in HOST_RULES:
        if host and rule.compiled.search(host):
            evidence.add(rule.tag, rule.weight)
    for rule in PATH_RULES:
        if rule.compiled.search(path):
            evidence.add(rule.tag, rule.weight)
    for rule in TEXT_RULES:
        hits = len(rule.compiled.findall(text))
        if hits:
            evidence.add(rule.tag, min(TEXT_RULE_CAP, hits * rule.weight))
    code = code_line_ratio(text)
    if code >= 0.2:
        evidence.add("code", 5 * code)
    math = math_density(text)
    if math >= 0.5:
        evidence.add("science", min(4.0, 2 * math))
    return evidence


def rule_tag(url: str | None, text: str | None) -> str:
    return rule_evidence(url or "", text or "").best()


class DomainTagger:
    """Adds `domain` (one of ``TAXONOMY``): URL rules and content signals, optionally a topic model."""

    name = "domain"

    def __init__(
        self,
        sample_chars: int = 5000,
        topic_model_path: str | None = None,
        topic_model_mode: str = "complement",
        topic_min_score: float = 0.5,
    ):
        self.sample_chars = sample_chars
        self.topic_model_path = topic_model_path
        self.topic_model_mode = topic_model_mode
        self.topic_min_score = topic_min_score

    def check(self) -> None:
        if self.topic_model_path:
            fasttext_model(self.topic_model_path)

    def __call__(self, batch: pa.Table) -> pa.Table:
        urls = batch.column("url").to_pylist()
        texts = [(t or "")[: self.sample_chars] for t in batch.column("text").to_pylist()]
        if self.topic_model_path and self.topic_model_mode == "replace":
            tags = [OTHER] * len(texts)
        else:
            tags = [rule_tag(u, t) for u, t in zip(urls, texts, strict=True)]
        if self.topic_model_path:
            tags = self._with_topics(tags, texts)
        return batch.append_column("domain", pa.array(tags, pa.string()))

    def _with_topics(self, tags: list[str], texts: list[str]) -> list[str]:
        """Fill the `other` tags with the topic model's label where it is confident and known."""
        todo = [i for i, tag in enumerate(tags) if tag == OTHER]
        if not todo:
            return tags
        model = fasttext_model(self.topic_model_path)
        labels, scores = model.predict([" ".join(texts[i].split()) for i in todo], k=1)
        for i, label, score in zip(todo, labels, scores, strict=True):
            topic = label[0].removeprefix("__label__") if len(label) else OTHER
            if topic in TAXONOMY and len(score) and float(score[0]) >= self.topic_min_score:
                tags[i] = topic
        return tags


def domain_stages(domain: DomainConfig) -> list[Stage]:
    """The finalize-phase tagging stages: `site`, `domain`, `token_count` (in that order)."""
    from crawlsieve.tagging.site import SiteStage
    from crawlsieve.tagging.tokens import TokenCountStage

    return [
        SiteStage(),
        DomainTagger(
            sample_chars=domain.sample_chars,
            topic_model_path=domain.topic_model_path,
            topic_model_mode=domain.topic_model_mode,
            topic_min_score=domain.topic_min_score,
        ),
        TokenCountStage(domain.tokenizer_path),
    ]
