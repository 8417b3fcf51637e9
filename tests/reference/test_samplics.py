"""Cross-check against samplics (0.6), the Python peer named as a test oracle.

Reference: ``samplics.estimation.TaylorEstimator`` (PopParam.mean, .prop and .total) with
``samp_weight``, ``stratum``, ``psu`` and ``domain`` on ``tests/reference/data/lfs_n20000.parquet``
(stratified two-stage sample, with-replacement first stage), where samplics is correct:
Taylor means, proportions and totals nationally and by domain, point estimates and standard
errors to 1e-10 relative. (Not compared: samplics' intervals of proportions, which are Wald
or logit only, and its FPC handling, which misread an FPC in its issue 60.)
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from flestimate import SurveyDesign

samplics = pytest.importorskip("samplics")

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # "samplics is archived"
    from samplics.estimation import TaylorEstimator
    from samplics.utils.types import PopParam


@pytest.fixture(scope="module")
def design(lfs: pd.DataFrame) -> SurveyDesign:
    return SurveyDesign(lfs, weights="w", strata="stratum", psu="psu_uid")


def _samplics(lfs: pd.DataFrame, param: PopParam, y: str, domain: str | None
              ) -> tuple[dict[object, float], dict[object, float]]:
    est = TaylorEstimator(param)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.estimate(y=lfs[y].to_numpy(), samp_weight=lfs["w"].to_numpy(),
                     stratum=lfs["stratum"].to_numpy(), psu=lfs["psu_uid"].to_numpy(),
                     domain=None if domain is None else lfs[domain].to_numpy(),
                     remove_nan=False)
    point, se = est.point_est, est.stderror
    if param is PopParam.prop:  # {domain: {level: value}} or {level: value}: the share of 1
        point = {k: v[1] for k, v in point.items()} if domain else {None: point[1]}
        se = {k: v[1] for k, v in se.items()} if domain else {None: se[1]}
    elif domain is None:
        point, se = {None: point}, {None: se}
    return point, se


@pytest.mark.parametrize("domain", [None, "region"], ids=["national", "by-region"])
@pytest.mark.parametrize(("param", "method", "y"), [
    (PopParam.mean, "mean", "age"),
    (PopParam.prop, "proportion", "fl"),
    (PopParam.total, "total", "fl"),
], ids=["mean-age", "proportion-fl", "total-fl"])
def test_taylor_agrees_with_samplics(design: SurveyDesign, lfs: pd.DataFrame,
                                     param: PopParam, method: str, y: str,
                                     domain: str | None) -> None:
    point, se = _samplics(lfs, param, y, domain)
    ours = getattr(design, method)(y, by=domain).to_frame()
    keys = [None] if domain is None else ours[domain].tolist()
    assert len(ours) == len(point)
    np.testing.assert_allclose(ours["estimate"], [float(point[k]) for k in keys], rtol=1e-10)
    np.testing.assert_allclose(ours["se"], [float(se[k]) for k in keys], rtol=1e-10)
