"""DIR/report.html and `crawlsieve report DIR`: the page a data reviewer opens to judge a run.

The report reads only the run's small summaries: stats.json, mixture.json,
distributions.json (written by `quality.distributions`), the first lines of the review
samples and review/precision.json. It never scans the corpus, so it builds in seconds for
any run size.

One self-contained file: styles, data and plotly.js are inlined, the page makes no network
request. Every table is plain HTML so the numbers read without JavaScript; the charts are
plotly figures drawn from one JSON block.

Security: all text comes from untrusted web pages. The Jinja2 template autoescapes every
value, the chart JSON is escaped so `</script>` inside it cannot end its element, chart
labels are entity-escaped (plotly renders a subset of HTML in labels), and only http(s)
URLs become links.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import math
import re
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from functools import cache
from itertools import islice
from pathlib import Path
from urllib.parse import urlsplit

from crawlsieve.core.io import read_json, write_bytes_atomically
from crawlsieve.core.layout import RunLayout
from crawlsieve.core.ledger import DAMAGE_KINDS, NOT_RESPONSE
from crawlsieve.core.stages import SAFETY_TAGS
from crawlsieve.quality.config import ReportConfig
from crawlsieve.quality.summaries import NO_VALUE

HELP = "(Re)build DIR/report.html, the reviewer's report, from a run's output directory."

KEPT_COLOR, REMOVED_COLOR, FAILED_COLOR = "#2e7d32", "#c62828", "#6d4c41"
MAX_CHART_CATEGORIES = 30
#: Per value of a breakdown column: its main removal reasons in the table, and the reasons drawn
#: in its chart (the rest of them together as "other reasons").
BREAKDOWN_REASONS_SHOWN, BREAKDOWN_REASONS_CHARTED = 3, 6
#: Colors of the charted reasons of a funnel per language (kept is KEPT_COLOR).
#: Reasons (``failed:<kind>`` for failures) that count records which are not pages: requests and
#: metadata, damaged stretches of files. The funnel shows them beside the pages, not among them.
NOT_PAGES = frozenset({NOT_RESPONSE, *(f"failed:{kind}" for kind in DAMAGE_KINDS)})
REASON_COLORS = ("#c62828", "#ef6c00", "#f9a825", "#6a1b9a", "#1565c0", "#00838f", "#9e9e9e")
MAX_SIGNALS_PER_EXAMPLE = 8
#: The PII counters of stats.json (``pii:<key>``) the report shows, in order.
PII_COUNTERS = ("emails", "ips", "documents", "kept_private", "kept_documentation")
#: Characters that must not appear raw inside a <script> element or a JS string.
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory", metavar="DIR", help="output directory of `crawlsieve run` (or of `mix --materialize`)"
    )
    parser.add_argument(
        "--skip-distributions",
        action="store_true",
        help="reuse DIR/distributions.json instead of recomputing it from the Parquet outputs",
    )


def main(args: argparse.Namespace) -> int:
    from crawlsieve.core.errors import UsageError
    from crawlsieve.quality.distributions import build_distributions

    output_dir = Path(args.directory)
    layout = RunLayout(output_dir)
    if not (layout.stats.is_file() or layout.plan.is_file()):
        raise UsageError(
            f"{output_dir} holds no stats.json: is it the --output of `crawlsieve run` "
            "(or of `mix --materialize`)?"
        )
    started = time.monotonic()
    if not (args.skip_distributions and layout.distributions.is_file()):
        build_distributions(output_dir)
    path = build_report(output_dir)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s)")
    return 0


# --- escaping ---------------------------------------------------------------------------------


def script_json(value) -> str:
    """JSON that is safe inside <script>: no `<`, `>`, `&` or line separators left raw."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escaped in _SCRIPT_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def chart_label(value) -> str:
    """A category label for plotly, which renders a subset of HTML in labels: entity-escape it."""
    return html.escape(str(value), quote=True)


