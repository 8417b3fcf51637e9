"""The Excel workbook of a :class:`~flestimate.report.PrevalenceReport`, publication-grade:
numbers stored as numbers with number formats (shares as percent values, ``0.0`` or ``0.00``
for the whole column; counts ``#,##0``; a flagged cell's ``" *"`` is part of its format, so
the cell stays a number), the row hierarchy as the cell indent, frozen header panes, column
widths, a legend under each table, a ``notes`` sheet (methods, legend, assumptions) and the
provenance as one readable cell per value."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate._format import (
    count_format,
    count_text,
    excel_share_format,
    share_decimals,
)
from flestimate._safe_output import excel_writer
from flestimate.report._common import TABLES
from flestimate.report._publish import compared, difference_values, share_columns
from flestimate.report._scale_up import has_scale_up, scale_up_values
from flestimate.results import describe_design, thaw

if TYPE_CHECKING:
    from flestimate.report._prevalence import PrevalenceReport

__all__ = ["COUNT_COLUMNS", "flat_provenance", "notes_rows", "sheet_name", "write_workbook"]

#: Columns of the published sheets stored as counts (``#,##0``).
COUNT_COLUMNS = ("number", "number CI low", "number CI high", "cases", "n")
_WIDEST = 70


def sheet_name(by: str) -> str:
    """The sheet of a margin's table: ``national`` or ``by sex``, within Excel's rules."""
    name = "national" if by == "national" else f"by {by}"
    for ch in "[]:*?/\\":
        name = name.replace(ch, "_")
    return name[:31]


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return "" if value is None else str(value)


def flat_provenance(provenance: Mapping[str, Any]) -> pd.DataFrame:
    """The provenance as ``key`` (a dotted path, e.g. ``disclosure.threshold``) and
    ``value`` rows: numbers stay numbers, lists are joined with commas, nothing is JSON."""
    rows: list[tuple[str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, Mapping | list | tuple) and not value:
            rows.append((prefix, "none"))
        elif isinstance(value, bool) or not isinstance(value, int | float):
            rows.append((prefix, _text(value) if not isinstance(value, bool) else str(value)))
        else:
            rows.append((prefix, value))

    walk("", thaw(provenance))
    out: pd.DataFrame = pd.DataFrame(rows, columns=["key", "value"])
    return out


def notes_rows(report: PrevalenceReport) -> list[tuple[str, str]]:
    """The ``notes`` sheet: title, source, the assumptions that change a number, methods,
    the number formats and the legend of each table."""
    p = report.provenance
    cls = p.get("classification") or {}
    not_measured = "; ".join(f"{rule}: {', '.join(what)}" for rule, what in
                             (cls.get("not_measured") or {}).items()) or "nothing"
    rows = [
        ("Title", report._title()),
        ("Source", str(p["source"])),
        ("Module spec", f"{p['spec']['name']} ({p['spec']['source']})"),
        ("Rule sets", ", ".join(f"{k}: {v}" for k, v in p["rules"].items())),
        ("Penalties of unknown dimension (plain_penalties)",
         str(cls.get("plain_penalties", "")) + (
             f" ({', '.join(cls['dimension_unknown'])})" if cls.get("dimension_unknown")
             else "")),
        ("Not measured (undetermined)", not_measured),
        ("Missing answers", report.missing_method().removeprefix("missing answers: ")),
        ("Disclosure control",
         report.disclosure_method().removeprefix("disclosure control: ")),
        ("Reliability rules", f"{p['reliability']['name']} ({p['reliability']['source']})"),
        ("Design", describe_design(p["design"])),
        ("Variance", str(p["variance"])),
        ("Degrees of freedom", str(p["df_rule"])),
        ("Intervals", f"{p['ci_method']} {100 * p['level']:g}% for shares; {p['count_ci']} "
                      "for numbers"),
        ("Number formats", "shares are stored in percent (9.8 means 9.8%), one decimal per "
                           "column (two when a non-zero estimate is below 1%); counts without "
                           "decimals; a flagged estimate shows \" *\" but stays a number; a "
                           "suppressed or confidential cell is empty, with the reason in note"),
        ("Row hierarchy", "trafficked and not trafficked are indented under In forced labour "
                          "(of which)"),
    ]
    rows += [(f"Legend: {t}", report.legend(t)) for t in TABLES]
    rows.append(("flestimate", str(p["version"])))
    return rows


def _width(values: list[str], header: str) -> float:
    return float(min(_WIDEST, max([len(header), *map(len, values)]) + 2))


def _format_published(sheet: Any, values: pd.DataFrame, shown: pd.DataFrame,
                      legend: str) -> None:
    """Number formats, the indent of the rows "of which", widths, frozen panes and the legend
    of one published sheet (``shown``: the columns written, in order)."""
    from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]

    decimals = share_decimals(values["%"] / 100) if len(values) else 1
    cols = list(shown.columns)
    for j, col in enumerate(cols, start=1):
        letter = sheet.cell(row=1, column=j).column_letter
        texts = [str(v) for v in shown[col]]
        if col in share_columns:
            flags = values.get("% flagged") if col == "%" else None
            for i in range(len(shown)):
                flagged = bool(flags.iat[i]) if flags is not None else False
                sheet.cell(row=i + 2, column=j).number_format = excel_share_format(
                    decimals, flagged)
            texts = [f"{v:.{decimals}f} *" for v in shown[col] if np.isfinite(v)]
        elif col in COUNT_COLUMNS:
            flags = values.get("number flagged") if col == "number" else None
            for i in range(len(shown)):
                flagged = bool(flags.iat[i]) if flags is not None else False
                sheet.cell(row=i + 2, column=j).number_format = count_format + (
                    '" *"' if flagged else "")
            texts = [count_text(v) + " *" for v in shown[col]]
        elif col == "indicator":
            for i, level in enumerate(values["level"]):
                sheet.cell(row=i + 2, column=j).alignment = Alignment(indent=int(level))
        sheet.column_dimensions[letter].width = _width(texts, str(col))
        sheet.cell(row=1, column=j).font = Font(bold=True)
    labels = cols.index("indicator") + 1 if "indicator" in cols else 0
    sheet.freeze_panes = sheet.cell(row=2, column=labels + 1)
    note = sheet.cell(row=len(shown) + 3, column=1, value=legend)
    note.font = Font(italic=True)


def _format_plain(sheet: Any, frame: pd.DataFrame, index: bool = False) -> None:
    """Frozen header, bold header and widths of a sheet written from ``frame``."""
    from openpyxl.styles import Font

    cols = ([str(frame.index.name or "")] if index else []) + [str(c) for c in frame.columns]
    for j, col in enumerate(cols, start=1):
        values = ([str(v) for v in frame.index] if index and j == 1 else
                  [str(v) for v in frame.iloc[:, j - 1 - int(index)]])
        sheet.column_dimensions[sheet.cell(row=1, column=j).column_letter].width = _width(
            values[:500], col)
        sheet.cell(row=1, column=j).font = Font(bold=True)
    sheet.freeze_panes = "B2" if index else "A2"


def _published(report: PrevalenceReport, xl: Any, table: str, by: str, name: str) -> None:
    """Write and format one published table."""
    values = report.publication_values(table, by)
    shown = values.drop(columns=[c for c in ("level", "% flagged", "number flagged")
                                 if c in values.columns])
    shown.to_excel(xl, sheet_name=name, index=False)
    _format_published(xl.sheets[name], values, shown, report.legend(table))


def _scale_up(report: PrevalenceReport, xl: Any) -> None:
    """The network scale-up estimates beside the direct ones (numbers of persons)."""
    values = scale_up_values(report)
    values.to_excel(xl, sheet_name="scale-up", index=False)
    sheet = xl.sheets["scale-up"]
    _format_plain(sheet, values)
    for j, col in enumerate(values.columns, start=1):
        if col != "population" and col != "note":
            for i in range(2, len(values) + 2):
                sheet.cell(row=i, column=j).number_format = "#,##0"


def _differences(report: PrevalenceReport, xl: Any, by: str, name: str) -> None:
    """Write one table of domain differences (numbers in percentage points, formatted)."""
    values = difference_values(report, by).drop(columns=["flagged"], errors="ignore")
    values.to_excel(xl, sheet_name=name, index=False)
    sheet = xl.sheets[name]
    _format_plain(sheet, values)
    pts = values["difference (pp)"].abs() if len(values) else pd.Series(dtype=float)
    fmt = "+0.00;-0.00;0.00" if ((pts > 0) & (pts < 1)).any() else "+0.0;-0.0;0.0"
    formats = {c: fmt for c in values.columns if c.endswith("(pp)")}
    formats.update({"p": "0.000", "n": "#,##0"})
    for j, col in enumerate(values.columns, start=1):
        for i in range(2, len(values) + 2) if col in formats else ():
            sheet.cell(row=i, column=j).number_format = formats[col]


def write_workbook(report: PrevalenceReport, path: Path) -> None:
    """Every sheet of :meth:`PrevalenceReport.to_excel`, formatted."""
    with excel_writer(path) as xl:  # a text starting with "=" stays text, not a formula
        for by in report.margins:
            _published(report, xl, "prevalence", by, sheet_name(by))
        for table in TABLES[1:]:
            _published(report, xl, table, "national", table)
        for by in compared(report):
            _differences(report, xl, by, ("diff " + sheet_name(by))[:31])
        if has_scale_up(report):
            _scale_up(report, xl)
        plain = {"estimates": report.to_frame(), "indicators": report.indicator_table,
                 "data_quality": report.quality}
        for name, frame in plain.items():
            frame.to_excel(xl, sheet_name=name, index=False)
            _format_plain(xl.sheets[name], frame)
        report.classification_counts.to_excel(xl, sheet_name="classification")
        _format_plain(xl.sheets["classification"], report.classification_counts, index=True)
        for name, frame in (("provenance", flat_provenance(report.provenance)),
                            ("notes", pd.DataFrame(notes_rows(report),
                                                   columns=["item", "text"]))):
            frame.to_excel(xl, sheet_name=name, index=False)
            _format_plain(xl.sheets[name], frame)
