"""The estimation frame: the design columns, the 0/1 class columns (points and bounds), the
universe, the by-form and domain columns over every row of the file, and the completions of
the undetermined respondents (``missing="impute"``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from flestimate._caller import warn_caller
from flestimate._format import labelled_domain
from flestimate.classification import STATUSES, Classification, builtin_rules, load_rules
from flestimate.classification._rules import FORMS
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, SpecError
from flestimate.mapping import DESIGN_KEYS, MappedSurvey, ModuleSpec, recode_values
from flestimate.report._common import AMONG, PREFIX, UNIVERSE, as_list
from flestimate.report._imputed import impute_survey
from flestimate.report._prepared import Prepared
from flestimate.report._scale_up import network_columns

__all__ = ["Outcomes", "classification_options", "merge_classification_options", "prepare",
           "with_imputations"]


@dataclass(frozen=True)
class Outcomes:
    """0/1 columns over every row of the file: each class's point value and its bounds."""

    columns: dict[str, np.ndarray]
    bounded: tuple[str, ...]  # classes with lower/upper bound columns


def _outcomes(cls: pd.DataFrame, positions: np.ndarray, n_rows: int) -> Outcomes:
    fl_lo = cls["forced_labour_lower"].to_numpy(dtype=bool)
    fl_hi = cls["forced_labour_upper"].to_numpy(dtype=bool)
    tr_lo = cls["trafficked_lower"].to_numpy(dtype=bool)
    tr_hi = cls["trafficked_upper"].to_numpy(dtype=bool)
    status = cls["status"].to_numpy(dtype=object)
    form = cls["form"].to_numpy(dtype=object)
    # Each class: (point, lower, upper). The point counts the persons classified in the class;
    # the bounds count the undetermined as out of it and as in it (classification.md).
    classes: dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = {
        "forced_labour": (fl_lo, fl_lo, fl_hi),
        "trafficked": (tr_lo, tr_lo, tr_hi),
        "forced_labour_not_trafficked": (status == STATUSES[1], fl_lo & ~tr_hi, fl_hi & ~tr_lo),
        "undetermined": (status == STATUSES[2], None, None),
        "not_forced_labour": (~fl_hi, ~fl_hi, ~fl_lo),
    }
    # "mixed or undetermined" also holds the persons whose perpetrator or sector is missing, who
    # may be in any form: each form's upper bound counts them in.
    unknown_form = form == FORMS[-1]
    for f in FORMS:
        is_f = form == f
        classes[f"form_{f}"] = (fl_lo & is_f, fl_lo & is_f, fl_hi & (is_f | unknown_form))
    columns: dict[str, np.ndarray] = {}
    for name, arrays in classes.items():
        for suffix, values in zip(("", "__lower", "__upper"), arrays, strict=True):
            if values is not None:
                col = np.zeros(n_rows, dtype=bool)
                col[positions] = values
                columns[name + suffix] = col
    bounded = tuple(k for k, v in classes.items() if v[1] is not None)
    return Outcomes(columns, bounded)


def _design_options(spec: ModuleSpec, design: Mapping[str, Any] | None) -> dict[str, Any]:
    opts: dict[str, Any] = dict(spec.design)
    if design is not None:
        if not isinstance(design, Mapping):
            raise ArgumentTypeError("`design` of `estimate_prevalence()` must be a mapping like "
                                    "the spec's design section")
        unknown = set(design) - DESIGN_KEYS
        if unknown:
            raise ArgumentError(f"`design` of `estimate_prevalence()`: unknown key(s) "
                                f"{sorted(unknown)}; expected {', '.join(sorted(DESIGN_KEYS))}")
        opts.update(design)
    if not opts.get("weights"):
        raise SpecError(f"{spec.source}: design.weights: the spec declares no weight column; add "
                        f"it to the spec or pass design={{'weights': ...}}")
    return opts


def _by_column(name: str, full: pd.DataFrame, mapped: MappedSurvey, positions: np.ndarray,
               spec: ModuleSpec, labels: Mapping[Any, str] | None = None) -> pd.Series:
    """A domain column over every row: the mapped (canonical, recoded) variable when the spec
    defines it, else the file's own column (as its value labels when the file has them); rows
    outside the universe are missing."""
    if name in mapped.frame.columns:
        values = mapped.frame[name]
    elif name in full.columns and labels:
        named = labelled_domain(full[name], labels)
        domain: pd.Series = pd.Series(
            pd.Categorical([None] * len(full), categories=named.cat.categories), index=full.index)
        domain.iloc[positions] = named.iloc[positions].to_numpy()
        return domain.cat.remove_unused_categories()  # a label nobody has is no domain
    elif name in full.columns:
        values = full[name].iloc[positions]
    else:
        context = sorted(c.name for c in spec.context)
        raise ArgumentError(f"`by` of `estimate_prevalence()`: {name!r} is neither a context "
                            f"variable of spec {spec.name!r} ({', '.join(context)}) nor a column "
                            f"of the file")
    if not isinstance(values.dtype, np.dtype):  # text, categories: missing where not taken
        # (the same as filling an object column and casting it, without the 1,000,000 objects)
        take = np.full(len(full), -1, dtype=np.int64)
        take[positions] = np.arange(len(positions))
        taken: pd.Series = pd.Series(values.array.take(take, allow_fill=True),
                                     index=full.index)
        return taken
    out = pd.Series(pd.NA, index=full.index, dtype=object)
    out.iloc[positions] = values.to_numpy(dtype=object)
    if values.dtype.kind in "iufb":
        numeric: pd.Series = pd.to_numeric(out)
        return numeric
    typed: pd.Series = out.astype(values.dtype)
    return typed


