"""Property tests (hypothesis): invariances every design-based estimator must satisfy."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from flestimate import SurveyDesign

COLS = ["estimate", "se", "df", "n"]


@st.composite
def designs(draw: st.DrawFn) -> pd.DataFrame:
    n_strata = draw(st.integers(1, 4))
    rows = []
    psu = 0
    for h in range(n_strata):
        for _ in range(draw(st.integers(2, 4))):
            psu += 1
            for _ in range(draw(st.integers(1, 4))):
                rows.append(
                    {
                        "stratum": h,
                        "psu": psu,
                        "w": draw(st.floats(0.5, 50.0)),
                        "y": draw(st.floats(-10.0, 10.0)),
                        "b": draw(st.integers(0, 1)),
                        "dom": draw(st.sampled_from(["a", "b", "c"])),
                    }
                )
    return pd.DataFrame(rows)


def _design(frame: pd.DataFrame) -> SurveyDesign:
    return SurveyDesign(frame, weights="w", strata="stratum", psu="psu")


@settings(max_examples=60, deadline=None)
@given(designs(), st.floats(0.01, 1000.0))
def test_scaling_weights(frame: pd.DataFrame, c: float) -> None:
    """Means keep their value and SE; totals scale by c."""
    base = _design(frame)
    scaled = _design(frame.assign(w=frame["w"] * c))
    m0, m1 = base.mean("y", by="dom").to_frame(), scaled.mean("y", by="dom").to_frame()
    np.testing.assert_allclose(m1["estimate"], m0["estimate"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m1["se"], m0["se"], rtol=1e-7, atol=1e-12)
    t0, t1 = base.total("y").to_frame(), scaled.total("y").to_frame()
    np.testing.assert_allclose(t1["estimate"], c * t0["estimate"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(t1["se"], c * t0["se"], rtol=1e-7, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(designs(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(frame: pd.DataFrame, rnd) -> None:
    order = list(range(len(frame)))
    rnd.shuffle(order)
    a = _design(frame).proportion("b", by="dom").to_frame()
    b = _design(frame.iloc[order]).proportion("b", by="dom").to_frame()
    pd.testing.assert_frame_equal(a, b, rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(designs())
def test_domain_covering_everybody_is_the_full_sample(frame: pd.DataFrame) -> None:
    des = _design(frame.assign(everyone="all", yes=True))
    full = des.mean(["y", "b"]).to_frame()[COLS]
    via_subpop = des.mean(["y", "b"], subpop="yes").to_frame()[COLS]
    via_by = des.mean(["y", "b"], by="everyone").to_frame()[COLS]
    pd.testing.assert_frame_equal(full, via_subpop)
    pd.testing.assert_frame_equal(full, via_by, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-100.0, 100.0), min_size=2, max_size=40), st.floats(1.0, 1e4))
def test_srs_with_replacement_textbook(y: list[float], w: float) -> None:
    """One row per PSU, no strata, equal weights w: V(mean) = s^2/n, V(total) = (n w)^2 s^2/n."""
    frame = pd.DataFrame({"y": y, "w": w})
    des = SurveyDesign(frame, weights="w")
    n = len(y)
    s2 = float(np.var(y, ddof=1))
    mean = des.mean("y").to_frame().iloc[0]
    total = des.total("y").to_frame().iloc[0]
    np.testing.assert_allclose(mean["se"] ** 2, s2 / n, rtol=1e-8, atol=1e-20)
    np.testing.assert_allclose(total["se"] ** 2, (n * w) ** 2 * s2 / n, rtol=1e-8, atol=1e-12)
    assert mean["df"] == n - 1
