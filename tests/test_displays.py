"""Displays of every result object: ``_repr_html_`` (compact, escaped, numbers formatted as NSOs
publish them), ``repr``, ``.plot()`` (matplotlib Axes whose drawn data match the table, rendered
to PNG) and the progress bars of long operations.

The expected strings are computed from each object's own tidy data (``to_frame()``), so these
tests check the views, not the estimates (those are tested against their references elsewhere).
Data: the hand-worked design of tests/conftest.py, data/synthetic/moldova_synthetic.sav with the
spec ``moldova-2008-synthetic``, the UK 2013 five lists (``mse.uk_2013()``) and a hand-made
table of four countries.
"""

from __future__ import annotations

import html
import math
import re
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flestimate import PrevalenceReport, SurveyDesign, estimate_prevalence, mse
from flestimate.aggregate import Aggregate, Breakdown, aggregate, from_reports
from flestimate.batch._outputs import BatchResult
from flestimate.classification import STATUSES, Classification
from flestimate.errors import ArgumentError
from flestimate.results import format_count, format_percent
from tests.conftest import small_design_frame

pytest.importorskip("matplotlib")

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
PNG = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.filterwarnings("ignore::flestimate.FlestimateWarning")


# -- helpers --------------------------------------------------------------------------------------
def _png(ax: Any) -> None:
    buf = BytesIO()
    ax.figure.savefig(buf, format="png", dpi=40)
    assert buf.getvalue().startswith(PNG)


def _segments(ax: Any, label: str = "CI") -> np.ndarray:
    """``(n, 4)``: x0, y0, x1, y1 of the line collection labelled ``label``."""
    (coll,) = [c for c in ax.collections if c.get_label() == label]
    return np.array([[*seg[0], *seg[1]] for seg in coll.get_segments()], dtype=float)


def _line(ax: Any, label: str) -> Any:
    (line,) = [x for x in ax.get_lines() if x.get_label() == label]
    return line


def _bars(ax: Any, label: str) -> np.ndarray:
    (cont,) = [c for c in ax.containers if c.get_label() == label]
    return np.array([p.get_width() for p in cont.patches], dtype=float)


def _no_unescaped(text: str) -> None:
    """Cell texts carry no raw markup: every ``<`` opens a tag of a table or a paragraph."""
    tags = set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", text))
    assert tags <= {"div", "p", "b", "small", "table", "thead", "tbody", "tr", "th", "td", "h4"}


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def design() -> SurveyDesign:
    return SurveyDesign(small_design_frame(), weights="w", strata="stratum", psu="psu")


@pytest.fixture(scope="module")
def moldova() -> PrevalenceReport:
    return estimate_prevalence(DATA / "moldova_synthetic.sav", "moldova-2008-synthetic")


@pytest.fixture(scope="module")
def classification(moldova: PrevalenceReport) -> Classification:
    assert isinstance(moldova.classification, Classification)
    return moldova.classification


@pytest.fixture(scope="module")
def stepwise() -> mse.MSEResult:
    return mse.fit(mse.uk_2013())


@pytest.fixture(scope="module")
def agg() -> Aggregate:
    frame = pd.DataFrame({
        "country": ["A", "B", "C", "D"],
        "region": ["North", "North", "South", "South"],
        "estimate": [0.004, 0.002, 0.003, np.nan],
        "se": [0.001, 0.0005, 0.001, np.nan],
        "population": [1e6, 2e6, 3e6, 1e6],
    })
    return aggregate(frame, impute="regional_rate")


@pytest.fixture(scope="module")
def breakdown() -> Breakdown:
    internal = estimate_prevalence(DATA / "moldova_synthetic.sav", "moldova-2008-synthetic",
                                   disclosure="none")
    return from_reports({"moldova": internal})


# -- formatting -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("p", "text"), [(0.66667, "66.7"), (0.0042, "0.42"), (0.0, "0.0"),
                                         (1.0, "100.0"), (float("nan"), "")])
