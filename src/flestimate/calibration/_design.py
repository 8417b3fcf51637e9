"""From population totals in tidy tables to the auxiliary matrix, the calibrated weights and what
the variance after calibration needs.

Rows are grouped into *patterns* (rows with the same auxiliary values): the calibration is
solved on the patterns (the g-weights depend on a row only through its auxiliary values, so this
is exact and the Newton path is R's), and the variance needs only pattern-level quantities.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from flestimate.calibration._solve import (
    CALIBRATION_METHODS,
    CalibrationReport,
    calibration_weights,
    poststratify_weights,
    rake_weights,
)
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, format_values

TOTAL = "total"


@dataclass(frozen=True)
class Margins:
    """The auxiliary matrix of a calibration, by pattern.

    Attributes
    ----------
    pattern : ndarray of int64, (n_rows,)
        The pattern (distinct auxiliary row) of every data row.
    X : ndarray, (n_patterns, p)
        R's model matrix rows: an intercept, treatment dummies of every categorical margin
        (its first level dropped) and the numeric margins.
    totals : ndarray, (p,)
    names : tuple of str
        Column names of X, e.g. ``"(Intercept)"``, ``"region=North"``, ``"income"``.
    cells : list of ndarray
        For every categorical margin, the level code (0..L-1) of every pattern.
    cell_totals : list of ndarray
        For every categorical margin, the population total of every level.
    margin_names : list of str
    """

    pattern: np.ndarray
    X: np.ndarray
    totals: np.ndarray
    names: tuple[str, ...]
    cells: list[np.ndarray]
    cell_totals: list[np.ndarray]
    margin_names: list[str]


@dataclass(frozen=True)
class Calibration:
    """What a calibrated design keeps: the margins, the design weights before calibration, the
    inverse of ``X' D X`` (design weights, as R's ``calibrate`` regression), and the report.

    The variance after calibration replaces every linearised value ``u_i`` by the residual
    ``u_i - w_i x_i' B`` with ``B = (X' D X)^{-1} sum_i x_i u_i / g_i`` (R ``svyrecvar`` on a
    calibrated design: ``qr.resid(qr(X sqrt(d)), u / (g sqrt(d))) g sqrt(d)``).
    """

    method: str
    margins: Margins
    d: np.ndarray
    g: np.ndarray
    m_inv: np.ndarray
    report: CalibrationReport
    description: str


def _one_margin(data: pd.DataFrame, table: pd.DataFrame, func: str, where: str
                ) -> tuple[np.ndarray, list[Any], np.ndarray, str]:
    """Level codes of every row, the levels and their totals, for one (cross-classified)
    categorical margin given as a tidy table."""
    if TOTAL not in table.columns:
        raise ArgumentError(f"`{where}` of `{func}()`: a margin table needs a {TOTAL!r} column "
                            f"beside its category columns; got {list(table.columns)}")
    cols = [c for c in table.columns if c != TOTAL]
    if not cols:
        raise ArgumentError(f"`{where}` of `{func}()`: a margin table needs category columns")
    absent = [c for c in cols if c not in data.columns]
    if absent:
        raise DataError(f"`{where}` of `{func}()`: margin column(s) {format_values(absent)} not "
                        f"found in the data")
    name = " x ".join(cols)
    dup = table.duplicated(cols)
    if dup.any():
        raise ArgumentError(f"`{where}` of `{func}()`: margin {name!r} lists a category twice: "
                            f"{table.loc[dup, cols].iloc[0].tolist()}")
    totals = pd.to_numeric(table[TOTAL], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(totals).all() or (totals < 0).any():
        raise ArgumentError(f"`{where}` of `{func}()`: margin {name!r} has missing or negative "
                            f"totals")
    # Levels in sorted order, the first one the reference: R's treatment coding of a factor,
    # so that the model matrix (and the convergence test on its columns) is R's.
    try:
        table = table.sort_values(cols, kind="stable")
    except TypeError:  # levels of mixed types: keep the table's order
        pass
    totals_sorted = pd.to_numeric(table[TOTAL], errors="coerce").to_numpy(dtype=float)
    keys = pd.MultiIndex.from_frame(table[cols].astype(object))
    rows = pd.MultiIndex.from_frame(data[cols].astype(object))
    missing = data[cols].isna().any(axis=1).to_numpy()
    if missing.any():
        raise DataError(f"margin {name!r}: {int(missing.sum())} row(s) have a missing value, "
                        f"e.g. rows {data.index[missing][:3].tolist()}")
    code = keys.get_indexer(rows)
    unknown = code < 0
    if unknown.any():
        bad = [k if len(cols) > 1 else k[0] for k in dict.fromkeys(rows[unknown])][:3]
        raise DataError(f"margin {name!r}: {int(unknown.sum())} row(s) fall in categories the "
                        f"population totals do not list, e.g. {bad}")
    levels = [k if len(cols) > 1 else k[0] for k in keys]
    return code.astype(np.int64), levels, totals_sorted, name


def _level_name(margin: str, level: Any) -> str:
    if isinstance(level, tuple):
        level = ", ".join(map(str, level))
    return f"{margin}={level}"


def build_margins(data: pd.DataFrame, population_totals: Any, func: str,
                  where: str = "population_totals", intercept: bool = True) -> Margins:
    """The auxiliary matrix for ``population_totals``.

    ``population_totals`` is a tidy table (category columns and a ``total`` column: one margin,
    e.g. region x sex x age group), a list of such tables (several margins), or a mapping:
    column -> {level: total} for a categorical margin, column -> number for a numeric margin
    (its population total); ``"_population"`` -> N when there is no categorical margin.
    """
    tables, numeric, population = _margin_tables(population_totals, func, where)
    margins = [_one_margin(data, t, func, where) for t in tables]
    n_pop = _population_size(margins, population, intercept, func, where)
    num = _numeric_columns(data, list(numeric), func, where)
    pattern, first = _patterns([m[0] for m in margins], num, len(data))
    return _model_matrix(pattern, first, margins, numeric, num,
                         n_pop if intercept else None)


def _margin_tables(population_totals: Any, func: str, where: str
                   ) -> tuple[list[pd.DataFrame], dict[str, float], float | None]:
    """The categorical margins as tidy tables, the numeric margins' totals by column, and the
    population size given as ``"_population"`` (None if not given), from any of the accepted
    forms of ``population_totals``."""
    tables: list[pd.DataFrame] = []
    numeric: dict[str, float] = {}
    population: float | None = None
    if isinstance(population_totals, pd.DataFrame):
        tables = [population_totals]
    elif isinstance(population_totals, list | tuple):
        for i, t in enumerate(population_totals):
            if not isinstance(t, pd.DataFrame):
                raise ArgumentTypeError(f"`{where}` of `{func}()`: item {i} of the list must be a "
                                        f"DataFrame with a {TOTAL!r} column; got "
                                        f"{type(t).__name__}")
        tables = list(population_totals)
    elif isinstance(population_totals, Mapping):
        for key, value in population_totals.items():
            if key == "_population":
                population = float(value)
            elif isinstance(value, Mapping | pd.Series):
                items = dict(value)
                tables.append(pd.DataFrame({key: list(items), TOTAL: list(items.values())}))
            elif isinstance(value, int | float | np.integer | np.floating) \
                    and not isinstance(value, bool):
                numeric[str(key)] = float(value)
            else:
                raise ArgumentTypeError(f"`{where}` of `{func}()`: the value for {key!r} must "
                                        f"be a mapping of level totals or a number; got "
                                        f"{type(value).__name__}")
    else:
        raise ArgumentTypeError(f"`{where}` of `{func}()` must be a DataFrame, a list of "
                                f"DataFrames or a mapping; got {type(population_totals).__name__}")
    if not tables and not numeric:
        raise ArgumentError(f"`{where}` of `{func}()` gives no margin")
    return tables, numeric, population


_Margin = tuple[np.ndarray, list[Any], np.ndarray, str]  # codes, levels, level totals, name


def _population_size(margins: list[_Margin], population: float | None, intercept: bool,
                     func: str, where: str) -> float | None:
    """The population size: the sum of every categorical margin (they must agree), else the
    ``"_population"`` given, which the intercept needs when every margin is numeric."""
    names = [m[3] for m in margins]
    sums = [float(m[2].sum()) for m in margins]
    if sums and not np.allclose(sums, sums[0], rtol=1e-9, atol=1e-9):
        raise ArgumentError(f"`{where}` of `{func}()`: the margins add up to different "
                            f"population sizes: " + ", ".join(
                                f"{n} {s:.10g}" for n, s in zip(names, sums, strict=True)))
    n_pop = sums[0] if sums else population
    if intercept and n_pop is None:
        raise ArgumentError(f"`{where}` of `{func}()`: give the population size as "
                            f"'_population' when every margin is numeric")
    return n_pop


def _numeric_columns(data: pd.DataFrame, num_cols: list[str], func: str, where: str
                     ) -> np.ndarray:
    """The data's columns of the numeric margins as floats (n, k), without missing values."""
    absent = [c for c in num_cols if c not in data.columns]
    if absent:
        raise DataError(f"`{where}` of `{func}()`: column(s) {format_values(absent)} not found "
                        f"in the data")
    num = (data[num_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
           if num_cols else np.zeros((len(data), 0)))
    if num_cols and not np.isfinite(num).all():
        finite = np.asarray(np.isfinite(num).all(axis=0), dtype=bool).tolist()
        bad = [c for c, ok in zip(num_cols, finite, strict=True) if not ok]
        raise DataError(f"numeric margin(s) {format_values(bad)} have missing values")
    return num


def _patterns(codes: list[np.ndarray], num: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The pattern of every row (rows with the same category codes and numeric values share
    one) and the first row of every pattern."""
    key = pd.DataFrame({f"m{i}": c for i, c in enumerate(codes)} |
                       {f"x{j}": num[:, j] for j in range(num.shape[1])})
    if key.shape[1]:
        pattern = key.groupby(list(key.columns), sort=True).ngroup().to_numpy(dtype=np.int64)
        first = np.unique(pattern, return_index=True)[1]
    else:
        pattern = np.zeros(n, dtype=np.int64)
        first = np.array([0])
    return pattern, first


def _model_matrix(pattern: np.ndarray, first: np.ndarray, margins: list[_Margin],
                  numeric: dict[str, float], num: np.ndarray, intercept_total: float | None
                  ) -> Margins:
    """R's model matrix by pattern, with the totals of its columns: an intercept (with the
    population size as its total; none when ``intercept_total`` is None), the treatment dummies
    of every categorical margin (its first level dropped when there is an intercept) and the
    numeric margins."""
    columns: list[np.ndarray] = []
    names: list[str] = []
    totals: list[float] = []
    if intercept_total is not None:
        columns.append(np.ones(len(first)))
        names.append("(Intercept)")
        totals.append(float(intercept_total))
    cells = []
    for code, levels, tot, name in margins:
        pc = code[first]
        cells.append(pc)
        for j in range(1 if intercept_total is not None else 0, len(levels)):
            columns.append((pc == j).astype(float))
            names.append(_level_name(name, levels[j]))
            totals.append(float(tot[j]))
    for j, c in enumerate(numeric):
        columns.append(num[first, j])
        names.append(c)
        totals.append(numeric[c])
    X = np.column_stack(columns) if columns else np.zeros((len(first), 0))
    return Margins(pattern, X, np.asarray(totals), tuple(names), cells, [m[2] for m in margins],
                   [m[3] for m in margins])


def solve(design_weights: np.ndarray, margins: Margins, method: str,
          bounds: tuple[float, float] | None, max_iter: int, tol: float, func: str,
          ) -> tuple[np.ndarray, CalibrationReport, str]:
    """g-weights of every row, the report, and the method label."""
    d_pat = np.bincount(margins.pattern, weights=design_weights, minlength=margins.X.shape[0])
    if method in CALIBRATION_METHODS:
        g_pat, report = calibration_weights(margins.X, d_pat, margins.totals, method, bounds,
                                            max_iter, tol, names=list(margins.names))
        label = method
    elif method == "poststratify":
        g_pat = poststratify_weights(margins.cells[0], d_pat, margins.cell_totals[0],
                                     names=[_level_name(margins.margin_names[0], i)
                                            for i in range(len(margins.cell_totals[0]))])
        report = CalibrationReport(True, 1, 0.0, "poststratify", (-np.inf, np.inf),
                                   (float(np.min(g_pat)), float(np.max(g_pat))), 0,
                                   "post-stratified")
        label = "poststratify"
    elif method == "rake":
        g_pat, report = rake_weights(margins.cells, d_pat, margins.cell_totals, max_iter, tol,
                                     names=margins.margin_names)
        label = "rake"
    else:
        raise ArgumentError(f"`method` of `{func}()` must be one of "
                            f"{', '.join(map(repr, CALIBRATION_METHODS))}; got {method!r}")
    return np.asarray(g_pat)[margins.pattern], report, label


def make_calibration(design_weights: np.ndarray, margins: Margins, g: np.ndarray,
                     report: CalibrationReport, method: str) -> Calibration:
    d_pat = np.bincount(margins.pattern, weights=design_weights, minlength=margins.X.shape[0])
    m = margins.X.T @ (margins.X * d_pat[:, None])
    m_inv = np.linalg.pinv(m, rcond=1e-12, hermitian=True)
    description = (f"{method} calibration to {', '.join(margins.margin_names) or 'numeric'}"
                   f" margins ({len(margins.names)} totals)")
    return Calibration(method, margins, design_weights, g, m_inv, report, description)