def safe_href(url) -> str | None:
    """The URL if a click on it can only open a web page (http/https), else None (shown as text)."""
    if not isinstance(url, str) or any(ord(c) < 33 or c in "\"'<>`\\" for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


# --- reading the run's summaries --------------------------------------------------------------


def _read_json(path: Path) -> dict:
    """A summary the report shows: absent, it is empty (an older run, a sampled output); damaged,
    the report is refused naming it (an empty section would hide the damage)."""
    return read_json(path) if path.is_file() else {}


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _read_jsonl_head(path: Path, limit: int) -> list[dict]:
    """The first `limit` well-formed lines of a review sample (the file may be larger)."""
    if not path.is_file() or limit <= 0:
        return []
    rows = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in islice(handle, limit * 2):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
            if len(rows) == limit:
                break
    return rows


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _number(value) -> str:
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


# --- sections ---------------------------------------------------------------------------------


class ReportBuilder:
    """Turns the run's summaries into the template's context and the chart figures."""

    def __init__(self, output_dir: Path, config: ReportConfig):
        self.output_dir = output_dir
        self.config = config
        layout = RunLayout(output_dir)
        self.stats = _read_json(layout.stats)
        self.mixture = _read_json(layout.mixture)
        self.distributions = _read_json(layout.distributions)
        self.precision = _read_json(layout.precision)
        self.plan = _read_json(layout.plan)  # in a `mix --materialize` output
        self.charts: dict[str, dict] = {}

    def chart(self, chart_id: str, data: list[dict], layout: dict) -> str:
        base = {
            "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
            "height": 340,
            "legend": {"orientation": "h"},
            "font": {"size": 12},
        }
        self.charts[chart_id] = {"data": data, "layout": {**base, **layout}}
        return chart_id

    def context(self) -> dict:
        return {
            "run": self.run_info(),
            "funnel": self.funnel(),
            "reasons": self.reasons(),
            "text_checks": self.text_checks_section(),
            "spam": self.spam_section(),
            "distributions": self.distribution_section(),
            "mixture": self.mixture_section(),
            "duplicates": self.duplicates_section(),
            "clusters": self.clusters_section(),
            "inputs": self.inputs_section(),
            "cost": self.cost_section(),
            "charts_json": script_json(self.charts),
        }

    def cost_section(self) -> dict | None:
        """CPU seconds by part, per 1,000 pages, and the dump projection (``stats.json`` ``cost``)."""
        cost = self.stats.get("cost")
        if not cost:
            return None
        total = cost.get("cpu_seconds_total") or 0.0
        dump = cost.get("dump") or {}
        parts = [
            {"name": name, "seconds": f"{seconds:,.1f}", "share": _pct(seconds, total)}
            for name, seconds in (cost.get("cpu_seconds") or {}).items()
        ]
        price = dump.get("price_per_core_hour")
        return {
            "total": f"{total:,.1f}",
            "per_1000_pages": f"{cost.get('core_seconds_per_1000_pages', 0):,.1f}",
            "dump_pages": f"{(dump.get('pages') or 0) / 1e9:g} billion",
            "core_hours": f"{dump.get('core_hours', 0):,.0f}",
            "price": None if price is None else f"{price:g} {dump.get('currency', '')}",
            "dump_cost": None
            if dump.get("cost") is None
            else f"{dump['cost']:,.0f} {dump.get('currency', '')}",
            "parts": parts,
        }

    def run_info(self) -> dict:
        stats = self.stats
        return {
            "directory": str(self.output_dir.resolve()),
            "version": stats.get("version", "–"),
            "started": stats.get("started", "–"),
            "duration": _number(stats.get("duration_seconds")),
            "inputs": len(stats.get("inputs") or {}),
            "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def accounting(self) -> dict:
        stats = self.stats
        read = int(stats.get("records_read") or 0)
        kept = int(stats.get("documents_kept") or 0)
        removed = sum((stats.get("removed") or {}).values())
        failed = sum((stats.get("failed") or {}).values())
        total = kept + removed + failed
        pages, other, damaged = self._pages()
        # Recomputed here: the report flags a stats.json whose own flag disagrees with its numbers.
        closes = read == total and stats.get("accounting_closes", True) is not False
        return {
            "read": _number(read),
            "kept": _number(kept),
            "removed": _number(removed),
            "failed": _number(failed),
            "total": _number(total),
            "difference": _number(read - total),
            "closes": closes,
            "kept_share": _pct(kept, read),
            "pages": _number(pages),
            "other_records": _number(other),
            "damaged": _number(damaged),
            "pages_kept_share": _pct(kept, pages),
        }

    def _pages(self) -> tuple[int, int, int]:
        """(pages read, other records, damaged stretches); derived for a stats.json without them."""
        stats = self.stats
        other = stats.get("other_records") or {}
        not_response = int(other.get("not_response", (stats.get("removed") or {}).get(NOT_RESPONSE, 0)))
        damaged = other.get("damaged_stretches")
        if damaged is None:
            damaged = sum(n for kind, n in (stats.get("failed") or {}).items() if kind in DAMAGE_KINDS)
        read = int(stats.get("records_read") or 0)
        pages = int(stats.get("pages_read", read - not_response - int(damaged)))
        return pages, not_response, int(damaged)

    def page_stages(self) -> list[dict]:
        """The stages counted in pages: the reader's damage rows and the HTTP check's non-responses
        are records but not pages, so they leave the funnel before it starts."""
        pages, _, _ = self._pages()
        rows, alive = [], pages
        for stage in self.stats.get("stages") or []:
            removed = {k: n for k, n in (stage.get("removed") or {}).items() if k != NOT_RESPONSE}
            failed = {k: n for k, n in (stage.get("failed") or {}).items() if k not in DAMAGE_KINDS}
            out = alive - sum(removed.values()) - sum(failed.values())
            rows.append(
                {
                    "name": stage.get("name", "?"),
                    "in": alive,
                    "removed": removed,
                    "failed": failed,
                    "out": out,
                }
            )
            alive = out
        return rows

    def funnel(self) -> dict:
        pages, _, _ = self._pages()
        stages = self.page_stages()
        rows = [
            {
                "name": stage["name"],
                "in": _number(stage["in"]),
                "removed": _number(sum(stage["removed"].values())),
                "failed": _number(sum(stage["failed"].values())),
                "out": _number(stage["out"]),
                "out_share": _pct(stage["out"], pages),
            }
            for stage in stages
        ]
        chart = self.chart(
            "funnel",
            [
                {
                    "type": "funnel",
                    "y": [chart_label(s["name"]) for s in stages],
                    "x": [s["out"] for s in stages],
                    "textinfo": "value+percent initial",
                    "marker": {"color": "#1565c0"},
                }
            ],
            {
                "title": {"text": "Pages left after each stage"},
                "height": max(300, 45 * len(stages)),
                "margin": {"l": 140, "r": 20, "t": 40, "b": 40},  # room for stage names
            },
        )
        return {
            "rows": rows,
            "accounting": self.accounting(),
            "chart": chart,
            "breakdowns": [
                self.breakdown_section(column, _mapping(values))
                for column, values in _mapping(self.stats.get("breakdowns")).items()
            ],
        }

    def breakdown_section(self, column: str, values: dict) -> dict:
        """The funnel per value of ``column`` (stats.json ``breakdowns``) in pages: what was kept of
        each, and why the rest went. The most frequent values have a row each, the others one
        together, and the last row adds them all up: it is the funnel's own pages and kept."""
        funnels = {str(value): _page_funnel(_mapping(counts)) for value, counts in values.items()}
        funnels = {value: f for value, f in funnels.items() if f["pages"]}
        named = sorted((v for v in funnels if v != NO_VALUE), key=lambda v: (-funnels[v]["pages"], v))
        shown = named[: MAX_CHART_CATEGORIES - 1]
        rows = [(value, funnels[value]) for value in shown]
        rest = named[len(shown) :]
        if rest:
            rows.append((f"{len(rest)} more {column} values", _add_funnels([funnels[v] for v in rest])))
        if NO_VALUE in funnels:
            rows.append((NO_VALUE, funnels[NO_VALUE]))
        total = _add_funnels([f for _, f in rows])
        charted = [r for r, _ in _ranked_reasons(total["reasons"])[:BREAKDOWN_REASONS_CHARTED]]
        labels = [
            chart_label(f"{value} ({f['pages']:,} page{'' if f['pages'] == 1 else 's'})")
            for value, f in reversed(rows)
        ]
        traces = [
            {"type": "bar", "orientation": "h", "name": "kept", "y": labels,
             "x": [f["kept"] for _, f in reversed(rows)], "marker": {"color": KEPT_COLOR}},
            *(
                {"type": "bar", "orientation": "h", "name": chart_label(reason), "y": labels,
                 "x": [f["reasons"].get(reason, 0) for _, f in reversed(rows)],
                 "marker": {"color": REASON_COLORS[i]}}
                for i, reason in enumerate(charted)
            ),
            {"type": "bar", "orientation": "h", "name": "other reasons", "y": labels,
             "x": [sum(n for r, n in f["reasons"].items() if r not in charted) for _, f in reversed(rows)],
             "marker": {"color": REASON_COLORS[-1]}},
        ]  # fmt: skip
        chart = self.chart(
            f"funnel-{column}",
            traces,
            {
                "title": {"text": chart_label(f"What became of each {column}'s pages")},
                "barmode": "stack",
                "barnorm": "percent",
                "legend": {"orientation": "h", "traceorder": "normal"},  # kept first, as stacked
                "xaxis": {"ticksuffix": "%"},
                "height": max(300, 26 * len(rows) + 140),
                "margin": {"l": 200, "r": 20, "t": 40, "b": 40},
            },
        )
        # Which thresholds judged each language's pages (stats.json language_settings).
        settings = _mapping(self.stats.get("language_settings")) if column == "language" else {}
        return {
            "column": column,
            "no_value": NO_VALUE,
            "chart": chart,
            "settings": bool(settings),
            "rows": [_breakdown_row(value, f, settings.get(value)) for value, f in rows],
            "total": _breakdown_row("all", total),
        }

    def reasons(self) -> dict:
        read = int(self.stats.get("records_read") or 0)
        stage_of = {}
        for stage in self.stats.get("stages") or []:
            for reason in [
                *(stage.get("removed") or {}),
                *(f"failed:{k}" for k in stage.get("failed") or {}),
            ]:
                stage_of.setdefault(reason, stage.get("name"))
        counts = [(reason, n, "removed") for reason, n in (self.stats.get("removed") or {}).items()]
        counts += [(f"failed:{kind}", n, "failed") for kind, n in (self.stats.get("failed") or {}).items()]
        counts.sort(key=lambda item: (-item[1], item[0]))
        removed_total = sum(n for _, n, _ in counts)
        per_reason = (self.precision.get("reasons") or {}) if self.precision else {}
        layout = RunLayout(self.output_dir)
        rows = []
        for reason, n, kind in counts:
            examples = _read_jsonl_head(layout.review_removed(reason), self.config.examples_per_reason)
            rows.append(
                {
                    "reason": reason,
                    "kind": kind,
                    "stage": stage_of.get(reason, "–"),
                    "count": _number(n),
                    "share_read": _pct(n, read),
                    "share_removed": _pct(n, removed_total),
                    "precision": _precision_cells(per_reason.get(reason)),
                    "examples": [self.example(row, reason) for row in examples],
                }
            )
        # Requests, metadata and damaged stretches are records, not pages: beside the funnel, not in
        # the chart, where hundreds of them dwarfed every reason a page was removed for.
        top = [c for c in counts if c[0] not in NOT_PAGES][:MAX_CHART_CATEGORIES]
        chart = self.chart(
            "reasons",
            [
                {
                    "type": "bar",
                    "orientation": "h",
                    "y": [chart_label(r) for r, _, _ in reversed(top)],
                    "x": [n for _, n, _ in reversed(top)],
                    "marker": {
                        "color": [
                            FAILED_COLOR if k == "failed" else REMOVED_COLOR for _, _, k in reversed(top)
                        ]
                    },
                }
            ],
            {
                "title": {"text": "Pages removed or failed, by reason"},
                "height": max(300, 28 * len(top) + 80),
                "margin": {"l": 260, "r": 20, "t": 40, "b": 40},
            },
        )
        kept = _read_jsonl_head(RunLayout(self.output_dir).review_kept, self.config.examples_per_reason)
        return {
            "rows": rows,
            "kept_examples": [self.example(row, "kept") for row in kept],
            "chart": chart if top else None,
            "not_pages": [f"{reason} {_number(n)}" for reason, n, _ in counts if reason in NOT_PAGES],
            "precision": self.precision_section(),
            "what_if": self.what_if_section(),
        }

    def what_if_section(self) -> dict | None:
        """Per filter threshold, the documents it alone removes at its value and a few steps either
        side (``stats.json`` ``what_if``, counted per file by the tasks)."""
        rules = self.stats.get("what_if") or []
        if not rules:
            return None
        steps = [entry["step"] for entry in rules[0]["removed_at"]]
        rows = [
            {
                "threshold": rule["threshold"],
                "signal": rule["signal"],
                "removes": rule["removes"],
                "cells": [
                    {"value": f"{entry['value']:.4g}", "documents": _number(entry["documents"]),
                     "current": entry["step"] == 1.0}
                    for entry in rule["removed_at"]
                ],
            }
            for rule in rules
        ]  # fmt: skip
        return {"steps": [f"×{step:g}" for step in steps], "rows": rows}

    def example(self, row: dict, reason: str) -> dict:
        text = str(row.get("text") or "")
        limit = self.config.example_text_chars
        return {
            "url": str(row.get("url") or ""),
            "href": safe_href(row.get("url")),
            "id": str(row.get("id") or ""),
            "text": text[:limit],
            "truncated": len(text) > limit,
            "language": row.get("language") or "–",
            "language_score": _number(row.get("language_score")),
            "quality_score": _number(row.get("quality_score")),
            "signals": _relevant_signals(row.get("signals") or {}, reason),
            "match": row.get("match"),
        }

    def text_checks_section(self) -> dict | None:
        """PII found (stats.json ``counters``) and documents sharing an n-gram with a benchmark, per
        benchmark, with the n-grams matched by the review samples (removed, or kept when tagged)."""
        counters = self.stats.get("counters") or {}
        pii = {k.removeprefix("pii:"): n for k, n in counters.items() if k.startswith("pii:")}
        matched = {
            k.removeprefix("decontamination:"): n
            for k, n in counters.items()
            if k.startswith("decontamination:")
        }
        if not pii and not matched:
            return None
        config = (self.stats.get("config") or {}).get("filters") or {}
        layout = RunLayout(self.output_dir)
        kept = _read_jsonl_head(layout.review_kept, self.config.review_per_reason)
        removed = self.stats.get("removed") or {}
        benchmarks = []
        for name, n in sorted(matched.items(), key=lambda kv: (-kv[1], kv[0])):
            reason = f"decontamination:{name}"
            samples = _read_jsonl_head(layout.review_removed(reason), self.config.review_per_reason)
            prefix = f"{name}: "
            ngrams = [
                str(row["match"]).removeprefix(prefix)
                for row in [*samples, *kept]
                if str(row.get("match") or "").startswith(prefix)
            ]
            benchmarks.append(
                {
                    "name": name,
                    "matched": _number(n),
                    "removed": _number(removed.get(reason, 0)),
                    "ngrams": list(dict.fromkeys(ngrams))[: self.config.examples_per_reason],
                }
            )
        return {
            "pii": {key: _number(pii.get(key, 0)) for key in PII_COUNTERS} if pii else None,
            "pii_mode": (config.get("pii") or {}).get("mode", "replace"),
            "benchmarks": benchmarks,
            "decontamination_mode": (config.get("decontamination") or {}).get("mode", "drop"),
        }

    def spam_section(self) -> dict | None:
        """Per spam and safety category: documents removed (``spam:<category>``) and kept with its
        domain tag (mixture.json), with examples of both (review/removed, review/tagged)."""
        config = ((self.stats.get("config") or {}).get("filters") or {}).get("spam") or {}
        removed = {k: n for k, n in (self.stats.get("removed") or {}).items() if k.startswith("spam:")}
        tagged = _totals_by([g for g in self.mixture.get("groups") or [] if isinstance(g, dict)], "domain")
        if config.get("mode", "off") == "off" and not removed:
            return None
        layout = RunLayout(self.output_dir)
        limit = self.config.examples_per_reason
        rows = []
        for category, tag in (("gambling_seo", None), *((t, t) for t in SAFETY_TAGS)):
            reason = f"spam:{category}"
            examples = [
                {**self.example(row, reason), "outcome": "removed"}
                for row in _read_jsonl_head(layout.review_removed(reason), limit)
            ]
            if tag:
                examples += [
                    {**self.example(row, reason), "outcome": "kept"}
                    for row in _read_jsonl_head(layout.review_tagged(tag), limit)
                ]
            rows.append(
                {
                    "category": category,
                    "tag": tag or "–",
                    "removed": _number(removed.get(reason, 0)),
                    "kept": _number(tagged.get(tag, {}).get("documents", 0)) if tag else "–",
                    "dropped": category in (config.get("drop") or []) and config.get("mode") == "drop",
                    "examples": examples,
                }
            )
        return {"mode": config.get("mode", "off"), "drop": config.get("drop") or [], "rows": rows}

    def precision_section(self) -> dict | None:
        if not self.precision:
            return None
        confidence = self.precision.get("confidence", self.config.confidence)
        filters = self.precision.get("filters") or {}
        rows = [{"filter": name, **_precision_cells(values)} for name, values in filters.items()]
        names = list(filters)
        chart = self.chart(
            "precision",
            [
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": [filters[n]["precision"] for n in names],
                    "y": [chart_label(n) for n in names],
                    "error_x": {
                        "type": "data",
                        "symmetric": False,
                        "array": [filters[n]["high"] - filters[n]["precision"] for n in names],
                        "arrayminus": [filters[n]["precision"] - filters[n]["low"] for n in names],
                    },
                    "marker": {"size": 10, "color": REMOVED_COLOR},
                }
            ],
            {
                "title": {"text": f"Estimated precision per filter ({confidence:.0%} Wilson interval)"},
                "xaxis": {"range": [0, 1], "tickformat": ".0%"},
                "height": max(240, 40 * len(names) + 100),
                "margin": {"l": 200, "r": 20, "t": 40, "b": 40},
            },
        )
        kept = self.precision.get("kept")
        return {
            "confidence": f"{confidence:.0%}",
            "rows": rows,
            "chart": chart if names else None,
            "kept": _precision_cells(kept, share_of="good") if kept else None,
            "labels_file": self.precision.get("labels_file", "–"),
            "labelled": _number(self.precision.get("labelled")),
            "unmatched": _number(self.precision.get("unmatched")),
        }

    def distribution_section(self) -> dict:
        columns = self.distributions.get("columns") or {}
        items = []
        for name, column in columns.items():
            groups = column.get("groups") or {}
            if not groups:
                continue
            items.append(
                {
                    "id": name,
                    "label": column.get("label", name),
                    "chart": self.distribution_chart(name, column),
                    "rows": [
                        {
                            "group": group,
                            "n": _number(values.get("n")),
                            "mean": _number(values.get("mean")),
                            "min": _number(values.get("min")),
                            "max": _number(values.get("max")),
                        }
                        for group, values in groups.items()
                    ],
                }
            )
        notes = self.distributions.get("notes") or {}
        return {"items": items, "notes": list(notes.values()), "missing": not self.distributions}

    def distribution_chart(self, name: str, column: dict) -> str:
        edges = column.get("edges") or []
        colors = {"kept": KEPT_COLOR, "passed_filters": KEPT_COLOR, "removed": REMOVED_COLOR}
        traces = []
        for group, values in (column.get("groups") or {}).items():
            if group.startswith("removed:"):
                continue  # per-stage counts stay in distributions.json; the chart compares the two sides
            counts = values.get("counts") or []
            total = sum(counts) or 1
            shares = [c / total for c in counts]
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "line": {"shape": "hv", "color": colors.get(group, "#555")},
                    "fill": "tozeroy",
                    "name": chart_label(f"{group} (n={values.get('n', 0):,})"),
                    "x": edges,
                    "y": [*shares, shares[-1] if shares else 0],
                }
            )
        layout = {
            "title": {"text": chart_label(column.get("label", name))},
            "yaxis": {"tickformat": ".0%", "title": {"text": "share of documents"}},
            "xaxis": {"type": "log" if column.get("scale") == "log" else "linear"},
            "height": 300,
        }
        return self.chart(f"dist-{name}", traces, layout)

    def mixture_section(self) -> dict:
        groups = [g for g in self.mixture.get("groups") or [] if isinstance(g, dict)]
        by_domain, by_language = _totals_by(groups, "domain"), _totals_by(groups, "language")
        by_genre = _totals_by(groups, "genre")
        sites = self.mixture.get("top_sites") or self.distributions.get("top_sites") or []
        sites = [s for s in sites if isinstance(s, list | tuple) and len(s) >= 2][: self.config.top_sites]
        charts = [
            self.share_chart("mix-domain", "Share of documents and tokens per domain", by_domain),
            self.share_chart("mix-language", "Share of documents and tokens per language", by_language),
            self.share_chart("mix-genre", "Share of documents and tokens per genre", by_genre),
        ]
        shares = len(charts)
        if sites:
            charts.append(
                self.chart(
                    "mix-sites",
                    [
                        {
                            "type": "bar",
                            "orientation": "h",
                            "y": [chart_label(s) for s, _ in reversed(sites[:MAX_CHART_CATEGORIES])],
                            "x": [n for _, n in reversed(sites[:MAX_CHART_CATEGORIES])],
                            "marker": {"color": KEPT_COLOR},
                        }
                    ],
                    {
                        "title": {"text": "Top sites by kept documents"},
                        "height": max(300, 24 * len(sites[:MAX_CHART_CATEGORIES]) + 80),
                        "margin": {"l": 200, "r": 20, "t": 40, "b": 40},
                    },
                )
            )
        totals = self.mixture.get("totals") or {}
        return {
            "missing": not self.mixture,
            "charts": charts if groups else charts[shares:],
            "groups": [
                {
                    "domain": g.get("domain", "–"),
                    "language": g.get("language", "–"),
                    "genre": g.get("genre", "–"),
                    "documents": _number(g.get("documents")),
                    "tokens": _number(g.get("tokens")),
                    "bytes": _number(g.get("bytes")),
                    "mean_quality": _number(g.get("mean_quality")),
                    "weight": _pct(g.get("weight") or 0, 1),
                }
                for g in sorted(groups, key=lambda g: -(g.get("tokens") or 0))
            ],
            "by_domain": _total_rows(by_domain),
            "by_language": _total_rows(by_language),
            "by_genre": _total_rows(by_genre),
            "totals": {
                key: _number(value) for key, value in totals.items() if not isinstance(value, dict | list)
            },
            "tokens_estimated": bool(self.mixture.get("tokens_estimated")),
            "sites": [{"site": s, "documents": _number(n)} for s, n in sites],
            "fit": self.fit_section(),
        }

    def fit_section(self) -> dict | None:
        """The law fitted by `mix --fit` that chose this mixture: its errors and the chosen shares."""
        fit = _mapping(self.plan.get("fit"))
        if not fit:
            return None
        eval_sets, chosen, best = (_mapping(fit.get(key)) for key in ("eval_sets", "chosen", "best_run"))
        shares, binding = _mapping(chosen.get("shares")), _mapping(chosen.get("binding"))
        return {
            "method": str(fit.get("method", "–")),
            "runs": _number(fit.get("runs")),
            "held_out": str(fit.get("held_out") or "none"),
            "eval_sets": [
                {
                    "name": str(name),
                    "weight": _number(e.get("weight")),
                    "rmse": _number(e.get("rmse")),
                    "held_out_rmse": _number(e.get("held_out_rmse")),
                    "predicted": _number(e.get("predicted_loss")),
                }
                for name, e in eval_sets.items()
                if isinstance(e, dict)
            ],
            "shares": [
                {"column": str(c), "share": _number(v), "binds": str(binding.get(c, ""))}
                for c, v in shares.items()
            ],
            "predicted": _number(chosen.get("predicted_loss")),
            "best_run": str(best.get("run", "–")),
            "best_loss": _number(best.get("loss")),
            "best_fitted": _number(best.get("fitted")),
        }

    def share_chart(self, chart_id: str, title: str, totals: dict[str, dict]) -> str:
        names = sorted(totals, key=lambda k: -totals[k]["documents"])[:MAX_CHART_CATEGORIES]
        all_docs = sum(v["documents"] for v in totals.values()) or 1
        all_tokens = sum(v["tokens"] for v in totals.values()) or 1
        labels = [chart_label(n) for n in names]
        data = [
            {
                "type": "bar",
                "name": "documents",
                "x": labels,
                "y": [totals[n]["documents"] / all_docs for n in names],
                "customdata": [totals[n]["documents"] for n in names],
                "hovertemplate": "%{x}: %{customdata:,} documents (%{y:.1%})<extra></extra>",
            },
            {
                "type": "bar",
                "name": "tokens",
                "x": labels,
                "y": [totals[n]["tokens"] / all_tokens for n in names],
                "customdata": [totals[n]["tokens"] for n in names],
                "hovertemplate": "%{x}: %{customdata:,} tokens (%{y:.1%})<extra></extra>",
            },
        ]
        return self.chart(
            chart_id, data, {"title": {"text": title}, "barmode": "group", "yaxis": {"tickformat": ".0%"}}
        )

    def duplicates_section(self) -> dict:
        dup = self.distributions.get("duplicates") or {}
        sizes = {str(k): int(v) for k, v in (dup.get("size_counts") or {}).items()}
        ordered = sorted(sizes, key=lambda s: int(s) if s.isdigit() else 0)
        chart = self.chart(
            "dup-sizes",
            [
                {
                    "type": "bar",
                    "x": [chart_label(s) for s in ordered],
                    "y": [sizes[s] for s in ordered],
                    "marker": {"color": "#6a1b9a"},
                }
            ],
            {
                "title": {"text": "Duplicate clusters by size (documents per cluster)"},
                "xaxis": {"type": "category", "title": {"text": "cluster size"}},
                "yaxis": {"title": {"text": "clusters"}},
            },
        )
        clusters = []
        for cluster in dup.get("clusters") or []:
            members = [
                {
                    "id": str(m.get("id") or ""),
                    "url": str(m.get("url") or ""),
                    "href": safe_href(m.get("url")),
                    "kept": bool(m.get("kept")),
                    "text": str(m.get("text") or "")[: self.config.example_text_chars],
                }
                for m in cluster.get("members") or []
            ]
            clusters.append(
                {
                    "id": str(cluster.get("cluster_id", "")),
                    "size": _number(cluster.get("size")),
                    "members": members,
                }
            )
        dedup_summary = self.stats.get("dedup") if isinstance(self.stats.get("dedup"), dict) else {}
        return {
            "chart": chart,
            "sizes": [{"size": s, "clusters": _number(sizes[s])} for s in ordered],
            "clusters_total": _number(sum(sizes.values())),
            "documents_in_clusters": _number(sum(int(s) * n for s, n in sizes.items() if s.isdigit())),
            "clusters": clusters,
            "summary": {k: _number(v) for k, v in dedup_summary.items() if not isinstance(v, dict | list)},
            "subdoc": self.subdoc_units(),
        }

    def clusters_section(self) -> dict | None:
        """The semantic clusters (DIR/clusters/clusters.json, from `crawlsieve cluster`) largest first,
        flagged where they look low-quality, with the reviewer's labels (review/cluster_labels.json);
        in a refiltered run, the labels it applied and what they removed (stats.json)."""
        layout = RunLayout(self.output_dir)
        facts = _read_json(layout.cluster_facts)
        recorded = _read_json(layout.cluster_labels)
        applied = _mapping(self.stats.get("cluster_labels"))
        if not facts and not applied:
            return None
        labels = {str(c): str(label) for c, label in _mapping(recorded.get("labels")).items()}
        rows = [
            self.cluster_row(row, labels.get(str(row.get("cluster")))) for row in facts.get("clusters") or []
        ]
        removed = {r: n for r, n in (self.stats.get("removed") or {}).items() if r.startswith("cluster:")}
        chart = None
        if rows:
            shown = rows[:MAX_CHART_CATEGORIES]
            chart = self.chart(
                "cluster-sizes",
                [
                    {
                        "type": "bar",
                        "x": [chart_label(f"#{r['cluster']}") for r in shown],
                        "y": [r["tokens_value"] for r in shown],
                        "text": [chart_label(", ".join(r["terms"][:3])) for r in shown],
                        "marker": {"color": [REMOVED_COLOR if r["flags"] else KEPT_COLOR for r in shown]},
                    }
                ],
                {
                    "title": {"text": "Share of tokens per cluster (red: flagged)"},
                    "xaxis": {"type": "category"},
                    "yaxis": {"tickformat": ".0%"},
                },
            )
        effect = _mapping(recorded.get("effect"))
        return {
            "k": _number(facts.get("k")),
            "documents": _number(facts.get("documents")),
            "vectors": str(facts.get("vectors") or "–"),
            "rows": rows,
            "chart": chart,
            "genres": any(r["genres"] for r in rows),
            "spam": any(r["spam"] for r in rows),
            "flagged": sum(1 for r in rows if r["flags"]),
            "labels": {
                "file": str(recorded.get("labels_file") or "–"),
                "sha256": str(recorded.get("sha256") or "–"),
                "counts": ", ".join(f"{n} {k}" for k, n in _mapping(recorded.get("counts")).items()),
                **{key: _number(value) for key, value in effect.items()},
            }
            if recorded
            else None,
            "applied": {
                "file": str(applied.get("labels_file") or "–"),
                "sha256": str(applied.get("sha256") or "–"),
                "dropped": ", ".join(str(c) for c in applied.get("dropped") or []) or "none",
                "removed": _number(sum(removed.values())),
            }
            if applied
            else None,
        }

    def cluster_row(self, row: dict, label: str | None) -> dict:
        def shares(items) -> str:
            return ", ".join(f"{name} {share:.0%}" for name, _, share in items or [])

        spam = ""
        if row.get("spam_share") or row.get("spam_signals"):
            signals = [
                f"{k.removeprefix('sig_')} {v:.2g}" for k, v in _mapping(row.get("spam_signals")).items()
            ]
            spam = ", ".join([f"{row.get('spam_share', 0):.0%} spam domains", *signals])
        limit = self.config.example_text_chars
        return {
            "cluster": row.get("cluster"),
            "documents": _number(row.get("documents")),
            "documents_share": _pct(row.get("documents_share") or 0, 1),
            "tokens": _number(row.get("tokens")),
            "tokens_share": _pct(row.get("tokens_share") or 0, 1),
            "tokens_value": row.get("tokens_share") or 0,
            "languages": shares(row.get("languages")),
            "domains": shares(row.get("domains")),
            "genres": shares(row.get("genres")),
            "spam": spam,
            "mean_quality": _number(row.get("mean_quality")),
            "terms": [str(t) for t in row.get("terms") or []],
            "flags": [str(f) for f in row.get("flags") or []],
            "proposed": str(row.get("proposed") or "keep"),
            "label": label,
            "samples": [
                {
                    "url": str(s.get("url") or ""),
                    "href": safe_href(s.get("url")),
                    "title": str(s.get("title") or ""),
                    "text": str(s.get("text") or "")[:limit],
                }
                for s in row.get("samples") or []
                if isinstance(s, dict)
            ],
        }

    def subdoc_units(self) -> dict | None:
        """Sub-document dedup's most repeated units (stats.json ``subdoc``), for a reviewer to judge."""
        subdoc = self.stats.get("subdoc")
        if not isinstance(subdoc, dict):
            return None
        return {
            "unit": str(subdoc.get("unit") or "line"),
            "mode": str(subdoc.get("mode") or "remove"),
            "min_docs": _number(subdoc.get("min_docs")),
            "units_repeated": _number(subdoc.get("units_repeated")),
            "copies_cut": _number(subdoc.get("unit_copies_cut")),
            "units": [
                {"text": str(u.get("text") or ""), "documents": _number(u.get("documents"))}
                for u in subdoc.get("top_units") or []
                if isinstance(u, dict)
            ],
        }

    def inputs_section(self) -> dict:
        inputs = self.stats.get("inputs") or {}
        ranked = sorted(
            inputs.items(),
            key=lambda item: (
                -sum((item[1].get("failed") or {}).values()),
                item[1].get("accounting_closes", True),
                item[0],
            ),
        )
        listed, rest = ranked[: self.config.inputs_listed], ranked[self.config.inputs_listed :]
        rows = [_input_row(path, counts) for path, counts in listed]
        hidden = None
        if rest:
            merged = defaultdict(int)
            for _, counts in rest:
                merged["records_read"] += counts.get("records_read") or 0
                merged["documents_kept"] += counts.get("documents_kept") or 0
                merged["removed"] += sum((counts.get("removed") or {}).values())
                merged["failed"] += sum((counts.get("failed") or {}).values())
            hidden = {"files": _number(len(rest)), **{k: _number(v) for k, v in merged.items()}}
        failed = self.stats.get("failed") or {}
        kinds = sorted(failed.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = listed[:MAX_CHART_CATEGORIES]
        names = [chart_label(Path(path).name or path) for path, _ in shown]
        data = [
            {
                "type": "bar",
                "name": label,
                "x": names,
                "y": [value(counts) for _, counts in shown],
                "marker": {"color": color},
            }
            for label, color, value in (
                ("kept", KEPT_COLOR, lambda c: c.get("documents_kept") or 0),
                ("removed", REMOVED_COLOR, lambda c: sum((c.get("removed") or {}).values())),
                ("failed", FAILED_COLOR, lambda c: sum((c.get("failed") or {}).values())),
            )
        ]
        chart = self.chart(
            "inputs",
            data,
            {
                "title": {"text": "Records per input file"},
                "barmode": "stack",
                "xaxis": {"type": "category"},
            },
        )
        return {
            "rows": rows,
            "hidden": hidden,
            "chart": chart,
            "failure_kinds": [{"kind": k, "count": _number(n)} for k, n in kinds],
        }


def _page_funnel(counts: dict) -> dict:
    """One value's counts (stats.json ``breakdowns``) in pages, as in the funnel; reasons are
    removal reasons and ``failed:<kind>``."""
    reasons = Counter({r: int(n) for r, n in _mapping(counts.get("removed")).items()})
    reasons.update({f"failed:{k}": int(n) for k, n in _mapping(counts.get("failed")).items()})
    reasons = Counter({r: n for r, n in reasons.items() if r not in NOT_PAGES})
    kept = int(counts.get("documents_kept") or 0)
    failed = sum(n for r, n in reasons.items() if r.startswith("failed:"))
    return {
        "pages": kept + sum(reasons.values()),
        "kept": kept,
        "removed": sum(reasons.values()) - failed,
        "failed": failed,
        "reasons": reasons,
    }


def _add_funnels(funnels: list[dict]) -> dict:
    reasons: Counter = Counter()
    for f in funnels:
        reasons.update(f["reasons"])
    totals = {key: sum(f[key] for f in funnels) for key in ("pages", "kept", "removed", "failed")}
    return {**totals, "reasons": reasons}


def _ranked_reasons(reasons: Counter) -> list[tuple[str, int]]:
    return sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))


