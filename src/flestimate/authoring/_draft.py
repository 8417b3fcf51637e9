"""A draft module spec as commented YAML, from a person file (and its household file).

The draft follows the layout of ``specs/template.yaml``. Every guess is marked ``# REVIEW``
with the label or name it came from. Where a wrong guess would change a number without an
error, the draft does not guess: penalties are mapped in plain form (undetermined where a rule
needs the dimension), the values of context variables the rules read (``sector``,
``perpetrator``, ``migrant_status``, ``relationship``) start as null (missing), questions that
may be asked the other way round are left commented out, and no universe or ``no_if`` is
written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from flestimate._indicators import indicator_table
from flestimate.authoring._catalogue import CONTEXT_VARIABLES
from flestimate.authoring._guess import (
    Guess,
    Variable,
    code_kinds,
    default_codes,
    guess_columns,
    guess_period,
    match_indicators,
    plain_code,
    reversed_question,
)
from flestimate.io import Microdata

__all__ = ["draft_spec", "variables_of"]

_RESERVED = {"yes", "no", "true", "false", "null", "on", "off", "y", "n", "~"}
#: Label patterns that suggest a canonical value of a context variable the rules read.
_SUGGEST: Mapping[str, tuple[tuple[str, str], ...]] = {
    "sector": (("commercial_sex_and_other", r"(sex|prostitut).*\b(and|or) other|other.*\bsex"),
               ("commercial_sex", r"sex|prostitut|escort"),
               ("armed_conflict", r"\barm(ed|y)\b|militar|combat"),
               ("illicit_activities", r"drug|illicit|criminal")),
    "perpetrator": (("state", r"state|government|police|army|prison|public|authorit"),
                    ("private", r"private|employer|company|individual|recruit|agency|person")),
    "migrant_status": (("returned", r"return"), ("non_migrant", r"non|never|not\b"),
                       ("current_abroad", r"abroad|away|currently")),
    "relationship": (("head", r"\bhead\b"), ("spouse", r"spouse|wife|husband|partner"),
                     ("child", r"\bson\b|daughter|child")),
}


def scalar(value: Any) -> str:
    """A value as YAML: numbers and plain names bare, other text double-quoted."""
    value = plain_code(value)
    if value is None:
        return "null"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value, ensure_ascii=False)


def _flow(values: Iterable[Any]) -> str:
    return "[" + ", ".join(scalar(v) for v in values) + "]"


def _quote(text: str, limit: int = 90) -> str:
    text = " ".join(str(text).split())
    return '"' + (text if len(text) <= limit else text[: limit - 3] + "...") + '"'


def variables_of(data: Microdata) -> dict[str, Variable]:
    """The :class:`Variable` of each column of a file."""
    meta = data.metadata
    out = {}
    for col in data.frame.columns:
        series = data.frame[col]
        out[str(col)] = Variable(
            str(col), " ".join(str(meta.variable_labels.get(col) or "").split()),
            dict(meta.value_labels.get(col, {})), pd.api.types.is_numeric_dtype(series),
            int(series.nunique(dropna=True)))
    return out


@dataclass
class _Draft:
    """What the draft is written from: the files' variables, the guessed columns and codes."""

    persons: Mapping[str, Variable]
    variables: Mapping[str, Variable]  # of both files (the person file's where both have one)
    frame: pd.DataFrame
    merge_on: str | None
    columns: Mapping[str, Guess]
    codes: Mapping[str, list[Any]]
    items: list[Variable]
    matches: Mapping[str, tuple[str, float]]  # yes/no item -> (canonical id, score)


def _merge_key(persons: Microdata, households: Microdata | None) -> str | None:
    """The column both files share that identifies households (unique in the household
    file), household-like names first."""
    if households is None:
        return None
    shared = [str(c) for c in households.frame.columns if c in persons.frame.columns
              and households.frame[c].is_unique]
    shared.sort(key=lambda c: not re.search(r"hh|house", c, re.IGNORECASE))
    return shared[0] if shared else None


def _prepare(persons: Microdata, households: Microdata | None) -> _Draft:
    """The guesses: merge key, design, id and context columns, yes/no items and codes."""
    pvars = variables_of(persons)
    allvars = dict(pvars)
    if households is not None:
        allvars.update({k: v for k, v in variables_of(households).items() if k not in pvars})
    key = _merge_key(persons, households)
    yes_no = [v for v in pvars.values() if {"yes", "no"} <= set(code_kinds(v.value_labels))]
    matched = match_indicators(yes_no, indicator_table())
    columns = guess_columns(allvars, taken=[key] if key else [], items=matched)
    if key:
        columns = {"ids.household": Guess(key, "column both files share"), **columns}
    taken = {g.column for g in columns.values()}
    items = [v for v in yes_no if v.name not in taken]
    codes, _ = default_codes(items)
    frame = persons.frame
    if households is not None and key:
        extra = [c for c in households.frame.columns if c not in frame.columns or c == key]
        frame = frame.merge(households.frame[extra], on=key, how="left")
    return _Draft(pvars, allvars, frame, key, columns, codes, items, matched)


