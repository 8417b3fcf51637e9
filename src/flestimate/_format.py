"""The one formatting rule of every published table (text, HTML, Excel, notebooks).

- **Shares** are printed in percent with one decimal per column: two decimals when a non-zero
  estimate of the column is below 1%, one otherwise; its interval, bounds and minimum columns
  use the same decimals. Excel stores the share as a percent value (9.8, not 0.098) with the
  number format ``0.0`` (or ``0.00``).
- **Counts** (numbers of persons, ``n``, cases) have no decimals and a thousands separator,
  ``#,##0`` in Excel.
- **Ranges** (intervals, bounds) are written ``low – high`` with an en dash.
- **Flagged** estimates are marked `` *``; in Excel the mark is part of the number format, so
  that the cell stays a number.
- **The row hierarchy** (in forced labour, then of which trafficked / not trafficked) is an
  indent level: two spaces per level in text, a left padding in HTML, the cell indent in Excel.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DASH", "FLAG", "count_format", "count_text", "excel_share_format",
           "html_table", "interval_text", "label_text", "number_decimals", "number_text",
           "share_decimals", "share_text", "text_table"]

#: The range dash (an en dash, with spaces around it between two numbers).
DASH = "\u2013"
#: The mark after a flagged estimate.
FLAG = " *"
#: Excel's number format of counts.
count_format = "#,##0"


def _finite(x: Any) -> bool:
    try:
        return x is not None and bool(np.isfinite(float(x)))
    except (TypeError, ValueError):
        return False


def share_decimals(shares: Iterable[float]) -> int:
    """The decimals of a column of shares (fractions): 2 when a non-zero one is below 1%,
    else 1."""
    v = np.abs(np.asarray([float(s) for s in shares if _finite(s)], dtype=float)) * 100
    return 2 if bool(((v > 0) & (v < 1)).any()) else 1


def number_decimals(values: Iterable[float]) -> int:
    """The decimals of a column of means or ratios: four significant digits for its largest
    value (0 from 1,000 up, at most 6)."""
    v = np.abs(np.asarray([float(x) for x in values if _finite(x)], dtype=float))
    v = v[v > 0]
    if not len(v):
        return 0
    return int(np.clip(3 - np.floor(np.log10(v.max())), 0, 6))


def number_text(x: Any, decimals: int) -> str:
    """A mean or ratio with ``decimals`` decimals and thousands separators (``""`` if
    missing)."""
    return f"{float(x):,.{decimals}f}" if _finite(x) else ""


def share_text(p: Any, decimals: int = 1) -> str:
    """A share (fraction) in percent with ``decimals`` decimals (``""`` if missing)."""
    return f"{100 * float(p):.{decimals}f}" if _finite(p) else ""


def count_text(x: Any) -> str:
    """A count with thousands separators and no decimals (``""`` if missing)."""
    return f"{float(x):,.0f}" if _finite(x) else ""


def interval_text(lo: Any, hi: Any, fmt: Callable[[Any], str]) -> str:
    """``lo – hi`` (``.`` for a missing end; ``""`` when both are missing)."""
    if not (_finite(lo) or _finite(hi)):
        return ""
    return f"{fmt(lo) or '.'} {DASH} {fmt(hi) or '.'}"


def excel_share_format(decimals: int, flagged: bool = False) -> str:
    """Excel's number format of a share stored in percent: ``0.0`` (``0.0" *"`` flagged)."""
    base = "0." + "0" * decimals if decimals else "0"
    return base + '" *"' if flagged else base


def label_text(value: Any) -> str:
    """A domain value as printed: a whole float without its ``.0`` (a code read as float),
    missing as blank, anything else as it is."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def labelled_domain(values: pd.Series, labels: Mapping[Any, str]) -> pd.Series:
    """A domain column of codes as its value labels (the file's), a categorical in the codes'
    order; a code without a label is kept as its text (``1.0`` as ``1``), missing stays
    missing."""
    named = values.map(dict(labels))
    codes = values.map(label_text).where(values.notna())
    shown = named.where(named.notna(), codes)
    order = [labels[k] for k in sorted(labels, key=_code_order)]
    categories = list(dict.fromkeys([*order, *sorted(set(shown.dropna()) - set(order))]))
    out: pd.Series = pd.Series(pd.Categorical(shown, categories=categories),
                               index=values.index, name=values.name)
    return out


def _code_order(code: Any) -> tuple[int, Any]:
    """Numeric codes first in numeric order, then the others (Stata's ``.a``) as text."""
    return (0, float(code)) if isinstance(code, int | float | np.number) else (1, str(code))


def text_table(frame: pd.DataFrame, left: Sequence[str] = (), levels: Sequence[int] = (),
               indent: str = "indicator") -> str:
    """A frame of strings as a plain-text table: the ``left`` columns left-aligned, the
    others right-aligned, the column ``indent`` indented two spaces per ``levels`` entry."""
    cols = [str(c) for c in frame.columns]
    cells = [[label_text(v) for v in frame[c]] for c in frame.columns]
    if len(levels) and indent in cols:
        k = cols.index(indent)
        cells[k] = ["  " * int(lv) + v.strip() for v, lv in zip(cells[k], levels, strict=True)]
    widths = [max([len(c), *map(len, col)]) for c, col in zip(cols, cells, strict=True)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if c in left else v.rjust(w)
                         for c, v, w in zip(cols, values, widths, strict=True)).rstrip()

    rows = [line(cols)] + [line([col[i] for col in cells]) for i in range(len(frame))]
    return "\n".join(rows)


def html_table(frame: pd.DataFrame, left: Sequence[str] = (), levels: Sequence[int] = (),
               nowrap: Sequence[str] = (), legend: str = "", indent: str = "indicator") -> str:
    """A frame of strings as an escaped HTML table with inline styles (so that it looks the
    same in a notebook and in the report): the ``left`` columns left-aligned, the column
    ``indent`` indented by ``levels``, the ``nowrap`` columns never wrapped, then
    ``legend``."""
    cols = [str(c) for c in frame.columns]
    head = "".join(f'<th style="text-align:{"left" if c in left else "right"};'
                   f'padding:.2em .6em;border-bottom:1px solid #999">{html.escape(c)}</th>'
                   for c in cols)
    body = []
    for i in range(len(frame)):
        tds = []
        for j, c in enumerate(cols):
            style = ["padding:.2em .6em", "border-bottom:1px solid #e4e4e4",
                     f"text-align:{'left' if c in left else 'right'}"]
            if c in nowrap:
                style.append("white-space:nowrap")
            if len(levels) and c == indent and int(levels[i]):
                style.append(f"padding-left:{0.6 + 1.2 * int(levels[i]):.1f}em")
            value = label_text(frame.iat[i, j]).strip() if c in left else label_text(
                frame.iat[i, j])
            tds.append(f'<td style="{";".join(style)}">{html.escape(value)}</td>')
        body.append("<tr>" + "".join(tds) + "</tr>")
    table = (f'<table class="fl-table" style="border-collapse:collapse;font-size:.88em">'
             f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    if legend:
        table += (f'<p class="fl-legend" style="color:#555;font-size:.85em;margin-top:.2em">'
                  f"{html.escape(legend)}</p>")
    return table
