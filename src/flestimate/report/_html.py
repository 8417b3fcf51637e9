"""The self-contained HTML report of a :class:`~flestimate.report.PrevalenceReport`: one document
with inline CSS and the forest plots as base64 PNG data URIs, so that it can be mailed or
archived as a single file and opened offline."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate._format import count_text, html_table, label_text, share_decimals, share_text
from flestimate.report._plot import MATPLOTLIB_HINT, forest_plot
from flestimate.report._publish import (
    compared,
    differences_html,
    differences_title,
    table_html,
)
from flestimate.report._scale_up import has_scale_up, scale_up_html, scale_up_title
from flestimate.results import describe_design

if TYPE_CHECKING:
    from flestimate.report._prevalence import PrevalenceReport

__all__ = ["SECTIONS", "render_html"]

#: The section headings of the document, in order (a domain section per margin follows the
#: national one).
SECTIONS: tuple[str, ...] = (
    "National estimates", "Trafficked for forced labour, by form", "In forced labour, by form",
    "Forest plots", "Types of coercion and involuntariness", "Classification", "Data quality",
    "Methods", "References",
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;
max-width:72em;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em}h2{font-size:1.25em;border-bottom:1px solid #ccc;margin-top:2em}
h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.88em}
th,td{padding:.2em .6em;border-bottom:1px solid #e4e4e4;text-align:right}
th{background:#f3f5f8;border-bottom:1px solid #999}
td:first-child,th:first-child{text-align:left}
table.meta td,table.meta th{text-align:left}
.note{color:#555;font-size:.9em}code,.formula{font-family:ui-monospace,Consolas,monospace}
.formula{background:#f6f6f6;padding:.3em .6em;display:block;margin:.3em 0}
img{max-width:100%;height:auto;display:block;margin:.5em 0 1.5em}
"""

_REFERENCES = (
    "Korn EL, Graubard BI. Confidence intervals for proportions with small expected number of "
    "positive counts estimated from survey data. Survey Methodology 24(2):193-201, 1998.",
    "Parker JD, Talih M, Malec DJ, et al. National Center for Health Statistics data "
    "presentation standards for proportions. Vital Health Stat 2(175), 2017.",
    "Parker JD, Talih M, Irimata KE, et al. National Center for Health Statistics data "
    "presentation standards for rates and counts. Vital Health Stat 2(200), 2023.",
    "Lumley T. Complex Surveys: A Guide to Analysis Using R. Wiley, 2010.",
    "Binder DA. On the variances of asymptotically normal estimators from complex surveys. "
    "International Statistical Review 51(3):279-292, 1983.",
    "ILO. Hard to see, harder to count: survey guidelines to estimate forced labour of adults "
    "and children. International Labour Office, Geneva, 2012.",
    "ILO. Guidelines concerning the measurement of forced labour. 20th International "
    "Conference of Labour Statisticians (ICLS), Geneva, 2018.",
)

_NCHS_STEPS = (
    "Proportions (Parker et al. 2017, in the order of CDC's R surveytable): the effective "
    "sample size is n_eff = p(1-p)/SE², set to n at p = 0 or 1, and capped at n; an estimate "
    "is suppressed when n or n_eff is below its minimum; otherwise it is presented when the "
    "95% Korn-Graubard interval width W = U - L is small, suppressed when W is large or the "
    "relative width W/p too large; presented estimates are flagged when the complement's "
    "relative width W/(1-p) is large, when the df are few, or at p = 0 or 1. Counts (Parker et "
    "al. 2023): suppressed when the sample cases are too few or the relative width of the "
    "log-scale interval too large; flagged when the df are few. Whatever interval was asked "
    "for the tables, the rules judge a share by its 95% Korn-Graubard interval."
)

