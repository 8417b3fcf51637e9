"""Mapping questionnaires onto canonical indicators: module specs.

A module spec (YAML, validated by :meth:`ModuleSpec.from_dict`) says which questionnaire items
give each canonical indicator (``indicators.md``), with which codes, how household and person
files merge, the design columns, the module's universe and the context variables.
:meth:`ModuleSpec.apply` gives a :class:`MappedSurvey`: canonical columns (1/0/missing) and a
data-quality report.

Universes, skip patterns and ``no_if`` rules use a declarative filter grammar. A filter is
data, never code (no ``eval``)::

    {"column": "age", "op": ">=", "value": 15}
    {"column": "mig_status", "op": "in", "value": [2, 3]}
    {"column": "q5_03", "op": "missing"}
    {"and": [FILTER, ...]}   {"or": [FILTER, ...]}   {"not": FILTER}

Comparisons with a missing value are false (``not`` of them is true), as in SQL's ``WHERE`` with
``IS NOT NULL`` spelled out: write ``{"op": "missing"}`` to select missing values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from flestimate._config import MAX_DEPTH, check_shape, read_yaml, validate
from flestimate._context_values import check_context_values
from flestimate._indicators import indicator_table
from flestimate._network_spec import NetworkSpec, parse_network
from flestimate.disclosure import load_disclosure
from flestimate.errors import FlestimateError, SpecError

__all__ = [
    "FILTER_OPERATORS",
    "ContextMap",
    "IndicatorMap",
    "MappedSurvey",
    "ModuleSpec",
    "builtin_specs",
    "canonical_ids",
    "describe_filter",
    "evaluate_filter",
    "load_spec",
]

_COMPARE: dict[str, Callable[[pd.Series, Any], pd.Series]] = {
    "==": lambda s, v: s == v,
    "!=": lambda s, v: (s != v) & s.notna(),
    "<": lambda s, v: s < v,
    "<=": lambda s, v: s <= v,
    ">": lambda s, v: s > v,
    ">=": lambda s, v: s >= v,
    "in": lambda s, v: s.isin(list(v)),
    "not_in": lambda s, v: ~s.isin(list(v)) & s.notna(),
    "between": lambda s, v: (s >= v[0]) & (s <= v[1]),
}
_UNARY = ("missing", "not_missing")
FILTER_OPERATORS: tuple[str, ...] = (*_COMPARE, *_UNARY)


def evaluate_filter(frame: pd.DataFrame, spec: Any, where: str = "filter") -> np.ndarray:
    """Evaluate a declarative filter on ``frame``; a boolean array, one value per row.

    Parameters
    ----------
    frame : DataFrame
    spec : mapping
        The filter (see the module docstring).
    where : str
        The key path of the filter in its spec file, used in error messages
        (e.g. ``"moldova.yaml: universe"``).

    Raises
    ------
    SpecError
        Naming the key path: an unknown operator or key, a missing column, a wrong value shape.
    """
    check_shape(spec, where)
    return np.asarray(_evaluate(frame, spec, where), dtype=bool)


def _evaluate(frame: pd.DataFrame, spec: Any, where: str, depth: int = 1) -> np.ndarray:
    if depth > MAX_DEPTH:  # check_shape stops it first; a guard for direct callers
        raise SpecError(f"{where}: filters nested deeper than {MAX_DEPTH} levels")
    if not isinstance(spec, Mapping):
        raise SpecError(f"{where}: a filter must be a mapping; got {type(spec).__name__}")
    keys = set(spec)
    for combinator in ("and", "or"):
        if combinator in keys:
            if keys != {combinator}:
                raise SpecError(f"{where}: `{combinator}` takes no other keys; got {sorted(keys)}")
            parts = spec[combinator]
            if not isinstance(parts, list) or not parts:
                raise SpecError(f"{where}.{combinator}: must be a non-empty list of filters")
            masks = [_evaluate(frame, p, f"{where}.{combinator}[{i}]", depth + 1)
                     for i, p in enumerate(parts)]
            reduce = np.logical_and if combinator == "and" else np.logical_or
            return np.asarray(reduce.reduce(masks, axis=0))
    if "not" in keys:
        if keys != {"not"}:
            raise SpecError(f"{where}: `not` takes no other keys; got {sorted(keys)}")
        return ~_evaluate(frame, spec["not"], f"{where}.not", depth + 1)
    allowed = {"column", "op", "value"}
    if not keys <= allowed or "column" not in keys or "op" not in keys:
        raise SpecError(
            f"{where}: a comparison needs `column` and `op` (and `value`); got keys {sorted(keys)}"
        )
    column, op = spec["column"], spec["op"]
    if column not in frame.columns:
        raise SpecError(f"{where}.column: column {column!r} not found in the data")
    series = frame[column]
    if op in _UNARY:
        if "value" in keys:
            raise SpecError(f"{where}.value: operator {op!r} takes no value")
        return np.asarray(series.isna() if op == "missing" else series.notna())
    if op not in _COMPARE:
        raise SpecError(f"{where}.op: unknown operator {op!r}; expected one of "
                        f"{', '.join(FILTER_OPERATORS)}")
    if "value" not in keys:
        raise SpecError(f"{where}.value: operator {op!r} needs a value")
    value = spec["value"]
    if op in ("in", "not_in") and not isinstance(value, list):
        raise SpecError(f"{where}.value: operator {op!r} needs a list; got {value!r}")
    if op == "between" and not (isinstance(value, list) and len(value) == 2):
        raise SpecError(f"{where}.value: operator 'between' needs [low, high]; got {value!r}")
    try:
        result = _COMPARE[op](series, value)
    except TypeError as exc:
        raise SpecError(f"{where}: cannot compare column {column!r} with {value!r}: {exc}") \
            from exc
    return np.asarray(result.fillna(False).astype(bool))


def describe_filter(spec: Any) -> str:
    """A filter as readable text, e.g. ``age >= 15 and mig in [2, 3]``."""
    if not isinstance(spec, Mapping):
        return repr(spec)
    for combinator in ("and", "or"):
        if combinator in spec:
            parts = [describe_filter(p) for p in spec[combinator]]
            return f" {combinator} ".join(f"({p})" if " and " in p or " or " in p else p
                                          for p in parts)
    if "not" in spec:
        return f"not ({describe_filter(spec['not'])})"
    col, op = spec.get("column"), spec.get("op")
    if op in _UNARY:
        return f"{col} is {'missing' if op == 'missing' else 'not missing'}"
    return f"{col} {op.replace('_', ' ') if isinstance(op, str) else op} {spec.get('value')!r}"


# -- canonical indicator ids --------------------------------------------------------------------
@lru_cache(maxsize=1)
def canonical_ids() -> frozenset[str]:
    """Every canonical indicator id of ``rules/indicators.yaml``: ``inv_*``, ``pen_*`` (plain, with one
    dimension suffix ``__recruitment``, ``__duress`` or ``__leaving``, or two joined by
    ``_or_`` such as ``__duress_or_leaving``) and the Delphi ``dec_``, ``vul_`` and ``exp_``
    ids."""
    return indicator_table().canonical_ids()


# -- module specs -------------------------------------------------------------------------------
_CODE_KINDS = ("yes", "no", "dont_know", "refused", "not_applicable")
SPEC_DIR = Path(__file__).parent / "specs"
_TOP_KEYS = {"name", "version", "description", "reference_period", "codes", "universe",
             "design", "ids", "indicators", "extra_indicators", "context", "merge",
             "nonresponse", "disclosure", "network"}
DESIGN_KEYS = {"weights", "strata", "psu", "fpc", "nest", "lonely_psu",
                # replicate weights shipped in the file (ReplicateDesign's arguments)
                "replicate_weights", "replicate_method", "replicate_scale",
                "replicate_rscales", "replicate_mse", "replicate_rho", "replicate_combined"}
_CONTEXT_NAMES = ("moved", "moved_international", "perpetrator", "sector", "sex", "age",
                  "age_group", "migrant_status", "destination", "proxy", "reference_period",
                  "household", "relationship", "region", "urban", "worked",
                  "work_with_parents")


@dataclass(frozen=True)
class IndicatorMap:
    """How one canonical indicator is read from questionnaire items."""

    id: str
    items: tuple[str, ...]
    combine: str  # "any" or "all"
    codes: Mapping[str, tuple[Any, ...]]
    unknown: str  # "error" or "missing"
    asked_if: Mapping[str, Any] | None
    no_if: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ContextMap:
    """A context variable: a column, optionally recoded (code -> canonical value; a code mapped
    to null becomes missing)."""

    name: str
    column: str
    values: Mapping[Any, Any] | None = None
    unknown: str = "error"


@dataclass(frozen=True)
class ModuleSpec:
    """A validated module spec: the questionnaire's items mapped onto canonical indicators.

    Build it with :func:`load_spec` (from a YAML file) or :meth:`from_dict`; every problem is a
    :class:`~flestimate.errors.SpecError` naming the source and the key path.
    """

    name: str
    source: str
    design: Mapping[str, Any]
    ids: Mapping[str, str]
    universe: Mapping[str, Any] | None
    indicators: tuple[IndicatorMap, ...]
    context: tuple[ContextMap, ...]
    merge: Mapping[str, Any] | None
    reference_period: str = ""
    #: Weighting classes of the unit non-response adjustment (``nonresponse.classes``): context
    #: names, file columns or ``strata``; empty for the default.
    nonresponse_classes: tuple[str, ...] = ()
    #: The office's disclosure rule (``disclosure: {rule: threshold, threshold: 5}``), the
    #: default of :func:`~flestimate.estimate_prevalence`; None for the package default.
    disclosure: Mapping[str, Any] | None = None
    #: Aggregated relational data for the network scale-up estimate (``network``).
    network: NetworkSpec | None = None

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<dict>") -> ModuleSpec:
        check_shape(raw, source)
        validate(raw, SPEC_SCHEMA, source)
        if not isinstance(raw, Mapping):
            raise SpecError(f"{source}: a module spec must be a mapping at the top level")
        # `x-` keys hold YAML anchors shared by several entries (as in docker compose files).
        unknown = sorted(k for k in set(raw) - _TOP_KEYS if not str(k).startswith("x-"))
        if unknown:
            raise SpecError(f"{source}: unknown key(s) {unknown}; expected {sorted(_TOP_KEYS)}")
        for key in ("name", "indicators"):
            if key not in raw:
                raise SpecError(f"{source}: missing required key `{key}`")
        period = raw.get("reference_period")
        if not isinstance(period, str) or not period.strip():
            raise SpecError(f"{source}: reference_period: the period the answers refer to is "
                            f"required, as text (e.g. 'last 10 years' or '2017-2021'); got "
                            f"{period!r}")
        default_codes = _codes(raw.get("codes", {}), f"{source}: codes")
        indicators = raw["indicators"]
        if not isinstance(indicators, Mapping) or not indicators:
            raise SpecError(f"{source}: indicators: must be a non-empty mapping of indicator ids")
        maps = tuple(
            _indicator(str(iid), body, default_codes, f"{source}: indicators.{iid}")
            for iid, body in indicators.items()
        )
        extra = raw.get("extra_indicators", []) or []
        if not isinstance(extra, list) or not all(isinstance(e, str) for e in extra):
            raise SpecError(f"{source}: extra_indicators: must be a list of indicator ids")
        known = canonical_ids() | set(extra)
        for m in maps:
            if m.id not in known:
                import difflib

                close = difflib.get_close_matches(m.id, sorted(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise SpecError(f"{source}: indicators.{m.id}: not a canonical indicator id "
                                f"(indicators.md){hint} List your own ids under "
                                f"`extra_indicators`.")
        context_raw = raw.get("context", {}) or {}
        if not isinstance(context_raw, Mapping):
            raise SpecError(f"{source}: context: must map canonical names to column names")
        context = tuple(_context(str(k), v, f"{source}: context.{k}")
                        for k, v in context_raw.items())
        design = raw.get("design", {}) or {}
        if not isinstance(design, Mapping) or not set(design) <= DESIGN_KEYS:
            raise SpecError(f"{source}: design: keys must be among "
                            f"{', '.join(sorted(DESIGN_KEYS))}")
        ids = raw.get("ids", {}) or {}
        if not isinstance(ids, Mapping):
            raise SpecError(f"{source}: ids: must map household/person to column names")
        merge = raw.get("merge")
        if merge is not None and not (isinstance(merge, Mapping) and "on" in merge):
            raise SpecError(f"{source}: merge: needs `on` (the household id column)")
        universe = raw.get("universe")
        if universe is not None and not isinstance(universe, Mapping):
            raise SpecError(f"{source}: universe: must be a filter mapping")
        nonresponse = raw.get("nonresponse") or {}
        if not isinstance(nonresponse, Mapping) or not set(nonresponse) <= {"classes"}:
            raise SpecError(f"{source}: nonresponse: takes `classes` (a list of context names, "
                            f"columns or `strata`)")
        nr_classes = nonresponse.get("classes", [])
        if not isinstance(nr_classes, list) or not all(isinstance(c, str) for c in nr_classes):
            raise SpecError(f"{source}: nonresponse.classes: must be a list of context names, "
                            f"columns or `strata`; got {nr_classes!r}")
        disclosure = raw.get("disclosure")
        if disclosure is not None:
            try:
                disclosure = load_disclosure(disclosure, where=f"{source}: disclosure").to_dict()
            except FlestimateError as exc:
                raise SpecError(str(exc)) from None
            disclosure = {"rule": disclosure["rule"], "threshold": disclosure["threshold"]}
        return cls(str(raw["name"]), source, dict(design), dict(ids), universe, maps,
                   context, merge, " ".join(period.split()), tuple(nr_classes), disclosure,
                   parse_network(raw.get("network"), source))

    def apply(self, data: Any, households: Any = None) -> MappedSurvey:
        """Map microdata (a :class:`~flestimate.io.Microdata` or DataFrame) onto the canonical
        indicators; with ``households``, first merge them on the spec's ``merge.on`` key."""
        return _apply(self, self.merge_households(data, households))

    def merge_households(self, data: Any, households: Any = None) -> pd.DataFrame:
        """The person frame with the household file merged on ``merge.on`` (persons keep their
        order; the index becomes 0..n-1), or the person frame itself without ``households``.
        This is the frame :meth:`apply` maps and the one a sample design is declared on."""
        frame: pd.DataFrame = data.frame if hasattr(data, "frame") else data
        if households is None:
            return frame
        hh = households.frame if hasattr(households, "frame") else households
        return _merge(frame, hh, self.merge, self.source)


