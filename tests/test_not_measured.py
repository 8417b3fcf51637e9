"""Not measured is not zero (issue 17, item 3): a class whose rule needs an item the spec does
not map is missing with the reason in every output, in the minimum estimate as in the imputed
one; context values outside the canonical set are a SpecError; every assumption that changes a
number is in the provenance under ``assumptions``.

References: the built-in spec ``moldova-2008-synthetic`` on the shipped file
``data/synthetic/moldova_synthetic.sav`` with one context variable removed (``moved``,
``perpetrator``); the classes the removed variable does not touch must equal the built-in
spec's estimates exactly (metamorphic: forced labour does not read ``moved``); the forms a rule
cannot decide follow from ``rules/ilo2005.yaml``'s case order by hand.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import flestimate as fl
from flestimate._context_values import check_context_values
from flestimate.cli import main
from flestimate.errors import FlestimateWarning, SpecError
from flestimate.mapping import SPEC_DIR
from flestimate.report import estimate_prevalence
from flestimate.report._frame import form_needs
from flestimate.report._reliability import mark_not_measured

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
MOLDOVA = DATA / "moldova_synthetic.sav"
SPEC = "moldova-2008-synthetic"
MOVED = "not measured: rule 'seed2007' needs column moved, which the spec does not map"
PERPETRATOR = ("not measured: rule 'ilo2005' needs column perpetrator, which the spec does "
               "not map")
TRAFFICKING = ("trafficked", "forced_labour_not_trafficked")
FORMS = ("state_imposed", "commercial_sexual_exploitation", "economic_exploitation",
         "mixed_undetermined")


def _spec(drop: str | None = None, **context: Any) -> dict[str, Any]:
    """The built-in spec as a mapping, without context variable ``drop``, with ``context``
    entries replaced."""
    raw: dict[str, Any] = yaml.safe_load((SPEC_DIR / f"{SPEC}.yaml").read_text())
    if drop is not None:
        del raw["context"][drop]
    raw["context"].update(context)
    return raw


def _quiet(*args: Any, **kwargs: Any) -> fl.PrevalenceReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)
        return estimate_prevalence(*args, **kwargs)


def _national(report: fl.PrevalenceReport, table: str = "prevalence",
              measure: str = "share") -> pd.DataFrame:
    t = report.to_frame()
    out: pd.DataFrame = t[(t["table"] == table) & (t["by"] == "national")
                          & (t["measure"] == measure)].set_index("indicator")
    return out


@pytest.fixture(scope="module")
def full() -> fl.PrevalenceReport:
    return _quiet(MOLDOVA, SPEC, missing="minimum", disclosure="none")


@pytest.fixture(scope="module")
def no_moved() -> fl.PrevalenceReport:
    return _quiet(MOLDOVA, _spec("moved"), missing="minimum", disclosure="none")


@pytest.fixture(scope="module")
def no_moved_imputed() -> fl.PrevalenceReport:
    return _quiet(MOLDOVA, _spec("moved"), imputations=3, seed=1, disclosure="none")


# -- the tidy frame ------------------------------------------------------------------------------
@pytest.mark.parametrize("measure", ["share", "number"])
def test_minimum_without_moved_leaves_trafficking_missing_with_the_reason(
        no_moved: fl.PrevalenceReport, measure: str) -> None:
    """The minimum estimate used to print "trafficked 0.0 *": nobody can be trafficked when
    `moved` is not measured. Now the trafficked and not-trafficked cells are missing (estimate,
    SE, CI, minimum), suppressed, with the reason naming the rule and the item, and no p = 0
    flag."""
    nat = _national(no_moved, measure=measure)
    for ind in TRAFFICKING:
        row = nat.loc[ind]
        assert np.isnan(row["estimate"]) and np.isnan(row["se"]) and np.isnan(row["minimum"])
        assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
        assert row["reliability"] == "suppress"
        assert row["reliability_reason"] == MOVED
        assert pd.isna(row["ci_flag"])
        assert pd.isna(row["n_cases"])  # the cases are not counted as 0 either


def test_what_moved_does_not_decide_is_unchanged(full: fl.PrevalenceReport,
                                                 no_moved: fl.PrevalenceReport) -> None:
    """Metamorphic: forced labour, the undetermined, the forms and the forced labour by form do
    not read `moved`, so they equal the built-in spec's estimates exactly (4.02% in forced
    labour, 119 cases, the minimum estimate of the shipped file)."""
    a, b = _national(full), _national(no_moved)
    kept = ["forced_labour", "not_forced_labour", *(f"form_{f}" for f in FORMS)]
    assert np.array_equal(a.loc[kept, "estimate"].to_numpy(), b.loc[kept, "estimate"].to_numpy())
    assert b.loc["forced_labour", "n_cases"] == 119
    assert round(b.loc["forced_labour", "estimate"], 4) == 0.0402
    fa, fb = _national(full, "forced_labour_by_form"), _national(no_moved,
                                                                 "forced_labour_by_form")
    assert np.array_equal(fa["estimate"].to_numpy(), fb["estimate"].to_numpy())
    assert (fb["reliability_reason"] != MOVED).all()


def test_the_bounds_stay_what_the_data_say(full: fl.PrevalenceReport,
                                           no_moved: fl.PrevalenceReport) -> None:
    """The bounds are not suppressed by the not-measured rule: the trafficked lower bound is 0
    (nobody can be shown trafficked) and its upper bound is the share that may be in forced
    labour and trafficked, at least the built-in spec's upper bound."""
    b = _national(no_moved).loc["trafficked"]
    a = _national(full).loc["trafficked"]
    assert b["bound_low"] == 0.0
    assert b["bound_high"] >= a["bound_high"] > 0


