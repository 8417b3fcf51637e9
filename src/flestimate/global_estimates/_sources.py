"""The published numbers shipped with flestimate: ``sources.yaml`` and the tidy table of every
published figure with its rounding and evidence tag."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from flestimate.errors import ArgumentError, ArgumentTypeError, SpecError
from flestimate.results import freeze

__all__ = ["PUBLICATIONS", "PUBLISHED_COLUMNS", "PUBLISHED_DIR", "TAGS", "published",
           "sources"]

#: Folder of the packaged published tables and their ``sources.yaml``.
PUBLISHED_DIR = Path(__file__).resolve().parent.parent / "published"
#: Publications :func:`reproduce` knows.
PUBLICATIONS: tuple[str, ...] = ("ilo2005", "ilo2012", "gems2016", "gems2021", "uk_mse2013")
#: Columns of :func:`published`.
PUBLISHED_COLUMNS: tuple[str, ...] = (
    "publication", "table", "component", "quantity", "value", "unit", "rounding", "evidence",
    "evidence_note", "file", "source",
)
#: Evidence tags, strongest first.
TAGS: tuple[str, ...] = ("V", "S", "R")


def sources() -> Mapping[str, Any]:
    """The parsed ``sources.yaml``: evidence tags, publications (citation, year, method) and,
    per shipped file, its table, units, rounding and evidence tags (read-only)."""
    path = PUBLISHED_DIR / "sources.yaml"
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict) or not {"publications", "files"} <= set(data):
        raise SpecError(f"{path}: needs the keys 'publications' and 'files'")
    frozen: Mapping[str, Any] = freeze(data)
    return frozen


def _tag(text: Any, where: str) -> str:
    tag = str(text).strip()[:1]
    if tag not in TAGS:
        raise SpecError(f"{where}: evidence must start with one of {', '.join(TAGS)}; got "
                        f"{text!r}")
    return tag


def _file_numbers(name: str, spec: Mapping[str, Any], pubs: Mapping[str, Any]) -> pd.DataFrame:
    path = PUBLISHED_DIR / name
    frame = pd.read_csv(path, dtype={spec["key"]: str})
    pub = spec["publication"]
    citation = str(pubs[pub]["citation"])
    rows = []
    for col, meta in spec["values"].items():
        if col not in frame.columns:
            raise SpecError(f"sources.yaml: files.{name}.values.{col} is not a column of {name}")
        ev_col = spec.get("evidence_columns", {}).get(col)
        for _, rec in frame.iterrows():
            value = rec[col]
            if pd.isna(value):
                continue
            key = str(rec[spec["key"]])
            cell = spec.get("cells", {}).get(key, {}).get(col, {})
            where = f"sources.yaml: files.{name} row {key!r} column {col!r}"
            note = str(cell.get("note", ""))
            if "evidence" in cell:
                tag = _tag(cell["evidence"], where)
            elif ev_col is not None and not pd.isna(rec[ev_col]):
                tag = _tag(rec[ev_col], where)
                note = note or str(rec[ev_col])
            elif "evidence" in meta:
                tag = _tag(meta["evidence"], where)
            else:
                raise SpecError(f"{where}: no evidence tag")
            if ev_col is not None and not pd.isna(rec[ev_col]) and str(rec[ev_col]) != tag:
                full = str(rec[ev_col])
                note = f"{note}; CSV evidence: {full}" if note and full not in note else (
                    note or full)
            rows.append({
                "publication": pub, "table": meta.get("table", spec["table"]),
                "component": key, "quantity": meta.get("quantity", col),
                "value": float(value), "unit": meta["unit"],
                "rounding": float(cell.get("rounding", meta["rounding"])),
                "evidence": tag, "evidence_note": note, "file": name,
                "source": f"{name}; {citation}",
            })
    out: pd.DataFrame = pd.DataFrame(rows, columns=list(PUBLISHED_COLUMNS))
    return out


def check_name(name: Any, func: str) -> str:
    if not isinstance(name, str):
        raise ArgumentTypeError(f"`name` of `{func}()` must be a str; got {type(name).__name__}")
    if name not in PUBLICATIONS:
        close = difflib.get_close_matches(name, PUBLICATIONS, n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ArgumentError(f"`name` of `{func}()` must be one of {', '.join(PUBLICATIONS)}; "
                            f"got {name!r}{hint}")
    return name


def published(name: str | None = None) -> pd.DataFrame:
    """The published numbers, tidy: one row per number, in persons (not millions).

    Parameters
    ----------
    name : str, optional
        One publication (``ilo2005``, ``ilo2012``, ``gems2016``, ``gems2021``,
        ``uk_mse2013``); all by default.

    Returns
    -------
    DataFrame
        ``publication, table, component, quantity`` (``persons``, ``share_pct``, ``per_1000``),
        ``value, unit, rounding`` (the unit of the last published digit), ``evidence`` (``V``
        read in a primary or official source, ``S`` quoted by a secondary source, ``R`` widely
        recalled but not confirmed), ``evidence_note``, ``file`` and ``source`` (the file and
        the publication's citation).
    """
    if name is not None:
        check_name(name, "published")
    src = sources()
    # a file without a key (the UK capture histories) holds data, not published figures
    parts = [_file_numbers(f, spec, src["publications"]) for f, spec in src["files"].items()
             if spec["publication"] in PUBLICATIONS and spec.get("key") is not None
             and (name is None or spec["publication"] == name)]
    return pd.concat(parts, ignore_index=True)
