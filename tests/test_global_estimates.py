"""``flestimate.global_estimates``: the published global estimates recomputed from their own
components, every identity checked and every discrepancy listed.

References (the shipped files in data/published/, sources in its README.md and sources.yaml):
ILO 2005 = Belser, de Cock & Mehran (2005), *ILO Minimum Estimate of Forced Labour in the World*
(and the ILO Global Report 2005); ILO 2012 = *ILO Global Estimate of Forced Labour: Results and
methodology*; GEMS 2016 / 2021 = ILO, Walk Free (and IOM), *Global Estimates of Modern Slavery*.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flestimate.aggregate import from_reports
from flestimate.errors import ArgumentError, ArgumentTypeError
from flestimate.global_estimates import (
    CHECK_COLUMNS,
    PUBLICATIONS,
    PUBLISHED_COLUMNS,
    PUBLISHED_DIR,
    TABLE_COLUMNS,
    Reproduction,
    compare,
    published,
    reproduce,
    sources,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "published"


@pytest.fixture(scope="module")
def ilo2005() -> Reproduction:
    return reproduce("ilo2005")


@pytest.fixture(scope="module")
def ilo2012() -> Reproduction:
    return reproduce("ilo2012")


@pytest.fixture(scope="module")
def gems2021() -> Reproduction:
    return reproduce("gems2021")


def _check(rep: Reproduction, name: str) -> pd.Series:
    c = rep.checks
    rows = c[c["check"] == name]
    assert len(rows) == 1, name
    return rows.iloc[0]


def _row(rep: Reproduction, table: str, component: str, quantity: str) -> pd.Series:
    t = rep.tables[table]
    rows = t[(t["component"] == component) & (t["quantity"] == quantity)]
    assert len(rows) == 1, (table, component, quantity)
    return rows.iloc[0]


# -- the shipped files -----------------------------------------------------------------------------
def test_packaged_copies_are_byte_identical_to_data_published() -> None:
    """data/published/ and src/flestimate/published/ hold the same CSV and YAML files, byte for
    byte (the packaged copy is what ``reproduce`` reads)."""
    def shipped(folder: Path) -> set[str]:
        return {p.name for p in folder.iterdir() if p.suffix in (".csv", ".yaml")}

    names = shipped(DATA)
    assert names == shipped(PUBLISHED_DIR)
    assert {"sources.yaml", "ilo2005_by_form.csv", "ilo2012_by_region.csv",
            "gems2021_by_region.csv"} <= names
    for name in sorted(names):
        assert (DATA / name).read_bytes() == (PUBLISHED_DIR / name).read_bytes(), name


def test_sources_yaml_describes_every_shipped_csv() -> None:
    """Every shipped CSV has a sources.yaml entry (publication, table, units, rounding) and
    every entry's file is shipped; every value column exists in its file."""
    src = sources()
    csvs = {p.name for p in PUBLISHED_DIR.glob("*.csv")}
    assert set(src["files"]) == csvs
    assert set(src["evidence_tags"]) == {"V", "S", "R"}
    for name, spec in src["files"].items():
        assert spec["publication"] in src["publications"], name
        header = (PUBLISHED_DIR / name).read_text().splitlines()[0].split(",")
        assert set(spec["values"]) <= set(header), name
        for meta in spec["values"].values():
            assert meta["rounding"] > 0


