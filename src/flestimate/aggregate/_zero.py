"""Shares of 0 in a breakdown: the one-sided Korn-Graubard interval that the estimators give a
share of 0, at the sample cases and design df summed over the surveys of the row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from flestimate.intervals import confidence_interval

__all__ = ["NO_CASES_FLAG", "zero_intervals"]

#: The flag of a 0 with SE 0 whose interval cannot be computed (a number of persons, or a
#: share whose inputs carry no sample cases or df).
NO_CASES_FLAG = ("0 with SE 0 (no sample cases): no upper end from the SE; see the country "
                 "reports' one-sided intervals")
#: The class each share is taken of, by table.
_CLASS = {"forced_labour_by_form": "forced_labour", "trafficked_by_form": "trafficked",
          "by_region": "forced_labour", "trafficked_by_region": "trafficked"}


def zero_intervals(table: pd.DataFrame, numbers: Mapping[str, pd.DataFrame],
                   by_form: Mapping[str, Mapping[str, pd.DataFrame]], ids: Sequence[str],
                   level: float, keep: str) -> pd.DataFrame:
    """The intervals of the estimates of 0 with SE 0 (no sample case), except those that keep
    their report's interval (``method == keep``).

    A share gets the one-sided Korn-Graubard interval of ``p = 0`` (``[0, U]``, flag
    ``"p=0: one-sided interval (NCHS)"``), as :func:`flestimate.intervals.confidence_interval`
    gives it in a country's report: ``U = 1 - (alpha / 2)^(1 / n*)``, ``n* = n (t_{n-1} /
    t_df)^2`` capped at ``n``, with ``n`` the sample cases of the class the share is taken of
    and ``df`` the design df, both summed over the row's surveys (its country, the countries
    of its region, or all of them; for a region's share of the total, all of them). A number of
    persons, or a share whose inputs carry no ``n`` or ``df``, gets ``[0, NaN]`` and the flag
    :data:`NO_CASES_FLAG`.

    Notes
    -----
    Summing the surveys' df is the df of the pooled stratified design (strata and PSUs add
    up), as :func:`~flestimate.report.pool_reports` would count them. Korn, E. L. and
    Graubard, B. I. (1998). Confidence intervals for proportions with small expected number of
    positive counts estimated from survey data. *Survey Methodology* 24, 193-201.
    """
    out: pd.DataFrame = table.copy()
    zero = ((out["estimate"] == 0) & (out["se"] == 0) & (out["method"] != keep)).to_numpy()
    out.loc[zero, "ci_low"] = 0.0
    out.loc[zero, "ci_high"] = np.nan
    out.loc[zero, "ci_flag"] = NO_CASES_FLAG
    rows = np.flatnonzero(zero & (out["quantity"] == "share").to_numpy()
                          & out["table"].isin(list(_CLASS)).to_numpy())
    if not len(rows):
        return out
    units = _row_units(out, ids)
    n = np.full(len(rows), np.nan)
    df = np.full(len(rows), np.nan)
    for k, i in enumerate(rows):
        tab, comp = str(out.at[i, "table"]), str(out.at[i, "component"])
        scope = ids if tab in ("by_region", "trafficked_by_region") else units[i]
        n[k], df[k] = _cases_and_df(tab, comp, scope, numbers, by_form)
    ok = np.isfinite(n) & (n > 0) & np.isfinite(df) & (df > 0)
    if not ok.any():
        return out
    _, high, flag = confidence_interval("korn-graubard", np.zeros(int(ok.sum())),
                                        np.zeros(int(ok.sum())), df[ok], n[ok], level)
    at = rows[ok]
    out.loc[at, "ci_high"] = high
    out.loc[at, "ci_flag"] = flag
    out.loc[at, "method"] = [
        f"{m}; p = 0: one-sided Korn-Graubard interval at n = {c:,.0f} sample cases "
        f"({_CLASS[str(t)].replace('_', ' ')}) and df = {d:.4g}, summed over the surveys"
        for m, t, c, d in zip(out.loc[at, "method"], out.loc[at, "table"], n[ok], df[ok],
                              strict=True)]
    return out


def _row_units(table: pd.DataFrame, ids: Sequence[str]) -> list[Sequence[str]]:
    """The surveys behind each row: its country, the countries of its region, or all."""
    country = table[table["level"] == "country"].drop_duplicates("unit")
    members = {str(r): [str(u) for u in g["unit"]]
               for r, g in country.groupby(country["region"].astype(str), sort=False)}
    out: list[Sequence[str]] = []
    for lvl, unit, region in zip(table["level"], table["unit"], table["region"], strict=True):
        if lvl == "country":
            out.append([str(unit)])
        elif lvl == "region":
            out.append(members.get(str(region), []))
        else:
            out.append(list(ids))
    return out


def _cases_and_df(tab: str, comp: str, scope: Sequence[str],
                  numbers: Mapping[str, pd.DataFrame],
                  by_form: Mapping[str, Mapping[str, pd.DataFrame]]) -> tuple[float, float]:
    """The sample cases of the class a share is taken of and the design df, summed over
    ``scope``: a by-form share's own ``n`` and ``df`` (its domain is the class) where the
    report gives them, else the class's ``n_cases`` and ``df`` in the prevalence table."""
    among = _CLASS[tab]
    n = df = 0.0
    for u in scope:
        cell = by_form.get(u, {}).get(tab)
        if cell is not None and {"n", "df"} <= set(cell.columns) and comp in cell.index:
            n_u, df_u = _number(cell, comp, "n"), _number(cell, comp, "df")
        else:
            n_u, df_u = _number(numbers[u], among, "n_cases"), _number(numbers[u], among, "df")
        if n_u == 0 and not np.isfinite(df_u):
            continue  # no one of the class in this survey: nothing to add
        n += n_u
        df += df_u
    return n, df


def _number(frame: pd.DataFrame, row: str, col: str) -> float:
    """``frame.at[row, col]`` as a float; NaN where the column is absent."""
    if col not in frame.columns:
        return float("nan")
    return float(pd.to_numeric(frame[col], errors="coerce").loc[row])
