"""The reliability and disclosure rules on a breakdown: its rows recast as the cells of a
report's tables, so that the rules judge them as they judge one survey's report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from flestimate.disclosure import DisclosureRules, protect
from flestimate.intervals import confidence_interval
from flestimate.report._reliability import ReliabilityRules, assess_reliability

__all__ = ["protect_breakdown"]

#: The breakdown's tables of shares by form, with the class each is a share of.
_BY_FORM = ("forced_labour_by_form", "trafficked_by_form")
_NO_CASES = "not applied: the inputs carry no n_cases"


def protect_breakdown(table: pd.DataFrame,
                      cases: Mapping[str, Mapping[tuple[str, str], Any]],
                      rules: DisclosureRules, with_regions: bool,
                      sample: Mapping[str, tuple[float, float]] | None = None,
                      reliability: ReliabilityRules | None = None,
                      ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The disclosure rule on a breakdown: its rows recast as cells of a report's tables (a
    country, region or the world as the domain; a form's share and persons one cell; a
    table's ``total`` its class) so that :func:`~flestimate.report.protect` finds the same
    relations as in one survey's report; with ``reliability``, the rows' reliability flags."""
    out = table.copy()
    out["disclosure"] = "publish"
    out["disclosure_reason"] = ""
    out["reliability"] = "present"
    out["reliability_reason"] = ""
    known = [v for c in cases.values() for v in c.values()]
    if not known or any(v is None or not np.isfinite(float(v)) for v in known):
        summary = {**rules.to_dict(), "primary": 0, "secondary": 0}
        if rules.rule != "none":
            summary["note"] = _NO_CASES
        out["reliability_reason"] = "not judged: the inputs carry no n_cases"
        return out, summary
    cells = _report_cells(out, with_regions)
    rows = pd.DataFrame({"key_table": cells["key_table"], "key_ind": cells["key_ind"],
                         "lvl": cells["lvl"], "unit": cells["unit"], "region": cells["region"]})
    per_country = _cases_by_country(cases, out)
    tidy = pd.DataFrame({"table": cells["kind"], "by": cells["by"], "domain": cells["domain"],
                         "region": cells["region"], "unit": cells["unit"],
                         "measure": out["quantity"].to_numpy(), "indicator": cells["indicator"],
                         "n": np.nan, "n_cases": _cell_cases(rows, per_country),
                         "estimate": out["estimate"].to_numpy(float)})
    margins: list[tuple[str, ...]] = ([("region",), ("region", "unit")] if with_regions
                                      else [("unit",)])
    if reliability is not None and sample is not None:
        flags = _judge(out, tidy, rows, per_country, sample, reliability)
        # a table's total share is 1 by construction: nothing to judge
        whole = ((out["component"] == "total") & (out["quantity"] == "share")).to_numpy()
        out["reliability"] = np.where(whole, "present", flags["reliability"].to_numpy())
        out["reliability_reason"] = np.where(whole, "",
                                             flags["reliability_reason"].to_numpy())
    judged, summary = protect(tidy, margins, rules)
    hide = judged["disclosure"].isin(["primary", "secondary"]).to_numpy()
    out["disclosure"] = judged["disclosure"].to_numpy()
    out["disclosure_reason"] = judged["disclosure_reason"].to_numpy()
    out.loc[hide, ["estimate", "se", "ci_low", "ci_high"]] = np.nan
    return out, summary


def _report_cells(out: pd.DataFrame, with_regions: bool) -> dict[str, np.ndarray]:
    """Each row as a report's cell: its table (``kind``: the prevalence table, or a by-form
    table), indicator, margin (``by``) and domain, with the keys of its sample cases (a
    by-form total is its class in the prevalence table; a region's share of the world is the
    region's own total; a form of forced labour is the prevalence table's ``form_`` cell)."""
    tab = out["table"].to_numpy(dtype=object)
    comp = out["component"].astype(str).to_numpy(dtype=object)
    kind = np.where(np.isin(tab, ["totals", "by_region", "trafficked_by_region"]),
                    "prevalence", tab)
    indicator = comp.copy()
    indicator[(tab == "forced_labour_by_form") & (comp == "total")] = "forced_labour"
    indicator[(tab == "trafficked_by_form") & (comp == "total")] = "trafficked"
    kind[np.isin(tab, list(_BY_FORM)) & (comp == "total")] = "prevalence"
    # the regions' shares of the world: the regions' own totals
    regional = np.isin(tab, ["by_region", "trafficked_by_region"])
    indicator[regional] = np.where(tab[regional] == "by_region", "forced_labour", "trafficked")
    fl_form = (tab == "forced_labour_by_form") & (comp != "total")
    indicator[fl_form] = "form_" + comp[fl_form]
    kind[fl_form] = "prevalence"
    lvl = out["level"].to_numpy(dtype=object)
    region = out["region"].astype(str).to_numpy(dtype=object)
    unit = out["unit"].astype(str).to_numpy(dtype=object)
    by = np.where(lvl == "world", "national", np.where(
        lvl == "region", "region", "region*unit" if with_regions else "unit"))
    domain = np.where(lvl == "world", "all", np.where(lvl == "region", region, unit))
    key_table = np.where(kind == "prevalence", "totals", kind)
    key_ind = np.where((kind == "prevalence") | (kind == "totals"), indicator, comp)
    return {"kind": kind, "indicator": indicator, "by": by, "domain": domain, "lvl": lvl,
            "region": region, "unit": unit, "key_table": key_table, "key_ind": key_ind}


