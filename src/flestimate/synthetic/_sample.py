"""Drawing a survey sample from a synthetic population: stratified two-stage PPS selection,
unit non-response, weights (design, non-response adjustment, calibration) and the module's
answers with skip patterns, don't-know and refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError
from flestimate.synthetic import _styles as S
from flestimate.synthetic._population import FORMS, Population, age_group_of

# Answer categories in the indicator's terms (1 = the indicator is present).
NO, YES, DONT_KNOW, REFUSED, SKIPPED, NOT_INTERVIEWED = 0, 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Fieldwork:
    """Everything the sample draw decided, in the indicator's terms, before any file encoding.

    ``persons`` has one row per person of a responding household (sorted by stratum, PSU,
    household, line) with the design columns and weights; ``answers`` the answer category of
    every item (rows = the universe rows of ``persons``, in order; columns = :data:`ITEMS`),
    ``pen_filter`` the category of the filter question, ``perpetrator``/``sector_known`` what
    was recorded; ``households`` every selected household with its outcome.
    """

    persons: pd.DataFrame
    households: pd.DataFrame
    universe: np.ndarray  # row numbers of persons in the universe
    answers: np.ndarray
    pen_filter: np.ndarray
    perpetrator: np.ndarray  # 1 employer, 2 intermediary, 3 state, 8 don't know, 0 not asked
    sector_known: np.ndarray
    proxy: np.ndarray
    interviewed: np.ndarray
    skip_violations: np.ndarray  # universe positions given an answer they should have skipped
    design: dict[str, Any] = field(default_factory=dict)


def _allocate(sizes: np.ndarray, total: int, minimum: int, cap: np.ndarray) -> np.ndarray:
    """Proportional allocation with a minimum per stratum, largest remainders."""
    share = total * sizes / sizes.sum()
    n = np.maximum(np.floor(share).astype(int), minimum)
    left = total - n.sum()
    if left > 0:
        order = np.argsort(-(share - np.floor(share)), kind="stable")
        n[order[:left]] += 1
    return np.asarray(np.minimum(n, cap))


def _within_rank(groups: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order of rows sorted by (group, key) and each row's rank within its group."""
    order = np.lexsort((keys, groups))
    g = groups[order]
    first = np.r_[True, g[1:] != g[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(g)), 0))
    rank = np.empty(len(g), dtype=np.int64)
    rank[order] = np.arange(len(g)) - start
    return order, rank


def draw_fieldwork(pop: Population, n_households: int, seed: int, missing: str = "mar",
                   strength: float = 1.0) -> Fieldwork:
    """Select the households, interview them and record the module's answers.

    The steps, in the order they consume the random streams (one stream each for the design,
    the unit non-response and the answers, spawned from ``seed``; the same seed gives the same
    fieldwork):

    1. :func:`_allocate_psus`: PSUs per stratum, proportional to its households;
    2. :func:`_select_psus`: systematic PPS of enumeration areas within each stratum;
    3. :func:`_select_households`: ``take`` households at random in each selected area;
    4. :func:`_unit_nonresponse`: inaccessible areas and refusing households, with the
       non-response adjusted household weights;
    5. :func:`_respondents` and :func:`_calibrate`: the persons of the responding households,
       their weights calibrated to region x sex x age group;
    6. :func:`_module_universe` and :func:`_who_answers`: the module's universe (persons 15+
       who worked abroad), proxy answers and whole-module non-response;
    7. :func:`_item_answers`: the answers with don't know and refusals, the filter question of
       the penalty block and its skip pattern;
    8. :func:`_skip_violations`: a few data-entry errors against the skip pattern;
    9. :func:`_perpetrator_and_sector`: the follow-up questions on the perpetrator and sector.

    See :func:`flestimate.synthetic.draw_sample`; ``missing="mnar"`` makes a sensitive question
    (and the penalty filter, when a sensitive penalty happened) ``exp(strength)`` times as likely
    to go unanswered when the true answer is yes.
    """
    st = S.STYLES[pop.style]
    if not isinstance(n_households, int | np.integer) or n_households < 100:
        raise ArgumentError(f"`n_households` of `draw_sample()` must be an integer >= 100; "
                            f"got {n_households!r}")
    rng_design, rng_resp, rng_ans = (np.random.default_rng(s)
                                     for s in np.random.SeedSequence(seed).spawn(3))
    n_psu = _allocate_psus(pop, st, n_households)
    selected_ea, pi_ea = _select_psus(pop, n_psu, rng_design)
    chosen, d_weight = _select_households(pop, st, selected_ea, pi_ea, rng_design)
    households, lonely, two_psu = _unit_nonresponse(pop, st, n_psu, selected_ea, chosen,
                                                    d_weight, rng_resp)
    persons = _respondents(pop, households)
    persons["person_weight"], collapsed = _calibrate(pop, st, persons)

    universe, truth = _module_universe(pop, persons)
    uu = rng_ans.random((len(universe), 5))
    proxy, interviewed = _who_answers(persons["migrant_status"].to_numpy()[universe], uu)
    answers, pen_filter = _item_answers(truth, proxy, interviewed, uu, rng_ans, missing,
                                        strength)
    violations = _skip_violations(answers, pen_filter, rng_ans)
    perpetrator, sector_known = _perpetrator_and_sector(persons, universe, proxy, pen_filter,
                                                        uu, rng_ans)
    design = {"psu_per_stratum": n_psu.tolist(), "lonely_strata": lonely.tolist(),
              "two_psu_strata": two_psu.tolist(), "collapsed_cells": collapsed}
    return Fieldwork(persons, households, universe, answers, pen_filter, perpetrator,
                     sector_known, proxy, interviewed, violations, design)


