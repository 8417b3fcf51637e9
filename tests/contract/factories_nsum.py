"""Factories of the nsum package's result objects for the contract test
(:mod:`tests.contract.test_results`): small real instances, made the way a user makes them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from flestimate import nsum
from flestimate.results import Result


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(20)
    n = 60
    return pd.DataFrame({"nurses": rng.poisson(2, n), "teachers": rng.poisson(3, n),
                         "forced_labour": rng.poisson(0.4, n), "w": rng.uniform(1, 3, n),
                         "region": np.where(np.arange(n) % 2, "north", "south")})


def _scale_up() -> nsum.ScaleUpResult:
    """A basic scale-up estimate, national and by region, with 20 bootstrap replicates."""
    return nsum.scale_up(_frame(), "forced_labour", {"nurses": 20_000, "teachers": 30_000},
                         1_000_000, weights="w", by="region", replicates=20, seed=1)


def _check() -> nsum.KnownPopulationCheck:
    """The leave-one-out check of two known populations."""
    return nsum.internal_validation(_frame(), {"nurses": 20_000, "teachers": 30_000},
                                    1_000_000, weights="w", replicates=20, seed=1)


#: class name -> a factory of one real instance.
FACTORIES: dict[str, Callable[[], Result]] = {"ScaleUpResult": _scale_up,
                                              "KnownPopulationCheck": _check}
