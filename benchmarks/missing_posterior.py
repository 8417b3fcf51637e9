"""Is the imputation model's class posterior calibrated? (issue 14, the state-imposed form)

For fresh samples of a synthetic population, every respondent's posterior probability of the
"exploited" latent class under the fitted model (the point fit, no bootstrap) is set beside
the generator's own posterior probability of being exploited given the same observed answers
(its logit of exploitation in destination, sector, sex, migrant status and age, and its item
probabilities), and both beside the true exploited status, summed over groups: the true
trafficked whose penalty filter was answered "no" (their perpetrator is never asked, so the
state-imposed form is imputed for them from the class), "don't know" or "yes", and everyone.

    python benchmarks/missing_posterior.py --style moldova --first 2026 --samples 20
    python benchmarks/missing_posterior.py --households 30000   # a sample three times as big

A ratio model / generator above 1 in a group is the model taking more of it for the exploited
class than the generator's own posterior does. The groups are chosen on the true status, so
where that status hangs on missing answers (filter missing) even the generator's posterior
need not sum to the exploited count: compare model with generator there.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from missing import SPECS, population
from missing_forms import (
    SEX_SECTORS,
    exploitation_logit,
    indicator_probabilities,
    person_covariates,
)

import flestimate as fe
from flestimate import synthetic
from flestimate.impute import _model
from flestimate.synthetic import _styles as S


def generator_posterior(pop: synthetic.Population, sv: synthetic.SyntheticSurvey,
                        mf: pd.DataFrame, ids: list[str]) -> np.ndarray:
    """P(exploited | observed indicators) under the generator (NaN without a sector)."""
    names, prob = indicator_probabilities()
    tp = person_covariates(pop, sv, mf, ids)
    dest = tp["destination"].fillna(-1).to_numpy().astype(int)
    sec = tp["sector"].fillna(-1).to_numpy().astype(int)
    logit = (exploitation_logit(sv.style, tp)
             + np.array(S.SECTOR_EFFECT)[np.maximum(sec, 0)])
    sex = np.isin(sec, [S.SECTORS.index(s) for s in SEX_SECTORS]).astype(int)
    x = mf[names].to_numpy(float)
    ll = [np.nansum(np.where(x == 1, np.log(prob[e, sex]),
                             np.where(x == 0, np.log1p(-prob[e, sex]), 0.0)), axis=1)
          for e in (0, 1)]
    return np.where((dest >= 0) & (sec >= 0), 1 / (1 + np.exp(-(logit + ll[1] - ll[0]))),
                    np.nan)


def one_sample(style: str, seed: int, households: int | None) -> list[dict[str, object]]:
    pop = population(style)
    spec = fe.load_spec(SPECS[style])
    sv = synthetic.draw_sample(pop, households, seed=seed)
    hh = sv.microdata("households") if sv.households is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = fe.estimate_prevalence(sv.microdata(), SPECS[style], missing="impute",
                                     disclosure="none", imputations=2, seed=seed,
                                     households=hh)
    model = rep._prepared.imputed.model
    pat, fit = model.patterns, model.fit
    post, _ = _model._posterior(pat, fit.beta, fit.theta_profile, fit.phi_group)
    k1 = int(np.argmax(fit.theta[0].mean(axis=0)))  # the class that says yes more often
    mapped = spec.apply(spec.merge_households(sv.microdata(), hh))
    mf = mapped.frame
    ids = list(sv.truth_persons.columns[:2])
    t = mf[ids].merge(sv.truth_persons, on=ids, how="left")
    p_model = np.full(len(mf), np.nan)
    p_model[model.respondents] = post[0][:, k1][pat.inverse]
    p_gen = generator_posterior(pop, sv, mf, ids)
    filt = mapped.filters.iloc[:, 0].to_numpy(float)
    traf = t["trafficked"].fillna(0).to_numpy() > 0
    expl = t["exploited"].fillna(0).to_numpy() > 0
    good = ~np.isnan(p_model) & ~np.isnan(p_gen)
    groups = {"trafficked, filter no": (filt == 0) & traf,
              "trafficked, filter missing": np.isnan(filt) & traf,
              "trafficked, filter yes": (filt == 1) & traf, "filter no": filt == 0,
              "everyone": np.ones(len(mf), dtype=bool)}
    return [{"seed": seed, "group": g, "n": int((m & good).sum()),
             "model": float(p_model[m & good].sum()), "generator": float(p_gen[m & good].sum()),
             "exploited": int(expl[m & good].sum())} for g, m in groups.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", default="moldova")
    ap.add_argument("--first", type=int, default=2026)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--households", type=int, default=None)
    a = ap.parse_args()
    rows = [r for s in range(a.first, a.first + a.samples)
            for r in one_sample(a.style, s, a.households)]
    d = pd.DataFrame(rows).groupby("group", sort=False)[["n", "model", "generator",
                                                          "exploited"]].sum()
    d["model / generator"] = d["model"] / d["generator"]
    d["generator / exploited"] = d["generator"] / d["exploited"]
    print(d.round(3).to_string())


if __name__ == "__main__":
    main()
