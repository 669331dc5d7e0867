"""JSON schema to llama.cpp GBNF grammar, with bounded repetition (`x{m,n}`).

llama-cpp-python's own converter spells a length bound as n nested optional groups, which llama.cpp
refuses (and then crashes on) for the lengths a summary needs. Bounds matter for a small model: an
unbounded string lets it copy the whole transcript into the summary. This converter covers what
pydantic emits for response models: objects (properties in order), arrays with item bounds,
strings with length bounds, enums and consts, integers, numbers, booleans, null, `anyOf` and
local `$ref`s.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ciagent.errors import ConfigError

__all__ = ["schema_to_gbnf", "without_length_bounds"]

_BASE = {
    "space": '" "?',
    "char": r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})',
    "integer": '"-"? ("0" | [1-9] [0-9]{0,15}) space',
    "number": '"-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? space',
    "boolean": '("true" | "false") space',
    "null": '"null" space',
}


def _literal(value: Any) -> str:
    """A GBNF literal matching the JSON encoding of `value`."""
    return json.dumps(json.dumps(value))


class _Converter:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.rules: dict[str, str] = {}

    def add(self, name: str, body: str) -> str:
        name = re.sub(r"[^a-zA-Z0-9-]+", "-", name).strip("-") or "rule"
        candidate, n = name, 1
        while candidate in self.rules and self.rules[candidate] != body:
            n += 1
            candidate = f"{name}{n}"
        self.rules[candidate] = body
        return candidate

    def visit(self, schema: dict[str, Any], name: str) -> str:
        if "$ref" in schema:
            ref = str(schema["$ref"])
            if not ref.startswith("#/$defs/"):
                raise ConfigError("response schema", f"unsupported $ref {ref!r}")
            target = ref.rsplit("/", 1)[-1]
            if target not in self.rules:
                self.rules[target] = ""  # reserve, for recursive definitions
                self.rules[target] = self.body(self.root["$defs"][target], target)
            return target
        return self.add(name, self.body(schema, name))

    def body(self, schema: dict[str, Any], name: str) -> str:
        if "const" in schema:
            return f"{_literal(schema['const'])} space"
        if "enum" in schema:
            return "(" + " | ".join(_literal(v) for v in schema["enum"]) + ") space"
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self.visit(s, f"{name}-{i}") for i, s in enumerate(schema[key])]
                return " | ".join(options)
        kind = schema.get("type")
        if isinstance(kind, list):
            options = [self.visit({**schema, "type": k}, f"{name}-{k}") for k in kind]
            return " | ".join(options)
        if kind == "object":
            return self.object(schema, name)
        if kind == "array":
            item = self.visit(schema.get("items", {}), f"{name}-item")
            return (
                f'"[" space {self.repeat(item, schema, "minItems", "maxItems", sep=True)} "]" space'
            )
        if kind == "string":
            chars = self.repeat("char", schema, "minLength", "maxLength", sep=False)
            return f'"\\"" {chars} "\\"" space'
        if kind in _BASE:
            return str(kind)
        raise ConfigError("response schema", f"unsupported schema at {name}: {schema}")

    def object(self, schema: dict[str, Any], name: str) -> str:
        properties: dict[str, Any] = schema.get("properties", {})
        if not properties:
            return '"{" space "}" space'
        parts = []
        for key, sub in properties.items():
            value = self.visit(sub, f"{name}-{key}")
            parts.append(f'{_literal(key)} space ":" space {value}')
        return '"{" space ' + ' "," space '.join(parts) + ' "}" space'

    @staticmethod
    def repeat(item: str, schema: dict[str, Any], low: str, high: str, *, sep: bool) -> str:
        lo = int(schema.get(low, 0))
        hi = schema.get(high)
        if not sep:
            bound = f"{{{lo},{int(hi)}}}" if hi is not None else f"{{{lo},}}"
            return f"{item}{bound}"
        if hi is not None and int(hi) == 0:
            return ""
        rest_lo = max(lo - 1, 0)
        if hi is not None and int(hi) == 1:
            body = item
        else:
            rest = f"{{{rest_lo},{int(hi) - 1}}}" if hi is not None else f"{{{rest_lo},}}"
            body = f'{item} ("," space {item}){rest}'
        return body if lo > 0 else f"({body})?"


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    """A GBNF grammar whose sentences are JSON documents valid for `schema` (shape and bounds)."""
    converter = _Converter(schema)
    root = converter.body(schema, "root")
    lines = [f"root ::= {root}"]
    lines += [f"{name} ::= {body}" for name, body in converter.rules.items()]
    lines += [f"{name} ::= {body}" for name, body in _BASE.items()]
    return "\n".join(lines) + "\n"


_LENGTH_KEYWORDS = frozenset({"maxLength", "minLength", "pattern"})


def without_length_bounds(schema: Any) -> Any:
    """A copy of a JSON schema without string length and pattern bounds."""
    if isinstance(schema, dict):
        return {k: without_length_bounds(v) for k, v in schema.items() if k not in _LENGTH_KEYWORDS}
    if isinstance(schema, list):
        return [without_length_bounds(item) for item in schema]
    return schema
