"""Network scale-up estimators of hidden populations from aggregated relational data: the
basic (Killworth) estimator and the generalized estimator of Feehan and Salganik (2016).

:func:`scale_up` reads top to bottom as its steps: the checked inputs (:func:`_setup`), the
respondents' counts and degrees, the weighted totals of every quantity per cell in the full
sample and in every replicate, the estimates and their variances, the intervals, the table
with its disclosure control, the known-population check and the provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from flestimate._checks import check_choice, check_level, known_keywords
from flestimate._version import __version__
from flestimate.design import SurveyDesign
from flestimate.disclosure import DisclosureRules, load_disclosure
from flestimate.errors import ArgumentError
from flestimate.nsum._check import KnownPopulationCheck, known_check
from flestimate.nsum._domains import Cells, cells_of
from flestimate.nsum._inputs import (
    HiddenSample,
    check_factor,
    check_total,
    count_matrix,
    design_of,
    hidden_columns,
    hidden_sample_of,
    known_sizes,
    positive_number,
)
from flestimate.nsum._replicates import (
    BOOTSTRAP_METHODS,
    SurveyReplicates,
    cell_totals,
    check_replicates,
    hidden_replicates,
    rng_of,
    survey_replicates,
    survey_variance,
)
from flestimate.nsum._result import ScaleUpResult
from flestimate.replicate import ReplicateDesign

__all__ = ["CI_METHODS", "METHODS", "internal_validation", "known_population_degrees",
           "scale_up"]

#: ``method=`` choices of :func:`scale_up`.
METHODS = ("basic", "generalized")
#: ``ci=`` choices of :func:`scale_up`.
CI_METHODS = ("log", "percentile")
#: The quantities summed per cell for every hidden column, in this order.
_Y_G, _N_G, _Y_B, _D_B, _N_B = range(5)


@dataclass(frozen=True)
class _Setup:
    design: SurveyDesign | ReplicateDesign
    hidden: list[str]
    known: dict[str, float]
    cells: Cells
    method: str
    factor: float
    degree_ratio: float
    transmission: float
    visibility: float | None
    sample: HiddenSample | None
    replicates: int
    rng: np.random.Generator
    level: float
    ci: str
    rules: DisclosureRules
    seed: Any


@known_keywords
def scale_up(design_or_frame: SurveyDesign | ReplicateDesign | pd.DataFrame,
             hidden: str | list[str], known: dict[str, float],
             total: float | dict[Any, float], method: str = "basic", *,
             weights: str | None = None, by: str | list[str] | None = None,
             degree_ratio: float = 1.0, transmission: float = 1.0,
             visibility: float | None = None, hidden_sample: pd.DataFrame | None = None,
             hidden_reports: list[str] | dict[str, str] | None = None,
             hidden_weights: str | None = None, replicates: int = 500,
             seed: int | np.random.Generator | None = None, level: float = 0.95,
             disclosure: Any = None, ci: str = "log") -> ScaleUpResult:
    """Network scale-up estimates of hidden populations from "how many ... do you know?"
    questions asked in a household survey (aggregated relational data).

    Parameters
    ----------
    design_or_frame : SurveyDesign, ReplicateDesign or DataFrame
        The survey of the frame population; a DataFrame is a simple random sample with
        ``weights`` (equal weights if None).
    hidden : str or list of str
        Columns of each respondent's count of people known in the hidden population.
    known : dict
        Column -> size ``N_k`` of each population of known size ("how many nurses do you
        know?"); every size in (0, N).
    total : float or dict
        ``N``, the frame population's size; with ``by=``, a mapping of every domain level (a
        tuple for several by-columns) to its size, or N alone (the domains' sizes are then
        estimated as N times their share of the weights).
    method : {"basic", "generalized"}
        Killworth's estimator, or Feehan and Salganik's generalized estimator (needs
        ``visibility`` or ``hidden_sample``).
    weights : str, optional
        Weight column of a DataFrame.
    by : str or list of str, optional
        Domain columns: one estimate per domain besides the national one.
    degree_ratio, transmission : float
        Adjustment factors in (0, 1] of the basic estimator (R ``deg.ratio``, ``tx.rate``).
    visibility : float, optional
        The hidden population's average visibility ``vbar_{H,F}`` (generalized).
    hidden_sample, hidden_reports, hidden_weights : optional
        An enriched sample of the hidden population (generalized): its in-report columns (a
        mapping known column -> column, or a list in the order of ``known``; by default the
        same names as ``known``) and its weight column (equal weights if None).
    replicates : int
        Bootstrap replicates of a Taylor design or a frame (a replicate design uses its own),
        and of the hidden sample.
    seed : int or numpy Generator, optional
        The seed of every bootstrap draw (the survey's first, then the hidden sample's).
    level : float
        Confidence level.
    disclosure : optional
        Disclosure rules (:func:`flestimate.disclosure.load_disclosure`); None: the threshold
        rule (3 respondents).
    ci : {"log", "percentile"}
        Log-scale Wald interval from the replicate SE (default), or the percentile interval
        of the bootstrap replicates (bootstrap replicates only).

    Returns
    -------
    ScaleUpResult
        One row per hidden column and cell (national, then each domain).

    Notes
    -----
    Known-population degrees (Killworth et al. 1998; R networkreporting
    ``kp.individual.estimator``): ``d_i = N sum_k y_ik / N_K``, ``N_K = sum_k N_k``.
    Basic estimator (R ``nsum.estimator(deg.ratio, tx.rate)``)::

        N_H = N sum_i w_i y_iH / sum_i w_i d_i / (degree_ratio * transmission)

    Generalized estimator (Feehan and Salganik 2016, eq. 9 and 15)::

        N_H = y_{F,H} / vbar_{H,F},   y_{F,H} = N sum_i w_i y_iH / sum_i w_i,
        vbar_{H,F} = (N / N_A) sum_{j in s_H} w_j v_j / sum_{j in s_H} w_j

    with ``v_j`` the in-reports of hidden respondent j summed over the probe populations and
    ``N_A`` their total size. ``y_{F,H}`` is the Hajek form of their out-reports total (the
    same when the weights add up to N; unchanged by a rescaling of the weights). A domain's
    estimate puts the domain's size ``N_d`` for N and its respondents for the sums: the
    hidden population in the personal networks of the domain's residents, scaled to the
    domain (the hidden population living in the domain when networks stay in the domain).

    Variance: ``scale sum_r rscales_r (theta_r - centre)^2`` over the survey's replicates
    (a Rao-Wu-Yue rescaled bootstrap of a Taylor design's PSUs, or a replicate design's own
    replicates: R ``svrVar``), plus, for an estimated visibility, the bootstrap variance over
    independent with-replacement resamples of the hidden sample (the two samples are
    independent). Interval: ``est * exp(+-z se / est)`` (log-scale Wald: the estimate is
    positive and right-skewed), or the percentile interval of the joint replicates.
    Respondents with a missing count are left out of that column's estimate (missing known
    counts: out of the degrees), counted in ``n_missing`` and the provenance.

    References
    ----------
    Killworth, P. D., McCarty, C., Bernard, H. R., Shelley, G. A., Johnsen, E. C. (1998).
    Estimation of seroprevalence, rape, and homelessness in the United States using a social
    network approach. *Evaluation Review* 22(2), 289-308.
    Feehan, D. M., Salganik, M. J. (2016). Generalizing the network scale-up method.
    *Sociological Methodology* 46(1), 153-186.
    """
    s = _setup(design_or_frame, hidden, known, total, method, weights, by, degree_ratio,
               transmission, visibility, hidden_sample, hidden_reports, hidden_weights,
               replicates, seed, level, disclosure, ci)
    y, yk, degrees = _counts(s)
    reps = survey_replicates(s.design, s.replicates, s.rng)
    vbar, vbar_reps = _visibility(s)
    sums = _cell_sums(s, y, degrees, reps)
    est, se, joint = _estimates(s, sums, reps, vbar, vbar_reps)
    low, high = _interval(s, est, se, joint)
    table = _table(s, y, degrees, sums, est, se, low, high)
    table, protected = _protect(table, s.rules)
    check = (known_check(yk, s.known, s.cells.total, reps, s.level)
             if len(s.known) >= 2 else None)
    prov = _provenance(s, y, degrees, reps, vbar, protected)
    return ScaleUpResult(table, check, prov)


def _setup(design_or_frame: Any, hidden: Any, known: Any, total: Any, method: Any,
           weights: Any, by: Any, degree_ratio: Any, transmission: Any, visibility: Any,
           sample: Any, reports: Any, sample_weights: Any, replicates: Any, seed: Any,
           level: Any, disclosure: Any, ci: Any) -> _Setup:
    """Every argument checked, in the order of the signature."""
    func = "scale_up"
    design = design_of(design_or_frame, weights, func)
    cols = hidden_columns(hidden, func)
    m = check_choice(method, METHODS, "method", func)
    cells = cells_of(design, by, check_total(total, func), func)
    sizes = known_sizes(known, cells.total, func,
                        allow_empty=m == "generalized" and visibility is not None)
    dr = check_factor(degree_ratio, "degree_ratio", func)
    tx = check_factor(transmission, "transmission", func)
    vis, hs = None, None
    if m == "basic":
        extra = {"visibility": visibility, "hidden_sample": sample,
                 "hidden_reports": reports, "hidden_weights": sample_weights}
        given = [k for k, v in extra.items() if v is not None]
        if given:
            raise ArgumentError(f"`{given[0]}` of `{func}()` applies to method='generalized' "
                                f"only")
    else:
        if dr != 1 or tx != 1:
            raise ArgumentError(f"`degree_ratio` and `transmission` of `{func}()` apply to "
                                f"method='basic'; the generalized estimator's visibility "
                                f"already holds them; got {dr!r}, {tx!r}")
        if (visibility is None) == (sample is None):
            raise ArgumentError(f"method='generalized' of `{func}()` needs exactly one of "
                                f"`visibility` (a number) and `hidden_sample` (a DataFrame)")
        if visibility is not None:
            vis = positive_number(visibility, "visibility", func)
            if reports is not None or sample_weights is not None:
                raise ArgumentError(f"`hidden_reports` and `hidden_weights` of `{func}()` "
                                    f"apply with `hidden_sample` only")
        else:
            hs = hidden_sample_of(sample, reports, sample_weights, sizes, func)
    lev = check_level(level, func)
    ci_m = check_choice(ci, CI_METHODS, "ci", func)
    rules = load_disclosure("threshold" if disclosure is None else disclosure,
                            where=f"`disclosure` of `{func}()`")
    n_rep = check_replicates(replicates, func)
    rng, seed_text = rng_of(seed, func)
    return _Setup(design, cols, sizes, cells, m, dr * tx, dr, tx, vis, hs, n_rep, rng, lev,
                  ci_m, rules, seed_text)


def _counts(s: _Setup) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hidden counts (rows x hidden), the known counts (rows x known) and the degrees."""
    data = s.design.data
    n_total = s.cells.total
    y = count_matrix(data, s.hidden, "hidden", "scale_up", [n_total] * len(s.hidden))
    yk = count_matrix(data, list(s.known), "known", "scale_up", list(s.known.values()))
    return y, yk, _degrees(yk, s.known, n_total)


