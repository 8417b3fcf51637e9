"""SurveyDesign: validation at construction, the integer indexes, immutability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flestimate import DesignError, SurveyDesign
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError
from tests.conftest import small_design_frame


def _frame() -> pd.DataFrame:
    return small_design_frame()


@pytest.mark.parametrize(
    ("value", "problem"),
    [(np.nan, "missing"), (np.inf, "infinite"), (-1.0, "negative")],
)
def test_bad_weights_name_column_and_rows(value: float, problem: str) -> None:
    frame = _frame()
    frame.loc[[2, 5], "w"] = value
    with pytest.raises(DesignError, match=rf"weights column 'w' has 2 {problem} value\(s\); "
                                          r"first rows: 2, 5"):
        SurveyDesign(frame, weights="w", strata="stratum", psu="psu")


def test_non_numeric_weights() -> None:
    frame = _frame()
    frame["w"] = frame["w"].astype(str)
    with pytest.raises(DesignError, match="weights column 'w' must be numeric"):
        SurveyDesign(frame, weights="w", psu="psu")


def test_missing_columns_are_named() -> None:
    with pytest.raises(DataError, match=r"design column\(s\) 'wt', 'cluster' not found"):
        SurveyDesign(_frame(), weights="wt", psu="cluster")


def test_missing_strata_and_psu_ids() -> None:
    frame = _frame()
    frame.loc[3, "stratum"] = np.nan
    with pytest.raises(DesignError, match=r"strata column\(s\) 'stratum' have 1 missing value\(s\); "
                                          r"first rows: 3"):
        SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    frame = _frame()
    frame.loc[6, "psu"] = np.nan
    with pytest.raises(DesignError, match=r"PSU column 'psu' has 1 missing value\(s\); first rows: 6"):
        SurveyDesign(frame, weights="w", strata="stratum", psu="psu")


def test_psu_ids_across_strata_need_nest() -> None:
    frame = _frame()
    frame["psu"] = [1, 1, 2, 2, 1, 1, 2, 2]
    with pytest.raises(DesignError, match="not nested in strata.*pass nest=True"):
        SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    nested = SurveyDesign(frame, weights="w", strata="stratum", psu="psu", nest=True)
    plain = SurveyDesign(_frame(), weights="w", strata="stratum", psu="psu")
    assert nested.n_psu == 4
    pd.testing.assert_frame_equal(nested.mean("y").to_frame(), plain.mean("y").to_frame())


def test_fpc_varying_within_stratum() -> None:
    frame = _frame()
    frame.loc[0, "fpc"] = 5
    with pytest.raises(DesignError, match=r"fpc column 'fpc' varies within 1 stratum\(s\).*first rows: 0, 1, 2, 3"):
        SurveyDesign(frame, weights="w", strata="stratum", psu="psu", fpc="fpc")


def test_fpc_smaller_than_sample() -> None:
    frame = _frame()
    frame["fpc"] = np.where(frame["stratum"] == 1, 1.5, 10.0)
    with pytest.raises(DesignError, match="smaller than the number of units sampled"):
        SurveyDesign(frame, weights="w", strata="stratum", psu="psu", fpc="fpc")


def test_fpc_mixing_counts_and_fractions() -> None:
    frame = _frame()
    frame["fpc"] = [0.5] * 4 + [10] * 4
    with pytest.raises(DesignError, match="mixes population counts"):
        SurveyDesign(frame, weights="w", strata="stratum", psu="psu", fpc="fpc")


def test_fpc_as_fraction_equals_count() -> None:
    """N_h = (4, 10) with n_h = 2: fractions (0.5, 0.2), as R's svydesign reads either."""
    frame = _frame()
    frame["frac"] = np.where(frame["stratum"] == 1, 0.5, 0.2)
    a = SurveyDesign(frame, weights="w", strata="stratum", psu="psu", fpc="fpc")
    b = SurveyDesign(frame, weights="w", strata="stratum", psu="psu", fpc="frac")
    pd.testing.assert_frame_equal(a.mean("y").to_frame(), b.mean("y").to_frame())


