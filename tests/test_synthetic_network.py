"""The synthetic social network: aggregated relational data (draw_ard), the enriched hidden
sample (draw_hidden_sample) and respondent-driven samples (draw_rds) against the network's own
truth.

References: the population's truth columns (``forced_labour``, ``trafficked``); the identity
``E[y_{F,H}] = N_H vbar_{H,F}`` of Feehan and Salganik (2016, Sociological Methodology 46,
eq. 3), computed here from the hidden population's side of the ties (their expected degrees)
while the generator computes it from the respondents' side; the survey mean and its Taylor SE
by flestimate's ``SurveyDesign.mean`` (validated against R survey 4.1.1 elsewhere); the
contact network's adjacency lists for the recruitment checks.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from flestimate import SurveyDesign, synthetic
from flestimate.errors import ArgumentError, ArgumentTypeError

RANDOM_MIXING = {"homophily": 0.0, "exploitation_homophily": 0.0, "region_homophily": 0.0,
                 "sex_homophily": 0.0}


@pytest.fixture(scope="module")
def pop() -> synthetic.Population:
    return synthetic.generate_population("moldova", seed=31, households=150_000)


@pytest.fixture(scope="module")
def survey(pop: synthetic.Population) -> synthetic.SyntheticSurvey:
    return synthetic.draw_sample(pop, 3000, seed=4)


@pytest.fixture(scope="module")
def net(pop: synthetic.Population) -> synthetic.SocialNetwork:
    return synthetic.build_network(pop, seed=3)


@pytest.fixture(scope="module")
def contacts(pop: synthetic.Population) -> synthetic.ContactNetwork:
    return synthetic.build_contact_network(pop, seed=5)


def _survey_mean(survey: synthetic.SyntheticSurvey, ard: synthetic.ARDSample, col: str
                 ) -> tuple[float, float]:
    frame = survey.persons.merge(ard.frame, on=["hh_id", "ln"], how="inner")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = SurveyDesign(frame, weights="w_pers", strata="strat", psu="psu",
                              lonely_psu="adjust")
        row = design.mean(col).to_frame().iloc[0]
    return float(row["estimate"]), float(row["se"])


# -- determinism ---------------------------------------------------------------------------------
def test_same_seed_same_frames(pop: synthetic.Population, survey: synthetic.SyntheticSurvey,
                               net: synthetic.SocialNetwork,
                               contacts: synthetic.ContactNetwork) -> None:
    a = synthetic.draw_ard(pop, survey, network=net, seed=9)
    pd.testing.assert_frame_equal(a.frame, synthetic.draw_ard(pop, survey, network=net,
                                                              seed=9).frame)
    assert not a.frame.equals(synthetic.draw_ard(pop, survey, network=net, seed=10).frame)
    again = synthetic.build_network(pop, seed=3)
    np.testing.assert_array_equal(again.degree, net.degree)
    np.testing.assert_array_equal(again.members, net.members)
    r = synthetic.draw_rds(pop, network=contacts, seed=2)
    pd.testing.assert_frame_equal(r.frame, synthetic.draw_rds(pop, network=contacts,
                                                              seed=2).frame)
    assert not r.frame.equals(synthetic.draw_rds(pop, network=contacts, seed=3).frame)
    c2 = synthetic.build_contact_network(pop, seed=5)
    np.testing.assert_array_equal(c2.indices, contacts.indices)
    h = synthetic.draw_hidden_sample(pop, 50, network=net, seed=1)
    pd.testing.assert_frame_equal(h.frame, synthetic.draw_hidden_sample(pop, 50, network=net,
                                                                        seed=1).frame)


# -- aggregated relational data --------------------------------------------------------------------
def test_truth_counts_are_the_population_truth_columns(
        pop: synthetic.Population, survey: synthetic.SyntheticSurvey,
        net: synthetic.SocialNetwork) -> None:
    """Reference: the population's truth columns and its persons aged 15+."""
    a = synthetic.draw_ard(pop, survey, network=net, seed=1)
    p = pop.persons
    assert a.total == int((p["age"] >= 15).sum())
    assert a.hidden_sizes == {"forced_labour": int(p["forced_labour"].sum()),
                              "trafficked": int(p["trafficked"].sum())}
    assert a.known_sizes == net.known_sizes
    assert set(a.known_sizes) == {k.name for k in synthetic.KNOWN_POPULATIONS}
    assert all(0.0008 < s / a.total < 0.025 for s in a.known_sizes.values())
    adults = survey.persons["q1_03"].to_numpy() >= 15
    assert len(a.frame) == int(adults.sum())
    assert (a.frame["know_trafficked"] <= a.frame["know_forced_labour"]).all()


