"""Calibration core: R survey references, properties, metamorphic checks and error messages.

The R references were computed with R survey 4.1.1 on its ``data(api)`` (``apiclus1``, the
same data as ``tests/reference/data/apiclus1.csv``, same row order) with::

    dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
    pst <- c(6194, 755, 1018)                      # N, N_H, N_M of apipop
    api99t <- sum(apipop$api99)                    # 3914069
    swt <- sum(apipop$sch.wide == "Yes")           # 5122
    w <- weights(des)
    sprintf("%.17g", c(sum(w), sum(w^2), sum(w * apiclus1$api00), min(w), max(w),
                       w[c(1, 50, 100, 150, 183)]))
    sprintf("%.17g", SE(svytotal(~api00, des)))

for each calibrated design ``des`` named in ``R_CASES``; iteration counts are from
``survey:::grake(..., verbose = TRUE)`` (one misfit printed per Newton step) and from
``rake(..., control = list(verbose = TRUE))``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flestimate.calibration import (
    CalibrationReport,
    calibration_residuals,
    calibration_weights,
    poststratify_weights,
    rake_weights,
)
from flestimate.errors import ArgumentError, ArgumentTypeError, EstimationError
from tests.conftest import DATA

POP_STYPE = [6194.0, 755.0, 1018.0]  # (Intercept), stypeH, stypeM
API99_TOTAL = 3914069.0
SCHWIDE_YES = 5122.0
ROWS = [0, 49, 99, 149, 182]  # R's w[c(1, 50, 100, 150, 183)]


@pytest.fixture(scope="module")
def api() -> dict[str, np.ndarray]:
    """apiclus1 as R's model.matrix() sees it: intercept plus treatment dummies (E, No base)."""
    frame = pd.read_csv(DATA / "apiclus1.csv")
    stype = frame["stype"].to_numpy()
    dummies = np.column_stack([np.ones(len(frame)), stype == "H", stype == "M"]).astype(float)
    sch_wide = (frame["sch.wide"] == "Yes").to_numpy()
    return {
        "d": frame["pw"].to_numpy(dtype=float),
        "api00": frame["api00"].to_numpy(dtype=float),
        "cluster": pd.factorize(frame["dnum"])[0],
        "fpc": frame["fpc"].to_numpy(dtype=float),
        "stype": dummies,
        "stype_api99": np.column_stack([dummies, frame["api99"].to_numpy(dtype=float)]),
        "stype_schwide": np.column_stack([dummies, sch_wide.astype(float)]),
        "stype_codes": pd.Categorical(stype, categories=["E", "H", "M"]).codes.astype(np.int64),
        "schwide_codes": sch_wide.astype(np.int64),
    }


def _calibrate(api: dict[str, np.ndarray], case: str) -> tuple[np.ndarray, np.ndarray, Any]:
    """The calibration of R_CASES[case]; returns (X used for the variance, weights, report)."""
    d = api["d"]
    if case == "linear_stype":
        x = api["stype"]
        g, rep = calibration_weights(x, d, POP_STYPE)
    elif case == "linear_stype_api99":
        x = api["stype_api99"]
        g, rep = calibration_weights(x, d, [*POP_STYPE, API99_TOTAL])
    elif case == "raking_stype_schwide":
        x = api["stype_schwide"]
        g, rep = calibration_weights(x, d, [*POP_STYPE, SCHWIDE_YES], method="raking")
    elif case == "logit_stype_api99":
        x = api["stype_api99"]
        g, rep = calibration_weights(x, d, [*POP_STYPE, API99_TOTAL], method="logit",
                                     bounds=(0.7, 1.7))
    elif case == "linear_bounded_stype_api99":
        x = api["stype_api99"]
        g, rep = calibration_weights(x, d, [*POP_STYPE, API99_TOTAL], bounds=(0.7, 1.7))
    elif case == "raking_unweighted":
        # svydesign(id = ~dnum, data = apiclus1): every d is 1, so grake() rescales by 40.1.
        x = api["stype_schwide"]
        d = np.ones_like(d)
        g, rep = calibration_weights(x, d, [*POP_STYPE, SCHWIDE_YES], method="raking")
    elif case == "poststratify_stype":
        x = api["stype"]
        g = poststratify_weights(api["stype_codes"], d, np.array([4421.0, 755.0, 1018.0]))
        rep = None
    elif case == "rake_stype_schwide":
        x = api["stype_schwide"]
        g, rep = rake_weights([api["stype_codes"], api["schwide_codes"]], d,
                              [np.array([4421.0, 755.0, 1018.0]),
                               np.array([6194.0 - SCHWIDE_YES, SCHWIDE_YES])])
    else:  # pragma: no cover
        raise KeyError(case)
    return x, d * g, rep


