"""The main job on a ``dask.dataframe``: partitioned microdata larger than memory.

Every estimation column is discrete (design ids, 0/1 classes, forms, domains), so the persons of
a partition that share the stratum, the PSU and every estimation value are interchangeable in
every Taylor sum. Each partition is merged, mapped, classified and prepared as in memory, then
*collapsed* to one row per pattern with its total weight and its number of persons; the
collapsed frames are combined in a tree and only that small frame (about PSUs x patterns) is
computed. The estimates then run on it with :class:`~flestimate.design.SurveyDesign`'s
``frequencies``, and equal the in-memory ones up to the order of floating-point additions.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from flestimate.classification import classify, load_rules
from flestimate.errors import ArgumentError, DataError, DesignError, format_values
from flestimate.mapping import ModuleSpec
from flestimate.report._common import AMONG, PREFIX, UNIVERSE, as_list
from flestimate.report._frame import Outcomes, merge_classification_options, prepare
from flestimate.report._inputs import check_spec_columns, check_unique_ids, input_frame
from flestimate.report._prepared import Prepared
from flestimate.report._prevalence import PrevalenceReport
from flestimate.report._reliability import ReliabilityRules
from flestimate.results import thaw

__all__ = ["prepare_dask"]

_COUNT = f"{PREFIX}count"  # persons a collapsed row stands for
_POSITIVE = f"{PREFIX}positive"  # weight > 0: zero and positive weights are never merged
_BITS = f"{PREFIX}bits"  # the 0/1 estimation columns packed into one integer key
_FAN_IN = 8  # partitions combined per task of the reduction tree
_SOURCE = "<dask DataFrame>"


@dataclass
class _Piece:
    """What one partition, or several combined, contribute to the report."""

    frame: pd.DataFrame  # the collapsed estimation frame, 0/1 columns packed
    columns: tuple[str, ...]  # the estimation frame's columns, in order
    bits: tuple[str, ...]  # the 0/1 columns packed into _BITS, lowest bit first
    design_options: Mapping[str, Any]
    outcomes: tuple[tuple[str, ...], tuple[str, ...]]  # class columns, bounded classes
    quality: pd.DataFrame  # the mapping's quality report, summed, with its row order (_pos)
    universe: dict[str, int]
    counts: pd.DataFrame
    indicators: pd.DataFrame  # per status and indicator: weighted and unweighted sums
    describe: pd.DataFrame  # indicator -> kind, dimension, grade
    rules: Mapping[str, Any]
    sum_w2: float
    households: np.ndarray  # household ids seen (unique)
    split: np.ndarray = field(default_factory=lambda: np.array([]))  # ids in several partitions
    n_partitions: int = 1
    classification: Mapping[str, Any] = field(default_factory=dict)  # classification_options


def _collapse(frames: list[pd.DataFrame], weights: str) -> pd.DataFrame:
    """One row per (design ids, estimation values, weight > 0): summed weight and persons."""
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    keys = [c for c in frame.columns if c not in (weights, _COUNT)]
    out: pd.DataFrame = frame.groupby(keys, dropna=False, observed=True, sort=False)[
        [weights, _COUNT]].sum().reset_index()
    return out


def _pack(frame: pd.DataFrame, bits: tuple[str, ...]) -> pd.DataFrame:
    """The 0/1 columns as the bits of one int64 key (a groupby on ~30 fewer keys)."""
    code = np.zeros(len(frame), dtype=np.int64)
    for i, c in enumerate(bits):  # a loop over columns, not rows
        code |= frame[c].to_numpy(dtype=np.int64) << i
    out: pd.DataFrame = frame.drop(columns=list(bits)).assign(**{_BITS: code})
    return out


def _unpack(frame: pd.DataFrame, bits: tuple[str, ...], columns: tuple[str, ...]) -> pd.DataFrame:
    code = frame[_BITS].to_numpy()
    flags = {c: (code >> i) & 1 == 1 for i, c in enumerate(bits)}
    out: pd.DataFrame = frame.drop(columns=_BITS).assign(**flags)[list(columns)]
    return out


def _check_rows(part: pd.DataFrame, frame: pd.DataFrame, opts: Mapping[str, Any],
                index: int) -> None:
    """Missing design values and bad weights, named by the partition's own row labels (the
    collapsed rows no longer name persons)."""
    w = opts["weights"]
    for col in dict.fromkeys(c for key in ("strata", "psu", "fpc")
                             for c in as_list(opts.get(key))):
        bad = frame[col].isna().to_numpy()
        if bad.any():
            raise DesignError(f"design column {col!r} has {int(bad.sum())} missing value(s) in "
                              f"partition {index}; first rows: "
                              f"{format_values(part.index[bad].tolist())}")
    if not pd.api.types.is_numeric_dtype(frame[w]) or pd.api.types.is_bool_dtype(frame[w]):
        raise DesignError(f"weights column {w!r} must be numeric; got dtype {frame[w].dtype}")
    values = frame[w].to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise DesignError(f"weights column {w!r} has {int(bad.sum())} missing, infinite or "
                          f"negative value(s) in partition {index}; first rows: "
                          f"{format_values(part.index[bad].tolist())}")


def _partition(part: pd.DataFrame, households: pd.DataFrame | None, *, spec: ModuleSpec,
               margins: list[tuple[str, ...]], design: Mapping[str, Any] | None,
               options: Mapping[str, Any], hh_col: str | None, index: int) -> _Piece | None:
    """Merge, map, classify and prepare one partition as in memory, then collapse it."""
    if len(part) == 0:
        return None
    # A person's ids repeat only within its household, whole in one partition (a household
    # split across partitions is an error below): checking each partition checks the file.
    check_unique_ids(part, spec, f"{_SOURCE}, partition {index}")
    full = spec.merge_households(part, households)
    if not full.index.is_unique:
        full = full.reset_index(drop=True)
    mapped = spec.apply(full)
    cls = classify(mapped, **options)
    prep = prepare(full, mapped, cls, spec, margins, design, f"{_SOURCE}, partition {index}")
    opts = prep.design_options
    weights = str(opts["weights"])
    _check_rows(part, prep.frame, opts, index)
    w = prep.frame[weights].to_numpy(dtype=np.float64)
    frame = prep.frame.assign(**{_POSITIVE: w > 0, _COUNT: np.ones(len(w), dtype=np.int64)})
    # Indicator table sums, as Classification.indicator_table computes them, kept additive.
    inds = list(cls.provenance["indicators_in_data"])
    wi = (mapped.frame[weights].to_numpy(dtype=np.float64) if weights in mapped.frame.columns
          else np.ones(len(mapped.frame)))
    values = mapped.frame[inds].to_numpy(dtype=np.float64)
    classes = cls.to_frame()
    sums = []
    for status in ("forced_labour", "trafficked"):
        among = classes[f"{status}_lower"].to_numpy(dtype=bool)
        v, wa = values[among], wi[among][:, None]
        yes, no = v == 1, v == 0
        observed = yes | no
        sums.append(pd.DataFrame({
            "among": status, "indicator": inds, "order": np.arange(len(inds)),
            "yes_w": (wa * yes).sum(axis=0), "observed_w": (wa * observed).sum(axis=0),
            "n_yes": yes.sum(axis=0), "n_no": no.sum(axis=0),
            "n_missing": (~observed).sum(axis=0)}))
    ids = part[hh_col].dropna().unique() if hh_col in part.columns else np.array([])
    bits = (*prep.outcomes.columns, UNIVERSE, *(s for _, s in AMONG.values()), _POSITIVE)
    return _Piece(_collapse([_pack(frame, bits)], weights), tuple(frame.columns), bits, opts,
                  (tuple(prep.outcomes.columns), prep.outcomes.bounded),
                  _quality_order(prep.quality, spec), dict(prep.universe), prep.counts,
                  pd.concat(sums, ignore_index=True),
                  prep.indicator_table[["indicator", "kind", "dimension", "grade"]]
                  .drop_duplicates("indicator"),
                  prep.rules, float(np.sum(w * w)), np.sort(np.asarray(ids)),
                  classification=prep.classification_options)


def _combine(pieces: Sequence[_Piece | None]) -> _Piece | None:
    """Add up partitions: collapsed frames regrouped, counts summed, split households found."""
    ps = [p for p in pieces if p is not None]
    if len(ps) <= 1:
        return ps[0] if ps else None
    first = ps[0]
    hh, split = first.households, first.split
    for p in ps[1:]:
        split = np.union1d(np.union1d(split, p.split), np.intersect1d(hh, p.households))
        hh = np.union1d(hh, p.households)
    return _Piece(
        _collapse([p.frame for p in ps], str(first.design_options["weights"])),
        first.columns, first.bits, first.design_options, first.outcomes,
        _quality_sum([p.quality for p in ps]),
        {k: sum(p.universe[k] for p in ps) for k in first.universe},
        functools.reduce(pd.DataFrame.add, [p.counts for p in ps]),
        pd.concat([p.indicators for p in ps], ignore_index=True).groupby(
            ["among", "indicator"], sort=False).agg(
            order=("order", "min"), yes_w=("yes_w", "sum"), observed_w=("observed_w", "sum"),
            n_yes=("n_yes", "sum"), n_no=("n_no", "sum"),
            n_missing=("n_missing", "sum")).reset_index(),
        first.describe, first.rules, sum(p.sum_w2 for p in ps), hh, split,
        sum(p.n_partitions for p in ps),
        merge_classification_options([p.classification for p in ps]))



def _quality_order(q: pd.DataFrame, spec: ModuleSpec) -> pd.DataFrame:
    """A partition's quality report with the in-memory row order: universe rules and items
    (present in every partition, in spec order), then context rows in spec order (present only
    where they arose)."""
    context = {c.name: i for i, c in enumerate(spec.context)}
    pos = np.arange(len(q), dtype=np.float64)
    ctx = (q["section"] == "context").to_numpy()
    pos[ctx] = 1e9 + q.loc[ctx, "indicator"].map(context).to_numpy(dtype=np.float64)
    out: pd.DataFrame = q.assign(_pos=pos)
    return out


def _quality_sum(frames: list[pd.DataFrame]) -> pd.DataFrame:
    counts = [c for c in frames[0].columns if c.startswith("n")]
    grouped = pd.concat(frames, ignore_index=True).groupby(
        ["section", "indicator", "item", "reason"], dropna=False, sort=False)
    out = grouped[counts].sum(min_count=1).join(grouped["_pos"].min())
    result: pd.DataFrame = out.sort_values("_pos", kind="stable").reset_index()[
        list(frames[0].columns)].astype(frames[0].dtypes.to_dict())
    return result


def _quality(q: pd.DataFrame, in_universe: int) -> pd.DataFrame:
    out: pd.DataFrame = q.drop(columns="_pos")
    # A context row counts the universe's rows, also in partitions where it did not arise.
    out.loc[out["section"] == "context", "n"] = in_universe
    return out


def _indicator_table(piece: _Piece) -> pd.DataFrame:
    """Classification.indicator_table for forced labour and the trafficked, from the sums."""
    out = []
    for status in ("forced_labour", "trafficked"):
        s = piece.indicators[piece.indicators["among"] == status].sort_values("order")
        with np.errstate(invalid="ignore", divide="ignore"):
            share = s["yes_w"].to_numpy() / s["observed_w"].to_numpy()
            share_u = s["n_yes"].to_numpy() / (s["n_yes"] + s["n_no"]).to_numpy()
        t = pd.DataFrame({"indicator": s["indicator"].to_numpy()}).merge(
            piece.describe, on="indicator", how="left")
        t = t.assign(n_yes=s["n_yes"].to_numpy(), n_no=s["n_no"].to_numpy(),
                     n_missing=s["n_missing"].to_numpy(), share=share, share_unweighted=share_u)
        t = t.sort_values(["kind", "dimension", "share"], ascending=[True, True, False],
                          na_position="last", kind="stable").reset_index(drop=True)
        out.append(t.assign(among=status))
    table: pd.DataFrame = pd.concat(out, ignore_index=True)
    return table


@dataclass(frozen=True)
class DaskPrepared(Prepared):
    """The collapsed estimation frame of a dask DataFrame: every row stands for ``_fl_count``
    persons; the design uses them as frequencies and every unweighted count sums them."""

    n_partitions: int = 1
    sum_w2: float = float("nan")

    def estimate(self, *, ci: str, level: float, df: float | None, rules: ReliabilityRules,
                 margins: list[tuple[str, ...]], variance: str = "taylor",
                 replicates: int | None = None, seed: int | None = None,
                 design: Any = None,
                 calibration: tuple[Any, str, Any] | None = None,
                 disclosure: Any = None,
                 compare: Mapping[str, str | None] | None = None) -> PrevalenceReport:
        """As :meth:`Prepared.estimate` (Taylor only), with the Kish weighting effect from the
        summed squared weights and the number of partitions in the provenance."""
        if variance != "taylor" or calibration is not None:
            raise ArgumentError("a dask DataFrame supports Taylor variance without calibration "
                                "only")
        report = super().estimate(ci=ci, level=level, df=df, rules=rules, margins=margins,
                                  design=design, disclosure=disclosure, compare=compare)
        provenance = thaw(report.provenance)
        d = provenance["design"]
        d["kish_deff_weights"] = d["n_rows"] * self.sum_w2 / d["sum_weights"] ** 2
        provenance["partitions"] = self.n_partitions
        # the tables of counts as the base report protected them (disclosure control)
        return PrevalenceReport(report.to_frame(), provenance, quality=report.quality,
                                classification_counts=report.classification_counts,
                                indicator_table=report.indicator_table, classification=None,
                                prepared=self)


def prepare_dask(data: Any, spec: ModuleSpec, households: Any,
                 margins: list[tuple[str, ...]], design: Mapping[str, Any] | None, *,
                 forced_labour: Any, trafficking: Any, child: Any, form: Any, indicators: Any,
                 plain_penalties: str = "unknown_dimension") -> Prepared:
    """Map, classify and prepare a dask DataFrame partition by partition, collapsed.

    Parameters
    ----------
    data : dask.dataframe.DataFrame
        The person file, partitioned so that no household spans two partitions (e.g.
        ``ddf.shuffle("hh_id")``, or divisions at household boundaries).
    spec, households, margins, design
        As :func:`~flestimate.report._frame.prepare`; ``households`` (small) is a path, a
        pandas DataFrame or Microdata, merged into every partition.
    forced_labour, trafficking, child, form, indicators, plain_penalties
        Passed to :func:`~flestimate.classify`.

    Returns
    -------
    DaskPrepared

    Notes
    -----
    A collapsed row ``g`` holds ``W_g = sum_(i in g) w_i`` and ``f_g = |g|`` for persons equal
    in stratum, PSU, FPC, weight sign and every estimation column, so ``sum_i w_i y_i =
    sum_g W_g y_g``, ``sum_i w_i y_i^2 = sum_g W_g y_g^2`` and the PSU totals are unchanged,
    while unweighted counts are ``sum_g f_g``: the Taylor estimates, SEs, deff, n, n_eff and df
    are those of the uncollapsed file. ``kish_deff_weights = n sum w^2 / (sum w)^2`` takes
    ``sum w^2`` summed over the partitions. The quality report, the universe and
    classification counts and the indicator table (weighted numerators and denominators) are
    summed over partitions. Households must not span partitions (the child rule links a child
    to the parents of its household): a household id found in two partitions is a
    :class:`~flestimate.errors.DataError`. The driver holds only the collapsed frame and the
    household ids; the report has no ``classification`` (no per-person ``explain``), its
    provenance names ``"<dask DataFrame>"``, the number of ``partitions`` and the design's
    ``frequencies`` column.
    """
    from dask.base import compute
    from dask.delayed import delayed

    hh: pd.DataFrame | None = None
    if households is not None:
        hh = (households.compute() if type(households).__module__.startswith("dask")
              else input_frame(households, "households")[0])
    check_spec_columns(spec, _SOURCE, [str(c) for c in data.columns],
                       None if hh is None else [str(c) for c in hh.columns])
    hh_col = spec.ids.get("household") or (spec.merge or {}).get("on")
    # Rule sets read once, here; the fixed arguments bound once, not traversed for every task.
    options = {kind: load_rules(rules, kind) for kind, rules in (
        ("forced_labour", forced_labour), ("trafficking", trafficking), ("child", child),
        ("form", form))}
    work = delayed(functools.partial(
        _partition, spec=spec, margins=margins, design=design, hh_col=hh_col,
        options={**options, "indicators": indicators, "plain_penalties": plain_penalties}),
        pure=True)
    hh_task = delayed(hh, pure=True)
    tasks = [work(part, hh_task, index=i) for i, part in enumerate(data.to_delayed())]
    while len(tasks) > 1:  # a tree: no task holds more than _FAN_IN collapsed frames
        tasks = [delayed(_combine, pure=True)(tasks[i:i + _FAN_IN])
                 for i in range(0, len(tasks), _FAN_IN)]
    piece: _Piece | None = compute(tasks[0])[0]  # type: ignore[no-untyped-call]
    if piece is None:
        raise DataError(f"`data_or_path` of `estimate_prevalence()`: the dask DataFrame has no "
                        f"rows ({data.npartitions} partition(s))")
    if piece.split.size:
        raise DataError(
            f"`data_or_path` of `estimate_prevalence()`: {piece.split.size} household(s) of "
            f"column {hh_col!r} span several partitions, e.g. "
            f"{format_values(piece.split[:5].tolist())}; households must not be split (the "
            f"child rule links parents in a household): repartition on the household id, e.g. "
            f"ddf.shuffle({hh_col!r})")
    frame = _unpack(piece.frame, piece.bits, piece.columns).drop(columns=[_POSITIVE])
    names, bounded = piece.outcomes
    outcomes = Outcomes({c: frame[c].to_numpy() for c in names}, bounded)
    universe = piece.universe
    return DaskPrepared(frame, outcomes, piece.design_options, spec, _SOURCE,
                        _quality(piece.quality, int(universe["in_universe"])), universe,
                        None, piece.counts, _indicator_table(piece), piece.rules,
                        frequencies=_COUNT, classification_options=piece.classification,
                        n_partitions=data.npartitions, sum_w2=piece.sum_w2)
