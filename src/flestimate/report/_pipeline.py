"""The main job in one call: read -> map -> classify -> design -> estimate -> report.

:func:`estimate_prevalence` declares the sample design on the whole file (every person row, in
the universe or not) and estimates every class as a domain of it, so that the variance counts the
PSUs of the universe that hold no case and no row is ever dropped.

Its parts: the arguments and input files are checked in ``_inputs``, the estimation frame is
built in ``_frame``, :class:`~flestimate.report._prepared.Prepared` declares the design and
estimates every margin with the tables of ``_margins``; a dask DataFrame goes through
``_dask``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flestimate._checks import known_keywords
from flestimate.classification import classify
from flestimate.classification._rules import FORMS
from flestimate.disclosure import DisclosureRules, load_disclosure
from flestimate.errors import ArgumentError
from flestimate.impute import check_imputations, seed_sequence
from flestimate.mapping import MappedSurvey, ModuleSpec
from flestimate.report._compare import compared_margins
from flestimate.report._frame import prepare, with_imputations
from flestimate.report._imputed import NONRESPONSE_CLASSES
from flestimate.report._inputs import (
    ColumnSelection,
    calibration_totals,
    check_spec_columns,
    check_unique_ids,
    compact_items,
    margin_columns,
    module_spec,
    needed_columns,
    parse_margins,
    read_needed_input,
    return_freed_memory,
    with_read_row,
)
from flestimate.report._options import (
    MISSING_METHODS,
    PREVALENCE_CI_METHODS,
    VARIANCE_METHODS,
    check_options,
)
from flestimate.report._prevalence import PrevalenceReport
from flestimate.report._reliability import ReliabilityRules, load_reliability

__all__ = ["INDICATORS", "MISSING_METHODS", "PREVALENCE_CI_METHODS", "VARIANCE_METHODS",
           "estimate_prevalence"]

#: The classes estimated in the ``prevalence`` table, in display order, with their labels.
INDICATORS: Mapping[str, str] = {
    "forced_labour": "in forced labour",
    "trafficked": "trafficked for forced labour",
    "forced_labour_not_trafficked": "in forced labour, not trafficked",
    "undetermined": "undetermined",
    "not_forced_labour": "not in forced labour",
    **{f"form_{f}": f"forced labour: {f.replace('_', ' ')}" for f in FORMS},
}


# -- the one call -------------------------------------------------------------------------------
@known_keywords
def estimate_prevalence(
    data_or_path: Any,
    spec: str | Path | Mapping[str, Any] | ModuleSpec,
    by: str | Sequence[str | Sequence[str]] | None = None,
    ci: str = "korn-graubard",
    variance: str = "taylor",
    *,
    level: float = 0.95,
    df: float | None = None,
    households: Any = None,
    design: Mapping[str, Any] | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    reliability: str | Path | Mapping[str, Any] | ReliabilityRules = "nchs2017",
    forced_labour: Any = "icls2018",
    trafficking: Any = "seed2007",
    child: Any = "child2018",
    form: Any = "ilo2005",
    indicators: Any = None,
    plain_penalties: str = "unknown_dimension",
    calibrate: Any = None,
    calibration_method: str = "linear",
    calibration_bounds: tuple[float, float] | None = None,
    missing: str = "impute",
    imputations: int = 20,
    imputation_classes: int = 2,
    disclosure: str | Mapping[str, Any] | DisclosureRules | None = None,
    disclosure_threshold: int | None = None,
    compare: bool | str | Sequence[str] | Mapping[str, Any] | None = None,
) -> PrevalenceReport:
    """National (and domain) estimates of forced labour and trafficking from a survey file.

    Reads the file, maps it with the module spec, classifies every respondent, declares the
    spec's sample design on the whole file and estimates, for the universe and each domain: the
    share and number of persons in each class (in forced labour; trafficked; not trafficked;
    undetermined; not in forced labour; forced labour by form), with SE, CI, CV, deff, unweighted
    n, number of cases, effective n, df, the bounds from the undetermined cases and a reliability
    flag; and the shares of the trafficked and of all in forced labour by form.

    The steps, in order: check the arguments; read and check the files
    (``_read_survey``); classify; prepare the estimation frame; impute the undetermined
    (``missing="impute"``); estimate every margin. A dask DataFrame takes
    ``_estimate_dask`` instead of the reading and the preparation.

    Parameters
    ----------
    data_or_path : path, DataFrame, Microdata or dask DataFrame
        The person file (any format :func:`~flestimate.read_microdata` reads). A
        ``dask.dataframe`` is mapped and classified partition by partition (Taylor variance).
    spec : str, path, mapping or ModuleSpec
        Built-in spec name (e.g. ``"moldova-2008-synthetic"``) or a YAML file.
    by : str or list, optional
        Domain margins: ``"sex"``; ``["sex", "destination"]`` or ``"sex,destination"`` (two
        margins);
        ``"sex*destination"`` (crossed). Context variables of the spec or columns of the file.
    ci : str
        Interval for shares: ``korn-graubard`` (default), ``beta``, ``logit``, ``wilson``,
        ``wald``. Numbers get the log-scale interval (``wald`` gives Wald for both).
    variance : {"taylor", "replicate", "jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap"}
        Taylor linearisation on the declared design; ``"replicate"``: the replicate weights
        shipped in the file, declared in the spec's design (``replicate_weights`` (a list or a
        regular expression), ``replicate_method``, ``replicate_scale``, ``replicate_rscales``,
        ``replicate_mse``, ``replicate_rho``, ``replicate_combined``: the arguments of
        :class:`~flestimate.ReplicateDesign`); or replicate weights made from the design
        (:meth:`SurveyDesign.to_replicate`; ``replicates`` and ``seed`` for the bootstrap).
    level, df
        Confidence level; degrees of freedom override (default: the design df of each domain).
    households : path or DataFrame, optional
        Household file merged on the spec's ``merge.on`` key (Georgia style).
    design : mapping, optional
        Overrides of the spec's ``design`` section (``weights``, ``strata``, ``psu``, ``fpc``,
        ``nest``, ``lonely_psu``).
    reliability : str, path, mapping or ReliabilityRules
        Reliability rule set: ``nchs2017`` (default), ``rse30``, ``none`` or your own file.
    disclosure : {"threshold", "none"}, mapping or DisclosureRules, optional
        Statistical disclosure control, applied after the reliability rules to every output:
        ``"threshold"`` (the default, or the spec's ``disclosure:``) blanks every cell of fewer than ``disclosure_threshold``
        unweighted respondents (and every cell of a domain that small), then the cells from
        which a blanked one could be recovered by subtraction (docs/disclosure.md);
        ``"none"`` for internal use, stated in the provenance and under every table.
    disclosure_threshold : int, optional
        Minimum number of respondents behind a published cell (default 3; also ``disclosure:
        {rule: threshold, threshold: 5}`` in the spec).
    forced_labour, trafficking, child, form, indicators, plain_penalties
        Passed to :func:`~flestimate.classify`.
    calibrate : DataFrame, list of DataFrames, mapping, or CSV file(s), optional
        Population totals to calibrate the weights to (a CSV file is read as a DataFrame:
        margin columns and a ``total`` column), over every row of the file
        (:meth:`SurveyDesign.calibrate`): margin columns are columns of the file or context
        variables of the spec (recoded over every row, so that controls can use labels such as
        ``sex: male``). Replicate designs recalibrate every replicate.
    calibration_method, calibration_bounds
        ``"linear"``, ``"raking"``, ``"logit"``, ``"poststratify"`` or ``"rake"``; bounds on
        the g-weights (required for logit).
    missing : {"impute", "minimum"}
        ``"impute"`` (default): the undetermined respondents' missing answers are multiply
        imputed (a latent class model of the answers, :mod:`flestimate.impute`), every
        completion is classified and estimated, and Rubin's rules combine them; respondents
        who answered nothing are unit non-respondents whose weight goes to the respondents of
        their weighting class (the spec's ``nonresponse.classes``; stratum x sex x migrant
        status x proxy by default). ``"minimum"``: the undetermined counted as not in the
        class, the ILO minimum-estimate convention. Either way ``minimum`` and the bounds are in
        every table.
    imputations : int
        Number of imputations M (20).
    imputation_classes : int
        Latent classes of the imputation model (2).
    seed
        Also the seed of the imputations (0 when None: the same file gives the same headline).
    compare : bool, str, list or mapping, optional
        A table of domain differences (``report.select("differences", margin)``): each
        domain's share in forced labour, trafficked and not trafficked minus the reference
        domain's, with the SE of the difference from the covariance of the two shares, a t
        interval on the smaller df, a p-value, and the reliability and disclosure verdicts of
        the shares compared (docs/compare.md). ``True``: every margin of one column; ``"sex"``
        or ``"sex,region"``: those margins, against their first domain; ``"sex=female"`` or
        ``{"sex": "female"}``: against that domain.

    Returns
    -------
    PrevalenceReport

    Notes
    -----
    The design is declared on every row of the file and the universe is a domain of it (the
    outcome is zeroed outside): ``p_d = sum(w 1[d] y) / sum(w 1[d])`` with the ratio estimator's
    linearised variance (see :func:`~flestimate.estimate.proportion`). The share of the
    trafficked by form is the ratio of two totals, ``sum(w 1[trafficked, form f]) /
    sum(w 1[trafficked])``, with its delta-method (linearised) or replicate variance. Bounds:
    ``bound_low`` counts the undetermined as out of the class, ``bound_high`` as in it;
    ``bound_ci_low``/``bound_ci_high`` are the lower interval end of the lower bound and the upper
    end of the upper bound, an interval for the class whatever the undetermined are (Imbens and
    Manski 2004 give a narrower one). Numbers use the log-scale interval ``x exp(-+ t se/x)``
    (Parker et al. 2023, eq. 24) with the design df.
    """
    check_options({"by": by, "ci": ci, "variance": variance, "level": level, "df": df,
                   "design": design, "replicates": replicates, "seed": seed,
                   "reliability": reliability, "forced_labour": forced_labour,
                   "trafficking": trafficking, "child": child, "form": form,
                   "indicators": indicators, "plain_penalties": plain_penalties,
                   "calibrate": calibrate, "calibration_method": calibration_method,
                   "calibration_bounds": calibration_bounds, "missing": missing,
                   "imputations": imputations, "imputation_classes": imputation_classes,
                   "disclosure": disclosure, "disclosure_threshold": disclosure_threshold,
                   "compare": compare})
    calibrate = calibration_totals(calibrate)
    imputations, seed_seq = _imputation_stream(missing, imputations, seed)
    margins = parse_margins(by)
    compared = compared_margins(compare, margins)
    spec_obj = module_spec(spec)
    rules = load_reliability(reliability)
    sdc = _disclosure_rules(disclosure, disclosure_threshold, spec_obj)
    options = {"forced_labour": forced_labour, "trafficking": trafficking, "child": child,
               "form": form, "indicators": indicators, "plain_penalties": plain_penalties}
    if type(data_or_path).__module__.startswith("dask"):
        return _estimate_dask(data_or_path, spec_obj, households, margins, design, options,
                              variance=variance, missing=missing, calibrate=calibrate, ci=ci,
                              level=level, df=df, rules=rules, disclosure=sdc,
                              compare=compared)
    needs = (spec_obj, design, [c for m in margins for c in m], margin_columns(calibrate),
             spec_obj.nonresponse_classes or NONRESPONSE_CLASSES)
    full, mapped, source, labels = _read_survey(
        data_or_path, households, spec_obj, needed_columns(*needs),
        needed_columns(*needs, mapping=False) if isinstance(data_or_path, str | Path) else None)
    cls = classify(mapped, **options)
    prepared = prepare(full, mapped, cls, spec_obj, margins, design, source,
                       calibration_columns=margin_columns(calibrate), value_labels=labels)
    if seed_seq is not None:  # missing="impute"
        prepared = with_imputations(prepared, full, mapped, cls, margins, options,
                                    imputations=imputations, seed=seed, seed_seq=seed_seq,
                                    classes=int(imputation_classes))
    calibration = (None if calibrate is None else
                   (calibrate, calibration_method, calibration_bounds))
    return prepared.estimate(ci=ci, level=level, df=df, rules=rules, margins=margins,
                             variance=variance, replicates=replicates, seed=seed,
                             calibration=calibration, disclosure=sdc, compare=compared)


# -- its steps ----------------------------------------------------------------------------------
def _imputation_stream(missing: str, imputations: int, seed: Any
                       ) -> tuple[int, np.random.SeedSequence | None]:
    """The number of imputations and the imputations' random stream (None for
    ``missing="minimum"``); the options themselves are checked by ``check_options``."""
    if missing != "impute":
        return imputations, None
    return (check_imputations(imputations, "estimate_prevalence"),
            seed_sequence(seed, "estimate_prevalence"))


def _disclosure_rules(disclosure: str | Mapping[str, Any] | DisclosureRules | None,
                      threshold: int | None, spec: ModuleSpec) -> DisclosureRules:
    """The disclosure control asked for, else the spec's, else the threshold rule."""
    return load_disclosure(disclosure if disclosure is not None else
                           (spec.disclosure or "threshold"), threshold)


