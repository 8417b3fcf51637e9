"""Tests of flestimate.mse: two-list estimators, Poisson log-linear MSE, the UK 2013 estimate.

Reference figures: Silverman (2014), *Modern slavery: an application of multiple systems
estimation*, Home Office: 11,313 potential victims in 2013, 95% CI 9,889 - 13,063 (the CI from a
third-party Rcapture ``closedpCI.t`` run, recorded in the methodology's published_figures.md),
selected interactions LA:NG, NG:GP, PFNCA:GP, LA:PFNCA, GO:GP, NG:GO. Data:
``data/published/uk_mse_2013_5lists.csv`` (SparseMSE's ``UKdat_5``), shipped as
``flestimate.mse.uk_2013()``.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, special, stats

from flestimate import mse
from flestimate.errors import (
    ArgumentError,
    ArgumentTypeError,
    DataError,
    EstimationError,
    FlestimateError,
    FlestimateWarning,
)
from flestimate.mse._model import all_pairs, design, newton

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = [("LA", "NG"), ("NG", "GP"), ("PFNCA", "GP"), ("LA", "PFNCA"), ("GO", "GP"),
             ("NG", "GO")]


@pytest.fixture(scope="module")
def uk() -> pd.DataFrame:
    return mse.uk_2013()


@pytest.fixture(scope="module")
def uk_fit(uk: pd.DataFrame) -> mse.MSEResult:
    return mse.fit(uk)


def _table(counts: dict[str, int], lists: str) -> pd.DataFrame:
    """``{"AB": 5, "A": 3}`` -> a capture table over the letters in ``lists``."""
    rows = [{**{name: int(name in key) for name in lists}, "count": n} for key, n in counts.items()]
    return pd.DataFrame(rows)


THREE = _table({"A": 30, "B": 40, "C": 50, "AB": 6, "BC": 7, "AC": 4, "ABC": 2}, "ABC")


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def test_published_copy_is_byte_identical() -> None:
    shipped = ROOT / "src" / "flestimate" / "published" / "uk_mse_2013_5lists.csv"
    source = ROOT / "data" / "published" / "uk_mse_2013_5lists.csv"
    assert shipped.read_bytes() == source.read_bytes()


def test_uk_data(uk: pd.DataFrame) -> None:
    assert list(uk.columns) == ["LA", "NG", "PFNCA", "GO", "GP", "count"]
    assert uk["count"].sum() == 2744
    assert len(uk) == 18


def test_all_histories_order() -> None:
    h = mse.all_histories(3)
    assert h.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1],
                          [1, 1, 1]]
    assert mse.all_histories(5).shape == (31, 5)


def test_capture_table_fills_zero_cells(uk: pd.DataFrame) -> None:
    tab = mse.capture_table(uk)
    assert tab.lists == ("LA", "NG", "PFNCA", "GO", "GP")
    assert tab.n_cells == 31 and tab.observed == 2744
    assert int((tab.counts == 0).sum()) == 13
    assert tab.overlap()[0, 4] == 0  # LA and GP share no case


# --------------------------------------------------------------------------------------------
# The UK 2013 estimate
# --------------------------------------------------------------------------------------------


def test_uk_2013_point_estimate_and_interactions(uk_fit: mse.MSEResult) -> None:
    """Silverman (2014): 11,313 with LA:NG, NG:GP, PFNCA:GP, LA:PFNCA, GO:GP, NG:GO."""
    assert round(uk_fit.population) == 11313
    assert uk_fit.observed == 2744
    assert set(uk_fit.interactions) == set(PUBLISHED)
    # The published list is in the order the stepwise rule adds the terms.
    assert uk_fit.interactions == tuple(PUBLISHED)
    assert uk_fit.population == pytest.approx(11312.990289, abs=1e-4)


def test_uk_2013_profile_interval(uk_fit: mse.MSEResult) -> None:
    """95% CI 9,889 - 13,063 (Rcapture closedpCI.t): the profile likelihood of N (Cormack
    1992) gives it to the person."""
    assert uk_fit.ci_method == "profile" and uk_fit.level == 0.95
    assert round(uk_fit.ci_low) == 9889
    assert round(uk_fit.ci_high) == 13063
    assert uk_fit.ci_low < uk_fit.population < uk_fit.ci_high


def test_uk_2013_fit_matches_the_shipped_published_figure(uk: pd.DataFrame,
                                                           uk_fit: mse.MSEResult) -> None:
    """``data/published/uk_mse2013_estimate.csv`` (Silverman 2014, Home Office: 11,313, 95% CI
    9,889 - 13,063, published as 10,000 - 13,000; 2,744 known cases), read through
    ``flestimate.global_estimates.published``: the fit of the shipped capture histories gives
    each number to the unit, and its interval rounded to thousands is the published range."""
    from flestimate.global_estimates import published

    p = published("uk_mse2013").set_index("component")["value"]
    assert round(uk_fit.population) == p["estimate"]
    assert (round(uk_fit.ci_low), round(uk_fit.ci_high)) == (p["ci_low"], p["ci_high"])
    assert uk_fit.level == 0.95
    assert (round(uk_fit.ci_low, -3), round(uk_fit.ci_high, -3)) == (
        p["published_low"], p["published_high"])
    assert uk_fit.observed == p["known_cases"] == uk["count"].sum()


def test_uk_2013_other_intervals(uk: pd.DataFrame) -> None:
    """The intercept profile and the log-scale Wald interval are within 1% of 9,889 - 13,063."""
    for ci in ("profile-intercept", "wald"):
        res = mse.fit(uk, ci=ci)
        assert res.ci_low == pytest.approx(9889, rel=0.01), ci
        assert res.ci_high == pytest.approx(13063, rel=0.01), ci
        assert round(res.population) == 11313


def test_uk_2013_stepwise_table(uk_fit: mse.MSEResult) -> None:
    steps = uk_fit.models
    added = steps[steps["decision"] == "added"]
    assert [tuple(t.split(":")) for t in added["term"]] == PUBLISHED
    assert (added["p_value"] < 0.05).all()
    assert (np.diff(steps["aic"].to_numpy()[:7]) < 0).all()
    last = steps.iloc[-1]
    assert last["decision"] == "not added: AIC not lowered" and last["delta_aic"] > 0
    assert "no interaction lowers the AIC" in uk_fit.provenance["stop"]
    assert uk_fit.provenance["p_stop"] == 0.05
    assert steps["population"].iloc[6] == pytest.approx(uk_fit.population)


def test_uk_coefficients_match_statsmodels(uk: pd.DataFrame, uk_fit: mse.MSEResult) -> None:
    tab = mse.capture_table(uk)
    index = {name: i for i, name in enumerate(tab.lists)}
    pairs = [(index[a], index[b]) for a, b in uk_fit.interactions]
    res = sm.GLM(tab.counts, design(tab.histories, pairs), family=sm.families.Poisson()).fit(
        tol=1e-12
    )
    coefs = uk_fit.coefficients
    assert coefs["term"].tolist()[:6] == ["(Intercept)", "LA", "NG", "PFNCA", "GO", "GP"]
    np.testing.assert_allclose(coefs["estimate"], res.params, rtol=1e-10)
    np.testing.assert_allclose(coefs["se"], res.bse, rtol=1e-6)  # IRLS weights lag one step
    assert uk_fit.aic == pytest.approx(res.aic, rel=1e-12)
    assert uk_fit.deviance == pytest.approx(res.deviance, rel=1e-10)
    assert uk_fit.unobserved == pytest.approx(math.exp(res.params[0]), rel=1e-12)
    assert uk_fit.df_resid == 31 - 12


def test_uk_stepwise_poisson_rule(uk: pd.DataFrame) -> None:
    """SparseMSE's rule (Poisson p-values of the overlaps) picks the same six terms here."""
    res = mse.fit(uk, selection="stepwise-poisson")
    assert res.interactions == tuple(PUBLISHED)
    assert res.provenance["p_stop"] == 0.02
    added = res.models[res.models["decision"] == "added"]
    assert (added["p_value"] < 0.02).all()


