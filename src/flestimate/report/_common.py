"""Names shared by the report package's modules: the estimation frame's column names and
the interval helpers of the published numbers."""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["AMONG", "NR_WEIGHT", "PREFIX", "UNIVERSE", "log_interval", "t_quantile"]

#: Prefix of the estimation frame's own columns, which keeps them apart from the survey's.
PREFIX = "_fl_"
UNIVERSE = f"{PREFIX}universe"
#: The by-form tables: the class they are shares of, and its estimation column.
AMONG = {"trafficked_by_form": ("trafficked", f"{PREFIX}among_trafficked"),
         "forced_labour_by_form": ("forced_labour", f"{PREFIX}among_forced_labour")}

#: The weights after the unit non-response adjustment.
NR_WEIGHT = f"{PREFIX}weight_nr"


def t_quantile(level: float, df: np.ndarray) -> np.ndarray:
    """The two-sided t quantile of ``level`` on ``df`` degrees of freedom (NaN where df <= 0)."""
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
