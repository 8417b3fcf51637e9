"""Model formulas to model matrices (patsy), with R's names and treatment coding.

A formula such as ``"y ~ x + C(region) + x:C(region)"`` becomes the outcome and the model
matrix of the rows in the model: the domain's rows (``subpop=``) with a value for every
variable of the formula. Categorical terms use treatment coding with the first (sorted)
level as the reference, as R does for factors, and the coefficients take R's names
(``(Intercept)``, ``regionNorth``). The formula's columns on the domain's rows are kept, so
that a prediction rebuilds exactly the same model matrix for new data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from flestimate.errors import ArgumentError, ArgumentTypeError, DataError

__all__ = ["ModelFrame", "model_frame", "new_model_matrix"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_QUOTED = re.compile(r"""Q\(\s*(['"])(.+?)\1\s*\)""")
_LEVEL = re.compile(r"\[(?:T\.)?([^\]]*)\]")
_PLAIN_C = re.compile(r"\bC\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)")


@dataclass(frozen=True)
class ModelFrame:
    """The outcome and model matrix of the rows in the model, and how they were made."""

    y: np.ndarray  # (m,)
    X: np.ndarray  # (m, p)
    rows: np.ndarray  # positions of the model's rows in the design's data
    names: tuple[str, ...]  # R's coefficient names
    terms: tuple[tuple[str, tuple[int, ...]], ...]  # term -> its coefficients
    outcome: str
    frame: pd.DataFrame  # the formula's columns on the domain's rows (for predictions)
    n_excluded: int  # domain rows with a missing value in the formula's variables


def r_name(name: str) -> str:
    """patsy's coefficient name as R's: ``Intercept`` -> ``(Intercept)``,
    ``stype[T.H]`` -> ``stypeH``."""
    return "(Intercept)" if name == "Intercept" else _LEVEL.sub(r"\1", name)


def _columns(formula: str, data: pd.DataFrame) -> list[str]:
    """The data's columns the formula names (identifiers and ``Q("...")``), in data order."""
    named = set(_NAME.findall(formula)) | {m.group(2) for m in _QUOTED.finditer(formula)}
    return [c for c in data.columns if isinstance(c, str) and c in named]


def _as_categories(frame: pd.DataFrame, formula: str) -> pd.DataFrame:
    """The columns of plain ``C(name)`` terms as pandas categoricals of their values present,
    sorted: the levels patsy would find, found by pandas in one vectorised pass (patsy looks
    at a plain column value by value, seconds for a million rows). Boolean columns (patsy
    always gives them both levels), columns already categorical and columns whose values do
    not sort (mixed types) are left to patsy."""
    names = {m.group(1) for m in _PLAIN_C.finditer(formula)}
    out = frame
    for name in names & set(frame.columns):  # the formula's few categorical terms
        col = frame[name]
        if col.dtype == bool or isinstance(col.dtype, pd.CategoricalDtype):
            continue
        try:
            values = pd.Categorical(col)
        except TypeError:
            continue
        out = out.assign(**{name: values})
    return out


def _categorical(data: Any, contrast: Any = None, levels: Any = None) -> Any:
    """patsy's ``C()``, except that a pandas categorical without other arguments is given
    to patsy as it is: patsy then reads its codes at once, where it maps the values of a
    ``C()`` box one by one (the same levels, order and treatment coding)."""
    import patsy  # type: ignore[import-untyped]

    if contrast is None and levels is None and isinstance(getattr(data, "dtype", None),
                                                          pd.CategoricalDtype):
        return data
    return patsy.builtins.C(data, contrast, levels)


def _eval_env() -> Any:
    import patsy

    # Only numpy besides the data: a formula never reads the caller's variables by accident.
    return patsy.EvalEnvironment([{"np": np, "C": _categorical}])


def _dmatrices(formula: str, frame: pd.DataFrame, func: str) -> tuple[pd.DataFrame, Any]:
    import patsy

    try:
        y, X = patsy.dmatrices(formula, frame, NA_action="drop", return_type="dataframe",
                               eval_env=_eval_env())
    except patsy.PatsyError as exc:
        missing = re.search(r"name '([^']+)' is not defined", str(exc))
        if missing:
            raise DataError(f"column {missing.group(1)!r} of `formula` of `{func}()` not "
                            f"found in the design's data") from None
        raise ArgumentError(f"`formula` of `{func}()` cannot be read: "
                            f"{str(exc).splitlines()[0]}") from None
    return y, X


def _outcome(y: pd.DataFrame, func: str) -> tuple[np.ndarray, str]:
    """The outcome column; a boolean outcome (two indicator columns in patsy) is its True
    indicator."""
    names = list(y.columns)
    if len(names) == 2 and names[1].endswith("[True]"):
        return y.iloc[:, 1].to_numpy(dtype=float), names[1][: -len("[True]")]
    if len(names) != 1:
        raise DataError(f"the outcome of `formula` of `{func}()` must be one numeric or boolean "
                        f"column; got {len(names)} columns ({', '.join(map(str, names))})")
    return y.iloc[:, 0].to_numpy(dtype=float), str(names[0])


def model_frame(data: pd.DataFrame, formula: Any, domain_rows: np.ndarray,
                func: str) -> ModelFrame:
    """The model's outcome and matrix on the domain's rows (positions ``domain_rows``) with a
    value for every variable of ``formula``."""
    if not isinstance(formula, str):
        raise ArgumentTypeError(f"`formula` of `{func}()` must be a string such as "
                                f"'y ~ x + C(group)'; got {formula!r}")
    if "~" not in formula:
        raise ArgumentError(f"`formula` of `{func}()` must have an outcome, 'y ~ ...'; got "
                            f"{formula!r}")
    frame = _as_categories(data.iloc[domain_rows][_columns(formula, data)]
                           .reset_index(drop=True), formula)
    simple = _simple_terms(formula, frame)
    if simple is not None:
        return _simple_frame(simple, formula, frame, domain_rows)
    ymat, xmat = _dmatrices(formula, frame, func)
    y, outcome = _outcome(ymat, func)
    kept = xmat.index.to_numpy()
    order, terms = _formula_order(formula, xmat.design_info)
    return ModelFrame(y, xmat.to_numpy(dtype=float)[:, order], domain_rows[kept],
                      tuple(r_name(xmat.columns[j]) for j in order), terms, outcome, frame,
                      int(len(frame) - len(kept)))


# -- main effects built directly -----------------------------------------------------------------
_TERM = re.compile(r"^(?:C\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)|([A-Za-z_][A-Za-z0-9_.]*)|(1))$")


def _simple_terms(formula: str, frame: pd.DataFrame
                  ) -> tuple[str, bool, list[tuple[str, bool]]] | None:
    """The outcome, the intercept and the terms ``(column, categorical)`` of a formula of main
    effects only (``y ~ x + C(g) + ...``: numeric columns and plain ``C()`` of categorical
    columns), which is built directly; None for anything else (patsy builds it)."""
    lhs, _, rhs = formula.partition("~")
    outcome = lhs.strip()
    if not _NAME.fullmatch(outcome) or outcome not in frame.columns:
        return None
    if not (pd.api.types.is_numeric_dtype(frame[outcome])
            and not pd.api.types.is_bool_dtype(frame[outcome])):
        return None
    terms: list[tuple[str, bool]] = []
    intercept = True
    for token in (t.strip() for t in rhs.split("+")):
        m = _TERM.match(token)
        if m is None:
            return None
        if m.group(3):
            continue
        name = m.group(1) or m.group(2)
        if name not in frame.columns or name == outcome:
            return None
        col = frame[name]
        categorical = m.group(1) is not None
        if categorical and not isinstance(col.dtype, pd.CategoricalDtype):
            return None  # left to patsy: booleans and values that do not sort
        if not categorical and (not pd.api.types.is_numeric_dtype(col)
                                or pd.api.types.is_bool_dtype(col)):
            return None
        if (name, categorical) in terms:
            return None
        terms.append((name, categorical))
    return outcome, intercept, terms


def _simple_frame(simple: tuple[str, bool, list[tuple[str, bool]]], formula: str,
                  frame: pd.DataFrame, domain_rows: np.ndarray) -> ModelFrame:
    """patsy's model matrix of a main-effects formula (the same columns, order, names and
    treatment coding: the first category the reference), built from the categorical codes in
    one pass per term instead of patsy's term-by-term evaluation."""
    outcome, _, terms = simple
    used = [outcome, *(name for name, _ in terms)]
    keep = ~frame[used].isna().any(axis=1).to_numpy()
    kept = np.flatnonzero(keep)
    every = kept.size == len(frame)
    m = kept.size
    widths = [len(frame[name].cat.categories) - 1 if categorical else 1
              for name, categorical in terms]
    # column-major: every term's columns are written contiguously
    X = np.zeros((m, 1 + sum(widths)), order="F")
    X[:, 0] = 1.0
    names = ["(Intercept)"]
    term_list: list[tuple[str, tuple[int, ...]]] = []
    for (name, categorical), width in zip(terms, widths, strict=True):
        col = frame[name] if every else frame[name].iloc[kept]
        start = len(names)
        if categorical:
            levels = list(col.cat.categories)
            codes = col.cat.codes.to_numpy()
            on = np.flatnonzero(codes > 0)
            # one flat scatter in place (X.T's row-major order is X's columns: faster than a
            # 2-d fancy index)
            np.put(X.T, (start - 1 + codes[on].astype(np.int64)) * m + on, 1.0)
            names += [r_name(f"C({name})[T.{level}]") for level in levels[1:]]
            label = f"C({name})"
        else:
            X[:, start] = col.to_numpy(dtype=float)
            names.append(name)
            label = name
        term_list.append((label, tuple(range(start, start + width))))
    y = frame[outcome].to_numpy(dtype=float)[kept]
    return ModelFrame(y, X, domain_rows[kept], tuple(names),
                      (("(Intercept)", (0,)), *term_list), outcome, frame,
                      int(len(frame) - m))


def _formula_order(formula: str, info: Any) -> tuple[list[int], tuple[tuple[str, tuple[int, ...]], ...]]:
    """The columns in the formula's order of terms (R's; patsy puts the categorical terms
    first) and every term's coefficient positions in that order."""
    import patsy

    rhs = patsy.ModelDesc.from_formula(formula).rhs_termlist
    slices = info.term_slices
    ordered = [t for t in rhs if t in slices] + [t for t in info.terms if t not in rhs]
    order: list[int] = []
    terms = []
    for t in ordered:
        s = slices[t]
        terms.append((r_name(t.name()), tuple(range(len(order), len(order) + s.stop - s.start))))
        order.extend(range(s.start, s.stop))
    return order, tuple(terms)


def new_model_matrix(formula: str, frame: pd.DataFrame, newdata: pd.DataFrame,
                     func: str) -> np.ndarray:
    """The model matrix of ``newdata`` as the fit built it (the same levels and transforms:
    the fit's design is rebuilt from the fit's own rows)."""
    import patsy

    _, xmat = _dmatrices(formula, frame, func)
    # New data's categoricals go value by value, as patsy maps them onto the fit's levels
    # (their own categories may differ from the fit's).
    plain = {name: newdata[name].astype(object) for name in newdata.columns
             if isinstance(newdata[name].dtype, pd.CategoricalDtype)}
    newdata = newdata.assign(**plain) if plain else newdata
    try:
        (out,) = patsy.build_design_matrices([xmat.design_info], newdata, NA_action="raise",
                                             return_type="dataframe")
    except patsy.PatsyError as exc:
        missing = re.search(r"name '([^']+)' is not defined", str(exc))
        if missing:
            raise DataError(f"column {missing.group(1)!r} of the model not found in "
                            f"`newdata` of `{func}()`") from None
        raise DataError(f"`newdata` of `{func}()` cannot be used: "
                        f"{str(exc).splitlines()[0]}") from None
    order, _ = _formula_order(formula, xmat.design_info)
    return np.asarray(out.to_numpy(dtype=float)[:, order])