# case: (R call, [sum w, sum w^2, sum w*api00, min, max, w at ROWS], SE(svytotal(~api00)),
#        iterations as R counts them)
R_CASES: dict[str, tuple[str, list[float], float | None, int | None]] = {
    "linear_stype": (
        "calibrate(dclus1, ~stype, pst)",
        [6194, 217899.87170634919, 3978473.0221825396, 30.701388888888886, 53.928571428571431,
         53.928571428571431, 30.701388888888886, 53.928571428571431, 40.720000000000006,
         30.701388888888886],
        148163.49304088991, 1),
    "linear_stype_api99": (
        "calibrate(dclus1, ~stype + api99, c(pst, api99t))",
        [6193.9999999999991, 228638.90964716132, 4120924.3868008405, 14.168097522849827,
         62.051525140979749, 51.63274259488476, 33.439440402228122, 53.743737751283085,
         33.256610672862685, 39.227652927836431],
        21318.218803011459, 1),
    "raking_stype_schwide": (
        "calibrate(dclus1, ~stype + sch.wide, c(pst, swt), calfun = 'raking')",
        [6194.0000007535909, 220478.02183472816, 3971780.6082872511, 29.870675492510301,
         67.125529310360548, 50.329401163866571, 29.870675492510301, 67.125529310360548,
         36.791024863204697, 29.870675492510301],
        146820.20302473742, 4),
    "logit_stype_api99": (
        "calibrate(dclus1, ~stype + api99, c(pst, api99t), calfun = 'logit', "
        "bounds = c(0.7, 1.7))",
        [6194.0000000528944, 231077.81929754582, 4121865.2446690863, 23.722524613174922,
         57.434335436117294, 55.662409143197962, 29.30275448094331, 56.477042515635986,
         27.077674611213467, 40.726235716173463],
        21183.37917158239, 6),
    "linear_bounded_stype_api99": (
        "calibrate(dclus1, ~stype + api99, c(pst, api99t), bounds = c(0.7, 1.7))",
        [6194.0000000000009, 230385.97488728591, 4122031.4097032943, 23.692897415161131,
         57.539893722534174, 56.966814984342683, 31.245445685540176, 57.539893722534174,
         28.673467425908733, 40.389745624668045],
        21168.235864510261, 5),
    "raking_unweighted": (
        "calibrate(svydesign(id = ~dnum, data = apiclus1), ~stype + sch.wide, c(pst, swt), "
        "calfun = 'raking')",
        [6194.0000000006003, 220478.02175142255, 3971780.607821099, 29.870675492685752,
         67.125529241238411, 50.329401116071487, 29.870675492685752, 67.125529241238411,
         36.791024864068092, 29.870675492685752],
        None, 4),
    "poststratify_stype": (
        "postStratify(dclus1, ~stype, data.frame(stype = c('E', 'H', 'M'), "
        "Freq = c(4421, 755, 1018)))",
        [6194, 217899.87170634919, 3978473.0221825396, 30.701388888888886, 53.928571428571423,
         53.928571428571423, 30.701388888888886, 53.928571428571423, 40.720000000000006,
         30.701388888888886],
        148163.49304088988, None),
    "rake_stype_schwide": (
        "rake(dclus1, list(~stype, ~sch.wide), list(data.frame(stype = c('E', 'H', 'M'), "
        "Freq = c(4421, 755, 1018)), data.frame(sch.wide = c('No', 'Yes'), "
        "Freq = c(1072, 5122))))",
        [6194, 220478.82075849824, 3971780.1490645213, 29.870463872734536, 67.125782626330405,
         50.330152772675071, 29.870463872734536, 67.125782626330405, 36.79218166468327,
         29.870463872734536],
        None, 3),
}


def _cluster_se(api: dict[str, np.ndarray], z: np.ndarray) -> float:
    """SE of a total for dclus1 (one-stage cluster sample, 15 of 757 districts, no strata)."""
    totals = np.bincount(api["cluster"], weights=z)
    n, big_n = totals.shape[0], api["fpc"][0]
    return float(np.sqrt((1 - n / big_n) * n / (n - 1) * np.sum((totals - totals.mean()) ** 2)))


