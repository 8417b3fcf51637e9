"""Time flestimate's survey-weighted logistic regression and chi-square test against svy and R.

One run generates the stratified cluster sample of ``bench_core.py`` (``--n`` persons, 600 PSUs
in 40 strata, 10 binary indicators ``y0..y9``, ``region`` with 10 levels, ``group`` with 5, a
``migrant`` flag) plus two continuous covariates, ``age`` (15 to 80, whole years) and ``x``
(standard normal), and times, in every library, on the same rows:

* ``design``: declaring the design (timed as its own row);
* ``glm``: the logistic regression of ``y9`` on 10 terms, Taylor (sandwich) variance:
  ``y9 ~ C(region) + C(group) + migrant + age + x + y0 + y1 + y2 + y3 + y4`` (22
  coefficients; R ``svyglm(..., family = quasibinomial())``);
* ``chisq``: the test of association of ``region`` (10 levels) and ``group`` (5 levels), a
  10 x 5 table, with the Rao-Scott second-order correction (R ``svychisq(..., statistic =
  "F")``).

Each task is run once to warm up, then ``--reps`` times; the table gives the median wall time
and the ratios peer / flestimate. The coefficients and SEs of every peer are compared with
flestimate's (the coefficients relative to their SE, the SEs relatively), and so are the
chi-square test's F statistic, its two df and its p-value. All three fit the GLM to the same
convergence (the deviance rule with epsilon 1e-12). svy and Rscript are optional: a peer that
is not installed or fails is skipped with a note.

Usage::

    python benchmarks/bench_models.py --n 1000000
    python benchmarks/bench_models.py --n 200000 --reps 3 --skip R     # quick

Results are printed and written to ``benchmarks/results/models_<n>.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_core import (
    DEFAULT_SEED,
    N_PSU,
    OTHER_LOAD_WARN,
    PeerRun,
    Timing,
    cpu_snapshot,
    dist_version,
    fmt_ms,
    fmt_ratio,
    format_table,
    hardware,
    make_data,
    other_cpu_load,
    ratio,
    source_state,
    time_calls,
    write_csv,
)

from flestimate import SurveyDesign
from flestimate import __version__ as flestimate_version

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
R_SCRIPT = HERE / "bench_models_r.R"

TASKS = ("glm", "chisq")
ROWS = ("design", *TASKS)
PEERS = ("svy", "R survey")
COVARIATES = ["migrant", "age", "x", "y0", "y1", "y2", "y3", "y4"]
FORMULA = "y9 ~ C(region) + C(group) + " + " + ".join(COVARIATES)
COLUMNS = ["w", "stratum", "psu", "region", "group", "y9", *COVARIATES]
TOLERANCE = 1e-12  # every library's IRLS stops on the deviance rule with this epsilon
AGREEMENT_TOL = 1e-6
TARGETS = {"svy": 1.0, "R survey": 10.0}  # flestimate at least this many times faster


def make_model_data(n: int, seed: int) -> pd.DataFrame:
    """``bench_core.make_data`` plus ``age`` (uniform whole years 15 to 80) and ``x`` (standard
    normal), drawn from their own generator so the core columns are the same as bench_core's."""
    df = make_data(n, seed)
    rng = np.random.default_rng(seed + 18)
    df["age"] = rng.integers(15, 81, len(df)).astype(np.float64)
    df["x"] = rng.normal(0.0, 1.0, len(df))
    return df[COLUMNS]


