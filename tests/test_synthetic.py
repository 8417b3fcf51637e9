"""Synthetic survey data: determinism, the shipped files against their truth, the design.

References: the truth files written beside the data (``data/synthetic/*_truth.json``), computed
by the generator from its latent answer categories, independently of the module specs; and
hand-worked cases of the true-status rules of ``classification.md``.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flestimate import SurveyDesign, load_spec, read_microdata, synthetic
from flestimate.errors import ArgumentError, LonelyPSUError
from flestimate.synthetic import _styles as S
from flestimate.synthetic._population import true_status

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
SPECS = {"moldova": "moldova-2008-synthetic", "georgia": "georgia-synthetic"}


def _truth(style: str) -> dict:
    return json.loads((DATA / f"{style}_synthetic_truth.json").read_text())


def _mapped(style: str, fmt: str = "sav"):  # type: ignore[no-untyped-def]
    spec = load_spec(SPECS[style])
    if style == "georgia":
        return spec.apply(read_microdata(DATA / "georgia_synthetic_persons.dta"),
                          households=read_microdata(DATA / "georgia_synthetic_households.dta"))
    return spec.apply(read_microdata(DATA / f"moldova_synthetic.{fmt}"))


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# -- determinism --------------------------------------------------------------------------------
@pytest.mark.parametrize("style", ["moldova", "georgia"])
def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path, style: str) -> None:
    kwargs = {"n_households": 600, "population_households": 60_000}
    a = synthetic.generate(style, seed=11, **kwargs).write(tmp_path / "a")
    b = synthetic.generate(style, seed=11, **kwargs).write(tmp_path / "b")
    assert [p.name for p in a] == [p.name for p in b]
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    c = synthetic.generate(style, seed=12, **kwargs)
    assert not c.persons.equals(synthetic.generate(style, seed=11, **kwargs).persons)


@pytest.mark.slow
def test_shipped_files_regenerate_byte_for_byte(tmp_path: Path) -> None:
    """The command in data/synthetic/README.md rebuilds the shipped files exactly."""
    for style in ("moldova", "georgia"):
        synthetic.generate(style).write(tmp_path)
    shipped = {k: v for k, v in _digest(DATA).items() if k.startswith(("moldova", "georgia"))}
    assert _digest(tmp_path) == shipped


# -- the shipped files against their truth ------------------------------------------------------
@pytest.mark.parametrize(("style", "fmt"), [("moldova", "sav"), ("moldova", "dta"),
                                             ("moldova", "csv.gz"), ("georgia", "dta")])
def test_mapping_gives_the_canonical_counts_the_truth_predicts(style: str, fmt: str) -> None:
    truth = _truth(style)["sample"]
    mapped = _mapped(style, fmt)
    assert mapped.universe["in_universe"] == truth["universe"]
    for ind, counts in truth["canonical_counts"].items():
        col = mapped.frame[ind]
        got = {"1": int((col == 1).sum()), "0": int((col == 0).sum()),
               "missing": int(col.isna().sum())}
        assert got == counts, ind
    assert mapped.frame["proxy"].sum() == truth["proxy"]
    assert (mapped.frame["migrant_status"] == "current_abroad").sum() == truth["current_abroad"]


@pytest.mark.parametrize("style", ["moldova", "georgia"])
def test_quality_report_counts_match_the_truth(style: str) -> None:
    truth = _truth(style)["sample"]
    q = _mapped(style).quality
    items = q[q["section"] == "item"].set_index("item")
    for item, counts in truth["item_codes"].items():
        if item not in items.index:  # the penalty filter question is not an indicator
            continue
        row = items.loc[item]
        got = {k: int(row[f"n_{k}"]) for k in ("yes", "no", "dont_know", "refused",
                                                "not_applicable", "system_missing")}
        assert got == counts, item
    violations = items["n_skip_violations"]
    expected = pd.Series([v["item"] for v in truth["skip_violations"]]).value_counts()
    assert violations[violations > 0].to_dict() == expected.to_dict()
    assert len(truth["skip_violations"]) == 3
    universe = q[q["section"] == "universe"]
    assert universe["n_left"].sum() == truth["persons"] - truth["universe"]


def test_true_status_in_the_truth_files_is_consistent() -> None:
    for style in ("moldova", "georgia"):
        truth = _truth(style)
        persons = pd.read_csv(DATA / f"{style}_synthetic_truth_persons.csv")
        s = truth["sample"]["true_status"]
        assert persons["forced_labour"].sum() == s["forced_labour"]
        assert persons["trafficked"].sum() == s["trafficked"]
        assert (persons["trafficked"] <= persons["forced_labour"]).all()
        assert len(persons) == truth["sample"]["universe"]
        values = pd.DataFrame(truth["population_values"])
        national = values[values["by"].isna()].set_index("statistic")["prevalence"]
        # survey_module.md: 2-8% among migrants, around 1% trafficked
        assert 0.02 < national["forced_labour"] < 0.08
        assert 0.005 < national["trafficked"] < 0.025
        fl = values[(values["statistic"] == "forced_labour") & (values["by"] == "destination")]
        assert fl["prevalence"].max() - fl["prevalence"].min() > 0.02
        shares = national[[f"share_of_trafficked_{f}" for f in
                           ("state_imposed", "commercial_sexual_exploitation",
                            "economic_exploitation", "mixed_undetermined")]]
        assert shares.sum() == pytest.approx(1.0, abs=1e-12)


# -- the design -----------------------------------------------------------------------------------
def test_weights_are_calibrated_to_the_control_totals() -> None:
    truth = _truth("moldova")
    frame = read_microdata(DATA / "moldova_synthetic.sav").frame
    assert frame["w_pers"].sum() == pytest.approx(truth["population"]["persons"], rel=1e-12)
    controls = pd.DataFrame(truth["controls"])
    labels = {i + 1: r[0] for i, r in enumerate(S.MOLDOVA.regions)}
    bins = [-1, 14, 24, 34, 44, 54, 64, 200]
    cells = frame.assign(
        region=frame["reg"].map(labels), sex=frame["q1_02"].map({1: "male", 2: "female"}),
        age_group=pd.cut(frame["q1_03"], bins, labels=list(S.AGE_GROUP_LABELS)).astype(str),
    ).groupby(["region", "sex", "age_group"])["w_pers"].sum()
    expected = controls.set_index(["region", "sex", "age_group"])["persons"]
    np.testing.assert_allclose(cells.reindex(expected.index).to_numpy(),
                               expected.to_numpy(), rtol=1e-10)


def test_household_weights_carry_the_non_respondents_within_strata() -> None:
    hh = read_microdata(DATA / "georgia_synthetic_households.dta").frame
    by = hh.groupby("strata")
    np.testing.assert_allclose(by["w_hh"].sum(), by["w_design"].sum(), rtol=1e-10)
    assert ((hh["result"] == 1) == (hh["w_hh"] > 0)).all()


def test_moldova_has_a_lonely_psu_that_the_spec_handles() -> None:
    truth = _truth("moldova")["sample"]
    assert truth["lonely_strata"] and truth["psus_responding"] == truth["psus_selected"] - 1
    frame = read_microdata(DATA / "moldova_synthetic.sav").frame
    with pytest.raises(LonelyPSUError, match=f"{truth['lonely_strata'][0]}"):
        SurveyDesign(frame, weights="w_pers", strata="strat", psu="psu")
    spec = load_spec(SPECS["moldova"])
    assert spec.design["lonely_psu"] == "adjust"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = SurveyDesign(frame, weights="w_pers", strata="strat", psu="psu",
                              lonely_psu="adjust")
    assert design.n_strata == truth["strata"]


def test_proxy_answers_have_more_dont_know() -> None:
    mapped = _mapped("moldova")
    frame = mapped.frame
    miss = frame["inv_rec_deceived_nature"].isna()
    assert miss[frame["proxy"] == 1].mean() > 3 * miss[frame["proxy"] == 0].mean()


def test_microdata_without_files_maps_like_the_file(tmp_path: Path) -> None:
    survey = synthetic.generate("moldova", n_households=800, seed=5,
                                population_households=80_000)
    spec = load_spec(SPECS["moldova"])
    in_memory = spec.apply(survey.microdata())
    survey.write(tmp_path, formats=("sav",))
    from_file = spec.apply(read_microdata(tmp_path / "moldova_synthetic.sav"))
    ind = [i.id for i in spec.indicators]
    pd.testing.assert_frame_equal(in_memory.frame[ind], from_file.frame[ind])
    assert survey.microdata().metadata.missing_values["q5_02"] == (8, 9)


# -- the true-status rules, hand-worked -------------------------------------------------------------
def _answers(**true: bool) -> np.ndarray:
    row = np.zeros(len(S.ITEMS), dtype=bool)
    for key, value in true.items():
        row[[it.key for it in S.ITEMS].index(key)] = value
    return row


def test_true_status_rules_hand_worked() -> None:
    """classification.md and issue 13: adults icls2018 (an involuntariness item and an element
    of coercion: a penalty, restricted movement, induced or indefinite debt, staying for wages
    due; one item never serves both); trafficked seed2007 (forced labour, moved, deceptive or
    coercive recruitment for adults; no means for children); children: any penalty, commercial
    sex, abduction or debt bondage, or a parent in forced labour."""
    rows = np.vstack([
        _answers(dur_overtime=True, pen_wages=True, rec_deceit_pay=True),  # 0 trafficked
        _answers(dur_overtime=True, pen_wages=True),  # 1 forced labour, free recruitment
        _answers(dur_overtime=True),  # 2 no penalty
        _answers(pen_violence=True),  # 3 adult: penalty alone is not forced labour
        _answers(pen_violence=True),  # 4 child: a penalty is enough, trafficked (moved)
        _answers(),  # 5 child of household 1 whose head (row 1) is in forced labour
        _answers(),  # 6 child in commercial sex
        _answers(dur_overtime=True, lea_stay_wages=True),  # 7 coercion: wages withheld
        _answers(dur_free_movement=True, pen_confine=True),  # 8 movement twice: one fact
        _answers(lea_debt_work=True),  # 9 child in debt bondage
    ])
    age = np.array([30, 40, 30, 30, 16, 16, 17, 30, 30, 16])
    sector = np.array([0, 0, 0, 0, 0, 0, S.SECTORS.index("commercial_sex"), 0, 0, 0])
    state = np.array([False, True, False, False, False, False, False, False, False, False])
    relation = np.array([1, 1, 1, 1, 3, 3, 3, 1, 1, 3])
    household = np.array([0, 1, 2, 3, 4, 1, 5, 6, 7, 8])
    got = true_status(rows, age, sector, state, relation, household, 9)
    assert got["forced_labour"].tolist() == [True, True, False, False, True, True, True, True,
                                             False, True]
    assert got["trafficked"].tolist() == [True, False, False, False, True, True, True, False,
                                          False, True]
    assert got["form"].tolist() == [2, 0, -1, -1, 2, 2, 1, 2, -1, 2]


def test_true_status_shares_the_rule_files() -> None:
    """The generator's copy of the rules names the same items as the rule files: the ICLS
    coercion items excluded from involuntariness in icls2018, the slavery-like items of
    child2018."""
    from flestimate.classification import load_rules

    icls = load_rules("icls2018").adult
    involuntary = icls.parts[0].expr  # type: ignore[union-attr]
    assert set(involuntary.terms[0].exclude) == set(S.ICLS_COERCION)
    child = load_rules("child2018").adult
    worst = child.parts[2].expr  # type: ignore[union-attr]
    assert set(worst.parts[0].terms) == set(S.CHILD_SLAVERY_LIKE)


def test_bad_arguments() -> None:
    with pytest.raises(ArgumentError, match=r"`style` of `generate\(\)` must be one of "
                                            r"moldova, georgia; got 'peru'"):
        synthetic.generate("peru")
    with pytest.raises(ArgumentError, match=r"`n_households` of `draw_sample\(\)` must be"):
        synthetic.generate("moldova", n_households=10, population_households=50_000)
