"""Multiple imputation of the answers that leave respondents undetermined.

The imputation model is a latent class model of the module's answers (Vermunt, Van Ginkel,
Van der Ark and Sijtsma 2008): ``K`` classes (2 by default: roughly, exploited or not), each
with its own probability of yes for every item and its own distribution of the categorical
context (sector, perpetrator, ...), and class shares that depend on the covariates (proxy
status, strata, the analysis domains) through a multinomial logit. A respondent's missing
answers are drawn from their class, the class itself from its posterior given everything the
respondent did answer (and the answers to the filter questions), so the imputations condition
on all the observed evidence at once, whatever the pattern of missing items. ``M`` imputations
use ``M`` parameter sets refitted on Bayesian-bootstrap reweightings of the respondents (proper
multiple imputation, Rubin 1987, ch. 4), all at once.

:func:`rubin` combines completed-data estimates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError, ArgumentTypeError, EstimationError
from flestimate.impute import _model, _smoothing
from flestimate.impute._nonresponse import (
    WeightingClasses,
    adjustment_factors,
    weighting_classes,
)
from flestimate.impute._rubin import RubinCombination, rubin

__all__ = ["Completions", "ImputationModel", "RubinCombination", "WeightingClasses",
           "adjustment_factors", "check_imputations", "fit_model", "rubin", "seed_sequence",
           "weighting_classes"]

#: Rows per chunk when drawing: (imputations x rows x items) arrays stay bounded.
_CHUNK = 20_000


def check_imputations(imputations: Any, func: str) -> int:
    if isinstance(imputations, bool) or not isinstance(imputations, int | np.integer):
        raise ArgumentError(f"`imputations` of `{func}()` must be an integer >= 2; got "
                            f"{imputations!r}")
    if imputations < 2:
        raise ArgumentError(f"`imputations` of `{func}()` must be an integer >= 2; got "
                            f"{imputations}")
    return int(imputations)


def seed_sequence(seed: Any, func: str) -> np.random.SeedSequence:
    """The imputation's random stream: ``seed`` an integer, a ``numpy.random.Generator`` or
    None (then 0: a published figure must be reproducible)."""
    if seed is None:
        return np.random.SeedSequence(0)
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(0, 2**63)))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ArgumentError(f"`seed` of `{func}()` must be a non-negative integer or a "
                            f"numpy.random.Generator; got {seed!r}")
    return np.random.SeedSequence(int(seed))


@dataclass(frozen=True)
class Completions:
    """``M`` completed versions of some rows.

    Attributes
    ----------
    rows : ndarray of int
        Positions of the completed rows in the model's frame.
    binary : ndarray of float, shape (M, rows, J)
        The binary items, observed or imputed (0/1; NaN where an item has no observed value at
        all and is not imputed).
    categorical : dict of str -> ndarray of object, shape (M, rows)
        The categorical items, observed or imputed (their values).
    """

    rows: np.ndarray
    binary: np.ndarray
    categorical: dict[str, np.ndarray]


@dataclass(frozen=True)
class ImputationModel:
    """A fitted latent class imputation model (see :func:`fit_model`).

    Attributes
    ----------
    items : tuple of str
        Binary items, imputed where missing (the model's first binary columns).
    evidence : tuple of str
        Binary columns read as evidence only (the filter questions), after the items.
    categorical : tuple of (name, levels)
        Categorical items, imputed where missing.
    covariates : tuple of str
        Covariates of the class shares.
    not_imputed : tuple of str
        Items without any observed answer among the respondents: left missing.
    sensitive : ndarray of bool
        Which binary items the MNAR sensitivity analysis shifts.
    """

    items: tuple[str, ...]
    evidence: tuple[str, ...]
    categorical: tuple[tuple[str, tuple[Any, ...]], ...]
    covariates: tuple[str, ...]
    not_imputed: tuple[str, ...]
    sensitive: np.ndarray
    patterns: _model.Patterns
    fit: _model.LatentClassFit
    respondents: np.ndarray  # positions in the model's frame of the rows it was fitted on
    missing_items: np.ndarray  # (n_respondents, J) the binary cells to impute
    missing_categories: np.ndarray  # (n_respondents, C)
    profile: str | None = None
    #: The item profile of every level (code) of the profile variable; None when the profile
    #: variable is not a categorical item. Levels grouped by ``profile_groups`` share one.
    level_profile: np.ndarray | None = None
    #: Covariates of the categorical items' level probabilities (within each class).
    categorical_covariates: tuple[str, ...] = ()
    #: The choice between separate and pooled item profiles (``profile_pooling`` of
    #: :func:`fit_model`): each candidate's log-likelihood, effective parameters and BIC, and
    #: the one kept; empty when there was no choice to make.
    profile_choice: Mapping[str, Any] = field(default_factory=dict)
    #: The prior (pseudo-respondents) towards the class's of the item profiles with which a
    #: missing profile variable (the sector) is drawn, chosen by leave-one-out prediction of
    #: the answered sectors (:func:`flestimate.impute._smoothing.choose`): each candidate's
    #: score and the one kept; empty when the profile variable is not imputed.
    profile_smoothing: Mapping[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> int:
        return self.fit.classes

    def summary_dict(self) -> dict[str, Any]:
        """What the provenance records of the model."""
        return {"model": "latent class", "classes": self.classes,
                "items": len(self.items), "evidence": list(self.evidence),
                "categorical": [name for name, _ in self.categorical],
                "covariates": list(self.covariates),
                "profile": self.profile, "profiles": self.patterns.n_profiles,
                "categorical_covariates": list(self.categorical_covariates),
                "categorical_groups": self.patterns.n_cat_groups,
                "not_imputed": list(self.not_imputed),
                "respondents": int(self.respondents.size),
                "patterns": int(self.patterns.count.size),
                "iterations": self.fit.iterations, "converged": self.fit.converged,
                "loglik": float(self.fit.loglik[0]),
                **({"profile_choice": dict(self.profile_choice)} if self.profile_choice else {}),
                **({"profile_smoothing": dict(self.profile_smoothing)}
                   if self.profile_smoothing else {})}

    def _joint_profiles(self, up: np.ndarray, resp: np.ndarray, refit: _model.LatentClassFit,
                        log_share: np.ndarray, rng: np.random.Generator
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """Class and profile drawn together for the rows (patterns ``up``, respondent positions
        ``resp``) whose profile variable is missing.

        Drawn apart, such a row would get its sector from its class's distribution and its
        missing answers from the class's average profile: the association between the sector
        and the answers (deception and confinement with sex work) would be lost for it. Here
        ``P(k, l | answers) ~ pi_k phi_gk(l) P(answers | k, h(l))`` over the classes ``k`` and
        the levels ``l`` of the sector, ``h(l)`` the level's item profile, ``g`` the row's
        group of the categorical covariates (a woman's sector is not a man's); returns (rows,
        classes (M, r), profiles (M, r), levels (M, r)).
        """
        if self.level_profile is None or self.level_profile.size == 0:
            return None
        c_prof = [name for name, _ in self.categorical].index(str(self.profile))
        rows_p = np.flatnonzero(self.missing_categories[resp, c_prof])
        if rows_p.size == 0:
            return None
        pat = self.patterns
        u = up[rows_p]
        levels = [lv[u] for lv in pat.levels]
        own, of_level = np.unique(self.level_profile, return_inverse=True)
        g = pat.cat_group[u]
        prior = np.asarray(self.profile_smoothing.get(
            "by_class", self.profile_smoothing.get("chosen", _model.PROFILE_PRIOR)), float)
        smoothed = replace(refit, theta_profile=refit.smoothed_profiles(prior))
        ll = np.stack([_model.item_loglik(pat.yes[u], pat.no[u], levels, smoothed,
                                          np.full(u.size, h), g) for h in own.tolist()],
                      axis=-1)[..., of_level]  # (M, r, K, L) - a loop over the few profiles
        with np.errstate(divide="ignore"):
            log_phi = np.log(refit.phi_group[c_prof][:, g])  # (M, r, L, K)
        ll += log_share[:, pat.group[u], :, None] + log_phi.transpose(0, 1, 3, 2)
        m, r, k, n_lev = ll.shape
        pick = _model.draw_classes(ll.reshape(m, r, k * n_lev), np.zeros((m, r, k * n_lev)),
                                   rng.random((m, r)))
        return rows_p, pick // n_lev, self.level_profile[pick % n_lev], pick % n_lev

    def complete(self, rows: np.ndarray, imputations: int, seed: np.random.SeedSequence,
                 delta: float = 0.0, max_iter: int = 200, tol: float = 1e-6
                 ) -> Completions:
        """Draw ``imputations`` completions of the respondents at positions ``rows``.

        Parameters
        ----------
        rows : array of int
            Positions (in the model's frame) of respondents to complete.
        imputations : int
        seed : SeedSequence
            The same seed gives the same completions, whatever ``delta``.
        delta : float
            Shift of the log-odds of yes for the sensitive items' imputations (MNAR
            sensitivity); 0 is missing at random.
        max_iter, tol
            EM stopping rule of the bootstrap refits. Their draws differ from the fit by the
            bootstrap's sampling noise, far above a relative log-likelihood change of 1e-6;
            a tighter ``tol`` doubles the iterations (all ``M`` refits must converge) and
            changes nothing that shows in an estimate.

        Notes
        -----
        The steps: ``M`` parameter sets refitted on Bayesian-bootstrap reweightings of the
        respondents (one stream), then, chunk by chunk of rows (another stream), every row's
        class (with its profile where the profile variable is missing), its missing binary
        items and its missing categorical items (:meth:`_draw_chunk`).
        """
        fit_rng, draw_rng = _child_streams(seed)
        pat = self.patterns
        weights = _model.bootstrap_weights(pat.count, imputations, fit_rng)
        refit = _model.fit(pat, self.classes, weight=weights, start=self.fit, max_iter=max_iter,
                           tol=tol)
        where = self._positions(rows)
        log_share = _model.log_shares(pat, refit)  # (M, G, K)
        j = pat.yes.shape[1]  # the imputed items, then the evidence
        out = np.empty((imputations, rows.size, j), dtype=np.float64)
        cats = {name: np.empty((imputations, rows.size), dtype=object)
                for name, _ in self.categorical}
        # uniforms drawn in one stream per chunk of rows: the same rows get the same numbers
        for start in range(0, rows.size, _CHUNK):  # chunks of rows bound the memory
            stop = min(start + _CHUNK, rows.size)
            self._draw_chunk(slice(start, stop), where, refit, log_share, float(delta),
                             draw_rng, out, cats)
        return Completions(np.asarray(rows), out[:, :, :len(self.items)], cats)

    def _positions(self, rows: np.ndarray) -> np.ndarray:
        """Positions of ``rows`` among the model's respondents (an error if one is not)."""
        where = np.searchsorted(self.respondents, rows)
        if rows.size and ((where >= self.respondents.size).any()
                          or not np.array_equal(self.respondents[np.minimum(
                              where, self.respondents.size - 1)], rows)):
            raise ArgumentError("`rows` of `complete()` must be respondents of the model")
        return np.asarray(where)

    def _draw_chunk(self, chunk: slice, where: np.ndarray, refit: _model.LatentClassFit,
                    log_share: np.ndarray, delta: float, rng: np.random.Generator,
                    out: np.ndarray, cats: dict[str, np.ndarray]) -> None:
        """Complete one chunk of rows into ``out`` and ``cats``: classes (and profiles), then
        the binary items, then the categorical items, in that order of the stream."""
        pat = self.patterns
        resp = where[chunk]
        up = pat.inverse[resp]
        z, prof_m, own = self._draw_classes(up, resp, refit, log_share, rng)
        observed = np.where(pat.yes[up] == 1, 1.0, np.where(pat.no[up] == 1, 0.0, np.nan))
        out[:, chunk] = observed[None]
        self._draw_binary(chunk, resp, z, prof_m, refit, delta, rng, out)
        self._draw_categorical(chunk, up, resp, z, own, refit, rng, cats)

    def _draw_classes(self, up: np.ndarray, resp: np.ndarray, refit: _model.LatentClassFit,
                      log_share: np.ndarray, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray,
                                 tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None]:
        """Every row's class from its posterior given its answers, and its item profile (drawn
        with the class where the profile variable is missing: :meth:`_joint_profiles`);
        returns the classes (M, r), the profiles (M, r) and the joint draws."""
        pat = self.patterns
        m = log_share.shape[0]
        prof = pat.profile[up]
        ll = _model.item_loglik(pat.yes[up], pat.no[up], [lv[up] for lv in pat.levels],
                                refit, prof, pat.cat_group[up])
        z = _model.draw_classes(log_share[:, pat.group[up], :], ll,
                                rng.random((m, up.size)))
        prof_m = np.broadcast_to(prof, (m, up.size))
        own = self._joint_profiles(up, resp, refit, log_share, rng)
        if own is not None:  # the rows whose profile variable is missing
            rows_p, z_p, h_p, _ = own
            z[:, rows_p] = z_p
            prof_m = prof_m.copy()
            prof_m[:, rows_p] = h_p
        return z, prof_m, own

    def _draw_binary(self, chunk: slice, resp: np.ndarray, z: np.ndarray, prof_m: np.ndarray,
                     refit: _model.LatentClassFit, delta: float, rng: np.random.Generator,
                     out: np.ndarray) -> None:
        """The missing binary cells: yes with their profile's, item's and drawn class's
        probability, its log-odds shifted by ``delta`` for the sensitive items."""
        r_idx, j_idx = np.nonzero(self.missing_items[resp])
        m_idx = np.arange(z.shape[0])[:, None]
        p = refit.theta_profile[m_idx, prof_m[:, r_idx], j_idx[None, :], z[:, r_idx]]
        if delta != 0.0:
            from scipy import special  # loaded at first use, not with the package

            shift = np.where(self.sensitive, delta, 0.0)
            with np.errstate(divide="ignore"):
                p = special.expit(special.logit(p) + shift[j_idx][None, :])
        out[:, chunk.start + r_idx, j_idx] = (rng.random(p.shape) < p).astype(np.float64)

    def _draw_categorical(self, chunk: slice, up: np.ndarray, resp: np.ndarray, z: np.ndarray,
                          own: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None,
                          refit: _model.LatentClassFit, rng: np.random.Generator,
                          cats: dict[str, np.ndarray]) -> None:
        """The missing categorical cells from their drawn class's distribution (the profile
        variable's from the joint draw where there is one), as the items' values."""
        pat = self.patterns
        m = z.shape[0]
        m_idx = np.arange(m)[:, None]
        for c, (name, levels) in enumerate(self.categorical):
            code = np.broadcast_to(pat.levels[c][up], (m, up.size)).copy()
            rows_c = np.flatnonzero(self.missing_categories[resp, c])
            g = pat.cat_group[up[rows_c]][None, :]
            cdf = np.cumsum(refit.phi_group[c][m_idx, g, :, z[:, rows_c]], axis=2)  # (M, r, L)
            pick = (rng.random((m, rows_c.size))[..., None] > cdf).sum(axis=2)
            code[:, rows_c] = np.minimum(pick, len(levels) - 1)
            if own is not None and name == self.profile:
                code[:, own[0]] = own[3]
            values = np.asarray([*levels, None], dtype=object)  # code -1: None
            cats[name][:, chunk] = values[code]


def _child_streams(seed: np.random.SeedSequence) -> tuple[np.random.Generator,
                                                         np.random.Generator]:
    """The bootstrap refit's and the draws' generators: children of ``seed`` by key, not
    ``seed.spawn()``: spawning counts its calls, and a second call (the sensitivity analysis
    redrawing) would get other streams."""
    fit_rng, draw_rng = (np.random.default_rng(np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, i), pool_size=seed.pool_size))
        for i in range(2))
    return fit_rng, draw_rng


