"""The hidden-population simulation study (``benchmarks/hidden.py``, issue 20).

Reference: the synthetic population's truth (``synthetic.draw_ard``'s ``hidden_sizes``, the
contact network's ``true_shares`` from ``synthetic.draw_rds``), as in the committed run
``benchmarks/results/hidden_200.json``. The fast test runs two samples of the scenarios whose
assumptions hold end to end and checks the records; the slow study (CI) runs 30 fresh samples
(seeds other than the committed run's) of scenario (a) and checks that the basic scale-up
estimator and RDS-II are unbiased within their Monte Carlo error and that their 95% intervals
cover the truth in a sensible share of the samples (at least 80% of 30: a true coverage of 95%
gives fewer than 24 of 30 with probability 0.2%).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import benchmark_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "hidden.py"
FIELDS = {"study", "scenario", "estimator", "target", "truth", "estimate", "se", "ci_low",
          "ci_high", "seed"}


@pytest.fixture(scope="module")
def study():  # type: ignore[no-untyped-def]
    yield from benchmark_script(SCRIPT.name, "hidden_study")


def test_two_samples_end_to_end(study) -> None:  # type: ignore[no-untyped-def]
    """Two samples of NSUM (a) and RDS (a), few replicates: one record per sample, estimator
    and target, every value finite, the interval around the estimate; the summary's bias and
    coverage are the records' (mean / truth - 1; share of intervals covering the truth)."""
    options = {"scenarios": ("nsum-a", "rds-a"), "nsum_replicates": 20, "rds_replicates": 50}
    records, summary, seconds = study.run(2, seed=11, jobs=1, options=options)
    assert FIELDS <= set(records.columns)
    # NSUM: 2 hidden populations x 1 estimator; RDS: 4 estimators, 1 outcome
    assert len(records) == 2 * (2 + 4)
    assert set(records["seed"]) == {11, 12}
    values = records[["truth", "estimate", "se", "ci_low", "ci_high"]].to_numpy(float)
    assert np.isfinite(values).all()
    assert (records["se"] > 0).all()
    assert (records["ci_low"] <= records["estimate"]).all()
    assert (records["estimate"] <= records["ci_high"]).all()
    nsum = records[records["study"] == "nsum"]
    assert set(nsum["target"]) == {"forced_labour", "trafficked"}
    assert (nsum["truth"] > 1000).all()
    rds = records[records["study"] == "rds"]
    assert set(rds["estimator"]) == {"RDS-I", "RDS-II", "SS", "RDS-II, tree bootstrap"}
    assert ((rds["truth"] > 0) & (rds["truth"] < 1)).all()
    assert seconds > 0
    assert len(summary) == 2 + 4
    for r in summary.itertuples(index=False):
        g = records[(records["estimator"] == r.estimator) & (records["target"] == r.target)
                    & (records["study"] == r.study)]
        assert r.relative_bias == pytest.approx(g["estimate"].mean() / r.truth - 1, rel=1e-12)
        cover = ((g["ci_low"] <= r.truth) & (r.truth <= g["ci_high"])).mean()
        assert r.coverage == pytest.approx(cover, abs=1e-12)
    text = study.markdown(summary, {"samples": 2, "version": "x", "seconds": 1.0,
                                    "machine": "test"})
    assert "| (a) assumptions hold | basic | forced_labour |" in text
    assert "RDS-II, tree bootstrap" in text


@pytest.mark.slow
def test_unbiased_with_coverage_when_assumptions_hold(study) -> None:  # type: ignore[no-untyped-def]
    """30 samples of scenario (a): NSUM basic (200 bootstrap replicates) and RDS-II
    (Salganik bootstrap, 500 replicates) within 3 Monte Carlo SEs (or 2%) of the truth,
    coverage at least 80%."""
    options = {"scenarios": ("nsum-a", "rds-a"), "nsum_replicates": 200,
               "rds_replicates": 500}
    _, s, _ = study.run(30, seed=5000, jobs=2, options=options)
    rows = s[((s["study"] == "nsum") & (s["estimator"] == "basic"))
             | ((s["study"] == "rds") & (s["estimator"] == "RDS-II"))]
    assert len(rows) == 3
    for r in rows.itertuples(index=False):
        assert r.samples == 30
        assert abs(r.relative_bias) < max(0.02, 3 * r.bias_mc_se), r
        assert 0.8 <= r.coverage <= 1.0, r
        assert 0.6 < r.se_ratio < 1.6, r
