"""Hidden-population estimators against a known truth: bias, standard errors and 95% coverage of
the network scale-up (NSUM) and respondent-driven sampling (RDS) estimators, under their
assumptions and when an assumption fails (issue 20).

The Moldova-style population behind the shipped files is rebuilt (``benchmarks/missing.py``
``population``), and each scenario's network is built once from a fixed seed (so the truth is
fixed) and reused for every sample.

**NSUM** (hidden populations ``forced_labour`` and ``trafficked``): sample ``s`` is a fresh
household survey (``synthetic.draw_sample``); its persons 15+ answer the "how many do you know"
questions (``synthetic.draw_ard``); ``nsum.scale_up`` runs on the survey's design (the spec
``moldova-2008-synthetic``'s weights, strata and PSUs over the persons 15+; 200 rescaled
bootstrap replicates). Scenarios: (a) random mixing, no barrier, no transmission or recall
error; (b) barrier effects (``barrier=0.8``); (c) transmission error (``transmission=0.6``);
(d) recall error (``recall=0.3``). The generalized estimator takes its visibility from a
simple random sample of 500 of the hidden population (``synthetic.draw_hidden_sample``).

**RDS** (target: migrants; outcome: ``forced_labour``; n = 500, 10 seeds, 3 coupons): (a)
random mixing; (b) strong homophily on forced labour and seeds 5 times as likely in forced
labour; (c) differential recruitment (exploited respondents recruit half as often); (d)
reported degrees with a multiplicative error; (e) a large sampling fraction (n = 5,000 of the
returned migrants of a smaller population of the same style). Estimators RDS-I, RDS-II, SS (Salganik
bootstrap, 500 replicates) and RDS-II with the tree bootstrap.

For each scenario, estimator and target: the relative bias ``mean(estimate) / truth - 1`` with
its Monte Carlo SE, the empirical SE against the mean estimated SE, and the coverage of the 95%
interval with its Monte Carlo SE.

Run::

    python benchmarks/hidden.py --samples 200 --jobs 2 \
        --out benchmarks/results/hidden_200.json --docs docs/hidden.md
    python benchmarks/hidden.py --samples 5 --scenarios nsum-a,rds-a      # a quick look
    python benchmarks/hidden.py --report benchmarks/results/hidden_200.json --docs docs/hidden.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from missing import population

import flestimate as fe
from flestimate import SurveyDesign, nsum, rds, synthetic

SPEC = "moldova-2008-synthetic"
HIDDEN = ("forced_labour", "trafficked")
RANDOM_MIXING = {"homophily": 0.0, "exploitation_homophily": 0.0, "region_homophily": 0.0,
                 "sex_homophily": 0.0}
NETWORK_SEED = 20
HIDDEN_SAMPLE = 500
#: NSUM scenario -> (network keywords, draw_ard keywords, estimators)
NSUM_SCENARIOS: dict[str, tuple[dict[str, float], dict[str, float], tuple[str, ...]]] = {
    "a": ({}, {}, ("basic",)),
    "b": ({"barrier": 0.8}, {}, ("basic", "basic, true degree ratio", "generalized")),
    "c": ({}, {"transmission": 0.6}, ("basic", "basic, true transmission", "generalized")),
    "d": ({}, {"recall": 0.3}, ("basic",)),
}
NSUM_LABELS = {"a": "assumptions hold", "b": "barrier effects (0.8)",
               "c": "transmission error (0.6)", "d": "recall error (0.3)"}
# A respondent redeems a coupon with chance 0.8 (odds 4); half as often is 0.4 (odds 2/3),
# odds times 1/6.
HALF_AS_OFTEN = (0.4 / 0.6) / (0.8 / 0.2)
SMALL_HOUSEHOLDS = 60_000
#: RDS scenario -> (population, contact network keywords, draw_rds keywords)
RDS_SCENARIOS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "a": ("full", {"homophily": 0.0, "region_homophily": 0.0}, {}),
    "b": ("full", {"homophily": 3.0, "region_homophily": 0.0}, {"seed_bias": 5.0}),
    "c": ("full", {"homophily": 0.0, "region_homophily": 0.0},
          {"differential_recruitment": HALF_AS_OFTEN}),
    "d": ("full", {"homophily": 0.0, "region_homophily": 0.0}, {"degree_error": 0.7}),
    "e": ("small", {"target": "returned", "homophily": 0.0, "region_homophily": 0.0},
          {"n": 5000}),
}
RDS_LABELS = {"a": "assumptions hold", "b": "homophily 3 and seeds biased 5x to forced labour",
              "c": "differential recruitment (exploited recruit half as often)",
              "d": "degree misreporting (log-sd 0.7)",
              "e": "large sampling fraction (n = 5,000 of 14,471)"}
RDS_ESTIMATORS = (("rds-i", "salganik"), ("rds-ii", "salganik"), ("ss", "salganik"),
                  ("rds-ii", "tree"))
SCENARIOS = tuple([f"nsum-{k}" for k in NSUM_SCENARIOS] + [f"rds-{k}" for k in RDS_SCENARIOS])
_CACHE: dict[Any, Any] = {}


def _cached(key: Any, make: Any) -> Any:
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def _population(which: str) -> synthetic.Population:
    if which == "full":
        return population("moldova")

    def small() -> synthetic.Population:
        seed = synthetic.SHIPPED_SEEDS["moldova"]
        pop_seed = int(np.random.SeedSequence(seed).spawn(2)[0].generate_state(1)[0])
        return synthetic.generate_population("moldova", seed=pop_seed,
                                             households=SMALL_HOUSEHOLDS)
    return _cached(("population", which), small)  # type: ignore[no-any-return]


def _network(scenario: str) -> synthetic.SocialNetwork:
    kw = {**RANDOM_MIXING, **NSUM_SCENARIOS[scenario][0]}
    key = ("network", tuple(sorted(kw.items())))
    return _cached(key, lambda: synthetic.build_network(  # type: ignore[no-any-return]
        population("moldova"), seed=NETWORK_SEED, **kw))


def _contacts(scenario: str) -> synthetic.ContactNetwork:
    which, kw, _ = RDS_SCENARIOS[scenario]
    key = ("contacts", which, tuple(sorted(kw.items())))
    return _cached(key, lambda: synthetic.build_contact_network(  # type: ignore[no-any-return]
        _population(which), seed=NETWORK_SEED, **kw))


def _row(study: str, scenario: str, estimator: str, target: str, truth: float,
         table: pd.DataFrame) -> dict[str, Any]:
    r = table.iloc[0]
    return {"study": study, "scenario": scenario, "estimator": estimator, "target": target,
            "truth": float(truth), "estimate": float(r["estimate"]), "se": float(r["se"]),
            "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"])}


def _design(survey: synthetic.SyntheticSurvey, ard: synthetic.ARDSample) -> SurveyDesign:
    """The main job's design (the spec's design section) over the persons 15+ who answered."""
    d = fe.load_spec(SPEC).design
    frame = survey.persons.merge(ard.frame, on=["hh_id", "ln"], how="inner", validate="1:1")
    return SurveyDesign(frame, weights=d["weights"], strata=d["strata"], psu=d["psu"],
                        lonely_psu=d.get("lonely_psu", "fail"))


def _nsum_call(design: SurveyDesign, ard: synthetic.ARDSample, net: synthetic.SocialNetwork,
               hidden: str, estimator: str, seed: int, replicates: int) -> pd.DataFrame:
    known = {f"know_{k}": float(v) for k, v in ard.known_sizes.items()}
    opts: dict[str, Any] = {"replicates": replicates, "seed": seed, "disclosure": "none"}
    if estimator == "basic, true degree ratio":
        opts["degree_ratio"] = min(1.0, ard.degree_ratio[hidden])
    elif estimator == "basic, true transmission":
        opts["transmission"] = ard.transmission[hidden]
    elif estimator == "generalized":
        sample = synthetic.draw_hidden_sample(
            population("moldova"), HIDDEN_SAMPLE, network=net, hidden=hidden,
            transmission=ard.transmission[hidden], seed=seed)
        opts.update(hidden_sample=sample.frame, hidden_weights="weight",
                    hidden_reports={f"know_{k}": f"known_by_{k}" for k in ard.known_sizes})
    method = "generalized" if estimator == "generalized" else "basic"
    res = nsum.scale_up(design, f"know_{hidden}", known, float(ard.total), method, **opts)
    return res.to_frame()


def nsum_sample(seed: int, scenarios: tuple[str, ...], replicates: int
                ) -> list[dict[str, Any]]:
    """One household survey, its ARD under every NSUM scenario, every estimator."""
    survey = synthetic.draw_sample(population("moldova"), seed=seed)
    rows: list[dict[str, Any]] = []
    for sc in scenarios:
        net = _network(sc)
        ard = synthetic.draw_ard(population("moldova"), survey, network=net, hidden=HIDDEN,
                                 seed=seed, **NSUM_SCENARIOS[sc][1])
        design = _design(survey, ard)
        for est in NSUM_SCENARIOS[sc][2]:
            for h in HIDDEN:
                t = _nsum_call(design, ard, net, h, est, seed, replicates)
                rows.append(_row("nsum", sc, est, h, ard.hidden_sizes[h], t))
    return rows


def rds_sample(seed: int, scenarios: tuple[str, ...], replicates: int
               ) -> list[dict[str, Any]]:
    """One RDS sample under every RDS scenario, every estimator."""
    rows: list[dict[str, Any]] = []
    for sc in scenarios:
        which, _, draw = RDS_SCENARIOS[sc]
        kw = {"n": 500, "seeds": 10, "coupons": 3, **draw}
        sample = synthetic.draw_rds(_population(which), network=_contacts(sc), seed=seed, **kw)
        truth = sample.true_shares["forced_labour"]
        for method, boot in RDS_ESTIMATORS:
            res = rds.estimate(sample.frame, "forced_labour", degree="reported_degree",
                               method=method, population_size=sample.population_size,
                               bootstrap=boot, replicates=replicates, seed=seed,
                               disclosure="none")
            t = res.to_frame()
            t = t[t["level"].astype(str).isin(["1", "True", "1.0"])]
            name = method.upper() + (", tree bootstrap" if boot == "tree" else "")
            rows.append(_row("rds", sc, name, "forced_labour", truth, t) | {"n": len(sample.frame)})
    return rows


def one_sample(args: tuple[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Sample ``seed`` under every chosen scenario; one record per scenario, estimator and
    target."""
    seed, options = args
    chosen = options["scenarios"]
    nsum_sc = tuple(s.split("-")[1] for s in chosen if s.startswith("nsum-"))
    rds_sc = tuple(s.split("-")[1] for s in chosen if s.startswith("rds-"))
    rows: list[dict[str, Any]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if nsum_sc:
            rows += nsum_sample(seed, nsum_sc, options["nsum_replicates"])
        if rds_sc:
            rows += rds_sample(seed, rds_sc, options["rds_replicates"])
    for r in rows:
        r["seed"] = seed
    return rows


def known_population_check(seed: int, replicates: int) -> dict[str, Any]:
    """The leave-one-out estimates of the known populations on one sample of scenario (a)."""
    survey = synthetic.draw_sample(population("moldova"), seed=seed)
    ard = synthetic.draw_ard(population("moldova"), survey, network=_network("a"),
                             hidden=HIDDEN, seed=seed)
    known = {f"know_{k}": float(v) for k, v in ard.known_sizes.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = nsum.scale_up(_design(survey, ard), [f"know_{h}" for h in HIDDEN], known,
                            float(ard.total), replicates=replicates, seed=seed,
                            disclosure="none")
        check = res.known_population_check()
    table = check.to_frame()
    return {"seed": seed, "rmse": float(check.rmse), "are": float(check.are),
            "table": json.loads(table.to_json(orient="records"))}


def nsum_truth(scenarios: tuple[str, ...]) -> dict[str, Any]:
    """Each NSUM scenario's truth (Feehan and Salganik 2016): the hidden sizes, the degree
    ratio, the transmission rate and the visibility (fixed by the scenario's network)."""
    out: dict[str, Any] = {}
    for sc in scenarios:
        ard = synthetic.draw_ard(population("moldova"), np.arange(200), network=_network(sc),
                                 hidden=HIDDEN, seed=0, **NSUM_SCENARIOS[sc][1])
        out[sc] = {h: {"size": int(ard.hidden_sizes[h]),
                       "degree_ratio": float(ard.degree_ratio[h]),
                       "transmission": float(ard.transmission[h]),
                       "visibility": float(ard.visibility[h]),
                       "mean_degree": float(ard.mean_degree)} for h in HIDDEN}
    return out


def summarise(records: pd.DataFrame) -> pd.DataFrame:
    """Per study, scenario, estimator and target: bias, SEs and coverage over the samples."""
    out = []
    keys = ["study", "scenario", "estimator", "target"]
    for key, g in records.groupby(keys, sort=False):
        truth = float(g["truth"].iloc[0])
        est = g["estimate"].to_numpy(float)
        ok = np.isfinite(est)
        n = int(ok.sum())
        se = g["se"].to_numpy(float)
        covered = (g["ci_low"].to_numpy(float) <= truth) & (truth <= g["ci_high"].to_numpy(float))
        cover = float(covered[ok].mean()) if n else np.nan
        emp_se = float(np.std(est[ok], ddof=1)) if n > 1 else np.nan
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        row.update(
            samples=n, truth=truth, mean_estimate=float(est[ok].mean()),
            relative_bias=float(est[ok].mean() / truth - 1),
            bias_mc_se=emp_se / np.sqrt(n) / truth,
            empirical_se=emp_se, mean_se=float(np.nanmean(se[ok])),
            se_ratio=float(np.nanmean(se[ok]) / emp_se),
            relative_rmse=float(np.sqrt(np.mean((est[ok] - truth) ** 2)) / truth),
            coverage=cover, coverage_mc_se=float(np.sqrt(cover * (1 - cover) / n)),
            mean_width=float(np.nanmean((g["ci_high"] - g["ci_low"]).to_numpy(float)[ok])),
            failed=int(len(g) - n))
        if "n" in g:
            row["mean_n"] = float(g["n"].mean())
        out.append(row)
    return pd.DataFrame(out)


def _pct(x: float, digits: int = 1, sign: bool = False) -> str:
    if not np.isfinite(x):
        return ""
    return f"{100 * x:{'+' if sign else ''}.{digits}f}%"


def markdown(summary: pd.DataFrame, meta: dict[str, Any]) -> str:
    """The study's tables as markdown (for docs/hidden.md)."""
    lines = [f"{meta['samples']} samples per scenario, flestimate {meta['version']}, "
             f"{meta['seconds']:.0f} s on {meta['machine']}. Bias: relative bias of the mean "
             "estimate (Monte Carlo SE); SE ratio: mean estimated SE / empirical SE of the "
             "estimates; coverage of the 95% interval (Monte Carlo SE).", ""]
    for study, labels, truth_fmt in (("nsum", NSUM_LABELS, "{:,.0f}"),
                                     ("rds", RDS_LABELS, "{:.2%}")):
        part = summary[summary["study"] == study]
        if part.empty:
            continue
        lines += [f"**{'Network scale-up' if study == 'nsum' else 'Respondent-driven sampling'}"
                  "**", "",
                  "| scenario | estimator | target | truth | bias (MC se) | relative RMSE | "
                  "SE ratio | coverage (MC se) |", "|---|---|---|---|---|---|---|---|"]
        for r in part.itertuples(index=False):
            lines.append(
                f"| ({r.scenario}) {labels[r.scenario]} | {r.estimator} | {r.target} | "
                f"{truth_fmt.format(r.truth)} | {_pct(r.relative_bias, sign=True)} "
                f"({_pct(r.bias_mc_se, 2)}) | {_pct(r.relative_rmse)} | {r.se_ratio:.2f} | "
                f"{_pct(r.coverage)} ({_pct(r.coverage_mc_se)}) |")
        lines.append("")
    check = meta.get("known_population_check")
    if check:
        ratios = [r["ratio"] for r in check["table"]]
        lines += [f"Known-population check (leave-one-out, scenario (a), sample {check['seed']}):"
                  f" RMSE {check['rmse']:,.0f}, mean absolute relative error "
                  f"{_pct(check['are'])}; estimate / size from {min(ratios):.3f} to "
                  f"{max(ratios):.3f} over the {len(ratios)} known populations.", ""]
    return "\n".join(lines)


def run(samples: int, seed: int, jobs: int, options: dict[str, Any]
        ) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    work = [(seed + i, options) for i in range(samples)]
    clock = time.perf_counter()
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            records = [r for rows in pool.map(one_sample, work, chunksize=1) for r in rows]
    else:
        records = [r for job in work for r in one_sample(job)]
    frame = pd.DataFrame(records)
    return frame, summarise(frame), time.perf_counter() - clock


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2026, help="first sample seed")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help=f"comma-separated, of {', '.join(SCENARIOS)}")
    ap.add_argument("--nsum-replicates", type=int, default=200)
    ap.add_argument("--rds-replicates", type=int, default=500)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--records", type=Path, help="also write every sample's estimates (CSV)")
    ap.add_argument("--docs", type=Path, help="write the tables into this page, between "
                    "<!-- study:hidden:begin --> and <!-- study:hidden:end -->")
    ap.add_argument("--report", type=Path, help="rewrite --docs from a saved run (--out file) "
                    "instead of running")
    args = ap.parse_args(argv)
    if args.report is not None:
        saved = json.loads(args.report.read_text(encoding="utf-8"))
        summary = pd.DataFrame(saved.pop("summary"))
        if args.docs is not None:
            _write_docs(args.docs, summary, saved)
        return 0
    chosen = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        ap.error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    options = {"scenarios": chosen, "nsum_replicates": args.nsum_replicates,
               "rds_replicates": args.rds_replicates}
    records, summary, seconds = run(args.samples, args.seed, args.jobs, options)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(summary.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    meta: dict[str, Any] = {
        "samples": args.samples, "first_seed": args.seed, "scenarios": list(chosen),
        "nsum_replicates": args.nsum_replicates, "rds_replicates": args.rds_replicates,
        "network_seed": NETWORK_SEED, "seconds": round(seconds, 1), "version": fe.__version__,
        "machine": f"{platform.machine()}, Python {platform.python_version()}, "
                   f"{args.jobs} process(es)"}
    nsum_sc = tuple(s.split("-")[1] for s in chosen if s.startswith("nsum-"))
    if nsum_sc:
        meta["nsum_truth"] = nsum_truth(nsum_sc)
    if "nsum-a" in chosen:
        meta["known_population_check"] = known_population_check(args.seed,
                                                                 args.nsum_replicates)
    print(f"{args.samples} samples per scenario in {seconds:.0f} s")
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
    begin, end = "<!-- study:hidden:begin -->", "<!-- study:hidden:end -->"
    if begin in page and end in page:
        head, rest = page.split(begin, 1)
        _, tail = rest.split(end, 1)
        page = f"{head}{begin}\n{markdown(summary, meta)}{end}{tail}"
        path.write_text(page, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
