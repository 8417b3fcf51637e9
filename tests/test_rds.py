"""flestimate.rds: RDS-I, RDS-II and SS estimates against hand computations from the methods'
papers, the two bootstraps, the diagnostics and the errors on broken recruitment tables.

The R package ``RDS`` is not installed here, so the references are hand computations (exact
fractions) and independent implementations written in the tests from the papers' formulas and
the R source (``RDS`` 0.9: ``rds.I.weights``, ``vh.weights``, ``getestCstacked``)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flestimate
from flestimate import rds
from flestimate.errors import ArgumentError, DataError, RecruitmentError
from flestimate.rds._bootstrap import tree
from flestimate.rds._chains import roots_and_depths
from flestimate.rds._estimators import successive_draws


def _small() -> pd.DataFrame:
    """Two seeds' trees: 1 -> 2, 3; 2 -> 4; 5 -> 6; 6 -> 7, 8."""
    return pd.DataFrame({"id": [1, 2, 3, 4, 5, 6, 7, 8],
                         "recruiter": [None, 1, 1, 2, None, 5, 6, 6],
                         "degree": [10, 5, 4, 8, 3, 6, 2, 9],
                         "y": [1, 0, 1, 1, 0, 0, 1, 0]})


def _two_groups() -> pd.DataFrame:
    """Recruitments A->A 3, A->B 1, B->A 2, B->B 4; A's degrees 4,2,8,4,2,4 (harmonic mean
    3.2), B's 10,5,10,20,5,10 (harmonic mean 8)."""
    rows = [(1, None, "A", 4), (2, 1, "A", 2), (3, 1, "B", 10), (4, 2, "A", 8),
            (5, 2, "A", 4), (6, 3, "A", 2), (7, 3, "B", 5), (8, 7, "B", 10), (9, 7, "B", 20),
            (10, 7, "A", 4), (11, None, "B", 5), (12, 11, "B", 10)]
    return pd.DataFrame(rows, columns=["id", "recruiter", "g", "degree"])


def _est(table: pd.DataFrame, outcome: str, **kw: object) -> rds.RDSResult:
    kw.setdefault("replicates", 50)
    kw.setdefault("seed", 1)
    kw.setdefault("disclosure", "none")
    return rds.estimate(table, outcome, **kw)  # type: ignore[arg-type]


# -- point estimates --------------------------------------------------------------------------
def test_rds_ii_by_hand() -> None:
    """Volz and Heckathorn (2008), eq. for the share: sum_{y=1} 1/d / sum 1/d, by hand with
    exact fractions on :func:`_small` (degrees of y=1: 10, 4, 8, 2; of y=0: 5, 3, 6, 9)."""
    num = Fraction(1, 10) + Fraction(1, 4) + Fraction(1, 8) + Fraction(1, 2)
    den = num + Fraction(1, 5) + Fraction(1, 3) + Fraction(1, 6) + Fraction(1, 9)
    got = _est(_small(), "y").to_frame()
    assert got["level"].tolist() == [1]
    assert got["estimate"].iloc[0] == pytest.approx(float(num / den), rel=1e-12)
    assert got["n"].iloc[0] == 8


def test_rds_i_two_groups_by_hand() -> None:
    """Heckathorn (2002), Salganik and Heckathorn (2004): P_A = S_BA D_B / (S_AB D_A +
    S_BA D_B) with S_AB = 1/4, S_BA = 2/6, D_A = 3.2, D_B = 8 (harmonic means), i.e. 10/13
    (:func:`_two_groups`); the shares of both levels add up to 1."""
    got = _est(_two_groups(), "g", method="rds-i").to_frame().set_index("level")
    s_ab, s_ba, d_a, d_b = Fraction(1, 4), Fraction(1, 3), Fraction(16, 5), Fraction(8)
    p_a = s_ba * d_b / (s_ab * d_a + s_ba * d_b)
    assert p_a == Fraction(10, 13)
    assert got.loc["A", "estimate"] == pytest.approx(float(p_a), rel=1e-12)
    assert got.loc["B", "estimate"] == pytest.approx(float(1 - p_a), rel=1e-12)


