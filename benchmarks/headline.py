"""Does the published headline hit the truth? Bias and coverage of the main job over many fresh
samples from the synthetic populations.

For each style (Moldova, Georgia) the population of the shipped files is rebuilt
(``flestimate.synthetic``, seeds 2008 and 2009), ``R`` new samples are drawn from it with the
package's own sampler, and each goes through ``flestimate.estimate_prevalence`` with the
default options (or those given). Against the population truth (``population_values``) it
reports, for the national shares in forced labour and trafficked and for forced labour by
migrant status:

- the relative bias of the point estimate, ``mean(estimate) / truth - 1``;
- the coverage of the 95% interval (Korn-Graubard by default);
- how often the bounds from the undetermined cases, ``[bound_low, bound_high]``, cover the
  truth, and their mean width in percentage points;
- the mean share of the trafficked in each form, beside the true share.

Run::

    python benchmarks/headline.py --samples 400 --jobs 2 --out benchmarks/results/headline.json
    python benchmarks/headline.py --samples 50 --styles moldova      # a quick look

Prints a table per style; with ``--out`` writes every sample's estimates and the summary.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import flestimate as fe
from flestimate import synthetic

SPECS = {"moldova": "moldova-2008-synthetic", "georgia": "georgia-synthetic"}
FORMS = ("state_imposed", "commercial_sexual_exploitation", "economic_exploitation",
         "mixed_undetermined")
# (statistic in the truth, margin of the report, domain level)
TARGETS = [("forced_labour", "national", "all"), ("trafficked", "national", "all"),
           ("forced_labour", "migrant_status", "returned"),
           ("forced_labour", "migrant_status", "current_abroad")]
_POP: dict[str, synthetic.Population] = {}


def population(style: str) -> synthetic.Population:
    """The population behind the shipped files of ``style`` (built once per process)."""
    if style not in _POP:
        seed = synthetic.SHIPPED_SEEDS[style]
        pop_seed = int(np.random.SeedSequence(seed).spawn(2)[0].generate_state(1)[0])
        _POP[style] = synthetic.generate_population(style, seed=pop_seed)
    return _POP[style]


def truth(style: str) -> dict[tuple[str, str, str], float]:
    values = synthetic.population_values(population(style))
    out = {}
    for v in values:
        by = v["by"] or "national"
        level = v["level"] if v["level"] is not None else "all"
        out[(v["statistic"], by, str(level))] = float(v["prevalence"])
    return out


def one_sample(args: tuple[str, int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Draw sample ``seed`` of ``style`` and estimate it; one record per target and form."""
    style, seed, options = args
    survey = synthetic.draw_sample(population(style), seed=seed)
    households = survey.microdata("households") if survey.households is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = fe.estimate_prevalence(survey.microdata(), SPECS[style], by="migrant_status",
                                        households=households, **options)
    t = report.to_frame()
    shares = t[t["measure"] == "share"]
    rows = []
    for stat, by, level in TARGETS:
        r = shares[(shares["table"] == "prevalence") & (shares["by"] == by)
                   & (shares["domain"] == level) & (shares["indicator"] == stat)]
        if len(r) != 1:
            continue
        r = r.iloc[0]
        rows.append({"style": style, "seed": seed, "statistic": stat, "by": by,
                     "level": level, **{k: float(r[k]) for k in (
                         "estimate", "ci_low", "ci_high", "bound_low", "bound_high",
                         "minimum")}})
    tr = shares[(shares["table"] == "trafficked_by_form") & (shares["by"] == "national")]
    for form in FORMS:
        r = tr[tr["indicator"] == form]
        if len(r) == 1:
            rows.append({"style": style, "seed": seed,
                         "statistic": f"share_of_trafficked_{form}", "by": "national",
                         "level": "all", "estimate": float(r["estimate"].iloc[0])})
    return rows


def summarise(samples: pd.DataFrame, truths: dict[str, dict[tuple[str, str, str], float]]
              ) -> pd.DataFrame:
    out = []
    for (style, stat, by, level), g in samples.groupby(["style", "statistic", "by", "level"],
                                                        sort=False):
        true = truths[style][(stat, by, level)]
        row: dict[str, Any] = {"style": style, "statistic": stat, "by": by, "level": level,
                               "samples": len(g), "truth": true,
                               "mean_estimate": g["estimate"].mean(),
                               "relative_bias": g["estimate"].mean() / true - 1}
        if "minimum" in g and g["minimum"].notna().any():
            row["minimum_bias"] = g["minimum"].mean() / true - 1
        if "ci_low" in g and g["ci_low"].notna().any():
            row["ci_coverage"] = ((g["ci_low"] <= true) & (true <= g["ci_high"])).mean()
            row["bounds_coverage"] = ((g["bound_low"] <= true)
                                      & (true <= g["bound_high"])).mean()
            row["bounds_width_pts"] = 100 * (g["bound_high"] - g["bound_low"]).mean()
        out.append(row)
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--styles", default="moldova,georgia")
    ap.add_argument("--seed", type=int, default=2026, help="first sample seed")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--ci", default="korn-graubard")
    ap.add_argument("--missing", default="impute")
    ap.add_argument("--imputations", type=int, default=20)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    options = {"ci": args.ci, "missing": args.missing, "imputations": args.imputations}
    work = [(style, args.seed + i, options) for style in styles for i in range(args.samples)]
    clock = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            records = [r for rows in pool.map(one_sample, work, chunksize=4) for r in rows]
    else:
        records = [r for job in work for r in one_sample(job)]
    samples = pd.DataFrame(records)
    summary = summarise(samples, {s: truth(s) for s in styles})
    seconds = time.perf_counter() - clock
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(summary.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print(f"{len(work)} samples in {seconds:.0f} s; flestimate {fe.__version__}, "
          f"{platform.python_version()}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"samples": args.samples, "first_seed": args.seed, "options": options,
                   "seconds": round(seconds, 1), "version": fe.__version__,
                   "summary": summary.to_dict(orient="records")}
        args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
