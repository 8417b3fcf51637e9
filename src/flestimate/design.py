"""The sample design: declared once, validated at construction, immutable afterwards.

:class:`SurveyDesign` turns the design columns of a DataFrame (weights, strata, PSUs of one or
more stages, FPCs) into integer indexes built once: every estimator then reduces to segmented
sums over these indexes (see :mod:`flestimate.variance`). Domains are never made by dropping
rows; the estimators zero the outcome outside the domain on the full design.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from flestimate._caller import caller_stacklevel
from flestimate._checks import check_choice
from flestimate._design_build import (
    frequencies_of,
    row_ids,
    stages_of,
    strata_of,
    unit_ids,
    weights_of,
)
from flestimate.chisq import Association
from flestimate.errors import (
    ArgumentError,
    ArgumentTypeError,
    DataError,
    DesignError,
    FlestimateWarning,
    LonelyPSUError,
    format_values,
)
from flestimate.estimate import Estimators
from flestimate.protocol import DesignVariance, LinearisedTotals
from flestimate.replicate import ReplicateDesign, to_replicate
from flestimate.results import Frozen, summary_html
from flestimate.variance import (
    CERTAINTY_TOL,
    Stage,
    calibration_residual,
    domain_df,
    stage_covariance,
    stage_variance,
    with_variances,
)

if TYPE_CHECKING:
    from flestimate.calibration import Calibration

__all__ = ["LONELY_PSU_RULES", "LonelyPSU", "Stage", "SurveyDesign"]

LonelyPSU = Literal["fail", "remove", "certainty", "adjust", "average"]
LONELY_PSU_RULES: tuple[str, ...] = ("fail", "remove", "certainty", "adjust", "average")

ColumnSpec = str | Sequence[str] | None


def _as_list(spec: ColumnSpec, name: str) -> list[str]:
    if spec is None:
        return []
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, Sequence) and all(isinstance(s, str) for s in spec):
        return list(spec)
    raise ArgumentTypeError(
        f"`{name}` of `SurveyDesign()` must be a column name or a list of column names; "
        f"got {spec!r}"
    )


def _check_arguments(data: Any, weights: Any, strata: ColumnSpec, psu: ColumnSpec,
                     fpc: ColumnSpec, lonely_psu: Any, frequencies: Any,
                     flags: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """The arguments of :class:`SurveyDesign` checked (types, choices, columns present, one
    FPC column per stage); the strata, PSU and FPC columns as lists."""
    if not isinstance(data, pd.DataFrame):
        raise ArgumentTypeError(
            f"`data` of `SurveyDesign()` must be a pandas DataFrame; got {type(data).__name__}"
        )
    check_choice(lonely_psu, LONELY_PSU_RULES, "lonely_psu", "SurveyDesign")
    for flag_name, flag in flags.items():
        if not isinstance(flag, bool | np.bool_):
            raise ArgumentTypeError(
                f"`{flag_name}` of `SurveyDesign()` must be True or False; got {flag!r}"
            )
    strata_cols = _as_list(strata, "strata")
    psu_cols = _as_list(psu, "psu")
    fpc_cols = _as_list(fpc, "fpc")
    if weights is not None and not isinstance(weights, str):
        raise ArgumentTypeError(
            f"`weights` of `SurveyDesign()` must be a column name; got {weights!r}"
        )
    if frequencies is not None and not isinstance(frequencies, str):
        raise ArgumentTypeError(
            f"`frequencies` of `SurveyDesign()` must be a column name or None; "
            f"got {frequencies!r}"
        )
    needed = ([weights] if weights else []) + strata_cols + psu_cols + fpc_cols
    needed += [frequencies] if frequencies else []
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise DataError(
            f"design column(s) {format_values(missing)} not found in `data`; "
            f"available columns: {format_values(list(map(str, data.columns)), limit=12)}"
        )
    if len(data) == 0:
        raise DataError("`data` of `SurveyDesign()` has no rows")
    if fpc_cols and len(fpc_cols) not in (1, max(len(psu_cols), 1)):
        raise ArgumentError(
            f"`fpc` of `SurveyDesign()` must give one column per stage of `psu` "
            f"({max(len(psu_cols), 1)}) or one for the first stage; got {len(fpc_cols)}"
        )
    return strata_cols, psu_cols, fpc_cols


def _label(value: Any) -> str:
    """A stratum label as printed: a whole float as an integer (stratum 14, not 14.0)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


