"""The accelerated trafilatura gives exactly stock trafilatura's text, and each of its XPath
twins selects exactly what the XPath it mirrors selects.

Compared in one process, page by page: every page of the shared corpus, hand-made pages that
aim at each twin's edge cases, and generated pages (hypothesis). CI runs a bounded,
derandomized number of generated pages; a longer random run:

    CRAWLSIEVE_FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/test_fast_trafilatura.py -q
"""

from __future__ import annotations

import html as htmllib
import logging
import os
import pickle
from collections import Counter
from copy import copy
from pathlib import Path

import pytest
import trafilatura
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from justext.core import define_stoplist
from lxml.etree import XPath
from trafilatura import external
from trafilatura.htmlprocessing import convert_tags, tree_cleaning
from trafilatura.settings import Extractor
from trafilatura.utils import INVALID_XML_CHARS, load_html

from crawlsieve.ingest import fast_trafilatura as fast
from crawlsieve.ingest import fast_trafilatura_twins as twins
from crawlsieve.ingest.config import ExtractConfig, ReadConfig
from crawlsieve.ingest.decode import decode_html
from crawlsieve.ingest.extractors import TrafilaturaExtractor, make_extractor
from crawlsieve.ingest.warc import HttpCheckStage, read_warc

LONG_RUN = "CRAWLSIEVE_FUZZ_EXAMPLES" in os.environ
GENERATED = settings(
    max_examples=int(os.environ.get("CRAWLSIEVE_FUZZ_EXAMPLES", "1000")),
    deadline=None,
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

OPTIONS = TrafilaturaExtractor(ExtractConfig()).options
#: Other settings a config may choose: the other branches of trafilatura_sequence.
OTHER_OPTIONS = [
    {**OPTIONS, "favor_precision": False},
    {**OPTIONS, "favor_precision": False, "favor_recall": True, "include_links": True},
    {**OPTIONS, "include_comments": True, "include_tables": False},
]
OTHER_IDS = ["balanced", "recall-links", "comments-no-tables"]

#: Every twin with the XPath it mirrors.
TWINS = [
    twin
    for group in (
        twins.RAW_TREE_PRUNE,
        twins.REMOVE_COMMENTS,
        twins.REMOVE_COMMENTS_AND_LISTS,
        twins.OVERALL_DISCARD,
        twins.PRECISION_DISCARD,
        twins.TEASER_DISCARD,
        twins.DISCARD_IMAGES,
        twins.BODY,
        [twins.BASIC_CLEAN],
    )
    for twin in group
    if not isinstance(twin, XPath)
]
#: The twins of BODY_XPATH list only the first node: _extract takes nothing else.
FIRST_ONLY = {id(twin) for twin in twins.BODY if not isinstance(twin, XPath)}


def corpus_pages(corpus: Path) -> list[str]:
    """The corpus's HTML 200 responses, decoded as the extract stage decodes them."""
    read = ReadConfig()
    check = HttpCheckStage(read)
    pages = []
    for warc in sorted((corpus / "warc").glob("*.warc.gz")):
        for batch in read_warc(str(warc), warc.name, read):
            batch = check(batch)
            for payload, charset, removed in zip(
                batch.column("html").to_pylist(),
                batch.column("http_charset").to_pylist(),
                batch.column("_removed").to_pylist(),
                strict=True,
            ):
                if removed is None:
                    pages.append(decode_html(payload, charset)[0])
    return pages


def trees(html: str) -> list:
    """The trees the twins see: the raw page, and the page cleaned and converted (lists are <list>)."""
    raw = load_html(html)
    if raw is None:
        return []
    options = Extractor(precision=True, comments=False)
    return [raw, convert_tags(tree_cleaning(copy(raw), options), options)]


def twin_differences(html: str, matched: Counter | None = None) -> list[str]:
    """Where a twin's selection differs from its XPath's on the trees of ``html``."""
    differences = []
    for tree in trees(html):
        for twin in TWINS:
            expected = twin.mirrors(tree)
            if id(twin) in FIRST_ONLY:
                expected = expected[:1]
            if twin(tree) != expected:
                differences.append(f"{twin!r}: {twin(tree)} != {expected}")
            if matched is not None:
                matched[repr(twin)] += bool(expected)
    return differences


@pytest.fixture(scope="module")
def corpus(shared_corpus) -> list[str]:
    return corpus_pages(shared_corpus)


def test_every_corpus_page_gives_exactly_stock_trafilatura_text(corpus):
    assert len(corpus) == 341
    stock = [trafilatura.extract(html, **OPTIONS) for html in corpus]
    accelerated = [fast.extract(html, **OPTIONS) for html in corpus]
    assert [i for i, (a, b) in enumerate(zip(accelerated, stock, strict=True)) if a != b] == []
    assert sum(map(bool, stock)) >= 300  # the comparison is about real extracted texts


@pytest.mark.parametrize("options", OTHER_OPTIONS, ids=OTHER_IDS)
def test_corpus_pages_give_stock_text_with_other_settings_too(corpus, options):
    sample = corpus[::12]
    assert [fast.extract(html, **options) for html in sample] == [
        trafilatura.extract(html, **options) for html in sample
    ]


@pytest.fixture(scope="module")
def multilingual(shared_corpus) -> list[str]:
    if not (shared_corpus / "multilingual" / "warc").is_dir():
        pytest.skip(f"no multilingual corpus at {shared_corpus / 'multilingual'}")
    return corpus_pages(shared_corpus / "multilingual")


@pytest.mark.parametrize("options", [OPTIONS, *OTHER_OPTIONS], ids=["default", *OTHER_IDS])
def test_multilingual_pages_give_stock_text_with_every_setting(multilingual, options):
    """Forum threads, Chinese, Japanese and Arabic pages: the other page mix of the benchmark."""
    sample = multilingual if options is OPTIONS else multilingual[::4]
    stock = [trafilatura.extract(html, **options) for html in sample]
    assert [fast.extract(html, **options) for html in sample] == stock
    assert sum(map(bool, stock)) >= 0.8 * len(sample)


def test_twins_select_what_their_xpaths_select_on_corpus_pages(corpus):
    matched: Counter = Counter()
    for html in corpus[::16]:
        assert twin_differences(html, matched) == []
    # each twin's expression matches on some of these real pages (none has the raw-tree prune's
    # infinite-scroll or elementor share containers)
    assert {repr(twin) for twin in TWINS if twin not in twins.RAW_TREE_PRUNE} <= set(+matched)


def test_make_extractor_uses_the_accelerated_path_unless_configured_off():
    assert isinstance(make_extractor(ExtractConfig()), fast.FastTrafilaturaExtractor)
    stock = make_extractor(ExtractConfig(accelerated=False))
    assert type(stock) is TrafilaturaExtractor
    page = f"<html><body><article><p>{ARTICLE * 2}</p></article></body></html>"
    assert make_extractor(ExtractConfig())(page) == stock(page) is not None
    assert pickle.loads(pickle.dumps(make_extractor(ExtractConfig())))(page) == stock(page)


def test_other_trafilatura_versions_get_stock_extract_and_one_warning(caplog):
    fallback = fast.select_extract("0.0.1")
    page = f"<html><body><article><p>{ARTICLE * 3}</p></article></body></html>"
    with caplog.at_level(logging.WARNING, logger=fast.__name__):
        texts = [fallback(page, **OPTIONS) for _ in range(3)]
    assert texts == [trafilatura.extract(page, **OPTIONS)] * 3
    warnings = [r for r in caplog.records if r.name == fast.__name__]
    assert len(warnings) == 1
    assert "0.0.1" in warnings[0].getMessage() and fast.PINNED_VERSION in warnings[0].getMessage()


def test_the_installed_trafilatura_is_the_pinned_one_so_extraction_is_accelerated():
    assert trafilatura.__version__ == fast.PINNED_VERSION
    assert fast.extract is twins.extract is fast.select_extract(fast.PINNED_VERSION)


# --- hand-made pages, one group of edge cases per twin ------------------------------------------
ARTICLE = (
    "The harbour commission met on Tuesday to discuss the new breakwater, which engineers say "
    "will protect the fishing fleet from the winter storms that damaged forty boats last year. "
)
LONG = ARTICLE * 4


def page(*blocks: str, head: str = "") -> str:
    return f"<html><head><title>T</title>{head}</head><body>{''.join(blocks)}</body></html>"


def block(attrs: str, text: str = "Short block text here.", tag: str = "div") -> str:
    return f"<{tag} {attrs}><p>{text}</p></{tag}>"


HAND_MADE = {
    # first attribute of @id|@class decides (cookie token; reply- prefix; hidden in @id|@style)
    "id-class order": page(
        f"<article><p>{LONG}</p>",
        block('id="cookie-x" class="plain"'),
        block('class="plain" id="cookie-x"'),
        block('class="cookie-y" id="plain"'),
        block('id="plain" class="cookie-y"'),
        block('id="reply-1" class="x"'),
        block('class="x" id="reply-1"'),
        block('style="color: red" id="hidden-part"'),
        block('id="hidden-part" style="color: red"'),
        block('style="hidden" id="x"'),
        f"<p>{ARTICLE}</p></article>",
    ),
    # comment sections: the lookahead (commentary), the anchors, and ol/ul only by their own tokens
    "comments": page(
        f"<main><p>{LONG}</p>",
        block('class="commentary"', ARTICLE),
        block('class="Commentary-box"', ARTICLE),
        block('id="comments"'),
        block('id="Comment-3"'),
        block('id="xcomments"', ARTICLE),
        block('id="disqus_thread"'),
        '<ul id="disqus_thread"><li>disqus list item one</li></ul>',
        '<ol class="comment-list"><li>a comment in a list</li></ol>',
        '<ul class="post-comments x"><li>another comment</li></ul>',
        '<ul id="comol"><li>comol list</li></ul>',
        block('class="article-comments"'),
        block('id="dsq-comments"'),
        '<details class="comment"><summary>s</summary>details comment</details>',
        f"<p>{ARTICLE}</p></main>",
    ),
    # infinite scroll containers: kept when they hold the h1 and carry no mvp token
    "appended articles": page(
        f'<div class="infinite-scroll"><h1>Real title</h1><p>{LONG}</p></div>',
        f'<section id="infinitescroll"><p>{ARTICLE}</p></section>',
        f'<aside class="mvp-post-add-box"><h1>Next</h1><p>{ARTICLE}</p></aside>',
        f'<div id="mvp-post-add-wrap"><h1>Other</h1><p>{ARTICLE}</p></div>',
        f'<div class="infinite_scroll"><p>{ARTICLE}</p></div>',
        '<div class="elementor-share-buttons">share this</div>',
    ),
    # boilerplate tokens and near misses, in @id and in @class
    "boilerplate tokens": page(
        f'<div class="entry-content"><p>{LONG}</p>',
        block('class="ad"', ARTICLE),
        block('class="x ad y"'),
        block('class="ad-slot"'),
        block('class="bad-ad-x"'),
        block('class="shadow"', ARTICLE),
        block('class="header ad-"', ARTICLE),
        block('id="ad-top"'),
        block('id="x-ad-y"', ARTICLE),
        block('class="share-bar"'),
        block('class="reshare"', ARTICLE),
        block('id="sharebox"'),
        block('id="Share"'),
        block('id="xNav"'),
        block('class="Navigation"'),
        block('class="navigation"'),
        block('class="navbar"'),
        block('class="subnav"'),
        block('class="tag-list"'),
        block('class="tags"'),
        block('id="tags"'),
        block('class="Byline"'),
        block('class="author-box"'),
        block('class="sidebar"'),
        block('id="Sidebar"', ARTICLE),
        block('class="bread-crumb"'),
        block('class="breadcrumb"'),
        block('class="elementor-widget"', ARTICLE),
        block('class="metadata"'),
        block('class="slide"'),
        block('class="ZendeskForm"'),
        block('class="Zendesk"', ARTICLE),
        block('role="Navigation"'),
        block('role="NAVIGATION"', ARTICLE),
        block('data-component="MostPopularStories"'),
        block('data-lp-replacement-content=""'),
        block('class="comments-title"'),
        block('class="x hidden"'),
        block('class="hidden"', ARTICLE),
        block('class="hide-this"'),
        block('class="x-hide-y"'),
        block('class="noprint"'),
        block('id="reader-comments"'),
        block('style="display:none"'),
        block('style="DISPLAY:NONE"', ARTICLE),
        block('style="display: none"'),
        block('aria-hidden="true"'),
        block('aria-hidden="TRUE"', ARTICLE),
        block('class="" id=""', ARTICLE),
        block('class="Ünïcödé-sidebar"'),
        block('class="коммент"', ARTICLE),
        block('class="サイドバー"', ARTICLE),
        "<span class='message'>a message span</span>",
        f"<p>{ARTICLE}</p></div>",
    ),
    # precision: page-bottom and link tokens as whole words only, border in style
    "bottom and link": page(
        f'<div class="article-body"><p>{LONG}</p>',
        block('class="bottom"'),
        block('class="page bottom"'),
        block('class="bottom-bar"'),
        block('class="article-bottom"'),
        block('class="padding-bottom-lg-30"', ARTICLE),
        block('id="x" class="bottom"', ARTICLE),
        block('class="link"'),
        block('class="nav link"'),
        block('class="permalink"', ARTICLE),
        block('class="links"', ARTICLE),
        block('style="border: 1px solid"'),
        block('class="x\tbottom"'),
        f"<p>{ARTICLE}</p></div>",
    ),
    # where the body is: the first candidate in document order, nested ones, case variants
    "body candidates": page(
        f'<div class="wrapper"><section class="FullText"><p>{LONG}</p></section>',
        f'<div class="story-content"><p>{ARTICLE}</p></div>',
        f'<div id="Main-Content"><p>{ARTICLE}</p></div></div>',
    ),
    "body candidates 2": page(
        f'<div class="MAIN-CONTENT"><p>{ARTICLE}</p></div>',
        f'<div class="page-Content"><div class="content"><p>{LONG}</p></div></div>',
    ),
    "body candidates 3": page(
        f'<div class="article x"><p>{ARTICLE}</p></div><div id="primary-col"><p>{LONG}</p></div>',
    ),
    "body candidates 4": page(
        f'<main class="content__body"><p>{LONG}</p></main><div class="post"><p>{ARTICLE}</p></div>',
        f'<div itemprop="articleBody"><p>{ARTICLE}</p></div>',
    ),
    # the last body candidate: a main element or a frame whose class/id/role starts with main
    "main frames": page(
        f'<div class="wrap"><div role="main-region"><p>{LONG}</p></div></div><main><p>{ARTICLE}</p></main>'
    ),
    # teasers, captions (tag tests only), and what basic_cleaning removes before justext
    "teasers captions footers banners": page(
        f'<section class="mainbar"><p>{LONG}</p>',
        block('class="Teaser-box"'),
        block('id="teaser"'),
        block('class="TEASER"', ARTICLE),
        block('class="img-caption"'),
        block('id="caption"'),
        block('class="Caption"', ARTICLE),
        '<div id="pagefooter" class="x">footer by its id</div>',
        '<div class="x" id="pagefooter">kept: its class comes first</div>',
        block('class="cookie-banner"'),
        block('id="CookieNotice"'),
        block('class="cookies-not-set"', ARTICLE),
        "<aside>an aside</aside><template>a template</template><svg><text>svg</text></svg>",
        f"<p>{ARTICLE}</p></section>",
    ),
    # characters repair_faulty_html removes (and the ones it keeps), in text and attributes
    "control characters": page(
        f'<article class="a\x01b"><p>{LONG}\x00\x08\x0b\x0c\x1f\ufffe\uffff\t\r\n end.</p>',
        f"<p>{ARTICLE}\x7f\x85\ufffd\U0001f600</p></article>",
    ),
    # prefixed and custom tags, upper-case and unquoted attributes, a repeated attribute
    "markup variants": page(
        f"<article><p>{LONG}</p>",
        '<o:p class="sidebar">office paragraph</o:p><div:x class="nav">prefixed div</div:x>',
        '<my-widget class="hidden">custom element</my-widget>',
        "<DIV CLASS=SideBar ID=Comments>upper case</DIV><div class=sidebar>unquoted</div>",
        '<div class=\'nav\'>single quotes</div><div class="a" class="sidebar">repeated</div>',
        f"<p>{ARTICLE}</p></article>",
    ),
    # nesting deeper than the recursion of trafilatura's text rendering usually sees
    "deep nesting": page(
        '<div class="content">' + '<ul class="x"><li>item' * 300 + ARTICLE + "</li></ul>" * 300 + "</div>"
    ),
    # adjacent pruned blocks with tails, nested matches, a pruned root child
    "tails and nesting": page(
        f"<article><p>{LONG}</p>",
        '<div class="sidebar">one<div class="sidebar">two</div>tail two</div>tail one',
        '<span class="meta">m</span> between <span class="meta">n</span> after',
        '<div class="widget"><div id="nav">inner</div>inner tail</div>',
        f"<p>{ARTICLE}</p></article>",
        '<div class="footer">bye</div>',
    ),
}


@pytest.mark.parametrize("name", sorted(HAND_MADE))
def test_hand_made_pages_give_stock_text_and_twins_match_their_xpaths(name):
    html = HAND_MADE[name]
    assert twin_differences(html) == []
    for options in [OPTIONS, *OTHER_OPTIONS]:
        assert fast.extract(html, **options) == trafilatura.extract(html, **options)
    assert trafilatura.extract(html, **OPTIONS)


def test_hand_made_pages_reach_every_twin():
    matched: Counter = Counter()
    for html in HAND_MADE.values():
        twin_differences(html, matched)
    assert {repr(twin) for twin in TWINS} <= set(+matched)


@settings(max_examples=300, derandomize=True, database=None)
@given(text=st.text() | st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")))
def test_invalid_xml_chars_twin_removes_what_the_regex_removes(text):
    assert twins._InvalidXmlChars().sub("", text) == INVALID_XML_CHARS.sub("", text)


def test_stop_words_twin_is_the_stop_word_tuple_with_the_same_hash():
    stop_words = twins._justext_stop_words()
    words = external.JT_STOPLIST or external.jt_stoplist_init()
    assert stop_words == words and hash(stop_words) == hash(words) and len(words) > 10_000
    assert define_stoplist(stop_words) == define_stoplist(words)


# --- generated pages ------------------------------------------------------------------------------
#: Class/id values that match, and nearly match, trafilatura's patterns.
NAMES_TEXT = (
    "sidebar Sidebar side-bar nav Nav navbar subnav navigation avigation menu share-buttons sharing "
    "reshare social viral newsletter syndication cookie Cookie consent tags tag-list author byline "
    "Byline footer Footer foot comment comments Comments commentary Commentary comment-list "
    "commentlist comments-title comol disqus_thread dsq-comments article-comments post-comments "
    "reply-to reply hidden hide-me noprint hide-print message akismet reader-comments ad ad-slot "
    "-ad- dfpAd outbrain taboola widget meta metadata rating slide overlay viewport options expand "
    "bottom page-bottom bottom-bar padding-bottom-lg link permalink border teaser Teaser caption "
    "mvp-post-add-box mvp-post-add-wrap infinite-scroll infinitescroll elementor-share-buttons "
    "entry-content article-content article__content articleBody article-body post-content post_text "
    "postContent post-entry post entry primary story-body storycontent fulltext FullText single-post "
    "main-column content content-main content_main content-body content__body contentBody "
    "main-content Main-Content MAIN-CONTENT page-content Page-Content main mainbar text cell story "
    "postarea art-postcontent related elated next-post top-stories most-popular more-on premium bmdh "
    "yin nfoline user-info timestamp -icon ZendeskForm breadcrumb bread-crumb button banner embed "
    "paid-content criteo obfuscated blurred modal-content permission suggest-links notloaded -hide- "
    "cookie-banner Cookie_Notice cookieconsent notice__cookie consent-manager CookieBot onetrust "
    "moove_gdpr borlabs cmplz footer-links Footerbar teaser-box Teaser caption-text "
    "коммент サイドバー ñav naïve 💬 header x y"
)
NAMES = NAMES_TEXT.split()
BLOCK_TAGS_TEXT = (
    "div section article main aside header footer nav p span ul ol li dl dt dd table tr td th h1 h2 "
    "h3 blockquote pre code em strong b i a figure form details summary sub sup del s q time button "
    "label noscript iframe"
)
BLOCK_TAGS = BLOCK_TAGS_TEXT.split()
WORDS_TEXT = (
    "the harbour commission met on tuesday to discuss new breakwater which engineers say will protect "
    "fishing fleet from winter storms Straße über Fluß 港口 委员会 гавань комиссия ÷ — « » "
    "a, b. c; d! e? 12 3.5 & < >"
)
WORDS = WORDS_TEXT.split()

#: One name per twin that only a few names reach, drawn more often so that each twin is met.
TRIGGERS = [
    "elementor-share-buttons", "infinite-scroll", "mvp-post-add-box", "comment-list", "disqus_thread",
    "teaser", "caption", "bottom", "link", "main-content", "mainbar", "fulltext", "entry-content",
    "footer", "cookie-banner", "hidden",
]  # fmt: skip
name = st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES), st.sampled_from(TRIGGERS))
names = st.one_of(
    name,
    name,
    st.builds(lambda a, b: f"{a} {b}", name, name),
    st.builds(lambda pre, n, post: pre + n + post, st.sampled_from(["", "x", "-", " ", "X_"]), name,
              st.sampled_from(["", "x", "-", " ", "2"])),
    st.text(max_size=12),
)  # fmt: skip
class_or_id = st.tuples(st.sampled_from(["class", "id", "class", "id", "CLASS", "Id"]), names)
attribute = st.one_of(
    class_or_id,
    class_or_id,
    class_or_id,
    class_or_id,
    st.tuples(st.just("style"), st.sampled_from(["display:none", "display: none", "border: 0", "hidden"])),
    st.tuples(st.just("role"), st.sampled_from(["navigation", "Navigation", "main", "article"])),
    st.tuples(st.just("aria-hidden"), st.sampled_from(["true", "false"])),
    st.tuples(st.just("itemprop"), st.sampled_from(["articleBody", "author"])),
    st.tuples(st.just("data-component"), st.sampled_from(["MostPopularStories", "Figure"])),
    st.tuples(st.just("data-lp-replacement-content"), st.just("")),
    st.tuples(st.just("href"), st.sampled_from(["/a", "https://example.org/b"])),
)  # fmt: skip
sentence = st.lists(st.sampled_from(WORDS), min_size=1, max_size=40).map(" ".join)
text = st.one_of(sentence, sentence.map(htmllib.escape), st.text(max_size=30), st.just(ARTICLE))


