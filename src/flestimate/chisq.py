"""Tests of association in two-way tables under the sample design (R survey ``svychisq``).

``design.chisq(row, col, statistic=...)`` tests whether two categorical columns are
independent, with Pearson's X^2 corrected for the design (Rao and Scott) or a design-based
Wald test; the numbers are those of R survey 4.1.1's ``svychisq(~row + col, design,
statistic=...)``, Taylor and replicate designs alike. One call goes through these steps:

1. :func:`_two_way`: the two columns become the cell of every row of the (sub)population
   (``row + n_rows * col``, R's ``interaction()`` order); a row missing either is excluded
   and counted, as R's ``na.rm = TRUE``;
2. :func:`_cell_moments`: the design estimates the cell shares (R ``svymean`` of the cell
   indicators) or the cell totals (R ``svytotal``) with their covariance and the design df,
   through the same summing pass and :meth:`~flestimate.protocol.Design.variance` as every
   estimator (the design computes its own variance: Taylor or replicate);
3. :func:`_rao_scott` (the generalized design effects ``Delta``) or :func:`_wald` (the
   quadratic form in the interaction residuals); :func:`_pearson` the X^2 of the weighted
   table scaled to the sample size;
4. :func:`_test_row`: the statistic, its degrees of freedom and p-value, as a
   :class:`ChisqTest`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from flestimate._caller import caller_stacklevel
from flestimate._cells import Column, Domains, Subpop, Variables, check_columns, domains_of
from flestimate._checks import check_choice, known_keywords
from flestimate._sums import cross_sums, indicator_totals
from flestimate._version import __version__
from flestimate.errors import (
    ArgumentError,
    ArgumentTypeError,
    DataError,
    EstimationError,
    FlestimateWarning,
    format_values,
)
from flestimate.protocol import Design, LinearisedTotals
from flestimate.results import Result, is_replicate_summary, records, thaw

__all__ = ["STATISTICS", "Association", "ChisqTest", "chisq"]

#: The statistics of R's ``svychisq`` that :func:`chisq` computes.
STATISTICS: tuple[str, ...] = ("F", "Chisq", "Wald", "adjWald", "saddlepoint")
#: R's exact asymptotic distribution of X^2 by numerical integration (CompQuadForm's Davies).
_NOT_IMPLEMENTED = ("lincom",)

_METHODS = {
    "F": "Pearson's X^2: Rao & Scott second-order adjustment (F)",
    "Chisq": "Pearson's X^2: Rao & Scott first-order adjustment (chi-square)",
    "Wald": "Design-based Wald test of association (F)",
    "adjWald": "Design-based adjusted Wald test of association (F)",
    "saddlepoint": "Pearson's X^2: saddlepoint approximation to its asymptotic distribution",
}


# -- step 1: the table ------------------------------------------------------------------------
@dataclass(frozen=True)
class _TwoWay:
    """The two columns over the (sub)population: the cell of every row (``n_cells`` where a
    value is missing or the row is outside), the levels, and the counts R's svychisq uses."""

    cell: np.ndarray  # (n_rows,) int64: i + nr * j, or nr * nc for no cell
    complete: np.ndarray  # (n_rows,) int64: 1 inside with both values, else 0
    row_levels: list[Any]
    col_levels: list[Any]
    domains: Domains
    n: float  # rows (persons) of the (sub)population, missing values included (R's N)
    n_complete: float
    n_missing: float


