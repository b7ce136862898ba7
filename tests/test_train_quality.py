"""`crawlsieve train-quality`: trains from text/JSONL/Parquet, reports held-out precision/recall,
and the model it writes scores documents in a pipeline run."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from crawlsieve.filters.classifier import QUALITY_SCORE, QualityClassifierStage
from crawlsieve.filters.config import ClassifierConfig
from crawlsieve.filters.train_default import generated_junk
from crawlsieve.pipelines.cli import main as cli

SUBJECTS = ["The council", "A local teacher", "The research team", "Our reporter", "The museum", "Farmers"]
VERBS = ["explained", "announced", "described", "argued", "showed", "reported"]
OBJECTS = [
    "that the new bridge would open in the spring after months of careful repair work.",
    "how the old library collected letters written by soldiers during the long winter.",
    "why the river had flooded the lower fields twice in the same year.",
    "a plan to plant trees along the main road so that children can walk to school in the shade.",
    "that the results of the study surprised even the scientists who had designed it.",
]


def prose(rng: random.Random) -> str:
    return " ".join(f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}" for _ in range(6))


@pytest.fixture
def labeled(tmp_path):
    """A small labeled set in all three input formats."""
    rng = random.Random(7)
    positives = [prose(rng) for _ in range(300)]
    negatives = [doc.replace("\n", " ") for doc in generated_junk(rng, 300)]
    (tmp_path / "pos.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in positives[:150]))
    pq.write_table(pa.table({"text": positives[150:]}), tmp_path / "pos.parquet")
    (tmp_path / "neg.txt").write_text("\n".join(negatives))
    return tmp_path


def test_train_quality_reports_held_out_precision_recall_and_writes_a_usable_model(labeled, capsys):
    model = labeled / "model.bin"
    code = cli(
        [
            "train-quality",
            "--positive", str(labeled / "pos.jsonl"), str(labeled / "pos.parquet"),
            "--negative", str(labeled / "neg.txt"),
            "--output", str(model),
            "--epoch", "5",
        ]
    )  # fmt: skip
    assert code == 0
    line = capsys.readouterr().out
    precision = float(line.split("precision ")[1].split()[0])
    recall = float(line.split("recall ")[1].split()[0])
    print(line)
    assert precision > 0.9
    assert recall > 0.9
    stage = QualityClassifierStage(ClassifierConfig(model_path=str(model)))
    scores = stage(_docs([prose(random.Random(99)), "cheap casino loans free download " * 10]))
    good, junk = scores.column(QUALITY_SCORE).to_pylist()
    assert good > 0.5 > junk


def test_train_quality_with_a_missing_input_exits_2_with_one_line(tmp_path, capsys):
    code = cli(
        ["train-quality", "--positive", str(tmp_path / "none.txt"), "--negative", "x", "--output", "m.bin"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "no file matches" in err
    assert err.count("\n") == 1


def _docs(texts: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table(
        {"id": [str(i) for i in range(n)], "url": [""] * n, "text": texts, "language": ["en"] * n,
         "language_score": [1.0] * n}
    )  # fmt: skip


@pytest.mark.slow
def test_a_trained_model_scores_every_row_of_a_pipeline_run(ray_local, shared_corpus, labeled, tmp_path):
    from crawlsieve.pipelines.config import Config
    from crawlsieve.pipelines.run import run_pipeline

    model = labeled / "model.ftz"
    assert cli(["train-quality", "--positive", str(labeled / "pos.*"), "--negative", str(labeled / "neg.txt"),
                "--output", str(model), "--epoch", "5"]) == 0  # fmt: skip
    config = Config()
    config.filters.quality_classifier.model_path = str(model)
    out = tmp_path / "out"
    stats = run_pipeline(
        [str(shared_corpus / "warc" / "articles-00.warc.gz")], out, config, report=False, log=lambda m: None
    )
    rows = ds.dataset(out / "data", partitioning="hive").to_table()
    assert stats["documents_kept"] == rows.num_rows > 10
    scores = rows.column(QUALITY_SCORE)
    assert scores.null_count == 0
    assert len(set(scores.to_pylist())) > 5  # the model's own scores, not a constant
