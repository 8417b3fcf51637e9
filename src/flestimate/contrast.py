"""Contrasts of the estimates of one estimator call: linear combinations and smooth functions
of them, with their design-based standard errors (R ``svycontrast``).

The estimates of a call are named by their *keys*: the by-columns' values, the variable and
(for a categorical variable) the category, shortened to the parts that differ between the
estimates (``"male"`` for a share by sex, ``("male", "yes")`` by sex and category). A linear
contrast is a mapping ``{key: coefficient}`` or a vector over every estimate; a non-linear one
is a function of the estimates, whose gradient the complex step gives exactly (to rounding)
for any function written with arithmetic and numpy's analytic functions.

Nothing here knows the result classes (:mod:`flestimate.results` builds on it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError, ArgumentTypeError, format_values

__all__ = ["ContrastSpec", "Keys", "combine", "contrast_rows"]

#: One contrast: coefficients by key, a coefficient per estimate, or a function of the
#: estimates (a mapping from key to value) returning a number.
ContrastSpec = Mapping[Any, float] | Sequence[float] | np.ndarray | Callable[[Any], Any]

#: The complex step: the derivative of an analytic f at x is Im f(x + ih) / h with no
#: cancellation, exact to rounding for any h this small (Squire and Trapp 1998).
_STEP = 1e-30


class Keys:
    """The names of the estimates of a table (one per row, in order)."""

    def __init__(self, table: pd.DataFrame, by: Sequence[str]) -> None:
        parts = [*by, "variable"]
        if "category" in table.columns and table["category"].notna().any():
            parts.append("category")
        self.names = parts
        full = [tuple(row) for row in table[parts].itertuples(index=False, name=None)]
        varies = [i for i, c in enumerate(parts) if table[c].nunique(dropna=False) > 1]
        self.full = full
        self.short: list[Any] = [
            (k[varies[0]] if len(varies) == 1 else tuple(k[i] for i in varies)) if varies
            else k[parts.index("variable")] for k in full]

    def index(self) -> pd.MultiIndex:
        index: pd.MultiIndex = pd.MultiIndex.from_tuples(self.full, names=self.names)
        return index

    def position(self, key: Any, func: str) -> int:
        """The row of ``key`` (a short key, or the full tuple)."""
        hits = [i for i, (s, f) in enumerate(zip(self.short, self.full, strict=True))
                if _same(key, s) or _same(key, f)]
        if len(hits) == 1:
            return hits[0]
        known = format_values(dict.fromkeys(self.short), limit=8)
        what = "no estimate" if not hits else f"{len(hits)} estimates"
        raise ArgumentError(f"`{func}()`: {key!r} names {what}; the estimates are {known}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) != isinstance(b, tuple):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


class _Estimates(Mapping[Any, np.ndarray]):
    """What a non-linear contrast's function reads: each estimate by its key, as a complex
    vector over the directions of the complex step (direction j moves estimate j)."""

    def __init__(self, keys: Keys, values: np.ndarray, func: str) -> None:
        self._keys, self._values, self._func = keys, values, func

    def __getitem__(self, key: Any) -> np.ndarray:
        row: np.ndarray = self._values[self._keys.position(key, self._func)]
        return row

    def __iter__(self) -> Iterator[Any]:
        return iter(self._keys.short)

    def __len__(self) -> int:
        return len(self._keys.short)


def contrast_rows(spec: ContrastSpec, keys: Keys, estimate: np.ndarray, func: str
                  ) -> tuple[float, np.ndarray]:
    """The value of one contrast and its gradient with respect to the estimates (the
    coefficients of a linear one)."""
    n = len(keys.full)
    if callable(spec):
        # Row i of the matrix is estimate i in every direction, plus ih in direction i.
        values = estimate[:, None] + 1j * _STEP * np.eye(n)
        try:
            out = np.asarray(spec(_Estimates(keys, values, func)), dtype=complex)
        except TypeError as exc:  # math.log and the like take no complex arrays
            raise ArgumentTypeError(
                f"`{func}()`: the contrast function must use arithmetic and numpy functions "
                f"(np.log, np.exp, ...), which work on the arrays it is given: {exc}") from exc
        if out.shape not in ((n,), ()):
            raise ArgumentTypeError(f"`{func}()`: the contrast function must return one "
                                    f"number; got an array of shape {out.shape}")
        out = np.broadcast_to(out, (n,))
        return float(out[0].real), np.asarray(out.imag / _STEP)
    if isinstance(spec, Mapping):
        coef = np.zeros(n)
        for key, c in spec.items():
            coef[keys.position(key, func)] += _number(c, func)
        used = coef != 0
        return float(coef[used] @ estimate[used]), coef
    if isinstance(spec, str | bytes):
        raise ArgumentTypeError(f"`{func}()`: a contrast is a mapping of estimates to "
                                f"coefficients, a vector or a function; got {spec!r}")
    coef = np.asarray([_number(c, func) for c in spec], dtype=float)
    if coef.shape != (n,):
        raise ArgumentError(f"`{func}()`: a contrast vector needs one coefficient per "
                            f"estimate ({n}); got {coef.size}")
    used = coef != 0
    return float(coef[used] @ estimate[used]), coef


def _number(value: Any, func: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ArgumentTypeError(f"`{func}()`: a contrast coefficient must be a number; got "
                                f"{value!r}")
    return float(value)


def combine(values: np.ndarray, gradients: np.ndarray, vcov: np.ndarray, df: np.ndarray,
            level: float) -> dict[str, np.ndarray]:
    """Estimate, SE, t statistic, p-value, df and interval of contrasts with ``gradients``
    (m, n): ``var = g' V g`` (the delta method; exact for a linear contrast), df the smallest
    df of the estimates a contrast uses, two-sided p-value and interval from t on that df."""
    from scipy import stats

    used = gradients != 0
    g = np.where(used, gradients, 0.0)
    v = np.where(used[:, :, None] & used[:, None, :], vcov[None], 0.0)
    var = np.einsum("mi,mij,mj->m", g, v, g)
    se = np.sqrt(np.maximum(var, 0.0))
    dfs = np.where(used, df[None, :], np.inf).min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = values / se
        p = np.where(se > 0, 2 * stats.t.sf(np.abs(t), dfs), np.nan)
    q = stats.t.ppf(0.5 + level / 2, dfs)
    return {"estimate": values, "se": se, "ci_low": values - q * se,
            "ci_high": values + q * se, "df": dfs, "statistic": t, "p_value": p}
