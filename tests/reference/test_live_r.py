"""Live checks against R survey (marker ``needs_r``; skipped when ``Rscript`` is absent).

1. The shipped fixtures regenerate: ``r_lonely_reference.R`` run now gives the shipped
   ``lonely_reference.json`` numbers (whatever R survey version is installed; R 4.1.1's lonely
   rules are the reference).
2. A statistic outside the fixtures: on ``lfs_n20000.parquet``,
   ``svyby(~ind_wage, ~region, subset(des, migrant == 1), svyciprop, method="beta",
   vartype=c("se","ci"))`` and ``svytotal(~factor(sector), subset(des, migrant == 1))`` with
   ``des <- svydesign(ids=~psu, strata=~stratum, weights=~w, nest=TRUE)``, compared with
   flestimate to 1e-8 (estimates, SEs) and 1e-6 (intervals).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flestimate import SurveyDesign
from tests.conftest import DATA

pytestmark = pytest.mark.needs_r

LIVE_SCRIPT = r"""
suppressPackageStartupMessages({ library(survey); library(jsonlite) })
d <- read.csv(commandArgs(trailingOnly = TRUE)[1], stringsAsFactors = FALSE)
des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, nest = TRUE, data = d)
dm <- subset(des, migrant == 1)
b <- as.data.frame(svyby(~ind_wage, ~region, dm, svyciprop, method = "beta",
                         vartype = c("se", "ci")))
t <- svytotal(~factor(sector), dm)
cat(toJSON(list(region = b$region, est = b$ind_wage, se = b[[3]],
                lci = b$ci_l, uci = b$ci_u, tot_names = names(coef(t)),
                tot = unname(coef(t)), tot_se = unname(SE(t)), survey =
                as.character(packageVersion("survey"))), digits = NA))
"""


def _rscript(*args: str) -> str:
    out = subprocess.run(["Rscript", *args], check=True, capture_output=True, text=True,
                         timeout=600)
    return out.stdout


def test_lonely_fixture_regenerates(tmp_path: Path) -> None:
    shutil.copy(DATA / "lonely.csv", tmp_path / "lonely.csv")
    _rscript(str(DATA / "r_lonely_reference.R"), str(tmp_path))
    new = json.loads((tmp_path / "lonely_reference.json").read_text())["results"]
    old = json.loads((DATA / "lonely_reference.json").read_text())["results"]
    for key in ("remove", "certainty", "average", "certainty_fpc"):
        np.testing.assert_allclose(new[key]["mean"]["se"], old[key]["mean"]["se"], rtol=1e-12)


def test_live_domain_ciprop_and_category_totals(tmp_path: Path, lfs: pd.DataFrame) -> None:
    csv = tmp_path / "lfs.csv"
    cols = ["psu", "stratum", "w", "migrant", "region", "ind_wage", "sector"]
    lfs[cols].to_csv(csv, index=False)
    script = tmp_path / "live.R"
    script.write_text(LIVE_SCRIPT)
    # R's CSV reader turns an empty sector into NA; ours gives NaN, handled the same way.
    ref = json.loads(_rscript(str(script), str(csv)))
    des = SurveyDesign(pd.read_csv(csv), weights="w", strata="stratum", psu="psu", nest=True)
    got = des.proportion("ind_wage", by="region", subpop="migrant", ci="beta").to_frame()
    got = got.set_index("region").loc[ref["region"]]
    np.testing.assert_allclose(got["estimate"], ref["est"], rtol=1e-8)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-8)
    np.testing.assert_allclose(got["ci_low"], ref["lci"], rtol=1e-6)
    np.testing.assert_allclose(got["ci_high"], ref["uci"], rtol=1e-6)
    tot = des.total("sector", subpop="migrant").to_frame()
    names = [n.removeprefix("factor(sector)") for n in ref["tot_names"]]
    tot = tot.set_index("category").loc[names]
    np.testing.assert_allclose(tot["estimate"], ref["tot"], rtol=1e-8)
    np.testing.assert_allclose(tot["se"], ref["tot_se"], rtol=1e-8)
