"""Writing a module spec from the shell: a draft from the data files, a check of the spec
alone, and a description of the files with or without a spec.

``flestimate spec new FILE [--households F] -o my.yaml`` (:func:`write_new_spec`) writes a
commented draft: the files' variables, labels and codes, and a guessed mapping, every guess
marked ``# REVIEW``. ``flestimate spec check my.yaml`` (:func:`check_spec`) validates it.
``flestimate inspect FILE [--households F] [--spec my.yaml]`` (:func:`describe_file`) lists
the variables with their value labels and counts and, with a spec, checks it against the
files and lists what the rules need that it does not map.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flestimate.authoring._catalogue import (
    CONTEXT_VARIABLES,
    ContextVariable,
    canonical_tables_markdown,
    rewrite_generated_block,
)
from flestimate.authoring._describe import (
    describe_variables,
    missing_columns,
    spec_columns,
    unmapped_needs,
)
from flestimate.authoring._draft import draft_spec
from flestimate.errors import ArgumentError, SpecError
from flestimate.mapping import ModuleSpec, describe_filter, load_spec

__all__ = ["CONTEXT_VARIABLES", "ContextVariable", "canonical_tables_markdown",
           "check_spec", "describe_file", "new_spec", "review_lines",
           "rewrite_generated_block", "spec_columns", "spec_summary", "unmapped_needs",
           "write_new_spec"]

_REVIEW = re.compile(r"#.*\bREVIEW[:;)]")


def new_spec(path: str | Path, households: str | Path | None = None) -> str:
    """A draft module spec (commented YAML) for a person file and its household file: the
    files' variables, labels and codes, and a guessed mapping onto the canonical indicators
    and context names, every guess marked ``# REVIEW`` with the label it came from.

    Parameters
    ----------
    path : str or path
        The person file (any format :func:`~flestimate.read_microdata` reads).
    households : str or path, optional
        The household file, merged on the column both files share.

    Returns
    -------
    str
        The YAML text. It loads with :func:`~flestimate.load_spec` as written (when at least
        one indicator was guessed); guesses that would change a number without an error are
        not made (see ``docs/map.md``, "Drafting a spec from the files").
    """
    from flestimate.io import read_microdata

    persons = read_microdata(path)
    hh = read_microdata(households) if households is not None else None
    return draft_spec(persons, Path(path), hh, Path(households) if households else None)


def review_lines(text: str) -> list[int]:
    """The numbers (from 1) of the lines of a spec's text still marked ``# REVIEW``."""
    return [i for i, line in enumerate(text.splitlines(), 1) if _REVIEW.search(line)]


def write_new_spec(path: str | Path, out: str | Path, households: str | Path | None = None,
                   force: bool = False) -> str:
    """Write :func:`new_spec` to ``out`` (atomically; an existing file only with ``force``)
    and return a one-line summary: what was guessed and what to run next."""
    from flestimate._atomic import atomic_write_text

    target = Path(out)
    if target.exists() and not force:
        raise ArgumentError(f"-o {target}: the file exists; give --force to overwrite it")
    text = new_spec(path, households)
    raw = _load_text(text)
    indicators = raw.get("indicators") or {}
    if indicators:  # the draft must load as written: a guard against a malformed draft
        ModuleSpec.from_dict(raw, target.name)
    atomic_write_text(target, text)
    context = raw.get("context") or {}
    if not indicators:
        return (f"wrote {target}: no yes/no item matched a canonical indicator; map at least "
                f"one under `indicators:` (docs/map.md lists the ids) before the spec loads")
    return (f"wrote {target}: {len(indicators)} indicator(s) and {len(context)} context "
            f"variable(s) guessed, {len(review_lines(text))} line(s) marked REVIEW; check "
            f"them, then run `flestimate spec check {target}` and `flestimate inspect {path}"
            f"{f' --households {households}' if households else ''} --spec {target}`")


def _load_text(text: str) -> Any:
    import yaml

    from flestimate._config import yaml_loader

    return yaml.load(text, Loader=yaml_loader())  # the package's safe loader


