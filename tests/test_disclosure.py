"""Disclosure control (flestimate.disclosure): the threshold rule and complementary suppression.

References: the hand-worked table below (Hundepool et al. 2012, *Statistical Disclosure
Control*, ch. 4: a cell is protected when no system of the table's published relations
determines it); property tests against an independent rank test of recoverability (x_s is
determined by A_S x_S = b iff the unit vector e_s lies in the row space of A_S); and the shipped
synthetic files written in every output format, parsed back.
"""

from __future__ import annotations

import json
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import flestimate as fl
from flestimate.cli import main
from flestimate.disclosure import DisclosureRules, load_disclosure, protect
from flestimate.errors import ArgumentError, FlestimateWarning, SpecError

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
MOLDOVA = DATA / "moldova_synthetic.sav"
SPEC = "moldova-2008-synthetic"
ITEMS = ("forced_labour", "trafficked", "forced_labour_not_trafficked")


def _table(cases: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """A prevalence table (shares) of forced labour, trafficked and not trafficked, national
    and by ``g``: ``cases`` maps a level to its (trafficked, not trafficked) cases."""
    rows = []
    levels = {"all": tuple(np.sum(list(cases.values()), axis=0)), **cases}
    for level, (tr, nt) in levels.items():
        for ind, c in zip(ITEMS, (tr + nt, tr, nt), strict=True):
            rows.append({"table": "prevalence", "by": "national" if level == "all" else "g",
                         "domain": level, "g": None if level == "all" else level,
                         "measure": "share", "indicator": ind, "estimate": c / 100.0,
                         "se": 0.01, "n": 100, "n_cases": c})
    return pd.DataFrame(rows)


def _recoverable(frame: pd.DataFrame) -> set[tuple[str, str]]:
    """The suppressed (domain, indicator) cells that the published ones determine, by the rank
    test, with the relations written out here independently of the module."""
    cells = list(zip(frame["domain"], frame["indicator"], strict=True))
    index = {c: i for i, c in enumerate(dict.fromkeys(cells))}
    rel = []
    for d in frame["domain"].unique():
        r = np.zeros(len(index))
        r[index[(d, "forced_labour")]] = 1
        r[index[(d, "trafficked")]] = r[index[(d, "forced_labour_not_trafficked")]] = -1
        rel.append(r)
    for ind in ITEMS:
        r = np.zeros(len(index))
        r[index[("all", ind)]] = 1
        for d in frame.loc[frame["by"] == "g", "domain"].unique():
            r[index[(d, ind)]] = -1
        rel.append(r)
    a = np.array(rel)
    hidden = sorted({index[c] for c, s in zip(cells, frame["disclosure"], strict=True)
                     if s != "publish"})
    sub = a[:, hidden]
    rank = np.linalg.matrix_rank(sub)
    names = list(index)
    out = set()
    for j, col in enumerate(hidden):
        unit = np.zeros(len(hidden))
        unit[j] = 1
        if np.linalg.matrix_rank(np.vstack([sub, unit])) == rank:
            out.add(names[col])
    return out


def test_hand_worked_two_levels() -> None:
    """Women 2 trafficked + 3 not, men 2 + 3: each trafficked cell is primary (2 < 3); forced
    labour = trafficked + not trafficked gives it back unless "not trafficked" goes too
    (secondary, the cheapest detail); the nation's trafficked (4) = women + men leaves the
    four blanks with one degree of freedom, so none is determined and nothing more goes."""
    t, summary = protect(_table({"female": (2, 3), "male": (2, 3)}), [("g",)],
                         DisclosureRules())
    status = dict(zip(zip(t["domain"], t["indicator"], strict=True), t["disclosure"],
                      strict=True))
    assert status == {
        ("all", "forced_labour"): "publish", ("all", "trafficked"): "publish",
        ("all", "forced_labour_not_trafficked"): "publish",
        ("female", "forced_labour"): "publish", ("female", "trafficked"): "primary",
        ("female", "forced_labour_not_trafficked"): "secondary",
        ("male", "forced_labour"): "publish", ("male", "trafficked"): "primary",
        ("male", "forced_labour_not_trafficked"): "secondary"}
    assert (summary["primary"], summary["secondary"]) == (2, 2)
    hidden = t["disclosure"] != "publish"
    assert t.loc[hidden, ["estimate", "se"]].isna().all().all()
    assert t.loc[hidden, "n_cases"].isna().all()
    assert t.loc[~hidden, "estimate"].notna().all()
    assert t.loc[hidden, "disclosure_reason"].tolist() == [
        "2 cases < 3", "complementary: would reveal a suppressed cell by subtraction"] * 2


def test_one_small_level_suppresses_its_sibling() -> None:
    """Women have 1 trafficked case; men 10. Women's cell alone would come back as nation -
    men, so the men's trafficked cell (or its not-trafficked partner) must go as well."""
    t, _ = protect(_table({"female": (1, 8), "male": (10, 20)}), [("g",)], DisclosureRules())
    assert not _recoverable(t)
    assert (t["disclosure"] == "secondary").sum() >= 2


def test_zero_cells_and_none_rule() -> None:
    """A zero cell reveals nobody and stays; ``none`` marks everything published and keeps
    every value."""
    t, summary = protect(_table({"a": (0, 5), "b": (0, 7)}), [("g",)], DisclosureRules())
    assert (t["disclosure"] == "publish").all() and summary["primary"] == 0
    t, summary = protect(_table({"a": (1, 1), "b": (1, 1)}), [("g",)], DisclosureRules("none"))
    assert (t["disclosure"] == "publish").all() and t["estimate"].notna().all()
    assert summary["description"].startswith("disclosure control: none")


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=2, max_size=5),
       st.integers(1, 5))
