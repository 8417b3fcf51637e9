"""Reliability flags: present, flag or suppress each estimate under a named rule set.

A rule set is data: a YAML file (or mapping) of thresholds for proportions (``measure ==
"share"``) and for counts (``measure == "number"``). Three are built in (``RELIABILITY_RULES``):
``nchs2017`` (the NCHS data presentation standards), ``rse30`` (the older 30/30 rule) and
``none``. A file in the same format selects an NSO's own thresholds::

    name: my_nso
    description: ...
    reference: ...
    proportions: {min_n_eff: 30, present_if_width_at_most: 0.05, ...}
    counts: {min_n: 10, max_relative_width: 1.6, flag_df_below: 8}
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from flestimate._config import check_shape, read_yaml, validate
from flestimate.errors import ArgumentError, ArgumentTypeError, SpecError, format_values

__all__ = [
    "RELIABILITY_COLUMNS",
    "RELIABILITY_RULES",
    "ReliabilityRules",
    "assess_reliability",
    "load_reliability",
    "mark_not_measured",
]

RELIABILITY_DIR = Path(__file__).resolve().parent / "reliability"
#: Names of the built-in rule sets (files under ``report/reliability``).
RELIABILITY_RULES: tuple[str, ...] = ("nchs2017", "rse30", "none")
#: Columns :func:`assess_reliability` reads.
RELIABILITY_COLUMNS: tuple[str, ...] = (
    "measure", "estimate", "se", "kg_low", "kg_high", "n", "n_cases", "n_eff", "df",
)
STATUSES: tuple[str, ...] = ("present", "flag", "suppress")

_NUMBER, _BOOL = "a non-negative number", "true or false"
_PROPORTION_KEYS: dict[str, str] = {
    "min_n": _NUMBER,
    "min_n_eff": _NUMBER,
    "present_if_width_at_most": _NUMBER,
    "suppress_if_width_at_least": _NUMBER,
    "max_relative_width": _NUMBER,
    "flag_complement_relative_width": _NUMBER,
    "flag_df_below": _NUMBER,
    "flag_extreme": _BOOL,
    "flag_rse_at_least": _NUMBER,
    "suppress_rse_at_least": _NUMBER,
}
_COUNT_KEYS: dict[str, str] = {
    key: _PROPORTION_KEYS[key]
    for key in ("min_n", "min_n_eff", "max_relative_width", "flag_df_below",
                "flag_rse_at_least", "suppress_rse_at_least")
}
_TOP_KEYS: tuple[str, ...] = ("name", "description", "reference", "proportions", "counts")
_Test = Callable[[np.ndarray, float], np.ndarray]
_WIDTH_KEYS = ("present_if_width_at_most", "suppress_if_width_at_least", "max_relative_width")


def _threshold_schema(allowed: Mapping[str, str]) -> dict[str, Any]:
    return {"type": ["object", "null"], "message": "must be a mapping of thresholds",
            "properties": {key: ({"type": "boolean", "message": f"must be {_BOOL}"}
                                 if kind == _BOOL else
                                 {"type": "number", "message": f"must be {_NUMBER}"})
                           for key, kind in allowed.items()}}


#: JSON Schema (Draft 2020-12) of a reliability rule set: the types of every key. Unknown keys
#: and ranges are checked by :meth:`ReliabilityRules.from_dict` after it.
RELIABILITY_SCHEMA: Mapping[str, Any] = {
    "type": "object", "message": "a reliability rule set must be a mapping with a `name`",
    "properties": {
        "name": {"type": "string", "message": "a non-empty string is required"},
        "description": {"type": ["string", "null"], "message": "must be a string"},
        "reference": {"type": ["string", "null"], "message": "must be a string"},
        "proportions": _threshold_schema(_PROPORTION_KEYS),
        "counts": _threshold_schema(_COUNT_KEYS),
    },
}


def _unknown_key(source: str, path: str, key: Any, known: list[str]) -> SpecError:
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return SpecError(f"{source}: {path}{key}: unknown key; expected one of "
                     f"{', '.join(known)}{hint}")


def _thresholds(raw: Any, source: str, section: str,
                allowed: Mapping[str, str]) -> Mapping[str, Any]:
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: {section}: must be a mapping of thresholds; got "
                        f"{type(raw).__name__}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in allowed:
            raise _unknown_key(source, f"{section}.", key, list(allowed))
        if allowed[key] == _BOOL:
            ok = isinstance(value, bool)
        else:
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
                  and math.isfinite(value) and value >= 0)
        if not ok:
            raise SpecError(f"{source}: {section}.{key}: must be {allowed[key]}; got {value!r}")
        out[key] = value if allowed[key] == _BOOL else float(value)
    return MappingProxyType(out)


@dataclass(frozen=True)
class ReliabilityRules:
    """A validated, immutable reliability rule set.

    Attributes
    ----------
    name, description, reference : str
        What the rule set is called, what it does and where it comes from.
    source : str
        Where it was read: a file path, ``"<dict>"`` or ``"builtin:<name>"``.
    proportions, counts : Mapping
        Thresholds (keys as in the module docstring; floats, and a bool for ``flag_extreme``).
        A key that is absent is not applied.
    """

    name: str
    source: str
    description: str
    reference: str
    proportions: Mapping[str, Any]
    counts: Mapping[str, Any]

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<dict>") -> ReliabilityRules:
        """Validate a rule-set mapping; a :class:`~flestimate.errors.SpecError` names the key.

        Parameters
        ----------
        raw : Mapping
            ``name`` (required), ``description``, ``reference``, ``proportions``, ``counts``.
        source : str
            Where ``raw`` came from, used in error messages and kept on the result.
        """
        check_shape(raw, source)
        validate(raw, RELIABILITY_SCHEMA, source)
        if not isinstance(raw, Mapping):
            raise SpecError(f"{source}: a reliability rule set must be a mapping with a `name`; "
                            f"got {type(raw).__name__}")
        for key in raw:
            if key not in _TOP_KEYS:
                raise _unknown_key(source, "", key, list(_TOP_KEYS))
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise SpecError(f"{source}: name: a non-empty string is required; got {name!r}")
        text = {}
        for key in ("description", "reference"):
            value = raw.get(key)
            if value is not None and not isinstance(value, str):
                raise SpecError(f"{source}: {key}: must be a string; got {value!r}")
            text[key] = (value or "").strip()
        return cls(name, source, text["description"], text["reference"],
                   _thresholds(raw.get("proportions"), source, "proportions", _PROPORTION_KEYS),
                   _thresholds(raw.get("counts"), source, "counts", _COUNT_KEYS))

    def to_dict(self) -> dict[str, Any]:
        """The rule set in its file format (``source`` is not part of it)."""
        return {"name": self.name, "description": self.description,
                "reference": self.reference, "proportions": dict(self.proportions),
                "counts": dict(self.counts)}

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled and deep-copied as its fields, the thresholds as plain dicts (a read-only
        view cannot be pickled)."""
        return (_rebuild, (self.name, self.source, self.description, self.reference,
                           dict(self.proportions), dict(self.counts)))


