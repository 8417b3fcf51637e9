"""The main job in one call: read -> map -> classify -> design -> estimate -> report.

:func:`estimate_prevalence` declares the sample design on the whole file (every person row, in
the universe or not) and estimates every class as a domain of it, so that the variance counts the
PSUs of the universe that hold no case and no row is ever dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flestimate._checks import check_choice
from flestimate._version import __version__
from flestimate.classification import STATUSES, Classification, classify
from flestimate.classification._rules import FORMS
from flestimate.design import SurveyDesign
from flestimate.disclosure import (
    DisclosureRules,
    load_disclosure,
    protect,
    protect_tables,
)
from flestimate.errors import (
    ArgumentError,
    ArgumentTypeError,
    DataError,
    SpecError,
    format_values,
)
from flestimate.estimate import (
    proportion,
    total,
)
from flestimate.impute import check_imputations, seed_sequence
from flestimate.intervals import PROPORTION_CI_METHODS, confidence_interval
from flestimate.io import read_microdata
from flestimate.mapping import DESIGN_KEYS, MappedSurvey, ModuleSpec, load_spec, recode_values
from flestimate.replicate import ReplicateDesign
from flestimate.report._combined import imputation_flags, imputed_frame, margin_imputed
from flestimate.report._common import AMONG, NR_WEIGHT, PREFIX, UNIVERSE, log_interval
from flestimate.report._imputed import Imputed, impute_survey
from flestimate.report._prevalence import TABLE_COLUMNS, PrevalenceReport
from flestimate.report._reliability import ReliabilityRules, assess_reliability, load_reliability

__all__ = ["INDICATORS", "MISSING_METHODS", "PREVALENCE_CI_METHODS", "VARIANCE_METHODS",
           "estimate_prevalence"]

#: ``ci=`` choices: the interval methods for proportions, and Wald.
PREVALENCE_CI_METHODS = (*PROPORTION_CI_METHODS, "wald")

#: ``missing=`` choices: multiple imputation of the undetermined, or the minimum estimate.
MISSING_METHODS = ("impute", "minimum")

#: ``variance=`` choices: Taylor linearisation or replicates made from the declared design.
VARIANCE_METHODS = ("taylor", "replicate", "jk1", "jkn", "brr", "fay", "bootstrap",
                    "subbootstrap")

#: The classes estimated in the ``prevalence`` table, in display order, with their labels.
INDICATORS: Mapping[str, str] = {
    "forced_labour": "in forced labour",
    "trafficked": "trafficked for forced labour",
    "forced_labour_not_trafficked": "in forced labour, not trafficked",
    "undetermined": "undetermined",
    "not_forced_labour": "not in forced labour",
    **{f"form_{f}": f"forced labour: {f.replace('_', ' ')}" for f in FORMS},
}

_NATIONAL = "national"


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


# -- arguments ----------------------------------------------------------------------------------
def parse_margins(by: Any) -> list[tuple[str, ...]]:
    """``by`` as a list of margins: "sex" one margin, ["sex", "region"] two margins, and
    "sex*region" (or a tuple inside the list) one crossed margin."""
    if by is None:
        return []
    items = [by] if isinstance(by, str | tuple) else by
    if not isinstance(items, Sequence):
        raise ArgumentTypeError(f"`by` of `estimate_prevalence()` must be a column name or a "
                                f"list of them; got {type(by).__name__}")
    out: list[tuple[str, ...]] = []
    for item in items:
        cols = tuple(c.strip() for c in item.split("*")) if isinstance(item, str) else tuple(item)
        if not cols or not all(isinstance(c, str) and c for c in cols):
            raise ArgumentError(f"`by` of `estimate_prevalence()`: {item!r} is not a column name "
                                f"or a crossing like 'sex*region'")
        if cols not in out:
            out.append(cols)
    return out


def _spec(spec: Any) -> ModuleSpec:
    if isinstance(spec, ModuleSpec):
        return spec
    if isinstance(spec, str | Path):
        return load_spec(spec)
    if isinstance(spec, Mapping):
        return ModuleSpec.from_dict(spec)
    raise ArgumentTypeError(f"`spec` of `estimate_prevalence()` must be a built-in spec name, a "
                            f"YAML path, a mapping or a ModuleSpec; got {type(spec).__name__}")


def input_frame(data: Any, what: str) -> tuple[pd.DataFrame, str]:
    frame, source, _ = _read(data, what)
    return frame, source


def _read(data: Any, what: str) -> tuple[pd.DataFrame, str, str | None]:
    """The frame, its source, and how its row count was checked (None for a DataFrame)."""
    if isinstance(data, str | Path):
        md = read_microdata(data)
        return md.frame, str(data), md.metadata.row_check or None
    meta = getattr(data, "metadata", None)
    frame, source = _given_frame(data, what)
    return frame, source, getattr(meta, "row_check", None) or None


def _given_frame(data: Any, what: str) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        return data, "<DataFrame>"
    if hasattr(data, "frame") and isinstance(data.frame, pd.DataFrame):
        meta = getattr(data, "metadata", None)
        source = getattr(meta, "path", None) or getattr(meta, "file", None)
        return data.frame, str(source) if source else "<Microdata>"
    raise ArgumentTypeError(f"`{what}` of `estimate_prevalence()` must be a file path, a pandas "
                            f"DataFrame or Microdata; got {type(data).__name__}")


# -- checks of the data against the spec ---------------------------------------------------------
def _filter_columns(rule: Any) -> list[str]:
    if isinstance(rule, Mapping):
        own = [str(rule["column"])] if isinstance(rule.get("column"), str) else []
        return own + [c for v in rule.values() for c in _filter_columns(v)]
    if isinstance(rule, list):
        return [c for v in rule for c in _filter_columns(v)]
    return []


def _spec_columns(spec: ModuleSpec) -> list[str]:
    """The file columns a spec names: design, ids, merge key, universe, items, context."""
    names = [c for key in ("weights", "strata", "psu", "fpc")
             for c in as_list(spec.design.get(key))]
    names += [str(v) for v in spec.ids.values()]
    names += [str(spec.merge["on"])] if spec.merge else []
    names += _filter_columns(spec.universe)
    for ind in spec.indicators:
        names += [*ind.items, *_filter_columns(ind.asked_if), *_filter_columns(ind.no_if)]
    names += [c.column for c in spec.context]
    return list(dict.fromkeys(names))


def check_spec_columns(spec: ModuleSpec, source: str, persons: pd.DataFrame,
                       households: pd.DataFrame | None = None) -> None:
    """Columns of the spec that the file has only under another case (an SPSS portable
    ``.por`` file stores its names in upper case) are a ``DataError`` saying so and how to
    read them, instead of a "column not found" further on."""
    have = [str(c) for c in persons.columns]
    if households is not None:
        have += [str(c) for c in households.columns]
    present = set(have)
    by_lower: dict[str, str] = {}
    for c in have:
        by_lower.setdefault(c.lower(), c)
    other_case = {c: by_lower[c.lower()] for c in _spec_columns(spec)
                  if c not in present and c.lower() in by_lower}
    if not other_case:
        return
    upper = all(c == c.upper() for c in have)
    what = ("the file's names are upper case" if upper else
            "the file has them in another case")
    fix = ("read it with read_microdata(path, lowercase_names=True)" if upper and all(
        c == c.lower() for c in other_case) else "rename the columns to the spec's names")
    raise DataError(
        f"{source}: column(s) {format_values(list(other_case))} of spec {spec.name!r} not "
        f"found: {what}: {format_values(list(other_case.values()))} (first names read: "
        f"{format_values(have, limit=6)}); {fix}"
    )


def check_unique_ids(frame: pd.DataFrame, spec: ModuleSpec, source: str) -> None:
    """Persons whose ids (the spec's ``ids``: household and person line) repeat an earlier
    row would be counted twice: a ``DataError`` naming the first rows, their ids and the count.
    Rows with a missing id are not compared; a spec without a ``person`` id is not checked."""
    if "person" not in spec.ids:
        return
    cols = list(dict.fromkeys(str(v) for v in spec.ids.values()))
    if not all(c in frame.columns for c in cols):
        return
    ids = frame[cols]
    repeat = ids.duplicated(keep="first").to_numpy() & ids.notna().all(axis=1).to_numpy()
    if not repeat.any():
        return
    def show(value: Any) -> str:
        return (str(int(value)) if isinstance(value, float) and value.is_integer()
                else repr(value) if isinstance(value, str) else str(value))

    rows = np.flatnonzero(repeat)[:5]
    shown = "; ".join(
        f"row {frame.index[r]} ("
        + ", ".join(f"{c}={show(v)}" for c, v in zip(cols, ids.iloc[r].tolist(), strict=True))
        + ")" for r in rows)
    more = f"; ... ({int(repeat.sum()) - len(rows)} more)" if repeat.sum() > len(rows) else ""
    raise DataError(
        f"{source}: {int(repeat.sum())} person row(s) repeat the ids ({', '.join(cols)}) of an "
        f"earlier row (the spec's `ids`) and would be counted twice: {shown}{more}; drop the "
        f"duplicates or fix the ids"
    )


def _with_read_row(mapped: MappedSurvey, source: str, rows: int, row_check: str
                   ) -> MappedSurvey:
    """The data-quality report with a last row on reading (``section == "read"``): the rows
    read and whether their number could be checked against the file (it cannot for a CSV
    file)."""
    import dataclasses

    q = mapped.quality
    row = pd.DataFrame([{"section": "read", "item": source, "n": rows, "reason": row_check}])
    out = pd.concat([q.astype({"reason": object}), row], ignore_index=True)[list(q.columns)]
    counts = [c for c in q.columns if c.startswith("n")]
    out[counts] = out[counts].astype("Int64")
    return dataclasses.replace(mapped, quality=out)


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


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _by_column(name: str, full: pd.DataFrame, mapped: MappedSurvey, positions: np.ndarray,
               spec: ModuleSpec) -> pd.Series:
    """A domain column over every row: the mapped (canonical, recoded) variable when the spec
    defines it, else the file's own column; rows outside the universe are missing."""
    if name in mapped.frame.columns:
        values = mapped.frame[name]
    elif name in full.columns:
        values = full[name].iloc[positions]
    else:
        context = sorted(c.name for c in spec.context)
        raise ArgumentError(f"`by` of `estimate_prevalence()`: {name!r} is neither a context "
                            f"variable of spec {spec.name!r} ({', '.join(context)}) nor a column "
                            f"of the file")
    out = pd.Series(pd.NA, index=full.index, dtype=object)
    out.iloc[positions] = values.to_numpy(dtype=object)
    if values.dtype.kind in "iufb":
        numeric: pd.Series = pd.to_numeric(out)
        return numeric
    typed: pd.Series = out.astype(values.dtype)
    return typed


def _margin_columns(totals: Any) -> list[str]:
    """The columns a calibration's population totals refer to."""
    if totals is None:
        return []
    tables = [totals] if isinstance(totals, pd.DataFrame) else totals
    if isinstance(tables, Mapping):
        return [str(k) for k in tables if k != "_population"]
    if isinstance(tables, list | tuple):
        return list(dict.fromkeys(str(c) for t in tables if isinstance(t, pd.DataFrame)
                                  for c in t.columns if c != "total"))
    raise ArgumentTypeError(f"`calibrate` of `estimate_prevalence()` must be a DataFrame of "
                            f"population totals, a list of them or a mapping; got "
                            f"{type(totals).__name__}")


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


def _calibrated(design: Any, totals: Any, method: str, bounds: Any) -> Any:
    if method == "poststratify":
        return design.poststratify(totals)
    if method == "rake":
        return design.rake(totals)
    return design.calibrate(totals, method=method, bounds=bounds)


# -- estimation -------------------------------------------------------------------------------


def _split_variable(t: pd.DataFrame) -> pd.DataFrame:
    var = t["variable"].astype(str)
    out: pd.DataFrame = t.assign(
        indicator=var.str.replace(r"__(lower|upper)$", "", regex=True),
        kind=np.select([var.str.endswith("__lower"), var.str.endswith("__upper")],
                       ["lower", "upper"], "point"))
    return out


def _with_bounds(t: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Point rows with the estimates and interval ends of their lower and upper bound rows."""
    point = t[t["kind"] == "point"].set_index(keys)
    lower = t[t["kind"] == "lower"].set_index(keys).reindex(point.index)
    upper = t[t["kind"] == "upper"].set_index(keys).reindex(point.index)
    point = point.assign(bound_low=lower["estimate"], bound_high=upper["estimate"],
                         bound_ci_low=lower["ci_low"], bound_ci_high=upper["ci_high"])
    out: pd.DataFrame = point.reset_index()
    return out


def _counts(frame: pd.DataFrame, cols: list[str], by: tuple[str, ...],
            frequencies: str | None) -> pd.DataFrame:
    """Unweighted number of cases of each column (tidy: by..., indicator, n_cases)."""
    if frequencies is not None:
        frame = frame[cols].mul(frame[frequencies], axis=0).join(frame[list(by)])
    if by:
        sums = frame.groupby(list(by), dropna=True, sort=False, observed=True)[cols].sum()
        long: pd.DataFrame = sums.reset_index().melt(id_vars=list(by), var_name="indicator",
                                                     value_name="n_cases")
        return long
    flat: pd.DataFrame = pd.DataFrame({"indicator": cols,
                                       "n_cases": frame[cols].sum().to_numpy()})
    return flat


def _margin(design: Any, frame: pd.DataFrame, outcomes: Outcomes, by: tuple[str, ...],
            ci: str, level: float, df: float | None, frequencies: str | None = None
            ) -> tuple[list[pd.DataFrame], Mapping[str, Any]]:
    cols = list(outcomes.columns)
    points = [c for c in cols if "__" not in c]
    b = list(by) or None
    keys = [*by, "indicator"]
    # A row of zero weight is not a case: n_cases counts the rows that carry weight, as the
    # estimators' n does (a domain whose weights are all 0 has n = n_cases = 0).
    in_universe = frame.loc[frame[UNIVERSE].to_numpy() & (np.asarray(design.weights) > 0)]
    counts = _counts(in_universe, points, by, frequencies)

    shares = proportion(design, cols, by=b, subpop=UNIVERSE, ci=ci, level=level, df=df)
    share = _split_variable(shares.to_frame())
    share = _with_bounds(share, keys).assign(measure="share", table="prevalence")

    number = _split_variable(total(design, cols, by=b, subpop=UNIVERSE, level=level,
                                   df=df).to_frame())
    if ci != "wald":  # the total's own interval is Wald
        low, high = log_interval(number["estimate"].to_numpy(), number["se"].to_numpy(),
                                  number["df"].to_numpy(), level)
        number = number.assign(ci_low=low, ci_high=high,
                               flag=np.where(np.isnan(low) & (number["estimate"] == 0),
                                             "zero count: no interval", number["flag"]))
    number = _with_bounds(number, keys).assign(measure="number", table="prevalence")
    # A count's n is the domain's persons, as the share's; its n_eff is the share's.
    number = number.drop(columns=["n", "n_eff"]).merge(
        share[[*keys, "n", "n_eff"]], on=keys, how="left")
    tables = [share, number]

    for name, (among, subpop) in AMONG.items():
        form_col = f"{PREFIX}form_{among}"
        t = proportion(design, form_col, by=b, subpop=subpop, ci=ci, level=level,
                       df=df).to_frame()
        t = _every_domain(t, share[list(by)].drop_duplicates(), frame[form_col]) if by else t
        t = t.assign(indicator=t["category"].astype(str), measure="share", table=name)
        cases = in_universe.loc[in_universe[subpop]]
        groups = cases.groupby([*by, form_col], observed=True, sort=False)
        n_cases = ((groups.size() if frequencies is None else groups[frequencies].sum())
                   .rename("n_cases").reset_index().rename(columns={form_col: "indicator"}))
        n_cases["indicator"] = n_cases["indicator"].astype(str)
        tables.append(t.merge(n_cases, on=keys, how="left"))
    out = [t.merge(counts, on=keys, how="left") for t in tables[:2]] + tables[2:]
    return out, shares.provenance


def _every_domain(t: pd.DataFrame, domains: pd.DataFrame, forms: pd.Series) -> pd.DataFrame:
    """The shares by form with a row for every form in every domain of the margin.

    The domains of a share among a class are those where the class has a case; a domain
    without one (every domain, in a survey without a case of the class) gets the rows of an
    empty domain, as the national table does, so that every margin's table has its domains.
    """
    by = list(domains.columns)
    have = t[by].drop_duplicates()
    missing = domains.merge(have, on=by, how="left", indicator=True)
    missing = missing.loc[missing["_merge"] == "left_only", by]
    if missing.empty:
        return t
    categories = (list(forms.cat.categories) if isinstance(forms.dtype, pd.CategoricalDtype)
                  else list(pd.unique(forms.dropna())))
    rows = missing.merge(pd.DataFrame({"category": categories}), how="cross")
    empty = rows.assign(variable=forms.name, estimate=np.nan, se=np.nan, ci_low=np.nan,
                        ci_high=np.nan, cv=np.nan, deff=np.nan, deff_wr=np.nan, n=0,
                        n_eff=0.0, df=0.0, n_missing=0, flag="empty domain")
    empty = empty[[c for c in t.columns if c in empty.columns]]
    if isinstance(forms.dtype, pd.CategoricalDtype) and "category" in t.columns:
        empty["category"] = pd.Categorical(empty["category"], categories=categories)
    for c in by:  # the domain columns keep their dtype (categorical, string, number)
        empty[c] = empty[c].astype(domains[c].dtype)
    out: pd.DataFrame = pd.concat([t, empty] if len(t) else [empty], ignore_index=True)
    return out


def _kg(table: pd.DataFrame, ci: str, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The 95% Korn-Graubard interval the NCHS standards judge shares by (the interval of the
    count for numbers), whatever interval was asked for the table."""
    low = table["ci_low"].to_numpy(dtype=float).copy()
    high = table["ci_high"].to_numpy(dtype=float).copy()
    shares = (table["measure"] == "share").to_numpy()
    if ci != "korn-graubard" or level != 0.95:
        s = table.loc[shares]
        kg_low, kg_high, _ = confidence_interval(
            "korn-graubard", s["estimate"].to_numpy(float), s["se"].to_numpy(float),
            s["df"].to_numpy(float), s["n"].to_numpy(float), 0.95)
        low[shares], high[shares] = kg_low, kg_high
        if level != 0.95 or ci == "wald":
            num = table.loc[~shares]
            low[~shares], high[~shares] = log_interval(
                num["estimate"].to_numpy(float), num["se"].to_numpy(float),
                num["df"].to_numpy(float), 0.95)
    return low, high


def _labels(table: pd.DataFrame, margin: tuple[str, ...]) -> pd.Series:
    if not margin:
        return pd.Series("all", index=table.index)
    parts = [table[c].astype(str) for c in margin]
    label = parts[0]
    for p in parts[1:]:
        label = label + " / " + p
    return label


# -- the one call -------------------------------------------------------------------------------
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
) -> PrevalenceReport:
    """National (and domain) estimates of forced labour and trafficking from a survey file.

    Reads the file, maps it with the module spec, classifies every respondent, declares the
    spec's sample design on the whole file and estimates, for the universe and each domain: the
    share and number of persons in each class (in forced labour; trafficked; not trafficked;
    undetermined; not in forced labour; forced labour by form), with SE, CI, CV, deff, unweighted
    n, number of cases, effective n, df, the bounds from the undetermined cases and a reliability
    flag; and the shares of the trafficked and of all in forced labour by form.

    Parameters
    ----------
    data_or_path : path, DataFrame, Microdata or dask DataFrame
        The person file (any format :func:`~flestimate.read_microdata` reads). A
        ``dask.dataframe`` is mapped and classified partition by partition (Taylor variance).
    spec : str, path, mapping or ModuleSpec
        Built-in spec name (e.g. ``"moldova-2008-synthetic"``) or a YAML file.
    by : str or list, optional
        Domain margins: ``"sex"``; ``["sex", "destination"]`` (two margins);
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
    calibrate : DataFrame, list of DataFrames or mapping, optional
        Population totals to calibrate the weights to, over every row of the file
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
    check_choice(variance, VARIANCE_METHODS, "variance", "estimate_prevalence")
    check_choice(ci, PREVALENCE_CI_METHODS, "ci", "estimate_prevalence")
    if missing not in MISSING_METHODS:
        raise ArgumentError(f"`missing` of `estimate_prevalence()` must be one of "
                            f"{', '.join(map(repr, MISSING_METHODS))}; got {missing!r}")
    if missing == "impute":
        imputations = check_imputations(imputations, "estimate_prevalence")
        seed_seq = seed_sequence(seed, "estimate_prevalence")
        if isinstance(imputation_classes, bool) or not isinstance(
                imputation_classes, int | np.integer) or imputation_classes < 1:
            raise ArgumentError(f"`imputation_classes` of `estimate_prevalence()` must be a "
                                f"positive integer; got {imputation_classes!r}")
    margins = parse_margins(by)
    spec_obj = _spec(spec)
    rules = load_reliability(reliability)
    sdc = load_disclosure(disclosure if disclosure is not None else
                          (spec_obj.disclosure or "threshold"), disclosure_threshold)
    if type(data_or_path).__module__.startswith("dask"):
        from flestimate.report._dask import prepare_dask

        if variance != "taylor":
            raise ArgumentError("`variance` of `estimate_prevalence()` on a dask DataFrame must "
                                "be 'taylor'")
        if missing != "minimum":
            raise ArgumentError("`missing` of `estimate_prevalence()` on a dask DataFrame must "
                                "be 'minimum' (multiple imputation needs the data in memory)")
        if calibrate is not None:
            raise ArgumentError("`calibrate` of `estimate_prevalence()` needs the data in "
                                "memory (one row per person); not available for a dask "
                                "DataFrame")
        prepared = prepare_dask(data_or_path, spec_obj, households, margins, design,
                                forced_labour=forced_labour, trafficking=trafficking,
                                child=child, form=form, indicators=indicators,
                                plain_penalties=plain_penalties)
        report: PrevalenceReport = prepared.estimate(ci=ci, level=level, df=df, rules=rules,
                                                     margins=margins, disclosure=sdc)
        return report
    persons, source, row_check = _read(data_or_path, "data_or_path")
    hh = input_frame(households, "households")[0] if households is not None else None
    check_spec_columns(spec_obj, source, persons, hh)
    full = spec_obj.merge_households(persons, hh)
    if not full.index.is_unique:
        full = full.reset_index(drop=True)
    check_unique_ids(full, spec_obj, source)
    mapped = spec_obj.apply(full)
    if row_check is not None:
        mapped = _with_read_row(mapped, source, len(persons), row_check)
    options = {"forced_labour": forced_labour, "trafficking": trafficking, "child": child,
               "form": form, "indicators": indicators, "plain_penalties": plain_penalties}
    cls = classify(mapped, **options)
    prepared = prepare(full, mapped, cls, spec_obj, margins, design, source,
                       calibration_columns=_margin_columns(calibrate))
    if missing == "impute":
        prepared = with_imputations(prepared, full, mapped, cls, margins, options,
                                    imputations=imputations, seed=seed, seed_seq=seed_seq,
                                    classes=int(imputation_classes))
    calibration = (None if calibrate is None else
                   (calibrate, calibration_method, calibration_bounds))
    return prepared.estimate(ci=ci, level=level, df=df, rules=rules, margins=margins,
                             variance=variance, replicates=replicates, seed=seed,
                             calibration=calibration, disclosure=sdc)


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
                 disclosure: DisclosureRules | None = None) -> PrevalenceReport:
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
            tables, prov = _margin(design, self.frame, self.outcomes, margin, ci, level, df,
                                   self.frequencies)
            for name, t in zip(("prevalence", "prevalence", *AMONG), tables, strict=True):
                parts[name].append(t.assign(by=label, domain=_labels(t, margin)))
        table = pd.concat([t for v in parts.values() for t in v], ignore_index=True)
        table = table.rename(columns={"flag": "ci_flag"})
        table["n_cases"] = table["n_cases"].fillna(0).astype(np.int64)
        table = table.assign(minimum=table["estimate"], fmi=np.nan, imputations=0)
        if self.imputed is not None:
            table = self._imputed_table(table, margins, variance, replicates, seed, calibration,
                                        ci, level, df)
        kg_low, kg_high = _kg(table, ci, level)
        flags = assess_reliability(table.assign(kg_low=kg_low, kg_high=kg_high), rules)
        table = pd.concat([table, flags], axis=1)
        if self.imputed is not None:
            table = imputation_flags(table)
        by_cols = list(dict.fromkeys(c for m in margins for c in m))
        disclosure = disclosure if disclosure is not None else DisclosureRules()
        table, disclosed = protect(table, margins, disclosure)
        table = table[["table", "by", "domain", *by_cols, *TABLE_COLUMNS]]
        provenance = {
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
                "margins": _margin_columns(calibration[0])},
            "replicates": replicates,
            "seed": seed,
            "reliability": {"name": rules.name, "source": rules.source,
                            "reference": rules.reference},
            "disclosure": disclosed,
            "margins": ["*".join(m) for m in margins],
            "excluded_missing_by": excluded,
            "universe": dict(self.universe),
            "missing": (self.imputed.provenance() if self.imputed is not None else
                        {"method": "minimum",
                         "rule": "undetermined respondents counted as not in the class (the "
                                 "ILO minimum-estimate convention)"}),
            "version": __version__,
        }
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
                parts.append(t.assign(by=label, domain=_labels(t, margin)))
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
        merged["_not_estimable"] = merged["indicator"].isin(imp.not_estimable) | (
            merged["table"].eq("trafficked_by_form") & ("trafficked" in imp.not_estimable))
        out: pd.DataFrame = merged[[c for c in merged.columns if not c.endswith("_mi")]]
        return out


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
            source: str, calibration_columns: Sequence[str] = ()) -> Prepared:
    """The estimation frame of a mapped and classified survey (rows of ``full``, in order)."""
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
    form = classes["form"]
    for among, subpop in AMONG.values():
        among_mask = outcomes.columns[among]
        extra[subpop] = among_mask
        col = pd.Series(pd.Categorical([None] * n, categories=FORMS), index=full.index)
        col.iloc[positions] = form.to_numpy()
        col[~among_mask] = None
        extra[f"{PREFIX}form_{among}"] = col
    for c in dict.fromkeys(c for m in margins for c in m):
        extra[c] = _by_column(c, full, mapped, positions, spec)
    for c in calibration_columns:
        if c not in extra and c not in frame.columns:
            extra[c] = _calibration_column(c, full, spec)
    frame = pd.concat([frame, pd.DataFrame(extra, index=full.index)], axis=1)
    weights = opts["weights"]
    ind = cls.indicator_table(weights=weights if weights in mapped.frame.columns else None)
    ind_tr = cls.indicator_table(weights=weights if weights in mapped.frame.columns else None,
                                 status="trafficked")
    indicator_table = pd.concat([ind.assign(among="forced_labour"),
                                 ind_tr.assign(among="trafficked")], ignore_index=True)
    return Prepared(frame, outcomes, opts, spec, source, mapped.quality, mapped.universe, cls,
                    cls.counts(), indicator_table,
                    {k: v["name"] for k, v in cls.provenance["rules"].items()},
                    classification_options=classification_options(cls.provenance))


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
    return out