def test_published_numbers_are_tidy_in_persons_with_evidence_tags() -> None:
    """``published()``: one row per number, in persons (12,300,000, not 12.3), each with a V/S/R
    tag and a rounding unit; tags as in the methodology's published_figures.md (ILO 2005 table
    by form: the shares about 20% / 11% V, the numbers by form R, 12.3 million V)."""
    p = published()
    assert tuple(p.columns) == PUBLISHED_COLUMNS
    assert set(p["publication"]) == set(PUBLICATIONS)
    assert p["evidence"].isin(["V", "S", "R"]).all()
    assert (p["rounding"] > 0).all()

    def one(pub: str, table: str, comp: str, q: str) -> pd.Series:
        rows = p[(p["publication"] == pub) & (p["table"] == table) & (p["component"] == comp)
                 & (p["quantity"] == q)]
        assert len(rows) == 1
        return rows.iloc[0]

    total = one("ilo2005", "forced_labour_by_form", "total", "persons")
    assert total["value"] == 12_300_000 and total["evidence"] == "V"
    assert total["rounding"] == 100_000
    state = one("ilo2005", "forced_labour_by_form", "state_imposed", "persons")
    assert state["value"] == 2_490_000 and state["evidence"] == "R" and state["rounding"] == 10_000
    assert one("ilo2005", "forced_labour_by_form", "state_imposed", "share_pct")["evidence"] == "V"
    assert one("ilo2005", "forced_labour_by_form", "economic_exploitation",
               "share_pct")["evidence"] == "R"
    assert one("ilo2005", "trafficked_by_form", "mixed_undetermined", "share_pct")["value"] == 25
    assert one("ilo2005", "by_region", "Middle East and North Africa", "persons")["evidence"] == "R"
    asia = one("ilo2005", "by_region", "Asia and the Pacific", "persons")
    assert asia["evidence"] == "V" and "9.5 million" in asia["evidence_note"]
    assert one("ilo2005", "trafficked_by_region", "Asia and the Pacific",
               "persons")["evidence"] == "R"
    assert one("ilo2012", "totals", "range_high", "persons")["value"] == 22_300_000
    assert one("gems2021", "forced_labour_by_form", "total", "per_1000")["value"] == 3.5
    assert len(published("gems2016")) == 4


def test_uk_2013_figure_is_published_with_source_and_evidence() -> None:
    """The UK 2013 multiple systems estimate (Silverman 2014, *Modern slavery: an application
    of multiple systems estimation*, Home Office): 11,313 potential victims, 95% CI 9,889 -
    13,063 (methodology published_figures.md), published as "between 10 thousand and 13
    thousand" (gov.uk, 29 November 2014), 2,744 known cases; every number tagged V with its
    note, the range rounded to thousands; the capture histories are data, not figures."""
    p = published("uk_mse2013").set_index("component")
    assert set(p["table"]) == {"estimate"} and set(p["file"]) == {"uk_mse2013_estimate.csv"}
    assert p["value"].to_dict() == {"estimate": 11_313, "ci_low": 9_889, "ci_high": 13_063,
                                    "published_low": 10_000, "published_high": 13_000,
                                    "known_cases": 2_744}
    assert (p["evidence"] == "V").all() and (p["unit"] == "persons").all()
    assert p.loc["published_low", "rounding"] == 1000 and p.loc["estimate", "rounding"] == 1
    assert "third-party Rcapture run" in p.loc["ci_high", "evidence_note"]
    assert "between 10 thousand and 13 thousand" in p.loc["published_high", "evidence_note"]
    assert all("Silverman, B. W. (2014)" in s and "Home Office" in s for s in p["source"])
    pub = sources()["publications"]["uk_mse2013"]
    assert (pub["publisher"], pub["year"], pub["reference_period"], pub["level"]) == (
        "Home Office", 2014, "2013", 0.95)
    assert "uk_mse_2013_5lists.csv" not in set(published()["file"])


def test_uk_2013_published_range_is_the_interval_rounded() -> None:
    """``reproduce("uk_mse2013")``: the published 10,000 - 13,000 is the 95% interval 9,889 -
    13,063 rounded to thousands (both "rounds to published"); the 2,744 known cases are the
    sum of the shipped capture histories (exact); the dark figure 11,313 - 2,744 = 8,569 and
    the known share 2,744 / 11,313 = 24.26% are derived rows."""
    rep = reproduce("uk_mse2013")
    low, high = _check(rep, "published_range_low"), _check(rep, "published_range_high")
    assert (low["published"], low["recomputed"], low["status"]) == (
        10_000, 9_889, "rounds to published")
    assert (high["published"], high["recomputed"], high["status"]) == (
        13_000, 13_063, "rounds to published")
    known = _check(rep, "known_cases_sum")
    assert (known["published"], known["recomputed"], known["status"]) == (2744, 2744, "exact")
    assert rep.discrepancies.empty
    assert _row(rep, "estimate", "dark_figure", "persons")["recomputed"] == 11_313 - 2_744
    assert _row(rep, "estimate", "known_share_pct", "share_pct")["recomputed"] == (
        pytest.approx(100 * 2744 / 11313))
    assert rep.provenance["citation"].startswith("Silverman, B. W. (2014)")
    with pytest.raises(ArgumentError, match=r"`reproduction` of `compare\(\)` must have a "
                       r"breakdown by form.*'uk_mse2013' has estimate"):
        compare(_breakdown_of_one(), rep)


