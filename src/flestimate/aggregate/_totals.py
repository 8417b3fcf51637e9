"""Regional and world totals from national estimates of independent surveys, with imputation of
the units (countries) without a survey from a named model."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd

from flestimate._checks import check_level
from flestimate._version import __version__
from flestimate.aggregate._shares import (
    lognormal_interval,
    normal_interval,
    z_quantile,
)
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, format_values
from flestimate.results import format_count, format_percent, freeze, new_axes, thaw

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["AGGREGATE_CI_METHODS", "LEVELS", "Aggregate", "aggregate"]

#: Interval methods for totals: ``normal`` (``T -/+ z se``) and ``lognormal``
#: (``T exp(-/+ z se / T)``).
AGGREGATE_CI_METHODS: tuple[str, ...] = ("normal", "lognormal")
#: Values of the ``level`` column of :meth:`Aggregate.to_frame`.
LEVELS: tuple[str, ...] = ("unit", "group", "world")
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

    References
    ----------
    Cochran, W. G. (1977). *Sampling Techniques*, 3rd ed., Wiley, sec. 5.2 (stratified
    totals: independent strata). ILO, Walk Free and IOM (2022). *Global Estimates of Modern
    Slavery: Forced Labour and Forced Marriage*, methodology annex (regional imputation of
    countries without a survey).
    """
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
    _columns(estimates, {"value": value, "se": se, "ci_low": ci_low, "ci_high": ci_high,
                         "population": population, "unit": unit,
                         **{f"groups[{i}]": g for i, g in enumerate(group_cols)}})
    if unit in group_cols:
        raise ArgumentError(f"`unit` of `aggregate()` ({unit!r}) cannot also be a group column")
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
    n = len(frame)
    if n == 0:
        raise DataError("`estimates` of `aggregate()` has no rows")
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
    est_se, se_source = _standard_errors(frame, est, surveyed, ids, se, ci_low, ci_high,
                                         z_quantile(in_level), ci_scale)

    # totals and rates of the surveyed units
    if kind == "rate":
        total = pop * est
        var = pop**2 * est_se**2
    else:
        total = est.copy()
        var = est_se**2

    # group codes, in order of first appearance
    if group_cols:
        codes = frame.groupby(list(group_cols), sort=False).ngroup().to_numpy()
        keys = frame[list(group_cols)].drop_duplicates().reset_index(drop=True)
    else:
        codes = np.zeros(n, dtype=np.int64)
        keys = pd.DataFrame(index=[0])
    n_groups = len(keys)

    def gsum(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.bincount(codes, weights=x, minlength=n_groups)
        return out

    surv_total = gsum(np.where(surveyed, total, 0.0))
    surv_var = gsum(np.where(surveyed, var, 0.0))
    surv_pop = gsum(np.where(surveyed, pop, 0.0))
    labels = [_group_label(keys, g, group_cols) for g in range(n_groups)]

    # imputation
    imputers = _imputers(impute, impute_name)
    method = np.array([f"survey{'' if s == 'se' else f' (SE from the {s})'}" if ok else ""
                       for s, ok in zip(se_source, surveyed, strict=True)], dtype=object)
    by_rate = np.zeros(n, dtype=bool)
    by_model = np.zeros(n, dtype=bool)
    todo = ~surveyed
    if todo.any():
        if not imputers:
            raise DataError(f"unit(s) {_bad(todo, ids)} of `aggregate()` have no estimate (column "
                            f"{value!r}); pass `impute=` ('regional_rate' or a model) or drop "
                            f"them")
        if population is None:
            raise ArgumentError("`population` of `aggregate()` is needed to impute units "
                                "without a survey")
    model_rate = np.full(n, np.nan)
    model_se = np.full(n, np.nan)
    for name, imp in imputers:
        if not todo.any():
            break
        if isinstance(imp, str):
            covered = todo & (surv_pop[codes] > 0)
            by_rate |= covered
            for i in np.flatnonzero(covered):
                method[i] = f"imputed: {name} of {labels[codes[i]]}"
        else:
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
            where = np.flatnonzero(todo)[ok]
            model_rate[where], model_se[where] = rate_i[ok], se_i[ok]
            covered = np.zeros(n, dtype=bool)
            covered[where] = True
            by_model |= covered
            method[covered] = f"imputed: {name}"
        todo = todo & ~covered
    if todo.any():
        empty = sorted({labels[c] for c in codes[todo]})
        rr = any(isinstance(imp, str) for _, imp in imputers)
        why = (f"group(s) {', '.join(empty)} have no surveyed unit, so 'regional_rate' cannot "
               f"impute them" if rr else "no imputation model covers them")
        raise DataError(f"unit(s) {_bad(todo, ids)} of `aggregate()` have no estimate and {why};"
                        f" give a model (impute=DataFrame or callable) for them")

    rate_g = np.divide(surv_total, surv_pop, out=np.full(n_groups, np.nan),
                       where=surv_pop > 0)
    var_rate_g = np.divide(surv_var, surv_pop**2, out=np.full(n_groups, np.nan),
                           where=surv_pop > 0)
    total = np.where(by_rate, pop * rate_g[codes], total)
    var = np.where(by_rate, pop**2 * var_rate_g[codes], var)
    total = np.where(by_model, pop * model_rate, total)
    var = np.where(by_model, pop**2 * model_se**2, var)
    unit_rate = np.where(surveyed & (kind == "rate"), est, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit_rate = np.where(np.isfinite(unit_rate), unit_rate, total / pop)

    rr_pop = gsum(np.where(by_rate, pop, 0.0))
    factor = 1.0 + np.divide(rr_pop, surv_pop, out=np.zeros(n_groups), where=rr_pop > 0)
    model_total = gsum(np.where(by_model, total, 0.0))
    model_var = gsum(np.where(by_model, var, 0.0))
    g_total = factor * surv_total + model_total
    g_var = factor**2 * surv_var + model_var
    g_pop = gsum(pop)
    imputed = by_rate | by_model
    g_units = np.bincount(codes, minlength=n_groups)
    g_surveyed = np.bincount(codes, weights=surveyed.astype(float), minlength=n_groups)
    g_imp_pop = gsum(np.where(imputed, pop, 0.0))
    g_rate_n = np.bincount(codes, weights=by_rate.astype(float), minlength=n_groups)
    g_model_n = np.bincount(codes, weights=by_model.astype(float), minlength=n_groups)
    model_names = sorted({name for name, imp in imputers if not isinstance(imp, str)})
    g_method = [_group_method(int(g_surveyed[g]), int(g_rate_n[g]), int(g_model_n[g]),
                              float(factor[g]), model_names) for g in range(n_groups)]

    z = z_quantile(level)
    rate_col = f"rate_per_{per:g}"
    n_surveyed = int(surveyed.sum())
    world_method = ("sum of the group totals; Var = sum of the group variances (independent)"
                    if group_cols else g_method[0])
    parts = [
        _rows("unit", frame[list(group_cols)], ids, total, var, pop, np.ones(n),
              surveyed.astype(float), imputed.astype(float), np.where(imputed, pop, 0.0),
              imputed, method, se_source, ci, z, per, rate_col),
    ]
    if group_cols:
        parts.append(_rows("group", keys, np.full(n_groups, None, dtype=object), g_total, g_var,
                           g_pop, g_units.astype(float), g_surveyed, g_rate_n + g_model_n,
                           g_imp_pop, np.full(n_groups, pd.NA, dtype=object),
                           np.array(g_method, dtype=object),
                           np.full(n_groups, None, dtype=object), ci, z, per, rate_col))
    parts.append(_rows("world", pd.DataFrame({g: [None] for g in group_cols}, index=[0]),
                       np.array([None], dtype=object), np.array([g_total.sum()]),
                       np.array([g_var.sum()]), np.array([g_pop.sum()]), np.array([float(n)]),
                       np.array([float(n_surveyed)]), np.array([float(imputed.sum())]),
                       np.array([g_imp_pop.sum()]), np.array([pd.NA], dtype=object),
                       np.array([world_method], dtype=object), np.array([None], dtype=object),
                       ci, z, per, rate_col))
    table = pd.concat(parts, ignore_index=True)
    table["imputed"] = table["imputed"].astype("boolean")
    # unit rows: the rate is the unit's own (a given rate keeps its exact value)
    unit_rows = (table["level"] == "unit").to_numpy()
    table.loc[unit_rows, rate_col] = per * unit_rate
    provenance = {
        "function": "aggregate",
        "kind": kind,
        "columns": {"value": value, "se": se, "ci_low": ci_low, "ci_high": ci_high,
                    "population": population, "unit": unit, "groups": list(group_cols)},
        "level": level,
        "ci_method": ci,
        "input_ci_level": in_level,
        "ci_scale": ci_scale,
        "per": per,
        "impute": [name for name, _ in imputers],
        "variance": ("independent surveys: Var(sum T_c) = sum Var(T_c); populations are known "
                     "constants; regional-rate imputation scales the surveyed variance by "
                     "(1 + P_u/P_s)^2; model variances are added as independent"),
        "caveat": _NOT_IN_SE if by_rate.any() else "",
        "n_units": n,
        "n_surveyed": n_surveyed,
        "n_imputed": int(imputed.sum()),
        "version": __version__,
    }
    return Aggregate(table, provenance, group_cols)


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


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return ""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.4g}"


class Aggregate:
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

    __slots__ = ("_frozen", "_table", "groups", "provenance")
    _table: pd.DataFrame
    groups: tuple[str, ...]
    provenance: Mapping[str, Any]

    def __init__(self, table: pd.DataFrame, provenance: Mapping[str, Any],
                 groups: Sequence[str]) -> None:
        object.__setattr__(self, "_table", table.copy())
        object.__setattr__(self, "provenance", freeze(dict(provenance)))
        object.__setattr__(self, "groups", tuple(groups))
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Aggregate is immutable; call aggregate() again")

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

    def to_dict(self) -> dict[str, Any]:
        """Table records and provenance as plain Python objects."""
        t = self._table.astype(object).where(self._table.notna(), None)
        records = [{str(k): (v.item() if isinstance(v, np.generic) else v)
                    for k, v in rec.items()} for rec in t.to_dict(orient="records")]
        return {"estimates": records, "provenance": thaw(self.provenance)}

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
