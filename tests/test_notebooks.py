"""The notebooks in ``notebooks/`` run from top to bottom against the installed package, and the
figures they assert hold: the UK 2013 estimate 11,313 (CI 9,889 - 13,063); the national
forced-labour share equal to a hand-computed weighted mean; design-level domain estimates equal
to the report's; jackknife SEs within 10% of Taylor's; calibrated weights reproducing the control
totals to 1e-8; batch outputs equal to direct calls and the dask path to the pandas one.

Symlinks (``05_global_breakdown.ipynb`` -> ``reproduce_global_breakdown.ipynb``) are not run
twice. The tutorial notebooks 01 - 04, 06 and 07 are written by ``notebooks/_build.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")
                                         if not p.is_symlink()))
def test_notebook_runs(name: str) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "commit notebooks without outputs"
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert errors == []
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) >= 1


def test_notebooks_committed_without_outputs_and_built() -> None:
    """Every notebook (symlinks included) has no outputs, and the numbered ones written by
    ``_build.py`` are what it writes now (edit the script, not the notebooks)."""
    nbformat = pytest.importorskip("nbformat")
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert not any(c.get("outputs") or c.get("execution_count") for c in nb.cells
                       if c.cell_type == "code"), f"{path.name}: commit notebooks without outputs"
    link = NOTEBOOKS / "05_global_breakdown.ipynb"
    assert link.resolve() == (NOTEBOOKS / "reproduce_global_breakdown.ipynb").resolve()

    import importlib.util
    spec = importlib.util.spec_from_file_location("_notebooks_build", NOTEBOOKS / "_build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for name, cells in build.NOTEBOOKS.items():
        written = nbformat.read(NOTEBOOKS / name, as_version=4)
        expected = build.build(name, cells)
        assert [c.source for c in written.cells] == [c.source for c in expected.cells], \
            f"{name} differs from notebooks/_build.py: run python notebooks/_build.py"