def _levels(s: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Codes (-1 missing) and the levels present, in R's ``factor()`` order: a categorical's
    own order, otherwise sorted."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        raw = s.cat.codes.to_numpy().astype(np.int64)
        present = np.unique(raw[raw >= 0])
        remap = np.full(len(s.cat.categories) + 1, -1, dtype=np.int64)
        remap[present] = np.arange(present.size)
        return remap[raw], list(s.cat.categories[present])
    codes, uniq = pd.factorize(s, sort=True)
    return codes.astype(np.int64), list(uniq)


def _two_way(design: Design, row: str, col: str, subpop: Subpop, func: str) -> _TwoWay:
    """Step 1: the cell of every row of the (sub)population; missing values counted."""
    for name, value in (("row", row), ("col", col)):
        if not isinstance(value, str):
            raise ArgumentTypeError(f"`{name}` of `{func}()` must be a column name; got "
                                    f"{value!r}")
        check_columns(design, [value], name, func)
    if row == col:
        raise ArgumentError(f"`col` of `{func}()` must differ from `row`; got {col!r} twice")
    domains = domains_of(design, None, subpop, func)
    n_rows = len(design.weights)
    inside = np.arange(n_rows) if domains.rows is None else domains.rows
    data = design.data
    r_codes, r_levels = _levels(data[row].iloc[inside])
    c_codes, c_levels = _levels(data[col].iloc[inside])
    for name, column, levels in (("row", row, r_levels), ("col", col, c_levels)):
        if len(levels) < 2:
            raise DataError(f"`{name}` column {column!r} of `{func}()` must have two or more "
                            f"values in the {'subpopulation' if subpop is not None else 'data'}"
                            f"; got {format_values(levels) if levels else 'none'}")
    nr, nc = len(r_levels), len(c_levels)
    ok = (r_codes >= 0) & (c_codes >= 0)
    cell = np.full(n_rows, nr * nc, dtype=np.int64)
    cell[inside[ok]] = r_codes[ok] + nr * c_codes[ok]
    complete = np.zeros(n_rows, dtype=np.int64)
    complete[inside[ok]] = 1
    freq = design.frequencies
    persons = np.ones(inside.size) if freq is None else np.asarray(freq, float)[inside]
    n, n_complete = float(persons.sum()), float(persons[ok].sum())
    return _TwoWay(cell, complete, r_levels, c_levels, domains, n, n_complete, n - n_complete)


def _warn_missing(table: _TwoWay, row: str, col: str, func: str) -> None:
    if table.n_missing:
        warnings.warn(FlestimateWarning(
            f"missing values excluded from `{func}()`: {table.n_missing:g} row(s) with {row!r} "
            f"or {col!r} missing", "MISSING_ITEMS"), stacklevel=caller_stacklevel())


# -- step 2: the design's estimates of the cells -----------------------------------------------
@dataclass(frozen=True)
class _Moments:
    estimate: np.ndarray  # (K,) cell shares or totals
    totals: np.ndarray  # (K,) weighted cell counts (R svytable)
    covariance: np.ndarray  # (K, K)
    df: float  # the design df of the (sub)population (R: PSUs minus strata; replicates: rank - 1)
    variance_method: str
    df_rule: str


def _cell_moments(design: Design, table: _TwoWay, kind: Literal["ratio", "total"],
                  func: str) -> _Moments:
    """Step 2: the cell shares among the complete rows (``ratio``: the cell indicator over the
    complete-row indicator, R ``svymean(mm, na.rm=TRUE)``) or the cell totals (``total``, R
    ``svytotal``), with their design covariance, by the estimators' own summing pass and the
    design's variance. The indicators are 0 (never missing) on incomplete rows, so the df
    counts every PSU of the (sub)population, as R's ``svychisq``."""
    k = len(table.row_levels) * len(table.col_levels)
    domains = table.domains
    inside = None
    if domains.rows is not None:
        inside = np.zeros(len(table.cell), dtype=bool)
        inside[domains.rows] = True
    # one weighted count per stage for all k cell indicators (not a pass per cell)
    stages = indicator_totals(design, table.cell, k, inside,
                              table.complete if kind == "ratio" else None)
    numerator = stages[0].ty.sum(axis=0)[None, :]
    denominator = (stages[0].tx.sum(axis=0)[None, :] if kind == "ratio"
                   else np.ones((1, k)))
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = numerator if kind == "total" else numerator / denominator

    def more_sums(a: np.ndarray, rows_matrix: Any) -> tuple[np.ndarray, np.ndarray]:
        # only a calibrated design asks (its calibration residuals)
        y = [Column(table.cell, j) for j in range(k)]
        x = [Column(table.complete, 1)] * k if kind == "ratio" else None
        variables = Variables(y, x, [f"cell{j}" for j in range(k)], None)
        return cross_sums(variables, domains, 1, func, a, rows_matrix)

    variance = design.variance(LinearisedTotals(kind, estimate, denominator, stages, 1,
                                                domains.rows, more_sums, "cells"))
    if variance.covariance is None:  # the protocol promises it when asked
        raise EstimationError(f"`{func}()`: the design gave no covariance of the cells")
    return _Moments(estimate[0], numerator[0], np.asarray(variance.covariance)[0],
                    float(variance.df[0, 0]), variance.method, variance.df_rule)


# -- step 3: the statistics -------------------------------------------------------------------
def _pearson(totals: np.ndarray, n: float, nr: int, nc: int) -> float:
    """Pearson's X^2 of the weighted table scaled to ``n`` persons (R ``chisq.test(svytable(
    ..., Ntotal = N))``): ``sum (O - E)^2 / E``, ``E = O_i. O_.j / n``."""
    obs = totals.reshape(nc, nr).T * (n / totals.sum())
    expected = np.outer(obs.sum(axis=1), obs.sum(axis=0)) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum((obs - expected) ** 2 / expected))


