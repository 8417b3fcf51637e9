"""The checked inputs of a scale-up call: the design, the count columns, the known
populations, the frame size(s), the adjustment factors and the hidden population's sample.

Every check names the argument, the column and the rows at fault, in the library's one
message format. Counts are counts: a negative, fractional or infinite value is an error, a
missing value is item non-response (that respondent is left out of that column's estimate and
counted in the provenance, never silently).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from flestimate.design import SurveyDesign
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, format_values
from flestimate.replicate import ReplicateDesign

__all__ = ["HiddenSample", "check_factor", "check_total", "count_matrix", "design_of",
           "hidden_columns", "hidden_sample_of", "known_sizes", "positive_number"]

#: The column of equal weights added to a frame given without ``weights=``.
EQUAL_WEIGHTS = "__nsum_equal_weight__"


def _is_number(value: Any) -> bool:
    return (not isinstance(value, bool)
            and isinstance(value, int | float | np.integer | np.floating))


def positive_number(value: Any, name: str, func: str, what: str = "a positive number"
                    ) -> float:
    """``value`` as a finite float above 0."""
    if not _is_number(value):
        raise ArgumentTypeError(f"`{name}` of `{func}()` must be {what}; got {value!r}")
    v = float(value)
    if not (np.isfinite(v) and v > 0):
        raise ArgumentError(f"`{name}` of `{func}()` must be {what}; got {value!r}")
    return v


def check_factor(value: Any, name: str, func: str) -> float:
    """An adjustment factor (degree ratio, transmission rate) in (0, 1]."""
    what = "a number in (0, 1]"
    v = positive_number(value, name, func, what)
    if v > 1:
        raise ArgumentError(f"`{name}` of `{func}()` must be {what}; got {value!r}")
    return v


def design_of(design_or_frame: Any, weights: Any, func: str
              ) -> SurveyDesign | ReplicateDesign:
    """The survey design: a design as given (``weights=`` must then be None), or a simple
    random sample of the frame's rows with its ``weights`` column (equal weights if None)."""
    if isinstance(design_or_frame, SurveyDesign | ReplicateDesign):
        if weights is not None:
            raise ArgumentError(f"`weights` of `{func}()` applies to a DataFrame only; the "
                                f"design has its own weights; got {weights!r}")
        return design_or_frame
    if not isinstance(design_or_frame, pd.DataFrame):
        raise ArgumentTypeError(f"`design_or_frame` of `{func}()` must be a SurveyDesign, a "
                                f"ReplicateDesign or a DataFrame; got "
                                f"{type(design_or_frame).__name__}")
    if len(design_or_frame) < 2:
        raise DataError(f"`design_or_frame` of `{func}()` must have at least 2 rows "
                        f"(respondents); got {len(design_or_frame)}")
    if weights is None:
        frame = design_or_frame.assign(**{EQUAL_WEIGHTS: 1.0})
        return SurveyDesign(frame, weights=EQUAL_WEIGHTS)
    if not isinstance(weights, str):
        raise ArgumentTypeError(f"`weights` of `{func}()` must be a column name or None; got "
                                f"{weights!r}")
    if weights not in design_or_frame.columns:
        raise DataError(f"`weights` of `{func}()`: column {weights!r} not found in the data")
    return SurveyDesign(design_or_frame, weights=weights)


def hidden_columns(hidden: Any, func: str) -> list[str]:
    """``hidden`` as a non-empty list of distinct column names."""
    cols = [hidden] if isinstance(hidden, str) else hidden
    if (not isinstance(cols, Sequence) or isinstance(cols, str) or not cols
            or not all(isinstance(c, str) for c in cols)):
        raise ArgumentTypeError(f"`hidden` of `{func}()` must be a column name or a non-empty "
                                f"list of column names; got {hidden!r}")
    if len(set(cols)) < len(cols):
        raise ArgumentError(f"`hidden` of `{func}()` names a column twice; got {list(cols)}")
    return list(cols)


def check_total(total: Any, func: str) -> float | dict[Any, float]:
    """``total``: N, the frame population's size (a positive number), or a mapping of domain
    levels to their sizes."""
    if isinstance(total, Mapping):
        if not total:
            raise ArgumentError(f"`total` of `{func}()` must not be an empty mapping")
        return {k: positive_number(v, f"total[{k!r}]", func) for k, v in total.items()}
    return positive_number(total, "total", func,
                           "a positive number (N, the frame population's size) or a mapping "
                           "of domain levels to sizes")


def known_sizes(known: Any, total: float, func: str, allow_empty: bool = False
                ) -> dict[str, float]:
    """``known``: column -> N_k, each size in (0, N)."""
    if not isinstance(known, Mapping) or not all(isinstance(k, str) for k in known):
        raise ArgumentTypeError(f"`known` of `{func}()` must be a mapping of column names to "
                                f"known population sizes; got {known!r}")
    if not known and not allow_empty:
        raise ArgumentError(f"`known` of `{func}()` must name at least one known population")
    out = {}
    for col, size in known.items():
        v = positive_number(size, f"known[{col!r}]", func,
                            "a positive number (the known population's size)")
        if v >= total:
            raise ArgumentError(f"`known[{col!r}]` of `{func}()` must be below the frame "
                                f"population's size {total:,.0f}; got {size!r}")
        out[col] = v
    return out


