"""``mse.fit``: validate, select a model, fit it, and compute the interval of the population."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

from flestimate._checks import check_choice, check_level, progress_bar, random_generator
from flestimate._version import __version__
from flestimate.errors import (
    ArgumentError,
    ArgumentTypeError,
    EstimationError,
    FlestimateWarning,
    format_values,
)
from flestimate.mse._intervals import (
    Interval,
    bootstrap_counts,
    profile_multinomial,
    profile_poisson,
    refit_fixed,
    wald,
)
from flestimate.mse._model import AdmissibilityCache, Pair, design
from flestimate.mse._result import MSEResult
from flestimate.mse._select import (
    Selected,
    all_subsets,
    fit_sets,
    model_name,
    stepwise_aic,
    stepwise_poisson,
)
from flestimate.mse._table import CaptureTable, capture_table

__all__ = ["CI_METHODS", "SELECTIONS", "fit"]

#: Model selection rules of :func:`fit` (``"fixed"`` is implied by ``interactions=``).
SELECTIONS: tuple[str, ...] = (
    "stepwise-aic", "stepwise-poisson", "aic", "bic", "all", "main", "fixed",
)
#: Interval methods of :func:`fit`.
CI_METHODS: tuple[str, ...] = ("profile", "profile-intercept", "bootstrap", "wald")
_P_STOP = {"stepwise-aic": 0.05, "stepwise-poisson": 0.02}
_RULES = {
    "stepwise-aic": "forward from main effects: add the interaction that lowers the AIC most; "
                    "stop when none lowers it or its Wald p-value exceeds p_stop",
    "stepwise-poisson": "forward from main effects: add the interaction whose overlap has the "
                        "smallest two-sided Poisson p-value under the current model, while it "
                        "is below p_stop (SparseMSE stepwisefit)",
    "aic": "all subsets of the overlapping interactions; smallest AIC",
    "bic": "all subsets of the overlapping interactions; smallest BIC",
    "all": "all subsets of the interactions ranked by AIC (unfittable ones listed); "
           "smallest AIC",
    "main": "main effects only (independent lists)",
    "fixed": "interactions given by the caller",
}


def _parse_interactions(
    interactions: Sequence[tuple[str, str] | str], lists: tuple[str, ...]
) -> list[Pair]:
    if isinstance(interactions, str):
        raise ArgumentTypeError(
            "`interactions` of `mse.fit()` must be a list of pairs such as [('LA', 'NG')] or "
            f"['LA:NG']; got the string {interactions!r}"
        )
    index = {name: i for i, name in enumerate(lists)}
    out: list[Pair] = []
    for item in interactions:
        parts = item.split(":") if isinstance(item, str) else list(item)
        if len(parts) != 2 or not all(isinstance(x, str) for x in parts):
            raise ArgumentTypeError(
                f"each interaction of `mse.fit()` must be a pair of list names such as "
                f"('LA', 'NG') or 'LA:NG'; got {item!r}"
            )
        unknown = [x for x in parts if x not in index]
        if unknown:
            raise ArgumentError(
                f"interaction {item!r} of `mse.fit()` names unknown list(s) "
                f"{format_values(unknown)}; the lists are {format_values(list(lists), 20)}"
            )
        a, b = sorted((index[parts[0]], index[parts[1]]))
        if a == b:
            raise ArgumentError(f"interaction {item!r} of `mse.fit()` pairs a list with itself")
        if (a, b) in out:
            raise ArgumentError(f"interaction {item!r} of `mse.fit()` is given twice")
        out.append((a, b))
    return out


def _check_lists(table: CaptureTable) -> None:
    """Errors that no model can cure: a list with no case, with every case, or isolated."""
    ov = table.overlap()
    totals = np.diag(ov)
    lists = table.lists
    empty = [lists[j] for j in range(table.k) if totals[j] == 0]
    if empty:
        raise EstimationError(
            f"list(s) {format_values(empty)} have no case; their main effects cannot be "
            "estimated: drop them from `lists=`"
        )
    n = float(table.counts.sum())
    full = [lists[j] for j in range(table.k) if totals[j] == n]
    if full:
        raise EstimationError(
            f"list(s) {format_values(full)} hold every observed case, so nothing is known about "
            "cases missed by them and the MLE does not exist: drop them from `lists=`"
        )
    off = ov - np.diag(totals)
    isolated = [lists[j] for j in range(table.k) if off[j].sum() == 0]
    if isolated:
        two = " (with two lists: m = 0, the Lincoln-Petersen estimate is infinite)"
        raise EstimationError(
            f"list(s) {format_values(isolated)} share no case with any other list; how they "
            "depend on the other lists cannot be estimated (no interaction with them has an "
            "MLE), so the population is not identifiable from the overlaps: drop or merge "
            "these lists" + (two if table.k == 2 else "")
        )


def _validate_args(
    selection: str, ci: str, level: float, p_stop: float | None, max_interactions: int | None,
    n_boot: int, reselect: bool,
) -> None:
    check_choice(selection, SELECTIONS, "selection", "mse.fit")
    check_choice(ci, CI_METHODS, "ci", "mse.fit")
    level = check_level(level, "mse.fit")
    if p_stop is not None:
        if selection not in _P_STOP:
            raise ArgumentError(
                "`p_stop` of `mse.fit()` applies to selection='stepwise-aic' or "
                f"'stepwise-poisson' only; got selection={selection!r}"
            )
        if isinstance(p_stop, bool) or not isinstance(p_stop, numbers.Real) or not (
            0 < p_stop <= 1
        ):
            raise ArgumentError(f"`p_stop` of `mse.fit()` must be in (0, 1]; got {p_stop!r}")
    if max_interactions is not None:
        if isinstance(max_interactions, bool) or not isinstance(max_interactions, int) or (
            max_interactions < 0
        ):
            raise ArgumentError(
                "`max_interactions` of `mse.fit()` must be a non-negative integer or None; "
                f"got {max_interactions!r}"
            )
        if selection in ("main", "fixed"):
            raise ArgumentError(
                f"`max_interactions` of `mse.fit()` does not apply to selection={selection!r}"
            )
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 20:
        raise ArgumentError(f"`n_boot` of `mse.fit()` must be an integer >= 20; got {n_boot!r}")
    if not isinstance(reselect, bool):
        raise ArgumentTypeError(f"`reselect` of `mse.fit()` must be True or False; got {reselect!r}")
    if reselect and ci != "bootstrap":
        raise ArgumentError("`reselect=True` of `mse.fit()` applies to ci='bootstrap' only")


def _select(
    cache: AdmissibilityCache, selection: str, fixed: list[Pair], p_stop: float,
    max_interactions: int | None,
) -> Selected:
    if selection == "stepwise-aic":
        return stepwise_aic(cache, p_stop, max_interactions)
    if selection == "stepwise-poisson":
        return stepwise_poisson(cache, p_stop, max_interactions)
    if selection in ("aic", "bic", "all"):
        criterion = "bic" if selection == "bic" else "aic"
        return all_subsets(cache, criterion, max_interactions,
                           include_inadmissible=selection == "all")
    pairs = fixed if selection == "fixed" else []
    why = cache.reason(pairs)
    if why is not None:
        raise EstimationError(
            f"the model {model_name(cache, pairs)} cannot be fitted to this capture table: {why}"
        )
    fit = fit_sets(cache, [pairs])
    if not fit.converged[0]:
        raise EstimationError(f"the model {model_name(cache, pairs)} did not converge")
    observed = float(cache.table.counts.sum())
    n_params = 1 + cache.k + len(pairs)
    llf = float(fit.llf[0])
    table = pd.DataFrame([{
        "model": model_name(cache, pairs),
        "n_params": n_params,
        "aic": -2.0 * llf + 2.0 * n_params,
        "bic": -2.0 * llf + math.log(observed) * n_params,
        "deviance": float(fit.deviance[0]),
        "df_resid": cache.table.n_cells - n_params,
        "unobserved": float(np.exp(fit.beta[0, 0])),
        "population": observed + float(np.exp(fit.beta[0, 0])),
    }])
    return Selected(tuple(pairs), table, selection, fit)


def _rng(seed: int | np.random.Generator | None) -> tuple[np.random.Generator, object]:
    return random_generator(seed, "mse.fit")


def _bootstrap(
    cache: AdmissibilityCache, selected: Selected, selection: str, fixed: list[Pair],
    p_stop: float, max_interactions: int | None, mu: np.ndarray, level: float, n_boot: int,
    rng: np.random.Generator, reselect: bool, progress: bool = False,
) -> tuple[Interval, int]:
    table = cache.table
    draws = bootstrap_counts(table.histories, mu, n_boot, rng)
    bar = progress_bar(n_boot, "MSE bootstrap", progress)
    if reselect and selection not in ("fixed", "main"):
        pops = np.full(n_boot, np.nan)
        for i in range(n_boot):
            bar.update(1)
            rep = table.with_counts(draws[i])
            try:
                _check_lists(rep)
                sel = _select(AdmissibilityCache(rep), selection, fixed, p_stop,
                              max_interactions)
            except EstimationError:
                continue
            if sel.fit.converged[0]:
                pops[i] = rep.counts.sum() + math.exp(float(sel.fit.beta[0, 0]))
        ok = np.isfinite(pops)
    else:
        # one vectorised refit of every replicate: the bar moves once, when it is done
        pops, ok = refit_fixed(cache.x_full, cache.columns(selected.pairs), draws)
        bar.update(n_boot)
    bar.close()
    n_ok = int(ok.sum())
    failed = n_boot - n_ok
    if n_ok < 10:
        raise EstimationError(
            f"only {n_ok} of {n_boot} bootstrap replicates could be fitted; no interval"
        )
    if failed:
        warnings.warn(
            FlestimateWarning(
                f"{failed} of {n_boot} bootstrap replicates could not be fitted and were left "
                "out of the percentile interval",
                "MSE_BOOTSTRAP",
            ),
            stacklevel=3,
        )
    alpha = 1.0 - level
    low, high = np.quantile(pops[ok], [alpha / 2.0, 1.0 - alpha / 2.0])
    return Interval(float(low), float(high)), failed


def fit(
    table: pd.DataFrame,
    count: str = "count",
    selection: str = "stepwise-aic",
    *,
    lists: Sequence[str] | None = None,
    interactions: Sequence[tuple[str, str] | str] | None = None,
    p_stop: float | None = None,
    max_interactions: int | None = None,
    ci: str = "profile",
    level: float = 0.95,
    n_boot: int = 999,
    seed: int | np.random.Generator | None = None,
    reselect: bool = False,
    progress: bool = False,
) -> MSEResult:
    """Multiple systems estimate of a population from ``k >= 2`` overlapping lists.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per observed capture history: a 0/1 column per list and a count column.
        Histories with no case may be omitted; the all-zero history must be.
    count : str
        The count column.
    selection : str
        How the two-list interactions are chosen:

        - ``"stepwise-aic"`` (default): forward from main effects, adding the interaction that
          lowers the AIC most, until none lowers it or the new term's Wald p-value exceeds
          ``p_stop`` (default 0.05; Silverman 2014, the UK 2013 estimate).
        - ``"stepwise-poisson"``: SparseMSE's ``stepwisefit`` rule, adding the interaction whose
          observed overlap is least compatible with the current model (Poisson p-value), while
          below ``p_stop`` (default 0.02, SparseMSE's default).
        - ``"aic"``, ``"bic"``: the best of all models with up to ``max_interactions``
          interactions; :attr:`MSEResult.models` ranks them all.
        - ``"all"``: as ``"aic"``, and the ranking also lists the models that cannot be fitted,
          with the reason.
        - ``"main"``: main effects only (independent lists).

        Interactions between lists with no case in common are never candidates: their MLE does
        not exist (Chan, Silverman and Vincent 2021); nor is any model whose design is rank
        deficient or whose MLE does not exist (the linear program of Fienberg and Rinaldo
        2012).
    lists : sequence of str, optional
        The list columns; by default every column except ``count``.
    interactions : sequence of pairs, optional
        An explicit model: ``[("LA", "NG"), "NG:GP"]``. Implies ``selection="fixed"``.
    p_stop : float, optional
        The p-value threshold of the stepwise rules.
    max_interactions : int, optional
        Most interactions in a model (all-subsets and stepwise searches).
    ci : {"profile", "profile-intercept", "bootstrap", "wald"}
        Interval of the population:

        - ``"profile"`` (default): the profile likelihood of ``N`` (multinomial likelihood of
          the complete table; Cormack 1992, Rcapture's ``closedpCI.t``).
        - ``"profile-intercept"``: the profile likelihood of the intercept of the Poisson
          model, ``n + exp(c)``. It is an interval for the *expected* population and leaves
          out the Poisson variation of the uncaught, so it covers a fixed population less
          often than nominal (90-94% for 95% in the simulations of docs/mse.md).
        - ``"bootstrap"``: parametric bootstrap percentile interval.
        - ``"wald"``: Wald interval on the log scale of the unobserved count with the complete
          standard error (Chao 1987; the log-normal interval of the two-list estimators).
    level : float
        Confidence level.
    n_boot : int
        Bootstrap replicates (``ci="bootstrap"``).
    seed : int or numpy.random.Generator, optional
        Seed of the bootstrap; recorded in the provenance (drawn and recorded when None).
    reselect : bool
        Re-run the model selection on every bootstrap replicate (slower; the interval then
        includes the model-selection uncertainty). Default: refit the selected model.
    progress : bool
        Show a progress bar of the bootstrap replicates (``tqdm``, on stderr; a widget in
        notebooks). Default: silent.

    Returns
    -------
    MSEResult

    Raises
    ------
    DataError
        An invalid capture table (see :func:`~flestimate.mse.capture_table`).
    EstimationError
        A list with no case, with every case, or with no case in common with any other list;
        an explicit model that is not identifiable or has no MLE; no fit converging.
    ArgumentError
        An unknown ``selection`` or ``ci``, a ``level`` outside (0, 1), and similar.

    Notes
    -----
    The counts ``y_h`` of the ``2^k - 1`` observable histories are independent Poisson with

    .. math::

        \\log \\mu_h = \\beta_0 + \\sum_j \\beta_j x_{hj} + \\sum_{(j, l) \\in I}
        \\beta_{jl} x_{hj} x_{hl},

    fitted by maximum likelihood (statsmodels GLM, Poisson family). The unobserved history has
    ``x = 0``, so the estimated number of uncaught cases is ``exp(b0)`` and the population is
    ``n + exp(b0)`` with ``n`` the observed cases. ``AIC = -2 l + 2 p`` and
    ``BIC = -2 l + p log n``. The profile interval is ``{N : 2 (l_max - l(N)) <=
    chi2_1(level)}`` where ``l(N)`` is the multinomial log-likelihood of the complete table with
    ``N - n`` uncaught, maximised over the model's other parameters. The standard error is
    ``se = sqrt(exp(b0) + exp(2 b0) Var(b0))`` and the Wald interval
    ``(n + f0 / C, n + f0 C)`` with ``f0 = exp(b0)`` and ``C = exp(z sqrt(log(1 + se^2 /
    f0^2)))``. The interval is conditional on the selected model unless ``ci="bootstrap",
    reselect=True``.

    References
    ----------
    Silverman, B. W. (2014). *Modern slavery: an application of multiple systems estimation*.
    Home Office.
    Chan, L., Silverman, B. W. and Vincent, K. (2021). Multiple systems estimation for sparse
    capture data: inferential challenges when there are nonoverlapping lists. *JASA* 116,
    1297-1306.
    Fienberg, S. E. and Rinaldo, A. (2012). Maximum likelihood estimation in log-linear models.
    *Ann. Statist.* 40, 996-1023.
    Cormack, R. M. (1992). Interval estimation for mark-recapture studies of closed
    populations. *Biometrics* 48, 567-576.
    """
    selection = _selection_of(selection, interactions)
    _validate_args(selection, ci, level, p_stop, max_interactions, n_boot, reselect)
    tab = capture_table(table, count, lists)
    _check_lists(tab)
    cache = _admissibility(tab)
    fixed = _parse_interactions(interactions, tab.lists) if interactions is not None else []
    threshold = float(p_stop) if p_stop is not None else _P_STOP.get(selection, math.nan)
    selected = _select(cache, selection, fixed, threshold, max_interactions)
    model = _refit(tab, cache, selected)
    provenance = _provenance(tab, selection, threshold, max_interactions, selected, ci, level)
    interval, bootstrap = _population_interval(
        ci, model, tab, cache, selected, selection, fixed, threshold, max_interactions,
        float(level), n_boot, seed, reselect, bool(progress))
    provenance.update(bootstrap)
    provenance["ci_note"] = interval.note
    provenance["version"] = __version__
    return _result(tab, cache, selected, model, interval, selection, ci, float(level),
                   provenance)


def _selection_of(selection: str, interactions: Sequence[tuple[str, str] | str] | None) -> str:
    """The selection rule: ``"fixed"`` when the caller gives the interactions (then no other
    rule may be named), which ``"fixed"`` requires."""
    if interactions is not None:
        if selection not in ("stepwise-aic", "fixed"):
            raise ArgumentError(
                "`interactions=` of `mse.fit()` gives the model: leave `selection` out or set "
                f"it to 'fixed'; got selection={selection!r}"
            )
        return "fixed"
    if selection == "fixed":
        raise ArgumentError("selection='fixed' of `mse.fit()` needs `interactions=`")
    return selection


def _admissibility(tab: CaptureTable) -> AdmissibilityCache:
    """The admissibility of the table's models, once the main-effects model is known to be
    fittable (otherwise no model is)."""
    cache = AdmissibilityCache(tab)
    main_reason = cache.reason([])
    if main_reason is not None:
        raise EstimationError(f"the main-effects model cannot be fitted: {main_reason}")
    return cache


@dataclass(frozen=True)
class _Refit:
    """The selected model refitted by statsmodels: its design, coefficients with their SEs and
    p-values, log-likelihood, deviance and fitted counts."""

    x: np.ndarray
    beta: np.ndarray
    bse: np.ndarray
    pvalues: np.ndarray
    llf: float
    deviance: float
    mu: np.ndarray

    @property
    def unobserved(self) -> float:
        """``exp(b0)``: the fitted count of the history on no list."""
        return math.exp(float(self.beta[0]))

    @property
    def se(self) -> float:
        """The SE of the population, ``sqrt(exp(b0) + exp(2 b0) Var(b0))``."""
        return math.sqrt(self.unobserved + self.unobserved**2 * float(self.bse[0]) ** 2)


def _refit(tab: CaptureTable, cache: AdmissibilityCache, selected: Selected) -> _Refit:
    """The selected model fitted by statsmodels' Poisson GLM from the batched fit's
    coefficients, for the reported coefficients, SEs and p-values."""
    pairs = list(selected.pairs)
    x = design(tab.histories, pairs)
    glm = sm.GLM(tab.counts, x, family=sm.families.Poisson())
    with warnings.catch_warnings():
        # Existence was checked (linear program); a saturated model (k = 2) fits exactly and
        # statsmodels then warns about separation and a zero residual df.
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.filterwarnings("ignore", "divide by zero", RuntimeWarning)
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        start = selected.fit.beta[0, cache.columns(pairs)]
        res = glm.fit(start_params=start, tol=1e-12, maxiter=200)
    if not bool(getattr(res, "converged", True)) or not np.all(np.isfinite(res.params)):
        raise EstimationError(f"the model {model_name(cache, pairs)} did not converge")
    return _Refit(x=x, beta=np.asarray(res.params, dtype=np.float64),
                  bse=np.asarray(res.bse, dtype=np.float64),
                  pvalues=np.asarray(res.pvalues, dtype=np.float64), llf=float(res.llf),
                  deviance=float(res.deviance),
                  mu=np.asarray(res.fittedvalues, dtype=np.float64))


def _provenance(tab: CaptureTable, selection: str, threshold: float,
                max_interactions: int | None, selected: Selected, ci: str,
                level: float) -> dict[str, object]:
    """The choices behind the numbers: the rule and its threshold, why the selection
    stopped, the table's cells and the interval settings (its note comes with the
    interval)."""
    return {
        "method": "Poisson log-linear multiple systems estimate",
        "rule": _RULES[selection],
        "p_stop": None if math.isnan(threshold) else threshold,
        "max_interactions": max_interactions,
        "stop": selected.stop,
        "n_cells": tab.n_cells,
        "zero_cells": int((tab.counts == 0).sum()),
        "bic_penalty": "log(observed cases) per parameter",
        "ci_method": ci,
        "level": float(level),
        "ci_note": "",
    }


def _population_interval(
    ci: str, model: _Refit, tab: CaptureTable, cache: AdmissibilityCache, selected: Selected,
    selection: str, fixed: list[Pair], threshold: float, max_interactions: int | None,
    level: float, n_boot: int, seed: int | np.random.Generator | None, reselect: bool,
    progress: bool,
) -> tuple[Interval, dict[str, object]]:
    """The interval of the population by ``ci`` (profile likelihood of N or of the
    intercept, Wald, or parametric bootstrap), with the bootstrap's settings for the
    provenance (none for the other methods)."""
    n = float(tab.counts.sum())
    if ci == "profile":
        return profile_multinomial(model.x, tab.counts, n + model.unobserved, level), {}
    if ci == "profile-intercept":
        return profile_poisson(model.x, tab.counts, model.beta, model.llf,
                               float(model.bse[0]), level), {}
    if ci == "wald":
        return wald(n, model.unobserved, model.se, level), {}
    rng, seed_used = _rng(seed)
    interval, failed = _bootstrap(cache, selected, selection, fixed, threshold,
                                  max_interactions, model.mu, level, n_boot, rng, reselect,
                                  progress)
    return interval, {"n_boot": n_boot, "seed": seed_used, "reselect": reselect,
                      "n_boot_failed": failed}


def _result(tab: CaptureTable, cache: AdmissibilityCache, selected: Selected, model: _Refit,
            interval: Interval, selection: str, ci: str, level: float,
            provenance: dict[str, object]) -> MSEResult:
    """The result: the population ``n + exp(b0)`` with its SE and interval, the model's fit
    statistics (``AIC = -2 l + 2 p``, ``BIC = -2 l + p log n``), its coefficients and the
    fitted counts (the history on no list last)."""
    pairs = list(selected.pairs)
    names = ["(Intercept)", *tab.lists, *(cache.pair_name(q) for q in pairs)]
    n = float(tab.counts.sum())
    n_params = len(model.beta)
    coefficients = pd.DataFrame({
        "term": names, "estimate": model.beta, "se": model.bse, "z": model.beta / model.bse,
        "p": model.pvalues,
    })
    fitted = pd.DataFrame(
        np.vstack([tab.histories, np.zeros((1, tab.k), dtype=np.int8)]).astype(np.int64),
        columns=list(tab.lists),
    )
    fitted["observed"] = np.append(tab.counts, np.nan)
    fitted["fitted"] = np.append(model.mu, model.unobserved)
    return MSEResult(
        population=n + model.unobserved,
        unobserved=model.unobserved,
        observed=tab.observed,
        se=model.se,
        ci_low=interval.low,
        ci_high=interval.high,
        level=level,
        ci_method=ci,
        interactions=tuple((tab.lists[a], tab.lists[b]) for a, b in pairs),
        lists=tab.lists,
        aic=-2.0 * model.llf + 2.0 * n_params,
        bic=-2.0 * model.llf + math.log(n) * n_params,
        deviance=model.deviance,
        df_resid=tab.n_cells - n_params,
        selection=selection,
        coefficients=coefficients,
        models=selected.table,
        fitted=fitted,
        provenance=provenance,
    )
