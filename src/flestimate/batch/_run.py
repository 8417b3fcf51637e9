"""Running a batch: one survey in a worker (hashes, cache check, estimate), local processes or a
Dask cluster, and :func:`run_batch` (the output folder locked while it runs)."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from flestimate._checks import known_keywords, progress_bar
from flestimate._version import __version__
from flestimate.batch._cache import (
    CacheEntry,
    cache_key,
    entry_path,
    file_hashes,
    folder_lock,
    key_payload,
    read_entry,
    write_entry,
)
from flestimate.batch._file import Batch, SurveyJob, load_batch
from flestimate.batch._outputs import FAILURE_COLUMNS, BatchResult, combine, now, write_outputs
from flestimate.batch._workers import run_local, run_with_deadline, stop_on_sigterm
from flestimate.errors import (
    ArgumentError,
    ArgumentTypeError,
    FlestimateError,
    FlestimateWarning,
    OutputError,
)
from flestimate.mapping import load_spec
from flestimate.report import estimate_prevalence
from flestimate.results import thaw

__all__ = ["run_batch"]


# -- one survey, anywhere -----------------------------------------------------------------------
def run_survey(job: Mapping[str, Any],
                stage: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run one survey: plain data in (:func:`_job`), plain data out.

    Hashes the survey's files, and when their key equals ``job["cached_key"]`` (a verified
    cache entry of the same survey) stops there (status ``unchanged``); otherwise reads the
    spec and estimates. Everything that reads an input runs here, in the worker, within the
    survey's deadline. ``stage`` is told what it is doing (for a timeout's message).

    Never raises: an exception becomes a failure record with its type and message, so that one
    failing survey never stops the others. Runs in a worker process (local or Dask).

    Returns
    -------
    dict
        ``id``, ``status`` (``done``, ``unchanged`` or ``failed``), ``hashes`` (sha256 of the
        files read, by key), ``key`` (the cache key), ``reference_period``, ``estimates`` (the
        tidy table of the tables asked, or None), ``html`` (the report, when asked), ``error``,
        ``message``, ``timings`` (seconds: ``estimate``, read, map, classify and estimate
        together; ``report``; ``total``), ``warnings`` and ``worker`` (host and flestimate
        version).
    """
    note = stage if stage is not None else (lambda text: None)
    start = time.perf_counter()
    timings: dict[str, float] = {}
    out: dict[str, Any] = {"id": job["id"], "status": "failed", "hashes": {}, "key": None,
                           "reference_period": None, "estimates": None, "html": None,
                           "error": None, "message": None, "timings": timings, "warnings": [],
                           "worker": {"host": socket.gethostname(), "flestimate": __version__}}
    caught: list[warnings.WarningMessage] = []
    step = ""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out["hashes"] = file_hashes(job["id"], job["files"], note)
            out["key"] = cache_key(job["key_payload"], out["hashes"])
            if out["key"] == job["cached_key"]:
                out["status"] = "unchanged"
            else:
                note(f"reading its module spec {job['files']['spec']}")
                out["reference_period"] = _reference_period(Path(job["files"]["spec"]))
                note("estimating")
                t = time.perf_counter()
                report = estimate_prevalence(**job["arguments"])
                table = report.to_frame()
                wanted = [*job["tables"], *(["differences"] if job["arguments"].get("compare")
                                            else [])]
                table = table[table["table"].isin(wanted)].reset_index(drop=True)
                out["disclosure"] = report.disclosure_method()
                # every assumption that changes a number, as the report's provenance has them
                out["assumptions"] = thaw(report.provenance.get("assumptions", {}))
                timings["estimate"] = time.perf_counter() - t
                if job["report"]:
                    step, t = "writing the HTML report: ", time.perf_counter()
                    note("writing its HTML report")
                    out["html"] = report.to_html()
                    timings["report"] = time.perf_counter() - t
                out.update(status="done", estimates=table)
    except Exception as exc:  # a failure record, never an exception: the others go on
        out.update(error=type(exc).__name__, message=f"{step}{exc}")
    out["warnings"] = list(dict.fromkeys(str(w.message) for w in caught))
    timings["total"] = time.perf_counter() - start
    return out


def _run_on_dask(job: Mapping[str, Any]) -> dict[str, Any]:
    """The Dask task of one survey: :func:`run_survey` within its deadline."""
    return run_with_deadline(dict(job), run_survey, _timed_out)


def _failure(job: Mapping[str, Any], error: str, message: str) -> dict[str, Any]:
    return {"id": job["id"], "status": "failed", "hashes": {}, "key": None,
            "reference_period": None, "estimates": None, "html": None, "error": error,
            "message": message, "timings": {"total": 0.0}, "warnings": [], "worker": None}


