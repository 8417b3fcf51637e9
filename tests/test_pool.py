"""``pool_reports``: national surveys pooled into one design stratified by survey.

References: hand identities of stratified Taylor variance (independent strata add), the single
surveys' own reports, and ``from_reports``' independent-totals approximation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import flestimate as fl
from flestimate.errors import ArgumentError, ArgumentTypeError
from flestimate.report import PrevalenceReport, estimate_prevalence, pool_reports

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
pytestmark = pytest.mark.filterwarnings("ignore::flestimate.FlestimateWarning")
COLS = ["estimate", "se", "ci_low", "ci_high", "df", "n", "n_cases"]


# Exactness of the pooled design is shown on the minimum estimates (one design, no
# imputation); test_pooled_imputed_reports shows the imputed path.
@pytest.fixture(scope="module")
def georgia() -> PrevalenceReport:
    return estimate_prevalence(DATA / "georgia_synthetic_persons.dta", "georgia-synthetic",
                               households=DATA / "georgia_synthetic_households.dta", by="sex",
                               missing="minimum", disclosure="none")


@pytest.fixture(scope="module")
def moldova() -> PrevalenceReport:
    return estimate_prevalence(DATA / "moldova_synthetic.sav", "moldova-2008-synthetic",
                               by="sex", missing="minimum", disclosure="none")


def _rows(report: PrevalenceReport, table: str, by: str, domain: str) -> pd.DataFrame:
    t = report.to_frame()
    out: pd.DataFrame = t[(t["table"] == table) & (t["by"] == by) & (t["domain"] == domain)]
    return out.reset_index(drop=True)


def test_one_survey_pooled_is_that_survey(georgia: PrevalenceReport) -> None:
    """A design with one survey's strata only is that survey's design: every national figure
    (estimate, SE, CI, df, n, cases, flags) equals the report's, and its unit domain too."""
    pooled = pool_reports({"GEO": georgia}, by="sex", disclosure="none")
    for table in ("prevalence", "trafficked_by_form", "forced_labour_by_form"):
        mine = _rows(pooled, table, "national", "all")
        ref = _rows(georgia, table, "national", "all")
        pd.testing.assert_frame_equal(mine[COLS], ref[COLS], rtol=1e-10, atol=1e-12)
        assert (mine["reliability"] == ref["reliability"]).all()
        unit = _rows(pooled, table, "country", "GEO")
        pd.testing.assert_frame_equal(unit[COLS], ref[COLS], rtol=1e-10, atol=1e-12)
    sex = _rows(pooled, "prevalence", "sex", "female")
    pd.testing.assert_frame_equal(sex[COLS], _rows(georgia, "prevalence", "sex", "female")[COLS],
                                  rtol=1e-10, atol=1e-12)


def test_pooled_imputed_report_is_each_survey_in_its_domain() -> None:
    """Multiple imputation pools completion by completion: a survey pooled alone gives its
    own imputed estimates, Rubin SEs, fractions of missing information and minimums, nationally
    and in its unit domain (the completions and the non-response adjustment travel with the
    report)."""
    geo = estimate_prevalence(DATA / "georgia_synthetic_persons.dta", "georgia-synthetic",
                              households=DATA / "georgia_synthetic_households.dta",
                              imputations=5, disclosure="none")
    pooled = pool_reports({"GEO": geo}, disclosure="none")
    assert pooled.provenance["missing"]["imputations"] == 5
    cols = ["estimate", "se", "fmi", "minimum", "bound_low", "bound_high"]
    for table in ("prevalence", "trafficked_by_form"):
        ref = _rows(geo, table, "national", "all")
        for by, domain in (("national", "all"), ("country", "GEO")):
            mine = _rows(pooled, table, by, domain)
            pd.testing.assert_frame_equal(mine[cols], ref[cols], rtol=1e-10, atol=1e-12)
    with pytest.raises(ArgumentError, match=r"different numbers of imputations \(5, 20\)"):
        pool_reports({"A": geo, "B": estimate_prevalence(
            DATA / "georgia_synthetic_persons.dta", "georgia-synthetic",
            households=DATA / "georgia_synthetic_households.dta")})


