"""The synthetic finite population: strata, enumeration areas, households, persons, migrants with
their true answers, and the true forced-labour and trafficking status of every migrant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from flestimate.synthetic import _styles as S

#: Status codes in the truth: form of forced labour.
FORMS = ("state_imposed", "commercial_sexual_exploitation", "economic_exploitation",
         "mixed_undetermined")
MIGRANT_STATUS = ("non_migrant", "returned", "current_abroad")


@dataclass(frozen=True)
class Population:
    """A finite population with a known truth (see :func:`generate_population`).

    Attributes
    ----------
    style : str
    seed : int
    strata : DataFrame
        ``stratum``, ``region``, ``urban`` (1 urban, 2 rural), ``households``.
    eas : DataFrame
        ``ea``, ``stratum``, ``households`` (the measure of size of the PSU draw).
    households : DataFrame
        ``ea``, ``stratum``, ``size``.
    persons : DataFrame
        One row per person: ``household`` (row of ``households``), ``line``, ``sex`` (1 man,
        2 woman), ``age``, ``relation`` (1 head, 2 spouse, 3 child, 4 other), ``migrant_status``
        (0 non-migrant, 1 returned, 2 abroad), and for migrants ``destination``, ``sector``,
        ``perpetrator_state``, ``exploited`` and the true status: ``forced_labour``,
        ``trafficked`` and ``form`` (index into ``FORMS``; -1 when not in forced labour).
    answers : ndarray of bool, migrants x items
        The true answer to every item of :data:`ITEMS` (indicator present), for the persons with
        ``migrant_status > 0`` in row order.
    """

    style: str
    seed: int
    strata: pd.DataFrame
    eas: pd.DataFrame
    households: pd.DataFrame
    persons: pd.DataFrame
    answers: np.ndarray

    @property
    def migrants(self) -> np.ndarray:
        """Row numbers in ``persons`` of the migrants, the rows of ``answers``."""
        return np.flatnonzero(self.persons["migrant_status"].to_numpy() > 0)

    def __repr__(self) -> str:
        p = self.persons
        return (f"<Population {self.style!r} seed={self.seed}: {len(self.households):,} "
                f"households, {len(p):,} persons, {int((p.migrant_status > 0).sum()):,} "
                f"migrants>")


def _cum_choice(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per element of ``rows`` from the probability table ``probs[rows]``."""
    cum = np.cumsum(probs, axis=1)
    cum = cum / cum[:, -1:]
    u = rng.random(len(rows))
    return np.asarray((u[:, None] > cum[rows]).sum(axis=1), dtype=np.int16)