def _degrees(yk: np.ndarray, known: dict[str, float], n_total: float) -> np.ndarray:
    """``d_i = N sum_k y_ik / N_K``; NaN when a known count is missing (complete cases)."""
    if not known:
        return np.full(len(yk), np.nan)
    out: np.ndarray = n_total * yk.sum(axis=1) / sum(known.values())
    return out


def _visibility(s: _Setup) -> tuple[float | None, np.ndarray | None]:
    """``vbar_{H,F}`` (given, or estimated from the hidden sample) and its bootstrap
    replicates (None when given)."""
    if s.method == "basic":
        return None, None
    if s.sample is None:
        return s.visibility, None
    hs = s.sample
    ratio = s.cells.total / hs.probe_size
    vbar = ratio * float(np.sum(hs.weights * hs.reports) / np.sum(hs.weights))
    return vbar, ratio * hidden_replicates(hs, s.replicates, s.rng)


@dataclass(frozen=True)
class _Sums:
    """Weighted totals per cell (national first): ``t`` (cells x 5 x hidden), ``t_rep`` (...
    x replicates), the cells' sizes ``size`` (cells) and ``size_rep`` (cells x replicates)."""

    t: np.ndarray
    t_rep: np.ndarray
    size: np.ndarray
    size_rep: np.ndarray


