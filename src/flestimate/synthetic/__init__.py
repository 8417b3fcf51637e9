"""Synthetic Moldova- and Georgia-style Labour Force Survey migration-module data with a known
truth.

:func:`generate` builds a finite population (:func:`generate_population`), draws a stratified
two-stage PPS sample from it (:func:`draw_sample`) and returns a :class:`SyntheticSurvey`: the
person file (and for Georgia the household file) coded as the questionnaire codes them, the
labels, and the truth: the true status of every sampled respondent, the true population values
of the published statistics, and the counts that a correct module spec must produce. Everything
follows from ``seed``; :meth:`SyntheticSurvey.write` writes identical files for the same seed.

The data are invented (see ``survey_module.md``): they resemble the surveys in structure, not in
any real country's numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from flestimate._atomic import atomic_write_text
from flestimate._version import __version__
from flestimate.errors import ArgumentError
from flestimate.io import Metadata, Microdata
from flestimate.synthetic import _styles as S
from flestimate.synthetic._ard import ARDSample, HiddenSample, draw_ard, draw_hidden_sample
from flestimate.synthetic._files import encode, write_csv, write_dta, write_sav
from flestimate.synthetic._network import (
    KNOWN_POPULATIONS,
    KnownPopulation,
    SocialNetwork,
    build_network,
)
from flestimate.synthetic._population import (
    FORMS,
    Population,
    age_group_of,
    generate_population,
    population_values,
)
from flestimate.synthetic._rds import (
    ContactNetwork,
    RDSSample,
    build_contact_network,
    draw_rds,
)
from flestimate.synthetic._sample import (
    DONT_KNOW,
    NO,
    NOT_INTERVIEWED,
    REFUSED,
    SKIPPED,
    YES,
    canonical,
    draw_fieldwork,
)

__all__ = ["KNOWN_POPULATIONS", "STYLES", "ARDSample", "ContactNetwork", "HiddenSample",
           "KnownPopulation", "Population", "RDSSample", "SocialNetwork", "SyntheticSurvey",
           "build_contact_network", "build_network", "draw_ard", "draw_hidden_sample",
           "draw_rds", "draw_sample", "generate", "generate_population"]

STYLES: tuple[str, ...] = tuple(S.STYLES)
#: Seeds of the shipped files in ``data/synthetic/``.
SHIPPED_SEEDS = MappingProxyType({"moldova": 2008, "georgia": 2009})


@dataclass(frozen=True)
class SyntheticSurvey:
    """A drawn synthetic survey: the files' contents, their labels and the truth.

    Attributes
    ----------
    style : str
    seed : int
    persons : DataFrame
        The person file as coded by the questionnaire (Moldova: everything in one file).
    households : DataFrame or None
        The household file (Georgia style), every selected household with its interview result.
    variable_labels, value_labels, missing_values : mappings
        The file metadata (SPSS user-missing codes for Moldova).
    truth : dict
        JSON-ready: generator settings, population counts, ``population_values`` (tidy records of
        the true prevalence and totals by domain), calibration ``controls``, and ``sample``: the
        counts a correct mapping of the files must give (``canonical_counts``, ``item_codes``,
        ``universe``, ``skip_violations``) and the true status counts among respondents.
    truth_persons : DataFrame
        One row per sampled person in the module's universe: ids, true status, true form and the
        true value (0/1) of every canonical indicator.
    person_rows : ndarray or None
        For every row of ``persons``, its row in the population's persons (what
        :func:`draw_ard` needs to find the respondents in the social network).
    """

    style: str
    seed: int
    persons: pd.DataFrame
    households: pd.DataFrame | None
    variable_labels: dict[str, str]
    value_labels: dict[str, dict[int, str]]
    missing_values: dict[str, list[int]]
    truth: dict[str, Any]
    truth_persons: pd.DataFrame
    person_rows: np.ndarray | None = None

    def microdata(self, which: str = "persons") -> Microdata:
        """The person (or household) file as :class:`~flestimate.io.Microdata`, as if read from
        disk, without writing it."""
        frame = self.persons if which == "persons" else self.households
        if frame is None:
            raise ArgumentError(f"the {self.style}-style survey has no {which} file")
        cols = set(frame.columns)
        meta = Metadata(
            variable_labels=MappingProxyType({c: v for c, v in self.variable_labels.items()
                                              if c in cols}),
            value_labels=MappingProxyType({c: MappingProxyType(v) for c, v in
                                           self.value_labels.items() if c in cols}),
            missing_values=MappingProxyType({c: tuple(v) for c, v in
                                             self.missing_values.items() if c in cols}),
            file_format="synthetic",
        )
        return Microdata(frame.copy(), meta)

    @property
    def basename(self) -> str:
        return f"{self.style}_synthetic"

    def write(self, directory: str | Path, *, formats: tuple[str, ...] | None = None
              ) -> list[Path]:
        """Write the files into ``directory``; returns their paths.

        Moldova: ``moldova_synthetic.sav`` (SPSS, labels and user-missing codes 8/9),
        ``.dta`` and ``.csv.gz``; Georgia: ``georgia_synthetic_households.dta`` and
        ``georgia_synthetic_persons.dta``; both: ``<style>_synthetic_truth.json`` and
        ``<style>_synthetic_truth_persons.csv``. Same seed, same bytes.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        base = self.basename
        written: list[Path] = []
        if self.households is None:
            fmts = formats or ("sav", "dta", "csv")
            for fmt in fmts:
                if fmt == "sav":
                    path = out / f"{base}.sav"
                    write_sav(self.persons, path, self.variable_labels, self.value_labels,
                              self.missing_values)
                elif fmt == "dta":
                    path = out / f"{base}.dta"
                    write_dta(self.persons, path, self.variable_labels, self.value_labels)
                elif fmt == "csv":
                    path = out / f"{base}.csv.gz"
                    write_csv(self.persons, path)
                else:
                    raise ArgumentError(f"`formats` of `write()` must be among 'sav', 'dta', "
                                        f"'csv'; got {fmt!r}")
                written.append(path)
        else:
            for name, frame in (("households", self.households), ("persons", self.persons)):
                path = out / f"{base}_{name}.dta"
                write_dta(frame, path, self.variable_labels, self.value_labels)
                written.append(path)
        truth = out / f"{base}_truth.json"
        atomic_write_text(truth, json.dumps(self.truth, indent=1, sort_keys=False) + "\n")
        persons = out / f"{base}_truth_persons.csv"
        atomic_write_text(persons, self.truth_persons.to_csv(index=False, lineterminator="\n"))
        return [*written, truth, persons]

    def __repr__(self) -> str:
        s = self.truth["sample"]
        return (f"<SyntheticSurvey {self.style!r} seed={self.seed}: "
                f"{s['households_responding']:,} households, {s['persons']:,} persons, "
                f"{s['universe']:,} in the module's universe>")


