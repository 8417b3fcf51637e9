"""Multiple imputation: Rubin's rules, the latent class imputation model, the draws and the unit
non-response adjustment.

References: hand computations of Rubin (1987) and Barnard and Rubin (1999) (``rubin``); R
``mitools::MIcombine`` (mitools 2.4, R 4.2.2), ``tests/reference/data/mitools_micombine.json``
made by ``mitools_micombine.R`` beside it; parameters of simulated latent class data (the
model); hand-weighted sums (non-response).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flestimate.errors import ArgumentError, ArgumentTypeError
from flestimate.impute import (
    _model,
    adjustment_factors,
    check_imputations,
    fit_model,
    rubin,
    seed_sequence,
    weighting_classes,
)

REF = Path(__file__).resolve().parent / "reference" / "data" / "mitools_micombine.json"


# -- Rubin's rules --------------------------------------------------------------------------------
def test_rubin_by_hand() -> None:
    """Rubin (1987) eqs. 3.1.2-3.1.6 and 3.1.10 and Barnard and Rubin (1999) eq. 3, by hand on
    three completions of one estimate."""
    q = np.array([[0.10], [0.12], [0.14]])
    u = np.array([[0.0004], [0.0005], [0.0006]])
    got = rubin(q, u, df_complete=30.0)
    qbar, ubar, b = 0.12, 0.0005, 0.0004
    t = ubar + (1 + 1 / 3) * b
    r = (1 + 1 / 3) * b / ubar
    gamma = (1 + 1 / 3) * b / t
    nu_old = 2 * (1 + 1 / r) ** 2
    nu_obs = 31 / 33 * 30 * (1 - gamma)
    nu = 1 / (1 / nu_old + 1 / nu_obs)
    assert got.estimate[0] == pytest.approx(qbar, rel=1e-14)
    assert got.variance[0] == pytest.approx(t, rel=1e-14)
    assert got.between[0] == pytest.approx(b, rel=1e-12)
    assert got.df[0] == pytest.approx(nu, rel=1e-12)
    assert got.fmi[0] == pytest.approx((r + 2 / (nu + 3)) / (r + 1), rel=1e-12)
    assert got.se[0] == pytest.approx(np.sqrt(t), rel=1e-14)


def test_rubin_without_variation_is_the_complete_data_result() -> None:
    """Identical completions (nothing imputed mattered): T = U, df = the complete-data df,
    fmi = 0 exactly."""
    q = np.full((5, 2), 0.3)
    u = np.full((5, 2), 0.01)
    got = rubin(q, u, df_complete=np.array([12.0, 40.0]))
    np.testing.assert_array_equal(got.variance, [0.01, 0.01])
    np.testing.assert_array_equal(got.df, [12.0, 40.0])
    np.testing.assert_array_equal(got.fmi, [0.0, 0.0])


@pytest.mark.parametrize("case", [0, 1], ids=["df-complete-inf", "df-complete-40"])
def test_rubin_against_r_mitools(case: int) -> None:
    """R ``mitools::MIcombine(results, variances, df.complete)``: estimate and variance to
    1e-12; with ``df.complete = Inf`` df and missinfo to 1e-12. With a finite complete-data df
    mitools computes nu_obs with B / (Ubar + B) where Barnard and Rubin (1999) have
    gamma = (1 + 1/M) B / T: its df is reproduced with that substitution, and ours is the
    paper's."""
    ref = json.loads(REF.read_text())
    q = np.array(ref["estimates"])
    u = np.array(ref["variances"])
    res = ref["results"][case]
    dfc = np.inf if res["df_complete"] == "Inf" else float(res["df_complete"])
    got = rubin(q, u, df_complete=dfc)
    np.testing.assert_allclose(got.estimate, res["estimate"], rtol=1e-12)
    np.testing.assert_allclose(got.variance, res["variance"], rtol=1e-12)
    if np.isinf(dfc):
        np.testing.assert_allclose(got.df, res["df"], rtol=1e-12)
        np.testing.assert_allclose(got.fmi, res["missinfo"], rtol=1e-12)
        return
    m = q.shape[0]
    r = (1 + 1 / m) * got.between / got.within
    nu_old = (m - 1) * (1 + 1 / r) ** 2
    nu_obs_mitools = (dfc + 1) / (dfc + 3) * dfc * got.within / (got.within + got.between)
    np.testing.assert_allclose(1 / (1 / nu_old + 1 / nu_obs_mitools), res["df"], rtol=1e-12)
    gamma = (1 + 1 / m) * got.between / got.variance
    nu_obs = (dfc + 1) / (dfc + 3) * dfc * (1 - gamma)
    np.testing.assert_allclose(got.df, 1 / (1 / nu_old + 1 / nu_obs), rtol=1e-12)
    assert (got.df < res["df"]).all()  # the paper's gamma is the larger: fewer df


