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

import numpy as np
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


# -- every replicate design of replicate_reference.json (r_replicate_reference.R) ----------------
# Reference: ``replicate_reference.json`` made by ``r_replicate_reference.R`` (R 4.2.2, survey
# 4.1.1): R's replicate weights of each design are written beside it (``weights_file``: columns
# snum, w, rw1..rwR, the analysis weights), so that flestimate estimates on exactly the same
# weights, including R's random bootstrap replicates. Each design is rebuilt here with R's type,
# scale, rscales, mse and rho.
REPLICATE = json.loads((DATA / "replicate_reference.json").read_text())["results"]
BASES = {"apiclus1_": "apiclus1.csv", "apistrat_jkn": "apistrat.csv",
         "apistrat_pairs": "apistrat_pairs.csv", "apiclus2_pairs": "apiclus2_pairs.csv"}
REP_DESIGNS = [k for k, v in REPLICATE.items()
               if isinstance(v, dict) and v.get("weights_file") and "n_reps" in v
               and "cal" not in k and "poststratify" not in k and "rake" not in k]


def _rep_design(name: str) -> tuple[ReplicateDesign, pd.DataFrame]:
    ref = REPLICATE[name]
    file = ref["weights_file"]
    base = next(b for prefix, b in BASES.items() if file.startswith(prefix))
    data = pd.read_csv(DATA / base)
    weights = pd.read_csv(DATA / file)
    assert (weights["snum"].to_numpy() == data["snum"].to_numpy()).all()
    flags = pd.DataFrame({"sch_wide_yes": (data["sch.wide"] == "Yes").astype(float),
                          "awards_yes": (data["awards"] == "Yes").astype(float)})
    data = pd.concat([data, flags, weights.drop(columns="snum")], axis=1)
    cols = [c for c in weights.columns if c.startswith("rw")]
    combined = ref["combined_weights"] or ref.get("base") is not None
    if not ref["combined_weights"] and ref.get("base") is None:
        data[cols] = data[cols].to_numpy() / data[["w"]].to_numpy()
    rscales = ref["rscales"]
    if not isinstance(rscales, list) or len(rscales) != ref["n_reps"]:
        # the JSON keeps the first five of long rscales: all 1, or R's JKn rule by stratum
        rscales = None
    method = {"JK1": "jk1", "JKn": "jkn", "BRR": "brr", "Fay": "fay", "bootstrap": "bootstrap",
              "subbootstrap": "subbootstrap", "successive-difference": "sdr",
              "other": "other"}[ref["type"]]
    if method == "jkn" and rscales is None and ref["rscales_unique"] not in (1, [1]):
        rscales = _jkn_rscales(ref, data, cols)
    des = ReplicateDesign(data, "w", cols, method, scale=ref["scale"], rscales=rscales,
                          mse=ref["mse"], rho=ref["rho"] if method == "fay" else None,
                          combined=combined)
    return des, data


def _jkn_rscales(ref: dict, data: pd.DataFrame, cols: list[str]) -> list[float]:
    """(n_h - 1)/n_h times the FPC of the stratum whose school a replicate drops (the JSON keeps
    only the first five rscales of 200)."""
    by_stratum = ref.get("rscales_by_stratum")
    zero = data[cols].to_numpy() == 0
    stratum = data["stype"].to_numpy()[zero.argmax(axis=0)]
    if by_stratum:
        return [float(by_stratum[s]) for s in stratum]
    n_h = data["stype"].value_counts()
    return [(n_h[s] - 1) / n_h[s] for s in stratum]


@pytest.mark.filterwarnings("ignore:missing values excluded")
@pytest.mark.parametrize("name", REP_DESIGNS)
def test_every_r_replicate_design(name: str) -> None:
    ref = REPLICATE[name]
    des, _ = _rep_design(name)
    assert des.n_replicates == ref["n_reps"]
    assert des.degf == ref["degf"]
    for stat, var, kind in (("mean_api00", "api00", "mean"), ("total_enroll", "enroll", "total"),
                            ("mean_sch_wide_yes", "sch_wide_yes", "mean"),
                            ("mean_awards_yes", "awards_yes", "mean")):
        row = getattr(des, kind)(var).to_frame().iloc[0]
        assert row["estimate"] == pytest.approx(ref[stat]["est"], rel=EST), stat
        assert row["se"] == pytest.approx(ref[stat]["se"], rel=EST), stat
    by = des.mean("api00", by="stype").to_frame().set_index("stype")
    by_ref = ref["by_stype_mean_api00"]
    for level, r in by_ref.items():
        assert by.loc[level, "se"] == pytest.approx(r["se"], rel=EST), level
    h = des.mean("api00", subpop=des.data["stype"] == "H").to_frame().iloc[0]
    assert h["se"] == pytest.approx(ref["domain_H_mean_api00"]["se"], rel=EST)
    assert h["df"] == ref["degf_domain_H"]
    for var, key in (("sch_wide_yes", "sch_wide"), ("awards_yes", "awards")):
        for method in ("logit", "beta"):
            r = ref[f"ciprop_{method}_{key}"]
            got = des.proportion(var, ci=method).to_frame().iloc[0]
            for col, rkey in (("ci_low", "lci"), ("ci_high", "uci")):
                if r.get(rkey) is None:
                    assert np.isnan(got[col])
                else:
                    assert got[col] == pytest.approx(r[rkey], rel=CI), (var, method, col)
