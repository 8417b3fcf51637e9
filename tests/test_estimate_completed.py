"""``estimate_completed`` (and ``shares_and_totals_completed``, both from one pass): the completions of imputed variables estimated at once, summing the
rows no completion changes only once.

Reference: the same estimators on the ``M`` completed columns written out in full
(``proportion``/``total`` of explicit columns, themselves checked against R survey in
test_estimate.py, test_replicate.py and test_calibration.py); equal to 1e-12 relative on Taylor
(dense and sparse pair indexing), calibrated and replicate designs, with domains, a
subpopulation and categorical columns with missing codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flestimate import _sums
from flestimate.design import SurveyDesign
from flestimate.errors import ArgumentError
from flestimate.estimate import (
    Completed,
    estimate_completed,
    proportion,
    shares_and_totals_completed,
    total,
)

COLS = ["estimate", "se", "n", "n_eff", "deff", "df", "ci_low", "ci_high"]


def _frame(seed: int, n: int = 600, m: int = 4, k_rows: int = 40
           ) -> tuple[pd.DataFrame, list[Completed], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "stratum": rng.integers(0, 5, n),
        "w": rng.uniform(0.5, 3.0, n),
        "dom": rng.choice(["a", "b", "c"], n),
        "sub": rng.random(n) < 0.8,
        "y": (rng.random(n) < 0.2).astype(float),
    })
    frame["psu"] = frame["stratum"] * 100 + rng.integers(0, 6, n)
    codes = np.where(frame["y"] == 1, rng.integers(0, 3, n), -1)
    frame["form"] = pd.Categorical.from_codes(codes, categories=["x", "y", "z"])
    rows = np.sort(rng.choice(n, k_rows, replace=False))
    yv = (rng.random((m, k_rows)) < 0.5).astype(float)
    fv = np.where(yv == 1, rng.integers(0, 3, (m, k_rows)), -1)
    explicit = {}
    for j in range(m):
        col = frame["y"].to_numpy().copy()
        col[rows] = yv[j]
        explicit[f"y@{j}"] = col
        fc = codes.copy()
        fc[rows] = fv[j]
        explicit[f"form@{j}"] = pd.Categorical.from_codes(fc, categories=["x", "y", "z"])
    frame = pd.concat([frame, pd.DataFrame(explicit, index=frame.index)], axis=1)
    return frame, [Completed("y", rows, yv), Completed("form", rows, fv)], explicit


def _compare(design: SurveyDesign, comp: list[Completed], m: int, **kw: object) -> None:
    both = shares_and_totals_completed(design, comp, **kw)  # type: ignore[arg-type]
    for kind, func in (("proportion", proportion), ("total", total)):
        fast = estimate_completed(design, kind, comp, **kw).to_frame()  # type: ignore[arg-type]
        one_pass = both[0 if kind == "proportion" else 1].to_frame()
        pd.testing.assert_frame_equal(one_pass, fast)
        names = [f"y@{j}" for j in range(m)] + [f"form@{j}" for j in range(m)]
        slow = func(design, names, **kw).to_frame()  # type: ignore[operator]
        keys = [c for c in ("dom", "variable", "category") if c in slow.columns]
        a = fast.sort_values(keys, kind="stable").reset_index(drop=True)
        b = slow.sort_values(keys, kind="stable").reset_index(drop=True)
        assert a[keys].astype(str).equals(b[keys].astype(str))
        for c in COLS:
            np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float),
                                       rtol=1e-12, atol=1e-14, err_msg=f"{kind} {c}")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_taylor_domains_and_subpopulation(seed: int) -> None:
    frame, comp, _ = _frame(seed)
    design = SurveyDesign(frame, weights="w", strata="stratum", psu="psu", nest=True)
    _compare(design, comp, 4, by="dom", subpop="sub", ci="wald")
    _compare(design, comp, 4)


def test_sparse_pair_indexing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sums, "_DENSE_ELEMENTS", 0)
    frame, comp, _ = _frame(4)
    design = SurveyDesign(frame, weights="w", strata="stratum", psu="psu", nest=True)
    _compare(design, comp, 4, by="dom", subpop="sub")


def test_calibrated_design() -> None:
    frame, comp, _ = _frame(5)
    design = SurveyDesign(frame, weights="w", strata="stratum", psu="psu", nest=True)
    totals = {"dom": {"a": 400.0, "b": 420.0, "c": 380.0}}
    _compare(design.calibrate(totals), comp, 4, by="dom")


def test_replicate_design() -> None:
    frame, comp, _ = _frame(6)
    design = SurveyDesign(frame, weights="w", strata="stratum", psu="psu", nest=True)
    _compare(design.to_replicate("bootstrap", replicates=30, seed=2), comp, 4, by="dom",
             subpop="sub")
    _compare(design.to_replicate("jkn"), comp, 4)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k_rows=st.integers(0, 60), m=st.integers(1, 5))
def test_any_completed_rows(seed: int, k_rows: int, m: int) -> None:
    frame, comp, _ = _frame(seed, n=300, m=m, k_rows=k_rows)
    design = SurveyDesign(frame, weights="w", strata="stratum", psu="psu", nest=True)
    _compare(design, comp, m, by="dom", subpop="sub")


def test_bad_completions_are_named() -> None:
    frame, comp, _ = _frame(7)
    design = SurveyDesign(frame, weights="w", strata="stratum", psu="psu", nest=True)
    bad = Completed("y", comp[0].rows, comp[0].values[:, :3])
    with pytest.raises(ArgumentError, match="completed 'y' must have shape"):
        estimate_completed(design, "proportion", [bad])
    unsorted = Completed("y", comp[0].rows[::-1], comp[0].values)
    with pytest.raises(ArgumentError, match="sorted"):
        estimate_completed(design, "total", [unsorted])
    with pytest.raises(ArgumentError, match="`kind`"):
        estimate_completed(design, "mean", comp)  # type: ignore[arg-type]