_METHODS = """
<p>Every class is a domain of the full design: the design is declared on every row of the file
and the universe (and each domain <i>d</i>) is a 0/1 indicator, never a subset of rows.</p>
<p><b>Ratio estimator.</b> The share of domain <i>d</i> in class <i>y</i>:
<span class="formula">p&#770;<sub>d</sub> = &Sigma;<sub>i</sub> w<sub>i</sub> d<sub>i</sub>
y<sub>i</sub> / &Sigma;<sub>i</sub> w<sub>i</sub> d<sub>i</sub></span>
the number of persons is the numerator, X&#770;<sub>d</sub> = &Sigma; w<sub>i</sub>
d<sub>i</sub> y<sub>i</sub>.</p>
<p><b>Linearised variance</b> (Binder 1983; Lumley 2010), with the linearised values
z<sub>hi</sub> = &Sigma;<sub>j&isin;PSU hi</sub> w<sub>j</sub> d<sub>j</sub> (y<sub>j</sub> -
p&#770;<sub>d</sub>) / &Sigma; w d summed to the PSU <i>i</i> of stratum <i>h</i>:
<span class="formula">V(p&#770;<sub>d</sub>) = &Sigma;<sub>h</sub> (1 - f<sub>h</sub>)
n<sub>h</sub>/(n<sub>h</sub> - 1) &Sigma;<sub>i</sub> (z<sub>hi</sub> -
z&#772;<sub>h</sub>)&sup2;</span>
f<sub>h</sub> the first-stage sampling fraction (0 without an FPC), n<sub>h</sub> the PSUs of
stratum <i>h</i>; the df rule is given in the header.</p>
<p><b>Korn-Graubard interval</b> (Korn and Graubard 1998, with the NCHS conventions): the
Clopper-Pearson interval at the effective sample size
<span class="formula">n* = min(n<sub>eff</sub> (t<sub>n-1</sub> / t<sub>df</sub>)&sup2;, n),
&nbsp; n<sub>eff</sub> = p&#770;(1 - p&#770;) / SE&sup2;</span>
L = B<sup>-1</sup>(&alpha;/2; x, n* - x + 1), U = B<sup>-1</sup>(1 - &alpha;/2; x + 1, n* - x)
with x = n* p&#770;; at p&#770; = 0 or 1, n<sub>eff</sub> = n and the interval is one-sided
(L = 0 or U = 1).</p>
<p><b>Numbers of persons</b>: the log-scale interval
<span class="formula">X&#770; exp(&#8723; t<sub>df</sub> SE / X&#770;)</span>
(Parker et al. 2023, eq. 24), undefined for a zero count.</p>
<p><b>Bounds from the undetermined cases.</b> Persons whose status cannot be determined from
their answers are counted out of a class for the lower bound and in it for the upper bound;
the bounds' interval runs from the lower end of the lower bound's interval to the upper end of
the upper bound's.</p>
<p><b>Shares by form.</b> The share of the trafficked (or of all in forced labour) in form
<i>f</i> is a ratio of two totals,
<span class="formula">r&#770;<sub>f</sub> = &Sigma; w<sub>i</sub> 1[trafficked<sub>i</sub>,
form<sub>i</sub> = f] / &Sigma; w<sub>i</sub> 1[trafficked<sub>i</sub>]</span>
with its delta-method (linearised) variance, i.e. the ratio estimator above with the
trafficked as the domain.</p>
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _cell(value: Any) -> str:
    """A cell of a report frame as printed: whole numbers with thousands separators, other
    numbers with four significant digits, blanks for missing values."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return "" if value is None or value is pd.NA else label_text(value)
    if not np.isfinite(float(value)):
        return ""
    return count_text(value) if float(value).is_integer() else f"{float(value):.4g}"


def _table(frame: pd.DataFrame, index: bool = False, legend: str = "") -> str:
    """A report frame (indicators, quality, counts) as an HTML table in the one style:
    text columns left-aligned, numbers right-aligned and formatted, blanks for missing."""
    shown = frame.reset_index() if index else frame
    text = [c for c in shown.columns if not pd.api.types.is_numeric_dtype(shown[c])
            or pd.api.types.is_bool_dtype(shown[c])]
    cells = pd.DataFrame({str(c): [_cell(v) for v in shown[c].astype(object)]
                          for c in shown.columns}, index=range(len(shown)))
    return html_table(cells, left=[str(c) for c in text], legend=legend)


def _png(ax: Any) -> str:
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=96)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = _esc(ax.get_title(loc="left"))
    return f'<img alt="{alt}" src="data:image/png;base64,{data}">'


def _meta(rows: Mapping[str, Any]) -> str:
    cells = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows.items())
    return f'<table class="meta">{cells}</table>'


