"""Statistical disclosure control of the published tables: the threshold rule with
complementary suppression.

A published cell (a class's share and number in a domain, or a form's share of a domain's
trafficked or forced labour) reveals the respondents behind it when there are fewer than a
threshold of them. The threshold rule (tau-ARGUS's "minimum frequency", sdcMicro's
``minimum number of contributors``) suppresses such a cell (*primary* suppression), and every
cell of a domain with fewer respondents than the threshold. A suppressed cell must not be
recoverable from what is still published: the tables hold exact linear relations (forced
labour = trafficked + not trafficked; a domain's forced labour + undetermined + not in forced
labour = its population, known from any of its published shares and numbers; the domains of a
margin add up to the national figure and to the figures of coarser margins; the forms add up
to their total), so further cells are suppressed (*secondary* or complementary suppression)
until no suppressed cell is determined by the published ones: a suppressed cell is recoverable
exactly when the null space of the relations restricted to the suppressed cells has a zero
component for it.

The rule is applied after the reliability rules and blanks every value of a suppressed cell
(estimate, standard error, interval, bounds, minimum, number of cases, design effect, effective
n), so that no output, table, plot or file derived from the tidy estimates can show it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError

__all__ = ["DISCLOSURE_RULES", "DisclosureRules", "load_disclosure", "protect"]

#: ``disclosure=`` choices.
DISCLOSURE_RULES = ("threshold", "none")
#: Default minimum number of unweighted respondents behind a published cell.
DEFAULT_THRESHOLD = 3

#: Values of a tidy row that describe the cell, blanked when it is suppressed.
BLANKED = ("estimate", "se", "ci_low", "ci_high", "cv", "deff", "n_cases", "n_eff",
           "bound_low", "bound_high", "bound_ci_low", "bound_ci_high", "minimum", "fmi")


@dataclass(frozen=True)
class DisclosureRules:
    """A disclosure rule set: ``rule`` (``"threshold"`` or ``"none"``) and ``threshold``, the
    minimum number of unweighted respondents behind a published cell."""

    rule: str = "threshold"
    threshold: int = DEFAULT_THRESHOLD

    def describe(self) -> str:
        """One line, as printed under every table."""
        if self.rule == "none":
            return ("disclosure control: none (internal use: cells of fewer than "
                    f"{self.threshold} respondents are shown)")
        return (f"disclosure control: threshold rule, no cell of fewer than {self.threshold} "
                f"respondents (blank, with complementary suppression)")

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "threshold": self.threshold, "description": self.describe()}


def load_disclosure(disclosure: Any = "threshold", threshold: Any = None, *,
                    where: str = "`disclosure` of `estimate_prevalence()`") -> DisclosureRules:
    """The rule set from ``disclosure`` (a name, a mapping ``{rule, threshold}`` or a
    :class:`DisclosureRules`) and an optional ``threshold``."""
    if isinstance(disclosure, DisclosureRules):
        rules = disclosure
    elif isinstance(disclosure, Mapping):
        unknown = sorted(set(map(str, disclosure)) - {"rule", "threshold"})
        if unknown:
            raise ArgumentError(f"{where}: unknown key(s) {unknown}; expected 'rule' and "
                                f"'threshold'")
        rules = load_disclosure(disclosure.get("rule", "threshold"),
                                disclosure.get("threshold"), where=where)
    elif isinstance(disclosure, str) and disclosure in DISCLOSURE_RULES:
        rules = DisclosureRules(disclosure)
    else:
        raise ArgumentError(f"{where} must be one of {', '.join(map(repr, DISCLOSURE_RULES))}; "
                            f"got {disclosure!r}")
    if threshold is None:
        return rules
    if (isinstance(threshold, bool) or not isinstance(threshold, int | np.integer)
            or threshold < 1):
        raise ArgumentError(f"{where}: the threshold must be a positive integer (respondents); "
                            f"got {threshold!r}")
    return DisclosureRules(rules.rule, int(threshold))


@dataclass(frozen=True)
class _Cells:
    """The distinct cells of a tidy table: ``code`` of every row, and per cell its number of
    cases and its domain's respondents."""

    code: np.ndarray
    keys: pd.DataFrame  # by, domain, item; one row per cell
    cases: np.ndarray
    domain_n: np.ndarray


