"""The ILO breakdown from surveys: forced labour and trafficking by form, pooled over national
``PrevalenceReport`` s (or tidy tables of national estimates with SEs) of independent surveys."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate._checks import check_choice, check_level
from flestimate._version import __version__
from flestimate.aggregate._protect import protect_breakdown
from flestimate.aggregate._shares import (
    lognormal_interval,
    normal_interval,
    share_interval,
    shares,
    z_quantile,
)
from flestimate.aggregate._totals import AGGREGATE_CI_METHODS, aggregate
from flestimate.aggregate._zero import zero_intervals
from flestimate.disclosure import DisclosureRules, load_disclosure
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, format_values
from flestimate.report._reliability import load_reliability
from flestimate.results import Result, format_percent, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["BREAKDOWN_COLUMNS", "BREAKDOWN_TABLES", "FORMS", "Breakdown", "from_reports"]

#: The forms of forced labour of the ILO 2005 typology (indicators of the report's by-form
#: tables; ``form_<form>`` in its prevalence table).
FORMS: tuple[str, ...] = ("state_imposed", "commercial_sexual_exploitation",
                          "economic_exploitation", "mixed_undetermined")
#: Numbers of the prevalence table summed over countries (table ``totals``).
TOTAL_INDICATORS: tuple[str, ...] = ("forced_labour", "trafficked", "forced_labour_not_trafficked",
                                     "undetermined", *(f"form_{f}" for f in FORMS))
#: Tables of a :class:`Breakdown`.
BREAKDOWN_TABLES: tuple[str, ...] = ("totals", "forced_labour_by_form", "trafficked_by_form",
                                     "by_region", "trafficked_by_region")
#: Columns of :meth:`Breakdown.to_frame`.
BREAKDOWN_COLUMNS: tuple[str, ...] = (
    "source", "table", "level", "region", "unit", "component", "quantity", "estimate", "se",
    "ci_low", "ci_high", "n_units", "method", "ci_flag", "reliability", "reliability_reason",
    "disclosure", "disclosure_reason",
)
_WEIGHTS = ("number", "population")
_REPORT_CI = "the country report's share and interval"
#: Up to this many surveys, the label of the pool names them.
_NAMED_UNITS = 6
_AMONG = {"forced_labour_by_form": "forced_labour", "trafficked_by_form": "trafficked"}
_POOLED = ("S_f = sum_c s_cf T_c / sum_c T_c; Var = sum_c [(T_c/D)^2 Var(s_cf) + "
           "((s_cf - S_f)/D)^2 Var(T_c)], D = sum_c T_c; the within-survey covariance of s_cf "
           "and T_c is taken as 0 (an approximation)")


def _tidy_inputs(reports: Any) -> dict[str, pd.DataFrame]:
    from flestimate.report import PrevalenceReport

    def frame_of(item: Any, uid: str) -> pd.DataFrame:
        if isinstance(item, PrevalenceReport):
            return item.to_frame()
        if isinstance(item, pd.DataFrame):
            return item
        raise ArgumentTypeError(f"`reports` of `from_reports()`: entry {uid!r} must be a "
                                f"PrevalenceReport or a DataFrame; got {type(item).__name__}")

    if isinstance(reports, pd.DataFrame):
        if "unit" not in reports.columns:
            raise DataError("`reports` of `from_reports()` given as one DataFrame needs a 'unit' "
                            "column naming the country of each row")
        return {str(k): g.drop(columns="unit") for k, g in reports.groupby("unit", sort=False)}
    if isinstance(reports, Mapping):
        out = {str(k): frame_of(v, str(k)) for k, v in reports.items()}
    elif isinstance(reports, Sequence) and not isinstance(reports, str):
        out = {}
        for item in reports:
            if not isinstance(item, PrevalenceReport):
                raise ArgumentTypeError("`reports` of `from_reports()` given as a list must hold "
                                        "PrevalenceReports (ids from provenance['source']); "
                                        "pass a mapping id -> DataFrame for plain tables")
            uid = str(item.provenance["source"])
            if uid in out:
                raise DataError(f"`reports` of `from_reports()`: two reports have the source "
                                f"{uid!r}; pass a mapping with distinct ids")
            out[uid] = item.to_frame()
    else:
        raise ArgumentTypeError(f"`reports` of `from_reports()` must be a mapping id -> "
                                f"PrevalenceReport or DataFrame, a list of PrevalenceReports or "
                                f"one DataFrame with a 'unit' column; got "
                                f"{type(reports).__name__}")
    if not out:
        raise DataError("`reports` of `from_reports()` is empty")
    return out


def _pick(t: pd.DataFrame, uid: str, table: str, measure: str,
          indicators: Sequence[str]) -> pd.DataFrame:
    need = ["table", "measure", "indicator", "estimate", "se"]
    missing = [c for c in need if c not in t.columns]
    if missing:
        raise DataError(f"`reports` of `from_reports()`: the table of {uid!r} lacks column(s) "
                        f"{missing}")
    rows = t[(t["table"] == table) & (t["measure"] == measure)]
    if "by" in t.columns:
        rows = rows[rows["by"] == "national"]
    rows = rows.drop_duplicates("indicator").set_index("indicator")
    absent = [i for i in indicators if i not in rows.index]
    if absent:
        raise DataError(f"`reports` of `from_reports()`: {uid!r} has no national {measure} of "
                        f"{format_values(absent)} in table {table!r}")
    if "disclosure" in rows.columns:
        hidden = [i for i in indicators
                  if rows.at[i, "disclosure"] in ("primary", "secondary")]
        if hidden:
            raise DataError(
                f"`reports` of `from_reports()`: {uid!r} has national {measure}(s) of "
                f"{format_values(hidden)} in table {table!r} suppressed by disclosure control; "
                f"aggregate reports made with disclosure='none' (from_reports then applies the "
                f"rule to what it publishes) or pool the surveys with pool_reports()")
    cols = ["estimate", "se"] + [c for c in ("ci_low", "ci_high", "n_cases", "n", "df")
                                 if c in rows.columns]
    out: pd.DataFrame = rows.loc[list(indicators), cols].astype(float)
    return out


def _mapping(value: Any, name: str, ids: Sequence[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(f"`{name}` of `from_reports()` must be a mapping id -> value; "
                                f"got {type(value).__name__}")
    missing = [u for u in ids if u not in value]
    if missing:
        raise DataError(f"`{name}` of `from_reports()` has no entry for {format_values(missing)}")
    return {u: value[u] for u in ids}


def from_reports(
    reports: Any,
    *,
    population: Mapping[str, float] | None = None,
    region: Mapping[str, str] | None = None,
    weights: str = "number",
    level: float = 0.95,
    ci: str = "lognormal",
    per: float = 1000.0,
    reliability: Any = "nchs2017",
    disclosure: Any = "threshold",
    disclosure_threshold: int | None = None,
) -> Breakdown:
    """The ILO breakdown (forced labour and trafficking by form) pooled over national surveys.

    Parameters
    ----------
    reports : mapping, list or DataFrame
        ``{id: PrevalenceReport}``; a list of PrevalenceReports (ids from
        ``provenance['source']``); ``{id: DataFrame}`` of national estimates in the report's
        tidy layout (``table, measure, indicator, estimate, se``, optional ``by``, rows with
        ``by == "national"`` used); or one such DataFrame with a ``unit`` column.
    population : mapping id -> float, optional
        The population each country's rates refer to (e.g. the survey universe or the whole
        population): rates per ``per`` in table ``totals``; required with
        ``weights="population"``.
    region : mapping id -> str, optional
        Region of each country: adds region rows to every table and the tables ``by_region``
        and ``trafficked_by_region``.
    weights : {"number", "population"}
        ``number``: each country's totals are its estimated numbers (measure ``number``);
        ``population``: its shares (measure ``share``) times ``population``, ``Var = P^2
        Var(share)``.
    level : float
        Confidence level.
    ci : {"lognormal", "normal"}
        Interval for totals: ``T exp(-/+ z se / T)`` (default, as the report's numbers) or
        ``T -/+ z se``. Pooled shares get logit intervals; country rows of by-form shares keep
        their report's interval. A share of 0 with SE 0 (no sample case) gets the one-sided
        Korn-Graubard interval ``[0, U]`` that the estimators give ``p = 0`` (``ci_flag``
        ``"p=0: one-sided interval (NCHS)"``), at the sample cases of its class and the design
        df summed over its surveys; a number of 0 with SE 0, or a share whose inputs carry no
        ``n`` / ``df``, gets no upper end (NaN, with a ``ci_flag``): its SE says nothing about
        how large it could be.
    per : float
        Rates per ``per`` persons.
    reliability
        Reliability rule set (:func:`~flestimate.report.assess_reliability`), applied to every
        row as :func:`~flestimate.report.pool_reports` applies it: a share by the 95%
        Korn-Graubard interval from its SE, with the surveys' design df and sample cases summed;
        a number by its own interval. Columns ``reliability`` and ``reliability_reason``.
    disclosure, disclosure_threshold
        Disclosure control of the breakdown, as in :func:`~flestimate.estimate_prevalence`:
        a country, region or world cell with fewer than the threshold of sample cases (the
        reports' ``n_cases``, summed) is blanked, and every cell that would give it back by
        subtraction (the world is the sum of the countries; forced labour of the trafficked
        and the not trafficked; a total of its forms). The reports must carry their national
        cells: a report whose cell is itself suppressed is refused (aggregate reports made
        with ``disclosure="none"``, or use :func:`~flestimate.report.pool_reports`). Without
        ``n_cases`` in the inputs (plain tables) no cell can be judged and the rule is
        recorded as not applied.

    Returns
    -------
    Breakdown

    Notes
    -----
    Countries' surveys are independent. Totals: ``T = sum_c T_c``, ``Var = sum_c Var(T_c)``
    (:func:`aggregate`, ``kind="total"``). Shares by form, for the trafficked (``T_c`` the
    number trafficked) and for all in forced labour (``T_c`` the number in forced labour), with
    ``s_cf`` the country's share in form ``f`` from its report:

        S_f = sum_c s_cf T_c / D,  D = sum_c T_c,
        Var(S_f) = sum_c [ (T_c / D)^2 Var(s_cf) + ((s_cf - S_f) / D)^2 Var(T_c) ],

    the delta method with the within-country covariance of ``s_cf`` and ``T_c`` taken as 0
    (an approximation; the report's ``s_cf`` is itself a ratio of that survey's totals). With
    one country it reduces to ``Var(s_cf)`` exactly. A form's number is ``s_cf T_c`` (trafficked)
    or the report's ``form_<f>`` number (forced labour), summed over countries; a derived number
    has ``Var = T_c^2 Var(s_cf) + s_cf^2 Var(T_c)``. Regions' shares of the world total are
    shares of independent totals (:func:`shares`). Share intervals are on the logit scale.

    The computation is a list of named steps (each a documented function of this module or
    of ``_protect``): check the arguments, read each country's national numbers and shares by
    form, build the tables, apply the reliability and disclosure rules, record the
    provenance.

    References
    ----------
    Wolter, K. M. (2007). *Introduction to Variance Estimation*, 2nd ed., Springer, ch. 6.
    Belser, P., de Cock, M. and Mehran, F. (2005). *ILO Minimum Estimate of Forced Labour in the
    World*, ILO (the breakdown by form and of the trafficked by form).
    """
    level, sdc = _check_arguments(level, disclosure, disclosure_threshold, weights, ci,
                                  population)
    tidy = _tidy_inputs(reports)
    ids = list(tidy)
    pop = None if population is None else _populations(population, ids)
    regions = (None if region is None else
               np.array([str(v) for v in _mapping(region, "region", ids).values()], dtype=object))
    numbers, by_form = _national_inputs(tidy, pop if weights == "population" else None)
    table = _breakdown_table(numbers, by_form, ids, pop, regions, level, ci, per)
    rules = load_reliability(reliability)
    table, disclosed = protect_breakdown(table, _sample_cases(numbers, by_form, ids), sdc,
                                         regions is not None, _sample_sizes(numbers, ids),
                                         rules)
    table = table[list(BREAKDOWN_COLUMNS)]
    provenance = _provenance(ids, weights, pop, regions, level, ci, per, rules.name, disclosed)
    return Breakdown(table, provenance)


def _provenance(ids: list[str], weights: str, pop: np.ndarray | None,
                regions: np.ndarray | None, level: float, ci: str, per: float,
                reliability: str, disclosed: Mapping[str, Any]) -> dict[str, Any]:
    """What made the breakdown: the units, weights, populations and regions, the interval
    methods and level, the variance assumptions, the reliability and disclosure rules and
    the flestimate version."""
    return {
        "function": "from_reports",
        "units": ids,
        "weights": weights,
        "population": None if pop is None else dict(zip(ids, pop.tolist(), strict=True)),
        "region": None if regions is None else dict(zip(ids, regions.tolist(), strict=True)),
        "level": level,
        "ci_method": f"{ci} for totals, logit for pooled shares, the report's for country shares",
        "per": per,
        "variance": ("independent surveys: Var(sum T_c) = sum Var(T_c); pooled shares: "
                     + _POOLED),
        "reliability": {"name": reliability,
                        "note": "shares judged by the 95% Korn-Graubard interval from the "
                                "pooled SE, with df and cases summed over the surveys"},
        "disclosure": disclosed,
        "version": __version__,
    }


def _check_arguments(level: float, disclosure: Any, disclosure_threshold: int | None,
                     weights: str, ci: str,
                     population: Mapping[str, float] | None) -> tuple[float, DisclosureRules]:
    """The checked level and disclosure rules, after the choices are validated (population
    weights need populations)."""
    func = "from_reports"
    level = check_level(level, func)
    sdc = load_disclosure(disclosure, disclosure_threshold,
                          where="`disclosure` of `from_reports()`")
    check_choice(weights, _WEIGHTS, "weights", "from_reports")
    check_choice(ci, AGGREGATE_CI_METHODS, "ci", "from_reports")
    if weights == "population" and population is None:
        raise ArgumentError("`weights='population'` of `from_reports()` needs `population`")
    return level, sdc


def _populations(population: Mapping[str, float], ids: Sequence[str]) -> np.ndarray:
    """Each country's population, checked finite and >= 0."""
    pop = np.array([float(v) for v in _mapping(population, "population", ids).values()])
    if (~np.isfinite(pop) | (pop < 0)).any():
        bad = ~np.isfinite(pop) | (pop < 0)
        raise DataError(f"`population` of `from_reports()` must be finite and >= 0; got "
                        f"{format_values(pop[bad])} for {format_values(np.array(ids)[bad])}")
    return pop


def _national_inputs(tidy: Mapping[str, pd.DataFrame], weighted: np.ndarray | None,
                     ) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, pd.DataFrame]]]:
    """Each country's national numbers of the prevalence table (its reported numbers; with
    ``weighted`` populations, its shares times the population, ``Var = P^2 Var(share)``) and
    its shares by form of each by-form table."""
    numbers = {}
    by_form = {}
    for i, (uid, t) in enumerate(tidy.items()):
        if weighted is None:
            numbers[uid] = _pick(t, uid, "prevalence", "number", TOTAL_INDICATORS)
        else:
            s = _pick(t, uid, "prevalence", "share", TOTAL_INDICATORS)
            p = float(weighted[i])
            numbers[uid] = pd.DataFrame({"estimate": p * s["estimate"], "se": p * s["se"]})
            for c in ("n_cases", "n", "df"):
                if c in s.columns:
                    numbers[uid][c] = s[c]
        by_form[uid] = {tab: _pick(t, uid, tab, "share", FORMS) for tab in _AMONG}
    return numbers, by_form


