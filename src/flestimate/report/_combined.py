"""The estimates of the completed data sets combined by Rubin's rules: each margin's shares,
numbers and shares by form over the M completions, their mean cases, and the flags of
domains that only imputation fills."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from flestimate._format import label_text
from flestimate.classification._rules import FORMS
from flestimate.errors import FlestimateWarning
from flestimate.estimate import (
    Completed,
    estimate_completed,
    shares_and_totals_completed,
    shares_completed_where_valued,
)
from flestimate.impute import rubin
from flestimate.intervals import confidence_interval
from flestimate.report._common import AMONG, NR_WEIGHT, PREFIX, UNIVERSE, log_interval, t_quantile
from flestimate.report._compare import COMPARED, pair_differences
from flestimate.report._imputed import POINTS, Imputed

__all__ = ["differences_imputed", "imputation_flags", "imputed_frame", "margin_imputed"]


def _mi_name(name: str) -> str:
    return f"{PREFIX}mi_{name}"


def imputed_frame(frame: pd.DataFrame, imp: Imputed, weights: str) -> pd.DataFrame:
    """The estimation frame with one column per class (its value outside the completed rows),
    the form of the persons in each class (a category, missing outside the class), and the
    weights after the unit non-response adjustment."""
    cols: dict[str, Any] = {}
    for name in POINTS:
        cols[_mi_name(name)] = imp.points[name][0]
    for among, codes in imp.forms.items():
        cols[_mi_name(f"form_{among}")] = pd.Categorical.from_codes(
            codes[0].astype(np.int64), categories=pd.Index(FORMS))
    w = frame[weights].to_numpy(dtype=float)
    cols[NR_WEIGHT] = imp.weights(w)
    out: pd.DataFrame = pd.concat([frame, pd.DataFrame(cols, index=frame.index)], axis=1)
    return out


def _completions(imp: Imputed) -> tuple[list[Completed], dict[str, Completed]]:
    """Every class's and form's completions: their values on the completed rows."""
    rows = np.asarray(imp.completed_rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    at = rows[order]
    # "undetermined" keeps the classified share (what the completions had to decide)
    points = [Completed(_mi_name(name), at, imp.points[name][:, at].astype(np.float64))
              for name in POINTS if name != "undetermined"]
    forms = {among: Completed(_mi_name(f"form_{among}"), at, codes[:, at].astype(np.int64))
             for among, codes in imp.forms.items()}
    return points, forms


def _combine(t: pd.DataFrame, keys: list[str], m: int) -> pd.DataFrame:
    """Rubin's rules over the completions of every (domain, indicator) of a tidy table whose
    ``imputation`` column numbers the completions."""
    t = t.sort_values([*keys, "imputation"], kind="stable")
    shape = (-1, m)
    est = t["estimate"].to_numpy(float).reshape(shape).T
    se = t["se"].to_numpy(float).reshape(shape).T
    dfc = t["df"].to_numpy(float).reshape(shape).T
    comb = rubin(np.nan_to_num(est), np.nan_to_num(se) ** 2, dfc.min(axis=0))
    first = t.iloc[::m][keys].reset_index(drop=True)
    deff = t["deff"].to_numpy(float).reshape(shape).T
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a row without any design effect
        vsrs = np.nanmean(np.where(deff > 0, se ** 2 / deff, np.nan), axis=0)
    empty = np.isnan(est).all(axis=0)
    out = first.assign(
        estimate=np.where(empty, np.nan, comb.estimate),
        se=np.where(empty, np.nan, comb.se), df=comb.df, fmi=comb.fmi,
        imputations=m, n=np.rint(t["n"].to_numpy(float).reshape(shape).T.mean(axis=0)),
        deff=comb.variance / vsrs)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cv"] = out["se"] / out["estimate"].abs()
    combined: pd.DataFrame = out
    return combined


def margin_imputed(design: Any, frame: pd.DataFrame, imp: Imputed, by: tuple[str, ...],
                    ci: str, level: float, df: float | None) -> list[pd.DataFrame]:
    """The multiple-imputation estimates of one margin: the shares and numbers of every class
    and the shares by form, each completion estimated with the design (all completions in one
    call per estimator) and combined by Rubin's rules."""
    m = imp.imputations
    b = list(by) or None
    keys = [*by, "indicator"]
    points, form_points = _completions(imp)

    def split(t: pd.DataFrame) -> pd.DataFrame:
        var = t["variable"].astype(str).str.slice(len(PREFIX) + 3)
        parts = var.str.rsplit("@", n=1, expand=True)
        out: pd.DataFrame = t.assign(indicator=parts[0], imputation=parts[1].astype(int))
        return out

    with warnings.catch_warnings():
        # a completion's form column is missing outside its class: that is its domain
        warnings.simplefilter("ignore", FlestimateWarning)
        shares, totals = shares_and_totals_completed(design, points, by=b, subpop=UNIVERSE,
                                                     ci=ci, level=level, df=df)
        share, number = split(shares.to_frame()), split(totals.to_frame())
        # both forms' completions at once, over the rows where some completion has a form
        both = shares_completed_where_valued(design, list(form_points.values()), by=b,
                                             subpop=UNIVERSE, ci=ci, level=level,
                                             df=df).to_frame()
        variable = both["variable"].astype(str)
        forms = {among: both[variable.str.startswith(f"{comp.name}@").to_numpy()]
                 .reset_index(drop=True) for among, comp in form_points.items()}
    sh = _share_intervals(_combine(share, keys, m), ci, level).assign(table="prevalence")
    nb = _combine(number, keys, m)
    if ci == "wald":
        t = t_quantile(level, nb["df"].to_numpy(float))
        low = nb["estimate"] - t * nb["se"]
        high = nb["estimate"] + t * nb["se"]
        nflag = np.full(len(nb), None, dtype=object)
    else:
        low, high = log_interval(nb["estimate"].to_numpy(float), nb["se"].to_numpy(float),
                                  nb["df"].to_numpy(float), level)
        nflag = np.full(len(nb), None, dtype=object)
        nflag[np.isnan(low) & (nb["estimate"] == 0).to_numpy()] = "zero count: no interval"
    nb = nb.assign(ci_low=low, ci_high=high, flag=nflag, measure="number", table="prevalence")
    nb = nb.drop(columns=["n"]).merge(sh[[*keys, "n", "n_eff"]], on=keys, how="left")
    rows = np.flatnonzero(frame[UNIVERSE].to_numpy(dtype=bool))
    codes, cells = _domain_codes(frame, by, rows)
    cases, form_cases = _mean_cases(imp, codes, cells, rows, imp.respondent[rows])
    tables = [t.merge(cases, on=keys, how="left") for t in (sh, nb)]
    for name, (among, _) in AMONG.items():
        ft = forms[among]
        ft = ft.assign(indicator=ft["category"].astype(str),
                       imputation=ft["variable"].astype(str).str.rsplit("@", n=1).str[1]
                       .astype(int))
        comb = _share_intervals(_combine(ft, keys, m), ci, level).assign(table=name)
        tables.append(comb.merge(form_cases[among],
                                 on=keys, how="left"))
    observed = _observed_domains(imp, by, codes, cells, rows)
    return [t.merge(observed, on=list(by), how="left") if by else
            t.assign(every_case_imputed=bool(observed)) for t in tables]


