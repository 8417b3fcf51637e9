"""Immutable result objects: a tidy table plus provenance; every display is a view of them."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from flestimate._format import (
    DASH,
    count_text,
    interval_text,
    label_text,
    number_decimals,
    number_text,
    share_decimals,
    share_text,
    text_table,
)
from flestimate.contrast import ContrastSpec, Keys, combine, contrast_rows

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ESTIMATE_COLUMNS", "MATPLOTLIB_HINT", "Contrast", "Estimates", "Result",
           "summary_html"]

#: The message of the ImportError raised by every ``plot()`` when matplotlib is missing.
MATPLOTLIB_HINT = "plotting needs matplotlib: pip install 'flestimate[plot]'"

#: Columns every estimate table has after the by-columns, ``variable`` and ``category``.
ESTIMATE_COLUMNS: tuple[str, ...] = (
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "cv",
    "deff",
    "deff_wr",
    "n",
    "n_eff",
    "df",
    "n_missing",
    "flag",
)


def freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def format_percent(p: float) -> str:
    """A share as NSOs publish it: percent with one decimal, two below 1% (``""`` if missing)."""
    if p is None or not np.isfinite(p):
        return ""
    v = 100 * float(p)
    return f"{v:.1f}" if abs(v) >= 1 or v == 0 else f"{v:.2f}"


def format_count(x: float) -> str:
    """A count with thousands separators and no decimals (``""`` if missing)."""
    return f"{float(x):,.0f}" if x is not None and np.isfinite(x) else ""


def format_number(x: float) -> str:
    """A mean or ratio: four significant digits, thousands separators from 10,000."""
    if x is None or not np.isfinite(x):
        return ""
    return f"{float(x):,.0f}" if abs(x) >= 10_000 else f"{float(x):.4g}"


def new_axes(ax: Axes | None, width: float, height: float) -> Axes:
    """``ax``, or the Axes of a new figure; an ImportError that says how to get matplotlib
    when it is missing.

    The new figure is a standalone :class:`matplotlib.figure.Figure` (flestimate never imports
    pyplot itself), unless the caller has imported ``matplotlib.pyplot`` (as in a notebook):
    then it is a pyplot figure, so that Jupyter shows it inline and ``plt.show()`` finds it.
    """
    if ax is not None:
        return ax
    import sys

    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(MATPLOTLIB_HINT) from exc
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        fig = pyplot.figure(figsize=(width, height), layout="constrained")
    else:
        fig = Figure(figsize=(width, height), layout="constrained")
    new: Axes = fig.add_subplot()
    return new


def is_replicate_summary(d: Mapping[str, Any]) -> bool:
    """Whether a provenance's design summary is a :class:`~flestimate.ReplicateDesign`'s (it has
    a method and a number of replicates, and no strata or PSUs of its own)."""
    return "replicates" in d and "n_strata" not in d


def describe_design(d: Mapping[str, Any]) -> str:
    """A provenance's design summary in words, as the reports print it.

    A Taylor design: rows, weights, strata and PSUs (with their numbers), FPC, design df and
    the lonely-PSU policy. A replicate design: rows, weights, the replicate method, the number
    of replicates, scale, centring, where the replicates came from and the design df.
    """
    if is_replicate_summary(d):
        centre = ("mse (around the full-sample estimate)" if d.get("mse")
                  else "centred on the replicate mean")
        return (f"{d['n_rows']:,} rows; weights {d['weights']}; replicate weights: "
                f"{d['method']}, {d['replicates']} replicates, scale {d['scale']:.6g}, rscales "
                f"{d['rscales']}, {centre}; {d['source']}; design df {d['degf']}")
    strata = ", ".join(d.get("strata") or []) or "none"
    psu = ", ".join(d.get("psu") or []) or "none (elements)"
    text = (f"{d['n_rows']:,} rows; weights {d['weights']}; strata {strata} ({d['n_strata']}); "
            f"PSUs {psu} ({d['n_psu']}); FPC {d.get('fpc') or 'none'}; design df {d['degf']}; "
            f"lonely PSUs: {d['lonely_psu']}")
    if d.get("lonely_strata"):
        text += f" (strata {', '.join(map(label_text, d['lonely_strata']))})"
    return text


def thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def summary_html(title: str, rows: Sequence[tuple[str, Any]]) -> str:
    """A design summary as a compact two-column HTML table (escaped), for Jupyter."""
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                   f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
                   for k, v in rows)
    return f"<div><p><b>{html.escape(title)}</b></p><table border='0'>{body}</table></div>"


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as JSON-ready dicts: missing values None, numpy scalars Python ones."""
    table = frame.astype(object).where(frame.notna(), None)
    return [{str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()}
            for rec in table.to_dict(orient="records")]


