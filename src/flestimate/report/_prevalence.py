"""The result of the main job: an immutable tidy table of estimates with its provenance, the
data-quality report and the classification counts; every display is a view of them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flestimate._atomic import atomic_write, atomic_write_text
from flestimate._checks import check_choice
from flestimate._format import count_text
from flestimate.errors import ArgumentError
from flestimate.report._common import TABLE_COLUMNS, TABLES
from flestimate.report._sensitivity import DEFAULT_DELTAS, Sensitivity
from flestimate.results import Result, describe_design, is_replicate_summary, records, thaw

__all__ = ["TABLE_COLUMNS", "PrevalenceReport"]

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
        ``forced_labour_by_form``, ``differences`` with ``compare=``) for one margin (``national``, ``sex``, ``sex*region``)."""
        check_choice(table, (*TABLES, "differences", "network_scale_up"), "table", "select")
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
    def publication_values(self, table: str = "prevalence", by: str = "national") -> pd.DataFrame:
        """One published table as numbers (what :meth:`publication_table` prints and the Excel
        sheets store): the domain columns, ``indicator`` (its label), ``level`` (0, or 1 for
        the rows "of which" trafficked / not trafficked), shares in percent (``%``, ``% CI
        low``, ``% CI high``, ``% minimum`` when imputed, ``% bounds low/high`` and, in the
        prevalence table, ``number``, ``number CI low/high``), ``cases``, ``n``, ``note``, and
        the flags ``% flagged`` and ``number flagged``. A suppressed or confidential cell is
        missing (NaN), with its reason in ``note``."""
        from flestimate.report._publish import publication_values

        return publication_values(self, table, by)

    def publication_table(self, table: str = "prevalence", by: str = "national") -> pd.DataFrame:
        """One table as an NSO would publish it: formatted strings (one decimals rule per
        column, thousands separators, en-dash ranges, :mod:`flestimate._format`), flagged cells
        marked with ``*``, suppressed cells blank, the rows "of which" indented two spaces, and
        a ``note`` column with the reasons."""
        from flestimate.report._publish import format_values

        return format_values(self.publication_values(table, by), by)

    def legend(self, table: str = "prevalence") -> str:
        """The short legend printed under a published table."""
        from flestimate.report._publish import legend

        return legend(self, table)

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
            profiles = {"pooled": ", one item profile for the labour sectors (BIC)",
                        "separate": ", an item profile per sector (BIC)"}.get(
                str((model.get("profile_choice") or {}).get("chosen")), "")
            return (f"missing answers: multiple imputation, M = {m['imputations']}, Rubin's "
                    f"rules (latent class model, {model.get('classes')} classes{profiles}; "
                    f"% minimum: undetermined counted as not)")
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
        from flestimate.report._publish import report_text

        return report_text(self, margins=False)

    def _repr_html_(self) -> str:
        from flestimate.report._publish import notebook_html

        return notebook_html(self)

    def summary(self) -> str:
        """The national table, every domain table, the shares by form, the classification
        counts, the data-quality report and the methods."""
        p = self.provenance
        d = p["design"]
        from flestimate.report._publish import report_text, table_text

        lines = [report_text(self, margins=True), "", "In forced labour, by form:",
                 table_text(self, "forced_labour_by_form", "national")]
        with pd.option_context("display.max_rows", 500, "display.width", 160):
            lines += ["", "Classification (unweighted persons):",
                      self.classification_counts.map(count_text).to_string()]
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
        from flestimate.report._excel import write_workbook

        write_workbook(self, path)

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
