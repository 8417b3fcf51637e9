"""read_yaml keeps parsed configuration files by their bytes (a batch worker reads the same spec
and rule sets for every survey): a copy is returned, and a changed file is parsed again."""

from __future__ import annotations

from pathlib import Path

import pytest

from flestimate._config import read_yaml
from flestimate.errors import SpecError


def test_same_bytes_give_an_independent_copy(tmp_path: Path) -> None:
    """No numeric reference: the content of a YAML file, read twice, the first copy changed."""
    path = tmp_path / "spec.yaml"
    path.write_text("a: [1, 2]\nb: {c: x}\n", encoding="utf-8")
    first = read_yaml(path, "spec.yaml")
    first["a"].append(3)
    first["b"]["c"] = "changed"
    assert read_yaml(path, "spec.yaml") == {"a": [1, 2], "b": {"c": "x"}}


def test_changed_file_is_parsed_again(tmp_path: Path) -> None:
    """No numeric reference: a file rewritten between two reads gives its new content, and an
    invalid rewrite its error, never the earlier content."""
    path = tmp_path / "rules.yaml"
    path.write_text("x: 1\n", encoding="utf-8")
    assert read_yaml(path, "rules.yaml") == {"x": 1}
    path.write_text("x: 2\n", encoding="utf-8")
    assert read_yaml(path, "rules.yaml") == {"x": 2}
    path.write_text("x: [1\n", encoding="utf-8")
    with pytest.raises(SpecError, match="rules.yaml: invalid YAML"):
        read_yaml(path, "rules.yaml")
