"""A new country's questionnaire to a published table, from the shell only (issue 17, "Done
when"; walked through in ``docs/your-country.md``).

The survey is made up here with pyreadstat: a Ukraine-style person ``.sav`` and household
``.dta`` with their own variable names and labels, codes 1 yes / 3 no / 98 don't know / 99
refused / -9 not applicable, one question asked the other way round ("Could you resign from the
job freely?"), a region column with value labels and the design (weights, 3 strata, 12 PSUs) in
the household file: 300 persons in 150 households, 245 of them in the module's universe (worked
abroad in the last 5 years), with forced-labour cases among them.

Every step goes through ``flestimate.cli.main`` as an analyst would from the shell: ``spec
new`` -> a scripted review of the draft -> ``spec check`` -> ``inspect`` -> ``estimate`` in
every output format -> ``run`` on a batch of two copies of the survey. The reference of every
number is :func:`_by_hand`: the ICLS 2018 rule (``rules/icls2018.yaml``: some involuntariness
item AND some penalty item is yes) evaluated on the generated columns with pandas, the weighted
share, its weighted count and its Taylor-linearised standard error (the first-stage
with-replacement formula of R ``survey::svyratio``, written out), all with ``--missing minimum``
so that no imputation enters.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flestimate.cli import main

YN = {1: "Yes", 3: "No", 98: "Don't know", 99: "Refused", -9: "Not applicable"}
INVOLUNTARY = {
    "v201": "Were you deceived about the wages you would be paid?",
    "v202": "Were you deceived about the nature of the work?",
    "v203": "Were you recruited with a loan or advance you had to work off?",
    "v204": "Were you forced to work overtime beyond what was agreed?",
}
#: asked the other way round: "no" (3) is the involuntariness inv_lea_no_freedom_resign
REVERSED = {"v205": "Could you resign from the job freely?"}
PENALTY = {
    "v301": "Were your identity documents or passport taken away?",
    "v302": "Were you subjected to physical violence or threats of violence?",
    "v303": "Were your wages withheld?",
}
ITEMS = {**INVOLUNTARY, **REVERSED, **PENALTY,
         "v401": "Did you cross a border for this job?",
         "v100": "In the last 5 years, did you work abroad?"}
OBLAST = {1: "Kyiv", 2: "Lviv", 3: "Odesa", 4: "Kharkiv"}
#: the analyst's review: each value label -> the value the spec gives it (canonical where the
#: rules read it, docs/map.md)
REVIEWED_VALUES = {"Construction": "construction", "Agriculture": "agriculture",
                   "Sex work, entertainment": "commercial_sex", "Domestic work": "domestic_work",
                   "Other": "other", "Private person or company": "private",
                   "State body": "state", "Returned migrant": "returned",
                   "Currently abroad": "current_abroad", "Never worked abroad": "non_migrant"}
NATIONAL_FL = ("prevalence", "national", "share", "forced_labour")


# -- the survey ---------------------------------------------------------------------------------
def _answers(rng: np.random.Generator, victim: np.ndarray, abroad: np.ndarray,
             p_victim: float, p_other: float) -> np.ndarray:
    """Codes of one yes/no item: yes with probability ``p_victim`` for the persons built as
    victims, ``p_other`` otherwise; 4% don't know, 2% refused; -9 outside the universe."""
    n = len(victim)
    code = np.where(rng.random(n) < np.where(victim, p_victim, p_other), 1.0, 3.0)
    u = rng.random(n)
    code = np.where(u < 0.04, 98.0, np.where(u < 0.06, 99.0, code))
    return np.where(abroad, code, -9.0)


