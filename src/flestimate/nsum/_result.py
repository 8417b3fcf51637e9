"""The immutable result of a network scale-up call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from flestimate.errors import EstimationError
from flestimate.nsum._check import KnownPopulationCheck
from flestimate.results import Result, describe_design

__all__ = ["ScaleUpResult"]

_SHOWN = ("hidden", "by", "level", "estimate", "se", "ci_low", "ci_high", "n", "n_reporting",
          "mean_degree", "flag", "disclosure")


class ScaleUpResult(Result):
    """Network scale-up estimates: one row per hidden column and cell (national, then the
    domains), with the known-population check and the provenance.

    Immutable: a different method, interval or adjustment is a new call of
    :func:`flestimate.nsum.scale_up`.

    Attributes
    ----------
    provenance : Mapping
        Method and formula, adjustment factors, visibility and its source, frame and known
        sizes, the respondents left out for missing counts, the replicates (method, number,
        seed), the interval, the design summary, the disclosure rule, the version.
    """

    __slots__ = ("_check", "_table")
    _table: pd.DataFrame
    _check: KnownPopulationCheck | None
    _label = "ScaleUpResult"
    _records_key = "estimates"
    _immutable_hint = "call nsum.scale_up() again for other settings"

    def __init__(self, table: pd.DataFrame, check: KnownPopulationCheck | None,
                 provenance: Mapping[str, Any]) -> None:
        super().__init__(provenance, _table=table, _check=check)

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (a copy): ``hidden, by, level, estimate, se, ci_low, ci_high, n,
        mean_degree, method``, then ``population`` (the N or N_d used), ``prevalence``
        (estimate / population), ``cv``, ``n_missing`` (respondents left out for a missing
        count), ``n_reporting`` (respondents reporting at least one contact), ``flag``,
        ``disclosure`` and ``disclosure_reason``. ``by`` is ``"national"`` and ``level``
        ``"all"`` on the national rows."""
        out: pd.DataFrame = self._table.copy()
        return out

    def __len__(self) -> int:
        return len(self._table)

    def known_population_check(self) -> KnownPopulationCheck:
        """Leave-one-out estimates of every known population against its size (see
        :func:`flestimate.nsum.internal_validation`), with the call's replicates."""
        if self._check is None:
            raise EstimationError("`known_population_check()` needs at least two known "
                                  "populations (one is left out at a time); the call had "
                                  f"{len(self.provenance['known'])}")
        return self._check

    def _display_frame(self) -> pd.DataFrame:
        t = self._table
        keep = [c for c in _SHOWN if c in t.columns]
        out: pd.DataFrame = t[keep].copy()
        for col in ("flag", "disclosure"):
            if col in out.columns and (out[col].isin(["", "publish"])).all():
                out = out.drop(columns=col)
        return out

    def _title(self) -> str:
        p = self.provenance
        return (f"network scale-up, {p['method']} estimator; {100 * p['level']:g}% CI: "
                f"{p['ci_method']}; {p['replicates']} replicates ({p['replicate_method']})")

    def summary(self) -> str:
        """The table, then the method, the inputs, the variance and the disclosure rule."""
        p = self.provenance
        known = ", ".join(f"{k} ({v:,.0f})" for k, v in p["known"].items()) or "none"
        lines = [repr(self), "", f"Formula: {p['formula']}",
                 f"Frame population N = {p['total']:,.0f}; known populations: {known}"]
        if p["method"] == "basic":
            lines.append(f"Degree ratio {p['degree_ratio']:g}, transmission rate "
                         f"{p['transmission']:g}")
        else:
            lines.append(f"Visibility {p['visibility']:.6g} ({p['visibility_source']})")
        missing = {k: v for k, v in p["n_missing_hidden"].items() if v}
        lines += [f"Left out for missing counts: hidden {dict(missing) or 'none'}; known "
                  f"{p['n_missing_known']}",
                  f"Design: {describe_design(p['design'])}",
                  f"Variance: {p['variance']}; seed {p['seed']}",
                  f"{p['disclosure']['description']}",
                  f"flestimate {p['version']}"]
        return "\n".join(lines)
