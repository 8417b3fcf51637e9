"""Factories of the chisq results for the contract test
(:mod:`tests.contract.test_results`): small real instances, made the way a user makes them."""

from __future__ import annotations

from collections.abc import Callable

from flestimate import SurveyDesign
from flestimate.results import Result
from tests.conftest import small_design_frame


def _chisq() -> Result:
    """The Rao-Scott test of ``y`` by ``dom`` on the small stratified cluster design."""
    des = SurveyDesign(small_design_frame(), weights="w", strata="stratum", psu="psu")
    return des.chisq("y", "dom")


#: class name -> a factory of one real instance.
FACTORIES: dict[str, Callable[[], Result]] = {"ChisqTest": _chisq}