@pytest.mark.parametrize("case", list(R_CASES))
def test_weights_match_r_survey(api: dict[str, np.ndarray], case: str) -> None:
    """Calibrated weights equal R survey 4.1.1's (R call in R_CASES, data apiclus1.csv).

    The iterative methods follow grake()'s Newton path step for step, so they agree to
    rounding, far inside the 1e-6 the convergence rule alone would allow.
    """
    _, w, rep = _calibrate(api, case)
    want = R_CASES[case][1]
    got = [w.sum(), (w * w).sum(), (w * api["api00"]).sum(), w.min(), w.max(), *w[ROWS]]
    np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=R_CASES[case][0])
    iterations = R_CASES[case][3]
    if iterations is not None:
        assert isinstance(rep, CalibrationReport) and rep.converged
        # R's rake() counter is one less than the passes made.
        assert rep.iterations == iterations + (1 if case.startswith("rake") else 0)


@pytest.mark.parametrize("case", [c for c, v in R_CASES.items() if v[2] is not None])
def test_variance_residuals_match_r_survey(api: dict[str, np.ndarray], case: str) -> None:
    """SE(svytotal(~api00, des)) of R survey 4.1.1 from the residuals of calibration_residuals.

    R's svyrecvar() replaces w*y by ``qr.resid(qr(X sqrt(d)), w y / (g sqrt(d))) * g sqrt(d)``:
    the residuals of a regression weighted by the *design* weights d, times the calibrated
    weights. Data apiclus1.csv; R calls in R_CASES.
    """
    x, w, _ = _calibrate(api, case)
    d = api["d"]
    e = calibration_residuals(x, d, w / d, api["api00"])
    want = R_CASES[case][2]
    assert want is not None
    np.testing.assert_allclose(_cluster_se(api, w * e), want, rtol=1e-10)


def test_variance_with_calibrated_weights_in_the_regression_differs(
    api: dict[str, np.ndarray],
) -> None:
    """Guard against the tempting alternative B = (X' W X)^-1 X' W y with W = diag(d g).

    For calibrate(dclus1, ~stype + api99, ...) it would give SE 20940.19, not R's 21318.22.
    """
    x, w, _ = _calibrate(api, "linear_stype_api99")
    root = np.sqrt(w)
    coef = np.linalg.lstsq(x * root[:, None], api["api00"] * root, rcond=None)[0]
    wrong = _cluster_se(api, w * (api["api00"] - x @ coef))
    assert abs(wrong / 21318.218803011459 - 1) > 0.01


def test_rake_variance_is_close_to_r_backfitting(api: dict[str, np.ndarray]) -> None:
    """R's rake() variance is not the regression residual: svyrecvar() backfits 10 times over
    the margins with unweighted cell means of x / w. On rake(dclus1, list(~stype, ~sch.wide),
    ...) (R survey 4.1.1, apiclus1.csv) the regression residuals on the margins' dummies give
    an SE within 1e-6 of R's 146820.35384203223 (146820.4779), not equal to it.
    """
    x, w, _ = _calibrate(api, "rake_stype_schwide")
    e = calibration_residuals(x, api["d"], w / api["d"], api["api00"])
    np.testing.assert_allclose(_cluster_se(api, w * e), 146820.35384203223, rtol=2e-6)


def test_reports_of_r_cases(api: dict[str, np.ndarray]) -> None:
    _, w, rep = _calibrate(api, "linear_bounded_stype_api99")
    g = w / api["d"]
    # 72 of 183 g-weights sit at 0.7 or 1.7 in R (sum(g <= 0.7 | g >= 1.7) on grake's g).
    assert rep.n_weights_at_bounds == 72
    assert rep.bounds == (0.7, 1.7) and rep.g_range == (0.7, 1.7)
    assert rep.method == "linear" and rep.converged
    assert rep.max_abs_error < 1e-6
    assert rep.g_range == (g.min(), g.max())
    _, _, rep = _calibrate(api, "raking_unweighted")
    assert "scaled by 40.127" in rep.message
    _, _, rep = _calibrate(api, "linear_stype")
    assert rep.bounds == (-np.inf, np.inf) and rep.n_weights_at_bounds == 0
    assert rep.message.startswith("linear calibration (closed form) to 3 totals converged")
    with pytest.raises(AttributeError):
        rep.converged = False


# --------------------------------------------------------------------------- properties


