"""One pass over the rows summing everything the estimators need.

The rows inside some domain are read in chunks (no (rows x variables) copy is ever held whole)
and summed by sparse products into totals per (sampling unit, domain cell) pair for every
variance stage, and per cell for the design effects. Completions of imputed variables are
summed as their shared source plus the completed rows, so ``M`` completions cost little more
than one column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from flestimate._cells import Column, Domains, Variables, fill
from flestimate.errors import DataError, format_values
from flestimate.protocol import Design, StageTotals
from flestimate.variance import (
    PairIndex,
    dense_pairs,
    segment_sum,
    shared_column,
    sparse_pairs,
    summing_matrix,
)

__all__ = ["Sums", "accumulate", "cross_sums", "indicator_totals", "unit_totals",
           "valid_cells"]

# Rows are summed in chunks, so that no (rows x variables) float copy of the data is ever held
# whole; the chunks are independent passes, each fully vectorised. Small chunks stay in cache;
# a chunk twice the number of (unit x cell) pairs keeps the adds into the pair totals cheap.
_CHUNK_MIN = 1 << 14
_CHUNK = 1 << 16
# Up to this many (unit x cell x variable) totals per stage, pairs are addressed directly and the
# rows are chunked; beyond it the pairs that occur are found by one sort over the domain rows.
_DENSE_ELEMENTS = 1_000_000
# A domain of few rows in a design of many units (a share among a small class) occupies few of
# its pairs: beyond this many pairs per domain row, only the pairs that occur are kept (the
# variance then reads a few thousand pairs instead of every unit of every cell).
_DENSE_PAIRS_PER_ROW = 8


@dataclass(frozen=True)
class Sums:
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


KeysOf = Callable[[int, "slice | np.ndarray", int, int, bool], np.ndarray]


def accumulate(
    design: Design, variables: Variables, domains: Domains, n_cells: int, func: str
) -> Sums:
    """One pass over the domain rows (in chunks) summing everything the estimators need.

    Only rows inside some domain are read: rows outside contribute zero, and the design's own
    PSU counts (n_h) keep the empty PSUs in the variance, so nothing is lost by skipping them.
    Completed variables are summed by :func:`_sum_completed`.
    """
    pairs, chunk, keys_of = _pair_layout(design, domains, n_cells, len(variables.y))
    completed = [c for c in variables.y if c.at is not None]
    if not completed or variables.x is not None:
        n_dom = len(domains.cell) if domains.rows is None else domains.rows.size
        return _finish(_sum_rows(design, variables, domains.cell, domains.rows, n_dom, chunk,
                                 pairs, n_cells, func, keys_of, full=True), pairs, variables)
    return _finish(_sum_completed(design, variables, domains, n_cells, func, pairs, chunk,
                                  keys_of), pairs, variables)


def _pair_layout(design: Design, domains: Domains, n_cells: int, k: int
                 ) -> tuple[list[PairIndex], int, KeysOf]:
    """The (unit, cell) pairs of every variance stage, the chunk of rows summed at once, and
    the function giving the pair of any rows at a stage.

    Small designs address every pair directly (``unit * n_cells + cell``) and sum the rows in
    chunks; large ones keep only the pairs that occur (one sort over the domain rows) and sum
    in one pass. A calibrated design's residuals reach every PSU: every pair is kept.
    """
    stages = design.stages[: design.variance_stages]
    cell = domains.cell
    dom_rows = domains.rows
    select: slice | np.ndarray = slice(None) if dom_rows is None else dom_rows
    n_dom = len(cell) if dom_rows is None else dom_rows.size
    dense = design.needs_every_pair or all(
        st.n_units * n_cells * max(k, 1) <= _DENSE_ELEMENTS
        and st.n_units * n_cells <= _DENSE_PAIRS_PER_ROW * max(n_dom, 1) for st in stages)
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

    return pairs, chunk, keys_of


def _sum_completed(design: Design, variables: Variables, domains: Domains, n_cells: int,
                   func: str, pairs: list[PairIndex], chunk: int, keys_of: KeysOf
                   ) -> dict[str, Any]:
    """The sums of completed variables (the ``M`` completions of an imputed variable, columns
    with ``at``): their shared sources over the domain rows, minus the sources plus the
    completed values over the completed rows only. Every sum is a sum over rows, so the result
    is the same as summing each completion, and the rows are read once, not ``M`` times."""
    cell, dom_rows = domains.cell, domains.rows
    n_dom = len(cell) if dom_rows is None else dom_rows.size
    completed = [c for c in variables.y if c.at is not None]
    # the distinct sources over every domain row; the completed rows once more, both ways
    first: dict[tuple[int, int | None], int] = {}
    where = np.array([first.setdefault((id(c.source), c.level), len(first))
                      for c in variables.y], dtype=np.int64)
    base_cols: list[Column] = []
    base_names: list[str] = []
    for j, c in enumerate(variables.y):
        if where[j] == len(base_cols):
            base_cols.append(c.base)
            base_names.append(variables.variable[j])
    base_vars = Variables(base_cols, None, base_names, None)
    # the completed rows inside some domain (completions usually share one array of rows)
    inside: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for c in completed:
        if c.at is not None and id(c.at) not in inside:
            keep = cell[c.at] >= 0
            inside[id(c.at)] = (c.at[keep], keep)
    at = (next(iter(inside.values()))[0] if len(inside) == 1
          else np.unique(np.concatenate([a for a, _ in inside.values()])))
    plus_vars = Variables(
        [c if c.at is None or c.values is None
         else Column(c.source, c.level, inside[id(c.at)][0], c.values[inside[id(c.at)][1]])
         for c in variables.y], None, variables.variable, variables.category)
    whole = _sum_rows(design, base_vars, cell, dom_rows, n_dom, chunk, pairs, n_cells, func,
                      keys_of, full=True)
    minus = _sum_rows(design, base_vars, cell, at, at.size, max(at.size, 1), pairs, n_cells,
                      func, keys_of, full=False)
    plus = _sum_rows(design, plus_vars, cell, at, at.size, max(at.size, 1), pairs, n_cells,
                     func, keys_of, full=False)

    def combine(w: np.ndarray, m: np.ndarray, p: np.ndarray) -> np.ndarray:
        one = [shared_column(a) for a in (w, m, p)]
        if one[0] is not None and one[1] is not None and one[2] is not None:
            return np.broadcast_to(one[2] + (one[0] - one[1]), p.shape)  # still one column
        p = p if p.flags.writeable else np.array(p)
        p += np.take(w - m, where, axis=1)  # the (pairs x distinct sources) difference first
        return p

    return {name: ([combine(w, m, p) for w, m, p in zip(whole[name], minus[name], plus[name],
                                                          strict=True)]
                   if isinstance(whole[name], list) else combine(whole[name], minus[name],
                                                                 plus[name]))
            for name in plus}


def _finish(raw: dict[str, Any], pairs: list[PairIndex], variables: Variables) -> Sums:
    n_cells = raw["wyy"].shape[0]
    # Weight over the rows with a value: the denominator totals, except for ratios.
    psum = (segment_sum(pairs[0].cell, raw["tx"][0], n_cells)
            if variables.x is None else raw["pw"])
    return Sums(pairs, raw["ty"], raw["tx"], raw["tc"], raw["wyy"], raw["wxy"], raw["wxx"],
                 psum, raw["n_missing"])


Chunk = tuple[int, int, "slice | np.ndarray", np.ndarray, "np.ndarray | None",
              "np.ndarray | None"]


def _chunks(variables: Variables, dom_rows: np.ndarray | None, n_dom: int, chunk: int,
            func: str) -> Iterator[Chunk]:
    """The domain rows in chunks (which bound the memory; each is vectorised): the chunk's
    bounds and rows, its (m, k) outcomes and denominators, and which cells have a value (None:
    all; missing cells are zeroed)."""
    for start in range(0, n_dom, chunk):
        stop = min(start + chunk, n_dom)
        rows = slice(start, stop) if dom_rows is None else dom_rows[start:stop]
        m = stop - start
        y = fill(variables.y, rows, m)
        x = fill(variables.x, rows, m) if variables.x is not None else None
        yield start, stop, rows, y, x, valid_cells(y, x, variables.variable, func)


def _sum_rows(design: Design, variables: Variables, cell: np.ndarray,
              dom_rows: np.ndarray | None, n_dom: int, chunk: int, pairs: list[PairIndex],
              n_cells: int, func: str, keys_of: KeysOf, full: bool) -> dict[str, Any]:
    """The sums over ``dom_rows`` (all rows when None): per pair of every stage ``sum w y``,
    ``sum w x`` and the rows with a value; per cell the second moments and missing counts."""
    w = design.weights
    all_positive = design.all_weights_positive
    freq = design.frequencies  # persons per row (collapsed data), or None
    k = len(variables.y)
    n_stages = len(pairs)
    if not full:
        chunk = max(chunk, 1)
    ty = [np.zeros((p.n_pairs, k)) for p in pairs]
    # Without missing values the denominators and counts are the same for every variable: one
    # column each, a read-only broadcast view at the end (see ``shared_column``: the variance
    # kernels then read one column, not k); per variable only once a chunk needs it.
    tx: list[np.ndarray] = []
    tc: list[np.ndarray] = []
    tx1 = [np.zeros(p.n_pairs) for p in pairs]
    tc1 = [np.zeros(p.n_pairs) for p in pairs]
    # Second moments and missing counts per cell (a small, cache-resident output).
    wyy, wxy, wxx, pw, n_missing = (np.zeros((n_cells, k)) for _ in range(5))
    for start, stop, rows, y, x, valid in _chunks(variables, dom_rows, n_dom, chunk, func):
        valid_f = None if valid is None else valid.astype(np.float64)
        if (x is not None or valid_f is not None) and not tx:
            tx = [np.zeros((p.n_pairs, k)) for p in pairs]
            tc = [np.zeros((p.n_pairs, k)) for p in pairs]
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
    if not tx:
        tx = [np.broadcast_to(t[:, None], (t.size, k)) for t in tx1]
        tc = [np.broadcast_to(t[:, None], (t.size, k)) for t in tc1]
    else:
        for s in range(n_stages):
            tx[s] += tx1[s][:, None]
            tc[s] += tc1[s][:, None]
    return {"ty": ty, "tx": tx, "tc": tc, "wyy": wyy, "wxy": wxy, "wxx": wxx, "pw": pw,
            "n_missing": n_missing}


def valid_cells(
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


def cross_sums(variables: Variables, domains: Domains, n_cells: int, func: str,
               a: np.ndarray, rows_matrix: Callable[[slice | np.ndarray], np.ndarray]
               ) -> tuple[np.ndarray, np.ndarray]:
    """``sum_i a_i M_i y_i`` and ``sum_i a_i M_i x_i`` per cell and variable, each of shape
    (p, n_cells, k), for per-row weights ``a`` and the (m, p) matrix ``M`` of any rows
    (``x`` the denominator: 1 with a value, or the ratio's denominator). A calibrated design
    asks for them with its calibration variables as ``M`` (see
    :func:`flestimate.variance.calibration_residual`)."""
    from scipy import sparse

    k = len(variables.y)
    cell = domains.cell
    dom_rows = domains.rows
    n_dom = len(cell) if dom_rows is None else dom_rows.size
    cols_k = np.arange(k)
    s_y: np.ndarray | None = None
    s_x: np.ndarray | None = None
    for start, stop, rows, y, x, valid in _chunks(variables, dom_rows, n_dom, _CHUNK, func):
        m = stop - start
        den = x if x is not None else (np.ones((m, k)) if valid is None
                                       else valid.astype(np.float64))
        mat_rows = rows_matrix(rows)
        if s_y is None or s_x is None:
            s_y = np.zeros((mat_rows.shape[1], n_cells * k))
            s_x = np.zeros((mat_rows.shape[1], n_cells * k))
        at = (cell[rows][:, None] * k + cols_k[None, :]).ravel()
        ri = np.repeat(np.arange(m), k)
        weight = a[rows]
        for target, values in ((s_y, y), (s_x, den)):
            mat = sparse.csr_matrix(((weight[:, None] * values).ravel(), (ri, at)),
                                    shape=(m, n_cells * k))
            target += np.asarray((mat.T @ mat_rows).T)
    if s_y is None or s_x is None:
        p = rows_matrix(np.zeros(0, dtype=np.int64)).shape[1]
        return np.zeros((p, n_cells, k)), np.zeros((p, n_cells, k))
    return s_y.reshape(-1, n_cells, k), s_x.reshape(-1, n_cells, k)


# -- one domain of dense values: the models' scores, a table's cells ----------------------------
def unit_totals(design: Design, values: np.ndarray, rows: np.ndarray | None,
                denominator: np.ndarray | None = None) -> tuple[StageTotals, ...]:
    """The totals per unit of every variance stage of dense values (m, p) of the rows
    ``rows`` (positions; None: every row, m = n), one domain: ``sum w u``, ``sum w x`` (``x``
    the ``denominator``, 1 by default) and the rows with nonzero weight. One sparse product
    per stage: what :func:`accumulate` gives for one cell, without its design-effect sums and
    chunking (a model's scores have no missing value)."""
    w = np.asarray(design.weights, dtype=np.float64)
    freq = design.frequencies
    if rows is not None:
        w = w[rows]
        freq = None if freq is None else np.asarray(freq, float)[rows]
    x = np.ones(len(w)) if denominator is None else np.asarray(denominator, dtype=np.float64)
    p = values.shape[1]
    persons = (w != 0).astype(np.float64) * (1.0 if freq is None else freq)
    out = []
    for stage in list(design.stages)[:design.variance_stages]:
        unit = stage.unit if rows is None else stage.unit[rows]
        total = summing_matrix(unit, stage.n_units, w)
        ty = np.asarray(total @ np.asarray(values, dtype=np.float64))
        tx = np.repeat(np.asarray(total @ x)[:, None], p, axis=1)
        tc = np.repeat(np.bincount(unit, weights=persons, minlength=stage.n_units)[:, None],
                       p, axis=1)
        out.append(StageTotals(dense_pairs(stage.n_units, 1), ty, tx, tc))
    return tuple(out)


def indicator_totals(design: Design, codes: np.ndarray, k: int, inside: np.ndarray | None,
                     denominator: np.ndarray | None = None) -> tuple[StageTotals, ...]:
    """:func:`unit_totals` of the ``k`` indicators ``1[code = j]`` (a code outside 0..k-1:
    every indicator 0), summed by one weighted count per stage instead of k columns."""
    w = _inside_weights(design, inside)
    x = np.ones(len(w)) if denominator is None else np.asarray(denominator, dtype=np.float64)
    valid = (codes >= 0) & (codes < k)
    out = []
    for stage in list(design.stages)[:design.variance_stages]:
        n_u = stage.n_units
        key = stage.unit[valid] * k + codes[valid]
        ty = np.bincount(key, weights=w[valid], minlength=n_u * k).reshape(n_u, k)
        tx = np.repeat(np.bincount(stage.unit, weights=w * x, minlength=n_u)[:, None], k,
                       axis=1)
        out.append(StageTotals(dense_pairs(n_u, 1), ty, tx,
                               _present(design, stage.unit, n_u, w, k)))
    return tuple(out)


def _inside_weights(design: Design, inside: np.ndarray | None) -> np.ndarray:
    w = np.asarray(design.weights, dtype=np.float64)
    return w if inside is None else np.where(inside, w, 0.0)


def _present(design: Design, unit: np.ndarray, n_units: int, w: np.ndarray, k: int
             ) -> np.ndarray:
    """Rows (persons, with frequencies) of nonzero weight per unit, for every variable."""
    freq = design.frequencies
    persons = (w != 0).astype(np.float64) * (1.0 if freq is None else np.asarray(freq, float))
    return np.repeat(np.bincount(unit, weights=persons, minlength=n_units)[:, None], k, axis=1)
