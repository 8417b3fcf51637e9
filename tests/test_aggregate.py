"""``flestimate.aggregate``: regional and world totals from national estimates, shares and
ratios with delta-method SEs, and the ILO breakdown pooled over national surveys.

References: the hand-worked examples are computed in the docstrings (populations known
constants, independent surveys, Cochran 1977 sec. 5.2); shares against the delta-method formula
(Wolter 2007 ch. 6) and a Monte Carlo simulation; ``from_reports`` against the shipped synthetic
surveys data/synthetic/moldova_synthetic.sav and georgia_synthetic_{persons,households}.dta.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

from flestimate import PrevalenceReport, estimate_prevalence
from flestimate.aggregate import (
    BREAKDOWN_COLUMNS,
    FORMS,
    Aggregate,
    Breakdown,
    aggregate,
    from_reports,
    ratio,
    shares,
)
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, FlestimateError

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
Z = stats.norm.ppf(0.975)
pytestmark = pytest.mark.filterwarnings("ignore::flestimate.FlestimateWarning")


def three() -> pd.DataFrame:
    """Three surveyed countries in two regions and one unsurveyed country (D)."""
    return pd.DataFrame({
        "country": ["A", "B", "C", "D"],
        "region": ["North", "North", "South", "South"],
        "estimate": [0.004, 0.002, 0.003, np.nan],
        "se": [0.001, 0.0005, 0.001, np.nan],
        "population": [1e6, 2e6, 3e6, 1e6],
    })


def _level(agg: Aggregate, level: str, key: str | None = None) -> pd.Series:
    t = agg.to_frame(level)
    if key is not None:
        t = t[(t["region"] == key) | (t["unit"] == key)]
    assert len(t) == 1
    return t.iloc[0]


# -- aggregate ------------------------------------------------------------------------------------
def test_three_countries_two_regions_by_hand() -> None:
    """Hand-worked: T = P r, Var = P^2 se^2: A 4,000 (se 1,000), B 4,000 (se 1,000), C 9,000
    (se 3,000). North 8,000, se sqrt(2e6) = 1,414.21, 2.667 per 1,000; South 9,000, se 3,000;
    world 17,000, se sqrt(11e6) = 3,316.62, 17,000 / 6e6 x 1,000 = 2.833 per 1,000, normal CI
    17,000 -/+ 1.96 x 3,316.62."""
    agg = aggregate(three().iloc[:3])
    a = _level(agg, "unit", "A")
    assert a["total"] == pytest.approx(4000) and a["se"] == pytest.approx(1000)
    assert a["rate_per_1000"] == pytest.approx(4.0) and not a["imputed"]
    north = _level(agg, "group", "North")
    assert north["total"] == pytest.approx(8000)
    assert north["se"] == pytest.approx(np.sqrt(2e6))
    assert north["rate_per_1000"] == pytest.approx(8000 / 3e6 * 1000)
    assert north["rate_per_1000_se"] == pytest.approx(np.sqrt(2e6) / 3e6 * 1000)
    assert north["n_units"] == 2 and north["n_surveyed"] == 2 and north["n_imputed"] == 0
    world = agg.world
    assert world["total"] == pytest.approx(17_000)
    assert world["se"] == pytest.approx(np.sqrt(11e6))
    assert world["ci_low"] == pytest.approx(17_000 - Z * np.sqrt(11e6))
    assert world["ci_high"] == pytest.approx(17_000 + Z * np.sqrt(11e6))
    assert world["rate_per_1000"] == pytest.approx(17_000 / 6e6 * 1000)
    assert world["rate_per_1000_ci_low"] == pytest.approx((17_000 - Z * np.sqrt(11e6)) / 6e3)
    assert world["population"] == 6e6 and world["imputed_population_share"] == 0
    assert list(agg.to_frame()["level"]) == ["unit"] * 3 + ["group"] * 2 + ["world"]


def test_regional_rate_imputation_by_hand() -> None:
    """Hand-worked: D (1e6, no survey) in South takes South's surveyed rate 9,000 / 3e6 = 3 per
    1,000: D = 3,000 (se 1e6 x 3,000 / 3e6 = 1,000); South = 9,000 x (1 + 1/3) = 12,000 with se
    3,000 x 4/3 = 4,000 (not the sum of the unit variances); world 20,000 with se
    sqrt(2e6 + 16e6); imputed population share 1/4 in South and 1/7 in the world."""
    agg = aggregate(three(), impute="regional_rate")
    d = _level(agg, "unit", "D")
    assert d["imputed"] and d["total"] == pytest.approx(3000) and d["se"] == pytest.approx(1000)
    assert "regional_rate" in d["method"] and "region=South" in d["method"]
    south = _level(agg, "group", "South")
    assert south["total"] == pytest.approx(12_000) and south["se"] == pytest.approx(4000)
    assert south["n_imputed"] == 1 and south["imputed_population_share"] == pytest.approx(0.25)
    assert "not in the SE" in south["method"]
    world = agg.world
    assert world["total"] == pytest.approx(20_000)
    assert world["se"] == pytest.approx(np.sqrt(18e6))
    assert world["imputed_population_share"] == pytest.approx(1 / 7)
    assert world["n_units"] == 4 and world["n_surveyed"] == 3 and world["n_imputed"] == 1
    assert "not in the SE" in agg.provenance["caveat"]
    assert agg.to_frame("unit")["imputed"].tolist() == [False, False, False, True]


def test_model_imputation_table_and_callable() -> None:
    """A user model for D (rate 5 per 1,000, se 2 per 1,000): D = 5,000 with Var = (1e6 x
    0.002)^2 = 4e6 added to South: 9,000 + 5,000 = 14,000, se sqrt(9e6 + 4e6). The same
    numbers from a callable; the model's name is written on the imputed row."""
    model = pd.DataFrame({"country": ["D"], "rate": [0.005], "se": [0.002]})
    seen: list[list[str]] = []

    def fn(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        seen.append(list(rows["country"]))
        return np.full(len(rows), 0.005), np.full(len(rows), 0.002)

    for imp in (model, fn):
        agg = aggregate(three(), impute=imp, impute_name="ilo-model")
        south = _level(agg, "group", "South")
        assert south["total"] == pytest.approx(14_000)
        assert south["se"] == pytest.approx(np.sqrt(13e6))
        d = _level(agg, "unit", "D")
        assert d["method"] == "imputed: ilo-model" and d["imputed"]
        assert agg.provenance["impute"] == ("ilo-model",)
    assert seen == [["D"]]


def test_a_model_covers_a_region_without_survey() -> None:
    """With ``impute=[model, "regional_rate"]`` a region without any survey (East: E) is
    covered by the model, and D by the regional rate."""
    frame = pd.concat([three(), pd.DataFrame({
        "country": ["E"], "region": ["East"], "estimate": [np.nan], "se": [np.nan],
        "population": [2e6]})], ignore_index=True)
    model = pd.DataFrame({"unit": ["E"], "rate": [0.001], "se": [0.0]})
    agg = aggregate(frame, impute=[model, "regional_rate"], impute_name=["east-model", None])
    east = _level(agg, "group", "East")
    assert east["total"] == pytest.approx(2000) and east["se"] == 0
    assert _level(agg, "unit", "D")["method"].startswith("imputed: regional_rate")
    assert agg.world["total"] == pytest.approx(17_000 + 3000 + 2000)


def test_region_without_survey_and_no_model_is_an_error() -> None:
    """A unit to impute in a region with no surveyed unit and no model: the error names the
    region and the unit."""
    frame = three()
    frame.loc[2, ["estimate", "se"]] = np.nan
    with pytest.raises(DataError, match=r"'C', 'D'.*region=South.*no surveyed unit"):
        aggregate(frame, impute="regional_rate")


def test_se_from_a_symmetric_interval() -> None:
    """An SE from a Wald interval: (high - low) / (2 z); e.g. A's CI 0.004 -/+ 1.96 x 0.001
    gives back se 0.001 (source 'CI, linear scale'); B keeps its given SE."""
    frame = three().iloc[:3].copy()
    frame["low"] = frame["estimate"] - Z * frame["se"]
    frame["high"] = frame["estimate"] + Z * frame["se"]
    frame.loc[0, "se"] = np.nan
    agg = aggregate(frame, ci_low="low", ci_high="high")
    a = _level(agg, "unit", "A")
    assert a["se"] == pytest.approx(1e6 * 0.001) and a["se_source"] == "CI, linear scale"
    assert _level(agg, "unit", "B")["se_source"] == "se"
    assert agg.world["se"] == pytest.approx(np.sqrt(11e6))
    # a 90% input interval with a 95% output
    frame90 = frame.copy()
    z90 = stats.norm.ppf(0.95)
    frame90.loc[0, ["low", "high"]] = [0.004 - z90 * 0.001, 0.004 + z90 * 0.001]
    agg90 = aggregate(frame90, ci_low="low", ci_high="high", ci_level=0.90)
    assert _level(agg90, "unit", "A")["se"] == pytest.approx(1000)


def test_se_from_a_log_scale_interval() -> None:
    """An SE from a log-scale interval of a total: T exp(-/+ z 0.2) around T = 1,000 gives
    se(log T) = 0.2, se(T) = 200 (source 'CI, log scale'); ``ci_scale='linear'`` would give
    (high - low) / (2 z) instead."""
    low, high = 1000 * np.exp(-Z * 0.2), 1000 * np.exp(Z * 0.2)
    frame = pd.DataFrame({"country": ["A", "B"], "region": ["r", "r"], "n": [1000.0, 500.0],
                          "se": [np.nan, 50.0], "low": [low, np.nan], "high": [high, np.nan]})
    agg = aggregate(frame, value="n", kind="total", population=None, ci_low="low",
                    ci_high="high")
    a = _level(agg, "unit", "A")
    assert a["se"] == pytest.approx(200) and a["se_source"] == "CI, log scale"
    assert np.isnan(a["rate_per_1000"])
    lin = aggregate(frame, value="n", kind="total", population=None, ci_low="low",
                    ci_high="high", ci_scale="linear")
    assert _level(lin, "unit", "A")["se"] == pytest.approx((high - low) / (2 * Z))


def test_lognormal_interval() -> None:
    """``ci='lognormal'``: T exp(-/+ z se / T); world 17,000 with se 3,316.62."""
    agg = aggregate(three().iloc[:3], ci="lognormal", level=0.9)
    w = agg.world
    z = stats.norm.ppf(0.95)
    f = np.exp(z * np.sqrt(11e6) / 17_000)
    assert w["ci_low"] == pytest.approx(17_000 / f) and w["ci_high"] == pytest.approx(17_000 * f)
    assert agg.provenance["ci_method"] == "lognormal" and agg.provenance["level"] == 0.9


def test_rates_and_totals_agree() -> None:
    """Metamorphic: the same countries given as rates (kind='rate') or as totals P r with SE
    P se (kind='total') give the same group and world rows."""
    rates = three().iloc[:3]
    totals = rates.assign(estimate=rates["estimate"] * rates["population"],
                          se=rates["se"] * rates["population"])
    a = aggregate(rates).to_frame()
    b = aggregate(totals, kind="total").to_frame()
    cols = ["total", "se", "ci_low", "ci_high", "rate_per_1000", "rate_per_1000_se"]
    np.testing.assert_allclose(a[cols].to_numpy(float), b[cols].to_numpy(float), rtol=1e-12)


def test_no_groups_and_per_100000() -> None:
    """``groups=()`` gives units and the world only; ``per=100000`` names the rate columns."""
    agg = aggregate(three().iloc[:3], groups=(), per=100_000)
    assert set(agg.to_frame()["level"]) == {"unit", "world"}
    assert agg.world["rate_per_100000"] == pytest.approx(17_000 / 6e6 * 1e5)


def test_aggregate_views_and_immutability() -> None:
    """The result: to_frame copies, summary, repr, HTML, JSON-serialisable dict, immutable."""
    agg = aggregate(three(), impute="regional_rate")
    f = agg.to_frame()
    f.loc[0, "total"] = -1
    assert agg.to_frame().loc[0, "total"] == pytest.approx(4000)
    text = agg.summary()
    assert "South" in text and "Caveat" in text and "D" in text
    assert "world" in repr(agg) and "<table" in agg._repr_html_()
    json.dumps(agg.to_dict(), default=str)
    with pytest.raises(AttributeError):
        agg.groups = ()  # type: ignore[misc]
    with pytest.raises(ArgumentError, match="`level` of `to_frame"):
        agg.to_frame("country")


@pytest.mark.parametrize(("change", "error", "match"), [
    (lambda f: f.assign(se=np.nan), DataError, r"'A', 'B', 'C'.*no SE"),
    (lambda f: f.assign(population=[1e6, -2e6, 3e6, 1e6]), DataError,
     r"'population'.*-2000000.*'B'"),
    (lambda f: f.assign(estimate=[0.004, 1.2, 0.003, np.nan]), DataError, r"\[0, 1\].*'B'"),
    (lambda f: f.assign(country=["A", "A", "C", "D"]), DataError, r"repeated: 'A'"),
    (lambda f: f.drop(columns="region"), DataError, r"'region' \(`groups\[0\]`\)"),
    (lambda f: f.assign(se=[0.001, -0.1, 0.001, np.nan]), DataError, r"`se`.*'B'"),
])
def test_aggregate_errors_name_the_unit_and_column(change: Any, error: type[Exception],
                                                   match: str) -> None:
    """Bad inputs: the error names the column and the units at fault."""
    with pytest.raises(error, match=match):
        aggregate(change(three()), impute="regional_rate")


def test_aggregate_argument_errors() -> None:
    """Unsurveyed units without ``impute``; bad ``kind``, ``level``, ``impute``; all
    FlestimateErrors."""
    with pytest.raises(DataError, match=r"'D'.*no estimate.*impute="):
        aggregate(three())
    with pytest.raises(ArgumentError, match="`kind` of `aggregate\\(\\)` must be one of"):
        aggregate(three(), kind="share")
    with pytest.raises(ArgumentError, match="`level` of `aggregate\\(\\)` must be a float"):
        aggregate(three(), level=95)
    with pytest.raises(ArgumentError, match="'regional_rate'"):
        aggregate(three(), impute="global_rate")
    with pytest.raises(ArgumentTypeError):
        aggregate(three(), impute=3)  # type: ignore[arg-type]
    with pytest.raises(FlestimateError):
        aggregate([1, 2])  # type: ignore[arg-type]


# -- shares and ratio -----------------------------------------------------------------------------
def test_shares_match_the_delta_formula() -> None:
    """Hand computation with the ILO 2005 forms (2.49, 1.39, 7.81, 0.61 million) and SEs 0.1,
    0.1, 0.2, 0.05 million: Var(s_i) = [(1 - s_i)^2 V_i + s_i^2 sum_{j != i} V_j] / T^2."""
    t = np.array([2.49, 1.39, 7.81, 0.61]) * 1e6
    se = np.array([0.1, 0.1, 0.2, 0.05]) * 1e6
    out = shares(t, se, names=list(FORMS))
    s = t / t.sum()
    v = se**2
    expected = np.sqrt(((1 - s) ** 2 * v + s**2 * (v.sum() - v)) / t.sum() ** 2)
    np.testing.assert_allclose(out["share"], s, rtol=1e-14)
    np.testing.assert_allclose(out["se"], expected, rtol=1e-12)
    assert out["share"].sum() == pytest.approx(1.0)
    half = Z * expected / (s * (1 - s))
    np.testing.assert_allclose(out["ci_low"], special.expit(special.logit(s) - half), rtol=1e-12)
    wald = shares(t, se, names=list(FORMS), ci="wald")
    np.testing.assert_allclose(wald["ci_high"], s + Z * expected, rtol=1e-12)
    assert list(out["component"]) == list(FORMS)


def test_shares_against_monte_carlo() -> None:
    """Monte Carlo: 200,000 draws of independent normal totals (CV 2-5%); the SD of the
    simulated shares agrees with the delta-method SE to 2%."""
    rng = np.random.default_rng(20240601)
    t = np.array([2.49, 1.39, 7.81, 0.61]) * 1e6
    se = t * np.array([0.04, 0.05, 0.02, 0.05])
    draws = rng.normal(t, se, size=(200_000, 4))
    sim = draws / draws.sum(axis=1, keepdims=True)
    out = shares(t, se)
    np.testing.assert_allclose(out["se"], sim.std(axis=0), rtol=0.02)


def test_shares_with_a_covariance_matrix() -> None:
    """General form G Sigma G', G = (I - s 1') / T, against the explicit sum
    Var(s_i) = sum_jk (1[i=j] - s_i)(1[i=k] - s_i) C_jk / T^2; a diagonal ``cov`` equals ``se``."""
    t = np.array([10.0, 30.0, 60.0])
    cov = np.array([[4.0, -1.0, 0.5], [-1.0, 9.0, -2.0], [0.5, -2.0, 16.0]])
    out = shares(t, cov=cov)
    s = t / t.sum()
    expected = []
    for i in range(3):
        acc = sum(((i == j) - s[i]) * ((i == k) - s[i]) * cov[j, k]
                  for j in range(3) for k in range(3))
        expected.append(np.sqrt(acc) / t.sum())
    np.testing.assert_allclose(out["se"], expected, rtol=1e-12)
    diag = shares(t, cov=np.diag([4.0, 9.0, 16.0]))
    np.testing.assert_allclose(diag["se"], shares(t, [2.0, 3.0, 4.0])["se"], rtol=1e-12)
    with pytest.raises(ArgumentError, match="disagree"):
        shares(t, [1.0, 1.0, 1.0], cov=cov)


def test_shares_at_zero() -> None:
    """A component of 0 with SE 0 has share 0 and the point interval; with a positive SE the
    logit interval is undefined and the Wald interval clipped to [0, 1] is flagged."""
    out = shares([0.0, 10.0], [0.0, 1.0])
    assert out.loc[0, "share"] == 0 and out.loc[0, "ci_high"] == 0
    assert "point" in out.loc[0, "ci_flag"]
    out = shares([0.0, 10.0], [1.0, 1.0])
    assert out.loc[0, "ci_low"] == 0 and out.loc[0, "ci_high"] == pytest.approx(Z * 0.1)
    assert "Wald" in out.loc[0, "ci_flag"]


def test_shares_errors() -> None:
    """Negative or non-finite totals, a zero sum, missing SEs, mismatched names."""
    with pytest.raises(DataError, match=r">= 0.*'b'"):
        shares([1.0, -1.0], [0.1, 0.1], names=["a", "b"])
    with pytest.raises(DataError, match="positive sum"):
        shares([0.0, 0.0], [0.1, 0.1])
    with pytest.raises(ArgumentError, match="needs the SEs"):
        shares([1.0, 2.0])
    with pytest.raises(ArgumentError, match="one name per total"):
        shares([1.0, 2.0], [0.1, 0.1], names=["a"])


@given(st.lists(st.floats(1.0, 1e7), min_size=2, max_size=6),
       st.floats(0.001, 0.5), st.floats(1e-3, 1e3))
def test_shares_properties(totals: list[float], cv: float, c: float) -> None:
    """Property: shares sum to 1; scaling every total and its SE by c leaves the shares and
    their SEs unchanged."""
    t = np.array(totals)
    se = cv * t
    a = shares(t, se)
    b = shares(c * t, c * se)
    assert a["share"].sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(a["share"], b["share"], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-9, atol=1e-15)


def test_ratio_by_hand() -> None:
    """R = 2.45 / 12.3 million with SEs 0.1 and 0.5 million, covariance 0 and 1e10:
    Var(R) = [Var(a) + R^2 Var(b) - 2 R Cov] / b^2; log-scale CI R exp(-/+ z se / R)."""
    out = ratio([2.45e6, 2.45e6], 1e5, 12.3e6, 5e5, cov=[0.0, 1e10])
    r = 2.45 / 12.3
    var0 = (1e10 + r**2 * 2.5e11) / 12.3e6**2
    var1 = var0 - 2 * r * 1e10 / 12.3e6**2
    np.testing.assert_allclose(out["ratio"], [r, r], rtol=1e-14)
    np.testing.assert_allclose(out["se"], np.sqrt([var0, var1]), rtol=1e-12)
    assert out.loc[0, "se"] == pytest.approx(r * np.sqrt((1e5 / 2.45e6) ** 2
                                                         + (5e5 / 12.3e6) ** 2))
    assert out.loc[0, "ci_high"] == pytest.approx(r * np.exp(Z * np.sqrt(var0) / r))
    with pytest.raises(DataError, match=r"`b` of `ratio\(\)` must be > 0"):
        ratio(1.0, 0.1, 0.0, 0.1)


# -- from_reports ---------------------------------------------------------------------------------
# The minimum estimates (missing="minimum"): their zero counts exercise the edge cases of the
# aggregation; the imputed reports aggregate the same way (test_imputed_reports_aggregate).
@pytest.fixture(scope="module")
def moldova() -> PrevalenceReport:
    return estimate_prevalence(DATA / "moldova_synthetic.sav", "moldova-2008-synthetic",
                               missing="minimum", disclosure="none")


@pytest.fixture(scope="module")
def georgia() -> PrevalenceReport:
    return estimate_prevalence(DATA / "georgia_synthetic_persons.dta", "georgia-synthetic",
                               households=DATA / "georgia_synthetic_households.dta",
                               missing="minimum", disclosure="none")


@pytest.fixture(scope="module")
def both(moldova: PrevalenceReport, georgia: PrevalenceReport) -> Breakdown:
    return from_reports({"moldova": moldova, "georgia": georgia}, disclosure="none",
                        region={"moldova": "East", "georgia": "Caucasus"},
                        population={"moldova": 3.5e6, "georgia": 3.7e6})


def _national(report: PrevalenceReport, table: str, measure: str) -> pd.DataFrame:
    t = report.to_frame()
    out: pd.DataFrame = t[(t["table"] == table) & (t["measure"] == measure)
                          & (t["by"] == "national")].set_index("indicator")
    return out


def _world(b: Breakdown, table: str, quantity: str) -> pd.DataFrame:
    t = b.table(table, "world")
    out: pd.DataFrame = t[t["quantity"] == quantity].set_index("component")
    return out


def test_one_country_reduces_to_its_report(moldova: PrevalenceReport) -> None:
    """With one survey the pooled shares by form and their SEs are the report's exactly
    (Var(S_f) reduces to Var(s_cf)); the totals are the report's numbers (Moldova synthetic)."""
    b = from_reports({"moldova": moldova}, disclosure="none")
    for table in ("trafficked_by_form", "forced_labour_by_form"):
        rep = _national(moldova, table, "share")
        got = _world(b, table, "share").loc[list(FORMS)]
        np.testing.assert_allclose(got["estimate"], rep.loc[list(FORMS), "estimate"], rtol=1e-14)
        np.testing.assert_allclose(got["se"], rep.loc[list(FORMS), "se"], rtol=1e-12)
    nums = _national(moldova, "prevalence", "number")
    tot = _world(b, "totals", "persons")
    np.testing.assert_allclose(tot.loc["forced_labour", ["estimate", "se"]].to_numpy(float),
                               nums.loc["forced_labour", ["estimate", "se"]].to_numpy(float),
                               rtol=1e-12)


def test_two_surveys_pooled_by_hand(both: Breakdown, moldova: PrevalenceReport,
                                    georgia: PrevalenceReport) -> None:
    """Moldova + Georgia synthetic: S_f = sum s_cf T_c / D and Var(S_f) = sum [(T_c/D)^2
    Var(s_cf) + ((s_cf - S_f)/D)^2 Var(T_c)] with T_c the numbers trafficked, computed here from
    the two reports' tidy tables; totals are sums with summed variances."""
    reps = [moldova, georgia]
    t = np.array([_national(r, "prevalence", "number").loc["trafficked", "estimate"]
                  for r in reps])
    vt = np.array([_national(r, "prevalence", "number").loc["trafficked", "se"]
                   for r in reps]) ** 2
    s = np.array([_national(r, "trafficked_by_form", "share").loc[list(FORMS), "estimate"]
                  for r in reps])
    vs = np.array([_national(r, "trafficked_by_form", "share").loc[list(FORMS), "se"]
                   for r in reps]) ** 2
    d = t.sum()
    pooled = (s * t[:, None]).sum(axis=0) / d
    var = ((t[:, None] / d) ** 2 * vs + ((s - pooled) / d) ** 2 * vt[:, None]).sum(axis=0)
    got = _world(both, "trafficked_by_form", "share").loc[list(FORMS)]
    np.testing.assert_allclose(got["estimate"], pooled, rtol=1e-12)
    np.testing.assert_allclose(got["se"], np.sqrt(var), rtol=1e-12)
    assert got["estimate"].sum() == pytest.approx(1.0)
    persons = _world(both, "trafficked_by_form", "persons")
    assert persons.loc["total", "estimate"] == pytest.approx(d)
    assert persons.loc["total", "se"] == pytest.approx(np.sqrt(vt.sum()))
    fl = _world(both, "totals", "persons").loc["forced_labour"]
    nums = [_national(r, "prevalence", "number").loc["forced_labour"] for r in reps]
    assert fl["estimate"] == pytest.approx(sum(n["estimate"] for n in nums))
    assert fl["se"] == pytest.approx(np.sqrt(sum(n["se"] ** 2 for n in nums)))


def test_forced_labour_by_form_persons_add_up(both: Breakdown) -> None:
    """Forced labour by form: the persons by form add up to the number in forced labour (they
    do in each report), and their pooled shares to 1."""
    p = _world(both, "forced_labour_by_form", "persons")
    assert p.loc[list(FORMS), "estimate"].sum() == pytest.approx(p.loc["total", "estimate"])
    s = _world(both, "forced_labour_by_form", "share")
    assert s.loc[list(FORMS), "estimate"].sum() == pytest.approx(1.0)


def test_regions_rates_and_layout(both: Breakdown) -> None:
    """With regions: region rows in every table and regional shares of the world total
    (independent totals, ``shares``); with populations: rates per 1,000 = T / P x 1,000; every
    row has source 'survey'; a share of 0 with SE 0 has the one-sided Korn-Graubard interval
    of the estimators (test_zero_share_gets_the_one_sided_interval), a number of 0 with SE 0 no
    upper end (no sample cases)."""
    f = both.to_frame()
    assert tuple(f.columns) == BREAKDOWN_COLUMNS
    assert (f["source"] == "survey").all()
    assert set(f["level"]) == {"country", "region", "world"}
    reg = both.table("by_region", "region")
    persons = reg[reg["quantity"] == "persons"]
    expected = shares(persons["estimate"].to_numpy(), persons["se"].to_numpy())
    got = reg[reg["quantity"] == "share"]
    np.testing.assert_allclose(got["estimate"], expected["share"], rtol=1e-12)
    np.testing.assert_allclose(got["se"], expected["se"], rtol=1e-12)
    rates = _world(both, "totals", "per_1000").loc["forced_labour"]
    tot = _world(both, "totals", "persons").loc["forced_labour"]
    assert rates["estimate"] == pytest.approx(tot["estimate"] / 7.2e6 * 1000)
    cse = _world(both, "trafficked_by_form", "share").loc["commercial_sexual_exploitation"]
    assert cse["estimate"] == 0 and cse["ci_low"] == 0 and 0 < cse["ci_high"] < 1
    assert cse["ci_flag"] == "p=0: one-sided interval (NCHS)"
    cse_n = _world(both, "trafficked_by_form", "persons").loc["commercial_sexual_exploitation"]
    assert cse_n["estimate"] == 0 and cse_n["ci_low"] == 0 and np.isnan(cse_n["ci_high"])
    assert "no sample cases" in cse_n["ci_flag"]
    assert "trafficked_by_form" in repr(both) and "<table" in both._repr_html_()
    assert "Variance" in both.summary()
    json.dumps(both.to_dict(), default=str)


def test_zero_share_gets_the_one_sided_interval(both: Breakdown, moldova: PrevalenceReport,
                                                georgia: PrevalenceReport) -> None:
    """A share of 0 with SE 0 (no trafficked case of commercial sexual exploitation in either
    synthetic survey) gets the one-sided Korn-Graubard interval of the estimators (NCHS):
    U = 1 - 0.025^(1 / n*), n* = min(n (t_{.975, n-1} / t_{.975, df})^2, n), with n the
    trafficked sample cases and df the design df summed over the row's surveys. A region of
    one survey gives that survey's report interval exactly (Moldova 35 cases, df 26: 10.22%;
    Georgia 16 cases, df 8: 23.65%); the pool of both (n = 51, df = 34) gives 7.137%, the
    interval of the same share in the pooled design (``pool_reports``)."""
    from flestimate.report import pool_reports

    def kg_upper(n: float, df: float) -> float:
        n_star = min(n * (stats.t.ppf(0.975, n - 1) / stats.t.ppf(0.975, df)) ** 2, n)
        return float(1 - 0.025 ** (1 / n_star))

    cse = "commercial_sexual_exploitation"
    for report, region in ((moldova, "East"), (georgia, "Caucasus")):
        nat = _national(report, "trafficked_by_form", "share").loc[cse]
        assert nat["estimate"] == 0 and nat["ci_flag"] == "p=0: one-sided interval (NCHS)"
        reg = both.table("trafficked_by_form", "region")
        row = reg[(reg["region"] == region) & (reg["quantity"] == "share")
                  & (reg["component"] == cse)].iloc[0]
        assert row["ci_low"] == 0
        assert row["ci_high"] == pytest.approx(nat["ci_high"], rel=1e-12)
        assert row["ci_high"] == pytest.approx(kg_upper(nat["n"], nat["df"]), rel=1e-9)
    world = _world(both, "trafficked_by_form", "share").loc[cse]
    assert world["ci_high"] == pytest.approx(kg_upper(35 + 16, 26 + 8), rel=1e-9)
    assert world["ci_high"] == pytest.approx(0.0713718739, abs=1e-9)
    assert "n = 51 sample cases (trafficked) and df = 34" in world["method"]
    pooled = pool_reports({"MDA": moldova, "GEO": georgia}, disclosure="none",
                          lonely_psu="adjust").to_frame()
    same = pooled[(pooled["table"] == "trafficked_by_form") & (pooled["by"] == "national")
                  & (pooled["indicator"] == cse)].iloc[0]
    assert world["ci_high"] == pytest.approx(same["ci_high"], rel=1e-12)


def test_zero_share_without_cases_keeps_no_upper_end() -> None:
    """Plain tables without ``n`` / ``n_cases`` / ``df``: a pooled share of 0 with SE 0 cannot
    get a Korn-Graubard interval; it keeps [0, NaN] with the flag saying why."""
    def national(cse: float) -> pd.DataFrame:
        rows = [("prevalence", "number", i, 10.0, 1.0) for i in (
            "forced_labour", "trafficked", "forced_labour_not_trafficked", "undetermined")]
        rows += [("prevalence", "number", f"form_{f}", 2.5, 1.0) for f in FORMS]
        shares_ = [0.0, 0.5, 0.25, 0.25]
        rows += [(t, "share", f, v, 0.0 if v == 0 else 0.05)
                 for t in ("trafficked_by_form", "forced_labour_by_form")
                 for f, v in zip(FORMS, shares_, strict=True)]
        return pd.DataFrame(rows, columns=["table", "measure", "indicator", "estimate", "se"])

    b = from_reports({"x": national(0.0), "y": national(0.0)})
    row = _world(b, "trafficked_by_form", "share").loc["state_imposed"]
    assert row["estimate"] == 0 and row["ci_low"] == 0 and np.isnan(row["ci_high"])
    assert "no sample cases" in row["ci_flag"]


def test_pool_is_labelled_by_what_it_is(moldova: PrevalenceReport,
                                        georgia: PrevalenceReport) -> None:
    """The displays name the top level by the surveys it pools, never "world": one survey
    "(survey: MDA)", two "(pooled: MDA, GEO)", seven and more "(pooled: all 7 surveys)"; the
    regional tables' top row reads "all regions"."""
    one = from_reports({"MDA": moldova}, disclosure="none")
    assert one.pool_label == "survey: MDA"
    assert "trafficked_by_form (survey: MDA):" in repr(one)
    two = from_reports({"MDA": moldova, "GEO": georgia}, disclosure="none",
                       region={"MDA": "East", "GEO": "Caucasus"})
    assert two.pool_label == "pooled: MDA, GEO"
    for text in (repr(two), two.summary(), two._repr_html_()):
        assert "(world)" not in text
        assert "(pooled: MDA, GEO)" in text
    assert "by_region (pooled: MDA, GEO):" in two.summary()
    assert "all regions" in two.summary() and "World" not in two.summary()
    # the data keep the level name "world" (the top level of the table)
    assert set(two.to_frame()["level"]) == {"country", "region", "world"}
    many = from_reports({f"c{i}": moldova for i in range(7)}, disclosure="none")
    assert many.pool_label == "pooled: all 7 surveys"


def test_inputs_as_list_and_as_tidy_frames(moldova: PrevalenceReport,
                                           georgia: PrevalenceReport) -> None:
    """A list of reports takes its ids from provenance['source']; the reports' tidy tables (a
    mapping of DataFrames, or one DataFrame with a 'unit' column) give the same breakdown."""
    a = from_reports([moldova, georgia], disclosure="none")
    assert a.provenance["units"] == (str(moldova.provenance["source"]),
                                     str(georgia.provenance["source"]))
    b = from_reports({"m": moldova.to_frame(), "g": georgia.to_frame()},
                     disclosure="none")
    one = pd.concat([moldova.to_frame().assign(unit="m"), georgia.to_frame().assign(unit="g")])
    c = from_reports(one, disclosure="none")
    cols = ["estimate", "se"]
    wa, wb, wc = (x.table("trafficked_by_form") for x in (a, b, c))
    np.testing.assert_allclose(wa[cols], wb[cols], rtol=1e-14)
    np.testing.assert_allclose(wb[cols], wc[cols], rtol=1e-14)


def test_population_weights(moldova: PrevalenceReport) -> None:
    """``weights='population'``: each total is the report's share times the given population,
    with se P x se(share)."""
    b = from_reports({"m": moldova}, weights="population", population={"m": 1e6},
                     disclosure="none")
    share = _national(moldova, "prevalence", "share").loc["forced_labour"]
    got = _world(b, "totals", "persons").loc["forced_labour"]
    assert got["estimate"] == pytest.approx(1e6 * share["estimate"])
    assert got["se"] == pytest.approx(1e6 * share["se"])


def test_from_reports_errors(moldova: PrevalenceReport) -> None:
    """A table lacking an indicator names the country and the indicator; missing ids in
    ``population``; population weights without populations; bad ``weights``."""
    t = moldova.to_frame()
    broken = t[~((t["table"] == "trafficked_by_form") & (t["indicator"] == "state_imposed"))]
    with pytest.raises(DataError, match=r"'md'.*'state_imposed'.*trafficked_by_form"):
        from_reports({"md": broken})
    with pytest.raises(DataError, match=r"`population`.*'m'"):
        from_reports({"m": moldova}, population={"x": 1.0})
    with pytest.raises(DataError, match=r"`population`.*>= 0.*'m'"):
        from_reports({"m": moldova}, population={"m": -1.0})
    with pytest.raises(ArgumentError, match="needs `population`"):
        from_reports({"m": moldova}, weights="population")
    with pytest.raises(ArgumentError, match="`weights` of `from_reports\\(\\)` must be one of"):
        from_reports({"m": moldova}, weights="equal")
    with pytest.raises(ArgumentTypeError):
        from_reports({"m": 3})
    with pytest.raises(DataError, match="empty"):
        from_reports({})


def test_survey_breakdown_beside_ilo2005(moldova: PrevalenceReport,
                                         georgia: PrevalenceReport) -> None:
    """The shipped synthetic surveys beside ILO 2005 (Belser et al. 2005: trafficked by form
    43 / 32 / 25%): the pooled survey puts 38.0% (25.6-52.3%) of the trafficked in the mixed or
    undetermined form, so the published 25% lies just outside; the survey's commercial sexual
    exploitation share is 0 with the one-sided interval [0, 7.14%] (Korn-Graubard at 51
    trafficked cases and 34 df, as the pooled design gives it), so the published 43% is
    outside it (False, no longer NA)."""
    from flestimate.global_estimates import compare, reproduce

    out = compare(from_reports({"moldova": moldova, "georgia": georgia}, disclosure="none"),
                  reproduce("ilo2005"))
    tr = out[(out["table"] == "trafficked_by_form") & (out["quantity"] == "share")]
    tr = tr.set_index("component")
    assert tr.loc["mixed_undetermined", "published"] == pytest.approx(0.25)
    mixed = tr.loc["mixed_undetermined"]
    assert (mixed["survey"], mixed["survey_ci_low"], mixed["survey_ci_high"]) == pytest.approx(
        (0.380241, 0.255863, 0.522618), abs=5e-7)
    assert not bool(mixed["published_in_ci"])
    cse = tr.loc["commercial_sexual_exploitation"]
    assert (cse["survey"], cse["survey_ci_low"]) == (0, 0)
    assert cse["survey_ci_high"] == pytest.approx(0.0713718739, abs=1e-9)
    assert cse["survey_ci_flag"] == "p=0: one-sided interval (NCHS)"
    assert not pd.isna(cse["published_in_ci"]) and not bool(cse["published_in_ci"])
    assert not bool(tr.loc["economic_exploitation", "published_in_ci"])
    assert pd.isna(tr.loc["state_imposed", "published"])


def test_from_reports_and_pool_reports_judge_alike(moldova: PrevalenceReport,
                                                   georgia: PrevalenceReport) -> None:
    """The same pooled figure gets the same reliability verdict from the independent-totals
    breakdown and from the pooled design (NCHS 2017: state-imposed suppressed, commercial
    sexual exploitation 0 flagged, economic exploitation and mixed presented), and the
    disclosure rule blanks the world's state-imposed trafficked (1 + 1 cases < 3) and its
    complement in the breakdown as in the pooled report."""
    from flestimate.report import pool_reports

    b = from_reports({"MDA": moldova, "GEO": georgia}, disclosure="none")
    p = pool_reports({"MDA": moldova, "GEO": georgia}, disclosure="none",
                     lonely_psu="adjust").to_frame()
    for table in ("trafficked_by_form", "forced_labour_by_form"):
        world = b.table(table, "world")
        world = world[(world["quantity"] == "share") & (world["component"] != "total")]
        nat = p[(p["table"] == table) & (p["by"] == "national")].set_index("indicator")
        assert dict(zip(world["component"], world["reliability"], strict=True)) == \
            nat.loc[list(world["component"]), "reliability"].to_dict()
    guarded = from_reports({"MDA": moldova, "GEO": georgia})
    w = guarded.table("trafficked_by_form", "world").set_index(["component", "quantity"])
    assert w.loc[("state_imposed", "share"), "disclosure"] == "primary"
    assert np.isnan(w.loc[("state_imposed", "share"), "estimate"])
    assert (w["disclosure"] == "secondary").any()
    assert guarded.provenance["disclosure"]["threshold"] == 3
    assert "disclosure control: threshold rule" in repr(guarded)
