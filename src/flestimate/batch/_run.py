"""Running a batch: file hashes and the cache, one survey in a worker, local processes or a
Dask cluster, and :func:`run_batch`."""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import platform
import socket
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd

from flestimate import __version__
from flestimate.batch._file import _REFERENCES, _WHAT, Batch, SurveyJob, _is_path, load_batch
from flestimate.batch._outputs import (
    _FAILURE_COLUMNS,
    BatchResult,
    _combine,
    _now,
    _write_atomic,
    _write_outputs,
)
from flestimate.errors import ArgumentError, ArgumentTypeError, DataError, FlestimateError
from flestimate.mapping import load_spec
from flestimate.report import estimate_prevalence
from flestimate.results import _thaw

__all__ = ["run_batch"]


# -- one survey, anywhere -----------------------------------------------------------------------
def _run_survey(job: Mapping[str, Any]) -> dict[str, Any]:
    """Run one survey: plain data in (``SurveyJob`` fields), plain data out.

    Never raises: an exception becomes a failure record with its type and message, so that one
    failing survey never stops the others. Runs in a worker process (local or Dask).

    Returns
    -------
    dict
        ``id``, ``status`` (``done`` or ``failed``), ``estimates`` (the tidy table of the tables
        asked, or None), ``html`` (the report, when asked), ``error``, ``message``, ``timings``
        (seconds: ``estimate``, read, map, classify and estimate together; ``report``;
        ``total``), ``warnings`` and ``worker`` (host and flestimate version).
    """
    start = time.perf_counter()
    timings: dict[str, float] = {}
    out: dict[str, Any] = {"id": job["id"], "status": "failed", "estimates": None, "html": None,
                           "error": None, "message": None, "timings": timings, "warnings": [],
                           "worker": {"host": socket.gethostname(), "flestimate": __version__}}
    caught: list[warnings.WarningMessage] = []
    stage = ""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t = time.perf_counter()
            report = estimate_prevalence(**job["arguments"])
            table = report.to_frame()
            table = table[table["table"].isin(job["tables"])].reset_index(drop=True)
            timings["estimate"] = time.perf_counter() - t
            if job["report"]:
                stage, t = "writing the HTML report: ", time.perf_counter()
                out["html"] = report.to_html()
                timings["report"] = time.perf_counter() - t
        out.update(status="done", estimates=table)
    except Exception as exc:  # a failure record, never an exception: the others go on
        out.update(error=type(exc).__name__, message=f"{stage}{exc}")
    out["warnings"] = list(dict.fromkeys(str(w.message) for w in caught))
    timings["total"] = time.perf_counter() - start
    return out


def _failure(job: Mapping[str, Any], exc: BaseException) -> dict[str, Any]:
    return {"id": job["id"], "status": "failed", "estimates": None, "html": None,
            "error": type(exc).__name__, "message": str(exc) or repr(exc),
            "timings": {"total": 0.0}, "warnings": [], "worker": None}


def _execute(todo: list[dict[str, Any]], scheduler: str | None, workers: int | None,
             jobs: int | None, done: Callable[[dict[str, Any]], None]) -> str:
    """Run ``todo`` and hand each result to ``done`` as it completes; return how it ran."""
    if scheduler is not None or workers is not None:
        return _execute_dask(todo, scheduler, workers, done)
    n = jobs or min(os.cpu_count() or 1, max(len(todo), 1))
    if n == 1:
        for job in todo:
            done(_run_survey(job))
        return "this process"
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_run_survey, job): job for job in todo}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # the process died (BrokenProcessPool), not the survey
                result = _failure(futures[future], exc)
            done(result)
    return f"{n} local processes"


def _execute_dask(todo: list[dict[str, Any]], scheduler: str | None, workers: int | None,
                  done: Callable[[dict[str, Any]], None]) -> str:
    try:
        import distributed as dask_distributed
    except ImportError as exc:
        raise ArgumentError("running on a Dask cluster (--scheduler, --workers) needs Dask: "
                            "pip install 'flestimate[dask]'") from exc
    import logging

    distributed: Any = dask_distributed  # untyped
    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout="20s"))
            except (OSError, TimeoutError) as exc:
                raise ArgumentError(f"`scheduler` of `run_batch()`: cannot connect to the Dask "
                                    f"scheduler {scheduler!r}: {exc}") from exc
            how = f"Dask scheduler {scheduler}"
        else:
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR))
            client = stack.enter_context(distributed.Client(cluster))
            how = f"Dask LocalCluster of {workers} workers"
        futures = {client.submit(_run_survey, job, pure=False): job for job in todo}
        for future in distributed.as_completed(list(futures)):
            try:
                result = future.result()
            except Exception as exc:  # the worker died (KilledWorker), not the survey
                result = _failure(futures[future], exc)
            done(result)
            future.release()
    return how


