"""Speed of the main job, ``estimate_prevalence``, end to end and in its estimation step.

The shipped Moldova-style sample (``data/synthetic/moldova_synthetic.sav``: 23,683 persons, 832
PSUs in 14 strata, 2,954 labour migrants in the universe) is copied until it has ``--n`` rows,
each copy with new PSU and household ids and the same strata: a larger sample of the same design.
It is written once to a temporary ``.sav`` (pyreadstat, labels and user-missing codes kept), then:

1. ``estimate_prevalence(path, "moldova-2008-synthetic", by=["sex", "region"],
   missing="minimum")`` end to end, and its stages one by one (read_microdata; spec.apply;
   classify; prepare; Prepared.estimate); the peers have no multiple imputation, so this is the
   classified (minimum) estimate; ``bench_missing.py`` times the imputed headline against it;
2. the estimation step alone on the prepared frame: the 25 class columns' shares (means of 0/1
   in the universe, a domain of the full design) with SEs, nationally, by sex and by region, in
   flestimate (``proportion``), svy (``mean`` with ``where=``), samplics (``TaylorEstimator``,
   ``PopParam.prop``, one call per column, on a row subsample, scaled linearly) and R survey
   (``svyby(~..., ~sex, subset(des, u == 1), svymean)``, timed inside R); every peer's estimates
   and SEs are checked against flestimate's;
3. the peak traced memory (tracemalloc) of the end-to-end call against the raw frame's size.

Each timing is the median of ``--reps`` runs after one warm-up run. Before each timed task the
script waits while another ``benchmarks/bench_*`` process runs.

    python benchmarks/bench_prevalence.py --n 1000000
    python benchmarks/bench_prevalence.py --n 100000 --skip samplics R

Results are printed and written to ``benchmarks/results/prevalence_<n>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_core import (
    OTHER_LOAD_WARN,
    PeerRun,
    Timing,
    columns_mib,
    cpu_snapshot,
    dist_version,
    fmt_ms,
    fmt_ratio,
    format_table,
    hardware,
    max_rel_diff,
    other_cpu_load,
    ratio,
    run_tasks,
    source_state,
    subsample,
    time_calls,
    to_json,
    traced_peak_mib,
    write_csv,
)

from flestimate import __version__ as flestimate_version
from flestimate import estimate_prevalence, load_spec, read_microdata
from flestimate.classification import classify
from flestimate.design import SurveyDesign
from flestimate.errors import FlestimateWarning
from flestimate.estimate import proportion
from flestimate.report._pipeline import parse_margins, prepare
from flestimate.report._reliability import load_reliability

HERE = Path(__file__).resolve().parent
SAV = HERE.parent / "data" / "synthetic" / "moldova_synthetic.sav"
SPEC, BY = "moldova-2008-synthetic", ["sex", "region"]
U, DESIGN = "_fl_universe", ["w_pers", "strat", "psu"]
TASKS = {"national": None, "by_sex": "sex", "by_region": "region"}
ROWS = ("design", *TASKS, "report")
PEERS = ("svy", "samplics", "R survey")
STAGES = ("read_microdata", "spec.apply", "classify", "prepare", "Prepared.estimate")
R_CODE = r"""
suppressPackageStartupMessages({library(survey); library(data.table); library(jsonlite)})
a <- commandArgs(TRUE); d <- fread(a[1], data.table = FALSE); reps <- as.integer(a[2])
vars <- strsplit(a[3], ",")[[1]]; f <- reformulate(vars)
options(survey.lonely.psu = "adjust")
task <- function(fun) { res <- fun(); times <- numeric(reps)
  for (i in seq_len(reps)) times[i] <- system.time(res <- fun())[["elapsed"]]
  list(times = times, res = res) }
long <- function(res, by) { res <- as.data.frame(res)
  do.call(rbind, lapply(vars, function(v) data.frame(domain = as.character(res[[by]]),
    variable = v, estimate = res[[v]], se = res[[paste0("se.", v)]]))) }
