"""Interval coverage study (issue 8): how often do flestimate's 95% intervals for a prevalence
cover the true population rate, by interval method, variance design and domain size?

A synthetic Moldova-style population (``flestimate.synthetic.generate_population``) gets three
study outcomes among persons aged 15+ with true rates of exactly 0.5%, 2% and 8% nationally,
clustered in enumeration areas (a random effect on the logit scale), with fixed region and sex
effects so that the domains differ. ``R`` independent samples are drawn with the package's own
sampler (stratified two-stage PPS, household non-response adjusted within strata, person
weights post-stratified to region x sex x age group); in each, the three prevalences are
estimated nationally, by region and by sex under four variance designs (Taylor; delete-one-PSU
jackknife JK1 on the design declared without strata; stratified jackknife JKn; Rao-Wu
rescaling bootstrap) and five interval methods (korn-graubard, logit, wilson, wald, beta).

Run::

    python benchmarks/coverage.py --samples 1000 --seed 2026 --jobs 2 --docs docs/coverage.md
    python benchmarks/coverage.py --report benchmarks/results/coverage_1000.json \
        --docs docs/coverage.md          # rewrite the page from a saved run

Writes ``benchmarks/results/coverage_<R>.json`` (``--out``) and, with ``--docs``, the page.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

import flestimate
from flestimate.design import SurveyDesign
from flestimate.estimate import proportion
from flestimate.intervals import confidence_interval
from flestimate.synthetic import _styles as S
from flestimate.synthetic import generate_population
from flestimate.synthetic._sample import draw_fieldwork

HERE = Path(__file__).resolve().parent
RATES: tuple[float, ...] = (0.005, 0.02, 0.08)
OUTCOMES: tuple[str, ...] = ("y_0.5pct", "y_2pct", "y_8pct")
METHODS: tuple[str, ...] = ("korn-graubard", "logit", "wilson", "wald", "beta")
DEFAULT_METHOD = "korn-graubard"
DESIGNS: tuple[str, ...] = ("taylor", "jk1", "jkn", "bootstrap")
DESIGN_LABELS = {
    "taylor": "Taylor (strata, PSU)",
    "jk1": "JK1 (PSU, strata not declared)",
    "jkn": "JKn (stratified jackknife)",
    "bootstrap": "Rao-Wu bootstrap",
}
LEVEL = 0.95
#: Intra-cluster correlation (observed scale) of every outcome among persons 15+ in an EA.
ICC = 0.035
#: Fixed log-odds effects: region 1..7 (Chisinau, Balti, North, Centre, South, Gagauzia,
#: Taraclia) and men against women.
REGION_EFFECT = np.array([-0.25, 0.10, 0.15, 0.0, 0.25, 0.30, 0.35])
MALE_EFFECT = 0.25
#: Domain-class threshold: 30 (NCHS: n_eff < 30 is suppressed).
THRESHOLD = 30.0


# -- the population and its truth ----------------------------------------------------------------
@dataclass(frozen=True)
class Study:
    """The population's design frame plus the study outcomes and their truth."""

    population: Any
    y: np.ndarray  # persons x outcomes, bool (False below age 15)
    domains: list[tuple[str, Any, str]]  # (by, code, label); by None for national
    truth: np.ndarray  # domains x outcomes, the population rates among persons 15+
    population_n: np.ndarray  # domains: persons 15+
    calibration: list[dict[str, float]]


def _domain_list() -> list[tuple[str, Any, str]]:
    out: list[tuple[str, Any, str]] = [("national", None, "National")]
    out += [("region", r + 1, name) for r, (name, _, _) in enumerate(S.STYLES["moldova"].regions)]
    out += [("sex", 1, "Men"), ("sex", 2, "Women")]
    return out


def _solve_intercept(eta: np.ndarray, count: np.ndarray, rate: float) -> float:
    """Intercept ``a`` with ``sum count expit(a + eta) / sum count = rate`` (bisection)."""
    lo, hi = -20.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        m = np.sum(count * special.expit(mid + eta)) / count.sum()
        lo, hi = (mid, hi) if m < rate else (lo, mid)
    return (lo + hi) / 2