# -- hashes and the cache -----------------------------------------------------------------------
_ROLES = {"file": "survey file", "households": "household file", **_WHAT}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hashes(job: SurveyJob, memo: dict[Path, str]) -> dict[str, str]:
    """sha256 of every file the survey reads; a DataError naming the file when one cannot be
    read (the survey fails, the batch goes on)."""
    out: dict[str, str] = {}
    for role, path in job.files.items():
        if path not in memo:
            try:
                memo[path] = _sha256(path)
            except OSError as exc:
                reason = "file not found" if isinstance(exc, FileNotFoundError) else \
                    f"cannot read it: {exc.strerror or exc}"
                raise DataError(f"{path}: {_ROLES[role]} of survey {job.id!r} ({role}): "
                                f"{reason}") from exc
        out[role] = memo[path]
    return out


def _cache_key(job: SurveyJob, hashes: Mapping[str, str]) -> str:
    """sha256 of what the estimates depend on: the hashes of the files read, the options (with
    built-in spec and rule set names, not file paths: a moved file keeps its cache), the tables
    and the flestimate version."""
    options = {k: "<file>" if k in _REFERENCES and isinstance(v, str) and _is_path(v) else v
               for k, v in _thaw(job.options).items()}
    payload = {"files": dict(hashes), "spec": "<file>" if _is_path(job.spec) else job.spec,
               "options": options, "tables": list(job.tables), "version": __version__}
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cached(folder: Path, job: SurveyJob, key: str,
            reports: bool) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The cached estimates of a survey when its key is unchanged (and its report is there
    when reports are asked); None otherwise (a damaged cache is rerun)."""
    where = folder / "surveys" / job.id
    try:
        info = json.loads((where / "key.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("key") != key:
        return None
    if reports and not (folder / "reports" / f"{job.id}.html").is_file():
        return None
    try:
        frame = pd.read_parquet(where / "estimates.parquet")
    except Exception:  # missing or damaged: run the survey again
        return None
    return frame, info


def _store(folder: Path, result: Mapping[str, Any], entry: dict[str, Any]) -> pd.DataFrame | None:
    """Write a finished survey's cache and report; return its estimates as cached (the Parquet
    round trip, so that a run and a rerun give the same frame)."""
    report = folder / "reports" / f"{result['id']}.html"
    entry.update(status=result["status"], error=result["error"], message=result["message"],
                 timings={k: round(v, 4) for k, v in result["timings"].items()},
                 warnings=result["warnings"], worker=result["worker"])
    if result["status"] != "done":
        report.unlink(missing_ok=True)  # no stale report beside a failed survey
        return None
    where = folder / "surveys" / str(result["id"])
    table: pd.DataFrame = result["estimates"]
    _write_atomic(where / "estimates.parquet", lambda p: table.to_parquet(p, index=False))
    if result["html"] is not None:
        _write_atomic(report, lambda p: p.write_text(result["html"], encoding="utf-8"))
    finished = _now()
    info = {"key": entry["key"], "survey": result["id"], "finished": finished,
            "timings": entry["timings"], "warnings": entry["warnings"], "version": __version__}
    _write_atomic(where / "key.json",
                  lambda p: p.write_text(json.dumps(info, indent=1), encoding="utf-8"))
    entry.update(rows=len(table), finished=finished)
    frame: pd.DataFrame = pd.read_parquet(where / "estimates.parquet")
    return frame


# -- the one call -------------------------------------------------------------------------------
def _arguments(scheduler: str | None, workers: int | None, jobs: int | None) -> None:
    if scheduler is not None and workers is not None:
        raise ArgumentError("`scheduler` and `workers` of `run_batch()` exclude each other: "
                            "connect to a cluster, or start a local one with `workers`")
    if jobs is not None and (scheduler is not None or workers is not None):
        raise ArgumentError("`jobs` of `run_batch()` sets the local processes; on a Dask "
                            "cluster the workers set the parallelism")
    for name, value in (("workers", workers), ("jobs", jobs)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ArgumentTypeError(f"`{name}` of `run_batch()` must be an integer >= 1; got "
                                    f"{type(value).__name__}")
        if value is not None and value < 1:
            raise ArgumentError(f"`{name}` of `run_batch()` must be an integer >= 1; got {value}")
    if scheduler is not None and not isinstance(scheduler, str):
        raise ArgumentTypeError(f"`scheduler` of `run_batch()` must be an address like "
                                f"'tcp://host:8786'; got {type(scheduler).__name__}")


def _reference_period(path: Path) -> str | None:
    """The reference period of a survey's module spec, for the combined outputs (None when the
    spec does not load: the survey then fails with the spec's own error)."""
    try:
        return load_spec(path).reference_period
    except FlestimateError:
        return None


