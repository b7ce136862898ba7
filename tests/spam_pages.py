"""Pages for the spam tests: near-misses written for the tests (the benchmark has its own), and
generated spam built on the shared corpus's real articles with the tests' half of the brands
(``crawlsieve.samples.spam``, split ``test``, seed ``SEED``; the benchmark uses the other half)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

from crawlsieve.samples.spam import SHAPES, ad_page, adult_link_farm, brands, inject_brand, page_html
from crawlsieve.samples.warcs import Record, write_warc

SEED = 7

#: (url, title, language, text): real-looking pages that speak of what spam sells, and must stay.
#: Paragraphs are separated by blank lines; a paragraph's lines join without a space in Chinese.
NEAR_MISSES = [
    (
        "https://sports.example-news.cn/lottery/2024-05/19/content_1001.htm",
        "体彩大乐透第24056期开奖：一等奖开出6注 浙江彩民独揽两注_体育频道",
        "zh",
        """\
5月18日晚，中国体育彩票超级大乐透第24056期开奖。当期前区开奖号码为03、11、17、25、3
2，后区开奖号码为05、09。本期全国共开出一等奖6注，单注奖金为1000万元，其中浙江彩民独揽两注
。

据统计，本期大乐透全国销量为3.12亿元，开奖结束后奖池滚存金额达到9.86亿元。二等奖开出132注
，单注奖金约为12万元。

中国体育彩票管理中心提醒广大购彩者，彩票是一种公益事业，请理性购彩，量力而行，未成年人不得购买彩票。
中奖彩民应在开奖之日起60个自然日内到指定地点兑奖，逾期未兑奖视为弃奖。

近年来，体育彩票公益金持续支持全民健身设施建设、青少年体育活动和奥运争光计划。仅去年一年，体彩公益金
就筹集超过五百亿元，惠及城乡社区的健身步道、体育公园和学校操场。

业内人士表示，随着体育赛事活动逐步恢复，竞彩和足彩的销量也有所回升，但各地销售网点仍须严格执行实名制
和防沉迷要求，严禁向未成年人销售彩票，严禁通过互联网违规销售彩票。
""",
    ),
    (
        "https://www.example-city.gov.cn/zwgk/tzgg/202405/t20240510_88.html",
        "关于依法严厉打击跨境赌博违法犯罪活动的通告_某市公安局",
        "zh",
        """\
为维护社会治安秩序，保护人民群众财产安全，依据《中华人民共和国刑法》《中华人民共和国治安管理处罚法》
等法律规定，现就依法严厉打击跨境赌博违法犯罪活动有关事项通告如下。

一、严禁组织、招揽中国公民出境赌博，严禁为境外赌场、网络赌博平台提供推广、支付结算、技术支持等服务。

二、严禁开设赌场、聚众赌博，严禁利用网络、手机应用程序等组织赌博活动。凡在网站、社交平台发布博彩广告
、传播赌博网址的，依法予以查处。

三、境外赌博平台常以“体育投注”“真人娱乐”等名义诱骗群众参赌，部分平台冒用知名体育赛事和明星名义，
群众切勿轻信，切勿下载来路不明的应用程序。

四、对主动投案、如实供述犯罪事实的，依法从轻或者减轻处罚；对拒不投案的，依法从严惩处。

五、欢迎广大群众积极举报赌博违法犯罪线索，举报电话：110。对举报有功人员，公安机关将按照规定给予奖
励，并严格为举报人保密。本通告自发布之日起施行。特此通告。
""",
    ),
    (
        "https://health.example-daily.cn/2024-05/20/content_2002.htm",
        "高血压患者如何科学用药？专家：规律服药比频繁换药更重要",
        "zh",
        """\
高血压是最常见的慢性病之一，也是心脑血管疾病最重要的危险因素。我国成人高血压患病率约为百分之二十七，
但知晓率、治疗率和控制率仍然偏低。

北京一家三甲医院心内科主任医师介绍，目前高血压还无法根治，但通过长期规范治疗，绝大多数患者的血压可以
控制在理想范围内，从而显著降低脑卒中和心肌梗死的风险。

不少患者觉得头不晕了就自行停药，或者听说某种药效果好就频繁更换，这些做法都可能导致血压大幅波动。医生
建议，患者应在医生指导下选择药物，按时服用，并定期在家测量血压、做好记录。

除了药物治疗，生活方式干预同样重要。减少食盐摄入、控制体重、戒烟限酒、坚持适量运动和保持心情舒畅，都
有助于降低血压。

