"""Reliability flags (``flestimate.report._reliability``) on hand-built tables.

References: Parker JD et al. (2017), NCHS data presentation standards for proportions, Vital
Health Stat 2(175), steps 1-6 as coded in CDC's R surveytable ``.lpe_percents``; Parker JD et al.
(2023), Series 2 No. 200, Table A (counts, ``.lpe_counts``); the 30/30 rule
(``.lpe_counts_3030``). Every expected value below is worked by hand in the row's comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from flestimate.errors import ArgumentError, ArgumentTypeError, SpecError
from flestimate.report._reliability import (
    RELIABILITY_RULES,
    ReliabilityRules,
    assess_reliability,
    load_reliability,
)

NAN = float("nan")
COLS = ["measure", "estimate", "se", "kg_low", "kg_high", "n", "n_cases", "n_eff", "df"]


def _table(rows: Mapping[Any, tuple[object, ...]]) -> pd.DataFrame:
    table: pd.DataFrame = pd.DataFrame.from_dict(dict(rows), orient="index", columns=COLS)
    return table


# label: measure, p, se, L, U, n, n_cases, n_eff, df  -> expected (status, reason)
NCHS_SHARES = {
    # step 1-2: n_eff = 0.2*0.8/0.08^2 = 25 < 30
    "neff_low": (("share", 0.2, 0.08, 0.1, 0.35, 100, 20, NAN, 50),
                 ("suppress", "n_eff 25.0 < 30")),
    # the n_eff column is used when given: 12.4 < 30 (p(1-p)/se^2 would be 100)
    "neff_given": (("share", 0.5, 0.05, 0.4, 0.6, 200, 100, 12.4, 50),
                   ("suppress", "n_eff 12.4 < 30")),
    # step 1: n_cases == 0 -> n_eff = n = 200, width 0 -> present (step 3); step 6: p = 0
    "p0": (("share", 0.0, 0.0, NAN, NAN, 200, 0, NAN, 50), ("flag", "p = 0")),
    # step 1: n_cases == n -> n_eff = 35 (p(1-p)/se^2 = 7.84 would suppress); p = 1 review
    "cases_eq_n": (("share", 0.98, 0.05, 0.9, 1.0, 35, 35, NAN, 50), ("flag", "p = 1")),
    # step 1: n_eff = 0.25/0.02^2 = 625 capped at n = 20 < 30
    "cap": (("share", 0.5, 0.02, 0.45, 0.55, 20, 10, NAN, 50), ("suppress", "n_eff 20.0 < 30")),
    # step 4: n_eff 39.06 >= 30, width 0.66 - 0.33 = 0.33 >= 0.30
    "wide": (("share", 0.5, 0.08, 0.33, 0.66, 100, 50, NAN, 50),
             ("suppress", "CI width 0.33 >= 0.30")),
    # step 5: n_eff 56.25, width 0.14, relative 0.14/0.1 = 140% > 130%
    "relwide": (("share", 0.1, 0.04, 0.03, 0.17, 100, 10, NAN, 50),
                ("suppress", "relative CI width 140% > 130%")),
    # step 6: relative 0.14/0.9 = 16%, complement 0.14/0.1 = 140% > 130% -> footnote
    "complement": (("share", 0.9, 0.04, 0.83, 0.97, 100, 90, NAN, 50),
                   ("flag", "complement relative CI width 140% > 130%")),
    # step 6: n_eff 96, width 0.19, relative 47.5%, complement 31.7%, df 6 < 8
    "df": (("share", 0.4, 0.05, 0.31, 0.5, 200, 80, NAN, 6), ("flag", "df 6 < 8")),
    # step 6: complement 0.14/0.08 = 175% and df 5: both reasons
    "two_flags": (("share", 0.92, 0.02, 0.84, 0.98, 300, 276, NAN, 5),
                  ("flag", "complement relative CI width 175% > 130%; df 5 < 8")),
    # step 5 else-branch: width 0.115, relative 38%, complement 16%, df 50 -> present
    "present": (("share", 0.3, 0.03, 0.245, 0.36, 300, 90, NAN, 50), ("present", "")),
    # step 3: width 0.022 <= 0.05 present; the complement (220%) is not checked there
    "narrow": (("share", 0.99, 0.004, 0.975, 0.997, 1000, 990, NAN, 50), ("present", "")),
    "empty": (("share", NAN, NAN, NAN, NAN, 0, 0, NAN, 50), ("suppress", "no estimate")),
}
NCHS_COUNTS = {
    # Table A: 8 sample cases < 10
    "few": (("number", 5000, 1500, 2000, 9000, 500, 8, NAN, 50), ("suppress", "n 8 < 10")),
    # Table A: (2000 - 300)/1000 = 170% > 160%
    "relwide": (("number", 1000, 400, 300, 2000, 500, 40, NAN, 50),
                ("suppress", "relative CI width 170% > 160%")),
    # presented (130%), df 5 < 8
    "df": (("number", 1000, 300, 500, 1800, 500, 40, NAN, 5), ("flag", "df 5 < 8")),
    "present": (("number", 1000, 150, 700, 1400, 500, 40, NAN, 30), ("present", "")),
}


def _check(cases: Mapping[str, tuple[tuple[object, ...], tuple[str, str]]], rules: Any) -> None:
    table = _table({k: v[0] for k, v in cases.items()})
    out = assess_reliability(table, rules)
    expected = pd.DataFrame([v[1] for v in cases.values()], index=list(cases),
                            columns=["reliability", "reliability_reason"])
    pd.testing.assert_frame_equal(out, expected)


def test_nchs2017_proportions_every_branch() -> None:
    """Parker et al. 2017 steps 1-6 (surveytable ``.lpe_percents``), hand-worked per row."""
    _check(NCHS_SHARES, "nchs2017")


def test_nchs2017_counts() -> None:
    """Parker et al. 2023 Table A: n >= 10 and relative width <= 160%; df < 8 flagged."""
    _check(NCHS_COUNTS, "nchs2017")


def test_mixed_table_keeps_index_and_order() -> None:
    """Shares and counts interleaved under a non-default index give the per-measure results."""
    cases = {"a": NCHS_COUNTS["few"], "b": NCHS_SHARES["complement"],
             "c": NCHS_COUNTS["present"], "d": NCHS_SHARES["neff_low"]}
    _check(cases, load_reliability("nchs2017"))


def test_rse30() -> None:
    """30/30 rule (surveytable ``.lpe_counts_3030``): n < 30 suppress; se/estimate >= 30% flag."""
    _check({
        "small": (("share", 0.5, 0.05, 0.4, 0.6, 25, 12, NAN, 50), ("suppress", "n 25 < 30")),
        "rse": (("share", 0.1, 0.04, 0.03, 0.17, 100, 10, NAN, 50), ("flag", "RSE 40% >= 30%")),
        "ok": (("share", 0.1, 0.02, 0.06, 0.14, 100, 10, NAN, 2), ("present", "")),
        "few_cases": (("number", 900, 100, 700, 1100, 500, 20, NAN, 50),
                      ("suppress", "n 20 < 30")),
        "count_rse": (("number", 1000, 350, 300, 1700, 500, 40, NAN, 50),
                      ("flag", "RSE 35% >= 30%")),
    }, "rse30")


def test_none_presents_everything_but_empty_domains() -> None:
    """``none`` has no thresholds; rows nchs2017 suppresses are presented (hand-worked)."""
    cases = {k: (v[0], ("present", "")) for k, v in NCHS_SHARES.items() if k != "empty"}
    cases["empty"] = NCHS_SHARES["empty"]
    cases["few"] = (NCHS_COUNTS["few"][0], ("present", ""))
    _check(cases, "none")
    rules = load_reliability("none")
    assert (rules.proportions, rules.counts) == ({}, {})


def test_custom_dict_rules() -> None:
    """Hand-worked: n = 20 fails both gates (n_eff capped at 20); RSE 0.02/0.5 = 4%."""
    rules = {"name": "nso", "proportions": {"min_n": 50, "min_n_eff": 30,
                                            "suppress_rse_at_least": 0.5},
             "counts": {"min_n_eff": 15, "suppress_rse_at_least": 0.5}}
    _check({
        "both": (NCHS_SHARES["cap"][0], ("suppress", "n 20 < 50; n_eff 20.0 < 30")),
        "ok": (("share", 0.5, 0.02, 0.45, 0.55, 100, 50, NAN, 50), ("present", "")),
        "neff": (("number", 1000, 100, 800, 1200, 100, 40, 12, 50),
                 ("suppress", "n_eff 12.0 < 15")),
        "rse": (("number", 1000, 600, 0, 2200, 100, 40, 20, 50), ("suppress", "RSE 60% >= 50%")),
    }, rules)
    loaded = load_reliability(rules)
    assert loaded.source == "<dict>" and loaded.proportions["min_n"] == 50.0


def test_builtins_load() -> None:
    """Every built-in name loads from its data file with the NCHS thresholds of Parker 2017."""
    assert RELIABILITY_RULES == ("nchs2017", "rse30", "none")
    for name in RELIABILITY_RULES:
        rules = load_reliability(name)
        assert (rules.name, rules.source) == (name, f"builtin:{name}")
    nchs = load_reliability()
    assert dict(nchs.proportions) == {
        "min_n_eff": 30.0, "present_if_width_at_most": 0.05, "suppress_if_width_at_least": 0.30,
        "max_relative_width": 1.30, "flag_complement_relative_width": 1.30,
        "flag_df_below": 8.0, "flag_extreme": True}
    assert dict(nchs.counts) == {"min_n": 10.0, "max_relative_width": 1.60, "flag_df_below": 8.0}
    assert load_reliability(nchs) is nchs


def test_yaml_round_trip(tmp_path: Path) -> None:
    """to_dict -> YAML file -> load_reliability gives the same rules and the same flags."""
    nchs = load_reliability("nchs2017")
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(nchs.to_dict()), encoding="utf-8")
    again = load_reliability(path)
    assert again.to_dict() == nchs.to_dict() and again.source == str(path)
    table = _table({k: v[0] for k, v in NCHS_SHARES.items()})
    pd.testing.assert_frame_equal(assess_reliability(table, str(path)),
                                  assess_reliability(table, "nchs2017"))


@pytest.mark.parametrize(("raw", "match"), [
    ({"name": "x", "proportions": {"min_neff": 30}},
     r"<dict>: proportions\.min_neff: unknown key.*did you mean 'min_n_eff'"),
    ({"name": "x", "counts": {"flag_extreme": True}}, r"counts\.flag_extreme: unknown key"),
    ({"name": "x", "proprtions": {}}, r"<dict>: proprtions: unknown key.*'proportions'"),
    ({"name": "x", "proportions": {"min_n": "30"}}, r"proportions\.min_n: must be a non-neg"),
    ({"name": "x", "counts": {"max_relative_width": -1}}, r"counts\.max_relative_width"),
    ({"name": "x", "proportions": {"flag_df_below": True}}, r"proportions\.flag_df_below"),
    ({"name": "x", "proportions": {"flag_extreme": 1}}, r"flag_extreme: must be true or false"),
    ({"name": "x", "proportions": [30]}, r"proportions: must be a mapping"),
    ({"description": "no name"}, r"name: a non-empty string is required"),
    ({"name": "x", "reference": 3}, r"reference: must be a string"),
    (["name"], r"must be a mapping with a `name`"),
])
def test_invalid_rules_name_the_key(raw: object, match: str) -> None:
    """Each invalid entry raises SpecError naming the source and the key path."""
    with pytest.raises(SpecError, match=match):
        ReliabilityRules.from_dict(raw)


def test_invalid_files(tmp_path: Path) -> None:
    """A file's path is the source in messages; bad YAML and unknown names are SpecErrors."""
    bad = tmp_path / "nchs.yaml"
    bad.write_text("name: nchs\nproportions:\n  min_neff: 30\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"nchs\.yaml: proportions\.min_neff: unknown key"):
        load_reliability(bad)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"broken\.yaml: invalid YAML"):
        load_reliability(broken)
    with pytest.raises(SpecError, match=r"'nchs2071'.*did you mean 'nchs2017'"):
        load_reliability("nchs2071")
    with pytest.raises(ArgumentTypeError, match="`rules` of `load_reliability"):
        load_reliability(30)  # type: ignore[arg-type]


