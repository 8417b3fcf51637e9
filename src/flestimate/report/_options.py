"""The options of the main job, declared once.

One record per keyword of :func:`~flestimate.estimate_prevalence` (besides its input files): its
name, its help text, how a value is checked and how the command line's text becomes a value.
From this table

* ``estimate_prevalence`` checks its keywords (:func:`check_options`) before any file is read,
  so that an error names the function the user called and the keyword at fault;
* ``flestimate estimate`` and ``flestimate sensitivity`` add their arguments
  (:func:`add_arguments`: ``--name-with-dashes``, the same help text) and check what they were
  given (:func:`given_options`);
* a batch file (TOML) checks its keys (``flestimate.batch``).

Every frontend says the same thing after its own "where": "`ci` of `estimate_prevalence()`",
"--ci" or "batch.toml: survey[0].ci:", then e.g. "must be one of korn-graubard, beta, logit,
wilson, wald; got 'wilsen'; did you mean 'wilson'?". ``tests/test_options.py`` holds the three
to the table.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flestimate.classification._evaluate import PLAIN_PENALTIES
from flestimate.design import LONELY_PSU_RULES
from flestimate.disclosure import DISCLOSURE_RULES
from flestimate.errors import ArgumentError, ArgumentTypeError
from flestimate.intervals import PROPORTION_CI_METHODS
from flestimate.mapping import DESIGN_KEYS

__all__ = ["CALIBRATION_METHODS", "MISSING_METHODS", "NOT_OPTIONS", "OPTIONS",
           "PREVALENCE_CI_METHODS", "RULE_KINDS", "VARIANCE_METHODS", "InvalidOption", "Option",
           "OptionTypeError", "add_arguments", "builtin_names", "check_option", "check_options",
           "given_options", "is_path", "margins", "option"]

#: ``ci=`` choices: the interval methods for proportions, and Wald.
PREVALENCE_CI_METHODS = (*PROPORTION_CI_METHODS, "wald")

#: ``missing=`` choices: multiple imputation of the undetermined, or the minimum estimate.
MISSING_METHODS = ("impute", "minimum")

#: ``variance=`` choices: Taylor linearisation or replicates made from the declared design.
VARIANCE_METHODS = ("taylor", "replicate", "jk1", "jkn", "brr", "fay", "bootstrap",
                    "subbootstrap")

#: ``calibration_method=`` choices (:meth:`SurveyDesign.calibrate`, ``poststratify``, ``rake``).
CALIBRATION_METHODS = ("linear", "raking", "logit", "poststratify", "rake")

#: The rule-set keywords, each naming a built-in rule set of its kind or a YAML file.
RULE_KINDS = ("forced_labour", "trafficking", "child", "form")

#: Keywords of ``estimate_prevalence`` that are not in :data:`OPTIONS`, and why.
NOT_OPTIONS: Mapping[str, str] = {
    "data_or_path": "the person file: FILE on the command line, `file` of a batch survey",
    "spec": "the module spec: --spec on the command line, `spec` of a batch survey",
    "households": "the household file: --households on the command line, `households` of a "
                  "batch survey",
}


_NOTHING = object()


class InvalidOption(Exception):
    """A value an option does not take.

    The message is ``expected``, "; got" and the value as the frontend shows it (Python and the
    command line its ``repr``; a batch file its TOML type too), then ``hint`` (a did-you-mean).
    ``at`` is the key inside the option (``".strata"`` of ``design``); ``wrong_type`` when the
    value's type is wrong (an :class:`~flestimate.errors.ArgumentTypeError` in Python).
    """

    def __init__(self, expected: str, value: Any = _NOTHING, hint: str = "", *,
                 at: str = "", wrong_type: bool = False) -> None:
        super().__init__(expected)
        self.expected = expected
        self.value = value
        self.hint = hint
        self.at = at
        self.wrong_type = wrong_type

    def message(self, show: Callable[[Any], str] = repr) -> str:
        """The problem, e.g. "must be one of impute, minimum; got 'imput'; did you mean
        'impute'?"."""
        got = "" if self.value is _NOTHING else f"; got {show(self.value)}"
        return f"{self.expected}{got}{self.hint}"


