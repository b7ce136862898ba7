"""Retrain the project's default quality model, filters/data/quality_default.ftz.

    python -m crawlsieve.filters.train_default [--corpus ../shared/corpus]

Positive: the human-written main text of 121 news and blog articles (scrapinghub's
article-extraction-benchmark ground truth, MIT), cut into passages of a few paragraphs.
Negative: the boilerplate snippets that trafilatura's evaluation marks as must-not-extract
(menus, footers, cookie and share lines; Apache-2.0), grouped into pseudo-documents, plus
templated junk generated here (link lists, keyword spam, shop listings). Both come from
``../shared/corpus/extraction``; the model (weights only) is small enough to ship.

It is a small model for a first signal, not DCLM's: it learns "article prose vs. page
chrome", mostly in English and German. Pass a better model with
``filters.quality_classifier.model_path``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from crawlsieve.filters.classifier import default_quality_model_path
from crawlsieve.filters.train import Metrics, train_classifier

_REPO = Path(__file__).resolve().parent.parent


def article_passages(ground_truth: Path, paragraphs_per_passage: int = 4) -> list[str]:
    """Passages of consecutive paragraphs of each article's human-written text."""
    passages = []
    for line in ground_truth.read_text(encoding="utf-8").splitlines():
        paragraphs = [p for p in json.loads(line)["text"].split("\n") if p.strip()]
        for start in range(0, len(paragraphs), paragraphs_per_passage):
            passage = "\n".join(paragraphs[start : start + paragraphs_per_passage])
            if len(passage) >= 200:
                passages.append(passage)
    return passages


def boilerplate_documents(snippets: Path, rng: random.Random, per_document: int = 6) -> list[str]:
    """Pseudo-documents of must-not-extract snippets (real page chrome)."""
    pieces = []
    for line in snippets.read_text(encoding="utf-8").splitlines():
        pieces.extend(s for s in json.loads(line).get("without") or [] if s and s.strip())
    rng.shuffle(pieces)
    return ["\n".join(pieces[i : i + per_document]) for i in range(0, len(pieces), per_document)]


_NAV = [
    "Home",
    "About",
    "Contact",
    "Blog",
    "Shop",
    "News",
    "Login",
    "Register",
    "Cart",
    "Search",
    "Menu",
    "FAQ",
    "Help",
    "Imprint",
    "Privacy",
    "Terms",
    "Sitemap",
]
_SPAM = [
    "cheap",
    "best",
    "buy",
    "online",
    "free",
    "download",
    "casino",
    "loans",
    "viagra",
    "deals",
    "discount",
    "offer",
    "sale",
    "crack",
    "keygen",
]
_TEMPLATES = (
    lambda r: "\n".join(r.sample(_NAV, 8)),
    lambda r: " ".join(r.choice(_SPAM) for _ in range(40)),
    lambda r: "\n".join(
        f"{r.choice(_SPAM).title()} item {r.randint(1, 999)} - ${r.randint(1, 99)}.99" for _ in range(12)
    ),
    lambda r: (
        "We use cookies to improve your experience. Accept all cookies. Manage preferences. "
        + " | ".join(r.sample(_NAV, 6))
    ),
    lambda r: "\n".join(f"Share on {s}" for s in ("Facebook", "Twitter", "LinkedIn", "WhatsApp", "Email")),
    lambda r: "\n".join(
        f"{r.randint(1, 28)}.{r.randint(1, 12)}.2024 {r.choice(_NAV)} ({r.randint(0, 99)})" for _ in range(10)
    ),
)


def generated_junk(rng: random.Random, count: int) -> list[str]:
    return [rng.choice(_TEMPLATES)(rng) for _ in range(count)]


def train_default(corpus: Path, output: str) -> Metrics:
    rng = random.Random(0)
    positive = article_passages(corpus / "extraction" / "ground_truth.jsonl")
    negative = boilerplate_documents(corpus / "extraction" / "snippets.jsonl", rng)
    negative += generated_junk(rng, len(positive) // 4)
    return train_classifier(positive, negative, output, epoch=25, word_ngrams=2, dim=32, held_out=0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=_REPO.parent / "shared" / "corpus")
    parser.add_argument("--output", default=default_quality_model_path())
    args = parser.parse_args()
    metrics = train_default(args.corpus, args.output)
    print(f"wrote {args.output}: {metrics.line()}")


if __name__ == "__main__":
    main()
