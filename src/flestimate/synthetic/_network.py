"""A social network in the synthetic population, with a known truth, for the network scale-up
method: the answers of survey respondents to "how many people do you know who ...?"
(aggregated relational data) and an enriched sample of the hidden population with its
in-reports (its visibility).

The network is a degree-corrected stochastic block model over the persons aged 15+ that is
never materialised: a respondent's alters are drawn from its block's mixing row when asked for
(see :func:`build_network`). The contact network among the target population that
respondent-driven sampling needs is materialised in ``_rds.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError, ArgumentTypeError
from flestimate.synthetic._population import Population

__all__ = ["CATEGORIES", "KNOWN_POPULATIONS", "KnownPopulation", "SocialNetwork",
           "balance_mixing", "build_network", "check_fraction", "check_positive",
           "hidden_flags", "person_attributes", "skewed_degrees"]

#: The five kinds of person of the block model (times region and sex): a non-migrant in a
#: household without migrants, a non-migrant in a migrant household, a migrant not in forced
#: labour, in forced labour but not trafficked, trafficked.
CATEGORIES = ("non_migrant_household", "migrant_household", "migrant", "forced_labour",
              "trafficked")
_MIGRANT_LINK = np.array([0.0, 0.5, 1.0, 1.0, 1.0])
_EXPLOITED = np.array([0.0, 0.0, 0.0, 1.0, 1.0])


@dataclass(frozen=True)
class KnownPopulation:
    """A synthetic group of known size for the known-population degree estimator.

    ``prevalence`` is its expected share of the persons aged 15+; a member is drawn with a
    probability proportional to ``men``/``women`` (by sex), ``urban`` (urban areas against 1
    for rural ones), ``capital`` (the style's first region against 1 elsewhere), and zero
    outside ``ages``.
    """

    name: str
    prevalence: float
    label: str
    men: float = 1.0
    women: float = 1.0
    ages: tuple[int, int] = (15, 120)
    urban: float = 1.0
    capital: float = 1.0

    @property
    def random(self) -> bool:
        """Whether membership is independent of sex, age, area and region."""
        return (self.men == self.women and self.ages == (15, 120) and self.urban == 1.0
                and self.capital == 1.0)


#: The default known populations: prevalences 0.15%-2% of the persons 15+. Only ``twins`` and
#: ``postal_workers`` are drawn at random; the others depend on sex, age, urban/rural or the
#: capital region, so that (with the region and sex homophily of the mixing) their members are
#: not equally visible, as real known populations are not.
KNOWN_POPULATIONS: tuple[KnownPopulation, ...] = (
    KnownPopulation("twins", 0.003, "Twins"),
    KnownPopulation("postal_workers", 0.0015, "Postal workers"),
    KnownPopulation("first_name_male", 0.012, "Men with a common first name", women=0.0),
    KnownPopulation("first_name_female", 0.012, "Women with a common first name", men=0.0),
    KnownPopulation("teachers", 0.015, "School teachers", men=1.0, women=3.0, ages=(22, 65)),
    KnownPopulation("doctors", 0.004, "Medical doctors", ages=(25, 70), urban=2.5),
    KnownPopulation("nurses", 0.006, "Nurses", men=1.0, women=9.0, ages=(20, 65)),
    KnownPopulation("police_officers", 0.003, "Police officers", men=4.0, ages=(20, 60)),
    KnownPopulation("bus_drivers", 0.002, "Bus and minibus drivers", women=0.0,
                    ages=(21, 65), urban=2.0),
    KnownPopulation("university_students", 0.02, "University students", ages=(18, 24),
                    capital=3.0),
    KnownPopulation("married_last_year", 0.012, "Married in the last 12 months", ages=(20, 39)),
    KnownPopulation("gave_birth_last_year", 0.01, "Women who gave birth in the last 12 months",
                    men=0.0, ages=(18, 44)),
    KnownPopulation("registered_farmers", 0.01, "Registered farmers", urban=0.25),
    KnownPopulation("insulin_users", 0.005, "Diabetics treated with insulin", ages=(45, 120)),
    KnownPopulation("civil_servants_capital", 0.006, "Civil servants in the capital",
                    ages=(22, 65), capital=5.0),
)


# -- checks shared with _rds.py -------------------------------------------------------------------
def check_positive(value: Any, name: str, func: str, *, integer: bool = False,
                   minimum: float = 0.0) -> Any:
    """``value`` as a number (an integer if ``integer``) greater than ``minimum``."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    what = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ArgumentTypeError(f"`{name}` of `{func}()` must be {what} > {minimum:g}; got "
                                f"{value!r}")
    if not (np.isfinite(value) and value > minimum):
        raise ArgumentError(f"`{name}` of `{func}()` must be {what} > {minimum:g}; got "
                            f"{value!r}")
    return int(value) if integer else float(value)