def _allocate_psus(pop: Population, st: S.Style, n_households: int) -> np.ndarray:
    """PSUs per stratum: ``n_households / take`` allocated in proportion to the stratum's
    households, at least ``min_psu`` and at most its number of enumeration areas."""
    n_ea_h = np.bincount(pop.eas["stratum"], minlength=len(pop.strata) + 1)[1:]
    size_h = pop.strata["households"].to_numpy()
    return _allocate(size_h.astype(float), int(round(n_households / st.take)), st.min_psu,
                     n_ea_h)


def _select_psus(pop: Population, n_psu: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """First stage: systematic PPS on the household count, in a random order within each
    stratum; returns which enumeration areas are selected and their inclusion probabilities."""
    eas = pop.eas
    size_h = pop.strata["households"].to_numpy()
    ea_stratum = eas["stratum"].to_numpy()
    ea_size = eas["households"].to_numpy()
    order, _ = _within_rank(ea_stratum, rng.random(len(eas)))
    s_sorted = ea_stratum[order]
    cum = np.empty(len(eas))
    cum[order] = pd.Series(ea_size[order]).groupby(s_sorted).cumsum().to_numpy()
    interval = size_h / n_psu
    start = rng.random(len(pop.strata)) * interval
    h = ea_stratum - 1

    def points_upto(x: np.ndarray) -> np.ndarray:
        return np.asarray(np.maximum(0, np.floor((x - start[h]) / interval[h]) + 1))

    hits = points_upto(cum) - points_upto(cum - ea_size)
    pi_ea = n_psu[h] * ea_size / size_h[h]
    if (pi_ea[hits > 0] > 1).any():  # would need certainty selection; not in these styles
        raise ArgumentError("an enumeration area is larger than its stratum's sampling "
                            "interval; draw fewer households")
    return hits > 0, pi_ea


def _select_households(pop: Population, st: S.Style, selected_ea: np.ndarray,
                       pi_ea: np.ndarray, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Second stage: ``take`` households by simple random sampling in each selected area;
    returns their rows in ``pop.households`` and their design weights."""
    ea_size = pop.eas["households"].to_numpy()
    hh_ea = pop.households["ea"].to_numpy() - 1
    in_sel = selected_ea[hh_ea]
    _, rank = _within_rank(hh_ea, rng.random(len(pop.households)))
    take = np.minimum(st.take, ea_size)
    chosen = np.flatnonzero(in_sel & (rank < take[hh_ea]))
    ea_of = hh_ea[chosen]
    d_weight = 1.0 / (pi_ea[ea_of] * take[ea_of] / ea_size[ea_of])
    return chosen, d_weight


def _unit_nonresponse(pop: Population, st: S.Style, n_psu: np.ndarray,
                      selected_ea: np.ndarray, chosen: np.ndarray, d_weight: np.ndarray,
                      rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Unit non-response: the last area of a few two-PSU strata is out of reach (a lonely
    PSU), then households respond by urban/rural; weights adjusted within strata. Returns the
    selected households (sorted by stratum, area, household), the lonely and two-PSU strata."""
    strata, eas = pop.strata, pop.eas
    n_strata = len(strata)
    ea_stratum = eas["stratum"].to_numpy()
    ea_of = pop.households["ea"].to_numpy()[chosen] - 1
    stratum_of = ea_stratum[ea_of]
    two_psu = np.flatnonzero(n_psu == 2) + 1
    lonely = two_psu[:st.inaccessible]
    lost_ea = np.zeros(len(eas), dtype=bool)
    for s in lonely:  # a handful of strata at most
        lost_ea[np.flatnonzero(selected_ea & (ea_stratum == s))[-1]] = True
    urban = strata["urban"].to_numpy()[stratum_of - 1]
    respond_p = np.where(urban == 1, st.response[0], st.response[1])
    responded = (rng.random(len(chosen)) < respond_p) & ~lost_ea[ea_of]
    outcome = np.where(lost_ea[ea_of], 3, np.where(responded, 1, 2))
    sel_sum = np.bincount(stratum_of, weights=d_weight, minlength=n_strata + 1)
    resp_sum = np.bincount(stratum_of, weights=d_weight * responded, minlength=n_strata + 1)
    nr_factor = sel_sum / np.where(resp_sum > 0, resp_sum, np.nan)
    hh_weight = np.where(responded, d_weight * nr_factor[stratum_of], 0.0)
    households = pd.DataFrame({
        "household": chosen, "stratum": stratum_of, "ea": ea_of + 1,
        "region": strata["region"].to_numpy()[stratum_of - 1], "urban": urban,
        "size": pop.households["size"].to_numpy()[chosen], "design_weight": d_weight,
        "weight": hh_weight, "outcome": outcome,
    })
    households = households.sort_values(["stratum", "ea", "household"], kind="stable")
    households["hh_seq"] = np.arange(1, len(households) + 1)
    psu_in_stratum = households.groupby("stratum")["ea"].rank(method="dense").astype(int)
    households["ea_in_stratum"] = psu_in_stratum.to_numpy()
    return households, lonely, two_psu


def _respondents(pop: Population, households: pd.DataFrame) -> pd.DataFrame:
    """The persons of the responding households with their household's design columns and
    weight, sorted by household and line."""
    p = pop.persons
    resp_hh = households.loc[households["outcome"] == 1]
    take_person = np.zeros(len(pop.households), dtype=bool)
    take_person[resp_hh["household"].to_numpy()] = True
    rows = np.flatnonzero(take_person[p["household"].to_numpy()])
    persons = p.iloc[rows].reset_index(drop=True)
    persons.insert(0, "person_row", rows)
    hh_info = resp_hh.set_index("household")
    for col in ("hh_seq", "stratum", "ea", "ea_in_stratum", "region", "urban", "weight"):
        persons[col] = hh_info[col].reindex(persons["household"]).to_numpy()
    ordered: pd.DataFrame = persons.sort_values(["hh_seq", "line"],
                                                kind="stable").reset_index(drop=True)
    return ordered


def _calibrate(pop: Population, st: S.Style, persons: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Person weights post-stratified to the population by region x sex x age group (the LFS
    controls); returns them and the number of collapsed cells.

    A cell without sampled persons is collapsed into the next age group of the same region
    and sex (the previous one for the oldest), as NSOs do; small samples need it.
    """
    p, hh = pop.persons, pop.households
    n_ag = len(S.AGE_GROUPS)
    cell_pop = _cells(pop.strata["region"].to_numpy()[hh["stratum"].to_numpy()
                                                       [p["household"].to_numpy()] - 1],
                      p["sex"].to_numpy(), age_group_of(p["age"].to_numpy()), n_ag)
    cell_s = _cells(persons["region"].to_numpy(), persons["sex"].to_numpy(),
                    age_group_of(persons["age"].to_numpy()), n_ag)
    size = (len(st.regions) + 1) * 2 * n_ag + 1
    target = np.arange(size)
    collapsed = []
    for _ in range(n_ag):
        totals = np.bincount(target[cell_pop], minlength=size).astype(float)
        est = np.bincount(target[cell_s], weights=persons["weight"].to_numpy(), minlength=size)
        empty = np.flatnonzero((totals > 0) & (est == 0))
        if not len(empty):
            break
        collapsed.extend(empty.tolist())
        shift = np.zeros(size, dtype=np.int64)
        shift[empty] = np.where(empty % n_ag == n_ag - 1, -1, 1)
        target = target + shift[target]
    else:
        raise ArgumentError("calibration cells (region x sex x age group) without sampled "
                            "persons remain after collapsing; draw more households")
    g = np.divide(totals, est, out=np.ones_like(totals), where=est > 0)
    return persons["weight"].to_numpy() * g[target[cell_s]], len(collapsed)


def _module_universe(pop: Population, persons: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The module's universe (rows of ``persons`` aged 15+ who worked abroad in the reference
    period) and their true answers to every item."""
    status = persons["migrant_status"].to_numpy()
    universe = np.flatnonzero((status > 0) & (persons["age"].to_numpy() >= 15))
    mig_pos = np.searchsorted(pop.migrants, persons["person_row"].to_numpy()[universe])
    return universe, pop.answers[mig_pos]


def _who_answers(u_status: np.ndarray, uu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Proxy answers (migrants abroad, and some returned migrants away at the interview) and
    whole-module non-response, from the first two of the universe's uniforms ``uu``."""
    proxy = (u_status == 2) | (uu[:, 0] < S.PROXY_RETURNED)
    interviewed = uu[:, 1] >= np.where(proxy, S.MODULE_NONRESPONSE[1], S.MODULE_NONRESPONSE[0])
    return proxy, interviewed


def _respond(true: np.ndarray, dk: np.ndarray, ref: np.ndarray, rng: np.random.Generator,
             missing: str, strength: float, mnar: np.ndarray | bool = False) -> np.ndarray:
    """Answer categories of ``true`` with don't know (probability ``dk``) and refusals
    (``ref``); under ``missing="mnar"`` both ``exp(strength)`` times as likely where ``mnar``
    and the true answer is yes."""
    u = rng.random(true.shape)
    if missing == "mnar":  # not at random: the yes answers of the sensitive items go missing
        scale = np.where(mnar & true, np.exp(strength), 1.0)
        dk, ref = dk * scale, ref * scale
    cat = true.astype(np.int8)
    cat = np.where(u < dk, DONT_KNOW, np.where(u < dk + ref, REFUSED, cat))
    return np.asarray(cat, dtype=np.int8)


def _item_answers(truth: np.ndarray, proxy: np.ndarray, interviewed: np.ndarray,
                  uu: np.ndarray, rng: np.random.Generator, missing: str, strength: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The recorded answers to the items and to the penalty block's filter question.

    Scattered don't know and refusals (more for proxies, refusals more for sensitive items),
    proxies who know nothing of the recruitment or of the conditions of work (uniforms 2 and 3
    of ``uu``), penalty items asked only after "yes" to the filter question, nothing for those
    who did not complete the module.
    """
    recruit = np.array([it.recruitment for it in S.ITEMS])
    sensitive = np.array([it.sensitive for it in S.ITEMS])
    block = np.array([it.block == "q8" for it in S.ITEMS])
    dk = np.where(proxy, S.DK_PROXY, S.DK_SELF)[:, None] * np.ones(len(S.ITEMS))
    ref = (np.where(proxy, S.REF_PROXY, S.REF_SELF)[:, None]
           * np.where(sensitive, S.SENSITIVE_REFUSAL, 1.0))
    answers = _respond(truth, dk, ref, rng, missing, strength, sensitive[None, :])
    no_recruitment = proxy & (uu[:, 2] < S.PROXY_NO_RECRUITMENT)
    no_conditions = proxy & (uu[:, 3] < S.PROXY_NO_CONDITIONS)
    answers[no_recruitment[:, None] & recruit[None, :]] = DONT_KNOW
    answers[no_conditions[:, None] & ~recruit[None, :] & ~block[None, :]] = DONT_KNOW
    pen_true = np.asarray(truth[:, block].any(axis=1))
    pen_filter = _respond(pen_true, np.where(proxy, S.DK_PROXY, S.DK_SELF),
                          np.where(proxy, S.REF_PROXY, S.REF_SELF), rng, missing, strength,
                          np.asarray(truth[:, block & sensitive].any(axis=1)))
    pen_filter[no_conditions] = DONT_KNOW
    answers[:, block] = np.where((pen_filter == YES)[:, None], answers[:, block], SKIPPED)
    answers[~interviewed] = NOT_INTERVIEWED
    pen_filter[~interviewed] = NOT_INTERVIEWED
    return answers, pen_filter


def _skip_violations(answers: np.ndarray, pen_filter: np.ndarray, rng: np.random.Generator
                     ) -> np.ndarray:
    """A few data-entry errors: a "no" recorded to ``pen_dismiss`` where the skip pattern
    says not asked (the data-quality report must find them); modifies ``answers`` and returns
    the universe positions."""
    candidates = np.flatnonzero(pen_filter == NO)
    violations = np.sort(rng.choice(candidates, size=min(3, len(candidates)), replace=False))
    dismiss = [it.key for it in S.ITEMS].index("pen_dismiss")
    answers[violations, dismiss] = NO
    return violations


def _perpetrator_and_sector(persons: pd.DataFrame, universe: np.ndarray, proxy: np.ndarray,
                            pen_filter: np.ndarray, uu: np.ndarray, rng: np.random.Generator
                            ) -> tuple[np.ndarray, np.ndarray]:
    """The follow-up questions: the perpetrator (asked after "yes" to the filter; 1 employer,
    2 intermediary, 3 state, 8 don't know, 0 not asked) and whether the sector is known."""
    n_u = len(universe)
    state = persons["perpetrator_state"].to_numpy()[universe]
    perp = np.where(state, 3, np.where(uu[:, 4] < 0.8, 1, 2))
    perp_dk = rng.random(n_u) < np.where(proxy, 0.10, 0.02)
    perpetrator = np.where(pen_filter == YES, np.where(perp_dk, 8, perp), 0)
    sector_known = rng.random(n_u) >= np.where(proxy, 0.04, 0.005)
    return perpetrator, sector_known


def _cells(region: np.ndarray, sex: np.ndarray, age_group: np.ndarray, n_ag: int) -> np.ndarray:
    """Calibration cell number of region x sex x age group."""
    return np.asarray((region * 2 + (sex - 1)) * n_ag + age_group, dtype=np.int64)


def canonical(fw: Fieldwork) -> dict[str, np.ndarray]:
    """The canonical indicator values (1, 0, NaN) that a correct module spec must produce from
    the answers: yes/no as answered, penalty items skipped after a "no" to the filter question
    are "no", everything else (don't know, refused, not asked, not interviewed) missing; items
    of the same indicator combined with three-valued any-of."""
    value = np.where(fw.answers == YES, 1.0, np.where(fw.answers == NO, 0.0, np.nan))
    block = np.array([it.block == "q8" for it in S.ITEMS])
    value[:, block] = np.where((fw.pen_filter == NO)[:, None] & np.isnan(value[:, block]),
                               0.0, value[:, block])
    out: dict[str, np.ndarray] = {}
    for ind in dict.fromkeys(it.indicator for it in S.ITEMS):
        cols = [i for i, it in enumerate(S.ITEMS) if it.indicator == ind]
        v = value[:, cols]
        out[ind] = np.where((v == 1).any(axis=1), 1.0, np.where((v == 0).all(axis=1), 0.0,
                                                                 np.nan))
    return out


def status_labels(form: np.ndarray) -> np.ndarray:
    labels = np.array([*FORMS, ""], dtype=object)
    return np.asarray(labels[np.where(form >= 0, form, len(FORMS))])