def _households(rng: np.random.Generator, n_hh: int) -> pd.DataFrame:
    """150 households in 12 PSUs of 3 strata (4 PSUs each); a region (oblast) per PSU."""
    psu_index = np.repeat(np.arange(12), -(-n_hh // 12))[:n_hh]
    strat = psu_index // 4 + 1
    return pd.DataFrame({
        "hhid": np.arange(1, n_hh + 1),
        "wgt_hh": np.round(rng.uniform(80, 400, n_hh) * strat, 2),
        "strat": strat,
        "psu": 100 * strat + psu_index % 4 + 1,
        "oblast": np.array([1, 2, 1, 3, 2, 4, 3, 4, 1, 2, 3, 4])[psu_index]})


def _persons(rng: np.random.Generator, n_hh: int) -> pd.DataFrame:
    """Two adults per household; 80% worked abroad (the universe), 15% of those answer as
    victims do (most forced-labour cases)."""
    n = 2 * n_hh
    abroad = rng.random(n) < 0.8
    victim = abroad & (rng.random(n) < 0.15)
    persons = pd.DataFrame({
        "hhid": np.repeat(np.arange(1, n_hh + 1), 2).astype(float),
        "v001": np.tile([1.0, 2.0], n_hh),
        "v002": rng.integers(1, 3, n).astype(float),
        "v003": rng.integers(18, 65, n).astype(float),
        "v100": np.where(abroad, 1.0, 3.0),
        "v101": np.where(abroad, np.where(rng.random(n) < 0.9, 1.0, 2.0), 3.0)})
    for item in INVOLUNTARY:
        persons[item] = _answers(rng, victim, abroad, 0.45, 0.05)
    not_free = _answers(rng, victim, abroad, 0.5, 0.05)
    persons["v205"] = np.where(not_free == 1, 3.0, np.where(not_free == 3, 1.0, not_free))
    for item in PENALTY:
        persons[item] = _answers(rng, victim, abroad, 0.5, 0.04)
    persons["v401"] = _answers(rng, victim, abroad, 0.9, 0.9)
    persons["v402"] = np.where(abroad, np.where(rng.random(n) < 0.95, 1.0, 2.0), -9.0)
    persons["v403"] = np.where(abroad, rng.integers(1, 6, n).astype(float), -9.0)
    return persons


def _build(folder: Path) -> dict[str, Any]:
    """Write ``ua_persons.sav`` and ``ua_households.dta`` into ``folder``."""
    import pyreadstat

    rng = np.random.default_rng(17)
    households = _households(rng, 150)
    persons = _persons(rng, 150)
    labels = {"hhid": "Household number", "v001": "Line number of the member",
              "v002": "Sex of respondent", "v003": "Age in completed years",
              "v101": "Migration status", "v402": "Employer type",
              "v403": "Sector of the last job abroad", **ITEMS}
    values = {"v002": {1: "Male", 2: "Female"},
              "v101": {1: "Returned migrant", 2: "Currently abroad", 3: "Never worked abroad"},
              "v402": {1: "Private person or company", 2: "State body", -9: "Not applicable"},
              "v403": {1: "Construction", 2: "Agriculture", 3: "Sex work, entertainment",
                       4: "Domestic work", 5: "Other", -9: "Not applicable"},
              **{k: YN for k in ITEMS}}
    sav = folder / "ua_persons.sav"
    pyreadstat.write_sav(persons, sav, column_labels=labels, variable_value_labels=values)
    dta = folder / "ua_households.dta"
    pyreadstat.write_dta(households, dta,
                         column_labels=["Household number", "Household weight", "Stratum",
                                        "Cluster (PSU)", "Oblast"],
                         variable_value_labels={"oblast": OBLAST})
    return {"sav": sav, "dta": dta, "persons": persons, "households": households}


def _by_hand(persons: pd.DataFrame, households: pd.DataFrame) -> dict[str, Any]:
    """The national forced-labour share under ICLS 2018 with the undetermined counted as not
    (the minimum estimate), from the generated columns.

    In forced labour: some involuntariness item is yes (v201-v204 coded 1, or v205 coded 3:
    not free to resign) AND some penalty item is yes (v301-v303 coded 1). Not in forced labour
    (observed absent): no involuntariness item is yes or unanswered, or no penalty item is yes
    or unanswered; the upper bound is everybody else. Share R = sum(w y) / sum(w) over the
    universe (v100 = 1); Taylor SE: z_i = w_i (y_i - R) / sum(w) in the universe, 0 outside,
    summed by PSU; var = sum_h n_h / (n_h - 1) sum_j (z_hj - mean_h z)^2 over the n_h PSUs of
    stratum h (R survey, svyratio with the default lonely-PSU "fail" and no fpc).
    """
    d = persons.merge(households, on="hhid", validate="m:1")
    inside = d["v100"] == 1
    answered = d[[*INVOLUNTARY, "v205", *PENALTY]].isin([1.0, 3.0])
    inv_yes = (d[list(INVOLUNTARY)] == 1).any(axis=1) | (d["v205"] == 3)
    pen_yes = (d[list(PENALTY)] == 1).any(axis=1)
    inv_maybe = inv_yes | ~answered[[*INVOLUNTARY, "v205"]].all(axis=1)
    pen_maybe = pen_yes | ~answered[list(PENALTY)].all(axis=1)
    fl = inside & inv_yes & pen_yes
    not_fl = inside & ~(inv_maybe & pen_maybe)
    w = d["wgt_hh"].where(inside, 0.0)
    share = float((w * fl).sum() / w.sum())
    z = w * (fl.astype(float) - share) / w.sum()
    psu_totals = z.groupby([d["strat"], d["psu"]]).sum()
    variance = 0.0
    for _, totals in psu_totals.groupby(level="strat"):
        k = len(totals)
        variance += k / (k - 1) * float(((totals - totals.mean()) ** 2).sum())
    n_region = d[inside].groupby("oblast").size()
    return {"share": share, "number": float((w * fl).sum()), "se": variance ** 0.5,
            "cases": int(fl.sum()), "n": int(inside.sum()), "rows": len(d),
            "not_fl_cases": int(not_fl.sum()),
            "bound_high": 1.0 - float((w * not_fl).sum() / w.sum()),
            "n_region": {OBLAST[int(code)]: int(n) for code, n in n_region.items()}}


def _review(text: str) -> str:
    """The analyst's scripted review of the draft: uncomment the question asked the other way
    round, set the values the draft leaves null, add the universe (persons who worked abroad),
    and accept every other guess by deleting its REVIEW marker."""
    text = text.replace("  # inv_lea_no_freedom_resign:", "  inv_lea_no_freedom_resign:")
    for label, value in REVIEWED_VALUES.items():
        text = re.sub(rf'(\n {{6}}-?\d+: )null(   # "{re.escape(label)}")', rf"\g<1>{value}\2",
                      text)
    text = text.replace('# universe:\n#   and:\n#     - {column: AGE, op: ">=", value: 15}',
                        'universe: {column: v100, op: "==", value: 1}')
    return "\n".join(re.sub(r"\s*#.*REVIEW[:;)].*$", "", line) if "REVIEW" in line else line
                     for line in text.splitlines()) + "\n"


# -- fixtures: each step of the path, through the CLI -------------------------------------------
@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    built = _build(tmp_path_factory.mktemp("ukraine"))
    built["hand"] = _by_hand(built["persons"], built["households"])
    return built


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    said = capsys.readouterr()
    return code, said.out, said.err


@pytest.fixture(scope="module")
def draft(survey: dict[str, Any]) -> Path:
    """``flestimate spec new persons.sav --households households.dta -o draft.yaml``."""
    out = survey["sav"].parent / "draft.yaml"
    assert main(["spec", "new", str(survey["sav"]), "--households", str(survey["dta"]),
                 "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def spec(draft: Path) -> Path:
    """The reviewed spec, ``ua.yaml``."""
    path = draft.parent / "ua.yaml"
    path.write_text(_review(draft.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def _estimate(survey: dict[str, Any], spec: Path, *extra: str) -> list[str]:
    return ["estimate", str(survey["sav"]), "--households", str(survey["dta"]), "--spec",
            str(spec), "--missing", "minimum", *extra]


# -- the reference itself -----------------------------------------------------------------------
def test_the_generated_survey_has_forced_labour_cases(survey: dict[str, Any]) -> None:
    hand = survey["hand"]
    assert (hand["rows"], hand["n"]) == (300, 245)
    assert hand["cases"] == 28 and round(hand["share"], 6) == 0.099105
    assert hand["n_region"] == {"Kyiv": 67, "Lviv": 58, "Odesa": 65, "Kharkiv": 55}


# -- spec new, the review, spec check -----------------------------------------------------------
def test_spec_new_drafts_from_both_files_and_guesses_nothing_silent(
        survey: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "draft.yaml"
    code, said, _ = _run(["spec", "new", survey["sav"], "--households", survey["dta"],
                          "-o", out], capsys)
    assert code == 0
    assert said.startswith(f"wrote {out}: 7 indicator(s) and 9 context variable(s) guessed, "
                           "30 line(s) marked REVIEW; check them, then run `flestimate spec "
                           f"check {out}`")
    text = out.read_text(encoding="utf-8")
    assert "codes:\n  yes: [1]\n  no: [3]\n  dont_know: [98]\n  refused: [99]\n" \
           "  not_applicable: [-9]\n" in text
    assert "merge:\n  on: hhid   # REVIEW" in text
    assert "  weights: wgt_hh   # REVIEW" in text and "  psu: psu   # REVIEW" in text
    assert ("  # inv_lea_no_freedom_resign: {items: [v205], codes: {yes: [3], no: [1]}}   "
            "# REVIEW: asked the other way round?") in text
    assert '      2: null   # "State body" -> state?' in text
    assert "  region:   # REVIEW: guessed from the name \"oblast\"\n    column: oblast\n" \
           "    values:\n      1: Kyiv\n      2: Lviv\n      3: Odesa\n      4: Kharkiv\n" in text


def test_spec_check_counts_the_review_lines_then_passes_strict(
        draft: Path, spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, said, _ = _run(["spec", "check", draft], capsys)
    assert code == 0 and said.endswith("; 30 line(s) still marked REVIEW\n")
    code, _, err = _run(["spec", "check", draft, "--strict"], capsys)
    assert code == 2 and err.startswith("flestimate: draft.yaml: 30 line(s) still marked REVIEW")
    code, said, err = _run(["spec", "check", spec, "--strict"], capsys)
    assert (code, err) == (0, "")
    assert said == ("ua.yaml: valid module spec 'ua-persons': 8 indicator(s), 9 context "
                    "variable(s); design: weights wgt_hh, strata strat, psu psu; universe: "
                    "v100 == 1; reference period 'last 5 years'\n")


# -- inspect ------------------------------------------------------------------------------------
def test_inspect_without_a_spec_shows_both_files(survey: dict[str, Any],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["inspect", survey["sav"], "--households", survey["dta"]], capsys)
    assert code == 0
    households = survey["households"]
    counts = households["oblast"].value_counts()
    assert ("  oblast                   Oblast [value labels]\n                           "
            + " | ".join(f"{c} {OBLAST[c]}: {counts[c]}" for c in OBLAST) + "\n") in out
    low, high = households["wgt_hh"].min(), households["wgt_hh"].max()
    assert f"numeric: 150 values from {low} to {high}; missing: 0" in out  # not np.float64(...)
    assert "file: " in out and "(spss, 300 rows, 17 variables)" in out
    assert "(stata, 150 rows, 5 variables)" in out


def test_inspect_with_the_spec_maps_every_column(survey: dict[str, Any], spec: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["inspect", survey["sav"], "--households", survey["dta"], "--spec",
                           spec], capsys)
    assert (code, err) == (0, "")
    assert "  inv_lea_no_freedom_resign        <- any(v205)\n" in out
    assert "  region                           <- oblast (recoded)\n" in out
    assert f"universe: {survey['hand']['n']} of 300 rows (55 outside)" in out
    assert "not found" not in out
    assert ("not mapped, though the rules need it (the persons it would decide stay "
            "undetermined, never 'no'):\n  rule child2018: context relationship") in out
    assert "recoded to missing only" not in out  # every null of the draft was reviewed
    assert "penalties without a dimension (undetermined where a rule needs one; see " \
           "plain_penalties): pen_documents, pen_violence, pen_wages_withheld" in out


def test_inspect_exits_2_when_the_spec_names_a_column_of_neither_file(
        survey: dict[str, Any], spec: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    wrong = tmp_path / "ua.yaml"
    wrong.write_text(spec.read_text(encoding="utf-8").replace("weights: wgt_hh", "weights: wt"),
                     encoding="utf-8")
    code, out, err = _run(["inspect", survey["sav"], "--households", survey["dta"], "--spec",
                           wrong], capsys)
    assert (code, out) == (2, "")
    assert err == ("flestimate: ua.yaml: design.weights: column 'wt' not found (in "
                   "ua_persons.sav or ua_households.dta)\n")


# -- estimate, every output format --------------------------------------------------------------
def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _national_fl(rows: list[dict[str, Any]]) -> dict[str, Any]:
    (row,) = [r for r in rows if (r["table"], r["by"], r["measure"], r["indicator"])
              == NATIONAL_FL]
    return row


def test_estimate_prints_the_table_with_the_hand_numbers(
        survey: dict[str, Any], spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hand = survey["hand"]
    code, out, _ = _run(_estimate(survey, spec), capsys)
    assert code == 0
    assert out.startswith(f"Forced labour and trafficking: ua-persons ({survey['sav']}); 245 "
                          "persons in the universe of 300 rows; reference period: last 5 years")
    line = next(x for x in out.splitlines() if x.startswith("In forced labour"))
    assert line.split()[3:5] == [f"{100 * hand['share']:.1f}", "6.5"]  # % and CI low
    assert f"{hand['number']:,.0f}" in line.split() and line.split()[-2:] == ["28", "245"]
    assert "missing answers: minimum estimate (undetermined counted as not)" in out


def test_estimate_csv_and_json_equal_the_hand_computation(
        survey: dict[str, Any], spec: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    hand = survey["hand"]
    assert _run(_estimate(survey, spec, "-o", tmp_path / "ua.csv"), capsys)[0] == 0
    assert _run(_estimate(survey, spec, "-o", tmp_path / "ua.json"), capsys)[0] == 0
    row = _national_fl(_csv_rows(tmp_path / "ua.csv"))
    doc = json.loads((tmp_path / "ua.json").read_text(encoding="utf-8"))
    record = _national_fl(doc["estimates"])
    for got in (row, record):
        assert float(got["estimate"]) == pytest.approx(hand["share"], rel=1e-12)
        assert float(got["minimum"]) == pytest.approx(hand["share"], rel=1e-12)
        assert float(got["se"]) == pytest.approx(hand["se"], rel=1e-9)
        assert float(got["bound_high"]) == pytest.approx(hand["bound_high"], rel=1e-12)
        assert (int(got["n_cases"]), int(got["n"]), float(got["df"])) == (28, 245, 9.0)
    assert float(row["se"]) == pytest.approx(0.015322168, rel=1e-7)
    (number,) = [r for r in doc["estimates"] if (r["by"], r["measure"], r["indicator"])
                 == ("national", "number", "forced_labour")]
    assert number["estimate"] == pytest.approx(hand["number"], rel=1e-12)
    (not_fl,) = [r for r in doc["estimates"] if (r["by"], r["measure"], r["indicator"])
                 == ("national", "share", "not_forced_labour")]
    assert not_fl["n_cases"] == hand["not_fl_cases"] == 196
    assert doc["provenance"]["reference_period"] == "last 5 years"


def test_estimate_by_region_shows_the_value_labels(
        survey: dict[str, Any], spec: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(_estimate(survey, spec, "--by", "region", "-o", tmp_path / "r.csv"),
                capsys)[0] == 0
    rows = [r for r in _csv_rows(tmp_path / "r.csv") if r["by"] == "region"
            and (r["measure"], r["indicator"]) == ("share", "forced_labour")]
    assert {r["region"]: int(r["n"]) for r in rows} == survey["hand"]["n_region"]


def test_estimate_excel_stores_the_hand_numbers_as_numbers(
        survey: dict[str, Any], spec: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    hand = survey["hand"]
    out = tmp_path / "ua.xlsx"
    assert _run(_estimate(survey, spec, "-o", out), capsys)[0] == 0
    book = openpyxl.load_workbook(out)
    national = book["national"]
    header = [c.value for c in national[1]]
    first = {h: c for h, c in zip(header, national[2], strict=True)}
    assert first["indicator"].value == "In forced labour"
    assert first["%"].value == pytest.approx(100 * hand["share"], rel=1e-12)
    assert first["%"].number_format == "0.0" and first["%"].data_type == "n"
    assert first["number"].value == pytest.approx(hand["number"], rel=1e-12)
    assert first["number"].number_format == "#,##0"
    assert (first["cases"].value, first["n"].value) == (28, 245)
    assert national.freeze_panes == "B2"
    estimates = book["estimates"]
    header = [c.value for c in estimates[1]]
    rows = [dict(zip(header, r, strict=True)) for r in estimates.iter_rows(min_row=2,
                                                                          values_only=True)]
    assert _national_fl(rows)["estimate"] == pytest.approx(hand["share"], rel=1e-12)
    notes = {r[0]: r[1] for r in book["notes"].iter_rows(min_row=2, values_only=True)}
    assert notes["Penalties of unknown dimension (plain_penalties)"] == \
        "unknown_dimension (pen_documents, pen_violence, pen_wages_withheld)"


def test_estimate_html_shows_the_hand_numbers(survey: dict[str, Any], spec: Path,
                                              tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    hand = survey["hand"]
    out = tmp_path / "ua.html"
    assert _run(_estimate(survey, spec, "-o", out), capsys)[0] == 0
    page = out.read_text(encoding="utf-8")
    assert "<h1>Forced labour and trafficking: ua-persons, last 5 years" in page
    row = page[page.index(">In forced labour</td>"):]
    row = row[:row.index("</tr>")]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells[:5] == [f"{100 * hand['share']:.1f}", "6.5 – 14.4",
                         f"{100 * hand['share']:.1f} – {100 * hand['bound_high']:.1f}",
                         f"{hand['number']:,.0f}", "7,187 – 17,287"]
    assert cells[5:7] == ["28", "245"]


# -- a batch of two copies ----------------------------------------------------------------------
BATCH = """\
[output]
folder = "results"
formats = ["csv"]
reports = false

[defaults]
spec = "ua.yaml"
households = "{households}"
missing = "minimum"
by = "sex,region"

[[survey]]
id = "UKR-2024"
country = "UKR"
year = 2024
file = "ua_persons.sav"

[[survey]]
id = "UKR-2024-copy"
country = "UKR"
year = 2024
file = "copy/ua_persons.sav"
households = "copy/ua_households.dta"
"""


def test_batch_of_two_copies_gives_the_single_run_numbers(
        survey: dict[str, Any], spec: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    hand = survey["hand"]
    (tmp_path / "copy").mkdir()
    for name in ("sav", "dta"):
        shutil.copy(survey[name], tmp_path / survey[name].name)
        shutil.copy(survey[name], tmp_path / "copy" / survey[name].name)
    shutil.copy(spec, tmp_path / "ua.yaml")
    batch = tmp_path / "batch.toml"
    batch.write_text(BATCH.format(households="ua_households.dta"), encoding="utf-8")
    code, out, err = _run(["run", batch, "--jobs", "1", "--quiet"], capsys)
    assert code == 0, err
    assert out.startswith("flestimate run batch.toml: 2 surveys: 2 done, 0 skipped, 0 failed")
    assert _run(_estimate(survey, spec, "--by", "sex,region", "-o", tmp_path / "one.csv"),
                capsys)[0] == 0
    single = _csv_rows(tmp_path / "one.csv")
    stacked = _csv_rows(tmp_path / "results" / "estimates.csv")
    for survey_id in ("UKR-2024", "UKR-2024-copy"):
        rows = [{k: v for k, v in r.items() if k in single[0]} for r in stacked
                if r["survey"] == survey_id]
        assert rows == single
        assert float(_national_fl(rows)["estimate"]) == pytest.approx(hand["share"],
                                                                       rel=1e-12)
    manifest = json.loads((tmp_path / "results" / "manifest.json").read_text(encoding="utf-8"))
    options = [s["options"] for s in manifest["surveys"]]
    assert [(o["missing"], o["plain_penalties"], o["by"]) for o in options] == \
        [("minimum", "unknown_dimension", ["sex", "region"])] * 2
