"""Batch runs (``flestimate.batch``, ``flestimate run``) over the shipped synthetic files.

Reference: every survey's estimates must equal a direct ``flestimate.estimate_prevalence`` call
on the same file with the same options (data/synthetic/moldova_synthetic.sav,
georgia_synthetic_persons.dta with georgia_synthetic_households.dta), to 1e-12; local processes
and a Dask LocalCluster must give identical frames and identical bytes of ``estimates.csv``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from flestimate import SpecError, estimate_prevalence
from flestimate.batch import BatchResult, load_batch, run_batch
from flestimate.cli import main
from flestimate.errors import ArgumentError
from flestimate.report import TABLE_COLUMNS, TABLES

DATA = Path(__file__).parents[1] / "data" / "synthetic"
MOLDOVA = DATA / "moldova_synthetic.sav"
PERSONS = DATA / "georgia_synthetic_persons.dta"
HOUSEHOLDS = DATA / "georgia_synthetic_households.dta"

MOLDOVA_ENTRY = f"""
[[survey]]
id = "MDA-2008"
country = "MDA"
year = 2008
file = "{MOLDOVA.as_posix()}"
spec = "moldova-2008-synthetic"
by = ["sex"]
"""
GEORGIA_ENTRY = f"""
[[survey]]
country = "GEO"
year = 2009
file = "{PERSONS.as_posix()}"
households = "{HOUSEHOLDS.as_posix()}"
spec = "georgia-synthetic"
tables = ["prevalence", "trafficked_by_form"]
"""
BROKEN_ENTRY = """
[[survey]]
id = "BROKEN"
country = "MDA"
year = 2009
file = "broken.sav"
spec = "moldova-2008-synthetic"
"""
HEADER = """
[output]
folder = "results"

