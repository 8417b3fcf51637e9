"""Where the imputed forms of the trafficked miss: a low-noise decomposition (issue 14).

For every fresh sample of a synthetic population, every respondent's imputed form (the mean
over the ``M`` completions) is set beside two references with the same adjusted weights: the
person's true form, and the generator's *conditional expectation* of it given the person's
true exploited status, sector and observed answers (the items are independent given those in
the generator, so the probability of being trafficked is a product over the missing items;
the state is the perpetrator of 4% of the exploited); where the sector is missing, averaged
over the generator's sector given the person's covariates, exploited status and answers. The
expectation removes the noise of the few true cases behind a rare form, so that two versions
of the imputation model compare on 200 samples where the truth would need thousands. Adult
respondents only; the others (children, unit non-respondents) enter with their true form.

    python benchmarks/missing_forms.py --style moldova --first 2000 --samples 100 --out f.csv
    python benchmarks/missing_forms.py --style georgia --populations fresh --out g.csv
    python benchmarks/missing_forms.py --never-asked   # the population's part, no samples

Output: one row per sample, group and form (``imp``, ``oracle``, ``true_w`` weighted counts);
groups say sex sector or not (``sex``/``oth``; ``msec`` sector missing, ``rest`` the others),
recruitment answers all missing or not (``recM``/``recO``), the penalty filter yes/no/missing
(``fy``/``fn``/``fm``) and the true status (``ex``/``nx``: only sums over it compare).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from missing import SPECS, fresh_population, population

import flestimate as fe
from flestimate import synthetic
from flestimate.synthetic import _styles as S

FORMS = ("state_imposed", "commercial_sexual_exploitation", "economic_exploitation",
         "mixed_undetermined")
SEX_SECTORS = ("commercial_sex", "commercial_sex_and_other")
BOOSTED = {"pen_confine", "pen_docs", "pen_violence", "rec_deceit_nature"}


def indicator_probabilities() -> tuple[list[str], np.ndarray]:
    """P(indicator yes) by (exploited, sex sector) from the generator's items (an indicator is
    yes when any of its items is)."""
    items: dict[str, list[S.Item]] = {}
    for it in S.ITEMS:
        items.setdefault(it.indicator, []).append(it)

    def p(its: list[S.Item], ex: int, sex: int) -> float:
        q = 1.0
        for it in its:
            v = it.p1 if ex else it.p0
            q *= 1 - (max(v, 0.5) if ex and sex and it.key in BOOSTED else v)
        return 1 - q

    names = list(items)
    return names, np.array([[[p(items[k], ex, sx) for k in names] for sx in (0, 1)]
                            for ex in (0, 1)])


def indicator_groups(names: list[str]) -> np.ndarray:
    """The group of every indicator in :func:`trafficked_probability`: 0 deceptive or coercive
    recruitment (A), 1 recruitment penalties (B), 2 other involuntariness (I), 3 penalties and
    ICLS 2018 coercion items (C)."""
    icls = set(S.ICLS_COERCION)
    return np.array([0 if k.startswith("inv_rec") else 1 if k.endswith("__recruitment")
                     else 3 if (k.startswith("pen_") or k in icls) else 2 for k in names])


def trafficked_probability(x: np.ndarray, p: np.ndarray, group: np.ndarray,
                           filter_yes: np.ndarray) -> np.ndarray:
    """P(trafficked) of adults: (A or B) and (A or I) and (B or C), A the deceptive or
    coercive recruitment items (involuntary), B the recruitment penalties, I the other
    involuntariness items, C the penalties and ICLS 2018 coercion items; a filter "yes" makes
    C certain."""
    probs = np.zeros((len(x), 4))
    for g in range(4):
        xg, pg = x[:, group == g], p[:, group == g]
        q = np.prod(np.where(np.isnan(xg), 1 - pg, 1.0), axis=1)
        probs[:, g] = np.where((xg == 1).any(axis=1), 1.0, 1 - q)
    probs[:, 3] = np.where(filter_yes, 1.0, probs[:, 3])
    out = np.zeros(len(x))
    for a, b, i, c in itertools.product((0, 1), repeat=4):
        pr = np.prod([probs[:, k] if v else 1 - probs[:, k]
                      for k, v in enumerate((a, b, i, c))], axis=0)
        out += pr * ((a or b) and (a or i) and (b or c))
    return out


def person_covariates(pop: synthetic.Population, sv: synthetic.SyntheticSurvey,
                      mf: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """The generator's covariates of exploitation for the rows of ``mf`` (by ``ids``)."""
    cols = ["destination", "sector", "sex", "age", "migrant_status"]
    pp = pop.persons.iloc[sv.person_rows][cols].reset_index(drop=True)
    pp[ids] = sv.persons[ids].to_numpy()
    return mf[ids].merge(pp, on=ids, how="left")