def test_rubin_bad_input() -> None:
    with pytest.raises(ArgumentError, match=r"at least 2 completed data sets; got 1"):
        rubin(np.ones((1, 3)), np.ones((1, 3)))
    with pytest.raises(ArgumentError, match=r"must have the same shape"):
        rubin(np.ones((3, 2)), np.ones((3, 3)))


@pytest.mark.parametrize("value", [1, 0, "5", 2.5, True])
def test_imputations_must_be_an_integer_of_at_least_two(value: object) -> None:
    with pytest.raises(ArgumentError, match=r"`imputations` of `f\(\)` must be an integer >= 2"):
        check_imputations(value, "f")


@pytest.mark.parametrize("value", [-1, 1.5, "x", True])
def test_seed_must_be_a_nonnegative_integer(value: object) -> None:
    with pytest.raises(ArgumentError, match=r"`seed` of `f\(\)` must be a non-negative integer"):
        seed_sequence(value, "f")


def test_seed_none_is_zero_and_a_generator_is_accepted() -> None:
    a = seed_sequence(None, "f").generate_state(2)
    np.testing.assert_array_equal(a, np.random.SeedSequence(0).generate_state(2))
    g = seed_sequence(np.random.default_rng(3), "f")
    assert isinstance(g, np.random.SeedSequence)


# -- the latent class model ---------------------------------------------------------------------------
def _latent_class_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Two classes (shares 0.9 / 0.1, the second depending on a covariate), 8 binary items
    with class probabilities 0.05 / 0.6, a 3-level categorical item, 20% of the answers
    missing completely at random."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, n)
    p1 = np.where(x == 1, 0.2, 0.05)
    z = rng.random(n) < p1
    theta = np.where(z[:, None], 0.6, 0.05)
    y = (rng.random((n, 8)) < theta).astype(float)
    cat = np.where(z, rng.choice(3, n, p=[0.2, 0.2, 0.6]), rng.choice(3, n, p=[0.6, 0.3, 0.1]))
    y[rng.random(y.shape) < 0.2] = np.nan
    frame = pd.DataFrame(y, columns=[f"inv_x{i}" for i in range(8)])
    frame["sector"] = np.array(["a", "b", "c"], dtype=object)[cat]
    frame.loc[rng.random(n) < 0.1, "sector"] = None
    frame["grp"] = x
    return frame, z


def test_model_recovers_the_class_probabilities() -> None:
    """Simulated two-class data (n = 20,000): the fitted item probabilities are within 0.02 of
    0.05 / 0.6, the class shares within 0.02 of 0.05 / 0.2 by covariate level, the categorical
    item's class distributions within 0.04."""
    frame, _ = _latent_class_data(20_000, 1)
    items = [c for c in frame.columns if c.startswith("inv_")]
    model = fit_model(frame, items=items, categorical=["sector"], covariates=frame[["grp"]])
    theta = model.fit.theta[0]  # (J, K)
    big = int(np.argmax(theta.mean(axis=0)))
    np.testing.assert_allclose(theta[:, big], 0.6, atol=0.02)
    np.testing.assert_allclose(theta[:, 1 - big], 0.05, atol=0.02)
    shares = np.exp(_model.log_shares(model.patterns, model.fit))[0]  # (G, K) by group
    groups = model.patterns  # group rows: the covariate's levels in order of appearance
    level = pd.factorize(frame["grp"].astype(object))[1]
    expected = np.where(np.asarray(level, dtype=int) == 1, 0.2, 0.05)
    order = np.unique(groups.group)
    assert shares.shape[0] == len(order) == 2
    np.testing.assert_allclose(np.sort(shares[:, big]), np.sort(expected), atol=0.02)
    phi = model.fit.phi[0][0]  # (levels a, b, c) x K
    np.testing.assert_allclose(phi[:, big], [0.2, 0.2, 0.6], atol=0.04)
    np.testing.assert_allclose(phi[:, 1 - big], [0.6, 0.3, 0.1], atol=0.04)
    assert model.fit.converged
    assert model.patterns.count.sum() == len(frame)


