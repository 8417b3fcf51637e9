"""Design-based estimators: means, proportions, totals and ratios, by domain, in one pass.

One shared domain engine implements ``by=``, ``subpop=``, ``ci=``, ``level=`` and ``df=`` for
every estimator. All variables and all domain cells are estimated together: the rows are summed
into (PSU x cell) totals by one sparse product, the estimates and the linearised PSU totals
follow from those, and :mod:`flestimate.variance` turns them into variances. Domains zero the
outcome outside the domain on the full design; no row is ever dropped.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from flestimate._checks import check_choice, check_df, check_level
from flestimate._version import __version__
from flestimate.design import SurveyDesign
from flestimate.errors import (
    ArgumentError,
    ArgumentTypeError,
    DataError,
    FlestimateWarning,
    format_values,
)
from flestimate.intervals import CI_METHODS, PROPORTION_CI_METHODS, confidence_interval
from flestimate.results import ESTIMATE_COLUMNS, Estimates
from flestimate.variance import (
    PairIndex,
    dense_pairs,
    segment_sum,
    sparse_pairs,
    stage_variance,
    summing_matrix,
)

__all__ = ["mean", "proportion", "ratio", "total"]

# Rows are summed in chunks, so that no (rows x variables) float copy of the data is ever held
# whole; the chunks are independent passes, each fully vectorised. Small chunks stay in cache;
# a chunk twice the number of (unit x cell) pairs keeps the adds into the pair totals cheap.
_CHUNK_MIN = 1 << 14
_CHUNK = 1 << 16
# Up to this many (unit x cell x variable) totals per stage, pairs are addressed directly and the
# rows are chunked; beyond it the pairs that occur are found by one sort over the domain rows.
_DENSE_ELEMENTS = 1_000_000
# Up to this many by-value combinations, domain cells come from a lookup table, else a sort.
_LOOKUP_MAX = 10_000_000

Kind = Literal["mean", "proportion", "total", "ratio"]
Subpop = str | np.ndarray | pd.Series | None
By = str | Sequence[str] | None


# -- argument validation ----------------------------------------------------------------------
def _names(value: str | Sequence[str], arg: str, func: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and len(value) > 0 and all(isinstance(v, str) for v in value):
        return list(value)
    raise ArgumentTypeError(
        f"`{arg}` of `{func}()` must be a column name or a non-empty list of column names; "
        f"got {value!r}"
    )


def _check_columns(design: SurveyDesign, cols: list[str], arg: str, func: str) -> None:
    missing = [c for c in cols if c not in design._data.columns]
    if missing:
        raise DataError(
            f"column(s) {format_values(missing)} of `{arg}` of `{func}()` not found in the "
            f"design's data"
        )


def _check_ci(ci: Any, kind: Kind, func: str) -> str:
    return check_choice(ci, ("wald",) if kind == "total" else CI_METHODS, "ci", func)


def _columns(design: SurveyDesign, value: str | Sequence[str], arg: str, func: str) -> list[str]:
    cols = _names(value, arg, func)
    _check_columns(design, cols, arg, func)
    return cols


def _options(kind: Kind, ci: Any, level: Any, df: Any) -> tuple[str, float, float | None]:
    """Validate the keywords every estimator shares; ``kind`` is also the function's name."""
    return _check_ci(ci, kind, kind), check_level(level, kind), check_df(df, kind)


# -- domains ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Domains:
    cell: np.ndarray  # (n,) cell of each row, -1 outside every domain
    rows: np.ndarray | None  # the rows inside some domain, in order; None: every row
    labels: pd.DataFrame  # one row per cell, the by-columns
    by: tuple[str, ...]
    n_missing_by: int
    subpop: str | None


def _subpop_mask(
    design: SurveyDesign, subpop: Subpop, func: str
) -> tuple[np.ndarray | None, str | None]:
    data = design._data
    n = len(data)
    if subpop is None:
        return None, None
    if isinstance(subpop, str):
        _check_columns(design, [subpop], "subpop", func)
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


