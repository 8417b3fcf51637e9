"""Two-list capture-recapture: the Lincoln-Petersen and Chapman estimators."""

from __future__ import annotations

import html
import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from scipy import special

from flestimate._checks import check_level
from flestimate.errors import ArgumentError, ArgumentTypeError, EstimationError

__all__ = ["TwoListEstimate", "chapman", "lincoln_petersen"]


@dataclass(frozen=True)
class TwoListEstimate:
    """A two-list (capture-recapture) estimate of a population with two intervals.

    Attributes
    ----------
    method : str
        ``"lincoln-petersen"`` or ``"chapman"``.
    n1, n2, m : int
        Cases on list 1, on list 2, and on both.
    observed : int
        ``r = n1 + n2 - m``, distinct cases seen.
    estimate, variance, se : float
        The population estimate, its estimated variance and standard error.
    level : float
    ci_normal : tuple of float
        ``estimate -+ z se`` (may fall below ``observed``).
    ci_lognormal : tuple of float
        ``(r + f0 / C, r + f0 C)`` with ``f0 = estimate - r`` and
        ``C = exp(z sqrt(log(1 + variance / f0^2)))`` (Chao 1987); never below ``observed``.
    """

    method: str
    n1: int
    n2: int
    m: int
    observed: int
    estimate: float
    variance: float
    se: float
    level: float
    ci_normal: tuple[float, float]
    ci_lognormal: tuple[float, float]

    @property
    def unobserved(self) -> float:
        return self.estimate - self.observed

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python objects (intervals as two-element lists)."""
        out = asdict(self)
        out["ci_normal"] = list(self.ci_normal)
        out["ci_lognormal"] = list(self.ci_lognormal)
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per interval: ``method, estimate, se, ci, ci_low, ci_high, level, n1, n2, m``."""
        rows = []
        for name, (low, high) in (("normal", self.ci_normal), ("log-normal", self.ci_lognormal)):
            rows.append({
                "method": self.method, "estimate": self.estimate, "se": self.se, "ci": name,
                "ci_low": low, "ci_high": high, "level": self.level, "n1": self.n1,
                "n2": self.n2, "m": self.m, "observed": self.observed,
            })
        out: pd.DataFrame = pd.DataFrame(rows)
        return out

    def summary(self) -> str:
        pct = f"{100 * self.level:g}%"
        return "\n".join([
            f"{self.method} estimate: {self.estimate:,.2f} (se {self.se:,.2f})",
            f"n1 = {self.n1}, n2 = {self.n2}, m = {self.m}; observed r = {self.observed}",
            f"{pct} CI normal: {self.ci_normal[0]:,.2f} - {self.ci_normal[1]:,.2f}",
            f"{pct} CI log-normal: {self.ci_lognormal[0]:,.2f} - {self.ci_lognormal[1]:,.2f}",
        ])

    def __repr__(self) -> str:
        return (
            f"TwoListEstimate({self.method}: {self.estimate:,.2f}, se {self.se:,.2f}, "
            f"{100 * self.level:g}% CI log-normal {self.ci_lognormal[0]:,.1f} - "
            f"{self.ci_lognormal[1]:,.1f}; n1={self.n1}, n2={self.n2}, m={self.m})"
        )

    def _repr_html_(self) -> str:
        table = self.to_frame().to_html(index=False, float_format=lambda v: f"{v:,.2f}",
                                        border=0)
        head = (f"{self.method} estimate {self.estimate:,.0f} (se {self.se:,.0f}); n1 = "
                f"{self.n1:,}, n2 = {self.n2:,}, m = {self.m:,}; observed {self.observed:,}")
        return f"<div><p><b>{html.escape(head)}</b></p>{table}</div>"


