"""Argument checks of the calibration solvers (one message format: the argument, the function,
what it must be, what it got) and the number formats of their messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from flestimate.errors import ArgumentError, ArgumentTypeError


def float_array(value: Any, name: str, func: str, ndim: tuple[int, ...]) -> np.ndarray:
    """``value`` as a finite float array with one of the dimensions ``ndim``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"`{name}` of `{func}()` must be a numeric array; got {type(value).__name__}"
        ) from None
    if arr.ndim not in ndim:
        dims = " or ".join(f"{k}-d" for k in ndim)
        raise ArgumentError(
            f"`{name}` of `{func}()` must be a {dims} array; got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1))
        raise ArgumentError(
            f"`{name}` of `{func}()` must be finite; got NaN or infinite values in "
            f"{bad.size} row(s), first at row {int(bad[0])}"
        )
    return arr


def design_weights(d: Any, n: int, func: str) -> np.ndarray:
    """The design weights: n finite, non-negative values, at least one positive."""
    arr = float_array(d, "d", func, (1,))
    if arr.shape[0] != n:
        raise ArgumentError(f"`d` of `{func}()` must have one weight per row ({n}); "
                            f"got {arr.shape[0]}")
    negative = np.flatnonzero(arr < 0)
    if negative.size:
        raise ArgumentError(
            f"`d` of `{func}()` must be non-negative; got {float(arr[negative[0]])!r} at row "
            f"{int(negative[0])} ({negative.size} negative weight(s))"
        )
    if not np.any(arr > 0):
        raise ArgumentError(f"`d` of `{func}()` must have at least one positive weight; "
                            "got all zero")
    return arr


def margin_labels(names: Sequence[str] | None, p: int, func: str, what: str) -> list[str]:
    """Quoted names of the margins for messages, or positional labels."""
    if names is None:
        return [f"{what} {j}" for j in range(p)]
    if isinstance(names, str) or len(names) != p:
        got = repr(names) if isinstance(names, str) else f"{len(names)} names"
        raise ArgumentError(f"`names` of `{func}()` must give one name per {what} ({p}); "
                            f"got {got}")
    return [f"{what} {name!r}" for name in names]


def iteration_args(max_iter: Any, tol: Any, func: str, tol_rule: str) -> tuple[int, float]:
    """``max_iter`` (a positive integer) and ``tol`` (a positive number; ``tol_rule`` says
    what it means in the message)."""
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ArgumentError(f"`max_iter` of `{func}()` must be a positive integer; "
                            f"got {max_iter!r}")
    if (isinstance(tol, bool) or not isinstance(tol, int | float | np.floating)
            or not np.isfinite(tol) or tol <= 0):
        raise ArgumentError(f"`tol` of `{func}()` must be a positive number ({tol_rule}); "
                            f"got {tol!r}")
    return int(max_iter), float(tol)


def g_bounds(bounds: Any, method: str, func: str) -> tuple[float, float]:
    """The bounds (lower, upper) on g: open without ``bounds``, finite around 1 for logit."""
    if bounds is None:
        if method == "logit":
            raise ArgumentError(f"`bounds` of `{func}()` are required for method 'logit' "
                                "(finite lower < 1 < upper); got None")
        return (-np.inf, np.inf)
    try:
        lower, upper = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ArgumentError(f"`bounds` of `{func}()` must be a pair (lower, upper) of numbers; "
                            f"got {bounds!r}") from None
    if np.isnan(lower) or np.isnan(upper) or not lower < upper:
        raise ArgumentError(f"`bounds` of `{func}()` must satisfy lower < upper; "
                            f"got {bounds!r}")
    if method == "logit" and not (np.isfinite(lower) and np.isfinite(upper)
                                  and lower < 1.0 < upper):
        raise ArgumentError(f"`bounds` of `{func}()` must be finite with lower < 1 < upper "
                            f"for method 'logit'; got {bounds!r}")
    return (lower, upper)


def fmt(x: float) -> str:
    """A number in a message, to ten significant digits."""
    return f"{x:.10g}"


def times(count: int, noun: str) -> str:
    """``count`` and the noun, in the plural unless the count is 1."""
    plural = noun + ("es" if noun.endswith("s") else "s")
    return f"{count} {noun if count == 1 else plural}"


def as_cell_codes(cells: Any, n: int | None, k: int, name: str, func: str) -> np.ndarray:
    """Category codes 0..k-1 as int64, one per row (n rows, when given)."""
    arr = np.asarray(cells)
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        rows = "" if n is None else f" ({n})"
        raise ArgumentError(f"`{name}` of `{func}()` must be a 1-d array with one code per "
                            f"row{rows}; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ArgumentTypeError(f"`{name}` of `{func}()` must hold integer codes 0..K-1; "
                                f"got dtype {arr.dtype}")
    out = np.flatnonzero((arr < 0) | (arr >= k))
    if out.size:
        raise ArgumentError(f"`{name}` of `{func}()` must hold codes in 0..{k - 1} (one per "
                            f"total); got {int(arr[out[0]])} at row {int(out[0])}")
    return arr.astype(np.int64)


def as_cell_totals(totals: Any, name: str, func: str) -> np.ndarray:
    """The population totals of the cells: at least one, finite and non-negative."""
    arr = float_array(totals, name, func, (1,))
    if arr.shape[0] == 0:
        raise ArgumentError(f"`{name}` of `{func}()` must hold at least one total; got none")
    negative = np.flatnonzero(arr < 0)
    if negative.size:
        raise ArgumentError(f"`{name}` of `{func}()` must be non-negative; got "
                            f"{float(arr[negative[0]])!r} for cell {int(negative[0])}")
    return arr