def test_percent_as_published(p: float, text: str) -> None:
    assert format_percent(p) == text


def test_count_with_thousands_separators() -> None:
    assert format_count(1234567.4) == "1,234,567"
    assert format_count(float("nan")) == ""


# -- Estimates ------------------------------------------------------------------------------------
def test_estimates_html_shows_percent_ci_se_n_df(design: SurveyDesign) -> None:
    est = design.proportion("y", by="dom")
    t = est.to_frame()
    text = est._repr_html_()
    _no_unescaped(text)
    row = t.iloc[0]
    # one decimals rule per column (flestimate._format): the estimate column and its CI take
    # two decimals only when a non-zero estimate is below 1%; the SE one decimal more
    d = 2 if ((t["estimate"] > 0) & (t["estimate"] < 0.01)).any() else 1
    d_se = (2 if ((t["se"] > 0) & (t["se"] < 0.01)).any() else 1) + 1
    assert f"<td>{100 * row['estimate']:.{d}f}</td>" in text
    assert f"{100 * row['ci_low']:.{d}f} – {100 * row['ci_high']:.{d}f}" in text
    assert f"<td>{100 * row['se']:.{d_se}f}</td>" in text
    for col in ("%", "% CI", "SE (%)", "n", "df"):
        assert f"<th>{html.escape(col)}</th>" in text
    assert "proportion" in text and "korn-graubard" in text  # the method in the title
    assert "0.666667" in repr(est)  # the terminal keeps full precision
    assert list(est.to_frame().columns) == list(t.columns)  # to_frame() unchanged


def test_estimates_html_counts_have_separators() -> None:
    frame = small_design_frame().assign(w=lambda d: d["w"] * 1000)
    est = SurveyDesign(frame, weights="w", strata="stratum", psu="psu").total("y", by="dom")
    t = est.to_frame()
    text = est._repr_html_()
    assert f"<td>{format_count(t['estimate'].iloc[0])}</td>" in text
    assert "," in format_count(t["estimate"].iloc[0])


def test_estimates_html_escapes_labels() -> None:
    frame = small_design_frame()
    frame["dom"] = frame["dom"].map({"a": "<b>a&b</b>", "b": "c"})
    est = SurveyDesign(frame, weights="w", strata="stratum", psu="psu").mean("y", by="dom")
    text = est._repr_html_()
    assert "&lt;b&gt;a&amp;b&lt;/b&gt;" in text
    _no_unescaped(text)


def test_estimates_plot_is_a_forest_plot_in_percent(design: SurveyDesign) -> None:
    est = design.proportion("y", by="dom")
    t = est.to_frame()
    ax = est.plot()
    seg = _segments(ax)
    np.testing.assert_allclose(seg[:, 0], 100 * t["ci_low"])
    np.testing.assert_allclose(seg[:, 2], 100 * t["ci_high"])
    np.testing.assert_allclose(_line(ax, "estimate").get_xdata(), 100 * t["estimate"])
    assert [x.get_text() for x in ax.get_yticklabels()] == ["dom=a", "dom=b"]
    _png(ax)


def test_estimates_plot_of_categories_on_a_given_axes(design: SurveyDesign) -> None:
    from matplotlib.figure import Figure

    frame = small_design_frame().assign(c=list("xyzxyyzx"))
    est = SurveyDesign(frame, weights="w", strata="stratum", psu="psu").proportion(["y", "c"])
    ax = Figure().add_subplot()
    assert est.plot("c", ax=ax) is ax
    t = est.to_frame()
    t = t[t["variable"] == "c"]
    np.testing.assert_allclose(_line(ax, "estimate").get_xdata(), 100 * t["estimate"])
    assert [x.get_text() for x in ax.get_yticklabels()] == ["x", "y", "z"]
    with pytest.raises(ArgumentError, match="`variable` of `plot\\(\\)` must be one of"):
        est.plot("nope")


