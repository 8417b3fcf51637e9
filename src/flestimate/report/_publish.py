"""The published tables of a :class:`~flestimate.report.PrevalenceReport`, once as numbers
(:func:`publication_values`, what Excel stores) and once as text (:func:`format_values`, what
the text, HTML and notebook displays print), under the one rule of :mod:`flestimate._format`;
the legend under each table; the text and notebook displays."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate._format import (
    FLAG,
    count_text,
    html_table,
    interval_text,
    label_text,
    share_decimals,
    share_text,
    text_table,
)
from flestimate.report._common import LABELS, TABLE_COLUMNS
from flestimate.report._scale_up import (
    has_scale_up,
    scale_up_html,
    scale_up_text,
    scale_up_title,
)

if TYPE_CHECKING:
    from flestimate.report._prevalence import PrevalenceReport

__all__ = ["DISPLAYS", "LEVELS", "compared", "difference_values", "differences_html",
           "differences_text", "differences_title", "format_differences", "format_values", "hidden", "legend",
           "merge_notes", "notebook_html", "publication_values", "report_text", "share_columns",
           "table_html", "table_text"]

#: Indent level of the rows "of which" (the parts of the forced-labour total).
LEVELS = {"trafficked": 1, "forced_labour_not_trafficked": 1}
#: The columns of a share (in percent) of :func:`publication_values`, formatted alike.
share_columns = ("%", "% CI low", "% CI high", "% minimum", "% bounds low", "% bounds high")
_WHO = {"prevalence": "the universe (persons in scope)",
        "trafficked_by_form": "the persons trafficked for forced labour",
        "forced_labour_by_form": "the persons in forced labour"}
#: The display tables of the text and notebook displays, with their titles.
DISPLAYS = (("prevalence", "Estimates"),
            ("trafficked_by_form", "Trafficked for forced labour, by form"),
            ("forced_labour_by_form", "In forced labour, by form"))


def hidden(r: Any) -> bool:
    """Whether a tidy row's estimate is not published (reliability or disclosure)."""
    return bool(r.reliability == "suppress"
                or getattr(r, "disclosure", "publish") in ("primary", "secondary"))


def merge_notes(reason: Any, ci_flag: Any) -> str:
    """The flag note of a share: its reason, and the interval's flag unless it says the same
    (``p = 0`` and ``p=0: one-sided interval (NCHS)`` become ``p = 0, one-sided interval
    (NCHS)``)."""
    why: str = reason if isinstance(reason, str) else ""
    flag: str = ci_flag if isinstance(ci_flag, str) else ""
    if not flag:
        return why
    head, _, rest = flag.partition(":")
    if rest and why and head.replace(" ", "") == why.replace(" ", ""):
        return f"{why},{rest}"
    return f"{why}; {flag}" if why else flag


def _cell(r: Any, name: str, notes: list[str]) -> tuple[float, float, float, bool]:
    """One published estimate (percent for shares): value, interval, flagged; NaN where it
    is not published, with its reason added to ``notes``."""
    what = "share" if name == "%" else name
    sdc = getattr(r, "disclosure", "publish")
    scale = 100.0 if name == "%" else 1.0
    if sdc in ("primary", "secondary"):
        notes.append(f"confidential: {r.disclosure_reason}")
        return np.nan, np.nan, np.nan, False
    if r.reliability == "suppress":
        notes.append(f"{what} suppressed: {r.reliability_reason}")
        return np.nan, np.nan, np.nan, False
    flagged = r.reliability == "flag"
    ci_flag = getattr(r, "ci_flag", None)
    if flagged:
        notes.append(f"{what} flagged: {merge_notes(r.reliability_reason, ci_flag)}")
    elif isinstance(ci_flag, str) and ci_flag:
        notes.append(ci_flag)
    return scale * r.estimate, scale * r.ci_low, scale * r.ci_high, flagged


