"""Variance kernels: segmented sums and the two (dense and sparse) pair indexes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flestimate import SurveyDesign, variance
from flestimate.variance import build_pairs, segment_sum


def test_segment_sum_matches_groupby() -> None:
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 7, 200)
    vals = rng.normal(size=(200, 3))
    got = segment_sum(idx, vals, 9)
    want = pd.DataFrame(vals).groupby(idx).sum().reindex(range(9), fill_value=0.0).to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(segment_sum(idx, vals[:, 0], 9), want[:, 0], rtol=1e-13)


def test_pairs_dense_and_sparse_agree() -> None:
    unit = np.array([0, 0, 1, 2, 2, 3])
    cell = np.array([0, 1, -1, 1, 1, 0])
    dense = build_pairs(unit, cell, 4, 2)
    assert dense.n_pairs == 8
    vals = np.arange(6, dtype=float)[:, None] * (cell >= 0)[:, None]
    t_dense = dense.totals(vals)
    assert t_dense[:, 0].tolist() == [0, 1, 0, 0, 0, 7, 5, 0]


def test_sparse_pair_path_gives_same_estimates(monkeypatch: pytest.MonkeyPatch, lfs) -> None:
    """Forcing np.unique-compressed pairs changes nothing (rows as PSUs, 9 domain cells)."""
    des = SurveyDesign(lfs, weights="w", strata="stratum")
    dense = des.mean(["fl", "thb"], by="dest").to_frame()
    monkeypatch.setattr(variance, "_DENSE_BINS", 0)
    sparse_pairs = build_pairs(des.stages[0].unit, np.zeros(len(lfs), dtype=np.int64),
                               des.n_psu, 9)
    assert sparse_pairs.n_pairs == len(lfs)
    sparse = des.mean(["fl", "thb"], by="dest").to_frame()
    pd.testing.assert_frame_equal(dense, sparse, rtol=1e-12)
