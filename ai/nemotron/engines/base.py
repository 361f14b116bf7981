"""The interface every inference engine implements.

An :class:`Engine` owns the model weights and the tokenizer; it hands out :class:`EngineSlot` objects,
each with its own KV cache, so that requests on different slots never share state. A slot is used by one
request at a time (the server's slot pool guarantees it). Everything here is blocking: the server runs
it in worker threads.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ai.nemotron.constraints import Constraint

INT32_MAX = 2**31 - 1  # llama.cpp keeps token counts, top_k and token ids in int32_t
SEED_MAX = 2**32 - 1  # llama.cpp's seed is a uint32_t
SEED_MIN = -(2**63)


class SamplingParams(BaseModel):
    """Sampling settings with llama-server's defaults. ``temperature <= 0`` means greedy."""

    model_config = ConfigDict(allow_inf_nan=False)

    temperature: float = Field(default=0.8, ge=0.0)
    top_k: int = Field(default=40, ge=0, le=INT32_MAX)
    top_p: float = Field(default=0.95, ge=0.0, le=1.0)
    min_p: float = Field(default=0.05, ge=0.0, le=1.0)
    repeat_penalty: float = Field(default=1.0, gt=0.0)
    seed: int | None = Field(default=None, ge=0, le=SEED_MAX)  # None (or negative at the API): a random seed


class EngineSlot(ABC):
    """One sequence's worth of state (KV cache). Not thread-safe: one request at a time."""

    def __init__(self) -> None:
        self.cached_tokens: list[int] = []
        self.last_cache_n = 0  # prompt tokens reused from the cache by the latest generate()

    def common_prefix(self, tokens: list[int]) -> int:
        """How many leading ``tokens`` this slot's cache already holds (at least one is always evaluated)."""
        n = 0
        for cached, new in zip(self.cached_tokens, tokens[:-1], strict=False):
            if cached != new:
                break
            n += 1
        return n

    @abstractmethod
    def generate(
        self,
        prompt_tokens: list[int],
        params: SamplingParams,
        constraint: Any | None,
        cancelled: threading.Event | None = None,
    ) -> Iterator[int]:
        """Evaluate the prompt (reusing the cached prefix) and yield sampled token ids, forever.

        The caller stops iterating on end-of-generation, a stop string, or its token limit.
        ``constraint`` is whatever :meth:`Engine.compile_constraint` returned; every yielded token is
        allowed by it, and a constraint that allows no token at all is a ConstraintError, never a guess.
        ``cancelled`` set (the client went away) ends the iteration early, between two prompt batches too.
        The slot's ``cached_tokens`` must describe its KV cache once iteration ends.
        """


class Engine(ABC):
    """A loaded model: tokenizer, chat template, slots and a description for /health and /props."""

    name: str = "engine"

    def __init__(self, model: str, n_ctx: int) -> None:
        self.model_path = model
        self.n_ctx = n_ctx

    @property
    def model_name(self) -> str:
        """A short model name (file name without the extension, or the last path part)."""
        base = self.model_path.rstrip("/").rsplit("/", 1)[-1]
        return base.removesuffix(".gguf")

    @abstractmethod
    def load(self) -> None:
        """Load weights and tokenizer (slow; called once, in a worker thread)."""

    @abstractmethod
    def new_slot(self) -> EngineSlot:
        """A fresh slot with an empty KV cache."""

    @abstractmethod
    def tokenize(self, text: str, *, add_special: bool, parse_special: bool = True) -> list[int]:
        """Token ids of ``text``; ``add_special`` adds the BOS token when the model wants one."""

    @abstractmethod
    def token_bytes(self, token: int) -> bytes:
        """The raw bytes of one token's text (pieces can split a UTF-8 character)."""

    @abstractmethod
    def is_end_of_generation(self, token: int) -> bool:
        """True for EOS/EOT tokens."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of token ids."""

    @property
    @abstractmethod
    def chat_template(self) -> str | None:
        """The model's Jinja chat template, if it ships one."""

    @property
    @abstractmethod
    def special_tokens(self) -> dict[str, str]:
        """``bos_token`` and ``eos_token`` text, for the chat template."""

    @abstractmethod
    def compile_constraint(self, constraint: Constraint) -> Any:
        """Turn a constraint into this engine's enforcer; raise ConstraintError when it can't be enforced."""

    @abstractmethod
    def health_details(self) -> dict[str, Any]:
        """The spec's /health fields: device, cuda_available, vram_used_gb, quantization,
        quantization_details, attention_implementation, flash_attention_available."""

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self.token_bytes(t) for t in tokens).decode("utf-8", errors="replace")
