"""Write the tutorial notebooks 01 - 04, 06 and 07 of ``notebooks/`` with nbformat.

The notebooks are generated so that they can be reviewed as code: edit this file, then run
``python notebooks/_build.py`` and commit the notebooks it writes (without outputs; the
tests in ``tests/test_notebooks.py`` execute them). ``05_global_breakdown.ipynb`` is a
symlink to ``reproduce_global_breakdown.ipynb``, which is not built here.

Every notebook resolves the data files from the repository root, so it runs both from
``notebooks/`` (as the tests run it) and from the root.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

def setup(stdlib: tuple[str, ...] = (), first_party: tuple[str, ...] = (), extra: str = "") -> str:
    """The first code cell: imports (isort order), the data paths from the repository root."""
    std = "\n".join(sorted([*(f"import {m}" for m in stdlib)]) + ["from pathlib import Path"])
    ours = "\n".join(["import flestimate as fl", *first_party])
    return f"""\
{std}

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

{ours}

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
DATA = ROOT / "data" / "synthetic"
MOLDOVA = DATA / "moldova_synthetic.sav"
SPEC = "moldova-2008-synthetic"
pd.set_option("display.width", 140)
pd.set_option("display.max_columns", 30)
{extra}"""


def md(text: str) -> nbformat.NotebookNode:
    return new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str) -> nbformat.NotebookNode:
    return new_code_cell(textwrap.dedent(text).strip("\n"))


# --------------------------------------------------------------------------------------
# 01 quick start
# --------------------------------------------------------------------------------------

QUICKSTART = [
    md("""
    # Quick start: from a survey file to the national table

    One call, `flestimate.estimate_prevalence`, takes a Labour Force Survey labour-migration
    module file to the national estimates of forced labour and trafficking: it reads the file
    (here an SPSS `.sav` with value labels and missing codes), maps the questionnaire items onto
    the canonical indicators with a module spec (`moldova-2008-synthetic`), classifies every
    respondent, declares the sample design (strata, PSUs, weights) on the whole file and
    estimates every class as a domain of that design, with Korn-Graubard 95% intervals, bounds
    from the undetermined cases and NCHS reliability flags.

    This notebook shows:

    1. the national table, and the same numbers as a tidy `DataFrame` (`to_frame()`);
    2. that the forced-labour share is the weighted mean you would compute by hand;
    3. the data-quality report and the classification counts;
    4. why one respondent is classified as they are (`explain`);
    5. the same run from the shell (`flestimate estimate`);
    6. a bar chart of the national shares with their intervals.

    The data are the synthetic Moldova-style file shipped in `data/synthetic/` (invented data
    with a known truth: the true forced-labour share of the synthetic population is 5.3%).
    """),
    code(setup()),
    md("""
    ## 1. The national table

    The warning on stderr is expected: one stratum of the file has a single PSU, and the spec
    says how to handle it (`lonely_psu: adjust`, as R survey's `survey.lonely.psu = "adjust"`).
    """),
    code("""
    report = fl.estimate_prevalence(MOLDOVA, SPEC)
    report
    """),
    md("""
    Every number of the table, tidy: one row per table, domain, measure (`share` or `number`) and
    indicator, with `se`, the interval, `cv`, `deff`, the sample size `n`, the sample cases
    `n_cases`, the effective sample size, the design degrees of freedom, the bounds and the
    reliability verdict.
    """),
    code("""
    tidy = report.to_frame()
    national = tidy[(tidy["table"] == "prevalence") & (tidy["measure"] == "share")]
    national[["indicator", "estimate", "se", "ci_low", "ci_high", "bound_low", "bound_high",
              "n", "n_cases", "df", "reliability"]]
    """),
    code("""
    report.provenance["variance"], report.provenance["ci_method"], report.provenance["df_rule"]
    """),
    md("""
    ## 2. The headline, its bounds and the minimum

    `report.classification` holds the class of every person of the universe (persons 15+ who
    worked abroad), indexed by their row in the file. Some persons are *undetermined*: their
    status hangs on a missing or "don't know" answer. The headline estimate multiply imputes
    those answers (20 completions by default, combined with Rubin's rules, see the "Missing
    answers" page of the documentation) and reweights the unit non-respondents of the module
    within classes, so its `n` counts the respondents. The bounds beside it are plain weighted
    shares of the file: the lower bound counts the undetermined persons out, the upper bound
    counts them in. Both are checked here against a hand computation with the file's person
    weights, and so is `missing="minimum"`, the estimate that counts every undetermined person
    as not in forced labour (the lower bound with its own interval).
    """),
    code("""
    frame = fl.read_microdata(MOLDOVA).frame
    classes = report.classification.to_frame()
    w = frame.loc[classes.index, "w_pers"]
    in_fl = classes["forced_labour"].fillna(False).astype(bool)     # undetermined -> not counted
    upper = classes["forced_labour_upper"].astype(bool)              # undetermined -> counted

    row = national.set_index("indicator").loc["forced_labour"]
    hand_share = (w * in_fl).sum() / w.sum()
    print(f"forced labour: headline {row['estimate']:.4f} ({row['ci_low']:.4f} to {row['ci_high']:.4f}); "
          f"bounds {row['bound_low']:.4f} (by hand {hand_share:.4f}) to {row['bound_high']:.4f}")
    print(f"respondents {row['n']} of {len(classes)} persons in the universe; "
          f"{report.provenance['missing']['completed_rows']} persons with imputed answers")

    assert len(classes) == 2954 and row["n"] == 2954 - report.provenance["missing"]["nonresponse"]["unit_nonrespondents"]
    assert abs(row["bound_low"] - hand_share) < 1e-12
    assert abs(row["bound_high"] - (w * upper).sum() / w.sum()) < 1e-12
    assert row["bound_low"] <= row["estimate"] <= row["bound_high"]
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    """),
    code("""
    minimum = fl.estimate_prevalence(MOLDOVA, SPEC, missing="minimum").to_frame()
    low = minimum.query("table == 'prevalence' and measure == 'share' and indicator == 'forced_labour'").iloc[0]
    number = minimum.query("table == 'prevalence' and measure == 'number' and indicator == 'forced_labour'")
    print(f"minimum: {low['estimate']:.6f} ({low['ci_low']:.4f} to {low['ci_high']:.4f}), "
          f"n = {low['n']}, cases = {low['n_cases']}")
    assert low["n"] == len(classes)
    assert abs(low["estimate"] - hand_share) < 1e-12
    assert abs(number["estimate"].iloc[0] - (w * in_fl).sum()) < 1e-6 * w.sum()
    assert in_fl.sum() == low["n_cases"] == 119
    """),
    md("""
    ## 3. Data quality and classification counts

    `report.quality` is the data-quality report of the mapping: how the universe filter was
    applied, then for every questionnaire item its yes / no / don't know / refused / missing
    counts among the persons of the universe. "Don't know" answers, mostly to the penalty
    questions, are what leave 15% of the universe undetermined.
    """),
    code("""
    quality = report.quality
    quality[quality["section"] == "universe"][["item", "n", "n_left", "reason"]]
    """),
    code("""
    items = quality[quality["section"] == "item"]
    (items[["indicator", "item", "n", "n_yes", "n_no", "n_dont_know", "n_refused", "n_system_missing"]]
     .sort_values("n_dont_know", ascending=False).head(10))
    """),
    md("""
    The sample counts by status and form (unweighted persons). The four statuses partition the
    universe:
    """),
    code("""
    counts = report.classification_counts
    print(counts.to_string())
    assert counts["total"].sum() == len(classes)
    trafficked_low = minimum.query("table == 'prevalence' and measure == 'share' and indicator == 'trafficked'")
    assert counts.loc["trafficked_forced_labour", "total"] == trafficked_low["n_cases"].iloc[0]
    """),
    md("""
    ## 4. Why is this respondent in forced labour?

    `explain` walks through the rules (ICLS 2018 forced labour, SEED 2007 trafficking, the ILO
    2005 forms) with the answers of one person:
    """),
    code("""
    respondent = classes.index[in_fl][0]
    print(report.classification.explain(respondent))
    """),
    md("""
    ## 5. The same from the shell

    `flestimate estimate FILE --spec SPEC` prints the same tables; `--format csv` writes the
    tidy table. (In a terminal it is simply `flestimate estimate ...`; here the command is run
    with the notebook's Python so that it works on every platform.)
    """),
    code("""
    import io
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "flestimate.cli", "estimate", str(MOLDOVA), "--spec", SPEC]
    shell = subprocess.run(cmd, capture_output=True, text=True, check=True)
    print(shell.stdout)
    """),
    code("""
    csv = subprocess.run(cmd + ["--format", "csv"], capture_output=True, text=True, check=True)
    from_shell = pd.read_csv(io.StringIO(csv.stdout))
    assert csv.returncode == 0 and len(from_shell) == len(tidy)
    np.testing.assert_allclose(from_shell["estimate"], tidy["estimate"], rtol=1e-12)
    np.testing.assert_allclose(from_shell["se"], tidy["se"], rtol=1e-12)
    from_shell.head()
    """),
    md("""
    ## 6. The national shares with their intervals

    Bars are the point estimates with their 95% Korn-Graubard intervals; the light bars reach
    the upper bound (every undetermined person counted in). The bounds are much wider than the
    sampling intervals: on this file the undetermined cases, not the sample size, limit what
    can be said.
    """),
    code("""
    shares = national[national["indicator"] != "undetermined"].iloc[::-1]
    labels = shares["indicator"].str.replace("_", " ")
    y = np.arange(len(shares))
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    ax.barh(y, 100 * shares["bound_high"], color="#c6dbef", label="upper bound (undetermined counted in)")
    ax.barh(y, 100 * shares["estimate"], color="#1f4e79", label="estimate")
    ax.errorbar(100 * shares["estimate"], y,
                xerr=[100 * (shares["estimate"] - shares["ci_low"]), 100 * (shares["ci_high"] - shares["estimate"])],
                fmt="none", ecolor="#b22222", capsize=3, label="95% CI (Korn-Graubard)")
    ax.set_yticks(y, labels)
    ax.set_xlabel("% of persons 15+ who worked abroad")
    ax.set_xlim(0, 100)
    ax.set_title("Moldova-style synthetic LFS module: national shares")
    ax.legend(fontsize=8, loc="lower right")
    plt.show()
    """),
    md("""
    Next: `02_domains_and_plots` (estimates by sex and region, publication tables),
    `03_replicate_weights_and_calibration`, `04_batch_and_dask`.
    """),
]


# --------------------------------------------------------------------------------------
# 02 domains and plots
# --------------------------------------------------------------------------------------

DOMAINS = [
    md("""
    # Domains, publication tables and plots

    National statistics offices publish the estimates by sex, region and their crossing. This
    notebook shows:

    1. `by=["sex", "region"]` (two margins) and `by="sex*region"` (the crossed cells) in
       `estimate_prevalence`; domains are zero-weighted inside the full design, never made by
       dropping rows, so the numbers of the domains add up to the national number;
    2. the report's own forest plot, `report.plot(by="region")`;
    3. publication tables, with the NCHS reliability rules that flag (`*`) or suppress (blank)
       the cells whose estimates are not reliable enough, and why;
    4. the same domain estimates computed directly with `SurveyDesign.proportion(..., by=...,
       subpop=...)` on the file, and a plot of them with their intervals.

    The data are the synthetic Moldova-style file shipped in `data/synthetic/` (invented data).
    """),
    code(setup()),
    md("""
    ## 1. Margins and crossed cells

    `by` takes context variables of the spec (here `sex` and `region`, with the labels of the
    spec) or columns of the file. A list gives one margin per entry; `"sex*region"` crosses.
    """),
    code("""
    report = fl.estimate_prevalence(MOLDOVA, SPEC, by=["sex", "region"])
    crossed = fl.estimate_prevalence(MOLDOVA, SPEC, by="sex*region")
    report.margins, crossed.margins
    """),
    code("""
    tidy = report.to_frame()
    fl_share = tidy[(tidy["table"] == "prevalence") & (tidy["measure"] == "share")
                    & (tidy["indicator"] == "forced_labour")]
    fl_share[["by", "domain", "estimate", "se", "ci_low", "ci_high", "n", "n_cases", "df",
              "reliability", "reliability_reason", "disclosure", "disclosure_reason"]]
    """),
    md("""
    Domains are estimated on the full design, so the weighted numbers of the domains of a margin
    add up to the national number, and the crossed cells to each margin. Disclosure control
    blanks the cells of fewer than 3 respondents (and those that would give one back by exactly
    this subtraction, `docs/disclosure.md`), so the check uses internal reports made with
    `disclosure="none"`, which are never for publication:
    """),
    code("""
    def numbers(rep, margin, indicator="forced_labour"):
        t = rep.to_frame()
        return t[(t["table"] == "prevalence") & (t["measure"] == "number")
                 & (t["indicator"] == indicator) & (t["by"] == margin)]

    internal = fl.estimate_prevalence(MOLDOVA, SPEC, by=["sex", "region"], disclosure="none")
    internal_crossed = fl.estimate_prevalence(MOLDOVA, SPEC, by="sex*region", disclosure="none")
    national_number = numbers(internal, "national")["estimate"].iloc[0]
    for margin, rep in (("sex", internal), ("region", internal),
                        ("sex*region", internal_crossed)):
        total = numbers(rep, margin)["estimate"].sum()
        print(f"{margin:>10}: sum of the domains {total:,.1f}  national {national_number:,.1f}")
        assert abs(total - national_number) < 1e-9 * national_number
    assert not any(report.provenance["excluded_missing_by"].values())   # no missing sex or region
    """),
    md("""
    ## 2. The report's forest plot

    `report.plot(by=..., indicator="forced_labour")` draws one share with its interval by domain
    (and the national estimate as a reference line) and returns the matplotlib `Axes`; `ax=`
    draws into an `Axes` of yours.
    """),
    code("""
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    report.plot(by="region", ax=ax)
    plt.show()
    """),
    md("""
    ## 3. Publication tables: flags and suppression

    `publication_table(table, by)` is the table as an NSO would publish it: formatted strings,
    flagged cells marked `*`, suppressed cells blank, and a `note` column with the reasons. The
    default rule set is `nchs2017`, the NCHS data presentation standards (Parker et al. 2017 for
    proportions, 2023 for counts):

    * **shares**: suppress when the effective sample size `n_eff = p (1 - p) / se^2` is below
      30, or the Korn-Graubard interval is 0.30 wide or more, or its width relative to `p`
      exceeds 130% (unless the interval is at most 0.05 wide); flag (`*`) a share of 0 or 1,
      a design df below 8, or a complement `1 - p` with a relative width above 130%;
    * **numbers**: suppress below 10 sample cases or above a 160% relative interval width.

    The numbers of suppressed cells stay in `to_frame()` for analysis; only the published views
    hide them. Small regions (Balti, Gagauzia, Taraclia with 12 persons in the universe, 10 of them respondents) lose
    most of their cells:
    """),
    code("""
    by_region = report.publication_table("prevalence", "region")
    by_region[by_region["indicator"].isin(["In forced labour", "trafficked", "Undetermined"])]
    """),
    code("""
    shares = tidy[(tidy["table"] == "prevalence") & (tidy["measure"] == "share") & (tidy["by"] == "region")]
    blank = (by_region["%"].str.strip() == "").sum()
    starred = by_region["%"].str.contains(r"\\*").sum()
    print(f"{blank} suppressed and {starred} flagged shares by region")
    confidential = shares["disclosure"] != "publish"
    assert blank == ((shares["reliability"] == "suppress") | confidential).sum()
    assert starred == ((shares["reliability"] == "flag") & ~confidential).sum()
    # a suppressed share is blank in the table but still in to_frame()
    taraclia = shares[(shares["domain"] == "Taraclia") & (shares["indicator"] == "forced_labour")].iloc[0]
    assert taraclia["reliability"] == "suppress" and taraclia["reliability_reason"] == "n_eff 10.0 < 30"
    """),
    md("""
    After the reliability rules, disclosure control: a published cell never rests on fewer than
    3 respondents, directly or by subtraction (forced labour = trafficked + not trafficked; the
    regions add up to the nation). Such cells are blank with the note "confidential", and their
    values are gone from the tidy frame too (`disclosure` says `primary` or `secondary`):
    """),
    code("""
    hidden = tidy[tidy["disclosure"] != "publish"]
    print(report.disclosure_method())
    print(report.provenance["disclosure"]["primary"], "primary and",
          report.provenance["disclosure"]["secondary"], "complementary cells")
    assert hidden["estimate"].isna().all() and hidden["n_cases"].isna().all()
    hidden[["table", "by", "domain", "measure", "indicator", "disclosure", "disclosure_reason"]].head(8)
    """),
    md("""
    The crossed table, with the domain columns first:
    """),
    code("""
    table = crossed.publication_table("prevalence", "sex*region")
    table[table["indicator"] == "In forced labour"]
    """),
    md("""
    The trafficked persons by form of exploitation (the 43 / 32 / 25 breakdown of the ILO 2005
    estimate, computed from the survey): with 35 trafficked persons in the sample, most shares
    are suppressed.
    """),
    code("""
    report.publication_table("trafficked_by_form", "national")
    """),
    md("""
    ## 4. The same estimates from the design directly

    `estimate_prevalence` is a pipeline over public pieces. Here the classification is attached
    to the file as a 0/1 column, the spec's design is declared with `SurveyDesign`, and
    `proportion` estimates the forced-labour share by sex and region (crossed) in the universe
    given as `subpop=` (a domain of the full design, no rows dropped). The estimates, SEs and
    Korn-Graubard intervals equal those of the report with `missing="minimum"`, which counts the
    undetermined persons out as the 0/1 column does (the headline imputes their missing
    answers instead).
    """),
    code("""
    frame = fl.read_microdata(MOLDOVA).frame
    classes = report.classification.to_frame()
    context = {c.name: c for c in fl.load_spec(SPEC).context}      # code -> label maps of the spec
    data = frame.assign(
        universe=frame.index.isin(classes.index),
        forced_labour=classes["forced_labour"].fillna(False).astype(float).reindex(frame.index, fill_value=0.0),
        sex=frame["q1_02"].map(context["sex"].values),
        region=frame["reg"].map(context["region"].values),
    )
    design = fl.SurveyDesign(data, weights="w_pers", strata="strat", psu="psu", lonely_psu="adjust")
    direct = design.proportion("forced_labour", by=["sex", "region"], subpop="universe").to_frame()
    direct[["sex", "region", "estimate", "se", "ci_low", "ci_high", "n", "df", "flag"]]
    """),
    code("""
    t = fl.estimate_prevalence(MOLDOVA, SPEC, by="sex*region", missing="minimum",
                               disclosure="none").to_frame()
    cells = t[(t["table"] == "prevalence") & (t["measure"] == "share")
              & (t["indicator"] == "forced_labour") & (t["by"] == "sex*region")]
    both = direct.merge(cells, on=["sex", "region"], suffixes=("_direct", "_report"))
    assert len(both) == len(cells) == 14
    for col in ("estimate", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(both[f"{col}_direct"], both[f"{col}_report"], rtol=1e-10, atol=1e-14)
    assert (both["n_direct"] == both["n_report"]).all()
    print("design.proportion equals the report in all", len(both), "cells")
    """),
    md("""
    A plot of the crossed cells with their intervals; hollow markers are the cells the NCHS
    rules suppress in a publication. Taraclia (12 persons in the universe, none in forced
    labour, intervals up to 100%) is left out of the plot.
    """),
    code("""
    both = both[both["region"] != "Taraclia"].sort_values(["region", "sex"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    for sex, colour, shift in (("female", "#a8574a", -0.15), ("male", "#1f4e79", 0.15)):
        part = both[both["sex"] == sex]
        x = np.arange(len(part)) + shift
        ax.errorbar(x, 100 * part["estimate_direct"],
                    yerr=[100 * (part["estimate_direct"] - part["ci_low_direct"]),
                          100 * (part["ci_high_direct"] - part["estimate_direct"])],
                    fmt="none", ecolor=colour, capsize=3)
        shown = part["reliability"] != "suppress"
        ax.scatter(x[shown], 100 * part["estimate_direct"][shown], color=colour, label=f"{sex}")
        ax.scatter(x[~shown], 100 * part["estimate_direct"][~shown], facecolor="white",
                   edgecolor=colour, label=f"{sex}, suppressed (NCHS)")
    regions = both["region"].unique()
    ax.set_xticks(np.arange(len(regions)), regions)
    national = fl_share[fl_share["by"] == "national"].iloc[0]
    ax.axhline(100 * national["estimate"], color="k", lw=0.8, ls=":", label="national")
    ax.set_ylabel("% in forced labour (95% Korn-Graubard CI)")
    ax.set_title("Forced labour among labour migrants, by region and sex")
    ax.legend(fontsize=8, ncol=2)
    plt.show()
    """),
]


# --------------------------------------------------------------------------------------
# 03 replicate weights and calibration
# --------------------------------------------------------------------------------------

REPLICATE = [
    md("""
    # Replicate weights and calibration

    Taylor linearisation needs the design variables (strata, PSUs). Replicate weights carry the
    design in a set of weight columns instead, so they can be published without the design
    variables; calibration adjusts the weights to known population totals (from a census or
    register). Both use the same estimators, keywords and result columns as a Taylor design.
    This notebook:

    1. declares the Moldova design on the file with `SurveyDesign`, makes jackknife (JKn) and
       bootstrap (200 replicates, `seed=1`) replicate designs from it, and compares their SEs
       with Taylor's, nationally and by region;
    2. exports the replicate weights (`replicate_weights()`) and recomputes the bootstrap SE from
       them by hand;
    3. calibrates the weights to the population totals by region and sex of the synthetic
       population (`data/synthetic/moldova_synthetic_truth.json`), directly on the design and
       through `estimate_prevalence(..., calibrate=...)`;
    4. runs `estimate_prevalence` with `variance="jkn"` and `variance="bootstrap"`.

    Every `estimate_prevalence` call here has `missing="minimum"` (undetermined persons counted
    out), so that its numbers can be checked against the design's own estimators on a 0/1
    column; the headline's multiple imputation uses the same designs and variances. The data are the synthetic Moldova-style file shipped in `data/synthetic/` (invented data).
    """),
    code(setup(("json",))),
    md("""
    ## 1. The design, and replicate designs made from it

    The file's design: person weights `w_pers`, strata `strat`, PSUs `psu`, the single-PSU
    stratum handled as R survey's `adjust`. The forced-labour classification of every person of
    the universe is attached to the file as a 0/1 column (from `estimate_prevalence`'s
    classification), with the spec's labels for sex and region.
    """),
    code("""
    report = fl.estimate_prevalence(MOLDOVA, SPEC, missing="minimum")
    frame = fl.read_microdata(MOLDOVA).frame
    classes = report.classification.to_frame()
    context = {c.name: c for c in fl.load_spec(SPEC).context}
    frame = frame.assign(
        universe=frame.index.isin(classes.index),
        forced_labour=classes["forced_labour"].fillna(False).astype(float).reindex(frame.index, fill_value=0.0),
        sex=frame["q1_02"].map(context["sex"].values),
        region=frame["reg"].map(context["region"].values),
    )
    design = fl.SurveyDesign(frame, weights="w_pers", strata="strat", psu="psu", lonely_psu="adjust")
    jkn = design.to_replicate("jkn")
    boot = design.to_replicate("bootstrap", 200, seed=1)
    print(design)
    print(jkn)
    print(boot)
    """),
    code("""
    def share(des, by=None):
        est = des.proportion("forced_labour", by=by, subpop="universe").to_frame()
        return est.assign(region=est["region"] if by else "national")[["region", "estimate", "se", "df"]]

    designs = {"taylor": design, "jkn": jkn, "bootstrap": boot}
    parts = []
    for name, des in designs.items():
        est = pd.concat([share(des), share(des, by="region")], ignore_index=True)
        parts.append(est.assign(variance=name))
    ses = pd.concat(parts).pivot(index="region", columns="variance", values="se")[list(designs)]
    estimates = pd.concat(parts).pivot(index="region", columns="variance", values="estimate")
    ses["jkn / taylor"] = ses["jkn"] / ses["taylor"]
    ses["bootstrap / taylor"] = ses["bootstrap"] / ses["taylor"]
    ses
    """),
    md("""
    The point estimates do not depend on the variance method; the jackknife SE is within 10% of
    Taylor's (they agree closely: with many PSUs per stratum, JKn and linearisation are
    asymptotically equivalent), and the bootstrap's is close too (it is random, but fixed by the
    seed).
    """),
    code("""
    assert np.allclose(estimates["jkn"], estimates["taylor"], rtol=1e-12, atol=1e-15)
    assert np.allclose(estimates["bootstrap"], estimates["taylor"], rtol=1e-12, atol=1e-15)
    nat = ses.loc["national"]
    assert abs(nat["jkn"] / nat["taylor"] - 1) < 0.10, nat
    assert abs(nat["bootstrap"] / nat["taylor"] - 1) < 0.25, nat
    # reproducible: the same seed gives the same replicates
    again = design.to_replicate("bootstrap", 200, seed=1)
    assert share(again)["se"].iloc[0] == nat["bootstrap"]
    """),
    code("""
    plot = ses[list(designs)].drop(index="Taraclia")   # Taraclia: 12 persons, 0 cases, SE 0
    plot = plot.loc[["national"] + [r for r in plot.index if r != "national"]]
    x = np.arange(len(plot))
    fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
    for i, (name, colour) in enumerate(zip(designs, ("#1f4e79", "#a8574a", "#6a9f58"), strict=True)):
        ax.bar(x + (i - 1) * 0.27, 100 * plot[name], width=0.27, color=colour, label=name)
    ax.set_xticks(x, plot.index)
    ax.set_ylabel("SE of the forced-labour share (percentage points)")
    ax.set_title("Taylor, jackknife (JKn) and bootstrap (200 replicates) standard errors")
    ax.legend()
    plt.show()
    """),
    md("""
    ## 2. Exporting the replicate weights

    `replicate_weights()` returns the replicate weights as a `DataFrame` (one column per
    replicate, full weights), ready to publish with the file instead of the design variables.
    The variance formula is `scale * sum_r rscales_r (theta_r - mean(theta))^2`; here the
    bootstrap SE is recomputed by hand from the exported columns and checked against the
    estimator. (`jkn.replicate_weights()` works the same way; it has 831 columns, one per PSU.)
    """),
    code("""
    weights = boot.replicate_weights()
    print(weights.shape, "scale", boot.scale)
    weights.iloc[:5, :6]
    """),
    code("""
    u = frame["universe"].to_numpy(dtype=float)
    y = frame["forced_labour"].to_numpy()
    wr = weights.to_numpy()
    theta = (wr * (u * y)[:, None]).sum(axis=0) / (wr * u[:, None]).sum(axis=0)
    se_by_hand = np.sqrt(boot.scale * np.sum(np.asarray(boot.rscales) * (theta - theta.mean()) ** 2))
    print(f"bootstrap SE from the exported weights {se_by_hand:.10f}, from the estimator {nat['bootstrap']:.10f}")
    assert weights.shape == (len(frame), boot.n_replicates) == (23683, 200)
    assert abs(se_by_hand - nat["bootstrap"]) < 1e-10 * nat["bootstrap"]
    """),
    md("""
    ## 3. Calibration to population totals

    The synthetic population's persons by region, sex and age group are in
    `moldova_synthetic_truth.json` (`controls`); summed to region x sex they are the control
    totals an NSO would take from its population estimates. A tidy table of the category columns
    and a `total` column is one margin (its cells are the crossing of the columns).
    """),
    code("""
    truth = json.loads((DATA / "moldova_synthetic_truth.json").read_text())
    controls = (pd.DataFrame(truth["controls"])
                .groupby(["region", "sex"], as_index=False)["persons"].sum()
                .rename(columns={"persons": "total"}))
    controls
    """),
    md("""
    The file's person weights `w_pers` are already calibrated to these totals (the g-weights are
    all 1). The household weights `w_hh` (the same for every member of a household) are not:
    calibrating them to the region x sex totals (linear calibration, R's `calibrate()` default)
    moves them by g-weights between 0.96 and 1.24, and the calibrated weights reproduce the
    control totals.
    """),
    code("""
    print(design.calibrate(controls).calibration.report.message)
    print("g range of w_pers:", design.calibrate(controls).calibration.report.g_range)

    design_hh = fl.SurveyDesign(frame, weights="w_hh", strata="strat", psu="psu", lonely_psu="adjust")
    calibrated = design_hh.calibrate(controls)
    print(calibrated.calibration.report)
    """),
    code("""
    achieved = (frame.assign(w=calibrated.weights).groupby(["region", "sex"], as_index=False)["w"].sum()
                .merge(controls, on=["region", "sex"]))
    achieved["relative error"] = achieved["w"] / achieved["total"] - 1
    print(achieved.to_string(index=False))
    assert len(achieved) == len(controls) == 14
    assert np.abs(achieved["relative error"]).max() < 1e-8
    assert np.abs(achieved["w"] - achieved["total"]).max() < 1e-8 * controls["total"].max()
    """),
    code("""
    g = calibrated.weights / frame["w_hh"].to_numpy()
    fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
    ax.hist(g, bins=60, color="#1f4e79")
    ax.set_xlabel("g-weight (calibrated / household weight)")
    ax.set_ylabel("persons")
    ax.set_title("Linear calibration of w_hh to region x sex totals")
    plt.show()
    """),
    md("""
    The same through `estimate_prevalence`: `calibrate=` takes the table with the spec's context
    names and labels (`region`, `sex`; the file has the codes `reg` and `q1_02`), and `design=`
    overrides the spec's weights. The forced-labour share and its calibrated (residual) Taylor SE
    equal the ones from the calibrated design.
    """),
    code("""
    report_cal = fl.estimate_prevalence(MOLDOVA, SPEC, design={"weights": "w_hh"}, calibrate=controls,
                                    missing="minimum")
    row = report_cal.national.query("measure == 'share' and indicator == 'forced_labour'").iloc[0]
    direct = calibrated.proportion("forced_labour", subpop="universe").to_frame().iloc[0]
    print(f"calibrated w_hh: estimate {row['estimate']:.6f} (se {row['se']:.6f}); "
          f"design {direct['estimate']:.6f} (se {direct['se']:.6f})")
    print("provenance:", report_cal.provenance["calibration"])
    assert abs(row["estimate"] - direct["estimate"]) < 1e-12
    assert abs(row["se"] - direct["se"]) < 1e-10
    """),
    md("""
    ## 4. Replicate variance in `estimate_prevalence`

    `variance="jkn"` or `"bootstrap"` (with `replicates=` and `seed=`) makes the replicates from
    the spec's design and uses them for every estimate of the report, including the shares by
    form (ratios). The bootstrap SEs equal those of the replicate design made above with the
    same seed.
    """),
    code("""
    runs = {
        "taylor": report,
        "jkn": fl.estimate_prevalence(MOLDOVA, SPEC, variance="jkn", missing="minimum"),
        "bootstrap": fl.estimate_prevalence(MOLDOVA, SPEC, variance="bootstrap", replicates=200, seed=1,
                                            missing="minimum"),
    }
    rows = []
    for name, rep in runs.items():
        nat_rows = rep.national.query("measure == 'share'").set_index("indicator")
        rows.append(nat_rows[["estimate", "se", "ci_low", "ci_high", "df"]].add_prefix(f"{name} "))
    compare = pd.concat(rows, axis=1)
    compare[["taylor estimate", "taylor se", "jkn se", "bootstrap se", "taylor df", "jkn df", "bootstrap df"]]
    """),
    code("""
    main = compare.loc[["forced_labour", "trafficked", "not_forced_labour"]]
    assert np.allclose(main["jkn estimate"], main["taylor estimate"], rtol=1e-12)
    assert np.allclose(main["bootstrap estimate"], main["taylor estimate"], rtol=1e-12)
    assert (np.abs(main["jkn se"] / main["taylor se"] - 1) < 0.10).all()
    assert abs(compare.loc["forced_labour", "jkn se"] - nat["jkn"]) < 1e-12
    assert abs(compare.loc["forced_labour", "bootstrap se"] - nat["bootstrap"]) < 1e-12
    print(runs["bootstrap"].provenance["variance"], "| replicates:", runs["bootstrap"].provenance["replicates"],
          "| seed:", runs["bootstrap"].provenance["seed"])
    """),
]


# --------------------------------------------------------------------------------------
# 04 batch and dask
# --------------------------------------------------------------------------------------

BATCH = [
    md("""
    # Many surveys at once: batch runs, and Dask

    A batch file (TOML) lists surveys (country, year, file, spec, design options) and the tables
    wanted; `flestimate.batch.run_batch` (the command `flestimate run`) runs them, writes the
    estimates of all surveys to one folder with a manifest that makes the run reproducible, and
    on a rerun skips the surveys whose inputs and options have not changed. This notebook:

    1. writes a batch file over the shipped Moldova- and Georgia-style synthetic files (in a
       temporary folder), runs it, runs it again (everything from the cache), and reads the
       outputs (`estimates.csv`, `manifest.json`);
    2. checks the batch outputs against direct `estimate_prevalence` calls;
    3. runs the same batch on a local Dask cluster of two workers;
    4. estimates from a `dask.dataframe` (microdata larger than memory) and checks the result
       against the pandas one.

    The file format is in `docs/batch.md`.
    """),
    code(setup(("json", "tempfile", "time"), ("from flestimate.batch import load_batch, run_batch",),
               extra="""\
GEORGIA = DATA / "georgia_synthetic_persons.dta"
GEORGIA_HH = DATA / "georgia_synthetic_households.dta"
tmp = tempfile.TemporaryDirectory()      # removed at the end of the notebook
folder = Path(tmp.name)
""")),
    md("""
    ## 1. A batch file

    Paths in a batch file are relative to its folder; absolute paths work too (used here, since
    the batch file lives in a temporary folder).
    """),
    code('''
    batch_file = folder / "batch.toml"
    batch_file.write_text(f"""
    [output]
    folder = "results"
    formats = ["csv", "parquet"]
    reports = false

    [defaults]
    tables = ["prevalence", "trafficked_by_form"]
    ci = "korn-graubard"

    [[survey]]
    id = "MDA-2008"
    country = "MDA"
    year = 2008
    file = "{MOLDOVA.as_posix()}"
    spec = "moldova-2008-synthetic"
    by = ["sex"]

    [[survey]]
    id = "GEO-2009"
    country = "GEO"
    year = 2009
    file = "{GEORGIA.as_posix()}"
    households = "{GEORGIA_HH.as_posix()}"
    spec = "georgia-synthetic"
    design = {{ lonely_psu = "adjust" }}
    """)
    batch = load_batch(batch_file)          # validated before anything runs
    [(s.id, s.country, s.year) for s in batch.surveys]
    '''),
    md("""
    `jobs=1` runs the surveys one after the other in this process (the default starts one
    process per core; in a script that needs an `if __name__ == "__main__":` guard).
    """),
    code("""
    start = time.perf_counter()
    first = run_batch(batch_file, jobs=1, progress=False)
    print(f"{time.perf_counter() - start:.1f} s")
    print(first.summary())
    assert first.ok and first.skipped == ()
    """),
    md("""
    Run again: nothing has changed, so both surveys come from the cache (the cache key hashes
    every file a survey reads, its options, its tables and the flestimate version).
    """),
    code("""
    start = time.perf_counter()
    second = run_batch(batch_file, jobs=1, progress=False)
    print(f"{time.perf_counter() - start:.2f} s")
    print(second.summary())
    assert set(second.skipped) == {"MDA-2008", "GEO-2009"}
    pd.testing.assert_frame_equal(second.estimates, first.estimates)
    """),
    md("""
    ## 2. The outputs
    """),
    code("""
    results = folder / "results"
    print(sorted(p.name for p in results.iterdir()))
    estimates = pd.read_csv(results / "estimates.csv")
    manifest = json.loads((results / "manifest.json").read_text())
    {k: manifest[k] for k in ("flestimate", "python", "scheduler", "counts")}
    """),
    code("""
    pd.DataFrame([{"id": s["id"], "status": s["status"], "rows": s["rows"], "seed": s["seed"],
                   "key": s["key"][:12], "files": ", ".join(Path(f["path"]).name for f in s["files"].values())}
                  for s in manifest["surveys"]])
    """),
    md("""
    Every estimate of the batch equals the direct call with the same options:
    """),
    code("""
    direct = {
        "MDA-2008": fl.estimate_prevalence(MOLDOVA, SPEC, by=["sex"]),
        "GEO-2009": fl.estimate_prevalence(GEORGIA, "georgia-synthetic", households=GEORGIA_HH,
                                           design={"lonely_psu": "adjust"}),
    }
    for survey, rep in direct.items():
        mine = rep.to_frame()
        mine = mine[mine["table"].isin(["prevalence", "trafficked_by_form"])].reset_index(drop=True)
        theirs = estimates[estimates["survey"] == survey].reset_index(drop=True)
        assert len(mine) == len(theirs), survey
        assert (mine["indicator"].to_numpy() == theirs["indicator"].to_numpy()).all()
        for col in ("estimate", "se", "ci_low", "ci_high"):
            np.testing.assert_allclose(theirs[col], mine[col], rtol=1e-12, atol=1e-15)
        print(f"{survey}: {len(mine)} estimates equal the direct call")
    """),
    code("""
    fl_shares = estimates[(estimates["table"] == "prevalence") & (estimates["measure"] == "share")
                          & (estimates["indicator"].isin(["forced_labour", "trafficked"]))].copy()
    fl_shares["label"] = fl_shares["survey"] + " " + fl_shares["domain"].fillna("all") + ": " + fl_shares["indicator"].str.replace("_", " ")
    fl_shares = fl_shares.iloc[::-1]
    y = np.arange(len(fl_shares))
    fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
    ax.errorbar(100 * fl_shares["estimate"], y,
                xerr=[100 * (fl_shares["estimate"] - fl_shares["ci_low"]), 100 * (fl_shares["ci_high"] - fl_shares["estimate"])],
                fmt="o", color="#1f4e79", capsize=3)
    ax.set_yticks(y, fl_shares["label"])
    ax.set_xlabel("% of the universe (95% Korn-Graubard CI)")
    ax.set_title("Batch outputs: forced labour and trafficking by survey")
    plt.show()
    """),
    md("""
    ## 3. On a Dask cluster

    `workers=2` starts a `distributed.LocalCluster` of two single-threaded worker processes for
    the run and closes it after (`scheduler="tcp://host:port"` connects to a running cluster
    instead; the workers must see the input files at the same paths). `force=True` reruns the
    surveys despite the cache. The surveys are written in batch-file order whatever order they
    finish in, so `estimates.csv` is byte for byte the same as in one process. Starting the
    cluster takes a few seconds.

    From a shell: `flestimate run batch.toml --workers 2` (or `--scheduler tcp://...`).
    """),
    code("""
    csv_one_process = (results / "estimates.csv").read_bytes()
    start = time.perf_counter()
    on_dask = run_batch(batch_file, workers=2, force=True, progress=False)
    print(f"{time.perf_counter() - start:.1f} s")
    print(on_dask.summary())
    assert on_dask.ok and on_dask.skipped == ()
    assert on_dask.manifest["scheduler"] == "Dask LocalCluster of 2 workers"
    assert (results / "estimates.csv").read_bytes() == csv_one_process
    """),
    md("""
    ## 4. One large survey: a `dask.dataframe`

    `estimate_prevalence` also accepts a `dask.dataframe`: each partition is mapped, classified
    and collapsed to its distinct (design x values) patterns with summed weights, and the
    estimators run on that small table; the numbers equal the in-memory path. Households must
    not span partitions (the child rule links parents and children). In the Moldova file the
    households are contiguous, so indexing by the household id lets `from_pandas` cut the
    partitions at household boundaries (`ddf.shuffle("hh_id")` does it for any file).
    Multiple imputation needs the whole file in memory, so a `dask.dataframe` gives the
    estimate with `missing="minimum"` (undetermined persons counted out, with the bounds
    beside); impute in memory, or in the batch, for the headline.
    """),
    code("""
    import dask.dataframe as dd

    frame = fl.read_microdata(MOLDOVA).frame
    assert frame["hh_id"].is_monotonic_increasing           # households are contiguous
    ddf = dd.from_pandas(frame.set_index(pd.Index(frame["hh_id"], name="household")), npartitions=4)
    print(ddf.npartitions, "partitions, cut at households", ddf.divisions)

    start = time.perf_counter()
    from_dask = fl.estimate_prevalence(ddf, SPEC, by=["sex"], missing="minimum")
    print(f"dask: {time.perf_counter() - start:.2f} s")
    in_memory = fl.estimate_prevalence(frame, SPEC, by=["sex"], missing="minimum")
    pd.testing.assert_frame_equal(from_dask.to_frame(), in_memory.to_frame(), rtol=1e-10)
    from_dask
    """),
    code("""
    tmp.cleanup()
    """),
]


# --------------------------------------------------------------------------------------
# 06 risk factors: models and tests
# --------------------------------------------------------------------------------------

RISK = [
    md("""
    # Who is at risk? Logistic regression, domain differences and tests

    After the headline share comes the question of who is more exposed to forced labour. This
    notebook answers it on the synthetic Moldova-style file with the design-based models and
    tests of flestimate, each as R survey computes it:

    1. a design frame of the labour migrants (the universe) with forced labour as a 0/1 outcome;
    2. a survey-weighted logistic regression, `design.glm(..., family="binomial",
       subpop="universe")` (R `svyglm(..., family = quasibinomial())`), its odds ratios with
       their intervals as a table and a forest plot;
    3. a Wald test that a whole term adds nothing (`wald_test`, R `regTermTest`);
    4. differences between domains with their SEs and p-values: `proportion(..., covmat=True)
       .difference(...)` (R `svyby(..., covmat = TRUE)` + `svycontrast`) and the table of
       differences of the main job, `estimate_prevalence(..., compare=...)`;
    5. a chi-square test of association for a two-way table, `design.chisq` (R `svychisq`).

    **The outcome.** The classification leaves some persons *undetermined* (a missing or
    "don't know" answer decides their status). Here the outcome is the **minimum
    classification**: `forced_labour` is 1 for a person classified in forced labour and 0
    otherwise, undetermined persons counted as not (the lower bound of the report,
    `missing="minimum"`). The headline estimate imputes their answers instead (see the
    "Missing answers" page of the documentation); a model on the minimum outcome describes
    who is *known* to be in forced labour.

    The data are invented (`data/synthetic/`), so the associations found here say nothing
    about real migrants.
    """),
    code(setup(extra='pd.set_option("display.precision", 4)\n')),
    md("""
    ## 1. The design frame of the migrants

    `estimate_prevalence(..., missing="minimum").classification` holds the class of every
    person of the universe (persons 15+ who worked abroad), indexed by their row of the file.
    The 0/1 outcome is attached to the whole file (0 outside the universe), with the spec's
    labels for sex, destination and sector and an age group made from age. With 119 persons in
    forced labour the categories are grouped so that every coefficient rests on enough cases:
    destinations into Russia, the EU (Italy, Portugal, other EU) and other; sectors into
    construction, agriculture, care and hospitality (domestic work, hospitality) and other.
    The sector is unknown (code 98) for 42 migrants.
    """),
    code("""
    report = fl.estimate_prevalence(MOLDOVA, SPEC, missing="minimum")
    frame = fl.read_microdata(MOLDOVA).frame
    classes = report.classification.to_frame()
    context = {c.name: c for c in fl.load_spec(SPEC).context}      # code -> label maps of the spec
    print(classes["status"].value_counts().to_string())

    EU = {"Italy", "Portugal", "Other EU"}
    CARE = {"domestic_work", "hospitality"}
    destination = frame["q3_05"].map(context["destination"].values)
    sector = frame["q3_07"].map(context["sector"].values)          # 98 (unknown) -> missing
    data = frame.assign(
        universe=frame.index.isin(classes.index),
        # the minimum classification: undetermined persons counted as not in forced labour
        forced_labour=classes["forced_labour"].fillna(False).astype(float).reindex(frame.index, fill_value=0.0),
        sex=frame["q1_02"].map(context["sex"].values),
        age_group=pd.cut(frame["q1_03"], [14, 29, 44, np.inf], labels=["15-29", "30-44", "45+"]).astype(object),
        destination=destination,
        destination_group=destination.map(lambda d: d if d == "Russia" else "EU" if d in EU else "other",
                                          na_action="ignore"),
        sector_group=sector.map(lambda s: "care_and_hospitality" if s in CARE else s
                                if s in ("construction", "agriculture") else "other", na_action="ignore"),
    )
    design = fl.SurveyDesign(data, weights="w_pers", strata="strat", psu="psu", lonely_psu="adjust")
    migrants = data[data["universe"]]
    assert len(migrants) == 2954 and migrants["forced_labour"].sum() == 119
    pd.crosstab(migrants["destination_group"], migrants["forced_labour"], margins=True)
    """),
    md("""
    ## 2. The logistic regression

    `design.glm(formula, family="binomial", subpop="universe")` fits the model in the
    subpopulation of migrants on the full design (rows outside the universe keep their PSUs
    with weight 0, as R's `subset()`), with the Taylor sandwich variance and `t` statistics on
    the residual df (design df + 1 - coefficients). Categorical terms take their first level
    (sorted) as the reference: female, 15-29, EU, agriculture. The 42 migrants with an unknown
    sector are left out of the model, counted and warned about (`MISSING_ITEMS`), never
    dropped silently.

    R: `svyglm(forced_labour ~ sex + age_group + destination_group + sector_group,
    design = subset(des, universe), family = quasibinomial())`.
    """),
    code("""
    formula = "forced_labour ~ C(sex) + C(age_group) + C(destination_group) + C(sector_group)"
    fit = design.glm(formula, family="binomial", subpop="universe")
    print(fit.summary())
    assert fit.provenance["rows_excluded_missing"] == 42 and fit.provenance["n"] == 2954 - 42
    """),
    md("""
    **Odds ratios.** `exp(b)` is the odds ratio of forced labour against the reference level,
    the other variables held fixed; its interval is `exp(b +- t se)` (R:
    `exp(cbind(coef(m), confint(m, df = df.residual(m))))`). An interval that contains 1 is
    not evidence of a difference at the 5% level.
    """),
    code("""
    coef = fit.to_frame()
    odds = coef.loc[coef["term"] != "(Intercept)", ["term", "odds_ratio", "or_ci_low", "or_ci_high", "p_value"]]
    np.testing.assert_allclose(odds["odds_ratio"], np.exp(coef["estimate"].iloc[1:]), rtol=1e-12)
    np.testing.assert_allclose(odds["or_ci_low"], np.exp(coef["ci_low"].iloc[1:]), rtol=1e-12)
    odds.round(3)
    """),
    md("""
    The forest plot: one odds ratio per coefficient with its 95% interval, on a log scale (so
    that 0.5 and 2 are equally far from 1), and the reference line at 1 (no difference from
    the reference level).
    """),
    code("""
    shown = odds.iloc[::-1]
    y = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    ax.errorbar(shown["odds_ratio"], y,
                xerr=[shown["odds_ratio"] - shown["or_ci_low"], shown["or_ci_high"] - shown["odds_ratio"]],
                fmt="o", color="#1f4e79", ecolor="#1f4e79", capsize=3)
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xticks([0.25, 0.5, 1, 2, 4], ["0.25", "0.5", "1", "2", "4"])
    ax.set_yticks(y, shown["term"].str.replace(r"C\\((\\w+)\\)", r"\\1: ", regex=True))
    ax.set_xlabel("odds ratio of forced labour (95% CI), log scale")
    ax.set_title("Forced labour among labour migrants: adjusted odds ratios")
    plt.show()
    """),
    md("""
    ## 3. Does a whole term matter? The Wald test

    The sector has three coefficients; whether it matters at all is one joint test that all
    three are 0: `fit.wald_test("C(sector_group)")`, `X2 = b' V^-1 b` over the three
    coefficients, `F = X2 / 3` on (3, residual df) degrees of freedom (R: `regTermTest(m,
    ~sector_group, method = "Wald")`). A large p-value says the data are compatible with no
    difference between the sectors once sex, age and destination are held fixed.
    """),
    code("""
    print(fit.terms)
    sector_test = fit.wald_test("C(sector_group)")
    destination_test = fit.wald_test("destination_group")   # a bare column name finds its C() term
    tests = pd.concat([sector_test.to_frame(), destination_test.to_frame()], ignore_index=True)
    # the same statistic by hand from the coefficients and their covariance
    rows = [i for i, t in enumerate(coef["term"]) if t.startswith("C(sector_group)")]
    b = coef["estimate"].to_numpy()[rows]
    v = fit.vcov().to_numpy()[np.ix_(rows, rows)]
    assert abs(b @ np.linalg.solve(v, b) / 3 - sector_test.statistic) < 1e-10
    tests
    """),
    md("""
    ## 4. Differences between domains

    A difference of two domain shares needs their covariance: the domains share PSUs.
    `proportion(..., by="sex", covmat=True)` computes it in the same call (R `svyby(...,
    covmat = TRUE)`), and `difference(a, b)` gives the difference with its SE, a t interval
    on the smaller domain df and a two-sided p-value (R `svycontrast`).
    """),
    code("""
    by_sex = design.proportion("forced_labour", by="sex", subpop="universe", covmat=True)
    print(by_sex.vcov())
    gap = by_sex.difference("male", "female").to_frame()
    gap
    """),
    md("""
    The main job does the same for every margin with `compare=`: the table of differences
    (`table == "differences"` in the tidy frame), each domain's share in forced labour,
    trafficked and not trafficked minus the reference domain's (the first domain, or the one
    named: `destination=Russia`), published under the same reliability and disclosure rules as
    the shares. With `missing="minimum"` it equals the design-level difference above.
    """),
    code("""
    compared = fl.estimate_prevalence(MOLDOVA, SPEC, by=["sex", "destination"],
                                      compare="sex,destination=Russia", missing="minimum")
    t = compared.to_frame()
    differences = t[(t["table"] == "differences") & (t["indicator"] == "forced_labour")]
    shown = differences[["by", "domain", "reference", "estimate", "se", "ci_low", "ci_high", "p_value",
                         "reliability", "disclosure"]]
    row = differences[differences["by"] == "sex"].iloc[0]
    assert row["domain"] == "male" and row["reference"] == "female"
    for col in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        assert abs(row[col] - gap[col].iloc[0]) < 1e-10, col
    shown
    """),
    md("""
    Blank differences are those the report does not publish: a difference is suppressed or
    confidential when either share it compares is (here the small destinations, and those
    whose trafficked share would give a confidential cell back by subtraction). The published
    view of one margin:
    """),
    code("""
    compared.select("differences", "destination")
    """),
    md("""
    ## 5. A test of association: `chisq`

    Is forced labour associated with the destination? In a survey the ordinary Pearson test is
    wrong (clustering and weights change the variance of the cell shares). `design.chisq(row,
    col)` corrects Pearson's X^2 with the Rao-Scott second-order adjustment, an F on `d0` and
    `d0 nu` df (R `svychisq(~forced_labour + destination_group, subset(des, universe))`);
    `statistic="Chisq"`, `"Wald"`, `"adjWald"` and `"saddlepoint"` give R's other statistics.
    `observed` is the weighted table and `deff_eigenvalues` the generalized design effects.
    """),
    code("""
    test = design.chisq("forced_labour", "destination_group", subpop="universe")
    print(test.summary())
    shares = test.observed / test.observed.sum(axis=0)
    print("\\nshare in forced labour by destination:", (100 * shares.loc[1.0]).round(1).to_dict())
    pd.concat([design.chisq("forced_labour", "destination_group", subpop="universe", statistic=s).to_frame()
               for s in ("F", "Chisq", "adjWald")], ignore_index=True)
    """),
    md("""
    The test compares the three destinations at once; the regression above says how
    migrants to Russia differ from those to the EU with sex, age and sector held fixed, and the
    differences table how each domain differs from a reference. On real data, report the
    estimate with its interval rather than the p-value alone.

    See also: `docs/models.md`, `docs/compare.md`, `docs/chisq.md`.
    """),
]


# --------------------------------------------------------------------------------------
# 07 hidden populations: direct survey, network scale-up, RDS and MSE against the truth
# --------------------------------------------------------------------------------------

HIDDEN = [
    md("""
    # Hidden populations: four ways to count people in forced labour

    A country's number of people in forced labour can be estimated in (at least) four ways,
    each from different data and under different assumptions:

    1. **direct survey estimate**: a household survey's labour-migration module classifies
       every migrant it reaches (`fl.estimate_prevalence`);
    2. **network scale-up (NSUM)**: the same survey asks "how many people do you know who ...?"
       about the hidden population and about populations of known size
       (`flestimate.nsum.scale_up`, [docs/nsum.md](../docs/nsum.md));
    3. **respondent-driven sampling (RDS)**: a chain-referral sample among migrants gives the
       *share* in forced labour, times the number of migrants from the survey
       (`flestimate.rds.estimate`, [docs/rds.md](../docs/rds.md));
    4. **multiple systems estimation (MSE)**: the overlaps between lists of known cases
       (police, NGOs, labour inspectorate) estimate the cases no list holds
       (`flestimate.mse.fit`, [docs/mse.md](../docs/mse.md)).

    On a real country the truth is unknown. Here every method runs on **one synthetic
    Moldova-style country** (`flestimate.synthetic`: invented data, the population behind the
    shipped file `data/synthetic/moldova_synthetic.sav`), whose true numbers are known, so
    each estimate and its 95% interval can be put beside the truth. Every random step has a
    fixed seed: the notebook gives the same numbers at every run. It runs in about 20 seconds,
    most of them building the population of 3 million persons.

    One assumption is broken on purpose, because it is broken in reality: respondents know
    only **70% of their contacts' forced labour** (transmission rate 0.7; people hide it even
    from friends). The other methods' data are drawn under their assumptions. A simulation
    study of bias and coverage over many samples, with the assumptions failing one by one, is
    in [docs/hidden.md](../docs/hidden.md); this notebook is one draw.
    """),
    code(setup(stdlib=("dataclasses", "tempfile", "time", "warnings"),
               first_party=("from flestimate import mse, nsum, rds, synthetic",
                            "from flestimate.errors import FlestimateWarning",
                            "from flestimate.mapping import SPEC_DIR"),
               extra="""\
# lonely-PSU notes of the design (one stratum has a single PSU; the spec says how to handle it)
warnings.simplefilter("ignore", FlestimateWarning)
START = time.perf_counter()
COMPARISON = []   # one row per method and hidden population, filled section by section


def compare(indicator, method, estimate, ci_low, ci_high, assumption):
    COMPARISON.append({"indicator": indicator, "method": method, "estimate": estimate,
                       "ci_low": ci_low, "ci_high": ci_high, "key assumption": assumption})
""")),
    md("""
    ## 1. The synthetic country and its truth

    The population is the one behind the shipped Moldova-style files (as
    `benchmarks/missing.py` rebuilds it: the population seed is derived from the shipped seed
    2008): about 1.1 million households, 3 million persons, 373,000 persons aged 15+ who
    worked abroad in the last ten years (the survey's universe, *migrants* below), each with a
    true forced-labour and trafficking status. A fresh survey sample of 10,000 households is
    drawn from it (seed 1).
    """),
    code("""
    pop_seed = int(np.random.SeedSequence(synthetic.SHIPPED_SEEDS["moldova"]).spawn(2)[0].generate_state(1)[0])
    pop = synthetic.generate_population("moldova", seed=pop_seed)
    survey = synthetic.draw_sample(pop, seed=1)

    persons = pop.persons
    migrants = persons["migrant_status"] > 0
    TRUTH = {"forced_labour": int(persons.loc[migrants, "forced_labour"].sum()),
             "trafficked": int(persons.loc[migrants, "trafficked"].sum())}
    N_MIGRANTS = int(migrants.sum())
    print(pop)
    print(f"truth: {N_MIGRANTS:,} migrants; {TRUTH['forced_labour']:,} in forced labour, "
          f"{TRUTH['trafficked']:,} of them trafficked")
    print(f"survey: {survey.persons.shape[0]:,} persons in {survey.persons['hh_id'].nunique():,} households")
    truth_values = {v["statistic"]: v["total"] for v in synthetic.population_values(pop) if v["by"] is None}
    assert truth_values["forced_labour"] == TRUTH["forced_labour"] and truth_values["trafficked"] == TRUTH["trafficked"]
    """),
    md("""
    ## 2. The direct survey estimate

    The main job on the sample's person file: classification of every migrant by the ILO
    rules, the headline with multiple imputation of the "don't know" answers
    (`missing="impute"`, the default, seeded), Korn-Graubard intervals for shares and
    log-scale t intervals for the numbers. The numbers are weighted counts of the universe.
    """),
    code("""
    direct = fl.estimate_prevalence(survey.microdata(), SPEC, seed=1)
    tidy = direct.to_frame()
    numbers = tidy.query("table == 'prevalence' and by == 'national' and measure == 'number'").set_index("indicator")
    for ind in ("forced_labour", "trafficked"):
        r = numbers.loc[ind]
        compare(ind, "direct survey", r["estimate"], r["ci_low"], r["ci_high"],
                "the survey reaches the universe and its answers classify people correctly (MI for don't know)")
    numbers.loc[["forced_labour", "trafficked"], ["estimate", "se", "ci_low", "ci_high", "n", "n_cases"]]
    """),
    md("""
    RDS below needs the number of migrants, which the same survey estimates: the weighted
    total of the universe, with its Taylor SE.
    """),
    code("""
    frame = survey.persons.assign(
        universe=(survey.persons["q1_03"].ge(15) & survey.persons["q3_01"].isin([2, 3])).astype(float))
    design = fl.SurveyDesign(frame, weights="w_pers", strata="strat", psu="psu", lonely_psu="adjust")
    universe = design.total("universe").to_frame().iloc[0]
    MIGRANTS_HAT, MIGRANTS_SE = universe["estimate"], universe["se"]
    print(f"migrants: survey {MIGRANTS_HAT:,.0f} (SE {MIGRANTS_SE:,.0f}, CV {MIGRANTS_SE / MIGRANTS_HAT:.1%}); truth {N_MIGRANTS:,}")
    # the classes of the report partition the universe
    total = numbers.loc["forced_labour", "estimate"] + numbers.loc["not_forced_labour", "estimate"]
    assert abs(total - MIGRANTS_HAT) < 1e-6 * MIGRANTS_HAT
    """),
    md("""
    ## 3. Network scale-up

    `synthetic.build_network` gives the country's persons aged 15+ an acquaintance network
    (a block model with homophily on migration, forced labour, region and sex; mean degree
    about 300) and `draw_ard` asks the sample's persons aged 15+ how many people they know in
    each of 15 populations of known size (twins, teachers, nurses, ...) and in the two hidden
    populations. Here the respondents see only 70% of their contacts' forced labour
    (`transmission=0.7`). The answers are merged into the survey file by household and line.
    """),
    code("""
    net = synthetic.build_network(pop, seed=3)
    ard = synthetic.draw_ard(pop, survey, network=net, transmission=0.7, seed=4)
    ard_file = survey.persons.merge(ard.frame.drop(columns=["person_row", "true_degree"]),
                                    on=["hh_id", "ln"], how="left", validate="1:1")
    known = {f"know_{name}": size for name, size in ard.known_sizes.items()}
    print(f"{len(ard.frame):,} respondents aged 15+; frame N = {ard.total:,} persons aged 15+")
    print(f"true mean degree {ard.mean_degree:.1f}; degree ratio of forced labour {ard.degree_ratio['forced_labour']:.3f}; "
          f"visibility {ard.visibility['forced_labour']:.1f} (= transmission x hidden degree)")
    ard.frame[["hh_id", "ln", "know_forced_labour", "know_trafficked", "know_teachers", "know_nurses", "know_twins"]].head()
    """),
    md("""
    **Basic (Killworth) estimator**: `N_H = N sum_i w_i y_iH / sum_i w_i d_i`, the degrees
    `d_i` from the known populations, with the survey's design weights; the interval is
    log-scale from a rescaled bootstrap over the design's PSUs (200 replicates, seed 11). It
    assumes no transmission error, so here it should fall short by about the missing 30%.
    """),
    code("""
    ard_design = fl.SurveyDesign(ard_file, weights="w_pers", strata="strat", psu="psu", lonely_psu="adjust")
    hidden_cols = ["know_forced_labour", "know_trafficked"]
    basic = nsum.scale_up(ard_design, hidden_cols, known, total=ard.total, replicates=200, seed=11)
    basic_tab = basic.to_frame().set_index("hidden")
    for col in hidden_cols:
        r = basic_tab.loc[col]
        compare(col.removeprefix("know_"), "NSUM basic", r["estimate"], r["ci_low"], r["ci_high"],
                "random mixing, degree ratio 1, no transmission error (broken here: tau = 0.7)")
    print(f"respondents with a missing count (under 15, not asked): {ard_file['know_twins'].isna().sum():,}")
    basic_tab[["estimate", "se", "ci_low", "ci_high", "n", "mean_degree"]]
    """),
    md("""
    **The known-population check.** Each known population is estimated in turn from the
    others, as if it were hidden (leave one out). Ratios near 1 say that the degrees are
    right; a population far from 1 mixes differently from the others and would be dropped.
    Here they are all close (the synthetic network has no recall error): the check cannot see
    transmission error, which concerns only the hidden population.
    """),
    code("""
    check = basic.known_population_check()
    print(f"RMSE {check.rmse:,.0f} persons; mean absolute relative error {check.are:.3f}")
    assert check.to_frame()["ratio"].between(0.9, 1.1).all()
    check.to_frame()[["known", "size", "estimate", "se", "ratio", "rel_error"]].round(3)
    """),
    md("""
    **Generalized estimator** (Feehan and Salganik 2016): `N_H = y_FH / vbar_HF`, the
    out-reports of the household survey divided by the hidden population's *visibility*,
    measured in a separate sample of the hidden population. `draw_hidden_sample` draws 500
    persons in forced labour (and 500 trafficked) at random, each saying how many members of
    each known population know about their situation; transmission error is in both samples,
    so it cancels. The two samples are bootstrapped independently.
    """),
    code("""
    generalized = {}
    for seed, name in ((5, "forced_labour"), (6, "trafficked")):
        hidden = synthetic.draw_hidden_sample(pop, 500, network=net, hidden=name, transmission=0.7, seed=seed)
        probes = [c for c in hidden.frame.columns if c.startswith("known_by_")]
        res = nsum.scale_up(ard_design, f"know_{name}", known, total=ard.total, method="generalized",
                            hidden_sample=hidden.frame, hidden_reports=probes, hidden_weights="weight",
                            replicates=200, seed=11)
        generalized[name] = res.to_frame().iloc[0]
        r = generalized[name]
        compare(name, "NSUM generalized", r["estimate"], r["ci_low"], r["ci_high"],
                "a probability sample of the hidden population reports its visibility as the survey does")
        print(f"{name}: true visibility {hidden.visibility:.1f}, true N_H {hidden.size:,}")
    pd.DataFrame(generalized).T[["estimate", "se", "ci_low", "ci_high", "n"]]
    """),
    md("""
    ### In the main job: the spec's `network` section

    The same basic estimate comes out of the main job when the module spec declares the "how
    many do you know" items (docs/nsum.md, "In the main job"). Here the built-in spec is
    copied with a `network` section appended and the ARD columns are merged into the
    survey's file; the report prints the scale-up table beside the direct numbers, clearly
    labelled: the two answer different questions and are compared, not combined.
    """),
    code("""
    known_yaml = "".join(f"    {name}: {{column: know_{name}, size: {size}}}\\n" for name, size in ard.known_sizes.items())
    network_section = f\"\"\"
    network:
      total: {ard.total}
      respondents: {{column: q1_03, op: ">=", value: 15}}
      hidden:
        forced_labour: know_forced_labour
        trafficked: know_trafficked
      known:
    {known_yaml}  method: basic
    \"\"\"
    spec_text = (SPEC_DIR / f"{SPEC}.yaml").read_text().replace(f"name: {SPEC}", f"name: {SPEC}-ard")
    print(network_section)
    """),
    code("""
    microdata = survey.microdata()
    with_ard = dataclasses.replace(microdata, frame=ard_file)   # the file with the ARD columns
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "moldova-ard.yaml"
        spec_path.write_text(spec_text + network_section)
        main_job = fl.estimate_prevalence(with_ard, spec_path, seed=1)
    print(main_job)
    """),
    code("""
    scale_up_rows = main_job.select("network_scale_up")
    job = main_job.to_frame().query("table == 'network_scale_up'").set_index("indicator")
    for name in ("forced_labour", "trafficked"):   # the same point estimate as the call above
        assert abs(job.loc[name, "estimate"] - basic_tab.loc[f"know_{name}", "estimate"]) < 1e-8 * job.loc[name, "estimate"]
    scale_up_rows
    """),
    md("""
    ## 4. Respondent-driven sampling among migrants

    `build_contact_network` gives the 373,000 migrants a network of close contacts (mean
    degree 15, homophily on forced-labour status and region) and `draw_rds` runs a
    respondent-driven sample on it: 10 seeds, 3 coupons each, until 500 respondents. Each
    reports their degree. RDS estimates a *share* of the migrants; **RDS-II**
    (Volz-Heckathorn) weights each respondent by `1/degree`, **SS** (Gile's successive
    sampling) also allows for sampling without replacement from a population of known size,
    here the survey's estimate of the number of migrants (as the frame of an RDS study would
    be known from a survey). Intervals: Salganik bootstrap, 1,000 replicates.
    """),
    code("""
    contacts = synthetic.build_contact_network(pop, seed=6)
    sample = synthetic.draw_rds(pop, network=contacts, n=500, seeds=10, coupons=3, seed=7)
    print(f"{len(sample.frame)} respondents in {sample.frame['seed_id'].nunique()} chains, up to wave {sample.frame['wave'].max()}; "
          f"target population {sample.population_size:,}")
    rds_results = {}
    for method in ("rds-ii", "ss"):
        for outcome in ("forced_labour", "trafficked"):
            rds_results[method, outcome] = rds.estimate(
                sample.frame, outcome, method=method, replicates=1000, seed=8,
                population_size=round(MIGRANTS_HAT) if method == "ss" else None)
    shares = pd.concat([r.to_frame() for r in rds_results.values()], ignore_index=True)
    shares["truth"] = shares["outcome"].map(sample.true_shares)
    shares[["outcome", "method", "estimate", "se", "ci_low", "ci_high", "n", "truth"]]
    """),
    md("""
    With 500 respondents out of about 385,000 migrants (0.13%, below 4%) the successive-sampling
    correction is negligible and SS equals RDS-II (the R package `RDS` does the same). The
    recruitment is strongly homophilous (respondents in forced labour recruit each other) and
    the chains are short (four waves), which is what makes the intervals wide:
    """),
    code("""
    ss, ii = shares[shares["method"] == "ss"], shares[shares["method"] == "rds-ii"]
    np.testing.assert_allclose(ss["estimate"].to_numpy(), ii["estimate"].to_numpy(), rtol=1e-12)
    rds_results["rds-ii", "forced_labour"].homophily()
    """),
    md("""
    **Convergence and bottlenecks.** Left: the estimate as respondents join, in the order of
    recruitment; a curve still drifting at the end says the sample has not forgotten its
    seeds, and a flat one only that it no longer depends on the order of recruitment, not
    that it is right (the dotted line is the truth, which a real study does not have). Right:
    the estimate within each seed's tree; trees with very different estimates (here trees
    with no one in forced labour beside trees at 10-15%) point to a bottleneck between parts
    of the population and a sample that depends on its seeds.
    """),
    code("""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    rds_results["rds-ii", "forced_labour"].plot_convergence(ax=left)
    rds_results["rds-ii", "forced_labour"].plot_bottleneck(ax=right)
    for ax in (left, right):
        ax.axhline(sample.true_shares["forced_labour"], color="#b22222", ls=":", lw=1, label="truth")
    left.legend(fontsize=8)
    plt.show()
    """),
    md("""
    **From a share to a number**: the RDS share times the survey's estimate of the number of
    migrants. The interval multiplies the share's bounds by that number; the survey's
    uncertainty about the number of migrants (CV under 2%) is small beside the share's and is
    left out. SS equals RDS-II here, so the comparison keeps one row.
    """),
    code("""
    for outcome in ("forced_labour", "trafficked"):
        r = rds_results["rds-ii", outcome].to_frame().iloc[0]
        compare(outcome, "RDS-II (= SS)", r["estimate"] * MIGRANTS_HAT, r["ci_low"] * MIGRANTS_HAT,
                r["ci_high"] * MIGRANTS_HAT,
                "random recruitment among reciprocal contacts, accurate degrees, long chains; x survey number of migrants")
    pd.DataFrame(COMPARISON[-2:])[["indicator", "method", "estimate", "ci_low", "ci_high"]].round(0)
    """),
    md("""
    ## 5. Multiple systems estimation from lists of known cases

    The synthetic generator has no administrative lists, so three are **made here from the
    population's truth**, with known capture probabilities: every person in forced labour is
    on the NGO list with probability 0.05 and on the labour inspectorate's with probability
    0.02, independently; on the police list with probability 0.03, or 0.09 when on the NGO
    list (NGOs refer cases to the police: a positive dependence between two lists, which a
    log-linear model can capture). Each case records whether the person was trafficked, so a
    second fit counts the trafficked. The population is closed and capture is homogeneous
    within it: MSE's assumptions hold, apart from the dependence, which the model selection
    (stepwise AIC) must find. Intervals: profile likelihood.
    """),
    code("""
    LISTS = ["police", "ngo", "inspectorate"]
    rng = np.random.default_rng(2024)
    victims = persons.loc[migrants & persons["forced_labour"].astype(bool), ["trafficked"]]
    ngo = rng.random(len(victims)) < 0.05
    cases = pd.DataFrame({"police": rng.random(len(victims)) < np.where(ngo, 0.09, 0.03), "ngo": ngo,
                          "inspectorate": rng.random(len(victims)) < 0.02,
                          "trafficked": victims["trafficked"].astype(bool).to_numpy()}).astype(int)
    on_a_list = cases[cases[LISTS].any(axis=1)]


    def histories(frame):
        return frame.groupby(LISTS).size().rename("count").reset_index()


    lists_fl = histories(on_a_list)
    print(f"{len(on_a_list):,} cases on at least one list ({on_a_list['trafficked'].sum():,} trafficked)")
    lists_fl
    """),
    code("""
    mse_results = {"forced_labour": mse.fit(lists_fl),
                   "trafficked": mse.fit(histories(on_a_list[on_a_list["trafficked"] == 1]))}
    for name, res in mse_results.items():
        compare(name, "MSE", res.population, res.ci_low, res.ci_high,
                "closed population, homogeneous capture, list dependence in the selected model")
        print(f"{name}: {res.population:,.0f} ({res.ci_low:,.0f} - {res.ci_high:,.0f}); "
              f"interactions {res.interactions}")
    print(mse_results["forced_labour"].summary())
    """),
    md("""
    ## 6. The four estimates against the truth
    """),
    code("""
    table = pd.DataFrame(COMPARISON)
    table["truth"] = table["indicator"].map(TRUTH)
    table["error %"] = 100 * (table["estimate"] / table["truth"] - 1)
    table["covers truth"] = (table["ci_low"] <= table["truth"]) & (table["truth"] <= table["ci_high"])
    shown = table[["indicator", "method", "estimate", "ci_low", "ci_high", "truth", "error %", "covers truth",
                   "key assumption"]]
    # the text below describes these results: keep it true
    by_method = table.set_index(["method", "indicator"])
    assert by_method.loc["NSUM basic", "error %"].between(-35, -20).all()
    assert not by_method.loc["NSUM basic", "covers truth"].any()
    assert by_method.loc[["direct survey", "NSUM generalized", "MSE"], "covers truth"].all()
    with pd.option_context("display.max_colwidth", 110):
        display(shown.round({"estimate": 0, "ci_low": 0, "ci_high": 0, "error %": 1}))
    """),
    code("""
    methods = list(dict.fromkeys(table["method"]))
    colors = dict(zip(methods, plt.cm.tab10.colors, strict=False))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for ax, (ind, rows) in zip(axes, table.groupby("indicator", sort=False), strict=True):
        y = np.arange(len(rows))[::-1]
        for yi, r in zip(y, rows.itertuples(index=False), strict=True):
            ax.errorbar(r.estimate / 1000, yi, xerr=[[(r.estimate - r.ci_low) / 1000], [(r.ci_high - r.estimate) / 1000]],
                        fmt="o", color=colors[r.method], capsize=3)
        ax.axvline(TRUTH[ind] / 1000, color="k", ls="--", lw=1, label="truth")
        ax.set_yticks(y, rows["method"])
        ax.set_xlabel("thousand persons (95% CI)")
        ax.set_title(ind.replace("_", " "))
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle("One synthetic Moldova-style country: four estimates against the truth")
    plt.show()
    print(f"run time of the notebook: {time.perf_counter() - START:.0f} s")
    """),
    md("""
    ## Which to use when

    * The **direct survey estimate** is the reference when the hidden population is inside the
      survey's universe and answers honestly: it has a design-based interval and the
      classification is auditable person by person. It cannot count people the survey does
      not reach (people still abroad and not reported by their household, people in
      institutions) and it is wide for rare classes.
    * **Network scale-up** reaches the hidden population through the respondents' networks and
      is very precise, but precise about the wrong thing when its assumptions fail: with 30%
      transmission error the basic estimate falls short by about 30% while its interval
      excludes the truth. Read the basic estimate as a lower bound unless a visibility
      sample (the generalized estimator) or an external transmission rate is available; check
      the known populations.
    * **RDS** needs no frame and reaches the population directly, but gives a share with wide
      intervals (homophily, 500 respondents in short chains) that depends on where the chains
      started, and needs the size of the target population (here from the survey) to make a
      number.
    * **MSE** needs no survey at all, only lists with overlaps; it depends on the model for
      the lists' dependence and on capture being similar for everyone (heterogeneity biases
      it down), and the overlaps of real lists are often tiny.

    One draw says little about a method's bias or coverage: the simulation study in
    [docs/hidden.md](../docs/hidden.md) repeats these draws, breaks each assumption in turn
    (barrier effects, transmission error, RDS homophily) and gives the guidance this notebook
    only illustrates. See also [docs/nsum.md](../docs/nsum.md), [docs/rds.md](../docs/rds.md),
    [docs/mse.md](../docs/mse.md).
    """),
]


NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_domains_and_plots.ipynb": DOMAINS,
    "03_replicate_weights_and_calibration.ipynb": REPLICATE,
    "04_batch_and_dask.ipynb": BATCH,
    "06_risk_factors.ipynb": RISK,
    "07_hidden_populations.ipynb": HIDDEN,
}


def build(name: str, cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    stem = name.split("_")[0]
    for i, cell in enumerate(nb.cells):   # stable ids: a rebuild changes only what was edited
        cell["id"] = f"nb{stem}-{i:02d}"
    nbformat.validate(nb)
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(name, cells), HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
