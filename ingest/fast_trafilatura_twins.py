"""trafilatura 2.3.1's hot helpers, replaced by faster ones that give the same results.

Used by ``ingest/fast_trafilatura.py`` (which checks the installed version) through
``extract``: stock ``trafilatura.extract``'s own code, with these replacements.

Why: with our settings, ~45% of trafilatura's time goes to XPath expressions that call EXSLT
``re:test`` on class/id attributes: libxml2 calls back into Python for every candidate element
and attribute, and lxml builds a new element proxy (a Python-level class lookup) for each call.

What is replaced:

- Those expressions (``trafilatura.xpaths``, ``settings.BASIC_CLEAN_XPATH``), and the ones
  that test each element against a list of tags (``.//*[self::div or self::p ...]``, 1-2 ms
  per page in libxml2 even without a regex). Each is mirrored by a ``_Select``: one walk over
  the candidate tags with lxml's C iterator, the same regular expressions (Python's ``re``,
  as lxml's EXSLT uses; results memoized per attribute value, which pages repeat), the same
  attribute semantics (an absent attribute is the empty string; ``@id|@class`` is the value
  of whichever of the two comes first on the element). A ``_Select`` is called like the XPath
  it mirrors and returns the same elements in the same (document) order, so trafilatura's own
  code consumes it unchanged.
- ``utils.INVALID_XML_CHARS`` in ``repair_faulty_html``: the same regex, run only when the
  page has a character to remove (``_InvalidXmlChars``).
- ``utils.HTML_PARSER``, by a parser with the same options whose element classes are looked up
  in C rather than by lxml.html's Python callback, called for every element proxy
  (``_html_parser``).
- justext's stop-word tuple, by the same tuple with its hash computed once (``_StopWords``).
- ``trafilatura.core._extract_and_compare``, by a copy that skips one tree copy that precision mode never
  needs.

How, without touching stock trafilatura: the trafilatura functions between ``extract`` and
those helpers are re-created over *shadow* copies of their modules' namespaces in which the
helpers (and the functions re-created here) are replaced. The code that runs is trafilatura's
own, function for function; stock ``trafilatura.extract`` keeps its module globals, so both
can run side by side in one process. A shadow namespace is a snapshot: a module global
rebound after import would not be seen by the re-created functions, so ``_Shadow`` refuses to
re-create a function that reads a global its module rebinds (mutating a list such as
``settings.MANUALLY_CLEANED`` in place is still seen).
"""

from __future__ import annotations

import dis
import importlib
import re
import types
from collections.abc import Callable, Sequence
from copy import copy
from functools import cache, update_wrapper
from typing import Any

from lxml.etree import ElementDefaultClassLookup, ElementNamespaceClassLookup, XPath, _Element
from lxml.html import (
    HtmlComment,
    HtmlElement,
    HtmlElementClassLookup,
    HtmlEntity,
    HTMLParser,
    HtmlProcessingInstruction,
)
from trafilatura import core, external, main_extractor
from trafilatura import settings as stock_settings
from trafilatura import utils as stock_utils
from trafilatura import xpaths as stock

#: Attribute values whose regex result one pattern remembers before it starts over.
MEMO_SIZE = 50_000


class _Regex(dict):
    """EXSLT ``re:test(value, pattern)`` as lxml implements it (Python's ``re.search``), memoized
    per value: ``regex[value]``. An absent attribute is tested as ''."""

    __slots__ = ("_search",)

    def __init__(self, pattern: str, flags: int = 0):
        super().__init__()
        self._search = re.compile(pattern, flags).search

    def __missing__(self, value: str) -> bool:
        if len(self) >= MEMO_SIZE:
            self.clear()
        found = self[value] = self._search(value) is not None
        return found


def first_of(element: _Element, first: str, second: str) -> str:
    """XPath ``string(@first|@second)``: the value of whichever attribute comes first, or ''."""
    value_1, value_2 = element.get(first), element.get(second)
    if value_1 is None:
        return value_2 or ""
    if value_2 is None:
        return value_1
    keys = element.keys()
    return value_1 if keys.index(first) < keys.index(second) else value_2


