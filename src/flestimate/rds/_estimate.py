"""``rds.estimate``: the shares of an outcome's levels from a respondent-driven sample, with
bootstrap intervals, in named steps: read the table, weigh, estimate, resample, tabulate."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from flestimate._checks import check_choice, check_level, known_keywords, random_generator
from flestimate._version import __version__
from flestimate.disclosure import DisclosureRules, load_disclosure, protect_counts
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError
from flestimate.rds._bootstrap import BOOTSTRAPS, Sample, salganik, tree
from flestimate.rds._chains import (
    Outcome,
    Recruitment,
    read_degree,
    read_outcome,
    read_recruitment,
)
from flestimate.rds._estimators import METHODS, Sums, estimates, homophily, ss_inclusion, sums
from flestimate.rds._result import RDSResult

__all__ = ["estimate"]

_FUNC = "rds.estimate"


def _check_rng(seed: Any) -> tuple[np.random.Generator, object]:
    return random_generator(seed, _FUNC)


def _check_arguments(table: Any, method: Any, bootstrap: Any, replicates: Any,
                     population_size: Any, level: Any) -> tuple[str, str, int, float | None,
                                                                float]:
    if not isinstance(table, pd.DataFrame):
        raise ArgumentTypeError(f"`table` of `{_FUNC}()` must be a pandas DataFrame (one row "
                                f"per respondent); got {type(table).__name__}")
    if table.empty:
        raise DataError(f"`table` of `{_FUNC}()` has no rows")
    method = check_choice(method, METHODS, "method", _FUNC)
    bootstrap = check_choice(bootstrap, BOOTSTRAPS, "bootstrap", _FUNC)
    if isinstance(replicates, bool) or not isinstance(replicates, numbers.Integral):
        raise ArgumentTypeError(f"`replicates` of `{_FUNC}()` must be an int >= 2; got "
                                f"{replicates!r}")
    if replicates < 2:
        raise ArgumentError(f"`replicates` of `{_FUNC}()` must be an int >= 2; got "
                            f"{replicates!r}")
    size = None
    if population_size is not None:
        if isinstance(population_size, bool) or not isinstance(population_size, numbers.Real):
            raise ArgumentTypeError(f"`population_size` of `{_FUNC}()` must be None or a "
                                    f"number; got {population_size!r}")
        size = float(population_size)
        if not np.isfinite(size) or size < len(table):
            raise ArgumentError(f"`population_size` of `{_FUNC}()` must be at least the "
                                f"sample size ({len(table)}); got {population_size!r}")
    if method == "ss" and size is None:
        raise ArgumentError(f"`population_size` of `{_FUNC}()` is needed for method='ss' "
                            f"(Gile's successive sampling); got None")
    return method, bootstrap, int(replicates), size, check_level(level, _FUNC)


def _domains(table: pd.DataFrame, by: Any) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Domain codes (-1 where ``by`` is missing) and values, sorted."""
    if by is None:
        return np.zeros(len(table), dtype=np.int64), ("all",)
    if not isinstance(by, str):
        raise ArgumentTypeError(f"`by` of `{_FUNC}()` must be None or a column name (str); "
                                f"got {by!r}")
    if by not in table.columns:
        raise DataError(f"`by` of `{_FUNC}()`: column {by!r} is not in the table")
    codes, values = pd.factorize(table[by], sort=True)
    return codes.astype(np.int64), tuple(v.item() if isinstance(v, np.generic) else v
                                         for v in values)


def _sample(rec: Recruitment, out: Outcome, degree: np.ndarray, weight: np.ndarray,
            domain: np.ndarray, n_domains: int) -> Sample:
    """The respondents as the estimators see them: a recruitment counts within a domain and
    between respondents with an outcome only."""
    level = np.where(domain >= 0, out.codes, -1)
    has = rec.parent >= 0
    up = np.where(has, rec.parent, 0)
    same = has & (domain[up] == domain) & (level[up] >= 0)
    recruiter_level = np.where(same, level[up], -1)
    return Sample(level, degree, weight, domain, rec.parent, recruiter_level,
                  len(out.levels), n_domains)


def _point(s: Sample, method: str) -> tuple[np.ndarray, Sums]:
    freq = (s.level >= 0).astype(float)
    total = sums(np.maximum(s.domain, 0), s.level, s.recruiter_level, s.degree, s.weight,
                 freq, s.n_domains, s.n_levels)
    return estimates(method, total), total


