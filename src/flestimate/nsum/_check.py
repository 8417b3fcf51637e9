"""The known-population check: leave-one-out scale-up estimates of every population of known
size against its true size (R networkreporting ``nsum.internal.consistency``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from flestimate._version import __version__
from flestimate.nsum._replicates import SurveyReplicates, cell_totals, survey_variance
from flestimate.results import Result

__all__ = ["KnownPopulationCheck", "known_check"]


class KnownPopulationCheck(Result):
    """Leave-one-out estimates of the known populations: how well the scale-up method
    recovers populations whose size is known.

    Attributes
    ----------
    rmse, mae, are, mse : float
        Root mean squared error, mean absolute error, average relative error ``mean(|err| /
        size)`` and mean squared error over the known populations (networkreporting's
        summaries).
    """

    __slots__ = ("_table", "are", "mae", "mse", "rmse")
    _table: pd.DataFrame
    rmse: float
    mae: float
    are: float
    mse: float
    _label = "KnownPopulationCheck"
    _records_key = "known_populations"
    _immutable_hint = "call internal_validation() again"

    def __init__(self, table: pd.DataFrame, provenance: Mapping[str, Any]) -> None:
        err = table["error"].to_numpy(float)
        super().__init__(provenance, _table=table, rmse=float(np.sqrt(np.mean(err ** 2))),
                         mae=float(np.mean(np.abs(err))), mse=float(np.mean(err ** 2)),
                         are=float(np.mean(table["rel_error"].to_numpy(float))))

    def to_frame(self) -> pd.DataFrame:
        """One row per known population: ``known, size, estimate, se, ratio, error,
        abs_error, sq_error, rel_error`` (``ratio = estimate / size``, ``rel_error = |error|
        / size``)."""
        out: pd.DataFrame = self._table.copy()
        return out

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["summary"] = {"rmse": self.rmse, "mae": self.mae, "are": self.are,
                          "mse": self.mse}
        return out

    def _title(self) -> str:
        return (f"leave-one-out estimates of {len(self._table)} known populations; RMSE "
                f"{self.rmse:,.4g}, average relative error {self.are:.3g}")


def known_check(yk: np.ndarray, known: Mapping[str, float], n_total: float,
                reps: SurveyReplicates, level: float) -> KnownPopulationCheck:
    """The leave-one-out estimates ``Nhat_k = (N_K - N_k) T_k / (T_K - T_k)`` over the
    respondents answering every known population, with their replicate SEs."""
    complete = ~np.isnan(yk).any(axis=1)
    counts = np.where(complete[:, None], np.nan_to_num(yk), 0.0)
    values = np.concatenate([counts, counts.sum(axis=1, keepdims=True)], axis=1)
    code = np.zeros(len(yk), dtype=np.int64)
    full, rep = cell_totals(values, code, 1, reps)
    sizes = np.array(list(known.values()), dtype=float)
    total_size = sizes.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        est = (total_size - sizes) * full[0, :-1] / (full[0, -1] - full[0, :-1])
        theta = ((total_size - sizes)[:, None] * rep[0, :-1, :]
                 / (rep[0, -1, :][None, :] - rep[0, :-1, :]))
    se = np.sqrt(survey_variance(theta, est, reps))
    err = est - sizes
    table = pd.DataFrame({"known": list(known), "size": sizes, "estimate": est, "se": se,
                          "ratio": est / sizes, "error": err, "abs_error": np.abs(err),
                          "sq_error": err ** 2, "rel_error": np.abs(err) / sizes})
    prov = {"estimator": "known_population_check", "method": "basic, leave one out",
            "total": float(n_total), "known": {k: float(v) for k, v in known.items()},
            "n_used": int(complete.sum()), "n_missing_known": int((~complete).sum()),
            "replicates": reps.n_replicates, "replicate_method": reps.method, "level": level,
            "reference": "R networkreporting nsum.internal.consistency, estimate.error",
            "version": __version__}
    return KnownPopulationCheck(table, prov)