def _check_style(style: str) -> None:
    if style not in S.STYLES:
        raise ArgumentError(f"`style` of `generate()` must be one of {', '.join(STYLES)}; "
                            f"got {style!r}")


def draw_sample(population: Population, n_households: int | None = None, *,
                seed: int = 1, missing: str = "mar", mnar_strength: float = 1.0
                ) -> SyntheticSurvey:
    """Draw a survey from ``population`` and code it as the population's style does.

    Parameters
    ----------
    population : Population
    n_households : int, optional
        Households to select (the style's default: 10,000 Moldova, 6,000 Georgia).
    seed : int
        The sample draw's seed (selection, non-response, answers).
    missing : {"mar", "mnar"}
        ``"mar"`` (default): item non-response depends on proxy status and on the question's
        sensitivity, not on the answer (missing at random given what the data show).
        ``"mnar"``: a sensitive question (violence, threats, abduction, ...) goes unanswered
        ``exp(mnar_strength)`` times as often when the true answer is yes, and so does the
        penalty filter question when a sensitive penalty happened: missing not at random, for
        testing the sensitivity analysis.
    mnar_strength : float
        The log of that factor (1: e times as often).

    Notes
    -----
    Design (``survey_module.md``): strata region x urban/rural; PSUs (enumeration areas)
    by systematic PPS on the household count in a random order, ``n_h`` proportional to the
    stratum's households with at least two; ``take`` households per PSU by simple random
    sampling; so within a stratum the design weight is ``S_h / (n_h take)``.
    Unit non-response by urban/rural (and, in the Moldova style, one two-PSU stratum whose
    second PSU is not accessible: a lonely PSU); weights adjusted within strata, then person
    weights post-stratified to the population by region x sex x age group (the LFS controls).
    Module: proxy answers for migrants abroad (and 12% of returned migrants, away at the
    interview); whole-module non-response 2% (self) / 5% (proxy); 15% of proxies answer "don't
    know" to every recruitment question and 5% to every question on the conditions of work;
    scattered don't know 0.3% (self) / 1% (proxy) and refusals 0.2% / 0.4%, five times as often
    for sensitive items; penalty items asked only after "yes" to the filter question; three
    "no" answers recorded where the skip pattern says not asked (data-entry errors that the
    data-quality report must find).
    """
    st = S.STYLES[population.style]
    n = st.default_households if n_households is None else n_households
    if missing not in ("mar", "mnar"):
        raise ArgumentError(f"`missing` of `draw_sample()` must be 'mar' or 'mnar'; got "
                            f"{missing!r}")
    if not isinstance(mnar_strength, int | float) or not np.isfinite(mnar_strength):
        raise ArgumentError(f"`mnar_strength` of `draw_sample()` must be a number; got "
                            f"{mnar_strength!r}")
    fw = draw_fieldwork(population, n, seed, missing, float(mnar_strength))
    persons, households, labels, values, missing_codes = encode(population.style, fw)
    truth, truth_persons = _truth(population, fw, persons, n, seed)
    if missing == "mnar":  # (the shipped files are "mar": their truth files stay as they are)
        truth["generator"] = {**truth["generator"], "missing": "mnar",
                              "mnar_strength": float(mnar_strength)}
    return SyntheticSurvey(population.style, seed, persons, households, labels, values,
                           missing_codes, truth, truth_persons,
                           fw.persons["person_row"].to_numpy())