def _rebuild(name: str, source: str, description: str, reference: str,
             proportions: dict[str, Any], counts: dict[str, Any]) -> ReliabilityRules:
    """A rule set from its pickled fields, the thresholds read-only again."""
    return ReliabilityRules(name, source, description, reference,
                            MappingProxyType(proportions), MappingProxyType(counts))


def _read_yaml(path: Path, source: str) -> Any:
    """The file with the shared configuration loader (UTF-8, safe YAML, nesting and alias
    limits); every problem is a SpecError naming ``source``."""
    return read_yaml(path, source)


def load_reliability(
    rules: str | Path | Mapping[str, Any] | ReliabilityRules = "nchs2017",
) -> ReliabilityRules:
    """A reliability rule set from a built-in name, a YAML file, a mapping or an instance.

    Parameters
    ----------
    rules : str, Path, Mapping or ReliabilityRules
        A name in ``RELIABILITY_RULES`` (which takes precedence over a file of that name), a
        path to a YAML file (read with a safe loader that limits nesting and aliases), a mapping
        in the same format, or a :class:`ReliabilityRules` (returned as is).

    Returns
    -------
    ReliabilityRules
    """
    if isinstance(rules, ReliabilityRules):
        return rules
    if isinstance(rules, Mapping):
        return ReliabilityRules.from_dict(rules)
    if isinstance(rules, str) and rules in RELIABILITY_RULES:
        source = f"builtin:{rules}"
        return ReliabilityRules.from_dict(
            _read_yaml(RELIABILITY_DIR / f"{rules}.yaml", source), source)
    if isinstance(rules, (str, Path)):
        path = Path(rules)
        if path.is_file():
            return ReliabilityRules.from_dict(_read_yaml(path, str(path)), str(path))
        close = difflib.get_close_matches(str(rules), RELIABILITY_RULES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SpecError(f"reliability rules {str(rules)!r} are neither a built-in rule set "
                        f"({', '.join(RELIABILITY_RULES)}) nor an existing file{hint}")
    raise ArgumentTypeError(f"`rules` of `load_reliability()` must be a rule-set name, a file "
                            f"path, a mapping or a ReliabilityRules; got {type(rules).__name__}")


def _append(reasons: np.ndarray, mask: np.ndarray, text: np.ndarray | str) -> np.ndarray:
    """Add ``text`` to ``reasons`` where ``mask``, separated by "; " (vectorised)."""
    sep = np.where(reasons == "", "", "; ")
    return np.where(mask, np.char.add(np.char.add(reasons, sep), text), reasons)


def _short_of(values: np.ndarray, minimum: float) -> np.ndarray:
    """``values < minimum``, with a missing value failing the minimum too."""
    return ~(values >= minimum)


def _assess(rules: Mapping[str, Any], share: bool,
            col: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Status codes (0 present, 1 flag, 2 suppress) and reasons for rows of one measure."""
    est, se, n, cases, df = col["estimate"], col["se"], col["n"], col["n_cases"], col["df"]
    width = col["kg_high"] - col["kg_low"]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if share:
            boundary = (cases == 0) | (cases == n) | (est == 0) | (est == 1)
            n_eff = np.where(np.isfinite(col["n_eff"]), col["n_eff"], est * (1 - est) / se**2)
            n_eff = np.minimum(np.where(boundary, n, n_eff), n)
            width = np.where(boundary, 0.0, width)
            relative = np.where(width == 0, 0.0, width / est)
            complement = np.where(width == 0, 0.0, width / (1 - est))
        else:
            boundary = np.zeros(est.shape, dtype=bool)
            n_eff, complement = col["n_eff"], np.zeros(est.shape)
            relative = np.where(est > 0, width / est, np.inf)
        rse = np.where(est > 0, se / est, np.inf)
    size = n if share else cases

    reasons = np.full(est.shape, "", dtype=np.str_)
    fail = np.isnan(est)
    reasons = _append(reasons, fail, "no estimate")
    gates: tuple[tuple[str, np.ndarray, _Test, str, float], ...] = (
        ("min_n", size, _short_of, "n %.0f < {}", 1.0),
        ("min_n_eff", n_eff, _short_of, "n_eff %.1f < {}", 1.0),
        ("suppress_rse_at_least", rse, np.greater_equal, "RSE %.0f%% >= {}%%", 100.0))
    live = ~fail
    for key, values, test, template, scale in gates:  # a few rules, never rows
        if (v := rules.get(key)) is not None:
            hit = live & test(values, v)
            reasons = _append(reasons, hit, np.char.mod(template.format(f"{v * scale:g}"),
                                                        values * scale))
            fail = fail | hit
    open_ = ~fail
    short = np.zeros(est.shape, dtype=bool)
    if any(key in rules for key in _WIDTH_KEYS):
        hit = open_ & np.isnan(width)
        reasons, fail, open_ = _append(reasons, hit, "no CI"), fail | hit, open_ & ~hit
    if (v := rules.get("present_if_width_at_most")) is not None:
        short = open_ & (width <= v)
        open_ = open_ & ~short
    if (v := rules.get("suppress_if_width_at_least")) is not None:
        hit = open_ & (width >= v)
        reasons = _append(reasons, hit, np.char.mod(f"CI width %.2f >= {v:.2f}", width))
        fail, open_ = fail | hit, open_ & ~hit
    if (v := rules.get("max_relative_width")) is not None:
        hit = open_ & (relative > v)
        reasons = _append(reasons, hit, np.char.mod(
            f"relative CI width %.0f%% > {v * 100:g}%%", relative * 100))
        fail = fail | hit

    shown = ~fail
    flag = np.zeros(est.shape, dtype=bool)
    checks: tuple[tuple[str, np.ndarray, np.ndarray, _Test, str, float], ...] = (
        ("flag_complement_relative_width", shown & ~short, complement, np.greater,
         "complement relative CI width %.0f%% > {}%%", 100.0),
        ("flag_df_below", shown, df, np.less, "df %g < {}", 1.0),
        ("flag_rse_at_least", shown, rse, np.greater_equal, "RSE %.0f%% >= {}%%", 100.0))
    for key, eligible, values, test, template, scale in checks:
        if (v := rules.get(key)) is not None:
            hit = eligible & test(values, v)
            reasons = _append(reasons, hit, np.char.mod(template.format(f"{v * scale:g}"),
                                                        values * scale))
            flag = flag | hit
    if rules.get("flag_extreme"):
        hit = shown & boundary
        reasons = _append(reasons, hit, np.where(est < 0.5, "p = 0", "p = 1"))
        flag = flag | hit
    return np.where(fail, 2, np.where(flag, 1, 0)), reasons


def _columns(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The rows of shares and of numbers, and the numeric columns the rules read, checked
    (every column present, ``measure`` share or number, the others numeric)."""
    missing = [c for c in RELIABILITY_COLUMNS if c not in table.columns]
    if missing:
        raise ArgumentError(f"`table` of `assess_reliability()` has no column "
                            f"{format_values(missing)}; expected {', '.join(RELIABILITY_COLUMNS)}")
    measure = table["measure"].astype(object).to_numpy()
    is_share, is_number = measure == "share", measure == "number"
    if not (is_share | is_number).all():
        bad = pd.unique(measure[~(is_share | is_number)])
        raise ArgumentError(f"column `measure` of `assess_reliability()` must hold 'share' or "
                            f"'number'; got {format_values(bad)}")
    col: dict[str, np.ndarray] = {}
    for name in RELIABILITY_COLUMNS[1:]:
        try:
            col[name] = pd.to_numeric(table[name]).to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ArgumentError(f"column `{name}` of `assess_reliability()` must be numeric; "
                                f"{exc}") from exc
    return is_share, is_number, col


def assess_reliability(
    table: pd.DataFrame,
    rules: ReliabilityRules | str | Path | Mapping[str, Any] = "nchs2017",
) -> pd.DataFrame:
    """Present, flag or suppress every estimate of a table under a reliability rule set.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``measure`` (``"share"`` for proportions, ``"number"`` for counts), ``estimate``,
        ``se``, ``kg_low`` and ``kg_high`` (the Korn-Graubard interval of a share, the interval
        of a count), ``n`` (unweighted denominator count), ``n_cases`` (unweighted numerator
        count; for a count, the sample cases in it), ``n_eff`` and ``df``.
    rules : ReliabilityRules, str, Path or Mapping
        Anything :func:`load_reliability` accepts; default ``"nchs2017"``.

    Returns
    -------
    pandas.DataFrame
        Same index; ``reliability`` (``"present"``, ``"flag"`` or ``"suppress"``) and
        ``reliability_reason`` (``""`` when presented without a note, else the rules that fired
        with their values, joined by ``"; "``, e.g. ``"n_eff 12.4 < 30"``).

    Notes
    -----
    Proportions follow Parker et al. (2017) in the order of CDC's R ``surveytable``
    (``.lpe_percents``). With ``p`` the estimate and ``W = U - L`` the interval width:

    1. ``n_eff`` is the ``n_eff`` column, or ``p(1-p)/SE^2`` where it is missing; at the boundary
       (``n_cases`` is 0 or ``n``, or ``p`` is 0 or 1) ``n_eff = n`` and ``W = 0``; then
       ``n_eff = min(n_eff, n)``.
    2. Suppress if ``n < min_n``, ``n_eff < min_n_eff`` or ``SE/p >= suppress_rse_at_least``
       (every such gate is reported), or if a width rule is set and the interval is missing.
    3. Otherwise present if ``W <= present_if_width_at_most``; else suppress if
       ``W >= suppress_if_width_at_least``; else suppress if ``W/p > max_relative_width``.
    4. Among presented estimates, flag ``W/(1-p) > flag_complement_relative_width`` (not for
       those presented at step 3's first test, as in ``surveytable``), ``df < flag_df_below``,
       the boundary (``flag_extreme``) and ``SE/p >= flag_rse_at_least``.

    Counts (Parker et al. 2023, Table A): the same gates, with ``min_n`` compared with
    ``n_cases``, then suppress if ``W/estimate > max_relative_width`` (infinite when the
    estimate is not positive); flags for ``df`` and RSE. A missing estimate (an empty domain)
    is suppressed with reason ``"no estimate"``.

    References
    ----------
    Parker JD, Talih M, Malec DJ, et al. National Center for Health Statistics data
    presentation standards for proportions. Vital Health Stat 2(175), 2017.
    Parker JD, Talih M, Irimata KE, et al. National Center for Health Statistics data
    presentation standards for rates and counts. Vital Health Stat 2(200), 2023.
    """
    if not isinstance(table, pd.DataFrame):
        raise ArgumentTypeError(f"`table` of `assess_reliability()` must be a pandas DataFrame; "
                                f"got {type(table).__name__}")
    ruleset = load_reliability(rules)
    is_share, is_number, col = _columns(table)
    code = np.zeros(len(table), dtype=np.int64)
    reason = np.full(len(table), "", dtype=object)
    for rows, section, share in ((is_share, ruleset.proportions, True),
                                 (is_number, ruleset.counts, False)):
        if rows.any():
            # extreme ratios (e.g. a width over a tiny p) only reach the reason text as "inf"
            with np.errstate(over="ignore"):
                code[rows], part = _assess(section, share,
                                           {k: v[rows] for k, v in col.items()})
            reason[rows] = part.astype(object)
    out: pd.DataFrame = pd.DataFrame({"reliability": np.asarray(STATUSES, dtype=object)[code],
                                      "reliability_reason": reason}, index=table.index)
    return out


#: Columns a cell that is not measured leaves empty: nothing that could be read as a value.
NOT_MEASURED_EMPTY: tuple[str, ...] = ("estimate", "se", "ci_low", "ci_high", "cv", "deff",
                                       "n_eff", "minimum", "n_cases")


def mark_not_measured(table: pd.DataFrame, reasons: np.ndarray) -> pd.DataFrame:
    """``table`` with the rows whose ``reasons`` is not empty marked as not measured: the rules
    need an item the data do not measure, so the share or number is not zero but unknown.

    Such a row is suppressed (``reliability`` ``"suppress"``) with ``reasons`` as its only
    ``reliability_reason`` (the flags of the other rules, such as ``p = 0`` or ``n 0 < 10``,
    describe a zero that is not there), no ``ci_flag`` (missing), and ``estimate``, ``se``, the interval,
    ``cv``, ``deff``, ``n_eff``, ``minimum`` and ``n_cases`` (the cases the data cannot count)
    missing. The bounds stay: they are what the data
    say (the lower bound counts the undetermined as out of the class, the upper as in it).
    """
    mask = np.asarray(reasons != "", dtype=bool)
    if not mask.any():
        return table
    out: pd.DataFrame = table.copy()
    out.loc[mask, "reliability"] = "suppress"
    out.loc[mask, "reliability_reason"] = np.asarray(reasons, dtype=object)[mask]
    if "ci_flag" in out.columns:
        out.loc[mask, "ci_flag"] = np.nan
    empty = [c for c in NOT_MEASURED_EMPTY if c in out.columns]
    out.loc[mask, empty] = np.nan
    return out