class _ReadOnly(dict[Any, Any]):
    """A read-only mapping (MappingProxyType, which cannot be pickled) in a pickled state."""


def _to_state(value: Any) -> Any:
    if isinstance(value, MappingProxyType):
        return _ReadOnly({k: _to_state(v) for k, v in value.items()})
    if type(value) is tuple:
        return tuple(_to_state(v) for v in value)
    return value


def _from_state(value: Any) -> Any:
    if isinstance(value, _ReadOnly):
        return MappingProxyType({k: _from_state(v) for k, v in value.items()})
    if type(value) is tuple:
        return tuple(_from_state(v) for v in value)
    return value


class Frozen:
    """Copying and pickling for immutable objects with ``__slots__`` whose ``__setattr__``
    raises: the state is every slot's value (read-only mappings included), restored without
    going through ``__setattr__``. Designs, classifications and results use it, so a report
    can be sent to a worker process or deep-copied in a notebook."""

    __slots__ = ()

    def __getstate__(self) -> dict[str, Any]:
        state = {}
        for cls in type(self).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if name not in ("__weakref__", "__dict__") and hasattr(self, name):
                    state[name] = _to_state(getattr(self, name))
        state.update({k: _to_state(v) for k, v in getattr(self, "__dict__", {}).items()})
        return state

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, _from_state(value))


class Result(Frozen):
    """The base of every result object: immutable, with its provenance, a tidy frame, a
    JSON-ready ``to_dict``, and the same text, HTML and summary displays.

    A subclass passes its fields to ``__init__`` (frames are copied, the provenance frozen
    deeply) and implements :meth:`to_frame` and :meth:`_title`; it overrides the displays
    only where it shows more than one frame. Nothing can be set or deleted afterwards:
    ``result.x = 1`` and ``del result.provenance`` raise AttributeError, and the provenance's
    mappings are read-only views, so a published number cannot drift from what made it.
    Copies and pickles rebuild the same frozen object.
    """

    __slots__ = ("_frozen", "provenance")
    provenance: Mapping[str, Any]
    #: How the displays name the object ("Estimates", "Aggregate", ...).
    _label: ClassVar[str] = "Result"
    #: The key of the table's records in :meth:`to_dict`.
    _records_key: ClassVar[str] = "table"
    #: What to do instead of changing the object, in the AttributeError.
    _immutable_hint: ClassVar[str] = "build a new one"

    def __init__(self, provenance: Mapping[str, Any], **fields: Any) -> None:
        for name, value in fields.items():
            if isinstance(value, pd.DataFrame | pd.Series):
                value = value.copy()
            object.__setattr__(self, name, value)
        object.__setattr__(self, "provenance", freeze(dict(provenance)))
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; {self._immutable_hint}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; {self._immutable_hint}")

    def to_frame(self) -> pd.DataFrame:
        """The result as one tidy frame (a copy)."""
        raise NotImplementedError

    def _title(self) -> str:
        raise NotImplementedError

    def _display_frame(self) -> pd.DataFrame:
        """What the text and HTML displays show (by default :meth:`to_frame`)."""
        return self.to_frame()

    def to_dict(self) -> dict[str, Any]:
        """The table's records and the provenance as plain Python objects (JSON-ready)."""
        return {self._records_key: records(self.to_frame()),
                "provenance": thaw(self.provenance)}

    def __repr__(self) -> str:
        with pd.option_context("display.max_rows", 40, "display.width", 120):
            body = self._display_frame().to_string(index=False,
                                                   float_format=lambda v: f"{v:.6g}")
        return f"{self._label}: {self._title()}\n{body}"

    def _repr_html_(self) -> str:
        table = self._display_frame().to_html(index=False, border=0, escape=True)
        return (f"<div><p><b>{html.escape(self._label)}</b>: {html.escape(self._title())}</p>"
                f"{table}</div>")

    def summary(self) -> str:
        """A readable report: the display, then the provenance's version."""
        version = self.provenance.get("version")
        return repr(self) + (f"\n\nflestimate {version}" if version else "")


