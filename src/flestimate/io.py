"""Reading microdata: SPSS, Stata, SAS, CSV and Parquet files with their metadata.

:func:`read_microdata` returns a :class:`Microdata`: the data as a DataFrame (codes, not labels,
so that module specs can tell "don't know" from "refused") and the file's metadata: variable
labels, value labels, user-defined missing values and encoding. Every failure is a
:class:`~flestimate.errors.DataError` naming the file.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, format_values

__all__ = ["Metadata", "Microdata", "column_names", "read_microdata"]

_STAT_FORMATS = {
    ".sav": "spss",
    ".zsav": "spss",
    ".por": "spss-portable",
    ".dta": "stata",
    ".sas7bdat": "sas",
    ".xpt": "sas-transport",
}
_TEXT_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".txt")
# Formats with extended ("tagged") missing values: Stata .a-.z, SAS .A-.Z and ._
_TAGGED_FORMATS = ("stata", "sas", "sas-transport")
_TAGS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_EXTENDED_MISSING = ("codes", "nan")
# numpy kinds that a preallocated column can hold as they are; anything else (strings, dates as
# Python objects, mixed codes) goes into an object array
_NUMPY_KINDS = "biufcmM"

_Reader = Callable[..., tuple[Any, Any]]
_Columns = dict[str, np.ndarray[Any, Any]]


@dataclass(frozen=True)
class Metadata:
    """What a statistical file says about its variables.

    Attributes
    ----------
    variable_labels : Mapping[str, str | None]
    value_labels : Mapping[str, Mapping[Any, str]]
        Code -> label for every labelled variable. Labels of Stata and SAS extended missing
        values are keyed by their code as it appears in the data (``".a"``, ``".A"``, ``"._"``).
    missing_values : Mapping[str, tuple]
        SPSS: user-defined missing codes (discrete values, or ``(low, high)`` ranges); the codes
        are kept in the data, not turned into NaN, so that specs can map them. Stata and SAS: the
        extended missing codes found in the column, e.g. ``(".a", ".b")`` (these files do not
        declare them; only codes present in the rows read are listed).
    encoding : str | None
    file : str | None
    file_format : str
    rows_recorded : int | None
        The number of rows the file records (SPSS ``.sav``, Stata, SAS ``.sas7bdat`` headers,
        Parquet metadata), which the rows read were checked against; None when the format
        records none (CSV, ``.por``, ``.xpt``).
    row_check : str
        How the number of rows read was checked, for the data-quality report (e.g. that a CSV
        file's count cannot be checked).
    """

    variable_labels: Mapping[str, str | None] = field(default_factory=dict)
    value_labels: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)
    missing_values: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    encoding: str | None = None
    file: str | None = None
    file_format: str = "dataframe"
    rows_recorded: int | None = None
    row_check: str = ""


@dataclass(frozen=True)
class Microdata:
    """Survey microdata and the metadata of the file it came from."""

    frame: pd.DataFrame
    metadata: Metadata

    def labelled(self) -> pd.DataFrame:
        """A copy of the data with value labels applied (labelled columns become categorical;
        codes without a label are kept as they are)."""
        out: pd.DataFrame = self.frame.copy()
        for col, labels in self.metadata.value_labels.items():
            if col in out.columns:
                mapped = out[col].map(dict(labels))
                out[col] = mapped.where(mapped.notna(), out[col]).astype("category")
        return out


def _tag_code(tag: Any) -> Any:
    """pyreadstat's tag ``"a"`` as the code users see in Stata and SAS, ``".a"``."""
    return f".{tag}" if isinstance(tag, str) and tag in _TAGS and len(tag) == 1 else tag


def _freeze(meta: Any, file: str, fmt: str, tags: Mapping[str, set[str]], rows_read: int,
            recorded: int | None) -> Metadata:
    labels = dict(zip(meta.column_names, meta.column_labels, strict=False))
    tagged = fmt in _TAGGED_FORMATS
    value_labels = {
        col: MappingProxyType({
            (_tag_code(code) if tagged else code): label
            for code, label in meta.value_labels.get(name, {}).items()
        })
        for col, name in (meta.variable_to_label or {}).items()
    }
    missing: dict[str, tuple[Any, ...]] = {}
    for col, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        missing[col] = tuple(
            r["lo"] if r["lo"] == r["hi"] else (r["lo"], r["hi"]) for r in ranges
        )
    for col, found in tags.items() if tagged else ():
        missing[col] = tuple(sorted(_tag_code(t) for t in found))
    return Metadata(
        variable_labels=MappingProxyType(labels),
        value_labels=MappingProxyType(value_labels),
        missing_values=MappingProxyType(missing),
        encoding=getattr(meta, "file_encoding", None),
        file=file,
        file_format=fmt,
        rows_recorded=recorded,
        row_check=_row_check_text(fmt, recorded, rows_read),
    )


def _rows_recorded(meta: Any, fmt: str) -> int | None:
    """The row count in the file's header; ``.por`` and ``.xpt`` record none (pyreadstat then
    reports the rows it read)."""
    if fmt in ("spss-portable", "sas-transport"):
        return None
    n = getattr(meta, "number_rows", None)
    return int(n) if isinstance(n, int | np.integer) and n >= 0 else None


def _row_check_text(fmt: str, recorded: int | None, rows_read: int) -> str:
    if recorded is not None:
        return f"{rows_read} row(s) read, as the file records"
    if fmt == "sas-transport":
        return (f"{rows_read} row(s) read; this SAS transport (version 5) file records no row "
                f"count: checked that it ends on a whole row and record")
    return f"{rows_read} row(s) read; a {fmt} file records no row count: not checked"


def _check_rows(path: Path, recorded: int | None, rows_read: int) -> None:
    """A file that records its number of rows must give them all (a truncated file must not
    read as a shorter valid one)."""
    if recorded is not None and rows_read != recorded:
        raise DataError(
            f"file {str(path)!r} records {recorded} row(s) but {rows_read} were read "
            f"({recorded - rows_read} lost): the file "
            f"is truncated or corrupt"
        )


def _format_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_TEXT_SUFFIXES):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    fmt = _STAT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"file {str(path)!r} has an unknown extension {path.suffix!r}; expected one of "
            f".sav, .zsav, .por, .dta, .sas7bdat, .xpt, .csv (also .csv.gz), .parquet"
        )
    return fmt


