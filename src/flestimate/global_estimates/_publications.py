"""What each publication implies: its tables (published and recomputed numbers) and checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

from flestimate.global_estimates._checks import Book, Num, const, sum_of
from flestimate.global_estimates._sources import PUBLISHED_DIR

__all__ = ["BUILDERS"]

_FORMS_2005 = ("state_imposed", "commercial_sexual_exploitation", "economic_exploitation",
               "mixed_undetermined")


def _regions(b: Book, table: str, world: Num, shares: bool, rate: bool) -> None:
    regions = b.components(table, "persons", skip=("World",))
    persons = [b.n(table, r, "persons") for r in regions]
    pops: list[Num] = []
    for r, p in zip(regions, persons, strict=True):
        b.row(table, r, "persons", p)
        if shares:
            b.row(table, r, "share_pct", b.n(table, r, "share_pct"), [p, world],
                  lambda x: 100 * x[0] / x[1], "100 x persons / published world total")
        else:
            b.row(table, r, "share_pct", None, [p, world], lambda x: 100 * x[0] / x[1],
                  "100 x persons / published world total", unit="percent")
        if rate:
            per = b.n(table, r, "per_1000")
            b.row(table, r, "per_1000", per)
            pop = b.row(table, r, "population", None, [p, per], lambda x: 1000 * x[0] / x[1],
                        "implied: persons / rate per 1,000 x 1,000", unit="population")
            pops.append(Num(f"{table}/{r} population (implied)", pop, 0.0, per.evidence,
                             "population"))
    b.row(table, "World", "persons", world, persons, sum_of, "sum of the regions")
    if shares:
        b.row(table, "World", "share_pct", None,
              [b.n(table, r, "share_pct") for r in regions], sum_of,
              "sum of the published regional shares", unit="percent")
    if rate:
        rates = [b.n(table, r, "per_1000") for r in regions]
        n = len(regions)
        b.row(table, "World", "population", None, [*persons, *rates],
              lambda x: float(np.sum(1000 * x[:n] / x[n:])),
              "sum of the regions' implied populations", unit="population")


def _ilo2005(b: Book) -> None:
    t = "forced_labour_by_form"
    total = b.n(t, "total", "persons")
    persons = {f: b.n(t, f, "persons") for f in _FORMS_2005}
    for f in _FORMS_2005:
        b.row(t, f, "persons", persons[f])
    b.shares_of(t, _FORMS_2005, total, "form_share", "Forced labour")
    private = b.n("totals", "private_agents", "persons")
    priv_parts = [persons[f] for f in _FORMS_2005[1:]]
    b.row(t, "private_agents", "persons", private, priv_parts, sum_of,
          "commercial sexual + economic + mixed/undetermined")
    b.row(t, "total", "persons", total, list(persons.values()), sum_of, "sum of the four forms")
    b.row(t, "total", "share_pct", b.n(t, "total", "share_pct"),
          [b.n(t, f, "share_pct") for f in _FORMS_2005], sum_of, "sum of the published shares")
    b.check("forms_sum_to_total", "Forced labour by form: the four forms add up to the world "
            "total (12.3 million)", [total], list(persons.values()))
    b.check("form_shares_sum_to_100", "Forced labour by form: the published shares add up to "
            "100%", [const(100.0, "100%", "percent")],
            [b.n(t, f, "share_pct") for f in _FORMS_2005])
    b.check("private_agents", "Imposed by private agents (9.8 million) = commercial sexual + "
            "economic + mixed/undetermined", [private], priv_parts,
            note="9.81 million recomputed from the [R] numbers by form")

    tt = "trafficked_by_form"
    tr_total = b.n("totals", "trafficked", "persons")
    tforms = b.components(tt, "share_pct")
    tshares = [b.n(tt, f, "share_pct") for f in tforms]
    for f, s in zip(tforms, tshares, strict=True):
        b.row(tt, f, "share_pct", s)
        b.row(tt, f, "persons", None, [s, tr_total], lambda x: x[0] / 100 * x[1],
              "published share x 2.45 million trafficked", unit="persons")
    b.row(tt, "total", "persons", tr_total, [*tshares, tr_total],
          lambda x: float(np.sum(x[:-1])) / 100 * x[-1], "sum of the persons by form")
    b.row(tt, "total", "share_pct", None, tshares, sum_of, "sum of the published shares",
          unit="percent")
    b.check("trafficked_shares_sum_to_100", "Trafficked by form: 43% + 32% + 25% = 100%",
            [const(100.0, "100%", "percent")], tshares)
    mixed = b.n(t, "mixed_undetermined", "persons")
    b.check("trafficked_mixed_vs_mixed", "Trafficked for mixed or undetermined reasons "
            "(25% x 2.45 million) against all forced labour of mixed or undetermined form "
            "(0.61 million)", [mixed], [b.n(tt, "mixed_undetermined", "share_pct"), tr_total],
            lambda x: x[0] / 100 * x[1],
            note="equal only if every mixed/undetermined case is a trafficked case, as the "
                 "publication's figures imply")

    world_fl = b.n("by_region", "World", "persons")
    _regions(b, "by_region", world_fl, shares=False, rate=False)
    regions = b.components("by_region", "persons", skip=("World",))
    b.check("regions_sum_forced_labour", "Forced labour by region: the regions add up to the "
            "world total", [world_fl], [b.n("by_region", r, "persons") for r in regions])
    world_tr = b.n("trafficked_by_region", "World", "persons")
    _regions(b, "trafficked_by_region", world_tr, shares=False, rate=False)
    b.check("regions_sum_trafficked", "Trafficked by region: the regional column against the "
            "published world total (2.45 million)", [world_tr],
            [b.n("trafficked_by_region", r, "persons") for r in regions],
            note="the regional figures are [R]; the published table rounds them")
    b.check("world_totals_agree", "The world total of the regional table and of the table by "
            "form", [world_fl], [total])


def _ilo2012(b: Book) -> None:
    t = "forced_labour_by_form"
    forms = b.components(t, "persons", skip=("total",))
    persons = {f: b.n(t, f, "persons") for f in forms}
    total = b.n("totals", "forced_labour", "persons")
    for f in forms:
        b.row(t, f, "persons", persons[f])
    b.shares_of(t, forms, total, "form_share", "Forced labour")
    private = b.n("totals", "private", "persons")
    priv = [persons["private_sexual_exploitation"], persons["private_labour_exploitation"]]
    state = persons["state_imposed"]
    b.row(t, "private", "persons", private, priv, sum_of, "sexual + labour exploitation")
    b.row(t, "total", "persons", b.n(t, "total", "persons"), list(persons.values()), sum_of,
          "sum of the three forms")
    b.row(t, "total", "share_pct", b.n(t, "total", "share_pct"),
          [b.n(t, f, "share_pct") for f in forms], sum_of, "sum of the published shares")
    b.check("private_sum", "Private economy: 4.5 + 14.2 = 18.7 million", [private], priv)
    b.check("private_plus_state", "Total: 18.7 + 2.2 = 20.9 million", [total], [private, state])
    b.check("forms_sum_to_total", "Forced labour by form: the three forms add up to 20.9 "
            "million", [b.n(t, "total", "persons")], list(persons.values()))
    b.check("form_shares_sum_to_100", "Forced labour by form: the published shares add up to "
            "100%", [const(100.0, "100%", "percent")],
            [b.n(t, f, "share_pct") for f in forms])

    r = "by_region"
    _regions(b, r, total, shares=True, rate=True)
    regions = b.components(r, "persons")
    b.check("regions_sum", "Forced labour by region: the regions add up to 20.9 million",
            [total], [b.n(r, x, "persons") for x in regions])
    b.check("regional_shares_sum_to_100", "The published regional shares add up to 100%",
            [const(100.0, "100%", "percent")], [b.n(r, x, "share_pct") for x in regions])
    for x in regions:
        b.check(f"region_share_{x}", f"Region {x}: published share against 100 x persons / "
                f"20.9 million", [b.n(r, x, "share_pct")], [b.n(r, x, "persons"), total],
                lambda v: 100 * v[0] / v[1], kind="rounded")

    tt = "totals"
    low, high = b.n(tt, "range_low", "persons"), b.n(tt, "range_high", "persons")
    women, children = b.n(tt, "women_and_girls", "persons"), b.n(tt, "children", "persons")
    moved, not_moved = b.n(tt, "moved", "persons"), b.n(tt, "not_moved", "persons")
    b.row(tt, "forced_labour", "persons", total, [private, state], sum_of, "private + state")
    for item, name in ((low, "range_low"), (high, "range_high"), (private, "private"),
                       (women, "women_and_girls"), (children, "children")):
        b.row(tt, name, "persons", item)
    b.row(tt, "men_and_boys", "persons", None, [total, women], lambda x: x[0] - x[1],
          "total - women and girls")
    b.row(tt, "adults", "persons", None, [total, children], lambda x: x[0] - x[1],
          "total - children")
    b.row(tt, "moved", "persons", moved)
    b.row(tt, "not_moved", "persons", not_moved)
    b.row(tt, "range_half_width", "persons", None, [low, high], lambda x: (x[1] - x[0]) / 2,
          "(high - low) / 2")
    b.row(tt, "implied_se_if_95pct", "persons", None, [low, high],
          lambda x: (x[1] - x[0]) / (2 * 1.959963984540054),
          "(high - low) / (2 x 1.96), if the range is a 95% interval")
    b.row(tt, "implied_se_if_68pct", "persons", None, [low, high], lambda x: (x[1] - x[0]) / 2,
          "(high - low) / 2, if the range is a 68% (one-SE) interval")
    b.check("moved_plus_not_moved", "Moved 9.1 + not moved 11.8 = 20.9 million", [total],
            [moved, not_moved])
    b.check("range_midpoint", "The range 19.5-22.3 million is centred on 20.9 million",
            [total], [low, high], lambda x: (x[0] + x[1]) / 2,
            note="a symmetric range; whether it is a 68% or a 95% interval is not known")


def _gems2016(b: Book) -> None:
    t = "forced_labour_by_form"
    forms = b.components(t, "persons", skip=("total",))
    total = b.n(t, "total", "persons")
    parts = [b.n(t, f, "persons") for f in forms]
    for f, p in zip(forms, parts, strict=True):
        b.row(t, f, "persons", p)
        b.row(t, f, "share_pct", None, [p, total], lambda x: 100 * x[0] / x[1],
              "100 x persons / published total", unit="percent")
    b.row(t, "total", "persons", total, parts, sum_of, "sum of the three forms")
    b.check("forms_sum_to_total", "16.0 + 4.8 + 4.1 = 24.9 million", [total], parts)


def _gems2021(b: Book) -> None:
    t = "forced_labour_by_form"
    total = b.n(t, "total", "persons")
    private, state = b.n(t, "private", "persons"), b.n(t, "state_imposed", "persons")
    for f in ("forced_labour_exploitation", "commercial_sexual_exploitation"):
        s = b.n(t, f, "share_pct")
        b.row(t, f, "share_pct", s)
        b.row(t, f, "persons", None, [s, total], lambda x: x[0] / 100 * x[1],
              "published share x 27.6 million", unit="persons")
    for f, p in (("private", private), ("state_imposed", state)):
        b.row(t, f, "persons", p)
    b.shares_of(t, ("private", "state_imposed"), total, "share", "Forced labour:")
    b.row(t, "total", "persons", total, [private, state], sum_of, "private + state-imposed")
    world_rate = b.n(t, "total", "per_1000")
    b.row(t, "total", "per_1000", world_rate)
    b.row(t, "total", "population", None, [total, world_rate], lambda x: 1000 * x[0] / x[1],
          "implied: persons / rate per 1,000 x 1,000", unit="population")
    fle, cse = (b.n(t, "forced_labour_exploitation", "share_pct"),
                b.n(t, "commercial_sexual_exploitation", "share_pct"))
    b.check("private_plus_state", "Private 23.6 + state-imposed 3.9 million against the "
            "published 27.6 million", [total], [private, state])
    b.check("private_share_parts", "63% forced labour exploitation + 23% commercial sexual "
            "exploitation = 86% private", [b.n(t, "private", "share_pct")], [fle, cse])
    b.check("shares_sum_to_100", "86% private + 14% state-imposed = 100%",
            [const(100.0, "100%", "percent")],
            [b.n(t, "private", "share_pct"), b.n(t, "state_imposed", "share_pct")])

    r = "by_region"
    _regions(b, r, total, shares=False, rate=True)
    regions = b.components(r, "persons")
    persons = [b.n(r, x, "persons") for x in regions]
    rates = [b.n(r, x, "per_1000") for x in regions]
    n = len(regions)
    b.check("regions_sum", "Forced labour by region: the regions against the published 27.6 "
            "million", [total], persons)
    b.row(r, "World", "per_1000", world_rate, [*persons, *rates],
          lambda x: 1000 * float(np.sum(x[:n])) / float(np.sum(1000 * x[:n] / x[n:])),
          "sum of persons / sum of the regions' implied populations x 1,000")
    b.check("world_rate_from_regions", "World rate per 1,000 (3.5) against the regions' "
            "persons over their implied populations", [world_rate], [*persons, *rates],
            lambda x: 1000 * float(np.sum(x[:n])) / float(np.sum(1000 * x[:n] / x[n:])),
            note="implied population of a region = persons / rate per 1,000 x 1,000",
            kind="rounded")
    b.check("implied_population", "World population implied by 27.6 million at 3.5 per 1,000 "
            "against the sum of the regions' implied populations", [total, world_rate],
            [*persons, *rates], lambda x: float(np.sum(1000 * x[:n] / x[n:])),
            lhs_fn=lambda x: 1000 * x[0] / x[1], unit="population", kind="derived",
            note="rates published to one decimal make implied populations uncertain by a few "
                 "per cent")


def _uk_mse2013(b: Book) -> None:
    """The UK 2013 estimate: 11,313 (95% CI 9,889 - 13,063) published as "between 10 thousand
    and 13 thousand" (the interval rounded to thousands), from the 2,744 known cases that the
    shipped capture histories hold."""
    t = "estimate"
    est, low, high = (b.n(t, c, "persons") for c in ("estimate", "ci_low", "ci_high"))
    pub_low, pub_high = b.n(t, "published_low", "persons"), b.n(t, "published_high", "persons")
    known = b.n(t, "known_cases", "persons")
    for c, num in (("estimate", est), ("ci_low", low), ("ci_high", high), ("known_cases", known)):
        b.row(t, c, "persons", num)
    b.row(t, "published_low", "persons", pub_low, [low], _first_of,
          "the interval's lower end, rounded to thousands in the publication")
    b.row(t, "published_high", "persons", pub_high, [high], _first_of,
          "the interval's upper end, rounded to thousands in the publication")
    b.row(t, "dark_figure", "persons", None, [est, known], lambda x: x[0] - x[1],
          "estimate - known cases (the victims no list recorded)", unit="persons")
    b.row(t, "known_share_pct", "share_pct", None, [known, est], lambda x: 100 * x[0] / x[1],
          "100 x known cases / estimate", unit="percent")
    b.check("published_range_low", "The published lower end (10 thousand) against the 95% "
            "interval's lower end (9,889)", [pub_low], [low], _first_of, kind="rounded")
    b.check("published_range_high", "The published upper end (13 thousand) against the 95% "
            "interval's upper end (13,063)", [pub_high], [high], _first_of, kind="rounded")
    cases = _capture_histories()
    b.check("known_cases_sum", "The 2,744 known cases against the sum of the shipped capture "
            "histories (uk_mse_2013_5lists.csv)", [known],
            [Num("uk_mse_2013_5lists.csv count (sum)", cases, 0.0, "V", "persons",
                 "the author's public R package", "uk_mse_2013_5lists.csv", 1.0)])


def _first_of(x: np.ndarray) -> float:
    return float(x[0])


def _capture_histories() -> float:
    """The number of known cases in the shipped UK capture histories."""
    frame = pd.read_csv(PUBLISHED_DIR / "uk_mse_2013_5lists.csv")
    return float(frame["count"].sum())


BUILDERS: Mapping[str, Callable[[Book], None]] = MappingProxyType({
    "ilo2005": _ilo2005, "ilo2012": _ilo2012, "gems2016": _gems2016, "gems2021": _gems2021,
    "uk_mse2013": _uk_mse2013})
