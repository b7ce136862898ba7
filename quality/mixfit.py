"""`crawlsieve mix DIR --fit experiments.csv`: mixture weights fitted on small proxy runs.

A few small models are trained on different mixtures; a law fitted to their validation losses
predicts the loss of any mixture, and the mixture it predicts best, within the tokens the data
has, becomes the plan (written by `mix`'s own plan and materialize code).

The CSV has one row per proxy run:

- share columns, one per group: ``domain=news/language=en`` for a group of mixture.json by domain
  and language (all its genres), or ``language=en`` (every domain of English), ``domain=news``
  (every language of news), ``genre=forum``, or any other subset of the keys domain, language and
  genre; all share columns use the same keys. A column's share is split over its groups in
  proportion to their tokens. Shares are >= 0 and add up to 1 (within 0.01; rows are rescaled to
  exactly 1). Groups of the data without a column get no tokens.
- ``loss:<evalset>`` columns: each run's validation loss on that evaluation set.
- optional ``run`` (a name), ``model_params`` and ``train_tokens`` (the run's scale). When runs
  come at more than one scale, each varying scale adds a term ``a·(x/x_ref)^-alpha`` to the
  law (or a log-scale feature to RegMix) and predictions are made at the scale of the largest
  run (by model_params × train_tokens); the chosen mixture does not depend on the scale under
  the law, which is additive in it.

Methods (``--method``):

- ``law`` (default): the data mixing law of Ye et al. ("Data Mixing Laws", 2024) per eval set,
  ``L(r) = c + k·exp(Σ_j t_j·r_j)``, fitted by least squares (scipy). As the shares add up
  to 1, t is only defined up to a constant (absorbed by k): it is reported centered, Σ t_j = 0.
  With k >= 0 the law is convex in r, so the optimum over the constraints is found reliably.
  It needs at least J + 1 runs for J share columns (plus 2 per varying scale).
- ``regmix``: RegMix (Liu et al., "RegMix", 2024): gradient-boosted trees (scikit-learn) per
  eval set, then the mean of the 100 best of 100,000 sampled feasible mixtures. Trees do not
  extrapolate and need many runs (RegMix used hundreds); use it when there are that many. Each
  fit learns from at most ``REGMIX_MAX_RUNS`` runs (a seeded sample of them when there are more:
  22 fits of 300 trees on 90,000 runs each took over 7 minutes, for trees of depth 2 that a few
  thousand runs already pin down); every run is still predicted and listed.

The objective is the (``--eval-weights``-weighted) mean predicted loss over the eval sets,
subject to: shares >= 0 adding up to 1, and a group's tokens <= its available tokens ×
``--max-epochs``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crawlsieve.quality.mixture import GROUP_KEYS, group_key, group_values

LOSS_PREFIX = "loss:"
SCALE_COLUMNS = ("model_params", "train_tokens")
SHARE_TOLERANCE = 0.01
MAX_LOO_RUNS = 40  # beyond this many runs, held-out error is 10-fold instead of leave-one-out
REGMIX_SAMPLES = 100_000
REGMIX_TOP = 100
REGMIX_MAX_RUNS = 10_000
LISTED_RUNS = 40  # runs printed and recorded one by one; of more, those with the largest errors
RUN_STARTS = 8  # the best-predicted runs the mixture search starts from, besides natural and uniform
FORMULA = "L = c + k*exp(sum_j t_j*r_j)"


def _usage(message: str) -> Exception:
    from crawlsieve.core.errors import UsageError

    return UsageError(message)


# --- the experiments file -------------------------------------------------------------------


@dataclass
class Experiments:
    """The proxy runs of an experiments CSV, checked."""

    path: Path
    columns: list[str]  # share columns, canonical names (`domain=…/language=…`)
    selectors: list[dict[str, str]]
    runs: list[str]
    shares: np.ndarray  # (runs, columns), rows sum to 1
    eval_sets: list[str]
    losses: np.ndarray  # (runs, eval sets)
    scales: dict[str, np.ndarray] = field(default_factory=dict)  # only the scale columns that vary
    reference: dict[str, float] = field(default_factory=dict)  # the largest run's scale

    def scale_features(self) -> np.ndarray:
        """log(x / x_ref) per varying scale column: 0 at the reference scale."""
        if not self.scales:
            return np.zeros((len(self.runs), 0))
        return np.column_stack([np.log(v / self.reference[k]) for k, v in self.scales.items()])

    def at_reference(self) -> np.ndarray:
        """Which runs were trained at the reference scale."""
        mask = np.ones(len(self.runs), dtype=bool)
        for key, values in self.scales.items():
            mask &= np.isclose(values, self.reference[key])
        return mask


def column_name(selector: dict[str, str]) -> str:
    return "/".join(f"{key}={selector[key]}" for key in GROUP_KEYS if key in selector)


def parse_selector(name: str, path: Path) -> dict[str, str]:
    selector: dict[str, str] = {}
    for part in name.split("/"):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or key not in GROUP_KEYS or not value or key in selector:
            raise _usage(f"{path}: column '{name}' is not a group like domain=news/language=en")
        selector[key] = value
    return selector


def _number(cell: str, line: int, column: str, path: Path) -> float:
    try:
        return float(cell)
    except ValueError:
        raise _usage(f"{path} line {line}: {column} is {cell.strip()!r}, not a number") from None


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank CSV row."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            return [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except OSError as error:
        raise _usage(f"cannot read experiments {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise _usage(f"experiments {path} is not a UTF-8 CSV file ({error})") from None


@dataclass
class _Header:
    shares: list[int]
    selectors: list[dict[str, str]]
    losses: list[int]
    scales: dict[str, int]
    run: int | None


def _read_header(header: list[str], path: Path) -> _Header:
    duplicate = next((name for name in header if header.count(name) > 1), None)
    if duplicate is not None:
        raise _usage(f"{path}: column '{duplicate}' appears twice")
    columns = _Header([], [], [], {}, None)
    for i, name in enumerate(header):
        if name.startswith(LOSS_PREFIX) and name[len(LOSS_PREFIX) :].strip():
            columns.losses.append(i)
        elif name in SCALE_COLUMNS:
            columns.scales[name] = i
        elif name == "run":
            columns.run = i
        elif "=" in name:
            columns.shares.append(i)
            columns.selectors.append(parse_selector(name, path))
        else:
            raise _usage(
                f"{path}: unknown column '{name}' (expected domain=…/language=…, loss:<evalset>, "
                f"run, {', '.join(SCALE_COLUMNS)})"
            )
    if not columns.shares:
        raise _usage(f"{path} has no share columns (like domain=news/language=en or language=en)")
    if not columns.losses:
        raise _usage(f"{path} has no loss columns (loss:<evalset>)")
    if len({tuple(s) for s in columns.selectors}) > 1:
        keys = ", ".join(sorted({"/".join(s) for s in columns.selectors}))
        raise _usage(f"{path}: share columns mix keys ({keys})")
    names = [column_name(s) for s in columns.selectors]
    if len(set(names)) < len(names):
        raise _usage(f"{path}: two share columns name the same group")
    return columns


def read_experiments(path: Path) -> Experiments:
    """Read and check the CSV (see the module docstring); every problem is one UsageError line."""
    rows = _read_rows(path)
    if not rows:
        raise _usage(f"experiments {path} is empty")
    header = [name.strip() for name in rows[0][1]]
    index = _read_header(header, path)
    columns = [column_name(s) for s in index.selectors]
    if len(rows) < 2:
        raise _usage(f"experiments {path} has a header but no runs")
    runs, shares, losses, scales = [], [], [], {k: [] for k in index.scales}
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise _usage(f"{path} line {line}: {len(row)} fields, the header has {len(header)}")
        runs.append(row[index.run].strip() if index.run is not None else f"line {line}")
        share = [_number(row[i], line, header[i], path) for i in index.shares]
        if not all(math.isfinite(s) and s >= 0 for s in share):
            raise _usage(f"{path} line {line}: shares must be finite numbers >= 0")
        if abs(sum(share) - 1) > SHARE_TOLERANCE:
            raise _usage(
                f"{path} line {line}: shares add up to {sum(share):.4g}, "
                f"not 1 (tolerance {SHARE_TOLERANCE:g})"
            )
        shares.append([s / sum(share) for s in share])
        loss = [_number(row[i], line, header[i], path) for i in index.losses]
        bad = next((header[i] for i, v in zip(index.losses, loss, strict=True) if not math.isfinite(v)), None)
        if bad is not None:
            raise _usage(f"{path} line {line}: {bad} is not a finite number")
        losses.append(loss)
        for key, i in index.scales.items():
            value = _number(row[i], line, key, path)
            if not (math.isfinite(value) and value > 0):
                raise _usage(f"{path} line {line}: {key} must be a positive number")
            scales[key].append(value)
    share_array = np.array(shares)
    constant = next((c for c, v in zip(columns, share_array.T, strict=True) if np.ptp(v) < 1e-9), None)
    if constant is not None:
        raise _usage(f"{path}: '{constant}' has the same share in every run, so its effect cannot be fitted")
    scale_arrays = {k: np.array(v) for k, v in scales.items()}
    largest = int(np.argmax(np.prod(list(scale_arrays.values()), axis=0))) if scale_arrays else 0
    return Experiments(
        path=path,
        columns=columns,
        selectors=index.selectors,
        runs=runs,
        shares=share_array,
        eval_sets=[header[i][len(LOSS_PREFIX) :].strip() for i in index.losses],
        losses=np.array(losses),
        scales={k: v for k, v in scale_arrays.items() if np.ptp(v) > 0},
        reference={k: float(v[largest]) for k, v in scale_arrays.items()},
    )


def members_of(experiments: Experiments, groups: list[dict], source: Path) -> list[list[dict]]:
    """The data's groups behind each share column; a column naming no group is refused."""
    members = []
    for name, selector in zip(experiments.columns, experiments.selectors, strict=True):
        found = [g for g in groups if all(group_values(g)[k] == v for k, v in selector.items())]
        if not found:
            known = "; ".join(
                f"{k}s: {', '.join(sorted({group_values(g)[k] for g in groups}))}" for k in selector
            )
            raise _usage(f"{experiments.path}: column '{name}' names no group of {source} ({known})")
        members.append(found)
    return members


