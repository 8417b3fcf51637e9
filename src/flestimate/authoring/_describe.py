"""What ``flestimate inspect`` prints: a file's variables with their labels, codes and counts;
with a module spec, the columns it names that the files lack (an error), the mapping, the
universe, the data-quality report, and what the rules need that the spec does not map.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flestimate.authoring._guess import plain_code
from flestimate.errors import SpecError
from flestimate.io import Microdata
from flestimate.mapping import ModuleSpec

__all__ = ["describe_variables", "missing_columns", "spec_columns", "unmapped_needs"]

#: At most this many codes are listed per variable (the most frequent first after the
#: labelled ones).
MAX_CODES = 25


def _count_text(code: Any, label: str | None, count: int, labelled: bool = True) -> str:
    label_text = (f" {' '.join(str(label).split())}" if label else
                  " (no label)" if labelled else "")
    return f"{plain_code(code)!r}{label_text}: {count:,}"


def _codes_line(series: pd.Series, labels: Mapping[Any, str]) -> str:
    """Counts per code: the labelled codes in label order (0 when absent), then the codes
    without a label, then system missing."""
    counts = series.value_counts(dropna=True)
    by_code = {plain_code(k): int(v) for k, v in counts.items()}
    parts = []
    for code, label in labels.items():
        parts.append(_count_text(code, label, by_code.pop(plain_code(code), 0)))
    extra = sorted(by_code.items(), key=lambda kv: -kv[1])
    parts += [_count_text(c, None, n, bool(labels)) for c, n in extra]
    shown = parts[:MAX_CODES]
    if len(parts) > MAX_CODES:
        shown.append(f"... {len(parts) - MAX_CODES} more codes")
    missing = int(series.isna().sum())
    if missing:
        shown.append(f"missing: {missing:,}")
    return " | ".join(shown)


def _summary_line(series: pd.Series) -> str:
    """An unlabelled column: its counts when it has few values, else its range."""
    distinct = int(series.nunique(dropna=True))
    missing = int(series.isna().sum())
    if distinct <= 10:
        return _codes_line(series, {})
    if pd.api.types.is_numeric_dtype(series):
        low, high = (plain_code(v.item() if isinstance(v, np.generic) else v)
                     for v in (series.min(), series.max()))
        return f"numeric: {distinct:,} values from {low!r} to {high!r}; missing: {missing:,}"
    examples = ", ".join(repr(v) for v in pd.unique(series.dropna())[:3])
    return f"text: {distinct:,} values, e.g. {examples}; missing: {missing:,}"


def describe_variables(data: Microdata, file: str | Path, title: str = "file") -> list[str]:
    """A file's header line and one entry per variable: name, label, and the counts of its
    codes (with their value labels) or its range."""
    meta = data.metadata
    frame = data.frame
    lines = [f"{title}: {file} ({meta.file_format}, {len(frame)} rows, {frame.shape[1]} "
             f"variables)", "", "variables:"]
    user_missing = getattr(meta, "missing_values", {}) or {}
    for col in frame.columns:
        label = meta.variable_labels.get(col) or ""
        labels = meta.value_labels.get(col)
        coded = " [value labels]" if labels else ""
        lines.append(f"  {col:<24} {label}{coded}")
        detail = _codes_line(frame[col], labels) if labels else _summary_line(frame[col])
        if user_missing.get(col):
            detail += f" (user-missing codes: {list(user_missing[col])})"
        lines.append(f"  {'':<24} {detail}")
    return lines


# -- a spec against the files ---------------------------------------------------------------------
def _filter_columns(spec: Any, where: str) -> Iterator[tuple[str, str]]:
    if not isinstance(spec, Mapping):
        return
    for combinator in ("and", "or"):
        for i, part in enumerate(spec.get(combinator) or []):
            yield from _filter_columns(part, f"{where}.{combinator}[{i}]")
    if "not" in spec:
        yield from _filter_columns(spec["not"], f"{where}.not")
    if isinstance(spec.get("column"), str):
        yield f"{where}.column", spec["column"]


def spec_columns(spec: ModuleSpec, households: bool = False) -> list[tuple[str, str]]:
    """Every (key path, column) a spec names: design, ids, merge key (with a household file),
    universe, indicator items and their skip filters, context columns. A
    ``design.replicate_weights`` given as one string is a regular expression and is left
    out (:func:`missing_columns` checks that it matches)."""
    out: list[tuple[str, str]] = []
    for key, value in spec.design.items():
        if isinstance(value, str) and key != "replicate_weights" and key != "lonely_psu":
            out.append((f"design.{key}", value))
        elif isinstance(value, list):
            out += [(f"design.{key}[{i}]", v) for i, v in enumerate(value) if isinstance(v, str)]
    out += [(f"ids.{k}", v) for k, v in spec.ids.items()]
    if households and spec.merge is not None:
        out.append(("merge.on", str(spec.merge["on"])))
    out += list(_filter_columns(spec.universe, "universe"))
    for ind in spec.indicators:
        out += [(f"indicators.{ind.id}.items", item) for item in ind.items]
        out += list(_filter_columns(ind.asked_if, f"indicators.{ind.id}.asked_if"))
        out += list(_filter_columns(ind.no_if, f"indicators.{ind.id}.no_if"))
    out += [(f"context.{c.name}.column", c.column) for c in spec.context]
    net = spec.network
    if net is not None:
        out += [(f"network.hidden.{k}", c) for k, c in net.hidden.items()]
        out += [(f"network.known.{k}.column", c) for k, (c, _) in net.known.items()]
        out += list(_filter_columns(net.respondents, "network.respondents"))
    return out


def missing_columns(spec: ModuleSpec, columns: Any, files: str, households: bool = False
                    ) -> None:
    """Raise a SpecError naming every key path whose column is not in ``columns`` (the
    files' columns, described by ``files``), and a replicate-weight pattern that matches
    none."""
    present = {str(c) for c in columns}
    bad = [f"{path}: column {col!r} not found" for path, col in spec_columns(spec, households)
           if col not in present]
    pattern = spec.design.get("replicate_weights")
    if isinstance(pattern, str) and pattern not in present and not any(
            re.fullmatch(pattern, c) for c in present):
        bad.append(f"design.replicate_weights: {pattern!r} matches no column")
    if bad:
        raise SpecError(f"{spec.source}: {'; '.join(bad)} (in {files})")


def _probe_frame(spec: ModuleSpec) -> pd.DataFrame:
    """Two rows with every mapped indicator and context name, all missing: classifying it
    shows what the rules need and the spec does not map (missing values are measured,
    absent columns are not)."""
    names = [i.id for i in spec.indicators] + [c.name for c in spec.context]
    frame: pd.DataFrame = pd.DataFrame({n: np.full(2, np.nan) for n in dict.fromkeys(names)})
    return frame


def unmapped_needs(spec: ModuleSpec, forced_labour: Any = "icls2018",
                   trafficking: Any = "seed2007", child: Any = "child2018",
                   form: Any = "ilo2005") -> tuple[dict[str, list[str]], list[str]]:
    """What the rules need that the spec does not map, per rule set (the ``not_measured``
    of :func:`~flestimate.classify`, plus the columns the form rule reads), and the mapped
    penalties whose dimension is unknown where a rule asks for one."""
    from flestimate.classification import classify, load_rules

    probe = _probe_frame(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cls = classify(probe, forced_labour, trafficking, child=child, form=form)
    needs = {str(k): list(v) for k, v in cls.provenance["not_measured"].items()}
    form_rules = load_rules(form, "form")
    absent = sorted({col for _, case in form_rules.cases
                     for _, col in _filter_columns(case, "form") if col not in probe.columns})
    if absent:
        needs.setdefault(form_rules.name, []).extend(f"column {c}" for c in absent)
    link = [c for c in ("household", "relationship") if c not in probe.columns]
    if link:
        child_rules = load_rules(child, "child")
        needs.setdefault(child_rules.name, []).append(
            f"context {' and '.join(link)} (the link to a parent in forced labour)")
    return needs, list(cls.provenance["dimension_unknown"])
