"""The arguments and input files of the main job, checked: the margins, the module spec, the
person (and household) frame, and the data against the spec (names in another case, repeated
person ids), with the read check in the data-quality report."""

from __future__ import annotations

import ctypes
import functools
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, format_values
from flestimate.io import column_names, read_microdata
from flestimate.mapping import MappedSurvey, ModuleSpec, load_spec
from flestimate.report._common import as_list
from flestimate.report._options import InvalidOption, margins

__all__ = ["ColumnSelection", "calibration_totals", "check_spec_columns", "check_unique_ids",
           "compact_items", "input_frame", "margin_columns", "module_spec", "needed_columns", "parse_margins",
           "read_input", "read_labelled_input", "read_needed_input", "return_freed_memory",
           "with_read_row"]


def parse_margins(by: Any, func: str = "estimate_prevalence") -> list[tuple[str, ...]]:
    """``by`` as a list of margins: "sex" one margin; "sex,region" or ["sex", "region"] two
    margins; "sex*region" (or a tuple inside the list) one crossed margin (the option's rule,
    :func:`~flestimate.report._options.margins`)."""
    try:
        return margins(by)
    except InvalidOption as exc:
        error = ArgumentTypeError if exc.wrong_type else ArgumentError
        raise error(f"`by` of `{func}()` {exc.message()}") from None


def module_spec(spec: Any) -> ModuleSpec:
    """The ``spec`` argument as a ModuleSpec: a built-in name, a YAML path or a mapping."""
    if isinstance(spec, ModuleSpec):
        return spec
    if isinstance(spec, str | Path):
        return load_spec(spec)
    if isinstance(spec, Mapping):
        return ModuleSpec.from_dict(spec)
    raise ArgumentTypeError(f"`spec` of `estimate_prevalence()` must be a built-in spec name, a "
                            f"YAML path, a mapping or a ModuleSpec; got {type(spec).__name__}")


def input_frame(data: Any, what: str) -> tuple[pd.DataFrame, str]:
    """The frame of a path, DataFrame or Microdata argument, and its source."""
    frame, source, _ = read_input(data, what)
    return frame, source


def read_input(data: Any, what: str) -> tuple[pd.DataFrame, str, str | None]:
    """The frame, its source, and how its row count was checked (None for a DataFrame)."""
    frame, source, row_check, _ = read_labelled_input(data, what)
    return frame, source, row_check


def read_labelled_input(data: Any, what: str
                        ) -> tuple[pd.DataFrame, str, str | None, Mapping[str, Mapping[Any, str]]]:
    """The frame, its source, how its row count was checked (None for a DataFrame) and the
    file's value labels by column (none for a DataFrame)."""
    if isinstance(data, str | Path):
        md = read_microdata(data)
        return md.frame, str(data), md.metadata.row_check or None, md.metadata.value_labels
    meta = getattr(data, "metadata", None)
    frame, source = _given_frame(data, what)
    labels = getattr(meta, "value_labels", None)
    return (frame, source, getattr(meta, "row_check", None) or None,
            labels if isinstance(labels, Mapping) else {})


#: Rows per chunk of the selective read (the same frame as a whole read; peak: the columns plus
#: one chunk, 1.16x the needed columns of a 1,000,000-person file against 2x).
READ_CHUNK = 125_000


@dataclass(frozen=True)
class ColumnSelection:
    """The file columns a run of the main job reads: names, and regular expressions (a
    ``replicate_weights`` pattern) matched against the whole name."""

    names: frozenset[str]
    patterns: tuple[re.Pattern[str], ...] = ()

    def of(self, columns: Iterable[str]) -> list[str]:
        """The columns of a file (in its order) that the run needs."""
        return [c for c in columns if c in self.names
                or any(p.fullmatch(c) for p in self.patterns)]


def needed_columns(spec: ModuleSpec, design: Any = None, by: Iterable[str] = (),
                   calibration: Iterable[str] = (), nonresponse: Iterable[str] = (),
                   mapping: bool = True) -> ColumnSelection:
    """Every column a run can use, whichever file holds it: the spec's (``_spec_columns``, and
    every name in its design section, which the mapping keeps), the ``design=`` overrides (a
    string ``replicate_weights`` is also a pattern), the ``by`` and calibration margin columns
    and the non-response weighting classes. Names that are no file column are harmless: the
    steps that need them report them as the full read does. ``mapping=False``: without the
    columns only the mapping reads (items, skip filters, universe), those used after it."""
    designs = [spec.design] + ([design] if isinstance(design, Mapping) else [])
    spec_names = (_spec_columns(spec) if mapping else
                  [*[str(v) for v in spec.ids.values()],
                   *([str(spec.merge["on"])] if spec.merge else []),
                   *[c.column for c in spec.context], *_network_columns(spec)])
    names = [*spec_names, *by, *calibration, *nonresponse]
    patterns: list[re.Pattern[str]] = []
    for section in designs:
        for value in section.values():
            names += [v for v in (value if isinstance(value, list | tuple) else [value])
                      if isinstance(v, str)]
        reps = section.get("replicate_weights")
        if isinstance(reps, str):
            try:
                patterns.append(re.compile(reps))
            except re.error:  # reported by ``prepare`` with the spec's source
                pass
    return ColumnSelection(frozenset(str(n) for n in names), tuple(patterns))


