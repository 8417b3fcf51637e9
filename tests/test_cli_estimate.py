"""``flestimate estimate FILE --spec SPEC``: the main job from a shell, on the shipped synthetic
files (Moldova and Georgia styles), its output formats and its exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flestimate.cli import main
from flestimate.errors import EstimationError
from flestimate.report import estimate_prevalence

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
MOLDOVA = str(DATA / "moldova_synthetic.sav")
GEORGIA = [str(DATA / "georgia_synthetic_persons.dta"), "--spec", "georgia-synthetic",
           "--households", str(DATA / "georgia_synthetic_households.dta")]
pytestmark = pytest.mark.filterwarnings("ignore::flestimate.FlestimateWarning")


def test_default_command_prints_the_national_table_within_truth_bounds(
        capsys: pytest.CaptureFixture[str]) -> None:
    """README's main-job command. Reference: the generator's truth (moldova_synthetic_truth.json
    and _truth_persons.csv): the population value (5.32%) lies within the printed bounds, and
    the imputed interval holds the sample's true share (4.36%, the weighted share of the
    respondents' true status: this sample lies 2.5 SE below its population)."""
    assert main(["estimate", MOLDOVA, "--spec", "moldova-2008-synthetic"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("In forced labour"))
    cells = line.split()
    share, ci_low, ci_high, minimum = (float(cells[i]) for i in (3, 4, 6, 7))
    low, high = float(cells[8]), float(cells[10])  # "% bounds" low - high
    assert low <= minimum <= share <= high
    truth = json.loads((DATA / "moldova_synthetic_truth.json").read_text())
    pop = next(v["prevalence"] for v in truth["population_values"]
               if v["statistic"] == "forced_labour" and v["by"] is None)
    report = estimate_prevalence(MOLDOVA, "moldova-2008-synthetic")
    fl = report.national.iloc[0]
    persons = pd.read_csv(DATA / "moldova_synthetic_truth_persons.csv").merge(
        pd.read_spss(MOLDOVA, usecols=["hh_id", "ln", "w_pers"]), on=["hh_id", "ln"])
    sample_truth = np.average(persons["forced_labour"], weights=persons["w_pers"])
    assert sample_truth == pytest.approx(0.04357, abs=5e-6)
    assert low <= 100 * pop <= high and fl["ci_low"] <= sample_truth <= fl["ci_high"]
    # one decimals rule per column: two decimals when a published non-zero share of the
    # column is below 1% (here a form of forced labour), else one
    published = report.publication_values()["%"].dropna()
    decimals = 2 if ((published > 0) & (published < 1)).any() else 1
    assert (share, ci_low, ci_high) == tuple(round(100 * fl[k], decimals) for k in (
        "estimate", "ci_low", "ci_high"))
    assert "Trafficked for forced labour, by form" in out
    assert "reliability: nchs2017" in out
    assert "missing answers: multiple imputation, M = 20, Rubin's rules" in out


def test_csv_output_equals_the_python_call(capsys: pytest.CaptureFixture[str]) -> None:
    """The printed CSV is the report's tidy table, number for number (Georgia style, by sex)."""
    assert main(["estimate", *GEORGIA, "--by", "sex", "--format", "csv"]) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    report = estimate_prevalence(GEORGIA[0], "georgia-synthetic", by="sex",
                                 households=GEORGIA[4]).to_frame()
    assert list(printed.columns) == list(report.columns)
    np.testing.assert_allclose(printed["estimate"], report["estimate"], rtol=1e-15)
    np.testing.assert_allclose(printed["se"], report["se"], rtol=1e-15)
    assert (printed["reliability"] == report["reliability"]).all()


def test_json_xlsx_and_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["estimate", MOLDOVA, "--spec", "moldova-2008-synthetic", "--by",
                 "sex,region", "--ci", "logit", "--reliability", "rse30",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["provenance"]["ci_method"] == "logit"
    assert out["provenance"]["reliability"]["name"] == "rse30"
    assert out["provenance"]["margins"] == ["sex", "region"]
    assert out["classification_counts"][0]["total"] == 35
    xlsx = tmp_path / "out.xlsx"
    assert main(["estimate", MOLDOVA, "--spec", "moldova-2008-synthetic", "--format", "xlsx",
                 "-o", str(xlsx)]) == 0
    assert pd.ExcelFile(xlsx).sheet_names[0] == "national"
    assert capsys.readouterr().out == f"wrote {xlsx}\n"  # -o says where the output went
    assert main(["estimate", MOLDOVA, "--spec", "moldova-2008-synthetic", "--variance",
                 "bootstrap", "--replicates", "10", "--seed", "1", "--format", "csv",
                 "--missing", "minimum", "-o", str(tmp_path / "b.csv")]) == 0
    boot = pd.read_csv(tmp_path / "b.csv")
    assert (boot.loc[boot["measure"] == "share", "df"] == 9).all()
    assert (boot["imputations"] == 0).all()
    assert boot["minimum"].equals(boot["estimate"])  # blank together where confidential
    # imputed: Barnard-Rubin df below the 9 of the 10 replicates where imputation mattered
    assert main(["estimate", MOLDOVA, "--spec", "moldova-2008-synthetic", "--variance",
                 "bootstrap", "--replicates", "10", "--seed", "1", "--format", "csv",
                 "--imputations", "5", "-o", str(tmp_path / "mi.csv")]) == 0
    mi = pd.read_csv(tmp_path / "mi.csv")
    shares = mi[(mi["measure"] == "share") & (mi["imputations"] == 5)]
    assert (shares["df"] <= 9).all() and (shares["fmi"] > 0).any()


def test_plain_penalties_option(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped spec records the penalty block "to make you work or stay" as
    pen_*__duress_or_leaving: the dimension rule cannot pair them with duress or leaving items
    for certain. --plain-penalties every_dimension counts them in both (more in forced labour,
    recorded in the provenance); error stops with exit 2, naming the columns."""
    base = ["estimate", MOLDOVA, "--spec", "moldova-2008-synthetic", "--forced-labour",
            "htshtc2012_dimension", "--format", "json"]
    counts = {}
    for mode in ("unknown_dimension", "every_dimension"):
        assert main([*base, "--plain-penalties", mode]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["provenance"]["classification"]["plain_penalties"] == mode
        counts[mode] = {r["status"]: r["total"] for r in out["classification_counts"]}
    assert counts["every_dimension"]["undetermined"] < counts["unknown_dimension"]["undetermined"]
    assert (counts["every_dimension"]["forced_labour_not_trafficked"]
            > counts["unknown_dimension"]["forced_labour_not_trafficked"])
    assert main([*base, "--plain-penalties", "error"]) == 2
    err = capsys.readouterr().err
    assert "pen_assets_withheld__duress_or_leaving" in err and len(err.splitlines()) == 1


def test_sensitivity_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`flestimate sensitivity`: the shares by delta as the Python call gives them, tipping
    points with --value, CSV to a file, a bad --delta exits 2 with one line."""
    argv = ["sensitivity", MOLDOVA, "--spec", "moldova-2008-synthetic", "--delta=-1,0,1",
            "--imputations", "3"]
    assert main([*argv, "--value", "0.045"]) == 0
    captured = capsys.readouterr()
    assert "imputed shares (%) when the log-odds of yes" in captured.out
    assert "tipping points (delta at which the share reaches 0.045)" in captured.out
    assert captured.err.count("LONELY_PSU") == 1  # each warning once
    out = tmp_path / "sens.csv"
    assert main([*argv, "--format", "csv", "-o", str(out)]) == 0
    got = pd.read_csv(out)
    ref = estimate_prevalence(MOLDOVA, "moldova-2008-synthetic", imputations=3).sensitivity(
        delta=[-1, 0, 1]).to_frame()
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-12)
    assert sorted(set(got["delta"])) == [-1.0, 0.0, 1.0]
    capsys.readouterr()
    assert main(["sensitivity", MOLDOVA, "--spec", "moldova-2008-synthetic",
                 "--delta", "a,b"]) == 2
    err = capsys.readouterr().err
    assert "--delta must be numbers" in err and len(err.splitlines()) == 1


def test_usage_and_input_errors_exit_2(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    cases = [
        (["estimate", str(tmp_path / "missing.sav"), "--spec", "moldova-2008-synthetic"],
         "missing.sav"),
        (["estimate", MOLDOVA, "--spec", "no-such-spec"], "no-such-spec"),
        (["estimate", MOLDOVA, "--spec", "moldova-2008-synthetic", "--by", "planet"],
         "'planet' is neither"),
        (["estimate", MOLDOVA, "--spec", "moldova-2008-synthetic", "--format", "xlsx"],
         "-o FILE"),
        (["estimate", MOLDOVA, "--spec", "moldova-2008-synthetic", "--variance", "jk1"],
         "use method 'jkn'"),
        (["estimate", MOLDOVA, "--spec", "georgia-synthetic"], "georgia"),
        (["estimate", MOLDOVA], "--spec"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert needle in err, (argv, err)
    bad = tmp_path / "bad.sav"
    bad.write_bytes(b"not an spss file")
    assert main(["estimate", str(bad), "--spec", "moldova-2008-synthetic"]) == 2
    assert "bad.sav" in capsys.readouterr().err


def test_estimation_errors_exit_1(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise EstimationError("calibration did not converge (margin region)")

    monkeypatch.setattr("flestimate.report.estimate_prevalence", fail)
    assert main(["estimate", MOLDOVA, "--spec", "moldova-2008-synthetic"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["flestimate: calibration did not converge (margin region)"]


def test_the_installed_command_runs_end_to_end() -> None:
    """The console entry point in a fresh process: exit 0, the national table on stdout, the
    lonely-PSU note of the spec's design on stderr."""
    proc = subprocess.run([sys.executable, "-m", "flestimate.cli", "estimate", *GEORGIA],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "In forced labour" in proc.stdout
    assert "georgia-synthetic" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "flestimate.cli", "estimate", "nope.dta",
                          "--spec", "georgia-synthetic"], capture_output=True, text=True,
                         timeout=120, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "nope.dta" in bad.stderr