def _breakdown_row(value: str, f: dict, settings: dict | None = None) -> dict:
    ranked = _ranked_reasons(f["reasons"])[:BREAKDOWN_REASONS_SHOWN]
    return {
        "value": value,
        "settings": ", ".join(map(str, _mapping(settings))) or "–",
        "pages": _number(f["pages"]),
        "kept": _number(f["kept"]),
        "kept_share": _pct(f["kept"], f["pages"]),
        "removed": _number(f["removed"]),
        "failed": _number(f["failed"]),
        "reasons": [
            {"reason": reason, "count": _number(n), "share": _pct(n, f["pages"])} for reason, n in ranked
        ],
    }


def _precision_cells(values: dict | None, share_of: str = "bad") -> dict | None:
    """Display cells of one precision estimate (see `quality.review_labels`)."""
    if not values or not values.get("labelled"):
        return None
    return {
        "labelled": _number(values.get("labelled")),
        "hits": _number(values.get(share_of)),
        "estimate": f"{values['precision']:.0%}",
        "interval": f"{values['low']:.0%}–{values['high']:.0%}",
    }


def _relevant_signals(signals: dict, reason: str) -> list[tuple[str, str]]:
    """The signals that explain a removal: the rule's own first, then its filter's, else all."""
    filter_name, _, rule = reason.partition(":")
    prefix = f"sig_{filter_name}_"
    own = [k for k in signals if k == f"{prefix}{rule}"]
    related = [k for k in signals if k.startswith(prefix) and k not in own]
    names = (own + related) or sorted(signals)
    return [(name.removeprefix("sig_"), _number(signals[name])) for name in names[:MAX_SIGNALS_PER_EXAMPLE]]