def _share_row(report: PrevalenceReport, table: str, r: Any, num: Any) -> dict[str, Any]:
    """The published cells of one indicator: the share, its minimum and bounds, the number
    (prevalence table), the sample counts and the notes."""
    notes: list[str] = []
    est, lo, hi, flag = _cell(r, "%", notes)
    rec: dict[str, Any] = {"%": est, "% CI low": lo, "% CI high": hi, "% flagged": flag}
    show = not hidden(r)
    if report.imputed:
        rec["% minimum"] = 100 * r.minimum if show and r.imputations != 0 else np.nan
    if table == "prevalence":
        ok = show and np.isfinite(r.bound_low) and np.isfinite(r.bound_high)
        rec["% bounds low"] = 100 * r.bound_low if ok else np.nan
        rec["% bounds high"] = 100 * r.bound_high if ok else np.nan
        if num is not None:
            n_est, n_lo, n_hi, n_flag = _cell(num, "number", notes)
        else:
            n_est = n_lo = n_hi = np.nan
            n_flag = False
        rec.update({"number": n_est, "number CI low": n_lo, "number CI high": n_hi,
                    "number flagged": n_flag})
    rec["cases"] = float(r.n_cases) if pd.notna(r.n_cases) else np.nan
    rec["n"] = float(r.n) if pd.notna(r.n) else np.nan
    rec["note"] = "; ".join(dict.fromkeys(_merge_share_and_number(notes)))
    return rec


def _merge_share_and_number(notes: list[str]) -> list[str]:
    """One note where the share and the number are suppressed or flagged for the same reason
    ("share and number suppressed: not measured: ...", not the reason twice)."""
    out: list[str] = []
    for note in notes:
        for verb in ("suppressed", "flagged"):
            share = f"share {verb}: "
            if note.startswith(f"number {verb}: ") and share + note[len(share) + 1:] in out:
                i = out.index(share + note[len(share) + 1:])
                out[i] = f"share and number {verb}: " + note[len(share) + 1:]
                break
        else:
            out.append(note)
    return out


def publication_values(report: PrevalenceReport, table: str, by: str) -> pd.DataFrame:
    """The published table ``table`` for margin ``by`` as numbers
    (:meth:`PrevalenceReport.publication_values`)."""
    t = report.select(table, by)
    # select() drops a column blank throughout (a table whose every cell is confidential)
    t = t.reindex(columns=[*t.columns, *(c for c in TABLE_COLUMNS if c not in t.columns)])
    dom_cols = [] if by == "national" else by.split("*")
    shares = t[t["measure"] == "share"].reset_index(drop=True)
    num_rows = t[t["measure"] == "number"]
    numbers = dict(zip(zip(*[num_rows[c] for c in [*dom_cols, "indicator"]], strict=True),
                       num_rows.itertuples(index=False), strict=True))
    rows = []
    for r in shares.itertuples(index=False):  # a display of at most a few hundred cells
        rec: dict[str, Any] = {c: getattr(r, c) for c in dom_cols}
        rec["indicator"] = LABELS.get(r.indicator, str(r.indicator)).strip()
        rec["level"] = LEVELS.get(r.indicator, 0) if table == "prevalence" else 0
        key = (*[getattr(r, c) for c in dom_cols], r.indicator)
        rec.update(_share_row(report, table, r, numbers.get(key)))
        rows.append(rec)
    out: pd.DataFrame = pd.DataFrame(rows)
    return out


def format_values(values: pd.DataFrame, by: str) -> pd.DataFrame:
    """The published table as text (:meth:`PrevalenceReport.publication_table`): one decimals
    rule per share column group, counts with thousands separators, en-dash ranges, ``*``
    after flagged estimates, the rows "of which" indented two spaces."""
    dom_cols = [] if by == "national" else by.split("*")
    out = pd.DataFrame({c: [label_text(v) for v in values[c]] for c in dom_cols},
                       index=values.index)
    if not len(values):
        empty: pd.DataFrame = out.assign(indicator=[], note=[])
        return empty
    out["indicator"] = ["  " * int(lv) + str(i)
                        for i, lv in zip(values["indicator"], values["level"], strict=True)]
    decimals = share_decimals(values["%"] / 100)

    def share(v: Any) -> str:
        return share_text(v / 100 if np.isfinite(v) else v, decimals)

    out["%"] = [share(v) + (FLAG if f and share(v) else "")
                for v, f in zip(values["%"], values["% flagged"], strict=True)]
    out["% CI"] = [interval_text(lo, hi, share)
                   for lo, hi in zip(values["% CI low"], values["% CI high"], strict=True)]
    if "% minimum" in values:
        out["% minimum"] = [share(v) for v in values["% minimum"]]
    if "% bounds low" in values:
        out["% bounds"] = [interval_text(lo, hi, share) for lo, hi in
                           zip(values["% bounds low"], values["% bounds high"], strict=True)]
    if "number" in values:
        out["number"] = [count_text(v) + (FLAG if f and count_text(v) else "")
                         for v, f in zip(values["number"], values["number flagged"],
                                         strict=True)]
        out["number CI"] = [interval_text(lo, hi, count_text) for lo, hi in
                            zip(values["number CI low"], values["number CI high"], strict=True)]
    out["cases"] = [count_text(v) for v in values["cases"]]
    out["n"] = [count_text(v) for v in values["n"]]
    out["note"] = values["note"].to_numpy()
    shown: pd.DataFrame = out
    return shown


