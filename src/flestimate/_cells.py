"""The domain cells and the analysis variables of one estimator call.

An estimator call reads its columns once into :class:`Variables` (numeric columns as views,
categories as the indicators of their codes, completions of imputed variables as their source
plus the completed rows) and its ``by=`` and ``subpop=`` into :class:`Domains` (the cell of
every row, -1 outside every domain). The summing pass (:mod:`flestimate._sums`) reads both.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from flestimate._caller import caller_stacklevel
from flestimate.errors import (
    ArgumentError,
    ArgumentTypeError,
    DataError,
    FlestimateWarning,
    format_values,
)
from flestimate.protocol import Design

__all__ = ["By", "Column", "Completed", "Domains", "Subpop", "Variables", "check_columns",
           "column_names", "columns_of", "completed_variables", "domains_of", "expand", "fill",
           "numeric_column", "subpop_mask"]

# Up to this many by-value combinations, domain cells come from a lookup table, else a sort.
_LOOKUP_MAX = 10_000_000

Subpop = str | np.ndarray | pd.Series | None
By = str | Sequence[str] | None


# -- argument validation ----------------------------------------------------------------------
def column_names(value: str | Sequence[str], arg: str, func: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and len(value) > 0 and all(isinstance(v, str) for v in value):
        return list(value)
    raise ArgumentTypeError(
        f"`{arg}` of `{func}()` must be a column name or a non-empty list of column names; "
        f"got {value!r}"
    )


def check_columns(design: Design, cols: list[str], arg: str, func: str) -> None:
    missing = [c for c in cols if c not in design.data.columns]
    if missing:
        raise DataError(
            f"column(s) {format_values(missing)} of `{arg}` of `{func}()` not found in the "
            f"design's data"
        )


def columns_of(design: Design, value: str | Sequence[str], arg: str, func: str) -> list[str]:
    cols = column_names(value, arg, func)
    check_columns(design, cols, arg, func)
    return cols



# -- domains ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Domains:
    cell: np.ndarray  # (n,) cell of each row, -1 outside every domain
    rows: np.ndarray | None  # the rows inside some domain, in order; None: every row
    labels: pd.DataFrame  # one row per cell, the by-columns
    by: tuple[str, ...]
    n_missing_by: int
    subpop: str | None


def _subpop_mask(
    design: Design, subpop: Subpop, func: str
) -> tuple[np.ndarray | None, str | None]:
    data = design.data
    n = len(data)
    if subpop is None:
        return None, None
    if isinstance(subpop, str):
        check_columns(design, [subpop], "subpop", func)
        col = data[subpop]
        if col.isna().any():
            bad = col.isna().to_numpy()
            raise DataError(
                f"`subpop` column {subpop!r} of `{func}()` has {int(bad.sum())} missing value(s); "
                f"first rows: {format_values(data.index[bad].tolist())}"
            )
        values = col.to_numpy()
        desc = subpop
    else:
        values = np.asarray(subpop)
        desc = f"mask ({int(np.sum(values == True))} of {len(values)} rows)"  # noqa: E712
        if values.shape != (n,):
            raise DataError(
                f"`subpop` mask of `{func}()` must have one value per row ({n}); got shape "
                f"{values.shape}"
            )
    if values.dtype == bool:
        return values.astype(bool), desc
    if values.dtype.kind in "iuf" and values.size and values.min() >= 0 and values.max() <= 1 \
            and (values.dtype.kind != "f" or np.isin(values, [0, 1]).all()):
        return values != 0, desc
    uniq = pd.unique(values)
    if not set(uniq.tolist()) <= {0, 1}:
        raise DataError(
            f"`subpop` of `{func}()` must be boolean (or 0/1); found values "
            f"{format_values(sorted(map(str, uniq)))}"
        )
    return values.astype(bool), desc


def subpop_mask(design: Design, subpop: Subpop, func: str) -> np.ndarray | None:
    """The rows of ``subpop`` (checked as the estimators check it), None for every row."""
    return _subpop_mask(design, subpop, func)[0]


def _by_codes(s: pd.Series, categorical: bool) -> tuple[np.ndarray, Any]:
    """Integer codes (-1 for missing) of a by-column and the values they stand for, sorted."""
    if categorical:
        return s.cat.codes.to_numpy().astype(np.int64), s.cat.categories
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu" and len(s):
        # Small-range integers (region, sex, age group codes): arithmetic, no hashing or sort.
        values = s.to_numpy()
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 65_536:
            return values.astype(np.int64) - lo, np.arange(lo, hi + 1, dtype=s.dtype)
    return pd.factorize(s, sort=True)


def domains_of(design: Design, by: By, subpop: Subpop, func: str) -> Domains:
    data = design.data
    n_rows = len(data)
    mask, sub_desc = _subpop_mask(design, subpop, func)
    # The by-values are only read for the subpopulation's rows.
    sel = None if mask is None else np.flatnonzero(mask)
    if by is None:
        if sel is None:
            return Domains(np.zeros(n_rows, dtype=np.int64), None,
                            pd.DataFrame(index=range(1)), (), 0, sub_desc)
        cell = np.full(n_rows, -1, dtype=np.int64)
        cell[sel] = 0
        return Domains(cell, sel, pd.DataFrame(index=range(1)), (), 0, sub_desc)
    by_cols = column_names(by, "by", func)
    check_columns(design, by_cols, "by", func)
    categorical = all(isinstance(data[c].dtype, pd.CategoricalDtype) for c in by_cols)
    m = n_rows if sel is None else sel.size
    uniques = []
    combined = np.zeros(m, dtype=np.int64)
    missing_by = np.zeros(m, dtype=bool)
    for c in by_cols:  # mixed-radix code of the by-values, one column at a time
        code, uniq = _by_codes(data[c] if sel is None else data[c].iloc[sel], categorical)
        missing_by |= code < 0
        combined = combined * max(len(uniq), 1) + code
        uniques.append(uniq)
    radix = np.array([max(len(u), 1) for u in uniques], dtype=np.int64)
    mult = np.concatenate([np.cumprod(radix[::-1])[::-1][1:], [1]])
    any_missing = bool(missing_by.any())
    combined[missing_by] = -1
    # Domains: every category combination when all by-columns are categorical (a stable table
    # shape, unobserved cells are empty domains); otherwise the combinations observed in the
    # (sub)population, as R's svyby on a subset.
    n_combos = int(np.prod(radix.astype(float)))
    observed = combined[~missing_by] if any_missing else combined
    if categorical:
        present = np.arange(n_combos, dtype=np.int64)
    elif n_combos <= _LOOKUP_MAX:
        present = np.flatnonzero(np.bincount(observed, minlength=n_combos))
    else:  # too many combinations for a lookup table: sort instead
        present = np.unique(observed)
    if categorical or n_combos <= _LOOKUP_MAX:
        lookup = np.full(n_combos + 1, -1, dtype=np.int64)  # last slot: missing by-values
        lookup[present] = np.arange(present.size)
        sub_cell = lookup[combined]
    else:
        pos = np.searchsorted(present, combined).clip(max=max(present.size - 1, 0))
        hit = np.logical_not(missing_by) if present.size else np.zeros(m, dtype=bool)
        hit[hit] = present[pos[hit]] == combined[hit]
        sub_cell = np.where(hit, pos, -1).astype(np.int64)
    label_codes = (present[:, None] // mult) % radix
    labels = pd.DataFrame(
        {c: pd.Series(u).take(label_codes[:, i]).to_numpy() for i, (c, u) in
         enumerate(zip(by_cols, uniques, strict=True))}
    )
    for c in by_cols:
        if isinstance(data[c].dtype, pd.CategoricalDtype):
            labels[c] = labels[c].astype(data[c].dtype)
    freq = design.frequencies  # persons per row, or None: one
    if freq is None:
        n_missing_by = int(missing_by.sum())
    else:
        n_missing_by = int((freq if sel is None else freq[sel])[missing_by].sum())
    if n_missing_by:
        warnings.warn(
            FlestimateWarning(
                f"{n_missing_by} row(s) with a missing value in `by` column(s) "
                f"{format_values(by_cols)} are outside every domain of `{func}()`",
                "MISSING_ITEMS",
            ),
            stacklevel=caller_stacklevel(),
        )
    if sel is None and not any_missing:
        return Domains(sub_cell, None, labels, tuple(by_cols), 0, sub_desc)
    rows = np.arange(n_rows) if sel is None else sel
    cell = np.full(n_rows, -1, dtype=np.int64)
    cell[rows] = sub_cell
    rows = rows[sub_cell >= 0] if any_missing else rows
    return Domains(cell, rows, labels, tuple(by_cols), n_missing_by, sub_desc)


# -- variables ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One analysis variable as a view of the data: a numeric column, or the indicator of one
    category (``source`` holds the category codes, -1 for missing). With ``at``, the variable is
    ``source`` except on the sorted rows ``at``, where it is ``values`` (one completion of an
    imputed variable: the completions share their source and differ on a few rows)."""

    source: np.ndarray
    level: int | None = None
    at: np.ndarray | None = None
    values: np.ndarray | None = None

    def take(self, rows: slice | np.ndarray) -> np.ndarray:
        if (self.at is not None and self.values is not None and isinstance(rows, np.ndarray)
                and rows.shape == self.at.shape and np.array_equal(rows, self.at)):
            values = self.values  # the completed rows themselves
        else:
            values = self.source[rows]
        if (values is not self.values and self.at is not None and self.values is not None
                and self.at.size):
            pos = (np.arange(len(self.source))[rows] if isinstance(rows, slice)
                   else np.asarray(rows))
            idx = np.searchsorted(self.at, pos).clip(max=self.at.size - 1)
            hit = self.at[idx] == pos
            if hit.any():
                values = np.array(values, dtype=np.result_type(values, self.values))
                values[hit] = self.values[idx[hit]]
        if self.level is None:
            return values
        out: np.ndarray = (values == self.level).astype(np.float64)
        out[values < 0] = np.nan
        return out

    @property
    def base(self) -> Column:
        """The column without its completed rows."""
        return Column(self.source, self.level)


