"""The same quantity computed several ways agrees (LFS reference sample).

A domain mean is the ratio sum(w y d)/sum(w d), the mean with ``subpop=``, and a row of
``by=``; a proportion is the mean of its indicator; domain totals add up to the total; a domain
proportion's interval does not depend on how the domain was declared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flestimate import SurveyDesign

VARS = ["fl", "thb", "ind_debt"]


@pytest.fixture(scope="module")
def frame(lfs: pd.DataFrame) -> pd.DataFrame:
    out = lfs.copy()
    out["italy"] = ((out["migrant"] == 1) & (out["dest"] == "Italy")).astype(float)
    for v in VARS:
        out[f"{v}_italy"] = out[v] * out["italy"]
    return out


@pytest.fixture(scope="module", params=["taylor", "replicate", "calibrated"])
def des(frame: pd.DataFrame, request: pytest.FixtureRequest) -> SurveyDesign:
    taylor = SurveyDesign(frame, weights="w", strata="stratum", psu="psu", nest=True)
    if request.param == "replicate":
        from flestimate import ReplicateDesign

        return ReplicateDesign(frame, "w", "bw[0-9]+", "bootstrap")  # type: ignore[return-value]
    if request.param == "calibrated":
        controls = frame.groupby(["region", "sex"])["w"].sum().rename("total").reset_index()
        return taylor.calibrate(controls.assign(total=controls["total"] * 1.02))
    return taylor


def test_domain_mean_three_ways(des: SurveyDesign, frame: pd.DataFrame) -> None:
    mask = frame["italy"].to_numpy() == 1
    as_subpop = des.mean(VARS, subpop=mask).to_frame()
    as_by = des.mean(VARS, by="dest", subpop="migrant").to_frame()
    as_by = as_by[as_by["dest"] == "Italy"].reset_index(drop=True)
    as_ratio = des.ratio([f"{v}_italy" for v in VARS], "italy").to_frame()
    for other in (as_by, as_ratio):
        np.testing.assert_allclose(other["estimate"], as_subpop["estimate"], rtol=1e-12)
        np.testing.assert_allclose(other["se"], as_subpop["se"], rtol=1e-10)
    np.testing.assert_array_equal(as_by["df"], as_subpop["df"])
    np.testing.assert_array_equal(as_by["n"], as_subpop["n"])


def test_proportion_is_mean_of_indicator(des: SurveyDesign) -> None:
    p = des.proportion(VARS, by="sex", ci="wald").to_frame()
    m = des.mean(VARS, by="sex").to_frame()
    cols = ["estimate", "se", "ci_low", "ci_high", "deff", "df", "n"]
    pd.testing.assert_frame_equal(p[cols], m[cols])


def test_domain_totals_add_up(des: SurveyDesign) -> None:
    by = des.total(VARS, by="region").to_frame()
    whole = des.total(VARS).to_frame()
    summed = by.groupby("variable", sort=False)["estimate"].sum()
    np.testing.assert_allclose(summed.to_numpy(), whole["estimate"].to_numpy(), rtol=1e-12)


def test_interval_independent_of_domain_declaration(des: SurveyDesign, frame: pd.DataFrame) -> None:
    mask = frame["italy"].to_numpy() == 1
    a = des.proportion("thb", subpop=mask).to_frame().iloc[0]
    b = des.proportion("thb", by="dest", subpop="migrant").to_frame()
    b = b[b["dest"] == "Italy"].iloc[0]
    for col in ("ci_low", "ci_high", "n_eff", "df"):
        assert a[col] == pytest.approx(b[col], rel=1e-10)


def test_categorical_share_is_a_ratio(des: SurveyDesign) -> None:
    """Share of Italy among migrants: proportion("dest", subpop=migrant) = ratio(italy, migrant)."""
    share = des.proportion("dest", subpop="migrant").to_frame().set_index("category").loc["Italy"]
    ratio = des.ratio("italy", "migrant").to_frame().iloc[0]
    assert share["estimate"] == pytest.approx(ratio["estimate"], rel=1e-12)
    assert share["se"] == pytest.approx(ratio["se"], rel=1e-10)
