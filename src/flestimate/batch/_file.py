"""The batch file: a TOML file listing surveys, validated whole into a frozen :class:`Batch`."""

from __future__ import annotations

import difflib
import hashlib
import inspect
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flestimate._config import MAX_DEPTH, check_shape
from flestimate.classification._rules import RULES_DIR
from flestimate.errors import SpecError
from flestimate.mapping import SPEC_DIR, builtin_specs
from flestimate.report import TABLES, estimate_prevalence
from flestimate.report._options import (
    OPTIONS,
    RULE_KINDS,
    InvalidOption,
    is_path,
    margins,
    option,
)
from flestimate.report._reliability import RELIABILITY_DIR
from flestimate.results import freeze, thaw

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["FORMATS", "Batch", "SurveyJob", "is_path", "load_batch"]

#: Output formats of the combined estimates (``[output] formats``).
FORMATS: tuple[str, ...] = ("parquet", "csv", "xlsx")

# Keyword arguments of estimate_prevalence() a survey (or [defaults]) may set, besides the
# files, the spec and the tables: every option of the one table (flestimate.report._options),
# checked by it; their defaults are the function's own.
_OPTIONS = tuple(o.name for o in OPTIONS)
_OPTION_DEFAULTS: Mapping[str, Any] = {
    name: p.default for name, p in inspect.signature(estimate_prevalence).parameters.items()
    if name in _OPTIONS}
_IDENTITY = ("id", "country", "year", "file")
_SURVEY_KEYS = (*_IDENTITY, "spec", "households", "tables", "timeout", *_OPTIONS)
#: Seconds a survey may take (hashing and reading its files, estimating, its report) before it
#: is stopped and recorded as failed (``timeout`` in ``[defaults]`` or a ``[[survey]]``).
DEFAULT_TIMEOUT = 3600.0
_REQUIRED = ("country", "year", "file", "spec")
_TOP_KEYS = ("output", "defaults", "survey")
_OUTPUT_KEYS = ("folder", "formats", "reports")
DESIGN_KEYS = ("weights", "strata", "psu", "fpc", "nest", "lonely_psu", "replicate_weights",
                "replicate_method", "replicate_scale", "replicate_rscales", "replicate_mse",
                "replicate_rho", "replicate_combined")
# File-valued keys: a built-in name, or a .yaml/.yml file relative to the batch file.
REFERENCES = ("spec", "reliability", *RULE_KINDS, "indicators")
_RANDOM_VARIANCE = ("bootstrap", "subbootstrap")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TOML_TYPES = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
               dict: "table"}


