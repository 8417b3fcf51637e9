"""The combined outputs of a batch (Parquet, CSV, Excel, manifest) and :class:`BatchResult`."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from flestimate._atomic import atomic_write
from flestimate._safe_output import excel_writer, neutralise_csv
from flestimate.batch._file import Batch
from flestimate.report import TABLE_COLUMNS, TABLES
from flestimate.results import Result, thaw

__all__ = ["BatchResult"]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_atomic(path: Path, write: Callable[[Path], Any]) -> None:
    """Write an output atomically (a temporary name unique to this run, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)


# -- combined outputs ---------------------------------------------------------------------------
_LEAD = ("survey", "country", "year", "reference_period", "table", "by", "domain")
FAILURE_COLUMNS = ("survey", "country", "year", "error", "message")


def combine(batch: Batch, frames: Mapping[str, pd.DataFrame],
             periods: Mapping[str, str | None] | None = None) -> pd.DataFrame:
    """The estimates of every survey that has them, stacked in file order: survey, country,
    year, reference period (of the survey's module spec), table, by, domain, the domain columns
    (in order of first appearance), the rest."""
    parts = []
    text_years = any(isinstance(job.year, str) for job in batch.surveys)
    for job in batch.surveys:
        frame = frames.get(job.id)
        if frame is None:
            continue
        year = str(job.year) if text_years else job.year
        lead = pd.DataFrame({"survey": job.id, "country": job.country, "year": year,
                             "reference_period": (periods or {}).get(job.id)},
                            index=frame.index)
        parts.append(pd.concat([lead, frame], axis=1))
    if not parts:
        empty: pd.DataFrame = pd.DataFrame({c: pd.Series(dtype=object)
                                            for c in (*_LEAD, *TABLE_COLUMNS)})
        return empty
    joined = pd.concat(parts, ignore_index=True)
    domain = [c for c in joined.columns if c not in _LEAD and c not in TABLE_COLUMNS]
    stacked: pd.DataFrame = joined[[*_LEAD, *domain, *TABLE_COLUMNS]]
    for c in domain:  # one type per column (Parquet): a code in one survey, a label in another
        values = stacked[c].dropna()
        if stacked[c].dtype == object and values.map(type).nunique() > 1:
            stacked[c] = stacked[c].where(stacked[c].isna(), stacked[c].astype(str))
    return stacked


