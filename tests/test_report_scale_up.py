"""The network scale-up estimate in the main job (a spec's ``network`` section).

Data: the shipped synthetic Moldova 2008 file ``data/synthetic/moldova_synthetic.sav`` with the
built-in spec ``moldova-2008-synthetic`` plus a ``network`` section, and count columns made
here from a known truth: every respondent aged 15+ has a degree d_i ~ Gamma(2, 150) and reports
y_ik ~ Poisson(d_i N_k / N) members of eight known populations and y_iH ~ Poisson(d_i N_H / N)
of the hidden one (random mixing, no transmission error: the basic estimator's assumptions).
Reference: the basic scale-up estimator by hand (Killworth et al. 1998; Feehan and Salganik
2016, eq. for the known-population degree estimator with design weights):
N_H = N sum_i w_i y_iH / sum_i w_i d_i, d_i = N sum_k y_ik / sum_k N_k.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import flestimate as fl
from flestimate.errors import DataError
from flestimate.mapping import SPEC_DIR

pytest.importorskip("flestimate.nsum")

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic" / "moldova_synthetic.sav"
TOTAL = 3_000_000
HIDDEN_SIZE = 40_000
KNOWN = {f"kp{k}": s for k, s in enumerate(
    [30_000, 15_000, 60_000, 9_000, 45_000, 20_000, 12_000, 25_000])}


def _data() -> pd.DataFrame:
    frame = fl.read_microdata(DATA).frame.copy()
    rng = np.random.default_rng(20)
    n = len(frame)
    degree = rng.gamma(2.0, 150.0, n)
    for name, size in KNOWN.items():
        frame[f"q9_{name}"] = rng.poisson(degree * size / TOTAL).astype(float)
    frame["q9_fl"] = rng.poisson(degree * HIDDEN_SIZE / TOTAL).astype(float)
    frame.loc[rng.random(n) < 0.02, "q9_fl"] = 98.0  # don't know
    frame.loc[frame["q1_03"] < 15, [c for c in frame.columns if c.startswith("q9_")]] = np.nan
    return frame


def _spec(tmp_path: Path, **network: Any) -> Path:
    raw = yaml.safe_load((SPEC_DIR / "moldova-2008-synthetic.yaml").read_text())
    raw["network"] = {"total": TOTAL,
                      "respondents": {"column": "q1_03", "op": ">=", "value": 15},
                      "hidden": {"forced_labour": "q9_fl"},
                      "known": {k: {"column": f"q9_{k}", "size": s} for k, s in KNOWN.items()},
                      "missing": [98], **network}
    path = tmp_path / "with-network.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _data()


@pytest.fixture(scope="module")
def report(data: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Any:
    spec = _spec(tmp_path_factory.mktemp("spec"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fl.estimate_prevalence(data, str(spec), missing="minimum", seed=3)


def _by_hand(data: pd.DataFrame) -> float:
    asked = (data["q1_03"] >= 15) & (data["q9_fl"] != 98)
    d = data[asked]
    w = d["w_pers"].to_numpy(float)
    y = d[[f"q9_{k}" for k in KNOWN]].to_numpy(float).sum(axis=1)
    degree = TOTAL * y / sum(KNOWN.values())
    return float(TOTAL * (w * d["q9_fl"].to_numpy(float)).sum() / (w * degree).sum())


def test_estimate_is_the_basic_scale_up_by_hand(report: Any, data: pd.DataFrame) -> None:
    row = report.select("network_scale_up").iloc[0]
    assert row["indicator"] == "forced_labour"
    assert row["measure"] == "number"
    assert row["estimate"] == pytest.approx(_by_hand(data), rel=1e-10)
    # the counts were drawn with a known truth under the estimator's assumptions
    assert abs(row["estimate"] - HIDDEN_SIZE) < 4 * row["se"]
    assert 0 < row["se"] < row["estimate"]
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    asked = int((data["q1_03"] >= 15).sum())
    assert report.provenance["network_scale_up"]["asked"] == asked
    assert report.provenance["network_scale_up"]["method"] == "basic"


def test_same_seed_same_numbers(report: Any, data: pd.DataFrame, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = fl.estimate_prevalence(data, str(_spec(tmp_path)), missing="minimum", seed=3)
    pd.testing.assert_frame_equal(again.select("network_scale_up"),
                                  report.select("network_scale_up"))


def test_displays_show_it_next_to_the_direct_number(report: Any, tmp_path: Path) -> None:
    from flestimate.report._scale_up import scale_up_values

    values = scale_up_values(report)
    direct = report.national.set_index(["measure", "indicator"]).loc[("number", "forced_labour")]
    assert values.loc[0, "direct"] == pytest.approx(direct["estimate"], rel=1e-12)
    nsum = report.select("network_scale_up").iloc[0]
    assert values.loc[0, "scale-up"] == pytest.approx(nsum["estimate"], rel=1e-12)
    text = str(report)
    assert "Network scale-up (indirect) estimates" in text
    assert "compare, do not combine" in text.replace("\n", " ")
    page = report.to_html() if hasattr(report, "to_html") else ""
    assert "Network scale-up (indirect) estimates" in page
    out = tmp_path / "r.xlsx"
    report.to_excel(out)
    sheet = pd.read_excel(out, sheet_name="scale-up")
    assert sheet.loc[0, "scale-up"] == pytest.approx(nsum["estimate"], rel=1e-12)


def test_a_count_that_is_no_count_names_column_and_rows(data: pd.DataFrame,
                                                       tmp_path: Path) -> None:
    bad = data.copy()
    first = int(np.flatnonzero((bad["q1_03"] >= 15).to_numpy())[0])
    bad.loc[bad.index[first], "q9_kp3"] = 2.5
    with pytest.raises(DataError, match=rf"column 'q9_kp3' \(network.known.kp3\): 1 row\(s\) "
                                        rf"not a count .*rows {first} \(2.5\)"):
        fl.estimate_prevalence(bad, str(_spec(tmp_path)), missing="minimum")


def test_without_the_section_no_table(data: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = fl.estimate_prevalence(data, "moldova-2008-synthetic", missing="minimum")
    assert not (plain.to_frame()["table"] == "network_scale_up").any()
    assert "network_scale_up" not in plain.provenance


def test_generalized_with_a_given_visibility(data: pd.DataFrame, tmp_path: Path) -> None:
    """Feehan and Salganik (2016): N_H = y_F,H / vbar_H,F with the out-reports' weighted mean
    scaled to N (flestimate.nsum's convention, docs/nsum.md); a visibility equal to the mean
    degree gives the basic estimate (their section on the relation of the two)."""
    asked = (data["q1_03"] >= 15) & (data["q9_fl"] != 98)
    d = data[asked]
    w = d["w_pers"].to_numpy(float)
    visibility = 250.0
    by_hand = TOTAL * (w * d["q9_fl"].to_numpy(float)).sum() / w.sum() / visibility
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fl.estimate_prevalence(data, str(_spec(tmp_path, method="generalized",
                                                   visibility=visibility)),
                                   missing="minimum", seed=3)
    row = r.select("network_scale_up").iloc[0]
    assert row["estimate"] == pytest.approx(by_hand, rel=1e-10)
    assert r.provenance["network_scale_up"]["method"] == "generalized"


def test_reliability_judges_it_as_a_count(report: Any) -> None:
    """NCHS counts standard (Parker et al. 2023, Table A; rules nchs2017): present when the
    sample cases (respondents reporting a member of the hidden population) are at least 10 and
    the relative CI width is at most 160%; the row's own values decide it."""
    row = report.select("network_scale_up").iloc[0]
    assert row["n_cases"] >= 10
    width = (row["ci_high"] - row["ci_low"]) / row["estimate"]
    assert row["reliability"] == ("present" if width <= 1.6 else "suppress")
    assert row["df"] == report.provenance["design"]["degf"]


def test_few_reporters_suppressed(data: pd.DataFrame, tmp_path: Path) -> None:
    """Five respondents reporting a contact: below the NCHS count minimum of 10 sample cases
    (suppressed, blank in the displays with the reason) though above the disclosure
    threshold."""
    from flestimate.report._scale_up import scale_up_values

    few = data.copy()
    reporters = np.flatnonzero((few["q9_fl"] > 0).to_numpy() & (few["q9_fl"] != 98).to_numpy())
    few.loc[few.index[reporters[5:]], "q9_fl"] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = fl.estimate_prevalence(few, str(_spec(tmp_path)), missing="minimum", seed=3)
    row = r.select("network_scale_up").iloc[0]
    assert row["n_cases"] == 5
    assert row["reliability"] == "suppress"
    assert "n_cases 5 < 10" in row["reliability_reason"] or "5" in row["reliability_reason"]
    values = scale_up_values(r)
    assert np.isnan(values.loc[0, "scale-up"]) and values.loc[0, "note"]
