"""Network scale-up estimators of hidden populations from a household survey.

Respondents of an ordinary survey are asked "how many people do you know who ...?" about the
hidden population (people in forced labour, trafficked persons) and about populations of
known size (aggregated relational data). :func:`scale_up` gives the basic (Killworth) and the
generalized (Feehan and Salganik 2016) scale-up estimates, nationally and by domain, with
design-based bootstrap variances and the disclosure rule; :func:`known_population_degrees`
the respondents' network sizes; :func:`internal_validation` the leave-one-out check of the
known populations.
"""

from __future__ import annotations

from flestimate.nsum._check import KnownPopulationCheck
from flestimate.nsum._estimate import (
    CI_METHODS,
    METHODS,
    internal_validation,
    known_population_degrees,
    scale_up,
)
from flestimate.nsum._result import ScaleUpResult

__all__ = [
    "CI_METHODS",
    "METHODS",
    "KnownPopulationCheck",
    "ScaleUpResult",
    "internal_validation",
    "known_population_degrees",
    "scale_up",
]
