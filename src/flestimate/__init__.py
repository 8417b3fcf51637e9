"""flestimate: design-based estimation of forced labour and human trafficking from surveys.

The pipeline: read -> map -> classify -> design -> estimate -> report. This release provides
the design and estimation core: :class:`SurveyDesign` with ``mean``, ``proportion``, ``total``
and ``ratio`` returning immutable :class:`Estimates`.
"""

from __future__ import annotations

__version__ = "0.1.0"

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
from flestimate.results import Estimates

__all__ = [
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
    "SpecError",
    "SurveyDesign",
    "__version__",
    "load_spec",
    "read_microdata",
]