def _breakdown_of_one() -> object:
    """A breakdown of one made-up national table (every share 0.25)."""
    forms = ["state_imposed", "commercial_sexual_exploitation", "economic_exploitation",
             "mixed_undetermined"]
    rows = [("prevalence", "number", i, 10.0, 1.0) for i in (
        "forced_labour", "trafficked", "forced_labour_not_trafficked", "undetermined")]
    rows += [("prevalence", "number", f"form_{f}", 2.5, 1.0) for f in forms]
    rows += [(t, "share", f, 0.25, 0.05) for t in ("trafficked_by_form",
                                                   "forced_labour_by_form") for f in forms]
    return from_reports({"x": pd.DataFrame(rows, columns=["table", "measure", "indicator",
                                                          "estimate", "se"])})


# -- ILO 2005 -------------------------------------------------------------------------------------
def test_ilo2005_12_3_million_is_the_sum_by_form_and_by_region(ilo2005: Reproduction) -> None:
    """ILO 2005 (Belser et al. 2005, table by form; regional table): 2.49 + 1.39 + 7.81 + 0.61 =
    12.3 million exactly, and the six regions (9.49 + 1.32 + 0.66 + 0.36 + 0.26 + 0.21) add
    up to 12.3 million exactly."""
    by_form = _check(ilo2005, "forms_sum_to_total")
    assert by_form["published"] == 12_300_000 and by_form["recomputed"] == 12_300_000
    assert by_form["status"] == "exact" and by_form["difference"] == 0
    by_region = _check(ilo2005, "regions_sum_forced_labour")
    assert by_region["recomputed"] == 12_300_000 and by_region["status"] == "exact"
    assert _row(ilo2005, "by_region", "World", "persons")["recomputed"] == 12_300_000
    assert _check(ilo2005, "form_shares_sum_to_100")["recomputed"] == 100


def test_ilo2005_trafficked_column_sums_to_2_44_against_2_45(ilo2005: Reproduction) -> None:
    """ILO 2005 regional table: the trafficked column (1.36 + 0.25 + 0.13 + 0.27 + 0.23 + 0.20)
    sums to 2.44 million against the published 2.45 million: a rounding discrepancy, listed
    (tolerance 7 rounded numbers x 5,000 = 35,000)."""
    c = _check(ilo2005, "regions_sum_trafficked")
    assert c["published"] == 2_450_000
    assert c["recomputed"] == pytest.approx(2_440_000, abs=1e-6)
    assert c["difference"] == pytest.approx(-10_000, abs=1e-6)
    assert c["relative_difference"] == pytest.approx(-10_000 / 2_450_000)
    assert c["tolerance"] == pytest.approx(35_000, rel=1e-6)
    assert not c["exact"] and c["within_rounding"] and c["status"] == "within rounding"
    assert "regions_sum_trafficked" in set(ilo2005.discrepancies["check"])
    world = _row(ilo2005, "trafficked_by_region", "World", "persons")
    assert world["published"] == 2_450_000 and world["recomputed"] == pytest.approx(2_440_000)


def test_ilo2005_trafficked_by_form_43_32_25(ilo2005: Reproduction) -> None:
    """ILO 2005 (and the 2007 seed presentation): 43% + 32% + 25% = 100% of 2.45 million
    trafficked, i.e. 1,053,500 / 784,000 / 612,500 persons."""
    assert _check(ilo2005, "trafficked_shares_sum_to_100")["status"] == "exact"
    expected = {"commercial_sexual_exploitation": 1_053_500, "economic_exploitation": 784_000,
                "mixed_undetermined": 612_500}
    for form, persons in expected.items():
        row = _row(ilo2005, "trafficked_by_form", form, "persons")
        assert row["recomputed"] == pytest.approx(persons, rel=1e-12)
        assert np.isnan(row["published"]) and row["source"] == "derived"
        assert row["evidence"] == "V"
    total = _row(ilo2005, "trafficked_by_form", "total", "persons")
    assert total["published"] == 2_450_000
    assert total["recomputed"] == pytest.approx(2_450_000, rel=1e-12)