def count_matrix(data: pd.DataFrame, cols: Sequence[str], arg: str, func: str,
                 limits: Sequence[float] | None = None) -> np.ndarray:
    """The (rows x columns) counts as floats, NaN where missing; an error naming the column and
    rows for anything else than a non-negative whole number (or above its ``limits``: nobody
    knows more members of a population than it has)."""
    absent = [c for c in cols if c not in data.columns]
    if absent:
        raise DataError(f"column(s) {format_values(absent)} of `{arg}` of `{func}()` not found "
                        f"in the data")
    out = np.empty((len(data), len(cols)))
    for j, col in enumerate(cols):
        s = data[col]
        if pd.api.types.is_bool_dtype(s.dtype):
            raise DataError(f"column {col!r} of `{arg}` of `{func}()` is boolean; scale-up "
                            f"needs counts (how many people the respondent knows), not yes/no")
        values = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        text = np.isnan(values) & s.notna().to_numpy()
        _fail(data, col, arg, func, text, "non-numeric value(s)", s)
        _fail(data, col, arg, func, np.isinf(values), "infinite value(s)", s)
        _fail(data, col, arg, func, values < 0, "negative count(s)", s)
        with np.errstate(invalid="ignore"):
            _fail(data, col, arg, func, np.isfinite(values) & (values != np.round(values)),
                  "non-integer count(s) (counts of people are whole numbers)", s)
        if limits is not None:
            _fail(data, col, arg, func, values > limits[j],
                  f"count(s) above the population's size {limits[j]:,.0f} (a missing-value "
                  f"code such as 998 or 9999?)", s)
        out[:, j] = values
    return out


def _fail(data: pd.DataFrame, col: str, arg: str, func: str, bad: np.ndarray, what: str,
          s: pd.Series) -> None:
    if bad.any():
        rows = data.index[bad][:5].tolist()
        shown = ", ".join(f"{r} ({v!r})" for r, v in zip(rows, s[bad].iloc[:5], strict=False))
        raise DataError(f"column {col!r} of `{arg}` of `{func}()` has {int(bad.sum())} "
                        f"{what}; rows (value): {shown}")


@dataclass(frozen=True)
class HiddenSample:
    """The enriched sample of the hidden population: each respondent's summed in-reports
    ``v_i = sum_k vtilde_{i,k}`` over the probe populations, weights, and what was dropped."""

    reports: np.ndarray  # (n_used,)
    weights: np.ndarray  # (n_used,)
    probe_size: float  # N_A, the probe populations' total size
    probes: dict[str, str]  # known column -> hidden-sample column
    n_rows: int
    n_missing: int
    weights_col: str | None


def hidden_sample_of(sample: Any, reports: Any, weights: Any, known: Mapping[str, float],
                     func: str) -> HiddenSample:
    """The checked hidden-population sample (see :class:`HiddenSample`)."""
    if not isinstance(sample, pd.DataFrame):
        raise ArgumentTypeError(f"`hidden_sample` of `{func}()` must be a DataFrame; got "
                                f"{type(sample).__name__}")
    probes = _probe_columns(reports, known, func)
    counts = count_matrix(sample, list(probes.values()), "hidden_reports", func)
    if weights is None:
        w = np.ones(len(sample))
    else:
        if not isinstance(weights, str) or weights not in sample.columns:
            raise DataError(f"`hidden_weights` of `{func}()`: column {weights!r} not found in "
                            f"the hidden sample")
        w = pd.to_numeric(sample[weights], errors="coerce").to_numpy(dtype=float,
                                                                    na_value=np.nan)
        bad = ~np.isfinite(w) | (w <= 0)
        if bad.any():
            raise DataError(f"`hidden_weights` column {weights!r} of `{func}()` has "
                            f"{int(bad.sum())} missing, infinite, zero or negative value(s); "
                            f"rows {format_values(sample.index[bad].tolist())}")
    used = ~np.isnan(counts).any(axis=1)
    if used.sum() < 2:
        raise DataError(f"`hidden_sample` of `{func}()` needs at least 2 respondents with every "
                        f"in-report column {format_values(list(probes.values()))} answered; "
                        f"got {int(used.sum())}")
    return HiddenSample(counts[used].sum(axis=1), w[used],
                        float(sum(known[k] for k in probes)), probes, len(sample),
                        int((~used).sum()), weights)


def _probe_columns(reports: Any, known: Mapping[str, float], func: str) -> dict[str, str]:
    """known column -> hidden-sample column of its in-reports: a mapping, a list in the order
    of ``known``, or None (the same names)."""
    if reports is None:
        if not known:
            raise ArgumentError(f"`hidden_reports` of `{func}()`: no known populations to "
                                f"probe; pass `known` and the in-report columns")
        return {k: k for k in known}
    if isinstance(reports, Mapping):
        out = {str(k): v for k, v in reports.items()}
    elif (isinstance(reports, Sequence) and not isinstance(reports, str)
          and len(reports) == len(known)):
        out = dict(zip(known, reports, strict=True))
    else:
        raise ArgumentTypeError(f"`hidden_reports` of `{func}()` must be a mapping of known "
                                f"columns to in-report columns, or a list of {len(known)} "
                                f"column(s) in the order of `known`; got {reports!r}")
    unknown = [k for k in out if k not in known]
    if unknown or not out or not all(isinstance(v, str) for v in out.values()):
        raise ArgumentError(f"`hidden_reports` of `{func}()` must map known populations "
                            f"({format_values(list(known))}) to column names; got {reports!r}")
    return out