def _r_rds_i_smoothed(t: np.ndarray, harmonic: np.ndarray) -> np.ndarray:
    """R ``RDS:::rds.I.weights(smoothed=TRUE)`` transcribed: Markov MLE, its stationary
    distribution by ``eigen(t(mle))``, the demographic adjustment, symmetrised, again."""
    def stat(p: np.ndarray) -> np.ndarray:
        values, vectors = np.linalg.eig(p.T)
        v = np.real(vectors[:, np.argmin(np.abs(values - 1))])
        return v / v.sum()
    mle = t / t.sum(axis=1, keepdims=True)
    q = stat(mle)
    sm = t.sum() * q[:, None] * mle
    sm = 0.5 * (sm + sm.T)
    q = stat(sm / sm.sum(axis=1, keepdims=True))
    return (q / harmonic) / (q / harmonic).sum()


def test_rds_i_three_groups_against_the_r_algorithm() -> None:
    """Data-smoothed RDS-I with three levels against a transcription of R ``RDS`` 0.9
    ``rds.I.weights(smoothed=TRUE)`` (eigenvector stationary distributions), on a random
    recruitment forest of 300 respondents (numpy seed 5)."""
    rng = np.random.default_rng(5)
    n = 300
    parent = np.array([-1] * 6 + [int(rng.integers(0, i)) for i in range(6, n)])
    g = rng.choice(["a", "b", "c"], size=n, p=[0.2, 0.3, 0.5])
    deg = rng.integers(1, 40, size=n).astype(float)
    table = pd.DataFrame({"id": np.arange(n) + 100,
                          "recruiter": np.where(parent >= 0, parent + 100, np.nan),
                          "g": g, "degree": deg})
    codes = pd.Index(["a", "b", "c"]).get_indexer(g)
    has = parent >= 0
    t = np.zeros((3, 3))
    np.add.at(t, (codes[parent[has]], codes[has]), 1.0)
    harmonic = np.array([1 / np.mean(1 / deg[codes == k]) for k in range(3)])
    want = _r_rds_i_smoothed(t, harmonic)
    got = _est(table, "g", method="rds-i").to_frame()["estimate"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_ss_with_a_huge_population_is_rds_ii() -> None:
    """Gile (2011): as n/N -> 0 successive sampling becomes sampling with replacement and the
    SS estimator the Volz-Heckathorn one; R ``gile.ss.weights`` uses the VH weights below
    ``SS.infinity = 0.04`` (exactly equal here); the simulated inclusion probabilities at
    n/N = 1e-4 (50,000 simulated samples) are proportional to degree within 2%, and the
    estimate within 0.5% of VH."""
    vh = _est(_small(), "y").to_frame()["estimate"].iloc[0]
    ss = _est(_small(), "y", method="ss", population_size=1e6).to_frame()["estimate"].iloc[0]
    assert ss == pytest.approx(vh, rel=1e-12)
    deg = _small()["degree"].to_numpy(float)
    classes, pi = rds.ss_inclusion(deg, 80_000, np.random.default_rng(2), ss_infinity=0.0,
                                   samples=50_000)
    np.testing.assert_allclose(pi / classes, (pi / classes).mean(), rtol=0.02)
    w = 1 / np.interp(deg, classes, pi)
    simulated = (w * _small()["y"]).sum() / w.sum()
    assert simulated == pytest.approx(vh, rel=0.005)


def test_ss_census_is_the_sample_mean() -> None:
    """Gile (2011): when the sample is the whole population (N = n) every inclusion
    probability is 1 and SS is the unweighted share: 4/8 ones in :func:`_small`."""
    got = _est(_small(), "y", method="ss", population_size=8).to_frame()["estimate"].iloc[0]
    assert got == pytest.approx(0.5, rel=1e-12)


def test_successive_draws_against_enumeration() -> None:
    """Successive sampling of 2 from {a1, a2 (degree 1), b (degree 3)} with probability
    proportional to degree: P(b drawn) = 3/5 + 2/5 * 3/4 = 9/10 by enumeration; the
    exponential-race simulation gives 0.9 per sample within 4 standard errors."""
    draws = successive_draws(np.array([2, 1]), np.array([1.0, 3.0]), 2, 200_000,
                             np.random.default_rng(3))
    assert draws.sum() == 400_000
    assert draws[1] / 200_000 == pytest.approx(0.9, abs=4 * np.sqrt(0.09 / 200_000))


def test_categorical_shares_add_up_to_one() -> None:
    """Every method's shares of a three-level outcome add up to 1 (sum of Hajek shares)."""
    table = _small().assign(c=["x", "y", "z", "x", "y", "z", "x", "x"])
    for method in ("rds-i", "rds-ii", "ss"):
        got = _est(table, "c", method=method, population_size=50).to_frame()
        assert got["level"].tolist() == ["x", "y", "z"]
        assert got["estimate"].sum() == pytest.approx(1.0, rel=1e-12)


def test_domains_are_the_estimates_on_their_trees() -> None:
    """With ``by=`` a domain whose trees lie inside it is estimated as its rows alone (the
    same sums; recruitments between domains ignored)."""
    table = _small().assign(region=["n", "n", "n", "n", "s", "s", "s", "s"])
    for method in ("rds-i", "rds-ii"):
        got = _est(table, "y", method=method, by="region").to_frame()
        assert got["domain"].tolist() == ["n", "s"]
        for dom, part in table.groupby("region"):
            alone = _est(part.reset_index(drop=True), "y", method=method).to_frame()
            mine = got.loc[got["domain"] == dom, "estimate"].iloc[0]
            assert mine == pytest.approx(alone["estimate"].iloc[0], rel=1e-12)


def test_missing_outcomes_are_left_out_and_counted() -> None:
    """A respondent without an outcome still recruits but is not estimated: RDS-II on the
    others (R ``HT.estimate`` drops NA)."""
    table = _small().astype({"y": float})
    table.loc[2, "y"] = np.nan
    res = _est(table, "y")
    want = _est(table.drop(index=2).assign(recruiter=lambda t: t["recruiter"]), "y")
    assert res.to_frame()["n"].iloc[0] == 7
    assert res.provenance["n_missing_outcome"] == 1
    assert res.to_frame()["estimate"].iloc[0] == pytest.approx(
        want.to_frame()["estimate"].iloc[0], rel=1e-12)


# -- bootstrap ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bootstrap", ["salganik", "tree"])
def test_bootstrap_is_determined_by_the_seed(bootstrap: str) -> None:
    """The same seed gives the same SEs and intervals; another seed others."""
    a = _est(_two_groups(), "g", bootstrap=bootstrap, replicates=200, seed=7).to_frame()
    b = _est(_two_groups(), "g", bootstrap=bootstrap, replicates=200, seed=7).to_frame()
    c = _est(_two_groups(), "g", bootstrap=bootstrap, replicates=200, seed=8).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["se"], c["se"])
    assert (a["ci_low"] <= a["estimate"]).all() and (a["estimate"] <= a["ci_high"]).all()


