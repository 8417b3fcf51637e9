"""Contract factories of :mod:`flestimate.batch`: a :class:`BatchResult` of a one-survey batch
(the shipped Moldova file, one table, CSV only, in this process) run in a temporary folder."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path

from flestimate.batch import BatchResult, run_batch
from flestimate.results import Result

DATA = Path(__file__).parents[2] / "data" / "synthetic"

BATCH = f"""
[output]
formats = ["csv"]
reports = false

[[survey]]
id = "MDA-2008"
country = "MDA"
year = 2008
file = "{(DATA / 'moldova_synthetic.sav').as_posix()}"
spec = "moldova-2008-synthetic"
tables = ["prevalence"]
missing = "minimum"
"""


@functools.cache
def batch_result() -> BatchResult:
    """One run (about 1.5 s), shared: the result is immutable."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.toml"
        path.write_text(BATCH, encoding="utf-8")
        return run_batch(path, jobs=1, progress=False)


FACTORIES: dict[str, Callable[[], Result]] = {"BatchResult": batch_result}
