"""A small JSON Schema (draft 2020-12) validator: the keywords ``events.schema.json`` uses, nothing more.

The project has no ``jsonschema`` dependency; this checks the shipped schema against the documented
examples. :data:`KEYWORDS` lists what it understands; a test fails if the schema uses anything else,
so a keyword this validator would silently ignore can never make a check pass.

Example:
    >>> errors({"type": "integer", "minimum": 1}, 0)
    ['$: 0 is less than 1']
    >>> errors({"type": ["string", "null"]}, None)
    []
"""

from __future__ import annotations

import re
from typing import Any

ANNOTATIONS = {"$schema", "$id", "title", "description", "examples", "$comment"}
KEYWORDS = {
    "type",
    "enum",
    "const",
    "required",
    "properties",
    "items",
    "uniqueItems",
    "minimum",
    "pattern",
    "oneOf",
    "$ref",
    "$defs",
} | ANNOTATIONS


def errors(schema: dict[str, Any], instance: Any, *, root: dict[str, Any] | None = None, at: str = "$") -> list[str]:
    """Every way ``instance`` breaks ``schema`` (empty: valid), each prefixed by where."""
    root = root if root is not None else schema
    found: list[str] = []
    if "$ref" in schema:
        found += errors(_resolve(root, schema["$ref"]), instance, root=root, at=at)
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(kind, instance) for kind in kinds):
            return [*found, f"{at}: {instance!r} is not of type {' or '.join(kinds)}"]
    if "const" in schema and not _equal(instance, schema["const"]):
        found.append(f"{at}: {instance!r} is not {schema['const']!r}")
    if "enum" in schema and not any(_equal(instance, option) for option in schema["enum"]):
        found.append(f"{at}: {instance!r} is not one of {schema['enum']!r}")
    if isinstance(instance, dict):
        found += [f"{at}: {name!r} is required" for name in schema.get("required", ()) if name not in instance]
        for name, sub in schema.get("properties", {}).items():
            if name in instance:
                found += errors(sub, instance[name], root=root, at=f"{at}.{name}")
    if isinstance(instance, list):
        if "items" in schema:
            for i, item in enumerate(instance):
                found += errors(schema["items"], item, root=root, at=f"{at}[{i}]")
        if schema.get("uniqueItems") and any(_equal(a, b) for i, a in enumerate(instance) for b in instance[i + 1 :]):
            found.append(f"{at}: items are not unique")
    if _is("number", instance) and "minimum" in schema and instance < schema["minimum"]:
        found.append(f"{at}: {instance!r} is less than {schema['minimum']!r}")
    if isinstance(instance, str) and "pattern" in schema and not re.search(schema["pattern"], instance):
        found.append(f"{at}: {instance!r} does not match {schema['pattern']!r}")
    if "oneOf" in schema:
        passing = [i for i, sub in enumerate(schema["oneOf"]) if not errors(sub, instance, root=root, at=at)]
        if len(passing) != 1:
            found.append(f"{at}: valid against {len(passing)} of the oneOf schemas, not exactly 1")
    return found


def keywords(schema: Any) -> set[str]:
    """Every keyword used anywhere in ``schema`` (property names and ``$defs`` names excluded)."""
    used: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            used.add(key)
            if key in ("properties", "$defs"):
                for sub in value.values():
                    used |= keywords(sub)
            elif key in ("items", "oneOf"):
                for sub in value if isinstance(value, list) else [value]:
                    used |= keywords(sub)
    return used


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _is(kind: str, value: Any) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":  # 2020-12: a number with no fractional part, 2.0 included
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        return whole and not isinstance(value, bool)
    if kind == "number":
        return not isinstance(value, bool) and isinstance(value, (int, float))
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    raise ValueError(f"unknown type {kind!r}")


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``True != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b
