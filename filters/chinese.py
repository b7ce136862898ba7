"""Ours: what a Chinese page is made of. Its share of Han characters, and the boilerplate lines of
Chinese sites (版权所有, 分享到, 上一篇/下一篇, 扫一扫, 展开全文, 相关阅读, ...), cut the way C4 cuts
cookie and policy lines: in ``drop`` mode the published text loses them.

It judges documents of ``filters.cjk.CHINESE_LANGUAGES`` only (its signals are empty for the
others), on the Simplified conversion of a Traditional page (``DocStats.text``); lines are cut
from the page as written (``DocStats.published_lines``).
"""

from __future__ import annotations

import regex

from crawlsieve.filters.base import Rule, Signals, TextFilter, ratio
from crawlsieve.filters.cjk import CHINESE_LANGUAGES, han_share
from crawlsieve.filters.config import ChineseConfig
from crawlsieve.filters.text_stats import DocStats

#: Phrases of site templates, not of articles (Simplified; a Traditional page is matched on its
#: conversion). Checked against the 1,000 real template lines of
#: ../shared/corpus/multilingual/zh_repeated_lines.jsonl and the human-marked text of the corpus's 39
#: Chinese pages, of which it cuts no line (``tests/test_chinese.py``). Left out because articles
#: use them: 举报 (an article on how to report), 责任编辑 (a byline the annotators kept), 登录后, 扫码
#: and 点击进入 (a forum's instructions).
BOILERPLATE_ANYWHERE = (
    "版权所有", "版权声明", "转载请注明", "本文转载自", "观点不代表", "仅代表作者", "免责声明",
    "未经授权", "禁止转载", "扫一扫", "二维码", "展开全文", "阅读全文", "阅读原文", "相关阅读",
    "相关推荐", "相关文章", "热门推荐", "猜你喜欢", "点击查看", "返回顶部", "返回首页", "关注我们",
    "关注公众号", "ICP备", "公网安备", "打开APP", "下载APP", "已被删除", "暂无数据", "收藏本站",
    "设为首页", "网站地图", "联系我们", "评论仅代表",
)  # fmt: skip
#: Phrases that mark a template line only at its start ("就分享到这里了" ends a post).
BOILERPLATE_AT_START = ("分享到", "分享至", "上一篇", "下一篇", "上一页", "下一页")
_BOILERPLATE = regex.compile(
    "|".join(
        [*map(regex.escape, BOILERPLATE_ANYWHERE), *(f"^{regex.escape(p)}" for p in BOILERPLATE_AT_START)]
    )
)


class Chinese(TextFilter):
    config: ChineseConfig
    name = "chinese"
    signal_fields = ("max_boilerplate_line_chars",)
    rules = (
        Rule("han_ratio", ("han_ratio",), "below", "min_han_ratio"),
        Rule("boilerplate_lines", ("boilerplate_lines_frac",), "above", "max_boilerplate_lines_frac"),
    )

    @property
    def cleans(self) -> bool:
        """Whether the published text loses the boilerplate lines (drop mode)."""
        return self.removes

    def signal_names(self) -> list[str]:
        return ["han_ratio", "boilerplate_lines", "boilerplate_lines_frac"]

    def signals(self, stats: DocStats) -> Signals:
        if stats.rules.language not in CHINESE_LANGUAGES:
            return dict.fromkeys(self.signal_names(), None)
        cut = len(self.boilerplate_lines(stats))
        nonblank = sum(1 for line in stats.lines if line.strip())
        return {
            "han_ratio": han_share(stats.text),
            "boilerplate_lines": cut,
            "boilerplate_lines_frac": ratio(cut, nonblank),
        }

    def boilerplate_lines(self, stats: DocStats) -> set[int]:
        """Indices (in ``stats.lines``) of the page's boilerplate lines: short lines holding a
        template phrase. A long line is a paragraph that mentions one, and stays."""
        limit = self.config.max_boilerplate_line_chars

        def find() -> set[int]:
            stripped = (line.strip() for line in stats.lines)
            return {i for i, line in enumerate(stripped) if len(line) <= limit and _BOILERPLATE.search(line)}

        return stats.shared("chinese_boilerplate", find)
