"""Time and memory of ``read_microdata`` on a large SPSS file: whole, some columns, in chunks.

One run writes (seeded) a ``--n``-row ``.sav`` with ``--cols`` numeric columns shaped like a
survey module (codes 1 yes, 2 no, 8 don't know, 9 refused, with 8 and 9 declared user-missing,
value labels, and system-missing NaN) into a temporary folder, then reads it in these modes:

* ``plain``: ``read_microdata(path)``;
* ``usecols``: ``read_microdata(path, usecols=<first 5 columns>)``;
* ``chunked``: ``read_microdata(path, chunksize=--chunksize)`` (columns allocated once);
* ``concat``: for reference, the chunked read as it was before, pyreadstat's
  ``read_file_in_chunks`` then ``pd.concat`` of the chunks.

Every mode runs in fresh subprocesses, so that one mode's memory does not hide another's:
``--reps`` untraced runs give the wall time (median) and the peak resident memory
(``resource.getrusage`` maxrss, less the resident memory just before the read), and one more run
under ``tracemalloc`` gives the peak of Python-visible allocations (numpy's buffers included;
ReadStat's C buffers are not). tracemalloc slows pyreadstat down several times, so it is never on
during the timed runs. Each peak is divided by the size of the frame that mode returns
(``memory_usage(deep=True)``). The frames of all modes are compared column by column (hashes)
with the plain read.

Usage::

    python benchmarks/bench_io.py                 # 1,000,000 rows x 30 columns, about 2.5 minutes
    python benchmarks/bench_io.py --n 200000 --reps 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_SEED = 20261129
MODES = ("plain", "usecols", "chunked", "concat")
N_USECOLS = 5
MIB = 2**20


def make_file(path: Path, n: int, n_cols: int, seed: int) -> None:
    """A survey module: ``q01..`` coded 1/2/8/9/NaN with prevalences that vary by column."""
    import pyreadstat

    rng = np.random.default_rng(seed)
    columns = {}
    for j in range(n_cols):
        dont_know, refused, missing = rng.uniform(0.01, 0.06, size=3)
        yes = rng.uniform(0.05, 0.6) * (1 - dont_know - refused - missing)
        no = 1 - yes - dont_know - refused - missing
        columns[f"q{j + 1:02d}"] = rng.choice([1.0, 2.0, 8.0, 9.0, np.nan], size=n,
                                              p=[yes, no, dont_know, refused, missing])
    frame = pd.DataFrame(columns)
    labels = {1: "yes", 2: "no", 8: "don't know", 9: "refused"}
    pyreadstat.write_sav(frame, path, column_labels={c: f"Question {c}" for c in frame},
                         variable_value_labels={c: labels for c in frame},
                         missing_ranges={c: [8, 9] for c in frame})


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _vm_hwm_bytes() -> int:
    """Peak resident memory of this process image (reset by exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return -1


def child(mode: str, path: str, chunksize: int, usecols: list[str], trace: bool) -> dict[str, Any]:
    """One read in this (fresh) process; everything is imported before measuring."""
    import pyreadstat

    from flestimate.io import read_microdata

    def read() -> pd.DataFrame:
        if mode == "plain":
            return read_microdata(path).frame
        if mode == "usecols":
            return read_microdata(path, usecols=usecols).frame
        if mode == "chunked":
            return read_microdata(path, chunksize=chunksize).frame
        pieces = [piece for piece, _ in pyreadstat.read_file_in_chunks(
            pyreadstat.read_sav, path, chunksize=chunksize, user_missing=True)]
        return pd.concat(pieces, ignore_index=True)

    rss_before = _rss_bytes()
    maxrss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    frame = read()
    wall = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    hwm = _vm_hwm_bytes()
    hashes = {str(c): int(pd.util.hash_pandas_object(frame[c], index=False).sum())
              for c in frame.columns}
    return {"mode": mode, "wall_s": wall, "traced_peak": traced_peak,
            "rss_peak_growth": maxrss - rss_before, "hwm_growth": hwm - rss_before,
            "maxrss_inherited": maxrss_start >= maxrss, "frame_bytes":
            int(frame.memory_usage(deep=True).sum()), "shape": list(frame.shape),
            "dtypes": sorted({str(d) for d in frame.dtypes}), "hashes": hashes}


def run_child(args: argparse.Namespace, mode: str, path: Path, usecols: list[str],
              trace: bool) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--path", str(path),
           "--chunksize", str(args.chunksize), "--usecols", ",".join(usecols)]
    if trace:
        cmd.append("--trace")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def source_state() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, check=True,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=HERE.parent,
                               check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git checkout)"
    return f"{commit}+dirty" if dirty else commit