def generate(style: str = "moldova", n_households: int | None = None, seed: int | None = None,
             *, population_households: int | None = None) -> SyntheticSurvey:
    """A synthetic survey with its truth: a population from ``seed``, then a sample from it.

    Parameters
    ----------
    style : {"moldova", "georgia"}
    n_households : int, optional
        Households to select (10,000 Moldova, 6,000 Georgia by default).
    seed : int, optional
        Seed of everything (the shipped files' seed by default: 2008 Moldova, 2009 Georgia).
        The population and the sample use independent streams derived from it.
    population_households : int, optional
        Size of the population (the style's country size by default, about 1.1-1.2 million
        households); smaller is faster, for tests.

    Examples
    --------
    >>> from flestimate import synthetic
    >>> survey = synthetic.generate("moldova", n_households=2000, seed=7,
    ...                             population_households=200_000)
    >>> survey.truth["sample"]["universe"] > 0
    True
    """
    _check_style(style)
    seed = SHIPPED_SEEDS[style] if seed is None else seed
    pop_seed, sample_seed = (int(s.generate_state(1)[0])
                             for s in np.random.SeedSequence(seed).spawn(2))
    pop = generate_population(style, seed=pop_seed, households=population_households)
    survey = draw_sample(pop, n_households, seed=sample_seed)
    truth = dict(survey.truth)
    truth["generator"] = {**truth["generator"], "seed": seed, "population_seed": pop_seed,
                          "population_households_requested": population_households}
    return SyntheticSurvey(style, seed, survey.persons, survey.households,
                           survey.variable_labels, survey.value_labels,
                           survey.missing_values, truth, survey.truth_persons,
                           survey.person_rows)


