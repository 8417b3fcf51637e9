"""Factories of the aggregate package's result objects for the contract test
(:mod:`tests.contract.test_results`): small real instances, made the way a user makes them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from flestimate.aggregate import FORMS, Aggregate, Breakdown, aggregate, from_reports
from flestimate.results import Result


def _aggregate() -> Aggregate:
    """Three surveyed countries in two regions and one imputed at its regional rate."""
    estimates = pd.DataFrame({
        "country": ["A", "B", "C", "D"],
        "region": ["North", "North", "South", "South"],
        "estimate": [0.004, 0.002, 0.003, np.nan],
        "se": [0.001, 0.0005, 0.001, np.nan],
        "population": [1e6, 2e6, 3e6, 1e6],
    })
    return aggregate(estimates, impute="regional_rate")


def _national(scale: float) -> pd.DataFrame:
    """One country's national estimates in a report's tidy layout: the prevalence table's
    numbers and the two tables of shares by form, with their sample cases."""
    numbers = {"forced_labour": 100.0, "trafficked": 40.0, "forced_labour_not_trafficked": 60.0,
               "undetermined": 0.0, "form_state_imposed": 10.0,
               "form_commercial_sexual_exploitation": 20.0, "form_economic_exploitation": 50.0,
               "form_mixed_undetermined": 20.0}
    rows = [{"table": "prevalence", "measure": "number", "indicator": ind,
             "estimate": scale * v, "se": scale * 0.2 * v, "n_cases": v / 2,
             "n": 1000.0, "df": 30.0} for ind, v in numbers.items()]
    shares = {"forced_labour_by_form": (0.1, 0.2, 0.5, 0.2),
              "trafficked_by_form": (0.25, 0.25, 0.3, 0.2)}
    rows += [{"table": table, "measure": "share", "indicator": form, "estimate": s,
              "se": 0.05, "n_cases": 20.0 * s, "n": 1000.0, "df": 30.0}
             for table, values in shares.items() for form, s in zip(FORMS, values, strict=True)]
    return pd.DataFrame(rows).assign(by="national")


def _breakdown() -> Breakdown:
    """The breakdown of two countries' national estimates (with the default reliability and
    disclosure rules)."""
    return from_reports({"east": _national(1.0), "west": _national(2.0)})


#: class name -> a factory of one real instance.
FACTORIES: dict[str, Callable[[], Result]] = {"Aggregate": _aggregate, "Breakdown": _breakdown}