# -- Classification -------------------------------------------------------------------------------
def test_classification_html_and_repr(classification: Classification) -> None:
    counts = classification.counts()
    text = classification._repr_html_()
    _no_unescaped(text)
    n = int(counts.loc["not_forced_labour", "total"])
    assert f"<td>{n:,}</td>" in text
    assert f"not_forced_labour {n:,}" in repr(classification)


def test_classification_indicator_bars_match_the_table(classification: Classification) -> None:
    table = classification.indicator_table(weights="w_pers")
    ax = classification.plot(weights="w_pers")
    for kind, label in (("penalty", "types of coercion"), ("involuntariness",
                                                          "involuntariness")):
        share = table.loc[table["kind"] == kind, "share"].to_numpy(float)
        np.testing.assert_allclose(_bars(ax, label), np.nan_to_num(100 * share))
    ticks = [x.get_text().split(" ")[0] for x in ax.get_yticklabels()]
    assert all(t.startswith("pen_") for t in ticks[:sum(table["kind"] == "penalty")])
    assert all(t.startswith("inv_") for t in ticks[sum(table["kind"] == "penalty"):])
    _png(ax)


def test_classification_status_bars(classification: Classification) -> None:
    ax = classification.plot("status")
    status = classification.to_frame()["status"].value_counts().reindex(STATUSES)
    np.testing.assert_allclose(_bars(ax, "persons"), status.to_numpy(float))
    _png(ax)
    with pytest.raises(ArgumentError, match="`kind` of `plot\\(\\)`"):
        classification.plot("pie")


# -- PrevalenceReport -----------------------------------------------------------------------------
def test_prevalence_report_html_and_plot(moldova: PrevalenceReport) -> None:
    nat = moldova.national
    share = nat[(nat["measure"] == "share") & (nat["indicator"] == "forced_labour")].iloc[0]
    text = moldova._repr_html_()
    _no_unescaped(text)
    assert format_percent(share["estimate"]) in text
    assert format_percent(share["estimate"]) in repr(moldova)
    ax = moldova.plot(by="national")
    seg = _segments(ax)
    np.testing.assert_allclose(seg[0, [0, 2]], 100 * share[["ci_low", "ci_high"]].to_numpy(float))
    _png(ax)


# -- MSE ------------------------------------------------------------------------------------------
def test_mse_html_and_repr(stepwise: mse.MSEResult) -> None:
    text = stepwise._repr_html_()
    _no_unescaped(text)
    pop = format_count(stepwise.population)
    assert pop == "11,313"
    assert f"<td>{pop}</td>" in text
    assert f"{format_count(stepwise.ci_low)} – {format_count(stepwise.ci_high)}" in text
    assert html.escape(stepwise.model) in text
    assert pop in repr(stepwise) and stepwise.model in repr(stepwise)


def test_mse_plot_of_the_stepwise_steps(stepwise: mse.MSEResult) -> None:
    ax = stepwise.plot()
    steps = stepwise.models
    added = steps[~steps["decision"].str.startswith("not added")]
    line = _line(ax, "steps")
    np.testing.assert_allclose(line.get_xdata(), added["population"])
    np.testing.assert_allclose(line.get_ydata(), added["aic"])
    np.testing.assert_allclose(_line(ax, f"chosen: {stepwise.population:,.0f}").get_xdata(),
                               [stepwise.population])
    np.testing.assert_allclose(_segments(ax)[0], [stepwise.ci_low, stepwise.aic,
                                                  stepwise.ci_high, stepwise.aic])
    _png(ax)


