"""Immutable result objects: a tidy table plus provenance; every display is a view of them."""

from __future__ import annotations

import html
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ESTIMATE_COLUMNS", "Estimates"]

#: Columns every estimate table has after the by-columns, ``variable`` and ``category``.
ESTIMATE_COLUMNS: tuple[str, ...] = (
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "cv",
    "deff",
    "deff_wr",
    "n",
    "n_eff",
    "df",
    "n_missing",
    "flag",
)


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


class Estimates:
    """Estimates from one estimator call: a tidy table and the provenance that made it.

    The object is immutable: :meth:`to_frame` returns a copy, and a different interval method or
    level is a new estimator call.

    Attributes
    ----------
    provenance : Mapping
        Estimator, variance method, CI method and level, df rule, lonely-PSU policy, the design
        summary and the flestimate version.
    by : tuple of str
        The domain columns (empty without ``by=``).
    """

    __slots__ = ("_by", "_frozen", "_table", "provenance")
    _table: pd.DataFrame
    _by: tuple[str, ...]
    provenance: Mapping[str, Any]

    def __init__(self, table: pd.DataFrame, provenance: Mapping[str, Any], by: tuple[str, ...]):
        object.__setattr__(self, "_table", table.copy())
        object.__setattr__(self, "provenance", _freeze(dict(provenance)))
        object.__setattr__(self, "_by", tuple(by))
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Estimates are immutable; call the estimator again for new results")

    @property
    def by(self) -> tuple[str, ...]:
        return self._by

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (a copy): by-columns, ``variable``, [``category``], then
        ``estimate, se, ci_low, ci_high, cv, deff, deff_wr, n, n_eff, df, n_missing, flag``."""
        out: pd.DataFrame = self._table.copy()
        return out

    def to_dict(self) -> dict[str, Any]:
        """Table records and provenance as plain Python objects (JSON-serialisable)."""
        table = self._table.astype(object).where(self._table.notna(), None)
        records = [
            {k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()}
            for rec in table.to_dict(orient="records")
        ]
        return {"estimates": records, "provenance": _thaw(self.provenance)}

    def __len__(self) -> int:
        return len(self._table)

    def _display_frame(self) -> pd.DataFrame:
        t = self._table
        keep = [*self._by, "variable"]
        if "category" in t.columns and t["category"].notna().any():
            keep.append("category")
        keep += ["estimate", "se", "ci_low", "ci_high", "cv", "deff", "n", "df", "flag"]
        out: pd.DataFrame = t[keep].copy()
        if out["flag"].notna().any():
            out["flag"] = out["flag"].fillna("")
        else:
            out = out.drop(columns="flag")
        return out

    def _title(self) -> str:
        p = self.provenance
        return (
            f"{p['estimator']} ({p['variance']}); {p['ci_method']} {100 * p['level']:g}% CI, "
            f"df: {p['df_rule']}"
        )

    def __repr__(self) -> str:
        with pd.option_context("display.max_rows", 40, "display.width", 120):
            body = self._display_frame().to_string(index=False, float_format=lambda v: f"{v:.6g}")
        return f"Estimates: {self._title()}\n{body}"

    def _repr_html_(self) -> str:
        frame = self._display_frame()
        table = frame.to_html(
            index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0, escape=True
        )
        return f"<div><p><b>Estimates</b>: {html.escape(self._title())}</p>{table}</div>"

    def summary(self) -> str:
        """A readable report: the table, then the design and the methods used."""
        p = self.provenance
        d = p["design"]
        lines = [
            repr(self),
            "",
            f"Design: {d['n_rows']} rows, {d['n_strata']} strata, {d['n_psu']} PSUs, "
            f"sum of weights {d['sum_weights']:.6g}, Kish deff of weights "
            f"{d['kish_deff_weights']:.4g}, design df {d['degf']}",
            f"Variance: {p['variance']}; lonely PSUs: {d['lonely_psu']}"
            + (f" (strata {', '.join(d['lonely_strata'])})" if d["lonely_strata"] else ""),
            f"Missing values excluded: {int(self._table['n_missing'].sum())}",
            f"flestimate {p['version']}",
        ]
        return "\n".join(lines)
