"""estimate_prevalence in memory against the dask path (partitions mapped, classified and
collapsed one by one), on a larger Moldova-style synthetic sample.

A sample is drawn with :func:`flestimate.synthetic.generate` (10,000 households) and stacked
``--copies`` times with new household and PSU ids (new PSUs in the same strata, weights divided
by the number of copies), the way ``bench_classify.py`` grows its frame; the dask frame is cut at household boundaries into 1, 4 and 16 partitions and run with the
threaded scheduler. Both paths must give the same table (checked to 1e-10); the script prints
the times and the ratios to the in-memory time.

    python benchmarks/bench_dask.py --copies 20
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import flestimate as fe
from flestimate import synthetic

SPEC = "moldova-2008-synthetic"
BY = ["sex", "region"]


def partitioned(frame: pd.DataFrame, k: int) -> object:
    import dask.dataframe as dd

    starts = np.flatnonzero(frame["hh_id"].ne(frame["hh_id"].shift()).to_numpy())
    cuts = [int(starts[np.searchsorted(starts, len(frame) * i // k)]) for i in range(1, k)]
    divisions = sorted({0, *cuts, len(frame) - 1})
    return dd.from_pandas(frame, npartitions=1).repartition(divisions=divisions)


def best(fn, reps: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    import dask

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scheduler", default="threads")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    persons = synthetic.generate("moldova").persons
    persons = persons.astype({"hh_id": np.int64, "psu": np.int64})
    frame = pd.concat([persons.assign(hh_id=persons["hh_id"] + c * 10_000_000,
                                      psu=persons["psu"] + c * 1_000_000,
                                      w_pers=persons["w_pers"] / args.copies)
                       for c in range(args.copies)], ignore_index=True)
    frame = frame.sort_values("hh_id", kind="stable").reset_index(drop=True)
    print(f"{len(frame):,} persons, {frame['hh_id'].nunique():,} households, "
          f"{frame['psu'].nunique():,} PSUs")
    t_mem, ref = best(lambda: fe.estimate_prevalence(frame, SPEC, by=BY), args.reps)
    print(f"in memory          {t_mem:8.2f} s")
    for k in (1, 4, 16):
        ddf = partitioned(frame, k)
        with dask.config.set(scheduler=args.scheduler):
            t, rep = best(lambda ddf=ddf: fe.estimate_prevalence(ddf, SPEC, by=BY), args.reps)
        pd.testing.assert_frame_equal(rep.to_frame(), ref.to_frame(), rtol=1e-10)  # type: ignore[attr-defined]
        print(f"dask, {k:2d} partitions {t:8.2f} s   ratio {t / t_mem:5.2f}")


if __name__ == "__main__":
    main()