def test_mse_plot_of_a_ranking_and_of_a_fixed_model() -> None:
    ranked = mse.fit(mse.uk_2013(), selection="aic", max_interactions=2)
    ax = ranked.plot()
    models = ranked.models
    ok = np.isfinite(models["population"].to_numpy(float))
    assert len(_line(ax, "models").get_xdata()) == int(ok.sum())
    assert ranked.population == pytest.approx(float(models["population"].iloc[0]))
    _png(ax)
    fixed = mse.fit(mse.uk_2013(), interactions=[("LA", "NG")])
    ax = fixed.plot()
    np.testing.assert_allclose(_segments(ax)[0, [0, 2]], [fixed.ci_low, fixed.ci_high])
    _png(ax)


def test_two_list_estimate_displays() -> None:
    est = mse.chapman(100, 80, 20)
    assert f"{est.estimate:,.2f}" in repr(est)
    text = est._repr_html_()
    _no_unescaped(text)
    assert f"{est.estimate:,.2f}" in text


# -- aggregates -----------------------------------------------------------------------------------
def test_aggregate_html_repr_and_plot(agg: Aggregate) -> None:
    world = agg.world
    text = agg._repr_html_()
    _no_unescaped(text)
    assert f"{world['total']:,.0f}" in text and f"{world['total']:,.0f}" in repr(agg)
    ax = agg.plot()
    rows = agg.to_frame()
    rows = rows[rows["level"].isin(("group", "world"))]
    seg = _segments(ax)
    np.testing.assert_allclose(seg[:, 0], rows["ci_low"])
    np.testing.assert_allclose(seg[:, 2], rows["ci_high"])
    hollow = _line(ax, "total, partly imputed").get_xdata()
    np.testing.assert_allclose(hollow, rows.loc[rows["imputed_population_share"] > 0, "total"])
    notes = [t.get_text() for t in ax.texts]
    share = rows.loc[rows["level"] == "world", "imputed_population_share"].iloc[0]
    assert f"{format_percent(share)}% of population imputed" in notes
    assert [x.get_text() for x in ax.get_yticklabels()] == ["North", "South", "World"]
    _png(ax)


def test_breakdown_html_repr_and_plot(breakdown: Breakdown) -> None:
    t = breakdown.table("trafficked_by_form")
    rows = t[(t["quantity"] == "share") & (t["component"] != "total")]
    first = rows.iloc[0]
    text = breakdown._repr_html_()
    _no_unescaped(text)
    assert f"{format_percent(first['estimate'])}%" in text
    assert f"{format_percent(first['estimate'])}%" in repr(breakdown)
    ax = breakdown.plot()
    np.testing.assert_allclose(_bars(ax, "share"), 100 * rows["estimate"])
    ok = rows["ci_high"].notna().to_numpy()
    seg = _segments(ax)
    np.testing.assert_allclose(seg[:, 0], 100 * rows["ci_low"][ok])
    np.testing.assert_allclose(seg[:, 2], 100 * rows["ci_high"][ok])
    _png(ax)
    ax = breakdown.plot("forced_labour_by_form")
    _png(ax)
    with pytest.raises(ArgumentError, match="`table` of `plot\\(\\)`"):
        breakdown.plot("totals")


def test_reproduction_displays() -> None:
    from flestimate.global_estimates import reproduce

    rep = reproduce("ilo2005")
    text = rep._repr_html_()
    _no_unescaped(text)
    assert rep.name in text and rep.name in repr(rep)
    ax = rep.plot("forced_labour_by_form")
    t = rep.tables["forced_labour_by_form"]
    t = t[t["published"].notna() & t["recomputed"].notna() & (t["tolerance"] > 0)]
    x = np.concatenate([_line(ax, "within rounding").get_xdata(),
                        _line(ax, "outside rounding").get_xdata()])
    np.testing.assert_allclose(np.sort(x), np.sort(t["difference"] / t["tolerance"]))
    _png(ax)
    with pytest.raises(ArgumentError, match="`table` of `plot\\(\\)`"):
        rep.plot("nope")