def _domains(design: SurveyDesign, by: By, subpop: Subpop, func: str) -> _Domains:
    data = design._data
    n_rows = len(data)
    mask, sub_desc = _subpop_mask(design, subpop, func)
    # The by-values are only read for the subpopulation's rows.
    sel = None if mask is None else np.flatnonzero(mask)
    if by is None:
        if sel is None:
            return _Domains(np.zeros(n_rows, dtype=np.int64), None,
                            pd.DataFrame(index=range(1)), (), 0, sub_desc)
        cell = np.full(n_rows, -1, dtype=np.int64)
        cell[sel] = 0
        return _Domains(cell, sel, pd.DataFrame(index=range(1)), (), 0, sub_desc)
    by_cols = _names(by, "by", func)
    _check_columns(design, by_cols, "by", func)
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
    freq = getattr(design, "frequencies", None)  # persons per row, or None: one
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
            stacklevel=4,
        )
    if sel is None and not any_missing:
        return _Domains(sub_cell, None, labels, tuple(by_cols), 0, sub_desc)
    rows = np.arange(n_rows) if sel is None else sel
    cell = np.full(n_rows, -1, dtype=np.int64)
    cell[rows] = sub_cell
    rows = rows[sub_cell >= 0] if any_missing else rows
    return _Domains(cell, rows, labels, tuple(by_cols), n_missing_by, sub_desc)


# -- variables ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Column:
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
    def base(self) -> _Column:
        """The column without its completed rows."""
        return _Column(self.source, self.level)


@dataclass(frozen=True)
class _Variables:
    y: list[_Column]
    x: list[_Column] | None  # denominators for ratios
    variable: list[str]
    category: list[Any] | None


def _fill(columns: list[_Column], rows: slice | np.ndarray, m: int) -> np.ndarray:
    """The variables for ``rows`` as one C-ordered (m, k) float matrix.

    Contiguous row writes into (k, m) then one blocked transpose: 2-3 times faster than strided
    column writes into (m, k).
    """
    buf = np.empty((len(columns), m))
    for j, col in enumerate(columns):
        buf[j] = col.take(rows)
    return np.ascontiguousarray(buf.T)


def _numeric(design: SurveyDesign, col: str, func: str) -> _Column:
    s = design._data[col]
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biuf":
        return _Column(s.to_numpy(copy=False))  # a view: converted chunk by chunk
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return _Column(s.to_numpy(dtype=np.float64, na_value=np.nan))
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


def _expand(
    design: SurveyDesign, cols: list[str], func: str, expand_numeric: bool
) -> _Variables:
    data = design._data
    columns: list[_Column] = []
    variable: list[str] = []
    category: list[Any] = []
    for c in cols:
        s = data[c]
        numeric = pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype)
        if _is_binary(s) or (numeric and not expand_numeric):
            columns.append(_numeric(design, c, func))
            variable.append(c)
            category.append(None)
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy().astype(np.int64)
            levels = list(s.cat.categories)
        else:
            codes, uniq = pd.factorize(s, sort=True)
            levels = list(uniq)
        columns.extend(_Column(codes, j) for j in range(len(levels)))
        variable.extend([c] * len(levels))
        category.extend(levels)
    has_categories = any(cat is not None for cat in category)
    return _Variables(columns, None, variable,
                      category if has_categories or func == "proportion" else None)


# -- the engine ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Sums:
    """Totals per (unit, cell) pair for every variance stage, and per cell for design effects."""

    pairs: list[PairIndex]
    ty: list[np.ndarray]  # sum w y per pair, (n_pairs, k)
    tx: list[np.ndarray]  # sum w x (x = 1 with a value, or the ratio's denominator)
    tc: list[np.ndarray]  # rows with a value and nonzero weight
    wyy: np.ndarray  # per cell: sum w y^2, (n_cells, k)
    wxy: np.ndarray
    wxx: np.ndarray
    psum: np.ndarray  # sum w over rows with a value
    n_missing: np.ndarray


