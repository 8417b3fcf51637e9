"""Factories of the rds package's result objects for the contract test
(:mod:`tests.contract.test_results`): small real instances, made the way a user makes them."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from flestimate import rds
from flestimate.results import Result


def _rds() -> rds.RDSResult:
    """An RDS-II estimate of a 0/1 outcome from two seeds' trees, Salganik bootstrap."""
    table = pd.DataFrame({"id": [1, 2, 3, 4, 5, 6, 7, 8],
                          "recruiter": [None, 1, 1, 2, None, 5, 6, 6],
                          "degree": [10, 5, 4, 8, 3, 6, 2, 9],
                          "y": [1, 0, 1, 1, 0, 0, 1, 0]})
    return rds.estimate(table, "y", replicates=50, seed=1)


#: class name -> a factory of one real instance.
FACTORIES: dict[str, Callable[[], Result]] = {"RDSResult": _rds}