def _estimate_dask(data: Any, spec: ModuleSpec, households: Any,
                   margins: list[tuple[str, ...]], design: Mapping[str, Any] | None,
                   options: Mapping[str, Any], *, variance: str, missing: str, calibrate: Any,
                   ci: str, level: float, df: float | None, rules: ReliabilityRules,
                   disclosure: DisclosureRules,
                   compare: Mapping[str, str | None]) -> PrevalenceReport:
    """The main job on a dask DataFrame: Taylor variance and the minimum estimate only, on the
    partitions mapped, classified and collapsed by ``prepare_dask`` (dask loads here)."""
    from flestimate.report._dask import prepare_dask

    if variance != "taylor":
        raise ArgumentError("`variance` of `estimate_prevalence()` on a dask DataFrame must be "
                            "'taylor'")
    if missing != "minimum":
        raise ArgumentError("`missing` of `estimate_prevalence()` on a dask DataFrame must be "
                            "'minimum' (multiple imputation needs the data in memory)")
    if calibrate is not None:
        raise ArgumentError("`calibrate` of `estimate_prevalence()` needs the data in memory "
                            "(one row per person); not available for a dask DataFrame")
    prepared = prepare_dask(data, spec, households, margins, design, **options)
    report: PrevalenceReport = prepared.estimate(ci=ci, level=level, df=df, rules=rules,
                                                 margins=margins, disclosure=disclosure,
                                                 compare=compare)
    return report