def _interaction_contrasts(nr: int, nc: int) -> np.ndarray:
    """R's ``Cmat``: the interaction columns of ``model.matrix(~rows * cols)`` (treatment
    coding, rows varying fastest) made orthogonal to the main effects, (nr nc, (nr-1)(nc-1))."""
    rows = np.tile(np.arange(nr), nc)
    cols = np.repeat(np.arange(nc), nr)
    row_dummies = (rows[:, None] == np.arange(1, nr)[None, :]).astype(float)
    col_dummies = (cols[:, None] == np.arange(1, nc)[None, :]).astype(float)
    main = np.column_stack([np.ones(nr * nc), row_dummies, col_dummies])
    inter = (row_dummies[:, :, None] * col_dummies[:, None, :]).reshape(nr * nc, -1, order="F")
    q, _ = np.linalg.qr(main)
    resid: np.ndarray = inter - q @ (q.T @ inter)
    return resid


def _rao_scott(p: np.ndarray, cov: np.ndarray, n: float, nr: int, nc: int) -> np.ndarray:
    """The generalized design effects matrix ``Delta = (C' D^-1 C / n)^-1 (C' D^-1 V D^-1 C)``
    (Rao and Scott 1984), ``D = diag(p)`` with 1/0 read as 0 (R's ``iDmat``)."""
    c = _interaction_contrasts(nr, nc)
    with np.errstate(divide="ignore"):
        inv_p = np.where(p == 0, 0.0, 1.0 / p)
    scaled = c * inv_p[:, None]  # D^-1 C
    denom = c.T @ scaled / n
    numer = scaled.T @ cov @ scaled
    delta: np.ndarray = np.linalg.solve(denom, numer)
    return delta


def _wald(totals: np.ndarray, cov: np.ndarray, nr: int, nc: int) -> float:
    """``Y' V^-1 Y`` over the interior cells (i, j >= 2), ``Y_ij = N_ij - N_i. N_.j / N``
    and ``V`` its covariance by the delta method (R's ``Jcb``) from that of the cells."""
    table = totals.reshape(nc, nr).T
    r, c, total = table.sum(axis=1), table.sum(axis=0), table.sum()
    resid = (table - np.outer(r, c) / total).reshape(-1, order="F")
    rows = np.tile(np.arange(nr), nc)
    cols = np.repeat(np.arange(nc), nr)
    # dY_ij / dN_kl = [ij == kl] - [i == k] c_j / N - [j == l] r_i / N + r_i c_j / N^2
    jac = (np.eye(nr * nc) - (rows[:, None] == rows[None, :]) * (c[cols] / total)[:, None]
           - (cols[:, None] == cols[None, :]) * (r[rows] / total)[:, None]
           + (r[rows] * c[cols] / total**2)[:, None])
    v = jac @ cov @ jac.T
    use = np.flatnonzero((rows > 0) & (cols > 0))
    y = resid[use]
    return float(y @ np.linalg.solve(v[np.ix_(use, use)], y))


def _saddle(x: float, lam: np.ndarray) -> float:
    """``P(sum_i lam_i Z_i^2 > x)`` by the Lugannani-Rice saddlepoint approximation (Kuonen
    1999), as R survey's internal ``saddle()``: NaN where it gives NA (a root near 0)."""
    from scipy import optimize, stats

    top = float(lam.max())
    lam, x = lam / top, x / top
    if (lam < 0).any():
        low = float(np.max(1 / (2 * lam[lam < 0]))) * 0.99999
    elif x > lam.sum():
        low = -0.01
    else:
        low = -lam.size / (2 * x)
    high = float(np.min(1 / (2 * lam[lam > 0]))) * 0.99999

    def slope(zeta: float) -> float:  # K'(zeta) - x, K the cumulant generating function
        return float(np.sum(lam / (1 - 2 * zeta * lam))) - x

    try:
        zeta = float(optimize.brentq(slope, low, high, xtol=1e-14, rtol=1e-14))
    except ValueError:  # no sign change: R's uniroot stops; fall back as for NA
        return float("nan")
    if abs(zeta) < 1e-4:
        return float("nan")
    k0 = -float(np.sum(np.log(1 - 2 * zeta * lam))) / 2
    w = np.sign(zeta) * np.sqrt(2 * (zeta * x - k0))
    v = zeta * np.sqrt(2 * float(np.sum(lam**2 / (1 - 2 * zeta * lam) ** 2)))
    return float(stats.norm.sf(w + np.log(v / w) / w))


