"""Aggregation of national estimates into regional and world figures.

:func:`aggregate` combines national estimates (a rate or a total with its SE or CI, and a
population) of independent surveys into group (regional) and world totals, rates per 1,000 and
their SEs, imputing the units without a survey from a named model (the regional rate or a
user-supplied one), marked in the output. :func:`shares` gives shares of a total with
delta-method SEs and :func:`ratio` ratios of totals. :func:`from_reports` builds the ILO
breakdown (forced labour by form; the trafficked by form) from several national
:class:`~flestimate.PrevalenceReport` s, to be set beside the published one
(:mod:`flestimate.global_estimates`).
"""

from __future__ import annotations

from flestimate.aggregate._result import LEVELS, Aggregate
from flestimate.aggregate._shares import SHARE_CI_METHODS, ratio, shares
from flestimate.aggregate._surveys import (
    BREAKDOWN_COLUMNS,
    BREAKDOWN_TABLES,
    FORMS,
    Breakdown,
    from_reports,
)
from flestimate.aggregate._totals import AGGREGATE_CI_METHODS, aggregate

__all__ = [
    "AGGREGATE_CI_METHODS",
    "BREAKDOWN_COLUMNS",
    "BREAKDOWN_TABLES",
    "FORMS",
    "LEVELS",
    "SHARE_CI_METHODS",
    "Aggregate",
    "Breakdown",
    "aggregate",
    "from_reports",
    "ratio",
    "shares",
]
