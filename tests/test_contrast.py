"""Covariances and contrasts of estimates (``Estimates.vcov``, ``contrast``, ``difference``):
metamorphic checks and errors; the numbers against R are in
``tests/reference/test_contrast_reference.py``.

References: the covariance of two estimates is the variance identity
``var(a - b) = var(a) + var(b) - 2 cov(a, b)``; a difference of an estimate with itself is 0
with SE 0 (issue 18); a linear contrast by a vector equals the same by keys; the delta method of
``a / b`` has the gradient ``(1/b, -a/b^2)`` (worked by hand below).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flestimate import SurveyDesign
from flestimate.errors import ArgumentError, ArgumentTypeError
from tests.conftest import load_api, small_design_frame


@pytest.fixture(scope="module")
def design() -> SurveyDesign:
    return SurveyDesign(load_api("apiclus1"), weights="pw", psu="dnum", fpc="fpc")


def test_difference_with_itself_is_zero_with_se_zero(design: SurveyDesign) -> None:
    est = design.mean("api00", by="stype", covmat=True)
    d = est.difference("E", "E").to_frame().iloc[0]
    assert d["estimate"] == 0.0 and d["se"] == 0.0 and np.isnan(d["p_value"])


def test_difference_is_the_variance_identity(design: SurveyDesign) -> None:
    """SE(a - b)^2 = V_aa + V_bb - 2 V_ab, from the same estimator call; t = est / se and the
    p-value is two-sided t on the smaller df."""
    from scipy import stats

    est = design.mean("api00", by="stype", covmat=True)
    v = est.vcov().to_numpy()
    t = est.to_frame().set_index("stype")
    d = est.difference("H", "M").to_frame().iloc[0]
    h, m = 1, 2
    assert d["estimate"] == pytest.approx(t.loc["H", "estimate"] - t.loc["M", "estimate"],
                                          rel=1e-14)
    assert d["se"] ** 2 == pytest.approx(v[h, h] + v[m, m] - 2 * v[h, m], rel=1e-12)
    df = min(t.loc["H", "df"], t.loc["M", "df"])
    assert d["df"] == df
    assert d["p_value"] == pytest.approx(2 * stats.t.sf(abs(d["estimate"] / d["se"]), df),
                                         rel=1e-12)
    q = stats.t.ppf(0.975, df)
    assert d["ci_low"] == pytest.approx(d["estimate"] - q * d["se"], rel=1e-12)


def test_vector_keys_and_function_give_the_same_linear_contrast(design: SurveyDesign) -> None:
    est = design.mean(["api00", "api99"])
    by_key = est.contrast({"api00": 2, "api99": -1}).to_frame().iloc[0]
    by_vector = est.contrast([2, -1]).to_frame().iloc[0]
    by_function = est.contrast(lambda e: 2 * e["api00"] - e["api99"]).to_frame().iloc[0]
    for other in (by_vector, by_function):
        assert other["estimate"] == pytest.approx(by_key["estimate"], rel=1e-13)
        assert other["se"] == pytest.approx(by_key["se"], rel=1e-12)


def test_ratio_by_the_delta_method_by_hand(design: SurveyDesign) -> None:
    """g = a / b: grad = (1/b, -a/b^2), var = grad' V grad."""
    est = design.mean(["api00", "api99"])
    a, b = est.to_frame()["estimate"]
    v = est.vcov().to_numpy()
    g = np.array([1 / b, -a / b**2])
    r = est.contrast(lambda e: e["api00"] / e["api99"]).to_frame().iloc[0]
    assert r["estimate"] == pytest.approx(a / b, rel=1e-14)
    assert r["se"] == pytest.approx(np.sqrt(g @ v @ g), rel=1e-12)


def test_vcov_is_the_estimators_variance_and_symmetric(design: SurveyDesign) -> None:
    """The diagonal of vcov() is the SE the estimator reports, for every estimator and both
    kinds of design; the matrix is symmetric."""
    for est in (design.proportion("stype"), design.total("api00", by="stype", covmat=True),
                design.ratio("api00", "api99", by="stype", covmat=True),
                design.to_replicate("jk1").mean("api00", by="stype", covmat=True)):
        v = est.vcov().to_numpy()
        np.testing.assert_allclose(v, v.T, rtol=0, atol=1e-12 * np.abs(v).max())
        np.testing.assert_allclose(np.sqrt(np.diag(v)), est.to_frame()["se"], rtol=1e-12)


def test_between_domains_needs_covmat(design: SurveyDesign) -> None:
    est = design.mean(["api00", "api99"], by="stype")
    with pytest.raises(ArgumentError, match=r"covmat=True"):
        est.vcov()
    with pytest.raises(ArgumentError, match=r"`contrast\(\)` needs the covariances between "
                                            r"domains: call the estimator with covmat=True"):
        est.difference(("E", "api00"), ("H", "api00"))
    # within a domain the blocks are enough
    d = est.difference(("E", "api00"), ("E", "api99")).to_frame().iloc[0]
    full = design.mean(["api00", "api99"], by="stype", covmat=True)
    ref = full.difference(("E", "api00"), ("E", "api99")).to_frame().iloc[0]
    assert d["se"] == pytest.approx(ref["se"], rel=1e-12)


def test_bad_contrasts_are_clear_errors(design: SurveyDesign) -> None:
    est = design.mean("api00", by="stype", covmat=True)
    with pytest.raises(ArgumentError, match=r"'X' names no estimate; the estimates are 'E', "
                                            r"'H', 'M'"):
        est.difference("X", "E")
    with pytest.raises(ArgumentError, match=r"one coefficient per estimate \(3\); got 2"):
        est.contrast([1, -1])
    with pytest.raises(ArgumentTypeError, match="coefficient must be a number; got 'a'"):
        est.contrast({"E": "a"})
    import math

    with pytest.raises(ArgumentTypeError, match="numpy functions"):
        est.contrast(lambda e: math.log(e["E"]))
    with pytest.raises(ArgumentTypeError, match="must return one number"):
        est.contrast(lambda e: np.stack([e["E"], e["H"]]))
    with pytest.raises(ArgumentError, match=r"`level` of `contrast\(\)`"):
        est.contrast({"E": 1}, level=95)
    with pytest.raises(ArgumentTypeError, match="`covmat` of `mean\\(\\)` must be True, "
                                                "False or None; got .yes."):
        design.mean("api00", covmat="yes")  # type: ignore[arg-type]


def test_an_empty_domain_has_missing_covariances() -> None:
    frame = small_design_frame()
    frame["dom"] = pd.Categorical(frame["dom"], categories=[*sorted(frame["dom"].unique()), "z"])
    des = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    v = des.mean("y", by="dom", covmat=True).vcov()
    assert v.loc["z"].isna().all().all() and np.isfinite(v.drop(index="z",
                                                                columns="z").to_numpy()).all()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=3, max_size=3),
       st.sampled_from(["taylor", "jk1"]))
def test_any_linear_contrast_is_its_quadratic_form(coef: list[float], kind: str) -> None:
    """var(c' theta) = c' V c for any coefficients, Taylor and replicate."""
    des = SurveyDesign(load_api("apistrat"), weights="pw", strata="stype", fpc="fpc")
    d = des if kind == "taylor" else des.to_replicate("jkn")
    est = d.mean(["api00", "api99", "enroll"])
    v = est.vcov().to_numpy()
    c = np.asarray(coef)
    r = est.contrast(list(coef)).to_frame().iloc[0]
    assert r["se"] ** 2 == pytest.approx(max(c @ v @ c, 0.0), rel=1e-9, abs=1e-9)
