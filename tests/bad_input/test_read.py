"""Bad input at the read stage (issue 15, section 4: silent loss or double counting).

Each case writes a small synthetic file into ``tmp_path`` that reads "successfully" with pandas or
pyreadstat alone but loses rows or renames columns, and asserts that :func:`read_microdata`
raises the error class named, with a message naming the file and what was expected and found.
The valid files of the same shapes read every row (nothing is lost by the checks).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flestimate.errors import ArgumentError, DataError
from flestimate.io import read_microdata

pyreadstat = pytest.importorskip("pyreadstat")

N = 2000


def _frame(n: int = N) -> pd.DataFrame:
    i = np.arange(n)
    return pd.DataFrame({"hh_id": i // 3 + 1, "ln": i % 3 + 1, "w_pers": np.linspace(1.5, 5.5, n),
                         "q1_03": (i % 60 + 15).astype(float)})


def _cut(path: Path, keep: Callable[[int], int]) -> Path:
    raw = path.read_bytes()
    out = path.with_name("cut_" + path.name)
    out.write_bytes(raw[:keep(len(raw))])
    return out


def _xpt(tmp: Path, version: int, keep: Callable[[int], int], df: pd.DataFrame | None = None
         ) -> Path:
    p = tmp / f"persons_v{version}.xpt"
    pyreadstat.write_xport(_frame() if df is None else df, str(p), file_format_version=version)
    return _cut(p, keep)


def _stat(tmp: Path, ext: str, keep: Callable[[int], int]) -> Path:
    p = tmp / f"persons.{ext}"
    {"sav": pyreadstat.write_sav, "dta": pyreadstat.write_dta}[ext](_frame(), str(p))
    return _cut(p, keep)


def _text(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


def _csv(tmp: Path, name: str = "persons.csv", **to_csv: Any) -> Path:
    p = tmp / name
    _frame(20).to_csv(p, index=False, **to_csv)
    return p


def _truncated_csv(tmp: Path) -> Path:
    p = _csv(tmp)
    text = p.read_text()
    # cut inside the last line, after its second field: 2 of 4 fields, no line end
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    p.write_text(text.rstrip("\n")[: -len(last)] + ",".join(last.split(",")[:2]))
    return p


def _half(size: int) -> int:
    return size // 2


# id, make the file (from tmp_path), read_microdata keywords, error class, words of the message
BAD_READS: list[tuple[str, Callable[[Path], Path], dict[str, Any], type[Exception], tuple[str, ...]]] = [
    ("xpt-v8-cut-in-half", lambda t: _xpt(t, 8, _half), {}, DataError,
     ("cut_persons_v8.xpt", "records 2000 row(s)", "980 were read", "1020 lost")),
    ("xpt-v8-cut-in-half-chunked", lambda t: _xpt(t, 8, _half), {"chunksize": 300}, DataError,
     ("cut_persons_v8.xpt", "records 2000 row(s)", "were read")),
    ("xpt-v8-cut-mid-record", lambda t: _xpt(t, 8, lambda s: s - 7), {}, DataError,
     ("cut_persons_v8.xpt", "records 2000 row(s)", "1999 were read")),
    ("xpt-v5-cut-mid-row", lambda t: _xpt(t, 5, lambda s: s // 2 // 80 * 80 + 80), {}, DataError,
     ("cut_persons_v5.xpt", "truncated", "cut row", "row(s) were read")),
    ("xpt-v5-cut-mid-record", lambda t: _xpt(t, 5, lambda s: s - 33), {}, DataError,
     ("cut_persons_v5.xpt", "truncated", "80-byte records", "row(s) were read")),
    ("sav-cut-in-half", lambda t: _stat(t, "sav", _half), {}, DataError,
     ("cut_persons.sav", "records 2000 row(s)", "truncated")),
    ("sav-cut-in-half-chunked", lambda t: _stat(t, "sav", _half), {"chunksize": 500}, DataError,
     ("cut_persons.sav", "2000 row(s)")),
    ("dta-cut-in-half", lambda t: _stat(t, "dta", _half), {}, DataError,
     ("cut_persons.dta", "stata")),
    ("csv-duplicated-header", lambda t: _text(t, "dup.csv", "hh_id,ln,w_pers,w_pers\n1,1,2.5,3\n"),
     {}, DataError, ("dup.csv", "repeats column name(s) 'w_pers'", "'w_pers.1'")),
    ("csv-two-duplicated-names",
     lambda t: _text(t, "dup2.csv", "hh_id,ln,ln,w_pers,hh_id\n1,1,1,2.5,1\n"),
     {}, DataError, ("dup2.csv", "'ln', 'hh_id'", "5 names")),
    ("csv-duplicated-header-with-sep",
     lambda t: _text(t, "dup3.csv", "hh_id;w_pers;w_pers\n1;2;3\n"), {"sep": ";"}, DataError,
     ("dup3.csv", "'w_pers'")),
    ("csv-semicolon", lambda t: _csv(t, "semi.csv", sep=";"), {}, DataError,
     ("semi.csv", "delimited by ';'", "'hh_id', 'ln', 'w_pers', 'q1_03'", "sep=';'")),
    ("csv-semicolon-decimal-comma", lambda t: _csv(t, "euro.csv", sep=";", decimal=","), {},
     DataError, ("euro.csv", "delimited by ';'", "decimal comma", "sep=';', decimal=','")),
    ("csv-tab", lambda t: _csv(t, "tab.csv", sep="\t"), {}, DataError,
     ("tab.csv", "delimited by '\\t'", "'hh_id', 'ln'")),
    ("csv-pipe", lambda t: _csv(t, "pipe.txt", sep="|"), {}, DataError,
     ("pipe.txt", "delimited by '|'", "sep='|'")),
    ("csv-sep-given-decimal-comma", lambda t: _csv(t, "euro2.csv", sep=";", decimal=","),
     {"sep": ";"}, DataError, ("euro2.csv", "column 'w_pers'", "decimal comma", "decimal=','")),
    ("csv-cut-mid-line", _truncated_csv, {}, DataError,
     ("persons.csv", "truncated", "2 of 4 fields", "20 row(s) were read")),
    ("bad-decimal-argument", lambda t: _csv(t), {"decimal": ";"}, ArgumentError,
     ("`decimal` of `read_microdata()`", "';'")),
]


@pytest.mark.parametrize(("make", "kwargs", "error", "words"),
                         [c[1:] for c in BAD_READS], ids=[c[0] for c in BAD_READS])
def test_bad_file_is_an_error_naming_file_and_rows(
    tmp_path: Path, make: Callable[[Path], Path], kwargs: dict[str, Any],
    error: type[Exception], words: tuple[str, ...],
) -> None:
    path = make(tmp_path)
    before = {p.name for p in tmp_path.iterdir()}
    with pytest.raises(error) as info:
        read_microdata(path, **kwargs)
    message = str(info.value)
    for w in words:
        assert w in message, (w, message)
    assert {p.name for p in tmp_path.iterdir()} == before  # reading writes nothing


# -- nothing lost: the valid files of the same shapes read every row ---------------------------
def _write(tmp: Path, ext: str) -> Path:
    df = _frame()
    p = tmp / f"persons.{ext.split('-')[0]}"
    if ext == "xpt-v5":
        pyreadstat.write_xport(df, str(p), file_format_version=5)
    elif ext == "xpt-v8":
        pyreadstat.write_xport(df, str(p), file_format_version=8)
    elif ext == "sav":
        pyreadstat.write_sav(df, str(p))
    elif ext == "dta":
        pyreadstat.write_dta(df, str(p))
    elif ext == "por":
        pyreadstat.write_por(df, str(p))
    elif ext == "parquet":
        pytest.importorskip("pyarrow")
        df.to_parquet(p)
    elif ext == "csv":
        df.to_csv(p, index=False)
    elif ext == "csv-no-final-newline":
        p = tmp / "persons.csv"
        p.write_text(df.to_csv(index=False).rstrip("\n"))
    elif ext == "csv-semicolon":
        p = tmp / "persons.csv"
        df.to_csv(p, index=False, sep=";", decimal=",")
    return p


GOOD = [
    # id, read_microdata keywords, words of metadata.row_check
    ("sav", {}, "2000 row(s) read, as the file records"),
    ("sav", {"chunksize": 300}, "as the file records"),
    ("dta", {}, "as the file records"),
    ("xpt-v8", {}, "as the file records"),
    ("xpt-v8", {"chunksize": 300}, "as the file records"),
    ("xpt-v5", {}, "checked that it ends on a whole row and record"),
    ("por", {}, "records no row count: not checked"),
    ("parquet", {}, "as the file records"),
    ("csv", {}, "a csv file records no row count: not checked"),
    ("csv-no-final-newline", {}, "not checked"),
    ("csv-semicolon", {"sep": ";", "decimal": ","}, "not checked"),
]


@pytest.mark.parametrize(("fmt", "kwargs", "check"), GOOD,
                         ids=[f"{g[0]}{'-chunked' if g[1].get('chunksize') else ''}" for g in GOOD])
def test_valid_file_reads_every_row(tmp_path: Path, fmt: str, kwargs: dict[str, Any],
                                    check: str) -> None:
    md = read_microdata(_write(tmp_path, fmt), **kwargs)
    assert len(md.frame) == N
    names = [c.lower() for c in md.frame.columns]
    assert names == ["hh_id", "ln", "w_pers", "q1_03"]
    w = md.frame[md.frame.columns[2]].to_numpy(dtype=float)
    np.testing.assert_allclose(w, _frame()["w_pers"].to_numpy(), rtol=1e-12)
    assert check in md.metadata.row_check
    if "as the file records" in check:
        assert md.metadata.rows_recorded == N
    else:
        assert md.metadata.rows_recorded is None


def test_por_names_lowercased_on_request(tmp_path: Path) -> None:
    """A .por file stores upper-case names; ``lowercase_names=True`` gives the spec's names."""
    p = _write(tmp_path, "por")
    assert list(read_microdata(p).frame.columns) == ["HH_ID", "LN", "W_PERS", "Q1_03"]
    md = read_microdata(p, lowercase_names=True)
    assert list(md.frame.columns) == ["hh_id", "ln", "w_pers", "q1_03"]
    assert len(md.frame) == N


def test_text_column_kept_when_decimal_is_explicit(tmp_path: Path) -> None:
    """``decimal='.'`` with another delimiter keeps a comma column as text (the escape from the
    decimal-comma check), and loses no row."""
    p = _text(tmp_path, "codes.csv", "hh_id;codes\n1;1,2\n2;3,4\n")
    md = read_microdata(p, sep=";", decimal=".")
    assert md.frame["codes"].tolist() == ["1,2", "3,4"]
