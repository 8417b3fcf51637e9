"""The imputed headline (``missing="impute"``, the default): its invariants on the shipped files,
the unit non-response adjustment, bad input, domains without observed cases, classes the data
cannot give, and the MNAR sensitivity analysis.

References: the minimum estimate of the same file (with no missing answer the imputed estimate
is the classified one exactly; checked by test_report.py against hand sums); hand-weighted sums
of the original weights (non-response keeps the universe's total); the generator's truth for the
bias and coverage study (``benchmarks/missing.py``, ``tests/test_missing_study.py``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import flestimate as fl
from flestimate.errors import ArgumentError
from flestimate.report import estimate_prevalence

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
MOLDOVA = DATA / "moldova_synthetic.sav"
SPEC = "moldova-2008-synthetic"
pytestmark = pytest.mark.filterwarnings("ignore::flestimate.FlestimateWarning")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return fl.read_microdata(MOLDOVA).frame


@pytest.fixture(scope="module")
def report() -> fl.PrevalenceReport:
    return estimate_prevalence(MOLDOVA, SPEC, by="sex", disclosure="none")


def _rows(t: pd.DataFrame, table: str = "prevalence", by: str = "national") -> pd.DataFrame:
    out: pd.DataFrame = t[(t["table"] == table) & (t["by"] == by)].reset_index(drop=True)
    return out


def test_nothing_missing_gives_the_classified_estimate_exactly(frame: pd.DataFrame) -> None:
    """Every item answered (don't know, refused and unanswered items set to no, the
    perpetrator and sector known): no respondent is undetermined, so every completion is the
    classification and Rubin's rules return the complete-data result: the imputed estimate,
    SE and df equal the minimum's exactly, fmi 0."""
    full = frame.copy()
    items = [c for c in full.columns if c[:2] in ("q5", "q6", "q7") or c.startswith("q8_0")
             or c in ("q8_10", "q8_11", "q8_12")]
    for c in items:
        full[c] = full[c].where(full[c].isin([1, 2]), 2)
    full["q8_13"] = full["q8_13"].where(full["q8_13"].isin([1, 2, 3]), 1)
    full["q3_07"] = full["q3_07"].where(full["q3_07"] != 98, 1)
    imp = estimate_prevalence(full, SPEC, by="sex", imputations=3,
                              disclosure="none").to_frame()
    mn = estimate_prevalence(full, SPEC, by="sex", missing="minimum",
                             disclosure="none").to_frame()
    assert (mn.loc[mn["indicator"] == "undetermined", "estimate"] == 0).all()
    for col in ("estimate", "se", "ci_low", "ci_high", "df", "n"):
        np.testing.assert_array_equal(imp[col].to_numpy(), mn[col].to_numpy(), err_msg=col)
    shares = imp[(imp["measure"] == "share") & (imp["indicator"] != "undetermined")]
    assert (shares["fmi"] == 0).all() and (shares["imputations"] == 3).all()


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    a = estimate_prevalence(MOLDOVA, SPEC, imputations=4, seed=11).to_frame()
    b = estimate_prevalence(MOLDOVA, SPEC, imputations=4, seed=11).to_frame()
    c = estimate_prevalence(MOLDOVA, SPEC, imputations=4, seed=12).to_frame()
    pd.testing.assert_frame_equal(a, b)
    fl_a = _rows(a).query("measure == 'share' and indicator == 'forced_labour'")
    fl_c = _rows(c).query("measure == 'share' and indicator == 'forced_labour'")
    assert fl_a["estimate"].iloc[0] != fl_c["estimate"].iloc[0]
    assert fl_a["minimum"].iloc[0] == fl_c["minimum"].iloc[0]  # the minimum has no draws