def read_microdata(source: str | Path | pd.DataFrame, *, usecols: Sequence[str] | None = None,
                   chunksize: int | None = None, encoding: str | None = None,
                   extended_missing: str = "codes", sep: str | None = None,
                   decimal: str | None = None, lowercase_names: bool = False) -> Microdata:
    """Read survey microdata with its metadata.

    Parameters
    ----------
    source : path or DataFrame
        SPSS ``.sav``/``.zsav``/``.por``, Stata ``.dta``, SAS ``.sas7bdat``/``.xpt``, CSV (also
        compressed) or Parquet; a DataFrame is wrapped as it is.
    usecols : list of str, optional
        Read only these columns (all must exist).
    chunksize : int, optional
        Read statistical files this many rows at a time into columns allocated once for the
        whole file, so that a large file is not held twice in memory. The result is the same as
        without ``chunksize``.
    encoding : str, optional
        Character encoding of the file, when it does not say (old SPSS and Stata files, SAS);
        an iconv name for statistical files (``"latin1"``, ``"CP1251"``, ``"UTF-8"``). A wrong
        encoding that cannot decode the file is a ``DataError``; one that can (latin-1 decodes
        any byte) gives garbled labels and strings without an error.
    extended_missing : {"codes", "nan"}, default "codes"
        Stata (.a to .z) and SAS (.A to .Z, ._) extended missing values: ``"codes"`` keeps them
        in the data as the strings ``".a"``, ``".A"``, ``"._"``, ...; ``"nan"`` reads them as
        NaN, like system missing.
    sep : str, optional
        CSV only: the delimiter. By default ``","``; a file whose header holds no comma but
        ``;``, tab or ``|`` is a ``DataError`` naming the delimiter guessed (pass it here).
    decimal : str, optional
        CSV only: the decimal mark, ``"."`` or ``","``. By default ``"."``, and a file read with
        a ``sep`` other than ``","`` whose text column holds only numbers written with a decimal
        comma (``"1,5"``) is a ``DataError`` (pass ``decimal=","``, or ``decimal="."`` to keep
        such a column as text).
    lowercase_names : bool, default False
        Lower-case every column name (SPSS portable ``.por`` files store names in upper case).

    Returns
    -------
    Microdata

    Raises
    ------
    DataError
        The file does not exist, has an unknown extension, is corrupt or truncated (fewer rows
        than the file records; a SAS transport file that ends inside a row or record; a CSV file
        whose last line, without a line end, has fewer fields than the header), cannot be
        decoded in ``encoding``, lacks a column of ``usecols``, repeats a column name (CSV), or
        looks delimited by ``;``, tab or ``|`` or written with a decimal comma (CSV) when
        ``sep``/``decimal`` do not say so.
    ArgumentError
        ``extended_missing`` or ``chunksize`` has an invalid value.

    Notes
    -----
    SPSS user-defined missing values (``.sav``, ``.zsav``, ``.por``) are read as their codes
    (pyreadstat ``user_missing=True``) and listed in ``metadata.missing_values``.

    With ``extended_missing="codes"``, a numeric column that holds Stata or SAS extended missing
    values becomes an ``object`` column of its numbers (NaN for system missing ``.``) and the codes
    ``".a"`` ... ``".z"`` (Stata) or ``".A"`` ... ``".Z"``, ``"._"`` (SAS); the codes found are
    listed in ``metadata.missing_values[column]``, e.g. ``(".a", ".b")``. Columns without them keep
    their numeric dtype. Value labels of extended missing values are keyed by the same codes.
    ``.xpt`` and ``.por`` files are read through pyreadstat's parser rather than
    ``read_xport``/``read_por``, which do not offer ``user_missing``.

    Value labels are kept as metadata; :meth:`Microdata.labelled` applies them.

    Row counts: the rows read are checked against the count the file records (SPSS ``.sav``,
    Stata ``.dta``, SAS ``.sas7bdat``, Parquet) and a shortfall is a ``DataError``; formats
    that record none (CSV, ``.por``, ``.xpt``) are checked as far as their layout allows, and
    ``metadata.row_check`` says what was checked.
    """
    _check_options(extended_missing, chunksize)
    if isinstance(source, pd.DataFrame):
        return _wrapped(source, usecols)
    path, fmt = _existing_file(source)
    _check_text_options(sep, decimal)
    data = _read_explained(path, fmt, usecols, chunksize, encoding, extended_missing, sep, decimal)
    return _lowercased(data) if lowercase_names else data


