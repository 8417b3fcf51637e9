"""Command line: ``flestimate estimate FILE --spec SPEC`` national (and domain) estimates of
forced labour and trafficking; ``flestimate run BATCH.toml`` many surveys at once;
``flestimate tabulate FILE --weights W [...]`` design-based tables from a file;
``flestimate inspect FILE [--spec SPEC]`` the variables and their codes, the mapping and the
data-quality report; ``flestimate spec new FILE -o SPEC`` a draft module spec (``spec check``);
``flestimate synthetic STYLE -o DIR`` synthetic survey files with their truth.

Exit codes: 0 ok; 1 estimation error; 2 usage or input error, with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flestimate._atomic import atomic_write_text
from flestimate._safe_output import neutralise_csv
from flestimate._version import __version__
from flestimate.design import LONELY_PSU_RULES, SurveyDesign
from flestimate.errors import ArgumentError, EstimationError, FlestimateError
from flestimate.intervals import CI_METHODS
from flestimate.io import read_microdata
from flestimate.report import PrevalenceReport
from flestimate.report._options import add_arguments, given_options
from flestimate.report._sensitivity import DEFAULT_DELTAS
from flestimate.results import Estimates

if TYPE_CHECKING:
    from flestimate.batch import BatchResult

__all__ = ["main"]


# Output formats of the commands that write a file with -o, and the format of each extension.
_FORMATS = {"estimate": ("table", "csv", "json", "xlsx", "html"),
            "sensitivity": ("table", "csv", "json")}
_EXTENSIONS = {".xlsx": "xlsx", ".html": "html", ".htm": "html", ".csv": "csv", ".json": "json",
               ".txt": "table", ".md": "table"}


def _output_format(args: argparse.Namespace) -> str:
    """The format of ``-o``: ``--format`` when given, else the one of the extension; an
    ArgumentError when they disagree, or when the extension is unknown and no ``--format`` is
    given (a text table in ``out.xlsx`` is never written)."""
    fmt: str | None = args.format
    out: Path | None = args.out
    choices = _FORMATS[args.command]
    if out is None:
        return fmt or "table"
    suffix = out.suffix.lower()
    implied = _EXTENSIONS.get(suffix)
    known = ", ".join(e for e, f in _EXTENSIONS.items() if f in choices)
    if fmt is None and implied is None:
        raise ArgumentError(f"-o {out}: cannot tell the output format from the extension "
                            f"{suffix or '(none)'!r}; use one of {known}, or give --format")
    if fmt is None and implied not in choices:
        raise ArgumentError(f"-o {out}: `flestimate {args.command}` cannot write {implied} "
                            f"({suffix}); use one of {known}")
    if fmt is not None and implied is not None and implied != fmt:
        raise ArgumentError(f"-o {out}: the extension {suffix} means {implied} but --format is "
                            f"{fmt}; make them agree")
    return fmt or str(implied)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per task, each with the arguments added below."""
    parser = argparse.ArgumentParser(prog="flestimate", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"flestimate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _estimate_arguments(sub.add_parser(
        "estimate", help="national and domain estimates of forced labour and trafficking from "
                         "a survey file"))
    _sensitivity_arguments(sub.add_parser(
        "sensitivity", help="how the imputed shares move when missing sensitive answers are "
                            "not missing at random"))
    _run_arguments(sub.add_parser(
        "run", help="many surveys from a batch file (TOML), in parallel, with combined outputs "
                    "and a manifest"))
    _tabulate_arguments(sub.add_parser(
        "tabulate", help="means, proportions or totals with design-based SEs"))
    inspect = sub.add_parser(
        "inspect", help="variables, labels and code counts of a file; with --spec, the "
                        "mapping, the data-quality report and what the spec leaves unmapped")
    _survey_file_arguments(inspect, spec_required=False)
    add_arguments(inspect, only=_INSPECT_RULES)  # the rule sets whose needs are checked
    _spec_arguments(sub.add_parser(
        "spec", help="draft a module spec from the data files (spec new), or check one "
                     "(spec check)"))
    _synthetic_arguments(sub.add_parser(
        "synthetic", help="write synthetic Moldova- or Georgia-style survey files with their "
                          "truth"))
    return parser


