"""Out of core: a 10,000,000-person Parquet file through the ``dask.dataframe`` path of
``estimate_prevalence``, timed, with its peak memory, and checked against the in-memory path on
a 1,000,000-person subset.

The file is the shipped Moldova-style sample (``data/synthetic/moldova_synthetic.sav``, 23,683
persons, 55 columns) copied ``--copies`` times with new household and PSU ids (new PSUs in the
same strata, weights divided by the number of copies), written ``--per-file`` copies to a Parquet
file (one row group) in a folder: a partitioned dataset whose files never split a household.
Building it holds one file's rows at a time, never the whole.

Each measurement runs in a fresh process (``--worker``) that reads the files with
``dask.dataframe.read_parquet`` (only the columns the spec, the design and the margins need) or,
for the in-memory reference, ``pandas.read_parquet``, runs ``estimate_prevalence(...,
missing="minimum", by=BY)`` (Taylor), and reports its wall time and peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss``, the whole process: imports, reading, dask's workers
threads). The check: the dask path on the subset's files equals the in-memory path on the same
rows to 1e-10 (relative).

    python benchmarks/bench_out_of_core.py --folder /tmp/flestimate_ooc --out results/out_of_core_10m.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "synthetic" / "moldova_synthetic.sav"
SPEC = "moldova-2008-synthetic"
BY = ["sex", "region"]


def make(folder: Path, copies: int, per_file: int) -> dict[str, Any]:
    """Write the copies, ``per_file`` at a time; returns the file list and the row counts."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyreadstat

    base, _ = pyreadstat.read_sav(str(SOURCE))
    base = base.sort_values("hh_id", kind="stable").reset_index(drop=True)
    folder.mkdir(parents=True, exist_ok=True)
    files, rows = [], []
    for f, start in enumerate(range(0, copies, per_file)):
        parts = [base.assign(hh_id=base["hh_id"] + c * 10_000_000.0,
                             psu=base["psu"] + c * 1_000_000.0,
                             w_pers=base["w_pers"] / copies, w_hh=base["w_hh"] / copies)
                 for c in range(start, min(start + per_file, copies))]
        chunk = pd.concat(parts, ignore_index=True)
        path = folder / f"part-{f:04d}.parquet"
        pq.write_table(pa.Table.from_pandas(chunk, preserve_index=False), path,
                       row_group_size=len(chunk))
        files.append(path.name)
        rows.append(len(chunk))
        del chunk, parts
    info = {"copies": copies, "per_file": per_file, "files": files, "rows": rows,
            "persons": int(np.sum(rows)), "columns": int(base.shape[1]),
            "bytes": sum((folder / n).stat().st_size for n in files)}
    (folder / "info.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return info


def needed(columns: list[str]) -> list[str]:
    from flestimate.mapping import load_spec
    from flestimate.report._inputs import needed_columns

    selection = needed_columns(load_spec(SPEC), by=BY)
    return selection.of(columns)


def worker(folder: Path, n_files: int, how: str, scheduler: str, out: Path) -> dict[str, Any]:
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    import pyarrow.parquet as pq

    import flestimate as fe

    info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
    files = [str(folder / n) for n in info["files"][:n_files]]
    cols = needed(pq.read_schema(files[0]).names)
    t = time.perf_counter()
    if how == "dask":
        import dask
        import dask.dataframe as dd

        ddf = dd.read_parquet(files, columns=cols)
        with dask.config.set(scheduler=scheduler):
            report = fe.estimate_prevalence(ddf, SPEC, by=BY, missing="minimum")
        partitions = int(ddf.npartitions)
    else:
        import pandas as pd

        frame = pd.concat([pd.read_parquet(f, columns=cols) for f in files], ignore_index=True)
        report = fe.estimate_prevalence(frame, SPEC, by=BY, missing="minimum")
        partitions = 0
    seconds = time.perf_counter() - t
    table = report.to_frame()
    table.to_pickle(out)
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"how": how, "scheduler": scheduler if how == "dask" else None, "files": n_files,
            "persons": int(sum(info["rows"][:n_files])), "columns_read": len(cols),
            "partitions": partitions, "seconds": seconds,
            "process_seconds": time.perf_counter() - start,
            "peak_rss_mib": usage / 1024, "children_peak_rss_mib": children / 1024}


def run(folder: Path, n_files: int, how: str, scheduler: str, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", how, "--folder",
           str(folder), "--files", str(n_files), "--scheduler", scheduler, "--table", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{how:<6} {result['scheduler'] or '':<12} {result['persons']:>11,} persons "
          f"{result['partitions']:>4} partitions {result['seconds']:8.2f} s "
          f"peak RSS {result['peak_rss_mib']:8.0f} MiB")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--folder", type=Path, default=Path("/tmp/flestimate_ooc"))
    ap.add_argument("--copies", type=int, default=424)  # 10,041,592 persons
    ap.add_argument("--per-file", type=int, default=4)
    ap.add_argument("--subset-files", type=int, default=11)  # 44 copies, 1,042,052 persons
    ap.add_argument("--schedulers", default="threads")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--files", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--scheduler", default="threads", help=argparse.SUPPRESS)
    ap.add_argument("--table", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.folder, args.files, args.worker, args.scheduler,
                                args.table)))
        return
    import pandas as pd

    info_path = args.folder / "info.json"
    t = time.perf_counter()
    if info_path.exists() and json.loads(info_path.read_text())["copies"] == args.copies:
        info = json.loads(info_path.read_text())
        built = None
    else:
        info = make(args.folder, args.copies, args.per_file)
        built = time.perf_counter() - t
        print(f"built {info['persons']:,} persons in {len(info['files'])} files "
              f"({info['bytes'] / 2**20:.0f} MiB) in {built:.1f} s")
    tables = args.folder / "tables"
    tables.mkdir(exist_ok=True)
    n_all, n_sub = len(info["files"]), args.subset_files
    runs = []
    sub_mem = run(args.folder, n_sub, "memory", "", tables / "subset_memory.pkl")
    runs.append(sub_mem)
    checks = {}
    for scheduler in args.schedulers.split(","):
        sub = run(args.folder, n_sub, "dask", scheduler, tables / f"subset_dask_{scheduler}.pkl")
        a = pd.read_pickle(tables / f"subset_dask_{scheduler}.pkl")  # noqa: S301 - ours
        b = pd.read_pickle(tables / "subset_memory.pkl")  # noqa: S301 - written above
        pd.testing.assert_frame_equal(a, b, rtol=1e-10, atol=0)
        est = ("estimate", "se")
        diff = max(float(((a[c] - b[c]).abs() / b[c].abs().where(b[c] != 0, 1)).max())
                   for c in est if c in a)
        checks[scheduler] = {"equal_rtol_1e-10": True, "max_rel_diff_estimate_se": diff,
                             "rows": len(a)}
        print(f"subset: dask ({scheduler}) equals in memory to 1e-10 "
              f"(largest relative difference of estimate/se {diff:.1e}, {len(a)} rows)")
        runs.append(sub)
        runs.append(run(args.folder, n_all, "dask", scheduler, tables / f"all_{scheduler}.pkl"))
    if args.out is not None:
        args.out.write_text(json.dumps({
            "data": {k: v for k, v in info.items() if k not in ("files", "rows")},
            "files": n_all, "subset_files": n_sub, "built_seconds": built, "runs": runs,
            "checks": checks, "cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg()},
            indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