def _text(text: str) -> Any:
    return text


@dataclass(frozen=True)
class Option:
    """One option of the main job.

    Attributes
    ----------
    name : str
        The keyword of :func:`~flestimate.estimate_prevalence` and the key of a batch file; the
        command line's flag is ``--`` and the name with dashes (:attr:`flag`).
    help : str
        What it does, with its default (the command line's help; docs/cli.md).
    check : callable
        Value -> the value (normalised where a frontend needs it); raises
        :class:`InvalidOption`.
    parse : callable
        The command line's text -> a value for ``check``; raises :class:`InvalidOption`.
    metavar : str
        How the command line's help shows the value.
    choices : callable, optional
        The names it takes (for the help and did-you-mean hints).
    repeat : bool
        Given once per value on the command line (``--design KEY=VALUE``).
    """

    name: str
    help: str
    check: Callable[[Any], Any]
    parse: Callable[[str], Any] = _text
    metavar: str = "TEXT"
    choices: Callable[[], Sequence[str]] | None = None
    repeat: bool = False

    @property
    def flag(self) -> str:
        """The command line's flag, e.g. ``--plain-penalties``."""
        return "--" + self.name.replace("_", "-")


# -- checks -------------------------------------------------------------------------------------
def _hint(value: Any, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float | np.integer |
                                                      np.floating)


def _choice(choices: Sequence[str], none: bool = False) -> Callable[[Any], Any]:
    """A check that the value is one of ``choices`` (or None with ``none``)."""
    def check(value: Any) -> Any:
        if (value is None and none) or (isinstance(value, str) and value in choices):
            return value
        raise InvalidOption(f"must be one of {', '.join(choices)}", value,
                            _hint(value, choices))
    return check


def _number(low: float, high: float | None = None, none: bool = False) -> Callable[[Any], Any]:
    """A check that the value is a number in (low, high) (or > low; or None with ``none``)."""
    span = f"in ({low:g}, {high:g})" if high is not None else f"> {low:g}"
    what = f"must be a number {span}" + (" or None" if none else "")

    def check(value: Any) -> Any:
        if value is None and none:
            return value
        if not _is_number(value):
            raise InvalidOption(what, value, wrong_type=True)
        if not (low < value and (high is None or value < high)):
            raise InvalidOption(what, value)
        return float(value)
    return check


def _integer(low: int, none: bool = False) -> Callable[[Any], Any]:
    """A check that the value is an integer >= low (or None with ``none``)."""
    kind = {0: "a non-negative integer", 1: "a positive integer"}.get(low,
                                                                     f"an integer >= {low}")
    what = f"must be {kind}" + (" or None" if none else "")

    def check(value: Any) -> Any:
        if value is None and none:
            return value
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise InvalidOption(what, value, wrong_type=True)
        if value < low:
            raise InvalidOption(what, value)
        return value
    return check


def _seed(value: Any) -> Any:
    """None, a non-negative integer or (in Python) a ``numpy.random.Generator``."""
    if value is None or isinstance(value, np.random.Generator):
        return value
    return _integer(0)(value)


def is_path(value: str) -> bool:
    """Whether a name is a file rather than a built-in name: it has a folder or a YAML
    extension."""
    return "/" in value or "\\" in value or value.lower().endswith((".yaml", ".yml"))


def builtin_names(kind: str) -> list[str]:
    """The built-in names a reference option takes: reliability rule sets, or the rule sets of
    one kind (``forced_labour``, ...)."""
    if kind == "reliability":
        from flestimate.report._reliability import RELIABILITY_RULES

        return list(RELIABILITY_RULES)
    from flestimate.classification._rules import builtin_rules

    return [name for name, k in builtin_rules().items() if k == kind]


