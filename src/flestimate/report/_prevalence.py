"""The result of the main job: an immutable tidy table of estimates with its provenance, the
data-quality report and the classification counts; every display is a view of them."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flestimate._atomic import atomic_write, atomic_write_text
from flestimate._checks import check_choice
from flestimate._safe_output import excel_writer
from flestimate.errors import ArgumentError
from flestimate.report._common import LABELS, TABLE_COLUMNS, TABLES, pct
from flestimate.report._sensitivity import DEFAULT_DELTAS, Sensitivity
from flestimate.results import Result, describe_design, is_replicate_summary, records, thaw

__all__ = ["TABLE_COLUMNS", "PrevalenceReport"]

def _count(x: float) -> str:
    return f"{x:,.0f}" if np.isfinite(x) else ""


def _interval(lo: float, hi: float, fmt: Any) -> str:
    if not (np.isfinite(lo) or np.isfinite(hi)):
        return ""
    return f"{fmt(lo) or '.'} - {fmt(hi) or '.'}"


class PrevalenceReport(Result):
    """National and domain estimates of forced labour and trafficking from one survey.

    Immutable; a different interval method or rule set is a new
    :func:`~flestimate.estimate_prevalence` call.

    Attributes
    ----------
    provenance : Mapping
        Source file, spec, rule sets, variance method, interval method and level, df rule,
        design summary, reliability rules, margins, rows excluded for missing domain values,
        universe counts and the flestimate version.
    quality : DataFrame
        The data-quality report of the mapping (:attr:`MappedSurvey.quality`).
    classification_counts : DataFrame
        Unweighted counts by status and form (:meth:`Classification.counts`).
    indicator_table : DataFrame
        Weighted shares of each indicator among persons in forced labour and among the
        trafficked (``among``): the types of coercion and involuntariness.
    classification : Classification or None
        The classification itself (``explain(row_id)``), when it was made in memory.
    """

    __slots__ = ("_options", "_prepared", "_table", "classification", "classification_counts",
                 "indicator_table", "quality")
    _table: pd.DataFrame
    quality: pd.DataFrame
    classification_counts: pd.DataFrame
    indicator_table: pd.DataFrame
    classification: Any
    _prepared: Any
    _options: Mapping[str, Any]
    _label = "PrevalenceReport"
    _records_key = "estimates"
    _immutable_hint = "call estimate_prevalence() again"

    def __init__(self, table: pd.DataFrame, provenance: Mapping[str, Any], *,
                 quality: pd.DataFrame, classification_counts: pd.DataFrame,
                 indicator_table: pd.DataFrame, classification: Any = None,
                 prepared: Any = None, options: Mapping[str, Any] | None = None) -> None:
        # _prepared: the estimation frame (design and class columns), kept so that several
        # surveys can be pooled into one design (flestimate.report.pool_reports).
        # _options: the estimation arguments, so that an analysis can estimate the survey
        # again (the sensitivity analysis with shifted imputations).
        super().__init__(provenance, _table=table, quality=quality,
                         classification_counts=classification_counts,
                         indicator_table=indicator_table, classification=classification,
                         _prepared=prepared, _options=dict(options or {}))

    # -- data -----------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Every estimate, tidy (a copy): ``table`` (``prevalence``, ``trafficked_by_form``,
        ``forced_labour_by_form``), ``by`` (``national`` or the margin, e.g. ``sex`` or
        ``sex*region``), ``domain`` (its label, ``all`` nationally), the domain columns, then
        ``measure`` (``share`` or ``number``), ``indicator``, ``estimate, se, ci_low, ci_high,
        cv, deff, n, n_cases, n_eff, df``, the bounds from the undetermined cases
        (``bound_low, bound_high, bound_ci_low, bound_ci_high``), ``reliability``
        (present / flag / suppress), ``reliability_reason`` and ``ci_flag``.

        Suppressed estimates keep their numbers here (for analysis); the displays blank them.
        """
        out: pd.DataFrame = self._table.copy()
        return out

    @property
    def margins(self) -> tuple[str, ...]:
        """``national`` and the domain margins, in the order asked."""
        return tuple(pd.unique(self._table["by"]))

    @property
    def national(self) -> pd.DataFrame:
        """The national prevalence table (shares and numbers), tidy."""
        return self.select("prevalence", "national")

    def select(self, table: str = "prevalence", by: str = "national") -> pd.DataFrame:
        """The tidy rows of one table (``prevalence``, ``trafficked_by_form``,
        ``forced_labour_by_form``) for one margin (``national``, ``sex``, ``sex*region``)."""
        check_choice(table, TABLES, "table", "select")
        check_choice(by, self.margins, "by", "select")
        t = self._table
        out: pd.DataFrame = t[(t["table"] == table) & (t["by"] == by)].dropna(
            axis=1, how="all").reset_index(drop=True)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Estimates, provenance, data quality and classification counts as plain Python
        objects (JSON-serialisable)."""
        counts = self.classification_counts.reset_index()
        counts.columns = [str(c) for c in counts.columns]
        return {"estimates": records(self._table), "provenance": thaw(self.provenance),
                "quality": records(self.quality), "classification_counts": records(counts),
                "indicator_table": records(self.indicator_table)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, default=str)

    # -- publication views ----------------------------------------------------------------------
    def publication_table(self, table: str = "prevalence", by: str = "national") -> pd.DataFrame:
        """One table as an NSO would publish it: formatted strings, flagged cells marked with
        ``*``, suppressed cells blank, and a ``note`` column with the reasons."""
        t = self.select(table, by)
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
            rec["indicator"] = LABELS.get(r.indicator, r.indicator)
            notes: list[str] = []
            rec.update(self._cells(r, "%", pct, notes))
            # a suppressed share shows nothing it could be read back from (bounds, minimum)
            hidden = _hidden(r)
            if self.imputed:
                rec["% minimum"] = ("" if hidden or r.imputations == 0 else pct(r.minimum))
            if table == "prevalence":
                if not hidden and np.isfinite(r.bound_low) and np.isfinite(r.bound_high):
                    rec["% bounds"] = f"{pct(r.bound_low)} - {pct(r.bound_high)}"
                else:
                    rec["% bounds"] = ""
                num = numbers.get((*[getattr(r, c) for c in dom_cols], r.indicator))
                if num is not None:
                    rec.update(self._cells(num, "number", _count, notes))
            rec["cases"] = "" if pd.isna(r.n_cases) else int(r.n_cases)
            rec["n"] = "" if pd.isna(r.n) else int(r.n)
            rec["note"] = "; ".join(dict.fromkeys(notes))
            rows.append(rec)
        out: pd.DataFrame = pd.DataFrame(rows)
        return out

    @staticmethod
    def _cells(r: Any, name: str, fmt: Any, notes: list[str]) -> dict[str, str]:
        status, reason = r.reliability, r.reliability_reason
        sdc = getattr(r, "disclosure", "publish")
        if sdc in ("primary", "secondary"):
            notes.append(f"confidential: {r.disclosure_reason}")
            return {name: "", f"{name} CI": ""}
        if status == "suppress":
            notes.append(f"{'share' if name == '%' else name} suppressed: {reason}")
            return {name: "", f"{name} CI": ""}
        mark = " *" if status == "flag" else ""
        if status == "flag":
            notes.append(f"{'share' if name == '%' else name} flagged: {reason}")
        flag = getattr(r, "ci_flag", None)  # select() drops a column without any flag
        if isinstance(flag, str) and flag:
            notes.append(flag)
        return {name: fmt(r.estimate) + mark, f"{name} CI": _interval(r.ci_low, r.ci_high, fmt)}

    def _title(self) -> str:
        p = self.provenance
        u = p["universe"]
        period = p.get("reference_period")
        return (f"Forced labour and trafficking: {p['spec']['name']} ({p['source']}); "
                f"{u['in_universe']:,} persons in the universe of {u['rows']:,} rows"
                + (f"; reference period: {period}" if period else ""))

    def sensitivity(self, delta: Sequence[float] = DEFAULT_DELTAS, *,
                    indicators: Sequence[str] = ("forced_labour", "trafficked")
                    ) -> Sensitivity:
        """MNAR sensitivity analysis of the imputed headline: the shares of ``indicators``,
        nationally and in every domain of the report, when the imputation model's log-odds of
        yes for the sensitive items (``sensitive`` in ``rules/indicators.yaml``: violence,
        threats, confinement, ...) are shifted by each ``delta`` (0 is the report itself).

        Parameters
        ----------
        delta : sequence of float
            Shifts of the log-odds (default -2 to 2 by 0.5): ``log 2`` doubles the odds that a
            missing sensitive answer is yes.
        indicators : sequence of str
            Classes of the ``prevalence`` table.

        Returns
        -------
        Sensitivity
            ``to_frame()``, ``tipping_points(value)``, ``plot()``.

        Notes
        -----
        The same seed draws the completions for every delta, so differences between deltas
        are the shift's, not noise. The minimum and the bounds do not depend on delta.
        """
        import dataclasses

        from flestimate.report._sensitivity import sensitivity_table

        prep = self._prepared
        if prep is None or getattr(prep, "imputed", None) is None:
            raise ArgumentError("`sensitivity()` needs a report made with missing='impute' "
                                "(in memory)")
        deltas = [float(d) for d in delta]
        if not deltas or not all(np.isfinite(deltas)):
            raise ArgumentError(f"`delta` of `sensitivity()` must be finite numbers; got "
                                f"{list(delta)!r}")
        known = set(self._table.loc[self._table["table"] == "prevalence", "indicator"])
        bad = [i for i in indicators if i not in known]
        if bad:
            raise ArgumentError(f"`indicators` of `sensitivity()` must be classes of the "
                                f"prevalence table ({', '.join(sorted(known))}); got {bad}")
        runs = []
        for d in sorted(set(deltas)):  # one estimation per delta examined (a few)
            if d == prep.imputed.delta:
                runs.append((d, self))
                continue
            again = dataclasses.replace(prep, imputed=prep.imputed.with_delta(d))
            runs.append((d, again.estimate(**self._options)))
        model = prep.imputed.model
        sens = [c for c, s in zip(model.items, model.sensitive, strict=False) if s]
        provenance = {"source": self.provenance["source"], "deltas": sorted(set(deltas)),
                      "sensitive": sens, "method": self.missing_method(),
                      "version": self.provenance.get("version")}
        return Sensitivity(sensitivity_table(runs, list(indicators)), provenance)

    @property
    def imputed(self) -> bool:
        """Whether the estimates are multiple-imputation estimates (``missing="impute"``)."""
        return (self.provenance.get("missing") or {}).get("method") == "multiple imputation"

    def missing_method(self) -> str:
        """How missing answers were treated, as printed under every table."""
        m = self.provenance.get("missing") or {}
        if m.get("method") == "multiple imputation":
            model = m.get("model") or {}
            return (f"missing answers: multiple imputation, M = {m['imputations']}, Rubin's "
                    f"rules (latent class model, {model.get('classes')} classes; % minimum: "
                    f"undetermined counted as not)")
        return "missing answers: minimum estimate (undetermined counted as not)"

    def _methods(self) -> str:
        p = self.provenance
        return (f"{p['ci_method']} {100 * p['level']:g}% CI for shares, {p['count_ci']} for "
                f"numbers; variance: {p['variance']}; df: {p['df_rule']}; reliability: "
                f"{p['reliability']['name']} (* flagged, blank suppressed); "
                f"{self.missing_method()}; {self.disclosure_method()}")

    def disclosure_method(self) -> str:
        """The disclosure control applied, as printed under every table."""
        d = self.provenance.get("disclosure") or {}
        return str(d.get("description", "disclosure control: none"))

    def __repr__(self) -> str:
        with pd.option_context("display.max_rows", 60, "display.width", 160,
                               "display.max_colwidth", 60):
            nat = self.publication_table().to_string(index=False)
            tr = self.publication_table("trafficked_by_form").to_string(index=False)
        return "\n".join([self._title(), "", nat, "", "Trafficked for forced labour, by form:",
                          tr, "", self._methods()])

    def _repr_html_(self) -> str:
        body = [f"<p><b>{html.escape(self._title())}</b></p>"]
        for table, title in (("prevalence", "National estimates"),
                             ("trafficked_by_form", "Trafficked for forced labour, by form")):
            body.append(f"<p>{title}</p>")
            body.append(self.publication_table(table).to_html(index=False, border=0,
                                                              na_rep=""))
        body.append(f"<p><small>{html.escape(self._methods())}</small></p>")
        return "<div>" + "".join(body) + "</div>"

    def summary(self) -> str:
        """The national table, every domain table, the shares by form, the classification
        counts, the data-quality report and the methods."""
        p = self.provenance
        d = p["design"]
        lines = [repr(self)]
        with pd.option_context("display.max_rows", 500, "display.width", 160,
                               "display.max_colwidth", 60):
            for by in self.margins[1:]:
                lines += ["", f"By {by}:", self.publication_table("prevalence", by)
                          .to_string(index=False)]
            lines += ["", "In forced labour, by form:",
                      self.publication_table("forced_labour_by_form").to_string(index=False),
                      "", "Classification (unweighted persons):",
                      self.classification_counts.to_string()]
        design = (describe_design(d) if is_replicate_summary(d) else
                  f"{d['n_rows']:,} rows, {d['n_strata']} strata, {d['n_psu']} PSUs, design df "
                  f"{d['degf']}; lonely PSUs: {d['lonely_psu']}")
        lines += ["", f"Design: {design}",
                  "Rules: " + ", ".join(f"{k} {v}" for k, v in p["rules"].items())]
        if any(p["excluded_missing_by"].values()):
            lines.append("Excluded from domains for a missing domain value: " + ", ".join(
                f"{k} {v}" for k, v in p["excluded_missing_by"].items()))
        lines.append(f"flestimate {p['version']}")
        return "\n".join(lines)

    # -- files ----------------------------------------------------------------------------------
    def to_excel(self, path: str | Path) -> Path:
        """An Excel workbook: one sheet per published table (national, each margin, shares by
        form), then the tidy estimates, the indicator tables, the data-quality report, the
        classification counts and the provenance. A text that starts with ``=``, ``+``, ``-``,
        ``@``, a tab or a carriage return (a domain label from the data) is written as a text
        cell, never a formula (:mod:`flestimate._safe_output`)."""
        path = Path(path)
        atomic_write(path, self._write_workbook)  # a temporary file beside it, then renamed
        return path

    def _write_workbook(self, path: Path) -> None:
        with excel_writer(path) as xl:  # a text starting with "=" stays text, not a formula
            for by in self.margins:
                self.publication_table("prevalence", by).to_excel(
                    xl, sheet_name=_sheet(by), index=False)
            for table in TABLES[1:]:
                self.publication_table(table).to_excel(xl, sheet_name=table, index=False)
            self._table.to_excel(xl, sheet_name="estimates", index=False)
            self.indicator_table.to_excel(xl, sheet_name="indicators", index=False)
            self.quality.to_excel(xl, sheet_name="data_quality", index=False)
            self.classification_counts.to_excel(xl, sheet_name="classification")
            prov = pd.DataFrame({"key": list(self.provenance), "value": [
                json.dumps(thaw(v), default=str) for v in self.provenance.values()]})
            prov.to_excel(xl, sheet_name="provenance", index=False)

    def to_html(self, path: str | Path | None = None) -> str:
        """The self-contained HTML report (tables, forest plots, indicator tables, data quality,
        methods with formulas and references); written to ``path`` when given."""
        from flestimate.report._html import render_html

        text: str = render_html(self)
        if path is not None:
            atomic_write_text(path, text)
        return text

    def plot(self, by: str | None = None, indicator: str = "forced_labour",
             table: str = "prevalence", ax: Any = None) -> Any:
        """Forest plot of a share with its CI by domain (matplotlib); returns the Axes."""
        from flestimate.report._plot import forest_plot

        return forest_plot(self, by=by, indicator=indicator, table=table, ax=ax)


def _hidden(r: Any) -> bool:
    """Whether a tidy row's estimate is not published (reliability or disclosure)."""
    return bool(r.reliability == "suppress"
                or getattr(r, "disclosure", "publish") in ("primary", "secondary"))


def _sheet(by: str) -> str:
    name = "national" if by == "national" else f"by {by}"
    for ch in "[]:*?/\\":
        name = name.replace(ch, "_")
    return name[:31]
