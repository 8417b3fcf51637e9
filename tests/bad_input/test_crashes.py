"""Odd but valid inputs that crashed (issue 15, section 2): each gives a valid report with the
right values or one clear FlestimateError naming the argument or column.

The data are the shipped Moldova-style synthetic file (``data/synthetic/moldova_synthetic.sav``,
spec ``moldova-2008-synthetic``) changed in one way: nobody trafficked (every recruitment item
``q5_02``-``q5_11`` answered "no" and the 15-17 year olds made 18, since the child rule
trafficks a child in forced labour who moved without any recruitment item), a universe of one
person, every weight equal, a ``by`` column of one level or missing everywhere, an empty
universe; and ``level=0.5`` and ``ci="wald"`` on the file as shipped. Every case uses
``missing="minimum"`` (one case the default imputation, with M = 2) to stay fast.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from flestimate.errors import DataError, EstimationError, FlestimateError
from flestimate.io import read_microdata
from flestimate.report import PrevalenceReport, estimate_prevalence

from .conftest import SYNTHETIC, assert_one_line_error, files_in, run_cli

pytest.importorskip("pyreadstat")

MOLDOVA = SYNTHETIC / "moldova_synthetic.sav"
SPEC = "moldova-2008-synthetic"
RECRUITMENT = [f"q5_{i:02d}" for i in range(2, 12)]  # inv_rec_* and pen_*__recruitment items
# Disclosure control (another section of issue 15) blanks cells of few respondents; the value
# checks below read such cells, so they ask for the unprotected table.
_RAW = ({"disclosure": "none"}
        if "disclosure" in inspect.signature(estimate_prevalence).parameters else {})


@pytest.fixture(scope="module")
def persons() -> pd.DataFrame:
    return read_microdata(MOLDOVA).frame


def _in_universe(f: pd.DataFrame) -> pd.Series:
    return (f["q1_03"] >= 15) & f["q3_01"].isin([2, 3])


# -- the spoilt files ------------------------------------------------------------------------
def no_trafficked(f: pd.DataFrame) -> pd.DataFrame:
    """Nobody trafficked: every recruitment item "no" (code 2), no child in the universe."""
    f = f.copy()
    f[RECRUITMENT] = 2.0
    f.loc[f["q1_03"].between(15, 17), "q1_03"] = 18.0
    return f


def one_person(f: pd.DataFrame) -> pd.DataFrame:
    """Only the first person of the universe stays in it (the others become non-migrants)."""
    f = f.copy()
    uni = _in_universe(f).to_numpy()
    out = uni.copy()
    out[np.flatnonzero(uni)[0]] = False
    f.loc[out, "q3_01"] = 1.0
    return f


def equal_weights(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(w_pers=1.0)


def one_region(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(urb=1.0)  # everybody urban: a by column with one level


def sex_missing(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(q1_02=np.nan)


def empty_universe(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(q3_01=1.0)


def as_shipped(f: pd.DataFrame) -> pd.DataFrame:
    return f


# -- the checks of a valid report --------------------------------------------------------------
def _rows(report: PrevalenceReport, table: str = "prevalence", measure: str = "share",
          indicator: str = "trafficked") -> pd.DataFrame:
    t = report.to_frame()
    return t[(t["table"] == table) & (t["measure"] == measure) & (t["indicator"] == indicator)]


def _renders(report: PrevalenceReport) -> str:
    """Every view of the report is built without an exception; the HTML is returned."""
    report.summary()
    repr(report)
    for table in ("prevalence", "trafficked_by_form", "forced_labour_by_form"):
        for by in report.margins:
            report.publication_table(table, by)
    return report.to_html()


def zero_trafficked(domains: dict[str, set[str]]) -> Callable[[PrevalenceReport], None]:
    """The trafficked share and number are exactly 0 in every domain (with the NCHS one-sided
    interval flag); the shares by form have an empty-domain row for every form of every
    domain of every margin."""
    def check(report: PrevalenceReport) -> None:
        for measure in ("share", "number"):
            rows = _rows(report, measure=measure)
            assert (rows["estimate"] == 0).all(), rows
            assert (rows["n_cases"] == 0).all()
            got = {b: set(rows.loc[rows["by"] == b, "domain"]) for b in domains}
            assert got == domains
        share = _rows(report)
        assert (share["ci_low"] == 0).all() and (share["ci_high"] > 0).all()
        assert share["ci_flag"].str.contains("p=0").all()
        forms = report.to_frame().query("table == 'trafficked_by_form'")
        assert {b: set(forms.loc[forms["by"] == b, "domain"]) for b in domains} == domains
        assert forms["estimate"].isna().all() and (forms["n"] == 0).all()
        assert (forms["ci_flag"] == "empty domain").all()
        assert len(forms) == 4 * sum(len(d) for d in domains.values())  # four forms
        assert "Trafficked for forced labour" in _renders(report)
    return check


SEXES = {"female", "male"}
REGIONS = {"Balti", "Centre", "Chisinau", "Gagauzia", "North", "South", "Taraclia"}


def taraclia_no_case(report: PrevalenceReport) -> None:
    """Taraclia has no trafficked person: share 0, and its shares by form are empty-domain rows
    (they were left out, so the region vanished from the table)."""
    share = _rows(report).set_index("domain")
    assert share.at["Taraclia", "estimate"] == 0 and share.at["Taraclia", "n_cases"] == 0
    forms = report.to_frame().query("table == 'trafficked_by_form' and by == 'region'")
    assert set(forms["domain"]) == REGIONS
    empty = forms[forms["domain"] == "Taraclia"]
    assert len(empty) == 4 and (empty["ci_flag"] == "empty domain").all()
    assert (forms.loc[forms["domain"] != "Taraclia", "n"] > 0).all()
    _renders(report)


def one_person_report(report: PrevalenceReport) -> None:
    """One person in the universe: n = 1, a share of 0 or 1 without an interval (df 0),
    suppressed by the reliability rules."""
    rows = _rows(report, indicator="forced_labour")
    assert (rows["n"] == 1).all()
    assert rows["estimate"].isin([0.0, 1.0]).all()
    assert rows["ci_low"].isna().all() and (rows["df"] <= 0).all()
    assert (rows["reliability"] == "suppress").all()
    assert report.provenance["universe"]["in_universe"] == 1
    _renders(report)


def one_person_imputed(report: PrevalenceReport) -> None:
    """One undetermined respondent and nobody to learn the missing answers from: the classes
    are not estimable (blank, suppressed with the reason), the undetermined share is 1."""
    rows = _rows(report, indicator="forced_labour")
    assert (rows["n"] == 1).all() and rows["estimate"].isna().all()
    assert rows["reliability_reason"].str.startswith("not estimable").all()
    und = _rows(report, indicator="undetermined")
    assert (und["estimate"] == 1.0).all()
    assert "perpetrator" in report.provenance["missing"]["model"]["not_imputed"]


def unweighted_share(report: PrevalenceReport) -> None:
    """Every weight equal: each share is the unweighted one, cases over persons."""
    for indicator in ("forced_labour", "trafficked"):
        rows = _rows(report, indicator=indicator)
        assert np.allclose(rows["estimate"], rows["n_cases"] / rows["n"], rtol=0, atol=1e-12)
        assert (rows["n"] > 0).all()
    assert report.provenance["design"]["kish_deff_weights"] == pytest.approx(1.0, abs=1e-12)


def one_level(report: PrevalenceReport) -> None:
    """A by column of one level: its one domain is the whole universe, equal to national."""
    t = report.to_frame()
    nat = t[t["by"] == "national"].reset_index(drop=True)
    dom = t[t["by"] == "urban"].reset_index(drop=True)
    assert set(dom["domain"]) == {"urban"}
    cols = ["table", "measure", "indicator", "estimate", "se", "ci_low", "ci_high", "n"]
    pd.testing.assert_frame_equal(nat[cols], dom[cols])
    _renders(report)


def half_level(report: PrevalenceReport) -> None:
    """level=0.5: a narrower interval than the 95% one around the same estimate, and the HTML
    says 50%."""
    assert report.provenance["level"] == 0.5
    rows = _rows(report, indicator="forced_labour")
    assert ((rows["ci_low"] < rows["estimate"]) & (rows["estimate"] < rows["ci_high"])).all()
    wide = estimate_prevalence(MOLDOVA, SPEC, missing="minimum", by=["sex"], **_RAW)
    w = _rows(wide, indicator="forced_labour")
    assert np.allclose(rows["estimate"], w["estimate"])
    assert ((rows["ci_high"] - rows["ci_low"]).to_numpy()
            < (w["ci_high"] - w["ci_low"]).to_numpy()).all()
    assert "korn-graubard 50% for shares" in _renders(report)


def wald(report: PrevalenceReport) -> None:
    """ci='wald': estimate -+ t(df) se for shares and numbers alike."""
    for measure in ("share", "number"):
        rows = _rows(report, measure=measure, indicator="forced_labour")
        t = stats.t.ppf(0.975, rows["df"].to_numpy(float))
        assert np.allclose(rows["ci_low"], rows["estimate"] - t * rows["se"], rtol=1e-10)
        assert np.allclose(rows["ci_high"], rows["estimate"] + t * rows["se"], rtol=1e-10)
    assert "wald 95% for shares" in _renders(report)


VALID = [
    ("no-trafficked-by-sex-every-dimension", no_trafficked,
     {"by": ["sex"], "plain_penalties": "every_dimension"},
     zero_trafficked({"national": {"all"}, "sex": SEXES})),
    ("no-trafficked-national", no_trafficked, {}, zero_trafficked({"national": {"all"}})),
    ("no-trafficked-sex-and-region", no_trafficked, {"by": ["sex", "region"]},
     zero_trafficked({"national": {"all"}, "sex": SEXES, "region": REGIONS})),
    ("no-trafficked-sex-by-region", no_trafficked, {"by": ["sex*region"]},
     zero_trafficked({"national": {"all"}, "sex*region": {
         f"{s} / {r}" for s in SEXES for r in REGIONS}})),
    ("no-trafficked-imputed", no_trafficked,
     {"by": ["sex"], "missing": "impute", "imputations": 2, "seed": 1,
      "plain_penalties": "every_dimension"},
     zero_trafficked({"national": {"all"}, "sex": SEXES})),
    ("domain-without-a-case", as_shipped, {"by": ["region"]}, taraclia_no_case),
    ("universe-of-one", one_person, {"by": ["sex"]}, one_person_report),
    ("universe-of-one-jkn", one_person, {"variance": "jkn"}, one_person_report),
    # a categorical item (the perpetrator) never observed: left missing, not an IndexError
    ("universe-of-one-imputed", one_person,
     {"by": ["sex"], "missing": "impute", "imputations": 2, "seed": 1}, one_person_imputed),
    ("equal-weights", equal_weights, {"by": ["sex"]}, unweighted_share),
    ("by-one-level", one_region, {"by": ["urban"]}, one_level),
    ("level-0.5", as_shipped, {"by": ["sex"], "level": 0.5}, half_level),
    ("ci-wald", as_shipped, {"by": ["sex"], "ci": "wald"}, wald),
]


@pytest.mark.parametrize(("spoil", "kwargs", "check"), [c[1:] for c in VALID],
                         ids=[c[0] for c in VALID])
def test_odd_input_gives_a_valid_report(persons: pd.DataFrame,
                                        spoil: Callable[[pd.DataFrame], pd.DataFrame],
                                        kwargs: dict[str, Any],
                                        check: Callable[[PrevalenceReport], None]) -> None:
    options = {"missing": "minimum", **_RAW, **kwargs}
    check(estimate_prevalence(spoil(persons), SPEC, **options))


ERRORS = [
    ("by-missing-everywhere", sex_missing, {"by": ["sex"]}, DataError,
     ["`by` margin 'sex' has no domain", "'sex'", "column 'q1_02'", "missing for all 2,954"]),
    ("by-cross-one-missing-everywhere", sex_missing, {"by": ["region", "sex*region"]},
     DataError, ["`by` margin 'sex*region'", "column 'q1_02'"]),
    ("by-missing-everywhere-imputed", sex_missing,
     {"by": ["sex"], "missing": "impute", "imputations": 2}, DataError,
     ["`by` margin 'sex'", "column 'q1_02'"]),
    ("empty-universe-with-by", empty_universe, {"by": ["sex"]}, DataError,
     ["no row is in the universe", "moldova-2008-synthetic", "'sex'"]),
]


@pytest.mark.parametrize(("spoil", "kwargs", "error", "words"), [c[1:] for c in ERRORS],
                         ids=[c[0] for c in ERRORS])
def test_odd_input_gives_one_clear_error(persons: pd.DataFrame,
                                         spoil: Callable[[pd.DataFrame], pd.DataFrame],
                                         kwargs: dict[str, Any], error: type[Exception],
                                         words: list[str]) -> None:
    with pytest.raises(error) as info:
        estimate_prevalence(spoil(persons), SPEC, **{"missing": "minimum", **kwargs})
    assert isinstance(info.value, FlestimateError)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_cli_by_missing_everywhere_is_one_line(persons: pd.DataFrame, tmp_path: Any,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The same through the CLI: exit 2, one line naming the margin and its column, and no
    report written."""
    pyreadstat = pytest.importorskip("pyreadstat")
    data = tmp_path / "in"
    data.mkdir()
    path = data / "moldova_no_sex.sav"
    pyreadstat.write_sav(sex_missing(persons), str(path))
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run_cli(["estimate", path, "--spec", SPEC, "--missing", "minimum",
                            "--by", "sex", "-o", out / "x.html"], capsys)
    assert_one_line_error(code, err, "`by` margin 'sex' has no domain", "column 'q1_02'",
                          "moldova_no_sex.sav")
    assert files_in(out) == set()


