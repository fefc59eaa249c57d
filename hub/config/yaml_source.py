"""YAML loading that remembers where every value came from, for errors that name a line."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# The most values a file may expand to, its aliases followed: far above any real config
# (a thousand campaigns), far below an alias bomb (ten aliases of ten aliases... of a list).
MAX_VALUES = 100_000


@dataclass(frozen=True)
class SourceError:
    line: int
    path: Path_
    message: str


class YamlSourceError(Exception):
    def __init__(self, errors: list[SourceError]) -> None:
        super().__init__(errors[0].message if errors else "invalid YAML")
        self.errors = errors


@dataclass
class YamlSource:
    """Parsed YAML data plus the 1-based line of every key path in it."""

    filename: str
    data: Any
    lines: dict[Path_, int]

    def line_for(self, path: Path_) -> int:
        """The line of the deepest prefix of `path` that exists in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


def load_yaml(text: str, filename: str, env: dict[str, str] | None = None) -> YamlSource:
    """Parse YAML, substitute ${VAR} / ${VAR:-default} from `env`, and keep line numbers.

    Raises YamlSourceError for syntax errors, duplicate keys and missing variables.
    """
    env = dict(os.environ) if env is None else env
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else 1
            message = f"YAML syntax error: {exc.problem or exc}"
            if exc.context and exc.context_mark is not None:
                message += f" ({exc.context} at line {exc.context_mark.line + 1})"
            raise YamlSourceError([SourceError(line, (), message)]) from None
        if node is not None:
            _check_expansion(node)
        lines: dict[Path_, int] = {}
        errors: list[SourceError] = []
        data = {} if node is None else _build(loader, node, (), lines, errors, env)
    finally:
        loader.dispose()
    if errors:
        raise YamlSourceError(errors)
    return YamlSource(filename, data, lines)


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a file whose aliases expand it beyond MAX_VALUES values, or that holds an alias
    to a node that contains it, before anything is built: each node is sized once, so an
    alias bomb is refused in the time its text takes to read."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise YamlSourceError(
                [
                    SourceError(
                        node.start_mark.line + 1,
                        (),
                        "a YAML alias refers to a node that contains it",
                    )
                ]
            )
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                total += size(key_node) + size(value_node)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
        open_nodes.discard(key)
        sizes[key] = total = min(total, MAX_VALUES + 1)
        return total

    if size(root) > MAX_VALUES:
        message = (
            f"the file expands to more than {MAX_VALUES} values through its YAML aliases "
            "(&anchor / *alias); write the values out or use fewer nested aliases"
        )
        raise YamlSourceError([SourceError(root.start_mark.line + 1, (), message)])


def _build(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Path_,
    lines: dict[Path_, int],
    errors: list[SourceError],
    env: dict[str, str],
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            known_errors = len(errors)
            key = _scalar(loader, key_node, path, errors)
            if len(errors) > known_errors:
                continue
            if isinstance(key, date):
                # Per-date keys (a calendar's overrides): kept as their ISO text, so every
                # key path stays text or a number; the section's model parses the date.
                key = key.isoformat()
            if not isinstance(key, str | int):
                errors.append(SourceError(key_node.start_mark.line + 1, path, "keys must be text"))
                continue
            child = (*path, key)
            if key in out:
                errors.append(
                    SourceError(key_node.start_mark.line + 1, child, f"duplicate key {key!r}")
                )
                continue
            lines[child] = key_node.start_mark.line + 1
            out[key] = _build(loader, value_node, child, lines, errors, env)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, i), lines, errors, env)
            for i, item in enumerate(node.value)
        ]
    value = _scalar(loader, node, path, errors)
    if isinstance(value, str) and "${" in value:
        value = _substitute(value, node.start_mark.line + 1, path, errors, env)
    return value


def _scalar(
    loader: yaml.SafeLoader, node: yaml.Node, path: Path_, errors: list[SourceError]
) -> Any:
    """The node's value; a value YAML recognises but cannot build (2027-02-30 as a date) is
    an error at its line, not a crash of the loader."""
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        errors.append(
            SourceError(node.start_mark.line + 1, path, f"{node.value!r} is not valid: {exc}")
        )
        return None


def _substitute(
    value: str, line: int, path: Path_, errors: list[SourceError], env: dict[str, str]
) -> str:
    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        errors.append(SourceError(line, path, f"environment variable {name} is not set"))
        return ""

    return _ENV_REF.sub(repl, value)
