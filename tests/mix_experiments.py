"""Proxy-run experiments drawn from a known data mixing law, for `crawlsieve mix --fit`.

Tests use the functions; the command writes an experiments CSV for a real run's groups:

    .venv/bin/python tests/mix_experiments.py DIR --output experiments.csv [--by language] [--columns 5]

Each eval set's loss is ``c + k·exp(t·r)`` (t centered) times (1 + noise·N(0, 1)); shares are
Dirichlet(1) draws. The true laws are printed to stderr, so the fit can be compared with them.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Law:
    c: float
    k: float
    t: np.ndarray  # centered

    def loss(self, shares: np.ndarray) -> np.ndarray:
        return self.c + self.k * np.exp(np.atleast_2d(shares) @ self.t)


def random_laws(eval_sets: list[str], n_columns: int, seed: int) -> dict[str, Law]:
    rng = np.random.default_rng(seed)
    laws = {}
    for name in eval_sets:
        t = rng.normal(0, 1.5, n_columns)
        laws[name] = Law(c=float(rng.uniform(1.8, 3.0)), k=float(rng.uniform(0.5, 1.2)), t=t - t.mean())
    return laws


def draw_runs(laws: dict[str, Law], n_columns: int, runs: int, noise: float, seed: int):
    """(shares (runs, columns), {eval set: losses}) with relative Gaussian noise."""
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.ones(n_columns), runs)
    losses = {name: law.loss(shares) * (1 + noise * rng.standard_normal(runs)) for name, law in laws.items()}
    return shares, losses


def write_csv(
    path: Path, columns: list[str], shares: np.ndarray, losses: dict[str, np.ndarray], extra=None
) -> Path:
    """One row per run: shares, loss:<set>, then ``extra`` columns ({name: values})."""
    extra = extra or {}
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", *columns, *(f"loss:{name}" for name in losses), *extra])
        for i, row in enumerate(shares):
            writer.writerow(
                [
                    f"proxy-{i:02d}",
                    *(f"{s:.6f}" for s in row),
                    *(f"{losses[name][i]:.6f}" for name in losses),
                    *(values[i] for values in extra.values()),
                ]
            )
    return path


def columns_of(mixture: dict, by: str, count: int) -> list[str]:
    """The ``count`` largest groups by tokens, named as share columns (`--by group|language|domain`)."""
    tokens: dict[str, int] = {}
    for g in mixture["groups"]:
        name = f"domain={g['domain']}/language={g['language']}" if by == "group" else f"{by}={g[by]}"
        tokens[name] = tokens.get(name, 0) + g["tokens"]
    return sorted(tokens, key=lambda name: -tokens[name])[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="Output directory of `crawlsieve run` (holds mixture.json).")
    parser.add_argument("--output", required=True)
    parser.add_argument("--by", choices=("group", "language", "domain"), default="group")
    parser.add_argument("--columns", type=int, default=5, help="How many of the largest groups to mix.")
    parser.add_argument("--runs", type=int, default=24)
    parser.add_argument("--eval-sets", default="web,code", help="Comma-separated eval set names.")
    parser.add_argument("--noise", type=float, default=0.003, help="Relative noise of each loss.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    mixture = json.loads((Path(args.dir) / "mixture.json").read_text(encoding="utf-8"))
    columns = columns_of(mixture, args.by, args.columns)
    laws = random_laws(args.eval_sets.split(","), len(columns), args.seed)
    shares, losses = draw_runs(laws, len(columns), args.runs, args.noise, args.seed + 1)
    write_csv(Path(args.output), columns, shares, losses)
    for name, law in laws.items():
        t = ", ".join(f"{c} {v:+.4f}" for c, v in zip(columns, law.t, strict=True))
        print(f"true law loss:{name}: c {law.c:.4f}, k {law.k:.4f}, t: {t}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
