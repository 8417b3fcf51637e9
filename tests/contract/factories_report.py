"""Contract factories of :mod:`flestimate.report`: a :class:`PrevalenceReport` of the shipped
Moldova synthetic file (minimum estimate, by sex) and the :class:`Sensitivity` of a small
imputed report of the same file (two imputations, two deltas)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from pathlib import Path

from flestimate.errors import FlestimateWarning
from flestimate.report import PrevalenceReport, estimate_prevalence
from flestimate.report._sensitivity import Sensitivity
from flestimate.results import Result

MOLDOVA = Path(__file__).parents[2] / "data" / "synthetic" / "moldova_synthetic.sav"
SPEC = "moldova-2008-synthetic"


@functools.cache
def prevalence_report() -> PrevalenceReport:
    """The minimum estimate by sex (about 1 s), shared: the report is immutable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)
        return estimate_prevalence(MOLDOVA, SPEC, by="sex", missing="minimum")


@functools.cache
def sensitivity() -> Sensitivity:
    """The national MNAR sensitivity of a two-imputation report at delta 0 and 1 (about 2 s)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)
        report = estimate_prevalence(MOLDOVA, SPEC, missing="impute", imputations=2, seed=1)
        return report.sensitivity(delta=(0.0, 1.0))


FACTORIES: dict[str, Callable[[], Result]] = {
    "PrevalenceReport": prevalence_report,
    "Sensitivity": sensitivity,
}