def read_needed_input(data: Any, what: str, needed: ColumnSelection
                      ) -> tuple[pd.DataFrame, str, str | None, Mapping[str, Mapping[Any, str]],
                                 list[str]]:
    """:func:`read_labelled_input` of the ``needed`` columns of a statistical file (the others
    are never read: a labour force survey file carries hundreds of core columns the module does
    not use), and the names of every column of the file (the spec is checked against them).
    Other inputs, and a file without any needed column, are read whole."""
    if isinstance(data, str | Path):
        names = column_names(data)
        keep = needed.of(names) if names is not None else []
        if names is not None and keep:
            # in chunks into columns allocated once: a whole read peaks at twice the columns
            md = read_microdata(data, usecols=keep, chunksize=READ_CHUNK)
            return (md.frame, str(data), md.metadata.row_check or None,
                    md.metadata.value_labels, names)
    frame, source, row_check, labels = read_labelled_input(data, what)
    return frame, source, row_check, labels, [str(c) for c in frame.columns]


def compact_items(frame: pd.DataFrame, spec: ModuleSpec, later: ColumnSelection) -> pd.DataFrame:
    """``frame`` with the spec's item columns that nothing after the mapping reads as float32
    where every value (codes, NaN) is exactly a float32: the mapping only compares them with
    the spec's codes (pandas compares in the common type, float64), so its result is the
    same, and the frame held while mapping is smaller. The caller owns ``frame``."""
    items = {c for ind in spec.indicators for c in ind.items} - set(later.of(frame.columns))
    for c in [c for c in frame.columns if c in items and frame[c].dtype == np.float64]:
        values = frame[c].to_numpy()
        small = values.astype(np.float32)
        # exact when the round trip gives back the same bits (NaN included; a NaN with another
        # payload stays float64): 10x faster than comparing with equal_nan
        back = small.astype(np.float64)
        if np.array_equal(back.view(np.int64), values.view(np.int64)):
            frame[c] = small
    return frame


def return_freed_memory() -> None:
    """Hand the heap pages freed since the read back to the system (glibc's
    ``malloc_trim``; nothing elsewhere). glibc keeps freed blocks for reuse, and after the read
    frees its chunks and the mapping frees the item columns, the process's resident size stays
    at its high-water mark while the later steps allocate anew on top of it (the peak of the
    main job on a 1,000,000-person file: 1.22x the columns read instead of the read's 1.16x).
    Numbers are not touched."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # another C library (musl has no malloc_trim)
        return None


def _given_frame(data: Any, what: str) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        return data, "<DataFrame>"
    if hasattr(data, "frame") and isinstance(data.frame, pd.DataFrame):
        meta = getattr(data, "metadata", None)
        source = getattr(meta, "path", None) or getattr(meta, "file", None)
        return data.frame, str(source) if source else "<Microdata>"
    raise ArgumentTypeError(f"`{what}` of `estimate_prevalence()` must be a file path, a pandas "
                            f"DataFrame or Microdata; got {type(data).__name__}")


def _filter_columns(rule: Any) -> list[str]:
    if isinstance(rule, Mapping):
        own = [str(rule["column"])] if isinstance(rule.get("column"), str) else []
        return own + [c for v in rule.values() for c in _filter_columns(v)]
    if isinstance(rule, list):
        return [c for v in rule for c in _filter_columns(v)]
    return []


def _spec_columns(spec: ModuleSpec) -> list[str]:
    """The file columns a spec names: design, ids, merge key, universe, items, context."""
    names = [c for key in ("weights", "strata", "psu", "fpc")
             for c in as_list(spec.design.get(key))]
    names += [str(v) for v in spec.ids.values()]
    names += [str(spec.merge["on"])] if spec.merge else []
    names += _filter_columns(spec.universe)
    for ind in spec.indicators:
        names += [*ind.items, *_filter_columns(ind.asked_if), *_filter_columns(ind.no_if)]
    names += [c.column for c in spec.context]
    names += _network_columns(spec)
    return list(dict.fromkeys(names))


def _network_columns(spec: ModuleSpec) -> list[str]:
    """The count columns of the ``network`` section and its respondents filter's columns."""
    if spec.network is None:
        return []
    return [*spec.network.columns, *_filter_columns(spec.network.respondents)]


