"""The published global estimates of forced labour, recomputed from their own components.

:func:`reproduce` (``"ilo2005"``, ``"ilo2012"``, ``"gems2016"``, ``"gems2021"``, and the UK
2013 multiple systems estimate ``"uk_mse2013"``) reads the
published tables shipped in ``flestimate/published`` (the same files as the project's
``data/published``; sources and evidence tags in ``sources.yaml``), recomputes every total and
share the publication implies from its components, and lists every identity that does not add
up exactly, with whether rounding explains it. :func:`published` gives the published numbers
themselves, tidy; :func:`compare` sets a survey-based :class:`~flestimate.aggregate.Breakdown`
beside a published breakdown.
"""

from __future__ import annotations

from flestimate.global_estimates._checks import CHECK_COLUMNS, CHECK_STATUSES, TABLE_COLUMNS
from flestimate.global_estimates._reproduce import Reproduction, compare, reproduce
from flestimate.global_estimates._sources import (
    PUBLICATIONS,
    PUBLISHED_COLUMNS,
    PUBLISHED_DIR,
    published,
    sources,
)

__all__ = [
    "CHECK_COLUMNS",
    "CHECK_STATUSES",
    "PUBLICATIONS",
    "PUBLISHED_COLUMNS",
    "PUBLISHED_DIR",
    "TABLE_COLUMNS",
    "Reproduction",
    "compare",
    "published",
    "reproduce",
    "sources",
]
