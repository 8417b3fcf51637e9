"""Factories of the model results for the contract test (:mod:`tests.contract.test_results`):
small real instances, made the way a user makes them."""

from __future__ import annotations

from collections.abc import Callable

from flestimate import SurveyDesign
from flestimate.results import Result
from tests.conftest import small_design_frame


def _design() -> SurveyDesign:
    return SurveyDesign(small_design_frame(), weights="w", strata="stratum", psu="psu")


def _glm() -> Result:
    """A logistic model of ``y`` by domain on the hand-worked stratified design."""
    return _design().glm("y ~ dom", "binomial")


def _wald() -> Result:
    return _design().glm("y ~ dom", "binomial").wald_test("dom")


def _ttest() -> Result:
    return _design().ttest("y", "dom")


#: class name -> a factory of one real instance.
FACTORIES: dict[str, Callable[[], Result]] = {"GLMResult": _glm, "WaldTest": _wald,
                                               "TTestResult": _ttest}
