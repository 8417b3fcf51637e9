"""The tables of one margin: the share and number of persons in every class (with the bounds
from the undetermined and the unweighted cases), the shares of the trafficked and of all in
forced labour by form (a row for every form in every domain), the domain labels, and the 95%
Korn-Graubard interval the reliability rules judge by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate.estimate import proportion, total
from flestimate.intervals import confidence_interval
from flestimate.report._common import AMONG, PREFIX, UNIVERSE, log_interval

if TYPE_CHECKING:
    from flestimate.report._frame import Outcomes

__all__ = ["domain_labels", "kg_interval", "margin_tables"]


def _split_variable(t: pd.DataFrame) -> pd.DataFrame:
    var = t["variable"].astype(str)
    out: pd.DataFrame = t.assign(
        indicator=var.str.replace(r"__(lower|upper)$", "", regex=True),
        kind=np.select([var.str.endswith("__lower"), var.str.endswith("__upper")],
                       ["lower", "upper"], "point"))
    return out


def _with_bounds(t: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Point rows with the estimates and interval ends of their lower and upper bound rows."""
    point = t[t["kind"] == "point"].set_index(keys)
    lower = t[t["kind"] == "lower"].set_index(keys).reindex(point.index)
    upper = t[t["kind"] == "upper"].set_index(keys).reindex(point.index)
    point = point.assign(bound_low=lower["estimate"], bound_high=upper["estimate"],
                         bound_ci_low=lower["ci_low"], bound_ci_high=upper["ci_high"])
    out: pd.DataFrame = point.reset_index()
    return out


def _counts(frame: pd.DataFrame, cols: list[str], by: tuple[str, ...],
            frequencies: str | None) -> pd.DataFrame:
    """Unweighted number of cases of each column (tidy: by..., indicator, n_cases)."""
    if frequencies is not None:
        frame = frame[cols].mul(frame[frequencies], axis=0).join(frame[list(by)])
    if by:
        sums = frame.groupby(list(by), dropna=True, sort=False, observed=True)[cols].sum()
        long: pd.DataFrame = sums.reset_index().melt(id_vars=list(by), var_name="indicator",
                                                     value_name="n_cases")
        return long
    flat: pd.DataFrame = pd.DataFrame({"indicator": cols,
                                       "n_cases": frame[cols].sum().to_numpy()})
    return flat


def margin_tables(design: Any, frame: pd.DataFrame, outcomes: Outcomes, by: tuple[str, ...],
            ci: str, level: float, df: float | None, frequencies: str | None = None
            ) -> tuple[list[pd.DataFrame], Mapping[str, Any]]:
    cols = list(outcomes.columns)
    points = [c for c in cols if "__" not in c]
    b = list(by) or None
    keys = [*by, "indicator"]
    # A row of zero weight is not a case: n_cases counts the rows that carry weight, as the
    # estimators' n does (a domain whose weights are all 0 has n = n_cases = 0).
    in_universe = frame.loc[frame[UNIVERSE].to_numpy() & (np.asarray(design.weights) > 0)]
    counts = _counts(in_universe, points, by, frequencies)

    shares = proportion(design, cols, by=b, subpop=UNIVERSE, ci=ci, level=level, df=df,
                        covmat=None)
    share = _split_variable(shares.to_frame())
    share = _with_bounds(share, keys).assign(measure="share", table="prevalence")

    number = _split_variable(total(design, cols, by=b, subpop=UNIVERSE, level=level,
                                   df=df, covmat=None).to_frame())
    if ci != "wald":  # the total's own interval is Wald
        low, high = log_interval(number["estimate"].to_numpy(), number["se"].to_numpy(),
                                  number["df"].to_numpy(), level)
        number = number.assign(ci_low=low, ci_high=high,
                               flag=np.where(np.isnan(low) & (number["estimate"] == 0),
                                             "zero count: no interval", number["flag"]))
    number = _with_bounds(number, keys).assign(measure="number", table="prevalence")
    # A count's n is the domain's persons, as the share's; its n_eff is the share's.
    number = number.drop(columns=["n", "n_eff"]).merge(
        share[[*keys, "n", "n_eff"]], on=keys, how="left")
    tables = [share, number]

    for name, (among, subpop) in AMONG.items():
        form_col = f"{PREFIX}form_{among}"
        t = proportion(design, form_col, by=b, subpop=subpop, ci=ci, level=level,
                       df=df, covmat=None).to_frame()
        t = _every_domain(t, share[list(by)].drop_duplicates(), frame[form_col]) if by else t
        t = t.assign(indicator=t["category"].astype(str), measure="share", table=name)
        cases = in_universe.loc[in_universe[subpop]]
        groups = cases.groupby([*by, form_col], observed=True, sort=False)
        n_cases = ((groups.size() if frequencies is None else groups[frequencies].sum())
                   .rename("n_cases").reset_index().rename(columns={form_col: "indicator"}))
        n_cases["indicator"] = n_cases["indicator"].astype(str)
        tables.append(t.merge(n_cases, on=keys, how="left"))
    out = [t.merge(counts, on=keys, how="left") for t in tables[:2]] + tables[2:]
    return out, shares.provenance


