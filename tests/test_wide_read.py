"""The main job reads only the columns a run needs from a wide file (issue 19).

A labour force survey file carries hundreds of core columns next to the forced labour module;
``estimate_prevalence`` with a path reads the spec's columns, the design, the ``by``,
calibration and non-response columns alone (across the person and household files). These tests
hold the selective read to the full read: the shipped samples with 50 extra core columns are
estimated from the path (selective) and from the file read whole (a ``Microdata``, the full-read
path) and must agree to the last bit, with the same errors and the same data-quality report.
No external reference: the reference is the full read of the same file (and the shipped narrow
file), compared exactly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyreadstat
import pytest

import flestimate.report._inputs as inputs
from flestimate import read_microdata
from flestimate.errors import DataError, SpecError
from flestimate.report import PrevalenceReport, estimate_prevalence

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
MOLDOVA = DATA / "moldova_synthetic.sav"
GEORGIA = DATA / "georgia_synthetic_persons.dta"
GEORGIA_HH = DATA / "georgia_synthetic_households.dta"
SPEC = "moldova-2008-synthetic"
pytestmark = pytest.mark.filterwarnings("ignore::flestimate.FlestimateWarning")


def _extra(n: int, k: int, prefix: str, seed: int = 19) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``k`` core columns (labelled codes, numbers, text) and their value labels."""
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {}
    labels: dict[str, dict[float, str]] = {}
    for i in range(k):
        name = f"{prefix}{i:02d}"
        if i % 3 == 0:
            cols[name] = rng.integers(1, 4, size=n).astype(float)
            labels[name] = {1.0: "low", 2.0: "middle", 3.0: "high"}
        elif i % 3 == 1:
            cols[name] = np.round(rng.gamma(2.0, 10.0, size=n), 1)
        else:
            cols[name] = np.array(["farm", "shop", "office"], dtype=object)[
                rng.integers(0, 3, size=n)]
    return pd.DataFrame(cols), labels


def _write_wide(source: Path, target: Path, prefix: str, drop: tuple[str, ...] = (),
                rename: dict[str, str] | None = None) -> Path:
    """``source`` with 50 extra columns written to ``target`` (labels and user-missing codes
    kept, the extra columns interleaved with the file's own)."""
    micro = read_microdata(source)
    base, meta = micro.frame.drop(columns=list(drop)), micro.metadata
    extra, extra_labels = _extra(len(base), 50, prefix)
    half = base.shape[1] // 2
    wide = pd.concat([extra.iloc[:, :25], base.iloc[:, :half], extra.iloc[:, 25:],
                      base.iloc[:, half:]], axis=1)
    value_labels = {**{c: dict(v) for c, v in meta.value_labels.items() if c in wide},
                    **extra_labels}
    if rename:
        wide = wide.rename(columns=rename)
        value_labels = {rename.get(c, c): v for c, v in value_labels.items()}
    if target.suffix == ".sav":
        pyreadstat.write_sav(wide, str(target), variable_value_labels=value_labels,
                             missing_ranges={c: list(v) for c, v in meta.missing_values.items()
                                             if c in wide})
    else:
        pyreadstat.write_dta(wide, str(target), variable_value_labels={
            c: {int(k): v for k, v in lab.items()} for c, lab in value_labels.items()})
    return target


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_wide(MOLDOVA, tmp_path_factory.mktemp("wide") / "moldova_wide.sav", "lfs_")


def _views(report: PrevalenceReport) -> dict[str, pd.DataFrame]:
    quality = report.quality.copy()  # its read row names the file
    quality.loc[quality["section"] == "read", "item"] = "<file>"
    return {"tables": report.to_frame(), "quality": quality,
            "indicators": report.indicator_table, "counts": report.classification_counts}


def assert_same(a: PrevalenceReport, b: PrevalenceReport) -> None:
    """Every table, the data-quality report, the indicator table and the counts, bit for bit."""
    for name, frame in _views(a).items():
        pdt.assert_frame_equal(frame, _views(b)[name], check_exact=True, obj=name)


def _columns_read(monkeypatch: pytest.MonkeyPatch) -> list[list[str] | None]:
    """Record the ``usecols`` of every read of the main job."""
    seen: list[list[str] | None] = []
    real = inputs.read_microdata

    def spy(source: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("usecols"))
        return real(source, **kwargs)

    monkeypatch.setattr(inputs, "read_microdata", spy)
    return seen