def column_names(source: str | Path) -> list[str] | None:
    """The column names a statistical file (SPSS ``.sav``/``.zsav``, Stata ``.dta``, SAS
    ``.sas7bdat``) records in its header, read without its rows, so that a caller can ask
    :func:`read_microdata` for the columns it needs (``usecols``) and still check names against
    the whole file. None for other formats and for a file whose header cannot be read (reading
    it reports why)."""
    try:
        path, fmt = _existing_file(source)
        if fmt not in ("spss", "stata", "sas"):
            return None
        reader, _ = _reader(fmt, None, "codes")
        _, head = reader(str(path), metadataonly=True)
        return [str(c) for c in head.column_names]
    except Exception:  # the full read raises the explained DataError
        return None


def _check_options(extended_missing: str, chunksize: int | None) -> None:
    """The options that apply to every source: ``extended_missing`` and ``chunksize``."""
    if extended_missing not in _EXTENDED_MISSING:
        raise ArgumentError(
            f"`extended_missing` of `read_microdata()` must be 'codes' or 'nan'; got "
            f"{extended_missing!r}"
        )
    if chunksize is not None and (
        isinstance(chunksize, bool) or not isinstance(chunksize, int | np.integer)
        or chunksize < 1
    ):
        raise ArgumentError(
            f"`chunksize` of `read_microdata()` must be a positive integer; got {chunksize!r}"
        )


