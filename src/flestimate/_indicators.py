"""The canonical indicators of ``indicators.md``: the versioned table of their kinds, dimensions
and grades, and the four ILO/EC (2009) Delphi lists, read from ``rules/indicators.yaml`` and
optionally overridden by a user's file.

Shared by :mod:`flestimate.mapping` (which indicator ids a module spec may map) and
:mod:`flestimate.classification` (what each indicator means to a rule), so that neither imports
the other for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Any

from flestimate._config import check_shape, read_yaml, validate
from flestimate.errors import SpecError

#: The folder of the rule files and of ``indicators.yaml`` (package data).
RULES_DIR = Path(__file__).resolve().parent / "rules"
GRADES = ("strong", "medium", "weak")
DIMENSIONS = ("recruitment", "duress", "leaving")
_DELPHI_GRADES = {"S": "strong", "M": "medium", "W": "weak"}
_RANK = {"weak": 0, "medium": 1, "strong": 2}
#: The four ILO/EC (2009) Delphi lists; the first two serve adults, the last two children.
DELPHI_SETS = ("adult_labour", "adult_sexual", "child_labour", "child_sexual")
DELPHI_DIMENSIONS = ("deceptive_recruitment", "coercive_recruitment",
                     "abuse_of_vulnerability_at_recruitment", "exploitative_conditions_of_work",
                     "coercion_at_destination", "abuse_of_vulnerability_at_destination")

Grade = tuple[str, str]  # (lower, upper): equal unless the id lumps indicators of two grades


def penalty_suffixes() -> tuple[str, ...]:
    """Dimension suffixes of penalty ids: one dimension, or two joined by ``_or_`` in the order
    of :data:`DIMENSIONS` (all three is the plain form, without a suffix)."""
    pairs = ["_or_".join(p) for p in combinations(DIMENSIONS, 2)]
    return (*DIMENSIONS, *pairs)


def suffix_dimensions(suffix: str) -> frozenset[str] | None:
    """The dimensions a penalty suffix names (``""``: all three), or None if it is not one."""
    if not suffix:
        return frozenset(DIMENSIONS)
    return frozenset(suffix.split("_or_")) if suffix in penalty_suffixes() else None


# -- the indicator table ------------------------------------------------------------------------
@dataclass(frozen=True)
class IndicatorTable:
    """Canonical indicators with their kind, dimension and grade (``indicators.md``), and the four
    Delphi lists: ``delphi[list][dimension][id] = (lower grade, upper grade)``, with an evidence
    tag and note per list in ``delphi_evidence``. ``version`` names the table."""

    version: str
    involuntariness: Mapping[str, Mapping[str, str]]
    penalty: Mapping[str, Mapping[str, str]]
    delphi: Mapping[str, Mapping[str, Mapping[str, Grade]]]
    delphi_evidence: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    sensitive: tuple[str, ...] = ()

    def describe(self, column: str) -> tuple[str, str | None, str | None]:
        """(kind, dimension, grade) of an indicator column: kind ``involuntariness``,
        ``penalty``, ``delphi`` or ``other``; a penalty's dimension is its suffix
        (``duress``, ``duress_or_leaving``) and None for the plain form; a Delphi-only id's
        dimension and grade are those of the first list holding it."""
        if column in self.involuntariness:
            info = self.involuntariness[column]
            return "involuntariness", info.get("dimension"), info.get("grade")
        base, _, suffix = column.partition("__")
        if base in self.penalty and suffix_dimensions(suffix) is not None:
            return "penalty", suffix or None, self.penalty[base].get("grade")
        for lists in self.delphi.values():
            for dim, members in lists.items():
                if column in members:
                    low, high = members[column]
                    return "delphi", dim, low if low == high else f"{low}-{high}"
        return "other", None, None

    def penalty_dimensions(self, column: str) -> frozenset[str] | None:
        """The dimensions in which a penalty column may have been applied (all three for the
        plain form); None for a column that is not a penalty."""
        base, _, suffix = column.partition("__")
        return suffix_dimensions(suffix) if base in self.penalty else None

    def is_sensitive(self, column: str) -> bool:
        """Whether a column is a sensitive item (a penalty with any dimension suffix counts as
        its plain id)."""
        return column in self.sensitive or column.partition("__")[0] in self.sensitive

    def canonical_ids(self) -> frozenset[str]:
        """Every id the table knows: ``inv_*``, ``pen_*`` plain and with every dimension
        suffix, and the members of the Delphi lists."""
        ids = set(self.involuntariness)
        for pen in self.penalty:
            ids.add(pen)
            ids.update(f"{pen}__{s}" for s in penalty_suffixes())
        for lists in self.delphi.values():
            for members in lists.values():
                ids.update(members)
        return frozenset(ids)


def _grade(raw: Any, where: str) -> Grade:
    text = str(raw)
    parts = text.split("-")
    if len(parts) not in (1, 2) or not all(p in _DELPHI_GRADES for p in parts):
        raise SpecError(f"{where}: grade must be S, M or W, or a range such as M-S; got {raw!r}")
    low, high = _DELPHI_GRADES[parts[0]], _DELPHI_GRADES[parts[-1]]
    if _RANK[low] > _RANK[high]:
        raise SpecError(f"{where}: a grade range goes from the lower to the higher grade "
                        f"(M-S); got {raw!r}")
    return low, high


def _delphi_lists(raw: Any, source: str) -> dict[str, dict[str, Any]]:
    """The ``delphi2009`` section in its full layout ``{list: {evidence, note, dimensions}}``:
    ``same_as`` resolved, and the old layout (dimensions directly under ``delphi2009``)
    applied to every list."""
    where = f"{source}: delphi2009"
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SpecError(f"{where}: must map the lists {', '.join(DELPHI_SETS)} to their "
                        f"dimensions")
    if raw and not set(raw) & set(DELPHI_SETS):  # the old layout: one list for all
        return {s: {"dimensions": dict(raw)} for s in DELPHI_SETS}
    unknown = sorted(set(raw) - set(DELPHI_SETS))
    if unknown:
        raise SpecError(f"{where}: unknown list(s) {unknown}; expected {', '.join(DELPHI_SETS)}")
    out: dict[str, dict[str, Any]] = {}
    for name, body in raw.items():
        if not isinstance(body, Mapping) or not set(body) <= {"evidence", "note", "dimensions",
                                                              "same_as"}:
            raise SpecError(f"{where}.{name}: must have `dimensions` (or `same_as`), and "
                            f"optionally `evidence` and `note`")
        out[str(name)] = dict(body)
    for name, body in out.items():
        if "same_as" in body:
            other = body.pop("same_as")
            if other not in out or "same_as" in raw.get(other, {}):
                raise SpecError(f"{where}.{name}.same_as: must name a list of this table with "
                                f"its own dimensions; got {other!r}")
            body["dimensions"] = {d: dict(m) for d, m in out[other]["dimensions"].items()}
    return out


def _validate_table(raw: Any, source: str) -> IndicatorTable:
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: an indicator table must be a mapping")
    allowed = {"version", "involuntariness", "penalty", "penalty_dimensions", "delphi2009",
               "sensitive"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise SpecError(f"{source}: unknown key(s) {unknown}; expected {sorted(allowed)}")
    inv: dict[str, dict[str, str]] = {}
    for iid, info in (raw.get("involuntariness") or {}).items():
        where = f"{source}: involuntariness.{iid}"
        if not str(iid).startswith("inv_"):
            raise SpecError(f"{where}: involuntariness ids start with `inv_`")
        if not isinstance(info, Mapping):
            raise SpecError(f"{where}: must map dimension, grade (and meaning)")
        if info.get("dimension") not in DIMENSIONS:
            raise SpecError(f"{where}.dimension: must be one of {', '.join(DIMENSIONS)}; got "
                            f"{info.get('dimension')!r}")
        if info.get("grade") not in GRADES:
            raise SpecError(f"{where}.grade: must be one of {', '.join(GRADES)}; got "
                            f"{info.get('grade')!r}")
        inv[str(iid)] = {k: str(v) for k, v in info.items()}
    pen: dict[str, dict[str, str]] = {}
    for iid, info in (raw.get("penalty") or {}).items():
        where = f"{source}: penalty.{iid}"
        if not str(iid).startswith("pen_") or "__" in str(iid):
            raise SpecError(f"{where}: penalty ids start with `pen_` and have no suffix")
        if not isinstance(info, Mapping) or info.get("grade") not in GRADES:
            raise SpecError(f"{where}.grade: must be one of {', '.join(GRADES)}")
        pen[str(iid)] = {k: str(v) for k, v in info.items()}
    delphi: dict[str, dict[str, dict[str, Grade]]] = {}
    evidence: dict[str, dict[str, str]] = {}
    for name, body in _delphi_lists(raw.get("delphi2009"), source).items():
        where = f"{source}: delphi2009.{name}"
        dims = body.get("dimensions")
        if not isinstance(dims, Mapping):
            raise SpecError(f"{where}.dimensions: must map Delphi dimensions to members")
        lists: dict[str, dict[str, Grade]] = {}
        for dim, members in dims.items():
            if dim not in DELPHI_DIMENSIONS:
                raise SpecError(f"{where}.dimensions.{dim}: not a Delphi dimension; expected "
                                f"one of {', '.join(DELPHI_DIMENSIONS)}")
            if not isinstance(members, Mapping):
                raise SpecError(f"{where}.dimensions.{dim}: must map indicator ids to grades "
                                f"S, M or W")
            lists[str(dim)] = {str(i): _grade(g, f"{where}.dimensions.{dim}.{i}")
                               for i, g in members.items()}
        delphi[name] = lists
        evidence[name] = {"evidence": str(body.get("evidence", "")),
                          "note": " ".join(str(body.get("note", "")).split())}
    sensitive = raw.get("sensitive") or []
    if not isinstance(sensitive, list) or not all(isinstance(i, str) for i in sensitive):
        raise SpecError(f"{source}: sensitive: must be a list of indicator ids")
    unknown_ids = [i for i in sensitive if i not in inv and i not in pen
                   and not any(i in m for lists in delphi.values() for m in lists.values())]
    if unknown_ids:
        raise SpecError(f"{source}: sensitive: not indicator ids of the table: {unknown_ids}")
    return IndicatorTable(str(raw.get("version", "custom")), inv, pen, delphi, evidence,
                          tuple(sensitive))


@lru_cache(maxsize=1)
def _default_table_raw() -> Mapping[str, Any]:
    import yaml

    loaded: Mapping[str, Any] = yaml.safe_load((RULES_DIR / "indicators.yaml")
                                               .read_text(encoding="utf-8"))
    return loaded


@lru_cache(maxsize=1)
def _default_table() -> IndicatorTable:
    return _validate_table(_default_table_raw(), "indicators.yaml")


def _merge_delphi(base: Any, override: Any, source: str) -> dict[str, dict[str, Any]]:
    lists = _delphi_lists(base, "indicators.yaml")
    for name, body in _delphi_lists(override, source).items():
        target = lists.setdefault(name, {"dimensions": {}})
        target.update({k: v for k, v in body.items() if k in ("evidence", "note")})
        dims = target.setdefault("dimensions", {})
        for dim, members in (body.get("dimensions") or {}).items():
            dims[dim] = {**dims.get(dim, {}), **(members if isinstance(members, Mapping)
                                                 else {})}
    return lists


def indicator_table(override: str | Path | Mapping[str, Any] | None = None) -> IndicatorTable:
    """The versioned indicator table of ``indicators.md``, optionally overridden or extended
    by a user's file or mapping of the same layout (its entries replace or add to the default;
    the version becomes ``"<default>+<override version or file name>"``). A Delphi section
    in the old layout (dimensions directly under ``delphi2009``) changes all four lists."""
    base = _default_table_raw()
    if override is None:
        return _default_table()
    if isinstance(override, str | Path):
        source = Path(override).name
        raw = read_rule_file(Path(override))
    else:
        source, raw = "<indicators>", override
    check_shape(raw, source)
    validate(raw, table_schema(), source)
    if not isinstance(raw, Mapping):
        raise SpecError(f"{source}: an indicator table must be a mapping")
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v)
                              for k, v in base.items()}
    for key, value in raw.items():
        if key == "delphi2009":
            merged[key] = _merge_delphi(base.get(key), value, source)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            for sub, body in value.items():
                if isinstance(body, Mapping) and isinstance(merged[key].get(sub), Mapping):
                    merged[key][sub] = {**merged[key][sub], **body}
                else:
                    merged[key][sub] = body
        elif key != "version":
            merged[key] = value
    merged["version"] = f"{base.get('version')}+{raw.get('version', source)}"
    return _validate_table(merged, source)


def read_rule_file(path: Path) -> Any:
    """A rule file or indicator table read from YAML; a SpecError when it does not exist."""
    if not path.exists():
        raise SpecError(f"rule file {str(path)!r} does not exist")
    return read_yaml(path, path.name)


# -- the schema of the table ----------------------------------------------------------------------
#: Schema of a free-text entry (shared with the rule files' schema).
TEXT_SCHEMA = {"type": ["string", "number", "null"], "message": "must be text"}


def either_schema(if_object: Mapping[str, Any], otherwise: Mapping[str, Any]) -> dict[str, Any]:
    """A schema that checks a mapping with ``if_object`` and anything else with ``otherwise``,
    so that an error names the key inside the mapping (``anyOf`` would stop at the mapping)."""
    return {"if": {"type": "object"}, "then": if_object, "else": otherwise}


def _table_schema() -> dict[str, Any]:
    """The schema of :func:`table_schema`, built once."""
    entry = {"type": "object", "message": "must map dimension, grade (and meaning)",
             "additionalProperties": {"type": ["string", "number", "null"],
                                      "message": "must be text"}}
    members = {"type": "object", "message": "must map indicator ids to grades S, M or W",
               "additionalProperties": {"type": "string",
                                        "message": "must be a grade S, M or W, or a range "
                                                   "such as M-S"}}
    dimensions = {"type": "object", "message": "must map Delphi dimensions to members",
                  "additionalProperties": members}
    delphi_list = either_schema({"properties": {"dimensions": dimensions,
                                                "evidence": TEXT_SCHEMA, "note": TEXT_SCHEMA,
                                                "same_as": {"type": "string",
                                                            "message": "must name a list"}}},
                                {"type": "object", "message": "must have `dimensions` (or "
                                                              "`same_as`), and optionally "
                                                              "`evidence` and `note`"})
    return {
        "type": "object", "message": "an indicator table must be a mapping",
        "properties": {
            "version": TEXT_SCHEMA,
            "involuntariness": {"type": ["object", "null"], "additionalProperties": entry,
                                "message": "must map inv_* ids to their dimension and grade"},
            "penalty": {"type": ["object", "null"], "additionalProperties": entry,
                        "message": "must map pen_* ids to their grade"},
            "penalty_dimensions": {"type": ["array", "null"],
                                   "items": {"type": "string",
                                             "message": "must be a dimension (string)"},
                                   "message": "must be a list of dimensions"},
            "delphi2009": {"type": ["object", "null"], "additionalProperties": delphi_list,
                           "message": "must map the lists "
                                      f"{', '.join(DELPHI_SETS)} to their dimensions"},
            "sensitive": {"type": ["array", "null"],
                          "items": {"type": "string",
                                    "message": "must be an indicator id (string)"},
                          "message": "must be a list of indicator ids"},
        },
    }


@lru_cache(maxsize=1)
def table_schema() -> Mapping[str, Any]:
    """JSON Schema (Draft 2020-12) of an indicator table (``indicators.yaml`` or an override)."""
    return _table_schema()