def _cell_sums(s: _Setup, y: np.ndarray, degrees: np.ndarray, reps: SurveyReplicates
               ) -> _Sums:
    """The five totals of every hidden column in every cell: ``sum w y`` and ``sum w`` over
    the rows answering it (generalized), ``sum w y``, ``sum w d`` and ``sum w`` over those
    also with a degree (basic); and the cells' sizes."""
    n, h = y.shape
    answered = ~np.isnan(y)
    with_degree = answered & ~np.isnan(degrees)[:, None]
    y0 = np.where(answered, y, 0.0)
    d0 = np.where(np.isnan(degrees), 0.0, degrees)[:, None]
    quantities = np.stack([y0, answered, np.where(with_degree, y0, 0.0),
                           np.where(with_degree, d0, 0.0), with_degree], axis=1)
    values = np.concatenate([quantities.reshape(n, 5 * h).astype(float), np.ones((n, 1))],
                            axis=1)
    full, rep = cell_totals(values, np.zeros(n, dtype=np.int64), 1, reps)
    cells = s.cells
    if cells.n_domains:
        dom_full, dom_rep = cell_totals(values, cells.code, cells.n_domains, reps)
        full, rep = np.concatenate([full, dom_full]), np.concatenate([rep, dom_rep])
    c = full.shape[0]
    if cells.sizes is not None:
        size = np.concatenate([[cells.total], cells.sizes])
        size_rep = np.repeat(size[:, None], reps.n_replicates, axis=1)
    else:  # N_d = N W_d / W, in the full sample and in every replicate
        size = cells.total * full[:, -1] / full[0, -1]
        size_rep = cells.total * rep[:, -1, :] / rep[0:1, -1, :]
    return _Sums(full[:, :-1].reshape(c, 5, h), rep[:, :-1, :].reshape(c, 5, h, -1), size,
                 size_rep)