def fit_model(frame: pd.DataFrame, *, items: Sequence[str], categorical: Sequence[str] = (),
              evidence: pd.DataFrame | None = None,
              covariates: pd.DataFrame | None = None, respondents: np.ndarray | None = None,
              sensitive: Sequence[str] = (), classes: int = 2,
              profile: str | None = None, profile_groups: Mapping[Any, Any] | None = None,
              profile_pooling: Mapping[Any, Any] | None = None,
              categorical_covariates: pd.DataFrame | None = None,
              max_iter: int = 1000) -> ImputationModel:
    """Fit the latent class imputation model on the respondents of ``frame``.

    Parameters
    ----------
    frame : DataFrame
        Canonical indicator columns (1 / 0 / missing) and the categorical columns.
    items : sequence of str
        Binary columns to impute.
    categorical : sequence of str
        Categorical columns to impute (e.g. ``sector``, ``perpetrator``).
    evidence : DataFrame, optional
        Binary columns (same rows) read as evidence only: the filter questions' answers.
    covariates : DataFrame, optional
        Columns (same rows) on which the class shares depend; missing values are a level.
    respondents : array of bool, optional
        Rows to fit on and to complete (all by default); unit non-respondents are left out.
    sensitive : sequence of str
        Items whose imputed log-odds the sensitivity analysis shifts.
    classes : int
        Number of latent classes (2 by default).
    profile : str, optional
        A categorical column of ``frame`` (the sector) within whose levels the binary items get
        their own probabilities in each class, shrunk towards the class's (item profiles:
        exploitation in commercial sex is not exploitation on a building site); a missing value
        is a level of its own.
    profile_groups : mapping, optional
        Values of the profile variable that share the item profile of another value
        (``{"commercial_sex_and_other": "commercial_sex"}``): a profile learns from every
        respondent of its values, so a rare value with answers like another's is not left to
        a handful of respondents (whose probabilities are shrunk towards the class's).
    profile_pooling : mapping, optional
        A further grouping (the labour sectors into one profile), kept if it lowers the BIC
        (:func:`flestimate.impute._model.profile_bic`): sectors whose answers differ keep
        their own profiles, sectors that differ only by chance share one. See
        ``ImputationModel.profile_choice``.
    categorical_covariates : DataFrame, optional
        Columns (same rows) within whose joint levels the categorical items get their own
        level probabilities in each class, shrunk towards the class's by ``CATEGORY_PRIOR``
        pseudo-respondents (the sector of an exploited woman is not that of an exploited man);
        missing values are a level. The class shares do not depend on them unless they are
        also ``covariates``.
    max_iter : int

    Returns
    -------
    ImputationModel

    Notes
    -----
    The respondents' data coded (:func:`_coded`), the EM fit on its distinct patterns (with
    each candidate grouping of the profiles), the sensitive items and the cells to impute.
    """
    _check_fit_arguments(frame, classes, profile_groups=profile_groups,
                         profile_pooling=profile_pooling)
    pos = (np.arange(len(frame)) if respondents is None
           else np.flatnonzero(np.asarray(respondents, bool)))
    if pos.size == 0:
        raise EstimationError("the imputation model has no respondent to learn from")
    d = _coded(frame, items, categorical, evidence, covariates, categorical_covariates, pos)
    (pat, fit, level_profile), choice = _chosen_profiles(
        lambda groups: d.fitted(frame, profile, groups, int(classes), max_iter),
        profile_groups, profile_pooling)
    # The model's binary items are the imputed ones then the evidence; evidence is never drawn.
    missing_items = np.concatenate([np.isnan(d.binary),
                                    np.zeros((pos.size, len(d.ev_cols)), dtype=bool)], axis=1)
    missing_cats = (np.column_stack([c < 0 for c in d.cat_codes]) if d.cat_codes
                    else np.zeros((pos.size, 0), dtype=bool))
    smoothing = _sector_smoothing(pat, fit, level_profile, d.cat_levels, profile, missing_cats)
    return ImputationModel(tuple(d.used), tuple(d.ev_cols), tuple(d.cat_levels), d.cov_names,
                           d.not_imputed, _sensitive_mask(d.used, sensitive, len(d.ev_cols)),
                           pat, fit, pos, missing_items, missing_cats, profile, level_profile,
                           d.cat_cov_names, choice, smoothing)


