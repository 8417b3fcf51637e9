"""read_microdata: round trips through every format pyreadstat writes, metadata kept, errors.

Files are written by pyreadstat in tmp_path. What its writers cannot produce is made by hand: a
.por with labels and user-missing codes (records added to a written one), an .xpt with SAS
special missing values (bytes of a written one patched), and a .sas7bdat embedded below.
"""

from __future__ import annotations

import base64
import gc
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from flestimate.errors import ArgumentError, DataError
from flestimate.io import Metadata, Microdata, read_microdata

FRAME = pd.DataFrame({"hh": [1.0, 2.0, 3.0, 4.0], "q1": [1.0, 2.0, 8.0, 9.0],
                      "sex": [1.0, 2.0, 1.0, 2.0]})
LABELS = {"hh": "Household", "q1": "Forced to work", "sex": "Sex"}
VALUES = {"q1": {1: "yes", 2: "no", 8: "don't know", 9: "refused"}, "sex": {1: "male", 2: "female"}}

# A survey module with what the formats differ on: a string column with an empty value, a
# weight with a system-missing value, labelled codes with SPSS user-missing 8/9 and a range.
MODULE = pd.DataFrame({
    "hh": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    "name": ["Ana", "Ion", "", "Maria", "Vasile", "Elena"],
    "q1": [1.0, 2.0, 8.0, 9.0, 1.0, 2.0],
    "inc": [1200.0, 9998.0, 350.5, 0.0, 9999.0, 80.25],
    "w": [1.5, np.nan, 2.25, 3.0, 0.5, 1.0],
})
MODULE_LABELS = {"hh": "Household", "q1": "Forced to work", "inc": "Monthly income"}
MODULE_VALUES = {"q1": {1: "yes", 2: "no", 8: "don't know", 9: "refused"}}

# Written by R haven 2.5.1 (ReadStat's SAS writer), since pyreadstat cannot write .sas7bdat:
#   q1 <- c(1, tagged_na("A"), 2, tagged_na("_"), NA, tagged_na("A"))
#   attr(q1, "label") <- "Forced to work"
#   df <- data.frame(HH = c(1, 2, 3, 4, 5, 6)); df$Q1 <- q1
#   haven::write_sas(df, "special.sas7bdat")
# stored zlib-compressed and base64-encoded (16,384 bytes, mostly an empty page).
SAS7BDAT_SPECIAL_MISSING = (
    "eNrt2r9LAmEcx/GvFmUUoeDgIHREg0OERxEEQR6kGNgQOjQG1RBBkvRrq6Cxqbmh/6G5iJbGaGsI2huiqYJ+XGf3yH"
    "lPXRnRIL1fIl++n+e+jwgqHjwintOb7ZnDeOz8aC8iHWfmbqInGhsU6ZWQmPKluK8rWkUjN1HIjlslq5gtGUHkG9V5"
    "97qt5du1a8urmupOUZGwFo8MpM20OZl26pBThwsLS6sbAgAAAAAAAAAAAADAf9TuPEQuu9wu1eJfPVF5QpvaUfloLQ"
    "i5ZVrl/VqeDLj+qtOtGW3//YAcAAAAaFavT/a7n031Sfev5j3P7rid0vKI82x1/qBHtL6eGrW9+4KkOp9rfDin+/LJ"
    "6+hnhPN5kSlTJFeuzM7PGStlY71cWRS5d1TX9T0fHI28x6iqbQHr4UY30NgaPs1oSqH6b8bdmL+q2+/jx031S5Dx5R"
    "J160FtPe72F7U+oc0DAAAAAIC/8AZ/83gW"
)


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


# --- round trips: what each format keeps (the table in docs/read.md) -----------------------

def _write(path: Path, kind: str) -> None:
    if kind in ("sav", "zsav"):
        pyreadstat.write_sav(MODULE, path, column_labels=MODULE_LABELS,
                             variable_value_labels=MODULE_VALUES, compress=kind == "zsav",
                             missing_ranges={"q1": [8, 9], "inc": [{"lo": 9998, "hi": 9999}]})
    elif kind == "dta":
        pyreadstat.write_dta(MODULE, path, column_labels=MODULE_LABELS,
                             variable_value_labels=MODULE_VALUES)
    elif kind == "por":  # the writer takes no value labels and no missing values
        pyreadstat.write_por(MODULE, path, column_labels=MODULE_LABELS)
    else:  # xpt: no value labels (SAS keeps them in a format catalog) and no missing values
        pyreadstat.write_xport(MODULE, path, column_labels=MODULE_LABELS)


