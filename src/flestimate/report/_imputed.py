"""The headline estimate under multiple imputation: complete the undetermined respondents M
times, classify every completion with the same rules, estimate each with the design and combine
by Rubin's rules.

Module non-respondents (nothing answered) are not imputed: their weight goes to the
respondents of their weighting class (:mod:`flestimate.impute._nonresponse`), in every
replicate too.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from flestimate._context_values import CATEGORY_CONTEXT
from flestimate.classification import STATUSES, Classification, classify
from flestimate.classification._rules import FORMS
from flestimate.errors import FlestimateWarning
from flestimate.impute import (
    ImputationModel,
    WeightingClasses,
    adjustment_factors,
    fit_model,
    weighting_classes,
)
from flestimate.impute._model import unique_rows
from flestimate.mapping import MappedSurvey, ModuleSpec, describe_filter

__all__ = ["IMPUTED_CONTEXT", "NONRESPONSE_CLASSES", "Imputed", "impute_survey"]

#: Context variables the rules read that the imputation completes where they are missing:
#: binary ones as items, the others as categorical items.
IMPUTED_CONTEXT = ("moved", "worked", "work_with_parents", "sector", "perpetrator")
_BINARY_CONTEXT = ("moved", "worked", "work_with_parents")
#: The item profiles of the imputation model: the answers' probabilities differ by sector
#: within a class (the form of exploitation is read from the sector).
PROFILE = "sector"
#: Sectors that share an item profile: commercial sex alone and with other work are the same
#: exploitation as far as the answers go (ILO/EC 2009 grade sexual exploitation with lists of
#: their own), and each is a handful of respondents in a survey: apart, their profiles would
#: be shrunk to the class's, which under-imputes deception and confinement there.
PROFILE_GROUPS = {"commercial_sex_and_other": "commercial_sex"}
#: The profile the sectors without a form of their own (every sector but commercial sex,
#: illicit activities and armed conflict) share when the survey's answers do not tell them
#: apart: fitted both ways, the lower BIC is kept (``fit_model(profile_pooling=)``).
LABOUR_PROFILE = "labour sectors (one item profile)"
#: Person variables on which the categorical items (sector, perpetrator) depend within a
#: latent class: sectors differ by sex (commercial sex, domestic work, construction), so a
#: woman whose sector is missing must not get a man's distribution; those present are used.
CATEGORY_COVARIATES = ("sex",)
#: Default weighting classes of the unit non-response adjustment (``strata``: the design's).
NONRESPONSE_CLASSES = ("strata", "sex", "migrant_status", "proxy")
#: The point classes every completion gives (the ``prevalence`` table's indicators).
POINTS = ("forced_labour", "trafficked", "forced_labour_not_trafficked", "undetermined",
          "not_forced_labour", *(f"form_{f}" for f in FORMS))


@dataclass(frozen=True)
class Imputed:
    """``M`` completions of one survey's classification, over every row of the file.

    Attributes
    ----------
    points : dict of str -> ndarray of bool, shape (M, n)
        Each class's value in every completion (the classified value where nothing was
        imputed).
    forms : dict of str -> ndarray of int8, shape (M, n)
        For ``trafficked`` and ``forced_labour``: the form's code (index in ``FORMS``) of the
        persons in the class in each completion, -1 elsewhere.
    respondent : ndarray of bool, shape (n,)
        Universe rows that answered something (the rest are unit non-respondents).
    classes : WeightingClasses
        The non-response weighting classes over the rows.
    model : ImputationModel
    completed_rows : ndarray of int
        Rows of the file that were completed (the others keep their classification).
    not_estimable : tuple of str
        Classes that stay undetermined in some completion (their rules need what the data do
        not measure): no imputed estimate.
    """

    imputations: int
    seed: int | None
    delta: float
    points: Mapping[str, np.ndarray]
    forms: Mapping[str, np.ndarray]
    respondent: np.ndarray
    classes: WeightingClasses
    model: ImputationModel
    completed_rows: np.ndarray
    not_estimable: tuple[str, ...]
    nonresponse: Mapping[str, Any] = field(default_factory=dict)
    determined: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    redraw: _Redraw | None = None

    def with_delta(self, delta: float) -> Imputed:
        """The same completions drawn again (same model, rows and seed) with the log-odds of
        yes of the sensitive items shifted by ``delta``."""
        import dataclasses

        if self.redraw is None:
            from flestimate.errors import ArgumentError

            raise ArgumentError("these completions cannot be redrawn (pooled reports): run the "
                                "sensitivity analysis on each survey's report")
        points, forms, not_estimable = self.redraw.outcomes(self.model, self.imputations,
                                                            float(delta))
        return dataclasses.replace(self, delta=float(delta), points=points, forms=forms,
                                   not_estimable=not_estimable)

    def provenance(self) -> dict[str, Any]:
        return {"method": "multiple imputation", "imputations": self.imputations,
                "seed": self.seed, "delta": self.delta,
                "combining": "Rubin's rules; Barnard-Rubin df with the design df as the "
                             "complete-data df",
                "model": self.model.summary_dict(),
                "completed_rows": int(self.completed_rows.size),
                "not_estimable": list(self.not_estimable),
                "nonresponse": dict(self.nonresponse)}

    def weights(self, weights: np.ndarray) -> np.ndarray:
        """``weights`` (n,) or (n, R) after the unit non-response adjustment."""
        return np.asarray(np.asarray(weights)
                          * adjustment_factors(self.classes, weights, self.respondent))


def _classes(names: Sequence[str], frame: pd.DataFrame, strata: Sequence[str],
             universe: np.ndarray, respondent: np.ndarray, weights: np.ndarray
             ) -> WeightingClasses:
    cols: list[pd.Series] = []
    used = []
    for name in names:
        if name == "strata":
            if not strata:
                continue
            cols.append(frame.groupby(list(strata), sort=False, dropna=False).ngroup()
                        if len(strata) > 1 else frame[strata[0]])
        elif name in frame.columns:
            cols.append(frame[name])
        else:
            continue
        used.append(name)
    return weighting_classes(cols, used, universe, respondent, weights)


def impute_survey(full: pd.DataFrame, mapped: MappedSurvey, cls: Classification,
                  spec: ModuleSpec, positions: np.ndarray, frame: pd.DataFrame,
                  universe: np.ndarray, weights: np.ndarray, strata: Sequence[str],
                  margins: Sequence[str], classify_options: Mapping[str, Any], *,
                  imputations: int, seed: Any, seed_seq: np.random.SeedSequence,
                  classes: int = 2, delta: float = 0.0,
                  nonresponse_classes: Sequence[str] | None = None) -> Imputed:
    """Fit the imputation model, complete the undetermined respondents ``imputations`` times
    and classify every completion.

    ``frame`` is the estimation frame over every row (design and domain columns), ``universe``
    its universe mask, ``positions`` the rows of ``mapped.frame`` in it.
    """
    mf = mapped.frame
    n = len(full)
    indicators = list(cls.provenance["indicators_in_data"])
    observed_any = (mf[indicators].notna().any(axis=1).to_numpy() if indicators
                    else np.zeros(len(mf), dtype=bool))
    respondent = np.zeros(n, dtype=bool)
    respondent[positions] = observed_any
    # weighting classes: context variables of the spec (mapped) or columns of the file
    class_frame = pd.DataFrame(index=full.index)
    names = list(nonresponse_classes or NONRESPONSE_CLASSES)
    for name in names:
        if name in mf.columns:
            values = np.full(n, None, dtype=object)
            values[positions] = mf[name].to_numpy(dtype=object)
            class_frame[name] = values
        elif name in full.columns and name != "strata":
            class_frame[name] = full[name]
    for s in strata:
        class_frame[s] = frame[s].to_numpy()
    wc = _classes(names, class_frame, strata, universe, respondent, weights)
    # the model: indicators, binary and categorical context, filter answers as evidence
    ctx_binary = [c for c in _BINARY_CONTEXT if c in mf.columns and mf[c].isna().any()]
    ctx_cat = [c for c in IMPUTED_CONTEXT if c not in _BINARY_CONTEXT and c in mf.columns]
    cov = pd.DataFrame(index=mf.index)
    if "proxy" in mf.columns:
        cov["proxy"] = mf["proxy"].to_numpy(dtype=object)
    for s in strata:
        cov[s] = frame[s].to_numpy()[positions]
    for m in margins:
        if m not in cov.columns:
            cov[m] = frame[m].to_numpy(dtype=object)[positions]
    model = fit_model(mf, items=[*indicators, *ctx_binary], categorical=ctx_cat,
                      evidence=_filter_evidence(mapped), covariates=cov, respondents=observed_any,
                      classes=classes, profile=PROFILE if PROFILE in mf.columns else None,
                      profile_groups=PROFILE_GROUPS, profile_pooling=_labour_pooling(mf),
                      categorical_covariates=_person_columns(mf, full, positions,
                                                             CATEGORY_COVARIATES))
    # the rows whose class a completion can change, and the members of their households (the
    # child rule links children to their parents' classes)
    c = cls.to_frame()
    fl_open = (c["forced_labour_lower"] != c["forced_labour_upper"]).to_numpy()
    tr_open = (c["trafficked_lower"] != c["trafficked_upper"]).to_numpy()
    form_open = np.zeros(len(c), dtype=bool)
    for name in ctx_cat:
        form_open |= c["forced_labour_upper"].to_numpy() & mf[name].isna().to_numpy()
    todo = (fl_open | tr_open | form_open) & observed_any
    household = cls.provenance.get("parent_link", "")
    hh_col = classify_options.get("household", "household")
    if todo.any() and hh_col and hh_col in mf.columns and household.startswith("household"):
        hh = mf[hh_col].to_numpy(dtype=object)
        todo |= pd.Series(hh).isin(pd.unique(hh[todo])).to_numpy() & observed_any
    rows = np.flatnonzero(todo)
    redraw = _Redraw(mf, cls.to_frame(), positions, rows, dict(classify_options), hh_col,
                     seed_seq, n)
    points, forms, not_estimable = redraw.outcomes(model, imputations, delta)
    determined = np.zeros(n, dtype=bool)
    determined[positions] = ~fl_open & observed_any
    nr = {"unit_nonrespondents": int((universe & ~respondent).sum()),
          "classes": list(wc.names), "n_classes": wc.n_classes,
          "collapsed_classes": wc.collapsed,
          "rule": "weights of the universe's unit non-respondents moved to the respondents of "
                  "their class (redone in every replicate); no class without a respondent: "
                  "merged by dropping the last variable first"}
    return Imputed(imputations, seed, float(delta), points, forms, respondent, wc, model,
                   positions[rows], not_estimable, nr, determined, redraw)


def _labour_pooling(mf: pd.DataFrame) -> dict[Any, str] | None:
    """The observed sectors without a form of their own, each mapped to ``LABOUR_PROFILE``."""
    if PROFILE not in mf.columns:
        return None
    special = set(CATEGORY_CONTEXT[PROFILE][0])
    return {v: LABOUR_PROFILE for v in pd.unique(mf[PROFILE].dropna()) if v not in special}


def _person_columns(mf: pd.DataFrame, full: pd.DataFrame, positions: np.ndarray,
                    names: Sequence[str]) -> pd.DataFrame:
    """The columns ``names`` over the rows of ``mf``: mapped context variables, else columns
    of the file (at ``positions``); those in neither are left out."""
    out: pd.DataFrame = pd.DataFrame(index=mf.index)
    for name in names:
        if name in mf.columns:
            out[name] = mf[name].to_numpy(dtype=object)
        elif name in full.columns:
            out[name] = full[name].to_numpy(dtype=object)[positions]
    return out


def _filter_evidence(mapped: MappedSurvey) -> pd.DataFrame | None:
    """The filter answers that say more than their block's items: a filter question is "did
    any of these happen?", so where an item of its block is observed yes (filter yes) or every
    item is known no (filter no) the answer repeats the items. Read again as a separate item it
    would break the model's independence given the class: the classes would split on the filter
    (penalty reported or not) instead of on exploitation, and what is never asked after a "no"
    (the perpetrator) would be imputed from the prior. Kept: the filter where its block is not
    observed (yes, then every item missing or no)."""
    filters = mapped.filters
    if filters is None or not filters.shape[1]:
        return filters
    mf = mapped.frame
    out: pd.DataFrame = filters.copy()
    for key in filters.columns:
        block = [ind.id for ind in mapped.spec.indicators
                 if ind.asked_if is not None and describe_filter(ind.asked_if) == key
                 and ind.id in mf.columns]
        if not block:
            continue
        items = mf[block].to_numpy(dtype=np.float64)
        f = filters[key].to_numpy(dtype=np.float64)
        implied = (((f == 0) & (items == 0).all(axis=1)) | ((f == 1) & (items == 1).any(axis=1)))
        out[key] = np.where(implied, np.nan, f)
    return out


@dataclass(frozen=True)
class _Redraw:
    """What completing the same rows again needs (the MNAR sensitivity analysis redraws them
    with shifted log-odds, from the same seed)."""

    mapped: pd.DataFrame
    classes: pd.DataFrame
    positions: np.ndarray
    rows: np.ndarray
    options: Mapping[str, Any]
    household: str | None
    seed: np.random.SeedSequence
    n: int

    def outcomes(self, model: ImputationModel, imputations: int, delta: float
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], tuple[str, ...]]:
        comp = model.complete(self.rows, imputations, self.seed, delta=delta)
        hh = (self.mapped[self.household].to_numpy()[self.rows]
              if self.household and self.household in self.mapped.columns else None)
        sel, rep = _distinct_households(comp, hh, imputations)
        stacked = _stacked(self.mapped, self.rows, comp, model, imputations, self.household,
                           sel)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FlestimateWarning)
            done = (classify(stacked, **self.options).to_frame().iloc[rep]
                    .reset_index(drop=True) if len(stacked) else None)
        return _completed_outcomes(self.classes, done, self.positions, self.rows, self.n,
                                   imputations)


def _distinct_households(comp: Any, household: np.ndarray | None, imputations: int
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Which of the stacked completed rows (completion after completion) need classifying, and
    for every stacked row the position among those of the row classified in its place.

    Most completions of a household repeat one another (a few missing answers, most drawn no):
    a household's completion is classified only if no earlier completion gave every member the
    same answers (the household is the unit: the child rule reads the parents' classes)."""
    m, k, j = comp.binary.shape
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    code = np.where(np.isnan(comp.binary), 2, comp.binary).astype(np.int64).reshape(m * k, j)
    parts = [np.tile(np.arange(k), m)[:, None], code]
    for arr in comp.categorical.values():
        cat, _ = pd.factorize(pd.Series(arr.reshape(-1), dtype=object), use_na_sentinel=False)
        parts.append(np.asarray(cat, dtype=np.int64)[:, None])
    _, value, _ = unique_rows(np.concatenate(parts, axis=1))  # a row and its answers
    if household is None:
        hh = np.arange(k)
    else:
        codes, _ = pd.factorize(pd.Series(household, dtype=object))
        codes = np.asarray(codes, dtype=np.int64)
        hh = np.where(codes >= 0, codes, codes.max(initial=-1) + 1 + np.arange(k))
    hh = np.asarray(pd.factorize(hh)[0], dtype=np.int64)
    n_hh = int(hh.max()) + 1
    # each member's place in its household, and the household's answers per completion
    order = np.argsort(hh, kind="stable")
    start = np.searchsorted(hh[order], np.arange(n_hh))
    place = np.empty(k, dtype=np.int64)
    place[order] = np.arange(k) - start[hh[order]]
    width = int(place.max()) + 1
    table = np.full((m * n_hh, width), -1, dtype=np.int64)
    group = (np.repeat(np.arange(m), k) * n_hh + np.tile(hh, m))
    table[group, np.tile(place, m)] = value
    first, inverse, _ = unique_rows(np.concatenate(
        [np.tile(np.arange(n_hh), m)[:, None], table], axis=1))
    rep_group = first[inverse]  # the first (completion, household) with the same answers
    is_rep = rep_group == np.arange(m * n_hh)
    sel = np.flatnonzero(is_rep[group])
    rep_row = (rep_group[group] // n_hh) * k + np.tile(np.arange(k), m)
    return sel, np.searchsorted(sel, rep_row)


def _stacked(mf: pd.DataFrame, rows: np.ndarray, comp: Any, model: ImputationModel,
             imputations: int, hh_col: str | None, sel: np.ndarray | None = None
             ) -> pd.DataFrame:
    """The completed rows, completion after completion (those at ``sel`` of that order), as
    one frame for :func:`classify`; household ids made distinct per completion."""
    k = rows.size
    pick = np.arange(imputations * k) if sel is None else sel
    base = mf.iloc[np.tile(rows, imputations)[pick]].reset_index(drop=True)
    values = comp.binary.reshape(imputations * k, len(model.items))[pick]
    for j, name in enumerate(model.items):
        base[name] = values[:, j]
    for name, arr in comp.categorical.items():
        flat = arr.reshape(-1)[pick]
        base[name] = pd.Series(flat, dtype=object).where(pd.notna(flat), None)
    if hh_col and hh_col in base.columns:
        codes, _ = pd.factorize(base[hh_col])
        base[hh_col] = np.where(codes >= 0, codes.astype(np.int64) * imputations
                                + pick // max(k, 1), -1)
    out: pd.DataFrame = base
    return out


def _completed_outcomes(c: pd.DataFrame, done: pd.DataFrame | None, positions: np.ndarray,
                        rows: np.ndarray, n: int, imputations: int
                        ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], tuple[str, ...]]:
    """Each class's value per completion over every row, from the classification (rows not
    completed) and the completions' classification."""
    def points_of(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        fl = frame["forced_labour_lower"].to_numpy(dtype=bool)
        fl_hi = frame["forced_labour_upper"].to_numpy(dtype=bool)
        tr = frame["trafficked_lower"].to_numpy(dtype=bool)
        status = frame["status"].to_numpy(dtype=object)
        form = frame["form"].to_numpy(dtype=object)
        out = {"forced_labour": fl, "trafficked": tr,
               "forced_labour_not_trafficked": status == STATUSES[1],
               "undetermined": status == STATUSES[2], "not_forced_labour": ~fl_hi}
        for f in FORMS:
            out[f"form_{f}"] = fl & (form == f)
        code = np.full(len(frame), -1, dtype=np.int8)
        for i, f in enumerate(FORMS):
            code[form == f] = i
        out["_form"] = code
        return out

    base = points_of(c)
    target = positions[rows]
    comp = points_of(done) if done is not None else None
    points: dict[str, np.ndarray] = {}
    for name in (*POINTS, "_form"):
        full = np.zeros(n, dtype=base[name].dtype) if name != "_form" else np.full(n, -1, np.int8)
        full[positions] = base[name]
        arr = np.repeat(full[None, :], imputations, axis=0)
        if comp is not None and rows.size:
            arr[:, target] = comp[name].reshape(imputations, rows.size)
        points[name] = arr
    code = points.pop("_form")
    forms = {"trafficked": np.where(points["trafficked"], code, -1).astype(np.int8),
             "forced_labour": np.where(points["forced_labour"], code, -1).astype(np.int8)}
    open_fl = bool(done is not None and (done["forced_labour_lower"]
                                         != done["forced_labour_upper"]).any())
    open_tr = bool(done is not None and (done["trafficked_lower"]
                                         != done["trafficked_upper"]).any())
    not_estimable: list[str] = []
    if open_fl:
        not_estimable += [p for p in POINTS if p != "undetermined"]
    elif open_tr:
        not_estimable += ["trafficked", "forced_labour_not_trafficked"]
    return points, forms, tuple(not_estimable)


def pool_imputed(parts: Sequence[Imputed | None], units: Sequence[str]) -> Imputed | None:
    """The completions of several surveys stacked as one (rows in order): the surveys' own
    completions and non-response classes side by side. None when a survey was not imputed."""
    if not parts or any(p is None for p in parts):
        return None
    ps = [p for p in parts if p is not None]
    m = {p.imputations for p in ps}
    if len(m) > 1:
        from flestimate.errors import ArgumentError

        raise ArgumentError(f"`reports` of `pool_reports()` were imputed with different numbers "
                            f"of imputations ({', '.join(map(str, sorted(m)))}); estimate them "
                            f"with the same `imputations`")
    sizes = [p.respondent.size for p in ps]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    code_offsets = np.concatenate([[0], np.cumsum([p.classes.n_classes for p in ps])[:-1]])
    codes = np.concatenate([np.where(p.classes.code >= 0, p.classes.code + o, -1)
                            for p, o in zip(ps, code_offsets, strict=True)])
    classes = WeightingClasses(codes, ps[0].classes.names,
                               np.concatenate([p.classes.level for p in ps]),
                               int(sum(p.classes.n_classes for p in ps)),
                               int(sum(p.classes.collapsed for p in ps)))
    not_est = tuple(dict.fromkeys(x for p in ps for x in p.not_estimable))
    nr = {"unit_nonrespondents": int(sum(p.nonresponse.get("unit_nonrespondents", 0)
                                         for p in ps)),
          "surveys": {u: dict(p.nonresponse) for u, p in zip(units, ps, strict=True)}}
    return Imputed(
        ps[0].imputations, ps[0].seed, ps[0].delta,
        {k: np.concatenate([p.points[k] for p in ps], axis=1) for k in ps[0].points},
        {k: np.concatenate([p.forms[k] for p in ps], axis=1) for k in ps[0].forms},
        np.concatenate([p.respondent for p in ps]), classes, ps[0].model,
        np.concatenate([p.completed_rows + o for p, o in zip(ps, offsets, strict=True)]),
        not_est, nr, np.concatenate([p.determined for p in ps]))
