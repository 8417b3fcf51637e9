"""Replicate-weight designs against R survey.

References (R 4.2.2, survey 4.1.1):

- ``lfs_n20000_r_reference.json`` (``r_reference.R``), on ``lfs_n20000``:
  ``svrepdesign(data=d, repweights="^bw[0-9]+$", weights=~w, type="bootstrap",
  combined.weights=TRUE)`` (scale 1/(R-1)) and ``as.svrepdesign(des, type="JKn")`` of
  ``svydesign(ids=~psu, strata=~stratum, weights=~w, nest=TRUE)``; ``svymean`` and ``svytotal``
  overall, ``svymean`` in ``subset(des, migrant == 1)``, ``svyby`` means by sex and destination
  (estimates only: the script recorded no by-domain SEs), ``svyciprop(method="logit")``, ``degf``.
- ``api_reference.json`` (``r_api_reference.R``): ``as.svrepdesign(type="JKn")`` of
  ``svydesign(id=~1, strata=~stype, weights=~pw[, fpc=~fpc], data=apistrat)`` and
  ``as.svrepdesign(type="JK1")`` of the apiclus1 (with and without fpc) and apiclus2 designs:
  ``svymean(~api00)``, ``svyby(~api00, ~stype, svymean)``, ``svyciprop(~I(sch.wide=="Yes"),
  method="logit")``, ``degf``, ``scale``.

Tolerances: estimates and SEs 1e-8 relative; logit intervals 1e-6 (R fits the logit model by
iteration).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from flestimate import SurveyDesign
from flestimate.replicate import ReplicateDesign

DATA = Path(__file__).resolve().parent / "data"
OUTCOMES = ["fl", "thb", "ind_deceit", "ind_debt", "ind_noleave", "ind_threat", "ind_docs",
            "ind_wage"]
EST, CI = 1e-8, 1e-6


@pytest.fixture(scope="module")
def lfs_designs(lfs: pd.DataFrame) -> dict[str, ReplicateDesign]:
    taylor = SurveyDesign(lfs, weights="w", strata="stratum", psu="psu", nest=True)
    return {"rep_given_bootstrap": ReplicateDesign(lfs, "w", "bw[0-9]+", "bootstrap"),
            "rep_jkn": taylor.to_replicate("jkn")}


def _check(frame: pd.DataFrame, ref: dict, se: bool = True) -> None:
    for v in OUTCOMES:
        row = frame[frame["variable"] == v].iloc[0]
        assert row["estimate"] == pytest.approx(ref[v]["est"], rel=EST), v
        if se:
            assert row["se"] == pytest.approx(ref[v]["se"], rel=EST), v


@pytest.mark.parametrize("name", ["rep_given_bootstrap", "rep_jkn"])
def test_lfs_replicate_designs(name: str, lfs_designs: dict, lfs_reference: dict) -> None:
    ref = lfs_reference["results"][name]
    des = lfs_designs[name]
    assert des.scale == pytest.approx(ref["scale"], rel=1e-15)
    assert des.degf == ref["degf"]["all"]
    _check(des.mean(OUTCOMES).to_frame(), ref["mean_all"])
    _check(des.total(OUTCOMES).to_frame(), ref["total_all"])
    migrant = des.mean(OUTCOMES, subpop="migrant").to_frame()
    _check(migrant, ref["mean_migrant"])
    assert (migrant["df"] == ref["degf"]["migrant"]).all()
    for by, key in (("sex", "by_sex_migrant"), ("dest", "by_dest_migrant")):
        got = des.mean(OUTCOMES, by=by, subpop="migrant").to_frame()
        for level, values in ref[key].items():
            _check(got[got[by] == level], values, se=False)
    ci = des.proportion(["fl", "thb"], subpop="migrant", ci="logit").to_frame()
    for v in ("fl", "thb"):
        row = ci[ci["variable"] == v].iloc[0]
        r = ref["ciprop_logit_migrant"][v]
        assert row["se"] == pytest.approx(r["se"], rel=EST)
        assert row["ci_low"] == pytest.approx(r["lci"], rel=CI)
        assert row["ci_high"] == pytest.approx(r["uci"], rel=CI)


API = {
    "apistrat_fpc_JKn": ("apistrat.csv", {"strata": "stype", "weights": "pw", "fpc": "fpc"},
                         "jkn"),
    "apistrat_nofpc_JKn": ("apistrat.csv", {"strata": "stype", "weights": "pw"}, "jkn"),
    "apiclus1_fpc_JK1": ("apiclus1.csv", {"psu": "dnum", "weights": "pw", "fpc": "fpc"}, "jk1"),
    "apiclus1_nofpc_JK1": ("apiclus1.csv", {"psu": "dnum", "weights": "pw"}, "jk1"),
    "apiclus2_nofpc_JK1": ("apiclus2.csv", {"psu": ["dnum", "snum"], "weights": "pw"}, "jk1"),
}


@pytest.mark.parametrize("name", list(API))
def test_api_jackknives(name: str) -> None:
    ref = json.loads((DATA / "api_reference.json").read_text())["results"][name]
    file, call, method = API[name]
    data = pd.read_csv(DATA / file)
    data["yes"] = (data["sch.wide"] == "Yes").astype(float)
    des = SurveyDesign(data, **call).to_replicate(method)
    assert des.n_replicates == ref["n_reps"]
    assert des.scale == pytest.approx(ref["scale"], rel=1e-14)
    assert des.degf == ref["degf"]
    row = des.mean("api00").to_frame().iloc[0]
    assert row["estimate"] == pytest.approx(ref["mean_api00"]["est"], rel=EST)
    assert row["se"] == pytest.approx(ref["mean_api00"]["se"], rel=EST)
    by = des.mean("api00", by="stype").to_frame().set_index("stype")
    for level, r in ref["by_stype_mean_api00"].items():
        assert by.loc[level, "estimate"] == pytest.approx(r["est"], rel=EST)
        assert by.loc[level, "se"] == pytest.approx(r["se"], rel=EST)
    ci = des.proportion("yes", ci="logit").to_frame().iloc[0]
    r = ref["ciprop_logit"]
    assert ci["se"] == pytest.approx(r["se"], rel=EST)
    assert ci["ci_low"] == pytest.approx(r["lci"], rel=CI)
    assert ci["ci_high"] == pytest.approx(r["uci"], rel=CI)