def check_fraction(value: Any, name: str, func: str, *, closed: bool = True) -> float:
    """``value`` as a float in [0, 1] (``closed``) or [0, 1)."""
    interval = "[0, 1]" if closed else "[0, 1)"
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ArgumentTypeError(f"`{name}` of `{func}()` must be a float in {interval}; got "
                                f"{value!r}")
    ok = 0.0 <= float(value) <= 1.0 if closed else 0.0 <= float(value) < 1.0
    if not ok:
        raise ArgumentError(f"`{name}` of `{func}()` must be a float in {interval}; got "
                            f"{value!r}")
    return float(value)


def _check_population(population: Any, func: str) -> Population:
    if not isinstance(population, Population):
        raise ArgumentTypeError(f"`population` of `{func}()` must be a synthetic Population "
                                f"(from generate_population()); got {type(population).__name__}")
    return population


def hidden_flags(population: Population, columns: Sequence[str], name: str, func: str
                 ) -> tuple[str, ...]:
    """The hidden-population columns: boolean truth columns of the population's persons."""
    cols = (columns,) if isinstance(columns, str) else tuple(columns)
    p = population.persons
    bad = [c for c in cols if not isinstance(c, str) or c not in p.columns
           or p[c].dtype != bool]
    if not cols or bad or len(set(cols)) != len(cols) or len(cols) > 3:
        raise ArgumentError(f"`{name}` of `{func}()` must be one to three distinct boolean "
                            f"truth columns of the population's persons (such as "
                            f"'forced_labour', 'trafficked'); got {columns!r}")
    return cols