def test_plot_of_estimates_without_a_domain() -> None:
    """An Estimates table without a domain (an empty subpopulation) has nothing to draw: an
    EstimationError saying why, not an IndexError."""
    pytest.importorskip("matplotlib")
    from flestimate import SurveyDesign

    df = pd.DataFrame({"st": np.repeat([1, 2], 4), "psu": np.repeat(np.arange(4), 2),
                       "w": 1.0, "y": [0.0, 1.0] * 4, "s": ["a", "b"] * 4})
    design = SurveyDesign(df, strata="st", psu="psu", weights="w")
    result = design.proportion("y", by="s", subpop=np.zeros(8, dtype=bool))
    assert len(result.to_frame()) == 0
    with pytest.raises(EstimationError, match=r"`plot\(\)` has nothing to draw.*`by` 's'"):
        result.plot()


def test_universe_of_one_is_confidential(persons: pd.DataFrame) -> None:
    """Under the default disclosure rule a universe of one respondent publishes nothing: every
    cell is primary ("fewer than 3 respondents in the domain"), its values blank."""
    t = estimate_prevalence(one_person(persons), SPEC, by=["sex"]).to_frame()
    assert (t["disclosure"] == "primary").all()
    assert (t["disclosure_reason"] == "fewer than 3 respondents in the domain").all()
    assert t[["estimate", "se", "n_cases", "n"]].isna().all().all()
