"""The GLM families and iteratively reweighted least squares, for one weight vector or for
every replicate's at once.

The fit is R's ``glm.fit`` (the same starting values, working weights and deviance
convergence rule), written for an (n, R) matrix of weights: the full-sample fit is the case
R = 1, and a replicate design's refits are all R columns in one set of matrix products.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["FAMILIES", "Family", "Fit", "irls"]

Array = np.ndarray
_EPS = float(np.finfo(float).eps)
# R's logit link (src/library/stats/src/family.c): eta beyond +-30 is a fitted 0 or 1.
_THRESH = 30.0


def _logit_inv(eta: Array) -> Array:
    e = np.where(eta < -_THRESH, _EPS,
                 np.where(eta > _THRESH, 1.0 / _EPS, np.exp(np.clip(eta, -_THRESH, _THRESH))))
    out: Array = e / (1.0 + e)
    return out


def _logit_mu_eta(eta: Array) -> Array:
    e = np.exp(np.clip(eta, -_THRESH, _THRESH))
    out: Array = np.where(np.abs(eta) > _THRESH, _EPS, e / (1.0 + e) ** 2)
    return out


def _logit_both(eta: Array) -> tuple[Array, Array]:
    """``_logit_inv`` and ``_logit_mu_eta`` from one exponential (the same numbers)."""
    e = np.exp(np.clip(eta, -_THRESH, _THRESH))
    one_e = 1.0 + e
    mu = np.where(eta < -_THRESH, _EPS / (1.0 + _EPS),
                  np.where(eta > _THRESH, (1.0 / _EPS) / (1.0 + 1.0 / _EPS), e / one_e))
    d = np.where(np.abs(eta) > _THRESH, _EPS, e / one_e**2)
    return mu, d


def _xlogy(y: Array, mu: Array) -> Array:
    """``y log(y / mu)``, 0 where y is 0 (R's ``y_log_y``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Array = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return out


def _binomial_deviance(y: Array, mu: Array, w: Array) -> Array:
    """R's binomial deviance residuals for a 0/1 outcome (the only one glm() accepts):
    ``y log(y / mu) + (1 - y) log((1 - y) / (1 - mu))`` is ``-log mu`` or ``-log(1 - mu)``,
    one logarithm per row."""
    with np.errstate(divide="ignore"):
        return np.asarray(-2.0 * w * np.log(np.where(y > 0.5, mu, 1.0 - mu)))


def _poisson_deviance(y: Array, mu: Array, w: Array) -> Array:
    return np.asarray(2.0 * w * (_xlogy(y, mu) - (y - mu)))


@dataclass(frozen=True)
class Family:
    """A GLM family with its canonical link (R ``gaussian()``, ``quasibinomial()``,
    ``quasipoisson()``: the quasi families have the same fit and sandwich)."""

    name: str
    link: str
    linkfun: Callable[[Array], Array]
    linkinv: Callable[[Array], Array]
    mu_eta: Callable[[Array], Array]
    variance: Callable[[Array], Array]
    deviance: Callable[[Array, Array, Array], Array]  # per-row deviance residuals
    mustart: Callable[[Array, Array], Array]  # R's ``family$initialize``
    #: ``(linkinv(eta), mu_eta(eta))`` at once where they share work (None: both called)
    both: Callable[[Array], tuple[Array, Array]] | None = None

    def mean_and_derivative(self, eta: Array) -> tuple[Array, Array]:
        if self.both is not None:
            return self.both(eta)
        return self.linkinv(eta), self.mu_eta(eta)


FAMILIES: dict[str, Family] = {
    "gaussian": Family(
        "gaussian", "identity", lambda mu: mu, lambda eta: eta, np.ones_like,
        np.ones_like, lambda y, mu, w: np.asarray(w * (y - mu) ** 2),
        lambda y, w: np.broadcast_to(y, w.shape).astype(float)),
    "binomial": Family(
        "binomial", "logit", lambda mu: np.log(mu / (1.0 - mu)), _logit_inv, _logit_mu_eta,
        lambda mu: mu * (1.0 - mu), _binomial_deviance,
        lambda y, w: (w * y + 0.5) / (w + 1.0), _logit_both),
    "poisson": Family(
        "poisson", "log", np.log, lambda eta: np.maximum(np.exp(eta), _EPS),
        lambda eta: np.maximum(np.exp(eta), _EPS), lambda mu: mu, _poisson_deviance,
        lambda y, w: np.broadcast_to(y + 0.1, w.shape).astype(float)),
}


@dataclass(frozen=True)
class Fit:
    """The coefficients of every weight column, (R, p), and how the iterations ended."""

    beta: Array
    iterations: int
    converged: bool
    mu: Array  # (n, R) fitted means


def _cross(X: Array, W: Array) -> Array:
    """``X' diag(W[:, r]) X`` for every column r at once, (R, p, p).

    One weight column (the full-sample fit) is one matrix product; several (the replicate
    refits) are one product of the weights with the rows' outer products, of which only the
    upper triangle is formed (the matrices are symmetric)."""
    n, p = X.shape
    if W.shape[1] == 1:
        return np.asarray(((X * W).T @ X)[None])
    upper_i, upper_j = np.triu_indices(p)
    sums = W.T @ (X[:, upper_i] * X[:, upper_j])
    out = np.empty((W.shape[1], p, p))
    out[:, upper_i, upper_j] = sums
    out[:, upper_j, upper_i] = sums
    return out


#: From this many rows a single fit's Newton directions use X'WX in single precision.
SINGLE_PRECISION_ROWS = 200_000


def _cross32(X: Array) -> Callable[[Array, Array], Array]:
    """``_cross`` for one weight column, in single precision (X converted once)."""
    x32 = np.asarray(X, dtype=np.float32, order="F")

    def cross(_: Array, W: Array) -> Array:
        w32 = W.astype(np.float32)
        return np.asarray(((x32 * w32).T @ x32).astype(np.float64)[None])

    return cross


def _solve(A: Array, b: Array) -> Array:
    return np.asarray(np.linalg.solve(A, b[:, :, None])[:, :, 0])


def irls(family: Family, X: Array, y: Array, W: Array, start: Array | None = None,
         tol: float = 1e-12, max_iter: int = 100) -> Fit:
    """Fisher scoring for the weight columns ``W`` (n, R) at once.

    Notes
    -----
    Without ``start`` the first step is R's weighted least squares from ``family$initialize``:
    ``beta = (X'WX)^{-1} X'W z`` with ``z = eta + (y - mu) / mu.eta(eta)`` and working weights
    ``W = w mu.eta^2 / V(mu)``. The later steps are the same update written as a correction,
    ``beta += (X'WX)^{-1} X' w (y - mu) mu.eta / V(mu)``, so that the fixed point solves the
    score equations to rounding whatever the conditioning of ``X'WX``. The iterations stop when
    every column's deviance changes by less than ``tol (|dev| + 0.1)`` (R's ``glm.control``
    rule, with ``epsilon = tol``). A replicate design starts every column at the full-sample
    estimate, as R's ``svyglm.svyrep.design``.
    """
    y2 = y[:, None]
    if start is None:
        eta = family.linkfun(family.mustart(y2, W))
        mu, d = family.linkinv(eta), family.mu_eta(eta)
        ww = W * d**2 / family.variance(mu)
        z = eta + (y2 - mu) / d
        beta = _solve(_cross(X, ww), (ww * z).T @ X)
    else:
        beta = np.array(np.broadcast_to(start, (W.shape[1], X.shape[1])), dtype=float)
    # A large single fit takes its Newton directions from X'WX in single precision (half the
    # time of the dominant product): the score stays double, so the fixed point, and the
    # convergence rule, are the same; the direction's 1e-7 error only adds a linear rate of
    # about 1e-7 to the quadratic one.
    cross = (_cross32(X) if W.shape[1] == 1 and X.shape[0] >= SINGLE_PRECISION_ROWS
             else _cross)
    dev = np.full(W.shape[1], np.inf)
    for iteration in range(1, max_iter + 1):
        eta = X @ beta.T
        mu, d = family.mean_and_derivative(eta)
        new_dev = family.deviance(y2, mu, W).sum(axis=0)
        if np.all(np.abs(new_dev - dev) < tol * (np.abs(new_dev) + 0.1)):
            return Fit(beta, iteration, True, mu)
        dev = new_dev
        v = family.variance(mu)
        score = (W * (y2 - mu) * d / v).T @ X
        beta = beta + _solve(cross(X, W * d**2 / v), score)
    eta = X @ beta.T
    return Fit(beta, max_iter, False, family.linkinv(eta))
