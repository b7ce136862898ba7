"""Forum threads and Q&A pages: their post blocks, and the thread's text made of them.

A conversation's content is its posts: the question, the answers, the replies, each a block of
the same kind repeated down the page (phpBB's ``div.postbody``, Discourse's ``div.cooked``,
Discuz's ``td.t_f``, Tieba's ``d_post_content``, Zhihu's ``RichContent``, schema.org ``Comment``
and ``Answer`` items, ...). Article extractors judge each block by its own length and link
density and drop the short replies ("Thanks, that worked."), which are the conversation; they
also keep the replies out entirely when comments are off. Here the blocks are found by what
forum software names them, grouped by their markup signature, and the thread is their text in
page order, one post a paragraph, under the thread's title.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from lxml import etree
from lxml import html as lxml_html

#: Words of a class, id or schema.org itemtype that name a post (or its body): phpBB, vBulletin,
#: Discourse ("cooked"), XenForo ("bbWrapper"), IPS, Discuz ("t_f", "postmessage"), Tieba
#: ("lzl" sub-replies), Stack Exchange, bbPress, Flarum, Zhihu ("RichContent"), Reddit.
POST_WORDS = re.compile(
    r"post|repl(?:y|ies)|answer|comment|message|msg|cooked|bbwrapper|\bt_f\b|lzl|richcontent|"
    r"discussionforumposting|socialmediaposting|\bfloor\b|tweet",
    re.IGNORECASE,
)
#: Words (whole, in the markup's words) that name the chrome around a post, not a post: author
#: panes, dates, buttons, menus, vote and share bars, signatures, forms, lists of other threads.
# fmt: off
CHROME_WORDS = frozenset({
    "avatar", "author", "user", "username", "userinfo", "profile", "meta", "date", "time", "timestamp",
    "footer", "foot", "header", "head", "title", "actions", "action", "controls", "control", "tools",
    "toolbar", "menu", "share", "sharing", "vote", "votes", "voting", "count", "counter", "icon", "btn",
    "button", "buttons", "links", "link", "sig", "signature", "form", "editor", "input", "nav",
    "navigation", "pagination", "pager", "rating", "like", "likes", "stats", "badge", "badges", "info",
    "tags", "tag", "related", "recent", "latest", "popular", "sidebar", "side", "widget", "promo",
    "reaction", "reactions", "emoji", "attachment", "attachments", "report", "modal", "popup",
    "tooltip", "login", "register", "search", "breadcrumb", "breadcrumbs", "ad", "ads", "advert",
    "advertisement", "sponsor", "sponsored", "notice", "alert", "system", "list", "item", "items",
    "card", "teaser", "excerpt", "preview", "summary", "thumb", "thumbnail",
})
# fmt: on
#: Words that keep a block named with a chrome word (``message-userContent``) in a post's text.
CONTENT_WORDS = re.compile(r"content|body|text|message|cooked|bbwrapper", re.IGNORECASE)
#: The words of markup: ``cPost_contentWrap`` -> c, post, content, wrap.
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
#: Elements whose text is never a post's: scripts, form controls, media (a form may hold the posts).
# fmt: off
SKIPPED_TAGS = frozenset({
    "script", "style", "noscript", "template", "svg", "button", "select", "textarea", "input", "nav",
    "iframe", "object", "video", "audio", "canvas", "head", "title", "meta", "link",
})
# fmt: on
#: Elements after which the text goes on on a new line.
# fmt: off
BLOCK_TAGS = frozenset({
    "p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
    "ul", "ol", "dl", "dt", "dd", "table", "section", "article", "header", "footer", "figure",
    "figcaption", "hr", "main", "aside", "address", "details", "summary",
})
# fmt: on
#: Mean characters of a group's blocks below which they are labels (floor numbers, counters), not posts.
MIN_POST_CHARS = 20
#: A block whose links carry more than this share of its text is a list of links, not a post.
MAX_LINK_DENSITY = 0.5


def _markers(element: etree._Element) -> str:
    """The words an element's markup calls it by: class, id, itemtype and itemprop."""
    attrib = element.attrib
    return " ".join(
        filter(None, (attrib.get("class"), attrib.get("id"), attrib.get("itemtype"), attrib.get("itemprop")))
    )


