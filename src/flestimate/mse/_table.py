"""Read and validate a table of capture histories into the complete 2^k - 1 cell vector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentTypeError, DataError, format_values

__all__ = ["MAX_LISTS", "CaptureTable", "all_histories", "capture_table", "history_label"]

#: Largest number of lists accepted (2^15 - 1 cells).
MAX_LISTS = 15


def all_histories(k: int) -> np.ndarray:
    """Every observable capture history over ``k`` lists, shape ``(2^k - 1, k)``.

    Ordered by the number of lists a history is on, then with earlier lists first
    (``10000, 01000, ..., 11000, 10100, ...``), the order of the published UK table.
    """
    codes = np.arange(1, 2**k, dtype=np.int64)
    bits = ((codes[:, None] >> np.arange(k)) & 1).astype(np.int8)
    weight = bits.sum(axis=1)
    # Within a size, earlier lists first: sort on the bit pattern read from the first list.
    lexi = (bits * (2 ** np.arange(k - 1, -1, -1))).sum(axis=1)
    order = np.lexsort((-lexi, weight))
    out: np.ndarray = bits[order]
    out.setflags(write=False)
    return out


def history_label(history: np.ndarray, lists: Sequence[str]) -> str:
    """``"LA+NG"`` for the history on lists LA and NG; ``"(none)"`` for the all-zero one."""
    names = [name for name, on in zip(lists, history, strict=True) if on]
    return "+".join(names) if names else "(none)"


@dataclass(frozen=True)
class CaptureTable:
    """Counts of every observable capture history over ``k`` lists (zero cells included).

    Attributes
    ----------
    lists : tuple of str
        The list names, in the column order of the input.
    histories : ndarray of int8, shape (2^k - 1, k)
        The observable histories (see :func:`all_histories`).
    counts : ndarray of float64, shape (2^k - 1,)
        The number of cases with each history; zero where the input omitted it.
    """

    lists: tuple[str, ...]
    histories: np.ndarray
    counts: np.ndarray

    @property
    def k(self) -> int:
        return len(self.lists)

    @property
    def n_cells(self) -> int:
        return int(self.counts.shape[0])

    @property
    def observed(self) -> int:
        """Number of distinct cases on at least one list."""
        return int(round(float(self.counts.sum())))

    def overlap(self) -> np.ndarray:
        """``(k, k)`` matrix of cases on both lists j and l (list totals on the diagonal)."""
        h = self.histories.astype(np.float64)
        out: np.ndarray = (h * self.counts[:, None]).T @ h
        return out

    def with_counts(self, counts: np.ndarray) -> CaptureTable:
        """The same lists and histories with other counts (bootstrap replicates)."""
        return CaptureTable(self.lists, self.histories, np.asarray(counts, dtype=np.float64))

    def to_frame(self) -> pd.DataFrame:
        """The complete table: one 0/1 column per list and ``count``."""
        frame = pd.DataFrame(self.histories.astype(np.int64), columns=list(self.lists))
        frame["count"] = self.counts
        out: pd.DataFrame = frame
        return out


def _where(frame: pd.DataFrame, mask: np.ndarray) -> str:
    return f"rows {format_values(frame.index[mask].tolist())}"


def capture_table(
    table: pd.DataFrame, count: str = "count", lists: Sequence[str] | None = None
) -> CaptureTable:
    """Validate a tidy table of capture histories and counts.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per observed capture history: a 0/1 column per list and a count column. Histories
        with no case may be omitted (they are added as zeros).
    count : str
        The count column.
    lists : sequence of str, optional
        The list columns; by default every column except ``count``.

    Returns
    -------
    CaptureTable

    Raises
    ------
    DataError
        A missing column, fewer than two lists, a value other than 0/1 in a list column, a
        missing, negative or non-integer count, the all-zero (unobservable) history, the same
        history on two rows, or no case at all. The message names the column and the rows.
    """
    names = _list_names(table, count, lists)
    bits = _list_bits(table, names)
    raw_count = _case_counts(table, count)
    code = _history_codes(table, bits, names)
    k = len(names)
    histories = all_histories(k)
    full_code = histories.astype(np.int64) @ (2 ** np.arange(k, dtype=np.int64))
    position = np.empty(2**k, dtype=np.int64)
    position[full_code] = np.arange(full_code.shape[0])
    counts = np.zeros(full_code.shape[0], dtype=np.float64)
    counts[position[code]] = raw_count
    if counts.sum() == 0:
        raise DataError("the capture table has no case: every count is zero")
    counts.setflags(write=False)
    return CaptureTable(tuple(str(x) for x in names), histories, counts)


def _list_names(table: pd.DataFrame, count: str, lists: Sequence[str] | None) -> list[Any]:
    """The list columns (every column but ``count`` by default), checked: present, named
    once, not the count column, between 2 and :data:`MAX_LISTS` of them, and rows to read."""
    if not isinstance(table, pd.DataFrame):
        raise ArgumentTypeError(
            f"`table` of `mse.fit()` must be a pandas DataFrame of capture histories and counts; "
            f"got {type(table).__name__}"
        )
    if not isinstance(count, str):
        raise ArgumentTypeError(f"`count` of `mse.fit()` must be a column name; got {count!r}")
    columns = [str(c) for c in table.columns]
    if count not in table.columns:
        raise DataError(
            f"count column {count!r} not found in the capture table; columns are "
            f"{format_values(columns, limit=10)}"
        )
    names = ([c for c in table.columns if c != count] if lists is None
             else _given_lists(table, count, lists, columns))
    k = len(names)
    if k < 2:
        raise DataError(
            f"multiple systems estimation needs at least two lists; the capture table has {k} "
            f"({format_values([str(x) for x in names]) or 'none'})"
        )
    if k > MAX_LISTS:
        raise DataError(f"at most {MAX_LISTS} lists are supported; the capture table has {k}")
    if len(table) == 0:
        raise DataError("the capture table has no rows")
    return names


def _given_lists(table: pd.DataFrame, count: str, lists: Sequence[str],
                 columns: list[str]) -> list[Any]:
    """The list columns the caller named, checked: names of columns of the table, each once,
    not the count column."""
    if isinstance(lists, str) or not all(isinstance(x, str) for x in lists):
        raise ArgumentTypeError(
            f"`lists` of `mse.fit()` must be a list of column names; got {lists!r}"
        )
    names = list(lists)
    missing = [x for x in names if x not in table.columns]
    if missing:
        raise DataError(
            f"list column(s) {format_values(missing)} not found in the capture table; "
            f"columns are {format_values(columns, limit=10)}"
        )
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise DataError(f"list column(s) {format_values(dup)} given twice in `lists`")
    if count in names:
        raise DataError(f"the count column {count!r} cannot also be a list")
    return names


def _list_bits(table: pd.DataFrame, names: list[Any]) -> np.ndarray:
    """The 0/1 list columns as a (rows, k) int8 array; an error names a column holding
    anything else and its rows."""
    bits = np.empty((len(table), len(names)), dtype=np.int8)
    for j, name in enumerate(names):
        raw = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isin(raw, (0.0, 1.0))
        if bad.any():
            shown = table[name][bad].tolist()
            raise DataError(
                f"list column {name!r} must hold 0 or 1; got {format_values(shown)} "
                f"at {_where(table, bad)}"
            )
        bits[:, j] = raw.astype(np.int8)
    return bits


def _case_counts(table: pd.DataFrame, count: str) -> np.ndarray:
    """The count column, checked: present, numeric, non-negative whole numbers."""
    raw_count = pd.to_numeric(table[count], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(raw_count)
    if bad.any():
        raise DataError(f"count column {count!r} is missing or not numeric at {_where(table, bad)}")
    bad = raw_count < 0
    if bad.any():
        raise DataError(
            f"count column {count!r} must be non-negative; got {format_values(raw_count[bad])} "
            f"at {_where(table, bad)}"
        )
    bad = raw_count != np.round(raw_count)
    if bad.any():
        raise DataError(
            f"count column {count!r} must hold whole numbers of cases; got "
            f"{format_values(raw_count[bad])} at {_where(table, bad)}"
        )
    out: np.ndarray = raw_count
    return out


def _history_codes(table: pd.DataFrame, bits: np.ndarray, names: list[Any]) -> np.ndarray:
    """Each row's history as an integer code (bit j for list j), checked: not the all-zero
    history (unobservable), and no history on two rows."""
    k = len(names)
    zero = bits.sum(axis=1) == 0
    if zero.any():
        raise DataError(
            f"the all-zero capture history (on no list) is unobservable and cannot be in the "
            f"capture table: {_where(table, zero)}; its count is what the model estimates"
        )
    code: np.ndarray = bits.astype(np.int64) @ (2 ** np.arange(k, dtype=np.int64))
    codes, first, counts_of = np.unique(code, return_index=True, return_counts=True)
    if (counts_of > 1).any():
        dup_codes = codes[counts_of > 1]
        groups = []
        for c in dup_codes[:5]:
            rows = table.index[code == c].tolist()
            label = history_label(bits[first[np.searchsorted(codes, c)]], [str(x) for x in names])
            groups.append(f"{label} at rows {format_values(rows)}")
        more = f" and {dup_codes.size - 5} more" if dup_codes.size > 5 else ""
        raise DataError(
            "each capture history must appear once in the capture table; duplicated: "
            + "; ".join(groups) + more + " (sum the counts first if that is what is meant)"
        )
    return code