# -- the peers ----------------------------------------------------------------------------------
def run_flestimate(df: pd.DataFrame, reps: int) -> PeerRun:
    run = PeerRun("flestimate", flestimate_version, len(df))
    run.timings["design"], design = time_calls(
        lambda: SurveyDesign(df, weights="w", strata="stratum", psu="psu"), reps)
    run.timings["glm"], fit = time_calls(lambda: design.glm(FORMULA, "binomial"), reps)
    run.timings["chisq"], test = time_calls(lambda: design.chisq("region", "group"), reps)
    table = fit.to_frame()
    row = test.to_frame().iloc[0]
    run.estimates["glm"] = pd.DataFrame({"term": table["term"], "estimate": table["estimate"],
                                         "se": table["se"]})
    run.estimates["chisq"] = pd.DataFrame([{"value": row["value"], "ndf": row["ndf"],
                                            "ddf": row["ddf"], "p_value": row["p_value"]}])
    return run


def run_svy(df: pd.DataFrame, reps: int) -> PeerRun:
    try:
        import polars as pl
        import svy
        from svy.core.terms import Cat
    except ImportError as exc:
        return PeerRun("svy", note=f"skipped: svy not importable ({exc})")
    run = PeerRun("svy", dist_version("svy"), len(df))
    data = pl.from_pandas(df)  # svy works on polars frames: converted outside the timing
    spec = svy.Design(stratum="stratum", psu="psu", wgt="w", wr=True)
    run.timings["design"], sample = time_calls(lambda: svy.Sample(data, spec), reps)
    run.timings["design"].note = "svy builds its design codes lazily, in the first estimate"
    x = [Cat("region"), Cat("group"), *COVARIATES]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run.timings["glm"], fit = time_calls(
                lambda: sample.glm.fit("y9", x=x, family="binomial", tol=TOLERANCE), reps)
            run.timings["chisq"], table = time_calls(
                lambda: sample.categorical.tabulate("region", "group"), reps)
    except Exception as exc:  # a peer's failure is reported, never fatal to the benchmark
        run.note = f"failed: {type(exc).__name__}: {exc}"
        return run
    coefs = fit.fitted.coefs
    run.estimates["glm"] = pd.DataFrame({"term": [c.term for c in coefs],
                                         "estimate": [float(c.est) for c in coefs],
                                         "se": [float(c.se) for c in coefs]})
    f = table.stats.f
    run.estimates["chisq"] = pd.DataFrame([{"value": float(f.value), "ndf": float(f.df_num),
                                            "ddf": float(f.df_den),
                                            "p_value": float(f.p_value)}])
    return run


def run_r(df: pd.DataFrame, reps: int, budget_s: float) -> PeerRun:
    """R survey through ``bench_models_r.R``: R times only its own calls (not reading)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return PeerRun("R survey", note="skipped: Rscript not found")
    with tempfile.TemporaryDirectory(prefix="bench_models_") as tmp:
        csv = Path(tmp) / "data.csv"
        write_csv(df, csv)
        cmd = [rscript, str(R_SCRIPT), str(csv), str(reps), f"{budget_s:g}"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                  timeout=10 * budget_s + 600)
        except subprocess.TimeoutExpired:
            return PeerRun("R survey", note="skipped: Rscript timed out")
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return PeerRun("R survey", note=f"skipped: Rscript failed: {' | '.join(tail)}")
    out = json.loads(proc.stdout)
    r_version = out["r_version"].removeprefix("R version ").split(" (")[0]
    run = PeerRun("R survey", f"{out['survey_version']} (R {r_version})", len(df))
    for row in ROWS:
        part = out[row]
        times = [1e3 * t for t in np.atleast_1d(part["times"])]
        run.timings[row] = Timing(times, part.get("note") or "")
    glm = out["glm"]["estimates"]
    run.estimates["glm"] = pd.DataFrame({"term": glm["term"], "estimate": glm["estimate"],
                                         "se": glm["se"]})
    run.estimates["chisq"] = pd.DataFrame([out["chisq"]["estimates"]])
    return run


# -- agreement ----------------------------------------------------------------------------------
def compare(run: PeerRun, reference: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """The peer's numbers against flestimate's: the coefficients (in the same order in every
    library: intercept, region, group, then the covariates) as ``|b - b_fl| / se_fl``, the
    SEs and the test's numbers as relative differences."""
    checks = []
    if "glm" in run.estimates:
        mine, theirs = reference["glm"], run.estimates["glm"]
        same = len(mine) == len(theirs)
        est = (float(np.max(np.abs(theirs["estimate"].to_numpy() - mine["estimate"].to_numpy())
                            / mine["se"].to_numpy())) if same else np.inf)
        se = (float(np.max(np.abs(theirs["se"].to_numpy() / mine["se"].to_numpy() - 1)))
              if same else np.inf)
        checks.append({"peer": run.name, "task": "glm", "compared": len(theirs),
                       "coefficients": est, "se": se,
                       "status": "OK" if max(est, se) <= AGREEMENT_TOL else "DIFFERS"})
    if "chisq" in run.estimates:
        mine_row, theirs_row = reference["chisq"].iloc[0], run.estimates["chisq"].iloc[0]
        diffs = {k: abs(float(theirs_row[k]) / float(mine_row[k]) - 1)
                 for k in ("value", "ndf", "ddf", "p_value")}
        checks.append({"peer": run.name, "task": "chisq", "compared": 4, **diffs,
                       "status": "OK" if max(diffs.values()) <= AGREEMENT_TOL else "DIFFERS"})
    return checks