def _accumulate(
    design: SurveyDesign, variables: _Variables, domains: _Domains, n_cells: int, func: str
) -> _Sums:
    """One pass over the domain rows (in chunks) summing everything the estimators need.

    Only rows inside some domain are read: rows outside contribute zero, and the design's own
    PSU counts (n_h) keep the empty PSUs in the variance, so nothing is lost by skipping them.

    Completed variables (columns with ``at``: the ``M`` completions of an imputed variable) are
    summed as their shared sources over the domain rows, minus the sources plus the completed
    values over the completed rows only: every sum here is a sum over rows, so the result is
    the same and the rows are read once for all completions, not ``M`` times.
    """
    k = len(variables.y)
    stages = design.stages[: design.variance_stages]
    cell = domains.cell
    # A calibrated design's residuals reach every PSU, so every (PSU, cell) pair is kept.
    calibrated = getattr(design, "calibration", None) is not None
    dense = calibrated or all(st.n_units * n_cells * max(k, 1) <= _DENSE_ELEMENTS
                              for st in stages)
    dom_rows = domains.rows
    select: slice | np.ndarray = slice(None) if dom_rows is None else dom_rows
    n_dom = len(cell) if dom_rows is None else dom_rows.size
    inverse: list[np.ndarray] = []
    if dense:
        pairs = [dense_pairs(st.n_units, n_cells) for st in stages]
        chunk = min(_CHUNK, max(_CHUNK_MIN, 2 * max(p.n_pairs for p in pairs)))
    else:
        pairs = []
        for st in stages:  # a few stages at most
            index, inv = sparse_pairs(st.unit[select] * n_cells + cell[select], n_cells)
            pairs.append(index)
            inverse.append(inv)
        chunk = max(n_dom, 1)

    pair_keys = [] if dense else [p.unit * n_cells + p.cell for p in pairs]

    def keys_of(s: int, rows: slice | np.ndarray, start: int, stop: int, full: bool
                ) -> np.ndarray:
        """The pair of each of ``rows`` at stage ``s``."""
        if not dense and full:
            return inverse[s][start:stop]
        key: np.ndarray = stages[s].unit[rows] * n_cells + cell[rows]
        return key if dense else np.searchsorted(pair_keys[s], key)

    completed = [c for c in variables.y if c.at is not None]
    if not completed or variables.x is not None:
        return _finish(_sum_rows(design, variables, cell, dom_rows, n_dom, chunk, pairs,
                                 n_cells, func, keys_of, full=True), pairs, variables)
    # the distinct sources over every domain row; the completed rows once more, both ways
    first: dict[tuple[int, int | None], int] = {}
    where = np.array([first.setdefault((id(c.source), c.level), len(first))
                      for c in variables.y], dtype=np.int64)
    base_cols: list[_Column] = []
    base_names: list[str] = []
    for j, c in enumerate(variables.y):
        if where[j] == len(base_cols):
            base_cols.append(c.base)
            base_names.append(variables.variable[j])
    base_vars = _Variables(base_cols, None, base_names, None)
    # the completed rows inside some domain (completions usually share one array of rows)
    inside: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for c in completed:
        if c.at is not None and id(c.at) not in inside:
            keep = cell[c.at] >= 0
            inside[id(c.at)] = (c.at[keep], keep)
    at = (next(iter(inside.values()))[0] if len(inside) == 1
          else np.unique(np.concatenate([a for a, _ in inside.values()])))
    plus_vars = _Variables(
        [c if c.at is None or c.values is None
         else _Column(c.source, c.level, inside[id(c.at)][0], c.values[inside[id(c.at)][1]])
         for c in variables.y], None, variables.variable, variables.category)
    whole = _sum_rows(design, base_vars, cell, dom_rows, n_dom, chunk, pairs, n_cells, func,
                      keys_of, full=True)
    minus = _sum_rows(design, base_vars, cell, at, at.size, max(at.size, 1), pairs, n_cells,
                      func, keys_of, full=False)
    plus = _sum_rows(design, plus_vars, cell, at, at.size, max(at.size, 1), pairs, n_cells,
                     func, keys_of, full=False)
    def combine(w: np.ndarray, m: np.ndarray, p: np.ndarray) -> np.ndarray:
        p += np.take(w - m, where, axis=1)  # the (pairs x distinct sources) difference first
        return p

    raw = {name: ([combine(w, m, p) for w, m, p in zip(whole[name], minus[name], plus[name],
                                                         strict=True)]
                  if isinstance(whole[name], list) else combine(whole[name], minus[name],
                                                                plus[name]))
           for name in plus}
    return _finish(raw, pairs, variables)