def _reference(kind: str, what: str) -> Callable[[Any], Any]:
    """A check that a name is a built-in of ``kind`` or a YAML file (a file is read later;
    objects and mappings, in Python, are checked where they are used)."""
    def check(value: Any) -> Any:
        if not isinstance(value, str) or is_path(value):
            return value
        names = builtin_names(kind)
        if value in names:
            return value
        raise InvalidOption(f"must be a built-in {what} ({', '.join(names)}) or a .yaml file",
                            value, _hint(value, names))
    return check


def _indicators(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise InvalidOption("must be None or an indicator table (a .yaml file)", value)
    return value


def margins(by: Any) -> list[tuple[str, ...]]:
    """``by`` as a list of margins: "sex" one margin; "sex,region" or ["sex", "region"] two
    margins; "sex*region" (or a tuple inside the list) one crossed margin."""
    if by is None:
        return []
    items = [by] if isinstance(by, str | tuple) else by
    if not isinstance(items, Sequence):
        raise InvalidOption("must be a column name, names separated by commas or a list of "
                            "them", by, wrong_type=True)
    out: list[tuple[str, ...]] = []
    for item in items:
        parts = (([p for p in item.split(",") if p.strip()] or [item])
                 if isinstance(item, str) else [item])
        for part in parts:
            cols = (tuple(c.strip() for c in part.split("*")) if isinstance(part, str)
                    else tuple(part) if isinstance(part, Sequence) else ())
            if not cols or not all(isinstance(c, str) and c for c in cols):
                raise InvalidOption("must name columns: a name, names separated by commas, a "
                                    "crossing like 'sex*region' or a list of them", part)
            if cols not in out:
                out.append(cols)
    return out


def _by(value: Any) -> Any:
    margins(value)
    return value


def _compare(value: Any) -> Any:
    """None, True/False, a margin name ("sex", "sex,region", "sex=female"), a list of them
    or a mapping of margins to reference domains."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():
        return value
    if (isinstance(value, Sequence) and not isinstance(value, str) and value
            and all(isinstance(v, str) and v.strip() for v in value)):
        return list(value)
    if isinstance(value, Mapping) and value and all(
            isinstance(k, str) and (v is None or isinstance(v, str | int | float))
            for k, v in value.items()):
        return dict(value)
    raise InvalidOption("must be true, a margin of `by` ('sex'), margins separated by commas, "
                        "'sex=female' (with the reference domain), a list of them or a "
                        "mapping of margins to reference domains", value, wrong_type=True)


def _as_compare(text: str) -> Any:
    return True if text.strip().lower() in ("all", "true") else text


def _bounds(value: Any) -> Any:
    """None or (low, high), two numbers with low < high."""
    if value is None:
        return value
    ok = (isinstance(value, Sequence | np.ndarray) and not isinstance(value, str)
          and len(value) == 2 and all(_is_number(v) for v in value))
    if not ok or not value[0] < value[1]:
        raise InvalidOption("must be None or two numbers (low, high) with low < high", value,
                            wrong_type=not ok)
    return value


def _disclosure(value: Any) -> Any:
    if value is None or not isinstance(value, str):  # a mapping or DisclosureRules in Python
        return value
    return _choice(DISCLOSURE_RULES)(value)


def _texts(value: Any, at: str) -> Any:
    """A column name or a non-empty list of them."""
    if isinstance(value, str) and value:
        return value
    if (isinstance(value, Sequence) and not isinstance(value, str) and value
            and all(isinstance(v, str) and v for v in value)):
        return list(value)
    raise InvalidOption("must be a column name or a non-empty list of column names", value,
                        at=at, wrong_type=True)


def _design_value(key: str, value: Any) -> Any:
    """One key of ``design`` checked (the types of the spec's design section)."""
    at = f".{key}"
    if key in ("weights", "replicate_method"):
        if not isinstance(value, str) or not value.strip():
            raise InvalidOption("must be a non-empty string", value, at=at, wrong_type=True)
        return value
    if key in ("strata", "psu", "fpc", "replicate_weights"):
        return _texts(value, at)
    if key in ("nest", "replicate_mse", "replicate_combined"):
        if not isinstance(value, bool | np.bool_):
            raise InvalidOption("must be true or false", value, at=at, wrong_type=True)
        return bool(value)
    if key in ("replicate_scale", "replicate_rho"):
        if not _is_number(value):
            raise InvalidOption("must be a number", value, at=at, wrong_type=True)
        return float(value)
    if key == "replicate_rscales":
        if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray) or not all(
                _is_number(x) for x in value):
            raise InvalidOption("must be an array of numbers", value, at=at, wrong_type=True)
        return [float(x) for x in value]
    try:
        return _choice(LONELY_PSU_RULES)(value)
    except InvalidOption as exc:
        exc.at = at
        raise


def _design(value: Any) -> Any:
    """None or a mapping like the spec's design section, its keys and their types checked."""
    if value is None:
        return value
    if not isinstance(value, Mapping):
        raise InvalidOption("must be a mapping like the spec's design section", value,
                            wrong_type=True)
    keys = sorted(DESIGN_KEYS)
    for key in value:
        if key not in DESIGN_KEYS:
            close = difflib.get_close_matches(str(key), keys, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(keys)}"
            raise InvalidOption("unknown key", hint=hint, at=f".{key}")
    return {k: _design_value(k, v) for k, v in value.items()}


def _calibrate(value: Any) -> Any:
    """None, population totals (a DataFrame, a list of them or a mapping, in Python) or CSV
    files of them (a path or a list of paths)."""
    import pandas as pd

    if value is None or isinstance(value, pd.DataFrame | Mapping):
        return value
    items = [value] if isinstance(value, str | Path) else value
    if (isinstance(items, list | tuple) and items and all(
            isinstance(v, pd.DataFrame) or (isinstance(v, str | Path) and str(v).strip())
            for v in items)):
        return value
    raise InvalidOption("must be None, population totals (a DataFrame, a list of them or a "
                        "mapping) or CSV files of them", value, wrong_type=True)


# -- the command line's text --------------------------------------------------------------------
def _as_number(text: str) -> Any:
    """An integer if the text is one, else a float; the text itself if neither (the check
    then says what was expected)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _as_pair(text: str) -> Any:
    parts = [_as_number(p.strip()) for p in text.split(",")]
    return tuple(parts) if len(parts) == 2 else text


_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def _as_design(items: list[str]) -> dict[str, Any]:
    """``--design KEY=VALUE`` given once per key: lists separated by commas, true or false, and
    numbers."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidOption("must be KEY=VALUE (e.g. strata=region,urban)", item,
                                wrong_type=True)
        value: Any = text.strip()
        if key in ("strata", "psu", "fpc", "replicate_rscales") or (
                key == "replicate_weights" and re.fullmatch(r"[\w.]+(,[\w.]+)+", value)):
            names = [v.strip() for v in value.split(",") if v.strip()]
            value = ([_as_number(v) for v in names] if key == "replicate_rscales"
                     else names[0] if len(names) == 1 else names)
        elif key in ("nest", "replicate_mse", "replicate_combined"):
            low = value.lower()
            value = True if low in _TRUE else False if low in _FALSE else value
        elif key in ("replicate_scale", "replicate_rho"):
            value = _as_number(value)
        out[key] = value
    return out


