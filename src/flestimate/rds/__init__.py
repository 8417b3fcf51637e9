"""Respondent-driven sampling (RDS): population shares from a recruitment table.

:func:`estimate` computes RDS-II (Volz and Heckathorn 2008), data-smoothed RDS-I (Heckathorn
2002; Salganik and Heckathorn 2004) or Gile's (2011) successive-sampling estimate of the share
of every level of an outcome, with Salganik's (2006) or the tree (Baraff, McCormick and Raftery
2016) bootstrap for intervals, Heckathorn's homophily index and the convergence and bottleneck
diagnostics, as the R package ``RDS`` (Handcock, Gile and Fellows) does. A broken recruitment
table is a :class:`~flestimate.errors.RecruitmentError` naming the ids.
"""

from __future__ import annotations

from flestimate.rds._bootstrap import BOOTSTRAPS
from flestimate.rds._estimate import estimate
from flestimate.rds._estimators import METHODS, ss_inclusion
from flestimate.rds._result import RDSResult

__all__ = ["BOOTSTRAPS", "METHODS", "RDSResult", "estimate", "ss_inclusion"]