def test_ilo2005_mixed_undetermined_0_6125_against_0_61(ilo2005: Reproduction) -> None:
    """ILO 2005: 0.25 x 2.45 million = 0.6125 million trafficked for mixed or undetermined
    reasons, against the 0.61 million in forced labour of mixed/undetermined form: listed as a
    discrepancy within rounding."""
    c = _check(ilo2005, "trafficked_mixed_vs_mixed")
    assert c["published"] == 610_000
    assert c["recomputed"] == pytest.approx(612_500)
    assert c["difference"] == pytest.approx(2_500)
    assert c["within_rounding"] and not c["exact"]
    assert c["evidence"] == "R"  # the 0.61 million is [R]


def test_ilo2005_private_agents_9_8_million(ilo2005: Reproduction) -> None:
    """ILO 2005: 9.8 million imposed by private agents [V] against 1.39 + 7.81 + 0.61 = 9.81
    million recomputed from the [R] numbers by form: a rounding discrepancy."""
    c = _check(ilo2005, "private_agents")
    assert c["published"] == 9_800_000
    assert c["recomputed"] == pytest.approx(9_810_000)
    assert c["difference"] == pytest.approx(10_000)
    assert c["tolerance"] == pytest.approx(3 * 5_000 + 50_000, rel=1e-6)
    assert c["status"] == "within rounding" and c["evidence"] == "R"
    assert "9.81 million" in c["note"]


def test_ilo2005_shares_recomputed_from_persons(ilo2005: Reproduction) -> None:
    """ILO 2005 table by form: 2.49 / 12.3 = 20.2% ("about 20%"), 1.39 / 12.3 = 11.3%, 0.61 /
    12.3 = 4.96% round to the published shares; 7.81 / 12.3 = 63.5% does not round to the
    published 64% [R] (a discrepancy within rounding)."""
    state = _check(ilo2005, "form_share_state_imposed")
    assert state["recomputed"] == pytest.approx(100 * 2.49 / 12.3)
    assert state["status"] == "rounds to published"
    econ = _check(ilo2005, "form_share_economic_exploitation")
    assert econ["recomputed"] == pytest.approx(100 * 7.81 / 12.3)
    assert not econ["rounds_to_published"]
    assert econ["status"] == "within rounding"
    row = _row(ilo2005, "forced_labour_by_form", "state_imposed", "share_pct")
    assert row["published"] == 20 and row["recomputed"] == pytest.approx(20.2439, abs=1e-4)


def test_discrepancies_keep_units_apart_and_shares_in_points(ilo2005: Reproduction) -> None:
    """ILO 2005 discrepancies: the published 64% against 7.81 / 12.3 = 63.50% differs by
    -0.504 percentage points (not percent), persons by persons; every row says its unit and
    the unit of its difference, and the displays write ``pp`` for share differences."""
    d = ilo2005.discrepancies.set_index("check")
    econ = d.loc["form_share_economic_exploitation"]
    assert (econ["unit"], econ["difference_unit"]) == ("percent", "percentage points")
    assert econ["difference"] == pytest.approx(100 * 7.81 / 12.3 - 64)
    assert econ["tolerance"] == pytest.approx(0.7988, abs=1e-4)
    assert "off by -0.5041 pp" in econ["note"] and "(tolerance 0.7988 pp)" in econ["note"]
    private = d.loc["private_agents"]
    assert (private["unit"], private["difference_unit"]) == ("persons", "persons")
    assert "off by +10,000" in private["note"]
    assert set(d["difference_unit"]) == {"percentage points", "persons"}
    assert (d["difference_unit"] == d["unit"].map(
        {"percent": "percentage points", "persons": "persons"})).all()
    shown = repr(ilo2005)
    line = next(x for x in shown.splitlines() if "form_share_economic_exploitation" in x)
    assert line.split()[1:5] == ["percent", "64%", "63.5%", "-0.5041"]
    assert "-0.5041 pp" in line
    t = ilo2005.tables["forced_labour_by_form"]
    share = t[t["quantity"] == "share_pct"]
    assert (share["difference_unit"] == "percentage points").all()


