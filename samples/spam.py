"""Spam pages shaped like the real thing, built from real article texts, for tests and benchmarks.

* Gambling SEO, the most common Chinese web spam: an ordinary article copied and a betting brand
  injected into its title (``标题_欧宝体育app``), at the start of some sentences
  (``开云体育官网：…``) and into a list of links at the end (``友情链接``); English the same way
  (``Title | Bet365 Casino``). ``SHAPES`` names which of the three placements a page gets.
* Keyword-stuffed ad pages: Chinese hospital ads ("which hospital is best for ...") and trade
  offers, English pill and make-money spam.
* Adult link farms: a title, a few lines and many links to video categories.

Brands come from two pools: names the spam filter's lists hold (``listed``) and brand-shaped
names they do not (``unlisted``: a listed ending such as ``体育app`` after an unknown name, or
nothing the lists could know). Each pool is split in two fixed halves (``split="test"`` or
``"benchmark"``), so the tests and the benchmark never share a brand; their seeds differ too.
The wording of the ad and adult pages is written here, apart from the filter's term lists.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from html import escape

#: Which placements an injected page gets.
SHAPES = ("title", "sentences", "anchors", "title+sentences", "title+anchors", "sentences+anchors", "all")

_BRANDS = {
    "zh": {
        "listed": [
            "威尼斯人现金网", "欧宝体育", "华体会", "开云体育", "乐鱼体育", "亚博体育", "星空体育",
            "米乐m6", "半岛体育", "九游会", "尊龙凯时", "澳门新葡京", "太阳城集团", "金沙娱乐",
            "雷火电竞", "伟德国际", "一肖一码", "新澳门天天彩", "bob体育", "爱游戏体育",
        ],
        "unlisted": [
            "星耀体育app", "金鼎娱乐城", "鸿运现金网", "龙腾体育官网", "皇朝真人娱乐", "天博体育入口",
            "万博体育app", "博亚体育平台", "盛世棋牌app", "金冠电竞app", "宝马会", "摩登娱乐",
        ],
    },
    "en": {
        "listed": [
            "Bet365", "1xBet", "22Bet", "Betway", "Dafabet", "Fun88", "W88", "SBOBET", "Melbet",
            "Mostbet", "Parimatch", "888casino", "Stake Casino", "BetWinner", "Slot Gacor", "Judi Online",
        ],
        "unlisted": ["Lucky Spin Casino", "Royal Ace Casino", "GoldenBet Sportsbook", "SpinPalace Slots"],
    },
}  # fmt: skip
_DECORATIONS = {
    "zh": ["", "app", "官网", "官方网站", "(中国)官方网站", "登录入口", "app下载"],
    "en": ["", " Casino", " Sportsbook", " Official Site", " Login", " App"],
}
_SENTENCE_PREFIXES = {
    "zh": ["{b}：", "{b}讯 ", "【{b}】", "{b}官网报道，"],
    "en": ["{b}: ", "[{b}] ", "{b} — "],
}
_TITLE_SEPARATORS = {"zh": ["_", "-", "|"], "en": [" | ", " - ", " – "]}
_LINKS_LABEL = {"zh": "友情链接：", "en": "Partners: "}


@dataclass(frozen=True)
class Brand:
    name: str
    listed: bool


def brands(language: str, split: str) -> list[Brand]:
    """The brands of one half of the pools: ``test`` takes the even positions, ``benchmark`` the odd."""
    if split not in ("test", "benchmark"):
        raise ValueError(f"split is test or benchmark, not {split!r}")
    start = 0 if split == "test" else 1
    pools = _BRANDS[language]
    return [
        Brand(name, kind == "listed") for kind in ("listed", "unlisted") for name in pools[kind][start::2]
    ]


def page_html(
    title: str, paragraphs: list[str], language: str, links: list[str] = (), label: str = ""
) -> bytes:
    """An article page: navigation, the article, and a footer with ``links`` (anchor texts)."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    anchors = " ".join(
        f'<a href="https://link{i}.example.net/">{escape(text)}</a>' for i, text in enumerate(links)
    )
    footer = f"<div class='links'>{escape(label)}{anchors}</div>" if links else ""
    return (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"</head><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav><main><article>"
        f"<h1>{escape(title)}</h1>{body}</article></main><footer>{footer}<p>© 2024</p></footer></body></html>"
    ).encode()