def make_study(seed: int, households: int | None = None) -> Study:
    """Population (``generate_population("moldova", seed=seed)``) and the three outcomes.

    Each outcome: ``P(y = 1) = expit(a + region + male + sigma u_ea)``, ``u_ea ~ N(0, 1)`` one per
    enumeration area (shared by the three outcomes), ``sigma`` solved so that the observed-scale
    intra-EA correlation ``var(p_ea) / (p (1 - p))`` is :data:`ICC`, ``a`` so that the mean
    probability is the target rate; then exactly ``round(rate N)`` persons 15+ are made cases by
    weighted sampling without replacement with those probabilities (Efraimidis-Spirakis keys),
    so the national rate is the target up to 1/N.
    """
    pop = generate_population("moldova", seed=seed, households=households)
    persons, hh, strata = pop.persons, pop.households, pop.strata
    hh_of = persons["household"].to_numpy()
    ea = hh["ea"].to_numpy()[hh_of] - 1
    region = strata["region"].to_numpy()[hh["stratum"].to_numpy()[hh_of] - 1]
    sex = persons["sex"].to_numpy()
    adult = persons["age"].to_numpy() >= 15
    n_ea = len(pop.eas)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 8]))
    u = rng.standard_normal(n_ea)
    # cells EA x sex (region is an EA attribute): the probabilities are constant within a cell
    cell = ea * 2 + (sex - 1)
    count = np.bincount(cell[adult], minlength=2 * n_ea).astype(float)
    cell_region = np.repeat(np.bincount(ea, weights=region, minlength=n_ea)
                            / np.maximum(np.bincount(ea, minlength=n_ea), 1), 2).round()
    fixed = REGION_EFFECT[cell_region.astype(int) - 1] + np.tile([MALE_EFFECT, 0.0], n_ea)
    u_cell = np.repeat(u, 2)
    n_adult = int(adult.sum())
    adult_rows = np.flatnonzero(adult)
    y = np.zeros((len(persons), len(RATES)), dtype=bool)
    calibration = []
    for k, rate in enumerate(RATES):
        def icc_of(sigma: float, rate: float = rate) -> tuple[float, float]:
            a = _solve_intercept(fixed + sigma * u_cell, count, rate)
            p_cell = special.expit(a + fixed + sigma * u_cell)
            c_ea = count.reshape(-1, 2).sum(axis=1)
            p_ea = (p_cell * count).reshape(-1, 2).sum(axis=1) / np.maximum(c_ea, 1)
            var = np.sum(c_ea * (p_ea - rate) ** 2) / c_ea.sum()
            return var / (rate * (1 - rate)), a

        lo, hi = 0.0, 4.0
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if icc_of(mid)[0] < ICC else (lo, mid)
        sigma = (lo + hi) / 2
        icc, a = icc_of(sigma)
        prob = special.expit(a + fixed[cell[adult_rows]] + sigma * u_cell[cell[adult_rows]])
        n_cases = int(round(rate * n_adult))
        keys = np.log(rng.random(n_adult)) / prob
        chosen = adult_rows[np.argpartition(-keys, n_cases)[:n_cases]]
        y[chosen, k] = True
        calibration.append({"rate": rate, "sigma": float(sigma), "intercept": float(a),
                            "icc_observed_scale": float(icc), "cases": n_cases})
    domains = _domain_list()
    truth = np.zeros((len(domains), len(RATES)))
    pop_n = np.zeros(len(domains), dtype=np.int64)
    for j, (by, code, _) in enumerate(domains):
        mask = adult.copy()
        if by == "region":
            mask &= region == code
        elif by == "sex":
            mask &= sex == code
        pop_n[j] = mask.sum()
        truth[j] = y[mask].mean(axis=0) if pop_n[j] else np.nan  # empty: tiny populations
    return Study(pop, y, domains, truth, pop_n, calibration)


# -- one sample ----------------------------------------------------------------------------------
_STUDY: Study | None = None
_HOUSEHOLDS = 10_000
_SEED = 2026
_BOOT_REPS = 100
_RANKS: dict[tuple[str, bytes], int] = {}


def _init_worker(study: Study, households: int, seed: int, boot_reps: int) -> None:
    global _STUDY, _HOUSEHOLDS, _SEED, _BOOT_REPS
    _STUDY, _HOUSEHOLDS, _SEED, _BOOT_REPS = study, households, seed, boot_reps


def _frame_arrays(res: Any, by: str | None, codes: Sequence[Any]) -> dict[str, np.ndarray]:
    """The table of ``res`` as (domain x outcome) arrays in the order of ``codes``."""
    f = res.to_frame()
    if by is None:
        f = f.set_index("variable").reindex(list(OUTCOMES))
        shape: tuple[int, ...] = (1, len(OUTCOMES))
    else:
        f = f.set_index([by, "variable"]).reindex(
            pd.MultiIndex.from_product([list(codes), list(OUTCOMES)]))
        shape = (len(codes), len(OUTCOMES))
    return {c: f[c].to_numpy(dtype=float).reshape(shape)
            for c in ("estimate", "se", "n", "n_eff", "df", "ci_low", "ci_high")}


def _estimates(design: Any, ci: str) -> dict[str, np.ndarray]:
    """National, region and sex estimates of the three outcomes, stacked (10 x 3)."""
    parts = [_frame_arrays(proportion(design, list(OUTCOMES), ci=ci), None, [None])]
    for by in ("region", "sex"):
        codes = [c for b, c, _ in _domain_list() if b == by]
        parts.append(_frame_arrays(proportion(design, list(OUTCOMES), by=by, ci=ci), by, codes))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _with_cached_rank(rd: Any, name: str, layout: bytes) -> Any:
    """The rank of a jackknife's replicate weights depends only on the PSU layout (PSUs per
    stratum), the same in every sample of this design: compute it once per process with the
    package (an SVD of PSUs x PSUs, ~1 s) and reuse it when the layout is identical."""
    key = (name, layout)
    if key in _RANKS:
        object.__setattr__(rd, "_rank", _RANKS[key])
    else:
        _RANKS[key] = rd.rank()
    return rd


