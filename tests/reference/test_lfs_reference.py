"""flestimate against R survey on the synthetic LFS labour-migration sample (Taylor part).

Reference: ``tests/reference/data/lfs_n20000_r_reference.json``, made by ``r_reference.R``
(R 4.2.2, survey 4.1.1) on ``lfs_n20000.csv.gz`` (``make_data.py --n 20000``, seed 20240601;
the same rows are shipped here as ``lfs_n20000.parquet``). Design::

    des <- svydesign(ids=~psu, strata=~stratum, weights=~w, nest=TRUE, data=d)
    dm  <- subset(des, migrant == 1)

Statistics: ``svymean`` of the 8 outcomes overall (with deff) and in ``dm`` (deff), ``svytotal``
overall and in ``dm``, ``svyby(~outcomes, ~sex | ~dest, dm, svymean, deff=TRUE)``,
``svyciprop(~fl | ~thb, dm, method="logit"|"beta")`` overall and by destination, ``degf``.
Replicate-design results in the same file belong to the replicate-weights suite.
Tolerances: estimates and SEs 1e-8 relative, intervals 1e-6, deff 1e-6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flestimate import SurveyDesign

OUTCOMES = ["fl", "thb", "ind_deceit", "ind_debt", "ind_noleave", "ind_threat", "ind_docs",
            "ind_wage"]
EST = 1e-8
CI = 1e-6


@pytest.fixture(scope="module")
def des(lfs: pd.DataFrame) -> SurveyDesign:
    return SurveyDesign(lfs, weights="w", strata="stratum", psu="psu", nest=True)


@pytest.fixture(scope="module")
def taylor(lfs_reference: dict) -> dict:
    return lfs_reference["results"]["taylor"]


def _check(frame: pd.DataFrame, ref: dict, deff: bool = False) -> None:
    for v in OUTCOMES:
        row = frame[frame["variable"] == v].iloc[0]
        assert row["estimate"] == pytest.approx(ref[v]["est"], rel=EST), v
        assert row["se"] == pytest.approx(ref[v]["se"], rel=EST), v
        if deff:
            assert row["deff"] == pytest.approx(ref[v]["deff"], rel=CI), v


def test_mean_all(des: SurveyDesign, taylor: dict) -> None:
    """R: svymean(f_all, des, deff=TRUE)."""
    _check(des.mean(OUTCOMES).to_frame(), taylor["mean_all_deff"], deff=True)
    _check(des.mean(OUTCOMES).to_frame(), taylor["mean_all"])


def test_mean_migrant(des: SurveyDesign, taylor: dict) -> None:
    """R: svymean(f_all, subset(des, migrant == 1), deff=TRUE)."""
    _check(des.mean(OUTCOMES, subpop="migrant").to_frame(), taylor["mean_migrant"], deff=True)


def test_proportion_equals_mean_of_indicator(des: SurveyDesign, taylor: dict) -> None:
    """R: svymean(f_all, subset(des, migrant == 1), deff=TRUE), through proportion()."""
    _check(des.proportion(OUTCOMES, subpop="migrant").to_frame(), taylor["mean_migrant"],
           deff=True)


def test_totals(des: SurveyDesign, taylor: dict) -> None:
    """R: svytotal(f_all, des) and svytotal(f_all, subset(des, migrant == 1))."""
    _check(des.total(OUTCOMES).to_frame(), taylor["total_all"])
    _check(des.total(OUTCOMES, subpop="migrant").to_frame(), taylor["total_migrant"])


@pytest.mark.parametrize(("by", "key"), [("sex", "by_sex_migrant"), ("dest", "by_dest_migrant")])
def test_by_domain(des: SurveyDesign, taylor: dict, by: str, key: str) -> None:
    """R: svyby(f_all, ~sex | ~dest, dm, svymean, deff=TRUE)."""
    got = des.mean(OUTCOMES, by=by, subpop="migrant").to_frame()
    ref = taylor[key]
    for level, r in ref.items():
        _check(got[got[by] == level], r, deff=True)
    # Domains are the levels observed among migrants, as svyby on the subset.
    assert sorted(got[by].unique()) == sorted(ref)


@pytest.mark.parametrize("method", ["logit", "beta"])
def test_ciprop_migrant(des: SurveyDesign, taylor: dict, method: str) -> None:
    """R: svyciprop(~fl | ~thb, dm, method=...)."""
    got = des.proportion(["fl", "thb"], subpop="migrant", ci=method).to_frame()
    for v in ["fl", "thb"]:
        ref = taylor[f"ciprop_{method}_migrant"][v]
        row = got[got["variable"] == v].iloc[0]
        assert row["estimate"] == pytest.approx(ref["est"], rel=1e-7)
        assert row["se"] == pytest.approx(ref["se"], rel=EST)
        assert row["ci_low"] == pytest.approx(ref["lci"], rel=CI)
        assert row["ci_high"] == pytest.approx(ref["uci"], rel=CI)


@pytest.mark.parametrize("method", ["logit", "beta"])
def test_ciprop_by_dest(des: SurveyDesign, taylor: dict, method: str) -> None:
    """R: svyby(~fl | ~thb, ~dest, dm, svyciprop, method=..., vartype=c("se","ci"))."""
    got = des.proportion(["fl", "thb"], by="dest", subpop="migrant", ci=method).to_frame()
    for v in ["fl", "thb"]:
        for level, ref in taylor[f"ciprop_{method}_by_dest"][v].items():
            row = got[(got["variable"] == v) & (got["dest"] == level)].iloc[0]
            assert row["estimate"] == pytest.approx(ref["est"], rel=1e-7), (v, level)
            assert row["se"] == pytest.approx(ref["se"], rel=EST), (v, level)
            if ref["lci"] is None:
                assert np.isnan(row["ci_low"]) and row["flag"] is not None
            else:
                assert row["ci_low"] == pytest.approx(ref["lci"], rel=CI), (v, level)
                assert row["ci_high"] == pytest.approx(ref["uci"], rel=CI), (v, level)


def test_degf(des: SurveyDesign, taylor: dict) -> None:
    """R: degf(des), degf(dm), degf(subset(des, migrant == 1 & dest == lev)), and by sex."""
    ref = taylor["degf"]
    assert des.degf == ref["all"]
    assert des.mean("fl", subpop="migrant").to_frame()["df"].iloc[0] == ref["migrant"]
    for by, prefix in (("dest", "migrant_dest_"), ("sex", "migrant_sex_")):
        got = des.mean("fl", by=by, subpop="migrant").to_frame()
        for key, value in ref.items():
            if key.startswith(prefix):
                level = key[len(prefix):]
                assert got.loc[got[by] == level, "df"].iloc[0] == value, key
