"""Speed of the report step (``Prepared.estimate``) against the class shares it is built on,
before and after a change, in the same run (issue 19, item 3).

The shipped Moldova-style sample is copied until it has ``--n`` persons, as
``bench_prevalence.py`` copies it (new PSU and household ids per copy, the same strata), but in
memory (``bench_prevalence.py`` checks that the ``.sav`` round trip gives the same frame), then
mapped, classified and prepared; with ``missing="impute"`` the ``--imputations`` completions are
drawn (seed fixed). Then, one after the other and each the median of ``--reps`` runs after one
warm-up run:

* ``class shares``: ``proportion`` of the 25 class columns (points and bounds) in the universe,
  nationally, by sex and by region, on the prepared design (built outside the timing), summed;
* ``report step``: ``Prepared.estimate(ci="korn-graubard", by sex and region)``: shares, numbers,
  shares by form, intervals, reliability, disclosure (it declares its design itself).

Each source tree is timed in its own subprocess (``PYTHONPATH=<tree>/src``): the working tree
("after") and ``--before`` (a commit checked out into a temporary ``git worktree``, removed at the
end). The report tables of both are compared (max relative difference of every number).

    python benchmarks/bench_report.py --n 1000000 --before 21d97cd [--clock cpu]

``--clock cpu`` times the process's CPU time (``time.process_time``) instead of the wall time:
on a machine that other jobs load, the wall time of the same code moves by tens of percent.

Results are printed and written to ``benchmarks/results/report_step_<n>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC, BY = "moldova-2008-synthetic", ["sex", "region"]
U = "_fl_universe"
MODES = ("minimum", "impute")


def _median_ms(fn: Any, reps: int, clock: Any = time.perf_counter) -> tuple[float, Any]:
    result = fn()  # warm-up
    times = []
    for _ in range(reps):
        t = clock()
        result = fn()
        times.append(clock() - t)
    return 1e3 * float(np.median(times)), result


def worker(n: int, mode: str, reps: int, imputations: int, out: Path, clock_name: str = "wall"
           ) -> None:
    """Prepare the sample with the flestimate on ``sys.path`` and time both steps."""
    clock = time.process_time if clock_name == "cpu" else time.perf_counter
    from flestimate import load_spec, read_microdata
    from flestimate.classification import classify
    from flestimate.estimate import proportion
    from flestimate.report._pipeline import parse_margins, prepare
    from flestimate.report._reliability import load_reliability

    warnings.simplefilter("ignore")
    base = read_microdata(ROOT / "data" / "synthetic" / "moldova_synthetic.sav").frame
    k = -(-n // len(base))
    copy = np.repeat(np.arange(k), len(base))[:n]
    df = pd.concat([base] * k, ignore_index=True).iloc[:n].copy()
    df["psu"] = df["psu"].to_numpy() + copy * 100_000
    df["hh_id"] = df["hh_id"].to_numpy() + copy * 1_000_000
    spec, margins = load_spec(SPEC), parse_margins(BY)
    full = spec.merge_households(df, None)
    mapped = spec.apply(full)
    options = {"forced_labour": "icls2018", "trafficking": "seed2007", "child": "child2018",
               "form": "ilo2005", "indicators": None, "plain_penalties": "unknown_dimension"}
    cls = classify(mapped, **options)
    prep = prepare(full, mapped, cls, spec, margins, None, "bench")
    if mode == "impute":
        from flestimate.impute import seed_sequence
        from flestimate.report._pipeline import with_imputations

        prep = with_imputations(prep, full, mapped, cls, margins, options,
                                imputations=imputations, seed=20261129,
                                seed_seq=seed_sequence(20261129, "bench"))
    rules = load_reliability("nchs2017")
    design = prep.design()
    cols = list(prep.outcomes.columns)
    shares_ms = {}
    for label, by in (("national", None), ("by sex", "sex"), ("by region", "region")):
        shares_ms[label], _ = _median_ms(
            lambda by=by: proportion(design, cols, by=by, subpop=U, covmat=None), reps, clock)
    report_ms, report = _median_ms(lambda: prep.estimate(
        ci="korn-graubard", level=0.95, df=None, rules=rules, margins=margins), reps, clock)
    universe = int(prep.frame[U].sum())
    with out.open("wb") as fh:
        pickle.dump({"shares_ms": shares_ms, "report_ms": report_ms, "columns": len(cols),
                     "universe": universe, "table": report.to_frame()}, fh)


def run_tree(src: Path, n: int, mode: str, reps: int, imputations: int, tmp: Path,
             clock: str = "wall") -> dict[str, Any]:
    out = tmp / f"{src.parent.name}_{mode}.pkl"
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, __file__, "--worker", "--n", str(n), "--mode", mode,
                    "--reps", str(reps), "--imputations", str(imputations), "--out", str(out),
                    "--clock", clock], check=True, env=env)
    with out.open("rb") as fh:
        res: dict[str, Any] = pickle.load(fh)  # noqa: S301 (our own worker wrote it)
    return res


def max_rel_diff(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """The largest relative difference of the numbers of two report tables (inf when their
    shapes or texts differ)."""
    if a.shape != b.shape or list(a.columns) != list(b.columns):
        return float("inf")
    worst = 0.0
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            u, v = x.to_numpy(float), y.to_numpy(float)
            if not np.array_equal(np.isnan(u), np.isnan(v)):
                return float("inf")
            ok = ~np.isnan(u)
            scale = np.maximum(np.abs(u[ok]), np.abs(v[ok]))
            d = np.abs(u[ok] - v[ok])
            rel = np.where(scale > 0, d / np.where(scale > 0, scale, 1.0), 0.0)
            worst = max(worst, float(rel.max()) if rel.size else 0.0)
        elif not x.astype(str).equals(y.astype(str)):
            return float("inf")
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--imputations", type=int, default=20)
    ap.add_argument("--before", default=None, help="commit to time against (git worktree)")
    ap.add_argument("--mode", choices=MODES, default=None, help="one mode only")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time (perf_counter) or the process's CPU time (process_time: "
                         "steadier on a loaded machine)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.n, args.mode, args.reps, args.imputations, args.out, args.clock)
        return 0
    modes = [args.mode] if args.mode else list(MODES)
    trees: dict[str, Path] = {"after": ROOT / "src"}
    results: dict[str, Any] = {
        "n": args.n, "reps": args.reps, "imputations": args.imputations, "clock": args.clock,
        "load_average_start": os.getloadavg()[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}", "before": args.before, "modes": {}}
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp_name:
        tmp = Path(tmp_name)
        worktree = tmp / "before"
        if args.before:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree),
                            args.before], check=True, capture_output=True)
            trees = {"before": worktree / "src", **trees}
        try:
            for mode in modes:
                runs = {name: run_tree(src, args.n, mode, args.reps, args.imputations, tmp,
                                       args.clock)
                        for name, src in trees.items()}
                entry: dict[str, Any] = {}
                for name, r in runs.items():
                    shares = sum(r["shares_ms"].values())
                    entry[name] = {"class_shares_ms": r["shares_ms"],
                                   "class_shares_total_ms": shares,
                                   "report_step_ms": r["report_ms"],
                                   "report_over_shares": r["report_ms"] / shares}
                    entry["universe"], entry["class_columns"] = r["universe"], r["columns"]
                if "before" in runs:
                    entry["speedup"] = runs["before"]["report_ms"] / runs["after"]["report_ms"]
                    entry["max_rel_diff_tables"] = max_rel_diff(runs["before"]["table"],
                                                                runs["after"]["table"])
                results["modes"][mode] = entry
        finally:
            if args.before:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(worktree)], check=False, capture_output=True)
    results["load_average_end"] = os.getloadavg()[0]
    for mode, entry in results["modes"].items():
        print(f"missing={mode!r}: n={args.n:,}, universe {entry['universe']:,}, "
              f"{entry['class_columns']} class columns, {args.clock} time, load "
              f"{results['load_average_start']:.2f} -> {results['load_average_end']:.2f}")
        for name in trees:
            e = entry[name]
            print(f"  {name:6s}  class shares {e['class_shares_total_ms']:8.1f} ms  "
                  f"report step {e['report_step_ms']:8.1f} ms  "
                  f"ratio {e['report_over_shares']:.2f}x")
        if "speedup" in entry:
            print(f"  report step before/after: {entry['speedup']:.2f}x; tables agree to "
                  f"{entry['max_rel_diff_tables']:.1e} (max relative difference)")
    path = args.out or HERE / "results" / f"report_step_{args.n}.json"
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