def exploitation_logit(style: str, tp: pd.DataFrame) -> np.ndarray:
    """The generator's log-odds of being exploited without the sector's effect
    (``synthetic._population._migration``); -1 destinations (not migrants) read as the first."""
    dest = tp["destination"].fillna(-1).to_numpy().astype(int)
    return np.asarray(S.BASE_LOGIT + np.array(S.STYLES[style].dest_effect)[np.maximum(dest, 0)]
                      + S.FEMALE_EFFECT * (tp["sex"].to_numpy() == 2)
                      + S.CURRENT_EFFECT * (tp["migrant_status"].to_numpy() == 2)
                      + S.YOUNG_EFFECT * (tp["age"].to_numpy() < 25))


def sector_missing_oracle(pop: synthetic.Population, sv: synthetic.SyntheticSurvey,
                          mf: pd.DataFrame, ids: list[str], x: np.ndarray, ex: np.ndarray,
                          filter_yes: np.ndarray, p_state: np.ndarray, prob: np.ndarray,
                          group: np.ndarray) -> np.ndarray:
    """The forms' conditional expectation (n, 4) of respondents whose sector is missing: the
    generator's sector given the person's sex, true exploited status (its logit in the
    sector and the person's other covariates) and observed indicators, then the probability
    of being trafficked in each sector."""
    tp = person_covariates(pop, sv, mf, ids)
    female = tp["sex"].to_numpy() == 2
    logit = exploitation_logit(sv.style, tp)
    n_sec = len(S.SECTORS)
    weight = np.zeros((len(mf), n_sec))
    p_tr = np.zeros((len(mf), n_sec))
    for lv in range(n_sec):  # nine sectors
        sexw = int(S.SECTORS[lv] in SEX_SECTORS)
        p_ex = 1 / (1 + np.exp(-(logit + S.SECTOR_EFFECT[lv])))
        p = prob[ex, sexw]
        lik = np.exp(np.nansum(np.where(x == 1, np.log(p), np.where(x == 0, np.log1p(-p), 0.0)),
                               axis=1))
        weight[:, lv] = (np.array(S.SECTOR_PROBS)[female.astype(int), lv]
                         * np.where(ex == 1, p_ex, 1 - p_ex) * lik)
        p_tr[:, lv] = trafficked_probability(x, p, group, filter_yes)
    post = weight / weight.sum(axis=1, keepdims=True)
    base = np.array([1 if s == SEX_SECTORS[0] else 3 if s == SEX_SECTORS[1] else 2
                     for s in S.SECTORS])
    out = np.zeros((len(mf), 4))
    out[:, 0] = (post * p_tr).sum(axis=1) * p_state
    for f in (1, 2, 3):
        out[:, f] = (post * p_tr)[:, base == f].sum(axis=1) * (1 - p_state)
    return out