class _Select:
    """A Python twin of one trafilatura XPath expression: ``select(tree)`` lists the matching
    descendants of ``tree`` in document order, as ``xpath(tree)`` does.

    ``tags`` are the expression's ``self::`` tests (``None``: any element), ``matches`` its
    predicate. With ``first_only``, only the first match is listed: for the expressions whose
    callers take only the first node.
    """

    __slots__ = ("_first_only", "_matches", "_tags", "mirrors")

    def __init__(
        self,
        mirrors: XPath,
        tags: Sequence[str] | None,
        matches: Callable[[_Element], bool],
        first_only: bool = False,
    ):
        self.mirrors = mirrors
        self._tags = tuple(tags) if tags else ("*",)
        self._matches, self._first_only = matches, first_only

    def __call__(self, tree: _Element) -> list[_Element]:
        matches = self._matches
        if self._first_only:
            first = next((element for element in tree.iterdescendants(self._tags) if matches(element)), None)
            return [] if first is None else [first]
        return [element for element in tree.iterdescendants(self._tags) if matches(element)]

    def __repr__(self) -> str:
        return f"_Select({self.mirrors.path.strip()!r})"


_BLOCKS = ("div", "item", "list", "p", "section", "span")
_CONTENT_FRAMES = ("article", "div", "main", "section")

# --- RAW_TREE_PRUNE_XPATH[0]: infinite-scroll containers ---------------------------------------
_mvp_or_scroll = _Regex("mvp-post-add-(?:box|wrap)|infinite-?scroll")
_mvp = _Regex("mvp-post-add-(?:box|wrap)")


def _appended_articles(element: _Element) -> bool:
    id_, class_ = element.get("id") or "", element.get("class") or ""
    return (_mvp_or_scroll[id_] or _mvp_or_scroll[class_]) and (
        next(element.iterdescendants("h1"), None) is None or _mvp[id_] or _mvp[class_]
    )


RAW_TREE_PRUNE = [
    _Select(stock.RAW_TREE_PRUNE_XPATH[0], ("div", "section", "aside"), _appended_articles),
    # RAW_TREE_PRUNE_XPATH[1]: no regex, but libxml2 tests each element against the three tags
    _Select(
        stock.RAW_TREE_PRUNE_XPATH[1],
        ("div", "section", "aside"),
        lambda element: "elementor-share-buttons" in (element.get("class") or ""),
    ),
]

# --- REMOVE_COMMENTS_XPATH and REMOVE_COMMENTS_AND_LISTS_XPATH: comment sections ---------------
_comments_id = _Regex(f"^(?:{stock._COMMENTS_ID}|disqus_thread|dsq-comments)")
_comments_list_id = _Regex(f"^(?:{stock._COMMENTS_ID})")
_comments_class = _Regex(stock._COMMENTS_CLASS)


def _comment_section(element: _Element) -> bool:
    return _comments_id[element.get("id") or ""] or _comments_class[element.get("class") or ""]


def _comment_section_or_list(element: _Element) -> bool:
    id_, class_ = element.get("id") or "", element.get("class") or ""
    if not (_comments_id[id_] or _comments_class[class_]):
        return False
    return element.tag not in ("ol", "ul") or _comments_list_id[id_] or _comments_class[class_]


REMOVE_COMMENTS = [
    _Select(stock.REMOVE_COMMENTS_XPATH[0], ("div", "list", "section", "details"), _comment_section)
]
REMOVE_COMMENTS_AND_LISTS = [
    _Select(
        stock.REMOVE_COMMENTS_AND_LISTS_XPATH[0],
        ("div", "list", "section", "details", "ol", "ul"),
        _comment_section_or_list,
    )
]

# --- OVERALL_DISCARD_XPATH: navigation, ads, sharing, hidden elements --------------------------
_consent = _Regex(stock._alt(stock._CONSENT_ID_CLASS_TOKENS))
_discard_id = _Regex(stock._alt(stock._OVERALL_DISCARD_BOTH_TOKENS + stock._OVERALL_DISCARD_ID_TOKENS))
_discard_class = _Regex(stock._alt(stock._OVERALL_DISCARD_BOTH_TOKENS + stock._OVERALL_DISCARD_CLASS_TOKENS))
_hidden = _Regex("hidden")
_reader_comments_id = _Regex("reader-comments|akismet")
_hidden_class = _Regex(
    "^hide-|comments-title|nocomments|-reply-|message|akismet|suggest-links|-hide-|hide-print"
    "| hidden| hide|noprint|notloaded"
)


def _boilerplate_block(element: _Element) -> bool:
    get = element.get
    id_, class_ = get("id"), get("class")
    if id_ is None:
        if class_ is not None and (_consent[class_] or _discard_class[class_]):
            return True
    elif _discard_id[id_] or _consent[first_of(element, "id", "class")] or _discard_class[class_ or ""]:
        return True
    return (
        get("data-lp-replacement-content") is not None
        or "nav" in (get("role") or "").replace("N", "n")
        or "MostPopularStories" in (get("data-component") or "")
    )