def _expit(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def generate_population(style: str = "moldova", *, seed: int = 2008,
                        households: int | None = None) -> Population:
    """Build a synthetic finite population of households and persons with a known truth.

    Parameters
    ----------
    style : {"moldova", "georgia"}
    seed : int
        Everything random follows from it; the same seed gives the same population.
    households : int, optional
        Approximate number of households (the style's country size by default); the regions
        keep their shares.

    Notes
    -----
    Strata are region x urban/rural, each split into enumeration areas of about
    ``style.ea_mean`` households (log-normal sizes). Persons aged 15+ have worked abroad in
    the reference period with a probability that depends on age, sex and urban/rural; current
    migrants abroad are never the household head. A migrant is *exploited* with log-odds
    ``BASE_LOGIT`` + destination + sector + sex + current + young effects; every questionnaire
    item is then true with probability ``p1`` (exploited) or ``p0`` (not). The true status
    applies the default rules of ``classification.md`` to the true answers:

    - adults (``icls2018``): forced labour = some involuntariness item AND some element of
      coercion, where restricted movement, induced or indefinite debt and staying for wages
      due are elements of coercion (ICLS 2018 para. 9), not involuntariness;
    - children (under 18, ``child2018``): any penalty, commercial sex, abduction, sale or debt
      bondage (slavery-like), or a parent (the household head or spouse) in forced labour
      (every migrant worked);
    - trafficked (``seed2007``) = forced labour AND moved (every migrant) AND, for adults,
      deceptive or coercive recruitment (children need no means: Palermo art. 3 (c));
    - form: state-imposed, commercial sexual exploitation, economic exploitation, or mixed
      (commercial sex and other work).

    The steps, each with its own random stream spawned from ``seed``: the frame (strata,
    enumeration areas, households), the household rosters, migration and exploitation, the
    true answers; then the true status (:func:`true_status`).
    """
    st = S.STYLES[style]
    ss = np.random.SeedSequence(seed)
    rng_frame, rng_people, rng_migr, rng_answers = (np.random.default_rng(s)
                                                    for s in ss.spawn(4))
    scale = 1.0 if households is None else households / st.default_population
    strata = _strata(st, scale)
    strata, eas = _enumeration_areas(st, strata, rng_frame)
    households_df = _households(strata, eas, rng_frame)
    hh_size = households_df["size"].to_numpy()
    hh_urban = strata["urban"].to_numpy()[households_df["stratum"].to_numpy() - 1]
    roster = _roster(hh_size, rng_people)
    mig = _migration(st, roster, hh_urban, rng_migr)
    answers = _true_answers(mig["exploited"], mig["sector"], rng_answers)
    m = mig["rows"]
    truth = true_status(answers, roster["age"][m], mig["sector"], mig["state"],
                        roster["relation"][m], roster["household"][m], len(hh_size))
    persons = _person_frame(roster, mig, truth)
    return Population(style, seed, strata, eas, households_df, persons, answers)


def _strata(st: S.Style, scale: float) -> pd.DataFrame:
    """Strata region x urban/rural with their target numbers of households (a part too small
    for four enumeration areas is left out)."""
    reg_rows = []
    for r, (_, n_hh, urban_share) in enumerate(st.regions):
        for urban, share in ((1, urban_share), (2, 1.0 - urban_share)):
            n = int(round(n_hh * scale * share))
            if n >= st.ea_mean * 4:
                reg_rows.append((r + 1, urban, n))
    strata: pd.DataFrame = pd.DataFrame(reg_rows, columns=["region", "urban", "target"])
    strata.insert(0, "stratum", np.arange(1, len(strata) + 1))
    return strata


def _enumeration_areas(st: S.Style, strata: pd.DataFrame, rng: np.random.Generator
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Enumeration areas of log-normal sizes (about ``ea_mean`` households, at least 30);
    returns the strata with their household counts (in place of the target) and the areas."""
    n_ea = np.maximum(2, np.round(strata["target"].to_numpy() / st.ea_mean).astype(int))
    ea_stratum = np.repeat(strata["stratum"].to_numpy(), n_ea)
    sigma = 0.35
    sizes = rng.lognormal(np.log(st.ea_mean) - sigma ** 2 / 2, sigma, len(ea_stratum))
    ea_size = np.clip(np.round(sizes), 30, None).astype(np.int64)
    eas = pd.DataFrame({"ea": np.arange(1, len(ea_size) + 1), "stratum": ea_stratum,
                        "households": ea_size})
    strata["households"] = np.bincount(ea_stratum, weights=ea_size,
                                       minlength=len(strata) + 1)[1:].astype(np.int64)
    return strata.drop(columns="target"), eas


def _households(strata: pd.DataFrame, eas: pd.DataFrame, rng: np.random.Generator
                ) -> pd.DataFrame:
    """The households of every area, their sizes 1 + Poisson (larger in rural areas), at
    most 9."""
    ea_size = eas["households"].to_numpy()
    hh_ea = np.repeat(eas["ea"].to_numpy(), ea_size)
    hh_stratum = np.repeat(eas["stratum"].to_numpy(), ea_size)
    hh_urban = strata["urban"].to_numpy()[hh_stratum - 1]
    lam = np.where(hh_urban == 1, 1.5, 1.9)
    hh_size = np.minimum(1 + rng.poisson(lam), 9)
    households: pd.DataFrame = pd.DataFrame({"ea": hh_ea, "stratum": hh_stratum,
                                             "size": hh_size})
    return households


def _roster(hh_size: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The persons of every household: ``household``, ``line``, ``relation`` to the head,
    ``age`` and ``sex`` (ages and sexes of spouses, children and others follow the head's)."""
    n_hh = len(hh_size)
    hh_of = np.repeat(np.arange(n_hh), hh_size)
    starts = np.concatenate(([0], np.cumsum(hh_size)[:-1]))
    line = np.arange(len(hh_of)) - starts[hh_of] + 1
    n_p = len(hh_of)
    u = rng.random((n_p, 4))
    relation = np.where(line == 1, 1, np.where(line == 2, np.where(u[:, 0] < 0.75, 2, 4),
                                               np.where(u[:, 0] < 0.85, 3, 4)))
    head_age = np.clip(22 + rng.gamma(4.0, 7.0, n_hh), 18, 95).astype(int)
    head_male = rng.random(n_hh) < 0.68
    h_age = head_age[hh_of]
    h_male = head_male[hh_of]
    spouse_age = h_age + np.where(h_male, -3, 3) + np.round(rng.normal(0, 4, n_p))
    child_age = h_age - 22 - np.floor(u[:, 1] * 18)
    other_age = np.where(u[:, 2] < 0.5, h_age + 25 + np.round(rng.normal(0, 3, n_p)),
                         np.floor(u[:, 3] * 80))
    age = np.select([relation == 1, relation == 2, relation == 3],
                    [h_age, spouse_age, child_age], other_age)
    age = np.clip(age, 0, 99).astype(np.int16)
    sex = np.where(relation == 1, np.where(h_male, 1, 2),
                   np.where(relation == 2, np.where(h_male, 2, 1),
                            np.where(rng.random(n_p) < 0.5, 1, 2))).astype(np.int8)
    return {"household": hh_of, "line": line, "relation": relation, "age": age, "sex": sex}


def _migration(st: S.Style, roster: dict[str, np.ndarray], hh_urban: np.ndarray,
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Who worked abroad in the reference period (by age, sex and urban/rural; current
    migrants are never the head), and for the migrants (``rows``) their destination, sector,
    whether they were exploited (a logit in those) and whether by the state."""
    age, sex, relation = roster["age"], roster["sex"], roster["relation"]
    n_p = len(age)
    age_factor = np.select(
        [age < 15, age < 18, age < 25, age < 35, age < 45, age < 55, age < 65],
        [0.0, 0.1, 0.9, 1.3, 1.2, 0.9, 0.4], 0.05)
    p_mig = (st.migrant_rate * age_factor * np.where(sex == 1, 1.25, 0.75)
             * np.where(hh_urban[roster["household"]] == 1, 0.85, 1.15))
    um = rng.random((n_p, 2))
    migrant = um[:, 0] < p_mig
    current = migrant & (um[:, 1] < st.current_share) & (relation != 1)
    status = np.where(current, 2, np.where(migrant, 1, 0)).astype(np.int8)

    mig = np.flatnonzero(migrant)
    m_sex = sex[mig]
    dest = _cum_choice(rng, np.array(st.dest_probs), m_sex - 1)
    sector = _cum_choice(rng, np.array(S.SECTOR_PROBS), m_sex - 1)
    logit = (S.BASE_LOGIT + np.array(st.dest_effect)[dest] + np.array(S.SECTOR_EFFECT)[sector]
             + S.FEMALE_EFFECT * (m_sex == 2) + S.CURRENT_EFFECT * (status[mig] == 2)
             + S.YOUNG_EFFECT * (age[mig] < 25))
    exploited = rng.random(len(mig)) < _expit(logit)
    state = exploited & (rng.random(len(mig)) < S.STATE_SHARE)
    return {"status": status, "rows": mig, "destination": dest, "sector": sector,
            "exploited": exploited, "state": state}


def _true_answers(exploited: np.ndarray, sector: np.ndarray, rng: np.random.Generator
                  ) -> np.ndarray:
    """Every migrant's true answer to every item: true with probability ``p1`` if exploited,
    ``p0`` if not; confinement, documents, violence and deception about the work at least
    0.5 for the exploited in commercial sex."""
    items = S.ITEMS
    p0, p1 = S.probabilities(items)
    prob = np.where(exploited[:, None], p1[None, :], p0[None, :])
    sex_work = np.isin(sector, [S.SECTORS.index("commercial_sex"),
                                S.SECTORS.index("commercial_sex_and_other")])
    boost = np.array([it.key in ("pen_confine", "pen_docs", "pen_violence", "rec_deceit_nature")
                      for it in items])
    prob = np.where((exploited & sex_work)[:, None] & boost[None, :], np.maximum(prob, 0.5), prob)
    return np.asarray(rng.random(prob.shape) < prob)


def _person_frame(roster: dict[str, np.ndarray], mig: dict[str, np.ndarray],
                  truth: dict[str, np.ndarray]) -> pd.DataFrame:
    """The persons table: the roster, the migrant status, and the migrants' columns (filled
    with -1 or False for everyone else)."""
    persons: pd.DataFrame = pd.DataFrame({
        "household": roster["household"], "line": roster["line"].astype(np.int16),
        "sex": roster["sex"], "age": roster["age"],
        "relation": roster["relation"].astype(np.int8), "migrant_status": mig["status"],
    })
    n_p = len(persons)
    for name, values, fill in (("destination", mig["destination"], -1),
                               ("sector", mig["sector"], -1),
                               ("perpetrator_state", mig["state"], False),
                               ("exploited", mig["exploited"], False),
                               ("forced_labour", truth["forced_labour"], False),
                               ("trafficked", truth["trafficked"], False),
                               ("form", truth["form"], -1)):
        col = np.full(n_p, fill, dtype=np.asarray(values).dtype)
        col[mig["rows"]] = values
        persons[name] = col
    return persons


def _indicator_matrix(answers: np.ndarray, prefix: str | tuple[str, ...] = "",
                      ids: tuple[str, ...] | None = None,
                      exclude: tuple[str, ...] = ()) -> np.ndarray:
    """Any item true among those whose indicator starts with ``prefix`` (or is in ``ids``),
    but not in ``exclude``."""
    cols = [i for i, it in enumerate(S.ITEMS)
            if (it.indicator in ids if ids is not None else it.indicator.startswith(prefix))
            and it.indicator not in exclude]
    return np.asarray(answers[:, cols].any(axis=1))


def true_status(answers: np.ndarray, age: np.ndarray, sector: np.ndarray, state: np.ndarray,
                relation: np.ndarray, household: np.ndarray, n_households: int
                ) -> dict[str, np.ndarray]:
    """The true status of migrants from their true answers (no missing values), with the
    default rules (see :func:`generate_population`). Every migrant worked and moved abroad."""
    involuntary = _indicator_matrix(answers, "inv_", exclude=S.ICLS_COERCION)
    coercion = (_indicator_matrix(answers, "pen_")
                | _indicator_matrix(answers, ids=S.ICLS_COERCION))
    adult_fl = involuntary & coercion
    adult = age >= 18
    parent_fl = np.bincount(household, weights=adult_fl & adult & np.isin(relation, [1, 2]),
                            minlength=n_households) > 0
    sex_work = np.isin(sector, [S.SECTORS.index("commercial_sex"),
                                S.SECTORS.index("commercial_sex_and_other")])
    # C182 art. 3 (a)-(c): slavery-like practices (abduction, sale, debt bondage) and
    # commercial sex count; no synthetic sector is illicit or armed conflict
    slavery_like = _indicator_matrix(answers, ids=S.CHILD_SLAVERY_LIKE)
    child_fl = (_indicator_matrix(answers, "pen_") | sex_work | slavery_like
                | ((relation == 3) & parent_fl[household]))
    fl = np.where(adult, adult_fl, child_fl)
    recruitment = np.array([it.recruitment for it in S.ITEMS])
    # a child moved into forced labour is trafficked without deceptive or coercive means
    trafficked = fl & (answers[:, recruitment].any(axis=1) | ~adult)
    form = np.select(
        [state, sector == S.SECTORS.index("commercial_sex"),
         sector == S.SECTORS.index("commercial_sex_and_other")],
        [FORMS.index("state_imposed"), FORMS.index("commercial_sexual_exploitation"),
         FORMS.index("mixed_undetermined")], FORMS.index("economic_exploitation"))
    return {"forced_labour": fl, "trafficked": trafficked,
            "form": np.where(fl, form, -1).astype(np.int8)}


def age_group_of(age: np.ndarray) -> np.ndarray:
    bounds = [lo for lo, _ in S.AGE_GROUPS[1:]]
    return np.searchsorted(bounds, age, side="right").astype(np.int8)


def population_values(pop: Population) -> list[dict[str, Any]]:
    """True population values of the published statistics, as tidy records: for the universe
    (persons 15+ who worked abroad in the reference period) and its domains, the number in it,
    and the number and share in forced labour, trafficked, forced labour not trafficked and in
    each form; plus the share of each canonical indicator."""
    st = S.STYLES[pop.style]
    p = pop.persons
    universe = (p["migrant_status"].to_numpy() > 0) & (p["age"].to_numpy() >= 15)
    u = p.loc[universe]
    fl = u["forced_labour"].to_numpy()
    tr = u["trafficked"].to_numpy()
    form = u["form"].to_numpy()
    outcomes = {"forced_labour": fl, "trafficked": tr, "forced_labour_not_trafficked": fl & ~tr}
    for i, f in enumerate(FORMS):
        outcomes[f"form_{f}"] = form == i
        outcomes[f"trafficked_form_{f}"] = tr & (form == i)
    region = pop.strata["region"].to_numpy()[pop.households["stratum"].to_numpy()
                                              [u["household"].to_numpy()] - 1]
    domains: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {
        "sex": (u["sex"].to_numpy() - 1, ("male", "female")),
        "migrant_status": (u["migrant_status"].to_numpy() - 1, MIGRANT_STATUS[1:]),
        "destination": (u["destination"].to_numpy(), st.destinations),
        "sector": (u["sector"].to_numpy(), S.SECTORS),
        "region": (region - 1, tuple(r[0] for r in st.regions)),
        "age_group": (age_group_of(u["age"].to_numpy()), S.AGE_GROUP_LABELS),
    }
    records: list[dict[str, Any]] = []

    def add(by: str | None, level: str | None, mask: np.ndarray) -> None:
        n = int(mask.sum())
        for name, y in outcomes.items():
            total = int((y & mask).sum())
            records.append({"statistic": name, "by": by, "level": level, "population": n,
                            "total": total, "prevalence": total / n if n else None})

    add(None, None, np.ones(len(u), dtype=bool))
    for by, (codes, labels) in domains.items():
        for k, label in enumerate(labels):
            mask = codes == k
            if mask.any():
                add(by, label, mask)
    # share of the trafficked by form: the 43/32/25 breakdown of the ILO estimate
    n_tr = int(tr.sum())
    for i, f in enumerate(FORMS):
        k = int((tr & (form == i)).sum())
        records.append({"statistic": f"share_of_trafficked_{f}", "by": None, "level": None,
                        "population": n_tr, "total": k, "prevalence": k / n_tr if n_tr else None})
    # canonical indicators, true values, among the universe and among those in forced labour
    mig_rows = np.flatnonzero(p["migrant_status"].to_numpy() > 0)
    in_universe = universe[mig_rows]
    answers = pop.answers[in_universe]
    for ind in dict.fromkeys(it.indicator for it in S.ITEMS):
        cols = [i for i, it in enumerate(S.ITEMS) if it.indicator == ind]
        y = np.asarray(answers[:, cols].any(axis=1), dtype=bool)
        everyone = np.ones(y.shape[0], dtype=bool)
        for stat, mask in (("indicator", everyone),
                           ("indicator_among_forced_labour", fl)):
            n = int(mask.sum())
            total = int((y & mask).sum())
            records.append({"statistic": f"{stat}:{ind}", "by": None, "level": None,
                            "population": n, "total": total,
                            "prevalence": total / n if n else None})
    return records
