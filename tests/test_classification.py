"""Classification: the vignettes of classification.md, the three-valued logic, the Delphi
thresholds, children, custom and invalid rule files, and the synthetic data's truth.

References: ``classification.md`` (vignettes 1-7, rules, three-valued logic), ``indicators.md``
(grades and Delphi dimensions), and the generator's true statuses in
``data/synthetic/*_truth_persons.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flestimate import load_spec, read_microdata
from flestimate.classification import STATUSES, builtin_rules, classify, load_rules
from flestimate.errors import ArgumentError, DataError, SpecError

NA = np.nan
INV = ["inv_dur_forced_overtime", "inv_rec_deceived_terms", "inv_rec_deceived_nature",
       "inv_rec_debt", "inv_rec_abducted_sold", "inv_rec_marriage_promise"]
PEN = ["pen_wages_withheld", "pen_violence", "pen_documents__recruitment"]


def person(**values: float) -> dict[str, float]:
    row: dict[str, float] = {c: 0.0 for c in INV + PEN}
    row.update(moved=1.0, age=30.0)
    row.update(values)
    return row


def frame(*rows: dict[str, float], **context: object) -> pd.DataFrame:
    out = pd.DataFrame(list(rows))
    for key, value in {"perpetrator": "private", "sector": "construction", **context}.items():
        out[key] = value
    return out


FL = {"inv_dur_forced_overtime": 1.0, "pen_wages_withheld": 1.0}
VIGNETTES = [  # classification.md, hand-worked vignettes: (facts, icls2018 status)
    (person(**FL, inv_rec_deceived_terms=1.0), "trafficked_forced_labour"),
    (person(**FL, inv_rec_deceived_terms=1.0, moved=0.0), "forced_labour_not_trafficked"),
    (person(inv_dur_forced_overtime=1.0), "not_forced_labour"),
    (person(inv_dur_forced_overtime=1.0, pen_violence=NA), "undetermined"),
    (person(**FL, inv_rec_deceived_terms=NA, inv_rec_deceived_nature=NA, inv_rec_debt=NA,
            inv_rec_abducted_sold=NA, inv_rec_marriage_promise=NA,
            pen_documents__recruitment=NA), "undetermined"),
    (person(pen_violence=1.0), "not_forced_labour"),
    (person(**FL), "forced_labour_not_trafficked"),
]


@pytest.mark.parametrize(("number", "facts", "status"),
                         [(i + 1, f, s) for i, (f, s) in enumerate(VIGNETTES)])
def test_vignettes_icls2018(number: int, facts: dict, status: str) -> None:
    got = classify(frame(facts)).to_frame()
    assert got["status"].iloc[0] == status, number


@pytest.mark.parametrize("rule", ["htshtc2012_dimension", "htshtc2012_strong"])
def test_vignettes_under_the_dimension_rules(rule: str) -> None:
    """The same vignettes with penalties recorded by dimension: forced overtime (duress,
    strong) with wages withheld at duress (strong); same statuses."""
    rows = []
    for facts, _ in VIGNETTES:
        row = dict(facts)
        for pen in ("pen_wages_withheld", "pen_violence"):
            row[f"{pen}__duress"] = row.pop(pen)
        rows.append(row)
    got = classify(frame(*rows), forced_labour=rule).to_frame()
    assert got["status"].tolist() == [s for _, s in VIGNETTES]


def test_dimension_rule_needs_the_penalty_in_the_same_dimension() -> None:
    """htshtc2012_dimension: forced overtime (duress) with a penalty applied only at leaving
    is not a pair; icls2018 counts it."""
    row = person(inv_dur_forced_overtime=1.0, pen_wages_withheld=0.0, pen_violence=0.0)
    row["pen_violence__leaving"] = 1.0
    data = frame(row)
    assert classify(data).to_frame()["forced_labour"].iloc[0]
    assert not classify(data, forced_labour="htshtc2012_dimension",
                        plain_penalties="ignore").to_frame()["forced_labour"].iloc[0]


def test_strong_rule_needs_one_strong_indicator_in_the_pair() -> None:
    """Deceived about terms (recruitment, medium) with threat of dismissal at recruitment
    (medium): a pair under the dimension rule, not under the strong rule. Overriding the
    grade of dismissal to strong makes it one."""
    row = {"inv_rec_deceived_terms": 1.0, "pen_dismissal__recruitment": 1.0, "age": 40.0}
    data = pd.DataFrame([row])
    assert classify(data, forced_labour="htshtc2012_dimension").to_frame()["forced_labour"][0]
    assert not classify(data, forced_labour="htshtc2012_strong").to_frame()["forced_labour"][0]
    strong = classify(data, forced_labour="htshtc2012_strong",
                      indicators={"version": "test", "penalty": {
                          "pen_dismissal": {"grade": "strong"}}})
    assert strong.to_frame()["forced_labour"][0]
    assert strong.provenance["indicator_table"] == "1+test"


def test_plain_penalties_must_be_declared_for_dimension_rules() -> None:
    data = frame(person(**FL))
    with pytest.raises(DataError, match=r"rule 'htshtc2012_dimension' needs penalties recorded "
                                        r"by dimension \(pen_\*__duress\) but the data have only "
                                        r"the plain form\(s\) pen_violence, pen_wages_withheld; "
                                        r"pass plain_penalties='every_dimension'"):
        classify(data, forced_labour="htshtc2012_dimension")
    got = classify(data, forced_labour="htshtc2012_dimension", plain_penalties="every_dimension")
    assert got.to_frame()["forced_labour"].iloc[0]


# -- three-valued logic ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("inv", "pen", "expected"),
    [((1, 0), (1,), True), ((0, 0), (1,), False), ((1, 0), (0,), False),
     ((NA, 0), (1,), None), ((1, 0), (NA,), None), ((NA, NA), (NA,), None),
     ((NA, 0), (0,), False),  # the missing item cannot make a penalty appear
     ((0, 0), (NA,), False),  # nor involuntariness
     ((1, NA), (1,), True),  # the missing item cannot undo an observed pair
     ((NA, 1), (NA, ), None)],
    ids=["pair", "no-inv", "no-pen", "inv-open", "pen-open", "all-open", "pen-absent",
         "inv-absent", "pair-and-open", "one-inv-pen-open"],
)
def test_three_valued_truth_table_icls2018(inv: tuple, pen: tuple, expected: bool | None) -> None:
    row = {"inv_dur_forced_overtime": inv[0], "inv_lea_stay_for_wages": inv[1],
           "pen_violence": pen[0], "pen_documents__recruitment": 0.0, "age": 30.0}
    got = classify(pd.DataFrame([row])).to_frame().iloc[0]
    if expected is None:
        assert pd.isna(got["forced_labour"])
        assert (got["forced_labour_lower"], got["forced_labour_upper"]) == (False, True)
        assert got["status"] == "undetermined"
    else:
        assert got["forced_labour"] == expected
        assert got["forced_labour_lower"] == got["forced_labour_upper"] == expected


# -- Delphi thresholds ----------------------------------------------------------------------------
S1, S2 = "pen_documents__duress", "pen_violence__duress"
M1, M2, M3 = ("pen_denunciation__duress", "pen_worse_conditions__duress",
              "pen_wages_withheld__duress")
W1 = "pen_exclusion__duress"


@pytest.mark.parametrize(
    ("present", "missing", "expected"),
    [([S1, S2], [], True), ([S1], [], False),  # 2 strong; just below
     ([S1, W1], [], True), ([S1, M1], [], True),  # 1 strong + 1 medium or weak
     ([W1], [], False),
     ([M1, M2, M3], [], True), ([M1, M2], [], False),  # 3 medium; just below
     ([M1, M2, W1], [], True), ([M1, W1], [], False),  # 2 medium + 1 weak; just below
     ([S1], [M1], None), ([M1, M2], [W1], None), ([M1], [W1], False)],
)
def test_delphi_dimension_thresholds(present: list, missing: list, expected: bool | None
                                     ) -> None:
    """ILO/EC 2009: a dimension is positive with 2 strong; 1 strong + 1 medium or weak;
    3 medium; or 2 medium + 1 weak (coercion at destination: S documents, violence; M
    denunciation, worse conditions, wages withheld; W exclusion)."""
    rules = {"name": "coercion", "kind": "trafficking",
             "patterns": load_delphi_patterns(),
             "rule": {"graded": "coercion_at_destination"}}
    row = {c: 0.0 for c in (S1, S2, M1, M2, M3, W1)}
    row.update({c: 1.0 for c in present})
    row.update({c: NA for c in missing})
    got = classify(pd.DataFrame([row]), trafficking=rules).to_frame()["trafficked"].iloc[0]
    assert (pd.isna(got) if expected is None else got == expected)


def load_delphi_patterns() -> list:
    import yaml

    from flestimate.classification._rules import RULES_DIR

    return yaml.safe_load((RULES_DIR / "delphi2009.yaml").read_text())["patterns"]


def test_delphi2009_adult_and_child() -> None:
    """Adults need recruitment, exploitation and destination dimensions; children only the
    first two."""
    row = {"inv_rec_deceived_nature": 1.0, "dec_rec_travel": 1.0,  # deceptive: S + M
           "inv_dur_forced_overtime": 1.0, "exp_no_labour_law": 1.0,  # exploitative: S + M
           S1: 0.0, S2: 0.0, "vul_dest_dependency": 0.0, **FL}
    data = pd.DataFrame([{**row, "age": 30.0}, {**row, "age": 15.0}])
    got = classify(data, trafficking="delphi2009").to_frame()
    assert got["trafficked"].tolist() == [False, True]


# -- children ---------------------------------------------------------------------------------------
def test_child_rule_with_household_link() -> None:
    """A 16-year-old with a penalty and no involuntariness is in forced labour (child rule);
    a 15-year-old child of a head in forced labour is too; without the household columns the
    link is missing."""
    rows = [
        person(pen_violence=1.0, age=16.0),  # penalty alone suffices for a child
        person(**FL, age=45.0),  # head of household 7, in forced labour
        person(age=15.0),  # child of that head
        person(age=17.0),  # child in a household whose head is not in forced labour
    ]
    data = frame(*rows, household=[5, 7, 7, 9], relationship=["child", "head", "child",
                                                              "child"])
    got = classify(data).to_frame()
    assert got["forced_labour"].tolist() == [True, True, True, False]
    assert got["rule"].tolist() == ["child2018", "icls2018", "child2018", "child2018"]
    unlinked = classify(data.drop(columns=["household", "relationship"])).to_frame()
    assert unlinked["forced_labour"].iloc[0]
    assert pd.isna(unlinked["forced_labour"].iloc[2]) and pd.isna(unlinked["forced_labour"].iloc[3])


def test_missing_age_decides_only_where_both_rules_agree() -> None:
    data = frame(person(**FL, age=NA), person(pen_violence=1.0, age=NA), person(age=NA),
                 household=[1, 2, 3], relationship=["head"] * 3)
    got = classify(data).to_frame()
    assert got["forced_labour"].iloc[0] and not got["forced_labour"].iloc[2]
    assert pd.isna(got["forced_labour"].iloc[1])  # forced labour for a child, not an adult


# -- form ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("perpetrator", "sector", "form"),
    [("state", "construction", "state_imposed"),
     ("private", "commercial_sex", "commercial_sexual_exploitation"),
     ("private", "agriculture", "economic_exploitation"),
     ("private", "commercial_sex_and_other", "mixed_undetermined"),
     (None, "agriculture", "mixed_undetermined"),
     ("private", None, "mixed_undetermined")],
)
def test_form_rule(perpetrator: str | None, sector: str | None, form: str) -> None:
    data = frame(person(**FL), person(), perpetrator=perpetrator, sector=sector)
    got = classify(data).to_frame()["form"]
    assert got.iloc[0] == form and pd.isna(got.iloc[1])  # missing when not in forced labour


# -- the result object ---------------------------------------------------------------------------------
def test_result_keeps_order_and_index_and_is_immutable() -> None:
    data = frame(*(f for f, _ in VIGNETTES))
    data.index = [f"r{i}" for i in range(7, 0, -1)]
    c = classify(data)
    out = c.to_frame()
    assert out.index.tolist() == data.index.tolist()
    assert list(out.columns) == ["forced_labour", "trafficked", "status", "form",
                                 "forced_labour_lower", "forced_labour_upper",
                                 "trafficked_lower", "trafficked_upper", "rule"]
    assert list(out["status"].cat.categories) == list(STATUSES)
    with pytest.raises(AttributeError):
        c._frame = data  # type: ignore[misc]
    out.loc["r7", "status"] = "undetermined"
    assert c.to_frame().loc["r7", "status"] == "trafficked_forced_labour"


def test_explain_and_evidence() -> None:
    data = frame(*(f for f, _ in VIGNETTES))
    c = classify(data)
    text = c.explain(4)
    assert text.splitlines()[0] == "respondent 4: undetermined"
    assert "any of penalty in recruitment: undetermined  [missing: pen_documents__recruitment]" \
        in text
    assert "yes: inv_dur_forced_overtime (duress, strong)" in text
    assert "form: economic_exploitation" in text
    ev = c.evidence
    assert set(ev.loc[ev["row"] == 3, "indicator"]) == {"inv_dur_forced_overtime", "pen_violence"}
    assert ev.loc[(ev["row"] == 3) & (ev["indicator"] == "pen_violence"), "value"].isna().all()
    with pytest.raises(ArgumentError, match=r"`row_id` of `explain\(\)`: 99 is not in the index"):
        c.explain(99)


def test_indicator_table_weighted_shares() -> None:
    """Among the three in forced labour (weights 1, 2, 3): deceived about terms is yes for
    weights 1 and 2, no for 3: weighted share 3/6, unweighted 2/3."""
    rows = [person(**FL, inv_rec_deceived_terms=1.0), person(**FL, inv_rec_deceived_terms=1.0),
            person(**FL), person()]
    data = frame(*rows).assign(w=[1.0, 2.0, 3.0, 4.0])
    table = classify(data).indicator_table(weights="w").set_index("indicator")
    assert table.loc["inv_rec_deceived_terms", "share"] == pytest.approx(0.5, rel=1e-15)
    assert table.loc["inv_rec_deceived_terms", "share_unweighted"] == pytest.approx(2 / 3)
    assert table.loc["inv_rec_deceived_terms", ["n_yes", "n_no"]].tolist() == [2, 1]
    assert table.loc["pen_wages_withheld", "kind"] == "penalty"


def test_bad_indicator_values_are_an_error() -> None:
    data = frame(person(inv_dur_forced_overtime=2.0))
    with pytest.raises(DataError, match=r"indicator column 'inv_dur_forced_overtime' must hold "
                                        r"1, 0 or missing; 1 row\(s\) hold other values, e.g. "
                                        r"\[2.0\] \(rows \[0\]\)"):
        classify(data)


# -- rule files -----------------------------------------------------------------------------------------
def test_builtin_rule_sets() -> None:
    assert builtin_rules() == {
        "child2018": "child", "delphi2009": "trafficking", "htshtc2012_dimension":
        "forced_labour", "htshtc2012_strong": "forced_labour", "icls2018": "forced_labour",
        "ilo2005": "form", "seed2007": "trafficking"}


def test_custom_rule_set_from_a_file(tmp_path: Path) -> None:
    """A stricter national rule: forced labour needs a strong involuntariness indicator and a
    strong penalty."""
    path = tmp_path / "national.yaml"
    path.write_text(
        "name: national2020\nkind: forced_labour\nversion: 3\n"
        "rule:\n  all:\n    - any_of: {kind: involuntariness, grade: strong}\n"
        "    - any_of: {kind: penalty, grade: strong}\n")
    data = frame(person(**FL), person(inv_rec_deceived_terms=1.0, pen_wages_withheld=1.0))
    got = classify(data, forced_labour=path)
    assert got.to_frame()["forced_labour"].tolist() == [True, False]
    assert got.provenance["rules"]["forced_labour"] == {
        "name": "national2020", "kind": "forced_labour", "version": "3", "evidence": "",
        "source": "", "file": "national.yaml"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nkind: forced_labour\nrule: {any_of: {kind: coercion}}\n",
         r"^bad.yaml: rule.any_of.kind: must be involuntariness or penalty; got 'coercion'$"),
        ("name: x\nkind: labour\nrule: {any: []}\n",
         r"^bad.yaml: kind: must be one of forced_labour, child, trafficking, form; got "
         r"'labour'$"),
        ("name: x\nkind: forced_labour\ncolour: red\nrule: {any: []}\n",
         r"^bad.yaml: unknown key\(s\) \['colour'\]"),
        ("name: x\nkind: forced_labour\nrule: {any: []}\n",
         r"^bad.yaml: rule.any: must be a non-empty list of expressions$"),
        ("name: x\nkind: forced_labour\nrule: {all: [{ref: pairs}]}\n",
         r"^bad.yaml: rule.all\[0\].ref: 'pairs' is not defined under `define` "
         r"\(nothing defined\)$"),
        ("name: x\nkind: trafficking\npatterns: [{strong: 0}]\nrule: {graded: coercion}\n",
         r"^bad.yaml: rule.graded.patterns\[0\].strong: must be a positive integer; got 0$"),
        ("name: x\nkind: forced_labour\nrule: {eval: 'import os'}\n",
         r"^bad.yaml: rule: unknown expression keys \['eval'\]"),
        ("name: x\nkind: form\ncases: [{form: forced, when: {column: a, op: missing}}]\n",
         r"^bad.yaml: cases\[0\].form: must be one of state_imposed"),
        ("name: [x\n", r"^bad.yaml: invalid YAML"),
    ],
)
def test_invalid_rule_files_name_the_file_and_key(tmp_path: Path, text: str, message: str
                                                  ) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=message):
        load_rules(path)


def test_rule_of_the_wrong_kind_and_bad_options() -> None:
    with pytest.raises(SpecError, match=r"rule set 'seed2007' is of kind 'trafficking'; "
                                        r"expected 'forced_labour'"):
        classify(frame(person()), forced_labour="seed2007")
    with pytest.raises(SpecError, match=r"rule set 'icls2019' is neither a file nor a built-in"):
        classify(frame(person()), forced_labour="icls2019")
    with pytest.raises(ArgumentError, match=r"`plain_penalties` of `classify\(\)` must be one "
                                            r"of 'error', 'every_dimension', 'ignore'; got 'x'"):
        classify(frame(person()), plain_penalties="x")


# -- the synthetic data's truth ---------------------------------------------------------------------------
DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"


@pytest.mark.parametrize("style", ["moldova", "georgia"])
def test_shipped_sample_reproduces_the_true_status(style: str) -> None:
    """Where no answer is missing, the classification equals the generator's true status;
    everywhere, the bounds contain it."""
    if style == "moldova":
        mapped = load_spec("moldova-2008-synthetic").apply(
            read_microdata(DATA / "moldova_synthetic.sav"))
        ids = ["hh_id", "ln"]
    else:
        mapped = load_spec("georgia-synthetic").apply(
            read_microdata(DATA / "georgia_synthetic_persons.dta"),
            households=read_microdata(DATA / "georgia_synthetic_households.dta"))
        ids = ["hhid", "pid"]
    got = classify(mapped).to_frame()
    truth = pd.read_csv(DATA / f"{style}_synthetic_truth_persons.csv")
    both = pd.concat([mapped.frame[ids], got], axis=1).merge(truth, on=ids,
                                                             suffixes=("", "_true"))
    assert len(both) == len(got)
    indicators = [i.id for i in mapped.spec.indicators]
    complete = mapped.frame[indicators].notna().all(axis=1).to_numpy()
    assert complete.sum() > 0.6 * len(got)
    fl = both["forced_labour"].astype(float).to_numpy()
    tr = both["trafficked"].astype(float).to_numpy()
    np.testing.assert_array_equal(fl[complete], both["forced_labour_true"].to_numpy()[complete])
    np.testing.assert_array_equal(tr[complete], both["trafficked_true"].to_numpy()[complete])
    decided = ~np.isnan(fl)
    np.testing.assert_array_equal(fl[decided], both["forced_labour_true"].to_numpy()[decided])
    for name in ("forced_labour", "trafficked"):
        true = both[f"{name}_true"].to_numpy().astype(bool)
        assert (both[f"{name}_lower"].to_numpy() <= true).all()
        assert (true <= both[f"{name}_upper"].to_numpy()).all()


def test_explain_accepts_numpy_labels_and_reports_the_rule_per_age() -> None:
    data = frame(person(**FL), person(pen_violence=1.0, age=16.0))
    c = classify(data)
    text = c.explain(np.int64(1))
    assert text.splitlines()[:3] == [
        "respondent 1: forced_labour_not_trafficked",
        "forced labour: yes (a child, age 16)",
        "  rule child2018:"]
    assert "any of penalty: yes  [yes: pen_violence (strong)]" in text


# -- property: the three-valued result is what every completion of the missing answers gives ------
RULES = [("icls2018", "seed2007"), ("htshtc2012_dimension", "seed2007"),
         ("htshtc2012_strong", "delphi2009")]
COLUMNS = ["inv_dur_forced_overtime", "inv_dur_different_job", "inv_rec_deceived_terms",
           "inv_rec_debt", "inv_lea_longer_than_agreed", "pen_wages_withheld__duress",
           "pen_dismissal__leaving", "pen_violence__recruitment", "pen_documents__duress",
           "exp_no_labour_law", "dec_rec_travel", "vul_dest_dependency"]


def test_three_valued_result_equals_the_range_over_completions() -> None:
    """classification.md: TRUE iff every completion of the missing answers gives TRUE, FALSE iff
    every completion gives FALSE, missing otherwise; and the bounds are the min and max over
    completions. Checked on random frames against 8 random completions plus the all-0 and
    all-1 completions (which attain the bounds, the rules being monotone)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    cell = st.sampled_from([0.0, 1.0, NA])

    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.lists(cell, min_size=len(COLUMNS), max_size=len(COLUMNS)),
                    min_size=1, max_size=12),
           st.sampled_from(RULES), st.integers(0, 2**32 - 1))
    def check(rows: list, rules: tuple, seed: int) -> None:
        data = pd.DataFrame(rows, columns=COLUMNS).assign(moved=1.0, age=30.0)
        got = classify(data, forced_labour=rules[0], trafficking=rules[1]).to_frame()
        rng = np.random.default_rng(seed)
        values = data[COLUMNS].to_numpy()
        missing = np.isnan(values)
        outcomes = {"forced_labour": [], "trafficked": []}
        fills = [np.zeros_like(values), np.ones_like(values),
                 *(rng.integers(0, 2, values.shape).astype(float) for _ in range(8))]
        for fill in fills:
            done = data.copy()
            done[COLUMNS] = np.where(missing, fill, values)
            out = classify(done, forced_labour=rules[0], trafficking=rules[1]).to_frame()
            for name in outcomes:
                assert out[name].notna().all()
                outcomes[name].append(out[name].to_numpy(dtype=bool))
        for name, results in outcomes.items():
            stacked = np.vstack(results)
            np.testing.assert_array_equal(got[f"{name}_lower"].to_numpy(), stacked.min(axis=0))
            np.testing.assert_array_equal(got[f"{name}_upper"].to_numpy(), stacked.max(axis=0))
            decided = got[name].notna().to_numpy()
            assert (stacked[:, decided] == got[name].to_numpy(dtype=bool, na_value=False)
                    [decided]).all()

    check()