def _point(method: str, size: np.ndarray, t: np.ndarray, factor: float,
           vbar: float | np.ndarray | None) -> np.ndarray:
    """The estimates from the totals ``t`` (cells x 5 x hidden [x replicates]) and the cells'
    sizes (broadcast against ``t[:, 0]``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "basic":
            out: np.ndarray = size * t[:, _Y_B] / t[:, _D_B] / factor
        else:
            out = size * (t[:, _Y_G] / t[:, _N_G]) / vbar
    return out


def _estimates(s: _Setup, sums: _Sums, reps: SurveyReplicates, vbar: float | None,
               vbar_reps: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Estimates and SEs (cells x hidden) and, for a percentile interval, the joint
    replicates (cells x hidden x replicates)."""
    est = _point(s.method, sums.size[:, None], sums.t, s.factor, vbar)
    theta = _point(s.method, sums.size_rep[:, None, :], sums.t_rep, s.factor, vbar)
    var = survey_variance(theta, est, reps)
    if vbar_reps is not None:  # the hidden sample, independent of the survey
        from_hidden = _point(s.method, sums.size[:, None, None], sums.t[..., None], s.factor,
                             vbar_reps)
        var = var + np.var(from_hidden, axis=-1, ddof=1)
    joint = None
    if s.ci == "percentile":
        if reps.method not in BOOTSTRAP_METHODS:
            raise ArgumentError(f"ci='percentile' of `scale_up()` needs bootstrap replicates; "
                                f"the design's are {reps.method!r}: use ci='log'")
        if vbar_reps is not None and vbar_reps.size != reps.n_replicates:
            raise ArgumentError(f"ci='percentile' of `scale_up()` pairs the survey's "
                                f"{reps.n_replicates} replicates with the hidden sample's: "
                                f"pass replicates={reps.n_replicates}")
        joint = _point(s.method, sums.size_rep[:, None, :], sums.t_rep, s.factor,
                       vbar if vbar_reps is None else vbar_reps)
    return est, np.sqrt(var), joint


