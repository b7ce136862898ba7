"""The stage base (`core.stages.Stage`): every stage a run builds inherits it, and the loops over its
optional hooks (check, prepare, counters, booked names, whole-row ledger) see every stage, those a
stage runs inside it included."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from crawlsieve.core.errors import ConfigError
from crawlsieve.core.layout import RunLayout
from crawlsieve.core.stages import Stage, booked_names, check_stages, prepare_stages, stage_counters
from crawlsieve.filters.config import DecontaminationConfig, PiiConfig
from crawlsieve.filters.decontamination import DecontaminationStage
from crawlsieve.filters.pii import PiiStage
from crawlsieve.filters.stages import AllSignalsFilters
from crawlsieve.pipelines.config import config_from_dict
from crawlsieve.pipelines.extract_phase import per_file_stages, stage_names
from crawlsieve.pipelines.finalize import finalize_stages

QUESTION = (
    "Which gas do green plants absorb from the air during photosynthesis to build the sugars they store?"
)


def test_every_stage_of_a_run_with_every_part_on_inherits_the_stage_base(tmp_path):
    bench = tmp_path / "quiz.jsonl"
    bench.write_text(json.dumps({"question": QUESTION}) + "\n", encoding="utf-8")
    config = config_from_dict(
        {
            "filters": {
                "compute_all_signals": True,
                "pii": {"enabled": True},
                "decontamination": {"benchmarks": {"quiz": str(bench)}},
            },
            "dedup": {"subdoc": {"enabled": True}},
        }
    )
    stages = [*per_file_stages(config, RunLayout(tmp_path / "run")), *finalize_stages(config)]
    assert {type(s).__name__ for s in stages} >= {"PiiStage", "DecontaminationStage", "AllSignalsFilters"}
    assert all(isinstance(stage, Stage) for stage in stages)
    (combined,) = [s for s in stages if isinstance(s, AllSignalsFilters)]
    assert all(isinstance(stage, Stage) for stage in combined.stages)
    # Decisions are booked under the inner stages' names, never under the combined stage's.
    names = stage_names(config)
    assert names[0] == "read" and "heuristic_filters" in names and "quality_classifier" in names
    assert combined.name not in names
    assert [s.ledger_whole_rows for s in stages].count(True) == 1 and combined.ledger_whole_rows


def test_a_stage_running_others_passes_each_hook_to_them(tmp_path):
    bench = tmp_path / "quiz.jsonl"
    bench.write_text(json.dumps({"question": QUESTION}) + "\n", encoding="utf-8")
    index = RunLayout(tmp_path / "run").decontamination_index
    decontamination = DecontaminationStage(DecontaminationConfig(benchmarks={"quiz": str(bench)}), index)
    pii = PiiStage(PiiConfig(enabled=True))
    combined = AllSignalsFilters([decontamination, pii])
    assert booked_names([combined]) == ["decontamination", "pii"]

    prepare_stages([combined])
    assert index.is_file()
    check_stages([combined])
    combined(pa.table({"text": [QUESTION, "write to ana@mail.org today"]}))
    counted = stage_counters([combined])
    assert {name: n for name, n in counted.items() if n} == {
        "decontamination:quiz": 1,
        "pii:emails": 1,
        "pii:documents": 1,
    }

    bench.write_text("{not json", encoding="utf-8")
    broken = AllSignalsFilters([DecontaminationStage(DecontaminationConfig(benchmarks={"q": str(bench)}))])
    with pytest.raises(ConfigError, match="decontamination"):
        check_stages([broken])


def test_a_stage_without_hooks_has_the_no_op_defaults():
    class Upper(Stage):
        name = "upper"

        def __call__(self, batch: pa.Table) -> pa.Table:
            return batch

    stage = Upper()
    check_stages([stage])
    prepare_stages([stage])
    assert stage_counters([stage]) == {} and booked_names([stage]) == ["upper"]
    assert stage.ledger_whole_rows is False and stage.child_cpu_seconds == 0.0