def _hidden_or_reply(element: _Element) -> bool:
    get = element.get
    id_, class_, style = get("id"), get("class"), get("style")
    if id_ is None:
        if class_ is None and style is None:
            return get("aria-hidden") == "true"
        first_id_class, first_id_style = class_ or "", style or ""
    else:
        first_id_class, first_id_style = first_of(element, "id", "class"), first_of(element, "id", "style")
    style = style or ""
    return (
        class_ == "comments-title"
        or first_id_class.startswith("reply-")
        or _hidden[first_id_style]
        or "display:none" in style
        or "display: none" in style
        or (id_ is not None and _reader_comments_id[id_])
        or (class_ is not None and _hidden_class[class_])
        or get("aria-hidden") == "true"
    )


OVERALL_DISCARD = [
    _Select(stock.OVERALL_DISCARD_XPATH[0], _BLOCKS, _boilerplate_block),
    _Select(stock.OVERALL_DISCARD_XPATH[1], None, _hidden_or_reply),
]

# --- PRECISION_DISCARD_XPATH[1]: page-bottom and link blocks -----------------------------------
_bottom = _Regex(r"(^|\s)bottom|bottom(\s|$)")
_link = _Regex(r"(^|\s)link(\s|$)")


def _bottom_or_link(element: _Element) -> bool:
    first = first_of(element, "id", "class")
    return _bottom[first] or _link[first] or "border" in (element.get("style") or "")


PRECISION_DISCARD = [
    stock.PRECISION_DISCARD_XPATH[0],
    _Select(stock.PRECISION_DISCARD_XPATH[1], _BLOCKS, _bottom_or_link),
]

# --- TEASER_DISCARD_XPATH and DISCARD_IMAGE_ELEMENTS: no regex, but six tag tests per element ---
TEASER_DISCARD = [
    _Select(
        stock.TEASER_DISCARD_XPATH[0],
        _BLOCKS,
        lambda element: (
            "teaser" in (element.get("id") or "").replace("T", "t")
            or "teaser" in (element.get("class") or "").replace("T", "t")
        ),
    )
]
DISCARD_IMAGES = [
    _Select(
        stock.DISCARD_IMAGE_ELEMENTS[0],
        _BLOCKS,
        lambda element: "caption" in (element.get("id") or "") or "caption" in (element.get("class") or ""),
    )
]

# --- BODY_XPATH: where the main content is; _extract takes the first node of each ---------------
_article_content_id = _Regex(stock._alt(stock._ARTICLE_CONTENT_ID_TOKENS))
_article_content_class = _Regex(stock._alt(stock._ARTICLE_CONTENT_CLASS_TOKENS))
_story_id = _Regex(stock._alt(stock._STORY_ID_TOKENS))
_fulltext_class = _Regex("fulltext", re.IGNORECASE)
_story_class = _Regex(stock._alt(stock._STORY_CLASS_TOKENS))
_main_content_id = _Regex(stock._alt(stock._MAIN_CONTENT_ID_TOKENS))
_main_content_class = _Regex(stock._alt(stock._MAIN_CONTENT_CLASS_TOKENS))


def _article_content(element: _Element) -> bool:
    get = element.get
    id_, class_ = get("id") or "", get("class") or ""
    return (
        class_ in ("post", "entry")
        or get("itemprop") == "articleBody"
        or id_ == "articleContent"
        or _article_content_id[id_]
        or _article_content_class[class_]
    )


def _story(element: _Element) -> bool:
    get = element.get
    id_, class_ = get("id") or "", get("class") or ""
    return (
        get("role") == "article"
        or id_ in ("article", "story")
        or class_ in ("postarea", "art-postcontent", "text", "cell", "story")
        or _story_id[id_]
        or _fulltext_class[class_]
        or _story_class[class_]
    )


def _main_content(element: _Element) -> bool:
    id_, class_ = element.get("id") or "", element.get("class") or ""
    return (
        id_ == "content"
        or class_ == "content"
        or _main_content_id[id_]
        or _main_content_class[class_]
        or "main-content" in id_.replace("C", "c").replace("M", "m")
        or "main-content" in class_.replace("C", "c").replace("M", "m")
        or "page-content" in class_.replace("C", "c").replace("P", "p")
    )


def _main_frame(element: _Element) -> bool:
    get = element.get
    return (
        element.tag == "main"
        or (get("class") or "").startswith("main")
        or (get("id") or "").startswith("main")
        or (get("role") or "").startswith("main")
    )


