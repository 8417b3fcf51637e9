"""Covariances and contrasts of estimates against R survey on the California API samples.

Reference: ``tests/reference/data/contrast_reference.json``, made by
``r_contrast_reference.R`` (R 4.1.1, survey 4.1.1) from ``data(api)`` (the CSV files beside
it). Designs: ``svydesign(id=~1, strata=~stype, weights=~pw, fpc=~fpc, data=apistrat)``,
``svydesign(id=~dnum, weights=~pw, fpc=~fpc, data=apiclus1)``, ``svydesign(id=~dnum+snum,
fpc=~fpc1+fpc2, data=apiclus2)``; replicate: ``as.svrepdesign(., type="JKn")`` of apistrat,
``type="JK1"`` of apiclus1. Statistics: ``vcov(svymean(~api00+api99))``,
``vcov(svytotal(~api00+api.stu))``, ``vcov(svymean(~stype))``, ``svycontrast`` (linear,
``quote(api00/api99)``, ``quote(log(api00)-log(api99))``), ``vcov(svyby(~api00+api99, ~stype,
svymean, covmat=TRUE))``, the same by ``svyrecvar`` on the influence functions, and
``svyglm(api00 ~ stype)``. Tolerance 1e-8 relative (estimates, SEs, covariances).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flestimate import SurveyDesign
from flestimate.protocol import Design
from tests.conftest import load_api

DATA = Path(__file__).resolve().parent / "data"
REL = 1e-8


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    results: dict[str, Any] = json.loads((DATA / "contrast_reference.json").read_text())["results"]
    return results


def _taylor(name: str) -> SurveyDesign:
    if name.startswith("apistrat"):
        return SurveyDesign(load_api("apistrat"), weights="pw", strata="stype", fpc="fpc")
    if name.startswith("apiclus1"):
        return SurveyDesign(load_api("apiclus1"), weights="pw", psu="dnum", fpc="fpc")
    return SurveyDesign(load_api("apiclus2"), psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])


def _design(name: str) -> Design:
    taylor = _taylor(name)
    if name.endswith("_JKn"):
        return taylor.to_replicate("jkn")
    if name.endswith("_JK1"):
        return taylor.to_replicate("jk1")
    return taylor


TAYLOR = ["apistrat_fpc", "apiclus1_fpc", "apiclus2_fpc2stage"]
REPLICATE = ["apistrat_fpc_JKn", "apiclus1_fpc_JK1"]
#: svyby's order (domains within variable) from ours (variables within domain), 3 x 2
VARIABLE_MAJOR = np.array([0, 2, 4, 1, 3, 5])


def _close(ours: Any, theirs: Any) -> None:
    # atol: a covariance that is exactly 0 in R (shares of the strata of a design stratified
    # by them) is rounding here, 1e-18
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float),
                               rtol=REL, atol=1e-15)


@pytest.mark.parametrize("name", TAYLOR + REPLICATE)
def test_vcov_of_two_means(name: str, ref: dict[str, Any]) -> None:
    """R: ``vcov(svymean(~api00+api99, des))``."""
    _close(_design(name).mean(["api00", "api99"]).vcov().to_numpy(), ref[name]["mean_vcov"])


@pytest.mark.parametrize("name", TAYLOR)
def test_vcov_of_totals_and_of_category_shares(name: str, ref: dict[str, Any]) -> None:
    """R: ``vcov(svytotal(~api00+api.stu))``; ``vcov(svymean(~stype))`` (the shares of the
    categories E, H, M)."""
    des = _design(name)
    _close(des.total(["api00", "api.stu"]).vcov().to_numpy(), ref[name]["total_vcov"])
    shares = des.proportion("stype").vcov()
    assert list(shares.index.get_level_values("category")) == ["E", "H", "M"]
    _close(shares.to_numpy(), ref[name]["stype_mean_vcov"])


@pytest.mark.parametrize("name", TAYLOR + REPLICATE)
def test_vcov_between_domains(name: str, ref: dict[str, Any]) -> None:
    """R: ``vcov(svyby(~api00+api99, ~stype, des, svymean, covmat=TRUE))``, reordered, and
    for Taylor designs the same matrix from ``svyrecvar`` on the influence functions."""
    est = _design(name).mean(["api00", "api99"], by="stype", covmat=True)
    cov = est.vcov()
    assert list(cov.index) == [(d, v) for d in "EHM" for v in ("api00", "api99")]
    ours = cov.to_numpy()
    _close(est.to_frame()["estimate"].to_numpy()[VARIABLE_MAJOR], ref[name]["by_coef"])
    if name in TAYLOR:
        _close(ours, ref[name]["by_full_vcov"])
        _close(ours[np.ix_(VARIABLE_MAJOR, VARIABLE_MAJOR)], ref[name]["by_vcov"])
    else:
        _close(ours[np.ix_(VARIABLE_MAJOR, VARIABLE_MAJOR)], ref[name]["by_full_vcov"])
    # the diagonal is the variance the estimator reports
    _close(np.sqrt(np.diag(ours)), est.to_frame()["se"].to_numpy())


@pytest.mark.parametrize("name", TAYLOR)
def test_contrasts_of_two_means(name: str, ref: dict[str, Any]) -> None:
    """R: ``svycontrast(m, c(api00=1, api99=-1))``, ``svycontrast(m, quote(api00/api99))``,
    ``svycontrast(m, quote(log(api00)-log(api99)))`` with ``m = svymean(~api00+api99)``."""
    m = _design(name).mean(["api00", "api99"])
    r = ref[name]
    lin = m.contrast({"api00": 1, "api99": -1}).to_frame().iloc[0]
    _close([lin["estimate"], lin["se"]], [r["contrast_linear"]["est"], r["contrast_linear"]["se"]])
    both = m.contrast({"ratio": lambda e: e["api00"] / e["api99"],
                       "log ratio": lambda e: np.log(e["api00"]) - np.log(e["api99"])}).to_frame()
    _close(both["estimate"], [r["contrast_ratio"]["est"], r["contrast_logratio"]["est"]])
    _close(both["se"], [r["contrast_ratio"]["se"], r["contrast_logratio"]["se"]])


@pytest.mark.parametrize("name", TAYLOR)
def test_difference_of_domain_means_is_the_glm_coefficient(name: str,
                                                          ref: dict[str, Any]) -> None:
    """R: ``svyglm(api00 ~ stype, des)``: the coefficients of stype H and M are the
    differences of their domain means from E's, with the same SEs."""
    m = _design(name).mean("api00", by="stype", covmat=True)
    g = ref[name]["glm_domain_difference"]
    for level, i in (("H", 1), ("M", 2)):
        d = m.difference(level, "E").to_frame().iloc[0]
        assert d["contrast"] == f"{level} - E"
        _close([d["estimate"], d["se"]], [g["est"][i], g["se"][i]])


