"""Contract factories of :mod:`flestimate.global_estimates`: the reproduction of a shipped
publication (``gems2016``, the smallest)."""

from __future__ import annotations

from collections.abc import Callable

from flestimate.global_estimates import Reproduction, reproduce
from flestimate.results import Result


def reproduction() -> Reproduction:
    return reproduce("gems2016")


FACTORIES: dict[str, Callable[[], Result]] = {"Reproduction": reproduction}
