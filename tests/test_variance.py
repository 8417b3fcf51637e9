"""Variance kernels: segmented sums and the two (dense and sparse) pair indexes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from flestimate import SurveyDesign
from flestimate.variance import dense_pairs, segment_sum, sparse_pairs


def test_segment_sum_matches_groupby() -> None:
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 7, 200)
    vals = rng.normal(size=(200, 3))
    got = segment_sum(idx, vals, 9)
    want = pd.DataFrame(vals).groupby(idx).sum().reindex(range(9), fill_value=0.0).to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(segment_sum(idx, vals[:, 0], 9), want[:, 0], rtol=1e-13)


def test_pair_indexes() -> None:
    dense = dense_pairs(4, 2)
    assert dense.unit.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert dense.cell.tolist() == [0, 1] * 4
    sparse, inverse = sparse_pairs(np.array([5, 1, 5, 6]), 2)
    assert sparse.unit.tolist() == [0, 2, 3] and sparse.cell.tolist() == [1, 1, 0]
    assert inverse.tolist() == [1, 0, 1, 2]


@pytest.mark.parametrize("subpop", [None, "migrant"])
def test_sparse_pairs_and_chunks_give_same_estimates(
    monkeypatch: pytest.MonkeyPatch, lfs, subpop
) -> None:
    """Dense pairs in small row chunks, and sorted pairs in one pass, change nothing."""
    from flestimate import _sums

    frame = lfs.assign(fl_missing=lfs["fl"].where(lfs["age"] % 7 != 0))
    des = SurveyDesign(frame, weights="w", strata="stratum", psu="psu", nest=True)
    vars_ = ["fl", "thb", "fl_missing"]

    def run() -> pd.DataFrame:
        with pytest.warns(UserWarning):
            return des.proportion(vars_, by="dest", subpop=subpop).to_frame()

    base = run()
    monkeypatch.setattr(_sums, "_CHUNK", 1000)
    pd.testing.assert_frame_equal(base, run(), rtol=1e-12)
    monkeypatch.setattr(_sums, "_DENSE_ELEMENTS", 0)
    pd.testing.assert_frame_equal(base, run(), rtol=1e-12)


def test_segment_sum_with_row_weights() -> None:
    idx = np.array([0, 1, 0, 2])
    vals = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])
    w = np.array([2.0, 1.0, 0.5, 0.0])
    got = segment_sum(idx, vals, 3, w)
    assert got.tolist() == [[4.5, 7.0], [3.0, 4.0], [0.0, 0.0]]
    assert segment_sum(idx, vals[:, 0], 3, w).tolist() == [4.5, 3.0, 0.0]


@pytest.mark.parametrize("subpop", [None, "high"])
def test_dense_and_sparse_pairs_give_identical_variances(
    monkeypatch: pytest.MonkeyPatch, subpop: str | None
) -> None:
    """Pairs without a row count among a group's absent units: every (unit, cell) pair
    (dense) or only those with a row of the domain (sparse) give the same numbers to the last
    bit. Reference: the same call on R's ``data(apiclus2)`` (``apiclus2.csv``; two stages with
    FPCs, as ``svydesign(id=~dnum+snum, fpc=~fpc1+fpc2)``), each layout forced."""
    from flestimate import _sums
    from tests.conftest import load_api

    frame = load_api("apiclus2")
    frame = frame.assign(award=(frame["awards"] == "Yes").astype(float),
                         high=frame["api00"] > 750)
    des = SurveyDesign(frame, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])

    def run() -> pd.DataFrame:
        return des.proportion(["award", "yr.rnd"], by="stype", subpop=subpop).to_frame()

    monkeypatch.setattr(_sums, "_DENSE_PAIRS_PER_ROW", 10**9)
    dense = run()
    monkeypatch.setattr(_sums, "_DENSE_ELEMENTS", 0)
    pd.testing.assert_frame_equal(dense, run(), check_exact=True)