def test_uk_bootstrap_interval(uk: pd.DataFrame, uk_fit: mse.MSEResult) -> None:
    a = mse.fit(uk, ci="bootstrap", seed=2013, n_boot=400)
    b = mse.fit(uk, ci="bootstrap", seed=2013, n_boot=400)
    c = mse.fit(uk, ci="bootstrap", seed=7, n_boot=400)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert a.ci_low < a.population < a.ci_high
    assert a.population == uk_fit.population
    # Conditional on the model, the bootstrap and the profile interval agree roughly.
    assert a.ci_low == pytest.approx(uk_fit.ci_low, rel=0.05)
    assert a.ci_high == pytest.approx(uk_fit.ci_high, rel=0.05)
    assert a.provenance["seed"] == 2013 and a.provenance["n_boot"] == 400


def test_uk_all_subsets_rankings(uk: pd.DataFrame, uk_fit: mse.MSEResult) -> None:
    aic = mse.fit(uk, selection="aic")
    ranking = aic.models
    assert len(ranking) == 2**9  # 9 overlapping pairs (LA:GP never overlaps)
    assert ranking["aic"].is_monotonic_increasing
    assert ranking["rank"].tolist() == list(range(1, 513))
    assert ranking["weight"].sum() == pytest.approx(1.0)
    # The best AIC model is the stepwise one here.
    assert set(aic.interactions) == set(PUBLISHED)
    assert aic.aic == pytest.approx(ranking["aic"].iloc[0], rel=1e-9)
    assert aic.aic == pytest.approx(uk_fit.aic, rel=1e-9)

    bic = mse.fit(uk, selection="bic")
    assert bic.models["bic"].is_monotonic_increasing
    assert bic.bic == pytest.approx(bic.models["bic"].iloc[0], rel=1e-9)
    assert bic.bic <= uk_fit.bic

    every = mse.fit(uk, selection="all")
    table = every.models
    assert len(table) == 2**10
    fitted = table[table["status"] == "ok"]
    assert len(fitted) == 512 and fitted["aic"].is_monotonic_increasing
    refused = table[table["status"] != "ok"]
    assert refused["rank"].isna().all() and refused["aic"].isna().all()
    assert refused["model"].str.contains("LA:GP").all()
    assert every.population == aic.population


