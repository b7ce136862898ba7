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
    "cluster": "crawlsieve.pipelines.cluster",
    "demo": "crawlsieve.pipelines.demo",
    "report": "crawlsieve.quality.report",
    "review": "crawlsieve.quality.review_labels",
    "mix": "crawlsieve.quality.mix",
    "tokenize": "crawlsieve.pipelines.tokenize",
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
        cause = failure_cause(error)
        print(
            f"crawlsieve {args.command}: failed: {type(cause).__name__}: {_first_line(cause)}"
            " (set CRAWLSIEVE_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


def failure_cause(error: BaseException) -> BaseException:
    """What a failure is about: the first exception inside Ray's wrappers that is not Ray's.

    A task's ``RayTaskError`` reads as the task's traceback, and Ray Data's ``UserCodeException``
    as Ray's advice on retries; the cause (``No space left on device``) is their ``cause`` or
    ``__cause__``. A Ray exception with nothing inside (a lost worker) is its own cause.
    """
    seen = set()
    while type(error).__module__.partition(".")[0] == "ray" and id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "cause", None) or error.__cause__
        if not isinstance(inner, BaseException):
            break
        error = inner
    return error


def _first_line(error: BaseException) -> str:
    """The first line of ``error``'s message. Ray Data appends its advice on retries to a failed
    task's exception: as further lines, or, to an OSError of two arguments, as its file name."""
    if isinstance(error, OSError) and error.strerror and "\n" in str(error.filename or ""):
        error = OSError(error.errno, error.strerror)
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


if __name__ == "__main__":
    sys.exit(main())