class Estimates(Result):
    """Estimates from one estimator call: a tidy table and the provenance that made it.

    The object is immutable: :meth:`to_frame` returns a copy, and a different interval method or
    level is a new estimator call.

    Attributes
    ----------
    provenance : Mapping
        Estimator, variance method, CI method and level, df rule, lonely-PSU policy, the design
        summary and the flestimate version.
    by : tuple of str
        The domain columns (empty without ``by=``).
    """

    __slots__ = ("_by", "_table", "_vcov")
    _table: pd.DataFrame
    _by: tuple[str, ...]
    _vcov: np.ndarray | None
    _label = "Estimates"
    _records_key = "estimates"
    _immutable_hint = "call the estimator again for new results"

    def __init__(self, table: pd.DataFrame, provenance: Mapping[str, Any], by: tuple[str, ...],
                 vcov: np.ndarray | None = None):
        frozen = None
        if vcov is not None:
            frozen = np.array(vcov, dtype=np.float64)
            frozen.setflags(write=False)
        super().__init__(provenance, _table=table, _by=tuple(by), _vcov=frozen)

    @property
    def by(self) -> tuple[str, ...]:
        return self._by

    # -- covariances and contrasts ----------------------------------------------------------
    def vcov(self) -> pd.DataFrame:
        """The design-based covariance matrix of the estimates, rows and columns in the
        table's order, indexed by (by-columns..., variable[, category]).

        Between the variables (and categories) of a domain it is always there; between
        domains when the estimator was called with ``covmat=True`` (R ``vcov(svymean(...))``
        and ``vcov(svyby(..., covmat=TRUE))``). Taylor designs: the matrix form of the
        linearised variance on the whole design (R ``svyrecvar`` on the influence
        functions); replicate designs: ``scale sum_r rscales_r (theta_r - c)(theta_r - c)'``
        (R ``svrVar``).
        """
        cov = self._covariance("vcov", cells=None)
        index = Keys(self._table, self._by).index()
        out: pd.DataFrame = pd.DataFrame(cov, index=index, columns=index)
        return out

    def _covariance(self, func: str, cells: np.ndarray | None) -> np.ndarray:
        """The full covariance matrix; with blocks per domain only (no ``covmat=True``), the
        blocks, provided ``cells`` (the estimates used, None for all) lie in one domain."""
        from flestimate.errors import ArgumentError

        if self._vcov is None:
            raise ArgumentError(f"`{func}()`: these estimates carry no covariances (made "
                                f"inside a report or combined over imputations); call an "
                                f"estimator of the design")
        if self._vcov.ndim == 2:
            return self._vcov
        n_cells, k, _ = self._vcov.shape
        used = np.arange(n_cells * k) if cells is None else cells
        if n_cells > 1 and np.unique(used // k).size > 1:
            raise ArgumentError(f"`{func}()` needs the covariances between domains: call the "
                                f"estimator with covmat=True (R svyby(..., covmat=TRUE))")
        full = np.full((n_cells * k, n_cells * k), np.nan)
        for_cell = np.arange(n_cells * k) // k
        same = for_cell[:, None] == for_cell[None, :]
        full[same] = self._vcov[for_cell[:, None], np.arange(n_cells * k)[:, None] % k,
                                np.arange(n_cells * k)[None, :] % k][same]
        return full

    def contrast(self, contrast: ContrastSpec | Mapping[str, ContrastSpec], *,
                 level: float | None = None) -> Contrast:
        """Contrasts of the estimates with their SEs, intervals and p-values (R
        ``svycontrast``).

        Parameters
        ----------
        contrast : mapping, vector, function, or a mapping of names to any of them
            ``{"male": 1, "female": -1}`` (coefficients by the estimates' keys: the values
            of what differs between them, e.g. the domain, or a tuple such as ``("male",
            "yes")``), a vector of one coefficient per estimate, or a function of the
            estimates for a non-linear contrast (``lambda e: e["male"] / e["female"]``,
            written with arithmetic and numpy functions); several at once as ``{"name":
            contrast, ...}``.
        level : float, optional
            Confidence level (default that of the estimates).

        Returns
        -------
        Contrast
            One row per contrast: ``contrast, estimate, se, ci_low, ci_high, df, statistic,
            p_value``.

        Notes
        -----
        ``var(g(theta)) = grad' V grad`` (the delta method, exact for a linear contrast; R
        ``svycontrast``); the gradient of a function is taken by the complex step, exact to
        rounding. The interval and the two-sided p-value use t on the smallest df of the
        estimates the contrast uses (R's ``confint`` uses the normal quantile).
        A contrast between domains needs ``covmat=True`` in the estimator call.
        """
        from flestimate._checks import check_level

        named = _named_contrasts(contrast)
        keys = Keys(self._table, self._by)
        est = self._table["estimate"].to_numpy(float)
        rows = [contrast_rows(c, keys, est, "contrast") for c in named.values()]
        values = np.array([r[0] for r in rows])
        grads = np.array([r[1] for r in rows]).reshape(len(rows), len(est))
        cov = self._covariance("contrast", np.flatnonzero((grads != 0).any(axis=0)))
        lev = check_level(self.provenance["level"] if level is None else level, "contrast")
        cols = combine(values, grads, cov, self._table["df"].to_numpy(float), lev)
        table = pd.DataFrame({"contrast": list(named), **cols})
        prov = {**thaw(self.provenance), "contrast_of": self.provenance["estimator"],
                "estimator": "contrast", "level": lev,
                "ci_method": "t on the smallest df of the estimates used",
                "method": "delta method (linear: exact), gradient by complex step"}
        return Contrast(table, prov)

    def difference(self, a: Any, b: Any, *, level: float | None = None) -> Contrast:
        """The difference ``a - b`` of two estimates named by their keys (e.g. two domains),
        with SE, interval and p-value: :meth:`contrast` with ``{a: 1, b: -1}``."""
        name = f"{_key_text(a)} - {_key_text(b)}"
        return self.contrast({name: {a: 1.0, b: -1.0} if not _same_key(a, b) else {a: 0.0}},
                             level=level)

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (a copy): by-columns, ``variable``, [``category``], then
        ``estimate, se, ci_low, ci_high, cv, deff, deff_wr, n, n_eff, df, n_missing, flag``."""
        out: pd.DataFrame = self._table.copy()
        return out

    def __len__(self) -> int:
        return len(self._table)

    def _display_frame(self) -> pd.DataFrame:
        t = self._table
        keep = [*self._by, "variable"]
        if "category" in t.columns and t["category"].notna().any():
            keep.append("category")
        keep += ["estimate", "se", "ci_low", "ci_high", "cv", "deff", "n", "df", "flag"]
        out: pd.DataFrame = t[keep].copy()
        if out["flag"].notna().any():
            out["flag"] = out["flag"].fillna("")
        else:
            out = out.drop(columns="flag")
        return out

    def _title(self) -> str:
        p = self.provenance
        return (
            f"{p['estimator']} ({p['variance']}); {p['ci_method']} {100 * p['level']:g}% CI, "
            f"df: {p['df_rule']}"
        )

    def _formatter(self) -> Callable[[float], str]:
        est = self.provenance["estimator"]
        return {"proportion": format_percent, "total": format_count}.get(est, format_number)

    def _formats(self) -> tuple[Callable[[Any], str], str]:
        """The formatter of the estimate, SE and interval columns (one decimals rule for the
        whole table: :mod:`flestimate._format`) and the estimate column's name."""
        t = self._table
        est = self.provenance["estimator"]
        if est == "proportion":
            d = share_decimals(t["estimate"])
            return (lambda v: share_text(v, d)), "%"
        if est == "total":
            return count_text, "estimate"
        d = number_decimals(t["estimate"])
        return (lambda v: number_text(v, d)), "estimate"

    def publication_table(self) -> pd.DataFrame:
        """The estimates as published (strings): domain values as labels, proportions in
        percent with one decimals rule per column, ``low – high`` intervals, counts with
        thousands separators (what the notebook display and ``flestimate tabulate`` print)."""
        t = self._table
        fmt, name = self._formats()
        pct = name == "%"
        out: pd.DataFrame = pd.DataFrame({c: [label_text(v) for v in t[c]] for c in self._by},
                                         index=t.index)
        out["variable"] = t["variable"].astype(str)
        if "category" in t.columns and t["category"].notna().any():
            out["category"] = [label_text(v) for v in t["category"]]
        out[name] = [fmt(v) for v in t["estimate"]]
        out["% CI" if pct else "CI"] = [interval_text(lo, hi, fmt)
                                        for lo, hi in zip(t["ci_low"], t["ci_high"], strict=True)]
        se_d = share_decimals(t["se"]) + 1 if pct else None
        out["SE (%)" if pct else "SE"] = [share_text(v, se_d) if se_d else fmt(v)
                                          for v in t["se"]]
        out["n"] = [count_text(v) for v in t["n"]]
        out["df"] = [count_text(v) for v in t["df"]]
        if t["flag"].notna().any():
            out["flag"] = t["flag"].astype(object).where(t["flag"].notna(), "")
        return out

    def _html_frame(self) -> pd.DataFrame:
        """The display of :meth:`_repr_html_` (:meth:`publication_table`)."""
        return self.publication_table()

    def to_text(self) -> str:
        """The title, the published table (labels left, numbers right) and a legend, as
        ``flestimate tabulate`` prints it."""
        shown = self.publication_table()
        left = [*self._by, "variable", "category", "flag"]
        pct = self.provenance["estimator"] == "proportion"
        legend = ("% in percent; " if pct else "") + (
            f"CI: low {DASH} high; n: sample rows in the domain; df: design degrees of "
            "freedom")
        return "\n".join([f"{self._label}: {self._title()}", text_table(shown, left=left),
                           legend, "", *self._footer()])

    def _repr_html_(self) -> str:
        table = self._html_frame().to_html(index=False, border=0, escape=True)
        unit = " (shares in %)" if self.provenance["estimator"] == "proportion" else ""
        return (f"<div><p><b>Estimates</b>: {html.escape(self._title())}{unit}</p>"
                f"{table}</div>")

    def plot(self, variable: str | None = None, ax: Axes | None = None) -> Axes:
        """Forest plot of the estimates of one variable with their confidence intervals.

        Parameters
        ----------
        variable : str, optional
            The variable to draw (default the first); every category of it is drawn.
        ax : matplotlib Axes, optional
            Where to draw; by default a new figure (:func:`flestimate.results.new_axes`).

        Returns
        -------
        matplotlib.axes.Axes
            One row per domain (and category), top to bottom in table order: a dot at the
            estimate (line labelled ``"estimate"``) and a horizontal line from ``ci_low`` to
            ``ci_high`` (collection labelled ``"CI"``); proportions in percent.
        """
        from flestimate.errors import ArgumentError, EstimationError

        t = self._table
        variables = list(pd.unique(t["variable"]))
        if not variables:
            why = "an empty subpopulation" + (
                f", or `by` {', '.join(map(repr, self._by))} missing for every row"
                if self._by else "")
            raise EstimationError(f"`plot()` has nothing to draw: the "
                                  f"{self.provenance['estimator']} estimates have no domain "
                                  f"({why})")
        if variable is None:
            variable = str(variables[0])
        if variable not in variables:
            raise ArgumentError(f"`variable` of `plot()` must be one of "
                                f"{', '.join(map(str, variables))}; got {variable!r}")
        rows = t[t["variable"] == variable].reset_index(drop=True)
        pct = self.provenance["estimator"] == "proportion"
        scale = 100.0 if pct else 1.0
        labels = []
        for i in range(len(rows)):
            parts = [f"{b}={rows.at[i, b]}" for b in self._by]
            if "category" in rows.columns and pd.notna(rows.at[i, "category"]):
                parts.append(str(rows.at[i, "category"]))
            labels.append(", ".join(parts) or str(variable))
        ax = new_axes(ax, 7.0, 1.2 + 0.32 * len(rows))
        y = np.arange(len(rows), dtype=float)
        est, lo, hi = (rows[c].to_numpy(float) * scale for c in ("estimate", "ci_low", "ci_high"))
        ok = np.isfinite(lo) & np.isfinite(hi)
        ax.hlines(y[ok], lo[ok], hi[ok], colors="#1f4e79", linewidth=1.6, label="CI")
        ax.plot(est, y, "o", color="#1f4e79", label="estimate")
        ax.set_yticks(y, labels)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        p = self.provenance
        what = f"{100 * p['level']:g}% {p['ci_method']} CI"
        if pct:
            from matplotlib.ticker import PercentFormatter

            ax.xaxis.set_major_formatter(PercentFormatter(xmax=100))
            ax.set_xlabel(f"% ({what})")
        else:
            ax.set_xlabel(f"{p['estimator']} ({what})")
        ax.set_title(f"{variable}", loc="left")
        ax.grid(axis="x", color="#eeeeee")
        return ax

    def summary(self) -> str:
        """A readable report: the table, then the design and the methods used."""
        lines = [
            repr(self),
            "",
            *self._footer(),
        ]
        return "\n".join(lines)

    def _footer(self) -> list[str]:
        """The design, variance, missing values and version lines under the table."""
        p = self.provenance
        d = p["design"]
        weights = (f"sum of weights {count_text(d['sum_weights'])}, Kish deff of weights "
                   f"{d['kish_deff_weights']:.4g}")
        if is_replicate_summary(d):
            design = [f"Design: {describe_design(d)}; {weights}", f"Variance: {p['variance']}"]
        else:
            design = [f"Design: {d['n_rows']:,} rows, {d['n_strata']:,} strata, "
                      f"{d['n_psu']:,} PSUs, {weights}, design df {d['degf']:,}",
                      f"Variance: {p['variance']}; lonely PSUs: {d['lonely_psu']}"
                      + (f" (strata {', '.join(map(label_text, d['lonely_strata']))})"
                         if d["lonely_strata"] else "")]
        return [*design, f"Missing values excluded: {int(self._table['n_missing'].sum()):,}",
                f"flestimate {p['version']}"]


def _named_contrasts(contrast: Any) -> dict[str, Any]:
    """One contrast as ``{"contrast": it}``; a mapping of names to contrasts as it is."""
    if isinstance(contrast, Mapping) and contrast and all(
            isinstance(v, Mapping) or callable(v) or (isinstance(v, Sequence | np.ndarray)
                                                      and not isinstance(v, str))
            for v in contrast.values()):
        return {str(k): v for k, v in contrast.items()}
    return {"contrast": contrast}


def _key_text(key: Any) -> str:
    return " / ".join(map(label_text, key)) if isinstance(key, tuple) else label_text(key)


def _same_key(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


class Contrast(Result):
    """Contrasts of estimates (:meth:`Estimates.contrast`): one row per contrast with
    ``contrast, estimate, se, ci_low, ci_high, df, statistic, p_value``; the provenance is
    that of the estimates, with the contrast's method."""

    __slots__ = ("_table",)
    _table: pd.DataFrame
    _label = "Contrast"
    _records_key = "contrasts"
    _immutable_hint = "call contrast() again for new results"

    def __init__(self, table: pd.DataFrame, provenance: Mapping[str, Any]):
        super().__init__(provenance, _table=table)

    def to_frame(self) -> pd.DataFrame:
        out: pd.DataFrame = self._table.copy()
        return out

    def __len__(self) -> int:
        return len(self._table)

    def _title(self) -> str:
        p = self.provenance
        return (f"of {p['contrast_of']} estimates ({p['variance']}); {100 * p['level']:g}% CI, "
                f"{p['ci_method']}")