def _read_survey(data_or_path: Any, households: Any, spec: ModuleSpec, needed: ColumnSelection,
                 later: ColumnSelection | None = None
                 ) -> tuple[pd.DataFrame, MappedSurvey, str, Mapping[str, Mapping[Any, str]]]:
    """The person file merged with the household file (every row, a unique index), checked
    against the spec and mapped, with the read check in the data-quality report; its source;
    the files' value labels (domains of a file column print as their labels). Only the
    ``needed`` columns of a file are read; the spec is checked against all its names. With
    ``later`` (the frame is read here, not the caller's), the frame keeps only those columns
    after the mapping, and its item codes are float32 during it (``compact_items``)."""
    persons, source, row_check, labels, names = read_needed_input(data_or_path, "data_or_path",
                                                                  needed)
    hh = None
    hh_names: list[str] | None = None
    if households is not None:
        hh, _, _, hh_labels, hh_names = read_needed_input(households, "households", needed)
        labels = {**hh_labels, **labels}  # a column of both files is the person file's
    check_spec_columns(spec, source, names, hh_names)
    full = spec.merge_households(persons, hh)
    if not full.index.is_unique:
        full = full.reset_index(drop=True)
    check_unique_ids(full, spec, source)
    if later is not None:
        full = compact_items(full, spec, later)
    mapped = spec.apply(full)
    n_persons = len(persons)
    if later is not None:  # free what only the mapping reads, and give it back
        full = full[later.of(full.columns)]
        del persons, hh
        return_freed_memory()
    if row_check is not None:
        mapped = with_read_row(mapped, source, n_persons, row_check)
    return full, mapped, source, labels