def _header(report: PrevalenceReport) -> list[str]:
    p = report.provenance
    d, u = p["design"], p["universe"]
    design = describe_design(d)
    options = p.get("classification") or {}
    not_measured = "; ".join(f"{rule}: {', '.join(what)}" for rule, what in
                             (options.get("not_measured") or {}).items())
    rows = {
        "Source": p["source"],
        "Module spec": f"{p['spec']['name']} ({p['spec']['source']})",
        "Reference period": p.get("reference_period") or "not stated",
        "Rules": ", ".join(f"{k}: {v}" for k, v in p["rules"].items()),
        "Penalties of unknown dimension": (
            f"{options.get('plain_penalties', '')}"
            + (f" ({', '.join(options['dimension_unknown'])})"
               if options.get("dimension_unknown") else "")),
        "Not measured (undetermined)": not_measured or "nothing",
        "Missing answers": report.missing_method().removeprefix("missing answers: "),
        "Design": design,
        "Variance": p["variance"] + (f"; seed {p['seed']}" if p.get("seed") is not None
                                     else ""),
        "Degrees of freedom": p["df_rule"],
        "CI method": f"{p['ci_method']} {100 * p['level']:g}% for shares; {p['count_ci']} "
                     f"for numbers",
        "Reliability rules": f"{p['reliability']['name']} ({p['reliability']['source']})",
        "Disclosure control": report.disclosure_method().removeprefix("disclosure control: "),
        "Universe": f"{u['in_universe']:,} persons in the universe of {u['rows']:,} rows "
                    f"({u.get('left_universe', u['rows'] - u['in_universe']):,} outside)",
        "flestimate": p["version"],
    }
    title = f"Forced labour and trafficking: {p['spec']['name']}" + (
        f", {p['reference_period']}" if p.get("reference_period") else "")
    return [f"<h1>{_esc(title)}</h1>", _meta(rows),
            '<p class="note">Flagged estimates are marked *; suppressed estimates are blank, '
            "with the reason in the note column.</p>"]


def _estimates(report: PrevalenceReport) -> list[str]:
    out = ["<h2>National estimates</h2>", table_html(report, "prevalence", "national")]
    for by in report.margins[1:]:
        out += [f"<h2>Estimates by {_esc(by)}</h2>", table_html(report, "prevalence", by)]
    for by in compared(report):
        out += [f"<h2>{_esc(differences_title(report, by))}</h2>", differences_html(report, by)]
    if has_scale_up(report):
        out += [f"<h2>{_esc(scale_up_title(report))}</h2>", scale_up_html(report)]
    for table, title in (("trafficked_by_form", SECTIONS[1]), ("forced_labour_by_form",
                                                               SECTIONS[2])):
        out.append(f"<h2>{title}</h2>")
        for by in report.margins:
            if by != "national":
                out.append(f"<h3>By {_esc(by)}</h3>")
            out.append(table_html(report, table, by))
    return out


