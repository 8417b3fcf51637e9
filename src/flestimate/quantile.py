"""Survey quantiles as R survey 4.x ``svyquantile``: every ``qrule``, Woodruff intervals.

One call goes through these steps, vectorised over variables, quantiles and domains:

1. the columns become sorted runs, one per domain cell (:func:`_sorted_runs`: rows with a
   value and a positive weight, stably sorted by value inside each cell, as R's ``order``);
2. :func:`weighted_quantiles`: the quantile rule (``qrule``) of every (cell, probability);
3. the interval: Woodruff's (:func:`_woodruff`: the design's variance of the share of the
   domain at or below the estimate, R ``woodruffCI``), or, on a replicate design, the
   replicate quantiles (:func:`_replicate_interval`, R ``repCI``);
4. :func:`_table` and :func:`_provenance`: an immutable :class:`Quantiles`.

Floating point follows R where it decides a tie: cumulative weights are summed in extended
precision (R's ``cumsum`` and ``sum`` accumulate in ``long double``) and every comparison
and interpolation is R's expression, so a probability that falls exactly on a cumulative
weight (equal weights, ``n p`` whole) picks the same order statistic as R.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from flestimate._caller import caller_stacklevel
from flestimate._cells import (
    By,
    Column,
    Domains,
    Subpop,
    Variables,
    columns_of,
    domains_of,
    numeric_column,
)
from flestimate._checks import check_choice, check_df, check_level, known_keywords
from flestimate._sums import Sums, accumulate, cross_sums
from flestimate._version import __version__
from flestimate.errors import ArgumentError, ArgumentTypeError, FlestimateWarning
from flestimate.protocol import Design, DesignVariance, LinearisedTotals, StageTotals
from flestimate.results import Result
from flestimate.variance import segment_sum

__all__ = ["INTERVAL_TYPES", "QRULES", "Quantiles", "quantile", "weighted_quantiles"]

#: R ``svyquantile``'s ``qrule`` choices (R survey 4.1.1).
QRULES: tuple[str, ...] = ("math", "school", "shahvaish", "hf1", "hf2", "hf3", "hf4", "hf5",
                           "hf6", "hf7", "hf8", "hf9")
#: ``ci`` choices (R's ``interval.type``): R's Woodruff variants; ``"quantile"`` on replicate designs only.
INTERVAL_TYPES: tuple[str, ...] = ("mean", "beta", "xlogit", "asin", "quantile")
_QS_RULES = ("math", "school", "hf1", "hf2", "hf3", "hf4")
_LD = np.longdouble


@runtime_checkable
class ReplicateWeighted(Protocol):
    """What the replicate interval and the domain df read from a replicate design."""

    @property
    def multipliers(self) -> np.ndarray: ...

    @property
    def groups(self) -> np.ndarray: ...

    @property
    def scale(self) -> float: ...

    @property
    def rscales(self) -> np.ndarray: ...

    @property
    def mse(self) -> bool: ...

    def replicate_weights(self, prefix: str = "rep") -> pd.DataFrame: ...


# -- step 1: sorted runs ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Runs:
    """Values sorted inside each run (a domain cell, or a (replicate, cell) pair), runs in
    order; ``start[r]:start[r + 1]`` are run r's positions."""

    x: np.ndarray
    w: np.ndarray
    run: np.ndarray
    start: np.ndarray

    @property
    def size(self) -> np.ndarray:
        return np.diff(self.start)


def _sorted_runs(x: np.ndarray, w: np.ndarray, run: np.ndarray, n_runs: int) -> _Runs:
    """Rows with a run (>= 0), a value and a positive weight (R's ``qrule`` drops zero
    weights), stably sorted by (run, value)."""
    keep = (run >= 0) & np.isfinite(x) & (w > 0)
    idx = np.flatnonzero(keep)
    order = idx[np.lexsort((x[idx], run[idx]))]
    r = run[order]
    start = np.searchsorted(r, np.arange(n_runs + 1))
    return _Runs(x[order].astype(np.float64), w[order].astype(np.float64), r, start)


