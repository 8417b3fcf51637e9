"""Lonely-PSU rules against R survey.

Reference: ``tests/reference/data/lonely_reference.json``, made by ``r_lonely_reference.R``
(R 4.2.2, survey 4.1.1) on ``lonely.csv`` (6 strata; strata 1 and 2 have a single PSU; in
stratum 6 domain "b" lies in one PSU only)::

    options(survey.lonely.psu = RULE, survey.adjust.domain.lonely = FALSE | TRUE)
    des <- svydesign(ids=~psu, strata=~stratum, weights=~w, data=d)
    svymean(~y+z, des); svytotal(~y+z, des); svyby(~y+z, ~dom, des, svymean)

R 4.1.1 centres a lonely PSU under "adjust" on zero, later versions on the grand mean of the
PSU totals; flestimate follows the later rule. For means the two coincide (linearised values
sum to zero), so means are compared for every rule; "adjust" totals are checked by hand.
Tolerance 1e-8 relative.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from flestimate import LonelyPSUError, SurveyDesign
from flestimate.errors import FlestimateWarning
from tests.conftest import DATA

REF = json.loads((DATA / "lonely_reference.json").read_text())["results"]
FRAME = pd.read_csv(DATA / "lonely.csv")


def _design(rule: str, domain_lonely: bool = False) -> SurveyDesign:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)
        return SurveyDesign(FRAME, weights="w", strata="stratum", psu="psu", lonely_psu=rule,
                            adjust_domain_lonely=domain_lonely)


CASES = [(r, dl) for r in ("remove", "certainty", "adjust", "average") for dl in (False, True)]


@pytest.mark.parametrize(("rule", "domain_lonely"), CASES)
def test_mean(rule: str, domain_lonely: bool) -> None:
    """R: svymean(~y+z, des) under options(survey.lonely.psu=rule)."""
    ref = REF[rule + ("_domainlonely" if domain_lonely else "")]["mean"]
    got = _design(rule, domain_lonely).mean(["y", "z"]).to_frame()
    np.testing.assert_allclose(got["estimate"], ref["est"], rtol=1e-10)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-8)


@pytest.mark.parametrize(("rule", "domain_lonely"), CASES)
def test_by_domain(rule: str, domain_lonely: bool) -> None:
    """R: svyby(~y+z, ~dom, des, svymean), with and without survey.adjust.domain.lonely."""
    ref = REF[rule + ("_domainlonely" if domain_lonely else "")]["by_dom"]
    got = _design(rule, domain_lonely).mean(["y", "z"], by="dom").to_frame()
    for level, r in ref.items():
        sub = got[got["dom"] == level]
        np.testing.assert_allclose(sub["estimate"], r["est"], rtol=1e-10)
        np.testing.assert_allclose(sub["se"], r["se"], rtol=1e-8)


@pytest.mark.parametrize("rule", ["remove", "certainty", "average"])
def test_total(rule: str) -> None:
    """R: svytotal(~y+z, des) under options(survey.lonely.psu=rule)."""
    ref = REF[rule]["total"]
    got = _design(rule).total(["y", "z"]).to_frame()
    np.testing.assert_allclose(got["estimate"], ref["est"], rtol=1e-10)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-8)


def test_adjust_total_by_hand() -> None:
    """'adjust': a lonely PSU's total is centred on the grand mean of all PSU totals.

    V = sum over strata with n_h >= 2 of n_h/(n_h-1) sum (t_hi - tbar_h)^2
        + sum over lonely strata of (t_h1 - tbar)^2,  tbar = sum_hi t_hi / #PSUs.
    """
    t = (FRAME["w"] * FRAME["y"]).groupby([FRAME["stratum"], FRAME["psu"]]).sum()
    grand = t.mean()
    var = 0.0
    for _, th in t.groupby(level=0):
        n_h = len(th)
        if n_h == 1:
            var += (th.iloc[0] - grand) ** 2
        else:
            var += n_h / (n_h - 1) * ((th - th.mean()) ** 2).sum()
    got = _design("adjust").total("y").to_frame().iloc[0]
    assert got["se"] == pytest.approx(np.sqrt(var), rel=1e-12)


def test_fail_names_the_strata() -> None:
    with pytest.raises(LonelyPSUError, match=r"2 stratum/strata have a single PSU: 1, 2"):
        SurveyDesign(FRAME, weights="w", strata="stratum", psu="psu")


def test_other_rules_warn_with_code() -> None:
    with pytest.warns(FlestimateWarning, match=r"\[LONELY_PSU\]"):
        SurveyDesign(FRAME, weights="w", strata="stratum", psu="psu", lonely_psu="remove")


def test_certainty_stratum_is_not_lonely() -> None:
    """R (lonely.psu="fail"): svymean/svytotal(~y+z, svydesign(ids=~psu, strata=~stratum,
    weights=~w, fpc=~fpc, data=d[d$stratum != 1, ])): stratum 2 has fpc = 1 (fully sampled)."""
    ref = REF["certainty_fpc"]
    des = SurveyDesign(FRAME[FRAME["stratum"] != 1], weights="w", strata="stratum", psu="psu",
                       fpc="fpc")
    for stat in ("mean", "total"):
        got = getattr(des, stat)(["y", "z"]).to_frame()
        np.testing.assert_allclose(got["estimate"], ref[stat]["est"], rtol=1e-10)
        np.testing.assert_allclose(got["se"], ref[stat]["se"], rtol=1e-8)
