"""Classifying respondents: forced labour, trafficking, form, and the evidence behind each.

:func:`classify` applies rule sets (data files; the format is in ``_rules``) to
canonical indicator columns (1 / 0 / missing) and returns a :class:`Classification`: per
respondent ``forced_labour`` and ``trafficked`` (True / False / missing), ``status``, ``form``,
the lower and upper bounds (undetermined counted as no / as yes), and the evidence.

Built-in rule sets (``classification.md``): forced labour ``icls2018`` (default),
``htshtc2012_dimension``, ``htshtc2012_strong``; children ``child2018``; trafficking
``seed2007`` (default), ``delphi2009``; form ``ilo2005``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate._caller import warn_caller
from flestimate._indicators import IndicatorTable, indicator_table
from flestimate._version import __version__
from flestimate.classification._evaluate import (
    MIXED_SECTOR,
    PLAIN_PENALTIES,
    SEXUAL_SECTOR,
    Context,
    Expr,
    Named,
    Pair,
    Select,
    bounds_to_values,
    delphi_list_counts,
)
from flestimate.classification._rules import FORMS, RuleSet, builtin_rules, load_rules
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError
from flestimate.mapping import describe_filter, evaluate_filter
from flestimate.results import Result, format_count, format_percent, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["STATUSES", "Classification", "RuleSet", "builtin_rules", "classify",
           "indicator_table", "load_rules"]

STATUSES = ("trafficked_forced_labour", "forced_labour_not_trafficked", "undetermined",
            "not_forced_labour")
PARENT_RELATIONS = ("head", "spouse")
CHILD_RELATION = "child"

RuleArg = str | Path | Mapping[str, Any] | RuleSet


class Classification(Result):
    """The classification of every respondent, with its evidence (see :func:`classify`).

    Immutable: every view returns new objects.

    Attributes
    ----------
    provenance : Mapping
        Rule sets (name, version, evidence, source), indicator table version, options,
        indicators used and canonical indicators absent from the data (read-only).
    """

    __slots__ = ("_frame", "_ind", "_pairs", "_rules", "_table", "_columns", "_is_child",
                 "_form", "_form_case")
    _frame: pd.DataFrame
    _ind: list[str]
    _pairs: dict[str, Pair]
    _rules: dict[str, RuleSet]
    _table: IndicatorTable
    _columns: pd.DataFrame
    _is_child: Pair
    _form: np.ndarray
    _form_case: np.ndarray
    _label = "Classification"
    _records_key = "classification"
    _immutable_hint = "classify() again"

    def __init__(self, frame: pd.DataFrame, indicators: list[str],
                 pairs: dict[str, Pair], rules: dict[str, RuleSet], table: IndicatorTable,
                 is_child: Pair, form: np.ndarray, form_case: np.ndarray,
                 provenance: dict[str, Any]) -> None:
        # the input frame is kept as it is (not copied): explain() and evidence read it
        for name, value in (("_frame", frame), ("_ind", indicators), ("_pairs", pairs),
                            ("_rules", rules), ("_table", table), ("_is_child", is_child),
                            ("_form", form), ("_form_case", form_case)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_columns", self._build())
        super().__init__(provenance)

    def _build(self) -> pd.DataFrame:
        fl_lo, fl_hi = self._pairs["forced_labour"]
        tr_lo, tr_hi = self._pairs["trafficked"]
        status = np.select(
            [fl_lo & tr_lo, fl_lo & ~tr_hi, ~fl_hi],
            [STATUSES[0], STATUSES[1], STATUSES[3]], STATUSES[2])
        c_lo, c_hi = self._is_child
        adult_name, child_name = self._rules["forced_labour"].name, self._rules["child"].name
        rule = np.where(c_lo, child_name, np.where(~c_hi, adult_name,
                                                   f"{adult_name}|{child_name}"))
        out: pd.DataFrame = pd.DataFrame({
            "forced_labour": bounds_to_values(fl_lo, fl_hi),
            "trafficked": bounds_to_values(tr_lo, tr_hi),
            "status": pd.Categorical(status, categories=STATUSES),
            "form": pd.Categorical(self._form, categories=FORMS),
            "forced_labour_lower": fl_lo, "forced_labour_upper": fl_hi,
            "trafficked_lower": tr_lo, "trafficked_upper": tr_hi,
            "rule": rule,
        }, index=self._frame.index)
        return out

    # -- views ----------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """One row per respondent, in the input's order and index: ``forced_labour``,
        ``trafficked`` (nullable booleans), ``status``, ``form`` (categoricals; form missing
        when not in forced labour), ``forced_labour_lower``/``_upper``,
        ``trafficked_lower``/``_upper`` (undetermined counted as no / as yes) and ``rule``
        (the forced-labour rule set applied: adult, child, or both when the age is missing)."""
        out: pd.DataFrame = self._columns.copy()
        return out

    def counts(self) -> pd.DataFrame:
        """Unweighted counts by status and form."""
        c = self._columns
        table = pd.crosstab(c["status"], c["form"].cat.add_categories("not in forced labour")
                            .fillna("not in forced labour"), dropna=False)
        table["total"] = table.sum(axis=1)
        return table

    @property
    def evidence(self) -> pd.DataFrame:
        """Long table of the evidence: one row per respondent and indicator that fired (value
        1) or is missing, with its kind, dimension and grade. Respondents appear by their
        index label in column ``row``."""
        if not self._ind:
            empty: pd.DataFrame = pd.DataFrame(columns=["row", "indicator", "kind", "dimension",
                                                        "grade", "value"])
            return empty
        values = self._frame[self._ind].to_numpy(dtype=float)
        rows, cols = np.nonzero((values == 1) | np.isnan(values))
        info = [self._table.describe(c) for c in self._ind]
        kind = np.array([i[0] for i in info], dtype=object)
        dim = np.array([i[1] for i in info], dtype=object)
        grade = np.array([i[2] for i in info], dtype=object)
        out: pd.DataFrame = pd.DataFrame({
            "row": self._frame.index.to_numpy()[rows],
            "indicator": np.array(self._ind, dtype=object)[cols],
            "kind": kind[cols], "dimension": dim[cols], "grade": grade[cols],
            "value": pd.array(np.where(np.isnan(values[rows, cols]), np.nan, 1.0),
                              dtype="Int8"),
        })
        return out

    def indicator_table(self, weights: str | np.ndarray | None = None,
                        status: str = "forced_labour") -> pd.DataFrame:
        """Counts and shares of each indicator among persons in forced labour (the ICLS tables
        by type of coercion and of involuntariness).

        Parameters
        ----------
        weights : str or array, optional
            A weight column of the classified frame, or weights in row order; shares are then
            weighted.
        status : {"forced_labour", "trafficked"}
            Among whom.

        Returns
        -------
        DataFrame
            ``indicator``, ``kind``, ``dimension``, ``grade``, ``n_yes``, ``n_no``,
            ``n_missing``, ``share`` (yes among those observed, weighted when asked) and
            ``share_unweighted``, sorted by kind, dimension and share.
        """
        if status not in ("forced_labour", "trafficked"):
            raise ArgumentError(f"`status` of `indicator_table()` must be 'forced_labour' or "
                                f"'trafficked'; got {status!r}")
        among = self._pairs[status][0]
        if weights is None:
            w = np.ones(len(self._frame))
        elif isinstance(weights, str):
            if weights not in self._frame.columns:
                raise ArgumentError(f"`weights` of `indicator_table()`: column {weights!r} is "
                                    f"not in the classified frame")
            w = self._frame[weights].to_numpy(dtype=float)
        else:
            w = np.asarray(weights, dtype=float)
            if w.shape != (len(self._frame),):
                raise ArgumentError(f"`weights` of `indicator_table()` must have one value per "
                                    f"respondent ({len(self._frame)}); got shape {w.shape}")
        values = self._frame.loc[among, self._ind].to_numpy(dtype=float)
        wa = w[among][:, None]
        yes, no = values == 1, values == 0
        observed = yes | no
        with np.errstate(invalid="ignore", divide="ignore"):
            share = (wa * yes).sum(axis=0) / (wa * observed).sum(axis=0)
            share_u = yes.sum(axis=0) / observed.sum(axis=0)
        info = [self._table.describe(c) for c in self._ind]
        out = pd.DataFrame({
            "indicator": self._ind, "kind": [i[0] for i in info],
            "dimension": [i[1] for i in info], "grade": [i[2] for i in info],
            "n_yes": yes.sum(axis=0), "n_no": no.sum(axis=0),
            "n_missing": (~observed).sum(axis=0), "share": share, "share_unweighted": share_u,
        })
        ordered: pd.DataFrame = out.sort_values(
            ["kind", "dimension", "share"], ascending=[True, True, False], na_position="last",
            kind="stable").reset_index(drop=True)
        return ordered

    def explain(self, row_id: Any) -> str:
        """A readable account of why respondent ``row_id`` (an index label) is classified as
        it is: each rule, the clauses that held, failed or stayed open, and the indicators
        behind them."""
        if row_id not in self._frame.index:
            raise ArgumentError(f"`row_id` of `explain()`: {row_id!r} is not in the index of "
                                f"the classified frame")
        pos = self._frame.index.get_loc(row_id)
        if not isinstance(pos, int | np.integer):
            raise ArgumentError(f"`row_id` of `explain()`: {row_id!r} is not unique in the index")
        row = self._columns.iloc[pos]
        one = self._frame.iloc[[pos]]
        ctx = _context(one, self._ind, self._table, str(self.provenance["plain_penalties"]))
        label = row_id.item() if isinstance(row_id, np.generic) else row_id
        lines = [f"respondent {label!r}: {row['status']}"]
        age = one["age"].iloc[0] if "age" in one.columns else None
        c_lo, c_hi = self._is_child[0][pos], self._is_child[1][pos]
        fl_rules = (["child"] if c_lo else ["forced_labour"] if not c_hi
                    else ["forced_labour", "child"])
        parent = self._pairs["parent_forced_labour"]
        ctx.results["parent_forced_labour"] = (parent[0][[pos]], parent[1][[pos]])
        who = "a child" if c_lo else "an adult" if not c_hi else "of unknown age"
        lines.append(f"forced labour: {_word(row['forced_labour'])} ({who}"
                     f"{'' if age is None or pd.isna(age) else f', age {age:g}'})")
        for key in fl_rules:
            rs = self._rules[key]
            ctx.branch = "child" if key == "child" else "adult"
            expr = rs.adult
            assert expr is not None
            lines.append(f"  rule {rs.name}:")
            lines.extend(_trace(expr, ctx, 2))
        ctx.results["forced_labour"] = (self._pairs["forced_labour"][0][[pos]],
                                        self._pairs["forced_labour"][1][[pos]])
        tr = self._rules["trafficking"]
        lines.append(f"trafficked: {_word(row['trafficked'])}")
        for branch in (["child"] if c_lo else ["adult"] if not c_hi else ["adult", "child"]):
            ctx.branch = branch
            expr = tr.child if branch == "child" else tr.adult
            assert expr is not None
            lines.append(f"  rule {tr.name}" + (f" ({branch})" if tr.child is not tr.adult
                                                else "") + ":")
            lines.extend(_trace(expr, ctx, 2))
        if not pd.isna(row["form"]):
            case = self._form_case[pos]
            lines.append(f"form: {row['form']} (rule {self._rules['form'].name}: "
                         f"{case})")
        fired = [c for c in self._ind if ctx.lower[c][0]]
        missing = [c for c in self._ind if ctx.upper[c][0] and not ctx.lower[c][0]]
        lines.append(f"indicators present: {', '.join(fired) or 'none'}")
        lines.append(f"indicators missing: {', '.join(missing) or 'none'}")
        return "\n".join(lines)

    def summary(self) -> str:
        """Counts by status, rules and options as text."""
        c = self._columns["status"].value_counts().reindex(STATUSES)
        p = self.provenance
        lines = [f"Classification of {len(self._columns):,} respondents",
                 *(f"  {s:<30} {int(n):>9,}" for s, n in c.items()),
                 f"rules: forced labour {p['rules']['forced_labour']['name']}, children "
                 f"{p['rules']['child']['name']}, trafficking "
                 f"{p['rules']['trafficking']['name']}, form {p['rules']['form']['name']}",
                 f"indicator table: version {p['indicator_table']}; "
                 f"{len(p['indicators_used'])} indicators used"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        c = self._columns["status"].value_counts()
        parts = ", ".join(f"{s} {int(c.get(s, 0)):,}" for s in STATUSES)
        return f"<Classification of {len(self._columns):,} respondents: {parts}>"

    def _repr_html_(self) -> str:
        counts = self.counts()
        shown = counts.map(format_count)
        shown.index = shown.index.astype(str)
        shown.columns = shown.columns.astype(str)
        table = shown.to_html(border=0, escape=True)
        title = (f"Classification of {len(self._columns):,} respondents (forced labour: "
                 f"{self._rules['forced_labour'].name}; trafficking: "
                 f"{self._rules['trafficking'].name}); unweighted counts by status and form")
        return f"<div><p><b>{html.escape(title)}</b></p>{table}</div>"

    def plot(self, kind: str = "indicators", weights: str | np.ndarray | None = None,
             status: str = "forced_labour", ax: Axes | None = None) -> Axes:
        """Bar chart of the indicators among persons in forced labour, or of the statuses.

        Parameters
        ----------
        kind : {"indicators", "status"}
            ``"indicators"``: the share of each indicator among persons in ``status``
            (:meth:`indicator_table`), grouped and coloured by kind: types of coercion
            (``pen_*``) and involuntariness (``inv_*``). ``"status"``: persons by status.
        weights : str or array, optional
            Weight column or weights in row order; shares and counts are then weighted.
        status : {"forced_labour", "trafficked"}
            Among whom the indicator shares are computed (``kind="indicators"``).
        ax : matplotlib Axes, optional
            Where to draw; by default a new figure (:func:`flestimate.results.new_axes`).

        Returns
        -------
        matplotlib.axes.Axes
            Horizontal bars, one container per group labelled by the group (``"types of
            coercion"``, ``"involuntariness"``) or ``"persons"``; indicator shares in percent,
            in the order of :meth:`indicator_table` within each group (missing shares drawn as
            zero-length bars).
        """
        if kind not in ("indicators", "status"):
            raise ArgumentError(f"`kind` of `plot()` must be 'indicators' or 'status'; "
                                f"got {kind!r}")
        if kind == "status":
            return self._plot_status(weights, ax)
        table = self.indicator_table(weights=weights, status=status)
        groups: tuple[tuple[str, str, str], ...] = (("penalty", "types of coercion", "#b22222"),
                  ("involuntariness", "involuntariness", "#1f4e79"))
        known = {g[0] for g in groups}
        extra = [k for k in pd.unique(table["kind"]) if k not in known]
        groups += tuple((str(k), str(k), "#7f7f7f") for k in extra)
        n_rows = len(table) + len(groups)
        ax = new_axes(ax, 7.5, 1.2 + 0.24 * n_rows)
        ticks: list[float] = []
        labels: list[str] = []
        pos = 0.0
        for key, name, colour in groups:
            part = table[table["kind"] == key]
            if part.empty:
                continue
            y = pos + np.arange(len(part), dtype=float)
            share = 100 * part["share"].to_numpy(float)
            ax.barh(y, np.nan_to_num(share), color=colour, height=0.7, label=name)
            for yi, value in zip(y, share, strict=True):
                text = f"{format_percent(value / 100)}%" if np.isfinite(value) else "n/a"
                ax.annotate(text, (0 if not np.isfinite(value) else value, yi), xytext=(3, 0),
                            textcoords="offset points", va="center", fontsize="x-small")
            dims = part["dimension"].astype(object).where(part["dimension"].notna(), "")
            ticks += list(y)
            labels += [f"{ind}" + (f" ({dim})" if dim else "")
                       for ind, dim in zip(part["indicator"], dims, strict=True)]
            pos = float(y[-1]) + 2.0
        from matplotlib.ticker import PercentFormatter

        ax.set_yticks(ticks, labels, fontsize="small")
        ax.set_ylim(max(pos - 1.5, 0.5), -0.7)
        ax.set_xlim(left=0)
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))
        among = "in forced labour" if status == "forced_labour" else "trafficked"
        ax.set_xlabel(f"% of persons {among} with the indicator"
                      + (" (weighted)" if weights is not None else " (unweighted)"))
        ax.set_title("Types of coercion and involuntariness", loc="left")
        ax.grid(axis="x", color="#eeeeee")
        ax.legend(loc="lower right", fontsize="small", frameon=False)
        return ax

    def _plot_status(self, weights: str | np.ndarray | None, ax: Axes | None) -> Axes:
        status = self._columns["status"]
        if weights is None:
            w = np.ones(len(status))
        elif isinstance(weights, str):
            if weights not in self._frame.columns:
                raise ArgumentError(f"`weights` of `plot()`: column {weights!r} is not in the "
                                    f"classified frame")
            w = self._frame[weights].to_numpy(dtype=float)
        else:
            w = np.asarray(weights, dtype=float)
            if w.shape != (len(status),):
                raise ArgumentError(f"`weights` of `plot()` must have one value per respondent "
                                    f"({len(status)}); got shape {w.shape}")
        totals = pd.Series(w, index=status.index).groupby(status, observed=False).sum()
        totals = totals.reindex(STATUSES, fill_value=0.0)
        ax = new_axes(ax, 7.0, 2.6)
        y = np.arange(len(STATUSES), dtype=float)
        values = totals.to_numpy(float)
        ax.barh(y, values, color=["#7f0000", "#b22222", "#9a9a9a", "#1f4e79"], height=0.7,
                label="persons")
        for yi, v in zip(y, values, strict=True):
            ax.annotate(format_count(v), (v, yi), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize="small")
        ax.set_yticks(y, [s.replace("_", " ") for s in STATUSES])
        ax.set_ylim(len(STATUSES) - 0.5, -0.5)
        ax.set_xlim(left=0)
        ax.set_xlabel("persons" + (" (weighted)" if weights is not None else ""))
        ax.set_title(f"Classification of {len(status):,} respondents", loc="left")
        ax.grid(axis="x", color="#eeeeee")
        return ax

    def __len__(self) -> int:
        return len(self._columns)


def _word(value: Any) -> str:
    return "missing (undetermined)" if pd.isna(value) else ("yes" if value else "no")


def _trace(expr: Expr, ctx: Context, depth: int) -> list[str]:
    lo, hi = expr.evaluate(ctx)
    state = "yes" if lo[0] else ("no" if not hi[0] else "undetermined")
    pad = "  " * depth
    line = f"{pad}{expr.text()}: {state}"
    if isinstance(expr, Select):
        members = ctx.members(expr.terms, expr.rule)
        fired = [m[0] for m in members if m[1][0]]
        open_ = [m[0] for m in members if m[2][0] and not m[1][0]]
        detail = []
        if fired:
            detail.append("yes: " + ", ".join(_label(c, ctx.table) for c in fired))
        if open_ and not lo[0]:
            unsure = [c for c in open_ if c in ctx.dimension_unknown]
            detail.append("missing: " + ", ".join(
                f"{c} (dimension unknown)" if c in unsure else c for c in open_))
        if not members:
            detail.append("not measured")
        if detail:
            line += f"  [{'; '.join(detail)}]"
    out = [line]
    children = expr.children()
    if isinstance(expr, Named):
        children = expr.expr.children() or (expr.expr,)
    for child in children:
        out.extend(_trace(child, ctx, depth + 1))
    return out


def _label(col: str, table: IndicatorTable) -> str:
    kind, dim, grade = table.describe(col)
    bits = [b for b in (dim, grade) if b]
    return f"{col} ({', '.join(bits)})" if bits else col


def _context(frame: pd.DataFrame, indicators: list[str], table: IndicatorTable,
             plain: str) -> Context:
    lower, upper = {}, {}
    for c in indicators:
        v = frame[c].to_numpy(dtype=float)
        lower[c] = v == 1
        upper[c] = ~(v == 0)
    return Context(frame, lower, upper, table, plain, sector=_sector_codes(frame))


def _sector_codes(frame: pd.DataFrame) -> np.ndarray:
    """Which Delphi list a respondent's sector calls for: 0 labour exploitation, 1 sexual
    exploitation (``commercial_sex``), 2 both (``commercial_sex_and_other``), 3 unknown."""
    if "sector" not in frame.columns:
        return np.full(len(frame), 3, dtype=np.int8)
    sector = frame["sector"]
    text = sector.astype("string").fillna("").to_numpy(dtype=object)
    return np.select([sector.isna().to_numpy(), text == SEXUAL_SECTOR, text == MIXED_SECTOR],
                     [3, 1, 2], 0).astype(np.int8)


def _indicator_columns(frame: pd.DataFrame, table: IndicatorTable) -> list[str]:
    cols = [str(c) for c in frame.columns if table.describe(str(c))[0] != "other"]
    for c in cols:
        col = frame[c]
        try:
            v = col.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(f"indicator column {c!r} must hold 1, 0 or missing; it holds "
                            f"{col.dtype} values such as {col.dropna().iloc[:3].tolist()}") \
                from exc
        bad = ~np.isnan(v) & (v != 0) & (v != 1)
        if bad.any():
            rows = frame.index[bad][:3].tolist()
            raise DataError(f"indicator column {c!r} must hold 1, 0 or missing; "
                            f"{int(bad.sum())} row(s) hold other values, e.g. "
                            f"{sorted(set(v[bad].tolist()))[:5]} (rows {rows}); map "
                            f"questionnaire codes with a module spec first")
    return cols


def _age_pairs(frame: pd.DataFrame, age: str | None, child_age: float) -> Pair:
    n = len(frame)
    if age is None or age not in frame.columns:
        return np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
    a = pd.to_numeric(frame[age], errors="coerce").to_numpy(dtype=float)
    known = ~np.isnan(a)
    young = known & (a < child_age)
    return young, young | ~known


def _parent_link(frame: pd.DataFrame, adult_fl: Pair, household: str | None,
                 relationship: str | None) -> tuple[Pair, str]:
    """Parent in forced labour, per respondent: a child of the household head whose head or
    spouse is classified in forced labour. Parents outside the classified frame (outside the
    module's universe) count as not in forced labour. Missing when the columns are absent."""
    n = len(frame)
    if (household is None or relationship is None or household not in frame.columns
            or relationship not in frame.columns):
        return (np.zeros(n, dtype=bool), np.ones(n, dtype=bool)), "missing: no household link"
    hh_codes, _ = pd.factorize(frame[household], use_na_sentinel=True)
    rel = np.asarray(frame[relationship].astype("string").str.lower().astype(object)
                     .where(frame[relationship].notna(), None))
    is_parent = np.isin(rel, PARENT_RELATIONS)
    rel_missing = pd.isna(rel)
    is_child_rel = rel == CHILD_RELATION
    valid = hh_codes >= 0
    size = int(hh_codes.max()) + 1 if valid.any() else 0
    idx = hh_codes[valid]
    lo = np.bincount(idx, weights=(adult_fl[0] & is_parent)[valid], minlength=size) > 0
    hi = np.bincount(idx, weights=(adult_fl[1] & is_parent)[valid], minlength=size) > 0
    hh_lo = np.zeros(n, dtype=bool)
    hh_hi = np.zeros(n, dtype=bool)
    hh_lo[valid] = lo[idx]
    hh_hi[valid] = hi[idx]
    link_lo = is_child_rel & hh_lo
    link_hi = (is_child_rel | rel_missing) & hh_hi | ~valid & (is_child_rel | rel_missing)
    return (link_lo, link_hi), f"household link: {household}, {relationship}"


def _form(frame: pd.DataFrame, rules: RuleSet, in_scope: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    n = len(frame)
    form = np.full(n, None, dtype=object)
    case = np.full(n, None, dtype=object)
    todo = in_scope.copy()
    for name, when in rules.cases:
        cols = _filter_columns(when)
        if all(c in frame.columns for c in cols):
            hit = evaluate_filter(frame, when, f"{rules.file}: cases ({name})") & todo
        else:  # a column the rule needs is not in the data: the case cannot be shown
            hit = np.zeros(n, dtype=bool)
        form[hit] = name
        case[hit] = describe_filter(when)
        todo &= ~hit
    form[todo] = rules.otherwise
    case[todo] = "otherwise: no case held (perpetrator or sector missing or not recorded)"
    return form, case


def _filter_columns(spec: Any) -> list[str]:
    if not isinstance(spec, Mapping):
        return []
    out = []
    for key in ("and", "or"):
        for part in spec.get(key, []) or []:
            out.extend(_filter_columns(part))
    if "not" in spec:
        out.extend(_filter_columns(spec["not"]))
    if "column" in spec:
        out.append(str(spec["column"]))
    return out


def classify(frame: Any, forced_labour: RuleArg = "icls2018", trafficking: RuleArg = "seed2007",
             *, child: RuleArg = "child2018", form: RuleArg = "ilo2005",
             indicators: str | Path | Mapping[str, Any] | None = None,
             plain_penalties: str = "unknown_dimension", age: str | None = "age",
             household: str | None = "household", relationship: str | None = "relationship",
             child_age: float = 18, reference_period: str | None = None) -> Classification:
    """Classify every respondent: forced labour, trafficking, status and form.

    Parameters
    ----------
    frame : DataFrame or MappedSurvey
        Canonical indicator columns (1 / 0 / missing; ids of ``indicators.md``, penalties
        plain or with a dimension suffix: ``__recruitment``, ``__duress``, ``__leaving``, or
        two joined by ``_or_`` such as ``__duress_or_leaving``) and the context columns the
        rules use (``moved``, ``perpetrator``, ``sector``, ``age``, ``worked``, ...).
    forced_labour : str, path, mapping or RuleSet
        Rule set for adults: ``"icls2018"`` (default), ``"htshtc2012_dimension"``,
        ``"htshtc2012_strong"``, or your own file in the same format.
    trafficking : str, path, mapping or RuleSet
        ``"seed2007"`` (default) or ``"delphi2009"``.
    child : rule set
        For persons under ``child_age`` (``"child2018"``).
    form : rule set
        Form of forced labour (``"ilo2005"``).
    indicators : path or mapping, optional
        Overrides or extends the indicator table (grades, dimensions, Delphi lists).
    plain_penalties : {"unknown_dimension", "error", "every_dimension", "ignore"}
        A penalty whose column does not say in which dimension it was applied (plain
        ``pen_violence``, or ``pen_violence__duress_or_leaving`` where a rule asks for duress),
        where a rule needs a penalty of one dimension: ``"unknown_dimension"`` (default)
        counts it in no dimension for the lower bound and in every possible one for the upper
        (the respondent is undetermined where it matters); ``"every_dimension"`` counts it in
        every possible dimension (an assumption); ``"ignore"`` uses penalties of known
        dimension only; ``"error"`` stops.
    age, household, relationship : str or None
        Context columns: age (children follow the child rule; a missing age gives a result only
        where both rules agree), and the household link to a parent in forced labour
        (``relationship`` values ``head``, ``spouse``, ``child``); without them the link is missing.
    child_age : float
        Persons younger than this are children (18).
    reference_period : str, optional
        The period the answers refer to ("last 10 years", "2017-2021"); taken from the
        module spec for a MappedSurvey. Recorded in the provenance; rules do not check it.

    Returns
    -------
    Classification

    Warns
    -----
    FlestimateWarning
        ``MISSING_ITEMS`` when a rule needs what the data do not measure at all (an indicator
        kind, Delphi dimension or context column): undetermined, never "no". ``UNCONFIRMED_GRADES``
        when a Delphi list tagged R graded someone (``provenance["delphi_lists"]`` counts them).

    Notes
    -----
    Three-valued logic: every rule is monotone in the indicators, so it is evaluated twice, with
    missing indicators read as 0 (``lower``) and as 1 (``upper``). TRUE when the lower evaluation
    holds, FALSE when the upper one fails, missing otherwise: a result is missing only when the
    missing items could change it. What is not measured at all is missing in the same way.
    ``status``: trafficked_forced_labour when forced labour and trafficking are TRUE;
    forced_labour_not_trafficked when forced labour is TRUE and trafficking FALSE; not_forced_labour
    when forced labour is FALSE; undetermined otherwise. ``form`` is given for persons whose forced
    labour is TRUE or missing (so that upper bounds by form exist) and is missing when it is FALSE.
    """
    data = _checked_frame(frame, plain_penalties)
    reference_period = _reference_period(frame, reference_period)
    rules = _rule_sets(forced_labour, child, trafficking, form)
    table = indicator_table(indicators)
    ind = _indicator_columns(data, table)
    ctx = _context(data, ind, table, plain_penalties)
    is_child = _age_pairs(data, age, child_age)
    pairs, link = _evaluate_rules(ctx, rules, is_child, data, household, relationship)
    forms, form_case = _form(data, rules["form"], pairs["forced_labour"][1])
    not_measured = _not_measured(ctx, rules, is_child, pairs["forced_labour"])
    provenance = _provenance(ctx, rules, table, ind, not_measured, {
        "plain_penalties": plain_penalties, "reference_period": reference_period,
        "child_age": child_age, "parent_link": link, **_graded_lists(ctx, is_child)}, len(data))
    return Classification(data, ind, pairs, rules, table, is_child, forms, form_case, provenance)


def _checked_frame(frame: Any, plain_penalties: str) -> pd.DataFrame:
    """The data frame to classify (a MappedSurvey's frame), after checking the arguments that
    need no data: the frame's type and ``plain_penalties``."""
    data = frame.frame if hasattr(frame, "frame") and not isinstance(frame, pd.DataFrame) \
        else frame
    if not isinstance(data, pd.DataFrame):
        raise ArgumentTypeError(f"`frame` of `classify()` must be a DataFrame or a MappedSurvey; "
                                f"got {type(frame).__name__}")
    if plain_penalties not in PLAIN_PENALTIES:
        raise ArgumentError(f"`plain_penalties` of `classify()` must be one of "
                            f"{', '.join(map(repr, PLAIN_PENALTIES))}; got {plain_penalties!r}")
    return data


def _reference_period(frame: Any, given: str | None) -> str | None:
    """The reference period recorded in the provenance: as given, else the module spec's."""
    if given is None and hasattr(frame, "spec"):
        return getattr(frame.spec, "reference_period", None)
    return given


def _rule_sets(forced_labour: RuleArg, child: RuleArg, trafficking: RuleArg,
               form: RuleArg) -> dict[str, RuleSet]:
    """The four rule sets, each loaded and checked to be of its kind."""
    return {
        "forced_labour": load_rules(forced_labour, "forced_labour"),
        "child": load_rules(child, "child"),
        "trafficking": load_rules(trafficking, "trafficking"),
        "form": load_rules(form, "form"),
    }


def _evaluate_rules(ctx: Context, rules: Mapping[str, RuleSet], is_child: Pair,
                    data: pd.DataFrame, household: str | None, relationship: str | None
                    ) -> tuple[dict[str, Pair], str]:
    """The bounds of every result, in the order the rules need them: the adult forced-labour
    rule, the link to a parent in forced labour (which the child rule reads), the child rule,
    forced labour by age, then trafficking by age (which may read forced labour); and the
    description of the household link."""
    adult = _evaluate(rules["forced_labour"].adult, ctx, "adult")
    parent, link = _parent_link(data, adult, household, relationship)
    ctx.results["parent_forced_labour"] = parent
    kid = _evaluate(rules["child"].adult, ctx, "child")
    fl = _switch(is_child, adult, kid)
    ctx.results["forced_labour"] = fl
    tr_rules = rules["trafficking"]
    tr = _switch(is_child, _evaluate(tr_rules.adult, ctx, "adult"),
                 _evaluate(tr_rules.child, ctx, "child"))
    pairs = {"forced_labour": fl, "trafficked": tr, "parent_forced_labour": parent,
             "adult_forced_labour": adult, "child_forced_labour": kid}
    return pairs, link


def _provenance(ctx: Context, rules: Mapping[str, RuleSet], table: IndicatorTable,
                ind: list[str], not_measured: dict[str, list[str]], options: dict[str, Any],
                n: int) -> dict[str, Any]:
    """The provenance of a classification: the rule sets, the indicator table's version, the
    options, the indicators in the data, used and absent, and what was not measured."""
    canonical = _canonical_ids(table)
    return {
        "rules": {k: {"name": r.name, "kind": r.kind, "version": r.version,
                      "evidence": dict(r.evidence), "source": r.source, "file": r.file}
                  for k, r in rules.items()},
        "indicator_table": table.version,
        **options,
        "indicators_in_data": tuple(ind),
        "indicators_used": tuple(sorted(ctx.used)),
        "canonical_absent": tuple(sorted(canonical - set(ind))),
        "not_measured": not_measured,
        "dimension_unknown": tuple(sorted(ctx.dimension_unknown)),
        "n": n,
        "package_version": _version(),
        "version": _version(),  # the key every result's provenance has
    }


def _evaluate(expr: Expr | None, ctx: Context, branch: str) -> Pair:
    """A rule's expression for adults or children (the branch chooses the Delphi lists)."""
    assert expr is not None
    ctx.branch = branch
    return expr.evaluate(ctx)


def _not_measured(ctx: Context, rules: Mapping[str, RuleSet], is_child: Pair,
                  fl: Pair) -> dict[str, list[str]]:
    """What each rule needed and the data do not measure, for the rules that apply to someone
    (the adult rule when a respondent may be an adult, the child rule when one may be a
    child, the trafficking rule when one may be in forced labour); one MISSING_ITEMS warning
    names them."""
    applies = {"forced_labour": bool((~is_child[0]).any()), "child": bool(is_child[1].any()),
               "trafficking": bool(fl[1].any()), "form": False}
    out = {r.name: sorted(ctx.not_measured[r.name]) for key, r in rules.items()
           if applies[key] and r.name in ctx.not_measured}
    if out:
        warn_caller(
            "not measured in the data, so the respondents these rules would decide are "
            "undetermined (not 'no'): " + "; ".join(f"rule {k!r}: {', '.join(v)}"
                                                    for k, v in out.items())
            + " (map the items in the spec's indicators, the columns in its context section)",
            "MISSING_ITEMS")
    return out


def _graded_lists(ctx: Context, is_child: Pair) -> dict[str, Any]:
    """``{"delphi_lists": ...}`` when a rule graded Delphi dimensions (nothing otherwise); one
    UNCONFIRMED_GRADES warning names the lists tagged R that graded someone."""
    lists = delphi_list_counts(ctx, is_child)
    unconfirmed = {k: v["respondents"] for k, v in lists.items()
                   if v["evidence"] == "R" and v["respondents"]}
    if unconfirmed:
        warn_caller(
            "graded with a Delphi list tagged R, not confirmed against the published ILO/EC "
            "(2009) lists (see its note): " + "; ".join(
                f"{k}: {n} respondent{'s' if n != 1 else ''}" for k, n in unconfirmed.items())
            + " (see provenance['delphi_lists'] and indicator_table().delphi_evidence)",
            "UNCONFIRMED_GRADES")
    return {"delphi_lists": lists} if lists else {}


def _switch(is_child: Pair, adult: Pair, child: Pair) -> Pair:
    """Children (known) take the child result, adults (known) the adult one; with the age
    missing, a result holds only when both do (lower) and may hold when either may (upper)."""
    young, maybe_young = is_child
    unknown = maybe_young & ~young
    lo = np.where(young, child[0], np.where(unknown, adult[0] & child[0], adult[0]))
    hi = np.where(young, child[1], np.where(unknown, adult[1] | child[1], adult[1]))
    return lo, hi


def _canonical_ids(table: IndicatorTable) -> set[str]:
    return set(table.involuntariness) | set(table.penalty)


def _version() -> str:
    return __version__