def _cases_by_country(cases: Mapping[str, Mapping[tuple[str, str], Any]],
                      out: pd.DataFrame) -> pd.DataFrame:
    """The reports' sample cases, one row per country and cell key, with the country's
    region."""
    per_country = pd.DataFrame([(u, t, i, float(v)) for u, c in cases.items()
                                for (t, i), v in c.items()],
                               columns=["unit", "key_table", "key_ind", "n_cases"])
    lvl = out["level"].to_numpy(dtype=object)
    country_region = out.loc[lvl == "country", ["unit", "region"]].drop_duplicates("unit")
    out_frame: pd.DataFrame = per_country.merge(country_region.astype(str), on="unit",
                                                how="left")
    return out_frame


def _cell_cases(rows: pd.DataFrame, per_country: pd.DataFrame) -> np.ndarray:
    """Each row's sample cases: the country's, summed over the countries of a region and of
    the world."""
    lvl = rows["lvl"].to_numpy(dtype=object)
    by_unit = per_country.set_index(["unit", "key_table", "key_ind"])["n_cases"]
    by_region = per_country.groupby(["region", "key_table", "key_ind"])["n_cases"].sum()
    world = per_country.groupby(["key_table", "key_ind"])["n_cases"].sum()
    n_cases: np.ndarray = np.select(
        [lvl == "country", lvl == "region"],
        [by_unit.reindex(pd.MultiIndex.from_frame(rows[["unit", "key_table", "key_ind"]]))
         .to_numpy(float),
         by_region.reindex(pd.MultiIndex.from_frame(rows[["region", "key_table", "key_ind"]]))
         .to_numpy(float)],
        world.reindex(pd.MultiIndex.from_frame(rows[["key_table", "key_ind"]])).to_numpy(float))
    return n_cases


def _judge(out: pd.DataFrame, tidy: pd.DataFrame, rows: pd.DataFrame,
           per_country: pd.DataFrame, sample: Mapping[str, tuple[float, float]],
           rules: ReliabilityRules) -> pd.DataFrame:
    """Reliability flags of a breakdown's rows, as a pooled report would get them: a share's
    denominator cases (its class's, at the same level; the world's for a region's share of
    it), the surveys' respondents and design df summed over the row's countries, the 95%
    Korn-Graubard interval of a share from its SE, the log-scale interval of a number."""
    lvl = rows["lvl"].to_numpy(dtype=object)
    units = pd.DataFrame([(u, n, d) for u, (n, d) in sample.items()],
                         columns=["unit", "n", "df"]).merge(
        per_country[["unit", "region"]].drop_duplicates("unit"), on="unit", how="left")
    tab = out["table"].to_numpy(dtype=object)
    share_of_world = np.isin(tab, ["by_region", "trafficked_by_region"])
    scope_lvl = np.where(share_of_world, "world", lvl)

    def summed(col: str) -> np.ndarray:
        by_unit = units.set_index("unit")[col]
        by_region = units.groupby("region")[col].sum()
        return np.select([scope_lvl == "country", scope_lvl == "region"],
                         [by_unit.reindex(rows["unit"]).to_numpy(float),
                          by_region.reindex(rows["region"]).to_numpy(float)],
                         float(units[col].sum()))

    n_resp, df = summed("n"), summed("df")
    # the denominator's cases: the cell of the class the share is taken of
    among = np.where(tab == "trafficked_by_form", "trafficked",
                     np.where(tab == "forced_labour_by_form", "forced_labour",
                              tidy["indicator"].to_numpy(dtype=object)))
    cell_cases = pd.Series(tidy["n_cases"].to_numpy(float),
                           index=pd.MultiIndex.from_arrays(
                               [tidy["by"], tidy["domain"], tidy["indicator"]])).groupby(
        level=[0, 1, 2]).max()
    by = np.where(share_of_world, "national", tidy["by"].to_numpy(dtype=object))
    domain = np.where(share_of_world, "all", tidy["domain"].to_numpy(dtype=object))
    denom = cell_cases.reindex(pd.MultiIndex.from_arrays([by, domain, among])).to_numpy(float)
    share = (out["quantity"] == "share").to_numpy()
    est = out["estimate"].to_numpy(float)
    se = out["se"].to_numpy(float)
    kg_low, kg_high = out["ci_low"].to_numpy(float).copy(), out["ci_high"].to_numpy(float).copy()
    if share.any():
        kg_low[share], kg_high[share], _ = confidence_interval(
            "korn-graubard", est[share], se[share], df[share], denom[share], 0.95)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = stdtrit(np.where(np.isfinite(df) & (df > 0), df, np.inf), 0.975)
        spread = np.exp(t * se / est)
    kg_low[~share], kg_high[~share] = (est / spread)[~share], (est * spread)[~share]
    frame = pd.DataFrame({
        "measure": np.where(share, "share", "number"), "estimate": est, "se": se,
        "kg_low": kg_low, "kg_high": kg_high, "n": np.where(share, denom, n_resp),
        "n_cases": tidy["n_cases"].to_numpy(float), "n_eff": np.nan, "df": df})
    return assess_reliability(frame, rules)
