"""`crawlsieve mix`: plan arithmetic, epoch and missing-group warnings, and --materialize."""

from __future__ import annotations

import json

import pytest
import yaml
from run_outputs import data_table, small_run

from crawlsieve.pipelines.cli import main as cli
from crawlsieve.quality.mix import compute_plan, rehydration_factors, resolve_weights

GROUPS = [
    {"domain": "news", "language": "en", "documents": 60, "tokens": 600},
    {"domain": "code", "language": "en", "documents": 10, "tokens": 100},
    {"domain": "news", "language": "zh", "documents": 30, "tokens": 300},
]


def by_key(plan: dict) -> dict:
    return {(g["domain"], g["language"]): g for g in plan["groups"]}


def test_shares_below_one_leave_the_rest_to_unlisted_values_in_natural_proportion():
    shares, missing = resolve_weights({"code": 0.1}, {"code": 50, "news": 300, "forum": 100})
    assert shares == pytest.approx({"code": 0.1, "news": 0.9 * 3 / 4, "forum": 0.9 / 4})
    assert missing == []


def test_weights_of_one_or_more_are_ratios_and_leave_unlisted_values_out():
    shares, missing = resolve_weights({"en": 2, "zh": 1, "fr": 1}, {"en": 10, "zh": 1, "de": 5})
    assert shares == pytest.approx({"en": 2 / 3, "zh": 1 / 3})
    assert missing == ["fr"]


def test_plan_arithmetic_for_language_ratio_and_code_share():
    plan = compute_plan(GROUPS, {"language": {"en": 2, "zh": 1}, "domain": {"code": 0.1}}, 3000, 4)
    groups = by_key(plan)
    assert groups[("code", "en")]["target_tokens"] == 200  # 3000 * 2/3 * 0.1
    assert groups[("news", "en")]["target_tokens"] == 1800  # 3000 * 2/3 * 0.9
    assert groups[("news", "zh")]["target_tokens"] == 1000  # 3000 * 1/3 (no code in zh)
    assert groups[("code", "en")]["epochs"] == pytest.approx(2.0)
    assert groups[("news", "en")]["epochs"] == pytest.approx(3.0)
    assert groups[("news", "zh")]["epochs"] == pytest.approx(1000 / 300, rel=1e-5)
    assert plan["totals"]["target_tokens"] == 3000
    assert sum(g["target_weight"] for g in plan["groups"]) == pytest.approx(1)
    assert plan["warnings"] == ["target domain 'code' has no tokens in language 'zh'"]


def test_groups_repeated_beyond_max_epochs_are_warned_about():
    plan = compute_plan(GROUPS, {"language": {"en": 2, "zh": 1}}, 3000, max_epochs=3)
    epoch_warnings = [w for w in plan["warnings"] if "epochs" in w]
    assert len(epoch_warnings) == 1 and "domain=news language=zh" in epoch_warnings[0]
    below = compute_plan(GROUPS, {"language": {"en": 1}}, 350, max_epochs=4)
    assert by_key(below)[("news", "en")]["sampling_rate"] == pytest.approx(0.5)
    assert by_key(below)[("news", "zh")]["target_tokens"] == 0
    assert below["warnings"] == []


def test_a_target_language_missing_from_the_data_is_warned_about_and_the_plan_still_adds_up():
    plan = compute_plan(GROUPS, {"language": {"en": 1, "fr": 1}}, 1000, 4)
    assert "target language 'fr' has no tokens in the data" in plan["warnings"]
    assert plan["totals"]["target_tokens"] == 1000


def test_rehydration_takes_the_copies_of_the_largest_bound_not_above_the_cluster_size():
    import pyarrow as pa

    sizes = pa.array([1, 2, 3, 4, 5, 6, 1000, None], pa.int64())
    assert rehydration_factors(sizes, {1: 1, 2: 3, 4: 2, 6: 0}).tolist() == [1, 3, 3, 2, 2, 0, 0, 1]
    assert rehydration_factors(sizes, {3: 0.5}).tolist() == [1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 1]


