"""`crawlsieve mix --fit`: the law is recovered from noisy proxy runs, the chosen mixture is near the
true optimum under the same constraints, the plan keeps the epoch and token limits, and bad
experiments files are refused with one line."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import yaml
from mix_experiments import Law, draw_runs, random_laws, write_csv
from run_outputs import small_run

from crawlsieve.pipelines.cli import main as cli
from crawlsieve.quality import mixfit

COLUMNS = ["domain=news/language=en", "domain=code/language=en", "domain=news/language=de"]
GROUPS = [
    {"domain": "news", "language": "en", "documents": 200, "tokens": 2000},
    {"domain": "code", "language": "en", "documents": 100, "tokens": 1000},
    {"domain": "news", "language": "de", "documents": 100, "tokens": 1000},
]


def grid_optimum(laws: list[Law], cap: np.ndarray, step: float = 1 / 400) -> float:
    """The true law's lowest mean loss over a fine grid of the feasible simplex (3 columns)."""
    n = round(1 / step)
    points = np.array([(i, j, n - i - j) for i in range(n + 1) for j in range(n + 1 - i)]) / n
    points = points[(points <= cap + 1e-12).all(axis=1)]
    return float(np.mean([law.loss(points) for law in laws], axis=0).min())


def experiments_file(tmp_path, laws, runs=30, noise=0.002, seed=1, columns=COLUMNS):
    shares, losses = draw_runs(laws, len(columns), runs, noise, seed)
    return write_csv(tmp_path / "experiments.csv", columns, shares, losses)


