"""The immutable result of an RDS estimate, with its convergence and bottleneck diagnostics."""

from __future__ import annotations

import html
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate.rds._estimators import Sums, estimates
from flestimate.results import Result, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["RDSResult", "cumulative_sums"]


def cumulative_sums(level: np.ndarray, recruiter_level: np.ndarray, degree: np.ndarray,
                    weight: np.ndarray, group: np.ndarray, n_levels: int) -> Sums:
    """The sums of every prefix of the rows within its ``group`` (rows in their order): row
    ``i``'s entry sums the rows of its group up to and including ``i``."""
    n, k = level.size, n_levels
    onehot = np.zeros((n, k))
    onehot[np.arange(n), level] = 1.0
    trans = np.zeros((n, k * k))
    has = recruiter_level >= 0
    trans[np.flatnonzero(has), recruiter_level[has] * k + level[has]] = 1.0
    order = np.argsort(group, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(group[order])) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, n]))

    def prefix(values: np.ndarray) -> np.ndarray:
        cs = np.cumsum(values[order], axis=0)
        before = np.where((first > 0)[:, None], cs[np.maximum(first - 1, 0)], 0.0)
        out = np.empty_like(cs)
        out[order] = cs - before
        return out

    return Sums(prefix(onehot), prefix(onehot / degree[:, None]),
                prefix(onehot * weight[:, None]), prefix(trans).reshape(n, k, k))