def _wrapped(source: pd.DataFrame, usecols: Sequence[str] | None) -> Microdata:
    """A DataFrame as Microdata without metadata (a shallow copy, of ``usecols`` if given)."""
    frame = source if usecols is None else source[list(usecols)]
    return Microdata(frame.copy(deep=False), Metadata())


def _existing_file(source: Any) -> tuple[Path, str]:
    """The path of a file that exists and its format (from its extension)."""
    if not isinstance(source, str | Path):
        raise ArgumentTypeError(
            f"`source` of `read_microdata()` must be a path or a DataFrame; got "
            f"{type(source).__name__}"
        )
    path = Path(source)
    if not path.exists():
        raise DataError(f"file {str(path)!r} does not exist")
    return path, _format_of(path)


def _check_text_options(sep: str | None, decimal: str | None) -> None:
    """The CSV options ``sep`` (a non-empty string) and ``decimal`` (``.`` or ``,``)."""
    for name, value, allowed in (("sep", sep, None), ("decimal", decimal, (".", ","))):
        if value is not None and (not isinstance(value, str) or not value
                                  or (allowed is not None and value not in allowed)):
            raise ArgumentError(f"`{name}` of `read_microdata()` must be "
                                f"{'one of . ,' if allowed else 'a non-empty string'}; "
                                f"got {value!r}")


def _read_explained(
    path: Path, fmt: str, usecols: Sequence[str] | None, chunksize: int | None,
    encoding: str | None, extended_missing: str, sep: str | None, decimal: str | None,
) -> Microdata:
    """The file read; any failure of a reader is a DataError that names the file and says
    what to pass (the encoding, the columns asked for, the rows the header records)."""
    cols = None if usecols is None else list(usecols)
    try:
        return _read_any(path, fmt, cols, chunksize, encoding, extended_missing, sep, decimal)
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        raise DataError(
            f"cannot read {str(path)!r}: it is not valid {encoding or 'utf-8'} text "
            f"({exc.encoding!r} codec: {exc.reason}); pass the file's encoding as `encoding=`"
        ) from exc
    except (ValueError, KeyError) as exc:
        missing = [c for c in cols or [] if c not in str(exc)]
        raise DataError(f"cannot read {str(path)!r}: {exc}" + (
            f" (asked for columns {format_values(cols)})" if cols and missing else "")) from exc
    except Exception as exc:  # readers raise their own types for corrupt or truncated files
        how = f" with encoding {encoding!r}" if encoding is not None else ""
        raise DataError(
            f"cannot read {str(path)!r} as {fmt}{how}: {type(exc).__name__}: {exc}"
            + _recorded_hint(path, fmt, encoding)
        ) from exc


def _lowercased(data: Microdata) -> Microdata:
    """The same Microdata with every column name in lower case (``.por`` names are upper)."""
    data.frame.columns = [str(c).lower() for c in data.frame.columns]
    return data


def _read_any(
    path: Path, fmt: str, cols: list[str] | None, chunksize: int | None, encoding: str | None,
    extended_missing: str, sep: str | None, decimal: str | None,
) -> Microdata:
    if fmt == "csv":
        return _read_csv(path, cols, encoding, sep, decimal)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        frame = pd.read_parquet(path, columns=cols)
        recorded = int(pq.read_metadata(path).num_rows)
        _check_rows(path, recorded, len(frame))
        return Microdata(frame, Metadata(file=str(path), file_format=fmt,
                                         rows_recorded=recorded,
                                         row_check=_row_check_text(fmt, recorded, len(frame))))
    return _read_stat(path, fmt, cols, chunksize, encoding, extended_missing)


def _recorded_hint(path: Path, fmt: str, encoding: str | None) -> str:
    """After a failed read: the number of rows the header records, if it can be read."""
    if fmt not in ("spss", "stata", "sas"):
        return ""
    try:
        reader, kwargs = _reader(fmt, encoding, "nan")
        _, head = reader(str(path), metadataonly=True,
                         **{k: v for k, v in kwargs.items() if k == "encoding"})
    except Exception:  # the header itself is unreadable
        return ""
    n = _rows_recorded(head, fmt)
    return f" (the file records {n} row(s); it may be truncated)" if n is not None else ""


