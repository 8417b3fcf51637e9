"""Module non-response as unit non-response: weighting-class adjustment of the respondents.

A person in the module's universe who answered none of its items is a unit non-respondent: the
imputation would have nothing of theirs to condition on. Their weight goes to the respondents
of their weighting class (stratum x sex x migrant status x proxy by default), so the universe
keeps its weighted size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["WeightingClasses", "adjustment_factors", "weighting_classes"]


@dataclass(frozen=True)
class WeightingClasses:
    """The weighting class of every row and how the classes were formed.

    Attributes
    ----------
    code : ndarray of int, shape (n,)
        The class of each row (-1 outside the universe).
    names : tuple of str
        The variables crossed, finest first.
    level : ndarray of int, shape (n,)
        How many variables (from the right) were dropped to give the row's class a respondent:
        0 for the full crossing.
    n_classes : int
    collapsed : int
        Classes of the full crossing that had no respondent and were merged into a coarser one.
    """

    code: np.ndarray
    names: tuple[str, ...]
    level: np.ndarray
    n_classes: int
    collapsed: int


def weighting_classes(columns: Sequence[pd.Series | np.ndarray], names: Sequence[str],
                      universe: np.ndarray, respondent: np.ndarray,
                      weights: np.ndarray) -> WeightingClasses:
    """Cross ``columns`` into weighting classes over the universe rows. A class with no
    respondent (with weight) is merged with its siblings: every class sharing its values of
    all but the last variable becomes one class, and so on up to the whole universe (the
    collapsing order is the order of ``names``, the last dropped first).

    Missing values form a level of their own.
    """
    n = len(universe)
    inside = np.flatnonzero(universe)
    m = inside.size
    codes = []
    for col in columns:  # only the universe's rows matter; hashed, in the columns' own types
        series = col if isinstance(col, pd.Series) else pd.Series(np.asarray(col))
        c, _ = pd.factorize(series.iloc[inside], use_na_sentinel=False)
        codes.append(np.asarray(c, dtype=np.int64))
    keys = []  # keys[d]: the cell of every universe row with the last d variables dropped
    for drop in range(len(codes) + 1):
        key = np.zeros(m, dtype=np.int64)
        for c in codes[:len(codes) - drop]:
            key = key * (int(c.max()) + 1 if c.size else 1) + c
        keys.append(np.asarray(pd.factorize(key, sort=True)[0], dtype=np.int64))
    resp_w = np.where(respondent[inside], np.asarray(weights, dtype=np.float64)[inside], 0.0)
    level = np.zeros(m, dtype=np.int64)
    collapsed = 0
    for d in range(len(codes)):  # one pass per variable dropped
        here = level == d
        size = int(keys[d].max()) + 1 if m else 0
        rows = np.bincount(keys[d], weights=here.astype(float), minlength=size)
        has = np.bincount(keys[d], weights=np.where(here, resp_w, 0.0), minlength=size) > 0
        empty = here & ~has[keys[d]]
        if d == 0:
            collapsed = int(((rows > 0) & ~has).sum())
        if not empty.any():
            break
        parents = np.unique(keys[d + 1][empty])
        move = np.isin(keys[d + 1], parents) & (level <= d)
        level[move] = d + 1
    key_at = np.choose(np.minimum(level, len(keys) - 1), keys) if m else level
    dense = np.asarray(pd.factorize(key_at * (len(keys) + 1) + level, sort=True)[0],
                       dtype=np.int64)
    out = np.full(n, -1, dtype=np.int64)
    out[inside] = dense
    lev = np.full(n, -1, dtype=np.int64)
    lev[inside] = level
    return WeightingClasses(out, tuple(names), lev, int(dense.max()) + 1 if m else 0, collapsed)


def adjustment_factors(classes: WeightingClasses, weights: np.ndarray,
                       respondent: np.ndarray) -> np.ndarray:
    """Factor of every row: ``sum_c w / sum_(c, respondents) w`` for respondents of class c,
    0 for non-respondents, 1 outside the universe. ``weights`` may be (n,) or (n, R) (every
    replicate adjusted with its own sums)."""
    w = np.asarray(weights, dtype=np.float64)
    two_d = w.ndim == 2
    w2 = w if two_d else w[:, None]
    inside = classes.code >= 0
    k = max(classes.n_classes, 1)
    idx = np.where(inside, classes.code, 0)
    from flestimate.variance import segment_sum

    total = segment_sum(idx, np.where(inside[:, None], w2, 0.0), k)
    resp = segment_sum(idx, np.where((inside & respondent)[:, None], w2, 0.0), k)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(resp > 0, total / resp, 0.0)
    f = np.where(inside[:, None], np.where(respondent[:, None], ratio[idx], 0.0), 1.0)
    return f if two_d else f[:, 0]
