"""Replicate designs: exact identities with Taylor variances, the replicate structures, export,
options and errors.

References: for linear statistics (totals) the delete-one jackknife within strata (JKn) and
balanced repeated replication with a full orthogonal set (BRR, and Fay for any rho) reproduce
the with-replacement Taylor variance exactly (Wolter 2007, *Introduction to variance
estimation*, 2nd ed., sections 3.3 and 4.2); R survey's default scales (``svrepdesign``).
The R fixtures themselves are in ``tests/reference/test_replicate_reference.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flestimate import SurveyDesign
from flestimate.errors import (
    ArgumentError,
    DataError,
    DesignError,
    FlestimateWarning,
    LonelyPSUError,
)
from flestimate.replicate import ReplicateDesign, default_scales, hadamard


def _two_psu(seed: int = 3, strata: int = 9) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = strata * 2 * 6
    return pd.DataFrame({
        "stratum": np.repeat(np.arange(strata), 12),
        "psu": np.repeat(np.arange(strata * 2), 6),
        "w": rng.uniform(50, 150, n),
        "y": rng.binomial(1, 0.2, n).astype(float),
        "x": rng.gamma(2.0, 3.0, n),
        "dom": rng.integers(0, 3, n),
    })


@pytest.fixture(scope="module")
def taylor() -> SurveyDesign:
    return SurveyDesign(_two_psu(), weights="w", strata="stratum", psu="psu")


@pytest.mark.parametrize(("method", "rho"), [("jkn", None), ("brr", None), ("fay", 0.5),
                                              ("fay", 0.3)])
def test_linear_statistics_reproduce_the_taylor_variance(taylor: SurveyDesign, method: str,
                                                         rho: float | None) -> None:
    rep = taylor.to_replicate(method, rho=rho)
    for by in (None, "dom"):
        t = taylor.total(["y", "x"], by=by).to_frame()
        r = rep.total(["y", "x"], by=by).to_frame()
        np.testing.assert_allclose(r["estimate"], t["estimate"], rtol=1e-13)
        np.testing.assert_allclose(r["se"], t["se"], rtol=1e-10)


def test_brr_replicates_are_a_balanced_half_sample_set(taylor: SurveyDesign) -> None:
    rep = taylor.to_replicate("brr")
    a = rep.multipliers  # PSUs x replicates, 2 or 0
    assert rep.n_replicates == 16 and set(np.unique(a)) == {0.0, 2.0}
    pairs = a.reshape(9, 2, 16)
    assert (pairs.sum(axis=1) == 2).all()  # one PSU of each stratum per half-sample
    signs = pairs[:, 0, :] - 1  # strata x replicates, +1 / -1
    np.testing.assert_array_equal(signs @ signs.T, 16 * np.eye(9))  # orthogonal balance
    assert rep.scale == 1 / 16
    np.testing.assert_array_equal(hadamard(4), [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1],
                                                [1, -1, -1, 1]])


def test_bootstrap_is_deterministic_per_seed_and_structured(taylor: SurveyDesign) -> None:
    a = taylor.to_replicate("bootstrap", replicates=40, seed=7)
    b = taylor.to_replicate("bootstrap", replicates=40, seed=7)
    c = taylor.to_replicate("bootstrap", replicates=40, seed=8)
    np.testing.assert_array_equal(a.multipliers, b.multipliers)
    assert not np.array_equal(a.multipliers, c.multipliers)
    # n_h PSUs drawn per stratum: the counts of a stratum add up to n_h = 2
    assert (a.multipliers.reshape(9, 2, 40).sum(axis=1) == 2).all()
    # R bootweights: scale = h / ((h - 1)(R - 1)) with h the harmonic mean of n_h
    assert a.scale == pytest.approx(2 / (1 * 39), rel=1e-15)
    sub = taylor.to_replicate("subbootstrap", replicates=40, seed=7)
    # Rao-Wu: n_h - 1 draws times n_h / (n_h - 1): every stratum's multipliers add up to n_h
    np.testing.assert_allclose(sub.multipliers.reshape(9, 2, 40).sum(axis=1), 2.0)
    assert sub.scale == pytest.approx(1 / 39, rel=1e-15)


def test_exported_weights_rebuild_the_same_design(taylor: SurveyDesign) -> None:
    rep = taylor.to_replicate("bootstrap", replicates=30, seed=1)
    exported = rep.replicate_weights()
    assert exported.shape == (len(taylor.data), 30) and list(exported.columns[:2]) == ["rep1",
                                                                                       "rep2"]
    data = pd.concat([taylor.data, exported], axis=1)
    given = ReplicateDesign(data, "w", "rep[0-9]+", "bootstrap", scale=rep.scale)
    assert given.multipliers.shape == (18, 30)  # grouped back into the 18 PSUs
    mult = ReplicateDesign(data.assign(**{c: exported[c] / data["w"] for c in exported}), "w",
                           list(exported.columns), "bootstrap", scale=rep.scale, combined=False)
    expected = rep.mean(["y", "x"], by="dom").to_frame()
    for other in (given, mult):
        got = other.mean(["y", "x"], by="dom").to_frame()
        np.testing.assert_allclose(got["se"], expected["se"], rtol=1e-12)
        np.testing.assert_allclose(got["estimate"], expected["estimate"], rtol=1e-14)


def test_mse_centres_on_the_full_sample_estimate(taylor: SurveyDesign) -> None:
    """For a total, sum (t_r - t)^2 = sum (t_r - mean)^2 + R (mean - t)^2."""
    rep = taylor.to_replicate("bootstrap", replicates=25, seed=2)
    exported = pd.concat([taylor.data, rep.replicate_weights()], axis=1)
    plain = ReplicateDesign(exported, "w", "rep[0-9]+", "bootstrap")
    mse = ReplicateDesign(exported, "w", "rep[0-9]+", "bootstrap", mse=True)
    w = exported["w"].to_numpy()
    reps = exported.filter(regex="^rep").to_numpy()
    t, t_r = (w * exported["x"]).sum(), (reps * exported["x"].to_numpy()[:, None]).sum(axis=0)
    v_plain = ((t_r - t_r.mean()) ** 2).sum() / 24
    v_mse = ((t_r - t) ** 2).sum() / 24
    assert plain.total("x").to_frame()["se"][0] == pytest.approx(np.sqrt(v_plain), rel=1e-12)
    assert mse.total("x").to_frame()["se"][0] == pytest.approx(np.sqrt(v_mse), rel=1e-12)


def test_default_scales_are_r_svrepdesign_s() -> None:
    assert default_scales("jk1", 10, None)[0] == pytest.approx(0.9)
    assert default_scales("brr", 8, None)[0] == pytest.approx(1 / 8)
    assert default_scales("fay", 8, 0.5)[0] == pytest.approx(1 / (8 * 0.25))
    assert default_scales("bootstrap", 101, None)[0] == pytest.approx(0.01)
    assert default_scales("sdr", 80, None)[0] == pytest.approx(0.05)
    assert default_scales("other", 5, None)[0] == 1.0


def test_degrees_of_freedom_and_user_df(taylor: SurveyDesign) -> None:
    jkn = taylor.to_replicate("jkn")
    # 18 replicates, one linear constraint per stratum: rank 18 - 9 + 1 = 10, df 9 (R degf)
    assert jkn.degf == 9
    assert jkn.mean("y", df=30).to_frame()["df"][0] == 30


def test_immutable(taylor: SurveyDesign) -> None:
    rep = taylor.to_replicate("jkn")
    with pytest.raises(AttributeError, match="immutable"):
        rep._scale = 2.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        rep.multipliers[0, 0] = 5.0


def test_errors_name_the_argument() -> None:
    data = _two_psu().assign(r1=1.0, r2=2.0)
    with pytest.raises(ArgumentError, match=r"`method` of `ReplicateDesign\(\)` must be one of "
                                            r"'jk1', 'jkn'"):
        ReplicateDesign(data, "w", ["r1", "r2"], "bbr")
    with pytest.raises(ArgumentError, match=r"`rscales` of `ReplicateDesign\(\)` is required "
                                            r"for method 'jkn'"):
        ReplicateDesign(data, "w", ["r1", "r2"], "JKn")
    with pytest.raises(ArgumentError, match=r"`rho` of `ReplicateDesign\(\)` must be in \[0, 1\)"):
        ReplicateDesign(data, "w", ["r1", "r2"], "fay")
    with pytest.raises(DataError, match=r"no column matches 'bw\[0-9\]\+'"):
        ReplicateDesign(data, "w", "bw[0-9]+", "bootstrap")
    with pytest.raises(DesignError, match=r"replicate weight column 'r2' has a missing"):
        ReplicateDesign(data.assign(r2=np.where(data.index == 4, np.nan, 1.0)), "w",
                        ["r1", "r2"], "bootstrap")
    with pytest.raises(DesignError, match=r"full-sample weight 0 but nonzero replicate"):
        ReplicateDesign(data.assign(w=np.where(data.index == 0, 0.0, data["w"])), "w",
                        ["r1", "r2"], "bootstrap")
    with pytest.warns(FlestimateWarning, match="LONELY_PSU"):
        single = SurveyDesign(_two_psu().assign(psu=lambda d: d["stratum"]), weights="w",
                              strata="stratum", psu="psu", lonely_psu="certainty")
    with pytest.raises(LonelyPSUError, match=r"method 'brr' needs two PSUs per stratum"):
        single.to_replicate("brr")
    with pytest.raises(DesignError, match=r"method 'jk1' .* the design is stratified"):
        SurveyDesign(_two_psu(), weights="w", strata="stratum", psu="psu").to_replicate("jk1")


def test_bootstrap_single_psu_stratum_keeps_multiplier_one_unless_fail() -> None:
    """A stratum with one PSU: ``lonely_psu="fail"`` refuses; any other policy keeps its PSU at
    multiplier 1 in every replicate (no contribution) and the scale's harmonic mean runs over
    the resampled strata only: strata sizes 3, 2 -> harmonic 2.4, scale 2.4 / (1.4 x 9).
    (R's bootstratum resamples ``sample(psu)``, i.e. from 1:psu, for a single PSU: not
    copied.)"""
    d = pd.DataFrame({"st": [1, 1, 1, 2, 2, 3], "psu": [1, 2, 3, 4, 5, 6],
                      "w": [1.0, 2, 1, 2, 3, 4], "y": [1.0, 0, 1, 0, 1, 1]})
    with pytest.raises(LonelyPSUError):
        SurveyDesign(d, weights="w", strata="st", psu="psu", lonely_psu="fail")
    with pytest.warns(FlestimateWarning, match="LONELY_PSU"):
        design = SurveyDesign(d, weights="w", strata="st", psu="psu", lonely_psu="adjust")
    rep = design.to_replicate("bootstrap", 10, seed=3)
    rw = np.asarray(rep.replicate_weights())
    np.testing.assert_array_equal(rw[5], np.full(10, 4.0))
    assert not np.all(rw[:5] == d["w"].to_numpy()[:5, None])  # the others are resampled
    assert rep.scale == pytest.approx(2.4 / (1.4 * 9), rel=1e-14)
    sub = design.to_replicate("subbootstrap", 10, seed=3)
    np.testing.assert_array_equal(np.asarray(sub.replicate_weights())[5], np.full(10, 4.0))
