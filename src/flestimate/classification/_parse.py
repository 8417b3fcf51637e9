"""Parsing a rule's expressions (``all``/``any``, selections, ``graded``, comparisons,
``result``, ``ref``) into the expression tree of :mod:`._evaluate`, with the limits on nesting
and size that keep a rule file from expanding without bound."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flestimate._config import MAX_DEPTH
from flestimate._indicators import DIMENSIONS, GRADES
from flestimate.classification._evaluate import (
    Combine,
    Compare,
    Expr,
    Graded,
    Named,
    Result,
    Select,
    Selector,
)
from flestimate.errors import SpecError

_RESULTS = ("forced_labour", "parent_forced_labour")


def parse_patterns(raw: Any, where: str) -> tuple[tuple[tuple[frozenset[str], int], ...], ...]:
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{where}: must be a non-empty list of {{grade: count}} mappings")
    out = []
    for i, pattern in enumerate(raw):
        if not isinstance(pattern, Mapping) or not pattern:
            raise SpecError(f"{where}[{i}]: must map grades to counts, e.g. {{strong: 2}}")
        terms = []
        for key, k in pattern.items():
            grades = frozenset(str(key).split("_or_"))
            if not grades <= set(GRADES):
                raise SpecError(f"{where}[{i}].{key}: grades are strong, medium, weak, or "
                                f"joined with _or_ (medium_or_weak)")
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise SpecError(f"{where}[{i}].{key}: must be a positive integer; got {k!r}")
            terms.append((grades, k))
        out.append(tuple(terms))
    return tuple(out)


def _id_list(raw: Any, where: str) -> tuple[str, ...]:
    if not (isinstance(raw, list) and all(isinstance(i, str) for i in raw)):
        raise SpecError(f"{where}: must be a list of indicator ids")
    return tuple(raw)


def _selector(sel: Mapping[str, Any], where: str) -> Selector:
    extra = set(sel) - {"kind", "dimension", "grade", "ids", "exclude"}
    if extra:
        raise SpecError(f"{where}: unknown key(s) {sorted(extra)}")
    kind, dim, grade = sel.get("kind"), sel.get("dimension"), sel.get("grade")
    if kind is not None and kind not in ("involuntariness", "penalty"):
        raise SpecError(f"{where}.kind: must be involuntariness or penalty; got {kind!r}")
    if dim is not None and dim not in DIMENSIONS:
        raise SpecError(f"{where}.dimension: must be one of {', '.join(DIMENSIONS)}; "
                        f"got {dim!r}")
    if grade is not None and grade not in GRADES:
        raise SpecError(f"{where}.grade: must be one of {', '.join(GRADES)}; got {grade!r}")
    ids = sel.get("ids")
    return Selector(kind, dim, grade, None if ids is None else _id_list(ids, f"{where}.ids"),
                    _id_list(sel.get("exclude", []), f"{where}.exclude"))


def _selection(raw: Any, where: str) -> tuple[str | Selector, ...]:
    if isinstance(raw, Mapping):
        return (_selector(raw, where),)
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{where}: must be a non-empty list of indicator ids (or selectors "
                        f"with kind, dimension, grade, ids, exclude), or one selector")
    terms: list[str | Selector] = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            terms.append(item)
        elif isinstance(item, Mapping):
            terms.append(_selector(item, f"{where}[{i}]"))
        else:
            raise SpecError(f"{where}[{i}]: must be an indicator id or a selector mapping")
    return tuple(terms)


#: Most expression nodes a rule may expand to (``ref`` expanded in place): a chain of
#: definitions each referring twice to the one before would otherwise grow exponentially.
MAX_EXPR_NODES = 10_000


def parse_expr(raw: Any, where: str, defines: Mapping[str, Any], rule: str,
               patterns: Any, stack: tuple[str, ...] = (), *, depth: int = 1,
               budget: list[int] | None = None, source: str = "") -> Expr:
    """Parse one expression. ``depth`` is its nesting level (``ref`` counts as a level) and
    ``budget`` a one-item list of the nodes left to the whole rule; past :data:`MAX_DEPTH`
    levels or :data:`MAX_EXPR_NODES` nodes a :class:`SpecError` names ``where``. ``source``
    (the file) prefixes the key paths of definitions reached through ``ref``."""
    budget = [MAX_EXPR_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise SpecError(f"{where}: the rule expands to more than {MAX_EXPR_NODES:,} expression "
                        f"nodes (count each `ref` as a copy of its definition)")
    if depth > MAX_DEPTH:
        raise SpecError(f"{where}: expressions nested deeper than {MAX_DEPTH} levels (count "
                        f"each `ref` as a level)")
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: an expression must be a mapping; got {type(raw).__name__}")
    keys = set(raw)
    if keys & {"all", "any"}:
        if len(keys) != 1:
            raise SpecError(f"{where}: `{next(iter(keys & {'all', 'any'}))}` takes no other "
                            f"keys; got {sorted(keys)}")
        op = next(iter(keys))
        parts = raw[op]
        if not isinstance(parts, list) or not parts:
            raise SpecError(f"{where}.{op}: must be a non-empty list of expressions")
        return Combine(op, tuple(parse_expr(p, f"{where}.{op}[{i}]", defines, rule, patterns,
                                            stack, depth=depth + 1, budget=budget,
                                            source=source)
                                 for i, p in enumerate(parts)))
    if keys & {"any_of", "all_of"}:
        if len(keys) != 1:
            raise SpecError(f"{where}: a selection takes no other keys; got {sorted(keys)}")
        q = next(iter(keys))
        return Select(q, _selection(raw[q], f"{where}.{q}"), rule)
    if "graded" in keys:
        if len(keys) != 1:
            raise SpecError(f"{where}: `graded` takes no other keys; got {sorted(keys)}")
        body = raw["graded"]
        if isinstance(body, str):
            dim, pats = body, patterns
        elif isinstance(body, Mapping) and "dimension" in body:
            dim, pats = body["dimension"], body.get("patterns", patterns)
        else:
            raise SpecError(f"{where}.graded: a Delphi dimension name or {{dimension, patterns}}")
        if pats is None:
            raise SpecError(f"{where}.graded: no `patterns` here or at the top of the file")
        return Graded(str(dim), parse_patterns(pats, f"{where}.graded.patterns"), rule)
    if "column" in keys:
        if not keys <= {"column", "op", "value", "if_absent"} or "op" not in keys:
            raise SpecError(f"{where}: a comparison needs `column` and `op` (and `value`, "
                            f"`if_absent`)")
        absent = raw.get("if_absent")
        if absent is not None and not isinstance(absent, bool):
            raise SpecError(f"{where}.if_absent: must be true or false (the value when the "
                            f"column is not in the data); got {absent!r}")
        return Compare({k: v for k, v in raw.items() if k != "if_absent"}, rule, absent)
    if "result" in keys:
        if keys != {"result"} or raw["result"] not in _RESULTS:
            raise SpecError(f"{where}.result: must be one of {', '.join(_RESULTS)}; got "
                            f"{raw.get('result')!r}")
        return Result(str(raw["result"]))
    if "ref" in keys:
        name = raw["ref"]
        if keys != {"ref"} or name not in defines:
            raise SpecError(f"{where}.ref: {name!r} is not defined under `define` "
                            f"({', '.join(defines) or 'nothing defined'})")
        if name in stack:
            raise SpecError(f"{where}.ref: {name!r} refers to itself")
        at = f"{source}: define.{name}" if source else f"define.{name}"
        return Named(str(name), parse_expr(defines[name], at, defines, rule, patterns,
                                           (*stack, name), depth=depth + 1, budget=budget,
                                           source=source))
    raise SpecError(f"{where}: unknown expression keys {sorted(keys)}; expected one of all, "
                    f"any, any_of, all_of, graded, column, result, ref")
