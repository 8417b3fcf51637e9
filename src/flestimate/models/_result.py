"""The results of the models: :class:`GLMResult` (coefficients, covariance, predictions and
Wald tests of terms), :class:`WaldTest` and :class:`TTestResult`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate._checks import check_choice
from flestimate.errors import ArgumentError, ArgumentTypeError
from flestimate.models._fit import FAMILIES
from flestimate.models._formula import new_model_matrix
from flestimate.results import Result, describe_design

if TYPE_CHECKING:
    from flestimate.models._formula import ModelFrame

__all__ = ["GLMResult", "TTestResult", "WaldTest", "coefficient_table"]


def _readonly(a: np.ndarray) -> np.ndarray:
    """``a`` as a read-only float64 array: a float64 array that owns its data (the model
    matrix and covariance made for this result) is frozen in place, not copied (the model
    matrix of a million rows is 100 MB or more); anything else is copied first."""
    out = a if a.dtype == np.float64 and a.flags.owndata else np.array(a, dtype=np.float64)
    out.setflags(write=False)
    return out


def coefficient_table(names: Sequence[str], beta: np.ndarray, vcov: np.ndarray, df: float,
                      level: float, odds: bool) -> pd.DataFrame:
    """The tidy coefficient table: t statistics, two-sided p-values and intervals on ``df``
    (R ``summary.svyglm`` and ``confint.svyglm``: ``b +- t_{df} se``; NaN when df <= 0), and
    for a logistic model the odds ratios ``exp(b)`` with their intervals."""
    from scipy import stats

    se = np.sqrt(np.diag(vcov))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = beta / se
    ok = df > 0
    p = 2 * stats.t.sf(np.abs(t), df) if ok else np.full(len(beta), np.nan)
    q = float(stats.t.ppf(0.5 + level / 2, df)) if ok else np.nan
    table: pd.DataFrame = pd.DataFrame({"term": list(names), "estimate": beta, "se": se, "statistic": t,
                          "p_value": p, "ci_low": beta - q * se, "ci_high": beta + q * se,
                          "df": np.full(len(beta), float(df))})
    if odds:
        table["odds_ratio"] = np.exp(beta)
        table["or_ci_low"] = np.exp(table["ci_low"])
        table["or_ci_high"] = np.exp(table["ci_high"])
    return table


class GLMResult(Result):
    """A fitted survey-weighted GLM: the coefficient table, the design-based covariance of
    the coefficients and the provenance (formula, family, variance method, df rule, rows
    excluded, the design summary, the version).

    :meth:`predict` gives the linear predictor or the mean with SEs (R ``predict.svyglm``),
    :meth:`wald_test` tests terms (R ``regTermTest``).
    """

    __slots__ = ("_X", "_frame", "_index", "_table", "_terms", "_vcov")
    _table: pd.DataFrame
    _vcov: np.ndarray
    _X: np.ndarray
    _frame: pd.DataFrame
    _index: pd.Index
    _terms: tuple[tuple[str, tuple[int, ...]], ...]
    _label = "GLMResult"
    _records_key = "coefficients"
    _immutable_hint = "fit the model again"

    def __init__(self, table: pd.DataFrame, vcov: np.ndarray, provenance: Mapping[str, Any],
                 mf: ModelFrame, index: pd.Index) -> None:
        super().__init__(provenance, _table=table, _vcov=_readonly(vcov), _X=_readonly(mf.X),
                         _frame=mf.frame, _index=index, _terms=mf.terms)

    @property
    def coefficient_names(self) -> tuple[str, ...]:
        """R's names of the coefficients, in order."""
        return tuple(self._table["term"])

    @property
    def terms(self) -> tuple[str, ...]:
        """The model's terms (what :meth:`wald_test` tests)."""
        return tuple(name for name, _ in self._terms)

    def coef(self) -> pd.Series:
        """The coefficients, indexed by name."""
        out: pd.Series = pd.Series(self._table["estimate"].to_numpy(), index=self._names())
        return out

    def _names(self) -> pd.Index:
        out: pd.Index = pd.Index(self._table["term"], name="term")
        return out

    def model_matrix(self) -> np.ndarray:
        """The model matrix of the rows in the model (a copy)."""
        return np.array(self._X)

    def to_frame(self) -> pd.DataFrame:
        """One row per coefficient: ``term``, ``estimate``, ``se``, ``statistic`` (t),
        ``p_value``, ``ci_low``, ``ci_high``, ``df`` (and ``odds_ratio``, ``or_ci_low``,
        ``or_ci_high`` for a logistic model)."""
        out: pd.DataFrame = self._table.copy()
        return out

    def vcov(self) -> pd.DataFrame:
        """The design-based covariance matrix of the coefficients (R ``vcov(svyglm)``)."""
        names = self._names()
        out: pd.DataFrame = pd.DataFrame(np.array(self._vcov), index=names, columns=names)
        return out

    def _title(self) -> str:
        p = self.provenance
        return f"{p['family']} model {p['formula']}"

    def summary(self) -> str:
        """The coefficient table with the model, the design, the variance and the df."""
        p = self.provenance
        lines = [repr(self), "",
                 f"n = {p['n']:,} rows in the model ({p['rows_excluded_missing']} excluded for "
                 f"missing values); residual df {p['df_residual']:g}; dispersion "
                 f"{p['dispersion']:.6g}",
                 f"variance: {p['variance']}", f"df: {p['df_rule']}",
                 f"design: {describe_design(p['design'])}",
                 f"\nflestimate {p['version']}"]
        return "\n".join(lines)

    def predict(self, newdata: pd.DataFrame | None = None, type: str = "link") -> pd.DataFrame:
        """Predictions with design-based SEs (R ``predict.svyglm``).

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict; default the rows in the model.
        type : {"link", "response"}
            The linear predictor, or the mean (probability, count).

        Returns
        -------
        DataFrame
            ``estimate`` and ``se``, indexed as ``newdata`` (or the design's data).

        Notes
        -----
        ``eta = x' b`` with ``se = sqrt(x' V x)``; the mean ``g^{-1}(eta)`` with the delta
        method ``se = |mu.eta(eta)| sqrt(x' V x)``.
        """
        kind = check_choice(type, ("link", "response"), "type", "predict")
        if newdata is None:
            X, index = self._X, self._index
        elif isinstance(newdata, pd.DataFrame):
            X = new_model_matrix(self.provenance["formula"], self._frame, newdata, "predict")
            index = newdata.index
        else:
            raise ArgumentTypeError(f"`newdata` of `predict()` must be a DataFrame or None; got "
                                    f"{newdata.__class__.__name__}")
        family = FAMILIES[self.provenance["family"]]
        eta = X @ self._table["estimate"].to_numpy()
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, self._vcov, X))
        if kind == "response":
            eta, se = family.linkinv(eta), np.abs(family.mu_eta(eta)) * se
        out: pd.DataFrame = pd.DataFrame({"estimate": eta, "se": se}, index=index)
        return out

    def wald_test(self, terms: str | Sequence[str], *, df: float | None = None) -> WaldTest:
        """Wald test that every coefficient of ``terms`` is 0 (R ``regTermTest(model,
        ~terms, method = "Wald")``).

        Parameters
        ----------
        terms : str or list of str
            Term names as :attr:`terms` lists them (``"C(stype)"``, ``"ell"``, ``"ell:meals"``);
            a bare column name also finds its ``C(...)`` term.
        df : float, optional
            Denominator df; default the model's (residual) df; ``numpy.inf`` for a chi-square
            test.

        Returns
        -------
        WaldTest

        Notes
        -----
        ``X2 = b' V^{-1} b`` over the k coefficients of the terms; ``F = X2 / k`` on (k, df)
        degrees of freedom, or ``X2`` on k df when df is infinite.
        """
        from scipy import stats

        wanted = self._term_list(terms)
        index = sorted({j for name, cols in self._terms if name in wanted for j in cols})
        b = self._table["estimate"].to_numpy()[index]
        chisq = float(b @ np.linalg.solve(self._vcov[np.ix_(index, index)], b))
        k = len(index)
        ddf = float(self._table["df"].iloc[0]) if df is None else float(df)
        if np.isinf(ddf):
            stat, p = chisq, float(stats.chi2.sf(chisq, k))
        else:
            stat, p = chisq / k, float(stats.f.sf(chisq / k, k, ddf))
        prov = dict(self.provenance)
        prov.update(estimator="wald_test", terms=list(wanted), method="Wald")
        return WaldTest(pd.DataFrame({"terms": [" + ".join(wanted)], "statistic": [stat],
                                      "df": [float(k)], "ddf": [ddf], "p_value": [p],
                                      "test": ["chisq" if np.isinf(ddf) else "F"]}), prov)

    def _term_list(self, terms: str | Sequence[str]) -> list[str]:
        names = [terms] if isinstance(terms, str) else list(terms)
        if not names or not all(isinstance(t, str) for t in names):
            raise ArgumentTypeError(f"`terms` of `wald_test()` must be a term name or a list of "
                                    f"them; got {terms!r}")
        known = self.terms
        out = []
        for t in names:
            t = t.strip()
            if t not in known and f"C({t})" in known:
                t = f"C({t})"
            out.append(check_choice(t, [k for k in known if k != "(Intercept)"] +
                                    (["(Intercept)"] if "(Intercept)" in known else []),
                                    "terms", "wald_test"))
        if len(set(out)) != len(out):
            raise ArgumentError(f"`terms` of `wald_test()` names a term twice: {names!r}")
        return out


