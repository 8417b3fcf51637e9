"""Factories of the contrast results for the contract test
(:mod:`tests.contract.test_results`): small real instances, made the way a user makes them."""

from __future__ import annotations

from collections.abc import Callable

from flestimate import SurveyDesign
from flestimate.results import Result
from tests.conftest import small_design_frame


def _contrast() -> Result:
    """The difference of two domain shares and their ratio (delta method), between domains."""
    des = SurveyDesign(small_design_frame(), weights="w", strata="stratum", psu="psu")
    est = des.proportion("y", by="dom", covmat=True)
    a, b = est.to_frame()["dom"].iloc[:2]
    return est.contrast({"difference": {a: 1, b: -1}, "ratio": lambda e: e[a] / e[b]})


#: class name -> a factory of one real instance.
FACTORIES: dict[str, Callable[[], Result]] = {"Contrast": _contrast}
