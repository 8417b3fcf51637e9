"""Aggregated relational data from the synthetic social network: the answers of survey
respondents to "how many people do you know who ...?" (:func:`draw_ard`) and an enriched
sample of the hidden population with its in-reports (:func:`draw_hidden_sample`), each with the
truth the network scale-up estimators are checked against (Feehan and Salganik 2016)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError, ArgumentTypeError
from flestimate.synthetic._network import (
    SocialNetwork,
    build_network,
    check_fraction,
    check_positive,
    hidden_flags,
    person_attributes,
)
from flestimate.synthetic._population import Population

__all__ = ["ARDSample", "HiddenSample", "draw_ard", "draw_hidden_sample"]


class SurveyLike(Protocol):
    """What :func:`draw_ard` reads from a :class:`~flestimate.synthetic.SyntheticSurvey`."""

    style: str
    persons: pd.DataFrame
    person_rows: np.ndarray | None


@dataclass(frozen=True)
class ARDSample:
    """Aggregated relational data of survey respondents, with the network's truth.

    Attributes
    ----------
    frame : DataFrame
        One row per respondent (persons 15+ of the sample): the survey's identifiers (``hh_id``,
        ``ln`` Moldova style; ``hhid``, ``pid`` Georgia style; ``person_row`` when rows were
        given), ``person_row``, ``true_degree`` (the respondent's realised number of
        contacts) and the reports: ``know_<hidden>`` for every hidden population and
        ``know_<name>`` for every known population.
    hidden : tuple of str
    known_sizes : dict
        The size of every known population.
    total : int
        N: the population the respondents represent and the frame of the estimators, the
        persons aged 15+ (every node of the network).
    hidden_sizes : dict
        The true size of every hidden population (the population's truth columns).
    mean_degree : float
        The true mean degree ``dbar_{F,F}`` (here also ``dbar_{U,U}``: the frame is everyone
        15+), expected given the persons' degrees.
    hidden_degree, degree_ratio, transmission, visibility : dict
        Per hidden population: ``dbar_{H,F}``, ``delta_F = dbar_{H,F} / dbar_{F,F}``,
        ``tau_F`` and ``vbar_{H,F} = tau_F dbar_{H,F}`` (Feehan and Salganik 2016).
    expected_reports : dict
        Per report column, its expected value for a person of the frame before recall error
        (``y_{F,k} / N`` in expectation; for a hidden population ``N_H vbar_{H,F} / N``).
    params : dict
        The network's and the draw's arguments.
    """

    frame: pd.DataFrame
    hidden: tuple[str, ...]
    known_sizes: dict[str, int]
    total: int
    hidden_sizes: dict[str, int]
    mean_degree: float
    hidden_degree: dict[str, float]
    degree_ratio: dict[str, float]
    transmission: dict[str, float]
    visibility: dict[str, float]
    expected_reports: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"<ARDSample: {len(self.frame):,} respondents, N = {self.total:,}, hidden "
                f"{self.hidden_sizes}, {len(self.known_sizes)} known populations>")


@dataclass(frozen=True)
class HiddenSample:
    """A simple random sample of a hidden population with its in-reports.

    Attributes
    ----------
    frame : DataFrame
        ``person_row``, ``region``, ``sex``, ``age``, ``degree`` (the realised number of
        contacts), ``weight`` (``N_H / n``) and ``known_by_<name>``: how many members of each
        probe known population are tied to the person and know that the person is in the
        hidden population.
    hidden : str
    size : int
        ``N_H``.
    total : int
        N, the persons aged 15+.
    known_sizes : dict
        The probe populations' sizes.
    visibility : float
        True ``vbar_{H,F}``; ``hidden_degree`` true ``dbar_{H,F}``.
    hidden_degree : float
    params : dict
    """

    frame: pd.DataFrame
    hidden: str
    size: int
    total: int
    known_sizes: dict[str, int]
    visibility: float
    hidden_degree: float
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"<HiddenSample of {len(self.frame):,} from {self.hidden!r} "
                f"(N_H = {self.size:,}), {len(self.known_sizes)} probe populations>")


def _network_for(population: Population, network: SocialNetwork | None, func: str,
                 options: dict[str, float | None], seed: int) -> SocialNetwork:
    """The given network (built from ``population``), or one built with ``options``."""
    given = {k: v for k, v in options.items() if v is not None}
    if network is None:
        if not isinstance(population, Population):
            raise ArgumentTypeError(f"`population` of `{func}()` must be a synthetic "
                                    f"Population; got {type(population).__name__}")
        return build_network(population, seed=seed, **given)  # type: ignore[arg-type]
    if not isinstance(network, SocialNetwork) or network.population is not population:
        raise ArgumentError(f"`network` of `{func}()` must be a SocialNetwork built from "
                            f"`population` by build_network()")
    if given:
        raise ArgumentError(f"`{next(iter(given))}` of `{func}()` is a network parameter: "
                            f"give it to build_network(), not with `network`")
    return network


def _respondents(net: SocialNetwork, survey_or_rows: Any) -> tuple[np.ndarray, pd.DataFrame]:
    """The respondents' nodes (persons 15+) and their identifier columns."""
    pop = net.population
    if isinstance(survey_or_rows, np.ndarray | Sequence) and not isinstance(survey_or_rows,
                                                                           str):
        rows = np.asarray(survey_or_rows)
        if (rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer) or len(rows) == 0
                or rows.min() < 0 or rows.max() >= len(pop.persons)
                or len(np.unique(rows)) != len(rows)):
            raise ArgumentError("`survey_or_rows` of `draw_ard()` must be a SyntheticSurvey "
                                "or distinct row numbers of the population's persons")
        ids = pd.DataFrame({"person_row": rows})
    else:
        rows_attr = getattr(survey_or_rows, "person_rows", None)
        if rows_attr is None or not isinstance(getattr(survey_or_rows, "persons", None),
                                               pd.DataFrame):
            raise ArgumentTypeError("`survey_or_rows` of `draw_ard()` must be a "
                                    "SyntheticSurvey drawn from the population (with its "
                                    "person_rows) or row numbers of its persons")
        id_cols = ["hhid", "pid"] if survey_or_rows.style == "georgia" else ["hh_id", "ln"]
        ids = survey_or_rows.persons[id_cols].reset_index(drop=True)
        ids["person_row"] = rows = np.asarray(rows_attr)
    adult = pop.persons["age"].to_numpy()[rows] >= 15
    rows, ids = rows[adult], ids.loc[adult].reset_index(drop=True)
    if not len(rows):
        raise ArgumentError("`survey_or_rows` of `draw_ard()` has no person aged 15+")
    return np.searchsorted(net.person_rows, rows), ids


