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
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flestimate._config import MAX_DEPTH, check_shape, read_yaml, validate
from flestimate.errors import DataError, SpecError

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
KINDS = ("forced_labour", "child", "trafficking", "form")
GRADES = ("strong", "medium", "weak")
DIMENSIONS = ("recruitment", "duress", "leaving")
_DELPHI_GRADES = {"S": "strong", "M": "medium", "W": "weak"}
_RANK = {"weak": 0, "medium": 1, "strong": 2}
PLAIN_PENALTIES = ("unknown_dimension", "error", "every_dimension", "ignore")
#: The four ILO/EC (2009) Delphi lists; the first two serve adults, the last two children.
DELPHI_SETS = ("adult_labour", "adult_sexual", "child_labour", "child_sexual")
DELPHI_DIMENSIONS = ("deceptive_recruitment", "coercive_recruitment",
                     "abuse_of_vulnerability_at_recruitment", "exploitative_conditions_of_work",
                     "coercion_at_destination", "abuse_of_vulnerability_at_destination")
#: Canonical ``sector`` values that mark commercial sexual exploitation (only, or with other work).
SEXUAL_SECTOR, MIXED_SECTOR = "commercial_sex", "commercial_sex_and_other"
EVIDENCE_TAGS = ("V", "S", "R")

Pair = tuple[np.ndarray, np.ndarray]
Grade = tuple[str, str]  # (lower, upper): equal unless the id lumps indicators of two grades


def penalty_suffixes() -> tuple[str, ...]:
    """Dimension suffixes of penalty ids: one dimension, or two joined by ``_or_`` in the order
    of :data:`DIMENSIONS` (all three is the plain form, without a suffix)."""
    pairs = ["_or_".join(p) for p in combinations(DIMENSIONS, 2)]
    return (*DIMENSIONS, *pairs)


def suffix_dimensions(suffix: str) -> frozenset[str] | None:
    """The dimensions a penalty suffix names (``""``: all three), or None if it is not one."""
    if not suffix:
        return frozenset(DIMENSIONS)
    return frozenset(suffix.split("_or_")) if suffix in penalty_suffixes() else None


# -- the indicator table ------------------------------------------------------------------------
@dataclass(frozen=True)
class IndicatorTable:
    """Canonical indicators with their kind, dimension and grade (``indicators.md``), and the four
    Delphi lists: ``delphi[list][dimension][id] = (lower grade, upper grade)``, with an evidence
    tag and note per list in ``delphi_evidence``. ``version`` names the table."""

    version: str
    involuntariness: Mapping[str, Mapping[str, str]]
    penalty: Mapping[str, Mapping[str, str]]
    delphi: Mapping[str, Mapping[str, Mapping[str, Grade]]]
    delphi_evidence: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    sensitive: tuple[str, ...] = ()

    def describe(self, column: str) -> tuple[str, str | None, str | None]:
        """(kind, dimension, grade) of an indicator column: kind ``involuntariness``,
        ``penalty``, ``delphi`` or ``other``; a penalty's dimension is its suffix
        (``duress``, ``duress_or_leaving``) and None for the plain form; a Delphi-only id's
        dimension and grade are those of the first list holding it."""
        if column in self.involuntariness:
            info = self.involuntariness[column]
            return "involuntariness", info.get("dimension"), info.get("grade")
        base, _, suffix = column.partition("__")
        if base in self.penalty and suffix_dimensions(suffix) is not None:
            return "penalty", suffix or None, self.penalty[base].get("grade")
        for lists in self.delphi.values():
            for dim, members in lists.items():
                if column in members:
                    low, high = members[column]
                    return "delphi", dim, low if low == high else f"{low}-{high}"
        return "other", None, None

    def penalty_dimensions(self, column: str) -> frozenset[str] | None:
        """The dimensions in which a penalty column may have been applied (all three for the
        plain form); None for a column that is not a penalty."""
        base, _, suffix = column.partition("__")
        return suffix_dimensions(suffix) if base in self.penalty else None

    def is_sensitive(self, column: str) -> bool:
        """Whether a column is a sensitive item (a penalty with any dimension suffix counts as
        its plain id)."""
        return column in self.sensitive or column.partition("__")[0] in self.sensitive

    def canonical_ids(self) -> frozenset[str]:
        """Every id the table knows: ``inv_*``, ``pen_*`` plain and with every dimension
        suffix, and the members of the Delphi lists."""
        ids = set(self.involuntariness)
        for pen in self.penalty:
            ids.add(pen)
            ids.update(f"{pen}__{s}" for s in penalty_suffixes())
        for lists in self.delphi.values():
            for members in lists.values():
                ids.update(members)
        return frozenset(ids)