def test_bad_tables() -> None:
    """Missing columns and unknown measures raise ArgumentError naming them."""
    table = _table({"a": NCHS_SHARES["present"][0]})
    with pytest.raises(ArgumentError, match="no column 'kg_low'"):
        assess_reliability(table.drop(columns="kg_low"))
    with pytest.raises(ArgumentError, match="`measure`.*'percent'"):
        assess_reliability(table.assign(measure="percent"))
    with pytest.raises(ArgumentError, match="column `df`"):
        assess_reliability(table.assign(df="many"))
    with pytest.raises(ArgumentTypeError):
        assess_reliability(table.to_numpy())  # type: ignore[arg-type]
    empty = assess_reliability(table.iloc[:0])
    assert list(empty.columns) == ["reliability", "reliability_reason"] and len(empty) == 0


_ROW = st.tuples(
    st.sampled_from(["share", "number"]),
    st.floats(0, 1), st.floats(0, 0.3), st.floats(0, 0.5), st.floats(0, 0.6),
    st.integers(1, 400), st.integers(0, 400), st.one_of(st.just(NAN), st.floats(0, 500)),
    st.floats(1, 60),
)


@given(st.lists(_ROW, min_size=1, max_size=30), st.sampled_from(RELIABILITY_RULES))
def test_status_and_reason_agree(rows: list[tuple[object, ...]], name: str) -> None:
    """Invariant: status is one of three; the reason is empty exactly when presented."""
    table = _table({i: r for i, r in enumerate(rows)})
    table["n_cases"] = np.minimum(table["n_cases"], table["n"])
    table["kg_high"] = table["kg_low"] + table["kg_high"]
    out = assess_reliability(table, name)
    assert out["reliability"].isin(["present", "flag", "suppress"]).all()
    assert ((out["reliability_reason"] == "") == (out["reliability"] == "present")).all()


@given(st.lists(st.tuples(st.floats(0.01, 0.99), st.floats(0, 200), st.floats(0, 100)),
                min_size=1, max_size=30))
def test_more_n_eff_never_suppresses_more(rows: list[tuple[float, float, float]]) -> None:
    """Monotonicity (step 2 alone): raising n_eff never turns present into suppress."""
    rules = {"name": "gate", "proportions": {"min_n_eff": 30}, "counts": {"min_n_eff": 30}}
    base = pd.DataFrame({"measure": ["share", "number"] * len(rows)})
    base["estimate"] = np.repeat([r[0] for r in rows], 2)
    base["n_eff"] = np.repeat([r[1] for r in rows], 2)
    base[["se", "kg_low", "kg_high", "df"]] = [0.01, 0.0, 1.0, 10.0]
    base["n"], base["n_cases"] = 400, 100
    more = base.assign(n_eff=base["n_eff"] + np.repeat([r[2] for r in rows], 2))
    before = assess_reliability(base, rules)["reliability"]
    after = assess_reliability(more, rules)["reliability"]
    assert not ((before == "present") & (after == "suppress")).any()
    assert ((base["n_eff"] >= 30) == (before == "present")).all()
