"""The ``network`` section of a module spec (aggregated relational data for the network
scale-up estimate): parsing, validation errors naming the key, and the columns the main job
reads."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

import flestimate as fe
from flestimate.errors import SpecError
from flestimate.mapping import SPEC_DIR, ModuleSpec
from flestimate.report._inputs import needed_columns

NETWORK: dict[str, Any] = {
    "total": 2_650_000,
    "respondents": {"column": "age", "op": ">=", "value": 15},
    "hidden": {"forced_labour": "q9_01", "trafficked": {"column": "q9_02"}},
    "known": {"teachers": {"column": "q9_10", "size": 31_000},
              "nurses": {"column": "q9_11", "size": 18_500}},
    "missing": [98, 99],
}


def _raw(**network: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((SPEC_DIR / "moldova-2008-synthetic.yaml").read_text())
    raw["network"] = {**copy.deepcopy(NETWORK), **network}
    return raw


def test_section_parsed() -> None:
    spec = ModuleSpec.from_dict(_raw(), "my.yaml")
    net = spec.network
    assert net is not None
    assert net.total == 2_650_000.0
    assert dict(net.hidden) == {"forced_labour": "q9_01", "trafficked": "q9_02"}
    assert net.known_sizes == {"q9_10": 31_000.0, "q9_11": 18_500.0}
    assert net.missing == (98, 99)
    assert (net.method, net.degree_ratio, net.transmission, net.visibility) == (
        "basic", 1.0, 1.0, None)
    assert net.columns == ["q9_01", "q9_02", "q9_10", "q9_11"]


def test_builtin_specs_have_no_section() -> None:
    assert fe.load_spec("moldova-2008-synthetic").network is None


def test_main_job_reads_the_network_columns() -> None:
    """Issue 19 reads only the columns a run needs: the counts and the respondents filter's
    columns are among them, after the mapping too."""
    spec = ModuleSpec.from_dict(_raw(), "my.yaml")
    for mapping in (True, False):
        sel = needed_columns(spec, mapping=mapping)
        assert set(sel.of(["q9_01", "q9_02", "q9_10", "q9_11", "age", "zz"])) == {
            "q9_01", "q9_02", "q9_10", "q9_11", "age"}


@pytest.mark.parametrize(("change", "message"), [
    ({"total": -5}, r"my.yaml: network: total: must be the size"),
    ({"total": "big"}, r"network: total: must be the size"),
    ({"hidden": {}}, r"network: hidden: must map a label"),
    ({"known": {"teachers": {"column": "q9_10", "size": 31_000}}},
     r"network: known: must map at least two"),
    ({"known": {"teachers": {"column": "q9_10"}, "nurses": {"column": "q9_11", "size": 5}}},
     r"network: known.teachers: must be \{column"),
    ({"known": {"teachers": {"column": "q9_10", "size": 0},
                "nurses": {"column": "q9_11", "size": 5}}},
     r"network: known.teachers.size: must be the population's known size"),
    ({"known": {"teachers": {"column": "q9_10", "size": 3e6},
                "nurses": {"column": "q9_11", "size": 5}}},
     r"network.known.teachers.size: a known population must be smaller than `total`"),
    ({"method": "killworth"}, r"network: method: must be one of basic, generalized"),
    ({"transmission": 1.5}, r"network: transmission: must be a number in \(0, 1\]"),
    ({"degree_ratio": 0}, r"network: degree_ratio: must be a number in \(0, 1\]"),
    ({"visibility": 120.0}, r"network.visibility: only the generalized method"),
    ({"method": "generalized"}, r"network.visibility: the generalized method needs"),
    ({"hidden": {"forced labour": "q9_01"}}, r"network.hidden.forced labour: a label must be"),
    ({"hidden": {"forced_labour": "q9_10"}}, r"column\(s\) \['q9_10'\] used for more than one"),
    ({"method": "generalized", "visibility": 90.0, "transmission": 0.5},
     r"network.transmission: the generalized method's visibility already holds"),
    ({"extra": 1}, r"network: unknown key\(s\) \['extra'\]"),
    ({"hidden": {"forced_labour": {"col": "q9_01"}}},
     r"network.hidden.forced_labour: unknown key\(s\) \['col'\]"),
])
def test_errors_name_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        ModuleSpec.from_dict(_raw(**change), "my.yaml")


def test_missing_required_key() -> None:
    raw = _raw()
    del raw["network"]["total"]
    with pytest.raises(SpecError, match=r"my.yaml: network: missing required key `total`"):
        ModuleSpec.from_dict(raw, "my.yaml")


def test_not_a_mapping() -> None:
    raw = _raw()
    raw["network"] = ["q9_01"]
    with pytest.raises(SpecError, match=r"my.yaml: network: must be a mapping"):
        ModuleSpec.from_dict(raw, "my.yaml")


def test_generalized_with_visibility() -> None:
    spec = ModuleSpec.from_dict(_raw(method="generalized", visibility=95.5), "my.yaml")
    assert spec.network is not None
    assert (spec.network.method, spec.network.visibility) == ("generalized", 95.5)


def test_spec_check_names_a_missing_count_column() -> None:
    """`flestimate spec check`/`inspect` name every key whose column the file lacks."""
    from flestimate.authoring._describe import missing_columns, spec_columns

    spec = ModuleSpec.from_dict(_raw(), "my.yaml")
    paths = dict(spec_columns(spec))
    assert paths["network.hidden.trafficked"] == "q9_02"
    assert paths["network.known.nurses.column"] == "q9_11"
    present = [c for _, c in spec_columns(spec) if c != "q9_11"]
    with pytest.raises(SpecError, match=r"network.known.nurses.column: column 'q9_11' not "
                                        r"found \(in persons.sav\)"):
        missing_columns(spec, present, "persons.sav")