def test_batched_fits_equal_statsmodels(uk: pd.DataFrame) -> None:
    """The batched Newton-Raphson of the model search against statsmodels, model by model."""
    ranking = mse.fit(uk, selection="aic").models
    tab = mse.capture_table(uk)
    names = {f"{tab.lists[a]}:{tab.lists[b]}": (a, b) for a, b in all_pairs(5)}
    for _, row in ranking.iloc[::37].iterrows():
        pairs = [] if row["model"] == "main effects" else [
            names[t] for t in row["model"].split(" + ")
        ]
        res = sm.GLM(tab.counts, design(tab.histories, pairs),
                     family=sm.families.Poisson()).fit()
        assert row["aic"] == pytest.approx(res.aic, rel=1e-9)
        assert row["unobserved"] == pytest.approx(math.exp(res.params[0]), rel=1e-7)


def test_max_interactions(uk: pd.DataFrame) -> None:
    step = mse.fit(uk, max_interactions=2)
    assert step.interactions == tuple(PUBLISHED[:2])
    assert "max_interactions=2" in step.provenance["stop"]
    best = mse.fit(uk, selection="aic", max_interactions=1)
    assert best.models["n_interactions"].max() == 1 and len(best.models) == 10


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def test_omitted_zero_cells_equal_explicit_zero_rows(uk: pd.DataFrame,
                                                     uk_fit: mse.MSEResult) -> None:
    full = mse.capture_table(uk).to_frame()
    assert (full["count"] == 0).sum() == 13
    shuffled = full.sample(frac=1.0, random_state=3)
    res = mse.fit(shuffled)
    assert res.population == pytest.approx(uk_fit.population, rel=1e-12)
    assert res.interactions == uk_fit.interactions
    assert res.ci_low == pytest.approx(uk_fit.ci_low, rel=1e-9)
    assert res.ci_high == pytest.approx(uk_fit.ci_high, rel=1e-9)


