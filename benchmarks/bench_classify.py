"""Classification speed: 1 million respondents through every built-in rule set.

The respondents are the Moldova-style synthetic sample's universe (2,954 persons, 35 canonical
indicators with their real missing-value patterns), repeated with new household ids until the
frame has ``--n`` rows. No other library classifies respondents, so there is no peer to run side
by side; the figure to beat is "seconds, not minutes" (issue: classification).

    python benchmarks/bench_classify.py --n 1000000
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

import flestimate as fe

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"


def frame(n: int) -> pd.DataFrame:
    mapped = fe.load_spec("moldova-2008-synthetic").apply(
        fe.read_microdata(DATA / "moldova_synthetic.sav"))
    base = mapped.frame.reset_index(drop=True)
    reps = -(-n // len(base))
    out = pd.concat([base] * reps, ignore_index=True).iloc[:n].copy()
    copy = np.repeat(np.arange(reps), len(base))[:n]
    out["household"] = out["household"].to_numpy() + copy * 1_000_000
    return out


def timed(label: str, fn, reps: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    best = float(np.median(times))
    print(f"{label:<58} {best:8.2f} s")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    data = frame(args.n)
    print(f"flestimate classification benchmark: {len(data):,} respondents, "
          f"{sum(c.startswith(('inv_', 'pen_')) for c in data.columns)} indicators; "
          f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}; "
          f"median of {args.reps}")
    cases = [
        ("icls2018 + seed2007 (defaults), with household link", {}),
        ("htshtc2012_dimension (plain penalties in every dimension)",
         {"forced_labour": "htshtc2012_dimension", "plain_penalties": "every_dimension"}),
        ("htshtc2012_strong", {"forced_labour": "htshtc2012_strong",
                               "plain_penalties": "every_dimension"}),
        ("delphi2009 trafficking", {"trafficking": "delphi2009",
                                    "plain_penalties": "every_dimension"}),
    ]
    result = None
    for label, kwargs in cases:
        timed(label, lambda kw=kwargs: fe.classify(data, **kw), args.reps)
    result = fe.classify(data)
    timed("to_frame()", result.to_frame, args.reps)
    timed("evidence (long table of fired and missing indicators)",
          lambda: result.evidence, args.reps)
    timed("indicator_table(weights=...)", lambda: result.indicator_table(weights="w_pers"),
          args.reps)
    tracemalloc.start()
    fe.classify(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = data.memory_usage(deep=True).sum()
    print(f"peak traced memory of classify(): {peak / 2**20:,.0f} MiB "
          f"({peak / size:.2f}x the input frame, {size / 2**20:,.0f} MiB)")
    print(result.to_frame()["status"].value_counts().to_string())


if __name__ == "__main__":
    main()
