"""What a Moldova-style and a Georgia-style survey look like: the questionnaire items, their
canonical indicators, the codes, and the population parameters of each style.

The numbers are invented to resemble a country with heavy labour emigration (about one adult in
six has worked abroad in the last ten years; forced labour among them 2-8% by domain, about 1%
trafficked), not estimates of any real country.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Item:
    """One forced-labour question.

    ``p0``/``p1`` are the probabilities that the true answer is yes for a migrant who was not /
    was exploited; ``reverse`` marks questions asked the other way round ("could you leave?"),
    where "no" is the indicator; ``block`` is ``"q8"`` for the penalty questions asked only after
    the filter question ``pen_any``.
    """

    key: str
    indicator: str
    moldova: str
    georgia: str
    label: str
    p0: float
    p1: float
    reverse: bool = False
    block: str = ""
    sensitive: bool = False
    recruitment: bool = False


ITEMS: tuple[Item, ...] = (
    # recruitment
    Item("rec_deceit_nature", "inv_rec_deceived_nature", "q5_02", "m2_rec_deceit_nature",
         "Deceived about the type of work", 0.005, 0.07, recruitment=True),
    Item("rec_deceit_pay", "inv_rec_deceived_terms", "q5_03", "m2_rec_deceit_pay",
         "Deceived about pay", 0.030, 0.08, recruitment=True),
    Item("rec_deceit_employer", "inv_rec_deceived_terms", "q5_04", "m2_rec_deceit_employer",
         "Deceived about the employer", 0.010, 0.04, recruitment=True),
    Item("rec_deceit_place", "inv_rec_deceived_terms", "q5_05", "m2_rec_deceit_place",
         "Deceived about the place or living conditions", 0.015, 0.04, recruitment=True),
    Item("rec_debt", "inv_rec_debt", "q5_06", "m2_rec_debt",
         "Recruited with a loan or advance to be worked off", 0.008, 0.04, recruitment=True),
    Item("rec_marriage", "inv_rec_marriage_promise", "q5_07", "m2_rec_marriage",
         "Recruited with a promise of marriage", 0.001, 0.008, recruitment=True,
         sensitive=True),
    Item("rec_abducted", "inv_rec_abducted_sold", "q5_08", "m2_rec_abducted",
         "Taken against your will or sold", 0.0005, 0.01, recruitment=True, sensitive=True),
    Item("rec_documents", "pen_documents__recruitment", "q5_09", "m2_rec_docs_taken",
         "Documents taken by the recruiter or during travel", 0.003, 0.03, recruitment=True),
    Item("rec_violence", "pen_violence__recruitment", "q5_10", "m2_rec_violence",
         "Violence or threats during recruitment or travel", 0.001, 0.015, recruitment=True,
         sensitive=True),
    Item("rec_threat_family", "pen_threats_family__recruitment", "q5_11",
         "m2_rec_threat_family", "Threats to your family during recruitment", 0.0005, 0.008,
         recruitment=True, sensitive=True),
    # conditions of work (duress)
    Item("dur_overtime", "inv_dur_forced_overtime", "q6_01", "m3_dur_overtime",
         "Forced to work overtime beyond what was agreed", 0.050, 0.55),
    Item("dur_on_call", "inv_dur_on_call", "q6_02", "m3_dur_on_call",
         "Forced to be on call day and night", 0.015, 0.25),
    Item("dur_free_movement", "inv_dur_limited_movement", "q6_03", "m3_dur_free_movement",
         "Could you move freely and contact your family?", 0.010, 0.35, reverse=True),
    Item("dur_living", "inv_dur_degrading_living", "q6_04", "m3_dur_living",
         "Degrading living conditions imposed by the employer", 0.020, 0.30),
    Item("dur_other_job", "inv_dur_different_job", "q6_05", "m3_dur_other_job",
         "Made to do a different job than agreed", 0.020, 0.20),
    Item("dur_hazard", "inv_dur_hazardous", "q6_06", "m3_dur_hazard",
         "Hazardous work you did not agree to", 0.020, 0.20),
    Item("dur_low_pay", "inv_dur_low_no_wages", "q6_07", "m3_dur_low_pay",
         "Paid very little or nothing", 0.030, 0.40),
    Item("dur_other_employer", "inv_dur_other_employer", "q6_08", "m3_dur_other_employer",
         "Made to work for another employer than agreed", 0.005, 0.08),
    Item("dur_illicit", "inv_dur_illicit_or_household", "q6_09", "m3_dur_illicit",
         "Forced into illicit activities or household work", 0.002, 0.05, sensitive=True),
    Item("dur_induced_debt", "inv_dur_induced_debt", "q6_10", "m3_dur_induced_debt",
         "Debt induced or inflated by the employer", 0.005, 0.15),
    Item("dur_dependency", "inv_dur_multiple_dependency", "q6_11", "m3_dur_dependency",
         "Dependent on the employer for housing, food or jobs of relatives", 0.030, 0.25),
    # leaving
    Item("lea_could_leave", "inv_lea_no_freedom_resign", "q7_01", "m4_lea_could_leave",
         "Could you leave the job if you wanted to?", 0.010, 0.40, reverse=True),
    Item("lea_stay_wages", "inv_lea_stay_for_wages", "q7_02", "m4_lea_stay_wages",
         "Forced to stay longer to get the wages due", 0.010, 0.25),
    Item("lea_debt_work", "inv_lea_debt_indefinite", "q7_03", "m4_lea_debt_work",
         "Forced to work indefinitely to repay a debt", 0.002, 0.08),
    Item("lea_longer", "inv_lea_longer_than_agreed", "q7_04", "m4_lea_longer",
         "Worked longer than agreed", 0.030, 0.20),
    # menace of penalty (asked after the filter question)
    Item("pen_denounce", "pen_denunciation__duress_or_leaving", "q8_01", "m5_pen_denounce",
         "Threatened with denunciation to the police or immigration", 0.002, 0.20, block="q8"),
    Item("pen_docs", "pen_documents__duress_or_leaving", "q8_02", "m5_pen_docs",
         "Identity or travel documents taken", 0.002, 0.30, block="q8"),
    Item("pen_confine", "pen_confinement__duress_or_leaving", "q8_03", "m5_pen_confine",
         "Locked in, isolated or under constant watch", 0.001, 0.15, block="q8"),
    Item("pen_violence", "pen_violence__duress_or_leaving", "q8_04", "m5_pen_violence",
         "Physical or sexual violence, or threats of it", 0.001, 0.15, block="q8",
         sensitive=True),
    Item("pen_threat_family", "pen_threats_family__duress_or_leaving", "q8_05", "m5_pen_threat_family",
         "Threats against your family", 0.0005, 0.06, block="q8", sensitive=True),
    Item("pen_deprive", "pen_deprivation__duress_or_leaving", "q8_06", "m5_pen_deprive",
         "Deprived of food, water or sleep", 0.0005, 0.06, block="q8"),
    Item("pen_wages", "pen_wages_withheld__duress_or_leaving", "q8_07", "m5_pen_wages",
         "Wages withheld", 0.004, 0.45, block="q8"),
    Item("pen_assets", "pen_assets_withheld__duress_or_leaving", "q8_08", "m5_pen_assets",
         "Money or property withheld", 0.001, 0.05, block="q8"),
    Item("pen_dismiss", "pen_dismissal__duress_or_leaving", "q8_09", "m5_pen_dismiss",
         "Threatened with dismissal", 0.004, 0.25, block="q8"),
    Item("pen_fines", "pen_financial__duress_or_leaving", "q8_10", "m5_pen_fines",
         "Fined", 0.002, 0.15, block="q8"),
    Item("pen_exclude", "pen_exclusion__duress_or_leaving", "q8_11", "m5_pen_exclude",
         "Threatened with exclusion or with informing family or community", 0.001, 0.04,
         block="q8"),
    Item("pen_debt", "pen_debt_manipulation__duress_or_leaving", "q8_12", "m5_pen_debt",
         "Debt manipulated to keep you working", 0.001, 0.08, block="q8"),
)

#: Involuntariness items that the ICLS 2018 guidelines list as elements of coercion (para. 9:
#: restrictions on movement, debt bondage or manipulation of debt, withholding of wages): under
#: ``icls2018`` they serve the penalty condition, not the involuntariness one.
ICLS_COERCION = ("inv_dur_limited_movement", "inv_dur_induced_debt", "inv_lea_debt_indefinite",
                 "inv_lea_stay_for_wages")
#: Items standing for C182 art. 3 (a) slavery-like practices in the child rule (abduction or
#: sale, debt bondage).
CHILD_SLAVERY_LIKE = ("inv_rec_abducted_sold", "inv_rec_born_bonded", "inv_rec_debt",
                      "inv_lea_debt_indefinite")

#: The filter question before the penalty block and the perpetrator question after it.
PEN_FILTER = ("q8_00", "m5_pen_any",
              "Did an employer or intermediary threaten or punish you to make you work or stay?")
PERPETRATOR = ("q8_13", "m5_pen_who", "Who did this?")


@dataclass(frozen=True)
class Style:
    """Population and fieldwork parameters of one survey style."""

    name: str
    regions: tuple[tuple[str, int, float], ...]  # name, households, urban share
    ea_mean: float  # mean households per enumeration area
    take: int  # households drawn per PSU
    min_psu: int  # PSUs per stratum at least
    response: tuple[float, float]  # household response rate urban, rural
    migrant_rate: float  # share of persons 15-64 who worked abroad in the reference period
    current_share: float  # share of migrants abroad at the interview
    destinations: tuple[str, ...]
    dest_probs: tuple[tuple[float, ...], tuple[float, ...]]  # men, women
    dest_effect: tuple[float, ...]  # log-odds of exploitation
    yes: int
    no: int
    dont_know: int
    refused: int
    not_applicable: int | None
    default_households: int
    default_population: int
    inaccessible: int  # strata where one of two PSUs cannot be interviewed (lonely PSU)


SECTORS: tuple[str, ...] = ("construction", "agriculture", "domestic_work", "hospitality",
                            "manufacturing", "trade", "commercial_sex",
                            "commercial_sex_and_other", "other")
SECTOR_LABELS = ("Construction", "Agriculture", "Domestic work and care", "Hotels and restaurants",
                 "Manufacturing", "Trade", "Commercial sex", "Commercial sex and other work",
                 "Other")
SECTOR_PROBS = (
    (0.46, 0.14, 0.02, 0.06, 0.10, 0.08, 0.0, 0.0, 0.14),  # men
    (0.03, 0.12, 0.44, 0.15, 0.06, 0.12, 0.012, 0.008, 0.068),  # women
)
SECTOR_EFFECT = (0.5, 0.6, 0.4, 0.0, 0.0, -0.3, 2.8, 2.8, 0.0)
AGE_GROUPS = ((0, 14), (15, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 200))
AGE_GROUP_LABELS = ("0-14", "15-24", "25-34", "35-44", "45-54", "55-64", "65+")

MOLDOVA = Style(
    name="moldova",
    regions=(("Chisinau", 260_000, 0.92), ("Balti", 50_000, 0.95), ("North", 260_000, 0.25),
             ("Centre", 330_000, 0.20), ("South", 160_000, 0.22), ("Gagauzia", 52_000, 0.38),
             ("Taraclia", 6_000, 0.35)),
    ea_mean=110.0, take=12, min_psu=2, response=(0.80, 0.91), migrant_rate=0.17,
    current_share=0.55,
    destinations=("Russia", "Italy", "Israel", "Turkiye", "Portugal", "Ukraine", "Other EU",
                  "Other"),
    dest_probs=((0.66, 0.07, 0.03, 0.04, 0.05, 0.07, 0.05, 0.03),
                (0.38, 0.30, 0.07, 0.09, 0.05, 0.03, 0.05, 0.03)),
    dest_effect=(0.45, -0.4, 0.1, 0.5, -0.5, 0.2, -0.6, 0.0),
    yes=1, no=2, dont_know=8, refused=9, not_applicable=None,
    default_households=10_000, default_population=1_118_000, inaccessible=1,
)

GEORGIA = Style(
    name="georgia",
    regions=(("Tbilisi", 380_000, 1.0), ("Adjara", 90_000, 0.55), ("Imereti", 200_000, 0.45),
             ("Kakheti", 110_000, 0.22), ("Kvemo Kartli", 120_000, 0.35),
             ("Samegrelo", 110_000, 0.38), ("Shida Kartli", 80_000, 0.33),
             ("Other regions", 110_000, 0.30), ("Racha-Lechkhumi", 10_000, 0.20)),
    ea_mean=95.0, take=10, min_psu=2, response=(0.78, 0.90), migrant_rate=0.11,
    current_share=0.5,
    destinations=("Russia", "Greece", "Turkiye", "Italy", "Germany", "Ukraine", "USA", "Other"),
    dest_probs=((0.40, 0.13, 0.20, 0.05, 0.07, 0.06, 0.04, 0.05),
                (0.12, 0.32, 0.22, 0.20, 0.04, 0.03, 0.03, 0.04)),
    dest_effect=(0.45, 0.1, 0.6, -0.3, -0.7, 0.2, -0.8, 0.0),
    yes=1, no=0, dont_know=97, refused=98, not_applicable=99,
    default_households=6_000, default_population=1_210_000, inaccessible=0,
)

STYLES = {"moldova": MOLDOVA, "georgia": GEORGIA}

#: log-odds of exploitation for a returned man in a neutral destination and sector
BASE_LOGIT = -3.75
FEMALE_EFFECT = -0.15
CURRENT_EFFECT = 0.15
YOUNG_EFFECT = 0.35  # aged under 25
STATE_SHARE = 0.04  # perpetrator is the state, among the exploited

# Item non-response. Don't know clusters in persons, as in real data: a proxy often knows
# nothing of how the migrant was recruited (the whole recruitment block is "don't know"), less
# often nothing of the conditions of work; on top, scattered don't-know and refusals per item,
# refusals five times as often for sensitive questions.
PROXY_NO_RECRUITMENT = 0.15
PROXY_NO_CONDITIONS = 0.05
DK_SELF, REF_SELF = 0.003, 0.002
DK_PROXY, REF_PROXY = 0.01, 0.004
SENSITIVE_REFUSAL = 5.0
MODULE_NONRESPONSE = (0.02, 0.05)  # self, proxy: the whole module not answered
PROXY_RETURNED = 0.12  # returned migrants not at home at the interview


def probabilities(items: tuple[Item, ...]) -> tuple[np.ndarray, np.ndarray]:
    p0 = np.array([it.p0 for it in items])
    p1 = np.array([it.p1 for it in items])
    return p0, p1