def _count(value: object, name: str, func: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(
            f"`{name}` of `{func}()` must be a non-negative whole number; got {value!r}"
        )
    as_float = float(value)
    if not math.isfinite(as_float) or as_float < 0 or as_float != round(as_float):
        raise ArgumentError(
            f"`{name}` of `{func}()` must be a non-negative whole number; got {value!r}"
        )
    return int(round(as_float))




def _validate(n1: object, n2: object, m: object, level: object, func: str) -> tuple[
    int, int, int, float
]:
    a, b, c = _count(n1, "n1", func), _count(n2, "n2", func), _count(m, "m", func)
    if c > min(a, b):
        raise ArgumentError(
            f"`m` of `{func}()` (cases on both lists) cannot exceed n1 or n2; got n1={a}, "
            f"n2={b}, m={c}"
        )
    return a, b, c, check_level(level, func)


def _intervals(
    estimate: float, variance: float, observed: int, level: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    z = float(special.ndtri(0.5 + level / 2.0))
    se = math.sqrt(variance)
    normal = (estimate - z * se, estimate + z * se)
    f0 = estimate - observed
    if f0 <= 0:
        return normal, (float(observed), float(observed))
    c = math.exp(z * math.sqrt(math.log1p(variance / f0**2)))
    return normal, (observed + f0 / c, observed + f0 * c)


def lincoln_petersen(n1: int, n2: int, m: int, level: float = 0.95) -> TwoListEstimate:
    """The Lincoln-Petersen estimate of a population from two lists.

    Parameters
    ----------
    n1, n2 : int
        Cases on the first and on the second list.
    m : int
        Cases on both lists.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    TwoListEstimate

    Raises
    ------
    EstimationError
        ``m = 0``: the estimate is infinite (use :func:`chapman`).

    Notes
    -----
    .. math::

        \\hat N = \\frac{n_1 n_2}{m}, \\qquad
        \\widehat{\\operatorname{Var}}(\\hat N) = \\frac{n_1 n_2 (n_1 - m)(n_2 - m)}{m^3}

    (Seber 1982, eq. 3.2). It equals the saturated two-list Poisson log-linear estimate
    ``r + n_10 n_01 / n_11``. The log-normal interval is ``(r + f0 / C, r + f0 C)`` with
    ``r = n1 + n2 - m``, ``f0 = N - r`` and ``C = exp(z sqrt(log(1 + Var / f0^2)))`` (Chao 1987).

    References
    ----------
    Seber, G. A. F. (1982). *The Estimation of Animal Abundance and Related Parameters*, 2nd ed.
    Chao, A. (1987). Estimating the population size for capture-recapture data with unequal
    catchability. *Biometrics* 43, 783-791.
    """
    a, b, c, lvl = _validate(n1, n2, m, level, "lincoln_petersen")
    if c == 0:
        raise EstimationError(
            "the Lincoln-Petersen estimate is infinite when no case is on both lists (m = 0); "
            "use chapman(), which is defined at m = 0"
        )
    estimate = a * b / c
    variance = a * b * (a - c) * (b - c) / c**3
    observed = a + b - c
    normal, lognormal = _intervals(estimate, variance, observed, lvl)
    return TwoListEstimate("lincoln-petersen", a, b, c, observed, estimate, variance,
                           math.sqrt(variance), lvl, normal, lognormal)


def chapman(n1: int, n2: int, m: int, level: float = 0.95) -> TwoListEstimate:
    """Chapman's nearly unbiased two-list estimate of a population.

    Parameters
    ----------
    n1, n2 : int
        Cases on the first and on the second list.
    m : int
        Cases on both lists (may be 0).
    level : float
        Confidence level of the intervals.

    Returns
    -------
    TwoListEstimate

    Notes
    -----
    .. math::

        \\hat N = \\frac{(n_1 + 1)(n_2 + 1)}{m + 1} - 1, \\qquad
        \\widehat{\\operatorname{Var}}(\\hat N) =
        \\frac{(n_1 + 1)(n_2 + 1)(n_1 - m)(n_2 - m)}{(m + 1)^2 (m + 2)}

    (Chapman 1951; variance Seber 1970, 1982 eq. 3.7). Intervals as in
    :func:`lincoln_petersen`.

    References
    ----------
    Chapman, D. G. (1951). Some properties of the hypergeometric distribution with applications
    to zoological sample censuses. *Univ. California Publ. Statist.* 1, 131-160.
    Seber, G. A. F. (1982). *The Estimation of Animal Abundance and Related Parameters*, 2nd ed.
    """
    a, b, c, lvl = _validate(n1, n2, m, level, "chapman")
    estimate = (a + 1) * (b + 1) / (c + 1) - 1
    variance = (a + 1) * (b + 1) * (a - c) * (b - c) / ((c + 1) ** 2 * (c + 2))
    observed = a + b - c
    normal, lognormal = _intervals(estimate, variance, observed, lvl)
    return TwoListEstimate("chapman", a, b, c, observed, estimate, variance,
                           math.sqrt(variance), lvl, normal, lognormal)
