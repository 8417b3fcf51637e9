"""read_microdata: round trips through every format pyreadstat writes, metadata kept, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from flestimate.errors import DataError
from flestimate.io import Microdata, read_microdata

FRAME = pd.DataFrame({"hh": [1.0, 2.0, 3.0, 4.0], "q1": [1.0, 2.0, 8.0, 9.0],
                      "sex": [1.0, 2.0, 1.0, 2.0]})
LABELS = {"hh": "Household", "q1": "Forced to work", "sex": "Sex"}
VALUES = {"q1": {1: "yes", 2: "no", 8: "don't know", 9: "refused"}, "sex": {1: "male", 2: "female"}}


@pytest.fixture
def sav(tmp_path: Path) -> Path:
    path = tmp_path / "module.sav"
    pyreadstat.write_sav(FRAME, path, column_labels=LABELS, variable_value_labels=VALUES,
                         missing_ranges={"q1": [8, 9]})
    return path


def test_spss_round_trip_keeps_labels_and_missing_codes(sav: Path) -> None:
    md = read_microdata(sav)
    assert isinstance(md, Microdata)
    # User-missing codes stay codes (8 don't know, 9 refused), listed in the metadata.
    assert md.frame["q1"].tolist() == [1.0, 2.0, 8.0, 9.0]
    assert md.metadata.missing_values["q1"] == (8.0, 9.0)
    assert md.metadata.variable_labels["q1"] == "Forced to work"
    assert dict(md.metadata.value_labels["q1"]) == {1.0: "yes", 2.0: "no", 8.0: "don't know",
                                                     9.0: "refused"}
    assert md.metadata.encoding == "UTF-8"
    assert md.metadata.file_format == "spss"
    assert md.labelled()["q1"].tolist() == ["yes", "no", "don't know", "refused"]


def test_usecols_and_chunks(sav: Path) -> None:
    md = read_microdata(sav, usecols=["hh", "sex"], chunksize=3)
    assert list(md.frame.columns) == ["hh", "sex"]
    assert md.frame["hh"].tolist() == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(DataError, match=r"column\(s\) 'nope' not found in .*module.sav"):
        read_microdata(sav, usecols=["hh", "nope"])


@pytest.mark.parametrize(
    ("suffix", "writer", "fmt"),
    [(".zsav", "sav", "spss"), (".por", "por", "spss-portable"), (".dta", "dta", "stata"),
     (".xpt", "xport", "sas-transport")],
)
def test_statistical_formats(tmp_path: Path, suffix: str, writer: str, fmt: str) -> None:
    path = tmp_path / f"module{suffix}"
    kwargs: dict = {"column_labels": LABELS}
    if writer in ("sav", "dta"):
        kwargs["variable_value_labels"] = {"sex": VALUES["sex"]}
    if suffix == ".zsav":
        kwargs["compress"] = True
    getattr(pyreadstat, f"write_{writer}")(FRAME, path, **kwargs)
    md = read_microdata(path)
    assert md.metadata.file_format == fmt
    frame = md.frame.rename(columns=str.lower)
    np.testing.assert_array_equal(frame[["hh", "q1", "sex"]].to_numpy(), FRAME.to_numpy())
    labels = {k.lower(): v for k, v in md.metadata.variable_labels.items()}
    if writer != "por":  # pyreadstat's portable-file writer drops variable labels
        assert labels["q1"].startswith("Forced")
    if writer in ("sav", "dta"):
        assert dict(md.metadata.value_labels["sex"]) == {1.0: "male", 2.0: "female"}


@pytest.mark.parametrize("name", ["m.csv", "m.csv.gz", "m.parquet"])
def test_text_and_parquet(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith("parquet"):
        FRAME.to_parquet(path)
    else:
        FRAME.to_csv(path, index=False)
    md = read_microdata(path, usecols=["hh", "q1"])
    assert md.frame["q1"].tolist() == [1.0, 2.0, 8.0, 9.0]
    assert list(md.frame.columns) == ["hh", "q1"]


def test_dataframe_is_wrapped() -> None:
    md = read_microdata(FRAME, usecols=["q1"])
    assert md.frame["q1"].tolist() == [1.0, 2.0, 8.0, 9.0]
    assert md.metadata.file_format == "dataframe"


def test_bad_files(tmp_path: Path, sav: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_microdata(tmp_path / "none.sav")
    odd = tmp_path / "m.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(DataError, match="unknown extension '.xlsx'"):
        read_microdata(odd)
    corrupt = tmp_path / "broken.sav"
    corrupt.write_bytes(b"this is not an SPSS file")
    with pytest.raises(DataError, match=r"cannot read .*broken.sav"):
        read_microdata(corrupt)
    truncated = tmp_path / "cut.sav"
    truncated.write_bytes(sav.read_bytes()[:200])
    with pytest.raises(DataError, match=r"cannot read .*cut.sav"):
        read_microdata(truncated)