def _replicates(s: Sample, method: str, bootstrap: str, replicates: int,
                weigh: Any, rng: np.random.Generator) -> np.ndarray:
    """The estimates of every replicate (R, D, K)."""
    d, k = s.n_domains, s.n_levels
    if bootstrap == "salganik":
        ch = salganik(s, replicates, rng)
        total = sums(ch.batch, ch.level, ch.recruiter_level, ch.degree, weigh(ch.degree),
                     ch.freq, replicates * d, k)
    else:
        freq = tree(s.parent, replicates, rng) * (s.level >= 0)
        rep = np.repeat(np.arange(replicates), s.level.size)
        tile = np.tile
        total = sums(rep * d + tile(np.maximum(s.domain, 0), replicates),
                     tile(s.level, replicates), tile(s.recruiter_level, replicates),
                     tile(s.degree, replicates), tile(s.weight, replicates), freq.ravel(),
                     replicates * d, k)
    return estimates(method, total).reshape(replicates, d, k)


def _ss_weigh(method: str, degree: np.ndarray, size: float | None,
              rng: np.random.Generator) -> tuple[Any, dict[str, Any]]:
    """The weight of a degree: ``1 / pi(d)`` by Gile's SS, 1 otherwise (unused)."""
    if method != "ss" or size is None:
        return (lambda d: np.ones_like(d, dtype=float)), {}
    classes, pi = ss_inclusion(degree, size, rng)
    mapping = {"degrees": classes.tolist(), "inclusion": pi.tolist()}
    return (lambda d: 1.0 / np.interp(d, classes, pi)), {"ss_inclusion": mapping}


def _table(point: np.ndarray, reps: np.ndarray, total: Sums, out: Outcome, outcome: str,
           by: str | None, domains: tuple[Any, ...], method: str, level: float,
           rules: DisclosureRules) -> pd.DataFrame:
    """The tidy table, one row per domain and level (level 1 only for a binary outcome),
    with the threshold rule applied to the respondents behind each cell."""
    d, k = point.shape
    lo, hi = np.nanquantile(reps, [(1 - level) / 2, (1 + level) / 2], axis=0)
    se = np.nanstd(reps, axis=0, ddof=1)
    n = total.count.sum(axis=1)
    counts = pd.DataFrame(total.count, columns=[str(v) for v in out.levels])
    counts["total"] = n
    shown = protect_counts(counts, list(counts.columns[:-1]), rules, total="total")
    hidden = shown.isna().to_numpy()
    cell_hidden = hidden[:, :k] | hidden[:, [k]]
    if out.binary:  # one published share: either count small reveals the other
        cell_hidden = cell_hidden.any(axis=1, keepdims=True) | np.zeros((d, k), dtype=bool)
    keep = [1] if out.binary else list(range(k))
    dom = np.repeat(np.arange(d), len(keep))
    lev = np.tile(keep, d)
    blank = cell_hidden[dom, lev]
    frame: pd.DataFrame = pd.DataFrame({
        "outcome": outcome,
        "level": pd.Series([out.levels[i] for i in lev], dtype=object),
        "by": by if by is not None else "national",
        "domain": pd.Series([domains[i] for i in dom], dtype=object),
        "estimate": point[dom, lev], "se": se[dom, lev], "ci_low": lo[dom, lev],
        "ci_high": hi[dom, lev], "n": n[dom].astype(np.int64), "method": method,
        "disclosure": np.where(blank, "suppressed", "publish")})
    frame.loc[blank, ["estimate", "se", "ci_low", "ci_high"]] = np.nan
    return frame


def _homophily_frame(total: Sums, point: np.ndarray, out: Outcome, by: str | None,
                     domains: tuple[Any, ...]) -> pd.DataFrame:
    h, within = homophily(total, point)
    d, k = point.shape
    dom, lev = np.repeat(np.arange(d), k), np.tile(np.arange(k), d)
    frame: pd.DataFrame = pd.DataFrame({
        "by": by if by is not None else "national",
        "domain": pd.Series([domains[i] for i in dom], dtype=object),
        "level": pd.Series([out.levels[i] for i in lev], dtype=object),
        "recruits": total.transitions.sum(axis=2)[dom, lev].astype(np.int64),
        "same_level": within[dom, lev], "estimate": point[dom, lev],
        "homophily": h[dom, lev]})
    return frame


