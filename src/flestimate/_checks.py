"""Argument checks shared by every public function, with the library's one message format:
"`name` of `func()` must be ...; got value" (docs: errors.py).

A wrong type is an :class:`~flestimate.errors.ArgumentTypeError` (a ``TypeError``), a value of
the right type out of range or not among the choices an :class:`~flestimate.errors.ArgumentError`
(a ``ValueError``), whatever the function.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from flestimate.errors import ArgumentError, ArgumentTypeError

__all__ = ["check_choice", "check_df", "check_level", "progress_bar"]


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


def check_choice(value: Any, choices: Sequence[str], name: str, func: str) -> str:
    """``value`` if it is one of ``choices``; otherwise an error listing them, with the
    closest as a hint ("did you mean ...?")."""
    if isinstance(value, str) and value in choices:
        return value
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ArgumentError(f"`{name}` of `{func}()` must be one of {', '.join(choices)}; got "
                        f"{value!r}{hint}")


def progress_bar(total: int, desc: str, progress: bool, unit: str = "replicate") -> Any:
    """A :mod:`tqdm.auto` bar on stderr (a widget in notebooks), disabled unless ``progress``."""
    from tqdm.auto import tqdm  # loaded only when a bar is asked for

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not progress,
                leave=True)