@st.composite
def problems(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """A feasible calibration: intercept, k-1 dummies, a covariate; totals from g0 in [0.8,1.25]."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(12, 80))
    k = draw(st.integers(2, 4))
    n_zero = draw(st.integers(0, 3))
    rng = np.random.default_rng(seed)
    cat = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
    x = np.column_stack([np.ones(n), cat[:, None] == np.arange(1, k), rng.normal(50, 10, n)])
    d = rng.uniform(1.0, 10.0, n)
    d[k:k + n_zero] = 0.0  # out-of-domain rows (never the one guaranteed row per category)
    g0 = rng.uniform(0.8, 1.25, n)
    return {"x": x.astype(float), "d": d, "totals": x.T @ (d * g0), "cat": cat}


@given(problems(), st.sampled_from(["linear", "raking", "logit", "linear-bounded"]))
@settings(max_examples=60)
def test_totals_are_reached_and_bounds_hold(prob: dict[str, np.ndarray], how: str) -> None:
    method = how.split("-")[0]
    bounds = (0.5, 2.0) if how in ("logit", "linear-bounded") else None
    x, d, totals = prob["x"], prob["d"], prob["totals"]
    g, rep = calibration_weights(x, d, totals, method=method, bounds=bounds, tol=1e-10)
    np.testing.assert_allclose(x.T @ (d * g), totals, rtol=1e-8)
    assert rep.converged and rep.max_abs_error <= 1e-8 * np.max(np.abs(totals))
    gp = g[d > 0]
    if bounds is not None:
        assert np.all(gp >= 0.5 - 1e-12) and np.all(gp <= 2.0 + 1e-12)
    if method == "logit":
        assert np.all(gp > 0.5) and np.all(gp < 2.0)
    if method == "raking":
        assert np.all(g > 0)
    assert rep.g_range == (gp.min(), gp.max())


@given(problems())
def test_unbounded_linear_is_the_greg_closed_form(prob: dict[str, np.ndarray]) -> None:
    """g = 1 + X lambda, lambda = (X' D X)^-1 (T - X' d); also the Newton path's answer when the
    bounds are too wide to bind (one Newton step is exact for the linear distance)."""
    x, d, totals = prob["x"], prob["d"], prob["totals"]
    lam = np.linalg.lstsq(x.T @ (x * d[:, None]), totals - x.T @ d, rcond=None)[0]
    g, rep = calibration_weights(x, d, totals)
    np.testing.assert_allclose(g, 1 + x @ lam, rtol=1e-10, atol=1e-12)
    wide, rep_wide = calibration_weights(x, d, totals, bounds=(-1e9, 1e9))
    np.testing.assert_allclose(wide, g, rtol=1e-10, atol=1e-12)
    assert rep.iterations == 1 and rep_wide.iterations == 1


@given(problems())
def test_zero_weight_rows_change_nothing_else(prob: dict[str, np.ndarray]) -> None:
    """Rows with d = 0 keep weight 0 and leave the other rows' g as if they were dropped."""
    x, d, totals = prob["x"], prob["d"], prob["totals"]
    pos = d > 0
    for method, bounds in (("linear", None), ("raking", None), ("logit", (0.5, 2.0))):
        g, _ = calibration_weights(x, d, totals, method=method, bounds=bounds)
        g_sub, _ = calibration_weights(x[pos], d[pos], totals, method=method, bounds=bounds)
        assert np.all(np.isfinite(g)) and np.all(d[~pos] * g[~pos] == 0)
        np.testing.assert_allclose(g[pos], g_sub, rtol=1e-9)


@given(problems())
def test_poststratification_is_calibration_on_cell_indicators(
    prob: dict[str, np.ndarray],
) -> None:
    """Post-stratification = linear calibration = raking calibration = one-margin rake on the
    cell dummies (intercept + k - 1 dummies span the cell indicators)."""
    x, d, cat = prob["x"][:, :-1], prob["d"], prob["cat"]
    cell_totals = np.bincount(cat, weights=d * 1.1, minlength=x.shape[1]) + np.arange(
        x.shape[1])
    totals = np.concatenate([[cell_totals.sum()], cell_totals[1:]])
    g_ps = poststratify_weights(cat, d, cell_totals)
    pos = d > 0
    for method in ("linear", "raking"):
        g, _ = calibration_weights(x, d, totals, method=method, tol=1e-12)
        np.testing.assert_allclose(g[pos], g_ps[pos], rtol=1e-10)
    g_rake, rep = rake_weights([cat], d, [cell_totals])
    np.testing.assert_allclose(g_rake, g_ps, rtol=1e-12)
    assert rep.iterations == 2  # the second pass finds nothing moved


@given(problems())
@settings(max_examples=30)
def test_rake_converges_to_raking_calibration(prob: dict[str, np.ndarray]) -> None:
    """Iterative proportional fitting and Newton raking on the margins' dummies have the same
    limit (the multiplicative solution is unique)."""
    d, cat = prob["d"], prob["cat"]
    k = int(cat.max()) + 1
    rng = np.random.default_rng(int(d.shape[0]))
    other = np.asarray(rng.integers(0, 2, size=d.shape[0]))
    other[:2] = [0, 1]
    pos = d > 0
    if np.unique(other[pos]).size < 2:
        other[np.flatnonzero(pos)[:2]] = [0, 1]
    g0 = rng.uniform(0.8, 1.25, d.shape[0])
    t_cat = np.bincount(cat, weights=d * g0, minlength=k)
    t_other = np.bincount(other, weights=d * g0, minlength=2)
    t_other *= t_cat.sum() / t_other.sum()
    g_rake, rep = rake_weights([cat, other], d, [t_cat, t_other], max_iter=1000, tol=1e-13)
    x = np.column_stack([np.ones_like(d), cat[:, None] == np.arange(1, k), other == 1])
    totals = np.concatenate([[t_cat.sum()], t_cat[1:], [t_other[1]]])
    g_newton, _ = calibration_weights(x.astype(float), d, totals, method="raking", tol=1e-12)
    np.testing.assert_allclose(g_rake[pos], g_newton[pos], rtol=1e-7)
    assert rep.converged and rep.max_abs_error < 1e-6 * t_cat.sum()


@given(problems(), st.integers(1, 3))
def test_residuals_are_design_weighted_regression_residuals(
    prob: dict[str, np.ndarray], k: int
) -> None:
    """X' D e = 0 for every column of y, y in X gives e = 0, and g does not enter."""
    x, d = prob["x"], prob["d"]
    rng = np.random.default_rng(k)
    y = rng.normal(size=(x.shape[0], k))
    g, _ = calibration_weights(x, d, prob["totals"])
    e = calibration_residuals(x, d, g, y)
    assert e.shape == y.shape
    np.testing.assert_allclose(x.T @ (d[:, None] * e), 0, atol=1e-8 * np.abs(y).sum() * d.sum())
    np.testing.assert_allclose(calibration_residuals(x, d, np.ones_like(g), y), e, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(calibration_residuals(x, d, g, y[:, 0]), e[:, 0], rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(calibration_residuals(x, d, g, x[:, -1]), 0, atol=1e-9)


# --------------------------------------------------------------------------- errors


def _small() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.column_stack([np.ones(6), [0, 0, 1, 1, 0, 1], [1.0, 2, 3, 4, 5, 6]])
    d = np.full(6, 2.0)
    return x, d, x.T @ (d * 1.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "x"},
         "`method` of `calibration_weights()` must be 'linear', 'raking' or 'logit'; got 'x'"),
        ({"method": "logit"},
         "`bounds` of `calibration_weights()` are required for method 'logit' (finite lower < 1 "
         "< upper); got None"),
        ({"method": "logit", "bounds": (1.2, 2.0)},
         "`bounds` of `calibration_weights()` must be finite with lower < 1 < upper for method "
         "'logit'; got (1.2, 2.0)"),
        ({"method": "logit", "bounds": (0.5, np.inf)},
         "`bounds` of `calibration_weights()` must be finite with lower < 1 < upper for method "
         "'logit'; got (0.5, inf)"),
        ({"bounds": (2.0, 1.0)},
         "`bounds` of `calibration_weights()` must satisfy lower < upper; got (2.0, 1.0)"),
        ({"bounds": 3},
         "`bounds` of `calibration_weights()` must be a pair (lower, upper) of numbers; got 3"),
        ({"max_iter": 0},
         "`max_iter` of `calibration_weights()` must be a positive integer; got 0"),
        ({"tol": -1.0},
         "`tol` of `calibration_weights()` must be a positive number (R's epsilon); got -1.0"),
        ({"names": ["a", "b"]},
         "`names` of `calibration_weights()` must give one name per margin (3); got 2 names"),
        ({"totals": [1.0, 2.0]},
         "`totals` of `calibration_weights()` must have one total per column of `X` (3); got 2"),
        ({"d": np.array([1.0, -1, 1, 1, 1, 1])},
         "`d` of `calibration_weights()` must be non-negative; got -1.0 at row 1 (1 negative "
         "weight(s))"),
        ({"d": np.zeros(6)},
         "`d` of `calibration_weights()` must have at least one positive weight; got all zero"),
        ({"d": np.ones(5)},
         "`d` of `calibration_weights()` must have one weight per row (6); got 5"),
        ({"X": np.ones(6)},
         "`X` of `calibration_weights()` must be a 2-d array; got shape (6,)"),
        ({"X": np.where(np.eye(6, 3) == 1, np.nan, 1.0)},
         "`X` of `calibration_weights()` must be finite; got NaN or infinite values in 3 "
         "row(s), first at row 0"),
    ],
)
def test_argument_errors(kwargs: dict[str, object], message: str) -> None:
    x, d, totals = _small()
    args: dict[str, object] = {"X": x, "d": d, "totals": totals, **kwargs}
    with pytest.raises(ArgumentError, match=f"^{re.escape(message)}$"):
        calibration_weights(**args)  # type: ignore[arg-type]