def test_lists_given_explicitly(uk: pd.DataFrame, uk_fit: mse.MSEResult) -> None:
    frame = uk.rename(columns={"count": "n"}).assign(note="x")
    res = mse.fit(frame, count="n", lists=["LA", "NG", "PFNCA", "GO", "GP"])
    assert res.population == pytest.approx(uk_fit.population, rel=1e-12)
    with pytest.raises(DataError, match="'note' must hold 0 or 1"):
        mse.fit(frame, count="n")


def test_explicit_interactions(uk: pd.DataFrame, uk_fit: mse.MSEResult) -> None:
    res = mse.fit(uk, interactions=PUBLISHED)
    assert res.selection == "fixed"
    assert res.population == pytest.approx(uk_fit.population, rel=1e-12)
    text = mse.fit(uk, interactions=[f"{a}:{b}" for a, b in PUBLISHED], selection="fixed")
    assert text.population == pytest.approx(uk_fit.population, rel=1e-12)
    reversed_names = mse.fit(uk, interactions=[("NG", "LA")])
    assert reversed_names.interactions == (("LA", "NG"),)
    with pytest.raises(EstimationError, match="LA:GP"):
        mse.fit(uk, interactions=[("LA", "GP")])
    with pytest.raises(ArgumentError, match="unknown list"):
        mse.fit(uk, interactions=[("LA", "XX")])
    with pytest.raises(ArgumentError, match="itself"):
        mse.fit(uk, interactions=[("LA", "LA")])
    with pytest.raises(ArgumentError, match="twice"):
        mse.fit(uk, interactions=["LA:NG", ("NG", "LA")])
    with pytest.raises(ArgumentTypeError):
        mse.fit(uk, interactions="LA:NG")
    with pytest.raises(ArgumentError, match="selection"):
        mse.fit(uk, interactions=PUBLISHED, selection="aic")
    with pytest.raises(ArgumentError, match="needs `interactions=`"):
        mse.fit(uk, selection="fixed")


def test_main_effects_selection(uk: pd.DataFrame) -> None:
    res = mse.fit(uk, selection="main")
    assert res.interactions == () and res.model == "main effects"
    assert round(res.population) == 13444
    assert res.df_resid == 31 - 6


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"A": [1, 0, 1, 1], "B": [0, 1, 1, 1], "count": [3, 4, 1, 2]}),
         r"duplicated: A\+B at rows 2, 3"),
        (pd.DataFrame({"A": [1, 0, 1, 0], "B": [0, 1, 1, 0], "count": [3, 4, 1, 2]}),
         "all-zero capture history.*rows 3"),
        (pd.DataFrame({"A": [1, 0, 1], "count": [3, 4, 1]}), "at least two lists"),
        (pd.DataFrame({"A": [1, 0, 2], "B": [0, 1, 1], "count": [3, 4, 1]}),
         "'A' must hold 0 or 1; got 2 at rows 2"),
        (pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [3, -4, 1]}),
         "non-negative; got -4 at rows 1"),
        (pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [3, 4.5, 1]}),
         "whole numbers.*rows 1"),
        (pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [3, None, 1]}),
         "missing or not numeric at rows 1"),
        (pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "n": [3, 4, 1]}),
         "count column 'count' not found"),
        (pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [0, 0, 0]}), "no case"),
    ],
)
def test_table_errors(frame: pd.DataFrame, match: str) -> None:
    with pytest.raises(DataError, match=match) as info:
        mse.fit(frame)
    assert isinstance(info.value, FlestimateError) and isinstance(info.value, ValueError)


def test_isolated_list_is_named() -> None:
    frame = _table({"A": 30, "B": 40, "C": 50, "AB": 6, "D": 9, "BC": 4}, "ABCD")
    with pytest.raises(EstimationError, match="'D' share no case with any other list"):
        mse.fit(frame)
    two = _table({"A": 30, "B": 40}, "AB")
    with pytest.raises(EstimationError, match="Lincoln-Petersen estimate is infinite"):
        mse.fit(two)


