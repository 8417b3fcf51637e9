"""Publication-grade outputs (issue 17, item 4): one formatting rule (:mod:`flestimate._format`)
for the text, HTML, Excel and notebook displays of a report and for ``flestimate tabulate``.

Reference for every number: the report's own tidy table (:meth:`PrevalenceReport.to_frame`) of
the synthetic Moldova file (``data/synthetic/moldova_synthetic.sav``, by sex and region, minimum
estimate, the default disclosure threshold of 3), formatted by hand with the documented rule:
shares in percent, two decimals in a column when one of its published non-zero estimates is
below 1% (else one), counts ``#,##0``, ranges ``low – high``."""

from __future__ import annotations

import io
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import flestimate as fl
from flestimate._format import DASH, share_decimals, text_table
from flestimate.cli import main
from flestimate.report import PrevalenceReport
from flestimate.report._publish import merge_notes

openpyxl = pytest.importorskip("openpyxl")

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
MOLDOVA = DATA / "moldova_synthetic.sav"


@pytest.fixture(scope="module")
def report() -> PrevalenceReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the file's one lonely PSU
        return fl.estimate_prevalence(MOLDOVA, "moldova-2008-synthetic", by=["sex", "region"],
                                      missing="minimum")


@pytest.fixture(scope="module")
def book(report: PrevalenceReport, tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = report.to_excel(tmp_path_factory.mktemp("xlsx") / "report.xlsx")
    return openpyxl.load_workbook(path)


def _share(report: PrevalenceReport, indicator: str, by: str = "national",
           table: str = "prevalence", measure: str = "share") -> Any:
    t = report.to_frame()
    return t[(t["table"] == table) & (t["by"] == by) & (t["measure"] == measure)
             & (t["indicator"] == indicator)].iloc[0]


def _rows(sheet: Any) -> dict[str, int]:
    """The row of each indicator label of a published sheet."""
    return {sheet.cell(row=i, column=1).value: i for i in range(2, sheet.max_row + 1)}


# -- Excel ------------------------------------------------------------------------------------
def test_excel_stores_numbers_with_formats(report: PrevalenceReport, book: Any) -> None:
    sheet = book["national"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["indicator", "%", "% CI low"] and "note" in header
    col = {name: i + 1 for i, name in enumerate(header)}
    row = _rows(sheet)["In forced labour"]
    fl_share = _share(report, "forced_labour")
    cell = sheet.cell(row=row, column=col["%"])
    assert cell.data_type == "n" and cell.value == pytest.approx(100 * fl_share["estimate"])
    # the state-imposed share (0.10%) is published and below 1%: two decimals for the column
    assert 0 < _share(report, "form_state_imposed")["estimate"] < 0.01
    formats = {sheet.cell(row=i, column=col["%"]).number_format for i in range(2, 11)}
    assert formats <= {"0.00", '0.00" *"'}
    assert sheet.cell(row=row, column=col["% CI low"]).number_format == "0.00"
    number = sheet.cell(row=row, column=col["number"])
    assert number.data_type == "n" and number.number_format == "#,##0"
    assert number.value == pytest.approx(_share(report, "forced_labour", measure="number")
                                         ["estimate"])
    n = sheet.cell(row=row, column=col["n"])
    assert n.data_type == "n" and n.value == 2954 and n.number_format == "#,##0"
    # a flagged share (p = 0: commercial sexual exploitation) stays a number, "*" in its format
    flagged = sheet.cell(row=_rows(sheet)["Forced labour: commercial sexual exploitation"],
                         column=col["%"])
    assert flagged.value == 0 and flagged.number_format == '0.00" *"'


def test_excel_layout_and_hierarchy(book: Any) -> None:
    assert book.sheetnames == ["national", "by sex", "by region", "trafficked_by_form",
                               "forced_labour_by_form", "estimates", "indicators",
                               "data_quality", "classification", "provenance", "notes"]
    national, region = book["national"], book["by region"]
    assert national.freeze_panes == "B2"  # header row and the label column
    assert region.freeze_panes == "C2"  # header row, region and indicator
    assert book["estimates"].freeze_panes == "A2"
    rows = _rows(national)
    assert national.cell(row=rows["trafficked"], column=1).alignment.indent == 1
    assert national.cell(row=rows["not trafficked"], column=1).alignment.indent == 1
    assert national.cell(row=rows["In forced labour"], column=1).alignment.indent == 0
    widths = national.column_dimensions
    assert widths["A"].width == len("Forced labour: commercial sexual exploitation") + 2
    assert all(widths[c].width >= 5 for c in "BCDEFGHIJK")
    legend = national.cell(row=national.max_row, column=1).value
    assert legend.startswith("%: percent of the universe") and "* flagged" in legend


def test_excel_notes_and_provenance_cells(report: PrevalenceReport, book: Any) -> None:
    notes = {r[0]: r[1] for r in book["notes"].iter_rows(min_row=2, values_only=True)}
    assert notes["Penalties of unknown dimension (plain_penalties)"] == "unknown_dimension"
    assert notes["Rule sets"].startswith("forced_labour: icls2018")
    assert notes["Missing answers"] == "minimum estimate (undetermined counted as not)"
    assert notes["Disclosure control"].startswith("threshold rule, no cell of fewer than 3")
    assert notes["Reliability rules"] == "nchs2017 (builtin:nchs2017)"
    assert notes["Legend: prevalence"] == report.legend("prevalence")
    prov = {r[0]: r[1] for r in book["provenance"].iter_rows(min_row=2, values_only=True)}
    assert prov["disclosure.threshold"] == 3  # a number, not the JSON text "3"
    assert prov["rules.forced_labour"] == "icls2018"
    assert prov["margins"] == "sex, region"
    assert prov["universe.in_universe"] == 2954
    assert not any(isinstance(v, str) and v[:1] in "{[" for v in prov.values())


def test_issue13_item10_excel_states_the_reference_period(book: Any) -> None:
    """Issue 13, item 10: the module spec's reference period (``reference_period: last 10
    years`` in the built-in moldova-2008-synthetic spec) heads the workbook's notes (its title,
    as in the text and HTML headers) and is a provenance cell."""
    notes = {r[0]: r[1] for r in book["notes"].iter_rows(min_row=2, values_only=True)}
    assert notes["Title"].endswith("; reference period: last 10 years")
    prov = {r[0]: r[1] for r in book["provenance"].iter_rows(min_row=2, values_only=True)}
    assert prov["reference_period"] == "last 10 years"


# -- text -------------------------------------------------------------------------------------
def test_text_table_one_rule(report: PrevalenceReport) -> None:
    text = repr(report)
    lines = text.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("indicator"))
    fl_line, tr_line, ntr_line = lines[head + 1:head + 4]
    assert fl_line.startswith("In forced labour ")
    assert tr_line.startswith("  trafficked ") and ntr_line.startswith("  not trafficked ")
    fl_share = _share(report, "forced_labour")
    pct = f"{100 * fl_share['estimate']:.2f}"
    ci = f"{100 * fl_share['ci_low']:.2f} {DASH} {100 * fl_share['ci_high']:.2f}"
    assert f" {pct} " in fl_line and ci in fl_line and "2,954" in fl_line
    number = _share(report, "forced_labour", measure="number")["estimate"]
    assert f"{number:,.0f}" in fl_line
    pub = report.publication_table()
    decimals = {len(v.split(" ")[0].split(".")[1]) for v in pub["%"] if v}
    assert decimals == {2}  # one decimals rule per column
    assert not any(" - " in v for col in ("% CI", "% bounds", "number CI") for v in pub[col])
    assert "%: percent of the universe" in text  # the legend under the table


def test_notes_do_not_repeat(report: PrevalenceReport) -> None:
    assert merge_notes("p = 0", "p=0: one-sided interval (NCHS)") == (
        "p = 0, one-sided interval (NCHS)")
    assert merge_notes("df 5 < 8", "p=0: one-sided interval (NCHS)") == (
        "df 5 < 8; p=0: one-sided interval (NCHS)")
    notes = " ".join(report.publication_table()["note"])
    assert "share flagged: p = 0, one-sided interval (NCHS)" in notes
    assert "p=0:" not in notes


def test_text_table_aligns_labels_left_numbers_right() -> None:
    import pandas as pd

    frame = pd.DataFrame({"indicator": ["In forced labour", "trafficked"], "n": ["2,954", "35"]})
    assert text_table(frame, left=["indicator"], levels=[0, 1]).splitlines() == [
        "indicator             n",
        "In forced labour  2,954",
        "  trafficked         35",
    ]


def test_share_decimals_rule() -> None:
    assert share_decimals([0.098, 0.5, np.nan]) == 1
    assert share_decimals([0.098, 0.0012, 0.0]) == 2
    assert share_decimals([0.0, 0.2]) == 1  # zero is not "below 1%"


# -- HTML and notebook ------------------------------------------------------------------------
class _Cells(HTMLParser):
    """The ``td`` cells of a document: (style, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str, str]] = []
        self._style: str | None = None
        self.legends = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td":
            self._style = dict(attrs).get("style") or ""
            self.cells.append((self._style, ""))
        if tag == "p" and dict(attrs).get("class") == "fl-legend":
            self.legends += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._style = None

    def handle_data(self, data: str) -> None:
        if self._style is not None:
            style, text = self.cells[-1]
            self.cells[-1] = (style, text + data)


def test_html_report_ci_nowrap_hierarchy_legend(report: PrevalenceReport) -> None:
    parser = _Cells()
    parser.feed(report.to_html())
    fl_share = _share(report, "forced_labour")
    ci = f"{100 * fl_share['ci_low']:.2f} {DASH} {100 * fl_share['ci_high']:.2f}"
    styles = [s for s, t in parser.cells if t == ci]
    assert styles and all("white-space:nowrap" in s for s in styles)
    tr = [s for s, t in parser.cells if t == "trafficked"]
    assert tr and all("padding-left:1.8em" in s for s in tr)
    # a legend under each published table: national, 2 margins, 2 by-form tables x 3 margins
    assert parser.legends == 1 + 2 + 2 * 3


def test_notebook_display_shows_domain_tables(report: PrevalenceReport) -> None:
    text = report._repr_html_()
    headings = re.findall(r"<h4[^>]*>(.*?)</h4>", text)
    assert headings == ["National estimates", "By sex", "By region",
                        "Trafficked for forced labour, by form", "In forced labour, by form"]
    assert text.count("<table") == 5 and "white-space:nowrap" in text
    parser = _Cells()
    parser.feed(text)
    assert "Balti" in {t for _, t in parser.cells}  # the region's label, not its code
    assert parser.legends == 5


# -- tabulate -----------------------------------------------------------------------------------
def test_tabulate_prints_formatted_numbers_and_labels(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """Reference: the same estimator through the Python API (SurveyDesign.proportion on the
    file's codes); the CLI prints the region's value label (reg 1 = Chisinau, the .sav's
    labels) and the category's (urb 1 = Urban), the regions in code order, one decimal."""
    args = ["tabulate", str(MOLDOVA), "--weights", "w_pers", "--strata", "strat", "--psu",
            "psu", "--lonely-psu", "adjust", "--proportion", "urb", "--by", "reg"]
    assert main(args) == 0
    out = capsys.readouterr().out
    frame = fl.read_microdata(MOLDOVA).frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = fl.SurveyDesign(frame, weights="w_pers", strata="strat", psu="psu",
                                 lonely_psu="adjust")
        ref = design.proportion("urb", by="reg").to_frame()
    row = ref[(ref["reg"] == 1) & (ref["category"] == 1)].iloc[0]
    table = out.splitlines()[2:]
    assert [ln.split()[0] for ln in table[:3]] == ["Chisinau", "Chisinau", "Balti"]
    line = next(ln for ln in table if ln.startswith("Chisinau") and " Urban " in ln)
    assert f" {100 * row['estimate']:.1f} " in line
    assert f"{100 * row['ci_low']:.1f} {DASH} {100 * row['ci_high']:.1f}" in line
    assert f"{int(row['n']):,}" in line and "," in f"{int(row['n']):,}"
    assert "0.9024" not in out  # no raw floats
    assert "Design: 23,683 rows" in out


def test_report_domains_of_a_file_column_print_its_value_labels(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A ``by`` column of the file (not a context variable of the spec) prints as the file's
    value labels in the codes' order (urb 1 = Urban, 2 = Rural in the .sav), with the numbers
    of its codes. Reference: the same call on the codes (a DataFrame carries no labels); a
    label nobody in the universe has is no domain (Georgia's household ``result`` 2 and 3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labelled = fl.estimate_prevalence(MOLDOVA, "moldova-2008-synthetic", by="urb",
                                          missing="minimum").to_frame()
        codes = fl.estimate_prevalence(fl.read_microdata(MOLDOVA).frame,
                                       "moldova-2008-synthetic", by="urb",
                                       missing="minimum").to_frame()
    lab = labelled[labelled["by"] == "urb"]
    cod = codes[codes["by"] == "urb"]
    assert list(dict.fromkeys(lab["domain"])) == ["Urban", "Rural"]
    assert list(dict.fromkeys(cod["domain"])) == ["1.0", "2.0"]
    np.testing.assert_array_equal(lab["estimate"].to_numpy(), cod["estimate"].to_numpy())
    assert main(["estimate", str(DATA / "georgia_synthetic_persons.dta"), "--households",
                 str(DATA / "georgia_synthetic_households.dta"), "--spec", "georgia-synthetic",
                 "--by", "result", "--missing", "minimum", "--format", "csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert set(table.loc[table["by"] == "result", "domain"]) == {"Completed"}
