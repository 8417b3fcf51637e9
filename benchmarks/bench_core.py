"""Time flestimate's core estimators against svy, samplics, R survey and a bare numpy pass.

One run generates a synthetic stratified cluster sample (``--n`` persons, 600 PSUs in 40
strata, 10 binary indicators, two domain variables and a subpopulation flag), then times the
same three estimation tasks in every available library:

* ``whole``: means of the 10 indicators over the whole sample;
* ``domain``: the 10 means by region x group (about 50 domain cells);
* ``subpop_domain``: the 10 means by region among migrants (a domain on the full design).

Each task is run once to warm up, then ``--reps`` times; the table gives the median wall time.
The design declaration is timed as its own row (``design``). Every peer's estimates and standard
errors are compared with flestimate's, and the peak memory of the flestimate calls is measured
with tracemalloc. Peers that are not installed (svy, samplics, Rscript) are skipped with a note.

Usage::

    python benchmarks/bench_core.py --n 1000000
    python benchmarks/bench_core.py --n 200000 --reps 3

Results are printed and written to ``benchmarks/results/core_<n>.json``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flestimate import SurveyDesign
from flestimate import __version__ as flestimate_version

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
R_SCRIPT = HERE / "bench_r.R"

DEFAULT_SEED = 20261129
N_STRATA = 40
N_PSU = 600
N_REGION = 10
N_GROUP = 5
VARS = [f"y{j}" for j in range(10)]
PREVALENCES = np.geomspace(0.005, 0.30, len(VARS))

TASKS = ("whole", "domain", "subpop_domain")
ROWS = ("design", *TASKS)
DESIGN_COLUMNS = ["w", "stratum", "psu"]
TASK_COLUMNS = {
    "design": DESIGN_COLUMNS,
    "whole": [*DESIGN_COLUMNS, *VARS],
    "domain": [*DESIGN_COLUMNS, *VARS, "region", "group"],
    "subpop_domain": [*DESIGN_COLUMNS, *VARS, "region", "migrant"],
}
# Canonical long form of every library's estimates: one row per (cell, variable). By-columns a
# task does not use are 0 (real region and group codes start at 1).
KEYS = ["region", "group", "variable"]
AGREEMENT_TOL = 1e-6
OTHER_LOAD_WARN = 0.15  # CPUs kept busy by other processes: above this a peer's times are suspect
PEERS = ("numpy", "svy", "samplics", "R survey")


# -- data ---------------------------------------------------------------------------------------
def make_data(n: int, seed: int) -> pd.DataFrame:
    """A stratified cluster sample: 600 PSUs of varying size in 40 strata (>= 2 PSUs each).

    Weights vary by stratum, PSU and person; the indicators have prevalences from 0.5% to 30%,
    a PSU random effect on the logit scale (intra-PSU correlation) and a higher prevalence among
    migrants. ``region`` is a PSU attribute (regions cut across strata), ``group`` a person
    attribute. Rows are sorted by stratum and PSU, as survey files usually are.
    """
    rng = np.random.default_rng(seed)
    per_stratum = 2 + rng.multinomial(N_PSU - 2 * N_STRATA, rng.dirichlet(np.full(N_STRATA, 4.0)))
    psu_stratum = np.repeat(np.arange(N_STRATA), per_stratum)
    within = np.concatenate([np.arange(k) for k in per_stratum])
    psu_id = (psu_stratum + 1) * 100 + within + 1  # unique overall, e.g. 1701 = stratum 17, PSU 1
    size_p = rng.lognormal(0.0, 0.6, N_PSU)
    sizes = 1 + rng.multinomial(n - N_PSU, size_p / size_p.sum())
    psu = np.repeat(np.arange(N_PSU), sizes)

    stratum_base = rng.uniform(50.0, 500.0, N_STRATA)
    psu_factor = rng.lognormal(0.0, 0.35, N_PSU)
    w = stratum_base[psu_stratum[psu]] * psu_factor[psu] * rng.uniform(0.8, 1.25, n)

    region = rng.integers(1, N_REGION + 1, N_PSU)[psu]
    group = rng.choice(np.arange(1, N_GROUP + 1), size=n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    migrant_rate = rng.beta(1.5, 8.5, N_PSU)  # mean 0.15, varies by PSU
    migrant = rng.random(n) < migrant_rate[psu]

    columns: dict[str, np.ndarray] = {
        "stratum": (psu_stratum[psu] + 1).astype(np.int16),
        "psu": psu_id[psu].astype(np.int32),
        "w": w,
        "region": region.astype(np.int8),
        "group": group.astype(np.int8),
        "migrant": migrant.astype(np.int8),
    }
    base_logit = np.log(PREVALENCES / (1 - PREVALENCES))
    for j, v in enumerate(VARS):
        effect = rng.normal(0.0, 0.5, N_PSU)[psu]
        eta = base_logit[j] - 0.2 + effect + 0.6 * migrant
        columns[v] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    return pd.DataFrame(columns)


def subsample(df: pd.DataFrame, m: int, seed: int) -> pd.DataFrame:
    """``m`` rows drawn without replacement (row order kept): the same strata and PSUs, smaller."""
    rng = np.random.default_rng(seed + 1)
    rows = np.sort(rng.choice(len(df), size=m, replace=False))
    return df.iloc[rows].reset_index(drop=True)


# -- timing -------------------------------------------------------------------------------------
@dataclass
class Timing:
    """Wall times of the timed runs, in milliseconds (already scaled when extrapolated)."""

    times_ms: list[float]
    note: str = ""
    extrapolated_from: int | None = None
    cpu_ms: list[float] = field(default_factory=list)  # process CPU time (all threads)

    @property
    def median_ms(self) -> float:
        return float(np.median(self.times_ms))

    @property
    def cores_used(self) -> float | None:
        """Median CPU time over median wall time: above 1 when the library ran threads."""
        if not self.cpu_ms or self.median_ms <= 0:
            return None
        return float(np.median(self.cpu_ms)) / self.median_ms


@dataclass
class PeerRun:
    """One library's timings and estimates; ``n_rows`` is the sample size it actually ran on."""

    name: str
    version: str = ""
    n_rows: int = 0
    timings: dict[str, Timing] = field(default_factory=dict)
    estimates: dict[str, pd.DataFrame] = field(default_factory=dict)
    note: str = ""

    @property
    def ran(self) -> bool:
        return bool(self.timings)