def _patterns(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each node's combination of hidden statuses as one-hot columns (the 2^H - 1 non-empty
    combinations) and the bits of every combination (combinations x statuses)."""
    n_h = flags.shape[1]
    code = flags.astype(np.int64) @ (1 << np.arange(n_h))
    combos = np.arange(1, 2 ** n_h)
    return code[:, None] == combos[None, :], (combos[:, None] >> np.arange(n_h)) & 1


def _alters(net: SocialNetwork, flags: np.ndarray, nodes: np.ndarray, external: np.ndarray,
            rng: np.random.Generator, joint: bool, known: np.ndarray | None = None
            ) -> np.ndarray:
    """The number of each node's contacts in each column of ``flags``: external ties drawn
    from the block model (jointly multinomial over exclusive columns if ``joint``, else each
    binomial: its exact marginal) plus the household members."""
    pairs = net.pairs(flags, known)
    reach = net.reach(flags, pairs)[net.block[nodes]]
    if joint:
        rest = np.clip(1.0 - reach.sum(axis=1, keepdims=True), 0.0, 1.0)
        probs = np.hstack([reach, rest])
        ext = rng.multinomial(external, probs / probs.sum(axis=1, keepdims=True))[:, :-1]
    else:
        ext = rng.binomial(external[:, None], np.clip(reach, 0.0, 1.0))
    return np.asarray(ext + net.household_counts(flags, nodes, pairs))


def _compress(y: np.ndarray, recall: float) -> np.ndarray:
    """Recall error: a count ``y > 0`` reported as ``round(y^(1 - recall))``."""
    if recall == 0.0:
        return y
    return np.asarray(np.where(y > 0, np.rint(np.maximum(y, 1) ** (1.0 - recall)), 0)
                      .astype(np.int64))


def _check_draw(transmission: Any, recall: Any, seed: Any, func: str) -> None:
    check_fraction(transmission, "transmission", func)
    check_fraction(recall, "recall", func, closed=False)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ArgumentTypeError(f"`seed` of `{func}()` must be an integer; got {seed!r}")


def _known_columns(net: SocialNetwork, known: Sequence[str] | None, name: str, func: str
                   ) -> np.ndarray:
    """Indexes of the network's known populations named in ``known`` (all if None)."""
    names = [k.name for k in net.known]
    if known is None:
        return np.arange(len(names))
    wanted = (known,) if isinstance(known, str) else tuple(known)
    bad = [k for k in wanted if k not in names]
    if bad or not wanted:
        raise ArgumentError(f"`{name}` of `{func}()` must name known populations of the "
                            f"network ({', '.join(names)}); got {known!r}")
    return np.array([names.index(k) for k in wanted])


