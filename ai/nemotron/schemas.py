"""Request bodies of the llama.cpp server API and its OpenAI-compatible endpoints.

Unknown fields are accepted and ignored, as llama-server does. Structured-output fields are read from
the raw body by ai.nemotron.constraints (they come in many shapes), not here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from ai.nemotron.engines.base import SamplingParams


class _Request(BaseModel):
    model_config = ConfigDict(extra="allow")


def _stops(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


class _Sampling(_Request):
    temperature: float = Field(default=0.8, ge=0.0)
    top_k: int = Field(default=40, ge=0)
    top_p: float = Field(default=0.95, ge=0.0, le=1.0)
    min_p: float = Field(default=0.05, ge=0.0, le=1.0)
    repeat_penalty: float = Field(default=1.0, gt=0.0)
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)
    stream: bool = False
    cache_prompt: bool = True

    _stop = field_validator("stop", mode="before")(_stops)

    def sampling(self) -> SamplingParams:
        seed = None if self.seed is None or self.seed < 0 else self.seed
        return SamplingParams(
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            min_p=self.min_p,
            repeat_penalty=self.repeat_penalty,
            seed=seed,
        )


class CompletionRequest(_Sampling):
    """POST /completion (llama.cpp's native endpoint)."""

    prompt: str | list[int]
    n_predict: int = Field(default=-1, ge=-1, validation_alias=AliasChoices("n_predict", "max_tokens"))


class OpenAICompletionRequest(_Sampling):
    """POST /v1/completions."""

    prompt: str | list[int]  # OpenAI's list of prompts is accepted with one string in it
    max_tokens: int | None = Field(default=None, ge=0)
    n: int = Field(default=1, ge=1, le=1)
    stream_options: dict[str, Any] | None = None

    @field_validator("prompt", mode="before")
    @classmethod
    def _one_prompt(cls, value: Any) -> Any:
        if isinstance(value, list) and value and isinstance(value[0], str):
            if len(value) != 1:
                raise ValueError("only one prompt per request is supported")
            return value[0]
        return value


class ChatMessage(_Request):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        parts = []
        for part in self.content:
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ValueError(f"unsupported content part type {part.get('type')!r}: only 'text'")
            parts.append(part["text"])
        return "".join(parts)


class ChatCompletionRequest(_Sampling):
    """POST /v1/chat/completions."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(
        default=None, ge=0, validation_alias=AliasChoices("max_completion_tokens", "max_tokens")
    )
    n: int = Field(default=1, ge=1, le=1)
    stream_options: dict[str, Any] | None = None


class TokenizeRequest(_Request):
    content: str
    add_special: bool = False
    with_pieces: bool = False


class DetokenizeRequest(_Request):
    tokens: list[int]