def run_sample(s: int, check: bool = False) -> dict[str, Any]:
    """Draw sample ``s`` and compute every design's estimates and every method's interval."""
    assert _STUDY is not None
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fw = draw_fieldwork(_STUDY.population, _HOUSEHOLDS, s)
        p = fw.persons
        p = p.loc[p["age"].to_numpy() >= 15, ["person_row", "stratum", "ea", "region", "sex",
                                              "person_weight"]].reset_index(drop=True)
        yy = _STUDY.y[p["person_row"].to_numpy()]
        for k, name in enumerate(OUTCOMES):
            p[name] = yy[:, k].astype(np.int8)
        t_draw = time.perf_counter() - t0
        taylor = SurveyDesign(p, weights="person_weight", strata="stratum", psu="ea",
                              lonely_psu="adjust")
        n_h = np.bincount(taylor.stages[0].parent)
        layout = n_h.astype(np.int64).tobytes()
        jkn_base = SurveyDesign(p, weights="person_weight", strata="stratum", psu="ea",
                                lonely_psu="certainty")
        designs = {
            "taylor": taylor,
            "jk1": _with_cached_rank(
                SurveyDesign(p, weights="person_weight", psu="ea").to_replicate("jk1"),
                "jk1", layout),
            "jkn": _with_cached_rank(jkn_base.to_replicate("jkn"), "jkn", layout),
            "bootstrap": jkn_base.to_replicate(
                "subbootstrap", _BOOT_REPS,
                seed=np.random.default_rng(np.random.SeedSequence([_SEED, 1, s]))),
        }
        n_dom, n_out = len(_STUDY.domains), len(OUTCOMES)
        low = np.full((len(DESIGNS), len(METHODS), n_dom, n_out), np.nan)
        high = np.full_like(low, np.nan)
        se = np.full((len(DESIGNS), n_dom, n_out), np.nan)
        df = np.full_like(se, np.nan)
        est = n = n_eff = None
        checks: dict[str, float] = {}
        for d, name in enumerate(DESIGNS):
            design = designs[name]
            r = _estimates(design, DEFAULT_METHOD)
            if est is None:
                est, n, n_eff = r["estimate"], r["n"], r["n_eff"]
            se[d], df[d] = r["se"], r["df"]
            for m, method in enumerate(METHODS):
                if method == "logit" and name != "taylor":
                    # replicate designs: the logit interval uses the replicates' own logits
                    rl = _estimates(design, "logit")
                    low[d, m], high[d, m] = rl["ci_low"], rl["ci_high"]
                    continue
                lo_, hi_, _ = confidence_interval(method, r["estimate"].ravel(),
                                                  r["se"].ravel(), r["df"].ravel(),
                                                  r["n"].ravel(), LEVEL)
                low[d, m], high[d, m] = lo_.reshape(n_dom, n_out), hi_.reshape(n_dom, n_out)
                if check:
                    rc = _estimates(design, method)
                    diff = np.nanmax(np.abs(np.r_[rc["ci_low"].ravel() - lo_,
                                                  rc["ci_high"].ravel() - hi_]))
                    same_nan = bool(np.array_equal(np.isnan(rc["ci_low"].ravel()),
                                                   np.isnan(lo_)))
                    checks[f"{name}/{method}"] = float(diff) if same_nan else float("inf")
    return {"s": s, "est": est, "se": se, "df": df, "n": n, "n_eff": n_eff, "low": low,
            "high": high, "t_draw": t_draw, "t_total": time.perf_counter() - t0,
            "checks": checks}


# -- summaries -----------------------------------------------------------------------------------
def _metrics(truth: np.ndarray, est: np.ndarray, low: np.ndarray, high: np.ndarray
             ) -> dict[str, np.ndarray]:
    """Per-cell metrics over samples (axis 0). ``truth`` broadcasts against the cells."""
    has = np.isfinite(low) & np.isfinite(high)
    cover = has & (low <= truth) & (truth <= high)
    below = has & (high < truth)  # the interval lies below the truth
    above = has & (low > truth)
    with np.errstate(invalid="ignore"):
        width = np.where(has, high - low, np.nan)
    n_has = has.sum(axis=0)
    return {
        "coverage": cover.mean(axis=0),
        "coverage_given_interval": np.where(n_has > 0, cover.sum(axis=0) / np.maximum(n_has, 1),
                                            np.nan),
        "miss_below": below.mean(axis=0),
        "miss_above": above.mean(axis=0),
        "no_interval": 1 - has.mean(axis=0),
        "mean_width": np.nanmean(width, axis=0) if n_has.any() else np.full(n_has.shape, np.nan),
    }