# -- CSV ---------------------------------------------------------------------------------------
_OTHER_SEPS = {";": "';'", "\t": "'\\t'", "|": "'|'"}
_DECIMAL_COMMA = r"[+-]?\d*,\d+"


def _first_lines(path: Path, encoding: str | None, n: int = 2) -> list[str]:
    """The first ``n`` lines of a (possibly compressed) text file, as they are."""
    lines = pd.read_csv(path, header=None, nrows=n, sep="\x1f", dtype=str, encoding=encoding,
                        quoting=3, engine="python", skip_blank_lines=True, na_filter=False)
    return [str(v) for v in lines.iloc[:, 0]]


def _guess_sep(path: Path, lines: list[str]) -> None:
    """A file read with ``,`` whose header has no comma but another delimiter: say which."""
    header = lines[0]
    if "," in header:
        return
    counts = {d: header.count(d) for d in (";", "\t", "|")}
    guess = max(counts, key=lambda d: counts[d])
    if counts[guess] == 0:
        return
    names = header.split(guess)
    row = lines[1].split(guess) if len(lines) > 1 else []
    comma = [v for v in row if re.fullmatch(_DECIMAL_COMMA, v.strip().strip('"'))]
    fix = f"sep={_OTHER_SEPS[guess]}" + (", decimal=','" if comma else "")
    dec = (f"; numbers are written with a decimal comma (e.g. {comma[0]!r})" if comma else "")
    raise DataError(
        f"file {str(path)!r} looks delimited by {_OTHER_SEPS[guess]}, not ',': read as one "
        f"column {header[:60]!r}; the names would be {format_values(names, limit=6)}{dec}; "
        f"read it with read_microdata(path, {fix})"
    )


def _duplicate_names(path: Path, sep: str, encoding: str | None) -> int:
    """pandas renames a repeated CSV column ``w.1``: a repeated name is an error instead."""
    head = pd.read_csv(path, header=None, nrows=1, sep=sep, dtype=str, encoding=encoding,
                       na_filter=False)
    names = [str(v) for v in head.iloc[0]] if len(head) else []
    seen: set[str] = set()
    dups: list[str] = []  # each repeat, in the order they come
    for n in names:
        if n in seen:
            dups.append(n)
        seen.add(n)
    if dups:
        raise DataError(
            f"file {str(path)!r} repeats column name(s) {format_values(list(dict.fromkeys(dups)))}"
            f" in its header ({len(names)} names); pandas would rename the repeats "
            f"{format_values([f'{d}.1' for d in dict.fromkeys(dups)])}: rename or drop them"
        )
    return len(names)


def _check_decimal_comma(path: Path, frame: pd.DataFrame) -> None:
    for name in frame.columns:
        col = frame[name]
        if col.dtype != object and not pd.api.types.is_string_dtype(col):
            continue
        values = col.dropna().astype(str).str.strip()
        if len(values) and values.str.fullmatch(_DECIMAL_COMMA).all():
            raise DataError(
                f"column {str(name)!r} of {str(path)!r} holds numbers written with a decimal "
                f"comma (e.g. {values.iat[0]!r}), read as text; read it with "
                f"read_microdata(path, sep=..., decimal=',') (decimal='.' keeps it as text)"
            )


def _check_last_line(path: Path, n_names: int, sep: str, rows_read: int) -> None:
    """An uncompressed CSV cut in the middle of a line: pandas fills the missing fields with
    NaN. A last line without a line end and with fewer fields than the header is an error."""
    if not path.name.lower().endswith((".csv", ".txt")) or rows_read == 0:
        return
    import csv

    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    if tail.endswith((b"\n", b"\r")):
        return
    last = tail.rsplit(b"\n", 1)[-1].decode("latin-1")
    fields = next(csv.reader([last], delimiter=sep), [])
    if len(fields) < n_names:
        raise DataError(
            f"file {str(path)!r} looks truncated: its last line (row {rows_read}) has "
            f"{len(fields)} of {n_names} fields and no line end; {rows_read} row(s) were read "
            f"and a CSV file records no row count to check them against"
        )


