"""Calibration: weights adjusted to known population totals, and the variance that follows.

:mod:`._solve` is the numerical core (arrays only, step for step as R survey's ``calibrate``,
``postStratify`` and ``rake``; its Newton iteration and distance functions in :mod:`._newton`,
its argument checks in :mod:`._checks`); :mod:`._design` builds the auxiliary matrix from a design's data
and population totals given as tidy tables, and keeps what the variance after calibration needs.
Use it through :meth:`SurveyDesign.calibrate`, :meth:`SurveyDesign.poststratify`,
:meth:`SurveyDesign.rake` and the same methods of :class:`ReplicateDesign`.

Why not samplics or weightipy: samplics' ``SampleWeight.calibrate`` is linear (GREG) only, with
no raking or bounded logit distance and no variance after calibration, and its ``rake`` is plain
IPF; weightipy rakes only. Neither reproduces R's ``calibrate`` (its Newton path, convergence
rule and bounds), which the reference fixtures require to 1e-8, nor recalibrates replicates.
"""

from flestimate.calibration._design import Calibration, Margins, build_margins
from flestimate.calibration._solve import (
    CALIBRATION_METHODS,
    CalibrationReport,
    calibration_residuals,
    calibration_weights,
    poststratify_weights,
    rake_weights,
)

__all__ = [
    "CALIBRATION_METHODS",
    "Calibration",
    "CalibrationReport",
    "Margins",
    "build_margins",
    "calibration_residuals",
    "calibration_weights",
    "poststratify_weights",
    "rake_weights",
]
