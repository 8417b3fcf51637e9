"""Batch throughput: 20 copies of the shipped surveys on local processes and on a Dask
LocalCluster, in surveys per minute, with the scaling efficiency and the per-survey overhead.

The batch file is made in a temporary folder: the three surveys of ``data/synthetic/batch.toml``
(Moldova ``.sav``, Moldova ``.dta`` by sex, Georgia persons + households) repeated to
``--surveys`` entries, with the shipped ``[defaults]`` and ``[output]`` (Parquet, CSV, Excel and an
HTML report per survey). Every run uses ``force=True`` (no survey is skipped from the cache) and
``progress=False``. Configurations: ``jobs=1`` (this process, one survey after the other),
``jobs=2`` (two local worker processes), ``workers=1`` and ``workers=2`` (a Dask LocalCluster of
single-threaded worker processes, started by ``run_batch``). Throughput is surveys / wall time
of the whole ``run_batch`` call (cluster start and the combined outputs included); the scaling
efficiency is ``throughput(2) / (2 throughput(1))``.

The per-survey overhead is a survey's share of the batch wall time (``wall x parallelism /
surveys``) minus the time of its work alone, ``estimate_prevalence`` + ``to_frame`` +
``to_html`` timed in a warm process on the same files (mean over the batch's mix of surveys).

``--before DIR`` also runs a checkout of the code before the change (``DIR/src`` on
``PYTHONPATH``) in a subprocess, in the same run, alternating with the current code.

    python benchmarks/bench_batch.py --before /tmp/fl_before_batch --out results/batch_20.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "synthetic"
CONFIGS: list[dict[str, int]] = [{"jobs": 1}, {"jobs": 2}, {"workers": 1}, {"workers": 2}]
SURVEYS = [
    {"country": "MDA", "file": "moldova_synthetic.sav", "spec": "moldova-2008-synthetic"},
    {"country": "MDA", "file": "moldova_synthetic.dta", "spec": "moldova-2008-synthetic",
     "by": ["sex"]},
    {"country": "GEO", "file": "georgia_synthetic_persons.dta",
     "households": "georgia_synthetic_households.dta", "spec": "georgia-synthetic",
     "design": {"lonely_psu": "adjust"}},
]
HEAD = """[output]
folder = "out"
formats = ["parquet", "csv", "xlsx"]
reports = true

[defaults]
ci = "korn-graubard"
variance = "taylor"
level = 0.95
reliability = "nchs2017"
tables = ["prevalence", "trafficked_by_form", "forced_labour_by_form"]
"""


def _value(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(v)


def write_batch(folder: Path, n: int) -> Path:
    lines = [HEAD]
    for i in range(n):
        s = dict(SURVEYS[i % len(SURVEYS)])
        lines.append("[[survey]]")
        lines.append(f'id = "S{i:03d}"')
        lines.append(f"year = {2000 + i}")
        for k, v in s.items():
            if k in ("file", "households"):
                v = str(DATA / v)
            lines.append(f"{k} = {_value(v)}")
        lines.append("")
    path = folder / "batch.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def alone(n: int, reps: int) -> dict[str, float]:
    """Mean seconds of a survey's work alone (estimate, to_frame, to_html), warm."""
    import flestimate as fe

    times: list[float] = []
    per: dict[str, float] = {}
    for i, s in enumerate(SURVEYS):
        kw: dict[str, Any] = {k: v for k, v in s.items() if k not in ("country", "file")}
        if "households" in kw:
            kw["households"] = str(DATA / kw["households"])
        kw.update(ci="korn-graubard", reliability="nchs2017")
        best = float("inf")
        for _ in range(reps + 1):  # the first call warms the caches and imports
            t = time.perf_counter()
            report = fe.estimate_prevalence(str(DATA / s["file"]), **kw)
            report.to_frame()
            report.to_html()
            best = min(best, time.perf_counter() - t)
        per[str(i)] = best
    for i in range(n):
        times.append(per[str(i % len(SURVEYS))])
    return {"mean": sum(times) / len(times), **{f"survey_{k}": v for k, v in per.items()}}