_Candidate = tuple[_model.Patterns, _model.LatentClassFit, np.ndarray | None]


def _sector_smoothing(pat: _model.Patterns, fit: _model.LatentClassFit,
                      level_profile: np.ndarray | None,
                      cat_levels: list[tuple[str, tuple[Any, ...]]], profile: str | None,
                      missing_cats: np.ndarray) -> dict[str, Any]:
    """The sector draw's pooling of the profiles (:func:`_smoothing.choose`) when the profile
    variable is a categorical item missing somewhere; else nothing to choose (empty)."""
    names = [name for name, _ in cat_levels]
    if level_profile is None or not missing_cats[:, names.index(str(profile))].any():
        return {}
    return _smoothing.choose(pat, fit, level_profile, names.index(str(profile)))


@dataclass(frozen=True)
class _Coded:
    """The respondents' data as the model reads it (see :func:`_coded`)."""

    binary: np.ndarray
    used: list[str]
    binary_all: np.ndarray
    ev_cols: list[str]
    cat_codes: list[np.ndarray]
    cat_levels: list[tuple[str, tuple[Any, ...]]]
    cov: np.ndarray
    cov_levels: list[int]
    cov_names: tuple[str, ...]
    cat_cov: np.ndarray
    cat_cov_names: tuple[str, ...]
    not_imputed: tuple[str, ...]
    pos: np.ndarray

    def fitted(self, frame: pd.DataFrame, profile: str | None, groups: Mapping[Any, Any],
               classes: int, max_iter: int) -> _Candidate:
        """The patterns, the EM fit and each level's profile with the profiles of ``groups``."""
        prof, level_profile = _profile_codes(frame, profile, self.pos, self.cat_levels, groups)
        pat = _model.collapse(self.binary_all, self.cat_codes,
                              tuple(len(lv) for _, lv in self.cat_levels), self.cov,
                              tuple(self.cov_levels), prof, self.cat_cov)
        return pat, _model.fit(pat, classes, max_iter=max_iter), level_profile