def _signature(element: etree._Element) -> str:
    """What makes two blocks the same kind of block: tag and class (or id) without numbers."""
    name = element.attrib.get("class") or element.attrib.get("id") or ""
    return element.tag + ":" + " ".join(sorted(set(re.sub(r"\d+", "", name).split())))


def _chrome_words(markers: str) -> bool:
    return any(word.lower() in CHROME_WORDS for word in _WORD.findall(markers))


def _chrome(element: etree._Element) -> bool:
    if element.tag in SKIPPED_TAGS:
        return True
    markers = _markers(element)
    return bool(markers) and _chrome_words(markers) and not CONTENT_WORDS.search(markers)


def _text(element: etree._Element, chrome: bool) -> tuple[list[str], int]:
    """The element's visible text as lines (a line per block) and the characters of its link
    text; scripts and form controls left out, and with ``chrome`` the chrome inside it too (a
    post's buttons; not a page's wrappers, whose class may say anything)."""
    parts: list[str] = []
    link_chars = 0
    in_link = 0
    skipped = set()
    walker = etree.iterwalk(element, events=("start", "end"))
    for event, node in walker:
        tag = node.tag if isinstance(node.tag, str) else None
        if event == "start":
            if tag is None or tag in SKIPPED_TAGS or (chrome and node is not element and _chrome(node)):
                walker.skip_subtree()  # its "end" still comes, for the tail
                skipped.add(node)
                continue
            if tag in BLOCK_TAGS:
                parts.append("\n")
            if tag == "a":
                in_link += 1
            if node.text:
                parts.append(node.text)
                link_chars += len(node.text.strip()) if in_link else 0
        else:
            if node in skipped:
                skipped.discard(node)
            else:
                if tag in BLOCK_TAGS:
                    parts.append("\n")
                if tag == "a":
                    in_link -= 1
            if node is not element and node.tail:
                parts.append(node.tail)
                link_chars += len(node.tail.strip()) if in_link else 0
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return [line for line in lines if line], link_chars


def block_lines(element: etree._Element, chrome: bool = True) -> list[str]:
    """The element's visible text as lines (see ``_text``)."""
    return _text(element, chrome)[0]


@dataclass
class Post:
    element: etree._Element
    lines: list[str]

    @property
    def chars(self) -> int:
        return sum(map(len, self.lines))


def _outermost(elements: list[etree._Element]) -> list[etree._Element]:
    """The elements not inside another one of them, in page order."""
    chosen = set(elements)
    out = []
    for element in elements:
        parent = element.getparent()
        while parent is not None and parent not in chosen:
            parent = parent.getparent()
        if parent is None:
            out.append(element)
    return out


def _inside(element: etree._Element, containers: set[etree._Element]) -> bool:
    parent = element.getparent()
    while parent is not None:
        if parent in containers:
            return True
        parent = parent.getparent()
    return False


def _candidates(tree: etree._Element) -> list[etree._Element]:
    """Elements whose markup names a post (not its chrome), outside scripts and form controls."""
    found = []
    walker = etree.iterwalk(tree, events=("start",))
    for _, element in walker:
        if not isinstance(element.tag, str) or element.tag in SKIPPED_TAGS:
            walker.skip_subtree()
            continue
        markers = _markers(element)
        if markers and POST_WORDS.search(markers) and not _chrome_words(markers):
            found.append(element)
    return found


def has_post_markup(tree: etree._Element) -> bool:
    """Whether any element's markup names a post."""
    return bool(_candidates(tree))


def page_text(tree: etree._Element) -> tuple[list[str], int]:
    """The page's visible lines and the characters of their link text."""
    return _text(tree, chrome=False)


