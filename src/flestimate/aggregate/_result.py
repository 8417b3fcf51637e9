"""The result of :func:`~flestimate.aggregate.aggregate`: unit, group and world totals with
their provenance."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError
from flestimate.results import Result, format_count, format_percent, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["LEVELS", "Aggregate"]

#: Values of the ``level`` column of :meth:`Aggregate.to_frame`.
LEVELS: tuple[str, ...] = ("unit", "group", "world")


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return ""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4g}"


class Aggregate(Result):
    """Unit, group and world totals from national estimates: a tidy table with provenance.

    Immutable; other options are a new :func:`aggregate` call.

    Attributes
    ----------
    provenance : Mapping
        Kind of estimate, column names, interval method and level, imputation models, the
        variance assumptions (and what the SE leaves out) and the flestimate version.
    groups : tuple of str
        The group columns.
    """

    __slots__ = ("_table", "groups")
    _table: pd.DataFrame
    groups: tuple[str, ...]
    _label = "Aggregate"
    _records_key = "estimates"
    _immutable_hint = "call aggregate() again"

    def __init__(self, table: pd.DataFrame, provenance: Mapping[str, Any],
                 groups: Sequence[str]) -> None:
        super().__init__(provenance, _table=table, groups=tuple(groups))

    def to_frame(self, level: str | None = None) -> pd.DataFrame:
        """The tidy table (a copy), or its rows of one ``level`` (``unit``, ``group``,
        ``world``): ``level``, the group columns, ``unit``, ``total, se, ci_low, ci_high``,
        ``rate_per_<per>`` with its ``_se``, ``_ci_low``, ``_ci_high``, ``population,
        n_units, n_surveyed, n_imputed, imputed_population_share, imputed`` (unit rows),
        ``method`` and ``se_source`` (unit rows: ``se``, ``CI, linear scale``, ``CI, log
        scale``)."""
        if level is not None and level not in LEVELS:
            raise ArgumentError(f"`level` of `to_frame()` must be one of {', '.join(LEVELS)}; "
                                f"got {level!r}")
        t = self._table
        out: pd.DataFrame = (t.copy() if level is None else
                             t[t["level"] == level].reset_index(drop=True))
        return out

    @property
    def world(self) -> pd.Series:
        """The world row."""
        row: pd.Series = self._table[self._table["level"] == "world"].iloc[0].copy()
        return row

    def _display(self, levels: Sequence[str]) -> pd.DataFrame:
        t = self._table[self._table["level"].isin(levels)]
        rate = f"rate_per_{self.provenance['per']:g}"
        cols = ["level", *self.groups, "unit", "total", "se", "ci_low", "ci_high", rate,
                f"{rate}_ci_low", f"{rate}_ci_high", "population", "n_surveyed", "n_imputed"]
        out: pd.DataFrame = t[cols].copy()
        if not out["unit"].notna().any():
            out = out.drop(columns="unit")
        for c in out.columns:
            if pd.api.types.is_float_dtype(out[c]):
                out[c] = out[c].map(_fmt)
        shown: pd.DataFrame = out.astype(object).where(out.notna(), "")
        return shown

    def _title(self) -> str:
        p = self.provenance
        return (f"Aggregate of {p['n_units']} units ({p['n_surveyed']} surveyed, "
                f"{p['n_imputed']} imputed); {p['kind']} estimates; {p['ci_method']} "
                f"{100 * p['level']:g}% CI")

    def __repr__(self) -> str:
        """The title, then the group and world rows (no label: the title names it)."""
        with pd.option_context("display.max_rows", 60, "display.width", 160):
            body = self._display(("group", "world")).to_string(index=False)
        return f"{self._title()}\n{body}"

    def _repr_html_(self) -> str:
        body = self._display(("group", "world")).to_html(index=False, border=0, na_rep="")
        caveat = self.provenance["caveat"]
        note = f"<p><small>{html.escape(caveat)}</small></p>" if caveat else ""
        return f"<div><p><b>{html.escape(self._title())}</b></p>{body}{note}</div>"

    def plot(self, ax: Axes | None = None) -> Axes:
        """Totals by group and the world total with their confidence intervals.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; by default a new figure (:func:`flestimate.results.new_axes`).

        Returns
        -------
        matplotlib.axes.Axes
            One row per group, then the world, top to bottom: a dot at the total (line
            ``"total"``; hollow when part of the population is imputed) and a line from
            ``ci_low`` to ``ci_high`` (collection ``"CI"``), annotated with the share of the
            population that is imputed.
        """
        from matplotlib.ticker import FuncFormatter

        t = self._table
        rows = t[t["level"].isin(("group", "world"))].reset_index(drop=True)
        labels = []
        for i in range(len(rows)):
            if rows.at[i, "level"] == "world":
                labels.append("World")
                continue
            parts = [str(rows.at[i, g]) for g in self.groups if rows.at[i, g] is not None
                     and not (isinstance(rows.at[i, g], float) and np.isnan(rows.at[i, g]))]
            labels.append(", ".join(parts) or "group")
        ax = new_axes(ax, 7.0, 1.4 + 0.4 * len(rows))
        y = np.arange(len(rows), dtype=float)
        est, lo, hi = (rows[c].to_numpy(float) for c in ("total", "ci_low", "ci_high"))
        imputed = rows["imputed_population_share"].to_numpy(float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        ax.hlines(y[ok], lo[ok], hi[ok], colors="#1f4e79", linewidth=1.6, label="CI")
        marked = np.nan_to_num(imputed) > 0
        ax.plot(est[~marked], y[~marked], "o", color="#1f4e79", label="total")
        if marked.any():
            ax.plot(est[marked], y[marked], "o", color="#1f4e79", markerfacecolor="white",
                    label="total, partly imputed")
        right = np.where(ok, hi, est)
        for j in np.flatnonzero(marked):
            ax.annotate(f"{format_percent(imputed[j])}% of population imputed",
                        (right[j], y[j]), xytext=(5, 0), textcoords="offset points",
                        va="center", fontsize="x-small", color="#555555")
        ax.set_yticks(y, labels)
        for tick, level in zip(ax.get_yticklabels(), rows["level"], strict=True):
            if level == "world":
                tick.set_fontweight("bold")
        ax.set_ylim(len(rows) - 0.5, -0.5)
        if marked.any():  # room for the notes
            left, right_edge = ax.get_xlim()
            ax.set_xlim(left, right_edge + 0.35 * (right_edge - left))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_count(v)))
        p = self.provenance
        ax.set_xlabel(f"persons ({100 * p['level']:g}% {p['ci_method']} CI)")
        ax.set_title(f"Aggregate of {p['n_units']} units ({p['n_imputed']} imputed)",
                     loc="left")
        ax.grid(axis="x", color="#eeeeee")
        ax.legend(loc="best", fontsize="small", frameon=False)
        return ax

    def summary(self) -> str:
        """The group and world rows, every unit row, and the methods."""
        p = self.provenance
        with pd.option_context("display.max_rows", 500, "display.width", 160):
            units = self._display(("unit",)).to_string(index=False)
        t = self._table
        lines = [repr(self), "", "Units:", units, "", "Methods:"]
        for i in np.flatnonzero((t["level"] != "unit").to_numpy()):
            label = ", ".join(f"{g}={t.at[i, g]!s}" for g in self.groups
                              if t.at[i, g] is not None)
            lines.append(f"  {t.at[i, 'level']!s} {label}: {t.at[i, 'method']!s}")
        lines += [f"Variance: {p['variance']}"]
        if p["caveat"]:
            lines.append(f"Caveat: {p['caveat']}")
        lines.append(f"flestimate {p['version']}")
        return "\n".join(lines)
