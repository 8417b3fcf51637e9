"""Does the published headline hit the truth? Bias and coverage of the main job over many fresh
samples from the synthetic populations, with multiple imputation (the default) and with the
minimum estimate, beside the bounds (issue 14).

For each style (Moldova, Georgia) the population behind the shipped files is rebuilt
(``flestimate.synthetic``), ``R`` new samples are drawn from it with the package's own sampler,
and each goes through ``flestimate.estimate_prevalence`` by sex and by migrant status, once with
``missing="impute"`` and once with ``missing="minimum"``. Against the population truth it
reports, for the shares in forced labour and trafficked (national and by domain) and for the
share of the trafficked in each form:

- the relative bias of the mean estimate, ``mean(estimate) / truth - 1``, with its Monte Carlo
  standard error;
- the coverage of the 95% interval (Korn-Graubard) and its mean width;
- the mean number of effective cases ``n_eff * p`` of the domain;
- for the minimum estimate: its bias and coverage; how often the bounds cover the truth and
  their mean width.

With ``--populations fresh`` every sample comes from a population of its own (drawn from the
generator with a seed derived from the sample's) and is judged against that population's truth:
the bias is ``mean(estimate - truth) / mean(truth)``, coverage that of each sample's own truth.
The shipped population is one draw of the generator, and what no sample can observe (the
perpetrator of the trafficked who report no penalty of the filtered block is never asked) keeps
that draw's chance in the bias whatever the number of samples; over fresh populations it
averages out, and the bias is the estimator's.

With ``--data mnar`` the samples are drawn missing not at random (sensitive answers go missing
``exp(strength)`` times as often when they are yes) and every sample also runs the sensitivity
analysis (``report.sensitivity``): the study says how often the range of the imputed intervals
over the deltas covers the truth.

Run::

    python benchmarks/missing.py --samples 400 --jobs 2 --out benchmarks/results/missing_400.json \
        --docs docs/missing.md
    python benchmarks/missing.py --samples 100 --jobs 2 --data mnar --strength 2 \
        --out benchmarks/results/missing_mnar_100.json
    python benchmarks/missing.py --samples 400 --jobs 2 --populations fresh \
        --out benchmarks/results/missing_fresh_400.json --docs docs/missing.md
    python benchmarks/missing.py --samples 20 --styles moldova      # a quick look
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
MARGINS = ("sex", "migrant_status")
DELTAS = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
_POP: dict[str, synthetic.Population] = {}


def population(style: str) -> synthetic.Population:
    """The population behind the shipped files of ``style`` (built once per process)."""
    if style not in _POP:
        seed = synthetic.SHIPPED_SEEDS[style]
        pop_seed = int(np.random.SeedSequence(seed).spawn(2)[0].generate_state(1)[0])
        _POP[style] = synthetic.generate_population(style, seed=pop_seed)
    return _POP[style]


def fresh_population(style: str, seed: int) -> synthetic.Population:
    """A population of its own for sample ``seed`` (its seed spawned from the sample's, so
    that population and sample draws are independent streams)."""
    pop_seed = int(np.random.SeedSequence([seed, 14]).generate_state(1)[0])
    return synthetic.generate_population(style, seed=pop_seed)


def truth(style: str, pop: synthetic.Population | None = None
          ) -> dict[tuple[str, str, str], float]:
    """True population values: (statistic, margin, level) -> share."""
    out = {}
    for v in synthetic.population_values(population(style) if pop is None else pop):
        by = v["by"] or "national"
        level = str(v["level"]) if v["level"] is not None else "all"
        out[(v["statistic"], by, level)] = float(v["prevalence"])
    return out


def _records(report: fe.PrevalenceReport, method: str) -> list[dict[str, Any]]:
    t = report.to_frame()
    shares = t[t["measure"] == "share"]
    rows = []
    prev = shares[(shares["table"] == "prevalence")
                  & shares["indicator"].isin(["forced_labour", "trafficked"])]
    for r in prev.itertuples(index=False):
        rows.append({"method": method, "statistic": r.indicator, "by": r.by,
                     "level": str(r.domain), "estimate": r.estimate, "se": r.se,
                     "ci_low": r.ci_low,
                     "ci_high": r.ci_high, "bound_low": r.bound_low, "bound_high": r.bound_high,
                     "cases": r.n_eff * r.estimate})
    forms = shares[(shares["table"] == "trafficked_by_form") & (shares["by"] == "national")]
    for r in forms.itertuples(index=False):
        rows.append({"method": method, "statistic": f"share_of_trafficked_{r.indicator}",
                     "by": "national", "level": "all", "estimate": r.estimate, "se": r.se,
                     "ci_low": r.ci_low, "ci_high": r.ci_high, "cases": r.n_eff * r.estimate})
    return rows


def _complete_records(survey: synthetic.SyntheticSurvey, spec: Any) -> list[dict[str, Any]]:
    """The complete-data estimates of the sample: every universe person's true status (the
    generator knows it, unit non-respondents included) with the file's weights. Paired with the
    estimates from the answers, they take the sampling error out of the bias due to the missing
    answers (the difference varies far less from sample to sample than either estimate)."""
    households = survey.microdata("households") if survey.households is not None else None
    frame = spec.merge_households(survey.microdata(), households)
    mapped = spec.apply(frame).frame
    tp = survey.truth_persons
    ids = list(tp.columns[:2])
    own = frame.loc[mapped.index, ids].assign(
        _w=frame.loc[mapped.index, spec.design["weights"]].to_numpy(float),
        **{m: mapped[m].astype(str).to_numpy() for m in MARGINS})
    t = own.merge(tp, on=ids, how="left", validate="1:1")
    if t["trafficked"].isna().any():
        raise RuntimeError("a universe person without a true status")
    w = t["_w"].to_numpy(float)
    fl = t["forced_labour"].to_numpy(float)
    tr = t["trafficked"].to_numpy(float)
    rows: list[dict[str, Any]] = []
    groups = [("national", "all", np.ones(len(t), dtype=bool))]
    groups += [(m, lv, (t[m] == lv).to_numpy()) for m in MARGINS for lv in t[m].unique()]
    for by, level, g in groups:
        for stat, y in (("forced_labour", fl), ("trafficked", tr)):
            rows.append({"method": "complete", "statistic": stat, "by": by, "level": str(level),
                         "estimate": float((w * y)[g].sum() / w[g].sum())})
    form = t["form"].astype(str).to_numpy()
    for f in FORMS:
        rows.append({"method": "complete", "statistic": f"share_of_trafficked_{f}",
                     "by": "national", "level": "all",
                     "estimate": float((w * tr * (form == f)).sum() / (w * tr).sum())})
    return rows


def one_sample(args: tuple[str, int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Draw sample ``seed`` of ``style``, estimate it both ways (and, under MNAR, run the
    sensitivity analysis); one record per method and target."""
    style, seed, options = args
    fresh = options.get("populations") == "fresh"
    pop = fresh_population(style, seed) if fresh else population(style)
    survey = synthetic.draw_sample(pop, seed=seed, missing=options["data"],
                                   mnar_strength=options["strength"])
    households = survey.microdata("households") if survey.households is not None else None
    common = {"by": list(MARGINS), "households": households}
    rows: list[dict[str, Any]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows += _complete_records(survey, fe.load_spec(SPECS[style]))
        # every cell, the small ones included: the study measures bias, it publishes nothing
        mi = fe.estimate_prevalence(survey.microdata(), SPECS[style], missing="impute",
                                    disclosure="none",
                                    imputations=options["imputations"], seed=seed, **common)
        rows += _records(mi, "impute")
        minimum = fe.estimate_prevalence(survey.microdata(), SPECS[style], missing="minimum",
                                         disclosure="none",
                                         **common)
        rows += _records(minimum, "minimum")
        if options["data"] == "mnar":
            sens = mi.sensitivity(delta=DELTAS).to_frame()
            nat = sens[sens["by"] == "national"]
            for ind, g in nat.groupby("indicator"):
                rows.append({"method": "sensitivity", "statistic": ind, "by": "national",
                             "level": "all", "estimate": g["estimate"].mean(),
                             "ci_low": g["ci_low"].min(), "ci_high": g["ci_high"].max(),
                             "range_low": g["estimate"].min(),
                             "range_high": g["estimate"].max()})
    own = truth(style, pop) if fresh else None
    for r in rows:
        r.update(style=style, seed=seed)
        if own is not None:
            r["truth"] = own.get((r["statistic"], r["by"], r["level"]), np.nan)
    return rows


def summarise(samples: pd.DataFrame, truths: dict[str, dict[tuple[str, str, str], float]]
              ) -> pd.DataFrame:
    out = []
    keys = ["style", "method", "statistic", "by", "level"]
    pair = ["style", "seed", "statistic", "by", "level"]
    if (samples["method"] == "complete").any():
        cd = samples.loc[samples["method"] == "complete", [*pair, "estimate"]]
        samples = samples.merge(cd.rename(columns={"estimate": "complete"}), on=pair,
                                how="left")
    for key, g in samples.groupby(keys, sort=False):
        style, method, stat, by, level = key
        est = g["estimate"].to_numpy(float)
        if "truth" in g:
            # every sample from a population of its own: judged against that population
            own = g["truth"].to_numpy(float)
            true = float(np.nanmean(own))
        else:
            true = truths[style].get((stat, by, level), np.nan)
            own = np.full(len(g), true)
        if not np.isfinite(true) or true == 0:
            continue
        n = int(np.isfinite(est).sum())
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        err = est - own
        row.update(samples=n, truth=true, mean_estimate=np.nanmean(est),
                   relative_bias=np.nanmean(err) / true,
                   bias_mc_se=np.nanstd(err, ddof=1) / np.sqrt(n) / true if n > 1 else np.nan)
        if method != "complete" and "complete" in g and g["complete"].notna().any():
            # the bias due to the missing answers, paired with the sample's complete data
            diff = est - g["complete"].to_numpy(float)
            k = int(np.isfinite(diff).sum())
            row["paired_bias"] = np.nanmean(diff) / true
            row["paired_mc_se"] = np.nanstd(diff, ddof=1) / np.sqrt(k) / true
        if method == "complete":
            out.append(row)
            continue
        # the errors' spread: over fresh populations the estimates also follow their truths
        spread = np.nanstd(err, ddof=1) if n > 1 else 0.0
        if "se" in g and g["se"].notna().any() and spread > 0:
            # the mean standard error against the estimates' spread over the samples
            row["se_ratio"] = float(np.nanmean(g["se"]) / spread)
        lo, hi = g["ci_low"].to_numpy(float), g["ci_high"].to_numpy(float)
        row["ci_coverage"] = float(np.mean((lo <= own) & (own <= hi)))
        row["ci_width_pts"] = 100 * float(np.nanmean(hi - lo))
        if "cases" in g and g["cases"].notna().any():
            row["effective_cases"] = float(np.nanmean(g["cases"]))
        if method == "minimum" and g["bound_low"].notna().any():
            bl, bh = g["bound_low"].to_numpy(float), g["bound_high"].to_numpy(float)
            row["bounds_coverage"] = float(np.mean((bl <= own) & (own <= bh)))
            row["bounds_width_pts"] = 100 * float(np.nanmean(bh - bl))
        if method == "sensitivity" and "range_low" in g:
            row["range_covers_truth"] = float(np.mean(
                (g["range_low"] <= own) & (own <= g["range_high"])))
            row["mean_range"] = (float(g["range_low"].mean()), float(g["range_high"].mean()))
            # the sensitivity interval: from the lowest lower end to the highest upper end
            row["interval_range_covers_truth"] = row.pop("ci_coverage")
        out.append(row)
    return pd.DataFrame(out)


def _paired(r: Any, se: bool = True) -> str:
    b = r.get("paired_bias", np.nan)
    if not np.isfinite(b):
        return ""
    return f"{100 * b:+.1f}%" + (f" ({100 * r['paired_mc_se']:.1f})" if se else "")


def markdown(summary: pd.DataFrame, meta: dict[str, Any]) -> str:
    """The study's tables as markdown (for docs/missing.md)."""
    def pct(x: float) -> str:
        return "" if not np.isfinite(x) else f"{100 * x:.1f}%"

    where = ("each from a fresh population of its own, against its truth"
             if meta.get("populations") == "fresh" else "from the shipped populations")
    lines = [f"{meta['samples']} samples per style {where} ({meta['data'].upper()} item "
             "non-response"
             + (f", strength {meta['strength']}" if meta["data"] == "mnar" else "")
             + f"), M = {meta['imputations']} imputations, flestimate {meta['version']}, "
             f"{meta['seconds']:.0f} s on {meta['machine']}.", "",
             "| style | statistic | domain | truth | effective cases | imputed: bias (MC se) | "
             "due to missing answers (MC se) | coverage | minimum: bias | due to missing "
             "answers | coverage | bounds cover; width |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    mi = summary[summary["method"] == "impute"].set_index(["style", "statistic", "by", "level"])
    mn = summary[summary["method"] == "minimum"].set_index(["style", "statistic", "by", "level"])
    for idx, r in mi.iterrows():
        m = mn.loc[idx] if idx in mn.index else None
        dom = "national" if idx[2] == "national" else f"{idx[2]} = {idx[3]}"
        bounds = ("" if m is None or not np.isfinite(m.get("bounds_coverage", np.nan)) else
                  f"{pct(m['bounds_coverage'])}; {m['bounds_width_pts']:.1f} pts")
        lines.append(
            f"| {idx[0]} | {idx[1].replace('share_of_trafficked_', 'trafficked: ')} | {dom} | "
            f"{pct(r['truth'])} | {r.get('effective_cases', np.nan):.0f} | "
            f"{100 * r['relative_bias']:+.1f}% ({100 * r['bias_mc_se']:.1f}) | "
            f"{_paired(r)} | {pct(r['ci_coverage'])} | "
            + ("| | " if m is None else f"{100 * m['relative_bias']:+.1f}% | "
               f"{_paired(m, se=False)} | {pct(m['ci_coverage'])} | ") + f"{bounds} |")
    sens = summary[summary["method"] == "sensitivity"]
    if len(sens):
        mi_nat = summary[(summary["method"] == "impute") & (summary["by"] == "national")]
        lines += ["", "| style | statistic | truth | imputed (delta = 0): bias, coverage | "
                      "mean estimate over delta | estimates' range covers | intervals' range "
                      "covers |", "|---|---|---|---|---|---|---|"]
        for r in sens.itertuples(index=False):
            low, high = r.mean_range
            m = mi_nat[(mi_nat["style"] == r.style) & (mi_nat["statistic"] == r.statistic)]
            base = ("" if m.empty else f"{100 * m['relative_bias'].iloc[0]:+.1f}%, "
                    f"{pct(m['ci_coverage'].iloc[0])}")
            lines.append(f"| {r.style} | {r.statistic} | {pct(r.truth)} | {base} | {pct(low)} "
                         f"to {pct(high)} | {pct(r.range_covers_truth)} | "
                         f"{pct(r.interval_range_covers_truth)} |")
    return "\n".join(lines) + "\n"


def run(samples: int, styles: list[str], seed: int, jobs: int, imputations: int, data: str,
        strength: float, populations: str = "shipped"
        ) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    options = {"imputations": imputations, "data": data, "strength": strength,
               "populations": populations}
    work = [(style, seed + i, options) for style in styles for i in range(samples)]
    clock = time.perf_counter()
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            records = [r for rows in pool.map(one_sample, work, chunksize=2) for r in rows]
    else:
        records = [r for job in work for r in one_sample(job)]
    frame = pd.DataFrame(records)
    truths = {s: truth(s) for s in styles} if populations == "shipped" else {}
    return frame, summarise(frame, truths), time.perf_counter() - clock


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--styles", default="moldova,georgia")
    ap.add_argument("--seed", type=int, default=2026, help="first sample seed")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--imputations", type=int, default=20)
    ap.add_argument("--data", choices=("mar", "mnar"), default="mar")
    ap.add_argument("--strength", type=float, default=2.0)
    ap.add_argument("--populations", choices=("shipped", "fresh"), default="shipped",
                    help="draw every sample from the shipped population, or from a fresh "
                    "population of its own")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--records", type=Path, help="also write every sample's estimates (CSV)")
    ap.add_argument("--docs", type=Path, help="write the tables into this page, between "
                    "<!-- study:<data>:begin --> and <!-- study:<data>:end -->")
    ap.add_argument("--report", type=Path, help="rewrite --docs from a saved run (--out file) "
                    "instead of running")
    args = ap.parse_args(argv)
    if args.report is not None:
        saved = json.loads(args.report.read_text(encoding="utf-8"))
        summary = pd.DataFrame(saved.pop("summary"))
        if args.docs is not None:
            _write_docs(args.docs, summary, saved)
        return 0
    styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    records, summary, seconds = run(args.samples, styles, args.seed, args.jobs, args.imputations,
                              args.data, args.strength, args.populations)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(summary.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    meta = {"samples": args.samples, "first_seed": args.seed, "data": args.data,
            "strength": args.strength, "imputations": args.imputations,
            "populations": args.populations,
            "seconds": round(seconds, 1), "version": fe.__version__,
            "machine": f"{platform.machine()}, Python {platform.python_version()}, "
                       f"{args.jobs} process(es)"}
    print(f"{args.samples} samples per style in {seconds:.0f} s")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {**meta, "summary": json.loads(summary.to_json(orient="records"))}
        args.out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    if args.records is not None:
        records.to_csv(args.records, index=False)
    if args.docs is not None:
        _write_docs(args.docs, summary, meta)
    return 0


def _write_docs(path: Path, summary: pd.DataFrame, meta: dict[str, Any]) -> None:
    page = path.read_text(encoding="utf-8")
    fresh = meta.get("populations", "shipped") == "fresh"
    tag = f"study:{meta['data']}" + ("-fresh" if fresh else "")
    begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    if begin in page and end in page:
        head, rest = page.split(begin, 1)
        _, tail = rest.split(end, 1)
        page = f"{head}{begin}\n{markdown(summary, meta)}{end}{tail}"
        path.write_text(page, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