def run_config(path: Path, config: dict[str, int]) -> dict[str, Any]:
    from flestimate.batch import run_batch

    t = time.perf_counter()
    result = run_batch(path, force=True, progress=False, **config)  # type: ignore[arg-type]
    wall = time.perf_counter() - t
    m = result.manifest
    assert result.ok, result.failures
    totals = [s["timings"]["total"] for s in m["surveys"]]
    estimates = [s["timings"].get("estimate", 0.0) + s["timings"].get("report", 0.0)
                 for s in m["surveys"]]
    n = len(m["surveys"])
    return {"config": config, "wall": wall, "surveys": n, "per_minute": 60 * n / wall,
            "run_survey_total_sum": sum(totals), "estimate_report_sum": sum(estimates),
            "scheduler": m["scheduler"]}


def worker(n: int, reps: int, configs: list[dict[str, int]]) -> dict[str, Any]:
    """Run in a fresh process: the configurations on one batch file, and the work alone."""
    warnings.simplefilter("ignore")
    import flestimate

    out: dict[str, Any] = {"flestimate": str(Path(flestimate.__file__).parent), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = write_batch(Path(tmp), n)
        for config in configs:
            out["runs"].append(run_config(path, config))
    out["alone"] = alone(n, reps)
    return out


def run_in_subprocess(src: Path | None, n: int, reps: int,
                      configs: list[dict[str, int]]) -> dict[str, Any]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--surveys", str(n),
           "--reps", str(reps), "--configs", json.dumps(configs)]
    done = subprocess.run(cmd, env=env, cwd=str(src.parent if src else ROOT),
                          capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def summarise(label: str, res: dict[str, Any]) -> dict[str, Any]:
    runs = {json.dumps(r["config"]): r for r in res["runs"]}
    mean_alone = res["alone"]["mean"]
    rows = {}
    for r in res["runs"]:
        c = r["config"]
        par = c.get("jobs", c.get("workers", 1))
        share = r["wall"] * par / r["surveys"]
        rows[json.dumps(c)] = {"per_minute": r["per_minute"], "wall": r["wall"],
                               "share_per_survey": share,
                               "overhead_per_survey": share - mean_alone,
                               "overhead_share": (share - mean_alone) / share}
    eff = {}
    for kind in ("jobs", "workers"):
        one, two = runs.get(json.dumps({kind: 1})), runs.get(json.dumps({kind: 2}))
        if one and two:
            eff[kind] = two["per_minute"] / (2 * one["per_minute"])
    print(f"\n{label}: {res['flestimate']}; a survey's work alone {mean_alone:.3f} s (mean)")
    print(f"  {'config':<16}{'wall s':>8}{'surveys/min':>13}{'share s':>9}{'overhead s':>12}")
    for k, row in rows.items():
        print(f"  {k:<16}{row['wall']:8.2f}{row['per_minute']:13.1f}"
              f"{row['share_per_survey']:9.3f}{row['overhead_per_survey']:12.3f}")
    for kind, e in eff.items():
        print(f"  scaling efficiency, {kind}: {e:.3f} (2 vs 1: {2 * e:.2f}x)")
    return {"label": label, "raw": res, "configs": rows, "efficiency": eff,
            "alone_mean": mean_alone}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--surveys", type=int, default=20)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--before", type=Path, default=None,
                    help="a checkout of the code before the change (run from DIR/src)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--configs", default=json.dumps(CONFIGS))
    args = ap.parse_args()
    configs = json.loads(args.configs)
    if args.worker:
        print(json.dumps(worker(args.surveys, args.reps, configs)))
        return
    results: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for r in range(args.rounds):
        if args.before is not None:
            results["before"].append(summarise(
                f"before, round {r + 1}",
                run_in_subprocess(args.before / "src", args.surveys, args.reps, configs)))
        results["after"].append(summarise(
            f"after, round {r + 1}",
            run_in_subprocess(ROOT / "src", args.surveys, args.reps, configs)))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        load = os.getloadavg()
        args.out.write_text(json.dumps({"surveys": args.surveys, "cpus": os.cpu_count(),
                                        "loadavg_at_end": load, **results}, indent=1,
                                       default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