# -- sections -------------------------------------------------------------------------------------
def _header(file: Path, households: Path | None) -> list[str]:
    files = f"{file.name}" + (f" and {households.name}" if households else "")
    check = f"flestimate inspect {file.name}" + (
        f" --households {households.name}" if households else "") + " --spec THIS_FILE"
    return [
        f"# Module spec drafted by `flestimate spec new` from {files}.",
        "# Every line marked `REVIEW` is a guess from a variable's name or label: check it",
        "# against the questionnaire, correct it and delete the marker. Then run",
        "#   flestimate spec check THIS_FILE --strict    (the spec alone; --strict: no marker left)",
        f"#   {check}",
        "# Where a wrong guess would change a number silently, nothing is guessed: penalties are",
        "# mapped in plain form (undetermined where a rule needs the dimension), the values the",
        "# rules read (sector, perpetrator, migrant_status, relationship) start as null (missing),",
        "# questions that may be asked the other way round are commented out, and no universe or",
        "# skip pattern is written. The keys are explained in docs/map.md.",
    ]


def _identification(file: Path, d: _Draft) -> list[str]:
    name = re.sub(r"[^a-z0-9]+", "-", file.stem.lower()).strip("-") or "my-survey"
    period = guess_period(d.persons.values())
    if period is not None:
        period_line = (f"reference_period: {scalar(period.column)}   # REVIEW: guessed from "
                       f"the {period.why}")
    else:
        period_line = ('reference_period: "REVIEW: the period the answers refer to"   '
                       '# REVIEW: required, as the questionnaire words it ("last 10 years")')
    return [f"name: {scalar(name)}", "version: 1", "description: >-",
            f"  Drafted from {file.name} by flestimate spec new.",
            "# The period the answers refer to: printed in every report header.", period_line]


def _codes_section(d: _Draft) -> list[str]:
    if not d.codes:
        return ["# codes: no yes/no value labels found (REVIEW): give yes, no, dont_know, "
                "refused, not_applicable", "codes: {}"]
    sharing = sum(1 for i in d.items if _own_codes(i, d.codes) is None)
    out = [f"# Answer codes of {sharing} of the {len(d.items)} yes/no items (REVIEW: guessed "
           f"from their value labels); an item coded otherwise has its own `codes:` below.",
           "codes:"]
    for kind in ("yes", "no", "dont_know", "refused", "not_applicable"):
        out.append(f"  {kind}: {_flow(d.codes.get(kind, []))}")
    return out


def _own_codes(item: Variable, default: Mapping[str, list[Any]]) -> dict[str, list[Any]] | None:
    kinds = code_kinds(item.value_labels)
    return None if kinds == dict(default) or not default else kinds


def _design_section(d: _Draft) -> list[str]:
    out = []
    if d.merge_on:
        out += ["# Persons get their household's columns through this key.", "merge:",
                f"  on: {scalar(d.merge_on)}   # REVIEW: the column both files share"]
    for section, keys in (("design", ("weights", "strata", "psu")),
                          ("ids", ("household", "person"))):
        lines = []
        for key in keys:
            g = d.columns.get(f"{section}.{key}")
            lines.append(f"  {key}: {scalar(g.column)}   # REVIEW: guessed from the {g.why}"
                         if g is not None else f"  # {key}: (not found; REVIEW)")
        found = any(f"{section}.{k}" in d.columns for k in keys)
        out += [f"{section}:", *lines] if found else [
            f"# {section}: none of {', '.join(keys)} found (REVIEW)"]
    return [*out, "# Who the module is about (REVIEW: not guessed; without it every row is in):",
            "# universe:", "#   and:", "#     - {column: AGE, op: \">=\", value: 15}"]


def _codes_override(own: Mapping[str, list[Any]]) -> str:
    return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in own.items()) + "}"


def _indicator_lines(iid: str, items: list[Variable], d: _Draft) -> list[str]:
    why = "; ".join(f"{i.name} {_quote(i.text)}" for i in items)
    note = f"REVIEW: guessed from {why}"
    if iid.startswith("pen_"):
        note += (f"; plain penalty: add the dimension it was applied in if the question says "
                 f"(e.g. {iid}__recruitment, {iid}__duress_or_leaving)")
    owns = [_own_codes(i, d.codes) for i in items]
    body: dict[str, str] = {"items": _flow(i.name for i in items)}
    if len(items) > 1:
        body["combine"] = "any"
    if owns[0] is not None and all(o == owns[0] for o in owns):
        body["codes"] = _codes_override(owns[0])
    elif any(o is not None for o in owns):
        return [f"  # {iid}: items {_flow(i.name for i in items)} are coded differently: "
                f"map them one by one (REVIEW: {why})"]
    if list(body) == ["items"]:
        return [f"  {iid}: {scalar(items[0].name)}   # {note}"]
    inner = ", ".join(f"{k}: {v}" for k, v in body.items())
    return [f"  {iid}: {{{inner}}}   # {note}"]


