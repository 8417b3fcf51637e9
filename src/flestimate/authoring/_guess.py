"""Guesses for a draft module spec, from a file's variable names, labels and value labels:
the answer codes, the canonical indicator of each yes/no item, the design, id and context
columns and the reference period. Every guess carries the text it came from, so that the
draft can say why (``# REVIEW: guessed from label "..."``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flestimate._indicators import IndicatorTable

__all__ = ["CODE_KINDS", "Guess", "Variable", "code_kinds", "default_codes", "guess_columns",
           "guess_period", "match_indicators", "reversed_question"]

CODE_KINDS = ("yes", "no", "dont_know", "refused", "not_applicable")

# Checked in this order: "not applicable" and "no answer" before "no".
_KIND_PATTERNS = (
    ("not_applicable", r"not applicable|n/a\b|^na$|inapplicable|not asked|skipped|^skip"),
    ("dont_know", r"don'?t know|do not know|^dk\b|not sure|^unknown|can'?t say|hard to say"),
    ("refused", r"refus|no answer|declined|prefer not|^ref\b|^na\b"),
    ("yes", r"^(yes|так|да|oui|s[ií]|ja|tak)\b"),
    ("no", r"^(no|ні|нет|non|nein|nie)\b"),
)


@dataclass(frozen=True)
class Variable:
    """What a draft needs to know of one column: its label and its value labels."""

    name: str
    label: str
    value_labels: Mapping[Any, str]
    numeric: bool
    distinct: int

    @property
    def text(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Guess:
    """A guessed column for a key, and why (the label or name it came from)."""

    column: str
    why: str


def code_kind(label: str) -> str | None:
    """The answer kind a value label means (``yes``, ``no``, ``dont_know``, ``refused``,
    ``not_applicable``), or None."""
    text = " ".join(str(label).lower().split())
    for kind, pattern in _KIND_PATTERNS:
        if re.search(pattern, text):
            return kind
    return None


def code_kinds(value_labels: Mapping[Any, str]) -> dict[str, list[Any]]:
    """The codes of each answer kind in a variable's value labels (kinds without a code are
    left out); a variable is a yes/no item when it has both ``yes`` and ``no``."""
    out: dict[str, list[Any]] = {}
    for code, label in value_labels.items():
        kind = code_kind(label)
        if kind is not None:
            out.setdefault(kind, []).append(plain_code(code))
    return out


def plain_code(code: Any) -> Any:
    """A code as a spec writes it: 3.0 as 3."""
    if isinstance(code, float) and code.is_integer():
        return int(code)
    return code


def default_codes(items: Iterable[Variable]) -> tuple[dict[str, list[Any]], int]:
    """The most common coding of the yes/no items (the spec's top-level ``codes``) and how
    many items share it."""
    codings = Counter(tuple((k, tuple(v)) for k, v in sorted(code_kinds(i.value_labels).items()))
                      for i in items)
    if not codings:
        return {}, 0
    best, count = codings.most_common(1)[0]
    return {k: list(v) for k, v in best}, count


# -- indicators ---------------------------------------------------------------------------------
_STOP = frozenset("""a about after all an and any are as at be been before being by can could
did do does during for from had has have he her him his how i if in into is it its job last
made make me more my not of on or our own she so some than that the their them then there
these they this to too under up very was we were what when where which while who why will with
would you your yours other others ever""".split())
# Words of questionnaires that mean a word of the indicator table.
_SYNONYMS = {"deceit": "deceived", "deceive": "deceived", "lied": "deceived",
             "cheated": "deceived", "misled": "deceived", "pay": "wages", "paid": "wages",
             "salary": "wages", "wage": "wages", "earnings": "wages", "loan": "debt",
             "advance": "debt", "owed": "debt", "passport": "documents", "papers": "documents",
             "id": "documents", "taken": "confiscation", "took": "confiscation",
             "confiscated": "confiscation", "beaten": "violence", "beat": "violence",
             "hit": "violence", "physical": "violence", "threatened": "threats",
             "threat": "threats", "quit": "resign", "leave": "resign", "kept": "withholding",
             "withheld": "withholding", "locked": "confinement", "confined": "confinement",
             "fined": "fines", "fine": "fines", "fired": "dismissal", "sacked": "dismissal",
             "police": "denunciation", "denounce": "denunciation", "report": "denunciation",
             "hours": "overtime", "night": "call", "marry": "marriage", "kidnapped": "abducted",
             "dangerous": "hazardous", "move": "movement", "contact": "communication", "freely": "free"}


def _tokens(text: str) -> list[str]:
    words = re.findall(r"[^\W\d_]+", text.lower())
    out = []
    for w in words:
        w = _SYNONYMS.get(w, w)
        if w in _STOP or len(w) < 3:
            continue
        out.append(w[:6])
    return out


def _indicator_docs(table: IndicatorTable) -> dict[str, list[str]]:
    """Words of each involuntariness and plain penalty id: its meaning and its id's words."""
    docs = {}
    for group in (table.involuntariness, table.penalty):
        for iid, info in group.items():
            id_words = " ".join(w for w in iid.split("_")[2 if iid.startswith("inv_") else 1:])
            docs[iid] = _tokens(f"{info.get('meaning', '')} {id_words}")
    return docs


def match_indicators(items: Iterable[Variable], table: IndicatorTable,
                     threshold: float = 0.5) -> dict[str, tuple[str, float]]:
    """Each yes/no item's best canonical id (involuntariness or plain penalty) and its score,
    for items whose label (or name) shares enough weighted words with the id's meaning.

    Notes
    -----
    Words are lower-cased, mapped through a small table of questionnaire synonyms and cut to
    six letters; a word weighs ``log(1 + N / df)`` over the N indicator meanings (a word of
    no meaning weighs ``log(1 + N)``). The score is the share of the label's squared word
    weights that the id's meaning holds; ties go to the meaning with fewer other words.
    """
    docs = _indicator_docs(table)
    n = len(docs)
    df = Counter(w for words in docs.values() for w in set(words))

    def weight(w: str) -> float:
        return math.log(1 + n / df.get(w, 1))

    out = {}
    for item in items:
        words = set(_tokens(f"{item.label} {item.name.replace('_', ' ')}"))
        total = sum(weight(w) ** 2 for w in words)
        if not total:
            continue
        scores = {iid: (sum(weight(w) ** 2 for w in words & set(ws)) / total,
                        -len(set(ws) - words)) for iid, ws in docs.items()}
        best = max(scores, key=lambda k: scores[k])
        if scores[best][0] >= threshold:
            out[item.name] = (best, scores[best][0])
    return out


#: Ids whose meaning is a lack (of freedom, of movement) that questionnaires often ask as an
#: ability ("Could you leave the job?"): yes to the question is no to the indicator.
_LACKS = ("inv_lea_no_freedom_resign", "inv_dur_limited_movement")
_ABILITY = re.compile(r"\b(could|can|able|free|freely|allowed|permitted)\b", re.IGNORECASE)


def reversed_question(iid: str, label: str) -> bool:
    """Whether a question may be asked the other way round from its indicator: the indicator
    is a lack and the label asks about an ability."""
    return iid in _LACKS and bool(_ABILITY.search(label)) and not re.search(
        r"\b(not|unable|no)\b", label, re.IGNORECASE)


# -- design, ids and context ---------------------------------------------------------------------
#: Key -> pattern of the name or label of its column, in the order they are tried (a column
#: serves one key).
COLUMN_PATTERNS: tuple[tuple[str, str], ...] = (
    ("design.weights", r"weight|\bwgt|\bwt\b|^w_|vaga|poids|peso"),
    ("design.strata", r"strat"),
    ("design.psu", r"\bpsu\b|cluster|klaster|\bea\b|ea_|enumeration area|primary sampling"),
    ("ids.household", r"household (id|number)|\bhh_?(id|no|num|nr)?\b|hhid|^household$"),
    ("ids.person", r"person (id|number|line)|line number|member|memb|\bpid\b|person_?id"),
    ("context.sex", r"\b(sex|gender)\b"),
    ("context.age", r"^age$|\bage\b"),
    ("context.relationship", r"relationship|relation to (the )?head"),
    ("context.migrant_status", r"migra\w* status|\bmig(_?stat)?\b|worked abroad"),
    ("context.sector", r"\bsector|industry|branch|type of (work|job|activity)"),
    ("context.perpetrator", r"perpetrator|who (was|were) (the )?(employer|responsible)|"
                            r"employer type"),
    ("context.destination", r"destination|country of (work|job|last job)|\bcountry"),
    ("context.moved", r"moved|cross(ed)? (a |the )?border|travel+ed|relocat"),
    ("context.proxy", r"proxy|respondent type|who answered"),
    ("context.worked", r"^worked$|did (you|he|she) work\b|worked (in|during) the (last|past|"
                       r"reference)"),
    ("context.region", r"region|oblast|province|governorate|district|county"),
    ("context.urban", r"urban|rural|settlement type"),
)


def guess_columns(variables: Mapping[str, Variable], taken: Iterable[str] = (),
                  items: Iterable[str] = ()) -> dict[str, Guess]:
    """A column for each key of :data:`COLUMN_PATTERNS` whose pattern matches a column's name
    or label (first match in file order; a column serves one key; ``taken`` are skipped).
    Binary context keys take yes/no items only, but not ``items`` (those matched to an
    indicator); design and id keys take unlabelled columns only."""
    used = set(taken)
    matched = set(items)
    out: dict[str, Guess] = {}
    for key, pattern in COLUMN_PATTERNS:
        rx = re.compile(pattern, re.IGNORECASE)
        for var in variables.values():
            if var.name in used or not _fits(key, var) or (
                    var.name in matched and key.startswith("context.")):
                continue
            for source, text in (("name", var.name), ("label", var.label)):
                if text and rx.search(text):
                    out[key] = Guess(var.name, f'{source} "{" ".join(text.split())}"')
                    used.add(var.name)
                    break
            if key in out:
                break
    return out


def _fits(key: str, var: Variable) -> bool:
    kinds = code_kinds(var.value_labels)
    yes_no = "yes" in kinds and "no" in kinds
    if key in ("context.moved", "context.proxy", "context.worked"):
        return yes_no
    if key.startswith(("design.", "ids.")):
        return var.numeric and not var.value_labels or key == "design.strata"
    if key == "context.age":
        return var.numeric and var.distinct > 5 and not var.value_labels
    return not yes_no


_PERIOD = re.compile(r"\b((?:in )?the )?(last|past|previous)\s+(\d+|one|two|three|five|ten|"
                     r"twelve)\s+(months?|years?)\b|\b(19|20)\d\d\s*[-–]\s*(19|20)\d\d\b",
                     re.IGNORECASE)


def guess_period(variables: Iterable[Variable]) -> Guess | None:
    """A reference period found in a label ("in the last 5 years", "2017-2021"), or None."""
    for var in variables:
        found = _PERIOD.search(var.label or "")
        if found:
            text = found.group(0)
            text = re.sub(r"^(in )?the\s+", "", text, flags=re.IGNORECASE)
            return Guess(text.lower(), f'label "{" ".join(var.label.split())}" of {var.name}')
    return None