def summarise(study: Study, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics per cell, summaries per domain class, and the goal check (JSON-ready)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # empty domains (tiny test populations) give NaN metrics, not warnings
        warnings.simplefilter("ignore", RuntimeWarning)
        return _summarise(study, results)


def _summarise(study: Study, results: list[dict[str, Any]]) -> dict[str, Any]:
    R = len(results)
    est = np.stack([r["est"] for r in results])  # R x dom x out
    se = np.stack([r["se"] for r in results])  # R x des x dom x out
    n = np.stack([r["n"] for r in results])
    n_eff = np.stack([r["n_eff"] for r in results])
    low = np.stack([r["low"] for r in results])  # R x des x met x dom x out
    high = np.stack([r["high"] for r in results])
    truth = study.truth
    mets = _metrics(truth[None, None], est[:, None, None], low, high)
    mean_est = est.mean(axis=0)
    sd_est = est.std(axis=0, ddof=1)
    mean_n = n.mean(axis=0)
    mean_neff = n_eff.mean(axis=0)
    eff_cases = mean_neff * truth
    se_ratio = np.sqrt(np.nanmean(se**2, axis=0)) / sd_est[None]  # des x dom x out

    cells = []
    for d, design in enumerate(DESIGNS):
        for m, method in enumerate(METHODS):
            for j, (by, _code, label) in enumerate(study.domains):
                for k, rate in enumerate(RATES):
                    c = mets["coverage"][d, m, j, k]
                    cells.append({
                        "rate": rate, "design": design, "method": method,
                        "domain_by": by, "domain": label,
                        "truth": float(truth[j, k]), "population_n": int(study.population_n[j]),
                        "mean_n": float(mean_n[j, k]), "mean_n_eff": float(mean_neff[j, k]),
                        "effective_cases": float(eff_cases[j, k]),
                        "coverage": float(c), "mc_se": float(np.sqrt(c * (1 - c) / R)),
                        **{key: float(mets[key][d, m, j, k]) for key in
                           ("coverage_given_interval", "miss_below", "miss_above",
                            "no_interval", "mean_width")},
                        "relative_bias": float(mean_est[j, k] / truth[j, k] - 1),
                        "se_ratio": float(se_ratio[d, j, k]),
                    })
    cells_df = pd.DataFrame(cells)

    def group(grouping: str) -> list[dict[str, Any]]:
        rows = []
        df = cells_df.copy()
        if grouping == "n_eff":
            small = df["mean_n_eff"] < THRESHOLD
        else:
            small = df["effective_cases"] < THRESHOLD
        df["domain_type"] = np.where(df["domain_by"] == "national", "national",
                                     np.where(small, f"domain {grouping} < 30",
                                              f"domain {grouping} >= 30"))
        for (rate, design, method, dtype), g in df.groupby(
                ["rate", "design", "method", "domain_type"], sort=False):
            c = float(g["coverage"].mean())
            worst = g.loc[g["coverage"].idxmin()]
            rows.append({
                "grouping": grouping, "rate": rate, "design": design, "method": method,
                "domain_type": dtype, "domains": int(len(g)),
                "coverage": c, "mc_se": float(np.sqrt(c * (1 - c) / (R * len(g)))),
                "min_domain_coverage": float(worst["coverage"]), "min_domain": worst["domain"],
                "miss_below": float(g["miss_below"].mean()),
                "miss_above": float(g["miss_above"].mean()),
                "no_interval": float(g["no_interval"].mean()),
                "mean_width": float(g["mean_width"].mean()),
                "relative_bias": float(g["relative_bias"].mean()),
                "se_ratio": float(g["se_ratio"].mean()),
                "mean_n_eff": float(g["mean_n_eff"].mean()),
            })
        return rows

    summary = group("n_eff") + group("eff_cases")
    # the goal: the default method covers 94-96% nationally and never under 92% in domains with
    # at least 30 effective cases (read two ways)
    goal: dict[str, Any] = {}
    kg = cells_df[cells_df["method"] == DEFAULT_METHOD]
    for design in DESIGNS:
        g = kg[kg["design"] == design]
        nat = g[g["domain_by"] == "national"]
        entry: dict[str, Any] = {
            "national_coverage": {str(r["rate"]): r["coverage"] for _, r in nat.iterrows()},
            "national_ok": bool(((nat["coverage"] >= 0.94) & (nat["coverage"] <= 0.96)).all()),
        }
        for grouping, col in (("n_eff", "mean_n_eff"), ("eff_cases", "effective_cases")):
            dom = g[(g["domain_by"] != "national") & (g[col] >= THRESHOLD)]
            low_dom = dom[dom["coverage"] < 0.92]
            entry[f"domains_{grouping}_ok"] = bool(low_dom.empty)
            entry[f"domains_{grouping}_min"] = (float(dom["coverage"].min())
                                                if len(dom) else None)
            entry[f"domains_{grouping}_under_92"] = [
                {"rate": r["rate"], "domain": r["domain"], "coverage": r["coverage"],
                 "mean_n_eff": r["mean_n_eff"], "effective_cases": r["effective_cases"]}
                for _, r in low_dom.iterrows()]
        goal[design] = entry
    per_domain = cells_df[cells_df["design"] == "taylor"].groupby(
        ["rate", "domain"], sort=False).first().reset_index()
    sample_stats = {
        "mean_persons_15plus": float(mean_n[0, 0]),
        "mean_deff_taylor": [float(np.nanmean((se[:, 0, 0, k] ** 2)
                                              / (est[:, 0, k] * (1 - est[:, 0, k]) / n[:, 0, k])))
                             for k in range(len(RATES))],
        "mean_df": {des: float(np.nanmean(np.stack([r["df"] for r in results])[:, d, 0, 0]))
                    for d, des in enumerate(DESIGNS)},
    }
    return {
        "cells": cells,
        "summary": summary,
        "goal": goal,
        "domains": [{"rate": r["rate"], "domain": r["domain"], "truth": r["truth"],
                     "population_n": r["population_n"], "mean_n": r["mean_n"],
                     "mean_n_eff": r["mean_n_eff"], "effective_cases": r["effective_cases"],
                     "relative_bias": r["relative_bias"]}
                    for _, r in per_domain.iterrows()],
        "sample": sample_stats,
    }


def _commit() -> str:
    try:
        root = HERE.parent
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(samples: int, seed: int, jobs: int = 1, households: int = 10_000,
        population_households: int | None = None, boot_reps: int = 100,
        progress: bool = True) -> dict[str, Any]:
    """Run the study; returns the JSON-ready result."""
    t0 = time.perf_counter()
    study = make_study(seed, population_households)
    t_pop = time.perf_counter() - t0
    _init_worker(study, households, seed, boot_reps)
    first = run_sample(0, check=True)
    results = [first]
    rest = range(1, samples)
    bar: Any = None
    if progress:
        try:
            from tqdm import tqdm
            bar = tqdm(total=samples, initial=1, desc="samples", mininterval=5, file=sys.stderr)
        except ImportError:
            bar = None
    if jobs > 1 and samples > 1:
        ctx = mp.get_context("fork")
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker,
                                 initargs=(study, households, seed, boot_reps)) as pool:
            for r in pool.map(run_sample, rest, chunksize=4):
                results.append(r)
                if bar is not None:
                    bar.update()
    else:
        for s in rest:
            results.append(run_sample(s))
            if bar is not None:
                bar.update()
    if bar is not None:
        bar.close()
    out = summarise(study, results)
    wall = time.perf_counter() - t0
    out["settings"] = {
        "samples": samples, "seed": seed, "sample_seeds": f"0..{samples - 1}",
        "households": households, "population_households": population_households,
        "bootstrap_replicates": boot_reps, "level": LEVEL, "icc": ICC,
        "region_effect": REGION_EFFECT.tolist(), "male_effect": MALE_EFFECT,
        "methods": list(METHODS), "designs": DESIGN_LABELS, "threshold": THRESHOLD,
    }
    pop = study.population
    out["population"] = {
        "households": len(pop.households), "persons": len(pop.persons),
        "persons_15plus": int(study.population_n[0]), "eas": len(pop.eas),
        "strata": len(pop.strata), "outcomes": study.calibration,
        "truth": [{"domain": label, "population_n": int(study.population_n[j]),
                   **{OUTCOMES[k]: float(study.truth[j, k]) for k in range(len(RATES))}}
                  for j, (_, _, label) in enumerate(study.domains)],
    }
    out["consistency_check"] = {
        "what": "sample 0: max |bound from confidence_interval(method, est, se, df, n) - bound "
                "from proportion(ci=method)| per design/method (inf: NaN patterns differ)",
        "max_abs_diff": first["checks"],
    }
    out["timing"] = {
        "wall_seconds": wall, "population_seconds": t_pop, "jobs": jobs,
        "mean_sample_seconds": float(np.mean([r["t_total"] for r in results])),
        "mean_draw_seconds": float(np.mean([r["t_draw"] for r in results])),
    }
    out["machine"] = {"python": platform.python_version(), "platform": platform.platform(),
                      "cpus": os.cpu_count(), "numpy": np.__version__,
                      "flestimate": flestimate.__version__, "commit": _commit()}
    return out