def _totals_by(groups: list[dict], key: str) -> dict[str, dict]:
    totals: dict[str, dict] = defaultdict(lambda: {"documents": 0, "tokens": 0, "bytes": 0})
    for group in groups:
        name = str(group.get(key, "–"))
        for field_name in ("documents", "tokens", "bytes"):
            value = group.get(field_name) or 0
            totals[name][field_name] += value if isinstance(value, int | float) else 0
    return dict(totals)


def _total_rows(totals: dict[str, dict]) -> list[dict]:
    all_docs = sum(v["documents"] for v in totals.values())
    all_tokens = sum(v["tokens"] for v in totals.values())
    return [
        {
            "name": name,
            "documents": _number(values["documents"]),
            "documents_share": _pct(values["documents"], all_docs),
            "tokens": _number(values["tokens"]),
            "tokens_share": _pct(values["tokens"], all_tokens),
        }
        for name, values in sorted(totals.items(), key=lambda kv: -kv[1]["tokens"])
    ]


def _input_row(path: str, counts: dict) -> dict:
    read = counts.get("records_read") or 0
    kept = counts.get("documents_kept") or 0
    removed = sum((counts.get("removed") or {}).values())
    failed_kinds = counts.get("failed") or {}
    failed = sum(failed_kinds.values())
    closes = (
        counts.get("accounting_closes", read == kept + removed + failed) and read == kept + removed + failed
    )
    return {
        "path": path,
        "read": _number(read),
        "kept": _number(kept),
        "removed": _number(removed),
        "failed": _number(failed),
        "failed_kinds": ", ".join(
            f"{k} {n:,}" for k, n in sorted(failed_kinds.items(), key=lambda kv: -kv[1])
        ),
        "closes": closes,
    }