def test_trafficked_by_form_is_not_measured(no_moved: fl.PrevalenceReport) -> None:
    t = _national(no_moved, "trafficked_by_form")
    assert list(t.index) == list(FORMS)
    assert (t["reliability_reason"] == MOVED).all() and t["estimate"].isna().all()


def test_imputed_mode_gives_the_same_missing_cells(no_moved: fl.PrevalenceReport,
                                                   no_moved_imputed: fl.PrevalenceReport
                                                   ) -> None:
    """What cannot be imputed is not: the imputed report leaves the same cells missing with
    the same reason, and still estimates forced labour."""
    for measure in ("share", "number"):
        nat = _national(no_moved_imputed, measure=measure)
        assert nat.loc[list(TRAFFICKING), "estimate"].isna().all()
        assert (nat.loc[list(TRAFFICKING), "reliability_reason"] == MOVED).all()
        assert np.isfinite(nat.loc["forced_labour", "estimate"])
    assert no_moved_imputed.provenance["assumptions"]["not_estimated"] == ("trafficked",)
    assert no_moved.provenance["assumptions"]["not_estimated"] == ("trafficked",)


def test_by_domain_cells_are_not_measured_too() -> None:
    rep = _quiet(MOLDOVA, _spec("moved"), by="sex", missing="minimum", disclosure="none")
    t = rep.to_frame()
    rows = t[(t["by"] == "sex") & t["indicator"].isin(TRAFFICKING)]
    assert len(rows) == 8  # 2 sexes x 2 classes x share and number
    assert (rows["reliability_reason"] == MOVED).all() and rows["estimate"].isna().all()


# -- every output --------------------------------------------------------------------------------
def test_text_and_html_show_the_reason_not_a_zero(no_moved: fl.PrevalenceReport) -> None:
    pub = no_moved.publication_table().set_index("indicator")
    row = pub.loc["  trafficked"]
    assert row["%"] == "" and row["number"] == ""
    assert MOVED in row["note"]
    text = repr(no_moved)
    line = next(x for x in text.splitlines() if x.lstrip().startswith("trafficked"))
    assert "0.0" not in line.split(MOVED)[0].replace("2,954", "")
    html = no_moved.to_html()
    assert MOVED.replace("'", "&#x27;") in html or MOVED in html


def test_csv_json_and_excel_carry_the_reason(tmp_path: Path) -> None:
    """The CLI's csv and json, and the Excel workbook: the trafficked share is empty and the
    reason is in its row."""
    spec = tmp_path / "no_moved.yaml"
    spec.write_text(yaml.safe_dump(_spec("moved")))
    base = [str(MOLDOVA), "--spec", str(spec), "--missing", "minimum"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)
        assert main(["estimate", *base, "-o", str(tmp_path / "r.csv")]) == 0
        assert main(["estimate", *base, "-o", str(tmp_path / "r.json")]) == 0
        assert main(["estimate", *base, "-o", str(tmp_path / "r.xlsx")]) == 0
    csv = pd.read_csv(tmp_path / "r.csv")
    row = csv[(csv["table"] == "prevalence") & (csv["by"] == "national")
              & (csv["measure"] == "share") & (csv["indicator"] == "trafficked")].iloc[0]
    assert pd.isna(row["estimate"]) and row["reliability_reason"] == MOVED
    assert MOVED in (tmp_path / "r.json").read_text()
    from openpyxl import load_workbook

    cells = [c.value for ws in load_workbook(tmp_path / "r.xlsx").worksheets
             for r in ws.iter_rows() for c in r]
    assert any(isinstance(v, str) and MOVED in v for v in cells)


