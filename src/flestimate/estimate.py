"""Design-based estimators: means, proportions, totals and ratios, by domain, in one pass.

The estimators are written once, against the :class:`~flestimate.protocol.Design` protocol,
and every design computes its own variance. One estimator call goes through these steps:

1. the columns become :class:`~flestimate._cells.Variables`, ``by=`` and ``subpop=`` become
   :class:`~flestimate._cells.Domains` (the cell of every row; no row is ever dropped: the
   outcome is zeroed outside the domain on the full design);
2. one pass over the rows sums them into totals per (sampling unit, domain cell) pair of every
   variance stage (:func:`~flestimate._sums.accumulate`);
3. :func:`_point_estimates`: the estimates of every (cell, variable) from those totals;
4. the design's :meth:`~flestimate.protocol.Design.variance`: variances and degrees of freedom
   from the linearised totals (Taylor: :class:`~flestimate.SurveyDesign`; replicate weights:
   :class:`~flestimate.ReplicateDesign`);
5. :func:`_design_effects`: deff, deff_wr, the effective sample size and the CV;
6. :func:`_intervals`: the confidence intervals of the method asked;
7. :func:`_table`, :func:`_warn_missing` and :func:`_provenance`: the tidy
   :class:`~flestimate.results.Estimates`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from flestimate._caller import caller_stacklevel
from flestimate._cells import (
    By,
    Column,
    Completed,
    Domains,
    Subpop,
    Variables,
    columns_of,
    completed_variables,
    domains_of,
    expand,
    numeric_column,
    subpop_mask,
)
from flestimate._checks import check_choice, check_df, check_level, known_keywords
from flestimate._sums import Sums, accumulate, cross_sums
from flestimate._version import __version__
from flestimate.errors import ArgumentError, ArgumentTypeError, FlestimateWarning, format_values
from flestimate.intervals import CI_METHODS, PROPORTION_CI_METHODS, confidence_interval
from flestimate.models import glm, ttest
from flestimate.protocol import (
    Covariance,
    Design,
    DesignVariance,
    Kind,
    LinearisedTotals,
    StageTotals,
)
from flestimate.quantile import quantile
from flestimate.results import ESTIMATE_COLUMNS, Estimates
from flestimate.variance import segment_summer

__all__ = ["Completed", "Estimators", "SharesAndTotals", "estimate_completed",
           "influence_covariance", "mean", "proportion", "ratio", "shares_and_totals",
           "shares_and_totals_completed", "shares_completed_where_valued", "total"]


def _options(kind: Kind, ci: Any, level: Any, df: Any) -> tuple[str, float, float | None]:
    """Validate the keywords every estimator shares; ``kind`` is also the function's name."""
    methods = ("wald",) if kind == "total" else CI_METHODS
    return check_choice(ci, methods, "ci", kind), check_level(level, kind), check_df(df, kind)


def _covariance(covmat: Any, func: str) -> Covariance:
    """``covmat`` checked: the covariances the design computes ("all", "cells" or none)."""
    if covmat is None:
        return None
    if not isinstance(covmat, bool | np.bool_):
        raise ArgumentTypeError(f"`covmat` of `{func}()` must be True, False or None; got "
                                f"{covmat!r}")
    return "all" if covmat else "cells"


# -- the steps of one estimator call ---------------------------------------------------------
@dataclass(frozen=True)
class _Point:
    """Step 3: the estimates of every (cell, variable) and the totals they are made of."""

    estimate: np.ndarray  # (n_cells, k)
    numerator: np.ndarray  # sum w y
    denominator: np.ndarray  # sum w x (x = 1 with a value, or the ratio's denominator)
    n: np.ndarray  # persons with a value and nonzero weight


