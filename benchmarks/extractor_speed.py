"""Main-text extraction per page: stock trafilatura vs the accelerated path, same process, same pages.

    .venv/bin/python -m benchmarks.extractor_speed [--corpus ../shared/corpus] [--repeat 3]

Every HTML page of the shared corpus is decoded as the extract stage decodes it (not timed),
then extracted with our settings (``ExtractConfig()``) by ``trafilatura.extract`` and by
``ingest.fast_trafilatura.extract``, page by page in alternating order (stock first on
even pages, accelerated first on odd ones, swapped each pass), so that load from other
processes falls on both alike. CPU time per page is reported (wall time on a shared machine
says little) per pass and in total, with the ratio. A first pass of each, not timed, pays
the one-time loading (justext's stop words). Every text is checked equal.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import trafilatura

from crawlsieve.ingest.config import ExtractConfig, ReadConfig
from crawlsieve.ingest.decode import decode_html
from crawlsieve.ingest.extractors import TrafilaturaExtractor
from crawlsieve.ingest.fast_trafilatura import extract as accelerated_extract
from crawlsieve.ingest.warc import HttpCheckStage, read_warc


def corpus_pages(corpus: Path) -> list[str]:
    """The corpus's HTML 200 responses, decoded as the extract stage decodes them."""
    read = ReadConfig()
    check = HttpCheckStage(read)
    pages = []
    for warc in sorted((corpus / "warc").glob("*.warc.gz")):
        for batch in read_warc(str(warc), warc.name, read):
            batch = check(batch)
            for payload, charset, removed in zip(
                batch.column("html").to_pylist(),
                batch.column("http_charset").to_pylist(),
                batch.column("_removed").to_pylist(),
                strict=True,
            ):
                if removed is None:
                    pages.append(decode_html(payload, charset)[0])
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pages = corpus_pages(args.corpus)
    options = TrafilaturaExtractor(ExtractConfig()).options
    sides: list[tuple[str, Callable[..., str | None]]] = [
        ("stock", trafilatura.extract),
        ("accelerated", accelerated_extract),
    ]
    expected = [trafilatura.extract(html, **options) for html in pages]
    assert [accelerated_extract(html, **options) for html in pages] == expected, "texts differ from stock"
    seconds = {name: [0.0] * args.repeat for name, _ in sides}
    for repeat in range(args.repeat):
        for i, html in enumerate(pages):
            for name, extract in sides if (i + repeat) % 2 == 0 else sides[::-1]:
                start = time.process_time()
                text = extract(html, **options)
                seconds[name][repeat] += time.process_time() - start
                assert text == expected[i], f"{name} text of page {i} changed"
    print(f"{len(pages)} pages, {args.repeat} passes, load average {os.getloadavg()[0]:.2f} at the end")
    for name, times in seconds.items():
        per_pass = ", ".join(f"{t * 1000 / len(pages):.2f}" for t in times)
        mean = sum(times) * 1000 / len(pages) / args.repeat
        print(f"{name:12s} {mean:6.2f} ms/page CPU (passes: {per_pass})")
    ratios = [stock / fast for stock, fast in zip(seconds["stock"], seconds["accelerated"], strict=True)]
    print(
        f"accelerated is {sum(seconds['stock']) / sum(seconds['accelerated']):.2f}x faster "
        f"(passes: {', '.join(f'{r:.2f}' for r in ratios)}); texts identical"
    )


if __name__ == "__main__":
    main()