[defaults]
ci = "korn-graubard"
level = 0.95
"""


def _write(folder: Path, text: str, name: str = "batch.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.sav").write_text("this is not an SPSS file\n")
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def batch_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("batch"),
                  HEADER + MOLDOVA_ENTRY + GEORGIA_ENTRY + BROKEN_ENTRY)


@pytest.fixture(scope="module")
def processes(batch_file: Path) -> BatchResult:
    return run_batch(batch_file, jobs=2, progress=False)


@pytest.fixture(scope="module")
def on_dask(batch_file: Path) -> BatchResult:
    pytest.importorskip("distributed")
    return run_batch(batch_file, workers=2, out=batch_file.parent / "dask", progress=False)


def _copy(result: BatchResult, to: Path) -> Path:
    shutil.copytree(result.folder, to)
    return to


# -- running ------------------------------------------------------------------------------------
def test_processes_and_dask_cluster_give_identical_numbers(processes: BatchResult,
                                                           on_dask: BatchResult) -> None:
    pd.testing.assert_frame_equal(processes.estimates, on_dask.estimates)
    pd.testing.assert_frame_equal(processes.failures, on_dask.failures)
    assert (processes.folder / "estimates.csv").read_bytes() == \
        (on_dask.folder / "estimates.csv").read_bytes()
    assert processes.manifest["scheduler"] == "2 local processes"
    assert on_dask.manifest["scheduler"] == "Dask LocalCluster of 2 workers"


def test_running_dask_scheduler(processes: BatchResult, batch_file: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = run_batch(batch_file, scheduler=cluster.scheduler_address, progress=False,
                           out=batch_file.parent / "scheduler")
    pd.testing.assert_frame_equal(result.estimates, processes.estimates)
    assert result.manifest["scheduler"] == f"Dask scheduler {cluster.scheduler_address}"
    assert result.failures["survey"].tolist() == ["BROKEN"]


def test_broken_survey_fails_alone(processes: BatchResult) -> None:
    assert not processes.ok
    assert processes.done == ("MDA-2008", "GEO-2009")
    assert processes.skipped == ()
    failures = processes.failures
    assert list(failures.columns) == ["survey", "country", "year", "error", "message"]
    assert failures["survey"].tolist() == ["BROKEN"]
    assert failures["error"].tolist() == ["DataError"]
    assert "broken.sav" in failures["message"].iat[0]
    assert "as spss" in failures["message"].iat[0]
    assert "BROKEN" not in set(processes.estimates["survey"])


@pytest.mark.parametrize(("survey", "kwargs", "tables"), [
    ("MDA-2008", {"data_or_path": MOLDOVA, "spec": "moldova-2008-synthetic", "by": ["sex"]},
     list(TABLES)),
    ("GEO-2009", {"data_or_path": PERSONS, "spec": "georgia-synthetic",
                  "households": HOUSEHOLDS}, ["prevalence", "trafficked_by_form"]),
])
def test_estimates_equal_a_direct_call(processes: BatchResult, survey: str,
                                       kwargs: dict, tables: list[str]) -> None:
    """Reference: ``estimate_prevalence`` on the same file, same options."""
    with warnings.catch_warnings():  # the lonely PSU of the Moldova file
        warnings.simplefilter("ignore")
        direct = estimate_prevalence(**kwargs).to_frame()
    direct = direct[direct["table"].isin(tables)].reset_index(drop=True)
    got = processes.estimates
    got = got[got["survey"] == survey].reset_index(drop=True)
    assert len(got) == len(direct) > 0
    assert set(got["table"]) == set(tables)
    assert (got["country"] == survey[:3]).all()
    for col in direct.columns:
        if direct[col].dtype.kind == "f":
            np.testing.assert_allclose(got[col].to_numpy(float), direct[col].to_numpy(float),
                                       rtol=1e-12, atol=1e-15, equal_nan=True, err_msg=col)
        else:
            pd.testing.assert_series_equal(got[col], direct[col], check_dtype=False)
    national = got[(got["table"] == "prevalence") & (got["by"] == "national")
                   & (got["measure"] == "share")].set_index("indicator")
    assert 0 < national.loc["forced_labour", "estimate"] < 0.2


def test_estimates_layout(processes: BatchResult) -> None:
    est = processes.estimates
    assert list(est.columns) == ["survey", "country", "year", "reference_period", "table", "by",
                                 "domain", "sex", *TABLE_COLUMNS]
    assert set(est["reference_period"]) == {"last 10 years"}  # of each survey's module spec
    assert est["survey"].drop_duplicates().tolist() == ["MDA-2008", "GEO-2009"]  # file order
    assert est["year"].dtype == np.int64
    assert est.loc[est["survey"] == "GEO-2009", "sex"].isna().all()
    assert set(est.loc[est["by"] == "sex", "sex"]) == {"female", "male"}


def test_outputs(processes: BatchResult, batch_file: Path) -> None:
    folder = processes.folder
    assert folder == batch_file.parent / "results"
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "estimates.parquet"),
                                  processes.estimates)
    csv = pd.read_csv(folder / "estimates.csv")
    assert len(csv) == len(processes.estimates)
    np.testing.assert_array_equal(csv["estimate"], processes.estimates["estimate"])
    book = load_workbook(folder / "estimates.xlsx", read_only=True)
    assert book.sheetnames == [*TABLES, "failures", "manifest"]
    xl = pd.read_excel(folder / "estimates.xlsx", sheet_name=None)
    for table in TABLES:
        rows = processes.estimates[processes.estimates["table"] == table]
        assert len(xl[table]) == len(rows)
        assert xl[table]["survey"].drop_duplicates().tolist() == (
            ["MDA-2008", "GEO-2009"] if table != "forced_labour_by_form" else ["MDA-2008"])
    assert xl["failures"]["survey"].tolist() == ["BROKEN"]
    assert sorted(p.name for p in (folder / "reports").iterdir()) == ["GEO-2009.html",
                                                                     "MDA-2008.html"]
    assert "<html" in (folder / "reports" / "MDA-2008.html").read_text().lower()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_manifest(processes: BatchResult, batch_file: Path) -> None:
    m = json.loads((processes.folder / "manifest.json").read_text())
    assert m == processes.manifest
    assert {"flestimate", "python", "platform", "batch", "started", "finished", "seconds",
            "scheduler", "output", "counts", "surveys"} <= set(m)
    assert m["batch"] == {"path": str(batch_file), "sha256": _sha(batch_file)}
    assert m["counts"] == {"done": 2, "skipped": 0, "failed": 1}
    mda, geo, broken = m["surveys"]
    assert [s["status"] for s in m["surveys"]] == ["done", "done", "failed"]
    assert mda["files"]["file"] == {"path": str(MOLDOVA), "sha256": _sha(MOLDOVA)}
    assert geo["files"]["households"] == {"path": str(HOUSEHOLDS), "sha256": _sha(HOUSEHOLDS)}
    spec = Path(mda["spec"]["path"])
    assert spec.name == "moldova-2008-synthetic.yaml"
    assert mda["spec"]["sha256"] == _sha(spec)
    assert mda["options"]["by"] == ["sex"] and mda["options"]["variance"] == "taylor"
    assert geo["id"] == "GEO-2009"  # default id: {country}-{year}
    assert geo["tables"] == ["prevalence", "trafficked_by_form"]
    assert mda["timings"]["total"] > 0 and mda["timings"]["estimate"] > 0
    assert mda["rows"] == (processes.estimates["survey"] == "MDA-2008").sum()
    assert len(mda["key"]) == 64
    entry = (processes.folder / "surveys" / "MDA-2008" / "cache.bin").read_bytes()
    assert json.loads(entry.partition(b"\n")[0])["key"] == mda["key"]
    assert broken["error"] == "DataError" and broken["files"]["file"]["sha256"] == _sha(
        batch_file.parent / "broken.sav")
    # the disclosure control each survey's outputs got, stated in the manifest
    assert mda["disclosure"].startswith("disclosure control: threshold rule, no cell of fewer "
                                        "than 3 respondents")
    # every assumption that changes a number, as the survey's report recorded it
    assert mda["assumptions"]["forced_labour_rules"] == "icls2018"
    assert mda["assumptions"]["plain_penalties"] == "unknown_dimension"
    assert mda["assumptions"]["disclosure"] == "threshold"
    assert mda["assumptions"]["variance"] == "taylor"
    assert "assumptions" not in broken or broken["assumptions"] is None


def test_batch_outputs_show_no_small_cell(processes: BatchResult) -> None:
    """Confidential cells are blank in every batch output (docs/disclosure.md)."""
    folder = processes.folder
    for frame in (pd.read_csv(folder / "estimates.csv"),
                  pd.read_parquet(folder / "estimates.parquet"),
                  *pd.read_excel(folder / "estimates.xlsx", sheet_name=list(TABLES)).values()):
        cases = pd.to_numeric(frame["n_cases"], errors="coerce")
        assert not ((cases > 0) & (cases < 3)).any()
        hidden = frame["disclosure"].isin(["primary", "secondary"])
        assert hidden.any() and frame.loc[hidden, "estimate"].isna().all()


# -- the cache ----------------------------------------------------------------------------------
def test_rerun_skips_unchanged_surveys(processes: BatchResult, batch_file: Path,
                                       tmp_path: Path) -> None:
    out = _copy(processes, tmp_path / "results")
    again = run_batch(batch_file, jobs=1, out=out, progress=False)
    assert again.skipped == ("MDA-2008", "GEO-2009")
    assert again.done == ()
    assert again.failures["survey"].tolist() == ["BROKEN"]
    pd.testing.assert_frame_equal(again.estimates, processes.estimates)
    assert (out / "estimates.csv").read_bytes() == \
        (processes.folder / "estimates.csv").read_bytes()
    assert [s["status"] for s in again.manifest["surveys"]] == ["skipped", "skipped", "failed"]
    forced = run_batch(batch_file, jobs=1, out=out, force=True, progress=False)
    assert forced.done == ("MDA-2008", "GEO-2009") and forced.skipped == ()
    pd.testing.assert_frame_equal(forced.estimates, processes.estimates)


def test_changed_option_reruns_only_that_survey(processes: BatchResult,
                                                tmp_path: Path) -> None:
    out = _copy(processes, tmp_path / "results")
    changed = GEORGIA_ENTRY.replace('spec = "georgia-synthetic"',
                                    'spec = "georgia-synthetic"\nlevel = 0.9')
    path = _write(tmp_path, HEADER + MOLDOVA_ENTRY + changed)
    result = run_batch(path, jobs=1, out=out, progress=False)
    assert result.ok
    assert result.skipped == ("MDA-2008",) and result.done == ("GEO-2009",)
    before, after = processes.estimates, result.estimates
    same = before["survey"] == "MDA-2008"
    pd.testing.assert_frame_equal(after[after["survey"] == "MDA-2008"], before[same])
    geo_before = before[before["survey"] == "GEO-2009"].reset_index(drop=True)
    geo_after = after[after["survey"] == "GEO-2009"].reset_index(drop=True)
    np.testing.assert_array_equal(geo_after["estimate"], geo_before["estimate"])
    shares = (geo_after["measure"] == "share") & (geo_after["estimate"] > 0)
    assert (geo_after.loc[shares, "ci_high"] < geo_before.loc[shares, "ci_high"]).all()


def test_missing_input_file_is_a_failure_not_a_batch_error(tmp_path: Path) -> None:
    entry = BROKEN_ENTRY.replace('"broken.sav"', '"nowhere.sav"')
    result = run_batch(_write(tmp_path, HEADER + entry), jobs=1, progress=False)
    assert result.failures["error"].tolist() == ["DataError"]
    assert "nowhere.sav" in result.failures["message"].iat[0]
    assert "file not found" in result.failures["message"].iat[0]
    assert result.estimates.empty
    assert "failed" in result.summary()


def test_bootstrap_seed_is_derived_and_recorded(tmp_path: Path) -> None:
    text = HEADER + MOLDOVA_ENTRY + "variance = 'bootstrap'\n" + GEORGIA_ENTRY + (
        "variance = 'bootstrap'\nseed = 7\n")
    path = _write(tmp_path, text)
    first, second = load_batch(path), load_batch(path)
    mda, geo = first.surveys
    assert isinstance(mda.options["seed"], int)
    assert mda.options["seed"] == second.surveys[0].options["seed"]
    assert geo.options["seed"] == 7
    assert load_batch(_write(tmp_path, HEADER + MOLDOVA_ENTRY, "t.toml")).surveys[0].options[
        "seed"] is None


# -- invalid batch files ------------------------------------------------------------------------
INVALID = [
    (HEADER + MOLDOVA_ENTRY + GEORGIA_ENTRY.replace("tables", "varianse = 'taylor'\ntables"),
     "batch.toml: survey[1] (GEO-2009).varianse: unknown key; did you mean 'variance'?"),
    (HEADER + MOLDOVA_ENTRY + MOLDOVA_ENTRY,
     "batch.toml: survey[1] (MDA-2008).id: duplicate survey id 'MDA-2008' (also survey[0])"),
    (HEADER + MOLDOVA_ENTRY.replace(f'file = "{MOLDOVA.as_posix()}"', ""),
     "batch.toml: survey[0] (MDA-2008).file: required key is missing"),
    (HEADER + "[[survey]\n", "batch.toml: invalid TOML"),
    (HEADER + MOLDOVA_ENTRY + "tables = ['prevalence', 'by_form']\n",
     "batch.toml: survey[0] (MDA-2008).tables[1]: must be one of prevalence"),
    (HEADER + MOLDOVA_ENTRY + "ci = 'exact'\n",
     "batch.toml: survey[0] (MDA-2008).ci: must be one of korn-graubard"),
    (HEADER + MOLDOVA_ENTRY + "missing = 'drop'\n",
     "batch.toml: survey[0] (MDA-2008).missing: must be one of impute, minimum"),
    (HEADER + MOLDOVA_ENTRY + "imputations = 1\n",
     "batch.toml: survey[0] (MDA-2008).imputations: must be an integer >= 2"),
    (HEADER.replace("level = 0.95", "level = 95") + MOLDOVA_ENTRY,
     "batch.toml: defaults.level: must be a number in (0, 1); got integer 95"),
    (HEADER + MOLDOVA_ENTRY.replace("year = 2008", "year = true"),
     "batch.toml: survey[0] (MDA-2008).year: must be an integer or a string; got boolean True"),
    (HEADER + MOLDOVA_ENTRY.replace("moldova-2008-synthetic", "moldova-2008"),
     "survey[0] (MDA-2008).spec: 'moldova-2008' is neither a built-in module spec"),
    (HEADER + MOLDOVA_ENTRY + "forced_labour = 'seed2007'\n",
     "survey[0] (MDA-2008).forced_labour: must be a built-in forced_labour rule set "
     "(htshtc2012_dimension, htshtc2012_strong, icls2018) or a .yaml file; got string "
     "'seed2007'"),
    (HEADER + MOLDOVA_ENTRY + "design = { lonely = 'adjust' }\n",
     "survey[0] (MDA-2008).design.lonely: unknown key; did you mean 'lonely_psu'?"),
    (HEADER + "file = 'x.sav'\n" + MOLDOVA_ENTRY,
     "batch.toml: defaults.file: not allowed in [defaults]"),
    (HEADER, "batch.toml: survey: the batch lists no survey"),
    (HEADER + "survey = 'MDA'\n", "batch.toml: defaults.survey: unknown key"),
    ("survey = 'MDA'\n", "batch.toml: survey: must be an array of tables ([[survey]]); got "
                         "string 'MDA'"),
    ("[outputs]\n" + MOLDOVA_ENTRY, "batch.toml: outputs: unknown key; did you mean 'output'?"),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_invalid_batch_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                            message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_batch(path)
    assert message in str(info.value)
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flestimate: batch.toml: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "results").exists()  # nothing ran


def test_missing_batch_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "none.toml"), "--quiet"]) == 2
    assert "none.toml: cannot read the batch file" in capsys.readouterr().err


def test_bad_arguments(batch_file: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ArgumentError, match="exclude each other"):
        run_batch(batch_file, scheduler="tcp://127.0.0.1:8786", workers=2)
    with pytest.raises(ArgumentError, match="must be an integer >= 1; got 0"):
        run_batch(batch_file, jobs=0)
    assert main(["run", str(batch_file), "--workers", "2", "--scheduler", "tcp://x:1"]) == 2
    monkeypatch.setitem(sys.modules, "distributed", None)  # Dask not installed
    with pytest.raises(ArgumentError, match=r"pip install 'flestimate\[dask\]'"):
        run_batch(batch_file, workers=2, progress=False, out=batch_file.parent / "no-dask")
    capsys.readouterr()
    assert main(["run", str(batch_file), "--workers", "2", "--quiet"]) == 2
    assert "pip install 'flestimate[dask]'" in capsys.readouterr().err


# -- the command --------------------------------------------------------------------------------
def test_cli_failing_survey_exits_1_with_the_summary(
        processes: BatchResult, batch_file: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = _copy(processes, tmp_path / "results")
    assert main(["run", str(batch_file), "--jobs", "1", "--out", str(out), "--quiet"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("flestimate run batch.toml: 3 surveys: 0 done, 2 skipped, "
                               "1 failed in ")
    assert "BROKEN" in lines[3] and "failed" in lines[3] and "DataError: cannot read" in lines[3]
    assert lines[-1].startswith(f"outputs in {out}: estimates.parquet, estimates.csv")
    assert captured.err == ""  # --quiet: no progress bar


def test_cli_all_done_exits_0(processes: BatchResult, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    out = _copy(processes, tmp_path / "results")
    path = _write(tmp_path, HEADER + MOLDOVA_ENTRY + GEORGIA_ENTRY)
    assert main(["run", str(path), "--jobs", "1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "2 surveys: 0 done, 2 skipped, 0 failed" in captured.out
    assert "surveys" in captured.err  # the progress bar


def test_shipped_example_batch_is_valid() -> None:
    batch = load_batch(DATA / "batch.toml")
    assert [s.id for s in batch.surveys] == ["MDA-2008-sav", "MDA-2008-dta-by-sex", "GEO-2009"]
    assert batch.surveys[1].options["by"] == ("sex",)
    assert batch.surveys[2].households == HOUSEHOLDS
    assert all(s.file.exists() for s in batch.surveys)
    assert batch.folder == DATA / "batch_results"
