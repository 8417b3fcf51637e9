"""Domain differences of the main job (``compare=``): each domain's share in forced labour,
trafficked and not trafficked minus the reference domain's, in percentage points, with the
design-based SE of the difference (the covariance of the two shares from the same design),
a t interval, a p-value, and the reliability and disclosure verdicts of the two shares it
compares.

The estimation side gives, per margin, the tidy share estimates in the order of their
covariance matrix; :func:`pair_differences` turns them into differences (one per completion
under multiple imputation, combined by Rubin's rules in :mod:`flestimate.report._combined`);
:func:`finish` adds the interval and p-value; :func:`protect_differences` the verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from flestimate._format import label_text
from flestimate.errors import ArgumentError, ArgumentTypeError, format_values
from flestimate.report._common import t_quantile

__all__ = ["COMPARED", "DIFFERENCES", "compared_margins", "finish", "pair_differences",
           "protect_differences"]

#: The classes whose shares are compared between domains.
COMPARED = ("forced_labour", "trafficked", "forced_labour_not_trafficked")
#: The name of the differences table in the tidy frame.
DIFFERENCES = "differences"


def compared_margins(compare: Any, margins: Sequence[tuple[str, ...]],
                     func: str = "estimate_prevalence") -> dict[str, str | None]:
    """``compare`` as ``{margin column: reference domain (its label) or None (the first
    domain)}``. ``True``: every margin of one column; ``"sex"``, ``"sex,region"`` or a list;
    ``"sex=female"`` or ``{"sex": "female"}`` with the reference."""
    if compare is None or compare is False:
        return {}
    singles = [m[0] for m in margins if len(m) == 1]
    if compare is True:
        return dict.fromkeys(singles)
    items: dict[str, str | None] = {}
    if isinstance(compare, str):
        compare = [c for c in compare.split(",") if c.strip()]
    if isinstance(compare, Mapping):
        items = {str(k): None if v is None else label_text(v) for k, v in compare.items()}
    elif isinstance(compare, list | tuple) and all(isinstance(c, str) for c in compare):
        for c in compare:
            name, _, ref = c.partition("=")
            items[name.strip()] = ref.strip() or None
    else:
        raise ArgumentTypeError(f"`compare` of `{func}()` must be True, a margin name, names "
                                f"separated by commas ('sex,region', 'sex=female' with the "
                                f"reference) or a mapping of margins to references; got "
                                f"{compare!r}")
    wrong = [c for c in items if c not in singles]
    if wrong:
        have = format_values(singles) if singles else "none: give `by` first"
        raise ArgumentError(f"`compare` of `{func}()`: {format_values(wrong)} is not a margin "
                            f"of one column of `by` ({have})")
    return items


def pair_differences(t: pd.DataFrame, vcov: np.ndarray, col: str, reference: str | None,
                     group: list[str], func: str = "estimate_prevalence") -> pd.DataFrame:
    """Every domain's estimate minus the reference domain's of the same ``group`` (the
    indicator, and the completion under imputation): estimate, variance ``V_ii + V_rr -
    2 V_ir`` and df (the smaller of the two). ``t`` holds the estimates in the order of
    ``vcov``; ``reference`` is a domain label (None: the first domain)."""
    labels = t[col].map(label_text)
    domains = list(dict.fromkeys(labels[t[col].notna()]))
    ref = domains[0] if reference is None and domains else reference
    if ref not in domains:
        raise ArgumentError(f"`compare` of `{func}()`: {reference!r} is not a domain of "
                            f"{col!r} ({format_values(domains)})")
    pos = pd.Series(np.arange(len(t)), index=t.index)
    is_ref = (labels == ref).to_numpy()
    base = t.loc[is_ref, group].assign(_r=pos[is_ref].to_numpy())
    others = t.loc[~is_ref & t[col].notna().to_numpy(), [col, *group]].assign(
        _i=pos[~is_ref & t[col].notna().to_numpy()].to_numpy())
    pairs = others.merge(base, on=group, how="inner")
    i, r = pairs["_i"].to_numpy(), pairs["_r"].to_numpy()
    est, df = t["estimate"].to_numpy(float), t["df"].to_numpy(float)
    var = vcov[i, i] + vcov[r, r] - 2 * vcov[i, r]
    out: pd.DataFrame = pairs.drop(columns=["_i", "_r"]).assign(
        estimate=est[i] - est[r], variance=np.maximum(var, 0.0), df=np.minimum(df[i], df[r]),
        reference=ref)
    return out


def finish(d: pd.DataFrame, level: float) -> pd.DataFrame:
    """Differences with ``estimate``, ``variance`` and ``df``: their SE, t interval and
    two-sided p-value."""
    from scipy import stats

    se = np.sqrt(d["variance"].to_numpy(float))
    est, df = d["estimate"].to_numpy(float), d["df"].to_numpy(float)
    q = t_quantile(level, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2 * stats.t.sf(np.abs(est / se), np.where(df > 0, df, np.nan)),
                     np.nan)
    out: pd.DataFrame = d.drop(columns="variance").assign(
        se=se, ci_low=est - q * se, ci_high=est + q * se, p_value=p)
    return out


def protect_differences(d: pd.DataFrame, shares: pd.DataFrame, col: str) -> pd.DataFrame:
    """The reliability and disclosure verdicts of each difference from those of the two
    shares it compares (``shares``: the margin's published share rows): confidential when
    either is (the difference and the published one would give the other away), suppressed
    when either is suppressed, flagged when either is flagged; a hidden difference is
    blanked."""
    key = shares.assign(_d=shares[col].map(label_text))[
        ["_d", "indicator", "reliability", "reliability_reason", "disclosure"]]
    own = d.assign(_d=d[col].map(label_text)).merge(key, on=["_d", "indicator"], how="left")
    ref = d[["reference", "indicator"]].rename(columns={"reference": "_d"}).merge(
        key, on=["_d", "indicator"], how="left")
    secret = own["disclosure"].isin(["primary", "secondary"]).to_numpy() | \
        ref["disclosure"].isin(["primary", "secondary"]).to_numpy()
    rel = np.select(
        [(own["reliability"] == "suppress").to_numpy() | (ref["reliability"] == "suppress")
         .to_numpy(), (own["reliability"] == "flag").to_numpy()
         | (ref["reliability"] == "flag").to_numpy()], ["suppress", "flag"], "publish")
    which = np.where((own["reliability"] != "publish").to_numpy(), own["_d"],
                     d["reference"].to_numpy())
    reason = np.where(rel == "publish", "",
                      [f"the share of {w} is {'suppressed' if r == 'suppress' else 'flagged'}"
                       for w, r in zip(which, rel, strict=True)])
    out = d.assign(reliability=rel, reliability_reason=reason,
                   disclosure=np.where(secret, "secondary", "publish"),
                   disclosure_reason=np.where(secret, "compares a confidential share", ""))
    for c in ("estimate", "se", "ci_low", "ci_high", "p_value"):
        out[c] = np.where(secret, np.nan, out[c].to_numpy(float))
    protected: pd.DataFrame = out
    return protected
