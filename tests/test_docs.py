"""The Python code of the documentation runs: every fenced ``python`` block of every page of
``docs/`` and of ``README.md``, page by page, in the order written, in one namespace per page.

Relative paths in the snippets are relative to the repository root (``data/synthetic/...``).
The blocks run in a scratch folder that links every top-level entry of the repository, so
``data/synthetic/...`` resolves as from the root while files a snippet writes at the top
level (``report.to_excel("moldova.xlsx")``) land in the scratch folder, not in the checkout.
Output is not compared; the pages state their numbers with ``assert`` lines, which run here.

A block that cannot run by nature (a user's own file, a Dask scheduler address) is preceded by
an HTML comment ``<!-- no-run: why -->`` on the line before its fence and is skipped. A block of
any language preceded by ``<!-- write: NAME -->`` (a YAML rule set a snippet then reads) is
written to ``NAME`` in the scratch folder before the page's code runs.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
NO_RUN = re.compile(r"^\s*<!--\s*no-run\b.*-->\s*$")
WRITE = re.compile(r"^\s*<!--\s*write:\s*(?P<name>[\w./-]+)\s*-->\s*$")


def fenced_blocks(text: str) -> list[tuple[int, str, str, str]]:
    """(line number, language, code, the line before the fence) of every fenced block."""
    lines = text.splitlines()
    blocks: list[tuple[int, str, str, str]] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m["fence"], m["info"].strip()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence)
                                      and lines[i].strip().strip(fence[0]) == ""):
            body.append(lines[i])
            i += 1
        i += 1
        language = info.split()[0].lstrip("{.").rstrip("}") if info else ""
        indent = len(m["indent"])
        code = "\n".join(line[indent:] for line in body) + "\n"
        blocks.append((start + 1, language, code, lines[start - 1] if start > 0 else ""))
    return blocks


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """(line number, code, skipped) of every fenced ``python`` block, in order."""
    return [(line, code, bool(NO_RUN.match(before)))
            for line, language, code, before in fenced_blocks(text) if language in ("python", "py")]


def written_files(text: str) -> dict[str, str]:
    """name -> content of the blocks marked ``<!-- write: NAME -->``."""
    return {m["name"]: code for _, _, code, before in fenced_blocks(text)
            if (m := WRITE.match(before))}


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_every_page_is_collected() -> None:
    names = {page_id(p) for p in PAGES}
    assert {"docs/getting-started.md", "docs/estimate.md", "README.md"} <= names
    assert sum(len(python_blocks(p.read_text(encoding="utf-8"))) for p in PAGES) > 20


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_page_code_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = page.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    runnable = [(line, code) for line, code, skipped in blocks if not skipped]
    if not runnable:
        pytest.skip(f"{page_id(page)} has no runnable python block")
    for entry in ROOT.iterdir():
        if entry.name not in (".git",):
            (tmp_path / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    for name, content in written_files(text).items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, object] = {"__name__": "__main__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for line, code in runnable:
            try:
                exec(compile(code, f"{page_id(page)}:{line}", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(
                    f"{page_id(page)}, python block at line {line} failed: "
                    f"{type(exc).__name__}: {exc}") from exc