def one_sample(style: str, seed: int, imputations: int, fresh: bool = False
               ) -> list[dict[str, object]]:
    # a fresh population per sample (as ``missing.py --populations fresh``): the expectation
    # is then that of the truth as well, not only of the shipped population's draws
    pop = fresh_population(style, seed) if fresh else population(style)
    spec = fe.load_spec(SPECS[style])
    names, prob = indicator_probabilities()
    group = indicator_groups(names)
    sv = synthetic.draw_sample(pop, seed=seed)
    hh = sv.microdata("households") if sv.households is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = fe.estimate_prevalence(sv.microdata(), SPECS[style], missing="impute",
                                     disclosure="none", imputations=imputations, seed=seed,
                                     households=hh)
    imp = rep._prepared.imputed
    frame = spec.merge_households(sv.microdata(), hh)
    mapped = spec.apply(frame)
    mf = mapped.frame
    pos = frame.index.get_indexer(mf.index)
    ids = list(sv.truth_persons.columns[:2])
    t = mf[ids].merge(sv.truth_persons, on=ids, how="left")
    w = imp.weights(frame[spec.design["weights"]].to_numpy(float))[pos]
    drawn = imp.forms["trafficked"][:, pos]
    imputed = np.stack([(drawn == i).mean(axis=0) for i in range(4)], axis=1)
    true_tr = t["trafficked"].fillna(0).to_numpy(float) > 0
    true_form = t["form"].astype(str).to_numpy()
    true = np.stack([true_tr & (true_form == f) for f in FORMS], axis=1).astype(float)
    ex = t["exploited"].fillna(0).to_numpy().astype(int)
    sector = mf["sector"].to_numpy(object)
    sex = np.isin(sector, SEX_SECTORS).astype(int)
    x = mf[names].to_numpy(float)
    filt = mapped.filters.iloc[:, 0].to_numpy(float)
    p_tr = trafficked_probability(x, prob[ex, sex], group, filt == 1)
    perp = mf["perpetrator"].to_numpy(object)
    p_state = np.where(perp == "state", 1.0, np.where(perp == "private", 0.0, 0.04 * ex))
    base = np.select([sector == SEX_SECTORS[0], sector == SEX_SECTORS[1]], [1, 3], 2)
    oracle = np.zeros((len(mf), 4))
    oracle[:, 0] = p_tr * p_state
    for f in (1, 2, 3):
        oracle[:, f] = p_tr * (1 - p_state) * (base == f)
    adult = pd.to_numeric(mf["age"], errors="coerce").to_numpy() >= 18
    known = adult & imp.respondent[pos] & t["exploited"].notna().to_numpy()
    ok = known & pd.notna(sector)
    no_sector = known & pd.isna(sector)
    oracle[no_sector] = sector_missing_oracle(pop, sv, mf[no_sector], ids, x[no_sector],
                                              ex[no_sector], filt[no_sector] == 1,
                                              p_state[no_sector], prob, group)
    oracle = np.where((ok | no_sector)[:, None], oracle, true)
    rec_missing = np.isnan(x[:, group <= 1]).all(axis=1)
    label = pd.Series(np.where(ok, np.where(sex == 1, "sex", "oth"),
                               np.where(no_sector, "msec", "rest")))
    label = (label + np.where(rec_missing, "_recM", "_recO")
             + np.where(filt == 1, "_fy", np.where(filt == 0, "_fn", "_fm"))
             + np.where(ex == 1, "_ex", "_nx"))
    rows = []
    for g in np.unique(label):
        m = (label == g).to_numpy()
        for i, f in enumerate(FORMS):
            rows.append({"seed": seed, "grp": g, "form": f,
                         "imp": float((imputed[m, i] * w[m]).sum()),
                         "oracle": float((oracle[m, i] * w[m]).sum()),
                         "true_w": float((true[m, i] * w[m]).sum())})
    return rows


def never_asked(style: str) -> dict[str, float]:
    """What a missing-at-random imputation cannot learn about the state-imposed form, from the
    shipped population itself (no sampling): the trafficked whose true answers hold no
    penalty of the filtered block answer the filter "no" (or don't know) in every sample, so
    their perpetrator is never asked. The best an imputation can give them is the state's
    share among the exploited who report a penalty (the only ones asked) times their
    exploited; their true state count may differ by chance. Returns, over the universe (aged
    15 and over), the counts and the relative bias this leaves in the state-imposed share of
    the trafficked (``bias``) with an imputation that knows who is exploited."""
    pop = population(style)
    mig = pop.persons.iloc[pop.migrants]
    adult = mig["age"].to_numpy() >= 15
    block = np.array([it.block == "q8" for it in S.ITEMS])
    penalty = pop.answers[:, block].any(axis=1)[adult]
    traf = mig["trafficked"].to_numpy()[adult] == 1
    expl = mig["exploited"].to_numpy()[adult] == 1
    state = mig["perpetrator_state"].to_numpy()[adult] == 1
    cell = traf & ~penalty
    rate = float(state[expl & penalty].mean())  # what the penalty reporters teach
    expected = rate * float((cell & expl).sum())
    return {"trafficked": float(traf.sum()), "state_trafficked": float((traf & state).sum()),
            "never_asked": float(cell.sum()), "never_asked_exploited": float((cell & expl).sum()),
            "never_asked_state": float((cell & state).sum()), "rate_asked": rate,
            "expected_state": expected,
            "bias": (expected - float((cell & state).sum())) / float((traf & state).sum())}


def _one(job: tuple[str, int, int, bool]) -> list[dict[str, object]]:
    return one_sample(*job)


