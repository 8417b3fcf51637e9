"""Replicate weights generated from a Taylor design (R ``as.svrepdesign``): jackknife (JK1,
JKn), balanced repeated replication and Fay's variant from a Hadamard matrix, the bootstrap
and the Rao-Wu rescaled bootstrap. Each method gives the (PSU x replicate) multipliers of the
full-sample weight with the scale and rscales of R's ``svrVar``; :mod:`flestimate.replicate`
builds the :class:`~flestimate.ReplicateDesign` from them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from flestimate.errors import ArgumentError, ArgumentTypeError, DesignError, LonelyPSUError

if TYPE_CHECKING:
    from flestimate.design import SurveyDesign

__all__ = ["GENERATED_METHODS", "REPLICATE_METHODS", "check_rho", "hadamard", "method_name",
           "replicate_multipliers", "source_of"]

#: Methods of given replicate weights (R ``svrepdesign(type=...)``), lower case.
REPLICATE_METHODS = ("jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap", "sdr", "other")
_ALIASES = {"successive-difference": "sdr", "acs": "sdr", "mrbbootstrap": "bootstrap"}
#: Methods that :meth:`SurveyDesign.to_replicate` generates.
GENERATED_METHODS = ("jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap")


def method_name(method: Any, func: str) -> str:
    if not isinstance(method, str):
        raise ArgumentTypeError(f"`method` of `{func}()` must be a string; got "
                                f"{type(method).__name__}")
    m = _ALIASES.get(method.lower(), method.lower())
    if m not in REPLICATE_METHODS:
        raise ArgumentError(f"`method` of `{func}()` must be one of "
                            f"{', '.join(map(repr, REPLICATE_METHODS))}; got {method!r}")
    return m



def check_rho(method: str, rho: float | None, func: str) -> float | None:
    if method == "fay":
        if rho is None or not (0 <= float(rho) < 1):
            raise ArgumentError(f"`rho` of `{func}()` must be in [0, 1) for method 'fay'; got "
                                f"{rho!r}")
        return float(rho)
    if rho is not None:
        raise ArgumentError(f"`rho` of `{func}()` applies to method 'fay' only; got {rho!r} "
                            f"with method {method!r}")
    return None


def replicate_multipliers(design: SurveyDesign, method: str, replicates: int | None,
                          seed: int | np.random.Generator | None, rho: float | None
                          ) -> tuple[str, np.ndarray, float, np.ndarray, float | None]:
    """The (PSU x replicate) multipliers of a replicate method for a Taylor design, with the
    method's name, scale, rscales and Fay's rho (see :meth:`SurveyDesign.to_replicate`)."""
    func = "to_replicate"
    m = method_name(method, func)
    if m not in GENERATED_METHODS:
        raise ArgumentError(f"`method` of `{func}()` must be one of "
                            f"{', '.join(map(repr, GENERATED_METHODS))}; got {method!r} (SDR "
                            f"needs a sort order: build it and pass the columns to "
                            f"ReplicateDesign)")
    rho_v: float | None = None
    if m in ("bootstrap", "subbootstrap"):
        st = design.stages[0]
        A, scale = _bootstrap(m, st.parent, _psu_counts(design), 50 if replicates is None
                              else int(replicates), seed, st.fpc_factor, func,
                              design.lonely_psu)
        rs_scale = np.ones(A.shape[1])
    elif m == "jk1":
        A, scale, rs_scale = _jk1_multipliers(design)
    elif m == "jkn":
        A, scale, rs_scale = _jkn_multipliers(design)
    else:  # brr, fay
        rho_v = check_rho(m, rho if m == "fay" else None, func)
        A, scale, rs_scale = _brr_multipliers(design, m, 0.0 if rho_v is None else rho_v)
    return m, A, scale, rs_scale, rho_v


def source_of(design: SurveyDesign, method: str) -> str:
    """Where generated replicates came from, for the design summary."""
    return f"generated from a SurveyDesign ({method}; {_parent(design)})"


def hadamard(order: int) -> np.ndarray:
    """Sylvester's Hadamard matrix of ``order`` (a power of 2), entries +1 / -1."""
    if order < 1 or order & (order - 1):
        raise ArgumentError(f"`order` of `hadamard()` must be a power of 2; got {order}")
    h = np.ones((1, 1))
    while h.shape[0] < order:
        h = np.block([[h, h], [h, -h]])
    return h