def _domain_codes(frame: pd.DataFrame, by: tuple[str, ...], rows: np.ndarray
                  ) -> tuple[np.ndarray, pd.DataFrame]:
    """The domain cell of each of ``rows`` (-1 where a domain value is missing) and the
    cells' labels."""
    if not by:
        return np.zeros(rows.size, dtype=np.int64), pd.DataFrame(index=[0])
    sub = frame.loc[frame.index[rows], list(by)]
    ok = sub.notna().all(axis=1).to_numpy()
    cells = sub[ok].drop_duplicates()
    codes = np.full(rows.size, -1, dtype=np.int64)
    idx = pd.MultiIndex.from_frame(cells) if len(by) > 1 else pd.Index(cells[by[0]])
    key = (pd.MultiIndex.from_frame(sub[ok]) if len(by) > 1 else pd.Index(sub.loc[ok, by[0]]))
    codes[ok] = idx.get_indexer(key)
    return codes, cells.reset_index(drop=True)


def _share_intervals(combined: pd.DataFrame, ci: str, level: float) -> pd.DataFrame:
    """Combined shares with their interval of method ``ci`` on Rubin's variance and df, and
    the effective sample size ``p (1 - p) / T`` (``n`` at p = 0 or 1)."""
    p, se = combined["estimate"].to_numpy(float), combined["se"].to_numpy(float)
    n = combined["n"].to_numpy(float)
    low, high, flag = confidence_interval(ci, p, se, combined["df"].to_numpy(float), n, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where((p > 0) & (p < 1), p * (1 - p) / se ** 2, n)
    out: pd.DataFrame = combined.assign(ci_low=low, ci_high=high, flag=flag, n_eff=n_eff,
                                        measure="share")
    return out


def _mean_cases(imp: Imputed, codes: np.ndarray, cells: pd.DataFrame, rows: np.ndarray,
                counted: np.ndarray) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Unweighted cases of each class, and of each form among the persons of a class,
    averaged over the completions and rounded: one table of classes, one per ``among``. A
    cell that some completion gives a case counts at least one (never 0 beside a positive
    share), so disclosure control treats it as the small cell it is."""
    at = np.asarray(imp.completed_rows, dtype=np.int64)
    pos = np.searchsorted(rows, at).clip(max=max(rows.size - 1, 0))
    hit = rows[pos] == at if rows.size else np.zeros(at.size, dtype=bool)
    at, pos = at[hit], pos[hit]  # the completed rows among ``rows``, and where they are
    ok = (codes >= 0) & counted
    n_cells = len(cells)

    def counts(first: np.ndarray, completed: np.ndarray) -> np.ndarray:
        """``first``: the first completion on ``rows``; ``completed``: every completion on
        the completed rows (the others are the same in every completion)."""
        mean = first.astype(np.float64)
        if at.size:
            mean[pos] = completed.mean(axis=0)
        total = np.bincount(codes[ok], weights=mean[ok], minlength=n_cells)
        return np.where(total > 0, np.maximum(np.rint(total), 1), 0).astype(np.int64)

    points = pd.concat([cells.assign(indicator=name, n_cases=counts(
        imp.points[name][0, rows], imp.points[name][:, at])) for name in POINTS],
        ignore_index=True)
    forms = {among: pd.concat([cells.assign(indicator=f, n_cases=counts(
        first == i, completed == i)) for i, f in enumerate(FORMS)], ignore_index=True)
             for among, code in imp.forms.items()
             for first, completed in [(code[0, rows], code[:, at])]}
    return points, forms


def _observed_domains(imp: Imputed, by: tuple[str, ...], codes: np.ndarray,
                      cells: pd.DataFrame, rows: np.ndarray) -> Any:
    """Whether every case of a domain was imputed: no respondent of it has a determined
    status (such a domain's estimate would come from the other domains)."""
    if not by:
        return not bool(imp.determined[rows].any())
    ok = codes >= 0
    known = np.bincount(codes[ok], weights=imp.determined[rows][ok].astype(float),
                        minlength=len(cells))
    return cells.assign(every_case_imputed=known == 0)


def imputation_flags(table: pd.DataFrame) -> pd.DataFrame:
    """Suppress what multiple imputation cannot give: a class whose rules need what the data do
    not measure, and a domain every case of which was imputed."""
    out: pd.DataFrame = table.copy()
    not_est = out.pop("_not_estimable").to_numpy(dtype=bool)
    every = out.pop("_every_case_imputed").fillna(False).to_numpy(dtype=bool)
    for mask, reason in ((every, "every case in the domain imputed"),
                         (not_est, "not estimable: the rules need what the data do not "
                                   "measure")):
        out.loc[mask, "reliability"] = "suppress"
        out.loc[mask, "reliability_reason"] = np.where(
            out.loc[mask, "reliability_reason"].astype(str) == "", reason,
            reason + "; " + out.loc[mask, "reliability_reason"].astype(str))
    out.loc[not_est, ["estimate", "se", "ci_low", "ci_high", "cv"]] = np.nan
    return out


def differences_imputed(design: Any, imp: Imputed, col: str, reference: str | None,
                        level: float, df: float | None) -> pd.DataFrame:
    """The differences of the compared shares between the domains of ``col`` and the
    reference domain, in every completion (their covariance from one estimator call over all
    completions), combined by Rubin's rules with the Barnard-Rubin df."""
    points, _ = _completions(imp)
    chosen = [p for p in points if p.name in {_mi_name(c) for c in COMPARED}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)
        est = estimate_completed(design, "proportion", chosen, by=[col], subpop=UNIVERSE,
                                 level=level, df=df, covmat=True)
    t = est.to_frame()
    var = t["variable"].astype(str).str.slice(len(PREFIX) + 3).str.rsplit("@", n=1, expand=True)
    t = t.assign(indicator=var[0], imputation=var[1].astype(int))
    d = pair_differences(t, est.vcov().to_numpy(), col, reference, ["indicator", "imputation"])
    m = imp.imputations
    # the domains in the table's order, the classes in COMPARED's, then the completions
    first = {v: i for i, v in enumerate(dict.fromkeys(t[col].map(label_text)))}
    d = d.assign(_dom=d[col].map(label_text).map(first), _ind=d["indicator"].map(
        {c: i for i, c in enumerate(COMPARED)})).sort_values(
        ["_dom", "_ind", "imputation"], kind="stable").drop(columns=["_dom", "_ind"])
    shape = (-1, m)
    comb = rubin(d["estimate"].to_numpy(float).reshape(shape).T,
                 d["variance"].to_numpy(float).reshape(shape).T,
                 d["df"].to_numpy(float).reshape(shape).T.min(axis=0))
    rows = d.iloc[::m][[col, "indicator", "reference"]].reset_index(drop=True)
    out: pd.DataFrame = rows.assign(estimate=comb.estimate, variance=comb.variance,
                                     df=comb.df, fmi=comb.fmi, imputations=m)
    return out