def check_spec_columns(spec: ModuleSpec, source: str, persons: pd.DataFrame | Sequence[str],
                       households: pd.DataFrame | Sequence[str] | None = None) -> None:
    """Columns of the spec that the file has only under another case (an SPSS portable
    ``.por`` file stores its names in upper case) are a ``DataError`` saying so and how to
    read them, instead of a "column not found" further on. ``persons`` and ``households`` are
    the frames or every column name of the files."""
    have = [str(c) for c in (persons.columns if isinstance(persons, pd.DataFrame) else persons)]
    if households is not None:
        have += [str(c) for c in (households.columns if isinstance(households, pd.DataFrame)
                                  else households)]
    present = set(have)
    by_lower: dict[str, str] = {}
    for c in have:
        by_lower.setdefault(c.lower(), c)
    other_case = {c: by_lower[c.lower()] for c in _spec_columns(spec)
                  if c not in present and c.lower() in by_lower}
    if not other_case:
        return
    upper = all(c == c.upper() for c in have)
    what = ("the file's names are upper case" if upper else
            "the file has them in another case")
    fix = ("read it with read_microdata(path, lowercase_names=True)" if upper and all(
        c == c.lower() for c in other_case) else "rename the columns to the spec's names")
    raise DataError(
        f"{source}: column(s) {format_values(list(other_case))} of spec {spec.name!r} not "
        f"found: {what}: {format_values(list(other_case.values()))} (first names read: "
        f"{format_values(have, limit=6)}); {fix}"
    )


def check_unique_ids(frame: pd.DataFrame, spec: ModuleSpec, source: str) -> None:
    """Persons whose ids (the spec's ``ids``: household and person line) repeat an earlier
    row would be counted twice: a ``DataError`` naming the first rows, their ids and the count.
    Rows with a missing id are not compared; a spec without a ``person`` id is not checked."""
    if "person" not in spec.ids:
        return
    cols = list(dict.fromkeys(str(v) for v in spec.ids.values()))
    if not all(c in frame.columns for c in cols):
        return
    ids = frame[cols]
    repeat = ids.duplicated(keep="first").to_numpy() & ids.notna().all(axis=1).to_numpy()
    if not repeat.any():
        return
    def show(value: Any) -> str:
        return (str(int(value)) if isinstance(value, float) and value.is_integer()
                else repr(value) if isinstance(value, str) else str(value))

    rows = np.flatnonzero(repeat)[:5]
    shown = "; ".join(
        f"row {frame.index[r]} ("
        + ", ".join(f"{c}={show(v)}" for c, v in zip(cols, ids.iloc[r].tolist(), strict=True))
        + ")" for r in rows)
    more = f"; ... ({int(repeat.sum()) - len(rows)} more)" if repeat.sum() > len(rows) else ""
    raise DataError(
        f"{source}: {int(repeat.sum())} person row(s) repeat the ids ({', '.join(cols)}) of an "
        f"earlier row (the spec's `ids`) and would be counted twice: {shown}{more}; drop the "
        f"duplicates or fix the ids"
    )


def with_read_row(mapped: MappedSurvey, source: str, rows: int, row_check: str
                   ) -> MappedSurvey:
    """The data-quality report with a last row on reading (``section == "read"``): the rows
    read and whether their number could be checked against the file (it cannot for a CSV
    file)."""
    import dataclasses

    q = mapped.quality
    row = pd.DataFrame([{"section": "read", "item": source, "n": rows, "reason": row_check}])
    out = pd.concat([q.astype({"reason": object}), row], ignore_index=True)[list(q.columns)]
    counts = [c for c in q.columns if c.startswith("n")]
    out[counts] = out[counts].astype("Int64")
    return dataclasses.replace(mapped, quality=out)


def margin_columns(totals: Any) -> list[str]:
    """The columns a calibration's population totals refer to."""
    if totals is None:
        return []
    tables = [totals] if isinstance(totals, pd.DataFrame) else totals
    if isinstance(tables, Mapping):
        return [str(k) for k in tables if k != "_population"]
    if isinstance(tables, list | tuple):
        return list(dict.fromkeys(str(c) for t in tables if isinstance(t, pd.DataFrame)
                                  for c in t.columns if c != "total"))
    raise ArgumentTypeError(f"`calibrate` of `estimate_prevalence()` must be a DataFrame of "
                            f"population totals, a list of them or a mapping; got "
                            f"{type(totals).__name__}")


def calibration_totals(totals: Any) -> Any:
    """``calibrate`` with CSV files of population totals (a path, or a list of paths and
    DataFrames) read as DataFrames; anything else as given. A file that cannot be read is a
    ``DataError`` naming it."""
    if isinstance(totals, str | Path):
        return _totals_file(totals)
    if isinstance(totals, list | tuple) and any(isinstance(t, str | Path) for t in totals):
        return [_totals_file(t) if isinstance(t, str | Path) else t for t in totals]
    return totals


def _totals_file(path: str | Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the population totals of `calibrate` (a CSV file "
                        f"of margin columns and a `total` column): {exc}") from exc
    if "total" not in frame.columns:
        raise DataError(f"{path}: population totals of `calibrate` need a `total` column; got "
                        f"columns {format_values([str(c) for c in frame.columns])}")
    return frame