def time_calls(fn: Callable[[], Any], reps: int) -> tuple[Timing, Any]:
    """Run ``fn`` once to warm up, then ``reps`` timed times; return the timing and last result."""
    result = fn()
    times, cpu = [], []
    for _ in range(reps):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    return Timing(times, cpu_ms=cpu), result


def dist_version(name: str) -> str:
    """The installed distribution's version (a module's ``__version__`` can lag behind)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def run_tasks(
    run: PeerRun,
    tasks: dict[str, Callable[[], Any]],
    reps: int,
    to_long: Callable[[str, Any], pd.DataFrame],
    n: int,
) -> None:
    """Time every task of a peer and keep its estimates; a failing task becomes a note."""
    for task, fn in tasks.items():
        try:
            timing, result = time_calls(fn, reps)
        except Exception as exc:  # a peer's failure is reported, never fatal to the benchmark
            message = f"{task} failed: {type(exc).__name__}: {exc}"
            run.note = f"{run.note}; {message}" if run.note else message
            continue
        run.timings[task] = extrapolate(timing, run.n_rows, n)
        run.estimates[task] = to_long(task, result)


def extrapolate(timing: Timing, n_run: int, n: int) -> Timing:
    """Scale a timing measured on ``n_run`` rows linearly to ``n`` rows."""
    if n_run == n:
        return timing
    scale = n / n_run
    note = f"extrapolated from n={n_run:,} (x{scale:g})"
    if timing.note:
        note = f"{note}; {timing.note}"
    return Timing([t * scale for t in timing.times_ms], note, n_run,
                  [t * scale for t in timing.cpu_ms])


def long_frame(frame: pd.DataFrame, variable: str, estimate: str, se: str) -> pd.DataFrame:
    """Canonical (region, group, variable, estimate, se) frame from a library's output."""
    out = pd.DataFrame(
        {
            "region": frame["region"].astype(np.int64) if "region" in frame else 0,
            "group": frame["group"].astype(np.int64) if "group" in frame else 0,
            "variable": frame[variable].astype(str),
            "estimate": frame[estimate].astype(np.float64),
            "se": frame[se].astype(np.float64),
        },
        index=frame.index,
    )
    return out.sort_values(KEYS).reset_index(drop=True)


