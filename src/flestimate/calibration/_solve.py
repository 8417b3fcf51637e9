"""Calibration of design weights to known population totals: the numerical core.

Given an auxiliary matrix X (n x p, the model-matrix rows), design weights d and population
totals T, these functions find g-weights such that the calibrated weights ``w = d * g`` reproduce
T exactly, ``X' w = T``. They work on arrays only and know nothing of a design object:

* :func:`calibration_weights` -- generalised regression (linear, optionally truncated), raking
  (exponential) and logit (bounded) calibration by Newton's method on the Lagrange multipliers,
  step for step as R survey 4.1.1's ``calibrate()`` / ``grake()``;
* :func:`poststratify_weights` -- post-stratification, as R's ``postStratify()``;
* :func:`rake_weights` -- iterative proportional fitting over several margins, as R's ``rake()``;
* :func:`calibration_residuals` -- the residuals that replace the linearised values in the
  variance after calibration, as R's ``svyrecvar()`` computes them.

Everything is vectorised over rows; the only Python loops run over Newton iterations, raking
passes and margins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from flestimate.calibration._checks import (
    as_cell_codes,
    as_cell_totals,
    design_weights,
    float_array,
    fmt,
    g_bounds,
    iteration_args,
    margin_labels,
    times,
)
from flestimate.calibration._newton import CALFUNS, RESCALE_THRESHOLD, greg, newton
from flestimate.errors import ArgumentError, ArgumentTypeError, EstimationError

__all__ = [
    "CALIBRATION_METHODS",
    "CalibrationReport",
    "calibration_residuals",
    "calibration_weights",
    "poststratify_weights",
    "rake_weights",
]

#: Distance functions of :func:`calibration_weights` (R ``calibrate(calfun=...)``).
CALIBRATION_METHODS = ("linear", "raking", "logit")

# A g-weight this close (relatively) to a bound counts as "at the bound" in the report.
_AT_BOUND_RTOL = 1e-9


@dataclass(frozen=True)
class CalibrationReport:
    """How a calibration went; returned next to the g-weights, never stored on a design.

    Attributes
    ----------
    converged : bool
        Whether the convergence rule was met (always True unless ``force=True`` was given).
    iterations : int
        Newton steps, step halvings included, as R ``grake()`` counts them (1 for the closed form
        of unbounded linear calibration, 0 for post-stratification); passes over all margins for
        :func:`rake_weights`.
    max_abs_error : float
        Largest absolute difference between the achieved totals ``X' (d g)`` and the targets.
    method : str
        ``"linear"``, ``"raking"``, ``"logit"``, ``"poststratify"`` or ``"rake"``.
    bounds : tuple of float
        The (lower, upper) bounds on g; ``(-inf, inf)`` when unbounded.
    g_range : tuple of float
        Smallest and largest g among rows with a positive design weight.
    n_weights_at_bounds : int
        Rows with a positive design weight whose g is at a bound (within a relative 1e-9).
    message : str
        A one-line account: method, iterations, final relative misfit, any rescaling.
    """

    converged: bool
    iterations: int
    max_abs_error: float
    method: str
    bounds: tuple[float, float]
    g_range: tuple[float, float]
    n_weights_at_bounds: int
    message: str


# --------------------------------------------------------------------------- calibration


def calibration_weights(X: npt.ArrayLike, d: npt.ArrayLike, totals: npt.ArrayLike,
                        method: str = "linear", bounds: tuple[float, float] | None = None,
                        max_iter: int = 50, tol: float = 1e-7, names: Sequence[str] | None = None,
                        *, force: bool = False) -> tuple[np.ndarray, CalibrationReport]:
    """g-weights that calibrate the design weights ``d`` to the population ``totals``.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Auxiliary variables, one row per unit (model-matrix rows: intercept, dummies, covariates).
    d : ndarray, shape (n,)
        Design weights, non-negative. Rows with ``d == 0`` (out-of-domain rows) are kept: they get
        a g-weight but their calibrated weight stays 0.
    totals : ndarray, shape (p,)
        Population totals of the columns of ``X``.
    method : {"linear", "raking", "logit"}
        The distance: ``"linear"`` (chi-square, GREG; truncated linear with ``bounds``),
        ``"raking"`` (multiplicative, exponential) or ``"logit"`` (bounded; needs ``bounds``).
    bounds : (float, float), optional
        Lower and upper bounds on ``g = w / d``; ``-inf``/``inf`` leave a side open. Required for
        ``"logit"`` (finite, lower < 1 < upper).
    max_iter : int
        Maximum Newton steps (R's ``maxit``); step halvings count as steps, as in R.
    tol : float
        Convergence tolerance (R's ``epsilon``): stop when every margin j has ``|T_j - t_j| /
        (1 + |T_j|) < tol``, t_j being the calibrated estimate.
    names : sequence of str, optional
        Names of the p margins (e.g. the model-matrix column names) for error messages.
    force : bool
        Return the last iterate with ``converged=False`` instead of raising when the iterations do
        not converge (R's ``force=TRUE``).

    Returns
    -------
    g : ndarray, shape (n,)
        g-weights; the calibrated weights are ``d * g``.
    report : CalibrationReport

    Raises
    ------
    ArgumentError, ArgumentTypeError
        An argument has an invalid value or type.
    EstimationError
        A margin has no sample unit but a nonzero total, the margins are linearly dependent
        (``X' D X`` singular), or the iterations do not reach the totals (unreachable within the
        bounds, or too few); the message names the margins at fault, achieved and target totals.

    Notes
    -----
    Calibration (Deville and Särndal, 1992) minimises ``sum_i d_i G(g_i)`` subject to
    ``sum_i d_i g_i x_i = T``; its solution is ``g_i = F(x_i' lambda)`` with F the inverse of
    G's derivative, lambda found by R survey's ``grake()`` Newton steps from lambda = 0 (a step
    is halved while it gives non-finite g). With bounds (L, U)::

        linear:  F(u) = min(max(1 + u, L), U),     F'(u) = 1{L - 1 < u < U - 1}
        raking:  F(u) = min(max(exp(u), L), U),    F'(u) = exp(u) 1{L - 1 < u < U - 1}
        logit:   F(u) = [L (U - 1) + U (1 - L) exp(A u)] / [U - 1 + (1 - L) exp(A u)],
                 A = (U - L) / ((U - 1) (1 - L))

    Unbounded linear calibration is R's ``regcalibrate()`` closed form (GREG),
    ``g = 1 + X (X' D X)^-1 (T - X' d)``. As in ``grake()``, unbounded iterations start from d
    times the mean ratio ``T_j / t_j`` of target to sample total when every ratio exceeds 20;
    bounded problems are never rescaled (R would apply the bounds to the rescaled weights, with a
    warning), so the bounds always hold for ``g = w / d``. Margins whose column is zero on every
    row with a positive weight and whose total is 0 are dropped (multiplier 0), as in R.

    References
    ----------
    Deville and Särndal (1992). Calibration estimators in survey sampling. *JASA* 87, 376-382.
    Deville, Särndal and Sautory (1993). Generalized raking procedures in survey sampling. *JASA*
    88, 1013-1020. Lumley (2010). *Complex Surveys*, ch. 7; R survey 4.1.1 ``calibrate()``.
    """
    func = "calibration_weights"
    x, w0, target, labels, limits, max_iter, tol = _calibration_args(
        X, d, totals, method, bounds, max_iter, tol, names, force)
    keep, labels_kept = _margins_kept(x, w0, target, labels, func)
    fit = _fit(x, keep, w0, target, method, limits, max_iter, tol)
    return fit.g, _report_or_raise(fit, x, keep, w0, target, labels_kept, method, limits, tol,
                                   force, func)


def _calibration_args(X: Any, d: Any, totals: Any, method: Any, bounds: Any, max_iter: Any,
                      tol: Any, names: Sequence[str] | None, force: Any
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str],
                                 tuple[float, float], int, float]:
    """The checked arguments of :func:`calibration_weights`: X, d and the totals as float
    arrays, the margins' labels for messages, the bounds on g, ``max_iter`` and ``tol``."""
    func = "calibration_weights"
    if not isinstance(method, str) or method not in CALIBRATION_METHODS:
        raise ArgumentError(f"`method` of `{func}()` must be 'linear', 'raking' or 'logit'; "
                            f"got {method!r}")
    x = float_array(X, "X", func, (2,))
    n, p = x.shape
    if p == 0:
        raise ArgumentError(f"`X` of `{func}()` must have at least one column; got shape {x.shape}")
    w0 = design_weights(d, n, func)
    target = float_array(totals, "totals", func, (1,))
    if target.shape[0] != p:
        raise ArgumentError(f"`totals` of `{func}()` must have one total per column of `X` "
                            f"({p}); got {target.shape[0]}")
    labels = margin_labels(names, p, func, "margin")
    limits = g_bounds(bounds, method, func)
    max_iter, tol = iteration_args(max_iter, tol, func, "R's epsilon")
    if not isinstance(force, bool | np.bool_):
        raise ArgumentTypeError(f"`force` of `{func}()` must be True or False; got {force!r}")
    return x, w0, target, labels, limits, max_iter, tol


@dataclass(frozen=True)
class _Fit:
    """The g-weights of a calibration and how they were found: the iterations, whether they
    converged, the scale of the design weights (None when not rescaled), the path (closed form
    or Newton), the achieved totals ``X' (d g)`` and their relative misfits to the targets."""

    g: np.ndarray
    iterations: int
    converged: bool
    scale: float | None
    how: str
    achieved: np.ndarray
    rel: np.ndarray


def _fit(x: np.ndarray, keep: np.ndarray, w0: np.ndarray, target: np.ndarray, method: str,
         limits: tuple[float, float], max_iter: int, tol: float) -> _Fit:
    """g-weights on the margins kept: the closed form of unbounded linear calibration (checked
    against ``tol``: R does not check it, but a misfit means that X' D X is too ill-conditioned
    for the solve to be trusted), else Newton's iterations."""
    lower, upper = limits
    xk, tk = x[:, keep], target[keep]
    unbounded = bool(np.isneginf(lower) and np.isposinf(upper))
    closed_form = method == "linear" and unbounded
    if closed_form:
        g = greg(xk, w0, tk)
        iterations, converged, scale = 1, True, None
    else:
        fm1, dfun = CALFUNS[method]
        g, iterations, converged, scale = newton(xk, w0, tk, fm1, dfun, lower, upper,
                                                 max_iter, tol, rescale=unbounded)
    achieved = x.T @ (w0 * g)
    rel = np.abs(target - achieved) / (1.0 + np.abs(target))
    if closed_form:
        converged = bool(np.all(rel < tol))
    return _Fit(g, iterations, converged, scale, "closed form" if closed_form else "Newton",
                achieved, rel)


def _report_or_raise(fit: _Fit, x: np.ndarray, keep: np.ndarray, w0: np.ndarray,
                     target: np.ndarray, labels_kept: list[str], method: str,
                     limits: tuple[float, float], tol: float, force: bool, func: str
                     ) -> CalibrationReport:
    """The report of a calibration; when it did not converge (and ``force`` is False), an
    EstimationError naming the margins at fault, with a linear-programming check of whether
    the totals are reachable within the bounds at all."""
    if not fit.converged and not force:
        raise EstimationError(_failure_message(x[:, keep], w0, target[keep], fit.achieved[keep],
                                               fit.rel[keep], labels_kept, method, limits,
                                               fit.iterations, tol, func))
    return _report(fit.g, w0, fit.achieved, target, fit.rel, fit.converged, fit.iterations,
                   method, limits, fit.scale, fit.how)


def _margins_kept(x: np.ndarray, d: np.ndarray, target: np.ndarray, labels: list[str],
                  func: str) -> tuple[np.ndarray, list[str]]:
    """The margins calibrated on (a boolean mask) and their labels: those with sample support,
    after checking that they are linearly independent."""
    keep = _usable_margins(x, d, target, labels, func)
    labels_kept = [labels[j] for j in np.flatnonzero(keep)]
    _check_rank(x[:, keep], d, labels_kept, func)
    return keep, labels_kept


def _usable_margins(x: np.ndarray, d: np.ndarray, target: np.ndarray, labels: list[str],
                    func: str) -> np.ndarray:
    """Margins with sample support; empty margins with a zero total are dropped as R does."""
    empty = ~np.any((x != 0) & (d > 0)[:, None], axis=0)
    bad = np.flatnonzero(empty & (target != 0))
    if bad.size:
        what = "; ".join(f"{labels[j]} (target {fmt(target[j])})" for j in bad)
        raise EstimationError(
            f"`{func}()` cannot reach the totals: no row with a positive weight has a nonzero "
            f"value in {what}, so its achieved total is 0; drop the margin or collapse its "
            "category with another"
        )
    keep = np.asarray(~empty)
    if not np.any(keep):
        raise EstimationError(f"`{func}()` has no margin with sample support: every column of "
                              "`X` is zero on the rows with a positive weight")
    return keep


def _check_rank(x: np.ndarray, d: np.ndarray, labels: list[str], func: str) -> None:
    """Raise when X' D X is singular, naming the margins in the linear dependence."""
    pos = d > 0
    a = x[pos] * np.sqrt(d[pos])[:, None]
    # Unit-norm columns, so that a covariate in the thousands does not hide a dummy's rank.
    a = a / np.linalg.norm(a, axis=0)
    # The SVD of the small triangular factor has the singular values of `a` and a full set of
    # right singular vectors, whose trailing rows span the null space (the dependence).
    r = np.linalg.qr(a, mode="r")
    _, s, vt = np.linalg.svd(r, full_matrices=True)
    rank = int(np.sum(s > s[0] * max(a.shape) * np.finfo(np.float64).eps))
    if rank == a.shape[1]:
        return
    null = vt[rank:]
    involved = np.flatnonzero(np.any(np.abs(null) > 1e-8, axis=0))
    raise EstimationError(
        f"`{func}()` cannot calibrate: X' D X is singular (rank {rank} of {a.shape[1]}) because "
        f"{', '.join(labels[j] for j in involved)} are linearly dependent on the rows with a "
        "positive weight; drop a redundant margin (e.g. one category of each factor besides "
        "the intercept)"
    )



def _failure_message(
    x: np.ndarray,
    d: np.ndarray,
    target: np.ndarray,
    achieved: np.ndarray,
    rel: np.ndarray,
    labels: list[str],
    method: str,
    bounds: tuple[float, float],
    iterations: int,
    tol: float,
    func: str,
) -> str:
    off = np.flatnonzero(~(rel < tol))
    shown = "; ".join(f"{labels[j]} achieved {fmt(achieved[j])}, target {fmt(target[j])}"
                      for j in off[:5])
    more = f" (and {off.size - 5} more)" if off.size > 5 else ""
    head = (f"`{func}()` with method {method!r} did not converge in "
            f"{times(iterations, 'iteration')} (relative misfit |T - t| / (1 + |T|) >= "
            f"tol={tol:g}): {shown}{more}")
    lower, upper = bounds
    if method == "raking":
        lower = max(lower, 0.0)
    reachable = _reachable(x, d, target, lower, upper)
    if reachable is False:
        return (f"{head}; no g-weights within bounds ({fmt(lower)}, {fmt(upper)}) reach "
                "these totals (checked by linear programming): widen `bounds`, use method "
                "'linear', or check the totals and collapse sparse categories")
    return (f"{head}; try a larger `max_iter`, wider `bounds` or method 'linear', and check "
            "that the totals are consistent with each other")


def _reachable(x: np.ndarray, d: np.ndarray, target: np.ndarray, lower: float,
               upper: float) -> bool | None:
    """Whether some g in [lower, upper] gives X'(d g) = T (a linear feasibility problem).

    Each equation is divided by 1 + |T_j| so that the solver's tolerance is R's relative one.
    Returns None when the solver cannot decide.
    """
    from scipy.optimize import linprog

    pos = d > 0
    scale = 1.0 + np.abs(target)
    a_eq = (x[pos] * d[pos, None]).T / scale[:, None]
    lo = None if np.isneginf(lower) else lower
    hi = None if np.isposinf(upper) else upper
    res = linprog(np.zeros(int(pos.sum())), A_eq=a_eq, b_eq=target / scale, bounds=(lo, hi),
                  method="highs")
    if res.status == 0:
        return True
    if res.status == 2:
        return False
    return None


def _report(
    g: np.ndarray,
    d: np.ndarray,
    achieved: np.ndarray,
    target: np.ndarray,
    rel: np.ndarray,
    converged: bool,
    iterations: int,
    method: str,
    bounds: tuple[float, float],
    scale: float | None,
    how: str,
) -> CalibrationReport:
    gp = g[d > 0]
    lower, upper = bounds
    at_lower = np.isfinite(lower) & (np.abs(gp - lower) <= _AT_BOUND_RTOL * max(1.0, abs(lower)))
    at_upper = np.isfinite(upper) & (np.abs(gp - upper) <= _AT_BOUND_RTOL * max(1.0, abs(upper)))
    status = "converged" if converged else "did NOT converge"
    msg = (f"{method} calibration ({how}) to {target.shape[0]} totals {status} in "
           f"{times(iterations, 'iteration')}; max relative misfit {np.max(rel):.3g}")
    if scale is not None:
        msg += (f"; design weights scaled by {scale:.6g} before the iterations (every target "
                f"exceeds {RESCALE_THRESHOLD:g} times its sample total), as R grake() does")
    return CalibrationReport(
        converged=bool(converged),
        iterations=int(iterations),
        max_abs_error=float(np.max(np.abs(achieved - target))),
        method=method,
        bounds=(float(lower), float(upper)),
        g_range=(float(np.min(gp)), float(np.max(gp))),
        n_weights_at_bounds=int(np.sum(at_lower | at_upper)),
        message=msg,
    )


# --------------------------------------------------------------------------- post-stratification



def _poststratify(cells: np.ndarray, w: np.ndarray, totals: np.ndarray, where: str,
                  labels: list[str] | None, func: str) -> np.ndarray:
    """Per-row factor total / weighted count of the row's cell (R postStratify())."""
    k = totals.shape[0]
    counts = np.bincount(cells, weights=w, minlength=k)

    def name(j: int) -> str:
        return f"{where}cell {j}" + (f" ({labels[j]!r})" if labels is not None else "")

    missing = np.flatnonzero((counts == 0) & (totals > 0))
    if missing.size:
        what = "; ".join(f"{name(j)} with total {fmt(totals[j])}" for j in missing[:5])
        raise EstimationError(
            f"`{func}()` cannot reach the totals: no row with a positive weight falls in "
            f"{what}; collapse the cell with a neighbouring one"
        )
    extra = np.flatnonzero((counts > 0) & (totals == 0))
    if extra.size:
        what = "; ".join(f"{name(j)} (weighted count {fmt(counts[j])})" for j in extra[:5])
        raise EstimationError(
            f"`{func}()` cannot reach the totals: sample rows fall in {what} whose population "
            "total is 0; check the totals or the cell codes"
        )
    # Cells empty in both sample and population hold only zero-weight rows: factor 1.
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(counts > 0, totals / counts, 1.0)
    return np.asarray(factor[cells])


def poststratify_weights(
    cells: npt.ArrayLike,
    d: npt.ArrayLike,
    cell_totals: npt.ArrayLike,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """g-weights of post-stratification: each cell's weights scaled to its population total.

    Parameters
    ----------
    cells : ndarray of int, shape (n,)
        The post-stratum of every row, coded 0..K-1.
    d : ndarray, shape (n,)
        Design weights, non-negative (zero-weight rows keep a zero weight).
    cell_totals : ndarray, shape (K,)
        Population totals of the K cells.
    names : sequence of str, optional
        Labels of the K cells for error messages.

    Returns
    -------
    ndarray, shape (n,)
        g-weights; the post-stratified weights are ``d * g``.

    Raises
    ------
    EstimationError
        A cell with a positive total has no row with a positive weight, or a cell with rows of
        positive weight has a zero total (R ``postStratify()`` stops on both).

    Notes
    -----
    With ``N_k`` the total of cell k and ``Nhat_k = sum_{i in k} d_i``, ``g_i = N_k / Nhat_k``
    for i in cell k. This is linear calibration on the K cell indicators; R survey's
    ``postStratify()`` computes it directly. Cells empty in the sample and in the population
    are allowed (their zero-weight rows get g = 1).

    References
    ----------
    Holt, D. and Smith, T. M. F. (1979). Post stratification. *JRSS A* 142, 33-46. Lumley, T.
    (2010). *Complex Surveys*, sec. 7.1; R survey 4.1.1 ``postStratify()``.
    """
    func = "poststratify_weights"
    totals = as_cell_totals(cell_totals, "cell_totals", func)
    k = totals.shape[0]
    codes = as_cell_codes(cells, None, k, "cells", func)
    w0 = design_weights(d, codes.shape[0], func)
    if names is not None and (isinstance(names, str) or len(names) != k):
        got = repr(names) if isinstance(names, str) else f"{len(names)} names"
        raise ArgumentError(f"`names` of `{func}()` must give one name per cell ({k}); "
                            f"got {got}")
    return _poststratify(codes, w0, totals, "", None if names is None else list(names), func)


def rake_weights(margins: Sequence[npt.ArrayLike], d: npt.ArrayLike,
                 margin_totals: Sequence[npt.ArrayLike], max_iter: int = 10, tol: float = 1.0,
                 names: Sequence[str] | None = None, *, force: bool = False,
                 ) -> tuple[np.ndarray, CalibrationReport]:
    """g-weights of raking (iterative proportional fitting) to several one-way margins.

    Parameters
    ----------
    margins : sequence of ndarray of int, each shape (n,)
        For each margin, the category of every row, coded 0..K_m-1.
    d : ndarray, shape (n,)
        Design weights, non-negative.
    margin_totals : sequence of ndarray, each shape (K_m,)
        Population totals of each margin's categories.
    max_iter : int
        Maximum passes over all margins (R ``rake(control=list(maxit=10))``).
    tol : float
        R's ``epsilon``: stop when no cell of the joint table of all margins changes its
        weighted count by ``tol`` or more in a pass; a ``tol`` below 1 is a fraction of
        ``sum(d)``.
    names : sequence of str, optional
        Names of the margins for error messages.
    force : bool
        Return the last pass with ``converged=False`` instead of raising when the passes do not
        converge (R's ``rake()`` only warns).

    Returns
    -------
    g : ndarray, shape (n,)
        g-weights; the raked weights are ``d * g``.
    report : CalibrationReport
        ``iterations`` counts passes (R's counter is one less on convergence).

    Raises
    ------
    EstimationError
        A category with a positive total has no sample row (or the reverse), or the passes do
        not converge in ``max_iter``.

    Notes
    -----
    One pass post-stratifies the current weights to every margin in turn,
    ``w_i <- w_i N_mk / sum_{j in k} w_j`` for i in category k of margin m. After the pass the
    weighted joint table of all margins is compared with the previous pass's (the first with
    the design weights'); the passes stop when ``max |table_new - table_old| < epsilon``, with
    ``epsilon = tol`` if ``tol >= 1`` else ``tol * sum(d)``. The last margin is always met
    exactly; the others within the convergence tolerance. This is R survey's ``rake()``.

    References
    ----------
    Deming, W. E. and Stephan, F. F. (1940). On a least squares adjustment of a sampled
    frequency table when the expected marginal totals are known. *Ann. Math. Stat.* 11,
    427-444. Lumley, T. (2010). *Complex Surveys*, sec. 7.2; R survey 4.1.1 ``rake()``.
    """
    func = "rake_weights"
    codes, w0, totals, labels, max_iter, tol = _rake_args(margins, d, margin_totals, max_iter,
                                                          tol, names, force)
    epsilon = tol * float(w0.sum()) if tol < 1 else tol
    g, w, passes, converged, moved = _ipf(codes, w0, totals, labels, max_iter, epsilon, func)
    achieved = np.concatenate([np.bincount(c, weights=w, minlength=t.shape[0])
                               for c, t in zip(codes, totals, strict=True)])
    target = np.concatenate(totals)
    if not converged and not force:
        raise EstimationError(_rake_failure(codes, w, totals, labels, moved, max_iter, epsilon,
                                            func))
    rel = np.abs(achieved - target) / (1.0 + np.abs(target))
    report = _report(g, w0, achieved, target, rel, converged, passes, "rake", (-np.inf, np.inf),
                     None, f"{len(codes)} margins")
    return g, report


def _rake_args(margins: Any, d: Any, margin_totals: Any, max_iter: Any, tol: Any,
               names: Sequence[str] | None, force: Any
               ) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray], list[str], int, float]:
    """The checked arguments of :func:`rake_weights`: the category codes of every margin, the
    design weights, the totals of every margin (which must add up to one population size),
    the margins' labels for messages, ``max_iter`` and ``tol``."""
    func = "rake_weights"
    if isinstance(margins, np.ndarray) or not isinstance(margins, Sequence) or not margins:
        raise ArgumentError(f"`margins` of `{func}()` must be a non-empty list of code arrays; "
                            f"got {type(margins).__name__}")
    if (isinstance(margin_totals, np.ndarray) or not isinstance(margin_totals, Sequence)
            or len(margin_totals) != len(margins)):
        got = (f"{len(margin_totals)} arrays" if isinstance(margin_totals, Sequence)
               else type(margin_totals).__name__)
        raise ArgumentError(f"`margin_totals` of `{func}()` must give one array of totals per "
                            f"margin ({len(margins)}); got {got}")
    labels = margin_labels(names, len(margins), func, "margin")
    totals = [as_cell_totals(t, f"margin_totals[{m}]", func) for m, t in enumerate(margin_totals)]
    first = as_cell_codes(margins[0], None, totals[0].shape[0], "margins[0]", func)
    codes = [first] + [as_cell_codes(c, first.shape[0], t.shape[0], f"margins[{m + 1}]", func)
                       for m, (c, t) in enumerate(zip(margins[1:], totals[1:], strict=True))]
    w0 = design_weights(d, first.shape[0], func)
    max_iter, tol = iteration_args(max_iter, tol, func, "below 1 a fraction of sum(d)")
    if not isinstance(force, bool | np.bool_):
        raise ArgumentTypeError(f"`force` of `{func}()` must be True or False; got {force!r}")
    pop = [float(t.sum()) for t in totals]
    if not np.allclose(pop, pop[0], rtol=1e-9, atol=0.0):
        sums = ", ".join(f"{lab}: {fmt(s)}" for lab, s in zip(labels, pop, strict=True))
        raise ArgumentError(f"`margin_totals` of `{func}()` must sum to the same population "
                            f"size in every margin; got {sums}")
    return codes, w0, totals, labels, max_iter, tol


def _ipf(codes: list[np.ndarray], w0: np.ndarray, totals: list[np.ndarray], labels: list[str],
         max_iter: int, epsilon: float, func: str
         ) -> tuple[np.ndarray, np.ndarray, int, bool, float]:
    """The passes of iterative proportional fitting: g, the raked weights, the passes made,
    whether they converged and, when they did not, the largest change of a joint cell between
    the tables compared last (for the message)."""
    # The joint table's occupied cells (empty ones are 0 before and after, so never the max).
    _, joint = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
    joint = joint.reshape(-1)
    n_joint = int(joint.max()) + 1
    # g is carried as the product of the factors (not w / d) so that zero-weight rows get the
    # factors of their cells, as in poststratify_weights().
    g = np.ones_like(w0)
    w = w0
    old = np.bincount(joint, weights=w, minlength=n_joint)
    converged = False
    passes = 0
    moved = float("inf")
    while passes < max_iter:
        passes += 1
        for m in range(len(codes)):
            g = g * _poststratify(codes[m], w, totals[m], f"{labels[m]} ", None, func)
            w = w0 * g
        new = np.bincount(joint, weights=w, minlength=n_joint)
        moved = float(np.max(np.abs(old - new)))
        if moved < epsilon:
            converged = True
            break
        old = new
    return g, w, passes, converged, 0.0 if converged else moved


def _rake_failure(codes: list[np.ndarray], w: np.ndarray, totals: list[np.ndarray],
                  labels: list[str], moved: float, max_iter: int, epsilon: float,
                  func: str) -> str:
    """The message when the passes do not converge: how far off every margin still is."""
    err = [np.max(np.abs(np.bincount(c, weights=w, minlength=t.shape[0]) - t))
           for c, t in zip(codes, totals, strict=True)]
    shown = "; ".join(f"{labels[m]} off by up to {fmt(e)}" for m, e in enumerate(err))
    return (f"`{func}()` did not converge in {times(max_iter, 'pass')} (a joint cell still "
            f"moved by {fmt(moved)} >= epsilon {fmt(epsilon)}): {shown}; "
            "try a larger `max_iter`, and check that the margins are consistent and that no "
            "combination of categories is empty in the sample")


# --------------------------------------------------------------------------- variance


def calibration_residuals(X: npt.ArrayLike, d: npt.ArrayLike, g: npt.ArrayLike,
                          y: npt.ArrayLike) -> np.ndarray:
    """Residuals of the linearised values on the auxiliaries, for the variance after calibration.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        The auxiliary matrix the weights were calibrated on.
    d : ndarray, shape (n,)
        The design weights *before* calibration.
    g : ndarray, shape (n,)
        The g-weights (calibrated weights ``w = d * g``); checked, but they do not enter the
        regression (see Notes).
    y : ndarray, shape (n,) or (n, k)
        Linearised values (per unit, not yet multiplied by a weight).

    Returns
    -------
    ndarray, same shape as ``y``
        ``e = y - X B``. The variance after calibration is the design variance of the weighted
        residuals ``w * e = d * g * e`` in place of ``w * y``.

    Notes
    -----
    ``B = (X' D X)^- X' D y`` with ``D = diag(d)``, the *design* weights. R survey's
    ``calibrate()`` stores ``qr(X * sqrt(d))`` and ``w = g * sqrt(d)``; ``svyrecvar()`` turns
    the weighted linearised values ``z = d g y`` into
    ``qr.resid(qr, z / w) * w = d g (y - X B)``, the regression being of ``sqrt(d) y`` on
    ``sqrt(d) X``. So g scales the residuals but not the regression, and post-stratification
    (``B`` the design-weighted cell means) is the special case of cell indicators. Rows with
    ``d == 0`` do not enter B; their residual is finite (R would give 0/0) and is multiplied by a
    zero weight anyway. A rank-deficient X is handled by least squares (the residual projection
    is unique).

    References
    ----------
    Deville, J.-C. and Särndal, C.-E. (1992), *JASA* 87, 376-382 (variance of the calibration
    estimator); R survey 4.1.1 ``svyrecvar()`` and ``calibrate()``.
    """
    func = "calibration_residuals"
    x = float_array(X, "X", func, (2,))
    n = x.shape[0]
    w0 = design_weights(d, n, func)
    gg = float_array(g, "g", func, (1,))
    if gg.shape[0] != n:
        raise ArgumentError(f"`g` of `{func}()` must have one g-weight per row ({n}); "
                            f"got {gg.shape[0]}")
    yy = float_array(y, "y", func, (1, 2))
    if yy.shape[0] != n:
        raise ArgumentError(f"`y` of `{func}()` must have one row per row of `X` ({n}); "
                            f"got {yy.shape[0]}")
    pos = w0 > 0
    root = np.sqrt(w0[pos])
    y2 = yy.reshape(n, -1)
    coef = np.linalg.lstsq(x[pos] * root[:, None], y2[pos] * root[:, None], rcond=None)[0]
    return np.asarray((y2 - x @ coef).reshape(yy.shape))