def test_expected_reports_are_the_hidden_side_ties(pop: synthetic.Population,
                                                   survey: synthetic.SyntheticSurvey,
                                                   net: synthetic.SocialNetwork) -> None:
    """Reference: Feehan and Salganik (2016) eq. 3, E[y_{F,H}] = N_H vbar_{H,F}, with
    vbar_{H,F} = tau dbar_{H,F} computed from the hidden persons' expected degrees (every tie
    of a hidden person ends in the frame, everyone 15+); tolerance 1e-9 relative."""
    a = synthetic.draw_ard(pop, survey, network=net, transmission=0.7, seed=1)
    degree = net.expected_degree()
    for h in a.hidden:
        flag = pop.persons[h].to_numpy()[net.person_rows]
        ties_from_h = degree[flag].sum()
        np.testing.assert_allclose(a.expected_reports[f"know_{h}"],
                                   0.7 * ties_from_h / a.total, rtol=1e-9)
        np.testing.assert_allclose(a.visibility[h], 0.7 * a.hidden_degree[h], rtol=1e-12)
        np.testing.assert_allclose(a.degree_ratio[h], a.hidden_degree[h] / a.mean_degree,
                                   rtol=1e-12)
        assert a.transmission[h] == 0.7


def test_weighted_mean_report_matches_the_block_model(pop: synthetic.Population,
                                                      survey: synthetic.SyntheticSurvey
                                                      ) -> None:
    """Random mixing, transmission 1, no barrier, no recall: the survey-weighted mean of
    know_forced_labour estimates mean degree x N_H / N (the hidden persons' ties from their
    side, dbar_{H,F} N_H / N; delta near 1 as degrees do not depend on status). Reference:
    SurveyDesign.mean (Taylor SE); within 4 SE."""
    net = synthetic.build_network(pop, seed=8, **RANDOM_MIXING)
    a = synthetic.draw_ard(pop, survey, network=net, seed=2)
    for h in a.hidden:
        expected = a.hidden_degree[h] * a.hidden_sizes[h] / a.total
        assert abs(a.degree_ratio[h] - 1.0) < 0.05
        est, se = _survey_mean(survey, a, f"know_{h}")
        assert abs(est - expected) < 4 * se, (h, est, expected, se)
        assert abs(est - a.mean_degree * a.hidden_sizes[h] / a.total) < 4 * se + 0.05 * est
    for k in ("twins", "teachers", "university_students"):
        est, se = _survey_mean(survey, a, f"know_{k}")
        assert abs(est - a.expected_reports[f"know_{k}"]) < 4 * se, k


