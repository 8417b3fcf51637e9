"""Tests of association against R survey's ``svychisq`` on the California API samples.

Reference: ``tests/reference/data/chisq_reference.json``, made by ``r_chisq_reference.R`` (R
4.1, survey 4.1.1, jsonlite) from ``data(api)`` (the CSV files beside it). Designs:
``svydesign(id=~1, strata=~stype, weights=~pw, fpc=~fpc, data=apistrat)``,
``svydesign(id=~dnum, weights=~pw, fpc=~fpc, data=apiclus1)``, ``svydesign(id=~dnum+snum,
fpc=~fpc1+fpc2, data=apiclus2)``; replicate: ``as.svrepdesign(., type="JKn")`` of apistrat,
``type="JK1"`` of apiclus1. Calls: ``svychisq(~sch.wide+stype, des, statistic=s)`` and the
tables ``~stype+awards``, ``~comp.imp+both`` (a zero cell in apistrat), ``~stype+band`` (3 x 4),
``~k3+sch.wide`` (missing values), each with ``s`` in F, Chisq, Wald, adjWald, saddlepoint;
``svychisq(~stype+awards, subset(des, api00 > 600), ...)``; ``svytable()``; the eigenvalues of
svychisq's ``Delta``. Tolerances: statistics and p-values 1e-6 relative; df 1e-8 (exact
formulas); the saddlepoint's p-values below 1e-30 1e-5 (R finds its root to 1e-8 only).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flestimate import SurveyDesign
from flestimate.chisq import ChisqTest
from flestimate.protocol import Design
from tests.conftest import load_api

DATA = Path(__file__).resolve().parent / "data"
STAT = 1e-6
EXACT = 1e-8

TAYLOR = ["apistrat_fpc", "apiclus1_fpc", "apiclus2_fpc2stage"]
REPLICATE = ["apistrat_fpc_JKn", "apiclus1_fpc_JK1"]
TABLES = ["sch.wide_stype", "stype_awards", "comp.imp_both", "stype_band", "k3_sch.wide"]
STATISTICS = ["F", "Chisq", "Wald", "adjWald", "saddlepoint"]


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    results: dict[str, Any] = json.loads((DATA / "chisq_reference.json").read_text())["results"]
    return results


def api_frame(name: str) -> pd.DataFrame:
    """The API sample with the script's derived columns ``k3`` (missing where ``acs.k3`` is)
    and ``band`` (``cut(api00, c(0, 600, 700, 800, 1000))``)."""
    frame = load_api(name)
    k3 = frame["acs.k3"]
    frame["k3"] = pd.Series(np.where(k3 <= 19, "small", "large"), dtype=object).where(k3.notna())
    frame["band"] = pd.cut(frame["api00"], [0, 600, 700, 800, 1000], labels=list("abcd"))
    return frame


def api_design(name: str) -> Design:
    if name.startswith("apistrat"):
        taylor = SurveyDesign(api_frame("apistrat"), weights="pw", strata="stype", fpc="fpc")
    elif name.startswith("apiclus1"):
        taylor = SurveyDesign(api_frame("apiclus1"), weights="pw", psu="dnum", fpc="fpc")
    else:
        taylor = SurveyDesign(api_frame("apiclus2"), psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
    if name.endswith("_JKn"):
        return taylor.to_replicate("jkn")
    if name.endswith("_JK1"):
        return taylor.to_replicate("jk1")
    return taylor


def _test(design: Design, table: str, statistic: str, **kw: Any) -> ChisqTest:
    row, col = table.split("_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the missing values of k3
        test: ChisqTest = design.chisq(row, col, statistic=statistic, **kw)  # type: ignore[attr-defined]
    return test


def _check(test: ChisqTest, theirs: dict[str, Any], statistic: str) -> None:
    got = test.to_frame().iloc[0]
    par = theirs["parameter"]
    if statistic in ("Chisq", "saddlepoint"):  # R's statistic is the unadjusted X^2
        assert got["pearson"] == pytest.approx(theirs["statistic"], rel=STAT)
    else:
        assert got["value"] == pytest.approx(theirs["statistic"], rel=STAT)
    tiny = statistic == "saddlepoint" and theirs["p_value"] < 1e-30
    assert got["p_value"] == pytest.approx(theirs["p_value"], rel=1e-5 if tiny else STAT)
    if statistic == "Chisq":
        assert got["df"] == pytest.approx(par["df"], rel=EXACT)
    elif statistic == "F":
        assert got["ndf"] == pytest.approx(par["ndf"], rel=STAT)
        assert got["ddf"] == pytest.approx(par["ddf"], rel=STAT)
    elif statistic != "saddlepoint":
        assert got["ndf"] == pytest.approx(par["ndf"], rel=EXACT)
        assert got["ddf"] == pytest.approx(par["ddf"], rel=EXACT)


@pytest.mark.parametrize("statistic", STATISTICS)
@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("name", TAYLOR + REPLICATE)
def test_svychisq(name: str, table: str, statistic: str, ref: dict[str, Any]) -> None:
    """R: ``svychisq(~row + col, des, statistic=statistic)`` (survey 4.1.1)."""
    _check(_test(api_design(name), table, statistic), ref[name][table][statistic], statistic)


@pytest.mark.parametrize("statistic", STATISTICS)
@pytest.mark.parametrize("name", TAYLOR + REPLICATE)
def test_svychisq_in_a_subset(name: str, statistic: str, ref: dict[str, Any]) -> None:
    """R: ``svychisq(~stype + awards, subset(des, api00 > 600), statistic=statistic)``."""
    design = api_design(name)
    subpop = (design.data["api00"] > 600).to_numpy()
    test = _test(design, "stype_awards", statistic, subpop=subpop)
    _check(test, ref[name]["subset_api00_gt600"]["stype_awards"][statistic], statistic)


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("name", TAYLOR + REPLICATE)
def test_weighted_table_and_design_effects(name: str, table: str, ref: dict[str, Any]) -> None:
    """R: ``svytable(~row + col, des)`` (of a replicate design, scaled by R to the sum of
    all the weights, rows with missing values included); svychisq's ``N`` and the eigenvalues of its
    ``Delta`` (``eigen(Delta)$values``, the script's copy of svychisq's code)."""
    theirs = ref[name][table]
    test = _test(api_design(name), table, "F")
    observed = test.observed
    assert [str(v) for v in observed.index] == theirs["table"]["rows"]
    assert [str(v) for v in observed.columns] == theirs["table"]["cols"]
    counts = observed.to_numpy()
    if name in REPLICATE:  # R's svytable of a replicate design scales to sum(weights), NA rows too
        design = api_design(name)
        counts = counts * design.weights.sum() / counts.sum()
    np.testing.assert_allclose(counts, theirs["table"]["counts"], rtol=EXACT)
    np.testing.assert_allclose(test.deff_eigenvalues, theirs["delta"]["eigenvalues"],
                               rtol=STAT)
    got = test.to_frame().iloc[0]
    assert got["n_total"] == theirs["delta"]["N"]
    assert got["mean_deff"] == pytest.approx(np.mean(theirs["delta"]["eigenvalues"]), rel=STAT)


@pytest.mark.needs_r
def test_the_r_script_gives_the_fixture(tmp_path: Path) -> None:
    """Live: rerun ``r_chisq_reference.R`` and compare every number with the committed
    fixture (and so with flestimate, which the tests above compare with the fixture)."""
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not found")
    subprocess.run(["Rscript", str(DATA / "r_chisq_reference.R"), str(tmp_path)], check=True,
                   capture_output=True, timeout=600)
    live = json.loads((tmp_path / "chisq_reference.json").read_text())["results"]
    committed = json.loads((DATA / "chisq_reference.json").read_text())["results"]
    assert _numbers(live) == pytest.approx(_numbers(committed), rel=1e-12)


def _numbers(value: Any) -> list[float]:
    """Every number of a JSON tree, in order."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return [float(value)] if isinstance(value, int | float) else []
