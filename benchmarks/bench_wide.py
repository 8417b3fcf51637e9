"""The main job on wide LFS files: end to end against the bare read of the columns it needs.

Issue 19. The wide files of ``make_wide.py`` (the Moldova-style sample copied to 1,000,000 and
to 94,732 persons, plus 300 LFS-core columns: labelled codes, numbers, text and dates; 355
columns) are read by ``estimate_prevalence(path, "moldova-2008-synthetic", by=["sex",
"region"], missing="minimum")`` with this checkout's code (``new``) and with the code of a
``--before`` checkout (``old``, e.g. a ``git worktree`` of commit 21d97cd), in the same run,
against the bare ``pyreadstat`` read of the columns the run needs (``usecols``,
``user_missing=True`` as ``read_microdata`` reads) and nothing else.

Every measurement runs in a fresh process, after one warm-up call on the shipped sample (lazy
imports, cached rule files) (the ``old`` one with ``PYTHONPATH`` on the before
checkout's ``src``), so that its peak resident memory is its own: the peak is ``VmHWM`` after
``/proc/self/clear_refs`` reset it once the imports are done, less the resident size then. It is
compared with the size of the needed columns as read (the bare read's frame).
The three are measured in interleaved rounds (bare, new, old; again), so that a change of
load on a shared machine falls on all of them.

``--narrow``: also the narrow 1,000,000-person benchmark file of ``bench_prevalence.py`` (55
columns) end to end, new against old, and ``missing="impute"`` against ``missing="minimum"``.

    python benchmarks/bench_wide.py --before /tmp/fl_before --narrow

Results are printed and written to ``benchmarks/results/wide_<n>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SPEC, BY = "moldova-2008-synthetic", ["sex", "region"]
SAV = HERE.parent / "data" / "synthetic" / "moldova_synthetic.sav"
TARGETS = {"e2e_vs_bare_1m": 1.5, "e2e_vs_bare_small": 2.0, "speedup_vs_old": 3.0,
           "peak_vs_needed": 1.2, "impute_vs_minimum": 2.0}


# -- one measurement, in its own process ---------------------------------------------------------
def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(mode: str, path: str, needed: list[str], missing: str) -> dict[str, Any]:
    """Time one call and its peak resident memory above the resident size before it."""
    import warnings

    import pyreadstat

    warnings.simplefilter("ignore")
    if mode == "bare":
        reader = pyreadstat.read_sav if path.endswith(".sav") else pyreadstat.read_dta

        def call() -> Any:
            return reader(path, usecols=needed, user_missing=True)[0]
    else:
        from flestimate import estimate_prevalence

        def call() -> Any:
            return estimate_prevalence(path, SPEC, by=BY, missing=missing)

        # warm-up on the shipped sample: lazy imports (scipy) and caches are not the file's cost
        estimate_prevalence(SAV, SPEC, by=BY, missing=missing, imputations=2)
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM: the imports are not the call's
    base = _rss_mib("VmRSS")
    start = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - start
    result = {"seconds": seconds, "peak_mib": _rss_mib("VmHWM") - base}
    if mode == "bare":
        result["needed_mib"] = float(out.memory_usage(index=False, deep=True).sum()) / 2**20
        result["needed_columns"] = out.shape[1]
    return result


def measure(mode: str, path: Path, needed: list[str], reps: int, before: Path | None,
            missing: str = "minimum") -> dict[str, Any]:
    """The median time of ``reps`` fresh processes and their largest peak."""
    env = dict(os.environ)
    if mode == "old":
        assert before is not None
        env["PYTHONPATH"] = str(before / "src")
    runs = []
    for _ in range(reps):
        done = subprocess.run([sys.executable, __file__, "--worker", mode, str(path),
                               ",".join(needed), missing], env=env, capture_output=True,
                              text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    out = {"seconds": float(np.median([r["seconds"] for r in runs])),
           "runs_s": [round(r["seconds"], 3) for r in runs],
           "peak_mib": float(max(r["peak_mib"] for r in runs))}
    for key in ("needed_mib", "needed_columns"):
        if key in runs[0]:
            out[key] = runs[0][key]
    progress(f"{mode:>4} {missing:>7} {path.name}: {out['seconds']:.2f} s, peak "
             f"{out['peak_mib']:.0f} MiB")
    return out


def _combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Single-run measurements as one: the median time, every run, the largest peak."""
    times = [t for r in runs for t in r["runs_s"]]
    out = {**runs[0], "seconds": float(np.median(times)), "runs_s": times,
           "peak_mib": float(max(r["peak_mib"] for r in runs))}
    return out


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def needed_for(path: Path) -> list[str]:
    """The columns this checkout's main job reads from ``path``."""
    from flestimate.io import column_names
    from flestimate.report._imputed import NONRESPONSE_CLASSES
    from flestimate.report._inputs import module_spec, needed_columns

    spec = module_spec(SPEC)
    names = column_names(path) or []
    return needed_columns(spec, None, BY, (), spec.nonresponse_classes
                          or NONRESPONSE_CLASSES).of(names)