def parse_eval_weights(spec: str | None, eval_sets: list[str]) -> np.ndarray:
    """`val=2,code=1` -> weights over the eval sets (unlisted ones 0), adding up to 1."""
    if not spec:
        return np.full(len(eval_sets), 1 / len(eval_sets))
    weights = dict.fromkeys(eval_sets, 0.0)
    for item in spec.split(","):
        name, sep, value = (s.strip() for s in item.partition("="))
        name = name.removeprefix(LOSS_PREFIX)
        if not sep or name not in weights:
            raise _usage(
                f"--eval-weights: '{item.strip()}' is not <evalset>=<weight> of {', '.join(eval_sets)}"
            )
        try:
            weights[name] = float(value)
        except ValueError:
            raise _usage(f"--eval-weights: weight of {name} is {value!r}, not a number") from None
        if not (math.isfinite(weights[name]) and weights[name] >= 0):
            raise _usage(f"--eval-weights: weight of {name} must be a number >= 0")
    total = sum(weights.values())
    if total <= 0:
        raise _usage("--eval-weights: at least one weight must be positive")
    return np.array([weights[name] / total for name in eval_sets])


# --- the models -----------------------------------------------------------------------------


@dataclass
class LawFit:
    """Ye et al.'s law for one eval set, t centered, plus a power-law term per varying scale."""

    c: float
    k: float
    t: np.ndarray
    scale: list[tuple[float, float]]  # (a, alpha): a·exp(-alpha·log(x/x_ref))

    def predict(self, shares: np.ndarray, scale_features: np.ndarray) -> np.ndarray:
        loss = self.c + self.k * np.exp(np.clip(shares @ self.t, -700, 700))
        for s, (a, alpha) in enumerate(self.scale):
            loss = loss + a * np.exp(-alpha * scale_features[:, s])
        return loss

    def parameters(self, columns: list[str], scale_names: list[str]) -> dict[str, float]:
        params = {"c": self.c, "k": self.k} | {
            f"t {c}": float(t) for c, t in zip(columns, self.t, strict=True)
        }
        for name, (a, alpha) in zip(scale_names, self.scale, strict=True):
            params |= {f"a {name}": a, f"alpha {name}": alpha}
        return params