# -- flestimate ---------------------------------------------------------------------------------
def flestimate_design(df: pd.DataFrame) -> SurveyDesign:
    return SurveyDesign(df, weights="w", strata="stratum", psu="psu")


def flestimate_tasks(design: SurveyDesign) -> dict[str, Callable[[], Any]]:
    return {
        "whole": lambda: design.mean(VARS),
        "domain": lambda: design.mean(VARS, by=["region", "group"]),
        "subpop_domain": lambda: design.mean(VARS, by="region", subpop="migrant"),
    }


def flestimate_long(result: Any) -> pd.DataFrame:
    return long_frame(result.to_frame(), "variable", "estimate", "se")


def run_flestimate(df: pd.DataFrame, reps: int) -> PeerRun:
    run = PeerRun("flestimate", flestimate_version, len(df))
    run.timings["design"], design = time_calls(lambda: flestimate_design(df), reps)
    run_tasks(run, flestimate_tasks(design), reps, lambda _, r: flestimate_long(r), len(df))
    return run


def flestimate_reference(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """flestimate's estimates on ``df`` (for peers that ran on a subsample)."""
    design = flestimate_design(df)
    return {task: flestimate_long(fn()) for task, fn in flestimate_tasks(design).items()}


# -- bare numpy lower bound ---------------------------------------------------------------------
@dataclass(frozen=True)
class NumpyDesign:
    psu: np.ndarray  # (n,) PSU index 0..P-1
    stratum_of_psu: np.ndarray  # (P,) stratum index 0..H-1
    indicator: np.ndarray  # (H, P) stratum membership of the PSUs
    n_h: np.ndarray  # (H,) PSUs per stratum
    w: np.ndarray  # (n,) weights


def numpy_design(df: pd.DataFrame) -> NumpyDesign:
    psu_ids, psu = np.unique(df["psu"].to_numpy(), return_inverse=True)
    strata, stratum = np.unique(df["stratum"].to_numpy(), return_inverse=True)
    stratum_of_psu = np.zeros(psu_ids.size, dtype=np.int64)
    stratum_of_psu[psu] = stratum
    indicator = (stratum_of_psu[None, :] == np.arange(strata.size)[:, None]).astype(np.float64)
    n_h = indicator.sum(axis=1)
    return NumpyDesign(psu.astype(np.int64), stratum_of_psu, indicator, n_h,
                       df["w"].to_numpy(np.float64))


def numpy_mean(
    nd: NumpyDesign, ys: list[np.ndarray], n_cells: int,
    cell: Callable[[np.ndarray | None], np.ndarray] | None = None,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Means and SEs of ``ys`` in ``n_cells`` domain cells: the same sums, nothing else.

    Only the subpopulation's ``rows`` are read (all rows when None); ``cell(rows)`` gives their
    domain cell. PSU x cell totals by one ``np.bincount`` per variable, the linearised totals
    ``z = (t_y - R t_x) / X``, then the stratum-centred sum of squares
    ``sum_h n_h/(n_h-1) sum_i (z_hi - zbar_h)^2`` over all PSUs of each stratum (PSUs without
    rows of the domain count as zeros).
    """
    n_psu = nd.stratum_of_psu.size
    psu = nd.psu if rows is None else nd.psu[rows]
    w = nd.w if rows is None else nd.w[rows]
    key = psu if cell is None else psu * n_cells + cell(rows)
    bins = n_psu * n_cells
    tx = np.bincount(key, weights=w, minlength=bins).reshape(n_psu, n_cells, 1)
    ty = np.empty((n_psu, n_cells, len(ys)))
    for j, y in enumerate(ys):
        wy = w * (y if rows is None else y[rows])
        ty[:, :, j] = np.bincount(key, weights=wy, minlength=bins).reshape(n_psu, n_cells)
    x_cell = tx.sum(axis=0)  # (C, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = ty.sum(axis=0) / x_cell  # (C, k)
        z = ((ty - tx * est) / x_cell).reshape(n_psu, -1)
    z = np.nan_to_num(z)
    zbar = (nd.indicator @ z) / nd.n_h[:, None]
    dev = z - zbar[nd.stratum_of_psu]
    var = (nd.n_h / (nd.n_h - 1)) @ (nd.indicator @ (dev * dev))
    return est, np.sqrt(var).reshape(est.shape)


def numpy_long(est: np.ndarray, se: np.ndarray, regions: np.ndarray,
               groups: np.ndarray) -> pd.DataFrame:
    k = est.shape[1]
    frame = pd.DataFrame({
        "region": np.repeat(regions, k),
        "group": np.repeat(groups, k),
        "variable": np.tile(VARS, est.shape[0]),
        "estimate": est.ravel(),
        "se": se.ravel(),
    })
    return long_frame(frame.dropna(subset=["estimate"]), "variable", "estimate", "se")


def run_numpy(df: pd.DataFrame, reps: int) -> PeerRun:
    run = PeerRun("numpy", np.__version__, len(df))
    run.timings["design"], nd = time_calls(lambda: numpy_design(df), reps)
    ys = [df[v].to_numpy() for v in VARS]
    region = df["region"].to_numpy()
    group = df["group"].to_numpy()
    migrant = df["migrant"].to_numpy()
    n_rg = N_REGION * N_GROUP
    cells = np.arange(n_rg)
    tasks: dict[str, tuple[Callable[[], Any], np.ndarray, np.ndarray]] = {
        "whole": (lambda: numpy_mean(nd, ys, 1), np.zeros(1), np.zeros(1)),
        # The codes are known to be small integers: the cell is plain arithmetic.
        "domain": (
            lambda: numpy_mean(nd, ys, n_rg, lambda _: (region - 1) * N_GROUP + (group - 1)),
            cells // N_GROUP + 1, cells % N_GROUP + 1,
        ),
        "subpop_domain": (
            lambda: numpy_mean(nd, ys, N_REGION, lambda r: region[r].astype(np.int64) - 1,
                               np.flatnonzero(migrant)),
            np.arange(1, N_REGION + 1), np.zeros(N_REGION),
        ),
    }
    run_tasks(run, {task: spec[0] for task, spec in tasks.items()}, reps,
              lambda task, r: numpy_long(*r, *tasks[task][1:]), len(df))
    return run


# -- svy ----------------------------------------------------------------------------------------
def run_svy(df: pd.DataFrame, reps: int) -> PeerRun:
    try:
        import polars as pl
        import svy
    except ImportError as exc:
        return PeerRun("svy", note=f"skipped: svy not importable ({exc})")
    run = PeerRun("svy", dist_version("svy"), len(df))
    data = pl.from_pandas(df)  # svy works on polars frames: converted outside the timing
    design = svy.Design(stratum="stratum", psu="psu", wgt="w", wr=True)
    run.timings["design"], sample = time_calls(lambda: svy.Sample(data, design), reps)
    run.timings["design"].note = "svy builds its design codes lazily, in the first estimate"
    est = sample.estimation
    tasks = {
        "whole": lambda: est.mean(VARS),
        "domain": lambda: est.mean(VARS, by=["region", "group"]),
        "subpop_domain": lambda: est.mean(VARS, by="region", where=svy.col("migrant") == 1),
    }
    run_tasks(run, tasks, reps,
              lambda _, r: long_frame(r.to_polars().to_pandas(), "y", "est", "se"), len(df))
    return run


# -- samplics -----------------------------------------------------------------------------------
def run_samplics(df: pd.DataFrame, reps: int, n: int) -> PeerRun:
    """samplics' TaylorEstimator, one call per variable (it has no batching)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "samplics is archived"
        try:
            from samplics.estimation import TaylorEstimator
            from samplics.utils.types import PopParam
        except ImportError as exc:
            return PeerRun("samplics", note=f"skipped: samplics not importable ({exc})")
    run = PeerRun("samplics", dist_version("samplics"), len(df))
    w = df["w"].to_numpy()
    stratum = df["stratum"].to_numpy()
    psu = df["psu"].to_numpy()
    ys = {v: df[v].to_numpy() for v in VARS}
    region = df["region"].to_numpy().astype(np.int64)
    group = df["group"].to_numpy().astype(np.int64)
    migrant = df["migrant"].to_numpy()

    def estimate_all(domain: np.ndarray | None) -> list[tuple[str, Any, Any]]:
        out = []
        for v in VARS:
            estimator = TaylorEstimator(PopParam.mean)
            estimator.estimate(y=ys[v], samp_weight=w, stratum=stratum, psu=psu, domain=domain)
            out.append((v, estimator.point_est, estimator.stderror))
        return out

    # Domains on the full design: one domain code per row (0 = outside the subpopulation).
    tasks = {
        "whole": lambda: estimate_all(None),
        "domain": lambda: estimate_all(region * 10 + group),
        "subpop_domain": lambda: estimate_all(np.where(migrant == 1, region, 0)),
    }
    run_tasks(run, tasks, reps, samplics_long, n)
    return run


def samplics_long(task: str, result: list[tuple[str, Any, Any]]) -> pd.DataFrame:
    """Decode samplics' per-variable {domain code: value} dicts into the canonical frame."""
    records = []
    for v, point, stderr in result:
        if not isinstance(point, dict):
            records.append((0, 0, v, point, stderr))
            continue
        for code, value in point.items():
            code = int(code)
            if task == "domain":
                records.append((code // 10, code % 10, v, value, stderr[code]))
            elif code != 0:
                records.append((code, 0, v, value, stderr[code]))
    frame = pd.DataFrame(records, columns=["region", "group", "variable", "estimate", "se"])
    return long_frame(frame, "variable", "estimate", "se")


# -- R survey -----------------------------------------------------------------------------------
def write_csv(df: pd.DataFrame, path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        df.to_csv(path, index=False)
        return
    pacsv.write_csv(pa.Table.from_pandas(df, preserve_index=False), path)


def run_r(df: pd.DataFrame, reps: int, n: int, budget_s: float) -> PeerRun:
    """R survey through ``bench_r.R``: R times only its own design and estimation calls."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return PeerRun("R survey", note="skipped: Rscript not found")
    with tempfile.TemporaryDirectory(prefix="bench_core_") as tmp:
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
        run.timings[row] = extrapolate(Timing(times, part["note"] or ""), len(df), n)
        if part["estimates"] is not None:
            run.estimates[row] = long_frame(pd.DataFrame(part["estimates"]), "variable",
                                            "estimate", "se")
    return run


# -- machine load ---------------------------------------------------------------------------------
def cpu_snapshot() -> tuple[float, float, float] | None:
    """(wall s, CPU s busy on the whole machine, CPU s of this process and its children)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    busy = (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
    t = os.times()
    return time.monotonic(), busy, t.user + t.system + t.children_user + t.children_system


def other_cpu_load(before: tuple[float, float, float] | None,
                   after: tuple[float, float, float] | None) -> float | None:
    """Average number of CPUs other processes kept busy between two snapshots."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    others = (after[1] - before[1]) - (after[2] - before[2])
    return max(others, 0.0) / (after[0] - before[0])


# -- memory -------------------------------------------------------------------------------------
def traced_peak_mib(fn: Callable[[], Any]) -> float:
    """Peak memory allocated during ``fn()`` above what was allocated before, in MiB."""
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - before) / 2**20


def columns_mib(df: pd.DataFrame, columns: list[str]) -> float:
    return float(df[columns].memory_usage(index=False, deep=True).sum()) / 2**20


def measure_memory(df: pd.DataFrame, label: str) -> list[dict[str, Any]]:
    """Peak traced memory of the flestimate design and task calls against their input size."""
    peaks = {"design": traced_peak_mib(lambda: flestimate_design(df))}
    for task, fn in flestimate_tasks(flestimate_design(df)).items():
        peaks[task] = traced_peak_mib(fn)
    rows = []
    for row, peak in peaks.items():
        size = columns_mib(df, TASK_COLUMNS[row])
        rows.append({"data": label, "task": row, "input_mib": size, "peak_mib": peak,
                     "ratio": peak / size})
    return rows


# -- correctness --------------------------------------------------------------------------------
def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(a - b) / np.abs(b)
    rel = np.where((a == b) | (np.isnan(a) & np.isnan(b)), 0.0, rel)
    return float(np.max(rel)) if rel.size else float("nan")


def compare(peer: PeerRun, reference: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """Max relative differences of the peer's estimates and SEs against flestimate's."""
    rows = []
    for task in TASKS:
        if task not in peer.estimates:
            continue
        ref = reference[task]
        merged = ref.merge(peer.estimates[task], on=KEYS, how="outer",
                           suffixes=("_ref", "_peer"), indicator=True)
        both = merged[merged["_merge"] == "both"]
        only_ref = int((merged["_merge"] == "left_only").sum())
        only_peer = int((merged["_merge"] == "right_only").sum())
        d_est = max_rel_diff(both["estimate_peer"].to_numpy(), both["estimate_ref"].to_numpy())
        d_se = max_rel_diff(both["se_peer"].to_numpy(), both["se_ref"].to_numpy())
        ok = only_ref == 0 and only_peer == 0 and d_est <= AGREEMENT_TOL and d_se <= AGREEMENT_TOL
        rows.append({
            "peer": peer.name, "task": task, "n_rows": peer.n_rows, "compared": len(both),
            "only_flestimate": only_ref, "only_peer": only_peer,
            "max_rel_diff_estimate": d_est, "max_rel_diff_se": d_se,
            "status": "OK" if ok else "DIFFERS",
        })
    return rows


# -- reporting ----------------------------------------------------------------------------------
def format_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(headers, widths, strict=True)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(lines)


def fmt_ms(timing: Timing | None) -> str:
    if timing is None:
        return "-"
    mark = "*" if timing.extrapolated_from else ""
    value = timing.median_ms
    return f"{value:,.1f}{mark}" if value < 100 else f"{value:,.0f}{mark}"


def ratio(a: Timing | None, b: Timing | None) -> float | None:
    if a is None or b is None or b.median_ms <= 0:
        return None
    return a.median_ms / b.median_ms


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def timing_table(runs: dict[str, PeerRun]) -> str:
    fl = runs["flestimate"]
    headers = ["task", "flestimate", *PEERS, "svy/fl", "samplics/fl", "R/fl", "fl/numpy"]
    rows = []
    for row in ROWS:
        cells = [row, fmt_ms(fl.timings.get(row))]
        cells += [fmt_ms(runs[p].timings.get(row)) for p in PEERS]
        cells += [fmt_ratio(ratio(runs[p].timings.get(row), fl.timings.get(row)))
                  for p in ("svy", "samplics", "R survey")]
        cells.append(fmt_ratio(ratio(fl.timings.get(row), runs["numpy"].timings.get(row))))
        rows.append(cells)
    return format_table(headers, rows)


def targets(runs: dict[str, PeerRun], memory: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The owner's targets, each with the measured figure and whether it is met."""
    fl = runs["flestimate"].timings

    def peer_ratios(peer: str, tasks: tuple[str, ...]) -> list[float]:
        found = (ratio(runs[peer].timings.get(t), fl.get(t)) for t in tasks)
        return [r for r in found if r is not None]

    def row(target: str, values: list[float], worst: Callable[[list[float]], float],
            met: Callable[[float], bool], unit: str = "x") -> dict[str, Any]:
        if not values:
            return {"target": target, "measured": "not measured", "met": None}
        value = worst(values)
        return {"target": target, "measured": f"worst {value:.2f}{unit}", "met": met(value)}

    domain_tasks = ("domain", "subpop_domain")
    return [
        row("flestimate >= 3x faster than svy on domain tasks (svy/fl >= 3)",
            peer_ratios("svy", domain_tasks), min, lambda v: v >= 3),
        row("flestimate no slower than svy on whole-sample tasks (svy/fl >= 1)",
            peer_ratios("svy", ("whole",)), min, lambda v: v >= 1),
        row("flestimate >= 10x faster than samplics (samplics/fl >= 10)",
            peer_ratios("samplics", TASKS), min, lambda v: v >= 10),
        row("flestimate >= 10x faster than R survey (R/fl >= 10)",
            peer_ratios("R survey", TASKS), min, lambda v: v >= 10),
        row("flestimate within 2x of the bare numpy pass (fl/numpy <= 2)",
            [1 / r for r in peer_ratios("numpy", TASKS)], max, lambda v: v <= 2),
        *(
            row(f"flestimate peak memory < 3x its input columns, {label} (peak/input < 3)",
                [m["ratio"] for m in memory if m["task"] in TASKS and m["data"] == label], max,
                lambda v: v < 3)
            for label in dict.fromkeys(m["data"] for m in memory)
        ),
    ]


def n_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def source_state() -> str:
    """The flestimate commit measured, with ``+dirty`` when src/ has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, check=True,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=HERE.parent,
                               check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git checkout)"
    return f"{commit}+dirty" if dirty else commit


def hardware() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {"nproc": n_cpus(), "cpu": cpu, "mem_gib": mem_gib,
            "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__, "platform": platform.platform()}


def report(args: argparse.Namespace, df: pd.DataFrame, runs: dict[str, PeerRun],
           checks: list[dict[str, Any]], memory: list[dict[str, Any]],
           goals: list[dict[str, Any]]) -> str:
    hw = hardware()
    out = [
        f"flestimate core benchmark: n={args.n:,} rows, {df['psu'].nunique()} PSUs, "
        f"{df['stratum'].nunique()} strata, "
        f"{df.groupby(['region', 'group']).ngroups} region x group cells, "
        f"{int(df['migrant'].sum()):,} migrants; seed {args.seed}; median of {args.reps} runs "
        f"after one warm-up",
        f"machine: {hw['nproc']} CPUs ({hw['cpu']}), {hw['mem_gib']} GiB; Python {hw['python']}, "
        f"numpy {hw['numpy']}, pandas {hw['pandas']}",
        "versions: " + ", ".join(f"{r.name} {r.version}" for r in runs.values() if r.ran)
        + f"; flestimate source {args.source}",
        "",
        "Median wall time (ms); ratios are peer time / flestimate time and flestimate / numpy",
        timing_table(runs),
    ]
    notes = [f"  {r.name}: {r.note}" for r in runs.values() if r.note]
    notes += [f"  {r.name} {row}: {t.note}" for r in runs.values()
              for row, t in r.timings.items() if t.note]
    for r in runs.values():
        cores = {row: t.cores_used for row, t in r.timings.items()
                 if t.cores_used is not None and t.median_ms >= 10}  # coarse CPU clocks
        if cores and max(cores.values()) > 1.2:
            shown = ", ".join(f"{row} {c:.1f}" for row, c in cores.items())
            notes.append(f"  {r.name} ran threads: CPU time / wall time {shown} "
                         f"({n_cpus()} CPUs)")
    if any(t.extrapolated_from for r in runs.values() for t in r.timings.values()):
        notes.append("  * extrapolated: measured on a row subsample of the same design and "
                     "scaled linearly to n")
    if notes:
        out += ["notes:", *notes]
    out += [
        "",
        f"Agreement with flestimate (max relative difference; OK <= {AGREEMENT_TOL:g})",
        format_table(
            ["peer", "task", "rows", "compared", "est", "se", "status"],
            [[c["peer"], c["task"], f"{c['n_rows']:,}", str(c["compared"])
              + (f" (+{c['only_flestimate']}/{c['only_peer']} unmatched)"
                 if c["only_flestimate"] or c["only_peer"] else ""),
              f"{c['max_rel_diff_estimate']:.1e}", f"{c['max_rel_diff_se']:.1e}", c["status"]]
             for c in checks],
        ),
        "",
        "flestimate peak memory (tracemalloc) against the input columns each call uses",
        format_table(
            ["data", "task", "input MiB", "peak MiB", "peak/input"],
            [[m["data"], m["task"], f"{m['input_mib']:.1f}", f"{m['peak_mib']:.1f}",
              f"{m['ratio']:.2f}"] for m in memory],
        ),
        "",
        "Owner's targets (estimation tasks; the design row is not part of them)",
        format_table(
            ["target", "measured", "met"],
            [[g["target"], g["measured"],
              "n/a" if g["met"] is None else ("met" if g["met"] else "NOT MET")] for g in goals],
        ),
    ]
    return "\n".join(out)


def to_json(args: argparse.Namespace, runs: dict[str, PeerRun], checks: list[dict[str, Any]],
            memory: list[dict[str, Any]], goals: list[dict[str, Any]]) -> dict[str, Any]:
    fl = runs["flestimate"].timings
    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "args": vars(args),
        "machine": hardware(),
        "peers": {
            r.name: {
                "version": r.version,
                "n_rows_run": r.n_rows,
                "note": r.note,
                "timings": {
                    row: {
                        "median_ms": t.median_ms,
                        "times_ms": t.times_ms,
                        "note": t.note,
                        "extrapolated_from": t.extrapolated_from,
                        "cpu_ms": t.cpu_ms,
                        "ratio_to_flestimate": ratio(t, fl.get(row)),
                    }
                    for row, t in r.timings.items()
                },
            }
            for r in runs.values()
        },
        "agreement": checks,
        "memory": memory,
        "targets": goals,
    }


# -- main ---------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="persons (default 1,000,000)")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per task (default 5)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--samplics-max-n", type=int, default=200_000,
                        help="above this, samplics runs on a subsample of this size and its "
                             "times are extrapolated linearly to n (default 200,000)")
    parser.add_argument("--r-max-n", type=int, default=1_000_000,
                        help="the same for R survey (default 1,000,000)")
    parser.add_argument("--r-budget", type=float, default=120.0,
                        help="seconds per R task: fewer repetitions when the runs would not "
                             "fit, no repetition when one run exceeds it (default 120)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["svy", "samplics", "R"],
                        help="peers to leave out")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default benchmarks/results/core_<n>.json)")
    args = parser.parse_args(argv)
    if args.n < 4 * N_PSU:
        parser.error(f"--n must be at least {4 * N_PSU}")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.source = source_state()
    df = make_data(args.n, args.seed)
    subsamples: dict[int, pd.DataFrame] = {args.n: df}
    references: dict[int, dict[str, pd.DataFrame]] = {}

    def rows_for(max_n: int) -> pd.DataFrame:
        m = min(args.n, max(max_n, 4 * N_PSU))
        if m not in subsamples:
            subsamples[m] = subsample(df, m, args.seed)
        return subsamples[m]

    def progress(name: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)

    peers: dict[str, Callable[[], PeerRun]] = {
        "flestimate": lambda: run_flestimate(df, args.reps),
        "numpy": lambda: run_numpy(df, args.reps),
        "svy": lambda: run_svy(df, args.reps),
        "samplics": lambda: run_samplics(rows_for(args.samplics_max_n), args.reps, args.n),
        "R survey": lambda: run_r(rows_for(args.r_max_n), args.reps, args.n, args.r_budget),
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
    references[args.n] = runs["flestimate"].estimates

    progress("agreement and memory")
    checks = []
    for peer in PEERS:
        run = runs[peer]
        if not run.ran:
            continue
        if run.n_rows not in references:
            references[run.n_rows] = flestimate_reference(subsamples[run.n_rows])
        checks += compare(run, references[run.n_rows])

    memory = measure_memory(df, "int8 y")
    memory += measure_memory(df.astype(dict.fromkeys(VARS, np.float64)), "float64 y")
    goals = targets(runs, memory)

    print(report(args, df, runs, checks, memory, goals))
    out = args.out or RESULTS_DIR / f"core_{args.n}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(to_json(args, runs, checks, memory, goals), indent=2,
                              default=str) + "\n")
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