@pytest.mark.parametrize("kind", ["sav", "zsav", "por", "dta", "xpt"])
def test_round_trip_keeps_what_the_format_keeps(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"module.{kind}"
    _write(path, kind)
    md = read_microdata(path)
    fmt = {"sav": "spss", "zsav": "spss", "por": "spss-portable", "dta": "stata",
           "xpt": "sas-transport"}[kind]
    assert md.metadata.file_format == fmt
    assert md.metadata.file == str(path)
    frame = md.frame
    # Portable files have upper-case names of at most 8 characters.
    names = [c.upper() for c in MODULE.columns] if kind == "por" else list(MODULE.columns)
    assert list(frame.columns) == names
    frame.columns = list(MODULE.columns)
    # Every format keeps the values, the user-missing codes as codes and NaN as NaN.
    for col in ("hh", "q1", "inc", "w"):
        assert frame[col].dtype == np.float64
        np.testing.assert_array_equal(frame[col].to_numpy(), MODULE[col].to_numpy())
    assert frame["name"].tolist() == ["Ana", "Ion", "", "Maria", "Vasile", "Elena"]

    labels = md.metadata.variable_labels
    if kind == "por":  # pyreadstat's portable writer drops variable labels
        assert set(labels.values()) == {None}
    else:
        assert dict(labels) == {"hh": "Household", "name": None, "q1": "Forced to work",
                                "inc": "Monthly income", "w": None}
    if kind in ("sav", "zsav", "dta"):
        assert {k: dict(v) for k, v in md.metadata.value_labels.items()} == {
            "q1": {1: "yes", 2: "no", 8: "don't know", 9: "refused"}}
        assert md.labelled()["q1"].tolist() == ["yes", "no", "don't know", "refused", "yes",
                                                "no"]
    else:
        assert dict(md.metadata.value_labels) == {}
    if kind in ("sav", "zsav"):
        assert dict(md.metadata.missing_values) == {"q1": (8.0, 9.0), "inc": ((9998.0, 9999.0),)}
        assert md.metadata.encoding == "UTF-8"
    else:  # no SPSS user-missing values: Stata and SAS have none, pyreadstat writes none to .por
        assert dict(md.metadata.missing_values) == {}


def _por_with_labels_and_missing(path: Path) -> None:
    """A portable file with a variable label, value labels and user-missing codes 8 and 9.

    pyreadstat writes none of these to .por, so they are added as the format's records (PSPP's
    "Portable File Format"): ``8`` a discrete missing value, ``C`` a variable label, ``D``
    value labels; numbers and lengths in base 30 followed by ``/``; 80-character lines.
    """
    pyreadstat.write_por(FRAME, path)
    text = path.read_bytes().replace(b"\r\n", b"")
    q1 = b"70/2/Q15/8/2/5/8/2/"  # variable Q1: numeric, name length 2, formats F8.2
    assert text.count(q1) == 1 and text.count(b"F1/1/") == 1
    text = text.replace(q1, q1 + b"88/89/" + b"CE/Forced to work")
    labels = b"D1/2/Q14/1/3/yes2/2/no8/A/don't know9/7/refused"
    text = text.replace(b"F1/1/", labels + b"F1/1/")
    path.write_bytes(b"".join(text[i:i + 80] + b"\r\n" for i in range(0, len(text), 80)))


def test_por_keeps_labels_and_user_missing_codes(tmp_path: Path) -> None:
    # pyreadstat's read_por() would read 8 and 9 as NaN and list no missing values: the
    # reader uses pyreadstat's parser with user_missing=True instead.
    path = tmp_path / "labelled.por"
    _por_with_labels_and_missing(path)
    md = read_microdata(path)
    assert md.frame["Q1"].tolist() == [1.0, 2.0, 8.0, 9.0]
    assert md.metadata.missing_values["Q1"] == (8.0, 9.0)
    assert md.metadata.variable_labels["Q1"] == "Forced to work"
    assert dict(md.metadata.value_labels["Q1"]) == {1.0: "yes", 2.0: "no", 8.0: "don't know",
                                                     9.0: "refused"}
    assert read_microdata(path, chunksize=3).frame["Q1"].tolist() == [1.0, 2.0, 8.0, 9.0]
    # the public reader loses the codes; this is what the parser call protects against
    assert pyreadstat.read_por(path)[0]["Q1"].isna().tolist() == [False, False, True, True]


# --- Stata and SAS extended missing values ---------------------------------------------------

def _dta_with_extended_missing(path: Path) -> None:
    frame = pd.DataFrame({
        "q1": pd.Series([1.0, "a", 2.0, "b", np.nan, "a"], dtype=object),  # double
        "n": pd.Series([3, 4, "z", 5, 6, 7], dtype=object),  # written as a Stata long
        "only": pd.Series([np.nan, "c", "c", np.nan, "c", np.nan], dtype=object),
        "w": [1.5, np.nan, 2.0, 2.5, 3.0, 3.5],
    })
    pyreadstat.write_dta(frame, path, missing_user_values={"q1": ["a", "b"], "n": ["z"],
                                                           "only": ["c"]},
                         variable_value_labels={"q1": {1: "yes", 2: "no", "a": "don't know",
                                                       "b": "refused"}},
                         column_labels={"q1": "Forced to work"})


def test_stata_extended_missing_kept_as_codes(tmp_path: Path) -> None:
    path = tmp_path / "tagged.dta"
    _dta_with_extended_missing(path)
    # Independent check that the file holds .a/.b/.z/.c: pandas' own Stata reader.
    stata = pd.read_stata(path, convert_missing=True, convert_categoricals=False)
    assert [str(v) for v in stata["q1"]] == ["1.0", ".a", "2.0", ".b", ".", ".a"]
    assert [str(v) for v in stata["n"]] == ["3", "4", ".z", "5", "6", "7"]

    md = read_microdata(path)
    frame = md.frame
    assert frame["q1"].dtype == object
    assert frame["q1"].tolist()[:4] == [1.0, ".a", 2.0, ".b"]
    assert np.isnan(frame["q1"][4]) and frame["q1"][5] == ".a"
    assert frame["n"].dtype == object and frame["n"].tolist() == [3, 4, ".z", 5, 6, 7]
    # tags and system missing only: still object, not pandas' str dtype
    assert frame["only"].dtype == object
    assert frame["only"].isna().tolist() == [True, False, False, True, False, True]
    assert frame["only"].dropna().tolist() == [".c", ".c", ".c"]
    # a column without extended missing values stays numeric
    assert frame["w"].dtype == np.float64
    assert np.isnan(frame["w"][1]) and frame["w"][5] == 3.5
    assert dict(md.metadata.missing_values) == {"q1": (".a", ".b"), "n": (".z",),
                                                "only": (".c",)}
    assert dict(md.metadata.value_labels["q1"]) == {1: "yes", 2: "no", ".a": "don't know",
                                                     ".b": "refused"}
    assert md.metadata.variable_labels["q1"] == "Forced to work"
    assert md.labelled()["q1"].tolist()[:4] == ["yes", "don't know", "no", "refused"]


def test_stata_extended_missing_as_nan(tmp_path: Path) -> None:
    path = tmp_path / "tagged.dta"
    _dta_with_extended_missing(path)
    md = read_microdata(path, extended_missing="nan")
    assert md.frame["q1"].dtype == np.float64
    assert md.frame["q1"].isna().tolist() == [False, True, False, True, True, True]
    assert md.frame["only"].isna().all()
    # pyreadstat gives an integer column with missing values as object (ints and NaN)
    assert md.frame["n"].isna().tolist() == [False, False, True, False, False, False]
    assert dict(md.metadata.missing_values) == {}
    # the labels of the codes are still the file's, under the codes' names
    assert dict(md.metadata.value_labels["q1"])[".a"] == "don't know"


def test_extended_missing_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "tagged.dta"
    _dta_with_extended_missing(path)
    whole = read_microdata(path)
    for chunksize in (1, 2, 4, 6, 7):
        md = read_microdata(path, chunksize=chunksize)
        pd.testing.assert_frame_equal(md.frame, whole.frame, check_exact=True)
        # codes met in different chunks are all listed
        assert md.metadata == whole.metadata


def _sas7bdat(path: Path) -> None:
    path.write_bytes(zlib.decompress(base64.b64decode("".join(SAS7BDAT_SPECIAL_MISSING))))


def test_sas7bdat_special_missing(tmp_path: Path) -> None:
    path = tmp_path / "special.sas7bdat"
    _sas7bdat(path)
    md = read_microdata(path)
    assert md.metadata.file_format == "sas"
    assert md.frame["HH"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    q1 = md.frame["Q1"]
    assert q1.dtype == object
    assert q1[[0, 1, 2, 3, 5]].tolist() == [1.0, ".A", 2.0, "._", ".A"]
    assert np.isnan(q1[4])
    assert dict(md.metadata.missing_values) == {"Q1": (".A", "._")}
    assert md.metadata.variable_labels["Q1"] == "Forced to work"
    pd.testing.assert_frame_equal(read_microdata(path, chunksize=4).frame, md.frame)
    nan = read_microdata(path, extended_missing="nan")
    assert nan.frame["Q1"].isna().tolist() == [False, True, False, True, True, True]
    assert dict(nan.metadata.missing_values) == {}


def _xpt_with_special_missing(path: Path) -> None:
    """An .xpt whose q1 holds .A and ._: pyreadstat's writer takes no special missing values,
    so the 8-byte missing value (``.`` then 7 zero bytes) is patched to ``A`` and ``_``."""
    pyreadstat.write_xport(pd.DataFrame({"hh": [1.0, 2.0, 3.0, 4.0, 5.0],
                                         "q1": [1.0, np.nan, 2.0, np.nan, np.nan]}), path)
    data = bytearray(path.read_bytes())
    start = data.index(b"HEADER RECORD*******OBS")
    missing = b"." + bytes(7)
    first = data.index(missing, start)
    second = data.index(missing, first + 8)
    data[first:first + 1] = b"A"
    data[second:second + 1] = b"_"
    path.write_bytes(bytes(data))


def test_xpt_special_missing(tmp_path: Path) -> None:
    path = tmp_path / "special.xpt"
    _xpt_with_special_missing(path)
    md = read_microdata(path)
    q1 = md.frame["q1"]
    assert q1[[0, 1, 2, 3]].tolist() == [1.0, ".A", 2.0, "._"] and np.isnan(q1[4])
    assert dict(md.metadata.missing_values) == {"q1": (".A", "._")}
    pd.testing.assert_frame_equal(read_microdata(path, chunksize=2).frame, md.frame)
    nan = read_microdata(path, extended_missing="nan")
    assert nan.frame["q1"].dtype == np.float64
    assert nan.frame["q1"].isna().tolist() == [False, True, False, True, True]


@pytest.mark.parametrize("value", ["x", "NaN", None, 1])
def test_extended_missing_is_validated(sav: Path, value: Any) -> None:
    with pytest.raises(ArgumentError, match=(
            r"^`extended_missing` of `read_microdata\(\)` must be 'codes' or 'nan'; got "
            + repr(value) + "$")):
        read_microdata(sav, extended_missing=value)


@pytest.mark.parametrize("value", [0, -5, 2.5, True])
def test_chunksize_is_validated(sav: Path, value: Any) -> None:
    with pytest.raises(ArgumentError, match=(
            r"^`chunksize` of `read_microdata\(\)` must be a positive integer; got "
            + repr(value) + "$")):
        read_microdata(sav, chunksize=value)


# --- chunked reading -------------------------------------------------------------------------

def _survey(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    q = rng.choice([1.0, 2.0, 8.0, 9.0, np.nan], size=n, p=[0.5, 0.35, 0.06, 0.04, 0.05])
    return pd.DataFrame({
        "hh": np.arange(1.0, n + 1.0),
        "district": rng.choice(["Nord", "Centru", "Sud", ""], size=n),
        "q1": q,
        "w": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0.5, 3.0, n)),
    })


@pytest.mark.parametrize("kind", ["sav", "zsav", "dta", "por", "xpt"])
@pytest.mark.parametrize("chunksize", [1, 3, 10, 11, 100])
def test_chunked_read_equals_whole_read(tmp_path: Path, kind: str, chunksize: int) -> None:
    # .sav, .zsav, .dta say their number of rows (columns are allocated once); .por and .xpt
    # do not (chunks are joined one column at a time).
    path = tmp_path / f"survey.{kind}"
    frame = _survey(11, seed=7)
    if kind in ("sav", "zsav"):
        pyreadstat.write_sav(frame, path, compress=kind == "zsav",
                             variable_value_labels={"q1": {1: "yes", 2: "no"}},
                             missing_ranges={"q1": [8, 9]})
    else:
        writer = {"dta": pyreadstat.write_dta, "por": pyreadstat.write_por,
                  "xpt": pyreadstat.write_xport}[kind]
        writer(frame, path)
    whole = read_microdata(path)
    md = read_microdata(path, chunksize=chunksize)
    pd.testing.assert_frame_equal(md.frame, whole.frame, check_exact=True)
    assert md.metadata == whole.metadata
    col = "Q1" if kind == "por" else "q1"
    np.testing.assert_array_equal(md.frame[col].to_numpy(), frame["q1"].to_numpy())
    assert md.frame.iloc[:, 1].tolist() == frame["district"].tolist()


def test_chunked_read_of_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.sav"
    pyreadstat.write_sav(_survey(0, seed=1), path)
    md = read_microdata(path, chunksize=5)
    assert md.frame.shape == (0, 4)
    pd.testing.assert_frame_equal(md.frame, read_microdata(path).frame)


def test_chunked_read_widens_a_column_typed_per_chunk(tmp_path: Path) -> None:
    # pyreadstat types a Stata long column int64 in a chunk without missing values and object
    # in one with them; the preallocated int64 column must widen, and both reads end as float64
    # (numbers with a missing value), not object.
    path = tmp_path / "long.dta"
    pyreadstat.write_dta(pd.DataFrame({"n": pd.Series([1, 2, 3, None, 5, 6], dtype=object),
                                       "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}), path)
    whole = read_microdata(path)
    assert whole.frame["n"].dtype == np.float64
    md = read_microdata(path, chunksize=2)
    pd.testing.assert_frame_equal(md.frame, whole.frame, check_exact=True)
    assert md.frame["n"][:3].tolist() == [1, 2, 3] and np.isnan(md.frame["n"][3])


# --- errors ----------------------------------------------------------------------------------

def test_dataframe_is_wrapped() -> None:
    md = read_microdata(FRAME, usecols=["q1"])
    assert md.frame["q1"].tolist() == [1.0, 2.0, 8.0, 9.0]
    assert md.metadata == Metadata()


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


def test_corrupt_and_truncated_sas7bdat(tmp_path: Path) -> None:
    corrupt = tmp_path / "broken.sas7bdat"
    corrupt.write_bytes(b"not a SAS data set" * 100)
    with pytest.raises(DataError, match=r"cannot read '.*broken\.sas7bdat' as sas: "):
        read_microdata(corrupt)
    whole = tmp_path / "special.sas7bdat"
    _sas7bdat(whole)
    truncated = tmp_path / "cut.sas7bdat"
    truncated.write_bytes(whole.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"cannot read '.*cut\.sas7bdat' as sas: "):
        read_microdata(truncated)


# --- encodings -------------------------------------------------------------------------------

CYRILLIC = pd.DataFrame({"q": [1.0, 2.0], "region": ["Кишинёв", "Бэлць"]})


def test_sav_with_a_wrong_encoding(tmp_path: Path) -> None:
    path = tmp_path / "ru.sav"
    pyreadstat.write_sav(CYRILLIC, path, column_labels={"q": "Вопрос"},
                         variable_value_labels={"q": {1: "да", 2: "нет"}})
    md = read_microdata(path)
    assert md.frame["region"].tolist() == ["Кишинёв", "Бэлць"]
    assert md.metadata.variable_labels["q"] == "Вопрос"
    # an encoding that cannot decode the file's bytes is an error naming the file
    with pytest.raises(DataError, match=r"cannot read '.*ru\.sav' as spss with encoding 'ascii'"):
        read_microdata(path, encoding="ascii")
    with pytest.raises(DataError, match=r"'.*ru\.sav' as spss with encoding 'no-such-code'"):
        read_microdata(path, encoding="no-such-code")
    # one that can decode them reads garbage without an error (documented in docs/read.md)
    wrong = read_microdata(path, encoding="cp1251")
    assert wrong.frame["region"].tolist() == [s.encode().decode("cp1251")
                                              for s in ["Кишинёв", "Бэлць"]]
    assert wrong.metadata.variable_labels["q"] == "Вопрос".encode().decode("cp1251")
    assert wrong.metadata.encoding == "cp1251"


def test_old_stata_file_needs_its_encoding(tmp_path: Path) -> None:
    # Stata files before version 14 do not say their encoding; ReadStat assumes Windows-1252.
    path = tmp_path / "old.dta"
    frame = pd.DataFrame({"q": [1.0, 2.0], "s": ["Привет", "мир"]})
    pyreadstat.write_dta(frame, path, version=12, column_labels={"q": "Вопрос"})
    garbled = read_microdata(path)
    assert garbled.frame["s"].tolist() == [s.encode().decode("cp1252") for s in ["Привет", "мир"]]
    md = read_microdata(path, encoding="utf-8")
    assert md.frame["s"].tolist() == ["Привет", "мир"]
    assert md.metadata.variable_labels["q"] == "Вопрос"


def test_xpt_encoding_is_passed(tmp_path: Path) -> None:
    path = tmp_path / "fr.xpt"
    pyreadstat.write_xport(pd.DataFrame({"q": [1.0], "s": ["étage"]}), path,
                           column_labels={"q": "Numéro"})
    assert read_microdata(path).metadata.variable_labels["q"] == "Numéro"
    assert read_microdata(path, encoding="latin1").frame["s"].tolist() == ["Ã©tage"]
    with pytest.raises(DataError, match=r"'.*fr\.xpt' as sas-transport with encoding 'ascii'"):
        read_microdata(path, encoding="ascii")


def test_csv_with_a_wrong_encoding(tmp_path: Path) -> None:
    path = tmp_path / "ru.csv"
    CYRILLIC.to_csv(path, index=False, encoding="cp1251")
    with pytest.raises(DataError, match=r"cannot read '.*ru\.csv': it is not valid utf-8 text"):
        read_microdata(path)
    assert read_microdata(path, encoding="cp1251").frame["region"].tolist() == [
        "Кишинёв", "Бэлць"]
    # latin-1 decodes any byte: no error, wrong letters
    assert read_microdata(path, encoding="latin-1").frame["region"].tolist() == [
        s.encode("cp1251").decode("latin-1") for s in ["Кишинёв", "Бэлць"]]


# --- memory ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_chunked_read_of_a_million_rows_holds_one_copy(tmp_path: Path) -> None:
    """Peak Python-visible memory of a chunked read stays below 1.5x the final frame.

    tracemalloc sees numpy's buffers (pyreadstat reads into numpy arrays, and the final columns
    are numpy arrays), which is where the data live; ReadStat's own C buffers (a page of the
    file at a time) are not traced. A whole-file read peaks at about 2x (pyreadstat copies its
    arrays into its DataFrame), a concatenation of chunks at about 2x as well.
    """
    n = 1_000_000
    rng = np.random.default_rng(20261129)
    frame = pd.DataFrame({f"q{i}": rng.choice([1.0, 2.0, 8.0, 9.0, np.nan], size=n)
                          for i in range(5)})
    path = tmp_path / "million.sav"
    pyreadstat.write_sav(frame, path, missing_ranges={c: [8, 9] for c in frame.columns})
    expected = frame.to_numpy()
    del frame
    gc.collect()
    tracemalloc.start()
    try:
        md = read_microdata(path, chunksize=100_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = int(md.frame.memory_usage(deep=True).sum())
    assert md.frame.shape == (n, 5)
    np.testing.assert_array_equal(md.frame.to_numpy(), expected)
    assert peak < 1.5 * size, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB frame"
