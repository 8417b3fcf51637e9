"""Confidence intervals for the population: profile likelihoods, parametric bootstrap, Wald."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from flestimate.mse._model import newton

__all__ = [
    "Interval",
    "bootstrap_counts",
    "profile_multinomial",
    "profile_poisson",
    "refit_fixed",
    "wald",
]

#: How far (in log units of the unobserved count) the profile searches before giving up.
_LOG_RANGE = 40.0


@dataclass(frozen=True)
class Interval:
    """Bounds of the population and a note when one of them is open."""

    low: float
    high: float
    note: str = ""


def _bracket(
    g: Callable[[float], float], centre: float, step: float, direction: float, limit: float
) -> float | None:
    """First point ``centre + direction * step * 2^i`` (within ``limit``) where ``g > 0``."""
    s = step
    while s <= limit:
        c = centre + direction * s
        if g(c) > 0:
            return c
        s *= 2.0
    c = centre + direction * limit
    return c if g(c) > 0 else None


def profile_poisson(
    x: np.ndarray, y: np.ndarray, beta: np.ndarray, llf: float, se0: float, level: float
) -> Interval:
    """Profile-likelihood interval for ``N = n + exp(b0)``, profiling the intercept ``b0``.

    Notes
    -----
    For a fixed ``c`` the intercept enters as an offset and the other coefficients are
    maximised, giving ``l_p(c)``. The interval is ``{c : 2 (l_max - l_p(c)) <= chi2_1(level)}``,
    solved by Brent's method on each side and reported as ``n + exp(c)``. A side whose bound is
    not reached within 40 log units is open: the observed count below, infinity above.
    """
    q = float(2.0 * special.gammaincinv(0.5, level))  # chi2(1) quantile
    x_rest = x[:, 1:]
    start = [beta[1:].copy()]
    n = float(y.sum())

    def g(c: float) -> float:
        fit = newton(x_rest, y, offset=np.full(y.shape[0], c), start=start[0][None, :])
        if fit.converged[0]:
            start[0] = fit.beta[0]
        return float(2.0 * (llf - fit.llf[0]) - q)

    b0 = float(beta[0])
    step = max(se0, 0.01)
    notes = []
    lo_c = _bracket(g, b0, step, -1.0, _LOG_RANGE)
    start[0] = beta[1:].copy()
    if lo_c is None:
        low = n
        notes.append("lower bound not reached: set to the observed count")
    else:
        low = n + math.exp(optimize.brentq(g, lo_c, b0, xtol=1e-10, rtol=1e-12))
    start[0] = beta[1:].copy()
    hi_c = _bracket(g, b0, step, 1.0, _LOG_RANGE)
    if hi_c is None:
        high = math.inf
        notes.append("upper bound not reached: the likelihood is flat")
    else:
        start[0] = beta[1:].copy()
        high = n + math.exp(optimize.brentq(g, b0, hi_c, xtol=1e-10, rtol=1e-12))
    return Interval(low, high, "; ".join(notes))


def profile_multinomial(x: np.ndarray, y: np.ndarray, n_hat: float, level: float) -> Interval:
    """Profile multinomial likelihood interval for ``N`` (Cormack 1992; Rcapture's closedpCI).

    Notes
    -----
    For a fixed ``N`` the unobserved cell is given the count ``n_0 = N - n`` and the model is
    fitted to all ``2^k`` cells; the profile log-likelihood is

        l(N) = log N! - log n_0! + sum_h y_h log(mu_h / N) + n_0 log(mu_0 / N),

    the multinomial likelihood of the complete table. ``l`` is maximised over ``N > n`` (its
    maximiser is close to, but not equal to, the Poisson estimate ``n + exp(b0)``) and the
    interval is ``{N : 2 (l_max - l(N)) <= chi2_1(level)}``.
    """
    q = float(2.0 * special.gammaincinv(0.5, level))  # chi2(1) quantile
    n = float(y.sum())
    xa = np.vstack([x, np.eye(1, x.shape[1])])
    start: list[np.ndarray | None] = [None]
    lg_y = float(special.gammaln(y + 1.0).sum())

    def loglik(n_total: float) -> float:
        n0 = max(n_total - n, 0.0)
        ya = np.append(y, n0)
        fit = newton(xa, ya, start=None if start[0] is None else start[0][None, :])
        if fit.converged[0]:
            start[0] = fit.beta[0]
        mu = fit.mu[0]
        total = n + n0
        return float(
            special.gammaln(total + 1.0) - special.gammaln(n0 + 1.0) - lg_y
            + np.sum(special.xlogy(ya, mu / mu.sum()))
        )

    top = math.log(3.0 * n_hat)
    res = optimize.minimize_scalar(
        lambda t: -loglik(n + math.exp(t)), bounds=(math.log(1e-6), top), method="bounded",
        options={"xatol": 1e-9},
    )
    n_max = n + math.exp(float(res.x))
    l_max = -float(res.fun)

    def g(n_total: float) -> float:
        return 2.0 * (l_max - loglik(n_total)) - q

    notes = []
    lo_end = n + 1e-9
    if g(lo_end) > 0:
        low = optimize.brentq(g, lo_end, n_max, xtol=1e-8, rtol=1e-12)
    else:
        low = n
        notes.append("lower bound not reached: set to the observed count")
    high = math.inf
    upper = max(3.0 * n_hat, n_max * 1.5)
    while upper < n + (n_hat - n + 1.0) * math.exp(_LOG_RANGE):
        if g(upper) > 0:
            high = optimize.brentq(g, n_max, upper, xtol=1e-8, rtol=1e-12)
            break
        upper = n + (upper - n) * 4.0
    if not math.isfinite(high):
        notes.append("upper bound not reached: the likelihood is flat")
    return Interval(float(low), float(high), "; ".join(notes))


def wald(n: float, unobserved: float, se: float, level: float) -> Interval:
    """Wald interval on the log scale of the unobserved count (Chao 1987, eq. 12).

    Notes
    -----
    With ``f0 = exp(b0)`` the estimated uncaught and ``se`` the standard error of the
    population, ``C = exp(z sqrt(log(1 + se^2 / f0^2)))`` and the interval is
    ``(n + f0 / C, n + f0 C)``: never below the observed count.
    """
    z = float(special.ndtri(0.5 + level / 2.0))
    if unobserved <= 0:
        return Interval(n, n)
    c = math.exp(z * math.sqrt(math.log1p(se**2 / unobserved**2)))
    return Interval(n + unobserved / c, n + unobserved * c)


def bootstrap_counts(
    histories: np.ndarray, mu: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """``n_boot`` parametric bootstrap tables: ``y*_h ~ Poisson(mu_h)`` for every observable
    history, drawn as one ``(n_boot, 2^k - 1)`` matrix."""
    draws: np.ndarray = rng.poisson(mu, size=(n_boot, histories.shape[0])).astype(np.float64)
    return draws


def refit_fixed(
    x_full: np.ndarray, columns: list[int], counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Refit one model to many count vectors; return the populations and which fits succeeded.

    Notes
    -----
    A replicate in which a model term has a zero sufficient statistic (an interaction whose two
    lists share no case, a list with no case) has no finite MLE; its extended MLE fits zero to
    the cells carrying that term, which is the same as removing those cells and the term
    (Chan, Silverman and Vincent 2021), and that is what is fitted. A replicate whose remaining
    design is rank deficient or whose fit does not converge is reported as failed.
    """
    b, n = counts.shape
    p = x_full.shape[1]
    mask = np.zeros((b, p), dtype=bool)
    mask[:, columns] = True
    stat = counts @ x_full
    zero = mask & (stat <= 0)
    zero[:, 0] = False
    weights = np.where((zero.astype(np.float64) @ x_full.T) > 0, 0.0, 1.0)
    mask &= (weights @ x_full) > 0
    mask[:, 0] = True
    design_b = x_full[None, :, :] * (weights[:, :, None] > 0) * mask[:, None, :]
    rank_ok = np.linalg.matrix_rank(design_b) == mask.sum(axis=1)
    fit = newton(x_full, counts, mask=mask, weights=weights)
    with np.errstate(over="ignore"):
        population = counts.sum(axis=1) + np.exp(fit.beta[:, 0])
    ok = fit.converged & rank_ok & np.isfinite(population)
    return population, ok
