"""Report: the main job from file to published table.

:func:`estimate_prevalence` chains read -> map -> classify -> design -> estimate and returns a
:class:`PrevalenceReport` (tidy estimates with reliability flags, the data-quality report, the
classification counts), which displays as a table, writes Excel, JSON and a self-contained HTML
report. Reliability rule sets (NCHS 2017 by default) are data files: :func:`load_reliability`.
"""

from __future__ import annotations

from flestimate.report._common import TABLE_COLUMNS, TABLES
from flestimate.report._pipeline import (
    INDICATORS,
    MISSING_METHODS,
    PREVALENCE_CI_METHODS,
    VARIANCE_METHODS,
    estimate_prevalence,
)
from flestimate.report._pool import pool_reports
from flestimate.report._prevalence import PrevalenceReport
from flestimate.report._reliability import (
    RELIABILITY_RULES,
    ReliabilityRules,
    assess_reliability,
    load_reliability,
)

__all__ = [
    "INDICATORS",
    "MISSING_METHODS",
    "PREVALENCE_CI_METHODS",
    "RELIABILITY_RULES",
    "TABLES",
    "TABLE_COLUMNS",
    "VARIANCE_METHODS",
    "PrevalenceReport",
    "ReliabilityRules",
    "assess_reliability",
    "estimate_prevalence",
    "load_reliability",
    "pool_reports",
]
