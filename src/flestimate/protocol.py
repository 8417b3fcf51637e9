"""What an estimator asks of a sample design: the :class:`Design` protocol.

The estimators (:mod:`flestimate.estimate`) are written once, against this protocol; every
design class computes its own variance, as R dispatches ``svyrecvar`` (Taylor linearisation,
:class:`~flestimate.SurveyDesign`) and ``svrVar`` (replicate weights,
:class:`~flestimate.ReplicateDesign`) by design class. The engine sums the rows once into
totals per (sampling unit, domain cell) pair (:class:`LinearisedTotals`); the design turns them
into variances and degrees of freedom (:class:`DesignVariance`). A new kind of design (a
two-phase design, say) implements the protocol and every estimator works with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from flestimate.variance import PairIndex, Stage

__all__ = ["Covariance", "Design", "DesignVariance", "Kind", "LinearisedTotals", "StageTotals"]

Kind = Literal["mean", "proportion", "total", "ratio"]
Covariance = Literal["cells", "all"] | None
#: ``cross_sums(a, rows_matrix)``: for per-row weights ``a`` and a function giving the (m, p)
#: matrix of any rows, the sums ``sum_i a_i M_i y_i`` and ``sum_i a_i M_i x_i`` per cell and
#: variable, each of shape (p, n_cells, k); ``x`` is the denominator (1 with a value, or the
#: ratio's denominator). Calibrated designs need them (see
#: :func:`flestimate.variance.calibration_residual`).
CrossSums = Callable[[np.ndarray, Callable[[slice | np.ndarray], np.ndarray]],
                     tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class StageTotals:
    """The weighted totals of one variance stage, per (unit, cell) pair and variable."""

    pairs: PairIndex
    ty: np.ndarray  # sum w y, (n_pairs, k)
    tx: np.ndarray  # sum w x, x the denominator (1 with a value, or the ratio's denominator)
    tc: np.ndarray  # persons with a value and nonzero weight


@dataclass(frozen=True)
class LinearisedTotals:
    """Everything a design needs to compute the variance of one estimator call: the
    estimates of every (cell, variable), their denominators, and the totals per (unit, cell)
    pair of every variance stage from which the linearised totals follow."""

    kind: Kind
    estimate: np.ndarray  # (n_cells, k)
    denominator: np.ndarray  # sum w x per (cell, variable); 1 for totals
    stages: tuple[StageTotals, ...]
    n_cells: int
    rows: np.ndarray | None  # the rows inside some domain; None: every row
    cross_sums: CrossSums
    #: Which covariances the design also computes: None (variances only), "cells" (between
    #: the variables of each cell, (n_cells, k, k)) or "all" (between every (cell, variable),
    #: (n_cells k, n_cells k), index ``cell * k + variable``; R ``svyby(covmat=TRUE)``).
    covariance: Covariance = None

    @property
    def k(self) -> int:
        return int(self.estimate.shape[1])

    def linearised(self, stage: int) -> np.ndarray:
        """Totals of the linearised values ``z`` per pair of a stage: ``w y`` for totals,
        ``w (y - R x) / X`` for means, proportions and ratios (Lumley 2010, sec. 2.3)."""
        st = self.stages[stage]
        if self.kind == "total":
            return st.ty
        cell = st.pairs.cell
        with np.errstate(divide="ignore", invalid="ignore"):
            # (ty - R tx) / X in place: a few (pairs x variables) passes fewer
            z = np.take(self.estimate, cell, axis=0)
            z *= st.tx
            np.subtract(st.ty, z, out=z)
            z /= np.take(self.denominator, cell, axis=0)
        np.copyto(z, 0.0, where=~np.isfinite(z))
        return z

    def linearised_scores(self, s_y: np.ndarray, s_x: np.ndarray) -> np.ndarray:
        """The same linearisation applied to sums from :attr:`cross_sums`, (p, n_cells, k)."""
        if self.kind == "total":
            score = s_y
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                score = (s_y - self.estimate[None] * s_x) / self.denominator[None]
        return np.where(np.isfinite(score), score, 0.0)


@dataclass(frozen=True)
class DesignVariance:
    """A design's answer: the variance of every (cell, variable) estimate and its degrees of
    freedom, with the words the provenance records."""

    variance: np.ndarray  # (n_cells, k)
    df: np.ndarray  # (n_cells, k)
    method: str  # e.g. "Taylor linearisation, ..." or "replicate weights (jk1, ...)"
    df_rule: str
    #: Replicate designs: the variance of the replicates' logits (R's ``svyciprop`` logit
    #: interval on a replicate design); None where the delta method is used.
    logit_variance: np.ndarray | None = None
    #: The covariances :attr:`LinearisedTotals.covariance` asked for (None when none was).
    covariance: np.ndarray | None = None


class Design(Protocol):
    """What the estimators read from a design. :class:`~flestimate.SurveyDesign` and
    :class:`~flestimate.ReplicateDesign` implement it."""

    @property
    def data(self) -> pd.DataFrame:
        """The microdata (a shallow copy)."""

    @property
    def weights(self) -> np.ndarray:
        """The (full-sample) weight of every row."""

    @property
    def frequencies(self) -> np.ndarray | None:
        """Persons per row (collapsed microdata), or None: one person per row."""

    @property
    def all_weights_positive(self) -> bool:
        """Whether every row has a nonzero weight."""

    @property
    def stages(self) -> Sequence[Stage]:
        """The units whose totals the variance needs, stage by stage (a replicate design has
        one pseudo-stage: the groups of rows sharing their replicate multipliers)."""

    @property
    def variance_stages(self) -> int:
        """How many of :attr:`stages` enter the variance."""

    @property
    def needs_every_pair(self) -> bool:
        """Whether the variance needs the totals of every (unit, cell) pair, also of units with
        no row in the cell (calibrated weights: the residuals reach every unit)."""

    def summary_dict(self) -> dict[str, Any]:
        """The design summary every result's provenance records."""

    def variance(self, totals: LinearisedTotals) -> DesignVariance:
        """The variance and degrees of freedom of every estimate of one estimator call."""
