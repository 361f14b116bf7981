"""``reasoning_format``: a chat answer's leading ``<think>...</think>`` block, split off as llama-server does.

Nemotron (with "detailed thinking on") and other reasoning models write their thoughts first, in a
``<think>`` block, then the answer. llama-server's chat endpoints parse it out by default
(``--reasoning-format auto``): the thoughts go to ``message.reasoning_content`` (streamed as
``delta.reasoning_content``), the answer stays in ``content``. Formats, as the flag and the request field:

- ``none``: nothing is parsed; the raw text, tags included, is the content.
- ``deepseek`` and ``auto``: the block is reasoning (stripped of surrounding whitespace); the content is
  what follows ``</think>``, without its leading whitespace. A block still open when generation stopped
  (the token limit) is all reasoning.
- ``deepseek-legacy``: as ``deepseek``, but the content keeps the raw text, tags included.

Only a block at the very start of the answer (after whitespace) is reasoning, and only the first; a prompt
that already ends with ``<think>`` (a template that opens the block itself) starts inside it. The
``/completion`` and ``/v1/completions`` endpoints never parse.

:class:`ThinkSplitter` works on streamed pieces and holds back only what could still be a tag or trailing
whitespace of the reasoning, so the streamed deltas add up to exactly the non-streamed fields.
"""

from __future__ import annotations

from typing import Literal, get_args

ReasoningFormat = Literal["none", "deepseek", "deepseek-legacy", "auto"]
REASONING_FORMATS: tuple[str, ...] = get_args(ReasoningFormat)

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

Piece = tuple[Literal["reasoning", "content"], str]


def _partial_tag_tail(text: str, tag: str) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


def prompt_opens_reasoning(prompt: str) -> bool:
    """Whether the rendered prompt already opened the think block (the model starts inside it)."""
    return prompt.rstrip().endswith(OPEN_TAG)


class ThinkSplitter:
    """Splits generated text, piece by piece, into reasoning and content pieces."""

    def __init__(self, fmt: ReasoningFormat, *, starts_open: bool = False) -> None:
        self.fmt = fmt
        self.parse = fmt != "none"
        self.state: Literal["start", "reasoning", "content"] = "reasoning" if starts_open else "start"
        self.buffer = ""
        self.reasoning_started = False  # leading whitespace of the reasoning is dropped
        self.content_started = False  # leading whitespace after </think> is dropped
        self.closed_block = False  # </think> seen: the content's leading whitespace is dropped

    def feed(self, text: str) -> list[Piece]:
        """The pieces that are final once ``text`` has been appended."""
        if not self.parse:
            return [("content", text)] if text else []
        self.buffer += text
        pieces = self._drain(final=False)
        if self.fmt == "deepseek-legacy":  # the content is the raw text; the reasoning is parsed besides
            return [p for p in pieces if p[0] == "reasoning"] + ([("content", text)] if text else [])
        return pieces

    def finish(self) -> list[Piece]:
        """Whatever is held back, at the end of generation."""
        if not self.parse:
            return []
        pieces = self._drain(final=True)
        if self.fmt == "deepseek-legacy":
            return [p for p in pieces if p[0] == "reasoning"]
        return pieces

    def split(self, text: str) -> tuple[str, str]:
        """(reasoning, content) of a whole answer."""
        pieces = self.feed(text) + self.finish()
        reasoning = "".join(t for kind, t in pieces if kind == "reasoning")
        content = "".join(t for kind, t in pieces if kind == "content")
        return reasoning, content

    def _drain(self, final: bool) -> list[Piece]:
        out: list[Piece] = []
        while True:
            if self.state == "start":
                lead = self.buffer.lstrip()
                if lead.startswith(OPEN_TAG):
                    self.state = "reasoning"
                    self.buffer = lead[len(OPEN_TAG) :]
                    continue
                if not final and OPEN_TAG.startswith(lead):
                    return out  # maybe the start of the tag: wait for more
                self.state = "content"
                continue
            if self.state == "reasoning":
                if not self.reasoning_started:
                    self.buffer = self.buffer.lstrip()
                    if not self.buffer:
                        return out
                end = self.buffer.find(CLOSE_TAG)
                if end != -1:
                    self._reasoning(out, self.buffer[:end].rstrip())
                    self.buffer = self.buffer[end + len(CLOSE_TAG) :]
                    self.state = "content"
                    self.closed_block = True
                    continue
                if final:
                    self._reasoning(out, self.buffer.rstrip())
                    self.buffer = ""
                    return out
                held = _partial_tag_tail(self.buffer, CLOSE_TAG)
                safe = self.buffer[: len(self.buffer) - held]
                ready = safe.rstrip()  # trailing whitespace waits: it may end the reasoning
                self._reasoning(out, ready)
                self.buffer = self.buffer[len(ready) :]
                return out
            # content
            if self.closed_block and not self.content_started:
                self.buffer = self.buffer.lstrip()
            if self.buffer:
                self.content_started = True
                out.append(("content", self.buffer))
                self.buffer = ""
            return out

    def _reasoning(self, out: list[Piece], text: str) -> None:
        if text:
            self.reasoning_started = True
            out.append(("reasoning", text))
