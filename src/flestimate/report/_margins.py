"""The tables of one margin: the share and number of persons in every class (with the bounds
from the undetermined and the unweighted cases), the shares of the trafficked and of all in
forced labour by form (a row for every form in every domain), the domain labels, and the 95%
Korn-Graubard interval the reliability rules judge by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate.estimate import shares_and_totals
from flestimate.intervals import confidence_interval
from flestimate.report._common import AMONG, PREFIX, UNIVERSE, log_interval
from flestimate.variance import segment_sum

if TYPE_CHECKING:
    from flestimate.report._frame import Outcomes

__all__ = ["domain_labels", "kg_interval", "margin_tables"]


def _with_bounds(t: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The point rows of an estimators' table of the class columns ``names`` (cell-major),
    the class as ``indicator``, with the estimates and interval ends of its ``__lower`` and
    ``__upper`` bound columns in the same domain (missing without them)."""
    k = len(names)
    n_cells = len(t) // k
    base = [n.removesuffix("__lower").removesuffix("__upper") for n in names]
    kind = ["lower" if n.endswith("__lower") else "upper" if n.endswith("__upper")
            else "point" for n in names]
    at = {(b, kd): j for j, (b, kd) in enumerate(zip(base, kind, strict=True))}
    points = [j for j in range(k) if kind[j] == "point"]
    start = np.arange(n_cells)[:, None] * k
    point = t.iloc[(start + np.array(points, dtype=np.int64)).reshape(-1)]
    columns: dict[str, Any] = {}
    by = list(t.columns[: list(t.columns).index("variable")])
    for c in by:
        columns[c] = point[c].array
    columns["indicator"] = np.tile(np.array([base[j] for j in points], dtype=object), n_cells)
    for c in t.columns[len(by):]:
        columns[c] = point[c].array
    columns["kind"] = "point"
    for name, column, which in (("bound_low", "estimate", "lower"),
                                ("bound_high", "estimate", "upper"),
                                ("bound_ci_low", "ci_low", "lower"),
                                ("bound_ci_high", "ci_high", "upper")):
        j = np.array([at.get((base[p], which), -1) for p in points], dtype=np.int64)
        values = t[column].to_numpy(dtype=np.float64)[(start + np.maximum(j, 0)).reshape(-1)]
        columns[name] = np.where(np.tile(j >= 0, n_cells), values, np.nan)
    out: pd.DataFrame = pd.DataFrame(columns)
    return out