def _finish(raw: dict[str, Any], pairs: list[PairIndex], variables: _Variables) -> _Sums:
    n_cells = raw["wyy"].shape[0]
    # Weight over the rows with a value: the denominator totals, except for ratios.
    psum = (segment_sum(pairs[0].cell, np.ascontiguousarray(raw["tx"][0]), n_cells)
            if variables.x is None else raw["pw"])
    return _Sums(pairs, raw["ty"], raw["tx"], raw["tc"], raw["wyy"], raw["wxy"], raw["wxx"],
                 psum, raw["n_missing"])


def _sum_rows(design: SurveyDesign, variables: _Variables, cell: np.ndarray,
              dom_rows: np.ndarray | None, n_dom: int, chunk: int, pairs: list[PairIndex],
              n_cells: int, func: str, keys_of: Any, full: bool) -> dict[str, Any]:
    """The sums over ``dom_rows`` (all rows when None): per pair of every stage ``sum w y``,
    ``sum w x`` and the rows with a value; per cell the second moments and missing counts."""
    w = design.weights
    all_positive = design.all_weights_positive
    freq = getattr(design, "frequencies", None)  # persons per row (collapsed data), or None
    k = len(variables.y)
    n_stages = len(pairs)
    if not full:
        chunk = max(chunk, 1)
    ty = [np.zeros((p.n_pairs, k)) for p in pairs]
    tx = [np.zeros((p.n_pairs, k)) for p in pairs]
    tc = [np.zeros((p.n_pairs, k)) for p in pairs]
    # Without missing values the denominators and counts are the same for every variable: one
    # column each, broadcast at the end.
    tx1 = [np.zeros(p.n_pairs) for p in pairs]
    tc1 = [np.zeros(p.n_pairs) for p in pairs]
    # Second moments and missing counts per cell (a small, cache-resident output).
    wyy, wxy, wxx, pw, n_missing = (np.zeros((n_cells, k)) for _ in range(5))
    for start in range(0, n_dom, chunk):  # chunks of rows bound the memory; each is vectorised
        stop = min(start + chunk, n_dom)
        rows = slice(start, stop) if dom_rows is None else dom_rows[start:stop]
        m = stop - start
        y = _fill(variables.y, rows, m)
        x = _fill(variables.x, rows, m) if variables.x is not None else None
        valid = _valid(y, x, variables.variable, func)
        valid_f = None if valid is None else valid.astype(np.float64)
        wd = w[rows]
        c = cell[rows]
        present = None if all_positive else (wd > 0).astype(np.float64)
        fr = None if freq is None else freq[rows]
        if fr is not None:  # each row counts as its number of persons
            present = fr if present is None else present * fr
        for s in range(n_stages):
            key = keys_of(s, rows, start, stop, full)
            nb = pairs[s].n_pairs
            weighted = summing_matrix(key, nb, wd)
            ty[s] += weighted @ y
            if x is not None:
                tx[s] += weighted @ x
            elif valid_f is None:
                tx1[s] += np.bincount(key, wd, minlength=nb)
            else:
                tx[s] += weighted @ valid_f
            if valid_f is None:
                tc1[s] += np.bincount(key, present, minlength=nb)  # rows of weight > 0
            else:
                tc[s] += segment_sum(key, valid_f, nb, present)
        by_cell = summing_matrix(c, n_cells, wd)
        if x is not None:
            wxy += by_cell @ (y * x)
            wxx += by_cell @ (x * x)
            pw += by_cell @ (np.ones_like(x) if valid_f is None else valid_f)
        if valid_f is not None:
            n_missing += segment_sum(c, 1.0 - valid_f, n_cells, fr)
        y *= y  # now y^2, in place
        wyy += by_cell @ y
    for s in range(n_stages):
        tx[s] += tx1[s][:, None]
        tc[s] += tc1[s][:, None]
    return {"ty": ty, "tx": tx, "tc": tc, "wyy": wyy, "wxy": wxy, "wxx": wxx, "pw": pw,
            "n_missing": n_missing}