def _run_cumsum(values: np.ndarray, runs: _Runs) -> np.ndarray:
    """Cumulative sums restarting at every run, accumulated in ``long double`` and rounded
    to double, as R's ``cumsum``.

    One cumulative sum over all runs, with every run's first value lowered by the previous
    run's total: the running sum never grows past one run's total, so a run's sums are as
    exact as R's (exact whenever R's are, e.g. equal weights), however many runs precede it.
    """
    lw = values.astype(_LD)
    starts = runs.start[:-1][runs.size > 0]
    if starts.size == 0:
        return np.zeros(values.shape)
    run_totals = np.add.reduceat(lw, starts)
    adjusted = lw.copy()
    adjusted[starts[1:]] -= run_totals[:-1]
    total = np.cumsum(adjusted)
    residual = np.zeros(runs.size.size, dtype=_LD)
    residual[runs.size > 0] = np.concatenate(
        [np.zeros(1, dtype=_LD), total[starts[1:] - 1] - run_totals[:-1]])
    out: np.ndarray = (total - residual[runs.run]).astype(np.float64)
    return out


def _count_at_most(values: np.ndarray, runs: _Runs, queries: np.ndarray,
                   q_run: np.ndarray) -> np.ndarray:
    """How many of each query's run's ``values`` are <= the query (exact comparisons): one
    joint stable sort of values and queries by (run, value, values first)."""
    n = values.size
    kind = np.concatenate([np.zeros(n, dtype=np.int8), np.ones(q_run.size, dtype=np.int8)])
    order = np.lexsort((kind, np.concatenate([values, queries]),
                        np.concatenate([runs.run, q_run])))
    data_before = np.cumsum(order < n)
    at = np.empty(q_run.size, dtype=np.int64)
    is_query = order >= n
    at[order[is_query] - n] = data_before[is_query]
    return np.asarray(at - runs.start[q_run])


# -- step 2: the quantile rules -----------------------------------------------------------------
def _aggregated(runs: _Runs) -> _Runs:
    """Distinct values of every run with their summed weights (R ``rowsum(w, x)``: double
    sums in data order)."""
    new = np.ones(runs.x.size, dtype=bool)
    new[1:] = (runs.x[1:] != runs.x[:-1]) | (runs.run[1:] != runs.run[:-1])
    group = np.cumsum(new) - 1
    w = np.bincount(group, weights=runs.w)
    run = runs.run[new]
    start = np.searchsorted(run, np.arange(runs.start.size))
    return _Runs(runs.x[new], w, run, start)