def _psu_counts(design: SurveyDesign) -> np.ndarray:
    """PSUs per stratum."""
    st = design.stages[0]
    return np.bincount(st.parent, minlength=st.n_parents)


def _jk1_multipliers(design: SurveyDesign) -> tuple[np.ndarray, float, np.ndarray]:
    """Delete one PSU at a time (unstratified designs): scale (n - 1)/n times the FPC."""
    if design.n_strata > 1:
        raise DesignError("method 'jk1' deletes one PSU at a time ignoring strata; the "
                          "design is stratified: use method 'jkn'")
    st = design.stages[0]
    n_psu = st.n_units
    A = np.full((n_psu, n_psu), n_psu / (n_psu - 1))
    np.fill_diagonal(A, 0.0)
    return A, float(st.fpc_factor[0]) * (n_psu - 1) / n_psu, np.ones(n_psu)


def _jkn_multipliers(design: SurveyDesign) -> tuple[np.ndarray, float, np.ndarray]:
    """Delete one PSU at a time within strata: replicate j deletes PSU j and reweights the
    rest of its stratum by n_h / (n_h - 1); rscales (n_h - 1)/n_h times the stratum's FPC.
    Strata with one PSU (when the lonely-PSU rule lets them) get no replicate."""
    st = design.stages[0]
    stratum, n_h, fpc = st.parent, _psu_counts(design), st.fpc_factor
    lonely = n_h[stratum] == 1
    if lonely.any() and design.lonely_psu == "fail":
        raise LonelyPSUError("method 'jkn' needs two or more PSUs per stratum; strata "
                             f"with one PSU: {np.flatnonzero(n_h == 1)[:5].tolist()} "
                             f"(declare lonely_psu='certainty' or 'remove' to let them "
                             f"contribute nothing)")
    reps = np.flatnonzero(~lonely)
    A = np.ones((st.n_units, len(reps)))
    same = stratum[:, None] == stratum[reps][None, :]
    with np.errstate(divide="ignore"):
        factor = n_h[stratum] / (n_h[stratum] - 1.0)
    A = np.where(same, factor[:, None], A)
    A[reps, np.arange(len(reps))] = 0.0
    nh = n_h[stratum[reps]]
    return A, 1.0, (nh - 1) / nh * fpc[stratum[reps]]


def _brr_multipliers(design: SurveyDesign, m: str, rho: float
                     ) -> tuple[np.ndarray, float, np.ndarray]:
    """Balanced half-samples from a Sylvester Hadamard matrix (two PSUs per stratum; with
    more, the PSUs alternate between the two halves: grouped BRR); Fay's multipliers
    2 - rho and rho (rho = 0: BRR)."""
    st = design.stages[0]
    stratum, n_h = st.parent, _psu_counts(design)
    if np.any(n_h < 2):
        cols = design.summary_dict().get("strata") or []
        raise LonelyPSUError(f"method {m!r} needs two PSUs per stratum; strata with one "
                             f"(column(s) {', '.join(map(repr, cols))}): "
                             f"{_stratum_labels(design, np.flatnonzero(n_h < 2)[:5])}; "
                             f"use 'jkn' or 'bootstrap', or collapse the strata")
    n_strata = len(n_h)
    order = 1 << int(np.ceil(np.log2(n_strata + 1)))
    h = hadamard(order)[:, 1:n_strata + 1]  # replicates x strata, the all-ones column dropped
    rank_in = np.arange(st.n_units) - np.searchsorted(stratum, stratum)
    half = np.where(rank_in % 2 == 0, 1.0, -1.0)
    sign = half[:, None] * h[:, stratum].T  # PSUs x replicates
    A = np.where(sign > 0, 2.0 - rho, rho)
    return A, 1.0 / (order * (1.0 - rho) ** 2), np.ones(order)