def test_imputed_table_columns_and_invariants(report: fl.PrevalenceReport) -> None:
    """The imputed share lies within the bounds and at or above the minimum for the classes
    in forced labour; the undetermined row keeps the classified share (what was imputed);
    completions leave nobody undetermined; fmi in (0, 1); Barnard-Rubin df at most the
    design df."""
    t = report.to_frame()
    nat = _rows(t).query("measure == 'share'").set_index("indicator")
    for ind in ("forced_labour", "trafficked", "forced_labour_not_trafficked"):
        r = nat.loc[ind]
        assert r["bound_low"] <= r["minimum"] <= r["estimate"] <= r["bound_high"]
        assert 0 < r["fmi"] < 1 and r["imputations"] == 20
    und = nat.loc["undetermined"]
    assert und["imputations"] == 0 and und["estimate"] == und["minimum"]
    assert nat.loc["forced_labour", "df"] <= nat.loc["undetermined", "df"]
    prov = report.provenance["missing"]
    assert prov["method"] == "multiple imputation" and prov["imputations"] == 20
    assert prov["model"]["model"] == "latent class" and prov["model"]["classes"] == 2
    # the sector and the perpetrator follow sex within a class (men and women, two groups)
    assert prov["model"]["categorical_covariates"] == ("sex",)
    assert prov["model"]["categorical_groups"] == 2
    assert prov["not_estimable"] == ()
    # the trafficked by form: the imputed shares add to 1 in every completion
    forms = _rows(t, "trafficked_by_form").query("measure == 'share'")
    assert forms["estimate"].sum() == pytest.approx(1.0, abs=1e-12)


def test_unit_nonresponse_moves_weight_within_classes(frame: pd.DataFrame,
                                                      report: fl.PrevalenceReport) -> None:
    """Respondents who answered nothing are not imputed: their weight goes to the respondents
    of their class, so the imputed numbers of the universe's classes (in forced labour + not)
    add up to the universe's weighted total; the number of unit non-respondents is the number
    of universe rows without one answered item."""
    mapped = fl.load_spec(SPEC).apply(fl.read_microdata(MOLDOVA))
    ind = [c for c in mapped.frame.columns if c.startswith(("inv_", "pen_"))]
    nonresp = int(mapped.frame[ind].isna().all(axis=1).sum())
    assert report.provenance["missing"]["nonresponse"]["unit_nonrespondents"] == nonresp > 0
    t = _rows(report.to_frame()).query("measure == 'number'").set_index("indicator")
    universe_total = mapped.frame["w_pers"].sum()
    assert t.loc["forced_labour", "estimate"] + t.loc["not_forced_labour", "estimate"] == \
        pytest.approx(universe_total, rel=1e-12)
    shares = _rows(report.to_frame()).query("measure == 'share'").set_index("indicator")
    assert shares.loc["forced_labour", "n"] == len(mapped.frame) - nonresp


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"missing": "drop"}, r"`missing` of `estimate_prevalence\(\)` must be one of impute, "
                           r"minimum; got 'drop'"),
     ({"imputations": 1}, r"`imputations` of `estimate_prevalence\(\)` must be an integer >= 2"),
     ({"imputations": "20"}, r"`imputations` of `estimate_prevalence\(\)` must be an integer"),
     ({"seed": 1.5}, r"`seed` of `estimate_prevalence\(\)` must be a non-negative integer"),
     ({"seed": "x"}, r"`seed` of `estimate_prevalence\(\)` must be a non-negative integer"),
     ({"imputation_classes": 0}, r"`imputation_classes` of `estimate_prevalence\(\)` must be "
                                 r"a positive integer")],
)
def test_bad_imputation_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        estimate_prevalence(MOLDOVA, SPEC, **kwargs)


def test_a_domain_whose_every_case_is_imputed_is_suppressed(frame: pd.DataFrame) -> None:
    """A domain holding only respondents whose forced labour the data leave open would get its
    estimate from the other domains: it is suppressed, with the reason."""
    mapped = fl.load_spec(SPEC).apply(fl.read_microdata(MOLDOVA))
    cls = fl.classify(mapped).to_frame()
    open_rows = cls.index[(cls["forced_labour_lower"] != cls["forced_labour_upper"])]
    grp = pd.Series("rest", index=frame.index, dtype=object)
    grp.loc[open_rows[:40]] = "open"
    rep = estimate_prevalence(frame.assign(grp=grp), SPEC, by="grp", imputations=3)
    t = rep.to_frame()
    cell = t[(t["by"] == "grp") & (t["domain"] == "open") & (t["table"] == "prevalence")
             & (t["indicator"] == "forced_labour")]
    assert (cell["reliability"] == "suppress").all()
    assert cell["reliability_reason"].str.startswith("every case in the domain imputed").all()
    rest = t[(t["by"] == "grp") & (t["domain"] == "rest") & (t["indicator"] == "forced_labour")]
    assert not rest["reliability_reason"].str.contains("every case").any()


