"""Request bodies of the llama.cpp server API and its OpenAI-compatible endpoints.

Every top-level body is checked whole before any field is read (ai.nemotron.json_values): a lone
surrogate in any string or key, a number that is not finite (``NaN``, ``Infinity``, ``1e999``), or nesting
deeper than 64 levels is a 400 naming the field, wherever it is, including fields the server only
passes on (constraints, unknown extras). Each number then has bounds the engines can take (C ``int32`` and
``uint32`` where llama.cpp stores them). Unknown fields are accepted and ignored, as llama-server does.
Structured-output fields are declared for the API description; ai.nemotron.constraints reads them from the
checked body, because they come in many shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ai.nemotron.engines.base import BANNED, INT32_MAX, MAX_N_PROBS, SEED_MAX, SEED_MIN, SamplingParams
from ai.nemotron.json_values import find_unsound_value, printable
from ai.nemotron.reasoning import ReasoningFormat

TokenId = Annotated[int, Field(ge=0, le=INT32_MAX)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class _Body(_Request):
    """A whole request body: checked for unsound values anywhere before its fields are validated."""

    @model_validator(mode="before")
    @classmethod
    def _sound(cls, data: Any) -> Any:
        bad = find_unsound_value(data)
        if bad is not None:
            raise PydanticCustomError("unsound_value", "{reason}", {"field": bad[0], "reason": bad[1]})
        return data


def _stops(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


class _Constraints(_Body):
    """Structured-output fields (read by ai.nemotron.constraints; declared here for the API description)."""

    json_schema: dict[str, Any] | bool | str | None = Field(default=None, description="llama.cpp: a JSON schema")
    grammar: str | None = Field(default=None, description="llama.cpp: a GBNF grammar")
    response_format: dict[str, Any] | None = Field(
        default=None, description="OpenAI: {type: text | json_object | json_schema, ...}"
    )
    nvext: dict[str, Any] | None = Field(
        default=None, description="NVIDIA NIM: {guided_json | guided_choice | guided_regex | guided_grammar}"
    )
    guided_json: Any = Field(default=None, description="vLLM: a JSON schema")
    guided_choice: list[str] | None = Field(default=None, description="vLLM: the answer is one of these strings")
    guided_regex: str | None = Field(default=None, description="vLLM: the answer matches this regex whole")
    guided_grammar: str | None = Field(default=None, description="vLLM: a GBNF grammar")
    structured_outputs: dict[str, Any] | None = Field(
        default=None, description="vLLM: {json | choice | regex | grammar}"
    )


class _Sampling(_Constraints):
    temperature: float = Field(default=0.8, ge=0.0)
    top_k: int = Field(default=40, ge=0, le=INT32_MAX)
    top_p: float = Field(default=0.95, ge=0.0, le=1.0)
    min_p: float = Field(default=0.05, ge=0.0, le=1.0)
    repeat_penalty: float = Field(default=1.0, gt=0.0)
    seed: int | None = Field(default=None, ge=SEED_MIN, le=SEED_MAX, description="-1 (or any negative): random")
    stop: list[str] = Field(default_factory=list)
    stream: bool = False
    cache_prompt: bool = True
    n_probs: int = Field(default=0, ge=0, le=MAX_N_PROBS, description="llama.cpp: the n likeliest tokens per step")
    post_sampling_probs: bool = Field(
        default=False, description="llama.cpp: probabilities after the sampler chain instead of log-probabilities"
    )
    ignore_eos: bool = Field(
        default=False, description="llama.cpp: end-of-generation tokens are banned; generate up to n_predict"
    )

    logit_bias: dict[str, Any] | list[Any] | None = Field(
        default=None,
        description="OpenAI: {token id: bias}; llama.cpp also [[token id or text, bias]], {text: bias}, and false "
        "for a bias that bans the token",
    )

    _stop = field_validator("stop", mode="before")(_stops)

    def probabilities(self) -> tuple[int, bool]:
        """``(n, post_sampling)``: how many likeliest tokens to report per step (0: no probabilities)."""
        return self.n_probs, self.post_sampling_probs

    def sampling(self, default_temperature: float = 0.8, default_seed: int = -1) -> SamplingParams:
        """The sampling settings; a temperature or seed the request leaves out is the server's (--temp,
        --seed), as in llama-server. A negative seed is a random one."""
        temperature = self.temperature if "temperature" in self.model_fields_set else default_temperature
        seed = self.seed if self.seed is not None else default_seed
        return SamplingParams(
            temperature=temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            min_p=self.min_p,
            repeat_penalty=self.repeat_penalty,
            seed=None if seed < 0 else seed,
            n_probs=self.probabilities()[0],
            post_sampling_probs=self.probabilities()[1],
        )


class CompletionRequest(_Sampling):
    """POST /completion (llama.cpp's native endpoint)."""

    prompt: str | dict[str, Any] | list[TokenId | str] | list[str | dict[str, Any] | list[TokenId | str]] = Field(
        description="llama.cpp: text, token ids, ids mixed with text, {prompt_string, multimodal_data}, or a list "
        "of such prompts (a batch: the answer is a list)"
    )
    n_predict: int = Field(default=-1, ge=-1, le=INT32_MAX, validation_alias=AliasChoices("n_predict", "max_tokens"))
    return_tokens: bool = Field(
        default=False, description="llama.cpp: the generated token ids in 'tokens' (streamed chunks always have them)"
    )
    response_fields: list[str] | None = Field(
        default=None, description="llama.cpp: only these fields of the answer ('a/b' for nested ones), flat"
    )

    def prompts(self) -> list[str | list[int | str]]:
        """The prompts, as llama.cpp reads ``prompt``: a string, a list of token ids, or a list mixing ids and
        strings is one prompt; any other list is a batch of such prompts."""
        prompt = self.prompt
        if isinstance(prompt, str | dict):
            return [_json_prompt(prompt)]
        if all(isinstance(item, int | str) for item in prompt) and any(isinstance(item, int) for item in prompt):
            return [list(prompt)]  # type: ignore[arg-type]
        if not prompt:
            raise ValueError("prompt: an empty list")
        return [_json_prompt(item) if isinstance(item, str | dict) else item for item in prompt]  # type: ignore[misc]


def _json_prompt(prompt: str | dict[str, Any]) -> str:
    """A prompt given as llama.cpp's JSON object ``{"prompt_string": ..., "multimodal_data": [...]}``: its text;
    media are refused (the engines have no image or audio input)."""
    if isinstance(prompt, str):
        return prompt
    text = prompt.get("prompt_string")
    if not isinstance(text, str):
        raise ValueError("prompt.prompt_string: a JSON prompt needs its text as a string")
    if prompt.get("multimodal_data"):
        raise ValueError("prompt.multimodal_data: this server's model has no image or audio input")
    return text


class OpenAICompletionRequest(_Sampling):
    """POST /v1/completions."""

    prompt: str | list[TokenId]  # OpenAI's list of prompts is accepted with one string in it
    max_tokens: int | None = Field(default=None, ge=0, le=INT32_MAX)
    n: int = Field(default=1, ge=1, le=1)
    stream_options: dict[str, Any] | None = None
    logprobs: int | None = Field(
        default=None, ge=0, le=MAX_N_PROBS, description="OpenAI (legacy completions): top log-probabilities per token"
    )

    def probabilities(self) -> tuple[int, bool]:
        if self.logprobs is not None:  # the chosen token's log-probability needs at least one
            return max(self.logprobs, 1), False
        return super().probabilities()

    @field_validator("prompt", mode="before")
    @classmethod
    def _one_prompt(cls, value: Any) -> Any:
        if isinstance(value, list) and value and isinstance(value[0], str):
            if len(value) != 1:
                raise ValueError("only one prompt per request is supported")
            return value[0]
        return value


IMAGE_PART_TYPES = frozenset({"image_url", "input_image", "image"})
IMAGES_OMITTED_NOTE = (
    "[{n} image(s) sent with this message were removed: this server's model has no image input, "
    "so nothing in them is known]"
)


class ContentPart(_Request):
    """One part of a message's content: ``{"type": "text", "text": ...}`` or an image part
    (OpenAI ``{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,..."}}``)."""

    type: str
    text: str | None = None


class ChatMessage(_Request):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[dict[str, Any]] | None = Field(default=None, description="OpenAI: an assistant's earlier calls")
    tool_call_id: str | None = Field(default=None, description="OpenAI: the call a 'tool' message answers")
    name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The message for the chat template and :func:`ai.nemotron.tools.history_messages`."""
        return {
            "role": self.role,
            "content": self.text(),
            "tool_calls": self.tool_calls,
            "tool_call_id": self.tool_call_id,
            "name": self.name,
        }

    def image_count(self) -> int:
        """How many image parts the content has (they are dropped: the engines have no image input)."""
        if not isinstance(self.content, list):
            return 0
        return sum(1 for part in self.content if part.type in IMAGE_PART_TYPES)

    def text(self) -> str:
        """The content as prompt text: the text parts joined, and, where image parts were, one line
        saying they were removed (:data:`IMAGES_OMITTED_NOTE`), so the model is not left to assume it
        saw them. Raises ValueError for any other part type (audio, files)."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        parts = []
        for part in self.content:
            if part.type in IMAGE_PART_TYPES:
                continue
            if part.type != "text" or part.text is None:
                raise ValueError(f"unsupported content part type {printable(part.type)!r}: only 'text' and images")
            parts.append(part.text)
        text = "\n".join(parts)  # llama.cpp's concat_content_parts: text parts joined with a newline
        images = self.image_count()
        if images:
            text = f"{text}\n\n{IMAGES_OMITTED_NOTE.format(n=images)}" if text else IMAGES_OMITTED_NOTE.format(n=images)
        return text


class ChatCompletionRequest(_Sampling):
    """POST /v1/chat/completions."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(
        default=None, ge=0, le=INT32_MAX, validation_alias=AliasChoices("max_completion_tokens", "max_tokens")
    )
    n: int = Field(default=1, ge=1, le=1)
    stream_options: dict[str, Any] | None = None
    logprobs: bool = Field(default=False, description="OpenAI: each output token's log-probability")
    top_logprobs: int | None = Field(
        default=None, ge=0, le=MAX_N_PROBS, description="OpenAI: the likeliest tokens at each step (with logprobs)"
    )
    tools: list[dict[str, Any]] | None = Field(
        default=None, description="OpenAI: [{type: function, function: {name, description, parameters}}]"
    )
    tool_choice: str | dict[str, Any] | None = Field(
        default=None, description="OpenAI: none | auto (default) | required | {type: function, function: {name}}"
    )
    add_generation_prompt: bool = Field(
        default=True, description="llama.cpp/vLLM: end the prompt where the assistant's answer begins"
    )
    continue_final_message: bool = Field(
        default=False,
        description="vLLM/transformers: continue the last (assistant) message instead of starting a new one; a "
        "last assistant message is continued anyway (llama-server's assistant prefill)",
    )
    verbose: bool = Field(default=False, description="llama.cpp: add '__verbose' (the prompt) to the answer")
    parallel_tool_calls: bool = Field(
        default=False, description="OpenAI: several calls in one answer (default false, as llama-server)"
    )

    @model_validator(mode="after")
    def _top_logprobs_need_logprobs(self) -> ChatCompletionRequest:
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs: true")
        return self

    def probabilities(self) -> tuple[int, bool]:
        if self.logprobs:
            return max(self.top_logprobs or 0, 1), False
        return super().probabilities()

    reasoning_format: ReasoningFormat | None = Field(
        default=None,
        description="llama.cpp: where a <think> block goes ('none': left in content; 'deepseek', 'auto': "
        "reasoning_content; 'deepseek-legacy': both); default: the server's --reasoning-format",
    )


class TokenizeRequest(_Body):
    content: str
    add_special: bool = False
    with_pieces: bool = False


class DetokenizeRequest(_Body):
    tokens: list[TokenId]


class EmbeddingRequest(_Body):
    """The body of ``/embedding``, ``/embeddings`` and ``/v1/embeddings`` (ai.nemotron.embeddings reads the
    prompts: one or a list, each text, token ids, ``{"prompt_string"}`` or ``{"content": [parts]}``)."""

    input: Any = Field(default=None, description="one prompt or a list of prompts (OpenAI)")
    content: Any = Field(default=None, description="the same, answered in llama-server's own shape")
    encoding_format: Literal["float", "base64"] = "float"
    embd_normalize: int | None = Field(
        default=None, ge=-1, le=64, description="-1 none, 0 int16 range, 1 taxicab, 2 euclidean, p>2 p-norm"
    )
    model: str | None = None


class RerankRequest(_Body):
    """The body of ``/rerank`` (Jina's API: ``documents``; TEI's: ``texts``, answered as a bare list)."""

    query: str
    documents: list[str] | None = None
    texts: list[str] | None = None
    top_n: int | None = Field(default=None, ge=0, le=INT32_MAX, description="the best n (default: all)")
    return_text: bool = Field(default=False, description="TEI: each result carries its text")
    model: str | None = None

    @model_validator(mode="after")
    def _documents(self) -> RerankRequest:
        if not (self.documents if self.documents is not None else self.texts):
            raise ValueError('"documents" must be a non-empty string array')
        return self


class ErrorDetail(BaseModel):
    code: int
    message: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer, in llama.cpp server's shape."""

    error: ErrorDetail


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    CompletionRequest,
    OpenAICompletionRequest,
    ChatCompletionRequest,
    TokenizeRequest,
    DetokenizeRequest,
    EmbeddingRequest,
    RerankRequest,
)


