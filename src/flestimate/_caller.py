"""Warnings that point at the user's line: the ``stacklevel`` of the first frame outside the
package, so that a warning raised deep in the pipeline names the caller's file and line (and a
notebook shows the user's cell, not library source)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from types import FrameType

from flestimate.errors import FlestimateWarning

__all__ = ["caller_stacklevel", "warn_caller"]

_PACKAGE = str(Path(__file__).resolve().parent)


def caller_stacklevel(skip: int = 1) -> int:
    """The ``stacklevel`` that makes :func:`warnings.warn`, called by the function ``skip``
    frames above this one, name the first frame outside flestimate."""
    frame: FrameType | None = sys._getframe(skip)
    level = 1
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(
            _PACKAGE):
        frame = frame.f_back
        level += 1
    return level


def warn_caller(message: str, code: str) -> None:
    """A :class:`FlestimateWarning` with stable ``code``, pointing at the user's line."""
    warnings.warn(FlestimateWarning(message, code), stacklevel=caller_stacklevel())
