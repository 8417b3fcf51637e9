"""Contract: every estimator under every design type, with no domain, with by=, with an empty
domain, returns the same columns, finite SEs where data exist, and NaN (flagged) where not."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from flestimate import Estimates, SurveyDesign
from flestimate.errors import FlestimateWarning
from flestimate.results import ESTIMATE_COLUMNS
from tests.conftest import load_api


def _frame() -> pd.DataFrame:
    f = load_api("apiclus2")
    f["nobody"] = False
    f["stype_cat"] = pd.Categorical(f["stype"], categories=["E", "M", "H"])
    f["enroll"] = f["enroll"].fillna(f["enroll"].median())
    return f


DESIGNS = {
    "srs": lambda f: SurveyDesign(f, weights="pw"),
    "stratified": lambda f: SurveyDesign(f, weights="pw", strata="stype"),
    "cluster": lambda f: SurveyDesign(f, weights="pw", psu="dnum"),
    "stratified_cluster_fpc": lambda f: SurveyDesign(
        f.assign(nfpc=f.groupby("stype")["dnum"].transform("nunique") * 10),
        weights="pw", strata="stype", psu="dnum", fpc="nfpc", nest=True),
    "two_stage_fpc": lambda f: SurveyDesign(f, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"]),
    "lonely_adjust": lambda f: SurveyDesign(
        f.assign(st=np.where(f["dnum"] == f["dnum"].min(), 0, 1)),
        weights="pw", strata="st", psu="dnum", lonely_psu="adjust"),
    "calibrated": lambda f: SurveyDesign(f, weights="pw", psu="dnum").calibrate(
        {"stype": {"E": 4421.0, "H": 755.0, "M": 1018.0}}),
    "replicate_jk1": lambda f: SurveyDesign(f, weights="pw", psu="dnum").to_replicate("jk1"),
    "replicate_bootstrap_raked": lambda f: SurveyDesign(f, weights="pw", psu="dnum")
    .to_replicate("bootstrap", replicates=20, seed=3).rake(
        [pd.DataFrame({"stype": ["E", "H", "M"], "total": [4421.0, 755.0, 1018.0]}),
         pd.DataFrame({"awards": ["No", "Yes"], "total": [2000.0, 4194.0]})], max_iter=100,
        tol=1e-9),
}

CALLS = {
    "mean": lambda d, **k: d.mean(["api00", "api99"], **k),
    "proportion": lambda d, **k: d.proportion(["sch_wide_yes", "awards"], **k),
    "total": lambda d, **k: d.total(["enroll"], **k),
    "ratio": lambda d, **k: d.ratio(["api00"], "api99", **k),
}


DOMAINS: dict[str, dict] = {
    "none": {},
    "by": {"by": "stype"},
    "empty": {"subpop": "nobody"},
    "empty_by": {"subpop": "nobody", "by": "stype"},
    "empty_categorical": {"subpop": "nobody", "by": "stype_cat"},
}
# Domains are the by-levels observed in the subpopulation, or every category of a categorical
# by-column; an empty subpopulation without by= is one empty domain.
EMPTY_CELLS = {"empty": 1, "empty_by": 0, "empty_categorical": 3}


@pytest.mark.parametrize("design_name", list(DESIGNS))
@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("domain", list(DOMAINS))
def test_contract(design_name: str, call: str, domain: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)
        des = DESIGNS[design_name](_frame())
    kwargs = DOMAINS[domain]
    est = CALLS[call](des, **kwargs)
    assert isinstance(est, Estimates)
    frame = est.to_frame()
    expected = ([kwargs["by"]] if "by" in kwargs else []) + ["variable"]
    if call == "proportion":
        expected.append("category")
    assert list(frame.columns) == [*expected, *ESTIMATE_COLUMNS]
    assert est.provenance["estimator"] == call
    n_rows_per_cell = len(CALLS[call](des).to_frame())
    if domain in EMPTY_CELLS:
        assert len(frame) == EMPTY_CELLS[domain] * n_rows_per_cell
        assert (frame["n"] == 0).all()
        assert frame["estimate"].isna().all() and frame["ci_low"].isna().all()
        assert (frame["flag"] == "empty domain").all()
        return
    assert (frame["n"] > 0).all()
    assert np.isfinite(frame["estimate"]).all()
    assert (np.isfinite(frame["se"]) & (frame["se"] >= 0)).all()
    ok = frame["df"] > 0
    assert (frame.loc[ok, "ci_low"] <= frame.loc[ok, "estimate"]).all()
    assert (frame.loc[ok, "ci_high"] >= frame.loc[ok, "estimate"]).all()