@dataclass(frozen=True)
class MappedSurvey:
    """Canonical indicator columns (1/0/missing) with design and context columns, and the
    data-quality report of the mapping.

    Attributes
    ----------
    frame : DataFrame
        One row per person in the universe (the input's index): the canonical indicators, the
        design and id columns under their own names, and the context variables under their
        canonical names.
    quality : DataFrame
        The data-quality report. ``section == "universe"`` rows: each universe rule in turn,
        ``n`` rows entering it and ``n_left`` leaving it (``reason`` says which rule).
        ``section == "item"`` rows: per questionnaire item, ``n`` rows and the counts of each
        code kind (``n_yes`` ... ``n_not_applicable``), ``n_system_missing``, ``n_unknown``
        (codes the spec does not know, treated as missing when it says ``unknown: missing``),
        ``n_skip_violations`` (answered although not asked, or not answered although asked) and
        ``n_set_no`` (not asked and set to 0 by ``no_if``). ``section == "context"`` rows:
        values the context recode does not know.
    universe : mapping
        ``rows``, ``in_universe``, ``left_universe``.
    spec : ModuleSpec
    filters : DataFrame
        The answers to the module's filter questions, one column per distinct ``asked_if``
        filter (named by its text): 1 where the follow-up items were asked, 0 where ``no_if``
        says they are known to be no, missing otherwise (don't know, refused). The imputation
        model reads them as evidence.
    """

    frame: pd.DataFrame
    quality: pd.DataFrame
    universe: Mapping[str, int]
    spec: ModuleSpec
    filters: pd.DataFrame | None = None

    def report(self) -> str:
        """The data-quality report as text: universe rules, then items, then context."""
        q = self.quality
        out = []
        u = q.loc[q["section"] == "universe", ["item", "n", "n_left"]]
        if len(u):
            out += ["universe rules (rows entering, leaving):",
                    u.rename(columns={"item": "rule"}).to_string(index=False)]
        items = q.loc[q["section"] == "item"].drop(columns=["section", "n_left", "reason"])
        out += ["items:", items.to_string(index=False)]
        c = q.loc[q["section"] == "context", ["indicator", "item", "n_unknown", "reason"]]
        if len(c):
            out += ["context:", c.rename(columns={"indicator": "context"})
                    .to_string(index=False)]
        return "\n".join(out)