def fit_law(shares: np.ndarray, scale_features: np.ndarray, loss: np.ndarray, seed: int = 0) -> LawFit:
    """Levenberg-Marquardt with an exact Jacobian from several starts (c below the lowest loss, t
    from a log-linear fit). k, a and alpha are fitted as logs, which keeps them positive."""
    from scipy.optimize import least_squares

    n_columns, n_scales = shares.shape[1], scale_features.shape[1]
    contrast = shares[:, :-1] - shares[:, -1:]  # d(r·t)/d(free t), as t_J = -sum(free t)

    def unpack(theta: np.ndarray) -> LawFit:
        free, logs = theta[2 : n_columns + 1], np.clip(theta[n_columns + 1 :], -50, 2).reshape(n_scales, 2)
        scale = [(math.exp(log_a), math.exp(log_alpha)) for log_a, log_alpha in logs]
        return LawFit(theta[0], math.exp(min(theta[1], 50.0)), np.append(free, -free.sum()), scale)

    def residuals(theta: np.ndarray) -> np.ndarray:
        return unpack(theta).predict(shares, scale_features) - loss

    def jacobian(theta: np.ndarray) -> np.ndarray:
        law = unpack(theta)
        mixing = law.k * np.exp(np.clip(shares @ law.t, -700, 700))
        columns = [np.ones_like(loss), mixing, *(mixing[:, None] * contrast).T]
        for s, (a, alpha) in enumerate(law.scale):
            term = a * np.exp(-alpha * scale_features[:, s])
            columns += [term, -term * alpha * scale_features[:, s]]
        return np.column_stack(columns)

    spread = max(float(np.ptp(loss)), 1e-6 * max(1.0, float(np.abs(loss).max())))
    best = None
    for below in (0.05, 0.3, 1.0, 3.0):
        c0 = float(loss.min()) - below * spread
        b = np.linalg.lstsq(shares, np.log(loss - c0), rcond=None)[0]
        t0 = b - b.mean()
        theta0 = [c0, b.mean(), *t0[:-1]] + [math.log(0.1 * spread), math.log(0.5)] * n_scales
        result = least_squares(residuals, theta0, jac=jacobian, method="lm", x_scale="jac")
        if best is None or result.cost < best.cost:
            best = result
    return unpack(best.x)


