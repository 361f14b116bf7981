"""OpenAI's Responses API input (``input``, ``instructions``) as a chat request, the way llama-server converts
it (``server_chat_convert_responses_to_chatcmpl``), for ``POST /v1/responses/input_tokens``.

Taken: ``instructions`` (a system message first); ``input`` as a string (one user message) or a list of
message items: ``{"role": "user" | "system" | "developer", "content": str | [parts]}`` with ``input_text`` and
``input_image`` parts, and ``{"type": "message", "role": "assistant", "content": str | [parts]}`` with
``output_text`` parts. Anything else (``previous_response_id``, ``input_file``, function-call items) is an
InvalidRequestError naming the field, as llama-server refuses it.
"""

from __future__ import annotations

from typing import Any

from ai.nemotron.errors import InvalidRequestError

_USER_ROLES = ("user", "system", "developer")


def _parts(content: Any, where: str, allowed: dict[str, str]) -> list[dict[str, Any]]:
    """Chat content parts of a Responses item's ``content`` (a string is one text part)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise InvalidRequestError(f"{where}: must be a string or a list of content parts")
    parts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in allowed:
            raise InvalidRequestError(f"{where}.{index}.type: must be one of {', '.join(sorted(allowed))}")
        if allowed[kind] == "text":
            if not isinstance(part.get("text"), str):
                raise InvalidRequestError(f"{where}.{index}.text: a string is required")
            parts.append({"type": "text", "text": part["text"]})
        else:
            if "image_url" not in part:
                raise InvalidRequestError(f"{where}.{index}.image_url: is required")
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"]}})
    return parts


def chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """The chat-completions body a Responses request becomes: ``messages`` built from ``instructions`` and
    ``input``, the other fields passed on. InvalidRequestError names what cannot be converted."""
    if "input" not in body:
        raise InvalidRequestError("input: is required")
    if body.get("previous_response_id"):
        raise InvalidRequestError("previous_response_id: this server keeps no responses")
    messages: list[dict[str, Any]] = []
    if "instructions" in body:
        if not isinstance(body["instructions"], str):
            raise InvalidRequestError("instructions: must be a string")
        messages.append({"role": "system", "content": body["instructions"]})
    given = body["input"]
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        for index, item in enumerate(given):
            where = f"input.{index}"
            if not isinstance(item, dict):
                raise InvalidRequestError(f"{where}: must be an object")
            role = item.get("role")
            if role in _USER_ROLES:
                user_parts = {"input_text": "text", "input_image": "image"}
                messages.append({"role": role, "content": _parts(item.get("content"), f"{where}.content", user_parts)})
            elif role == "assistant" and item.get("type", "message") == "message":
                parts = _parts(item.get("content"), f"{where}.content", {"output_text": "text"})
                messages.append({"role": "assistant", "content": "".join(p["text"] for p in parts)})
            else:
                raise InvalidRequestError(
                    f"{where}: only messages (role user, system, developer or assistant) are supported here"
                )
    else:
        raise InvalidRequestError("input: must be a string or a list of items")
    rest = {k: v for k, v in body.items() if k not in ("input", "instructions", "previous_response_id")}
    return {**rest, "messages": messages}