def _yaml_loader() -> Any:
    """The shared configuration-file loader (:func:`flestimate._config.yaml_loader`): safe, YAML
    1.2 booleans, with nesting and alias-expansion limits."""
    from flestimate._config import yaml_loader

    return yaml_loader()


_COLUMN = {"type": "string", "message": "must be a column name (string)"}
_COLUMNS = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "message": "must be a column name or a list of column names"}
_CODE = {"type": ["string", "number", "null"], "message": "must be a code (a number or a string)"}
_SCALAR_OR_LIST = {"anyOf": [{"type": ["string", "number", "boolean", "null"]},
                             {"type": "array",
                              "items": {"type": ["string", "number", "boolean", "null"]}}],
                   "message": "must be a value or a list of values"}
#: JSON Schema (Draft 2020-12) of a module spec: the types of every key. Unknown keys, allowed
#: values and cross-references are checked by :meth:`ModuleSpec.from_dict` after it.
SPEC_SCHEMA: Mapping[str, Any] = {
    "$defs": {
        "codes": {
            "type": "object", "message": f"must map {', '.join(_CODE_KINDS)} to lists of codes",
            "additionalProperties": {
                "anyOf": [_CODE, {"type": "array", "items": _CODE}],
                "message": "must be a code or a list of codes (numbers or strings)"},
            "properties": {k: {"anyOf": [_CODE, {"type": "array", "items": _CODE}],
                               "message": "must be a code or a list of codes (numbers or "
                                          "strings)"} for k in _CODE_KINDS},
        },
        "filter": {
            "type": "object", "message": "must be a filter mapping",
            "properties": {
                "and": {"type": "array", "items": {"$ref": "#/$defs/filter"},
                        "message": "must be a non-empty list of filters"},
                "or": {"type": "array", "items": {"$ref": "#/$defs/filter"},
                       "message": "must be a non-empty list of filters"},
                "not": {"$ref": "#/$defs/filter"},
                "column": _COLUMN,
                "op": {"type": "string", "message": "must be an operator (string), one of "
                                                    f"{', '.join(FILTER_OPERATORS)}"},
                "value": _SCALAR_OR_LIST,
            },
        },
        "optional_filter": {"if": {"type": "null"}, "then": True,
                            "else": {"$ref": "#/$defs/filter"}},
        "indicator": {
            "anyOf": [{"type": "string"}, {"type": "object"}],
            "message": "must be an item name or a mapping with `items`",
            "properties": {
                "items": {"anyOf": [{"type": "string"},
                                    {"type": "array", "items": {"type": "string"}}],
                          "message": "must be a non-empty list of column names"},
                "combine": {"type": "string", "message": "must be 'any' or 'all'"},
                "codes": {"$ref": "#/$defs/codes"},
                "unknown": {"type": "string", "message": "must be 'error' or 'missing'"},
                "asked_if": {"$ref": "#/$defs/optional_filter"},
                "no_if": {"$ref": "#/$defs/optional_filter"},
            },
        },
        "context": {
            "anyOf": [{"type": "string"}, {"type": "object"}],
            "message": "must be a column name or a mapping with `column` (and `values`, "
                       "`unknown`)",
            "properties": {
                "column": _COLUMN,
                "values": {"type": "object", "message": "must map codes to canonical values",
                           "additionalProperties": {
                               "type": ["string", "number", "boolean", "null"],
                               "message": "must be a canonical value (a string, a number or "
                                          "null)"}},
                "unknown": {"type": "string", "message": "must be 'error' or 'missing'"},
            },
        },
    },
    "type": "object",
    "message": "a module spec must be a mapping at the top level",
    "properties": {
        "name": {"type": ["string", "number"], "message": "must be the spec's name (string)"},
        "version": {"type": ["string", "number", "null"],
                    "message": "must be a string or a number"},
        "description": {"type": ["string", "null"], "message": "must be a string"},
        "reference_period": {
            "type": "string",
            "message": "the period the answers refer to is required, as text (e.g. 'last 10 "
                       "years' or '2017-2021')"},
        "codes": {"$ref": "#/$defs/codes"},
        "universe": {"$ref": "#/$defs/optional_filter"},
        "design": {
            "type": ["object", "null"], "message": "must be a mapping of design columns",
            "properties": {
                "weights": _COLUMN, "strata": _COLUMNS, "psu": _COLUMNS, "fpc": _COLUMNS,
                "nest": {"type": "boolean", "message": "must be true or false"},
                "lonely_psu": {"type": "string", "message": "must be a lonely-PSU rule "
                                                            "(string)"},
                "replicate_weights": _COLUMNS,
                "replicate_method": {"type": "string", "message": "must be a replicate method "
                                                                  "(string)"},
                "replicate_scale": {"type": "number", "message": "must be a number"},
                "replicate_rscales": {"type": "array",
                                      "items": {"type": "number", "message": "must be a number"},
                                      "message": "must be a list of numbers"},
                "replicate_mse": {"type": "boolean", "message": "must be true or false"},
                "replicate_rho": {"type": "number", "message": "must be a number"},
                "replicate_combined": {"type": "boolean", "message": "must be true or false"},
            },
        },
        "ids": {"type": ["object", "null"],
                "message": "must map household/person to column names",
                "additionalProperties": _COLUMN},
        "indicators": {"type": "object",
                       "message": "must be a non-empty mapping of indicator ids",
                       "additionalProperties": {"$ref": "#/$defs/indicator"}},
        "extra_indicators": {"type": ["array", "null"],
                             "items": {"type": "string",
                                       "message": "must be an indicator id (string)"},
                             "message": "must be a list of indicator ids"},
        "context": {"type": ["object", "null"],
                    "message": "must map canonical names to column names",
                    "additionalProperties": {"$ref": "#/$defs/context"}},
        "merge": {"type": ["object", "null"], "message": "needs `on` (the household id column)",
                  "properties": {"on": _COLUMN}},
        "nonresponse": {
            "type": ["object", "null"],
            "message": "takes `classes` (a list of context names, columns or `strata`)",
            "properties": {"classes": {"type": "array",
                                       "items": {"type": "string",
                                                 "message": "must be a context name, a column "
                                                            "or `strata`"},
                                       "message": "must be a list of context names, columns "
                                                  "or `strata`"}}},
        "network": {"type": ["object", "null"],
                    "message": "must be a mapping with `total`, `hidden` and `known`"},
        "disclosure": {
            "type": ["object", "string", "null"],
            "message": "must be 'threshold', 'none' or {rule: threshold, threshold: N}",
            "properties": {
                "rule": {"enum": ["threshold", "none"], "message": "must be 'threshold' or "
                                                                  "'none'"},
                "threshold": {"type": "integer", "minimum": 1,
                              "message": "must be a positive integer (respondents)"}}},
    },
}


