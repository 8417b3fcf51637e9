"""The Poisson log-linear model over capture histories: design, batched fitting, admissibility.

A model is a set of two-list interactions (pairs of list indexes) on top of the intercept and the
main effects. Every model is a column subset of one full design, so many models (or one model on
many count vectors) are fitted at once by a masked, batched Newton-Raphson iteration; the
selected model is refitted with statsmodels for the reported coefficients.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from flestimate.mse._table import CaptureTable

__all__ = [
    "AdmissibilityCache",
    "BatchFit",
    "Pair",
    "all_pairs",
    "design",
    "newton",
    "pair_columns",
]

Pair = tuple[int, int]

#: Newton-Raphson stops when no parameter moves by more than this.
_STEP_TOL = 1e-9
#: A coefficient this large (e^35 ~ 1.6e15) means the iteration is running off to infinity.
_DIVERGED = 35.0
#: The LP optimum below which the MLE is judged not to exist (counts are whole numbers).
_LP_TOL = 1e-7


def all_pairs(k: int) -> list[Pair]:
    """The ``k (k - 1) / 2`` list pairs in canonical order (1:2, 1:3, ..., 2:3, ...)."""
    return list(itertools.combinations(range(k), 2))


def design(histories: np.ndarray, pairs: Sequence[Pair]) -> np.ndarray:
    """Design matrix ``[1, x_1, ..., x_k, x_a x_b for (a, b) in pairs]`` over the histories."""
    h = histories.astype(np.float64)
    cols = [np.ones(h.shape[0]), *h.T, *(h[:, a] * h[:, b] for a, b in pairs)]
    return np.column_stack(cols)


def pair_columns(k: int, pairs: Iterable[Pair]) -> list[int]:
    """Column positions of ``pairs`` in the full design ``design(h, all_pairs(k))``."""
    index = {p: 1 + k + i for i, p in enumerate(all_pairs(k))}
    return [index[p] for p in pairs]


@dataclass(frozen=True)
class BatchFit:
    """Maximum likelihood fits of ``M`` Poisson models sharing one design.

    Attributes
    ----------
    beta : ndarray, shape (M, p)
        Coefficients; zero for columns outside a model.
    cov : ndarray, shape (M, p, p)
        Inverse Fisher information (zero rows and columns outside a model).
    llf : ndarray, shape (M,)
        Poisson log-likelihood ``sum w (y log mu - mu - log y!)``.
    deviance : ndarray, shape (M,)
    mu : ndarray, shape (M, n)
        Fitted means.
    converged : ndarray of bool, shape (M,)
        False where Newton-Raphson did not settle (typically an MLE that does not exist).
    """

    beta: np.ndarray
    cov: np.ndarray
    llf: np.ndarray
    deviance: np.ndarray
    mu: np.ndarray
    converged: np.ndarray

    @property
    def se(self) -> np.ndarray:
        out: np.ndarray = np.sqrt(np.clip(np.diagonal(self.cov, axis1=1, axis2=2), 0.0, None))
        return out


def _loglik(y: np.ndarray, w: np.ndarray, eta: np.ndarray, lgy: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        mu = np.exp(eta)
        terms = np.where(w > 0, np.where(y > 0, y * eta, 0.0) - mu - lgy, 0.0)
        out: np.ndarray = (w * terms).sum(axis=1)
    return np.where(np.isfinite(out), out, -np.inf)


def _masked_solve(h: np.ndarray, g: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Solve ``H d = g`` per model over its active columns (inactive ones give d = 0)."""
    off = ~mask
    h = h.copy()
    h[off[:, :, None] | off[:, None, :]] = 0.0
    idx = np.nonzero(off)
    h[idx[0], idx[1], idx[1]] = 1.0
    g = np.where(mask, g, 0.0)
    try:
        d: np.ndarray = np.linalg.solve(h, g[..., None])[..., 0]
    except np.linalg.LinAlgError:
        d = (np.linalg.pinv(h) @ g[..., None])[..., 0]
    return np.where(mask, d, 0.0)


def _masked_inverse(h: np.ndarray, mask: np.ndarray) -> np.ndarray:
    off = ~mask
    h = h.copy()
    h[off[:, :, None] | off[:, None, :]] = 0.0
    idx = np.nonzero(off)
    h[idx[0], idx[1], idx[1]] = 1.0
    try:
        inv: np.ndarray = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(h)
    inv[off[:, :, None] | off[:, None, :]] = 0.0
    return inv


