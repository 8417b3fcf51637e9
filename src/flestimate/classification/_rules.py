"""Rule sets as data: parsing, validation and three-valued evaluation.

A rule is an expression tree built from a YAML mapping (no ``eval``)::

    {all: [EXPR, ...]}            {any: [EXPR, ...]}
    {any_of: SELECTION}           {all_of: SELECTION}
    {graded: DELPHI_DIMENSION}    {graded: {dimension: D, patterns: [...]}}
    {column: C, op: OP, value: V} (a context comparison; OP as in module-spec filters;
                                   ``if_absent: true | false`` when C is not in the data)
    {result: forced_labour | parent_forced_labour}
    {ref: NAME}                   (a named expression of the file's ``define``)

SELECTION is a list whose entries are indicator ids or selectors ``{kind: involuntariness |
penalty, dimension: D, grade: G, ids: [...], exclude: [...]}``, or one selector; the indicators
it selects are the union of its entries. Every expression is monotone in the indicators, so its
three-valued value follows from two evaluations: ``lower`` with every missing indicator read as 0
and ``upper`` with every missing indicator read as 1. A rule is TRUE when ``lower`` holds (some
qualifying combination is observed and true), FALSE when ``upper`` fails (no combination could be
true whatever the missing values), and missing otherwise: exactly the three-valued logic of
``classification.md``.

What the data do not measure is missing too, never "no": a selection none of whose indicators is
in the data, a Delphi dimension none of whose members is, a comparison on an absent column and a
result not computed all evaluate to (lower False, upper True), and are reported in the
classification's provenance (``not_measured``).

Penalties carry the dimension in which they were applied as a suffix: ``pen_violence__duress``;
``pen_violence__duress_or_leaving`` when the questionnaire says it was one of these; plain
``pen_violence`` when it does not say. Where a rule asks for a penalty of one dimension, a penalty
whose dimension may be another one is handled by ``plain_penalties``: ``unknown_dimension`` (the
default) counts it in no dimension for the lower bound and in every possible one for the upper;
``every_dimension`` counts it in every possible dimension; ``ignore`` drops it; ``error`` stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from flestimate._config import check_shape, validate
from flestimate._indicators import (
    DIMENSIONS,
    GRADES,
    RULES_DIR,
    TEXT_SCHEMA,
    either_schema,
    indicator_table,
    read_rule_file,
)
from flestimate.classification._evaluate import PLAIN_PENALTIES, Expr
from flestimate.classification._parse import MAX_EXPR_NODES, parse_expr
from flestimate.errors import SpecError
from flestimate.mapping import SPEC_SCHEMA

__all__ = ["EVIDENCE_TAGS", "FORMS", "KINDS", "PLAIN_PENALTIES", "RULES_DIR", "RuleSet",
           "builtin_rules", "indicator_table", "load_rules", "parse_rules", "rules_schema"]

KINDS = ("forced_labour", "child", "trafficking", "form")
EVIDENCE_TAGS = ("V", "S", "R")


# -- rule sets ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleSet:
    """A validated rule set: ``kind`` forced_labour, child, trafficking or form.

    ``adult``/``child`` are the expressions (the same for kinds without an age split);
    ``cases``/``otherwise`` the form rule. ``evidence`` tags the definition and the operational
    rule separately (``{"definition": "V", "operational": "R"}``; V read in the primary source,
    S quoted by a secondary source, R recalled or our own choice).
    """

    name: str
    kind: str
    version: str
    source: str
    evidence: Mapping[str, str]
    description: str
    adult: Expr | None
    child: Expr | None
    cases: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    otherwise: str | None = None
    file: str = ""


_RULE_KEYS = {"name", "kind", "version", "source", "evidence", "description", "define",
              "rule", "patterns", "cases", "otherwise"}
FORMS = ("state_imposed", "commercial_sexual_exploitation", "economic_exploitation",
         "mixed_undetermined")


def _evidence(raw: Any, source: str) -> dict[str, str]:
    """``evidence: V`` (both parts) or ``evidence: {definition: V, operational: R}``."""
    if raw is None:
        return {"definition": "", "operational": ""}
    body = raw if isinstance(raw, Mapping) else {"definition": raw, "operational": raw}
    if not set(body) <= {"definition", "operational"}:
        raise SpecError(f"{source}: evidence: takes `definition` and `operational`; got "
                        f"{sorted(body)}")
    out = {}
    for part in ("definition", "operational"):
        tag = str(body.get(part, "") or "")
        if tag and tag[0] not in EVIDENCE_TAGS:
            raise SpecError(f"{source}: evidence.{part}: must start with one of "
                            f"{', '.join(EVIDENCE_TAGS)}; got {tag!r}")
        out[part] = tag
    return out


def parse_rules(raw: Any, source: str) -> RuleSet:
    """A validated rule set from the mapping of a rule file (``source`` names the file in
    error messages): the schema, the top-level keys, then the form cases or the expressions."""
    check_shape(raw, source)
    validate(raw, rules_schema(), source)
    kind = _check_top_level(raw, source)
    name = str(raw["name"])
    meta = {k: " ".join(str(raw.get(k, "")).split()) for k in ("version", "source",
                                                              "description")}
    evidence = _evidence(raw.get("evidence"), source)
    if kind == "form":
        cases, otherwise = _form_cases(raw, source)
        return RuleSet(name, kind, meta["version"], meta["source"], evidence,
                       meta["description"], None, None, cases, otherwise, source)
    adult, child = _expressions(raw, name, source)
    return RuleSet(name, kind, meta["version"], meta["source"], evidence,
                   meta["description"], adult, child, file=source)


def _check_top_level(raw: Any, source: str) -> str:
    """The rule set's kind, after checking that the file is a mapping with known keys, a name
    and a kind."""
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: a rule set must be a mapping at the top level")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise SpecError(f"{source}: unknown key(s) {unknown}; expected {sorted(_RULE_KEYS)}")
    for key in ("name", "kind"):
        if key not in raw:
            raise SpecError(f"{source}: missing required key `{key}`")
    kind = raw["kind"]
    if kind not in KINDS:
        raise SpecError(f"{source}: kind: must be one of {', '.join(KINDS)}; got {kind!r}")
    return str(kind)


def _form_cases(raw: Mapping[str, Any], source: str
                ) -> tuple[tuple[tuple[str, Mapping[str, Any]], ...], str]:
    """The cases ``(form, when)`` of a form rule, in order, and its ``otherwise`` form."""
    cases_raw = raw.get("cases")
    if not isinstance(cases_raw, list) or not cases_raw:
        raise SpecError(f"{source}: cases: a form rule needs a non-empty list of "
                        f"{{form, when}}")
    cases = []
    for i, case in enumerate(cases_raw):
        where = f"{source}: cases[{i}]"
        if not isinstance(case, Mapping) or set(case) != {"form", "when"}:
            raise SpecError(f"{where}: must have exactly `form` and `when`")
        if case["form"] not in FORMS:
            raise SpecError(f"{where}.form: must be one of {', '.join(FORMS)}; got "
                            f"{case['form']!r}")
        if not isinstance(case["when"], Mapping):
            raise SpecError(f"{where}.when: must be a filter mapping")
        cases.append((str(case["form"]), dict(case["when"])))
    otherwise = raw.get("otherwise", "mixed_undetermined")
    if otherwise not in FORMS:
        raise SpecError(f"{source}: otherwise: must be one of {', '.join(FORMS)}")
    return tuple(cases), str(otherwise)


def _expressions(raw: Mapping[str, Any], name: str, source: str) -> tuple[Expr, Expr]:
    """The adult and child expressions of a rule (the same one without an age split); every
    definition is parsed too, so that an unused one is validated as well."""
    defines = raw.get("define", {}) or {}
    if not isinstance(defines, Mapping):
        raise SpecError(f"{source}: define: must map names to expressions")
    if "rule" not in raw:
        raise SpecError(f"{source}: missing required key `rule`")
    body = raw["rule"]
    patterns = raw.get("patterns")

    budget = [MAX_EXPR_NODES]  # for the whole file: the rule and every definition

    def expr(x: Any, where: str) -> Expr:
        return parse_expr(x, where, defines, name, patterns, budget=budget, source=source)

    if isinstance(body, Mapping) and set(body) & {"adult", "child"}:
        if not set(body) <= {"adult", "child"} or "adult" not in body:
            raise SpecError(f"{source}: rule: an age split needs `adult` (and optionally "
                            f"`child`) only")
        adult = expr(body["adult"], f"{source}: rule.adult")
        child = expr(body["child"], f"{source}: rule.child") if "child" in body else adult
    else:
        adult = child = expr(body, f"{source}: rule")
    for dname, dbody in defines.items():  # validate unused definitions too
        expr(dbody, f"{source}: define.{dname}")
    return adult, child


# -- schemas of the files -------------------------------------------------------------------------
_IDS = {"type": "array", "items": {"type": "string", "message": "must be an indicator id (string)"},
        "message": "must be a list of indicator ids"}


def _rules_schema() -> dict[str, Any]:
    """The schema of :func:`rules_schema`, built once; comparisons take the module specs'
    filter schema."""
    selector = {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "message": "must be involuntariness or penalty"},
            "dimension": {"type": "string",
                          "message": f"must be one of {', '.join(DIMENSIONS)}"},
            "grade": {"type": "string", "message": f"must be one of {', '.join(GRADES)}"},
            "ids": _IDS, "exclude": _IDS,
        },
    }
    selection = either_schema({"$ref": "#/$defs/selector"}, {
        "type": "array", "message": "must be a non-empty list of indicator ids (or selectors "
                                    "with kind, dimension, grade, ids, exclude), or one selector",
        "items": either_schema({"$ref": "#/$defs/selector"}, {
            "type": "string", "message": "must be an indicator id or a selector mapping"})})
    patterns = {
        "type": ["array", "null"], "message": "must be a non-empty list of {grade: count} "
                                              "mappings",
        "items": {"type": "object", "message": "must map grades to counts, e.g. {strong: 2}",
                  "additionalProperties": {"type": "integer",
                                           "message": "must be a positive integer"}}}
    expr = {
        "type": "object", "message": "an expression must be a mapping",
        "properties": {
            "all": {"type": "array", "items": {"$ref": "#/$defs/expr"},
                    "message": "must be a non-empty list of expressions"},
            "any": {"type": "array", "items": {"$ref": "#/$defs/expr"},
                    "message": "must be a non-empty list of expressions"},
            "any_of": {"$ref": "#/$defs/selection"},
            "all_of": {"$ref": "#/$defs/selection"},
            "graded": either_schema(
                {"properties": {"dimension": {"type": "string",
                                              "message": "must be a Delphi dimension name"},
                                "patterns": {"$ref": "#/$defs/patterns"}}},
                {"type": "string", "message": "a Delphi dimension name or "
                                              "{dimension, patterns}"}),
            "column": {"type": "string", "message": "must be a column name (string)"},
            "op": {"type": "string", "message": "must be an operator (string)"},
            "value": SPEC_SCHEMA["$defs"]["filter"]["properties"]["value"],
            "if_absent": {"type": "boolean", "message": "must be true or false (the value "
                                                        "when the column is not in the data)"},
            "result": {"type": "string", "message": "must be one of forced_labour, "
                                                    "parent_forced_labour"},
            "ref": {"type": "string", "message": "must be the name of a definition (string)"},
        },
    }
    return {
        "$defs": {"expr": expr, "selector": selector, "selection": selection,
                  "patterns": patterns, "filter": SPEC_SCHEMA["$defs"]["filter"]},
        "type": "object", "message": "a rule set must be a mapping at the top level",
        "properties": {
            "name": {"type": ["string", "number"], "message": "must be the rule set's name"},
            "kind": {"type": "string", "message": f"must be one of {', '.join(KINDS)}"},
            "version": TEXT_SCHEMA, "source": TEXT_SCHEMA, "description": TEXT_SCHEMA,
            "evidence": either_schema(
                {"properties": {"definition": TEXT_SCHEMA, "operational": TEXT_SCHEMA}},
                {"type": ["string", "null"], "message": "must be a tag (V, S or R) or "
                                                        "{definition, operational}"}),
            "define": {"type": ["object", "null"], "message": "must map names to expressions",
                       "additionalProperties": {"$ref": "#/$defs/expr"}},
            "rule": {"$ref": "#/$defs/expr", "properties": {"adult": {"$ref": "#/$defs/expr"},
                                                            "child": {"$ref": "#/$defs/expr"}}},
            "patterns": {"$ref": "#/$defs/patterns"},
            "cases": {"type": "array", "message": "a form rule needs a non-empty list of "
                                                  "{form, when}",
                      "items": {"type": "object", "message": "must have exactly `form` and "
                                                             "`when`",
                                "properties": {"form": {"type": "string", "message": "must be "
                                                        f"one of {', '.join(FORMS)}"},
                                               "when": {"$ref": "#/$defs/filter"}}}},
            "otherwise": {"type": "string", "message": f"must be one of {', '.join(FORMS)}"},
        },
    }


@lru_cache(maxsize=1)
def rules_schema() -> Mapping[str, Any]:
    """JSON Schema (Draft 2020-12) of a rule file: the types of every key. Unknown keys,
    allowed values and references are checked by :func:`parse_rules` after it."""
    return _rules_schema()


def builtin_rules() -> dict[str, str]:
    """Names of the built-in rule sets and their kind (a new dict each call)."""
    return dict(_builtin_kinds())


@lru_cache(maxsize=1)
def _builtin_kinds() -> tuple[tuple[str, str], ...]:
    # the files are package data: parsed once, not on every option check of every call
    import yaml

    out = []
    for path in sorted(RULES_DIR.glob("*.yaml")):
        if path.stem == "indicators":
            continue
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        out.append((str(raw["name"]), str(raw["kind"])))
    return tuple(out)


@lru_cache(maxsize=32)
def _builtin(name: str) -> RuleSet:
    """A built-in rule set, parsed once (the files are package data)."""
    path = RULES_DIR / f"{name}.yaml"
    return parse_rules(read_rule_file(path), path.name)


def load_rules(name_or_path: str | Path | Mapping[str, Any] | RuleSet,
               kind: str | None = None) -> RuleSet:
    """A rule set: a built-in name (``icls2018``, ``seed2007``, ...), a YAML file in the same
    format, a mapping, or a :class:`RuleSet`. With ``kind``, the rule set must be of that
    kind."""
    if isinstance(name_or_path, RuleSet):
        rules = name_or_path
    elif isinstance(name_or_path, Mapping):
        rules = parse_rules(name_or_path, "<rules>")
    else:
        path = Path(name_or_path)
        builtin = str(name_or_path)
        if not path.exists() and (RULES_DIR / f"{builtin}.yaml").exists() \
                and builtin != "indicators":
            rules = _builtin(builtin)
        elif not path.exists():
            raise SpecError(f"rule set {str(name_or_path)!r} is neither a file nor a built-in "
                            f"rule set ({', '.join(builtin_rules())})")
        else:
            rules = parse_rules(read_rule_file(path), path.name)
    if kind is not None and rules.kind != kind:
        raise SpecError(f"{rules.file or rules.name}: rule set {rules.name!r} is of kind "
                        f"{rules.kind!r}; expected {kind!r}")
    return rules


