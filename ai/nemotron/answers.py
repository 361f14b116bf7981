"""The answers' shapes (response bodies) as pydantic models: what ``/openapi.json`` says each route returns, and
what the tests check real answers against (``tests/ai/test_answers.py``).

They describe llama-server's and OpenAI's bodies field by field (names and types as those servers send them);
``extra="allow"``: a route may add fields a model does not list (``__verbose``, a probability block), never
leave out a required one. The routes still build their bodies as dicts (the streaming paths write chunks as
they go); a model here that disagrees with a route fails its test.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class Timings(_Answer):
    """llama-server's ``timings``: prompt and generation counts, milliseconds and rates."""

    cache_n: int = Field(description="prompt tokens reused from the slot's cache")
    prompt_n: int
    prompt_ms: float
    prompt_per_token_ms: float
    prompt_per_second: float
    predicted_n: int
    predicted_ms: float
    predicted_per_token_ms: float = Field(description="over the decode steps (predicted_n - 1), as llama-server")
    predicted_per_second: float


class TokenLogprob(_Answer):
    id: int
    token: str
    logprob: float
    bytes: list[int]


class TokenProbability(TokenLogprob):
    """One token's log-probability (or probability, with post_sampling_probs) and its likeliest alternatives."""

    top_logprobs: list[TokenLogprob] = Field(default_factory=list)


class CompletionAnswer(_Answer):
    """``POST /completion`` (llama-server's native completion), not streamed."""

    index: int
    content: str
    tokens: list[int] = Field(description="the generated token ids, with return_tokens")
    id_slot: int
    stop: bool
    model: str
    tokens_predicted: int
    tokens_evaluated: int
    generation_settings: dict[str, Any]
    prompt: str
    has_new_line: bool
    truncated: bool
    stop_type: Literal["none", "eos", "limit", "word"]
    stopping_word: str
    tokens_cached: int
    timings: Timings
    completion_probabilities: list[TokenProbability] | None = Field(default=None, description="with n_probs")


class Usage(_Answer):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class FunctionCall(_Answer):
    name: str
    arguments: str = Field(description="the call's arguments, a JSON object as text")


class ToolCall(_Answer):
    id: str
    type: Literal["function"]
    function: FunctionCall


class AssistantMessage(_Answer):
    role: Literal["assistant"]
    content: str | None
    reasoning_content: str | None = Field(default=None, description="the <think> block, with reasoning_format")
    tool_calls: list[ToolCall] | None = None


class ChatLogprobs(_Answer):
    content: list[TokenProbability]


class ChatChoice(_Answer):
    index: int
    message: AssistantMessage
    logprobs: ChatLogprobs | None
    finish_reason: Literal["stop", "length", "tool_calls"]


class ChatCompletionAnswer(_Answer):
    """``POST /v1/chat/completions``, not streamed (OpenAI's shape, llama-server's ``timings`` added)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    system_fingerprint: str
    choices: list[ChatChoice]
    usage: Usage
    timings: Timings


class TextChoice(_Answer):
    index: int
    text: str
    logprobs: dict[str, Any] | None
    finish_reason: Literal["stop", "length"]


class TextCompletionAnswer(_Answer):
    """``POST /v1/completions``, not streamed (OpenAI's legacy completions)."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    system_fingerprint: str
    choices: list[TextChoice]
    usage: Usage
    timings: Timings


class TokenPiece(_Answer):
    id: int
    piece: str | list[int] = Field(description="the token's text, or its bytes when they are not UTF-8")


class TokenizeAnswer(_Answer):
    """``POST /tokenize``: ids, or ids with their pieces (with_pieces)."""

    tokens: list[int] | list[TokenPiece]


class DetokenizeAnswer(_Answer):
    """``POST /detokenize``."""

    content: str


class TokenCountAnswer(_Answer):
    """The token count endpoints (chat, Responses, Anthropic): the prompt the request would become."""

    input_tokens: int


class TemplateAnswer(_Answer):
    """``POST /apply-template``."""

    prompt: str


ANSWER_MODELS: tuple[type[BaseModel], ...] = (
    CompletionAnswer,
    ChatCompletionAnswer,
    TextCompletionAnswer,
    TokenizeAnswer,
    DetokenizeAnswer,
    TokenCountAnswer,
    TemplateAnswer,
)