def _grade(raw: Any, where: str) -> Grade:
    text = str(raw)
    parts = text.split("-")
    if len(parts) not in (1, 2) or not all(p in _DELPHI_GRADES for p in parts):
        raise SpecError(f"{where}: grade must be S, M or W, or a range such as M-S; got {raw!r}")
    low, high = _DELPHI_GRADES[parts[0]], _DELPHI_GRADES[parts[-1]]
    if _RANK[low] > _RANK[high]:
        raise SpecError(f"{where}: a grade range goes from the lower to the higher grade "
                        f"(M-S); got {raw!r}")
    return low, high


def _delphi_lists(raw: Any, source: str) -> dict[str, dict[str, Any]]:
    """The ``delphi2009`` section in its full layout ``{list: {evidence, note, dimensions}}``:
    ``same_as`` resolved, and the old layout (dimensions directly under ``delphi2009``)
    applied to every list."""
    where = f"{source}: delphi2009"
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: must map the lists {', '.join(DELPHI_SETS)} to their "
                        f"dimensions")
    if raw and not set(raw) & set(DELPHI_SETS):  # the old layout: one list for all
        return {s: {"dimensions": dict(raw)} for s in DELPHI_SETS}
    unknown = sorted(set(raw) - set(DELPHI_SETS))
    if unknown:
        raise SpecError(f"{where}: unknown list(s) {unknown}; expected {', '.join(DELPHI_SETS)}")
    out: dict[str, dict[str, Any]] = {}
    for name, body in raw.items():
        if not isinstance(body, Mapping) or not set(body) <= {"evidence", "note", "dimensions",
                                                              "same_as"}:
            raise SpecError(f"{where}.{name}: must have `dimensions` (or `same_as`), and "
                            f"optionally `evidence` and `note`")
        out[str(name)] = dict(body)
    for name, body in out.items():
        if "same_as" in body:
            other = body.pop("same_as")
            if other not in out or "same_as" in raw.get(other, {}):
                raise SpecError(f"{where}.{name}.same_as: must name a list of this table with "
                                f"its own dimensions; got {other!r}")
            body["dimensions"] = {d: dict(m) for d, m in out[other]["dimensions"].items()}
    return out