def test_assumption_failures_move_the_truth_and_the_reports(
        pop: synthetic.Population) -> None:
    """Barrier: the hidden population loses ties (delta < 1); transmission scales vbar;
    recall compresses the large counts (a count y > 0 becomes round(y^(1 - recall)))."""
    rng = np.random.default_rng(0)
    adults = np.flatnonzero(pop.persons["age"].to_numpy() >= 15)
    rows = np.sort(rng.choice(adults, 4000, replace=False))
    base = synthetic.draw_ard(pop, rows, seed=3, recall=0.0)
    walled = synthetic.draw_ard(pop, rows, seed=3, barrier=0.8)
    assert base.degree_ratio["forced_labour"] > 0.95
    assert walled.degree_ratio["forced_labour"] < 0.8 * base.degree_ratio["forced_labour"]
    assert (walled.expected_reports["know_forced_labour"]
            < 0.8 * base.expected_reports["know_forced_labour"])
    told = synthetic.draw_ard(pop, rows, seed=3, transmission=0.5)
    np.testing.assert_allclose(told.visibility["forced_labour"],
                               0.5 * base.visibility["forced_labour"], rtol=1e-12)
    assert told.frame["know_forced_labour"].sum() < 0.65 * base.frame["know_forced_labour"].sum()
    recall = synthetic.draw_ard(pop, rows, seed=3, recall=0.3)
    y0, y1 = base.frame["know_teachers"], recall.frame["know_teachers"]
    np.testing.assert_array_equal(y1, np.where(y0 > 0, np.rint(y0 ** 0.7), 0))
    assert list(base.frame.columns[:2]) == ["person_row", "true_degree"]


def test_hidden_sample_visibility(pop: synthetic.Population) -> None:
    """Random mixing: the probe-alter estimate N / sum_k N_k x mean_j sum_k known_by_k(j)
    (Feehan and Salganik 2016, eq. 18) is unbiased for vbar_{H,F}; within 4 SE of the sample
    mean (finite population correction ignored: conservative)."""
    net = synthetic.build_network(pop, seed=8, **RANDOM_MIXING)
    n_h = int(pop.persons["forced_labour"].sum())
    h = synthetic.draw_hidden_sample(pop, min(1500, n_h), network=net, transmission=0.8,
                                     seed=4)
    cols = [c for c in h.frame if c.startswith("known_by_")]
    scale = h.total / sum(h.known_sizes.values())
    v = h.frame[cols].sum(axis=1).to_numpy() * scale
    assert abs(v.mean() - h.visibility) < 4 * v.std(ddof=1) / np.sqrt(len(v))
    assert h.size == n_h and np.isclose(h.frame["weight"].sum(), n_h)
    assert pop.persons["forced_labour"].to_numpy()[h.frame["person_row"]].all()
    np.testing.assert_allclose(h.visibility, 0.8 * h.hidden_degree, rtol=1e-12)


# -- respondent-driven sampling ----------------------------------------------------------------------
def test_rds_recruitment_tree(pop: synthetic.Population,
                              contacts: synthetic.ContactNetwork) -> None:
    """Every recruiter an earlier respondent, so no cycles; coupons respected; n respected;
    positive degrees; every recruit a neighbour of its recruiter (the network's adjacency)."""
    s = synthetic.draw_rds(pop, network=contacts, n=400, seeds=6, coupons=3, seed=7)
    f = s.frame
    assert len(f) == 400 and f["id"].tolist() == list(range(1, 401))
    assert f["person_row"].is_unique
    rec = f["recruiter"]
    assert rec.isna().sum() >= 6 and (f.loc[rec.isna(), "wave"] == 0).all()
    r = rec.dropna().astype(int).to_numpy()
    kids = f.loc[rec.notna()]
    assert (r < kids["id"].to_numpy()).all()
    assert (f["recruits"] <= 3).all()
    np.testing.assert_array_equal(np.bincount(r, minlength=402)[1:401], f["recruits"])
    np.testing.assert_array_equal(kids["wave"].to_numpy(), f["wave"].to_numpy()[r - 1] + 1)
    np.testing.assert_array_equal(kids["seed_id"].to_numpy(), f["seed_id"].to_numpy()[r - 1])
    assert (f["degree"] > 0).all()
    node = np.searchsorted(contacts.person_rows, f["person_row"].to_numpy())
    np.testing.assert_array_equal(f["degree"], contacts.degree[node])
    n = contacts.size
    keys = np.repeat(np.arange(n), contacts.degree) * n + contacts.indices
    pairs = node[r - 1] * n + node[kids["id"].to_numpy() - 1]
    assert np.isin(pairs, keys).all()
    np.testing.assert_array_equal(f["reported_degree"], f["degree"])


