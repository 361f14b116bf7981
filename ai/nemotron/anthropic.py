"""Anthropic's Messages API (``POST /v1/messages``, ``POST /v1/messages/count_tokens``) as llama-server serves it:
a translation onto the OpenAI chat request, answered in Anthropic's shapes.

The request is checked whole by :class:`MessagesRequest` (a 400 names the bad field), then
:meth:`MessagesRequest.to_openai` writes the OpenAI chat body the chat route serves (one serving layer: the
same template, tools, reasoning split, slots). What the translation does, as llama-server's
``convert_anthropic_to_oai`` (tools/server/server-chat.cpp) does it:

- ``system`` (a string, or text blocks: joined with a newline) becomes the first message, a ``system`` one;
  Claude Code's ``x-anthropic-billing-header: ... cch=XXXXX;`` stamp, which changes on every request, is
  written as ``cch=fffff;`` so that the prompt cache gets past it;
- a message's content blocks: ``text`` blocks stay text parts; ``image`` blocks (base64 or URL) become
  ``image_url`` parts; ``thinking`` blocks become the message's ``reasoning_content`` (a template that writes
  reasoning, such as Qwen3's, renders it); ``tool_use`` blocks become ``tool_calls``; each ``tool_result``
  becomes a ``tool`` message after the message (its content a string, its text blocks joined, or with image
  blocks a list of parts); ``is_error`` is accepted and, as in llama-server, not passed on;
- ``tools`` (``name``, ``description``, ``input_schema``) become function tools; ``tool_choice`` ``auto`` is
  ``auto``, ``any`` is ``required``, ``tool`` is that tool by name (llama-server: ``required``), ``none`` is
  ``none``; ``stop_sequences`` is ``stop``; ``max_tokens`` defaults to 4096; ``temperature``, ``top_p``,
  ``top_k``, ``stream``, ``chat_template_kwargs`` pass through; ``thinking`` and ``metadata`` are accepted.

Images: the model has no image input, so a request with an image (in a message or a tool result) is
llama-server's 500 ``image input is not supported`` (the OpenAI chat route drops images instead, for Frigate).

The answer (:func:`message_body`) is ``{"id", "type": "message", "role": "assistant", "content": [blocks],
"model", "stop_reason", "stop_sequence", "usage"}`` with a ``thinking`` block (empty ``signature``) first when
the answer reasoned, then a ``text`` block, then one ``tool_use`` block per call; ``stop_reason`` is
``max_tokens`` at the token limit, else ``tool_use`` with calls, else ``end_turn``. A stream
(:class:`MessageStream`) is Anthropic's named events: ``message_start``, then per content block
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``thinking_delta`` and its closing
``signature_delta``, ``input_json_delta``) / ``content_block_stop`` with indices counting from 0 in order,
then ``message_delta`` (stop reason, output tokens) and ``message_stop``; no ``[DONE]``, no timings.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ai.nemotron.schemas import ChatCompletionRequest, ChatMessage, _Body
from ai.nemotron.tools import TOOL_NAME

DEFAULT_MAX_TOKENS = 4096  # llama-server's, for a request without max_tokens (Anthropic requires one)
IMAGES_NOT_SUPPORTED = "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"
_BILLING_HEADER = "x-anthropic-billing-header:"
_CCH = re.compile(r"cch=[^;]{5};")


class _Block(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)  # cache_control, citations: accepted, unused


class TextBlock(_Block):
    type: Literal["text"]
    text: str


class ImageSource(_Block):
    type: Literal["base64", "url"]
    media_type: str = "image/jpeg"
    data: str | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _has_image(self) -> ImageSource:
        if self.type == "base64" and self.data is None:
            raise ValueError("a base64 image source needs 'data'")
        if self.type == "url" and self.url is None:
            raise ValueError("a url image source needs 'url'")
        return self

    def url_of(self) -> str:
        return f"data:{self.media_type};base64,{self.data}" if self.type == "base64" else str(self.url)


class ImageBlock(_Block):
    type: Literal["image"]
    source: ImageSource

    def part(self) -> dict[str, Any]:
        return {"type": "image_url", "image_url": {"url": self.source.url_of()}}


class ToolUseBlock(_Block):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


ResultPart = Annotated[TextBlock | ImageBlock, Field(discriminator="type")]


class ToolResultBlock(_Block):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[ResultPart] | None = None
    is_error: bool = False  # accepted; llama-server does not pass it on either

    def tool_content(self) -> str | list[dict[str, Any]]:
        """A string (text only: the text blocks joined), or parts when there is an image."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        if not any(isinstance(part, ImageBlock) for part in self.content):
            return "".join(part.text for part in self.content if isinstance(part, TextBlock))
        return [
            {"type": "text", "text": part.text} if isinstance(part, TextBlock) else part.part() for part in self.content
        ]


