"""Bad input and faults of batch runs (issue 15, section 6): the ``timeout`` key, an input that
never delivers data (a FIFO), SIGTERM/SIGINT to a running batch, two runs into one folder, a
stale lock, a poisoned or damaged cache, an unwritable report.

Data: data/synthetic/moldova_synthetic.csv.gz (and every other row of it, as a second data set
behind the same path) with the built-in spec ``moldova-2008-synthetic``, ``missing =
"minimum"`` and the prevalence table only, so that each run takes about a second.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from flestimate.batch import run_batch
from flestimate.batch._cache import LOCK_NAME, folder_lock
from flestimate.errors import FlestimateWarning, OutputError, SpecError

from .conftest import SYNTHETIC, assert_one_line_error, files_in, run_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, signals and /proc")

CSV = SYNTHETIC / "moldova_synthetic.csv.gz"
HEADER = """
[output]
folder = "out"
formats = ["csv"]
reports = {reports}

[defaults]
spec = "moldova-2008-synthetic"
missing = "minimum"
tables = ["prevalence"]
"""


def _survey(sid: str, file: str, extra: str = "") -> str:
    return f"""
[[survey]]
id = "{sid}"
country = "MDA"
year = 2008
file = "{file}"
{extra}
"""


def _batch(folder: Path, *surveys: str, reports: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "batch.toml"
    path.write_text(HEADER.format(reports=str(reports).lower()) + "".join(surveys))
    return path


def _data(folder: Path, half: bool = False) -> Path:
    """The Moldova file as ``survey.csv.gz`` in ``folder`` (every other row with ``half``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "survey.csv.gz"
    if half:
        pd.read_csv(CSV).iloc[::2].to_csv(path, index=False)
    else:
        shutil.copyfile(CSV, path)
    return path


# -- the `timeout` key --------------------------------------------------------------------------
TIMEOUTS = [
    ('timeout = 0', "survey[0] (S).timeout", "must be a number > 0; got integer 0"),
    ('timeout = -5.0', "survey[0] (S).timeout", "must be a number > 0; got float -5.0"),
    ('timeout = "1h"', "survey[0] (S).timeout", "must be a number > 0; got string '1h'"),
    ('timeout = inf', "survey[0] (S).timeout", "must be a finite number of seconds > 0"),
    ('timout = 60', "survey[0] (S).timout", "unknown key; did you mean 'timeout'?"),
]


@pytest.mark.parametrize(("line", "where", "message"), TIMEOUTS,
                         ids=["zero", "negative", "string", "infinite", "misspelt"])
def test_invalid_timeout_is_a_spec_error_and_nothing_runs(tmp_path: Path, line: str, where: str,
                                                          message: str) -> None:
    path = _batch(tmp_path, _survey("S", CSV.as_posix(), line))
    before = files_in(tmp_path)
    with pytest.raises(SpecError) as info:
        run_batch(path, jobs=1, progress=False)
    assert str(info.value).startswith(f"batch.toml: {where}: ")
    assert message in str(info.value)
    assert files_in(tmp_path) == before  # nothing written, not even the output folder


def test_timeout_in_defaults_is_validated(tmp_path: Path) -> None:
    path = _batch(tmp_path, _survey("S", CSV.as_posix()))
    path.write_text(path.read_text().replace('missing = "minimum"',
                                             'missing = "minimum"\ntimeout = true'))
    with pytest.raises(SpecError, match=r"batch.toml: defaults.timeout: must be a number > 0; "
                                        r"got boolean True"):
        run_batch(path, jobs=1, progress=False)
    assert not (tmp_path / "out").exists()


# -- an input that never delivers data ----------------------------------------------------------
@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A named pipe nobody writes to (a hung input); afterwards its readers are released."""
    path = tmp_path / "hung.csv.gz"
    os.mkfifo(path)
    yield path
    end = time.monotonic() + 5
    while time.monotonic() < end:  # release threads left blocked on it (jobs=1)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # no reader left
            pass
        alive = [t for t in threading.enumerate() if t.name.startswith("flestimate-survey-")]
        if not alive:
            break
        time.sleep(0.05)


@pytest.mark.parametrize("jobs", [1, 2], ids=["this-process", "local-processes"])
def test_a_fifo_input_times_out_as_that_surveys_failure(tmp_path: Path, fifo: Path,
                                                        jobs: int) -> None:
    path = _batch(tmp_path, _survey("HUNG", fifo.as_posix(), "timeout = 1"),
                  _survey("OK", CSV.as_posix()))
    t = time.monotonic()
    result = run_batch(path, jobs=jobs, progress=False)
    assert time.monotonic() - t < 30
    assert result.done == ("OK",)
    assert result.failures["survey"].tolist() == ["HUNG"]
    assert result.failures["error"].tolist() == ["TimeoutError"]
    message = result.failures["message"].iat[0]
    assert "did not finish within its timeout of 1 s (`timeout` in the batch file)" in message
    assert f"stopped while reading its survey file {fifo}" in message
    entry = result.manifest["surveys"][0]
    assert entry["status"] == "failed" and entry["timeout"] == 1.0
    assert set(result.estimates["survey"]) == {"OK"}


# -- SIGTERM and SIGINT -------------------------------------------------------------------------
def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "flestimate", "run", str(path), "--jobs", "2",
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_workers(proc: subprocess.Popen[bytes], n: int) -> set[int]:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        kids = _children(proc.pid)
        workers = [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]
        if len(workers) >= n:
            return kids
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError("the batch started no workers")


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, -signal.SIGTERM),
                                              (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_every_worker(tmp_path: Path, fifo: Path, signum: int,
                                     code: int) -> None:
    path = _batch(tmp_path, _survey("A", fifo.as_posix()), _survey("B", fifo.as_posix()))
    proc = _start(path)
    try:
        kids = _wait_for_workers(proc, 2)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    if signum == signal.SIGINT:
        assert err.decode().strip().splitlines()[-1] == "flestimate: interrupted"
    end = time.monotonic() + 5
    while any(_alive(k) for k in kids) and time.monotonic() < end:
        time.sleep(0.1)
    assert not [k for k in kids if _alive(k)]
    assert not (tmp_path / "out" / LOCK_NAME).exists()  # unlocked before the process ended


# -- two runs into one folder -------------------------------------------------------------------
def test_a_second_run_into_a_locked_folder_is_refused(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = _batch(tmp_path, _survey("S", CSV.as_posix()))
    folder = tmp_path / "out"
    folder.mkdir()
    with folder_lock(folder):
        before = files_in(folder)
        with pytest.raises(OutputError) as info:
            run_batch(path, jobs=1, progress=False)
        code, _, err = run_cli(["run", path, "--jobs", "1", "--quiet"], capsys)
        assert files_in(folder) == before == {LOCK_NAME}
    assert str(info.value) == (f"output folder {folder} is in use by another batch run (pid "
                               f"{os.getpid()}); wait for it to end, or give another folder "
                               f"(--out)")
    assert_one_line_error(code, err, f"output folder {folder} is in use by another batch run",
                          f"(pid {os.getpid()})")
    assert run_batch(path, jobs=1, progress=False).done == ("S",)  # free again


def test_the_stale_lock_of_a_dead_run_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / LOCK_NAME).write_text(dead.stdout)
    result = run_batch(_batch(tmp_path, _survey("S", CSV.as_posix())), jobs=1, progress=False)
    assert result.done == ("S",)
    assert not (folder / LOCK_NAME).exists()


# -- the cache ----------------------------------------------------------------------------------
def _estimates(folder: Path, half: bool) -> pd.DataFrame:
    """The reference: the same survey run alone on the data."""
    alone = folder / ("half" if half else "full")
    _data(alone, half)
    return run_batch(_batch(alone, _survey("S", "survey.csv.gz")), jobs=1,
                     progress=False).estimates


def test_a_run_killed_while_caching_never_poisons_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run on data A; a run on data B is killed while it writes B's cache entry; a rerun on A
    is skipped with A's estimates, a rerun on B recomputes B's (never A's)."""
    import flestimate.batch._cache as cache

    full, half = _estimates(tmp_path, False), _estimates(tmp_path, True)
    assert not full["estimate"].equals(half["estimate"])
    work = tmp_path / "work"
    path = _batch(work, _survey("S", "survey.csv.gz"))
    _data(work)
    pd.testing.assert_frame_equal(run_batch(path, jobs=1, progress=False).estimates, full)
    _data(work, half=True)

    def killed(*args: object) -> None:
        raise KeyboardInterrupt  # the process dies here

    monkeypatch.setattr(cache, "atomic_write_bytes", killed)
    with pytest.raises(KeyboardInterrupt):
        run_batch(path, jobs=1, progress=False)
    monkeypatch.undo()
    assert not [f for f in files_in(work / "out") if f.endswith(".tmp")]
    _data(work)
    again = run_batch(path, jobs=1, progress=False)
    assert again.skipped == ("S",)
    pd.testing.assert_frame_equal(again.estimates, full)
    _data(work, half=True)
    changed = run_batch(path, jobs=1, progress=False)
    assert changed.done == ("S",) and changed.skipped == ()
    pd.testing.assert_frame_equal(changed.estimates, half)


def _truncate(entry: Path, other: Path) -> None:
    entry.write_bytes(entry.read_bytes()[:-100])


def _flip(entry: Path, other: Path) -> None:
    raw = bytearray(entry.read_bytes())
    raw[-200] ^= 0xFF
    entry.write_bytes(bytes(raw))


def _swap(entry: Path, other: Path) -> None:
    shutil.copyfile(other, entry)


def _garbage(entry: Path, other: Path) -> None:
    entry.write_text("not a cache entry\n")


DAMAGE = [
    (_truncate, "its estimates do not match their checksum"),
    (_flip, "its estimates do not match their checksum"),
    (_swap, "it is the entry of survey 'T'"),
    (_garbage, "not a flestimate cache entry"),
]


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path_factory.mktemp("cached")
    path = _batch(folder, _survey("S", CSV.as_posix()), _survey("T", CSV.as_posix(),
                                                                 "level = 0.9"))
    return folder, run_batch(path, jobs=1, progress=False).estimates


@pytest.mark.parametrize(("damage", "reason"), DAMAGE,
                         ids=["truncated", "flipped-byte", "other-surveys-entry", "not-an-entry"])
def test_a_damaged_cache_entry_is_recomputed_with_a_warning(
        cached: tuple[Path, pd.DataFrame], tmp_path: Path, damage: object, reason: str) -> None:
    source, reference = cached
    work = tmp_path / "copy"
    shutil.copytree(source, work)
    entry = work / "out" / "surveys" / "S" / "cache.bin"
    damage(entry, work / "out" / "surveys" / "T" / "cache.bin")  # type: ignore[operator]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_batch(work / "batch.toml", jobs=1, progress=False)
    codes = [w.message for w in caught if isinstance(w.message, FlestimateWarning)
             and w.message.code == "BATCH_CACHE"]
    assert len(codes) == 1
    assert str(codes[0]).startswith(f"[BATCH_CACHE] survey 'S': its cache entry {entry} is "
                                    f"damaged ({reason}")
    assert str(codes[0]).endswith("); the survey is run again")
    assert result.done == ("S",) and result.skipped == ("T",)
    assert result.manifest["surveys"][0]["cache"].startswith(f"damaged: {reason}")
    pd.testing.assert_frame_equal(result.estimates, reference)
    rerun = run_batch(work / "batch.toml", jobs=1, progress=False)  # the entry is whole again
    assert rerun.skipped == ("S", "T")


# -- an unwritable report -----------------------------------------------------------------------
def test_an_unwritable_report_is_that_surveys_failure(tmp_path: Path) -> None:
    path = _batch(tmp_path, _survey("S", CSV.as_posix()), _survey("T", CSV.as_posix()),
                  reports=True)
    blocked = tmp_path / "out" / "reports" / "S.html"
    blocked.mkdir(parents=True)  # a folder where the report goes
    result = run_batch(path, jobs=1, progress=False)
    assert result.done == ("T",)
    assert result.failures["survey"].tolist() == ["S"]
    assert result.failures["error"].tolist() == ["OutputError"]
    assert result.failures["message"].iat[0] == (f"its outputs cannot be written: cannot write "
                                                 f"{blocked}: it is a folder")
    assert (tmp_path / "out" / "reports" / "T.html").is_file()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"] == {"done": 1, "skipped": 0, "failed": 1}
    assert not (tmp_path / "out" / "surveys" / "S").exists()  # no cache entry for S
    assert not [f for f in files_in(tmp_path / "out") if f.endswith(".tmp")]