des <- task(function() svydesign(ids = ~psu, strata = ~strat, weights = ~w_pers, data = d))
nat <- task(function() svymean(f, subset(des$res, u == 1)))
by_sex <- task(function() svyby(f, ~sex, subset(des$res, u == 1), svymean))
by_region <- task(function() svyby(f, ~region, subset(des$res, u == 1), svymean))
out <- list(version = paste0(packageVersion("survey"), " (R ", getRversion(), ")"),
  design = list(times = des$times),
  national = list(times = nat$times, est = data.frame(domain = "all", variable = vars,
    estimate = unname(coef(nat$res)), se = unname(SE(nat$res)))),
  by_sex = list(times = by_sex$times, est = long(by_sex$res, "sex")),
  by_region = list(times = by_region$times, est = long(by_region$res, "region")))
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def wait_for_other_benchmarks(max_wait_s: float = 3600.0) -> str:
    """Sleep (30 s at a time) while another ``benchmarks/bench_*`` process runs."""
    mine, pid, waited = set(), os.getpid(), 0
    while pid > 1:  # this process and its ancestors (the shells that started it) match too
        mine.add(pid)
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    while waited < max_wait_s:
        found = subprocess.run(["pgrep", "-f", "benchmarks/bench_"], capture_output=True,
                               text=True, check=False).stdout.split()
        others = [p for p in found if int(p) not in mine]
        if not others:
            return f"waited {waited} s for other benchmarks" if waited else ""
        progress(f"other benchmark process(es) {others} running: waiting 30 s")
        time.sleep(30)
        waited += 30
    return f"other benchmarks still running after {max_wait_s:.0f} s: timings may be disturbed"