def _saddlepoint_p(x2: float, eigen: np.ndarray, ddf: float | None) -> float:
    """R's p-value of ``statistic="saddlepoint"``: X^2 against ``sum_i delta_i Z_i^2`` (R
    ``pchisqsum``; replicate designs), or against ``sum_i delta_i Z_i^2 - X^2 chi2_ddf /
    ddf`` at 0 with ``ddf = d0 nu`` (R ``pFsum``; Taylor designs; R repeats the last term
    ``floor(ddf)`` times); where the saddlepoint fails, R's Satterthwaite approximation."""
    from scipy import stats

    scale = float(np.mean(eigen**2) / np.mean(eigen))
    ndf = eigen.size * float(np.mean(eigen)) ** 2 / float(np.mean(eigen**2))
    if ddf is None:
        p = _saddle(x2, eigen)
        return p if np.isfinite(p) else float(stats.chi2.sf(x2 / scale, ndf))
    lam = np.concatenate([eigen, np.full(int(ddf), -x2 / ddf)])
    p = _saddle(0.0, lam)
    return p if np.isfinite(p) else float(stats.f.sf(x2 / ndf / scale, ndf, ddf))


def _test_row(statistic: str, x2: float, delta: np.ndarray, wald: float | None,
              nu: float, replicate: bool) -> dict[str, float]:
    """Step 4: the statistic, its df and p-value (R ``svychisq``'s formulas; ``replicate``:
    R's replicate method, whose saddlepoint has no denominator df)."""
    from scipy import stats

    k = delta.shape[0]
    trace = float(np.trace(delta))
    out = {"value": np.nan, "ndf": np.nan, "ddf": np.nan, "df": np.nan, "p_value": np.nan}
    if statistic == "F":
        d0 = trace**2 / float(np.trace(delta @ delta))
        out.update(value=x2 / trace, ndf=d0, ddf=d0 * nu)
        out["p_value"] = float(stats.f.sf(out["value"], d0, d0 * nu))
    elif statistic == "Chisq":
        out.update(value=x2 / (trace / k), df=float(k))
        out["p_value"] = float(stats.chi2.sf(out["value"], k))
    elif statistic == "saddlepoint":
        ddf = None if replicate else trace**2 / float(np.trace(delta @ delta)) * nu
        eigen = np.linalg.eigvals(delta).real
        out.update(value=x2, ddf=np.nan if ddf is None else ddf)
        out["p_value"] = _saddlepoint_p(x2, eigen, ddf)
    else:
        assert wald is not None
        if statistic == "Wald":
            out.update(value=wald / k, ndf=float(k), ddf=nu)
        else:
            ddf = nu - k + 1
            out.update(value=wald * ddf / (k * nu), ndf=float(k), ddf=ddf)
        with np.errstate(invalid="ignore"):
            out["p_value"] = float(stats.f.sf(out["value"], out["ndf"], out["ddf"]))
    return out


