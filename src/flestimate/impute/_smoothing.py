"""How much the sector draw pools the item profiles: chosen by leave-one-out prediction of the
sectors that were answered.

A respondent whose sector is missing gets it drawn with its class from
``pi_k phi_gk(l) P(answers | k, h(l))`` (``ImputationModel._joint_profiles``): a naive Bayes
classifier of the sector over thirty-odd items. The item profiles the items are imputed from
are shrunk towards their class's by ``PROFILE_PRIOR`` (a tenth of a pseudo-respondent), so
that a sex worker's missing answer follows the two to five exploited sex workers a survey
holds (docs/missing.md). For classifying, so little shrinkage costs a small profile about
``n / (2 (n + c)^2)`` log-likelihood per item on which it does not really differ from its class
(0.08 for ``n = 4`` and ``c = 1``, more for a smaller ``c``): the noise of four respondents'
answers. Over thirty items, that sent the exploited women whose sector is missing to a sex
sector half as often as the generator does.

The amount of pooling of the sector's conditional model is therefore its own tuning parameter,
chosen as one chooses the smoothing of any classifier: by how well it predicts held-out cases.
Each respondent whose sector was answered is predicted from the others (its own expected
counts taken out of its profile's and of its sector's), for every prior on a grid, and the
prior with the highest leave-one-out log score is kept. As in a chained-equations imputation,
the sector's conditional model then differs from the items': each is tuned for what it
predicts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flestimate.impute import _model

__all__ = ["GRID", "choose"]

#: The candidate priors (pseudo-respondents), a factor of two apart: from a quarter of the
#: items' prior to enough that even a profile of a few hundred respondents is mostly its
#: class's.
GRID: tuple[float, ...] = tuple(2.0 ** e for e in range(-2, 9))


def choose(pat: _model.Patterns, fit: _model.LatentClassFit, level_profile: np.ndarray,
           c_prof: int, grid: tuple[float, ...] = GRID) -> dict[str, Any]:
    """The leave-one-out log score of the answered sectors for every prior on ``grid``, the
    best common prior and the best prior of each class, from the point fit (its first
    parameter set).

    ``level_profile`` gives each level of the sector (categorical item ``c_prof``) its item
    profile. Returns ``{"criterion", "grid", "scores", "chosen", "by_class",
    "by_class_score"}``: ``scores`` of the common priors, ``chosen`` the best of them, and
    ``by_class`` the priors found class by class (coordinate ascent over the grid from
    ``chosen``, twice round the classes), which the sector draw uses. A class's profiles
    differ from it in their own way: those of the exploited class (sex work against labour)
    are worth keeping apart, those of the rest hardly differ. ``chosen`` is
    ``PROFILE_PRIOR`` and there is no ``by_class`` when no sector was answered or there is a
    single profile.
    """
    record: dict[str, Any] = {"criterion": "leave-one-out log score of the answered sectors",
                              "grid": list(grid)}
    lev = pat.levels[c_prof]
    u = np.flatnonzero(lev >= 0)
    if fit.profile_counts is None or u.size == 0:
        return {**record, "scores": [], "chosen": _model.PROFILE_PRIOR}
    counts = (fit.profile_counts[0][0], fit.profile_counts[1][0])  # (H, J, K) each
    post, _ = _model.point_posterior(pat, fit)
    r = post[u]  # (n, K): the respondent's expected share of each class
    base = _base_loglik(pat, fit, u, c_prof)[:, :, None] + _loo_sector_prior(
        pat, fit, post, u, c_prof)  # (n, K, L)
    own_level = lev[u]

    def score(prior: float | np.ndarray) -> float:
        return _score(pat, fit.theta[0], counts, level_profile, u, r, base, own_level, prior)

    # loops over the dozen candidate priors and the few classes, each score a vectorised pass
    # over the respondents
    scores = [score(c) for c in grid]
    best = int(np.argmax(scores))
    by_class = np.full(r.shape[1], float(grid[best]))
    for _ in range(2):  # coordinate ascent, class by class, from the common best
        for k in range(by_class.size):
            trial = [score(np.where(np.arange(by_class.size) == k, c, by_class)) for c in grid]
            by_class[k] = float(grid[int(np.argmax(trial))])
    return {**record, "scores": scores, "chosen": float(grid[best]),
            "by_class": by_class.tolist(), "by_class_score": score(by_class)}


def _base_loglik(pat: _model.Patterns, fit: _model.LatentClassFit, u: np.ndarray,
                 c_prof: int) -> np.ndarray:
    """log class share plus the log-likelihood of the other categorical items (not the
    sector's), the same for every sector: (n, K)."""
    out = _model.log_shares(pat, fit)[0][pat.group[u]]
    g = pat.cat_group[u]
    for c, (lev, phi) in enumerate(zip(pat.levels, fit.phi_group, strict=True)):
        if c == c_prof:
            continue
        observed = lev[u] >= 0
        take = np.log(phi[0])[g, np.where(observed, lev[u], 0), :]  # (n, K)
        out = out + np.where(observed[:, None], take, 0.0)
    return np.asarray(out)


def _loo_sector_prior(pat: _model.Patterns, fit: _model.LatentClassFit, post: np.ndarray,
                      u: np.ndarray, c_prof: int) -> np.ndarray:
    """log ``phi_gk(l)`` of every sector ``l`` with the respondent's own expected count taken
    out of its sector's (``post`` the patterns' class posteriors, (U, K)): (n, K, L)."""
    n_lev = pat.n_levels[c_prof]
    wr = pat.count[:, None] * post
    by_group = np.asarray(pat.level_index[c_prof] @ wr).reshape(-1, n_lev, post.shape[1])
    phi = fit.phi[c_prof][0]  # (L, K)
    if fit.phi_group[c_prof].shape[1] > 1:
        counts = by_group + _model.CATEGORY_PRIOR * phi[None]
    else:
        counts = (by_group.sum(axis=0) + _model.ITEM_PRIOR * pat.prior_levels[c_prof][:, None]
                  )[None]
    own = counts[pat.cat_group[u]]  # (n, L, K); a copy (fancy indexing)
    own[np.arange(u.size), pat.levels[c_prof][u]] -= post[u]
    own = np.maximum(own, 1e-300)
    return np.asarray(np.log(own / own.sum(axis=1, keepdims=True)).transpose(0, 2, 1))


def _score(pat: _model.Patterns, theta: np.ndarray, counts: tuple[np.ndarray, np.ndarray],
           level_profile: np.ndarray, u: np.ndarray, r: np.ndarray, base: np.ndarray,
           own_level: np.ndarray, prior: float | np.ndarray) -> float:
    """Sum over the answered respondents ``u`` of log P(own sector | answers), with the
    profiles' expected ``counts`` (yes, answered; (H, J, K)) shrunk towards the classes' item
    probabilities ``theta`` (J, K) by ``prior`` and the respondent's own expected counts
    (``r``, (n, K)) out of its profile's; ``base`` (n, K, L) holds the rest of the joint."""
    yes_h, answered_h = counts
    y, o = pat.yes[u], pat.no[u]
    smoothed = (yes_h + prior * theta[None]) / (answered_h + prior)
    h, j, k = smoothed.shape
    # two matrix products (n, J) @ (J, H K), far faster than the equivalent einsum
    ll = (y @ np.log(smoothed).transpose(1, 0, 2).reshape(j, h * k)
          + o @ np.log1p(-smoothed).transpose(1, 0, 2).reshape(j, h * k)
          ).reshape(-1, h, k).transpose(0, 2, 1)  # (n, K, H)
    h_u = pat.profile[u]
    own_yes = np.maximum(yes_h[h_u] - r[:, None, :] * y[:, :, None], 0.0)  # (n, J, K)
    own_answered = np.maximum(answered_h[h_u] - r[:, None, :] * (y + o)[:, :, None], own_yes)
    loo = (own_yes + prior * theta[None]) / (own_answered + prior)
    own_ll = (y[:, :, None] * np.log(loo) + o[:, :, None] * np.log1p(-loo)).sum(axis=1)
    ll = np.where((np.arange(ll.shape[2])[None, :] == h_u[:, None])[:, None, :],
                  own_ll[:, :, None], ll)[:, :, level_profile]  # (n, K, L)
    joint = base + ll
    n, k, n_lev = joint.shape
    norm = _model._logsumexp(joint.reshape(n, k * n_lev), axis=1)[:, 0]
    mine = _model._logsumexp(joint[np.arange(n), :, own_level], axis=1)[:, 0]  # (n,)
    return float((pat.count[u] * (mine - norm)).sum())