# -- the population's attributes and degrees -------------------------------------------------------
def person_attributes(population: Population, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Household, region, urban/rural, sex, age and migrant status of the persons ``rows``."""
    p = population.persons
    hh = p["household"].to_numpy()[rows]
    stratum = population.households["stratum"].to_numpy()[hh] - 1
    return {"household": hh,
            "region": population.strata["region"].to_numpy()[stratum].astype(np.int64),
            "urban": population.strata["urban"].to_numpy()[stratum].astype(np.int64),
            "sex": p["sex"].to_numpy()[rows].astype(np.int64),
            "age": p["age"].to_numpy()[rows].astype(np.int64),
            "migrant_status": p["migrant_status"].to_numpy()[rows].astype(np.int64)}


def skewed_degrees(mean: float, sigma: float, size: int, rng: np.random.Generator,
                   minimum: int = 1) -> np.ndarray:
    """Log-normal degrees of mean ``mean`` and log-sd ``sigma``, rounded, at least ``minimum``."""
    d = rng.lognormal(np.log(mean) - sigma ** 2 / 2, sigma, size)
    return np.maximum(np.round(d), minimum).astype(np.int64)


def balance_mixing(affinity: np.ndarray, volume: np.ndarray, tol: float = 1e-12
                   ) -> np.ndarray:
    """The symmetric matrix of expected ties between blocks, ``M_ab = x_a x_b A_ab V_a V_b``,
    whose rows sum to the blocks' volumes ``V`` (sums of degrees): symmetric Sinkhorn scaling.
    Empty blocks get zero rows."""
    keep = volume > 0
    a = affinity[np.ix_(keep, keep)] * np.outer(volume[keep], volume[keep])
    v = volume[keep].astype(float)
    x = np.full(len(v), 1.0 / np.sqrt(v.sum()))
    for _ in range(2000):  # a few dozen blocks: iterations, not rows
        x = np.sqrt(x * v / (a @ x))
        if np.max(np.abs(x * (a @ x) / v - 1.0)) < tol:
            break
    out = np.zeros_like(affinity, dtype=float)
    out[np.ix_(keep, keep)] = x[:, None] * a * x[None, :]
    return out


# -- the block model -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SocialNetwork:
    """The acquaintance network of the persons aged 15+ as a degree-corrected stochastic block
    model (see :func:`build_network`); read-only arrays, one element per node.

    Attributes
    ----------
    population : Population
    person_rows : ndarray
        The nodes: rows of ``population.persons`` of the persons aged 15+, in order.
    household, block : ndarray
        Each node's household (row of ``population.households``) and block.
    degree : ndarray
        External degree (acquaintances outside the household) before barrier effects.
    retained : ndarray
        Per block, the share of its external ties kept after the barrier.
    mixing : ndarray
        Blocks x blocks: where a node's external ties go (rows sum to 1).
    blocks : DataFrame
        ``block``, ``category`` (of :data:`CATEGORIES`), ``region``, ``sex``, ``persons``.
    known : tuple of KnownPopulation
    members : ndarray of bool
        Nodes x known populations: membership.
    params : mapping
        The arguments of :func:`build_network`.
    member_pairs : tuple of ndarray
        The (node, known population) pairs of ``members``' true elements.
    """

    population: Population
    person_rows: np.ndarray
    household: np.ndarray
    block: np.ndarray
    degree: np.ndarray
    retained: np.ndarray
    mixing: np.ndarray
    blocks: pd.DataFrame
    known: tuple[KnownPopulation, ...]
    members: np.ndarray
    params: MappingProxyType[str, Any]
    member_pairs: tuple[np.ndarray, np.ndarray]

    @property
    def size(self) -> int:
        """The number of nodes, N (persons aged 15+)."""
        return len(self.person_rows)

    @property
    def known_sizes(self) -> dict[str, int]:
        """The size of every known population."""
        sizes = self.members.sum(axis=0)
        return {k.name: int(s) for k, s in zip(self.known, sizes, strict=True)}

    def household_contacts(self) -> np.ndarray:
        """Each node's household members aged 15+ (its contacts inside the household)."""
        adults = np.bincount(self.household, minlength=len(self.population.households))
        return np.asarray(adults[self.household] - 1)

    def expected_degree(self) -> np.ndarray:
        """Each node's expected total degree: retained external ties plus household contacts."""
        return np.asarray(self.degree * self.retained[self.block] + self.household_contacts())

    def pairs(self, flags: np.ndarray, known: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """The (node, column) pairs of the true elements of ``flags``; with ``known`` (indexes
        of known populations, ``flags = members[:, known]``) from the stored pairs, faster."""
        if known is None:
            node, k = np.nonzero(flags)
            return node, k
        where = np.full(len(self.known), -1, dtype=np.int64)
        where[known] = np.arange(len(known))
        node, k = self.member_pairs
        keep = where[k] >= 0
        return node[keep], where[k[keep]]

    def reach(self, flags: np.ndarray, pairs: tuple[np.ndarray, np.ndarray] | None = None
              ) -> np.ndarray:
        """Per block, the chance that one of its external ties goes to a node of ``flags``
        (nodes x groups, boolean; ``pairs`` its true elements if known): ``P @ Q`` with ``Q``
        the degree-weighted share of the group in each block (a block model's alter is chosen
        in proportion to degree)."""
        n_b, n_k = len(self.blocks), flags.shape[1]
        node, k = self.pairs(flags) if pairs is None else pairs
        volume = np.bincount(self.block, weights=self.degree, minlength=n_b)
        q = np.bincount(self.block[node] * n_k + k, weights=self.degree[node],
                        minlength=n_b * n_k).reshape(n_b, n_k)
        return np.asarray(self.mixing @ (q / np.where(volume > 0, volume, 1.0)[:, None]))

    def household_counts(self, flags: np.ndarray, nodes: np.ndarray,
                         pairs: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """For each node of ``nodes``, its other household members (15+) in each column of
        ``flags`` (nodes x groups, boolean; ``pairs`` its true elements if known)."""
        n_k = flags.shape[1]
        hh, at = np.unique(self.household[nodes], return_inverse=True)
        where = np.full(len(self.population.households), -1, dtype=np.int64)
        where[hh] = np.arange(len(hh))
        node, k = self.pairs(flags) if pairs is None else pairs
        pos = where[self.household[node]]
        keep = pos >= 0
        counts = np.bincount(pos[keep] * n_k + k[keep], minlength=len(hh) * n_k)
        return np.asarray(counts.reshape(len(hh), n_k)[at] - flags[nodes])

    def expected_contacts(self, flags: np.ndarray,
                          pairs: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Per column of ``flags`` (``pairs`` its true elements if known), the expected
        number of ties of a person of the frame
        (everyone 15+) to the column's members: ``(sum_a V'_a r_ak + sum_h (n_h - 1) c_hk) /
        N``, ``V'_a`` the block's retained volume, ``n_h`` the household's persons 15+ and
        ``c_hk`` its members in ``k``."""
        n_b, n_k = len(self.blocks), flags.shape[1]
        kept = np.bincount(self.block, weights=self.degree * self.retained[self.block],
                           minlength=n_b)
        node, k = self.pairs(flags) if pairs is None else pairs
        inside = np.bincount(k, weights=self.household_contacts()[node], minlength=n_k)
        return np.asarray((kept @ self.reach(flags, (node, k)) + inside) / self.size)

    def __repr__(self) -> str:
        return (f"<SocialNetwork of {self.size:,} persons 15+: {len(self.blocks)} blocks, "
                f"mean degree {self.expected_degree().mean():.1f}, "
                f"{len(self.known)} known populations>")


def _check_network_args(kw: dict[str, Any]) -> dict[str, Any]:
    f = "build_network"
    out = {"mean_degree": check_positive(kw["mean_degree"], "mean_degree", f, minimum=1.0),
           "degree_sigma": check_positive(kw["degree_sigma"], "degree_sigma", f),
           "degree_ratio": check_positive(kw["degree_ratio"], "degree_ratio", f),
           "barrier": check_fraction(kw["barrier"], "barrier", f, closed=False)}
    for name in ("homophily", "exploitation_homophily", "region_homophily", "sex_homophily"):
        v = kw[name]
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise ArgumentTypeError(f"`{name}` of `{f}()` must be a number; got {v!r}")
        out[name] = float(v)
    if not isinstance(kw["seed"], int | np.integer) or isinstance(kw["seed"], bool):
        raise ArgumentTypeError(f"`seed` of `{f}()` must be an integer; got {kw['seed']!r}")
    out["seed"] = int(kw["seed"])
    return out


def build_network(population: Population, *, mean_degree: float = 300.0,
                  degree_sigma: float = 0.8, degree_ratio: float = 1.0,
                  homophily: float = 1.0, exploitation_homophily: float = 1.0,
                  region_homophily: float = 1.0, sex_homophily: float = 0.3,
                  barrier: float = 0.0,
                  known: Sequence[KnownPopulation] | None = None, seed: int = 0
                  ) -> SocialNetwork:
    """The acquaintance network of a synthetic population's persons aged 15+, as a
    degree-corrected stochastic block model (not materialised).

    Parameters
    ----------
    population : Population
    mean_degree : float
        Mean number of acquaintances outside the household (about 290: McCarty et al. 2001).
    degree_sigma : float
        Log-sd of the log-normal external degrees (a right-skewed distribution).
    degree_ratio : float
        Multiplies the expected degree of the persons in forced labour (1: as everyone's);
        below 1 the hidden population has smaller networks (Feehan and Salganik's degree
        ratio below 1).
    homophily : float
        Homophily on migrant status (the log of the tie affinity between two persons of the
        same migrant link against two whose links differ by the whole scale).
    exploitation_homophily : float
        Extra log-affinity between two persons in forced labour.
    region_homophily, sex_homophily : float
        Log-affinity between two persons of the same region, of the same sex.
    barrier : float in [0, 1)
        Share of the ties between persons of households without migrants and persons in
        forced labour that do not exist (a barrier effect: those respondents know fewer
        hidden-population members than the mixing says, and the hidden population has fewer
        ties).
    known : sequence of KnownPopulation, optional
        The known populations (:data:`KNOWN_POPULATIONS` by default).
    seed : int
        Seed of the degrees and the known populations' members.

    Notes
    -----
    Nodes are the persons aged 15+; blocks are category (:data:`CATEGORIES`) x region x sex.
    Node ``i`` of block ``a`` has ``e_i ~ round(LogNormal(log m - s^2/2, s))`` external ties
    (times ``degree_ratio`` in forced labour) and is tied to every other household member aged
    15+. The expected external ties between blocks are ``M_ab = x_a x_b A_ab V_a V_b`` with
    ``V_a = sum_{i in a} e_i`` and ``x`` scaled so that ``sum_b M_ab = V_a`` (symmetric
    Sinkhorn), where ``log A_ab = h (1 - |g_a - g_b|) + h_x x_a x_b + h_r [r_a = r_b] +
    h_s [s_a = s_b]``, ``g`` the migrant link (0 no migrant in the household, 0.5 a migrant's
    household member, 1 a migrant) and ``x`` forced labour. The barrier multiplies ``M_ab`` by
    ``1 - b`` between households without migrants and forced labour; block ``a`` keeps the
    share ``rho_a = sum_b M'_ab / V_a`` of its ties and sends them along ``P_ab = M'_ab /
    sum_b M'_ab``. Within a block, an alter is a node chosen in proportion to its degree
    (Karrer and Newman 2011), so a tie of block ``a`` reaches group ``k`` with probability
    ``r_ak = sum_b P_ab q_bk``, ``q_bk`` the degree-weighted share of ``k`` in ``b``.

    References
    ----------
    Karrer, B. and Newman, M. E. J. (2011). Stochastic blockmodels and community structure in
    networks. Physical Review E 83, 016107.
    McCarty, C., Killworth, P. D., Bernard, H. R., Johnsen, E. C. and Shelley, G. A. (2001).
    Comparing two methods for estimating network size. Human Organization 60(1), 28-39.
    """
    pop = _check_population(population, "build_network")
    args = _check_network_args(locals())
    known_t = _check_known(known)
    rng_degree, rng_known = (np.random.default_rng(s)
                             for s in np.random.SeedSequence(args["seed"]).spawn(2))
    rows = np.flatnonzero(pop.persons["age"].to_numpy() >= 15)
    at = person_attributes(pop, rows)
    fl = pop.persons["forced_labour"].to_numpy()[rows]
    category = _categories(pop, rows, at, fl)
    n_reg = int(pop.strata["region"].max())
    block = (category * n_reg + at["region"] - 1) * 2 + at["sex"] - 1
    degree = skewed_degrees(args["mean_degree"], args["degree_sigma"], len(rows), rng_degree)
    degree = np.where(fl, np.maximum(np.round(degree * args["degree_ratio"]), 1),
                      degree).astype(np.int64)
    retained, mixing, blocks = _mixing(block, degree, n_reg, args)
    members, pairs = _known_members(known_t, at, rng_known)
    return SocialNetwork(pop, rows, at["household"], block.astype(np.int64), degree, retained,
                         mixing, blocks, known_t, members,
                         MappingProxyType({**args, "known": [k.name for k in known_t]}), pairs)


def _check_known(known: Sequence[KnownPopulation] | None) -> tuple[KnownPopulation, ...]:
    if known is None:
        return KNOWN_POPULATIONS
    items = tuple(known)
    names = [getattr(k, "name", None) for k in items]
    if (not items or not all(isinstance(k, KnownPopulation) for k in items)
            or len(set(names)) != len(names)):
        raise ArgumentTypeError(f"`known` of `build_network()` must be a sequence of "
                                f"KnownPopulation with distinct names; got {known!r}")
    bad = [k.name for k in items if not 0 < k.prevalence < 0.5]
    if bad:
        raise ArgumentError(f"`known` of `build_network()`: prevalence must be in (0, 0.5); "
                            f"got {bad!r}")
    return items


def _categories(pop: Population, rows: np.ndarray, at: dict[str, np.ndarray],
                fl: np.ndarray) -> np.ndarray:
    """Each node's index into :data:`CATEGORIES`."""
    status = at["migrant_status"]
    migrant_hh = np.bincount(pop.persons["household"].to_numpy(),
                             weights=pop.persons["migrant_status"].to_numpy() > 0,
                             minlength=len(pop.households)) > 0
    tr = pop.persons["trafficked"].to_numpy()[rows]
    return np.select([tr, fl, status > 0, migrant_hh[at["household"]]], [4, 3, 2, 1],
                     0).astype(np.int64)


def _mixing(block: np.ndarray, degree: np.ndarray, n_reg: int, args: dict[str, Any]
            ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Per block the share of its ties kept after the barrier, the mixing matrix (rows sum
    to 1) and the blocks' table (see :func:`build_network`)."""
    n_b = len(CATEGORIES) * n_reg * 2
    volume = np.bincount(block, weights=degree, minlength=n_b)
    b = np.arange(n_b)
    b_cat, b_reg, b_sex = b // (2 * n_reg), (b // 2) % n_reg, b % 2
    ties = balance_mixing(_affinity(b_cat, b_reg, b_sex, args), volume)
    barrier_pairs = np.outer(b_cat == 0, _EXPLOITED[b_cat] > 0)
    ties = ties * np.where(barrier_pairs | barrier_pairs.T, 1.0 - args["barrier"], 1.0)
    kept = ties.sum(axis=1)
    retained = np.minimum(np.divide(kept, volume, out=np.ones(n_b), where=volume > 0), 1.0)
    mixing = np.divide(ties, kept[:, None], out=np.zeros_like(ties), where=kept[:, None] > 0)
    blocks = pd.DataFrame({"block": b, "category": np.array(CATEGORIES, dtype=object)[b_cat],
                           "region": b_reg + 1, "sex": b_sex + 1,
                           "persons": np.bincount(block, minlength=n_b)})
    return retained, mixing, blocks


def _affinity(cat: np.ndarray, reg: np.ndarray, sex: np.ndarray, args: dict[str, Any]
              ) -> np.ndarray:
    """The blocks' tie affinities ``A_ab`` (see :func:`build_network`)."""
    g, x = _MIGRANT_LINK[cat], _EXPLOITED[cat]
    log_a = (args["homophily"] * (1.0 - np.abs(g[:, None] - g[None, :]))
             + args["exploitation_homophily"] * np.outer(x, x)
             + args["region_homophily"] * (reg[:, None] == reg[None, :])
             + args["sex_homophily"] * (sex[:, None] == sex[None, :]))
    return np.asarray(np.exp(log_a))


def _known_members(known: tuple[KnownPopulation, ...], at: dict[str, np.ndarray],
                   rng: np.random.Generator
                   ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Nodes x known populations: membership drawn with the probabilities of each group's
    profile, scaled to its prevalence (computed per cell of sex x age x area x capital); and
    the (node, group) pairs of the members."""
    n = len(at["age"])
    age = np.minimum(at["age"], 120)
    cell = (((at["sex"] - 1) * 121 + age) * 2 + (at["urban"] == 1)) * 2 + (at["region"] == 1)
    size = np.bincount(cell, minlength=2 * 121 * 4)
    c = np.arange(len(size))
    c_sex, c_age, c_urban, c_cap = c // (121 * 4) + 1, (c // 4) % 121, (c // 2) % 2, c % 2
    rate = np.column_stack([
        np.where(c_sex == 1, k.men, k.women) * ((c_age >= k.ages[0]) & (c_age <= k.ages[1]))
        * np.where(c_urban == 1, k.urban, 1.0) * np.where(c_cap == 1, k.capital, 1.0)
        for k in known])
    prevalence = np.array([k.prevalence for k in known])
    p = np.minimum(prevalence * n * rate / np.maximum(size @ rate, 1e-300), 1.0)
    u = rng.random((n, len(known)), dtype=np.float32)
    for j in range(len(known)):  # a dozen groups, each vectorised over the persons
        u[:, j] = u[:, j] < p[cell, j]
    members = np.asarray(u > 0.5)
    node, k = np.nonzero(members)
    return members, (np.asarray(node), np.asarray(k))