def test_no_suppressed_cell_is_recoverable(cases: list[tuple[int, int]], k: int) -> None:
    """Any table: every cell of 1 to k-1 cases is blank, and no blank cell is determined by
    the published ones (independent rank test)."""
    t, _ = protect(_table({f"l{i}": c for i, c in enumerate(cases)}), [("g",)],
                   DisclosureRules("threshold", k))
    original = _table({f"l{i}": c for i, c in enumerate(cases)})["n_cases"]
    small = (original > 0) & (original < k)
    assert (t.loc[small.to_numpy(), "disclosure"] != "publish").all()
    shown = t["disclosure"] == "publish"
    assert not ((t.loc[shown, "n_cases"] > 0) & (t.loc[shown, "n_cases"] < k)).any()
    assert not _recoverable(t)


@pytest.mark.parametrize(("value", "threshold", "message"), [
    ("sometimes", None, "must be one of 'threshold', 'none'; got 'sometimes'"),
    ("threshold", 0, "positive integer (respondents); got 0"),
    ("threshold", 2.5, "positive integer (respondents); got 2.5"),
    ("threshold", True, "positive integer (respondents); got True"),
    ({"rule": "threshold", "min": 3}, None, "unknown key(s) ['min']"),
], ids=["unknown-rule", "zero", "float", "bool", "unknown-key"])
def test_bad_rules_name_the_argument(value: object, threshold: object, message: str) -> None:
    with pytest.raises(ArgumentError, match="`disclosure` of `estimate_prevalence\\(\\)`") as e:
        load_disclosure(value, threshold)
    assert message in str(e.value)


def test_spec_sets_the_office_threshold(tmp_path: Path) -> None:
    import yaml

    raw = yaml.safe_load((Path(fl.__file__).parent / "specs" / f"{SPEC}.yaml").read_text())
    raw["disclosure"] = {"rule": "threshold", "threshold": 5}
    report = fl.estimate_prevalence(MOLDOVA, raw, by="sex", missing="minimum")
    assert report.provenance["disclosure"]["threshold"] == 5
    t = report.to_frame()
    shown = t[t["disclosure"] == "publish"]
    assert not ((shown["n_cases"] > 0) & (shown["n_cases"] < 5)).any()
    # the argument wins over the spec
    again = fl.estimate_prevalence(MOLDOVA, raw, by="sex", missing="minimum",
                                   disclosure_threshold=2)
    assert again.provenance["disclosure"]["threshold"] == 2
    raw["disclosure"] = {"threshold": 0}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SpecError, match="bad.yaml: disclosure.threshold: must be a positive"):
        fl.load_spec(path)


