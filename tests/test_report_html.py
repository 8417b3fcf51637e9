"""The HTML report (``flestimate.report._html``) and forest plots (``flestimate.report._plot``).

Data: the shipped synthetic Moldova 2008 file ``data/synthetic/moldova_synthetic.sav`` with the
built-in spec ``moldova-2008-synthetic``, by sex. The expected values are read from the report's
own tidy table (``to_frame``, ``national``, ``indicator_table``, ``provenance``): the displays
must show exactly those numbers, formatted as :meth:`PrevalenceReport.publication_table` does.
"""

from __future__ import annotations

import base64
import html
import io
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import flestimate as fl
from flestimate.errors import ArgumentError, FlestimateWarning
from flestimate.report import PrevalenceReport
from flestimate.report._html import SECTIONS, render_html
from flestimate.report._plot import MATPLOTLIB_HINT, forest_plot

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic" / "moldova_synthetic.sav"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def report() -> PrevalenceReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)  # the file's one lonely PSU
        return fl.estimate_prevalence(DATA, "moldova-2008-synthetic", by=["sex"])


@pytest.fixture(scope="module")
def raw(report: PrevalenceReport) -> str:
    return render_html(report)


def _plain(text: str) -> str:
    """The document with the tables' inline styles dropped (``<td style=...>`` as ``<td>``)."""
    return re.sub(r"<(td|th|tr|table)\b[^>]*>", r"<\1>", text)


@pytest.fixture(scope="module")
def doc(raw: str) -> str:
    return _plain(raw)


def _section(doc: str, heading: str) -> str:
    """The text from ``<h2>heading</h2>`` to the next ``<h2>``."""
    start = doc.index(f"<h2>{heading}</h2>")
    end = doc.find("<h2>", start + 4)
    return doc[start:end if end >= 0 else len(doc)]


def _share(report: PrevalenceReport, table: str, by: str, indicator: str) -> pd.DataFrame:
    t = report.select(table, by)
    out: pd.DataFrame = t[(t["measure"] == "share") & (t["indicator"] == indicator)]
    return out.reset_index(drop=True)


# -- the document -------------------------------------------------------------------------------
def test_document_is_one_html5_file(doc: str) -> None:
    assert doc.startswith("<!DOCTYPE html>\n<html lang=\"en\">")
    assert doc.endswith("</body>\n</html>\n")
    assert doc.count("<html") == 1 and doc.count("<body>") == 1
    assert '<meta charset="utf-8">' in doc and "<style>" in doc


def test_no_external_resources(doc: str) -> None:
    assert "http://" not in doc and "https://" not in doc
    assert "<script" not in doc and "<link" not in doc and "@import" not in doc
    sources = re.findall(r'(?:src|href)="([^"]*)"', doc)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)


def test_sections_in_order(doc: str) -> None:
    headings = re.findall(r"<h2>(.*?)</h2>", doc)
    expected = [SECTIONS[0], "Estimates by sex", *SECTIONS[1:]]
    assert headings == expected


def test_provenance_header(report: PrevalenceReport, doc: str) -> None:
    p = report.provenance
    header = doc[:doc.index("<h2>")]
    u, d = p["universe"], p["design"]
    for text in (p["source"], p["spec"]["name"], p["variance"], p["df_rule"],
                 f"{p['ci_method']} 95% for shares", "nchs2017 (builtin:nchs2017)",
                 f"{u['in_universe']:,} persons in the universe of {u['rows']:,} rows",
                 f"design df {d['degf']}", f"PSUs psu ({d['n_psu']})",
                 "forced_labour: icls2018"):
        assert html.escape(str(text)) in header, text
    assert f"<th>flestimate</th><td>{p['version']}</td>" in header


def test_national_share_as_published(report: PrevalenceReport, doc: str) -> None:
    row = _share(report, "prevalence", "national", "forced_labour").iloc[0]
    assert row["reliability"] == "present" and 0.01 <= row["estimate"] < 1
    # publication_table: one decimals rule per column: two decimals when a published non-zero
    # share of the column is below 1% (the state-imposed form, 0.15%), else one; a blank
    # confidential cell never counts. The interval ends the same way, joined by an en dash.
    published = report.publication_values()["%"].dropna()
    dec = 2 if ((published > 0) & (published < 1)).any() else 1
    assert dec == 2
    pct = f"{100 * row['estimate']:.{dec}f}"
    ci = f"{100 * row['ci_low']:.{dec}f} \u2013 {100 * row['ci_high']:.{dec}f}"
    assert report.publication_table().loc[0, ["%", "% CI"]].tolist() == [pct, ci]
    national = _section(doc, "National estimates")
    assert re.search(rf"<td>In forced labour</td>\s*<td>{re.escape(pct)}</td>\s*"
                     rf"<td>{re.escape(ci)}</td>", national)


