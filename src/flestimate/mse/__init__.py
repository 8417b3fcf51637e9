"""Capture-recapture and multiple systems estimation (MSE) of hidden populations.

:func:`fit` estimates a population from ``k >= 2`` overlapping lists with a Poisson log-linear
model over the ``2^k - 1`` observable capture histories: the model's two-list interactions are
chosen by a stepwise AIC rule (default), SparseMSE's Poisson p-value rule, AIC or BIC over all
models, or given; the uncaught are ``exp(intercept)``; the interval of the population is the
profile likelihood of N (default), the profile likelihood of the intercept, a parametric
bootstrap or a log-scale Wald interval.
:func:`lincoln_petersen` and :func:`chapman` are the classical two-list estimators.
:func:`uk_2013` returns the UK 2013 five-list data behind the Home Office estimate (Silverman
2014).
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from flestimate.mse._fit import CI_METHODS, SELECTIONS, fit
from flestimate.mse._result import MSEResult
from flestimate.mse._table import CaptureTable, all_histories, capture_table
from flestimate.mse._twolist import TwoListEstimate, chapman, lincoln_petersen

__all__ = [
    "CI_METHODS",
    "SELECTIONS",
    "CaptureTable",
    "MSEResult",
    "TwoListEstimate",
    "all_histories",
    "capture_table",
    "chapman",
    "fit",
    "lincoln_petersen",
    "uk_2013",
]


def uk_2013() -> pd.DataFrame:
    """The UK 2013 capture histories over five lists (2,744 potential victims of modern slavery).

    Lists: LA local authorities, NG non-governmental organisations, PFNCA police forces and the
    National Crime Agency, GO government organisations, GP the general public; one row per
    observed history, zero cells omitted (``data/published/uk_mse_2013_5lists.csv``, from the
    author's public R package SparseMSE, ``UKdat_5``).

    ``fit(uk_2013())`` reproduces the published estimate: 11,313 with the interactions
    LA:NG, NG:GP, PFNCA:GP, LA:PFNCA, GO:GP, NG:GO.

    References
    ----------
    Silverman, B. W. (2014). *Modern slavery: an application of multiple systems estimation*.
    Home Office.
    """
    path = resources.files("flestimate").joinpath("published").joinpath("uk_mse_2013_5lists.csv")
    with path.open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle)
