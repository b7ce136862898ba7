"""stats.json: the funnel of a run, with the accounting check.

Built from the per-file summaries (``quality.summaries``) alone, so the driver's work grows with
the number of files, not records. `records_read` comes from the readers' own counts (rows the
reader emitted, one per WARC record plus one per damaged stretch), while kept, removed and failed
are counted by the tasks from what they wrote (the shards and the ledgers). So the check
`records_read == kept + removed + failed` catches any row lost or duplicated after reading;
that the reader emits a row for every record is what the fuzz and malformed-file tests check.

A reviewer thinks in pages: two thirds of a Common Crawl file's records are requests and metadata.
So stats.json also has `pages_read` (HTTP responses read), the other records beside them
(`other_records`: not responses, and damaged stretches of files) and `pages_kept_share`.

`inputs_unfinished` counts the input files a server stopped serving (an `unfinished_file` row
each): what was read of them is counted, so the accounting closes, but the run is not done.

A reviewer of a mixed crawl asks "what did we keep of Chinese?" first: `breakdowns` has the same
counts per value of each breakdown column (``summaries.BREAKDOWN_COLUMNS``), from the summaries
too; over a column's values they add up to the run's. And "which thresholds judged it?":
`language_settings` has, per language, the documents each settings table judged
(``{"zh": {"fineweb2:cmn_Hani": 35}, "en": {"crawlsieve default": 120}}``), from the tasks' counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from crawlsieve.core.io import write_json_atomically
from crawlsieve.core.layout import RunLayout
from crawlsieve.core.ledger import DAMAGE_KINDS, NOT_RESPONSE, UNFINISHED_FILE
from crawlsieve.core.stages import LANGUAGE_SETTINGS
from crawlsieve.quality.config import ReportConfig
from crawlsieve.quality.summaries import KEPT, RunSummary, merge_run


def cost(cpu_seconds: dict[str, float], pages_read: int, report: ReportConfig) -> dict:
    """What the run cost in CPU time, per stage and per 1,000 pages, and projected to a dump.

    ``cpu_seconds``: CPU seconds by part, summed over every worker (and the driver's own). The
    projection scales the run's CPU time per page to ``report.dump_pages`` pages; it leaves out
    what does not grow with pages the same way (Ray's start) only in as far as the run was large.
    """
    total = sum(cpu_seconds.values())
    per_page = total / pages_read if pages_read else 0.0
    core_hours = per_page * report.dump_pages / 3600
    price = report.price_per_core_hour
    return {
        "cpu_seconds": {name: round(s, 3) for name, s in sorted(cpu_seconds.items(), key=lambda kv: -kv[1])},
        "cpu_seconds_total": round(total, 3),
        "core_seconds_per_1000_pages": round(1000 * per_page, 3),
        "dump": {
            "pages": report.dump_pages,
            "core_hours": round(core_hours, 1),
            "price_per_core_hour": price,
            "cost": None if price is None else round(core_hours * price, 2),
            "currency": report.currency,
        },
    }


def _ranked(counter: Counter) -> dict:
    """Most frequent first, ties by name: the same order whatever order the files merged in."""
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def language_settings(counters: Counter) -> tuple[dict, Counter]:
    """stats.json ``language_settings`` (language -> settings -> documents judged) from the run's
    counters ``language_settings:<language>=<settings>``, and the other counters."""
    settings: dict[str, Counter] = defaultdict(Counter)
    others: Counter = Counter()
    for key, count in counters.items():
        kind, _, rest = key.partition(":")
        if kind == LANGUAGE_SETTINGS:
            language, _, label = rest.partition("=")
            settings[language][label] += count
        else:
            others[key] = count
    return {language: _ranked(settings[language]) for language in sorted(settings)}, others


def pages_of(records: int, removed: dict, failed: dict) -> int:
    """The pages among records: not the requests and metadata, nor the damaged stretches."""
    damaged = sum(n for kind, n in failed.items() if kind in DAMAGE_KINDS)
    return records - removed.get(NOT_RESPONSE, 0) - damaged


def breakdowns(run: RunSummary) -> dict:
    """column -> value -> its funnel (records, pages, kept, removed by reason, failed by kind),
    values by records, the most first."""
    counts: dict = defaultdict(
        lambda: defaultdict(lambda: {"kept": 0, "removed": Counter(), "failed": Counter()})
    )
    for (column, value, outcome), n in run.breakdown().items():
        if outcome == KEPT:
            counts[column][value]["kept"] += n
        elif outcome.startswith("failed:"):
            counts[column][value]["failed"][outcome.removeprefix("failed:")] += n
        else:
            counts[column][value]["removed"][outcome] += n
    out = {}
    for column, values in sorted(counts.items()):
        rows = {}
        for value, c in values.items():
            records = c["kept"] + sum(c["removed"].values()) + sum(c["failed"].values())
            rows[value] = {
                "records_read": records,
                "pages_read": pages_of(records, c["removed"], c["failed"]),
                "documents_kept": c["kept"],
                "removed": _ranked(c["removed"]),
                "failed": _ranked(c["failed"]),
            }
        out[column] = dict(sorted(rows.items(), key=lambda kv: (-kv[1]["records_read"], kv[0])))
    return out


def build_stats(
    output_dir: Path,
    stage_order: list[str],
    extra: dict | None = None,
    report: ReportConfig | None = None,
    run: RunSummary | None = None,
) -> dict:
    """Compute the funnel from the run's per-file summaries and write DIR/stats.json.

    ``extra`` may hold ``other_cpu_seconds`` (dedup, the driver): they join the tasks' CPU seconds.
    """
    extra = dict(extra or {})
    run = run or merge_run(output_dir, (report or ReportConfig()).review_per_reason)
    read_per_input = run.read_per_input
    removed: Counter = Counter()
    failed: Counter = Counter()
    by_stage: dict[str, dict[str, Counter]] = defaultdict(lambda: {"removed": Counter(), "failed": Counter()})
    by_input: dict[str, dict[str, Counter]] = defaultdict(lambda: {"removed": Counter(), "failed": Counter()})
    for (warc_path, stage, reason, kind), n in run.decided.items():  # _ranked orders each count
        if kind:
            failed[kind] += n
            by_stage[stage]["failed"][kind] += n
            by_input[warc_path]["failed"][kind] += n
        else:
            reason = reason or "unknown"
            removed[reason] += n
            by_stage[stage]["removed"][reason] += n
            by_input[warc_path]["removed"][reason] += n

    kept_per_input = run.kept_per_input
    records_read = sum(read_per_input.values())
    kept = sum(kept_per_input.values())
    closes = records_read == kept + sum(removed.values()) + sum(failed.values())

    stages = []
    alive = records_read
    for name in [*stage_order, *sorted(s for s in by_stage if s not in stage_order)]:
        counts = by_stage.get(name, {"removed": Counter(), "failed": Counter()})
        out = alive - sum(counts["removed"].values()) - sum(counts["failed"].values())
        stages.append(
            {
                "name": name,
                "in": alive,
                "out": out,
                "removed": _ranked(counts["removed"]),
                "failed": _ranked(counts["failed"]),
            }
        )
        alive = out

    inputs = {}
    for warc_path in sorted(set(read_per_input) | set(by_input) | set(kept_per_input)):
        counts = by_input.get(warc_path, {"removed": Counter(), "failed": Counter()})
        inputs[warc_path] = {
            "records_read": read_per_input.get(warc_path, 0),
            "documents_kept": kept_per_input.get(warc_path, 0),
            "removed": _ranked(counts["removed"]),
            "failed": _ranked(counts["failed"]),
        }
        row = inputs[warc_path]
        row["accounting_closes"] = row["records_read"] == row["documents_kept"] + sum(
            row["removed"].values()
        ) + sum(row["failed"].values())

    other_records = removed.get(NOT_RESPONSE, 0)
    damaged = sum(n for kind, n in failed.items() if kind in DAMAGE_KINDS)
    pages_read = pages_of(records_read, removed, failed)
    settings, counters = language_settings(run.counters)
    stats = {
        "records_read": records_read,
        "pages_read": pages_read,
        "other_records": {"not_response": other_records, "damaged_stretches": damaged},
        "documents_kept": kept,
        "pages_kept_share": round(kept / pages_read, 6) if pages_read else 0.0,
        "removed": _ranked(removed),
        "failed": _ranked(failed),
        "accounting_closes": closes,
        "inputs_unfinished": sum(1 for row in inputs.values() if UNFINISHED_FILE in row["failed"]),
        "stages": stages,
        "counters": _ranked(counters),
        "language_settings": settings,
        "breakdowns": breakdowns(run),
        "inputs": inputs,
        "cost": cost(
            {**run.cpu_seconds, **extra.pop("other_cpu_seconds", {})},
            pages_read,
            report or ReportConfig(),
        ),
        **extra,
    }
    write_json_atomically(stats, RunLayout(output_dir).stats, sort_keys=False)
    return stats
