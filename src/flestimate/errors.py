"""One error base and one warning base for flestimate.

Every error raised on bad input subclasses :class:`FlestimateError`, and also ``ValueError`` or
``TypeError`` where that fits, so ``except ValueError`` in user code keeps working. Messages
follow one format: what is wrong, where (file, column, rows, key), and what was received, e.g.
"`level` of `proportion()` must be a float in (0, 1); got 95".

Warnings subclass :class:`FlestimateWarning` and carry a stable ``code`` (``LONELY_PSU``,
``SMALL_CELL``, ``ZERO_COUNT``, ``MISSING_ITEMS``, ...) so that users can filter on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "ArgumentError",
    "ArgumentTypeError",
    "DataError",
    "DesignError",
    "EstimationError",
    "FlestimateError",
    "FlestimateWarning",
    "LonelyPSUError",
    "OutputError",
    "RecruitmentError",
    "SpecError",
    "format_values",
]


class FlestimateError(Exception):
    """Base of every error flestimate raises on purpose."""


class DesignError(FlestimateError, ValueError):
    """The sample design is invalid: weights, strata, PSUs, FPC or lonely PSUs."""


class LonelyPSUError(DesignError):
    """A stratum has a single PSU and ``lonely_psu="fail"`` was asked for."""


class DataError(FlestimateError, ValueError):
    """The data are unusable: a missing column, a wrong type, an unreadable file."""


class RecruitmentError(DataError):
    """A respondent-driven sampling recruitment table is broken: a recruiter id not in the
    table, a respondent who recruits themselves, a cycle that never reaches a seed, duplicated
    ids or no seed at all; the message names the ids."""


class SpecError(FlestimateError, ValueError):
    """A module spec or rule set is invalid; the message names the file and key."""


class ArgumentError(FlestimateError, ValueError):
    """An argument has an invalid value."""


class ArgumentTypeError(FlestimateError, TypeError):
    """An argument has an invalid type."""


class EstimationError(FlestimateError, ValueError):
    """An estimate cannot be computed from valid inputs (e.g. an empty denominator)."""


class OutputError(FlestimateError, OSError):
    """An output file or folder cannot be written (or is in use by another run); also an
    ``OSError``. Nothing is left half-written: files are written to a temporary name and
    renamed."""


class FlestimateWarning(UserWarning):
    """Base of flestimate's warnings; ``code`` is a stable identifier."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code


def _value_text(value: Any) -> str:
    """A string quoted; a whole float as an integer (a code read as float: 14, not 14.0)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_values(values: Iterable[Any], limit: int = 5) -> str:
    """Render the first ``limit`` offending values (or row ids) for an error message."""
    items: Sequence[Any] = list(values)
    shown = ", ".join(_value_text(v) for v in items[:limit])
    more = len(items) - limit
    return f"{shown}, ... ({more} more)" if more > 0 else shown