# -- reporting -----------------------------------------------------------------------------------
def _pct(x: float | None, digits: int = 1) -> str:
    if x is None or not np.isfinite(x):
        return "-"
    return f"{100 * x:.{digits}f}"


def summary_table(res: dict[str, Any], grouping: str = "eff_cases") -> str:
    """Markdown table: one row per (rate, design, method) with national and domain coverage."""
    rows = [r for r in res["summary"] if r["grouping"] == grouping]
    idx: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        kind = ("nat" if r["domain_type"] == "national"
                else "big" if ">=" in r["domain_type"] else "small")
        idx[(r["rate"], r["design"], r["method"], kind)] = r
    head = ("| rate | design | method | national cov. % (MCSE) | width (pp) | miss below/above % "
            "| domains >= 30: pooled cov. % | worst domain % | domains < 30: pooled cov. % "
            "| worst domain % | no interval % (domains < 30) |")
    lines = [head, "|" + "---|" * 11]
    for rate in RATES:
        for design in DESIGNS:
            for method in METHODS:
                nat = idx.get((rate, design, method, "nat"))
                big = idx.get((rate, design, method, "big"))
                small = idx.get((rate, design, method, "small"))
                if nat is None:
                    continue
                mark = "**" if method == DEFAULT_METHOD else ""
                lines.append(
                    f"| {100 * rate:g}% | {design} | {mark}{method}{mark} "
                    f"| {_pct(nat['coverage'])} ({_pct(nat['mc_se'])}) "
                    f"| {100 * nat['mean_width']:.2f} "
                    f"| {_pct(nat['miss_below'])}/{_pct(nat['miss_above'])} "
                    + (f"| {_pct(big['coverage'])} ({big['domains']}) "
                       f"| {_pct(big['min_domain_coverage'])} {big['min_domain']} "
                       if big else "| - | - ")
                    + (f"| {_pct(small['coverage'])} ({small['domains']}) "
                       f"| {_pct(small['min_domain_coverage'])} {small['min_domain']} "
                       f"| {_pct(small['no_interval'])} |"
                       if small else "| - | - | - |"))
    return "\n".join(lines)


