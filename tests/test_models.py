"""Survey-weighted GLMs and t-tests (:mod:`flestimate.models`) against R survey.

Reference: ``tests/reference/data/glm_reference.json``, made by ``r_glm_reference.R`` (R 4.2.2,
survey 4.1.1, jsonlite 1.8.4) on R's ``data(api)`` (``apistrat.csv``, ``apiclus1.csv``,
``apiclus2.csv``). Designs: ``svydesign(id=~1, strata=~stype, weights=~pw, fpc=~fpc)``,
``svydesign(id=~dnum, weights=~pw, fpc=~fpc)``, ``svydesign(id=~dnum+snum, fpc=~fpc1+fpc2)``,
``as.svrepdesign(apiclus1, type="JK1")`` and ``as.svrepdesign(apistrat, type="JKn")``. Calls:
``svyglm(api00 ~ ell + meals + mobility)``, ``svyglm(I(sch.wide=="Yes") ~ ell + meals + stype,
family=quasibinomial())``, ``svyglm(enroll ~ meals, family=quasipoisson())``,
``svyglm(api00 ~ ell + meals, subset(des, stype != "E"))``, ``svyglm(api00 ~ 1)``, with
``summary``, ``confint``, ``vcov``, ``predict(type="link"|"response")``, ``regTermTest(method=
"Wald")`` and ``svyttest(api00 ~ awards)``; every fit with ``glm.control(epsilon=1e-20, maxit=60)`` (iterated to rounding).
The synthetic LFS (``lfs_n20000``, Taylor and bootstrap replicate designs) adds two logistic
models. Tolerances: coefficients, SEs, covariances and predictions 1e-8 relative; statistics, p-values
and intervals 1e-6.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flestimate import FlestimateWarning, SurveyDesign
from flestimate.errors import ArgumentError, DataError, EstimationError
from flestimate.models import GLMResult
from tests.conftest import load_api

DATA = Path(__file__).parent / "reference" / "data"
REF = json.loads((DATA / "glm_reference.json").read_text())
EST = 1e-8
STAT = 1e-6

Design = Any


def _strat() -> SurveyDesign:
    return SurveyDesign(load_api("apistrat"), weights="pw", strata="stype", fpc="fpc")


def _clus1() -> SurveyDesign:
    return SurveyDesign(load_api("apiclus1"), weights="pw", psu="dnum", fpc="fpc")


DESIGNS: dict[str, Callable[[], Design]] = {
    "apistrat": _strat,
    "apiclus1": _clus1,
    "apiclus2": lambda: SurveyDesign(load_api("apiclus2"), psu=["dnum", "snum"],
                                     fpc=["fpc1", "fpc2"]),
    "apiclus1_jk1": lambda: _clus1().to_replicate("jk1"),
    "apistrat_jkn": lambda: _strat().to_replicate("jkn"),
}
REPLICATE = ("apiclus1_jk1", "apistrat_jkn")


@pytest.fixture(scope="module", params=sorted(DESIGNS))
def case(request: pytest.FixtureRequest) -> tuple[str, Design]:
    return request.param, DESIGNS[request.param]()


def _close(actual: Any, expected: Any, rtol: float) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float),
                               np.asarray(expected, dtype=float), rtol=rtol, atol=0)


def _fit(name: str, des: Design, model: str) -> GLMResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)  # apiclus2: enroll missing
        if model == "gaussian":
            return des.glm("api00 ~ ell + meals + mobility", "gaussian")
        if model == "binomial":
            return des.glm("sch_wide_yes ~ ell + meals + stype", "binomial")
        if model == "poisson":
            return des.glm("enroll ~ meals", "poisson")
        if model == "subpop":
            return des.glm("api00 ~ ell + meals", "gaussian",
                           subpop=des.data["stype"] != "E")
        return des.glm("api00 ~ 1", "gaussian")


def _check_model(fit: GLMResult, r: dict[str, Any], dispersion: bool) -> None:
    t = fit.to_frame()
    assert list(t["term"]) == r["terms"]
    _close(t["estimate"], r["est"], EST)
    _close(t["se"], r["se"], EST)
    v, rv = fit.vcov().to_numpy(), np.asarray(r["vcov"])
    # Off-diagonal covariances near 0 are compared on the scale of their SEs.
    scale = np.sqrt(np.outer(np.diag(rv), np.diag(rv)))
    assert np.all(np.abs(v - rv) <= EST * scale)
    _close(t["statistic"], r["t"], STAT)
    _close(t["p_value"], r["p"], STAT)
    _close(t[["ci_low", "ci_high"]].to_numpy(), np.column_stack([r["lci"], r["uci"]]), STAT)
    assert (t["df"] == r["df"]).all()
    assert fit.provenance["df_residual"] == r["df"]
    if dispersion:
        _close(fit.provenance["dispersion"], r["dispersion"], EST)


@pytest.mark.parametrize("model", ["gaussian", "binomial", "poisson", "subpop", "intercept"])
def test_coefficients_ses_tests_and_intervals_equal_r(case: tuple[str, Design],
                                                      model: str) -> None:
    """R survey 4.1.1 ``summary(svyglm(...))``, ``vcov``, ``confint`` and ``df.residual`` on the
    API designs (see the module docstring); R's dispersion (``svyvar`` of the Pearson residuals)
    for the Taylor designs (R's is not defined for a replicate design's fit)."""
    name, des = case
    fit = _fit(name, des, model)
    # R's dispersion is not defined for a replicate design's fit, nor with missing rows (its
    # residuals are padded with NA to the full design's length).
    dispersion = name not in REPLICATE and fit.provenance["rows_excluded_missing"] == 0
    _check_model(fit, REF["results"][name][model], dispersion)


def test_binomial_odds_ratios_are_the_exponentiated_coefficients(case: tuple[str, Design]
                                                                 ) -> None:
    """R: ``exp(coef(m))`` and ``exp(confint(m))`` of the quasibinomial fit (survey 4.1.1)."""
    name, des = case
    t = _fit(name, des, "binomial").to_frame()
    r = REF["results"][name]["binomial"]
    _close(t["odds_ratio"], np.exp(r["est"]), EST)
    _close(t[["or_ci_low", "or_ci_high"]].to_numpy(),
           np.exp(np.column_stack([r["lci"], r["uci"]])), STAT)


@pytest.mark.parametrize("kind", ["link", "response"])
def test_predictions_equal_r(case: tuple[str, Design], kind: str) -> None:
    """R ``predict(svyglm(I(sch.wide=="Yes") ~ ell + meals + stype, quasibinomial), newdata,
    type=kind)`` (survey 4.1.1; ``newdata`` in the fixture's ``meta``): estimate and SE."""
    name, des = case
    newdata = pd.DataFrame(REF["meta"]["newdata"])
    p = _fit(name, des, "binomial").predict(newdata, type=kind)
    r = REF["results"][name][f"predict_{kind}"]
    _close(p["estimate"], r["est"], EST)
    _close(p["se"], r["se"], EST)


def test_default_predictions_are_the_models_rows(case: tuple[str, Design]) -> None:
    """R ``predict(svyglm(api00 ~ ell + meals + mobility))`` on the first 5 rows (survey 4.1.1)."""
    name, des = case
    p = _fit(name, des, "gaussian").predict()
    r = REF["results"][name]["predict_gaussian_first5"]
    _close(p["estimate"].iloc[:5], r["est"], EST)
    _close(p["se"].iloc[:5], r["se"], EST)
    assert list(p.index) == list(des.data.index)


def test_wald_tests_equal_regtermtest(case: tuple[str, Design]) -> None:
    """R ``regTermTest(m, ~stype)`` (binomial model) and ``regTermTest(m, ~ell + meals)``
    (gaussian), method Wald (survey 4.1.1): F, df, ddf, p."""
    name, des = case
    for model, terms, key in (("binomial", "stype", "wald_stype"),
                              ("gaussian", ["ell", "meals"], "wald_ell_meals")):
        w = _fit(name, des, model).wald_test(terms).to_frame().iloc[0]
        r = REF["results"][name][key]
        _close(w["statistic"], r["F"], STAT)
        _close(w["p_value"], r["p"], STAT)
        assert (w["df"], w["ddf"]) == (r["df"], r["ddf"])


def test_ttest_equals_svyttest(case: tuple[str, Design]) -> None:
    """R ``svyttest(api00 ~ awards, des)`` (survey 4.1.1): difference, t, df, p, 95% interval."""
    name, des = case
    t = des.ttest("api00", "awards").to_frame().iloc[0]
    r = REF["results"][name]["ttest"]
    _close(t["estimate"], r["est"], EST)
    _close([t["statistic"], t["p_value"], t["ci_low"], t["ci_high"]],
           [r["t"], r["p"], r["lci"], r["uci"]], STAT)
    assert t["df"] == r["df"]
    assert t["difference"] == "awardsYes"


@pytest.fixture(scope="module")
def lfs_designs() -> dict[str, Design]:
    from flestimate import ReplicateDesign

    d = pd.read_parquet(DATA / "lfs_n20000.parquet")
    return {"lfs_taylor": SurveyDesign(d, weights="w", strata="stratum", psu="psu", nest=True),
            "lfs_bootstrap": ReplicateDesign(d, weights="w", replicate_weights="bw[0-9]+",
                                             method="bootstrap")}


@pytest.mark.parametrize("name", ["lfs_taylor", "lfs_bootstrap"])
def test_lfs_logistic_models_equal_r(lfs_designs: dict[str, Design], name: str) -> None:
    """R survey 4.1.1 on the synthetic LFS (``lfs_n20000``; ``svydesign(ids=~psu,
    strata=~stratum, weights=~w, nest=TRUE)`` and ``svrepdesign(repweights="^bw[0-9]+$",
    type="bootstrap", combined.weights=TRUE)``): ``svyglm(migrant ~ age + sex + urban)`` and
    ``svyglm(fl ~ age + sex + urban, subset(des, migrant == 1))``, quasibinomial."""
    des = lfs_designs[name]
    r = REF["results"][name]
    _check_model(des.glm("migrant ~ age + sex + urban", "binomial"), r["migrant"],
                 name == "lfs_taylor")
    _check_model(des.glm("fl ~ age + sex + urban", "binomial", subpop="migrant"),
                 r["fl_migrants"], name == "lfs_taylor")


# -- metamorphic ------------------------------------------------------------------------------
def test_intercept_only_model_is_the_mean(case: tuple[str, Design]) -> None:
    """``svyglm(y ~ 1)`` is ``svymean(~y)``: the same estimate, SE and df (1e-10), as R's
    fixture also shows."""
    name, des = case
    fit = des.glm("api00 ~ 1", "gaussian").to_frame().iloc[0]
    m = des.mean("api00").to_frame().iloc[0]
    _close([fit["estimate"], fit["se"]], [m["estimate"], m["se"]], 1e-10)
    assert fit["df"] == m["df"]
    r = REF["results"][name]["mean_api00"]
    _close([fit["estimate"], fit["se"]], [r["est"], r["se"]], EST)


def test_subpop_by_column_mask_and_series_agree() -> None:
    """``subpop=`` as a column, a boolean array and a Series give the same fit (R ``subset``)."""
    data = load_api("apistrat")
    data["not_e"] = data["stype"] != "E"
    des = SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")
    a = des.glm("api00 ~ ell + meals", "gaussian", subpop="not_e").to_frame()
    b = des.glm("api00 ~ ell + meals", "gaussian",
                subpop=data["not_e"].to_numpy()).to_frame()
    pd.testing.assert_frame_equal(a, b)
    _close(a["se"], REF["results"]["apistrat"]["subpop"]["se"], EST)


def test_missing_values_are_excluded_counted_and_warned() -> None:
    """apiclus2's 6 missing ``enroll``: excluded, counted in the provenance, warned (R drops
    them: ``na.action``), numbers as R's ``svyglm(enroll ~ meals, quasipoisson())``."""
    des = DESIGNS["apiclus2"]()
    with pytest.warns(FlestimateWarning, match=r"MISSING_ITEMS.*6 row"):
        fit = des.glm("enroll ~ meals", "poisson")
    assert fit.provenance["rows_excluded_missing"] == 6
    assert fit.provenance["n"] == len(des.data) - 6


def test_formula_categorical_names_follow_r() -> None:
    """A string column and ``C()`` give R's treatment coding; the names are R's (``stypeH``) or
    keep the ``C()`` call (``C(stype)H``); the intercept is ``(Intercept)``."""
    des = _strat()
    a = des.glm("sch_wide_yes ~ ell + stype", "binomial")
    b = des.glm("sch_wide_yes ~ ell + C(stype)", "binomial")
    assert a.coefficient_names == ("(Intercept)", "ell", "stypeH", "stypeM")
    assert b.coefficient_names == ("(Intercept)", "ell", "C(stype)H", "C(stype)M")
    _close(a.to_frame()["estimate"], b.to_frame()["estimate"], 1e-14)
    assert b.wald_test("stype").statistic == a.wald_test("stype").statistic


def test_plain_c_terms_as_categoricals_keep_patsys_coding() -> None:
    """The columns of plain ``C(x)`` terms reach patsy as pandas categoricals (read at once
    rather than value by value): the fit is patsy's coding of the plain column, whether it
    holds strings, integer codes or categories, with or without a contrast argument, and
    categorical new data with other categories predicts as plain values. Reference: the
    bare string column ``stype`` (patsy's own path; its fit equals R's svyglm on apistrat in
    ``test_coefficients_ses_tests_and_intervals_equal_r``)."""
    data = load_api("apistrat")
    data["code"] = data["stype"].map({"E": 3, "H": 1, "M": 2})
    data["cat"] = data["stype"].astype("category")
    des = SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")
    plain = des.glm("sch_wide_yes ~ ell + stype", "binomial")
    fits = {f: des.glm(f"sch_wide_yes ~ ell + {f}", "binomial")
            for f in ("C(stype)", "C(cat)", "C(code)", "C(stype, Treatment('H'))")}
    assert fits["C(code)"].coefficient_names[2:] == ("C(code)2", "C(code)3")
    assert fits["C(cat)"].coefficient_names[2:] == ("C(cat)H", "C(cat)M")
    _close(fits["C(stype)"].to_frame()["estimate"], plain.to_frame()["estimate"], 1e-14)
    _close(fits["C(stype)"].to_frame()["se"], plain.to_frame()["se"], 1e-12)
    _close(fits["C(cat)"].to_frame()["se"], plain.to_frame()["se"], 1e-12)
    expected = plain.predict(type="response")["estimate"]
    for fit in fits.values():  # other references: the same model, the same fitted values
        _close(fit.predict(type="response")["estimate"], expected, 1e-10)
    new = pd.DataFrame({"ell": [10.0, 40.0], "stype": ["M", "E"]})
    new["cat"] = pd.Categorical(["M", "E"], categories=["M", "E"])
    _close(fits["C(cat)"].predict(new, type="response")["estimate"],
           plain.predict(new, type="response")["estimate"], 1e-12)


def test_interactions_and_boolean_outcome() -> None:
    """``a*b`` expands as R's (main effects then the interaction); a boolean outcome is its
    True indicator."""
    data = load_api("apistrat")
    data["yes"] = data["sch.wide"] == "Yes"
    des = SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")
    fit = des.glm("yes ~ ell*stype", "binomial")
    assert fit.coefficient_names == ("(Intercept)", "ell", "stypeH", "stypeM", "ell:stypeH",
                                     "ell:stypeM")
    same = des.glm("sch_wide_yes ~ ell*stype", "binomial")
    _close(fit.to_frame()["estimate"], same.to_frame()["estimate"], 1e-14)


# -- errors -----------------------------------------------------------------------------------
def test_unknown_family_suggests_the_closest() -> None:
    with pytest.raises(ArgumentError, match=r"`family` of `glm\(\)`.*did you mean 'poisson'"):
        _strat().glm("api00 ~ ell", "poison")


def test_missing_column_is_named() -> None:
    with pytest.raises(DataError, match=r"column 'elll' of `formula` of `glm\(\)` not found"):
        _strat().glm("api00 ~ elll", "gaussian")


def test_binomial_needs_a_binary_outcome() -> None:
    with pytest.raises(DataError, match=r"'api00'.*must be 0/1 or boolean"):
        _strat().glm("api00 ~ ell", "binomial")


def test_poisson_needs_counts() -> None:
    data = load_api("apistrat")
    data["neg"] = -data["enroll"]
    des = SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")
    with pytest.raises(DataError, match=r"must be a count"):
        des.glm("neg ~ ell", "poisson")


def test_perfect_separation_warns_as_r() -> None:
    """R: "glm.fit: fitted probabilities numerically 0 or 1 occurred"."""
    data = load_api("apistrat")
    data["high"] = (data["api00"] > 700).astype(int)
    des = SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")
    with pytest.warns(FlestimateWarning, match="SEPARATION"):
        des.glm("high ~ api00", "binomial")
    # R stops at its deviance rule with the fitted values at 0 and 1: so does flestimate.


def test_aliased_coefficients_are_an_error() -> None:
    data = load_api("apistrat")
    data["ell2"] = 2 * data["ell"]
    des = SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")
    with pytest.raises(EstimationError, match=r"rank deficient.*'ell2'"):
        des.glm("api00 ~ ell + ell2", "gaussian")


def test_ttest_needs_two_groups() -> None:
    with pytest.raises(DataError, match=r"two groups"):
        _strat().ttest("api00", "stype")


def test_wald_test_unknown_term() -> None:
    fit = _strat().glm("api00 ~ ell + meals", "gaussian")
    with pytest.raises(ArgumentError, match=r"did you mean 'meals'"):
        fit.wald_test("mels")


def test_predict_newdata_missing_column() -> None:
    fit = _strat().glm("api00 ~ ell + meals", "gaussian")
    with pytest.raises(DataError, match=r"'meals'.*`newdata`"):
        fit.predict(pd.DataFrame({"ell": [1.0]}))


# -- live R -----------------------------------------------------------------------------------
@pytest.mark.needs_r
def test_the_r_script_gives_the_fixture(tmp_path: Path) -> None:
    """Live: rerun ``r_glm_reference.R`` and compare with the committed fixture (1e-10)."""
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not found")
    out = tmp_path / "glm_reference.json"
    subprocess.run(["Rscript", str(DATA / "r_glm_reference.R"), str(out)], check=True,
                   capture_output=True, timeout=600)
    live = json.loads(out.read_text())["results"]
    committed = REF["results"]
    assert live.keys() == committed.keys()
    for name, stats in live.items():
        for key, value in stats.items():
            for field, v in (value.items() if isinstance(value, dict) else [("", value)]):
                c = committed[name][key][field] if field else committed[name][key]
                if isinstance(v, str) or (isinstance(v, list) and v and isinstance(v[0], str)):
                    assert v == c
                else:
                    _close(v, c, 1e-10)


@pytest.mark.parametrize("formula", [
    "api00 ~ ell + meals + C(stype)",
    "api00 ~ C(stype) + C(awards) + mobility",
    "api00 ~ 1",
    "enroll ~ C(cname) + api99",
    "sch_wide_yes ~ C(stype) + ell",
])
def test_main_effects_are_built_as_patsy_builds_them(formula: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Reference: patsy's own model matrix (the formula path every other formula takes): a
    main-effects formula built directly has the same rows, columns, names, terms and values
    (enroll has missing values: the same rows are excluded)."""
    from flestimate.models import _formula

    data = load_api("apiclus2")
    rows = np.arange(len(data))
    fast = _formula.model_frame(data, formula, rows, "glm")
    monkeypatch.setattr(_formula, "_simple_terms", lambda *args: None)
    slow = _formula.model_frame(data, formula, rows, "glm")
    assert fast.names == slow.names and fast.terms == slow.terms
    assert fast.outcome == slow.outcome and fast.n_excluded == slow.n_excluded
    np.testing.assert_array_equal(fast.rows, slow.rows)
    np.testing.assert_array_equal(fast.X, slow.X)
    np.testing.assert_array_equal(fast.y, slow.y)


def test_a_large_rank_deficient_model_is_still_an_error() -> None:
    """Above 200,000 rows the rank is first checked on a subsample (independent columns on
    some rows are independent on all); a dependence in the full data is still found: x2 = 2 x1,
    and a category present only in rows the subsample skips."""
    from flestimate.errors import EstimationError

    rng = np.random.default_rng(3)
    n = 250_000
    frame = pd.DataFrame({"y": rng.integers(0, 2, n).astype(float), "x1": rng.normal(size=n),
                          "w": np.ones(n), "g": np.where(np.arange(n) % 5 == 1, "b", "a")})
    frame["x2"] = 2 * frame["x1"]
    des = SurveyDesign(frame, weights="w")
    with pytest.raises(EstimationError, match="rank deficient: coefficient\\(s\\) 'x2'"):
        des.glm("y ~ x1 + x2", "binomial")
    # "b" rows are every 5th + 1: the subsample (every 5th row) has none, the data do
    fit = des.glm("y ~ x1 + C(g)", "binomial")
    assert list(fit.to_frame()["term"]) == ["(Intercept)", "x1", "C(g)b"]


def test_the_warm_start_converges_to_the_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reference: the same fit from R's starting values with whole-column passes (both
    speedups off): above 200,000 rows the IRLS starts from a subsample's fit and goes through
    the rows in blocks, its last pass's X'WX the sandwich's A, and reaches the same
    coefficients and SEs (the same score equations and convergence rule: to about 1e-10 of an
    SE)."""
    from flestimate.models import _fit, _glm

    rng = np.random.default_rng(5)
    n = 220_000
    frame = pd.DataFrame({"x": rng.normal(size=n), "g": rng.integers(0, 4, n),
                          "psu": rng.integers(0, 400, n), "w": rng.uniform(1, 3, n)})
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(1 - 0.5 * frame["x"]))).astype(float)
    des = SurveyDesign(frame, weights="w", psu="psu")
    warm = des.glm("y ~ x + C(g)", "binomial").to_frame()
    monkeypatch.setattr(_glm, "WARM_START_ROWS", 10**9)
    monkeypatch.setattr(_fit, "BLOCK_FROM_ROWS", 10**9)
    cold = des.glm("y ~ x + C(g)", "binomial").to_frame()
    np.testing.assert_allclose(warm["estimate"], cold["estimate"], rtol=0,
                               atol=1e-9 * cold["se"].min())
    np.testing.assert_allclose(warm["se"], cold["se"], rtol=1e-9)
