"""Time flestimate's replicate-weight designs against svy, samplics, R survey and bare numpy.

One run generates the synthetic stratified cluster sample of ``bench_core.py`` (``--n`` persons,
600 PSUs in 40 strata, 10 binary indicators, region x group domains, a migrant flag) and adds
``--replicates`` bootstrap replicate weight columns ``bw1..bwR``: Rao-Wu rescaling bootstrap
multipliers drawn per PSU (n_h - 1 PSUs drawn with replacement in each stratum, counts times
n_h / (n_h - 1)) times the full-sample weight ``w``, so the replicate columns are full weights
(R's ``combined.weights=TRUE``) and the variance scale is 1/(R-1) (R's ``type="bootstrap"``).
Every library declares the same design from the given replicate columns and times:

* ``design``: declaring the replicate design (timed as its own row);
* ``whole``: means of the 10 indicators over the whole sample;
* ``domain``: the 10 means by region x group (about 50 domain cells);
* ``subpop_domain``: the 10 means by region among migrants (a domain of the full design).

Each task is run once to warm up, then ``--reps`` times (fewer when a peer's runs would not fit
in ``--budget`` seconds); the table gives the median wall time. Every peer's estimates and
standard errors are compared with flestimate's (on the same rows when a peer ran on a row
subsample), and the peak memory of the flestimate calls is measured with tracemalloc. Peers that
are not installed (svy, samplics, Rscript) are skipped with a note.

Usage::

    python benchmarks/bench_replicate.py                               # 1,000,000 x 200
    python benchmarks/bench_replicate.py --n 100000 --replicates 50    # quick
    python benchmarks/bench_replicate.py --n 100000 --replicates 50 --peers numpy svy

Results are printed and written to ``benchmarks/results/replicate_<n>x<R>.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from bench_core import (
    AGREEMENT_TOL,
    DEFAULT_SEED,
    N_GROUP,
    N_PSU,
    N_REGION,
    OTHER_LOAD_WARN,
    VARS,
    PeerRun,
    Timing,
    columns_mib,
    compare,
    cpu_snapshot,
    dist_version,
    flestimate_long,
    fmt_ratio,
    format_table,
    hardware,
    long_frame,
    make_data,
    max_rel_diff,
    n_cpus,
    numpy_long,
    other_cpu_load,
    ratio,
    samplics_long,
    source_state,
    subsample,
    traced_peak_mib,
    write_csv,
)

from flestimate import __version__ as flestimate_version
from flestimate.replicate import ReplicateDesign

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
R_SCRIPT = HERE / "bench_replicate_r.R"

TASKS = ("whole", "domain", "subpop_domain")
ROWS = ("design", *TASKS)
PEERS = ("numpy", "svy", "samplics", "R survey")
PEER_CHOICES = {"numpy": "numpy", "svy": "svy", "samplics": "samplics", "R": "R survey"}
BASE_COLUMNS = ["stratum", "psu", "w", "region", "group", "migrant", *VARS]
MEMORY_TARGET_MIB = 2048.0  # the issue: peak memory under 2 GB
SCALE_CHECK_ROWS = 20_000  # rows of the default-scale check of svy and samplics


def rep_columns(replicates: int) -> list[str]:
    return [f"bw{r + 1}" for r in range(replicates)]


def task_columns(replicates: int) -> dict[str, list[str]]:
    """The columns each flestimate call reads (the tasks use the factorised replicates)."""
    return {
        "design": ["w", *rep_columns(replicates)],
        "whole": ["w", *VARS],
        "domain": ["w", *VARS, "region", "group"],
        "subpop_domain": ["w", *VARS, "region", "migrant"],
    }


# -- data ---------------------------------------------------------------------------------------
def rao_wu_multipliers(stratum_of_psu: np.ndarray, replicates: int,
                       rng: np.random.Generator) -> np.ndarray:
    """(PSUs x replicates) Rao-Wu rescaling bootstrap multipliers.

    In each stratum with n_h PSUs, every replicate draws n_h - 1 PSUs with replacement; a PSU's
    multiplier is its count times n_h / (n_h - 1) (R ``subbootweights``). With these, the
    bootstrap variance with scale 1/(R-1) estimates the with-replacement design variance.
    """
    out = np.empty((stratum_of_psu.size, replicates))
    for h in np.unique(stratum_of_psu):
        psus = np.flatnonzero(stratum_of_psu == h)
        n_h = psus.size
        draws = rng.integers(0, n_h, size=(replicates, n_h - 1))
        keys = draws + n_h * np.arange(replicates)[:, None]
        counts = np.bincount(keys.ravel(), minlength=n_h * replicates).reshape(replicates, n_h)
        out[psus] = counts.T * (n_h / (n_h - 1.0))
    return out


def make_replicate_data(n: int, replicates: int, seed: int) -> pd.DataFrame:
    """``bench_core.make_data(n, seed)`` plus the columns ``bw1..bwR`` (float64, full weights).

    The replicate columns are made one at a time (``w * A[psu, r]``) and handed to the frame
    without a copy, so the frame holds them once: n x R x 8 bytes (1.5 GiB at 1,000,000 x 200).
    """
    df = make_data(n, seed)
    rng = np.random.default_rng(seed + 2)  # a stream of its own: the base data are bench_core's
    psu_ids, psu = np.unique(df["psu"].to_numpy(), return_inverse=True)
    stratum_of_psu = np.zeros(psu_ids.size, dtype=np.int64)
    stratum_of_psu[psu] = df["stratum"].to_numpy()
    multipliers = rao_wu_multipliers(stratum_of_psu, replicates, rng)
    w = df["w"].to_numpy()
    columns: dict[str, np.ndarray] = {c: df[c].to_numpy() for c in df.columns}
    for r, name in enumerate(rep_columns(replicates)):
        columns[name] = w * multipliers[psu, r]
    out: pd.DataFrame = pd.DataFrame(columns, copy=False)
    return out


# -- timing -------------------------------------------------------------------------------------
@dataclass
class RepTiming(Timing):
    """bench_core's Timing plus the warm-up (first, cold) run."""

    warmup_ms: float | None = None


