"""`crawlsieve config`: print the default config, or check a config file."""

from __future__ import annotations

import argparse

from crawlsieve.pipelines.config import defaults_yaml, load_config

HELP = "Print the full default config (--defaults) or validate a config file (--check FILE)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--defaults", action="store_true", help="print every key with its default and meaning")
    group.add_argument("--check", metavar="FILE", help="validate FILE; exit 2 with the offending key if bad")


def main(args: argparse.Namespace) -> int:
    if args.defaults:
        print(defaults_yaml(), end="")
        return 0
    load_config(args.check)
    print(f"{args.check}: ok")
    return 0