def _calibration_column(name: str, full: pd.DataFrame, spec: ModuleSpec) -> pd.Series:
    """A calibration variable over every row: a column of the file, or a context variable of the
    spec recoded over every row (calibration runs on the whole sample, not the universe)."""
    if name in full.columns:
        return full[name]
    ctx = next((c for c in spec.context if c.name == name), None)
    if ctx is None or ctx.column not in full.columns:
        raise ArgumentError(f"`calibrate` of `estimate_prevalence()`: margin column {name!r} is "
                            f"neither a column of the file nor a context variable of spec "
                            f"{spec.name!r}")
    recoded, _ = recode_values(full[ctx.column], ctx, f"{spec.source}: context.{name}")
    return recoded


def with_imputations(prepared: Prepared, full: pd.DataFrame, mapped: MappedSurvey,
                     cls: Classification, margins: list[tuple[str, ...]],
                     options: Mapping[str, Any], *, imputations: int, seed: Any,
                     seed_seq: np.random.SeedSequence, classes: int = 2,
                     delta: float = 0.0) -> Prepared:
    """``prepared`` with the completions of its undetermined respondents (``missing="impute"``).
    """
    import dataclasses

    frame = prepared.frame
    positions = full.index.get_indexer(mapped.frame.index)
    opts = prepared.design_options
    nr = prepared.spec.nonresponse_classes or None
    imputed = impute_survey(
        full, mapped, cls, prepared.spec, positions, frame,
        frame[UNIVERSE].to_numpy(dtype=bool), frame[opts["weights"]].to_numpy(dtype=float),
        as_list(opts.get("strata"))[:1], list(dict.fromkeys(c for m in margins for c in m)),
        options, imputations=imputations, seed=seed, seed_seq=seed_seq, classes=classes,
        delta=delta, nonresponse_classes=nr)
    return dataclasses.replace(prepared, imputed=imputed)


def prepare(full: pd.DataFrame, mapped: MappedSurvey, cls: Classification, spec: ModuleSpec,
            margins: list[tuple[str, ...]], design: Mapping[str, Any] | None,
            source: str, calibration_columns: Sequence[str] = (),
            value_labels: Mapping[str, Mapping[Any, str]] | None = None) -> Prepared:
    """The estimation frame of a mapped and classified survey (rows of ``full``, in order);
    ``value_labels`` are the files' (a domain column of the file prints as its labels)."""
    opts = _design_options(spec, design)
    design_cols = [c for key in ("weights", "strata", "psu", "fpc")
                   for c in as_list(opts.get(key))]
    reps = opts.get("replicate_weights")
    if isinstance(reps, str):  # a regular expression matching the names in full (as R)
        try:
            pattern = re.compile(reps)
        except re.error as exc:
            raise SpecError(f"{spec.source}: design.replicate_weights: {reps!r} is not a "
                            f"regular expression ({exc})") from exc
        matched = [c for c in full.columns if pattern.fullmatch(str(c))]
        if not matched:
            raise DataError(f"{source}: design.replicate_weights: no column matches {reps!r}")
        design_cols += matched
        opts["replicate_weights"] = matched
    elif reps is not None:
        design_cols += as_list(reps)
    missing = [c for c in design_cols if c not in full.columns]
    if missing:
        raise DataError(f"{source}: design column(s) {missing} of spec {spec.name!r} not found "
                        f"in the data")
    positions = full.index.get_indexer(mapped.frame.index)
    n = len(full)
    frame = full[list(dict.fromkeys(design_cols))].copy()
    classes = cls.to_frame()
    outcomes = _outcomes(classes, positions, n)
    extra: dict[str, Any] = dict(outcomes.columns)
    universe = np.zeros(n, dtype=bool)
    universe[positions] = True
    extra[UNIVERSE] = universe
    # the form of every row by its category code (-1: none), outside the class none
    form_codes = np.full(n, -1, dtype=np.int64)
    form_codes[positions] = pd.Categorical(classes["form"], categories=FORMS).codes
    for among, subpop in AMONG.values():
        among_mask = outcomes.columns[among]
        extra[subpop] = among_mask
        codes = np.where(among_mask, form_codes, -1).astype(np.int64)
        extra[f"{PREFIX}form_{among}"] = pd.Series(
            pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(FORMS))),
            index=full.index)
    for c in dict.fromkeys(c for m in margins for c in m):
        extra[c] = _by_column(c, full, mapped, positions, spec, (value_labels or {}).get(c))
    for c in calibration_columns:
        if c not in extra and c not in frame.columns:
            extra[c] = _calibration_column(c, full, spec)
    extra.update(network_columns(full, spec, source))
    frame = pd.concat([frame, pd.DataFrame(extra, index=full.index)], axis=1)
    weights = opts["weights"]
    ind = cls.indicator_table(weights=weights if weights in mapped.frame.columns else None)
    ind_tr = cls.indicator_table(weights=weights if weights in mapped.frame.columns else None,
                                 status="trafficked")
    indicator_table = pd.concat([ind.assign(among="forced_labour"),
                                 ind_tr.assign(among="trafficked")], ignore_index=True)
    options = classification_options(cls.provenance)
    needs, forms = form_needs(cls.provenance["rules"]["form"], mapped.frame.columns)
    if forms:
        options["not_measured"] = {**options["not_measured"], **needs}
        options["forms_not_measured"] = forms
    return Prepared(frame, outcomes, opts, spec, source, mapped.quality,
                    dict(mapped.universe), cls, cls.counts(), indicator_table,
                    {k: v["name"] for k, v in cls.provenance["rules"].items()},
                    classification_options=options)


