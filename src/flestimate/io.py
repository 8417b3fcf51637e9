"""Reading microdata: SPSS, Stata, SAS, CSV and Parquet files with their metadata.

:func:`read_microdata` returns a :class:`Microdata`: the data as a DataFrame (codes, not labels,
so that module specs can tell "don't know" from "refused") and the file's metadata: variable
labels, value labels, user-defined missing values and encoding. Every failure is a
:class:`~flestimate.errors.DataError` naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from flestimate.errors import ArgumentTypeError, DataError, format_values

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


@dataclass(frozen=True)
class Metadata:
    """What a statistical file says about its variables.

    Attributes
    ----------
    variable_labels : Mapping[str, str | None]
    value_labels : Mapping[str, Mapping[Any, str]]
        Code -> label for every labelled variable.
    missing_values : Mapping[str, tuple]
        User-defined missing codes (SPSS discrete values, or ``(low, high)`` ranges); the codes
        are kept in the data, not turned into NaN, so that specs can map them.
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


def _freeze(meta: Any, file: str, fmt: str) -> Metadata:
    labels = dict(zip(meta.column_names, meta.column_labels, strict=False))
    value_labels = {
        col: MappingProxyType(dict(meta.value_labels.get(name, {})))
        for col, name in (meta.variable_to_label or {}).items()
    }
    missing: dict[str, tuple[Any, ...]] = {}
    for col, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        missing[col] = tuple(
            r["lo"] if r["lo"] == r["hi"] else (r["lo"], r["hi"]) for r in ranges
        )
    for col, values in (getattr(meta, "missing_user_values", None) or {}).items():
        missing[col] = tuple(values)
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
        Read statistical files in chunks of this many rows (pyreadstat
        ``read_file_in_chunks``) into one frame, for large files.
    encoding : str, optional
        Character encoding of the file, when it does not say (old SPSS and Stata files).

    Returns
    -------
    Microdata

    Notes
    -----
    SPSS user-defined missing values are read as their codes (pyreadstat ``user_missing=True``)
    and listed in ``metadata.missing_values``; Stata extended missing values (.a to .z) are read
    as missing. Value labels are kept as metadata; :meth:`Microdata.labelled` applies them.
    """
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
        return _read_stat(path, fmt, cols, chunksize, encoding)
    except DataError:
        raise
    except (ValueError, KeyError) as exc:
        missing = [c for c in cols or [] if c not in str(exc)]
        raise DataError(f"cannot read {str(path)!r}: {exc}" + (
            f" (asked for columns {format_values(cols)})" if cols and missing else "")) from exc
    except Exception as exc:  # readers raise their own types for corrupt or truncated files
        raise DataError(f"cannot read {str(path)!r} as {fmt}: {type(exc).__name__}: {exc}") \
            from exc


def _read_stat(
    path: Path, fmt: str, cols: list[str] | None, chunksize: int | None, encoding: str | None
) -> Microdata:
    import pyreadstat

    reader: Any = {
        "spss": pyreadstat.read_sav,
        "spss-portable": pyreadstat.read_por,
        "stata": pyreadstat.read_dta,
        "sas": pyreadstat.read_sas7bdat,
        "sas-transport": pyreadstat.read_xport,
    }[fmt]
    kwargs: dict[str, Any] = {"usecols": cols}
    if fmt == "spss":
        kwargs["user_missing"] = True
    if encoding is not None and fmt in ("spss", "stata", "sas"):
        kwargs["encoding"] = encoding
    if cols is not None:
        _, meta = reader(str(path), metadataonly=True, **({"encoding": encoding}
                                                           if "encoding" in kwargs else {}))
        absent = [c for c in cols if c not in meta.column_names]
        if absent:
            raise DataError(
                f"column(s) {format_values(absent)} not found in {str(path)!r}; it has "
                f"{format_values(list(meta.column_names), limit=12)}"
            )
    if chunksize:
        chunks: Any = pyreadstat.read_file_in_chunks
        pieces = list(chunks(reader, str(path), chunksize=chunksize, output_format="pandas",
                             **kwargs))
        frame = pd.concat([p for p, _ in pieces], ignore_index=True)
        meta = pieces[-1][1]
    else:
        frame, meta = reader(str(path), **kwargs)
    return Microdata(frame, _freeze(meta, str(path), fmt))