# -- report -------------------------------------------------------------------------------------
def timing_table(runs: dict[str, PeerRun]) -> str:
    fl = runs["flestimate"]
    rows = []
    for row in ROWS:
        cells = [row, fmt_ms(fl.timings.get(row))]
        cells += [fmt_ms(runs[p].timings.get(row)) for p in PEERS]
        cells += [fmt_ratio(ratio(runs[p].timings.get(row), fl.timings.get(row)))
                  for p in PEERS]
        rows.append(cells)
    return format_table(["task", "flestimate", *PEERS, "svy/fl", "R/fl"], rows)


def targets(runs: dict[str, PeerRun]) -> list[dict[str, Any]]:
    """The issue's goal: flestimate at least as fast as svy and 10 times faster than R."""
    fl = runs["flestimate"].timings
    goals = []
    for peer, factor in TARGETS.items():
        for task in TASKS:
            r = ratio(runs[peer].timings.get(task), fl.get(task))
            goals.append({"target": f"{task}: {peer} / flestimate >= {factor:g}",
                          "measured": fmt_ratio(r), "met": None if r is None else r >= factor})
    return goals


def report(args: argparse.Namespace, df: pd.DataFrame, runs: dict[str, PeerRun],
           checks: list[dict[str, Any]], goals: list[dict[str, Any]]) -> str:
    hw = hardware()
    notes = [f"  {r.name}: {r.note}" for r in runs.values() if r.note]
    notes += [f"  {r.name} {row}: {t.note}" for r in runs.values()
              for row, t in r.timings.items() if t.note]
    glm_rows = [[c["peer"], str(c["compared"]), f"{c['coefficients']:.1e}", f"{c['se']:.1e}",
                 c["status"]] for c in checks if c["task"] == "glm"]
    chisq_rows = [[c["peer"], f"{c['value']:.1e}", f"{c['ndf']:.1e}", f"{c['ddf']:.1e}",
                   f"{c['p_value']:.1e}", c["status"]] for c in checks if c["task"] == "chisq"]
    fl_test = runs["flestimate"].estimates["chisq"].iloc[0]
    out = [
        f"flestimate models benchmark: n={args.n:,} rows, {df['psu'].nunique()} PSUs, "
        f"{df['stratum'].nunique()} strata; seed {args.seed}; median of {args.reps} runs after "
        f"one warm-up",
        f"glm: {FORMULA} (binomial, Taylor sandwich); chisq: region (10) x group (5), F",
        f"machine: {hw['nproc']} CPUs ({hw['cpu']}), {hw['mem_gib']} GiB; Python {hw['python']}, "
        f"numpy {hw['numpy']}, pandas {hw['pandas']}",
        "versions: " + ", ".join(f"{r.name} {r.version}" for r in runs.values() if r.ran)
        + f"; flestimate source {args.source}",
        "",
        "Median wall time (ms); ratios are peer time / flestimate time",
        timing_table(runs),
    ]
    if notes:
        out += ["notes:", *notes]
    out += [
        "",
        f"Agreement with flestimate (max difference; OK <= {AGREEMENT_TOL:g})",
        "glm: coefficients as |b - b_fl| / se_fl, SEs relative",
        format_table(["peer", "coefficients", "max |db|/se", "max rel dse", "status"], glm_rows),
        f"chisq: relative differences (flestimate F = {fl_test['value']:.6f} on "
        f"{fl_test['ndf']:.4f} and {fl_test['ddf']:.2f} df, p = {fl_test['p_value']:.6g})",
        format_table(["peer", "F", "ndf", "ddf", "p_value", "status"], chisq_rows),
        "",
        "Targets (issue 18)",
        format_table(["target", "measured", "met"],
                     [[g["target"], g["measured"],
                       "n/a" if g["met"] is None else ("met" if g["met"] else "NOT MET")]
                      for g in goals]),
    ]
    return "\n".join(out)


