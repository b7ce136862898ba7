"""Throughput of crawlsieve's heuristic filter stage vs. datatrove's filters, on the same texts.

    .venv/bin/python benchmarks/filters_throughput.py [--corpus ../shared/corpus] [--repeat 3]

Both sides get the trafilatura text of every page of the shared corpus (extracted once,
not timed). datatrove runs its four filters one after another (FineWeb's order; each
splits the text itself); crawlsieve runs its heuristic stage (shared statistics, its own
signals for tag mode, the same decisions). CPU time per document is reported, since wall
time on a shared machine says little.
"""

from __future__ import annotations

import argparse
import glob
import time
from pathlib import Path

import pyarrow as pa


def corpus_texts(corpus: Path) -> list[str]:
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    texts = []
    for path in sorted(glob.glob(str(corpus / "warc" / "*.warc.gz"))):
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    text = trafilatura.extract(record.content_stream().read(), favor_precision=True)
                    if text and text.strip():
                        texts.append(text)
    return texts


def time_datatrove(texts: list[str]) -> float:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    filters = [
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
    ]
    filters.append(FineWebQualityFilter())
    start = time.process_time()
    for i, text in enumerate(texts):
        doc = Document(text=text, id=str(i))
        for f in filters:
            if f.filter(doc) is not True:
                break
    return time.process_time() - start


def time_crawlsieve(texts: list[str]) -> float:
    from crawlsieve.filters.config import FiltersConfig
    from crawlsieve.filters.stages import HeuristicFilterStage

    config = FiltersConfig(per_language_rules=False)
    config.gopher_quality.alpha_ratio_over_words = False
    n = len(texts)
    batch = pa.table(
        {"id": [str(i) for i in range(n)], "url": [""] * n, "text": texts, "language": ["en"] * n,
         "language_score": [1.0] * n}
    )  # fmt: skip
    stage = HeuristicFilterStage(config)
    start = time.process_time()
    stage(batch)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    texts = corpus_texts(args.corpus)
    chars = sum(map(len, texts))
    time_datatrove(texts[:5]), time_crawlsieve(texts[:5])  # load tokenizers outside the timing
    for name, timer in (("datatrove", time_datatrove), ("crawlsieve", time_crawlsieve)):
        best = min(timer(texts) for _ in range(args.repeat))
        rate = len(texts) / best
        print(f"{name:10s} {len(texts)} docs, {chars / 1e6:.1f} M chars: {best:.2f} s CPU, {rate:.0f} docs/s")


if __name__ == "__main__":
    main()