def newton(
    x: np.ndarray,
    y: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    start: np.ndarray | None = None,
    max_iter: int = 100,
) -> BatchFit:
    """Fit ``M`` Poisson log-linear models at once by Newton-Raphson with step halving.

    Parameters
    ----------
    x : ndarray, shape (n, p)
        The full design.
    y : ndarray, shape (n,) or (M, n)
        Counts; one row per fit.
    mask : ndarray of bool, shape (p,) or (M, p), optional
        Columns of ``x`` in each model (default all).
    weights : ndarray, shape (n,) or (M, n), optional
        0/1 cell weights: a zero removes the cell from the likelihood.
    offset : ndarray, shape (n,) or (M, n), optional
        Known part of the linear predictor (the profile likelihood fixes the intercept here).
    start : ndarray, shape (M, p), optional
        Starting values; by default one weighted least-squares step on ``log(y + 0.5)``, as in
        IRLS.
    max_iter : int
        Iterations before a fit is declared not converged.

    Notes
    -----
    With ``mu = exp(offset + X beta)`` the score is ``X' W (y - mu)`` and the information
    ``X' W diag(mu) X``; each iteration solves the masked Newton system for every unconverged
    model and halves the step while the log-likelihood falls. A fit has converged when no
    coefficient moves by more than 1e-9 (relative to its size). Where the MLE does not exist
    some fitted means tend to zero and the coefficients drift by about one per iteration, so the
    fit is reported as not converged; so is one with a coefficient beyond +-35 (the
    log-likelihood can flatten out before the steps become small).
    """
    x = np.asarray(x, dtype=np.float64)
    n, p = x.shape
    y2 = np.atleast_2d(np.asarray(y, dtype=np.float64))
    m = y2.shape[0]
    msk = np.ones((m, p), dtype=bool) if mask is None else np.broadcast_to(mask, (m, p)).copy()
    w = np.ones((m, n)) if weights is None else np.broadcast_to(weights, (m, n)).astype(float)
    off = np.zeros((m, n)) if offset is None else np.broadcast_to(offset, (m, n)).astype(float)
    prob = _Problem(x, y2, msk, w, off, special.gammaln(y2 + 1.0),
                    (x[:, :, None] * x[:, None, :]).reshape(n, p * p))
    beta = _start(prob, start)
    ll = _loglik(y2, w, off + beta @ x.T, prob.lgy)
    converged = np.zeros(m, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(~converged)
        if idx.size == 0:
            break
        new, delta, ll[idx] = _newton_step(prob, idx, beta[idx], ll[idx])
        beta[idx] = new
        step = np.abs(delta).max(axis=1) / (1.0 + np.abs(new).max(axis=1))
        converged[idx] = step < _STEP_TOL
    return _batch_fit(prob, beta, ll, converged)


@dataclass(frozen=True)
class _Problem:
    """The data of a batch of fits: the design ``x`` (n, p), counts ``y`` (M, n), column masks
    (M, p), cell weights and offsets (M, n), ``log y!`` and the rows' outer products
    ``x_i x_i'`` flattened (n, p * p), which give every information matrix by one product."""

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    w: np.ndarray
    off: np.ndarray
    lgy: np.ndarray
    xx: np.ndarray

    def information(self, wmu: np.ndarray) -> np.ndarray:
        """``X' diag(w mu) X`` for each row of ``wmu``, shape (rows, p, p)."""
        p = self.x.shape[1]
        out: np.ndarray = (wmu @ self.xx).reshape(wmu.shape[0], p, p)
        return out


def _start(prob: _Problem, start: np.ndarray | None) -> np.ndarray:
    """Starting coefficients: ``start`` within each model's columns, or one weighted
    least-squares step on ``log(y + 0.5)`` (as IRLS starts)."""
    m, p = prob.mask.shape
    if start is not None:
        out: np.ndarray = np.where(prob.mask, np.broadcast_to(start, (m, p)), 0.0).astype(
            np.float64)
        return out
    mu0 = prob.y + 0.5
    z = np.log(mu0) - prob.off
    wm = prob.w * mu0
    return _masked_solve(prob.information(wm), (wm * z) @ prob.x, prob.mask)


def _newton_step(prob: _Problem, idx: np.ndarray, b: np.ndarray,
                 ll_old: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Newton-Raphson step of the fits ``idx`` from ``b``: the new coefficients, the step
    taken and the new log-likelihood; a step that lowers the log-likelihood is halved (up to
    40 times) until it does not."""
    x = prob.x
    with np.errstate(over="ignore"):
        mu = np.exp(prob.off[idx] + b @ x.T)
    g = (prob.w[idx] * (prob.y[idx] - mu)) @ x
    h = prob.information(prob.w[idx] * mu)
    delta = _masked_solve(h, g, prob.mask[idx])
    new = b + delta
    ll_new = _loglik(prob.y[idx], prob.w[idx], prob.off[idx] + new @ x.T, prob.lgy[idx])
    worse = ll_new < ll_old - 1e-10 * (1.0 + np.abs(ll_old))
    for _halving in range(40):
        if not worse.any():
            break
        delta[worse] *= 0.5
        new[worse] = b[worse] + delta[worse]
        sub = np.flatnonzero(worse)
        ll_new[sub] = _loglik(
            prob.y[idx[sub]], prob.w[idx[sub]], prob.off[idx[sub]] + new[sub] @ x.T,
            prob.lgy[idx[sub]]
        )
        worse = ll_new < ll_old - 1e-10 * (1.0 + np.abs(ll_old))
    return new, delta, ll_new


def _batch_fit(prob: _Problem, beta: np.ndarray, ll: np.ndarray,
               converged: np.ndarray) -> BatchFit:
    """The fits at their final coefficients: fitted means, the inverse information, the
    deviance; a fit with an infinite log-likelihood or a coefficient beyond +-35 has not
    converged."""
    y2, w = prob.y, prob.w
    with np.errstate(over="ignore"):
        mu = np.exp(prob.off + beta @ prob.x.T)
    cov = _masked_inverse(prob.information(w * mu), prob.mask)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev_terms = np.where(y2 > 0, y2 * np.log(y2 / mu), 0.0) - (y2 - mu)
    deviance = 2.0 * (w * dev_terms).sum(axis=1)
    converged = converged & np.isfinite(ll) & np.all(np.abs(beta) < _DIVERGED, axis=1)
    return BatchFit(beta=beta, cov=cov, llf=ll, deviance=deviance, mu=mu, converged=converged)


def mle_exists(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether the Poisson MLE exists: the linear program of Fienberg and Rinaldo (2012).

    Notes
    -----
    The MLE of a log-linear model with design ``A = X'`` exists if and only if the sufficient
    statistic ``t = X' y`` lies in the relative interior of the marginal cone, i.e. some strictly
    positive table ``z`` has ``X' z = t``. The program maximises ``s`` subject to ``X' z = t``,
    ``z_h >= s``, ``z >= 0``; the MLE exists when the optimum is positive (the test of
    ``checkident`` in Chan, Silverman and Vincent's SparseMSE).
    """
    n, p = x.shape
    c = np.zeros(n + 1)
    c[-1] = -1.0
    a_eq = np.hstack([x.T, np.zeros((p, 1))])
    a_ub = np.hstack([-np.eye(n), np.ones((n, 1))])
    res = optimize.linprog(
        c, A_ub=a_ub, b_ub=np.zeros(n), A_eq=a_eq, b_eq=x.T @ y,
        bounds=[(0.0, None)] * (n + 1), method="highs",
    )
    return bool(res.status == 0 and res.fun is not None and -res.fun > _LP_TOL)


class AdmissibilityCache:
    """Which interaction sets give an identifiable model with an existing MLE, for one table.

    A set is admissible when every pair in it has an overlap (some case on both lists), the
    design over the ``2^k - 1`` histories has full column rank, and the MLE exists (the linear
    program of :func:`mle_exists`). Rank and existence are inherited by subsets, so a set whose
    superset passed needs no check and one whose subset failed fails too.
    """

    def __init__(self, table: CaptureTable) -> None:
        self.table = table
        self.k = table.k
        self.pairs = all_pairs(table.k)
        self.x_full = design(table.histories, self.pairs)
        ov = table.overlap()
        self.overlapping = frozenset(p for p in self.pairs if ov[p] > 0)
        self._good: list[frozenset[Pair]] = []
        self._bad: list[frozenset[Pair]] = []
        self._reason: dict[frozenset[Pair], str] = {}
        self._primed = False

    def columns(self, pairs: Iterable[Pair]) -> list[int]:
        return list(range(1 + self.k)) + pair_columns(self.k, pairs)

    def reason(self, pairs: Iterable[Pair]) -> str | None:
        """``None`` if admissible, else a short reason (used in error messages)."""
        key = frozenset(pairs)
        empty = sorted(key - self.overlapping)
        if empty:
            return (
                "no case on both lists, so the MLE of the interaction does not exist: "
                + ", ".join(self.pair_name(q) for q in empty)
            )
        if key in self._reason:
            return self._reason[key]
        if not self._primed:
            # One check of the largest model usually settles every model at once.
            self._primed = True
            if key != self.overlapping:
                self.reason(self.overlapping)
        if any(key <= good for good in self._good):
            return None
        for bad in self._bad:
            if bad <= key:
                return self._reason[bad]
        x = self.x_full[:, self.columns(sorted(key))]
        rank = int(np.linalg.matrix_rank(x))
        if rank < x.shape[1]:
            why = f"not identifiable: {x.shape[1]} parameters, design rank {rank}"
        elif not mle_exists(x, self.table.counts):
            positive = int((self.table.counts > 0).sum())
            why = (
                f"the MLE does not exist ({x.shape[1]} parameters; {positive} histories with "
                f"cases; zero cells put the counts on the boundary of the model)"
            )
        else:
            self._good.append(key)
            return None
        self._bad.append(key)
        self._reason[key] = why
        return why

    def admissible(self, pairs: Iterable[Pair]) -> bool:
        return self.reason(pairs) is None

    def pair_name(self, pair: Pair) -> str:
        return f"{self.table.lists[pair[0]]}:{self.table.lists[pair[1]]}"
