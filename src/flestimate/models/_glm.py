"""Survey-weighted generalised linear models (R survey's ``svyglm``) and the design-based
t-test of a difference of means (``svyttest``).

One call goes through these steps:

1. :func:`~flestimate.models._formula.model_frame`: the outcome and model matrix of the
   domain's rows with a value for every variable (the others are counted, never dropped
   silently; rows outside ``subpop=`` stay in the design with weight zero);
2. :func:`~flestimate.models._fit.irls`: the coefficients, weighted by the design weights
   normalised to mean 1 over the domain (R's ``.survey.prob.weights``);
3. the variance: Taylor designs the sandwich ``A^{-1} Cov(sum w u) A^{-1}`` with the design's
   own covariance of the score totals (:func:`design_covariance`, R ``svy.varcoef``);
   replicate designs refit the model with every replicate's weights (R
   ``svyglm.svyrep.design``);
4. the residual df ``degf + 1 - p``, the t statistics, p-values and intervals: a
   :class:`~flestimate.models.GLMResult`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from flestimate._caller import caller_stacklevel
from flestimate._cells import Column, Subpop, Variables, domains_of
from flestimate._checks import check_choice, check_df, check_level, known_keywords
from flestimate._sums import cross_sums, unit_totals
from flestimate._version import __version__
from flestimate.errors import (
    DataError,
    DesignError,
    EstimationError,
    FlestimateWarning,
    format_values,
)
from flestimate.models._fit import FAMILIES, Family, Fit, irls
from flestimate.models._formula import ModelFrame, model_frame
from flestimate.models._result import GLMResult, TTestResult, coefficient_table
from flestimate.protocol import Design, DesignVariance, LinearisedTotals, StageTotals
from flestimate.quantile import ReplicateWeighted
from flestimate.variance import dense_pairs, summing_matrix

__all__ = ["design_covariance", "glm", "ttest"]

#: The IRLS stops when the deviance changes by less than this relative amount (R's rule with
#: ``epsilon = 1e-12``): the coefficients are then converged to about 1e-12.
TOLERANCE = 1e-12
MAX_ITER = 100


def design_covariance(design: Design, values: np.ndarray, rows: np.ndarray | None,
                      func: str, scale: np.ndarray | None = None) -> DesignVariance:
    """The design's covariance (p, p) of the totals ``sum_i w_i u_i`` over the rows ``rows``
    (positions; all rows when None), ``values`` being their ``u`` (m, p), or ``u`` being
    ``values * scale[:, None]`` when ``scale`` (m,) is given (a model's scores, never formed),
    with its df rule: for a Taylor design R's ``svyrecvar(w * u, ...)`` on the subset design
    (calibration residuals and lonely-PSU rules as the design's), for a replicate design
    ``svrVar`` of the replicate totals with df the rank of the replicate weights over the
    rows, minus 1."""
    p = values.shape[1]
    n = len(design.weights)
    if rows is not None and rows.size == n and np.array_equal(rows, np.arange(n)):
        rows = None  # every row, in order: no copies of the weights and unit codes
    mask = None
    if rows is not None:
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
    domains = domains_of(design, None, mask, func)
    # the per-unit totals by sparse products per stage (the scores have no missing value)
    if scale is not None and design.frequencies is None:
        stages = _scaled_unit_totals(design, values, scale, rows)
    else:
        stages = unit_totals(design, values if scale is None else values * scale[:, None], rows)
    estimate = stages[0].ty.sum(axis=0)[None, :]

    def more_sums(a: np.ndarray, rows_matrix: Any) -> tuple[np.ndarray, np.ndarray]:
        # only a calibrated design asks (its calibration residuals)
        u = values if scale is None else values * scale[:, None]
        full = u
        if rows is not None:
            full = np.zeros((n, p))
            full[rows] = u
        variables = Variables([Column(np.ascontiguousarray(full[:, j])) for j in range(p)],
                              None, [f"u{j}" for j in range(p)], None)
        return cross_sums(variables, domains, 1, func, a, rows_matrix)

    return design.variance(LinearisedTotals("total", estimate, np.ones((1, p)), stages, 1,
                                            domains.rows, more_sums, "cells"))


def _scaled_unit_totals(design: Design, values: np.ndarray, scale: np.ndarray,
                        rows: np.ndarray | None) -> tuple[StageTotals, ...]:
    """``unit_totals`` of ``values * scale[:, None]`` without the (m, p) product: per stage,
    the weights ``w * scale`` go into the summing matrix, applied to ``values`` column by
    column (scipy's product with a whole column-major matrix first copies it to row order,
    which costs more than the sums); ``sum w`` and the persons per unit as ``unit_totals``
    (a model's design has no frequencies)."""
    w = np.asarray(design.weights, dtype=np.float64)
    w = w if rows is None else w[rows]
    ws = w * scale
    persons = (w != 0).astype(np.float64)
    p = values.shape[1]
    out = []
    for stage in list(design.stages)[:design.variance_stages]:
        unit = stage.unit if rows is None else stage.unit[rows]
        total = summing_matrix(unit, stage.n_units, ws)
        ty = np.column_stack([total @ values[:, j] for j in range(p)])
        tx = np.bincount(unit, weights=w, minlength=stage.n_units)
        tc = np.bincount(unit, weights=persons, minlength=stage.n_units)
        out.append(StageTotals(dense_pairs(stage.n_units, 1), ty,
                               np.repeat(tx[:, None], p, axis=1),
                               np.repeat(tc[:, None], p, axis=1)))
    return tuple(out)


def _domain(design: Design, subpop: Subpop, func: str) -> tuple[np.ndarray, np.ndarray | None,
                                                                  str | None]:
    """The positions of the domain's rows, its mask (None: every row) and its description."""
    if design.frequencies is not None:
        raise DesignError(f"`{func}()` needs one row per person; this design has frequencies: "
                          f"declare it on the uncollapsed data")
    n = len(design.weights)
    domains = domains_of(design, None, subpop, func)
    if domains.rows is None:
        return np.arange(n), None, None
    mask = np.zeros(n, dtype=bool)
    mask[domains.rows] = True
    return np.asarray(domains.rows), mask, domains.subpop


def _check_outcome(family: Family, mf: ModelFrame, func: str) -> None:
    y = mf.y
    if family.name == "binomial" and not np.isin(y, (0.0, 1.0)).all():
        bad = np.unique(y[~np.isin(y, (0.0, 1.0))])
        raise DataError(f"the outcome {mf.outcome!r} of `{func}()` with family 'binomial' must "
                        f"be 0/1 or boolean; found {format_values(bad.tolist())}")
    if family.name == "poisson" and (y < 0).any():
        raise DataError(f"the outcome {mf.outcome!r} of `{func}()` with family 'poisson' must "
                        f"be a count (>= 0); found {format_values(np.unique(y[y < 0]))}")
    if len(y) == 0:
        raise DataError(f"`{func}()`: no row of the domain has a value for every variable of "
                        f"the formula")


def _check_rank(X: np.ndarray, w: np.ndarray, names: tuple[str, ...], func: str) -> None:
    """Aliased coefficients (R gives them NA) are an error naming them.

    The rank is numpy's ``matrix_rank`` of ``diag(sqrt(w)) X`` (singular values above
    ``s_max max(n, p) eps``). Its SVD costs far more than the Gram matrix ``X' diag(w) X``,
    whose eigenvalues are the squared singular values to within ``p eps lambda_max``: when the
    smallest is above ``1e-8 lambda_max`` (condition number below 1e4, far above the rounding
    error and far below the rank threshold for any ``n < 4e11``), the SVD would find full rank
    and is skipped; otherwise it decides."""
    n = X.shape[0]
    if n >= WARM_START_ROWS:
        # Columns independent on some of the rows are independent on all of them: a clearly
        # full-rank subsample settles it at a fraction of the cost.
        sub = _subsample(n)
        z = X[sub] * np.sqrt(w[sub])[:, None]
        eigen = np.linalg.eigvalsh(z.T @ z)
        if eigen[0] > 1e-8 * eigen[-1]:
            return
    eigen = np.linalg.eigvalsh((X * w[:, None]).T @ X)
    if eigen[0] > 1e-8 * eigen[-1]:
        return
    Xw = X * np.sqrt(w)[:, None]
    if np.linalg.matrix_rank(Xw) == X.shape[1]:
        return
    aliased = [names[j] for j in range(1, X.shape[1])
               if np.linalg.matrix_rank(Xw[:, : j + 1]) <= np.linalg.matrix_rank(Xw[:, :j])]
    raise EstimationError(f"the model matrix of `{func}()` is rank deficient: coefficient(s) "
                          f"{format_values(aliased)} are linear combinations of the others "
                          f"(an empty category in the domain?); drop them from the formula")


def _warn_fit(family: Family, fit: Fit, what: str) -> None:
    """R's warnings: no convergence; fitted probabilities numerically 0 or 1 (separation)."""
    if not fit.converged:
        warnings.warn(FlestimateWarning(f"the IRLS of {what} did not converge in "
                                        f"{fit.iterations} iterations", "NOT_CONVERGED"),
                      stacklevel=caller_stacklevel())
    eps = 10 * np.finfo(float).eps
    if family.name == "binomial" and ((fit.mu > 1 - eps) | (fit.mu < eps)).any():
        warnings.warn(FlestimateWarning(f"fitted probabilities numerically 0 or 1 occurred in "
                                        f"{what} (perfect or quasi-perfect separation: the "
                                        f"coefficients and SEs are not meaningful)",
                                        "SEPARATION"), stacklevel=caller_stacklevel())


def _taylor(design: Design, family: Family, mf: ModelFrame, fit: Fit, norm: float,
            func: str) -> tuple[np.ndarray, DesignVariance]:
    """R ``svy.varcoef``: ``A^{-1} Cov(sum_i w_i u_i) A^{-1}`` with the scores
    ``u_i = x_i (y_i - mu_i) mu.eta_i / V(mu_i)`` and ``A = X' diag(w mu.eta^2 / V) X``, from
    the fitted means and derivatives of the IRLS's last pass (at the returned coefficients),
    whose ``X'WX`` is ``A`` when it has it (the IRLS weights are ``w / norm``)."""
    mu, d = fit.mu[:, 0], fit.mu_eta[:, 0]
    v = family.variance(mu)
    if fit.gram is not None:
        a = fit.gram[0] * norm
    else:
        # Z'Z with Z = diag(sqrt(w mu.eta^2 / V)) X: numpy's symmetric product (BLAS syrk)
        z = mf.X * (d * np.sqrt(design.weights[mf.rows] / v))[:, None]
        a = z.T @ z
    ainv = np.linalg.inv(a)
    dv = design_covariance(design, mf.X, mf.rows, func, scale=(mf.y - mu) * d / v)
    assert dv.covariance is not None
    return ainv @ dv.covariance[0] @ ainv, dv


def _replicates(design: ReplicateWeighted, family: Family, mf: ModelFrame, beta: np.ndarray,
                weights: np.ndarray) -> np.ndarray:
    """R ``svyglm.svyrep.design``: the model refitted with every replicate's weights (all at
    once, starting at the full-sample fit), ``v = scale sum_r rscales_r (b_r - c)(b_r - c)'``
    with ``c`` the full-sample estimate (mse) or the replicates' mean."""
    W = weights[mf.rows, None] * design.multipliers[design.groups[mf.rows]]
    W = W / W.sum(axis=0, keepdims=True)
    fit = irls(FAMILIES[family.name], mf.X, mf.y, W, start=beta, tol=TOLERANCE,
               max_iter=MAX_ITER)
    _warn_fit(family, fit, "the replicate fits")
    betas = fit.beta
    dev = betas - (beta[None, :] if design.mse else betas.mean(axis=0, keepdims=True))
    return np.asarray(design.scale * (dev * design.rscales[:, None]).T @ dev)


def _dispersion(family: Family, mf: ModelFrame, mu: np.ndarray, pw: np.ndarray) -> float:
    """R ``summary.svyglm``'s dispersion: ``svyvar`` of the residuals ``(y - mu) / sqrt(V(mu))``
    (R's Pearson residuals of a ``svyglm``, without the weights; ``mu`` the fitted means); it
    does not enter the sandwich SEs."""
    r = (mf.y - mu) / np.sqrt(family.variance(mu))
    n = len(r)
    centre = np.sum(pw * r) / np.sum(pw)
    return float(np.sum(pw * (r - centre) ** 2) / np.sum(pw) * n / (n - 1)) if n > 1 else np.nan


def _variance(design: Design, family: Family, mf: ModelFrame, fit: Fit, norm: float,
              mask: np.ndarray | None, func: str) -> tuple[np.ndarray, DesignVariance, str]:
    """The coefficients' covariance, the design's df answer and the variance method (``norm``:
    the design weights over the IRLS weights)."""
    if isinstance(design, ReplicateWeighted):
        # R: degf of the subset design, before the rows with missing values are dropped.
        rows = None if mask is None else np.flatnonzero(mask)
        ones = np.ones((len(design.weights) if rows is None else rows.size, 1))
        dv = design_covariance(design, ones, rows, func)
        vcov = _replicates(design, family, mf, fit.beta[0], design.weights)
        return vcov, dv, dv.method + "; the model refitted with every replicate's weights"
    vcov, dv = _taylor(design, family, mf, fit, norm, func)
    return vcov, dv, dv.method + "; sandwich of the score totals (R svy.varcoef)"


@known_keywords
def glm(design: Design, formula: str, family: str = "binomial", *, subpop: Subpop = None,
        level: float = 0.95, df: float | None = None) -> GLMResult:
    """A survey-weighted generalised linear model (R survey ``svyglm``).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    formula : str
        ``"outcome ~ terms"`` in patsy's syntax (as R's): ``C(x)`` for a categorical term
        (treatment coding, first sorted level the reference, as R's factors), ``a:b`` and
        ``a*b`` interactions, ``I(x**2)``, ``np.log(x)``; string and boolean columns are
        categorical. A boolean outcome is its True indicator. The coefficients come in the
        formula's order of terms, with R's names (``(Intercept)``, ``stypeH``).
    family : {"binomial", "gaussian", "poisson"}
        Logistic (R ``quasibinomial()``: the outcome 0/1), linear (``gaussian()``) or
        log-linear (``quasipoisson()``) regression, each with its canonical link.
    subpop : str, boolean array or Series, optional
        Fit in a subpopulation; the other rows keep their place in the design with weight 0
        (R ``svyglm(..., design = subset(des, ...))``).
    level : float
        Confidence level of the intervals.
    df : float, optional
        Degrees of freedom of the t statistics and intervals; default the residual df
        ``degf + 1 - p``.

    Returns
    -------
    GLMResult

    Notes
    -----
    The coefficients solve the weighted score equations ``sum_i w_i u_i(b) = 0`` with
    ``u_i = x_i (y_i - mu_i) mu.eta_i / V(mu_i)`` (pseudo-maximum likelihood; Binder 1983), by
    IRLS with the weights normalised to mean 1 (R's ``.survey.prob.weights``). Taylor designs:
    ``V(b) = A^{-1} Cov(sum_i w_i u_i) A^{-1}``, ``A = X' diag(w mu.eta^2 / V(mu)) X``, the
    middle the design's covariance of the score totals (R ``svy.varcoef``). Replicate designs:
    ``V(b) = scale sum_r rscales_r (b_r - c)(b_r - c)'`` with ``b_r`` the fit with replicate
    r's weights (R ``svyglm.svyrep.design``). t statistics on ``degf + 1 - p`` df (R
    ``summary.svyglm``); rows with a missing value in the formula's variables are excluded
    (counted in the provenance and warned).

    References
    ----------
    Binder, D. A. (1983). On the variances of asymptotically normal estimators from complex
    surveys. *International Statistical Review* 51, 279-292. Lumley, T. (2010). *Complex
    Surveys: A Guide to Analysis Using R*, ch. 5.
    """
    func = "glm"
    fam = FAMILIES[check_choice(family, tuple(FAMILIES), "family", func)]
    level_v, df_user = check_level(level, func), check_df(df, func)
    domain_rows, mask, sub_desc = _domain(design, subpop, func)
    mf = model_frame(design.data, formula, domain_rows, func)
    _check_outcome(fam, mf, func)
    norm = float(np.mean(design.weights[domain_rows]))
    pw = design.weights[mf.rows] / norm
    _check_rank(mf.X, pw, mf.names, func)
    fit = irls(fam, mf.X, mf.y, pw[:, None], start=_warm_start(fam, mf, pw), tol=TOLERANCE,
               max_iter=MAX_ITER)
    _warn_fit(fam, fit, "the model")
    beta = fit.beta[0]
    vcov, dv, method = _variance(design, fam, mf, fit, norm, mask, func)
    if mf.n_excluded:
        warnings.warn(FlestimateWarning(f"missing values excluded from `{func}()`: "
                                        f"{mf.n_excluded} row(s) of the domain",
                                        "MISSING_ITEMS"), stacklevel=caller_stacklevel())
    df_resid = float(dv.df.reshape(-1)[0]) + 1 - len(beta)
    df_used = df_resid if df_user is None else df_user
    table = coefficient_table(mf.names, beta, vcov, df_used, level_v, fam.name == "binomial")
    provenance = {
        "estimator": func, "formula": formula, "family": fam.name, "link": fam.link,
        "variance": method, "level": level_v,
        "df_rule": (f"user ({df_user:g})" if df_user is not None
                    else f"residual df: design df ({dv.df_rule}) + 1 - {len(beta)} "
                         f"coefficients"),
        "df_residual": df_resid, "subpop": sub_desc, "n": len(mf.y),
        "rows_excluded_missing": mf.n_excluded, "iterations": fit.iterations,
        "dispersion": _dispersion(fam, mf, fit.mu[:, 0], pw),
        "design": design.summary_dict(), "version": __version__,
    }
    return GLMResult(table, vcov, provenance, mf, design.data.index[mf.rows])


#: Above this many rows a non-linear model starts from a fit on an evenly spaced subsample.
WARM_START_ROWS = 200_000


def _subsample(n: int) -> slice:
    """Every k-th row, about 50,000 of the ``n`` (a slice: the rows are views, not gathered)."""
    return slice(0, n, max(n // 50_000, 1))


def _warm_start(family: Family, mf: ModelFrame, pw: np.ndarray) -> np.ndarray | None:
    """Starting coefficients from a fit on every k-th row (about 50,000), or None (R's start)
    for small data and the linear model. Newton's iterations converge quadratically: from a
    start this close the full data need two or three passes instead of five to eight, to the
    same convergence rule (the estimate is the same to the rule's precision)."""
    n = len(mf.y)
    if family.name == "gaussian" or n < WARM_START_ROWS:
        return None
    sub = _subsample(n)
    X = np.asfortranarray(mf.X[sub])
    z = X * np.sqrt(pw[sub])[:, None]
    eigen = np.linalg.eigvalsh(z.T @ z)
    if not eigen[0] > 1e-8 * eigen[-1]:  # a category the subsample misses: R's start
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = irls(family, X, mf.y[sub], pw[sub, None], tol=1e-8, max_iter=MAX_ITER)
    return fit.beta[0] if fit.converged and np.isfinite(fit.beta).all() else None


def _term(name: str) -> str:
    return name if name.isidentifier() else f"Q({name!r})"


@known_keywords
def ttest(design: Design, y: str, group: str, *, subpop: Subpop = None,
          level: float = 0.95) -> TTestResult:
    """The design-based t-test of the difference between two groups' means (R survey
    ``svyttest(y ~ group, design)``).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    y : str
        The outcome column.
    group : str
        A column with two groups: two categories (the difference is second minus first, in
        sorted order), or 0/1 or 1/2 codes.
    subpop : str, boolean array or Series, optional
        Test in a subpopulation.
    level : float
        Confidence level of the interval of the difference.

    Returns
    -------
    TTestResult

    Notes
    -----
    The difference is the slope of ``svyglm(y ~ group)`` (gaussian), its SE the sandwich (or
    replicate) SE of :func:`glm`; ``t = difference / se`` on the residual df ``degf - 1``
    (R ``svyttest.default``).
    """
    func = "ttest"
    level_v = check_level(level, func)
    fit = glm(design, f"{_term(y)} ~ {_term(group)}", "gaussian", subpop=subpop, level=level_v)
    names = fit.coefficient_names
    if len(names) != 2:
        raise DataError(f"`group` of `{func}()` must have two groups; {group!r} gives "
                        f"{len(names)} coefficients ({', '.join(names)})")
    x = fit.model_matrix()[:, 1]
    if not (np.isin(x, (0.0, 1.0)).all() or np.isin(x, (1.0, 2.0)).all()):
        raise DataError(f"`group` of `{func}()` must be binary (two categories, 0/1 or 1/2); "
                        f"{group!r} has other values")
    row = fit.to_frame().iloc[1]
    provenance = dict(fit.provenance)
    provenance.update(estimator=func, outcome=y, group=group, difference=names[1])
    return TTestResult(row, provenance)
