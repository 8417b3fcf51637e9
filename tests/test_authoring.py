"""Spec authoring from the shell (issue 17, item 2): ``flestimate spec new``, ``spec check``,
``inspect`` with and without a spec, and the generated tables of ``docs/map.md``.

The test survey is a made-up Ukraine-style pair of files built here with pyreadstat: a person
``.sav`` (its own names, codes 1 yes / 3 no / 98 don't know / 99 refused / -9 not applicable,
one question asked the other way round) and a household ``.dta`` holding the design. Every
count asserted below is counted by hand from the columns of :func:`_build`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from flestimate import load_spec, read_microdata
from flestimate.authoring import (
    CONTEXT_VARIABLES,
    canonical_tables_markdown,
    check_spec,
    new_spec,
    review_lines,
    unmapped_needs,
)
from flestimate.authoring._draft import variables_of
from flestimate.authoring._guess import code_kind, match_indicators
from flestimate.cli import main
from flestimate.errors import SpecError
from flestimate.mapping import ModuleSpec

ROOT = Path(__file__).resolve().parents[1]
YN = {1: "Yes", 3: "No", 98: "Don't know", 99: "Refused", -9: "Not applicable"}
ITEMS = {
    "b1": "Were you deceived about the wages you would be paid?",
    "b2": "Were you deceived about the nature of the work?",
    "b3": "Were you recruited with a loan or advance you had to work off?",
    "c1": "Were you forced to work overtime beyond what was agreed?",
    "c2": "Could you resign from the job freely?",
    "d1": "Were your identity documents or passport taken away?",
    "d2": "Were you subjected to physical violence or threats of violence?",
    "d3": "Were your wages withheld?",
    "e1": "Did you cross a border for this job?",
    "q0": "In the last 5 years, did you work abroad?",
}
NA = -9.0


def _build(folder: Path) -> tuple[Path, Path]:
    """12 persons in 6 households (two each); the design is in the household file."""
    persons = pd.DataFrame({
        "hh_no": [float(1 + i // 2) for i in range(12)],
        "memb": [float(1 + i % 2) for i in range(12)],
        "vik": [34.0, 29, 45, 16, 52, 38, 23, 61, 40, 19, 33, 27],
        "stat": [1.0, 2, 1, 2, 1, 1, 2, 2, 1, 2, 1, 2],
        "mig": [1.0, 1, 2, 1, 3, 1, 1, 2, 1, 1, 3, 1],
        "b1": [1.0, 3, 3, 1, NA, 3, 98, 3, 1, 3, NA, 3],
        "b2": [3.0, 3, 3, 1, NA, 3, 3, 3, 3, 3, NA, 99],
        "b3": [3.0, 3, 1, 3, NA, 3, 3, 3, 3, 3, NA, 3],
        "c1": [1.0, 3, 3, 3, NA, 3, 3, 1, 3, 3, NA, 3],
        "c2": [3.0, 1, 1, 1, NA, 1, 1, 3, 1, 1, NA, 1],
        "d1": [1.0, 3, 3, 3, NA, 3, 3, 3, 3, 3, NA, 3],
        "d2": [3.0, 3, 3, 3, NA, 3, 3, 1, 3, 98, NA, 3],
        "d3": [1.0, 3, 3, 3, NA, 3, 3, 1, 1, 3, NA, 3],
        "e1": [1.0, 1, 1, 3, NA, 1, 1, 1, 1, 3, NA, 1],
        "q0": [1.0, 1, 1, 1, 3, 1, 1, 1, 1, 1, 3, 1],
        "sect": [1.0, 2, 3, 4, 4, 1, 2, 1, 4, 1, 4, 2],
    })
    import pyreadstat

    labels = {"hh_no": "Household number", "memb": "Line number of the member",
              "vik": "Age in completed years", "stat": "Sex of respondent",
              "mig": "Migration status", "sect": "Sector of the last job abroad", **ITEMS}
    values = {"stat": {1: "Male", 2: "Female"},
              "mig": {1: "Returned migrant", 2: "Currently abroad", 3: "Never worked abroad"},
              "sect": {1: "Construction", 2: "Agriculture", 3: "Sex work, entertainment",
                       4: "Other"},
              **{k: YN for k in ITEMS}}
    sav = folder / "ua_persons.sav"
    pyreadstat.write_sav(persons, sav, column_labels=labels, variable_value_labels=values)
    households = pd.DataFrame({"hh_no": [1, 2, 3, 4, 5, 6],
                               "vaga": [120.5, 80.0, 95.25, 110.0, 60.0, 75.0],
                               "strat": [1, 1, 1, 2, 2, 2], "klaster": [11, 11, 12, 21, 22, 22],
                               "obl": [1, 1, 1, 2, 2, 2]})
    dta = folder / "ua_households.dta"
    pyreadstat.write_dta(households, dta,
                         column_labels=["Household number", "Household weight", "Stratum",
                                        "Cluster (PSU)", "Oblast"],
                         variable_value_labels={"obl": {1: "Kyiv", 2: "Lviv"}})
    return sav, dta


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _build(tmp_path_factory.mktemp("ua"))


@pytest.fixture(scope="module")
def draft(survey: tuple[Path, Path]) -> str:
    return new_spec(*survey)


def _spec_of(text: str) -> ModuleSpec:
    """The spec of a YAML text, read as the package reads spec files (YAML 1.2 booleans:
    ``on:`` stays a key)."""
    from flestimate._config import yaml_loader

    return ModuleSpec.from_dict(yaml.load(text, Loader=yaml_loader()), "draft.yaml")


def _accept(text: str) -> str:
    """The scripted review: uncomment the reversed question, give the sector and migrant
    status their canonical values, add the universe, and delete every REVIEW marker."""
    text = text.replace("  # inv_lea_no_freedom_resign:", "  inv_lea_no_freedom_resign:")
    text = text.replace('3: null   # "Sex work, entertainment" -> commercial_sex?',
                        "3: commercial_sex")
    for code, value in ((1, "returned"), (2, "current_abroad"), (3, "non_migrant")):
        text = re.sub(rf"(\n      {code}: )null(   # \"[^\"]*\" -> {value}\?)",
                      rf"\g<1>{value}\2", text)
    text = text.replace("# universe:\n#   and:\n#     - {column: AGE",
                        "universe:\n  and:\n    - {column: vik")
    return "\n".join(re.sub(r"\s*#.*REVIEW[:;)].*$", "", line) if "REVIEW" in line else line
                     for line in text.splitlines()) + "\n"


# -- spec new -----------------------------------------------------------------------------------
def test_the_draft_reads_codes_design_and_items_from_the_files(draft: str) -> None:
    assert "codes:\n  yes: [1]\n  no: [3]\n  dont_know: [98]\n  refused: [99]\n" \
           "  not_applicable: [-9]\n" in draft
    assert "merge:\n  on: hh_no   # REVIEW: the column both files share" in draft
    assert '  weights: vaga   # REVIEW: guessed from the label "Household weight"' in draft \
        or '  weights: vaga   # REVIEW: guessed from the name "vaga"' in draft
    assert "  strata: strat   # REVIEW:" in draft and "  psu: klaster   # REVIEW:" in draft
    assert "  person: memb   # REVIEW:" in draft
    assert ('  inv_rec_debt: b3   # REVIEW: guessed from b3 "Were you recruited with a loan or '
            'advance you had to work off?"') in draft
    assert '  reference_period: "last 5 years"' not in draft
    assert ('reference_period: "last 5 years"   # REVIEW: guessed from the label "In the last '
            '5 years, did you work abroad?" of q0') in draft


def test_the_draft_maps_each_item_to_the_id_of_its_question(draft: str) -> None:
    spec = _spec_of(draft)
    assert {i.id: i.items for i in spec.indicators} == {
        "inv_rec_deceived_terms": ("b1",), "inv_rec_deceived_nature": ("b2",),
        "inv_rec_debt": ("b3",), "inv_dur_forced_overtime": ("c1",),
        "pen_documents": ("d1",), "pen_violence": ("d2",), "pen_wages_withheld": ("d3",)}
    context = {c.name: (c.column, c.values) for c in spec.context}
    assert context["moved"] == ("e1", {1: 1, 3: 0, 98: None, 99: None, -9: None})
    assert context["sex"] == ("stat", {1: "Male", 2: "Female"})
    assert context["region"] == ("obl", {1: "Kyiv", 2: "Lviv"})  # labels of the .dta
    assert context["age"] == ("vik", None) and context["household"] == ("hh_no", None)


def test_the_draft_guesses_nothing_that_would_change_a_number_silently(draft: str) -> None:
    spec = _spec_of(draft)
    # penalties in plain form: undetermined where a rule needs the dimension
    assert not any("__" in i.id for i in spec.indicators)
    assert "plain penalty: add the dimension it was applied in if the question says (e.g. " \
           "pen_documents__recruitment, pen_documents__duress_or_leaving)" in draft
    # the values the rules read start missing, with the suggestion as a comment
    sector = next(c for c in spec.context if c.name == "sector")
    assert sector.values == {1: None, 2: None, 3: None, 4: None}
    assert '      3: null   # "Sex work, entertainment" -> commercial_sex?' in draft
    # the question asked the other way round is left out, with its codes swapped
    assert "inv_lea_no_freedom_resign" not in {i.id for i in spec.indicators}
    assert ("  # inv_lea_no_freedom_resign: {items: [c2], codes: {yes: [3], no: [1]}}   "
            "# REVIEW: asked the other way round?") in draft
    # no universe, no skip pattern
    assert spec.universe is None and all(i.no_if is None for i in spec.indicators)


def test_the_reviewed_draft_loads_and_maps_the_files(survey: tuple[Path, Path], draft: str,
                                                     tmp_path: Path) -> None:
    """After the scripted review, ``spec check --strict`` passes and the mapping gives, for
    c2 asked the other way round (3 = not free to resign), 1 where c2 is 3."""
    path = tmp_path / "ua.yaml"
    path.write_text(_accept(draft))
    spec = check_spec(path, strict=True)
    assert review_lines(path.read_text()) == []
    mapped = spec.apply(read_microdata(survey[0]), households=read_microdata(survey[1]))
    assert mapped.universe == {"rows": 12, "in_universe": 12, "left_universe": 0}
    got = mapped.frame["inv_lea_no_freedom_resign"].to_numpy()
    expected = np.array([1, 0, 0, 0, np.nan, 0, 0, 1, 0, 0, np.nan, 0])
    np.testing.assert_array_equal(got, expected)
    sector = mapped.frame["sector"]
    assert sector.isna().tolist()[:4] == [True, True, False, True]
    assert sector.iloc[2] == "commercial_sex"
    assert mapped.frame["migrant_status"].tolist()[:5] == [
        "returned", "returned", "current_abroad", "returned", "non_migrant"]
    assert mapped.frame["vaga"].tolist()[:4] == [120.5, 120.5, 80.0, 80.0]


def test_spec_new_writes_once_atomically_and_needs_force_to_overwrite(
        survey: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "my.yaml"
    args = ["spec", "new", str(survey[0]), "--households", str(survey[1]), "-o", str(out)]
    assert main(args) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out}: 7 indicator(s) and 8 context variable(s) guessed, ")
    assert f"then run `flestimate spec check {out}`" in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my.yaml"]  # no temporary left
    assert load_spec(out).name == "ua-persons"
    out.write_text("mine\n")
    assert main(args) == 2
    assert capsys.readouterr().err == (f"flestimate: -o {out}: the file exists; give --force "
                                       f"to overwrite it\n")
    assert out.read_text() == "mine\n"
    assert main([*args, "--force"]) == 0
    assert out.read_text() == new_spec(*survey)


def test_spec_new_without_out_prints_the_draft(survey: tuple[Path, Path],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "new", str(survey[0])]) == 0
    text = capsys.readouterr().out
    assert text == new_spec(survey[0])
    assert "merge:" not in text and "# design: none of weights, strata, psu found" in text


# -- spec check ---------------------------------------------------------------------------------
def test_spec_check_prints_one_line_or_exits_2_with_the_key_path(
        draft: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ua.yaml"
    path.write_text(draft)
    n = len(review_lines(draft))
    assert main(["spec", "check", str(path)]) == 0
    assert capsys.readouterr().out == (
        "ua.yaml: valid module spec 'ua-persons': 7 indicator(s), 8 context variable(s); "
        "design: weights vaga, strata strat, psu klaster; universe: every row; reference "
        f"period 'last 5 years'; {n} line(s) still marked REVIEW\n")
    assert main(["spec", "check", str(path), "--strict"]) == 2
    assert capsys.readouterr().err.startswith(
        f"flestimate: ua.yaml: {n} line(s) still marked REVIEW (lines ")
    path.write_text(draft.replace("  weights: vaga", "  weights: 42"))
    assert main(["spec", "check", str(path)]) == 2
    assert capsys.readouterr().err == ("flestimate: ua.yaml: design.weights: must be a column "
                                       "name (string); got 42\n")
    path.write_text(draft.replace("  inv_rec_debt: b3", "  inv_rec_dept: b3"))
    assert main(["spec", "check", str(path)]) == 2
    assert "indicators.inv_rec_dept: not a canonical indicator id (indicators.md); did you " \
           "mean 'inv_rec_debt'?" in capsys.readouterr().err


def test_check_spec_accepts_the_builtin_specs() -> None:
    assert check_spec("georgia-synthetic", strict=True).name == "georgia-synthetic"
    with pytest.raises(SpecError, match="neither a file nor a built-in spec"):
        check_spec("ukraine")


# -- inspect ------------------------------------------------------------------------------------
def test_inspect_without_a_spec_lists_both_files_with_codes_and_counts(
        survey: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(survey[0]), "--households", str(survey[1])]) == 0
    out = capsys.readouterr().out
    assert f"file: {survey[0]} (spss, 12 rows, 16 variables)" in out
    # b1: 1 at rows 0, 3, 8; 3 at six rows; 98 once; -9 twice (hand count)
    assert ("  b1                       Were you deceived about the wages you would be paid? "
            "[value labels]\n                           1 Yes: 3 | 3 No: 6 | 98 Don't know: 1 "
            "| 99 Refused: 0 | -9 Not applicable: 2\n") in out
    assert "                           numeric: 12 values from 16 to 61; missing: 0" in out
    assert f"household file: {survey[1]} (stata, 6 rows, 5 variables)" in out
    assert "  obl                      Oblast [value labels]\n" \
           "                           1 Kyiv: 3 | 2 Lviv: 3\n" in out
    assert "                           1: 3 | 2: 3\n" in out  # strat, no value labels


def test_inspect_with_a_spec_exits_2_naming_every_missing_column(
        survey: tuple[Path, Path], draft: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ua.yaml"
    path.write_text(draft.replace("weights: vaga", "weights: wt")
                    .replace("inv_rec_debt: b3", "inv_rec_debt: b9"))
    code = main(["inspect", str(survey[0]), "--households", str(survey[1]), "--spec", str(path)])
    assert code == 2
    assert capsys.readouterr().err == (
        "flestimate: ua.yaml: design.weights: column 'wt' not found; indicators.inv_rec_debt."
        "items: column 'b9' not found (in ua_persons.sav or ua_households.dta)\n")
    # without the household file, the design columns are missing too
    path.write_text(draft)
    assert main(["inspect", str(survey[0]), "--spec", str(path)]) == 2
    err = capsys.readouterr().err
    assert "design.weights: column 'vaga' not found; design.strata: column 'strat' not found" \
        in err and "context.region.column: column 'obl' not found (in ua_persons.sav)" in err


def test_inspect_with_a_spec_lists_what_the_rules_need_unmapped(
        survey: tuple[Path, Path], draft: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ua.yaml"
    text = re.sub(r"  moved:.*?\n(    .*\n)+", "", draft)  # drop the `moved` block
    path.write_text(text)
    code = main(["inspect", str(survey[0]), "--households", str(survey[1]), "--spec", str(path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "  inv_rec_debt                     <- any(b3)" in out
    assert "universe: 12 of 12 rows (0 outside)" in out
    assert ("not mapped, though the rules need it (the persons it would decide stay "
            "undetermined, never 'no'):\n  rule seed2007: column moved\n"
            "  rule ilo2005: column perpetrator\n") in out
    assert "recoded to missing only (set the canonical values, docs/map.md): sector, " \
           "migrant_status" in out
    assert "penalties without a dimension (undetermined where a rule needs one; see " \
           "plain_penalties): pen_documents, pen_violence, pen_wages_withheld" in out


def test_unmapped_needs_of_the_shipped_georgia_spec_is_empty() -> None:
    """The Georgia spec maps every context name the default rules read (specs/)."""
    assert unmapped_needs(load_spec("georgia-synthetic")) == ({}, [])


def test_unmapped_needs_under_the_delphi_rules(draft: str) -> None:
    spec = _spec_of(draft)
    needs, _ = unmapped_needs(spec, trafficking="delphi2009")
    assert "Delphi dimension abuse_of_vulnerability_at_recruitment" in needs["delphi2009"]
    assert "context relationship (the link to a parent in forced labour)" in needs["child2018"]


# -- guesses ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("label", "kind"), [
    ("Yes", "yes"), ("Так", "yes"), ("No", "no"), ("Not applicable", "not_applicable"),
    ("No answer", "refused"), ("Don't know", "dont_know"), ("DK", "dont_know"),
    ("Refused", "refused"), ("Male", None)])
def test_code_kind_of_value_labels(label: str, kind: str | None) -> None:
    assert code_kind(label) == kind


def test_matching_on_the_shipped_georgia_file_never_guesses_wrong() -> None:
    """Reference: the shipped georgia-synthetic spec, written by hand. 25 of its 37 items are
    matched, each to the id (without its penalty suffix) the spec gives it."""
    from flestimate._indicators import indicator_table

    data = read_microdata(ROOT / "data" / "synthetic" / "georgia_synthetic_persons.dta")
    truth = {item: ind.id.split("__")[0] for ind in load_spec("georgia-synthetic").indicators
             for item in ind.items}
    matched = match_indicators(variables_of(data).values(), indicator_table())
    got = {item: iid for item, (iid, _) in matched.items()}
    assert len(got) == 25
    assert got == {item: truth[item] for item in got}


# -- docs/map.md --------------------------------------------------------------------------------
def test_the_map_page_shows_the_generated_tables() -> None:
    page = (ROOT / "docs" / "map.md").read_text(encoding="utf-8")
    assert canonical_tables_markdown() in page, \
        "run: python -m flestimate.authoring docs/map.md"
    assert "indicators.md" not in page.replace("`rules/indicators.yaml`", "").replace(
        "src/flestimate/rules/indicators.yaml", "")


def test_the_tables_list_every_canonical_id_and_every_value_the_rules_read() -> None:
    from flestimate import mapping
    from flestimate._indicators import RULES_DIR, indicator_table
    from flestimate.classification import CHILD_RELATION, PARENT_RELATIONS
    from flestimate.classification._evaluate import MIXED_SECTOR, SEXUAL_SECTOR

    text = canonical_tables_markdown()
    table = indicator_table()
    ids = {i for i in table.canonical_ids() if "__" not in i}
    assert {i for i in ids if f"| `{i}` |" not in text} == set()
    assert set(CONTEXT_VARIABLES) == set(mapping._CONTEXT_NAMES)
    assert all(m for c in CONTEXT_VARIABLES.values() for m in (c.meaning, *c.values.values()))
    read: set[tuple[str, str]] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("column") in CONTEXT_VARIABLES and isinstance(node.get("value"), str):
                read.add((node["column"], node["value"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for path in RULES_DIR.glob("*.yaml"):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    read |= {("relationship", r) for r in (*PARENT_RELATIONS, CHILD_RELATION)}
    read |= {("sector", SEXUAL_SECTOR), ("sector", MIXED_SECTOR)}
    assert ("perpetrator", "state") in read and ("sector", "armed_conflict") in read
    assert {(c, v) for c, v in read if v not in CONTEXT_VARIABLES[c].values} == set()
    assert {(c, v) for c, v in read if f"`{v}`" not in text} == set()


def test_inspect_checks_the_needs_of_the_rule_sets_given(
        survey: tuple[Path, Path], draft: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ua.yaml"
    path.write_text(draft)
    code = main(["inspect", str(survey[0]), "--households", str(survey[1]), "--spec", str(path),
                 "--trafficking", "delphi2009"])
    out = capsys.readouterr().out
    assert code == 0
    assert "  rule delphi2009: Delphi dimension abuse_of_vulnerability_at_destination, " in out
    assert main(["inspect", str(survey[0]), "--spec", str(path), "--households",
                 str(survey[1]), "--trafficking", "seed2008"]) == 2
    assert "seed2008" in capsys.readouterr().err


def test_an_item_coded_otherwise_gets_its_own_codes_and_a_file_without_items_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyreadstat

    frame = pd.DataFrame({"a1": [1.0, 3, 1], "a2": [1.0, 3, 3], "a3": [1.0, 2, 2],
                          "w": [1.0, 2.0, 3.0]})
    sav = tmp_path / "odd.sav"
    pyreadstat.write_sav(frame, sav, column_labels={
        "a1": "Deceived about the nature of the work", "a2": "Forced to be on call day and night",
        "a3": "Were your wages withheld?", "w": "Person weight"},
        variable_value_labels={"a1": YN, "a2": YN, "a3": {1: "Yes", 2: "No"}})
    text = new_spec(sav)
    assert "codes:\n  yes: [1]\n  no: [3]\n" in text  # two items of three share it
    assert ("  pen_wages_withheld: {items: [a3], codes: {yes: [1], no: [2]}}   # REVIEW: "
            'guessed from a3 "Were your wages withheld?"') in text
    spec = _spec_of(text)
    assert next(i for i in spec.indicators if i.id == "pen_wages_withheld").codes["no"] == (2,)
    bare = tmp_path / "bare.sav"
    pyreadstat.write_sav(frame[["w"]], bare)
    assert main(["spec", "new", str(bare), "-o", str(tmp_path / "bare.yaml")]) == 0
    assert capsys.readouterr().out == (
        f"wrote {tmp_path / 'bare.yaml'}: no yes/no item matched a canonical indicator; map at "
        f"least one under `indicators:` (docs/map.md lists the ids) before the spec loads\n")


def test_the_generated_block_is_rewritten_between_its_markers(tmp_path: Path) -> None:
    from flestimate.authoring import rewrite_generated_block
    from flestimate.authoring._catalogue import BEGIN, END

    page = tmp_path / "page.md"
    page.write_text(f"# Title\n\n{BEGIN}\nold table\n{END}\n\nafter\n")
    assert rewrite_generated_block(page) is True
    assert page.read_text() == f"# Title\n\n{canonical_tables_markdown()}\n\nafter\n"
    assert rewrite_generated_block(page) is False
    page.write_text("# no markers\n")
    with pytest.raises(SpecError, match="the markers of the generated block are missing"):
        rewrite_generated_block(page)
