"""Atomic writes of the files flestimate writes for the user.

:func:`atomic_write` writes to a temporary file in the target's folder (a name unique to this
process and call, so concurrent writers never share it), flushes it to disk and renames it over
the target with :func:`os.replace`: a reader, a crash or a full disk never leaves half a file
under the target's name, and an existing file is kept until the new one is complete. Every
writer of the package (CLI ``-o``, ``PrevalenceReport.to_html``/``to_excel``, the batch outputs
and cache) goes through it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flestimate.errors import OutputError

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text"]


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any]) -> Path:
    """Write a file atomically: ``write(tmp)`` writes a temporary file beside ``path``, which
    then replaces ``path`` in one step.

    Parameters
    ----------
    path : str or path
        The target. Its folder must exist. A symbolic link is followed (its target is
        replaced, the link kept).
    write : callable
        Called with the temporary path; must create the file there (any writer taking a path:
        ``DataFrame.to_parquet``, ``pd.ExcelWriter``, ``Path.write_text``).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputError
        The file cannot be written (a missing or read-only folder, a full disk, a target that is
        a folder), naming ``path`` and the reason; the target is left as it was and the
        temporary file is removed. Exceptions of ``write`` other than ``OSError`` pass through
        (after the clean-up).
    """
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    tmp = _temporary(target)
    try:
        write(tmp)
        _flush(tmp)
        if target.exists() and not target.is_dir():
            shutil.copymode(target, tmp)  # a rewritten file keeps its permissions
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        if isinstance(exc, OutputError):
            raise
        reason = exc.strerror or str(exc)
        if isinstance(exc, IsADirectoryError) or target.is_dir():
            reason = "it is a folder"
        elif not target.parent.is_dir():
            reason = f"its folder {target.parent} does not exist"
        raise OutputError(f"cannot write {path}: {reason}") from exc
    except BaseException:
        _remove(tmp)
        raise
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """:func:`atomic_write` of a text (UTF-8 by default)."""
    return atomic_write(path, lambda p: p.write_text(text, encoding=encoding))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """:func:`atomic_write` of bytes."""
    return atomic_write(path, lambda p: p.write_bytes(data))


def _flush(path: Path) -> None:
    """Flush the written file to disk before it is renamed (so a crash after the rename never
    shows an empty file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
