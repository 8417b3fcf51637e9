"""``estimate_prevalence`` on a dask DataFrame, and the ``frequencies`` of a design behind it.

The reference is flestimate's own in-memory path on the same file (the dask path must equal it:
the Taylor sums are decomposable over partitions and over interchangeable persons), on the
shipped synthetic files ``data/synthetic/moldova_synthetic.sav`` and
``data/synthetic/georgia_synthetic_{persons,households}.dta``; the frequency design is checked
against the uncollapsed design (metamorphic) and against the hand-worked example of
``tests/test_estimate.py`` with every person doubled (total 100, V = 4 * 500).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import flestimate as fe
from flestimate import SurveyDesign
from flestimate.errors import ArgumentError, DataError, DesignError, FlestimateWarning
from flestimate.estimate import mean, proportion, total
from tests.conftest import small_design_frame

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
MOLDOVA = DATA / "moldova_synthetic.sav"
NUMBERS = ["estimate", "se", "ci_low", "ci_high", "cv", "deff", "deff_wr", "n", "n_eff", "df",
           "n_missing"]


# -- frequencies ---------------------------------------------------------------------------
def _collapse(frame: pd.DataFrame, weights: str) -> pd.DataFrame:
    """One row per (every column but the weight, weight > 0): summed weight, persons."""
    keys = [c for c in frame.columns if c != weights]
    out: pd.DataFrame = (frame.assign(_pos=frame[weights] > 0, f=1)
                         .groupby([*keys, "_pos"], dropna=False, sort=False)[[weights, "f"]]
                         .sum().reset_index().drop(columns="_pos"))
    return out


def _same(collapsed: pd.DataFrame, full: pd.DataFrame) -> None:
    """The same estimates row for row; n and n_missing exactly."""
    keys = [c for c in full.columns if c not in NUMBERS and c != "flag"]
    a = collapsed.sort_values(keys).reset_index(drop=True)
    b = full.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[keys], b[keys])
    np.testing.assert_array_equal(a[["n", "n_missing"]], b[["n", "n_missing"]])
    np.testing.assert_allclose(a[NUMBERS].to_numpy(float), b[NUMBERS].to_numpy(float),
                               rtol=1e-12, atol=0)


def _hand() -> pd.DataFrame:
    """The hand-worked design with every person twice, a zero-weight person and missing y."""
    base = small_design_frame()
    extra = base.iloc[[0, 4]].assign(w=[0.0, 20.0], y=[1.0, np.nan])
    return pd.concat([base, base, extra], ignore_index=True)


def test_frequencies_by_hand() -> None:
    """Every person of the hand-worked example doubled: Y = 100, V = 4 * 500, n = 16."""
    base = small_design_frame().assign(w=lambda d: 2 * d["w"], f=2)
    des = SurveyDesign(base, weights="w", strata="stratum", psu="psu", frequencies="f")
    row = des.total("y").to_frame().iloc[0]
    assert row["estimate"] == pytest.approx(100.0, rel=1e-14)
    assert row["se"] == pytest.approx(np.sqrt(2000.0), rel=1e-14)
    assert (row["n"], row["df"]) == (16, 2)
    m = des.mean("y").to_frame().iloc[0]
    assert m["estimate"] == pytest.approx(5 / 12, rel=1e-14)
    s = des.summary_dict()
    assert (s["n_rows"], s["frequencies"], s["degf"]) == (16, "f", 2)
    assert np.isnan(s["kish_deff_weights"])


@pytest.mark.parametrize("fpc", [None, "fpc"])
def test_frequencies_equal_uncollapsed_hand(fpc: str | None) -> None:
    full = _hand()
    kw = {"weights": "w", "strata": "stratum", "psu": "psu", "fpc": fpc}
    d_full = SurveyDesign(full, **kw)  # type: ignore[arg-type]
    d_coll = SurveyDesign(_collapse(full, "w"), **kw, frequencies="f")  # type: ignore[arg-type]
    assert d_coll.summary_dict()["n_rows"] == len(full)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for est in (lambda d: proportion(d, "y", by="dom"), lambda d: total(d, ["y", "psu"]),
                    lambda d: mean(d, "y", subpop=d.data["dom"] == "a"),
                    lambda d: proportion(d, "dom", by="stratum")):
            _same(est(d_coll).to_frame(), est(d_full).to_frame())
    with pytest.warns(FlestimateWarning, match=r"y \(1\)"):
        assert total(d_coll, "y").to_frame()["n_missing"].iat[0] == 1


def test_frequencies_equal_uncollapsed_moldova() -> None:
    """Moldova file: sex x region shares of a 0/1 item with missing values among migrants,
    totals and mean age group by sex, proportions of a categorical item."""
    f = fe.read_microdata(MOLDOVA).frame
    full = f[["strat", "psu", "w_pers", "q1_02", "q3_01", "reg"]].assign(
        age10=f["q1_03"] // 10, yes=np.where(f["q8_00"] == 1, 1.0, np.where(f["q8_00"] == 2, 0.0, np.nan)),
        migrant=f["q3_01"].isin([2, 3]))
    coll = _collapse(full, "w_pers")
    assert len(coll) < 0.6 * len(full)
    kw = {"weights": "w_pers", "strata": "strat", "psu": "psu", "lonely_psu": "adjust"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d_full = SurveyDesign(full, **kw)  # type: ignore[arg-type]
        d_coll = SurveyDesign(coll, **kw, frequencies="f")  # type: ignore[arg-type]
        for est in (lambda d: proportion(d, "yes", by=["q1_02", "reg"], subpop="migrant"),
                    lambda d: total(d, ["yes", "migrant"], by="reg"),
                    lambda d: mean(d, ["age10", "yes"], by="q1_02"),
                    lambda d: proportion(d, "q3_01", by="reg")):
            _same(est(d_coll).to_frame(), est(d_full).to_frame())
        _, by_missing = (proportion(d, "yes", by="q3_01").provenance["rows_missing_by"]
                         for d in (d_full, d_coll))
    assert by_missing == 3148


def test_frequencies_validation() -> None:
    base = small_design_frame().assign(f=2)
    kw = {"weights": "w", "strata": "stratum", "psu": "psu"}
    for bad, message in (([1.5] * 8, "nonnegative integers"), ([-1] * 8, "nonnegative"),
                         ([np.nan] * 8, "first rows"), ([0] * 8, "is 0 in 8 row")):
        with pytest.raises(DesignError, match=message):
            SurveyDesign(base.assign(f=bad), **kw, frequencies="f")  # type: ignore[arg-type]
    with pytest.raises(DesignError, match="needs a `psu` column"):
        SurveyDesign(base, weights="w", frequencies="f")
    des = SurveyDesign(base, **kw, frequencies="f")  # type: ignore[arg-type]
    with pytest.raises(DesignError, match=r"`to_replicate\(\)` needs one row per person"):
        des.to_replicate("jkn")
    with pytest.raises(DesignError, match=r"`calibrate\(\)` needs one row per person"):
        des.calibrate({"dom": {"a": 60.0, "b": 60.0}})


# -- dask ----------------------------------------------------------------------------------
def _by_households(frame: pd.DataFrame, hh: str, k: int) -> Any:
    """A dask frame of ``k`` partitions cut at household boundaries (households contiguous)."""
    starts = np.flatnonzero(frame[hh].ne(frame[hh].shift()).to_numpy())
    assert starts.size == frame[hh].nunique()  # every household is one run of rows
    cuts = [int(starts[np.searchsorted(starts, len(frame) * i // k)]) for i in range(1, k)]
    divisions = sorted({0, *cuts, len(frame) - 1})
    return dd.from_pandas(frame, npartitions=1).repartition(divisions=divisions)


def _assert_same(report: fe.PrevalenceReport, ref: fe.PrevalenceReport) -> None:
    pd.testing.assert_frame_equal(report.to_frame(), ref.to_frame(), rtol=1e-10)
    pd.testing.assert_frame_equal(report.quality, ref.quality)
    pd.testing.assert_frame_equal(report.classification_counts, ref.classification_counts)
    pd.testing.assert_frame_equal(report.indicator_table, ref.indicator_table, rtol=1e-10)
    assert report.classification is None
    for key in ("universe", "excluded_missing_by", "rules", "variance", "df_rule", "margins"):
        assert report.provenance[key] == ref.provenance[key], key
    d, r = report.provenance["design"], ref.provenance["design"]
    for key in ("n_rows", "n_strata", "n_psu", "degf", "lonely_strata"):
        assert d[key] == r[key], key
    for key in ("sum_weights", "kish_deff_weights"):
        assert d[key] == pytest.approx(r[key], rel=1e-12), key


@pytest.fixture(scope="module")
def moldova() -> tuple[pd.DataFrame, fe.PrevalenceReport]:
    frame = fe.read_microdata(MOLDOVA).frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fe.estimate_prevalence(frame, "moldova-2008-synthetic", by=["sex", "region"],
                                     missing="minimum")
    return frame, ref


@pytest.mark.parametrize("k", [1, 3, 7])
def test_dask_equals_pandas_moldova(moldova: tuple[pd.DataFrame, fe.PrevalenceReport],
                                    k: int) -> None:
    frame, ref = moldova
    ddf = _by_households(frame, "hh_id", k)
    assert ddf.npartitions == k
    with dask.config.set(scheduler="sync"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = fe.estimate_prevalence(ddf, "moldova-2008-synthetic", by=["sex", "region"],
                                        missing="minimum")
    _assert_same(report, ref)
    assert report.provenance["source"] == "<dask DataFrame>"
    assert report.provenance["partitions"] == k


def test_dask_empty_partitions(moldova: tuple[pd.DataFrame, fe.PrevalenceReport]) -> None:
    """Partitions emptied by a filter are skipped; a crossed margin with missing values."""
    frame, _ = moldova
    cut = frame["hh_id"].quantile(0.5)
    ddf = _by_households(frame, "hh_id", 4)
    ddf = ddf[ddf["hh_id"] < cut]
    with dask.config.set(scheduler="threads"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fe.estimate_prevalence(frame[frame["hh_id"] < cut], "moldova-2008-synthetic",
                                     by="sex*sector", ci="logit", missing="minimum")
        report = fe.estimate_prevalence(ddf, "moldova-2008-synthetic", by="sex*sector",
                                        ci="logit", missing="minimum")
    _assert_same(report, ref)
    assert report.provenance["excluded_missing_by"]["sex*sector"] > 0


def test_dask_quality_context_rows(moldova: tuple[pd.DataFrame, fe.PrevalenceReport]) -> None:
    """Context values the spec does not list, in different partitions: the quality report's
    context rows are summed over the whole file and keep the spec's order."""
    import yaml

    frame, _ = moldova
    raw = yaml.safe_load((Path(fe.__file__).parent / "specs" / "moldova-2008-synthetic.yaml")
                         .read_text(encoding="utf-8"))
    for name in ("destination", "sector"):
        raw["context"][name]["unknown"] = "missing"
    spec = fe.ModuleSpec.from_dict(raw)
    frame = frame.copy()
    migrants = np.flatnonzero(frame["q3_01"].isin([2, 3]).to_numpy() & (frame["q1_03"] >= 15))
    frame.loc[frame.index[migrants[-3:]], "q3_05"] = 77.0  # destination, last partition
    frame.loc[frame.index[migrants[:2]], "q3_07"] = 77.0  # sector, first partition
    with dask.config.set(scheduler="sync"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fe.estimate_prevalence(frame, spec, by="destination", missing="minimum")
        report = fe.estimate_prevalence(_by_households(frame, "hh_id", 3), spec,
                                        by="destination", missing="minimum")
    context = ref.quality[ref.quality["section"] == "context"]
    assert context["indicator"].tolist() == ["destination", "sector"]
    assert context["n_unknown"].tolist() == [3, 2]
    _assert_same(report, ref)


def test_dask_equals_pandas_georgia() -> None:
    persons = fe.read_microdata(DATA / "georgia_synthetic_persons.dta").frame
    households = DATA / "georgia_synthetic_households.dta"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fe.estimate_prevalence(persons, "georgia-synthetic", by=["sex", "urban"],
                                     households=households, missing="minimum")
        hh = fe.read_microdata(households).frame
        with dask.config.set(scheduler="sync"):
            report = fe.estimate_prevalence(_by_households(persons, "hhid", 5),
                                            "georgia-synthetic", by=["sex", "urban"],
                                            households=hh, missing="minimum")
    _assert_same(report, ref)


def test_dask_split_household(moldova: tuple[pd.DataFrame, fe.PrevalenceReport]) -> None:
    frame, _ = moldova
    ddf = dd.from_pandas(frame, npartitions=3)  # cut at rows, through households
    hh = frame["hh_id"]
    split = [hh[b] for b in ddf.divisions[1:-1] if hh[b] == hh[b - 1]]
    assert len(split) == 2
    with dask.config.set(scheduler="sync"), pytest.raises(DataError) as err:
        fe.estimate_prevalence(ddf, "moldova-2008-synthetic", missing="minimum")
    message = str(err.value)
    assert "2 household(s) of column 'hh_id' span several partitions" in message
    assert all(str(int(h)) in message for h in split)  # codes read as floats print as integers
    assert "ddf.shuffle('hh_id')" in message


def test_dask_variance_must_be_taylor(
        moldova: tuple[pd.DataFrame, fe.PrevalenceReport]) -> None:
    frame, _ = moldova
    with dask.config.set(scheduler="sync"), warnings.catch_warnings(), \
            pytest.raises(ArgumentError, match="on a dask DataFrame must be 'taylor'"):
        warnings.simplefilter("ignore")
        fe.estimate_prevalence(_by_households(frame, "hh_id", 2), "moldova-2008-synthetic",
                               variance="jkn", missing="minimum")


def test_dask_needs_the_minimum_estimate(moldova: tuple[pd.DataFrame, fe.PrevalenceReport]
                                         ) -> None:
    """Multiple imputation fits a model on the whole file: a dask DataFrame gets a clear error
    naming `missing`, not a silently different estimate."""
    frame, _ = moldova
    ddf = dd.from_pandas(frame, npartitions=2)
    with pytest.raises(ArgumentError, match=r"`missing` of `estimate_prevalence\(\)` on a dask "
                                            r"DataFrame must be 'minimum'"):
        fe.estimate_prevalence(ddf, "moldova-2008-synthetic")


def test_dask_duplicate_person_ids(moldova: tuple[pd.DataFrame, fe.PrevalenceReport]) -> None:
    """A person row repeated (same hh_id, ln) would be counted twice: the dask path refuses it
    as the in-memory path does, naming the partition, the rows and the ids."""
    frame, _ = moldova
    dup = pd.concat([frame, frame.iloc[[5]]]).sort_values(["hh_id", "ln"], kind="stable")
    dup = dup.reset_index(drop=True)
    ddf = _by_households(dup, "hh_id", 3)
    with dask.config.set(scheduler="sync"), pytest.raises(DataError) as err:
        fe.estimate_prevalence(ddf, "moldova-2008-synthetic", missing="minimum")
    message = str(err.value)
    assert "<dask DataFrame>, partition 0: 1 person row(s) repeat the ids (hh_id, ln)" in message
    hh, ln = frame.iloc[5][["hh_id", "ln"]]
    assert f"hh_id={int(hh)}, ln={int(ln)}" in message


def test_dask_column_names_in_another_case(
        moldova: tuple[pd.DataFrame, fe.PrevalenceReport]) -> None:
    """A file whose names are upper case (an SPSS portable file) gets the in-memory path's
    error naming the columns and the fix, not a 'column not found' from a partition."""
    frame, _ = moldova
    upper = frame.rename(columns=str.upper)
    ddf = _by_households(upper, "HH_ID", 2)
    with dask.config.set(scheduler="sync"), pytest.raises(DataError,
                                                          match=r"<dask DataFrame>: column"):
        fe.estimate_prevalence(ddf, "moldova-2008-synthetic", missing="minimum")
