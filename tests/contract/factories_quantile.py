"""Factory of the quantile result for the contract test (:mod:`tests.contract.test_results`):
a small real instance, made the way a user makes it."""

from __future__ import annotations

from collections.abc import Callable

from flestimate import SurveyDesign
from flestimate.results import Result
from tests.conftest import small_design_frame


def _quantiles() -> Result:
    """Medians and quartiles of ``y`` by domain on the hand-worked stratified design."""
    des = SurveyDesign(small_design_frame(), weights="w", strata="stratum", psu="psu")
    return des.quantile("y", [0.25, 0.5], by="dom")


#: class name -> a factory of one real instance.
FACTORIES: dict[str, Callable[[], Result]] = {"Quantiles": _quantiles}