def test_list_with_no_case_or_every_case() -> None:
    frame = _table({"A": 30, "B": 40, "AB": 6}, "ABC")
    with pytest.raises(EstimationError, match="'C' have no case"):
        mse.fit(frame)
    frame = _table({"A": 30, "AB": 40, "AC": 6, "ABC": 3}, "ABC")
    with pytest.raises(EstimationError, match="'A' hold every observed case"):
        mse.fit(frame)


def test_model_without_mle_is_refused() -> None:
    """Both interactions with A:C empty: the cell ABC is zero, the MLE does not exist."""
    frame = _table({"A": 30, "B": 40, "C": 50, "AB": 6, "BC": 7}, "ABC")
    with pytest.raises(EstimationError, match="the MLE does not exist"):
        mse.fit(frame, interactions=["A:B", "B:C"])
    ranking = mse.fit(frame, selection="all").models
    status = dict(zip(ranking["model"], ranking["status"], strict=True))
    assert status["A:B + B:C"].startswith("the MLE does not exist")
    assert status["A:C"].startswith("no case on both lists")
    assert status["main effects"] == "ok"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"selection": "forward"}, ArgumentError, r"`selection` of `mse\.fit\(\)`"),
        ({"ci": "score"}, ArgumentError, r"`ci` of `mse\.fit\(\)`"),
        ({"level": 95}, ArgumentError, r"float in \(0, 1\); got 95"),
        ({"selection": "aic", "p_stop": 0.1}, ArgumentError, "p_stop"),
        ({"p_stop": 0}, ArgumentError, "p_stop"),
        ({"max_interactions": -1}, ArgumentError, "max_interactions"),
        ({"reselect": True}, ArgumentError, "reselect"),
        ({"ci": "bootstrap", "n_boot": 5}, ArgumentError, "n_boot"),
        ({"ci": "bootstrap", "seed": "x"}, ArgumentTypeError, "seed"),
    ],
)
def test_argument_errors(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        mse.fit(THREE, **kwargs)  # type: ignore[arg-type]


def test_table_must_be_a_frame() -> None:
    with pytest.raises(ArgumentTypeError, match="DataFrame"):
        mse.fit(THREE.to_numpy())  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Known properties
# --------------------------------------------------------------------------------------------


@settings(max_examples=40)
@given(
    n10=st.integers(min_value=1, max_value=5000),
    n01=st.integers(min_value=1, max_value=5000),
    n11=st.integers(min_value=1, max_value=5000),
)
def test_two_lists_saturated_model_is_lincoln_petersen(n10: int, n01: int, n11: int) -> None:
    """k = 2: three cells, three parameters; exp(b0) = n10 n01 / n11, so N = n1 n2 / m."""
    frame = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [n10, n01, n11]})
    res = mse.fit(frame, ci="wald")
    lp = mse.lincoln_petersen(n10 + n11, n01 + n11, n11)
    assert res.population == pytest.approx(lp.estimate, rel=1e-10)
    assert res.unobserved == pytest.approx(n10 * n01 / n11, rel=1e-10)
    assert res.interactions == () and res.df_resid == 0


def test_two_lists_interaction_never_added() -> None:
    res = mse.fit(pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [80, 60, 20]}))
    assert res.interactions == ()
    assert res.provenance["stop"] == "no admissible interaction left to add"
    assert res.population == pytest.approx(400.0, rel=1e-12)
    frame = pd.DataFrame({"A": [1, 0, 1], "B": [0, 1, 1], "count": [80, 60, 20]})
    with pytest.raises(EstimationError, match="A:B .*not identifiable: 4 parameters, design rank 3"):
        mse.fit(frame, interactions=[("A", "B")])