def test_a_confidential_cell_never_sets_the_decimals(report: PrevalenceReport) -> None:
    """With a disclosure threshold of 5 the state-imposed cell (4 cases, 0.15% where the
    threshold is 3: two decimals there) is confidential as well and blank in the published
    table; every other published share is at least 1%, so one decimal."""
    shown = _share(report, "prevalence", "national", "form_state_imposed").iloc[0]
    assert shown["disclosure"] == "publish" and 0 < shown["estimate"] < 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)  # the file's one lonely PSU
        rep = fl.estimate_prevalence(DATA, "moldova-2008-synthetic", by=["sex"],
                                     disclosure_threshold=5)
    state = _share(rep, "prevalence", "national", "form_state_imposed").iloc[0]
    assert state["disclosure"] != "publish"
    published = rep.publication_values()["%"].dropna()
    assert published[published > 0].min() >= 1
    row = _share(rep, "prevalence", "national", "forced_labour").iloc[0]
    assert rep.publication_table().loc[0, "%"] == f"{100 * row['estimate']:.1f}"


def test_domain_table_by_sex(report: PrevalenceReport, doc: str) -> None:
    section = _section(doc, "Estimates by sex")
    for sex in ("female", "male"):
        row = report.select("prevalence", "sex")
        row = row[(row["sex"] == sex) & (row["measure"] == "number")
                  & (row["indicator"] == "forced_labour")].iloc[0]
        number = f"{row['estimate']:,.0f}"
        # share, its CI, the minimum, the bounds, then the number
        assert re.search(rf"<td>{sex}</td>\s*<td>In forced labour</td>(?:\s*<td>[^<]*</td>){{4}}"
                         rf"\s*<td>{number}</td>", section), sex


def test_suppressed_cells_blank_with_reason(report: PrevalenceReport, doc: str) -> None:
    t = report.to_frame()
    suppressed = t[t["reliability"] == "suppress"]
    assert len(suppressed) >= 10  # state-imposed counts, every share of the trafficked by sex
    for r in suppressed.itertuples():
        what = "share" if r.measure == "share" else "number"
        if r.disclosure == "publish":
            assert html.escape(f"{what} suppressed: {r.reliability_reason}") in doc
        else:  # confidential: the disclosure note replaces the reliability one
            assert html.escape(f"confidential: {r.disclosure_reason}") in doc
    # the trafficked by form, by sex: every share suppressed (n_eff < 30), so all blank
    by_form = _section(doc, "Trafficked for forced labour, by form")
    by_sex = by_form[by_form.index("<h3>By sex</h3>"):]
    assert re.search(r"<td>female</td>\s*<td>Economic exploitation</td>\s*<td></td>\s*<td></td>"
                     r"\s*<td></td>",
                     by_sex)
    assert re.search(r"n_eff \d+\.\d &lt; 30", by_sex)
    assert not re.search(r"n_eff \d+\.\d < 30", doc)


def test_header_states_the_reference_period_and_classification_options(doc: str) -> None:
    """Issue 13, item 10: every report header names the spec's reference period; the option
    for penalties of unknown dimension and what the rules could not find in the data are
    stated beside the rules."""
    assert "<h1>Forced labour and trafficking: moldova-2008-synthetic, last 10 years</h1>" in doc
    assert "<tr><th>Reference period</th><td>last 10 years</td></tr>" in doc
    assert "<tr><th>Penalties of unknown dimension</th><td>unknown_dimension</td></tr>" in doc
    assert "<tr><th>Not measured (undetermined)</th><td>nothing</td></tr>" in doc


def test_data_text_is_escaped(report: PrevalenceReport, doc: str) -> None:
    rule = str(report.quality.loc[report.quality["section"] == "universe", "item"].iloc[0])
    assert "<" in rule or ">" in rule
    section = _section(doc, "Data quality")
    assert html.escape(rule) in section and f"<td>{rule}</td>" not in doc


def test_images_are_png(doc: str) -> None:
    images = IMAGE.findall(_section(doc, "Forest plots"))
    assert len(images) == 2  # forced labour and trafficked, every margin in one plot each
    for data in images:
        assert base64.b64decode(data, validate=True)[:8] == PNG_SIGNATURE
    assert re.findall(r'<img alt="([^"]*)"', doc) == ["In forced labour", "Trafficked"]