def _coded(frame: pd.DataFrame, items: Sequence[str], categorical: Sequence[str],
           evidence: pd.DataFrame | None, covariates: pd.DataFrame | None,
           categorical_covariates: pd.DataFrame | None, pos: np.ndarray) -> _Coded:
    """The respondents' binary items (an item nobody answered is not imputed), the evidence
    columns, the categorical items' codes and the covariates' codes."""
    binary, used, not_imputed = _binary_items(frame, items, pos)
    binary_all, ev_cols = _with_evidence(binary, evidence, pos)
    cat_codes, cat_levels, not_cat = _categorical_codes(frame, categorical, pos)
    cov, cov_levels, cov_names = _covariate_codes(covariates, pos)
    cat_cov, _, cat_cov_names = _covariate_codes(categorical_covariates, pos)
    return _Coded(binary, used, binary_all, ev_cols, cat_codes, cat_levels, cov, cov_levels,
                  cov_names, cat_cov, cat_cov_names, (*not_imputed, *not_cat), pos)


def _chosen_profiles(fitted: Callable[[Mapping[Any, Any]], _Candidate],
                     groups: Mapping[Any, Any] | None, pooling: Mapping[Any, Any] | None
                     ) -> tuple[_Candidate, dict[str, Any]]:
    """The fit with the profiles of ``groups`` or, when its BIC is lower, with ``pooling`` on
    top; and the record of the choice (empty when there was none to make)."""
    own = fitted(dict(groups or {}))
    if not pooling:
        return own, {}
    alt = fitted({**dict(groups or {}), **dict(pooling)})
    if alt[0].n_profiles == own[0].n_profiles:  # nothing pooled: at most one such value
        return own, {}
    scores = {"separate": _model.profile_bic(own[0], own[1]),
              "pooled": _model.profile_bic(alt[0], alt[1])}
    chosen = "pooled" if scores["pooled"]["bic"] < scores["separate"]["bic"] else "separate"
    record = {"criterion": "BIC, effective parameters of the item profiles",
              "pooled_values": sorted(str(v) for v in pooling), **scores, "chosen": chosen}
    return (alt if chosen == "pooled" else own), record