def article_parts(text: str, language: str) -> tuple[str, list[str]]:
    """A title (the first line, cut) and the paragraphs of a real article's text."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    limit = 40 if language == "zh" else 90
    return lines[0][:limit], lines


def inject_brand(
    rng: random.Random, text: str, language: str, brand: Brand, shape: str, pool: list[Brand]
) -> tuple[str, bytes]:
    """(title, HTML) of an article with ``brand`` injected at the placements ``shape`` names."""
    title, paragraphs = article_parts(text, language)
    name = brand.name + rng.choice(_DECORATIONS[language])
    if "title" in shape or shape == "all":
        title = f"{title}{rng.choice(_TITLE_SEPARATORS[language])}{name}"
    if "sentences" in shape or shape == "all":
        for index in rng.sample(range(len(paragraphs)), min(len(paragraphs), rng.randint(2, 4))):
            paragraphs[index] = rng.choice(_SENTENCE_PREFIXES[language]).format(b=name) + paragraphs[index]
    links: list[str] = []
    if "anchors" in shape or shape == "all":
        others = [b.name for b in pool if b != brand]
        links = [name, *rng.sample(others, min(len(others), rng.randint(4, 7)))]
        rng.shuffle(links)
    return title, page_html(title, paragraphs, language, links, _LINKS_LABEL[language])


# --- ad pages ------------------------------------------------------------------------------------

_CITIES = ["北京", "上海", "广州", "深圳", "成都", "武汉", "杭州", "郑州", "西安", "南京"]
_DISEASES = ["白癜风", "牛皮癣", "癫痫", "男科", "妇科", "不孕不育", "痛风", "鼻炎"]
_HOSPITAL_NAMES = ["协和", "仁爱", "博爱", "华夏", "中科", "现代", "长江"]
_ZH_MEDICAL = [
    "{city}{disease}医院哪家好？{hospital}是{city}专业治疗{disease}的医院，引进国际先进设备，专家团队经验丰富。",
    "{disease}能根治吗？{hospital}专家表示，采用独家疗法，一个疗程即可见效，无效退款。",
    "{city}治疗{disease}多少钱？{hospital}明码标价，医保定点，欢迎来电咨询。",
    "咨询热线：400-{n}-{m}，专家在线免费咨询，网上预约挂号还可享受优惠。",
    "{hospital}地址：{city}市中山路{n}号，乘坐{m}路公交即可到达，周末节假日不休息。",
    "患者张先生患{disease}多年，四处求医无果，来到{hospital}治疗后康复，特地送来锦旗表示感谢。",
    "{city}看{disease}哪家医院好？选择正规专科医院很重要，{hospital}是您的放心之选。",
    "{hospital}治疗{disease}效果好不好？权威专家坐诊，祖传秘方结合现代医学，药到病除。",
]
_PRODUCTS = ["不锈钢水箱", "LED灯带", "保温杯", "塑料托盘", "手机壳", "茶叶礼盒", "防水涂料"]
_ZH_TRADE = [
    "{company}专业生产{product}，厂家直销，价格优惠，全国包邮，支持一件代发。",
    "现诚招代理加盟，零加盟费，月入过万不是梦，详情请加微信：{wx}。",
    "限时特价，{product}买一送一，立即购买享受八折优惠，数量有限先到先得。",
    "联系电话：{phone}，欢迎来电咨询，我们将竭诚为您服务，微信同号。",
    "{product}批发价格多少钱？{company}库存充足，当天发货，秒杀价只要{n}元。",
    "{city}{product}哪家好？{company}十年老厂，品质保证，点击购买领取优惠券。",
]
_DRUGS = ["viagra", "cialis", "levitra", "tramadol", "phentermine"]
_EN_PILLS = [
    "Buy {drug} online without prescription and save up to {n}% today.",
    "Cheap {drug} {m}mg with fast worldwide delivery, order now and get 10 free pills.",
    "Our online pharmacy offers the lowest price for {drug}, discreet packaging and free shipping.",
    "Male enhancement pills that work: clinically proven, money back guarantee, risk free trial.",
    "Call now to get your special offer on {drug} and other weight loss pills.",
    "Thousands of happy customers trust our {drug}, the miracle cure doctors do not want you to know.",
]
_EN_MONEY = [
    "Make money online from home and earn ${n} a day with our proven system.",
    "Limited time offer: sign up today and get a 100% money back guarantee.",
    "Click here to start now, no experience needed, just {m} minutes a day.",
    "Need cash fast? Payday loans and cash advance approved in {m} minutes, no credit check.",
    "Act now, only {m} places left at this price, buy now before the offer ends.",
    "Use promo code CASH{n} for a discount on your first month.",
]


def ad_page(rng: random.Random, language: str, kind: str) -> tuple[str, bytes]:
    """(title, HTML) of a keyword-stuffed ad page: ``kind`` is ``medical`` or ``commercial``."""
    n, m = rng.randint(100, 999), rng.randint(10, 99)
    if language == "zh":
        city, disease = rng.choice(_CITIES), rng.choice(_DISEASES)
        hospital = f"{city}{rng.choice(_HOSPITAL_NAMES)}{disease}医院"
        product = rng.choice(_PRODUCTS)
        company = f"{city}{rng.choice(['鑫源', '华盛', '恒达', '金诚'])}实业有限公司"
        fields = dict(
            city=city, disease=disease, hospital=hospital, product=product, company=company, n=n, m=m,
            wx=f"wx{n}{m}", phone=f"138{n}{m}{m}",
        )  # fmt: skip
        if kind == "medical":
            title = f"{city}{disease}医院哪家好_{city}治疗{disease}最好的医院_{hospital}"
            templates = _ZH_MEDICAL
        else:
            title = f"{product}厂家直销_{product}批发价格_{city}{product}供应商"
            templates = _ZH_TRADE
    else:
        fields = dict(drug=rng.choice(_DRUGS), n=n, m=m)
        if kind == "medical":
            title = f"Buy {fields['drug'].title()} Online - Cheap Pills Without Prescription"
            templates = _EN_PILLS
        else:
            title = "Make Money Online Fast - Work From Home - Limited Offer"
            templates = _EN_MONEY
    chosen = rng.sample(templates, rng.randint(5, len(templates)))
    paragraphs = [template.format(**fields) for template in chosen]
    return title, page_html(title, paragraphs, language)


_ZH_ADULT_LINKS = [
    "自拍偷拍",
    "无码高清",
    "国产精品",
    "日韩av",
    "人妻熟女",
    "制服丝袜",
    "巨乳美女",
    "成人动漫",
    "激情视频",
    "伦理片",
    "三级片",
    "福利姬",
    "裸聊直播",
    "一夜情交友",
    "成人影片",
    "黄片在线",
]
_ZH_ADULT_LINES = [
    "每日更新最新成人视频，高清无码，免费在线观看。",
    "本站收录海量黄片资源，手机在线播放不卡顿。",
    "约炮交友同城速配，裸聊直播一对一。",
    "最新av女优作品合集，点击进入观看。",
]
_EN_ADULT_LINKS = [
    "free porn",
    "xxx videos",
    "milf",
    "hentai",
    "sex cams",
    "nude models",
    "amateur porn",
    "webcam girls",
    "porn tube",
    "hardcore xxx",
    "camgirls live",
    "nsfw clips",
    "adult videos",
    "escort service",
    "sex chat",
]
_EN_ADULT_LINES = [
    "Watch free porn videos updated daily, the best xxx tube on the web.",
    "Thousands of nude models and camgirls live on sex cams right now.",
    "Hot milf and hentai collections, hardcore xxx clips in HD.",
    "Join free sex chat and meet webcam girls tonight.",
]  # fmt: skip


def adult_link_farm(rng: random.Random, language: str) -> tuple[str, bytes]:
    """(title, HTML) of an adult link farm: a few lines and many category links."""
    links_pool, lines = (
        (_ZH_ADULT_LINKS, _ZH_ADULT_LINES) if language == "zh" else (_EN_ADULT_LINKS, _EN_ADULT_LINES)
    )
    title = rng.choice(lines).split("，")[0].split(",")[0]
    paragraphs = rng.sample(lines, rng.randint(2, 4)) + rng.sample(links_pool, rng.randint(5, 10))
    links = [rng.choice(links_pool) for _ in range(rng.randint(20, 40))]
    return title, page_html(title, paragraphs, language, links)
