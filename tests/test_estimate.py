"""Estimators on a design small enough to work on paper, plus argument handling.

The hand-worked design (``tests/conftest.py::small_design_frame``): two strata, two PSUs each,
two persons per PSU::

    stratum psu  w   y dom fpc
       1     1  10   1  a   4
       1     1  10   0  b   4
       1     2  10   1  a   4
       1     2  10   1  b   4
       2     3  20   0  b  10
       2     3  20   0  a  10
       2     4  20   1  a  10
       2     4  20   0  b  10

Whole sample: Y = 50, N = 120, mean R = 5/12. PSU totals of w*y: 10, 20 | 0, 20.
Total: V = 2/1 * (5^2 + 5^2) + 2/1 * (10^2 + 10^2) = 100 + 400 = 500.
Mean: z-totals (t_i - R x_i)/N = (10 - 25/3, 20 - 25/3 | -50/3, 20 - 50/3)/120, so
V = (100 + 400)/120^2 = 500/14400. df = 4 PSUs - 2 strata = 2.
Domain a: Y_a = 40, X_a = 60, R_a = 2/3; z-totals (10/3, 10/3 | -40/3, 20/3)/60:
V = 0 + 2 * (10^2 + 10^2)/60^2 = 1/9, se = 1/3. Domain b: Y_b = 10, X_b = 60, R_b = 1/6;
z-totals (-5/3, 25/3 | -10/3, -10/3)/60: V = 2 * (5^2 + 5^2)/3600 = 1/36, se = 1/6.
With FPCs N_1 = 4, N_2 = 10: f = (1/2, 4/5), V(mean) = (0.5 * 100 + 0.8 * 400)/14400.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from flestimate import SurveyDesign
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, FlestimateWarning
from tests.conftest import small_design_frame


@pytest.fixture
def des() -> SurveyDesign:
    return SurveyDesign(small_design_frame(), weights="w", strata="stratum", psu="psu")


def test_total_by_hand(des: SurveyDesign) -> None:
    row = des.total("y").to_frame().iloc[0]
    assert row["estimate"] == pytest.approx(50.0, rel=1e-14)
    assert row["se"] == pytest.approx(np.sqrt(500.0), rel=1e-14)
    assert row["df"] == 2
    assert row["n"] == 8


def test_mean_by_hand(des: SurveyDesign) -> None:
    row = des.mean("y").to_frame().iloc[0]
    assert row["estimate"] == pytest.approx(5 / 12, rel=1e-14)
    assert row["se"] == pytest.approx(np.sqrt(500 / 14400), rel=1e-14)
    t = stats.t.ppf(0.975, 2)
    assert row["ci_low"] == pytest.approx(5 / 12 - t * np.sqrt(500 / 14400), rel=1e-12)
    assert row["cv"] == pytest.approx(np.sqrt(500 / 14400) / (5 / 12), rel=1e-12)


def test_mean_with_fpc_by_hand() -> None:
    des = SurveyDesign(small_design_frame(), weights="w", strata="stratum", psu="psu", fpc="fpc")
    row = des.mean("y").to_frame().iloc[0]
    assert row["se"] == pytest.approx(np.sqrt((0.5 * 100 + 0.8 * 400) / 14400), rel=1e-14)


def test_domains_by_hand(des: SurveyDesign) -> None:
    got = des.mean("y", by="dom").to_frame().set_index("dom")
    assert got.loc["a", "estimate"] == pytest.approx(2 / 3, rel=1e-14)
    assert got.loc["a", "se"] == pytest.approx(1 / 3, rel=1e-14)
    assert got.loc["b", "estimate"] == pytest.approx(1 / 6, rel=1e-14)
    assert got.loc["b", "se"] == pytest.approx(1 / 6, rel=1e-14)
    assert list(got["df"]) == [2, 2]
    assert list(got["n"]) == [4, 4]


def test_domain_total_by_hand(des: SurveyDesign) -> None:
    """Domain a: PSU totals of w*y*d are 10, 10 | 0, 20: V = 0 + 2 * (10^2 + 10^2) = 400."""
    row = des.total("y", subpop=(des.data["dom"] == "a").to_numpy()).to_frame().iloc[0]
    assert row["estimate"] == pytest.approx(40.0, rel=1e-14)
    assert row["se"] == pytest.approx(20.0, rel=1e-14)


def test_korn_graubard_by_hand(des: SurveyDesign) -> None:
    """Domain a: p = 2/3, se = 1/3, n = 4, df = 2: n_eff = p(1-p)/se^2 = 2,
    n* = 2 (t_{0.975,3}/t_{0.975,2})^2 (below n = 4), x* = n* p,
    CI = [Beta^-1(0.025; x*, n* - x* + 1), Beta^-1(0.975; x* + 1, n* - x*)]."""
    row = des.proportion("y", by="dom").to_frame().set_index("dom").loc["a"]
    n_star = 2 * (stats.t.ppf(0.975, 3) / stats.t.ppf(0.975, 2)) ** 2
    x = n_star * 2 / 3
    assert row["ci_low"] == pytest.approx(stats.beta.ppf(0.025, x, n_star - x + 1), rel=1e-10)
    assert row["ci_high"] == pytest.approx(stats.beta.ppf(0.975, x + 1, n_star - x), rel=1e-10)
    assert row["n_eff"] == pytest.approx(2.0, rel=1e-12)


def test_ratio_by_hand(des: SurveyDesign) -> None:
    """ratio(y, one) is the mean; ratio(y, w) = 50 / (40*10 + 80*20) = 50/2000."""
    frame = small_design_frame()
    frame["one"] = 1.0
    frame["size"] = frame["w"]
    d = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    r = d.ratio("y", "one").to_frame().iloc[0]
    m = d.mean("y").to_frame().iloc[0]
    assert r["estimate"] == pytest.approx(m["estimate"], rel=1e-14)
    assert r["se"] == pytest.approx(m["se"], rel=1e-14)
    assert r["variable"] == "y/one"
    assert d.ratio("y", "size").to_frame()["estimate"].iloc[0] == pytest.approx(0.025)


def test_missing_values_are_excluded_counted_and_warned() -> None:
    frame = small_design_frame()
    frame.loc[7, "y"] = np.nan
    d = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    with pytest.warns(FlestimateWarning, match=r"\[MISSING_ITEMS\].*y \(1\)"):
        row = d.mean("y").to_frame().iloc[0]
    assert row["n"] == 7
    assert row["n_missing"] == 1
    # Same as a domain excluding row 7, on the full design.
    frame["keep"] = frame.index != 7
    d2 = SurveyDesign(frame.fillna({"y": 0.0}), weights="w", strata="stratum", psu="psu")
    ref = d2.mean("y", subpop="keep").to_frame().iloc[0]
    assert row["estimate"] == pytest.approx(ref["estimate"], rel=1e-14)
    assert row["se"] == pytest.approx(ref["se"], rel=1e-14)


def test_missing_by_values_are_reported() -> None:
    frame = small_design_frame()
    frame.loc[0, "dom"] = None
    d = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    with pytest.warns(FlestimateWarning, match=r"1 row\(s\) with a missing value in `by`"):
        est = d.mean("y", by="dom")
    assert est.provenance["rows_missing_by"] == 1
    assert est.to_frame()["n"].sum() == 7


def test_categorical_proportion_rows_per_category() -> None:
    frame = small_design_frame()
    frame["cat"] = pd.Categorical(["x", "y", "x", "y", "y", "x", "x", "y"],
                                  categories=["x", "y", "z"])
    d = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    got = d.proportion("cat").to_frame()
    assert list(got["category"]) == ["x", "y", "z"]
    # x: rows 0, 2 (w 10) and 5, 6 (w 20) -> 60/120.
    assert got["estimate"].tolist() == pytest.approx([0.5, 0.5, 0.0])
    assert got["estimate"].sum() == pytest.approx(1.0)
    assert got.loc[2, "ci_low"] == 0.0
    assert got.loc[2, "flag"] == "p=0: one-sided interval (NCHS)"


def test_binary_proportion_has_empty_category(des: SurveyDesign) -> None:
    got = des.proportion("y").to_frame()
    assert got["category"].tolist() == [None]


def test_total_of_categories_counts_population(des: SurveyDesign) -> None:
    got = des.total("dom").to_frame().set_index("category")
    assert got.loc["a", "estimate"] == pytest.approx(60.0)
    assert got.loc["b", "estimate"] == pytest.approx(60.0)


def test_empty_domain_gives_nan_with_flag(des: SurveyDesign) -> None:
    row = des.proportion("y", subpop=np.zeros(8, dtype=bool)).to_frame().iloc[0]
    assert row["n"] == 0
    assert np.isnan(row["estimate"]) and np.isnan(row["ci_low"])
    assert row["flag"] == "empty domain"


def test_single_psu_domain_has_no_interval(des: SurveyDesign) -> None:
    """A domain inside one PSU has df = 0: NaN bounds with a reason, never zero width."""
    mask = (des.data["psu"] == 1).to_numpy()
    row = des.mean("y", subpop=mask).to_frame().iloc[0]
    assert row["df"] == 0
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
    assert row["flag"] == "df<=0: no interval"


def test_user_df_and_level(des: SurveyDesign) -> None:
    row = des.mean("y", df=np.inf, level=0.9).to_frame().iloc[0]
    se = np.sqrt(500 / 14400)
    assert row["ci_high"] == pytest.approx(5 / 12 + stats.norm.ppf(0.95) * se, rel=1e-12)
    assert row["df"] == np.inf


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"level": 95}, ArgumentError, r"`level` of `mean\(\)` must be a float in \(0, 1\); got 95"),
        ({"level": "0.9"}, ArgumentTypeError, r"`level` of `mean\(\)` must be a float"),
        ({"df": 0}, ArgumentError, r"`df` of `mean\(\)` must be None"),
        ({"ci": "exact"}, ArgumentError, r"`ci` of `mean\(\)` must be one of"),
        ({"by": "nope"}, DataError, r"column\(s\) 'nope' of `by` of `mean\(\)` not found"),
        ({"subpop": "dom"}, DataError, r"`subpop` of `mean\(\)` must be boolean"),
        ({"subpop": np.ones(3, bool)}, DataError, r"one value per row \(8\)"),
    ],
)
def test_argument_errors(des: SurveyDesign, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        des.mean("y", **kwargs)


def test_total_accepts_only_wald(des: SurveyDesign) -> None:
    with pytest.raises(ArgumentError, match=r"`ci` of `total\(\)` must be one of wald"):
        des.total("y", ci="korn-graubard")


def test_mean_rejects_text(des: SurveyDesign) -> None:
    with pytest.raises(DataError, match=r"column 'dom' of `mean\(\)` must be numeric.*proportion"):
        des.mean("dom")


def test_ratio_denominator_length(des: SurveyDesign) -> None:
    with pytest.raises(ArgumentError, match="one column or as many as `numerator`"):
        des.ratio(["y", "w"], ["w", "y", "y"])


def test_provenance_and_immutability(des: SurveyDesign) -> None:
    est = des.proportion("y", by="dom")
    p = est.provenance
    assert p["estimator"] == "proportion"
    assert p["ci_method"] == "korn-graubard"
    assert p["design"]["n_psu"] == 4
    assert p["design"]["lonely_psu"] == "fail"
    with pytest.raises(AttributeError):
        est.provenance = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        p["estimator"] = "x"  # type: ignore[index]
    frame = est.to_frame()
    frame.loc[0, "estimate"] = 99.0
    assert est.to_frame().loc[0, "estimate"] != 99.0
    json.dumps(est.to_dict())


def test_domain_lookup_and_sort_paths_agree(monkeypatch: pytest.MonkeyPatch, lfs) -> None:
    """Domain cells from the lookup table and from the sort fallback are the same."""
    from flestimate import _cells

    des = SurveyDesign(lfs, weights="w", strata="stratum", psu="psu", nest=True)
    by = ["dest", "sex", "region"]
    table = des.proportion("fl", by=by, subpop="migrant").to_frame()
    monkeypatch.setattr(_cells, "_LOOKUP_MAX", 0)
    sort = des.proportion("fl", by=by, subpop="migrant").to_frame()
    pd.testing.assert_frame_equal(table, sort)
    assert len(table) == lfs.loc[lfs["migrant"] == 1, by].drop_duplicates().shape[0]


def test_infinite_values_are_an_error() -> None:
    frame = small_design_frame()
    frame.loc[3, "y"] = np.inf
    d = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    with pytest.raises(DataError, match=r"`mean\(\)` got infinite values in 'y'"):
        d.mean("y")


def test_integer_by_codes_equal_text_codes(des: SurveyDesign) -> None:
    """Small-range integer by-columns take an arithmetic path; labels and numbers match text."""
    frame = small_design_frame().assign(s_text=lambda f: "s" + f["stratum"].astype(str))
    d = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    as_int = d.mean("y", by="stratum").to_frame()
    as_text = d.mean("y", by="s_text").to_frame()
    assert as_int["stratum"].tolist() == [1, 2]
    pd.testing.assert_frame_equal(as_int.drop(columns="stratum"),
                                  as_text.drop(columns="s_text"))


def test_zero_weight_rows_do_not_count() -> None:
    """Rows of weight 0 are in the design but not in n or df (R: weights(design) != 0)."""
    frame = small_design_frame()
    frame.loc[frame["psu"] == 4, "w"] = 0.0
    d = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    assert not d.all_weights_positive
    row = d.mean("y").to_frame().iloc[0]
    assert row["n"] == 6
    assert row["df"] == 1
    assert d.degf == 1
    # PSU 4 still counts in n_h = 2 for stratum 2: totals 10, 20 | 0, 0.
    tot = d.total("y").to_frame().iloc[0]
    assert tot["se"] == pytest.approx(np.sqrt(2 * (25 + 25)), rel=1e-14)


def test_warnings_point_at_the_callers_line() -> None:
    """Every warning of a design, an estimator and the main job names the user's file and line
    (not library source, which a notebook would print)."""
    import warnings
    from pathlib import Path

    from flestimate import estimate_prevalence

    ROOT = Path(__file__).resolve().parents[1]

    frame = pd.DataFrame({"w": [1.0, 2, 3, 4], "st": [1, 1, 2, 3], "psu": [1, 2, 3, 4],
                          "y": [1.0, np.nan, 0, 1], "d": [1, None, 2, 2]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        des = SurveyDesign(frame, weights="w", strata="st", psu="psu", lonely_psu="adjust")
        des.mean("y", by="d")
        estimate_prevalence(ROOT / "data/synthetic/moldova_synthetic.sav",
                            "moldova-2008-synthetic", missing="minimum")
    codes = {getattr(w.message, "code", None) for w in caught}
    assert {"LONELY_PSU", "MISSING_ITEMS"} <= codes
    assert {w.filename for w in caught} == {__file__}
