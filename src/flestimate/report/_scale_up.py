"""The network scale-up estimate of the main job, next to the direct one.

A spec with a ``network`` section (:mod:`flestimate._network_spec`) makes
:func:`~flestimate.estimate_prevalence` add a table ``network_scale_up``: for each hidden
population, the indirect estimate of its size from the respondents' answers to "how many people
do you know who ...?" (:func:`flestimate.nsum.scale_up` on the same design, every respondent
asked), beside the direct estimate of the number in that class when the report has one. The two
answer different questions and carry different assumptions (docs/nsum.md), so they are shown
side by side and never combined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from flestimate._format import count_text, interval_text, number_decimals, number_text
from flestimate.errors import DataError
from flestimate.mapping import ModuleSpec, evaluate_filter
from flestimate.report._common import LABELS, PREFIX

if TYPE_CHECKING:
    from flestimate.report._prevalence import PrevalenceReport

__all__ = ["ASKED", "TABLE", "has_scale_up", "network_columns", "scale_up_rows", "scale_up_text",
           "scale_up_html", "scale_up_title", "scale_up_values"]

TABLE = "network_scale_up"
ASKED = f"{PREFIX}ard_asked"
_HIDDEN = f"{PREFIX}ard_hidden_"
_KNOWN = f"{PREFIX}ard_known_"


def network_columns(full: pd.DataFrame, spec: ModuleSpec, source: str) -> dict[str, Any]:
    """The estimation frame's columns of the ``network`` section over every row of ``full``:
    each count (the section's missing codes and the rows not asked as NaN) and who was asked.

    Raises
    ------
    DataError
        A count that is not a non-negative whole number, naming the file, the column, the key
        and the first rows.
    """
    net = spec.network
    if net is None:
        return {}
    where = f"{spec.source}: network"
    asked = (evaluate_filter(full, net.respondents, f"{where}.respondents")
             if net.respondents is not None else np.ones(len(full), dtype=bool))
    out: dict[str, Any] = {ASKED: asked}
    columns = [(f"{_HIDDEN}{k}", c, f"network.hidden.{k}") for k, c in net.hidden.items()]
    columns += [(f"{_KNOWN}{k}", c, f"network.known.{k}") for k, (c, _) in net.known.items()]
    for name, col, key in columns:
        if col not in full.columns:
            raise DataError(f"{source}: column {col!r} of {where}: {key} not found in the data")
        raw = full[col]
        values = pd.to_numeric(raw.where(~raw.isin(list(net.missing))), errors="coerce")
        values = values.to_numpy(dtype=np.float64)
        bad = (np.isnan(values) & raw.notna().to_numpy() & ~raw.isin(list(net.missing))
               .to_numpy()) | (values < 0) | (np.isfinite(values) & (values != np.round(values)))
        bad &= asked
        if bad.any():
            rows = np.flatnonzero(bad)
            shown = ", ".join(f"{full.index[r]} ({_plain(raw.iloc[r])!r})" for r in rows[:5])
            raise DataError(f"{source}: column {col!r} ({key}): {rows.size} row(s) not a count "
                            f"(a whole number >= 0, or a missing code of network.missing): "
                            f"rows {shown}{' ...' if rows.size > 5 else ''}")
        out[name] = np.where(asked, values, np.nan)
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def scale_up_rows(frame: pd.DataFrame, spec: ModuleSpec, design: Any, *, level: float,
                  disclosure: Any, seed: int | None, replicates: int | None,
                  rules: Any = "nchs2017") -> tuple[pd.DataFrame, dict[str, Any]]:
    """The rows of the ``network_scale_up`` table (tidy, the report's columns) and their
    provenance: one per hidden population, national, from every respondent asked. The
    report's reliability rules judge each as a count whose sample cases are the respondents
    who report a member of the hidden population (``n_cases``)."""
    from flestimate.nsum import scale_up
    from flestimate.report._reliability import assess_reliability

    net = spec.network
    assert net is not None
    hidden = [f"{_HIDDEN}{k}" for k in net.hidden]
    known = {f"{_KNOWN}{k}": size for k, (_, size) in net.known.items()}
    options: dict[str, Any] = {"level": level, "seed": 0 if seed is None else seed}
    if net.method == "basic":
        options.update(degree_ratio=net.degree_ratio, transmission=net.transmission)
    if net.visibility is not None:
        options["visibility"] = net.visibility
    if replicates is not None:
        options["replicates"] = replicates
    if disclosure is not None:
        options["disclosure"] = disclosure
    result = scale_up(design, hidden, known, net.total, net.method, **options)
    t = result.to_frame()
    labels = {f"{_HIDDEN}{k}": k for k in net.hidden}
    rows = pd.DataFrame({
        "table": TABLE, "by": "national", "domain": "all", "measure": "number",
        "indicator": t["hidden"].map(labels).to_numpy(),
        "estimate": t["estimate"].to_numpy(float), "se": t["se"].to_numpy(float),
        "ci_low": t["ci_low"].to_numpy(float), "ci_high": t["ci_high"].to_numpy(float),
        "n": t["n"].to_numpy(float),
    })
    rows["cv"] = rows["se"] / rows["estimate"]
    rows["n_cases"] = t["n_reporting"].to_numpy(float)
    rows["df"] = float(getattr(design, "degf", np.nan))
    judged = assess_reliability(rows.assign(kg_low=rows["ci_low"], kg_high=rows["ci_high"],
                                            n_eff=np.nan), rules)
    rows[["reliability", "reliability_reason"]] = judged[["reliability", "reliability_reason"]]
    for col in ("disclosure", "disclosure_reason"):
        if col in t.columns:
            rows[col] = t[col].to_numpy()
    rows["reference"] = f"network scale-up ({net.method})"
    asked = frame[ASKED].to_numpy(dtype=bool)
    prov = {"method": net.method, "total": net.total, "known": net.to_dict()["known"],
            "degree_ratio": net.degree_ratio, "transmission": net.transmission,
            "visibility": net.visibility, "asked": int(asked.sum()),
            "estimator": dict(result.provenance)}
    return rows, prov


# -- display -----------------------------------------------------------------------------------
def has_scale_up(report: PrevalenceReport) -> bool:
    """Whether the report carries the ``network_scale_up`` table."""
    return bool((report.to_frame()["table"] == TABLE).any())


def scale_up_values(report: PrevalenceReport) -> pd.DataFrame:
    """The published scale-up estimates beside the direct estimate of the same class (when the
    report has one): numbers, blank where a rule hides them."""
    t = report.to_frame()
    nsum = t[t["table"] == TABLE]
    direct = t[(t["table"] == "prevalence") & (t["by"] == "national")
               & (t["measure"] == "number")].set_index("indicator")
    rows = []
    for r in nsum.itertuples(index=False):  # a few hidden populations
        hidden = _hidden_cell(r)
        d = direct.loc[r.indicator] if r.indicator in direct.index else None
        dv = ([float(d[c]) for c in ("estimate", "ci_low", "ci_high")]
              if d is not None and _published(d) else [np.nan] * 3)
        rows.append({
            "population": LABELS.get(r.indicator, r.indicator).strip(),
            "scale-up": r.estimate if hidden is None else np.nan,
            "scale-up CI low": r.ci_low if hidden is None else np.nan,
            "scale-up CI high": r.ci_high if hidden is None else np.nan,
            "direct": dv[0], "direct CI low": dv[1], "direct CI high": dv[2],
            "n": float(r.n) if pd.notna(r.n) else np.nan,
            "note": hidden or "; ".join(filter(None, (
                f"flagged: {r.reliability_reason}" if r.reliability == "flag" else "",
                "no direct estimate of this class" if d is None else "")))})
    out: pd.DataFrame = pd.DataFrame(rows)
    return out


def _hidden_cell(r: Any) -> str | None:
    """Why a scale-up cell is blank (confidential or suppressed), or None when shown."""
    disc = getattr(r, "disclosure", None)
    if isinstance(disc, str) and disc not in ("", "publish", "published", "present"):
        return str(getattr(r, "disclosure_reason", "") or "confidential")
    rel = getattr(r, "reliability", None)
    if rel == "suppress":
        return str(getattr(r, "reliability_reason", "") or "suppressed: unreliable")
    return None


def _published(row: pd.Series) -> bool:
    disc = row.get("disclosure")
    return (not (isinstance(disc, str) and disc not in ("", "publish", "published", "present"))
            and row.get("reliability") != "suppress")


def _formatted(values: pd.DataFrame) -> pd.DataFrame:
    numbers = [v for c in ("scale-up", "direct") for v in values[c] if np.isfinite(v)]
    d = number_decimals(numbers) if numbers else 0

    def num(v: Any) -> str:
        return number_text(v, d)

    out = pd.DataFrame({"population": values["population"]})
    for col in ("scale-up", "direct"):
        out[col] = [num(v) for v in values[col]]
        out[f"{col} CI"] = [interval_text(lo, hi, num) for lo, hi in
                            zip(values[f"{col} CI low"], values[f"{col} CI high"], strict=True)]
    out["n"] = [count_text(v) for v in values["n"]]
    out["note"] = values["note"].to_numpy()
    shown: pd.DataFrame = out
    return shown


def scale_up_title(report: PrevalenceReport) -> str:
    return "Network scale-up (indirect) estimates, next to the direct estimates (persons)"


def _legend(report: PrevalenceReport) -> str:
    prov: Mapping[str, Any] = report.provenance.get("network_scale_up", {})
    method = prov.get("method", "basic")
    return (f"scale-up: {method} network scale-up estimate of the number of persons in the "
            f"hidden population from {count_text(prov.get('asked', np.nan))} respondents' "
            f"answers to 'how many people do you know who ...?' and "
            f"{len(prov.get('known', {}))} populations of known size (total "
            f"{count_text(prov.get('total', np.nan))}); CI: "
            f"{100 * float(report.provenance.get('level', 0.95)):g}% log-scale interval from "
            f"a bootstrap over the design. direct: the survey's estimate of the number in the "
            f"class. They answer different questions under different assumptions "
            f"(docs/nsum.md): compare, do not combine. n: respondents who answered.")


def scale_up_text(report: PrevalenceReport) -> str:
    import textwrap

    from flestimate._format import text_table

    body = text_table(_formatted(scale_up_values(report)), left=["population", "note"])
    return body + "\n" + textwrap.fill(_legend(report), 100)


def scale_up_html(report: PrevalenceReport) -> str:
    from flestimate._format import html_table

    return html_table(_formatted(scale_up_values(report)), left=["population", "note"],
                      nowrap=("scale-up CI", "direct CI"), legend=_legend(report))