def _breakdown_table(numbers: Mapping[str, pd.DataFrame],
                     by_form: Mapping[str, Mapping[str, pd.DataFrame]], ids: Sequence[str],
                     pop: np.ndarray | None, regions: np.ndarray | None, level: float, ci: str,
                     per: float) -> pd.DataFrame:
    """Every table of the breakdown (totals, the by-form tables, the regional ones) in one
    frame; a share of 0 with SE 0 gets the one-sided Korn-Graubard interval of the estimators
    (:func:`~flestimate.aggregate._zero.zero_intervals`)."""
    z = z_quantile(level)
    parts = [_totals(numbers, ids, pop, regions, level, ci, per)]
    codes, keys = _codes(regions, len(ids))
    for tab, among in _AMONG.items():
        parts.append(_by_form(tab, among, numbers, by_form, ids, regions, codes, keys, z, ci))
    if regions is not None:
        parts += _by_region(parts[0], level, ci)
    table = pd.concat(parts, ignore_index=True)
    table["ci_flag"] = table["ci_flag"].astype(object)
    table["ci_flag"] = table["ci_flag"].where(table["ci_flag"].notna(), None)
    table = zero_intervals(table, numbers, by_form, ids, level, keep=_REPORT_CI)
    table.insert(0, "source", "survey")
    return table


