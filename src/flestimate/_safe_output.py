"""Spreadsheet-safe text in the CSV and Excel files flestimate writes (formula injection).

A domain value or label comes from the user's data: a value such as ``=HYPERLINK(...)``,
``+1+1``, ``-2+3`` or ``@SUM(A1)`` would be run as a formula by a spreadsheet that opens the
file. Following the OWASP rule on CSV injection, a text cell is *dangerous* when it starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return, unless the whole text is a plain number
(``-2``, ``+1.5``, ``-1e-3``: a spreadsheet reads it as that number, not as a formula).

* CSV has no cell types, so :func:`neutralise_csv` prefixes a dangerous text with an apostrophe
  (``'=HYPERLINK(...)``), which spreadsheets show as text; the header is treated the same way.
  It also writes a carriage return inside a text as a newline (as XML, hence Excel, does):
  Python's CSV writer quotes a field with a newline but not one with a lone carriage return,
  which readers take for the end of the row (the rest of the row would become a new row).
* Excel has a text type, so :func:`excel_writer` keeps the text exactly and stores it as a text
  cell (``data_type = "s"``, never ``"f"``) marked ``quotePrefix`` (Excel keeps it text when the
  cell is edited).

Numbers, dates and missing values are never touched: a negative number stays a number. Every
CSV and Excel writer of the package (``PrevalenceReport.to_excel``, the CLI's ``--format csv``
and ``xlsx``, the batch's ``estimates.csv`` and ``estimates.xlsx``) goes through this module.
HTML needs no rule of its own: the HTML report escapes every text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["DANGEROUS_PREFIXES", "excel_writer", "is_dangerous", "neutralise_csv",
           "neutralise_text", "neutralise_workbook"]

DANGEROUS_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def is_dangerous(value: Any) -> bool:
    """Whether ``value`` is a text a spreadsheet would take for a formula."""
    return (isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES)
            and _PLAIN_NUMBER.fullmatch(value) is None)


def neutralise_text(value: Any) -> Any:
    """``value`` with an apostrophe before it when it is dangerous and its carriage returns as
    newlines (CSV); anything else unchanged."""
    if not isinstance(value, str):
        return value
    text = "'" + value if is_dangerous(value) else value
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _needs_change(value: Any) -> bool:
    return isinstance(value, str) and (is_dangerous(value) or "\r" in value)


def neutralise_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` safe to write as CSV: every dangerous text cell and column name gets
    a leading apostrophe and a carriage return in a text becomes a newline; numbers and other
    cells are unchanged (a column of numbers keeps its dtype)."""
    columns = []
    for i in range(frame.shape[1]):  # by position: a name may repeat
        col = frame.iloc[:, i]
        if col.dtype == object or isinstance(col.dtype, pd.CategoricalDtype | pd.StringDtype):
            values = col.astype(object)
            if values.map(_needs_change).any():
                col = values.map(neutralise_text)
        columns.append(col)
    out: pd.DataFrame = pd.concat(columns, axis=1) if columns else frame.copy()
    out.columns = pd.Index([neutralise_text(c) for c in frame.columns])
    return out


def neutralise_workbook(book: Any) -> int:
    """Turn every formula or dangerous text cell of an openpyxl workbook into a text cell with
    its text unchanged; returns how many cells were changed. flestimate writes no formulas, so
    a formula cell can only be a text that openpyxl took for one."""
    changed = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f" or is_dangerous(cell.value):
                    cell.data_type = "s"
                    cell.quotePrefix = True
                    changed += 1
    return changed


@contextmanager
def excel_writer(path: str | Path) -> Iterator[pd.ExcelWriter]:
    """A ``pd.ExcelWriter`` (openpyxl) whose workbook is neutralised
    (:func:`neutralise_workbook`) before it is saved."""
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        yield xl
        neutralise_workbook(xl.book)
