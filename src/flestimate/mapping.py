"""Mapping questionnaires onto canonical indicators (the data issue builds the module specs here).

This first part is the declarative filter grammar that module specs use for universes and skip
patterns. A filter is data, never code (no ``eval``)::

    {"column": "age", "op": ">=", "value": 15}
    {"column": "mig_status", "op": "in", "value": [2, 3]}
    {"column": "q5_03", "op": "missing"}
    {"and": [FILTER, ...]}   {"or": [FILTER, ...]}   {"not": FILTER}

Comparisons with a missing value are false (``not`` of them is true), as in SQL's ``WHERE`` with
``IS NOT NULL`` spelled out: write ``{"op": "missing"}`` to select missing values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import SpecError

__all__ = ["FILTER_OPERATORS", "evaluate_filter"]

_COMPARE: dict[str, Callable[[pd.Series, Any], pd.Series]] = {
    "==": lambda s, v: s == v,
    "!=": lambda s, v: (s != v) & s.notna(),
    "<": lambda s, v: s < v,
    "<=": lambda s, v: s <= v,
    ">": lambda s, v: s > v,
    ">=": lambda s, v: s >= v,
    "in": lambda s, v: s.isin(list(v)),
    "not_in": lambda s, v: ~s.isin(list(v)) & s.notna(),
    "between": lambda s, v: (s >= v[0]) & (s <= v[1]),
}
_UNARY = ("missing", "not_missing")
FILTER_OPERATORS: tuple[str, ...] = (*_COMPARE, *_UNARY)


def evaluate_filter(frame: pd.DataFrame, spec: Any, where: str = "filter") -> np.ndarray:
    """Evaluate a declarative filter on ``frame``; a boolean array, one value per row.

    Parameters
    ----------
    frame : DataFrame
    spec : mapping
        The filter (see the module docstring).
    where : str
        The key path of the filter in its spec file, used in error messages
        (e.g. ``"moldova.yaml: universe"``).

    Raises
    ------
    SpecError
        Naming the key path: an unknown operator or key, a missing column, a wrong value shape.
    """
    return np.asarray(_evaluate(frame, spec, where), dtype=bool)


def _evaluate(frame: pd.DataFrame, spec: Any, where: str) -> np.ndarray:
    if not isinstance(spec, Mapping):
        raise SpecError(f"{where}: a filter must be a mapping; got {type(spec).__name__}")
    keys = set(spec)
    for combinator in ("and", "or"):
        if combinator in keys:
            if keys != {combinator}:
                raise SpecError(f"{where}: `{combinator}` takes no other keys; got {sorted(keys)}")
            parts = spec[combinator]
            if not isinstance(parts, list) or not parts:
                raise SpecError(f"{where}.{combinator}: must be a non-empty list of filters")
            masks = [_evaluate(frame, p, f"{where}.{combinator}[{i}]") for i, p in
                     enumerate(parts)]
            reduce = np.logical_and if combinator == "and" else np.logical_or
            return np.asarray(reduce.reduce(masks, axis=0))
    if "not" in keys:
        if keys != {"not"}:
            raise SpecError(f"{where}: `not` takes no other keys; got {sorted(keys)}")
        return ~_evaluate(frame, spec["not"], f"{where}.not")
    allowed = {"column", "op", "value"}
    if not keys <= allowed or "column" not in keys or "op" not in keys:
        raise SpecError(
            f"{where}: a comparison needs `column` and `op` (and `value`); got keys {sorted(keys)}"
        )
    column, op = spec["column"], spec["op"]
    if column not in frame.columns:
        raise SpecError(f"{where}.column: column {column!r} not found in the data")
    series = frame[column]
    if op in _UNARY:
        if "value" in keys:
            raise SpecError(f"{where}.value: operator {op!r} takes no value")
        return np.asarray(series.isna() if op == "missing" else series.notna())
    if op not in _COMPARE:
        raise SpecError(f"{where}.op: unknown operator {op!r}; expected one of "
                        f"{', '.join(FILTER_OPERATORS)}")
    if "value" not in keys:
        raise SpecError(f"{where}.value: operator {op!r} needs a value")
    value = spec["value"]
    if op in ("in", "not_in") and not isinstance(value, list):
        raise SpecError(f"{where}.value: operator {op!r} needs a list; got {value!r}")
    if op == "between" and not (isinstance(value, list) and len(value) == 2):
        raise SpecError(f"{where}.value: operator 'between' needs [low, high]; got {value!r}")
    try:
        result = _COMPARE[op](series, value)
    except TypeError as exc:
        raise SpecError(f"{where}: cannot compare column {column!r} with {value!r}: {exc}") \
            from exc
    return np.asarray(result.fillna(False).astype(bool))