_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _cell(value: Any) -> Any:
    """A value Excel accepts: a list of plain values joined by "; " (the assumptions'
    ``not_measured``), JSON for other structures, no control characters, at most 32,767
    characters."""
    if isinstance(value, list | tuple) and all(
            isinstance(v, str | int | float | bool) or v is None for v in value):
        value = "; ".join("none" if v is None else str(v) for v in value) or "none"
    elif isinstance(value, dict | list | tuple):
        value = json.dumps(value, default=str)
    if isinstance(value, str):
        return _ILLEGAL.sub(" ", value)[:32767]
    return value


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and value and any(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def write_outputs(folder: Path, batch: Batch, estimates: pd.DataFrame, failures: pd.DataFrame,
                   manifest: Mapping[str, Any]) -> None:
    if "parquet" in batch.formats:
        _write_atomic(folder / "estimates.parquet", lambda p: estimates.to_parquet(p, index=False))
    if "csv" in batch.formats:
        _write_atomic(folder / "estimates.csv",
                      lambda p: neutralise_csv(estimates).to_csv(p, index=False,
                                                                 lineterminator="\n"))
    if "xlsx" in batch.formats:
        tables = [t for t in TABLES if any(t in job.tables for job in batch.surveys)]
        if (estimates["table"] == "differences").any():  # compare= in some survey
            tables.append("differences")

        def workbook(path: Path) -> None:
            with excel_writer(path) as xl:  # no text becomes a formula
                for t in tables:
                    rows = estimates[estimates["table"] == t]
                    rows.to_excel(xl, sheet_name=t, index=False)
                failures.map(_cell).to_excel(xl, sheet_name="failures", index=False)
                flat = list(_flatten(dict(manifest)))
                pd.DataFrame({"key": [k for k, _ in flat],
                              "value": [_cell(v) for _, v in flat]}).to_excel(
                    xl, sheet_name="manifest", index=False)

        _write_atomic(folder / "estimates.xlsx", workbook)
    _write_atomic(folder / "manifest.json", lambda p: p.write_text(
        json.dumps(manifest, indent=1, default=str) + "\n", encoding="utf-8"))


# -- the result ---------------------------------------------------------------------------------
class BatchResult(Result):
    """What a batch run made: the stacked estimates, the failures and the manifest.

    Immutable: the frames and the manifest are returned as copies. :meth:`to_frame` is
    :attr:`estimates`; :meth:`to_dict` gives its records (``"estimates"``) and the provenance.

    Attributes
    ----------
    estimates : DataFrame
        Every estimate of the surveys done or skipped (cached), stacked in file order:
        ``survey``, ``country``, ``year``, then the columns of
        :meth:`PrevalenceReport.to_frame` (``table``, ``by``, ``domain``, the domain columns of
        all surveys, ``measure``, ``indicator``, ``estimate``, ``se``, ...), for the tables asked.
    failures : DataFrame
        One row per failed survey: ``survey``, ``country``, ``year``, ``error`` (the exception
        type) and ``message``.
    done, skipped : tuple of str
        Ids of the surveys run, and of those skipped because their inputs and options are
        unchanged.
    manifest : dict
        The run manifest, as written to ``manifest.json``.
    provenance : Mapping
        The manifest (read-only), with the flestimate version also under ``version``.
    folder : Path
        The output folder.
    ok : bool
        True when no survey failed.
    """

    __slots__ = ("_estimates", "_failures", "done", "folder", "skipped")
    _estimates: pd.DataFrame
    _failures: pd.DataFrame
    done: tuple[str, ...]
    skipped: tuple[str, ...]
    folder: Path
    _label = "BatchResult"
    _records_key = "estimates"
    _immutable_hint = "call run_batch() again"

    def __init__(self, estimates: pd.DataFrame, failures: pd.DataFrame,
                 manifest: Mapping[str, Any], folder: Path) -> None:
        surveys = manifest["surveys"]
        written = json.loads(json.dumps(manifest, default=str))
        super().__init__(
            {**written, "version": written.get("flestimate")},
            _estimates=estimates, _failures=failures,
            done=tuple(s["id"] for s in surveys if s["status"] == "done"),
            skipped=tuple(s["id"] for s in surveys if s["status"] == "skipped"),
            folder=folder)

    @property
    def estimates(self) -> pd.DataFrame:
        out: pd.DataFrame = self._estimates.copy()
        return out

    @property
    def failures(self) -> pd.DataFrame:
        out: pd.DataFrame = self._failures.copy()
        return out

    @property
    def manifest(self) -> dict[str, Any]:
        out: dict[str, Any] = thaw(self.provenance)
        del out["version"]
        return out

    @property
    def ok(self) -> bool:
        return self._failures.empty

    def to_frame(self) -> pd.DataFrame:
        """The stacked estimates (a copy): :attr:`estimates`."""
        return self.estimates

    def _title(self) -> str:
        return self.summary().splitlines()[0]

    def summary(self) -> str:
        """Surveys done, skipped and failed (with the reasons), timings and the outputs."""
        m = self.provenance
        surveys = m["surveys"]
        counts = {s: sum(1 for e in surveys if e["status"] == s)
                  for s in ("done", "skipped", "failed")}
        lines = [f"flestimate run {Path(m['batch']['path']).name}: {len(surveys)} surveys: "
                 f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} "
                 f"failed in {m['seconds']:.1f} s ({m['scheduler']})"]
        width = max(len(e["id"]) for e in surveys)
        for e in surveys:
            seconds = e.get("timings", {}).get("total", 0.0)
            head = f"  {e['id']:<{width}}  {e['status']:<7}  {seconds:6.2f} s"
            if e["status"] == "failed":
                lines.append(f"{head}  {e['error']}: {e['message']}")
            elif e["status"] == "skipped":
                lines.append(f"{head}  unchanged since {e['cached']['finished']}, "
                             f"{e['rows']} estimates from the cache")
            else:
                n = len(e["warnings"])
                note = f"; {n} warning{'s' * (n > 1)} in manifest.json" if n else ""
                lines.append(f"{head}  {e['rows']} estimates{note}")
        outputs = [*(f"estimates.{f}" for f in m["output"]["formats"]), "manifest.json"]
        if m["output"]["reports"]:
            outputs.append("reports/")
        lines.append(f"outputs in {self.folder}: {', '.join(outputs)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        m = self.provenance
        rows = []
        for e in m["surveys"]:
            seconds = e.get("timings", {}).get("total", 0.0)
            if e["status"] == "failed":
                note = f"{e['error']}: {e['message']}"
            elif e["status"] == "skipped":
                note = f"unchanged since {e['cached']['finished']}; {e['rows']:,} estimates"
            else:
                note = f"{e['rows']:,} estimates" + (
                    f"; {len(e['warnings'])} warning(s)" if e["warnings"] else "")
            rows.append({"survey": e["id"], "status": e["status"],
                         "seconds": f"{seconds:.2f}", "note": note})
        table = pd.DataFrame(rows).to_html(index=False, border=0, escape=True)
        return (f"<div><p><b>{html.escape(self._title())}</b></p>{table}<p><small>outputs in "
                f"{html.escape(str(self.folder))}</small></p></div>")
