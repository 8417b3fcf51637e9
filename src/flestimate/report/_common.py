"""Names shared by the report package's modules: the estimation frame's column names, the
published tables' names, columns and labels, and the interval helpers of the published
numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["AMONG", "LABELS", "NR_WEIGHT", "PREFIX", "TABLES", "TABLE_COLUMNS", "UNIVERSE",
           "as_list", "log_interval", "pct", "t_quantile"]

#: Prefix of the estimation frame's own columns, which keeps them apart from the survey's.
PREFIX = "_fl_"
UNIVERSE = f"{PREFIX}universe"
#: The by-form tables: the class they are shares of, and its estimation column.
AMONG = {"trafficked_by_form": ("trafficked", f"{PREFIX}among_trafficked"),
         "forced_labour_by_form": ("forced_labour", f"{PREFIX}among_forced_labour")}

#: The weights after the unit non-response adjustment.
NR_WEIGHT = f"{PREFIX}weight_nr"

#: Columns of :meth:`PrevalenceReport.to_frame` after ``table``, ``by``, ``domain`` and the
#: domain columns.
TABLE_COLUMNS: tuple[str, ...] = (
    "measure", "indicator", "estimate", "se", "ci_low", "ci_high", "cv", "deff", "n", "n_cases",
    "n_eff", "df", "bound_low", "bound_high", "bound_ci_low", "bound_ci_high", "minimum",
    "fmi", "imputations", "reliability", "reliability_reason", "ci_flag", "disclosure",
    "disclosure_reason", "reference", "p_value",
)

#: The published tables, in order.
TABLES = ("prevalence", "trafficked_by_form", "forced_labour_by_form")

#: Display labels of the classes and forms.
LABELS = {
    "forced_labour": "In forced labour",
    "trafficked": "  trafficked",
    "forced_labour_not_trafficked": "  not trafficked",
    "undetermined": "Undetermined",
    "not_forced_labour": "Not in forced labour",
    "form_state_imposed": "Forced labour: state-imposed",
    "form_commercial_sexual_exploitation": "Forced labour: commercial sexual exploitation",
    "form_economic_exploitation": "Forced labour: economic exploitation",
    "form_mixed_undetermined": "Forced labour: mixed or undetermined",
    "state_imposed": "State-imposed",
    "commercial_sexual_exploitation": "Commercial sexual exploitation",
    "economic_exploitation": "Economic exploitation",
    "mixed_undetermined": "Mixed or undetermined",
}


def as_list(value: Any) -> list[str]:
    """A column name, a list of them or None (a design option) as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def pct(p: float) -> str:
    """A share in percent as the tables print it: one decimal, two below 1% ("" if missing)."""
    if not np.isfinite(p):
        return ""
    v = 100 * p
    return f"{v:.1f}" if v >= 1 or v == 0 else f"{v:.2f}"


def t_quantile(level: float, df: np.ndarray) -> np.ndarray:
    """The two-sided t quantile of ``level`` on ``df`` degrees of freedom (NaN where df <= 0)."""
    from scipy import special  # loaded at first use, not with the package

    with np.errstate(invalid="ignore"):
        return np.where(df > 0, special.stdtrit(np.where(df > 0, df, 1.0), 0.5 + level / 2), np.nan)


def log_interval(x: np.ndarray, se: np.ndarray, df: np.ndarray,
                 level: float) -> tuple[np.ndarray, np.ndarray]:
    """Log-scale interval of a count, ``x exp(-+ t se / x)`` (Parker et al. 2023, eq. 24, with
    the design df); undefined (NaN) for a zero count."""
    t = t_quantile(level, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = t * se / x
        ok = (x > 0) & np.isfinite(half)
        return np.where(ok, x * np.exp(-half), np.nan), np.where(ok, x * np.exp(half), np.nan)