def test_weights_implied_by_fpc() -> None:
    """Without weights, w = N_h / n_h: (4/2, 10/2) = (2, 5)."""
    d = SurveyDesign(_frame(), strata="stratum", psu="psu", fpc="fpc")
    assert d.weights.tolist() == [2.0] * 4 + [5.0] * 4
    with pytest.raises(DesignError, match="`weights` of `SurveyDesign\\(\\)` is required"):
        SurveyDesign(_frame(), strata="stratum", psu="psu")


def test_single_psu_design() -> None:
    frame = _frame()
    frame["psu"] = 1
    with pytest.raises(DesignError, match="only one primary sampling unit"):
        SurveyDesign(frame, weights="w", psu="psu")


def test_argument_types() -> None:
    with pytest.raises(ArgumentTypeError, match="must be a pandas DataFrame"):
        SurveyDesign(_frame().to_dict(), weights="w")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="`lonely_psu` of `SurveyDesign\\(\\)` must be one of"):
        SurveyDesign(_frame(), weights="w", lonely_psu="drop")  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="`nest` of `SurveyDesign\\(\\)` must be True or False"):
        SurveyDesign(_frame(), weights="w", nest="yes")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="one column per stage"):
        SurveyDesign(_frame(), weights="w", psu="psu", fpc=["fpc", "fpc"])


def test_immutable_and_isolated_from_caller() -> None:
    frame = _frame()
    d = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    with pytest.raises(AttributeError, match="immutable"):
        d.foo = 1  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="read-only"):
        d.weights[0] = 5.0
    frame.loc[0, "y"] = 100.0
    assert d.mean("y").to_frame()["estimate"].iloc[0] == pytest.approx(5 / 12)


def test_indexes_and_summary() -> None:
    d = SurveyDesign(_frame(), weights="w", strata="stratum", psu="psu")
    st = d.stages[0]
    assert st.parent.tolist() == [0, 0, 1, 1]
    assert st.n_sampled.tolist() == [2, 2]
    assert d.degf == 2
    s = d.summary_dict()
    # Kish: n sum w^2 / (sum w)^2 = 8 * (4*100 + 4*400) / 120^2.
    assert s["kish_deff_weights"] == pytest.approx(8 * 2000 / 14400)
    assert s["sum_weights"] == 120.0
    assert "SurveyDesign(n=8, strata=2, psu=4" in repr(d)


def test_rows_as_psus_and_no_strata() -> None:
    """psu=None: every row a PSU; df = n - H."""
    d = SurveyDesign(_frame(), weights="w", strata="stratum")
    assert d.n_psu == 8
    assert d.degf == 6
    assert SurveyDesign(_frame(), weights="w").degf == 7


def test_multicolumn_strata_equal_combined_column() -> None:
    frame = _frame()
    frame["s2"] = frame["psu"] % 2
    frame["combined"] = frame["stratum"].astype(str) + "-" + frame["s2"].astype(str)
    frame["psu"] = np.arange(8)
    a = SurveyDesign(frame, weights="w", strata=["stratum", "s2"], psu="psu")
    b = SurveyDesign(frame, weights="w", strata="combined", psu="psu")
    pd.testing.assert_frame_equal(a.mean("y").to_frame(), b.mean("y").to_frame())


def test_data_view_cannot_change_the_design() -> None:
    d = SurveyDesign(_frame(), weights="w", strata="stratum", psu="psu")
    view = d.data
    view["z"] = 1.0
    view.loc[0, "y"] = 100.0
    assert "z" not in d.data.columns
    assert d.mean("y").to_frame()["estimate"].iloc[0] == pytest.approx(5 / 12)


def test_designs_copy_and_pickle_frozen() -> None:
    """A design (Taylor, calibrated, replicate) survives copy, deepcopy and pickle with the
    same estimates (to the last bit) and stays immutable."""
    import copy
    import pickle

    frame = small_design_frame()
    taylor = SurveyDesign(frame, weights="w", strata="stratum", psu="psu")
    for design in (taylor, taylor.to_replicate("jkn")):
        want = design.proportion("y", by="dom").to_frame()
        for other in (copy.copy(design), copy.deepcopy(design),
                      pickle.loads(pickle.dumps(design))):  # noqa: S301 (our own object)
            pd.testing.assert_frame_equal(other.proportion("y", by="dom").to_frame(), want)
            with pytest.raises(AttributeError, match="immutable"):
                other._weights = None