def legend(report: PrevalenceReport, table: str) -> str:
    """The short legend under a published table: what the columns are, the marks and the
    methods in one line."""
    p = report.provenance
    parts = [f"%: percent of {_WHO[table]}",
             f"CI: {100 * p['level']:g}% {p['ci_method']} interval"]
    if table == "prevalence":
        parts += ["bounds: undetermined persons counted out \u2013 in",
                  "number: persons (weighted)"]
    if report.imputed:
        parts.append("% minimum: undetermined counted as not")
    parts += ["cases: sample persons in the row", "n: sample persons in the domain",
              "* flagged, blank suppressed or confidential (see note)"]
    return "; ".join(parts) + "."


def table_text(report: PrevalenceReport, table: str, by: str) -> str:
    """One published table as text, with its legend (wrapped at 100 characters)."""
    import textwrap

    values = report.publication_values(table, by)
    shown = format_values(values, by)
    left = [*([] if by == "national" else by.split("*")), "indicator", "note"]
    body = text_table(shown, left=left, levels=list(values["level"]) if len(values) else [])
    return body + "\n" + textwrap.fill(report.legend(table), 100)


# -- domain differences (compare=) -------------------------------------------------------------
def compared(report: PrevalenceReport) -> list[str]:
    """The margins of the report's table of domain differences, in order."""
    t = report.to_frame()
    return list(pd.unique(t.loc[t["table"] == "differences", "by"]))


def difference_values(report: PrevalenceReport, by: str) -> pd.DataFrame:
    """The published differences of margin ``by`` as numbers: percentage points (domain
    minus reference), the interval, the p-value, ``n``, the note; blank where hidden."""
    t = report.select("differences", by)
    t = t.reindex(columns=[*t.columns, *(c for c in TABLE_COLUMNS if c not in t.columns)])
    rows = []
    for r in t.itertuples(index=False):  # a display of a few dozen cells
        notes: list[str] = []
        est, lo, hi, flag = _cell(r, "difference", notes)
        show = np.isfinite(est)
        rows.append({by: getattr(r, by), "indicator": LABELS.get(r.indicator, r.indicator)
                     .strip(), "reference": r.reference,
                     "difference (pp)": 100 * est if show else np.nan,
                     "CI low (pp)": 100 * lo if show else np.nan,
                     "CI high (pp)": 100 * hi if show else np.nan,
                     "p": r.p_value if show else np.nan, "flagged": flag,
                     "n": float(r.n) if pd.notna(r.n) else np.nan,
                     "note": "; ".join(dict.fromkeys(notes))})
    out: pd.DataFrame = pd.DataFrame(rows)
    return out


def format_differences(values: pd.DataFrame, by: str) -> pd.DataFrame:
    """The differences as text: one decimals rule (two when a published difference is below
    one point), ``*`` after a flagged one, ``low – high``, p with three decimals."""
    if not len(values):
        empty: pd.DataFrame = pd.DataFrame(
            columns=[by, "indicator", "difference (pp)", "CI (pp)", "p", "n", "note"])
        return empty
    pts = values["difference (pp)"].abs()
    d = 2 if ((pts > 0) & (pts < 1)).any() else 1

    def num(v: Any) -> str:
        return f"{v:+.{d}f}".replace("-", "−") if np.isfinite(v) else ""

    out = pd.DataFrame({by: [label_text(v) for v in values[by]],
                        "indicator": values["indicator"].astype(str)})
    out["difference (pp)"] = [num(v) + (FLAG if f and num(v) else "")
                              for v, f in zip(values["difference (pp)"], values["flagged"],
                                              strict=True)]
    out["CI (pp)"] = [interval_text(lo, hi, num) for lo, hi in
                      zip(values["CI low (pp)"], values["CI high (pp)"], strict=True)]
    out["p"] = ["<0.001" if v < 0.001 else f"{v:.3f}" if np.isfinite(v) else ""
                for v in values["p"]]
    out["n"] = [count_text(v) for v in values["n"]]
    out["note"] = values["note"].to_numpy()
    shown: pd.DataFrame = out
    return shown


