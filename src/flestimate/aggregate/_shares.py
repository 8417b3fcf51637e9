"""Shares of a total and ratios of totals with delta-method variances, and the interval helpers
the aggregation stage shares (normal, log-normal and logit intervals)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from flestimate._checks import check_choice, check_level
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, format_values

__all__ = ["SHARE_CI_METHODS", "ratio", "shares"]

#: Interval methods of :func:`shares`: ``logit`` (stays in [0, 1]) and ``wald``.
SHARE_CI_METHODS: tuple[str, ...] = ("logit", "wald")


# -- validation and intervals shared by the aggregation stage -----------------------------------
def z_quantile(level: float) -> float:
    """The two-sided normal quantile ``z_{1 - (1 - level)/2}``."""
    return float(special.ndtri(1.0 - (1.0 - level) / 2.0))


def normal_interval(est: np.ndarray, se: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """``est -/+ z se``."""
    return est - z * se, est + z * se


def lognormal_interval(est: np.ndarray, se: np.ndarray,
                       z: float) -> tuple[np.ndarray, np.ndarray]:
    """``est exp(-/+ z se / est)`` (the log-scale interval, delta method ``se(log T) = se/T``);
    ``(0, 0)`` at ``est = se = 0``, NaN at ``est = 0 < se``."""
    est = np.asarray(est, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    positive = est > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.exp(z * se / est)
        low = np.where(positive, est / factor, np.nan)
        high = np.where(positive, est * factor, np.nan)
    zero = (est == 0) & (se == 0)
    return np.where(zero, 0.0, low), np.where(zero, 0.0, high)


def share_interval(share: np.ndarray, se: np.ndarray, z: float,
                   method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logit (default) or Wald interval for shares, with a flag where the logit one is undefined.

    Logit: ``expit(logit(s) -/+ z se / (s (1 - s)))``. At ``s = 0`` or ``1`` with ``se = 0`` the
    interval is the point ``(s, s)``; at ``s = 0`` or ``1`` with ``se > 0`` (possible for a share
    of totals whose component is 0 with a positive SE) it falls back to the Wald interval clipped
    to [0, 1], and the flag says so. Wald intervals are clipped to [0, 1] too.
    """
    share = np.asarray(share, dtype=np.float64)
    se = np.asarray(se, dtype=np.float64)
    flag = np.full(share.shape, None, dtype=object)
    w_low = np.clip(share - z * se, 0.0, 1.0)
    w_high = np.clip(share + z * se, 0.0, 1.0)
    if method == "wald":
        return w_low, w_high, flag
    inside = (share > 0) & (share < 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = special.logit(share)
        half = z * se / (share * (1.0 - share))
        low = np.where(inside, special.expit(centre - half), w_low)
        high = np.where(inside, special.expit(centre + half), w_high)
    edge = ~inside & np.isfinite(share)
    point = edge & (se == 0)
    low = np.where(point, share, low)
    high = np.where(point, share, high)
    flag[point] = "share 0 or 1 with SE 0: the interval is the point"
    flag[edge & (se > 0)] = ("share 0 or 1: logit interval undefined; Wald interval clipped to "
                             "[0, 1]")
    return low, high, flag


def as_vector(value: Any, name: str, func: str) -> np.ndarray:
    """A one-dimensional float array, or an :class:`ArgumentTypeError` naming the argument."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"`{name}` of `{func}()` must be numbers; got {value!r}") from exc
    if arr.ndim > 1:
        raise ArgumentError(f"`{name}` of `{func}()` must be one-dimensional; got shape "
                            f"{arr.shape}")
    return np.atleast_1d(arr)


# -- shares ---------------------------------------------------------------------------------------
def shares(totals: Any, se: Any = None, *, names: Sequence[str] | None = None,
           level: float = 0.95, cov: Any = None, ci: str = "logit") -> pd.DataFrame:
    """Shares of a total made of the given component totals, with delta-method standard errors.

    Parameters
    ----------
    totals : array-like of float
        The component totals ``T_i`` (e.g. persons in forced labour by form), all >= 0 with a
        positive sum.
    se : array-like of float, optional
        Their standard errors; the components are taken as independent. Not needed when ``cov``
        is given (if both are given, ``se`` must equal the square roots of ``cov``'s diagonal).
    names : sequence of str, optional
        Component names (default ``component_0``, ``component_1``, ...).
    level : float
        Confidence level.
    cov : array-like (k x k), optional
        The covariance matrix of the totals, for components that are not independent (e.g. two
        forms estimated from one survey).
    ci : {"logit", "wald"}
        Logit intervals (default; they stay in [0, 1]) or Wald intervals clipped to [0, 1].

    Returns
    -------
    DataFrame
        One row per component: ``component, total, total_se, share, se, ci_low, ci_high,
        ci_flag``.

    Notes
    -----
    With ``T = sum_j T_j`` and ``s_i = T_i / T`` the gradient is ``ds_i/dT_j = (1[i = j] -
    s_i) / T``, so the delta-method covariance of the shares is ``G Sigma G'`` with
    ``G = (I - s 1') / T``. For independent components this is

        Var(s_i) = [ (1 - s_i)^2 Var(T_i) + s_i^2 sum_{j != i} Var(T_j) ] / T^2.

    Scaling every total and its SE by ``c > 0`` leaves the shares and their SEs unchanged; the
    shares sum to 1 and their covariance matrix has rows summing to 0. The logit interval is
    ``expit(logit(s) -/+ z se / (s (1 - s)))``.

    References
    ----------
    Wolter, K. M. (2007). *Introduction to Variance Estimation*, 2nd ed., Springer, ch. 6
    (Taylor series methods). Korn, E. L. and Graubard, B. I. (1999). *Analysis of Health
    Surveys*, Wiley, sec. 3.2 (ratio estimators).
    """
    func = "shares"
    level = check_level(level, func)
    check_choice(ci, SHARE_CI_METHODS, "ci", "shares")
    t = as_vector(totals, "totals", func)
    k = t.shape[0]
    labels = [f"component_{i}" for i in range(k)] if names is None else [str(n) for n in names]
    if len(labels) != k:
        raise ArgumentError(f"`names` of `shares()` must have one name per total ({k}); got "
                            f"{len(labels)}")
    if len(set(labels)) != k:
        raise ArgumentError(f"`names` of `shares()` must be unique; got {labels!r}")
    bad = ~np.isfinite(t) | (t < 0)
    if bad.any():
        raise DataError(f"`totals` of `shares()` must be finite and >= 0; got "
                        f"{format_values(t[bad])} for {format_values(np.array(labels)[bad])}")
    sigma = _covariance(se, cov, k, labels)
    whole = float(t.sum())
    if not whole > 0:
        raise DataError("`totals` of `shares()` must have a positive sum; got 0")
    share = t / whole
    grad = (np.eye(k) - np.outer(share, np.ones(k))) / whole
    var = np.einsum("ij,jk,ik->i", grad, sigma, grad)
    share_se = np.sqrt(np.maximum(var, 0.0))
    low, high, flag = share_interval(share, share_se, z_quantile(level), ci)
    out: pd.DataFrame = pd.DataFrame({
        "component": labels, "total": t, "total_se": np.sqrt(np.diag(sigma)), "share": share,
        "se": share_se, "ci_low": low, "ci_high": high, "ci_flag": flag})
    return out


def _covariance(se: Any, cov: Any, k: int, labels: Sequence[str]) -> np.ndarray:
    if cov is None:
        if se is None:
            raise ArgumentError("`shares()` needs the SEs of the totals: give `se` (independent "
                                "components) or `cov`")
        s = as_vector(se, "se", "shares")
        if s.shape[0] != k:
            raise ArgumentError(f"`se` of `shares()` must have one SE per total ({k}); got "
                                f"{s.shape[0]}")
        bad = ~np.isfinite(s) | (s < 0)
        if bad.any():
            raise DataError(f"`se` of `shares()` must be finite and >= 0; got "
                            f"{format_values(s[bad])} for "
                            f"{format_values(np.array(labels)[bad])}")
        out: np.ndarray = np.diag(s**2)
        return out
    try:
        sigma = np.asarray(cov, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"`cov` of `shares()` must be a numeric matrix; got "
                                f"{cov!r}") from exc
    if sigma.shape != (k, k):
        raise ArgumentError(f"`cov` of `shares()` must be a {k} x {k} matrix; got shape "
                            f"{sigma.shape}")
    if not np.all(np.isfinite(sigma)) or not np.allclose(sigma, sigma.T, rtol=1e-10,
                                                           atol=1e-12 * float(np.abs(sigma).max()
                                                                              or 1.0)):
        raise DataError("`cov` of `shares()` must be a finite symmetric matrix")
    if np.any(np.diag(sigma) < 0):
        raise DataError(f"`cov` of `shares()` has negative variances on its diagonal for "
                        f"{format_values(np.array(labels)[np.diag(sigma) < 0])}")
    if se is not None:
        s = as_vector(se, "se", "shares")
        if s.shape[0] != k or not np.allclose(s**2, np.diag(sigma), rtol=1e-8, atol=0.0):
            raise ArgumentError("`se` and `cov` of `shares()` disagree: `se` must be the square "
                                "roots of the diagonal of `cov` (or give only one of them)")
    return sigma


# -- ratios ---------------------------------------------------------------------------------------
def ratio(a: Any, se_a: Any, b: Any, se_b: Any, cov: Any = 0.0, *,
          level: float = 0.95) -> pd.DataFrame:
    """Ratios of totals ``R = a / b`` with delta-method standard errors and log-scale intervals.

    Parameters
    ----------
    a, se_a : float or array-like
        Numerator totals (>= 0) and their SEs.
    b, se_b : float or array-like
        Denominator totals (> 0) and their SEs.
    cov : float or array-like
        Covariance of numerator and denominator (0 for independent surveys).
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        ``a, b, ratio, se, ci_low, ci_high``, one row per (broadcast) input.

    Notes
    -----
    ``Var(R) = [Var(a) + R^2 Var(b) - 2 R Cov(a, b)] / b^2`` (first-order Taylor expansion,
    equal to ``R^2 [Var(a)/a^2 + Var(b)/b^2 - 2 Cov(a, b)/(a b)]`` for ``a > 0``). The interval
    is ``R exp(-/+ z se / R)``, the normal interval of ``log R``; it is ``(0, 0)`` at
    ``R = se = 0``.

    References
    ----------
    Wolter, K. M. (2007). *Introduction to Variance Estimation*, 2nd ed., Springer, sec. 6.2.
    """
    func = "ratio"
    level = check_level(level, func)
    arrays = [as_vector(v, n, func) for v, n in
              ((a, "a"), (se_a, "se_a"), (b, "b"), (se_b, "se_b"), (cov, "cov"))]
    try:
        va, sa, vb, sb, cab = np.broadcast_arrays(*arrays)
    except ValueError as exc:
        raise ArgumentError(f"`a`, `se_a`, `b`, `se_b` and `cov` of `ratio()` must have "
                            f"matching lengths; got {[x.shape[0] for x in arrays]}") from exc
    for values, name, ok in ((va, "a", va >= 0), (vb, "b", vb > 0), (sa, "se_a", sa >= 0),
                             (sb, "se_b", sb >= 0), (cab, "cov", np.isfinite(cab))):
        bad = ~(np.isfinite(values) & ok)
        if bad.any():
            need = "> 0" if name == "b" else ("finite" if name == "cov" else ">= 0")
            raise DataError(f"`{name}` of `ratio()` must be {need}; got "
                            f"{format_values(values[bad])} at position(s) "
                            f"{format_values(np.flatnonzero(bad))}")
    r = va / vb
    var = (sa**2 + r**2 * sb**2 - 2.0 * r * cab) / vb**2
    se = np.sqrt(np.maximum(var, 0.0))
    low, high = lognormal_interval(r, se, z_quantile(level))
    out: pd.DataFrame = pd.DataFrame({"a": va, "b": vb, "ratio": r, "se": se, "ci_low": low,
                                      "ci_high": high})
    return out