class ThinkingBlock(_Block):
    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(_Block):
    """Reasoning a client got back encrypted from Anthropic: nothing in it can be read, so it is left out."""

    type: Literal["redacted_thinking"]


ContentBlock = Annotated[
    TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock,
    Field(discriminator="type"),
]


class Message(_Block):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock] | None = None


class Tool(_Block):
    name: str = Field(pattern=TOOL_NAME.pattern, description="1-64 letters, digits, '_', '.' or '-'")
    description: str | None = None
    input_schema: dict[str, Any] | None = None


class ToolChoice(_Block):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None

    @model_validator(mode="after")
    def _named(self) -> ToolChoice:
        if self.type == "tool" and not self.name:
            raise ValueError("tool_choice of type 'tool' needs the tool's 'name'")
        return self

    def openai(self) -> str | dict[str, Any]:
        if self.type == "tool":
            return {"type": "function", "function": {"name": self.name}}
        return {"auto": "auto", "any": "required", "none": "none"}[self.type]


class Thinking(_Block):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: int | None = Field(default=None, ge=0)


class MessagesRequest(_Body):
    """The body of ``POST /v1/messages`` and ``/v1/messages/count_tokens`` (Anthropic's Messages API)."""

    model: str | None = None
    messages: list[Message]
    system: str | list[TextBlock] | None = None
    max_tokens: int | None = Field(default=None, ge=0, le=2**31 - 1, description="default 4096")
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0, le=2**31 - 1)
    stream: bool = False
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = Field(default=None, description="accepted; the budget is not enforced")
    metadata: dict[str, Any] | None = None
    chat_template_kwargs: dict[str, Any] | None = None

    def system_text(self) -> str | None:
        if self.system is None:
            return None
        text = self.system if isinstance(self.system, str) else "\n".join(block.text for block in self.system)
        return stable_billing_header(text)

    def openai_messages(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        system = self.system_text()
        if system is not None:
            out.append({"role": "system", "content": system})
        names: dict[str, str] = {}  # tool_use id -> tool name, for the results that answer them
        for message in self.messages:
            if message.content is None:
                if message.role != "assistant":  # llama-server: an assistant turn without content is skipped
                    out.append({"role": message.role, "content": None})
                continue
            if isinstance(message.content, str):
                out.append({"role": message.role, "content": message.content})
                continue
            parts: list[dict[str, Any]] = []
            calls: list[dict[str, Any]] = []
            results: list[dict[str, Any]] = []
            reasoning = ""
            for block in message.content:
                if isinstance(block, TextBlock):
                    parts.append({"type": "text", "text": block.text})
                elif isinstance(block, ImageBlock):
                    parts.append(block.part())
                elif isinstance(block, ThinkingBlock):
                    reasoning += block.thinking
                elif isinstance(block, ToolUseBlock):
                    names[block.id] = block.name
                    arguments = json.dumps(block.input, ensure_ascii=False)
                    calls.append(
                        {"id": block.id, "type": "function", "function": {"name": block.name, "arguments": arguments}}
                    )
                elif isinstance(block, ToolResultBlock):
                    result: dict[str, Any] = {
                        "role": "tool",
                        "tool_call_id": block.tool_use_id,
                        "content": block.tool_content(),
                    }
                    if block.tool_use_id in names:
                        result["name"] = names[block.tool_use_id]
                    results.append(result)
            if parts or calls or reasoning:
                turn: dict[str, Any] = {"role": message.role, "content": parts or ""}
                if calls:
                    turn["tool_calls"] = calls
                if reasoning:
                    turn["reasoning_content"] = reasoning
                out.append(turn)
            out.extend(results)
        return out

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI chat body this request is served as."""
        body: dict[str, Any] = {
            "messages": self.openai_messages(),
            "max_tokens": DEFAULT_MAX_TOKENS if self.max_tokens is None else self.max_tokens,
            "stream": self.stream,
        }
        if self.tools is not None:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description or "",
                        "parameters": tool.input_schema if tool.input_schema is not None else {},
                    },
                }
                for tool in self.tools
            ]
        if self.tool_choice is not None:
            body["tool_choice"] = self.tool_choice.openai()
        if self.stop_sequences is not None:
            body["stop"] = self.stop_sequences
        for key in ("temperature", "top_p", "top_k", "chat_template_kwargs"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        return body


class ChatFromMessages(ChatCompletionRequest):
    """The translated request: an OpenAI chat request whose messages may be empty (llama-server answers
    ``"messages": []`` too)."""

    messages: list[ChatMessage] = Field(default_factory=list)


def stable_billing_header(text: str) -> str:
    """Claude Code's billing stamp ``cch=XXXXX;`` (new on every request) as ``cch=fffff;``, so that the prompt
    cache reaches past it (llama.cpp PR 21793); any other text is returned as it is."""
    if not text.startswith(_BILLING_HEADER):
        return text
    return _CCH.sub("cch=fffff;", text, count=1)


def message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


def stop_reason(stop_type: str, has_calls: bool) -> str:
    """llama-server's: ``end_turn`` (or ``tool_use``) after an end token or a stop sequence, else
    ``max_tokens``."""
    if stop_type in ("eos", "word"):
        return "tool_use" if has_calls else "end_turn"
    return "max_tokens"


def usage(prompt_tokens: int, cached: int, output_tokens: int) -> dict[str, int]:
    return {
        "cache_read_input_tokens": cached,
        "input_tokens": prompt_tokens - cached,
        "output_tokens": output_tokens,
    }


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def content_blocks(reasoning: str, text: str | None, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    if text:
        blocks.append({"type": "text", "text": text})
    for call in calls:
        function = call["function"]
        blocks.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": function["name"],
                "input": _tool_input(function["arguments"]),
            }
        )
    return blocks


def message_body(
    ident: str,
    model: str,
    blocks: list[dict[str, Any]],
    reason: str,
    stop_sequence: str,
    counts: dict[str, int],
) -> dict[str, Any]:
    return {
        "id": ident,
        "type": "message",
        "role": "assistant",
        "content": blocks,
        "model": model,
        "stop_reason": reason,
        "stop_sequence": stop_sequence or None,
        "usage": counts,
    }


def sse(event: dict[str, Any] | str) -> bytes:
    """One server-sent event, named by its ``type`` as Anthropic (and llama-server) send them."""
    if isinstance(event, str):
        return f"data: {event}\n\n".encode()
    data = json.dumps(event, ensure_ascii=False)
    return f"event: {event.get('type', 'error')}\ndata: {data}\n\n".encode()


def error_event(body: dict[str, Any]) -> dict[str, Any]:
    """An error after the stream began: llama-server's ``event: error`` with the error object as data."""
    error = body.get("error")
    return {"type": "error", **error} if isinstance(error, dict) else {"type": "error"}


class MessageStream:
    """The events of one streamed answer. Content blocks are opened in order (thinking, text, tool calls),
    each with the next index, and each is closed before the next opens."""

    def __init__(self, ident: str, model: str) -> None:
        self.ident = ident
        self.model = model
        self.started = False
        self.index = -1
        self.open_kind: str | None = None

    def start(self, prompt_tokens: int, cached: int) -> list[dict[str, Any]]:
        """``message_start``, once, before anything else."""
        if self.started:
            return []
        self.started = True
        message = message_body(self.ident, self.model, [], "", "", usage(prompt_tokens, cached, 0))
        message["stop_reason"] = None
        return [{"type": "message_start", "message": message}]

    def _close(self) -> list[dict[str, Any]]:
        if self.open_kind is None:
            return []
        events: list[dict[str, Any]] = []
        if self.open_kind == "thinking":  # Anthropic's clients expect a signature before a thinking block ends
            events.append(self._delta({"type": "signature_delta", "signature": ""}))
        events.append({"type": "content_block_stop", "index": self.index})
        self.open_kind = None
        return events

    def _open(self, kind: str, block: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._close()
        self.index += 1
        self.open_kind = kind
        events.append({"type": "content_block_start", "index": self.index, "content_block": block})
        return events

    def _delta(self, delta: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": self.index, "delta": delta}

    def pieces(self, pieces: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Text as it comes: ``("reasoning", text)`` into a thinking block, ``("content", text)`` into a text
        block (each opened on its first piece)."""
        events: list[dict[str, Any]] = []
        for kind, text in pieces:
            if not text:
                continue
            if kind == "reasoning":
                if self.open_kind != "thinking":
                    events += self._open("thinking", {"type": "thinking", "thinking": ""})
                events.append(self._delta({"type": "thinking_delta", "thinking": text}))
            else:
                if self.open_kind != "text":
                    events += self._open("text", {"type": "text", "text": ""})
                events.append(self._delta({"type": "text_delta", "text": text}))
        return events

    def tool_calls(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each call as a ``tool_use`` block with its whole input in one ``input_json_delta``."""
        events: list[dict[str, Any]] = []
        for call in calls:
            function = call["function"]
            block = {"type": "tool_use", "id": call["id"], "name": function["name"], "input": {}}
            events += self._open("tool_use", block)
            events.append(self._delta({"type": "input_json_delta", "partial_json": function["arguments"]}))
        return events

    def finish(self, reason: str, stop_sequence: str, output_tokens: int) -> list[dict[str, Any]]:
        """Closes the open block, then ``message_delta`` and ``message_stop``."""
        return [
            *self._close(),
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": stop_sequence or None},
                "usage": {"output_tokens": output_tokens},
            },
            {"type": "message_stop"},
        ]
