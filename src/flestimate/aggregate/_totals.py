"""Regional and world totals from national estimates of independent surveys, with imputation of
the units (countries) without a survey from a named model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from flestimate._checks import check_level, known_keywords
from flestimate._version import __version__
from flestimate.aggregate._result import Aggregate
from flestimate.aggregate._shares import (
    lognormal_interval,
    normal_interval,
    z_quantile,
)
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, format_values

__all__ = ["AGGREGATE_CI_METHODS", "aggregate"]

#: Interval methods for totals: ``normal`` (``T -/+ z se``) and ``lognormal``
#: (``T exp(-/+ z se / T)``).
AGGREGATE_CI_METHODS: tuple[str, ...] = ("normal", "lognormal")
_KINDS = ("rate", "total")
_CI_SCALES = ("auto", "linear", "log")
REGIONAL_RATE = "regional_rate"

#: An imputation model: ``"regional_rate"``, a table of model predictions (unit, rate, se) or a
#: function of the unsurveyed rows returning ``(rate, se)`` arrays.
Imputer: TypeAlias = str | pd.DataFrame | Callable[[pd.DataFrame], Any]

_NOT_IN_SE = ("the between-unit variation of the rate around the regional rate (the imputation "
              "model's own error) is not in the SE")


def _columns(frame: pd.DataFrame, named: Mapping[str, str | None]) -> None:
    missing = {arg: col for arg, col in named.items() if col is not None
               and col not in frame.columns}
    if missing:
        which = ", ".join(f"{col!r} (`{arg}`)" for arg, col in missing.items())
        raise DataError(f"column(s) {which} of `aggregate()` not found in `estimates`; its "
                        f"columns are {format_values(list(frame.columns), limit=12)}")


def _numbers(frame: pd.DataFrame, col: str, arg: str) -> np.ndarray:
    try:
        out: np.ndarray = pd.to_numeric(frame[col], errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"column {col!r} (`{arg}`) of `aggregate()` must be numeric") from exc
    return out


def _bad(mask: np.ndarray, ids: np.ndarray) -> str:
    return format_values(ids[mask])


def _imputers(impute: Any, impute_name: Any) -> list[tuple[str, Imputer]]:
    if impute is None:
        return []
    items: list[Any] = (list(impute) if isinstance(impute, (list, tuple)) else [impute])
    if impute_name is None:
        names: list[str | None] = [None] * len(items)
    elif isinstance(impute_name, str):
        names = [impute_name] + [None] * (len(items) - 1)
    else:
        names = [None if n is None else str(n) for n in impute_name]
    if len(names) != len(items):
        raise ArgumentError(f"`impute_name` of `aggregate()` must name each of the {len(items)} "
                            f"imputation models; got {len(names)} names")
    out: list[tuple[str, Imputer]] = []
    for i, (item, name) in enumerate(zip(items, names, strict=True)):
        if isinstance(item, str):
            if item != REGIONAL_RATE:
                raise ArgumentError(f"`impute` of `aggregate()` must be 'regional_rate', a "
                                    f"DataFrame (unit, rate, se) or a callable; got {item!r}")
            out.append((name or REGIONAL_RATE, item))
        elif isinstance(item, pd.DataFrame) or callable(item):
            out.append((name or f"model {i + 1}", item))
        else:
            raise ArgumentTypeError(f"`impute` of `aggregate()` must be 'regional_rate', a "
                                    f"DataFrame (unit, rate, se) or a callable; got "
                                    f"{type(item).__name__}")
    return out


def _model_table(table: pd.DataFrame, unit: str, name: str,
                 ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    key = unit if unit in table.columns else "unit"
    missing = [c for c in (key, "rate", "se") if c not in table.columns]
    if missing:
        raise DataError(f"imputation model {name!r} of `aggregate()` needs columns {unit!r} (or "
                        f"'unit'), 'rate' and 'se'; missing {missing}")
    repeated = table[key].duplicated().to_numpy()
    if repeated.any():
        raise DataError(f"imputation model {name!r} of `aggregate()` lists units more than "
                        f"once: {format_values(pd.unique(table[key].to_numpy()[repeated]))}")
    rate = pd.Series(pd.to_numeric(table["rate"], errors="coerce").to_numpy(float),
                     index=table[key])
    se = pd.Series(pd.to_numeric(table["se"], errors="coerce").to_numpy(float), index=table[key])
    return rate.reindex(ids).to_numpy(float), se.reindex(ids).to_numpy(float)


def _model_call(model: Callable[[pd.DataFrame], Any], rows: pd.DataFrame,
                name: str) -> tuple[np.ndarray, np.ndarray]:
    result = model(rows.copy())
    try:
        rate, se = result
        rate = np.asarray(rate, dtype=np.float64).reshape(-1)
        se = np.asarray(se, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"imputation model {name!r} of `aggregate()` must return a pair "
                                f"(rate, se) of arrays; got {type(result).__name__}") from exc
    if rate.shape[0] != len(rows) or se.shape[0] != len(rows):
        raise ArgumentError(f"imputation model {name!r} of `aggregate()` must return one rate and "
                            f"one SE per unsurveyed unit ({len(rows)}); got {rate.shape[0]} and "
                            f"{se.shape[0]}")
    return rate, se


@known_keywords
def aggregate(
    estimates: pd.DataFrame,
    *,
    value: str = "estimate",
    se: str | None = "se",
    ci_low: str | None = None,
    ci_high: str | None = None,
    level: float = 0.95,
    kind: str = "rate",
    population: str | None = "population",
    unit: str = "country",
    groups: str | Sequence[str] = ("region",),
    impute: Imputer | Sequence[Imputer] | None = None,
    impute_name: str | Sequence[str | None] | None = None,
    per: float = 1000.0,
    ci: str = "normal",
    ci_scale: str = "auto",
    ci_level: float | None = None,
) -> Aggregate:
    """Regional and world totals, rates and their SEs from national estimates.

    Parameters
    ----------
    estimates : DataFrame
        One row per unit (country): its estimate in ``value`` (a rate, i.e. a prevalence share
        of ``population``, or a total), its SE in ``se`` or its CI in ``ci_low``/``ci_high``,
        its population and its group columns. Units without a survey have a missing estimate;
        they are imputed when ``impute`` is given, and an error otherwise.
    value, se, ci_low, ci_high : str
        Column names. A unit with a missing SE takes it from its interval:
        ``(high - low) / (2 z)`` on the linear scale, or ``estimate (log high - log low) /
        (2 z)`` on the log scale (see ``ci_scale``).
    level : float
        Confidence level of the output intervals.
    kind : {"rate", "total"}
        ``rate``: the estimate is a share of the unit's population (``T = P r``); ``total``: a
        number of persons.
    population : str or None
        Column of the population the rate refers to (known constants). ``None`` is allowed for
        ``kind="total"`` without imputation: the rates are then missing.
    unit : str
        Column identifying the units (unique).
    groups : str or sequence of str
        Group columns (e.g. ``"region"``); their combination is one grouping. ``()`` gives the
        units and the world only.
    impute : "regional_rate", DataFrame, callable or a list of them, optional
        How units without a survey are imputed; with a list, each unit takes the first model
        that covers it. ``"regional_rate"`` applies the group's rate ``sum T_s / sum P_s`` over
        its surveyed units; a DataFrame of model predictions has columns ``unit`` (or the
        ``unit`` column's name), ``rate`` (a share, e.g. 0.0035 for 3.5 per 1,000) and ``se``;
        a callable receives the rows of the uncovered units and returns ``(rate, se)`` arrays
        (NaN rate: not covered).
    impute_name : str or sequence of str, optional
        Names of the models, written in the output (``method``) and the provenance.
    per : float
        Rates are given per ``per`` persons (columns ``rate_per_<per>``).
    ci : {"normal", "lognormal"}
        Interval for totals (and rates): ``T -/+ z se`` or ``T exp(-/+ z se / T)``.
    ci_scale : {"auto", "linear", "log"}
        Scale on which a given CI is taken as symmetric when deriving an SE. ``auto`` uses, per
        unit, the scale on which the interval is the more symmetric around the estimate (a Wald
        interval gives linear, a log-scale interval gives log).
    ci_level : float, optional
        Level of the given CIs (default ``level``).

    Returns
    -------
    Aggregate

    Notes
    -----
    Surveys of different units are independent and populations are known constants. For a
    unit with a rate: ``T_c = P_c r_c``, ``Var(T_c) = P_c^2 Var(r_c)``. A group's total over
    its surveyed units is ``T_S = sum T_c`` with ``Var(T_S) = sum Var(T_c)``.

    Regional-rate imputation: ``r_g = T_S / P_S`` (``P_S`` the surveyed population of the
    group) applied to each unsurveyed unit, ``T_u = P_u r_g``; the group total is
    ``T_g = T_S (1 + P_U / P_S)`` with ``Var(T_g) = (1 + P_U / P_S)^2 Var(T_S)``, where ``P_U``
    is the population imputed this way. The imputed unit rows carry ``Var(T_u) = P_u^2
    Var(T_S) / P_S^2``; they are correlated with the surveyed units, so the group variance is
    not the sum of the unit variances. The SE does *not* include the imputation model's error
    (the spread of the unsurveyed units' true rates around ``r_g``): it is a lower bound of the
    uncertainty, and ``method`` says so. A group with units to impute but no surveyed unit is
    an error unless a user model covers those units.

    Model imputation: ``T_u = P_u m_u``, ``Var(T_u) = P_u^2 se(m_u)^2``, independent of the
    surveys, added to the group variance. The world total is the sum of the group totals with
    the sum of their variances. Rates are ``per T / P`` with ``se = per se(T) / P``.

    The computation is a list of named steps (each a documented function of this module):
    check the arguments and the units, derive SEs, sum the surveyed units by group, impute,
    total the groups and the world, build the table and its provenance.

    References
    ----------
    Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed., Wiley, sec. 5.2 (stratified
    totals: independent strata). ILO, Walk Free and IOM (2022). *Global Estimates of Modern
    Slavery: Forced Labour and Forced Marriage*, methodology annex (regional imputation of
    countries without a survey).
    """
    # the arguments and each unit's estimate, SE, total and group
    level, in_level, group_cols = _check_arguments(estimates, level, ci_level, kind, ci,
                                                   ci_scale, per, population, groups)
    _check_columns(estimates, value, se, ci_low, ci_high, population, unit, group_cols)
    frame, ids = _unit_rows(estimates, unit, group_cols)
    est, pop, surveyed = _unit_estimates(frame, ids, value, population, kind)
    est_se, se_source = _standard_errors(frame, est, surveyed, ids, se, ci_low, ci_high,
                                         z_quantile(in_level), ci_scale)
    total, var = _unit_totals(kind, est, est_se, pop)
    grouping = _grouping(frame, group_cols)
    sums = _surveyed_sums(grouping, surveyed, total, var, pop)
    # the units without a survey, then the group totals
    imputers = _imputers(impute, impute_name)
    imp = _impute(frame, ids, unit, value, population, surveyed, se_source, imputers,
                  grouping, sums)
    total, var = _imputed_totals(imp, total, var, pop, grouping, sums)
    unit_rate = _unit_rates(kind, est, surveyed, total, pop)
    group = _group_totals(grouping, imp, surveyed, total, var, pop, sums, imputers)
    # the unit, group and world rows with their intervals and rates; the provenance
    rate_col = f"rate_per_{per:g}"
    z = z_quantile(level)
    parts = [_rows("unit", frame[list(group_cols)], ids, total, var, pop, np.ones(len(frame)),
                   surveyed.astype(float), imp.imputed.astype(float),
                   np.where(imp.imputed, pop, 0.0), imp.imputed, imp.method, se_source, ci, z,
                   per, rate_col)]
    if group_cols:
        parts.append(_group_rows(grouping, group, ci, z, per, rate_col))
    parts.append(_world_rows(group_cols, group, surveyed, imp, ci, z, per, rate_col))
    table = _table(parts, rate_col, per * unit_rate)
    provenance = _provenance(kind, level, in_level, ci, ci_scale, per, imputers, imp, surveyed,
                             columns={"value": value, "se": se, "ci_low": ci_low,
                                      "ci_high": ci_high, "population": population,
                                      "unit": unit, "groups": list(group_cols)})
    return Aggregate(table, provenance, group_cols)


def _check_arguments(estimates: Any, level: float, ci_level: float | None, kind: str, ci: str,
                     ci_scale: str, per: float, population: str | None,
                     groups: str | Sequence[str]) -> tuple[float, float, tuple[str, ...]]:
    """The checked output and input levels and the group columns, after the arguments that
    need no data are validated (the estimates a DataFrame; ``kind``, ``ci``, ``ci_scale``,
    ``per``; a population for rates)."""
    func = "aggregate"
    if not isinstance(estimates, pd.DataFrame):
        raise ArgumentTypeError(f"`estimates` of `aggregate()` must be a DataFrame; got "
                                f"{type(estimates).__name__}")
    level = check_level(level, func)
    in_level = level if ci_level is None else check_level(ci_level, func)
    for arg, val, allowed in (("kind", kind, _KINDS), ("ci", ci, AGGREGATE_CI_METHODS),
                              ("ci_scale", ci_scale, _CI_SCALES)):
        if val not in allowed:
            raise ArgumentError(f"`{arg}` of `aggregate()` must be one of {', '.join(allowed)}; "
                                f"got {val!r}")
    if isinstance(per, bool) or not isinstance(per, (int, float)) or not (
            np.isfinite(per) and per > 0):
        raise ArgumentError(f"`per` of `aggregate()` must be a positive number; got {per!r}")
    group_cols = (groups,) if isinstance(groups, str) else tuple(groups)
    if kind == "rate" and population is None:
        raise ArgumentError("`population` of `aggregate()` is needed with kind='rate'")
    return level, in_level, group_cols


def _check_columns(estimates: pd.DataFrame, value: str, se: str | None, ci_low: str | None,
                   ci_high: str | None, population: str | None, unit: str,
                   group_cols: tuple[str, ...]) -> None:
    """Every named column exists, and the unit column is not also a group column."""
    _columns(estimates, {"value": value, "se": se, "ci_low": ci_low, "ci_high": ci_high,
                         "population": population, "unit": unit,
                         **{f"groups[{i}]": g for i, g in enumerate(group_cols)}})
    if unit in group_cols:
        raise ArgumentError(f"`unit` of `aggregate()` ({unit!r}) cannot also be a group column")


def _unit_rows(estimates: pd.DataFrame, unit: str,
               group_cols: tuple[str, ...]) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows (index reset) and the unit ids, checked: every unit named once, every group
    column filled, at least one row."""
    frame = estimates.reset_index(drop=True)
    ids = frame[unit].to_numpy(dtype=object)
    if frame[unit].isna().any():
        raise DataError(f"column {unit!r} (`unit`) of `aggregate()` has missing values in rows "
                        f"{format_values(np.flatnonzero(frame[unit].isna().to_numpy()))}")
    dup = frame[unit].duplicated(keep=False).to_numpy()
    if dup.any():
        raise DataError(f"column {unit!r} (`unit`) of `aggregate()` must identify the rows; "
                        f"repeated: {format_values(pd.unique(ids[dup]))}")
    for g in group_cols:
        miss = frame[g].isna().to_numpy()
        if miss.any():
            raise DataError(f"group column {g!r} of `aggregate()` is missing for unit(s) "
                            f"{_bad(miss, ids)}")
    if len(frame) == 0:
        raise DataError("`estimates` of `aggregate()` has no rows")
    return frame, ids


def _unit_estimates(frame: pd.DataFrame, ids: np.ndarray, value: str, population: str | None,
                    kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each unit's estimate, population (NaN without a population column) and whether it was
    surveyed (a finite estimate), checked: populations finite and >= 0, a rate in [0, 1], a
    total >= 0."""
    n = len(frame)
    est = _numbers(frame, value, "value")
    pop = np.full(n, np.nan) if population is None else _numbers(frame, population,
                                                                 "population")
    if population is not None:
        bad = ~np.isfinite(pop) | (pop < 0)
        if bad.any():
            raise DataError(f"column {population!r} (`population`) of `aggregate()` must be "
                            f"finite and >= 0; got {format_values(pop[bad])} for unit(s) "
                            f"{_bad(bad, ids)}")
    surveyed = np.isfinite(est)
    low_ok = 0.0
    high_ok = 1.0 if kind == "rate" else np.inf
    bad = surveyed & ((est < low_ok) | (est > high_ok))
    if bad.any():
        what = "a rate in [0, 1] (kind='rate')" if kind == "rate" else ">= 0 (kind='total')"
        raise DataError(f"column {value!r} (`value`) of `aggregate()` must be {what}; got "
                        f"{format_values(est[bad])} for unit(s) {_bad(bad, ids)}")
    return est, pop, surveyed


def _unit_totals(kind: str, est: np.ndarray, est_se: np.ndarray,
                 pop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The surveyed units' totals and variances: ``T = P r``, ``Var = P^2 Var(r)`` for a rate,
    the estimate and its squared SE for a total (NaN for the units without a survey)."""
    if kind == "rate":
        return pop * est, pop**2 * est_se**2
    return est.copy(), est_se**2


@dataclass(frozen=True)
class _Grouping:
    """The units' groups: each unit's group code (groups in order of first appearance), the
    groups' values of the group columns and their labels."""

    codes: np.ndarray
    keys: pd.DataFrame
    labels: list[str]

    @property
    def n(self) -> int:
        return len(self.keys)

    def sum(self, x: np.ndarray) -> np.ndarray:
        """Per-group sums of a per-unit array."""
        out: np.ndarray = np.bincount(self.codes, weights=x, minlength=self.n)
        return out


def _grouping(frame: pd.DataFrame, group_cols: tuple[str, ...]) -> _Grouping:
    """The groups of the units (one group of all units without group columns)."""
    if group_cols:
        codes = frame.groupby(list(group_cols), sort=False).ngroup().to_numpy()
        keys = frame[list(group_cols)].drop_duplicates().reset_index(drop=True)
    else:
        codes = np.zeros(len(frame), dtype=np.int64)
        keys = pd.DataFrame(index=[0])
    return _Grouping(codes, keys, [_group_label(keys, g, group_cols) for g in range(len(keys))])


@dataclass(frozen=True)
class _Sums:
    """Per-group sums over the surveyed units: ``T_S``, ``Var(T_S)`` and ``P_S``."""

    total: np.ndarray
    var: np.ndarray
    pop: np.ndarray


def _surveyed_sums(grouping: _Grouping, surveyed: np.ndarray, total: np.ndarray,
                   var: np.ndarray, pop: np.ndarray) -> _Sums:
    """Each group's surveyed total, its variance (independent surveys: the sum of the
    variances) and surveyed population, which regional-rate imputation scales up."""
    return _Sums(grouping.sum(np.where(surveyed, total, 0.0)),
                 grouping.sum(np.where(surveyed, var, 0.0)),
                 grouping.sum(np.where(surveyed, pop, 0.0)))


@dataclass(frozen=True)
class _Imputation:
    """How each unit got its estimate: the ``method`` text, imputed at the regional rate or by a
    user model (with the model's rate and SE; NaN elsewhere)."""

    method: np.ndarray
    by_rate: np.ndarray
    by_model: np.ndarray
    model_rate: np.ndarray
    model_se: np.ndarray

    @property
    def imputed(self) -> np.ndarray:
        out: np.ndarray = self.by_rate | self.by_model
        return out


def _impute(frame: pd.DataFrame, ids: np.ndarray, unit: str, value: str,
            population: str | None, surveyed: np.ndarray, se_source: np.ndarray,
            imputers: list[tuple[str, Imputer]], grouping: _Grouping,
            sums: _Sums) -> _Imputation:
    """Which model imputes each unit without a survey: the first of ``imputers`` that covers
    it (the regional rate: its group has a surveyed population; a user model: a finite rate);
    an error for a unit that none covers."""
    n = len(frame)
    method = np.array([f"survey{'' if s == 'se' else f' (SE from the {s})'}" if ok else ""
                       for s, ok in zip(se_source, surveyed, strict=True)], dtype=object)
    by_rate = np.zeros(n, dtype=bool)
    by_model = np.zeros(n, dtype=bool)
    todo = ~surveyed
    _check_imputable(todo, ids, value, population, imputers)
    model_rate = np.full(n, np.nan)
    model_se = np.full(n, np.nan)
    for name, imp in imputers:
        if not todo.any():
            break
        if isinstance(imp, str):
            covered = todo & (sums.pop[grouping.codes] > 0)
            by_rate |= covered
            for i in np.flatnonzero(covered):
                method[i] = f"imputed: {name} of {grouping.labels[grouping.codes[i]]}"
        else:
            where, rate_i, se_i = _model_predictions(imp, name, todo, frame, unit, ids)
            model_rate[where], model_se[where] = rate_i, se_i
            covered = np.zeros(n, dtype=bool)
            covered[where] = True
            by_model |= covered
            method[covered] = f"imputed: {name}"
        todo = todo & ~covered
    if todo.any():
        raise _uncovered(todo, ids, grouping, imputers)
    return _Imputation(method, by_rate, by_model, model_rate, model_se)


def _check_imputable(todo: np.ndarray, ids: np.ndarray, value: str, population: str | None,
                     imputers: list[tuple[str, Imputer]]) -> None:
    """Units without a survey need an imputation model and a population to apply it to."""
    if todo.any():
        if not imputers:
            raise DataError(f"unit(s) {_bad(todo, ids)} of `aggregate()` have no estimate (column "
                            f"{value!r}); pass `impute=` ('regional_rate' or a model) or drop "
                            f"them")
        if population is None:
            raise ArgumentError("`population` of `aggregate()` is needed to impute units "
                                "without a survey")


def _model_predictions(imp: pd.DataFrame | Callable[[pd.DataFrame], Any], name: str,
                       todo: np.ndarray, frame: pd.DataFrame, unit: str,
                       ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A user model's predictions for the units still to impute: the positions it covers (a
    finite rate), their rates and SEs, checked to be a rate in [0, 1] and a finite SE >= 0."""
    if isinstance(imp, pd.DataFrame):
        rate_i, se_i = _model_table(imp, unit, name, ids[todo])
    else:
        rate_i, se_i = _model_call(imp, frame.loc[todo], name)
    ok = np.isfinite(rate_i)
    bad = ok & ~((rate_i >= 0) & (rate_i <= 1) & np.isfinite(se_i) & (se_i >= 0))
    if bad.any():
        raise DataError(f"imputation model {name!r} of `aggregate()` must give a rate in "
                        f"[0, 1] and a finite SE >= 0; got rate "
                        f"{format_values(rate_i[bad])} for unit(s) "
                        f"{format_values(ids[todo][bad])}")
    return np.flatnonzero(todo)[ok], rate_i[ok], se_i[ok]


def _uncovered(todo: np.ndarray, ids: np.ndarray, grouping: _Grouping,
               imputers: list[tuple[str, Imputer]]) -> DataError:
    """The error for units that no model could impute, saying why."""
    empty = sorted({grouping.labels[c] for c in grouping.codes[todo]})
    rr = any(isinstance(imp, str) for _, imp in imputers)
    why = (f"group(s) {', '.join(empty)} have no surveyed unit, so 'regional_rate' cannot "
           f"impute them" if rr else "no imputation model covers them")
    return DataError(f"unit(s) {_bad(todo, ids)} of `aggregate()` have no estimate and {why};"
                     f" give a model (impute=DataFrame or callable) for them")


def _imputed_totals(imp: _Imputation, total: np.ndarray, var: np.ndarray, pop: np.ndarray,
                    grouping: _Grouping, sums: _Sums) -> tuple[np.ndarray, np.ndarray]:
    """Every unit's total and variance: the imputed units' ``T_u = P_u r`` with the regional
    rate ``r_g = T_S / P_S`` (``Var = P_u^2 Var(T_S) / P_S^2``) or the model's rate
    (``Var = P_u^2 se(m_u)^2``)."""
    rate_g = np.divide(sums.total, sums.pop, out=np.full(grouping.n, np.nan),
                       where=sums.pop > 0)
    var_rate_g = np.divide(sums.var, sums.pop**2, out=np.full(grouping.n, np.nan),
                           where=sums.pop > 0)
    total = np.where(imp.by_rate, pop * rate_g[grouping.codes], total)
    var = np.where(imp.by_rate, pop**2 * var_rate_g[grouping.codes], var)
    total = np.where(imp.by_model, pop * imp.model_rate, total)
    var = np.where(imp.by_model, pop**2 * imp.model_se**2, var)
    return total, var


def _unit_rates(kind: str, est: np.ndarray, surveyed: np.ndarray, total: np.ndarray,
                pop: np.ndarray) -> np.ndarray:
    """Each unit's own rate: a given rate keeps its exact value, otherwise ``T / P``."""
    unit_rate = np.where(surveyed & (kind == "rate"), est, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.where(np.isfinite(unit_rate), unit_rate, total / pop)
    return out


@dataclass(frozen=True)
class _GroupTotals:
    """Per-group totals, variances, populations, counts of units and methods."""

    total: np.ndarray
    var: np.ndarray
    pop: np.ndarray
    units: np.ndarray
    surveyed: np.ndarray
    imputed: np.ndarray
    imputed_pop: np.ndarray
    method: list[str]


def _group_totals(grouping: _Grouping, imp: _Imputation, surveyed: np.ndarray,
                  total: np.ndarray, var: np.ndarray, pop: np.ndarray, sums: _Sums,
                  imputers: list[tuple[str, Imputer]]) -> _GroupTotals:
    """Group totals: ``T_g = T_S (1 + P_U / P_S) + sum T_model`` with ``Var(T_g) = (1 + P_U /
    P_S)^2 Var(T_S) + sum Var(T_model)`` (the regional-rate units are correlated with the
    surveyed ones; the model's are independent of them)."""
    codes, n_groups = grouping.codes, grouping.n
    rr_pop = grouping.sum(np.where(imp.by_rate, pop, 0.0))
    factor = 1.0 + np.divide(rr_pop, sums.pop, out=np.zeros(n_groups), where=rr_pop > 0)
    model_total = grouping.sum(np.where(imp.by_model, total, 0.0))
    model_var = grouping.sum(np.where(imp.by_model, var, 0.0))
    g_surveyed = np.bincount(codes, weights=surveyed.astype(float), minlength=n_groups)
    g_rate_n = np.bincount(codes, weights=imp.by_rate.astype(float), minlength=n_groups)
    g_model_n = np.bincount(codes, weights=imp.by_model.astype(float), minlength=n_groups)
    model_names = sorted({name for name, model in imputers if not isinstance(model, str)})
    return _GroupTotals(
        total=factor * sums.total + model_total,
        var=factor**2 * sums.var + model_var,
        pop=grouping.sum(pop),
        units=np.bincount(codes, minlength=n_groups),
        surveyed=g_surveyed,
        imputed=g_rate_n + g_model_n,
        imputed_pop=grouping.sum(np.where(imp.imputed, pop, 0.0)),
        method=[_group_method(int(g_surveyed[g]), int(g_rate_n[g]), int(g_model_n[g]),
                              float(factor[g]), model_names) for g in range(n_groups)])


def _group_rows(grouping: _Grouping, group: _GroupTotals, ci: str, z: float, per: float,
                rate_col: str) -> pd.DataFrame:
    """The group rows of the table."""
    n_groups = grouping.n
    return _rows("group", grouping.keys, np.full(n_groups, None, dtype=object), group.total,
                 group.var, group.pop, group.units.astype(float), group.surveyed,
                 group.imputed, group.imputed_pop, np.full(n_groups, pd.NA, dtype=object),
                 np.array(group.method, dtype=object), np.full(n_groups, None, dtype=object),
                 ci, z, per, rate_col)


def _world_rows(group_cols: tuple[str, ...], group: _GroupTotals, surveyed: np.ndarray,
                imp: _Imputation, ci: str, z: float, per: float, rate_col: str) -> pd.DataFrame:
    """The world row: the sum of the group totals with the sum of their variances
    (independent groups)."""
    world_method = ("sum of the group totals; Var = sum of the group variances (independent)"
                    if group_cols else group.method[0])
    return _rows("world", pd.DataFrame({g: [None] for g in group_cols}, index=[0]),
                 np.array([None], dtype=object), np.array([group.total.sum()]),
                 np.array([group.var.sum()]), np.array([group.pop.sum()]),
                 np.array([float(len(surveyed))]), np.array([float(surveyed.sum())]),
                 np.array([float(imp.imputed.sum())]), np.array([group.imputed_pop.sum()]),
                 np.array([pd.NA], dtype=object), np.array([world_method], dtype=object),
                 np.array([None], dtype=object), ci, z, per, rate_col)


def _table(parts: list[pd.DataFrame], rate_col: str, unit_rate: np.ndarray) -> pd.DataFrame:
    """The unit, group and world rows in one table; the unit rows carry the unit's own rate (a
    given rate keeps its exact value)."""
    table = pd.concat(parts, ignore_index=True)
    table["imputed"] = table["imputed"].astype("boolean")
    unit_rows = (table["level"] == "unit").to_numpy()
    table.loc[unit_rows, rate_col] = unit_rate
    return table


def _provenance(kind: str, level: float, in_level: float, ci: str, ci_scale: str, per: float,
                imputers: list[tuple[str, Imputer]], imp: _Imputation, surveyed: np.ndarray,
                columns: Mapping[str, Any]) -> dict[str, Any]:
    """What made the numbers: the kind of estimate, the columns, the interval settings, the
    imputation models, the variance assumptions (and what the SE leaves out), the counts of
    units and the flestimate version."""
    return {
        "function": "aggregate",
        "kind": kind,
        "columns": dict(columns),
        "level": level,
        "ci_method": ci,
        "input_ci_level": in_level,
        "ci_scale": ci_scale,
        "per": per,
        "impute": [name for name, _ in imputers],
        "variance": ("independent surveys: Var(sum T_c) = sum Var(T_c); populations are known "
                     "constants; regional-rate imputation scales the surveyed variance by "
                     "(1 + P_u/P_s)^2; model variances are added as independent"),
        "caveat": _NOT_IN_SE if imp.by_rate.any() else "",
        "n_units": len(surveyed),
        "n_surveyed": int(surveyed.sum()),
        "n_imputed": int(imp.imputed.sum()),
        "version": __version__,
    }


def _standard_errors(frame: pd.DataFrame, est: np.ndarray, surveyed: np.ndarray,
                     ids: np.ndarray, se: str | None, ci_low: str | None, ci_high: str | None,
                     z: float, scale: str) -> tuple[np.ndarray, np.ndarray]:
    n = len(frame)
    out = np.full(n, np.nan) if se is None else _numbers(frame, se, "se")
    source = np.full(n, "se", dtype=object)
    source[~surveyed] = None
    bad = surveyed & np.isfinite(out) & (out < 0)
    if bad.any():
        raise DataError(f"column {se!r} (`se`) of `aggregate()` must be >= 0; got "
                        f"{format_values(out[bad])} for unit(s) {_bad(bad, ids)}")
    need = surveyed & ~np.isfinite(out)
    if not need.any():
        return out, source
    if ci_low is None or ci_high is None:
        where = f"column {se!r} (`se`)" if se is not None else "`se` (None)"
        raise DataError(f"unit(s) {_bad(need, ids)} of `aggregate()` have an estimate but no SE "
                        f"in {where} and no CI (`ci_low`, `ci_high`) to derive one from")
    lo = _numbers(frame, ci_low, "ci_low")
    hi = _numbers(frame, ci_high, "ci_high")
    missing = need & ~(np.isfinite(lo) & np.isfinite(hi))
    if missing.any():
        raise DataError(f"unit(s) {_bad(missing, ids)} of `aggregate()` have an estimate but "
                        f"neither an SE nor both CI bounds (columns {ci_low!r}, {ci_high!r})")
    outside = need & ~((lo <= est) & (est <= hi))
    if outside.any():
        raise DataError(f"unit(s) {_bad(outside, ids)} of `aggregate()` have a CI "
                        f"({ci_low!r}, {ci_high!r}) that does not contain the estimate")
    positive = (lo > 0) & (est > 0)
    if scale == "log" and (need & ~positive).any():
        raise DataError(f"`ci_scale='log'` of `aggregate()` needs positive CI bounds; unit(s) "
                        f"{_bad(need & ~positive, ids)} have a bound <= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        width = hi - lo
        lin_asym = np.where(width > 0, np.abs((hi - est) - (est - lo)) / width, 0.0)
        log_width = np.log(hi) - np.log(lo)
        log_asym = np.abs(np.log(hi) + np.log(lo) - 2 * np.log(est)) / log_width
        use_log = need & positive & (
            (scale == "log") | ((scale == "auto") & (width > 0) & (log_asym < lin_asym)))
        se_log = est * log_width / (2 * z)
    se_lin = width / (2 * z)
    out = np.where(need, np.where(use_log, se_log, se_lin), out)
    source[need] = np.where(use_log[need], "CI, log scale", "CI, linear scale")
    source[~surveyed] = None
    return out, source


def _group_label(keys: pd.DataFrame, g: int, cols: Sequence[str]) -> str:
    if not cols:
        return "all units"
    return ", ".join(f"{c}={keys.at[g, c]!s}" for c in cols)


def _group_method(n_surv: int, n_rate: int, n_model: int, factor: float,
                  models: Sequence[str]) -> str:
    text = (f"{n_surv} surveyed unit(s): sum of totals, Var = sum of variances (independent "
            f"surveys)")
    if n_rate:
        text += (f"; {n_rate} unit(s) imputed at the regional rate: surveyed total x "
                 f"(1 + P_u/P_s) = x {factor:.6g}, variance x {factor**2:.6g}; " + _NOT_IN_SE)
    if n_model:
        text += (f"; {n_model} unit(s) imputed by {', '.join(models)}: model variances added "
                 f"(independent)")
    return text


def _rows(level: str, keys: pd.DataFrame, ids: np.ndarray, total: np.ndarray, var: np.ndarray,
          pop: np.ndarray, n_units: np.ndarray, n_surveyed: np.ndarray, n_imputed: np.ndarray,
          imputed_pop: np.ndarray, imputed: np.ndarray, method: np.ndarray,
          se_source: np.ndarray, ci: str, z: float, per: float, rate_col: str) -> pd.DataFrame:
    se = np.sqrt(np.maximum(var, 0.0))
    if ci == "normal":
        low, high = normal_interval(total, se, z)
    else:
        low, high = lognormal_interval(total, se, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(pop > 0, per / pop, np.nan)
        share_imp = np.where(pop > 0, imputed_pop / pop, np.nan)
    out: pd.DataFrame = pd.DataFrame({"level": level}, index=range(len(total)))
    for c in keys.columns:
        out[c] = keys[c].to_numpy(dtype=object)
    out["unit"] = ids
    out["total"] = total
    out["se"] = se
    out["ci_low"] = low
    out["ci_high"] = high
    out[rate_col] = total * scale
    out[f"{rate_col}_se"] = se * scale
    out[f"{rate_col}_ci_low"] = low * scale
    out[f"{rate_col}_ci_high"] = high * scale
    out["population"] = pop
    out["n_units"] = n_units.astype(np.int64)
    out["n_surveyed"] = n_surveyed.astype(np.int64)
    out["n_imputed"] = n_imputed.astype(np.int64)
    out["imputed_population_share"] = share_imp
    out["imputed"] = imputed
    out["method"] = method
    out["se_source"] = se_source
    return out
