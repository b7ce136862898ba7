"""`crawlsieve config`: print the default config, or check a config file."""

from __future__ import annotations

import argparse

from crawlsieve.pipelines.config import defaults_yaml, load_config

HELP = (
    "Print the full default config (--defaults), the languages with tuned thresholds (--languages), "
    "or validate a config file (--check FILE)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--defaults", action="store_true", help="print every key with its default and meaning")
    group.add_argument("--check", metavar="FILE", help="validate FILE; exit 2 with the offending key if bad")
    group.add_argument(
        "--languages",
        action="store_true",
        help="print the languages with FineWeb-2's tuned thresholds and their main values",
    )


def main(args: argparse.Namespace) -> int:
    if args.defaults:
        print(defaults_yaml(), end="")
        return 0
    if args.languages:
        print(languages_table(), end="")
        return 0
    from crawlsieve.filters.stages import filter_stages

    filter_stages(load_config(args.check).filters)  # refuses what only the filters can judge
    print(f"{args.check}: ok")
    return 0


def languages_table() -> str:
    """One line per language with FineWeb-2 settings: its code, FineWeb-2 name and main thresholds."""
    from crawlsieve.filters.config import FiltersConfig
    from crawlsieve.filters.language_table import fineweb2_name, stop_words, tabled_languages

    config = FiltersConfig()
    lines = [
        "# FineWeb-2's tuned settings (Apache-2.0; filters/data/fineweb2.json), over the defaults for "
        f"{len(tabled_languages())} languages; every other language, and English, has the defaults.",
        "# For all of them: no C4, no short-line rule, char_duplicates_ratio 0.1, min_stop_words 2,",
        "# no duplicate-paragraph or duplicate-line-character rules.",
        f"{'code':<5} {'fineweb2':<9} {'line_punct':>10} {'new_line':>8} {'dup_line':>8} {'top_2':>6} "
        f"{'dup_5':>6} {'alpha':>6} {'word_len':>8} stop words",
    ]
    for code in tabled_languages():
        fineweb = config.fineweb_quality.thresholds_for(code, None)
        repetition = config.gopher_repetition.thresholds_for(code, None)
        quality = config.gopher_quality.thresholds_for(code, None)
        word_length = f"{quality.min_avg_word_length:g}-{quality.max_avg_word_length:g}"

        lines.append(
            f"{code:<5} {fineweb2_name(code):<9} {fineweb.line_punct_thr:>10g} {fineweb.new_line_ratio:>8g} "
            f"{repetition.dup_line_frac:>8g} {repetition.top_n_grams[2]:>6g} {repetition.dup_n_grams[5]:>6g} "
            f"{quality.min_alpha_words_ratio:>6g} {word_length:>8} {len(stop_words(code) or ())}"
        )
    return "\n".join(lines) + "\n"