def test_rds_truth_and_network(pop: synthetic.Population,
                               contacts: synthetic.ContactNetwork) -> None:
    """Reference: the population's truth columns among the persons who worked abroad; the
    adjacency lists are symmetric without self loops or repeated ties."""
    s = synthetic.draw_rds(pop, network=contacts, n=100, seed=1)
    p = pop.persons
    target = (p["migrant_status"] > 0) & (p["age"] >= 15)
    assert s.population_size == int(target.sum()) == contacts.size
    for c in ("forced_labour", "trafficked"):
        assert s.true_counts[c] == int((p[c] & target).sum())
        assert s.true_shares[c] == s.true_counts[c] / s.population_size
    n = contacts.size
    src = np.repeat(np.arange(n), contacts.degree)
    keys = src * n + contacts.indices
    assert (np.diff(keys) > 0).all() and not (src == contacts.indices).any()
    assert np.isin(contacts.indices * n + src, keys).all()
    assert 10 < contacts.degree.mean() < 20


def test_rds_homophily(pop: synthetic.Population, contacts: synthetic.ContactNetwork) -> None:
    """Same-status ties above random mixing (p^2 + (1-p)^2) with homophily, near it without."""
    obs, rand = contacts.same_status("forced_labour")
    assert obs > rand + 0.02
    flat = synthetic.build_contact_network(pop, homophily=0.0, region_homophily=0.0, seed=5)
    obs0, rand0 = flat.same_status("forced_labour")
    assert abs(obs0 - rand0) < 0.01


def test_rds_options(pop: synthetic.Population, contacts: synthetic.ContactNetwork) -> None:
    biased = synthetic.draw_rds(pop, network=contacts, n=200, seeds=200, seed_bias=50.0, seed=1)
    assert biased.frame["forced_labour"].mean() > 0.4
    noisy = synthetic.draw_rds(pop, network=contacts, n=300, degree_error=0.5, seed=1)
    assert (noisy.frame["reported_degree"] != noisy.frame["degree"]).mean() > 0.5
    assert (noisy.frame["reported_degree"] >= 1).all()
    built = synthetic.draw_rds(pop, n=50, mean_degree=12.0, seed=2)
    assert built.params["mean_degree"] == 12.0 and len(built.frame) == 50


def test_bad_arguments(pop: synthetic.Population, survey: synthetic.SyntheticSurvey,
                       net: synthetic.SocialNetwork,
                       contacts: synthetic.ContactNetwork) -> None:
    with pytest.raises(ArgumentError, match=r"`transmission` of `draw_ard\(\)` must be a float "
                                            r"in \[0, 1\]; got 1.5"):
        synthetic.draw_ard(pop, survey, network=net, transmission=1.5)
    with pytest.raises(ArgumentError, match=re.escape("`hidden` of `draw_ard()`")):
        synthetic.draw_ard(pop, survey, network=net, hidden=("sex",))
    with pytest.raises(ArgumentError, match="network parameter"):
        synthetic.draw_ard(pop, survey, network=net, barrier=0.5)
    with pytest.raises(ArgumentError, match=re.escape("`known` of `draw_ard()`")):
        synthetic.draw_ard(pop, survey, network=net, known=["teachers", "astronauts"])
    with pytest.raises(ArgumentTypeError, match=re.escape("`population` of `build_network()`")):
        synthetic.build_network(survey)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=r"`seeds` of `draw_rds\(\)` must be at most"):
        synthetic.draw_rds(pop, network=contacts, n=5, seeds=10)
    with pytest.raises(ArgumentError, match=re.escape("`target` of `build_contact_network()`")):
        synthetic.draw_rds(pop, target="sailors")
    with pytest.raises(ArgumentError, match=re.escape("`n` of `draw_hidden_sample()`")):
        synthetic.draw_hidden_sample(pop, 10**7, network=net)