# -- the result -------------------------------------------------------------------------------
class ChisqTest(Result):
    """A test of association in a two-way table (:func:`chisq`): one row with the statistic,
    its degrees of freedom and p-value, the weighted table and the design effects.

    Attributes
    ----------
    provenance : Mapping
        The columns, the statistic and its method, the subpopulation, the rows excluded for
        missing values, the variance method, the df rule, the design summary and the version.
    """

    __slots__ = ("_eigenvalues", "_observed", "_table")
    _table: pd.DataFrame
    _observed: pd.DataFrame
    _eigenvalues: np.ndarray
    _label: ClassVar[str] = "ChisqTest"
    _records_key: ClassVar[str] = "test"
    _immutable_hint: ClassVar[str] = "call chisq() again for new results"

    def __init__(self, table: pd.DataFrame, observed: pd.DataFrame, eigenvalues: np.ndarray,
                 provenance: Mapping[str, Any]):
        frozen = np.array(eigenvalues, dtype=np.float64)
        frozen.setflags(write=False)
        super().__init__(provenance, _table=table, _observed=observed, _eigenvalues=frozen)

    def to_frame(self) -> pd.DataFrame:
        """The test as one tidy row: ``statistic`` (its name: ``F``, ``Chisq``, ``Wald``,
        ``adjWald``), ``value``, ``ndf`` and ``ddf`` (the F's df), ``df`` (the chi-square's),
        ``p_value``, ``pearson`` (Pearson's X^2 of the table scaled to ``n_total``: R's
        ``X-squared``), ``mean_deff`` (the mean generalized design effect), ``d0`` (the
        second-order correction's df), ``design_df``, ``n`` (rows used), ``n_total`` and
        ``n_missing``."""
        out: pd.DataFrame = self._table.copy()
        return out

    @property
    def observed(self) -> pd.DataFrame:
        """The weighted table (R ``svytable``): row levels down, column levels across."""
        out: pd.DataFrame = self._observed.copy()
        return out

    @property
    def deff_eigenvalues(self) -> np.ndarray:
        """The eigenvalues of the generalized design effects matrix ``Delta``, largest first
        (their mean is ``mean_deff``)."""
        out: np.ndarray = self._eigenvalues.copy()
        return out

    @property
    def value(self) -> float:
        return float(self._table["value"].iloc[0])

    @property
    def p_value(self) -> float:
        return float(self._table["p_value"].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        """The test's row, the weighted table (long: row, col, weighted count), the design
        effects' eigenvalues and the provenance, as plain Python objects (JSON-ready)."""
        p = self.provenance
        long = self._observed.stack().rename("weighted").reset_index()
        long.columns = [p["row"], p["col"], "weighted"]
        return {self._records_key: records(self._table), "observed": records(long),
                "deff_eigenvalues": [float(v) for v in self._eigenvalues],
                "provenance": thaw(self.provenance)}

    def _title(self) -> str:
        p = self.provenance
        where = f" in {p['subpop']}" if p["subpop"] else ""
        return f"{p['row']} by {p['col']}{where}: {p['method']}"

    def summary(self) -> str:
        """The test, the weighted table, the design effects, the design and the version."""
        p = self.provenance
        with pd.option_context("display.width", 120):
            table = self._observed.to_string(float_format=lambda v: f"{v:,.1f}")
        lines = [repr(self), "", "Weighted table:", table, "",
                 "Generalized design effects (eigenvalues of Delta): "
                 + ", ".join(f"{v:.4g}" for v in self._eigenvalues),
                 f"Variance: {p['variance']}; design df {p['design_df']:g} ({p['df_rule']})",
                 f"Rows with a missing value excluded: {p['rows_missing']:g}",
                 f"flestimate {p['version']}"]
        return "\n".join(lines)


# -- the public function ----------------------------------------------------------------------
def _check_statistic(statistic: Any, func: str) -> str:
    if statistic in _NOT_IMPLEMENTED:
        raise ArgumentError(f"`statistic` of `{func}()` must be one of {', '.join(STATISTICS)}; "
                            f"got {statistic!r} (R's Davies integration of the asymptotic "
                            f"distribution of X^2 is not implemented; 'saddlepoint' "
                            f"approximates the same distribution, 'F' is the usual test)")
    return check_choice(statistic, STATISTICS, "statistic", func)


def _observed_frame(totals: np.ndarray, table: _TwoWay, row: str, col: str) -> pd.DataFrame:
    nr, nc = len(table.row_levels), len(table.col_levels)
    out: pd.DataFrame = pd.DataFrame(totals.reshape(nc, nr).T,
                                     index=pd.Index(table.row_levels, name=row),
                                     columns=pd.Index(table.col_levels, name=col))
    return out


@known_keywords
def chisq(design: Design, row: str, col: str, *, statistic: str = "F",
          subpop: Subpop = None) -> ChisqTest:
    """Test of association of two categorical columns under the design (R ``svychisq``).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign (any :class:`~flestimate.protocol.Design`)
    row, col : str
        The two columns (any values: categories, codes, booleans; missing values excluded).
    statistic : {"F", "Chisq", "Wald", "adjWald"}
        ``F`` (default): Pearson's X^2 with the Rao-Scott second-order correction, an F on
        ``d0`` and ``d0 nu`` df; ``Chisq``: the first-order correction ``X^2 / mean(delta)``,
        chi-square on ``(r-1)(c-1)`` df; ``Wald``: the design-based Wald statistic over
        ``(r-1)(c-1)`` as an F on ``(r-1)(c-1)`` and ``nu`` df; ``adjWald``: its adjustment,
        ``W (nu - k + 1) / (k nu)`` on ``k`` and ``nu - k + 1`` df.
    subpop : str, boolean array or Series, optional
        The test within a subpopulation (R ``svychisq`` on ``subset(design, ...)``).

    Returns
    -------
    ChisqTest

    Notes
    -----
    With ``p`` the design-based cell shares (rows with both values, ``r c`` cells), ``V``
    their covariance, ``n`` the rows of the (sub)population and ``X^2`` Pearson's statistic of
    the weighted table scaled to ``n``, the generalized design effects are the eigenvalues
    ``delta`` of ``Delta = (C' D^-1 C / n)^-1 C' D^-1 V D^-1 C``, ``D = diag(p)`` and ``C``
    the interaction contrasts orthogonal to the main effects. ``F = X^2 / tr(Delta)`` on
    ``d0 = tr(Delta)^2 / tr(Delta^2)`` and ``d0 nu`` df (second order), ``X^2 / mean(delta)``
    on ``k = (r-1)(c-1)`` df (first order). The Wald statistic is ``W = Y' V_Y^-1 Y`` over
    the cells ``i, j >= 2`` of ``Y_ij = N_ij - N_i. N_.j / N`` (estimated totals), ``V_Y`` by
    the delta method. ``nu`` is the design df of the (sub)population: PSUs minus strata
    (Taylor), the rank of the replicate weights minus one (replicate). R prints the
    unadjusted ``X^2`` as the ``Chisq`` statistic; here ``value`` is the adjusted statistic
    whose tail is the p-value and ``pearson`` is R's ``X-squared``.

    References
    ----------
    Rao, J. N. K. and Scott, A. J. (1984). On chi-squared tests for multiway contingency
    tables with cell proportions estimated from survey data. *Annals of Statistics* 12,
    46-60. Koch, G. G., Freeman, D. H. and Freeman, J. L. (1975). Strategies in the
    multivariate analysis of data from complex surveys. *International Statistical Review*
    43, 59-78. Lumley, T. (2010). *Complex Surveys*, sec. 6.2.
    """
    func = "chisq"
    statistic = _check_statistic(statistic, func)
    table = _two_way(design, row, col, subpop, func)
    _warn_missing(table, row, col, func)
    if table.n_complete == 0:
        raise EstimationError(f"`{func}()`: no row has both {row!r} and {col!r}")
    nr, nc = len(table.row_levels), len(table.col_levels)
    shares = _cell_moments(design, table, "ratio", func)
    totals = shares.totals
    x2 = _pearson(totals, table.n, nr, nc)
    delta = _rao_scott(shares.estimate, shares.covariance, table.n, nr, nc)
    wald = None
    if statistic in ("Wald", "adjWald"):
        cells = _cell_moments(design, table, "total", func)
        wald = _wald(cells.estimate, cells.covariance, nr, nc)
    summary = design.summary_dict()
    result = _test_row(statistic, x2, delta, wald, shares.df, is_replicate_summary(summary))
    trace = float(np.trace(delta))
    row_frame = pd.DataFrame([{
        "statistic": statistic, **result, "pearson": x2, "mean_deff": trace / delta.shape[0],
        "d0": trace**2 / float(np.trace(delta @ delta)), "design_df": shares.df,
        "n": table.n_complete, "n_total": table.n, "n_missing": table.n_missing}])
    eigen = np.sort(np.linalg.eigvals(delta).real)[::-1]
    provenance = {
        "test": func, "statistic": statistic, "method": _METHODS[statistic], "row": row,
        "col": col, "subpop": table.domains.subpop, "rows_missing": table.n_missing,
        "variance": shares.variance_method, "df_rule": shares.df_rule,
        "design_df": shares.df, "design": summary, "version": __version__,
        "reference": "R survey svychisq(~row + col, design, statistic=...)",
    }
    return ChisqTest(row_frame, _observed_frame(totals, table, row, col), eigen, provenance)


class Association:
    """The tests of association as methods of every design: ``design.chisq(row, col)`` is
    :func:`chisq` itself, bound to the design (a mixin of
    :class:`~flestimate.SurveyDesign` and :class:`~flestimate.ReplicateDesign`)."""

    __slots__ = ()
    chisq = chisq