def _timed_out(job: Mapping[str, Any], stage: str) -> dict[str, Any]:
    result = _failure(job, "TimeoutError",
                      f"did not finish within its timeout of {job['timeout']:g} s (`timeout` "
                      f"in the batch file); stopped while {stage}")
    result["timings"] = {"total": float(job["timeout"])}
    return result


def _died(job: Mapping[str, Any], stage: str, exitcode: int | None) -> dict[str, Any]:
    how = f"was killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else \
        f"exited with code {exitcode}"
    return _failure(job, "WorkerDied", f"its worker process {how} while {stage}")


def _execute(todo: list[dict[str, Any]], scheduler: str | None, workers: int | None,
             jobs: int | None, done: Callable[[dict[str, Any]], None]) -> str:
    """Run ``todo`` and hand each result to ``done`` as it completes; return how it ran."""
    if scheduler is not None or workers is not None:
        return _execute_dask(todo, scheduler, workers, done)
    n = jobs or min(os.cpu_count() or 1, max(len(todo), 1))
    if n == 1:
        for job in todo:
            done(run_with_deadline(job, run_survey, _timed_out))
        return "this process"
    run_local(todo, n, "flestimate.batch._run:run_survey", done, _timed_out, _died)
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
        futures = {client.submit(_run_on_dask, job, pure=False): job for job in todo}
        for future in distributed.as_completed(list(futures)):
            try:
                result = future.result()
            except Exception as exc:  # the worker died (KilledWorker), not the survey
                result = _failure(futures[future], type(exc).__name__, str(exc) or repr(exc))
            done(result)
            future.release()
    return how


# -- a survey's job and its record --------------------------------------------------------------
def _job(job: SurveyJob, cached: CacheEntry | None, reports: bool) -> dict[str, Any]:
    """The plain data a worker needs for one survey."""
    return {"id": job.id, "arguments": job.arguments(), "tables": list(job.tables),
            "report": reports, "files": {k: str(p) for k, p in job.files.items()},
            "key_payload": key_payload(job), "cached_key": cached.key if cached else None,
            "timeout": job.timeout}


def _store(folder: Path, result: Mapping[str, Any], entry: dict[str, Any],
           cached: CacheEntry | None) -> pd.DataFrame | None:
    """Record a finished survey in its manifest entry and write its report and cache entry;
    return its estimates (as cached) or None when it failed. A report or cache entry that
    cannot be written makes the survey's failure, not the batch's."""
    for k, h in result["hashes"].items():
        entry["files"][k]["sha256"] = h
    entry["spec"]["sha256"] = result["hashes"].get("spec")
    entry.update(key=result["key"], status=result["status"], error=result["error"],
                 message=result["message"],
                 timings={k: round(v, 4) for k, v in result["timings"].items()},
                 warnings=result["warnings"], worker=result["worker"])
    if result["status"] == "unchanged" and cached is not None:
        entry.update(status="skipped", rows=len(cached.frame),
                     reference_period=cached.info.get("reference_period"),
                     disclosure=cached.info.get("disclosure"),
                     assumptions=cached.info.get("assumptions"),
                     cached={k: cached.info.get(k) for k in ("finished", "timings", "version")})
        return cached.frame
    report = folder / "reports" / f"{result['id']}.html"
    if result["status"] != "done":
        with contextlib.suppress(OSError):
            report.unlink(missing_ok=True)  # no stale report beside a failed survey
        return None
    finished = now()
    entry.update(reference_period=result["reference_period"],
                 disclosure=result.get("disclosure"), assumptions=result.get("assumptions"))
    info = {"finished": finished, "timings": entry["timings"], "warnings": entry["warnings"],
            "reference_period": result["reference_period"], "version": __version__,
            "disclosure": result.get("disclosure"), "assumptions": result.get("assumptions")}
    try:
        frame = write_entry(folder, str(result["id"]), result["key"], result["estimates"],
                            result["html"], info)
    except OSError as exc:
        entry.update(status="failed", error=type(exc).__name__,
                     message=f"its outputs cannot be written: {exc}")
        return None
    entry.update(rows=len(frame), finished=finished)
    return frame


def _reference_period(path: Path) -> str | None:
    """The reference period of a survey's module spec, for the combined outputs (None when the
    spec does not load: the survey then fails with the spec's own error)."""
    try:
        return load_spec(path).reference_period
    except FlestimateError:
        return None


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


