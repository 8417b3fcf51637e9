"""The construction of a :class:`~flestimate.SurveyDesign`: the design columns of the data
checked once and turned into integer indexes (strata, units of every stage, FPCs, weights).
Every check names the column and the first rows at fault."""

from __future__ import annotations

import numpy as np
import pandas as pd

from flestimate._checks import check_weight_range
from flestimate.errors import DesignError, format_values
from flestimate.variance import Stage

__all__ = ["frequencies_of", "row_ids", "stages_of", "strata_of", "unit_ids", "weights_of"]


def row_ids(data: pd.DataFrame, mask: np.ndarray) -> str:
    return format_values(data.index[mask].tolist())


def frequencies_of(data: pd.DataFrame, col: str | None, psu_cols: list[str]
                   ) -> np.ndarray | None:
    """The persons per row of a ``frequencies`` column (nonnegative integers; a PSU column
    is then needed), or None."""
    if col is None:
        return None
    raw = data[col]
    if pd.api.types.is_bool_dtype(raw) or not pd.api.types.is_numeric_dtype(raw):
        raise DesignError(f"frequencies column {col!r} must hold nonnegative integers; got "
                          f"dtype {raw.dtype}")
    f = np.array(raw.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(f) | (f < 0) | (f != np.round(f))
    if bad.any():
        raise DesignError(
            f"frequencies column {col!r} must hold nonnegative integers; {int(bad.sum())} "
            f"row(s) do not; first rows: {row_ids(data, bad)}"
        )
    if not psu_cols and (f > 1).any():
        raise DesignError(
            f"frequencies column {col!r} needs a `psu` column: without one every row is its "
            f"own PSU, and a row of several persons would merge their PSUs"
        )
    f.setflags(write=False)
    return f

def strata_of(data: pd.DataFrame, strata_cols: list[str]) -> tuple[np.ndarray, int]:
    """The stratum code of every row (sorted by the strata labels) and the number of strata."""
    n = len(data)
    if not strata_cols:
        return np.zeros(n, dtype=np.int64), 1
    frame = data[strata_cols]
    bad = frame.isna().any(axis=1).to_numpy()
    if bad.any():
        raise DesignError(
            f"strata column(s) {format_values(strata_cols)} have {int(bad.sum())} missing "
            f"value(s); first rows: {row_ids(data, bad)}"
        )
    if len(strata_cols) == 1 and _numeric(frame[strata_cols[0]]):
        codes = _sorted_codes(frame[strata_cols[0]].to_numpy())
    else:
        codes = frame.groupby(strata_cols, sort=True, observed=True).ngroup().to_numpy()
    return codes.astype(np.int64), int(codes.max()) + 1


def _numeric(col: pd.Series) -> bool:
    """A plain numeric column (no categorical, object or extension type): its codes can be
    found by numpy, in the order a sorted pandas groupby gives."""
    return isinstance(col.dtype, np.dtype) and col.dtype.kind in "iuf"


def _sorted_codes(values: np.ndarray) -> np.ndarray:
    """Codes 0..k-1 of the values in sorted order: the groups of a sorted
    ``groupby().ngroup()`` (and of numpy's ``unique``), from a hash of the values with only
    the distinct values sorted (numpy's ``unique`` sorts every row: 4x slower on a million
    rows in random order)."""
    codes, _ = pd.factorize(values, sort=True)
    return np.asarray(codes, dtype=np.int64).reshape(-1)

def unit_ids(data: pd.DataFrame, psu_cols: list[str], stratum: np.ndarray, n_strata: int,
             nest: bool) -> list[np.ndarray]:
    """Unit codes per stage, sorted by (stratum, earlier stages, this stage)."""
    n = len(data)
    if not psu_cols:
        # Every row its own PSU: number rows within strata, in stratum order.
        order = np.argsort(stratum, kind="stable")
        unit = np.empty(n, dtype=np.int64)
        unit[order] = np.arange(n, dtype=np.int64)
        if n_strata == 1 and n < 2:
            raise DesignError("the design has only one primary sampling unit")
        return [unit]
    for col in psu_cols:
        bad = data[col].isna().to_numpy()
        if bad.any():
            raise DesignError(
                f"PSU column {col!r} has {int(bad.sum())} missing value(s); "
                f"first rows: {row_ids(data, bad)}"
            )
    first = data[psu_cols[0]]
    numeric = all(_numeric(data[c]) for c in psu_cols)
    fast = _numeric_units(data, psu_cols, stratum) if numeric else None
    # Nested ids: as many (stratum, id) pairs as ids (checked in detail only when not).
    nested = fast is not None and int(fast[0][0].max()) == int(fast[1].max())
    if not nest and n_strata > 1 and not nested:
        crossing = _crossing(first, stratum, n_strata)
        if len(crossing):
            raise DesignError(
                f"PSU ids of column {psu_cols[0]!r} are not nested in strata: "
                f"{len(crossing)} id(s) occur in more than one stratum, e.g. "
                f"{format_values(crossing.index.tolist())}; pass nest=True if PSU ids are "
                f"only unique within strata"
            )
    if n_strata == 1 and first.nunique() < 2:
        raise DesignError(
            f"the design has only one primary sampling unit (column {psu_cols[0]!r})"
        )
    if fast is not None:
        return fast[0]
    keys = pd.DataFrame({"_stratum": stratum})
    units = []
    for i, col in enumerate(psu_cols):
        keys[f"_id{i}"] = data[col].to_numpy()
        codes = keys.groupby(list(keys.columns), sort=True).ngroup().to_numpy()
        units.append(codes.astype(np.int64))
    return units


def _numeric_units(data: pd.DataFrame, psu_cols: list[str], stratum: np.ndarray
                   ) -> tuple[list[np.ndarray], np.ndarray]:
    """The unit codes of every stage, (stratum, id_1, ..., id_s) in sorted order (each stage's
    id codes combined with the previous stage's, sorted already), and the codes of the
    first stage's ids alone."""
    units = []
    previous = stratum
    first_ids = np.zeros(0, dtype=np.int64)
    for i, col in enumerate(psu_cols):
        ids = _sorted_codes(data[col].to_numpy())
        if i == 0:
            first_ids = ids
        previous = _sorted_codes(previous * (int(ids.max()) + 1) + ids)
        units.append(previous)
    return units, first_ids


def _crossing(first: pd.Series, stratum: np.ndarray, n_strata: int) -> pd.Series:
    """The PSU ids that occur in more than one stratum, with their numbers of strata."""
    if _numeric(first):
        inverse, ids = pd.factorize(first.to_numpy())
        pairs = pd.unique(np.asarray(inverse, dtype=np.int64) * n_strata + stratum)
        per_psu = np.bincount(pairs // n_strata, minlength=len(ids))
        found: pd.Series = pd.Series(per_psu[per_psu > 1], index=ids[per_psu > 1])
        return found
    per_psu = (pd.DataFrame({"psu": first.to_numpy(), "stratum": stratum})
               .groupby("psu", sort=True)["stratum"].nunique())
    crossing: pd.Series = per_psu[per_psu > 1]
    return crossing

def stages_of(data: pd.DataFrame, ids: list[np.ndarray], fpc_cols: list[str],
              stratum: np.ndarray, n_strata: int
              ) -> tuple[list[Stage], list[np.ndarray | None]]:
    """The stages (units, parents, units sampled, FPC factors, R's multistage weights) and
    the population sizes the FPC columns give (None for a stage without one)."""
    stages: list[Stage] = []
    popsizes: list[np.ndarray | None] = []
    parent_of_row = stratum
    n_parents = n_strata
    path_weight = np.ones(n_parents)
    for s, unit in enumerate(ids):
        n_units = int(unit.max()) + 1
        parent = np.zeros(n_units, dtype=np.int64)
        parent[unit] = parent_of_row
        n_sampled = np.bincount(parent, minlength=n_parents).astype(np.int64)
        fpc_factor = np.ones(n_parents)
        popsize: np.ndarray | None = None
        if s < len(fpc_cols):
            popsize = _parse_fpc(data, fpc_cols[s], s, parent_of_row, n_parents, n_sampled)
            with np.errstate(divide="ignore", invalid="ignore"):
                fpc_factor = np.where(
                    np.isinf(popsize), 1.0, (popsize - n_sampled) / popsize
                )
        stages.append(
            Stage(
                unit=unit,
                parent=parent,
                n_sampled=n_sampled,
                fpc_factor=fpc_factor,
                weight=path_weight,
            )
        )
        popsizes.append(popsize)
        # Next stage: parents are this stage's units; R multiplies their variance by n/N.
        fraction = np.ones(n_parents) if popsize is None else n_sampled / popsize
        path_weight = (path_weight * fraction)[parent]
        parent_of_row = unit
        n_parents = n_units
    for st in stages:
        for arr in (st.unit, st.parent, st.n_sampled, st.fpc_factor, st.weight):
            arr.setflags(write=False)
    return stages, popsizes

def _parse_fpc(
    data: pd.DataFrame,
    col: str,
    stage: int,
    parent_of_row: np.ndarray,
    n_parents: int,
    n_sampled: np.ndarray,
) -> np.ndarray:
    """A stage's population sizes per parent from an FPC column (counts, or fractions when
    every value is <= 1), constant within each parent and not below the units sampled."""
    raw = data[col]
    if not pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        raise DesignError(f"fpc column {col!r} must be numeric; got dtype {raw.dtype}")
    values = raw.to_numpy(dtype=np.float64)
    bad = np.isnan(values) | (values <= 0)
    if bad.any():
        raise DesignError(
            f"fpc column {col!r} has {int(bad.sum())} missing or non-positive value(s); "
            f"first rows: {row_ids(data, bad)}"
        )
    lo = np.full(n_parents, np.inf)
    hi = np.full(n_parents, -np.inf)
    np.minimum.at(lo, parent_of_row, values)
    np.maximum.at(hi, parent_of_row, values)
    varying = np.flatnonzero(lo != hi)
    what = "stratum" if stage == 0 else f"stage-{stage} parent unit"
    if varying.size:
        rows = np.isin(parent_of_row, varying)
        raise DesignError(
            f"fpc column {col!r} varies within {varying.size} {what}(s) (stage {stage + 1}); "
            f"it must be constant within each; first rows: {row_ids(data, rows)}"
        )
    is_count = bool((values > 1).any())
    if is_count and not (values >= 1).all():
        rows = values < 1
        raise DesignError(
            f"fpc column {col!r} mixes population counts (> 1) and sampling fractions (< 1); "
            f"first rows with fractions: {row_ids(data, rows)}"
        )
    popsize = lo if is_count else n_sampled / lo
    too_small = np.flatnonzero(popsize < n_sampled - 1e-9)
    if too_small.size:
        rows = np.isin(parent_of_row, too_small)
        raise DesignError(
            f"fpc column {col!r} is smaller than the number of units sampled in "
            f"{too_small.size} {what}(s) (stage {stage + 1}): population "
            f"{format_values(popsize[too_small].tolist())} against sampled "
            f"{format_values(n_sampled[too_small].tolist())}; first rows: "
            f"{row_ids(data, rows)}"
        )
    return popsize

def weights_of(data: pd.DataFrame, weights: str | None, popsizes: list[np.ndarray | None],
               stages: list[Stage], stratum: np.ndarray) -> np.ndarray:
    """The weight column, checked (numeric, finite, nonnegative, not all zero, in range), or
    the weights the FPC population counts imply."""
    if weights is None:
        if not popsizes or popsizes[0] is None:
            raise DesignError(
                "`weights` of `SurveyDesign()` is required unless `fpc` gives population "
                "counts from which the weights follow"
            )
        implied = np.ones(len(data))
        parent_of_row = stratum
        for st, pop in zip(stages, popsizes, strict=True):
            if pop is None:
                break
            implied = implied * (pop / st.n_sampled)[parent_of_row]
            parent_of_row = st.unit
        check_weight_range(implied, "(implied by the fpc)", data)
        return implied
    raw = data[weights]
    if pd.api.types.is_bool_dtype(raw) or not pd.api.types.is_numeric_dtype(raw):
        raise DesignError(f"weights column {weights!r} must be numeric; got dtype {raw.dtype}")
    w: np.ndarray = np.array(raw.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
    for problem, mask in (
        ("missing", np.isnan(w)),
        ("infinite", np.isinf(w)),
        ("negative", w < 0),
    ):
        if mask.any():
            raise DesignError(
                f"weights column {weights!r} has {int(mask.sum())} {problem} value(s); "
                f"first rows: {row_ids(data, mask)}"
            )
    check_weight_range(w, weights, data)
    if not (w > 0).any():
        raise DesignError(f"weights column {weights!r} is zero in every row")
    return w