def run(style: str, first: int, samples: int, imputations: int = 20, fresh: bool = False,
        jobs: int = 1) -> pd.DataFrame:
    """The rows of samples ``first`` .. ``first + samples - 1`` (:func:`one_sample`), in
    ``jobs`` processes."""
    work = [(style, seed, imputations, fresh) for seed in range(first, first + samples)]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            parts = list(pool.map(_one, work, chunksize=2))
    else:
        parts = [_one(job) for job in work]
    return pd.DataFrame([r for rows in parts for r in rows])


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Each form's share of the trafficked, per sample, from the imputed, expected and true
    weighted totals; the relative bias of the imputed share against the expectation and against
    the sample's true forms, and of the expectation against the truth, each
    ``mean(a - b) / mean(b)`` with its Monte Carlo standard error (in points of the bias)."""
    tot = rows.groupby(["seed", "form"])[["imp", "oracle", "true_w"]].sum().unstack("form")
    share = {k: tot[k].div(tot[k].sum(axis=1), axis=0) for k in ("imp", "oracle", "true_w")}
    n = len(tot)
    out = pd.DataFrame({f"share_{k}": share[k].mean() for k in share})
    for name, a, b in (("imputed_vs_expected", "imp", "oracle"),
                       ("imputed_vs_true", "imp", "true_w"),
                       ("expected_vs_true", "oracle", "true_w")):
        diff = share[a] - share[b]
        out[name] = diff.mean() / share[b].mean()
        out[f"{name}_se"] = diff.std(ddof=1) / np.sqrt(n) / share[b].mean()
    out.insert(0, "samples", n)
    return out.rename_axis("form").reset_index()


def markdown(saved: list[dict[str, Any]]) -> str:
    """The table of ``docs/missing.md`` from saved ``--summary`` files (one per style)."""
    def bias(r: dict[str, float], name: str) -> str:
        return f"{100 * r[name]:+.1f}% ({100 * r[name + '_se']:.1f})"

    lines = ["| style | form | true share | imputed vs expected (MC se) | imputed vs true "
             "| expected vs true |", "|---|---|---|---|---|---|"]
    for one in saved:
        for r in one["summary"]:
            lines.append(f"| {one['style']} | {r['form']} | {100 * r['share_true_w']:.2f}% | "
                         f"{bias(r, 'imputed_vs_expected')} | {bias(r, 'imputed_vs_true')} | "
                         f"{bias(r, 'expected_vs_true')} |")
    head = ", ".join(f"{r['samples']} {r['populations']} populations ({r['style']}, first seed "
                     f"{r['first_seed']})" for r in saved)
    return (f"{head}, M = {saved[0]['imputations']}, flestimate {saved[0]['version']}.\n\n"
            + "\n".join(lines) + "\n")


def write_docs(path: Path, saved: list[dict[str, Any]]) -> None:
    """Put :func:`markdown` between ``<!-- forms:<populations>:begin/end -->`` in ``path``."""
    tag = f"forms:{saved[0]['populations']}"
    begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
    page = path.read_text(encoding="utf-8")
    if begin not in page or end not in page:
        raise SystemExit(f"{path}: no {begin} ... {end} markers")
    head, rest = page.split(begin, 1)
    path.write_text(f"{head}{begin}\n{markdown(saved)}{end}{rest.split(end, 1)[1]}",
                    encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", default="moldova")
    ap.add_argument("--first", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--imputations", type=int, default=20)
    ap.add_argument("--populations", choices=("shipped", "fresh"), default="shipped")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", help="every sample's rows (CSV)")
    ap.add_argument("--summary", help="the forms' biases (JSON; see summarise())")
    ap.add_argument("--from-rows", help="summarise a saved --out file instead of running")
    ap.add_argument("--report", nargs="+", help="saved --summary files: write their table "
                    "into --docs instead of running")
    ap.add_argument("--docs", type=Path, help="the page with the table's markers")
    ap.add_argument("--never-asked", action="store_true",
                    help="print what the population's never-asked trafficked leave (no samples)")
    a = ap.parse_args()
    if a.never_asked:
        for style in ("moldova", "georgia"):
            print(style, {k: round(v, 4) for k, v in never_asked(style).items()})
        return
    if a.report:
        saved = [json.loads(Path(f).read_text(encoding="utf-8")) for f in a.report]
        if a.docs is None:
            print(markdown(saved))
        else:
            write_docs(a.docs, saved)
        return
    if a.from_rows:
        frame = pd.read_csv(a.from_rows)
        meta: dict[str, object] = {"rows": Path(a.from_rows).name}
    else:
        if not (a.out or a.summary):
            ap.error("--out or --summary is required")
        clock = time.perf_counter()
        frame = run(a.style, a.first, a.samples, a.imputations, a.populations == "fresh",
                    a.jobs)
        meta = {"seconds": round(time.perf_counter() - clock, 1)}
        if a.out:
            frame.to_csv(a.out, index=False)
    summary = summarise(frame)
    print(summary.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    if a.summary:
        meta.update(style=a.style, populations=a.populations, imputations=a.imputations,
                    first_seed=int(frame["seed"].min()), samples=int(frame["seed"].nunique()),
                    version=fe.__version__)
        payload = {**meta, "summary": json.loads(summary.to_json(orient="records"))}
        Path(a.summary).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