def _counts(values: np.ndarray) -> dict[str, int]:
    """Counts of 1, 0 and missing of a canonical indicator."""
    return {"1": int((values == 1).sum()), "0": int((values == 0).sum()),
            "missing": int(np.isnan(values).sum())}


def _truth(pop: Population, fw: Any, persons: pd.DataFrame, n_households: int, seed: int
           ) -> tuple[dict[str, Any], pd.DataFrame]:
    """The truth of a drawn survey: the JSON-ready summary (generator, population counts,
    true population values, calibration controls, what the sample's files must give) and the
    true status of every sampled person in the module's universe."""
    geo = pop.style == "georgia"
    ids = ("hhid", "pid") if geo else ("hh_id", "ln")
    truth: dict[str, Any] = {
        "description": (
            f"Truth of the synthetic {pop.style}-style survey made by flestimate.synthetic. "
            "Invented data: not estimates of any country. Universe: persons aged 15+ who "
            "worked abroad in the reference period (returned or currently abroad). True "
            "status from the true answers: forced labour icls2018 for adults (some "
            "involuntariness item and some element of coercion: a pen_* item, restricted "
            "movement, induced or indefinite debt, staying for wages due), the child rule "
            "under 18; trafficking seed2007 (children without means); form of forced "
            "labour by perpetrator and sector."),
        "generator": {"package": "flestimate", "version": __version__, "style": pop.style,
                      "n_households": n_households, "sample_seed": seed},
        "population": _population_counts(pop),
        "population_values": population_values(pop),
        "controls": _controls(pop),
        "sample": _sample_counts(fw, persons, ids, geo),
    }
    return truth, _truth_persons(pop, fw, persons, ids)


def _truth_persons(pop: Population, fw: Any, persons: pd.DataFrame, ids: tuple[str, str]
                   ) -> pd.DataFrame:
    """One row per sampled person in the universe: ids, true status and form, whether
    exploited, and the true value (0/1) of every canonical indicator."""
    p = fw.persons
    u = fw.universe
    hh_col, line_col = ids
    fl = p["forced_labour"].to_numpy()[u]
    tr = p["trafficked"].to_numpy()[u]
    form = p["form"].to_numpy()[u]
    mig_pos = np.searchsorted(pop.migrants, p["person_row"].to_numpy()[u])
    true_answers = pop.answers[mig_pos]
    truth_persons: pd.DataFrame = pd.DataFrame({
        hh_col: persons[hh_col].to_numpy()[u], line_col: persons[line_col].to_numpy()[u],
        "forced_labour": fl.astype(np.int8), "trafficked": tr.astype(np.int8),
        "status": np.where(tr, "trafficked_forced_labour",
                           np.where(fl, "forced_labour_not_trafficked", "not_forced_labour")),
        "form": np.where(form >= 0, np.array(FORMS, dtype=object)[np.maximum(form, 0)], ""),
        "exploited": p["exploited"].to_numpy()[u].astype(np.int8),
    })
    for ind in dict.fromkeys(it.indicator for it in S.ITEMS):
        cols = [i for i, it in enumerate(S.ITEMS) if it.indicator == ind]
        truth_persons[ind] = true_answers[:, cols].any(axis=1).astype(np.int8)
    return truth_persons


def _item_codes(fw: Any, geo: bool) -> dict[str, dict[str, int]]:
    """How many of each code every item (and the penalty filter) must show in the file: yes,
    no, don't know, refused, not applicable (Georgia) and system missing."""
    item_codes: dict[str, dict[str, int]] = {}
    names = [(it.georgia if geo else it.moldova, fw.answers[:, j])
             for j, it in enumerate(S.ITEMS)]
    names.insert(0, (S.PEN_FILTER[1] if geo else S.PEN_FILTER[0], fw.pen_filter))
    for name, cat in names:
        item_codes[name] = {
            "yes": int((cat == YES).sum()), "no": int((cat == NO).sum()),
            "dont_know": int((cat == DONT_KNOW).sum()), "refused": int((cat == REFUSED).sum()),
            "not_applicable": int((cat == SKIPPED).sum()) if geo else 0,
            "system_missing": int((cat == NOT_INTERVIEWED).sum()
                                  + (0 if geo else (cat == SKIPPED).sum())),
        }
    return item_codes


