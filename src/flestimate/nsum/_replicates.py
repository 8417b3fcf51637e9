"""The replicates of a scale-up estimate: the survey's (a rescaled bootstrap made from a
Taylor design, or a replicate design's own replicate weights) and, for the generalized
estimator, an independent bootstrap of the hidden population's sample.

Every replicate is computed at once: the weighted totals of every quantity per (domain,
group of rows sharing their replicate multipliers) are one sparse product, and the
replicates' totals one dense product with the (groups x replicates) multipliers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flestimate._checks import check_count, random_generator
from flestimate.design import SurveyDesign
from flestimate.nsum._inputs import HiddenSample
from flestimate.replicate import ReplicateDesign

__all__ = ["BOOTSTRAP_METHODS", "SurveyReplicates", "cell_totals", "check_replicates",
           "hidden_replicates", "rng_of", "survey_replicates", "survey_variance"]

#: Replicate methods whose replicate estimates are draws of a bootstrap distribution (the
#: percentile interval is defined for them only).
BOOTSTRAP_METHODS = ("bootstrap", "subbootstrap")


@dataclass(frozen=True)
class SurveyReplicates:
    """The survey's replicate structure: full-sample weights, the group of every row, the
    (groups x replicates) multipliers and R ``svrVar``'s scale, rscales and centring."""

    weights: np.ndarray
    group: np.ndarray
    multipliers: np.ndarray
    scale: float
    rscales: np.ndarray
    mse: bool
    method: str
    source: str
    summary: dict[str, Any]

    @property
    def n_replicates(self) -> int:
        return int(self.multipliers.shape[1])


def check_replicates(replicates: Any, func: str) -> int:
    return check_count(replicates, "replicates", func, 2)


def rng_of(seed: Any, func: str) -> tuple[np.random.Generator, object]:
    """One generator for every random draw of the call (the survey's bootstrap first, then the
    hidden sample's), so that one seed replays both; and the seed the provenance records."""
    return random_generator(seed, func)


def survey_replicates(design: SurveyDesign | ReplicateDesign, replicates: int,
                      rng: np.random.Generator) -> SurveyReplicates:
    """A replicate design's own replicates, or ``replicates`` Rao-Wu-Yue rescaled bootstrap
    replicates of a Taylor design (R ``as.svrepdesign(type="subbootstrap")``: n_h - 1 PSUs
    drawn with replacement in every stratum, weights rescaled by n_h / (n_h - 1))."""
    summary = design.summary_dict()
    if isinstance(design, ReplicateDesign):
        rep, source = design, "the replicate design's own replicate weights"
    else:
        rep = design.to_replicate("subbootstrap", replicates, rng)
        source = (f"rescaled bootstrap (Rao-Wu-Yue, R subbootweights) of the design's PSUs "
                  f"within strata, {replicates} replicates")
    return SurveyReplicates(np.asarray(rep.weights, dtype=float), rep.groups,
                            rep.multipliers, float(rep.scale),
                            np.asarray(rep.rscales, dtype=float), bool(rep.mse), rep.method,
                            source, summary)


def cell_totals(values: np.ndarray, cell: np.ndarray, n_cells: int, reps: SurveyReplicates
                ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted totals of every column of ``values`` (rows x k, no NaN) in every cell (rows
    of cell -1 are in none): the full-sample totals (cells x k) and the replicates' (cells x
    k x replicates).

    Notes
    -----
    ``T[c, g] = sum_{i in c, g} w_i x_i`` (one sparse product), then ``T_r[c] = sum_g
    T[c, g] A[g, r]`` (one dense product with the multipliers ``A``).
    """
    from scipy import sparse

    n, k = values.shape
    groups = reps.multipliers.shape[0]
    rows = np.flatnonzero(cell >= 0)
    key = cell[rows] * groups + reps.group[rows]
    pick = sparse.csr_matrix((reps.weights[rows], (key, rows)), shape=(n_cells * groups, n))
    by_group = np.asarray(pick @ values).reshape(n_cells, groups, k)
    full = by_group.sum(axis=1)
    flat = by_group.transpose(0, 2, 1).reshape(n_cells * k, groups)
    replicated = (flat @ reps.multipliers).reshape(n_cells, k, reps.n_replicates)
    return full, replicated


def survey_variance(theta: np.ndarray, full: np.ndarray, reps: SurveyReplicates
                    ) -> np.ndarray:
    """``scale * sum_r rscales_r (theta_r - centre)^2`` over the last axis (R ``svrVar``): the
    centre is the full-sample estimate (``mse``) or the mean of the replicates."""
    with np.errstate(invalid="ignore"):
        centre = full[..., None] if reps.mse else theta.mean(axis=-1, keepdims=True)
        out: np.ndarray = reps.scale * ((theta - centre) ** 2 @ reps.rscales)
    return out


def hidden_replicates(sample: HiddenSample, replicates: int, rng: np.random.Generator
                      ) -> np.ndarray:
    """The weighted mean in-reports ``sum w_i v_i / sum w_i`` of ``replicates``
    with-replacement bootstrap samples of the hidden population's respondents (each draws n
    respondents; multinomial counts, all replicates at once)."""
    n = sample.reports.size
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(float)
    out: np.ndarray = (counts @ (sample.weights * sample.reports)) / (counts @ sample.weights)
    return out
