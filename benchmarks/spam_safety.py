"""Spam and safety signals, measured: generated spam caught, near-misses and real good pages kept.

    .venv/bin/python -m benchmarks.spam_safety [--config FILE] [--output DIR] [--seed 11]

Two whole ``crawlsieve run`` s (default config, or ``--config``):

1. **Good pages**: the shared corpus as it is (``../shared/corpus/multilingual/``, 143 pages, 39
   Chinese; ``../shared/corpus/warc/``, 341 pages), every page a good one: how many the spam rules
   remove (``spam:*``; target <= 1%) and how many they tag (domain ``gambling``, ``adult``, ``ads``).
2. **Spam and near-misses**, generated with ``crawlsieve.samples.spam``:

   * gambling SEO: each Chinese article and forum thread of the multilingual corpus and each English
     article of the corpus with a betting brand injected (title suffix, brand-led sentences, a brand
     link list, or a mix: ``SHAPES`` in turn). Brands are the *benchmark* half of the pools and the
     seed is ``--seed`` (default 11): the tests use the other half and seed 7, so nothing here was
     tuned on. Listed brands are in the filter's lists; unlisted ones are brand-shaped names it does
     not hold, some with a listed ending (``龙腾体育官网``), some with none (``摩登娱乐``);
   * keyword-stuffed ad pages (Chinese hospital and trade ads, English pill and money spam) and
     adult link farms;
   * near-misses written here (``NEAR_MISSES``): news about a sports lottery and a lottery draw, a
     government notice on gambling law, Macau casino revenue, US sports betting, a regulator's list of
     unlicensed sportsbooks, medical articles (one about false hospital ads, one about weight-loss
     drugs and online pharmacies). Every one must be kept.

Prints, per category, pages, removed by the spam rules, removed by another rule, kept with the
category's domain tag, kept without it, and the share caught (gambling SEO: removed as
``spam:gambling_seo``; ads and adult: removed by any rule or kept tagged). Prints, does not assert.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from benchmarks.extraction_quality import url_key
from benchmarks.multilingual_quality import CORPUS, kept_domains, page_outcomes, run, write_warc

SHARED = CORPUS.parent
DEFAULT_SEED = 11

#: (url, title, language, paragraphs): pages that speak of what spam sells and must be kept.
NEAR_MISSES = [
    (
        "https://news.example-portal.cn/society/2024-06/03/content_5501.htm",
        "福彩双色球第2024062期开奖 河南彩民揽获头奖",
        "zh",
        [
            "6月2日晚，中国福利彩票双色球游戏进行第2024062期开奖。当期红球号码为02、09、14、21、27、30，"
            "蓝球号码为11。本期双色球一等奖开出8注，单注奖金为680万元，其中河南彩民独中3注。",
            "当期全国销售额为3.6亿元。计奖后，双色球奖池金额为21.5亿元，下期彩民仍有机会以2元中得1000万元。",
            "据了解，中奖彩票出自郑州市一家福利彩票投注站。投注站业主说，中奖者是一位老彩民，多年来一直坚持"
            "小额投注，每期只买几注自选号码。",
            "省福彩中心工作人员提醒，彩票发行的目的是筹集社会公益资金，购彩应量力而行、理性投注。"
            "福利彩票公益金主要用于扶老、助残、救孤、济困等社会福利事业。",
        ],
    ),
    (
        "https://sports.example-daily.cn/2024-07/15/content_7702.htm",
        "欧洲杯期间竞彩销量明显增长 体彩中心提醒理性购彩",
        "zh",
        [
            "随着欧洲杯落下帷幕，体育彩票竞猜型游戏的销量也迎来一波高峰。记者从省体彩中心了解到，"
            "赛事期间全省竞彩销量同比增长近四成，足球单场竞猜最受彩民欢迎。",
            "业内人士分析，大型足球赛事吸引了大量球迷关注，部分球迷会选择购买竞彩为喜爱的球队助威。"
            "但也有彩民出现追号、加倍投注等非理性行为。",
            "省体彩中心负责人表示，竞彩是国家批准发行的合法彩票，只能在实体销售网点购买，"
            "任何网站、手机应用程序销售竞彩都属于违法行为。所谓的境外赌球网站赔率诱人，实际上风险极大，"
            "参与网络赌球不仅可能血本无归，还会触犯法律。",
            "该负责人提醒，购彩要量力而行，不要借钱购彩，更不要把彩票当成发财致富的手段。",
        ],
    ),
    (
        "https://www.example-sport.gov.cn/n4/n1234/c5678/content.html",
        "关于开展打击非法彩票和网络赌球专项行动的通知",
        "zh",
        [
            "各省、自治区、直辖市体育局、公安厅（局）：",
            "为维护彩票市场秩序，保护人民群众合法权益，决定自即日起至年底在全国范围内开展打击非法彩票"
            "和网络赌球违法犯罪专项行动。现将有关事项通知如下。",
            "一、重点打击利用互联网销售彩票、私设赌局、组织网络赌球等违法犯罪活动，依法查处为赌博网站"
            "提供广告推广、资金结算和技术服务的单位和个人。",
            "二、各地体育彩票机构要加强销售网点管理，严禁网点通过微信群、手机应用程序等方式接受投注，"
            "严禁向未成年人销售彩票。",
            "三、各级公安机关要会同有关部门，畅通举报渠道，对群众举报的赌博线索及时核查、依法处理。",
            "四、各地要加强宣传教育，通过典型案例揭露网络赌博的危害，引导群众远离赌博。",
            "特此通知。",
        ],
    ),
    (
        "https://finance.example-news.hk/macau/2024/07/01/casino-revenue.html",
        "澳门6月博彩毛收入186亿澳门元 按年增长一成",
        "zh",
        [
            "澳门博彩监察协调局公布，6月份博彩毛收入为186亿澳门元，按年增长约一成，上半年累计博彩毛收入"
            "超过1130亿澳门元。",
            "分析师指出，暑期前旅客人数稳步回升，中场业务表现强劲，贵宾厅业务占比则继续下降。"
            "金沙中国旗下的澳门威尼斯人和巴黎人等综合度假村入住率维持在九成以上。",
            "威尼斯人度假村方面表示，今年将继续增加非博彩元素，包括大型演唱会、会展和美食活动，"
            "以配合特区政府推动经济适度多元发展的方向。",
            "澳门特区政府早前表示，博彩业仍是本地经济的重要支柱，但政府将继续严格监管博彩企业，"
            "并加强打击非法赌博和跨境赌博活动。",
        ],
    ),
    (
        "https://health.example-news.cn/2024-04/08/content_3303.htm",
        "糖尿病患者如何控制血糖？这几个误区要避开",
        "zh",
        [
            "我国是糖尿病患者人数最多的国家之一，成人糖尿病患病率已超过百分之十。不少患者在控制血糖的"
            "过程中存在误区，影响了治疗效果。",
            "误区一：只吃药不控制饮食。内分泌科医生介绍，饮食控制是糖尿病治疗的基础，即使服用降糖药，"
            "也需要合理安排三餐，减少精制米面和含糖饮料的摄入。",
            "误区二：血糖正常就停药。糖尿病是一种慢性疾病，需要长期管理，患者应在医生指导下调整用药，"
            "不能自行停药。",
            "误区三：迷信保健品和偏方。一些所谓能够根治糖尿病的产品往往夸大宣传，甚至非法添加降糖药物成分，"
            "患者服用后可能出现低血糖等危险。",
            "医生建议，糖尿病患者要定期监测血糖和糖化血红蛋白，坚持适量运动，保持健康体重。",
        ],
    ),
    (
        "https://www.example-kepu.cn/article/2024/0301/88.html",
        "警惕虚假医疗广告：“无效退款”“包治百病”都是套路",
        "zh",
        [
            "近日，市场监管部门通报了一批虚假医疗广告典型案例。一些民营医院在网络上投放广告，宣称“无效退款”"
            "“一个疗程根治”，吸引患者前来就诊，实际治疗效果与宣传严重不符。",
            "专家介绍，按照广告法的规定，医疗广告不得含有表示功效、安全性的断言或者保证，也不得说明治愈率"
            "或者有效率。凡是宣称包治、根治的广告，基本可以判断为虚假广告。",
            "患者在选择医院时，应通过卫生健康部门的官方网站查询医疗机构的执业资质，不要轻信搜索结果中的"
            "广告和所谓的专家热线。",
            "如果发现虚假医疗广告，可以拨打12315热线投诉举报。",
        ],
    ),
    (
        "https://www.example-tribune.com/sports/2024/09/10/sports-betting-handle-record",
        "Sports betting handle hits a record as football season opens",
        "en",
        [
            "Americans bet a record amount on the opening weekend of the football season, according to "
            "figures released by state regulators on Tuesday.",
            "DraftKings and FanDuel, which together take more than two thirds of legal online sports bets "
            "in the United States, both reported their busiest Sunday ever. DraftKings said the number of "
            "active customers rose by a quarter compared with last year.",
            "Sports betting is now legal in 38 states and the District of Columbia, six years after the "
            "Supreme Court struck down a federal ban. States collected more than two billion dollars in "
            "taxes on wagers last year.",
            "Researchers and counselors warn that the rapid spread of mobile betting has been followed by a"
            " rise in calls to gambling helplines, especially from young men. Several states now require "
            "operators to offer deposit limits and to show the odds of a parlay before a bet is placed.",
            "The industry says that legal sportsbooks protect customers better than the offshore sites that "
            "took most bets before legalization.",
        ],
    ),
    (
        "https://www.example-gaming-commission.gov/news/warning-unlicensed-operators",
        "Warning: unlicensed online casinos and sportsbooks",
        "en",
        [
            "The Gaming Commission reminds residents that only operators licensed by the Commission may "
            "offer online casino games or sports betting in the state.",
            "Offshore websites and apps, including sites trading as 1xBet, 22Bet and Mostbet, hold no "
            "license here. Players who gamble on these sites have no protection if winnings are not paid, "
            "and their personal and banking data may be misused.",
            "Licensed operators must verify the age and identity of every customer, offer deposit and time "
            "limits, and contribute to programs for problem gambling.",
            "Under state law, it is a crime to operate an unlicensed gambling business or to advertise one. "
            "The Commission works with payment providers and app stores to block illegal operators.",
            "Anyone who is concerned about their gambling, or that of a family member, can call the free and "
            "confidential helpline at any time.",
        ],
    ),
    (
        "https://www.example-health.com/news/2024/weight-loss-drugs-online",
        "Weight-loss drugs bought online: what doctors want you to know",
        "en",
        [
            "Demand for a new class of weight-loss drugs has grown so fast that many people now look for "
            "them online, and regulators have warned about websites that sell them without a prescription.",
            "The medicines, first developed to treat type 2 diabetes, help people feel full and can lead to"
            " a loss of about fifteen percent of body weight over a year when combined with diet and "
            "exercise.",
            "Doctors say the drugs should only be used under medical supervision, because they can cause "
            "nausea, gallbladder problems and, rarely, inflammation of the pancreas.",
            "Products sold by unregistered online pharmacies have been found to contain the wrong dose or no "
            "active ingredient at all. Patients should buy only from pharmacies registered with the national "
            "regulator and should never inject a product whose origin they cannot check.",
            "Health officials say shortages should ease as manufacturers expand production this year.",
        ],
    ),
]


def load_texts(path: Path, keep) -> list[str]:
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [case["text"] for case in cases if keep(case)]


def build_spam(seed: int) -> list[tuple[str, bytes, str]]:
    """(url, HTML, category) of every generated page and near-miss."""
    from crawlsieve.samples.spam import SHAPES, ad_page, adult_link_farm, brands, inject_brand, page_html

    rng = random.Random(seed)
    zh = load_texts(
        CORPUS / "extraction" / "ground_truth.jsonl", lambda c: c["script"] == "zh" and len(c["text"]) >= 200
    )
    en = load_texts(SHARED / "extraction" / "ground_truth.jsonl", lambda c: len(c["text"]) >= 800)
    pages = []
    for language, texts in (("zh", zh), ("en", en)):
        pool = brands(language, "benchmark")
        for number, text in enumerate(texts):
            brand, shape = rng.choice(pool), SHAPES[number % len(SHAPES)]
            _, html = inject_brand(rng, text, language, brand, shape, pool)
            listed = "listed" if brand.listed else "unlisted"
            pages.append((f"https://www.p{number}.example-{language}.net/a/{number}.html", html,
                          f"gambling_seo/{language}/{listed}/{shape}"))  # fmt: skip
        for number in range(12):
            for kind in ("medical", "commercial"):
                _, html = ad_page(rng, language, kind)
                url = f"https://ad{number}.example-{language}.net/{kind}.html"
                pages.append((url, html, f"ads/{language}/{kind}"))
            _, html = adult_link_farm(rng, language)
            pages.append((f"https://farm{number}.example-{language}.net/", html, f"adult/{language}/farm"))
    for url, title, language, paragraphs in NEAR_MISSES:
        pages.append((url, page_html(title, paragraphs, language), f"near_miss/{language}/-"))
    return pages


def good_pages_section(config, work: Path) -> None:
    warcs = sorted((CORPUS / "warc").glob("*.warc.gz")) + sorted((SHARED / "warc").glob("*.warc.gz"))
    stats = run([str(p) for p in warcs], work / "good", config)
    outcome, domains = page_outcomes(work / "good"), kept_domains(work / "good")
    pages = list(outcome)
    by_spam = Counter(result for result in outcome.values() if result.startswith("spam:"))
    tagged = Counter(domain for domain in domains.values() if domain in ("gambling", "adult", "ads"))
    print(
        f"\n## Good pages of the shared corpus (whole run; accounting closes: {stats['accounting_closes']})"
    )
    print(f"pages {len(pages)}, kept {len(domains)}")
    removed = sum(by_spam.values())
    print(f"removed by the spam rules: {removed} ({removed / len(pages):.1%}) {dict(by_spam)}")
    print(f"kept with a spam and safety domain tag: {sum(tagged.values())} {dict(tagged)}")
    for url, domain in sorted(domains.items()):
        if domain in tagged:
            print(f"  tagged {domain}: {url[:100]}")
    for url, result in sorted(outcome.items()):
        if result.startswith("spam:"):
            print(f"  removed {result}: {url[:100]}")


def spam_section(config, work: Path, seed: int) -> None:
    pages = build_spam(seed)
    warc = write_warc(work / "spam.warc.gz", [(url, html) for url, html, _ in pages], seed)
    stats = run([str(warc)], work / "spam", config)
    outcome, domains = page_outcomes(work / "spam"), kept_domains(work / "spam")
    closes = stats["accounting_closes"]
    print(f"\n## Generated spam and near-misses, seed {seed} (whole run; accounting closes: {closes})")
    rows: dict[str, Counter] = defaultdict(Counter)
    shapes: dict[str, Counter] = defaultdict(Counter)
    misses = []
    for url, _, label in pages:
        category, language, kind = label.split("/", 2)
        result = outcome.get(url_key(url), "missing")
        tag = {"gambling_seo": "gambling"}.get(category, category)
        if result == "kept":
            cell = "kept, tagged" if domains.get(url_key(url)) == tag else "kept, untagged"
        else:
            cell = "removed, spam" if result.startswith("spam:") else "removed, other"
        group = f"{category} {language}" + (f" {kind.split('/')[0]}" if category == "gambling_seo" else "")
        rows[group][cell] += 1
        rows[group]["seo"] += result == "spam:gambling_seo"
        if category == "gambling_seo":
            shapes[kind.split("/")[1]][result == "spam:gambling_seo"] += 1
        if category == "gambling_seo" and result != "spam:gambling_seo":
            misses.append((label, result, url))
    columns = ("removed, spam", "removed, other", "kept, tagged", "kept, untagged")
    print(f"{'category':<28} {'pages':>5} " + " ".join(f"{c:>14}" for c in columns) + f" {'caught':>7}")
    totals: Counter = Counter()
    for group in sorted(rows):
        counts = rows[group]
        n = sum(counts[c] for c in columns)
        if group.startswith("gambling_seo"):
            caught = counts["seo"]
            totals["seo pages"] += n
            totals["seo caught"] += caught
        elif group.startswith("near_miss"):
            caught = n - counts["kept, tagged"] - counts["kept, untagged"]  # wrongly removed
        else:
            caught = n - counts["kept, untagged"]
        print(f"{group:<28} {n:>5} " + " ".join(f"{counts[c]:>14}" for c in columns) + f" {caught / n:>7.0%}")
    seo, n = totals["seo caught"], totals["seo pages"]
    print(f"gambling SEO removed as spam:gambling_seo: {seo} of {n} ({seo / n:.1%})")
    print("caught: gambling SEO removed as such; ads, adult removed or tagged; near-misses wrongly removed")
    print("gambling SEO removed, by shape: " + ", ".join(
        f"{shape} {c[True]}/{c[True] + c[False]}" for shape, c in sorted(shapes.items())
    ))  # fmt: skip
    print("near-misses (kept, domain):")
    for url, title, _, _ in NEAR_MISSES:
        print(
            f"  {outcome.get(url_key(url), 'missing'):<8} {domains.get(url_key(url), '-'):<11} {title[:60]}"
        )
    print("gambling SEO pages not removed as such:")
    for label, result, url in misses:
        print(f"  {label:<45} {result:<36} {url}")


def main(argv: list[str] | None = None) -> int:
    import ray

    from crawlsieve.pipelines.config import Config, load_config

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, help="crawlsieve config (default: the defaults)")
    parser.add_argument("--output", type=Path, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the generated pages")
    args = parser.parse_args(argv)
    if not (CORPUS / "warc").is_dir() or not (SHARED / "warc").is_dir():
        print(f"no shared corpus at {SHARED}", file=sys.stderr)
        return 2
    config = load_config(args.config) if args.config else Config()
    work = args.output or Path(tempfile.mkdtemp(prefix="spam-safety-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"runs in {work}")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        spam_section(config, work, args.seed)
        good_pages_section(config, work)
    finally:
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