def test_independent_surveys_add(georgia: PrevalenceReport) -> None:
    """Stratified Taylor variance: strata of independent surveys add. The same survey pooled
    twice (ids A and B): numbers double and their variances double; shares and their SEs of a
    share are unchanged in estimate, with variance halved (each half of the pooled population
    contributes a quarter of its own variance, twice)."""
    pooled = pool_reports({"A": georgia, "B": georgia}, disclosure="none")
    one = _rows(georgia, "prevalence", "national", "all")
    two = _rows(pooled, "prevalence", "national", "all")
    num1, num2 = one[one["measure"] == "number"], two[two["measure"] == "number"]
    np.testing.assert_allclose(num2["estimate"], 2 * num1["estimate"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(num2["se"] ** 2, 2 * num1["se"].to_numpy() ** 2, rtol=1e-10)
    sh1, sh2 = one[one["measure"] == "share"], two[two["measure"] == "share"]
    np.testing.assert_allclose(sh2["estimate"], sh1["estimate"], rtol=1e-12)
    np.testing.assert_allclose(sh2["se"] ** 2, sh1["se"].to_numpy() ** 2 / 2, rtol=1e-10)
    assert (sh2["n"].to_numpy() == 2 * sh1["n"].to_numpy()).all()


def test_pooled_breakdown_agrees_with_the_independent_totals_approximation(
        moldova: PrevalenceReport, georgia: PrevalenceReport) -> None:
    """The pooled share of the trafficked by form has the same point estimate as
    ``from_reports`` (sum_c s_cf T_c / sum_c T_c) and an SE within 2% of its approximation,
    which drops the within-survey covariance of a share and its total."""
    pooled = pool_reports({"MDA": moldova, "GEO": georgia}, lonely_psu="adjust",
                          disclosure="none")
    approx = fl.aggregate.from_reports({"MDA": moldova, "GEO": georgia}, disclosure="none")
    a = approx.table("trafficked_by_form")
    a = a[a["quantity"] == "share"].set_index("component")
    p = _rows(pooled, "trafficked_by_form", "national", "all").set_index("indicator")
    for form in ("economic_exploitation", "mixed_undetermined", "state_imposed"):
        assert p.loc[form, "estimate"] == pytest.approx(a.loc[form, "estimate"], rel=1e-12)
        assert p.loc[form, "se"] == pytest.approx(a.loc[form, "se"], rel=0.02)
    nat = _rows(pooled, "prevalence", "national", "all")
    num = nat[(nat["measure"] == "number") & (nat["indicator"] == "trafficked")].iloc[0]
    parts = [_rows(r, "prevalence", "national", "all") for r in (moldova, georgia)]
    total = sum(t[(t["measure"] == "number") & (t["indicator"] == "trafficked")]["estimate"]
                .iloc[0] for t in parts)
    assert num["estimate"] == pytest.approx(total, rel=1e-12)
    assert pooled.provenance["spec"]["name"] == "pooled"
    assert [u["country"] for u in pooled.provenance["pooled"]] == ["MDA", "GEO"]
    assert pooled.provenance["universe"]["in_universe"] == 2954 + 1048


def test_errors_name_the_fault(moldova: PrevalenceReport, georgia: PrevalenceReport) -> None:
    with pytest.raises(ArgumentError, match="designs differ \\(adjust, fail\\)"):
        pool_reports({"MDA": moldova, "GEO": georgia})
    with pytest.raises(ArgumentError, match="\\['region'\\] not in the estimation frame of 'MDA'"):
        pool_reports({"MDA": moldova}, by="region")
    with pytest.raises(ArgumentTypeError, match="'X' is a DataFrame"):
        pool_reports({"X": moldova.to_frame()})
    with pytest.raises(ArgumentError, match="empty"):
        pool_reports({})