def test_tree_bootstrap_structure() -> None:
    """Baraff, McCormick and Raftery (2016): a replicate draws as many seeds as there are,
    and every drawn respondent as many recruits as it had (sum of its recruits' draws =
    its draws x its recruits); on a tree where every respondent of a wave recruits the same
    number, every replicate has n respondents."""
    t = _two_groups()
    parent = pd.Index(t["id"]).get_indexer(t["recruiter"])
    freq = tree(parent, 300, np.random.default_rng(4))
    kids = np.bincount(parent[parent >= 0], minlength=parent.size)
    assert (freq[:, parent < 0].sum(axis=1) == 2).all()
    child_draws = np.zeros_like(freq)
    np.add.at(child_draws.T, parent[parent >= 0], freq[:, parent >= 0].T)
    np.testing.assert_array_equal(child_draws, freq * kids)
    balanced = np.array([-1, -1, 0, 0, 1, 1, 2, 3, 4, 5])
    sizes = tree(balanced, 300, np.random.default_rng(4)).sum(axis=1)
    assert (sizes == balanced.size).all()


def test_salganik_chains_have_the_sample_size() -> None:
    """Salganik (2006): each replicate chain has the domain's n respondents."""
    from flestimate.rds._bootstrap import Sample, salganik

    s = Sample(level=np.array([0, 1, 0, 1, 1]), degree=np.array([1.0, 2, 3, 4, 5]),
               weight=np.ones(5), domain=np.array([0, 0, 0, 1, 1]),
               parent=np.array([-1, 0, 1, -1, 3]), recruiter_level=np.array([-1, 0, 1, -1, 1]),
               n_levels=2, n_domains=2)
    ch = salganik(s, 10, np.random.default_rng(0))
    per = np.bincount(ch.batch, weights=ch.freq).reshape(10, 2)
    assert (per == [3, 2]).all()
    # domain 1 has level 1 only, and draws its degrees from its own (4, 5)
    d1 = (ch.batch % 2 == 1) & (ch.freq > 0)
    assert (ch.level[d1] == 1).all() and np.isin(ch.degree[d1], [4.0, 5.0]).all()


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.01, 1000), seed=st.integers(0, 2**31))
def test_rds_ii_is_invariant_to_scaling_the_degrees(scale: float, seed: int) -> None:
    """Volz-Heckathorn weights 1/d are relative: multiplying every degree by a constant
    changes neither the estimate nor (same seed) the bootstrap."""
    a = _est(_two_groups(), "g", seed=seed).to_frame()
    b = _est(_two_groups().assign(degree=lambda t: t["degree"] * scale), "g",
             seed=seed).to_frame()
    np.testing.assert_allclose(b[["estimate", "se", "ci_low", "ci_high"]],
                               a[["estimate", "se", "ci_low", "ci_high"]], rtol=1e-9)


