"""Contract factories of the classification package (tests/contract/test_results.py)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from flestimate import classify
from flestimate.results import Result


def _classification() -> Result:
    # three hand-made respondents: forced labour (trafficked), involuntary only, nothing
    frame = pd.DataFrame({
        "inv_dur_forced_overtime": [1.0, 1.0, 0.0],
        "pen_wages_withheld__duress": [1.0, 0.0, 0.0],
        "inv_rec_deceived_terms": [1.0, 0.0, 0.0],
        "moved": [1.0, 1.0, 1.0], "worked": [1.0, 1.0, 1.0], "age": [30, 40, 50],
        "perpetrator": "private", "sector": "construction"})
    return classify(frame)


FACTORIES: dict[str, Callable[[], Result]] = {"Classification": _classification}
