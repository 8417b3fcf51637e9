"""Print the Markdown table of docs/validation.md: flestimate against the R survey fixtures.

Usage: python docs/scripts/validation_table.py  (from the repository root)
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd

from flestimate import SurveyDesign

DATA = Path("tests/reference/data")


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def api_rows() -> list[tuple[str, str, int, float, float, float]]:
    ref = json.loads((DATA / "api_reference.json").read_text())["results"]
    rows = []
    makers = {
        "apistrat_fpc": ("apistrat", dict(weights="pw", strata="stype", fpc="fpc")),
        "apistrat_nofpc": ("apistrat", dict(weights="pw", strata="stype")),
        "apiclus1_fpc": ("apiclus1", dict(weights="pw", psu="dnum", fpc="fpc")),
        "apiclus1_nofpc": ("apiclus1", dict(weights="pw", psu="dnum")),
        "apiclus2_fpc2stage": ("apiclus2", dict(psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])),
        "apiclus2_nofpc": ("apiclus2", dict(weights="pw", psu=["dnum", "snum"])),
    }
    for name, (file, kw) in makers.items():
        frame = pd.read_csv(DATA / f"{file}.csv")
        frame["yes"] = (frame["sch.wide"] == "Yes").astype(int)
        des = SurveyDesign(frame, **kw)
        r = ref[name]
        est, se, ci, n = [], [], [], 0
        m = des.mean("api00").to_frame().iloc[0]
        est.append(rel(m["estimate"], r["mean_api00"]["est"]))
        se.append(rel(m["se"], r["mean_api00"]["se"]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = des.total("enroll").to_frame().iloc[0]
        est.append(rel(t["estimate"], r["total_enroll"]["est"]))
        se.append(rel(t["se"], r["total_enroll"]["se"]))
        n += 2
        for method, key in (("beta", "ciprop_beta"), ("logit", "ciprop_xlogit"),
                            ("wald", "ciprop_mean")):
            p = des.proportion("yes", ci=method).to_frame().iloc[0]
            ci += [rel(p["ci_low"], r[key]["lci"]), rel(p["ci_high"], r[key]["uci"])]
            n += 1
        by = des.proportion("yes", by="stype", ci="beta").to_frame().set_index("stype")
        for level, rr in r["by_stype_ciprop_beta"].items():
            est.append(rel(by.loc[level, "estimate"], rr["est"]))
            se.append(rel(by.loc[level, "se"], rr["se"]))
            ci += [rel(by.loc[level, "ci_low"], rr["lci"]), rel(by.loc[level, "ci_high"], rr["uci"])]
            n += 1
        rows.append((name, "mean, total, svyciprop (beta/xlogit/mean), svyby beta", n,
                     max(est), max(se), max(ci)))
    return rows


def lfs_rows() -> list[tuple[str, str, int, float, float, float]]:
    ref = json.loads((DATA / "lfs_n20000_r_reference.json").read_text())["results"]["taylor"]
    lfs = pd.read_parquet(DATA / "lfs_n20000.parquet")
    des = SurveyDesign(lfs, weights="w", strata="stratum", psu="psu", nest=True)
    outs = list(ref["mean_all"])
    est, se, ci, n = [], [], [], 0
    for got, key in ((des.mean(outs).to_frame(), "mean_all"),
                     (des.mean(outs, subpop="migrant").to_frame(), "mean_migrant"),
                     (des.total(outs).to_frame(), "total_all"),
                     (des.total(outs, subpop="migrant").to_frame(), "total_migrant")):
        for _, row in got.iterrows():
            r = ref[key][row["variable"]]
            est.append(rel(row["estimate"], r["est"]))
            se.append(rel(row["se"], r["se"]))
            n += 1
    for by, key in (("sex", "by_sex_migrant"), ("dest", "by_dest_migrant")):
        got = des.mean(outs, by=by, subpop="migrant").to_frame()
        for _, row in got.iterrows():
            r = ref[key][row[by]][row["variable"]]
            est.append(rel(row["estimate"], r["est"]))
            se.append(rel(row["se"], r["se"]))
            n += 1
    got = des.proportion(["fl", "thb"], by="dest", subpop="migrant", ci="beta").to_frame()
    for _, row in got.iterrows():
        r = ref["ciprop_beta_by_dest"][row["variable"]][row["dest"]]
        if r["lci"] is not None:
            ci += [rel(row["ci_low"], r["lci"]), rel(row["ci_high"], r["uci"])]
        n += 1
    return [("lfs_n20000 (31 strata, 660 PSUs)", "svymean, svytotal, svyby x 2, svyciprop beta by "
             "destination", n, max(est), max(se), max(ci))]


def main() -> None:
    print("| data and design | statistics | estimates compared | max rel. diff estimate | "
          "max rel. diff SE | max rel. diff CI bound |")
    print("|---|---|---|---|---|---|")
    for name, what, n, e, s, c in api_rows() + lfs_rows():
        print(f"| {name} | {what} | {n} | {e:.1e} | {s:.1e} | {c:.1e} |")


if __name__ == "__main__":
    main()