def builtin_specs() -> list[str]:
    """Names of the module specs shipped with flestimate."""
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))


def load_spec(name_or_path: str | Path) -> ModuleSpec:
    """Load and validate a module spec: a built-in name (see :func:`builtin_specs`) or a YAML
    file."""
    p = Path(name_or_path)
    if not p.exists() and isinstance(name_or_path, str) and (SPEC_DIR / f"{p.name}.yaml").exists():
        p = SPEC_DIR / f"{p.name}.yaml"
    if not p.exists():
        raise SpecError(f"module spec {str(name_or_path)!r} is neither a file nor a built-in spec "
                        f"({', '.join(builtin_specs())})")
    return ModuleSpec.from_dict(read_yaml(p, p.name), p.name)


def _codes(raw: Any, where: str, base: Mapping[str, tuple[Any, ...]] | None = None
           ) -> dict[str, tuple[Any, ...]]:
    out = dict(base or {k: () for k in _CODE_KINDS})
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: must map {', '.join(_CODE_KINDS)} to lists of codes")
    for key, value in raw.items():
        # YAML 1.1 reads the bare keys `yes:` and `no:` as booleans.
        key = {True: "yes", False: "no"}.get(key, key) if isinstance(key, bool) else key
        if key not in _CODE_KINDS:
            raise SpecError(f"{where}.{key}: unknown code kind; expected one of "
                            f"{', '.join(_CODE_KINDS)}")
        out[key] = tuple(value) if isinstance(value, list) else (value,)
    seen: dict[Any, str] = {}
    for kind, values in out.items():
        for v in values:
            if v in seen and seen[v] != kind:
                raise SpecError(f"{where}: code {v!r} is both {seen[v]} and {kind}")
            seen[v] = kind
    return out