def _plots(report: PrevalenceReport) -> list[str]:
    out = ["<h2>Forest plots</h2>"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return [*out, f'<p class="note">Forest plots are not included: {MATPLOTLIB_HINT}.</p>']
    out.append('<p class="note">Shares with their intervals, nationally and by domain (one plot '
               "per class, every margin under its heading); the dotted line is the national "
               "estimate; the light bar the bounds from the undetermined cases.</p>")
    for indicator in ("forced_labour", "trafficked"):  # one figure each: drawing is the cost
        out.append(_png(forest_plot(report, by=None, indicator=indicator)))
    return out


def _shares(values: pd.Series) -> list[str]:
    """A column of shares in percent, one decimals rule for the column."""
    decimals = share_decimals(values)
    return [share_text(v, decimals) for v in values]


def _indicators(report: PrevalenceReport) -> list[str]:
    t = report.indicator_table
    out = ["<h2>Types of coercion and involuntariness</h2>",
           '<p class="note">Weighted percent of persons with each indicator (unweighted counts '
           "of yes, no and missing answers).</p>"]
    kinds = (("pen_", "Types of coercion (menace of penalty)"), ("inv_", "Involuntariness"))
    for among, who in (("forced_labour", "in forced labour"), ("trafficked", "trafficked")):
        for prefix, title in kinds:
            part = t[(t["among"] == among) & t["indicator"].astype(str).str.startswith(prefix)]
            cols = [c for c in ("indicator", "dimension", "grade", "n_yes", "n_no", "n_missing")
                    if c in part.columns]
            shown = part[cols].assign(**{"%": _shares(part["share"])})
            if "share_unweighted" in part.columns:
                shown["% unweighted"] = _shares(part["share_unweighted"])
            out += [f"<h3>{title}, among persons {who}</h3>",
                    _table(shown) if len(shown) else '<p class="note">None.</p>']
    return out


def _quality(report: PrevalenceReport) -> list[str]:
    q = report.quality
    out = ["<h2>Classification</h2>",
           '<p class="note">Unweighted persons by status and form.</p>',
           _table(report.classification_counts, index=True), "<h2>Data quality</h2>"]
    titles = {"universe": "Universe rules", "item": "Items", "context": "Context variables"}
    for section in pd.unique(q["section"]) if "section" in q else []:
        part = q[q["section"] == section].dropna(axis=1, how="all").drop(columns="section")
        out += [f"<h3>{_esc(titles.get(str(section), str(section)))}</h3>", _table(part)]
    excluded = report.provenance["excluded_missing_by"]
    out.append("<h3>Rows excluded from domains for a missing domain value</h3>")
    if excluded:
        out.append(_table(pd.DataFrame({"margin": list(excluded),
                                        "rows excluded": list(excluded.values())})))
    else:
        out.append('<p class="note">No domain margins.</p>')
    return out


def _rules(report: PrevalenceReport) -> list[str]:
    from flestimate.errors import FlestimateError
    from flestimate.report._reliability import load_reliability

    info = report.provenance["reliability"]
    out = [f"<h3>Reliability rules: {_esc(info['name'])}</h3>"]
    source = str(info["source"])
    try:
        rules = load_reliability(source.removeprefix("builtin:"))
    except (FlestimateError, OSError):
        rules = None
    if rules is not None and rules.name == info["name"]:
        out.append(f"<p>{_esc(rules.description)}</p>")
        thresholds = [(measure, k, v) for measure, section in (("proportions", rules.proportions),
                                                               ("counts", rules.counts))
                      for k, v in section.items()]
        if thresholds:
            out.append(_table(pd.DataFrame(thresholds, columns=["measure", "rule", "value"])))
    else:
        out.append(f'<p class="note">The thresholds of this rule set ({_esc(source)}) are not '
                   "available to the report.</p>")
    out.append(f"<p>The NCHS standards in brief. {_esc(_NCHS_STEPS)}</p>")
    if info.get("reference"):
        out.append(f'<p class="note">Reference: {_esc(info["reference"])}</p>')
    sdc = report.provenance.get("disclosure") or {}
    out.append("<h3>Disclosure control</h3>")
    out.append(f"<p>{_esc(report.disclosure_method())}. "
               + (f"Cells suppressed: {sdc.get('primary', 0)} with fewer than "
                  f"{sdc.get('threshold')} respondents, {sdc.get('secondary', 0)} more that "
                  "would give one of them back by subtraction (forced labour = trafficked + not "
                  "trafficked, the domains add up to the nation, the forms to their total). "
                  "Blank cells carry the note \"confidential\"."
                  if sdc.get("rule") == "threshold" else
                  "For internal use only: small cells are shown.") + "</p>")
    return out


def render_html(report: PrevalenceReport) -> str:
    """The report as one self-contained HTML document.

    Parameters
    ----------
    report : PrevalenceReport
        The estimates (:func:`~flestimate.estimate_prevalence`).

    Returns
    -------
    str
        An HTML5 document: the provenance header (source, spec, rules, design, variance, CI
        method, reliability rule set, version, universe); the national table and a table per
        margin; the shares of the trafficked and of all in forced labour by form; forest plots
        of the forced-labour and trafficked shares (base64 PNG, when matplotlib is installed);
        the indicator tables; the classification counts; the data-quality report; the methods
        with the formulas and the reliability rules used; and the references. Every data text
        is escaped; the document loads no external resource.

    Notes
    -----
    The formulas are those of :func:`~flestimate.estimate_prevalence`: the ratio estimator
    ``p = sum(w d y) / sum(w d)`` with the linearised variance ``V = sum_h (1 - f_h) n_h/(n_h
    - 1) sum_i (z_hi - zbar_h)^2`` (Binder 1983), the Korn-Graubard interval (Korn and
    Graubard 1998) and the NCHS reliability standards (Parker et al. 2017, 2023).
    """
    p = report.provenance
    body = [*_header(report), *_estimates(report), *_plots(report), *_indicators(report),
            *_quality(report), "<h2>Methods</h2>", _METHODS, *_rules(report),
            "<h2>References</h2>", "<ol>",
            *(f"<li>{_esc(ref)}</li>" for ref in _REFERENCES), "</ol>",
            f'<p class="note">Made by flestimate {_esc(p["version"])}.</p>']
    title = _esc(f"Forced labour and trafficking: {p['spec']['name']} ({p['source']})")
    return "\n".join(["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
                      f"<title>{title}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
                      *body, "</body>", "</html>", ""])
