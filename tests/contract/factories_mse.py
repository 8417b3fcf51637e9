"""Factories of the mse package's result objects for the contract test
(:mod:`tests.contract.test_results`): small real instances, made the way a user makes them."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from flestimate import mse
from flestimate.results import Result


def _mse() -> mse.MSEResult:
    """A multiple systems estimate from three lists (the default stepwise selection and
    profile interval)."""
    counts = {"A": 30, "B": 40, "C": 50, "AB": 6, "BC": 7, "AC": 4, "ABC": 2}
    table = pd.DataFrame([{**{name: int(name in key) for name in "ABC"}, "count": n}
                          for key, n in counts.items()])
    return mse.fit(table)


#: class name -> a factory of one real instance.
FACTORIES: dict[str, Callable[[], Result]] = {"MSEResult": _mse}
