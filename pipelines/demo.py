"""`crawlsieve demo`: generate sample WARCs, run the whole pipeline on them locally, show the outputs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Generate sample WARC files and run the full pipeline on them locally (report included)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        "-o",
        default="crawlsieve-demo",
        metavar="DIR",
        help="output directory (default: ./crawlsieve-demo)",
    )
    parser.add_argument("--files", type=int, default=4, help="sample WARC files to generate (default: 4)")
    parser.add_argument("--pages", type=int, default=24, help="pages per sample file (default: 24)")
    parser.add_argument(
        "--num-cpus", type=int, metavar="N", help="CPUs of the local Ray (default: all cores)"
    )


def main(args: argparse.Namespace) -> int:
    from crawlsieve.pipelines.config import Config
    from crawlsieve.pipelines.run import run_pipeline, summary_lines
    from crawlsieve.samples.warcs import generate_sample_warcs

    output_dir = Path(args.output).resolve()
    warc_dir = output_dir.parent / f"{output_dir.name}-warcs"
    paths = generate_sample_warcs(warc_dir, files=args.files, pages_per_file=args.pages)
    print(f"crawlsieve demo: wrote {len(paths)} sample WARC files to {warc_dir}", file=sys.stderr)
    config = Config()
    if args.num_cpus:
        config.ray.num_cpus = args.num_cpus
    stats = run_pipeline([str(p) for p in paths], output_dir, config, log=lambda m: print(m, file=sys.stderr))
    for line in summary_lines(output_dir, stats):
        print(line)
    if (output_dir / "report.html").exists():
        print(f"Open the report: file://{output_dir / 'report.html'}")
    return 0 if stats["accounting_closes"] else 1
