"""Forest plots of a :class:`~flestimate.report.PrevalenceReport`: one share with its interval
by domain, on a new figure from :func:`flestimate.results.new_axes` unless an Axes is given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError
from flestimate.report._common import LABELS, TABLES
from flestimate.results import MATPLOTLIB_HINT, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from flestimate.report._prevalence import PrevalenceReport

__all__ = ["MATPLOTLIB_HINT", "forest_plot"]


_COLOUR, _GREY, _BOUND, _NATIONAL = "#1f4e79", "#9a9a9a", "#c6dbef", "#b22222"
_AMONG = {"prevalence": "of the universe", "trafficked_by_form": "of the trafficked",
          "forced_labour_by_form": "of those in forced labour"}


def _choice(name: str, value: Any, choices: list[str]) -> None:
    if value not in choices:
        raise ArgumentError(f"`{name}` of `plot()` must be one of {', '.join(choices)}; "
                            f"got {value!r}")


def _rows(report: PrevalenceReport, by: str | None, indicator: str,
          table: str) -> pd.DataFrame:
    """The display rows, top to bottom: ``kind`` is ``heading`` (a margin's title) or
    ``estimate``; ``label`` the y tick label; then the tidy columns of the estimate."""
    _choice("table", table, list(TABLES))
    margins = list(report.margins)
    if by is not None:
        _choice("by", by, margins)
    frame = report.to_frame()
    shares = frame[(frame["table"] == table) & (frame["measure"] == "share")]
    _choice("indicator", indicator, list(pd.unique(shares["indicator"])))
    shares = shares[shares["indicator"] == indicator]
    wanted = margins if by is None else [by]
    parts = []
    for margin in wanted:  # a few margins: the groups of the display
        group = shares[shares["by"] == margin]
        if margin == "national":
            parts.append(group.assign(kind="estimate", label="National"))
            continue
        if len(wanted) > 1:
            parts.append(pd.DataFrame({"kind": ["heading"], "label": [f"By {margin}"],
                                       "by": [margin]}))
        parts.append(group.assign(kind="estimate", label=group["domain"].astype(str)))
    out: pd.DataFrame = pd.concat(parts, ignore_index=True)
    return out


def forest_plot(report: PrevalenceReport, by: str | None = None,
                indicator: str = "forced_labour", table: str = "prevalence",
                ax: Axes | None = None) -> Axes:
    """Forest plot of one share with its confidence interval, by domain.

    Parameters
    ----------
    report : PrevalenceReport
        The estimates (:func:`~flestimate.estimate_prevalence`).
    by : str, optional
        A margin of the report (``"national"``, ``"sex"``, ``"sex*region"``); ``None`` draws
        every margin, the national estimate first, then each margin's domains under a heading.
    indicator : str
        The class (``forced_labour``, ``trafficked``, ...) or, for the tables by form, the form.
    table : {"prevalence", "trafficked_by_form", "forced_labour_by_form"}
        Which table's shares to draw.
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure (:func:`flestimate.results.new_axes`).

    Returns
    -------
    matplotlib.axes.Axes
        Shares in percent on the x axis: a dot and a line for each domain's estimate and
        interval (collection labelled ``"CI"``), a hollow grey dot without interval for
        suppressed estimates (annotated "suppressed"), a diamond and ``*`` for flagged ones,
        the bounds from the undetermined cases as a light bar behind (``"bounds"``) and the
        national estimate as a vertical reference line.

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    ArgumentError
        For an unknown ``table``, ``by`` or ``indicator``.

    Notes
    -----
    Suppressed estimates (reliability) and confidential ones (disclosure control) get no marker,
    interval or bounds, only a note at the origin: a marker would publish the value. The bounds
    bar runs
    from ``bound_low`` (every undetermined case out of the class) to ``bound_high`` (every one
    in).
    """
    rows = _rows(report, by, indicator, table)
    ax = new_axes(ax, 7.5, 1.4 + 0.32 * len(rows))
    marks = _marks(rows)
    handles: list[Any] = []
    if table == "prevalence":
        handles += _draw_bounds(ax, rows, marks)
    handles += _draw_estimates(ax, marks)
    _annotate(ax, marks)
    handles += _draw_national(ax, report, table, indicator)
    _style(ax, rows, marks.y, report, by, indicator, table, handles)
    return ax


@dataclass(frozen=True)
class _Marks:
    """Where each display row sits and how it is drawn."""

    y: np.ndarray  # the row positions, top to bottom
    est: np.ndarray  # estimate, interval ends, in percent
    lo: np.ndarray
    hi: np.ndarray
    confidential: np.ndarray  # blanked by disclosure control
    supp: np.ndarray  # not drawn: suppressed or confidential
    flag: np.ndarray  # drawn as a flagged estimate
    keep: np.ndarray  # drawn


def _marks(rows: pd.DataFrame) -> _Marks:
    """The rows' positions, values in percent and drawing status: a suppressed or confidential
    estimate gets no marker, since its position would publish it."""
    y = np.arange(len(rows), dtype=float)
    est, lo, hi = (rows[c].to_numpy(float) * 100 for c in ("estimate", "ci_low", "ci_high"))
    status = rows["reliability"].fillna("").to_numpy(str)
    sdc = (rows["disclosure"].fillna("publish").to_numpy(str) if "disclosure" in rows
           else np.full(len(rows), "publish"))
    confidential = (rows["kind"] == "estimate").to_numpy() & np.isin(sdc, ["primary",
                                                                           "secondary"])
    shown = (rows["kind"] == "estimate").to_numpy() & (np.isfinite(est) | confidential)
    supp = shown & ((status == "suppress") | confidential)
    flag = shown & (status == "flag")
    return _Marks(y, est, lo, hi, confidential, supp, flag, shown & ~supp)


def _draw_bounds(ax: Axes, rows: pd.DataFrame, m: _Marks) -> list[Any]:
    """The bounds from the undetermined cases, a light bar behind each drawn estimate; the
    legend handle when any is drawn."""
    from matplotlib.lines import Line2D

    b_lo, b_hi = (rows[c].to_numpy(float) * 100 for c in ("bound_low", "bound_high"))
    has = m.keep & np.isfinite(b_lo) & np.isfinite(b_hi)
    if not has.any():
        return []
    ax.hlines(m.y[has], b_lo[has], b_hi[has], colors=_BOUND, linewidth=5, zorder=1,
              label="bounds")
    return [Line2D([], [], color=_BOUND, linewidth=5, label="bounds from the undetermined")]


def _draw_estimates(ax: Axes, m: _Marks) -> list[Any]:
    """The intervals and the estimates (a dot, a hollow diamond when flagged); their legend
    handles."""
    from matplotlib.lines import Line2D

    ci_ok = m.keep & np.isfinite(m.lo) & np.isfinite(m.hi)
    ax.hlines(m.y[ci_ok], m.lo[ci_ok], m.hi[ci_ok], colors=_COLOUR, linewidth=1.6, zorder=2,
              label="CI")
    plain = m.keep & ~m.flag
    ax.plot(m.est[plain], m.y[plain], "o", color=_COLOUR, zorder=3, clip_on=False,
            label="estimate")
    handles: list[Any] = [Line2D([], [], color=_COLOUR, marker="o", label="estimate and CI")]
    if m.flag.any():
        ax.plot(m.est[m.flag], m.y[m.flag], "D", color=_COLOUR, markerfacecolor="white",
                zorder=3, clip_on=False, label="flagged")
        handles.append(Line2D([], [], color=_COLOUR, marker="D", markerfacecolor="white",
                              label="* flagged"))
    return handles


def _annotate(ax: Axes, m: _Marks) -> None:
    """A note beside each marked domain: ``*`` after a flagged estimate's interval, and
    "suppressed" or "confidential" at the axis origin for a row drawn empty."""
    right = np.where(m.supp, 0.0, np.where(~np.isfinite(m.hi), m.est, m.hi))
    for i in np.flatnonzero(m.supp | m.flag):  # a note beside each marked domain
        text = ("confidential" if m.confidential[i] else "suppressed") if m.supp[i] else "*"
        ax.annotate(text, (right[i], m.y[i]), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize="small", color=_GREY if m.supp[i] else _COLOUR)


def _draw_national(ax: Axes, report: PrevalenceReport, table: str,
                   indicator: str) -> list[Any]:
    """The national estimate as a vertical reference line (when it has one); its handle."""
    from matplotlib.lines import Line2D

    frame = report.to_frame()
    national = frame[(frame["table"] == table) & (frame["by"] == "national")
                     & (frame["measure"] == "share") & (frame["indicator"] == indicator)]
    if not (len(national) and np.isfinite(national["estimate"].iat[0])):
        return []
    ax.axvline(100 * float(national["estimate"].iat[0]), color=_NATIONAL, linewidth=1,
               linestyle=":", zorder=1, label="national")
    return [Line2D([], [], color=_NATIONAL, linestyle=":", label="national")]


def _style(ax: Axes, rows: pd.DataFrame, y: np.ndarray, report: PrevalenceReport,
           by: str | None, indicator: str, table: str, handles: list[Any]) -> None:
    """The margins' headings and separators, the axes in percent, the title and the legend."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    headings = (rows["kind"] == "heading").to_numpy()
    for pos in y[headings]:  # a separator above each margin's heading
        ax.axhline(pos - 0.5, color="#dddddd", linewidth=0.8, zorder=0)
    ax.set_yticks(y, list(rows["label"]))
    for tick, is_heading in zip(ax.get_yticklabels(), headings, strict=True):
        if is_heading:
            tick.set_fontweight("bold")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(left=0)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=100))
    p = report.provenance
    name = LABELS.get(indicator, indicator).strip()
    ax.set_xlabel(f"% {_AMONG[table]} ({100 * p['level']:g}% {p['ci_method']} CI)")
    suffix = "" if by in (None, "national") else f", by {by}"
    ax.set_title(f"{name[0].upper()}{name[1:]}{suffix}", loc="left")
    ax.grid(axis="x", color="#eeeeee", zorder=0)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              fontsize="small", frameon=False)
