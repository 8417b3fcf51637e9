"""The interval coverage study (``benchmarks/coverage.py``, issue 8) runs end to end with tiny
settings and writes results of the documented structure.

No external reference: the study's truth is the synthetic population it builds (checked here:
exact national rates), and the sanity checks are that every coverage is a share in [0, 1] and
that the mean of the national estimates is near the truth.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import benchmark_script

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "coverage.py"


@pytest.fixture(scope="module")
def coverage():
    yield from benchmark_script(SCRIPT.name, "coverage_study")


@pytest.fixture(scope="module")
def result(coverage):
    return coverage.run(5, seed=11, jobs=1, households=1500, population_households=120_000,
                        boot_reps=20, progress=False)


def test_population_truth_is_exact(coverage, result):
    nat = result["population"]["truth"][0]
    assert nat["domain"] == "National"
    for name, rate in zip(coverage.OUTCOMES, coverage.RATES, strict=True):
        assert abs(nat[name] - rate) <= 1.0 / nat["population_n"]
    for o in result["population"]["outcomes"]:
        assert o["icc_observed_scale"] == pytest.approx(coverage.ICC, abs=1e-6)


def test_structure(coverage, result):
    assert set(result) >= {"cells", "summary", "goal", "domains", "sample", "settings",
                           "population", "consistency_check", "timing", "machine"}
    n_dom = len(coverage._domain_list())
    assert len(result["cells"]) == (len(coverage.RATES) * len(coverage.DESIGNS)
                                    * len(coverage.METHODS) * n_dom)
    keys = {"rate", "design", "method", "domain", "truth", "coverage", "mc_se", "miss_below",
            "miss_above", "no_interval", "mean_width", "relative_bias", "se_ratio",
            "mean_n_eff", "effective_cases"}
    assert all(keys <= set(c) for c in result["cells"])
    groupings = {r["grouping"] for r in result["summary"]}
    assert groupings == {"n_eff", "eff_cases"}
    assert set(result["goal"]) == set(coverage.DESIGNS)
    # confidence_interval(...) gives what proportion(ci=...) gives
    assert max(result["consistency_check"]["max_abs_diff"].values()) < 1e-12
    json.dumps(result, default=float)  # JSON-ready


def test_values_are_sane(result):
    for c in result["cells"]:
        for key in ("coverage", "miss_below", "miss_above", "no_interval"):
            assert 0.0 <= c[key] <= 1.0, (key, c)
        assert c["coverage"] + c["miss_below"] + c["miss_above"] + c["no_interval"] == (
            pytest.approx(1.0))
    national = [c for c in result["cells"] if c["domain_by"] == "national"
                and c["design"] == "taylor" and c["method"] == "korn-graubard"]
    # five samples of ~3,000 persons: the mean estimate is within a loose tolerance of the truth
    for c in national:
        tol = 0.6 if c["rate"] < 0.01 else 0.3
        assert abs(c["relative_bias"]) < tol, c
        assert np.isfinite(c["mean_width"]) and c["mean_width"] > 0


def test_report_writes_the_page(coverage, result, tmp_path):
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(result, default=float))
    page = tmp_path / "coverage.md"
    assert coverage.main(["--report", str(path), "--docs", str(page), "--quiet"]) == 0
    text = page.read_text()
    assert text.startswith("# Interval coverage")
    assert "| rate | design | method |" in text
    assert "Does the default meet the goal?" in text
