"""Bootstrap replicates of an RDS sample, all replicates at once.

:func:`salganik` simulates recruitment chains as a Markov chain on the outcome's levels
(Salganik 2006; R ``RDS`` ``salganik.bootstrap.estimates``); :func:`tree` resamples the
recruitment trees (Baraff, McCormick and Raftery 2016). Both loop over the positions of a
chain or the waves of a tree, each step vectorised over the replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BOOTSTRAPS", "Chains", "Sample", "salganik", "tree"]

#: ``bootstrap=`` choices of :func:`flestimate.rds.estimate`.
BOOTSTRAPS = ("salganik", "tree")


@dataclass(frozen=True)
class Sample:
    """The respondents with an outcome, as the estimators see them: level code, degree, SS
    weight, domain code (-1 outside every domain), the recruiter's row (-1 for seeds) and
    level (-1 for a seed, or a recruiter with a missing outcome or in another domain)."""

    level: np.ndarray
    degree: np.ndarray
    weight: np.ndarray
    domain: np.ndarray
    parent: np.ndarray
    recruiter_level: np.ndarray
    n_levels: int
    n_domains: int


@dataclass(frozen=True)
class Chains:
    """Simulated chains, flat: batch element ``replicate * n_domains + domain`` of each
    position, level, recruiter's level, degree and frequency (0 past a domain's size)."""

    batch: np.ndarray
    level: np.ndarray
    recruiter_level: np.ndarray
    degree: np.ndarray
    freq: np.ndarray


def _cumulative(rows: np.ndarray) -> np.ndarray:
    total = rows.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.cumsum(np.where(total > 0, rows / total, 0.0), axis=-1)
    return out


def _transition_table(s: Sample) -> np.ndarray:
    """Cumulative transition probabilities per domain (D, K, K): the observed recruitments
    from level ``k`` to ``l`` within the domain; a level that recruited nobody moves as the
    domain's recruits do (R: the column sums), or as its respondents when nobody recruited."""
    d, k = s.n_domains, s.n_levels
    ok = (s.domain >= 0) & (s.recruiter_level >= 0) & (s.level >= 0)
    cell = (s.domain[ok] * k + s.recruiter_level[ok]) * k + s.level[ok]
    t = np.bincount(cell, minlength=d * k * k).reshape(d, k, k).astype(float)
    recruits = t.sum(axis=1, keepdims=True)
    inside = (s.domain >= 0) & (s.level >= 0)
    members = np.bincount(s.domain[inside] * k + s.level[inside], minlength=d * k).reshape(d, 1, k).astype(float)
    fallback = np.where(recruits.sum(axis=2, keepdims=True) > 0, recruits, members)
    t = np.where(t.sum(axis=2, keepdims=True) > 0, t, fallback)
    return _cumulative(t)


def _draw(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The category of each uniform ``u`` under the cumulative probabilities ``cum``."""
    out: np.ndarray = np.minimum((u[:, None] > cum).sum(axis=1), cum.shape[1] - 1)
    return out


def salganik(s: Sample, replicates: int, rng: np.random.Generator) -> Chains:
    """Salganik's (2006) bootstrap: per replicate and domain one chain of the domain's size.

    Notes
    -----
    The first respondent's level is drawn from the domain's respondents; each next one's from
    the empirical transition probabilities of the previous one's level
    (:func:`_transition_table`); each respondent's degree from the observed degrees of its
    level in the domain. R ``RDS.bootstrap.intervals(..., uncertainty="Salganik")``.
    """
    d, k = s.n_domains, s.n_levels
    inside = (s.domain >= 0) & (s.level >= 0)
    size = np.bincount(s.domain[inside], minlength=d)
    m = int(size.max())
    cum = _transition_table(s)
    # the observed degrees pooled by (domain, level), for draws by offset
    cell = s.domain[inside] * k + s.level[inside]
    order = np.argsort(cell, kind="stable")
    pool = s.degree[inside][order]
    count = np.bincount(cell, minlength=d * k)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    members = _cumulative(count.reshape(d, k).astype(float))
    dom = np.tile(np.arange(d), replicates)
    b = dom.size
    level = np.empty((b, m), dtype=np.int64)
    level[:, 0] = _draw(members[dom], rng.random(b))
    for j in range(1, m):  # one step per chain position, all chains at once
        level[:, j] = _draw(cum[dom, level[:, j - 1]], rng.random(b))
    pc = dom[:, None] * k + level
    degree = pool[start[pc] + (rng.random((b, m)) * count[pc]).astype(np.int64)]
    recruiter = np.concatenate([np.full((b, 1), -1), level[:, :-1]], axis=1)
    freq = (np.arange(m)[None, :] < size[dom][:, None]).astype(float)
    batch = np.repeat(np.arange(b), m)
    return Chains(batch, level.ravel(), recruiter.ravel(), degree.ravel(), freq.ravel())


def tree(parent: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """The tree bootstrap (Baraff, McCormick and Raftery 2016): how often each respondent is
    drawn in each replicate (R, n).

    Notes
    -----
    The seeds are drawn with replacement; then, wave by wave, each drawn respondent's recruits
    are drawn with replacement from its own recruits, as many as it had. A drawn respondent
    keeps its recruiter's level (its copy's recruiter is a copy of its recruiter), so a
    replicate is the original sample with frequencies.
    """
    n = parent.size
    seeds = np.flatnonzero(parent < 0)
    recruited = np.flatnonzero(parent >= 0)
    children = recruited[np.argsort(parent[recruited], kind="stable")]
    n_children = np.bincount(parent[recruited], minlength=n)
    first = np.concatenate([[0], np.cumsum(n_children)[:-1]])
    rep = np.repeat(np.arange(replicates), seeds.size)
    node = seeds[rng.integers(0, seeds.size, size=rep.size)]
    freq = np.zeros(replicates * n)
    while node.size:  # one step per wave, all replicates at once
        freq += np.bincount(rep * n + node, minlength=freq.size)
        c = n_children[node]
        rep, node = np.repeat(rep, c), np.repeat(node, c)
        pick = (rng.random(node.size) * n_children[node]).astype(np.int64)
        node = children[first[node] + pick]
    return freq.reshape(replicates, n)