def test_type_errors() -> None:
    x, d, totals = _small()
    with pytest.raises(ArgumentTypeError, match=re.escape(
            "`X` of `calibration_weights()` must be a numeric array; got list")):
        calibration_weights([["a"]], d, totals)
    with pytest.raises(ArgumentTypeError, match=re.escape(
            "`force` of `calibration_weights()` must be True or False; got 1")):
        calibration_weights(x, d, totals, force=1)  # type: ignore[arg-type]


def test_margin_without_sample_units() -> None:
    x, d, totals = _small()
    x = np.column_stack([x, [0, 0, 0, 0, 0, 1.0]])
    d[5] = 0.0  # the only row of the new category is out of the domain
    with pytest.raises(EstimationError, match="^" + re.escape(
            "`calibration_weights()` cannot reach the totals: no row with a positive weight has "
            "a nonzero value in margin 'stypeM' (target 1018), so its achieved total is 0; drop "
            "the margin or collapse its category with another") + "$"):
        calibration_weights(x, d, [*totals, 1018.0], names=["(Intercept)", "b", "z", "stypeM"])
    # With a zero total R drops the margin; so do we (multiplier 0 for it).
    g, rep = calibration_weights(x, d, [*totals, 0.0])
    g3, _ = calibration_weights(x[:, :3], d, totals)
    np.testing.assert_allclose(g, g3, rtol=1e-13)
    assert rep.max_abs_error < 1e-9


