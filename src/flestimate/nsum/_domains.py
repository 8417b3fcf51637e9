"""The cells of a scale-up call: the nation, and the domains of ``by=`` with their sizes.

A domain's estimate uses the domain's population size ``N_d``: given (``total`` a mapping of
levels to sizes), or estimated as ``N * W_d / W`` (the domain's share of the weights times the
frame size, re-estimated in every replicate) when ``total`` is the national figure only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flestimate._cells import domains_of
from flestimate._format import label_text
from flestimate.design import SurveyDesign
from flestimate.errors import ArgumentError, DataError, format_values
from flestimate.replicate import ReplicateDesign

__all__ = ["Cells", "cells_of"]


@dataclass(frozen=True)
class Cells:
    """``code``: the domain of every row (-1 outside every domain, or no ``by=``);
    ``labels``: each domain's level as text; ``sizes``: the given domain sizes (None:
    estimated from the weights); ``total``: N, the frame population's size."""

    by: str
    code: np.ndarray
    labels: list[str]
    sizes: np.ndarray | None
    total: float
    n_outside: int

    @property
    def n_domains(self) -> int:
        return len(self.labels)


def cells_of(design: SurveyDesign | ReplicateDesign, by: Any,
             total: float | dict[Any, float], func: str) -> Cells:
    """The domains of ``by`` (none without it) with their sizes, after the checks: a level
    without respondents, a level without a size, a size for no level."""
    n = len(design.weights)
    if by is None:
        if isinstance(total, dict):
            raise ArgumentError(f"`total` of `{func}()` is a mapping of domain sizes but no "
                                f"`by=` is given; pass N, the frame population's size")
        return Cells("national", np.full(n, -1, dtype=np.int64), [], None, float(total), 0)
    domains = domains_of(design, by, None, func)
    counts = np.bincount(domains.cell[domains.cell >= 0], minlength=len(domains.labels))
    keys = _level_keys(domains.labels.to_numpy(dtype=object))
    if (counts == 0).any():
        empty = [keys[i] for i in np.flatnonzero(counts == 0)]
        raise DataError(f"`by` of `{func}()`: domain(s) {format_values(empty)} have no "
                        f"respondents (unused categories? drop them with "
                        f"remove_unused_categories())")
    name = "*".join(domains.by)
    labels = [", ".join(label_text(v) for v in key) if isinstance(key, tuple)
              else label_text(key) for key in keys]
    if not isinstance(total, dict):
        return Cells(name, domains.cell, labels, None, float(total), domains.n_missing_by)
    sizes = _domain_sizes(total, keys, func)
    return Cells(name, domains.cell, labels, sizes, float(sizes.sum()), domains.n_missing_by)


def _level_keys(values: np.ndarray) -> list[Any]:
    """Each domain's level: the by-value, or a tuple of them for several by-columns."""
    if values.shape[1] == 1:
        return [v.item() if isinstance(v, np.generic) else v for v in values[:, 0]]
    return [tuple(v.item() if isinstance(v, np.generic) else v for v in row) for row in values]


def _domain_sizes(total: Mapping[Any, float], keys: Sequence[Any], func: str) -> np.ndarray:
    """The size of every domain from ``total`` (a level matches its key, or its text)."""
    text = {str(k): v for k, v in total.items()}
    sizes, absent = [], []
    for key in keys:
        if key in total:
            sizes.append(total[key])
        elif str(key) in text:
            sizes.append(text[str(key)])
        else:
            absent.append(key)
    if absent:
        raise ArgumentError(f"`total` of `{func}()` has no size for domain(s) "
                            f"{format_values(absent)}; give every level of `by` its size")
    found = {str(k) for k in keys}
    extra = [k for k in total if k not in keys and str(k) not in found]
    if extra:
        raise DataError(f"`total` of `{func}()` gives sizes for domain(s) "
                        f"{format_values(extra)} without respondents in the data")
    return np.array(sizes, dtype=float)