# -- the table ----------------------------------------------------------------------------------
def _names(kind: str) -> Callable[[], Sequence[str]]:
    return lambda: builtin_names(kind)


def _rule_set(kind: str, default: str, what: str) -> Option:
    return Option(kind, f"{what} rule set: a built-in name or a YAML file (default {default})",
                  _reference(kind, f"{kind} rule set"), metavar="NAME/FILE",
                  choices=_names(kind))


#: The options, in the order of the signature of ``estimate_prevalence``.
OPTIONS: tuple[Option, ...] = (
    Option("by", "domain margins: 'sex', names separated by commas ('sex,region': two margins) "
                 "or a crossing ('sex*region')", _by, metavar="MARGINS"),
    Option("ci", "interval for shares (default korn-graubard); numbers get the log-scale "
                 "interval, Wald with wald", _choice(PREVALENCE_CI_METHODS),
           choices=lambda: PREVALENCE_CI_METHODS),
    Option("variance", "Taylor linearisation (default taylor), the file's replicate weights "
                       "declared in the design (replicate), or replicates made from the design",
           _choice(VARIANCE_METHODS), choices=lambda: VARIANCE_METHODS),
    Option("level", "confidence level (default 0.95)", _number(0.0, 1.0), _as_number,
           metavar="LEVEL"),
    Option("df", "degrees of freedom of the intervals (default: the design df of each domain)",
           _number(0.0, None, none=True), _as_number, metavar="DF"),
    Option("design", "override a key of the spec's design section, KEY=VALUE, once per key "
                     "(e.g. weights=wt, strata=region,urban, lonely_psu=adjust)", _design,
           metavar="KEY=VALUE", repeat=True),
    Option("replicates", "replicates made from the design (default 50)",
           _integer(2, none=True), _as_number, metavar="N"),
    Option("seed", "seed of the bootstrap replicates and of the imputations (the imputations "
                   "use 0 when none is given)", _seed, _as_number, metavar="N"),
    Option("reliability", "reliability rule set: nchs2017 (default), rse30, none, or a YAML "
                          "file", _reference("reliability", "reliability rule set"),
           metavar="NAME/FILE", choices=_names("reliability")),
    _rule_set("forced_labour", "icls2018", "forced-labour"),
    _rule_set("trafficking", "seed2007", "trafficking"),
    _rule_set("child", "child2018", "child-labour"),
    _rule_set("form", "ilo2005", "forms-of-forced-labour"),
    Option("indicators", "indicator table, a YAML file (default: the built-in one)",
           _indicators, metavar="FILE"),
    Option("plain_penalties", "a penalty recorded without the dimension in which it was "
                              "applied, where a rule asks for one dimension: undetermined "
                              "there (default unknown_dimension), counted in every dimension, "
                              "ignored, or an error", _choice(PLAIN_PENALTIES),
           choices=lambda: PLAIN_PENALTIES),
    Option("calibrate", "population totals to calibrate the weights to: a CSV file of margin "
                        "columns and a total column, once per margin", _calibrate,
           metavar="FILE", repeat=True),
    Option("calibration_method", "calibration distance (default linear)",
           _choice(CALIBRATION_METHODS), choices=lambda: CALIBRATION_METHODS),
    Option("calibration_bounds", "bounds on the g-weights, LOW,HIGH (required for logit)",
           _bounds, _as_pair, metavar="LOW,HIGH"),
    Option("missing", "undetermined respondents: multiple imputation (default impute) or "
                      "counted as not (minimum, the ILO minimum-estimate convention)",
           _choice(MISSING_METHODS), choices=lambda: MISSING_METHODS),
    Option("imputations", "number of imputations M (default 20)", _integer(2), _as_number,
           metavar="M"),
    Option("imputation_classes", "latent classes of the imputation model (default 2)",
           _integer(1), _as_number, metavar="K"),
    Option("disclosure", "disclosure control: threshold (the default, or the spec's: no cell "
                         "of fewer than --disclosure-threshold respondents, with "
                         "complementary suppression) or none (internal use)", _disclosure,
           choices=lambda: DISCLOSURE_RULES),
    Option("disclosure_threshold", "minimum respondents behind a published cell (default 3, "
                                   "or the spec's)", _integer(1, none=True), _as_number,
           metavar="N"),
    Option("compare", "a table of domain differences of the shares in forced labour and "
                      "trafficked, against the first domain of each margin named ('sex', "
                      "'sex,region', or all), or against a given one ('sex=female'), with "
                      "the SE, interval and p-value of each difference", _compare,
           _as_compare, metavar="MARGINS"),
)