def test_wald_interval_formula() -> None:
    """Chao (1987) eq. 12 with Rcapture's se = sqrt(f0 + f0^2 Var(b0)), f0 = exp(b0)."""
    res = mse.fit(THREE, ci="wald")
    b0, se0 = res.coefficients.loc[0, ["estimate", "se"]]
    f0 = math.exp(b0)
    se = math.sqrt(f0 + f0**2 * se0**2)
    assert res.se == pytest.approx(se, rel=1e-12)
    c = math.exp(stats.norm.ppf(0.975) * math.sqrt(math.log(1 + se**2 / f0**2)))
    assert res.ci_low == pytest.approx(res.observed + f0 / c, rel=1e-12)
    assert res.ci_high == pytest.approx(res.observed + f0 * c, rel=1e-12)


def test_profile_interval_is_a_likelihood_ratio_bound() -> None:
    """Profile of N: at each bound 2 (l_max - l(N)) equals chi2_1(0.90), with l(N) the
    multinomial log-likelihood of the complete table fitted by statsmodels."""
    res = mse.fit(THREE, level=0.90)
    tab = mse.capture_table(THREE)
    xa = np.vstack([design(tab.histories, []), np.eye(1, 4)])
    n = tab.counts.sum()

    def loglik(total: float) -> float:
        ya = np.append(tab.counts, total - n)
        mu = sm.GLM(ya, xa, family=sm.families.Poisson()).fit(tol=1e-12).fittedvalues
        return float(special.gammaln(total + 1) - special.gammaln(total - n + 1)
                     + np.sum(special.xlogy(ya, mu / total)))

    top = optimize.minimize_scalar(lambda t: -loglik(t), bounds=(n + 1, 3 * res.population),
                                   method="bounded", options={"xatol": 1e-8})
    for bound in (res.ci_low, res.ci_high):
        lr = 2 * (-top.fun - loglik(bound))
        assert lr == pytest.approx(stats.chi2.ppf(0.90, 1), abs=1e-5)
    wider = mse.fit(THREE, level=0.99)
    assert wider.ci_low < res.ci_low and wider.ci_high > res.ci_high


def test_intercept_profile_is_a_likelihood_ratio_bound() -> None:
    """Intercept profile: at each bound 2 (l_max - l_p(c)) equals chi2_1(0.90), checked with
    statsmodels offsets."""
    res = mse.fit(THREE, level=0.90, ci="profile-intercept")
    tab = mse.capture_table(THREE)
    x = design(tab.histories, [])
    llf = sm.GLM(tab.counts, x, family=sm.families.Poisson()).fit().llf
    for bound in (res.ci_low, res.ci_high):
        c = math.log(bound - res.observed)
        prof = sm.GLM(tab.counts, x[:, 1:], family=sm.families.Poisson(),
                      offset=np.full(7, c)).fit()
        assert 2 * (llf - prof.llf) == pytest.approx(stats.chi2.ppf(0.90, 1), abs=1e-6)


def test_newton_flags_a_missing_mle() -> None:
    """The batched fitter reports non-convergence where the MLE does not exist."""
    tab = mse.capture_table(_table({"A": 30, "B": 40, "C": 50, "AB": 6, "BC": 7}, "ABC"))
    x = design(tab.histories, all_pairs(3)[:1] + all_pairs(3)[2:])  # A:B and B:C
    fit = newton(x, tab.counts)
    assert not fit.converged[0]
    ok = newton(design(tab.histories, []), tab.counts)
    assert ok.converged[0]


def test_bootstrap_small_tables_and_reselect() -> None:
    a = mse.fit(THREE, ci="bootstrap", seed=1, n_boot=200)
    b = mse.fit(THREE, ci="bootstrap", seed=np.random.default_rng(1), n_boot=200)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    assert b.provenance["seed"] == "numpy Generator"
    assert a.ci_low < a.population < a.ci_high
    re = mse.fit(THREE, ci="bootstrap", seed=1, n_boot=60, reselect=True)
    assert re.provenance["reselect"] is True
    assert re.ci_low < re.population < re.ci_high
    unseeded = mse.fit(THREE, ci="bootstrap", n_boot=30)
    assert isinstance(unseeded.provenance["seed"], int)


