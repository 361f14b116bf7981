"""Structured-output constraints, read from every request form the server accepts.

The forms: llama.cpp's ``json_schema`` and ``grammar`` (GBNF); OpenAI's ``response_format``
(``json_object``, ``json_schema``) and llama.cpp's older ``{"type": "json_object", "schema": ...}``;
NVIDIA NIM's ``nvext: {guided_json | guided_choice | guided_regex | guided_grammar}``; vLLM's top-level
``guided_*`` fields and its newer ``structured_outputs: {json | choice | regex | grammar}``.
All of them become one :class:`Constraint`; each engine compiles it into something it enforces while
decoding. Anything malformed, or two constraints at once, is an InvalidRequestError (HTTP 400).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import jsonschema

from ai.nemotron.errors import ConstraintError
from ai.nemotron.json_values import find_unsound_value

ConstraintKind = Literal["json_schema", "json_object", "grammar", "regex", "choice"]


@dataclass(frozen=True)
class Constraint:
    """One decoding constraint. ``value``: a schema dict, GBNF text, a regex, or a list of choices.
    ``source``: the request field it came from ("nvext.guided_regex"), for the 400 that names it."""

    kind: ConstraintKind
    value: Any = None
    source: str = field(default="", compare=False)


def _schema(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise ConstraintError(f"{where}: not valid JSON: {exc}") from exc
        bad = find_unsound_value(value)  # the request body was checked, but not this JSON inside a string
        if bad is not None:
            raise ConstraintError(f"{where}: at {bad[0]}: {bad[1]}")
    if isinstance(value, bool):
        value = {} if value else {"not": {}}
    if not isinstance(value, dict):
        raise ConstraintError(f"{where}: a JSON schema must be an object")
    try:
        jsonschema.validators.validator_for(value).check_schema(value)
    except jsonschema.SchemaError as exc:
        raise ConstraintError(f"{where}: invalid JSON schema: {exc.message}") from exc
    except RecursionError as exc:  # a "pattern" regex nested too deeply for Python's regex parser
        raise ConstraintError(f"{where}: the schema nests too deeply") from exc
    return value


def _choices(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(c, str) and c for c in value):
        raise ConstraintError(f"{where}: must be a non-empty list of non-empty strings")
    return list(dict.fromkeys(value))


def _regex(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConstraintError(f"{where}: must be a non-empty string")
    try:
        re.compile(value)
    except re.error as exc:
        raise ConstraintError(f"{where}: invalid regular expression: {exc}") from exc
    except RecursionError as exc:
        raise ConstraintError(f"{where}: groups nest too deeply") from exc
    return value


def _grammar(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConstraintError(f"{where}: must be a non-empty GBNF grammar string")
    return value


def _from_response_format(rf: Any) -> Constraint | None:
    if rf is None:
        return None
    if not isinstance(rf, dict) or not isinstance(rf.get("type"), str):
        raise ConstraintError("response_format: must be an object with a 'type'")
    kind = rf["type"]
    if kind == "text":
        return None
    if kind == "json_object":
        if rf.get("schema") is not None:  # llama.cpp's older shape
            return Constraint("json_schema", _schema(rf["schema"], "response_format.schema"))
        return Constraint("json_object")
    if kind == "json_schema":
        inner = rf.get("json_schema")
        if isinstance(inner, dict) and "schema" in inner:  # OpenAI: {"name", "schema", "strict"}
            return Constraint("json_schema", _schema(inner["schema"], "response_format.json_schema.schema"))
        if rf.get("schema") is not None:  # llama.cpp accepts {"type": "json_schema", "schema": ...}
            return Constraint("json_schema", _schema(rf["schema"], "response_format.schema"))
        raise ConstraintError("response_format.json_schema: missing 'schema'")
    raise ConstraintError(f"response_format.type: unsupported value {kind!r} (text, json_object, json_schema)")


_GUIDED_READERS = {
    "json": ("json_schema", _schema),
    "choice": ("choice", _choices),
    "regex": ("regex", _regex),
    "grammar": ("grammar", _grammar),
}


def _guided(fields: dict[str, Any], prefix: str, where: str) -> list[tuple[str, Constraint]]:
    found = []
    for key, (kind, read) in _GUIDED_READERS.items():
        name = f"{prefix}{key}"
        if fields.get(name) is not None:
            found.append((f"{where}{name}", Constraint(kind, read(fields[name], f"{where}{name}"))))  # type: ignore[arg-type]
    return found


def constraint_from_request(body: dict[str, Any]) -> Constraint | None:
    """The one constraint a request asks for, whatever form it uses; None for free text."""
    found: list[tuple[str, Constraint]] = []
    if body.get("json_schema") is not None:
        found.append(("json_schema", Constraint("json_schema", _schema(body["json_schema"], "json_schema"))))
    if body.get("grammar"):
        found.append(("grammar", Constraint("grammar", _grammar(body["grammar"], "grammar"))))
    rf = _from_response_format(body.get("response_format"))
    if rf is not None:
        found.append(("response_format", rf))
    nvext = body.get("nvext")
    if nvext is not None:
        if not isinstance(nvext, dict):
            raise ConstraintError("nvext: must be an object")
        found += _guided(nvext, "guided_", "nvext.")
    found += _guided(body, "guided_", "")
    so = body.get("structured_outputs")
    if so is not None:
        if not isinstance(so, dict):
            raise ConstraintError("structured_outputs: must be an object")
        found += _guided(so, "", "structured_outputs.")
    if len(found) > 1:
        names = ", ".join(name for name, _ in found)
        raise ConstraintError(f"conflicting structured-output constraints: {names}; give only one")
    return replace(found[0][1], source=found[0][0]) if found else None