def draw_ard(population: Population, survey_or_rows: SurveyLike | np.ndarray | Sequence[int],
             *, network: SocialNetwork | None = None,
             hidden: Sequence[str] = ("forced_labour", "trafficked"),
             known: Sequence[str] | None = None, mean_degree: float | None = None,
             homophily: float | None = None, barrier: float | None = None,
             transmission: float = 1.0, recall: float = 0.0, seed: int = 0) -> ARDSample:
    """The answers of a survey's respondents to "how many people do you know who ...?" for
    the hidden populations and the known populations, drawn from the social network.

    Parameters
    ----------
    population : Population
    survey_or_rows : SyntheticSurvey or array of int
        A survey drawn from ``population`` (its persons aged 15+ answer) or row numbers of
        ``population.persons`` (those aged 15+ answer).
    network : SocialNetwork, optional
        Built by :func:`build_network` from ``population``; by default one is built with
        ``seed`` and ``mean_degree``, ``homophily``, ``barrier`` (build it once for
        repeated draws: building takes about a second at a country's size).
    hidden : sequence of str
        Boolean truth columns of the persons: the hidden populations.
    known : sequence of str, optional
        The known populations asked about (the network's, all by default).
    mean_degree, homophily, barrier : float, optional
        Passed to :func:`build_network` when ``network`` is not given.
    transmission : float in [0, 1]
        The chance that a respondent knows that a contact in a hidden population is in it
        (``tau``); applies to every hidden tie, in the household too.
    recall : float in [0, 1)
        Recall error: a count ``y > 0`` is reported as ``round(y^(1 - recall))``, so large
        counts are under-reported (0 and 1 are not); applies to every question.
    seed : int

    Returns
    -------
    ARDSample

    Notes
    -----
    Respondent ``i`` of block ``a`` keeps ``e'_i ~ Binomial(e_i, rho_a)`` of its external
    ties (``rho_a = 1`` without barrier); the number of its external contacts in the
    combinations of hidden statuses is multinomial with probabilities ``r_ak``, and in known
    population ``k`` it is ``Binomial(e'_i, r_ak)`` (the exact margin of the block model's
    multinomial-then-binomial draw; the known counts are drawn independently of each other);
    household members 15+ are added. Every hidden contact is reported with probability ``tau``;
    recall error then compresses the counts. The truth (Feehan and Salganik 2016, with the
    frame F = U = the persons aged 15+): ``dbar_{F,F}`` the mean expected degree,
    ``dbar_{H,F}`` that of the hidden population, ``delta_F = dbar_{H,F} / dbar_{F,F}``,
    ``tau_F = tau`` and ``vbar_{H,F} = tau dbar_{H,F}``, so that ``N_H = y_{F,H} /
    vbar_{H,F}`` with ``E[y_{F,H}] = N_H vbar_{H,F}`` when ``recall = 0``.

    References
    ----------
    Feehan, D. M. and Salganik, M. J. (2016). Generalizing the network scale-up method: a new
    estimator for the size of hidden populations. Sociological Methodology 46(1), 153-186.
    Killworth, P. D., McCarty, C., Bernard, H. R., Shelley, G. A. and Johnsen, E. C. (1998).
    Estimation of seroprevalence, rape, and homelessness in the United States using a social
    network approach. Evaluation Review 22(2), 289-308.
    """
    func = "draw_ard"
    _check_draw(transmission, recall, seed, func)
    net = _network_for(population, network, func, {"mean_degree": mean_degree,
                                                   "homophily": homophily,
                                                   "barrier": barrier}, int(seed))
    hid = hidden_flags(net.population, hidden, "hidden", func)
    k_idx = _known_columns(net, known, "known", func)
    nodes, frame = _respondents(net, survey_or_rows)
    flags = net.population.persons[list(hid)].to_numpy()[net.person_rows]
    _reports(net, frame, nodes, hid, flags, k_idx, float(transmission), float(recall),
             np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(2)[1]))
    return _ard_sample(net, frame, hid, flags, k_idx, float(transmission),
                       {**net.params, "hidden": list(hid), "transmission": float(transmission),
                        "recall": float(recall), "seed": int(seed)})