@dataclass(frozen=True)
class Variables:
    y: list[Column]
    x: list[Column] | None  # denominators for ratios
    variable: list[str]
    category: list[Any] | None


def fill(columns: list[Column], rows: slice | np.ndarray, m: int) -> np.ndarray:
    """The variables for ``rows`` as one C-ordered (m, k) float matrix.

    Contiguous row writes into (k, m) then one blocked transpose: 2-3 times faster than strided
    column writes into (m, k).
    """
    buf = np.empty((len(columns), m))
    for j, col in enumerate(columns):
        buf[j] = col.take(rows)
    return np.ascontiguousarray(buf.T)


def numeric_column(design: Design, col: str, func: str) -> Column:
    s = design.data[col]
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biuf":
        return Column(s.to_numpy(copy=False))  # a view: converted chunk by chunk
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return Column(s.to_numpy(dtype=np.float64, na_value=np.nan))
    raise DataError(
        f"column {col!r} of `{func}()` must be numeric or boolean; got dtype {s.dtype}"
        + ("; use proportion() for categories" if func == "mean" else "")
    )


def _is_binary(s: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(s):
        return True
    if not pd.api.types.is_numeric_dtype(s):
        return False
    values = np.asarray(pd.unique(s.dropna()))
    return bool(np.isin(values, [0, 1]).all())


def expand(
    design: Design, cols: list[str], func: str, expand_numeric: bool
) -> Variables:
    data = design.data
    columns: list[Column] = []
    variable: list[str] = []
    category: list[Any] = []
    for c in cols:
        s = data[c]
        numeric = pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype)
        if _is_binary(s) or (numeric and not expand_numeric):
            columns.append(numeric_column(design, c, func))
            variable.append(c)
            category.append(None)
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy().astype(np.int64)
            levels = list(s.cat.categories)
        else:
            codes, uniq = pd.factorize(s, sort=True)
            levels = list(uniq)
        columns.extend(Column(codes, j) for j in range(len(levels)))
        variable.extend([c] * len(levels))
        category.extend(levels)
    has_categories = any(cat is not None for cat in category)
    return Variables(columns, None, variable,
                      category if has_categories or func == "proportion" else None)



