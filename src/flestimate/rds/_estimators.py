"""The RDS estimators of the shares of an outcome's levels, for a whole batch at once.

Every estimator works from four sums per batch element ``b`` (a domain, a bootstrap
replicate of a domain, a prefix of the sample or a seed's tree) and level ``k``, made by one
``bincount`` each (:func:`sums`): the respondents ``c[b, k]``, their inverse degrees
``s[b, k] = sum 1/d``, their SS weights ``w[b, k]`` and the recruitments
``t[b, k, l]`` from a recruiter of level ``k`` to a recruit of level ``l``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["METHODS", "Sums", "estimates", "homophily", "rds_i", "rds_ii", "ss_inclusion",
           "stationary", "sums"]

#: ``method=`` choices of :func:`flestimate.rds.estimate`.
METHODS = ("rds-i", "rds-ii", "ss")


@dataclass(frozen=True)
class Sums:
    """Sums per batch element and level: ``count`` and ``inv_degree`` and ``weight`` (B, K),
    ``transitions`` (B, K, K) from the recruiter's level (rows) to the recruit's."""

    count: np.ndarray
    inv_degree: np.ndarray
    weight: np.ndarray
    transitions: np.ndarray


def sums(batch: np.ndarray, level: np.ndarray, recruiter_level: np.ndarray,
         degree: np.ndarray, weight: np.ndarray, freq: np.ndarray, n_batch: int,
         n_levels: int) -> Sums:
    """The sums of respondents given as flat arrays: ``batch`` element, ``level`` code (-1
    missing), the recruiter's level code (-1 for a seed, or a recruiter outside the batch
    element or with a missing outcome), degree, SS weight and frequency (0 for absent)."""
    k = n_levels
    ok = (level >= 0) & (freq > 0)
    cell = batch[ok] * k + level[ok]
    f = freq[ok]

    def per_level(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell, weights=values, minlength=n_batch * k).reshape(n_batch, k)

    count = per_level(f)
    inv_degree = per_level(f / degree[ok])
    w = per_level(f * weight[ok])
    tr = ok & (recruiter_level >= 0)
    tcell = (batch[tr] * k + recruiter_level[tr]) * k + level[tr]
    transitions = np.bincount(tcell, weights=freq[tr], minlength=n_batch * k * k).reshape(
        n_batch, k, k)
    return Sums(count, inv_degree, w, transitions)


def _shares(values: np.ndarray) -> np.ndarray:
    total = values.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = values / total
    return out


def rds_ii(s: Sums) -> np.ndarray:
    """Volz-Heckathorn (RDS-II): ``P_k = sum_{i in k} 1/d_i / sum_i 1/d_i``."""
    return _shares(s.inv_degree)


def ss_shares(s: Sums) -> np.ndarray:
    """Gile's SS: ``P_k = sum_{i in k} 1/pi(d_i) / sum_i 1/pi(d_i)``."""
    return _shares(s.weight)