def _read_csv(path: Path, cols: list[str] | None, encoding: str | None, sep: str | None,
              decimal: str | None) -> Microdata:
    lines = _first_lines(path, encoding)
    if not lines:
        raise DataError(f"file {str(path)!r} is empty: no header line")
    if sep is None:
        _guess_sep(path, lines)
    delimiter = sep or ","
    n_names = _duplicate_names(path, delimiter, encoding)
    frame = pd.read_csv(path, usecols=cols, encoding=encoding, sep=delimiter,
                        decimal=decimal or ".")
    if decimal is None and delimiter != ",":
        _check_decimal_comma(path, frame)
    _check_last_line(path, n_names, delimiter, len(frame))
    return Microdata(frame, Metadata(file=str(path), file_format="csv", encoding=encoding,
                                     row_check=_row_check_text("csv", None, len(frame))))


def _parser(fmt: str) -> _Reader | None:
    """pyreadstat's parser for ``.por``/``.xpt`` with ``user_missing``, if this version has it.

    ``read_por()`` and ``read_xport()`` do not take ``user_missing`` although the parser under
    them does; without it SPSS "don't know"/"refused" codes in ``.por`` files and SAS special
    missing values in ``.xpt`` files silently become NaN.
    """
    try:
        from pyreadstat._readstat_parser import parser_entry_point
    except ImportError:
        return None
    try:
        params = inspect.signature(parser_entry_point).parameters
    except (TypeError, ValueError):
        return None
    needed = {"parser_format", "user_missing", "row_offset", "row_limit", "output_format"}
    if not needed <= params.keys():
        return None
    name = "por" if fmt == "spss-portable" else "xport"
    return functools.partial(parser_entry_point, parser_format=name, output_format="pandas")


def _reader(fmt: str, encoding: str | None, extended_missing: str) -> tuple[_Reader, dict[str, Any]]:
    import pyreadstat

    readers: dict[str, Any] = {  # overloaded functions: mypy sees plain "function"
        "spss": pyreadstat.read_sav,
        "spss-portable": pyreadstat.read_por,
        "stata": pyreadstat.read_dta,
        "sas": pyreadstat.read_sas7bdat,
        "sas-transport": pyreadstat.read_xport,
    }
    public: _Reader = readers[fmt]
    kwargs: dict[str, Any] = {}
    if encoding is not None and fmt != "spss-portable":
        kwargs["encoding"] = encoding
    if fmt in _TAGGED_FORMATS and extended_missing == "nan":
        return public, kwargs
    if fmt in ("spss-portable", "sas-transport"):
        parser = _parser(fmt)
        if parser is None:  # an older pyreadstat: the codes are lost, as documented
            return public, kwargs
        return parser, {**kwargs, "user_missing": True}
    return public, {**kwargs, "user_missing": True}


def _read_stat(
    path: Path, fmt: str, cols: list[str] | None, chunksize: int | None, encoding: str | None,
    extended_missing: str,
) -> Microdata:
    reader, kwargs = _reader(fmt, encoding, extended_missing)
    head: Any = None
    if cols is not None or chunksize:
        head_kwargs = {k: v for k, v in kwargs.items() if k == "encoding"}
        _, head = reader(str(path), metadataonly=True, **head_kwargs)
    if cols is not None:
        absent = [c for c in cols if c not in head.column_names]
        if absent:
            raise DataError(
                f"column(s) {format_values(absent)} not found in {str(path)!r}; it has "
                f"{format_values(list(head.column_names), limit=12)}"
            )
        kwargs["usecols"] = cols
    tags: dict[str, set[str]] = {}
    if chunksize and head.number_rows is not None:
        frame, meta = _read_chunks(reader, str(path), head.number_rows, chunksize, kwargs, tags)
    elif chunksize:
        frame, meta = _read_pieces(reader, str(path), chunksize, kwargs, tags)
    else:
        # pyreadstat builds its DataFrame from its arrays with a copy (narwhals' from_dict), so a
        # whole-file read peaks at about twice the data; chunks avoid that
        frame, meta = reader(str(path), **kwargs)
        _collect_tags(meta, tags)
    recorded = (_check_xport(path, len(frame)) if fmt == "sas-transport"
                else _rows_recorded(head if head is not None else meta, fmt))
    _check_rows(path, recorded, len(frame))
    if fmt in _TAGGED_FORMATS:
        _tags_to_codes(frame, tags)
    _numeric_objects(frame, meta, tags)
    return Microdata(frame, _freeze(meta, str(path), fmt, tags, len(frame), recorded))


