"""Replicate-weight designs: given replicate weights (JK1, JKn, BRR, Fay, bootstrap, SDR, other)
or generated from a :class:`~flestimate.design.SurveyDesign` (jackknives, BRR, Fay, bootstrap).

A replicate design stores its replicate weights *factorised*: every row belongs to a group (a
PSU for generated designs; a set of rows sharing the same replicate multipliers for given ones),
and replicate r gives row i the weight ``w_i * A[g(i), r]``. The estimators then sum the data
into (group x domain cell) totals in one pass, exactly as for Taylor designs, and the replicate
estimates are one product ``A' T`` of the (groups x replicates) multipliers with those totals:
no Python loop over replicates, and no (rows x replicates) matrix is ever built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate._checks import MAX_WEIGHT, check_weight_range, progress_bar
from flestimate._replicate_weights import (
    REPLICATE_METHODS,
    check_rho,
    hadamard,
    method_name,
    replicate_multipliers,
    source_of,
)
from flestimate.chisq import Association
from flestimate.estimate import Estimators
from flestimate.protocol import DesignVariance, LinearisedTotals
from flestimate.results import Frozen, summary_html
from flestimate.variance import Stage

if TYPE_CHECKING:
    from flestimate.design import SurveyDesign
from flestimate.errors import (
    ArgumentError,
    ArgumentTypeError,
    DataError,
    DesignError,
    format_values,
)

__all__ = ["REPLICATE_METHODS", "ReplicateDesign", "hadamard"]

def default_scales(method: str, n_rep: int, rho: float | None
                   ) -> tuple[float, np.ndarray]:
    """R ``svrepdesign``'s default ``scale`` and ``rscales`` for given replicate weights."""
    ones = np.ones(n_rep)
    if method == "jk1":
        return (n_rep - 1) / n_rep, ones
    if method == "brr":
        return 1.0 / n_rep, ones
    if method == "fay":
        assert rho is not None
        return 1.0 / (n_rep * (1.0 - rho) ** 2), ones
    if method in ("bootstrap", "subbootstrap"):
        return 1.0 / (n_rep - 1), ones
    if method == "sdr":
        return 4.0 / n_rep, ones
    return 1.0, ones  # jkn (rscales required) and other


def _row_keys(multipliers: np.ndarray) -> np.ndarray:
    """Keys that are equal for rows with identical replicate multipliers: two fixed random
    projections, quantised to 40 bits of mantissa. Identical rows always share a key; distinct
    rows could only share one if both projections of their difference vanished to 12 digits,
    which happens for differences of that size only (and then does not change an estimate)."""
    proj = np.random.default_rng(20261129).standard_normal((multipliers.shape[1], 2))
    mant, expo = np.frexp(multipliers @ proj)
    return np.column_stack([np.round(mant * 2.0**40), expo])