def _goal_text(res: dict[str, Any]) -> list[str]:
    out = []
    for design in DESIGNS:
        g = res["goal"][design]
        R = res["settings"]["samples"]
        cov = {float(k): float(v) for k, v in g["national_coverage"].items()}
        mcse = {k: float(np.sqrt(v * (1 - v) / R)) for k, v in cov.items()}
        nat = ", ".join(f"{100 * k:g}%: {_pct(v)} ({_pct(mcse[k])})" for k, v in cov.items())
        near = all(0.94 - 2 * mcse[k] <= v <= 0.96 + 2 * mcse[k] for k, v in cov.items())
        verdict = ("within 94-96%" if g["national_ok"] else
                   "NOT all within 94-96%" + (", but within two Monte Carlo SEs of the band"
                                              if near else ""))
        parts = [f"- **{DESIGN_LABELS[design]}**: national coverage (MCSE) {nat} -> {verdict}"]
        for grouping, what in (("eff_cases", "effective cases n_eff x p >= 30"),
                               ("n_eff", "n_eff >= 30")):
            bad = g[f"domains_{grouping}_under_92"]
            mn = g[f"domains_{grouping}_min"]
            if not bad:
                parts.append(f"; domains with {what}: lowest {_pct(mn)}%, none under 92%")
            else:
                lst = ", ".join(f"{b['domain']} at {100 * b['rate']:g}% ({_pct(b['coverage'])}%)"
                                for b in bad)
                parts.append(f"; domains with {what}: {len(bad)} under 92%: {lst}")
        out.append("".join(parts) + ".")
    return out


def _undercover_text(res: dict[str, Any]) -> list[str]:
    """Plain statements: every national cell under 94% and every class of domains with >= 30
    effective cases under 93%, then a table of the small-domain class (< 30 effective cases)."""
    lines = []
    rows = [r for r in res["summary"] if r["grouping"] == "eff_cases"]
    for r in rows:
        small = "<" in r["domain_type"]
        limit = 0.94 if r["domain_type"] == "national" else 0.93
        if not small and r["coverage"] < limit:
            lines.append(f"- {r['method']} / {r['design']} at {100 * r['rate']:g}%, "
                         f"{r['domain_type'].replace('eff_cases', 'effective cases')}: "
                         f"{_pct(r['coverage'])}% (misses below {_pct(r['miss_below'])}%, above "
                         f"{_pct(r['miss_above'])}%; no interval {_pct(r['no_interval'])}%)")
    if not lines:
        lines.append("- Nationally and in domains with at least 30 effective cases: no method "
                     "under any design has pooled coverage under 94% (national) or 93% "
                     "(domains).")
    small = {(r["rate"], r["design"], r["method"]): r for r in rows if "<" in r["domain_type"]}
    if small:
        lines += ["", "Domains with fewer than 30 effective cases (pooled coverage %, and in "
                  "brackets the share of samples without an interval %; under 93% in bold):", "",
                  "| method | design | " + " | ".join(f"{100 * r:g}%" for r in RATES) + " |",
                  "|" + "---|" * (2 + len(RATES))]
        for method in METHODS:
            for design in DESIGNS:
                cells = []
                for rate in RATES:
                    r = small.get((rate, design, method))
                    if r is None:
                        cells.append("-")
                        continue
                    c = _pct(r["coverage"])
                    c = f"**{c}**" if r["coverage"] < 0.93 else c
                    cells.append(f"{c} ({_pct(r['no_interval'])})")
                lines.append(f"| {method} | {design} | " + " | ".join(cells) + " |")
    return lines


def _cell(res: dict[str, Any], rate: float, design: str, method: str, domain: str
          ) -> dict[str, Any]:
    for c in res["cells"]:
        if (c["rate"] == rate and c["design"] == design and c["method"] == method
                and c["domain"] == domain):
            return c
    raise KeyError((rate, design, method, domain))


def _reading(res: dict[str, Any]) -> str:
    """What the tables say, with the numbers of this run."""
    kg = DEFAULT_METHOD
    nat = [_cell(res, r, d, kg, "National")["coverage"] for r in RATES for d in DESIGNS]
    try:
        tar = {d: _cell(res, 0.08, d, kg, "Taraclia") for d in DESIGNS}
    except KeyError:
        return ""
    t = tar["taylor"]
    return f"""In plain words:

- **korn-graubard** (the default) covers {_pct(min(nat))}-{_pct(max(nat))}% nationally under
  every design and rate; it is slightly conservative at 0.5% and 2% (about 96%). In the small
  domains it keeps 95% or more under Taylor, and under the replicate designs everywhere except
  Taraclia at 8% (below): where the estimate is 0 it still gives a (one-sided) interval, and its
  cap at n keeps it wide.
- **wald** undercovers in the small domains at every rate, mostly from below: it is symmetric
  where the sampling distribution of a rare proportion is skewed, so its lower bound (often
  negative) is no help and its upper bound is too low when few cases are seen.
- **logit**, **wilson** and **beta** give no interval when the domain estimate is 0 (they count
  as misses here), and with replicate designs `logit` also fails when a replicate's estimate is
  0 or 1 (its replicate logits are infinite): up to a third of the samples in the smallest
  domains at 0.5%.
- **Taraclia** (about {t['mean_n']:.0f} persons 15+, mean n_eff {t['mean_n_eff']:.0f} at 8%, so
  {t['effective_cases']:.0f} effective cases): one of the two EAs drawn in its urban stratum is
  never interviewed (the sampler's lonely PSU). Under JKn and the bootstrap that lonely PSU
  contributes no variance (`lonely_psu="certainty"`), and the SE is too small (SE ratio
  {tar['jkn']['se_ratio']:.2f} and {tar['bootstrap']['se_ratio']:.2f}): korn-graubard covers
  {_pct(tar['jkn']['coverage'])}% and {_pct(tar['bootstrap']['coverage'])}% there at 8%. Taylor with
  `lonely_psu="adjust"` (SE ratio {t['se_ratio']:.2f}, coverage {_pct(t['coverage'])}%) and JK1
  (which ignores the strata: {_pct(tar['jk1']['coverage'])}%) do better. Taraclia has fewer than 30
  effective cases at every rate, so it is outside the goal's domains read as effective cases,
  but inside them if "30 effective cases" is read as n_eff >= 30 (the NCHS suppression rule).
- Point estimates are close to unbiased nationally and in the other domains (relative bias
  within about 2%). In Taraclia the unreachable EA is always the drawn EA with the higher
  number, so the highest-numbered EA of its urban stratum is never observed: not missing at
  random in this fixed population, which biases Taraclia's estimates (see the domain table).
"""