def _controls(pop: Population) -> list[dict[str, Any]]:
    """The calibration controls: population persons by region x sex x age group."""
    st = S.STYLES[pop.style]
    region = pop.strata["region"].to_numpy()[pop.households["stratum"].to_numpy()
                                              [pop.persons["household"].to_numpy()] - 1]
    controls = (pd.DataFrame({"region": region, "sex": pop.persons["sex"].to_numpy(),
                              "age_group": age_group_of(pop.persons["age"].to_numpy())})
                .value_counts().sort_index().rename("persons").reset_index())
    controls["region"] = [st.regions[r - 1][0] for r in controls["region"]]
    controls["sex"] = controls["sex"].map({1: "male", 2: "female"})
    controls["age_group"] = [S.AGE_GROUP_LABELS[a] for a in controls["age_group"]]
    records: list[dict[str, Any]] = controls.to_dict(orient="records")
    return records


def _population_counts(pop: Population) -> dict[str, int]:
    """Households, persons, the module's universe and the frame's size in the population."""
    pp = pop.persons
    universe_pop = (pp["migrant_status"] > 0) & (pp["age"] >= 15)
    return {
        "households": len(pop.households), "persons": len(pp),
        "persons_15_plus": int((pp["age"] >= 15).sum()),
        "universe": int(universe_pop.sum()),
        "returned": int((universe_pop & (pp["migrant_status"] == 1)).sum()),
        "current_abroad": int((universe_pop & (pp["migrant_status"] == 2)).sum()),
        "strata": len(pop.strata), "enumeration_areas": len(pop.eas),
    }


def _sample_counts(fw: Any, persons: pd.DataFrame, ids: tuple[str, str], geo: bool
                   ) -> dict[str, Any]:
    """What the sample's files must give: the design's counts, the true status among the
    universe, the canonical counts, the item codes and the skip violations."""
    p = fw.persons
    u = fw.universe
    hh = fw.households
    hh_col, line_col = ids
    fl = p["forced_labour"].to_numpy()[u]
    tr = p["trafficked"].to_numpy()[u]
    form = p["form"].to_numpy()[u]
    status = p["migrant_status"].to_numpy()[u]
    dismiss = S.ITEMS[[it.key for it in S.ITEMS].index("pen_dismiss")]
    return {
        "psus_selected": int(hh["ea"].nunique()),
        "psus_responding": int(hh.loc[hh["outcome"] == 1, "ea"].nunique()),
        "households_selected": len(hh),
        "households_responding": int((hh["outcome"] == 1).sum()),
        "persons": len(p),
        "universe": len(u),
        "returned": int((status == 1).sum()), "current_abroad": int((status == 2).sum()),
        "proxy": int(fw.proxy.sum()),
        "module_not_completed": int((~fw.interviewed).sum()),
        "strata": int(hh["stratum"].nunique()),
        "two_psu_strata": fw.design["two_psu_strata"],
        "lonely_strata": fw.design["lonely_strata"],
        "true_status": {
            "forced_labour": int(fl.sum()), "trafficked": int(tr.sum()),
            "forced_labour_not_trafficked": int((fl & ~tr).sum()),
            **{f"form_{f}": int((form == i).sum()) for i, f in enumerate(FORMS)},
        },
        "canonical_counts": {k: _counts(v) for k, v in canonical(fw).items()},
        "item_codes": _item_codes(fw, geo),
        "skip_violations": [
            {hh_col: int(persons[hh_col].to_numpy()[u][i]),
             line_col: int(persons[line_col].to_numpy()[u][i]),
             "item": dismiss.georgia if geo else dismiss.moldova}
            for i in fw.skip_violations],
    }