def run_batch(
    path_or_batch: str | os.PathLike[str] | Batch,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    jobs: int | None = None,
    force: bool = False,
    progress: bool = True,
    out: str | os.PathLike[str] | None = None,
) -> BatchResult:
    """Run every survey of a batch file and write the outputs.

    Parameters
    ----------
    path_or_batch : path or Batch
        A batch file (validated whole by :func:`load_batch` before anything runs) or a Batch.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``): the surveys run on its workers,
        which must see the input files at the same paths and have the same flestimate.
    workers : int, optional
        Start a Dask ``LocalCluster`` of this many single-threaded worker processes.
    jobs : int, optional
        Local processes (without ``scheduler`` or ``workers``); default
        ``min(cpu_count, surveys to run)``. ``jobs=1`` runs in this process, one survey after
        the other (for debugging).
    force : bool
        Run every survey, even those whose inputs and options are unchanged.
    progress : bool
        A progress bar of the surveys finished, on stderr.
    out : path, optional
        Output folder, instead of the batch file's ``[output] folder``.

    Returns
    -------
    BatchResult
        ``ok`` is False when a survey failed; failures do not raise.

    Raises
    ------
    SpecError
        The batch file is invalid (nothing runs).
    ArgumentError
        Conflicting or invalid arguments; Dask not installed (``pip install
        'flestimate[dask]'``) or its scheduler unreachable.
    OSError
        The output folder cannot be written.

    Notes
    -----
    Each survey is :func:`~flestimate.estimate_prevalence` on its file with its options. Its
    cache key is ``sha256`` of the hashes of every file it reads (data, households, spec, rule
    sets), its spec and options as written, its tables and the flestimate version; a survey
    whose key matches ``<folder>/surveys/<id>/key.json`` is skipped and its cached estimates are
    used. The outputs list the surveys in file order, whatever order they finish in, so the
    same batch gives the same bytes in ``estimates.csv`` on processes or on a Dask cluster.
    Local processes are started with ``spawn``: a script calling ``run_batch`` must guard it
    with ``if __name__ == "__main__":``.
    """
    _arguments(scheduler, workers, jobs)
    batch = path_or_batch if isinstance(path_or_batch, Batch) else load_batch(path_or_batch)
    folder = Path(out).absolute() if out is not None else batch.folder
    folder.mkdir(parents=True, exist_ok=True)
    started, clock = _now(), time.perf_counter()
    entries: dict[str, dict[str, Any]] = {}
    frames: dict[str, pd.DataFrame] = {}
    todo: list[dict[str, Any]] = []
    memo: dict[Path, str] = {}
    from tqdm.auto import tqdm

    bar = tqdm(total=len(batch.surveys), desc="surveys", unit="survey", file=sys.stderr,
               disable=not progress, leave=True)
    for job in batch.surveys:
        entry: dict[str, Any] = {
            "id": job.id, "country": job.country, "year": job.year, "index": job.index,
            "status": None, "error": None, "message": None,
            "files": {k: {"path": str(p), "sha256": None} for k, p in job.files.items()},
            "spec": {"name": job.spec, "path": str(job.files["spec"]), "sha256": None},
            "reference_period": _reference_period(job.files["spec"]),
            "tables": list(job.tables), "options": _thaw(job.options),
            "seed": job.options["seed"], "key": None, "rows": 0}
        entries[job.id] = entry
        t = time.perf_counter()
        try:
            hashes = _hashes(job, memo)
        except DataError as exc:
            entry.update(status="failed", error=type(exc).__name__, message=str(exc),
                         timings={"total": round(time.perf_counter() - t, 4)})
            bar.update(1)
            continue
        for k, h in hashes.items():
            entry["files"][k]["sha256"] = h
        entry["spec"]["sha256"] = hashes["spec"]
        entry["key"] = _cache_key(job, hashes)
        cached = None if force else _cached(folder, job, entry["key"], batch.reports)
        if cached is not None:
            frames[job.id] = cached[0]
            entry.update(status="skipped", rows=len(cached[0]),
                         timings={"total": round(time.perf_counter() - t, 4)},
                         cached={k: cached[1].get(k) for k in ("finished", "timings", "version")})
            bar.update(1)
            continue
        todo.append({"id": job.id, "arguments": job.arguments(), "tables": list(job.tables),
                     "report": batch.reports})

    def finished(result: dict[str, Any]) -> None:
        frame = _store(folder, result, entries[result["id"]])
        if frame is not None:
            frames[result["id"]] = frame
        bar.update(1)

    try:
        how = _execute(todo, scheduler, workers, jobs, finished) if todo else "nothing run"
    finally:
        bar.close()
    estimates = _combine(batch, frames, {k: e["reference_period"] for k, e in entries.items()})
    failed = [e for e in entries.values() if e["status"] == "failed"]
    failures = pd.DataFrame({c: [e["id" if c == "survey" else c] for e in failed]
                             for c in _FAILURE_COLUMNS}, dtype=object)
    manifest = {
        "flestimate": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "batch": {"path": str(batch.path), "sha256": batch.sha256},
        "started": started,
        "finished": _now(),
        "seconds": round(time.perf_counter() - clock, 3),
        "scheduler": how,
        "arguments": {"scheduler": scheduler, "workers": workers, "jobs": jobs, "force": force},
        "output": {"folder": str(folder), "formats": list(batch.formats),
                   "reports": batch.reports},
        "counts": {s: sum(1 for e in entries.values() if e["status"] == s)
                   for s in ("done", "skipped", "failed")},
        "surveys": [entries[job.id] for job in batch.surveys],
    }
    _write_outputs(folder, batch, estimates, failures, manifest)
    return BatchResult(estimates, failures, manifest, folder)
