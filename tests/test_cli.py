"""The ``flestimate tabulate`` command on the shipped synthetic LFS sample.

Reference numbers: R survey 4.1.1, ``svyciprop(~fl, subset(des, migrant == 1), method="beta")``
with ``des <- svydesign(ids=~psu, strata=~stratum, weights=~w, nest=TRUE, data=d)``
(tests/reference/data/lfs_n20000_r_reference.json).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flestimate.cli import main

FILE = Path(__file__).parents[1] / "data" / "synthetic" / "lfs_n20000.csv.gz"
DESIGN = ["--weights", "w", "--strata", "stratum", "--psu", "psu", "--nest"]


def test_proportion_json_matches_r(capsys: pytest.CaptureFixture[str], lfs_reference: dict) -> None:
    rc = main(["tabulate", str(FILE), *DESIGN, "--proportion", "fl", "--subpop", "migrant",
               "--ci", "beta", "--format", "json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    row = out["estimates"][0]
    ref = lfs_reference["results"]["taylor"]["ciprop_beta_migrant"]["fl"]
    assert row["estimate"] == pytest.approx(ref["est"], rel=1e-8)
    assert row["se"] == pytest.approx(ref["se"], rel=1e-8)
    assert row["ci_low"] == pytest.approx(ref["lci"], rel=1e-6)
    assert out["provenance"]["ci_method"] == "beta"


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["tabulate", str(FILE), *DESIGN, "--proportion", "fl,thb", "--by", "sex",
               "--subpop", "migrant"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "korn-graubard 95% CI" in text
    assert "female" in text and "male" in text
    assert "Design: 19467 rows, 31 strata, 660 PSUs" in text


def test_input_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["tabulate", str(tmp_path / "none.csv"), "--weights", "w", "--mean", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "x.xlsx"
    bad.write_text("")
    assert main(["tabulate", str(bad), "--weights", "w", "--mean", "x"]) == 2
    assert "unknown extension" in capsys.readouterr().err
    assert main(["tabulate", str(FILE), "--weights", "w", "--psu", "psu", "--strata", "stratum",
                 "--mean", "fl"]) == 2
    assert "not nested in strata" in capsys.readouterr().err
    assert main(["tabulate"]) == 2
