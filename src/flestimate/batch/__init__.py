"""Batch runs: many surveys from one TOML file, in parallel, with a reproducible manifest.

:func:`load_batch` reads and validates a batch file (the surveys, their files, specs and options,
the tables wanted, the output folder) into a frozen :class:`Batch`; :func:`run_batch` runs its
surveys on local processes or on a Dask cluster and writes the outputs: tidy estimates of every
survey (Parquet, CSV), an Excel workbook with one sheet per table, an HTML report per survey and
``manifest.json`` (package version, input and spec hashes, options, seeds, timings). A survey
whose inputs and options are unchanged since the last run is not run again (its cached estimates
are used). One failing survey never stops the others: it is recorded with its error.
See ``docs/batch.md`` for the file format.

The modules follow the run: ``_file`` (the batch file), ``_run`` (hashes, cache, workers,
:func:`run_batch`), ``_outputs`` (combined outputs and :class:`BatchResult`).
"""

from __future__ import annotations

from flestimate.batch._file import FORMATS, Batch, SurveyJob, load_batch
from flestimate.batch._outputs import BatchResult
from flestimate.batch._run import run_batch
from flestimate.batch._run import run_survey as run_survey  # the worker function

__all__ = ["FORMATS", "Batch", "BatchResult", "SurveyJob", "load_batch", "run_batch"]