def test_singular_margins_are_named() -> None:
    x, d, totals = _small()
    x = np.column_stack([x, 1.0 - x[:, 1]])  # the base category next to the intercept
    with pytest.raises(EstimationError, match="^" + re.escape(
            "`calibration_weights()` cannot calibrate: X' D X is singular (rank 3 of 4) because "
            "margin 'one', margin 'b', margin 'a' are linearly dependent on the rows with a "
            "positive weight; drop a redundant margin (e.g. one category of each factor besides "
            "the intercept)") + "$"):
        calibration_weights(x, d, x.T @ d, names=["one", "b", "z", "a"])


def test_logit_bounds_that_cannot_reach_the_totals(api: dict[str, np.ndarray]) -> None:
    """R survey 4.1.1: calibrate(dclus1, ~stype + api99, c(pst, api99t), calfun = 'logit',
    bounds = c(0.95, 1.05)) warns "Failed to converge: eps=0.340541209367217 in 51 iterations"
    and stops with "Calibration failed" (apiclus1.csv)."""
    names = ["(Intercept)", "stypeH", "stypeM", "api99"]
    totals = [*POP_STYPE, API99_TOTAL]
    pattern = (
        r"^`calibration_weights\(\)` with method 'logit' did not converge in 50 iterations "
        r"\(relative misfit \|T - t\| / \(1 \+ \|T\|\) >= tol=1e-07\): margin '\(Intercept\)' "
        r"achieved [0-9.]+, target 6194; margin 'stypeH' achieved [0-9.]+, target 755; .*; no "
        r"g-weights within bounds \(0\.95, 1\.05\) reach these totals \(checked by linear "
        r"programming\): widen `bounds`, use method 'linear', or check the totals and collapse "
        r"sparse categories$"
    )
    with pytest.raises(EstimationError, match=pattern):
        calibration_weights(api["stype_api99"], api["d"], totals, method="logit",
                            bounds=(0.95, 1.05), names=names)
    g, rep = calibration_weights(api["stype_api99"], api["d"], totals, method="logit",
                                 bounds=(0.95, 1.05), force=True)
    assert not rep.converged and rep.iterations == 50
    # R's eps: max |misfit| / (1 + |T|) at the last iterate.
    achieved = api["stype_api99"].T @ (api["d"] * g)
    rel = np.abs(achieved - totals) / (1 + np.abs(totals))
    np.testing.assert_allclose(rel.max(), 0.340541209367217, rtol=1e-6)
    assert "did NOT converge" in rep.message


def test_too_few_iterations_says_so(api: dict[str, np.ndarray]) -> None:
    with pytest.raises(EstimationError, match=re.escape(
            "did not converge in 1 iteration (relative misfit |T - t| / (1 + |T|) >= "
            "tol=1e-07): margin 0 achieved ") + r".*" + re.escape(
            "; try a larger `max_iter`, wider `bounds` or method 'linear', and check that the "
            "totals are consistent with each other") + "$"):
        calibration_weights(api["stype_schwide"], api["d"], [*POP_STYPE, SCHWIDE_YES],
                            method="raking", max_iter=1)


