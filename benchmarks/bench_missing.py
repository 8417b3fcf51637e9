"""Speed of the imputed headline against the minimum estimate, on the main job at scale.

The shipped Moldova-style sample is copied until it has ``--n`` persons (as
``bench_prevalence.py`` does: new PSU and household ids per copy, the same strata) and written to
a temporary ``.sav``. Then ``estimate_prevalence(path, spec, by=["sex", "region"])`` runs end to
end with ``missing="minimum"`` and with ``missing="impute"`` (``--imputations``, 20), and the
imputation's own stages are timed: fitting the model, drawing and classifying the completions
(``with_imputations``), and the estimation with every completion and Rubin's rules
(``Prepared.estimate``). Each timing is the median of ``--reps`` runs after one warm-up run.

    python benchmarks/bench_missing.py --n 1000000

Results are printed and written to ``benchmarks/results/missing_speed_<n>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_prevalence import make_sample  # noqa: E402

import flestimate as fe  # noqa: E402
from flestimate.classification import classify  # noqa: E402
from flestimate.impute import seed_sequence  # noqa: E402
from flestimate.mapping import load_spec  # noqa: E402
from flestimate.report._pipeline import parse_margins, prepare, with_imputations  # noqa: E402
from flestimate.report._reliability import load_reliability  # noqa: E402

SPEC = "moldova-2008-synthetic"
BY = ["sex", "region"]


def timed(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    result = fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--imputations", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    out: dict[str, Any] = {"n": args.n, "imputations": args.imputations, "reps": args.reps,
                           "machine": f"{platform.machine()}, {platform.python_version()}",
                           "version": fe.__version__, "seconds": {}}
    sec = out["seconds"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample.sav"
        make_sample(args.n, path)
        sec["minimum, end to end"], _ = timed(
            lambda: fe.estimate_prevalence(path, SPEC, by=BY, missing="minimum"), args.reps)
        sec["impute, end to end"], report = timed(
            lambda: fe.estimate_prevalence(path, SPEC, by=BY, imputations=args.imputations),
            args.reps)
        spec, margins = load_spec(SPEC), parse_margins(BY)
        full = fe.read_microdata(path).frame
        mapped = spec.apply(full)
        options = {"forced_labour": "icls2018", "trafficking": "seed2007",
                   "child": "child2018", "form": "ilo2005", "indicators": None,
                   "plain_penalties": "unknown_dimension"}
        cls = classify(mapped, **options)
        prep = prepare(full, mapped, cls, spec, margins, None, str(path))
        rules = load_reliability("nchs2017")
        estimate_args = {"ci": "korn-graubard", "level": 0.95, "df": None, "rules": rules,
                         "margins": margins}
        sec["minimum: Prepared.estimate"], _ = timed(lambda: prep.estimate(**estimate_args),
                                                     args.reps)
        sec["impute: with_imputations (model, completions, their classification)"], mi = timed(
            lambda: with_imputations(prep, full, mapped, cls, margins, options,
                                     imputations=args.imputations, seed=None,
                                     seed_seq=seed_sequence(None, "bench")), args.reps)
        sec["impute: Prepared.estimate (every completion, Rubin's rules)"], _ = timed(
            lambda: mi.estimate(**estimate_args), args.reps)
        imp = mi.imputed
        out["completed_rows"] = int(imp.completed_rows.size)
        out["universe"] = int(report.provenance["universe"]["in_universe"])
    out["ratio"] = sec["impute, end to end"] / sec["minimum, end to end"]
    width = max(map(len, sec))
    for k, v in sec.items():
        print(f"{k:<{width}}  {v:8.2f} s")
    print(f"impute / minimum, end to end: {out['ratio']:.2f}x "
          f"({out['completed_rows']:,} of {out['universe']:,} universe rows completed, "
          f"M = {args.imputations})")
    res = HERE / "results" / f"missing_speed_{args.n}.json"
    res.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
