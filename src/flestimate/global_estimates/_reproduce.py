"""The result of :func:`reproduce` and the survey-beside-published view :func:`compare`."""

from __future__ import annotations

import html
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate._checks import check_choice
from flestimate._version import __version__
from flestimate.errors import ArgumentError, ArgumentTypeError
from flestimate.global_estimates._checks import (
    CHECK_COLUMNS,
    CHECK_STATUSES,
    TABLE_COLUMNS,
    Book,
    fmt,
    fmt_difference,
)
from flestimate.global_estimates._publications import BUILDERS
from flestimate.global_estimates._sources import check_name, published, sources
from flestimate.results import Result, new_axes, records, thaw

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["Reproduction", "compare", "reproduce"]

#: How each unit is named in the displays.
_UNIT_LABELS: Mapping[str, str] = MappingProxyType({
    "persons": "persons", "percent": "percent", "per_1000": "per 1,000",
    "population": "persons"})


class Reproduction(Result):
    """A published estimate recomputed from its components.

    Immutable. Every number is in persons (not millions), with its evidence tag.

    Attributes
    ----------
    name : str
        The publication (``ilo2005``, ``ilo2012``, ``gems2016``, ``gems2021``,
        ``uk_mse2013``).
    provenance : Mapping
        Citation, year, method, the shipped files, the evidence legend, the rounding rule and
        the flestimate version.
    """

    __slots__ = ("_checks", "_published", "_tables", "name")
    _tables: dict[str, pd.DataFrame]  # private copies, never changed (a dict pickles)
    _checks: pd.DataFrame
    _published: pd.DataFrame
    name: str
    _label = "Reproduction"
    _immutable_hint = "call reproduce() again"

    def __init__(self, name: str, tables: Mapping[str, pd.DataFrame], checks: pd.DataFrame,
                 numbers: pd.DataFrame, provenance: Mapping[str, Any]) -> None:
        super().__init__(provenance, name=name,
                         _tables={k: v.copy() for k, v in tables.items()},
                         _checks=checks, _published=numbers)

    @property
    def tables(self) -> Mapping[str, pd.DataFrame]:
        """Table name -> tidy table (copies), columns :data:`TABLE_COLUMNS`: each published
        number (``published``, ``rounding``, ``evidence``) beside the value recomputed from the
        publication's other numbers (``recomputed``, ``basis``), their ``difference``, the
        rounding ``tolerance`` and ``within_rounding``; derived rows have no ``published``."""
        return MappingProxyType({k: v.copy() for k, v in self._tables.items()})

    @property
    def checks(self) -> pd.DataFrame:
        """Every identity the publication implies (columns :data:`CHECK_COLUMNS`)."""
        out: pd.DataFrame = self._checks.copy()
        return out

    @property
    def discrepancies(self) -> pd.DataFrame:
        """The checks that do not add up: every status but ``exact`` and ``rounds to
        published`` (a recomputed share that rounds to the published one).

        Columns :data:`CHECK_COLUMNS`: ``published`` and ``recomputed`` are in ``unit``
        (``persons``, ``percent``, ``per_1000``, ``population``); ``difference`` and
        ``tolerance`` in ``difference_unit``, which is ``percentage points`` for
        percentages (64% against 63.5% is -0.5 percentage points, not -0.5%);
        ``relative_difference`` is a fraction of the published number."""
        c = self._checks
        out: pd.DataFrame = c[~c["status"].isin(CHECK_STATUSES[:2])].reset_index(drop=True)
        return out

    @property
    def published(self) -> pd.DataFrame:
        """The publication's numbers as shipped (:func:`published`)."""
        out: pd.DataFrame = self._published.copy()
        return out

    def to_frame(self) -> pd.DataFrame:
        """Every table stacked, tidy (column ``table``)."""
        return pd.concat(list(self._tables.values()), ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        """Tables, checks and provenance as plain Python objects."""
        return {"tables": {k: records(v) for k, v in self._tables.items()},
                "checks": records(self._checks), "provenance": thaw(self.provenance)}

    def _title(self) -> str:
        p = self.provenance
        c = self._checks
        counts = c["status"].value_counts()
        parts = ", ".join(f"{int(counts.get(s, 0))} {s}" for s in CHECK_STATUSES)
        return (f"{self.name}: {p['title']}, {p['year']}: {len(c)} checks ({parts}); "
                f"{len(self.discrepancies)} discrepancies")

    def _display_checks(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The checks for display: the numbers with their unit (``12,300,000``, ``64%``) and
        the unit of each row, the differences of percentages in percentage points (``pp``)."""
        units = frame["unit"].map(lambda u: _UNIT_LABELS.get(str(u), str(u)))
        out: pd.DataFrame = pd.DataFrame({
            "check": frame["check"], "unit": units,
            "published": [fmt(v, u) for v, u in zip(frame["published"], frame["unit"],
                                                      strict=True)],
            "recomputed": [fmt(v, u) for v, u in zip(frame["recomputed"], frame["unit"],
                                                       strict=True)],
            "difference": [fmt_difference(v, u) for v, u in zip(frame["difference"],
                                                                 frame["unit"], strict=True)],
            "status": frame["status"], "evidence": frame["evidence"]})
        return out

    def __repr__(self) -> str:
        with pd.option_context("display.width", 160, "display.max_colwidth", 60,
                               "display.max_rows", 100):
            body = self._display_checks(self._checks).to_string(index=False)
        return f"{self._title()}\n{body}"

    def _repr_html_(self) -> str:
        table = self._display_checks(self._checks).to_html(index=False, border=0)
        cite = html.escape(str(self.provenance["citation"]))
        return (f"<div><p><b>{html.escape(self._title())}</b></p>{table}"
                f"<p><small>{cite}. Evidence: V read in a primary or official source, S quoted "
                f"by a secondary source, R widely recalled but not confirmed.</small></p></div>")

    def plot(self, table: str = "forced_labour_by_form", ax: Axes | None = None) -> Axes:
        """How far each recomputed number of one table is from the published one, in units of
        the rounding tolerance.

        Parameters
        ----------
        table : str
            One of :attr:`tables` (``forced_labour_by_form``, ``by_region``, ...).
        ax : matplotlib Axes, optional
            Where to draw; by default a new figure (:func:`flestimate.results.new_axes`).

        Returns
        -------
        matplotlib.axes.Axes
            One row per published number that was recomputed (``component (quantity)``):
            a dot at ``difference / tolerance`` (line ``"within rounding"``, or
            ``"outside rounding"`` in red), and the band from -1 to 1 where the published
            number is explained by its rounding.
        """
        check_choice(table, tuple(self._tables), "table", "plot")
        t = self._tables[table]
        tol = t["tolerance"].to_numpy(float)
        keep = (t["published"].notna() & t["recomputed"].notna()).to_numpy() & (tol > 0)
        rows = t[keep].reset_index(drop=True)
        ax = new_axes(ax, 9.0, 1.4 + 0.35 * max(len(rows), 1))
        y = np.arange(len(rows), dtype=float)
        x = (rows["difference"] / rows["tolerance"]).to_numpy(float)
        reach = max(1.5, 1.15 * float(np.nanmax(np.abs(x)))) if len(x) else 1.5
        inside = np.abs(x) <= 1
        ax.axvspan(-1, 1, color="#c6dbef", zorder=0, label="rounding")
        ax.axvline(0, color="#9a9a9a", linewidth=0.8, zorder=1)
        ax.plot(x[inside], y[inside], "o", color="#1f4e79", label="within rounding", zorder=2)
        ax.plot(x[~inside], y[~inside], "o", color="#b22222", label="outside rounding",
                zorder=2)
        ax.set_yticks(y, [f"{c} ({q})".replace("_", " ")
                          for c, q in zip(rows["component"], rows["quantity"], strict=True)])
        ax.set_ylim(max(len(rows), 1) - 0.5, -0.5)
        ax.set_xlim(-reach, reach)
        ax.set_xlabel("(recomputed - published) / rounding tolerance")
        ax.set_title(f"{self.name}: {table.replace('_', ' ')}", loc="left")
        ax.grid(axis="x", color="#eeeeee")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                  frameon=False)
        return ax

    def summary(self) -> str:
        """The checks, every discrepancy with its note, the tables and the sources."""
        p = self.provenance
        lines = [repr(self), "", "Discrepancies:"]
        d = self.discrepancies
        lines += [f"  {r.check}: {r.note}" for r in d.itertuples(index=False)] or ["  none"]
        with pd.option_context("display.width", 200, "display.max_rows", 200,
                               "display.max_colwidth", 40):
            for name, t in self._tables.items():
                view = pd.DataFrame({
                    "component": t["component"], "quantity": t["quantity"],
                    "unit": t["unit"].map(lambda u: _UNIT_LABELS.get(str(u), str(u))),
                    "published": [fmt(v, u) for v, u in zip(t["published"], t["unit"],
                                                              strict=True)],
                    "recomputed": [fmt(v, u) for v, u in zip(t["recomputed"], t["unit"],
                                                               strict=True)],
                    "evidence": t["evidence"], "basis": t["basis"]})
                lines += ["", f"{name}:", view.to_string(index=False)]
        lines += ["", f"Source: {p['citation']}", f"Method: {p['method']}",
                  f"Rounding: {p['rounding_rule']}", f"flestimate {p['version']}"]
        return "\n".join(lines)


def reproduce(name: str) -> Reproduction:
    """Recompute a published global estimate from its components and list what does not add up.

    Parameters
    ----------
    name : {"ilo2005", "ilo2012", "gems2016", "gems2021", "uk_mse2013"}
        ``ilo2005``: the ILO minimum estimate (12.3 million; 2.45 million trafficked, 43% /
        32% / 25% by form; six regions). ``ilo2012``: the ILO global estimate (20.9 million =
        4.5 + 14.2 + 2.2; six regions; moved / not moved). ``gems2016``: 24.9 million = 16.0 +
        4.8 + 4.1. ``gems2021``: 27.6 million, 3.5 per 1,000 (23.6 private, 3.9 state-imposed;
        63% / 23% / 14%; five regions). ``uk_mse2013``: the UK 2013 multiple systems estimate
        (Silverman 2014, Home Office): 11,313 potential victims, 95% CI 9,889 - 13,063,
        published as "between 10 thousand and 13 thousand"; the 2,744 known cases against the
        shipped capture histories (:func:`flestimate.mse.fit` of
        :func:`flestimate.mse.uk_2013` reproduces the estimate and its interval).

    Returns
    -------
    Reproduction
        ``tables`` (published and recomputed numbers), ``checks`` (every identity),
        ``discrepancies`` (the checks that are not exact), ``summary()``, ``to_frame()``.

    Notes
    -----
    Each check compares a published number ``y`` with ``f(x)`` recomputed from other published
    numbers ``x`` (a sum, a share ``100 x_i / x_0``, a product). ``difference = f(x) - y``,
    ``relative_difference = difference / y``. Each published number is rounded to a last digit
    of unit ``u`` (10,000 persons for "2.49 million", 1 for "43%"), so its error is at most
    ``h = u / 2``; the check is ``within_rounding`` when

        |f(x) - y| <= h_y + sum_i |df/dx_i| h_i,

    the first-order bound of the rounding error (exact for sums, where it is half a unit times
    the number of rounded figures). ``exact`` means a difference of 0 (to 1e-9 relative);
    ``rounds_to_published`` that ``f(x)`` rounded to the published digit is ``y``.

    A check of ``kind="identity"`` (the components should add up to the published total) is
    ``exact`` or a discrepancy; one of ``kind="rounded"`` (a published share or rate, itself a
    rounded value of ``f(x)``) is consistent when ``f(x)`` rounds to it (status ``rounds to
    published``); ``kind="derived"`` compares two values derived from published figures.
    Statuses: ``exact``, ``rounds to published``, ``within rounding``, ``beyond rounding``;
    :attr:`Reproduction.discrepancies` are the checks with one of the last two, never hidden.
    Shares are recomputed against the published total (the least rounded figure), not the sum
    of rounded components. Every number keeps its evidence tag; a check or derived row carries
    the weakest tag of its inputs (V > S > R).

    References
    ----------
    Belser, P., de Cock, M. and Mehran, F. (2005). *ILO Minimum Estimate of Forced Labour in the
    World*. Geneva: ILO. ILO (2012). *ILO Global Estimate of Forced Labour: Results and
    methodology*. Geneva: ILO. ILO and Walk Free Foundation (2017) and ILO, Walk Free and IOM
    (2022). *Global Estimates of Modern Slavery: Forced Labour and Forced Marriage*. Geneva: ILO.
    Silverman, B. W. (2014). *Modern slavery: an application of multiple systems estimation*.
    London: Home Office.
    """
    name = check_name(name, "reproduce")
    numbers = published(name)
    book = Book(numbers)
    BUILDERS[name](book)
    rows = pd.DataFrame(book.rows, columns=list(TABLE_COLUMNS))
    rows["within_rounding"] = rows["within_rounding"].astype("boolean")
    tables = {str(t): g.reset_index(drop=True) for t, g in rows.groupby("table", sort=False)}
    checks = pd.DataFrame(book.checks, columns=list(CHECK_COLUMNS))
    checks["rounds_to_published"] = checks["rounds_to_published"].astype("boolean")
    return Reproduction(name, tables, checks, numbers, _provenance(name, numbers))


def _provenance(name: str, numbers: pd.DataFrame) -> dict[str, Any]:
    """Citation, year, method, the shipped files, the evidence legend, the rounding rule and
    the flestimate version of one publication's reproduction."""
    src = sources()
    pub = src["publications"][name]
    return {
        "publication": name,
        "title": pub["title"],
        "citation": pub["citation"],
        "year": pub["year"],
        "reference_period": pub.get("reference_period", ""),
        "method": pub.get("method", ""),
        "files": sorted({str(f) for f in numbers["file"]}),
        "evidence_tags": dict(src["evidence_tags"]),
        "rounding_rule": ("within rounding when |recomputed - published| <= h_published + "
                          "sum_i |d recomputed / d x_i| h_i, h = half the unit of the last "
                          "published digit"),
        "version": __version__,
    }


# -- survey beside published -------------------------------------------------------------------
#: Published component names set beside the survey's forms (``flestimate.aggregate.FORMS``).
_ALIASES: Mapping[str, str] = MappingProxyType({
    "private_sexual_exploitation": "commercial_sexual_exploitation",
    "forced_sexual_exploitation": "commercial_sexual_exploitation",
    "private_labour_exploitation": "economic_exploitation",
    "private_economy": "economic_exploitation",
    "forced_labour_exploitation": "economic_exploitation",
})
_COMPARED = ("forced_labour_by_form", "trafficked_by_form")


def compare(breakdown: Any, reproduction: Reproduction) -> pd.DataFrame:
    """A survey-based breakdown beside a published one, by table, form and quantity.

    Parameters
    ----------
    breakdown : Breakdown
        From :func:`flestimate.aggregate.from_reports` (its world rows are used).
    reproduction : Reproduction
        From :func:`reproduce`.

    Returns
    -------
    DataFrame
        ``table, component, quantity`` (``persons`` or ``share``, as a fraction), the
        publication's ``published_component``, ``published`` (or the value derived from its
        published numbers, e.g. 25% x 2.45 million), ``published_basis``, ``evidence``, the
        survey's ``survey, survey_se, survey_ci_low, survey_ci_high, survey_ci_flag``, and
        ``published_in_ci`` (whether the published share lies in the survey's interval; NA
        where the interval has no upper end). A survey share of 0 with SE 0 has the
        one-sided Korn-Graubard interval ``[0, U]`` of the estimators at ``p = 0``
        (``survey_ci_flag`` ``"p=0: one-sided interval (NCHS)"``; see
        :func:`~flestimate.aggregate.from_reports`).
        Published forms with other names are matched to the survey's forms
        (private sexual -> commercial sexual exploitation; private labour, private economy,
        forced labour exploitation -> economic exploitation) and the name kept.
    """
    from flestimate.aggregate import Breakdown

    if not isinstance(breakdown, Breakdown):
        raise ArgumentTypeError(f"`breakdown` of `compare()` must be a Breakdown; got "
                                f"{type(breakdown).__name__}")
    if not isinstance(reproduction, Reproduction):
        raise ArgumentTypeError(f"`reproduction` of `compare()` must be a Reproduction; got "
                                f"{type(reproduction).__name__}")
    pub = reproduction.to_frame()
    if not pub["table"].isin(_COMPARED).any():
        raise ArgumentError(f"`reproduction` of `compare()` must have a breakdown by form "
                            f"(tables {', '.join(_COMPARED)}); {reproduction.name!r} has "
                            f"{', '.join(reproduction.tables)}")
    pub = pub[pub["table"].isin(_COMPARED) & pub["quantity"].isin(("persons", "share_pct"))]
    value = pub["published"].where(pub["published"].notna(), pub["recomputed"])
    is_share = (pub["quantity"] == "share_pct").to_numpy()
    left = pd.DataFrame({
        "table": pub["table"].to_numpy(),
        "component": pub["component"].map(lambda c: _ALIASES.get(c, c)).to_numpy(),
        "quantity": np.where(is_share, "share", "persons"),
        "published_component": pub["component"].to_numpy(),
        "published": np.where(is_share, value / 100, value),
        "published_basis": np.where(pub["published"].notna(), "published",
                                    "derived: " + pub["basis"].astype(str)),
        "evidence": pub["evidence"].to_numpy(),
    })
    left = left[left["published"].notna()]
    s = breakdown.to_frame()
    s = s[(s["level"] == "world") & s["table"].isin(_COMPARED)]
    right = pd.DataFrame({
        "table": s["table"], "component": s["component"], "quantity": s["quantity"],
        "survey": s["estimate"], "survey_se": s["se"], "survey_ci_low": s["ci_low"],
        "survey_ci_high": s["ci_high"], "survey_ci_flag": s["ci_flag"]})
    out = left.merge(right, on=["table", "component", "quantity"], how="outer", sort=False)
    inside = (out["published"] >= out["survey_ci_low"]) & (
        out["published"] <= out["survey_ci_high"])
    known = (out["published"].notna() & out["survey_ci_low"].notna()
             & out["survey_ci_high"].notna() & (out["quantity"] == "share"))
    flags = pd.Series(inside.to_numpy(dtype=bool), dtype="boolean")
    flags[~known.to_numpy(dtype=bool)] = pd.NA
    out["published_in_ci"] = flags.to_numpy()
    out.insert(0, "publication", reproduction.name)
    result: pd.DataFrame = out.reset_index(drop=True)
    return result
