"""Validate a runbook against runbooks/schema.json, with the line of each problem.

The schema published for editors and CI is the one the loader enforces: this is a small validator of the part of
JSON Schema that file uses ($ref, type, const, enum, properties, required, additionalProperties, items, minItems,
minLength, pattern, minimum, maximum), so there is no second copy of the rules to drift from it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import yaml

from mlobs_cli.runbook import paths

Path_ = tuple[str | int, ...]

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


@cache
def schema() -> dict[str, Any]:
    """The published JSON Schema of runbooks."""
    return json.loads(paths.shipped_dir().joinpath("schema.json").read_text(encoding="utf-8"))


def line_map(node: yaml.Node) -> dict[Path_, int]:
    """Every path of a composed YAML document -> its 1-based line (a mapping value: the line of its key)."""
    lines: dict[Path_, int] = {}

    def walk(n: yaml.Node, path: Path_, line: int) -> None:
        lines[path] = line
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                walk(value, (*path, key.value), key.start_mark.line + 1)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, i), item.start_mark.line + 1)

    walk(node, (), node.start_mark.line + 1)
    return lines


def line_of(lines: Mapping[Path_, int], path: Path_) -> int:
    """The line of `path`, else of its nearest parent."""
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)


def dotted(path: Path_) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top)"


def validate(data: Any) -> list[tuple[Path_, str]]:
    """Every place `data` breaks the schema, as (path, message)."""
    problems: list[tuple[Path_, str]] = []
    _check(data, schema(), (), problems)
    return problems


def _resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        node = {**schema()["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _check(value: Any, node: Mapping[str, Any], path: Path_, problems: list[tuple[Path_, str]]) -> None:
    node = _resolve(node)
    if "const" in node and value != node["const"]:
        problems.append((path, f"must be {node['const']!r}"))
        return
    if "enum" in node and value not in node["enum"]:
        problems.append((path, f"{value!r} is not one of {', '.join(map(str, node['enum']))}"))
        return
    types = node.get("type")
    if types is not None:
        wanted = [types] if isinstance(types, str) else types
        if not any(_TYPES[t](value) for t in wanted):
            problems.append((path, f"expected {' or '.join(wanted)}, got {type(value).__name__}"))
            return
    if isinstance(value, str):
        if len(value) < node.get("minLength", 0):
            problems.append((path, "must not be empty"))
        if "pattern" in node and not re.search(node["pattern"], value):
            problems.append((path, f"{value!r} does not match {node['pattern']}"))
    if _TYPES["number"](value):
        if "minimum" in node and value < node["minimum"]:
            problems.append((path, f"{value} is below the minimum {node['minimum']}"))
        if "maximum" in node and value > node["maximum"]:
            problems.append((path, f"{value} is above the maximum {node['maximum']}"))
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0):
            problems.append((path, f"needs at least {node['minItems']} item(s)"))
        if "items" in node:
            for i, item in enumerate(value):
                _check(item, node["items"], (*path, i), problems)
    if isinstance(value, dict):
        for key in node.get("required", ()):
            if key not in value:
                problems.append((path, f"missing required key {key!r}"))
        props = node.get("properties", {})
        extra = node.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                _check(item, props[key], (*path, key), problems)
            elif extra is False:
                known = ", ".join(props)
                problems.append(((*path, key), f"unknown key {key!r} (known: {known})"))
            elif isinstance(extra, dict):
                _check(item, extra, (*path, key), problems)
