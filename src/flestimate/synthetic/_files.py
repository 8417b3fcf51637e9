"""Encoding a drawn sample as a Moldova-style or Georgia-style questionnaire file, and writing
the files (SPSS, Stata, CSV) deterministically, byte for byte."""

from __future__ import annotations

import gzip
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flestimate._atomic import atomic_write_bytes
from flestimate.synthetic import _styles as S
from flestimate.synthetic._sample import (
    DONT_KNOW,
    NO,
    REFUSED,
    SKIPPED,
    YES,
    Fieldwork,
)

#: The date written into file headers, so that regenerated files are identical.
FILE_DATE = datetime(2026, 11, 29, 0, 0)

Labels = dict[str, dict[int, str]]


def _answer_codes(st: S.Style, cat: np.ndarray, reverse: bool) -> np.ndarray:
    yes, no = (st.no, st.yes) if reverse else (st.yes, st.no)
    skipped = np.nan if st.not_applicable is None else float(st.not_applicable)
    return np.select([cat == YES, cat == NO, cat == DONT_KNOW, cat == REFUSED, cat == SKIPPED],
                     [yes, no, st.dont_know, st.refused, skipped], np.nan)


def _yes_no_labels(st: S.Style) -> dict[int, str]:
    labels = {st.yes: "Yes", st.no: "No", st.dont_know: "Don't know", st.refused: "Refused"}
    if st.not_applicable is not None:
        labels[st.not_applicable] = "Not applicable"
    return labels


class _FileColumns:
    """The columns of a file being built, in order, with their variable labels, value labels
    and user-missing codes."""

    def __init__(self) -> None:
        self.cols: dict[str, Any] = {}
        self.labels: dict[str, str] = {}
        self.values: Labels = {}
        self.missing: dict[str, list[int]] = {}

    def add(self, name: str, data: Any, label: str, vlabels: dict[int, str] | None = None,
            miss: list[int] | None = None) -> None:
        """Append the column ``name`` with its labels and missing codes."""
        self.cols[name] = data
        self.labels[name] = label
        if vlabels:
            self.values[name] = vlabels
        if miss:
            self.missing[name] = miss


def encode(style: str, fw: Fieldwork) -> tuple[pd.DataFrame, pd.DataFrame | None,
                                               dict[str, str], Labels, dict[str, list[int]]]:
    """The person file (and for Georgia the household file) as the questionnaire codes them,
    with variable labels, value labels and user-missing codes.

    The steps: identifiers and (Moldova) design columns, the roster, the module (who
    answered, destination, sector, the items with the penalty filter, the perpetrator), whole
    numbers as integer columns, then the Georgia household file.
    """
    st = S.STYLES[style]
    geo = style == "georgia"
    out = _FileColumns()
    region_labels = {i + 1: r[0] for i, r in enumerate(st.regions)}
    _id_and_design_columns(out, fw.persons, geo, region_labels)
    _roster_columns(out, fw.persons, geo)
    _module_columns(out, st, fw, geo)
    frame = _integer_columns(pd.DataFrame(out.cols))
    households = None
    if geo:
        households = _household_file(fw.households, out, region_labels)
    return frame, households, out.labels, out.values, out.missing