# -- the comparisons -------------------------------------------------------------------------------
def wide_case(path: Path, reps: int, old_reps: int, before: Path, small: bool
              ) -> dict[str, Any]:
    needed = needed_for(path)
    # interleaved rounds (bare, new, old): a load change on the shared machine hits all three
    rounds: dict[str, list[dict[str, Any]]] = {"bare": [], "new": [], "old": []}
    for i in range(max(reps, old_reps)):
        for mode in ("bare", "new", "old"):
            if i < (old_reps if mode == "old" else reps):
                rounds[mode].append(measure(mode, path, needed, 1, before))
    bare, new, old = (_combined(rounds[m]) for m in ("bare", "new", "old"))
    target = TARGETS["e2e_vs_bare_small" if small else "e2e_vs_bare_1m"]
    ratios = {"e2e_vs_bare": new["seconds"] / bare["seconds"],
              "speedup_vs_old": old["seconds"] / new["seconds"],
              "peak_vs_needed": new["peak_mib"] / bare["needed_mib"],
              "old_peak_vs_needed": old["peak_mib"] / bare["needed_mib"]}
    met = {"e2e_vs_bare": ratios["e2e_vs_bare"] <= target,
           "speedup_vs_old": ratios["speedup_vs_old"] >= TARGETS["speedup_vs_old"],
           "peak_vs_needed": ratios["peak_vs_needed"] <= TARGETS["peak_vs_needed"]}
    return {"file": path.name, "size_mib": path.stat().st_size / 2**20,
            "needed": needed, "bare_read": bare, "new": new, "old": old, "ratios": ratios,
            "targets": {"e2e_vs_bare": target, "speedup_vs_old": TARGETS["speedup_vs_old"],
                        "peak_vs_needed": TARGETS["peak_vs_needed"]}, "met": met}


def narrow_case(reps: int, before: Path) -> dict[str, Any]:
    from bench_prevalence import make_sample
    from make_wide import cache_dir

    path = cache_dir() / "narrow_1000000.sav"
    if not path.exists():
        make_sample(1_000_000, path)
    needed = needed_for(path)
    out: dict[str, Any] = {"file": path.name}
    for missing in ("minimum", "impute"):
        for mode in ("new", "old"):
            out[f"{mode}_{missing}"] = measure(mode, path, needed, reps, before, missing)
    out["ratios"] = {
        "new_vs_old_minimum": out["new_minimum"]["seconds"] / out["old_minimum"]["seconds"],
        "impute_vs_minimum_new": out["new_impute"]["seconds"] / out["new_minimum"]["seconds"],
        "impute_vs_minimum_old": out["old_impute"]["seconds"] / out["old_minimum"]["seconds"]}
    out["met"] = {"narrow_no_slower": out["ratios"]["new_vs_old_minimum"] <= 1.0,
                  "impute_vs_minimum": out["ratios"]["impute_vs_minimum_new"]
                  <= TARGETS["impute_vs_minimum"]}
    return out


def report(case: dict[str, Any]) -> None:
    print(f"\n{case['file']}" + (f" ({case['size_mib']:.0f} MiB)" if "size_mib" in case else ""))
    for key in ("bare_read", "new", "old", "new_minimum", "old_minimum", "new_impute",
                "old_impute"):
        if key in case:
            r = case[key]
            print(f"  {key:<12} {r['seconds']:8.2f} s  peak {r['peak_mib']:7.0f} MiB"
                  + (f"  (needed columns as read: {r['needed_mib']:.0f} MiB, "
                     f"{r['needed_columns']} columns)" if "needed_mib" in r else ""))
    for name, value in case["ratios"].items():
        verdict = case["met"].get(name)
        print(f"  {name:<24} {value:6.2f}" + ("" if verdict is None else
                                               f"  target {'met' if verdict else 'NOT met'}"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--worker", nargs=4, metavar=("MODE", "PATH", "NEEDED", "MISSING"))
    ap.add_argument("--before", type=Path, default=Path("/tmp/fl_before"))
    ap.add_argument("--n", type=int, nargs="+", default=[1_000_000, 94_732])
    ap.add_argument("--formats", nargs="+", default=["sav", "dta"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--old-reps", type=int, default=1)
    ap.add_argument("--narrow", action="store_true")
    args = ap.parse_args(argv)
    if args.worker:
        mode, path, needed, missing = args.worker
        print(json.dumps(worker(mode, path, needed.split(","), missing)))
        return 0
    from make_wide import make_wide

    from flestimate import __version__

    results: dict[str, Any] = {"flestimate": __version__, "before": str(args.before),
                               "cpus": os.cpu_count(), "load_average_start": os.getloadavg(),
                               "cases": []}
    for n in args.n:
        formats = tuple(args.formats) if n >= 1_000_000 else ("sav",)
        for path in make_wide(n, formats).values():
            case = wide_case(path, args.reps, args.old_reps, args.before, n < 1_000_000)
            report(case)
            results["cases"].append(case)
    if args.narrow:
        case = narrow_case(args.reps, args.before)
        report(case)
        results["narrow"] = case
    results["load_average_end"] = os.getloadavg()
    out = HERE / "results" / f"wide_{max(args.n)}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