@settings(max_examples=20, deadline=None)
@given(value=st.sampled_from([0, 1]), method=st.sampled_from(["rds-i", "rds-ii", "ss"]),
       bootstrap=st.sampled_from(["salganik", "tree"]))
def test_a_constant_outcome_is_estimated_exactly(value: int, method: str,
                                                 bootstrap: str) -> None:
    """Every respondent with the same 0/1 value: the share is that value, SE 0."""
    got = _est(_small().assign(y=value), "y", method=method, bootstrap=bootstrap,
               population_size=40).to_frame().iloc[0]
    assert got["estimate"] == value and got["se"] == 0
    assert got["ci_low"] == value and got["ci_high"] == value


# -- diagnostics -------------------------------------------------------------------------------
def test_convergence_ends_at_the_estimate_and_bottleneck_per_seed() -> None:
    """The cumulative estimate after the last respondent is the point estimate; each seed's
    tree estimate is the estimate of its rows alone (RDS-I: their own transitions)."""
    for method in ("rds-i", "rds-ii"):
        res = _est(_two_groups(), "g", method=method)
        conv = res.convergence()
        last = conv[conv["respondents"] == 12].set_index("level")["estimate"]
        final = res.to_frame().set_index("level")["estimate"]
        np.testing.assert_allclose(last[final.index], final, rtol=1e-12)
        bott = res.bottleneck()
        assert bott["seed"].unique().tolist() == [1, 11]
        first_tree = _two_groups().iloc[:10]
        alone = _est(first_tree, "g", method=method).to_frame().set_index("level")
        mine = bott[bott["seed"] == 1].set_index("level")
        np.testing.assert_allclose(mine.loc[alone.index, "estimate"], alone["estimate"],
                                   rtol=1e-12)


def test_homophily_index_by_hand() -> None:
    """Heckathorn (2002): H_A = (S_AA - P_A) / (1 - P_A) when S_AA >= P_A, else
    (S_AA - P_A) / P_A; with S_AA = 3/4 and the RDS-I P_A = 10/13: H_A = (3/4 - 10/13) /
    (10/13) = -1/40; S_BB = 4/6, P_B = 3/13: H_B = (2/3 - 3/13) / (10/13) = 17/30."""
    h = _est(_two_groups(), "g", method="rds-i").homophily().set_index("level")
    assert h.loc["A", "homophily"] == pytest.approx(-1 / 40, rel=1e-10)
    assert h.loc["B", "homophily"] == pytest.approx(17 / 30, rel=1e-10)
    assert h.loc["A", "recruits"] == 4 and h.loc["B", "same_level"] == pytest.approx(2 / 3)


