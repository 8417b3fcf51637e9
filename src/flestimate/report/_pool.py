"""Several national surveys pooled into one design: exact regional and global breakdowns.

Independent national surveys are strata of one pooled design (each country's strata and PSUs
prefixed with its id), so every pooled estimate, and in particular a ratio of totals such as the
share of the trafficked by form, gets its Taylor variance with every within-country covariance,
where :func:`flestimate.aggregate.from_reports` has to take them as zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from flestimate.disclosure import load_disclosure
from flestimate.errors import ArgumentError, ArgumentTypeError
from flestimate.report._common import AMONG, PREFIX, UNIVERSE, as_list
from flestimate.report._frame import Outcomes, merge_classification_options
from flestimate.report._imputed import pool_imputed
from flestimate.report._inputs import parse_margins
from flestimate.report._prepared import Prepared
from flestimate.report._prevalence import PrevalenceReport
from flestimate.report._reliability import ReliabilityRules, load_reliability
from flestimate.results import thaw

__all__ = ["pool_reports"]

_W, _STRATA, _PSU, _COUNT = (f"{PREFIX}pool_{k}" for k in ("w", "strata", "psu", "count"))


def _items(reports: Any) -> list[tuple[str, PrevalenceReport]]:
    if isinstance(reports, Mapping):
        items = [(str(k), v) for k, v in reports.items()]
    elif isinstance(reports, Sequence) and not isinstance(reports, str):
        items = [(str(r.provenance["source"]) if isinstance(r, PrevalenceReport) else str(i), r)
                 for i, r in enumerate(reports)]
    else:
        raise ArgumentTypeError(f"`reports` of `pool_reports()` must be a mapping id -> "
                                f"PrevalenceReport or a list of them; got "
                                f"{type(reports).__name__}")
    if not items:
        raise ArgumentError("`reports` of `pool_reports()` is empty")
    for uid, r in items:
        if not isinstance(r, PrevalenceReport):
            raise ArgumentTypeError(f"`reports` of `pool_reports()`: {uid!r} is a "
                                    f"{type(r).__name__}, not a PrevalenceReport")
        if r._prepared is None:
            raise ArgumentError(f"`reports` of `pool_reports()`: {uid!r} keeps no estimation "
                                f"frame (made by an older flestimate or rebuilt from a table)")
    return items


def _unit_frame(uid: str, prep: Prepared, by_cols: list[str], unit: str) -> pd.DataFrame:
    o = prep.design_options
    frame = prep.frame
    if o.get("fpc"):
        raise ArgumentError(f"`pool_reports()`: the design of {uid!r} has an FPC; pooling "
                            f"designs with finite population corrections is not supported")
    strata_cols = as_list(o.get("strata"))
    psu_cols = as_list(o.get("psu"))[:1]  # the first stage: the with-replacement approximation
    strata = pd.Series(uid, index=frame.index, dtype=object)
    for c in strata_cols:
        strata = strata + "|" + frame[c].astype(str)
    psu = strata + "|" + (frame[psu_cols[0]].astype(str) if psu_cols
                          else pd.Series(np.arange(len(frame)).astype(str), index=frame.index))
    missing = [c for c in by_cols if c != unit and c not in frame.columns]
    if missing:
        raise ArgumentError(f"`by` of `pool_reports()`: {missing} not in the estimation frame of "
                            f"{uid!r}; estimate each report with these domains (by=) first")
    keep = [*prep.outcomes.columns, UNIVERSE, *(s for _, s in AMONG.values()),
            *(f"{PREFIX}form_{a}" for a, _ in AMONG.values()),
            *(c for c in by_cols if c != unit)]
    out = frame[keep].copy()
    out[_W] = frame[o["weights"]].to_numpy(dtype=float)
    out[_STRATA] = strata.to_numpy()
    out[_PSU] = psu.to_numpy()
    out[_COUNT] = (frame[prep.frequencies].to_numpy() if prep.frequencies is not None
                   else np.ones(len(frame), dtype=np.int64))
    out[unit] = uid
    result: pd.DataFrame = out
    return result


def pool_reports(
    reports: Any,
    *,
    by: str | Sequence[str | Sequence[str]] | None = None,
    unit: str = "country",
    ci: str = "korn-graubard",
    level: float = 0.95,
    df: float | None = None,
    reliability: str | Mapping[str, Any] | ReliabilityRules = "nchs2017",
    lonely_psu: str | None = None,
    disclosure: Any = "threshold",
    disclosure_threshold: int | None = None,
) -> PrevalenceReport:
    """One report over several national surveys pooled into one design.

    Parameters
    ----------
    reports : mapping id -> PrevalenceReport, or a list of them
        Reports made by :func:`~flestimate.estimate_prevalence` (in memory or from a dask
        DataFrame); the ids become the values of the ``unit`` column.
    by : str or list, optional
        Further margins, as in :func:`~flestimate.estimate_prevalence`; their columns must be in
        every report's estimation frame (estimate the reports with them).
    unit : str
        Name of the column holding the ids; it is always a margin (one domain per survey).
    ci, level, df, reliability, disclosure, disclosure_threshold
        As :func:`~flestimate.estimate_prevalence`: the pooled table, the surveys' domains
        included, gets the reliability and disclosure rules.
    lonely_psu : str, optional
        The pooled design's lonely-PSU rule; by default the reports' own, when they agree.

    Returns
    -------
    PrevalenceReport
        ``national`` rows are the pooled (e.g. regional or global) figures; ``by == unit`` rows
        are the surveys. ``provenance["pooled"]`` lists the surveys with their specs and rules.

    Notes
    -----
    Surveys are independent samples, so the pooled design stratifies by survey: stratum
    ``id|h`` and PSU ``id|h|i``, the survey's weights unchanged (each survey's weights sum to
    its own population). A pooled share ``p = sum_c sum_k w u y / sum_c sum_k w u`` has the
    Taylor variance ``sum_c sum_h n_h/(n_h - 1) sum_i (z_hi - zbar_h)^2``: the sum of the
    surveys' contributions, each with its own within-survey covariances, which the
    independent-totals approximation of :func:`flestimate.aggregate.from_reports` leaves out.
    A survey's own domain in the pooled design has that survey's estimate and, without a lonely
    PSU, its SE exactly. First-stage (with-replacement) variance; designs with an FPC are
    refused. Estimates are Taylor on the declared designs (a report's replicate variance or
    calibration is not carried over: the provenance records each report's variance).
    """
    items = _items(reports)
    margins = [(unit,), *[m for m in parse_margins(by, "pool_reports") if m != (unit,)]]
    by_cols = list(dict.fromkeys(c for m in margins for c in m))
    preps: list[Prepared] = [r._prepared for _, r in items]  # checked by _items
    pooled = pd.concat([_unit_frame(uid, prep, by_cols, unit)
                        for (uid, _), prep in zip(items, preps, strict=True)], ignore_index=True)
    lonely_psu = _lonely_psu(preps, lonely_psu)
    prepared = _pooled_prepared([uid for uid, _ in items], preps, pooled, unit, lonely_psu)
    rules = load_reliability(reliability)
    sdc = load_disclosure(disclosure, disclosure_threshold, where="`disclosure` of "
                          "`pool_reports()`")
    report = prepared.estimate(ci=ci, level=level, df=df, rules=rules, margins=margins,
                               disclosure=sdc)
    return PrevalenceReport(report.to_frame(), _provenance(report, items, preps, unit),
                            quality=prepared.quality, classification_counts=prepared.counts,
                            indicator_table=prepared.indicator_table, prepared=prepared)


def _lonely_psu(preps: Sequence[Prepared], lonely_psu: str | None) -> str:
    """The pooled design's lonely-PSU rule: the one asked, else the reports' own when they
    agree (an ArgumentError when they differ)."""
    policies = {str(p.design_options.get("lonely_psu", "fail")) for p in preps}
    if lonely_psu is None:
        if len(policies) > 1:
            raise ArgumentError(f"`lonely_psu` of `pool_reports()`: the reports' designs differ "
                                f"({', '.join(sorted(policies))}); choose one")
        lonely_psu = policies.pop()
    return lonely_psu


def _pooled_prepared(ids: list[str], preps: Sequence[Prepared], pooled: pd.DataFrame,
                     unit: str, lonely_psu: str) -> Prepared:
    """The pooled survey ready to estimate: the surveys as strata of one design, their quality
    reports and indicator tables stacked by ``unit``, universe and classification counts
    summed, their completions (``missing="impute"``) pooled."""
    first = preps[0]
    outcomes = Outcomes({c: pooled[c].to_numpy() for c in first.outcomes.columns},
                         first.outcomes.bounded)
    quality = pd.concat([p.quality.assign(**{unit: uid})
                         for uid, p in zip(ids, preps, strict=True)], ignore_index=True)
    universe = {k: int(sum(p.universe[k] for p in preps)) for k in first.universe}
    counts = preps[0].counts
    for p in preps[1:]:
        counts = counts.add(p.counts, fill_value=0)
    indicators = pd.concat([p.indicator_table.assign(**{unit: uid})
                            for uid, p in zip(ids, preps, strict=True)], ignore_index=True)
    return Prepared(pooled, outcomes,
                    {"weights": _W, "strata": _STRATA, "psu": _PSU, "nest": False,
                     "lonely_psu": lonely_psu},
                    first.spec, f"pooled: {', '.join(ids)}", quality, universe, None,
                    counts.astype(np.int64), indicators, first.rules, frequencies=_COUNT,
                    imputed=pool_imputed([p.imputed for p in preps], ids),
                    classification_options=merge_classification_options(
                        [p.classification_options for p in preps]))


def _provenance(report: PrevalenceReport, items: list[tuple[str, PrevalenceReport]],
                preps: Sequence[Prepared], unit: str) -> dict[str, Any]:
    """The pooled report's provenance: the specs and reference periods of every survey, and
    under ``pooled`` each survey's source, spec, rules and variance."""
    provenance = thaw(report.provenance)
    provenance["spec"] = {"name": "pooled", "source": ", ".join(
        sorted({p.spec.name for p in preps}))}
    provenance["reference_period"] = "; ".join(dict.fromkeys(
        p.spec.reference_period for p in preps if p.spec.reference_period))
    provenance["pooled"] = [
        {unit: uid, "source": r.provenance["source"], "spec": r.provenance["spec"]["name"],
         "reference_period": r.provenance.get("reference_period"),
         "rules": thaw(r.provenance["rules"]), "variance": r.provenance["variance"]}
        for uid, r in items]
    out: dict[str, Any] = provenance
    return out