def _reports(net: SocialNetwork, frame: pd.DataFrame, nodes: np.ndarray, hid: tuple[str, ...],
             flags: np.ndarray, k_idx: np.ndarray, tau: float, recall: float,
             rng: np.random.Generator) -> None:
    """Add the respondents' realised degrees and their reports to ``frame``."""
    external = rng.binomial(net.degree[nodes], net.retained[net.block[nodes]])
    onehot, bits = _patterns(flags)
    told = rng.binomial(_alters(net, onehot, nodes, external, rng, joint=True), tau)
    known_counts = _alters(net, net.members[:, k_idx], nodes, external, rng, joint=False,
                           known=k_idx)
    frame["true_degree"] = external + net.household_contacts()[nodes]
    for j, h in enumerate(hid):
        frame[f"know_{h}"] = _compress(told @ bits[:, j], recall)
    for j, i in enumerate(k_idx):
        frame[f"know_{net.known[i].name}"] = _compress(known_counts[:, j], recall)


def _ard_sample(net: SocialNetwork, frame: pd.DataFrame, hid: tuple[str, ...],
                flags: np.ndarray, k_idx: np.ndarray, tau: float, params: dict[str, Any]
                ) -> ARDSample:
    """The sample with the network's truth (see :func:`draw_ard`)."""
    degree = net.expected_degree()
    mean_degree = float(degree.mean())
    h_deg = {h: float(degree[flags[:, j]].mean()) if flags[:, j].any() else float("nan")
             for j, h in enumerate(hid)}
    names = [net.known[i].name for i in k_idx]
    h_node, h_k = np.nonzero(flags)
    k_node, k_k = net.pairs(net.members[:, k_idx], k_idx)
    per_person = net.expected_contacts(
        np.empty((0, len(hid) + len(k_idx)), dtype=bool),
        (np.concatenate([h_node, k_node]), np.concatenate([h_k, k_k + len(hid)])))
    expected = {f"know_{c}": float(v * (tau if j < len(hid) else 1.0))
                for j, (c, v) in enumerate(zip([*hid, *names], per_person, strict=True))}
    sizes = net.known_sizes
    return ARDSample(
        frame=frame, hidden=hid, known_sizes={k: sizes[k] for k in names}, total=net.size,
        hidden_sizes={h: int(flags[:, j].sum()) for j, h in enumerate(hid)},
        mean_degree=mean_degree, hidden_degree=h_deg,
        degree_ratio={h: d / mean_degree for h, d in h_deg.items()},
        transmission=dict.fromkeys(hid, tau),
        visibility={h: tau * d for h, d in h_deg.items()},
        expected_reports=expected, params=params)