def _unrecognized(parser: argparse.ArgumentParser, args: argparse.Namespace,
                  extra: Sequence[str]) -> str:
    """argparse's "unrecognized arguments" with, for a misspelt flag, the closest flag of the
    command given (``--imputation``: did you mean ``--imputations``?)."""
    import difflib

    command = parser
    for dest in ("command", "spec_command"):  # down to the subcommand that was given
        sub = next((a for a in command._actions
                    if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(args, dest, None)
        if sub is None or name not in sub.choices:
            break
        command = sub.choices[name]
    flags = [f for a in command._actions for f in a.option_strings if f.startswith("--")]
    hints = []
    for word in extra:
        close = difflib.get_close_matches(word.split("=")[0], flags, n=1, cutoff=0.6)
        if word.startswith("--") and close:
            hints.append(f"{word}: did you mean {close[0]}?")
    return "unrecognized arguments: " + " ".join(extra) + ("; " + "; ".join(hints) if hints
                                                           else "")


def _survey_file_arguments(parser: argparse.ArgumentParser, spec_required: bool = True) -> None:
    """The survey file, its module spec and its household file (estimate, sensitivity,
    inspect; the spec is optional for inspect)."""
    parser.add_argument("file", type=Path)
    parser.add_argument("--spec", required=spec_required,
                        help="module spec: a built-in name or a YAML file")
    parser.add_argument("--households", type=Path, help="household file to merge, if separate")


def _estimate_arguments(parser: argparse.ArgumentParser) -> None:
    """``flestimate estimate``: every option of :func:`~flestimate.estimate_prevalence` (the
    table of ``flestimate.report._options``: same names, help and checks) and the output."""
    _survey_file_arguments(parser)
    add_arguments(parser)
    _output_arguments(parser, _FORMATS["estimate"],
                      "output file (required for xlsx); its extension sets the format: .xlsx, "
                      ".html, .csv, .json, .txt or .md (table)")


#: Options of estimate_prevalence that `flestimate inspect` takes: the rule sets whose needs it
#: checks against the spec.
_INSPECT_RULES = ("forced_labour", "trafficking")

#: Options of estimate_prevalence that `flestimate sensitivity` does not take: its --indicators
#: are the classes to shift, and it always imputes.
_NOT_SENSITIVITY = ("indicators", "missing")


def _sensitivity_arguments(parser: argparse.ArgumentParser) -> None:
    """``flestimate sensitivity``: the deltas, the tipping value, the classes, the options of
    the estimate (but ``--indicators`` and ``--missing``) and the output."""
    _survey_file_arguments(parser)
    parser.add_argument("--delta", default=",".join(f"{d:g}" for d in DEFAULT_DELTAS),
                        help="shifts of the log-odds of yes of the missing sensitive answers, "
                             "comma-separated (default -2 to 2 by 0.5)")
    parser.add_argument("--value", type=float,
                        help="a share (e.g. 0.05): the deltas at which the estimate and its "
                             "interval reach it (tipping points)")
    parser.add_argument("--indicators", default="forced_labour,trafficked",
                        help="classes, comma-separated (default forced_labour,trafficked)")
    add_arguments(parser, skip=_NOT_SENSITIVITY)
    _output_arguments(parser, _FORMATS["sensitivity"],
                      "output file; its extension sets the format: .csv, .json, .txt or .md "
                      "(table)")


def _output_arguments(parser: argparse.ArgumentParser, formats: Sequence[str],
                      out_help: str) -> None:
    """``--format`` and ``-o``/``--out`` of a command that writes a report (estimate,
    sensitivity)."""
    parser.add_argument("--format", choices=formats,
                        help="output format (default: from the -o extension, else table)")
    parser.add_argument("-o", "--out", type=Path, help=out_help)


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    """``flestimate run``: the batch file, where it runs and the output folder."""
    parser.add_argument("batch", type=Path, help="batch file (docs/batch.md)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDR",
                       help="run on a Dask cluster: its scheduler address, e.g. tcp://host:8786")
    where.add_argument("--workers", type=int, metavar="N",
                       help="run on a local Dask cluster of N worker processes")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="local processes (default: one per core, at most one per survey; "
                             "1 runs in this process)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default: the batch file's [output] folder)")
    parser.add_argument("--force", action="store_true",
                        help="rerun every survey, even those whose inputs are unchanged")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _tabulate_arguments(parser: argparse.ArgumentParser) -> None:
    """``flestimate tabulate``: the design columns, one estimator and its domains."""
    parser.add_argument("file", type=Path)
    parser.add_argument("--weights", required=True, help="weight column")
    parser.add_argument("--strata", help="stratum column(s), comma-separated")
    parser.add_argument("--psu", help="cluster columns, one per stage, comma-separated")
    parser.add_argument("--fpc", help="FPC columns, one per stage, comma-separated")
    parser.add_argument("--nest", action="store_true",
                        help="PSU ids are unique only within strata")
    parser.add_argument("--lonely-psu", default="fail", choices=LONELY_PSU_RULES)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--proportion", help="columns, comma-separated")
    what.add_argument("--mean", help="columns, comma-separated")
    what.add_argument("--total", help="columns, comma-separated")
    parser.add_argument("--by", help="domain columns, comma-separated")
    parser.add_argument("--subpop", help="boolean (0/1) column restricting the population")
    parser.add_argument("--ci", choices=CI_METHODS, help="interval method")
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")


def _spec_arguments(parser: argparse.ArgumentParser) -> None:
    """``flestimate spec new`` (a draft from the files) and ``flestimate spec check``."""
    sub = parser.add_subparsers(dest="spec_command", required=True)
    new = sub.add_parser("new", help="write a commented draft spec from the files' variables, "
                                     "labels and codes, every guess marked REVIEW")
    new.add_argument("file", type=Path, help="the person file")
    new.add_argument("--households", type=Path, help="the household file, if separate")
    new.add_argument("-o", "--out", type=Path,
                     help="the spec file to write (default: print the draft)")
    new.add_argument("--force", action="store_true", help="overwrite an existing -o file")
    check = sub.add_parser("check", help="validate a module spec alone (exit 2 with the "
                                         "error)")
    check.add_argument("spec", help="the spec: a YAML file or a built-in name")
    check.add_argument("--strict", action="store_true",
                       help="also fail while lines are still marked REVIEW")


def _spec(args: argparse.Namespace) -> str:
    """`flestimate spec new` and `flestimate spec check`: the line to print."""
    from flestimate import authoring

    if args.spec_command == "check":
        return authoring.spec_summary(authoring.check_spec(args.spec, strict=args.strict),
                                      args.spec)
    if args.out is None:
        return authoring.new_spec(args.file, args.households).rstrip("\n")
    return authoring.write_new_spec(args.file, args.out, args.households, force=args.force)


def _synthetic_arguments(parser: argparse.ArgumentParser) -> None:
    """``flestimate synthetic``: the style, the output folder and the sizes."""
    parser.add_argument("style", choices=("moldova", "georgia"))
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    parser.add_argument("--households", type=int, help="households to select (style default)")
    parser.add_argument("--seed", type=int, help="seed (the shipped files' seed by default)")
    parser.add_argument("--population-households", type=int,
                        help="size of the synthetic population (country size by default)")


def _synthetic(args: argparse.Namespace) -> str:
    from flestimate import synthetic

    survey = synthetic.generate(args.style, args.households, args.seed,
                                population_households=args.population_households)
    paths = survey.write(args.out)
    return "\n".join([repr(survey), *(f"wrote {p}" for p in paths)])


def _inspect(args: argparse.Namespace) -> str:
    """The report of `flestimate inspect`: the files' variables, labels and code counts; with
    a spec, the mapping and what it leaves unmapped. A FlestimateError when the spec does not
    fit (a column it names is missing, a code it does not know)."""
    from flestimate.authoring import describe_file

    rules = given_options(args, only=_INSPECT_RULES)
    return describe_file(args.file, args.households, args.spec, **rules)


def _estimate(args: argparse.Namespace) -> PrevalenceReport:
    from flestimate.report import estimate_prevalence

    args.format = _output_format(args)
    if args.format == "xlsx" and args.out is None:
        raise ArgumentError("--format xlsx writes a workbook: give its path with -o FILE")
    options = given_options(args)  # checked before any file is read
    return estimate_prevalence(args.file, args.spec, households=args.households, **options)


def _sensitivity(args: argparse.Namespace) -> str:
    """The output of `flestimate sensitivity` (written to ``args.out`` when given)."""
    import json

    import pandas as pd

    from flestimate.report import estimate_prevalence

    args.format = _output_format(args)
    try:
        deltas = [float(d) for d in _split(args.delta)]
    except ValueError as exc:
        raise ArgumentError(f"--delta must be numbers separated by commas; got "
                            f"{args.delta!r}") from exc
    options = given_options(args, skip=_NOT_SENSITIVITY)
    report = estimate_prevalence(args.file, args.spec, households=args.households,
                                 missing="impute", **options)
    sens = report.sensitivity(delta=deltas, indicators=_split(args.indicators))
    tips = sens.tipping_points(args.value) if args.value is not None else None
    if args.format == "csv":
        text = neutralise_csv(sens.to_frame()).to_csv(index=False)
    elif args.format == "json":
        payload = sens.to_dict()
        if tips is not None:
            payload["tipping_points"] = json.loads(tips.to_json(orient="records"))
        text = json.dumps(payload, indent=1, default=str) + "\n"
    else:
        text = sens.summary() + "\n"
        if tips is not None:
            with pd.option_context("display.width", 160):
                text += (f"\ntipping points (delta at which the share reaches {args.value:g}):"
                         f"\n{tips.to_string(index=False)}\n")
    if args.out is not None:
        atomic_write_text(args.out, text)  # a reader never sees half a file
        return f"wrote {args.out}\n"
    return text


def _write_report(report: PrevalenceReport, fmt: str, out: Path | None) -> str:
    """Write the report in ``fmt`` to ``out`` and return the line saying so (or return the
    text for stdout)."""
    if fmt == "xlsx":
        assert out is not None
        report.to_excel(out)
        return f"wrote {out}\n"
    if fmt == "html":
        text = report.to_html()
    elif fmt == "csv":
        text = neutralise_csv(report.to_frame()).to_csv(index=False)  # no formulas
    elif fmt == "json":
        text = report.to_json() + "\n"
    else:
        text = report.summary() + "\n"
    if out is None:
        return text
    atomic_write_text(out, text)  # a temporary file beside it, then renamed
    return f"wrote {out}\n"


def _run(args: argparse.Namespace) -> BatchResult:
    """`flestimate run`: the batch's result; a survey that fails is in it, not raised."""
    from flestimate.batch import run_batch

    return run_batch(args.batch, scheduler=args.scheduler, workers=args.workers, jobs=args.jobs,
                     force=args.force, progress=not args.quiet, out=args.out)


def _tabulate(args: argparse.Namespace) -> Estimates:
    kind = "proportion" if args.proportion else "mean" if args.mean else "total"
    variables = _split(args.proportion or args.mean or args.total)
    design_cols = [args.weights, *_split(args.strata), *_split(args.psu), *_split(args.fpc)]
    by = _split(args.by)
    needed = list(dict.fromkeys(design_cols + variables + by + _split(args.subpop)))
    from flestimate._format import labelled_domain

    data = read_microdata(args.file, usecols=needed)
    frame = data.frame
    for col in [*by, *(variables if kind == "proportion" else [])]:  # labels, not codes
        labels = data.metadata.value_labels.get(col)
        if labels:
            frame[col] = labelled_domain(frame[col], labels)
    design = SurveyDesign(
        frame, weights=args.weights, strata=_split(args.strata) or None,
        psu=_split(args.psu) or None, fpc=_split(args.fpc) or None, nest=args.nest,
        lonely_psu=args.lonely_psu,
    )
    ci = args.ci or ("korn-graubard" if kind == "proportion" else "wald")
    estimator = getattr(design, kind)
    result: Estimates = estimator(variables, by=by or None, subpop=args.subpop, ci=ci,
                                  level=args.level)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flestimate`` command."""
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            parser.error(_unrecognized(parser, args, extra))
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if args.command == "estimate":
                prevalence = _estimate(args)
                text = _write_report(prevalence, args.format, args.out)
            elif args.command == "sensitivity":
                text = _sensitivity(args)
            elif args.command == "run":
                batch = _run(args)
            elif args.command == "inspect":
                report = _inspect(args)
            elif args.command == "synthetic":
                report = _synthetic(args)
            elif args.command == "spec":
                report = _spec(args)
            else:
                result = _tabulate(args)
    except EstimationError as exc:
        print(f"flestimate: {exc}", file=sys.stderr)
        return 1
    except FlestimateError as exc:
        print(f"flestimate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output file that cannot be written
        print(f"flestimate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C; a batch stops its worker processes first
        print("flestimate: interrupted", file=sys.stderr)
        return 130
    for message in dict.fromkeys(str(w.message) for w in caught):  # each warning once
        print(f"flestimate: warning: {message}", file=sys.stderr)
    try:
        if args.command in ("estimate", "sensitivity"):
            if text is not None:
                sys.stdout.write(text)
        elif args.command == "run":
            print(batch.summary())
        elif args.command in ("inspect", "synthetic", "spec"):
            print(report)
        else:
            _write(result, args.format)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
    if args.command == "run" and not batch.ok:
        return 1
    return 0


def _write(result: Estimates, fmt: str) -> None:
    if fmt == "csv":
        neutralise_csv(result.to_frame()).to_csv(sys.stdout, index=False)
    elif fmt == "json":
        import json

        json.dump(result.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:  # formatted numbers (labels, percent, thousands separators), not raw floats
        print(result.to_text())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