# -- batch and designs ----------------------------------------------------------------------------
def test_batch_result_html_lists_the_surveys(tmp_path: Path) -> None:
    manifest = {
        "batch": {"path": str(tmp_path / "batch.yaml")}, "seconds": 1.5, "scheduler": "serial",
        "output": {"formats": ["csv"], "reports": False},
        "surveys": [
            {"id": "md-2008", "status": "done", "rows": 1200, "warnings": [],
             "timings": {"total": 1.2}},
            {"id": "<ge>", "status": "failed", "error": "DataError", "message": "a & b",
             "timings": {"total": 0.1}},
        ],
    }
    result = BatchResult(pd.DataFrame(), pd.DataFrame(), manifest, tmp_path)
    text = result._repr_html_()
    _no_unescaped(text)
    assert "1,200 estimates" in text and "&lt;ge&gt;" in text and "a &amp; b" in text
    assert "1 done" in repr(result) and "1 failed" in repr(result)


def test_design_html_summaries(design: SurveyDesign) -> None:
    text = design._repr_html_()
    assert "<b>SurveyDesign</b>" in text
    assert "<td style='text-align:left'>2 (stratum)</td>" in text
    assert "strata=2" in repr(design)
    rep = design.to_replicate("jkn")
    text = rep._repr_html_()
    assert "<b>ReplicateDesign</b>" in text and "jkn" in text
    assert "4 replicates" in repr(rep)


# -- progress bars --------------------------------------------------------------------------------
def test_mse_bootstrap_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = mse.fit(mse.uk_2013(), interactions=[("LA", "NG")], ci="bootstrap", n_boot=40,
                    seed=3)
    assert capsys.readouterr().err == ""
    shown = mse.fit(mse.uk_2013(), interactions=[("LA", "NG")], ci="bootstrap", n_boot=40,
                    seed=3, progress=True)
    err = capsys.readouterr().err
    assert "MSE bootstrap" in err and "40/40" in err
    assert (shown.ci_low, shown.ci_high) == (quiet.ci_low, quiet.ci_high)


def test_mse_bootstrap_progress_bar_with_reselection(capsys: pytest.CaptureFixture[str]) -> None:
    mse.fit(mse.uk_2013(), ci="bootstrap", n_boot=20, seed=1, reselect=True,
            max_interactions=1, selection="aic", progress=True)
    err = capsys.readouterr().err
    assert "MSE bootstrap" in err and "20/20" in err


def test_replicate_rake_progress_bar(design: SurveyDesign,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    frame = small_design_frame().assign(sex=list("mfmfmmff"))
    rep = SurveyDesign(frame, weights="w", strata="stratum", psu="psu").to_replicate("jkn")
    margins = {"dom": {"a": 70.0, "b": 60.0}, "sex": {"m": 64.0, "f": 66.0}}
    quiet = rep.rake(margins)
    assert capsys.readouterr().err == ""
    shown = rep.rake(margins, progress=True)
    err = capsys.readouterr().err
    assert "rake replicates" in err and f"{rep.n_replicates}/{rep.n_replicates}" in err
    np.testing.assert_array_equal(quiet.replicate_weights(), shown.replicate_weights())
    assert not math.isnan(shown.total("y").to_frame()["se"].iloc[0])


def test_new_figures_join_pyplot_only_when_the_caller_uses_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """In a notebook (pyplot imported) a plot's new figure is a pyplot figure, so Jupyter shows
    it inline; without pyplot imported it is a standalone Figure and pyplot's state is
    untouched."""
    import sys

    import matplotlib.pyplot as plt

    from flestimate.results import new_axes

    before = set(plt.get_fignums())
    ax = new_axes(None, 4, 3)
    assert set(plt.get_fignums()) - before == {ax.figure.number}
    plt.close(ax.figure)
    monkeypatch.delitem(sys.modules, "matplotlib.pyplot")
    ax2 = new_axes(None, 4, 3)
    assert not hasattr(ax2.figure, "number")
    assert set(plt.get_fignums()) == before