def _point_estimates(kind: Kind, sums: Sums, n_cells: int) -> _Point:
    """Totals per cell from the first stage's pair totals; the estimate is the total, or the
    ratio of the totals (means and proportions are ratios to the count with a value)."""
    by_cell = segment_summer(sums.pairs[0].cell, n_cells)
    y_cell = by_cell(sums.ty[0])
    x_cell = by_cell(sums.tx[0])
    n_obs = by_cell(sums.tc[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        est = y_cell if kind == "total" else y_cell / x_cell
    return _Point(est, y_cell, x_cell, n_obs)


def _linearised_totals(kind: Kind, point: _Point, sums: Sums, variables: Variables,
                       domains: Domains, n_cells: int, func: str,
                       covariance: Covariance = None) -> LinearisedTotals:
    """What the design's variance reads: the estimates and the pair totals of every stage,
    with access to further sums over the rows for designs that need them (calibration)."""
    stages = tuple(StageTotals(p, ty, tx, tc)
                   for p, ty, tx, tc in zip(sums.pairs, sums.ty, sums.tx, sums.tc, strict=True))

    def more_sums(a: np.ndarray, rows_matrix: Any) -> tuple[np.ndarray, np.ndarray]:
        return cross_sums(variables, domains, n_cells, func, a, rows_matrix)

    return LinearisedTotals(kind, point.estimate, point.denominator, stages, n_cells,
                            domains.rows, more_sums, covariance)


def _design_effects(kind: Kind, point: _Point, sums: Sums, var: np.ndarray,
                    has_denominator: bool) -> dict[str, np.ndarray]:
    """Design effects against SRS without (deff) and with (deff_wr) replacement (R's
    ``deff=TRUE``), the effective sample size and the coefficient of variation."""
    est, y_cell, x_cell, n_obs = point.estimate, point.numerator, point.denominator, point.n
    wyy, wxy, wxx, psum = sums.wyy, sums.wxy, sums.wxx, sums.psum
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "total":
            ss = wyy - y_cell**2 / psum
            ss = np.where(np.abs(ss) <= 1e-12 * np.abs(wyy), 0.0, ss)
            s2 = ss / psum * n_obs / (n_obs - 1)
        else:
            if not has_denominator:
                wxy, wxx = y_cell, x_cell
            ss = wyy - 2 * est * wxy + est**2 * wxx
            # A constant outcome (p = 0 or 1) leaves only rounding: make it an exact zero.
            ss = np.where(np.abs(ss) <= 1e-12 * (np.abs(wyy) + est**2 * np.abs(wxx)), 0.0, ss)
            s2 = ss / x_cell**2 / psum * n_obs / (n_obs - 1)
        vsrs_wr = s2 * psum**2 / n_obs
        vsrs = np.where(psum >= n_obs, vsrs_wr * (psum - n_obs) / psum, np.nan)
        deff = var / vsrs
        deff_wr = var / vsrs_wr
        if kind == "proportion":
            inside = (est > 0) & (est < 1)
            n_eff = np.where(inside, est * (1 - est) / var, n_obs)
        else:
            n_eff = n_obs / deff_wr
        cv = np.sqrt(var) / np.abs(est)
    return {"deff": deff, "deff_wr": deff_wr, "n_eff": n_eff, "cv": cv}


def _intervals(kind: Kind, ci: str, level: float, cols: dict[str, np.ndarray],
               logit_variance: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The confidence intervals of the method asked, and their flags; a proportion method on
    an estimate outside [0, 1] gives no interval."""
    se_ci = cols["se"]
    if ci == "logit" and logit_variance is not None:
        # Replicate designs: the logit interval uses the replicates' own logits (as R does).
        p = cols["estimate"]
        with np.errstate(invalid="ignore"):
            se_ci = np.sqrt(logit_variance.reshape(-1)) * p * (1 - p)
    low, high, flag = confidence_interval(ci, cols["estimate"], se_ci, cols["df"],
                                          cols["n"], level)
    if ci in PROPORTION_CI_METHODS and kind != "proportion":
        outside = (cols["estimate"] < 0) | (cols["estimate"] > 1)
        low = np.where(outside, np.nan, low)
        high = np.where(outside, np.nan, high)
        flag[outside] = f"not in [0, 1]: no {ci} interval"
    return low, high, flag


def _table(domains: Domains, variables: Variables, cols: dict[str, np.ndarray],
           flag: np.ndarray) -> pd.DataFrame:
    """The tidy table: by-columns, ``variable``, [``category``], then the estimate columns."""
    n_cells, k = len(domains.labels), len(variables.y)
    labels = domains.labels.loc[np.repeat(np.arange(n_cells), k)].reset_index(drop=True)
    # built at once: inserting the columns one by one costs pandas an index check each time
    columns: dict[Any, Any] = {c: labels[c] for c in labels.columns}
    columns["variable"] = np.tile(np.array(variables.variable, dtype=object), n_cells)
    if variables.category is not None:
        columns["category"] = np.tile(np.array(variables.category, dtype=object), n_cells)
    for name in ESTIMATE_COLUMNS:
        if name == "flag":
            columns[name] = flag
        elif name in ("n", "n_missing"):
            columns[name] = cols[name].astype(np.int64)
        else:
            columns[name] = cols[name]
    table: pd.DataFrame = pd.DataFrame(columns, index=labels.index, copy=False)
    return table


def _masked(cov: np.ndarray | None, empty: np.ndarray) -> np.ndarray | None:
    """The covariances with an empty domain's estimates missing (as their estimate and SE)."""
    if cov is None or not empty.any():
        return cov
    if cov.ndim == 3:
        gone = empty[:, :, None] | empty[:, None, :]
    else:
        flat = empty.reshape(-1)
        gone = flat[:, None] | flat[None, :]
    return np.where(gone, np.nan, cov)


def _warn_missing(table: pd.DataFrame, func: str) -> None:
    """Missing values are excluded variable by variable, never silently: one warning names
    every variable with its count."""
    if not int(table["n_missing"].sum()):
        return
    per_var = table.groupby("variable")["n_missing"].sum()
    per_var = per_var[per_var > 0]
    warnings.warn(
        FlestimateWarning(
            f"missing values excluded from `{func}()`: "
            + ", ".join(f"{v} ({int(c)})" for v, c in per_var.items()),
            "MISSING_ITEMS",
        ),
        stacklevel=caller_stacklevel(),
    )


def _provenance(design: Design, func: str, ci: str, level: float, df_user: float | None,
                variance: DesignVariance, domains: Domains) -> dict[str, Any]:
    """How the numbers were made: estimator, variance method, interval, df rule, domains,
    the design summary and the version."""
    return {
        "estimator": func,
        "variance": variance.method,
        "ci_method": ci,
        "level": level,
        "df_rule": f"user ({df_user:g})" if df_user is not None else variance.df_rule,
        "by": list(domains.by),
        "subpop": domains.subpop,
        "rows_missing_by": domains.n_missing_by,
        "design": design.summary_dict(),
        "version": __version__,
    }


def _estimate(
    design: Design,
    kind: Kind,
    variables: Variables,
    domains: Domains,
    ci: str,
    level: float,
    df_user: float | None,
    sums: Sums | None = None,
    covariance: Covariance = None,
) -> Estimates:
    """One estimator call, step by step (see the module's docstring); ``sums`` are the row
    sums when another estimator of the same call has made them already; ``covariance`` the
    covariances to compute (none for the report's internal calls)."""
    n_cells, k = len(domains.labels), len(variables.y)
    if sums is None:
        sums = accumulate(design, variables, domains, n_cells, kind)
    point = _point_estimates(kind, sums, n_cells)
    variance = design.variance(_linearised_totals(kind, point, sums, variables, domains,
                                                  n_cells, kind, covariance))
    var = variance.variance
    effects = _design_effects(kind, point, sums, var, variables.x is not None)
    empty = point.n == 0
    flat = {
        "estimate": np.where(empty, np.nan, point.estimate),
        "se": np.where(empty, np.nan, np.sqrt(var)),
        "cv": effects["cv"], "deff": effects["deff"], "deff_wr": effects["deff_wr"],
        "n": point.n, "n_eff": effects["n_eff"],
        "df": (np.full((n_cells, k), df_user) if df_user is not None else variance.df),
        "n_missing": sums.n_missing,
    }
    cols = {name: np.asarray(v, dtype=np.float64).reshape(-1) for name, v in flat.items()}
    cols["ci_low"], cols["ci_high"], flag = _intervals(kind, ci, level, cols,
                                                       variance.logit_variance)
    table = _table(domains, variables, cols, flag)
    _warn_missing(table, kind)
    return Estimates(table, _provenance(design, kind, ci, level, df_user, variance, domains),
                     domains.by, vcov=_masked(variance.covariance, empty))


# -- for the models and tests -------------------------------------------------------------------
def influence_covariance(design: Design, values: np.ndarray, *, subpop: Subpop = None,
                         func: str = "glm") -> np.ndarray:
    """The design-based covariance matrix (p, p) of the estimated totals ``sum_i w_i u_i`` of
    ``values`` (n_rows, p; per-row scores *not* multiplied by the weight, 0 outside the
    model's rows): for a Taylor design what R's ``svyrecvar(w * u, ...)`` returns (the
    models' sandwich "meat"), with the calibration residuals; for a replicate design the
    replicate covariance of the totals (a model on replicate weights refits instead).
    ``subpop`` as in the estimators."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != len(design.weights):
        raise ArgumentError(f"`values` of `{func}()` must be a (rows, p) array with one row per "
                            f"row of the design ({len(design.weights)}); got shape "
                            f"{values.shape}")
    p = values.shape[1]
    variables = Variables([Column(np.ascontiguousarray(values[:, j])) for j in range(p)], None,
                          [f"v{j}" for j in range(p)], None)
    domains = domains_of(design, None, subpop, func)
    est = _estimate(design, "total", variables, domains, "wald", 0.95, None, covariance="cells")
    return est.vcov().to_numpy()


# -- public estimators --------------------------------------------------------------------------
@known_keywords
def mean(
    design: Design,
    vars: str | Sequence[str],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str = "wald",
    level: float = 0.95,
    df: float | None = None,
    covmat: bool | None = False,
) -> Estimates:
    """Weighted means with design-based standard errors (Taylor or replicate).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign (any :class:`~flestimate.protocol.Design`)
    vars : str or list of str
        Numeric (or boolean) columns.
    by : str or list of str, optional
        Domain columns; every observed combination is a domain, all estimated in one pass.
    subpop : str, boolean array or Series, optional
        Restrict to a subpopulation (a domain on the full design; rows are never dropped).
    ci : str
        Interval method: ``"wald"`` (default); the proportion methods are accepted for
        estimates in [0, 1].
    level : float
        Confidence level in (0, 1).
    df : float, optional
        Degrees of freedom for the t quantile; default the design df of each domain.
    covmat : bool or None
        ``True``: also compute the covariances between the estimates of different domains (R
        ``svyby(..., covmat=TRUE)``), for :meth:`~flestimate.results.Estimates.vcov` and
        contrasts between domains. ``False`` (default): the covariances between the variables
        (and categories) of each domain only. ``None``: no covariances (a little faster;
        ``vcov()`` and contrasts are then unavailable).

    Returns
    -------
    Estimates

    Notes
    -----
    The mean is the ratio estimator ``R = sum(w d y) / sum(w d)`` with linearised values
    ``z_k = w_k d_k (y_k - R) / sum(w d)`` (Lumley 2010, sec. 2.3; R ``svymean``); missing values
    of ``y`` are excluded from that variable only. ``deff`` divides the design variance by the SRS
    without-replacement variance ``(1 - n/N) s^2 / n`` with ``N = sum(w d)`` and
    ``s^2 = sum w d (y - R)^2 / N * n/(n-1)`` (R ``deff=TRUE``); ``deff_wr`` drops ``1 - n/N``.
    """
    cols = columns_of(design, vars, "vars", "mean")
    options = _options("mean", ci, level, df)
    y = [numeric_column(design, c, "mean") for c in cols]
    domains = domains_of(design, by, subpop, "mean")
    return _estimate(design, "mean", Variables(y, None, cols, None), domains, *options,
                     covariance=_covariance(covmat, "mean"))


@known_keywords
def proportion(
    design: Design,
    vars: str | Sequence[str],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str = "korn-graubard",
    level: float = 0.95,
    df: float | None = None,
    covmat: bool | None = False,
) -> Estimates:
    """Proportions (prevalences) with intervals that stay valid for rare events.

    A 0/1 or boolean column gives the proportion of ones (``category`` is empty); any other
    column gives one row per category, its share among the rows with a value.

    Parameters
    ----------
    design, vars, by, subpop, level, df, covmat
        As :func:`mean`.
    ci : {"korn-graubard", "beta", "logit", "wilson", "wald"}
        ``korn-graubard`` (default): Clopper-Pearson at the df-adjusted effective sample size,
        capped at the domain's n, one-sided at p = 0 or 1 (NCHS); ``beta``: R
        ``svyciprop(method="beta")`` exactly; ``logit``: R ``xlogit``; ``wilson``: effective-n
        Wilson; ``wald``.

    Returns
    -------
    Estimates

    Notes
    -----
    A proportion is the mean of an indicator; see :func:`mean` for the variance. ``n_eff`` is
    ``p (1 - p) / se^2`` (Korn & Graubard 1998, eq. 2.1), and ``n`` at p = 0 or 1.

    References
    ----------
    Korn, E. L. and Graubard, B. I. (1998). Confidence intervals for proportions with small
    expected number of positive counts estimated from survey data. *Survey Methodology* 24,
    193-201. Parker, J. D. et al. (2017). NCHS data presentation standards for proportions.
    *Vital Health Stat* 2(175).
    """
    cols = columns_of(design, vars, "vars", "proportion")
    options = _options("proportion", ci, level, df)
    variables = expand(design, cols, "proportion", expand_numeric=True)
    domains = domains_of(design, by, subpop, "proportion")
    return _estimate(design, "proportion", variables, domains, *options,
                     covariance=_covariance(covmat, "proportion"))


@known_keywords
def total(
    design: Design,
    vars: str | Sequence[str],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str = "wald",
    level: float = 0.95,
    df: float | None = None,
    covmat: bool | None = False,
) -> Estimates:
    """Weighted totals; a categorical column gives the estimated count of every category.

    Parameters
    ----------
    design, vars, by, subpop, level, df, covmat
        As :func:`mean`.
    ci : {"wald"}

    Returns
    -------
    Estimates

    Notes
    -----
    ``Y = sum(w d y)`` with linearised values ``z_k = w_k d_k y_k`` (R ``svytotal``). ``deff`` uses
    the SRS variance ``N^2 (1 - n/N) s^2 / n``.
    """
    cols = columns_of(design, vars, "vars", "total")
    options = _options("total", ci, level, df)
    variables = expand(design, cols, "total", expand_numeric=False)
    domains = domains_of(design, by, subpop, "total")
    return _estimate(design, "total", variables, domains, *options,
                     covariance=_covariance(covmat, "total"))



def estimate_completed(
    design: Design,
    kind: Literal["proportion", "total"],
    completed: Sequence[Completed],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str | None = None,
    level: float = 0.95,
    df: float | None = None,
    covmat: bool = False,
) -> Estimates:
    """:func:`proportion` or :func:`total` of every completion of some imputed variables at
    once (variables ``"<name>@<m>"``), the same numbers as estimating the ``M`` completed
    columns one by one, but reading the rows that no completion changes only once; with
    ``covmat`` the covariances between every estimate (domain differences per completion).

    Multiple imputation changes a few percent of the rows; the other rows are summed once for
    all ``M`` completions (see ``accumulate``), so ``M = 20`` completions cost little more than
    one column. ``ci`` defaults to that of the estimator.
    """
    if kind not in ("proportion", "total"):
        raise ArgumentError(f"`kind` of `estimate_completed()` must be 'proportion' or "
                            f"'total'; got {kind!r}")
    options = _options(kind, ("korn-graubard" if kind == "proportion" else "wald")
                       if ci is None else ci, level, df)
    variables = completed_variables(design, completed, kind)
    domains = domains_of(design, by, subpop, kind)
    return _estimate(design, kind, variables, domains, *options,
                     covariance="all" if covmat else None)


def shares_and_totals_completed(
    design: Design,
    completed: Sequence[Completed],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str = "korn-graubard",
    level: float = 0.95,
    df: float | None = None,
) -> tuple[Estimates, Estimates]:
    """:func:`estimate_completed` as proportions (interval ``ci``) and as totals (Wald) from
    one pass over the rows: both estimators read the same sums."""
    share_opts = _options("proportion", ci, level, df)
    total_opts = _options("total", "wald", level, df)
    variables = completed_variables(design, completed, "proportion")
    domains = domains_of(design, by, subpop, "proportion")
    sums = accumulate(design, variables, domains, len(domains.labels), "proportion")
    return _shares_and_totals(design, variables, domains, sums, share_opts, total_opts)


def shares_completed_where_valued(
    design: Design,
    completed: Sequence[Completed],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str = "korn-graubard",
    level: float = 0.95,
    df: float | None = None,
) -> Estimates:
    """:func:`estimate_completed` as proportions, summing only the rows where some completion
    has a value: the same estimates, faster when the variables are missing outside a small
    class (the form of the persons in forced labour); ``n_missing`` counts those rows only.

    The domains are those of ``by`` and ``subpop``; a row missing in every completion adds
    nothing to any sum but ``n_missing`` (Lumley 2010, sec. 2.3: a missing value is excluded
    from its variable's sums)."""
    share_opts = _options("proportion", ci, level, df)
    variables = completed_variables(design, completed, "proportion")
    domains = domains_of(design, by, subpop, "proportion")
    valued = np.zeros(len(domains.cell), dtype=bool)
    done: set[int] = set()
    for c in variables.y:  # the completions and categories share their sources
        if id(c.source) not in done:
            done.add(id(c.source))
            valued |= (c.source >= 0) if c.level is not None else ~np.isnan(
                np.asarray(c.source, dtype=np.float64))
        if c.at is not None and id(c.at) not in done:
            done.add(id(c.at))
            valued[c.at] = True
    return _estimate(design, "proportion", variables, _restricted(domains, valued),
                     *share_opts)


def _restricted(domains: Domains, inner: np.ndarray) -> Domains:
    """The domains with only the rows ``inner`` (the same cells and labels)."""
    cell = np.where(inner, domains.cell, -1)
    return Domains(cell, np.flatnonzero(cell >= 0), domains.labels, domains.by,
                   domains.n_missing_by, domains.subpop)


def _shares_and_totals(design: Design, variables: Variables, domains: Domains, sums: Sums,
                       share_opts: tuple[str, float, float | None],
                       total_opts: tuple[str, float, float | None]
                       ) -> tuple[Estimates, Estimates]:
    """The proportions and the totals of the variables from the same sums."""
    shares = _estimate(design, "proportion", variables, domains, *share_opts, sums=sums)
    as_total = (variables if variables.category is not None
                and any(c is not None for c in variables.category)
                else Variables(variables.y, None, variables.variable, None))
    totals = _estimate(design, "total", as_total, domains, *total_opts, sums=sums)
    return shares, totals


class SharesAndTotals(NamedTuple):
    """What :func:`shares_and_totals` returns."""

    #: The proportions of the variables.
    shares: Estimates
    #: Their totals.
    totals: Estimates
    #: The proportions of the categories of each ``within`` column among its subpopulation.
    within: dict[str, Estimates]
    #: The domain cell of every row (the tables' domain order; -1 outside every domain).
    cell: np.ndarray


def shares_and_totals(
    design: Design,
    vars: str | Sequence[str],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str = "korn-graubard",
    level: float = 0.95,
    df: float | None = None,
    within: Mapping[str, str] | None = None,
) -> SharesAndTotals:
    """:func:`proportion` (interval ``ci``) and :func:`total` (Wald) of the 0/1 or categorical
    columns ``vars`` from one pass over the rows, and the proportions of the categories of
    each column of ``within`` among the rows of its subpopulation column, in the same domains
    (summed over the subpopulation's rows only).

    Parameters
    ----------
    design, vars, by, subpop, level, df
        As :func:`proportion`.
    ci : str
        The proportions' interval method (the totals' interval is Wald).
    within : dict, optional
        ``{categorical column: subpopulation column}``, every subpopulation inside ``subpop``:
        in every domain of ``by`` and ``subpop`` the same numbers as ``proportion(design,
        column, by=by, subpop=subpopulation)`` (a domain without a row of the subpopulation
        is an empty domain).

    Returns
    -------
    SharesAndTotals

    Notes
    -----
    A share among the rows ``S`` of domain ``d`` is ``sum(w d s y) / sum(w d s)`` with
    linearised values ``w d s (y - R) / sum(w d s)`` (Lumley 2010, sec. 2.3): rows outside
    ``S`` add nothing to any sum, so only the rows of ``S`` are read; the cells stay those of
    ``d`` (a domain is a subpopulation of the full design, never a subset of the rows).
    """
    cols = columns_of(design, vars, "vars", "proportion")
    share_opts = _options("proportion", ci, level, df)
    total_opts = _options("total", "wald", level, df)
    variables = expand(design, cols, "proportion", expand_numeric=True)
    if len(expand(design, cols, "total", expand_numeric=False).y) != len(variables.y):
        raise ArgumentError(f"`vars` of `shares_and_totals()` must be 0/1 or categorical "
                            f"columns; got {format_values(cols)}")
    domains = domains_of(design, by, subpop, "proportion")
    sums = accumulate(design, variables, domains, len(domains.labels), "proportion")
    shares, totals = _shares_and_totals(design, variables, domains, sums, share_opts,
                                        total_opts)
    sub = subpop_mask(design, subpop, "proportion")
    among: dict[str, Estimates] = {}
    for col, rows in (within or {}).items():
        inner = subpop_mask(design, rows, "proportion")
        if inner is None or (sub is not None and (inner & ~sub).any()):
            raise ArgumentError(f"`within` of `shares_and_totals()`: subpopulation {rows!r} "
                                f"must be a column of rows inside `subpop`")
        more = expand(design, columns_of(design, col, "within", "proportion"), "proportion",
                      expand_numeric=True)
        among[col] = _estimate(design, "proportion", more, _restricted(domains, inner),
                               *share_opts)
    return SharesAndTotals(shares, totals, among, domains.cell)


@known_keywords
def ratio(
    design: Design,
    numerator: str | Sequence[str],
    denominator: str | Sequence[str],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str = "wald",
    level: float = 0.95,
    df: float | None = None,
    covmat: bool | None = False,
) -> Estimates:
    """Ratios of two totals, ``sum(w d y) / sum(w d x)``.

    Parameters
    ----------
    design, by, subpop, ci, level, df, covmat
        As :func:`mean`.
    numerator : str or list of str
    denominator : str or list of str
        One column for every numerator, or a list as long as ``numerator`` (pairwise).

    Returns
    -------
    Estimates
        ``variable`` is ``"numerator/denominator"``.

    Notes
    -----
    Linearised values ``z_k = w_k d_k (y_k - R x_k) / X`` (R ``svyratio``). A row is excluded from a
    ratio when its numerator or its denominator is missing. ``deff`` is that of the linearised
    total, as R.
    """
    nums = columns_of(design, numerator, "numerator", "ratio")
    dens = columns_of(design, denominator, "denominator", "ratio")
    if len(dens) == 1:
        dens = dens * len(nums)
    elif len(dens) != len(nums):
        raise ArgumentError(
            f"`denominator` of `ratio()` must be one column or as many as `numerator` "
            f"({len(nums)}); got {len(dens)}"
        )
    options = _options("ratio", ci, level, df)
    y = [numeric_column(design, c, "ratio") for c in nums]
    x = [numeric_column(design, c, "ratio") for c in dens]
    names = [f"{a}/{b}" for a, b in zip(nums, dens, strict=True)]
    domains = domains_of(design, by, subpop, "ratio")
    return _estimate(design, "ratio", Variables(y, x, names, None), domains, *options,
                     covariance=_covariance(covmat, "ratio"))

class Estimators:
    """The estimators as methods of every design: ``design.mean(vars, by=...)`` is
    :func:`mean` itself (bound to the design), so the signatures and their documentation are
    written once, here, for :class:`~flestimate.SurveyDesign` and
    :class:`~flestimate.ReplicateDesign` alike."""

    __slots__ = ()
    mean = mean
    proportion = proportion
    total = total
    ratio = ratio
    quantile = quantile
    glm = glm
    ttest = ttest