def _validate_table(raw: Any, source: str) -> IndicatorTable:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: an indicator table must be a mapping")
    allowed = {"version", "involuntariness", "penalty", "penalty_dimensions", "delphi2009",
               "sensitive"}
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
    delphi: dict[str, dict[str, dict[str, Grade]]] = {}
    evidence: dict[str, dict[str, str]] = {}
    for name, body in _delphi_lists(raw.get("delphi2009"), source).items():
        where = f"{source}: delphi2009.{name}"
        dims = body.get("dimensions")
        if not isinstance(dims, Mapping):
            raise SpecError(f"{where}.dimensions: must map Delphi dimensions to members")
        lists: dict[str, dict[str, Grade]] = {}
        for dim, members in dims.items():
            if dim not in DELPHI_DIMENSIONS:
                raise SpecError(f"{where}.dimensions.{dim}: not a Delphi dimension; expected "
                                f"one of {', '.join(DELPHI_DIMENSIONS)}")
            if not isinstance(members, Mapping):
                raise SpecError(f"{where}.dimensions.{dim}: must map indicator ids to grades "
                                f"S, M or W")
            lists[str(dim)] = {str(i): _grade(g, f"{where}.dimensions.{dim}.{i}")
                               for i, g in members.items()}
        delphi[name] = lists
        evidence[name] = {"evidence": str(body.get("evidence", "")),
                          "note": " ".join(str(body.get("note", "")).split())}
    sensitive = raw.get("sensitive") or []
    if not isinstance(sensitive, list) or not all(isinstance(i, str) for i in sensitive):
        raise SpecError(f"{source}: sensitive: must be a list of indicator ids")
    unknown_ids = [i for i in sensitive if i not in inv and i not in pen
                   and not any(i in m for lists in delphi.values() for m in lists.values())]
    if unknown_ids:
        raise SpecError(f"{source}: sensitive: not indicator ids of the table: {unknown_ids}")
    return IndicatorTable(str(raw.get("version", "custom")), inv, pen, delphi, evidence,
                          tuple(sensitive))


@lru_cache(maxsize=1)
def _default_table_raw() -> Mapping[str, Any]:
    import yaml

    loaded: Mapping[str, Any] = yaml.safe_load((RULES_DIR / "indicators.yaml")
                                               .read_text(encoding="utf-8"))
    return loaded


@lru_cache(maxsize=1)
def _default_table() -> IndicatorTable:
    return _validate_table(_default_table_raw(), "indicators.yaml")


def _merge_delphi(base: Any, override: Any, source: str) -> dict[str, dict[str, Any]]:
    lists = _delphi_lists(base, "indicators.yaml")
    for name, body in _delphi_lists(override, source).items():
        target = lists.setdefault(name, {"dimensions": {}})
        target.update({k: v for k, v in body.items() if k in ("evidence", "note")})
        dims = target.setdefault("dimensions", {})
        for dim, members in (body.get("dimensions") or {}).items():
            dims[dim] = {**dims.get(dim, {}), **(members if isinstance(members, Mapping)
                                                 else {})}
    return lists


def indicator_table(override: str | Path | Mapping[str, Any] | None = None) -> IndicatorTable:
    """The versioned indicator table of ``indicators.md``, optionally overridden or extended
    by a user's file or mapping of the same layout (its entries replace or add to the default;
    the version becomes ``"<default>+<override version or file name>"``). A Delphi section
    in the old layout (dimensions directly under ``delphi2009``) changes all four lists."""
    base = _default_table_raw()
    if override is None:
        return _default_table()
    if isinstance(override, str | Path):
        source = Path(override).name
        raw = _read_yaml(Path(override))
    else:
        source, raw = "<indicators>", override
    check_shape(raw, source)
    validate(raw, table_schema(), source)
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: an indicator table must be a mapping")
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v)
                              for k, v in base.items()}
    for key, value in raw.items():
        if key == "delphi2009":
            merged[key] = _merge_delphi(base.get(key), value, source)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            for sub, body in value.items():
                if isinstance(body, Mapping) and isinstance(merged[key].get(sub), Mapping):
                    merged[key][sub] = {**merged[key][sub], **body}
                else:
                    merged[key][sub] = body
        elif key != "version":
            merged[key] = value
    merged["version"] = f"{base.get('version')}+{raw.get('version', source)}"
    return _validate_table(merged, source)


# -- expressions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selector:
    """Indicators of a kind, dimension and grade (each optional), restricted to ``ids`` and
    without ``exclude``."""

    kind: str | None = None
    dimension: str | None = None
    grade: str | None = None
    ids: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()

    def text(self) -> str:
        parts = [p for p in (self.grade, self.kind) if p]
        what = " ".join(parts) if parts else "indicator"
        if self.dimension:
            what += f" in {self.dimension}"
        if self.ids is not None:
            what = ", ".join(self.ids) if len(self.ids) <= 4 else f"{len(self.ids)} indicators"
        if self.exclude:
            what += f" (but {', '.join(self.exclude)})"
        return what