def _in_universe(fw: Fieldwork, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """A person column from the values of the universe's rows (``fill`` elsewhere)."""
    out = np.full(len(fw.persons), fill)
    out[fw.universe] = values
    return out


def _id_and_design_columns(out: _FileColumns, p: pd.DataFrame, geo: bool,
                           region_labels: dict[int, str]) -> None:
    """Household and person identifiers; for Moldova also region, area, stratum, PSU and the
    weights (Georgia keeps them in the household file)."""
    hh_id = p["hh_seq"].to_numpy() + 100_000
    out.add("hhid" if geo else "hh_id", hh_id, "Household identifier")
    out.add("pid" if geo else "ln", p["line"].to_numpy(), "Person line number in the roster")
    if not geo:
        out.add("reg", p["region"].to_numpy(), "Region", region_labels)
        out.add("urb", p["urban"].to_numpy(), "Area", {1: "Urban", 2: "Rural"})
        out.add("strat", p["stratum"].to_numpy(), "Sampling stratum (region x area)")
        out.add("psu", p["ea"].to_numpy(), "Primary sampling unit (enumeration area)")
        out.add("w_hh", p["weight"].to_numpy(), "Household weight (non-response adjusted)")
        out.add("w_pers", p["person_weight"].to_numpy(),
                "Person weight (calibrated to region x sex x age group)")


def _roster_columns(out: _FileColumns, p: pd.DataFrame, geo: bool) -> None:
    """Sex, age, relationship to the head, (Georgia) the person weight, and the migration
    question that defines the module's universe (asked of persons 15+)."""
    sex_name, age_name, rel_name = (("sex", "age", "rel") if geo
                                    else ("q1_02", "q1_03", "q1_04"))
    out.add(sex_name, p["sex"].to_numpy(), "Sex", {1: "Male", 2: "Female"})
    out.add(age_name, p["age"].to_numpy(), "Age in completed years")
    out.add(rel_name, p["relation"].to_numpy(), "Relationship to the household head",
            {1: "Head", 2: "Spouse", 3: "Child", 4: "Other relative"})
    if geo:
        out.add("w_person", p["person_weight"].to_numpy(),
                "Person weight (calibrated to region x sex x age group)")
    status = p["migrant_status"].to_numpy()
    adult = p["age"].to_numpy() >= 15
    if geo:
        mig = np.where(adult, np.select([status == 1, status == 2], [1, 2], 3), np.nan)
        mig_labels = {1: "Returned migrant", 2: "Currently abroad", 3: "Not a migrant"}
    else:
        mig = np.where(adult, status + 1.0, np.nan)
        mig_labels = {1: "Never worked abroad", 2: "Returned migrant", 3: "Currently abroad"}
    out.add("mig_stat" if geo else "q3_01", mig,
            "Worked or looked for work abroad in the last 10 years", mig_labels)


def _module_columns(out: _FileColumns, st: S.Style, fw: Fieldwork, geo: bool) -> None:
    """The module: who answered, the result, destination and sector, every item in the
    style's codes (the penalty filter before the penalty block), and the perpetrator."""
    dk = 97 if geo else 98
    u = fw.universe
    p = fw.persons
    sector = p["sector"].to_numpy()[u] + 1.0
    sector = np.where(fw.sector_known, sector, dk)
    out.add("m1_resp" if geo else "q3_02", _in_universe(fw, np.where(fw.proxy, 2, 1)),
            "Module answered by", {1: "The migrant", 2: "Another household member (proxy)"})
    out.add("m1_status" if geo else "q3_03", _in_universe(fw, np.where(fw.interviewed, 1, 2)),
            "Module result", {1: "Completed", 2: "Not completed"})
    out.add("m1_dest" if geo else "q3_05",
            _in_universe(fw, p["destination"].to_numpy()[u] + 1.0),
            "Country of the last job abroad", {i + 1: d for i, d in enumerate(st.destinations)})
    out.add("m1_sector" if geo else "q3_07", _in_universe(fw, sector),
            "Sector of the last job abroad",
            {**{i + 1: lab for i, lab in enumerate(S.SECTOR_LABELS)}, dk: "Don't know"}, [dk])
    _item_columns(out, st, fw, geo)
    who = {1: "Employer", 2: "Recruiter or intermediary", 3: "Police, authorities or military",
           dk: "Don't know"}
    if geo:
        who[st.not_applicable or 99] = "Not applicable"
    out.add(S.PERPETRATOR[1] if geo else S.PERPETRATOR[0],
            _in_universe(fw, _perpetrator_codes(st, fw, dk)), S.PERPETRATOR[2], who, [dk])


def _item_columns(out: _FileColumns, st: S.Style, fw: Fieldwork, geo: bool) -> None:
    """Every item in the style's yes/no codes (reversed where the question is), the penalty
    filter question just before the first item of the penalty block."""
    yn = _yes_no_labels(st)
    item_miss = [st.dont_know, st.refused]
    first_penalty = min(i for i, x in enumerate(S.ITEMS) if x.block == "q8")
    for j, it in enumerate(S.ITEMS):
        if it.block == "q8" and j == first_penalty:
            out.add(S.PEN_FILTER[1] if geo else S.PEN_FILTER[0],
                    _in_universe(fw, _answer_codes(st, fw.pen_filter, False)),
                    S.PEN_FILTER[2], yn, item_miss)
        name = it.georgia if geo else it.moldova
        out.add(name, _in_universe(fw, _answer_codes(st, fw.answers[:, j], it.reverse)),
                it.label, yn, item_miss)


def _perpetrator_codes(st: S.Style, fw: Fieldwork, dk: int) -> np.ndarray:
    """The perpetrator in the style's codes: don't know ``dk``, not asked the style's
    not-applicable code (or missing), missing when the module was not completed."""
    perp = fw.perpetrator.astype(float)
    perp = np.where(perp == 8, dk, perp)
    not_asked = float(st.not_applicable) if st.not_applicable is not None else np.nan
    perp = np.where(perp == 0, not_asked, perp)
    return np.asarray(np.where(fw.interviewed, perp, np.nan))


def _integer_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Whole numbers as integers (nullable where missing), the weights left as floats."""
    for name in frame.columns:
        col = frame[name]
        if name.startswith("w_"):
            continue
        if col.isna().any():
            frame[name] = col.astype("Int16" if col.max() > 127 else "Int8")
        else:
            frame[name] = col.astype(np.int32 if col.max() > 32_000 else np.int16)
    return frame


def _household_file(hh: pd.DataFrame, out: _FileColumns, region_labels: dict[int, str]
                    ) -> pd.DataFrame:
    """The Georgia household file: every selected household with its design columns, the
    interview result and the weights; adds its labels to ``out``."""
    households: pd.DataFrame = pd.DataFrame({
        "hhid": (hh["hh_seq"].to_numpy() + 100_000).astype(np.int32),
        "region": hh["region"].to_numpy().astype(np.int16),
        "urban": hh["urban"].to_numpy().astype(np.int16),
        "strata": hh["stratum"].to_numpy().astype(np.int16),
        "ea_code": hh["ea_in_stratum"].to_numpy().astype(np.int16),
        "hh_size": hh["size"].to_numpy().astype(np.int16),
        "result": hh["outcome"].to_numpy().astype(np.int16),
        "w_design": hh["design_weight"].to_numpy(),
        "w_hh": hh["weight"].to_numpy(),
    })
    out.labels.update({"hhid": "Household identifier", "region": "Region", "urban": "Area",
                       "strata": "Sampling stratum (region x area)",
                       "ea_code": "Enumeration area within the stratum (PSU)",
                       "hh_size": "Household size", "result": "Interview result",
                       "w_design": "Design weight (1 / selection probability)",
                       "w_hh": "Household weight (non-response adjusted; 0 if no interview)"})
    out.values.update({"region": region_labels, "urban": {1: "Urban", 2: "Rural"},
                       "result": {1: "Completed", 2: "Refused or not at home",
                                  3: "Area not accessible"}})
    return households


def _gzip_csv(frame: pd.DataFrame, path: Path) -> None:
    text = frame.to_csv(index=False, lineterminator="\n")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    atomic_write_bytes(path, buf.getvalue())


_SAV_DATE = re.compile(rb"\d\d [A-Z][a-z][a-z] \d\d\d\d:\d\d:\d\d")


def write_sav(frame: pd.DataFrame, path: Path, labels: dict[str, str], values: Labels,
              missing: dict[str, list[int]]) -> None:
    """SPSS file with labels and user-missing codes, its header date fixed to
    :data:`FILE_DATE` (ReadStat stamps the current time, which would make every run differ)."""
    import pyreadstat

    data = frame.astype(float)  # SPSS numbers are doubles
    buf = path.with_name(path.name + ".tmp")
    pyreadstat.write_sav(
        data, str(buf), column_labels=[labels.get(c) for c in frame.columns],
        variable_value_labels={c: {float(k): v for k, v in lab.items()}
                               for c, lab in values.items() if c in frame.columns},
        missing_ranges={c: [float(m) for m in codes] for c, codes in missing.items()
                        if c in frame.columns},
        row_compress=True, file_label="flestimate synthetic data (not real)",
    )
    try:
        raw = bytearray(buf.read_bytes())
    finally:
        buf.unlink()
    # header: "$FL2", product (60), layout, case size, compression, weight index, ncases,
    # bias (8), then the creation date (9) and time (8)
    if not _SAV_DATE.fullmatch(bytes(raw[92:109])):
        raise RuntimeError("unexpected SPSS header layout; cannot fix the file date")
    raw[92:109] = FILE_DATE.strftime("%d %b %y%H:%M:%S").encode("ascii")
    atomic_write_bytes(path, bytes(raw))


def write_dta(frame: pd.DataFrame, path: Path, labels: dict[str, str], values: Labels) -> None:
    """Stata 118 file with variable and value labels (pandas' writer: it keeps missing values
    in byte columns and takes a fixed time stamp)."""
    buf = io.BytesIO()
    frame.to_stata(buf, write_index=False, version=118, time_stamp=FILE_DATE,
                   data_label="flestimate synthetic data (not real)",
                   variable_labels={c: labels[c][:80] for c in frame.columns if c in labels},
                   value_labels={c: {float(k): lab for k, lab in v.items()}
                                 for c, v in values.items() if c in frame.columns})
    atomic_write_bytes(path, buf.getvalue())


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    _gzip_csv(frame, path)
