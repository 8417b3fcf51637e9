"""Contract: every result object is a :class:`flestimate.results.Result`: nothing can be set
or deleted, the provenance is read-only all the way down, ``to_dict`` is JSON-ready, copies and
pickles give the same object, and the displays are views of the same numbers.

Each result class registers a factory in ``FACTORIES`` (a small real result, made the way a
user makes it); ``test_every_result_class_is_covered`` fails for a new class without one.
"""

from __future__ import annotations

import copy
import importlib
import json
import pickle
import pkgutil
from collections.abc import Callable
from pathlib import Path

import pytest

import flestimate
from flestimate import SurveyDesign
from flestimate.results import Result
from tests.conftest import small_design_frame


def _estimates() -> Result:
    des = SurveyDesign(small_design_frame(), weights="w", strata="stratum", psu="psu")
    return des.proportion("y", by="dom")


def _collect() -> dict[str, Callable[[], Result]]:
    """This file's factories and those of every ``tests/contract/factories_*.py`` (one per
    package: ``FACTORIES = {"ClassName": factory}``)."""
    out: dict[str, Callable[[], Result]] = {"Estimates": _estimates}
    for path in sorted(Path(__file__).parent.glob("factories_*.py")):
        module = importlib.import_module(f"tests.contract.{path.stem}")
        out.update(module.FACTORIES)
    return out


#: class name -> a factory of one real instance.
FACTORIES = _collect()


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _all_subclasses(sub)
    return out


def _import_everything() -> None:
    for mod in pkgutil.walk_packages(flestimate.__path__, "flestimate."):
        if "dask" in mod.name:  # optional dependency
            continue
        importlib.import_module(mod.name)


def test_every_result_class_is_covered() -> None:
    _import_everything()
    names = {c.__name__ for c in _all_subclasses(Result)}
    assert names - set(FACTORIES) == set()


@pytest.fixture(params=sorted(FACTORIES), ids=sorted(FACTORIES))
def result(request: pytest.FixtureRequest) -> Result:
    return FACTORIES[request.param]()


def test_nothing_can_be_set_or_deleted(result: Result) -> None:
    name = type(result).__name__
    with pytest.raises(AttributeError, match=f"{name} is immutable"):
        result.provenance = {}  # type: ignore[misc]
    with pytest.raises(AttributeError, match=f"{name} is immutable"):
        del result.provenance
    with pytest.raises(AttributeError, match=f"{name} is immutable"):
        result.anything = 1
    with pytest.raises(TypeError):
        result.provenance["version"] = "0"  # type: ignore[index]
    assert result.provenance  # still there


def test_to_dict_is_json_ready_and_carries_the_provenance(result: Result) -> None:
    d = result.to_dict()
    again = json.loads(json.dumps(d))
    assert again == d
    assert d["provenance"]["version"] == flestimate.__version__


def test_copies_and_pickles_are_the_same_frozen_result(result: Result) -> None:
    for other in (copy.copy(result), copy.deepcopy(result),
                  pickle.loads(pickle.dumps(result))):  # noqa: S301 (our own object)
        assert type(other) is type(result)
        assert other.to_dict() == result.to_dict()
        with pytest.raises(AttributeError, match="immutable"):
            del other.provenance


def test_displays_are_text_views(result: Result) -> None:
    text, page, summary = repr(result), result._repr_html_(), result.summary()
    assert isinstance(text, str) and isinstance(page, str) and isinstance(summary, str)
    assert page.startswith("<") and "<table" in page
    assert text.strip() and summary.strip()