def test_bootstrap_zero_overlap_replicates_use_the_extended_mle() -> None:
    """With a thin A:B overlap some replicates have none: the term is dropped, not the
    replicate (Chan, Silverman and Vincent 2021)."""
    frame = _table({"A": 30, "B": 40, "C": 50, "AB": 1, "BC": 7, "AC": 6, "ABC": 1}, "ABC")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FlestimateWarning)
        res = mse.fit(frame, interactions=["A:B"], ci="bootstrap", seed=5, n_boot=300)
    assert res.provenance["n_boot_failed"] == 0
    assert res.ci_low < res.population < res.ci_high


# --------------------------------------------------------------------------------------------
# Result object
# --------------------------------------------------------------------------------------------


def test_result_is_immutable_and_serialisable(uk_fit: mse.MSEResult) -> None:
    with pytest.raises(AttributeError):
        uk_fit.population = 1.0  # type: ignore[misc]
    coefs = uk_fit.coefficients
    coefs.loc[0, "estimate"] = 0.0
    assert uk_fit.coefficients.loc[0, "estimate"] != 0.0
    data = uk_fit.to_dict()
    json.dumps(data)
    assert data["interactions"][0] == ["LA", "NG"]
    assert data["provenance"]["rule"].startswith("forward")
    frame = uk_fit.to_frame()
    assert frame["quantity"].tolist() == ["population", "unobserved"]
    assert frame.loc[1, "ci_low"] == pytest.approx(uk_fit.ci_low - 2744)
    fitted = uk_fit.fitted
    assert len(fitted) == 32 and np.isnan(fitted["observed"].iloc[-1])
    assert fitted["fitted"].iloc[-1] == pytest.approx(uk_fit.unobserved)
    assert fitted["fitted"].iloc[:-1].sum() == pytest.approx(2744, rel=1e-9)
    text = uk_fit.summary()
    assert "11,313" in text and "LA:NG" in text and "Stopped:" in text
    assert "11,313" in repr(uk_fit)
    assert "<b>MSEResult</b>" in uk_fit._repr_html_()
    assert uk_fit.model.startswith("LA:NG + NG:GP")


# --------------------------------------------------------------------------------------------
# Two lists
# --------------------------------------------------------------------------------------------


def test_lincoln_petersen_hand_worked() -> None:
    """n1 = 100, n2 = 80, m = 20: N = 400, Var = 100 * 80 * 80 * 60 / 20^3 = 4800."""
    lp = mse.lincoln_petersen(100, 80, 20)
    assert lp.estimate == 400.0
    assert lp.variance == 4800.0
    assert lp.se == pytest.approx(69.2820323, rel=1e-9)
    z = stats.norm.ppf(0.975)
    assert lp.ci_normal == pytest.approx((400 - z * lp.se, 400 + z * lp.se))
    f0 = 400 - 160
    c = math.exp(z * math.sqrt(math.log(1 + 4800 / f0**2)))
    assert lp.ci_lognormal == pytest.approx((160 + f0 / c, 160 + f0 * c))
    assert lp.observed == 160 and lp.unobserved == 240
    json.dumps(lp.to_dict())
    assert len(lp.to_frame()) == 2 and "lincoln-petersen" in repr(lp) and lp.summary()


def test_chapman_hand_worked() -> None:
    """(101 * 81 / 21) - 1 = 388.571...; Var = 101 * 81 * 80 * 60 / (21^2 * 22)."""
    ch = mse.chapman(100, 80, 20)
    assert ch.estimate == pytest.approx(101 * 81 / 21 - 1, rel=1e-15)
    assert ch.estimate == pytest.approx(388.5714286, rel=1e-9)
    assert ch.variance == pytest.approx(101 * 81 * 80 * 60 / (21**2 * 22), rel=1e-15)
    zero = mse.chapman(30, 40, 0)
    assert zero.estimate == 31 * 41 - 1
    assert zero.ci_lognormal[0] > zero.observed


