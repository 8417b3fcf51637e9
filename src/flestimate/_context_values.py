"""The canonical values of the context variables the rules read, and the check that a module
spec's context columns hold them after the spec's recoding (``values:``).

A context column left in the questionnaire's raw codes is not an error the rules can see: a
``sector`` coded 1-9 never equals ``commercial_sex``, so every form comes out "mixed or
undetermined"; a ``moved`` coded 1/2 reads 1 ("moved") for a code that may mean "no". The
mapping stage stops such a spec with a :class:`~flestimate.errors.SpecError` listing the
offending values and the canonical ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, TypeGuard

import numpy as np
import pandas as pd

from flestimate.errors import SpecError, format_values

__all__ = ["BINARY_CONTEXT", "CATEGORY_CONTEXT", "check_context_values"]

#: Categorical context names: the values the rules read, and whether other values are allowed
#: (``True``: an open list such as ``sector``, whose other values label the tables but must be
#: text, not codes).
CATEGORY_CONTEXT: Mapping[str, tuple[tuple[str, ...], bool]] = MappingProxyType({
    "sector": (("commercial_sex", "commercial_sex_and_other", "illicit_activities",
                "armed_conflict"), True),
    "perpetrator": (("state", "private"), False),
    "migrant_status": (("returned", "current_abroad", "non_migrant"), False),
    "relationship": (("head", "spouse", "child"), True),
})
#: Binary context names: 1 / 0, missing when unknown.
BINARY_CONTEXT: tuple[str, ...] = ("moved", "moved_international", "proxy", "worked",
                                   "work_with_parents")


def _is_code(value: object) -> TypeGuard[int | float | np.integer[Any] | np.floating[Any]]:
    """Whether a value is a number (a raw code), not a text label."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool)


def _offending(name: str, values: pd.Series) -> tuple[list[object], str] | None:
    """The distinct values of context ``name`` that are not canonical, with what is expected;
    None when every value is."""
    present = values.dropna()
    if name in BINARY_CONTEXT:
        distinct = pd.unique(present)
        bad = [v for v in distinct if not (_is_code(v) or isinstance(v, bool))
               or float(v) not in (0.0, 1.0)]
        return (bad, "1 (yes) or 0 (no)") if bad else None
    if name not in CATEGORY_CONTEXT:
        return None
    canonical, open_ = CATEGORY_CONTEXT[name]
    distinct = pd.unique(present.astype(object))
    if open_:
        bad = [v for v in distinct if _is_code(v)]
        expected = (f"{format_values(canonical, len(canonical))} (the values the rules read) or "
                    f"other text labels")
    else:
        bad = [v for v in distinct if v not in canonical]
        expected = format_values(canonical, len(canonical))
    return (bad, expected) if bad else None


def check_context_values(name: str, column: str, values: pd.Series, where: str) -> None:
    """Raise a SpecError when context ``name`` (read from ``column``) holds values outside its
    canonical set after the spec's recoding: raw codes left in, or labels the rules do not
    know. ``where`` is the key path (``"my.yaml: context.sector"``)."""
    found = _offending(name, values)
    if found is None:
        return
    bad, expected = found
    bad = sorted(bad, key=lambda v: (0, float(v), "") if _is_code(v) else (1, 0.0, str(v)))
    rows = values.index[values.isin(bad)][:3].tolist()
    shown = [int(v) if _is_code(v) and float(v).is_integer() else v for v in bad]
    raise SpecError(f"{where}: column {column!r} holds {format_values(shown)} (rows {rows}) "
                    f"after the spec's recoding, outside the canonical values of "
                    f"{name!r}: {expected}; recode it with `values:` (code: canonical value, "
                    f"null for missing; see docs/map.md)")
