"""CPU milliseconds per page by stage of phase A, warm, for groups of pages (by language, by script).

Shared by ``benchmarks.throughput`` (per language of each page mix) and
``benchmarks.multilingual_quality --sections cpu`` (per script). Each group's pages are written to
one WARC file (their own HTTP headers, so their charsets) and pushed through
``per_file_stages(config)`` in this process, outside Ray: one pass to warm models, lists and
caches, then ``repeat`` timed passes. CPU time (``time.process_time``, the extraction child's
included), not wall time: what other processes on the machine do changes it least.

Inside a stage (rows ``<stage>: <part>``, not added to the total): the extractor's own time, and
each text filter's ``signals`` in the heuristic stage. A filter's figure includes the shared
statistics (``DocStats``) it is the first to ask for: the words are split for the spam filter, the
first that counts them, and reused by the filters after it.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from benchmarks.cc_shaped import CRAWL_START, _Writer

#: One page: (url, html payload, HTTP headers), as ``cc_shaped.corpus_pages`` gives them.
Page = tuple[str, bytes, list[tuple[str, str]]]
#: The stage every filter-cost figure is about, and what it is compared with.
FILTERS, EXTRACT = "heuristic_filters", "extract"


def write_pages(path: Path, pages: list[Page]) -> Path:
    with open(path, "wb") as handle:
        writer = _Writer(handle, path.name, random.Random(0))
        for number, (url, html, headers) in enumerate(pages):
            writer.write(url, "200 OK", headers, html, CRAWL_START + timedelta(seconds=number))
    return path


def _timed(signals: Callable, seconds: dict[str, float], name: str) -> Callable:
    def timed(stats):
        started = time.process_time()
        try:
            return signals(stats)
        finally:
            seconds[name] += time.process_time() - started

    return timed


def _one_pass(warc: Path, config, clock) -> tuple[list, list]:
    from crawlsieve.core.ledger import run_stages
    from crawlsieve.filters.stages import AllSignalsFilters, HeuristicFilterStage
    from crawlsieve.ingest.extract import ExtractStage
    from crawlsieve.ingest.warc import read_warc
    from crawlsieve.pipelines.extract_phase import per_file_stages

    stages = per_file_stages(config)
    inner = [s for stage in stages if isinstance(stage, AllSignalsFilters) for s in stage.stages]
    for stage in stages + inner:
        if isinstance(stage, HeuristicFilterStage):
            for text_filter in stage.filters:
                name = f"{FILTERS}: {text_filter.name}"
                text_filter.signals = _timed(text_filter.signals, clock.seconds, name)
    batches = clock.timed("read", read_warc(str(warc), warc.name, config.read))
    docs, ledger = run_stages(batches, stages, warc.name, clock=clock)
    extract = next(s for s in stages if isinstance(s, ExtractStage))
    clock.seconds[f"{EXTRACT}: inside {config.extract.extractor}"] += extract.extractor_cpu_seconds
    return docs, ledger


def languages(pages: list[Page], config, work: Path, min_pages: int = 10) -> dict[str, list[Page]]:
    """The pages grouped by the language the pipeline gives them (one untimed pass); languages of
    fewer than ``min_pages`` pages as ``other``, pages removed before language id as ``none``."""
    from crawlsieve.core.ledger import CpuClock

    docs, ledger = _one_pass(write_pages(work / "all-pages.warc.gz", pages), config, CpuClock())
    language: dict[str, str] = {}
    for table in docs + ledger:  # a page's request and metadata records (ledger) share its url
        if "language" in table.column_names:
            codes = table.column("language").to_pylist()
            for url, code in zip(table.column("url").to_pylist(), codes, strict=True):
                if code:
                    language[url] = code
    counts = Counter(language.get(url, "none") for url, _, _ in pages)
    groups: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        code = language.get(page[0], "none")
        groups[code if counts[code] >= min_pages or code == "none" else "other"].append(page)
    return dict(sorted(groups.items(), key=lambda item: -len(item[1])))


def warm_ms_per_page(groups: dict[str, list[Page]], config, work: Path, repeat: int = 2) -> dict:
    """group -> stage -> CPU ms per page (mean of ``repeat`` warm passes); ``extract: inside
    <extractor>`` is the part of ``extract`` spent in the extractor, the rest being decoding and
    the hand-over to the extraction process."""
    from crawlsieve.core.ledger import CpuClock

    ms: dict[str, dict[str, float]] = {}
    for name, pages in groups.items():
        warc = write_pages(work / f"group-{name}.warc.gz", pages)
        _one_pass(warc, config, CpuClock())
        clock = CpuClock()
        for _ in range(repeat):
            _one_pass(warc, config, clock)
        ms[name] = {stage: s / repeat / len(pages) * 1000 for stage, s in clock.seconds.items()}
    return ms


def format_rows(rows: list[list[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def table(ms: dict[str, dict[str, float]], pages: dict[str, int]) -> str:
    """Stages as rows (costliest first, each followed by its parts), groups as columns, an ``all``
    column weighted by pages, the total, and the heuristic filters as a share of the extract stage."""
    everything = sum(pages.values())
    average: dict[str, float] = defaultdict(float)
    for name, count in pages.items():
        for stage, value in ms[name].items():
            average[stage] += value * count / everything
    ms, pages = {**ms, "all": average}, {**pages, "all": everything}
    columns = list(ms)
    inner = [s for s in average if ": " in s]
    stages = []
    for stage in sorted(set(average) - set(inner), key=lambda s: -average[s]):
        stages.append(stage)
        stages += sorted((s for s in inner if s.startswith(f"{stage}: ")), key=lambda s: -average[s])
    rows = [["ms/page (warm CPU)", *columns], ["pages", *(str(pages[c]) for c in columns)]]
    for stage in stages:
        label = "  " + stage.split(": ", 1)[1] if stage in inner else stage
        rows.append([label, *(f"{ms[c].get(stage, 0.0):.2f}" for c in columns)])
    rows.append(["total", *(f"{sum(v for s, v in ms[c].items() if s not in inner):.2f}" for c in columns)])
    shares = [ms[c].get(FILTERS, 0.0) / ms[c][EXTRACT] if ms[c].get(EXTRACT) else None for c in columns]
    rows.append([f"{FILTERS} / {EXTRACT}", *("–" if x is None else f"{100 * x:.0f}%" for x in shares)])
    return format_rows(rows)