def _sector_items(rng: np.random.Generator, n: int, share: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eight items of two latent classes (``share`` in the second): yes with probability 0.05 in
    the first class, 0.6 in the second, but 0.95 for items 0-3 in sector c (10% of the rows;
    sectors a and b 45% each). Returns the answers (n, 8), the sector codes and the class."""
    sector = rng.choice(3, n, p=[0.45, 0.45, 0.10])
    z = rng.random(n) < share
    theta = np.where(z[:, None], 0.6, 0.05) * np.ones((n, 8))
    theta[z & (sector == 2), :4] = 0.95
    y = (rng.random((n, 8)) < theta).astype(float)
    return y, sector, z


def test_item_profiles_recover_probabilities_that_differ_by_sector() -> None:
    """Simulated: in the second class, items 0-3 are yes with probability 0.6 in sectors a and
    b but 0.95 in sector c (and 0.05 in the first class everywhere); n = 40,000. With the
    sector as the profile, each profile's probabilities are within 0.03 of the truth (0.06 for
    the small profile's other items: 600 cases, binomial se 0.02); without
    one there is a single profile equal to the class's (``theta``)."""
    rng = np.random.default_rng(5)
    y, sector, _ = _sector_items(rng, 40_000, 0.15)
    y[rng.random(y.shape) < 0.1] = np.nan
    frame = pd.DataFrame(y, columns=[f"inv_x{i}" for i in range(8)])
    frame["sector"] = np.array(["a", "b", "c"], dtype=object)[sector]
    items = [c for c in frame.columns if c.startswith("inv_")]
    model = fit_model(frame, items=items, categorical=["sector"], profile="sector")
    fit = model.fit
    big = int(np.argmax(fit.theta[0].mean(axis=0)))
    levels = list(pd.factorize(frame["sector"].astype(object))[1])
    by_profile = fit.theta_profile[0][:, :, big]  # (H, J)
    c, a = levels.index("c"), levels.index("a")
    np.testing.assert_allclose(by_profile[c, :4], 0.95, atol=0.03)
    np.testing.assert_allclose(by_profile[c, 4:], 0.6, atol=0.06)  # 600 cases: se 0.02
    np.testing.assert_allclose(by_profile[a], 0.6, atol=0.03)
    np.testing.assert_allclose(fit.theta_profile[0][:, :, 1 - big], 0.05, atol=0.02)
    assert model.summary_dict()["profiles"] == 3
    plain = fit_model(frame, items=items, categorical=["sector"])
    assert plain.fit.theta_profile.shape[1] == 1
    np.testing.assert_array_equal(plain.fit.theta_profile[:, 0], plain.fit.theta)


def test_grouped_sectors_share_one_profile_and_keep_their_own_level() -> None:
    """Sectors c and d (5% of the rows each) both have items 0-3 yes with probability 0.95 in
    the second class (0.6 in a and b, 0.05 in the first class); grouped by ``profile_groups``
    ({"d": "c"}) they share one item profile, estimated from both (within 0.03 of 0.95: 1,200
    cases of the second class, binomial se 0.01), while the sector itself keeps four levels.
    A row whose sector is missing is drawn a level, not a profile: among those of the second
    class with items 0-3 all yes, Bayes' rule gives c or d with probability
    0.1 * 0.95^4 / (0.1 * 0.95^4 + 0.9 * 0.6^4) = 0.40 (hand computation), split evenly
    between them (each 0.20, their shares being equal)."""
    rng = np.random.default_rng(12)
    n = 40_000
    y, sector, z = _sector_items(rng, n, 0.3)
    frame = pd.DataFrame(y, columns=[f"inv_x{i}" for i in range(8)])
    half = rng.random(n) < 0.5
    frame["sector"] = np.where(sector == 2, np.where(half, "c", "d"),
                               np.array(["a", "b", "c"], dtype=object)[sector]).astype(object)
    lost = rng.random(n) < 0.10
    frame.loc[lost, "sector"] = None
    items = [c for c in frame.columns if c.startswith("inv_")]
    model = fit_model(frame, items=items, categorical=["sector"], profile="sector",
                      profile_groups={"d": "c"})
    levels = dict(model.categorical)["sector"]
    assert levels == ("a", "b", "c", "d")
    assert model.level_profile is not None
    lp = model.level_profile.tolist()
    assert lp[2] == lp[3] and len({lp[0], lp[1], lp[2]}) == 3
    assert model.patterns.n_profiles == 4  # a, b, c and d together, missing
    upper = int(np.argmax(model.fit.theta[0, 0]))
    np.testing.assert_allclose(model.fit.theta_profile[0, lp[2], :4, upper], 0.95, atol=0.03)
    comp = model.complete(np.arange(n), 20, seed_sequence(4, "grouped"))
    drawn = comp.categorical["sector"]
    all_yes = lost & (y[:, :4] == 1).all(axis=1) & (y[:, 4:7] == 1).sum(axis=1).astype(bool)
    sub = drawn[:, all_yes & z]
    assert abs(np.isin(sub, ["c", "d"]).mean() - 0.40) < 0.06
    assert abs((sub == "c").mean() - (sub == "d").mean()) < 0.06
    known = ~lost
    assert (drawn[:, known] == frame["sector"].to_numpy(dtype=object)[known]).all()


def test_profile_choice_by_hand() -> None:
    """One class, one item, sector a (yes, yes, no) and b (no): hand computation of
    ``fit_model``'s choice between separate profiles and ``profile_pooling`` {a, b}. Prior mean
    (2 + 0.5) / (4 + 1) = 0.5, so the class's probability (2 + 0.5) / 5 = 0.5 and, with the
    profile prior c = 0.1, the profiles' (2 + 0.05) / 3.1 = 41/62 and (0 + 0.05) / 1.1 = 1/22,
    the pooled profile's 2.05 / 4.1 = 0.5; log-likelihood 2 ln(41/62) + ln(21/62) + ln(21/22)
    separate, 4 ln 0.5 pooled; effective parameters 3/3.1 + 1/1.1 and 4/4.1; BIC -2 loglik +
    ln(4) df: 6.514 against 6.898, so the sectors keep their own profiles."""
    assert _model.PROFILE_PRIOR == 0.1
    frame = pd.DataFrame({"inv_x": [1.0, 1.0, 0.0, 0.0], "sector": ["a", "a", "a", "b"]})
    model = fit_model(frame, items=["inv_x"], classes=1, profile="sector",
                      profile_pooling={"a": "L", "b": "L"})
    choice = model.profile_choice
    sep = 2 * np.log(41 / 62) + np.log(21 / 62) + np.log(21 / 22)
    df_sep, df_pool = 3 / 3.1 + 1 / 1.1, 4 / 4.1
    assert choice["separate"]["loglik"] == pytest.approx(sep, rel=1e-12)
    assert choice["pooled"]["loglik"] == pytest.approx(4 * np.log(0.5), rel=1e-12)
    assert choice["separate"]["df"] == pytest.approx(df_sep, rel=1e-12)
    assert choice["pooled"]["df"] == pytest.approx(df_pool, rel=1e-12)
    assert choice["separate"]["bic"] == pytest.approx(-2 * sep + np.log(4) * df_sep, rel=1e-12)
    assert choice["pooled"]["bic"] == pytest.approx(8 * np.log(2) + np.log(4) * df_pool,
                                                    rel=1e-12)
    assert choice["separate"]["bic"] == pytest.approx(6.514, abs=5e-4)
    assert choice["pooled"]["bic"] == pytest.approx(6.898, abs=5e-4)
    assert choice["chosen"] == "separate" and model.patterns.n_profiles == 2
    assert choice["pooled_values"] == ["a", "b"]
    assert model.summary_dict()["profile_choice"]["chosen"] == "separate"
    np.testing.assert_allclose(model.fit.theta_profile[0, :, 0, 0], [41 / 62, 1 / 22],
                               rtol=1e-12)


@pytest.mark.parametrize("name", ["profile_groups", "profile_pooling"])
def test_a_profile_grouping_must_be_a_mapping(name: str) -> None:
    frame = pd.DataFrame({"inv_x": [1.0, 0.0], "sector": ["a", "b"]})
    with pytest.raises(ArgumentTypeError, match=rf"^`{name}` of `fit_model\(\)` must be a "
                       r"mapping of values to their profile; got list$"):
        fit_model(frame, items=["inv_x"], profile="sector", **{name: ["a", "b"]})


@pytest.mark.parametrize(("pooled", "chosen", "profiles"),
                         [(("a", "b"), "pooled", 3), (("a", "c"), "separate", 4)])
def test_profiles_are_pooled_only_where_the_answers_do_not_differ(
        pooled: tuple[str, str], chosen: str, profiles: int) -> None:
    """Simulated (``_sector_items``, n = 6,000, 10% of the answers missing): sectors a and b
    answer alike, c does not (items 0-3 yes with probability 0.95 against 0.6 in the second
    class). Pooling a with b is kept (BIC: the same answers with fewer parameters); pooling a
    with c is refused (its log-likelihood loses far more than the parameters it saves). Three
    profiles (a with b, c, missing) or four."""
    rng = np.random.default_rng(21)
    y, sector, _ = _sector_items(rng, 6_000, 0.3)
    y[rng.random(y.shape) < 0.1] = np.nan
    frame = pd.DataFrame(y, columns=[f"inv_x{i}" for i in range(8)])
    frame["sector"] = np.array(["a", "b", "c"], dtype=object)[sector]
    frame.loc[rng.random(len(frame)) < 0.05, "sector"] = None
    model = fit_model(frame, items=list(frame.columns[:8]), categorical=["sector"],
                      profile="sector", profile_pooling=dict.fromkeys(pooled, "L"))
    assert model.profile_choice["chosen"] == chosen
    assert model.patterns.n_profiles == profiles
    assert model.level_profile is not None
    lp = model.level_profile.tolist()  # the levels a, b, c
    assert (lp[0] == lp[1]) == (chosen == "pooled") and lp[0] != lp[2]
    assert fit_model(frame, items=list(frame.columns[:8]), categorical=["sector"],
                     profile="sector").profile_choice == {}


def test_a_missing_sector_is_drawn_with_the_class_from_the_answers() -> None:
    """Simulated as above (items 0-3 yes with probability 0.95 in sector c of the second class,
    0.6 elsewhere in it, 0.05 in the first), the sector missing for 10% of the rows at random.
    Among those rows in the second class with items 0-3 all yes, Bayes' rule gives sector c
    with probability 0.1 * 0.95^4 / (0.1 * 0.95^4 + 0.9 * 0.6^4) = 0.40 (hand computation),
    four times its share of 0.10; the completions' share of c among them is within 0.06 of
    it. Among those with items 0-3 all no (drawn into the first class, where the sector says
    nothing about the answers) it stays near the share, 0.10. An item that does not depend on
    the sector (item 7, 0.6 in the second class) keeps its probability in the rows drawn into
    sector c; the observed sectors are never changed."""
    rng = np.random.default_rng(11)
    n = 40_000
    y, sector, z = _sector_items(rng, n, 0.3)
    frame = pd.DataFrame(y, columns=[f"inv_x{i}" for i in range(8)])
    frame["sector"] = np.array(["a", "b", "c"], dtype=object)[sector]
    lost = rng.random(n) < 0.10
    frame.loc[lost, "sector"] = None
    miss_item = rng.random(n) < 0.5  # item 7 missing in half the rows
    frame.loc[miss_item, "inv_x7"] = np.nan
    items = [c for c in frame.columns if c.startswith("inv_")]
    model = fit_model(frame, items=items, categorical=["sector"], profile="sector")
    # levels a, b, c have a profile each, none of them the missing value's
    assert model.level_profile is not None and len(set(model.level_profile.tolist())) == 3
    missing_profile = model.patterns.profile[model.patterns.inverse[np.flatnonzero(lost)[0]]]
    assert missing_profile not in model.level_profile.tolist()
    rows = np.arange(n)
    comp = model.complete(rows, 20, seed_sequence(3, "joint"))
    drawn = comp.categorical["sector"]  # (M, n)
    all_yes = lost & (y[:, :4] == 1).all(axis=1) & (y[:, 4:7] == 1).sum(axis=1).astype(bool)
    share_c = (drawn[:, all_yes & z] == "c").mean()
    assert abs(share_c - 0.40) < 0.06, share_c
    all_no = lost & (y[:, :4] == 0).all(axis=1)
    assert abs((drawn[:, all_no] == "c").mean() - 0.10) < 0.03
    # the item missing in a row drawn into sector c of the second class follows c's profile
    target = lost & miss_item & z
    in_c = (drawn[:, target] == "c")
    assert in_c.sum() > 200
    # item 7 is 0.6 in every sector of the second class: its draws do not depend on the sector
    assert abs(comp.binary[:, target, 7][in_c].mean() - 0.6) < 0.08
    # the observed sector is never changed
    known = ~lost
    assert (drawn[:, known] == frame["sector"].to_numpy(dtype=object)[known]).all()


def test_categorical_items_follow_their_covariates() -> None:
    """Simulated: two classes (shares 0.7 / 0.3), eight items 0.05 / 0.6; the sector depends on
    the class and on sex within it: in the second class women a / b / c 0.2 / 0.4 / 0.4 and men
    0.5 / 0.5 / 0 (c is a level only women take), in the first women 0.3 / 0.6 / 0.1 and men
    0.5 / 0.5 / 0. Fitted with ``categorical_covariates=sex``, the group level probabilities
    are within 0.03 of those (men's c below 0.002: the prior's 2 pseudo-respondents among
    thousands); a man whose sector is missing is completed as c in under 0.5% of his draws,
    a woman of the second class in 0.4 +- 0.05 (her eight items place her class). Without the covariate (the
    class's distribution for everyone) men get c at the class's rate, above 10%: the
    covariate is what keeps them out."""
    rng = np.random.default_rng(21)
    n = 40_000
    z = rng.random(n) < 0.3
    woman = rng.random(n) < 0.5
    y = (rng.random((n, 8)) < np.where(z[:, None], 0.6, 0.05)).astype(float)
    probs = {(True, True): [0.2, 0.4, 0.4], (True, False): [0.5, 0.5, 0.0],
             (False, True): [0.3, 0.6, 0.1], (False, False): [0.5, 0.5, 0.0]}
    u = rng.random(n)
    sector = np.zeros(n, dtype=int)
    for (zz, ww), pr in probs.items():  # four cells of the simulation, not of the estimator
        cell = (z == zz) & (woman == ww)
        sector[cell] = np.searchsorted(np.cumsum(pr), u[cell], side="right")
    frame = pd.DataFrame(y, columns=[f"inv_x{i}" for i in range(8)])
    frame["sector"] = np.array(["a", "b", "c"], dtype=object)[np.minimum(sector, 2)]
    lost = rng.random(n) < 0.10
    frame.loc[lost, "sector"] = None
    frame["sex"] = np.where(woman, "f", "m")
    items = [c for c in frame.columns if c.startswith("inv_")]
    model = fit_model(frame, items=items, categorical=["sector"],
                      categorical_covariates=frame[["sex"]])
    assert model.categorical_covariates == ("sex",)
    phi = model.fit.phi_group[0][0]  # (groups, levels, classes)
    big = int(np.argmax(model.fit.theta[0].mean(axis=0)))
    group = model.patterns.cat_group[model.patterns.inverse]
    g_woman = int(group[np.flatnonzero(woman)[0]])
    np.testing.assert_allclose(phi[g_woman, :, big], probs[True, True], atol=0.03)
    np.testing.assert_allclose(phi[g_woman, :, 1 - big], probs[False, True], atol=0.03)
    np.testing.assert_allclose(phi[1 - g_woman, :2, big], [0.5, 0.5], atol=0.03)
    assert phi[1 - g_woman, 2, :].max() < 0.002
    rows = np.arange(n)
    drawn = model.complete(rows, 10, seed_sequence(5, "cov")).categorical["sector"]
    assert (drawn[:, lost & ~woman] == "c").mean() < 0.005
    assert abs((drawn[:, lost & woman & z] == "c").mean() - 0.4) < 0.05
    plain = fit_model(frame, items=items, categorical=["sector"])
    drawn = plain.complete(rows, 10, seed_sequence(5, "cov")).categorical["sector"]
    assert (drawn[:, lost & ~woman & z] == "c").mean() > 0.10


def test_completions_keep_the_answers_and_follow_the_seed() -> None:
    """Observed answers are never changed; the same seed gives the same completions; another
    seed other ones; the imputed share of yes is near the model's (MCAR data: the observed
    share, 0.1 for these items)."""
    frame, _ = _latent_class_data(4_000, 2)
    items = [c for c in frame.columns if c.startswith("inv_")]
    model = fit_model(frame, items=items, categorical=["sector"], covariates=frame[["grp"]])
    rows = np.arange(len(frame))
    a = model.complete(rows, 5, seed_sequence(7, "f"))
    b = model.complete(rows, 5, seed_sequence(7, "f"))
    c = model.complete(rows, 5, seed_sequence(8, "f"))
    np.testing.assert_array_equal(a.binary, b.binary)
    assert not np.array_equal(a.binary, c.binary)
    observed = frame[items].to_numpy()
    seen = ~np.isnan(observed)
    assert (a.binary[:, seen] == observed[seen]).all()
    assert not np.isnan(a.binary).any()
    assert abs(a.binary[:, ~seen].mean() - np.nanmean(observed)) < 0.02
    sector = frame["sector"].to_numpy(dtype=object)
    known = pd.notna(sector)
    assert (a.categorical["sector"][:, known] == sector[known]).all()
    assert pd.notna(a.categorical["sector"]).all()


def test_delta_shifts_only_the_sensitive_items() -> None:
    """A positive delta raises the imputed yes of the sensitive items (odds x e^delta at the
    same class draws) and leaves the others; delta 0 is missing at random."""
    frame, _ = _latent_class_data(4_000, 3)
    items = [c for c in frame.columns if c.startswith("inv_")]
    model = fit_model(frame, items=items, sensitive=["inv_x0"])
    rows = np.arange(len(frame))
    mar = model.complete(rows, 4, seed_sequence(1, "f"))
    up = model.complete(rows, 4, seed_sequence(1, "f"), delta=2.0)
    miss = np.isnan(frame[items].to_numpy())
    assert up.binary[:, miss[:, 0], 0].mean() > 2 * mar.binary[:, miss[:, 0], 0].mean()
    np.testing.assert_array_equal(up.binary[:, :, 1:], mar.binary[:, :, 1:])


def test_rows_to_complete_must_be_respondents() -> None:
    frame, _ = _latent_class_data(500, 4)
    items = [c for c in frame.columns if c.startswith("inv_")]
    keep = np.ones(len(frame), dtype=bool)
    keep[:10] = False
    model = fit_model(frame, items=items, respondents=keep)
    with pytest.raises(ArgumentError, match="must be respondents"):
        model.complete(np.arange(5), 2, seed_sequence(1, "f"))


def test_items_never_answered_are_not_imputed() -> None:
    frame, _ = _latent_class_data(500, 5)
    frame["inv_never"] = np.nan
    items = [c for c in frame.columns if c.startswith("inv_")]
    model = fit_model(frame, items=items)
    assert model.not_imputed == ("inv_never",)
    assert "inv_never" not in model.items


# -- unit non-response -------------------------------------------------------------------------------
def test_weighting_classes_collapse_in_order_and_keep_the_totals() -> None:
    """Classes stratum x sex x proxy: the class (h=2, sex=f, proxy=1) has no respondent and is
    merged into (h=2, sex=f); its non-respondent's weight goes there. Respondents' weights
    scale by class total / respondents' total, non-respondents get 0, the universe total is
    kept, rows outside the universe keep their weight."""
    h = np.array([1, 1, 1, 2, 2, 2, 2, 3])
    sex = np.array(["m", "m", "f", "f", "f", "f", "m", "m"], dtype=object)
    proxy = np.array([0, 0, 0, 0, 0, 1, 0, 0])
    universe = np.array([True] * 7 + [False])
    resp = np.array([True, False, True, True, True, False, True, True])
    w = np.array([1.0, 2.0, 3.0, 4.0, 1.0, 5.0, 2.0, 9.0])
    wc = weighting_classes([h, sex, proxy], ["strata", "sex", "proxy"], universe, resp, w)
    assert wc.collapsed == 1
    assert wc.level.tolist() == [0, 0, 0, 1, 1, 1, 0, -1]  # (2, f, .) merged: one class
    f = adjustment_factors(wc, w, resp)
    # class (1, m, 0): 3 / 1; (2, f) after merging: (4 + 1 + 5) / 5 = 2
    np.testing.assert_allclose(f, [3.0, 0.0, 1.0, 2.0, 2.0, 0.0, 1.0, 1.0], rtol=1e-15)
    assert (w * f)[universe].sum() == pytest.approx(w[universe].sum(), rel=1e-15)
    # replicate weights (n, R) are adjusted with their own sums
    reps = np.column_stack([w, 2 * w, w * np.arange(1, 9)])
    fr = adjustment_factors(wc, reps, resp)
    for r in range(reps.shape[1]):
        np.testing.assert_allclose(fr[:, r], adjustment_factors(wc, reps[:, r], resp),
                                   rtol=1e-15)


def test_collapsing_twice_takes_the_siblings_along() -> None:
    """In stratum 3 no woman responded (proxy or not): (3, f) is empty after the first merge,
    so the whole stratum becomes one class, the responding man's class included; the weight
    of every non-respondent reaches a respondent."""
    h = np.array([3, 3, 3, 3, 4])
    sex = np.array(["m", "f", "f", "m", "m"], dtype=object)
    proxy = np.array([0, 0, 1, 0, 0])
    universe = np.ones(5, dtype=bool)
    resp = np.array([True, False, False, False, True])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    wc = weighting_classes([h, sex, proxy], ["strata", "sex", "proxy"], universe, resp, w)
    assert wc.level.tolist() == [2, 2, 2, 2, 0]
    f = adjustment_factors(wc, w, resp)
    np.testing.assert_allclose(f, [10.0, 0.0, 0.0, 0.0, 1.0], rtol=1e-15)
    assert (w * f).sum() == pytest.approx(w.sum(), rel=1e-15)


def test_replicate_design_adjusts_every_replicate() -> None:
    """ReplicateDesign.nonresponse_adjusted: every replicate's weights equal the replicate's
    own weights moved within classes (hand: class totals / respondents' totals per replicate);
    the full-sample weights likewise."""
    from flestimate import SurveyDesign

    rng = np.random.default_rng(9)
    n = 60
    frame = pd.DataFrame({"h": np.repeat([1, 2], 30), "psu": np.repeat(np.arange(12), 5),
                          "w": rng.uniform(1, 3, n), "y": rng.integers(0, 2, n)})
    rep = SurveyDesign(frame, weights="w", strata="h", psu="psu").to_replicate("jkn")
    cls = np.where(np.arange(n) % 3 == 0, 0, 1)
    resp = rng.random(n) < 0.8
    adj = rep.nonresponse_adjusted(cls, resp)
    before = rep.replicate_weights().to_numpy()
    after = adj.replicate_weights().to_numpy()
    wc = weighting_classes([cls], ["c"], np.ones(n, dtype=bool), resp, frame["w"].to_numpy())
    expected = before * adjustment_factors(wc, before, resp)
    np.testing.assert_allclose(after, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(adj.weights, frame["w"].to_numpy()
                               * adjustment_factors(wc, frame["w"].to_numpy(), resp),
                               rtol=1e-12)
    with pytest.raises(ArgumentError, match="one value per row"):
        rep.nonresponse_adjusted(cls[:5], resp[:5])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 400), st.integers(1, 12), st.integers(0, 10_000))
def test_unique_rows_is_numpys_unique_by_rows(n: int, q: int, seed: int) -> None:
    """Reference: ``numpy.unique(axis=0)`` (first occurrences, inverse, counts, same order)."""
    from flestimate.impute._model import unique_rows

    rng = np.random.default_rng(seed)
    key = rng.integers(-1, 3, (n, q)).astype(np.int64)
    key[:, -1] = rng.integers(0, 1 + seed % 500, n)
    first, inverse, count = unique_rows(key)
    if n == 0:
        assert first.size == inverse.size == count.size == 0
        return
    uniq, f2, i2, c2 = np.unique(key, axis=0, return_index=True, return_inverse=True,
                                 return_counts=True)
    np.testing.assert_array_equal(key[first], uniq)
    np.testing.assert_array_equal(first, f2)
    np.testing.assert_array_equal(inverse, i2.reshape(-1))
    np.testing.assert_array_equal(count, c2)
