"""Throughput and quality of each main-text extractor on the shared corpus's real pages.

    .venv/bin/python -m benchmarks.extraction_quality [--extractors trafilatura resiliparse]

For each extractor (``ingest.extractors``, with the default `extract` config):
* pages/second on one core, over every HTML page of the corpus (decoding excluded);
* token F1 against the human-written main text of the 121 article pages
  (``extraction/ground_truth.jsonl``): bag-of-words precision and recall over lowercased
  ``\\w+`` tokens, as scrapinghub's article-extraction-benchmark scores it, averaged over pages
  (a page the extractor returns nothing for scores 0);
* for the 220 webpages (``extraction/snippets.jsonl``, trafilatura's evaluation set): the share
  of ``with`` snippets found in the text and of ``without`` snippets kept out of it.

Each page's response record is found by its WARC-Target-URI in ``warc/*.warc.gz``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
TOKEN = re.compile(r"\w+")


def load_pages(corpus: Path) -> dict[str, str]:
    """URL -> decoded HTML of every HTML 200 response in the corpus's WARC files."""
    from crawlsieve.ingest.config import ReadConfig
    from crawlsieve.ingest.decode import decode_html
    from crawlsieve.ingest.warc import HttpCheckStage, read_warc

    read = ReadConfig()
    check = HttpCheckStage(read)
    pages = {}
    for path in sorted((corpus / "warc").glob("*.warc.gz")):
        for batch in read_warc(str(path), path.name, read):
            batch = check(batch)
            for url, html, charset, removed in zip(
                batch.column("url").to_pylist(),
                batch.column("html").to_pylist(),
                batch.column("http_charset").to_pylist(),
                batch.column("_removed").to_pylist(),
                strict=True,
            ):
                if removed is None:
                    pages[url_key(url)] = decode_html(html, charset)[0]
    return pages


def url_key(url: str) -> str:
    """The URL as warcio reports it: header values are stripped and inner spaces become %20."""
    return url.strip().replace(" ", "%20")


def read_jsonl(path: Path) -> list[dict]:
    """The evaluation cases, with their ``url`` in the form the WARC reader returns."""
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{**case, "url": url_key(case["url"])} for case in cases]


def token_f1(predicted: str | None, truth: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of the predicted tokens against the true ones, as multisets."""
    got, want = Counter(TOKEN.findall((predicted or "").lower())), Counter(TOKEN.findall(truth.lower()))
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return precision, recall, 2 * precision * recall / (precision + recall)


def _normalized(text: str) -> str:
    return " ".join(text.split())


def snippet_rates(texts: dict[str, str | None], snippets: list[dict]) -> tuple[float, float]:
    """(share of `with` snippets found, share of `without` snippets absent) over all pages."""
    found = wanted = absent = unwanted = 0
    for case in snippets:
        text = _normalized(texts.get(case["url"]) or "")
        for snippet in case["with"]:
            wanted += 1
            found += _normalized(snippet) in text
        for snippet in case["without"]:
            unwanted += 1
            absent += _normalized(snippet) not in text
    return found / max(wanted, 1), absent / max(unwanted, 1)


def evaluate(name: str, pages: dict[str, str], truth: list[dict], snippets: list[dict]) -> dict:
    from crawlsieve.ingest.config import ExtractConfig
    from crawlsieve.ingest.extractors import make_extractor

    extractor = make_extractor(ExtractConfig(), name)
    texts: dict[str, str | None] = {}
    started = time.perf_counter()
    for url, html in pages.items():
        try:
            texts[url] = extractor(html)
        except Exception:  # a page an extractor cannot handle scores as empty
            texts[url] = None
    seconds = time.perf_counter() - started
    scores = [token_f1(texts.get(case["url"]), case["text"]) for case in truth]
    with_rate, without_rate = snippet_rates(texts, snippets)
    return {
        "extractor": name,
        "pages_per_second": len(pages) / seconds,
        "precision": sum(s[0] for s in scores) / len(scores),
        "recall": sum(s[1] for s in scores) / len(scores),
        "f1": sum(s[2] for s in scores) / len(scores),
        "with": with_rate,
        "without": without_rate,
        "missing_pages": sum(case["url"] not in pages for case in truth + snippets),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extractors", nargs="+", default=["trafilatura", "resiliparse"])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    pages = load_pages(args.corpus)
    truth = read_jsonl(args.corpus / "extraction" / "ground_truth.jsonl")
    snippets = read_jsonl(args.corpus / "extraction" / "snippets.jsonl")
    header = (
        f"{'extractor':<12} {'pages/s/core':>12} {'precision':>9} {'recall':>7} {'F1':>6}"
        f" {'with found':>10} {'without absent':>14}"
    )
    print(f"{len(pages)} pages; token F1 over {len(truth)} articles; snippets over {len(snippets)} webpages")
    print(header)
    print("-" * len(header))
    for name in args.extractors:
        r = evaluate(name, pages, truth, snippets)
        print(
            f"{r['extractor']:<12} {r['pages_per_second']:>12.1f} {r['precision']:>9.3f} {r['recall']:>7.3f}"
            f" {r['f1']:>6.3f} {r['with']:>10.1%} {r['without']:>14.1%}"
        )
        if r["missing_pages"]:
            print(f"  ({r['missing_pages']} evaluation pages not found in the WARC files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
