"""Respondent-driven sampling from the synthetic population: a contact network materialised
among the members of a hidden population's frame (the migrants), and a recruitment chain
simulated on it, with the target population's truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError, ArgumentTypeError
from flestimate.synthetic._network import (
    balance_mixing,
    check_fraction,
    check_positive,
    hidden_flags,
    person_attributes,
    skewed_degrees,
)
from flestimate.synthetic._population import Population

__all__ = ["TARGETS", "ContactNetwork", "RDSSample", "build_contact_network", "draw_rds"]

#: The target populations of respondent-driven sampling: persons 15+ who worked abroad in the
#: reference period (returned or abroad), or the returned ones only.
TARGETS = ("migrants", "returned")


@dataclass(frozen=True)
class ContactNetwork:
    """An undirected contact network among a target population, in compressed sparse rows.

    Attributes
    ----------
    population : Population
    target : str
    person_rows : ndarray
        The nodes: rows of ``population.persons``, in order.
    indptr, indices : ndarray
        The neighbours of node ``i`` are ``indices[indptr[i]:indptr[i + 1]]`` (sorted; no self
        loops, no multiple ties; every tie listed from both ends).
    attributes : DataFrame
        One row per node: ``region``, ``sex``, ``age`` and the outcome columns (bool).
    outcomes : tuple of str
    params : mapping
        The arguments of :func:`build_contact_network`.
    """

    population: Population
    target: str
    person_rows: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    attributes: pd.DataFrame
    outcomes: tuple[str, ...]
    params: MappingProxyType[str, Any]

    @property
    def size(self) -> int:
        return len(self.person_rows)

    @property
    def degree(self) -> np.ndarray:
        """Every node's number of contacts."""
        return np.diff(self.indptr)

    @property
    def edges(self) -> int:
        return int(len(self.indices) // 2)

    def neighbours(self, node: int) -> np.ndarray:
        return self.indices[self.indptr[node]:self.indptr[node + 1]]

    def same_status(self, column: str) -> tuple[float, float]:
        """The share of ties whose two ends share ``column``'s status, and that share under
        random mixing (``p^2 + (1 - p)^2``, ``p`` the degree-weighted share with the status)."""
        x = self.attributes[column].to_numpy()
        src = np.repeat(np.arange(self.size), self.degree)
        observed = float(np.mean(x[src] == x[self.indices]))
        p = float(np.average(x, weights=self.degree)) if self.edges else 0.0
        return observed, p ** 2 + (1 - p) ** 2

    def __repr__(self) -> str:
        return (f"<ContactNetwork of {self.size:,} {self.target}: {self.edges:,} ties, mean "
                f"degree {self.degree.mean():.1f}>")


@dataclass(frozen=True)
class RDSSample:
    """A respondent-driven sample with the target population's truth.

    Attributes
    ----------
    frame : DataFrame
        One row per respondent in the order of recruitment: ``id`` (1, 2, ...), ``recruiter``
        (the recruiter's ``id``; NaN for seeds), ``wave`` (0 for seeds), ``seed_id`` (the
        ``id`` of the chain's seed), ``degree`` (the true number of contacts in the target
        population), ``reported_degree`` (with the reporting error), ``recruits`` (the
        respondent's recruits in the sample), the outcome columns (0/1), ``region``, ``sex``,
        ``age``, ``person_row``.
    outcomes : tuple of str
    population_size : int
        The target population's size.
    true_counts, true_shares : dict
        The number and share of the target population with each outcome.
    mean_degree : float
        The network's mean degree.
    params : dict
    """

    frame: pd.DataFrame
    outcomes: tuple[str, ...]
    population_size: int
    true_counts: dict[str, int]
    true_shares: dict[str, float]
    mean_degree: float
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"<RDSSample of {len(self.frame):,} from {self.population_size:,} "
                f"({int(self.frame['recruiter'].isna().sum())} seeds, "
                f"{int(self.frame['wave'].max())} waves)>")


def _target_rows(population: Population, target: str, func: str) -> np.ndarray:
    if target not in TARGETS:
        raise ArgumentError(f"`target` of `{func}()` must be one of {', '.join(TARGETS)}; got "
                            f"{target!r}")
    status = population.persons["migrant_status"].to_numpy()
    adult = population.persons["age"].to_numpy() >= 15
    return np.flatnonzero(adult & ((status > 0) if target == "migrants" else (status == 1)))


