"""Bad reliability rule files and batch files (issue 15, sections 2 and 3): each is a SpecError
naming the file and the key path, raised before anything runs or is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from flestimate.batch import load_batch
from flestimate.report import load_reliability
from tests.bad_input.conftest import SYNTHETIC, assert_one_line_error, files_in, run_cli
from tests.bad_input.limits import alias_bomb, nested_block, raises_within

# -- reliability rule files ----------------------------------------------------------------------
RELIABILITY_CASES: list[tuple[str, str, tuple[str, ...]]] = [
    ("min-n-text", "name: nso\nproportions: {min_n: '30'}\n",
     ("proportions.min_n: must be a non-negative number; got '30'",)),
    ("flag-extreme-number", "name: nso\nproportions: {flag_extreme: 1}\n",
     ("proportions.flag_extreme: must be true or false; got 1",)),
    ("counts-list", "name: nso\ncounts: [10]\n", ("counts: must be a mapping of thresholds",)),
    ("name-list", "name: [nso]\n", ("name: a non-empty string is required; got ['nso']",)),
    ("top-level-text", "nso\n",
     ("a reliability rule set must be a mapping with a `name`; got 'nso'",)),
    ("not-utf8", "name: caf\xe9\n", ("not a UTF-8 text file",)),
    ("description-billion-laughs", alias_bomb("description") + "name: nso\n",
     ("x-l4[0]", "aliases expand to more than 10,000 nodes")),
    ("anchor-refers-to-itself", "name: nso\nproportions: &p {min_n: *p}\n",
     ("proportions.min_n (line 2)", "recursive anchor")),
    ("nested-1500-block", "name: nso\n" + nested_block("counts", 1500),
     ("line 101", "nested deeper than 100 levels")),
    ("nested-5000-flow", "name: nso\ncounts: " + "[" * 5000 + "]" * 5000 + "\n",
     ("line 2", "nested deeper than 100 levels (brackets)")),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in RELIABILITY_CASES],
                         ids=[c[0] for c in RELIABILITY_CASES])
def test_reliability_files(tmp_path: Path, text: str, words: tuple[str, ...]) -> None:
    path = tmp_path / "nso.yaml"
    path.write_bytes(text.encode("latin-1" if "\xe9" in text else "utf-8"))
    error = raises_within(lambda: load_reliability(path), *words)
    assert str(error).startswith(f"{path}: "), str(error)  # the source is the path given


def test_cli_bad_reliability_file_exits_2(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "nso.yaml"
    rules.write_text("name: nso\nproportions: {min_n_eff: thirty}\n", encoding="utf-8")
    before = files_in(tmp_path)
    code, stdout, err = run_cli(["estimate", SYNTHETIC / "moldova_synthetic.sav", "--spec",
                                 "moldova-2008-synthetic", "--reliability", rules,
                                 "--missing", "minimum", "-o", tmp_path / "est.csv",
                                 "--format", "csv"], capsys)
    assert_one_line_error(code, err, "nso.yaml: proportions.min_n_eff: must be a non-negative "
                                     "number; got 'thirty'")
    assert files_in(tmp_path) == before and stdout == ""


# -- batch files ---------------------------------------------------------------------------------
SURVEY = ('[[survey]]\ncountry = "MDA"\nyear = 2008\nfile = "moldova_synthetic.sav"\n'
          'spec = "moldova-2008-synthetic"\n')

BATCH_CASES: list[tuple[str, str | bytes, tuple[str, ...]]] = [
    ("level-text", SURVEY + 'level = "high"\n',
     ("survey[0] (MDA-2008).level: must be a number in (0, 1); got string 'high'",)),
    ("design-weights-int", SURVEY + "design = { weights = 42 }\n",
     ("survey[0] (MDA-2008).design.weights: must be a non-empty string; got integer 42",)),
    ("formats-int", '[output]\nformats = 3\n' + SURVEY,
     ("output.formats: must be a string or a non-empty array of strings; got integer 3",)),
    ("not-utf8", SURVEY.encode() + b'# caf\xe9\n', ("not a UTF-8 text file",)),
    ("array-nested-150", SURVEY + "by = " + "[" * 150 + "]" * 150 + "\n",
     ("survey[0].by[0][0]", "nested deeper than 100 levels")),
    ("array-nested-5000", SURVEY + "by = " + "[" * 5000 + "]" * 5000 + "\n",
     ("arrays or inline tables nested deeper than 100 levels",)),
    ("inline-table-nested-5000", SURVEY + "design = " + "{ a = " * 5000 + "1" + " }" * 5000
     + "\n", ("arrays or inline tables nested deeper than 100 levels",)),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in BATCH_CASES],
                         ids=[c[0] for c in BATCH_CASES])
def test_batch_files(tmp_path: Path, text: str | bytes, words: tuple[str, ...]) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    error = raises_within(lambda: load_batch(path), *words)
    assert str(error).startswith("bad.toml: "), str(error)
    assert files_in(tmp_path) == {"bad.toml"}


def test_cli_deep_batch_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SURVEY + "by = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    code, stdout, err = run_cli(["run", path], capsys)
    assert_one_line_error(code, err, "bad.toml: arrays or inline tables nested deeper than 100")
    assert files_in(tmp_path) == {"bad.toml"} and stdout == ""