_XPT_RECORD = 80


def _check_xport(path: Path, rows_read: int) -> int | None:
    """Check a SAS transport file for truncation; the row count it records, if any.

    A version 8 file records its number of rows in its ``OBSV8`` header record (returned, and
    checked by the caller). A version 5 file records none, but it is a sequence of 80-byte
    records and its rows fill the data records back to back, the last record padded with
    blanks: a file whose size is not a multiple of 80, or whose bytes after the last row read
    are not blank padding, is truncated (a cut at a row and record boundary cannot be told from
    the end of a version 5 file)."""
    with path.open("rb") as fh:
        raw = fh.read()

    def find(tags: bytes, start: int = 0) -> int:  # version 5 and version 8 header records
        found = re.compile(rb"HEADER RECORD\*{7}(?:" + tags + rb") *HEADER RECORD!{7}"
                           ).search(raw, start)
        return found.start() if found else -1

    member, obs = find(b"MEMBER|MEMBV8"), find(b"OBS|OBSV8")
    namestr = find(b"NAMESTR|NAMSTV8")
    one_member = min(member, obs, namestr) >= 0 and find(b"MEMBER|MEMBV8", obs) < 0
    count = raw[obs + 48:obs + 64].strip() if one_member else b""
    if raw[obs + 20:obs + 25] == b"OBSV8" and count.isdigit():
        return int(count)
    size = len(raw)
    if size % _XPT_RECORD:
        raise DataError(
            f"file {str(path)!r} is truncated: a SAS transport file is a sequence of 80-byte "
            f"records but its {size} bytes end {size % _XPT_RECORD} byte(s) into one; "
            f"{rows_read} row(s) were read and the rows after them are lost"
        )
    if not one_member:
        return None  # the layout check below reads one member only
    try:
        n_vars = int(raw[namestr + 48:namestr + 58])
        length = int(raw[member + 74:member + 78])  # 140, or 136 on VAX/VMS
    except ValueError:
        return None
    first = namestr + _XPT_RECORD
    width = sum(int.from_bytes(raw[first + length * i + 4:first + length * i + 6], "big")
                for i in range(n_vars))
    data = raw[obs + _XPT_RECORD:]
    rest = data[rows_read * width:] if width else b""
    if width and rest.strip(b" "):
        full = len(data) // width
        raise DataError(
            f"file {str(path)!r} is truncated: its data records hold {len(data)} bytes, "
            f"{full} whole row(s) of {width} bytes and {len(data) - full * width} bytes of a "
            f"cut row; {rows_read} row(s) were read"
        )
    return None


def _numeric_objects(frame: pd.DataFrame, meta: Any, tags: Mapping[str, set[str]]) -> None:
    """pyreadstat returns a Stata integer column with a missing value as object (Python ints
    and NaN); make it float64 like every other numeric column with missing values."""
    types = getattr(meta, "readstat_variable_types", None) or {}
    for name in frame.columns:
        if (frame[name].dtype == object and types.get(name, "string") != "string"
                and not tags.get(name)):
            frame[name] = pd.to_numeric(frame[name])


def _frame(columns: _Columns) -> pd.DataFrame:
    # The constructor pyreadstat's own frame comes from (same dtype inference: str for text,
    # datetime64 for dates), with copy=False: pandas >= 3 keeps each array as its own block.
    # pandas 2 consolidates the columns of one dtype into a 2-D block, which copies them once.
    frame: pd.DataFrame = pd.DataFrame(columns, copy=False)
    return frame


def _collect_tags(meta: Any, tags: dict[str, set[str]]) -> None:
    # pyreadstat lists the tags it met in the rows it read (per chunk), not what the file declares
    for col, found in (getattr(meta, "missing_user_values", None) or {}).items():
        tags.setdefault(col, set()).update(found)


