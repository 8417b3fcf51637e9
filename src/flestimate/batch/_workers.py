"""Where the surveys run: local worker processes with a deadline per survey, a deadline in a
thread (this process, Dask workers), and the stop of every worker when the batch is
interrupted (SIGINT, SIGTERM)."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

Job = dict[str, Any]
Result = dict[str, Any]
#: ``run(job, stage)``: one survey; ``stage(text)`` tells what it is doing (for a timeout).
Runner = Callable[[Job, Callable[[str], None]], Result]
#: ``timed_out(job, stage)``: the failure record of a survey stopped at its deadline.
TimedOut = Callable[[Job, str], Result]
#: ``died(job, stage, exitcode)``: the failure record of a survey whose process died.
Died = Callable[[Job, str, "int | None"], Result]

_STARTUP = 120.0  # seconds a new worker may take to import flestimate, besides the timeout
_GRACE = 5.0  # seconds a worker may take to exit when asked, before it is killed


# -- SIGTERM ------------------------------------------------------------------------------------
class Stopped(KeyboardInterrupt):
    """SIGTERM arrived: raised in the main thread so that the workers are stopped and the
    output folder unlocked before the process ends."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into :class:`Stopped` while the batch runs (in the main thread; SIGINT is
    already KeyboardInterrupt), then end the process as SIGTERM would have once the workers
    are stopped. Elsewhere (another thread, SIGTERM ignored) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Stopped(signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except Stopped as stop:
        signal.signal(signal.SIGTERM, previous)
        if callable(previous):
            previous(stop.signum, None)
        else:  # the default action: end the process, now that its workers are stopped
            os.kill(os.getpid(), stop.signum)
            time.sleep(1.0)
        raise
    finally:
        if signal.getsignal(signal.SIGTERM) is handler:
            signal.signal(signal.SIGTERM, previous)


# -- a deadline in a thread ---------------------------------------------------------------------
def run_with_deadline(job: Job, run: Runner, timed_out: TimedOut) -> Result:
    """Run one survey in a daemon thread and stop waiting for it at its deadline (this process
    with ``jobs=1``, a Dask worker): the survey is recorded as failed and the batch goes on; the
    thread, which cannot be killed, is left to end on its own."""
    box: dict[str, Result] = {}
    stage = ["starting"]

    def target() -> None:
        box["result"] = run(job, lambda text: stage.__setitem__(0, text))

    thread = threading.Thread(target=target, name=f"flestimate-survey-{job['id']}",
                              daemon=True)
    thread.start()
    thread.join(job["timeout"])
    if thread.is_alive() or "result" not in box:
        return timed_out(job, stage[0])
    return box["result"]


# -- local worker processes ---------------------------------------------------------------------
@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    job: Job | None = None
    deadline: float = math.inf
    stage: str = "starting its worker process"
    started: bool = field(default=False)


def run_local(todo: list[Job], n: int, run: str, done: Callable[[Result], None],
              timed_out: TimedOut, died: Died) -> None:
    """Run ``todo`` on at most ``n`` worker processes (``spawn``), handing each result to
    ``done`` as it arrives.

    ``run`` names the survey function (``module:function``), imported by the workers. A survey
    past its deadline (``job["timeout"]`` seconds from when its worker took it) has its worker
    killed and is recorded with ``timed_out``; a worker that dies is recorded with ``died``; a
    new worker takes the next survey. However this ends (an exception, KeyboardInterrupt,
    :class:`Stopped`), no worker outlives it.
    """
    context = multiprocessing.get_context("spawn")
    pending = deque(todo)
    workers: list[_Worker] = []
    finished = False
    try:
        while pending or any(w.job is not None for w in workers):
            for w in workers:
                if w.job is None and pending:
                    _assign(w, pending.popleft())
            while pending and len(workers) < n:
                parent, child = context.Pipe()
                process = context.Process(target=worker_main, args=(child, run, os.getpid()),
                                          name="flestimate-batch-worker", daemon=True)
                process.start()
                child.close()
                workers.append(_Worker(process, parent))
                _assign(workers[-1], pending.popleft())
            busy = [w for w in workers if w.job is not None]
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            wait([*(w.conn for w in busy), *(w.process.sentinel for w in busy)],
                 timeout=min(timeout, 3600.0))
            for w in busy:
                result = _receive(w, died)
                if result is not None:
                    done(result)
                if w.job is not None and time.monotonic() >= w.deadline:
                    job, stage = w.job, w.stage
                    _kill(w)
                    w.job = None
                    done(timed_out(job, stage))
            workers = [w for w in workers if w.process.is_alive() or w.job is not None]
        finished = True
    finally:
        _stop(workers, graceful=finished)


def _assign(w: _Worker, job: Job) -> None:
    w.conn.send(job)
    w.job, w.stage = job, "waiting for its worker process to start"
    w.deadline = time.monotonic() + job["timeout"] + (0.0 if w.started else _STARTUP)


def _receive(w: _Worker, died: Died) -> Result | None:
    """Read the worker's messages; its result, a failure when it died, or None (still busy)."""
    try:
        while w.conn.poll():
            kind, value = w.conn.recv()
            if kind == "start":  # the worker has the job: its deadline starts now
                w.started = True
                w.deadline = time.monotonic() + w.job["timeout"] if w.job else math.inf
            elif kind == "stage":
                w.stage = value
            else:
                w.job = None
                result: Result = value
                return result
    except (EOFError, OSError):
        pass
    if w.job is not None and not w.process.is_alive():
        w.process.join(0.1)
        job, stage = w.job, w.stage
        w.job = None
        _kill(w)
        return died(job, stage, w.process.exitcode)
    return None


def _kill(w: _Worker) -> None:
    if w.process.is_alive():
        w.process.terminate()
        w.process.join(_GRACE)
    if w.process.is_alive():  # pragma: no cover - ignores SIGTERM
        w.process.kill()
        w.process.join(_GRACE)
    w.conn.close()


def _stop(workers: list[_Worker], graceful: bool) -> None:
    """Stop every worker: idle ones are asked to exit (after a normal end), the others are
    terminated; any still there after a few seconds is killed."""
    for w in workers:
        if graceful and w.job is None and w.process.is_alive():
            with contextlib.suppress(OSError, ValueError):
                w.conn.send(None)
        elif w.process.is_alive():
            w.process.terminate()
    end = time.monotonic() + _GRACE
    for w in workers:
        w.process.join(max(0.0, end - time.monotonic()))
        if w.process.is_alive():
            w.process.kill()
            w.process.join(_GRACE)
        with contextlib.suppress(OSError):
            w.conn.close()


def worker_main(conn: Connection, run: str, parent: int) -> None:
    """A worker process: run the jobs it is sent until told to stop (None) or its parent is
    gone. Ctrl-C reaches the whole process group: the worker ignores it and is stopped by the
    batch; on Linux it also dies with its parent (``PR_SET_PDEATHSIG``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)
    module, _, name = run.partition(":")
    runner: Runner = getattr(__import__(module, fromlist=[name]), name)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            conn.send(("start", None))
            result = runner(job, lambda text: conn.send(("stage", text)))
            conn.send(("result", result))
        except (BrokenPipeError, EOFError, OSError):  # the batch is gone
            return


def _die_with(parent: int) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