def _cells(table: pd.DataFrame) -> _Cells:
    # forced_labour_by_form cells are the prevalence table's form_ cells (the same persons)
    item = table["indicator"].astype(str)
    item = item.where(table["table"] != "forced_labour_by_form", "form_" + item)
    item = item.where(table["table"] != "trafficked_by_form", "trf_" + item)
    keys = pd.DataFrame({"by": table["by"].astype(str), "domain": table["domain"].astype(str),
                         "item": item})
    code, uniques = pd.factorize(pd.MultiIndex.from_frame(keys))
    cells = pd.DataFrame(list(uniques), columns=["by", "domain", "item"])
    cases = (pd.Series(pd.to_numeric(table["n_cases"], errors="coerce").to_numpy(float))
             .groupby(code).max().reindex(range(len(cells))).to_numpy(float))
    prev = table["table"] == "prevalence"
    dom_n = (table.loc[prev].groupby([table["by"].astype(str), table["domain"].astype(str)])["n"]
             .max())
    domain_n = dom_n.reindex(pd.MultiIndex.from_frame(cells[["by", "domain"]])).to_numpy(float)
    return _Cells(np.asarray(code), cells, np.nan_to_num(cases, nan=0.0), domain_n)


def _relations(table: pd.DataFrame, cells: _Cells,
               margins: list[tuple[str, ...]]) -> np.ndarray:
    """The exact linear relations between the cells, one row each (coefficients +-1)."""
    index = {tuple(k): i for i, k in enumerate(cells.keys.itertuples(index=False))}
    rows: list[dict[int, float]] = []

    def add(total: tuple[str, str, str], parts: list[tuple[str, str, str]],
            sign: float = -1.0) -> None:
        if total not in index or not parts or any(p not in index for p in parts):
            return  # a member not published: the relation cannot be used
        rel = {index[total]: 1.0}
        for p in parts:
            rel[index[p]] = rel.get(index[p], 0.0) + sign
        rows.append(rel)

    forms = sorted({k[2] for k in index if k[2].startswith("form_")})
    trf = sorted({k[2] for k in index if k[2].startswith("trf_")})
    for by, domain in cells.keys[["by", "domain"]].drop_duplicates().itertuples(index=False):
        d = (by, domain)
        add((*d, "forced_labour"), [(*d, "trafficked"), (*d, "forced_labour_not_trafficked")])
        # the domain's population is known: its three classes add up to a published constant
        add((*d, "forced_labour"), [(*d, "undetermined"), (*d, "not_forced_labour")], +1.0)
        add((*d, "forced_labour"), [(*d, f) for f in forms])
        add((*d, "trafficked"), [(*d, f) for f in trf])
    # the domains of a margin add up to every coarser published margin (and the nation)
    published = {"*".join(m): m for m in margins}
    prev = table[table["table"] == "prevalence"]
    labels: dict[tuple[str, tuple[Any, ...]], str] = {}
    for label, m in published.items():
        part = prev[prev["by"] == label]
        for vals, dom in zip(part[list(m)].astype(str).itertuples(index=False, name=None),
                             part["domain"].astype(str), strict=True):
            labels[(label, vals)] = dom
    items = sorted({k[2] for k in index})
    for label, m in published.items():
        coarser = [((), "national")] + [(s, lab) for lab, s in published.items()
                                        if lab != label and set(s) < set(m)]
        part = prev[prev["by"] == label].drop_duplicates("domain")
        for s, s_label in coarser:
            groups: dict[tuple[Any, ...], list[str]] = {}
            for vals, dom in zip(part[list(s)].astype(str).itertuples(index=False, name=None),
                                 part["domain"].astype(str), strict=True):
                groups.setdefault(tuple(vals), []).append(dom)
            for vals, doms in groups.items():
                s_dom = "all" if not s else labels.get((s_label, vals))
                if s_dom is None:
                    continue
                for it in items:
                    add((s_label, s_dom, it), [(label, dom, it) for dom in doms])
    out = np.zeros((len(rows), len(cells.keys)))
    for r, rel in enumerate(rows):  # relations of a display table: a few hundred
        for c, v in rel.items():
            out[r, c] = v
    return out


