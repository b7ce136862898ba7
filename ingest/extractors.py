"""Main-text extractors behind one interface: HTML string in, plain text (or None) out; and the
page extractor that picks one by the page's genre.

trafilatura is the default (the extractor FineWeb used, the best token F1 on the shared
ground truth). resiliparse (the extractor DCLM used) is the optional faster alternative:
its main-content heuristics are a compiled DOM walk, several times faster per page, at some
cost in precision. ``benchmarks/extraction_quality.py`` prints both side by side.

Both map the same `extract` config fields where the library has an equivalent option;
resiliparse has no switch for tables (it always keeps their text) nor for deduplication.

Forum threads and Q&A pages (``ingest.genre``) go to ``ThreadExtractor`` instead
(``extract.forum_extractor: posts``): on the corpus's 55 forum pages, trafilatura with the run's
settings reaches an F1 of 0.64 against the human-marked threads, with comments 0.68, with its
defaults 0.72, magic-html's forum extractor 0.80 (it needs Python >= 3.12, so it is not a
dependency) and the post blocks 0.80; on articles the post blocks lose (0.81 against 0.84)
(``benchmarks/multilingual_quality.py --sections extractors``).
"""

from __future__ import annotations

import html as html_entities
import re
from typing import Protocol

from lxml import etree

from crawlsieve.core.errors import ConfigError
from crawlsieve.ingest import genre, threads
from crawlsieve.ingest.config import ExtractConfig


class Extractor(Protocol):
    """Extracts a page's main text; ``None`` or empty when the page has none."""

    name: str

    def __call__(self, html: str) -> str | None: ...


class TrafilaturaExtractor:
    """trafilatura.extract with the settings of the `extract` config section, as plain text."""

    name = "trafilatura"

    def __init__(self, config: ExtractConfig):
        import trafilatura

        self._extract = trafilatura.extract
        self.options = {
            "favor_precision": config.favor_precision,
            "favor_recall": config.favor_recall,
            "include_comments": config.include_comments,
            "include_tables": config.include_tables,
            "include_links": config.include_links,
            "deduplicate": config.deduplicate,
            "with_metadata": False,
            "output_format": "txt",
        }

    def __call__(self, html: str) -> str | None:
        return self._extract(html, **self.options)


class ResiliparseExtractor:
    """resiliparse's main-content plain-text extraction (DCLM's settings: formatting kept).

    Alt texts and form fields are left out like trafilatura does; comments and links follow
    the config. resiliparse returns an empty string for a page without main content.
    """

    name = "resiliparse"

    def __init__(self, config: ExtractConfig):
        try:
            from resiliparse.extract.html2text import extract_plain_text
        except ImportError:
            raise ConfigError(
                "extract.extractor: resiliparse is not installed: pip install 'crawlsieve[resiliparse]'"
            ) from None
        self._extract = extract_plain_text
        self.options = {
            "preserve_formatting": True,
            "main_content": True,
            "list_bullets": True,
            "alt_texts": False,
            "links": config.include_links,
            "form_fields": False,
            "noscript": False,
            "comments": config.include_comments,
        }

    def __call__(self, html: str) -> str | None:
        return self._extract(html, **self.options) or None


class ThreadExtractor:
    """A thread from its post blocks (``ingest.threads``), over trafilatura with comments and
    without the precision bias (its defaults): that text gives the thread's opening when it is not
    marked up as a post, and the whole text of a page without post blocks."""

    #: The extractor a document's ``extractor`` column names: the thread from post blocks, or
    #: trafilatura's text of a forum page without them.
    name = "posts"
    fallback_name = "trafilatura_thread"

    def __init__(self, config: ExtractConfig):
        thread_settings = {"favor_precision": False, "favor_recall": False, "include_comments": True}
        self.base = make_extractor(config.model_copy(update=thread_settings), TrafilaturaExtractor.name)

    def __call__(self, html: str, tree: etree._Element) -> tuple[str | None, str]:
        """(text, the extractor that made it) of a page and its ``threads.parse`` tree."""
        posts = threads.find_posts(tree)
        text = threads.thread_text(tree, posts, self.base(html))
        return text, self.name if posts else self.fallback_name


