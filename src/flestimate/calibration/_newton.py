"""The Newton iteration of calibration, expression for expression as R survey 4.1.1's
``grake()``, its distance functions (R's ``calfun`` objects) and the closed form of unbounded
linear calibration (R's ``regcalibrate()``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# R grake(): when every population total exceeds SOMETHRESHOLD times its sample estimate, the
# design weights are scaled by the mean ratio before the iterations so that Newton starts near
# the solution; the factor is multiplied back into g at the end.
RESCALE_THRESHOLD = 20.0
# MASS::ginv(Tmat, tol = 256 * .Machine$double.eps) in grake(): singular values below this
# fraction of the largest one are dropped, so a Newton step never blows up on a rank-deficient
# Hessian (e.g. when every unit of a category sits at a bound).
_GINV_RCOND = 256.0 * np.finfo(np.float64).eps

Calfun = Callable[[np.ndarray, float, float], np.ndarray]


# --------------------------------------------------------------------------- distance functions
# Each calibration method is a pair (F - 1, F') of the inverse derivative of its distance, as R
# survey's `calfun` objects cal.linear, cal.raking and cal.logit define them, expression for
# expression, so that the Newton path (and hence the stopping point) is R's.


def _linear_fm1(u: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return np.asarray(np.minimum(np.maximum(u + 1.0, lower), upper) - 1.0)


def _linear_df(u: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return ((u < upper - 1.0) & (u > lower - 1.0)).astype(np.float64)


def _raking_fm1(u: np.ndarray, lower: float, upper: float) -> np.ndarray:
    return np.asarray(np.minimum(np.maximum(np.exp(u), lower), upper) - 1.0)


def _raking_df(u: np.ndarray, lower: float, upper: float) -> np.ndarray:
    # R's cal.raking tests u against the bounds minus 1 (not log of the bounds); this only
    # shapes the Newton path, never the solution, and is kept so the iterates are R's.
    return np.where((u < upper - 1.0) & (u > lower - 1.0), np.exp(u), 0.0)


def _logit_fm1(u: np.ndarray, lower: float, upper: float) -> np.ndarray:
    a = (upper - lower) / ((upper - 1.0) * (1.0 - lower))
    e = np.exp(a * u)
    return np.asarray(
        (lower * (upper - 1.0) + upper * (1.0 - lower) * e) / (upper - 1.0 + (1.0 - lower) * e)
        - 1.0
    )


def _logit_df(u: np.ndarray, lower: float, upper: float) -> np.ndarray:
    a = (upper - lower) / ((upper - 1.0) * (1.0 - lower))
    e = np.exp(a * u)
    den = upper - 1.0 + (1.0 - lower) * e
    num = lower * (upper - 1.0) + upper * (1.0 - lower) * e
    return np.asarray(upper * (1.0 - lower) * e * a / den - num * ((1.0 - lower) * e * a) / den**2)


CALFUNS: dict[str, tuple[Calfun, Calfun]] = {
    "linear": (_linear_fm1, _linear_df),
    "raking": (_raking_fm1, _raking_df),
    "logit": (_logit_fm1, _logit_df),
}


def greg(x: np.ndarray, d: np.ndarray, target: np.ndarray) -> np.ndarray:
    """R regcalibrate(): g = 1 + X solve(X' D X, T - X' d)."""
    xd = x * d[:, None]
    lam = np.linalg.solve(x.T @ xd, target - xd.sum(axis=0))
    return np.asarray(1.0 + x @ lam)


def newton(
    x: np.ndarray,
    d: np.ndarray,
    target: np.ndarray,
    fm1: Calfun,
    dfun: Calfun,
    lower: float,
    upper: float,
    max_iter: int,
    tol: float,
    rescale: bool,
) -> tuple[np.ndarray, int, bool, float | None]:
    """R grake(): Newton steps on the multipliers; returns g, iterations, converged, scale.

    From lambda = 0, with ``ginv`` the Moore-Penrose inverse (singular values below 256 eps
    times the largest dropped)::

        H_k         = sum_i d_i F'(x_i' lambda_k) x_i x_i'
        lambda_k+1  = lambda_k + ginv(H_k) (T - sum_i d_i F(x_i' lambda_k) x_i)

    a step being halved while it gives non-finite g (each halving counts as an iteration).
    With ``rescale``, when every target exceeds RESCALE_THRESHOLD times its sample total, d is
    first scaled by the mean ratio and the scale multiplied back into g.
    """
    sample_total = x.T @ d
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = target / sample_total
    scale: float | None = None
    if rescale and np.min(ratios) > RESCALE_THRESHOLD:
        scale = float(np.mean(ratios))
        d = d * scale
        sample_total = sample_total * scale

    eta = np.zeros(x.shape[1])
    xeta = x @ eta
    deriv = dfun(xeta, lower, upper)
    iteration = 1
    converged = False
    # Overflow of exp() in a long step is expected: it is caught by the step halving below.
    with np.errstate(over="ignore", invalid="ignore"):
        while True:
            hess = (x * (d * deriv)[:, None]).T @ x
            misfit = target - sample_total - x.T @ (d * fm1(xeta, lower, upper))
            deta = np.linalg.pinv(hess, rcond=_GINV_RCOND) @ misfit
            eta = eta + deta
            xeta = x @ eta
            gm1 = fm1(xeta, lower, upper)
            deriv = dfun(xeta, lower, upper)
            while iteration < max_iter and not (np.all(np.isfinite(gm1))
                                                and np.all(np.isfinite(deriv))):
                iteration += 1
                deta = deta / 2.0
                eta = eta - deta
                xeta = x @ eta
                gm1 = fm1(xeta, lower, upper)
                deriv = dfun(xeta, lower, upper)
            misfit = target - sample_total - x.T @ (d * gm1)
            if np.all(np.abs(misfit) / (1.0 + np.abs(target)) < tol):
                converged = True
                break
            iteration += 1
            if iteration > max_iter or not np.all(np.isfinite(misfit)):
                break
    g = 1.0 + gm1
    if scale is not None:
        g = g * scale
    return g, min(iteration, max_iter), converged, scale