class ReplicateDesign(Frozen, Estimators, Association):
    """A survey design defined by replicate weights.

    Parameters
    ----------
    data : DataFrame
    weights : str
        Full-sample weight column.
    replicate_weights : list of str, or str
        Replicate weight columns, or a regular expression matching their names in full (R's
        ``repweights="bw[0-9]+"``).
    method : str
        ``"jk1"``, ``"jkn"``, ``"brr"``, ``"fay"``, ``"bootstrap"``, ``"subbootstrap"``, ``"sdr"``
        (successive difference), or ``"other"``: R ``svrepdesign(type=...)``.
    scale : float, optional
        Overall variance multiplier; R's default for the method when omitted: JK1 (R-1)/R, BRR
        1/R, Fay 1/(R (1-rho)^2), bootstrap 1/(R-1), SDR 4/R, JKn and other 1.
    rscales : sequence of float, optional
        Per-replicate multipliers (required for JKn: (n_h - 1)/n_h of each replicate's stratum).
    mse : bool
        Centre the squared deviations on the full-sample estimate (True) or on the mean of the
        replicate estimates (False, R's default).
    rho : float, optional
        Fay's coefficient (method ``"fay"``), in [0, 1).
    combined : bool
        The replicate columns are full weights (True, R ``combined.weights=TRUE``) or multipliers
        of the full-sample weight (False).

    Notes
    -----
    ``v = scale * sum_r rscales_r (theta_r - centre)^2`` (R ``svrVar``). Degrees of freedom: the
    rank of the replicate multipliers over the rows in the estimate's population, minus one (R's
    ``degf``: ``qr(weights(design, "analysis"), tol = 1e-5)$rank - 1``), computed on the distinct
    rows of multipliers, not on rows x replicates.
    """

    __slots__ = ("_data", "_weights", "_weights_col", "_rep_cols", "_method", "_scale",
                 "_rscales", "_mse", "_rho", "_combined", "_group", "_A", "_stage",
                 "_rank", "_summary", "_source", "_frozen", "_calibration_report")
    _data: pd.DataFrame
    _weights: np.ndarray
    _weights_col: str
    _rep_cols: list[str]
    _method: str
    _scale: float
    _rscales: np.ndarray
    _mse: bool
    _rho: float | None
    _combined: bool
    _group: np.ndarray
    _A: np.ndarray
    _stage: Stage
    _rank: int | None
    _summary: dict[str, Any] | None
    _source: str
    _frozen: bool
    _calibration_report: Any

    def __init__(
        self,
        data: pd.DataFrame,
        weights: str,
        replicate_weights: str | Sequence[str],
        method: str,
        scale: float | None = None,
        rscales: Sequence[float] | np.ndarray | None = None,
        mse: bool = False,
        rho: float | None = None,
        combined: bool = True,
    ) -> None:
        func = "ReplicateDesign"
        if not isinstance(data, pd.DataFrame):
            raise ArgumentTypeError(f"`data` of `{func}()` must be a DataFrame; got "
                                    f"{type(data).__name__}")
        m = method_name(method, func)
        if not isinstance(weights, str) or weights not in data.columns:
            raise DataError(f"`weights` of `{func}()`: column {weights!r} not found in the data")
        cols = _rep_columns(data, replicate_weights, func)
        w = pd.to_numeric(data[weights], errors="coerce").to_numpy(dtype=float)
        _check_weights(w, weights, data)
        n_rep = len(cols)
        rho_v = check_rho(m, rho, func)
        # Multipliers per row, in chunks of rows: never a (rows x replicates) copy at once; only
        # each row's key is kept, then the first row of every group is read again.
        positive = w > 0
        keys = []
        step = max(1, 2**22 // max(n_rep, 1))
        for start in range(0, len(data), step):
            rows = slice(start, start + step)
            block = data[cols].iloc[rows].to_numpy(dtype=float)
            _check_replicates(block, cols, start, data)
            wp = w[rows]
            if combined:
                bad = (~positive[rows]) & (np.abs(block) > 0).any(axis=1)
                if bad.any():
                    first = data.index[start + np.flatnonzero(bad)[:3]].tolist()
                    raise DesignError(f"rows {first} have full-sample weight 0 but nonzero "
                                      f"replicate weights; with `combined=True` the replicate "
                                      f"columns must be full weights")
                with np.errstate(divide="ignore", invalid="ignore"):
                    block = np.where(positive[rows, None], block / wp[:, None], 0.0)
            keys.append(_row_keys(block))
        allkeys = np.vstack(keys) if keys else np.zeros((0, 4))
        _, first, group = np.unique(allkeys, axis=0, return_index=True, return_inverse=True)
        group = group.reshape(-1).astype(np.int64)
        block = data[cols].iloc[first].to_numpy(dtype=float)
        wf = w[first]
        multipliers = (np.where(wf[:, None] > 0, block / np.where(wf > 0, wf, 1.0)[:, None], 0.0)
                       if combined else block)
        self._setup(data, w, weights, cols, m, scale, rscales, mse, rho_v, combined, group,
                    multipliers, "given")

    def _setup(self, data: pd.DataFrame, w: np.ndarray, weights: str, cols: list[str],
               method: str, scale: float | None, rscales: Any, mse: bool, rho: float | None,
               combined: bool, group: np.ndarray, A: np.ndarray, source: str) -> None:
        func = "ReplicateDesign"
        n_rep = A.shape[1]
        if n_rep < 2:
            raise ArgumentError(f"`replicate_weights` of `{func}()` must give at least 2 "
                                f"replicates; got {n_rep}")
        d_scale, d_rscales = default_scales(method, n_rep, rho)
        if method == "jkn" and rscales is None:
            raise ArgumentError(f"`rscales` of `{func}()` is required for method 'jkn': "
                                f"(n_h - 1)/n_h for the stratum of each replicate")
        if scale is not None and (not np.isfinite(scale) or scale <= 0):
            raise ArgumentError(f"`scale` of `{func}()` must be a positive number; got {scale!r}")
        rs = d_rscales if rscales is None else np.asarray(rscales, dtype=float)
        if rs.shape != (n_rep,) or not np.isfinite(rs).all() or (rs < 0).any():
            raise ArgumentError(f"`rscales` of `{func}()` must hold {n_rep} non-negative "
                                f"numbers, one per replicate; got shape {rs.shape}")
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_weights", w)
        w.setflags(write=False)
        object.__setattr__(self, "_weights_col", weights)
        object.__setattr__(self, "_rep_cols", list(cols))
        object.__setattr__(self, "_method", method)
        object.__setattr__(self, "_scale", float(d_scale if scale is None else scale))
        rs = rs.copy()
        rs.setflags(write=False)
        object.__setattr__(self, "_rscales", rs)
        object.__setattr__(self, "_mse", bool(mse))
        object.__setattr__(self, "_rho", rho)
        object.__setattr__(self, "_combined", combined)
        object.__setattr__(self, "_group", group)
        A = np.ascontiguousarray(A, dtype=float)
        A.setflags(write=False)
        object.__setattr__(self, "_A", A)
        n_groups = A.shape[0]
        object.__setattr__(self, "_stage", Stage(
            unit=group, parent=np.zeros(n_groups, dtype=np.int64),
            n_sampled=np.array([n_groups], dtype=np.int64), fpc_factor=np.ones(1),
            weight=np.ones(1)))
        object.__setattr__(self, "_rank", None)
        object.__setattr__(self, "_source", source)
        object.__setattr__(self, "_summary", None)
        object.__setattr__(self, "_calibration_report", None)
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a ReplicateDesign is immutable; build a new one")

    # -- what the estimation engine reads --------------------------------------------------------
    @property
    def weights(self) -> np.ndarray:
        """Full-sample weights (read-only)."""
        return self._weights

    @property
    def all_weights_positive(self) -> bool:
        return bool((self._weights > 0).all())

    @property
    def stages(self) -> list[Stage]:
        """One pseudo-stage whose units are the groups of rows sharing replicate multipliers."""
        return [self._stage]

    @property
    def variance_stages(self) -> int:
        return 1

    @property
    def frequencies(self) -> None:
        """Replicate designs have one row per person."""
        return None

    @property
    def needs_every_pair(self) -> bool:
        """Recalibrated replicates are whole new weights: only the rows' groups matter."""
        return False

    def variance(self, totals: LinearisedTotals) -> DesignVariance:
        """Replicate variance (R ``svrVar``) of every estimate, from its totals per group of
        rows sharing their multipliers; df the rank of the replicate weights over the
        estimate's population minus one (R ``degf``)."""
        var, var_logit, cov = replicate_variance(self, totals)
        df = np.full((totals.n_cells, totals.k), float(self.rank(totals.rows) - 1))
        method = (f"replicate weights ({self._method}, {self.n_replicates} replicates, "
                  f"scale {self._scale:.6g}, "
                  f"{'mse' if self._mse else 'centred on the mean of the replicates'})")
        return DesignVariance(var, df, method,
                              "rank of the replicate weights over the population, minus 1 "
                              "(R degf)", var_logit, cov)

    @property
    def data(self) -> pd.DataFrame:
        """The data (a shallow copy)."""
        out: pd.DataFrame = self._data.copy(deep=False)
        return out

    # -- replicate structure ------------------------------------------------------------------------
    @property
    def method(self) -> str:
        return self._method

    @property
    def n_replicates(self) -> int:
        return int(self._A.shape[1])

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def rscales(self) -> np.ndarray:
        return self._rscales

    @property
    def mse(self) -> bool:
        return self._mse

    @property
    def multipliers(self) -> np.ndarray:
        """(groups x replicates) multipliers of the full-sample weight (read-only)."""
        return self._A

    @property
    def groups(self) -> np.ndarray:
        """The group of every row (rows of a group share their replicate multipliers)."""
        return self._group

    def rank(self, rows: np.ndarray | None = None) -> int:
        """Rank of the replicate weights over ``rows`` (all rows by default; rows of weight 0
        do not count), as R's ``qr(weights(design, "analysis"), tol = 1e-5)$rank``."""
        if rows is None and self._rank is not None:
            return int(self._rank)
        keep = self._weights > 0 if rows is None else (self._weights[rows] > 0)
        groups = self._group if rows is None else self._group[rows]
        present = np.unique(groups[keep])
        r = _rank(self._A[present])
        if rows is None:
            object.__setattr__(self, "_rank", r)
        return r

    @property
    def degf(self) -> int:
        """Design degrees of freedom: rank of the replicate weights minus one (R ``degf``)."""
        return self.rank() - 1

    # -- calibration: every replicate recalibrated ----------------------------------------------
    def _recalibrated(self, method: str, population_totals: Any, bounds: Any, max_iter: int,
                      tol: float, func: str, progress: bool = False) -> ReplicateDesign:
        from flestimate.calibration._design import build_margins, solve
        from flestimate.calibration._solve import calibration_weights, rake_weights

        margins = build_margins(self._data, population_totals, func,
                                "margins" if method == "rake" else "population_totals")
        d = np.asarray(self._weights, dtype=float)
        g, report, label = solve(d, margins, method, bounds, max_iter, tol, func)
        n_pat = margins.X.shape[0]
        # New groups: rows sharing their old group and their auxiliary pattern share the
        # recalibrated multipliers.
        key = self._group * n_pat + margins.pattern
        uniq, new_group = np.unique(key, return_inverse=True)
        old, pat = uniq // n_pat, uniq % n_pat
        # Each replicate's weights, summed by pattern: (patterns x replicates).
        from scipy import sparse

        by_pattern = sparse.csr_matrix((d, (margins.pattern, self._group)),
                                       shape=(n_pat, self._A.shape[0])) @ self._A
        by_pattern = np.asarray(by_pattern)
        if label == "linear" and bounds is None:
            g_rep = _linear_batch(margins.X, by_pattern, margins.totals)
        elif label == "poststratify":
            cell = margins.cells[0]
            n_cells = len(margins.cell_totals[0])
            sums = np.zeros((n_cells, by_pattern.shape[1]))
            np.add.at(sums, cell, by_pattern)
            with np.errstate(divide="ignore", invalid="ignore"):
                g_rep = margins.cell_totals[0][cell][:, None] / sums[cell]
            g_rep = np.where(np.isfinite(g_rep), g_rep, 0.0)
        else:
            # Iterative calibrations are solved replicate by replicate on the (small) pattern
            # table, once, when the design is built; estimation then reads the multipliers.
            from flestimate.errors import EstimationError

            cols = []
            bar = progress_bar(by_pattern.shape[1], f"{label} replicates", progress)
            for r in range(by_pattern.shape[1]):
                bar.update(1)
                try:
                    if label == "rake":
                        g_r, _ = rake_weights(margins.cells, by_pattern[:, r],
                                              margins.cell_totals, max_iter, tol,
                                              names=margins.margin_names)
                    else:
                        g_r, _ = calibration_weights(margins.X, by_pattern[:, r],
                                                     margins.totals, label, bounds, max_iter,
                                                     tol, names=list(margins.names))
                except EstimationError as exc:
                    # R keeps a replicate that fails to calibrate, silently; here it is an error
                    raise EstimationError(f"replicate {r + 1} of {by_pattern.shape[1]} cannot be "
                                          f"calibrated: {exc}") from exc
                cols.append(g_r)
            bar.close()
            g_rep = np.column_stack(cols)
        g_pat = np.zeros(n_pat)
        g_pat[margins.pattern] = g
        with np.errstate(divide="ignore", invalid="ignore"):
            a_new = self._A[old] * g_rep[pat] / g_pat[pat][:, None]
        a_new = np.where(np.isfinite(a_new), a_new, 0.0)
        out = ReplicateDesign.__new__(ReplicateDesign)
        out._setup(self._data, d * g, self._weights_col, self._rep_cols, self._method,
                   self._scale, self._rscales, self._mse, self._rho, self._combined,
                   new_group.astype(np.int64), a_new,
                   f"{self._source}; {label} calibration, every replicate recalibrated")
        if not (label in ("linear", "poststratify") and bounds is None):
            # R keeps the degrees of freedom of the uncalibrated design after a non-linear
            # calibration (and recomputes them after linear calibration or post-stratification).
            object.__setattr__(out, "_rank", self.rank())
        object.__setattr__(out, "_calibration_report", report)
        return out

    def calibrate(self, population_totals: Any, method: str = "linear",
                  bounds: tuple[float, float] | None = None, max_iter: int = 50,
                  tol: float = 1e-7, *, progress: bool = False) -> ReplicateDesign:
        """A new replicate design calibrated to known totals, every replicate recalibrated to
        the same totals (R ``calibrate`` on a svyrep.design). Arguments as
        :meth:`SurveyDesign.calibrate`; ``progress=True`` shows a progress bar (``tqdm``, on
        stderr) of the replicates solved one by one (iterative methods and bounds)."""
        return self._recalibrated(method, population_totals, bounds, max_iter, tol, "calibrate",
                                  bool(progress))

    def poststratify(self, population_totals: Any) -> ReplicateDesign:
        """A new replicate design post-stratified, every replicate too (R ``postStratify``)."""
        return self._recalibrated("poststratify", population_totals, None, 1, 0.0,
                                  "poststratify")

    def rake(self, margins: Any, max_iter: int = 10, tol: float = 1.0, *,
             progress: bool = False) -> ReplicateDesign:
        """A new replicate design raked to several margins, every replicate too (R ``rake``);
        ``progress=True`` shows a progress bar (``tqdm``, on stderr) of the replicates."""
        return self._recalibrated("rake", margins, None, max_iter, tol, "rake", bool(progress))

    def nonresponse_adjusted(self, classes: np.ndarray, respondent: np.ndarray,
                             label: str = "non-response adjustment") -> ReplicateDesign:
        """A new replicate design whose weights, and every replicate's, move the weight of the
        non-respondents of each class to its respondents.

        Parameters
        ----------
        classes : array of int, shape (n,)
            Weighting class of every row (-1: outside the adjustment, weight unchanged).
        respondent : array of bool, shape (n,)
            Rows that keep (and receive) weight; non-respondents get weight 0.
        label : str
            How the adjustment is named in the design's source.

        Notes
        -----
        For class c and replicate r, respondents' weights are multiplied by ``sum_c w_r /
        sum_(c, respondents) w_r``: the adjustment is redone inside every replicate, so the
        replicate variance reflects it.
        """
        from scipy import sparse

        code = np.asarray(classes, dtype=np.int64)
        resp = np.asarray(respondent, dtype=bool)
        if code.shape != (len(self._data),) or resp.shape != code.shape:
            raise ArgumentError(f"`classes` and `respondent` of `nonresponse_adjusted()` must "
                                f"have one value per row ({len(self._data)})")
        k = int(code.max()) + 1 if code.size and code.max() >= 0 else 0
        # patterns: (class, respondent) for rows inside, one more for the rows outside
        pattern = np.where(code >= 0, 2 * code + resp, 2 * k)
        n_pat = 2 * k + 1
        d = np.asarray(self._weights, dtype=float)
        by_pattern = np.asarray(sparse.csr_matrix((d, (pattern, self._group)),
                                                  shape=(n_pat, self._A.shape[0])) @ self._A)
        full = np.column_stack([np.bincount(pattern, weights=d, minlength=n_pat), by_pattern])
        per_class = full[:2 * k].reshape(k, 2, -1)
        total, resp_sum = per_class.sum(axis=1), per_class[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(resp_sum > 0, total / resp_sum, 0.0)
        g = np.ones((n_pat, full.shape[1]))
        g[0:2 * k:2] = 0.0  # non-respondents
        g[1:2 * k:2] = ratio
        key = self._group * n_pat + pattern
        uniq, new_group = np.unique(key, return_inverse=True)
        old, pat = uniq // n_pat, uniq % n_pat
        g_full, g_rep = g[:, 0], g[:, 1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            a_new = self._A[old] * g_rep[pat] / g_full[pat][:, None]
        a_new = np.where(np.isfinite(a_new), a_new, 0.0)
        out = ReplicateDesign.__new__(ReplicateDesign)
        out._setup(self._data, d * g_full[pattern], self._weights_col, self._rep_cols,
                   self._method, self._scale, self._rscales, self._mse, self._rho,
                   self._combined, new_group.reshape(-1).astype(np.int64), a_new,
                   f"{self._source}; {label}, redone in every replicate")
        return out

    def replicate_weights(self, prefix: str = "rep") -> pd.DataFrame:
        """The replicate weights as full weights, one column per replicate (``rep1`` ...), in
        the data's index: for an NSO to publish them."""
        full = self._weights[:, None] * self._A[self._group]
        names = [f"{prefix}{i + 1}" for i in range(self.n_replicates)]
        out: pd.DataFrame = pd.DataFrame(full, index=self._data.index, columns=names)
        return out

    def summary_dict(self) -> dict[str, Any]:
        """Design summary recorded in every result's provenance (a copy)."""
        if self._summary is None:
            w = self._weights
            object.__setattr__(self, "_summary", {
                "n_rows": len(self._data),
                "weights": self._weights_col,
                "replicate_weights": self._rep_cols if len(self._rep_cols) <= 12 else
                [*self._rep_cols[:3], "...", self._rep_cols[-1]],
                "method": self._method,
                "replicates": self.n_replicates,
                "scale": self._scale,
                "rscales": "all 1" if np.all(self._rscales == 1) else "per replicate",
                "mse": self._mse,
                "rho": self._rho,
                "combined": self._combined,
                "source": self._source,
                "groups": int(self._A.shape[0]),
                "sum_weights": float(np.sum(w)),
                "kish_deff_weights": float(len(w) * np.sum(w * w) / np.sum(w) ** 2),
                "degf": self.degf,
                "fpc": None,
            })
        assert self._summary is not None
        return dict(self._summary)

    def __repr__(self) -> str:
        return (f"<ReplicateDesign {self._method}: {len(self._data):,} rows, "
                f"{self.n_replicates} replicates, scale {self._scale:.6g}, "
                f"{'mse' if self._mse else 'centred on the replicate mean'}>")

    def _repr_html_(self) -> str:
        s = self.summary_dict()
        reps = s["replicate_weights"]
        rows = [
            ("rows", f"{s['n_rows']:,}"),
            ("weights", s["weights"]),
            ("method", s["method"]),
            ("replicates", f"{s['replicates']:,}" + (f" ({', '.join(map(str, reps))})"
                                                      if reps else "")),
            ("scale", f"{s['scale']:.6g}; rscales {s['rscales']}"),
            ("variance", "mse (around the full-sample estimate)" if s["mse"]
             else "centred on the replicate mean"),
            ("sum of weights", f"{s['sum_weights']:,.0f}"),
            ("Kish deff of weights", f"{s['kish_deff_weights']:.3g}"),
            ("design df", f"{s['degf']:,}"),
            ("source", s["source"]),
        ]
        return summary_html("ReplicateDesign", rows)


def _rank(a: np.ndarray) -> int:
    if a.size == 0:
        return 0
    # R: qr(x, tol = 1e-5)$rank; singular values below 1e-5 of the largest count as zero.
    s = np.linalg.svd(a if a.shape[0] <= 4 * a.shape[1] else a.T @ a, compute_uv=False)
    if a.shape[0] > 4 * a.shape[1]:
        s = np.sqrt(np.maximum(s, 0.0))
    return int((s > 1e-5 * s.max()).sum()) if s.max() > 0 else 0


def _rep_columns(data: pd.DataFrame, spec: str | Sequence[str], func: str) -> list[str]:
    if isinstance(spec, str):
        import re

        if spec in data.columns:
            return [spec]
        try:
            pattern = re.compile(spec)
        except re.error as exc:
            raise ArgumentError(f"`replicate_weights` of `{func}()`: invalid regular expression "
                                f"{spec!r}: {exc}") from exc
        cols = [str(c) for c in data.columns if pattern.fullmatch(str(c))]
        if not cols:
            raise DataError(f"`replicate_weights` of `{func}()`: no column matches {spec!r}")
        return cols
    cols = [str(c) for c in spec]
    absent = [c for c in cols if c not in data.columns]
    if absent:
        raise DataError(f"`replicate_weights` of `{func}()`: column(s) {format_values(absent)} "
                        f"not found in the data")
    return cols


def _check_weights(w: np.ndarray, name: str, data: pd.DataFrame) -> None:
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DesignError(f"weight column {name!r} has {int(bad.sum())} missing, infinite or "
                          f"negative value(s), e.g. rows {data.index[bad][:3].tolist()}")
    check_weight_range(w, name, data)


def _check_replicates(block: np.ndarray, cols: list[str], start: int, data: pd.DataFrame
                      ) -> None:
    bad = ~np.isfinite(block) | (block < 0)
    if bad.any():
        r, c = np.nonzero(bad)
        raise DesignError(f"replicate weight column {cols[c[0]]!r} has a missing, infinite or "
                          f"negative value at row {data.index[start + r[0]]!r}")
    if block.size and block.max() > MAX_WEIGHT:
        for j, col in enumerate(cols):
            check_weight_range(block[:, j], col, data.iloc[start:start + len(block)])


# -- generating replicates from a design --------------------------------------------------------------
def to_replicate(design: SurveyDesign, method: str = "jkn", replicates: int | None = None,
                 seed: int | np.random.Generator | None = None, rho: float | None = None,
                 mse: bool = False) -> ReplicateDesign:
    """A replicate design from a Taylor design (see :meth:`SurveyDesign.to_replicate`)."""
    m, A, scale, rscales, rho_v = replicate_multipliers(design, method, replicates, seed, rho)
    out = ReplicateDesign.__new__(ReplicateDesign)
    out._setup(design.data, np.asarray(design.weights, dtype=float).copy(),
               str(design.summary_dict()["weights"] or "(implied by fpc)"), [], m, scale,
               rscales, mse, rho_v, True, design.stages[0].unit, A, source_of(design, m))
    return out


def replicate_variance(design: ReplicateDesign, totals: LinearisedTotals
                       ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Replicate variances of every (cell, variable) estimate from the (group x cell) totals.

    Notes
    -----
    Replicate r's totals are ``T_r = sum_g A[g, r] t_g`` with ``t_g`` the full-weight totals of
    group g: one sparse-by-dense product for all cells, variables and replicates. Then
    ``theta_r = T_r`` (totals) or ``Y_r / X_r`` (means, proportions, ratios) and
    ``v = scale * sum_r rscales_r (theta_r - centre)^2``, the centre being the full-sample
    estimate (``mse=True``) or the mean of the ``theta_r`` (R ``svrVar``).

    The second array (means and proportions) is the replicate variance of ``logit(theta_r)``:
    R's ``svyciprop(method="logit")`` on a replicate design fits the logit model in every
    replicate, so its interval uses that variance, not the delta method. The third is the
    covariance ``totals.covariance`` asks for, ``scale * sum_r rscales_r (theta_r - centre)
    (theta_r - centre)'`` (R ``svrVar`` on the replicates of ``svyby(covmat=TRUE)``).
    """
    from scipy import sparse

    kind, n_cells = totals.kind, totals.n_cells
    first = totals.stages[0]
    pairs, ty, tx, est = first.pairs, first.ty, first.tx, totals.estimate
    A = design.multipliers
    n_groups = A.shape[0]
    k = ty.shape[1]
    rows = np.repeat(pairs.unit, k)
    cols = (pairs.cell[:, None] * k + np.arange(k)[None, :]).ravel()
    shape = (n_groups, n_cells * k)

    def replicate_totals(values: np.ndarray) -> np.ndarray:
        s = sparse.csr_matrix((values.ravel(), (rows, cols)), shape=shape)
        return np.asarray(s.T @ A)  # (cells x variables) x replicates

    theta = replicate_totals(ty)
    if kind != "total":
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = theta / replicate_totals(tx)
    full = est.reshape(-1)

    def deviations(values: np.ndarray, at: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            centre = at[:, None] if design.mse else values.mean(axis=1, keepdims=True)
            return np.asarray(values - centre)

    def variance(values: np.ndarray, at: np.ndarray) -> np.ndarray:
        return np.asarray(design.scale * (deviations(values, at) ** 2 @ design.rscales))

    var = variance(theta, full).reshape(n_cells, k)
    cov = None
    if totals.covariance is not None:
        dev = deviations(theta, full)
        scaled = dev * (design.scale * design.rscales)[None, :]
        n_rep = dev.shape[1]
        cov = (scaled @ dev.T if totals.covariance == "all" else
               np.einsum("ckr,cjr->ckj", scaled.reshape(n_cells, k, n_rep),
                         dev.reshape(n_cells, k, n_rep)))
    if kind == "total":
        return var, None, cov
    with np.errstate(divide="ignore", invalid="ignore"):
        logit = np.log(theta / (1.0 - theta))
        var_logit = variance(logit, np.log(full / (1.0 - full))).reshape(n_cells, k)
    return var, var_logit, cov


def _linear_batch(X: np.ndarray, d: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Unbounded linear calibration of every replicate at once (R ``regcalibrate``):
    ``g_r = 1 + X (X' D_r X)^{-1} (T - X' d_r)``; patterns x replicates."""
    tmat = np.einsum("pi,pr,pj->rij", X, d, X)
    rhs = totals[None, :] - (X.T @ d).T
    lam = np.linalg.solve(tmat, rhs[:, :, None])[:, :, 0]
    return np.asarray(1.0 + X @ lam.T)