class SurveyDesign(Frozen, Estimators, Association):
    """A stratified multistage sample design, validated once and immutable.

    Parameters
    ----------
    data : pandas.DataFrame
        The microdata, one row per respondent.
    weights : str or None
        Column of sampling weights (inverse inclusion probabilities). ``None`` derives them from
        ``fpc`` given as population counts, as R's ``svydesign`` does without ``weights=``.
    strata : str, list of str or None
        Stratum column (a list is combined into one stratum id). ``None``: one stratum.
    psu : str, list of str or None
        Cluster ids, one column per stage (``["psu", "household"]``). ``None``: every row is its own
        PSU. Later stages are always nested in the earlier ones.
    fpc : str, list of str or None
        Finite population correction per stage: population number of units in the stratum (or
        parent unit), or the sampling fraction when every value is <= 1, as R's ``svydesign``.
        A single column with a multistage ``psu`` applies to the first stage only.
    nest : bool
        Make PSU ids unique within strata (R's ``nest=TRUE``). With ``nest=False`` a PSU id that
        occurs in two strata is a :class:`~flestimate.errors.DesignError`.
    lonely_psu : {"fail", "remove", "certainty", "adjust", "average"}
        What to do with strata that have a single PSU, with R's ``survey.lonely.psu`` meanings.
    adjust_domain_lonely : bool
        Apply ``"adjust"``/``"average"`` also to strata that have a single PSU *inside a domain*
        (R's ``survey.adjust.domain.lonely``; off by default, as in R).
    ultimate_cluster : bool
        Use the first stage only even when later-stage FPCs are given (R's
        ``survey.ultimate.cluster``).
    frequencies : str or None
        Column of row multiplicities (nonnegative integers): each row stands for that many
        persons with the same design and analysis values, and ``weights`` holds their *total*
        weight. ``None``: one person per row. See Notes.

    Notes
    -----
    Variance is Taylor linearisation with the first-stage with-replacement approximation and
    first-stage FPC, recursing into later stages when their FPCs are given (Bellhouse 1985; R
    ``svyrecvar``)::

        V = sum_h (1 - f_h) n_h/(n_h - 1) sum_i (z_hi - zbar_h)^2
            + sum_h f_h sum_i V_2,hi + ...

    Lonely PSUs: ``remove`` and ``certainty`` give the stratum no variance contribution (in R's
    Taylor code they coincide); ``adjust`` centres the lonely PSU total on the grand mean of all
    PSU totals; ``average`` computes the variance without lonely strata and multiplies it by
    ``H / H_ok`` for each estimate. ``fail`` raises :class:`~flestimate.errors.LonelyPSUError` at
    construction, naming the strata. A lonely stratum sampled with certainty (FPC of 1) is not
    lonely: it contributes nothing, as in R.

    Frequencies (collapsed microdata): a row of frequency ``f`` and weight ``W`` stands for
    ``f`` persons of the same stratum, units and analysis values whose weights sum to ``W``
    (all positive, or all zero: a row never mixes zero and positive weights). Every Taylor sum
    is then exact: ``sum w y``, ``sum w y^2`` and the PSU totals are the same over the rows as
    over the persons, and the unweighted counts (``n``, missing values, the deff's SRS
    variance, design df) add up the frequencies. Only ``kish_deff_weights``, which needs
    ``sum w_i^2`` over persons, is unknown (NaN). The PSUs must be declared (with ``psu=None``
    every row is its own PSU and merged persons would merge PSUs); replicate designs and
    calibration need one row per person.

    The design keeps a shallow copy of ``data``: with pandas copy-on-write (the default from
    pandas 3) later changes to the caller's frame do not reach the design.

    References
    ----------
    Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley.
    Bellhouse, D. R. (1985). Computing methods for variance estimation in complex surveys.
    *Journal of Official Statistics* 1(3), 323-329.
    """

    __slots__ = (
        "_adjust_domain_lonely",
        "_data",
        "_fpc",
        "_frozen",
        "_lonely_psu",
        "_nest",
        "_psu",
        "_strata",
        "_stages",
        "_stratum",
        "_n_strata",
        "_ultimate_cluster",
        "_weights",
        "_weights_col",
        "_frequencies",
        "_frequencies_col",
        "_lonely_strata",
        "_variance_stages",
        "_summary",
        "_calibration",
    )
    _data: pd.DataFrame
    _weights: np.ndarray
    _frequencies: np.ndarray | None
    _stratum: np.ndarray
    _n_strata: int
    _stages: list[Stage]
    _lonely_strata: tuple[Any, ...]
    _variance_stages: int
    _summary: dict[str, Any]
    _calibration: Calibration | None

    def __init__(
        self,
        data: pd.DataFrame,
        weights: str | None = None,
        strata: ColumnSpec = None,
        psu: ColumnSpec = None,
        fpc: ColumnSpec = None,
        nest: bool = False,
        lonely_psu: LonelyPSU = "fail",
        *,
        adjust_domain_lonely: bool = False,
        ultimate_cluster: bool = False,
        frequencies: str | None = None,
    ) -> None:
        strata_cols, psu_cols, fpc_cols = _check_arguments(
            data, weights, strata, psu, fpc, lonely_psu, frequencies,
            {"nest": nest, "adjust_domain_lonely": adjust_domain_lonely,
             "ultimate_cluster": ultimate_cluster})

        object.__setattr__(self, "_frozen", False)
        self._calibration = None
        self._data = data.copy(deep=False)
        self._weights_col = weights
        self._frequencies_col = frequencies
        self._frequencies = frequencies_of(self._data, frequencies, psu_cols)
        self._strata = tuple(strata_cols)
        self._psu = tuple(psu_cols)
        self._fpc = tuple(fpc_cols)
        self._nest = bool(nest)
        self._lonely_psu = lonely_psu
        self._adjust_domain_lonely = bool(adjust_domain_lonely)
        self._ultimate_cluster = bool(ultimate_cluster)

        self._stratum, self._n_strata = strata_of(self._data, strata_cols)
        ids = unit_ids(self._data, psu_cols, self._stratum, self._n_strata, self._nest)
        self._stages, popsizes = stages_of(self._data, ids, fpc_cols, self._stratum,
                                           self._n_strata)
        self._weights = weights_of(self._data, weights, popsizes, self._stages, self._stratum)
        self._check_frequency_weights()
        n_fpc_stages = len(fpc_cols)
        recurse = (not self._ultimate_cluster) and n_fpc_stages > 1
        self._variance_stages = len(self._stages) if recurse else 1
        self._lonely_strata = self._check_lonely()
        self._summary = self._make_summary()
        self._weights.setflags(write=False)
        self._stratum.setflags(write=False)
        self._frozen = True

    # -- immutability ---------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(
                "SurveyDesign is immutable; declare a new design instead of changing this one"
            )
        object.__setattr__(self, name, value)

    # -- construction helpers -------------------------------------------------------------
    def _check_frequency_weights(self) -> None:
        f = self._frequencies
        if f is None:
            return
        if self._weights_col is None:  # weights implied by the FPCs are per person
            self._weights = self._weights * f
        bad = (f == 0) & (self._weights > 0)
        if bad.any():
            raise DesignError(
                f"frequencies column {self._frequencies_col!r} is 0 in {int(bad.sum())} row(s) "
                f"of positive weight; first rows: {row_ids(self._data, bad)}"
            )

    def _check_lonely(self) -> tuple[Any, ...]:
        stage = self._stages[0]
        lonely = np.flatnonzero((stage.n_sampled == 1) & (stage.fpc_factor >= CERTAINTY_TOL))
        labels = tuple(self._stratum_labels()[lonely]) if lonely.size else ()
        if lonely.size == 0:
            return labels
        if self._lonely_psu == "fail":
            raise LonelyPSUError(
                f"{lonely.size} stratum/strata have a single PSU: "
                f"{format_values(list(labels))}; choose lonely_psu='remove', 'certainty', "
                f"'adjust' or 'average', or collapse strata"
            )
        warnings.warn(
            FlestimateWarning(
                f"{lonely.size} stratum/strata have a single PSU ({format_values(list(labels))}); "
                f"handled with lonely_psu={self._lonely_psu!r}",
                "LONELY_PSU",
            ),
            stacklevel=caller_stacklevel(),
        )
        return labels

    def _stratum_labels(self) -> np.ndarray:
        if not self._strata:
            return np.array([None], dtype=object)
        frame = self._data[list(self._strata)]
        first = np.zeros(self._n_strata, dtype=np.int64)
        first[self._stratum[::-1]] = np.arange(len(frame))[::-1]
        if len(self._strata) == 1:
            labels: np.ndarray = frame.iloc[first, 0].to_numpy(dtype=object)
            return labels
        return np.array([tuple(r) for r in frame.iloc[first].itertuples(index=False)], dtype=object)

    # -- public read-only view ------------------------------------------------------------
    @property
    def data(self) -> pd.DataFrame:
        """The microdata, as a shallow copy: changing it does not change the design."""
        out: pd.DataFrame = self._data.copy(deep=False)
        return out

    @property
    def weights(self) -> np.ndarray:
        """Sampling weights, read-only."""
        return self._weights

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The sampling stages as integer indexes."""
        return tuple(self._stages)

    @property
    def variance_stages(self) -> int:
        """How many stages enter the variance (1 unless later-stage FPCs are given)."""
        return int(self._variance_stages)

    @property
    def stratum_codes(self) -> np.ndarray:
        """Integer stratum of every row, in sorted order of the stratum labels."""
        return self._stratum

    @property
    def frequencies(self) -> np.ndarray | None:
        """Persons per row (read-only), or None: one person per row."""
        return self._frequencies

    @property
    def all_weights_positive(self) -> bool:
        """Whether every row has a nonzero weight (then every row counts in ``n``)."""
        return bool(self._summary["all_weights_positive"])

    @property
    def n_strata(self) -> int:
        return int(self._n_strata)

    @property
    def n_psu(self) -> int:
        return self._stages[0].n_units

    @property
    def lonely_psu(self) -> str:
        return str(self._lonely_psu)

    @property
    def adjust_domain_lonely(self) -> bool:
        return bool(self._adjust_domain_lonely)

    @property
    def lonely_strata(self) -> tuple[Any, ...]:
        """Labels of strata with a single (non-certainty) PSU."""
        return self._lonely_strata

    @property
    def degf(self) -> int:
        """Design degrees of freedom: PSUs minus strata with nonzero weight (R ``degf``)."""
        return int(self._summary["degf"])

    def summary_dict(self) -> dict[str, Any]:
        """Design summary recorded in every result's provenance (a copy)."""
        return dict(self._summary)

    def _make_summary(self) -> dict[str, Any]:
        w = self._weights
        f = self._frequencies
        if f is None:
            n_rows = len(self._data)
            kish = float(len(w) * np.sum(w * w) / np.sum(w) ** 2)
        else:  # sum w^2 over persons is not known from their total weights
            n_rows = int(np.sum(f))
            kish = float("nan")
        inset = w != 0
        st = self._stages[0]
        n_psu_in = int(np.count_nonzero(np.bincount(st.unit[inset], minlength=st.n_units)))
        n_str_in = int(np.count_nonzero(np.bincount(self._stratum[inset],
                                                    minlength=self._n_strata)))
        return {
            "n_rows": n_rows,
            "frequencies": self._frequencies_col,
            "weights": self._weights_col,
            "strata": list(self._strata) or None,
            "psu": list(self._psu) or None,
            "fpc": list(self._fpc) or None,
            "nest": self._nest,
            "n_strata": self.n_strata,
            "n_psu": self.n_psu,
            "variance_stages": self.variance_stages,
            "sum_weights": float(np.sum(w)),
            "kish_deff_weights": kish,
            "degf": n_psu_in - n_str_in,
            "all_weights_positive": bool(inset.all()),
            "lonely_psu": self._lonely_psu,
            "lonely_strata": [_label(s) for s in self._lonely_strata],
            "adjust_domain_lonely": self._adjust_domain_lonely,
            "ultimate_cluster": self._ultimate_cluster,
        }

    def _one_row_per_person(self, func: str) -> None:
        if self._frequencies is not None:
            raise DesignError(
                f"`{func}()` needs one row per person; this design has frequencies (column "
                f"{self._frequencies_col!r}): declare it on the uncollapsed data"
            )

    def __repr__(self) -> str:
        s = self.summary_dict()
        return (
            f"SurveyDesign(n={s['n_rows']}, strata={s['n_strata']}, psu={s['n_psu']}, "
            f"stages={len(self._stages)}, variance_stages={s['variance_stages']}, "
            f"fpc={'yes' if self._fpc else 'no'}, degf={s['degf']}, "
            f"lonely_psu={self._lonely_psu!r})"
        )

    def _repr_html_(self) -> str:
        s = self.summary_dict()
        rows = [
            ("rows", f"{s['n_rows']:,}"),
            ("weights", s["weights"]),
            ("strata", f"{s['n_strata']:,}" + (f" ({', '.join(s['strata'])})"
                                                 if s["strata"] else "")),
            ("PSUs", f"{s['n_psu']:,}" + (f" ({', '.join(s['psu'])})" if s["psu"] else "")),
            ("stages", f"{len(self._stages)} ({s['variance_stages']} in the variance)"),
            ("fpc", ", ".join(s["fpc"]) if s["fpc"] else "none"),
            ("sum of weights", f"{s['sum_weights']:,.0f}"),
            ("Kish deff of weights", f"{s['kish_deff_weights']:.3g}"),
            ("design df", f"{s['degf']:,}"),
            ("lonely PSUs", f"{s['lonely_psu']}" + (
                f" (strata {', '.join(s['lonely_strata'])})" if s["lonely_strata"] else "")),
        ]
        if self._calibration is not None:
            rows.append(("weights calibrated", "yes"))
        return summary_html("SurveyDesign", rows)

    # -- variance (the Design protocol) -----------------------------------------------------
    @property
    def needs_every_pair(self) -> bool:
        """Calibrated weights: the regression residuals reach every PSU of every domain."""
        return self._calibration is not None

    def variance(self, totals: LinearisedTotals) -> DesignVariance:
        """Taylor linearisation (R ``svyrecvar``): the stages' variances of the linearised
        totals, after the calibration residuals at the first stage; df from the PSUs and
        strata present in each domain (R ``degf``)."""
        var = np.zeros((totals.n_cells, totals.k))
        cov: np.ndarray | None = None
        for s, stage_totals in enumerate(totals.stages):
            z = totals.linearised(s)
            if s == 0 and self._calibration is not None:
                z = z - calibration_residual(self._calibration, self._stages[0], self._weights,
                                             totals)
            var = var + stage_variance(
                self._stages[s], stage_totals.pairs, z, stage_totals.tc, totals.n_cells,
                self._lonely_psu, self._adjust_domain_lonely, first_stage=s == 0,
                empty_is_zero=s > 0 or self._calibration is None,
            )
            if totals.covariance is not None:
                part = stage_covariance(self._stages[s], stage_totals.pairs, z, totals.n_cells,
                                        self._lonely_psu, s == 0, totals.covariance == "all")
                cov = part if cov is None else cov + part
        if cov is not None and (self._lonely_psu == "average" or self._adjust_domain_lonely):
            cov = with_variances(cov, var)  # the rules that rescale variances cell by cell
        first = totals.stages[0]
        df = domain_df(self._stages[0], first.pairs, first.tc, totals.n_cells)
        method = "Taylor linearisation, first-stage with-replacement approximation"
        if self._fpc:
            method += " with FPC"
        if self._variance_stages > 1:
            method += f", multistage recursion over {self._variance_stages} stages"
        return DesignVariance(var, df, method,
                              "PSUs minus strata with nonzero weight in the domain (R degf)",
                              covariance=cov)

    # -- calibration ------------------------------------------------------------------------
    @property
    def calibration(self) -> Calibration | None:
        """The calibration of the weights (a :class:`flestimate.calibration.Calibration`), or
        None for design weights."""
        return self._calibration

    def _calibrated(self, method: str, population_totals: Any, bounds: Any, max_iter: int,
                    tol: float, func: str) -> SurveyDesign:
        from flestimate.calibration._design import build_margins, make_calibration, solve

        self._one_row_per_person(func)
        if self._calibration is not None:
            raise DesignError(f"`{func}()`: the weights are already calibrated "
                              f"({self._calibration.description}); calibrate the design "
                              f"weights once, to all the margins together")
        if self._variance_stages > 1:
            raise DesignError(f"`{func}()`: the variance after calibration is computed at the "
                              f"first stage; this design recurses over "
                              f"{self._variance_stages} stages (declare ultimate_cluster=True)")
        margins = build_margins(self._data, population_totals, func,
                                "margins" if method == "rake" else "population_totals")
        d = np.asarray(self._weights, dtype=float)
        g, report, label = solve(d, margins, method, bounds, max_iter, tol, func)
        new = object.__new__(SurveyDesign)
        for slot in SurveyDesign.__slots__:
            if slot != "_frozen":
                object.__setattr__(new, slot, getattr(self, slot))
        w = d * g
        w.setflags(write=False)
        object.__setattr__(new, "_weights", w)
        object.__setattr__(new, "_calibration", make_calibration(d, margins, g, report, label))
        summary = new._make_summary()
        summary["calibration"] = {
            "method": label, "margins": list(margins.margin_names) + [
                n for n in margins.names if n != "(Intercept)" and "=" not in n],
            "converged": report.converged, "iterations": report.iterations,
            "g_range": list(report.g_range), "bounds": list(report.bounds)}
        object.__setattr__(new, "_summary", summary)
        object.__setattr__(new, "_frozen", True)
        return new

    def calibrate(
        self,
        population_totals: Any,
        method: str = "linear",
        bounds: tuple[float, float] | None = None,
        max_iter: int = 50,
        tol: float = 1e-7,
    ) -> SurveyDesign:
        """A new design whose weights are calibrated to known population totals.

        Parameters
        ----------
        population_totals : DataFrame, list of DataFrames, or mapping
            Tidy margin tables (category columns and a ``total`` column; e.g. the LFS control
            totals by region x sex x age group), or a mapping: column -> {level: total} for a
            categorical margin, column -> number for a numeric one, ``"_population"`` -> N when
            every margin is numeric. An intercept (the population size) is always included.
        method : {"linear", "raking", "logit"}
            Distance function: generalised regression (chi-square distance), raking
            (multiplicative) or logit (bounded): R ``calibrate(calfun=...)``.
        bounds : (low, high), optional
            Bounds on ``g = w / d`` (required for logit).
        max_iter, tol : int, float
            Newton iterations and R's convergence rule ``|misfit| / (1 + |total|) < tol``.

        Returns
        -------
        SurveyDesign
            Same design, calibrated weights; ``calibration.report`` says how it converged.

        Notes
        -----
        The weights follow R survey's ``calibrate`` step for step (closed form for unbounded
        linear calibration, Newton iterations otherwise). The variance of every estimator is then
        computed on the calibration residuals: each linearised value ``u_i`` becomes
        ``u_i - w_i x_i' B`` with ``B = (X' D X)^{-1} sum_i x_i u_i / g_i`` (design weights
        ``D``), as R's ``svyrecvar`` does (Deville and Sarndal 1992; Lumley 2010, ch. 7).
        Infeasible or non-converging calibration is an :class:`EstimationError` naming the
        margin.
        """
        return self._calibrated(method, population_totals, bounds, max_iter, tol, "calibrate")

    def poststratify(self, population_totals: Any) -> SurveyDesign:
        """A new design post-stratified to one (cross-classified) margin: R ``postStratify``.

        ``population_totals`` is a tidy table (category columns and ``total``) or a mapping
        column -> {level: total}. The variance uses the post-stratification residuals
        (design-weighted cell means), as R.
        """
        return self._calibrated("poststratify", population_totals, None, 1, 0.0, "poststratify")

    def rake(self, margins: Any, max_iter: int = 10, tol: float = 1.0) -> SurveyDesign:
        """A new design raked (iterative proportional fitting) to several one-way margins: R
        ``rake(control=list(maxit, epsilon))``.

        Notes
        -----
        The weights are R's. The variance uses the residuals of the regression on all the
        margins' indicators, the limit of the ten backfitting sweeps R's ``svyrecvar`` does for
        raked designs (the two agree to about 1e-6 relative; documented deviation).
        """
        return self._calibrated("rake", margins, None, max_iter, tol, "rake")

    def to_replicate(
        self,
        method: str = "jkn",
        replicates: int | None = None,
        seed: int | np.random.Generator | None = None,
        *,
        rho: float | None = None,
        mse: bool = False,
    ) -> ReplicateDesign:
        """A replicate-weight design made from this design (R ``as.svrepdesign``).

        Parameters
        ----------
        method : {"jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap"}
            ``jk1``: delete one PSU at a time (unstratified designs), scale (n-1)/n times the
            FPC; ``jkn``: delete one PSU at a time within strata, rscales (n_h-1)/n_h times the
            stratum's FPC; ``brr``/``fay``: balanced half-samples from a Sylvester Hadamard
            matrix (two PSUs per stratum; with more, the PSUs alternate between the halves:
            grouped BRR), Fay's multipliers 2 - rho and rho; ``bootstrap``: n_h PSUs drawn
            with replacement per stratum (R ``bootweights``); ``subbootstrap``: Rao-Wu, n_h - 1
            draws rescaled by n_h/(n_h - 1) (R ``subbootweights``).
        replicates : int, optional
            Bootstrap replicates (50 by default, as R).
        seed : int or numpy Generator, optional
            Randomness of the bootstrap; the same seed gives the same replicates.
        rho : float, optional
            Fay's coefficient.
        mse : bool
            Centre the replicate deviations on the full-sample estimate.

        Returns
        -------
        ReplicateDesign
        """
        self._one_row_per_person("to_replicate")
        return to_replicate(self, method, replicates, seed, rho, mse)
