"""The immutable result of a multiple systems estimate."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate.results import Result, format_count, new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["MSEResult"]


def _bound(v: float) -> str:
    """A count, or ``"open"`` for an upper bound that was not reached."""
    return "open" if math.isinf(v) else format_count(v)


def _plain(value: Any) -> Any:
    """JSON-ready Python objects from numpy and pandas scalars and containers."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value is pd.NA:
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.astype(object).where(frame.notna(), None)
    return [_plain(rec) for rec in out.to_dict(orient="records")]


class MSEResult(Result):
    """A multiple systems estimate of a population: the fitted log-linear model, the estimate
    of the uncaught, its confidence interval and how the model was chosen.

    Immutable: tables are returned as copies and a different interval or selection rule is a new
    call of :func:`flestimate.mse.fit`.

    Attributes
    ----------
    population : float
        ``observed + unobserved``: the estimated population size.
    unobserved : float
        ``exp(b0)``: the estimated number of cases on no list.
    observed : int
        Distinct cases on at least one list.
    se : float
        Standard error of the population, ``sqrt(exp(b0) + exp(2 b0) Var(b0))`` (Rcapture's
        formula; it adds the Poisson variance of the uncaught to the delta-method term).
    ci_low, ci_high : float
        Confidence interval of the population (``inf`` when the upper bound is not reached).
    level : float
    ci_method : str
        ``"profile"``, ``"profile-intercept"``, ``"bootstrap"`` or ``"wald"``.
    interactions : tuple of (str, str)
        The two-list interactions of the model, in the order the selection added them.
    lists : tuple of str
    aic, bic, deviance : float
        Of the selected model; BIC uses log(observed) per parameter.
    df_resid : int
        ``2^k - 1`` cells minus the number of parameters.
    selection : str
        The rule that chose the model (``"fixed"`` for explicit ``interactions=``).
    provenance : Mapping
        Every choice behind the numbers: the rule and its threshold, why the selection stopped,
        interval settings, bootstrap seed and failures, the flestimate version.
    """

    __slots__ = (
        "_coefficients", "_fitted", "_models", "aic", "bic", "ci_high", "ci_low", "ci_method",
        "deviance", "df_resid", "interactions", "level", "lists", "observed", "population",
        "se", "selection", "unobserved",
    )
    population: float
    unobserved: float
    observed: int
    se: float
    ci_low: float
    ci_high: float
    level: float
    ci_method: str
    interactions: tuple[tuple[str, str], ...]
    lists: tuple[str, ...]
    aic: float
    bic: float
    deviance: float
    df_resid: int
    selection: str
    _coefficients: pd.DataFrame
    _models: pd.DataFrame
    _fitted: pd.DataFrame
    _label = "MSEResult"
    _immutable_hint = "call mse.fit() again for other settings"

    def __init__(
        self,
        *,
        population: float,
        unobserved: float,
        observed: int,
        se: float,
        ci_low: float,
        ci_high: float,
        level: float,
        ci_method: str,
        interactions: tuple[tuple[str, str], ...],
        lists: tuple[str, ...],
        aic: float,
        bic: float,
        deviance: float,
        df_resid: int,
        selection: str,
        coefficients: pd.DataFrame,
        models: pd.DataFrame,
        fitted: pd.DataFrame,
        provenance: Mapping[str, Any],
    ) -> None:
        super().__init__(
            provenance,
            population=float(population), unobserved=float(unobserved),
            observed=int(observed), se=float(se), ci_low=float(ci_low),
            ci_high=float(ci_high), level=float(level), ci_method=ci_method,
            interactions=tuple((str(a), str(b)) for a, b in interactions),
            lists=tuple(lists), aic=float(aic), bic=float(bic), deviance=float(deviance),
            df_resid=int(df_resid), selection=selection, _coefficients=coefficients,
            _models=models, _fitted=fitted,
        )

    @property
    def coefficients(self) -> pd.DataFrame:
        """The fitted log-linear coefficients: ``term, estimate, se, z, p`` (Wald, statsmodels)."""
        out: pd.DataFrame = self._coefficients.copy()
        return out

    @property
    def models(self) -> pd.DataFrame:
        """How the model was chosen: the stepwise steps (term tried, AIC, p-value, decision) or
        the ranking of all models (``selection="aic"``, ``"bic"``, ``"all"``)."""
        out: pd.DataFrame = self._models.copy()
        return out

    @property
    def fitted(self) -> pd.DataFrame:
        """Observed and expected counts by capture history; the last row is the unobserved one
        (all lists 0, ``observed`` missing)."""
        out: pd.DataFrame = self._fitted.copy()
        return out

    @property
    def model(self) -> str:
        """The interactions as ``"LA:NG + NG:GP"`` (``"main effects"`` without any)."""
        if not self.interactions:
            return "main effects"
        return " + ".join(f"{a}:{b}" for a, b in self.interactions)

    def to_frame(self) -> pd.DataFrame:
        """Two tidy rows, ``population`` and ``unobserved``, with estimate, se and interval."""
        width = {"population": 0.0, "unobserved": float(self.observed)}
        rows = []
        for quantity, estimate in (("population", self.population),
                                   ("unobserved", self.unobserved)):
            rows.append({
                "quantity": quantity,
                "estimate": estimate,
                "se": self.se,
                "ci_low": self.ci_low - width[quantity],
                "ci_high": self.ci_high - width[quantity],
                "level": self.level,
                "ci_method": self.ci_method,
                "observed": self.observed,
                "n_lists": len(self.lists),
                "model": self.model,
                "selection": self.selection,
                "aic": self.aic,
                "bic": self.bic,
                "deviance": self.deviance,
                "df_resid": self.df_resid,
            })
        out: pd.DataFrame = pd.DataFrame(rows)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every number and table as plain Python objects (JSON-serialisable; an open upper
        bound is the string ``"inf"``)."""
        return {
            "population": _plain(self.population),
            "unobserved": _plain(self.unobserved),
            "observed": self.observed,
            "se": _plain(self.se),
            "ci_low": _plain(self.ci_low),
            "ci_high": _plain(self.ci_high),
            "level": self.level,
            "ci_method": self.ci_method,
            "interactions": [list(pair) for pair in self.interactions],
            "lists": list(self.lists),
            "aic": _plain(self.aic),
            "bic": _plain(self.bic),
            "deviance": _plain(self.deviance),
            "df_resid": self.df_resid,
            "selection": self.selection,
            "coefficients": _records(self._coefficients),
            "models": _records(self._models),
            "fitted": _records(self._fitted),
            "provenance": _plain(dict(self.provenance)),
        }

    def _title(self) -> str:
        """The estimate in one line: population, interval, observed and unobserved."""
        return (
            f"population {self.population:,.0f} ({100 * self.level:g}% CI "
            f"{self.ci_low:,.0f} - {self.ci_high:,.0f}, {self.ci_method}); observed "
            f"{self.observed:,}, unobserved {self.unobserved:,.0f}"
        )

    def __repr__(self) -> str:
        """The estimate, then the lists and the model."""
        return (
            f"{self._label}: {self._title()}\n"
            f"  {len(self.lists)} lists ({', '.join(self.lists)}); model: {self.model} "
            f"[selection: {self.selection}]"
        )

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        shown = pd.DataFrame({
            "": frame["quantity"],
            "estimate": [format_count(v) for v in frame["estimate"]],
            f"{100 * self.level:g}% CI": [f"{_bound(lo)} – {_bound(hi)}" for lo, hi in
                                          zip(frame["ci_low"], frame["ci_high"], strict=True)],
            "SE": [format_count(v) for v in frame["se"]],
        })
        table = shown.to_html(index=False, border=0, escape=True)
        fit = (f"Model: {self.model} (selection: {self.selection}); AIC {self.aic:.2f}, BIC "
               f"{self.bic:.2f}, deviance {self.deviance:.2f} on {self.df_resid} df; "
               f"{len(self.lists)} lists ({', '.join(self.lists)}); CI: {self.ci_method}")
        return (
            f"<div><p><b>MSEResult</b>: {html.escape(self._title())}</p>{table}"
            f"<p><small>{html.escape(fit)}</small></p></div>"
        )

    def plot(self, ax: Axes | None = None) -> Axes:
        """Model comparison: the population each model gives against its AIC, with the interval
        of the chosen model.

        For a stepwise selection every step is drawn (the population after each added
        interaction, joined in order and labelled with the term); for a ranking
        (``selection="aic"``, ``"bic"``, ``"all"``) every fitted model of :attr:`models`; for a
        fixed model only its estimate.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; by default a new figure (:func:`flestimate.results.new_axes`).

        Returns
        -------
        matplotlib.axes.Axes
            Population on the x axis, AIC on the y axis: the models (line labelled
            ``"steps"`` or ``"models"``), the chosen model (``"chosen"``) and its interval from
            ``ci_low`` to ``ci_high`` (collection ``"CI"``; an open upper bound is drawn to the
            right edge).
        """
        from matplotlib.ticker import FuncFormatter

        models = self._models
        ax = new_axes(ax, 7.0, 4.2)
        if "step" in models.columns:
            steps = models[np.isfinite(models["population"].to_numpy(float))]
            added = steps[~steps["decision"].astype(str).str.startswith("not added")]
            ax.plot(added["population"], added["aic"], "-o", color="#9a9a9a", markersize=4,
                    label="steps", zorder=2)
            rest = steps[steps["decision"].astype(str).str.startswith("not added")]
            if len(rest):
                ax.plot(rest["population"], rest["aic"], "x", color="#9a9a9a",
                        label="not added", zorder=2)
            for term, x, y in zip(steps["term"], steps["population"], steps["aic"],
                                  strict=True):
                text = str(term) if isinstance(term, str) and term else "main effects"
                ax.annotate(text, (x, y), xytext=(4, 3), textcoords="offset points",
                            fontsize="x-small", color="#555555")
        elif "rank" in models.columns:
            ok = np.isfinite(models["population"].to_numpy(float))
            ax.plot(models["population"][ok], models["aic"][ok], "o", color="#9a9a9a",
                    markersize=3, alpha=0.6, label="models", zorder=2)
        hi = self.ci_high if math.isfinite(self.ci_high) else None
        ax.plot([self.population], [self.aic], "D", color="#b22222", zorder=4,
                label=f"chosen: {self.population:,.0f}")
        right = hi if hi is not None else max(ax.get_xlim()[1], self.ci_low * 1.5)
        ax.hlines([self.aic], [self.ci_low], [right], colors="#b22222", linewidth=2,
                  zorder=3, label="CI")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_xlabel(f"population (chosen model: {100 * self.level:g}% {self.ci_method} CI)")
        ax.set_ylabel("AIC")
        ax.set_title(f"MSE model comparison ({self.selection})", loc="left")
        ax.grid(color="#eeeeee")
        ax.legend(loc="best", fontsize="small", frameon=False)
        return ax

    def summary(self) -> str:
        """A readable report: the display, then the estimate, the model, its coefficients and
        the selection."""
        p = self.provenance
        def fmt(v: float) -> str:
            return f"{v:.6g}"

        with pd.option_context("display.max_rows", 60, "display.width", 120):
            coefs = self._coefficients.to_string(index=False, float_format=fmt)
            models = self._models.head(20).to_string(index=False, float_format=fmt)
        lines = [
            repr(self),
            "",
            "Multiple systems estimate (Poisson log-linear model)",
            f"Lists ({len(self.lists)}): {', '.join(self.lists)}; observed cases "
            f"{self.observed:,}; {p.get('n_cells')} observable histories, "
            f"{p.get('zero_cells')} with no case",
            f"Population: {self.population:,.1f} (se {self.se:,.1f}); "
            f"unobserved {self.unobserved:,.1f}",
            f"{100 * self.level:g}% CI ({self.ci_method}): {self.ci_low:,.1f} - "
            f"{self.ci_high:,.1f}" + (f" [{p['ci_note']}]" if p.get("ci_note") else ""),
            f"Model: {self.model}",
            f"AIC {self.aic:.3f}, BIC {self.bic:.3f}, deviance {self.deviance:.3f} on "
            f"{self.df_resid} df",
            f"Selection: {self.selection}" + (f" ({p['rule']})" if p.get("rule") else ""),
            f"Stopped: {p.get('stop', '')}",
            "",
            "Coefficients:",
            coefs,
            "",
            "Selection table" + (" (first 20 rows):" if len(self._models) > 20 else ":"),
            models,
        ]
        if self.ci_method == "bootstrap":
            lines += ["", f"Bootstrap: {p.get('n_boot')} replicates, seed {p.get('seed')}, "
                          f"reselect={p.get('reselect')}, failed {p.get('n_boot_failed')}"]
        lines.append(f"flestimate {p.get('version')}")
        return "\n".join(lines)