def _check_fit_arguments(frame: Any, classes: Any, **groupings: Any) -> None:
    """``classes`` a positive integer, ``frame`` a DataFrame and the profile groupings
    mappings (or None), in the package's format."""
    for name, value in groupings.items():
        if value is not None and not isinstance(value, Mapping):
            raise ArgumentTypeError(f"`{name}` of `fit_model()` must be a mapping of values to "
                                    f"their profile; got {type(value).__name__}")
    if isinstance(classes, bool) or not isinstance(classes, int | np.integer) or classes < 1:
        raise ArgumentError(f"`classes` of `fit_model()` must be a positive integer; got "
                            f"{classes!r}")
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentTypeError(f"`frame` of `fit_model()` must be a DataFrame; got "
                                f"{type(frame).__name__}")


def _binary_items(frame: pd.DataFrame, items: Sequence[str], pos: np.ndarray
                  ) -> tuple[np.ndarray, list[str], tuple[str, ...]]:
    """The respondents' binary items (1 / 0 / NaN), without those nobody answered (nothing to
    learn them from); returns the values, the items kept and the items left out."""
    binary = frame[list(items)].to_numpy(dtype=np.float64)[pos] if items else np.zeros((pos.size,
                                                                                         0))
    observed = np.asarray(~np.isnan(binary), dtype=bool)
    usable = [bool(v) for v in np.asarray(observed.any(axis=0)).tolist()]
    not_imputed = tuple(c for c, ok in zip(items, usable, strict=True) if not ok)
    used = [c for c, ok in zip(items, usable, strict=True) if ok]
    return binary[:, np.asarray(usable, dtype=bool)], used, not_imputed


