"""Design and variance choices that crashed the reports (issue 15, section 2).

A replicate variance (``jkn``, ``bootstrap``, ``subbootstrap``) made the HTML report, the
report's ``summary()`` and ``Estimates.summary()`` fail with ``KeyError: 'n_strata'`` (they read
a Taylor design's summary), and a batch lost the survey's estimates with it. Each case asserts
that the output describes the replicate design (method, number of replicates, design df), or,
for a design that cannot give replicates, one error naming the argument or column.

Data: the shipped Moldova-style synthetic file (``data/synthetic/moldova_synthetic.sav``, spec
``moldova-2008-synthetic``: 14 strata, 832 PSUs, one stratum, ``strat`` 14, with one PSU);
``missing="minimum"`` and 10 bootstrap replicates keep the cases fast.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flestimate import ReplicateDesign, SurveyDesign
from flestimate.errors import ArgumentError, DesignError, FlestimateError, LonelyPSUError
from flestimate.report import estimate_prevalence

from .conftest import SYNTHETIC, assert_one_line_error, files_in, run_cli

pytest.importorskip("pyreadstat")

MOLDOVA = SYNTHETIC / "moldova_synthetic.sav"
SPEC = "moldova-2008-synthetic"
# jkn deletes one PSU at a time in the strata of two PSUs or more: 832 - 1 (stratum 14 has one).
JKN_REPLICATES = 831
BOOT = ["--replicates", "10", "--seed", "7"]


def _design_text(text: str) -> str:
    """The design line of a report (HTML row or summary line), tags removed."""
    match = re.search(r"(\d[\d,]* rows; weights w_pers; replicate weights: [^<\n]*)", text)
    assert match, text[:2000]
    return match.group(1)


CLI_CASES = [
    # --replicates is for the bootstrap: jkn has one replicate per deleted PSU
    ("jkn-html-replicates-ignored", ["--variance", "jkn", "--replicates", "10"], "html", "jkn",
     JKN_REPLICATES),
    ("bootstrap-html", ["--variance", "bootstrap", *BOOT], "html", "bootstrap", 10),
    ("subbootstrap-html", ["--variance", "subbootstrap", *BOOT], "html", "subbootstrap", 10),
    ("bootstrap-html-imputed", ["--variance", "bootstrap", *BOOT, "--missing", "impute",
                                "--imputations", "2"], "html", "bootstrap", 10),
    ("bootstrap-table", ["--variance", "bootstrap", *BOOT], "table", "bootstrap", 10),
    ("subbootstrap-xlsx", ["--variance", "subbootstrap", *BOOT], "xlsx", "subbootstrap", 10),
]


@pytest.mark.parametrize(("args", "fmt", "method", "replicates"),
                         [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_report_of_a_replicate_design(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          args: list[str], fmt: str, method: str,
                                          replicates: int) -> None:
    """``flestimate estimate --variance <replicate method>`` writes its report, whose design
    line names the method, the number of replicates, their source (the strata and PSUs they
    were made from) and the design df (replicates - 1 for a bootstrap: the rank of its
    weights), and no blank Taylor fields."""
    out = tmp_path / f"report.{'txt' if fmt == 'table' else fmt}"
    argv = ["estimate", MOLDOVA, "--spec", SPEC, *args, "--format", fmt, "-o", out]
    if "--missing" not in args:
        argv += ["--missing", "minimum"]
    code, _, err = run_cli(argv, capsys)
    assert code == 0, err
    if fmt == "xlsx":
        prov = pd.read_excel(out, sheet_name="provenance").set_index("key")["value"]
        # one readable row per value, under dotted keys (issue 17)
        assert prov["design.method"] == method
        assert int(prov["design.replicates"]) == replicates
        assert "design.n_strata" not in prov.index
        return
    text = out.read_text(encoding="utf-8")
    line = _design_text(text)
    assert f"replicate weights: {method}, {replicates} replicates" in line
    assert f"generated from a SurveyDesign ({method}; strata strat (14), PSUs psu (832))" in line
    df = int(re.search(r"design df (\d+)", line).group(1))  # type: ignore[union-attr]
    if method != "jkn":
        assert df == replicates - 1
    else:
        assert 0 < df < replicates
    assert "lonely PSUs" not in line and "strata none" not in line
    if fmt == "html":
        assert "; seed 7" in text if "--seed" in args else "seed" not in line


@pytest.mark.parametrize("method", ["jk1", "jkn", "brr", "bootstrap"],
                         ids=["jk1-unstratified", "jkn", "brr", "bootstrap"])
def test_estimates_summary_of_a_replicate_design(method: str) -> None:
    """``Estimates.summary()`` of a replicate design states its method, replicates and df
    (hand-made design: 2 strata of 2 PSUs of 2 rows, ``jk1`` without strata)."""
    df = pd.DataFrame({"st": np.repeat([1, 2], 4), "psu": np.repeat(np.arange(4), 2),
                       "w": [1.0, 2.0] * 4, "y": [0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0]})
    strata = None if method == "jk1" else "st"
    design = SurveyDesign(df, strata=strata, psu="psu", weights="w")
    rep: ReplicateDesign = design.to_replicate(method, replicates=10, seed=1)
    summary = rep.proportion("y").summary()
    n = {"jk1": 4, "jkn": 4, "brr": 4, "bootstrap": 10}[method]
    assert rep.n_replicates == n
    assert (f"Design: 8 rows; weights w; replicate weights: {method}, {n} replicates"
            in summary)
    assert f"design df {rep.degf}" in summary
    taylor = f"Design: 8 rows, {1 if strata is None else 2} strata, 4 PSUs"
    assert taylor in design.proportion("y").summary()  # the Taylor summary as before


def test_prevalence_summary_of_a_replicate_design() -> None:
    """``PrevalenceReport.summary()`` (the CLI's table format) with a bootstrap design."""
    report = estimate_prevalence(MOLDOVA, SPEC, variance="bootstrap", replicates=10, seed=3,
                                 missing="minimum", by=["sex"])
    d = report.provenance["design"]
    assert (d["method"], d["replicates"], d["degf"]) == ("bootstrap", 10, 9)
    summary = report.summary()
    assert ("Design: 23,683 rows; weights w_pers; replicate weights: bootstrap, 10 replicates"
            in summary)
    assert "design df 9" in summary
    assert "replicate weights: bootstrap, 10 replicates" in report.to_html()


def test_batch_with_jkn_and_html_reports(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A batch with ``variance = "jkn"`` and HTML reports keeps the survey's estimates and
    writes its report describing the jackknife."""
    batch = tmp_path / "batch.toml"
    batch.write_text(f"""
[output]
folder = "out"
formats = ["csv"]
reports = true

[defaults]
variance = "jkn"
missing = "minimum"

[[survey]]
id = "MDA"
country = "MDA"
year = 2008
file = "{MOLDOVA.as_posix()}"
spec = "{SPEC}"
by = ["sex"]
""", encoding="utf-8")
    code, _, err = run_cli(["run", batch, "--quiet"], capsys)
    assert code == 0, err
    out = tmp_path / "out"
    assert {"estimates.csv", "manifest.json", "reports/MDA.html"} <= files_in(out)
    est = pd.read_csv(out / "estimates.csv")
    assert set(est["survey"]) == {"MDA"} and set(est["by"]) == {"national", "sex"}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [s["status"] for s in manifest["surveys"]] == ["done"]
    html = (out / "reports" / "MDA.html").read_text(encoding="utf-8")
    assert f"replicate weights: jkn, {JKN_REPLICATES} replicates" in html


def _one_psu(path: Path) -> Path:
    pyreadstat = pytest.importorskip("pyreadstat")
    from flestimate.io import read_microdata

    f = read_microdata(MOLDOVA).frame.assign(strat=1.0, psu=1.0)
    out = path / "one_psu.sav"
    pyreadstat.write_sav(f, str(out))
    return out


ERRORS: list[tuple[str, dict[str, Any], type[Exception], list[str]]] = [
    ("bootstrap-one-replicate", {"variance": "bootstrap", "replicates": 1}, ArgumentError,
     ["`replicates`", ">= 2", "got 1"]),
    ("brr-lonely-stratum", {"variance": "brr"}, LonelyPSUError,
     ["'brr' needs two PSUs per stratum", "column(s) 'strat'", "'14.0'"]),
    ("fay-without-rho", {"variance": "fay"}, ArgumentError,
     ["`variance='fay'` of `estimate_prevalence()`", "replicate_rho"]),
    ("jk1-stratified", {"variance": "jk1"}, FlestimateError, ["'jk1'", "stratified", "'jkn'"]),
]


@pytest.mark.parametrize(("kwargs", "error", "words"), [c[1:] for c in ERRORS],
                         ids=[c[0] for c in ERRORS])
def test_replicates_that_cannot_be_made(kwargs: dict[str, Any], error: type[Exception],
                                        words: list[str]) -> None:
    with pytest.raises(error) as info:
        estimate_prevalence(MOLDOVA, SPEC, missing="minimum", **kwargs)
    assert isinstance(info.value, FlestimateError)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_fay_with_rho_from_design() -> None:
    """Fay's method runs with ``design={'replicate_rho': 0.5}`` once the one-PSU stratum 14 is
    collapsed into stratum 13: 16 replicates (the Hadamard order above 13 strata), rho
    recorded."""
    from flestimate.io import read_microdata

    f = read_microdata(MOLDOVA).frame
    f.loc[f["strat"] == 14, "strat"] = 13.0
    report = estimate_prevalence(f, SPEC, variance="fay", missing="minimum",
                                 design={"replicate_rho": 0.5})
    d = report.provenance["design"]
    assert (d["method"], d["rho"], d["replicates"]) == ("fay", 0.5, 16)
    assert "replicate weights: fay, 16 replicates" in report.to_html()


def test_cli_single_psu_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every row in one stratum and one PSU: no variance can be estimated; exit 2, one line
    naming the PSU column, nothing written."""
    data = _one_psu(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    code, _, err = run_cli(["estimate", data, "--spec", SPEC, "--missing", "minimum",
                            "--variance", "jkn", "-o", out / "x.html"], capsys)
    assert_one_line_error(code, err, "only one primary sampling unit", "'psu'")
    assert files_in(out) == set()
    with pytest.raises(DesignError, match="only one primary sampling unit"):
        estimate_prevalence(data, SPEC, missing="minimum")
