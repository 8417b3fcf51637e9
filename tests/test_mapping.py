"""The declarative filter grammar of module specs: values on a small frame, exact errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flestimate.errors import SpecError
from flestimate.mapping import ModuleSpec, evaluate_filter, load_spec

FRAME = pd.DataFrame({"age": [14, 15, 40, 70, np.nan], "mig": [1, 2, 3, 3, 1],
                      "q": [1.0, np.nan, 8.0, 2.0, 1.0]})


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"column": "age", "op": ">=", "value": 15}, [0, 1, 1, 1, 0]),
        ({"column": "age", "op": "between", "value": [15, 64]}, [0, 1, 1, 0, 0]),
        ({"column": "mig", "op": "in", "value": [2, 3]}, [0, 1, 1, 1, 0]),
        ({"column": "q", "op": "not_in", "value": [8, 9]}, [1, 0, 0, 1, 1]),
        ({"column": "q", "op": "!=", "value": 1}, [0, 0, 1, 1, 0]),
        ({"column": "q", "op": "missing"}, [0, 1, 0, 0, 0]),
        ({"column": "age", "op": "not_missing"}, [1, 1, 1, 1, 0]),
        ({"and": [{"column": "age", "op": ">=", "value": 15},
                  {"column": "mig", "op": "in", "value": [2, 3]}]}, [0, 1, 1, 1, 0]),
        ({"or": [{"column": "age", "op": "<", "value": 15},
                 {"column": "q", "op": "missing"}]}, [1, 1, 0, 0, 0]),
        ({"not": {"column": "age", "op": ">=", "value": 15}}, [1, 0, 0, 0, 1]),
    ],
)
def test_filters(spec: dict, expected: list[int]) -> None:
    assert evaluate_filter(FRAME, spec).astype(int).tolist() == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"column": "agee", "op": ">=", "value": 15},
         r"^spec.yaml: universe.column: column 'agee' not found in the data$"),
        ({"column": "age", "op": "~", "value": 15},
         r"^spec.yaml: universe.op: unknown operator '~'"),
        ({"column": "age", "op": ">="}, r"^spec.yaml: universe.value: operator '>=' needs a value$"),
        ({"column": "age", "op": "in", "value": 3}, r"universe.value: operator 'in' needs a list"),
        ({"and": [{"column": "age", "op": ">=", "value": 1}, {"col": "x"}]},
         r"^spec.yaml: universe.and\[1\]: a comparison needs `column` and `op`"),
        ({"and": []}, r"universe.and: must be a non-empty list"),
        ("age >= 15", r"universe: a filter must be a mapping; got str"),
        ({"column": "q", "op": "missing", "value": 1}, r"operator 'missing' takes no value"),
    ],
)
def test_errors_name_the_key(spec: object, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        evaluate_filter(FRAME, spec, where="spec.yaml: universe")


# -- module specs -------------------------------------------------------------------------------

PERSONS = pd.DataFrame({
    "hh": [1, 1, 2, 3, 3],
    "line": [1, 2, 1, 1, 2],
    "age": [30, 12, 45, 50, 22],
    "q5_01": [1.0, np.nan, 2.0, 8.0, 2.0],   # deceived about pay
    "q5_02": [2.0, np.nan, 2.0, 1.0, 9.0],   # deceived about the job
    "q6_01": [1.0, np.nan, np.nan, 2.0, 2.0],  # documents taken; asked if q5_01 answered yes/no
})
HOUSEHOLDS = pd.DataFrame({"hh": [1, 2, 3], "stratum": [1, 1, 2], "psu": [10, 11, 20],
                           "w": [100.0, 120.0, 80.0]})
SPEC = {
    "name": "test-spec",
    "reference_period": "last 10 years",
    "codes": {"yes": 1, "no": 2, "dont_know": 8, "refused": 9},
    "universe": {"column": "age", "op": ">=", "value": 15},
    "design": {"weights": "w", "strata": "stratum", "psu": "psu"},
    "ids": {"household": "hh", "person": "line"},
    "merge": {"on": "hh"},
    "indicators": {
        "inv_rec_deceived_terms": {"items": ["q5_01", "q5_02"], "combine": "any"},
        "pen_documents": {"items": "q6_01",
                          "asked_if": {"column": "q5_01", "op": "in", "value": [1, 2]}},
    },
    "context": {"age": "age"},
}


def test_apply_maps_codes_with_three_valued_any() -> None:
    """Universe age >= 15 keeps rows 0, 2, 3, 4. any(q5_01, q5_02):
    row 0: 1|0 -> 1; row 2: 0|0 -> 0; row 3: dk|1 -> 1; row 4: 0|refused -> missing."""
    mapped = ModuleSpec.from_dict(SPEC).apply(PERSONS, households=HOUSEHOLDS)
    got = mapped.frame["inv_rec_deceived_terms"].tolist()
    assert got[:3] == [1.0, 0.0, 1.0] and np.isnan(got[3])
    assert mapped.frame.index.tolist() == [0, 2, 3, 4]
    assert mapped.universe == {"rows": 5, "in_universe": 4, "left_universe": 1}
    assert mapped.frame["w"].tolist() == [100.0, 120.0, 80.0, 80.0]
    docs = mapped.frame["pen_documents"].tolist()
    assert docs[0] == 1.0 and np.isnan(docs[1]) and docs[2:] == [0.0, 0.0]


def test_quality_report_counts_codes_and_skip_violations() -> None:
    mapped = ModuleSpec.from_dict(SPEC).apply(PERSONS, households=HOUSEHOLDS)
    q = mapped.quality.set_index("item")
    assert q.loc["q5_02", ["n_yes", "n_no", "n_refused", "n_dont_know"]].tolist() == [1, 2, 1, 0]
    # q6_01 asked only when q5_01 is 1 or 2 (rows 0, 2, 4): row 2 unanswered, row 3 answered
    # although not asked: two violations.
    assert q.loc["q6_01", "n_skip_violations"] == 2
    assert q.loc["q6_01", "n_system_missing"] == 1


def test_unknown_codes_are_an_error_unless_declared() -> None:
    persons = PERSONS.assign(q5_02=[2.0, np.nan, 7.0, 1.0, 9.0])
    with pytest.raises(SpecError, match=r"<dict>: indicators.inv_rec_deceived_terms: column "
                                        r"'q5_02' has 1 value\(s\) with codes the spec does not "
                                        r"know: \[7.0\]"):
        ModuleSpec.from_dict(SPEC).apply(persons, households=HOUSEHOLDS)
    lenient = {**SPEC, "indicators": {"inv_rec_deceived_terms": {
        "items": ["q5_02"], "unknown": "missing"}}}
    got = ModuleSpec.from_dict(lenient).apply(persons, households=HOUSEHOLDS)
    assert np.isnan(got.frame.loc[2, "inv_rec_deceived_terms"])


def test_broken_merge_key() -> None:
    with pytest.raises(SpecError, match=r"merge.on: 2 person row\(s\) have no household, "
                                        r"e.g. hh=\[3\]"):
        ModuleSpec.from_dict(SPEC).apply(PERSONS, households=HOUSEHOLDS.iloc[:2])
    with pytest.raises(SpecError, match=r"merge.on: household ids repeat"):
        ModuleSpec.from_dict(SPEC).apply(PERSONS, households=pd.concat([HOUSEHOLDS] * 2))


def test_missing_item_column() -> None:
    spec = {**SPEC, "indicators": {"pen_violence": {"items": ["q9_99"]}}}
    with pytest.raises(SpecError, match=r"indicators.pen_violence.items: column 'q9_99' not found"):
        ModuleSpec.from_dict(spec).apply(PERSONS, households=HOUSEHOLDS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": 1}, r"unknown key\(s\) \['colour'\]"),
        ({"codes": {"yes": 1, "no": 1}}, r"codes: code 1 is both yes and no"),
        ({"codes": {"maybe": 3}}, r"codes.maybe: unknown code kind"),
        ({"indicators": {"x": {"items": []}}}, r"indicators.x.items: must be a non-empty list"),
        ({"indicators": {"x": {"items": ["a"], "combine": "most"}}},
         r"indicators.x.combine: must be 'any' or 'all'"),
        # issue 13, item 10: the reference period is required, as text
        ({"reference_period": None}, r"^spec.yaml: reference_period: the period the answers "
                                     r"refer to is required, as text \(e.g. 'last 10 years' or "
                                     r"'2017-2021'\); got None$"),
        ({"reference_period": 2020}, r"reference_period: .* got 2020$"),
        ({"reference_period": "  "}, r"reference_period: .* got '  '$"),
        # a penalty's dimensions: one, or two joined by _or_ in the canonical order
        ({"indicators": {"pen_violence__leaving_or_duress": "q5_01"}},
         r"indicators.pen_violence__leaving_or_duress: not a canonical indicator id"),
    ],
)
def test_spec_validation_names_the_key(change: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        ModuleSpec.from_dict({**SPEC, **change}, "spec.yaml")


def test_reference_period_and_penalty_dimensions_are_read() -> None:
    spec = ModuleSpec.from_dict({**SPEC, "reference_period": " 2017-2021 ", "indicators": {
        "pen_violence__duress_or_leaving": "q5_01", "pen_violence__recruitment": "q5_02"}})
    assert spec.reference_period == "2017-2021"
    assert [i.id for i in spec.indicators] == ["pen_violence__duress_or_leaving",
                                               "pen_violence__recruitment"]


def test_load_spec_from_yaml(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "country.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    spec = load_spec(path)
    assert spec.name == "test-spec" and spec.source == "country.yaml"
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match=r"^broken.yaml: invalid YAML"):
        load_spec(broken)
    with pytest.raises(SpecError, match="is neither a file nor a built-in spec"):
        load_spec(tmp_path / "none.yaml")


def test_builtin_template_loads_and_fits_its_layout() -> None:
    from flestimate.mapping import builtin_specs

    assert "template" in builtin_specs()
    spec = load_spec("template")
    assert spec.design["weights"] == "person_weight"
    ids = [i.id for i in spec.indicators]
    assert ids[:2] == ["inv_rec_deceived_terms", "inv_rec_debt"]
    assert spec.reference_period == "last 10 years"
    persons = pd.DataFrame({
        "hh_id": [1, 1], "line_no": [1, 2], "age": [30, 40], "mig_status": [2, 1],
        "q5_03": [1, 2], "q5_04": [2, 2], "q5_06": [2, 2], "q5_09": [2, 2], "q6_02": [2, 2],
        "q6_05": [1, 2], "q6_07": [2, 2], "q6_08": [8, 2], "q6_09": [1, 2], "q6_10": [1, np.nan],
        "sex": [1, 2], "country_last_job": ["RU", "IT"], "sector_last_job": ["c", "a"],
        "proxy": [0, 0], "worked_abroad": [1, 1], "stratum": [1, 1], "psu": [1, 1],
        "person_weight": [10.0, 10.0],
    })
    mapped = spec.apply(persons)
    assert mapped.universe["in_universe"] == 1
    row = mapped.frame.iloc[0]
    assert row["inv_rec_deceived_terms"] == 1.0 and row["pen_documents__duress_or_leaving"] == 1
    assert row["pen_documents__recruitment"] == 0.0
    # no and don't know -> missing under any()
    assert np.isnan(row["pen_violence__duress_or_leaving"])
    with pytest.raises(SpecError, match="neither a file nor a built-in spec"):
        load_spec("no-such-survey")


# -- skip patterns, context recodes, universe report, canonical ids ------------------------------
BLOCK = pd.DataFrame({
    "age": [30, 40, 50, 60, 70, 12],
    "filter": [1, 2, 8, 2, 1, np.nan],     # any penalty? yes / no / don't know
    "pen": [1, 99, 99, 2, 99, np.nan],       # asked only after yes; 99 = not applicable
    "who": [3, 99, 99, 99, 1, np.nan],
})
BLOCK_SPEC = {
    "name": "block",
    "reference_period": "last 10 years",
    "codes": {"yes": [1], "no": [2], "dont_know": [8], "refused": [9], "not_applicable": [99]},
    "universe": {"and": [{"column": "age", "op": ">=", "value": 15},
                         {"column": "filter", "op": "!=", "value": 8}]},
    "x-block": None,
    "indicators": {"pen_violence": {
        "items": ["pen"], "asked_if": {"column": "filter", "op": "==", "value": 1},
        "no_if": {"column": "filter", "op": "==", "value": 2}}},
    "context": {"perpetrator": {"column": "who", "values": {1: "private", 3: "state", 99: None}}},
}


def test_no_if_sets_skipped_items_to_no_and_counts_violations() -> None:
    """Universe: rows 0, 1, 3, 4 (row 2 said don't know to the filter, row 5 is 12).
    pen: row 0 yes; row 1 skipped after "no" -> 0 (no_if); row 3 answered "no" although the
    filter said no -> 0 and a violation; row 4 skipped although the filter said yes -> missing
    and a violation."""
    mapped = ModuleSpec.from_dict(BLOCK_SPEC).apply(BLOCK)
    got = mapped.frame["pen_violence"].tolist()
    assert got[:3] == [1.0, 0.0, 0.0] and np.isnan(got[3])
    item = mapped.quality.set_index("item").loc["pen"]
    assert (item["n_skip_violations"], item["n_set_no"], item["n_not_applicable"]) == (2, 1, 2)
    perpetrator = mapped.frame["perpetrator"]  # who: 3, 99, 99, 1
    assert perpetrator.iloc[0] == "state" and perpetrator.iloc[3] == "private"
    assert perpetrator.iloc[1:3].isna().all()


def test_universe_report_counts_rows_rule_by_rule() -> None:
    mapped = ModuleSpec.from_dict(BLOCK_SPEC).apply(BLOCK)
    rules = mapped.quality[mapped.quality["section"] == "universe"]
    assert rules["item"].tolist() == ["age >= 15", "filter != 8"]
    assert rules["n"].tolist() == [6, 5] and rules["n_left"].tolist() == [1, 1]
    assert mapped.universe == {"rows": 6, "in_universe": 4, "left_universe": 2}
    text = mapped.report()
    assert "age >= 15" in text and "pen_violence" in text


def test_context_values_not_listed_are_an_error_unless_declared() -> None:
    data = BLOCK.assign(who=[3, 99, 99, 99, 5, np.nan])
    with pytest.raises(SpecError, match=r"^<dict>: context.perpetrator: column 'who' has 1 "
                                        r"value\(s\) that `values` does not list: \[5.0\] "
                                        r"\(rows \[4\]\)"):
        ModuleSpec.from_dict(BLOCK_SPEC).apply(data)
    lenient = {**BLOCK_SPEC, "context": {"perpetrator": {
        "column": "who", "values": {1: "private", 3: "state", 99: None}, "unknown": "missing"}}}
    mapped = ModuleSpec.from_dict(lenient).apply(data)
    assert pd.isna(mapped.frame.loc[4, "perpetrator"])
    ctx = mapped.quality[mapped.quality["section"] == "context"]
    assert ctx["n_unknown"].tolist() == [1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"indicators": {"pen_violense": "pen"}},
         r"indicators.pen_violense: not a canonical indicator id \(indicators.md\); did you "
         r"mean 'pen_violence'\?"),
        ({"context": {"colour": "who"}}, r"context.colour: unknown context variable"),
        ({"context": {"perpetrator": {"col": "who"}}}, r"context.perpetrator: must be a column "
                                                       r"name or a mapping with `column`"),
        ({"design": {"weight": "w"}}, r"design: keys must be among fpc, lonely_psu, nest"),
        ({"indicators": {"pen_violence": {"items": ["pen"], "no_if": "filter == 2"}}},
         r"indicators.pen_violence.no_if: must be a filter mapping"),
    ],
)
def test_more_validation_names_the_key(change: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        ModuleSpec.from_dict({**BLOCK_SPEC, **change}, "spec.yaml")


def test_canonical_ids_and_extra_indicators() -> None:
    from flestimate.mapping import canonical_ids

    ids = canonical_ids()
    assert {"inv_rec_debt", "pen_violence", "pen_violence__recruitment",
            "pen_debt_manipulation__leaving", "vul_dest_personal", "exp_no_education"} <= ids
    assert len([i for i in ids if i.startswith("inv_")]) == 22
    # 15 penalties: plain, 3 single-dimension and 3 two-dimension suffixes
    assert len([i for i in ids if i.startswith("pen_")]) == 15 * 7
    assert "pen_violence__recruitment_or_leaving" in ids
    assert "pen_violence__recruitment_or_duress_or_leaving" not in ids  # that is the plain id
    custom = {**BLOCK_SPEC, "extra_indicators": ["my_indicator"],
              "indicators": {"my_indicator": "pen"}}
    assert ModuleSpec.from_dict(custom).indicators[0].id == "my_indicator"


def test_builtin_synthetic_specs_are_listed() -> None:
    from flestimate.mapping import builtin_specs

    assert {"moldova-2008-synthetic", "georgia-synthetic", "template"} <= set(builtin_specs())
    spec = load_spec("georgia-synthetic")
    assert spec.design == {"weights": "w_person", "strata": "strata", "psu": "ea_code",
                           "nest": True}
    assert spec.merge == {"on": "hhid"}


def test_stata_extended_missing_codes_map_like_any_code() -> None:
    """read_microdata keeps Stata's .a-.z as the strings '.a'...; a spec lists them as codes."""
    data = pd.DataFrame({"q": pd.Series([1.0, 0.0, ".a", ".b", np.nan], dtype=object)})
    spec = {"name": "stata", "reference_period": "2017-2021", "codes": {"yes": [1], "no": [0], "dont_know": [".a"],
                                       "refused": [".b"]},
            "indicators": {"pen_violence": "q"}}
    mapped = ModuleSpec.from_dict(spec).apply(data)
    got = mapped.frame["pen_violence"].tolist()
    assert got[:2] == [1.0, 0.0] and np.isnan(got[2:]).all()
    row = mapped.quality.set_index("item").loc["q"]
    assert (row["n_dont_know"], row["n_refused"], row["n_system_missing"]) == (1, 1, 1)