def check_spec(path: str | Path, strict: bool = False) -> ModuleSpec:
    """Validate a module spec alone (a YAML file or a built-in name): its YAML, its schema and
    its content, every error a SpecError naming the file and the key path. With ``strict``,
    lines still marked ``# REVIEW`` are an error too."""
    spec = load_spec(path)
    p = Path(path)
    if strict and p.is_file():
        marked = review_lines(p.read_text(encoding="utf-8"))
        if marked:
            shown = ", ".join(map(str, marked[:8])) + (" ..." if len(marked) > 8 else "")
            raise SpecError(f"{p.name}: {len(marked)} line(s) still marked REVIEW (lines "
                            f"{shown}): check each guess, then delete its marker")
    return spec


def spec_summary(spec: ModuleSpec, path: str | Path | None = None) -> str:
    """One line: the spec's name, what it maps, its design and reference period, and how
    many lines are still marked REVIEW."""
    design = ", ".join(f"{k} {v}" for k, v in spec.design.items()) or "none"
    universe = describe_filter(spec.universe) if spec.universe is not None else "every row"
    text = (f"{spec.source}: valid module spec {spec.name!r}: {len(spec.indicators)} "
            f"indicator(s), {len(spec.context)} context variable(s); design: {design}; "
            f"universe: {universe}; reference period {spec.reference_period!r}")
    p = Path(path) if path is not None else None
    if p is not None and p.is_file():
        marked = review_lines(p.read_text(encoding="utf-8"))
        if marked:
            text += f"; {len(marked)} line(s) still marked REVIEW"
    return text


def describe_file(path: str | Path, households: str | Path | None = None,
                  spec: str | Path | ModuleSpec | None = None, *,
                  forced_labour: Any = "icls2018", trafficking: Any = "seed2007") -> str:
    """The text of ``flestimate inspect``: the variables of the person file (and of the
    household file) with their labels and the counts of their codes; with ``spec``, the
    mapping, the universe, the data-quality report and what the rules need that the spec
    does not map.

    Raises
    ------
    SpecError
        When a column the spec names (design, ids, merge key, universe, items, skip filters,
        context) is in neither file (all of them listed), or when the mapping fails.
    """
    from flestimate.io import read_microdata

    data = read_microdata(path)
    hh = read_microdata(households) if households is not None else None
    lines = describe_variables(data, path)
    if hh is not None:
        lines += ["", *describe_variables(hh, str(households), "household file")]
    if spec is None:
        return "\n".join(lines)
    spec_obj = spec if isinstance(spec, ModuleSpec) else load_spec(spec)
    columns = set(data.frame.columns) | (set(hh.frame.columns) if hh is not None else set())
    files = Path(path).name + (f" or {Path(households).name}" if households else "")
    missing_columns(spec_obj, columns, files, hh is not None)
    mapped = spec_obj.apply(data, households=hh)
    lines += ["", f"spec: {spec_obj.name} ({spec_obj.source})", "mapping:"]
    for ind in spec_obj.indicators:
        lines.append(f"  {ind.id:<32} <- {ind.combine}({', '.join(ind.items)})")
    for ctx in spec_obj.context:
        recode = " (recoded)" if ctx.values is not None else ""
        lines.append(f"  {ctx.name:<32} <- {ctx.column}{recode}")
    u = mapped.universe
    lines += ["", f"universe: {u['in_universe']} of {u['rows']} rows "
                  f"({u['left_universe']} outside)", "", "data quality:", mapped.report()]
    return "\n".join([*lines, "", *_needs_lines(spec_obj, forced_labour, trafficking)])


def _needs_lines(spec: ModuleSpec, forced_labour: Any, trafficking: Any) -> list[str]:
    needs, plain = unmapped_needs(spec, forced_labour, trafficking)
    if not needs:
        lines = ["not mapped: nothing the rules need"]
    else:
        lines = ["not mapped, though the rules need it (the persons it would decide stay "
                 "undetermined, never 'no'):"]
        lines += [f"  rule {rule}: {', '.join(what)}" for rule, what in needs.items()]
    unset = [c.name for c in spec.context if c.values and all(v is None for v in c.values.values())]
    if unset:
        lines.append(f"recoded to missing only (set the canonical values, docs/map.md): "
                     f"{', '.join(unset)}")
    if plain:
        lines.append(f"penalties without a dimension (undetermined where a rule needs one; "
                     f"see plain_penalties): {', '.join(plain)}")
    return lines