def machine() -> str:
    import pyreadstat

    cpu = platform.processor() or "unknown"
    mem = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cpus} CPUs ({cpu}), {mem}; Python {platform.python_version()}, numpy "
            f"{np.__version__}, pandas {pd.__version__}, pyreadstat {pyreadstat.__version__}; "
            f"flestimate source {source_state()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="rows (default 1,000,000)")
    parser.add_argument("--cols", type=int, default=30, help="columns (default 30)")
    parser.add_argument("--chunksize", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3, help="untraced runs per mode")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--usecols", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--make", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.make:
        make_file(Path(args.make), args.n, args.cols, args.seed)
        return 0
    if args.child:
        print(json.dumps(child(args.child, args.path, args.chunksize, args.usecols.split(","),
                               args.trace)))
        return 0

    usecols = [f"q{j + 1:02d}" for j in range(min(N_USECOLS, args.cols))]
    with tempfile.TemporaryDirectory(prefix="bench_io_") as tmp:
        path = Path(tmp) / "module.sav"
        start = time.perf_counter()
        # in a subprocess: a child's ru_maxrss starts at its parent's resident memory at fork,
        # so the parent must not have held the generated data
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--make", str(path),
                        "--n", str(args.n), "--cols", str(args.cols), "--seed", str(args.seed)],
                       check=True)
        print(f"flestimate read benchmark: {args.n:,} rows x {args.cols} columns, "
              f"{path.stat().st_size / MIB:,.1f} MiB .sav (written in "
              f"{time.perf_counter() - start:.1f} s); chunksize {args.chunksize:,}; usecols "
              f"{len(usecols)} columns; seed {args.seed}; median of {args.reps} runs")
        print(f"machine: {machine()}")
        results: dict[str, dict[str, Any]] = {}
        for mode in args.modes:
            runs = [run_child(args, mode, path, usecols, trace=False) for _ in range(args.reps)]
            traced = run_child(args, mode, path, usecols, trace=True)
            results[mode] = {
                "wall_s": statistics.median(r["wall_s"] for r in runs),
                "wall_runs": [r["wall_s"] for r in runs],
                "rss_peak_growth": max(r["rss_peak_growth"] for r in runs),
                "hwm_growth": max(r["hwm_growth"] for r in runs),
                "maxrss_inherited": any(r["maxrss_inherited"] for r in runs),
                "traced_peak": traced["traced_peak"],
                "traced_wall_s": traced["wall_s"],
                "frame_bytes": traced["frame_bytes"],
                "shape": traced["shape"],
                "dtypes": traced["dtypes"],
                "hashes": traced["hashes"],
            }

    reference = results.get("plain", {}).get("hashes")
    header = ("mode", "wall s", "frame MiB", "traced peak MiB", "traced/frame", "RSS peak MiB",
              "RSS/frame", "same as plain")
    rows = []
    for mode, r in results.items():
        same = "-" if reference is None else (
            "yes" if all(reference.get(c) == h for c, h in r["hashes"].items()) else "NO")
        rss = f"{r['rss_peak_growth'] / MIB:,.1f}" + ("*" if r["maxrss_inherited"] else "")
        rows.append((mode, f"{r['wall_s']:.2f}", f"{r['frame_bytes'] / MIB:,.1f}",
                     f"{r['traced_peak'] / MIB:,.1f}", f"{r['traced_peak'] / r['frame_bytes']:.2f}",
                     rss,
                     f"{r['rss_peak_growth'] / r['frame_bytes']:.2f}", same))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in
                    enumerate(zip(header, widths, strict=True))))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in
                        enumerate(zip(row, widths, strict=True))))
    print("traced: tracemalloc peak (numpy buffers included) in a separate run; RSS: peak resident "
          "memory (getrusage maxrss) less the resident memory before the read, worst of the "
          "timed runs (* : not above what the process inherited at fork, so not measured)")
    for mode, r in results.items():
        if abs(r["hwm_growth"] - r["rss_peak_growth"]) > 0.05 * r["rss_peak_growth"]:
            print(f"note: {mode}: /proc VmHWM gives a peak of {r['hwm_growth'] / MIB:,.1f} MiB, "
                  f"getrusage {r['rss_peak_growth'] / MIB:,.1f} MiB")
    if "chunked" in results:
        ratio = results["chunked"]["traced_peak"] / results["chunked"]["frame_bytes"]
        print(f"target: chunked peak <= 1.3x the frame: {'met' if ratio <= 1.3 else 'NOT MET'} "
              f"({ratio:.2f}x traced)")
    if args.out:
        args.out.write_text(json.dumps({"n": args.n, "cols": args.cols, "chunksize":
                                        args.chunksize, "seed": args.seed, "machine": machine(),
                                        "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