def domain_table(res: dict[str, Any]) -> str:
    cells = pd.DataFrame(res["cells"])
    kg = cells[cells["method"] == DEFAULT_METHOD]
    lines = ["| rate | domain | true rate % | mean n | mean n_eff | effective cases | rel. bias % "
             "| " + " | ".join(f"KG cov. {d} %" for d in DESIGNS) + " |",
             "|" + "---|" * (7 + len(DESIGNS))]
    for rate in RATES:
        for dom in dict.fromkeys(cells["domain"]):
            g = kg[(kg["rate"] == rate) & (kg["domain"] == dom)].set_index("design")
            t = g.iloc[0]
            lines.append(f"| {100 * rate:g}% | {dom} | {100 * t['truth']:.3f} | {t['mean_n']:.0f} "
                         f"| {t['mean_n_eff']:.0f} | {t['effective_cases']:.1f} "
                         f"| {100 * t['relative_bias']:+.1f} | "
                         + " | ".join(_pct(g.loc[d, "coverage"]) for d in DESIGNS) + " |")
    return "\n".join(lines)


def se_table(res: dict[str, Any]) -> str:
    cells = pd.DataFrame(res["cells"])
    kg = cells[(cells["method"] == DEFAULT_METHOD)]
    lines = ["| rate | domain | " + " | ".join(f"SE ratio {d}" for d in DESIGNS) + " |",
             "|" + "---|" * (2 + len(DESIGNS))]
    for rate in RATES:
        for dom in dict.fromkeys(cells["domain"]):
            g = kg[(kg["rate"] == rate) & (kg["domain"] == dom)].set_index("design")
            lines.append(f"| {100 * rate:g}% | {dom} | "
                         + " | ".join(f"{g.loc[d, 'se_ratio']:.2f}" for d in DESIGNS) + " |")
    return "\n".join(lines)


