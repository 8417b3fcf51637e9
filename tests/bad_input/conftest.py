"""Shared helpers of the bad-input suite (issue 15).

Every module here is a table of cases: each case gives a bad input (a file, a spec, an argument,
a command line), the error class it must raise, the words its message must contain (the file,
key path, column, rows or code at fault) and, where the case writes, that nothing was written
or lost. One module per stage: read, spec, rules, design, estimate, report, batch, cli.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flestimate.cli import main

ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC = ROOT / "data" / "synthetic"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process: exit code, stdout, stderr."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *words: str) -> None:
    """The CLI's contract for bad input: exit 2 and one line on stderr naming what is wrong."""
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], (w, lines[0])


def files_in(folder: Path) -> set[str]:
    """Every file under ``folder`` (relative names), to assert that nothing was written."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