def _interval(s: _Setup, est: np.ndarray, se: np.ndarray, joint: np.ndarray | None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Log-scale Wald ``est exp(+-z se/est)``, or the replicates' percentiles."""
    if joint is not None:
        alpha = (1 - s.level) / 2
        with np.errstate(invalid="ignore"):
            q = np.nanquantile(joint, [alpha, 1 - alpha], axis=-1)
        ok = np.isfinite(est) & np.isfinite(joint).all(axis=-1)
        return np.where(ok, q[0], np.nan), np.where(ok, q[1], np.nan)
    z = NormalDist().inv_cdf((1 + s.level) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.exp(z * se / est)
    ok = np.isfinite(spread) & (est > 0)
    return np.where(ok, est / spread, np.nan), np.where(ok, est * spread, np.nan)


def _unweighted(mask: np.ndarray, cells: Cells) -> np.ndarray:
    """Rows of ``mask`` (rows x hidden) per cell, national first: cells x hidden."""
    national: np.ndarray = mask.sum(axis=0)[None, :]
    if not cells.n_domains:
        return national
    inside = cells.code >= 0
    per = [np.bincount(cells.code[inside], weights=mask[inside, j], minlength=cells.n_domains)
           for j in range(mask.shape[1])]
    out: np.ndarray = np.concatenate([national, np.stack(per, axis=1)])
    return out


def _table(s: _Setup, y: np.ndarray, degrees: np.ndarray, sums: _Sums, est: np.ndarray,
           se: np.ndarray, low: np.ndarray, high: np.ndarray) -> pd.DataFrame:
    """The tidy table: one row per hidden column and cell."""
    used = ~np.isnan(y)
    if s.method == "basic":
        used &= ~np.isnan(degrees)[:, None]
    n = _unweighted(used, s.cells)
    rows = _unweighted(np.ones_like(used), s.cells)
    reporting = _unweighted(used & (np.nan_to_num(y) >= 1), s.cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_degree = sums.t[:, _D_B] / sums.t[:, _N_B]
        cv = se / est
    c, h = est.shape
    flag = np.where(~np.isfinite(est), "estimate undefined: no respondent (with a degree) "
                    "in the cell, or no contact with the known populations reported",
                    np.where(est == 0, "no respondent reports a contact: interval undefined",
                             ""))

    def col(a: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.asarray(a).T.reshape(-1)
        return out

    table: pd.DataFrame = pd.DataFrame({
        "hidden": np.repeat(s.hidden, c),
        "by": np.tile(["national"] + [s.cells.by] * s.cells.n_domains, h),
        "level": np.tile(["all", *s.cells.labels], h),
        "estimate": col(est), "se": col(se), "ci_low": col(low), "ci_high": col(high),
        "n": col(n).astype(np.int64), "mean_degree": col(mean_degree),
        "method": s.method, "population": np.tile(sums.size, h),
        "prevalence": col(est / sums.size[:, None]), "cv": col(cv),
        "n_missing": col(rows - n).astype(np.int64),
        "n_reporting": col(reporting).astype(np.int64), "flag": col(flag),
    })
    return table


def _protect(table: pd.DataFrame, rules: DisclosureRules
             ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The threshold rule: a cell resting on fewer than ``threshold`` respondents reporting
    a contact (but some), or in a domain of fewer respondents, is blanked.

    No complementary suppression is needed: scale-up estimates of domains are ratios with
    their own denominators and do not add up to the national one, so a blank cell cannot be
    recovered by subtraction."""
    out = table.copy()
    out["disclosure"] = "publish"
    out["disclosure_reason"] = ""
    summary: dict[str, Any] = {**rules.to_dict(), "primary": 0, "secondary": 0}
    if rules.rule != "none":
        summary["description"] = (f"disclosure control: threshold rule, no estimate resting "
                                  f"on fewer than {rules.threshold} respondents reporting a "
                                  f"contact or in a domain of fewer respondents (blank; no "
                                  f"complementary suppression: domain estimates do not add "
                                  f"up to the national one)")
    if rules.rule == "none":
        return out, summary
    k = rules.threshold
    cases = out["n_reporting"].to_numpy()
    small_cases = (cases > 0) & (cases < k)
    small_domain = (out["n"] + out["n_missing"]).to_numpy() < k
    hide = small_cases | small_domain
    out.loc[hide, "disclosure"] = "primary"
    out.loc[small_cases, "disclosure_reason"] = [
        f"{c} respondent{'s' if c != 1 else ''} reporting a contact < {k}"
        for c in cases[small_cases]]
    out.loc[small_domain, "disclosure_reason"] = f"fewer than {k} respondents in the domain"
    for name in ("estimate", "se", "ci_low", "ci_high", "prevalence", "cv"):
        out.loc[hide, name] = np.nan
    out["n_reporting"] = out["n_reporting"].astype("Int64")
    out.loc[hide, "n_reporting"] = pd.NA
    summary["primary"] = int(hide.sum())
    return out, summary


def _provenance(s: _Setup, y: np.ndarray, degrees: np.ndarray, reps: SurveyReplicates,
                vbar: float | None, protected: dict[str, Any]) -> dict[str, Any]:
    """Every choice behind the numbers, JSON-ready."""
    cells = s.cells
    formula = ("N * sum w y_H / sum w d / (degree_ratio * transmission), "
               "d = N sum_k y_k / N_K" if s.method == "basic" else
               "N * (sum w y_H / sum w) / vbar_{H,F}")
    hidden_sample = None
    if s.sample is not None:
        hs = s.sample
        hidden_sample = {"n_rows": hs.n_rows, "n_used": int(hs.reports.size),
                         "n_missing": hs.n_missing, "weights": hs.weights_col,
                         "probes": dict(hs.probes), "probe_size": hs.probe_size,
                         "bootstrap": f"with replacement, {s.replicates} replicates"}
    return {
        "estimator": "scale_up", "method": s.method, "formula": formula,
        "degree_ratio": s.degree_ratio, "transmission": s.transmission,
        "visibility": None if vbar is None else float(vbar),
        "visibility_source": (None if s.method == "basic" else
                              "given" if s.sample is None else "estimated (hidden sample)"),
        "hidden_sample": hidden_sample,
        "total": cells.total, "domain_sizes": (
            None if not cells.n_domains else
            dict(zip(cells.labels, map(float, cells.sizes), strict=True))
            if cells.sizes is not None else "estimated: N x the domain's share of weights"),
        "known": dict(s.known), "known_total": float(sum(s.known.values())),
        "hidden": list(s.hidden), "by": None if not cells.n_domains else cells.by,
        "n_missing_hidden": {c: int(np.isnan(y[:, j]).sum()) for j, c in enumerate(s.hidden)},
        "n_missing_known": int(np.isnan(degrees).sum()) if s.known else 0,
        "n_outside_domains": cells.n_outside,
        "variance": f"{reps.source}: scale {reps.scale:.6g}, "
                    f"{'mse' if reps.mse else 'centred on the mean of the replicates'}"
                    + ("; plus the hidden sample's bootstrap variance"
                       if s.sample is not None else ""),
        "replicates": reps.n_replicates, "replicate_method": reps.method, "seed": s.seed,
        "ci_method": ("log-scale Wald from the replicate SE" if s.ci == "log"
                      else "percentile of the bootstrap replicates"),
        "level": s.level, "design": reps.summary, "disclosure": protected,
        "version": __version__,
    }


@known_keywords
def known_population_degrees(design_or_frame: SurveyDesign | ReplicateDesign | pd.DataFrame,
                             known: dict[str, float], total: float, *,
                             weights: str | None = None) -> np.ndarray:
    """Each respondent's personal network size by the known-population method.

    Parameters
    ----------
    design_or_frame : SurveyDesign, ReplicateDesign or DataFrame
    known : dict
        Column -> size of each population of known size.
    total : float
        N, the frame population's size.
    weights : str, optional
        Weight column of a DataFrame (checked; the degrees themselves are unweighted).

    Returns
    -------
    numpy.ndarray
        ``d_i`` for every row, NaN where a known count is missing.

    Notes
    -----
    ``d_i = N sum_k y_ik / sum_k N_k`` (Killworth et al. 1998; R networkreporting
    ``kp.individual.estimator(alter.popn.size=N, total.kp.size=sum(N_k))``, complete cases).
    """
    func = "known_population_degrees"
    design = design_of(design_or_frame, weights, func)
    n_total = positive_number(total, "total", func)
    sizes = known_sizes(known, n_total, func)
    yk = count_matrix(design.data, list(sizes), "known", func, list(sizes.values()))
    return _degrees(yk, sizes, n_total)


@known_keywords
def internal_validation(design_or_frame: SurveyDesign | ReplicateDesign | pd.DataFrame,
                        known: dict[str, float], total: float, *,
                        weights: str | None = None, replicates: int = 500,
                        seed: int | np.random.Generator | None = None,
                        level: float = 0.95) -> KnownPopulationCheck:
    """Leave-one-out scale-up estimates of every known population against its true size (R
    networkreporting ``nsum.internal.consistency``).

    Parameters
    ----------
    design_or_frame, known, total, weights
        As in :func:`scale_up` (at least two known populations).
    replicates, seed, level
        The bootstrap of the SEs (as in :func:`scale_up`).

    Returns
    -------
    KnownPopulationCheck

    Notes
    -----
    Known population k is estimated by the basic estimator with the degrees from the others:
    ``Nhat_k = N sum_i w_i y_ik / sum_i w_i d_i^(-k)``, ``d_i^(-k) = N sum_{j != k} y_ij /
    sum_{j != k} N_j``, i.e. ``Nhat_k = (N_K - N_k) T_k / (T_K - T_k)`` with ``T_j`` the
    weighted totals of the counts; errors as networkreporting's ``estimate.error``.
    """
    func = "internal_validation"
    design = design_of(design_or_frame, weights, func)
    n_total = positive_number(total, "total", func)
    sizes = known_sizes(known, n_total, func)
    if len(sizes) < 2:
        raise ArgumentError(f"`known` of `{func}()` must name at least two known populations "
                            f"(one is left out at a time); got {len(sizes)}")
    yk = count_matrix(design.data, list(sizes), "known", func, list(sizes.values()))
    reps = survey_replicates(design, check_replicates(replicates, func), rng_of(seed, func)[0])
    return known_check(yk, sizes, n_total, reps, check_level(level, func))
