"""Wide benchmark files: the Moldova-style sample next to about 300 columns of an LFS core.

A real labour force survey file carries the whole core questionnaire (200-400 variables) next to
the forced labour module, so the main job's file is wide. This script builds such a file: the
shipped Moldova-style sample (``data/synthetic/moldova_synthetic.sav``, 55 columns) copied to
``--n`` persons as ``bench_prevalence.py`` does (new PSU and household ids per copy, the same
strata), plus ``--extra`` core columns (default 300) drawn from a seeded generator:

* 55% labelled categorical codes (2-12 categories, value labels, SPSS user-missing 98/99 on
  every fifth), as float64 (SPSS numeric) and int8/int16 codes where Stata keeps them;
* 30% numeric (hours, incomes, ages, with about 5% system missing);
* 8% strings (occupation and industry text from a pool of labels, up to 24 characters);
* 7% dates (interview, start of the job, birth).

Written as ``.sav`` and ``.dta`` (pyreadstat, labels and user-missing codes kept) to a cache
folder (``$FLESTIMATE_BENCH_CACHE``, else ``<tmp>/flestimate_wide``), named by the row and
column count; an existing file is reused.

    python benchmarks/make_wide.py --n 1000000 --formats sav dta
    python benchmarks/make_wide.py --n 94732          # the sample copied four times
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SAV = HERE.parent / "data" / "synthetic" / "moldova_synthetic.sav"
#: The shipped sample copied four times.
N_SMALL = 4 * 23_683
EXTRA = 300
WORDS = ("farm", "shop", "clerk", "driver", "teacher", "builder", "nurse", "cook", "guard",
         "cleaner", "miner", "tailor", "baker", "plumber", "seller", "welder")


def cache_dir() -> Path:
    folder = Path(os.environ.get("FLESTIMATE_BENCH_CACHE")
                  or Path(tempfile.gettempdir()) / "flestimate_wide")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def base_sample(n: int) -> tuple[pd.DataFrame, Any]:
    """The Moldova sample copied to ``n`` rows (new PSU and household ids per copy)."""
    from flestimate import read_microdata

    micro = read_microdata(SAV)
    base, meta = micro.frame, micro.metadata
    k = -(-n // len(base))
    copy = np.repeat(np.arange(k), len(base))[:n]
    df = pd.concat([base] * k, ignore_index=True).iloc[:n].copy()
    df["psu"] = df["psu"].to_numpy() + copy * 100_000  # PSU ids are at most 10,133
    df["hh_id"] = df["hh_id"].to_numpy() + copy * 1_000_000  # household ids at most 109,984
    return df, meta


def core_columns(n: int, extra: int, seed: int = 19
                 ) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, dict[float, str]],
                            dict[str, list[float]], dict[str, str]]:
    """``extra`` LFS-core columns of ``n`` rows: the arrays, value labels, SPSS user-missing
    codes and variable labels."""
    rng = np.random.default_rng(seed)
    n_cat, n_num, n_str = int(0.55 * extra), int(0.30 * extra), int(0.08 * extra)
    n_date = extra - n_cat - n_num - n_str
    cols: dict[str, np.ndarray[Any, Any]] = {}
    labels: dict[str, dict[float, str]] = {}
    missing: dict[str, list[float]] = {}
    var_labels: dict[str, str] = {}
    for i in range(n_cat):
        name, k = f"lfs_c{i:03d}", int(rng.integers(2, 13))
        codes = rng.integers(1, k + 1, size=n).astype(np.float64)
        labels[name] = {float(c): f"category {c}" for c in range(1, k + 1)}
        if i % 5 == 0:  # "don't know" / "refused", declared user-missing
            codes[rng.random(n) < 0.03] = 98.0
            codes[rng.random(n) < 0.02] = 99.0
            labels[name].update({98.0: "don't know", 99.0: "refused"})
            missing[name] = [98.0, 99.0]
        cols[name] = codes
        var_labels[name] = f"core question {i} (categorical)"
    for i in range(n_num):
        name = f"lfs_n{i:03d}"
        values = np.round(rng.gamma(2.0, 20.0 * (1 + i % 7), size=n), 1)
        values[rng.random(n) < 0.05] = np.nan
        cols[name] = values
        var_labels[name] = f"core question {i} (numeric)"
    pool = np.array([f"{a} {b}"[:24] for a in WORDS for b in WORDS], dtype=object)
    for i in range(n_str):
        name = f"lfs_s{i:02d}"
        cols[name] = pool[rng.integers(0, len(pool), size=n)]
        var_labels[name] = f"core question {i} (text)"
    start = np.datetime64("1940-01-01", "D")
    for i in range(n_date):
        name = f"lfs_d{i:02d}"
        cols[name] = (start + rng.integers(0, 30_000, size=n)).astype("datetime64[ns]")
        var_labels[name] = f"core question {i} (date)"
    return cols, labels, missing, var_labels


def wide_frame(n: int, extra: int = EXTRA) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The wide frame and the keyword arguments of the pyreadstat writers."""
    df, meta = base_sample(n)
    cols, labels, missing, var_labels = core_columns(n, extra)
    wide = pd.concat([df, pd.DataFrame(cols, index=df.index)], axis=1)
    return wide, {
        "column_labels": {**dict(meta.variable_labels), **var_labels},
        "variable_value_labels": {**{c: dict(v) for c, v in meta.value_labels.items()},
                                  **labels},
        "missing_ranges": {**{c: list(v) for c, v in meta.missing_values.items()}, **missing},
    }


def wide_path(n: int, fmt: str, extra: int = EXTRA) -> Path:
    return cache_dir() / f"wide_{n}_{55 + extra}.{fmt}"


def make_wide(n: int, formats: tuple[str, ...] = ("sav", "dta"), extra: int = EXTRA
              ) -> dict[str, Path]:
    """The wide files of ``n`` persons (made once, then reused from the cache)."""
    import pyreadstat

    paths = {fmt: wide_path(n, fmt, extra) for fmt in formats}
    todo = [fmt for fmt, p in paths.items() if not p.exists()]
    if not todo:
        return paths
    t = time.perf_counter()
    wide, kw = wide_frame(n, extra)
    for fmt in todo:
        tmp = paths[fmt].with_suffix(f".part.{fmt}")
        if fmt == "sav":
            pyreadstat.write_sav(wide, str(tmp), **kw)
        else:  # Stata has no user-missing codes: they stay plain labelled codes
            pyreadstat.write_dta(wide, str(tmp), column_labels=kw["column_labels"],
                                 variable_value_labels={
                                     c: {int(k): v for k, v in lab.items()}
                                     for c, lab in kw["variable_value_labels"].items()})
        tmp.replace(paths[fmt])
        print(f"wrote {paths[fmt]} ({paths[fmt].stat().st_size / 2**20:.0f} MiB, "
              f"{time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1_000_000, N_SMALL])
    ap.add_argument("--extra", type=int, default=EXTRA)
    ap.add_argument("--formats", nargs="+", default=["sav", "dta"], choices=["sav", "dta"])
    args = ap.parse_args(argv)
    for n in args.n:
        for fmt, path in make_wide(n, tuple(args.formats), args.extra).items():
            print(f"{fmt}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
