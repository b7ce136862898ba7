"""Main-text extraction per page: stock trafilatura vs the accelerated path, same process, same pages.

    .venv/bin/python -m benchmarks.extractor_speed [--corpus ../shared/corpus] [--repeat 3]

Every HTML page of the shared corpus is decoded as the extract stage decodes it (not timed),
then extracted with our settings (``ExtractConfig()``) by ``trafilatura.extract`` and by
``pipelines.fast_trafilatura.extract``, alternating stock and accelerated passes over all
pages, ``--repeat`` times each. CPU time per page is reported (wall time on a shared machine
says little), best and median pass, and the ratio of the best passes. A first pass of each,
not timed, pays the one-time loading (justext's stop words). Every text is checked equal.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import trafilatura

from crawlsieve.pipelines.config import ExtractConfig, ReadConfig
from crawlsieve.pipelines.decode import decode_html
from crawlsieve.pipelines.extractors import TrafilaturaExtractor
from crawlsieve.pipelines.fast_trafilatura import extract as accelerated_extract
from crawlsieve.pipelines.warc import HttpCheckStage, read_warc


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


def one_pass(extract: Callable[..., str | None], pages: list[str], options: dict) -> tuple[float, list]:
    start = time.process_time()
    texts = [extract(html, **options) for html in pages]
    return time.process_time() - start, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pages = corpus_pages(args.corpus)
    options = TrafilaturaExtractor(ExtractConfig()).options
    sides = {"stock": trafilatura.extract, "accelerated": accelerated_extract}
    reference = {name: one_pass(extract, pages, options)[1] for name, extract in sides.items()}
    assert reference["stock"] == reference["accelerated"], "accelerated texts differ from stock"
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.repeat):
        for name, extract in sides.items():
            elapsed, texts = one_pass(extract, pages, options)
            assert texts == reference["stock"], f"{name} texts changed between passes"
            seconds[name].append(elapsed)
    print(f"{len(pages)} pages, {args.repeat} alternating passes each, load average {os.getloadavg()[0]:.2f}")
    for name, times in seconds.items():
        best, median = min(times) * 1000 / len(pages), statistics.median(times) * 1000 / len(pages)
        print(f"{name:12s} {best:6.2f} ms/page CPU (best pass), {median:6.2f} (median)")
    ratio = min(seconds["stock"]) / min(seconds["accelerated"])
    median_ratio = statistics.median(seconds["stock"]) / statistics.median(seconds["accelerated"])
    print(f"accelerated is {ratio:.2f}x faster (best passes), {median_ratio:.2f}x (medians); texts identical")


if __name__ == "__main__":
    main()