@pytest.fixture
def run_dir(tmp_path):
    """400 docs of 10 tokens in three groups, with its mixture.json."""
    return small_run(tmp_path / "run", [("news", "en", 200), ("code", "en", 100), ("news", "de", 100)])


def test_mix_command_prints_and_writes_the_plan_and_warns(run_dir, tmp_path, capsys):
    target = tmp_path / "target.yaml"
    target.write_text("language: {en: 3, de: 1}\ndomain: {code: 0.5}\n", encoding="utf-8")
    plan_path = tmp_path / "plan.yaml"
    argv = ["mix", str(run_dir), "--target", str(target), "--tokens", "8e3", "--output", str(plan_path)]
    assert cli([*argv, "--max-epochs", "2.5"]) == 0
    printed = capsys.readouterr()
    assert "code" in printed.out and "8,000" in printed.out
    assert "target domain 'code' has no tokens in language 'de'" in printed.err
    assert "domain=code language=en would be repeated 3.00 epochs" in printed.err
    plan = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    assert by_key(plan)[("code", "en")]["target_tokens"] == 3000  # 8000 * 3/4 * 0.5
    assert plan["totals"]["target_tokens"] == 8000


def test_materialize_matches_the_plan_within_sampling_tolerance(run_dir, tmp_path):
    target = tmp_path / "target.json"
    target.write_text(json.dumps({"language": {"en": 1, "de": 1}}), encoding="utf-8")
    out = tmp_path / "mixed"
    argv = ["mix", str(run_dir), "--target", str(target), "--tokens", "3000", "--materialize", str(out)]
    assert cli(argv) == 0
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    mixed = json.loads((out / "mixture.json").read_text(encoding="utf-8"))
    got = {(g["domain"], g["language"]): g["tokens"] for g in mixed["groups"]}
    for group in plan["groups"]:
        key = (group["domain"], group["language"])
        expected = group["target_tokens"]  # en groups sample < 1 epoch, de repeats 1.5 epochs
        assert got[key] == pytest.approx(expected, rel=0.2), (key, got[key], expected)
    assert got[("news", "de")] >= 1000, "a 1.5-epoch group holds every document at least once"
    report = {(g["domain"], g["language"]): g["tokens"] for g in plan["report"]["groups"]}
    assert report == got, "plan.json reports the exact tokens written, as mixture.json counts them"
    rows = data_table(out).to_pylist()
    assert len({row["id"] for row in rows}) == len(rows), "every copy has its own id"
    repeated = [row for row in rows if row["epoch"] > 0]
    assert repeated and all(row["id"].endswith(f"#epoch{row['epoch']}") for row in repeated)
    assert cli(argv) == 0, "a second materialize replaces rather than duplicates"
    again = json.loads((out / "mixture.json").read_text(encoding="utf-8"))
    assert again["totals"] == mixed["totals"]


@pytest.mark.parametrize(
    ("content", "tokens", "message"),
    [
        ("colour: {red: 1}\n", "100", "unknown key 'colour'"),
        ("language: {en: -1}\n", "100", "must be a number >= 0"),
        ("language: [en]\n", "100", "must map values to weights"),
        ("language: {en: 1}\n", "lots", "--tokens must be a number"),
        ("language: {en: 1}\n", "0", "--tokens must be positive"),
        ("rehydrate: {0: 1}\n", "100", "rehydrate bound 0 must be a whole number >= 1"),
        ("rehydrate: {2: -1}\n", "100", "rehydrate copies for 2 must be a number >= 0"),
        ("rehydrate: [1, 2]\n", "100", "rehydrate must map dup_cluster_size bounds to copies"),
    ],
)
def test_bad_targets_and_token_counts_exit_2_with_one_line(
    run_dir, tmp_path, capsys, content, tokens, message
):
    target = tmp_path / "target.yaml"
    target.write_text(content, encoding="utf-8")
    assert cli(["mix", str(run_dir), "--target", str(target), "--tokens", tokens]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
