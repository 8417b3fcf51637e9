"""The ``network`` section of a module spec: aggregated relational data (ARD).

A household survey can ask every adult "how many people do you know who ...?" about a hidden
population (people forced to work abroad) and about populations of known size (teachers,
postmen, people named Ion). The section says which columns hold those counts, the known sizes,
the size of the population the respondents' networks are drawn from and the scale-up method, so
that :func:`~flestimate.estimate_prevalence` can report the network scale-up estimate
(:func:`flestimate.nsum.scale_up`) next to the direct one. Example::

    network:
      total: 2650000               # persons the respondents' networks are drawn from (N)
      respondents: {column: age, op: ">=", value: 15}   # who was asked (optional)
      hidden:                      # label -> column of "how many do you know who ..."
        forced_labour: q9_01
        trafficked: {column: q9_02}
      known:                       # at least two populations of known size
        teachers: {column: q9_10, size: 31000}
        nurses: {column: q9_11, size: 18500}
      missing: [98, 99]            # don't know / refused: item non-response
      method: basic                # basic | generalized
      degree_ratio: 1.0            # adjustment factors (Feehan and Salganik 2016)
      transmission: 1.0
      visibility: null             # generalized: the average visibility of the hidden
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flestimate._config import validate
from flestimate.errors import SpecError

__all__ = ["NETWORK_METHODS", "NETWORK_SCHEMA", "NetworkSpec", "parse_network"]

NETWORK_METHODS = ("basic", "generalized")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COLUMN = {"type": "string", "message": "must be a column name"}
_ITEM = {"anyOf": [{"type": "string"}, {"type": "object"}],
         "message": "must be a column name or a mapping with `column`",
         "properties": {"column": _COLUMN}}
_FACTOR = {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1,
           "message": "must be a number in (0, 1]"}
_CODE = {"type": ["string", "number"], "message": "must be a code (a number or a string)"}

#: JSON Schema of the section (types and ranges; names and cross-checks in :func:`parse_network`).
NETWORK_SCHEMA: Mapping[str, Any] = {
    "type": "object", "message": "must be a mapping with `total`, `hidden` and `known`",
    "properties": {
        "total": {"type": "number", "exclusiveMinimum": 0,
                  "message": "must be the size of the population the respondents' networks "
                             "are drawn from (a positive number)"},
        "respondents": {"type": ["object", "null"], "message": "must be a filter mapping"},
        "hidden": {"type": "object", "minProperties": 1,
                   "message": "must map a label (e.g. forced_labour) to the column of 'how many "
                              "people do you know who ...'",
                   "additionalProperties": _ITEM},
        "known": {"type": "object", "minProperties": 2,
                  "message": "must map at least two populations of known size to "
                             "{column, size}",
                  "additionalProperties": {
                      "type": "object", "required": ["column", "size"],
                      "message": "must be {column: <name>, size: <known size>}",
                      "properties": {
                          "column": _COLUMN,
                          "size": {"type": "number", "exclusiveMinimum": 0,
                                   "message": "must be the population's known size (a "
                                              "positive number)"}}}},
        "missing": {"anyOf": [_CODE, {"type": "array", "items": _CODE}],
                    "message": "must be a code or a list of codes (don't know, refused)"},
        "method": {"enum": list(NETWORK_METHODS),
                   "message": f"must be one of {', '.join(NETWORK_METHODS)}"},
        "degree_ratio": _FACTOR,
        "transmission": _FACTOR,
        "visibility": {"type": ["number", "null"], "exclusiveMinimum": 0,
                       "message": "must be a positive number (the average visibility of the "
                                  "hidden population) or null"},
    },
}
_KEYS = frozenset(NETWORK_SCHEMA["properties"])


@dataclass(frozen=True)
class NetworkSpec:
    """A validated ``network`` section (see the module docstring).

    Attributes
    ----------
    total : float
        N, the size of the population the respondents' networks are drawn from.
    hidden : mapping of str -> str
        Label of each hidden population -> its column.
    known : mapping of str -> (column, size)
        Each known population's column and size.
    missing : tuple
        Codes of item non-response (don't know, refused) in the count columns.
    respondents : mapping or None
        The filter of who was asked the questions (None: every row with an answer).
    method, degree_ratio, transmission, visibility
        Arguments of :func:`flestimate.nsum.scale_up`.
    """

    total: float
    hidden: Mapping[str, str]
    known: Mapping[str, tuple[str, float]]
    missing: tuple[Any, ...] = ()
    respondents: Mapping[str, Any] | None = None
    method: str = "basic"
    degree_ratio: float = 1.0
    transmission: float = 1.0
    visibility: float | None = None

    @property
    def columns(self) -> list[str]:
        """Every file column the section reads (the counts; the filter's are the caller's)."""
        return [*self.hidden.values(), *(c for c, _ in self.known.values())]

    @property
    def known_sizes(self) -> dict[str, float]:
        """Column -> known size: the ``known=`` argument of :func:`flestimate.nsum.scale_up`."""
        return {column: size for column, size in self.known.values()}

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "hidden": dict(self.hidden),
                "known": {k: {"column": c, "size": s} for k, (c, s) in self.known.items()},
                "missing": list(self.missing), "method": self.method,
                "degree_ratio": self.degree_ratio, "transmission": self.transmission,
                "visibility": self.visibility}


def _column(body: Any) -> str:
    return str(body["column"]) if isinstance(body, Mapping) else str(body)


def parse_network(raw: Any, source: str) -> NetworkSpec | None:
    """The ``network`` section of the spec from ``source`` (None when absent); every problem a
    :class:`~flestimate.errors.SpecError` naming the key path."""
    if raw is None:
        return None
    where = f"{source}: network"
    validate(raw, NETWORK_SCHEMA, where)
    unknown = sorted(str(k) for k in set(raw) - _KEYS)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; expected {sorted(_KEYS)}")
    for part in ("total", "hidden", "known"):
        if part not in raw:
            raise SpecError(f"{where}: missing required key `{part}`")
    for part in ("hidden", "known"):
        for name, body in raw[part].items():
            if not _NAME.match(str(name)):
                raise SpecError(f"{where}.{part}.{name}: a label must be an identifier "
                                f"(letters, digits, underscores)")
            if isinstance(body, Mapping) and set(body) - {"column", "size"}:
                raise SpecError(f"{where}.{part}.{name}: unknown key(s) "
                                f"{sorted(set(body) - {'column', 'size'})}")
            if isinstance(body, Mapping) and "column" not in body:
                raise SpecError(f"{where}.{part}.{name}: missing required key `column`")
    total = float(raw["total"])
    hidden = {str(k): _column(v) for k, v in raw["hidden"].items()}
    known = {str(k): (_column(v), float(v["size"])) for k, v in raw["known"].items()}
    for name, (_, size) in known.items():
        if size >= total:
            raise SpecError(f"{where}.known.{name}.size: a known population must be smaller "
                            f"than `total` ({total:g}); got {size:g}")
    columns = [*hidden.values(), *(c for c, _ in known.values())]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise SpecError(f"{where}: column(s) {repeated} used for more than one population")
    method = str(raw.get("method", "basic"))
    visibility = raw.get("visibility")
    if visibility is not None and method != "generalized":
        raise SpecError(f"{where}.visibility: only the generalized method uses a visibility; "
                        f"set `method: generalized` or drop it")
    if method == "generalized" and visibility is None:
        raise SpecError(f"{where}.visibility: the generalized method needs the hidden "
                        f"population's average visibility (from an enriched sample; "
                        f"docs/nsum.md)")
    if method == "generalized":
        set_ = [k for k in ("degree_ratio", "transmission") if raw.get(k) not in (None, 1, 1.0)]
        if set_:
            raise SpecError(f"{where}.{set_[0]}: the generalized method's visibility already "
                            f"holds the degree ratio and the transmission rate; drop it")
    missing = raw.get("missing", ())
    missing = tuple(missing) if isinstance(missing, list) else (missing,) if missing != () else ()
    respondents = raw.get("respondents")
    return NetworkSpec(total, hidden, known, missing, respondents, method,
                       float(raw.get("degree_ratio") or 1.0),
                       float(raw.get("transmission") or 1.0),
                       None if visibility is None else float(visibility))
