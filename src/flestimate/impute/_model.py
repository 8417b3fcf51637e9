"""The imputation model: a latent class model of the module's answers, with class shares that
depend on covariates, fitted by EM on the distinct answer patterns and redrawn per imputation by
the Bayesian bootstrap.

Every array here carries a leading axis ``b`` over parameter sets (one for the fit, ``M`` for
the imputations), so the ``M`` bootstrap refits and all draws run as batched array operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flestimate.errors import EstimationError

__all__ = ["LatentClassFit", "Patterns", "collapse", "draw_classes", "fit"]

#: Prior count (pseudo-respondents) of every class's item probabilities, spread as the item's
#: answers among all respondents: a class with few answers to an item (a perpetrator asked only
#: after a penalty) borrows the overall distribution, not a uniform one, and no probability is
#: 0 or 1.
ITEM_PRIOR = 1.0
#: Prior count of a profile's item probabilities, centred on its class's: a profile (a sector)
#: without answers to an item has its class's probability, one with answers mostly its own,
#: and none is 0 or 1. A tenth of a respondent: the commercial-sex profile of the exploited
#: class has two to five respondents in a survey, and one pseudo-respondent pulled their
#: deception about the work a fifth to a third of the way to the labour sectors', so that
#: the sex workers whose recruitment answers are all missing were completed as trafficked a
#: quarter too rarely in the Georgia style. The sector draw, which a small profile's noise
#: misleads, pools the profiles by its own prior (``_smoothing``; docs/missing.md).
PROFILE_PRIOR = 0.1
#: Prior count of a categorical item's level probabilities in a group of the categorical
#: covariates (the report gives sex), centred on its class's: the sector of a man and of a woman
#: differ within a class, and a small group keeps its class's distribution.
CATEGORY_PRIOR = 2.0
#: Ridge penalty (a N(0, 1 / RIDGE) prior) on the class-share log-odds effects of the
#: covariates, so that a covariate level without a case of a class has a finite effect.
RIDGE = 1.0


@dataclass(frozen=True)
class Patterns:
    """The distinct rows of the model's data with their counts.

    Attributes
    ----------
    yes, no : ndarray of float, shape (U, J)
        1 where the binary item is observed yes / no (both 0 where it is missing).
    levels : list of ndarray of int, each shape (U,)
        The level of each categorical item, -1 where missing.
    n_levels : tuple of int
    group : ndarray of int, shape (U,)
        The covariate group of each pattern.
    active : ndarray of int, shape (G, q + 1)
        The columns of the covariate design matrix that are 1 in each group (treatment coding:
        the intercept, column 0, and one column per non-reference level of each covariate; a
        reference level points at the intercept with weight 0 in ``active_on``).
    active_on : ndarray of float, shape (G, q + 1)
        1 where the active column is real, 0 where it stands in for a reference level.
    n_columns : int
        Columns of the design matrix, p.
    count : ndarray, shape (U,)
        Respondents with the pattern.
    prior_yes : ndarray, shape (J,)
        Prior mean of every binary item (its share of yes among the respondents, smoothed).
    prior_levels : list of ndarray
        Prior distribution of every categorical item (its distribution among the respondents,
        smoothed).
    inverse : ndarray of int, shape (n,)
        The pattern of every respondent.
    profile : ndarray of int, shape (U,)
        The item profile of each pattern (its level of the profile variable, a sector; all 0
        without one).
    n_profiles : int
    cat_group : ndarray of int, shape (U,)
        The group of the categorical covariates of each pattern (all 0 without them): the
        categorical items' level probabilities differ by group within a class.
    n_cat_groups : int
    level_index : list of sparse matrix, each shape (n_cat_groups L, U)
        1 at (group x L + level, pattern) where the categorical item is observed: the expected
        level counts of every group and class in one product.
    """

    yes: np.ndarray
    no: np.ndarray
    levels: list[np.ndarray]
    n_levels: tuple[int, ...]
    group: np.ndarray
    active: np.ndarray
    active_on: np.ndarray
    n_columns: int
    count: np.ndarray
    inverse: np.ndarray
    prior_yes: np.ndarray
    prior_levels: list[np.ndarray]
    profile: np.ndarray
    n_profiles: int
    cat_group: np.ndarray
    n_cat_groups: int
    level_index: list[Any]
    yes_by_profile: Any = None  # sparse (H J, U): yes of item j in rows h J + j of profile h
    no_by_profile: Any = None


def collapse(binary: np.ndarray, categorical: list[np.ndarray], n_levels: tuple[int, ...],
             covariates: np.ndarray, n_covariate_levels: tuple[int, ...],
             profile: np.ndarray | None = None,
             cat_covariates: np.ndarray | None = None) -> Patterns:
    """Distinct (answers, covariate group, profile) rows of ``n`` respondents.

    ``binary`` (n, J) holds 1 / 0 / NaN; ``categorical`` level codes (-1 missing);
    ``covariates`` (n, q) level codes 0..L-1 (missing coded as a level of its own);
    ``profile`` (n,) codes 0..H-1 of the item profiles (missing a level of its own);
    ``cat_covariates`` (n, q') codes of the covariates of the categorical items.
    """
    n, j = binary.shape
    prof = np.zeros(n, dtype=np.int64) if profile is None else np.asarray(profile, np.int64)
    cat_cov = (np.zeros((n, 0), dtype=np.int64) if cat_covariates is None
               else np.asarray(cat_covariates, dtype=np.int64).reshape(n, -1))
    code = np.where(np.isnan(binary), 2, binary).astype(np.int8)
    parts = [code, *(c.reshape(-1, 1) for c in categorical), prof.reshape(-1, 1), covariates,
             cat_cov]
    key = np.concatenate([np.asarray(p, dtype=np.int64).reshape(n, -1) for p in parts], axis=1)
    if n == 0:
        raise EstimationError("the imputation model has no respondent to learn from")
    first, inverse, count = unique_rows(key)
    uniq = key[first]
    cov = covariates[first].reshape(len(first), -1)
    groups, group = np.unique(cov, axis=0, return_inverse=True)
    active, active_on, n_columns = _design(groups, n_covariate_levels)
    u = uniq[:, :j]
    yes, no = (u == 1).astype(np.float64), (u == 0).astype(np.float64)
    levels = [uniq[:, j + i].astype(np.int64) for i in range(len(categorical))]
    pattern_profile = uniq[:, j + len(categorical)].astype(np.int64)
    c = count.astype(np.float64)
    prior_yes = (c @ yes + 0.5) / (c @ (yes + no) + 1.0)
    prior_levels = []
    for lev, n_lev in zip(levels, n_levels, strict=True):
        freq = np.bincount(lev[lev >= 0], weights=c[lev >= 0], minlength=n_lev) + 0.5
        prior_levels.append(freq / freq.sum())
    n_profiles = int(prof.max()) + 1 if n else 1
    _, cat_group = np.unique(cat_cov[first], axis=0, return_inverse=True)
    cat_group = cat_group.reshape(-1).astype(np.int64)
    n_cat = int(cat_group.max()) + 1 if cat_cov.shape[1] else 1
    from scipy import sparse

    level_index = []
    for lev, n_lev in zip(levels, n_levels, strict=True):
        seen = np.flatnonzero(lev >= 0)
        level_index.append(sparse.csr_matrix(
            (np.ones(seen.size), (cat_group[seen] * n_lev + lev[seen], seen)),
            shape=(n_cat * n_lev, len(uniq))))
    by_profile: list[Any] = [None, None]
    if n_profiles > 1:
        for i, values in enumerate((yes, no)):
            uu, jj = np.nonzero(values)
            by_profile[i] = sparse.csr_matrix(
                (values[uu, jj], (pattern_profile[uu] * j + jj, uu)),
                shape=(n_profiles * j, len(uniq)))
    return Patterns(
        yes=yes, no=no, levels=levels, n_levels=tuple(n_levels),
        group=group.reshape(-1).astype(np.int64), active=active, active_on=active_on,
        n_columns=n_columns, count=c, inverse=inverse.astype(np.int64), prior_yes=prior_yes,
        prior_levels=prior_levels, profile=pattern_profile, n_profiles=n_profiles,
        yes_by_profile=by_profile[0], no_by_profile=by_profile[1], cat_group=cat_group,
        n_cat_groups=n_cat, level_index=level_index)


def unique_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(key, axis=0)``'s first occurrences, inverse and counts (rows in the same,
    lexicographic, order), by ranking a few columns at a time as one integer: 1-D sorts of
    ``n`` integers instead of a sort of ``n`` rows compared column by column."""
    n, q = key.shape
    if n == 0 or q == 0:
        return (np.zeros(min(n, 1), dtype=np.int64), np.zeros(n, dtype=np.int64),
                np.full(min(n, 1), n, dtype=np.int64))
    shifted = key - key.min(axis=0)
    span = [int(v) + 1 for v in shifted.max(axis=0)]
    rank = np.zeros(n, dtype=np.int64)
    size, j = 1, 0
    while j < q:
        combined = rank
        # the prefix's rank times the next columns' ranges keeps the lexicographic order; one
        # column always fits (size <= n, a span <= n)
        while j < q and size * span[j] < 1 << 62:
            combined = combined * span[j] + shifted[:, j]
            size *= span[j]
            j += 1
        _, first, inverse, count = np.unique(combined, return_index=True, return_inverse=True,
                                             return_counts=True)
        rank = inverse.reshape(-1).astype(np.int64)
        size = int(count.size)
    return first.astype(np.int64), rank, count.astype(np.int64)


def _design(groups: np.ndarray, n_levels: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray,
                                                                    int]:
    """The treatment-coded design matrix (intercept, then the non-reference levels of each
    covariate), kept sparse: the active columns of every group row."""
    offsets = np.concatenate([[1], 1 + np.cumsum([n - 1 for n in n_levels])])
    cols = [np.zeros(len(groups), dtype=np.int64)]
    on = [np.ones(len(groups))]
    for i in range(len(n_levels)):
        level = groups[:, i].astype(np.int64)
        cols.append(np.where(level > 0, offsets[i] + level - 1, 0))
        on.append((level > 0).astype(np.float64))
    return np.column_stack(cols), np.column_stack(on), int(offsets[-1])


@dataclass(frozen=True)
class LatentClassFit:
    """Parameters of ``b`` latent class models (``b = 1`` for the fit itself).

    Attributes
    ----------
    beta : ndarray, shape (b, p, K)
        Class-share log-odds of every covariate column (class 0 the reference, all zero).
    theta : ndarray, shape (b, J, K)
        Probability that each binary item is yes in each class.
    theta_profile : ndarray, shape (b, H, J, K)
        The same in each item profile (shrunk towards ``theta`` by ``PROFILE_PRIOR``); with a
        single profile, ``theta`` itself.
    phi : list of ndarray, each shape (b, L, K)
        Level probabilities of each categorical item in each class.
    phi_group : list of ndarray, each shape (b, G', L, K)
        The same in each group of the categorical covariates (shrunk towards ``phi`` by
        ``CATEGORY_PRIOR``); without categorical covariates, ``phi`` itself (G' = 1).
    loglik : ndarray, shape (b,)
    iterations : int
    converged : bool
    """

    beta: np.ndarray
    theta: np.ndarray
    theta_profile: np.ndarray
    phi: list[np.ndarray]
    phi_group: list[np.ndarray]
    loglik: np.ndarray
    iterations: int
    converged: bool
    #: Each profile's expected yes and answered counts of every item in every class, both
    #: shape (b, H, J, K), from which any smoothing of the profiles is recomputed; None with a
    #: single profile.
    profile_counts: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def classes(self) -> int:
        return int(self.theta.shape[2])

    def smoothed_profiles(self, prior: float | np.ndarray) -> np.ndarray:
        """The profiles' item probabilities (b, H, J, K) shrunk towards their class's by
        ``prior`` pseudo-respondents instead of ``PROFILE_PRIOR`` (one for every class, or
        one per class, shape (K,))."""
        if self.profile_counts is None:
            return self.theta_profile
        yes, answered = self.profile_counts
        return np.asarray((yes + prior * self.theta[:, None]) / (answered + prior))


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """log(sum(exp(x))) along ``axis`` (kept), stable; scipy's is slower for a few classes."""
    top = x.max(axis=axis, keepdims=True)
    return np.asarray(top + np.log(np.exp(x - top).sum(axis=axis, keepdims=True)))


def _item_loglik(yes: np.ndarray, no: np.ndarray, levels: list[np.ndarray],
                 theta_profile: np.ndarray, phi_group: list[np.ndarray], profile: np.ndarray,
                 cat_group: np.ndarray) -> np.ndarray:
    """log P(observed answers | class), shape (b, rows, K), each row with its profile's item
    probabilities and its group's level probabilities."""
    if theta_profile.shape[1] == 1:
        theta = theta_profile[:, 0]
        out = yes @ np.log(theta) + no @ np.log1p(-theta)  # (b, rows, K) by broadcasting
    else:
        out = np.zeros((theta_profile.shape[0], yes.shape[0], theta_profile.shape[3]))
        for h in np.unique(profile).tolist():  # a few profiles (sectors), each a product
            rows = profile == h
            theta = theta_profile[:, h]
            out[:, rows] = yes[rows] @ np.log(theta) + no[rows] @ np.log1p(-theta)
    for lev, p in zip(levels, phi_group, strict=True):
        observed = lev >= 0
        take = np.log(p)[:, cat_group, np.where(observed, lev, 0), :]  # (b, rows, K)
        out = out + np.where(observed[None, :, None], take, 0.0)
    return np.asarray(out)


def _log_shares(pat: Patterns, beta: np.ndarray) -> np.ndarray:
    """log class shares of every covariate group, shape (b, G, K)."""
    eta = (beta[:, pat.active, :] * pat.active_on[None, :, :, None]).sum(axis=2)
    return np.asarray(eta - _logsumexp(eta, axis=2))


def _posterior(pat: Patterns, fit_beta: np.ndarray, theta_profile: np.ndarray,
               phi_group: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Class posteriors of every pattern (b, U, K) and the log-likelihood of each pattern."""
    joint = _log_shares(pat, fit_beta)[:, pat.group, :] + _item_loglik(
        pat.yes, pat.no, pat.levels, theta_profile, phi_group, pat.profile, pat.cat_group)
    norm = _logsumexp(joint, axis=2)
    return np.exp(joint - norm), norm[..., 0]


_Items = tuple[np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray],
               tuple[np.ndarray, np.ndarray] | None]


def _m_step_items(pat: Patterns, weight: np.ndarray, post: np.ndarray) -> _Items:
    """Item probabilities from the expected counts (with the prior counts): each class's, then
    each profile's shrunk towards its class's (with the profiles' expected counts); the
    categorical items' level probabilities of each class, then of each group of the categorical
    covariates shrunk towards its class's."""
    wr = weight[:, :, None] * post  # (b, U, K)
    b, u, k = wr.shape
    flat = wr.transpose(1, 0, 2).reshape(u, b * k)
    yes = pat.yes.T @ wr  # (J, U) @ (b, U, K) -> (b, J, K)
    no = pat.no.T @ wr
    theta = (yes + ITEM_PRIOR * pat.prior_yes[:, None]) / (yes + no + ITEM_PRIOR)
    profile_counts = None
    if pat.n_profiles == 1:
        theta_profile = theta[:, None]
    else:
        shape = (pat.n_profiles, pat.yes.shape[1], b, k)
        # every profile's expected counts in one sparse product: (H J, U) @ (U, b K)
        yes_h = np.asarray(pat.yes_by_profile @ flat).reshape(shape).transpose(2, 0, 1, 3)
        no_h = np.asarray(pat.no_by_profile @ flat).reshape(shape).transpose(2, 0, 1, 3)
        theta_profile = ((yes_h + PROFILE_PRIOR * theta[:, None])
                         / (yes_h + no_h + PROFILE_PRIOR))
        profile_counts = (yes_h, yes_h + no_h)
    phi, phi_group = [], []
    for index, n_lev, prior in zip(pat.level_index, pat.n_levels, pat.prior_levels,
                                   strict=True):
        # expected counts of every (group, level) and class in one sparse product
        by_group = np.asarray(index @ flat).reshape(-1, n_lev, b, k).transpose(2, 0, 1, 3)
        counts = by_group.sum(axis=1) + ITEM_PRIOR * prior[:, None]  # (b, L, K)
        phi.append(counts / counts.sum(axis=1, keepdims=True))
        if by_group.shape[1] == 1:
            phi_group.append(phi[-1][:, None])
        else:
            shrunk = by_group + CATEGORY_PRIOR * phi[-1][:, None]
            phi_group.append(shrunk / shrunk.sum(axis=2, keepdims=True))
    return theta, theta_profile, phi, phi_group, profile_counts


def _m_step_shares(pat: Patterns, weight: np.ndarray, post: np.ndarray,
                   beta: np.ndarray) -> np.ndarray:
    """One Newton step of the ridge-penalised multinomial logit of the class posteriors on the
    covariates (group-level sufficient statistics), for every parameter set at once."""
    b, p, k = beta.shape
    n_groups, width = pat.active.shape
    free = k - 1
    resp = np.zeros((b, n_groups, k))
    np.add.at(resp, (slice(None), pat.group), weight[:, :, None] * post)  # type: ignore[arg-type]
    total = resp.sum(axis=2)  # (b, G)
    pi = np.exp(_log_shares(pat, beta))  # (b, G, K)
    on = pat.active_on  # (G, width)
    # gradient X'(R - n pi) over the free classes: sums over the active columns of each group
    resid = (resp - total[:, :, None] * pi)[:, :, 1:]  # (b, G, free)
    bb = np.arange(b)[:, None, None, None]
    kk = np.arange(free)[None, None, None, :]
    flat = (bb * p + pat.active[None, :, :, None]) * free + kk  # (b, G, width, free)
    vals = resid[:, :, None, :] * on[None, :, :, None]
    grad = np.bincount(np.broadcast_to(flat, vals.shape).ravel(), vals.ravel(),
                       minlength=b * p * free).reshape(b, p, free)
    penalty = np.full(p, RIDGE)
    penalty[0] = 1e-8  # the intercept is (nearly) free
    grad = grad - penalty[None, :, None] * beta[:, :, 1:]
    # Hessian sum_g n_g x_g x_g' (diag(pi) - pi pi') over the free classes (the negative
    # Hessian), summed over the pairs of active columns of each group
    pf = pi[:, :, 1:]
    cov = (pf[:, :, :, None] * np.eye(free)[None, None]
           - pf[:, :, :, None] * pf[:, :, None, :]) * total[:, :, None, None]  # (b, G, f, f)
    row = pat.active[None, :, :, None, None, None]
    col = pat.active[None, :, None, :, None, None]
    k1 = np.arange(free)[None, None, None, None, :, None]
    k2 = np.arange(free)[None, None, None, None, None, :]
    b6 = np.arange(b)[:, None, None, None, None, None]
    size = p * free
    flat = ((b6 * size + row * free + k1) * size) + col * free + k2  # (b, G, w, w, f, f)
    vals = (on[:, :, None] * on[:, None, :])[None, :, :, :, None, None] * cov[:, :, None, None]
    hess = np.bincount(np.broadcast_to(flat, vals.shape).ravel(), vals.ravel(),
                       minlength=b * size * size).reshape(b, size, size)
    hess = hess + np.diag(np.repeat(penalty, free))[None]
    step = np.linalg.solve(hess, grad.reshape(b, p * free, 1)).reshape(b, p, free)
    out = np.array(beta, copy=True)
    out[:, :, 1:] += step
    return out


def _initial(pat: Patterns, classes: int, b: int) -> np.ndarray:
    """Deterministic starting posteriors: respondents ranked by their share of yes answers,
    the most affirmative in the last class."""
    observed = pat.yes.sum(axis=1) + pat.no.sum(axis=1)
    yes = pat.yes.sum(axis=1)
    score = np.where(observed > 0, yes / np.maximum(observed, 1), 0.0) + 0.01 * yes
    order = np.argsort(np.argsort(score, kind="stable"), kind="stable")
    cum = np.cumsum(pat.count[np.argsort(score, kind="stable")])[order] / pat.count.sum()
    # the top 10% (split evenly among the upper classes) against the rest
    cut = np.linspace(0.9, 1.0, classes)[:-1] if classes > 1 else np.array([])
    cls = np.searchsorted(cut, cum, side="right")
    post = np.full((len(score), classes), 0.2 / max(classes - 1, 1))
    post[np.arange(len(score)), cls] = 0.8
    return np.array(np.broadcast_to(post, (b, *post.shape)))


def fit(pat: Patterns, classes: int, *, weight: np.ndarray | None = None,
        start: LatentClassFit | None = None, max_iter: int = 1000,
        tol: float = 1e-8) -> LatentClassFit:
    """EM for ``b`` latent class models at once.

    Parameters
    ----------
    pat : Patterns
    classes : int
        Number of latent classes K.
    weight : array, shape (b, U), optional
        Pattern weights per parameter set (the pattern counts by default: ``b = 1``).
    start : LatentClassFit, optional
        Starting values (its first parameter set for every ``b``): the fit warm-starts the
        bootstrap refits.
    max_iter, tol
        Stop when every parameter set's log-likelihood gains less than ``tol`` relative.

    Notes
    -----
    E-step: ``r_uk = pi_k(x_u) P(y_u | k, h_u) / sum_l pi_l(x_u) P(y_u | l, h_u)`` over the
    observed items only (missing at random given the covariates and the profile). M-step:
    ``theta_jk = (sum_u w_u r_uk y_uj + a pbar_j) / (sum_u w_u r_uk o_uj + a)`` with ``pbar_j``
    the item's overall share of yes and ``a = ITEM_PRIOR`` (the same for categorical items);
    ``theta_jkh`` the same over the patterns of profile ``h`` with prior ``c theta_jk``,
    ``c = PROFILE_PRIOR``; and one Newton step for the class-share logit.
    """
    w = pat.count[None, :] if weight is None else np.asarray(weight, dtype=np.float64)
    b = w.shape[0]
    p = pat.n_columns
    if start is None:
        post = _initial(pat, classes, b)
        beta = np.zeros((b, p, classes))
        theta, theta_profile, phi, phi_group, counts = _m_step_items(pat, w, post)
        for _ in range(5):
            beta = _m_step_shares(pat, w, post, beta)
    else:
        beta = np.repeat(start.beta[:1], b, axis=0)
        theta = np.repeat(start.theta[:1], b, axis=0)
        theta_profile = np.repeat(start.theta_profile[:1], b, axis=0)
        phi = [np.repeat(f[:1], b, axis=0) for f in start.phi]
        phi_group = [np.repeat(f[:1], b, axis=0) for f in start.phi_group]
        counts = None
    last = np.full(b, -np.inf)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - EM iterations, each batched over all
        post, ll = _posterior(pat, beta, theta_profile, phi_group)
        loglik = (w * ll).sum(axis=1)
        theta, theta_profile, phi, phi_group, counts = _m_step_items(pat, w, post)
        beta = _m_step_shares(pat, w, post, beta)
        gain = np.abs(loglik - last) / np.maximum(np.abs(loglik), 1.0)
        last = loglik
        if np.all(gain < tol):
            converged = True
            break
    return LatentClassFit(beta, theta, theta_profile, phi, phi_group, last, it, converged,
                          counts)


def point_posterior(pat: Patterns, fit: LatentClassFit) -> tuple[np.ndarray, np.ndarray]:
    """The class posteriors (U, K) and log-likelihoods (U,) of every pattern under the fit's
    first parameter set (the point fit)."""
    post, ll = _posterior(pat, fit.beta[:1], fit.theta_profile[:1],
                          [f[:1] for f in fit.phi_group])
    return post[0], ll[0]


def profile_bic(pat: Patterns, fit: LatentClassFit) -> dict[str, float]:
    """The point fit's log-likelihood, effective parameters of its item profiles and BIC.

    A profile's item probability in a class is ``(y + c theta) / (n + c)``: the share
    ``n / (n + c)`` of it comes from the profile's own ``n`` expected answers (the trace of
    the shrinkage, as for a ridge fit), so a profile of a handful of respondents counts for
    little and one of thousands for a whole parameter. Every other parameter is the same
    whatever the profiles, so it is left out of the count: only differences between fits of
    the same data mean anything. ``BIC = -2 loglik + log(respondents) df``.
    """
    post, ll = point_posterior(pat, fit)
    wr = pat.count[:, None] * post  # (U, K)
    if pat.n_profiles == 1:
        answered = (pat.yes + pat.no).T @ wr  # (J, K)
    else:
        answered = np.asarray((pat.yes_by_profile + pat.no_by_profile) @ wr)  # (H J, K)
    df = float((answered / (answered + PROFILE_PRIOR)).sum())
    loglik = float((pat.count * ll).sum())
    n = float(pat.count.sum())
    return {"loglik": loglik, "df": df, "bic": -2.0 * loglik + np.log(n) * df}


def bootstrap_weights(count: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Bayesian bootstrap weights of the patterns: a pattern of ``c`` respondents gets the sum
    of ``c`` independent Exp(1) weights, a Gamma(c, 1) draw (Rubin 1981), scaled to the total
    count."""
    g = rng.gamma(np.broadcast_to(count, (draws, len(count))), 1.0)
    return np.asarray(g / g.sum(axis=1, keepdims=True) * count.sum())


def draw_classes(logprior: np.ndarray, loglik: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A class per (parameter set, row) from the posterior, by inversion of ``u`` (b, rows)."""
    post = logprior + loglik
    post = np.exp(post - _logsumexp(post, axis=2))
    cdf = np.cumsum(post, axis=2)
    return np.asarray((u[..., None] > cdf).sum(axis=2).clip(max=post.shape[2] - 1))


def item_loglik(yes: np.ndarray, no: np.ndarray, levels: list[np.ndarray], fit: LatentClassFit,
                profile: np.ndarray, cat_group: np.ndarray) -> np.ndarray:
    """log P(observed answers | class) of rows (b, rows, K) under every parameter set."""
    return _item_loglik(yes, no, levels, fit.theta_profile, fit.phi_group, profile, cat_group)


def log_shares(pat: Patterns, fit: LatentClassFit) -> np.ndarray:
    """log class shares of every covariate group of ``pat`` (b, G, K)."""
    return _log_shares(pat, fit.beta)
