"""Network scale-up estimators (flestimate.nsum): hand-worked examples of the papers'
formulas, metamorphic properties, the bootstrap against a hand loop, domains, missing counts,
disclosure and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flestimate
from flestimate import ReplicateDesign, SurveyDesign, nsum
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, EstimationError

KNOWN = {"a": 100.0, "b": 50.0}
N = 1000.0


def _table() -> pd.DataFrame:
    """Four respondents: counts of two known populations (a: 100, b: 50 people), of the
    hidden population h, weights w and a region."""
    return pd.DataFrame({"a": [3, 1, 6, 0], "b": [0, 2, 3, 0], "h": [1, 0, 2, 0],
                         "w": [1.0, 2.0, 1.0, 1.0], "region": ["x", "x", "y", "y"]})


def _row(result: nsum.ScaleUpResult, level: str = "all", hidden: str = "h") -> pd.Series:
    t = result.to_frame()
    return t[(t["level"] == level) & (t["hidden"] == hidden)].iloc[0]


# -- hand-worked examples ---------------------------------------------------------------------
def test_known_population_degrees_by_hand() -> None:
    """Killworth et al. (1998) known-population degrees, by hand: d_i = N sum_k y_ik / N_K
    with N = 1000, N_K = 150: counts (3, 3, 9, 0) give (20, 20, 60, 0) (R networkreporting
    kp.individual.estimator(alter.popn.size=1000, total.kp.size=150))."""
    d = nsum.known_population_degrees(_table(), KNOWN, N, weights="w")
    np.testing.assert_allclose(d, [20.0, 20.0, 60.0, 0.0], rtol=1e-12)


def test_basic_estimator_by_hand() -> None:
    """Killworth et al. (1998) basic estimator, hand-worked: degrees (20, 20, 60, 0), weights
    (1, 2, 1, 1), hidden counts (1, 0, 2, 0): sum w y = 3, sum w d = 120, N_H = 1000 * 3 /
    120 = 25 (R networkreporting nsum.estimator(d.hat.vals='d', y.vals='h',
    total.popn.size=1000, weights='w')); with deg.ratio 0.5 and tx.rate 0.6: 25 / 0.3."""
    r = nsum.scale_up(_table(), "h", KNOWN, N, weights="w", replicates=20, seed=1,
                      disclosure="none")
    row = _row(r)
    assert row["estimate"] == pytest.approx(25.0, rel=1e-12)
    assert row["mean_degree"] == pytest.approx(24.0, rel=1e-12)  # 120 / 5
    assert row["prevalence"] == pytest.approx(0.025, rel=1e-12)
    assert row["n"] == 4 and row["n_reporting"] == 2
    adj = nsum.scale_up(_table(), "h", KNOWN, N, weights="w", degree_ratio=0.5,
                        transmission=0.6, replicates=20, seed=1, disclosure="none")
    assert _row(adj)["estimate"] == pytest.approx(25.0 / 0.3, rel=1e-12)


def test_basic_estimator_unweighted_by_hand() -> None:
    """Killworth et al. (1998) basic estimator with equal weights, by hand: sum y = 3, sum d =
    100, N_H = 1000 * 3 / 100 = 30."""
    r = nsum.scale_up(_table(), "h", KNOWN, N, replicates=20, seed=1, disclosure="none")
    assert _row(r)["estimate"] == pytest.approx(30.0, rel=1e-12)


def test_generalized_estimator_by_hand() -> None:
    """Feehan and Salganik (2016) generalized estimator, eq. 9 with the visibility estimator
    of their section 2.1, by hand: out-reports y_{F,H} = N sum w y / sum w = 1000 * 3 / 5 =
    600; hidden sample in-reports about a (2, 0, 1) and b (1, 1, 0), so v = (3, 1, 1), weights
    (1, 1, 2): vbar = (N / N_A) sum w v / sum w = (1000 / 150) * 6 / 4 = 10; N_H = 600 / 10 =
    60."""
    hs = pd.DataFrame({"in_a": [2, 0, 1], "in_b": [1, 1, 0], "wh": [1.0, 1.0, 2.0]})
    r = nsum.scale_up(_table(), "h", KNOWN, N, "generalized", weights="w", hidden_sample=hs,
                      hidden_reports={"a": "in_a", "b": "in_b"}, hidden_weights="wh",
                      replicates=20, seed=1, disclosure="none")
    assert _row(r)["estimate"] == pytest.approx(60.0, rel=1e-12)
    assert r.provenance["visibility"] == pytest.approx(10.0, rel=1e-12)
    given = nsum.scale_up(_table(), "h", KNOWN, N, "generalized", weights="w", visibility=10,
                          replicates=20, seed=1, disclosure="none")
    assert _row(given)["estimate"] == pytest.approx(60.0, rel=1e-12)
    as_list = nsum.scale_up(_table(), "h", KNOWN, N, "generalized", weights="w",
                            hidden_sample=hs, hidden_reports=["in_a", "in_b"],
                            hidden_weights="wh", replicates=20, seed=1, disclosure="none")
    assert _row(as_list)["estimate"] == pytest.approx(60.0, rel=1e-12)


def test_generalized_equals_basic_when_visibility_is_the_mean_degree() -> None:
    """Feehan and Salganik (2016), section 3: with degree ratio = transmission = 1 and the
    visibility equal to the frame's average degree (24 here, by hand), the generalized
    estimator is the basic one (25)."""
    frame = _table()
    basic = nsum.scale_up(frame, "h", KNOWN, N, weights="w", replicates=30, seed=3,
                          disclosure="none")
    mean_degree = float(_row(basic)["mean_degree"])
    gen = nsum.scale_up(frame, "h", KNOWN, N, "generalized", weights="w",
                        visibility=mean_degree, replicates=30, seed=3, disclosure="none")
    assert _row(gen)["estimate"] == pytest.approx(_row(basic)["estimate"], rel=1e-12)


def test_leave_one_out_check_by_hand() -> None:
    """R networkreporting nsum.internal.consistency (kp.method=TRUE) by hand: weights (1, 2,
    1, 1); leaving a out, d_i = 1000 y_ib / 50 = (0, 40, 60, 0), sum w d = 140, Nhat_a = 1000
    * 11 / 140 = 550/7; leaving b out, d_i = 10 y_ia, sum w d = 110, Nhat_b = 1000 * 7 / 110
    = 700/11; rmse, mae and are as estimate.error."""
    check = nsum.internal_validation(_table(), KNOWN, N, weights="w", replicates=20, seed=1)
    t = check.to_frame()
    est = np.array([550 / 7, 700 / 11])
    np.testing.assert_allclose(t["estimate"], est, rtol=1e-12)
    err = est - np.array([100.0, 50.0])
    np.testing.assert_allclose(t["ratio"], est / [100.0, 50.0], rtol=1e-12)
    assert check.rmse == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-12)
    assert check.mae == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
    assert check.are == pytest.approx(np.mean(np.abs(err) / [100.0, 50.0]), rel=1e-12)
    r = nsum.scale_up(_table(), "h", KNOWN, N, weights="w", replicates=20, seed=1)
    pd.testing.assert_frame_equal(r.known_population_check().to_frame(), t)


# -- properties ---------------------------------------------------------------------------------
_frames = st.integers(min_value=4, max_value=30).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 9), min_size=n, max_size=n),
    st.lists(st.integers(1, 9), min_size=n, max_size=n),
    st.lists(st.integers(0, 3), min_size=n, max_size=n),
    st.lists(st.floats(0.5, 20.0), min_size=n, max_size=n)))


def _frame_of(values: tuple[list[int], ...]) -> pd.DataFrame:
    a, b, h, w = values
    return pd.DataFrame({"a": a, "b": b, "h": h, "w": w,
                         "region": ["x", "y"] * (len(a) // 2) + ["x"] * (len(a) % 2)})


@settings(max_examples=25)
@given(_frames, st.floats(0.01, 1000.0))
def test_scaling_the_weights_changes_nothing(values: tuple[list[int], ...], c: float) -> None:
    """Metamorphic: both estimators are ratios of weighted totals (Killworth 1998; Feehan and
    Salganik 2016 with the Hajek out-reports), so weights times c give the same estimates."""
    frame = _frame_of(values)
    scaled = frame.assign(w=frame["w"] * c)
    for method, extra in (("basic", {}), ("generalized", {"visibility": 7.0})):
        one = nsum.scale_up(frame, "h", KNOWN, N, method, weights="w", by="region",
                            replicates=5, seed=2, **extra).to_frame()
        two = nsum.scale_up(scaled, "h", KNOWN, N, method, weights="w", by="region",
                            replicates=5, seed=2, **extra).to_frame()
        np.testing.assert_allclose(two["estimate"], one["estimate"], rtol=1e-10)


@settings(max_examples=25)
@given(_frames)
def test_duplicating_every_row_changes_nothing(values: tuple[list[int], ...]) -> None:
    """Metamorphic: every row twice doubles both totals of the ratio (Killworth 1998)."""
    frame = _frame_of(values)
    double = pd.concat([frame, frame], ignore_index=True)
    one = nsum.scale_up(frame, "h", KNOWN, N, weights="w", replicates=5, seed=2,
                        disclosure="none")
    two = nsum.scale_up(double, "h", KNOWN, N, weights="w", replicates=5, seed=2,
                        disclosure="none")
    assert _row(two)["estimate"] == pytest.approx(_row(one)["estimate"], rel=1e-10,
                                                  nan_ok=True)


@settings(max_examples=25)
@given(_frames)
def test_a_known_column_as_hidden_gives_its_size(values: tuple[list[int], ...]) -> None:
    """Killworth (1998) identity: with one known population k, N sum w y_k / sum w (N y_k /
    N_k) = N_k whenever someone knows a member of k."""
    frame = _frame_of(values)
    frame["copy_b"] = frame["b"]
    r = nsum.scale_up(frame, "copy_b", {"b": 50.0}, N, weights="w", replicates=5, seed=2,
                      disclosure="none")
    assert _row(r, hidden="copy_b")["estimate"] == pytest.approx(50.0, rel=1e-12)


# -- variance -------------------------------------------------------------------------------------
def _survey(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame({"a": rng.poisson(2, n), "b": rng.poisson(1, n),
                         "h": rng.poisson(0.4, n), "w": rng.uniform(1, 4, n),
                         "stratum": np.repeat([1, 2], n // 2), "psu": np.repeat(np.arange(16),
                                                                                 n // 16),
                         "region": rng.choice(["x", "y", "z"], n)})


def test_bootstrap_is_deterministic_given_the_seed() -> None:
    """Rule 6 of the architecture: the same seed gives the same replicates and SEs."""
    des = SurveyDesign(_survey(), weights="w", strata="stratum", psu="psu")
    one = nsum.scale_up(des, "h", KNOWN, N, replicates=50, seed=9).to_frame()
    two = nsum.scale_up(des, "h", KNOWN, N, replicates=50, seed=9).to_frame()
    pd.testing.assert_frame_equal(one, two)
    other = nsum.scale_up(des, "h", KNOWN, N, replicates=50, seed=10).to_frame()
    assert other["se"].iloc[0] != one["se"].iloc[0]


def _hand_basic(frame: pd.DataFrame, w: np.ndarray) -> float:
    d = N * (frame["a"] + frame["b"]).to_numpy(float) / 150.0
    return float(N * np.sum(w * frame["h"]) / np.sum(w * d))


def test_se_against_a_hand_loop_over_the_replicates() -> None:
    """The SE is R svrVar's over the rescaled bootstrap (R as.svrepdesign(type=
    "subbootstrap"), flestimate's SurveyDesign.to_replicate with the same generator): a hand
    loop over 6 replicates recomputes the basic estimate with each replicate's weights;
    variance sum_r (theta_r - mean)^2 / (R - 1)."""
    frame = _survey()
    des = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    rep = des.to_replicate("subbootstrap", 6, np.random.default_rng(4))
    full = rep.replicate_weights().to_numpy()
    theta = np.array([_hand_basic(frame, full[:, r]) for r in range(6)])
    r = nsum.scale_up(des, "h", KNOWN, N, replicates=6, seed=4)
    assert _row(r)["se"] == pytest.approx(np.sqrt(np.var(theta, ddof=1)), rel=1e-10)
    assert _row(r)["estimate"] == pytest.approx(_hand_basic(frame, frame["w"].to_numpy()),
                                                rel=1e-12)


def test_replicate_design_uses_its_own_replicates() -> None:
    """A ReplicateDesign's own replicate weights and scale (R svrVar): JK1 by hand, scale
    (R - 1)/R, 16 delete-one-PSU replicates."""
    frame = _survey()
    rep = SurveyDesign(frame, weights="w", psu="psu").to_replicate("jk1")
    full = rep.replicate_weights().to_numpy()
    theta = np.array([_hand_basic(frame, full[:, r]) for r in range(full.shape[1])])
    var = (len(theta) - 1) / len(theta) * np.sum((theta - theta.mean()) ** 2)
    r = nsum.scale_up(rep, "h", KNOWN, N, seed=1)
    assert _row(r)["se"] == pytest.approx(np.sqrt(var), rel=1e-10)
    assert r.provenance["replicates"] == 16
    with pytest.raises(ArgumentError, match="bootstrap replicates"):
        nsum.scale_up(rep, "h", KNOWN, N, ci="percentile")


def test_generalized_se_adds_the_hidden_sample_bootstrap() -> None:
    """Feehan and Salganik (2016): the frame and hidden samples are independent; the
    variance is the survey's rescaled-bootstrap variance at the estimated visibility plus
    the with-replacement bootstrap variance of the hidden sample at the full-sample
    out-reports (hand loop, the same generator: the survey's draws first)."""
    frame = _survey()
    des = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    hs = pd.DataFrame({"a": [3, 1, 0, 2, 5, 1], "b": [1, 0, 2, 1, 0, 1]})
    r = nsum.scale_up(des, "h", KNOWN, N, "generalized", hidden_sample=hs, replicates=7,
                      seed=5)
    rng = np.random.default_rng(5)
    full = des.to_replicate("subbootstrap", 7, rng).replicate_weights().to_numpy()
    v = (hs["a"] + hs["b"]).to_numpy(float)
    vbar = N / 150.0 * v.mean()
    counts = rng.multinomial(6, np.full(6, 1 / 6), size=7)
    y = frame["h"].to_numpy(float)
    w = frame["w"].to_numpy()
    survey = [N * np.sum(full[:, k] * y) / np.sum(full[:, k]) / vbar for k in range(7)]
    hidden = [N * np.sum(w * y) / np.sum(w) / (N / 150.0 * np.sum(counts[k] * v) / 6)
              for k in range(7)]
    se = np.sqrt(np.var(survey, ddof=1) + np.var(hidden, ddof=1))
    assert _row(r)["se"] == pytest.approx(se, rel=1e-10)


def test_log_and_percentile_intervals() -> None:
    """The log-scale Wald interval est * exp(+-1.959964 se / est) (the estimate is positive
    and skewed); the percentile interval lies around the estimate."""
    des = SurveyDesign(_survey(), weights="w", strata="stratum", psu="psu")
    row = _row(nsum.scale_up(des, "h", KNOWN, N, replicates=100, seed=1))
    z = 1.959963984540054
    assert row["ci_low"] == pytest.approx(row["estimate"] * np.exp(-z * row["se"] /
                                                                  row["estimate"]), rel=1e-12)
    assert row["ci_high"] == pytest.approx(row["estimate"] * np.exp(z * row["se"] /
                                                                   row["estimate"]), rel=1e-12)
    pct = _row(nsum.scale_up(des, "h", KNOWN, N, replicates=100, seed=1, ci="percentile"))
    assert pct["ci_low"] < pct["estimate"] < pct["ci_high"]


# -- domains, missing counts, disclosure ------------------------------------------------------
def test_domains_with_given_and_estimated_sizes() -> None:
    """A domain's basic estimate, by hand: region x (rows 1-2): N_x sum w y / sum w d = 400 *
    1 / 60; region y (rows 3-4): 600 * 2 / 60. Without sizes, N_d = N W_d / W: 1000 * 3/5 and
    1000 * 2/5."""
    given_sizes = nsum.scale_up(_table(), "h", KNOWN, {"x": 400, "y": 600}, weights="w",
                                by="region", replicates=20, seed=1, disclosure="none")
    assert _row(given_sizes, "x")["estimate"] == pytest.approx(400 / 60, rel=1e-12)
    assert _row(given_sizes, "y")["estimate"] == pytest.approx(1200 / 60, rel=1e-12)
    assert _row(given_sizes)["estimate"] == pytest.approx(25.0, rel=1e-12)  # N = 1000
    shares = nsum.scale_up(_table(), "h", KNOWN, N, weights="w", by="region", replicates=20,
                           seed=1, disclosure="none")
    assert _row(shares, "x")["estimate"] == pytest.approx(600 / 60, rel=1e-12)
    assert _row(shares, "x")["population"] == pytest.approx(600.0, rel=1e-12)
    t = shares.to_frame()
    assert list(t["by"]) == ["national", "region", "region"]
    assert list(t["level"]) == ["all", "x", "y"]


def test_missing_counts_are_left_out_and_counted() -> None:
    """A missing hidden count drops the respondent from that column only; a missing known
    count drops it from the degrees (complete cases, R's complete.obs); both are counted."""
    frame = _table().assign(h2=[np.nan, 0, 2, 0])
    frame.loc[3, "a"] = np.nan
    r = nsum.scale_up(frame, ["h", "h2"], KNOWN, N, weights="w", replicates=20, seed=1,
                      disclosure="none")
    assert _row(r)["n"] == 3 and _row(r)["n_missing"] == 1
    assert _row(r, hidden="h2")["n"] == 2 and _row(r, hidden="h2")["n_missing"] == 2
    # rows 1-3 with degrees 20, 20, 60: 1000 * 3 / 120
    assert _row(r)["estimate"] == pytest.approx(25.0, rel=1e-12)
    assert _row(r, hidden="h2")["estimate"] == pytest.approx(1000 * 2 / 100, rel=1e-12)
    assert r.provenance["n_missing_hidden"] == {"h": 0, "h2": 1}
    assert r.provenance["n_missing_known"] == 1


def test_disclosure_blanks_cells_of_few_reporting_respondents() -> None:
    """flestimate.disclosure's threshold rule (3 respondents): region x has one respondent
    reporting a contact, so its estimate is blanked; disclosure='none' shows it."""
    r = nsum.scale_up(_table(), "h", KNOWN, N, weights="w", by="region", replicates=20,
                      seed=1)
    x = _row(r, "x")
    assert np.isnan(x["estimate"]) and np.isnan(x["se"]) and x["disclosure"] == "primary"
    assert pd.isna(x["n_reporting"])
    shown = nsum.scale_up(_table(), "h", KNOWN, N, weights="w", by="region", replicates=20,
                          seed=1, disclosure="none")
    assert np.isfinite(_row(shown, "x")["estimate"])


def test_result_is_immutable_with_displays() -> None:
    r = nsum.scale_up(_table(), "h", KNOWN, N, weights="w", replicates=20, seed=1)
    with pytest.raises(AttributeError, match="immutable"):
        r.provenance = {}  # type: ignore[misc]
    assert "ScaleUpResult" in repr(r) and "Formula" in r.summary()
    assert "<table" in r._repr_html_()
    assert list(r.to_frame().columns[:10]) == ["hidden", "by", "level", "estimate", "se",
                                                "ci_low", "ci_high", "n", "mean_degree",
                                                "method"]


def test_lazy_attribute() -> None:
    assert flestimate.nsum is nsum  # type: ignore[attr-defined]


# -- bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "kwargs", "error", "match"), [
    ({"h": [1, -1, 0, 0]}, {}, DataError, "negative"),
    ({"h": [1, 2.5, 0, 0]}, {}, DataError, "non-integer"),
    ({"h": [1, np.inf, 0, 0]}, {}, DataError, "infinite"),
    ({"h": ["1", "x", "0", "0"]}, {}, DataError, "non-numeric"),
    ({"h": [True, False, False, False]}, {}, DataError, "boolean"),
    ({"a": [3, 1, 999, 0]}, {}, DataError, "above the population's size"),
    ({}, {"hidden": "nope"}, DataError, "'nope'"),
    ({}, {"known": {"a": 100, "zz": 5}}, DataError, "'zz'"),
    ({}, {"known": {"a": 0}}, ArgumentError, "known"),
    ({}, {"known": {"a": 1000}}, ArgumentError, "below the frame"),
    ({}, {"known": {}}, ArgumentError, "at least one"),
    ({}, {"known": ["a"]}, ArgumentTypeError, "mapping"),
    ({}, {"total": 0}, ArgumentError, "total"),
    ({}, {"total": True}, ArgumentTypeError, "total"),
    ({}, {"total": {"x": 400}}, ArgumentError, "no `by=`"),
    ({}, {"by": "region", "total": {"x": 400}}, ArgumentError, "no size"),
    ({}, {"by": "region", "total": {"x": 400, "y": 500, "q": 5}}, DataError,
     "without respondents"),
    ({}, {"degree_ratio": 0}, ArgumentError, "degree_ratio"),
    ({}, {"transmission": 1.5}, ArgumentError, "transmission"),
    ({}, {"degree_ratio": True}, ArgumentTypeError, "degree_ratio"),
    ({}, {"method": "killworth"}, ArgumentError, "method"),
    ({}, {"visibility": 3}, ArgumentError, "generalized"),
    ({}, {"method": "generalized"}, ArgumentError, "exactly one"),
    ({}, {"method": "generalized", "visibility": 3, "degree_ratio": 0.5}, ArgumentError,
     "apply to method='basic'"),
    ({}, {"method": "generalized", "visibility": -3}, ArgumentError, "visibility"),
    ({}, {"replicates": 1}, ArgumentError, "replicates"),
    ({}, {"seed": 1.5}, ArgumentTypeError, "seed"),
    ({}, {"level": 95}, ArgumentError, "level"),
    ({}, {"ci": "wald"}, ArgumentError, "ci"),
    ({}, {"weights": "nope"}, DataError, "nope"),
    ({}, {"disclosure": "strict"}, ArgumentError, "disclosure"),
    ({}, {"replicate": 5}, ArgumentTypeError, "did you mean 'replicates'"),
])
def test_bad_input(change: dict, kwargs: dict, error: type, match: str) -> None:
    frame = _table().assign(**change)
    args = {"hidden": "h", "known": KNOWN, "total": N, "weights": "w", "replicates": 5,
            **kwargs}
    with pytest.raises(error, match=match):
        nsum.scale_up(frame, **args)


