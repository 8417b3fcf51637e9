"""The pooling of the item profiles with which a missing sector is drawn: chosen by
leave-one-out prediction of the answered sectors (``flestimate.impute._smoothing``).

References: a brute-force leave-one-out computation written from the formulas with explicit
loops over respondents, sectors and items (one class, so every expected count is a count);
the profiles' formula ``(y + c theta) / (n + c)``; parameters of simulated data.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from flestimate.impute import ImputationModel, _model, _smoothing, fit_model, seed_sequence


def _small_frame() -> pd.DataFrame:
    """Nine respondents, two items (some answers missing), sectors a, b, c and one missing."""
    return pd.DataFrame({
        "inv_x": [1.0, 1.0, 0.0, 1.0, 0.0, 0.0, np.nan, 1.0, 0.0, 1.0],
        "inv_y": [1.0, np.nan, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0],
        "sector": ["a", "a", "a", "b", "b", "b", "b", "c", "c", None],
    })


def _brute_force_score(frame: pd.DataFrame, prior: float) -> float:
    """Sum over the answered sectors of log P(own sector | answers), each respondent left out
    of its own sector's counts, for a one-class model: item probabilities of the class
    ``(Y + pbar) / (A + 1)`` with ``pbar = (Y + 0.5) / (A + 1)`` over all respondents; of a
    sector ``(Y_l + c theta) / (A_l + c)``; sector shares ``N_l + (N_l + 0.5) / (N + 1.5)``
    normalised (the item prior of one pseudo-respondent spread as the smoothed shares)."""
    items = ["inv_x", "inv_y"]
    levels = ["a", "b", "c"]
    x = frame[items].to_numpy(dtype=float)
    sector = np.where(frame["sector"].isna(), None, frame["sector"].to_numpy(dtype=object))
    theta = []
    for j in range(len(items)):
        seen = ~np.isnan(x[:, j])
        yes, answered = float(x[seen, j].sum()), float(seen.sum())
        pbar = (yes + 0.5) / (answered + 1.0)
        theta.append((yes + pbar) / (answered + 1.0))
    n_answered = sum(1 for s in sector if s is not None)
    total = 0.0
    for i in range(len(frame)):
        if sector[i] is None:
            continue
        joint = {}
        for level in levels:
            members = [r for r in range(len(frame)) if sector[r] == level and r != i]
            n_l = sum(1 for r in range(len(frame)) if sector[r] == level)
            share = (n_l - (level == sector[i])
                     + (n_l + 0.5) / (n_answered + 0.5 * len(levels)))
            like = 1.0
            for j in range(len(items)):
                if np.isnan(x[i, j]):
                    continue
                rows = members if level == sector[i] else [
                    r for r in range(len(frame)) if sector[r] == level]
                ans = [x[r, j] for r in rows if not np.isnan(x[r, j])]
                p = (sum(ans) + prior * theta[j]) / (len(ans) + prior)
                like *= p if x[i, j] == 1 else 1.0 - p
            joint[level] = share * like
        total += math.log(joint[sector[i]] / sum(joint.values()))
    return total


def _fitted(frame: pd.DataFrame) -> ImputationModel:
    return fit_model(frame, items=["inv_x", "inv_y"], categorical=["sector"], classes=1,
                     profile="sector")


@pytest.mark.parametrize("prior", [0.25, 1.0, 4.0, 64.0])
def test_leave_one_out_score_by_brute_force(prior: float) -> None:
    """The vectorised score of every prior equals the brute-force loops to 1e-12."""
    frame = _small_frame()
    model = _fitted(frame)
    assert model.level_profile is not None
    record = _smoothing.choose(model.patterns, model.fit, model.level_profile, 0,
                               grid=(prior,))
    assert record["scores"][0] == pytest.approx(_brute_force_score(frame, prior), rel=1e-12)


def test_the_model_records_the_best_prior_of_the_grid() -> None:
    """``fit_model`` keeps the grid's best prior; the summary records the grid and scores."""
    frame = _small_frame()
    model = _fitted(frame)
    smoothing = model.profile_smoothing
    scores = [_brute_force_score(frame, c) for c in _smoothing.GRID]
    assert smoothing["grid"] == list(_smoothing.GRID)
    np.testing.assert_allclose(smoothing["scores"], scores, rtol=1e-12)
    assert smoothing["chosen"] == _smoothing.GRID[int(np.argmax(scores))]
    assert smoothing["by_class"] == [smoothing["chosen"]]  # one class
    assert model.summary_dict()["profile_smoothing"]["chosen"] == smoothing["chosen"]