# -- warnings ------------------------------------------------------------------------------------
def test_a_warning_names_the_item() -> None:
    with pytest.warns(FlestimateWarning, match=r"\[MISSING_ITEMS\].*rule 'seed2007': column "
                                               r"moved"):
        estimate_prevalence(MOLDOVA, _spec("moved"), missing="minimum", disclosure="none")


def test_forms_without_perpetrator_are_not_measured_and_the_warning_is_at_the_caller() -> None:
    """Without `perpetrator`, no case of ilo2005 before `mixed_undetermined`'s can be decided
    (state_imposed is the first case and reads it), so every form is not measured; the
    warning points at this file's line, not the library's."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rep = estimate_prevalence(MOLDOVA, _spec("perpetrator"), missing="minimum",
                                  disclosure="none")
    form = [w for w in caught if "form of forced labour" in str(w.message)]
    assert len(form) == 1 and Path(form[0].filename) == Path(__file__)
    assert "rule 'ilo2005': column perpetrator" in str(form[0].message)
    nat = _national(rep)
    forms = nat.loc[[f"form_{f}" for f in FORMS]]
    assert forms["estimate"].isna().all() and (forms["reliability_reason"] == PERPETRATOR).all()
    assert np.isfinite(nat.loc["forced_labour", "estimate"])
    assert np.isfinite(nat.loc["trafficked", "estimate"])
    by_form = _national(rep, "forced_labour_by_form")
    assert (by_form["reliability_reason"] == PERPETRATOR).all()
    assert rep.provenance["classification"]["forms_not_measured"] == (  # in case order
        "state_imposed", "commercial_sexual_exploitation", "mixed_undetermined",
        "economic_exploitation")


def test_form_needs_follows_the_case_order() -> None:
    """By hand from rules/ilo2005.yaml: cases state_imposed (perpetrator),
    commercial_sexual_exploitation (perpetrator, sector), mixed_undetermined (sector),
    economic_exploitation (perpetrator, sector), otherwise mixed_undetermined. Without
    `sector`, state_imposed is still decided (first case, perpetrator only); the rest is not.
    With both, nothing is missing."""
    rule = {"name": "ilo2005", "file": "ilo2005.yaml"}
    with pytest.warns(FlestimateWarning, match="column sector"):
        needs, forms = form_needs(rule, ["perpetrator", "age"])
    assert needs == {"ilo2005": ["column sector"]}
    assert forms == ["commercial_sexual_exploitation", "mixed_undetermined",
                     "economic_exploitation"]
    assert form_needs(rule, ["perpetrator", "sector"]) == ({}, [])
    assert form_needs({"name": "mine", "file": "<dict>"}, []) == ({}, [])


def test_mark_not_measured_blanks_values_and_replaces_the_reasons() -> None:
    """A hand-made table of two rows: the marked one loses its value, SE, interval, minimum
    and flags; the bounds and the other row stay."""
    t = pd.DataFrame({"estimate": [0.0, 0.5], "se": [0.0, 0.1], "ci_low": [0.0, 0.3],
                      "ci_high": [0.1, 0.7], "cv": [np.nan, 0.2], "deff": [1.0, 1.1],
                      "n_eff": [10.0, 20.0], "minimum": [0.0, 0.5], "bound_low": [0.0, 0.5],
                      "bound_high": [0.2, 0.5], "reliability": ["flag", "present"],
                      "reliability_reason": ["p = 0", ""], "ci_flag": ["p=0: one-sided", None]})
    out = mark_not_measured(t, np.array(["not measured: x", ""], dtype=object))
    assert out.loc[0, ["estimate", "se", "ci_low", "ci_high", "minimum"]].isna().all()
    assert out.loc[0, "reliability"] == "suppress"
    assert out.loc[0, "reliability_reason"] == "not measured: x"
    assert pd.isna(out.loc[0, "ci_flag"]) and out.loc[0, "bound_high"] == 0.2
    assert out.loc[1].equals(t.loc[1])
    assert mark_not_measured(t, np.array(["", ""], dtype=object)) is t


# -- context values ------------------------------------------------------------------------------
def test_sector_left_in_raw_codes_is_a_spec_error() -> None:
    with pytest.raises(SpecError) as err:
        estimate_prevalence(MOLDOVA, _spec(sector="q3_07"), missing="minimum")
    msg = str(err.value)
    assert "context.sector: column 'q3_07' holds 1, 2, 3, 4, 5, ... (5 more)" in msg
    assert "'commercial_sex', 'commercial_sex_and_other'" in msg and "`values:`" in msg


def test_moved_coded_one_two_is_a_spec_error() -> None:
    """q3_01 is 1 non-migrant, 2 returned, 3 abroad: read raw, code 1 would mean "moved"."""
    with pytest.raises(SpecError, match=r"context\.moved: column 'q3_01' holds 2, 3 .*"
                                        r"1 \(yes\) or 0 \(no\)"):
        estimate_prevalence(MOLDOVA, _spec(moved="q3_01"), missing="minimum")


def test_a_label_outside_a_closed_set_is_a_spec_error() -> None:
    bad = {"column": "q8_13", "values": {1: "private", 2: "private", 3: "government",
                                         98: None}}
    with pytest.raises(SpecError, match=r"context\.perpetrator: column 'q8_13' holds "
                                        r"'government' .*'state', 'private'"):
        estimate_prevalence(MOLDOVA, _spec(perpetrator=bad), missing="minimum")


def test_canonical_and_free_values_pass() -> None:
    idx = pd.RangeIndex(4)
    check_context_values("sector", "s", pd.Series(["construction", "commercial_sex", None,
                                                   "other"], index=idx), "w")
    check_context_values("moved", "m", pd.Series([1.0, 0.0, np.nan, 1.0], index=idx), "w")
    check_context_values("moved", "m", pd.Series([True, False, None, True], index=idx), "w")
    check_context_values("region", "r", pd.Series([1, 2, 3, 4], index=idx), "w")
    with pytest.raises(SpecError, match=r"w: column 'rel' holds 1, 2 \(rows \[0, 1\]\)"):
        check_context_values("relationship", "rel", pd.Series([1, 2, None, "head"], index=idx),
                             "w")


# -- assumptions ---------------------------------------------------------------------------------
def test_assumptions_are_recorded_under_flat_keys(no_moved: fl.PrevalenceReport,
                                                  no_moved_imputed: fl.PrevalenceReport
                                                  ) -> None:
    a = fl.results.thaw(no_moved.provenance["assumptions"])
    assert a == {
        "forced_labour_rules": "icls2018", "child_rules": "child2018",
        "trafficking_rules": "seed2007", "form_rules": "ilo2005",
        "plain_penalties": "unknown_dimension", "dimension_unknown": [],
        "not_measured": ["rule 'seed2007': column moved"], "not_estimated": ["trafficked"],
        "missing": "minimum", "imputations": None, "imputation_delta": None,
        "disclosure": "none", "disclosure_threshold": None, "reliability": "nchs2017",
        "ci": "korn-graubard", "level": 0.95, "variance": "taylor", "lonely_psu": "adjust",
        "calibration": None}
    json.dumps(a)  # plain values
    b = no_moved_imputed.provenance["assumptions"]
    assert (b["missing"], b["imputations"], b["imputation_delta"]) == ("impute", 3, 0.0)


def test_assumptions_follow_the_options() -> None:
    """The options change the keys; the built-in spec measures everything seed2007 needs, but
    the shipped file has no item of two Delphi dimensions, so delphi2009 cannot decide
    trafficking (missing, with the reason) and says so."""
    rep = _quiet(MOLDOVA, SPEC, missing="minimum", plain_penalties="every_dimension")
    a = rep.provenance["assumptions"]
    assert a["plain_penalties"] == "every_dimension"
    assert (a["disclosure"], a["disclosure_threshold"]) == ("threshold", 3)
    assert a["not_measured"] == () and a["not_estimated"] == ()
    rep = _quiet(MOLDOVA, SPEC, missing="minimum", trafficking="delphi2009")
    a = rep.provenance["assumptions"]
    assert a["trafficking_rules"] == "delphi2009"
    assert a["not_measured"] == (
        "rule 'delphi2009': Delphi dimension abuse_of_vulnerability_at_destination, Delphi "
        "dimension abuse_of_vulnerability_at_recruitment",)
    assert a["not_estimated"] == ("trafficked",)
    assert np.isnan(_national(rep).loc["trafficked", "estimate"])


def test_batch_manifest_sheet_lists_plain_values_as_text() -> None:
    """The batch workbook's manifest sheet: a list of plain values (an assumption such as
    ``not_measured``) reads as text joined by "; ", an empty one as "none"; other structures
    stay JSON."""
    from flestimate.batch._outputs import _cell

    assert _cell(["rule 'seed2007': column moved", "rule 'x': y"]) == (
        "rule 'seed2007': column moved; rule 'x': y")
    assert _cell(()) == "none"
    assert _cell([{"a": 1}]) == '[{"a": 1}]'


def test_the_published_note_states_the_reason_once(no_moved: fl.PrevalenceReport) -> None:
    """The publication table says why once for the share and the number, and shows no case
    count where the data cannot count the cases."""
    pub = no_moved.publication_table("prevalence", "national")
    row = pub[pub["indicator"].str.strip() == "trafficked"].iloc[0]
    assert row["note"] == f"share and number suppressed: {MOVED}"
    assert row["cases"] == ""