class WaldTest(Result):
    """A Wald test of model terms (R ``regTermTest``): the statistic, its df and p-value."""

    __slots__ = ("_table",)
    _table: pd.DataFrame
    _label = "WaldTest"
    _records_key = "test"
    _immutable_hint = "test again"

    def __init__(self, table: pd.DataFrame, provenance: Mapping[str, Any]) -> None:
        super().__init__(provenance, _table=table)

    def to_frame(self) -> pd.DataFrame:
        """``terms``, ``statistic`` (F, or chi-square with infinite ddf), ``df``, ``ddf``,
        ``p_value``, ``test``."""
        out: pd.DataFrame = self._table.copy()
        return out

    @property
    def statistic(self) -> float:
        return float(self._table["statistic"].iloc[0])

    @property
    def p_value(self) -> float:
        return float(self._table["p_value"].iloc[0])

    def _title(self) -> str:
        return f"Wald test of {', '.join(self.provenance['terms'])} in {self.provenance['formula']}"


class TTestResult(Result):
    """The design-based t-test of a difference of two means (R ``svyttest``)."""

    __slots__ = ("_table",)
    _table: pd.DataFrame
    _label = "TTestResult"
    _records_key = "test"
    _immutable_hint = "test again"

    def __init__(self, row: pd.Series, provenance: Mapping[str, Any]) -> None:
        table = pd.DataFrame({
            "difference": [row["term"]], "estimate": [row["estimate"]], "se": [row["se"]],
            "statistic": [row["statistic"]], "df": [row["df"]], "p_value": [row["p_value"]],
            "ci_low": [row["ci_low"]], "ci_high": [row["ci_high"]]})
        super().__init__(provenance, _table=table)

    def to_frame(self) -> pd.DataFrame:
        """``difference`` (the coefficient's name), ``estimate``, ``se``, ``statistic`` (t),
        ``df``, ``p_value``, ``ci_low``, ``ci_high``."""
        out: pd.DataFrame = self._table.copy()
        return out

    @property
    def estimate(self) -> float:
        return float(self._table["estimate"].iloc[0])

    @property
    def statistic(self) -> float:
        return float(self._table["statistic"].iloc[0])

    @property
    def p_value(self) -> float:
        return float(self._table["p_value"].iloc[0])

    def _title(self) -> str:
        p = self.provenance
        return f"difference of the means of {p['outcome']} by {p['group']}"