@dataclass
class RegMixFit:
    """Gradient-boosted trees over (shares, log-scales) for one eval set."""

    model: object

    def predict(self, shares: np.ndarray, scale_features: np.ndarray) -> np.ndarray:
        return self.model.predict(np.hstack([shares, scale_features]))

    def parameters(self, columns: list[str], scale_names: list[str]) -> dict[str, float]:
        names = [f"importance {c}" for c in [*columns, *scale_names]]
        return dict(zip(names, map(float, self.model.feature_importances_), strict=True))


def fit_regmix(shares: np.ndarray, scale_features: np.ndarray, loss: np.ndarray, seed: int = 0) -> RegMixFit:
    from sklearn.ensemble import GradientBoostingRegressor

    model = GradientBoostingRegressor(n_estimators=300, learning_rate=0.05, max_depth=2, random_state=seed)
    rows = np.arange(len(loss))
    if len(rows) > REGMIX_MAX_RUNS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, REGMIX_MAX_RUNS, replace=False))
    return RegMixFit(model.fit(np.hstack([shares, scale_features])[rows], loss[rows]))


METHODS = {"law": fit_law, "regmix": fit_regmix}


def parameter_count(experiments: Experiments) -> int:
    """c, k and J - 1 centered t per eval set, plus (a, alpha) per varying scale."""
    return len(experiments.columns) + 1 + 2 * len(experiments.scales)