def _filter_columns(spec: Any) -> list[str]:
    """The columns a filter (``{column, op, value}``, ``and``, ``or``, ``not``) reads."""
    if not isinstance(spec, Mapping):
        return []
    out = [str(spec["column"])] if "column" in spec else []
    for key in ("and", "or"):
        for part in spec.get(key) or []:
            out += _filter_columns(part)
    return out + _filter_columns(spec.get("not"))


def form_needs(rule: Mapping[str, Any], columns: Sequence[str] | pd.Index
               ) -> tuple[dict[str, list[str]], list[str]]:
    """What the form rule needs that the mapped data lack, and the forms it therefore cannot
    give; a MISSING_ITEMS warning names them.

    The rule's cases are tried in order and the first that holds decides, so a form is still
    measured when its case and every case before it read columns the data hold (with
    ``sector`` unmapped, ``state_imposed`` of ``ilo2005``, decided by the perpetrator alone);
    every later form, and the ``otherwise`` form, is not. Returns what the rule needs
    (``{rule: ["column sector"]}``, for the report's ``not_measured``) and the forms not
    measured (``forms_not_measured``). A rule set given as a mapping (no file to read back)
    is not checked."""
    name = str(rule.get("name"))
    source = name if name in builtin_rules() else str(rule.get("file") or "")
    if not source or source.startswith("<"):
        return {}, []
    rules = load_rules(source, "form")
    have = set(map(str, columns))
    needs = sorted({c for _, when in rules.cases for c in _filter_columns(when)} - have)
    if not needs:
        return {}, []
    forms: list[str] = []
    for form, when in rules.cases:
        if forms or not set(_filter_columns(when)) <= have:
            forms.append(form)
    forms = list(dict.fromkeys([*forms, *([rules.otherwise] if rules.otherwise else [])]))
    what = [f"column {c}" for c in needs]
    warn_caller(f"not measured in the data, so the form of forced labour is undetermined "
                f"(not 'mixed or undetermined'): rule {name!r}: {', '.join(what)}; the forms "
                f"{', '.join(forms)} are not estimated (map the column in the spec's context "
                f"section)", "MISSING_ITEMS")
    return {name: what}, forms


def classification_options(provenance: Mapping[str, Any]) -> dict[str, Any]:
    """What a report records of a classification beyond the rule names: the assumptions that
    change its numbers (``plain_penalties``, the indicator table's version) and what the rules
    needed that the data do not measure (``not_measured``) or measure without the dimension
    (``dimension_unknown``)."""
    return {"plain_penalties": provenance["plain_penalties"],
            "indicator_table": provenance["indicator_table"],
            "not_measured": {k: list(v) for k, v in provenance["not_measured"].items()},
            "dimension_unknown": list(provenance["dimension_unknown"])}


def merge_classification_options(options: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The classification findings of several parts (partitions, pooled surveys): what any of
    them did not measure, or measured without the dimension (a part without children does not
    meet the child rule's needs); the options of the first."""
    out = dict(options[0]) if options else {}
    needs: dict[str, set[str]] = {}
    for o in options:
        for rule, what in o.get("not_measured", {}).items():
            needs.setdefault(rule, set()).update(what)
    out["not_measured"] = {k: sorted(v) for k, v in sorted(needs.items())}
    out["dimension_unknown"] = sorted({c for o in options
                                       for c in o.get("dimension_unknown", ())})
    forms = {f for o in options for f in o.get("forms_not_measured", ())}
    if forms:
        out["forms_not_measured"] = [f for f in FORMS if f in forms]
    return out