# -- the batch ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SurveyJob:
    """One survey of a batch, validated, with every option resolved.

    Attributes
    ----------
    id, country, year
        The survey's id (unique in the batch; ``{country}-{year}`` by default), country and year.
    index : int
        Position of the ``[[survey]]`` entry in the file (0-based); outputs follow this order.
    file, households : Path, Path or None
        The person file and the household file (absolute paths).
    spec : str
        The module spec as written: a built-in name or a YAML file.
    tables : tuple of str
        The tables wanted (of :data:`flestimate.report.TABLES`).
    options : Mapping
        Keyword arguments of :func:`~flestimate.estimate_prevalence` with the batch defaults and
        the function's own defaults filled in (``by`` a list of margins, ``design`` a mapping).
        File-valued options are as written; ``seed`` is derived from the id when a bootstrap
        variance is asked without one.
    files : Mapping[str, Path]
        Every file the survey reads, by key: ``file``, ``households``, ``spec`` and the rule
        sets (built-in ones included), as absolute paths; their hashes make the cache key.
    timeout : float
        Seconds the survey may take in its worker (``timeout``; :data:`DEFAULT_TIMEOUT`).
    """

    id: str
    country: str
    year: int | str
    index: int
    file: Path
    households: Path | None
    spec: str
    tables: tuple[str, ...]
    options: Mapping[str, Any]
    files: Mapping[str, Path]
    timeout: float = DEFAULT_TIMEOUT

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~flestimate.estimate_prevalence` (plain data), with
        file-valued options turned into absolute paths."""
        args: dict[str, Any] = thaw(self.options)
        for key in REFERENCES:
            value = self.spec if key == "spec" else args.get(key)
            if isinstance(value, str) and is_path(value):
                args[key] = str(self.files[key])
            elif key == "spec":
                args[key] = value
        if args.get("calibrate"):  # the files of population totals, one per margin
            args["calibrate"] = [str(self.files[f"calibrate[{j}]"])
                                 for j in range(len(args["calibrate"]))]
        args["data_or_path"] = str(self.file)
        args["households"] = str(self.households) if self.households is not None else None
        return args


@dataclass(frozen=True)
class Batch:
    """A validated batch file (:func:`load_batch`).

    Attributes
    ----------
    path : Path
        The batch file (absolute).
    sha256 : str
        Hash of its bytes.
    folder : Path
        The output folder (``[output] folder``, relative to the batch file; by default
        ``<batch file stem>_results`` beside it).
    formats : tuple of str
        Formats of the combined estimates, of :data:`FORMATS`.
    reports : bool
        Whether to write an HTML report per survey under ``<folder>/reports/``.
    surveys : tuple of SurveyJob
        The surveys, in file order.
    """

    path: Path
    sha256: str
    folder: Path
    formats: tuple[str, ...]
    reports: bool
    surveys: tuple[SurveyJob, ...]


class _Checker:
    """Validation of one batch file: every error names the file and the key path."""

    def __init__(self, name: str, base: Path) -> None:
        self.name = name
        self.base = base

    def fail(self, where: str, message: str) -> SpecError:
        return SpecError(f"{self.name}: {where}: {message}")

    def unknown(self, table: Mapping[str, Any], known: Sequence[str], where: str,
                note: Mapping[str, str] | None = None) -> None:
        for key in table:
            if note and key in note:
                raise self.fail(f"{where}.{key}" if where else key, note[key])
            if key in known:
                continue
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(known)}"
            raise self.fail(f"{where}.{key}" if where else str(key), f"unknown key; {hint}")

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"must be a non-empty string; got {_shown(value)}")
        return value

    def texts(self, value: Any, where: str) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.fail(where, f"must be a string or a non-empty array of strings; got "
                                   f"{_shown(value)}")
        return [self.text(v, f"{where}[{i}]") for i, v in enumerate(items)]

    def choice(self, value: Any, choices: Sequence[str], where: str) -> str:
        if not isinstance(value, str) or value not in choices:
            close = difflib.get_close_matches(str(value), list(choices), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise self.fail(where, f"must be one of {', '.join(choices)}; got "
                                   f"{_shown(value)}{hint}")
        return value

    def number(self, value: Any, where: str, low: float, high: float | None) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not (low < value and (high is None or value < high)):
            span = f"in ({low:g}, {high:g})" if high is not None else f"> {low:g}"
            raise self.fail(where, f"must be a number {span}; got {_shown(value)}")
        return float(value)

    def integer(self, value: Any, where: str, low: int) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise self.fail(where, f"must be an integer >= {low}; got {_shown(value)}")
        return value

    def reference(self, key: str, value: Any, where: str) -> str:
        """A built-in name (checked here) or a YAML file (checked when the survey runs)."""
        text = self.text(value, where)
        if key == "spec":
            names = builtin_specs()
            if is_path(text) or text in names:
                return text
            close = difflib.get_close_matches(text, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise self.fail(where, f"{text!r} is neither a built-in module spec "
                                   f"({', '.join(names)}) nor a .yaml file{hint}")
        return str(self.checked(key, text, where))

    def checked(self, key: str, value: Any, where: str) -> Any:
        """``value`` checked by the option's own check (the one estimate_prevalence and the
        command line use), the received value shown with its TOML type."""
        try:
            return option(key).check(value)
        except InvalidOption as exc:
            raise self.fail(where + exc.at, exc.message(_shown)) from None

    def files(self, value: Any, where: str) -> list[str]:
        """``calibrate``: a CSV file or an array of them (relative to the batch file), one per
        margin."""
        names = self.texts(value, where)
        if len(names) > MAX_CALIBRATION_FILES:
            raise self.fail(where, f"at most {MAX_CALIBRATION_FILES} files of population "
                                   f"totals; got {len(names)}")
        return names

    def option(self, key: str, value: Any, where: str) -> Any:
        if key == "tables":
            tables = [self.choice(t, TABLES, f"{where}[{i}]")
                      for i, t in enumerate(self.texts(value, where))]
            if len(set(tables)) < len(tables):
                raise self.fail(where, f"a table is listed twice: {tables}")
            return [t for t in TABLES if t in tables]
        if key == "timeout":
            seconds = self.number(value, where, 0.0, None)
            if seconds == float("inf"):
                raise self.fail(where, f"must be a finite number of seconds > 0; got "
                                       f"{_shown(value)}")
            return seconds
        if key in REFERENCES:
            return self.reference(key, value, where)
        if key == "households":
            return self.text(value, where)
        if key == "design" and not isinstance(value, dict):
            raise self.fail(where, f"must be a table like the spec's design section; got "
                                   f"{_shown(value)}")
        if key == "calibrate":
            return self.files(value, where)
        checked = self.checked(key, value, where)
        if key == "by":  # "sex,region" or ["sex", "region*urban"]: one name per margin
            return ["*".join(m) for m in margins(checked)]
        return checked


#: At most this many files of population totals in a survey's ``calibrate`` (one per margin;
#: more is a mistake in the file, not a design).
MAX_CALIBRATION_FILES = 100
WHAT = {"spec": "module spec", "reliability": "reliability rule set",
        "indicators": "indicator table", **{k: f"{k} rule set" for k in RULE_KINDS}}


def file_role(role: str) -> str:
    """What the file of a survey's ``role`` is: "module spec", "population totals file"
    (``calibrate[j]``, any j), ..."""
    return "population totals file" if role.startswith("calibrate[") else WHAT[role]


def _shown(value: Any) -> str:
    kind = _TOML_TYPES.get(type(value), type(value).__name__)
    return f"{kind} {value!r}" if not isinstance(value, dict | list) else kind


def _builtin_file(key: str, name: str) -> Path:
    folder = {"spec": SPEC_DIR, "reliability": RELIABILITY_DIR}.get(key, RULES_DIR)
    return Path(folder) / f"{name}.yaml"


def load_batch(path: str | os.PathLike[str]) -> Batch:
    """Read and validate a batch file.

    Parameters
    ----------
    path : str or path
        A TOML file with an optional ``[output]`` table, an optional ``[defaults]`` table and
        one ``[[survey]]`` table per survey (``docs/batch.md``). Relative paths in it are
        relative to the file's folder.

    Returns
    -------
    Batch
        Frozen; its surveys carry every option resolved (batch defaults, then the defaults of
        :func:`~flestimate.estimate_prevalence`).

    Raises
    ------
    SpecError
        When the file cannot be read or is not valid TOML, or on an unknown key (with a
        suggestion), a missing ``country``/``year``/``file``/``spec``, a duplicate survey id, a
        value of the wrong type, a ``ci``, ``variance``, table or built-in rule set name that
        does not exist. The message names the file and the key path, e.g.
        "batch.toml: survey[2] (GEO-2009).varianse: unknown key; did you mean 'variance'?".
        Surveys are counted from 0 (``survey[0]`` is the first ``[[survey]]`` table). Input
        files are not opened here: a missing data file fails its survey when the batch runs.
    """
    file = Path(path).absolute()
    check = _Checker(file.name, file.parent)
    raw_bytes, raw = _read_toml(file)
    check_shape(raw, file.name)
    check.unknown(raw, _TOP_KEYS, "")
    folder, formats, reports = _output(check, raw.get("output", {}), file)
    defaults = _defaults(check, raw.get("defaults", {}))
    jobs = _surveys(check, raw.get("survey"), defaults)
    return Batch(file, hashlib.sha256(raw_bytes).hexdigest(),
                 folder if folder.is_absolute() else file.parent / folder,
                 tuple(f for f in FORMATS if f in formats), reports, jobs)


def _read_toml(file: Path) -> tuple[bytes, dict[str, Any]]:
    """The batch file's bytes (hashed into the manifest) and its TOML, or a SpecError that
    says why it cannot be read."""
    try:
        raw_bytes = file.read_bytes()
    except OSError as exc:
        raise SpecError(f"{file.name}: cannot read the batch file: "
                        f"{exc.strerror or exc}") from exc
    try:
        raw = tomllib.loads(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError(f"{file.name}: not a UTF-8 text file: {exc.reason}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{file.name}: invalid TOML: {exc}") from exc
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise SpecError(f"{file.name}: arrays or inline tables nested deeper than "
                        f"{MAX_DEPTH} levels") from None
    return raw_bytes, raw


def _output(check: _Checker, output: Any, file: Path) -> tuple[Path, list[str], bool]:
    """The ``[output]`` table checked: the folder (as written), the formats and whether to
    write the HTML reports."""
    if not isinstance(output, dict):
        raise check.fail("output", f"must be a table; got {_shown(output)}")
    check.unknown(output, _OUTPUT_KEYS, "output")
    folder = Path(check.text(output.get("folder", f"{file.stem}_results"), "output.folder"))
    formats = check.texts(output.get("formats", list(FORMATS)), "output.formats")
    for i, f in enumerate(formats):
        check.choice(f, FORMATS, f"output.formats[{i}]")
    reports = output.get("reports", True)
    if not isinstance(reports, bool):
        raise check.fail("output.reports", f"must be true or false; got {_shown(reports)}")
    return folder, formats, reports


def _defaults(check: _Checker, defaults: Any) -> dict[str, Any]:
    """The ``[defaults]`` table checked, its options resolved (no survey identity keys)."""
    if not isinstance(defaults, dict):
        raise check.fail("defaults", f"must be a table; got {_shown(defaults)}")
    check.unknown(defaults, _SURVEY_KEYS, "defaults",
                  {k: "not allowed in [defaults]; set it in each [[survey]]" for k in _IDENTITY})
    return {k: check.option(k, v, f"defaults.{k}") for k, v in defaults.items()}


def _surveys(check: _Checker, surveys: Any,
             defaults: Mapping[str, Any]) -> tuple[SurveyJob, ...]:
    """One job per ``[[survey]]`` table, in file order; at least one, ids unique."""
    if surveys is None or surveys == []:
        raise check.fail("survey", "the batch lists no survey; add one [[survey]] table per "
                                   "survey")
    if not isinstance(surveys, list):
        raise check.fail("survey", f"must be an array of tables ([[survey]]); got "
                                   f"{_shown(surveys)}")
    jobs: list[SurveyJob] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(surveys):
        job = _survey(check, i, entry, defaults)
        if job.id in seen:
            raise check.fail(f"survey[{i}] ({job.id}).id",
                             f"duplicate survey id {job.id!r} (also survey[{seen[job.id]}]); "
                             f"give each survey a unique `id`")
        seen[job.id] = i
        jobs.append(job)
    return tuple(jobs)


def _survey(check: _Checker, i: int, entry: Any, defaults: Mapping[str, Any]) -> SurveyJob:
    where = f"survey[{i}]"
    if not isinstance(entry, dict):
        raise check.fail(where, f"must be a table; got {_shown(entry)}")
    sid = entry.get("id")
    if sid is None and isinstance(entry.get("country"), str) and isinstance(
            entry.get("year"), int | str):
        sid = f"{entry['country']}-{entry['year']}"
    label = f"{where} ({sid})" if isinstance(sid, str) else where
    check.unknown(entry, _SURVEY_KEYS, label)
    for key in _REQUIRED:
        if key not in entry and not (key == "spec" and "spec" in defaults):
            raise check.fail(f"{label}.{key}", "required key is missing")
    sid = check.text(sid, f"{label}.id")
    if not _ID.fullmatch(sid):
        raise check.fail(f"{label}.id", f"must be letters, digits, '.', '_' or '-' (it names "
                                        f"the survey's output files); got {sid!r}")
    country = check.text(entry["country"], f"{label}.country")
    year = entry["year"]
    if isinstance(year, bool) or not isinstance(year, int | str) or year == "":
        raise check.fail(f"{label}.year", f"must be an integer or a string; got {_shown(year)}")
    values = dict(defaults)
    values.update({k: check.option(k, v, f"{label}.{k}") for k, v in entry.items()
                   if k not in _IDENTITY})
    options = {k: values.get(k, _OPTION_DEFAULTS[k]) for k in _OPTIONS}
    if options["variance"] in _RANDOM_VARIANCE and options["seed"] is None:
        digest = hashlib.sha256(f"flestimate-batch:{sid}".encode()).digest()
        options["seed"] = int.from_bytes(digest[:4], "big")
    person_file = _absolute(check.base, check.text(entry["file"], f"{label}.file"))
    households = values.get("households")
    files: dict[str, Path] = {"file": person_file}
    if households is not None:
        files["households"] = _absolute(check.base, households)
    for key in REFERENCES:
        value = values["spec"] if key == "spec" else options.get(key)
        if isinstance(value, str):
            files[key] = (_absolute(check.base, value) if is_path(value)
                          else _builtin_file(key, value))
    for j, name in enumerate(options["calibrate"] or ()):
        files[f"calibrate[{j}]"] = _absolute(check.base, name)
    return SurveyJob(sid, country, year, i, person_file, files.get("households"),
                     str(values["spec"]), tuple(values.get("tables", TABLES)), freeze(options),
                     freeze(files), values.get("timeout", DEFAULT_TIMEOUT))


def _absolute(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p