def held_out(experiments: Experiments, method: str, seed: int) -> tuple[str | None, np.ndarray | None]:
    """Each run's prediction by a fit without it: leave-one-out up to MAX_LOO_RUNS runs, else 10-fold.

    None when the training folds would have fewer runs than the parameters.
    """
    n = len(experiments.runs)
    folds = n if n <= MAX_LOO_RUNS else 10
    if n - math.ceil(n / folds) < parameter_count(experiments):
        return None, None
    features = experiments.scale_features()
    predicted = np.empty_like(experiments.losses)
    for fold in range(folds):
        test = np.arange(n) % folds == fold
        for e in range(len(experiments.eval_sets)):
            model = METHODS[method](
                experiments.shares[~test], features[~test], experiments.losses[~test, e], seed
            )
            predicted[test, e] = model.predict(experiments.shares[test], features[test])
    return ("leave-one-out" if folds == n else f"{folds}-fold"), predicted


# --- choosing the mixture -------------------------------------------------------------------


def project(points: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """The nearest points (row by row, Euclidean) with 0 <= x <= cap and sum(x) = 1 (bisection)."""
    points = np.atleast_2d(points)
    low = (points - cap).min(axis=1) - 1  # sum(clip) = sum(cap) >= 1 here
    high = points.max(axis=1)  # and 0 here
    for _ in range(200):
        middle = (low + high) / 2
        over = np.clip(points - middle[:, None], 0, cap).sum(axis=1) > 1
        low, high = np.where(over, middle, low), np.where(over, high, middle)
    return np.clip(points - ((low + high) / 2)[:, None], 0, cap)


def mean_loss(models: list, weights: np.ndarray, shares: np.ndarray, n_scales: int) -> np.ndarray:
    """The weighted mean predicted loss of each row of ``shares``, at the reference scale."""
    shares = np.atleast_2d(shares)
    at_reference = np.zeros((len(shares), n_scales))
    return sum(w * m.predict(shares, at_reference) for w, m in zip(weights, models, strict=True))


def best_law_mixture(
    models: list[LawFit], weights: np.ndarray, cap: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """SLSQP on the (convex) weighted law from each start; the best end point."""
    from scipy.optimize import minimize

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = 0.0, np.zeros_like(x)
        for w, m in zip(weights, models, strict=True):
            term = w * m.k * math.exp(min(700.0, float(x @ m.t)))
            value += w * m.c + term
            gradient += term * m.t
        return value, gradient

    best, best_value = None, math.inf
    for start in project(starts, cap):
        result = minimize(
            objective,
            start,
            jac=True,
            method="SLSQP",
            bounds=list(zip(np.zeros_like(cap), cap, strict=True)),
            constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1, "jac": lambda x: np.ones_like(x)}],
            options={"ftol": 1e-12, "maxiter": 500},
        )
        x = project(result.x, cap)[0]
        value = objective(x)[0]
        if value < best_value:
            best, best_value = x, value
    return best