def _parent(design: SurveyDesign) -> str:
    """The strata and PSUs of the design that replicates were made from, for their source."""
    s = design.summary_dict()
    strata = ", ".join(s.get("strata") or []) or "none"
    psu = ", ".join(s.get("psu") or []) or "none (elements)"
    return f"strata {strata} ({s['n_strata']}), PSUs {psu} ({s['n_psu']})"


def _stratum_labels(design: SurveyDesign, codes: np.ndarray) -> list[str]:
    """The strata columns' values of stratum ``codes`` (as the data have them)."""
    cols = design.summary_dict().get("strata") or []
    if not cols:
        return [str(c) for c in codes]
    first = [int(np.argmax(design.stratum_codes == c)) for c in codes]
    values = design.data[cols].iloc[first]
    return [", ".join(map(str, row)) for row in values.itertuples(index=False)]


def _bootstrap(method: str, stratum: np.ndarray, n_h: np.ndarray, replicates: int,
               seed: int | np.random.Generator | None, fpc: np.ndarray, func: str,
               lonely_psu: str = "fail") -> tuple[np.ndarray, float]:
    """R ``bootweights`` (n_h PSUs drawn with replacement in each stratum; multipliers are the
    counts) or ``subbootweights`` (Rao-Wu: n_h - 1 draws, counts x n_h / (n_h - 1)).

    A stratum with one PSU fails under ``lonely_psu="fail"``; under any other policy its PSU
    keeps multiplier 1 in every replicate (it contributes nothing) and the scale's harmonic mean
    runs over the resampled strata. R instead resamples it with ``sample(psu, replace=TRUE)``,
    which for a single PSU id draws from ``1:psu`` (documented deviation).
    """
    if replicates < 2:
        raise ArgumentError(f"`replicates` of `{func}()` must be at least 2; got {replicates}")
    lonely = n_h < 2
    if lonely.any() and lonely_psu == "fail":
        raise LonelyPSUError(f"method {method!r} needs two or more PSUs per stratum; strata "
                             f"with one: {np.flatnonzero(lonely)[:5].tolist()} (declare "
                             f"lonely_psu='certainty', 'remove' or 'adjust' to let them "
                             f"contribute nothing)")
    if lonely.all():
        raise LonelyPSUError(f"method {method!r}: every stratum has a single PSU; nothing to "
                             f"resample")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_psu = len(stratum)
    first = np.concatenate(([0], np.cumsum(n_h)[:-1]))
    draws_per = np.where(lonely, 0, n_h if method == "bootstrap" else n_h - 1)
    # every draw of every replicate at once: stratum of the draw, replicate of the draw
    d_stratum = np.repeat(np.arange(len(n_h)), draws_per)
    total = len(d_stratum)
    picks = first[d_stratum][None, :] + np.floor(
        rng.random((replicates, total)) * n_h[d_stratum][None, :]).astype(np.int64)
    keys = picks + n_psu * np.arange(replicates)[:, None]
    counts = np.bincount(keys.ravel(), minlength=n_psu * replicates).reshape(replicates, n_psu)
    if method == "bootstrap":
        A = counts.T.astype(float)
        harmonic = 1.0 / np.mean(1.0 / n_h[~lonely])
        scale = harmonic / ((harmonic - 1.0) * (replicates - 1))
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            A = counts.T * (n_h[stratum] / (n_h[stratum] - 1.0))[:, None]
        scale = 1.0 / (replicates - 1)
    A[lonely[stratum]] = 1.0
    if np.any(fpc < 1):
        # R's bootstrap with an FPC draws without replacement from a pseudo-population; here the
        # with-replacement draw is kept and the FPC scales each stratum's deviations (Rao-Wu).
        adj = np.sqrt(fpc[stratum])[:, None]
        A = 1.0 + adj * (A - 1.0)
    return A, float(scale)