def _differences_legend(report: PrevalenceReport, values: pd.DataFrame) -> str:
    ref = values["reference"].iloc[0] if len(values) else ""
    return (f"difference: percentage points, the domain's share minus that of {ref}; CI: "
            f"{100 * report.provenance['level']:g}% t interval on the smaller df of the two "
            f"shares; p: two-sided test of no difference; n: sample persons in the domain; "
            f"* flagged, blank suppressed or confidential where a share it compares is.")


def differences_text(report: PrevalenceReport, by: str) -> str:
    """The differences of margin ``by`` as a text table with its legend."""
    import textwrap

    values = difference_values(report, by)
    body = text_table(format_differences(values, by), left=[by, "indicator", "note"],
                      levels=_levels(values))
    return body + "\n" + textwrap.fill(_differences_legend(report, values), 100)


def differences_html(report: PrevalenceReport, by: str) -> str:
    """The differences of margin ``by`` as an HTML table with its legend."""
    values = difference_values(report, by)
    return html_table(format_differences(values, by), left=[by, "indicator", "note"],
                      levels=_levels(values), nowrap=("CI (pp)",),
                      legend=_differences_legend(report, values))


def _levels(values: pd.DataFrame) -> list[int]:
    """The indent of each difference's row: trafficked / not trafficked under forced labour."""
    of_which = {LABELS[k].strip() for k in LEVELS}
    return [int(i in of_which) for i in values["indicator"]] if len(values) else []


def differences_title(report: PrevalenceReport, by: str) -> str:
    ref = report.select("differences", by)["reference"]
    return f"Differences by {by}, from {ref.iloc[0] if len(ref) else ''} (percentage points)"


def report_text(report: PrevalenceReport, margins: bool) -> str:
    """The text display: the title, the national table, the shares of the trafficked by form
    (and every domain table when ``margins``), the methods."""
    parts = [report._title(), "", table_text(report, "prevalence", "national"), ""]
    if margins:
        for by in report.margins[1:]:
            parts += [f"By {by}:", table_text(report, "prevalence", by), ""]
    if margins:
        for by in compared(report):
            parts += [differences_title(report, by) + ":", differences_text(report, by), ""]
    if has_scale_up(report):
        parts += [scale_up_title(report) + ":", scale_up_text(report), ""]
    parts += ["Trafficked for forced labour, by form:",
              table_text(report, "trafficked_by_form", "national"), "",
              report._methods()]
    return "\n".join(parts)


def table_html(report: PrevalenceReport, table: str, by: str) -> str:
    """One published table as HTML (inline styles: the same in the report and a notebook),
    the rows "of which" indented, intervals never wrapped, with its legend."""
    values = report.publication_values(table, by)
    shown = format_values(values, by)
    dom = [] if by == "national" else by.split("*")
    return html_table(shown, left=[*dom, "indicator", "note"],
                      levels=list(values["level"]) if len(values) else [],
                      nowrap=("% CI", "% bounds", "number CI"), legend=report.legend(table))


def notebook_html(report: PrevalenceReport) -> str:
    """The notebook display: the title, the national table, a table per margin (when the
    report has domains) and the tables by form, styled inline, then the methods."""
    h = '<h4 style="margin:.8em 0 .2em">{}</h4>'
    body = [f'<p style="font-weight:bold">{html.escape(report._title())}</p>',
            h.format("National estimates"), table_html(report, "prevalence", "national")]
    for by in report.margins[1:]:
        body += [h.format(f"By {html.escape(by)}"), table_html(report, "prevalence", by)]
    for by in compared(report):
        body += [h.format(html.escape(differences_title(report, by))),
                 differences_html(report, by)]
    if has_scale_up(report):
        body += [h.format(html.escape(scale_up_title(report))), scale_up_html(report)]
    for table, title in DISPLAYS[1:]:
        body += [h.format(title), table_html(report, table, "national")]
    body.append(f'<p style="color:#555;font-size:.85em">{html.escape(report._methods())}</p>')
    return '<div class="flestimate-report">' + "".join(body) + "</div>"
