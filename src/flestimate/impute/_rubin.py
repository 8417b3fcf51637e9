"""Rubin's rules: one estimate, its variance and degrees of freedom from M completed data sets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flestimate.errors import ArgumentError

__all__ = ["RubinCombination", "rubin"]


@dataclass(frozen=True)
class RubinCombination:
    """The combined estimates (arrays of the shape of one completion's estimates).

    Attributes
    ----------
    estimate : ndarray
        ``Qbar``, the mean of the completed-data estimates.
    variance : ndarray
        ``T = Ubar + (1 + 1/M) B``.
    within, between : ndarray
        ``Ubar`` (mean completed-data variance) and ``B`` (variance of the estimates).
    df : ndarray
        Barnard-Rubin degrees of freedom (the complete-data df where ``B = 0``).
    fmi : ndarray
        Fraction of missing information, ``(r + 2 / (df + 3)) / (r + 1)``.
    imputations : int
    """

    estimate: np.ndarray
    variance: np.ndarray
    within: np.ndarray
    between: np.ndarray
    df: np.ndarray
    fmi: np.ndarray
    imputations: int

    @property
    def se(self) -> np.ndarray:
        return np.asarray(np.sqrt(self.variance))


def rubin(estimates: np.ndarray, variances: np.ndarray,
          df_complete: np.ndarray | float = np.inf) -> RubinCombination:
    """Combine the estimates of ``M`` completed data sets by Rubin's rules.

    Parameters
    ----------
    estimates, variances : array, shape (M, ...)
        The completed-data estimates and their variances, completion first.
    df_complete : float or array broadcastable to ``estimates.shape[1:]``
        Complete-data degrees of freedom (the design df); ``inf`` for Rubin's (1987) df.

    Returns
    -------
    RubinCombination

    Notes
    -----
    With ``Qbar = mean(Q_m)``, ``Ubar = mean(U_m)``, ``B = sum (Q_m - Qbar)^2 / (M - 1)``::

        T       = Ubar + (1 + 1/M) B
        r       = (1 + 1/M) B / Ubar,     gamma = (1 + 1/M) B / T
        nu_old  = (M - 1) (1 + 1/r)^2                       (Rubin 1987, eq. 3.1.6)
        nu_obs  = (nu_com + 1) / (nu_com + 3) nu_com (1 - gamma)
        nu      = 1 / (1 / nu_old + 1 / nu_obs)             (Barnard and Rubin 1999, eq. 3)
        fmi     = (r + 2 / (nu + 3)) / (r + 1)              (Rubin 1987, eq. 3.1.10)

    Where every completion gives the same estimate (``B = 0``: nothing imputed mattered) the
    combination is the complete-data result: ``T = Ubar``, ``nu = nu_com``, ``fmi = 0``.
    R's ``mitools::MIcombine`` computes ``nu_obs`` with ``B / (Ubar + B)`` in place of
    ``gamma``; with ``df.complete = Inf`` the two agree.

    References
    ----------
    Rubin DB (1987). Multiple Imputation for Nonresponse in Surveys. Wiley.
    Barnard J, Rubin DB (1999). Small-sample degrees of freedom with multiple imputation.
    Biometrika 86(4), 948-955.
    """
    q = np.asarray(estimates, dtype=np.float64)
    u = np.asarray(variances, dtype=np.float64)
    if q.shape != u.shape or q.ndim < 1:
        raise ArgumentError(f"`estimates` and `variances` of `rubin()` must have the same shape "
                            f"(M, ...); got {q.shape} and {u.shape}")
    m = q.shape[0]
    if m < 2:
        raise ArgumentError(f"`rubin()` needs at least 2 completed data sets; got {m}")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    # Identical completions differ only by rounding: that is B = 0.
    b = np.where(np.abs(q - qbar).max(axis=0) <= 1e-14 * np.maximum(np.abs(qbar), 1e-300),
                 0.0, b)
    t = ubar + (1 + 1 / m) * b
    nu_com = np.broadcast_to(np.asarray(df_complete, dtype=np.float64), qbar.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (1 + 1 / m) * b / ubar
        gamma = (1 + 1 / m) * b / t
        nu_old = (m - 1) * (1 + 1 / r) ** 2
        nu_obs = np.where(np.isfinite(nu_com),
                          (nu_com + 1) / (nu_com + 3) * nu_com * (1 - gamma), np.inf)
        nu = 1 / (1 / nu_old + 1 / nu_obs)
        fmi = (r + 2 / (nu + 3)) / (r + 1)
    none = b == 0
    # identical completions: the complete-data result itself, not a mean with rounding
    qbar = np.where(none, q[0], qbar)
    t = np.where(none & (np.abs(u - u[0]).max(axis=0) == 0), u[0], t)
    nu = np.where(none, nu_com, nu)
    fmi = np.where(none, 0.0, fmi)
    return RubinCombination(qbar, t, ubar, b, np.asarray(nu), np.asarray(fmi), m)