def test_indicator_tables(report: PrevalenceReport, doc: str) -> None:
    section = _section(doc, "Types of coercion and involuntariness")
    t = report.indicator_table
    for among, who in (("forced_labour", "in forced labour"), ("trafficked", "trafficked")):
        for prefix, title in (("pen_", "Types of coercion (menace of penalty)"),
                              ("inv_", "Involuntariness")):
            part = t[(t["among"] == among) & t["indicator"].str.startswith(prefix)]
            top = part.loc[part["share"].idxmax()]
            start = section.index(f"<h3>{title}, among persons {who}</h3>")
            block = section[start:section.index("</table>", start)]
            assert block.count("<tr>") == len(part) + 1  # and the header row
            # one decimals rule per column: two when a non-zero share of it is below 1%
            shares = 100 * part["share"]
            d = 2 if ((shares > 0) & (shares < 1)).any() else 1
            pct = f"{100 * top['share']:.{d}f}"
            row = re.search(rf"<td>{top['indicator']}</td>(.*?)</tr>", block, re.S)
            assert row is not None and f"<td>{pct}</td>" in row.group(1)


def test_classification_and_exclusions(report: PrevalenceReport, doc: str) -> None:
    section = _section(doc, "Classification")
    counts = report.classification_counts
    for status, row in counts.iterrows():
        # a confidential count (fewer than 3 persons, or its complement) is blank
        # (counts with thousands separators, as in every table)
        cells = "".join(rf"\s*<td>{'' if pd.isna(v) else f'{int(v):,}'}</td>" for v in row)
        assert re.search(rf"<td>{status}</td>{cells}", section), status
    quality = _section(doc, "Data quality")
    assert re.search(r"<td>sex</td>\s*<td>0</td>", quality)
    assert report.provenance["excluded_missing_by"] == {"sex": 0}
    items = report.quality[report.quality["section"] == "item"]
    assert quality.count("<tr>", quality.index("<h3>Items</h3>")) >= len(items)


def test_methods_and_references(doc: str) -> None:
    methods = _section(doc, "Methods")
    for text in ("Ratio estimator", "Linearised variance", "Korn-Graubard interval",
                 "log-scale interval", "Bounds from the undetermined", "Shares by form",
                 "delta-method", "Reliability rules: nchs2017", "NCHS standards in brief",
                 "<td>min_n_eff</td>", "<td>max_relative_width</td>"):
        assert text in methods, text
    refs = _section(doc, "References")
    for text in ("Korn EL, Graubard BI", "Survey Methodology 24(2):193-201",
                 "Vital Health Stat 2(175)", "Vital Health Stat 2(200)", "Lumley T. Complex Surveys",
                 "Binder DA", "Hard to see, harder to count",
                 "20th International Conference of Labour Statisticians"):
        assert text in refs, text
    assert refs.count("<li>") == 7


def test_to_html_writes_what_it_returns(report: PrevalenceReport, tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    text = report.to_html(path)
    assert path.read_text(encoding="utf-8") == text
    assert text.startswith("<!DOCTYPE html>") and len(IMAGE.findall(text)) == 2


def test_without_matplotlib(report: PrevalenceReport,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError) as info:
        forest_plot(report, by="sex")
    assert str(info.value) == "plotting needs matplotlib: pip install 'flestimate[plot]'"
    text = render_html(report)
    assert MATPLOTLIB_HINT in _section(text, "Forest plots") and not IMAGE.findall(text)


def test_national_only_report() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)
        national = fl.estimate_prevalence(DATA, "moldova-2008-synthetic", reliability="rse30")
    text = _plain(render_html(national))
    assert re.findall(r"<h2>(.*?)</h2>", text) == list(SECTIONS)
    assert re.findall(r'<img alt="([^"]*)"', text) == ["In forced labour", "Trafficked"]
    assert "No domain margins." in _section(text, "Data quality")
    methods = _section(text, "Methods")
    assert "Reliability rules: rse30" in methods and "<td>flag_rse_at_least</td>" in methods


# -- forest plots -------------------------------------------------------------------------------
def _ticks(ax: Axes) -> dict[str, float]:
    return {t.get_text(): float(y)
            for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}


def _segments(ax: Axes, label: str) -> dict[float, tuple[float, float]]:
    found = [c for c in ax.collections if c.get_label() == label]
    assert len(found) == 1, label
    return {float(s[0, 1]): (float(s[0, 0]), float(s[1, 0])) for s in found[0].get_segments()}