_BY_NAME: Mapping[str, Option] = {o.name: o for o in OPTIONS}


def option(name: str) -> Option:
    """The option called ``name``."""
    return _BY_NAME[name]


# -- Python -------------------------------------------------------------------------------------
class OptionTypeError(ArgumentTypeError, ArgumentError):
    """A keyword of the wrong type: an :class:`~flestimate.errors.ArgumentTypeError` (a
    ``TypeError``) that is also an :class:`~flestimate.errors.ArgumentError`, as these keywords
    raised before the table checked them (scikit-learn's ``InvalidParameterError`` is both
    too)."""


def check_option(name: str, value: Any, func: str = "estimate_prevalence") -> Any:
    """``value`` of the keyword ``name`` checked; an ArgumentError (an ArgumentTypeError for
    a wrong type) in the library's format, e.g. "`level` of `estimate_prevalence()` must be a
    number in (0, 1); got 95"."""
    try:
        return _BY_NAME[name].check(value)
    except InvalidOption as exc:
        message = exc.message()
        sep = " " if message.startswith("must") else ": "
        error = OptionTypeError if exc.wrong_type else ArgumentError
        raise error(f"`{name}{exc.at}` of `{func}()`{sep}{message}") from None


def check_options(values: Mapping[str, Any], func: str = "estimate_prevalence") -> None:
    """Every option in ``values`` checked (:func:`check_option`), in the table's order."""
    for opt in OPTIONS:
        if opt.name in values:
            check_option(opt.name, values[opt.name], func)