def _determined(relations: np.ndarray, suppressed: np.ndarray) -> np.ndarray:
    """Which suppressed cells the published cells determine through the relations."""
    from scipy.linalg import null_space

    cols = np.flatnonzero(suppressed)
    out = np.zeros(suppressed.size, dtype=bool)
    if not cols.size or not relations.size:
        return out
    sub = relations[:, cols]
    sub = sub[np.abs(sub).sum(axis=1) > 0]
    if not sub.size:
        return out
    basis = null_space(sub)
    free = (np.abs(basis).max(axis=1) > 1e-9) if basis.size else np.zeros(cols.size, bool)
    out[cols] = ~free
    return out


def _complements(relations: np.ndarray, primary: np.ndarray, cases: np.ndarray,
                 dims: np.ndarray) -> np.ndarray:
    """The primary cells and the complementary ones that leave none of them determined.

    Greedy, as tau-ARGUS's modular and hypercube methods are: while a suppressed cell is
    determined, suppress one more cell of a relation that reveals it, preferring a relation
    where it is the only suppressed member, then a detail over a total, a finer margin over a
    coarser one (the national figures last), and the fewest cases (a cell with cases before an
    empty one). Exactness is checked on the whole system after every pass.
    """
    members = relations != 0
    totals = relations > 0  # the left-hand side of each relation
    suppressed: np.ndarray = primary.copy()
    for _ in range(primary.size):  # each pass suppresses at least one more cell
        det = _determined(relations, suppressed)
        if not det.any():
            break
        touched = np.zeros(relations.shape[0], dtype=bool)
        added = False
        for c in np.flatnonzero(det):  # the determined cells of a display table: a few
            rels = members[:, c] & ~touched
            if not rels.any():
                continue  # a cell added in this pass may already protect it: checked next pass
            alone = rels & ((members & suppressed).sum(axis=1) == 1)
            use = alone if alone.any() else rels
            cand = members[use].any(axis=0) & ~suppressed
            if not cand.any():
                continue
            idx = np.flatnonzero(cand)
            is_total = totals[use][:, idx].any(axis=0)
            order = np.lexsort((cases[idx], cases[idx] <= 0, -dims[idx], is_total))
            pick = idx[order[0]]
            suppressed[pick] = True
            touched |= members[:, pick]
            added = True
        if not added:
            break
    return suppressed