def _tags_to_codes(frame: pd.DataFrame, tags: Mapping[str, set[str]]) -> None:
    """Replace pyreadstat's tags ``"a"`` by ``".a"`` in the columns that have them."""
    for name in tags:
        if name not in frame.columns:
            continue
        values = frame[name].to_numpy(dtype=object, copy=True)
        # in a numeric column the only strings pyreadstat puts are tags
        is_tag = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
        values[is_tag] = [_tag_code(v) for v in values[is_tag]]
        # explicit object dtype: a column of tags and NaN alone would otherwise be inferred as str
        frame[name] = pd.Series(values, index=frame.index, dtype=object)


def _read_chunks(
    reader: _Reader, path: str, n_rows: int, chunksize: int, kwargs: Mapping[str, Any],
    tags: dict[str, set[str]],
) -> tuple[pd.DataFrame, Any]:
    """Read ``n_rows`` rows ``chunksize`` at a time into columns allocated once.

    Collecting the chunks and concatenating them would hold the data twice at the peak; here the
    peak is the final columns plus one chunk.
    """
    columns: _Columns = {}
    meta: Any = None
    start = 0
    while start < n_rows:
        chunk, meta = reader(path, row_offset=start, row_limit=min(chunksize, n_rows - start),
                             **kwargs)
        size = len(chunk)
        if size == 0:  # fewer rows than the header says: reported by _check_rows
            break
        for name in chunk.columns:
            values = chunk[name].to_numpy()
            target = columns.get(name)
            if target is None:
                kind = values.dtype.kind
                target = columns[name] = np.empty(
                    n_rows, dtype=values.dtype if kind in _NUMPY_KINDS else object
                )
            elif values.dtype != target.dtype and target.dtype != np.dtype(object):
                # pyreadstat types each chunk on its own: an integer column is object in a
                # chunk with missing values, a numeric one in a chunk with extended missing
                wider = _wider(target.dtype, values.dtype)
                if wider != target.dtype:
                    target = columns[name] = target.astype(wider)
            target[start:start + size] = values
        _collect_tags(meta, tags)
        del chunk, values
        start += size
    if meta is None:  # no rows: nothing to preallocate
        empty, meta = reader(path, **kwargs)
        _collect_tags(meta, tags)
        return empty, meta
    if start < n_rows:
        columns = {name: array[:start] for name, array in columns.items()}
    return _frame(columns), meta


def _read_pieces(
    reader: _Reader, path: str, chunksize: int, kwargs: Mapping[str, Any],
    tags: dict[str, set[str]],
) -> tuple[pd.DataFrame, Any]:
    """Read a file whose number of rows is unknown (``.por``, ``.xpt``) in chunks.

    The chunks are joined one column at a time, each column's pieces dropped once joined, so
    the peak is the data plus one column.
    """
    pieces: list[_Columns] = []
    meta: Any = None
    offset = 0
    while True:
        piece, meta = reader(path, row_offset=offset, row_limit=chunksize, **kwargs)
        size = len(piece)
        if size == 0 and pieces:
            break
        pieces.append({str(name): piece[name].to_numpy() for name in piece.columns})
        del piece
        _collect_tags(meta, tags)
        offset += size
        if size < chunksize:
            break
    columns: _Columns = {}
    for name in list(pieces[0]):
        parts = [piece.pop(name) for piece in pieces]
        columns[name] = parts[0] if len(parts) == 1 else _concatenate(parts)
        del parts
    return _frame(columns), meta


def _concatenate(parts: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    wider = functools.reduce(_wider, (part.dtype for part in parts))
    return np.concatenate([part.astype(wider, copy=False) for part in parts])


def _wider(have: np.dtype[Any], new: np.dtype[Any]) -> np.dtype[Any]:
    if have == new:
        return have
    if new.kind not in _NUMPY_KINDS or have.kind not in _NUMPY_KINDS:
        return np.dtype(object)
    try:
        return np.result_type(have, new)
    except TypeError:  # e.g. dates and numbers
        return np.dtype(object)