Member = tuple[str, np.ndarray, np.ndarray]  # column, lower, upper


@dataclass
class Context:
    """What an expression is evaluated on: per-indicator lower/upper arrays, the frame (for
    context comparisons), the results of earlier stages, the indicator table and the options.

    ``branch`` (``adult``/``child``) chooses the Delphi lists; ``sector`` codes each
    respondent's Delphi list by sector (0 labour, 1 sexual, 2 both, 3 unknown). ``used``,
    ``not_measured`` and ``dimension_unknown`` collect what the evaluation met, for the
    provenance."""

    frame: pd.DataFrame
    lower: dict[str, np.ndarray]
    upper: dict[str, np.ndarray]
    table: IndicatorTable
    plain_penalties: str
    branch: str = "adult"
    sector: np.ndarray | None = None
    results: dict[str, Pair] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    not_measured: dict[str, set[str]] = field(default_factory=dict)
    dimension_unknown: set[str] = field(default_factory=set)

    @property
    def n(self) -> int:
        return len(self.frame)

    def unknown(self) -> Pair:
        return np.zeros(self.n, dtype=bool), np.ones(self.n, dtype=bool)

    def note_unmeasured(self, rule: str, what: str) -> None:
        self.not_measured.setdefault(rule, set()).add(what)

    def _penalty(self, column: str, wanted: frozenset[str], ambiguous: list[str]
                 ) -> Pair | None:
        """A penalty column as a penalty applied in one of the ``wanted`` dimensions, or None
        when it cannot be one; a column that may also belong to another dimension is treated
        as ``plain_penalties`` says (and listed in ``ambiguous``)."""
        dims = self.table.penalty_dimensions(column)
        if dims is None or not dims & wanted:
            return None
        pair = self.lower[column], self.upper[column]
        if dims <= wanted:
            return pair
        ambiguous.append(column)
        mode = self.plain_penalties
        if mode in ("ignore", "error"):
            return None
        self.dimension_unknown.add(column)
        if mode == "every_dimension":
            return pair
        return np.zeros(self.n, dtype=bool), pair[1]  # unknown_dimension

    def _raise_ambiguous(self, ambiguous: list[str], wanted: frozenset[str], rule: str) -> None:
        if ambiguous and self.plain_penalties == "error":
            cols = sorted(set(ambiguous))
            dims = "|".join(d for d in DIMENSIONS if d in wanted)
            raise DataError(
                f"rule {rule!r} needs penalties recorded by dimension (pen_*__{dims}) but "
                f"{', '.join(cols[:6])}{' ...' if len(cols) > 6 else ''} do(es) not say in which "
                f"dimension the penalty was applied; map the item to pen_*__<dimension> (or "
                f"pen_*__<d1>_or_<d2>) in the module spec, or pass plain_penalties="
                f"'unknown_dimension' (undetermined where it matters), 'every_dimension' or "
                f"'ignore'")

    def _id_members(self, iid: str, rule: str) -> list[Member]:
        """The data columns that measure indicator ``iid``: the column itself, and for a
        penalty every column of the same penalty whose dimension can be one of ``iid``'s."""
        base, _, suffix = iid.partition("__")
        wanted = suffix_dimensions(suffix) if base in self.table.penalty else None
        if wanted is None:
            return [(iid, self.lower[iid], self.upper[iid])] if iid in self.lower else []
        out: list[Member] = []
        ambiguous: list[str] = []
        for col in self.lower:
            if col.partition("__")[0] == base:
                pair = self._penalty(col, wanted, ambiguous)
                if pair is not None:
                    out.append((col, *pair))
        self._raise_ambiguous(ambiguous, wanted, rule)
        return out

    def _selector_members(self, sel: Selector, rule: str) -> list[Member]:
        out: list[Member] = []
        ambiguous: list[str] = []
        wanted = frozenset([sel.dimension]) if sel.dimension else frozenset(DIMENSIONS)
        for col in self.lower:
            k, d, g = self.table.describe(col)
            if ((sel.kind is not None and k != sel.kind)
                    or (sel.grade is not None and g != sel.grade)
                    or (sel.ids is not None and col not in sel.ids) or col in sel.exclude):
                continue
            if k == "penalty":
                pair = self._penalty(col, wanted, ambiguous)
                if pair is not None:
                    out.append((col, *pair))
            elif sel.dimension is None or d == sel.dimension:
                out.append((col, self.lower[col], self.upper[col]))
        self._raise_ambiguous(ambiguous, wanted, rule)
        return out

    def members(self, terms: tuple[str | Selector, ...], rule: str) -> list[Member]:
        """The indicators a selection measures: the union over its terms, each column once."""
        seen: dict[str, Member] = {}
        for term in terms:
            found = (self._id_members(term, rule) if isinstance(term, str)
                     else self._selector_members(term, rule))
            for m in found:
                seen.setdefault(m[0], m)
        self.used.update(seen)
        return list(seen.values())

    def indicator(self, iid: str, rule: str) -> Pair | None:
        """One indicator over every column that measures it (any of them), or None when no
        column does."""
        found = self._id_members(iid, rule)
        if not found:
            return None
        self.used.update(m[0] for m in found)
        lo = np.logical_or.reduce([m[1] for m in found])
        hi = np.logical_or.reduce([m[2] for m in found])
        return np.asarray(lo, dtype=bool), np.asarray(hi, dtype=bool)


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
    terms: tuple[str | Selector, ...]
    rule: str

    def evaluate(self, ctx: Context) -> Pair:
        found = ctx.members(self.terms, self.rule)
        if not found:  # nothing of this was measured: it could hold or not
            ctx.note_unmeasured(self.rule, self.what())
            return ctx.unknown()
        lo = np.column_stack([m[1] for m in found])
        hi = np.column_stack([m[2] for m in found])
        if self.quantifier == "any_of":
            return np.asarray(lo.any(axis=1)), np.asarray(hi.any(axis=1))
        return np.asarray(lo.all(axis=1)), np.asarray(hi.all(axis=1))

    def what(self) -> str:
        ids = [t for t in self.terms if isinstance(t, str)]
        texts = [t.text() for t in self.terms if isinstance(t, Selector)]
        texts += [", ".join(ids) if len(ids) <= 4 else f"{len(ids)} indicators"] if ids else []
        return ", ".join(texts)

    def text(self) -> str:
        return f"{'any' if self.quantifier == 'any_of' else 'all'} of {self.what()}"