class PageExtractor:
    """The page's genre first (``ingest.genre``), then its genre's extractor. A page the
    article extractor finds no text on but that has post blocks (a thread whose URL and markup do
    not say so, a single-page app's) is a thread after all."""

    def __init__(self, config: ExtractConfig):
        self.article = make_extractor(config)
        self.forum = ThreadExtractor(config) if config.forum_extractor == "posts" else None

    def __call__(self, html: str, url: str | None) -> tuple[str | None, str, str]:
        """(text, genre, extractor name) of a page."""
        tree = threads.parse(html)
        kind = "other" if tree is None else genre.detect(tree, url)
        if kind == "forum" and self.forum is not None:
            text, name = self.forum(html, tree)
            return text, kind, name
        text = self.article(html)
        if not (text and text.strip()) and self.forum is not None and tree is not None:
            thread, name = self.forum(html, tree)
            if name == ThreadExtractor.name:
                return thread, "forum", name
        return text, kind, self.article.name


EXTRACTORS: dict[str, type[TrafilaturaExtractor] | type[ResiliparseExtractor]] = {
    TrafilaturaExtractor.name: TrafilaturaExtractor,
    ResiliparseExtractor.name: ResiliparseExtractor,
}


def make_extractor(config: ExtractConfig, name: str | None = None) -> Extractor:
    """The extractor ``name`` (default: ``config.extractor``) with the config's settings."""
    name = name or config.extractor
    try:
        factory = EXTRACTORS[name]
    except KeyError:
        known = ", ".join(sorted(EXTRACTORS))
        raise ConfigError(f"extract.extractor: unknown extractor {name!r} (one of {known})") from None
    if factory is TrafilaturaExtractor and config.accelerated:
        from crawlsieve.ingest.fast_trafilatura import FastTrafilaturaExtractor

        return FastTrafilaturaExtractor(config)
    return factory(config)


# The page's <title> and its link texts, by bounded regular expressions over the decoded HTML:
# neither extractor returns them as we call it (trafilatura's metadata pass costs a second parse,
# and its main text leaves out the link lists an SEO page is stuffed with). Every quantifier is
# bounded or possessive, so a page of unclosed tags costs linear time.
_TITLE = re.compile(r"<title\b[^<>]{0,500}+>([^<]{0,2000}+)</title\s*>", re.IGNORECASE)
_ANCHOR = re.compile(
    r"<a\b[^<>]{0,2000}+>((?:[^<]++|<(?!/?a[\s>])[^<>]{0,200}+>){0,8}+)</a\s*>", re.IGNORECASE
)
_TAG = re.compile(r"<[^<>]{0,2000}>")
_SPACE = re.compile(r"\s+")
#: Where a title is looked for: the head of any page fits.
TITLE_SCAN_CHARS = 300_000
#: Link texts longer than this are headlines, not stuffed anchors; more than ANCHORS_KEPT anchors
#: keep the first and the last half (menus lead a page, link farms and "friendly links" end it).
ANCHOR_MAX_CHARS = 60
ANCHORS_KEPT = 400


def _clean(fragment: str) -> str:
    return _SPACE.sub(" ", html_entities.unescape(_TAG.sub("", fragment))).strip()


def title_and_anchors(page: str) -> tuple[str | None, str | None]:
    """The page's title and its short link texts (one per line), or ``None`` where it has none."""
    match = _TITLE.search(page, 0, TITLE_SCAN_CHARS)
    title = _clean(match.group(1))[:500] if match else ""
    anchors = [text for text in map(_clean, _ANCHOR.findall(page)) if 0 < len(text) <= ANCHOR_MAX_CHARS]
    if len(anchors) > ANCHORS_KEPT:
        anchors = anchors[: ANCHORS_KEPT // 2] + anchors[-ANCHORS_KEPT // 2 :]
    return title or None, "\n".join(anchors) or None