def _qs_rule(rule: str, runs: _Runs, p: np.ndarray, q_run: np.ndarray) -> np.ndarray:
    """R's ``qs`` (the order statistics around ``p`` of the cumulative weights) and the rules
    built on it: math/hf1, school/hf2, hf3 (on distinct values), hf4."""
    if rule == "hf3":
        runs = _aggregated(runs)
    cumw = _run_cumsum(runs.w, runs)
    first, size = runs.start[q_run], runs.size[q_run]
    total = cumw[first + size - 1]
    pos = np.maximum(_count_at_most(cumw, runs, p * total, q_run), 1)  # R's last(): 1 if none
    low = first + pos - 1
    up = np.where(pos == size, low, low + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        wlow = p - cumw[low] / total
        wup = cumw[up] / total - p
        qlow, qup = runs.x[low], runs.x[up]
        if rule in ("math", "hf1"):
            return np.asarray(np.where(wlow == 0, qlow, qup))
        if rule in ("school", "hf2"):
            return np.asarray(np.where(wlow == 0, (qlow + qup) / 2, qup))
        if rule == "hf3":
            return np.asarray(np.where((wlow == 0) & (pos % 2 == 0), qlow, qup))
        gamma = wlow / (wup + wlow)
        return np.asarray(qlow * (1 - gamma) + qup * gamma)


def _plotting_positions(rule: str, runs: _Runs) -> np.ndarray:
    """The ``pk`` of R's interpolating rules (hf5..hf9, shahvaish), as R writes them."""
    w = runs.w
    cumw = _run_cumsum(w, runs)
    last = runs.start[1:] - 1
    n_run = runs.size.astype(np.float64)
    total, w_n = cumw[last][runs.run], w[last][runs.run]
    prev = np.concatenate([[0.0], cumw[:-1]])
    prev[runs.start[:-1][runs.size > 0]] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        if rule == "hf5":
            return np.asarray((cumw - w / 2) / total)
        if rule == "hf6":
            return np.asarray(cumw / (total + w_n))
        if rule == "hf7":
            second_last = np.where(runs.size > 1, cumw[np.maximum(last - 1, 0)], np.nan)
            return np.asarray(prev / second_last[runs.run])
        if rule == "hf8":
            return np.asarray((prev * 1 / 3 + cumw * 2 / 3) / (total + w_n / 3))
        if rule == "hf9":
            return np.asarray((prev * 3 / 8 + cumw * 5 / 8) / (total + w_n / 4))
        # shahvaish: wbar = w / mean(w); pk = (cumsum(wbar) + 0.5 - w/2) / (n + 1)
        wbar = w / _run_mean(w, runs)[runs.run]
        return np.asarray((_run_cumsum(wbar, runs) + 0.5 - w / 2) / (n_run[runs.run] + 1))


def _run_mean(w: np.ndarray, runs: _Runs) -> np.ndarray:
    """R's ``mean`` of every run: the long double mean plus its correction pass."""
    out = np.full(runs.size.size, np.nan)
    nonempty = runs.size > 0
    starts = runs.start[:-1][nonempty]
    if starts.size == 0:
        return out
    lw = w.astype(_LD)
    n = runs.size[nonempty].astype(_LD)
    m = np.add.reduceat(lw, starts) / n
    full = np.zeros(runs.size.size, dtype=_LD)
    full[nonempty] = m
    dev = np.add.reduceat(lw - full[runs.run], starts)
    out[nonempty] = (m + dev / n).astype(np.float64)
    return out


def _interpolated(rule: str, runs: _Runs, p: np.ndarray, q_run: np.ndarray) -> np.ndarray:
    """R ``approx(pk, x, p, rule = 2)``: linear (hf5..hf9) or constant with ``f = 0``
    (shahvaish, whose ``pk`` R sorts first)."""
    pk = _plotting_positions(rule, runs)
    y = runs.x
    if rule == "shahvaish":
        order = np.lexsort((pk, runs.run))
        pk, y = pk[order], y[order]
    first, size = runs.start[q_run], runs.size[q_run]
    c = _count_at_most(pk, runs, p, q_run)
    lo = first + np.clip(c - 1, 0, np.maximum(size - 1, 0))
    if rule == "shahvaish":
        return np.asarray(y[lo])
    hi = np.minimum(lo + 1, first + size - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = y[lo] + (y[hi] - y[lo]) * ((p - pk[lo]) / (pk[hi] - pk[lo]))
    exact = (c == 0) | (c >= size) | (p == pk[lo])
    return np.asarray(np.where(exact, y[lo], inner))


def weighted_quantiles(rule: str, x: np.ndarray, w: np.ndarray, run: np.ndarray,
                       n_runs: int, p: np.ndarray, p_run: np.ndarray) -> np.ndarray:
    """R ``qrule_<rule>(x[run == r], w[run == r], p)`` for every query (``p``, ``p_run``).

    Parameters
    ----------
    rule : one of :data:`QRULES`
    x, w : (n,) arrays
        Values and weights; rows of weight 0 or a missing value are left out.
    run : (n,) int array
        The run (domain cell) of every row, -1 outside every run.
    n_runs : int
    p, p_run : (m,) arrays
        The probabilities asked and their runs.

    Returns
    -------
    (m,) array
        NaN for an empty run or a missing ``p``.

    Notes
    -----
    ``qs``: with values sorted, ``C_i`` their cumulative weights and ``W`` the total, ``i`` is
    the last index with ``C_i <= p W`` (1 if none), ``q_lo = x_i``, ``q_up = x_(i+1)``;
    ``math``: ``q_lo`` if ``p = C_i / W`` else ``q_up``; ``school``: the midpoint there. The
    Hyndman-Fan rules 5-9 interpolate linearly between plotting positions ``p_k``, e.g. hf7
    ``p_k = C_(k-1) / C_(n-1)`` (Hyndman & Fan 1996; R ``survey:::qrule_hf7``).
    """
    runs = _sorted_runs(x, w, run, n_runs)
    bad = ~np.isfinite(p) | (runs.size[p_run] == 0)
    p_ok = np.where(bad, 0.0, p)
    r_ok = np.where(bad, np.argmax(runs.size > 0), p_run) if (~bad).any() else p_run
    if bad.all():
        return np.full(p.shape, np.nan)
    if rule in _QS_RULES:
        out = _qs_rule(rule, runs, p_ok, r_ok)
    else:
        out = _interpolated(rule, runs, p_ok, r_ok)
    return np.where(bad, np.nan, out)


# -- step 3: intervals --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Share:
    """The share of every (cell, variable x probability) domain at or below its estimate."""

    p: np.ndarray  # (n_cells, k q)
    se: np.ndarray
    df: np.ndarray  # the domain's design df (R degf of the subset)
    n: np.ndarray  # rows with a value and nonzero weight
    n_missing: np.ndarray
    variance: DesignVariance


def _share_below(design: Design, domains: Domains, columns: list[Column], names: list[str],
                 qhat: np.ndarray, n_cells: int) -> _Share:
    """``svymean(x <= qhat, subset)`` of every domain at once: one indicator column per
    (variable, probability), each row compared with its own cell's estimate; the design
    computes the variances (Taylor or replicate) from the totals."""
    n_q = qhat.shape[2]
    cell = domains.cell
    safe_cell = np.maximum(cell, 0)
    indicators: list[Column] = []
    for j, col in enumerate(columns):  # a handful of variables; the rows are vectorised
        x = np.asarray(col.source, dtype=np.float64)
        below = (x[:, None] <= qhat[safe_cell, j, :]).astype(np.float64)
        below[np.isnan(x)] = np.nan
        indicators.extend(Column(np.ascontiguousarray(below[:, i])) for i in range(n_q))
    variables = Variables(indicators, None, [f"{v}@{i}" for v in names for i in range(n_q)],
                          None)
    sums = accumulate(design, variables, domains, n_cells, "mean")
    pairs = sums.pairs[0]
    y_cell = segment_sum(pairs.cell, sums.ty[0], n_cells)
    x_cell = segment_sum(pairs.cell, np.ascontiguousarray(sums.tx[0]), n_cells)
    n_obs = segment_sum(pairs.cell, np.ascontiguousarray(sums.tc[0]), n_cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = y_cell / x_cell
    variance = design.variance(_totals(sums, variables, domains, n_cells, p, x_cell))
    df = _domain_df(design, domains, sums, n_cells, variance.df)
    return _Share(p, np.sqrt(variance.variance), df, n_obs, sums.n_missing, variance)


def _totals(sums: Sums, variables: Variables, domains: Domains, n_cells: int, p: np.ndarray,
            x_cell: np.ndarray) -> LinearisedTotals:
    stages = tuple(StageTotals(pr, ty, tx, tc)
                   for pr, ty, tx, tc in zip(sums.pairs, sums.ty, sums.tx, sums.tc, strict=True))

    def more_sums(a: np.ndarray, rows_matrix: Any) -> tuple[np.ndarray, np.ndarray]:
        return cross_sums(variables, domains, n_cells, "quantile", a, rows_matrix)

    return LinearisedTotals("mean", p, x_cell, stages, n_cells, domains.rows, more_sums)


def _domain_df(design: Design, domains: Domains, sums: Sums, n_cells: int,
               design_df: np.ndarray) -> np.ndarray:
    """R's ``degf`` of every domain's subset. A replicate design's is the rank of the
    replicate weights of the domain's rows minus one (R recomputes it on every subset;
    ``svyby`` calls the estimator on each domain): the singular values of every cell's
    multipliers at once, from the stacked Gram matrices ``A_c' A_c``."""
    if not isinstance(design, ReplicateWeighted):
        return design_df
    A = np.asarray(design.multipliers, dtype=np.float64)
    pairs = sums.pairs[0]  # units are the groups of rows sharing their multipliers
    k = sums.tc[0].shape[1]
    present = np.zeros((A.shape[0], n_cells * k))
    cols = (pairs.cell[:, None] * k + np.arange(k)[None, :]).ravel()
    has = (np.asarray(sums.tc[0]) > 0).astype(np.float64).ravel()
    np.add.at(present, (np.repeat(pairs.unit, k), cols), has)
    gram = np.einsum("gc,gr,gs->crs", (present > 0).astype(np.float64), A, A)
    s = np.sqrt(np.maximum(np.linalg.eigvalsh(gram), 0.0))
    top = s.max(axis=1, keepdims=True)
    rank = np.where(top[:, 0] > 0, (s > 1e-5 * top).sum(axis=1), 0)
    return np.asarray(rank.reshape(n_cells, k) - 1, dtype=np.float64)


def _t_quantile(prob: float, df: np.ndarray) -> np.ndarray:
    """R's ``qcrit``: ``qt(prob, df)``, ``qnorm`` at infinite df."""
    from scipy import stats

    with np.errstate(invalid="ignore"):
        t = stats.t.ppf(prob, np.where(np.isfinite(df), df, 1.0))
    return np.where(np.isfinite(df), t, stats.norm.ppf(prob))


def _share_interval(method: str, share: _Share, level: float, df: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """R ``woodruffCI``'s interval of the share: ``mean`` (Wald), ``xlogit`` and ``asin``
    (Wald on the transformed scale, delta-method SE), ``beta`` (Korn-Graubard's effective-n
    Clopper-Pearson with R's df adjustment); NaN where it leaves [0, 1]."""
    from scipy import stats

    alpha = 1 - level
    p, se = share.p, share.se
    t = _t_quantile(1 - alpha / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "mean":
            lo, hi = p - t * se, p + t * se
        elif method == "xlogit":
            eta, se_eta = np.log(p / (1 - p)), se / (p * (1 - p))
            lo, hi = (np.exp(e) / (1 + np.exp(e)) for e in (eta - t * se_eta, eta + t * se_eta))
        elif method == "asin":
            eta = np.arcsin(np.sqrt(p))
            se_eta = se / (2 * np.sqrt(p) * np.sqrt(1 - p))
            lo, hi = (np.sin(e) ** 2 for e in (eta - t * se_eta, eta + t * se_eta))
        else:  # beta: n_eff scaled by (qt(alpha/2, n - 1) / qt(alpha/2, degf))^2
            n_eff = p * (1 - p) / se**2
            n_eff = n_eff * (_t_quantile(alpha / 2, share.n - 1)
                             / _t_quantile(alpha / 2, share.df)) ** 2
            lo = stats.beta.ppf(alpha / 2, n_eff * p, n_eff * (1 - p) + 1)
            hi = stats.beta.ppf(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p))
    lo = np.where(np.isnan(lo) | (lo < 0), np.nan, lo)
    hi = np.where(np.isnan(hi) | (hi > 1), np.nan, hi)
    return lo, hi


def _woodruff(rule: str, method: str, share: _Share, x: np.ndarray, w: np.ndarray,
              cell: np.ndarray, n_cells: int, level: float, df: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """R ``woodruffCI``: the interval of the share at or below the estimate, mapped back
    through the same quantile rule (Woodruff 1952); ``x`` is (n, k) and ``share`` holds
    (n_cells, k q) columns."""
    lo_p, hi_p = _share_interval(method, share, level, df)
    k = x.shape[1]
    n_q = lo_p.shape[1] // k
    out = []
    for probs in (lo_p, hi_p):
        p3 = probs.reshape(n_cells, k, n_q)
        out.append(_per_variable(rule, x, w, cell, n_cells, p3))
    return out[0], out[1]


def _per_variable(rule: str, x: np.ndarray, w: np.ndarray, cell: np.ndarray, n_cells: int,
                  p: np.ndarray) -> np.ndarray:
    """The quantiles (n_cells, k, n_q) of probabilities ``p`` of the same shape: every
    variable is a block of runs (variable j, cell c) -> run ``j n_cells + c``."""
    n, k = x.shape
    runs = (np.arange(k)[None, :] * n_cells + cell[:, None])
    runs = np.where(cell[:, None] >= 0, runs, -1)
    p_run = np.broadcast_to((np.arange(k)[None, :, None] * n_cells
                             + np.arange(n_cells)[:, None, None]), p.shape)
    est = weighted_quantiles(rule, x.T.ravel(), np.tile(w, k), runs.T.ravel(), k * n_cells,
                             p.ravel(), p_run.ravel())
    return est.reshape(p.shape)


def _replicate_interval(design: ReplicateWeighted, rule: str, x: np.ndarray, cell: np.ndarray,
                        n_cells: int, q: np.ndarray, qhat: np.ndarray, level: float,
                        df: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R ``repCI``: the quantile under every replicate's weights, their replicate variance
    ``v = scale sum_r rscales_r (q_r - centre)^2``, and ``qhat -+ t sqrt(v)``; every
    (replicate, variable, cell) is one run of one vectorised call."""
    reps = design.replicate_weights().to_numpy(dtype=np.float64)  # (n, R)
    n, k = x.shape
    n_rep = reps.shape[1]
    n_runs = n_rep * k * n_cells
    base = np.where(cell >= 0, cell, -1)
    run = (np.arange(n_rep)[None, None, :] * (k * n_cells)
           + np.arange(k)[None, :, None] * n_cells + base[:, None, None])
    run = np.where(base[:, None, None] >= 0, run, -1)  # (n, k, R)
    xs = np.broadcast_to(x[:, :, None], run.shape)
    ws = np.broadcast_to(reps[:, None, :], run.shape)
    n_q = q.size
    p_run = (np.arange(n_rep)[:, None, None, None] * (k * n_cells)
             + np.arange(k)[None, None, :, None] * n_cells
             + np.arange(n_cells)[None, :, None, None])
    p_run = np.broadcast_to(p_run, (n_rep, n_cells, k, n_q))
    p = np.broadcast_to(q[None, None, None, :], p_run.shape)
    theta = weighted_quantiles(rule, xs.ravel(), ws.ravel(), run.ravel(), n_runs, p.ravel(),
                               p_run.ravel()).reshape(n_rep, n_cells, k, n_q)
    centre = qhat[None] if design.mse else theta.mean(axis=0, keepdims=True)
    var = design.scale * np.einsum("r,rckq->ckq", np.asarray(design.rscales, dtype=float),
                                   (theta - centre) ** 2)
    t = _t_quantile(1 - (1 - level) / 2, df.reshape(n_cells, k, n_q))
    lo, hi = qhat - np.sqrt(var) * t, qhat + np.sqrt(var) * t
    return lo, hi, t


# -- step 4: the result -------------------------------------------------------------------------
#: Columns of a quantile table after the by-columns.
QUANTILE_COLUMNS: tuple[str, ...] = ("variable", "quantile", "estimate", "se", "ci_low",
                                     "ci_high", "df", "n", "n_missing")


class Quantiles(Result):
    """Quantiles from one :func:`quantile` call: a tidy table and its provenance.

    The table has the by-columns, then ``variable, quantile, estimate, se, ci_low, ci_high,
    df, n, n_missing``, one row per (domain, variable, probability).
    """

    __slots__ = ("_by", "_table")
    _table: pd.DataFrame
    _by: tuple[str, ...]
    _label = "Quantiles"
    _records_key = "quantiles"
    _immutable_hint = "call quantile() again for new results"

    def __init__(self, table: pd.DataFrame, provenance: Mapping[str, Any],
                 by: tuple[str, ...]) -> None:
        super().__init__(provenance, _table=table, _by=tuple(by))

    @property
    def by(self) -> tuple[str, ...]:
        return self._by

    def __len__(self) -> int:
        return len(self._table)

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (a copy)."""
        out: pd.DataFrame = self._table.copy()
        return out

    def _title(self) -> str:
        p = self.provenance
        ci = (f"{p['interval_type']} {100 * p['level']:g}% CI, df: {p['df_rule']}"
              if p["ci"] else "no interval")
        return f"quantile (qrule {p['qrule']}; {p['variance']}); {ci}"


def _table(domains: Domains, names: list[str], q: np.ndarray,
           cols: dict[str, np.ndarray]) -> pd.DataFrame:
    n_cells, k, n_q = len(domains.labels), len(names), q.size
    table: pd.DataFrame = domains.labels.loc[np.repeat(np.arange(n_cells), k * n_q)]
    table = table.reset_index(drop=True)
    table["variable"] = np.tile(np.repeat(np.array(names, dtype=object), n_q), n_cells)
    table["quantile"] = np.tile(q, n_cells * k)
    for name in QUANTILE_COLUMNS[2:]:
        values = cols[name].reshape(-1)
        table[name] = values.astype(np.int64) if name in ("n", "n_missing") else values
    return table


def _warn_missing(table: pd.DataFrame) -> None:
    """Missing values are left out variable by variable (R ``na.rm = TRUE``), never
    silently."""
    first = table[table["quantile"] == table["quantile"].iloc[0]] if len(table) else table
    per_var = first.groupby("variable", sort=False)["n_missing"].sum()
    per_var = per_var[per_var > 0]
    if len(per_var):
        warnings.warn(FlestimateWarning(
            "missing values excluded from `quantile()`: "
            + ", ".join(f"{v} ({int(c)})" for v, c in per_var.items()), "MISSING_ITEMS"),
            stacklevel=caller_stacklevel())


def _provenance(design: Design, qrule: str, interval_type: str, ci: bool, level: float,
                df_user: float | None, variance: DesignVariance | None,
                domains: Domains) -> dict[str, Any]:
    rule = (f"user ({df_user:g})" if df_user is not None else
            "design df of each domain (R degf of the subset)")
    return {
        "estimator": "quantile",
        "qrule": qrule,
        "ci_method": interval_type if ci else None,
        "interval_type": interval_type,
        "ci": ci,
        "level": level,
        "df_rule": rule,
        "variance": variance.method if variance is not None else "none",
        "r_call": (f"svyquantile(~x, design, quantiles, qrule = \"{qrule}\", "
                   f"interval.type = \"{interval_type}\")"),
        "by": list(domains.by),
        "subpop": domains.subpop,
        "rows_missing_by": domains.n_missing_by,
        "design": design.summary_dict(),
        "version": __version__,
    }


def _probabilities(q: Any) -> np.ndarray:
    values = [q] if isinstance(q, int | float | np.integer | np.floating) else q
    ok = isinstance(values, Sequence | np.ndarray) and len(values) > 0 and all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        for v in values)
    if not ok:
        raise ArgumentTypeError(f"`q` of `quantile()` must be a probability or a non-empty "
                                f"list of probabilities in [0, 1]; got {q!r}")
    arr = np.asarray(values, dtype=np.float64)
    bad = ~((arr >= 0) & (arr <= 1))
    if bad.any():
        raise ArgumentError(f"`q` of `quantile()` must be probabilities in [0, 1]; got "
                            f"{arr[bad][0]:g}")
    return arr


@known_keywords
def quantile(
    design: Design,
    vars: str | Sequence[str],
    q: float | Sequence[float] = (0.25, 0.5, 0.75),
    *,
    by: By = None,
    subpop: Subpop = None,
    ci: str | None = "mean",
    level: float = 0.95,
    df: float | None = None,
    qrule: str = "math",
) -> Quantiles:
    """Survey quantiles with Woodruff (or replicate) intervals, as R ``svyquantile``.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign (any :class:`~flestimate.protocol.Design`)
    vars : str or list of str
        Numeric columns; missing values are left out of their variable only (R ``na.rm``).
    q : float or list of float
        Probabilities in [0, 1].
    by, subpop
        Domains, as :func:`~flestimate.estimate.mean` (R ``svyby`` / ``subset``).
    ci : {"mean", "beta", "xlogit", "asin", "quantile"} or None
        The interval method, as every estimator's ``ci`` (R ``interval.type``): ``mean``
        (default): Woodruff's interval from the Wald interval of the share at or below the
        estimate; ``beta``, ``xlogit``, ``asin``: that share's interval by another method;
        ``quantile`` (replicate designs): the replicate variance of the quantile itself.
        ``None``: no interval and no SE (R ``ci = FALSE``).
    level : float
        Confidence level in (0, 1).
    df : float, optional
        Degrees of freedom of the t quantiles; default R's ``degf`` of every domain.
    qrule : {"math", "school", "shahvaish", "hf1", ..., "hf9"}
        R's quantile rule: ``math`` (default) the inverse of the weighted CDF, ``school`` its
        midpoint at a jump, ``hf1``..``hf9`` the Hyndman-Fan types with weights.

    Returns
    -------
    Quantiles

    Notes
    -----
    The estimate is ``Q(p) = qrule(x, w, p)`` over the domain's rows. Woodruff: with
    ``F = sum(w d 1[x <= Q(p)]) / sum(w d)`` and its design SE ``s``, the interval
    ``[Q(F - t s), Q(F + t s)]`` (``t = qt(1 - alpha/2, df)``), NaN where a limit leaves
    [0, 1]; the reported SE is the interval's width over ``2 t`` (R). ``quantile``:
    ``v = scale sum_r rscales_r (Q_r(p) - centre)^2``, ``Q(p) -+ t sqrt(v)``.

    References
    ----------
    Woodruff, R. S. (1952). Confidence intervals for medians and other position measures.
    *JASA* 47, 635-646. Hyndman, R. J. and Fan, Y. (1996). Sample quantiles in statistical
    packages. *The American Statistician* 50, 361-365. Lumley, T. (2021), R survey 4.1,
    ``svyquantile``.
    """
    names = columns_of(design, vars, "vars", "quantile")
    probs = _probabilities(q)
    rule = check_choice(qrule, QRULES, "qrule", "quantile")
    if isinstance(ci, bool | np.bool_):
        raise ArgumentTypeError(f"`ci` of `quantile()` must be an interval method "
                                f"({', '.join(INTERVAL_TYPES)}) or None (no interval); got "
                                f"{ci!r}")
    itype = "mean" if ci is None else check_choice(ci, INTERVAL_TYPES, "ci", "quantile")
    lvl, df_user = check_level(level, "quantile"), check_df(df, "quantile")
    replicated = isinstance(design, ReplicateWeighted)
    if itype == "quantile" and not replicated:
        raise ArgumentError("`ci` of `quantile()` must be one of mean, beta, xlogit, asin on a "
                            "design without replicate weights; got 'quantile'")
    if replicated and itype not in ("mean", "quantile"):
        # R's svyquantile.svyrep.design calls woodruffCI without the method (4.1.1): these
        # would silently be "mean" there, so they are refused rather than unverifiable.
        raise ArgumentError(f"`ci` of `quantile()` must be one of mean, quantile on a "
                            f"replicate design; got {itype!r}")
    columns = [numeric_column(design, c, "quantile") for c in names]
    domains = domains_of(design, by, subpop, "quantile")
    return _quantile(design, names, columns, probs, domains, rule, itype, ci is not None, lvl,
                     df_user)


def _quantile(design: Design, names: list[str], columns: list[Column], q: np.ndarray,
              domains: Domains, rule: str, itype: str, ci: bool, level: float,
              df_user: float | None) -> Quantiles:
    """One call, step by step (see the module's docstring)."""
    n_cells, k, n_q = len(domains.labels), len(names), q.size
    x = np.column_stack([np.asarray(c.source, dtype=np.float64) for c in columns])
    w = np.asarray(design.weights, dtype=np.float64)
    cell = domains.cell
    qhat = _per_variable(rule, x, w, cell, n_cells,
                         np.broadcast_to(q, (n_cells, k, n_q)).copy())
    share = _share_below(design, domains, columns, names, qhat, n_cells)
    df = (np.full(share.p.shape, df_user) if df_user is not None else share.df)
    shape = (n_cells, k, n_q)
    nan = np.full(shape, np.nan)
    lo, hi, se = nan, nan, nan
    if ci and itype == "quantile" and isinstance(design, ReplicateWeighted):
        lo, hi, t = _replicate_interval(design, rule, x, cell, n_cells, q, qhat, level, df)
        se = (hi - lo) / (2 * t)
    elif ci:
        lo, hi = _woodruff(rule, itype, share, x, w, cell, n_cells, level, df)
        se = (hi - lo) / (2 * _t_quantile(1 - (1 - level) / 2, df).reshape(shape))
    empty = share.n.reshape(shape) == 0
    cols = {"estimate": np.where(empty, np.nan, qhat), "se": se, "ci_low": lo, "ci_high": hi,
            "df": df.reshape(shape), "n": share.n.reshape(shape),
            "n_missing": share.n_missing.reshape(shape)}
    table = _table(domains, names, q, cols)
    _warn_missing(table)
    return Quantiles(table, _provenance(design, rule, itype, ci, level, df_user,
                                        share.variance, domains), domains.by)
