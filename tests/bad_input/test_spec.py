"""Bad module specs (issue 15, sections 2 and 3): every wrong type, unreadable file, alias bomb
and deep nesting is a SpecError naming the file and the key path, raised while the spec loads,
fast and small."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from flestimate.errors import SpecError
from flestimate.mapping import ModuleSpec, evaluate_filter, load_spec
from tests.bad_input.conftest import SYNTHETIC, assert_one_line_error, files_in, run_cli
from tests.bad_input.limits import alias_bomb, nested_block, raises_within

#: A valid spec, one top-level key per entry; a case replaces or adds entries.
BASE: dict[str, str] = {
    "name": "bad-spec",
    "reference_period": "last 10 years",
    "codes": "{yes: [1], no: [2], dont_know: [8]}",
    "design": "{weights: w, strata: stratum, psu: psu}",
    "ids": "{household: hh, person: line}",
    "universe": "{and: [{column: age, op: '>=', value: 15}, {column: mig, op: in, value: [2, 3]}]}",
    "indicators": "\n  inv_rec_debt: q1\n  pen_violence__duress_or_leaving: {items: [q2, q3], "
                  "asked_if: {column: q0, op: '==', value: 1}}",
    "context": "{sex: sex, sector: {column: sec, values: {1: construction, 97: null}}}",
    "merge": "{on: hh}",
    "nonresponse": "{classes: [sex]}",
}


def spec_text(prefix: str = "", **changes: str | None) -> str:
    """The base spec with ``changes`` (None drops a key), after ``prefix`` lines."""
    body = {**BASE, **changes}
    return prefix + "".join(f"{k}: {v}\n" for k, v in body.items() if v is not None)


def deep_not(depth: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"column": "age", "op": ">=", "value": 15}
    for _ in range(depth):
        spec = {"not": spec}
    return spec


def shared_or(levels: int) -> dict[str, Any]:
    """``or`` of the same filter object twice, ``levels`` deep: 2**levels leaves as a tree."""
    spec: dict[str, Any] = {"column": "age", "op": ">=", "value": 15}
    for _ in range(levels):
        spec = {"or": [spec, spec]}
    return spec


def test_the_base_spec_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(spec_text(), encoding="utf-8")
    spec = load_spec(path)
    assert spec.design == {"weights": "w", "strata": "stratum", "psu": "psu"}
    assert [i.id for i in spec.indicators] == ["inv_rec_debt", "pen_violence__duress_or_leaving"]


# (id, file text, words of the message after "bad.yaml: ")
TYPE_CASES: list[tuple[str, str, str]] = [
    ("weights-int", spec_text(design="{weights: 42}"),
     "design.weights: must be a column name (string); got 42"),
    ("yes-nested-list", spec_text(codes="{yes: [[1]], no: [2]}"),
     "codes.yes: must be a code or a list of codes (numbers or strings); got [[1]]"),
    ("indicator-codes-mapping", spec_text(indicators="{inv_rec_debt: {items: q1, codes: "
                                                     "{no: {a: 1}}}}"),
     "indicators.inv_rec_debt.codes.no: must be a code or a list of codes"),
    ("top-level-list", "- name\n- indicators\n",
     "a module spec must be a mapping at the top level; got ['name', 'indicators']"),
    ("indicators-list", spec_text(indicators="[inv_rec_debt]"),
     "indicators: must be a non-empty mapping of indicator ids; got ['inv_rec_debt']"),
    ("indicator-list", spec_text(indicators="{inv_rec_debt: [q1, q2]}"),
     "indicators.inv_rec_debt: must be an item name or a mapping with `items`"),
    ("items-number", spec_text(indicators="{inv_rec_debt: {items: [1, 2]}}"),
     "indicators.inv_rec_debt.items: must be a non-empty list of column names; got [1, 2]"),
    ("asked-if-column-number", spec_text(indicators="{inv_rec_debt: {items: q1, asked_if: "
                                                    "{column: 5, op: '==', value: 1}}}"),
     "indicators.inv_rec_debt.asked_if.column: must be a column name (string); got 5"),
    ("no-if-text", spec_text(indicators="{inv_rec_debt: {items: q1, no_if: 'q0 == 2'}}"),
     "indicators.inv_rec_debt.no_if: must be a filter mapping; got 'q0 == 2'"),
    ("universe-and-mapping", spec_text(universe="{and: {column: age, op: '>=', value: 15}}"),
     "universe.and: must be a non-empty list of filters"),
    ("universe-value-mapping", spec_text(universe="{column: age, op: '>=', value: {a: 1}}"),
     "universe.value: must be a value or a list of values; got {'a': 1}"),
    ("universe-op-list", spec_text(universe="{column: age, op: ['>=']}"),
     "universe.op: must be an operator (string)"),
    ("universe-not-list", spec_text(universe="{not: [{column: age, op: missing}]}"),
     "universe.not: must be a filter mapping"),
    ("context-values-list", spec_text(context="{sector: {column: sec, values: {1: [a]}}}"),
     "context.sector.values.1: must be a canonical value (a string, a number or null); "
     "got ['a']"),
    ("context-column-list", spec_text(context="{sex: {column: [sex]}}"),
     "context.sex.column: must be a column name (string); got ['sex']"),
    ("nonresponse-classes-number", spec_text(nonresponse="{classes: [1]}"),
     "nonresponse.classes[0]: must be a context name, a column or `strata`; got 1"),
    ("design-nest-text", spec_text(design="{weights: w, nest: 'yes'}"),
     "design.nest: must be true or false; got 'yes'"),
    ("design-strata-mapping", spec_text(design="{weights: w, strata: {a: 1}}"),
     "design.strata: must be a column name or a list of column names; got {'a': 1}"),
    ("reference-period-list", spec_text(reference_period="[2017, 2021]"),
     "reference_period: the period the answers refer to is required, as text"),
    ("merge-on-number", spec_text(merge="{on: 3}"),
     "merge.on: must be a column name (string); got 3"),
    ("extra-indicators-text", spec_text(extra_indicators="my_id"),
     "extra_indicators: must be a list of indicator ids; got 'my_id'"),
    ("extra-indicators-number", spec_text(extra_indicators="[my_id, 7]"),
     "extra_indicators[1]: must be an indicator id (string); got 7"),
    ("ids-person-list", spec_text(ids="{person: [line]}"),
     "ids.person: must be a column name (string); got ['line']"),
    ("not-utf8", "name: caf\xe9\n", "not a UTF-8 text file: invalid continuation byte"),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in TYPE_CASES],
                         ids=[c[0] for c in TYPE_CASES])
def test_wrong_types_name_the_file_and_key(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(text.encode("latin-1" if "\xe9" in text else "utf-8"))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"bad.yaml: {words}"), str(info.value)


# (id, file text, words): each must fail within SECONDS and under MEGABYTES.
LIMIT_CASES: list[tuple[str, str, tuple[str, ...]]] = [
    ("universe-anchor-refers-to-itself",
     spec_text(universe="&u {not: *u}"),
     ("universe.not (line 6)", "recursive anchor")),
    ("or-of-itself", spec_text(universe="&u {or: [{column: age, op: missing}, *u]}"),
     ("universe.or[1]", "recursive anchor")),
    ("name-billion-laughs", spec_text(alias_bomb("x-name"), name="*l8"),
     ("x-l4[0]", "aliases expand to more than 10,000 nodes", "alias bomb")),
    ("universe-nested-or-aliases",
     spec_text("x-o0: &o0 {column: age, op: '>=', value: 15}\n" + "".join(
         f"x-o{i}: &o{i} {{or: [*o{i - 1}, *o{i - 1}]}}\n" for i in range(1, 40)),
         universe="*o39"),
     ("aliases expand to more than 10,000 nodes",)),
    ("merge-key-bomb",
     spec_text("x-m0: &m0 {a: 1, b: 2}\n" + "".join(
         f"x-m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}, *m{i - 1}, *m{i - 1}]}}\n"
         for i in range(1, 12)), merge="{on: hh, <<: *m11}"),
     ("aliases expand to more than 10,000 nodes",)),
    ("nested-1500-block", spec_text() + nested_block("x-deep", 1500),
     ("line 112", "nested deeper than 100 levels")),
    ("nested-5000-flow", spec_text(universe="[" * 5000 + "]" * 5000),
     ("line 6", "nested deeper than 100 levels (brackets)")),
    ("not-5000-deep", spec_text(universe="{not: " * 5000 + "{column: age, op: missing}"
                                + "}" * 5000),
     ("nested deeper than 100 levels",)),
    ("deep-through-aliases",
     spec_text("x-d0: &d0 {column: age, op: missing}\n" + "".join(
         f"x-d{i}: &d{i} {{not: *d{i - 1}}}\n" for i in range(1, 150)), universe="*d149"),
     ("nested deeper than 100 levels (through an alias)",)),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in LIMIT_CASES],
                         ids=[c[0] for c in LIMIT_CASES])
def test_resource_limits_while_loading(tmp_path: Path, text: str, words: tuple[str, ...]
                                       ) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    error = raises_within(lambda: load_spec(path), *words)
    assert str(error).startswith("bad.yaml: ")


def test_too_large_a_file(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(spec_text() + "# " + "x" * 5_000_000 + "\n", encoding="utf-8")
    raises_within(lambda: load_spec(path), "big.yaml: the file has 5,00",
                  "may have at most 5,000,000")


def test_a_folder_is_not_a_spec(tmp_path: Path) -> None:
    folder = tmp_path / "spec.yaml"
    folder.mkdir()
    with pytest.raises(SpecError, match=r"^spec.yaml: cannot read the file: "):
        load_spec(folder)


# Specs built in Python meet the same limits (no YAML loader to stop them).
DICT_CASES: list[tuple[str, Any, str]] = [
    ("not-5000-deep", deep_not(5000), "spec.py: universe.not.not.not"),
    ("or-shared-40-levels", shared_or(40), "aliases expand to more than 10,000 nodes"),
    ("universe-weights-float", {"column": 1.5, "op": "missing"},
     "spec.py: universe.column: must be a column name (string); got 1.5"),
]


@pytest.mark.parametrize(("universe", "words"), [c[1:] for c in DICT_CASES],
                         ids=[c[0] for c in DICT_CASES])
def test_specs_built_in_python(universe: Any, words: str) -> None:
    import yaml

    raw = yaml.load(spec_text(universe=None), Loader=yaml.SafeLoader)
    raw["codes"] = {"yes": [1], "no": [2]}
    raw["universe"] = universe
    raises_within(lambda: ModuleSpec.from_dict(raw, "spec.py"), words)


def test_a_filter_that_contains_itself() -> None:
    loop: dict[str, Any] = {}
    loop["not"] = loop
    frame = pd.DataFrame({"age": [10, 20]})
    raises_within(lambda: evaluate_filter(frame, loop, "f.yaml: universe"),
                  "f.yaml: universe: not: an alias refers to a mapping or list that contains it")
    raises_within(lambda: evaluate_filter(frame, deep_not(5000), "f.yaml: universe"),
                  "f.yaml: universe: not.not.not", "nested deeper than 100 levels")


@pytest.mark.parametrize(("text", "words"), [
    (spec_text(design="{weights: 42}"), ("bad.yaml: design.weights: must be a column name",)),
    (spec_text(alias_bomb("x-name"), name="*l8"), ("bad.yaml: x-l4[0]: aliases expand",)),
], ids=["weights-int", "billion-laughs"])
def test_cli_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   text: str, words: tuple[str, ...]) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    before = files_in(tmp_path)
    code, stdout, err = run_cli(["estimate", SYNTHETIC / "moldova_synthetic.sav", "--spec",
                                 spec, "-o", out / "estimates.csv", "--format", "csv"], capsys)
    assert_one_line_error(code, err, *words)
    assert files_in(tmp_path) == before and stdout == ""