def _indicator(iid: str, body: Any, default_codes: Mapping[str, tuple[Any, ...]],
               where: str) -> IndicatorMap:
    if isinstance(body, str):
        body = {"items": [body]}
    if not isinstance(body, Mapping):
        raise SpecError(f"{where}: must be an item name or a mapping with `items`")
    allowed = {"items", "combine", "codes", "unknown", "asked_if", "no_if"}
    if not set(body) <= allowed:
        raise SpecError(f"{where}: unknown key(s) {sorted(set(body) - allowed)}")
    items = body.get("items")
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise SpecError(f"{where}.items: must be a non-empty list of column names")
    combine = body.get("combine", "any")
    if combine not in ("any", "all"):
        raise SpecError(f"{where}.combine: must be 'any' or 'all'; got {combine!r}")
    unknown = body.get("unknown", "error")
    if unknown not in ("error", "missing"):
        raise SpecError(f"{where}.unknown: must be 'error' or 'missing'; got {unknown!r}")
    codes = _codes(body.get("codes", {}), f"{where}.codes", default_codes)
    if not codes["yes"] or not codes["no"]:
        raise SpecError(f"{where}.codes: the codes for yes and no must be given (here or in "
                        f"the spec's top-level `codes`)")
    asked_if = body.get("asked_if")
    if asked_if is not None and not isinstance(asked_if, Mapping):
        raise SpecError(f"{where}.asked_if: must be a filter mapping")
    no_if = body.get("no_if")
    if no_if is not None and not isinstance(no_if, Mapping):
        raise SpecError(f"{where}.no_if: must be a filter mapping")
    return IndicatorMap(iid, tuple(items), combine, codes, unknown, asked_if, no_if)