def time_calls(fn: Callable[[], Any], reps: int,
               budget_s: float | None = None) -> tuple[RepTiming, Any]:
    """Run ``fn`` once to warm up, then ``reps`` timed times (fewer when they would not fit in
    ``budget_s`` seconds; none when the warm-up run alone exceeds it: then the single cold run
    is the timing, with a note). Returns the timing and the last result."""
    gc.collect()
    start, start_cpu = time.perf_counter(), time.process_time()
    result = fn()
    warm = (time.perf_counter() - start) * 1e3
    warm_cpu = (time.process_time() - start_cpu) * 1e3
    if budget_s is not None and warm > 1e3 * budget_s:
        note = f"single cold run ({warm / 1e3:.0f} s > budget {budget_s:g} s): not repeated"
        return RepTiming([warm], note, cpu_ms=[warm_cpu], warmup_ms=warm), result
    n_run = reps
    if budget_s is not None:
        n_run = max(1, min(reps, int(1e3 * budget_s // max(warm, 1e-3))))
    times, cpu = [], []
    for _ in range(n_run):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    note = f"{n_run} of {reps} runs (time budget {budget_s:g} s)" if n_run < reps else ""
    return RepTiming(times, note, cpu_ms=cpu, warmup_ms=warm), result


def extrapolate(timing: RepTiming, n_run: int, n: int) -> RepTiming:
    """Scale a timing measured on ``n_run`` rows linearly to ``n`` rows."""
    if n_run == n:
        return timing
    scale = n / n_run
    note = f"extrapolated from n={n_run:,} (x{scale:g})"
    if timing.note:
        note = f"{note}; {timing.note}"
    warm = None if timing.warmup_ms is None else timing.warmup_ms * scale
    return RepTiming([t * scale for t in timing.times_ms], note, n_run,
                     [t * scale for t in timing.cpu_ms], warm)


def run_tasks(run: PeerRun, tasks: dict[str, Callable[[], Any]], reps: int,
              to_long: Callable[[str, Any], pd.DataFrame], n: int,
              budget_s: float | None = None) -> None:
    """Time every task of a peer and keep its estimates; a failing task becomes a note."""
    for task, fn in tasks.items():
        try:
            timing, result = time_calls(fn, reps, budget_s)
        except Exception as exc:  # a peer's failure is reported, never fatal to the benchmark
            message = f"{task} failed: {type(exc).__name__}: {exc}"
            run.note = f"{run.note}; {message}" if run.note else message
            continue
        run.timings[task] = extrapolate(timing, run.n_rows, n)
        run.estimates[task] = to_long(task, result)


# -- flestimate ---------------------------------------------------------------------------------
def flestimate_design(df: pd.DataFrame) -> ReplicateDesign:
    return ReplicateDesign(df, "w", "bw[0-9]+", "bootstrap")


def flestimate_tasks(design: ReplicateDesign) -> dict[str, Callable[[], Any]]:
    return {
        "whole": lambda: design.mean(VARS),
        "domain": lambda: design.mean(VARS, by=["region", "group"]),
        "subpop_domain": lambda: design.mean(VARS, by="region", subpop="migrant"),
    }


def run_flestimate(df: pd.DataFrame, reps: int) -> PeerRun:
    run = PeerRun("flestimate", flestimate_version, len(df))
    run.timings["design"], design = time_calls(lambda: flestimate_design(df), reps)
    run_tasks(run, flestimate_tasks(design), reps, lambda _, r: flestimate_long(r), len(df))
    return run


def flestimate_reference(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """flestimate's estimates on ``df`` (for peers that ran on a subsample)."""
    design = flestimate_design(df)
    return {task: flestimate_long(fn()) for task, fn in flestimate_tasks(design).items()}


# -- bare numpy: the replicate weights times the indicators --------------------------------------
@dataclass(frozen=True)
class NumpyReplicates:
    W: np.ndarray  # (n, R) replicate weights, float64, one contiguous column per replicate
    w: np.ndarray  # (n,) full-sample weights
    scale: float  # 1 / (R - 1)


def numpy_design(df: pd.DataFrame, cols: list[str]) -> NumpyReplicates:
    """The (n x R) replicate weight matrix out of the frame: what any row-level method needs.

    ``DataFrame.to_numpy`` copies the columns into a Fortran-ordered matrix (each replicate's
    column contiguous, so ``W.T`` is C-ordered); a C-ordered copy would take 3.4 times longer.
    """
    return NumpyReplicates(df[cols].to_numpy(dtype=np.float64), df["w"].to_numpy(np.float64),
                           1.0 / (len(cols) - 1))


def numpy_rep_mean(nd: NumpyReplicates, ys: list[np.ndarray], n_cells: int,
                   cell: Callable[[np.ndarray | None], np.ndarray] | None = None,
                   rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Means and bootstrap SEs of ``ys`` in ``n_cells`` domain cells from ``W.T @ X``.

    ``X = [1, y_1 .. y_k]`` (float64). Whole sample: one BLAS product ``W.T @ X`` (R x (k+1))
    gives every replicate's denominator and numerators. Domains: the rows (the
    subpopulation's ``rows`` only, when given) are put in cell order by one stable argsort and
    one gather of the replicate weights (``np.take(W.T, order, axis=1)``, a copy of those rows
    of W), then one product ``W_c.T @ X_c`` per cell on contiguous slices: a Python loop over
    the cells, the only one. (Gathering each cell's rows of W inside the loop takes 2.8 times
    longer at 1M x 200; one product of the full W per cell would read W 50 times; and
    ``W.T @ (X * onehot)`` would build an n x 50(k+1) matrix, 4.4 GB at n = 1M, and multiply
    50 times more.) Then the replicate means ``theta_r = T_r[y] / T_r[1]`` and
    ``v = scale * sum_r (theta_r - mean_r theta)^2``. No validation, no intervals, no degrees
    of freedom, no result table.
    """
    n, n_rep = nd.W.shape
    X = np.empty((n if rows is None else rows.size, len(ys) + 1))
    X[:, 0] = 1.0
    for j, y in enumerate(ys):
        X[:, j + 1] = y if rows is None else y[rows]
    if cell is None and rows is None:
        T = (nd.W.T @ X)[None]  # (1, R, k+1)
        t = (nd.w @ X)[None]  # (1, k+1)
    else:
        code = np.zeros(X.shape[0], dtype=np.int64) if cell is None else cell(rows)
        order = np.argsort(code, kind="stable")  # positions in X, row order kept within a cell
        source = order if rows is None else rows[order]  # the same rows, as rows of W
        bounds = np.concatenate(([0], np.cumsum(np.bincount(code, minlength=n_cells))))
        W_sorted = np.take(nd.W.T, source, axis=1)  # (R, m), rows of W in cell order
        X_sorted = X[order]
        w_sorted = nd.w[source]
        T = np.empty((n_cells, n_rep, X.shape[1]))
        t = np.empty((n_cells, X.shape[1]))
        for c in range(n_cells):
            part = slice(bounds[c], bounds[c + 1])
            T[c] = W_sorted[:, part] @ X_sorted[part]
            t[c] = w_sorted[part] @ X_sorted[part]
    with np.errstate(divide="ignore", invalid="ignore"):
        est = t[:, 1:] / t[:, :1]  # (C, k)
        theta = T[:, :, 1:] / T[:, :, :1]  # (C, R, k)
    dev = theta - theta.mean(axis=1, keepdims=True)
    var = nd.scale * np.einsum("crk,crk->ck", dev, dev)
    return est, np.sqrt(var)


def run_numpy(df: pd.DataFrame, reps: int, cols: list[str]) -> PeerRun:
    run = PeerRun("numpy", np.__version__, len(df))
    run.timings["design"], nd = time_calls(lambda: numpy_design(df, cols), reps)
    ys = [df[v].to_numpy() for v in VARS]
    region = df["region"].to_numpy()
    group = df["group"].to_numpy()
    migrant = df["migrant"].to_numpy()
    n_rg = N_REGION * N_GROUP
    cells = np.arange(n_rg)
    tasks: dict[str, tuple[Callable[[], Any], np.ndarray, np.ndarray]] = {
        "whole": (lambda: numpy_rep_mean(nd, ys, 1), np.zeros(1), np.zeros(1)),
        # The codes are known to be small integers: the cell is plain arithmetic.
        "domain": (
            lambda: numpy_rep_mean(
                nd, ys, n_rg,
                lambda _: (region.astype(np.int64) - 1) * N_GROUP + (group - 1)),
            cells // N_GROUP + 1, cells % N_GROUP + 1,
        ),
        "subpop_domain": (
            lambda: numpy_rep_mean(nd, ys, N_REGION, lambda r: region[r].astype(np.int64) - 1,
                                   np.flatnonzero(migrant)),
            np.arange(1, N_REGION + 1), np.zeros(N_REGION),
        ),
    }
    run_tasks(run, {task: spec[0] for task, spec in tasks.items()}, reps,
              lambda task, r: numpy_long(r[0], r[1], *tasks[task][1:]), len(df))
    return run


# -- svy ----------------------------------------------------------------------------------------
def svy_sample(df: pd.DataFrame, replicates: int, scale: float | None) -> Any:
    import polars as pl
    import svy

    rep = svy.BootstrapWgts(prefix="bw", n_reps=replicates, scale=scale)
    return svy.Sample(pl.from_pandas(df), svy.Design(wgt="w", rep_wgts=rep))


def run_svy(df: pd.DataFrame, reps: int, n: int, replicates: int, budget_s: float) -> PeerRun:
    """svy's replicate weights, with R's bootstrap scale 1/(R-1) passed as ``scale``."""
    try:
        import polars as pl
        import svy
    except ImportError as exc:
        return PeerRun("svy", note=f"skipped: svy not importable ({exc})")
    run = PeerRun("svy", dist_version("svy"), len(df))
    data = pl.from_pandas(df)  # svy works on polars frames: converted outside the timing
    rep = svy.BootstrapWgts(prefix="bw", n_reps=replicates, scale=1.0 / (replicates - 1))
    design = svy.Design(wgt="w", rep_wgts=rep)
    timing, sample = time_calls(lambda: svy.Sample(data, design), reps, budget_s)
    run.timings["design"] = extrapolate(timing, len(df), n)
    est = sample.estimation
    tasks = {
        "whole": lambda: est.mean(VARS, method="replication"),
        "domain": lambda: est.mean(VARS, by=["region", "group"], method="replication"),
        "subpop_domain": lambda: est.mean(VARS, by="region", where=svy.col("migrant") == 1,
                                          method="replication"),
    }
    run_tasks(run, tasks, reps, lambda _, r: svy_long(r), n, budget_s)
    return run


def svy_long(result: Any) -> pd.DataFrame:
    return long_frame(result.to_polars().to_pandas(), "y", "est", "se")


# -- samplics -----------------------------------------------------------------------------------
def samplics_estimate(W: np.ndarray, w: np.ndarray, ys: dict[str, np.ndarray],
                      domain: np.ndarray | None, rep_coefs: float | None
                      ) -> list[tuple[str, Any, Any]]:
    """samplics' ReplicateEstimator, one call per variable (it has no batching)."""
    from samplics.estimation import ReplicateEstimator
    from samplics.utils.types import PopParam, RepMethod

    out = []
    for v, y in ys.items():
        # samplics compares the method with its enums (its annotations say str)
        estimator = ReplicateEstimator(RepMethod.bootstrap, PopParam.mean)  # type: ignore[arg-type]
        estimator.estimate(y=y, samp_weight=w, rep_weights=W, rep_coefs=rep_coefs, domain=domain)
        out.append((v, estimator.point_est, estimator.stderror))
    return out


def run_samplics(df: pd.DataFrame, reps: int, n: int, cols: list[str],
                 budget_s: float) -> PeerRun:
    """samplics with R's bootstrap scale 1/(R-1) passed as ``rep_coefs`` (its default is 1/R)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "samplics is archived"
        try:
            import samplics.estimation  # noqa: F401
        except ImportError as exc:
            return PeerRun("samplics", note=f"skipped: samplics not importable ({exc})")
    run = PeerRun("samplics", dist_version("samplics"), len(df))
    W = np.ascontiguousarray(df[cols].to_numpy(dtype=np.float64))  # outside the timing
    w = df["w"].to_numpy()
    ys = {v: df[v].to_numpy() for v in VARS}
    region = df["region"].to_numpy().astype(np.int64)
    group = df["group"].to_numpy().astype(np.int64)
    migrant = df["migrant"].to_numpy()
    coefs = 1.0 / (len(cols) - 1)
    # Domains on the full design: one domain code per row (0 = outside the subpopulation).
    tasks = {
        "whole": lambda: samplics_estimate(W, w, ys, None, coefs),
        "domain": lambda: samplics_estimate(W, w, ys, region * 10 + group, coefs),
        "subpop_domain": lambda: samplics_estimate(W, w, ys, np.where(migrant == 1, region, 0),
                                                   coefs),
    }
    run_tasks(run, tasks, reps, samplics_long, n, budget_s)
    return run


# -- R survey -----------------------------------------------------------------------------------
def write_replicates(df: pd.DataFrame, cols: list[str], path: Path) -> None:
    """Raw little-endian float64, one column after the other (R reads it with readBin)."""
    with path.open("wb") as f:
        for c in cols:
            np.asarray(df[c].to_numpy(), dtype="<f8").tofile(f)


def run_r(df: pd.DataFrame, reps: int, n: int, cols: list[str], budget_s: float) -> PeerRun:
    """R survey through ``bench_replicate_r.R``: R times only its own design and estimates."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return PeerRun("R survey", note="skipped: Rscript not found")
    with tempfile.TemporaryDirectory(prefix="bench_replicate_") as tmp:
        csv = Path(tmp) / "data.csv"
        binary = Path(tmp) / "repweights.bin"
        write_csv(df[BASE_COLUMNS], csv)
        write_replicates(df, cols, binary)
        cmd = [rscript, str(R_SCRIPT), str(csv), str(binary), str(len(cols)), str(reps),
               f"{budget_s:g}"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                  timeout=10 * budget_s + 900)
        except subprocess.TimeoutExpired:
            return PeerRun("R survey", note="skipped: Rscript timed out")
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        return PeerRun("R survey", note=f"skipped: Rscript failed: {' | '.join(tail)}")
    out = json.loads(proc.stdout)
    r_version = out["r_version"].removeprefix("R version ").split(" (")[0]
    run = PeerRun("R survey", f"{out['survey_version']} (R {r_version})", len(df))
    expected = 1.0 / (len(cols) - 1)
    if abs(out["scale"] - expected) > 1e-12 * expected:
        run.note = f"R's scale is {out['scale']:g}, not 1/(R-1) = {expected:g}"
    for row in ROWS:
        part = out[row]
        times = [1e3 * t for t in np.atleast_1d(part["times"])]
        timing = RepTiming(times, part["note"] or "", warmup_ms=1e3 * part["warmup"])
        run.timings[row] = extrapolate(timing, len(df), n)
        if part["estimates"] is not None:
            run.estimates[row] = long_frame(pd.DataFrame(part["estimates"]), "variable",
                                            "estimate", "se")
    return run


# -- the peers' default bootstrap scale ----------------------------------------------------------
def default_scale_check(df: pd.DataFrame, cols: list[str], peers: set[str]
                        ) -> list[dict[str, Any]]:
    """svy's and samplics' SEs with their *default* bootstrap scale (1/R) against flestimate's
    (R's 1/(R-1)), whole-sample means on ``df``: the ratio should be sqrt((R-1)/R)."""
    n_rep = len(cols)
    expected = float(np.sqrt((n_rep - 1) / n_rep))
    ref = flestimate_long(flestimate_design(df).mean(VARS)).set_index("variable")["se"]
    rows: list[dict[str, Any]] = []

    def add(peer: str, fn: Callable[[], pd.DataFrame]) -> None:
        try:
            se = fn().set_index("variable")["se"].reindex(ref.index)
        except Exception as exc:  # a missing peer is reported elsewhere
            rows.append({"peer": peer, "default_scale": "-", "error": f"{type(exc).__name__}"})
            return
        r = (se / ref).to_numpy()
        rows.append({
            "peer": peer, "default_scale": f"1/{n_rep}", "expected_se_ratio": expected,
            "se_ratio_min": float(r.min()), "se_ratio_max": float(r.max()),
            "max_rel_diff_after_adjusting": max_rel_diff(se.to_numpy() / expected,
                                                         ref.to_numpy()),
        })

    if "svy" in peers:
        add("svy", lambda: svy_long(
            svy_sample(df, n_rep, None).estimation.mean(VARS, method="replication")))
    if "samplics" in peers:
        W = np.ascontiguousarray(df[cols].to_numpy(dtype=np.float64))
        ys = {v: df[v].to_numpy() for v in VARS}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            add("samplics", lambda: samplics_long(
                "whole", samplics_estimate(W, df["w"].to_numpy(), ys, None, None)))
    return rows


# -- memory -------------------------------------------------------------------------------------
def measure_memory(df: pd.DataFrame, label: str, replicates: int) -> list[dict[str, Any]]:
    """Peak traced memory of the flestimate design and task calls against their input size."""
    peaks = {"design": traced_peak_mib(lambda: flestimate_design(df))}
    design = flestimate_design(df)
    for task, fn in flestimate_tasks(design).items():
        fn()  # the first call computes (and caches) the rank of the multipliers: count it apart
        peaks[task] = traced_peak_mib(fn)
    rows = []
    columns = task_columns(replicates)
    for row, peak in peaks.items():
        size = columns_mib(df, columns[row])
        rows.append({"data": label, "task": row, "input_mib": size, "peak_mib": peak,
                     "ratio": peak / size})
    return rows


# -- reporting ----------------------------------------------------------------------------------
def fmt_ms(timing: Timing | None) -> str:
    if timing is None:
        return "-"
    mark = "*" if timing.extrapolated_from else ""
    value = timing.median_ms
    return f"{value:,.1f}{mark}" if value < 100 else f"{value:,.0f}{mark}"


def total_timing(run: PeerRun) -> Timing | None:
    """The sum of the medians of the design row and the three tasks (one of each)."""
    if not all(row in run.timings for row in ROWS):
        return None
    parts = [run.timings[row] for row in ROWS]
    extrapolated = next((t.extrapolated_from for t in parts if t.extrapolated_from), None)
    return Timing([sum(t.median_ms for t in parts)], extrapolated_from=extrapolated)


def timing_table(runs: dict[str, PeerRun]) -> str:
    headers = ["task", "flestimate", *PEERS, "svy/fl", "samplics/fl", "R/fl", "fl/numpy"]
    rows = []
    lookup = {name: {**run.timings, "design+tasks": total_timing(run)}
              for name, run in runs.items()}
    for row in (*ROWS, "design+tasks"):
        cells = [row, fmt_ms(lookup["flestimate"].get(row))]
        cells += [fmt_ms(lookup[p].get(row)) for p in PEERS]
        cells += [fmt_ratio(ratio(lookup[p].get(row), lookup["flestimate"].get(row)))
                  for p in ("svy", "samplics", "R survey")]
        cells.append(fmt_ratio(ratio(lookup["flestimate"].get(row), lookup["numpy"].get(row))))
        rows.append(cells)
    return format_table(headers, rows)


def targets(runs: dict[str, PeerRun], memory: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets over the estimation tasks, each with the measured figure and whether
    it is met; the design row's figure is given alongside, for information."""
    fl = runs["flestimate"].timings

    def peer_ratios(peer: str, rows: tuple[str, ...]) -> list[float]:
        found = (ratio(runs[peer].timings.get(t), fl.get(t)) for t in rows)
        return [r for r in found if r is not None]

    def row(target: str, values: list[float], design: list[float],
            worst: Callable[[list[float]], float], met: Callable[[float], bool],
            unit: str = "x") -> dict[str, Any]:
        out: dict[str, Any] = {"target": target, "measured": "not measured", "met": None}
        if values:
            value = worst(values)
            out.update(measured=f"worst {value:,.2f}{unit}", met=met(value))
        out["design"] = f"{design[0]:,.2f}{unit}" if design else "-"
        out["design_met"] = met(design[0]) if design else None
        return out

    def inverse(values: list[float]) -> list[float]:
        return [1 / v for v in values]

    peaks = {m["task"]: m["peak_mib"] for m in memory if m["data"] == "int8 y"}
    task_peaks = [max(m["peak_mib"] for m in memory if m["task"] == t) for t in TASKS
                  if any(m["task"] == t for m in memory)]
    return [
        row("flestimate >= 3x faster than svy (svy/fl >= 3)",
            peer_ratios("svy", TASKS), peer_ratios("svy", ("design",)), min, lambda v: v >= 3),
        row("flestimate >= 10x faster than samplics (samplics/fl >= 10)",
            peer_ratios("samplics", TASKS), peer_ratios("samplics", ("design",)), min,
            lambda v: v >= 10),
        row("flestimate >= 10x faster than R survey (R/fl >= 10)",
            peer_ratios("R survey", TASKS), peer_ratios("R survey", ("design",)), min,
            lambda v: v >= 10),
        row("flestimate within 2x of the bare numpy product (fl/numpy <= 2)",
            inverse(peer_ratios("numpy", TASKS)), inverse(peer_ratios("numpy", ("design",))),
            max, lambda v: v <= 2),
        row("flestimate peak traced memory under 2 GiB",
            task_peaks, [peaks["design"]] if "design" in peaks else [], max,
            lambda v: v < MEMORY_TARGET_MIB, " MiB"),
    ]


def report(args: argparse.Namespace, df: pd.DataFrame, runs: dict[str, PeerRun],
           checks: list[dict[str, Any]], memory: list[dict[str, Any]],
           goals: list[dict[str, Any]], scale_rows: list[dict[str, Any]]) -> str:
    hw = hardware()
    rep_mib = columns_mib(df, rep_columns(args.replicates))
    out = [
        f"flestimate replicate-weight benchmark: n={args.n:,} rows, {args.replicates} bootstrap "
        f"replicates (Rao-Wu, {rep_mib:,.0f} MiB of replicate weights), "
        f"{df['psu'].nunique()} PSUs, {df['stratum'].nunique()} strata, "
        f"{df.groupby(['region', 'group']).ngroups} region x group cells, "
        f"{int(df['migrant'].sum()):,} migrants; seed {args.seed}; median of {args.reps} runs "
        f"after one warm-up",
        f"machine: {hw['nproc']} CPUs ({hw['cpu']}), {hw['mem_gib']} GiB; Python {hw['python']}, "
        f"numpy {hw['numpy']}, pandas {hw['pandas']}",
        "versions: " + ", ".join(f"{r.name} {r.version}" for r in runs.values() if r.ran)
        + f"; flestimate source {args.source}",
        "",
        "Median wall time (ms); ratios are peer time / flestimate time and flestimate / numpy;"
        " design+tasks is the sum of the four medians above",
        timing_table(runs),
    ]
    notes = [f"  {r.name}: {r.note}" for r in runs.values() if r.note]
    notes += [f"  {r.name} {row}: {t.note}" for r in runs.values()
              for row, t in r.timings.items() if t.note]
    first = {row: t.warmup_ms for row, t in runs["flestimate"].timings.items()
             if isinstance(t, RepTiming) and t.warmup_ms is not None}
    if first:
        notes.append("  flestimate first (cold) call, ms: "
                     + ", ".join(f"{row} {ms:,.0f}" for row, ms in first.items())
                     + " (the process's first estimate imports flestimate.estimate and, "
                       "through it, scipy.stats: a one-time cost; the rank of the multipliers "
                       "for the degrees of freedom, a few ms, is cached on the design)")
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
        f"Agreement with flestimate (max relative difference; OK <= {AGREEMENT_TOL:g}); svy and "
        f"samplics with scale 1/(R-1) passed explicitly",
        format_table(
            ["peer", "task", "rows", "compared", "est", "se", "status"],
            [[c["peer"], c["task"], f"{c['n_rows']:,}", str(c["compared"])
              + (f" (+{c['only_flestimate']}/{c['only_peer']} unmatched)"
                 if c["only_flestimate"] or c["only_peer"] else ""),
              f"{c['max_rel_diff_estimate']:.1e}", f"{c['max_rel_diff_se']:.1e}", c["status"]]
             for c in checks],
        ),
    ]
    if scale_rows:
        out += [
            "",
            f"Peers' default bootstrap scale (whole-sample means on "
            f"{min(args.n, SCALE_CHECK_ROWS):,} rows): SE with the default / flestimate's SE",
            format_table(
                ["peer", "default scale", "expected", "measured", "after adjusting"],
                [[s["peer"], s["default_scale"],
                  f"{s['expected_se_ratio']:.6f}" if "expected_se_ratio" in s else "-",
                  (f"{s['se_ratio_min']:.6f} .. {s['se_ratio_max']:.6f}"
                   if "se_ratio_min" in s else s.get("error", "-")),
                  (f"{s['max_rel_diff_after_adjusting']:.1e}"
                   if "max_rel_diff_after_adjusting" in s else "-")]
                 for s in scale_rows],
            ),
        ]
    out += [
        "",
        "flestimate peak memory (tracemalloc) against the input columns each call reads (the "
        "estimates read the factorised replicates, not the replicate columns)",
        format_table(
            ["data", "task", "input MiB", "peak MiB", "peak/input"],
            [[m["data"], m["task"], f"{m['input_mib']:,.1f}", f"{m['peak_mib']:,.1f}",
              f"{m['ratio']:.2f}"] for m in memory],
        ),
        "",
        "The issue's targets (estimation tasks; the design row is shown for information)",
        format_table(
            ["target", "tasks", "met", "design row", "design"],
            [[g["target"], g["measured"],
              "n/a" if g["met"] is None else ("met" if g["met"] else "NOT MET"),
              g["design"],
              "n/a" if g["design_met"] is None else ("met" if g["design_met"] else "NOT MET")]
             for g in goals],
        ),
    ]
    return "\n".join(out)


def to_json(args: argparse.Namespace, runs: dict[str, PeerRun], checks: list[dict[str, Any]],
            memory: list[dict[str, Any]], goals: list[dict[str, Any]],
            scale_rows: list[dict[str, Any]]) -> dict[str, Any]:
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
                        "warmup_ms": getattr(t, "warmup_ms", None),
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
        "default_scale": scale_rows,
        "memory": memory,
        "targets": goals,
    }


# -- main ---------------------------------------------------------------------------------------
def flestimate_source() -> str:
    """The flestimate commit measured (bench_core's ``source_state``) when flestimate is
    imported from this checkout; otherwise where it was imported from (for instance a
    ``git archive`` snapshot of a commit put first on PYTHONPATH, while others edit src/)."""
    import flestimate

    where = Path(flestimate.__file__).resolve().parent
    if where.is_relative_to(HERE.parent / "src"):
        return source_state()
    return f"imported from {where}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="persons (default 1,000,000)")
    parser.add_argument("--replicates", type=int, default=200,
                        help="bootstrap replicate weight columns (default 200)")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per task (default 5)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--peers", nargs="*", default=list(PEER_CHOICES),
                        choices=list(PEER_CHOICES),
                        help="peers to run besides flestimate (default: all)")
    parser.add_argument("--svy-max-n", type=int, default=1_000_000,
                        help="above this, svy runs on a row subsample of this size and its times "
                             "are extrapolated linearly to n (default 1,000,000)")
    parser.add_argument("--samplics-max-n", type=int, default=200_000,
                        help="the same for samplics (default 200,000)")
    parser.add_argument("--r-max-n", type=int, default=1_000_000,
                        help="the same for R survey (default 1,000,000)")
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds per task for svy, samplics and R: fewer repetitions when "
                             "the runs would not fit, no repetition when one run exceeds it "
                             "(default 120)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output (default benchmarks/results/replicate_<n>x<R>.json)")
    args = parser.parse_args(argv)
    if args.n < 4 * N_PSU:
        parser.error(f"--n must be at least {4 * N_PSU}")
    if args.replicates < 2:
        parser.error("--replicates must be at least 2")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.source = flestimate_source()
    cols = rep_columns(args.replicates)

    def progress(name: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", file=sys.stderr, flush=True)

    progress(f"data ({args.n:,} x {args.replicates} replicates)")
    df = make_replicate_data(args.n, args.replicates, args.seed)
    subsamples: dict[int, pd.DataFrame] = {args.n: df}

    def rows_for(max_n: int) -> pd.DataFrame:
        m = min(args.n, max(max_n, 4 * N_PSU))
        if m not in subsamples:
            subsamples[m] = subsample(df, m, args.seed)
        return subsamples[m]

    peers: dict[str, Callable[[], PeerRun]] = {
        "flestimate": lambda: run_flestimate(df, args.reps),
        "numpy": lambda: run_numpy(df, args.reps, cols),
        "svy": lambda: run_svy(rows_for(args.svy_max_n), args.reps, args.n, args.replicates,
                               args.budget),
        "samplics": lambda: run_samplics(rows_for(args.samplics_max_n), args.reps, args.n, cols,
                                         args.budget),
        "R survey": lambda: run_r(rows_for(args.r_max_n), args.reps, args.n, cols, args.budget),
    }
    selected = {"flestimate", *(PEER_CHOICES[p] for p in args.peers)}
    runs: dict[str, PeerRun] = {}
    for name, run_peer in peers.items():
        if name not in selected:
            runs[name] = PeerRun(name, note="not run (--peers)")
            continue
        progress(name)
        before = cpu_snapshot()
        runs[name] = run_peer()
        gc.collect()
        others = other_cpu_load(before, cpu_snapshot())
        if others is not None and others > OTHER_LOAD_WARN:
            message = (f"other processes used {others:.2f} CPUs on average during this peer's "
                       f"runs: its timings may be inflated")
            runs[name].note = f"{runs[name].note}; {message}" if runs[name].note else message

    progress("agreement, default scales and memory")
    references: dict[int, dict[str, pd.DataFrame]] = {args.n: runs["flestimate"].estimates}
    checks = []
    for peer in PEERS:
        run = runs[peer]
        if not run.ran:
            continue
        if run.n_rows not in references:
            references[run.n_rows] = flestimate_reference(subsamples[run.n_rows])
        checks += compare(run, references[run.n_rows])
    scale_rows = default_scale_check(
        rows_for(SCALE_CHECK_ROWS) if args.n > SCALE_CHECK_ROWS else df, cols,
        {p for p in ("svy", "samplics") if runs[p].ran})
    for m in [m for m in subsamples if m != args.n]:
        del subsamples[m]
    gc.collect()

    memory = measure_memory(df, "int8 y", args.replicates)
    memory += measure_memory(df.astype(dict.fromkeys(VARS, np.float64)), "float64 y",
                             args.replicates)
    goals = targets(runs, memory)

    print(report(args, df, runs, checks, memory, goals, scale_rows))
    out = args.out or RESULTS_DIR / f"replicate_{args.n}x{args.replicates}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(to_json(args, runs, checks, memory, goals, scale_rows), indent=2,
                              default=str) + "\n")
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