def to_json(args: argparse.Namespace, runs: dict[str, PeerRun], checks: list[dict[str, Any]],
            goals: list[dict[str, Any]]) -> dict[str, Any]:
    fl = runs["flestimate"].timings
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "args": vars(args),
        "machine": hardware(),
        "formula": FORMULA,
        "peers": {
            r.name: {
                "version": r.version, "n_rows_run": r.n_rows, "note": r.note,
                "timings": {row: {"median_ms": t.median_ms, "times_ms": t.times_ms,
                                  "note": t.note, "cpu_ms": t.cpu_ms,
                                  "ratio_to_flestimate": ratio(t, fl.get(row))}
                            for row, t in r.timings.items()},
                "estimates": {task: e.to_dict(orient="list") for task, e in r.estimates.items()},
            }
            for r in runs.values()
        },
        "agreement": checks,
        "targets": goals,
    }


# -- main ---------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="persons (default 1,000,000)")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per task (default 5)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--r-budget", type=float, default=120.0,
                        help="seconds per R task: fewer repetitions when the runs would not "
                             "fit (default 120)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["svy", "R"],
                        help="peers to leave out")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default benchmarks/results/models_<n>.json)")
    args = parser.parse_args(argv)
    if args.n < 4 * N_PSU:
        parser.error(f"--n must be at least {4 * N_PSU}")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.source = source_state()
    df = make_model_data(args.n, args.seed)

    def progress(name: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)

    peers: dict[str, Callable[[], PeerRun]] = {
        "flestimate": lambda: run_flestimate(df, args.reps),
        "svy": lambda: run_svy(df, args.reps),
        "R survey": lambda: run_r(df, args.reps, args.r_budget),
    }
    skip = {{"R": "R survey"}.get(name, name) for name in args.skip}
    runs: dict[str, PeerRun] = {}
    for name, run_peer in peers.items():
        if name in skip:
            runs[name] = PeerRun(name, note="skipped (--skip)")
            continue
        progress(name)
        before = cpu_snapshot()
        runs[name] = run_peer()
        others = other_cpu_load(before, cpu_snapshot())
        if others is not None and others > OTHER_LOAD_WARN:
            message = (f"other processes used {others:.2f} CPUs on average during this peer's "
                       f"runs: its timings may be inflated")
            runs[name].note = f"{runs[name].note}; {message}" if runs[name].note else message

    checks = [c for peer in PEERS for c in compare(runs[peer], runs["flestimate"].estimates)]
    goals = targets(runs)
    print(report(args, df, runs, checks, goals))
    out = args.out or RESULTS_DIR / f"models_{args.n}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(to_json(args, runs, checks, goals), indent=2, default=str) + "\n")
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