def _reversed_line(iid: str, item: Variable, d: _Draft) -> str:
    own = _own_codes(item, d.codes) or dict(d.codes)
    swapped = {**own, "yes": own.get("no", []), "no": own.get("yes", [])}
    return (f"  # {iid}: {{items: [{scalar(item.name)}], codes: "
            f"{_codes_override({k: swapped[k] for k in ('yes', 'no')})}}}   # REVIEW: asked the "
            f"other way round? {item.name} {_quote(item.text)}: yes to it is no to {iid}; "
            f"uncomment if so")


def _indicators_section(d: _Draft) -> list[str]:
    matches = d.matches
    groups: dict[str, list[Variable]] = {}
    reversed_: list[tuple[str, Variable]] = []
    for item in d.items:
        if item.name not in matches:
            continue
        iid = matches[item.name][0]
        if reversed_question(iid, item.text):
            reversed_.append((iid, item))
        else:
            groups.setdefault(iid, []).append(item)
    out = ["# Canonical indicator id -> questionnaire item(s) (docs/map.md lists the ids).",
           "indicators:"]
    for iid, items in groups.items():
        out += _indicator_lines(iid, items, d)
    out += [_reversed_line(iid, item, d) for iid, item in reversed_]
    if not groups:
        out[-1] = "indicators: {}   # REVIEW: no item matched a canonical indicator: map them"
    rest = [i for i in d.items if i.name not in matches]
    if rest:
        out.append("# Yes/no items matched to no canonical indicator (map them, or leave them):")
        out += [f"#   {i.name}: {_quote(i.text)}" for i in rest]
    return out


def _codes_present(column: str, d: _Draft) -> list[Any]:
    """The codes of a column: its value labels' codes, then the other values in the data."""
    var = d.variables.get(column)
    labelled = [plain_code(c) for c in (var.value_labels if var else {})]
    seen = [plain_code(v) for v in pd.unique(d.frame[column].dropna())] \
        if column in d.frame.columns else []
    extra = sorted((v for v in seen if v not in labelled), key=str)
    return labelled + extra


def _label_of(column: str, code: Any, d: _Draft) -> str | None:
    var = d.variables.get(column)
    for c, label in (var.value_labels if var else {}).items():
        if plain_code(c) == code:
            return str(label)
    return None


def _context_lines(name: str, guess: Guess, d: _Draft) -> list[str]:
    """One context variable: a plain column, its value labels (free names), a 1/0 recode of
    a yes/no item (binary names), or every code set to null with a suggestion (the names
    whose values the rules read)."""
    kind = CONTEXT_VARIABLES[name].kind
    note = f"# REVIEW: guessed from the {guess.why}"
    col = guess.column
    var = d.variables.get(col)
    if kind in ("number", "id") or (kind == "free" and not (var and var.value_labels)):
        return [f"  {name}: {scalar(col)}   {note}"]
    out = [f"  {name}:   {note}", f"    column: {scalar(col)}", "    values:"]
    if kind == "binary":
        kinds = code_kinds(var.value_labels if var else {})
        to = {"yes": 1, "no": 0}
        out[-1] += "   # yes -> 1, no -> 0, the other answers missing"
        out += [f"      {scalar(c)}: {scalar(to.get(k))}" for k in kinds for c in kinds[k]]
        return out
    if kind == "free":
        out += [f"      {scalar(c)}: {scalar(_label_of(col, c, d) or str(c))}"
                for c in _codes_present(col, d)]
        return out
    out[-1] += ("   # REVIEW: the rules read these values; null (missing) until you set "
                "each to a canonical value (docs/map.md) or to your own where allowed")
    for code in _codes_present(col, d):
        label = _label_of(col, code, d)
        hint = next((v for v, rx in _SUGGEST.get(name, ())
                     if label and re.search(rx, label, re.IGNORECASE)), None)
        comment = f"   # {_quote(label)}" if label else "   # (no value label)"
        out.append(f"      {scalar(code)}: null{comment}{f' -> {hint}?' if hint else ''}")
    return out


def _context_section(d: _Draft) -> list[str]:
    out = ["# Canonical context names -> columns (docs/map.md lists the names and values).",
           "context:"]
    found = {k.split(".", 1)[1]: g for k, g in d.columns.items() if k.startswith("context.")}
    hh = d.columns.get("ids.household")
    if hh is not None:
        found.setdefault("household", Guess(hh.column, "household id"))
    for name in CONTEXT_VARIABLES:
        if name in found:
            out += _context_lines(name, found[name], d)
    if len(out) == 2:
        out[-1] = "context: {}"
    missing = [c for c in CONTEXT_VARIABLES.values() if c.name not in found
               and c.kind in ("categories", "binary", "number", "id")]
    if missing:
        out.append("# Not found (REVIEW: map them if the questionnaire has them; the rules "
                   "leave what they decide undetermined without them):")
        out += [f"#   {c.name}: {c.meaning}" for c in missing]
    return out


def draft_spec(persons: Microdata, file: Path, households: Microdata | None = None,
               households_file: Path | None = None) -> str:
    """The draft module spec of a person file (and its household file), as YAML text."""
    d = _prepare(persons, households)
    parts = [_header(file, households_file), _identification(file, d), _codes_section(d),
             _design_section(d), _indicators_section(d), _context_section(d)]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"