BODY = [
    _Select(stock.BODY_XPATH[0], _CONTENT_FRAMES, _article_content, first_only=True),
    stock.BODY_XPATH[1],
    _Select(stock.BODY_XPATH[2], _CONTENT_FRAMES, _story, first_only=True),
    _Select(stock.BODY_XPATH[3], _CONTENT_FRAMES, _main_content, first_only=True),
    # BODY_XPATH[4], a union of two first matches: the first of the two in document order
    _Select(stock.BODY_XPATH[4], _CONTENT_FRAMES, _main_frame, first_only=True),
]

# --- settings.BASIC_CLEAN_XPATH (used by baseline.basic_cleaning, before justext) ---------------
_BASIC_CLEAN_TAGS = frozenset({"aside", "fencedframe", "footer", "script", "style", "svg", "template"})
_cookie_consent = _Regex(stock_settings._COOKIE_CONSENT_RE, re.IGNORECASE)


def _basic_clean(element: _Element) -> bool:
    tag, get = element.tag, element.get
    return (
        tag in _BASIC_CLEAN_TAGS
        or (tag == "div" and "footer" in first_of(element, "class", "id"))
        or _cookie_consent[get("class") or ""]
        or _cookie_consent[get("id") or ""]
    )


BASIC_CLEAN = _Select(stock_settings.BASIC_CLEAN_XPATH, None, _basic_clean)


# --- utils.INVALID_XML_CHARS, for its one use: repair_faulty_html's .sub("", html) ------------------
#: The characters the regex removes (its character class, spelled out).
_INVALID_XML = "".join(chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)) + "\ufffe\uffff"


class _InvalidXmlChars:
    """The same substitution, but the regex runs only where a character to remove occurs:
    most pages have none, and finding that out with one ``str.find`` per character (31 C scans,
    no copy of the page) takes a third to a half of the time of the regex's scan, or of
    encoding the page to look for them in its bytes."""

    def sub(self, replacement: str, text: str) -> str:
        if any(char in text for char in _INVALID_XML):
            return stock_utils.INVALID_XML_CHARS.sub(replacement, text)
        return text


# --- utils.HTML_PARSER, with lxml.html's element classes looked up in C -----------------------------
def _html_parser() -> HTMLParser:
    """utils.HTML_PARSER's twin: the same parser options, and the same class for every node
    (lxml.html's form classes by tag name, HtmlElement for the other elements, HtmlComment,
    HtmlProcessingInstruction, HtmlEntity), looked up without leaving C.

    lxml.html's HtmlElementClassLookup is a Python method, which lxml calls for every element
    proxy it creates: every element of a page is proxied again at each walk over the tree
    (~3,000 calls per page). libxml2's HTML parser writes tag names in lower case, which is
    how HtmlElementClassLookup matches them (``name.lower()``).
    """
    lookup = ElementNamespaceClassLookup(
        ElementDefaultClassLookup(
            element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity
        )
    )
    by_tag = lookup.get_namespace(None)
    for tag, element_class in HtmlElementClassLookup._default_element_classes.items():
        by_tag[tag] = element_class
    parser = HTMLParser(
        collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
    )
    parser.set_element_class_lookup(lookup)
    return parser


# --- justext's stop words, hashed once -----------------------------------------------------------
class _StopWords(tuple):
    """external.JT_STOPLIST (the same words in the same order) with its hash computed once:
    justext's ``define_stoplist`` is an lru_cache keyed by the stop-word tuple, so every call
    of ``try_justext`` hashed all ~150,000 words again (~12 ms)."""

    def __new__(cls, words: tuple[str, ...]) -> _StopWords:
        stop_words = super().__new__(cls, words)
        stop_words._hash = tuple.__hash__(stop_words)
        return stop_words

    def __hash__(self) -> int:
        return self._hash


@cache
def _justext_stop_words() -> _StopWords:
    """Mirrors external.jt_stoplist_init (which external.try_justext calls while its cache is empty)."""
    return _StopWords(external.JT_STOPLIST or external.jt_stoplist_init())


# --- trafilatura's functions, re-created over shadow namespaces ----------------------------------
def _assigned_globals(module: types.ModuleType) -> set[str]:
    """Globals that functions in ``module``'s namespace rebind (``global`` statements; imported
    functions count too, which only errs on the safe side): a shadow copy would miss the new values."""
    names: set[str] = set()
    codes = [f.__code__ for f in vars(module).values() if isinstance(f, types.FunctionType)]
    while codes:
        code = codes.pop()
        names.update(i.argval for i in dis.get_instructions(code) if i.opname == "STORE_GLOBAL")
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


