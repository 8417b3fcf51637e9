"""Interval methods, checked against their formulas computed with scipy.stats directly.

References: Korn & Graubard (1998) eqs. 2.1-2.2 with the NCHS cap and boundary rule (Parker et
al. 2017; svy's "korn-graubard"); R ``svyciprop(method="beta")`` source (survey 4.1.1):
``n.eff <- coef*(1-coef)/vcov * (qt(a/2, nrow-1)/qt(a/2, degf))^2``,
``c(qbeta(a/2, n.eff*p, n.eff*(1-p)+1), qbeta(1-a/2, n.eff*p+1, n.eff*(1-p)))``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from flestimate.errors import ArgumentError
from flestimate.intervals import confidence_interval, t_quantile


def _one(method: str, p: float, se: float, df: float, n: float, level: float = 0.95):
    low, high, flag = confidence_interval(method, np.array([p]), np.array([se]), np.array([df]),
                                          np.array([n]), level)
    return low[0], high[0], flag[0]


def test_beta_is_r_formula() -> None:
    p, se, df, n = 0.05, 0.01, 40, 500
    neff = p * (1 - p) / se**2 * (stats.t.ppf(0.025, n - 1) / stats.t.ppf(0.025, df)) ** 2
    low, high, flag = _one("beta", p, se, df, n)
    assert low == pytest.approx(stats.beta.ppf(0.025, neff * p, neff * (1 - p) + 1), rel=1e-12)
    assert high == pytest.approx(stats.beta.ppf(0.975, neff * p + 1, neff * (1 - p)), rel=1e-12)
    assert flag is None


def test_korn_graubard_caps_at_n() -> None:
    """se tiny: n_eff huge, capped at n = 50, i.e. exact Clopper-Pearson with 50 trials."""
    p, n = 0.1, 50
    low, high, _ = _one("korn-graubard", p, 1e-6, 1000, n)
    assert low == pytest.approx(stats.beta.ppf(0.025, 5, 46), rel=1e-12)
    assert high == pytest.approx(stats.beta.ppf(0.975, 6, 45), rel=1e-12)


def test_korn_graubard_boundary_is_one_sided() -> None:
    """p = 0: n_eff = n, df-adjusted, capped at n; L = 0, U = Beta^-1(0.975; 1, n*)."""
    n, df = 120, 30
    n_star = min(n, n * (stats.t.ppf(0.975, n - 1) / stats.t.ppf(0.975, df)) ** 2)
    low, high, flag = _one("korn-graubard", 0.0, 0.0, df, n)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / n_star), rel=1e-12)
    assert flag == "p=0: one-sided interval (NCHS)"
    low1, high1, flag1 = _one("korn-graubard", 1.0, 0.0, df, n)
    assert high1 == 1.0
    assert low1 == pytest.approx(0.025 ** (1 / n_star), rel=1e-12)
    assert flag1 == "p=1: one-sided interval (NCHS)"


@pytest.mark.parametrize("method", ["beta", "logit", "wilson"])
def test_undefined_at_boundary_with_flag(method: str) -> None:
    low, high, flag = _one(method, 0.0, 0.0, 30, 100)
    assert np.isnan(low) and np.isnan(high)
    assert flag.startswith("p=0 or 1") and "korn-graubard" in flag


def test_logit_formula() -> None:
    p, se, df = 0.2, 0.03, 25
    t = stats.t.ppf(0.975, df)
    low, high, _ = _one("logit", p, se, df, 300)
    lo = np.log(p / (1 - p)) - t * se / (p * (1 - p))
    assert low == pytest.approx(1 / (1 + np.exp(-lo)), rel=1e-12)
    assert high > p > low


def test_wilson_formula() -> None:
    """Franco et al. (2019): Wilson at n* = n_eff (t_{n-1}/t_df)^2 with t on df."""
    p, se, df, n = 0.3, 0.04, 20, 200
    t = stats.t.ppf(0.975, df)
    n_star = p * (1 - p) / se**2 * (stats.t.ppf(0.975, n - 1) / t) ** 2
    centre = (p + t**2 / (2 * n_star)) / (1 + t**2 / n_star)
    half = t / (1 + t**2 / n_star) * np.sqrt(p * (1 - p) / n_star + t**2 / (4 * n_star**2))
    low, high, _ = _one("wilson", p, se, df, n)
    assert low == pytest.approx(centre - half, rel=1e-12)
    assert high == pytest.approx(centre + half, rel=1e-12)


@pytest.mark.parametrize("method", ["korn-graubard", "beta", "logit", "wilson", "wald"])
def test_no_df_gives_nan_not_zero_width(method: str) -> None:
    low, high, flag = _one(method, 0.2, 0.05, 0, 10)
    assert np.isnan(low) and np.isnan(high)
    assert flag == "df<=0: no interval"


def test_t_quantile_edges() -> None:
    got = t_quantile(0.975, np.array([np.inf, 0.0, -1.0, 10.0]))
    assert got[0] == pytest.approx(stats.norm.ppf(0.975))
    assert np.isnan(got[1]) and np.isnan(got[2])
    assert got[3] == pytest.approx(stats.t.ppf(0.975, 10))


def test_vectorised_equals_scalar() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.001, 0.5, 50)
    se = p * rng.uniform(0.05, 0.5, 50)
    df = rng.integers(2, 100, 50).astype(float)
    n = rng.integers(50, 500, 50).astype(float)
    low, high, _ = confidence_interval("korn-graubard", p, se, df, n, 0.95)
    for i in [0, 17, 49]:
        lo, hi, _ = _one("korn-graubard", p[i], se[i], df[i], n[i])
        assert (low[i], high[i]) == (lo, hi)


def test_unknown_method() -> None:
    with pytest.raises(ArgumentError, match="`ci` must be one of"):
        _one("exact", 0.2, 0.1, 10, 10)