def test_two_list_edge_cases() -> None:
    with pytest.raises(EstimationError, match="m = 0"):
        mse.lincoln_petersen(30, 40, 0)
    with pytest.raises(ArgumentError, match="cannot exceed"):
        mse.lincoln_petersen(10, 5, 6)
    with pytest.raises(ArgumentError, match="whole number"):
        mse.chapman(10.5, 5, 2)
    with pytest.raises(ArgumentTypeError, match="whole number"):
        mse.chapman("10", 5, 2)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="level"):
        mse.chapman(10, 5, 2, level=1.0)
    full = mse.lincoln_petersen(10, 10, 10)  # every case on both lists: N = r, no uncertainty
    assert full.estimate == 10 and full.variance == 0 and full.ci_lognormal == (10.0, 10.0)


# --------------------------------------------------------------------------------------------
# Simulated closed populations
# --------------------------------------------------------------------------------------------


def _simulate(n: int, probs: np.ndarray, runs: int, seed: int, ab: float = 1.0) -> np.ndarray:
    """Multinomial capture histories of ``n`` people over independent lists; ``ab`` multiplies
    the odds of being on both of the first two lists (a true A:B interaction)."""
    k = probs.shape[0]
    hist = np.vstack([np.zeros((1, k), dtype=np.int8), mse.all_histories(k)])
    cell = np.prod(np.where(hist == 1, probs, 1 - probs), axis=1)
    cell = cell * np.where((hist[:, 0] == 1) & (hist[:, 1] == 1), ab, 1.0)
    cell = cell / cell.sum()
    rng = np.random.default_rng(seed)
    draws: np.ndarray = rng.multinomial(n, cell, size=runs)[:, 1:]
    return draws


def _frame(counts: np.ndarray, lists: str) -> pd.DataFrame:
    frame = pd.DataFrame(mse.all_histories(len(lists)).astype(int), columns=list(lists))
    frame["count"] = counts
    return frame


def test_estimator_roughly_unbiased_on_simulated_populations() -> None:
    """40 closed populations of 2,000 over four independent lists: mean estimate within 3%."""
    probs = np.array([0.15, 0.25, 0.10, 0.20])
    draws = _simulate(2000, probs, 40, seed=11)
    est = [mse.fit(_frame(c, "ABCD"), selection="main", ci="wald").population for c in draws]
    assert abs(np.mean(est) / 2000 - 1) < 0.03


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ab", "interactions", "ci"),
    [(1.0, None, "profile"), (2.5, [("A", "B")], "profile"), (1.0, None, "bootstrap")],
    ids=["independent-profile", "AB-profile", "independent-bootstrap"],
)
def test_coverage_on_simulated_populations(
    ab: float, interactions: list[tuple[str, str]] | None, ci: str
) -> None:
    """500 closed populations of N = 2,000 on four lists (capture probabilities 0.15, 0.25,
    0.10, 0.20; independent, or with an A:B odds ratio of 2.5), each fitted with its true
    model: the 95% intervals (profile of N and log-scale Wald, or the bootstrap with 199
    replicates) cover N in 92-98% of the runs (3 binomial s.d. around 95%)."""
    probs = np.array([0.15, 0.25, 0.10, 0.20])
    draws = _simulate(2000, probs, 500, seed=2026, ab=ab)
    methods = ["profile", "wald"] if ci == "profile" else ["bootstrap"]
    covered = dict.fromkeys(methods, 0)
    for run, counts in enumerate(draws):
        frame = _frame(counts, "ABCD")
        for method in methods:
            kwargs: dict[str, object] = {"ci": method, "n_boot": 199, "seed": run}
            if interactions is None:
                res = mse.fit(frame, selection="main", **kwargs)  # type: ignore[arg-type]
            else:
                res = mse.fit(frame, interactions=interactions, **kwargs)  # type: ignore[arg-type]
            covered[method] += res.ci_low <= 2000 <= res.ci_high
    rates = {method: hits / 500 for method, hits in covered.items()}
    assert all(0.92 <= rate <= 0.98 for rate in rates.values()), f"coverage {rates}"