def test_a_class_the_data_cannot_give_is_not_estimable(frame: pd.DataFrame) -> None:
    """Without `moved` in the spec, trafficking stays undetermined in every completion
    (nothing to impute it from): the trafficked rows have no imputed estimate and say why;
    forced labour is still estimated."""
    import yaml

    from flestimate.mapping import SPEC_DIR

    raw = yaml.safe_load((SPEC_DIR / f"{SPEC}.yaml").read_text())
    del raw["context"]["moved"]
    rep = estimate_prevalence(frame, raw, imputations=3)
    nat = _rows(rep.to_frame()).query("measure == 'share'").set_index("indicator")
    assert np.isnan(nat.loc["trafficked", "estimate"])
    assert nat.loc["trafficked", "reliability"] == "suppress"
    assert nat.loc["trafficked", "reliability_reason"] == (
        "not measured: rule 'seed2007' needs column moved, which the spec does not map")
    assert np.isfinite(nat.loc["forced_labour", "estimate"])
    assert "trafficked" in rep.provenance["missing"]["not_estimable"]


def test_displays_state_the_method(report: fl.PrevalenceReport) -> None:
    text = repr(report)
    assert "missing answers: multiple imputation, M = 20, Rubin's rules" in text
    # the generator's labour sectors share their item probabilities: BIC pools them
    # (tests/test_impute.py tests the choice itself, by hand and on simulated sectors)
    choice = report.provenance["missing"]["model"]["profile_choice"]
    assert choice["chosen"] == "pooled" and choice["pooled"]["bic"] < choice["separate"]["bic"]
    assert "latent class model, 2 classes, one item profile for the labour sectors (BIC)" in text
    pub = report.publication_table()
    assert list(pub.columns[:5]) == ["indicator", "%", "% CI", "% minimum", "% bounds"]
    # the minimum column follows the decimals of the % column (two: a published form share
    # is below 1%); 4.02% is the minimum estimate of tests/test_report.py's Moldova file
    minimum_cell = pub.loc[pub["indicator"] == "In forced labour", "% minimum"].iloc[0]
    assert minimum_cell in ("4.0", "4.02")
    assert len(minimum_cell.split(".")[1]) == len(pub["%"].iloc[0].split(".")[1])
    html = report.to_html()
    assert "<th>Missing answers</th><td>multiple imputation, M = 20" in html
    minimum = estimate_prevalence(MOLDOVA, SPEC, missing="minimum")
    assert "missing answers: minimum estimate (undetermined counted as not)" in repr(minimum)
    assert "% minimum" not in minimum.publication_table().columns


