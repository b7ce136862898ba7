"""Generated forum threads: real-looking discussions, and the forum junk a cleaner must remove.

A thread is a phpBB-style page (``viewtopic.php``, one ``div.post`` per post with its author
pane, a "Quote" and "Report" bar and, for some users, a signature), written from the small
grammars of ``samples.warcs`` with a seeded RNG. The junk kinds (``JUNK_KINDS``):

* ``empty_thread``: a title and an opening post of a few words, no reply;
* ``spam_replies``: a short question under replies that each advertise a site;
* ``link_dump``: posts that are lists of URLs;
* ``signature_only``: posts that are nothing but their author's signature.

Each kind is written in English and in Chinese. Real conversations (``conversation``) are the
control: a question and replies of a few sentences each, some only one line ("Thanks, that
worked.") as real replies are.
"""

from __future__ import annotations

import random
from html import escape

from crawlsieve.samples.warcs import SEPARATOR, sentence

JUNK_KINDS = ("empty_thread", "spam_replies", "link_dump", "signature_only")
LANGUAGES = ("en", "zh")

USERS = (
    "mike_r",
    "Sandra K.",
    "oldtimer42",
    "li_wei",
    "张伟",
    "王芳",
    "dmitri",
    "quietfox",
    "hobbyist",
    "陈静",
)
SHORT_REPLIES = {
    "en": ["Thanks, that worked.", "Same problem here.", "+1", "Any update on this?", "Solved, thank you!"],
    "zh": ["谢谢，解决了。", "我也遇到同样的问题。", "顶", "有进展吗？", "已解决，感谢！"],
}
OPENERS = {
    "en": ["Anyone?", "Help please", "Title says it all", "bump"],
    "zh": ["有人吗？", "求助", "如题", "顶一下"],
}
SPAM = {
    "en": [
        "Great post! Buy cheap replica watches at {url} best prices",
        "Nice thread. Check out {url} for cheap pills online no prescription",
        "Thanks for sharing! Visit {url} casino bonus free spins",
    ],
    "zh": [
        "好帖！低价名表请访问 {url} 优惠多多",
        "感谢分享，推荐 {url} 网上药店 无需处方",
        "楼主好人，{url} 娱乐城注册送彩金",
    ],
}
SIGNATURES = {
    "en": [
        "--\n{user} | My rig: i7-9700K, 32GB, RTX 2070\nSent from my iPhone using Tapatalk",
        "--\n{user}\nwww.{host}.example.com | Follow me on Twitter @{host}",
    ],
    "zh": [
        "--\n{user} | 我的配置：i7 32G 内存\n来自 iPhone 客户端",
        "--\n{user}\n个人博客 www.{host}.example.cn 欢迎来访",
    ],
}
TITLES = {
    "en": ["Question about the new update", "Need advice", "Problem with my setup", "Weekend plans"],
    "zh": ["关于新版本的问题", "求建议", "我的设置出问题了", "周末有什么安排"],
}


def _url(rng: random.Random) -> str:
    host = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(6, 10)))
    path = "-".join(rng.choice(["cheap", "buy", "best", "deal", "free", "online", "shop"]) for _ in range(3))
    return f"http://www.{host}.example.com/{path}/{rng.randint(100, 99999)}.html"


def _paragraph(rng: random.Random, language: str, sentences: int) -> str:
    return SEPARATOR[language].join(sentence(rng, language) for _ in range(sentences))


def _posts(rng: random.Random, language: str, kind: str) -> list[tuple[str, str]]:
    """(author, text) of each post of a thread of ``kind``."""
    users = list(USERS)
    rng.shuffle(users)
    if kind == "conversation":
        posts = [(users[0], "\n".join(_paragraph(rng, language, 2) for _ in range(2)))]
        for n in range(rng.randint(3, 6)):
            text = rng.choice(SHORT_REPLIES[language]) if n % 3 == 2 else _paragraph(rng, language, 2)
            posts.append((users[1 + n % 5], text))
        return posts
    if kind == "empty_thread":
        return [(users[0], rng.choice(OPENERS[language]))]
    if kind == "spam_replies":
        spam = [(users[1 + n % 5], rng.choice(SPAM[language]).format(url=_url(rng))) for n in range(8)]
        return [(users[0], rng.choice(OPENERS[language])), *spam]
    if kind == "link_dump":
        return [(users[n], "\n".join(_url(rng) for _ in range(rng.randint(15, 30)))) for n in range(3)]
    if kind == "signature_only":
        authors = users[:3]
        signature = {
            user: rng.choice(SIGNATURES[language]).format(user=user, host=f"site{rng.randint(1, 99)}")
            for user in authors
        }
        return [(authors[n % 3], signature[authors[n % 3]]) for n in range(rng.randint(6, 10))]
    raise ValueError(f"unknown thread kind {kind!r}")


def thread_html(rng: random.Random, language: str, kind: str) -> tuple[str, str]:
    """(title, HTML) of a generated thread of ``kind`` (``JUNK_KINDS`` or ``conversation``)."""
    title = rng.choice(TITLES[language])
    quote, report = ("Quote", "Report") if language == "en" else ("引用", "举报")
    posts = []
    for n, (author, text) in enumerate(_posts(rng, language, kind)):
        lines = "<br>".join(escape(line) for line in text.split("\n"))
        posts.append(
            f'<div id="p{1000 + n}" class="post bg{1 + n % 2}"><div class="inner">'
            f'<dl class="postprofile"><dt><a href="/memberlist.php?u={n}">{escape(author)}</a></dt>'
            f"<dd>Posts: {rng.randint(1, 900)}</dd></dl>"
            f'<div class="postbody"><h3>{"Re: " if n else ""}{escape(title)}</h3>'
            f'<p class="author">{escape(author)} » 2024-03-{1 + n:02d} 10:{n:02d}</p>'
            f'<div class="content">{lines}</div>'
            f'<ul class="post-buttons"><li><a href="#">{quote}</a></li><li><a href="#">{report}</a></li></ul>'
            "</div></div></div>"
        )
    html = (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{escape(title)} - Example Board</title></head><body>"
        '<div id="page-header"><a href="/">Board index</a> ‹ <a href="/viewforum.php?f=2">General</a></div>'
        f'<h2 class="topic-title">{escape(title)}</h2>{"".join(posts)}'
        '<div id="page-footer">Powered by phpBB</div></body></html>'
    )
    return title, html


def forum_pages(seed: int = 0, per_kind: int = 5) -> list[tuple[str, str, bytes]]:
    """(url, kind, HTML bytes) of ``per_kind`` threads of every junk kind and of conversations,
    in each of ``LANGUAGES``."""
    rng = random.Random(seed)
    pages = []
    for kind in (*JUNK_KINDS, "conversation"):
        for language in LANGUAGES:
            for n in range(per_kind):
                _, html = thread_html(rng, language, kind)
                url = (
                    f"https://board{n}.example.org/viewtopic.php?f=2&t={rng.randint(1000, 99999)}&kind={kind}"
                )
                pages.append((url, kind, html.encode("utf-8")))
    return pages
