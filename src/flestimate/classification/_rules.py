"""Rule sets as data: parsing, validation and three-valued evaluation.

A rule is an expression tree built from a YAML mapping (no ``eval``)::

    {all: [EXPR, ...]}            {any: [EXPR, ...]}
    {any_of: SELECTOR}            {all_of: SELECTOR}
    {graded: DELPHI_DIMENSION}    {graded: {dimension: D, patterns: [...]}}
    {column: C, op: OP, value: V} (a context comparison; OP as in module-spec filters)
    {result: forced_labour | parent_forced_labour}
    {ref: NAME}                   (a named expression of the file's ``define``)

SELECTOR is a list of indicator ids or ``{kind: involuntariness|penalty, dimension: D,
grade: G, ids: [...]}``. Every expression is monotone in the indicators, so its three-valued
value follows from two evaluations: ``lower`` with every missing indicator read as 0 and
``upper`` with every missing indicator read as 1. A rule is TRUE when ``lower`` holds (some
qualifying combination is observed and true), FALSE when ``upper`` fails (no combination could be
true whatever the missing values), and missing otherwise: exactly the three-valued logic of
``classification.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import DataError, SpecError

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
KINDS = ("forced_labour", "child", "trafficking", "form")
GRADES = ("strong", "medium", "weak")
DIMENSIONS = ("recruitment", "duress", "leaving")
_DELPHI_GRADES = {"S": "strong", "M": "medium", "W": "weak"}
PLAIN_PENALTIES = ("error", "every_dimension", "ignore")

Pair = tuple[np.ndarray, np.ndarray]


# -- the indicator table ------------------------------------------------------------------------
@dataclass(frozen=True)
class IndicatorTable:
    """Canonical indicators with their kind, dimension and grade (``indicators.md``), and the
    Delphi dimensions with their graded members. ``version`` names the table."""

    version: str
    involuntariness: Mapping[str, Mapping[str, str]]
    penalty: Mapping[str, Mapping[str, str]]
    delphi: Mapping[str, Mapping[str, str]]  # dimension -> id -> strong/medium/weak

    def describe(self, column: str) -> tuple[str, str | None, str | None]:
        """(kind, dimension, grade) of an indicator column; dimension None for a plain
        penalty."""
        if column in self.involuntariness:
            info = self.involuntariness[column]
            return "involuntariness", info.get("dimension"), info.get("grade")
        base, _, dim = column.partition("__")
        if base in self.penalty:
            return "penalty", dim or None, self.penalty[base].get("grade")
        for d, members in self.delphi.items():
            if column in members:
                return "delphi", d, members[column]
        return "other", None, None


def _validate_table(raw: Any, source: str) -> IndicatorTable:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: an indicator table must be a mapping")
    allowed = {"version", "involuntariness", "penalty", "penalty_dimensions", "delphi2009"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SpecError(f"{source}: unknown key(s) {unknown}; expected {sorted(allowed)}")
    inv: dict[str, dict[str, str]] = {}
    for iid, info in (raw.get("involuntariness") or {}).items():
        where = f"{source}: involuntariness.{iid}"
        if not str(iid).startswith("inv_"):
            raise SpecError(f"{where}: involuntariness ids start with `inv_`")
        if not isinstance(info, Mapping):
            raise SpecError(f"{where}: must map dimension, grade (and meaning)")
        if info.get("dimension") not in DIMENSIONS:
            raise SpecError(f"{where}.dimension: must be one of {', '.join(DIMENSIONS)}; got "
                            f"{info.get('dimension')!r}")
        if info.get("grade") not in GRADES:
            raise SpecError(f"{where}.grade: must be one of {', '.join(GRADES)}; got "
                            f"{info.get('grade')!r}")
        inv[str(iid)] = {k: str(v) for k, v in info.items()}
    pen: dict[str, dict[str, str]] = {}
    for iid, info in (raw.get("penalty") or {}).items():
        where = f"{source}: penalty.{iid}"
        if not str(iid).startswith("pen_") or "__" in str(iid):
            raise SpecError(f"{where}: penalty ids start with `pen_` and have no suffix")
        if not isinstance(info, Mapping) or info.get("grade") not in GRADES:
            raise SpecError(f"{where}.grade: must be one of {', '.join(GRADES)}")
        pen[str(iid)] = {k: str(v) for k, v in info.items()}
    delphi: dict[str, dict[str, str]] = {}
    for dim, members in (raw.get("delphi2009") or {}).items():
        where = f"{source}: delphi2009.{dim}"
        if not isinstance(members, Mapping):
            raise SpecError(f"{where}: must map indicator ids to grades S, M or W")
        out = {}
        for iid, g in members.items():
            if g not in _DELPHI_GRADES:
                raise SpecError(f"{where}.{iid}: grade must be S, M or W; got {g!r}")
            out[str(iid)] = _DELPHI_GRADES[g]
        delphi[str(dim)] = out
    return IndicatorTable(str(raw.get("version", "custom")), inv, pen, delphi)


@lru_cache(maxsize=1)
def _default_table_raw() -> Mapping[str, Any]:
    import yaml

    loaded: Mapping[str, Any] = yaml.safe_load((RULES_DIR / "indicators.yaml")
                                               .read_text(encoding="utf-8"))
    return loaded


def indicator_table(override: str | Path | Mapping[str, Any] | None = None) -> IndicatorTable:
    """The versioned indicator table of ``indicators.md``, optionally overridden or extended
    by a user's file or mapping of the same layout (its entries replace or add to the default;
    the version becomes ``"<default>+<override version or file name>"``)."""
    base = _default_table_raw()
    if override is None:
        return _validate_table(base, "indicators.yaml")
    if isinstance(override, str | Path):
        source = Path(override).name
        raw = _read_yaml(Path(override))
    else:
        source, raw = "<indicators>", override
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: an indicator table must be a mapping")
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v)
                              for k, v in base.items()}
    for key, value in raw.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            for sub, body in value.items():
                if key == "delphi2009" and isinstance(body, Mapping):
                    merged[key][sub] = {**merged[key].get(sub, {}), **body}
                elif isinstance(body, Mapping) and isinstance(merged[key].get(sub), Mapping):
                    merged[key][sub] = {**merged[key][sub], **body}
                else:
                    merged[key][sub] = body
        elif key != "version":
            merged[key] = value
    merged["version"] = f"{base.get('version')}+{raw.get('version', source)}"
    return _validate_table(merged, source)


# -- expressions --------------------------------------------------------------------------------
@dataclass
class Context:
    """What an expression is evaluated on: per-indicator lower/upper arrays, the frame (for
    context comparisons), the results of earlier stages, and the indicator table."""

    frame: pd.DataFrame
    lower: dict[str, np.ndarray]
    upper: dict[str, np.ndarray]
    table: IndicatorTable
    plain_penalties: str
    results: dict[str, Pair] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    @property
    def n(self) -> int:
        return len(self.frame)

    def columns(self, kind: str | None, dimension: str | None, grade: str | None,
                ids: tuple[str, ...] | None, rule: str) -> list[str]:
        out = []
        plain_found = []
        suffixed = False
        for col in self.lower:
            k, d, g = self.table.describe(col)
            if ids is not None and col not in ids:
                continue
            if kind is not None and k != kind:
                continue
            if grade is not None and g != grade:
                continue
            if dimension is not None:
                if k == "penalty" and d is None:
                    plain_found.append(col)
                    if self.plain_penalties != "every_dimension":
                        continue
                elif d != dimension:
                    continue
                elif k == "penalty":
                    suffixed = True
            out.append(col)
        if (kind == "penalty" and dimension is not None and not suffixed and plain_found
                and self.plain_penalties == "error"):
            raise DataError(
                f"rule {rule!r} needs penalties recorded by dimension (pen_*__{dimension}) but "
                f"the data have only the plain form(s) {', '.join(sorted(plain_found)[:6])}"
                f"{' ...' if len(plain_found) > 6 else ''}; pass plain_penalties="
                f"'every_dimension' to count a plain penalty in every dimension, or 'ignore' to "
                f"use suffixed penalties only"
            )
        self.used.update(out)
        return out


class Expr:
    """A node of a rule: ``evaluate`` gives (lower, upper) boolean arrays; ``text`` describes
    it for explanations."""

    def evaluate(self, ctx: Context) -> Pair:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def children(self) -> tuple[Expr, ...]:
        return ()


@dataclass
class Combine(Expr):
    op: str  # "all" or "any"
    parts: tuple[Expr, ...]

    def evaluate(self, ctx: Context) -> Pair:
        pairs = [p.evaluate(ctx) for p in self.parts]
        reduce = np.logical_and if self.op == "all" else np.logical_or
        lo = reduce.reduce([p[0] for p in pairs], axis=0)
        hi = reduce.reduce([p[1] for p in pairs], axis=0)
        return np.asarray(lo, dtype=bool), np.asarray(hi, dtype=bool)

    def text(self) -> str:
        return f"{self.op} of {len(self.parts)}"

    def children(self) -> tuple[Expr, ...]:
        return self.parts


@dataclass
class Select(Expr):
    quantifier: str  # "any_of" or "all_of"
    kind: str | None
    dimension: str | None
    grade: str | None
    ids: tuple[str, ...] | None
    rule: str

    def evaluate(self, ctx: Context) -> Pair:
        cols = ctx.columns(self.kind, self.dimension, self.grade, self.ids, self.rule)
        if not cols:  # nothing of this kind was measured: it cannot be shown to hold
            false = np.zeros(ctx.n, dtype=bool)
            return false, false.copy()
        lo = np.column_stack([ctx.lower[c] for c in cols])
        hi = np.column_stack([ctx.upper[c] for c in cols])
        if self.quantifier == "any_of":
            return np.asarray(lo.any(axis=1)), np.asarray(hi.any(axis=1))
        return np.asarray(lo.all(axis=1)), np.asarray(hi.all(axis=1))

    def text(self) -> str:
        parts = [p for p in (self.grade, self.kind) if p]
        what = " ".join(parts) if parts else "indicator"
        if self.dimension:
            what += f" in {self.dimension}"
        if self.ids is not None:
            what = ", ".join(self.ids) if len(self.ids) <= 4 else f"{len(self.ids)} indicators"
        return f"{'any' if self.quantifier == 'any_of' else 'all'} of {what}"


@dataclass
class Graded(Expr):
    dimension: str
    patterns: tuple[tuple[tuple[frozenset[str], int], ...], ...]
    rule: str

    def evaluate(self, ctx: Context) -> Pair:
        members = ctx.table.delphi.get(self.dimension, {})
        cols = [c for c in ctx.lower if c in members]
        ctx.used.update(cols)
        n = ctx.n

        def counts(src: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            out = {}
            for g in GRADES:
                gc = [c for c in cols if members[c] == g]
                out[g] = (np.column_stack([src[c] for c in gc]).sum(axis=1) if gc
                          else np.zeros(n, dtype=np.int64))
            return out

        def holds(cnt: dict[str, np.ndarray]) -> np.ndarray:
            result = np.zeros(n, dtype=bool)
            for pattern in self.patterns:
                ok = np.ones(n, dtype=bool)
                for grades, k in pattern:
                    ok &= sum(cnt[g] for g in grades) >= k
                result |= ok
            return result

        return holds(counts(ctx.lower)), holds(counts(ctx.upper))

    def text(self) -> str:
        return f"Delphi dimension {self.dimension} positive"


@dataclass
class Compare(Expr):
    spec: Mapping[str, Any]

    def evaluate(self, ctx: Context) -> Pair:
        from flestimate.mapping import evaluate_filter

        col = self.spec["column"]
        if col not in ctx.frame.columns:  # not recorded: could be anything
            return np.zeros(ctx.n, dtype=bool), np.ones(ctx.n, dtype=bool)
        known = ctx.frame[col].notna().to_numpy()
        if self.spec["op"] in ("missing", "not_missing"):
            known = np.ones(ctx.n, dtype=bool)
        value = evaluate_filter(ctx.frame, dict(self.spec), f"rule {col}")
        return value & known, value | ~known

    def text(self) -> str:
        from flestimate.mapping import describe_filter

        return describe_filter(self.spec)


@dataclass
class Result(Expr):
    name: str

    def evaluate(self, ctx: Context) -> Pair:
        if self.name not in ctx.results:
            return np.zeros(ctx.n, dtype=bool), np.ones(ctx.n, dtype=bool)
        return ctx.results[self.name]

    def text(self) -> str:
        return self.name.replace("_", " ")


@dataclass
class Named(Expr):
    name: str
    expr: Expr

    def evaluate(self, ctx: Context) -> Pair:
        return self.expr.evaluate(ctx)

    def text(self) -> str:
        return self.name.replace("_", " ")

    def children(self) -> tuple[Expr, ...]:
        return (self.expr,)


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


def parse_expr(raw: Any, where: str, defines: Mapping[str, Any], rule: str,
               patterns: Any, stack: tuple[str, ...] = ()) -> Expr:
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
                                            stack) for i, p in enumerate(parts)))
    if keys & {"any_of", "all_of"}:
        if len(keys) != 1:
            raise SpecError(f"{where}: a selection takes no other keys; got {sorted(keys)}")
        q = next(iter(keys))
        sel = raw[q]
        if isinstance(sel, list):
            if not sel or not all(isinstance(s, str) for s in sel):
                raise SpecError(f"{where}.{q}: must be a non-empty list of indicator ids")
            return Select(q, None, None, None, tuple(sel), rule)
        if not isinstance(sel, Mapping):
            raise SpecError(f"{where}.{q}: must be a list of ids or a mapping with kind, "
                            f"dimension, grade, ids")
        extra = set(sel) - {"kind", "dimension", "grade", "ids"}
        if extra:
            raise SpecError(f"{where}.{q}: unknown key(s) {sorted(extra)}")
        kind, dim, grade = sel.get("kind"), sel.get("dimension"), sel.get("grade")
        if kind is not None and kind not in ("involuntariness", "penalty"):
            raise SpecError(f"{where}.{q}.kind: must be involuntariness or penalty; got {kind!r}")
        if dim is not None and dim not in DIMENSIONS:
            raise SpecError(f"{where}.{q}.dimension: must be one of {', '.join(DIMENSIONS)}; "
                            f"got {dim!r}")
        if grade is not None and grade not in GRADES:
            raise SpecError(f"{where}.{q}.grade: must be one of {', '.join(GRADES)}; "
                            f"got {grade!r}")
        ids = sel.get("ids")
        if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str)
                                                                  for i in ids)):
            raise SpecError(f"{where}.{q}.ids: must be a list of indicator ids")
        return Select(q, kind, dim, grade, None if ids is None else tuple(ids), rule)
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
        if not keys <= {"column", "op", "value"} or "op" not in keys:
            raise SpecError(f"{where}: a comparison needs `column` and `op` (and `value`)")
        return Compare(dict(raw))
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
        return Named(str(name), parse_expr(defines[name], f"define.{name}", defines, rule,
                                           patterns, (*stack, name)))
    raise SpecError(f"{where}: unknown expression keys {sorted(keys)}; expected one of all, "
                    f"any, any_of, all_of, graded, column, result, ref")


# -- rule sets ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleSet:
    """A validated rule set: ``kind`` forced_labour, child, trafficking or form.

    ``adult``/``child`` are the expressions (the same for kinds without an age split);
    ``cases``/``otherwise`` the form rule.
    """

    name: str
    kind: str
    version: str
    source: str
    evidence: str
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


def _read_yaml(path: Path) -> Any:
    import yaml

    from flestimate.mapping import _yaml_loader

    if not path.exists():
        raise SpecError(f"rule file {str(path)!r} does not exist")
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_yaml_loader())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name}: invalid YAML: {exc}") from exc


def parse_rules(raw: Any, source: str) -> RuleSet:
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
    name = str(raw["name"])
    meta = {k: str(raw.get(k, "")) for k in ("version", "source", "evidence", "description")}
    if kind == "form":
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
        return RuleSet(name, kind, meta["version"], meta["source"], meta["evidence"],
                       meta["description"], None, None, tuple(cases), str(otherwise), source)
    defines = raw.get("define", {}) or {}
    if not isinstance(defines, Mapping):
        raise SpecError(f"{source}: define: must map names to expressions")
    if "rule" not in raw:
        raise SpecError(f"{source}: missing required key `rule`")
    body = raw["rule"]
    patterns = raw.get("patterns")

    def expr(x: Any, where: str) -> Expr:
        return parse_expr(x, where, defines, name, patterns)

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
    return RuleSet(name, kind, meta["version"], meta["source"], meta["evidence"],
                   meta["description"], adult, child, file=source)


def builtin_rules() -> dict[str, str]:
    """Names of the built-in rule sets and their kind."""
    import yaml

    out = {}
    for path in sorted(RULES_DIR.glob("*.yaml")):
        if path.stem == "indicators":
            continue
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[str(raw["name"])] = str(raw["kind"])
    return out


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
            path = RULES_DIR / f"{builtin}.yaml"
        elif not path.exists():
            raise SpecError(f"rule set {str(name_or_path)!r} is neither a file nor a built-in "
                            f"rule set ({', '.join(builtin_rules())})")
        rules = parse_rules(_read_yaml(path), path.name)
    if kind is not None and rules.kind != kind:
        raise SpecError(f"{rules.file or rules.name}: rule set {rules.name!r} is of kind "
                        f"{rules.kind!r}; expected {kind!r}")
    return rules


def bounds_to_values(lo: np.ndarray, hi: np.ndarray) -> Any:
    """Three-valued result as a nullable boolean array: True, False or <NA>."""
    out = pd.array(np.where(lo, True, False), dtype="boolean")
    out[lo != hi] = pd.NA
    return out


WalkFn = Callable[[Expr, int], None]
