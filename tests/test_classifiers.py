"""`filters.classifiers`: any number of fastText classifiers, each publishing `sig_<name>` and
(remove mode) removing documents below its threshold as `classifier:<name>`; trained here with
`crawlsieve train-quality` and run together in one pipeline on a real local Ray."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
import yaml
from run_outputs import data_table, decisions

from crawlsieve.core.layout import RunLayout
from crawlsieve.filters.config import FastTextClassifierEntry
from crawlsieve.filters.train_default import generated_junk
from crawlsieve.pipelines.cli import main as cli
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.samples.warcs import Record, article_text, html_page, write_warc

PAGES_PER_KIND = 8


def train(directory: Path, name: str, positive: list[str], negative: list[str]) -> Path:
    """A tiny model trained by the command line, as a user would."""
    (directory / f"{name}-pos.txt").write_text("\n".join(positive), encoding="utf-8")
    (directory / f"{name}-neg.txt").write_text("\n".join(negative), encoding="utf-8")
    model = directory / f"{name}.bin"
    code = cli(["train-quality", "--positive", str(directory / f"{name}-pos.txt"),
                "--negative", str(directory / f"{name}-neg.txt"), "--output", str(model),
                "--epoch", "8", "--dim", "16"])  # fmt: skip
    assert code == 0
    return model


def prose(rng: random.Random, language: str) -> str:
    return " ".join(article_text(rng, language, 3))


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """``prose``: prose (English or German) against web junk; ``english``: English against German."""
    directory = tmp_path_factory.mktemp("models")
    rng = random.Random(5)
    english = [prose(rng, "en") for _ in range(200)]
    german = [prose(rng, "de") for _ in range(200)]
    junk = [doc.replace("\n", " ") for doc in generated_junk(rng, 400)]
    return {
        "prose": train(directory, "prose", english + german, junk),
        "english": train(directory, "english", english, german),
    }


def mixed_warc(path: Path) -> Path:
    """English and German articles and junk pages, ``PAGES_PER_KIND`` of each."""
    rng = random.Random(11)
    records = []
    for i in range(PAGES_PER_KIND):
        for kind, paragraphs in (
            ("en", article_text(rng, "en", 5)),
            ("de", article_text(rng, "de", 5)),
            ("junk", [doc.replace("\n", " ") for doc in generated_junk(rng, 5)]),
        ):
            lang = "de" if kind == "de" else "en"
            page = html_page(f"{kind} page {i}", paragraphs, lang=lang)
            records.append(Record(f"https://{kind}-{i}.example.org/page", page.encode("utf-8")))
    write_warc(path, records, datetime(2024, 3, 1, tzinfo=UTC))
    return path


def classifier_config(models: dict[str, Path]) -> Config:
    """Heuristic filters in tag mode and any language kept: only the classifiers decide."""
    config = Config()
    for name in (
        "repetition",
        "compression",
        "encoding",
        "chinese",
        "spam",
        "gopher_quality",
        "gopher_repetition",
        "c4",
        "fineweb_quality",
    ):
        getattr(config.filters, name).mode = "tag"
    config.language.min_score = 0.0
    config.filters.classifiers = [
        FastTextClassifierEntry(name="prose", model_path=str(models["prose"]), threshold=0.5, mode="remove"),
        FastTextClassifierEntry(
            name="english", model_path=str(models["english"]), threshold=0.5, mode="remove"
        ),
    ]
    return config


def test_two_trained_classifiers_publish_their_scores_and_remove_below_their_thresholds(
    ray_local, models, tmp_path
):
    warc = mixed_warc(tmp_path / "mixed.warc.gz")
    out = tmp_path / "out"
    stats = run_pipeline([str(warc)], out, classifier_config(models), report=False, log=lambda m: None)

    assert stats["accounting_closes"] is True
    assert stats["records_read"] == stats["documents_kept"] + sum(stats["removed"].values()) + sum(
        stats["failed"].values()
    )
    kept = data_table(out)
    assert kept.num_rows == stats["documents_kept"]
    for column in ("sig_prose", "sig_english"):
        assert kept.schema.field(column).type == "double"
        assert kept.column(column).null_count == 0
        assert pc.min(kept.column(column)).as_py() >= 0.5
    assert {url.split("-")[0] for url in kept.column("url").to_pylist()} == {"https://en"}

    fates = {doc_id: (stage, reason) for doc_id, stage, reason, _ in decisions(out)}
    ledger = ds.dataset(RunLayout(out).ledger_files(), format="parquet").to_table()
    by_url = dict(zip(ledger.column("url").to_pylist(), ledger.column("id").to_pylist(), strict=True))
    junk = [fates[by_url[url]] for url in by_url if url and url.startswith("https://junk")]
    german = [fates[by_url[url]] for url in by_url if url and url.startswith("https://de")]
    assert junk == [("classifier:prose", "classifier:prose")] * PAGES_PER_KIND
    assert german == [("classifier:english", "classifier:english")] * PAGES_PER_KIND
    assert stats["removed"]["classifier:prose"] == PAGES_PER_KIND
    assert stats["removed"]["classifier:english"] == PAGES_PER_KIND
    removed = ledger.filter(pc.equal(ledger.column("removed"), "classifier:english"))
    assert pc.max(removed.column("sig_english")).as_py() < 0.5
    names = [stage["name"] for stage in stats["stages"]]
    assert (
        names.index("quality_classifier")
        < names.index("classifier:prose")
        < names.index("classifier:english")
    )


def test_the_built_in_quality_classifier_is_one_entry_of_the_same_stage(models):
    from crawlsieve.filters.classifier import FastTextClassifierStage, QualityClassifierStage
    from crawlsieve.filters.stages import post_language_stages

    config = classifier_config(models)
    stages = post_language_stages(config.filters)
    classifiers = [stage for stage in stages if isinstance(stage, FastTextClassifierStage)]
    assert [stage.name for stage in classifiers] == [
        "quality_classifier",
        "classifier:prose",
        "classifier:english",
    ]
    assert isinstance(classifiers[0], QualityClassifierStage)
    assert [stage.column for stage in classifiers] == ["quality_score", "sig_prose", "sig_english"]


def test_a_missing_classifier_model_is_refused_before_the_run_with_one_line(models, tmp_path, capsys):
    config = {"filters": {"classifiers": [{"name": "toxic", "model_path": str(tmp_path / "none.bin")}]}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    warc = mixed_warc(tmp_path / "mixed.warc.gz")
    code = cli(["run", str(warc), "--output", str(tmp_path / "out"), "--config", str(tmp_path / "c.yaml")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "filters.classifiers[toxic]" in err and "not found" in err
    assert not (tmp_path / "out").exists()


def test_classifier_entries_need_unique_lower_case_names(tmp_path):
    from crawlsieve.core.errors import ConfigError
    from crawlsieve.pipelines.config import load_config

    for entries in (
        [{"name": "a", "model_path": "x"}, {"name": "a", "model_path": "y"}],
        [{"name": "Bad-Name", "model_path": "x"}],
        [{"name": "a"}],
    ):
        (tmp_path / "c.yaml").write_text(yaml.safe_dump({"filters": {"classifiers": entries}}))
        with pytest.raises(ConfigError, match=r"filters\.classifiers"):
            load_config(tmp_path / "c.yaml")