def test_poststratify_errors() -> None:
    cells = np.array([0, 0, 1, 1, 2])
    d = np.array([1.0, 1, 1, 1, 0])
    with pytest.raises(EstimationError, match="^" + re.escape(
            "`poststratify_weights()` cannot reach the totals: no row with a positive weight "
            "falls in cell 2 ('M') with total 1018; collapse the cell with a neighbouring one")
            + "$"):
        poststratify_weights(cells, d, np.array([4421.0, 755.0, 1018.0]), names=["E", "H", "M"])
    with pytest.raises(EstimationError, match="^" + re.escape(
            "`poststratify_weights()` cannot reach the totals: sample rows fall in cell 1 "
            "(weighted count 2) whose population total is 0; check the totals or the cell "
            "codes") + "$"):
        poststratify_weights(cells, d, np.array([4.0, 0.0, 0.0]))
    # Empty in the sample and the population: allowed, the zero-weight row keeps weight 0.
    g = poststratify_weights(cells, d, np.array([4.0, 6.0, 0.0]))
    assert g.tolist() == [2.0, 2.0, 3.0, 3.0, 1.0]
    with pytest.raises(ArgumentError, match=re.escape(
            "`cells` of `poststratify_weights()` must hold codes in 0..1 (one per total); "
            "got 2 at row 4")):
        poststratify_weights(cells, d, np.array([4.0, 6.0]))
    with pytest.raises(ArgumentTypeError, match=re.escape(
            "`cells` of `poststratify_weights()` must hold integer codes 0..K-1; got dtype "
            "float64")):
        poststratify_weights(cells.astype(float), d, np.array([4.0, 6.0, 0.0]))
    with pytest.raises(ArgumentError, match=re.escape(
            "`cell_totals` of `poststratify_weights()` must be non-negative; got -1.0 for "
            "cell 1")):
        poststratify_weights(cells, d, np.array([4.0, -1.0, 0.0]))


def test_rake_errors_and_force() -> None:
    a = np.array([0, 0, 1, 1, 0, 1])
    b = np.array([0, 1, 0, 1, 1, 0])
    d = np.array([1.0, 2, 3, 1, 2, 3])
    with pytest.raises(ArgumentError, match="^" + re.escape(
            "`margin_totals` of `rake_weights()` must sum to the same population size in "
            "every margin; got margin 'a': 10, margin 'b': 12") + "$"):
        rake_weights([a, b], d, [np.array([4.0, 6.0]), np.array([5.0, 7.0])], names=["a", "b"])
    with pytest.raises(EstimationError, match="^" + re.escape(
            "`rake_weights()` did not converge in 1 pass (a joint cell still moved by ")
            + r"[1-9][0-9.]*" + re.escape(" >= epsilon 1e-12): margin 0 off by up to ")):
        rake_weights([a, b], d, [np.array([40.0, 60.0]), np.array([70.0, 30.0])],
                     max_iter=1, tol=1e-12 / d.sum())
    g, rep = rake_weights([a, b], d, [np.array([40.0, 60.0]), np.array([70.0, 30.0])],
                          max_iter=1, tol=1e-12 / d.sum(), force=True)
    assert not rep.converged and rep.iterations == 1 and rep.method == "rake"
    # The last margin is met exactly after every pass.
    np.testing.assert_allclose(np.bincount(b, weights=d * g), [70.0, 30.0], rtol=1e-13)
    with pytest.raises(EstimationError, match=re.escape(
            "`rake_weights()` cannot reach the totals: no row with a positive weight falls in "
            "margin 'b' cell 2 with total 5; collapse the cell with a neighbouring one")):
        rake_weights([a, b], d, [np.array([4.0, 6.0]), np.array([2.0, 3.0, 5.0])],
                     names=["a", "b"])
    with pytest.raises(ArgumentError, match=re.escape(
            "`margin_totals` of `rake_weights()` must give one array of totals per margin (2); "
            "got 1 arrays")):
        rake_weights([a, b], d, [np.array([4.0, 6.0])])


def test_residual_argument_errors() -> None:
    x, d, _ = _small()
    with pytest.raises(ArgumentError, match=re.escape(
            "`y` of `calibration_residuals()` must have one row per row of `X` (6); got 5")):
        calibration_residuals(x, d, np.ones(6), np.ones(5))
    with pytest.raises(ArgumentError, match=re.escape(
            "`g` of `calibration_residuals()` must have one g-weight per row (6); got 2")):
        calibration_residuals(x, d, np.ones(2), np.ones(6))


