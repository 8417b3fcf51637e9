"""The declarative filter grammar of module specs: values on a small frame, exact errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flestimate.errors import SpecError
from flestimate.mapping import evaluate_filter

FRAME = pd.DataFrame({"age": [14, 15, 40, 70, np.nan], "mig": [1, 2, 3, 3, 1],
                      "q": [1.0, np.nan, 8.0, 2.0, 1.0]})


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"column": "age", "op": ">=", "value": 15}, [0, 1, 1, 1, 0]),
        ({"column": "age", "op": "between", "value": [15, 64]}, [0, 1, 1, 0, 0]),
        ({"column": "mig", "op": "in", "value": [2, 3]}, [0, 1, 1, 1, 0]),
        ({"column": "q", "op": "not_in", "value": [8, 9]}, [1, 0, 0, 1, 1]),
        ({"column": "q", "op": "!=", "value": 1}, [0, 0, 1, 1, 0]),
        ({"column": "q", "op": "missing"}, [0, 1, 0, 0, 0]),
        ({"column": "age", "op": "not_missing"}, [1, 1, 1, 1, 0]),
        ({"and": [{"column": "age", "op": ">=", "value": 15},
                  {"column": "mig", "op": "in", "value": [2, 3]}]}, [0, 1, 1, 1, 0]),
        ({"or": [{"column": "age", "op": "<", "value": 15},
                 {"column": "q", "op": "missing"}]}, [1, 1, 0, 0, 0]),
        ({"not": {"column": "age", "op": ">=", "value": 15}}, [1, 0, 0, 0, 1]),
    ],
)
def test_filters(spec: dict, expected: list[int]) -> None:
    assert evaluate_filter(FRAME, spec).astype(int).tolist() == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"column": "agee", "op": ">=", "value": 15},
         r"^spec.yaml: universe.column: column 'agee' not found in the data$"),
        ({"column": "age", "op": "~", "value": 15},
         r"^spec.yaml: universe.op: unknown operator '~'"),
        ({"column": "age", "op": ">="}, r"^spec.yaml: universe.value: operator '>=' needs a value$"),
        ({"column": "age", "op": "in", "value": 3}, r"universe.value: operator 'in' needs a list"),
        ({"and": [{"column": "age", "op": ">=", "value": 1}, {"col": "x"}]},
         r"^spec.yaml: universe.and\[1\]: a comparison needs `column` and `op`"),
        ({"and": []}, r"universe.and: must be a non-empty list"),
        ("age >= 15", r"universe: a filter must be a mapping; got str"),
        ({"column": "q", "op": "missing", "value": 1}, r"operator 'missing' takes no value"),
    ],
)
def test_errors_name_the_key(spec: object, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        evaluate_filter(FRAME, spec, where="spec.yaml: universe")