def test_ilo2005_every_discrepancy_is_listed(ilo2005: Reproduction) -> None:
    """ILO 2005: exactly four identities do not add up (none beyond rounding)."""
    assert set(ilo2005.discrepancies["check"]) == {
        "form_share_economic_exploitation", "private_agents", "trafficked_mixed_vs_mixed",
        "regions_sum_trafficked"}
    assert ilo2005.checks["within_rounding"].all()


# -- ILO 2012 -------------------------------------------------------------------------------------
def test_ilo2012_20_9_million_and_its_components(ilo2012: Reproduction) -> None:
    """ILO 2012 (Results and methodology): 4.5 + 14.2 = 18.7 million private; 18.7 + 2.2 =
    20.9 million; the three forms 4.5 + 14.2 + 2.2 = 20.9; moved 9.1 + not moved 11.8 = 20.9;
    the range 19.5-22.3 million is centred on 20.9 (all exact)."""
    for name, value in (("private_sum", 18_700_000), ("private_plus_state", 20_900_000),
                        ("forms_sum_to_total", 20_900_000),
                        ("moved_plus_not_moved", 20_900_000), ("range_midpoint", 20_900_000)):
        c = _check(ilo2012, name)
        assert c["published"] == value and c["recomputed"] == pytest.approx(value)
        assert c["status"] == "exact", name
    assert _row(ilo2012, "totals", "implied_se_if_95pct", "persons")["recomputed"] == (
        pytest.approx(1_400_000 / 1.959963984540054))
    assert _row(ilo2012, "totals", "men_and_boys", "persons")["recomputed"] == 9_500_000


def test_ilo2012_regions_sum_to_20_9_million(ilo2012: Reproduction) -> None:
    """ILO 2012 regional table: 11.7 + 3.7 + 1.8 + 1.6 + 1.5 + 0.6 = 20.9 million and 56 + 18 +
    9 + 7 + 7 + 3 = 100% exactly; the implied populations (persons / rate x 1,000) give a world
    rate of 3.16 per 1,000 (no published world rate is shipped)."""
    assert _check(ilo2012, "regions_sum")["status"] == "exact"
    assert _check(ilo2012, "regional_shares_sum_to_100")["status"] == "exact"
    asia = _row(ilo2012, "by_region", "Asia-Pacific", "population")
    assert asia["recomputed"] == pytest.approx(11_700_000 / 3.3 * 1000)
    world = _row(ilo2012, "by_region", "World", "population")
    pops = np.array([11.7 / 3.3, 3.7 / 4.0, 1.8 / 3.1, 1.6 / 4.2, 1.5 / 1.5, 0.6 / 3.4]) * 1e9
    assert world["recomputed"] == pytest.approx(pops.sum())


def test_ilo2012_discrepancies_are_two_shares(ilo2012: Reproduction) -> None:
    """ILO 2012: 2.2 / 20.9 = 10.5% against the published 10%, and 1.6 / 20.9 = 7.7% against
    7% (Central and South-Eastern Europe and CIS): shares that do not round to the published
    ones (within rounding of the inputs); every other identity holds."""
    d = ilo2012.discrepancies
    assert set(d["check"]) == {
        "form_share_state_imposed",
        "region_share_Central and South-Eastern Europe (non-EU) and CIS"}
    state = _check(ilo2012, "form_share_state_imposed")
    assert state["recomputed"] == pytest.approx(100 * 2.2 / 20.9)
    assert state["within_rounding"]


# -- GEMS 2016 and 2021 ---------------------------------------------------------------------------
def test_gems2016_24_9_million() -> None:
    """GEMS 2016 (ILO and Walk Free 2017): 16.0 + 4.8 + 4.1 = 24.9 million exactly."""
    rep = reproduce("gems2016")
    c = _check(rep, "forms_sum_to_total")
    assert c["published"] == 24_900_000 and c["recomputed"] == pytest.approx(24_900_000)
    assert c["status"] == "exact"
    assert rep.discrepancies.empty
    assert _row(rep, "forced_labour_by_form", "private_economy", "share_pct")["recomputed"] == (
        pytest.approx(100 * 16 / 24.9))


