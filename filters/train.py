"""`crawlsieve train-quality`: train a fastText quality classifier (GPT-3 / CCNet / DCLM style).

Reference-quality text (``--positive``) against random or junk web text (``--negative``);
a held-out share of each is kept apart and the command prints the classifier's precision
and recall on it. The model's ``__label__hq`` probability is what the pipeline's
``filters.quality_classifier`` writes as ``quality_score``.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import xxhash

from crawlsieve.core.errors import UsageError
from crawlsieve.core.io import durable

HELP = "Train a fastText quality classifier from positive and negative text/JSONL/Parquet files."

POSITIVE = "__label__hq"
NEGATIVE = "__label__cc"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--positive",
        nargs="+",
        required=True,
        metavar="P",
        help="Reference-quality documents: .txt (one per line), .jsonl[.gz] or .parquet ('text'); globs ok.",
    )
    parser.add_argument(
        "--negative", nargs="+", required=True, metavar="N", help="Junk/random web documents."
    )
    parser.add_argument(
        "--output", required=True, metavar="MODEL", help="Model file (.bin, or .ftz: quantized)."
    )
    parser.add_argument(
        "--held-out", type=float, default=0.1, help="Share of each class kept for evaluation."
    )
    parser.add_argument("--epoch", type=int, default=10, help="fastText training epochs.")
    parser.add_argument("--lr", type=float, default=0.5, help="fastText learning rate.")
    parser.add_argument("--word-ngrams", type=int, default=2, help="fastText word n-grams.")
    parser.add_argument("--dim", type=int, default=64, help="fastText vector size.")
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="Score from which a document is positive."
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed of the held-out split and of fastText.")


@dataclass(frozen=True)
class Metrics:
    """Held-out quality of a classifier at one threshold (positive = reference quality)."""

    precision: float
    recall: float
    positives: int
    negatives: int

    def line(self) -> str:
        return (
            f"held-out precision {self.precision:.3f} recall {self.recall:.3f} "
            f"({self.positives} positive, {self.negatives} negative documents)"
        )


def read_texts(patterns: list[str]) -> list[str]:
    """Documents from text (one per line), JSONL (``text`` field) or Parquet (``text`` column) files."""
    paths = []
    for pattern in patterns:
        matched = sorted(glob.glob(pattern)) or ([pattern] if Path(pattern).is_file() else [])
        if not matched:
            raise UsageError(f"no file matches {pattern}")
        paths.extend(matched)
    texts: list[str] = []
    for path in paths:
        texts.extend(_read_file(path))
    return [t for t in texts if t and t.strip()]


def _read_file(path: str) -> list[str]:
    try:
        if path.endswith(".parquet"):
            import pyarrow.parquet as pq

            return [t for t in pq.read_table(path, columns=["text"]).column("text").to_pylist() if t]
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            if ".jsonl" in path or ".json" in path:
                return [json.loads(line).get("text") or "" for line in f if line.strip()]
            return [line.rstrip("\n") for line in f]
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None


def fasttext_line(label: str, text: str) -> str:
    """One training line: the label, then the text on one line (as the classifier sees it)."""
    from crawlsieve.filters.classifier import model_input

    return f"{label} {model_input(text, 10_000)}"


def split_held_out(texts: list[str], share: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic split by a hash of each text: the same input gives the same split."""
    limit = int(share * 2**32)
    train, held = [], []
    for text in texts:
        (
            held if xxhash.xxh32_intdigest(text.encode("utf-8", "replace"), seed=seed) < limit else train
        ).append(text)
    return train, held


def train_classifier(
    positive: list[str],
    negative: list[str],
    output: str | Path,
    *,
    held_out: float = 0.1,
    epoch: int = 10,
    lr: float = 0.5,
    word_ngrams: int = 2,
    dim: int = 64,
    threshold: float = 0.5,
    seed: int = 0,
) -> Metrics:
    """Train, evaluate on the held-out share, and save (quantized when ``output`` ends in .ftz)."""
    import fasttext

    from crawlsieve.filters.classifier import model_input, positive_probability

    if not positive or not negative:
        raise UsageError("both --positive and --negative need at least one non-empty document")
    pos_train, pos_held = split_held_out(positive, held_out, seed)
    neg_train, neg_held = split_held_out(negative, held_out, seed)
    if not pos_train or not neg_train:
        raise UsageError("too few documents to train after holding some out")
    lines = [fasttext_line(POSITIVE, t) for t in pos_train] + [fasttext_line(NEGATIVE, t) for t in neg_train]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as train_file:
        train_file.write("\n".join(lines) + "\n")
        train_file.flush()
        model = fasttext.train_supervised(
            input=train_file.name,
            epoch=epoch,
            lr=lr,
            wordNgrams=word_ngrams,
            dim=dim,
            minCount=1,
            loss="softmax",
            seed=seed,
            thread=1,
            verbose=0,
        )
    if str(output).endswith(".ftz"):
        model.quantize(input=None, retrain=False, cutoff=50_000, qnorm=True)
    with durable(Path(output)) as tmp:
        model.save_model(str(tmp))
    held = [model_input(t, 10_000) for t in pos_held + neg_held]
    truth = [True] * len(pos_held) + [False] * len(neg_held)
    predicted = [s >= threshold for s in positive_probability(model, held, POSITIVE)] if held else []
    hits = sum(p and t for p, t in zip(predicted, truth, strict=True))
    return Metrics(
        precision=hits / max(1, sum(predicted)),
        recall=hits / max(1, len(pos_held)),
        positives=len(pos_held),
        negatives=len(neg_held),
    )


def main(args: argparse.Namespace) -> int:
    if not 0 < args.held_out < 1:
        raise UsageError("--held-out must be between 0 and 1")
    model = Path(args.output).resolve()
    for flag, patterns in (("--positive", args.positive), ("--negative", args.negative)):
        for path in (path for pattern in patterns for path in glob.glob(pattern) or [pattern]):
            if Path(path).resolve() == model:  # read first, then overwritten by the model
                raise UsageError(f"--output {args.output} would overwrite {flag} {path}")
    metrics = train_classifier(
        read_texts(args.positive),
        read_texts(args.negative),
        args.output,
        held_out=args.held_out,
        epoch=args.epoch,
        lr=args.lr,
        word_ngrams=args.word_ngrams,
        dim=args.dim,
        threshold=args.threshold,
        seed=args.seed,
    )
    print(f"wrote {args.output}: {metrics.line()}")
    return 0