def margin_tables(design: Any, frame: pd.DataFrame, outcomes: Outcomes, by: tuple[str, ...],
            ci: str, level: float, df: float | None, frequencies: str | None = None
            ) -> tuple[list[pd.DataFrame], Mapping[str, Any]]:
    """The share and number tables of every class and the by-form tables of one margin, from
    one pass over the rows (:func:`~flestimate.estimate.shares_and_totals`)."""
    cols = list(outcomes.columns)
    points = [c for c in cols if "__" not in c]
    b = list(by) or None
    within = {f"{PREFIX}form_{among}": subpop for among, subpop in AMONG.values()}
    shares, totals, forms, cell = shares_and_totals(design, cols, by=b, subpop=UNIVERSE,
                                                    ci=ci, level=level, df=df, within=within)
    share = _with_bounds(shares.to_frame(), cols).assign(measure="share", table="prevalence")
    n_cells = len(share) // len(points)
    # A row of zero weight is not a case: n_cases counts the rows that carry weight, as the
    # estimators' n does (a domain whose weights are all 0 has n = n_cases = 0).
    counted = (frame[UNIVERSE].to_numpy(dtype=bool) & (np.asarray(design.weights) > 0)
               & (cell >= 0))
    rows = np.flatnonzero(counted)
    persons = (None if frequencies is None
               else frame[frequencies].to_numpy(dtype=np.float64)[rows])
    indicators = np.empty((rows.size, len(points)))
    for j, c in enumerate(points):
        indicators[:, j] = outcomes.columns[c][rows]
    cases = segment_sum(cell[rows], indicators, n_cells, persons)

    number = totals.to_frame()
    if ci != "wald":  # the total's own interval is Wald
        low, high = log_interval(number["estimate"].to_numpy(), number["se"].to_numpy(),
                                  number["df"].to_numpy(), level)
        number = number.assign(ci_low=low, ci_high=high,
                               flag=np.where(np.isnan(low) & (number["estimate"] == 0),
                                             "zero count: no interval", number["flag"]))
    # A count's n is the domain's persons, as the share's; its n_eff is the share's (the
    # tables have the same domains and classes in the same order).
    number = _with_bounds(number, cols).drop(columns=["n", "n_eff"]).assign(
        n=share["n"].to_numpy(), n_eff=share["n_eff"].to_numpy(), measure="number",
        table="prevalence")
    tables = [t.assign(n_cases=cases.reshape(-1)) for t in (share, number)]

    categorical = all(isinstance(frame[c].dtype, pd.CategoricalDtype) for c in by)
    for name, (among, subpop) in AMONG.items():
        form_col = f"{PREFIX}form_{among}"
        t = forms[form_col].to_frame()
        t = t.assign(indicator=t["category"].astype(str), measure="share", table=name)
        t["n_cases"] = _form_cases(frame, form_col, subpop, cell, counted, n_cells,
                                   frequencies)
        if by and not categorical:
            t = _every_domain(t, frame[subpop].to_numpy(dtype=bool) & (cell >= 0), cell,
                              n_cells)
        tables.append(t)
    return tables, shares.provenance


def _form_cases(frame: pd.DataFrame, form_col: str, subpop: str, cell: np.ndarray,
                counted: np.ndarray, n_cells: int, frequencies: str | None) -> np.ndarray:
    """Unweighted cases of every form in every domain (cell-major, as the estimates), missing
    where the domain has no case of the form."""
    forms = frame[form_col]
    if isinstance(forms.dtype, pd.CategoricalDtype):
        codes, n_forms = forms.cat.codes.to_numpy().astype(np.int64), len(forms.cat.categories)
    else:  # the estimators' categories: the values sorted
        codes, uniq = pd.factorize(forms, sort=True)
        n_forms = len(uniq)
    rows = counted & frame[subpop].to_numpy(dtype=bool) & (codes >= 0)
    key = cell[rows] * n_forms + codes[rows]
    size = n_cells * n_forms
    found = np.bincount(key, minlength=size)
    persons = (found.astype(np.float64) if frequencies is None else np.bincount(
        key, weights=frame[frequencies].to_numpy(dtype=np.float64)[rows], minlength=size))
    return np.where(found > 0, persons, np.nan)


def _every_domain(t: pd.DataFrame, inner: np.ndarray, cell: np.ndarray,
                  n_cells: int) -> pd.DataFrame:
    """The shares by form with a row for every form in every domain of the margin.

    The domains of a share among a class are those where the class has a row; a domain
    without one (every domain, in a survey without a case of the class) gets the rows of an
    empty domain after the others, as the national table does, so that every margin's table
    has its domains.
    """
    have = np.bincount(cell[inner], minlength=n_cells) > 0
    if have.all():
        return t
    n_forms = len(t) // n_cells
    rows_have = np.repeat(have, n_forms)
    out: pd.DataFrame = pd.concat([t[rows_have], t[~rows_have]], ignore_index=True)
    empty = np.arange(len(out)) >= int(rows_have.sum())
    for col, value in (("estimate", np.nan), ("se", np.nan), ("ci_low", np.nan),
                       ("ci_high", np.nan), ("cv", np.nan), ("deff", np.nan),
                       ("deff_wr", np.nan), ("n", 0), ("n_eff", 0.0), ("df", 0.0),
                       ("n_missing", 0), ("flag", "empty domain"), ("n_cases", np.nan)):
        out.loc[empty, col] = value
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
