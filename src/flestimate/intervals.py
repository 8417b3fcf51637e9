"""Confidence intervals, vectorised over estimates, including those valid for rare proportions.

Each function takes arrays of estimates, standard errors, degrees of freedom and domain sizes and
returns ``(low, high, flag)``; ``flag`` is an object array holding ``None`` or a short reason why
an interval is missing or one-sided. Beta quantiles at the extremes are special-cased, never left
to scipy (which returns NaN at a zero count).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError

__all__ = [
    "CI_METHODS",
    "PROPORTION_CI_METHODS",
    "confidence_interval",
    "t_quantile",
]

CI_METHODS: tuple[str, ...] = ("korn-graubard", "beta", "logit", "wilson", "wald")
PROPORTION_CI_METHODS: tuple[str, ...] = ("korn-graubard", "beta", "logit", "wilson")
_EPS = 1e-12

Interval = tuple[np.ndarray, np.ndarray, np.ndarray]


def t_quantile(q: float, df: np.ndarray) -> np.ndarray:
    """Student t quantile with ``df = inf`` giving the normal quantile and ``df <= 0`` NaN."""
    from scipy import special  # loaded at first use, not with the package

    df = np.asarray(df, dtype=np.float64)
    out = np.full(df.shape, np.nan)
    finite = np.isfinite(df) & (df > 0)
    # scipy.special's quantiles are what scipy.stats.t and norm compute (scipy.stats itself
    # costs 0.6 s of import time)
    out[finite] = special.stdtrit(df[finite], q)
    out[np.isposinf(df)] = special.ndtri(q)
    return out


def _flags(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def _set_flag(flag: np.ndarray, mask: np.ndarray, text: str) -> None:
    free = mask & pd.isna(flag)
    flag[free] = text


def _df_adjustment(alpha: float, n: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Korn-Graubard's factor (t_{n-1} / t_df)^2 (K&G 1998 eq. 2.2); 1 where n <= 1."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = t_quantile(1 - alpha / 2, n - 1.0) / t_quantile(1 - alpha / 2, df)
    return np.where(n > 1, ratio**2, 1.0)


def _beta_lower(alpha_half: float, x: np.ndarray, nn: np.ndarray) -> np.ndarray:
    """Clopper-Pearson lower bound B^-1(a; x, n - x + 1), 0 at x = 0."""
    from scipy import special  # loaded at first use, not with the package

    out = np.zeros(x.shape)
    ok = (x > 0) & np.isfinite(x) & np.isfinite(nn)
    out[ok] = special.betaincinv(x[ok], nn[ok] - x[ok] + 1.0, alpha_half)
    out[~(np.isfinite(x) & np.isfinite(nn))] = np.nan
    return out


def _beta_upper(alpha_half: float, x: np.ndarray, nn: np.ndarray) -> np.ndarray:
    """Clopper-Pearson upper bound B^-1(1 - a; x + 1, n - x), 1 at x = n."""
    from scipy import special  # loaded at first use, not with the package

    out = np.ones(x.shape)
    ok = (x < nn) & np.isfinite(x) & np.isfinite(nn)
    out[ok] = special.betaincinv(x[ok] + 1.0, nn[ok] - x[ok], 1.0 - alpha_half)
    out[~(np.isfinite(x) & np.isfinite(nn))] = np.nan
    return out


def wald(est: np.ndarray, se: np.ndarray, df: np.ndarray, n: np.ndarray, level: float) -> Interval:
    """Symmetric interval ``est +/- t_{df, 1-alpha/2} se``; flagged where ``se`` is 0."""
    t = t_quantile(1 - (1 - level) / 2, df)
    flag = _flags(est.shape[0])
    # A zero standard error (a share of 0 or 1, a constant) gives a zero-width interval: kept,
    # as Wald defines it, but flagged so that it is never read as certainty.
    _set_flag(flag, (se == 0) & np.isfinite(est),
              "se=0: zero-width Wald interval (p=0 or 1, or no variation); use "
              "korn-graubard for shares")
    return est - t * se, est + t * se, flag


def logit(est: np.ndarray, se: np.ndarray, df: np.ndarray, n: np.ndarray, level: float) -> Interval:
    """Wald interval on the log-odds, back-transformed (R ``xlogit``; Stata ``citype(logit)``).

    ``expit(logit(p) -/+ t se / (p (1 - p)))``; undefined at p = 0 or 1.
    """
    from scipy import special  # loaded at first use, not with the package

    t = t_quantile(1 - (1 - level) / 2, df)
    flag = _flags(est.shape[0])
    inside = (est > _EPS) & (est < 1 - _EPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = special.logit(est)
        half = t * se / (est * (1 - est))
        low = np.where(inside, special.expit(centre - half), np.nan)
        high = np.where(inside, special.expit(centre + half), np.nan)
    _set_flag(flag, ~inside & np.isfinite(est), "p=0 or 1: logit interval undefined; use korn-graubard")
    return low, high, flag


def beta(est: np.ndarray, se: np.ndarray, df: np.ndarray, n: np.ndarray, level: float) -> Interval:
    """R's ``svyciprop(method="beta")`` exactly: Korn-Graubard without the cap at n.

    ``n_eff = p(1-p)/se^2 (t_{n-1}/t_df)^2``; ``[B^-1(a/2; n_eff p, n_eff(1-p)+1),
    B^-1(1-a/2; n_eff p+1, n_eff(1-p))]``. NaN at p = 0 or 1 (R's ``0/0``).
    """
    alpha = 1 - level
    flag = _flags(est.shape[0])
    inside = (est > _EPS) & (est < 1 - _EPS) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = est * (1 - est) / se**2 * _df_adjustment(alpha, n, df)
    n_eff = np.where(inside, n_eff, np.nan)
    x = n_eff * est
    low = _beta_lower(alpha / 2, x, n_eff)
    high = _beta_upper(alpha / 2, x, n_eff)
    _set_flag(flag, ~inside & np.isfinite(est), "p=0 or 1: beta interval undefined; use korn-graubard")
    return low, high, flag


def korn_graubard(
    est: np.ndarray, se: np.ndarray, df: np.ndarray, n: np.ndarray, level: float
) -> Interval:
    """Korn-Graubard (1998) interval with the NCHS conventions (the default for prevalence).

    Clopper-Pearson at the df-adjusted effective sample size ``n* = n_eff (t_{n-1}/t_df)^2``,
    ``n_eff = p(1-p)/se^2``, capped at the domain's ``n``. At p = 0 or 1, ``n_eff = n`` (design
    effect 1) and the interval is one-sided (L = 0 or U = 1), as the NCHS SAS macro, CDC's
    ``surveytable`` and svy's ``"korn-graubard"``.
    """
    alpha = 1 - level
    flag = _flags(est.shape[0])
    boundary = (est <= _EPS) | (est >= 1 - _EPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(boundary, n, est * (1 - est) / se**2)
    n_star = np.minimum(n_eff * _df_adjustment(alpha, n, df), n)
    x = np.where(est <= _EPS, 0.0, np.where(est >= 1 - _EPS, n_star, n_star * est))
    low = _beta_lower(alpha / 2, x, n_star)
    high = _beta_upper(alpha / 2, x, n_star)
    _set_flag(flag, boundary & (est <= _EPS), "p=0: one-sided interval (NCHS)")
    _set_flag(flag, boundary & (est >= 1 - _EPS), "p=1: one-sided interval (NCHS)")
    return low, high, flag


def wilson(est: np.ndarray, se: np.ndarray, df: np.ndarray, n: np.ndarray, level: float) -> Interval:
    """Wilson score interval at the df-adjusted effective sample size (Franco et al. 2019).

    ``n* = n_eff (t_{n-1}/t_df)^2``; centre ``(p + t^2/(2n*))/(1 + t^2/n*)``, half-width
    ``t/(1 + t^2/n*) sqrt(p(1-p)/n* + t^2/(4 n*^2))``. Undefined at p = 0 or 1.
    """
    alpha = 1 - level
    flag = _flags(est.shape[0])
    inside = (est > _EPS) & (est < 1 - _EPS) & (se > 0)
    t = t_quantile(1 - alpha / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_star = est * (1 - est) / se**2 * _df_adjustment(alpha, n, df)
        z2 = t * t
        denom = 1 + z2 / n_star
        centre = (est + z2 / (2 * n_star)) / denom
        half = t / denom * np.sqrt(est * (1 - est) / n_star + z2 / (4 * n_star * n_star))
    low = np.where(inside, np.maximum(0.0, centre - half), np.nan)
    high = np.where(inside, np.minimum(1.0, centre + half), np.nan)
    _set_flag(flag, ~inside & np.isfinite(est), "p=0 or 1: wilson interval undefined; use korn-graubard")
    return low, high, flag


_METHODS: dict[str, Callable[..., Interval]] = {
    "korn-graubard": korn_graubard,
    "beta": beta,
    "logit": logit,
    "wilson": wilson,
    "wald": wald,
}


def confidence_interval(
    method: str,
    est: np.ndarray,
    se: np.ndarray,
    df: np.ndarray,
    n: np.ndarray,
    level: float,
) -> Interval:
    """Intervals by ``method`` for arrays of estimates; NaN bounds with a reason where undefined.

    Where ``df <= 0`` every method gives NaN bounds (never a zero-width interval); an empty
    domain (``n = 0``) gives NaN bounds too.
    """
    if method not in _METHODS:
        raise ArgumentError(f"`ci` must be one of {', '.join(CI_METHODS)}; got {method!r}")
    est = np.asarray(est, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    df = np.asarray(df, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    low, high, flag = _METHODS[method](est, se, df, n, level)
    empty = n <= 0
    bad_df = ~empty & ~(df > 0)
    low = np.where(empty | bad_df, np.nan, low)
    high = np.where(empty | bad_df, np.nan, high)
    flag = flag.copy()
    flag[bad_df] = "df<=0: no interval"
    flag[empty] = "empty domain"
    return low, high, flag