def protect(table: pd.DataFrame, margins: list[tuple[str, ...]],
            rules: DisclosureRules) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply ``rules`` to a report's tidy table: ``disclosure`` (``publish``, ``primary`` or
    ``secondary``) and ``disclosure_reason`` columns, suppressed cells blanked. Returns the
    table and a summary for the provenance."""
    out = table.copy()
    out["disclosure"] = "publish"
    out["disclosure_reason"] = ""
    # counts become nullable integers so that a blank stays a blank in every output
    for col in ("n", "n_cases"):
        if col in out.columns:
            values = pd.to_numeric(out[col], errors="coerce")
            whole = bool(np.all(np.isnan(values) | (values == np.round(values))))
            out[col] = values.astype("Int64" if whole else "Float64")
    summary: dict[str, Any] = {**rules.to_dict(), "primary": 0, "secondary": 0}
    if rules.rule == "none" or out.empty:
        return out, summary
    k = rules.threshold
    cells = _cells(out)
    small_domain = (cells.domain_n > 0) & (cells.domain_n < k)
    primary = ((cells.cases > 0) & (cells.cases < k)) | small_domain
    relations = _relations(out, cells, margins)
    dims = cells.keys["by"].map(lambda b: 0 if b == "national" else b.count("*") + 1).to_numpy()
    suppressed = _complements(relations, primary, cells.cases, dims)
    secondary = suppressed & ~primary
    row_primary = primary[cells.code]
    row_secondary = secondary[cells.code] & ~row_primary
    row_small = small_domain[cells.code]
    cases = cells.cases[cells.code]
    out.loc[row_primary, "disclosure"] = "primary"
    out.loc[row_primary, "disclosure_reason"] = np.where(
        row_small[row_primary], f"fewer than {k} respondents in the domain",
        [f"{c:g} case{'s' if c != 1 else ''} < {k}" for c in cases[row_primary]])
    out.loc[row_secondary, "disclosure"] = "secondary"
    out.loc[row_secondary, "disclosure_reason"] = ("complementary: would reveal a suppressed "
                                                   "cell by subtraction")
    hide = row_primary | row_secondary
    for col in BLANKED:
        if col in out.columns:
            out.loc[hide, col] = pd.NA if col == "n_cases" else np.nan
    # the respondents of a tiny domain, and the denominator of a by-form table (its total's
    # cases) when that total is suppressed
    total = np.where(out["table"] == "trafficked_by_form", "trafficked", "forced_labour")
    tot_key = pd.MultiIndex.from_arrays([out["by"].astype(str), out["domain"].astype(str),
                                         total])
    tot_hidden = (tot_key.isin(pd.MultiIndex.from_frame(cells.keys.loc[suppressed]))
                  if suppressed.any() else np.zeros(len(out), dtype=bool))
    by_form = (out["table"] != "prevalence").to_numpy()
    out.loc[row_small | (by_form & tot_hidden), "n"] = pd.NA
    summary["primary"] = int(primary.sum())
    summary["secondary"] = int(secondary.sum())
    return out, summary


def protect_counts(counts: pd.DataFrame, columns: list[str], rules: DisclosureRules, *,
                   total: str | None = None, sensitive: list[str] | None = None
                   ) -> pd.DataFrame:
    """A table of unweighted counts with its small cells blanked (nullable integers).

    Every row of ``columns`` adds up to a published figure (``total`` when it is a column,
    otherwise a count published elsewhere, such as the persons in forced labour), so a row
    with one blank would give it back: its cheapest other cell is blanked too. Cells of fewer
    than the threshold (and more than 0) are primary, in the ``sensitive`` columns only when
    given (a small count of "don't know" reveals nothing about exploitation).
    """
    out: pd.DataFrame = counts.copy()
    if rules.rule == "none" or out.empty:
        return out
    cols = [*columns, *([total] if total else [])]
    values = out[cols].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    r, c = values.shape
    flat = np.nan_to_num(values, nan=0.0).reshape(-1)
    primary = (flat > 0) & (flat < rules.threshold)
    if sensitive is not None:
        primary &= np.tile(np.isin(cols, sensitive), r)
    if not primary.any():
        return out
    relations = np.zeros((r, r * c))
    for i in range(r):  # one relation per row of a small display table
        relations[i, i * c:(i + 1) * c] = -1.0
        if total:
            relations[i, i * c + c - 1] = 1.0
    dims = np.ones(r * c)
    if total:
        dims[c - 1::c] = 0  # the total last
    hide = _complements(relations, primary, flat, dims).reshape(r, c)
    for j, col in enumerate(cols):
        if hide[:, j].any():
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
            out.loc[hide[:, j], col] = pd.NA
    return out


_ANSWERS = ("n_yes", "n_no", "n_dont_know", "n_refused", "n_not_applicable",
            "n_system_missing", "n_unknown")


def protect_tables(counts: pd.DataFrame, indicators: pd.DataFrame, quality: pd.DataFrame,
                   rules: DisclosureRules) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The report's tables of unweighted counts under ``rules``: the classification counts
    (status by form, with its total), the indicator table (yes / no / missing among a class,
    which adds up to the class's published count; a blank count blanks its shares) and the
    answer counts of the data-quality report's items."""
    if rules.rule == "none":
        return counts, indicators, quality
    body = [c for c in counts.columns if c != "total"]
    counts = protect_counts(counts, body, rules,
                            total="total" if "total" in counts.columns else None)
    ind = indicators
    n_cols = [c for c in ("n_yes", "n_no", "n_missing") if c in ind.columns]
    if n_cols and len(ind):
        ind = protect_counts(ind.reset_index(drop=True), n_cols, rules, sensitive=["n_yes"])
        gone = ind[n_cols].isna().any(axis=1).to_numpy() & indicators[n_cols].notna().all(
            axis=1).to_numpy()
        for col in ("share", "share_unweighted"):
            if col in ind.columns:
                ind.loc[gone, col] = np.nan
        ind.index = indicators.index
    q = quality
    answers = [c for c in _ANSWERS if c in q.columns]
    if answers and "section" in q.columns and "n" in q.columns:
        items = (q["section"] == "item").to_numpy()
        if items.any():
            part = protect_counts(q.loc[items].reset_index(drop=True), answers, rules,
                                  total="n", sensitive=["n_yes"])
            q = q.copy()
            for col in [*answers, "n"]:
                if part[col].isna().sum() > q.loc[items, col].isna().sum():
                    q[col] = pd.to_numeric(q[col], errors="coerce").astype("Int64")
                    q.loc[items, col] = part[col].to_numpy()
    return counts, ind, q
