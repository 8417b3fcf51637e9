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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

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

# R grake(): when every population total exceeds SOMETHRESHOLD times its sample estimate, the
# design weights are scaled by the mean ratio before the iterations so that Newton starts near
# the solution; the factor is multiplied back into g at the end.
_RESCALE_THRESHOLD = 20.0
# MASS::ginv(Tmat, tol = 256 * .Machine$double.eps) in grake(): singular values below this
# fraction of the largest one are dropped, so a Newton step never blows up on a rank-deficient
# Hessian (e.g. when every unit of a category sits at a bound).
_GINV_RCOND = 256.0 * np.finfo(np.float64).eps
# A g-weight this close (relatively) to a bound counts as "at the bound" in the report.
_AT_BOUND_RTOL = 1e-9

_Calfun = Callable[[np.ndarray, float, float], np.ndarray]


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


# --------------------------------------------------------------------------- argument checks


def _float_array(value: Any, name: str, func: str, ndim: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"`{name}` of `{func}()` must be a numeric array; got {type(value).__name__}"
        ) from None
    if arr.ndim not in ndim:
        dims = " or ".join(f"{k}-d" for k in ndim)
        raise ArgumentError(
            f"`{name}` of `{func}()` must be a {dims} array; got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1))
        raise ArgumentError(
            f"`{name}` of `{func}()` must be finite; got NaN or infinite values in "
            f"{bad.size} row(s), first at row {int(bad[0])}"
        )
    return arr


def _design_weights(d: Any, n: int, func: str) -> np.ndarray:
    arr = _float_array(d, "d", func, (1,))
    if arr.shape[0] != n:
        raise ArgumentError(f"`d` of `{func}()` must have one weight per row ({n}); "
                            f"got {arr.shape[0]}")
    negative = np.flatnonzero(arr < 0)
    if negative.size:
        raise ArgumentError(
            f"`d` of `{func}()` must be non-negative; got {float(arr[negative[0]])!r} at row "
            f"{int(negative[0])} ({negative.size} negative weight(s))"
        )
    if not np.any(arr > 0):
        raise ArgumentError(f"`d` of `{func}()` must have at least one positive weight; "
                            "got all zero")
    return arr


def _labels(names: Sequence[str] | None, p: int, func: str, what: str) -> list[str]:
    """Quoted names of the margins for messages, or positional labels."""
    if names is None:
        return [f"{what} {j}" for j in range(p)]
    if isinstance(names, str) or len(names) != p:
        got = repr(names) if isinstance(names, str) else f"{len(names)} names"
        raise ArgumentError(f"`names` of `{func}()` must give one name per {what} ({p}); "
                            f"got {got}")
    return [f"{what} {name!r}" for name in names]


def _iteration_args(max_iter: Any, tol: Any, func: str, tol_rule: str) -> tuple[int, float]:
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ArgumentError(f"`max_iter` of `{func}()` must be a positive integer; "
                            f"got {max_iter!r}")
    if (isinstance(tol, bool) or not isinstance(tol, int | float | np.floating)
            or not np.isfinite(tol) or tol <= 0):
        raise ArgumentError(f"`tol` of `{func}()` must be a positive number ({tol_rule}); "
                            f"got {tol!r}")
    return int(max_iter), float(tol)


def _bounds(bounds: Any, method: str, func: str) -> tuple[float, float]:
    if bounds is None:
        if method == "logit":
            raise ArgumentError(f"`bounds` of `{func}()` are required for method 'logit' "
                                "(finite lower < 1 < upper); got None")
        return (-np.inf, np.inf)
    try:
        lower, upper = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ArgumentError(f"`bounds` of `{func}()` must be a pair (lower, upper) of numbers; "
                            f"got {bounds!r}") from None
    if np.isnan(lower) or np.isnan(upper) or not lower < upper:
        raise ArgumentError(f"`bounds` of `{func}()` must satisfy lower < upper; "
                            f"got {bounds!r}")
    if method == "logit" and not (np.isfinite(lower) and np.isfinite(upper)
                                  and lower < 1.0 < upper):
        raise ArgumentError(f"`bounds` of `{func}()` must be finite with lower < 1 < upper "
                            f"for method 'logit'; got {bounds!r}")
    return (lower, upper)


def _fmt(x: float) -> str:
    return f"{x:.10g}"


def _times(count: int, noun: str) -> str:
    plural = noun + ("es" if noun.endswith("s") else "s")
    return f"{count} {noun if count == 1 else plural}"


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


_CALFUNS: dict[str, tuple[_Calfun, _Calfun]] = {
    "linear": (_linear_fm1, _linear_df),
    "raking": (_raking_fm1, _raking_df),
    "logit": (_logit_fm1, _logit_df),
}


# --------------------------------------------------------------------------- calibration


def calibration_weights(
    X: npt.ArrayLike,
    d: npt.ArrayLike,
    totals: npt.ArrayLike,
    method: str = "linear",
    bounds: tuple[float, float] | None = None,
    max_iter: int = 50,
    tol: float = 1e-7,
    names: Sequence[str] | None = None,
    *,
    force: bool = False,
) -> tuple[np.ndarray, CalibrationReport]:
    """g-weights that calibrate the design weights ``d`` to the population ``totals``.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Auxiliary variables, one row per unit (rows of the model matrix: intercept, dummies,
        covariates).
    d : ndarray, shape (n,)
        Design weights, non-negative. Rows with ``d == 0`` (out-of-domain rows) are kept: they
        get a g-weight but their calibrated weight stays 0.
    totals : ndarray, shape (p,)
        Population totals of the columns of ``X``.
    method : {"linear", "raking", "logit"}
        Distance function: ``"linear"`` (chi-square distance, GREG; truncated linear with
        ``bounds``), ``"raking"`` (multiplicative, exponential) or ``"logit"`` (bounded; needs
        ``bounds``).
    bounds : (float, float), optional
        Lower and upper bounds on ``g = w / d``; ``-inf``/``inf`` leave a side open. Required for
        ``"logit"`` (finite, lower < 1 < upper).
    max_iter : int
        Maximum Newton steps (R's ``maxit``); step halvings count as steps, as in R.
    tol : float
        Convergence tolerance (R's ``epsilon``): stop when every margin j has
        ``|T_j - t_j| / (1 + |T_j|) < tol``, t_j being the calibrated estimate.
    names : sequence of str, optional
        Names of the p margins (e.g. the model-matrix column names) for error messages.
    force : bool
        Return the last iterate with ``converged=False`` instead of raising when the iterations
        do not converge (R's ``force=TRUE``).

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
        bounds, or too few iterations); the message names the margins at fault with their
        achieved and target totals.

    Notes
    -----
    Calibration (Deville and Särndal, 1992) minimises ``sum_i d_i G(g_i)`` subject to
    ``sum_i d_i g_i x_i = T``; its solution is ``g_i = F(x_i' lambda)`` with F the inverse of
    G's derivative. R survey's ``grake()`` finds lambda by Newton steps from lambda = 0::

        H_k         = sum_i d_i F'(x_i' lambda_k) x_i x_i'
        lambda_k+1  = lambda_k + ginv(H_k) (T - sum_i d_i F(x_i' lambda_k) x_i)

    (``ginv`` the Moore-Penrose inverse, dropping singular values below 256 eps times the
    largest), halving a step while it gives non-finite g. With bounds (L, U)::

        linear:  F(u) = min(max(1 + u, L), U),     F'(u) = 1{L - 1 < u < U - 1}
        raking:  F(u) = min(max(exp(u), L), U),    F'(u) = exp(u) 1{L - 1 < u < U - 1}
        logit:   F(u) = [L (U - 1) + U (1 - L) exp(A u)] / [U - 1 + (1 - L) exp(A u)],
                 A = (U - L) / ((U - 1) (1 - L))

    Unbounded linear calibration is R's ``regcalibrate()`` closed form, the GREG weights
    ``g = 1 + X (X' D X)^-1 (T - X' d)``. As in ``grake()``, when every ratio ``T_j / t_j``
    of target to sample total exceeds 20, unbounded iterations start from d scaled by the mean
    ratio. Unlike R (which then applies the bounds to the rescaled weights, with a warning),
    bounded problems are never rescaled, so the bounds always hold for ``g = w / d``.

    Margins whose column is zero on every row with a positive weight and whose total is 0 are
    dropped (multiplier 0), as in R.

    References
    ----------
    Deville, J.-C. and Särndal, C.-E. (1992). Calibration estimators in survey sampling.
    *JASA* 87, 376-382. Deville, J.-C., Särndal, C.-E. and Sautory, O. (1993). Generalized
    raking procedures in survey sampling. *JASA* 88, 1013-1020. Lumley, T. (2010). *Complex
    Surveys*, ch. 7; R survey 4.1.1 ``calibrate()``, ``grake()``.
    """
    func = "calibration_weights"
    if not isinstance(method, str) or method not in CALIBRATION_METHODS:
        raise ArgumentError(f"`method` of `{func}()` must be 'linear', 'raking' or 'logit'; "
                            f"got {method!r}")
    x = _float_array(X, "X", func, (2,))
    n, p = x.shape
    if p == 0:
        raise ArgumentError(f"`X` of `{func}()` must have at least one column; got shape {x.shape}")
    w0 = _design_weights(d, n, func)
    target = _float_array(totals, "totals", func, (1,))
    if target.shape[0] != p:
        raise ArgumentError(f"`totals` of `{func}()` must have one total per column of `X` "
                            f"({p}); got {target.shape[0]}")
    labels = _labels(names, p, func, "margin")
    lower, upper = _bounds(bounds, method, func)
    max_iter, tol = _iteration_args(max_iter, tol, func, "R's epsilon")
    if not isinstance(force, bool | np.bool_):
        raise ArgumentTypeError(f"`force` of `{func}()` must be True or False; got {force!r}")

    keep = _usable_margins(x, w0, target, labels, func)
    xk, tk = x[:, keep], target[keep]
    labels_kept = [labels[j] for j in np.flatnonzero(keep)]
    _check_rank(xk, w0, labels_kept, func)

    unbounded = bool(np.isneginf(lower) and np.isposinf(upper))
    closed_form = method == "linear" and unbounded
    if closed_form:
        g = _greg(xk, w0, tk)
        iterations, converged, scale = 1, True, None
    else:
        fm1, dfun = _CALFUNS[method]
        g, iterations, converged, scale = _newton(xk, w0, tk, fm1, dfun, lower, upper,
                                                  max_iter, tol, rescale=unbounded)

    achieved = x.T @ (w0 * g)
    rel = np.abs(target - achieved) / (1.0 + np.abs(target))
    if closed_form:
        # R does not check the closed form; a misfit here means X' D X is too ill-conditioned
        # for the solve to be trusted.
        converged = bool(np.all(rel < tol))
    if not converged and not force:
        raise EstimationError(_failure_message(xk, w0, tk, achieved[keep], rel[keep],
                                               labels_kept, method, (lower, upper), iterations,
                                               tol, func))
    return g, _report(g, w0, achieved, target, rel, converged, iterations, method,
                      (lower, upper), scale, "closed form" if closed_form else "Newton")


def _usable_margins(x: np.ndarray, d: np.ndarray, target: np.ndarray, labels: list[str],
                    func: str) -> np.ndarray:
    """Margins with sample support; empty margins with a zero total are dropped as R does."""
    empty = ~np.any((x != 0) & (d > 0)[:, None], axis=0)
    bad = np.flatnonzero(empty & (target != 0))
    if bad.size:
        what = "; ".join(f"{labels[j]} (target {_fmt(target[j])})" for j in bad)
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


def _greg(x: np.ndarray, d: np.ndarray, target: np.ndarray) -> np.ndarray:
    """R regcalibrate(): g = 1 + X solve(X' D X, T - X' d)."""
    xd = x * d[:, None]
    lam = np.linalg.solve(x.T @ xd, target - xd.sum(axis=0))
    return np.asarray(1.0 + x @ lam)


def _newton(
    x: np.ndarray,
    d: np.ndarray,
    target: np.ndarray,
    fm1: _Calfun,
    dfun: _Calfun,
    lower: float,
    upper: float,
    max_iter: int,
    tol: float,
    rescale: bool,
) -> tuple[np.ndarray, int, bool, float | None]:
    """R grake(): Newton steps on the multipliers; returns g, iterations, converged, scale."""
    sample_total = x.T @ d
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = target / sample_total
    scale: float | None = None
    if rescale and np.min(ratios) > _RESCALE_THRESHOLD:
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
    shown = "; ".join(f"{labels[j]} achieved {_fmt(achieved[j])}, target {_fmt(target[j])}"
                      for j in off[:5])
    more = f" (and {off.size - 5} more)" if off.size > 5 else ""
    head = (f"`{func}()` with method {method!r} did not converge in "
            f"{_times(iterations, 'iteration')} (relative misfit |T - t| / (1 + |T|) >= "
            f"tol={tol:g}): {shown}{more}")
    lower, upper = bounds
    if method == "raking":
        lower = max(lower, 0.0)
    reachable = _reachable(x, d, target, lower, upper)
    if reachable is False:
        return (f"{head}; no g-weights within bounds ({_fmt(lower)}, {_fmt(upper)}) reach "
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
           f"{_times(iterations, 'iteration')}; max relative misfit {np.max(rel):.3g}")
    if scale is not None:
        msg += (f"; design weights scaled by {scale:.6g} before the iterations (every target "
                f"exceeds {_RESCALE_THRESHOLD:g} times its sample total), as R grake() does")
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


def _cell_codes(cells: Any, n: int | None, k: int, name: str, func: str) -> np.ndarray:
    arr = np.asarray(cells)
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        rows = "" if n is None else f" ({n})"
        raise ArgumentError(f"`{name}` of `{func}()` must be a 1-d array with one code per "
                            f"row{rows}; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ArgumentTypeError(f"`{name}` of `{func}()` must hold integer codes 0..K-1; "
                                f"got dtype {arr.dtype}")
    out = np.flatnonzero((arr < 0) | (arr >= k))
    if out.size:
        raise ArgumentError(f"`{name}` of `{func}()` must hold codes in 0..{k - 1} (one per "
                            f"total); got {int(arr[out[0]])} at row {int(out[0])}")
    return arr.astype(np.int64)


def _cell_totals(totals: Any, name: str, func: str) -> np.ndarray:
    arr = _float_array(totals, name, func, (1,))
    if arr.shape[0] == 0:
        raise ArgumentError(f"`{name}` of `{func}()` must hold at least one total; got none")
    negative = np.flatnonzero(arr < 0)
    if negative.size:
        raise ArgumentError(f"`{name}` of `{func}()` must be non-negative; got "
                            f"{float(arr[negative[0]])!r} for cell {int(negative[0])}")
    return arr


def _poststratify(cells: np.ndarray, w: np.ndarray, totals: np.ndarray, where: str,
                  labels: list[str] | None, func: str) -> np.ndarray:
    """Per-row factor total / weighted count of the row's cell (R postStratify())."""
    k = totals.shape[0]
    counts = np.bincount(cells, weights=w, minlength=k)

    def name(j: int) -> str:
        return f"{where}cell {j}" + (f" ({labels[j]!r})" if labels is not None else "")

    missing = np.flatnonzero((counts == 0) & (totals > 0))
    if missing.size:
        what = "; ".join(f"{name(j)} with total {_fmt(totals[j])}" for j in missing[:5])
        raise EstimationError(
            f"`{func}()` cannot reach the totals: no row with a positive weight falls in "
            f"{what}; collapse the cell with a neighbouring one"
        )
    extra = np.flatnonzero((counts > 0) & (totals == 0))
    if extra.size:
        what = "; ".join(f"{name(j)} (weighted count {_fmt(counts[j])})" for j in extra[:5])
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
    totals = _cell_totals(cell_totals, "cell_totals", func)
    k = totals.shape[0]
    codes = _cell_codes(cells, None, k, "cells", func)
    w0 = _design_weights(d, codes.shape[0], func)
    if names is not None and (isinstance(names, str) or len(names) != k):
        got = repr(names) if isinstance(names, str) else f"{len(names)} names"
        raise ArgumentError(f"`names` of `{func}()` must give one name per cell ({k}); "
                            f"got {got}")
    return _poststratify(codes, w0, totals, "", None if names is None else list(names), func)


def rake_weights(
    margins: Sequence[npt.ArrayLike],
    d: npt.ArrayLike,
    margin_totals: Sequence[npt.ArrayLike],
    max_iter: int = 10,
    tol: float = 1.0,
    names: Sequence[str] | None = None,
    *,
    force: bool = False,
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
    if isinstance(margins, np.ndarray) or not isinstance(margins, Sequence) or not margins:
        raise ArgumentError(f"`margins` of `{func}()` must be a non-empty list of code arrays; "
                            f"got {type(margins).__name__}")
    if (isinstance(margin_totals, np.ndarray) or not isinstance(margin_totals, Sequence)
            or len(margin_totals) != len(margins)):
        got = (f"{len(margin_totals)} arrays" if isinstance(margin_totals, Sequence)
               else type(margin_totals).__name__)
        raise ArgumentError(f"`margin_totals` of `{func}()` must give one array of totals per "
                            f"margin ({len(margins)}); got {got}")
    labels = _labels(names, len(margins), func, "margin")
    totals = [_cell_totals(t, f"margin_totals[{m}]", func) for m, t in enumerate(margin_totals)]
    first = _cell_codes(margins[0], None, totals[0].shape[0], "margins[0]", func)
    codes = [first] + [_cell_codes(c, first.shape[0], t.shape[0], f"margins[{m + 1}]", func)
                       for m, (c, t) in enumerate(zip(margins[1:], totals[1:], strict=True))]
    w0 = _design_weights(d, first.shape[0], func)
    max_iter, tol = _iteration_args(max_iter, tol, func, "below 1 a fraction of sum(d)")
    if not isinstance(force, bool | np.bool_):
        raise ArgumentTypeError(f"`force` of `{func}()` must be True or False; got {force!r}")
    pop = [float(t.sum()) for t in totals]
    if not np.allclose(pop, pop[0], rtol=1e-9, atol=0.0):
        sums = ", ".join(f"{lab}: {_fmt(s)}" for lab, s in zip(labels, pop, strict=True))
        raise ArgumentError(f"`margin_totals` of `{func}()` must sum to the same population "
                            f"size in every margin; got {sums}")
    epsilon = tol * float(w0.sum()) if tol < 1 else tol

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
    while passes < max_iter:
        passes += 1
        for m in range(len(codes)):
            g = g * _poststratify(codes[m], w, totals[m], f"{labels[m]} ", None, func)
            w = w0 * g
        new = np.bincount(joint, weights=w, minlength=n_joint)
        if np.max(np.abs(old - new)) < epsilon:
            converged = True
            break
        old = new

    achieved = np.concatenate([np.bincount(c, weights=w, minlength=t.shape[0])
                               for c, t in zip(codes, totals, strict=True)])
    target = np.concatenate(totals)
    if not converged and not force:
        err = [np.max(np.abs(np.bincount(c, weights=w, minlength=t.shape[0]) - t))
               for c, t in zip(codes, totals, strict=True)]
        shown = "; ".join(f"{labels[m]} off by up to {_fmt(e)}" for m, e in enumerate(err))
        moved = float(np.max(np.abs(old - new)))
        raise EstimationError(
            f"`{func}()` did not converge in {_times(max_iter, 'pass')} (a joint cell still "
            f"moved by {_fmt(moved)} >= epsilon {_fmt(epsilon)}): {shown}; "
            "try a larger `max_iter`, and check that the margins are consistent and that no "
            "combination of categories is empty in the sample"
        )
    rel = np.abs(achieved - target) / (1.0 + np.abs(target))
    report = _report(g, w0, achieved, target, rel, converged, passes, "rake", (-np.inf, np.inf),
                     None, f"{len(codes)} margins")
    return g, report


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
    x = _float_array(X, "X", func, (2,))
    n = x.shape[0]
    w0 = _design_weights(d, n, func)
    gg = _float_array(g, "g", func, (1,))
    if gg.shape[0] != n:
        raise ArgumentError(f"`g` of `{func}()` must have one g-weight per row ({n}); "
                            f"got {gg.shape[0]}")
    yy = _float_array(y, "y", func, (1, 2))
    if yy.shape[0] != n:
        raise ArgumentError(f"`y` of `{func}()` must have one row per row of `X` ({n}); "
                            f"got {yy.shape[0]}")
    pos = w0 > 0
    root = np.sqrt(w0[pos])
    y2 = yy.reshape(n, -1)
    coef = np.linalg.lstsq(x[pos] * root[:, None], y2[pos] * root[:, None], rcond=None)[0]
    return np.asarray((y2 - x @ coef).reshape(yy.shape))
