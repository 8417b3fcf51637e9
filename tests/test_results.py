"""Estimates: tidy table, provenance and displays that are views of them."""

from __future__ import annotations

import json

import pytest

from flestimate import Estimates, SurveyDesign
from flestimate.results import ESTIMATE_COLUMNS
from tests.conftest import small_design_frame


@pytest.fixture
def est() -> Estimates:
    des = SurveyDesign(small_design_frame(), weights="w", strata="stratum", psu="psu")
    return des.proportion("y", by="dom")


def test_columns(est: Estimates) -> None:
    assert list(est.to_frame().columns) == ["dom", "variable", "category", *ESTIMATE_COLUMNS]
    assert est.by == ("dom",)
    assert len(est) == 2


def test_displays_show_the_numbers(est: Estimates) -> None:
    text = repr(est)
    assert text.startswith("Estimates: proportion (Taylor linearisation")
    assert "0.666667" in text and "0.333333" in text
    html = est._repr_html_()
    assert "<table" in html and "<td>66.7</td>" in html  # proportions in percent
    summary = est.summary()
    assert "Design: 8 rows, 2 strata, 4 PSUs" in summary
    assert "lonely PSUs: fail" in summary


def test_to_dict_round_trips_through_json(est: Estimates) -> None:
    data = json.loads(json.dumps(est.to_dict()))
    assert data["estimates"][0]["estimate"] == pytest.approx(2 / 3)
    assert data["estimates"][0]["category"] is None
    assert data["provenance"]["design"]["n_psu"] == 4
    assert data["provenance"]["version"]


def test_displays_have_no_side_effects(est: Estimates) -> None:
    before = est.to_frame()
    repr(est)
    est._repr_html_()
    est.summary()
    assert est.to_frame().equals(before)
