"""chisq(): the Rao-Scott and Wald tests of association computed by hand, the result object,
missing values, subpopulations and the errors. The numbers against R survey's ``svychisq``
are in tests/reference/test_chisq_reference.py."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from flestimate import FlestimateWarning, SurveyDesign
from flestimate.chisq import ChisqTest
from flestimate.errors import ArgumentError, DataError

STAT = 1e-10


def _weights_only_frame(n: int = 60, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n)
    b = np.where(rng.random(n) < 0.3 + 0.4 * a, 1, 0)  # associated with a
    c = rng.integers(0, 3, n)
    return pd.DataFrame({"a": np.where(a == 1, "yes", "no"), "b": b, "c": c,
                         "w": rng.uniform(1, 5, n)})


def _by_hand(frame: pd.DataFrame, row: str, col: str) -> dict[str, float]:
    """Rao and Scott (1984) for a design of one row per PSU, no strata, weights only.

    Cell shares ``p = sum w I / sum w``; their covariance (Taylor, with replacement)
    ``V = n/(n-1) sum_i z_i z_i'`` with ``z_i = w_i (I_i - p) / sum w``; Pearson's X^2 of the
    weighted table scaled to ``n`` rows, ``X^2 = n sum (p_ij - p_i. p_.j)^2 / (p_i. p_.j)``;
    ``Delta = (C' D^-1 C / n)^-1 C' D^-1 V D^-1 C`` with ``D = diag(p)`` and ``C`` the
    interaction columns made orthogonal to the main effects; first order ``X^2 / mean(delta)``
    on ``k = (r-1)(c-1)`` df; second order ``F = X^2 / tr(Delta)`` on ``d0 = tr(Delta)^2 /
    tr(Delta^2)`` (Satterthwaite) and ``d0 (n - 1)`` df.
    """
    rows, cols = pd.factorize(frame[row], sort=True), pd.factorize(frame[col], sort=True)
    nr, nc, n = len(rows[1]), len(cols[1]), len(frame)
    w = frame["w"].to_numpy()
    ind = np.zeros((n, nr * nc))
    ind[np.arange(n), rows[0] + nr * cols[0]] = 1.0
    p = w @ ind / w.sum()
    z = w[:, None] * (ind - p) / w.sum()
    v = n / (n - 1) * z.T @ z
    table = p.reshape(nc, nr).T
    indep = np.outer(table.sum(axis=1), table.sum(axis=0))
    x2 = n * np.sum((table - indep) ** 2 / indep)
    r_of, c_of = np.tile(np.arange(nr), nc), np.repeat(np.arange(nc), nr)
    main = np.column_stack([np.ones(nr * nc)] + [r_of == i for i in range(1, nr)]
                           + [c_of == j for j in range(1, nc)]).astype(float)
    inter = np.column_stack([(r_of == i) & (c_of == j) for j in range(1, nc)
                             for i in range(1, nr)]).astype(float)
    c = inter - main @ np.linalg.lstsq(main, inter, rcond=None)[0]
    d_inv = np.diag(1 / p)
    delta = np.linalg.solve(c.T @ d_inv @ c / n, c.T @ d_inv @ v @ d_inv @ c)
    k, tr = delta.shape[0], np.trace(delta)
    d0 = tr**2 / np.trace(delta @ delta)
    return {"x2": x2, "chisq": x2 / (tr / k), "chisq_p": stats.chi2.sf(x2 / (tr / k), k),
            "F": x2 / tr, "d0": d0, "ddf": d0 * (n - 1),
            "F_p": stats.f.sf(x2 / tr, d0, d0 * (n - 1))}


@pytest.mark.parametrize("col", ["b", "c"])
def test_rao_scott_by_hand_on_a_weights_only_design(col: str) -> None:
    """A 2 x 2 (and a 2 x 3) table on a design of weights only: Pearson's X^2, the first-
    and second-order Rao-Scott statistics, their df and p-values as written out in
    :func:`_by_hand` (Rao and Scott 1984; R survey ``svychisq``'s formulas)."""
    frame = _weights_only_frame()
    design = SurveyDesign(frame, weights="w")
    hand = _by_hand(frame, "a", col)
    first = design.chisq("a", col, statistic="Chisq").to_frame().iloc[0]
    second = design.chisq("a", col).to_frame().iloc[0]
    assert first["pearson"] == pytest.approx(hand["x2"], rel=STAT)
    assert first["value"] == pytest.approx(hand["chisq"], rel=STAT)
    assert first["p_value"] == pytest.approx(hand["chisq_p"], rel=STAT)
    assert second["value"] == pytest.approx(hand["F"], rel=STAT)
    assert second["ndf"] == pytest.approx(hand["d0"], rel=STAT)
    assert second["ddf"] == pytest.approx(hand["ddf"], rel=STAT)
    assert second["p_value"] == pytest.approx(hand["F_p"], rel=STAT)
    if col == "b":  # one contrast: d0 = 1 and the two corrections are one test
        assert second["ndf"] == pytest.approx(1.0, rel=STAT)
        assert second["value"] == pytest.approx(first["value"], rel=STAT)


def test_independent_columns_give_a_large_p_value() -> None:
    """Columns independent in the weighted table (every row has a twin of the same weight
    with ``y`` flipped, in another PSU, so each ``x`` splits evenly over ``y``): X^2 and the
    Wald residuals are 0 to rounding and every statistic gives p = 1."""
    rng = np.random.default_rng(5)
    n = 200
    base = pd.DataFrame({"x": rng.integers(0, 3, n), "y": rng.integers(0, 2, n),
                         "psu": np.repeat(np.arange(20), 10), "w": rng.uniform(1, 3, n)})
    frame = pd.concat([base, base.assign(y=1 - base["y"], psu=base["psu"] + 20)],
                      ignore_index=True)
    design = SurveyDesign(frame, weights="w", psu="psu")
    for statistic in ("F", "Chisq", "Wald", "adjWald", "saddlepoint"):
        test = design.chisq("x", "y", statistic=statistic)
        assert test.p_value == pytest.approx(1.0, abs=1e-12), statistic
        assert test.value == pytest.approx(0.0, abs=1e-20), statistic
    # and the same data with y tied to x rejects independence
    tied = frame.assign(y=(frame["x"] > 0).astype(int) ^ (rng.random(2 * n) < 0.1))
    assert SurveyDesign(tied, weights="w", psu="psu").chisq("x", "y").p_value < 1e-6


def test_wald_is_invariant_to_the_order_of_the_levels() -> None:
    """The Wald statistic uses the cells i, j >= 2 only; relabelling the levels (another
    reference cell) gives the same number (Y sums to 0 along rows and columns)."""
    frame = _weights_only_frame()
    frame["c2"] = frame["c"].map({0: 2, 1: 0, 2: 1})
    frame["a2"] = frame["a"].map({"no": "z", "yes": "a"})
    design = SurveyDesign(frame, weights="w")
    one = design.chisq("a", "c", statistic="Wald").value
    assert design.chisq("a2", "c2", statistic="Wald").value == pytest.approx(one, rel=1e-9)


def test_missing_values_are_excluded_and_counted() -> None:
    """Rows missing either column are left out of the table, counted in ``n_missing`` and
    the provenance, and warned about (``MISSING_ITEMS``); the scaling ``n_total`` keeps them
    (R's ``N = nrow(mm)``)."""
    frame = _weights_only_frame()
    frame.loc[[3, 10, 11], "b"] = np.nan
    frame.loc[[10, 20], "a"] = None
    design = SurveyDesign(frame, weights="w")
    with pytest.warns(FlestimateWarning, match="4 row"):
        test = design.chisq("a", "b")
    row = test.to_frame().iloc[0]
    assert (row["n"], row["n_total"], row["n_missing"]) == (56, 60, 4)
    assert test.provenance["rows_missing"] == 4
    kept = frame.dropna(subset=["a", "b"])
    assert test.observed.to_numpy().sum() == pytest.approx(kept["w"].sum(), rel=1e-12)


def test_subpop_equals_a_mask_and_a_column() -> None:
    """``subpop`` as a boolean column or as a mask gives one test."""
    frame = _weights_only_frame()
    frame["keep"] = frame["w"] > 2
    design = SurveyDesign(frame, weights="w")
    by_column = design.chisq("a", "c", subpop="keep").to_frame()
    by_mask = design.chisq("a", "c", subpop=frame["keep"].to_numpy()).to_frame()
    pd.testing.assert_frame_equal(by_column, by_mask)
    assert by_column["n_total"].iloc[0] == frame["keep"].sum()


def test_result_object() -> None:
    """The tidy row, the weighted table, the eigenvalues and the provenance."""
    frame = _weights_only_frame()
    design = SurveyDesign(frame, weights="w")
    test = design.chisq("a", "c", statistic="adjWald")
    assert isinstance(test, ChisqTest)
    assert list(test.to_frame().columns) == [
        "statistic", "value", "ndf", "ddf", "df", "p_value", "pearson", "mean_deff", "d0",
        "design_df", "n", "n_total", "n_missing"]
    assert test.observed.shape == (2, 3)
    assert test.deff_eigenvalues.shape == (2,)
    assert test.to_frame()["mean_deff"].iloc[0] == pytest.approx(test.deff_eigenvalues.mean())
    d = test.to_dict()
    assert d["provenance"]["statistic"] == "adjWald" and len(d["observed"]) == 6
    assert "a by c" in repr(test) and "Weighted table" in test.summary()
    rep = design.to_replicate("jk1").chisq("a", "c")
    assert "replicate" in rep.provenance["variance"]


def test_errors() -> None:
    """One level, an unknown statistic (with a hint), R's 'lincom', a missing column."""
    frame = _weights_only_frame()
    frame["one"] = "x"
    design = SurveyDesign(frame, weights="w")
    with pytest.raises(DataError, match="`row` column 'one' of `chisq\\(\\)` must have two"):
        design.chisq("one", "a")
    with pytest.raises(ArgumentError, match="did you mean 'Wald'"):
        design.chisq("a", "c", statistic="wald")
    with pytest.raises(ArgumentError, match="'lincom'.*not implemented"):
        design.chisq("a", "c", statistic="lincom")
    with pytest.raises(DataError, match="'nope'.*not found"):
        design.chisq("a", "nope")
    with pytest.raises(ArgumentError, match="must differ"):
        design.chisq("a", "a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        design.chisq("a", "c")  # no missing values: no warning
