"""Missing-not-at-random sensitivity: how the imputed headline moves when the missing answers
to sensitive questions (violence, threats, sexual exploitation, ...) are more (or less) often
"yes" than the respondents who answered suggest.

The imputation model's log-odds of yes for the sensitive items are shifted by ``delta`` (a
pattern-mixture delta adjustment: ``delta = log 2`` doubles the odds that a missing answer is
yes); every other part of the imputation, the classification and the estimation is unchanged,
and the same seed draws the completions.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError
from flestimate.results import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["DEFAULT_DELTAS", "Sensitivity"]

#: The shifts of the log-odds of yes examined by default.
DEFAULT_DELTAS: tuple[float, ...] = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
_COLUMNS = ("delta", "by", "domain", "indicator", "estimate", "se", "ci_low", "ci_high", "fmi",
            "minimum", "bound_low", "bound_high")


def _crossing(x: np.ndarray, y: np.ndarray, value: float) -> float:
    """The smallest |x| (first in order of |x|) where the piecewise-linear y(x) equals value."""
    d = y - value
    hits = []
    for i in range(len(x) - 1):  # a grid of a few deltas
        if d[i] == 0:
            hits.append(x[i])
        elif np.isfinite(d[i]) and np.isfinite(d[i + 1]) and d[i] * d[i + 1] < 0:
            hits.append(x[i] + (x[i + 1] - x[i]) * d[i] / (d[i] - d[i + 1]))
    if len(x) and d[-1] == 0:
        hits.append(x[-1])
    return float(min(hits, key=abs)) if hits else float("nan")


class Sensitivity(Result):
    """The imputed shares under shifted log-odds of yes for the sensitive items (see
    :meth:`PrevalenceReport.sensitivity`). Immutable.

    Attributes
    ----------
    provenance : Mapping
        The report's source and method, the deltas, the sensitive items.
    """

    __slots__ = ("_table",)
    _table: pd.DataFrame
    _label = "Sensitivity"
    _records_key = "sensitivity"
    _immutable_hint = "call report.sensitivity() again"

    def __init__(self, table: pd.DataFrame, provenance: Mapping[str, Any]) -> None:
        super().__init__(provenance, _table=table)

    def to_frame(self) -> pd.DataFrame:
        """One row per delta, margin, domain and indicator: ``delta``, ``by``, ``domain``,
        ``indicator``, the imputed ``estimate`` with its ``se``, interval and ``fmi``, and the
        ``minimum`` and bounds (which no delta changes)."""
        out: pd.DataFrame = self._table.copy()
        return out

    def tipping_points(self, value: float, indicator: str | None = None) -> pd.DataFrame:
        """For every margin, domain and indicator, the delta at which the estimate, and the
        interval's ends, reach ``value`` (linear between the examined deltas; NaN if not
        within them): how far from missing at random the missing answers must be to move the
        published share to ``value``."""
        if not isinstance(value, int | float) or not np.isfinite(value):
            raise ArgumentError(f"`value` of `tipping_points()` must be a number; got {value!r}")
        t = self._table if indicator is None else self._table[
            self._table["indicator"] == indicator]
        if t.empty:
            raise ArgumentError(f"`indicator` of `tipping_points()` must be one of "
                                f"{', '.join(pd.unique(self._table['indicator']))}; got "
                                f"{indicator!r}")
        rows = []
        for (by, domain, ind), g in t.groupby(["by", "domain", "indicator"], sort=False):
            g = g.sort_values("delta")
            x = g["delta"].to_numpy(float)
            rows.append({"by": by, "domain": domain, "indicator": ind, "value": float(value),
                         **{f"delta_{k}": _crossing(x, g[k].to_numpy(float), float(value))
                            for k in ("estimate", "ci_low", "ci_high")}})
        out: pd.DataFrame = pd.DataFrame(rows)
        return out

    def _title(self) -> str:
        return (f"MNAR sensitivity of {self.provenance['source']}: imputed shares (%) when the "
                f"log-odds of yes of the missing sensitive answers are shifted by delta")

    def summary(self) -> str:
        """The national shares (%) by delta, the sensitive items and the imputation method."""
        p = self.provenance
        nat = self._table[self._table["by"] == "national"]
        wide = nat.pivot_table(index="delta", columns="indicator", values="estimate")
        with pd.option_context("display.width", 140):
            body = (100 * wide).round(2).to_string()
        return "\n".join([self._title(), body, f"sensitive items: {', '.join(p['sensitive'])}",
                          f"{p['method']}"])

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        nat = self._table[self._table["by"] == "national"]
        wide = (100 * nat.pivot_table(index="delta", columns="indicator",
                                      values="estimate")).round(2)
        title = html.escape(self._title())
        return f"<div><p><b>{title}</b></p>{wide.to_html(border=0)}</div>"

    def plot(self, indicator: str = "forced_labour", *, by: str = "national",
             value: float | None = None, ax: Axes | None = None) -> Axes:
        """The imputed share (with its interval) against delta for every domain of ``by``; the
        minimum and the bounds as dotted lines; ``value`` as a reference line."""
        from flestimate.results import new_axes

        t = self._table[(self._table["indicator"] == indicator) & (self._table["by"] == by)]
        if t.empty:
            raise ArgumentError(f"`indicator`/`by` of `plot()`: no rows for {indicator!r} by "
                                f"{by!r}")
        ax = new_axes(ax, 6.5, 4.0)
        for domain, g in t.groupby("domain", sort=False):
            g = g.sort_values("delta")
            x = g["delta"].to_numpy(float)
            line = ax.plot(x, 100 * g["estimate"], marker="o", label=str(domain))[0]
            ax.fill_between(x, 100 * g["ci_low"], 100 * g["ci_high"], alpha=0.15,
                            color=line.get_color())
            ax.plot(x, 100 * g["minimum"], ls=":", color=line.get_color())
        if value is not None:
            ax.axhline(100 * value, color="black", lw=0.8, ls="--", label=f"{100 * value:g}%")
        ax.axvline(0, color="#999999", lw=0.6)
        ax.set_xlabel("delta: shift of the log-odds of yes of missing sensitive answers")
        ax.set_ylabel(f"{indicator.replace('_', ' ')} (%)")
        ax.set_title(f"MNAR sensitivity ({by}); dotted: minimum", loc="left")
        ax.legend(fontsize="small")
        return ax


def sensitivity_table(reports: Sequence[tuple[float, Any]], indicators: Sequence[str]
                      ) -> pd.DataFrame:
    """The rows of the sensitivity table from one report per delta."""
    parts = []
    for delta, report in reports:
        t = report.to_frame()
        t = t[(t["table"] == "prevalence") & (t["measure"] == "share")
              & t["indicator"].isin(indicators)]
        parts.append(t.assign(delta=float(delta))[list(_COLUMNS)])
    out: pd.DataFrame = pd.concat(parts, ignore_index=True)
    return out
