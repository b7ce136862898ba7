"""`domain`: the content domain tag each kept document carries into the mixture.

The taxonomy (stable lowercase names, safe as directory names; see ``TAXONOMY``):

========== ===========================================================================
news        news sites and magazines: reporting, press releases, sport, opinion
reference   encyclopedias, dictionaries, glossaries, how-to and recipe references
forum       forums and Q&A: threads, replies, answers
code        source code, software documentation, code hosting
science     academic and scientific: papers, journals, universities, preprints
government  government, public bodies, law and courts
commerce    shops, products, prices, finance and booking offers
adult       sexual content
gambling    casinos, betting, lotteries
ads         advertising: commercial and medical ad copy
personal    personal sites and blogs
other       none of the above, or no signal strong enough
========== ===========================================================================

The default tagger (``RuleTagger``) adds up evidence, as a reviewer would read a page: URL
rules (host suffixes like ``.gov``, known hosts, host words like ``forum.``, path patterns
like ``/wiki/`` or ``/blog/``), content signals (share of code-looking lines, LaTeX/math
density, forum and shop markers) and the page's genre (a thread or Q&A page: ``forum``). The
tag with the most evidence wins if it reaches ``MIN_EVIDENCE``; ties go to the earlier tag of the
taxonomy. Chinese pages have their own rules: the big news portals and forums, ``.gov.cn`` and
``.edu.cn`` hosts, the URL shapes of Chinese news systems (``/2024-05/13/content_37319243.htm``)
and content markers (``新华社…电``, ``楼主``, ``加入购物车``, ``人民政府``).

The tags ``adult``, ``gambling`` and ``ads`` come from the spam filter's signals (``sig_spam_*``):
the run hands the tagger the categories the filter flags in a document (``spam_flags``, a callable
over a row's signal values) and each adds evidence (``FLAG_EVIDENCE``): adult content and injected
gambling SEO decide the tag whatever else the page is, so the mixture can weigh them down; a page
dense in gambling or ad vocabulary weighs like a host rule, so a government notice about gambling
law stays ``government``. Without the spam filter, only URL rules give these tags.

A fastText topic model (``domain.topic_model_path``, labels ``__label__<tag>``) can complement the
rules (tag what they leave as ``other``) or replace them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import pyarrow as pa

from crawlsieve.core.models import fasttext_model
from crawlsieve.core.stages import SAFETY_TAGS, Stage
from crawlsieve.tagging.config import DomainConfig

TAXONOMY: tuple[str, ...] = (
    "news",
    "reference",
    "forum",
    "code",
    "science",
    "government",
    "commerce",
    *SAFETY_TAGS,
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
    # .gov.cn and .edu.cn are the rules above and below; CAS institutes, CNKI and science outreach here.
    Rule("science", r"\.(cas\.cn|cnki\.net|kepuchina\.cn|kepu\.net\.cn|sciencenet\.cn)$", 3),
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
        r"|merriam-webster\.com|duden\.de|dwds\.de|fandom\.com|wikihow\.com|investopedia\.com"
        r"|baike\.baidu\.com|baike\.sogou\.com|baike\.so\.com|baike\.com|zdic\.net|hanyu\.baidu\.com)$"
        r"|^\.baike\.",
        4,
    ),
    Rule(
        "code",
        r"\.(github\.com|gitlab\.com|bitbucket\.org|readthedocs\.io|pypi\.org|npmjs\.com|crates\.io"
        r"|docs\.python\.org|developer\.mozilla\.org|golang\.org|rust-lang\.org|hackernoon\.com|dev\.to"
        r"|csdn\.net|cnblogs\.com|juejin\.cn|oschina\.net|gitee\.com|segmentfault\.com|runoob\.com)$"
        r"|^\.(docs|developer|developers|api)\.",
        4,
    ),
    Rule(
        "forum",
        r"\.(stackoverflow\.com|stackexchange\.com|reddit\.com|quora\.com|superuser\.com|serverfault\.com"
        r"|gutefrage\.net|zhihu\.com|zhidao\.baidu\.com|tieba\.baidu\.com|douban\.com|v2ex\.com|hupu\.com"
        r"|ruby-china\.org|learnku\.com|mobile01\.com|ptt\.cc)$"
        r"|^\.(www\.)?(forum|forums|board|boards|community|discuss|answers|bbs|club|tieba|wenda)\.",
        4,
    ),
    Rule("forum", r"\.[a-z0-9-]*bbs[a-z0-9-]*\.", 3),  # Chinese boards: csolbbs.tiancity.com, xxbbs.top
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
    Rule(  # Chinese news agencies, papers and portals (and their English editions)
        "news",
        r"\.(news\.cn|xinhuanet\.com|people\.com\.cn|people\.cn|chinanews\.com(\.cn)?|gmw\.cn|cctv\.com"
        r"|cnr\.cn|cri\.cn|chinadaily\.com\.cn|huanqiu\.com|thepaper\.cn|caixin\.com|yicai\.com|jiemian\.com"
        r"|bjnews\.com\.cn|caijing\.com\.cn|southcn\.com|021east\.com|eastday\.com|ifeng\.com|china\.com\.cn"
        r"|ce\.cn|youth\.cn|cyol\.com|sina\.com\.cn|sina\.cn|sohu\.com|toutiao\.com|360kuai\.com|news\.qq\.com"
        r"|new\.qq\.com|news\.163\.com|zaobao\.com(\.sg)?|udn\.com|ltn\.com\.tw|ettoday\.net|hk01\.com"
        r"|mingpao\.com|scmp\.com|finance\.yahoo\.com|cgtn\.com)$",
        3,
    ),
    Rule("news", r"news|times|herald|tribune|gazette|zeitung|journal|daily|reporter|[.-](post|press)\.", 1.5),
    Rule("personal", r"blog\.|blog$|-blog\.", 2),
    Rule("commerce", r"^\.(www\.)?(shop|store|buy|deals)\.|shop\.|store\.", 2),
    Rule("commerce", r"\.(amazon|ebay|etsy|aliexpress|walmart|zalando|otto|booking)\.[a-z.]+$", 4),
    Rule(
        "commerce",
        r"\.(taobao\.com|tmall\.com|jd\.com|1688\.com|pinduoduo\.com|yangkeduo\.com|suning\.com"
        r"|dangdang\.com|vip\.com|smzdm\.com|alibaba\.com|made-in-china\.com)$",
        4,
    ),
    Rule(
        "gambling",
        r"(^|[.-])(casinos?|betting|sportsbook|poker|bet365|1xbet|lottery|caipiao|bocai)([.-]|$)",
        3,
    ),
    Rule("adult", r"(^|[.-])(porn\w*|xxx|sex|sexy|adult|nude\w*|camgirls?|escort\w*|hentai)([.-]|$)", 5),
)

PATH_RULES: tuple[Rule, ...] = (
    Rule("reference", r"/(wiki|lexikon|glossar|glossary|encyclopedia|dictionary|definition|words)/", 3),
    Rule("reference", r"/(rezepte?|recipes?|how-to|howto|tutorials?|guide)/", 1.5),
    Rule("forum", r"/(forums?|threads?|topic|questions|showthread\.php|viewtopic\.php)/", 3),
    Rule("forum", r"/r/\w+/comments/", 3),
    Rule("forum", r"/(question|answer|forum\.php|thread-[\d-]+\.html)/", 3),
    Rule("code", r"/(docs?|api|reference|manual|sdk|source|src|blob|tree)/|\.(py|js|c|cpp|rs|go|java)$", 1.5),
    Rule("science", r"/(doi|abs|pdf|articles?/10\.\d+|papers?|publications?|research)/", 2),
    Rule("news", r"/(news|nachrichten|noticias?|actualites|notizie|artikel|story|stories)/", 2),
    Rule("news", r"/(press|presse|pressemitteilungen|press-releases?|pressebereich|aktuelle-meldungen)/", 2),
    Rule("news", r"/(politik|politics|politique|politica|innenpolitik|opinion|kommentar|debatte)/", 1.5),
    Rule("news", r"/(article|articles|sport|sports|business|economy|wirtschaft|magazin|magazine)/", 1),
    Rule("news", r"/(19|20)\d\d/[01]?\d/([0-3]?\d/)?", 1.5),
    Rule("news", r"[-_/.]\d{6,}(\.html?|\.php|\.cms)?/$", 1),
    # Chinese news systems: /2024-05/13/, /20240515/, /2024/0517/, content_37319243.htm, doc-i....shtml
    Rule("news", r"/(19|20)\d\d(-[01]\d/[0-3]\d|[01]\d[0-3]\d|/[01]\d[0-3]\d)/", 1.5),
    Rule("news", r"/(content_\d+\.s?html?|doc-i\w+\.shtml|\d+\.shtml)/$", 1.5),
    Rule("personal", r"/(blog|blogs|~\w+|about-me|ueber-mich)/", 2),
    Rule("commerce", r"/(shop|store|products?|produkte?|cart|checkout|kaufen|angebote?|deals?|dp|itm)/", 2.5),
    Rule("commerce", r"/(kredit|loans?|leasing|insurance|versicherung|ferienhaus|hotels?)/", 1.5),
    Rule("government", r"/(gesetze?|legislation|statutes?|laws?|court|urteil|verordnung)/", 1.5),
    Rule("government", r"/(zwgk|xxgk|zfxxgk|zcfg|zhengce|gongkai)/", 2),  # 政务公开, 信息公开, 政策法规
    Rule("commerce", r"/(goods|shangpin)/", 2),
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
    # Chinese markers: no \b, CJK characters are all word characters.
    Rule(
        "news",
        r"新华社|中新社|本报讯|本报记者|[（(]记者|记者\S{1,8}(报道|摄)|\d+日电|责任编辑|据\S{2,12}报道",
        0.75,
    ),
    Rule(
        "forum",
        r"^\s*(回复|引用|楼主|沙发|板凳|发表于|只看该作者|\[复制链接\]|追问|采纳|网友采纳"
        r"|\d+ ?个回答|\d+ ?条评论|赞同 ?\d|已赞同|收起|编辑于)",
        0.75,
        re.MULTILINE,
    ),
    Rule("commerce", r"加入购物车|立即购买|月销\s?\d|已售\s?\d|[¥￥]\s?\d|促销价|到手价|领券", 0.75),
    Rule("government", r"人民政府|国务院|办公厅|政务|特此通告|特此通知|通知如下|印发《", 0.5),
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


class SpamFlags(Protocol):
    """The spam filter's categories for a row's signal values (``filters.spam.SpamFlags``)."""

    #: the signal columns it reads
    columns: tuple[str, ...]

    def __call__(self, values: dict[str, float | None]) -> list[str]: ...


#: Evidence each spam category adds: (tag, weight); ``DECISIVE`` outweighs any rule.
DECISIVE = 1000.0
FLAG_EVIDENCE: dict[str, tuple[str, float]] = {
    "adult": ("adult", DECISIVE),
    "gambling_seo": ("gambling", DECISIVE),
    "gambling": ("gambling", 4.0),
    "ads": ("ads", 4.0),
}


#: Evidence a page's genre (the ``genre`` column, from its markup and URL at extraction) adds: a
#: thread or Q&A page is a forum whatever chrome its extraction left out ("Reply", "Zitieren" are
#: the text rules' markers), like a board's host; a host rule of another tag (4) still outweighs it.
GENRE_EVIDENCE: dict[str, tuple[str, float]] = {"forum": ("forum", 3.0)}


class DomainTagger(Stage):
    """Adds `domain` (one of ``TAXONOMY``): URL rules, content signals, the page's genre
    (``GENRE_EVIDENCE``) and the spam filter's flags (``spam_flags``), optionally a topic model."""

    name = "domain"

    def __init__(
        self,
        sample_chars: int = 5000,
        topic_model_path: str | None = None,
        topic_model_mode: str = "complement",
        topic_min_score: float = 0.5,
        spam_flags: SpamFlags | None = None,
    ):
        self.sample_chars = sample_chars
        self.topic_model_path = topic_model_path
        self.topic_model_mode = topic_model_mode
        self.topic_min_score = topic_min_score
        self.spam_flags = spam_flags

    def check(self) -> None:
        if self.topic_model_path:
            fasttext_model(self.topic_model_path)

    def __call__(self, batch: pa.Table) -> pa.Table:
        urls = batch.column("url").to_pylist()
        texts = [(t or "")[: self.sample_chars] for t in batch.column("text").to_pylist()]
        rules = not (self.topic_model_path and self.topic_model_mode == "replace")
        genres = batch.column("genre").to_pylist() if "genre" in batch.column_names else [None] * len(urls)
        tags = []
        for url, text, genre, flags in zip(urls, texts, genres, self._flags(batch), strict=True):
            evidence = rule_evidence(url or "", text) if rules else Evidence()
            if rules and genre in GENRE_EVIDENCE:
                evidence.add(*GENRE_EVIDENCE[genre])
            for category in flags:
                evidence.add(*FLAG_EVIDENCE[category])
            tags.append(evidence.best())
        if self.topic_model_path:
            tags = self._with_topics(tags, texts)
        return batch.append_column("domain", pa.array(tags, pa.string()))

    def _flags(self, batch: pa.Table) -> list[list[str]]:
        """Per row, the spam categories its signals reach (none for a run without the filter)."""
        columns = [c for c in self.spam_flags.columns if c in batch.column_names] if self.spam_flags else []
        if not columns:
            return [[] for _ in range(batch.num_rows)]
        values = {c: batch.column(c).to_pylist() for c in columns}
        return [self.spam_flags({c: values[c][row] for c in columns}) for row in range(batch.num_rows)]

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


def domain_stages(domain: DomainConfig, spam_flags: SpamFlags | None = None) -> list[Stage]:
    """The finalize-phase tagging stages: `site`, `domain`, `token_count` (in that order);
    ``spam_flags``: the spam filter's, when the run has it on."""
    from crawlsieve.tagging.site import SiteStage
    from crawlsieve.tagging.tokens import TokenCountStage

    return [
        SiteStage(),
        DomainTagger(
            sample_chars=domain.sample_chars,
            topic_model_path=domain.topic_model_path,
            topic_model_mode=domain.topic_model_mode,
            topic_min_score=domain.topic_min_score,
            spam_flags=spam_flags,
        ),
        TokenCountStage(domain.tokenizer_path),
    ]