def _context(name: str, body: Any, where: str) -> ContextMap:
    if name not in _CONTEXT_NAMES:
        raise SpecError(f"{where}: unknown context variable; expected one of "
                        f"{', '.join(_CONTEXT_NAMES)}")
    if isinstance(body, str):
        return ContextMap(name, body)
    if not isinstance(body, Mapping) or "column" not in body:
        raise SpecError(f"{where}: must be a column name or a mapping with `column` "
                        f"(and `values`, `unknown`)")
    extra = set(body) - {"column", "values", "unknown"}
    if extra:
        raise SpecError(f"{where}: unknown key(s) {sorted(extra)}")
    values = body.get("values")
    if values is not None and not isinstance(values, Mapping):
        raise SpecError(f"{where}.values: must map codes to canonical values")
    unknown = body.get("unknown", "error")
    if unknown not in ("error", "missing"):
        raise SpecError(f"{where}.unknown: must be 'error' or 'missing'; got {unknown!r}")
    return ContextMap(name, str(body["column"]), None if values is None else dict(values),
                      unknown)


def _merge(persons: pd.DataFrame, households: pd.DataFrame, merge: Mapping[str, Any] | None,
           source: str) -> pd.DataFrame:
    if merge is None:
        raise SpecError(f"{source}: households were given but the spec has no `merge` key")
    key = merge["on"]
    for name, frame in (("person", persons), ("household", households)):
        if key not in frame.columns:
            raise SpecError(f"{source}: merge.on: column {key!r} not found in the {name} file")
    dup = households[key].duplicated()
    if dup.any():
        raise SpecError(f"{source}: merge.on: household ids repeat in the household file, e.g. "
                        f"{pd.unique(households.loc[dup, key])[:3].tolist()}")
    orphans = ~persons[key].isin(households[key])
    if orphans.any():
        raise SpecError(f"{source}: merge.on: {int(orphans.sum())} person row(s) have no "
                        f"household, e.g. {key}={pd.unique(persons.loc[orphans, key])[:3].tolist()}")
    overlap = [c for c in households.columns if c in persons.columns and c != key]
    merged: pd.DataFrame = persons.merge(households.drop(columns=overlap), on=key, how="left",
                                         validate="m:1")
    return merged


