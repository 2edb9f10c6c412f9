"""YAML files that remember where each key came from.

:func:`load_yaml` parses a file into plain Python data plus a :class:`LineMap`
from key paths to line numbers. :func:`load_model` validates that data with a
pydantic model and turns the first validation error into a one-line
:class:`~lab.errors.ConfigError` that names the file, line and key.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from lab.errors import ConfigError

__all__ = [
    "KeyPath",
    "KeyedValueError",
    "LineMap",
    "load_yaml",
    "validation_error",
    "load_model",
]

#: Where a value sits in a document: the mapping keys and list indexes leading to it.
KeyPath = tuple[str | int, ...]

ModelT = TypeVar("ModelT", bound=BaseModel)

_A_MAPPING = "a mapping of keys to values"

#: Pydantic error types whose expectation reads better in our words.
_EXPECTED = {
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
}


class KeyedValueError(ValueError):
    """A validation failure that names the key at fault.

    Raise it from a validator with ``key_path`` relative to the model being
    validated; :func:`validation_error` then reports exactly that key.
    """

    def __init__(self, key_path: KeyPath, message: str) -> None:
        super().__init__(message)
        self.key_path = tuple(key_path)


class LineMap:
    """The 1-based line of every key path in one YAML document.

    A mapping value is at the line of its key, a list item at its own line and
    the empty path ``()`` at the line where the top-level mapping starts.
    """

    def __init__(self, lines: Mapping[KeyPath, int]) -> None:
        self._lines = dict(lines)

    def known_prefix(self, path: KeyPath) -> KeyPath:
        """The longest prefix of ``path`` that is present in the document."""
        for end in range(len(path), 0, -1):
            if path[:end] in self._lines:
                return path[:end]
        return ()

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor present in the document."""
        return self._lines.get(self.known_prefix(tuple(path)))


def load_yaml(path: Path) -> tuple[object, LineMap]:
    """Parse ``path`` into plain data (scalars resolved as by ``yaml.safe_load``) and its :class:`LineMap`.

    Raises :class:`ConfigError` if the file cannot be read, is not YAML, is
    empty, repeats a key within one mapping or is not a mapping at the top.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise ConfigError(f"cannot read file: {reason}", file=path) from err
    try:
        loader = yaml.SafeLoader(text)
        root = loader.get_single_node()
        if root is None:
            raise ConfigError(f"file is empty (expected {_A_MAPPING})", file=path)
        if not isinstance(root, yaml.MappingNode):
            raise ConfigError(
                f"top level is {_kind(root)} (expected {_A_MAPPING})", file=path, line=_line(root)
            )
        lines: dict[KeyPath, int] = {(): _line(root)}
        return _plain(root, (), lines, loader, path), LineMap(lines)
    except yaml.YAMLError as err:
        raise _syntax_error(err, path) from err
    except RecursionError as err:
        raise ConfigError("aliases nest too deeply (is an anchor used inside itself?)", file=path) from err


def validation_error(
    exc: ValidationError, *, model: type[BaseModel], file: str | Path, lines: LineMap
) -> ConfigError:
    """A one-line :class:`ConfigError` for the first error in ``exc`` (raised by validating ``model``)."""
    path, message = explain(exc, model=model, lines=lines)
    return ConfigError(message, file=file, key=_dotted(path) or None, line=lines.line_of(path))


def explain(exc: ValidationError, *, model: type[BaseModel], lines: LineMap | None = None) -> tuple[KeyPath, str]:
    """The key path and the one-line reason of the first error in ``exc``, in the words of a lab config error.

    Without ``lines`` (data that came from no file, e.g. the command line) the path is pydantic's own.
    """
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, KeyedValueError):
        path = loc + cause.key_path
    elif error["type"] == "missing" or lines is None:
        path = loc
    else:  # drop what pydantic adds beyond the data, such as "[key]" or union member tags
        path = lines.known_prefix(loc)
    return path, " ".join(_message(error, cause, _model_at(model, path[:-1])).split())


def dotted(path: KeyPath) -> str:
    """``("links", "path-a", "a")`` -> ``links.path-a.a``; list indexes as ``[n]``."""
    return _dotted(path)


def load_model(path: Path, model: type[ModelT]) -> ModelT:
    """Load the YAML file at ``path`` and validate it as ``model``; :class:`ConfigError` on any problem."""
    data, lines = load_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, model=model, file=path, lines=lines) from exc


def _plain(
    node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], loader: yaml.SafeLoader, file: Path
) -> object:
    """Convert ``node`` (at ``path``) to plain data, recording the line of every key and item below it."""
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[(*path, index)] = _line(item)
            items.append(_plain(item, (*path, index), lines, loader, file))
        return items
    if not isinstance(node, yaml.MappingNode):
        return loader.construct_object(node)
    mapping: dict[Any, object] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise ConfigError(
                f"a key must be a single value, not {_kind(key_node)}",
                file=file, key=_dotted(path) or None, line=_line(key_node),
            )
        key = loader.construct_object(key_node)
        child = (*path, key)
        if key in mapping:
            raise ConfigError(
                f"duplicate key (first given on line {lines[child]})",
                file=file, key=_dotted(child), line=_line(key_node),
            )
        lines[child] = _line(key_node)
        mapping[key] = _plain(value_node, child, lines, loader, file)
    return mapping


def _syntax_error(err: yaml.YAMLError, file: Path) -> ConfigError:
    """The :class:`ConfigError` for a YAML error, at the line of the problem."""
    if not isinstance(err, yaml.MarkedYAMLError):
        return ConfigError(f"invalid YAML: {str(err).splitlines()[0]}", file=file)
    mark = err.problem_mark or err.context_mark
    what = ", ".join(part for part in (err.context, err.problem) if part)
    return ConfigError(f"invalid YAML: {what}", file=file, line=mark.line + 1 if mark else None)


def _message(error: Any, cause: object, model: type[BaseModel] | None) -> str:
    """Pydantic's complaint in the words of a lab config error."""
    if isinstance(cause, ValueError):
        return str(cause)
    kind = error["type"]
    if kind == "missing":
        field = model.model_fields.get(error["loc"][-1]) if model else None
        return f"missing (expected {field.description})" if field and field.description else "missing"
    if kind == "extra_forbidden":
        return f"unknown key (expected one of: {', '.join(model.model_fields)})" if model else "unknown key"
    msg = f"expected {_EXPECTED[kind]}" if kind in _EXPECTED else error["msg"][0].lower() + error["msg"][1:]
    return f"{msg} (got {reprlib.repr(error['input'])})"


def _model_at(root: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (through fields, dict values and list items)."""
    hint: Any = root
    for part in path:
        if _is_model(hint):
            field = hint.model_fields.get(part)
            if field is None:
                return None
            hint = field.annotation
        else:
            hint = (get_args(hint) or (None,))[-1]
    return hint if _is_model(hint) else None


def _is_model(hint: object) -> bool:
    return isinstance(hint, type) and issubclass(hint, BaseModel)


def _dotted(path: KeyPath) -> str:
    """``("links", "path-a", "a")`` -> ``links.path-a.a``; list indexes as ``[n]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f"{'.' if text else ''}{part}"
    return text


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
