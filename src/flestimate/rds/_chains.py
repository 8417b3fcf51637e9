"""The recruitment table read and checked: who recruited whom, each respondent's seed and wave,
the degrees and the outcome's levels.

A broken table is a :class:`~flestimate.errors.RecruitmentError` naming the ids: a duplicated
or missing id, a recruiter id that is not in the table, a respondent who recruits themselves,
a chain that never reaches a seed (a cycle), no seed at all. The chains are followed by pointer
jumping over the recruiter array (``log2(n)`` vectorised steps), not by a walk per respondent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentTypeError, DataError, RecruitmentError, format_values

__all__ = ["Outcome", "Recruitment", "read_degree", "read_outcome", "read_recruitment",
           "roots_and_depths"]


@dataclass(frozen=True)
class Recruitment:
    """The recruitment trees of a table, one entry per row.

    ``parent`` is the row of the recruiter (-1 for a seed), ``seed`` the row of the seed at the
    root of the row's tree and ``wave`` the number of recruitment steps from it (0 for seeds).
    """

    ids: np.ndarray
    parent: np.ndarray
    seed: np.ndarray
    wave: np.ndarray

    @property
    def n_seeds(self) -> int:
        return int((self.parent < 0).sum())

    @property
    def n_waves(self) -> int:
        return int(self.wave.max()) if self.wave.size else 0


@dataclass(frozen=True)
class Outcome:
    """The outcome coded ``0..K-1`` (-1 where missing), its levels and whether it is binary
    (levels ``0, 1``, of which only ``1`` is reported)."""

    codes: np.ndarray
    levels: tuple[Any, ...]
    binary: bool


def _ids_text(ids: Any) -> str:
    return format_values([v.item() if isinstance(v, np.generic) else v for v in ids])


def roots_and_depths(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The root and depth of every node of a forest given by ``parent`` (-1 at a root), by
    pointer jumping, and a mask of the nodes whose chain never reaches a root (a cycle).

    Notes
    -----
    Each of ``ceil(log2(n)) + 1`` steps sets ``depth[i] += depth[up[i]]`` and
    ``up[i] = up[up[i]]`` for all nodes at once (Wyllie's list ranking): after step ``s`` a
    node points ``2^s`` generations up or at its root, so every chain of length below ``n``
    has reached its root at the end; a node that still points at a non-root lies on or below
    a cycle.
    """
    n = parent.size
    root = parent < 0
    up = np.where(root, np.arange(n), parent)
    depth = (~root).astype(np.int64)
    for _ in range(max(1, math.ceil(math.log2(max(n, 2)))) + 1):
        depth = depth + depth[up]
        up = up[up]
    broken = ~root[up]
    return up, depth, broken


def _column(table: pd.DataFrame, name: str, role: str) -> pd.Series:
    if not isinstance(name, str):
        raise ArgumentTypeError(f"`{role}` of `rds.estimate()` must be a column name (str); "
                                f"got {name!r}")
    if name not in table.columns:
        raise DataError(f"`{role}` of `rds.estimate()`: column {name!r} is not in the table "
                        f"(columns: {format_values(list(map(str, table.columns)), 8)})")
    return table[name]