def draw_hidden_sample(population: Population, n: int, *, network: SocialNetwork | None = None,
                       hidden: str = "forced_labour", probes: Sequence[str] | None = None,
                       mean_degree: float | None = None, homophily: float | None = None,
                       barrier: float | None = None, transmission: float = 1.0,
                       seed: int = 0) -> HiddenSample:
    """A simple random sample of ``n`` members of a hidden population, each with the number
    of members of every probe known population who are tied to them and know that they are
    in it: the enriched sample of the generalized scale-up estimator's visibility.

    Parameters
    ----------
    population : Population
    n : int
        Sample size (at most ``N_H``).
    network : SocialNetwork, optional
        As in :func:`draw_ard` (built with ``seed`` and the network keywords if not given).
    hidden : str
        A boolean truth column of the persons.
    probes : sequence of str, optional
        The probe known populations (all of the network's by default).
    mean_degree, homophily, barrier : float, optional
        Passed to :func:`build_network` when ``network`` is not given.
    transmission : float in [0, 1]
        As in :func:`draw_ard`: the chance that a contact knows the person is hidden.
    seed : int

    Notes
    -----
    For a sampled member ``j`` of block ``a``: ``e'_j ~ Binomial(e_j, rho_a)`` external ties,
    ``Binomial(e'_j, r_ak)`` of them to probe population ``k``, plus household members in
    ``k``; each of those knows with probability ``tau``. Feehan and Salganik's (2016)
    estimator ``vhat_{H,F} = N_F / sum_k N_{A_k} * mean_j sum_k known_by_k(j)`` estimates
    ``vbar_{H,F}`` (returned as ``visibility``) when the probe alters are as visible as the
    frame as a whole.

    References
    ----------
    Feehan, D. M. and Salganik, M. J. (2016). Generalizing the network scale-up method: a new
    estimator for the size of hidden populations. Sociological Methodology 46(1), 153-186.
    """
    func = "draw_hidden_sample"
    _check_draw(transmission, 0.0, seed, func)
    net = _network_for(population, network, func, {"mean_degree": mean_degree,
                                                   "homophily": homophily,
                                                   "barrier": barrier}, int(seed))
    (hid,) = hidden_flags(net.population, (hidden,) if isinstance(hidden, str) else hidden,
                          "hidden", func)
    k_idx = _known_columns(net, probes, "probes", func)
    in_h = np.flatnonzero(net.population.persons[hid].to_numpy()[net.person_rows])
    size = check_positive(n, "n", func, integer=True)
    if size > len(in_h):
        raise ArgumentError(f"`n` of `{func}()` must be at most the hidden population's size "
                            f"{len(in_h)}; got {n!r}")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(2)[1])
    nodes = rng.choice(in_h, size, replace=False)
    external = rng.binomial(net.degree[nodes], net.retained[net.block[nodes]])
    ties = _alters(net, net.members[:, k_idx], nodes, external, rng, joint=False, known=k_idx)
    told = rng.binomial(ties, transmission)
    rows = net.person_rows[nodes]
    at = person_attributes(net.population, rows)
    frame = pd.DataFrame({"person_row": rows, "region": at["region"], "sex": at["sex"],
                          "age": at["age"],
                          "degree": external + net.household_contacts()[nodes],
                          "weight": np.full(size, len(in_h) / size)})
    names = [net.known[i].name for i in k_idx]
    for j, k in enumerate(names):
        frame[f"known_by_{k}"] = told[:, j]
    h_deg = float(net.expected_degree()[in_h].mean())
    sizes = net.known_sizes
    return HiddenSample(frame, hid, len(in_h), net.size, {k: sizes[k] for k in names},
                        float(transmission) * h_deg, h_deg,
                        {**net.params, "hidden": hid, "transmission": float(transmission),
                         "n": size, "seed": int(seed)})
