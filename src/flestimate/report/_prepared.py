"""One survey ready to estimate: :class:`Prepared` holds the estimation frame and what the
report keeps of the mapping and the classification, declares the design (Taylor, shipped or
made replicates, the non-response adjustment, the calibration) and estimates every margin into
a :class:`~flestimate.report.PrevalenceReport`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate._format import label_text
from flestimate._version import __version__
from flestimate.classification import Classification
from flestimate.design import SurveyDesign
from flestimate.disclosure import DisclosureRules, protect, protect_tables
from flestimate.errors import ArgumentError, DataError, SpecError
from flestimate.estimate import proportion
from flestimate.mapping import ModuleSpec
from flestimate.replicate import ReplicateDesign
from flestimate.report._combined import (
    differences_imputed,
    imputation_flags,
    imputed_frame,
    margin_imputed,
)
from flestimate.report._common import AMONG, NR_WEIGHT, TABLE_COLUMNS, UNIVERSE
from flestimate.report._compare import (
    COMPARED,
    DIFFERENCES,
    finish,
    pair_differences,
    protect_differences,
)
from flestimate.report._inputs import margin_columns
from flestimate.report._margins import domain_labels, kg_interval, margin_tables
from flestimate.report._prevalence import PrevalenceReport
from flestimate.report._reliability import (
    ReliabilityRules,
    assess_reliability,
    mark_not_measured,
)
from flestimate.report._scale_up import ASKED, scale_up_rows

if TYPE_CHECKING:
    from flestimate.report._frame import Outcomes
    from flestimate.report._imputed import Imputed

__all__ = ["Prepared", "assumptions", "not_measured_reason", "not_measured_reasons"]

_NATIONAL = "national"
#: The classes of the prevalence table that the trafficking rule decides.
_TRAFFICKING_CLASSES = ("trafficked", "forced_labour_not_trafficked")


def _calibrated(design: Any, totals: Any, method: str, bounds: Any) -> Any:
    if method == "poststratify":
        return design.poststratify(totals)
    if method == "rake":
        return design.rake(totals)
    return design.calibrate(totals, method=method, bounds=bounds)


@dataclass(frozen=True)
class Prepared:
    """The estimation frame of one survey (design columns, 0/1 class columns, domain columns)
    with what the report keeps of the mapping and the classification."""

    frame: pd.DataFrame
    outcomes: Outcomes
    design_options: Mapping[str, Any]
    spec: ModuleSpec
    source: str
    quality: pd.DataFrame
    universe: Mapping[str, int]
    classification: Classification | None
    counts: pd.DataFrame
    indicator_table: pd.DataFrame
    rules: Mapping[str, Any]
    #: A column of row multiplicities when each row stands for several persons (a collapsed
    #: frame); every unweighted count sums it.
    frequencies: str | None = None
    #: The classification's options and findings (:func:`classification_options`).
    classification_options: Mapping[str, Any] = field(default_factory=dict)
    #: The completions of the undetermined respondents (``missing="impute"``), or None.
    imputed: Imputed | None = None

    def replicate_design(self, frame: pd.DataFrame | None = None) -> ReplicateDesign:
        """The replicate design of the replicate weights the spec declares (``replicate_*``)."""
        o = self.design_options
        if not o.get("replicate_weights") or not o.get("replicate_method"):
            raise SpecError(f"{self.spec.source}: design.replicate_weights: variance='replicate' "
                            f"needs the replicate weight columns and `replicate_method` in the "
                            f"spec's design (or design={{...}})")
        return ReplicateDesign(self.frame if frame is None else frame, o["weights"],
                               o["replicate_weights"],
                               o["replicate_method"], scale=o.get("replicate_scale"),
                               rscales=o.get("replicate_rscales"),
                               mse=bool(o.get("replicate_mse", False)),
                               rho=o.get("replicate_rho"),
                               combined=bool(o.get("replicate_combined", True)))

    def design(self, frame: pd.DataFrame | None = None, weights: str | None = None
               ) -> SurveyDesign:
        o = self.design_options
        return SurveyDesign(self.frame if frame is None else frame,
                            weights=o["weights"] if weights is None else weights,
                            strata=o.get("strata"),
                            psu=o.get("psu"), fpc=o.get("fpc"), nest=bool(o.get("nest", False)),
                            lonely_psu=o.get("lonely_psu", "fail"),
                            frequencies=self.frequencies)

    def estimate(self, *, ci: str, level: float, df: float | None, rules: ReliabilityRules,
                 margins: list[tuple[str, ...]], variance: str = "taylor",
                 replicates: int | None = None, seed: int | None = None,
                 design: Any = None,
                 calibration: tuple[Any, str, Any] | None = None,
                 disclosure: DisclosureRules | None = None,
                 compare: Mapping[str, str | None] | None = None) -> PrevalenceReport:
        if design is None:
            design = self._design(self.frame, variance, replicates, seed, calibration)
        parts: dict[str, list[pd.DataFrame]] = {"prevalence": [], **{k: [] for k in AMONG}}
        excluded: dict[str, int] = {}
        for margin in [(), *margins]:
            label = "*".join(margin) if margin else _NATIONAL
            if margin:
                missing = self.frame.loc[self.frame[UNIVERSE], list(margin)].isna().any(axis=1)
                persons = (np.ones(len(missing)) if self.frequencies is None else
                           self.frame.loc[self.frame[UNIVERSE], self.frequencies].to_numpy())
                excluded[label] = int(persons[missing.to_numpy()].sum())
                self._check_margin(label, margin, missing)
            tables, prov = margin_tables(design, self.frame, self.outcomes, margin, ci, level, df,
                                   self.frequencies)
            for name, t in zip(("prevalence", "prevalence", *AMONG), tables, strict=True):
                parts[name].append(t.assign(by=label, domain=domain_labels(t, margin)))
        table = pd.concat([t for v in parts.values() for t in v], ignore_index=True)
        table = table.rename(columns={"flag": "ci_flag"})
        table["n_cases"] = table["n_cases"].fillna(0).astype(np.int64)
        table = table.assign(minimum=table["estimate"], fmi=np.nan, imputations=0)
        if self.imputed is not None:
            table = self._imputed_table(table, margins, variance, replicates, seed, calibration,
                                        ci, level, df)
        kg_low, kg_high = kg_interval(table, ci, level)
        flags = assess_reliability(table.assign(kg_low=kg_low, kg_high=kg_high), rules)
        table = pd.concat([table, flags], axis=1)
        reasons = not_measured_reasons(table, self.not_measured(),
                                       self.classification_options.get("forms_not_measured"))
        if self.imputed is not None:
            table = imputation_flags(table.assign(_not_estimable=False))
        table = mark_not_measured(table, reasons)
        by_cols = list(dict.fromkeys(c for m in margins for c in m))
        disclosure = disclosure if disclosure is not None else DisclosureRules()
        table, disclosed = protect(table, margins, disclosure)
        if compare:
            diffs = self._differences(design, table, compare, level=level, df=df,
                                      variance=variance, replicates=replicates, seed=seed,
                                      calibration=calibration)
            table = pd.concat([table, diffs], ignore_index=True)
        network: dict[str, Any] | None = None
        if self.spec.network is not None and ASKED in self.frame.columns:
            rows, network = scale_up_rows(self.frame, self.spec, design, level=level,
                                          disclosure=disclosure, seed=seed,
                                          replicates=replicates, rules=rules)
            table = pd.concat([table, rows], ignore_index=True)
        table = table.reindex(columns=["table", "by", "domain", *by_cols, *TABLE_COLUMNS])
        provenance = self._provenance(prov, ci=ci, level=level, rules=rules, margins=margins,
                                      replicates=replicates, seed=seed, variance=variance,
                                      calibration=calibration, disclosed=disclosed,
                                      excluded=excluded)
        if network is not None:
            provenance["network_scale_up"] = network
        counts, indicator_table, quality = protect_tables(self.counts, self.indicator_table,
                                                          self.quality, disclosure)
        return PrevalenceReport(table, provenance, quality=quality,
                                classification_counts=counts,
                                indicator_table=indicator_table,
                                classification=self.classification, prepared=self,
                                options={"ci": ci, "level": level, "df": df, "rules": rules,
                                         "margins": margins, "variance": variance,
                                         "replicates": replicates, "seed": seed,
                                         "design": design, "calibration": calibration,
                                         "disclosure": disclosure})

    def _differences(self, design: Any, table: pd.DataFrame,
                     compare: Mapping[str, str | None], *, level: float, df: float | None,
                     variance: str, replicates: int | None, seed: int | None,
                     calibration: tuple[Any, str, Any] | None) -> pd.DataFrame:
        """The table of domain differences (``compare=``): each compared margin's shares
        estimated with their covariances (every completion's under imputation), differenced
        from the reference domain, with the verdicts of the shares they compare."""
        imp = self.imputed
        if imp is not None:
            frame = imputed_frame(self.frame, imp, self.design_options["weights"])
            design = self._design(frame, variance, replicates, seed, calibration, imp)
        parts = []
        for col, ref in compare.items():
            if imp is None:
                est = proportion(design, list(COMPARED), by=[col], subpop=UNIVERSE, level=level,
                                 df=df, covmat=True)
                t = est.to_frame().rename(columns={"variable": "indicator"})
                d = pair_differences(t, est.vcov().to_numpy(), col, ref, ["indicator"])
            else:
                d = differences_imputed(design, imp, col, ref, level, df)
            shares = table[(table["table"] == "prevalence") & (table["measure"] == "share")
                           & (table["by"] == col)]
            d = protect_differences(finish(d, level), shares, col)
            n = shares.assign(domain=shares["domain"].astype(str))[["domain", "indicator", "n"]]
            d = d.assign(table=DIFFERENCES, by=col, domain=d[col].map(label_text),
                         measure="difference").merge(n, on=["domain", "indicator"], how="left")
            parts.append(d)
        out: pd.DataFrame = pd.concat(parts, ignore_index=True)
        return out

    def not_measured(self) -> dict[str, str]:
        """The classes the data cannot measure, each with the reason printed in its cells:
        ``forced_labour`` (every class and form then) when the forced-labour or child rule
        needs an item the spec does not map, ``trafficked`` (trafficked, in forced labour not
        trafficked, the trafficked by form) when the trafficking rule does.

        With ``missing="impute"``, the classes whose bounds the completions leave open (what
        cannot be imputed is not: :attr:`Imputed.not_estimable`); with the minimum estimate, the
        classes whose rule needs an item not measured and leaves a respondent undetermined, so
        that the minimum would count as "no" what was never asked."""
        needs: Mapping[str, Any] = self.classification_options.get("not_measured") or {}
        out: dict[str, str] = {}
        for cls, kinds in (("forced_labour", ("forced_labour", "child")),
                           ("trafficked", ("trafficking",))):
            items = {str(self.rules[k]): list(needs[self.rules[k]]) for k in kinds
                     if self.rules.get(k) in needs}
            if self.imputed is not None:
                hit = cls in self.imputed.not_estimable
            else:
                hit = bool(items) and self._open(cls)
            if hit:
                out[cls] = not_measured_reason(
                    items, self.classification_options.get("dimension_unknown") or ())
        form = str(self.rules.get("form"))
        if (self.classification_options.get("forms_not_measured") and form in needs
                and self._open("forced_labour", possible=True)):
            out["form"] = not_measured_reason({form: list(needs[form])})
        return out

    def _open(self, cls: str, possible: bool = False) -> bool:
        """Whether some respondent of the universe is undetermined in class ``cls`` (its lower
        and upper bound columns differ), or with ``possible`` may be in it (upper bound)."""
        universe = self.frame[UNIVERSE].to_numpy(dtype=bool)
        low = self.frame[f"{cls}__lower"].to_numpy(dtype=bool)
        high = self.frame[f"{cls}__upper"].to_numpy(dtype=bool)
        return bool((universe & (high if possible else low != high)).any())

    def _provenance(self, prov: Mapping[str, Any], *, ci: str, level: float,
                    rules: ReliabilityRules, margins: list[tuple[str, ...]],
                    replicates: int | None, seed: int | None, variance: str,
                    calibration: tuple[Any, str, Any] | None, disclosed: Mapping[str, Any],
                    excluded: Mapping[str, int]) -> dict[str, Any]:
        """The report's provenance: the inputs, the methods, and under ``assumptions`` every
        choice that changes a number (:func:`assumptions`)."""
        missing = (self.imputed.provenance() if self.imputed is not None else
                   {"method": "minimum",
                    "rule": "undetermined respondents counted as not in the class (the ILO "
                            "minimum-estimate convention)"})
        out: dict[str, Any] = {
            "source": self.source,
            "spec": {"name": self.spec.name, "source": self.spec.source},
            "reference_period": self.spec.reference_period,
            "rules": self.rules,
            "classification": dict(self.classification_options),
            "variance": prov["variance"],
            "ci_method": ci,
            "count_ci": "wald" if ci == "wald" else "log-scale, t on the design df",
            "level": level,
            "df_rule": prov["df_rule"],
            "design": prov["design"],
            "design_options": dict(self.design_options),
            "calibration": None if calibration is None else {
                "method": calibration[1], "bounds": calibration[2],
                "margins": margin_columns(calibration[0])},
            "replicates": replicates,
            "seed": seed,
            "reliability": {"name": rules.name, "source": rules.source,
                            "reference": rules.reference},
            "disclosure": dict(disclosed),
            "margins": ["*".join(m) for m in margins],
            "excluded_missing_by": dict(excluded),
            "universe": dict(self.universe),
            "missing": missing,
            "version": __version__,
        }
        out["assumptions"] = assumptions(out, variance=variance,
                                         not_measured=self.not_measured())
        return out

    def _fay_rho(self, variance: str) -> float | None:
        """Fay's coefficient of ``variance='fay'``, from the design options (spec or
        ``design=``); without it, an ArgumentError saying where to give it."""
        if variance != "fay":
            return None
        rho = self.design_options.get("replicate_rho")
        if rho is None:
            raise ArgumentError("`variance='fay'` of `estimate_prevalence()` needs Fay's "
                                "coefficient: pass design={'replicate_rho': 0.5} (or set "
                                "design.replicate_rho in the spec; in a batch, the survey's "
                                "design table)")
        return float(rho)

    def _check_margin(self, label: str, margin: tuple[str, ...], missing: pd.Series) -> None:
        """A margin whose domain value is missing for every person of the universe has no
        domain to estimate: a DataError naming its empty columns (and their source columns)."""
        if len(missing) and not missing.all():
            return
        if not len(missing):
            raise DataError(f"{self.source}: no row is in the universe of spec "
                            f"{self.spec.name!r}, so `by` margin {label!r} has no domain")
        values = self.frame.loc[self.frame[UNIVERSE], list(margin)]
        empty = [c for c in margin if values[c].isna().all()] or list(margin)
        context = {c.name: c.column for c in self.spec.context}
        columns = ", ".join(f"{c!r}" + (f" (spec context, column {context[c]!r})"
                                        if c in context else "") for c in empty)
        raise DataError(f"{self.source}: `by` margin {label!r} has no domain: {columns} "
                        f"{'is' if len(empty) == 1 else 'are'} missing for all "
                        f"{len(missing):,} persons in the universe; drop it from `by` or check "
                        f"the column")

    def _design(self, frame: pd.DataFrame, variance: str, replicates: int | None,
                seed: int | None, calibration: tuple[Any, str, Any] | None,
                imputed: Imputed | None = None) -> Any:
        """The design over ``frame``: Taylor, shipped or made replicates; with ``imputed``, the
        unit non-response adjustment (inside every replicate); then the calibration."""
        if variance == "replicate":
            design: Any = self.replicate_design(frame)
        else:
            design = self.design(frame, NR_WEIGHT if imputed is not None and variance ==
                                 "taylor" else None)
            if variance != "taylor":
                design = design.to_replicate(variance, replicates, seed, rho=self._fay_rho(variance))
        if imputed is not None and variance != "taylor":
            design = design.nonresponse_adjusted(imputed.classes.code, imputed.respondent,
                                                 "unit non-response adjustment")
        if calibration is not None:
            design = _calibrated(design, *calibration)
        return design

    def _imputed_table(self, table: pd.DataFrame, margins: list[tuple[str, ...]],
                       variance: str, replicates: int | None, seed: int | None,
                       calibration: tuple[Any, str, Any] | None, ci: str, level: float,
                       df: float | None) -> pd.DataFrame:
        """The table with every estimate replaced by its multiple-imputation estimate (Rubin's
        rules over the completions); ``minimum`` keeps the classified estimate, the bounds
        stay."""
        imp = self.imputed
        assert imp is not None
        frame = imputed_frame(self.frame, imp, self.design_options["weights"])
        design = self._design(frame, variance, replicates, seed, calibration, imp)
        parts = []
        for margin in [(), *margins]:
            label = "*".join(margin) if margin else _NATIONAL
            for t in margin_imputed(design, frame, imp, margin, ci, level, df):
                parts.append(t.assign(by=label, domain=domain_labels(t, margin)))
        mi = pd.concat(parts, ignore_index=True)
        keys = ["table", "by", "domain", "measure", "indicator"]
        mi = mi.rename(columns={c: f"{c}_mi" for c in mi.columns if c not in keys})
        mi = mi.rename(columns={"flag_mi": "ci_flag_mi"})
        merged = table.merge(mi[[c for c in mi.columns if c in keys or c.endswith("_mi")]],
                             on=keys, how="left", validate="1:1")
        has = merged["estimate_mi"].notna() | merged["indicator"].isin(imp.not_estimable)
        has &= merged["indicator"] != "undetermined"
        for col in ("estimate", "se", "ci_low", "ci_high", "cv", "deff", "n", "n_eff", "df",
                    "fmi", "imputations", "n_cases"):
            merged[col] = np.where(has, merged[f"{col}_mi"], merged[col])
        merged["ci_flag"] = np.where(has, merged["ci_flag_mi"], merged["ci_flag"])
        merged["imputations"] = merged["imputations"].fillna(0).astype(np.int64)
        merged["n"] = merged["n"].astype(np.int64)
        merged["n_cases"] = merged["n_cases"].fillna(0).astype(np.int64)
        merged["_every_case_imputed"] = np.where(has, merged["every_case_imputed_mi"], False)
        out: pd.DataFrame = merged[[c for c in merged.columns if not c.endswith("_mi")]]
        return out


def not_measured_reason(items: Mapping[str, Sequence[str]],
                        dimension_unknown: Sequence[str] = ()) -> str:
    """The note of a cell the data cannot measure: what each rule needs that the spec does not
    map (``"not measured: rule 'seed2007' needs column moved, which the spec does not map"``),
    else the penalties recorded without the dimension a rule asks for, else (multiple
    imputation left the class open without either) "not estimable"."""
    if items:
        needs = "; ".join(f"rule {rule!r} needs {', '.join(what)}"
                          for rule, what in items.items())
        return f"not measured: {needs}, which the spec does not map"
    if dimension_unknown:
        cols = list(dimension_unknown)
        return (f"not measured: the dimension of penalty {', '.join(cols[:4])}"
                f"{' ...' if len(cols) > 4 else ''} is not recorded (plain_penalties="
                f"'unknown_dimension')")
    return ("not estimable: the completions leave it undetermined (the rules need what the "
            "data do not measure, or nothing to impute it from)")


def not_measured_reasons(table: pd.DataFrame, classes: Mapping[str, str],
                         forms: Sequence[str] | None = None) -> np.ndarray:
    """The not-measured note of every row of a report's tidy table ("" where measured):
    ``classes`` as :meth:`Prepared.not_measured` gives them. Forced labour not measured takes
    every class but the undetermined, and both by-form tables; trafficking not measured takes
    the trafficked, the in forced labour not trafficked and the trafficked by form; the form
    not measured takes ``forms`` (the form rule's cases it cannot decide) in every table."""
    reasons = np.full(len(table), "", dtype=object)
    name = table["table"].to_numpy(dtype=object)
    indicator = table["indicator"].to_numpy(dtype=object)
    prevalence = name == "prevalence"
    if "form" in classes and forms:
        rows = (prevalence & np.isin(indicator, [f"form_{f}" for f in forms])) | (
            np.isin(name, list(AMONG)) & np.isin(indicator, list(forms)))
        reasons[rows] = classes["form"]
    if "trafficked" in classes:
        rows = (prevalence & np.isin(indicator, _TRAFFICKING_CLASSES)) | (
            name == "trafficked_by_form")
        reasons[rows] = classes["trafficked"]
    if "forced_labour" in classes:
        rows = (prevalence & (indicator != "undetermined")) | np.isin(name, list(AMONG))
        reasons[rows] = classes["forced_labour"]
    return reasons


def assumptions(provenance: Mapping[str, Any], *, variance: str,
                not_measured: Mapping[str, str]) -> dict[str, Any]:
    """Every choice behind a report that changes a number, under flat keys with plain values
    (strings, numbers, lists): the report header, the HTML, the Excel provenance and the batch
    manifest show them as they are. The keys are listed in docs/prevalence.md."""
    rules = provenance["rules"]
    cls = provenance["classification"]
    missing = provenance["missing"]
    disclosure = provenance["disclosure"]
    imputed = missing.get("method") == "multiple imputation"
    return {
        "forced_labour_rules": rules.get("forced_labour"),
        "child_rules": rules.get("child"),
        "trafficking_rules": rules.get("trafficking"),
        "form_rules": rules.get("form"),
        "plain_penalties": cls.get("plain_penalties"),
        "dimension_unknown": list(cls.get("dimension_unknown") or ()),
        "not_measured": [f"rule {rule!r}: {', '.join(what)}"
                         for rule, what in (cls.get("not_measured") or {}).items()],
        "not_estimated": sorted(not_measured),
        "missing": "impute" if imputed else "minimum",
        "imputations": missing.get("imputations") if imputed else None,
        "imputation_delta": missing.get("delta") if imputed else None,
        "disclosure": disclosure.get("rule", "none"),
        "disclosure_threshold": (disclosure.get("threshold")
                                 if disclosure.get("rule", "none") != "none" else None),
        "reliability": provenance["reliability"]["name"],
        "ci": provenance["ci_method"],
        "level": provenance["level"],
        "variance": variance,
        "lonely_psu": provenance["design_options"].get("lonely_psu", "fail"),
        "calibration": (provenance["calibration"] or {}).get("method"),
    }