@pytest.mark.parametrize("name", REPLICATE)
def test_contrasts_between_domains_on_replicate_designs(name: str, ref: dict[str, Any]) -> None:
    """R: ``svycontrast(by, c("E:api00"=1, "H:api00"=-1))`` and ``svycontrast(by,
    quote(`E:api00`/`M:api00`))`` on ``svyby(~api00+api99, ~stype, rd, svymean,
    covmat=TRUE)``."""
    by = _design(name).mean(["api00", "api99"], by="stype", covmat=True)
    r = ref[name]
    d = by.difference(("E", "api00"), ("H", "api00")).to_frame().iloc[0]
    _close([d["estimate"], d["se"]], [r["contrast_domains"]["est"], r["contrast_domains"]["se"]])
    q = by.contrast(lambda e: e[("E", "api00")] / e[("M", "api00")]).to_frame().iloc[0]
    _close([q["estimate"], q["se"]],
           [r["contrast_domain_ratio"]["est"], r["contrast_domain_ratio"]["se"]])


@pytest.mark.needs_r
def test_the_r_script_gives_the_fixture(tmp_path: Path) -> None:
    """Live: rerun ``r_contrast_reference.R`` and compare with the committed fixture."""
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not found")
    subprocess.run(["Rscript", str(DATA / "r_contrast_reference.R"), str(tmp_path)], check=True,
                   capture_output=True, timeout=600)
    live = json.loads((tmp_path / "contrast_reference.json").read_text())["results"]
    committed = json.loads((DATA / "contrast_reference.json").read_text())["results"]
    assert live.keys() == committed.keys()
    for name in live:
        for key, value in live[name].items():
            if key == "glm_domain_difference":
                _close(value["se"], committed[name][key]["se"])
            else:
                _close(np.ravel(np.asarray(_numbers(value), dtype=float)),
                       np.ravel(np.asarray(_numbers(committed[name][key]), dtype=float)))


def _numbers(value: Any) -> Any:
    return [value["est"], value["se"]] if isinstance(value, dict) else value