@cache
def _plotly_js() -> str:
    """plotly.js from the installed plotly package, inlined so the page needs no network."""
    from plotly.offline import get_plotlyjs

    # Defensive: a `</script` (or `<!--`) in the library would end or confuse its element.
    return re.sub(r"<(/script|!--)", r"<\\\1", get_plotlyjs(), flags=re.IGNORECASE)


#: Draws every `[data-chart]` element from the figures in the `report-charts` JSON block.
BOOT_JS = """
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("report-charts").textContent);
  var options = { displaylogo: false, responsive: true };
  var nodes = document.querySelectorAll("[data-chart]");
  for (var i = 0; i < nodes.length; i++) {
    var spec = specs[nodes[i].getAttribute("data-chart")];
    if (!spec || !window.Plotly) { continue; }
    nodes[i].textContent = "";
    Plotly.newPlot(nodes[i], spec.data, spec.layout, options);
  }
  document.body.setAttribute("data-charts-drawn", String(nodes.length));
})();
"""


def csp_hash(script: str) -> str:
    """A Content-Security-Policy source allowing exactly this inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def render(context: dict) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=PackageLoader("crawlsieve.quality", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("report.html.j2")
    plotly_js = _plotly_js()
    return template.render(
        **context,
        plotly_js=plotly_js,
        boot_js=BOOT_JS,
        script_hashes=" ".join(csp_hash(script) for script in (plotly_js, BOOT_JS)),
    )


def build_report(output_dir: Path, config: ReportConfig | None = None) -> Path:
    """Write DIR/report.html from the run's summaries; returns its path."""
    from crawlsieve.quality.distributions import report_config

    output_dir = Path(output_dir)
    config = config or report_config(output_dir)
    builder = ReportBuilder(output_dir, config)
    page = render(builder.context())
    target = RunLayout(output_dir).report
    write_bytes_atomically(page.encode("utf-8"), target)
    return target