def _every_domain(t: pd.DataFrame, domains: pd.DataFrame, forms: pd.Series) -> pd.DataFrame:
    """The shares by form with a row for every form in every domain of the margin.

    The domains of a share among a class are those where the class has a case; a domain
    without one (every domain, in a survey without a case of the class) gets the rows of an
    empty domain, as the national table does, so that every margin's table has its domains.
    """
    by = list(domains.columns)
    have = t[by].drop_duplicates()
    missing = domains.merge(have, on=by, how="left", indicator=True)
    missing = missing.loc[missing["_merge"] == "left_only", by]
    if missing.empty:
        return t
    categories = (list(forms.cat.categories) if isinstance(forms.dtype, pd.CategoricalDtype)
                  else list(pd.unique(forms.dropna())))
    rows = missing.merge(pd.DataFrame({"category": categories}), how="cross")
    empty = rows.assign(variable=forms.name, estimate=np.nan, se=np.nan, ci_low=np.nan,
                        ci_high=np.nan, cv=np.nan, deff=np.nan, deff_wr=np.nan, n=0,
                        n_eff=0.0, df=0.0, n_missing=0, flag="empty domain")
    empty = empty[[c for c in t.columns if c in empty.columns]]
    if isinstance(forms.dtype, pd.CategoricalDtype) and "category" in t.columns:
        empty["category"] = pd.Categorical(empty["category"], categories=categories)
    for c in by:  # the domain columns keep their dtype (categorical, string, number)
        empty[c] = empty[c].astype(domains[c].dtype)
    out: pd.DataFrame = pd.concat([t, empty] if len(t) else [empty], ignore_index=True)
    return out


def kg_interval(table: pd.DataFrame, ci: str, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The 95% Korn-Graubard interval the NCHS standards judge shares by (the interval of the
    count for numbers), whatever interval was asked for the table."""
    low = table["ci_low"].to_numpy(dtype=float).copy()
    high = table["ci_high"].to_numpy(dtype=float).copy()
    shares = (table["measure"] == "share").to_numpy()
    if ci != "korn-graubard" or level != 0.95:
        s = table.loc[shares]
        kg_low, kg_high, _ = confidence_interval(
            "korn-graubard", s["estimate"].to_numpy(float), s["se"].to_numpy(float),
            s["df"].to_numpy(float), s["n"].to_numpy(float), 0.95)
        low[shares], high[shares] = kg_low, kg_high
        if level != 0.95 or ci == "wald":
            num = table.loc[~shares]
            low[~shares], high[~shares] = log_interval(
                num["estimate"].to_numpy(float), num["se"].to_numpy(float),
                num["df"].to_numpy(float), 0.95)
    return low, high


def domain_labels(table: pd.DataFrame, margin: tuple[str, ...]) -> pd.Series:
    if not margin:
        return pd.Series("all", index=table.index)
    parts = [table[c].astype(str) for c in margin]
    label = parts[0]
    for p in parts[1:]:
        label = label + " / " + p
    return label
