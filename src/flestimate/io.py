"""Reading microdata: SPSS, Stata, SAS, CSV and Parquet files with their metadata.

:func:`read_microdata` returns a :class:`Microdata`: the data as a DataFrame (codes, not labels,
so that module specs can tell "don't know" from "refused") and the file's metadata: variable
labels, value labels, user-defined missing values and encoding. Every failure is a
:class:`~flestimate.errors.DataError` naming the file.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, format_values

__all__ = ["Metadata", "Microdata", "read_microdata"]

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
    """

    variable_labels: Mapping[str, str | None] = field(default_factory=dict)
    value_labels: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)
    missing_values: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    encoding: str | None = None
    file: str | None = None
    file_format: str = "dataframe"


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


def _freeze(meta: Any, file: str, fmt: str, tags: Mapping[str, set[str]]) -> Metadata:
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


def read_microdata(
    source: str | Path | pd.DataFrame,
    *,
    usecols: Sequence[str] | None = None,
    chunksize: int | None = None,
    encoding: str | None = None,
    extended_missing: str = "codes",
) -> Microdata:
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

    Returns
    -------
    Microdata

    Raises
    ------
    DataError
        The file does not exist, has an unknown extension, is corrupt or truncated, cannot be
        decoded in ``encoding``, or lacks a column of ``usecols``.
    ArgumentError
        ``extended_missing`` or ``chunksize`` has an invalid value.

    Notes
    -----
    SPSS user-defined missing values (``.sav``, ``.zsav``, ``.por``) are read as their codes
    (pyreadstat ``user_missing=True``) and listed in ``metadata.missing_values``.

    With ``extended_missing="codes"``, a numeric column that holds Stata or SAS extended missing
    values becomes an ``object`` column of its numbers (NaN for system missing ``.``) and the
    codes ``".a"`` ... ``".z"`` (Stata) or ``".A"`` ... ``".Z"``, ``"._"`` (SAS); the codes
    found are listed in ``metadata.missing_values[column]``, e.g. ``(".a", ".b")``. Columns
    without them keep their numeric dtype. Value labels of extended missing values are keyed
    by the same codes. ``.xpt`` and ``.por`` files are read through pyreadstat's parser rather
    than ``read_xport``/``read_por``, which do not offer ``user_missing``.

    Value labels are kept as metadata; :meth:`Microdata.labelled` applies them.
    """
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
    if isinstance(source, pd.DataFrame):
        frame = source if usecols is None else source[list(usecols)]
        return Microdata(frame.copy(deep=False), Metadata())
    if not isinstance(source, str | Path):
        raise ArgumentTypeError(
            f"`source` of `read_microdata()` must be a path or a DataFrame; got "
            f"{type(source).__name__}"
        )
    path = Path(source)
    if not path.exists():
        raise DataError(f"file {str(path)!r} does not exist")
    fmt = _format_of(path)
    cols = None if usecols is None else list(usecols)
    try:
        if fmt == "csv":
            frame = pd.read_csv(path, usecols=cols, encoding=encoding)
            return Microdata(frame, Metadata(file=str(path), file_format=fmt, encoding=encoding))
        if fmt == "parquet":
            frame = pd.read_parquet(path, columns=cols)
            return Microdata(frame, Metadata(file=str(path), file_format=fmt))
        return _read_stat(path, fmt, cols, chunksize, encoding, extended_missing)
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
        ) from exc


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
    if fmt in _TAGGED_FORMATS:
        _tags_to_codes(frame, tags)
    _numeric_objects(frame, meta, tags)
    return Microdata(frame, _freeze(meta, str(path), fmt, tags))


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
        if size == 0:  # fewer rows than the header says
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