def _with_evidence(binary: np.ndarray, evidence: pd.DataFrame | None, pos: np.ndarray
                   ) -> tuple[np.ndarray, list[str]]:
    """The binary items followed by the evidence columns with some answer among the
    respondents; returns the combined values and the evidence columns kept."""
    if evidence is None or not evidence.shape[1]:
        return binary, []
    ev = evidence.to_numpy(dtype=np.float64)[pos]
    keep_ev = ~np.isnan(ev).all(axis=0)
    ev_cols = [str(c) for c, ok in zip(evidence.columns, keep_ev, strict=True) if ok]
    return np.concatenate([binary, ev[:, keep_ev]], axis=1), ev_cols


def _codes(values: pd.Series) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Integer codes of ``values`` (-1 where missing) and the sorted levels."""
    codes, uniq = pd.factorize(values, sort=True)
    return np.asarray(codes, dtype=np.int64), tuple(uniq.tolist())


def _categorical_codes(frame: pd.DataFrame, categorical: Sequence[str], pos: np.ndarray
                       ) -> tuple[list[np.ndarray], list[tuple[str, tuple[Any, ...]]],
                                  tuple[str, ...]]:
    """The respondents' codes of every categorical item with its levels; an item never
    observed among them is left out (returned last, not imputed)."""
    cat_codes: list[np.ndarray] = []
    cat_levels: list[tuple[str, tuple[Any, ...]]] = []
    not_imputed: tuple[str, ...] = ()
    for name in categorical:
        codes, levels = _codes(frame[name].iloc[pos])
        if not levels:  # never observed among the respondents: nothing to learn it from
            not_imputed = (*not_imputed, str(name))
            continue
        cat_codes.append(codes)
        cat_levels.append((name, levels))
    return cat_codes, cat_levels, not_imputed


def _covariate_codes(covariates: pd.DataFrame | None, pos: np.ndarray
                     ) -> tuple[np.ndarray, list[int], tuple[str, ...]]:
    """The respondents' covariates as codes in order of appearance (missing a level of its
    own), with each covariate's number of levels and the names."""
    if covariates is None or not covariates.shape[1]:
        return np.zeros((pos.size, 0), dtype=np.int64), [], ()
    cov_codes = []
    cov_levels = []
    for c in covariates.columns:
        codes, uniq = pd.factorize(covariates[c].iloc[pos].astype(object),
                                   use_na_sentinel=False, sort=False)
        cov_codes.append(np.asarray(codes, dtype=np.int64))
        cov_levels.append(len(uniq))
    return np.column_stack(cov_codes), cov_levels, tuple(str(c) for c in covariates.columns)