def stationary(p: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The stationary distribution ``q = q P`` (summing to 1) of each chain in the stack
    ``p`` (B, K, K), with ``q_k = 0`` for the levels not ``present``: the least-squares
    solution of ``(P' - I) q = 0, 1'q = 1`` by the pseudo-inverse (the unique solution when
    the chain on the present levels is irreducible; R ``RDS::get.stationary.distribution``
    takes the eigenvector of eigenvalue 1)."""
    b, k, _ = p.shape
    eye = np.eye(k)
    a = np.swapaxes(p, 1, 2) - eye
    a = np.where(present[:, :, None], a, eye)
    m = np.concatenate([a, np.ones((b, 1, k))], axis=1)
    q: np.ndarray = np.linalg.pinv(m)[:, :, k]
    return q


def rds_i(s: Sums) -> np.ndarray:
    """RDS-I, data-smoothed (Heckathorn 2002; R ``RDS.I.estimates(smoothed=TRUE)``).

    Notes
    -----
    ``t`` the recruitment counts between the present levels, a level that recruited nobody
    given 0.1 to every present level (R ``count.transitions``); ``P = t / rowsums(t)``;
    ``q`` its stationary distribution; the smoothed counts ``S = sum(t) diag(q) P``,
    symmetrised ``(S + S') / 2`` (reciprocity), whose chain has the stationary distribution
    ``r = rowsums(S) / sum(S)``; then ``P_k = (r_k / h_k) / sum_l (r_l / h_l)`` with ``h_k``
    the harmonic mean degree of level ``k``. For two levels ``P_A = S_BA D_B / (S_AB D_A +
    S_BA D_B)`` (Salganik and Heckathorn 2004), ``S_AB`` the share of A's recruits in B.
    """
    present = s.count > 0
    both = present[:, :, None] & present[:, None, :]
    t = np.where(both, s.transitions, 0.0)
    idle = present & (t.sum(axis=2) == 0)
    t = np.where(idle[:, :, None] & both, 0.1, t)
    rows = t.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(rows > 0, t / rows, 0.0)
    q = stationary(p, present)
    smooth = t.sum(axis=(1, 2))[:, None, None] * q[:, :, None] * p
    smooth = 0.5 * (smooth + np.swapaxes(smooth, 1, 2))
    r = _shares(smooth.sum(axis=2))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_inverse = np.where(present, s.inv_degree / s.count, 0.0)
    return _shares(np.where(present, r, 0.0) * mean_inverse)


def estimates(method: str, s: Sums) -> np.ndarray:
    """The shares (B, K) by ``method``."""
    if method == "rds-i":
        return rds_i(s)
    if method == "ss":
        return ss_shares(s)
    return rds_ii(s)


def homophily(s: Sums, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heckathorn's (2002) homophily index of every level, and the share of its recruits
    that are of the same level.

    Notes
    -----
    ``S_kk`` the share of the recruits of level-``k`` recruiters that are of level ``k``,
    ``P_k`` the estimated population share: ``H_k = (S_kk - P_k) / (1 - P_k)`` when
    ``S_kk >= P_k`` (homophily), ``H_k = (S_kk - P_k) / P_k`` otherwise (heterophily);
    0 is random recruitment, 1 recruitment only within the level, -1 only outside it.
    """
    t = s.transitions
    rows = t.sum(axis=2)
    diag = np.diagonal(t, axis1=1, axis2=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        within = np.where(rows > 0, diag / rows, np.nan)
        h = np.where(within >= share, (within - share) / (1 - share), (within - share) / share)
    return h, within


def _round_to_total(props: np.ndarray, total: int) -> np.ndarray:
    """Class sizes ``round(total * props)``, at least 1, adjusted to sum to ``total`` by the
    largest remainders (R's ``getinclCstacked`` adjusts at random in proportion to them)."""
    exact = total * props
    size = np.maximum(np.round(exact), 1).astype(np.int64)
    off = total - int(size.sum())
    if off > 0:
        size[np.argsort(-(exact - size), kind="stable")[:off]] += 1
    while off < 0:  # remove from the classes furthest above their share, keeping 1 each
        room = np.where(size > 1, size - exact, -np.inf)
        take = np.argsort(-room, kind="stable")[:min(-off, int((size > 1).sum()))]
        size[take] -= 1
        off = total - int(size.sum())
    return size


def successive_draws(size: np.ndarray, degree: np.ndarray, n: int, samples: int,
                     rng: np.random.Generator) -> np.ndarray:
    """How often each class is drawn in ``samples`` successive samples of ``n`` without
    replacement, probability proportional to degree, from a population of ``size[k]`` units
    of degree ``degree[k]``.

    Notes
    -----
    Successive sampling is an exponential race: unit ``i`` arrives at ``E_i / d_i`` (``E_i``
    standard exponential) and the sample is the first ``n`` to arrive. Within class ``k`` the
    ``j``-th arrival is ``sum_{i<=j} E_i / ((N_k - i + 1) d_k)``, so only the first
    ``min(n, N_k)`` arrivals of each class are drawn (laid end to end, cumulated per class);
    the ``n``-th arrival overall is the cut-off. Blocks of samples bound the memory.
    """
    k = size.size
    cap = np.minimum(size, n)
    cls = np.repeat(np.arange(k), cap)
    first = np.concatenate([[0], np.cumsum(cap)[:-1]])
    rate = (size[cls] - (np.arange(cls.size) - first[cls])) * degree[cls]
    block = max(1, 4_000_000 // max(cls.size, 1))
    counts = np.zeros(k)
    for start in range(0, samples, block):  # memory blocks of draws, not a loop over rows
        b = min(block, samples - start)
        cs = np.cumsum(rng.standard_exponential((b, cls.size)) / rate, axis=1)
        base = np.where(first > 0, cs[:, np.maximum(first - 1, 0)], 0.0)
        arrive = cs - base[:, cls]
        cut = np.partition(arrive, n - 1, axis=1)[:, [n - 1]]
        counts += np.bincount(cls, weights=(arrive <= cut).sum(axis=0), minlength=k)
    return counts


def ss_inclusion(degree: np.ndarray, population_size: float, rng: np.random.Generator, *,
                 samples: int = 500, iterations: int = 5,
                 ss_infinity: float = 0.04) -> tuple[np.ndarray, np.ndarray]:
    """Gile's (2011) successive-sampling inclusion probabilities as a function of degree:
    the distinct degrees and each one's inclusion probability (R ``RDS::gile.ss.weights``,
    ``getestCstacked``).

    Notes
    -----
    Start from ``pi_k ∝ d_k`` scaled to ``sum_k n_k / pi_k = N`` (``n_k`` sample members of
    degree ``d_k``); repeat ``iterations + 1`` times: the population's degree distribution
    ``N_k ∝ n_k / pi_k`` (Hajek, ``N_k >= 1``, summing to ``N``); ``samples`` successive
    samples of size ``n`` from it (:func:`successive_draws`) draw class ``k`` ``M_k`` times;
    ``pi_k = n ((M_k + n_k) / (sum M + n)) / N_k``. When ``n / N`` is below ``ss_infinity``
    (R's ``SS.infinity``, 0.04) sampling without replacement is taken as with replacement:
    ``pi_k ∝ d_k``, the RDS-II (Volz-Heckathorn) weights.
    """
    classes, nums = np.unique(degree, return_counts=True)
    n = int(degree.size)
    big_n = int(round(population_size))
    prob = classes / degree.sum()
    prob = prob * (nums / prob).sum() / big_n
    if n <= big_n * ss_infinity:
        props = _shares(nums / prob)
        return classes, n * classes / (big_n * (props * classes).sum())
    for _ in range(iterations + 1):
        props = _shares(nums / prob)
        size = _round_to_total(props, big_n)
        drawn = successive_draws(size, classes.astype(float), n, samples, rng)
        prob = n * ((drawn + nums) / (drawn.sum() + n)) / size
    return classes, prob
