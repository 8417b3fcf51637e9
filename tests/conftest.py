"""Shared fixtures: reference data shipped under tests/reference/data."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (the project's determinism rule).
settings.register_profile("flestimate", derandomize=True, deadline=None)
settings.load_profile("flestimate")

DATA = Path(__file__).parent / "reference" / "data"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_script(filename: str, alias: str) -> Iterator[ModuleType]:
    """Import ``benchmarks/<filename>`` as module ``alias`` (the benchmarks are scripts, not a
    package; their directory is on the path while the module is in use, for their own imports
    of each other) and remove both afterwards: ``yield from`` it in a module fixture."""
    spec = importlib.util.spec_from_file_location(alias, BENCHMARKS / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    saved = list(sys.path)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(alias, None)
        sys.path[:] = saved


@pytest.fixture(scope="session")
def api_reference() -> dict:
    return json.loads((DATA / "api_reference.json").read_text())


@pytest.fixture(scope="session")
def lfs_reference() -> dict:
    return json.loads((DATA / "lfs_n20000_r_reference.json").read_text())


def load_api(name: str) -> pd.DataFrame:
    frame = pd.read_csv(DATA / f"{name}.csv")
    frame["sch_wide_yes"] = (frame["sch.wide"] == "Yes").astype(np.int64)
    return frame


@pytest.fixture(scope="session")
def lfs() -> pd.DataFrame:
    return pd.read_parquet(DATA / "lfs_n20000.parquet")


def small_design_frame() -> pd.DataFrame:
    """The hand-worked 2-stratum, 4-PSU example of tests/test_estimate.py."""
    return pd.DataFrame(
        {
            "stratum": [1, 1, 1, 1, 2, 2, 2, 2],
            "psu": [1, 1, 2, 2, 3, 3, 4, 4],
            "w": [10.0, 10.0, 10.0, 10.0, 20.0, 20.0, 20.0, 20.0],
            "y": [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0],
            "dom": ["a", "b", "a", "b", "b", "a", "a", "b"],
            "fpc": [4, 4, 4, 4, 10, 10, 10, 10],
        }
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip live R checks when Rscript is absent."""
    import shutil

    if shutil.which("Rscript"):
        return
    skip = pytest.mark.skip(reason="Rscript not found")
    for item in items:
        if "needs_r" in item.keywords:
            item.add_marker(skip)
