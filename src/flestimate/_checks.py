"""Argument checks shared by every public function, with the library's one message format:
"`name` of `func()` must be ...; got value" (docs: errors.py).

A wrong type is an :class:`~flestimate.errors.ArgumentTypeError` (a ``TypeError``), a value of
the right type out of range or not among the choices an :class:`~flestimate.errors.ArgumentError`
(a ``ValueError``), whatever the function.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np

from flestimate.errors import ArgumentError, ArgumentTypeError, DesignError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_WEIGHT", "check_choice", "check_count", "check_df", "check_level",
           "check_weight_range", "known_keywords", "progress_bar", "random_generator"]

P = ParamSpec("P")
R = TypeVar("R")


def check_level(level: Any, func: str) -> float:
    """``level`` as a float in (0, 1)."""
    if isinstance(level, bool) or not isinstance(level, int | float | np.integer | np.floating):
        raise ArgumentTypeError(f"`level` of `{func}()` must be a float in (0, 1); got {level!r}")
    if not 0 < float(level) < 1:
        raise ArgumentError(f"`level` of `{func}()` must be a float in (0, 1); got {level!r}")
    return float(level)


def check_df(df: Any, func: str) -> float | None:
    """``df`` as None (the design's df) or a positive number."""
    if df is None:
        return None
    if isinstance(df, bool) or not isinstance(df, int | float | np.integer | np.floating):
        raise ArgumentTypeError(
            f"`df` of `{func}()` must be None (design df) or a positive number; got {df!r}")
    if not float(df) > 0:
        raise ArgumentError(
            f"`df` of `{func}()` must be None (design df) or a positive number; got {df!r}")
    return float(df)


def check_count(value: Any, name: str, func: str, minimum: int) -> int:
    """An integer argument of at least ``minimum`` (replicates, draws)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ArgumentTypeError(f"`{name}` of `{func}()` must be an integer >= {minimum}; got "
                                f"{value!r}")
    if value < minimum:
        raise ArgumentError(f"`{name}` of `{func}()` must be an integer >= {minimum}; got "
                            f"{value!r}")
    return int(value)


def random_generator(seed: Any, func: str) -> tuple[np.random.Generator, object]:
    """The generator of a call's random draws and what its provenance records of the seed: a
    non-negative integer itself; ``None`` fresh entropy (128 bits), recorded so that the run can
    be repeated; a numpy ``Generator`` used as it is (recorded as ``"numpy Generator"``)."""
    import numbers
    import secrets

    if isinstance(seed, np.random.Generator):
        return seed, "numpy Generator"
    if seed is None:
        entropy = secrets.randbits(128)
        return np.random.default_rng(entropy), entropy
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise ArgumentTypeError(f"`seed` of `{func}()` must be a non-negative int, a numpy "
                                f"Generator or None; got {seed!r}")
    return np.random.default_rng(int(seed)), int(seed)


def check_choice(value: Any, choices: Sequence[str], name: str, func: str) -> str:
    """``value`` if it is one of ``choices``; otherwise an error listing them, with the
    closest as a hint ("did you mean ...?")."""
    if isinstance(value, str) and value in choices:
        return value
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ArgumentError(f"`{name}` of `{func}()` must be one of {', '.join(choices)}; got "
                        f"{value!r}{hint}")


def known_keywords(func: Callable[P, R]) -> Callable[P, R]:
    """``func`` whose misspelt keyword is an :class:`~flestimate.errors.ArgumentTypeError` (a
    ``TypeError``, as Python's) naming the closest keyword: "`estimate_prevalence()` has no
    keyword 'imputation'; did you mean 'imputations'?" (Python 3.11 says only "unexpected
    keyword argument")."""
    names = [p.name for p in inspect.signature(func).parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    known = frozenset(names)

    @functools.wraps(func)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        if not known.issuperset(kwargs):
            wrong = next(k for k in kwargs if k not in known)
            close = difflib.get_close_matches(wrong, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ArgumentTypeError(f"`{func.__name__}()` has no keyword {wrong!r}{hint}")
        return func(*args, **kwargs)

    return checked


def progress_bar(total: int, desc: str, progress: bool, unit: str = "replicate") -> Any:
    """A :mod:`tqdm.auto` bar on stderr (a widget in notebooks), disabled unless ``progress``."""
    from tqdm.auto import tqdm  # loaded only when a bar is asked for

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not progress,
                leave=True)


#: The largest weight a design accepts: a weight counts persons, and 1e12 is over a hundred
#: times the world's population. Above it a weight is a data error (a code such as 9.99e99 or
#: 1e308 read as a number), and the sums of squared weights the variance needs overflow.
MAX_WEIGHT = 1e12


def check_weight_range(w: np.ndarray, name: str, data: pd.DataFrame) -> None:
    """Weights above :data:`MAX_WEIGHT`, or whose total or total of squares overflows, are a
    :class:`~flestimate.errors.DesignError` naming the rows and values (a weight of 1e308 would
    otherwise give a 100% share with overflow warnings)."""
    big = np.isfinite(w) & (np.abs(w) > MAX_WEIGHT)
    if big.any():
        rows = data.index[big][:5].tolist()
        shown = ", ".join(f"{r} ({v:.4g})" for r, v in zip(rows, w[big][:5], strict=False))
        raise DesignError(
            f"weights column {name!r} has {int(big.sum())} value(s) above {MAX_WEIGHT:.0e} (more "
            f"persons than any population: a missing-value code or a scaling error?); rows "
            f"(weight): {shown}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(np.sum(w)) and np.isfinite(np.sum(w * w))
    if not finite:
        raise DesignError(f"weights column {name!r}: the total of the weights or of their "
                          f"squares overflows ({len(w)} rows); the weights are too large")
