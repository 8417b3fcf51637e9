"""The cache of a batch's surveys (file hashes, keys, one self-checking entry per survey) and the
lock of the output folder."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from flestimate._atomic import atomic_write, atomic_write_bytes
from flestimate._version import __version__
from flestimate.batch._file import REFERENCES, SurveyJob, file_role, is_path
from flestimate.errors import DataError, OutputError
from flestimate.results import thaw

#: Name of a survey's cache entry, ``<folder>/surveys/<id>/cache.bin``.
CACHE_NAME = "cache.bin"
#: Name of the lock file of an output folder while a batch runs into it.
LOCK_NAME = ".flestimate-batch.lock"
_FORMAT = "flestimate-batch-cache/1"
_LEGACY = ("key.json", "estimates.parquet")  # the two-file cache of earlier versions
_ROLES = {"file": "survey file", "households": "household file"}


# -- hashes and keys ----------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_hashes(survey: str, files: Mapping[str, str],
                stage: Callable[[str], None]) -> dict[str, str]:
    """sha256 of every file a survey reads (in its worker); a DataError naming the file when one
    cannot be read. ``stage`` is told which file is being read (for a timeout's message)."""
    out: dict[str, str] = {}
    for role, name in files.items():
        path = Path(name)
        what = _ROLES.get(role) or file_role(role)
        stage(f"reading its {what} {path}")
        try:
            out[role] = sha256_file(path)
        except OSError as exc:
            reason = "file not found" if isinstance(exc, FileNotFoundError) else \
                f"cannot read it: {exc.strerror or exc}"
            raise DataError(f"{path}: {what} of survey {survey!r} ({role}): "
                            f"{reason}") from exc
    return out


def key_payload(job: SurveyJob) -> dict[str, Any]:
    """What a survey's estimates depend on besides its files' bytes (plain data): the options
    (with built-in spec and rule set names, not file paths: a moved file keeps its cache), the
    tables and the flestimate version."""
    options = {k: "<file>" if k in REFERENCES and isinstance(v, str) and is_path(v) else v
               for k, v in thaw(job.options).items()}
    return {"spec": "<file>" if is_path(job.spec) else job.spec, "options": options,
            "tables": list(job.tables), "version": __version__}


def cache_key(payload: Mapping[str, Any], hashes: Mapping[str, str]) -> str:
    """sha256 of :func:`key_payload` and the hashes of the files read."""
    text = json.dumps({**payload, "files": dict(hashes)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- one entry per survey -----------------------------------------------------------------------
@dataclass(frozen=True)
class CacheEntry:
    """A verified cache entry: its key, the estimates and what the run recorded."""

    key: str
    frame: pd.DataFrame
    info: Mapping[str, Any]


def entry_path(folder: Path, survey: str) -> Path:
    return folder / "surveys" / survey / CACHE_NAME


def read_entry(folder: Path, survey: str, reports: bool) -> tuple[CacheEntry | None, str | None]:
    """The survey's cache entry, verified: ``(entry, None)``; ``(None, None)`` when there is
    none (or its report, asked for, is missing); ``(None, reason)`` when it is damaged (not an
    entry, a payload whose checksum does not match, another survey's entry, a report changed
    since): the survey is then run again."""
    path = entry_path(folder, survey)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"cannot read it: {exc.strerror or exc}"
    head, sep, payload = raw.partition(b"\n")
    try:
        info = json.loads(head.decode("utf-8")) if sep else None
    except ValueError:
        info = None
    if not isinstance(info, dict) or info.get("format") != _FORMAT:
        return None, "not a flestimate cache entry"
    if info.get("survey") != survey:
        return None, f"it is the entry of survey {info.get('survey')!r}"
    if info.get("bytes") != len(payload) or \
            hashlib.sha256(payload).hexdigest() != info.get("sha256"):
        return None, "its estimates do not match their checksum (a truncated or altered file)"
    if reports:
        report = folder / "reports" / f"{survey}.html"
        try:
            if sha256_file(report) != info.get("report_sha256"):
                return None, f"its report {report} was changed or written by another run"
        except OSError:
            return None, None  # no report: run again to write it
    try:
        frame = pd.read_parquet(io.BytesIO(payload))
    except Exception as exc:  # checksum right but unreadable: a bug or a foreign writer
        return None, f"its estimates cannot be read: {exc}"
    return CacheEntry(str(info["key"]), frame, info), None


def write_entry(folder: Path, survey: str, key: str, table: pd.DataFrame, html: str | None,
                info: Mapping[str, Any]) -> pd.DataFrame:
    """Write a finished survey's report (when given) and then its cache entry: one file holding
    the key, the checksum of the estimates (and of the report) and the estimates, written to a
    temporary name and renamed, so a run killed at any point never leaves a key beside other
    estimates. Returns the estimates as cached (the Parquet round trip, so that a run and a
    rerun give the same frame). Raises OutputError."""
    report_sha = None
    if html is not None:
        report = folder / "reports" / f"{survey}.html"
        _mkdir(report.parent)
        data = html.encode("utf-8")  # hashed as written, not read back
        atomic_write_bytes(report, data)
        report_sha = hashlib.sha256(data).hexdigest()
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    payload = buffer.getvalue()
    head = {"format": _FORMAT, "key": key, "survey": survey, "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(), "report_sha256": report_sha, **info}
    where = folder / "surveys" / survey
    _mkdir(where)
    atomic_write_bytes(where / CACHE_NAME,
                       json.dumps(head, default=str).encode("utf-8") + b"\n" + payload)
    for name in _LEGACY:
        with contextlib.suppress(OSError):
            (where / name).unlink()
    frame: pd.DataFrame = pd.read_parquet(io.BytesIO(payload))
    return frame


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {folder}: {exc.strerror or exc}") from exc


# -- the lock of the output folder --------------------------------------------------------------
@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Hold ``<folder>/.flestimate-batch.lock`` while a batch runs into ``folder``.

    The lock is an advisory lock of the operating system (``flock``; ``msvcrt.locking`` on
    Windows) on the file, which records the holder's pid: the system releases it when the holder
    dies, so the lock of a killed run is taken over. Raises OutputError naming the folder and
    the pid of the run that holds it.
    """
    path = folder / LOCK_NAME
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot write the output folder {folder}: "
                              f"{exc.strerror or exc}") from exc
        if not _lock(fd):
            pid = _holder(fd)
            os.close(fd)
            raise OutputError(f"output folder {folder} is in use by another batch run (pid "
                              f"{pid}); wait for it to end, or give another folder (--out)")
        try:  # the previous holder may have removed the file between our open and lock
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # while still held: a waiting run then retries on a new file
        os.close(fd)  # releases the lock


def _lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except (OSError, AttributeError):  # pragma: no cover - no pread (Windows)
        text = ""
    return text if text.isdigit() else "unknown"


def atomic(path: Path, write: Callable[[Path], Any]) -> None:
    """Write one of the batch's outputs atomically, creating its folder."""
    _mkdir(path.parent)
    atomic_write(path, write)