@lru_cache(maxsize=64)
def grade_monotone(patterns: tuple[tuple[tuple[frozenset[str], int], ...], ...]) -> bool:
    """Whether raising one indicator's grade (weak to medium, medium to strong) can never make
    a positive dimension negative under ``patterns`` (true of the Delphi patterns); grade ranges
    need it for the two-bound evaluation to be exact."""
    top = max(k for pattern in patterns for _, k in pattern) + 1

    def holds(s: int, m: int, w: int) -> bool:
        cnt = {"strong": s, "medium": m, "weak": w}
        return any(all(sum(cnt[g] for g in grades) >= k for grades, k in p) for p in patterns)

    cells = range(top + 1)
    return all(not holds(s, m, w) or ((m == 0 or holds(s + 1, m - 1, w))
                                      and (w == 0 or holds(s, m + 1, w - 1)))
               for s in cells for m in cells for w in cells)


@dataclass
class Graded(Expr):
    dimension: str
    patterns: tuple[tuple[tuple[frozenset[str], int], ...], ...]
    rule: str

    def _one_list(self, ctx: Context, name: str) -> Pair:
        members = ctx.table.delphi.get(name, {}).get(self.dimension, {})
        n = ctx.n
        low = {g: np.zeros(n, dtype=np.int64) for g in GRADES}
        high = {g: np.zeros(n, dtype=np.int64) for g in GRADES}
        measured = ranged = False
        for iid, (g_low, g_high) in members.items():
            pair = ctx.indicator(iid, self.rule)
            if pair is None:
                continue
            measured = True
            ranged |= g_low != g_high
            low[g_low] += pair[0]
            high[g_high] += pair[1]
        if not measured:
            ctx.note_unmeasured(self.rule, f"Delphi dimension {self.dimension}")
            return ctx.unknown()
        if ranged and not grade_monotone(self.patterns):
            raise SpecError(f"rule {self.rule!r}: the patterns of Delphi dimension "
                            f"{self.dimension} can fail when an indicator's grade rises, so a "
                            f"grade range (such as M-S) in list {name} has no exact bounds")

        def holds(cnt: dict[str, np.ndarray]) -> np.ndarray:
            result = np.zeros(n, dtype=bool)
            for pattern in self.patterns:
                ok = np.ones(n, dtype=bool)
                for grades, k in pattern:
                    ok &= sum(cnt[g] for g in grades) >= k
                result |= ok
            return result

        return holds(low), holds(high)

    def evaluate(self, ctx: Context) -> Pair:
        """The dimension under the Delphi list of the respondent's age (``ctx.branch``) and
        sector: labour or sexual exploitation; both lists for mixed work (positive under
        either); for an unknown sector, positive under both for the lower bound and under
        either for the upper."""
        labour = self._one_list(ctx, f"{ctx.branch}_labour")
        sexual = self._one_list(ctx, f"{ctx.branch}_sexual")
        sector = ctx.sector if ctx.sector is not None else np.full(ctx.n, 3, dtype=np.int8)
        lo = np.select([sector == 0, sector == 1, sector == 2],
                       [labour[0], sexual[0], labour[0] | sexual[0]], labour[0] & sexual[0])
        hi = np.where(sector == 0, labour[1], np.where(sector == 1, sexual[1],
                                                       labour[1] | sexual[1]))
        return np.asarray(lo, dtype=bool), np.asarray(hi, dtype=bool)

    def text(self) -> str:
        return f"Delphi dimension {self.dimension} positive"


