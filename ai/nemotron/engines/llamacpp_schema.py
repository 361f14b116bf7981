"""JSON schemas into GBNF for llama.cpp, refusing what the converter would silently ignore.

llama-cpp-python's schema converter enforces structure (types, properties, required, enums, arrays,
string lengths and patterns) but drops numeric bounds and some other keywords without a word, which
would let ``{"risk_score": 250}`` through a schema that says 0-100. Integer ranges are therefore
rewritten as enums, which it does enforce, and any other keyword it would drop is a ConstraintError.
"""

from __future__ import annotations

import json
import math
from typing import Any

from llama_cpp.llama_grammar import json_schema_to_gbnf

from ai.nemotron.errors import ConstraintError

MAX_INTEGER_SPAN = 10_000  # larger ranges would make huge grammars
_ENFORCED = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "oneOf",
    "anyOf",
    "allOf",
    "$ref",
    "$defs",
    "definitions",
    "pattern",
    "format",
    "minLength",
    "maxLength",
}
_ANNOTATIONS = {
    "title",
    "description",
    "default",
    "examples",
    "$schema",
    "$id",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
    "name",
    "strict",
}
_BOUNDS = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
_SUBSCHEMA_LISTS = ("oneOf", "anyOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")

# The converter lets raw control characters (a newline, say) into JSON strings, which is invalid JSON;
# upstream llama.cpp's converter excludes them. Tighten that one rule.
_LOOSE_CHAR_RULE = r'char ::= [^"\\] |'
_STRICT_CHAR_RULE = r'char ::= [^"\\\x7F\x00-\x1F] |'


def _integer_range(schema: dict[str, Any], path: str) -> list[int]:
    low = schema.get("minimum", -math.inf)
    high = schema.get("maximum", math.inf)
    if "exclusiveMinimum" in schema:
        low = max(low, schema["exclusiveMinimum"] + 1)
    if "exclusiveMaximum" in schema:
        high = min(high, schema["exclusiveMaximum"] - 1)
    if math.isinf(low) or math.isinf(high) or high - low >= MAX_INTEGER_SPAN:
        raise ConstraintError(
            f"json_schema at {path}: integer bounds are enforced only for ranges of fewer than "
            f"{MAX_INTEGER_SPAN} values with both ends set"
        )
    return list(range(math.ceil(low), math.floor(high) + 1))


def _rewrite(schema: Any, path: str) -> Any:
    if not isinstance(schema, dict):
        return schema
    unknown = set(schema) - _ENFORCED - _ANNOTATIONS - _BOUNDS
    if unknown:
        raise ConstraintError(f"json_schema at {path}: keyword(s) {', '.join(sorted(unknown))} cannot be enforced")
    out = {k: v for k, v in schema.items() if k not in _BOUNDS}
    if _BOUNDS & schema.keys():
        if schema.get("type") != "integer":
            raise ConstraintError(f"json_schema at {path}: numeric bounds are enforced on integers only")
        values = _integer_range(schema, path)
        if not values:
            raise ConstraintError(f"json_schema at {path}: the integer range is empty")
        out = {k: v for k, v in out.items() if k != "type"} | {"enum": values}
    for key in _SUBSCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: _rewrite(sub, f"{path}/{key}/{name}") for name, sub in out[key].items()}
    for key in _SUBSCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_rewrite(sub, f"{path}/{key}/{i}") for i, sub in enumerate(out[key])]
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _rewrite(out[key], f"{path}/{key}")
    return out


def schema_grammar(schema: dict[str, Any]) -> str:
    """GBNF that admits exactly the JSON documents valid under ``schema`` (or a ConstraintError)."""
    enforceable = _rewrite(schema, "#")
    try:
        gbnf = json_schema_to_gbnf(json.dumps(enforceable))
    except Exception as exc:  # the converter raises plain Exceptions for schemas it does not understand
        raise ConstraintError(f"json_schema cannot be enforced: {exc}") from exc
    return gbnf.replace(_LOOSE_CHAR_RULE, _STRICT_CHAR_RULE)
