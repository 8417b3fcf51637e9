"""Checks of a publication's identities: a published figure against the value recomputed from
its other figures, with the first-order bound of their rounding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import SpecError
from flestimate.global_estimates._sources import TAGS

__all__ = ["CHECK_COLUMNS", "CHECK_STATUSES", "TABLE_COLUMNS"]

#: Columns of every table of a :class:`Reproduction` (and of its ``to_frame()``).
TABLE_COLUMNS: tuple[str, ...] = (
    "publication", "table", "component", "quantity", "unit", "published", "rounding",
    "evidence", "evidence_note", "recomputed", "difference", "difference_unit",
    "relative_difference", "tolerance", "within_rounding", "basis", "source",
)
#: Columns of :attr:`Reproduction.checks`.
CHECK_COLUMNS: tuple[str, ...] = (
    "publication", "check", "kind", "description", "unit", "published", "recomputed",
    "difference", "difference_unit", "relative_difference", "tolerance", "exact",
    "rounds_to_published", "within_rounding", "status", "evidence", "inputs", "note",
)
#: Statuses of a check; the first two are consistent, the others are discrepancies.
CHECK_STATUSES: tuple[str, ...] = ("exact", "rounds to published", "within rounding",
                                   "beyond rounding")
_UNITS = {"persons": "persons", "percent": "percent", "per 1,000 inhabitants": "per_1000",
          "population": "population"}
#: The unit of a difference (and of its tolerance) of two numbers in a unit: two percentages
#: differ by percentage points, never by percent.
_DIFFERENCE_UNITS = {"percent": "percentage points"}


def difference_unit(unit: str) -> str:
    """The unit of ``a - b`` for ``a`` and ``b`` in ``unit``: ``percentage points`` for
    percentages, the unit itself otherwise."""
    return _DIFFERENCE_UNITS.get(unit, unit)


@dataclass(frozen=True)
class Num:
    """One number entering a computation: its value, half its rounding unit, its tag."""

    label: str
    value: float
    half: float
    evidence: str
    unit: str
    note: str = ""
    source: str = ""
    rounding: float = np.nan


def const(value: float, label: str, unit: str) -> Num:
    return Num(label, value, 0.0, "", unit, "exact by definition", "definition", 0.0)


def sum_of(x: np.ndarray) -> float:
    return float(np.sum(x))


def _first(x: np.ndarray) -> float:
    return float(x[0])


def _evaluate(inputs: Sequence[Num], fn: Callable[[np.ndarray], float]) -> tuple[float, float]:
    """``fn`` at the published values and the first-order bound of its rounding error,
    ``sum_i |d fn / d x_i| h_i`` (``h_i`` half the rounding unit of input ``i``)."""
    x = np.array([i.value for i in inputs], dtype=np.float64)
    value = fn(x)
    tol = 0.0
    for i, item in enumerate(inputs):
        if item.half == 0:
            continue
        step = 1e-6 * max(abs(x[i]), 1.0)
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        tol += abs((fn(up) - fn(down)) / (2 * step)) * item.half
    return value, tol


def fmt(value: float, unit: str) -> str:
    """A number in its unit: persons with thousands separators, a percentage with ``%``, a
    difference of percentages (``percentage points``) with ``pp``."""
    if not np.isfinite(value):
        return ""
    if unit == "persons" or unit == "population":
        return f"{value:,.0f}"
    if unit == "percent":
        return f"{value:.4g}%"
    if unit == "percentage points":
        return f"{value:.4g} pp"
    return f"{value:.4g}"


def fmt_difference(value: float, unit: str) -> str:
    """A difference of two numbers in ``unit``, signed (``+0.5263 pp``, ``-10,000``), in
    :func:`difference_unit`."""
    text = fmt(value, difference_unit(unit))
    return f"+{text}" if np.isfinite(value) and value > 0 else text


def _weakest(inputs: Sequence[Num]) -> str:
    tags = [i.evidence for i in inputs if i.evidence]
    return max(tags, key=TAGS.index) if tags else ""


def _exact(diff: float, ref: float) -> bool:
    return abs(diff) <= 1e-9 * max(1.0, abs(ref))


class Book:
    """The numbers of one publication, looked up by (table, component, quantity)."""

    def __init__(self, numbers: pd.DataFrame) -> None:
        self.frame = numbers
        # (table, component, quantity) -> row; pandas cannot type itertuples' named fields
        self._index: dict[tuple[Any, Any, Any], Any] = {
            (r.table, r.component, r.quantity): r for r in numbers.itertuples(index=False)}
        self.rows: list[dict[str, Any]] = []
        self.checks: list[dict[str, Any]] = []
        self.publication = str(numbers["publication"].iat[0])

    def n(self, table: str, component: str, quantity: str) -> Num:
        r = self._index.get((table, component, quantity))
        if r is None:
            raise SpecError(f"published tables of {self.publication}: no number for table "
                            f"{table!r}, component {component!r}, quantity {quantity!r}")
        unit = _UNITS.get(str(r.unit), str(r.unit))
        value, rounding = float(r.value), float(r.rounding)
        return Num(f"{table}/{component} {quantity}", value, rounding / 2, str(r.evidence),
                    unit, str(r.evidence_note), str(r.source), rounding)

    def components(self, table: str, quantity: str, skip: Sequence[str] = ()) -> list[str]:
        f = self.frame
        rows = f[(f["table"] == table) & (f["quantity"] == quantity)]
        return [c for c in rows["component"] if c not in skip]

    def row(self, table: str, component: str, quantity: str, pub: Num | None,
            inputs: Sequence[Num] = (), fn: Callable[[np.ndarray], float] | None = None,
            basis: str = "", unit: str | None = None) -> float:
        """Add a table row; returns the recomputed value (NaN without ``fn``)."""
        rec: dict[str, Any] = {"publication": self.publication, "table": table,
                               "component": component, "quantity": quantity}
        recomputed = tol_r = np.nan
        if fn is not None:
            recomputed, tol_r = _evaluate(inputs, fn)
        if pub is not None:
            diff = recomputed - pub.value
            tol = tol_r + pub.half
            rec.update(unit=pub.unit, published=pub.value, rounding=pub.rounding,
                       evidence=pub.evidence, evidence_note=pub.note, source=pub.source,
                       basis=basis or "as published")
        else:
            diff = tol = np.nan
            rec.update(unit=unit or (inputs[0].unit if inputs else ""), published=np.nan,
                       rounding=np.nan, evidence=_weakest(inputs),
                       evidence_note="derived from " + ", ".join(i.label for i in inputs),
                       source="derived", basis=basis)
        rec.update(recomputed=recomputed, difference=diff,
                   difference_unit=difference_unit(str(rec["unit"])),
                   relative_difference=diff / pub.value if pub is not None and pub.value
                   else np.nan,
                   tolerance=tol, within_rounding=(pd.NA if not np.isfinite(diff)
                                                   else bool(abs(diff) <= tol * (1 + 1e-9)
                                                             or _exact(diff, pub.value if pub
                                                                       else 1.0))))
        self.rows.append(rec)
        return float(recomputed)

    def check(self, name: str, description: str, lhs: Sequence[Num],
              rhs: Sequence[Num], rhs_fn: Callable[[np.ndarray], float] = sum_of,
              lhs_fn: Callable[[np.ndarray], float] = _first, note: str = "",
              unit: str | None = None, kind: str = "identity") -> None:
        """Add a check: the published side (``lhs_fn`` of ``lhs``, usually one published
        number) against the side recomputed from components (``rhs_fn`` of ``rhs``).

        ``kind="identity"``: the published components should give the published figure
        exactly (a sum); ``kind="rounded"``: the published figure is a rounded value of the
        recomputed quantity (a share), consistent when the recomputed value rounds to it."""
        pub, tol_l = _evaluate(lhs, lhs_fn)
        rec, tol_r = _evaluate(rhs, rhs_fn)
        diff = rec - pub
        tol = tol_l + tol_r
        exact = _exact(diff, pub)
        within = exact or abs(diff) <= tol * (1 + 1e-9)
        unit = unit or lhs[0].unit
        rounds: Any = pd.NA
        if len(lhs) == 1 and lhs[0].rounding > 0:
            u = lhs[0].rounding
            rounds = bool(_exact(float(np.floor(rec / u + 0.5)) * u - pub, pub))
        if exact:
            status, auto = "exact", "adds up exactly"
        elif kind == "rounded" and rounds is True:
            status = "rounds to published"
            auto = (f"recomputed {fmt(rec, unit)} rounds to the published "
                    f"{fmt(pub, unit)}")
        elif within:
            status = "within rounding"
            auto = (f"off by {fmt_difference(diff, unit)}: within the rounding of the "
                    f"published figures (tolerance {fmt(tol, difference_unit(unit))})")
            if kind == "rounded":
                auto += (f"; but {fmt(rec, unit)} does not round to the published "
                         f"{fmt(pub, unit)}")
        else:
            status = "beyond rounding"
            auto = (f"off by {fmt_difference(diff, unit)}: more than the rounding of the "
                    f"published figures explains (tolerance {fmt(tol, difference_unit(unit))})")
        side = "; ".join(f"{i.label} = {fmt(i.value, i.unit)}"
                         + (f" [{i.evidence}]" if i.evidence else "") for i in lhs)
        comp = "; ".join(f"{i.label} = {fmt(i.value, i.unit)}"
                         + (f" [{i.evidence}]" if i.evidence else "") for i in rhs)
        self.checks.append({
            "publication": self.publication, "check": name, "kind": kind,
            "description": description, "published": pub, "recomputed": rec,
            "difference": diff, "difference_unit": difference_unit(unit),
            "relative_difference": diff / pub if pub else np.nan,
            "tolerance": tol, "exact": exact, "rounds_to_published": rounds,
            "within_rounding": within, "status": status, "unit": unit,
            "evidence": _weakest([*lhs, *rhs]),
            "inputs": f"published: {side} | recomputed from: {comp}",
            "note": f"{note}; {auto}" if note else auto,
        })

    def shares_of(self, table: str, parts: Sequence[str], total: Num,
                  name_prefix: str, what: str) -> None:
        """Rows and checks of published shares against 100 x persons / published total."""
        for c in parts:
            persons = self.n(table, c, "persons")
            share = self.n(table, c, "share_pct")
            self.row(table, c, "share_pct", share, [persons, total],
                     lambda x: 100 * x[0] / x[1], "100 x persons / published total")
            self.check(f"{name_prefix}_{c}", f"{what} {c}: published share against 100 x "
                       f"persons / total", [share], [persons, total],
                       lambda x: 100 * x[0] / x[1], kind="rounded")
