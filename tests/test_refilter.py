"""`crawlsieve refilter`: a run's filters re-decided from its stored signals equal a fresh run.

A run with `filters.compute_all_signals: true` over two real corpus files (real Ray, real
Parquet) is refiltered with its own config (same stats, same kept ids) and with changed thresholds
(same kept ids and removal reasons as a fresh run with them); a default run is refused, with one
line naming the filter, when a decision needs a signal it did not compute.
"""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
import yaml
from run_outputs import data_table, decisions

from crawlsieve.core.layout import RunLayout
from crawlsieve.filters.config import FiltersConfig
from crawlsieve.pipelines.cli import main as cli
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.refilter import refilter_run
from crawlsieve.pipelines.run import run_pipeline

FILES = ("articles-00.warc.gz", "webpages-00.warc.gz")
FILTER_STAGES = ["heuristic_filters", "quality_classifier"]
STATS_KEYS = ("records_read", "pages_read", "documents_kept", "removed", "failed", "accounting_closes")


def quiet(message: str) -> None:
    pass


def inputs(shared_corpus) -> list[str]:
    return [str(shared_corpus / "warc" / name) for name in FILES]


def all_signals_config() -> Config:
    config = Config()
    config.filters.compute_all_signals = True
    return config


def changed(config: Config) -> Config:
    """Stricter on word count, laxer on line punctuation and compression (documents those removed
    come back), and the quality classifier removing: every kind of change at once."""
    config = config.model_copy(deep=True)
    config.filters.gopher_quality.min_doc_words = 150
    config.filters.fineweb_quality.line_punct_thr = 0.02
    config.filters.compression.max_ratio = 10.0
    config.filters.quality_classifier.mode = "drop"
    config.filters.quality_classifier.min_score = 0.2
    return config