@dataclass
class Compare(Expr):
    spec: Mapping[str, Any]
    rule: str = ""
    if_absent: bool | None = None  # None: missing when the column is not in the data

    def evaluate(self, ctx: Context) -> Pair:
        from flestimate.mapping import evaluate_filter

        col = self.spec["column"]
        if col not in ctx.frame.columns:  # not recorded: could be anything, unless declared
            if self.if_absent is None:
                ctx.note_unmeasured(self.rule, f"column {col}")
                return ctx.unknown()
            value = np.full(ctx.n, self.if_absent, dtype=bool)
            return value, value.copy()
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
            return ctx.unknown()
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


def _read_yaml(path: Path) -> Any:
    if not path.exists():
        raise SpecError(f"rule file {str(path)!r} does not exist")
    return read_yaml(path, path.name)


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
    check_shape(raw, source)
    validate(raw, rules_schema(), source)
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
    meta = {k: " ".join(str(raw.get(k, "")).split()) for k in ("version", "source",
                                                              "description")}
    evidence = _evidence(raw.get("evidence"), source)
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
        return RuleSet(name, kind, meta["version"], meta["source"], evidence,
                       meta["description"], None, None, tuple(cases), str(otherwise), source)
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
    return RuleSet(name, kind, meta["version"], meta["source"], evidence,
                   meta["description"], adult, child, file=source)