def read_recruitment(table: pd.DataFrame, id: str, recruiter: str) -> Recruitment:
    """The recruitment trees of ``table``; a :class:`RecruitmentError` naming the ids when the
    table is broken."""
    ids = _column(table, id, "id")
    rec = _column(table, recruiter, "recruiter")
    if ids.isna().any():
        rows = table.index[ids.isna().to_numpy()].tolist()
        raise RecruitmentError(f"`id` column {id!r} has {len(rows)} missing value(s); rows "
                               f"{format_values(rows)}")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise RecruitmentError(f"`id` column {id!r} has duplicated ids: "
                               f"{_ids_text(pd.unique(ids[dup]))} (each respondent one row)")
    id_values = ids.to_numpy()
    parent = pd.Index(ids).get_indexer(rec).astype(np.int64)
    seed = rec.isna().to_numpy()
    unknown = (parent < 0) & ~seed
    if unknown.any():
        raise RecruitmentError(
            f"recruiter id(s) {_ids_text(pd.unique(rec[unknown]))} of respondent(s) "
            f"{_ids_text(id_values[unknown])} are not ids of the table (column {recruiter!r}; "
            f"a seed's recruiter must be missing)")
    parent[seed] = -1
    own = parent == np.arange(parent.size)
    if own.any():
        raise RecruitmentError(f"respondent(s) {_ids_text(id_values[own])} recruited "
                               f"themselves (column {recruiter!r})")
    if not seed.any():
        raise RecruitmentError(f"no seed: every respondent has a recruiter (column "
                               f"{recruiter!r}); a seed's recruiter must be missing")
    root, depth, broken = roots_and_depths(parent)
    if broken.any():
        raise RecruitmentError(
            f"the recruitment chain of respondent(s) {_ids_text(id_values[broken])} never "
            f"reaches a seed: the recruiters form a cycle (column {recruiter!r})")
    return Recruitment(id_values, parent, root, depth)


def read_degree(table: pd.DataFrame, degree: str, ids: np.ndarray) -> np.ndarray:
    """The reported degrees as floats; missing, non-numeric, infinite, zero or negative
    degrees are a :class:`DataError` naming the respondents (never imputed silently: drop or
    impute them before the call, as the analysis plan says)."""
    raw = _column(table, degree, "degree")
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        shown = ", ".join(f"{i!r} ({v!r})" for i, v in
                          zip(ids[bad][:5].tolist(), raw[bad][:5].tolist(), strict=True))
        more = f", ... ({int(bad.sum()) - 5} more)" if bad.sum() > 5 else ""
        raise DataError(
            f"`degree` column {degree!r} must be a positive number for every respondent; "
            f"{int(bad.sum())} missing, zero or invalid: id (degree) {shown}{more}. Drop "
            f"these respondents or impute their degree (e.g. the median) before the call")
    return values


def read_outcome(table: pd.DataFrame, outcome: str) -> Outcome:
    """The outcome coded by level: a bool or 0/1 column is binary (levels 0 and 1), anything
    else categorical (pandas categories in their order, otherwise the sorted values)."""
    raw = _column(table, outcome, "outcome")
    present = raw.notna().to_numpy()
    if isinstance(raw.dtype, pd.CategoricalDtype):
        levels: tuple[Any, ...] = tuple(raw.cat.categories)
        codes = raw.cat.codes.to_numpy(np.int64)
        return Outcome(codes, levels, False)
    values = raw[present]
    if pd.api.types.is_bool_dtype(raw.dtype) or (
            pd.api.types.is_numeric_dtype(raw.dtype) and values.isin([0, 1]).all()):
        codes = np.full(len(raw), -1, dtype=np.int64)
        codes[present] = values.astype(int).to_numpy()
        return Outcome(codes, (0, 1), True)
    if pd.api.types.is_float_dtype(raw.dtype) and not np.all(np.mod(values, 1) == 0):
        raise DataError(f"`outcome` column {outcome!r} must be binary (0/1, bool) or "
                        f"categorical; got non-integer numbers such as "
                        f"{format_values(values[np.mod(values, 1) != 0].unique().tolist(), 3)}")
    uniques = pd.unique(values)
    try:
        uniques = np.array(sorted(uniques), dtype=object)
    except TypeError:  # mixed types: the order of first appearance
        uniques = np.asarray(uniques, dtype=object)
    codes = np.full(len(raw), -1, dtype=np.int64)
    codes[present] = pd.Index(uniques).get_indexer(values)
    return Outcome(codes, tuple(v.item() if isinstance(v, np.generic) else v for v in uniques),
                   False)
