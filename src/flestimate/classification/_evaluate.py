"""The expression tree of a rule and its three-valued evaluation.

Every expression is monotone in the indicators, so its three-valued value follows from two
evaluations: ``lower`` with every missing indicator read as 0 and ``upper`` with every missing
indicator read as 1 (see :mod:`._rules` for the format and the logic). A :class:`Context` holds
what the expressions are evaluated on and collects what the evaluation met, for the provenance;
:mod:`._parse` builds the tree from a rule file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from flestimate._indicators import DIMENSIONS, GRADES, IndicatorTable, suffix_dimensions
from flestimate.errors import DataError, SpecError
from flestimate.mapping import describe_filter, evaluate_filter

#: What ``plain_penalties`` may say (see :class:`Context`).
PLAIN_PENALTIES = ("unknown_dimension", "error", "every_dimension", "ignore")
#: Canonical ``sector`` values that mark commercial sexual exploitation (only, or with other work).
SEXUAL_SECTOR, MIXED_SECTOR = "commercial_sex", "commercial_sex_and_other"

Pair = tuple[np.ndarray, np.ndarray]


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
    ``not_measured``, ``dimension_unknown`` and ``graded_branches`` (the branches in which a
    Delphi dimension was graded) collect what the evaluation met, for the provenance."""

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
    graded_branches: set[str] = field(default_factory=set)

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
        ctx.graded_branches.add(ctx.branch)
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


def delphi_list_counts(ctx: Context, is_child: Pair) -> dict[str, dict[str, Any]]:
    """Per Delphi list used, how many respondents were graded with it and its evidence tag
    (and note): ``{list: {"respondents", "evidence"[, "note"]}}``, empty when no rule graded a
    Delphi dimension.

    Notes
    -----
    As :meth:`Graded.evaluate` and the switch by age choose them: the adults' lists serve
    respondents not known to be children (adults and unknown age), the children's lists those
    who may be children; the labour list serves sectors other than ``commercial_sex`` (with
    unknown and mixed), the sexual list ``commercial_sex``, mixed and unknown sectors. A
    respondent of unknown age or of mixed or unknown sector is counted under every list that
    may grade them, so the counts can add up to more than the respondents. Reference: ILO/EC
    (2009), *Operational indicators of trafficking in human beings* (four lists).
    """
    sector = ctx.sector if ctx.sector is not None else np.full(ctx.n, 3, dtype=np.int8)
    ages = {"adult": ~is_child[0], "child": is_child[1]}
    sectors = {"labour": sector != 1, "sexual": sector != 0}
    out: dict[str, dict[str, Any]] = {}
    for branch in sorted(ctx.graded_branches):  # at most two branches x two sectors
        for kind, in_sector in sectors.items():
            name = f"{branch}_{kind}"
            info = ctx.table.delphi_evidence.get(name, {})
            entry: dict[str, Any] = {
                "respondents": int(np.count_nonzero(ages[branch] & in_sector)),
                "evidence": info.get("evidence", "")}
            if info.get("note"):
                entry["note"] = info["note"]
            out[name] = entry
    return out


def bounds_to_values(lo: np.ndarray, hi: np.ndarray) -> Any:
    """Three-valued result as a nullable boolean array: True, False or <NA>."""
    out = pd.array(np.where(lo, True, False), dtype="boolean")
    out[lo != hi] = pd.NA
    return out