# -- schemas of the files -------------------------------------------------------------------------
_TEXT = {"type": ["string", "number", "null"], "message": "must be text"}
_IDS = {"type": "array", "items": {"type": "string", "message": "must be an indicator id (string)"},
        "message": "must be a list of indicator ids"}


def _either(if_object: Mapping[str, Any], otherwise: Mapping[str, Any]) -> dict[str, Any]:
    """A schema that checks a mapping with ``if_object`` and anything else with ``otherwise``,
    so that an error names the key inside the mapping (``anyOf`` would stop at the mapping)."""
    return {"if": {"type": "object"}, "then": if_object, "else": otherwise}


def _rules_schema() -> dict[str, Any]:
    from flestimate.mapping import SPEC_SCHEMA

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
    selection = _either({"$ref": "#/$defs/selector"}, {
        "type": "array", "message": "must be a non-empty list of indicator ids (or selectors "
                                    "with kind, dimension, grade, ids, exclude), or one selector",
        "items": _either({"$ref": "#/$defs/selector"}, {
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
            "graded": _either({"properties": {"dimension": {"type": "string",
                                                            "message": "must be a Delphi "
                                                                       "dimension name"},
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
            "version": _TEXT, "source": _TEXT, "description": _TEXT,
            "evidence": _either(
                {"properties": {"definition": _TEXT, "operational": _TEXT}},
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


def _table_schema() -> dict[str, Any]:
    entry = {"type": "object", "message": "must map dimension, grade (and meaning)",
             "additionalProperties": {"type": ["string", "number", "null"],
                                      "message": "must be text"}}
    members = {"type": "object", "message": "must map indicator ids to grades S, M or W",
               "additionalProperties": {"type": "string",
                                        "message": "must be a grade S, M or W, or a range "
                                                   "such as M-S"}}
    dimensions = {"type": "object", "message": "must map Delphi dimensions to members",
                  "additionalProperties": members}
    delphi_list = _either({"properties": {"dimensions": dimensions, "evidence": _TEXT,
                                          "note": _TEXT,
                                          "same_as": {"type": "string",
                                                      "message": "must name a list"}}},
                          {"type": "object", "message": "must have `dimensions` (or "
                                                        "`same_as`), and optionally "
                                                        "`evidence` and `note`"})
    return {
        "type": "object", "message": "an indicator table must be a mapping",
        "properties": {
            "version": _TEXT,
            "involuntariness": {"type": ["object", "null"], "additionalProperties": entry,
                                "message": "must map inv_* ids to their dimension and grade"},
            "penalty": {"type": ["object", "null"], "additionalProperties": entry,
                        "message": "must map pen_* ids to their grade"},
            "penalty_dimensions": {"type": ["array", "null"],
                                   "items": {"type": "string",
                                             "message": "must be a dimension (string)"},
                                   "message": "must be a list of dimensions"},
            "delphi2009": {"type": ["object", "null"], "additionalProperties": delphi_list,
                           "message": "must map the lists "
                                      f"{', '.join(DELPHI_SETS)} to their dimensions"},
            "sensitive": {"type": ["array", "null"],
                          "items": {"type": "string",
                                    "message": "must be an indicator id (string)"},
                          "message": "must be a list of indicator ids"},
        },
    }


@lru_cache(maxsize=1)
def rules_schema() -> Mapping[str, Any]:
    """JSON Schema (Draft 2020-12) of a rule file: the types of every key. Unknown keys,
    allowed values and references are checked by :func:`parse_rules` after it."""
    return _rules_schema()


@lru_cache(maxsize=1)
def table_schema() -> Mapping[str, Any]:
    """JSON Schema (Draft 2020-12) of an indicator table (``indicators.yaml`` or an override)."""
    return _table_schema()


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


@lru_cache(maxsize=32)
def _builtin(name: str) -> RuleSet:
    """A built-in rule set, parsed once (the files are package data)."""
    path = RULES_DIR / f"{name}.yaml"
    return parse_rules(_read_yaml(path), path.name)


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
