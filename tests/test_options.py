"""The one table of options (``flestimate.report._options``, issue 17 item 1): every keyword of
``estimate_prevalence`` is in it (or is an input file, said why), the command line has every
option with the table's help, a batch file takes every option, and a bad value gets the same
message (with its did-you-mean) from all three.

Data: data/synthetic/moldova_synthetic.sav with the built-in spec ``moldova-2008-synthetic``,
``missing="minimum"`` (each estimate well under a second); the calibration totals are the
synthetic population's (data/synthetic/moldova_synthetic_truth.json, ``controls``).
"""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flestimate import estimate_prevalence
from flestimate.batch import load_batch, run_batch
from flestimate.cli import _parser, main
from flestimate.errors import ArgumentError, ArgumentTypeError, SpecError
from flestimate.report._options import (
    NOT_OPTIONS,
    OPTIONS,
    check_options,
    given_options,
    option,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
MOLDOVA = DATA / "moldova_synthetic.sav"
SPEC = "moldova-2008-synthetic"
NOWHERE = "no-such-file.sav"  # a check that reads a file first would fail on it otherwise

# One valid value of every option as a batch file writes it (TOML), as the command line writes
# it, and what estimate_prevalence is given from either.
VALID: dict[str, tuple[str, list[str], Any]] = {
    "by": ('"sex,region"', ["sex,region"], "sex,region"),
    "ci": ('"wilson"', ["wilson"], "wilson"),
    "variance": ('"jk1"', ["jk1"], "jk1"),
    "level": ("0.9", ["0.9"], 0.9),
    "df": ("10", ["10"], 10),
    "design": ('{ lonely_psu = "adjust", strata = "strat" }',
               ["lonely_psu=adjust", "strata=strat"], {"lonely_psu": "adjust", "strata": "strat"}),
    "replicates": ("20", ["20"], 20),
    "seed": ("5", ["5"], 5),
    "reliability": ('"rse30"', ["rse30"], "rse30"),
    "forced_labour": ('"htshtc2012_dimension"', ["htshtc2012_dimension"],
                      "htshtc2012_dimension"),
    "trafficking": ('"seed2007"', ["seed2007"], "seed2007"),
    "child": ('"child2018"', ["child2018"], "child2018"),
    "form": ('"ilo2005"', ["ilo2005"], "ilo2005"),
    "indicators": ('"tables/indicators.yaml"', ["tables/indicators.yaml"],
                   "tables/indicators.yaml"),
    "plain_penalties": ('"every_dimension"', ["every_dimension"], "every_dimension"),
    "calibrate": ('"totals.csv"', ["totals.csv"], "totals.csv"),
    "calibration_method": ('"raking"', ["raking"], "raking"),
    "calibration_bounds": ("[0.5, 2.0]", ["0.5,2.0"], (0.5, 2.0)),
    "missing": ('"minimum"', ["minimum"], "minimum"),
    "imputations": ("5", ["5"], 5),
    "imputation_classes": ("3", ["3"], 3),
    "disclosure": ('"none"', ["none"], "none"),
    "disclosure_threshold": ("5", ["5"], 5),
    "compare": ('"sex=female"', ["sex=female"], "sex=female"),
}


def _estimate_parser() -> argparse.ArgumentParser:
    return _subparser("estimate")


def _subparser(command: str) -> argparse.ArgumentParser:
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = sub.choices[command]
    return parser


def _batch(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "batch.toml"
    path.write_text(f'[[survey]]\nid = "S"\ncountry = "MDA"\nyear = 2008\n'
                    f'file = "{MOLDOVA.as_posix()}"\nspec = "{SPEC}"\n{line}\n')
    return path


# -- the table against the function ------------------------------------------------------------
def test_every_keyword_is_an_option_or_an_input_said_why() -> None:
    """Every keyword of estimate_prevalence (its signature) is in the table, in the signature's
    order, or is one of the input files listed with the reason; none is both."""
    keywords = list(inspect.signature(estimate_prevalence).parameters)
    names = [o.name for o in OPTIONS]
    assert not set(names) & set(NOT_OPTIONS)
    assert sorted(names + list(NOT_OPTIONS)) == sorted(keywords)
    assert names == [k for k in keywords if k in names]
    assert all(reason for reason in NOT_OPTIONS.values())
    assert set(VALID) == set(names)  # this file tests every option


def test_help_states_the_functions_default() -> None:
    """An option whose default is not None says its default in its help (the function's
    default, so the help cannot drift from it)."""
    params = inspect.signature(estimate_prevalence).parameters
    for opt in OPTIONS:
        default = params[opt.name].default
        if default is not None:
            assert str(default) in opt.help, opt.name


# -- the command line --------------------------------------------------------------------------
def test_the_command_line_has_every_option_with_the_tables_help() -> None:
    """`flestimate estimate` has --name-with-dashes of every option with the table's help;
    `flestimate sensitivity` every one but --indicators (its own: the classes to shift) and
    --missing (it always imputes)."""
    for command, skipped in (("estimate", set()), ("sensitivity", {"indicators", "missing"})):
        actions = {a.dest: a for a in _subparser(command)._actions}
        for opt in OPTIONS:
            if opt.name in skipped:
                continue
            assert actions[opt.name].option_strings == [opt.flag], (command, opt.name)
            assert actions[opt.name].help == opt.help, (command, opt.name)
    assert option("plain_penalties").flag == "--plain-penalties"


def test_command_line_values_are_the_python_values() -> None:
    """Each option's text on the command line becomes the value Python would be given."""
    argv = ["estimate", NOWHERE, "--spec", SPEC]
    for name, (_, texts, value) in VALID.items():
        opt = option(name)
        extra = [x for t in texts for x in (opt.flag, t)]
        args = _estimate_parser().parse_args([*argv[1:], *extra])
        got = given_options(args)
        assert got == {name: [value] if name == "calibrate" else value}, name
        check_options(got)  # Python takes it as it is


def test_plain_penalties_reaches_the_classification(capsys: pytest.CaptureFixture[str]) -> None:
    """The blocker of issue 17: --plain-penalties every_dimension (with --design, which the
    command line lacked) reaches the classification, recorded in the provenance."""
    assert main(["estimate", str(MOLDOVA), "--spec", SPEC, "--missing", "minimum",
                 "--plain-penalties", "every_dimension", "--forced-labour",
                 "htshtc2012_dimension", "--design", "lonely_psu=adjust",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["provenance"]["classification"]["plain_penalties"] == "every_dimension"


def test_calibrate_from_a_csv_file_equals_the_data_frame(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--calibrate totals.csv (region x sex population totals of the synthetic truth) gives the
    tidy table of estimate_prevalence(calibrate=<that DataFrame>), number for number."""
    truth = json.loads((DATA / "moldova_synthetic_truth.json").read_text())
    totals = (pd.DataFrame(truth["controls"]).groupby(["region", "sex"])["persons"].sum()
              .rename("total").reset_index())
    totals.to_csv(tmp_path / "totals.csv", index=False)
    out = tmp_path / "cal.csv"
    assert main(["estimate", str(MOLDOVA), "--spec", SPEC, "--missing", "minimum", "--calibrate",
                 str(tmp_path / "totals.csv"), "--calibration-method", "raking",
                 "-o", str(out)]) == 0
    got = pd.read_csv(out)
    ref = estimate_prevalence(MOLDOVA, SPEC, missing="minimum", calibrate=totals,
                              calibration_method="raking")
    assert ref.provenance["calibration"]["method"] == "raking"
    np.testing.assert_allclose(got["estimate"], ref.to_frame()["estimate"], rtol=1e-12)
    np.testing.assert_allclose(got["se"], ref.to_frame()["se"], rtol=1e-12)


# -- batch files -------------------------------------------------------------------------------
def test_the_batch_file_takes_every_option(tmp_path: Path) -> None:
    """A [[survey]] may set every option of the table; the job gets the value Python would be
    given (``by`` one name per margin; files relative to the batch file)."""
    for name, (toml, _, value) in VALID.items():
        job = load_batch(_batch(tmp_path, f"{name} = {toml}")).surveys[0]
        args = job.arguments()
        if name == "by":
            assert args["by"] == ["sex", "region"]
        elif name == "calibrate":
            assert args["calibrate"] == [str(tmp_path / "totals.csv")]
            assert job.files["calibrate[0]"] == tmp_path / "totals.csv"
        elif name == "indicators":
            assert args["indicators"] == str(tmp_path / "tables" / "indicators.yaml")
        elif name == "calibration_bounds":
            assert tuple(args[name]) == value
        else:
            assert args[name] == value, name
        check_options({k: v for k, v in args.items() if k in VALID})


def test_the_batch_file_takes_many_calibration_files(tmp_path: Path) -> None:
    """``calibrate`` takes one file per margin, more than 16 (it was capped there) and each is
    a cached input; an absurd number is an error naming the key."""
    names = [f"t{j}.csv" for j in range(20)]
    job = load_batch(_batch(tmp_path, f"calibrate = {json.dumps(names)}")).surveys[0]
    assert job.arguments()["calibrate"] == [str(tmp_path / n) for n in names]
    assert job.files["calibrate[19]"] == tmp_path / "t19.csv"
    many = json.dumps([f"t{j}.csv" for j in range(101)])
    with pytest.raises(SpecError, match=r"survey\[0\] \(S\)\.calibrate: at most 100 files"):
        load_batch(_batch(tmp_path, f"calibrate = {many}"))


def test_by_with_commas_is_two_margins_everywhere(tmp_path: Path) -> None:
    """by="sex,region" is two margins in Python, on the command line and in a batch file (the
    batch used to accept it and then fail every survey): the same estimates as
    by=["sex", "region"], to the last digit."""
    ref = estimate_prevalence(MOLDOVA, SPEC, by=["sex", "region"], missing="minimum")
    python = estimate_prevalence(MOLDOVA, SPEC, by="sex,region", missing="minimum")
    assert python.provenance["margins"] == ref.provenance["margins"] == ("sex", "region")
    pd.testing.assert_frame_equal(python.to_frame(), ref.to_frame())
    path = _batch(tmp_path, 'by = "sex,region"\nmissing = "minimum"\n'
                            'tables = ["prevalence"]\n[output]\nreports = false\nformats = '
                            '["csv"]')
    result = run_batch(path, jobs=1, progress=False)
    assert result.ok and result.done == ("S",)
    est = result.estimates
    assert set(est["by"]) == {"national", "sex", "region"}
    mine = ref.to_frame()
    expected = mine[mine["table"] == "prevalence"].reset_index(drop=True)
    assert len(est) == len(expected)
    np.testing.assert_allclose(est["estimate"].to_numpy(dtype=float),
                               expected["estimate"].to_numpy(dtype=float), rtol=1e-12)
    np.testing.assert_allclose(est["se"].to_numpy(dtype=float),
                               expected["se"].to_numpy(dtype=float), rtol=1e-12)


# -- one message -------------------------------------------------------------------------------
MISSPELT = [
    ("ci", "wilsen", "must be one of korn-graubard, beta, logit, wilson, wald; got {}; did you "
                     "mean 'wilson'?"),
    ("variance", "taylr", "must be one of taylor, replicate, jk1, jkn, brr, fay, bootstrap, "
                          "subbootstrap; got {}; did you mean 'taylor'?"),
    ("plain_penalties", "every_dimensoin",
     "must be one of unknown_dimension, error, every_dimension, ignore; got {}; did you mean "
     "'every_dimension'?"),
    ("missing", "imput", "must be one of impute, minimum; got {}; did you mean 'impute'?"),
    ("calibration_method", "rakeing", "must be one of linear, raking, logit, poststratify, rake; "
                                      "got {}; did you mean 'raking'?"),
    ("disclosure", "thresold", "must be one of threshold, none; got {}; did you mean "
                               "'threshold'?"),
    ("reliability", "nchs2071", "must be a built-in reliability rule set (nchs2017, rse30, "
                                "none) or a .yaml file; got {}; did you mean 'nchs2017'?"),
    ("forced_labour", "icls2081", "must be a built-in forced_labour rule set "
                                  "(htshtc2012_dimension, htshtc2012_strong, icls2018) or a "
                                  ".yaml file; got {}; did you mean 'icls2018'?"),
]


@pytest.mark.parametrize(("name", "bad", "message"), MISSPELT, ids=[m[0] for m in MISSPELT])
def test_a_misspelt_choice_gets_the_same_hint_everywhere(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, bad: str,
        message: str) -> None:
    """Python, the command line and a batch file say the same after their own "where" (a
    batch file names the TOML type of what it got), before any file is read."""
    with pytest.raises(ArgumentError) as info:
        estimate_prevalence(NOWHERE, SPEC, **{name: bad})
    assert str(info.value) == f"`{name}` of `estimate_prevalence()` " + message.format(
        repr(bad))
    assert main(["estimate", NOWHERE, "--spec", SPEC, option(name).flag, bad]) == 2
    err = capsys.readouterr().err
    assert err == f"flestimate: {option(name).flag} {message.format(repr(bad))}\n"
    with pytest.raises(SpecError) as batch:
        load_batch(_batch(tmp_path, f'{name} = "{bad}"'))
    assert str(batch.value) == (f"batch.toml: survey[0] (S).{name}: "
                                + message.format(f"string {bad!r}"))


def test_the_sensitivity_command_checks_its_options(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sensitivity", NOWHERE, "--spec", SPEC, "--ci", "wilsen"]) == 2
    assert capsys.readouterr().err.startswith("flestimate: --ci must be one of korn-graubard")


BAD_PYTHON = [
    ({"level": 95}, ArgumentError,
     "`level` of `estimate_prevalence()` must be a number in (0, 1); got 95"),
    ({"level": "high"}, ArgumentTypeError,
     "`level` of `estimate_prevalence()` must be a number in (0, 1); got 'high'"),
    ({"df": -1}, ArgumentError,
     "`df` of `estimate_prevalence()` must be a number > 0 or None; got -1"),
    ({"replicates": 1}, ArgumentError,
     "`replicates` of `estimate_prevalence()` must be an integer >= 2 or None; got 1"),
    ({"imputation_classes": 0}, ArgumentError,
     "`imputation_classes` of `estimate_prevalence()` must be a positive integer; got 0"),
    ({"disclosure_threshold": 0}, ArgumentError,
     "`disclosure_threshold` of `estimate_prevalence()` must be a positive integer or None; "
     "got 0"),
    ({"calibration_bounds": (2, 1)}, ArgumentError,
     "`calibration_bounds` of `estimate_prevalence()` must be None or two numbers (low, high) "
     "with low < high; got (2, 1)"),
    ({"design": {"weigths": "w"}}, ArgumentError,
     "`design.weigths` of `estimate_prevalence()`: unknown key; did you mean 'weights'?"),
    ({"design": {"nest": "yes"}}, ArgumentTypeError,
     "`design.nest` of `estimate_prevalence()` must be true or false; got 'yes'"),
    ({"by": ["sex", ""]}, ArgumentError,
     "`by` of `estimate_prevalence()` must name columns: a name, names separated by commas, a "
     "crossing like 'sex*region' or a list of them; got ''"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_PYTHON,
                         ids=[next(iter(k)) + str(i) for i, (k, _, _) in enumerate(BAD_PYTHON)])
def test_errors_name_the_function_the_user_called(kwargs: dict[str, Any], error: type,
                                                  message: str) -> None:
    """A bad value is reported as a keyword of estimate_prevalence (it was `level` of
    `proportion()` and `plain_penalties` of `classify()`), before any file is read."""
    with pytest.raises(error) as info:
        estimate_prevalence(NOWHERE, SPEC, **kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, ArgumentError)  # a wrong type too, as before the table


def test_command_line_numbers_and_design_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    """A number that is not one and a --design without '=' exit 2 with one line naming the
    flag."""
    for extra, message in (
            (["--level", "95"], "--level must be a number in (0, 1); got 95"),
            (["--level", "high"], "--level must be a number in (0, 1); got 'high'"),
            (["--design", "lonely_psu"], "--design must be KEY=VALUE (e.g. "
                                         "strata=region,urban); got 'lonely_psu'"),
            (["--design", "nest=perhaps"], "--design nest must be true or false; got "
                                           "'perhaps'"),
            (["--calibration-bounds", "2"], "--calibration-bounds must be None or two numbers "
                                            "(low, high) with low < high; got '2'")):
        assert main(["estimate", NOWHERE, "--spec", SPEC, *extra]) == 2
        assert capsys.readouterr().err == f"flestimate: {message}\n"


def test_the_options_page_is_the_table() -> None:
    """docs/options.md holds the table as markdown_table() writes it (regenerate it with that
    function when an option changes)."""
    from flestimate.report._options import markdown_table

    page = (Path(__file__).resolve().parents[1] / "docs" / "options.md").read_text()
    start = page.index("-->\n", page.index("<!-- options table")) + 4
    assert page[start:page.index("<!-- end of options table -->")] == markdown_table()


def test_a_misspelt_keyword_or_flag_gets_the_closest_name(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt keyword of a public function is a TypeError naming the closest keyword
    (Python 3.11 names none), raised before any file is read; a misspelt flag of any command
    (subcommands of ``spec`` too) exits 2 naming the closest flag of that command."""
    from flestimate import SurveyDesign
    from flestimate.aggregate import aggregate

    with pytest.raises(ArgumentTypeError, match=r"^`estimate_prevalence\(\)` has no keyword "
                                                r"'imputation'; did you mean 'imputations'\?$"):
        estimate_prevalence(NOWHERE, SPEC, imputation=5)  # type: ignore[call-arg]
    design = SurveyDesign(pd.DataFrame({"y": [1.0, 2.0], "w": [1.0, 1.0]}), weights="w")
    with pytest.raises(TypeError, match=r"`mean\(\)` has no keyword 'bye'; did you mean 'by'"):
        design.mean("y", bye="y")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"`aggregate\(\)` has no keyword 'xyz'$"):
        aggregate([], xyz=1)  # type: ignore[call-arg]
    cases = [(["estimate", NOWHERE, "--spec", SPEC, "--imputatons", "5"], "--imputations"),
             (["inspect", NOWHERE, "--trafficing", "seed2007"], "--trafficking"),
             (["spec", "check", "x.yaml", "--strikt"], "--strict")]
    for argv, flag in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.splitlines()[-1]
        assert err.startswith("flestimate: error: unrecognized arguments: ")
        assert err.endswith(f"did you mean {flag}?")


def test_inspect_takes_the_rule_sets_of_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    """`flestimate inspect --trafficking` is the table's option: same help and check."""
    help_text = " ".join(_parser()._subparsers._group_actions[0].choices[  # type: ignore[union-attr]
        "inspect"].format_help().split())
    for name in ("forced_labour", "trafficking"):
        assert " ".join(option(name).help.split()) in help_text
    assert main(["inspect", str(MOLDOVA), "--spec", SPEC, "--trafficking", "seed207"]) == 2
    assert capsys.readouterr().err == (
        "flestimate: --trafficking must be a built-in trafficking rule set (delphi2009, "
        "seed2007) or a .yaml file; got 'seed207'; did you mean 'seed2007'?\n")
    assert main(["inspect", str(MOLDOVA), "--spec", SPEC, "--trafficking", "delphi2009"]) == 0
    assert "delphi2009" in capsys.readouterr().out