def render(tag: str, attributes: list[tuple[str, str]], children: list[str]) -> str:
    attrs = "".join(f' {name}="{htmllib.escape(value)}"' for name, value in attributes)
    return f"<{tag}{attrs}>{''.join(children)}</{tag}>"


elements = st.recursive(
    text,
    lambda inner: st.one_of(
        st.builds(render, st.sampled_from(BLOCK_TAGS), st.lists(attribute, max_size=3),
                  st.lists(inner, max_size=5)),
        st.builds(lambda a: f"<br{a}>", st.sampled_from(["", ' class="x"'])),
        st.sampled_from(["<hr>", "<img src='a.png' alt='x'>", "<!-- a comment -->", "<wbr>",
                         "<script>var s = '<div class=\"sidebar\">';</script>", "<style>.ad {}</style>"]),
    ),
    max_leaves=20,
)  # fmt: skip
#: Containers with class/id names around the generated elements: where trafilatura's patterns look.
sections = st.builds(
    render,
    st.sampled_from(["div", "section", "article", "main", "aside", "ul", "ol", "details", "p", "span"]),
    st.lists(class_or_id, min_size=1, max_size=2),
    st.lists(st.one_of(elements, st.builds(lambda text: f"<p>{text}</p>", text)), min_size=1, max_size=4),
)
generated_pages = st.builds(
    lambda head, body: f"<html><head><title>t</title>{head}</head><body>{''.join(body)}</body></html>",
    st.sampled_from(["", "<style>p {color: red}</style>", "<script>var x = '<p>';</script>"]),
    st.lists(st.one_of(sections, sections, elements), min_size=1, max_size=8),
)


@pytest.fixture(scope="module")
def generated() -> Counter:
    """Counts over the generated pages; on teardown, checks that they were worth comparing."""
    counts: Counter = Counter()
    yield counts
    assert counts["pages"] >= min(GENERATED.max_examples, 100)
    assert counts["with text"] >= counts["pages"] / 5
    if counts["pages"] >= 500:  # enough pages for each twin's XPath to have matched somewhere
        assert {repr(twin) for twin in TWINS} - set(+counts) == set()


@GENERATED
@given(html=generated_pages)
def test_generated_pages_give_stock_text_and_twins_match_their_xpaths(generated, html):
    expected = trafilatura.extract(html, **OPTIONS)
    assert fast.extract(html, **OPTIONS) == expected
    assert twin_differences(html, generated) == []
    generated["pages"] += 1
    generated["with text"] += bool(expected)