def test_each_class_gets_its_own_prior_and_no_worse_a_score() -> None:
    """Two classes: the priors chosen class by class (coordinate ascent from the common best)
    score at least as well as the common best, and their recorded score is the vectorised
    score at those priors."""
    frame = _sectors(np.random.default_rng(4), 3_000, True)
    model = fit_model(frame, items=list(frame.columns[:12]), categorical=["sector"],
                      profile="sector")
    smoothing = model.profile_smoothing
    assert len(smoothing["by_class"]) == 2
    assert set(smoothing["by_class"]) <= set(_smoothing.GRID)
    assert smoothing["by_class_score"] >= max(smoothing["scores"]) - 1e-9
    assert model.level_profile is not None
    again = _smoothing.choose(model.patterns, model.fit, model.level_profile, 0,
                              grid=(smoothing["chosen"],))
    assert again["scores"][0] == pytest.approx(max(smoothing["scores"]), rel=1e-12)


def test_no_choice_when_the_sector_is_never_missing() -> None:
    """Nothing to draw, nothing to choose: the record is empty and the summary has none."""
    frame = _small_frame().iloc[:-1]
    model = _fitted(frame)
    assert model.profile_smoothing == {}
    assert "profile_smoothing" not in model.summary_dict()


def test_smoothed_profiles_at_the_items_prior_are_the_fitted_ones() -> None:
    """``(y + c theta) / (n + c)`` from the stored counts at ``c = PROFILE_PRIOR`` is the fit's
    ``theta_profile``; a larger prior moves every profile towards its class's."""
    frame = _small_frame()
    fit = _fitted(frame).fit
    np.testing.assert_allclose(fit.smoothed_profiles(_model.PROFILE_PRIOR), fit.theta_profile,
                               rtol=1e-12)
    near = fit.smoothed_profiles(1e9)
    np.testing.assert_allclose(near, np.broadcast_to(fit.theta[:, None], near.shape), atol=1e-8)


def _sectors(rng: np.random.Generator, n: int, differs: bool) -> pd.DataFrame:
    """Two classes (30% in the second), twelve items yes with probability 0.05 in the first
    class and 0.4 in the second; sector c (3% of the rows) has items 0-3 at 0.9 in the second
    class when ``differs``; 10% of the sectors missing."""
    sector = rng.choice(3, n, p=[0.6, 0.37, 0.03])
    z = rng.random(n) < 0.3
    theta = np.where(z[:, None], 0.4, 0.05) * np.ones((n, 12))
    if differs:
        theta[z & (sector == 2), :4] = 0.9
    frame = pd.DataFrame((rng.random((n, 12)) < theta).astype(float),
                         columns=[f"inv_x{i}" for i in range(12)])
    frame["sector"] = np.array(["a", "b", "c"], dtype=object)[sector]
    frame.loc[rng.random(n) < 0.1, "sector"] = None
    return frame


@pytest.mark.parametrize(("differs", "seed"), [(False, 1), (False, 2), (True, 1), (True, 2)])
def test_pooling_follows_whether_the_sectors_answer_differently(differs: bool,
                                                                seed: int) -> None:
    """Simulated (n = 6,000): where no sector's answers differ, the held-out sectors are best
    predicted with the profiles pooled into their class's (a prior of at least 128
    pseudo-respondents); where sector c's exploited (about 50 respondents) say yes to four
    items at 0.9 against 0.4, pooling them away would lose that, and the prior stays at 8 or
    less."""
    frame = _sectors(np.random.default_rng(seed), 6_000, differs)
    model = fit_model(frame, items=list(frame.columns[:12]), categorical=["sector"],
                      profile="sector")
    chosen = model.profile_smoothing["chosen"]
    assert (chosen <= 8) if differs else (chosen >= 128), chosen


def test_the_chosen_pooling_draws_the_missing_sectors() -> None:
    """The sector draw reads the profiles smoothed by the chosen priors: set back to the items'
    own (``PROFILE_PRIOR``), the missing sectors are drawn otherwise and the answered ones are
    kept; the same seed gives the same sectors."""
    frame = _sectors(np.random.default_rng(3), 3_000, True)
    model = fit_model(frame, items=list(frame.columns[:12]), categorical=["sector"],
                      profile="sector")
    rows = np.arange(len(frame))
    ours = model.complete(rows, 4, seed_sequence(2, "s")).categorical["sector"]
    again = model.complete(rows, 4, seed_sequence(2, "s")).categorical["sector"]
    np.testing.assert_array_equal(ours, again)
    from dataclasses import replace

    plain = replace(model, profile_smoothing={**model.profile_smoothing,
                                              "by_class": [_model.PROFILE_PRIOR] * 2})
    base = plain.complete(rows, 4, seed_sequence(2, "s")).categorical["sector"]
    lost = frame["sector"].isna().to_numpy()
    np.testing.assert_array_equal(ours[:, ~lost], base[:, ~lost])
    assert model.profile_smoothing["by_class"] != [_model.PROFILE_PRIOR] * 2
    assert (ours[:, lost] != base[:, lost]).any()