@dataclass(frozen=True)
class Completed:
    """``M`` completions of one variable of the design's data: the column ``name`` everywhere
    except on the sorted rows ``rows``, where completion ``m`` has ``values[m]`` (numbers for
    a numeric or 0/1 column; category codes of the column's categories, -1 missing, for a
    categorical one)."""

    name: str
    rows: np.ndarray
    values: np.ndarray



def completed_variables(design: Design, completed: Sequence[Completed], kind: str
                         ) -> Variables:
    """One column per completion (and category) sharing its variable's source."""
    cols = columns_of(design, [c.name for c in completed], "completed", kind)
    data = design.data
    columns: list[Column] = []
    variable: list[str] = []
    category: list[Any] = []
    for name, comp in zip(cols, completed, strict=True):
        at = np.asarray(comp.rows, dtype=np.int64)
        values = np.asarray(comp.values)
        if values.ndim != 2 or values.shape[1] != at.size:
            raise ArgumentError(f"`values` of completed {name!r} must have shape (M, "
                                f"{at.size}); got {values.shape}")
        if at.size > 1 and np.any(np.diff(at) <= 0):
            raise ArgumentError(f"`rows` of completed {name!r} must be sorted and distinct")
        s = data[name]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy().astype(np.int64)
            levels = list(s.cat.categories)
            for m in range(values.shape[0]):
                v = values[m].astype(np.int64)
                columns.extend(Column(codes, j, at, v) for j in range(len(levels)))
                variable.extend([f"{name}@{m}"] * len(levels))
                category.extend(levels)
        else:
            base = numeric_column(design, name, kind)
            for m in range(values.shape[0]):
                columns.append(Column(base.source, None, at, values[m].astype(np.float64)))
                variable.append(f"{name}@{m}")
                category.append(None)
    has_categories = any(c is not None for c in category)
    return Variables(columns, None, variable,
                      category if has_categories or kind == "proportion" else None)