# -- calibrating a design: SurveyDesign.calibrate / poststratify / rake ---------------------------
# References: the defining properties of calibration (Deville and Sarndal 1992): the calibrated
# weights reproduce the totals, the total of a calibration variable has no sampling variance,
# post-stratification is linear calibration on cell indicators; and the synthetic Moldova file,
# whose person weights were post-stratified to the control totals saved in its truth file.
def _lfs_design() -> Any:
    from flestimate import SurveyDesign

    lfs = pd.read_parquet(Path(__file__).parent / "reference" / "data" / "lfs_n20000.parquet")
    return SurveyDesign(lfs, weights="w", strata="stratum", psu="psu", nest=True), lfs


def test_design_calibration_to_a_tidy_control_table() -> None:
    design, lfs = _lfs_design()
    controls = (lfs.groupby(["region", "sex"])["w"].sum() * 1.03).rename("total").reset_index()
    cal = design.calibrate(controls)
    got = pd.Series(cal.weights).groupby([lfs["region"], lfs["sex"]]).sum()
    np.testing.assert_allclose(got.to_numpy(), controls["total"].to_numpy(), rtol=1e-10)
    np.testing.assert_array_equal(design.weights, lfs["w"].to_numpy())  # the original is intact
    assert cal.summary_dict()["calibration"]["method"] == "linear"
    # a calibration variable's total is known: its SE is rounding noise
    male = lfs["sex"] == "male"
    assert cal.total("fl").to_frame()["se"].iloc[0] > 0
    ind = cal.data.assign(male=male.astype(float))
    from flestimate import SurveyDesign

    des2 = SurveyDesign(ind, weights="w", strata="stratum", psu="psu", nest=True)
    tot = des2.calibrate(controls).total("male").to_frame().iloc[0]
    assert tot["se"] < 1e-6 * tot["estimate"]
    # post-stratification is linear calibration on the cells
    post = design.poststratify(controls)
    np.testing.assert_allclose(post.weights, cal.weights, rtol=1e-12)
    a = post.mean(["fl", "thb"], by="dest").to_frame()
    b = cal.mean(["fl", "thb"], by="dest").to_frame()
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-10)


def test_design_calibration_errors_name_the_margin() -> None:
    from flestimate import SurveyDesign
    from flestimate.errors import DataError, DesignError

    design, lfs = _lfs_design()
    sex = pd.DataFrame({"sex": ["female", "male"], "total": [1.0e6, 1.1e6]})
    region = lfs.groupby("region")["w"].sum().rename("total").reset_index()
    with pytest.raises(ArgumentError, match=r"the margins add up to different population sizes: "
                                            r"sex 2100000, region"):
        design.calibrate([sex, region])
    with pytest.raises(DataError, match=r"margin 'sex': \d+ row\(s\) fall in categories the "
                                        r"population totals do not list, e.g. \['male'\]"):
        design.calibrate(sex.iloc[:1])
    with pytest.raises(ArgumentError, match=r"a margin table needs a 'total' column"):
        design.calibrate(sex.rename(columns={"total": "n"}))
    cal = design.calibrate(sex)
    with pytest.raises(DesignError, match=r"`calibrate\(\)`: the weights are already calibrated"):
        cal.calibrate(sex)
    two = SurveyDesign(pd.DataFrame({"a": [1, 1, 2, 2], "b": [1, 2, 3, 4], "fa": [10] * 4,
                                     "fb": [5] * 4, "s": ["x", "y", "x", "y"]}),
                       psu=["a", "b"], fpc=["fa", "fb"])
    with pytest.raises(DesignError, match=r"recurses over 2 stages"):
        two.calibrate({"s": {"x": 20, "y": 20}})


def test_synthetic_weights_are_already_calibrated_to_the_truth_controls() -> None:
    import json

    from flestimate import SurveyDesign, read_microdata

    folder = Path(__file__).resolve().parents[1] / "data" / "synthetic"
    frame = read_microdata(folder / "moldova_synthetic.sav").frame
    truth = json.loads((folder / "moldova_synthetic_truth.json").read_text())
    regions = {1: "Chisinau", 2: "Balti", 3: "North", 4: "Centre", 5: "South", 6: "Gagauzia",
               7: "Taraclia"}
    frame = frame.assign(
        region=frame["reg"].map(regions), sex=frame["q1_02"].map({1: "male", 2: "female"}),
        age_group=pd.cut(frame["q1_03"], [-1, 14, 24, 34, 44, 54, 64, 200],
                         labels=["0-14", "15-24", "25-34", "35-44", "45-54", "55-64", "65+"])
        .astype(str))
    controls = pd.DataFrame(truth["controls"]).rename(columns={"persons": "total"})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = SurveyDesign(frame, weights="w_pers", strata="strat", psu="psu",
                              lonely_psu="adjust")
    cal = design.calibrate(controls)
    np.testing.assert_allclose(cal.calibration.g, 1.0, atol=1e-9)
