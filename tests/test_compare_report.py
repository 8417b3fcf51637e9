"""``estimate_prevalence(..., compare=)``: the table of domain differences of the main job.

References: the minimum-estimate differences against ``SurveyDesign.proportion(...,
covmat=True).difference`` on the same file, design and classification (whose covariances are
R-validated in ``tests/reference/test_contrast_reference.py``: ``svyby(covmat=TRUE)`` and
``svycontrast``, R survey 4.1.1); the imputed differences against the identity "Rubin's
combined difference is the difference of the combined shares" (both are means over the same
completions); the disclosure rule (docs/disclosure.md): a difference is published only when
both shares it compares are.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import flestimate as fl
from flestimate.cli import main
from flestimate.errors import ArgumentError, ArgumentTypeError

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
MOLDOVA = DATA / "moldova_synthetic.sav"
SPEC = "moldova-2008-synthetic"
pytestmark = pytest.mark.filterwarnings("ignore::flestimate.FlestimateWarning")


def _diffs(report: fl.PrevalenceReport) -> pd.DataFrame:
    t = report.to_frame()
    return t[t["table"] == "differences"].reset_index(drop=True)


def test_minimum_differences_are_the_design_contrasts() -> None:
    """By the file's sex column (q1_02: 1 Male, 2 Female, value labels): Female - Male for the
    three classes, as the design's own contrast of the classified shares."""
    report = fl.estimate_prevalence(MOLDOVA, SPEC, by="q1_02", missing="minimum",
                                    compare="q1_02")
    d = _diffs(report)
    assert list(d["domain"]) == ["Female"] * 3 and set(d["reference"]) == {"Male"}
    assert list(d["indicator"]) == ["forced_labour", "trafficked",
                                    "forced_labour_not_trafficked"]
    frame = fl.read_microdata(MOLDOVA).frame
    cls = report.classification.to_frame()
    frame["in_universe"] = frame.index.isin(cls.index)
    status = cls["status"].reindex(frame.index)
    # in forced labour: established, whether or not trafficking is (status "undetermined"
    # also holds persons in forced labour whose trafficking is not determined)
    frame["forced_labour"] = cls["forced_labour"].reindex(frame.index).astype("boolean") \
        .fillna(False).astype(float)
    frame["trafficked"] = (status == "trafficked_forced_labour").astype(float)
    frame["forced_labour_not_trafficked"] = (status == "forced_labour_not_trafficked"
                                             ).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        des = fl.SurveyDesign(frame, weights="w_pers", strata="strat", psu="psu",
                              lonely_psu="adjust")
    est = des.proportion(["forced_labour", "trafficked", "forced_labour_not_trafficked"],
                         by="q1_02", subpop="in_universe", covmat=True)
    for row in d.itertuples():
        ref = est.difference((2.0, row.indicator), (1.0, row.indicator)).to_frame().iloc[0]
        assert row.estimate == pytest.approx(ref["estimate"], rel=1e-10, abs=1e-14)
        assert row.se == pytest.approx(ref["se"], rel=1e-10)
        assert row.df == ref["df"]
        assert row.p_value == pytest.approx(2 * stats.t.sf(abs(row.estimate / row.se), row.df),
                                            rel=1e-10)
    shares = report.select("prevalence", "q1_02")
    shares = shares[shares["measure"] == "share"].set_index(["domain", "indicator"])
    fl_diff = (shares.loc[("Female", "forced_labour"), "estimate"]
               - shares.loc[("Male", "forced_labour"), "estimate"])
    assert d.loc[0, "estimate"] == pytest.approx(fl_diff, rel=1e-12)


def test_imputed_difference_is_the_difference_of_the_imputed_shares() -> None:
    report = fl.estimate_prevalence(MOLDOVA, SPEC, by="sex", compare="sex=male",
                                    imputations=5)
    d = _diffs(report).set_index("indicator")
    shares = report.select("prevalence", "sex")
    shares = shares[shares["measure"] == "share"].set_index(["domain", "indicator"])
    assert set(d["reference"]) == {"male"} and set(d["domain"]) == {"female"}
    for ind in ("forced_labour", "trafficked", "forced_labour_not_trafficked"):
        diff = shares.loc[("female", ind), "estimate"] - shares.loc[("male", ind), "estimate"]
        assert d.loc[ind, "estimate"] == pytest.approx(diff, rel=1e-10)
        assert d.loc[ind, "imputations"] == 5
        assert 0 < d.loc[ind, "se"] < shares.loc[("female", ind), "se"] + shares.loc[
            ("male", ind), "se"] + 1e-12  # |corr| <= 1
    assert "Differences by sex, from male (percentage points):" in report.summary()


def test_a_difference_is_published_only_with_both_shares() -> None:
    report = fl.estimate_prevalence(MOLDOVA, SPEC, by="region", missing="minimum",
                                    compare="region=Chisinau")
    d = _diffs(report)
    shares = report.select("prevalence", "region")
    shares = shares[shares["measure"] == "share"].set_index(["domain", "indicator"])
    secret = {"primary", "secondary"}
    n_hidden = 0
    for row in d.itertuples():
        pair = [shares.loc[(row.domain, row.indicator)],
                shares.loc[("Chisinau", row.indicator)]]
        if any(p["disclosure"] in secret for p in pair):
            n_hidden += 1
            assert row.disclosure == "secondary" and np.isnan(row.estimate)
            assert np.isnan(row.se) and np.isnan(row.p_value)
        elif any(p["reliability"] == "suppress" for p in pair):
            assert row.reliability == "suppress"
        else:
            assert row.disclosure == "publish" and np.isfinite(row.estimate)
    assert n_hidden > 0  # the small regions' trafficked shares are confidential
    values = report.publication_values("prevalence", "region")
    assert len(values)
    shown = fl.report._publish.difference_values(report, "region")  # type: ignore[attr-defined]
    hidden = shown[shown["note"].str.contains("confidential|suppressed")]
    assert hidden["difference (pp)"].isna().all()


def test_compare_from_the_command_line_and_the_errors(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    assert main(["estimate", str(MOLDOVA), "--spec", SPEC, "--by", "sex", "--missing",
                 "minimum", "--compare", "all", "--format", "csv"]) == 0
    out = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert (out["table"] == "differences").sum() == 3
    xlsx = tmp_path / "r.xlsx"
    assert main(["estimate", str(MOLDOVA), "--spec", SPEC, "--by", "sex", "--missing",
                 "minimum", "--compare", "sex", "-o", str(xlsx)]) == 0
    sheet = pd.read_excel(xlsx, sheet_name="diff by sex")
    assert list(sheet.columns[:4]) == ["sex", "indicator", "reference", "difference (pp)"]
    with pytest.raises(ArgumentError, match=r"`compare` of `estimate_prevalence\(\)`: 'region' "
                                            r"is not a margin of one column of `by` \('sex'\)"):
        fl.estimate_prevalence(MOLDOVA, SPEC, by="sex", compare="region")
    with pytest.raises(ArgumentError, match=r"'alien' is not a domain of 'sex' \('female', "
                                            r"'male'\)"):
        fl.estimate_prevalence(MOLDOVA, SPEC, by="sex", missing="minimum",
                               compare={"sex": "alien"})
    with pytest.raises(ArgumentTypeError, match="`compare` of `estimate_prevalence\\(\\)` must "
                                                "be true"):
        fl.estimate_prevalence(MOLDOVA, SPEC, by="sex", compare=5)  # type: ignore[arg-type]
