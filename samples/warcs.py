"""Sample WARC files that the project generates itself, for the demo and the tests.

The pages cover what a real crawl holds, in miniature: articles in several languages and
charsets, boilerplate-heavy pages, near-duplicates, junk (a page of ten thousand slashes,
keyword spam, lorem ipsum), records that are not HTML pages, and a few malformed ones.
Text is generated from small per-language grammars with a seeded RNG, so every run of the
generator writes the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import random
from base64 import b32encode
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawlsieve.core.io import write_bytes_atomically

#: Per-language word lists; a sentence is one choice per slot, in this order. Slots are short
#: and many, so generated pages rarely repeat a 5-gram (real prose rarely does either).
SLOTS = ("subject", "verb", "object", "detail", "place", "time")
DETAILS = {
    "en": [
        "for {n} residents",
        "with {n} volunteers",
        "costing {n} thousand euros",
        "for about {n} families",
        "with {n} new members",
        "for {n} pupils",
    ],
    "de": ["für {n} Bewohner", "mit {n} Helfern", "für {n} tausend Euro", "für etwa {n} Familien"],
    "fr": ["pour {n} habitants", "avec {n} bénévoles", "pour {n} mille euros", "pour environ {n} familles"],
    "es": ["para {n} vecinos", "con {n} voluntarios", "por {n} mil euros", "para unas {n} familias"],
    "zh": ["为{n}位居民", "和{n}名志愿者一起", "花费{n}万元", "为大约{n}个家庭"],
}
GRAMMARS: dict[str, dict[str, list[str]]] = {
    "en": {
        "subject": [
            "The city council",
            "A team of researchers",
            "The local library",
            "Our small bakery",
            "The new museum",
            "A group of students",
            "The regional hospital",
            "The football club",
            "The river authority",
            "An independent bookshop",
            "The orchestra",
            "The weather service",
            "My neighbour",
            "The school board",
            "A young architect",
            "The fire brigade",
            "Two retired teachers",
            "The tourist office",
            "A local farmer",
            "The mayor",
        ],
        "verb": [
            "announced",
            "published",
            "opened",
            "discussed",
            "expanded",
            "reviewed",
            "celebrated",
            "planned",
            "described",
            "presented",
            "postponed",
            "funded",
            "questioned",
            "defended",
            "improved",
            "explained",
        ],
        "object": [
            "a plan for the harbour",
            "the results of its study",
            "a programme for readers",
            "the budget",
            "an exhibition about photography",
            "a proposal for the bridge",
            "the history of the district",
            "a cooking course",
            "new opening hours",
            "a survey of birds",
            "its annual report",
            "the repairs",
            "a map of cycle paths",
            "the winter timetable",
            "a garden for children",
            "the new playground",
            "a festival of music",
            "its reading list",
            "the water prices",
            "a training day",
        ],
        "place": [
            "in the town hall",
            "at the old station",
            "near the market square",
            "by the river",
            "in the main library",
            "at the community centre",
            "on the north bank",
            "in the village",
            "at the primary school",
            "in a crowded room",
            "outside the museum",
            "at the harbour",
        ],
        "time": [
            "on Tuesday evening",
            "after months of work",
            "last spring",
            "this week",
            "before the holidays",
            "early in the morning",
            "for the first time",
            "once again",
            "after a long debate",
            "during the summer",
            "at short notice",
            "late last year",
        ],
    },
    "de": {
        "subject": [
            "Der Stadtrat",
            "Ein Team von Forschern",
            "Die Bibliothek",
            "Unsere Bäckerei",
            "Das neue Museum",
            "Eine Gruppe von Studenten",
            "Das Krankenhaus",
            "Der Sportverein",
            "Die Feuerwehr",
            "Der Bürgermeister",
            "Eine junge Architektin",
            "Die Schule",
        ],
        "verb": [
            "stellte",
            "zeigte",
            "besprach",
            "prüfte",
            "plante",
            "beschrieb",
            "feierte",
            "erklärte",
            "verteidigte",
            "verschob",
        ],
        "object": [
            "einen Plan für den Hafen",
            "die Ergebnisse der Studie",
            "ein Programm für Leser",
            "den Haushalt",
            "eine Ausstellung über Fotografie",
            "einen Vorschlag für die Brücke",
            "die Geschichte des Viertels",
            "neue Öffnungszeiten",
            "den Jahresbericht",
            "die Reparatur der Straße",
            "eine Karte der Radwege",
            "den neuen Spielplatz",
        ],
        "place": [
            "im Rathaus",
            "am alten Bahnhof",
            "auf dem Marktplatz",
            "am Fluss",
            "in der Schule",
            "im Gemeindezentrum",
            "im Dorf",
            "vor dem Museum",
            "am Hafen",
            "in der Stadthalle",
        ],
        "time": [
            "am Dienstagabend vor",
            "nach langer Arbeit vor",
            "im letzten Frühling vor",
            "in dieser Woche vor",
            "vor den Ferien vor",
            "am frühen Morgen vor",
            "zum ersten Mal vor",
            "nach einer langen Debatte vor",
            "im Sommer vor",
        ],
    },
    "fr": {
        "subject": [
            "Le conseil municipal",
            "Une équipe de chercheurs",
            "La bibliothèque",
            "Notre boulangerie",
            "Le nouveau musée",
            "Un groupe d'étudiants",
            "Le club de football",
            "Les pompiers",
            "Le maire",
            "Une jeune architecte",
            "L'école du quartier",
            "L'office de tourisme",
        ],
        "verb": [
            "a présenté",
            "a publié",
            "a ouvert",
            "a discuté",
            "a examiné",
            "a célébré",
            "a décrit",
            "a expliqué",
            "a défendu",
            "a reporté",
        ],
        "object": [
            "un projet pour le port",
            "les résultats de son étude",
            "un programme pour les lecteurs",
            "le budget",
            "une exposition sur la photographie",
            "une proposition pour le pont",
            "l'histoire du quartier",
            "de nouveaux horaires",
            "son rapport annuel",
            "les travaux de la rue",
            "une carte des pistes cyclables",
            "le nouveau jardin",
        ],
        "place": [
            "à la mairie",
            "près de la gare",
            "sur la place du marché",
            "au bord de la rivière",
            "à l'école",
            "au centre culturel",
            "dans le village",
            "devant le musée",
            "au port",
        ],
        "time": [
            "mardi soir",
            "après des mois de travail",
            "au printemps dernier",
            "cette semaine",
            "avant les vacances",
            "tôt le matin",
            "pour la première fois",
            "après un long débat",
        ],
    },
    "es": {
        "subject": [
            "El ayuntamiento",
            "Un equipo de investigadores",
            "La biblioteca",
            "Nuestra panadería",
            "El nuevo museo",
            "Un grupo de estudiantes",
            "Los bomberos",
            "La alcaldesa",
            "Una joven arquitecta",
            "La escuela del barrio",
            "La oficina de turismo",
        ],
        "verb": [
            "presentó",
            "publicó",
            "abrió",
            "discutió",
            "revisó",
            "celebró",
            "describió",
            "explicó",
            "defendió",
            "aplazó",
        ],
        "object": [
            "un plan para el puerto",
            "los resultados de su estudio",
            "un programa para lectores",
            "el presupuesto",
            "una exposición sobre fotografía",
            "una propuesta para el puente",
            "la historia del barrio",
            "nuevos horarios",
            "su informe anual",
            "las obras de la calle",
            "un mapa de carriles bici",
            "el nuevo jardín",
        ],
        "place": [
            "en el ayuntamiento",
            "cerca de la estación",
            "en la plaza del mercado",
            "junto al río",
            "en la escuela",
            "en el centro cultural",
            "en el pueblo",
            "frente al museo",
        ],
        "time": [
            "el martes por la tarde",
            "tras meses de trabajo",
            "la primavera pasada",
            "esta semana",
            "antes de las vacaciones",
            "muy temprano",
            "por primera vez",
            "después de un largo debate",
        ],
    },
    "zh": {
        "subject": [
            "市政府",
            "一组研究人员",
            "当地图书馆",
            "我们的小面包店",
            "新博物馆",
            "一群学生",
            "消防队",
            "市长",
            "一位年轻的建筑师",
            "区里的学校",
            "旅游局",
        ],
        "verb": ["宣布了", "发表了", "开放了", "讨论了", "审查了", "庆祝了", "介绍了", "解释了"],
        "object": [
            "旧港口的改造计划",
            "一项研究的结果",
            "面向读者的活动",
            "明年的预算",
            "关于摄影的展览",
            "修复大桥的建议",
            "街区的历史",
            "新的开放时间",
            "年度报告",
            "自行车道地图",
        ],
        "place": [
            "在市政厅",
            "在老车站旁边",
            "在市场广场",
            "在河边",
            "在学校里",
            "在文化中心",
            "在村子里",
            "在博物馆门前",
        ],
        "time": [
            "星期二晚上",
            "经过几个月的工作",
            "去年春天",
            "这个星期",
            "在假期之前",
            "一大早",
            "第一次",
            "经过长时间的讨论",
        ],
    },
}
SEPARATOR = {"zh": "", "en": " ", "de": " ", "fr": " ", "es": " "}
END = {"zh": "。"}

BOILERPLATE = (
    '<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/about">About</a>'
    '</li><li><a href="/contact">Contact</a></li></ul></nav>'
)
FOOTER = "<footer><p>Cookie policy | Privacy | Terms of use</p><p>© 2024 Example Media</p></footer>"


def sentence(rng: random.Random, language: str) -> str:
    grammar = GRAMMARS[language]
    sep = SEPARATOR.get(language, " ")
    parts = [
        rng.choice(DETAILS[language]).format(n=rng.randint(3, 950))
        if slot == "detail"
        else rng.choice(grammar[slot])
        for slot in SLOTS
    ]
    return sep.join(parts) + END.get(language, ".")


def article_text(rng: random.Random, language: str, paragraphs: int) -> list[str]:
    sep = SEPARATOR.get(language, " ")
    return [sep.join(sentence(rng, language) for _ in range(rng.randint(2, 4))) for _ in range(paragraphs)]


def html_page(
    title: str, paragraphs: list[str], *, charset: str = "utf-8", boilerplate: bool = False, lang: str = "en"
) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    chrome = BOILERPLATE * (6 if boilerplate else 1)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="{charset}"><title>{title}</title></head>'
        f"<body>{chrome}<article><h1>{title}</h1>{body}</article>{FOOTER}</body></html>"
    )


@dataclass
class Record:
    url: str
    payload: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    record_type: str = "response"


@dataclass
class SampleFile:
    name: str
    records: list[Record] = field(default_factory=list)
    truncate_tail: bool = False


def _digest(payload: bytes) -> str:
    return "sha1:" + b32encode(hashlib.sha1(payload).digest()).decode("ascii")


def write_warc(path: Path, records: list[Record], start: datetime, truncate_tail: bool = False) -> None:
    """Write records Common Crawl's way (gzip per record, request/response/metadata)."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    info = writer.create_warcinfo_record(
        path.name, {"software": "crawlsieve-samples", "isPartOf": "CC-MAIN-2024-10"}
    )
    writer.write_record(info)
    for index, rec in enumerate(records):
        when = (start + timedelta(minutes=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if rec.record_type == "response":
            request = writer.create_warc_record(
                rec.url,
                "request",
                payload=io.BytesIO(b""),
                http_headers=StatusAndHeaders(
                    f"GET {rec.url} HTTP/1.1", [("Host", "example")], is_http_request=True
                ),
                warc_headers_dict={"WARC-Date": when},
            )
            writer.write_record(request)
            reason = {200: "OK", 404: "Not Found", 301: "Moved Permanently"}.get(rec.status, "Status")
            http = StatusAndHeaders(
                f"{rec.status} {reason}", [("Content-Type", rec.content_type)], protocol="HTTP/1.1"
            )
            response = writer.create_warc_record(
                rec.url,
                "response",
                payload=io.BytesIO(rec.payload),
                http_headers=http,
                warc_headers_dict={"WARC-Date": when, "WARC-Payload-Digest": _digest(rec.payload)},
            )
            writer.write_record(response)
            metadata = writer.create_warc_record(
                rec.url,
                "metadata",
                payload=io.BytesIO(b"fetchTimeMs: 120\r\n"),
                warc_content_type="application/warc-fields",
                warc_headers_dict={"WARC-Date": when},
            )
            writer.write_record(metadata)
        else:
            writer.write_record(
                writer.create_warc_record(
                    rec.url,
                    rec.record_type,
                    payload=io.BytesIO(rec.payload),
                    warc_headers_dict={"WARC-Date": when},
                )
            )
    data = buffer.getvalue()
    if truncate_tail:
        data = data[: len(data) - 200]  # cut inside the last gzip member, as an interrupted download would
    write_bytes_atomically(data, path)


def build_samples(seed: int = 13, files: int = 4, pages_per_file: int = 24) -> list[SampleFile]:
    rng = random.Random(seed)
    languages = ["en", "en", "en", "de", "fr", "es", "zh"]
    samples = [SampleFile(name=f"sample-{i:02d}.warc.gz") for i in range(files)]
    originals: list[tuple[str, list[str]]] = []
    for i in range(files * pages_per_file):
        target = samples[i % files]
        lang = languages[i % len(languages)]
        host = rng.choice(
            [
                "news.example.com",
                "blog.example.org",
                "www.example.co.uk",
                "forum.example.net",
                "docs.example.io",
                "shop.example.com",
            ]
        )
        url = f"https://{host}/{lang}/article-{i}"
        paragraphs = article_text(rng, lang, rng.randint(3, 4))
        title = sentence(rng, lang)[:60]
        if i % 9 == 4 and originals:  # a near-duplicate of an earlier page, in another file
            src_title, src_paragraphs = originals[rng.randrange(len(originals))]
            paragraphs = [*src_paragraphs]
            paragraphs[-1] = paragraphs[-1] + " " + sentence(rng, "en")
            title = src_title
        elif lang == "en":
            originals.append((title, paragraphs))
        charset = "iso-8859-1" if lang in {"de", "fr", "es"} and i % 2 else "utf-8"
        html = html_page(title, paragraphs, charset=charset, boilerplate=i % 5 == 0, lang=lang)
        content_type = "text/html" if charset != "utf-8" else "text/html; charset=utf-8"
        target.records.append(Record(url, html.encode(charset, errors="xmlcharrefreplace"), content_type))
    junk_pages = [
        ("https://junk.example.com/slashes", html_page("Slashes", ["/" * 10_000])),
        ("https://junk.example.com/spam", html_page("Cheap", [" ".join(["buy cheap pills now"] * 150)])),
        (
            "https://junk.example.com/lorem",
            html_page(
                "Lorem",
                ["Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."] * 3,
            ),
        ),
        ("https://junk.example.com/short", html_page("Hi", ["Click here."])),
    ]
    for index, (url, html) in enumerate(junk_pages):
        samples[index % files].records.append(Record(url, html.encode("utf-8")))
    samples[0].records.append(
        Record("https://img.example.com/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png")
    )
    samples[0].records.append(
        Record("https://news.example.com/missing", b"<html>Not found</html>", status=404)
    )
    samples[1].records.append(
        Record(
            "https://bad.example.com/bytes", bytes(range(256)) * 40, content_type="text/html; charset=utf-8"
        )
    )
    exact = samples[0].records[0]
    samples[-1].records.append(Record(exact.url + "?copy=1", exact.payload, exact.content_type))
    samples[-1].truncate_tail = True
    return samples


def generate_sample_warcs(
    directory: Path, seed: int = 13, files: int = 4, pages_per_file: int = 24
) -> list[Path]:
    """Write the sample WARC files into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    start = datetime(2024, 2, 20, 8, 0, tzinfo=UTC)
    paths = []
    for index, sample in enumerate(build_samples(seed, files, pages_per_file)):
        path = directory / sample.name
        write_warc(path, sample.records, start + timedelta(days=index), sample.truncate_tail)
        paths.append(path)
    return paths
