"""Helpers of the configuration-file cases (specs, rules, reliability rules, batch files):
texts that exhaust a naive loader, and a check that the error comes fast and small."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from flestimate.errors import SpecError

#: Generous bounds for the resource cases (each takes well under a second and a few MB).
SECONDS, MEGABYTES = 5.0, 100.0


def alias_bomb(key: str, levels: int = 9, width: int = 9, indent: str = "") -> str:
    """YAML lines defining ``x-l0 .. x-l<levels-1>``, each a list of ``width`` aliases to the
    one before ("billion laughs"), and ``key: *x-l<last>``. Anchors are set on `x-` keys."""
    lines = [f"{indent}x-l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"{indent}x-l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + f"\n{indent}{key}: *l{levels - 1}\n"


def nested_block(key: str, depth: int, leaf: str = "1") -> str:
    """``key:`` followed by ``depth`` levels of block mappings ``a:``."""
    lines = [f"{key}:"] + ["  " * (i + 1) + "a:" for i in range(depth - 1)]
    return "\n".join(lines) + f" {leaf}\n"


def raises_within(call: Callable[[], Any], *words: str) -> SpecError:
    """``call()`` raises a SpecError whose message holds every word, within SECONDS and with a
    traced memory peak under MEGABYTES."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(SpecError) as info:
            call()
    finally:
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < SECONDS, elapsed
    assert peak / 1e6 < MEGABYTES, peak
    message = str(info.value)
    for w in words:
        assert w in message, (w, message)
    assert "\n" not in message
    return info.value
