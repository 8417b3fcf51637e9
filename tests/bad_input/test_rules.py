"""Bad rule files and indicator tables (issue 15, sections 2 and 3): every wrong type is a
SpecError naming the file and the key path; alias bombs, deep nesting and exponential chains
of definitions fail while the file loads, fast and small."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flestimate.classification import load_rules
from flestimate.classification._rules import indicator_table
from flestimate.errors import SpecError
from tests.bad_input.conftest import SYNTHETIC, assert_one_line_error, files_in, run_cli
from tests.bad_input.limits import alias_bomb, nested_block, raises_within

HEAD = "name: national\nkind: forced_labour\n"


def ref_chain(levels: int, copies: int) -> str:
    """Definitions d0..d<levels>, each an `all` of ``copies`` refs to the one before."""
    lines = ["define:", "  d0: {any_of: [inv_rec_debt]}"]
    for i in range(1, levels + 1):
        refs = ", ".join([f"{{ref: d{i - 1}}}"] * copies)
        lines.append(f"  d{i}: {{all: [{refs}]}}")
    return "\n".join(lines) + f"\nrule: {{ref: d{levels}}}\n"


# (id, file text, message after "bad.yaml: ")
TYPE_CASES: list[tuple[str, str, str]] = [
    ("all-mapping", HEAD + "rule: {all: {any_of: [inv_rec_debt]}}\n",
     "rule.all: must be a non-empty list of expressions; got {'any_of': ['inv_rec_debt']}"),
    ("any-of-number", HEAD + "rule: {any_of: [inv_rec_debt, 3]}\n",
     "rule.any_of[1]: must be an indicator id or a selector mapping; got 3"),
    ("selector-ids-text", HEAD + "rule: {any_of: {kind: penalty, ids: pen_violence}}\n",
     "rule.any_of.ids: must be a list of indicator ids; got 'pen_violence'"),
    ("selector-exclude-number", HEAD + "rule: {any_of: [{kind: penalty, exclude: [1]}]}\n",
     "rule.any_of[0].exclude[0]: must be an indicator id (string); got 1"),
    ("selector-grade-list", HEAD + "rule: {any_of: {grade: [strong]}}\n",
     "rule.any_of.grade: must be one of strong, medium, weak; got ['strong']"),
    ("if-absent-text", HEAD + "rule: {column: sex, op: missing, if_absent: 'no'}\n",
     "rule.if_absent: must be true or false (the value when the column is not in the data); "
     "got 'no'"),
    ("compare-column-number", HEAD + "rule: {all: [{column: 3, op: missing}]}\n",
     "rule.all[0].column: must be a column name (string); got 3"),
    ("pattern-count-text", "name: x\nkind: trafficking\npatterns: [{strong: '2'}]\n"
                           "rule: {graded: coercion}\n",
     "patterns[0].strong: must be a positive integer; got '2'"),
    ("patterns-mapping", "name: x\nkind: trafficking\npatterns: {strong: 1}\n"
                         "rule: {graded: coercion}\n",
     "patterns: must be a non-empty list of {grade: count} mappings; got {'strong': 1}"),
    ("graded-number", "name: x\nkind: trafficking\nrule: {graded: 5}\n",
     "rule.graded: a Delphi dimension name or {dimension, patterns}; got 5"),
    ("define-list", HEAD + "define: [a]\nrule: {ref: a}\n",
     "define: must map names to expressions; got ['a']"),
    ("define-entry-text", HEAD + "define: {a: inv_rec_debt}\nrule: {ref: a}\n",
     "define.a: an expression must be a mapping; got 'inv_rec_debt'"),
    ("ref-number", HEAD + "define: {a: {any_of: [inv_rec_debt]}}\nrule: {all: [{ref: 1}]}\n",
     "rule.all[0].ref: must be the name of a definition (string); got 1"),
    ("adult-text", HEAD + "rule: {adult: {any_of: [inv_rec_debt]}, child: yes}\n",
     "rule.child: an expression must be a mapping; got 'yes'"),
    ("evidence-list", HEAD + "evidence: [V, R]\nrule: {any_of: [inv_rec_debt]}\n",
     "evidence: must be a tag (V, S or R) or {definition, operational}; got ['V', 'R']"),
    ("kind-number", "name: x\nkind: 1\nrule: {any_of: [inv_rec_debt]}\n",
     "kind: must be one of forced_labour, child, trafficking, form; got 1"),
    ("name-list", "name: [x]\nkind: forced_labour\nrule: {any_of: [inv_rec_debt]}\n",
     "name: must be the rule set's name; got ['x']"),
    ("case-when-text", "name: x\nkind: form\ncases: [{form: state_imposed, when: 'a == 1'}]\n",
     "cases[0].when: must be a filter mapping; got 'a == 1'"),
    ("cases-mapping", "name: x\nkind: form\ncases: {form: state_imposed}\n",
     "cases: a form rule needs a non-empty list of {form, when}; got {'form': 'state_imposed'}"),
    ("not-utf8", "name: caf\xe9\n", "not a UTF-8 text file: invalid continuation byte"),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in TYPE_CASES],
                         ids=[c[0] for c in TYPE_CASES])
def test_wrong_types_name_the_file_and_key(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(text.encode("latin-1" if "\xe9" in text else "utf-8"))
    with pytest.raises(SpecError) as info:
        load_rules(path)
    assert str(info.value).startswith(f"bad.yaml: {words}"), str(info.value)


LIMIT_CASES: list[tuple[str, str, tuple[str, ...]]] = [
    ("description-billion-laughs",
     "define:\n" + alias_bomb("x", indent="  ") + HEAD + "description: *l8\n"
     "rule: {any_of: [inv_rec_debt]}\n",
     ("define.x-l4[0]", "aliases expand to more than 10,000 nodes")),
    ("rule-anchor-refers-to-itself", HEAD + "rule: &r {all: [*r]}\n",
     ("rule.all[0] (line 3)", "recursive anchor")),
    ("rule-nested-1500-block", HEAD + nested_block("rule", 1500),
     ("line 102", "nested deeper than 100 levels")),
    ("rule-nested-5000-flow", HEAD + "rule: " + "{all: [" * 5000 + "]}" * 5000 + "\n",
     ("line 3", "nested deeper than 100 levels (brackets)")),
    ("ref-chain-300-deep", HEAD + ref_chain(300, 1),
     ("define.d251.all[0]: expressions nested deeper than 100 levels",)),
    ("ref-chain-doubling", HEAD + ref_chain(40, 2),
     ("define.d", "the rule expands to more than 10,000 expression nodes")),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in LIMIT_CASES],
                         ids=[c[0] for c in LIMIT_CASES])
def test_resource_limits_while_loading(tmp_path: Path, text: str, words: tuple[str, ...]
                                       ) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    error = raises_within(lambda: load_rules(path), *words)
    assert str(error).startswith("bad.yaml: ")


def test_rule_set_built_in_python_that_contains_itself() -> None:
    rule: dict[str, Any] = {"all": []}
    rule["all"].append(rule)
    raises_within(lambda: load_rules({"name": "x", "kind": "forced_labour", "rule": rule}),
                  "<rules>: rule.all[0]: an alias refers to a mapping or list that contains it")


TABLE_CASES: list[tuple[str, str, str]] = [
    ("involuntariness-list", "involuntariness: [inv_x]\n",
     "involuntariness: must map inv_* ids to their dimension and grade; got ['inv_x']"),
    ("penalty-entry-text", "penalty: {pen_x: strong}\n",
     "penalty.pen_x: must map dimension, grade (and meaning); got 'strong'"),
    ("delphi-grade-number",
     "delphi2009: {adult_labour: {dimensions: {deceptive_recruitment: {inv_rec_debt: 3}}}}\n",
     "delphi2009.adult_labour.dimensions.deceptive_recruitment.inv_rec_debt: must be a grade "
     "S, M or W, or a range such as M-S; got 3"),
    ("sensitive-text", "sensitive: pen_violence\n",
     "sensitive: must be a list of indicator ids; got 'pen_violence'"),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in TABLE_CASES],
                         ids=[c[0] for c in TABLE_CASES])
def test_indicator_table_overrides(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "table.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        indicator_table(path)
    assert str(info.value).startswith(f"table.yaml: {words}"), str(info.value)


def test_cli_rule_file_bomb_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "bomb.yaml"
    rules.write_text("define:\n" + alias_bomb("x", indent="  ") + HEAD
                     + "rule: {any_of: [inv_rec_debt]}\n", encoding="utf-8")
    before = files_in(tmp_path)
    code, stdout, err = run_cli(["estimate", SYNTHETIC / "moldova_synthetic.sav", "--spec",
                                 "moldova-2008-synthetic", "--forced-labour", rules,
                                 "--missing", "minimum", "-o", tmp_path / "est.csv",
                                 "--format", "csv"], capsys)
    assert_one_line_error(code, err, "bomb.yaml: define.x-l4[0]: aliases expand")
    assert files_in(tmp_path) == before and stdout == ""
