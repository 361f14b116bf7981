"""Embeddings as llama-server serves them: ``POST /embedding``, ``/embeddings`` and ``/v1/embeddings``.

Source of every shape and rule here: llama.cpp ``tools/server/server-context.cpp``
(``handle_embeddings_impl``, ``send_embedding``), ``server-common.cpp`` (``tokenize_input_subprompt``,
``format_embeddings_response_oaicompat``), ``common/common.cpp`` (``common_embd_normalize``) and the server
tests ``unit/test_embedding.py``, all of the llama.cpp that llama-cpp-python 0.3.36 vendors.

- Off unless the server starts with ``--embedding`` (``--embeddings``): then a 501 naming the flag.
- ``--pooling {none,mean,cls,last}`` (default: the model's own; a generative model's is ``none``). With
  ``none`` every token's vector comes back, unnormalised, and only the non-OpenAI endpoints serve it
  (``/v1/embeddings`` answers 400). Pooled vectors are normalised by ``embd_normalize`` (the request's, else
  ``--embd-normalize``, default 2): -1 none, 0 max-absolute scaled to int16, 1 taxicab, 2 euclidean, p > 2
  p-norm.
- The input (``input``, or ``content``, which always gets the non-OpenAI shape) is one prompt or a list of
  them. One prompt is a string, a list of token ids (ids may be mixed with strings), ``{"prompt_string": s}``
  or ``{"content": [{"type": "text", "text": ...}, ...]}`` (OpenAI content parts; the text parts are joined).
  A list that holds any number is one prompt; any other list is several. Strings are tokenized with the
  special tokens added and parsed.
- Each prompt is evaluated whole in one physical batch (``n_ubatch``, 512), as llama.cpp needs for pooling: a
  longer one is refused naming its length (llama-server answers that with a 500; here it is a 400, being the
  request's fault). An empty prompt is a 400.

Answers: ``/v1/embeddings`` is OpenAI's ``{"object": "list", "data": [{"object": "embedding", "index",
"embedding"}], "model", "usage"}`` (``encoding_format: "base64"``: each vector as base64 of little-endian
float32); the others are llama-server's list of ``{"index", "embedding": [[...], ...]}`` (one row when
pooled, one per token when not).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ai.nemotron.engines.base import PHYSICAL_BATCH
from ai.nemotron.errors import InvalidRequestError

DEFAULT_NORMALIZE = 2  # llama.cpp common_params.embd_normalize: euclidean
MAX_ABS_SCALE = 32760.0  # common_embd_normalize: "make an int16 range"
NOT_MULTIMODAL = ("image_url", "input_audio", "input_video")


def tokenize_mixed(tokenize: Callable[[str, bool], list[int]], prompt: Sequence[Any], what: str) -> list[int]:
    """Token ids mixed with text as ids, as llama.cpp's ``tokenize_mixed``: each text part tokenized, the
    special (BOS) tokens only before a leading text part. ``tokenize(text, add_special)``."""
    tokens: list[int] = []
    for index, part in enumerate(prompt):
        if isinstance(part, str):
            tokens += tokenize(part, index == 0)
        elif isinstance(part, int) and not isinstance(part, bool):
            tokens.append(part)
        else:
            raise InvalidRequestError(f"{what}: a prompt's items must be token ids or text")
    return tokens


def _content_text(parts: Any, what: str) -> str:
    """The text of OpenAI content parts; any other part is a 400 naming it."""
    if not isinstance(parts, list):
        raise InvalidRequestError(f"{what}.content: must be a list of content parts")
    texts = []
    for index, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in NOT_MULTIMODAL:
            raise InvalidRequestError(f"{what}.content[{index}]: {kind} needs a multimodal model; this one reads text")
        else:
            raise InvalidRequestError(f"{what}.content[{index}]: unsupported content part type {kind!r}")
    return "".join(texts)


def prompts_of(value: Any, field: str) -> list[Any]:
    """The prompts of an ``input``/``content`` value: a list without numbers is several, anything else one."""
    if isinstance(value, list) and not any(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        if not value:
            raise InvalidRequestError(f'"{field}" must not be empty')
        return value
    return [value]


def tokenize_prompt(tokenize: Callable[[str, bool], list[int]], prompt: Any, what: str) -> list[int]:
    """One prompt's token ids (see the module docstring for its shapes); an empty result is a 400."""
    if isinstance(prompt, str):
        tokens = tokenize(prompt, True)
    elif isinstance(prompt, list):
        tokens = tokenize_mixed(tokenize, prompt, what)
    elif isinstance(prompt, dict) and "content" in prompt:
        tokens = tokenize(_content_text(prompt["content"], what), True)
    elif isinstance(prompt, dict) and isinstance(prompt.get("prompt_string"), str):
        if prompt.get("multimodal_data"):
            raise InvalidRequestError(f"{what}.multimodal_data: needs a multimodal model; this one reads text")
        tokens = tokenize(prompt["prompt_string"], True)
    else:
        raise InvalidRequestError(
            f"{what}: must be text, token ids, {{'prompt_string': text}} or {{'content': [parts]}}"
        )
    if not tokens:
        raise InvalidRequestError(f"{what}: Input content cannot be empty")
    check_fits(tokens, what)
    return tokens


def check_fits(tokens: list[int], what: str) -> None:
    """A prompt to embed or rerank is evaluated whole in one physical batch; a longer one is a 400 with
    llama-server's words, naming ``what``."""
    if len(tokens) > PHYSICAL_BATCH:
        raise InvalidRequestError(
            f"{what}: input ({len(tokens)} tokens) is too large to process. increase the physical batch size "
            f"(current batch size: {PHYSICAL_BATCH})"
        )


def normalize(vector: np.ndarray, norm: int) -> list[float]:
    """``common_embd_normalize``: ``vector`` scaled by its ``norm`` (see the module docstring); a zero
    vector stays zero."""
    x = vector.astype(np.float64)
    if norm == -1:
        total = 1.0
    elif norm == 0:
        total = float(np.abs(x).max(initial=0.0)) / MAX_ABS_SCALE
    elif norm == 2:
        total = math.sqrt(float(np.dot(x, x)))
    else:
        total = float(np.power(np.abs(x), norm).sum()) ** (1.0 / norm)
    scale = 1.0 / total if total > 0.0 else 0.0
    return [float(v) for v in (x * scale).astype(np.float32)]


def base64_vector(vector: list[float]) -> str:
    """A vector as OpenAI's ``encoding_format: "base64"``: little-endian float32 bytes, base64."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def openai_response(vectors: list[list[float]], counts: list[int], model: str, encoding_format: str) -> dict[str, Any]:
    """``/v1/embeddings``'s answer: one pooled vector per prompt, and the prompt tokens evaluated."""
    data = [
        {"embedding": base64_vector(v), "index": i, "object": "embedding", "encoding_format": "base64"}
        if encoding_format == "base64"
        else {"embedding": v, "index": i, "object": "embedding"}
        for i, v in enumerate(vectors)
    ]
    total = sum(counts)
    return {"model": model, "object": "list", "usage": {"prompt_tokens": total, "total_tokens": total}, "data": data}
