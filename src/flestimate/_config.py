"""Reading configuration files: module specs, rule files and reliability rule sets.

Three guards run before a file's content is used:

1. :func:`read_yaml` reads the file as UTF-8 text and parses it with :func:`yaml_loader`, a safe
   loader that rejects nesting deeper than :data:`MAX_DEPTH` levels, recursive anchors and alias
   expansion past :data:`MAX_ALIAS_NODES` nodes (a "billion laughs" file) while composing, before
   any Python object is built.
2. :func:`check_shape` applies the same limits to a mapping built in Python (nested lists and
   dicts, shared objects counted once per reference).
3. :func:`validate` checks the content against a declared JSON Schema (Draft 2020-12) of the
   format: every value of the wrong type is a :class:`~flestimate.errors.SpecError` naming the
   file and the key path, e.g. "my.yaml: design.weights: must be a column name (string); got 42".
   A schema node's ``message`` (a keyword of ours, ignored by the validator) is the text after
   "must be"-style key paths; the format's own checks (unknown keys, allowed values) follow.
"""

from __future__ import annotations

import copy
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from flestimate.errors import SpecError

__all__ = ["MAX_ALIAS_NODES", "MAX_BYTES", "MAX_DEPTH", "check_shape", "read_yaml", "validate",
           "yaml_loader"]

#: Deepest nesting of mappings and lists a configuration file may have (the shipped files need
#: fewer than 15 levels).
MAX_DEPTH = 100
#: Largest configuration file read, in bytes.
MAX_BYTES = 5_000_000
#: Most nodes a file may reach through YAML aliases (or shared objects) beyond its own nodes.
MAX_ALIAS_NODES = 10_000
# Files parsed in this process, by their bytes: a batch worker runs many surveys on the same
# spec and rule sets, and parsing them is most of what a survey costs outside estimation.
_PARSED: OrderedDict[bytes, Any] = OrderedDict()
_PARSED_MAX = 32


class ConfigLimitError(Exception):
    """A configuration file passes a size or depth limit (raised inside the YAML loader, turned
    into a :class:`SpecError` naming the file by :func:`read_yaml`)."""


def _limit_error_class() -> type[Exception]:
    import yaml

    class _YAMLLimitError(ConfigLimitError, yaml.YAMLError):
        pass

    return _YAMLLimitError


Children = list[tuple[Any, Any]] | None  # (key or position, child); None for a leaf


def _step(path: str, key: Any) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else str(key))