@known_keywords
def estimate(table: pd.DataFrame, outcome: str, id: str = "id",
             recruiter: str = "recruiter", degree: str = "degree", method: str = "rds-ii",
             population_size: float | None = None, *, by: str | None = None,
             bootstrap: str = "salganik", replicates: int = 1000,
             seed: int | np.random.Generator | None = None, level: float = 0.95,
             disclosure: str | Mapping[str, Any] | DisclosureRules | None = None,
             ) -> RDSResult:
    """Population shares of an outcome's levels from a respondent-driven sample.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per respondent: ``id`` (unique), ``recruiter`` (the recruiter's id, missing
        for seeds), ``degree`` (reported network size, > 0; missing or zero is an error
        naming the respondents) and ``outcome`` (0/1 or bool: the share of 1; otherwise
        categorical: the share of every level; missing values are left out).
    outcome, id, recruiter, degree : str
        Column names.
    method : {"rds-ii", "rds-i", "ss"}
        Volz-Heckathorn, data-smoothed RDS-I (Heckathorn 2002) or Gile's (2011) successive
        sampling (needs ``population_size``).
    population_size : float, optional
        The size of the hidden population (a scalar; required for ``"ss"``).
    by : str, optional
        A column of domains: estimates within each (recruitments between domains ignored).
    bootstrap : {"salganik", "tree"}
        Salganik's (2006) Markov-chain bootstrap or the tree bootstrap (Baraff et al. 2016).
    replicates : int
        Bootstrap replicates (default 1000).
    seed : int, numpy Generator or None
        Randomness of the bootstrap and the SS simulation; None draws one and records it.
    level : float
        Confidence level of the percentile intervals.
    disclosure : str, mapping or DisclosureRules, optional
        Threshold rule on the respondents behind each cell (default: threshold 3).

    Returns
    -------
    RDSResult
        ``to_frame()``: ``outcome, level, by, domain, estimate, se, ci_low, ci_high, n,
        method, disclosure``; ``convergence()``, ``bottleneck()``, ``homophily()``.

    Notes
    -----
    RDS-II ``P_k = sum_{i in k} d_i^-1 / sum_i d_i^-1``; SS the same with ``1/pi(d_i)``;
    RDS-I ``P_k ∝ r_k / h_k`` (:func:`flestimate.rds._estimators.rds_i`). SE is the standard
    deviation of the replicates, the interval their percentiles. The formulas follow the R
    package ``RDS`` (Handcock, Gile and Fellows): ``RDS.II.estimates``, ``RDS.I.estimates(
    smoothed=TRUE)``, ``RDS.SS.estimates`` (``gile.ss.weights``), ``RDS.bootstrap.intervals``.
    SS replicates reuse the full sample's ``pi(d)``. See docs/rds.md.
    """
    method, bootstrap, replicates, size, level = _check_arguments(
        table, method, bootstrap, replicates, population_size, level)
    rules = load_disclosure("threshold" if disclosure is None else disclosure,
                            where=f"`disclosure` of `{_FUNC}()`")
    rng, seed_used = _check_rng(seed)
    rec = read_recruitment(table, id, recruiter)
    deg = read_degree(table, degree, rec.ids)
    out = read_outcome(table, outcome)
    dom, domains = _domains(table, by)
    weigh, ss_prov = _ss_weigh(method, deg, size, rng)
    s = _sample(rec, out, deg, weigh(deg), dom, len(domains))
    point, total = _point(s, method)
    reps = _replicates(s, method, bootstrap, replicates, weigh, rng)
    frame = _table(point, reps, total, out, outcome, by, domains, method, level, rules)
    prov = {"estimator": "rds", "method": method, "bootstrap": bootstrap,
            "replicates": replicates, "seed": seed_used if isinstance(seed_used, int)
            else str(seed_used), "level": level, "n": int(len(table)), "seeds": rec.n_seeds,
            "waves": rec.n_waves, "population_size": size, "outcome": outcome, "by": by,
            "n_missing_outcome": int((out.codes < 0).sum()), "disclosure": rules.to_dict(),
            "ci_method": "bootstrap percentile", "version": __version__, **ss_prov}
    return RDSResult(frame, _homophily_frame(total, point, out, by, domains), prov,
                     {"level": out.codes, "degree": deg, "weight": s.weight,
                      "parent": rec.parent, "seed": rec.seed, "ids": rec.ids},
                     out.levels, out.binary)