def best_regmix_mixture(
    models: list, weights: np.ndarray, cap: np.ndarray, starts: np.ndarray, n_scales: int, seed: int
) -> np.ndarray:
    """RegMix's search: the mean of the best-predicted of many sampled feasible mixtures."""
    rng = np.random.default_rng(seed)
    n_columns = len(cap)
    samples = np.vstack(
        [
            rng.dirichlet(np.ones(n_columns), REGMIX_SAMPLES // 2),
            rng.dirichlet(np.full(n_columns, 0.3), REGMIX_SAMPLES // 2),
            starts,
        ]
    )
    candidates = project(samples, cap)
    predicted = mean_loss(models, weights, candidates, n_scales)
    top = np.argsort(predicted, kind="stable")[:REGMIX_TOP]
    return project(candidates[top].mean(axis=0), cap)[0]  # a mean of feasible points is feasible


# --- the whole fit --------------------------------------------------------------------------


@dataclass
class MixtureFit:
    """What `mix --fit` prints and records in the plan."""

    experiments: Experiments
    method: str
    weights: np.ndarray
    models: list
    fitted: np.ndarray  # (runs, eval sets), in-sample
    held_out_kind: str | None
    held_out: np.ndarray | None
    available: np.ndarray  # tokens per share column
    cap: np.ndarray  # the largest share each column may take
    shares: np.ndarray  # the chosen mixture per share column
    predicted: np.ndarray  # its loss per eval set

    def binding(self) -> list[str]:
        """Per column: 'max epochs' when the epoch cap binds, 'zero' at share 0, else ''."""
        return [
            "max epochs" if cap < 1 and share >= cap * (1 - 1e-6) else "zero" if share <= 1e-6 else ""
            for share, cap in zip(self.shares, self.cap, strict=True)
        ]

    def observed_mean(self) -> np.ndarray:
        return self.experiments.losses @ self.weights

    def best_run(self) -> int:
        """The run with the lowest weighted loss among those at the reference scale."""
        observed = np.where(self.experiments.at_reference(), self.observed_mean(), np.inf)
        return int(np.argmin(observed))


def fit_mixture(
    experiments: Experiments,
    members: list[list[dict]],
    method: str,
    weights: np.ndarray,
    tokens: int,
    max_epochs: float,
    seed: int,
) -> MixtureFit:
    needed = parameter_count(experiments)
    if len(experiments.runs) < needed:
        raise _usage(
            f"{experiments.path}: {len(experiments.runs)} runs cannot fit {needed} parameters per eval set "
            f"({len(experiments.columns)} share columns{' and scales' if experiments.scales else ''})"
        )
    available = np.array([sum(g["tokens"] for g in group) for group in members], dtype=float)
    cap = np.minimum(available * max_epochs / tokens, 1.0)
    if cap.sum() < 1 - 1e-9:
        most = int(available.sum() * max_epochs)
        raise _usage(
            f"--tokens {tokens:,} is more than the experiments' groups hold: "
            f"{int(available.sum()):,} tokens × --max-epochs {max_epochs:g} = {most:,}"
        )
    features = experiments.scale_features()
    models = [
        METHODS[method](experiments.shares, features, experiments.losses[:, e], seed)
        for e in range(len(experiments.eval_sets))
    ]
    fitted = np.column_stack([m.predict(experiments.shares, features) for m in models])
    kind, held = held_out(experiments, method, seed)
    natural = available / available.sum() if available.sum() else np.full(len(available), 1 / len(available))
    # The law is convex in the shares, so more starts only guard the solver: a fixed few, never
    # one per run (a start per run made 100,000 runs take minutes of SLSQP).
    predicted_runs = mean_loss(models, weights, experiments.shares, features.shape[1])
    best_runs = experiments.shares[np.argsort(predicted_runs, kind="stable")[:RUN_STARTS]]
    starts = np.vstack([natural, np.full(len(cap), 1 / len(cap)), best_runs])
    if method == "law":
        shares = best_law_mixture(models, weights, cap, starts)
    else:
        shares = best_regmix_mixture(models, weights, cap, starts, features.shape[1], seed)
    predicted = np.array([m.predict(shares[None, :], np.zeros((1, features.shape[1])))[0] for m in models])
    return MixtureFit(
        experiments, method, weights, models, fitted, kind, held, available, cap, shares, predicted
    )


def group_shares(fit: MixtureFit, members: list[list[dict]]) -> dict[tuple[str, ...], float]:
    """Each column's share split over its groups in proportion to their tokens."""
    shares = {}
    for share, available, group in zip(fit.shares, fit.available, members, strict=True):
        for g in group:
            shares[group_key(g)] = float(share * g["tokens"] / available) if available else 0.0
    return shares


def uncovered_warnings(groups: list[dict], members: list[list[dict]]) -> list[str]:
    covered = {group_key(g) for group in members for g in group}
    left = [
        "/".join(f"{key}={value}" for key, value in zip(GROUP_KEYS, group_key(g), strict=True))
        for g in groups
        if group_key(g) not in covered
    ]
    if not left:
        return []
    return [f"{len(left)} group(s) in no experiment column get no tokens: {', '.join(left)}"]


def extrapolation_warnings(fit: MixtureFit) -> list[str]:
    warnings = []
    for name, share, tried in zip(fit.experiments.columns, fit.shares, fit.experiments.shares.T, strict=True):
        if share < tried.min() - 0.02 or share > tried.max() + 0.02:
            warnings.append(
                f"share of {name} ({share:.3f}) is outside the tried {tried.min():.3f}-{tried.max():.3f}: "
                "the prediction extrapolates"
            )
    return warnings


def listed_runs(fit: MixtureFit) -> tuple[list[int], str]:
    """The runs shown one by one, and which they are: all up to LISTED_RUNS, else the best run and
    those with the largest held-out (else fit) error, the ones worth a look; 100,000 rows of
    numbers would bury them (and took minutes to write as YAML)."""
    n = len(fit.experiments.runs)
    if n <= LISTED_RUNS:
        return list(range(n)), f"all {n} runs"
    kind = "held-out" if fit.held_out is not None else "fit"
    predicted = fit.held_out if fit.held_out is not None else fit.fitted
    error = np.abs(predicted @ fit.weights - fit.observed_mean())
    worst = np.argsort(-error, kind="stable")[: LISTED_RUNS - 1]
    return sorted({fit.best_run(), *worst.tolist()}), (
        f"the best run and the {len(worst)} with the largest {kind} error, of {n:,} runs"
    )


def _rmse(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(errors**2)))


def fit_record(fit: MixtureFit) -> dict:
    """The fit as plain data for plan.yaml / plan.json (and the report)."""
    exp = fit.experiments
    scale_names = list(exp.scales)
    best = fit.best_run()
    observed, fitted_mean = fit.observed_mean(), fit.fitted @ fit.weights
    held_mean = fit.held_out @ fit.weights if fit.held_out is not None else None
    listed, which = listed_runs(fit)
    eval_sets = {}
    for e, (name, model) in enumerate(zip(exp.eval_sets, fit.models, strict=True)):
        eval_sets[name] = {
            "weight": round(float(fit.weights[e]), 8),
            "parameters": {
                k: round(float(v), 6) for k, v in model.parameters(exp.columns, scale_names).items()
            },
            "rmse": round(_rmse(fit.fitted[:, e] - exp.losses[:, e]), 6),
            "held_out_rmse": (
                round(_rmse(fit.held_out[:, e] - exp.losses[:, e]), 6) if fit.held_out is not None else None
            ),
            "predicted_loss": round(float(fit.predicted[e]), 6),
        }
    return {
        "method": fit.method,
        "formula": FORMULA if fit.method == "law" else "gradient-boosted trees (scikit-learn), RegMix search",
        "experiments": str(exp.path),
        "runs": len(exp.runs),
        "runs_per_fit": min(len(exp.runs), REGMIX_MAX_RUNS) if fit.method == "regmix" else len(exp.runs),
        "parameters_per_eval_set": parameter_count(exp) if fit.method == "law" else None,
        "reference_scale": exp.reference or None,
        "held_out": fit.held_out_kind,
        "eval_sets": eval_sets,
        "chosen": {
            "predicted_loss": round(float(fit.predicted @ fit.weights), 6),
            "shares": {c: round(float(s), 8) for c, s in zip(exp.columns, fit.shares, strict=True)},
            "binding": {c: b for c, b in zip(exp.columns, fit.binding(), strict=True) if b},
        },
        "best_run": {
            "run": exp.runs[best],
            "loss": round(float(observed[best]), 6),
            "fitted": round(float(fitted_mean[best]), 6),
        },
        "run_errors_listed": which,
        "run_errors": [
            {
                "run": exp.runs[i],
                "loss": round(float(observed[i]), 6),
                "fitted": round(float(fitted_mean[i]), 6),
                "held_out": round(float(held_mean[i]), 6) if held_mean is not None else None,
            }
            for i in listed
        ],
    }


def format_fit(fit: MixtureFit, tokens: int) -> str:
    """The fitted parameters, each run's error, the chosen mixture against the best run, the bounds."""
    exp = fit.experiments
    record = fit_record(fit)
    title = (
        f"data mixing law {FORMULA} per eval set (Ye et al. 2024), t centered (sum t_j = 0)"
        if fit.method == "law"
        else "RegMix: gradient-boosted trees per eval set (Liu et al. 2024), feature importances"
    )
    held = (
        f"held-out error by {fit.held_out_kind}" if fit.held_out_kind else "too few runs for held-out error"
    )
    lines = [f"fit: {title}", f"{len(exp.runs)} runs, {held}"]
    if fit.method == "regmix" and len(exp.runs) > REGMIX_MAX_RUNS:
        lines.append(f"each fit learns from a seeded sample of {REGMIX_MAX_RUNS:,} runs (REGMIX_MAX_RUNS)")
    if exp.reference:
        scale = ", ".join(f"{k}={v:,.0f}" for k, v in exp.reference.items())
        lines.append(f"predictions at the largest run's scale: {scale}")
    width = (
        max(len(name) for name in [*record["eval_sets"][exp.eval_sets[0]]["parameters"], "rmse (held-out)"])
        + 2
    )
    names = [f"loss:{e}" for e in exp.eval_sets]
    column = max(12, *(len(n) + 2 for n in names))
    lines.append(f"{'parameter':<{width}}" + "".join(f"{n:>{column}}" for n in names))
    sets = list(record["eval_sets"].values())
    for parameter in sets[0]["parameters"]:
        lines.append(
            f"{parameter:<{width}}" + "".join(f"{s['parameters'][parameter]:>{column}.4f}" for s in sets)
        )
    lines.append(f"{'rmse (fit)':<{width}}" + "".join(f"{s['rmse']:>{column}.4f}" for s in sets))
    if fit.held_out is not None:
        lines.append(
            f"{'rmse (held-out)':<{width}}" + "".join(f"{s['held_out_rmse']:>{column}.4f}" for s in sets)
        )
    lines.append("")
    if len(record["run_errors"]) < len(exp.runs):
        lines.append(f"runs listed: {record['run_errors_listed']}")
    run_width = max(len("run"), *(len(r["run"]) for r in record["run_errors"])) + 2
    lines.append(f"{'run':<{run_width}}{'loss':>9}{'fitted':>9}{'held-out':>10}{'error':>9}")
    for row in record["run_errors"]:
        if row["held_out"] is None:
            held_cells = f"{'–':>10}{'–':>9}"
        else:
            error = (row["held_out"] - row["loss"]) / row["loss"]
            held_cells = f"{row['held_out']:>10.4f}{error:>+9.2%}"
        lines.append(f"{row['run']:<{run_width}}{row['loss']:>9.4f}{row['fitted']:>9.4f}{held_cells}")
    lines.append("")
    weights = ", ".join(f"loss:{e} {w:.2f}" for e, w in zip(exp.eval_sets, fit.weights, strict=True))
    lines.append(f"chosen mixture (weighted mean loss: {weights})")
    name_width = max(len("column"), *(len(c) for c in exp.columns)) + 2
    lines.append(f"{'column':<{name_width}}{'share':>7}{'tokens':>14}{'epochs':>8}{'tried':>14}  binds")
    for name, share, available, tried, binds in zip(
        exp.columns, fit.shares, fit.available, exp.shares.T, fit.binding(), strict=True
    ):
        epochs = share * tokens / available if available else 0.0
        lines.append(
            f"{name:<{name_width}}{share:>7.3f}{round(share * tokens):>14,}{epochs:>8.3f}"
            f"{f'{tried.min():.2f}-{tried.max():.2f}':>14}  {binds or '-'}"
        )
    chosen, best = record["chosen"], record["best_run"]
    per_set = ", ".join(f"loss:{k} {v['predicted_loss']:.4f}" for k, v in record["eval_sets"].items())
    lines.append(f"predicted loss {chosen['predicted_loss']:.4f} ({per_set})")
    gain = (best["fitted"] - chosen["predicted_loss"]) / best["fitted"]
    lines.append(
        f"best observed run {best['run']}: loss {best['loss']:.4f} (fitted {best['fitted']:.4f}); the chosen "
        f"mixture is predicted {abs(gain):.2%} {'lower' if gain >= 0 else 'higher'} than its fit"
    )
    if (exp.shares[fit.best_run()] > fit.cap + 1e-9).any():
        lines.append(f"  (the best run's mixture takes more than --max-epochs allows at {tokens:,} tokens)")
    binding = [f"{c} ({b})" for c, b in chosen["binding"].items()]
    lines.append(f"binding constraints: {', '.join(binding) if binding else 'none'}")
    return "\n".join(lines)