# -- MNAR sensitivity ------------------------------------------------------------------------------
def test_sensitivity_table_and_tipping_points(report: fl.PrevalenceReport) -> None:
    """delta = 0 reproduces the report; larger deltas impute more yes for the sensitive items,
    so the shares rise (weakly: the same seed draws every delta); the minimum and bounds do not
    move; a tipping point between two deltas is found by linear interpolation."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sens = report.sensitivity(delta=[-2, 0, 2, 4])
    t = sens.to_frame()
    nat = t[(t["by"] == "national")].set_index(["indicator", "delta"])
    base = _rows(report.to_frame()).query("measure == 'share'").set_index("indicator")
    assert nat.loc[("forced_labour", 0.0), "estimate"] == base.loc["forced_labour", "estimate"]
    fl_est = nat.loc["forced_labour", "estimate"]
    assert fl_est.loc[4.0] > fl_est.loc[-2.0]
    assert nat.loc["forced_labour", "minimum"].nunique() == 1
    assert set(t["by"]) == {"national", "sex"}
    mid = float((fl_est.loc[0.0] + fl_est.loc[4.0]) / 2)
    tip = sens.tipping_points(mid, indicator="forced_labour").set_index(["by", "domain"])
    d = tip.loc[("national", "all"), "delta_estimate"]
    assert 0 < d < 4
    x = [0.0, 2.0, 4.0]
    assert mid == pytest.approx(np.interp(d, x, fl_est.loc[x].to_numpy()), rel=1e-12)
    assert np.isnan(sens.tipping_points(0.5, "forced_labour")["delta_estimate"]).all()
    assert "MNAR sensitivity" in repr(sens)


def test_sensitivity_needs_an_imputed_report() -> None:
    minimum = estimate_prevalence(MOLDOVA, SPEC, missing="minimum")
    with pytest.raises(ArgumentError, match=r"needs a report made with missing='impute'"):
        minimum.sensitivity()


FILTER_SPEC = {
    "name": "filter-evidence",
    "reference_period": "last 10 years",
    "codes": {"yes": [1], "no": [2], "dont_know": [8], "refused": [9], "not_applicable": [99]},
    "indicators": {
        name: {"items": [item], "asked_if": {"column": "filter", "op": "==", "value": 1},
               "no_if": {"column": "filter", "op": "==", "value": 2}}
        for name, item in (("pen_violence", "a"), ("pen_threats_family", "b"))},
}


def test_filter_answers_are_evidence_only_where_the_items_do_not_repeat_them() -> None:
    """Hand-worked: a filter "yes" with a yes in its block, and a filter "no" (block set to no),
    say nothing the items do not; a "yes" whose block has no observed yes says at least one
    penalty happened: kept. Read twice, the filter would split the latent classes on itself."""
    from flestimate.mapping import ModuleSpec
    from flestimate.report._imputed import _filter_evidence

    data = pd.DataFrame({"filter": [1, 2, 1, 1, 8, 1],
                         "a": [1, 99, 2, 8, 99, 8],
                         "b": [2, 99, 2, 2, 99, 8]})
    mapped = ModuleSpec.from_dict(FILTER_SPEC).apply(data)
    assert mapped.filters is not None
    key = mapped.filters.columns[0]
    assert mapped.filters[key].tolist()[:4] == [1.0, 0.0, 1.0, 1.0]
    got = _filter_evidence(mapped)
    assert got is not None
    expected = [np.nan, np.nan, 1.0, 1.0, np.nan, 1.0]
    np.testing.assert_array_equal(got[key].to_numpy(), expected)


def test_repeated_household_completions_are_classified_once(report: fl.PrevalenceReport,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """Reference: classifying every stacked completion. Classifying only the first of the
    household completions that repeat one another gives the same classes in every completion,
    with several times fewer rows."""
    from flestimate.report import _imputed

    imp = report._prepared.imputed
    redraw = imp.redraw
    comp = imp.model.complete(redraw.rows, imp.imputations, redraw.seed)
    hh = redraw.mapped[redraw.household].to_numpy()[redraw.rows]
    sel, rep = _imputed._distinct_households(comp, hh, imp.imputations)
    stacked = imp.imputations * redraw.rows.size
    assert rep.size == stacked and sel.size < stacked / 3
    fast = redraw.outcomes(imp.model, imp.imputations, 0.0)

    def every(comp: object, household: object, imputations: int) -> tuple:
        return np.arange(stacked), np.arange(stacked)

    monkeypatch.setattr(_imputed, "_distinct_households", every)
    slow = redraw.outcomes(imp.model, imp.imputations, 0.0)
    for name in fast[0]:
        np.testing.assert_array_equal(fast[0][name], slow[0][name])
    for name in fast[1]:
        np.testing.assert_array_equal(fast[1][name], slow[1][name])
    assert fast[2] == slow[2]


def test_redrawing_at_delta_zero_gives_the_same_completions(report: fl.PrevalenceReport
                                                            ) -> None:
    """The sensitivity analysis redraws from the same seed: at delta = 0 it must give the
    headline's completions exactly (a seed spawned twice would not)."""
    imp = report._prepared.imputed
    again = imp.with_delta(0.0)
    for name in imp.points:
        np.testing.assert_array_equal(again.points[name], imp.points[name])
    for name in imp.forms:
        np.testing.assert_array_equal(again.forms[name], imp.forms[name])


def test_no_published_positive_share_of_zero_cases() -> None:
    """A cell that some completion gives a case counts at least one case (the mean over the
    completions is not rounded down to 0), so no imputed share above 0 is published beside
    0 cases: disclosure control sees it as the small cell it is (by sex and region, where the
    rare forms have such cells)."""
    r = fl.estimate_prevalence(MOLDOVA, "moldova-2008-synthetic", by=["sex", "region"])
    t = r.to_frame()
    shown = t["estimate"].notna() & (t["measure"] == "share")
    assert not (shown & (t["estimate"] > 0) & (t["n_cases"] == 0)).any()
    hidden = t["disclosure"] == "primary"
    assert hidden.any() and t.loc[hidden, "estimate"].isna().all()
