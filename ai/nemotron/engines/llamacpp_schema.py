"""JSON schemas into GBNF for llama.cpp, enforcing every keyword it accepts and refusing the rest.

llama-cpp-python's schema converter (``llama_cpp.llama_grammar.SchemaConverter``, a copy of llama.cpp's
examples/json_schema_to_grammar.py) enforces types, properties, required, enums, arrays, string lengths
and patterns, but silently drops numeric bounds, sibling keywords next to ``$ref``/``anyOf``, the
members of a type list, and ``minItems`` on arrays without ``items``; a schema that says 0-1 would let
``{"confidence": 7}`` through. Here the schema is first checked and normalised (:func:`_rewrite`), then
converted by a subclass that writes numeric bounds itself (ai.nemotron.number_grammar), counts string
lengths in characters exactly, and takes ``{}`` as any JSON value. Whatever would still be dropped is a
ConstraintError (HTTP 400) naming the keyword and where it is.

Keywords enforced: type (one or a list), properties, required, additionalProperties (false, true or a
schema), items, prefixItems, minItems, maxItems, enum, const, anyOf, oneOf (as anyOf: give disjoint
branches), allOf with one member, $ref into $defs/definitions, pattern, format (date, time, date-time,
uuid; others are annotations, as in JSON Schema 2020-12), minLength, maxLength, minimum, maximum,
exclusiveMinimum, exclusiveMaximum. Annotations (title, description, default, examples, ...) are ignored.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from llama_cpp.llama_grammar import (
    INVALID_RULE_CHARS_RE,
    PRIMITIVE_RULES,
    RESERVED_NAMES,
    BuiltinRule,
    SchemaConverter,
)

from ai.nemotron.errors import ConstraintError
from ai.nemotron.gbnf import MAX_NESTING
from ai.nemotron.number_grammar import BOUND_KEYWORDS, number_range, range_rules

_STRUCTURAL = {
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
    "pattern",
    "format",
    "minLength",
    "maxLength",
    *BOUND_KEYWORDS,
}
_CONTAINERS = {"$defs", "definitions"}
ANNOTATIONS = frozenset(
    {
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
)
SUPPORTED_KEYWORDS = frozenset(_STRUCTURAL | _CONTAINERS)
_COMBINATORS = ("$ref", "anyOf", "oneOf", "allOf")
_SUBSCHEMA_LISTS = ("oneOf", "anyOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")
_ENUM_CHECKABLE = ("type", "minLength", "maxLength", "pattern", *BOUND_KEYWORDS)
_TYPE_KEYWORDS: dict[str, set[str]] = {  # keywords that constrain values of one type only
    "string": {"minLength", "maxLength", "pattern", "format"},
    "number": set(BOUND_KEYWORDS),
    "integer": set(BOUND_KEYWORDS),
    "array": {"items", "prefixItems", "minItems", "maxItems"},
    "object": {"properties", "required", "additionalProperties"},
    "boolean": set(),
    "null": set(),
}
_SPECIFIC = set().union(*_TYPE_KEYWORDS.values())
_ANY = {"x-any-value": True}  # what {} becomes: any JSON value (private; only this module writes it)

# One JSON string character, as the validator counts it (one code point): a raw character other than
# '"', '\' and control characters, or an escape; \u escapes of UTF-16 surrogates are excluded, since a
# pair would count twice here and once in the decoded string (and a lone one is not valid Unicode).
_CHAR = BuiltinRule(
    r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" ([0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2}))',
    [],
)


def _fail(path: str, message: str) -> ConstraintError:
    return ConstraintError(f"json_schema at {path}: {message}")


def _check_counts(schema: dict[str, Any], path: str) -> None:
    """Counts that can match, and that fit the grammar: a length or item count n is written out as n
    repetitions (nested groups for a maximum), so a count over :data:`MAX_NESTING` is refused at once instead of
    building a grammar of gigabytes on the event loop."""
    for key in ("minLength", "maxLength", "minItems", "maxItems"):
        count = schema.get(key)
        if isinstance(count, int) and count > MAX_NESTING:
            raise _fail(path, f"{key} {count} is over this server's limit of {MAX_NESTING}")
    for low_key, high_key in (("minLength", "maxLength"), ("minItems", "maxItems")):
        low, high = schema.get(low_key, 0), schema.get(high_key)
        if high is not None and low > high:
            raise _fail(path, f"{low_key} {low} is greater than {high_key} {high}: nothing can match")


def _filter_enum(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """``enum``/``const`` with sibling constraints: keep only the values the siblings allow."""
    values = [schema["const"]] if "const" in schema else list(schema["enum"])
    siblings = set(schema) - {"enum", "const"}
    others = siblings - set(_ENUM_CHECKABLE)
    if others:
        raise _fail(path, f"enum/const together with {', '.join(sorted(others))} cannot be enforced")
    if siblings:
        validator = jsonschema.Draft202012Validator({k: schema[k] for k in siblings})
        values = [v for v in values if validator.is_valid(v)]
    if not values:
        raise _fail(path, "no enum/const value satisfies the other keywords")
    return {"enum": values}


def _rewrite(schema: Any, path: str) -> Any:
    """The schema with annotations removed and every enforced keyword in a form the converter keeps;
    a ConstraintError for any keyword that would be dropped."""
    if schema is True:
        return dict(_ANY)
    if not isinstance(schema, dict):
        raise _fail(path, "a subschema must be an object or true (false matches nothing)")
    unknown = set(schema) - SUPPORTED_KEYWORDS - ANNOTATIONS
    if unknown:
        raise _fail(path, f"keyword(s) {', '.join(sorted(unknown))} cannot be enforced")
    out = {k: v for k, v in schema.items() if k not in ANNOTATIONS}
    for key in _SUBSCHEMA_MAPS:
        if key in out:
            if not isinstance(out[key], dict):
                raise _fail(path, f"{key} must be an object")
            out[key] = {name: _rewrite(sub, f"{path}/{key}/{name}") for name, sub in out[key].items()}
    containers = {k: out.pop(k) for k in _CONTAINERS if k in out}
    rewritten = _rewrite_body(out, path) or dict(_ANY)  # the converter takes {} for an object (and as no items)
    return rewritten | containers


def _rewrite_body(out: dict[str, Any], path: str) -> dict[str, Any]:
    combinators = [k for k in _COMBINATORS if k in out]
    if combinators:
        key = combinators[0]
        extra = sorted(set(out) - {key})
        if extra:
            raise _fail(path, f"{key} with sibling keyword(s) {', '.join(extra)} cannot be enforced")
        if key == "$ref":
            if not isinstance(out["$ref"], str) or not out["$ref"].startswith("#/"):
                raise _fail(path, "only local references ('#/$defs/...') are supported")
            return out
        members = out[key]
        if key == "allOf":
            if len(members) != 1:
                raise _fail(path, "allOf with more than one schema cannot be enforced")
            return _rewrite(members[0], f"{path}/allOf/0")
        return {key: [_rewrite(sub, f"{path}/{key}/{i}") for i, sub in enumerate(members)]}

    if "enum" in out or "const" in out:
        return _filter_enum(out, path)
    kind = out.get("type")
    if isinstance(kind, list):
        if len(kind) != 1:  # the converter keeps only the bare types of a list: one branch per type
            rest = {k: v for k, v in out.items() if k != "type"}
            return {"anyOf": [_rewrite_body({**rest, "type": t}, f"{path}[type={t}]") for t in kind]}
        kind = kind[0]
    families = {family for family, keys in _TYPE_KEYWORDS.items() if keys & out.keys() and family != "integer"}
    if kind is None and families:
        if len(families) > 1:
            raise _fail(path, f'keywords for {" and ".join(sorted(families))} need a "type"')
        kind = families.pop()  # {"minimum": 0} constrains numbers only: write a number
    if kind is not None:
        if kind not in _TYPE_KEYWORDS:
            raise _fail(path, f"unknown type {kind!r}")
        # keywords for other types do not apply to this one (JSON Schema 2020-12, section 7.6.1 and on)
        out = {k: v for k, v in out.items() if k not in _SPECIFIC - _TYPE_KEYWORDS[kind]} | {"type": kind}

    _check_counts(out, path)
    if kind in ("number", "integer"):
        number_range(out, path)  # an empty or unwritable range is refused here, with its path
    if ("minLength" in out or "maxLength" in out) and ("pattern" in out or "format" in out):
        raise _fail(path, "minLength/maxLength together with pattern or format cannot be enforced")
    if "prefixItems" in out:
        n = len(out["prefixItems"])
        if "items" in out:
            raise _fail(path, "prefixItems together with items cannot be enforced")
        if out.get("minItems", 0) > n or out.get("maxItems", n) < n:
            raise _fail(path, f"prefixItems give exactly {n} items, which minItems/maxItems do not allow")
        out["prefixItems"] = [_rewrite(sub, f"{path}/prefixItems/{i}") for i, sub in enumerate(out["prefixItems"])]
    elif "items" in out:
        out["items"] = _rewrite(out["items"], f"{path}/items")
    elif kind == "array" and ("minItems" in out or "maxItems" in out):
        out["items"] = dict(_ANY)  # any value; without items the converter would drop the counts
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _rewrite(out["additionalProperties"], f"{path}/additionalProperties")
    missing = [name for name in out.get("required", []) if name not in out.get("properties", {})]
    if missing:
        raise _fail(path, f"required propert(ies) {', '.join(missing)} have no schema in properties")
    return out


class BoundedSchemaConverter(SchemaConverter):
    """llama-cpp-python's converter, plus numeric bounds, exact string lengths, and ``{}`` as any value."""

    def __init__(self) -> None:
        super().__init__(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)

    def _add_primitive(self, name: str, rule: BuiltinRule) -> str:
        return super()._add_primitive(name, _CHAR if name == "char" else rule)

    def visit(self, schema: dict[str, Any], name: str) -> str:
        rule_name = name + "-" if name in RESERVED_NAMES else name or "root"
        if set(schema) <= set(_ANY) | _CONTAINERS:
            return self._add_rule(rule_name, self._add_primitive("value", PRIMITIVE_RULES["value"]))
        if schema.get("type") in ("number", "integer") and not set(schema) & {"enum", "const", "$ref", "anyOf"}:
            bounds = number_range(schema, "#")
            if bounds is not None:
                base, i = INVALID_RULE_CHARS_RE.sub("-", f"{rule_name}-bounded"), 0
                rules = range_rules(bounds, base)
                while any(key in self._rules for key in rules):
                    i += 1
                    rules = range_rules(bounds, f"{base}{i}")
                self._rules.update(rules)
                return self._add_rule(rule_name, f"{base}{i or ''} space")
        result: str = super().visit(schema, name)
        return result


def schema_grammar(schema: dict[str, Any]) -> str:
    """GBNF whose sentences are JSON documents valid under ``schema`` (or a ConstraintError, HTTP 400).

    The grammar may admit fewer documents than the schema (no extra properties unless
    additionalProperties allows them, compact numbers, at most 15 fraction digits), never more.
    """
    enforceable = _rewrite(schema, "#")
    converter = BoundedSchemaConverter()
    try:
        resolved = converter.resolve_refs(json.loads(json.dumps(enforceable)), "stdin")
        converter.visit(resolved, "")
    except ConstraintError:
        raise
    except Exception as exc:  # the converter raises plain Exceptions (and asserts) for what it doesn't know
        raise ConstraintError(f"json_schema cannot be enforced: {exc}") from exc
    grammar: str = converter.format_grammar()
    return grammar
