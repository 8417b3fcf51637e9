"""Bad input at the report stage (issue 15, section 5: output injection).

A domain value comes from the user's data and ends up in every file the report writes. A value
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (the OWASP CSV-injection
rule) must never reach a spreadsheet as a live formula: in Excel it is a text cell
(``data_type "s"``, its text unchanged), in CSV it is prefixed with an apostrophe; numbers stay
numbers; HTML escapes it. The writers covered: ``PrevalenceReport.to_excel``, the CLI's
``flestimate estimate --format csv`` and ``--format xlsx``, and the batch's ``estimates.csv`` and
``estimates.xlsx`` (``flestimate run``).

Data: data/synthetic/moldova_synthetic.sav with two added domain columns, ``zone`` (text: one
dangerous value per region) and ``grp`` (a numeric code, -1 urban and 2 rural), estimated with
the built-in spec ``moldova-2008-synthetic`` and ``missing="minimum"``.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flestimate._safe_output import excel_writer, is_dangerous, neutralise_csv
from flestimate.cli import main
from flestimate.report import PrevalenceReport, estimate_prevalence

from .conftest import SYNTHETIC, run_cli

pyreadstat = pytest.importorskip("pyreadstat")
openpyxl = pytest.importorskip("openpyxl")

SPEC = "moldova-2008-synthetic"
DANGEROUS = {
    "equals": '=HYPERLINK("http://x","y")',
    "plus": "+1+1",
    "minus": "-2+3",
    "at": "@SUM(A1)",
    "tab": "\t=1+2",
    "carriage_return": "\r=3+4",
}
SCRIPT = "<script>alert(1)</script>"
ZONES = [*DANGEROUS.values(), SCRIPT]  # one per region (7 regions)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every output written once from the spoiled file: the report, its workbook, the CLI's CSV
    and workbook, the batch's CSV and workbook."""
    tmp = tmp_path_factory.mktemp("injection")
    df, meta = pyreadstat.read_sav(str(SYNTHETIC / "moldova_synthetic.sav"))
    df["zone"] = df["reg"].map(lambda c: ZONES[int(c) - 1])
    df["grp"] = df["urb"].map({1.0: -1.0, 2.0: 2.0})
    data = tmp / "spoiled.sav"
    pyreadstat.write_sav(df, str(data), variable_value_labels=meta.variable_value_labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = estimate_prevalence(data, SPEC, by=["zone", "grp"], missing="minimum")
        report.to_excel(tmp / "report.xlsx")
        for fmt in ("csv", "xlsx"):
            assert main(["estimate", str(data), "--spec", SPEC, "--by", "zone,grp", "--missing",
                         "minimum", "--format", fmt, "-o", str(tmp / f"cli.{fmt}")]) == 0
        (tmp / "batch.toml").write_text(f"""
[output]
folder = "out"
formats = ["csv", "xlsx"]
reports = false

[[survey]]
id = "MDA-spoiled"
country = "MDA"
year = 2008
file = "{data.name}"
spec = "{SPEC}"
by = ["zone", "grp"]
missing = "minimum"
tables = ["prevalence"]
""", encoding="utf-8")
        assert main(["run", str(tmp / "batch.toml"), "--jobs", "1", "--quiet"]) == 0
    yield {"report": report, "tmp": tmp,
           "xlsx": {"report": tmp / "report.xlsx", "cli": tmp / "cli.xlsx",
                    "batch": tmp / "out" / "estimates.xlsx"},
           "csv": {"cli": tmp / "cli.csv", "batch": tmp / "out" / "estimates.csv"}}


def _cells(path: Path) -> list[Any]:
    book = openpyxl.load_workbook(path)
    return [c for ws in book.worksheets for row in ws.iter_rows() for c in row]


def _csv_cells(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as fh:
        return [v for row in csv.reader(fh) for v in row]


CASES = [(kind, name, where) for name in DANGEROUS for kind, where in
         [("xlsx", "report"), ("xlsx", "cli"), ("xlsx", "batch"), ("csv", "cli"),
          ("csv", "batch")]]


@pytest.mark.parametrize(("kind", "name", "where"), CASES,
                         ids=[f"{w}-{k}-{n}" for k, n, w in CASES])
def test_dangerous_value_is_not_a_formula(outputs: dict[str, Any], kind: str, name: str,
                                          where: str) -> None:
    value = DANGEROUS[name]
    assert value in set(outputs["report"].to_frame()["zone"])  # the data kept it as it was
    path = outputs[kind][where]
    if kind == "xlsx":
        text = value.replace("\r", "\n")  # XML reads a carriage return back as a newline
        hits = [c for c in _cells(path) if c.value == text]
        assert len(hits) >= 2, (path, value)  # the domain label and the zone column at least
        assert all(c.data_type == "s" for c in hits), [(c.coordinate, c.data_type)
                                                        for c in hits]
        assert all(c.quotePrefix for c in hits)
    else:
        cells = _csv_cells(path)
        text = "'" + value.replace("\r", "\n")  # a lone CR would end the row (not quoted)
        assert cells.count(text) >= 2, (path, value)
        assert value not in cells  # never raw


@pytest.mark.parametrize("kind_where", ["report", "cli", "batch"],
                         ids=["report-xlsx", "cli-xlsx", "batch-xlsx"])
def test_no_formula_anywhere_and_numbers_stay_numbers(outputs: dict[str, Any],
                                                      kind_where: str) -> None:
    cells = _cells(outputs["xlsx"][kind_where])
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    # the numeric domain code -1 is a number, not a text "'-1"
    negative = [c for c in cells if isinstance(c.value, int | float) and c.value == -1]
    assert negative and all(c.data_type == "n" for c in negative)
    estimates = [c for c in cells if isinstance(c.value, float) and 0 < c.value < 1]
    assert estimates and all(c.data_type == "n" for c in estimates)
    assert not any(isinstance(c.value, str) and c.value.startswith("'") for c in cells)


@pytest.mark.parametrize("where", ["cli", "batch"], ids=["cli-csv", "batch-csv"])
def test_csv_numbers_are_not_prefixed(outputs: dict[str, Any], where: str) -> None:
    frame = pd.read_csv(outputs["csv"][where])
    assert pd.api.types.is_float_dtype(frame["estimate"])
    assert -1 in set(frame["grp"].dropna())  # the code stays the number -1
    assert "-1.0" in _csv_cells(outputs["csv"][where])  # and is written without an apostrophe
    prefixed = {v for v in _csv_cells(outputs["csv"][where]) if v.startswith("'")}
    assert prefixed == {"'" + v.replace("\r", "\n") for v in DANGEROUS.values()}
    with open(outputs["csv"][where], encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert {len(r) for r in rows} == {len(frame.columns)}  # no row was split


def test_tabulate_csv_on_stdout(outputs: dict[str, Any],
                                capsys: pytest.CaptureFixture[str]) -> None:
    """`flestimate tabulate --format csv` writes the domain values neutralised too."""
    code, out, err = run_cli(["tabulate", outputs["tmp"] / "spoiled.sav", "--weights", "w_pers",
                              "--strata", "strat", "--psu", "psu", "--lonely-psu", "adjust",
                              "--mean", "q1_02", "--by", "zone", "--format", "csv"], capsys)
    assert code == 0, err
    cells = [v for row in csv.reader(io.StringIO(out, newline="")) for v in row]
    for value in DANGEROUS.values():
        assert "'" + value.replace("\r", "\n") in cells and value not in cells
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert len({len(r) for r in rows}) == 1  # no row was split


def test_html_escapes_labels(outputs: dict[str, Any]) -> None:
    report: PrevalenceReport = outputs["report"]
    text = report.to_html()
    assert SCRIPT not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_to_frame_keeps_the_data_as_it_was(outputs: dict[str, Any]) -> None:
    """Only the files are neutralised: the tidy frame is data, unchanged."""
    zones = set(outputs["report"].to_frame()["zone"].dropna())
    assert zones == set(ZONES)


# -- the helper on its own ---------------------------------------------------------------------
TEXTS = [("=1+1", True), ("+A1", True), ("-A1", True), ("@A1", True), ("\tx", True),
         ("\rx", True), ("-", True), ("-2", False), ("+1.5", False), ("-1e-3", False),
         ("a=1", False), ("", False), (" =1", False)]


@pytest.mark.parametrize(("text", "dangerous"), TEXTS, ids=[repr(t) for t, _ in TEXTS])
def test_is_dangerous(text: str, dangerous: bool) -> None:
    assert is_dangerous(text) is dangerous


def test_neutralise_csv_mixed_column_and_header() -> None:
    frame = pd.DataFrame({"=h": ["=1+1", -1, None, "ok", "-5"], "x": [-1.5, 2, 3, 4, 5]})
    out = neutralise_csv(frame)
    assert list(out.columns) == ["'=h", "x"]
    assert out["'=h"].tolist()[:2] == ["'=1+1", -1] and out["'=h"].tolist()[3:] == ["ok", "-5"]
    assert out["x"].dtype == frame["x"].dtype and out["x"].iloc[0] == -1.5
    assert frame.columns[0] == "=h" and frame.iloc[0, 0] == "=1+1"  # the input is untouched
    text = out.to_csv(index=False, lineterminator="\n")
    assert text.splitlines()[1] == "'=1+1,-1.5"


def test_neutralise_csv_carriage_return_keeps_rows() -> None:
    frame = pd.DataFrame({"a": ["\r=1+1", "x\ry", "p\r\nq"], "b": [1, 2, 3]})
    text = neutralise_csv(frame).to_csv(index=False, lineterminator="\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["a", "b"], ["'\n=1+1", "1"], ["x\ny", "2"], ["p\nq", "3"]]


def test_excel_writer_header_and_index(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    frame = pd.DataFrame({"=cmd|' /C calc'!A0": [-2.5, 1.0]}, index=["=1+1", "@x"])
    with excel_writer(path) as xl:
        frame.to_excel(xl, sheet_name="s")
    ws = openpyxl.load_workbook(path)["s"]
    assert ws["B1"].value == "=cmd|' /C calc'!A0" and ws["B1"].data_type == "s"
    assert (ws["A2"].value, ws["A2"].data_type) == ("=1+1", "s")
    assert ws["B2"].value == -2.5 and ws["B2"].data_type == "n"