_QUALITY_COLUMNS = ["section", "indicator", "item", "n", "n_yes", "n_no", "n_dont_know",
                    "n_refused", "n_not_applicable", "n_system_missing", "n_unknown",
                    "n_skip_violations", "n_set_no", "n_left", "reason"]


def _universe(spec: ModuleSpec, frame: pd.DataFrame) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Rows in the universe, and one report row per rule: a top-level ``and`` is reported rule
    by rule, in order (rows entering each rule are those that passed the previous ones)."""
    n = len(frame)
    if spec.universe is None:
        return np.ones(n, dtype=bool), []
    where = f"{spec.source}: universe"
    rules = (list(enumerate(spec.universe["and"])) if set(spec.universe) == {"and"}
             and isinstance(spec.universe["and"], list) else [(None, spec.universe)])
    inside = np.ones(n, dtype=bool)
    rows = []
    for i, rule in rules:
        mask = evaluate_filter(frame, rule, where if i is None else f"{where}.and[{i}]")
        entering = int(inside.sum())
        inside &= mask
        text = describe_filter(rule)
        rows.append({"section": "universe", "item": text, "n": entering,
                     "n_left": entering - int(inside.sum()), "reason": f"not {text}"})
    return inside, rows


def _apply(spec: ModuleSpec, frame: pd.DataFrame) -> MappedSurvey:
    n = len(frame)
    inside, rows = _universe(spec, frame)
    sub = frame.loc[inside]
    columns: dict[str, Any] = {}
    filters: dict[str, np.ndarray] = {}
    for ind in spec.indicators:
        where = f"{spec.source}: indicators.{ind.id}"
        asked = (evaluate_filter(sub, ind.asked_if, f"{where}.asked_if")
                 if ind.asked_if is not None else None)
        set_no = (evaluate_filter(sub, ind.no_if, f"{where}.no_if")
                  if ind.no_if is not None else None)
        if asked is not None:
            filters[describe_filter(ind.asked_if)] = np.where(
                asked, 1.0, np.where(set_no if set_no is not None else False, 0.0, np.nan))
        values = []
        for item in ind.items:
            if item not in sub.columns:
                raise SpecError(f"{where}.items: column {item!r} not found in the data")
            col = sub[item]
            kinds = {kind: col.isin(list(codes)).to_numpy() for kind, codes in ind.codes.items()}
            system_missing = col.isna().to_numpy()
            known = np.logical_or.reduce(list(kinds.values())) | system_missing
            n_unknown = int((~known).sum())
            if n_unknown and ind.unknown == "error":
                bad = sorted(pd.unique(col[~known]).tolist(), key=str)
                first = col.index[~known][:3].tolist()
                raise SpecError(
                    f"{where}: column {item!r} has {n_unknown} value(s) with codes the spec "
                    f"does not know: {bad[:5]} (rows {first}); add them to `codes` or set "
                    f"`unknown: missing`"
                )
            value = np.where(kinds["yes"], 1.0, np.where(kinds["no"], 0.0, np.nan))
            not_asked = system_missing | kinds["not_applicable"]
            n_set_no = 0
            if set_no is not None:
                # Not asked because the filter question said no: the answer is known to be no.
                to_no = set_no & not_asked
                value[to_no] = 0.0
                n_set_no = int(to_no.sum())
            values.append(value)
            violations = 0
            if asked is not None:
                violations = int(((~asked) & ~not_asked).sum() + (asked & not_asked).sum())
            rows.append({"section": "item", "indicator": ind.id, "item": item, "n": len(col),
                         **{f"n_{k}": int(v.sum()) for k, v in kinds.items()},
                         "n_system_missing": int(system_missing.sum()),
                         "n_unknown": n_unknown, "n_skip_violations": violations,
                         "n_set_no": n_set_no})
        stacked = np.vstack(values)
        if ind.combine == "any":
            combined = np.where((stacked == 1).any(axis=0), 1.0,
                                np.where((stacked == 0).all(axis=0), 0.0, np.nan))
        else:
            combined = np.where((stacked == 0).any(axis=0), 0.0,
                                np.where((stacked == 1).all(axis=0), 1.0, np.nan))
        columns[ind.id] = combined
    out = pd.DataFrame(columns, index=sub.index)
    keep = [c for c in (*_flatten(spec.design.values()), *spec.ids.values()) if c in sub.columns]
    for col in dict.fromkeys(keep):
        out[col] = sub[col]
    for ctx in spec.context:
        where = f"{spec.source}: context.{ctx.name}"
        if ctx.column not in sub.columns:
            raise SpecError(f"{where}: column {ctx.column!r} not found")
        out[ctx.name], ctx_row = recode_values(sub[ctx.column], ctx, where)
        check_context_values(ctx.name, ctx.column, out[ctx.name], where)
        if ctx_row is not None:
            rows.append(ctx_row)
    universe = {"rows": n, "in_universe": int(inside.sum()), "left_universe": int((~inside).sum())}
    quality = pd.DataFrame(rows, columns=_QUALITY_COLUMNS)
    counts = [c for c in _QUALITY_COLUMNS if c.startswith("n")]
    quality[counts] = quality[counts].astype("Int64")
    return MappedSurvey(out, quality, MappingProxyType(universe), spec,
                        pd.DataFrame(filters, index=sub.index))


def recode_values(col: pd.Series, ctx: ContextMap, where: str) -> tuple[pd.Series, dict[str, Any] | None]:
    if ctx.values is None:
        return col, None
    mapping = dict(ctx.values)
    known = col.isin(list(mapping)) | col.isna()
    n_unknown = int((~known).sum())
    if n_unknown and ctx.unknown == "error":
        bad = sorted(pd.unique(col[~known]).tolist(), key=str)
        raise SpecError(f"{where}: column {ctx.column!r} has {n_unknown} value(s) that "
                        f"`values` does not list: {bad[:5]} (rows {col.index[~known][:3].tolist()})"
                        f"; add them or set `unknown: missing`")
    recoded = col.map(mapping)
    if all(isinstance(v, int | float) or v is None for v in mapping.values()):
        recoded = recoded.astype(float)
    row = ({"section": "context", "indicator": ctx.name, "item": ctx.column, "n": len(col),
            "n_unknown": n_unknown, "reason": "values not listed: set to missing"}
           if n_unknown else None)
    return recoded, row


def _flatten(values: Any) -> list[str]:
    out: list[str] = []
    for v in values:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list):
            out.extend(x for x in v if isinstance(x, str))
    return out
