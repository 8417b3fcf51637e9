"""flestimate: design-based estimation of forced labour and human trafficking from surveys.

The pipeline: read (:func:`read_microdata`) -> map (:func:`load_spec`, a module spec) ->
classify (:func:`classify`) -> design (:class:`SurveyDesign`) -> estimate (``mean``,
``proportion``, ``total``, ``ratio``) -> report (immutable :class:`Estimates`).
:func:`estimate_prevalence` runs the whole chain on a survey file and returns a
:class:`PrevalenceReport`.
``flestimate.synthetic`` makes survey data with a known truth; ``flestimate.batch`` runs many
surveys; ``flestimate.aggregate``, ``flestimate.mse`` and ``flestimate.global_estimates`` work
above single surveys (regional and global figures, multiple systems estimation, the published
ILO breakdowns).
"""

from __future__ import annotations

from flestimate._version import __version__

# The function shadows its subpackage's name here, on purpose: `flestimate.classify(frame)`.
from flestimate.classification import Classification, classify
from flestimate.design import SurveyDesign
from flestimate.errors import (
    DataError,
    DesignError,
    FlestimateError,
    FlestimateWarning,
    LonelyPSUError,
    SpecError,
)
from flestimate.io import Metadata, Microdata, read_microdata
from flestimate.mapping import MappedSurvey, ModuleSpec, load_spec
from flestimate.replicate import ReplicateDesign
from flestimate.report import PrevalenceReport, estimate_prevalence
from flestimate.results import Estimates

# Subpackages above single surveys load on first use (`flestimate.mse.fit(...)`), so that
# `import flestimate` stays fast.
_LAZY = ("aggregate", "batch", "global_estimates", "mse", "nsum", "rds", "synthetic")


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"flestimate.{name}")
    raise AttributeError(f"module 'flestimate' has no attribute {name!r}")

__all__ = [
    "Classification",
    "DataError",
    "DesignError",
    "Estimates",
    "FlestimateError",
    "FlestimateWarning",
    "LonelyPSUError",
    "MappedSurvey",
    "Metadata",
    "Microdata",
    "ModuleSpec",
    "PrevalenceReport",
    "ReplicateDesign",
    "SpecError",
    "SurveyDesign",
    "__version__",
    "classify",
    "estimate_prevalence",
    "load_spec",
    "read_microdata",
]