class RDSResult(Result):
    """Shares of an outcome's levels from a respondent-driven sample
    (:func:`flestimate.rds.estimate`): a tidy table, Heckathorn's homophily index, and the
    convergence and bottleneck diagnostics.

    Immutable: a different method, bootstrap or level is a new call.
    """

    __slots__ = ("_binary", "_data", "_homophily", "_levels", "_table")
    _table: pd.DataFrame
    _homophily: pd.DataFrame
    _data: Mapping[str, np.ndarray]
    _levels: tuple[Any, ...]
    _binary: bool
    _label = "RDSResult"
    _records_key = "estimates"
    _immutable_hint = "call rds.estimate() again for new results"

    def __init__(self, table: pd.DataFrame, homophily: pd.DataFrame,
                 provenance: Mapping[str, Any], data: Mapping[str, np.ndarray],
                 levels: tuple[Any, ...], binary: bool) -> None:
        frozen = {}
        for name, values in data.items():
            arr = np.array(values)
            arr.setflags(write=False)
            frozen[name] = arr
        super().__init__(provenance, _table=table, _homophily=homophily,
                         _data=MappingProxyType(frozen), _levels=tuple(levels),
                         _binary=bool(binary))

    def to_frame(self) -> pd.DataFrame:
        """One row per domain and level (level 1 only for a 0/1 outcome): ``outcome, level,
        by, domain, estimate, se, ci_low, ci_high, n, method, disclosure``."""
        out: pd.DataFrame = self._table.copy()
        return out

    def __len__(self) -> int:
        return len(self._table)

    def homophily(self) -> pd.DataFrame:
        """Heckathorn's homophily index of every level in every domain: ``recruits`` (made by
        respondents of the level), ``same_level`` (their share of the same level),
        ``estimate`` and ``homophily`` (:func:`flestimate.rds._estimators.homophily`)."""
        out: pd.DataFrame = self._homophily.copy()
        return out

    def _threshold(self) -> int:
        rules = self.provenance["disclosure"]
        return int(rules["threshold"]) if rules["rule"] == "threshold" else 1

    def _prefix_estimates(self, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The respondents with an outcome (rows, in table order) and the estimate after each
        within its ``group`` (rows, K)."""
        d = self._data
        level, parent = d["level"], d["parent"]
        rows = np.flatnonzero(level >= 0)
        up = np.where(parent >= 0, parent, 0)
        recruiter_level = np.where(parent >= 0, level[up], -1)[rows]
        s = cumulative_sums(level[rows], recruiter_level, d["degree"][rows],
                            d["weight"][rows], group[rows], len(self._levels))
        return rows, estimates(self.provenance["method"], s)

    def _long(self, est: np.ndarray, keys: Mapping[str, np.ndarray]) -> pd.DataFrame:
        keep = [1] if self._binary else list(range(len(self._levels)))
        n = est.shape[0]
        frame: pd.DataFrame = pd.DataFrame({name: np.repeat(v, len(keep))
                                           for name, v in keys.items()})
        frame["level"] = pd.Series([self._levels[i] for i in np.tile(keep, n)], dtype=object)
        frame["estimate"] = est[:, keep].ravel()
        return frame

    def convergence(self) -> pd.DataFrame:
        """The estimate over the whole sample as each respondent joins, in the table's row
        order (give the table in recruitment order): ``respondents, id, level, estimate``.
        Under the threshold rule the first ``threshold - 1`` respondents are not shown (R
        ``RDS::convergence.plot``; the point estimate only, ignoring ``by``)."""
        rows, est = self._prefix_estimates(np.zeros(self._data["level"].size, dtype=np.int64))
        frame = self._long(est, {"respondents": np.arange(1, rows.size + 1),
                                 "id": self._data["ids"][rows]})
        out: pd.DataFrame = frame[frame["respondents"] >= self._threshold()].reset_index(
            drop=True)
        return out

    def _trees(self) -> tuple[np.ndarray, pd.DataFrame]:
        rows, est = self._prefix_estimates(self._data["seed"])
        seed = self._data["seed"][rows]
        position = pd.Series(np.ones(rows.size)).groupby(seed).cumsum().to_numpy(np.int64)
        frame = self._long(est, {"seed": self._data["ids"][seed], "respondents": position})
        return seed, frame

    def bottleneck(self) -> pd.DataFrame:
        """The estimate within each seed's recruitment tree: ``seed`` (its id), ``n``, ``level``,
        ``estimate`` (blank for a tree of fewer respondents than the disclosure threshold).
        Trees whose estimates differ much from each other and from the whole sample's point
        to bottlenecks (few ties between parts of the population) and seed dependence."""
        _, frame = self._trees()
        last = frame.groupby("seed", sort=False)["respondents"].transform("max")
        out: pd.DataFrame = frame[frame["respondents"] == last].rename(
            columns={"respondents": "n"}).reset_index(drop=True)
        out.loc[out["n"] < self._threshold(), "estimate"] = np.nan
        return out

    def plot_convergence(self, ax: Axes | None = None) -> Axes:
        """The :meth:`convergence` estimates against the number of respondents, one line per
        level, with the final estimate dashed. Needs matplotlib (``flestimate[plot]``)."""
        ax = new_axes(ax, 7.0, 3.6)
        frame = self.convergence()
        for lev, part in frame.groupby("level", sort=False):
            line = ax.plot(part["respondents"], part["estimate"], label=str(lev))[0]
            ax.axhline(float(part["estimate"].iloc[-1]), color=line.get_color(),
                       linestyle="--", linewidth=0.8)
        ax.set_xlabel("respondents (in recruitment order)")
        ax.set_ylabel(f"{self.provenance['method']} estimate")
        ax.set_title(f"Convergence: {self.provenance['outcome']}", loc="left")
        ax.legend(title="level", frameon=False)
        return ax

    def plot_bottleneck(self, ax: Axes | None = None) -> Axes:
        """The estimate within each seed's tree as its respondents join, one line per seed
        (R ``RDS::bottleneck.plot``), for the reported level (the first level of a categorical
        outcome). Needs matplotlib (``flestimate[plot]``)."""
        ax = new_axes(ax, 7.0, 3.6)
        _, frame = self._trees()
        lev = 1 if self._binary else self._levels[0]
        part = frame[frame["level"] == lev]
        for seed, tree in part.groupby("seed", sort=False):
            shown = tree[tree["respondents"] >= self._threshold()]
            ax.plot(shown["respondents"], shown["estimate"], label=str(seed), linewidth=1.0)
        final = self._table[self._table["level"] == lev]["estimate"]
        if len(final) and self._table["by"].iloc[0] == "national":
            ax.axhline(float(final.iloc[0]), color="black", linestyle="--", linewidth=0.8)
        ax.set_xlabel("respondents in the seed's tree")
        ax.set_ylabel(f"{self.provenance['method']} estimate ({lev})")
        ax.set_title(f"Bottleneck: {self.provenance['outcome']} by seed", loc="left")
        return ax

    def _title(self) -> str:
        p = self.provenance
        return (f"{p['method']} shares of {p['outcome']}; {p['bootstrap']} bootstrap, "
                f"{p['replicates']} replicates, {100 * p['level']:g}% percentile CI")

    def _repr_html_(self) -> str:
        table = self._table.to_html(index=False, border=0, escape=True)
        return (f"<div><p><b>RDSResult</b>: {html.escape(self._title())}</p>{table}"
                f"<p>n {self.provenance['n']:,}, seeds {self.provenance['seeds']}, waves "
                f"{self.provenance['waves']}</p></div>")

    def summary(self) -> str:
        """The estimates, the homophily index and how they were made."""
        p = self.provenance
        with pd.option_context("display.width", 120):
            hom = self._homophily.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        return "\n".join([
            repr(self), "", "Homophily (Heckathorn 2002):", hom, "",
            f"Respondents {p['n']:,} ({p['n_missing_outcome']} without an outcome, left out); "
            f"seeds {p['seeds']}; waves {p['waves']}; population size "
            f"{p['population_size'] if p['population_size'] is not None else 'not given'}",
            f"Seed {p['seed']}; {p['disclosure']['description']}",
            f"flestimate {p['version']}"])
