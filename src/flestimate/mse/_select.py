"""Model selection over two-list interactions: stepwise rules and all-subsets rankings."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from flestimate.errors import ArgumentError, EstimationError
from flestimate.mse._model import AdmissibilityCache, BatchFit, Pair, newton, pair_columns

__all__ = [
    "MAX_MODELS",
    "Selected",
    "all_subsets",
    "fit_sets",
    "model_name",
    "stepwise_aic",
    "stepwise_poisson",
]

#: Largest number of models an all-subsets search fits.
MAX_MODELS = 200_000
_CHUNK = 4096


@dataclass(frozen=True)
class Selected:
    """The outcome of a selection: the interactions in the order chosen, the table of steps or
    the ranking, why the search stopped, and the fit of the chosen model on the full design."""

    pairs: tuple[Pair, ...]
    table: pd.DataFrame
    stop: str
    fit: BatchFit


def model_name(cache: AdmissibilityCache, pairs: Sequence[Pair]) -> str:
    """``"LA:NG + NG:GP"``, or ``"main effects"`` without interactions."""
    return " + ".join(cache.pair_name(q) for q in pairs) if pairs else "main effects"


def fit_sets(
    cache: AdmissibilityCache, sets: Sequence[Sequence[Pair]], counts: np.ndarray | None = None
) -> BatchFit:
    """Fit every interaction set in one batched Newton-Raphson call on the full design."""
    x = cache.x_full
    y = cache.table.counts if counts is None else counts
    mask = np.zeros((len(sets), x.shape[1]), dtype=bool)
    mask[:, : 1 + cache.k] = True
    for i, pairs in enumerate(sets):
        mask[i, pair_columns(cache.k, pairs)] = True
    return newton(x, np.broadcast_to(y, (len(sets), y.shape[0])), mask=mask)


def _criteria(fit: BatchFit, n_params: np.ndarray, n_obs: float) -> tuple[np.ndarray, np.ndarray]:
    aic = -2.0 * fit.llf + 2.0 * n_params
    bic = -2.0 * fit.llf + np.log(n_obs) * n_params
    return aic, bic


def _row(
    cache: AdmissibilityCache, fit: BatchFit, i: int, n_params: int
) -> dict[str, float]:
    observed = float(cache.table.counts.sum())
    aic = float(-2.0 * fit.llf[i] + 2.0 * n_params)
    bic = float(-2.0 * fit.llf[i] + math.log(observed) * n_params)
    unobserved = float(np.exp(fit.beta[i, 0]))
    return {
        "aic": aic,
        "bic": bic,
        "deviance": float(fit.deviance[i]),
        "df_resid": float(cache.table.n_cells - n_params),
        "unobserved": unobserved,
        "population": observed + unobserved,
    }


def _take(fit: BatchFit, i: int) -> BatchFit:
    return BatchFit(
        beta=fit.beta[i : i + 1], cov=fit.cov[i : i + 1], llf=fit.llf[i : i + 1],
        deviance=fit.deviance[i : i + 1], mu=fit.mu[i : i + 1],
        converged=fit.converged[i : i + 1],
    )


def _start(cache: AdmissibilityCache) -> BatchFit:
    fit = fit_sets(cache, [()])
    if not fit.converged[0]:
        raise EstimationError(
            "the main-effects model did not converge; the MLE does not exist for these counts"
        )
    return fit


def _next_candidates(cache: AdmissibilityCache, candidates: list[Pair], current: list[Pair],
                     max_interactions: int | None) -> tuple[list[Pair], str]:
    """The interactions a forward step may add to ``current``, or why the selection stops."""
    if max_interactions is not None and len(current) >= max_interactions:
        return [], f"max_interactions={max_interactions} reached"
    cands = [q for q in candidates if q not in current and cache.admissible([*current, q])]
    return cands, "" if cands else "no admissible interaction left to add"


def stepwise_aic(
    cache: AdmissibilityCache, p_stop: float, max_interactions: int | None
) -> Selected:
    """Forward selection by AIC with a p-value stop (Silverman 2014).

    Start from main effects. At each step fit every admissible model with one more two-list
    interaction and take the one with the lowest AIC (ties: the first pair in list order). Stop
    when it does not lower the AIC of the current model, or when the Wald p-value of its new
    coefficient exceeds ``p_stop``; that term is then not added.
    """
    k = cache.k
    current: list[Pair] = []
    fit = _start(cache)
    base = _row(cache, fit, 0, 1 + k)
    rows: list[dict[str, object]] = [
        {"step": 0, "term": "", **base, "delta_aic": np.nan, "p_value": np.nan,
         "decision": "start: main effects"}
    ]
    stop = ""
    candidates = [q for q in cache.pairs if q in cache.overlapping]
    while True:
        cands, stop = _next_candidates(cache, candidates, current, max_interactions)
        if stop:
            break
        trial = fit_sets(cache, [[*current, q] for q in cands])
        n_params = 1 + k + len(current) + 1
        aic = np.where(trial.converged, -2.0 * trial.llf + 2.0 * n_params, np.inf)
        if not np.isfinite(aic).any():
            stop = "no candidate model converged"
            break
        j = int(np.argmin(aic))
        q = cands[j]
        col = pair_columns(k, [q])[0]
        z = trial.beta[j, col] / trial.se[j, col]
        p = float(2.0 * special.ndtr(-abs(z)))
        row = _row(cache, trial, j, n_params)
        delta = row["aic"] - base["aic"]
        entry: dict[str, object] = {"step": len(current) + 1, "term": cache.pair_name(q), **row,
                                    "delta_aic": delta, "p_value": p}
        if not delta < 0:
            entry["decision"] = "not added: AIC not lowered"
            stop = (f"no interaction lowers the AIC (best candidate {cache.pair_name(q)}: "
                    f"AIC {row['aic']:.3f} against {base['aic']:.3f})")
            rows.append(entry)
            break
        if p > p_stop:
            entry["decision"] = f"not added: p > {p_stop:g}"
            stop = f"p-value of {cache.pair_name(q)} is {p:.3g} > p_stop = {p_stop:g}"
            rows.append(entry)
            break
        entry["decision"] = "added"
        rows.append(entry)
        current.append(q)
        fit = _take(trial, j)
        base = row
    table = pd.DataFrame(rows)
    return Selected(tuple(current), table, stop, fit)


def stepwise_poisson(
    cache: AdmissibilityCache, p_stop: float, max_interactions: int | None
) -> Selected:
    """Forward selection by Poisson p-values of the overlaps (SparseMSE's ``stepwisefit``).

    At each step, for every admissible interaction j:l not in the model, the overlap
    ``n*_jl`` (cases on both lists) is compared with its expectation ``lambda*_jl`` under the
    current model: ``p = min(P(X <= n*), P(X >= n*))`` for ``X ~ Poisson(lambda*)``. The
    smallest p-value is added while it is below ``p_stop`` (Chan, Silverman and Vincent 2021).
    """
    k = cache.k
    hist = cache.table.histories.astype(bool)
    overlap = cache.table.overlap()
    current: list[Pair] = []
    fit = _start(cache)
    base = _row(cache, fit, 0, 1 + k)
    rows: list[dict[str, object]] = [
        {"step": 0, "term": "", **base, "expected_overlap": np.nan, "overlap": np.nan,
         "p_value": np.nan, "decision": "start: main effects"}
    ]
    stop = ""
    candidates = [q for q in cache.pairs if q in cache.overlapping]
    while True:
        cands, stop = _next_candidates(cache, candidates, current, max_interactions)
        if stop:
            break
        mu = fit.mu[0]
        lam = np.array([mu[hist[:, a] & hist[:, b]].sum() for a, b in cands])
        nstar = np.array([overlap[a, b] for a, b in cands])
        # Poisson cdf and sf (scipy.stats.poisson's own special functions; sf(-1) = 1)
        pv = np.minimum(special.pdtr(nstar, lam),
                        np.where(nstar >= 1, special.pdtrc(np.maximum(nstar - 1, 0), lam), 1.0))
        j = int(np.argmin(pv))
        q = cands[j]
        entry: dict[str, object] = {
            "step": len(current) + 1, "term": cache.pair_name(q), "expected_overlap": lam[j],
            "overlap": nstar[j], "p_value": float(pv[j]),
        }
        if not pv[j] < p_stop:
            entry.update({key: np.nan for key in base})
            entry["decision"] = f"not added: p >= {p_stop:g}"
            stop = f"smallest Poisson p-value ({cache.pair_name(q)}: {pv[j]:.3g}) >= p_stop"
            rows.append(entry)
            break
        trial = fit_sets(cache, [[*current, q]])
        if not trial.converged[0]:
            stop = f"the model with {cache.pair_name(q)} did not converge"
            break
        current.append(q)
        fit = trial
        base = _row(cache, fit, 0, 1 + k + len(current))
        entry.update(base)
        entry["decision"] = "added"
        rows.append(entry)
    columns = ["step", "term", "aic", "bic", "deviance", "df_resid", "unobserved", "population",
               "expected_overlap", "overlap", "p_value", "decision"]
    return Selected(tuple(current), pd.DataFrame(rows)[columns], stop, fit)


def _count_models(q: int, max_int: int) -> int:
    return sum(math.comb(q, i) for i in range(max_int + 1))


def all_subsets(
    cache: AdmissibilityCache,
    criterion: str,
    max_interactions: int | None,
    *,
    include_inadmissible: bool = False,
) -> Selected:
    """Fit every admissible model with up to ``max_interactions`` interactions and rank them.

    The ranking has one row per model: its terms, AIC, BIC, deviance, residual df, the
    unobserved count and the population, the difference in ``criterion`` from the best model
    and the Akaike (or Schwarz) weight ``exp(-delta / 2) / sum exp(-delta / 2)``. With
    ``include_inadmissible`` models that cannot be fitted are listed too, with the reason.
    """
    k = cache.k
    pool = list(cache.pairs) if include_inadmissible else [
        q for q in cache.pairs if q in cache.overlapping
    ]
    top = len(pool) if max_interactions is None else min(max_interactions, len(pool))
    total = _count_models(len(pool), top)
    if total > MAX_MODELS:
        raise ArgumentError(
            f"an all-subsets search over {len(pool)} interactions would fit {total:,} models "
            f"(limit {MAX_MODELS:,}); pass `max_interactions=` or use selection='stepwise-aic'"
        )
    sets: list[tuple[Pair, ...]] = []
    for size in range(top, -1, -1):  # supersets first: admissibility is inherited by subsets
        sets.extend(itertools.combinations(pool, size))
    reasons = [cache.reason(s) for s in sets]
    ok = [i for i, r in enumerate(reasons) if r is None]
    observed = float(cache.table.counts.sum())
    n = len(sets)
    llf = np.full(n, np.nan)
    dev = np.full(n, np.nan)
    b0 = np.full(n, np.nan)
    for start in range(0, len(ok), _CHUNK):
        chunk = ok[start : start + _CHUNK]
        fit = fit_sets(cache, [sets[i] for i in chunk])
        conv = fit.converged
        for pos, i in enumerate(chunk):
            if conv[pos]:
                llf[i], dev[i], b0[i] = fit.llf[pos], fit.deviance[pos], fit.beta[pos, 0]
            else:
                reasons[i] = "did not converge"
    n_params = np.array([1 + k + len(s) for s in sets], dtype=np.float64)
    unobserved = np.exp(b0)
    frame = pd.DataFrame({
        "model": [model_name(cache, s) for s in sets],
        "n_interactions": [len(s) for s in sets],
        "n_params": n_params.astype(np.int64),
        "aic": -2.0 * llf + 2.0 * n_params,
        "bic": -2.0 * llf + math.log(observed) * n_params,
        "deviance": dev,
        "df_resid": cache.table.n_cells - n_params,
        "unobserved": unobserved,
        "population": observed + unobserved,
        "status": [r if r is not None else "ok" for r in reasons],
    })
    fitted = frame["status"].eq("ok").to_numpy()
    if not fitted.any():
        raise EstimationError("no model could be fitted to the capture table")
    crit = frame[criterion].to_numpy()
    delta = crit - np.nanmin(np.where(fitted, crit, np.nan))
    frame["delta"] = np.where(fitted, delta, np.nan)
    weight = np.where(fitted, np.exp(-0.5 * np.where(fitted, delta, 0.0)), 0.0)
    frame["weight"] = np.where(fitted, weight / weight.sum(), np.nan)
    frame["_size"] = frame["n_interactions"]
    frame["_key"] = [tuple(pool.index(q) for q in s) for s in sets]
    frame["_fitted"] = ~fitted
    frame = frame.sort_values(["_fitted", criterion, "_size", "_key"], kind="mergesort")
    best_index = int(frame.index[0])
    frame = frame.drop(columns=["_size", "_key", "_fitted"]).reset_index(drop=True)
    rank = pd.array(np.arange(1, n + 1), dtype="Int64")
    rank[~frame["status"].eq("ok").to_numpy()] = pd.NA
    frame.insert(0, "rank", rank)
    best = sets[best_index]
    fit = fit_sets(cache, [best])
    stop = f"best of {int(fitted.sum())} fitted models by {criterion.upper()}"
    return Selected(tuple(best), frame, stop, fit)