def test_forest_plot_ci_equals_table(report: PrevalenceReport) -> None:
    ax = forest_plot(report, by="sex")
    t = _share(report, "prevalence", "sex", "forced_labour")
    ticks = _ticks(ax)
    assert list(ticks) == ["female", "male"]
    ci, bounds = _segments(ax, "CI"), _segments(ax, "bounds")
    for r in t.itertuples():
        y = ticks[r.domain]
        np.testing.assert_allclose(ci[y], (100 * r.ci_low, 100 * r.ci_high), rtol=1e-12)
        np.testing.assert_allclose(bounds[y], (100 * r.bound_low, 100 * r.bound_high),
                                   rtol=1e-12)
    points = next(line for line in ax.lines if line.get_label() == "estimate")
    np.testing.assert_allclose(points.get_xdata(), 100 * t["estimate"].to_numpy(), rtol=1e-12)
    national = _share(report, "prevalence", "national", "forced_labour")["estimate"].iat[0]
    ref = next(line for line in ax.lines if line.get_label() == "national")
    assert ref.get_xdata()[0] == pytest.approx(100 * national, rel=1e-12)
    assert ax.get_title(loc="left") == "In forced labour, by sex"
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png")
    assert buffer.getvalue()[:8] == PNG_SIGNATURE


def test_forest_plot_every_margin_with_suppressed() -> None:
    """The 30/30 rule keeps the national share of the trafficked in economic exploitation
    (35 cases) and suppresses both sexes (15 and 20 cases): a marker with its interval for the
    nation, a hollow marker and a note, no interval, for each sex."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)
        report = fl.estimate_prevalence(DATA, "moldova-2008-synthetic", by=["sex"],
                                        reliability="rse30", disclosure="none")
    ax = forest_plot(report, indicator="economic_exploitation", table="trafficked_by_form")
    assert list(_ticks(ax)) == ["National", "By sex", "female", "male"]
    bold = [t.get_fontweight() for t in ax.get_yticklabels()]
    assert bold[1] == "bold" and bold[0] != "bold"
    status = {r.domain: r.reliability for r in report.to_frame().query(
        "table == 'trafficked_by_form' and measure == 'share' "
        "and indicator == 'economic_exploitation'").itertuples()}
    assert status == {"all": "present", "female": "suppress", "male": "suppress"}
    ci = _segments(ax, "CI")
    assert sorted(ci) == [0.0]  # national only; no interval for the suppressed sexes
    # no marker where the estimate is suppressed (its position would publish it): a note at
    # the origin
    notes = [(t.get_text(), t.xy) for t in ax.texts]
    assert notes == [("suppressed", (0.0, 2.0)), ("suppressed", (0.0, 3.0))]
    marked = np.concatenate([line.get_ydata() for line in ax.lines
                             if line.get_marker() not in ("None", "", None)])
    assert not np.isin([2.0, 3.0], marked).any()
    assert not [c for c in ax.collections if c.get_label() == "bounds"]


def test_forest_plot_flagged_marked() -> None:
    """The minimum estimate of forced commercial sexual exploitation is 0 (no classified case):
    flagged, drawn as a diamond with its star."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)
        report = fl.estimate_prevalence(DATA, "moldova-2008-synthetic", by=["sex"],
                                        missing="minimum")
    ax = forest_plot(report, by="national", indicator="form_commercial_sexual_exploitation")
    assert report.national.query("measure == 'share' and "
                                 "indicator == 'form_commercial_sexual_exploitation'")[
        "reliability"].tolist() == ["flag"]
    flagged = next(line for line in ax.lines if line.get_label() == "flagged")
    assert list(flagged.get_xdata()) == [0.0] and flagged.get_marker() == "D"
    assert [t.get_text() for t in ax.texts] == ["*"]


def test_forest_plot_on_given_axes(report: PrevalenceReport) -> None:
    ax = Figure().add_subplot()
    assert forest_plot(report, by="sex", indicator="trafficked", ax=ax) is ax
    t = _share(report, "prevalence", "sex", "trafficked")
    lows = sorted(v[0] for v in _segments(ax, "CI").values())
    np.testing.assert_allclose(lows, sorted(100 * t["ci_low"]), rtol=1e-12)
    via_report = report.plot(by="sex", indicator="trafficked")
    assert _segments(via_report, "CI") == _segments(ax, "CI")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"by": "region"}, r"`by` of `plot\(\)` must be one of national, sex; got 'region'"),
    ({"indicator": "slavery"}, r"`indicator` of `plot\(\)` must be one of forced_labour, "
                               r"trafficked, .*; got 'slavery'"),
    ({"table": "other"}, r"`table` of `plot\(\)` must be one of prevalence, "
                         r"trafficked_by_form, forced_labour_by_form; got 'other'"),
    ({"table": "trafficked_by_form", "indicator": "forced_labour"},
     r"must be one of state_imposed, .*; got 'forced_labour'"),
])
def test_forest_plot_bad_arguments(report: PrevalenceReport, kwargs: dict[str, str],
                                   message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        forest_plot(report, **kwargs)