# -- the shipped file in every output format --------------------------------------------------
class _Tables(HTMLParser):
    """Every <table> of an HTML document as a list of rows of cell texts (header included)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def report() -> fl.PrevalenceReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlestimateWarning)
        return fl.estimate_prevalence(MOLDOVA, SPEC, by=["sex", "region", "destination"],
                                      imputations=5, seed=1)


def _small(values: pd.Series) -> pd.Series:
    v = pd.to_numeric(values.astype(str).str.replace(",", ""), errors="coerce")
    return (v > 0) & (v < 3)


def test_tidy_frame_marks_and_blanks(report: fl.PrevalenceReport) -> None:
    t = report.to_frame()
    hidden = t["disclosure"].isin(["primary", "secondary"])
    assert hidden.sum() > 50  # 1-2 case cells of regions and destinations, and complements
    cols = ["estimate", "se", "ci_low", "ci_high", "bound_low", "bound_high", "minimum",
            "n_cases", "n_eff"]
    assert t.loc[hidden, cols].isna().all().all()
    assert not _small(t.loc[~hidden, "n_cases"]).any()
    d = report.provenance["disclosure"]
    assert d["rule"] == "threshold" and d["threshold"] == 3 and d["primary"] > 0
    assert "disclosure control: threshold rule" in repr(report)


def test_tidy_frame_no_derivable_cell(report: fl.PrevalenceReport) -> None:
    """Forced labour = trafficked + not trafficked in each domain, and each margin's levels
    add up to the nation: no relation has exactly one blank member."""
    t = report.to_frame()
    prev = t[(t["table"] == "prevalence") & (t["measure"] == "share")]
    hidden = prev.assign(h=prev["disclosure"] != "publish")
    within = hidden[hidden["indicator"].isin(ITEMS)].groupby(["by", "domain"])["h"].sum()
    assert not (within == 1).any()
    nat = hidden[hidden["by"] == "national"].set_index("indicator")["h"]
    for by in ("sex", "region", "destination"):
        per = hidden[hidden["by"] == by].groupby("indicator")["h"].sum() + nat
        assert not (per == 1).any(), by


def test_csv_json_excel_html_show_no_small_cell(report: fl.PrevalenceReport,
                                                tmp_path: Path) -> None:
    csv = tmp_path / "e.csv"
    report.to_frame().to_csv(csv, index=False)
    back = pd.read_csv(csv)
    assert not _small(back["n_cases"]).any()
    conf = back["disclosure"] != "publish"
    assert back.loc[conf, ["estimate", "ci_low", "ci_high", "n_cases"]].isna().all().all()
    records = json.loads(report.to_json())["estimates"]
    assert all(r["estimate"] is None for r in records if r["disclosure"] != "publish")

    xlsx = report.to_excel(tmp_path / "r.xlsx")
    sheets = pd.read_excel(xlsx, sheet_name=None)
    for name, sheet in sheets.items():
        if "cases" in sheet.columns:
            assert not _small(sheet["cases"]).any(), name
        if "n_yes" in sheet.columns:
            assert not _small(sheet["n_yes"]).any(), name
    assert not _small(sheets["estimates"]["n_cases"]).any()
    counts = sheets["classification"].drop(columns=sheets["classification"].columns[0])
    assert not counts.apply(_small).any().any()
    prov = dict(zip(sheets["provenance"]["key"], sheets["provenance"]["value"], strict=True))
    assert "threshold rule" in str(prov["disclosure.description"])

    parser = _Tables()
    parser.feed(report.to_html())
    checked = 0
    for table in parser.tables:
        header, body = table[0], table[1:]
        for col in ("cases", "n_yes"):
            if col in header:
                j = header.index(col)
                assert not _small(pd.Series([r[j] for r in body if len(r) > j])).any()
                checked += 1
    assert checked >= 5
    assert "confidential" in report.to_html()


def test_plot_has_no_marker_at_a_confidential_estimate(report: fl.PrevalenceReport) -> None:
    pytest.importorskip("matplotlib")
    t = report.select("prevalence", "region")
    hidden = t[(t["measure"] == "share") & (t["indicator"] == "trafficked")
               & (t["disclosure"] != "publish")]
    assert len(hidden)
    ax = report.plot(by="region", indicator="trafficked")
    notes = [x.get_text() for x in ax.texts]
    assert notes.count("confidential") == len(hidden)
    for line in ax.lines:  # every marker sits at a published estimate
        xs = np.asarray(line.get_xdata(), dtype=float)
        if line.get_marker() not in ("None", "", None) and xs.size:
            assert np.isfinite(xs).all()


def test_cli_options_and_none_for_internal_use(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a.csv"
    assert main(["estimate", str(MOLDOVA), "--spec", SPEC, "--by", "region", "--missing",
                 "minimum", "--disclosure-threshold", "5", "-o", str(out)]) == 0
    a = pd.read_csv(out)
    shown = a[a["disclosure"] == "publish"]
    assert not ((shown["n_cases"] > 0) & (shown["n_cases"] < 5)).any()
    assert main(["estimate", str(MOLDOVA), "--spec", SPEC, "--by", "region", "--missing",
                 "minimum", "--disclosure", "none", "-o", str(out)]) == 0
    b = pd.read_csv(out)
    # every value shown; only shares of an empty class (a region without a trafficked case)
    # have none
    assert (b["disclosure"] == "publish").all()
    assert (b["estimate"].notna() | ((b["table"] != "prevalence") & (b["n"] == 0))).all()
    capsys.readouterr()
    assert main(["estimate", str(MOLDOVA), "--spec", SPEC, "--disclosure-threshold",
                 "0", "--missing", "minimum"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "threshold must be a positive integer" in err[0]