@pytest.fixture(scope="module")
def all_signals_run(ray_local, shared_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("all-signals") / "run"
    stats = run_pipeline(inputs(shared_corpus), out, all_signals_config(), report=False, log=quiet)
    return out, stats


def kept_ids(output) -> list[str]:
    return data_table(output).column("id").to_pylist()


def test_refilter_with_the_runs_own_config_reproduces_its_outputs(all_signals_run, tmp_path):
    run, stats = all_signals_run
    out = tmp_path / "refiltered"
    again = refilter_run(run, out, all_signals_config(), report=True, log=quiet)
    for key in STATS_KEYS:
        assert again[key] == stats[key], key
    assert [s["name"] for s in again["stages"]] == [s["name"] for s in stats["stages"]]
    assert [(s["in"], s["out"]) for s in again["stages"]] == [(s["in"], s["out"]) for s in stats["stages"]]
    assert kept_ids(out) == kept_ids(run)
    assert decisions(out) == decisions(run)
    assert json.loads(RunLayout(out).stats.read_text())["documents_kept"] == stats["documents_kept"]
    assert set(again["phases"]["wall_seconds"]) == {"startup", "refilter", "dedup", "finalize", "aggregate"}
    assert "What if" in RunLayout(out).report.read_text(encoding="utf-8")


def test_refilter_with_changed_thresholds_equals_a_fresh_run_with_them(
    all_signals_run, shared_corpus, tmp_path
):
    run, stats = all_signals_run
    config = changed(Config())
    fresh = run_pipeline(inputs(shared_corpus), tmp_path / "fresh", config, report=False, log=quiet)
    refiltered = refilter_run(run, tmp_path / "refiltered", config, report=False, log=quiet)
    assert kept_ids(tmp_path / "refiltered") == kept_ids(tmp_path / "fresh")
    assert decisions(tmp_path / "refiltered") == decisions(tmp_path / "fresh")
    for key in STATS_KEYS:
        assert refiltered[key] == fresh[key], key
    # The change changed decisions both ways: documents the run removed are kept now, and more go.
    assert set(kept_ids(tmp_path / "refiltered")) - set(kept_ids(run))
    assert refiltered["removed"]["compression:ratio"] < stats["removed"]["compression:ratio"]
    assert refiltered["removed"]["gopher_quality:word_count"] > stats["removed"].get(
        "gopher_quality:word_count", 0
    )
    assert refiltered["removed"]["quality_classifier:score"] > 0
    assert refiltered["accounting_closes"] is True


def test_with_compute_all_signals_removed_documents_have_every_signal_and_their_whole_text(all_signals_run):
    run, stats = all_signals_run
    ledger = ds.dataset(RunLayout(run).ledger_files(), format="parquet").to_table()
    heuristic = ledger.filter(pc.equal(ledger.column("stage"), "heuristic_filters"))
    stage = next(s for s in stats["stages"] if s["name"] == "heuristic_filters")
    assert heuristic.num_rows == sum(stage["removed"].values()) + sum(stage["failed"].values()) > 0
    judged = heuristic.filter(pc.not_equal(heuristic.column("removed"), "filters:empty_text"))
    assert judged.column("quality_score").null_count == 0  # scored although removed before it
    # C4 runs last of the text filters, for the languages it judges (FineWeb-2's: English only)
    c4 = FiltersConfig().c4
    judges_c4 = [
        c4.thresholds_for(lang, None).mode != "off" for lang in judged.column("language").to_pylist()
    ]
    measured = [value is not None for value in judged.column("sig_c4_sentences").to_pylist()]
    assert measured == judges_c4 and any(judges_c4) and not all(judges_c4)
    assert pc.all(pc.equal(pc.utf8_length(judged.column("text")), judged.column("text_chars"))).as_py()
    assert pc.max(judged.column("text_chars")).as_py() > 2000  # not cut to the default ledger's 2,000


def test_what_if_counts_are_the_documents_each_threshold_alone_removes(all_signals_run):
    run, stats = all_signals_run
    layout = RunLayout(run)
    column = "sig_gopher_quality_word_count"
    docs = ds.dataset(layout.docs_files(), format="parquet").to_table(columns=[column])
    ledger = ds.dataset([layout.ledger(s, "extract") for s in _shards(run)], format="parquet").to_table()
    filtered = ledger.filter(pc.is_in(ledger.column("stage"), value_set=pa.array(FILTER_STAGES)))
    words = [
        v for v in docs.column(column).to_pylist() + filtered.column(column).to_pylist() if v is not None
    ]
    rule = next(r for r in stats["what_if"] if r["threshold"] == "gopher_quality.min_doc_words")
    assert rule["current"] == 50 and rule["removes"] == "below"
    for entry in rule["removed_at"]:
        assert entry["documents"] == sum(1 for w in words if w < entry["value"]), entry
    counts = [entry["documents"] for entry in rule["removed_at"]]
    assert counts == sorted(counts) and counts[0] < counts[-1]


def test_a_default_run_refuses_a_refilter_that_needs_a_signal_it_did_not_compute(
    ray_local, shared_corpus, tmp_path, capsys
):
    run = tmp_path / "run"
    stats = run_pipeline(inputs(shared_corpus)[:1], run, Config(), report=False, log=quiet)
    same = refilter_run(run, tmp_path / "same", Config(), report=False, log=quiet)
    assert kept_ids(tmp_path / "same") == kept_ids(run)
    assert {k: same[k] for k in STATS_KEYS} == {k: stats[k] for k in STATS_KEYS}

    stricter = Config()
    stricter.filters.gopher_quality.min_doc_words = 150  # needs no signal the run skipped
    refilter_run(run, tmp_path / "stricter", stricter, report=False, log=quiet)
    run_pipeline(inputs(shared_corpus)[:1], tmp_path / "fresh", stricter, report=False, log=quiet)
    assert decisions(tmp_path / "stricter") == decisions(tmp_path / "fresh")
    assert len(kept_ids(tmp_path / "stricter")) < len(kept_ids(run))

    laxer = {"filters": {"fineweb_quality": {"line_punct_thr": 0.0, "short_line_thr": 1.0}}}
    (tmp_path / "laxer.yaml").write_text(yaml.safe_dump(laxer))
    code = cli(
        ["refilter", str(run), "--config", str(tmp_path / "laxer.yaml"), "--output", str(tmp_path / "x")]
    )
    assert code == 2
    # The refusal comes from the file's task, after the progress line: one line, naming the filter.
    progress, error = capsys.readouterr().err.splitlines()
    assert progress.startswith("crawlsieve refilter: 1 input file")
    assert error.startswith("crawlsieve refilter: error: filter gopher_repetition:")
    assert "compute_all_signals" in error
    assert not RunLayout(tmp_path / "x").run_record.exists()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"filters": {"classifiers": [{"name": "edu", "model_path": "m.bin"}]}}, "filters.classifiers[edu]"),
        ({"filters": {"compression": {"min_chars": 10}}}, "filters.compression.min_chars"),
        ({"extract": {"favor_precision": False}}, "extract"),
        ({"dedup": {"num_perm": 64}}, "dedup.num_perm"),
    ],
)
def test_a_config_that_changes_more_than_thresholds_is_refused_with_one_line(
    all_signals_run, tmp_path, capsys, change, named
):
    run, _ = all_signals_run
    (tmp_path / "new.yaml").write_text(yaml.safe_dump(change))
    code = cli(
        ["refilter", str(run), "--config", str(tmp_path / "new.yaml"), "--output", str(tmp_path / "x")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err
    assert not (tmp_path / "x").exists()


def test_a_run_that_cut_text_into_other_units_is_refused_with_one_line(all_signals_run, tmp_path, capsys):
    """Its documents' signatures are of other shingles: refilter would sign the documents it keeps
    anew with this version's and mix the two in one dedup step."""
    run, _ = all_signals_run
    old = tmp_path / "old-run"
    shutil.copytree(run, old)
    record = json.loads(RunLayout(old).run_record.read_text())
    del record["units"]  # as every run made before the units were recorded
    RunLayout(old).run_record.write_text(json.dumps(record))
    (tmp_path / "same.yaml").write_text(yaml.safe_dump({"filters": {"compute_all_signals": True}}))
    code = cli(
        ["refilter", str(old), "--config", str(tmp_path / "same.yaml"), "--output", str(tmp_path / "x")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "other units (units-v1, this crawlsieve units-v2)" in err
    assert not (tmp_path / "x").exists()


def test_refilter_refuses_a_directory_without_a_run(tmp_path):
    from crawlsieve.core.errors import UsageError

    with pytest.raises(UsageError, match="holds no crawlsieve run"):
        refilter_run(tmp_path, tmp_path / "out", Config(), log=quiet)


def _shards(run) -> list[str]:
    return sorted(json.loads(RunLayout(run).run_record.read_text())["shards"])