@pytest.fixture
def run_dir(tmp_path):
    """2,000 news/en, 1,000 code/en and 1,000 news/de tokens."""
    return small_run(tmp_path / "run", [("news", "en", 200), ("code", "en", 100), ("news", "de", 100)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_recovers_the_law_and_chooses_a_mixture_within_1_percent_of_the_true_optimum(tmp_path, seed):
    laws = random_laws(["web", "code"], 3, seed)
    path = experiments_file(tmp_path, laws, seed=seed + 10)
    experiments = mixfit.read_experiments(path)
    members = mixfit.members_of(experiments, GROUPS, tmp_path)
    weights = mixfit.parse_eval_weights(None, experiments.eval_sets)
    tokens, max_epochs = 4000, 1.5  # caps: news/en 0.75, code/en and news/de 0.375
    fit = mixfit.fit_mixture(experiments, members, "law", weights, tokens, max_epochs, seed=0)
    for model, law in zip(fit.models, laws.values(), strict=True):
        # 0.2% noise on losses of ~3: t within 0.1, c within 5%, k within 10% (c and k trade off
        # against each other where t is small)
        assert model.t == pytest.approx(law.t, abs=0.1)
        assert model.c == pytest.approx(law.c, rel=0.05)
        assert model.k == pytest.approx(law.k, rel=0.1)
    cap = np.array([0.75, 0.375, 0.375])
    assert fit.cap == pytest.approx(cap)
    assert (fit.shares <= cap + 1e-9).all() and fit.shares.sum() == pytest.approx(1)
    true_loss = float(np.mean([law.loss(fit.shares)[0] for law in laws.values()]))
    optimum = grid_optimum(list(laws.values()), cap)
    assert true_loss <= optimum * 1.01, (true_loss, optimum)
    assert fit.held_out_kind == "leave-one-out" and fit.held_out is not None


def test_scales_add_a_power_law_term_and_predictions_are_made_at_the_largest_run(tmp_path):
    laws = random_laws(["web"], 3, 5)
    law = laws["web"]
    rng = np.random.default_rng(3)
    shares = rng.dirichlet(np.ones(3), 42)
    train_tokens = np.array([1e8, 2e8, 4e8] * 14)  # three scales: two would not separate a from alpha
    a, alpha = 0.4, 0.5  # loss = law + a·(D / 4e8)^-alpha
    loss = law.loss(shares) + a * (train_tokens / 4e8) ** -alpha
    loss *= 1 + 0.001 * rng.standard_normal(42)
    path = write_csv(tmp_path / "e.csv", COLUMNS, shares, {"web": loss}, {"train_tokens": train_tokens})
    experiments = mixfit.read_experiments(path)
    assert list(experiments.scales) == ["train_tokens"] and experiments.reference == {"train_tokens": 4e8}
    members = mixfit.members_of(experiments, GROUPS, tmp_path)
    fit = mixfit.fit_mixture(experiments, members, "law", np.array([1.0]), 4000, 4, seed=0)
    [model] = fit.models
    assert model.t == pytest.approx(law.t, abs=0.1)
    assert model.scale[0][1] == pytest.approx(alpha, abs=0.1)
    assert model.c + model.scale[0][0] == pytest.approx(law.c + a, rel=0.02)
    assert experiments.at_reference()[fit.best_run()]
    true_loss = law.loss(fit.shares)[0]
    assert true_loss <= grid_optimum([law], np.ones(3)) * 1.01


def test_plan_keeps_epoch_and_token_limits_and_materialize_writes_exactly_that_plan(
    run_dir, tmp_path, capsys
):
    # code/en lowers the loss most, so the optimum wants more of it than 2 epochs of 1,000 tokens
    law = Law(c=2.0, k=1.0, t=np.array([0.5, -2.0, 1.5]))
    shares = np.random.default_rng(0).dirichlet(np.ones(3), 12)
    path = write_csv(tmp_path / "e.csv", COLUMNS, shares, {"val": law.loss(shares)})
    plan_path, out = tmp_path / "plan.json", tmp_path / "mixed"
    argv = ["mix", str(run_dir), "--fit", str(path), "--tokens", "5000", "--max-epochs", "2"]
    assert cli([*argv, "--output", str(plan_path), "--materialize", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "binding constraints: domain=code/language=en (max epochs), domain=news/language=de (zero)" in printed
    )
    assert "held-out error by leave-one-out" in printed and "best observed run proxy-" in printed
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    for group in plan["groups"]:
        assert group["target_tokens"] <= group["available_tokens"] * 2 + 1
        assert group["epochs"] <= 2 + 1e-6
    assert abs(plan["totals"]["target_tokens"] - 5000) <= len(plan["groups"])
    code = next(g for g in plan["groups"] if g["domain"] == "code")
    assert code["epochs"] == pytest.approx(2) and code["target_tokens"] == 2000
    binding = {"domain=code/language=en": "max epochs", "domain=news/language=de": "zero"}
    assert plan["fit"]["chosen"]["binding"] == binding
    assert plan["fit"]["eval_sets"]["val"]["parameters"]["t domain=code/language=en"] < 0
    written = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert {key: value for key, value in written.items() if key != "report"} == plan
    mixed = json.loads((out / "mixture.json").read_text(encoding="utf-8"))
    got = {(g["domain"], g["language"]): g["tokens"] for g in mixed["groups"]}
    assert got[("code", "en")] == 2000, "two whole epochs: every document exactly twice"
    for group in plan["groups"]:
        key = (group["domain"], group["language"])
        assert got.get(key, 0) == pytest.approx(group["target_tokens"], rel=0.2, abs=50), key


def test_one_key_columns_split_their_share_over_their_groups_by_tokens(run_dir, tmp_path, capsys):
    law = Law(c=2.0, k=1.0, t=np.array([-0.5, 0.5]))
    shares = np.random.default_rng(1).dirichlet(np.ones(2), 8)
    path = write_csv(tmp_path / "e.csv", ["language=en", "language=de"], shares, {"val": law.loss(shares)})
    plan_path = tmp_path / "plan.yaml"
    assert cli(["mix", str(run_dir), "--fit", str(path), "--tokens", "4000", "--output", str(plan_path)]) == 0
    capsys.readouterr()
    plan = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    by_key = {(g["domain"], g["language"]): g for g in plan["groups"]}
    en = plan["fit"]["chosen"]["shares"]["language=en"]
    assert en > 0.5
    assert by_key[("news", "en")]["target_weight"] == pytest.approx(en * 2 / 3, abs=1e-6)
    assert by_key[("code", "en")]["epochs"] == pytest.approx(by_key[("news", "en")]["epochs"], abs=1e-4)


def test_eval_weights_move_the_optimum_toward_the_weighted_set(tmp_path):
    laws = {"a": Law(2.0, 1.0, np.array([-2.0, 1.0, 1.0])), "b": Law(2.0, 1.0, np.array([1.0, -2.0, 1.0]))}
    path = experiments_file(tmp_path, laws, noise=0.0005)
    experiments = mixfit.read_experiments(path)
    members = mixfit.members_of(experiments, GROUPS, tmp_path)
    chosen = {}
    for spec in ("a=1,b=0", "a=1,b=1", "loss:a=0,loss:b=1"):
        weights = mixfit.parse_eval_weights(spec, experiments.eval_sets)
        chosen[spec] = mixfit.fit_mixture(experiments, members, "law", weights, 1000, 10, seed=0).shares
    assert chosen["a=1,b=0"][0] > chosen["a=1,b=1"][0] > chosen["loss:a=0,loss:b=1"][0]
    assert chosen["a=1,b=0"][0] == pytest.approx(1, abs=1e-3), "only a: all of a's best group"


def test_regmix_chooses_a_near_optimal_feasible_mixture_from_many_runs(run_dir, tmp_path, capsys):
    laws = random_laws(["web", "code"], 3, 7)
    path = experiments_file(tmp_path, laws, runs=256, noise=0.002, seed=8)
    plan_path = tmp_path / "plan.yaml"
    argv = ["mix", str(run_dir), "--fit", str(path), "--method", "regmix", "--tokens", "5000"]
    assert cli([*argv, "--max-epochs", "2", "--output", str(plan_path)]) == 0
    assert "held-out error by 10-fold" in capsys.readouterr().out
    plan = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    assert plan["fit"]["method"] == "regmix"
    shares = np.array([plan["fit"]["chosen"]["shares"][c] for c in COLUMNS])
    cap = np.array([0.8, 0.4, 0.4])
    assert (shares <= cap + 1e-6).all() and shares.sum() == pytest.approx(1)
    true_loss = float(np.mean([law.loss(shares)[0] for law in laws.values()]))
    assert true_loss <= grid_optimum(list(laws.values()), cap) * 1.03


GOOD = (
    "run,domain=news/language=en,domain=code/language=en,loss:val\n"
    "r1,0.5,0.5,3.1\nr2,0.2,0.8,3.0\nr3,0.9,0.1,3.2\n"
)


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("", [], "is empty"),
        ("run,domain=news/language=en,loss:val\n", [], "has a header but no runs"),
        (GOOD.replace("language=en,loss", "language=fr,loss"), [], "names no group of"),
        (GOOD.replace("r2,0.2", "r2,0.3"), [], "shares add up to 1.1, not 1"),
        (GOOD.replace("3.0", "nan"), [], "loss:val is not a finite number"),
        (GOOD.replace("3.0", "inf"), [], "loss:val is not a finite number"),
        ("run,domain=news/language=en,domain=code/language=en\nr1,0.5,0.5\n", [], "has no loss columns"),
        ("run,loss:val\nr1,3\n", [], "has no share columns"),
        (GOOD.replace("r2,0.2,0.8,3.0", "r2,0.2,0.8"), [], "line 3: 3 fields, the header has 4"),
        (GOOD.replace("loss:val", "los:val"), [], "unknown column 'los:val'"),
        (GOOD.replace("domain=code/language=en", "language=de"), [], "share columns mix keys"),
        (GOOD.replace("3.1", "low"), [], "loss:val is 'low', not a number"),
        (GOOD.replace("r1,0.5,0.5", "r1,1.5,-0.5"), [], "shares must be finite numbers >= 0"),
        (GOOD.replace("\nr3,0.9,0.1,3.2", ""), [], "2 runs cannot fit 3 parameters per eval set"),
        (GOOD, ["--eval-weights", "test=1"], "--eval-weights: 'test=1' is not <evalset>=<weight> of val"),
        (GOOD, ["--tokens", "1e9"], "is more than the experiments' groups hold"),
        (GOOD.replace("0.2,0.8", "0.5,0.5").replace("0.9,0.1", "0.5,0.5"), [], "same share in every run"),
    ],
)
def test_bad_experiments_exit_2_with_one_line(run_dir, tmp_path, capsys, content, extra, message):
    path = tmp_path / "experiments.csv"
    path.write_text(content, encoding="utf-8")
    argv = ["mix", str(run_dir), "--fit", str(path), "--tokens", "1000", *extra]
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_fit_options_without_fit_are_refused(run_dir, tmp_path, capsys):
    target = tmp_path / "target.yaml"
    target.write_text("language: {en: 1}\n", encoding="utf-8")
    argv = ["mix", str(run_dir), "--target", str(target), "--tokens", "100", "--method", "regmix"]
    assert cli(argv) == 2
    assert "--method and --eval-weights go with --fit" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli(["mix", str(run_dir), "--tokens", "100"])
    assert exited.value.code == 2
    assert "one of the arguments --target --fit is required" in capsys.readouterr().err


def test_projection_lands_on_the_capped_simplex():
    points = np.array([[0.9, 0.9, 0.9], [-1.0, 2.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    cap = np.array([0.5, 0.3, 1.0])
    projected = mixfit.project(points, cap)
    assert projected.sum(axis=1) == pytest.approx(np.ones(3))
    assert ((projected >= 0) & (projected <= cap + 1e-12)).all()
    for point, got in zip(points, projected, strict=True):
        grid = [np.array(p) for p in itertools.product(np.linspace(0, 1, 101), repeat=2)]
        feasible = [np.append(p, 1 - p.sum()) for p in grid if 1 - p.sum() >= -1e-12]
        feasible = [q for q in feasible if (q <= cap + 1e-12).all()]
        best = min(np.sum((q - point) ** 2) for q in feasible)
        assert np.sum((got - point) ** 2) <= best + 1e-9


def test_the_report_of_a_materialized_fit_shows_the_fit(run_dir, tmp_path, capsys):
    law = Law(c=2.0, k=1.0, t=np.array([0.5, -2.0, 1.5]))
    shares = np.random.default_rng(0).dirichlet(np.ones(3), 12)
    path = write_csv(tmp_path / "e.csv", COLUMNS, shares, {"val": law.loss(shares)})
    out = tmp_path / "mixed"
    argv = ["mix", str(run_dir), "--fit", str(path), "--tokens", "5000", "--max-epochs", "2"]
    assert cli([*argv, "--materialize", str(out)]) == 0
    assert cli(["report", str(out)]) == 0
    capsys.readouterr()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h3>Mixture fit</h3>" in page and "leave-one-out" in page
    assert '<td>domain=code/language=en</td><td class="n">0.4</td><td>max epochs</td>' in page


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_fit_on_100000_runs_finishes_and_lists_only_the_runs_worth_a_look(run_dir, tmp_path, capsys):
    """Issue 21 #12: 100,000 rows ran past 300 s (a mixture search from every run, and every run
    written to the plan); the work is now linear in the runs and the plan stays small."""
    laws = random_laws(["web", "code"], 3, 4)
    path = experiments_file(tmp_path, laws, runs=100_000, noise=0.002, seed=5)
    plan_path = tmp_path / "plan.yaml"
    argv = ["mix", str(run_dir), "--fit", str(path), "--tokens", "4000", "--max-epochs", "1.5"]
    assert cli([*argv, "--output", str(plan_path)]) == 0
    printed = capsys.readouterr().out
    assert "100000 runs, held-out error by 10-fold" in printed
    listed = "the best run and the 39 with the largest held-out error, of 100,000 runs"
    assert f"runs listed: {listed}" in printed
    plan = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    fit = plan["fit"]
    assert fit["runs"] == 100_000 and fit["run_errors_listed"] == listed
    assert len(fit["run_errors"]) <= mixfit.LISTED_RUNS
    assert fit["best_run"]["run"] in {row["run"] for row in fit["run_errors"]}
    for name, law in laws.items():
        t = [fit["eval_sets"][name]["parameters"][f"t {c}"] for c in COLUMNS]
        assert t == pytest.approx(law.t, abs=0.02)
    cap = np.array([0.75, 0.375, 0.375])
    shares = np.array([fit["chosen"]["shares"][c] for c in COLUMNS])
    assert (shares <= cap + 1e-6).all() and shares.sum() == pytest.approx(1)
    true_loss = float(np.mean([law.loss(shares)[0] for law in laws.values()]))
    assert true_loss <= grid_optimum(list(laws.values()), cap) * 1.001


def test_a_few_runs_are_all_listed(tmp_path):
    laws = random_laws(["web"], 3, 0)
    experiments = mixfit.read_experiments(experiments_file(tmp_path, laws, runs=12))
    members = mixfit.members_of(experiments, GROUPS, tmp_path)
    fit = mixfit.fit_mixture(experiments, members, "law", np.array([1.0]), 4000, 1.5, seed=0)
    record = mixfit.fit_record(fit)
    assert record["run_errors_listed"] == "all 12 runs"
    assert [row["run"] for row in record["run_errors"]] == experiments.runs


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_regmix_on_100000_runs_learns_from_a_bounded_sample_and_still_chooses_well(run_dir, tmp_path, capsys):
    """Issue 21 #12 for --method regmix: 22 fits of 300 trees on ~90,000 runs each ran past 7
    minutes; each fit now learns from a seeded sample of REGMIX_MAX_RUNS runs, and says so."""
    pytest.importorskip("sklearn")
    laws = random_laws(["web", "code"], 3, 7)
    path = experiments_file(tmp_path, laws, runs=100_000, noise=0.002, seed=8)
    plan_path = tmp_path / "plan.yaml"
    argv = ["mix", str(run_dir), "--fit", str(path), "--method", "regmix", "--tokens", "5000"]
    assert cli([*argv, "--max-epochs", "2", "--output", str(plan_path)]) == 0
    printed = capsys.readouterr().out
    assert f"each fit learns from a seeded sample of {mixfit.REGMIX_MAX_RUNS:,} runs" in printed
    fit = yaml.safe_load(plan_path.read_text(encoding="utf-8"))["fit"]
    assert fit["runs"] == 100_000 and fit["runs_per_fit"] == mixfit.REGMIX_MAX_RUNS
    shares = np.array([fit["chosen"]["shares"][c] for c in COLUMNS])
    cap = np.array([0.8, 0.4, 0.4])
    assert (shares <= cap + 1e-6).all() and shares.sum() == pytest.approx(1)
    true_loss = float(np.mean([law.loss(shares)[0] for law in laws.values()]))
    assert true_loss <= grid_optimum(list(laws.values()), cap) * 1.03