def _profile_codes(frame: pd.DataFrame, profile: str | None, pos: np.ndarray,
                   cat_levels: list[tuple[str, tuple[Any, ...]]],
                   groups: Mapping[Any, Any] | None = None
                   ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The respondents' item profiles (codes of the profile variable's values, ``groups``
    applied, missing a profile of its own) and, when the profile variable is a categorical
    item, the profile of each of its levels."""
    if profile is None:
        return None, None
    prof_codes, prof_values = pd.factorize(frame[profile].iloc[pos].astype(object),
                                           use_na_sentinel=False, sort=False)
    prof = np.asarray(prof_codes, dtype=np.int64)
    groups = dict(groups or {})
    if groups:  # the grouped values of the few distinct ones, then their codes per row
        grouped = pd.Series([groups.get(v, v) for v in prof_values.tolist()], dtype=object)
        recode, prof_values = pd.factorize(grouped, use_na_sentinel=False, sort=False)
        prof = np.asarray(recode, dtype=np.int64)[prof]
    names = [name for name, _ in cat_levels]
    if profile not in names:
        return prof, None
    code_of = {v: i for i, v in enumerate(prof_values.tolist()) if not pd.isna(v)}
    # every level was observed among the respondents, so its (grouped) value has a profile
    level_profile = np.array([code_of[groups.get(v, v)]
                              for v in cat_levels[names.index(profile)][1]], dtype=np.int64)
    return prof, level_profile


def _sensitive_mask(used: list[str], sensitive: Sequence[str], n_evidence: int) -> np.ndarray:
    """Which of the model's binary items the MNAR sensitivity shifts: those named in
    ``sensitive``, else the indicator table's sensitive ones; never the evidence."""
    from flestimate.classification import indicator_table

    table = indicator_table()
    chosen = set(sensitive) if sensitive else None
    return np.array([(c in chosen) if chosen is not None else table.is_sensitive(c)
                     for c in used] + [False] * n_evidence, dtype=bool)
