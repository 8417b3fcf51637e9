"""Bad input of the command line's output files (issue 15, section 6): ``-o`` and ``--format``
that disagree, an unknown extension, a path that cannot be written; and atomic writes (a failed
write leaves the previous file whole and no temporary file behind).

Data: data/synthetic/moldova_synthetic.sav with the built-in spec ``moldova-2008-synthetic`` and
``--missing minimum`` (no imputation: each estimate takes well under a second).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flestimate import estimate_prevalence
from flestimate._atomic import atomic_write
from flestimate.errors import OutputError
from flestimate.report import PrevalenceReport

from .conftest import SYNTHETIC, assert_one_line_error, files_in, run_cli

MOLDOVA = SYNTHETIC / "moldova_synthetic.sav"
ESTIMATE = ["estimate", MOLDOVA, "--spec", "moldova-2008-synthetic", "--missing", "minimum"]
SENSITIVITY = ["sensitivity", MOLDOVA, "--spec", "moldova-2008-synthetic", "--imputations", "2",
               "--delta=0"]


@pytest.fixture(scope="module")
def report() -> PrevalenceReport:
    return estimate_prevalence(MOLDOVA, "moldova-2008-synthetic", missing="minimum")


# -- -o and --format ----------------------------------------------------------------------------
REFUSED = [
    (ESTIMATE, "out.xlsx", ["--format", "csv"],
     "the extension .xlsx means xlsx but --format is csv; make them agree"),
    (ESTIMATE, "out.html", ["--format", "table"],
     "the extension .html means html but --format is table"),
    (ESTIMATE, "out.csv", ["--format", "json"], "the extension .csv means csv but --format is json"),
    (ESTIMATE, "out.dat", [], "cannot tell the output format from the extension '.dat'; use one "
                              "of .xlsx, .html, .htm, .csv, .json, .txt, .md, or give --format"),
    (ESTIMATE, "out", [], "cannot tell the output format from the extension '(none)'"),
    (SENSITIVITY, "out.xlsx", [], "`flestimate sensitivity` cannot write xlsx (.xlsx); use one of "
                                  ".csv, .json, .txt, .md"),
    (SENSITIVITY, "out.json", ["--format", "csv"],
     "the extension .json means json but --format is csv"),
]


@pytest.mark.parametrize(("command", "name", "extra", "message"), REFUSED,
                         ids=["xlsx-as-csv", "html-as-table", "csv-as-json", "unknown-extension",
                              "no-extension", "sensitivity-xlsx", "sensitivity-json-as-csv"])
def test_output_format_and_extension_must_agree(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                command: list[object], name: str,
                                                extra: list[str], message: str) -> None:
    out = tmp_path / name
    code, stdout, err = run_cli([*command, "-o", out, *extra], capsys)
    assert_one_line_error(code, err, f"flestimate: -o {out}: ", message)
    assert stdout == ""
    assert files_in(tmp_path) == set()  # nothing written, not even a text table in out.xlsx


WRITTEN = [
    ("out.xlsx", lambda b: b[:2] == b"PK"),  # a zip: a real workbook, not text
    ("OUT.HTML", lambda b: b.lstrip().lower().startswith(b"<!doctype html")),
    ("out.json", lambda b: "provenance" in json.loads(b)),
    ("out.csv", lambda b: b.startswith(b"table,by,")),
    ("out.md", lambda b: b.startswith(b"Forced labour and trafficking: ")),
]


@pytest.mark.parametrize(("name", "check"), WRITTEN,
                         ids=["xlsx", "html-upper-case", "json", "csv", "md-table"])
def test_the_extension_sets_the_format(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       name: str, check: object) -> None:
    out = tmp_path / name
    code, stdout, err = run_cli([*ESTIMATE, "-o", out], capsys)
    assert code == 0, err
    assert stdout == f"wrote {out}\n"  # the one line saying where it went
    assert check(out.read_bytes())  # type: ignore[operator]
    assert files_in(tmp_path) == {name}  # no temporary file left


# -- paths that cannot be written ---------------------------------------------------------------
def test_output_into_a_missing_folder_exits_2(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nowhere" / "out.csv"
    code, _, err = run_cli([*ESTIMATE, "-o", out], capsys)
    assert_one_line_error(code, err, f"flestimate: cannot write {out}: its folder "
                                     f"{out.parent} does not exist")
    assert files_in(tmp_path) == set()


def test_output_onto_a_folder_exits_2_and_keeps_it(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.xlsx"
    (out / "inside").mkdir(parents=True)
    code, _, err = run_cli([*ESTIMATE, "-o", out], capsys)
    assert_one_line_error(code, err, f"flestimate: cannot write {out}: it is a folder")
    assert files_in(tmp_path) == set()
    assert (out / "inside").is_dir()


# -- atomic writes ------------------------------------------------------------------------------
def test_a_failed_workbook_keeps_the_previous_file(report: PrevalenceReport, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.xlsx"
    out.write_bytes(b"the previous workbook")

    def half(self: PrevalenceReport, path: Path) -> None:
        path.write_bytes(b"PK half a workbook")
        raise RuntimeError("disk full")

    monkeypatch.setattr(PrevalenceReport, "_write_workbook", half)
    with pytest.raises(RuntimeError, match="disk full"):
        report.to_excel(out)
    assert out.read_bytes() == b"the previous workbook"
    assert files_in(tmp_path) == {"report.xlsx"}


def test_to_html_replaces_the_file_in_one_step(report: PrevalenceReport, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text("old")
    out.chmod(0o640)
    text = report.to_html(out)
    assert out.read_text(encoding="utf-8") == text
    assert out.stat().st_mode & 0o777 == 0o640  # a rewritten file keeps its permissions
    assert files_in(tmp_path) == {"report.html"}


def test_atomic_write_names_the_target_not_the_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.csv"
    with pytest.raises(OutputError) as info:
        atomic_write(target, lambda p: p.write_text("x"))
    assert str(info.value) == f"cannot write {target}: its folder {target.parent} does not exist"
    assert isinstance(info.value, OSError)
    assert files_in(tmp_path) == set()