def find_posts(tree: etree._Element) -> list[Post]:
    """The page's post bodies in page order; empty when it has no repeated post blocks.

    Candidates are the elements whose markup names a post; they are grouped by signature, and a
    group counts when it has two or more blocks with text that are not mostly links. Of the
    groups, the one with the most text is the thread; a group inside it that keeps most of its
    text in as many blocks is its post bodies without the author panes and buttons around them.
    """
    groups: dict[str, list[etree._Element]] = defaultdict(list)
    for element in _candidates(tree):
        groups[_signature(element)].append(element)
    scored: list[tuple[int, list[Post]]] = []
    for members in groups.values():
        posts = []
        for element in _outermost(members):
            lines, links = _text(element, True)
            text = sum(map(len, lines))
            if text and links <= MAX_LINK_DENSITY * text:
                posts.append(Post(element, lines))
        if len(posts) >= 2 and sum(p.chars for p in posts) >= MIN_POST_CHARS * len(posts):
            scored.append((sum(p.chars for p in posts), posts))
    if not scored:
        return []
    scored.sort(key=lambda item: -item[0])
    chars, best = scored[0]
    while True:
        containers = {p.element for p in best}
        inner = [
            (c, posts)
            for c, posts in scored
            if posts is not best
            and len(posts) >= len(best)
            and c >= 0.6 * chars
            and all(_inside(p.element, containers) for p in posts)
        ]
        if not inner:
            return _with_opening(tree, best)
        chars, best = max(inner, key=lambda item: item[0])


def _with_opening(tree: etree._Element, posts: list[Post]) -> list[Post]:
    """``posts`` after the thread's opening post when that is marked up otherwise (a question
    above its answers, a submission above its comments): the post-marked block with the most text
    before the first of ``posts``, neither inside nor around one of them."""
    members = {p.element for p in posts}
    around = {a for p in posts for a in p.element.iterancestors()}
    best: Post | None = None
    for element in _candidates(tree):
        if element is posts[0].element:
            break
        if element in around or any(a in members for a in element.iterancestors()):
            continue
        lines, links = _text(element, True)
        text = sum(map(len, lines))
        good = text >= MIN_POST_CHARS and links <= MAX_LINK_DENSITY * text
        if good and (best is None or text > best.chars):
            best = Post(element, lines)
    return posts if best is None else [best, *posts]


_WORDS = re.compile(r"\w\w")


def page_title(tree: etree._Element) -> str | None:
    """The thread's title: the first ``h1`` with words, else a heading named as the topic's title
    (phpBB's ``h2.topic-title``), else the document's title."""
    for element in tree.iter("h1", "h2", "h3"):
        markers = _markers(element).lower()
        named = element.tag == "h1" or any(word in markers for word in ("title", "subject", "topic"))
        text = " ".join("".join(element.itertext()).split())
        if named and _WORDS.search(text):
            return text
    title = tree.find(".//title")
    return " ".join(title.text.split()) or None if title is not None and title.text else None


#: The prefix of a reply's heading: "Re: <title>" (and "AW:", "SV:", Chinese "回复：").
_REPLY_PREFIX = re.compile(r"^(?:re|aw|sv|回复|答复)[:：]", re.IGNORECASE)


def _squeezed(text: str) -> str:
    return "".join(text.split())


def thread_text(tree: etree._Element, posts: list[Post], base: str | None) -> str | None:
    """The thread: its title, its opening, then each post, a blank line between posts.

    The opening is what ``base`` (an article extractor's text of the page) holds that stands in
    the page before the first post: the question or submission when it is not marked up as a
    post. A line the thread already has is left out where it comes again: a reply's quote of an
    earlier post, a post heading that repeats the title ("Re: ..."), a signature under every post
    of its author. Without posts the thread is ``base``.
    """
    if not posts:
        return base
    in_posts = {_squeezed(line) for post in posts for line in post.lines}
    page = "".join(map(_squeezed, block_lines(tree, chrome=False)))
    before = page[: max(0, page.find(_squeezed(posts[0].lines[0])))]
    opening = []
    for line in (base or "").split("\n"):
        if _squeezed(line) in in_posts:
            break
        if line.strip() and _squeezed(line) in before:
            opening.append(line)
    title = page_title(tree)
    seen: set[str] = set()
    blocks = []
    for lines in ([title] if title else [], opening, *(post.lines for post in posts)):
        new = [line for line in lines if _REPLY_PREFIX.sub("", _squeezed(line)) not in seen]
        seen.update(_squeezed(line) for line in new)
        if new:
            blocks.append("\n".join(new))
    return "\n\n".join(blocks)


def parse(html: str) -> etree._Element | None:
    """The page as an lxml tree, or None when it does not parse to one."""
    try:
        return lxml_html.document_fromstring(html.encode("utf-8", "replace"), parser=_PARSER)
    except (etree.ParserError, ValueError):
        return None


_PARSER = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True)
