"""Taylor-linearisation variance kernels: segmented sums over (unit, domain cell) pairs.

Every estimator reduces to totals of linearised values per sampling unit and domain cell. This
module computes those totals in one sparse product over the rows, for all variables and all
domain cells at once, and turns them into variances stage by stage, with R survey's rules for
FPCs, multistage recursion and lonely PSUs. Nothing here loops over rows, PSUs, strata, domains or
variables in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

    from flestimate.calibration import Calibration
    from flestimate.protocol import LinearisedTotals

__all__ = [
    "CERTAINTY_TOL",
    "PairIndex",
    "Stage",
    "calibration_residual",
    "dense_pairs",
    "domain_df",
    "segment_sum",
    "segment_summer",
    "shared_column",
    "sparse_pairs",
    "stage_covariance",
    "stage_variance",
    "with_variances",
    "summing_matrix",
]

# R's onestrat() treats a stratum whose finite population correction is below this as fully
# enumerated (zero variance) before it looks at lonely PSUs.
CERTAINTY_TOL = 1e-7


@dataclass(frozen=True)
class Stage:
    """One sampling stage of the design, as integer indexes.

    Units of the stage are numbered so that units of the same parent (the stratum at stage 1,
    the unit of the previous stage after that) are contiguous.

    Attributes
    ----------
    unit : ndarray of int64, shape (n_rows,)
        The unit of every row at this stage.
    parent : ndarray of int64, shape (n_units,)
        The parent group of every unit (non-decreasing).
    n_sampled : ndarray of int64, shape (n_parents,)
        Units sampled in each parent group (the design's ``n_h``, counting every unit).
    fpc_factor : ndarray of float64, shape (n_parents,)
        ``1 - n/N`` for each parent group; 1 without an FPC (with-replacement approximation).
    weight : ndarray of float64, shape (n_parents,)
        Product of the sampling fractions ``n/N`` of the earlier stages on the path to the
        parent (1 at stage 1): the factor R's ``multistage()`` applies to later-stage variances.
    """

    unit: np.ndarray
    parent: np.ndarray
    n_sampled: np.ndarray
    fpc_factor: np.ndarray
    weight: np.ndarray

    @property
    def n_units(self) -> int:
        return int(self.parent.shape[0])

    @property
    def n_parents(self) -> int:
        return int(self.n_sampled.shape[0])


def summing_matrix(index: np.ndarray, n_bins: int, weights: np.ndarray | None = None
                   ) -> sp.csc_matrix:
    """The sparse operator S (n_bins x m) with ``S @ v`` = per-bin sums of ``weights * v``.

    Built once and applied to several (m, k) matrices; scipy's compiled CSC kernel does the sums.
    """
    from scipy import sparse  # loaded at the first estimate, not with the package

    m = index.shape[0]
    data = np.ones(m) if weights is None else np.asarray(weights, dtype=np.float64)
    rows = sparse.csr_matrix((data, index, np.arange(m + 1, dtype=np.int64)), shape=(m, n_bins))
    return rows.T


def segment_sum(
    index: np.ndarray, values: np.ndarray, n_bins: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Sum ``weights * values`` (values of shape (m,) or (m, k)) into ``n_bins`` bins by ``index``.

    One sparse matrix product for all k columns at once; the row weights sit in the sparse
    matrix, so no weighted copy of ``values`` is made.
    """
    if values.ndim == 1:
        w = values if weights is None else values * weights
        return np.bincount(index, weights=w, minlength=n_bins)
    return segment_summer(index, n_bins, weights)(values)


def segment_summer(index: np.ndarray, n_bins: int, weights: np.ndarray | None = None
                   ) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`segment_sum` by one ``index`` for several (m, k) arrays: the summing matrix is
    built once (building it costs as much as a product)."""
    matrix = summing_matrix(index, n_bins, weights) if index.shape[0] else None

    def summed(values: np.ndarray) -> np.ndarray:
        if matrix is None:
            return np.zeros((n_bins, values.shape[1]))
        one = shared_column(values)
        if one is not None:  # every column the same: summed once
            return np.repeat(summed(np.ascontiguousarray(one)), values.shape[1], axis=1)
        return np.asarray(matrix @ np.ascontiguousarray(values, dtype=np.float64))

    return summed


def shared_column(values: np.ndarray) -> np.ndarray | None:
    """The column, shape (m, 1), of (m, k) ``values`` whose k columns are one array (a
    broadcast view: the denominators and counts of variables without missing values), or
    None. Whatever is computed column by column is then computed once, to the same bits."""
    if values.ndim == 2 and values.shape[1] > 1 and values.strides[1] == 0:
        return values[:, :1]
    return None


@dataclass(frozen=True)
class PairIndex:
    """The (unit, domain cell) pairs of one stage that the totals are kept for.

    Attributes
    ----------
    unit, cell : ndarray of int64, shape (n_pairs,)
        The unit and the cell of every pair.
    """

    unit: np.ndarray
    cell: np.ndarray

    @property
    def n_pairs(self) -> int:
        return int(self.unit.shape[0])


def dense_pairs(n_units: int, n_cells: int) -> PairIndex:
    """Every (unit, cell) combination; the pair of a row is ``unit * n_cells + cell``."""
    bins = np.arange(n_units * n_cells, dtype=np.int64)
    return PairIndex(bins // n_cells, bins % n_cells)


def sparse_pairs(keys: np.ndarray, n_cells: int) -> tuple[PairIndex, np.ndarray]:
    """The combinations that occur among ``keys = unit * n_cells + cell``, and each key's pair."""
    uniq, inverse = np.unique(keys, return_inverse=True)
    return PairIndex(uniq // n_cells, uniq % n_cells), inverse.astype(np.int64).reshape(-1)


def stage_variance(
    stage: Stage,
    pairs: PairIndex,
    totals: np.ndarray,
    counts: np.ndarray,
    n_cells: int,
    lonely_psu: str,
    adjust_domain_lonely: bool,
    first_stage: bool,
    empty_is_zero: bool = True,
) -> np.ndarray:
    """Variance contribution of one stage for every (cell, variable).

    Parameters
    ----------
    stage : Stage
        The stage's units and parents (strata at stage 1).
    pairs : PairIndex
        The (unit, cell) pairs of this stage.
    totals : ndarray, shape (n_pairs, k)
        Totals of the linearised values per pair.
    counts : ndarray, shape (n_pairs, k)
        Rows with a value and nonzero weight per pair (domain presence, lonely-in-domain rules).
    n_cells : int
        Number of domain cells.
    lonely_psu, adjust_domain_lonely
        The design's lonely-PSU rules.
    first_stage : bool
        Whether this is stage 1 (where ``adjust`` centres on the grand mean of PSU totals).
    empty_is_zero : bool
        Whether a pair without a row (a zero count) has a zero total, as the estimators'
        linearised totals do (not after calibration residuals, which reach every pair).

    Returns
    -------
    ndarray, shape (n_cells, k)

    Notes
    -----
    For each parent group g (a stratum at stage 1) and cell d, with n_g the *design* count of
    units in g, the totals t_gi of the units present in d, and the absent units counting as zero::

        SS_gd = sum_i (t_gi - tbar_gd)^2,   tbar_gd = sum_i t_gi / n_g
        V_d   = sum_g weight_g (1 - f_g) n_g / (n_g - 1) SS_gd

    which is R's ``onestrat()`` with its zero padding of domain-empty PSUs. With
    ``empty_is_zero``, a pair without a row counts among the absent units (its total is 0):
    the variance is then the same to the last bit whichever empty pairs are kept (every unit
    of every cell, or only those with a row of the domain).
    """
    k = totals.shape[1]
    n_parents = stage.n_parents
    n_groups = n_parents * n_cells
    parent = stage.parent[pairs.unit]
    group = parent * n_cells + pairs.cell
    n_g = np.repeat(stage.n_sampled, n_cells).astype(np.float64)
    by_group = segment_summer(group, n_groups)
    s1 = by_group(totals)
    ss, present = _sums_of_squares(by_group, group, totals, counts, s1, n_g, empty_is_zero)

    fpc = np.repeat(stage.fpc_factor * stage.weight, n_cells)
    certain = np.repeat(stage.fpc_factor < CERTAINTY_TOL, n_cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(n_g > 1, fpc * n_g / (n_g - 1), fpc)
    scale = np.where(certain, 0.0, scale)

    contrib, excluded = _lonely_psu_rule(stage, pairs, totals, s1, ss, present, scale,
                                         certain, n_cells, lonely_psu, adjust_domain_lonely,
                                         first_stage)

    var = contrib.reshape(n_parents, n_cells, k).sum(axis=0)
    if lonely_psu == "average" and first_stage:
        has_rows = (present > 0).reshape(n_parents, n_cells, k)
        n_str = has_rows.sum(axis=0)
        n_ok = (has_rows & ~excluded.reshape(n_parents, n_cells, k)).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.where(n_ok > 0, var * n_str / n_ok, np.nan)
    return np.asarray(var)


def _sums_of_squares(by_group: Callable[[np.ndarray], np.ndarray], group: np.ndarray,
                     totals: np.ndarray, counts: np.ndarray, s1: np.ndarray, n_g: np.ndarray,
                     empty_is_zero: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stage_variance`'s ``SS_gd`` (absent units at zero) and the units with a row of
    every (group, variable); with ``empty_is_zero`` the pairs without a row are counted among
    the absent units instead of summed."""
    mean = s1 / n_g[:, None]
    dev = np.take(mean, group, axis=0)
    np.subtract(totals, dev, out=dev)
    one = shared_column(counts)
    has_rows = ((counts if one is None else one) > 0).astype(np.float64)
    present = by_group(has_rows)
    if one is not None:
        present = np.repeat(present, counts.shape[1], axis=1)
    if empty_is_zero:
        if one is None or not has_rows.all():  # times 1 everywhere changes nothing
            dev *= has_rows
        np.square(dev, out=dev)
        return by_group(dev) + (n_g[:, None] - present) * mean * mean, present
    pairs_present = np.bincount(group, minlength=n_g.shape[0]).astype(np.float64)
    return by_group(dev * dev) + (n_g - pairs_present)[:, None] * mean * mean, present


def stage_covariance(stage: Stage, pairs: PairIndex, totals: np.ndarray, n_cells: int,
                     lonely_psu: str, first_stage: bool, across_cells: bool) -> np.ndarray:
    """Covariance contribution of one stage between the estimates: within each cell,
    shape (n_cells, k, k), or between every (cell, variable), shape (n_cells k, n_cells k),
    index ``cell * k + variable``.

    Notes
    -----
    The matrix form of :func:`stage_variance` (R's ``onestrat()`` on a matrix of influence
    values, as ``svyrecvar`` computes the covariance of ``svymean(~a+b)``): with ``t_gi`` the
    vector of linearised totals of unit i of parent g (zero in a cell the unit has no row of),
    ``s_g = sum_i t_gi`` and n_g the design count of units in g::

        C = sum_g weight_g (1 - f_g) n_g / (n_g - 1) (sum_i t_gi t_gi' - s_g s_g' / n_g)

    A lonely unit (n_g = 1) adds ``(s_g - m)(s_g - m)'`` with ``m`` the grand mean of the unit
    totals at stage 1 (``lonely_psu="adjust"``), nothing otherwise; a certainty group
    nothing. Between cells the units' totals of both cells enter, as R's ``svyby(...,
    covmat=TRUE)`` does with the influence functions on the whole design.
    """
    k = totals.shape[1]
    scale, lonely = _group_scale(stage)
    adjust = lonely_psu == "adjust"
    regular = ~lonely & (scale > 0)
    unit_scale = np.where(regular, scale, 0.0)[stage.parent]
    group_scale = np.where(regular, scale / np.maximum(stage.n_sampled, 1), 0.0)
    lonely_scale = np.where(lonely & adjust, scale, 0.0)
    if across_cells:
        return _covariance_across(stage, pairs, totals, n_cells, first_stage,
                                  (unit_scale, group_scale, lonely_scale))
    n_groups = stage.n_parents * n_cells
    group = stage.parent[pairs.unit] * n_cells + pairs.cell
    cell_of_group = np.tile(np.arange(n_cells), stage.n_parents)
    s1 = segment_sum(group, totals, n_groups)
    grand = (segment_sum(pairs.cell, totals, n_cells) / stage.n_units if first_stage
             else np.zeros((n_cells, k)))
    dev = s1 - grand[cell_of_group]
    own = segment_sum(pairs.cell, _outer(totals), n_cells, unit_scale[pairs.unit])
    between = segment_sum(cell_of_group, _outer(s1), n_cells, np.repeat(group_scale, n_cells))
    lonely_part = segment_sum(cell_of_group, _outer(dev), n_cells,
                              np.repeat(lonely_scale, n_cells))
    return np.asarray(own - between + lonely_part).reshape(n_cells, k, k)


def _covariance_across(stage: Stage, pairs: PairIndex, totals: np.ndarray, n_cells: int,
                       first_stage: bool, scales: tuple[np.ndarray, np.ndarray, np.ndarray]
                       ) -> np.ndarray:
    """:func:`stage_covariance` between every (cell, variable): the units' totals as a sparse
    (units x estimates) matrix, so that a later stage with many units costs its pairs, not
    units times estimates."""
    from scipy import sparse

    unit_scale, group_scale, lonely_scale = scales
    k = totals.shape[1]
    n_est = n_cells * k
    cols = (pairs.cell[:, None] * k + np.arange(k)[None, :]).ravel()
    z = sparse.csr_matrix((totals.ravel(), (np.repeat(pairs.unit, k), cols)),
                          shape=(stage.n_units, n_est))
    s1 = sparse.csr_matrix(summing_matrix(stage.parent, stage.n_parents) @ z)
    cov = (z.T @ sparse.diags(unit_scale) @ z - s1.T @ sparse.diags(group_scale) @ s1).toarray()
    lonely = np.flatnonzero(lonely_scale)
    if lonely.size:  # lonely_psu="adjust": around the grand mean of the unit totals
        grand = (np.asarray(z.sum(axis=0)).ravel() / stage.n_units if first_stage
                 else np.zeros(n_est))
        dev = s1[lonely].toarray() - grand
        cov = cov + (dev * lonely_scale[lonely][:, None]).T @ dev
    return np.asarray(cov)


def _outer(values: np.ndarray) -> np.ndarray:
    """Row-wise outer products, (m, k) to (m, k k)."""
    m, k = values.shape
    return np.asarray(values[:, :, None] * values[:, None, :]).reshape(m, k * k)


def _group_scale(stage: Stage) -> tuple[np.ndarray, np.ndarray]:
    """Per parent group: ``weight (1 - f) n / (n - 1)`` (``weight (1 - f)`` for one unit, 0 for
    a certainty group), and whether the group is a lonely (non-certainty) one."""
    n_g = stage.n_sampled.astype(np.float64)
    fpc = stage.fpc_factor * stage.weight
    certain = stage.fpc_factor < CERTAINTY_TOL
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(n_g > 1, fpc * n_g / (n_g - 1), fpc)
    return np.where(certain, 0.0, scale), (n_g == 1) & ~certain


def with_variances(cov: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``cov`` rescaled so that its diagonal is ``var`` (the correlations kept): the lonely-PSU
    rules that rescale variances cell by cell (``average``, lonely in the domain) apply to the
    covariances through the correlations. ``cov`` (n_cells, k, k) or (n, n), ``var``
    (n_cells, k)."""
    if cov.ndim == 3:
        diag = np.einsum("cii->ci", cov)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(diag > 0, np.sqrt(var / diag), 0.0)
        return np.asarray(cov * f[:, :, None] * f[:, None, :])
    diag = np.diag(cov)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(diag > 0, np.sqrt(var.reshape(-1) / diag), 0.0)
    return np.asarray(cov * f[:, None] * f[None, :])


def domain_df(stage: Stage, pairs: PairIndex, counts: np.ndarray, n_cells: int) -> np.ndarray:
    """Design degrees of freedom of every (cell, variable): the first-stage units with a row
    of the cell (a value and nonzero weight) minus the strata holding them (R ``degf`` of the
    domain), shape (n_cells, k)."""
    k = counts.shape[1]
    one = shared_column(counts)
    if one is not None:  # the same for every variable
        return np.repeat(domain_df(stage, pairs, one, n_cells), k, axis=1)
    present = (counts > 0).astype(np.float64)
    n_units = segment_sum(pairs.cell, present, n_cells)
    group = stage.parent[pairs.unit] * n_cells + pairs.cell
    strata_present = segment_sum(group, present, stage.n_parents * n_cells) > 0
    n_strata = strata_present.reshape(stage.n_parents, n_cells, k).sum(axis=0)
    return np.asarray(n_units - n_strata, dtype=np.float64)


def calibration_residual(calibration: Calibration, stage: Stage, weights: np.ndarray,
                         totals: LinearisedTotals) -> np.ndarray:
    """What calibration takes off the linearised first-stage totals, per (unit, cell) pair in
    the dense order and variable: ``T_psu' B`` with ``T_psu = sum_(i in psu) w_i x_i`` and
    ``B = (X' D X)^{-1} sum_i x_i u_i / g_i`` (the regression residuals of R's ``svyrecvar``
    with ``postStrata``; see :class:`flestimate.calibration.Calibration`)."""
    from scipy import sparse

    X, pattern, d = calibration.margins.X, calibration.margins.pattern, calibration.d
    p = X.shape[1]
    s_y, s_x = totals.cross_sums(d, lambda rows: X[pattern[rows]])
    score = totals.linearised_scores(s_y, s_x)
    b = calibration.m_inv @ score.reshape(p, totals.n_cells * totals.k)
    t_psu = sparse.csr_matrix((weights, (stage.unit, pattern)),
                          shape=(stage.n_units, X.shape[0])) @ X
    return np.asarray(t_psu @ b).reshape(stage.n_units * totals.n_cells, totals.k)


def _lonely_psu_rule(stage: Stage, pairs: PairIndex, totals: np.ndarray, s1: np.ndarray,
                     ss: np.ndarray, present: np.ndarray, scale: np.ndarray,
                     certain: np.ndarray, n_cells: int, lonely_psu: str,
                     adjust_domain_lonely: bool, first_stage: bool
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Every (parent group x cell, variable)'s variance contribution under the lonely-PSU
    rule (R ``survey.lonely.psu`` and ``survey.adjust.domain.lonely``), and which groups the
    rule excluded (for ``average``): ``adjust`` centres a lonely PSU (or a stratum lonely in
    the domain) on the grand mean of the PSU totals; the others drop its contribution."""
    k = totals.shape[1]
    n_parents = stage.n_parents
    n_groups = n_parents * n_cells
    n_g = np.repeat(stage.n_sampled, n_cells).astype(np.float64)
    lonely = (n_g == 1) & ~certain
    lonely_2d = np.broadcast_to(lonely[:, None], (n_groups, k))
    domain_lonely = np.zeros((n_groups, k), dtype=bool)
    if adjust_domain_lonely and lonely_psu in ("adjust", "average"):
        domain_lonely = ((n_g > 1) & ~certain)[:, None] & (present == 1)

    if lonely_psu == "adjust":
        cell_of_group = np.tile(np.arange(n_cells), n_parents)
        if first_stage:
            grand = segment_sum(pairs.cell, totals, n_cells) / stage.n_units
        else:
            grand = np.zeros((n_cells, k))
        g = grand[cell_of_group]
        ss = np.where(lonely_2d, (s1 - g) ** 2, ss)
        # A stratum lonely inside the domain: its one PSU and the zero-padded others, all
        # centred on the grand mean instead of the stratum mean.
        ss_dom = (s1 - g) ** 2 + (n_g[:, None] - 1) * g * g
        ss = np.where(domain_lonely, ss_dom, ss)
        contrib = scale[:, None] * ss
        excluded = np.zeros((n_groups, k), dtype=bool)
    else:
        contrib = scale[:, None] * ss
        contrib = np.where(lonely_2d, 0.0, contrib)
        excluded = (lonely_2d | domain_lonely) if lonely_psu == "average" else domain_lonely
        contrib = np.where(excluded, 0.0, contrib)
    return contrib, excluded