def write_docs(res: dict[str, Any], path: Path, json_name: str) -> None:
    st, pop, tm = res["settings"], res["population"], res["timing"]
    R = st["samples"]
    outc = pop["outcomes"]
    deffs = res["sample"]["mean_deff_taylor"]
    dfs = res["sample"]["mean_df"]
    checks = res["consistency_check"]["max_abs_diff"]
    worst_check = max(checks.values()) if checks else float("nan")
    text = f"""# Interval coverage

How often does a nominal 95% interval for a prevalence contain the true population rate? This
page reports a simulation study (issue 8) of flestimate's interval methods under four variance
designs, for national and domain prevalences of 0.5%, 2% and 8%. It is generated by
`benchmarks/coverage.py` from `benchmarks/results/{json_name}`; rerun with

```bash
python benchmarks/coverage.py --samples {R} --seed {st['seed']} --jobs 2 --docs docs/coverage.md
```

## How the study was done

**Population.** `generate_population("moldova", seed={st['seed']})`:
{pop['households']:,} households, {pop['persons']:,} persons ({pop['persons_15plus']:,} aged 15+)
in {pop['eas']:,} enumeration areas (EAs) and {pop['strata']} strata (7 regions x urban/rural).
Three study outcomes are added among persons aged 15+, with
`P(y = 1) = expit(a + region effect + male effect + sigma u_EA)`, `u_EA ~ N(0, 1)` one per EA
(shared by the outcomes), region effects {st['region_effect']} (Chisinau ... Taraclia) and
+{st['male_effect']} for men. `sigma` is solved so that the intra-EA correlation on the observed
scale is {st['icc']} ({', '.join(f"sigma = {o['sigma']:.2f} at {100 * o['rate']:g}%" for o in outc)}),
`a` so that the mean probability is the target; then exactly round(rate x N) persons are made
cases (weighted sampling without replacement), so the national truth is 0.5%, 2% and 8% to
1/N. The truth of every domain is the population rate among its persons 15+ (table below).

**Samples.** {R:,} independent samples (seeds 0..{R - 1}), each with the package's own sampler
(`flestimate.synthetic._sample.draw_fieldwork`, what `draw_sample` uses): {st['households']:,}
households, systematic PPS of EAs within strata ({dfs['jk1'] + 1:.0f} PSUs interviewed), 12
households per EA, household
non-response (80% urban, 91% rural) adjusted within strata, one EA of a two-PSU stratum in
Taraclia not reachable (a lonely PSU), person weights post-stratified to region x sex x age
group. On average {res['sample']['mean_persons_15plus']:,.0f} persons 15+ per sample. The
estimator is the weighted (Hajek) proportion with calibrated weights, so its expectation is the
population rate only approximately; its bias is reported (small except in Taraclia: see
below).
Design effects (Taylor variance over p(1-p)/n, national, mean over samples): {', '.join(f"{d:.2f}" for d in deffs)} at 0.5%, 2%, 8%.

**Designs.**

- `taylor`: `SurveyDesign(weights, strata="stratum", psu="ea", lonely_psu="adjust")`,
  df = PSUs - strata (mean {dfs['taylor']:.0f} nationally).
- `jk1`: delete-one-PSU jackknife on the design declared *without* strata
  (`to_replicate("jk1")` refuses stratified designs); ignoring the strata is a common,
  conservative practice. df = rank - 1 = {dfs['jk1']:.0f}.
- `jkn`: the stratified delete-one-PSU jackknife (`to_replicate("jkn")`, lonely PSU
  contributes nothing); df {dfs['jkn']:.0f}.
- `bootstrap`: Rao-Wu rescaling bootstrap (`to_replicate("subbootstrap", {st['bootstrap_replicates']})`,
  n_h - 1 PSUs drawn per stratum), a new seed per sample; df {dfs['bootstrap']:.0f}.

None of the designs declares the post-stratification (`poststratify`), as many analysts do;
the variance therefore ignores the small gain from it.

**Methods.** In every sample and design the estimate, SE, df and n of each domain come from one
`proportion()` call; the intervals come from
`flestimate.intervals.confidence_interval(method, est, se, df, n, 0.95)`, exactly what
`proportion(ci=method)` returns (checked on sample 0 for every design and method: largest
difference {worst_check:.1e}). For replicate designs the `logit` interval is taken from
`proportion(ci="logit")`, which uses the variance of the replicates' own logits (as R does).
`beta` (R `svyciprop(method="beta")`) is shown for reference.

**Domains.** National; 7 regions; 2 sexes. A domain's size is read from the mean over samples
of its Taylor `n_eff = p(1-p)/se^2` (as the NCHS standard uses it) and of its *effective cases*
`n_eff x p` (true p). The goal speaks of "domains with at least 30 effective cases"; both
readings are checked below, and domains are classed in the tables by effective cases.

**Measures.** Coverage = share of the {R:,} samples whose interval contains the truth (a sample
without an interval counts as a miss; its share is reported), with its Monte Carlo SE
sqrt(c(1-c)/R) (about 0.7 points at 95% and R = 1,000); misses below/above = the interval lies
wholly below/above the truth; width = mean U - L in percentage points; relative bias = mean
estimate / truth - 1; SE ratio = root mean squared SE / empirical SD of the estimates.
Pooled domain coverage averages over the domains of a class (its MCSE is smaller); the worst
domain is the lowest single-domain coverage in the class.

## Does the default meet the goal?

Goal: the default method (`korn-graubard`) covers 94-96% nationally and never under 92% in
domains with at least 30 effective cases.

{chr(10).join(_goal_text(res))}

## Where methods undercover

{chr(10).join(_undercover_text(res))}

{_reading(res)}

## Results

Domain classes by effective cases `n_eff x p` (>= 30 and < 30), the number of domains in the
class in brackets; default method in bold.

{summary_table(res, "eff_cases")}

### Every domain (korn-graubard)

{domain_table(res)}

### SE ratio (root mean squared SE / empirical SD; below 1: the variance is underestimated)

{se_table(res)}

The full per-domain results for every method and design (coverage, MCSE, misses, width, bias,
mean n and n_eff), the same summary with domains classed by `n_eff >= 30`, and the truth are in
`benchmarks/results/{json_name}`.

## Run

{R:,} samples, {tm['jobs']} processes, {tm['wall_seconds'] / 60:.1f} minutes wall time
({tm['mean_sample_seconds']:.2f} s per sample, of which drawing {tm['mean_draw_seconds']:.2f} s);
flestimate {res['machine']['flestimate']} ({res['machine']['commit']}), numpy
{res['machine']['numpy']}, Python {res['machine']['python']}. The jackknife's df (the rank of its
replicate weights) depends only on the PSU layout, identical in every sample; the script
computes it with the package once per process and reuses it when the layout is the same.
"""
    path.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--households", type=int, default=10_000,
                    help="households drawn per sample")
    ap.add_argument("--population-households", type=int, default=None,
                    help="approximate households of the population (style default)")
    ap.add_argument("--bootstrap-replicates", type=int, default=100)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--docs", type=Path, default=None, help="write the Markdown page here")
    ap.add_argument("--report", type=Path, default=None,
                    help="no run: read this JSON and write --docs / print the table")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.report is not None:
        res = json.loads(args.report.read_text())
        out = args.report
    else:
        res = run(args.samples, args.seed, args.jobs, args.households,
                  args.population_households, args.bootstrap_replicates,
                  progress=not args.quiet)
        out = args.out or HERE / "results" / f"coverage_{args.samples}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1, default=float) + "\n", encoding="utf-8")
    if args.docs is not None:
        write_docs(res, args.docs, out.name)
    if not args.quiet:
        print(summary_table(res, "eff_cases"))
        print()
        print("\n".join(_goal_text(res)))
        print(f"\nwall time {res['timing']['wall_seconds']:.0f} s; written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
