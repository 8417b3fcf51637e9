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
    mu, d = e / one_e, e / one_e**2
    far = np.abs(eta) > _THRESH
    if far.any():  # R's fitted 0 and 1 (rare: the selections only then)
        mu = np.where(eta < -_THRESH, _EPS / (1.0 + _EPS),
                      np.where(eta > _THRESH, (1.0 / _EPS) / (1.0 + 1.0 / _EPS), mu))
        d = np.where(far, _EPS, d)
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
    #: canonical link: ``mu.eta = V(mu)``, so the IRLS's ratio ``mu.eta / V`` is 1
    canonical: bool = True

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
    mu_eta: Array  # (n, R) d mu / d eta at the fitted means (the sandwich's, reused)
    #: ``X' diag(W mu.eta^2 / V) X`` at ``beta`` (1, p, p) when the last pass computed it
    gram: Array | None = None


def _cross(X: Array, W: Array) -> Array:
    """``X' diag(W[:, r]) X`` for every column r at once, (R, p, p).

    One weight column (the full-sample fit) is one product ``Z'Z`` with ``Z = diag(sqrt W) X``
    (BLAS ``syrk``, which numpy calls for ``Z.T @ Z``: several times faster than the general
    product ``(W X)' X`` for a tall X; the weights are never negative); several (the replicate
    refits) are one product of the weights with the rows' outer products, of which only the
    upper triangle is formed (the matrices are symmetric)."""
    n, p = X.shape
    if W.shape[1] == 1:
        z = X * np.sqrt(W)
        return np.asarray((z.T @ z)[None])
    upper_i, upper_j = np.triu_indices(p)
    sums = W.T @ (X[:, upper_i] * X[:, upper_j])
    out = np.empty((W.shape[1], p, p))
    out[:, upper_i, upper_j] = sums
    out[:, upper_j, upper_i] = sums
    return out


#: From this many rows a single fit's passes go through the rows in blocks (`_block_pass`).
BLOCK_FROM_ROWS = 200_000
#: Rows per block: the block's temporaries (about 1.5 MB for 22 columns) stay in cache.
BLOCK_ROWS = 8_192


def _block_pass(family: Family, X: Array, y: Array, w: Array, beta: Array, mu: Array,
                d: Array) -> tuple[float, Array, Array]:
    """One pass over one weight column's rows, in blocks of ``BLOCK_ROWS``: the fitted means
    and their derivatives at ``beta`` (written into ``mu`` and ``d``), the deviance, the score
    ``X' w (y - mu) mu.eta / V`` and ``X' diag(w mu.eta^2 / V) X`` (one symmetric product
    ``Z'Z`` per block). The same sums as whole-column operations, with every intermediate
    in cache instead of a trip through memory per operation: about two thirds of the time."""
    n, p = X.shape
    dev, score, cross = 0.0, np.zeros(p), np.zeros((p, p))
    for first in range(0, n, BLOCK_ROWS):
        rows = slice(first, first + BLOCK_ROWS)
        xb, wb, yb = X[rows], w[rows], y[rows]
        mb, db = family.mean_and_derivative(xb @ beta)
        mu[rows], d[rows] = mb, db
        dev += float(family.deviance(yb, mb, wb).sum())
        if family.canonical:  # mu.eta / V = 1: fewer operations, the same numbers to 1 ulp
            resid, weight = wb * (yb - mb), wb * db
        else:
            v = family.variance(mb)
            resid, weight = wb * (yb - mb) * db / v, wb * db**2 / v
        score += resid @ xb
        z = xb * np.sqrt(weight)[:, None]
        cross += z.T @ z
    return dev, score, cross


def _irls_blocks(family: Family, X: Array, y: Array, w: Array, beta: Array, tol: float,
                 max_iter: int) -> Fit:
    """:func:`irls` for one large weight column ``w`` (n,) from ``beta`` (1, p): the same
    Newton steps and convergence rule, each iteration one :func:`_block_pass`. The pass that
    finds convergence has computed ``X'WX`` at the returned coefficients: kept as the fit's
    ``gram`` (the sandwich's ``A``)."""
    n = X.shape[0]
    mu, d = np.empty(n), np.empty(n)
    dev = np.inf
    for iteration in range(1, max_iter + 1):
        new_dev, score, cross = _block_pass(family, X, y, w, beta[0], mu, d)
        if abs(new_dev - dev) < tol * (abs(new_dev) + 0.1):
            return Fit(beta, iteration, True, mu[:, None], d[:, None], cross[None])
        dev = new_dev
        beta = beta + np.linalg.solve(cross, score)[None, :]
    _block_pass(family, X, y, w, beta[0], mu, d)
    return Fit(beta, max_iter, False, mu[:, None], d[:, None])


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
    if W.shape[1] == 1 and X.shape[0] >= BLOCK_FROM_ROWS:
        return _irls_blocks(family, X, y, W[:, 0], beta, tol, max_iter)
    dev = np.full(W.shape[1], np.inf)
    for iteration in range(1, max_iter + 1):
        eta = X @ beta.T
        mu, d = family.mean_and_derivative(eta)
        new_dev = family.deviance(y2, mu, W).sum(axis=0)
        if np.all(np.abs(new_dev - dev) < tol * (np.abs(new_dev) + 0.1)):
            return Fit(beta, iteration, True, mu, d)
        dev = new_dev
        v = family.variance(mu)
        score = (W * (y2 - mu) * d / v).T @ X
        beta = beta + _solve(_cross(X, W * d**2 / v), score)
    mu, d = family.mean_and_derivative(X @ beta.T)
    return Fit(beta, max_iter, False, mu, d)