# -- the command line ---------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser, skip: Sequence[str] = (),
                  only: Sequence[str] | None = None) -> None:
    """One ``--name-with-dashes`` argument per option (but ``skip``; only ``only`` when
    given), with the table's help; values are read as text and checked by
    :func:`given_options` (one-line errors)."""
    for opt in OPTIONS:
        if opt.name in skip or (only is not None and opt.name not in only):
            continue
        metavar = "{" + ",".join(opt.choices()) + "}" if opt.choices and opt.metavar == "TEXT" \
            else opt.metavar
        parser.add_argument(opt.flag, dest=opt.name, metavar=metavar, help=opt.help,
                            action="append" if opt.repeat else "store")


def given_options(args: argparse.Namespace, skip: Sequence[str] = (),
                  only: Sequence[str] | None = None) -> dict[str, Any]:
    """The options given on the command line (but ``skip``; only ``only`` when given), as
    values of
    ``estimate_prevalence`` and checked; an ArgumentError naming the flag, e.g. "--ci must be
    one of ...; got 'wilsen'; did you mean 'wilson'?". Options not given are left out (the
    function's defaults apply)."""
    out: dict[str, Any] = {}
    for opt in OPTIONS:
        text = getattr(args, opt.name, None)
        if opt.name in skip or (only is not None and opt.name not in only) or text is None:
            continue
        try:
            value = (_as_design(text) if opt.name == "design" else text if opt.repeat
                     else opt.parse(text))
            out[opt.name] = opt.check(value)
        except InvalidOption as exc:
            message = exc.message()
            sep = " " if message.startswith("must") else ": "
            at = f" {exc.at[1:]}" if exc.at else ""
            raise ArgumentError(f"{opt.flag}{at}{sep}{message}") from None
    return out


# -- the documentation --------------------------------------------------------------------------
def markdown_table() -> str:
    """The options as the Markdown table of ``docs/options.md`` (``tests/test_options.py``
    holds the page to it): keyword, command-line flag, batch key and help."""
    rows = ["| keyword of `estimate_prevalence` | command line | batch file key | meaning |",
            "|---|---|---|---|"]
    for opt in OPTIONS:
        names = f" ({', '.join(f'`{c}`' for c in opt.choices())})" if opt.choices else ""
        flag = f"`{opt.flag} {opt.metavar}`" + (" (repeatable)" if opt.repeat else "")
        if opt.metavar == "TEXT" and opt.choices:
            flag = f"`{opt.flag}`"
        rows.append(f"| `{opt.name}` | {flag} | `{opt.name}` | {opt.help}{names} |")
    return "\n".join(rows) + "\n"
