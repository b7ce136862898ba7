"""Forum threads and Q&A pages: known as conversations, extracted whole, judged by their own thresholds.

The real pages are the forum and article pages of ``../shared/corpus/multilingual`` (each with
its human-marked main text and genre); the junk is generated (``samples.forum``).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from crawlsieve.core.errors import ConfigError
from crawlsieve.filters.config import FiltersConfig
from crawlsieve.filters.refilter import check_refilter, redecide
from crawlsieve.filters.stages import HeuristicFilterStage
from crawlsieve.ingest import genre, threads
from crawlsieve.ingest.config import ExtractConfig
from crawlsieve.ingest.decode import decode_html
from crawlsieve.ingest.extractors import PageExtractor, make_extractor
from crawlsieve.ingest.warc import read_warc
from crawlsieve.pipelines.config import Config, config_from_dict
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.quality.mix import compute_plan
from crawlsieve.samples.forum import JUNK_KINDS, forum_pages
from crawlsieve.samples.warcs import Record, write_warc

WORD = re.compile(r"\w+")
#: Common English words, for generated text of distinct sentences.
ENGLISH_WORDS = """the of and to in is you that it was for on are as with they at be this have from one had
by but not what all were we when your can there use each which she do how their if will up about out many
then them these some her would make like him into time has look two more write see number way could people"""


@pytest.fixture(scope="module")
def pages(shared_corpus) -> dict[str, tuple[str, dict]]:
    """url -> (decoded HTML, ground-truth case) of every page of the multilingual corpus."""
    corpus = shared_corpus / "multilingual"
    if not (corpus / "warc").is_dir():
        pytest.skip(f"no multilingual corpus at {corpus}")
    lines = (corpus / "extraction" / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    truth = {case["url"].replace(" ", "%20"): case for case in map(json.loads, filter(str.strip, lines))}
    found = {}
    for path in sorted((corpus / "warc").glob("*.warc.gz")):
        for batch in read_warc(str(path), path.name, Config().read):
            for row in batch.select(["url", "html", "http_charset"]).to_pylist():
                if row["html"] is not None and row["url"] in truth:
                    found[row["url"]] = (decode_html(row["html"], row["http_charset"])[0], truth[row["url"]])
    return found


def page(pages: dict, fragment: str) -> tuple[str, str, dict]:
    [(url, (html, case))] = [(url, entry) for url, entry in pages.items() if fragment in url]
    return url, html, case


def f1(predicted: str | None, truth: str, script: str) -> float:
    """Bag-of-units F1: lowercased words, or characters for Chinese and Japanese."""

    def units(text: str) -> Counter:
        if script in ("zh", "ja"):
            return Counter(ch for ch in text.lower() if not ch.isspace())
        return Counter(WORD.findall(text.lower()))

    got, want = units(predicted or ""), units(truth)
    overlap = sum((got & want).values())
    return 2 * overlap / (sum(got.values()) + sum(want.values())) if overlap else 0.0


def test_real_forum_and_qa_pages_are_known_as_forums_and_no_article_is(pages):
    detected = {url: genre.detect(threads.parse(html), url) for url, (html, _) in pages.items()}
    articles = [url for url, (_, case) in pages.items() if case["genre"] == "article"]
    forums = [url for url, (_, case) in pages.items() if case["genre"] == "forum"]
    assert [url for url in articles if detected[url] == "forum"] == []
    # By schema.org (QAPage, DiscussionForumPosting), by URL alone, and by URL and post markup;
    # English and Chinese.
    for fragment in (
        "forum.uipath.com/t/",
        "scienceforums.net/topic/",
        "codeproject.com/Questions/",
        "reddit.com/r/BoomersBeingFools/comments/1cq6hci",
        "css-tricks.com/forums/topic/",
        "tieba.baidu.com/p/",
        "zhidao.baidu.com/question/2127549042326254267",
        "zhihu.com/question/586816837",
        "ruby-china.org/topics/",
        "discuss.flarum.org.cn/d/",
    ):
        assert detected[page(pages, fragment)[0]] == "forum", fragment
    assert sum(detected[url] == "forum" for url in forums) >= 46  # of 55 (2026-12: 46)


def test_a_thread_is_extracted_whole_with_its_short_replies(pages):
    url, html, _ = page(pages, "forum.uipath.com/t/")
    text, kind, extractor = PageExtractor(ExtractConfig())(html, url)
    assert (kind, extractor) == ("forum", "posts")
    replies = ["Hi, I would be interested.", "I would be interested too.", "very interested in this topic."]
    assert all(reply in text for reply in replies)
    article = make_extractor(ExtractConfig())(html)
    assert not all(reply in article for reply in replies)  # what the article settings lose
    assert (
        text.startswith("UiPath Load Testing\n") and text.count("\n\n") >= 5
    )  # title, then one post a block


def test_a_chinese_thread_keeps_its_opening_post_and_its_replies(pages):
    url, html, _ = page(pages, "ruby-china.org/topics/")
    text, kind, extractor = PageExtractor(ExtractConfig())(html, url)
    assert (kind, extractor) == ("forum", "posts")
    assert "Ruby 的许多特性强烈地偏向对脚本语言的良好支持" in text  # the opening, not marked up as a post
    assert "最近纯英文的机器人挺多的，他们的回答中一般带有链接" in text  # a reply
    url, html, _ = page(pages, "tieba.baidu.com/p/")
    text, _, _ = PageExtractor(ExtractConfig())(html, url)
    assert "我就很佛系" in text  # a one-line reply
    assert "其实就是生活中消费不和别人攀比" in text  # a reply to a reply (Tieba's lzl)


def test_thread_extraction_beats_the_article_settings_on_the_real_forum_pages(pages):
    forums = [(url, html, case) for url, (html, case) in pages.items() if case["genre"] == "forum"]
    page_extractor, article = PageExtractor(ExtractConfig()), make_extractor(ExtractConfig())
    threads_f1 = [
        f1(page_extractor(html, url)[0], case["text"], case["script"]) for url, html, case in forums
    ]
    article_f1 = [f1(article(html), case["text"], case["script"]) for url, html, case in forums]
    # 2026-12: 0.774 against 0.639 (benchmarks/multilingual_quality.py --sections genre)
    assert sum(threads_f1) / len(forums) >= 0.76
    assert sum(threads_f1) / len(forums) >= sum(article_f1) / len(forums) + 0.1


def test_an_article_is_extracted_as_before(pages):
    config = ExtractConfig()
    for url, (html, case) in list(pages.items())[:40]:
        if case["genre"] == "article":
            text, kind, extractor = PageExtractor(config)(html, url)
            assert kind != "forum" and extractor == "trafilatura"
            assert text == make_extractor(config)(html)


def judged(texts: list[str], languages: list[str], genres: list[str], config: FiltersConfig) -> list:
    batch = pa.table({"text": texts, "language": languages, "genre": genres})
    return HeuristicFilterStage(config)(batch).column("_removed").to_pylist()


def test_forum_thresholds_keep_real_threads_that_article_rules_remove(pages):
    fragments = ("discuss.flarum.org.cn/d/", "boards.weddingbee.com/topic/", "scienceforums.net/topic/")
    cases = [page(pages, fragment) for fragment in fragments]
    texts = [PageExtractor(ExtractConfig())(html, url)[0] for url, html, _ in cases]
    languages = ["zh", "en", "en"]
    as_forum = judged(texts, languages, ["forum"] * 3, FiltersConfig())
    as_article = judged(texts, languages, ["article"] * 3, FiltersConfig())
    assert as_forum == [None, None, None]
    assert as_article == [
        "fineweb_quality:line_punct_ratio",  # replies end without punctuation
        "fineweb_quality:short_line_ratio",  # a thread is short lines
        "fineweb_quality:char_dup_ratio",  # lines repeated inside the posts
    ]


def test_generated_forum_junk_goes_and_real_conversations_stay(ray_local, tmp_path):
    generated = forum_pages(seed=5, per_kind=2)
    records = [Record(url, html) for url, _, html in generated]
    warc = tmp_path / "forum.warc.gz"
    write_warc(warc, records, datetime(2024, 3, 1, tzinfo=UTC))
    out = tmp_path / "out"
    stats = run_pipeline([str(warc)], out, Config(), report=False, log=lambda m: None)
    total = stats["documents_kept"] + sum(stats["removed"].values()) + sum(stats["failed"].values())
    assert stats["records_read"] == total and stats["accounting_closes"] is True
    kept = ds.dataset(out / "data", format="parquet", partitioning="hive").to_table()
    kinds = {url: kind for url, kind, _ in generated}
    kept_kinds = Counter(kinds[url] for url in kept.column("url").to_pylist())
    assert not set(kept_kinds) & set(JUNK_KINDS), kept_kinds
    assert kept_kinds["conversation"] >= 3  # of 4
    assert set(kept.column("genre").to_pylist()) == {"forum"}
    assert set(kept.column("extractor").to_pylist()) == {"posts"}
    # The funnel per genre: every page of the file is a forum, kept or removed with its reason.
    forum = stats["breakdowns"]["genre"]["forum"]
    assert forum["documents_kept"] == stats["documents_kept"] == kept.num_rows
    assert (
        forum["pages_read"] == len(generated)
        and sum(forum["removed"].values()) == len(generated) - kept.num_rows
    )
    mixture = json.loads((out / "mixture.json").read_text(encoding="utf-8"))
    assert {g["genre"] for g in mixture["groups"]} == {"forum"}
    assert mixture["totals"]["genres"] == ["forum"]


def test_genre_thresholds_take_only_the_thresholds_of_text_filters():
    accepted = config_from_dict({"filters": {"genre_thresholds": {"listing": {"c4.min_num_sentences": 3}}}})
    assert accepted.filters.c4.thresholds_for("en", "listing").min_num_sentences == 3
    assert accepted.filters.c4.thresholds_for("en", "article").min_num_sentences == 5
    assert accepted.filters.c4.thresholds_for("en", "forum").min_num_sentences == 5  # the table is replaced
    for table in (
        {"forum": {"fineweb_quality.short_line_length": 10}},  # shapes the signal
        {"forum": {"c4.mode": "tag"}},
        {"forum": {"language.min_score": 0.1}},
        {"blog": {"c4.min_num_sentences": 1}},
        {"forum": {"c4.min_num_sentences": True}},
    ):
        with pytest.raises(ConfigError, match="genre_thresholds"):
            config_from_dict({"filters": {"genre_thresholds": table}})


def test_genre_thresholds_lie_over_the_language_table_and_under_the_configs_languages_entry():
    config = config_from_dict(
        {"filters": {"fineweb_quality": {"languages": {"zh": {"char_duplicates_ratio": 0.05}}}}}
    ).filters
    zh_forum = config.fineweb_quality.thresholds_for("zh", "forum")
    assert zh_forum.line_punct_thr == 0.0  # the genre's, over FineWeb-2's 0.106
    assert zh_forum.char_duplicates_ratio == 0.05  # the user's for zh, over the genre's 0.2
    assert zh_forum.new_line_ratio == config.fineweb_quality.thresholds_for("zh", "article").new_line_ratio
    assert config.fineweb_quality.thresholds_for("zh", "article").line_punct_thr == 0.106  # FineWeb-2's
    assert config.fineweb_quality.thresholds_for("en", "forum").char_duplicates_ratio == 0.2
    assert config.c4.thresholds_for("zh", "forum").mode == "off"  # the table's: no C4 outside English
    assert config.c4.thresholds_for("en", "forum").min_num_sentences == 2
    # The documents each settings judged, named in the order the layers apply.
    stage = HeuristicFilterStage(config)
    stage(
        pa.table(
            {"text": ["你好。"] * 3, "language": ["zh", "zh", "en"], "genre": ["forum", "article", "forum"]}
        )
    )
    assert stage.counters == Counter(
        {
            "language_settings:zh=fineweb2:cmn_Hani + genre:forum + config": 1,
            "language_settings:zh=fineweb2:cmn_Hani + config": 1,
            "language_settings:en=genre:forum": 1,
        }
    )


def test_c4_counts_sentences_as_far_as_a_genre_or_language_threshold_above_the_sections_needs():
    words = re.findall(r"\w+", ENGLISH_WORDS)
    pick = random.Random(1).choice
    text = "\n".join(
        " ".join(pick(words) for _ in range(12)).capitalize()
        + ". "
        + " ".join(pick(words) for _ in range(10))
        + "."
        for _ in range(10)
    )  # 20 sentences of distinct words
    batch = pa.table({"text": [text], "language": ["en"], "genre": ["forum"]})
    forum_8 = config_from_dict(
        {"filters": {"genre_thresholds": {"forum": {"c4.min_num_sentences": 8}}}}
    ).filters
    english_8 = config_from_dict({"filters": {"c4": {"languages": {"en": {"min_num_sentences": 8}}}}}).filters
    for config in (forum_8, english_8):
        judged = HeuristicFilterStage(config)(batch)
        assert judged.column("sig_c4_sentences").to_pylist() == [8.0]  # 20 sentences, counted to 8
        assert judged.column("_removed").to_pylist() == [None]
    # refilter knows how far a run counted: to 8 in a run with forum's 8, to the section's 5 by default
    section_7 = config_from_dict({"filters": {"c4": {"min_num_sentences": 7}}}).filters
    check_refilter(forum_8, section_7)
    with pytest.raises(ConfigError, match=r"^filters\.c4\.min_num_sentences is above the run's"):
        check_refilter(FiltersConfig(), forum_8)


def test_refilter_decides_each_genre_by_its_own_thresholds(pages):
    url, html, _ = page(pages, "discuss.flarum.org.cn/d/")
    text = PageExtractor(ExtractConfig())(html, url)[0]
    config = FiltersConfig(compute_all_signals=True)
    rows = HeuristicFilterStage(config)(
        pa.table({"text": [text] * 2, "language": ["zh"] * 2, "genre": ["forum", "article"]})
    )
    assert rows.column("_removed").to_pylist() == [None, "fineweb_quality:line_punct_ratio"]
    reasons, _ = redecide(rows.drop_columns(["_removed"]), config, [None, None], [True, True])
    assert reasons == [None, "fineweb_quality:line_punct_ratio"]


def test_a_mixture_target_can_weigh_genres():
    groups = [
        {"domain": "general", "language": "en", "genre": "article", "documents": 8, "tokens": 800},
        {"domain": "general", "language": "en", "genre": "forum", "documents": 2, "tokens": 200},
    ]
    plan = compute_plan(groups, {"genre": {"forum": 0.5}}, tokens=1000, max_epochs=4)
    weights = {g["genre"]: g["target_weight"] for g in plan["groups"]}
    assert weights == {"article": 0.5, "forum": 0.5}
    assert {g["genre"]: g["epochs"] for g in plan["groups"]} == {"article": 0.625, "forum": 2.5}


def test_a_page_without_markup_or_url_of_a_thread_is_an_article():
    html = "<html><body><h1>News</h1>" + "<p>The council met on Monday to discuss the budget.</p>" * 20
    tree = threads.parse(html + "</body></html>")
    assert genre.detect(tree, "https://news.example.com/topics/budget") == "article"
    assert threads.find_posts(tree) == []


def test_listing_and_other_pages():
    links = "".join(f'<li><a href="/p/{n}">Story number {n} of the week</a></li>' for n in range(40))
    assert genre.detect(threads.parse(f"<html><body><ul>{links}</ul></body></html>"), None) == "listing"
    assert genre.detect(threads.parse("<html><body><img src=x.png><p>Hi</p></body></html>"), None) == "other"


def test_deeply_nested_posts_do_not_recurse(tmp_path: Path):
    html = '<div class="post">' * 5000 + "text " * 10 + "</div>" * 5000
    tree = threads.parse(f"<html><body>{html}</body></html>")
    assert genre.detect(tree, "https://bbs.example.cn/viewtopic.php?t=1") == "forum"
    threads.find_posts(tree)  # no RecursionError
