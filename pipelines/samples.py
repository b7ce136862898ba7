"""Sample WARC files that the project generates itself, for the demo and the tests.

The pages cover what a real crawl holds, in miniature: articles in several languages and
charsets, boilerplate-heavy pages, near-duplicates, junk (a page of ten thousand slashes,
keyword spam, lorem ipsum), records that are not HTML pages, and a few malformed ones.
Text is generated from small per-language grammars with a seeded RNG, so every run of the
generator writes the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import random
from base64 import b32encode
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

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
        ],
        "object": [
            "a plan for the old harbour",
            "the results of a long study",
            "a programme for young readers",
            "the budget for the coming year",
            "an exhibition about early photography",
            "a proposal to repair the bridge",
            "the history of the northern district",
            "a course on healthy cooking",
            "new opening hours for the summer",
            "a survey of the birds in the valley",
        ],
        "tail": [
            "after months of careful preparation",
            "because many residents had asked for it",
            "and the first reactions were positive",
            "with the support of several volunteers",
            "although some questions remain open",
            "on Tuesday evening in the town hall",
            "which should be finished before the winter",
            "to the surprise of many visitors",
        ],
    },
    "de": {
        "subject": [
            "Der Stadtrat",
            "Ein Team von Forschern",
            "Die örtliche Bibliothek",
            "Unsere kleine Bäckerei",
            "Das neue Museum",
            "Eine Gruppe von Studenten",
            "Das Krankenhaus der Region",
            "Der Sportverein",
        ],
        "verb": [
            "stellte",
            "veröffentlichte",
            "besprach",
            "prüfte",
            "plante",
            "beschrieb",
            "feierte",
            "zeigte",
        ],
        "object": [
            "einen Plan für den alten Hafen",
            "die Ergebnisse einer langen Studie",
            "ein Programm für junge Leser",
            "den Haushalt für das kommende Jahr",
            "eine Ausstellung über frühe Fotografie",
            "einen Vorschlag zur Reparatur der Brücke",
            "die Geschichte des nördlichen Viertels",
            "neue Öffnungszeiten für den Sommer",
        ],
        "tail": [
            "nach monatelanger Vorbereitung vor",
            "weil viele Bürger danach gefragt hatten",
            "und die ersten Reaktionen waren positiv",
            "mit der Hilfe von vielen Freiwilligen",
            "obwohl noch einige Fragen offen sind",
            "am Dienstagabend im Rathaus vor",
        ],
    },
    "fr": {
        "subject": [
            "Le conseil municipal",
            "Une équipe de chercheurs",
            "La bibliothèque du quartier",
            "Notre petite boulangerie",
            "Le nouveau musée",
            "Un groupe d'étudiants",
            "Le club de football",
        ],
        "verb": ["a présenté", "a publié", "a ouvert", "a discuté", "a examiné", "a célébré", "a décrit"],
        "object": [
            "un projet pour le vieux port",
            "les résultats d'une longue étude",
            "un programme pour les jeunes lecteurs",
            "le budget de l'année prochaine",
            "une exposition sur la photographie ancienne",
            "une proposition pour réparer le pont",
            "l'histoire du quartier nord",
            "de nouveaux horaires pour l'été",
        ],
        "tail": [
            "après des mois de préparation",
            "parce que beaucoup d'habitants l'avaient demandé",
            "et les premières réactions sont positives",
            "avec le soutien de nombreux bénévoles",
            "même si certaines questions restent ouvertes",
            "mardi soir à la mairie",
        ],
    },
    "es": {
        "subject": [
            "El ayuntamiento",
            "Un equipo de investigadores",
            "La biblioteca del barrio",
            "Nuestra pequeña panadería",
            "El nuevo museo",
            "Un grupo de estudiantes",
        ],
        "verb": ["presentó", "publicó", "abrió", "discutió", "revisó", "celebró", "describió"],
        "object": [
            "un plan para el puerto viejo",
            "los resultados de un largo estudio",
            "un programa para jóvenes lectores",
            "el presupuesto del próximo año",
            "una exposición sobre la fotografía antigua",
            "una propuesta para reparar el puente",
        ],
        "tail": [
            "después de meses de preparación",
            "porque muchos vecinos lo habían pedido",
            "y las primeras reacciones fueron positivas",
            "con el apoyo de muchos voluntarios",
            "aunque quedan algunas preguntas abiertas",
            "el martes por la tarde en el ayuntamiento",
        ],
    },
    "zh": {
        "subject": ["市政府", "一组研究人员", "当地图书馆", "我们的小面包店", "新博物馆", "一群学生"],
        "verb": ["宣布了", "发表了", "开放了", "讨论了", "审查了", "庆祝了"],
        "object": [
            "旧港口的改造计划",
            "一项长期研究的结果",
            "面向青少年读者的活动",
            "明年的财政预算",
            "关于早期摄影的展览",
            "修复大桥的建议",
        ],
        "tail": [
            "经过几个月的精心准备",
            "因为许多居民提出了要求",
            "第一批反应非常积极",
            "得到了许多志愿者的支持",
            "虽然还有一些问题没有解决",
            "在星期二晚上的会议上",
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
    parts = [rng.choice(grammar[slot]) for slot in ("subject", "verb", "object", "tail")]
    return sep.join(parts) + END.get(language, ".")


def article_text(rng: random.Random, language: str, paragraphs: int) -> list[str]:
    sep = SEPARATOR.get(language, " ")
    return [sep.join(sentence(rng, language) for _ in range(rng.randint(3, 6))) for _ in range(paragraphs)]


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
    path.write_bytes(data)


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
        paragraphs = article_text(rng, lang, rng.randint(4, 8))
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


def gunzip_members(path: Path) -> bytes:
    """The decompressed bytes of a (multi-member) gzip WARC, for plain-WARC tests."""
    return gzip.decompress(path.read_bytes())