def test_plots_return_axes() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    res = _est(_two_groups(), "g")
    assert isinstance(res.plot_convergence(), Axes)
    assert isinstance(res.plot_bottleneck(), Axes)


def test_disclosure_blanks_small_cells() -> None:
    """The threshold rule (3 respondents): a level with 2 respondents is blanked, with its
    complement in the same domain."""
    table = _small().assign(c=["x", "x", "x", "y", "y", "y", "z", "z"])
    got = rds.estimate(table, "c", replicates=20, seed=1).to_frame()
    assert got["disclosure"].tolist().count("suppressed") >= 2
    assert got.loc[got["level"] == "z", "estimate"].isna().all()
    res = rds.estimate(table, "c", replicates=20, seed=1)
    assert res.convergence()["respondents"].min() == 3


def test_import_is_lazy() -> None:
    """``flestimate.rds`` is an attribute of the package (loaded on first use)."""
    assert flestimate.rds is rds


# -- errors ------------------------------------------------------------------------------------
def test_pointer_jumping_waves_and_cycles() -> None:
    """Depths by pointer jumping equal the walked waves; a cycle is flagged."""
    parent = np.array([-1, 0, 1, 2, 3, 0, -1, 6])
    root, depth, broken = roots_and_depths(parent)
    assert root.tolist() == [0, 0, 0, 0, 0, 0, 6, 6]
    assert depth.tolist() == [0, 1, 2, 3, 4, 1, 0, 1]
    assert not broken.any()
    _, _, broken = roots_and_depths(np.array([-1, 2, 3, 1, 3]))
    assert broken.tolist() == [False, True, True, True, True]


@pytest.mark.parametrize(("change", "message"), [
    ({"recruiter": [None, 1, 1, 2, None, 5, 6, 99]}, r"recruiter id\(s\) 99 .* respondent"),
    ({"recruiter": [None, 2, 1, 2, None, 5, 6, 6]}, r"respondent\(s\) 2 recruited themselves"),
    ({"recruiter": [None, 1, 4, 3, None, 5, 6, 6]}, r"3, 4 never reaches a seed"),
    ({"id": [1, 2, 3, 4, 5, 6, 7, 7]}, r"duplicated ids: 7"),
    ({"recruiter": [2, 1, 1, 2, 4, 5, 6, 6]}, r"no seed"),
])
def test_broken_chains_name_the_ids(change: dict[str, list[object]], message: str) -> None:
    table = _small().assign(**change)
    with pytest.raises(RecruitmentError, match=message):
        rds.estimate(table, "y", replicates=10, seed=1)


@pytest.mark.parametrize("bad", [0, -2, np.nan, np.inf])
def test_bad_degrees_name_the_rows(bad: float) -> None:
    table = _small().astype({"degree": float})
    table.loc[3, "degree"] = bad
    with pytest.raises(DataError, match=r"`degree` column 'degree' .* id \(degree\) 4 "):
        rds.estimate(table, "y", replicates=10, seed=1)


def test_bad_arguments() -> None:
    with pytest.raises(ArgumentError, match="population_size.*needed for method='ss'"):
        rds.estimate(_small(), "y", method="ss")
    with pytest.raises(ArgumentError, match="at least the sample size"):
        rds.estimate(_small(), "y", method="ss", population_size=5)
    with pytest.raises(ArgumentError, match="must be one of rds-i, rds-ii, ss; got 'rds2'"):
        rds.estimate(_small(), "y", method="rds2")
    with pytest.raises(DataError, match="column 'nope' is not in the table"):
        rds.estimate(_small(), "nope")
    with pytest.raises(TypeError, match="has no keyword 'replicate'"):
        rds.estimate(_small(), "y", replicate=10)  # type: ignore[call-arg]