专家提醒，出现剧烈头痛、胸痛或一侧肢体无力等症状时，应立即到医院就诊，不要相信所谓包治百病的偏方。
""",
    ),
    (
        "https://www.example-sportsdesk.com/news/2024/05/bet365-fined-by-regulator",
        "Bet365 fined £582,000 over failures to protect vulnerable gamblers - Sports Desk",
        "en",
        """\
Bet365 has been fined £582,000 by the Gambling Commission after the regulator found failures in
how the bookmaker protected customers at risk of gambling harm and checked the source of their
funds.

Bet365 said it accepted the findings and had already changed its processes. The company, one of
the largest online betting operators in Britain, took wagers worth billions of pounds last year.

The regulator said one customer was allowed to deposit and lose large sums over a few weeks
without any check on whether the gambling was affordable. Another gambler opened several
accounts in the names of relatives, and staff did not notice for months.

Sports betting has grown quickly since smartphones made it possible to bet during matches.
Campaigners say in-play betting and free bets encourage harmful gambling, while the industry
argues that most punters bet small amounts for fun and that licensed bookmakers pay tax and fund
safer gambling work.

The fine follows penalties against other operators this year. The Gambling Commission said all
licensed bookmakers must monitor their customers' betting and step in when play looks harmful.

Bet365 will also pay for an independent audit of its safer gambling policies, the regulator
said.
""",
    ),
    (
        "https://www.example-health.org/articles/statins-and-muscle-pain",
        "Do statins cause muscle pain? What a large new trial found",
        "en",
        """\
Many people who take statins to lower their cholesterol stop the tablets because they believe
the drugs cause aches and pains in their muscles. A new analysis of large randomised trials
suggests that in most cases the statin is not to blame.

Researchers pooled data from more than 150,000 patients who had been given either a statin or a
dummy pill. Reports of muscle pain were almost as common in the placebo group as in the
treatment group during the first year of the trials.

The authors estimate that only about one in fifteen reports of muscle symptoms among people
taking a statin is actually caused by the drug. The difference was a little larger with high
doses.

Doctors say the findings should reassure patients, since stopping treatment raises the risk of a
heart attack or stroke. Anyone with new or severe muscle pain should still speak to their
doctor, who may check their blood or change the dose.

The study was funded by public research councils and a heart charity. None of the authors
received payment from the companies that make statins, the journal said.
""",
    ),
]


def corpus_articles(shared_corpus: Path, script: str, min_chars: int = 300) -> list[str]:
    """The texts of the multilingual corpus's articles in one script (``zh`` or ``latin``)."""
    path = shared_corpus / "multilingual" / "extraction" / "ground_truth.jsonl"
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        case["text"]
        for case in cases
        if case["script"] == script and case["genre"] == "article" and len(case["text"]) >= min_chars
    ]


def injected_pages(texts: list[str], language: str, seed: int = SEED) -> list[tuple[str, bytes, str]]:
    """(url, HTML, label) of each text with a test brand injected; shapes and brands taken in turn."""
    rng = random.Random(seed)
    pool = brands(language, "test")
    pages = []
    for number, text in enumerate(texts):
        brand, shape = pool[number % len(pool)], SHAPES[number % len(SHAPES)]
        _, html = inject_brand(rng, text, language, brand, shape, pool)
        kind = "listed" if brand.listed else "unlisted"
        url = f"https://www.site{number}-{language}.example.com/a/{number}.html"
        pages.append((url, html, f"{kind}:{brand.name}:{shape}"))
    return pages


def ad_and_adult_pages(language: str, count: int = 4, seed: int = SEED) -> list[tuple[str, bytes, str]]:
    rng = random.Random(seed)
    pages = []
    for number in range(count):
        for kind in ("medical", "commercial"):
            url = f"https://ads{number}.example-{language}.com/{kind}.html"
            pages.append((url, ad_page(rng, language, kind)[1], f"ads:{kind}"))
        url = f"https://farm{number}.example-{language}.com/"
        pages.append((url, adult_link_farm(rng, language)[1], "adult"))
    return pages


def paragraphs(text: str, language: str) -> list[str]:
    joiner = "" if language == "zh" else " "
    return [joiner.join(block.split("\n")) for block in text.strip().split("\n\n")]


def near_miss_pages() -> list[tuple[str, bytes, str]]:
    return [
        (url, page_html(title, paragraphs(text, language), language), "near_miss")
        for url, title, language, text in NEAR_MISSES
    ]


def write_pages(path: Path, pages: list[tuple[str, bytes, str]]) -> Path:
    write_warc(path, [Record(url, html) for url, html, _ in pages], datetime(2024, 5, 20, tzinfo=UTC))
    return path