def build_contact_network(population: Population, *, target: str = "migrants",
                          outcomes: Sequence[str] = ("forced_labour", "trafficked"),
                          mean_degree: float = 15.0, degree_sigma: float = 0.8,
                          homophily: float = 1.5, region_homophily: float = 1.5,
                          seed: int = 0) -> ContactNetwork:
    """An explicit contact network among the target population (persons who worked abroad),
    for respondent-driven sampling.

    Parameters
    ----------
    population : Population
    target : {"migrants", "returned"}
        The target population: persons 15+ who worked abroad in the reference period, or the
        returned migrants among them.
    outcomes : sequence of str
        Boolean truth columns carried on the nodes; the first is the homophily's status.
    mean_degree : float
        Mean expected number of contacts in the target population (before duplicates are
        removed and household ties added).
    degree_sigma : float
        Log-sd of the log-normal expected degrees.
    homophily : float
        Log-affinity of two persons of the same status in ``outcomes[0]`` (forced labour).
    region_homophily : float
        Log-affinity of two persons of the same region.
    seed : int

    Notes
    -----
    A degree-corrected stochastic block model realised as a multigraph and simplified
    (Karrer and Newman 2011): blocks are the combinations of the outcomes x region; node ``i``
    has the expected degree ``theta_i ~ LogNormal`` (at least 1); the expected ties between
    blocks ``M_ab = x_a x_b A_ab V_a V_b`` (rows summing to the volumes ``V_a = sum_{i in a}
    theta_i``, symmetric Sinkhorn scaling) with ``log A_ab = h [s_a = s_b] + h_r [r_a =
    r_b]``; the number of ties between blocks ``a < b`` is ``Poisson(M_ab)`` (``M_aa / 2``
    within a block), each end a node of its block drawn in proportion to ``theta``. Migrants
    of the same household are tied. Self loops and repeated ties are dropped.

    References
    ----------
    Karrer, B. and Newman, M. E. J. (2011). Stochastic blockmodels and community structure in
    networks. Physical Review E 83, 016107.
    """
    func = "build_contact_network"
    pop = _population(population, func)
    rows = _target_rows(pop, target, func)
    outs = hidden_flags(pop, outcomes, "outcomes", func)
    mean = check_positive(mean_degree, "mean_degree", func, minimum=1.0)
    sigma = check_positive(degree_sigma, "degree_sigma", func)
    for name, v in (("homophily", homophily), ("region_homophily", region_homophily)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise ArgumentTypeError(f"`{name}` of `{func}()` must be a number; got {v!r}")
    rng = np.random.default_rng(_seed(seed, func))
    at = person_attributes(pop, rows)
    flags = pop.persons[list(outs)].to_numpy()[rows]
    n_reg = int(pop.strata["region"].max())
    status = flags.astype(np.int64) @ (1 << np.arange(len(outs)))
    block = status * n_reg + at["region"] - 1
    n_b = (1 << len(outs)) * n_reg
    theta = skewed_degrees(mean, sigma, len(rows), rng)
    b = np.arange(n_b)
    b_first, b_reg = (b // n_reg) & 1, b % n_reg
    log_a = (float(homophily) * (b_first[:, None] == b_first[None, :])
             + float(region_homophily) * (b_reg[:, None] == b_reg[None, :]))
    ties = balance_mixing(np.exp(log_a), np.bincount(block, weights=theta, minlength=n_b))
    src, dst = _block_ties(ties, block, theta, rng)
    hs, hd = _household_ties(at["household"])
    indptr, indices = _csr(np.concatenate([src, hs]), np.concatenate([dst, hd]), len(rows))
    attributes = pd.DataFrame({"region": at["region"], "sex": at["sex"], "age": at["age"]})
    for j, c in enumerate(outs):
        attributes[c] = flags[:, j]
    params = {"target": target, "outcomes": list(outs), "mean_degree": mean,
              "degree_sigma": sigma, "homophily": float(homophily),
              "region_homophily": float(region_homophily), "seed": int(seed)}
    return ContactNetwork(pop, target, rows, indptr, indices, attributes, outs,
                          MappingProxyType(params))


def _population(population: Any, func: str) -> Population:
    if not isinstance(population, Population):
        raise ArgumentTypeError(f"`population` of `{func}()` must be a synthetic Population "
                                f"(from generate_population()); got {type(population).__name__}")
    return population


def _seed(seed: Any, func: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ArgumentTypeError(f"`seed` of `{func}()` must be an integer; got {seed!r}")
    return int(seed)


def _block_ties(ties: np.ndarray, block: np.ndarray, theta: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The ties of the block model: Poisson counts per pair of blocks, ends drawn in
    proportion to ``theta`` within their block."""
    n_b = len(ties)
    a, b = np.triu_indices(n_b)
    counts = rng.poisson(np.where(a == b, ties[a, b] / 2.0, ties[a, b]))
    order = np.argsort(block, kind="stable")
    stubs = np.repeat(order, theta[order])  # a node once per unit of theta: O(1) draws
    volume = np.bincount(block, weights=theta, minlength=n_b).astype(np.int64)
    start = np.concatenate(([0], np.cumsum(volume)[:-1]))

    def ends(blocks: np.ndarray) -> np.ndarray:
        pick = start[blocks] + (rng.random(len(blocks)) * volume[blocks]).astype(np.int64)
        return np.asarray(stubs[pick])

    return ends(np.repeat(a, counts)), ends(np.repeat(b, counts))


def _household_ties(household: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ties between the nodes of the same household (nodes sorted by household)."""
    src, dst = [], []
    idx = np.arange(len(household))
    for offset in range(1, 10):  # at most nine persons in a household: offsets, not rows
        same = np.flatnonzero(household[offset:] == household[:-offset])
        src.append(idx[same])
        dst.append(idx[same] + offset)
    return np.concatenate(src), np.concatenate(dst)


def _csr(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The simple undirected graph of the ties ``src``-``dst`` in compressed sparse rows."""
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    key = lo[lo != hi].astype(np.int64) * n + hi[lo != hi]
    key.sort()
    key = key[np.r_[True, key[1:] != key[:-1]]]
    lo, hi = key // n, key % n
    both = np.concatenate([lo * n + hi, hi * n + lo])
    both.sort()
    indptr = np.concatenate(([0], np.cumsum(np.bincount(both // n, minlength=n))))
    return indptr.astype(np.int64), (both % n).astype(np.int64)


def _check_rds(n: Any, seeds: Any, coupons: Any, kw: dict[str, Any]) -> dict[str, Any]:
    func = "draw_rds"
    out = {"n": check_positive(n, "n", func, integer=True),
           "seeds": check_positive(seeds, "seeds", func, integer=True),
           "coupons": check_positive(coupons, "coupons", func, integer=True),
           "differential_recruitment": check_positive(kw["differential_recruitment"],
                                                      "differential_recruitment", func),
           "seed_bias": check_positive(kw["seed_bias"], "seed_bias", func),
           "redeem": check_fraction(kw["redeem"], "redeem", func),
           "degree_error": check_fraction(kw["degree_error"], "degree_error", func),
           "seed": _seed(kw["seed"], func)}
    if out["seeds"] > out["n"]:
        raise ArgumentError(f"`seeds` of `{func}()` must be at most `n` ({n}); got {seeds!r}")
    return out


def _network_for(population: Population, network: ContactNetwork | None,
                 options: dict[str, Any], seed: int) -> ContactNetwork:
    """The given network (built from ``population``), or one built with ``options``."""
    given = {k: v for k, v in options.items() if v is not None}
    if network is None:
        return build_contact_network(population, seed=seed, **given)
    if not isinstance(network, ContactNetwork) or network.population is not population:
        raise ArgumentError("`network` of `draw_rds()` must be a ContactNetwork built from "
                            "`population` by build_contact_network()")
    if given:
        raise ArgumentError(f"`{next(iter(given))}` of `draw_rds()` is a network parameter: "
                            f"give it to build_contact_network(), not with `network`")
    return network


def draw_rds(population: Population, *, network: ContactNetwork | None = None,
             target: str | None = None, outcomes: Sequence[str] | None = None, n: int = 500,
             seeds: int = 10, coupons: int = 3, mean_degree: float | None = None,
             homophily: float | None = None, differential_recruitment: float = 1.0,
             seed_bias: float = 1.0, redeem: float = 0.8, degree_error: float = 0.0,
             seed: int = 0) -> RDSSample:
    """A respondent-driven sample of the target population (persons who worked abroad),
    simulated on its contact network, with the truth.

    Parameters
    ----------
    population : Population
    network : ContactNetwork, optional
        Built by :func:`build_contact_network` from ``population`` (build it once for
        repeated samples); by default one is built with ``seed`` and ``target``, ``outcomes``,
        ``mean_degree`` and ``homophily`` (defaults ``"migrants"``, ``("forced_labour",
        "trafficked")``, 15, 1.5).
    target, outcomes, mean_degree, homophily : optional
        Passed to :func:`build_contact_network` when ``network`` is not given.
    n : int
        Sample size (fewer only if every chain dies and no node of positive degree is left).
    seeds : int
        Initial respondents; the same number of new seeds starts whenever every chain has
        died out before ``n``.
    coupons : int
        Coupons per respondent: the most recruits anyone has.
    differential_recruitment : float
        Multiplies the odds that a coupon of a respondent with the first outcome (forced
        labour) is redeemed (1: everyone recruits alike).
    seed_bias : float
        Relative chance of a person with the first outcome to be a seed (1: seeds at random
        among the persons with contacts).
    redeem : float in [0, 1]
        The chance that a coupon given to a contact is redeemed.
    degree_error : float in [0, 1]
        Log-sd of the multiplicative error of the reported degree (0: reported exactly).
    seed : int

    Notes
    -----
    Wave ``w + 1``: every respondent of wave ``w`` gives ``c_i ~ Binomial(coupons, p_i)``
    coupons (``p_i`` the redemption chance, its odds times ``differential_recruitment`` for
    the first outcome) to ``c_i`` distinct contacts not yet in the sample, chosen at random;
    a person who gets coupons from several respondents joins with the one redeemed first (a
    random time), and the wave's recruits join in the order of those times until ``n``.
    Reported degree: ``max(1, round(d_i exp(sigma Z)))``.

    References
    ----------
    Heckathorn, D. D. (1997). Respondent-driven sampling: a new approach to the study of hidden
    populations. Social Problems 44(2), 174-199.
    Gile, K. J. and Handcock, M. S. (2010). Respondent-driven sampling: an assessment of
    current methodology. Sociological Methodology 40(1), 285-327.
    """
    args = _check_rds(n, seeds, coupons, locals())
    net = _network_for(population, network,
                       {"target": target, "outcomes": outcomes, "mean_degree": mean_degree,
                        "homophily": homophily}, args["seed"])
    rng = np.random.default_rng(np.random.SeedSequence(args["seed"]).spawn(2)[1])
    first = net.attributes[net.outcomes[0]].to_numpy()
    odds = args["redeem"] / max(1.0 - args["redeem"], 1e-300)
    p_dr = odds * args["differential_recruitment"] / (1.0 + odds * args["differential_recruitment"])
    p_redeem = np.where(first, p_dr if args["redeem"] < 1 else 1.0, args["redeem"])
    node, recruiter, wave = _recruit_chains(net, args, first, p_redeem, rng)
    return _rds_sample(net, node, recruiter, wave, args, rng)


def _seeds(net: ContactNetwork, sampled: np.ndarray, first: np.ndarray, k: int,
           bias: float, rng: np.random.Generator) -> np.ndarray:
    """``k`` new seeds among the unsampled nodes with contacts, the first outcome ``bias``
    times as likely."""
    eligible = np.flatnonzero(~sampled & (net.degree > 0))
    if not len(eligible):
        return eligible
    w = np.where(first[eligible], bias, 1.0)
    return np.asarray(rng.choice(eligible, min(k, len(eligible)), replace=False,
                                 p=w / w.sum()))


def _recruit_chains(net: ContactNetwork, args: dict[str, Any], first: np.ndarray,
                    p_redeem: np.ndarray, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sample's nodes in the order of recruitment, each one's recruiter (position in the
    sample, -1 for seeds) and wave: a loop over waves, each wave vectorised."""
    n = args["n"]
    sampled = np.zeros(net.size, dtype=bool)
    nodes: list[np.ndarray] = []
    recruiters: list[np.ndarray] = []
    waves: list[np.ndarray] = []
    total, w = 0, 0
    current = np.empty(0, dtype=np.int64)  # positions in the sample of the last wave
    while total < n:
        if len(current):
            by, new = _one_wave(net, np.concatenate(nodes)[current], sampled, args["coupons"],
                                p_redeem, rng)
            by = current[by]
            w += 1
        else:  # every chain has died out (or the start): new seeds
            new = _seeds(net, sampled, first, min(args["seeds"], n - total), args["seed_bias"],
                         rng)
            if not len(new):
                break
            by = np.full(len(new), -1, dtype=np.int64)
            w = 0
        new, by = new[:n - total], by[:n - total]
        sampled[new] = True
        nodes.append(new)
        recruiters.append(by)
        waves.append(np.full(len(new), w, dtype=np.int64))
        current = np.arange(total, total + len(new))
        total += len(new)
    return np.concatenate(nodes), np.concatenate(recruiters), np.concatenate(waves)


def _one_wave(net: ContactNetwork, recruiters: np.ndarray, sampled: np.ndarray, coupons: int,
              p_redeem: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One wave: which recruiter (index into ``recruiters``) brings which new node, in the
    order the coupons are redeemed."""
    deg = net.degree[recruiters]
    start = net.indptr[recruiters]
    owner = np.repeat(np.arange(len(recruiters)), deg)
    offset = np.arange(int(deg.sum())) - np.repeat(np.cumsum(deg) - deg, deg)
    alter = net.indices[start[owner] + offset]
    free = ~sampled[alter]
    owner, alter = owner[free], alter[free]
    given = rng.binomial(coupons, p_redeem[recruiters])
    order = np.lexsort((rng.random(len(owner)), owner))
    owner, alter = owner[order], alter[order]
    first_of = np.searchsorted(owner, np.arange(len(recruiters)))
    rank = np.arange(len(owner)) - first_of[owner]
    keep = rank < given[owner]
    owner, alter = owner[keep], alter[keep]
    time = rng.random(len(owner))
    order = np.lexsort((time, alter))
    owner, alter, time = owner[order], alter[order], time[order]
    winner = np.r_[True, alter[1:] != alter[:-1]]
    owner, alter, time = owner[winner], alter[winner], time[winner]
    order = np.argsort(time, kind="stable")
    return owner[order], alter[order]


def _rds_sample(net: ContactNetwork, node: np.ndarray, recruiter: np.ndarray, wave: np.ndarray,
                args: dict[str, Any], rng: np.random.Generator) -> RDSSample:
    """The sample's table and the truth."""
    ids = np.arange(1, len(node) + 1)
    seed_pos = np.arange(len(node))
    for _ in range(int(wave.max()) + 1 if len(wave) else 0):  # waves, not rows
        seed_pos = np.where(recruiter[seed_pos] >= 0, recruiter[seed_pos], seed_pos)
    degree = net.degree[node]
    noise = np.exp(args["degree_error"] * rng.standard_normal(len(node)))
    att = net.attributes.iloc[node].reset_index(drop=True)
    frame = pd.DataFrame({
        "id": ids, "recruiter": np.where(recruiter >= 0, recruiter + 1.0, np.nan),
        "wave": wave, "seed_id": seed_pos + 1, "degree": degree,
        "reported_degree": np.maximum(np.rint(degree * noise), 1).astype(np.int64),
        "recruits": np.bincount(recruiter[recruiter >= 0], minlength=len(node)),
    })
    for c in net.outcomes:
        frame[c] = att[c].to_numpy().astype(np.int8)
    for c in ("region", "sex", "age"):
        frame[c] = att[c].to_numpy()
    frame["person_row"] = net.person_rows[node]
    counts = {c: int(net.attributes[c].sum()) for c in net.outcomes}
    return RDSSample(frame, net.outcomes, net.size, counts,
                     {c: k / net.size for c, k in counts.items()}, float(net.degree.mean()),
                     {**net.params, **args})