def _sample_cases(numbers: Mapping[str, pd.DataFrame],
                  by_form: Mapping[str, Mapping[str, pd.DataFrame]],
                  ids: Sequence[str]) -> dict[str, dict[tuple[str, str], Any]]:
    """Each country's sample cases by cell (table, indicator), from its report's
    ``n_cases``."""
    return {uid: {**{("totals", i): numbers[uid].get("n_cases", pd.Series(dtype=float)).get(i)
                     for i in TOTAL_INDICATORS},
                  **{(tab, f): by_form[uid][tab].get("n_cases", pd.Series(dtype=float)).get(f)
                     for tab in _AMONG for f in FORMS}}
            for uid in ids}


def _sample_sizes(numbers: Mapping[str, pd.DataFrame],
                  ids: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Each country's respondents and design df (NaN where its report does not say)."""
    return {uid: (float(numbers[uid].get("n", pd.Series([np.nan])).iloc[0]),
                  float(numbers[uid].get("df", pd.Series([np.nan])).iloc[0])) for uid in ids}


def _codes(regions: np.ndarray | None, n: int) -> tuple[np.ndarray, list[str]]:
    if regions is None:
        return np.zeros(n, dtype=np.int64), []
    codes, uniques = pd.factorize(pd.Series(regions, dtype=object), sort=False)
    return codes.astype(np.int64), [str(u) for u in uniques]


def _totals(numbers: Mapping[str, pd.DataFrame], ids: Sequence[str], pop: np.ndarray | None,
            regions: np.ndarray | None, level: float, ci: str, per: float) -> pd.DataFrame:
    rows = []
    for ind in TOTAL_INDICATORS:
        frame = pd.DataFrame({
            "unit": ids,
            "estimate": [numbers[u].at[ind, "estimate"] for u in ids],
            "se": [numbers[u].at[ind, "se"] for u in ids],
        })
        if pop is not None:
            frame["population"] = pop
        if regions is not None:
            frame["region"] = regions
        agg = aggregate(frame, kind="total", unit="unit",
                        population="population" if pop is not None else None,
                        groups=("region",) if regions is not None else (), level=level,
                        ci=ci, per=per).to_frame()
        agg["level"] = agg["level"].map({"unit": "country", "group": "region",
                                         "world": "world"})
        if regions is None:
            agg["region"] = None
        base = agg[["level", "region", "unit", "n_units", "method"]].assign(
            component=ind, ci_flag=None)
        rows.append(base.assign(quantity="persons", estimate=agg["total"], se=agg["se"],
                                ci_low=agg["ci_low"], ci_high=agg["ci_high"]))
        if pop is not None:
            r = f"rate_per_{per:g}"
            rows.append(base.assign(quantity=f"per_{per:g}", estimate=agg[r], se=agg[f"{r}_se"],
                                    ci_low=agg[f"{r}_ci_low"], ci_high=agg[f"{r}_ci_high"]))
    out: pd.DataFrame = pd.concat(rows, ignore_index=True).assign(table="totals")
    return out


def _pool(denom: np.ndarray, var_denom: np.ndarray, s: np.ndarray, var_s: np.ndarray,
          codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled shares ``S`` (groups x forms), their SEs and the pooled denominators."""
    d = np.bincount(codes, weights=denom, minlength=n_groups)
    num = np.zeros((n_groups, s.shape[1]))
    np.add.at(num, codes, s * denom[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = num / d[:, None]
        terms = denom[:, None] ** 2 * var_s + (s - pooled[codes]) ** 2 * var_denom[:, None]
    acc = np.zeros_like(num)
    np.add.at(acc, codes, terms)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(acc) / d[:, None]
    return pooled, se, d


@dataclass(frozen=True)
class _FormInputs:
    """One by-form table's inputs, countries x forms: the class's number ``T_c`` (``denom``)
    and its variance, the shares ``s_cf`` and their variances (0 for a country with no one in
    the class), and the persons by form with their variances and how they were got."""

    denom: np.ndarray
    var_denom: np.ndarray
    s: np.ndarray
    var_s: np.ndarray
    empty: np.ndarray
    persons: np.ndarray
    var_p: np.ndarray
    p_method: str


def _by_form(tab: str, among: str, numbers: Mapping[str, pd.DataFrame],
             by_form: Mapping[str, Mapping[str, pd.DataFrame]], ids: Sequence[str],
             regions: np.ndarray | None, codes: np.ndarray, keys: Sequence[str], z: float,
             ci: str) -> pd.DataFrame:
    """One by-form table: each country's shares and persons by form (and the class's total),
    then the pooled shares and summed persons of each region and of the world."""
    inputs = _form_inputs(tab, among, numbers, by_form, ids)
    region_col = (np.full(len(ids), None, dtype=object) if regions is None else regions)
    rows = _country_form_rows(tab, among, inputs, by_form, ids, region_col, z, ci)
    groups: list[tuple[str, np.ndarray, list[str | None]]] = [
        ("world", np.zeros(len(ids), dtype=np.int64), [None])]
    if regions is not None:
        groups.insert(0, ("region", codes, list(keys)))
    for level, g_codes, labels in groups:
        rows += _pooled_form_rows(level, g_codes, labels, inputs, z, ci)
    out: pd.DataFrame = pd.concat(rows, ignore_index=True).assign(table=tab)
    return out


def _form_inputs(tab: str, among: str, numbers: Mapping[str, pd.DataFrame],
                 by_form: Mapping[str, Mapping[str, pd.DataFrame]],
                 ids: Sequence[str]) -> _FormInputs:
    """The countries' numbers in the class and shares by form, checked (a country with
    people in the class needs every share and SE); the persons by form are the report's form
    numbers (forced labour) or ``s_cf T_c`` with ``Var = T^2 Var(s) + s^2 Var(T)``."""
    k, f = len(ids), len(FORMS)
    denom = np.array([numbers[u].at[among, "estimate"] for u in ids])
    var_denom = np.array([numbers[u].at[among, "se"] for u in ids]) ** 2
    s = np.array([by_form[u][tab]["estimate"].to_numpy() for u in ids]).reshape(k, f)
    var_s = np.array([by_form[u][tab]["se"].to_numpy() for u in ids]).reshape(k, f) ** 2
    empty = denom == 0
    bad = ~empty & ~(np.isfinite(s).all(axis=1) & np.isfinite(var_s).all(axis=1))
    if bad.any():
        raise DataError(f"`reports` of `from_reports()`: {format_values(np.array(ids)[bad])} "
                        f"have {among} > 0 but missing shares or SEs in table {tab!r}")
    s = np.where(empty[:, None], 0.0, s)
    var_s = np.where(empty[:, None], 0.0, var_s)
    if tab == "forced_labour_by_form":
        persons = np.array([[numbers[u].at[f"form_{g}", "estimate"] for g in FORMS]
                            for u in ids]).reshape(k, f)
        var_p = np.array([[numbers[u].at[f"form_{g}", "se"] for g in FORMS]
                          for u in ids]).reshape(k, f) ** 2
        p_method = "the report's number of the form"
    else:
        persons = s * denom[:, None]
        var_p = denom[:, None] ** 2 * var_s + s**2 * var_denom[:, None]
        p_method = "share x number trafficked; Var = T^2 Var(s) + s^2 Var(T)"
    return _FormInputs(denom, var_denom, s, var_s, empty, persons, var_p, p_method)


def _form_rows(level: str, region: Any, unit: Any, n_units: Any, quantity: str,
               est: np.ndarray, se: np.ndarray, low: np.ndarray, high: np.ndarray,
               method: Any, flag: Any = None) -> pd.DataFrame:
    """The rows of one quantity of one country, region or the world: the forms, then the
    total."""
    out: pd.DataFrame = pd.DataFrame({
        "level": level, "region": region, "unit": unit, "n_units": n_units,
        "component": [*FORMS, "total"], "quantity": quantity, "estimate": est, "se": se,
        "ci_low": low, "ci_high": high, "method": method, "ci_flag": flag})
    return out


def _total_interval(est: np.ndarray, se: np.ndarray, z: float,
                    ci: str) -> tuple[np.ndarray, np.ndarray]:
    """The interval of numbers of persons: normal or lognormal (``ci``)."""
    if ci == "normal":
        return normal_interval(est, se, z)
    return lognormal_interval(est, se, z)


def _country_form_rows(tab: str, among: str, inputs: _FormInputs,
                       by_form: Mapping[str, Mapping[str, pd.DataFrame]], ids: Sequence[str],
                       region_col: np.ndarray, z: float, ci: str) -> list[pd.DataFrame]:
    """Each country's shares (with its report's interval where it has one, else a logit
    interval) and persons by form."""
    f = len(FORMS)
    rows = []
    for i, uid in enumerate(ids):
        sh = by_form[uid][tab]
        se_i = np.sqrt(inputs.var_s[i])
        if {"ci_low", "ci_high"} <= set(sh.columns) and not inputs.empty[i]:
            low, high, flag = sh["ci_low"].to_numpy(), sh["ci_high"].to_numpy(), None
            method = _REPORT_CI
        else:
            low, high, flag = share_interval(inputs.s[i], se_i, z, "logit")
            method = "the country's share; logit interval"
        rows.append(_form_rows("country", region_col[i], uid, 1, "share",
                               np.append(inputs.s[i], 1.0), np.append(se_i, 0.0),
                               np.append(low, 1.0), np.append(high, 1.0), method,
                               None if flag is None else [*flag, None]))
        p_est = np.append(inputs.persons[i], inputs.denom[i])
        p_se = np.sqrt(np.append(inputs.var_p[i], inputs.var_denom[i]))
        rows.append(_form_rows("country", region_col[i], uid, 1, "persons", p_est, p_se,
                               *_total_interval(p_est, p_se, z, ci),
                               [*([inputs.p_method] * f), f"the report's number {among}"]))
    return rows


def _pooled_form_rows(level: str, g_codes: np.ndarray, labels: list[str | None],
                      inputs: _FormInputs, z: float, ci: str) -> list[pd.DataFrame]:
    """The shares of each region (or the world) pooled over its surveys (:func:`_pool`, logit
    intervals) and its persons by form summed over them (``Var`` the sum of variances)."""
    n_g, f = len(labels), len(FORMS)
    pooled, pooled_se, d = _pool(inputs.denom, inputs.var_denom, inputs.s, inputs.var_s,
                                 g_codes, n_g)
    p_sum = np.zeros((n_g, f))
    v_sum = np.zeros((n_g, f))
    np.add.at(p_sum, g_codes, inputs.persons)
    np.add.at(v_sum, g_codes, inputs.var_p)
    vd = np.bincount(g_codes, weights=inputs.var_denom, minlength=n_g)
    n_units = np.bincount(g_codes, minlength=n_g)
    rows = []
    for g in range(n_g):
        low, high, flag = share_interval(pooled[g], pooled_se[g], z, "logit")
        rows.append(_form_rows(level, labels[g], None, int(n_units[g]), "share",
                               np.append(pooled[g], 1.0), np.append(pooled_se[g], 0.0),
                               np.append(low, 1.0), np.append(high, 1.0),
                               f"pooled over {int(n_units[g])} survey(s): " + _POOLED,
                               [*flag, None]))
        p_est = np.append(p_sum[g], d[g])
        p_se = np.sqrt(np.append(v_sum[g], vd[g]))
        rows.append(_form_rows(level, labels[g], None, int(n_units[g]), "persons", p_est, p_se,
                               *_total_interval(p_est, p_se, z, ci),
                               "sum over independent surveys; Var = sum of variances"))
    return rows


def _by_region(totals: pd.DataFrame, level: float, ci: str) -> list[pd.DataFrame]:
    out = []
    for ind, tab in (("forced_labour", "by_region"), ("trafficked", "trafficked_by_region")):
        rows = totals[(totals["component"] == ind) & (totals["quantity"] == "persons")]
        reg = rows[rows["level"] == "region"]
        world = rows[rows["level"] == "world"]
        if reg["estimate"].sum() > 0:
            sh = shares(reg["estimate"].to_numpy(), reg["se"].to_numpy(),
                        names=[str(r) for r in reg["region"]], level=level)
        else:
            sh = pd.DataFrame({"share": np.nan, "se": np.nan, "ci_low": np.nan,
                               "ci_high": np.nan, "ci_flag": "no persons: no shares"},
                              index=range(len(reg)))
        comp = [*reg["region"].astype(str), "World"]
        n_units = [*reg["n_units"], *world["n_units"]]
        out.append(pd.DataFrame({
            "level": [*(["region"] * len(reg)), "world"], "region": [*reg["region"], None],
            "unit": None, "n_units": n_units, "component": comp, "quantity": "persons",
            "estimate": [*reg["estimate"], *world["estimate"]],
            "se": [*reg["se"], *world["se"]], "ci_low": [*reg["ci_low"], *world["ci_low"]],
            "ci_high": [*reg["ci_high"], *world["ci_high"]],
            "method": "sum over independent surveys; Var = sum of variances", "ci_flag": None,
            "table": tab}))
        out.append(pd.DataFrame({
            "level": [*(["region"] * len(reg)), "world"], "region": [*reg["region"], None],
            "unit": None, "n_units": n_units, "component": comp, "quantity": "share",
            "estimate": [*sh["share"], 1.0], "se": [*sh["se"], 0.0],
            "ci_low": [*sh["ci_low"], 1.0], "ci_high": [*sh["ci_high"], 1.0],
            "method": "share of the world total; delta method for independent regional totals",
            "ci_flag": [*sh["ci_flag"], None], "table": tab}))
    return out


def _share_fmt(v: float) -> str:
    return f"{format_percent(v)}%" if np.isfinite(v) else ""


def _count_fmt(v: float) -> str:
    return f"{v:,.0f}" if np.isfinite(v) else ""


def _rate_fmt(v: float) -> str:
    return f"{v:.3g}" if np.isfinite(v) else ""


_FORMATS: Mapping[str, Callable[[float], str]] = {"shar": _share_fmt, "pers": _count_fmt,
                                                  "per_": _rate_fmt}


class Breakdown(Result):
    """The ILO breakdown computed from surveys: a tidy table with provenance.

    Tables (``table``): ``totals`` (numbers, and rates with ``population``), ``forced_labour_by
    _form``, ``trafficked_by_form`` and, with ``region``, ``by_region`` and
    ``trafficked_by_region``; levels ``country``, ``region``, ``world`` (the top level: the
    pool of the given surveys, the world only if they cover it; the displays name it by
    :attr:`pool_label`); every row has ``source="survey"`` so it can be set beside a published
    breakdown (:func:`flestimate.global_estimates.compare`).

    Attributes
    ----------
    provenance : Mapping
        Units, weights, populations and regions, interval methods and level, the variance
        assumptions and the flestimate version.
    """

    __slots__ = ("_table",)
    _table: pd.DataFrame
    _label = "Breakdown"
    _records_key = "estimates"
    _immutable_hint = "call from_reports() again"

    def __init__(self, table: pd.DataFrame, provenance: Mapping[str, Any]) -> None:
        super().__init__(provenance, _table=table)

    def to_frame(self) -> pd.DataFrame:
        """Every row, tidy (a copy): ``source, table, level, region, unit, component,
        quantity`` (``persons``, ``share``, ``per_<per>``), ``estimate, se, ci_low, ci_high,
        n_units, method, ci_flag``."""
        out: pd.DataFrame = self._table.copy()
        return out

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(pd.unique(self._table["table"]))

    def table(self, name: str = "trafficked_by_form", level: str = "world") -> pd.DataFrame:
        """The rows of one table at one level (``country``, ``region``, ``world``)."""
        check_choice(name, self.tables, "name", "table")
        if level not in ("country", "region", "world"):
            raise ArgumentError(f"`level` of `table()` must be one of country, region, world; "
                                f"got {level!r}")
        t = self._table
        out: pd.DataFrame = t[(t["table"] == name) & (t["level"] == level)].reset_index(
            drop=True)
        return out

    @property
    def pool_label(self) -> str:
        """What the top level (``level == "world"``) of this breakdown is: the pool of the
        given surveys, ``"survey: MDA"``, ``"pooled: MDA, GEO"`` or, past six surveys,
        ``"pooled: all 12 surveys"``. It is the world only if the surveys cover it; the
        displays name it by this label, never "world"."""
        units = [str(u) for u in self.provenance["units"]]
        if len(units) == 1:
            return f"survey: {units[0]}"
        if len(units) <= _NAMED_UNITS:
            return f"pooled: {', '.join(units)}"
        return f"pooled: all {len(units)} surveys"

    def _display(self, name: str) -> pd.DataFrame:
        t = self.table(name, "world")
        # the top row of a regional table is the pool of the surveys, not the world
        t = t.assign(component=t["component"].replace({"World": "all regions"}))
        # what the rules suppress is blank, what they flag is marked, as in a report's tables
        hidden = (t["reliability"] == "suppress") | t["disclosure"].isin(["primary",
                                                                           "secondary"])
        t = t.assign(**{c: t[c].where(~hidden) for c in ("estimate", "ci_low", "ci_high")})
        wide = t.pivot_table(index="component", columns="quantity",
                             values=["estimate", "ci_low", "ci_high"], sort=False,
                             dropna=False)  # a confidential cell stays, blank
        out = pd.DataFrame(index=pd.Index(pd.unique(t["component"]), name="component"))
        flagged = {(c, q) for c, q, r in zip(t["component"], t["quantity"], t["reliability"],
                                             strict=True) if r == "flag"}
        for q in pd.unique(t["quantity"]):
            fmt = _FORMATS.get(str(q)[:4], _FORMATS["pers"])
            out[q] = [fmt(v) + (" *" if (c, q) in flagged and np.isfinite(v) else "")
                      for c, v in wide[("estimate", q)].items()]
            out[f"{q} CI"] = [f"{fmt(lo)} - {fmt(hi)}" if np.isfinite(lo) and np.isfinite(hi)
                              else "" for lo, hi in zip(wide[("ci_low", q)],
                                                        wide[("ci_high", q)], strict=True)]
        shown: pd.DataFrame = out.reset_index()
        return shown

    def _title(self) -> str:
        p = self.provenance
        rel = (p.get("reliability") or {}).get("name")
        sdc = (p.get("disclosure") or {}).get("description")
        return (f"Breakdown from {len(p['units'])} survey(s) ({', '.join(p['units'])}); "
                f"{100 * p['level']:g}% CI"
                + (f"; reliability: {rel} (* flagged, blank suppressed)" if rel else "")
                + (f"; {sdc}" if sdc else ""))

    def __repr__(self) -> str:
        """The title, then the top rows (the pool of the surveys, :attr:`pool_label`) of the
        two by-form tables."""
        lines = [self._title()]
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            for name in ("forced_labour_by_form", "trafficked_by_form"):
                lines += ["", f"{name} ({self.pool_label}):",
                          self._display(name).to_string(index=False)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = [f"<p><b>{html.escape(self._title())}</b></p>"]
        for name in ("forced_labour_by_form", "trafficked_by_form"):
            body.append(f"<p>{html.escape(f'{name} ({self.pool_label})')}</p>")
            body.append(self._display(name).to_html(index=False, border=0))
        return "<div>" + "".join(body) + "</div>"

    def plot(self, table: str = "trafficked_by_form", ax: Axes | None = None) -> Axes:
        """The top-level shares (the pool of the surveys) of one by-form table with their
        confidence intervals.

        Parameters
        ----------
        table : {"trafficked_by_form", "forced_labour_by_form"}
            Which breakdown.
        ax : matplotlib Axes, optional
            Where to draw; by default a new figure (:func:`flestimate.results.new_axes`).

        Returns
        -------
        matplotlib.axes.Axes
            One row per form (the total left out), in percent: a bar at the share (container
            ``"share"``) and a line from ``ci_low`` to ``ci_high`` (collection ``"CI"``; a
            share without an upper end, e.g. 0 with no sample case, has no line).
        """
        check_choice(table, tuple(_AMONG), "table", "plot")
        t = self.table(table, "world")
        rows = t[(t["quantity"] == "share") & (t["component"] != "total")].reset_index(
            drop=True)
        ax = new_axes(ax, 7.0, 1.4 + 0.4 * len(rows))
        y = np.arange(len(rows), dtype=float)
        est, lo, hi = (100 * rows[c].to_numpy(float) for c in ("estimate", "ci_low", "ci_high"))
        ax.barh(y, est, height=0.6, color="#c6dbef", label="share")
        ok = np.isfinite(lo) & np.isfinite(hi)
        ax.hlines(y[ok], lo[ok], hi[ok], colors="#1f4e79", linewidth=1.6, label="CI")
        for yi, v, r in zip(y, est, np.where(ok, hi, est), strict=True):
            ax.annotate(f"{format_percent(v / 100)}%", (r, yi), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize="small")
        from matplotlib.ticker import PercentFormatter

        ax.set_yticks(y, [str(c).replace("_", " ") for c in rows["component"]])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlim(0, 100)
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
        p = self.provenance
        among = "in forced labour" if table == "forced_labour_by_form" else "trafficked"
        ax.set_xlabel(f"% of persons {among}, by form ({100 * p['level']:g}% CI)")
        ax.set_title(f"{table.replace('_', ' ').capitalize()}, from "
                     f"{len(p['units'])} survey(s)", loc="left")
        ax.grid(axis="x", color="#eeeeee")
        return ax

    def summary(self) -> str:
        """The by-form tables, the totals and regional tables, and the methods."""
        p = self.provenance
        lines = [repr(self)]
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            for name in self.tables:
                if name in _AMONG:
                    continue
                lines += ["", f"{name} ({self.pool_label}):",
                          self._display(name).to_string(index=False)]
        lines += ["", f"Weights: {p['weights']}; intervals: {p['ci_method']}",
                  f"Variance: {p['variance']}", f"flestimate {p['version']}"]
        return "\n".join(lines)