class _Shadow:
    """A copy of a trafilatura module's namespace with some globals replaced, over which that
    module's functions are re-created (their own code, so they call what the copy holds)."""

    def __init__(self, module: types.ModuleType, **replacements: Any):
        unknown = set(replacements) - set(vars(module))
        if unknown:
            raise RuntimeError(f"{module.__name__} has no {', '.join(sorted(unknown))}")
        self.module = module
        self.namespace = {**vars(module), **replacements}
        self._stale = _assigned_globals(module) - set(replacements)

    def __getitem__(self, name: str) -> Any:
        return self.namespace[name]

    def recreate(self, *names: str) -> None:
        for name in names:
            function = getattr(self.module, name)
            stale = self._stale & set(function.__code__.co_names)
            if stale:
                raise RuntimeError(
                    f"{function.__qualname__} uses rebound globals {stale}: a copy would diverge"
                )
            clone = types.FunctionType(
                function.__code__, self.namespace, name, function.__defaults__, function.__closure__
            )
            clone.__kwdefaults__ = function.__kwdefaults__
            update_wrapper(clone, function)
            self.namespace[name] = clone


def _accelerated_extract() -> Callable[..., str | None]:
    """trafilatura.extract over the shadow namespaces, from the inside out."""
    utils_ns = _Shadow(stock_utils, INVALID_XML_CHARS=_InvalidXmlChars(), HTML_PARSER=_html_parser())
    utils_ns.recreate("repair_faulty_html", "fromstring_bytes", "load_html")

    # the module: the package attribute trafilatura.baseline is its function baseline()
    baseline_ns = _Shadow(importlib.import_module("trafilatura.baseline"), BASIC_CLEAN_XPATH=BASIC_CLEAN)
    baseline_ns.recreate("basic_cleaning", "baseline", "html2txt")

    external_ns = _Shadow(
        external,
        fromstring_bytes=utils_ns["fromstring_bytes"],
        basic_cleaning=baseline_ns["basic_cleaning"],
        OVERALL_DISCARD_XPATH=OVERALL_DISCARD,
        JT_STOPLIST=None,
        jt_stoplist_init=_justext_stop_words,
    )
    external_ns.recreate("try_readability", "try_justext", "justext_rescue", "compare_extraction")

    main_ns = _Shadow(
        main_extractor,
        BODY_XPATH=BODY,
        OVERALL_DISCARD_XPATH=OVERALL_DISCARD,
        PRECISION_DISCARD_XPATH=PRECISION_DISCARD,
        TEASER_DISCARD_XPATH=TEASER_DISCARD,
        DISCARD_IMAGE_ELEMENTS=DISCARD_IMAGES,
    )
    main_ns.recreate("prune_unwanted_sections", "recover_wild_text", "_extract", "extract_content")

    # mirrors core._extract_and_compare, but in precision mode compare_extraction prunes the raw
    # tree itself instead of a copy: trafilatura_sequence uses the raw tree after this call only
    # for the baseline rescue and the recall escalation, which precision mode never runs
    # (_recall_retry, the other caller, runs in recall mode and keeps the copy).
    def _extract_and_compare(cleaned_tree, cleaned_tree_backup, tree, options):
        postbody, temp_text = main_ns["extract_content"](cleaned_tree, options)
        if not options.fast:
            raw_tree = tree if options.focus == "precision" else copy(tree)
            postbody, temp_text = external_ns["compare_extraction"](
                cleaned_tree_backup, raw_tree, postbody, temp_text, options
            )
        return postbody, temp_text

    core_ns = _Shadow(
        core,
        load_html=utils_ns["load_html"],
        RAW_TREE_PRUNE_XPATH=RAW_TREE_PRUNE,
        REMOVE_COMMENTS_AND_LISTS_XPATH=REMOVE_COMMENTS_AND_LISTS,
        REMOVE_COMMENTS_XPATH=REMOVE_COMMENTS,
        justext_rescue=external_ns["justext_rescue"],
        baseline=baseline_ns["baseline"],
        html2txt=baseline_ns["html2txt"],
        _extract_and_compare=_extract_and_compare,
    )
    core_ns.recreate(
        "_recall_retry", "trafilatura_sequence", "bare_extraction", "_internal_extraction", "extract"
    )
    return core_ns["extract"]


#: Same signature and output as ``trafilatura.extract`` 2.3.1.
extract = _accelerated_extract()