def test_gems2021_27_6_against_27_5_million(gems2021: Reproduction) -> None:
    """GEMS 2021 (ILO, Walk Free and IOM 2022): private 23.6 + state-imposed 3.9 = 27.5
    million and the five regions sum to 27.5 million, against the published 27.6 million:
    both listed as rounding discrepancies."""
    for name in ("private_plus_state", "regions_sum"):
        c = _check(gems2021, name)
        assert c["published"] == 27_600_000
        assert c["recomputed"] == pytest.approx(27_500_000)
        assert c["difference"] == pytest.approx(-100_000)
        assert c["status"] == "within rounding"
    assert _check(gems2021, "private_plus_state")["tolerance"] == pytest.approx(150_000)
    assert _check(gems2021, "regions_sum")["tolerance"] == pytest.approx(300_000)


def test_gems2021_shares_and_rates(gems2021: Reproduction) -> None:
    """GEMS 2021: 63% + 23% = 86% private; 86% + 14% = 100%; 23.6 / 27.6 = 85.5% rounds to
    86%; the regions' implied populations (persons / rate x 1,000) give 3.546 per 1,000,
    which rounds to the published 3.5; the implied world population 27.6 M / 3.5 x 1,000 =
    7.886 billion against 7.755 billion from the regions (within rounding)."""
    assert _check(gems2021, "private_share_parts")["status"] == "exact"
    assert _check(gems2021, "shares_sum_to_100")["status"] == "exact"
    share = _check(gems2021, "share_private")
    assert share["recomputed"] == pytest.approx(100 * 23.6 / 27.6)
    assert share["status"] == "rounds to published"
    persons = np.array([15.1, 4.1, 3.8, 3.6, 0.9]) * 1e6
    rates = np.array([3.5, 4.4, 2.9, 3.5, 5.3])
    pops = persons / rates * 1000
    rate = _check(gems2021, "world_rate_from_regions")
    assert rate["recomputed"] == pytest.approx(1000 * persons.sum() / pops.sum())
    assert rate["status"] == "rounds to published"
    pop = _check(gems2021, "implied_population")
    assert pop["published"] == pytest.approx(27.6e6 / 3.5 * 1000)
    assert pop["recomputed"] == pytest.approx(pops.sum())
    assert pop["within_rounding"] and pop["status"] == "within rounding"
    fle = _row(gems2021, "forced_labour_by_form", "forced_labour_exploitation", "persons")
    assert fle["recomputed"] == pytest.approx(0.63 * 27.6e6) and fle["unit"] == "persons"
    assert set(gems2021.discrepancies["check"]) == {"private_plus_state", "regions_sum",
                                                    "implied_population"}


# -- the result object ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", PUBLICATIONS)
def test_reproduction_views(name: str) -> None:
    """Every reproduction: tidy tables with the declared columns, an evidence tag on every row,
    checks with the declared columns, JSON-serialisable, immutable, displays without error."""
    rep = reproduce(name)
    frame = rep.to_frame()
    assert tuple(frame.columns) == TABLE_COLUMNS
    assert set(frame["table"]) == set(rep.tables)
    assert frame["evidence"].isin(["V", "S", "R"]).all()
    assert (frame["publication"] == name).all()
    assert tuple(rep.checks.columns) == CHECK_COLUMNS
    assert rep.checks["status"].isin(["exact", "rounds to published", "within rounding",
                                      "beyond rounding"]).all()
    assert len(rep.checks) >= 1
    json.dumps(rep.to_dict())
    assert "Discrepancies" in rep.summary()
    assert name in repr(rep)
    assert "<table" in rep._repr_html_()
    with pytest.raises(AttributeError):
        rep.name = "other"  # type: ignore[misc]
    first = rep.tables[next(iter(rep.tables))]
    first.loc[0, "published"] = -1.0
    assert (rep.to_frame()["published"].fillna(0) >= 0).all()