@known_keywords
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
    OutputError
        The output folder cannot be written, or another batch run is writing into it (an
        ``OSError``).
    KeyboardInterrupt
        SIGINT (and SIGTERM, which then ends the process as the signal would): the worker
        processes are stopped and the folder unlocked first.

    Notes
    -----
    Each survey is :func:`~flestimate.estimate_prevalence` on its file with its options. Its
    cache key is ``sha256`` of the hashes of every file it reads (data, households, spec, rule
    sets), its spec and options as written, its tables and the flestimate version; a survey
    whose key matches its verified cache entry ``<folder>/surveys/<id>/cache.bin`` is skipped
    and its cached estimates are used (a damaged entry is ignored with a ``BATCH_CACHE``
    warning). The files are hashed and read in the survey's worker: a survey that takes longer
    than its ``timeout`` (batch-file key, 3600 s by default) is recorded as failed
    (``TimeoutError``). The folder is locked while the batch runs. The outputs list the surveys in file order, whatever order they finish in, so the
    same batch gives the same bytes in ``estimates.csv`` on processes or on a Dask cluster.
    Local processes are started with ``spawn``: a script calling ``run_batch`` must guard it
    with ``if __name__ == "__main__":``.
    """
    _arguments(scheduler, workers, jobs)
    batch = path_or_batch if isinstance(path_or_batch, Batch) else load_batch(path_or_batch)
    folder = Path(out).absolute() if out is not None else batch.folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {folder}: "
                          f"{exc.strerror or exc}") from exc
    with stop_on_sigterm(), folder_lock(folder):
        return _run_locked(batch, folder, scheduler, workers, jobs, force, progress)


def _run_locked(batch: Batch, folder: Path, scheduler: str | None, workers: int | None,
                jobs: int | None, force: bool, progress: bool) -> BatchResult:
    """:func:`run_batch` with the output folder locked."""
    started, clock = now(), time.perf_counter()
    entries: dict[str, dict[str, Any]] = {}
    frames: dict[str, pd.DataFrame] = {}
    caches: dict[str, CacheEntry | None] = {}
    todo: list[dict[str, Any]] = []

    for job in batch.surveys:
        entries[job.id] = {
            "id": job.id, "country": job.country, "year": job.year, "index": job.index,
            "status": None, "error": None, "message": None,
            "files": {k: {"path": str(p), "sha256": None} for k, p in job.files.items()},
            "spec": {"name": job.spec, "path": str(job.files["spec"]), "sha256": None},
            "reference_period": None, "tables": list(job.tables),
            "options": thaw(job.options), "seed": job.options["seed"],
            "timeout": job.timeout, "key": None, "rows": 0}
        cached, damaged = (None, None) if force else read_entry(folder, job.id, batch.reports)
        if damaged is not None:
            where = entry_path(folder, job.id)
            warnings.warn(FlestimateWarning(
                f"survey {job.id!r}: its cache entry {where} is damaged ({damaged}); the "
                f"survey is run again", "BATCH_CACHE"), stacklevel=3)
            entries[job.id]["cache"] = f"damaged: {damaged}"
        caches[job.id] = cached
        todo.append(_job(job, cached, batch.reports))
    bar = progress_bar(len(batch.surveys), "surveys", progress, unit="survey")

    def finished(result: dict[str, Any]) -> None:
        frame = _store(folder, result, entries[result["id"]], caches[result["id"]])
        if frame is not None:
            frames[result["id"]] = frame
        bar.update(1)

    try:
        how = _execute(todo, scheduler, workers, jobs, finished)
    finally:
        bar.close()
    estimates = combine(batch, frames, {k: e["reference_period"] for k, e in entries.items()})
    failed = [e for e in entries.values() if e["status"] == "failed"]
    failures = pd.DataFrame({c: [e["id" if c == "survey" else c] for e in failed]
                             for c in FAILURE_COLUMNS}, dtype=object)
    manifest = {
        "flestimate": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "batch": {"path": str(batch.path), "sha256": batch.sha256},
        "started": started,
        "finished": now(),
        "seconds": round(time.perf_counter() - clock, 3),
        "scheduler": how,
        "arguments": {"scheduler": scheduler, "workers": workers, "jobs": jobs, "force": force},
        "output": {"folder": str(folder), "formats": list(batch.formats),
                   "reports": batch.reports},
        "counts": {s: sum(1 for e in entries.values() if e["status"] == s)
                   for s in ("done", "skipped", "failed")},
        "surveys": [entries[job.id] for job in batch.surveys],
    }
    write_outputs(folder, batch, estimates, failures, manifest)
    return BatchResult(estimates, failures, manifest, folder)