def test_wide_file_equals_full_read_and_narrow_file(wide: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """From the wide path (selective read) = from the wide file read whole = from the shipped
    narrow file, to the last bit; the extra columns are never read."""
    seen = _columns_read(monkeypatch)
    selective = estimate_prevalence(wide, SPEC, by=["sex", "region"], missing="minimum")
    (cols,) = seen
    assert cols is not None and not any(c.startswith("lfs_") for c in cols)
    assert set(cols) <= set(read_microdata(MOLDOVA).frame.columns)
    whole = estimate_prevalence(read_microdata(wide), SPEC, by=["sex", "region"],
                                missing="minimum")
    narrow = estimate_prevalence(MOLDOVA, SPEC, by=["sex", "region"], missing="minimum")
    assert_same(selective, whole)
    assert_same(selective, narrow)


def test_imputed_headline_same(wide: Path) -> None:
    """``missing="impute"`` (non-response classes, imputation model) agrees with the full read."""
    kw: dict[str, Any] = {"by": "sex", "imputations": 2, "seed": 3}
    assert_same(estimate_prevalence(wide, SPEC, **kw),
                estimate_prevalence(read_microdata(wide), SPEC, **kw))


def test_by_file_column_keeps_value_labels(wide: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``by`` column of the file (not a context variable) is read, and its domains are its
    value labels, as from the full read."""
    seen = _columns_read(monkeypatch)
    selective = estimate_prevalence(wide, SPEC, by="lfs_00", missing="minimum",
                                    disclosure="none")
    assert "lfs_00" in (seen[0] or [])
    whole = estimate_prevalence(read_microdata(wide), SPEC, by="lfs_00", missing="minimum",
                                disclosure="none")
    assert_same(selective, whole)
    domains = set(selective.to_frame()["domain"].astype(str))
    assert {"low", "middle", "high"} <= domains


def test_calibration_columns_read(wide: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Calibration margins on a file column outside the spec are read and give the full read's
    result."""
    frame = read_microdata(wide).frame
    totals = (frame.groupby("lfs_03")["w_pers"].sum() * 1.1).rename("total").reset_index()
    seen = _columns_read(monkeypatch)
    selective = estimate_prevalence(wide, SPEC, by="sex", missing="minimum", calibrate=totals)
    assert "lfs_03" in (seen[0] or [])
    whole = estimate_prevalence(read_microdata(wide), SPEC, by="sex", missing="minimum",
                                calibrate=totals)
    assert_same(selective, whole)


def test_design_override_and_replicate_pattern() -> None:
    """``design=`` overrides and a ``replicate_weights`` regular expression select columns."""
    spec = inputs.module_spec(SPEC)
    needed = inputs.needed_columns(spec, {"weights": "w_alt", "replicate_weights": r"rw\d+"})
    names = ["lfs_01", "w_alt", "rw1", "rw12", "rwx", "q5_02", "w_pers"]
    assert needed.of(names) == ["w_alt", "rw1", "rw12", "q5_02", "w_pers"]


def _error(call: Any) -> tuple[type[BaseException], str]:
    with pytest.raises((DataError, SpecError)) as info:
        call()
    return type(info.value), str(info.value)


def test_missing_spec_column_same_error(tmp_path: Path) -> None:
    """A spec item missing from the file is the same error as from the full read."""
    path = _write_wide(MOLDOVA, tmp_path / "no_item.sav", "lfs_", drop=("q5_02",))
    selective = _error(lambda: estimate_prevalence(path, SPEC, missing="minimum"))
    whole = _error(lambda: estimate_prevalence(read_microdata(path), SPEC, missing="minimum"))
    assert selective == whole
    assert "q5_02" in selective[1]


def test_other_case_same_error(tmp_path: Path) -> None:
    """A spec column present only in another case is the case-mismatch DataError, naming the
    file's first columns as the full read does."""
    path = _write_wide(MOLDOVA, tmp_path / "upper.sav", "lfs_", rename={"q5_02": "Q5_02"})
    selective = _error(lambda: estimate_prevalence(path, SPEC, missing="minimum"))
    whole = _error(lambda: estimate_prevalence(read_microdata(path), SPEC, missing="minimum"))
    assert selective == whole
    assert selective[0] is DataError and re.search(r"Q5_02.*lfs_00", selective[1])


def test_household_file_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide person and household files (Georgia style): each gives its needed columns, and the
    result equals the full read of both."""
    persons = _write_wide(GEORGIA, tmp_path / "persons.dta", "lfs_p")
    households = _write_wide(GEORGIA_HH, tmp_path / "households.dta", "lfs_h")
    seen = _columns_read(monkeypatch)
    selective = estimate_prevalence(persons, "georgia-synthetic", households=households,
                                    by="sex", missing="minimum")
    p_cols, h_cols = seen
    hh_own = set(read_microdata(GEORGIA_HH).frame.columns)
    assert p_cols and h_cols and not any(c.startswith("lfs_") for c in [*p_cols, *h_cols])
    assert set(h_cols) <= hh_own and len(set(h_cols) - {"hhid"}) > 0
    whole = estimate_prevalence(read_microdata(persons), "georgia-synthetic",
                                households=read_microdata(households), by="sex",
                                missing="minimum")
    assert_same(selective, whole)


def test_unknown_code_same_error(tmp_path: Path) -> None:
    """An item code the spec does not know is the same error (codes and rows named alike) when
    the items are held as float32 during the mapping."""
    frame = read_microdata(MOLDOVA).frame
    frame.loc[frame.index[frame["q5_02"].notna()][:2], "q5_02"] = 7.0
    path = tmp_path / "unknown.sav"
    pyreadstat.write_sav(frame, str(path))
    selective = _error(lambda: estimate_prevalence(path, SPEC, missing="minimum"))
    whole = _error(lambda: estimate_prevalence(read_microdata(path), SPEC, missing="minimum"))
    assert selective == whole
    assert "7.0" in selective[1]


def test_compact_items_only_exact_item_columns() -> None:
    """Only item columns nothing later reads, and only when float32 holds every value."""
    spec = inputs.module_spec(SPEC)
    frame = pd.DataFrame({"q5_02": [1.0, 2.0, np.nan], "q5_03": [1.0, 0.1, 2.0],
                          "q1_02": [1.0, 2.0, 1.0], "w_pers": [1.5, 2.5, 3.5]})
    later = inputs.needed_columns(spec, mapping=False)
    out = inputs.compact_items(frame.copy(), spec, later)
    assert out.dtypes.to_dict() == {"q5_02": np.float32, "q5_03": np.float64,
                                    "q1_02": np.float64, "w_pers": np.float64}