def test_unknown_publication_suggests_a_name() -> None:
    """An unknown name lists the known ones and suggests the closest."""
    with pytest.raises(ArgumentError, match="got 'ilo2015'; did you mean .*'ilo2005'"):
        reproduce("ilo2015")
    with pytest.raises(ArgumentError, match="must be one of"):
        reproduce("walkfree")
    with pytest.raises(ArgumentTypeError, match="must be a str"):
        reproduce(2005)  # type: ignore[arg-type]


def test_compare_sets_a_survey_breakdown_beside_ilo2005(ilo2005: Reproduction) -> None:
    """``compare``: a survey breakdown (two made-up national tables in the PrevalenceReport
    layout) beside ILO 2005; the trafficked shares 43/32/25% sit beside the pooled survey
    shares, and ``published_in_ci`` says whether each published share is in the survey CI."""
    def national(tr: float, fl: float, shares: list[float]) -> pd.DataFrame:
        forms = ["state_imposed", "commercial_sexual_exploitation", "economic_exploitation",
                 "mixed_undetermined"]
        rows = [("prevalence", "number", i, v, 0.1 * v) for i, v in (
            ("forced_labour", fl), ("trafficked", tr), ("forced_labour_not_trafficked", fl - tr),
            ("undetermined", 2 * fl))]
        rows += [("prevalence", "number", f"form_{f}", s * fl, 0.1 * s * fl)
                 for f, s in zip(forms, shares, strict=True)]
        rows += [(t, "share", f, s, 0.05) for t in ("trafficked_by_form", "forced_labour_by_form")
                 for f, s in zip(forms, shares, strict=True)]
        return pd.DataFrame(rows, columns=["table", "measure", "indicator", "estimate", "se"])

    b = from_reports({"a": national(100.0, 400.0, [0.0, 0.45, 0.3, 0.25]),
                      "b": national(300.0, 500.0, [0.1, 0.4, 0.3, 0.2])})
    out = compare(b, ilo2005)
    tr = out[(out["table"] == "trafficked_by_form") & (out["quantity"] == "share")]
    cse = tr[tr["component"] == "commercial_sexual_exploitation"].iloc[0]
    assert cse["published"] == pytest.approx(0.43)
    assert cse["survey"] == pytest.approx((0.45 * 100 + 0.4 * 300) / 400)
    assert bool(cse["published_in_ci"]) == bool(cse["survey_ci_low"] <= 0.43
                                                 <= cse["survey_ci_high"])
    derived = out[(out["table"] == "trafficked_by_form") & (out["quantity"] == "persons")
                  & (out["component"] == "economic_exploitation")].iloc[0]
    assert derived["published"] == pytest.approx(784_000)
    assert derived["published_basis"].startswith("derived")
    assert (out["publication"] == "ilo2005").all()
    with pytest.raises(ArgumentTypeError):
        compare(ilo2005, ilo2005)  # type: ignore[arg-type]


def test_compare_matches_ilo2012_form_names() -> None:
    """``compare`` with ILO 2012: 'private_sexual_exploitation' is set beside the survey's
    commercial sexual exploitation, and keeps its published name."""
    def national() -> pd.DataFrame:
        forms = ["state_imposed", "commercial_sexual_exploitation", "economic_exploitation",
                 "mixed_undetermined"]
        rows = [("prevalence", "number", i, 10.0, 1.0) for i in (
            "forced_labour", "trafficked", "forced_labour_not_trafficked", "undetermined")]
        rows += [("prevalence", "number", f"form_{f}", 2.5, 1.0) for f in forms]
        rows += [(t, "share", f, 0.25, 0.05) for t in ("trafficked_by_form",
                                                       "forced_labour_by_form") for f in forms]
        return pd.DataFrame(rows, columns=["table", "measure", "indicator", "estimate", "se"])

    out = compare(from_reports({"x": national()}), reproduce("ilo2012"))
    row = out[(out["published_component"] == "private_sexual_exploitation")
              & (out["quantity"] == "share")].iloc[0]
    assert row["component"] == "commercial_sexual_exploitation"
    assert row["published"] == pytest.approx(0.22) and row["survey"] == pytest.approx(0.25)