def test_bad_hidden_sample() -> None:
    hs = pd.DataFrame({"a": [1, 2, np.nan], "b": [0, 1, 1], "wh": [1.0, 0.0, 1.0]})
    base = {"weights": "w", "method": "generalized", "replicates": 5}
    with pytest.raises(DataError, match="hidden_weights"):
        nsum.scale_up(_table(), "h", KNOWN, N, hidden_sample=hs, hidden_weights="wh", **base)
    with pytest.raises(DataError, match="at least 2 respondents"):
        nsum.scale_up(_table(), "h", KNOWN, N, hidden_sample=hs.iloc[1:], **base)
    with pytest.raises(ArgumentError, match="hidden_reports"):
        nsum.scale_up(_table(), "h", KNOWN, N, hidden_sample=hs, hidden_reports={"zz": "a"},
                      **base)
    with pytest.raises(ArgumentTypeError, match="hidden_sample"):
        nsum.scale_up(_table(), "h", KNOWN, N, hidden_sample=[1, 2], **base)


def test_too_few_known_populations_for_the_check() -> None:
    r = nsum.scale_up(_table(), "h", {"a": 100}, N, weights="w", replicates=5)
    with pytest.raises(EstimationError, match="at least two"):
        r.known_population_check()
    with pytest.raises(ArgumentError, match="at least two"):
        nsum.internal_validation(_table(), {"a": 100}, N, weights="w")


def test_replicate_design_input() -> None:
    """A ReplicateDesign given with weights= is an error (it has its own)."""
    frame = _survey()
    rep = ReplicateDesign(frame.assign(r1=frame["w"], r2=frame["w"] * 1.1), "w", ["r1", "r2"],
                          "bootstrap")
    with pytest.raises(ArgumentError, match="weights"):
        nsum.scale_up(rep, "h", KNOWN, N, weights="w")