def _valid(
    y: np.ndarray, x: np.ndarray | None, names: list[str], func: str
) -> np.ndarray | None:
    """The cells with a value (None when all have one); missing cells are zeroed in place."""
    # A finite sum proves there is no NaN without building an (m, k) mask.
    if np.isfinite(y.sum()) and (x is None or np.isfinite(x.sum())):
        return None
    for values in (y, x):
        if values is not None and np.isinf(values).any():
            bad = np.asarray(names)[np.isinf(values).any(axis=0)].tolist()
            raise DataError(
                f"`{func}()` got infinite values in {format_values(list(dict.fromkeys(bad)))}"
            )
    valid: np.ndarray = ~np.isnan(y)
    if x is not None:
        valid &= ~np.isnan(x)
    if valid.all():
        return None
    y[~valid] = 0.0
    if x is not None:
        x[~valid] = 0.0
    return valid


def _calibration_correction(
    design: SurveyDesign, kind: Kind, variables: _Variables, domains: _Domains,
    est: np.ndarray, x_cell: np.ndarray, n_cells: int, func: str,
) -> np.ndarray:
    """What calibration takes off the linearised first-stage totals, per (PSU, cell) pair in
    the dense order and variable: ``T_psu' B`` with ``T_psu = sum_(i in psu) w_i x_i`` and
    ``B = (X' D X)^{-1} sum_i x_i u_i / g_i`` (see :class:`flestimate.calibration.Calibration`).
    """
    from scipy import sparse

    cal = design.calibration
    X, pattern, d = cal.margins.X, cal.margins.pattern, cal.d
    p = X.shape[1]
    k = len(variables.y)
    cell = domains.cell
    dom_rows = domains.rows
    n_dom = len(cell) if dom_rows is None else dom_rows.size
    s_y = np.zeros((p, n_cells * k))
    s_x = np.zeros((p, n_cells * k))
    cols_k = np.arange(k)
    for start in range(0, n_dom, _CHUNK):  # chunks of rows bound the memory
        stop = min(start + _CHUNK, n_dom)
        rows = slice(start, stop) if dom_rows is None else dom_rows[start:stop]
        m = stop - start
        y = _fill(variables.y, rows, m)
        x = _fill(variables.x, rows, m) if variables.x is not None else None
        valid = _valid(y, x, variables.variable, func)
        den = x if x is not None else (np.ones((m, k)) if valid is None
                                       else valid.astype(np.float64))
        dd = d[rows]
        at = (cell[rows][:, None] * k + cols_k[None, :]).ravel()
        ri = np.repeat(np.arange(m), k)
        xr = X[pattern[rows]]
        for target, values in ((s_y, y), (s_x, den)):
            mat = sparse.csr_matrix(((dd[:, None] * values).ravel(), (ri, at)),
                                    shape=(m, n_cells * k))
            target += np.asarray((mat.T @ xr).T)
    s_y = s_y.reshape(p, n_cells, k)
    s_x = s_x.reshape(p, n_cells, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "total":
            score = s_y
        else:
            score = (s_y - est[None] * s_x) / x_cell[None]
    score = np.where(np.isfinite(score), score, 0.0)
    b = cal.m_inv @ score.reshape(p, n_cells * k)
    st = design.stages[0]
    w = design.weights
    t_psu = sparse.csr_matrix((w, (st.unit, pattern)), shape=(st.n_units, X.shape[0])) @ X
    return np.asarray(t_psu @ b).reshape(st.n_units * n_cells, k)


def _estimate(
    design: SurveyDesign,
    kind: Kind,
    variables: _Variables,
    domains: _Domains,
    ci: str,
    level: float,
    df_user: float | None,
    sums: _Sums | None = None,
) -> Estimates:
    func = kind
    n_cells = len(domains.labels)
    k = len(variables.y)
    if sums is None:
        sums = _accumulate(design, variables, domains, n_cells, func)
    x = variables.x

    stage_totals = list(zip(sums.pairs, sums.ty, sums.tx, sums.tc, strict=True))
    pairs1, ty1, tx1, tc1 = stage_totals[0]
    y_cell = segment_sum(pairs1.cell, ty1, n_cells)
    x_cell = segment_sum(pairs1.cell, np.ascontiguousarray(tx1), n_cells)
    n_obs = segment_sum(pairs1.cell, np.ascontiguousarray(tc1), n_cells)

    with np.errstate(divide="ignore", invalid="ignore"):
        est = y_cell if kind == "total" else y_cell / x_cell

    def linearised(pairs: PairIndex, ty: np.ndarray, tx: np.ndarray) -> np.ndarray:
        if kind == "total":
            return ty
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (ty - est[pairs.cell] * tx) / x_cell[pairs.cell]
        return np.where(np.isfinite(z), z, 0.0)

    var_logit = None
    if isinstance(design, SurveyDesign):
        var = np.zeros((n_cells, k))
        for s, (pairs_s, ty_s, tx_s, tc_s) in enumerate(stage_totals):
            z = linearised(pairs_s, ty_s, tx_s)
            if s == 0 and design.calibration is not None:
                z = z - _calibration_correction(design, kind, variables, domains, est, x_cell,
                                                n_cells, func)
            var = var + stage_variance(
                design.stages[s], pairs_s, z, tc_s, n_cells,
                design.lonely_psu, design.adjust_domain_lonely, first_stage=s == 0,
            )
        # Design df: PSUs minus strata holding rows of the domain with a value and nonzero weight.
        st1 = design.stages[0]
        psu_present = (tc1 > 0).astype(np.float64)
        n_psu = segment_sum(pairs1.cell, psu_present, n_cells)
        group = st1.parent[pairs1.unit] * n_cells + pairs1.cell
        strata_present = segment_sum(group, psu_present, st1.n_parents * n_cells) > 0
        n_str = strata_present.reshape(st1.n_parents, n_cells, k).sum(axis=0)
        design_df: np.ndarray = n_psu - n_str
    else:
        from flestimate.replicate import replicate_variance

        var, var_logit = replicate_variance(design, kind, pairs1, ty1, tx1, est, n_cells)
        # R's degf: the rank of the replicate weights over the estimate's population, minus 1
        design_df = np.full((n_cells, k), float(design.rank(domains.rows) - 1))
    df_arr = np.full((n_cells, k), df_user) if df_user is not None else design_df.astype(float)

    # Design effects against SRS without (deff) and with (deff_wr) replacement, R's deff=TRUE.
    wyy, wxy, wxx, psum = sums.wyy, sums.wxy, sums.wxx, sums.psum
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "total":
            ss = wyy - y_cell**2 / psum
            ss = np.where(np.abs(ss) <= 1e-12 * np.abs(wyy), 0.0, ss)
            s2 = ss / psum * n_obs / (n_obs - 1)
        else:
            if x is None:
                wxy, wxx = y_cell, x_cell
            ss = wyy - 2 * est * wxy + est**2 * wxx
            # A constant outcome (p = 0 or 1) leaves only rounding: make it an exact zero.
            ss = np.where(np.abs(ss) <= 1e-12 * (np.abs(wyy) + est**2 * np.abs(wxx)), 0.0, ss)
            s2 = ss / x_cell**2 / psum * n_obs / (n_obs - 1)
        vsrs_wr = s2 * psum**2 / n_obs
        vsrs = np.where(psum >= n_obs, vsrs_wr * (psum - n_obs) / psum, np.nan)
        deff = var / vsrs
        deff_wr = var / vsrs_wr
        se = np.sqrt(var)
        if kind == "proportion":
            inside = (est > 0) & (est < 1)
            n_eff = np.where(inside, est * (1 - est) / var, n_obs)
        else:
            n_eff = n_obs / deff_wr
        cv = se / np.abs(est)

    n_missing = sums.n_missing
    empty = n_obs == 0
    est = np.where(empty, np.nan, est)
    se = np.where(empty, np.nan, se)

    flat = {
        "estimate": est, "se": se, "cv": cv, "deff": deff, "deff_wr": deff_wr, "n": n_obs,
        "n_eff": n_eff, "df": df_arr, "n_missing": n_missing,
    }
    cols = {name: np.asarray(v, dtype=np.float64).reshape(-1) for name, v in flat.items()}
    se_ci = cols["se"]
    if ci == "logit" and var_logit is not None:
        # Replicate designs: the logit interval uses the replicates' own logits (as R does).
        p = cols["estimate"]
        with np.errstate(invalid="ignore"):
            se_ci = np.sqrt(var_logit.reshape(-1)) * p * (1 - p)
    low, high, flag = confidence_interval(ci, cols["estimate"], se_ci, cols["df"],
                                          cols["n"], level)
    if ci in PROPORTION_CI_METHODS and kind != "proportion":
        outside = (cols["estimate"] < 0) | (cols["estimate"] > 1)
        low = np.where(outside, np.nan, low)
        high = np.where(outside, np.nan, high)
        flag[outside] = f"not in [0, 1]: no {ci} interval"
    cols["ci_low"], cols["ci_high"] = low, high

    table = domains.labels.loc[np.repeat(np.arange(n_cells), k)].reset_index(drop=True)
    table["variable"] = np.tile(np.array(variables.variable, dtype=object), n_cells)
    if variables.category is not None:
        table["category"] = np.tile(np.array(variables.category, dtype=object), n_cells)
    for name in ESTIMATE_COLUMNS:
        if name == "flag":
            table[name] = flag
        elif name in ("n", "n_missing"):
            table[name] = cols[name].astype(np.int64)
        else:
            table[name] = cols[name]

    total_missing = int(cols["n_missing"].sum())
    if total_missing:
        per_var = pd.Series(cols["n_missing"], index=table["variable"]).groupby(level=0).sum()
        per_var = per_var[per_var > 0]
        warnings.warn(
            FlestimateWarning(
                f"missing values excluded from `{func}()`: "
                + ", ".join(f"{v} ({int(c)})" for v, c in per_var.items()),
                "MISSING_ITEMS",
            ),
            stacklevel=3,
        )

    if isinstance(design, SurveyDesign):
        variance = "Taylor linearisation, first-stage with-replacement approximation"
        if design.summary_dict()["fpc"]:
            variance += " with FPC"
        if design.variance_stages > 1:
            variance += f", multistage recursion over {design.variance_stages} stages"
        df_rule = "PSUs minus strata with nonzero weight in the domain (R degf)"
    else:
        variance = (f"replicate weights ({design.method}, {design.n_replicates} replicates, "
                    f"scale {design.scale:.6g}, "
                    f"{'mse' if design.mse else 'centred on the mean of the replicates'})")
        df_rule = "rank of the replicate weights over the population, minus 1 (R degf)"
    provenance = {
        "estimator": func,
        "variance": variance,
        "ci_method": ci,
        "level": level,
        "df_rule": f"user ({df_user:g})" if df_user is not None else df_rule,
        "by": list(domains.by),
        "subpop": domains.subpop,
        "rows_missing_by": domains.n_missing_by,
        "design": design.summary_dict(),
        "version": __version__,
    }
    return Estimates(table, provenance, domains.by)


# -- public estimators --------------------------------------------------------------------------
def mean(
    design: SurveyDesign,
    vars: str | Sequence[str],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str = "wald",
    level: float = 0.95,
    df: float | None = None,
) -> Estimates:
    """Weighted means with Taylor-linearised standard errors.

    Parameters
    ----------
    design : SurveyDesign
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
    cols = _columns(design, vars, "vars", "mean")
    options = _options("mean", ci, level, df)
    y = [_numeric(design, c, "mean") for c in cols]
    domains = _domains(design, by, subpop, "mean")
    return _estimate(design, "mean", _Variables(y, None, cols, None), domains, *options)


def proportion(
    design: SurveyDesign,
    vars: str | Sequence[str],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str = "korn-graubard",
    level: float = 0.95,
    df: float | None = None,
) -> Estimates:
    """Proportions (prevalences) with intervals that stay valid for rare events.

    A 0/1 or boolean column gives the proportion of ones (``category`` is empty); any other
    column gives one row per category, its share among the rows with a value.

    Parameters
    ----------
    design, vars, by, subpop, level, df
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
    cols = _columns(design, vars, "vars", "proportion")
    options = _options("proportion", ci, level, df)
    variables = _expand(design, cols, "proportion", expand_numeric=True)
    domains = _domains(design, by, subpop, "proportion")
    return _estimate(design, "proportion", variables, domains, *options)


def total(
    design: SurveyDesign,
    vars: str | Sequence[str],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str = "wald",
    level: float = 0.95,
    df: float | None = None,
) -> Estimates:
    """Weighted totals; a categorical column gives the estimated count of every category.

    Parameters
    ----------
    design, vars, by, subpop, level, df
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
    cols = _columns(design, vars, "vars", "total")
    options = _options("total", ci, level, df)
    variables = _expand(design, cols, "total", expand_numeric=False)
    domains = _domains(design, by, subpop, "total")
    return _estimate(design, "total", variables, domains, *options)


@dataclass(frozen=True)
class Completed:
    """``M`` completions of one variable of the design's data: the column ``name`` everywhere
    except on the sorted rows ``rows``, where completion ``m`` has ``values[m]`` (numbers for
    a numeric or 0/1 column; category codes of the column's categories, -1 missing, for a
    categorical one)."""

    name: str
    rows: np.ndarray
    values: np.ndarray


def estimate_completed(
    design: SurveyDesign,
    kind: Literal["proportion", "total"],
    completed: Sequence[Completed],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str | None = None,
    level: float = 0.95,
    df: float | None = None,
) -> Estimates:
    """:func:`proportion` or :func:`total` of every completion of some imputed variables at
    once (variables ``"<name>@<m>"``), the same numbers as estimating the ``M`` completed
    columns one by one, but reading the rows that no completion changes only once.

    Multiple imputation changes a few percent of the rows; the other rows are summed once for
    all ``M`` completions (see ``_accumulate``), so ``M = 20`` completions cost little more than
    one column. ``ci`` defaults to that of the estimator.
    """
    if kind not in ("proportion", "total"):
        raise ArgumentError(f"`kind` of `estimate_completed()` must be 'proportion' or "
                            f"'total'; got {kind!r}")
    options = _options(kind, ("korn-graubard" if kind == "proportion" else "wald")
                       if ci is None else ci, level, df)
    variables = _completed_variables(design, completed, kind)
    domains = _domains(design, by, subpop, kind)
    return _estimate(design, kind, variables, domains, *options)


def shares_and_totals_completed(
    design: SurveyDesign,
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
    variables = _completed_variables(design, completed, "proportion")
    domains = _domains(design, by, subpop, "proportion")
    sums = _accumulate(design, variables, domains, len(domains.labels), "proportion")
    shares = _estimate(design, "proportion", variables, domains, *share_opts, sums=sums)
    as_total = (variables if variables.category is not None
                and any(c is not None for c in variables.category)
                else _Variables(variables.y, None, variables.variable, None))
    totals = _estimate(design, "total", as_total, domains, *total_opts, sums=sums)
    return shares, totals


def _completed_variables(design: SurveyDesign, completed: Sequence[Completed], kind: str
                         ) -> _Variables:
    """One column per completion (and category) sharing its variable's source."""
    cols = _columns(design, [c.name for c in completed], "completed", kind)
    data = design._data
    columns: list[_Column] = []
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
                columns.extend(_Column(codes, j, at, v) for j in range(len(levels)))
                variable.extend([f"{name}@{m}"] * len(levels))
                category.extend(levels)
        else:
            base = _numeric(design, name, kind)
            for m in range(values.shape[0]):
                columns.append(_Column(base.source, None, at, values[m].astype(np.float64)))
                variable.append(f"{name}@{m}")
                category.append(None)
    has_categories = any(c is not None for c in category)
    return _Variables(columns, None, variable,
                      category if has_categories or kind == "proportion" else None)


def ratio(
    design: SurveyDesign,
    numerator: str | Sequence[str],
    denominator: str | Sequence[str],
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str = "wald",
    level: float = 0.95,
    df: float | None = None,
) -> Estimates:
    """Ratios of two totals, ``sum(w d y) / sum(w d x)``.

    Parameters
    ----------
    design, by, subpop, ci, level, df
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
    nums = _columns(design, numerator, "numerator", "ratio")
    dens = _columns(design, denominator, "denominator", "ratio")
    if len(dens) == 1:
        dens = dens * len(nums)
    elif len(dens) != len(nums):
        raise ArgumentError(
            f"`denominator` of `ratio()` must be one column or as many as `numerator` "
            f"({len(nums)}); got {len(dens)}"
        )
    options = _options("ratio", ci, level, df)
    y = [_numeric(design, c, "ratio") for c in nums]
    x = [_numeric(design, c, "ratio") for c in dens]
    names = [f"{a}/{b}" for a, b in zip(nums, dens, strict=True)]
    domains = _domains(design, by, subpop, "ratio")
    return _estimate(design, "ratio", _Variables(y, x, names, None), domains, *options)
