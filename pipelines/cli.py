"""The `crawlsieve` command line.

Each subcommand lives in the module that owns its work and exposes ``HELP`` (one line),
``add_arguments(parser)`` and ``main(args) -> int``; modules import their heavy
dependencies (Ray, trafilatura) inside ``main`` so ``--help`` stays instant.

Exit status: 0 success, 2 bad arguments/config/input (one line, no traceback), 1 failed run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from crawlsieve import __version__
from crawlsieve.core.errors import ConfigError, UsageError

#: subcommand -> module implementing it, in the order `--help` lists them.
COMMANDS = {
    "run": "crawlsieve.pipelines.run",
    "refilter": "crawlsieve.pipelines.refilter",
    "demo": "crawlsieve.pipelines.demo",
    "report": "crawlsieve.quality.report",
    "review": "crawlsieve.quality.review_labels",
    "mix": "crawlsieve.quality.mix",
    "train-quality": "crawlsieve.filters.train",
    "config": "crawlsieve.pipelines.config_command",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="crawlsieve",
        description=(
            "Clean Common Crawl WARC files into a filtered, deduplicated, domain-tagged Parquet "
            "dataset for LLM pretraining, on Ray. Every record read is accounted for: kept, "
            "removed with a reason, or failed with an error kind."
        ),
        epilog="Run `crawlsieve demo` for a first look; `crawlsieve COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"crawlsieve {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args) or 0)
    except (UsageError, ConfigError) as error:
        message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        print(f"crawlsieve {args.command}: error: {message}", file=sys.stderr)  # one line, whatever raised it
        return 2
    except KeyboardInterrupt:
        print(f"crawlsieve {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get("CRAWLSIEVE_DEBUG"):
            raise
        message = str(error).strip().splitlines()
        print(
            f"crawlsieve {args.command}: failed: {type(error).__name__}: {message[-1] if message else ''}"
            " (set CRAWLSIEVE_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
