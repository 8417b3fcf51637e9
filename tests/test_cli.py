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
    assert "Design: 19,467 rows, 31 strata, 660 PSUs" in text  # thousands separators


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


def _write_module(tmp_path: Path) -> tuple[Path, Path]:
    import pandas as pd
    import pyreadstat
    import yaml

    frame = pd.DataFrame({"hh": [1.0, 2.0, 3.0], "age": [30.0, 12.0, 40.0],
                          "q5_01": [1.0, 2.0, 8.0]})
    sav = tmp_path / "module.sav"
    pyreadstat.write_sav(frame, sav, column_labels={"q5_01": "Deceived about pay"},
                         variable_value_labels={"q5_01": {1: "yes", 2: "no", 8: "dk"}})
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "tiny", "reference_period": "last 10 years", "codes": {"yes": 1, "no": 2, "dont_know": 8},
        "universe": {"column": "age", "op": ">=", "value": 15},
        "indicators": {"inv_rec_deceived_terms": {"items": ["q5_01"]}},
    }))
    return sav, spec


def test_inspect_prints_variables_mapping_and_quality(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sav, spec = _write_module(tmp_path)
    assert main(["inspect", str(sav), "--spec", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "file: " in out and "(spss, 3 rows, 3 variables)" in out
    assert "q5_01                    Deceived about pay [value labels]" in out
    assert "inv_rec_deceived_terms           <- any(q5_01)" in out
    assert "universe: 2 of 3 rows (1 outside)" in out
    assert "n_dont_know" in out


def test_inspect_fails_when_the_spec_does_not_fit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sav, spec = _write_module(tmp_path)
    spec.write_text(spec.read_text().replace("q5_01", "q5_99"))
    assert main(["inspect", str(sav), "--spec", str(spec)]) == 2
    assert "column 'q5_99' not found" in capsys.readouterr().err


def test_inspect_with_a_builtin_spec_on_the_shipped_georgia_files(
    capsys: pytest.CaptureFixture[str]
) -> None:
    data = Path(__file__).resolve().parents[1] / "data" / "synthetic"
    code = main(["inspect", str(data / "georgia_synthetic_persons.dta"), "--households",
                 str(data / "georgia_synthetic_households.dta"), "--spec", "georgia-synthetic"])
    out = capsys.readouterr().out
    assert code == 0
    assert "universe: 1048 of 13297 rows (12249 outside)" in out
    assert "mig_stat in [1, 2] 11566   10518" in out
    assert "perpetrator                      <- m5_pen_who (recoded)" in out


def test_synthetic_writes_the_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["synthetic", "georgia", "-o", str(tmp_path), "--households", "500",
                 "--population-households", "50000", "--seed", "3"])
    assert code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["georgia_synthetic_households.dta", "georgia_synthetic_persons.dta",
                     "georgia_synthetic_truth.json", "georgia_synthetic_truth_persons.csv"]
    assert "wrote" in capsys.readouterr().out
    assert main(["synthetic", "peru", "-o", str(tmp_path)]) == 2
