"""The page's genre (``core.stages.Genre``) from cheap evidence in its URL and markup.

Rules written for articles misjudge conversations (a reply has no terminal punctuation, a
thread is many short lines) and article extractors drop the replies, so a forum thread or Q&A
page is known as one before it is extracted. It is a forum when

* its schema.org markup says so: ``DiscussionForumPosting``, ``QAPage``, ``SocialMediaPosting``,
  or a ``Question`` outside an ``FAQPage`` (microdata ``itemtype`` or JSON-LD ``@type``); or
* its URL is a thread's or a question's on its own (``viewtopic.php``, ``showthread.php``,
  Discuz's ``mod=viewthread``, ``/r/<sub>/comments/``, a tweet, Zhidao, Tieba, Zhihu, Quora,
  Stack Exchange); or
* its URL looks like one (``/thread/``, ``/topic/``, ``/questions/``, ``/forum/``, Discourse's
  ``/t/<slug>/<n>``, Flarum's ``/d/<n>``, a host named ``bbs``, ``forum`` or ``discuss``) and some
  block of the page is marked up as a post (a news site's ``/topics/`` pages have none).

Repeated post blocks alone do not make a forum: an article's comments and a blog's index of its
posts are repeated post blocks too (measured on ``../shared/corpus``: the rule removed as many
articles as it found threads). A listing is a page whose visible text is mostly link text (an
index, a tag page, search results); other is a page with almost no visible text. Everything else
is an article.
"""

from __future__ import annotations

import re

from lxml import etree

from crawlsieve.core.stages import Genre
from crawlsieve.ingest import threads

FORUM_TYPES = frozenset({"DiscussionForumPosting", "QAPage", "SocialMediaPosting"})
_LD_TYPE = re.compile(r'"@type"\s*:\s*\[?\s*"([A-Za-z]+)"')
_ITEMTYPE = re.compile(r"schema\.org/([A-Za-z]+)")
#: URLs that are a thread or a question whatever their markup: the paths of forum and Q&A
#: software, and the large Q&A and discussion sites.
THREAD_URL = re.compile(
    r"viewtopic\.php|showthread\.php|[?&]mod=viewthread|/r/[^/]+/comments/|"
    r"^https?://(?:(?:www\.|mobile\.)?(?:twitter|x)\.com/[^/]+/status/\d+|zhidao\.baidu\.com/question|"
    r"tieba\.baidu\.com/p/|(?:www\.)?quora\.com/|(?:www\.)?zhihu\.com/question/|"
    r"[^/]*stackexchange\.com/questions/|stackoverflow\.com/questions/)",
    re.IGNORECASE,
)
#: URLs that are a thread or a question when the page also has a block marked up as a post.
THREADISH_URL = re.compile(
    r"/threads?[/-]|/topics?/|/questions?/|/answers?/|/forums?/|/discussions?(?:-topics)?/|"
    r"/t/[^/]+/\d+|/d/\d+|^https?://[^/]*(?:bbs|forum|discuss)",
    re.IGNORECASE,
)
#: A page whose visible text is this much link text is a listing.
LISTING_LINK_SHARE = 0.75
#: A page with less visible text than this (characters) is other.
OTHER_MAX_CHARS = 200


_ITEMTYPES = etree.XPath("//@itemtype")
_JSON_LD = etree.XPath(
    "//script[translate(@type, 'JSONLD', 'jsonld') = 'application/ld+json']/text()", smart_strings=False
)


def schema_types(tree: etree._Element) -> set[str]:
    """The schema.org types the page declares (microdata and JSON-LD)."""
    types = {name for value in _ITEMTYPES(tree) for name in _ITEMTYPE.findall(value)}
    types.update(name for text in _JSON_LD(tree) for name in _LD_TYPE.findall(text))
    return types


def detect(tree: etree._Element, url: str | None) -> Genre:
    """The genre of a parsed page (see the module docstring)."""
    types = schema_types(tree)
    if types & FORUM_TYPES or ("Question" in types and "FAQPage" not in types):
        return "forum"
    if url and (THREAD_URL.search(url) or (THREADISH_URL.search(url) and threads.has_post_markup(tree))):
        return "forum"
    lines, link_chars = threads.page_text(tree)
    chars = sum(map(len, lines))
    if chars < OTHER_MAX_CHARS:
        return "other"
    if link_chars >= LISTING_LINK_SHARE * chars:
        return "listing"
    return "article"
