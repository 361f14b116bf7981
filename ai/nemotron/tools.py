"""Tool calling (OpenAI ``tools`` / ``tool_choice`` / ``parallel_tool_calls``) for any model, as llama-server's
"generic" tool-call format does for a model without a native tool template.

The model is told the tools (a system note listing each tool's name, description and JSON-schema
parameters) and its answer is constrained by a JSON schema, compiled to a grammar like any
``response_format``, so the call it writes is always well formed and its ``arguments`` follow the tool's own
schema:

- one call: ``{"tool_call": {"name": <one of the tools>, "arguments": {...}}}``;
- ``parallel_tool_calls: true``: ``{"tool_calls": [{"name": ..., "arguments": {...}}, ...]}`` (one or more);
- ``tool_choice: "auto"`` (the default): either of those or ``{"response": <text>}``, a plain answer (its
  schema is the request's ``response_format`` schema when one is given);
- ``"required"``: a call, never a plain answer; ``{"type": "function", "function": {"name": X}}``: a call of
  X; ``"none"``: no tools, free text.

The answer is parsed back into ``message.tool_calls`` (``finish_reason: "tool_calls"``) or ``content``.
Earlier turns are written back in the same JSON: an assistant message's ``tool_calls`` become its content,
and a ``tool`` message becomes ``{"tool_response": {"tool": name, "content": ...}}`` (as a ``user`` turn when
the chat template has no tool role). Source of the shapes: llama.cpp ``common/chat.cpp``
(``common_chat_params_init_generic``) and minja's tool polyfills; OpenAI's Chat Completions reference for the
request and response fields. ``parallel_tool_calls`` defaults to false, as in llama-server.
Malformed tools or choices are a 400 naming the field.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from ai.nemotron.errors import InvalidRequestError

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # OpenAI's rule for function names
TOOL_CHOICES = ("none", "auto", "required")
RESPOND_IN_JSON = (
    "Respond in JSON format, either with `tool_call` (a request to call tools) or with `response` reply to the "
    "user's request"
)
_REF_ROOTS = ("#/$defs/", "#/definitions/")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolPlan:
    """How one request uses its tools: the schema that constrains the answer, and the note for the model."""

    tools: tuple[Tool, ...]
    choice: str  # "auto", "required", or the name of the one tool to call
    parallel: bool
    response_schema: dict[str, Any] | None = None  # the plain answer's schema under "auto"
    callable_tools: tuple[Tool, ...] = field(default=())

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the model's whole answer (module docstring)."""
        defs: dict[str, Any] = {}
        calls = [
            {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "const": tool.name},
                    "arguments": _hoist_defs(tool.parameters, f"t{index}_", defs),
                },
                "required": ["name", "arguments"],
            }
            for index, tool in enumerate(self.callable_tools)
        ]
        call: dict[str, Any] = calls[0] if len(calls) == 1 else {"anyOf": calls}
        if self.parallel:
            wrapped = {
                "type": "object",
                "properties": {"tool_calls": {"type": "array", "items": call, "minItems": 1}},
                "required": ["tool_calls"],
            }
        else:
            wrapped = {"type": "object", "properties": {"tool_call": call}, "required": ["tool_call"]}
        schema: dict[str, Any] = wrapped
        if self.choice == "auto":
            answer = _hoist_defs(self.response_schema, "r_", defs) if self.response_schema else {"type": "string"}
            reply = {"type": "object", "properties": {"response": answer}, "required": ["response"]}
            schema = {"anyOf": [wrapped, reply]}
        if defs:
            schema = {**schema, "$defs": defs}
        return schema

    def system_note(self) -> str:
        """What the model is told about the tools, added to the system message: one signature line per tool
        (``- name(arg: type (description), opt?: "a"|"b"): description``). Signatures, not the JSON schemas:
        measured on the embedded 135M model (2026-11-30, one pydantic model as the tool, 5 seeds at temperature
        0.1 and 0.8), the schema JSON made it fill arguments with loops of one word (6/10 calls parsed),
        signatures 10/10; the grammar enforces the whole schema either way."""
        listed = "\n".join(_signature(t) for t in self.callable_tools)
        if self.choice == "auto":
            how = RESPOND_IN_JSON
        elif self.parallel:
            how = "Respond in JSON format with `tool_calls`: the calls of tools that serve the user's request"
        else:
            how = "Respond in JSON format with `tool_call`: the call of the tool that serves the user's request"
        return f"You can call these tools:\n{listed}\n\n{how}."

    def parse(self, text: str) -> tuple[str | None, list[dict[str, Any]]]:
        """``(content, tool_calls)`` of the model's answer. An answer that is not the JSON the grammar asks for
        (cut off by the token limit) is returned whole as content, with no calls."""
        try:
            answer = json.loads(text)
        except ValueError:
            return text, []
        if not isinstance(answer, dict):
            return text, []
        if "response" in answer:
            reply = answer["response"]
            return (reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)), []
        raw = answer.get("tool_calls") if "tool_calls" in answer else [answer.get("tool_call")]
        calls = []
        for item in raw if isinstance(raw, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                return text, []
            calls.append(
                {
                    "id": f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {
                        "name": item["name"],
                        "arguments": json.dumps(item.get("arguments", {}), ensure_ascii=False),
                    },
                }
            )
        return (None, calls) if calls else (text, [])


def _type_of(schema: Any) -> str:
    """A short type for a signature: ``string``, ``"a"|"b"`` for an enum, ``Zone`` for a reference, ``array of
    integer``, ``string|null``..."""
    if not isinstance(schema, dict):
        return "any"
    if "enum" in schema:
        return "|".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return "|".join(_type_of(option) for option in schema[key])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if kind == "array":
        return f"array of {_type_of(schema.get('items'))}"
    return str(kind)


def _signature(tool: Tool) -> str:
    properties = tool.parameters.get("properties")
    required = set(tool.parameters.get("required") or [])
    arguments = []
    for name, schema in (properties if isinstance(properties, dict) else {}).items():
        described = schema.get("description") if isinstance(schema, dict) else None
        note = f" ({described})" if isinstance(described, str) and described else ""
        arguments.append(f"{name}{'' if name in required else '?'}: {_type_of(schema)}{note}")
    return f"- {tool.name}({', '.join(arguments)}){': ' + tool.description if tool.description else ''}"


def _hoist_defs(schema: dict[str, Any], prefix: str, defs: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` that can sit inside another schema: its ``$defs``/``definitions`` move to ``defs``
    (the root's) under ``prefix``, and its ``#/$defs/X`` references follow them."""
    schema = copy.deepcopy(schema)
    local: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        found = schema.pop(key, None)
        if isinstance(found, dict):
            local.update(found)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: rewrite(v) for k, v in node.items()}
            ref = out.get("$ref")
            if isinstance(ref, str):
                for root in _REF_ROOTS:
                    if ref.startswith(root):
                        out["$ref"] = f"#/$defs/{prefix}{ref[len(root) :]}"
                if ref == "#":
                    raise InvalidRequestError("tools: a recursive reference to a tool's whole parameters ('#')")
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    for name, sub in local.items():
        defs[f"{prefix}{name}"] = rewrite(sub)
    return rewrite(schema)


def _tool(item: Any, where: str) -> Tool:
    if not isinstance(item, dict) or item.get("type", "function") != "function":
        raise InvalidRequestError(f"{where}: must be {{'type': 'function', 'function': {{...}}}}")
    function = item.get("function")
    if not isinstance(function, dict):
        raise InvalidRequestError(f"{where}.function: must be an object with a 'name'")
    name = function.get("name")
    if not isinstance(name, str) or not TOOL_NAME.match(name):
        raise InvalidRequestError(f"{where}.function.name: must be 1-64 letters, digits, '_', '.' or '-'")
    description = function.get("description") or ""
    if not isinstance(description, str):
        raise InvalidRequestError(f"{where}.function.description: must be a string")
    parameters = function.get("parameters")
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    if not isinstance(parameters, dict):
        raise InvalidRequestError(f"{where}.function.parameters: must be a JSON schema object")
    return Tool(name=name, description=description, parameters=parameters)


def plan_tools(body: dict[str, Any], response_schema: dict[str, Any] | None) -> ToolPlan | None:
    """The request's tool plan, or None when it calls no tools (no ``tools``, or ``tool_choice: "none"``).
    ``response_schema``: the request's ``response_format`` schema, the plain answer's shape under "auto".
    Raises InvalidRequestError naming the field for malformed tools or choices."""
    raw = body.get("tools")
    choice = body.get("tool_choice")
    if raw is None or raw == []:
        if choice not in (None, "none", "auto"):
            raise InvalidRequestError("tool_choice: a tool was required but the request has no 'tools'")
        return None
    if not isinstance(raw, list):
        raise InvalidRequestError("tools: must be a list of {'type': 'function', 'function': {...}}")
    tools = tuple(_tool(item, f"tools[{i}]") for i, item in enumerate(raw))
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise InvalidRequestError("tools: two tools have the same name")
    parallel = body.get("parallel_tool_calls", False)
    if not isinstance(parallel, bool):
        raise InvalidRequestError("parallel_tool_calls: must be true or false")
    if choice is None:
        choice = "auto"
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if choice.get("type") != "function" or not isinstance(name, str):
            raise InvalidRequestError(
                "tool_choice: must be 'none', 'auto', 'required' or {'type': 'function', 'function': {'name': ...}}"
            )
        if name not in names:
            raise InvalidRequestError(f"tool_choice.function.name: no tool named {name!r} in 'tools'")
        callable_tools = tuple(t for t in tools if t.name == name)
        return ToolPlan(tools, name, parallel, None, callable_tools)
    if choice not in TOOL_CHOICES:
        raise InvalidRequestError(f"tool_choice: must be one of {', '.join(TOOL_CHOICES)} or a named function")
    if choice == "none":
        return None
    return ToolPlan(tools, choice, parallel, response_schema if choice == "auto" else None, tools)


def history_messages(messages: list[dict[str, Any]], tool_role: bool) -> list[dict[str, str]]:
    """Chat messages with earlier tool calls and results written as the JSON the model answers in (module
    docstring). ``tool_role``: the chat template has a ``tool`` role; else results become ``user`` turns."""
    out = []
    for message in messages:
        role, content = message["role"], message.get("content") or ""
        calls = message.get("tool_calls")
        if role == "assistant" and calls:
            written = [
                {"name": call["function"]["name"], "arguments": _arguments(call["function"].get("arguments"))}
                for call in calls
                if isinstance(call, dict) and isinstance(call.get("function"), dict)
            ]
            shape = {"tool_calls": written} if len(written) > 1 else {"tool_call": written[0]} if written else {}
            content = json.dumps(shape, ensure_ascii=False) if not content else f"{content}\n{json.dumps(shape)}"
        elif role == "tool":
            wrapped = {"tool_response": {"tool": message.get("name") or "", "content": content}}
            if message.get("tool_call_id"):
                wrapped["tool_response"]["id"] = message["tool_call_id"]
            content = json.dumps(wrapped, ensure_ascii=False)
            role = "tool" if tool_role else "user"
        out.append({"role": role, "content": content})
    return out


def _arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value if value is not None else {}


def with_system_note(messages: list[dict[str, str]], note: str) -> list[dict[str, str]]:
    """``messages`` with ``note`` at the end of the first system message (a new one first when none)."""
    if messages and messages[0]["role"] in ("system", "developer"):
        first = messages[0]
        joined = f"{first['content']}\n\n{note}" if first["content"] else note
        return [{**first, "content": joined}, *messages[1:]]
    return [{"role": "system", "content": note}, *messages]