# -- data ---------------------------------------------------------------------------------------
def make_sample(n: int, path: Path) -> pd.DataFrame:
    """The Moldova sample copied until ``n`` rows (new PSU and household ids per copy, same
    strata), written to ``path`` as SPSS with the original labels and user-missing codes."""
    import pyreadstat

    micro = read_microdata(SAV)
    base, meta = micro.frame, micro.metadata
    k = -(-n // len(base))
    copy = np.repeat(np.arange(k), len(base))[:n]
    df = pd.concat([base] * k, ignore_index=True).iloc[:n].copy()
    df["psu"] = df["psu"].to_numpy() + copy * 100_000  # PSU ids are at most 10,133
    df["hh_id"] = df["hh_id"].to_numpy() + copy * 1_000_000  # household ids at most 109,984
    pyreadstat.write_sav(df, str(path), column_labels=dict(meta.variable_labels),
                         variable_value_labels={c: dict(v) for c, v in meta.value_labels.items()},
                         missing_ranges={c: list(v) for c, v in meta.missing_values.items()})
    return df


def single_psu_strata(df: pd.DataFrame) -> int:
    return int((df.groupby("strat")["psu"].nunique() == 1).sum())


# -- 1. end to end ------------------------------------------------------------------------------
def run_pipeline(path: Path, reps: int) -> tuple[dict[str, Timing], Any, list[str]]:
    """The whole call, then its stages one by one; returns the timings and the Prepared."""
    spec, margins, rules = load_spec(SPEC), parse_margins(BY), load_reliability("nchs2017")
    times: dict[str, Timing] = {}
    notes: list[str] = []

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        notes.append(wait_for_other_benchmarks())
        times[name], result = time_calls(fn, reps)
        return result

    timed("estimate_prevalence", lambda: estimate_prevalence(path, SPEC, by=BY,
                                                             missing="minimum"))
    frame = timed("read_microdata", lambda: read_microdata(path).frame)
    full = spec.merge_households(frame, None)
    mapped = timed("spec.apply", lambda: spec.apply(spec.merge_households(frame, None)))
    cls = timed("classify", lambda: classify(mapped, "icls2018", "seed2007", child="child2018",
                                             form="ilo2005"))
    prep = timed("prepare", lambda: prepare(full, mapped, cls, spec, margins, None, str(path)))
    timed("Prepared.estimate", lambda: prep.estimate(ci="korn-graubard", level=0.95, df=None,
                                                     rules=rules, margins=margins))
    return times, prep, [n for n in notes if n]


# -- 2. the estimation step ---------------------------------------------------------------------
def long_form(frame: pd.DataFrame, by: str | None, variable: str, est: str,
              se: str) -> pd.DataFrame:
    out = pd.DataFrame({"domain": frame[by].astype(str) if by else "all",
                        "variable": frame[variable].astype(str),
                        "estimate": frame[est].astype(float), "se": frame[se].astype(float)})
    return out.sort_values(["domain", "variable"]).reset_index(drop=True)


def peer_frame(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The estimation frame for the peers: 0/1 as int8, the universe as ``u``."""
    return frame[[*DESIGN, "sex", "region"]].assign(
        u=frame[U].astype(np.int8), **{c: frame[c].astype(np.int8) for c in cols})


def flestimate_tasks(frame: pd.DataFrame, cols: list[str]) -> dict[str, Callable[[], Any]]:
    design = SurveyDesign(frame, weights="w_pers", strata="strat", psu="psu", lonely_psu="adjust")
    return {t: (lambda b=b: proportion(design, cols, by=b, subpop=U)) for t, b in TASKS.items()}


def flestimate_long(task: str, result: Any) -> pd.DataFrame:
    if task not in TASKS:
        return pd.DataFrame()
    return long_form(result.to_frame(), TASKS[task], "variable", "estimate", "se")


def run_each(run: PeerRun, tasks: dict[str, Callable[[], Any]], reps: int,
             to_long: Callable[[str, Any], pd.DataFrame], n: int) -> PeerRun:
    """bench_core's run_tasks one task at a time, each after waiting for other benchmarks."""
    for task, fn in tasks.items():
        wait_for_other_benchmarks()
        run_tasks(run, {task: fn}, reps, to_long, n)
    return run


def run_flestimate(prep: Any, cols: list[str], reps: int) -> PeerRun:
    margins, rules = parse_margins(BY), load_reliability("nchs2017")
    tasks = {"design": prep.design, **flestimate_tasks(prep.frame, cols),
             "report": lambda: prep.estimate(ci="korn-graubard", level=0.95, df=None,
                                             rules=rules, margins=margins)}
    n = len(prep.frame)
    return run_each(PeerRun("flestimate", flestimate_version, n), tasks, reps, flestimate_long, n)


def run_svy(frame: pd.DataFrame, cols: list[str], reps: int) -> PeerRun:
    try:
        import polars as pl
        import svy
    except ImportError as exc:
        return PeerRun("svy", note=f"skipped: svy not importable ({exc})")
    run = PeerRun("svy", dist_version("svy"), len(frame))
    data = pl.from_pandas(frame)  # converted outside the timing, as in bench_core
    design = svy.Design(stratum="strat", psu="psu", wgt="w_pers", wr=True, singleton="center")
    sample = svy.Sample(data, design)
    tasks: dict[str, Callable[[], Any]] = {"design": lambda: svy.Sample(data, design)}
    for t, b in TASKS.items():
        tasks[t] = lambda b=b: sample.estimation.mean(cols, **({"by": b} if b else {}),
                                                      where=svy.col("u") == 1)
    run_each(run, tasks, reps, lambda t, r: pd.DataFrame() if t == "design" else
             long_form(r.to_polars().to_pandas(), TASKS[t], "y", "est", "se"), len(frame))
    if "design" in run.timings:
        run.timings["design"].note = "svy builds its design codes lazily, in the first estimate"
    return run


def run_samplics(frame: pd.DataFrame, cols: list[str], reps: int, n: int) -> PeerRun:
    """samplics' TaylorEstimator(PopParam.prop), one call per column (no batching)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "samplics is archived"
        try:
            from samplics.estimation import TaylorEstimator
            from samplics.utils.types import PopParam, SinglePSUEst
        except ImportError as exc:
            return PeerRun("samplics", note=f"skipped: samplics not importable ({exc})")
    run = PeerRun("samplics", dist_version("samplics"), len(frame))
    w, strat, psu = (frame[c].to_numpy() for c in DESIGN)
    u = frame["u"].to_numpy() == 1
    # A domain of the full design: one code per row, "_out" outside the universe.
    domains = {t: np.where(u, frame[b].to_numpy(object) if b else "all", "_out")
               for t, b in TASKS.items()}

    def estimate_all(domain: np.ndarray) -> list[tuple[str, Any, Any]]:
        out = []
        for c in cols:  # no "adjust" in samplics: skip (R "remove"), idle without singletons
            est = TaylorEstimator(PopParam.prop)
            est.estimate(y=frame[c].to_numpy(), samp_weight=w, stratum=strat, psu=psu,
                         domain=domain, single_psu=SinglePSUEst.skip)
            out.append((c, est.point_est, est.stderror))
        return out

    def to_long(_: str, result: list[tuple[str, Any, Any]]) -> pd.DataFrame:
        rows = [(str(d), c, point[d].get(1, 0.0), se[d].get(1, 0.0))
                for c, point, se in result for d in point if d != "_out"]
        return long_form(pd.DataFrame(rows, columns=["domain", "variable", "estimate", "se"]),
                         "domain", "variable", "estimate", "se")

    return run_each(run, {t: (lambda d=d: estimate_all(d)) for t, d in domains.items()}, reps,
                    to_long, n)


def run_r(frame: pd.DataFrame, cols: list[str], reps: int) -> PeerRun:
    """R survey through Rscript: R reads a CSV (not timed) and times its own calls."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return PeerRun("R survey", note="skipped: Rscript not found")
    with tempfile.TemporaryDirectory(prefix="prevalence_r_") as tmp:
        write_csv(frame, Path(tmp) / "data.csv")
        (Path(tmp) / "run.R").write_text(R_CODE)
        wait_for_other_benchmarks()
        proc = subprocess.run([rscript, str(Path(tmp) / "run.R"), str(Path(tmp) / "data.csv"),
                               str(reps), ",".join(cols)], capture_output=True, text=True,
                              check=False)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return PeerRun("R survey", note=f"skipped: Rscript failed: {tail}")
    out = json.loads(proc.stdout)
    run = PeerRun("R survey", out["version"], len(frame))
    for row in ("design", *TASKS):
        run.timings[row] = Timing([1e3 * t for t in np.atleast_1d(out[row]["times"])])
        if row in TASKS:
            run.estimates[row] = long_form(pd.DataFrame(out[row]["est"]), "domain", "variable",
                                           "estimate", "se")
    return run


def compare(run: PeerRun, reference: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    rows = []
    for task, est in run.estimates.items():
        if task not in TASKS:
            continue
        m = reference[task].merge(est, on=["domain", "variable"], how="outer", indicator=True,
                                  suffixes=("_fl", "_peer"))
        both = m[m["_merge"] == "both"]
        rows.append({"peer": run.name, "task": task, "rows": run.n_rows, "compared": len(both),
                     "unmatched": int((m["_merge"] != "both").sum()),
                     "est": max_rel_diff(both["estimate_peer"].to_numpy(),
                                         both["estimate_fl"].to_numpy()),
                     "se": max_rel_diff(both["se_peer"].to_numpy(), both["se_fl"].to_numpy())})
    return rows


# -- main ---------------------------------------------------------------------------------------
def report(args: argparse.Namespace, frame: pd.DataFrame, cols: list[str],
           stages: dict[str, Timing], runs: dict[str, PeerRun], checks: list[dict[str, Any]],
           memory: dict[str, float], notes: list[str]) -> str:
    hw, n, fl = hardware(), len(frame), runs["flestimate"]
    rest = stages["estimate_prevalence"].median_ms - sum(stages[s].median_ms for s in STAGES)
    peer_notes = [f"  {r.name}: {r.note.strip()}" for r in runs.values() if r.note]
    peer_notes += [f"  {r.name} {row}: {t.note}" for r in runs.values()
                   for row, t in r.timings.items() if t.note]
    if any(t.extrapolated_from for r in runs.values() for t in r.timings.values()):
        peer_notes.append("  * extrapolated: measured on a row subsample, scaled linearly to n")
    return "\n".join([
        f"flestimate prevalence benchmark: n={n:,} rows ({n / 23_683:.1f} copies of the Moldova "
        f"sample), {frame['psu'].nunique():,} PSUs, {frame['strat'].nunique()} strata "
        f"({single_psu_strata(frame)} with a single PSU), universe {int(frame[U].sum()):,}; "
        f"{len(cols)} class columns; median of {args.reps} runs after one warm-up",
        f"machine: {hw['nproc']} CPUs ({hw['cpu']}), {hw['mem_gib']} GiB; Python "
        f"{hw['python']}, numpy {hw['numpy']}, pandas {hw['pandas']}",
        "versions: " + ", ".join(f"{r.name} {r.version}" for r in runs.values() if r.ran)
        + f"; flestimate source {args.source}", "",
        "1. End to end: estimate_prevalence(path.sav, spec, by=['sex', 'region']) and its stages",
        format_table(["stage", "seconds", "rows/s"],
                     [[s, f"{t.median_ms / 1e3:,.2f}", f"{n / t.median_ms * 1e3:,.0f}"]
                      for s, t in stages.items()]),
        f"  the whole call minus the sum of its stages: {rest / 1e3:+.2f} s", "",
        "2. Estimation step: the class shares with SEs in the universe (median ms; peer / fl)",
        format_table(["task", "flestimate", *PEERS, "svy/fl", "samplics/fl", "R/fl"],
                     [[row, fmt_ms(fl.timings.get(row)),
                       *(fmt_ms(runs[p].timings.get(row)) for p in PEERS),
                       *(fmt_ratio(ratio(runs[p].timings.get(row), fl.timings.get(row)))
                         for p in PEERS)] for row in ROWS]),
        "  report = Prepared.estimate (national, by sex, by region: shares, numbers, shares by "
        "form, intervals, reliability flags)", *(["notes:", *peer_notes] if peer_notes else []),
        "", "Agreement with flestimate (max relative difference)",
        format_table(["peer", "task", "rows", "compared", "est", "se"],
                     [[c["peer"], c["task"], f"{c['rows']:,}", f"{c['compared']}"
                       + (f" (+{c['unmatched']} unmatched)" if c["unmatched"] else ""),
                       f"{c['est']:.1e}", f"{c['se']:.1e}"] for c in checks]), "",
        f"3. Peak traced memory (tracemalloc) of the end-to-end call against the raw frame "
        f"({memory['raw_frame_mib']:,.0f} MiB, {memory['raw_columns']:.0f} float64 columns): "
        f"from the .sav {memory['peak_from_sav_mib']:,.0f} MiB "
        f"({memory['peak_from_sav_mib'] / memory['raw_frame_mib']:.2f}x), from the frame in "
        f"memory {memory['peak_from_frame_mib']:,.0f} MiB "
        f"({memory['peak_from_frame_mib'] / memory['raw_frame_mib']:.2f}x)",
        *(f"note: {note}" for note in notes)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="rows (default 1,000,000)")
    parser.add_argument("--reps", type=int, default=3, help="timed runs per task (default 3)")
    parser.add_argument("--samplics-max-n", type=int, default=100_000,
                        help="samplics runs on a row subsample of this size, scaled to n")
    parser.add_argument("--seed", type=int, default=20261129, help="seed of that subsample")
    parser.add_argument("--skip", nargs="*", default=[], choices=["svy", "samplics", "R"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    args.source = source_state()
    warnings.simplefilter("ignore", FlestimateWarning)  # LONELY_PSU on the 1-copy sample
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="prevalence_sav_") as tmp:
        path = Path(tmp) / "moldova_x.sav"
        progress(f"writing {args.n:,} rows to {path}")
        df = make_sample(args.n, path)
        if not read_microdata(path).frame.equals(df):
            notes.append("the .sav read back differs from the frame written")
        progress("end to end")
        before = cpu_snapshot()
        stages, prep, waits = run_pipeline(path, args.reps)
        load = other_cpu_load(before, cpu_snapshot())
        if load is not None and load > OTHER_LOAD_WARN:
            notes.append(f"other processes used {load:.2f} CPUs during the end-to-end timings")
        progress("memory")
        memory = {"raw_frame_mib": columns_mib(df, list(df.columns)), "raw_columns": df.shape[1],
                  "peak_from_sav_mib": traced_peak_mib(
                      lambda: estimate_prevalence(path, SPEC, by=BY, missing="minimum")),
                  "peak_from_frame_mib": traced_peak_mib(
                      lambda: estimate_prevalence(df, SPEC, by=BY, missing="minimum"))}
    frame, cols = prep.frame, list(prep.outcomes.columns)
    pframe, m = peer_frame(frame, cols), min(args.n, args.samplics_max_n)
    peers: dict[str, Callable[[], PeerRun]] = {
        "flestimate": lambda: run_flestimate(prep, cols, args.reps),
        "svy": lambda: run_svy(pframe, cols, args.reps),
        "samplics": lambda: run_samplics(subsample(pframe, m, args.seed), cols, args.reps, args.n),
        "R survey": lambda: run_r(pframe, cols, args.reps),
    }
    skip = {{"R": "R survey"}.get(s, s) for s in args.skip}
    runs: dict[str, PeerRun] = {}
    for name, run_peer in peers.items():
        if name in skip:
            runs[name] = PeerRun(name, note="skipped (--skip)")
            continue
        progress(name)
        before = cpu_snapshot()
        runs[name] = run_peer()
        load = other_cpu_load(before, cpu_snapshot())
        if load is not None and load > OTHER_LOAD_WARN:
            runs[name].note += f" other processes used {load:.2f} CPUs: timings may be inflated"
    references = {len(frame): runs["flestimate"].estimates}
    checks: list[dict[str, Any]] = []
    for run in (runs[p] for p in PEERS if runs[p].ran):
        if run.n_rows not in references:  # flestimate on the same row subsample
            references[run.n_rows] = {t: flestimate_long(t, fn()) for t, fn in
                                      flestimate_tasks(subsample(frame, m, args.seed),
                                                       cols).items()}
        checks += compare(run, references[run.n_rows])
    if single_psu_strata(frame):
        notes.append("samplics has no lonely_psu='adjust' (it skips the single-PSU stratum, R "
                     "'remove'): its SEs differ from the others'")
    notes += waits
    print(report(args, frame, cols, stages, runs, checks, memory, notes))
    result = to_json(args, runs, checks, [memory], [])  # no targets: the issue sets none here
    result |= {"n_rows": len(frame), "universe": int(frame[U].sum()), "class_columns": cols,
               "notes": notes, "stages": {s: {"median_s": t.median_ms / 1e3,
                                              "times_ms": t.times_ms} for s, t in stages.items()}}
    dest = args.out or HERE / "results" / f"prevalence_{args.n}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nresults written to {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