def parse_logit_bias(
    value: dict[str, Any] | list[Any], tokenize: Callable[[str], list[int]], vocab_size: int
) -> tuple[tuple[int, float], ...]:
    """``logit_bias`` in any of its shapes as ``(token id, bias)`` pairs: keys or first items are token ids
    (integers, or strings of digits) or text (every token of it gets the bias); a bias is a finite number or
    ``false`` (:data:`BANNED`). Raises ValueError naming the entry for anything else."""
    entries = list(value.items()) if isinstance(value, dict) else value
    pairs: list[tuple[int, float]] = []
    for index, entry in enumerate(entries):
        where = f"logit_bias[{index}]"
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            raise ValueError(f"{where}: must be [token id or text, bias]")
        key, bias = entry
        if bias is False:
            bias = BANNED
        elif isinstance(bias, bool) or not isinstance(bias, int | float):
            raise ValueError(f"{where}: the bias must be a number or false")
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        if isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < vocab_size:
                raise ValueError(f"{where}: token id {key} is out of range 0..{vocab_size - 1}")
            tokens = [key]
        elif isinstance(key, str):
            tokens = tokenize(key)
        else:
            raise ValueError(f"{where}: the token must be an id or text")
        pairs.extend((token, float(bias)) for token in tokens)
    return tuple(pairs)