def _measure(root: Any, children: Callable[[Any], Children],
             fail: Callable[[str], Exception]) -> None:
    """Walk a graph of nodes (a shared node's children once) and check that its expansion as a
    tree is no deeper than MAX_DEPTH, reaches no more than MAX_ALIAS_NODES nodes through shared
    nodes (aliases) beyond the distinct ones, and that no node contains itself. An error names
    the key path and, for a YAML node, the line."""
    done: dict[int, tuple[int, int]] = {}  # id -> (expanded size, height)
    on_path: set[int] = set()
    extra = 0

    def where(node: Any, path: str) -> str:
        mark = getattr(node, "start_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else ""
        if path and line:
            return f"{path} ({line}): "
        return f"{path or line}: " if path or line else ""

    def visit(node: Any, depth: int, path: str) -> tuple[int, int]:
        nonlocal extra
        kids = children(node)
        if kids is None:
            return 1, 1
        key = id(node)
        if key in done:
            size, height = done[key]
            extra += size
            if extra > MAX_ALIAS_NODES:
                raise fail(f"{where(None, path)}aliases expand to more than "
                           f"{MAX_ALIAS_NODES:,} nodes beyond the file's own (a YAML alias "
                           f"bomb?)")
            if depth + height - 1 > MAX_DEPTH:
                raise fail(f"{where(None, path)}nested deeper than {MAX_DEPTH} levels "
                           f"(through an alias)")
            return size, height
        if key in on_path:
            raise fail(f"{where(node, path)}an alias refers to a mapping or list that contains "
                       f"it (a recursive anchor)")
        if depth > MAX_DEPTH:
            raise fail(f"{where(node, path)}nested deeper than {MAX_DEPTH} levels")
        on_path.add(key)
        size, height = 1, 0
        for step, kid in kids:
            s, h = visit(kid, depth + 1, _step(path, step))
            size, height = size + s, max(height, h)
        on_path.discard(key)
        done[key] = (size, height + 1)
        return size, height + 1

    visit(root, 1, "")


def _node_children(node: Any) -> Children:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return list(enumerate(node.value))
    if isinstance(node, yaml.MappingNode):
        out: list[tuple[Any, Any]] = []
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                out.append((k.value, v))
            else:  # a complex key (``? [a, b]``) may hold aliases too
                out += [("(key)", k), ("(value)", v)]
        return out
    return None


def yaml_loader() -> Any:
    """PyYAML's safe loader with YAML 1.2 booleans (only true/false, so that the keys `yes`,
    `no` and `on` of a spec stay strings; YAML 1.1 reads them as booleans) and with limits:
    nesting deeper than :data:`MAX_DEPTH`, a recursive anchor or aliases reaching more than
    :data:`MAX_ALIAS_NODES` nodes raise a ``yaml.YAMLError`` (a :class:`ConfigLimitError`)
    while the document is composed, before any object is built."""
    import yaml

    limit_error = _limit_error_class()

    class Loader(yaml.SafeLoader):
        _depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    peek: Callable[[], Any] = self.peek_event  # untyped in PyYAML's stubs
                    mark = peek().start_mark
                    raise limit_error(f"line {mark.line + 1}: nested deeper than {MAX_DEPTH} "
                                      f"levels")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def compose_document(self) -> Any:
            node = super().compose_document()
            _measure(node, _node_children, limit_error)
            return node

    bool_tag = "tag:yaml.org,2002:bool"
    Loader.yaml_implicit_resolvers = {
        first: [r for r in resolvers if r[0] != bool_tag]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(
        bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return Loader


def _flow_too_deep(text: str) -> int | None:
    """The line where brackets (``[`` and ``{`` of YAML's flow style) open more than MAX_DEPTH
    levels, or None. PyYAML's scanner looks ahead over a whole flow collection in quadratic time
    before the loader's depth limit can act, so this runs first (brackets inside quoted strings
    count too: a file needs more than MAX_DEPTH of them unclosed to be refused)."""
    depth = 0
    for match in re.finditer(r"[\[\]{}]", text):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH:
            return text.count("\n", 0, match.start()) + 1
        depth = max(depth, 0)
    return None


def read_yaml(path: Path, source: str) -> Any:
    """Read a YAML configuration file with :func:`yaml_loader`.

    Raises
    ------
    SpecError
        Naming ``source``: the file cannot be read, is not UTF-8 text, is not valid YAML, or
        passes a nesting or alias limit.

    Notes
    -----
    The content of the last few files parsed is kept by their bytes (a batch worker reads the
    same spec and rule sets for every survey); a file read again with the same bytes gives a
    deep copy of it (aliases still shared within it) without parsing.
    """
    import yaml

    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SpecError(f"{source}: the file has {size:,} bytes; a configuration file may "
                            f"have at most {MAX_BYTES:,}")
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"{source}: cannot read the file: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{source}: not a UTF-8 text file: {exc.reason} at byte "
                        f"{exc.start}") from exc
    cached = _PARSED.get(data, _PARSED)  # the same bytes parse to the same content
    if cached is not _PARSED:
        return copy.deepcopy(cached)  # a copy: the caller may change what it gets
    if (line := _flow_too_deep(text)) is not None:
        raise SpecError(f"{source}: line {line}: nested deeper than {MAX_DEPTH} levels "
                        f"(brackets)")
    try:
        content = yaml.load(text, Loader=yaml_loader())  # a SafeLoader
    except ConfigLimitError as exc:
        raise SpecError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: invalid YAML: {exc}") from exc
    except RecursionError:  # pragma: no cover - the depth limit comes first
        raise SpecError(f"{source}: nested too deeply") from None
    _PARSED[data] = copy.deepcopy(content)
    while len(_PARSED) > _PARSED_MAX:
        _PARSED.popitem(last=False)
    return content


def _object_children(obj: Any) -> Children:
    if isinstance(obj, Mapping):
        return list(obj.items())
    if isinstance(obj, list | tuple):
        return list(enumerate(obj))
    return None


def check_shape(raw: Any, source: str) -> None:
    """Apply the YAML loader's limits to an object built in Python: nesting no deeper than
    :data:`MAX_DEPTH`, no container inside itself, and shared containers reaching no more than
    :data:`MAX_ALIAS_NODES` nodes beyond the distinct ones. A :class:`SpecError` names
    ``source``."""
    _measure(raw, _object_children, lambda text: SpecError(f"{source}: {text}"))


# -- schema validation ---------------------------------------------------------------------------
_TYPE_TEXT = {"string": "a string", "integer": "an integer", "number": "a number",
              "boolean": "true or false", "object": "a mapping", "array": "a list",
              "null": "empty (null)"}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _key_path(raw: Any, path: Iterable[Any]) -> str:
    """``design.weights``, ``indicators.x.items[0]``: list positions in brackets."""
    out, node = "", raw
    for step in path:
        if isinstance(node, list | tuple):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            node = None
    return out


def _message(error: Any) -> str:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if "message" in schema:
        return str(schema["message"])
    if error.validator == "type":
        wanted = error.validator_value
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        return "must be " + " or ".join(_TYPE_TEXT.get(n, n) for n in names)
    return str(error.message)


_VALIDATORS: dict[int, Any] = {}


def _validator(schema: Mapping[str, Any]) -> Any:
    """A Draft 2020-12 validator for which any Mapping is an object (frozen mappings too);
    one per schema (the schemas are module constants)."""
    if id(schema) in _VALIDATORS:
        return _VALIDATORS[id(schema)]
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine("object", lambda _, x: isinstance(x, Mapping))
    extend: Callable[..., Any] = jsonschema.validators.extend  # untyped in jsonschema's stubs
    validator = extend(base, type_checker=checker)(schema)
    _VALIDATORS[id(schema)] = validator
    return validator


def validate(raw: Any, schema: Mapping[str, Any], source: str) -> None:
    """Check ``raw`` against a JSON Schema; the first error (the one nearest the top) becomes a
    :class:`SpecError` "<source>: <key path>: <message>; got <value>"."""
    errors = list(_validator(schema).iter_errors(raw))
    if not errors:
        return
    error = min(errors, key=lambda e: len(e.absolute_path))
    where = _key_path(raw, error.absolute_path)
    prefix = f"{source}: {where}: " if where else f"{source}: "
    raise SpecError(f"{prefix}{_message(error)}; got {_shown(error.instance)}")
