"""The interface every inference engine implements.

An :class:`Engine` owns the model weights and the tokenizer; it hands out :class:`EngineSlot` objects,
each with its own KV cache, so that requests on different slots never share state. A slot is used by one
request at a time (the server's slot pool guarantees it). Everything here is blocking: the server runs
it in worker threads.
"""

from __future__ import annotations

import functools
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ai.nemotron.constraints import Constraint
from ai.nemotron.errors import NotSupportedError

INT32_MAX = 2**31 - 1  # llama.cpp keeps token counts, top_k and token ids in int32_t
SEED_MAX = 2**32 - 1  # llama.cpp's seed is a uint32_t
SEED_MIN = -(2**63)
# llama.cpp --pooling, in the order of llama.h's enum llama_pooling_type; "rank" gives a relevance score
# (a reranker's classifier output), not a vector
Pooling = Literal["none", "mean", "cls", "last", "rank"]
POOLING_TYPES: tuple[Pooling, ...] = ("none", "mean", "cls", "last", "rank")
PHYSICAL_BATCH = 512  # llama.cpp's default n_ubatch: a prompt to embed is evaluated whole in one
MAX_N_PROBS = 1024  # n_probs / top_logprobs: far above any client's (OpenAI allows 20), bounded for the response size


class SamplingParams(BaseModel):
    """Sampling settings with llama-server's defaults. ``temperature <= 0`` means greedy."""

    model_config = ConfigDict(allow_inf_nan=False)

    temperature: float = Field(default=0.8, ge=0.0)
    top_k: int = Field(default=40, ge=0, le=INT32_MAX)
    top_p: float = Field(default=0.95, ge=0.0, le=1.0)
    min_p: float = Field(default=0.05, ge=0.0, le=1.0)
    repeat_penalty: float = Field(default=1.0, gt=0.0)
    seed: int | None = Field(default=None, ge=0, le=SEED_MAX)  # None (or negative at the API): a random seed
    n_probs: int = Field(default=0, ge=0, le=MAX_N_PROBS)  # llama.cpp: the n likeliest tokens at each step
    post_sampling_probs: bool = False  # llama.cpp: probabilities after the sampler chain, not log-probabilities
    # (token id, bias added to its logit; BANNED: never unless nothing else is allowed), applied before the
    # grammar and the sampler chain
    logit_bias: tuple[tuple[int, float], ...] = ()


BANNED = -1e30  # llama.cpp's ``false`` / -inf bias, finite so that the settings stay JSON and NaN-free


def apply_logit_bias(logits: np.ndarray, bias: tuple[tuple[int, float], ...]) -> np.ndarray:
    """A copy of one step's ``logits`` with ``bias`` added (OpenAI / llama.cpp ``logit_bias``)."""
    out = logits.copy()
    for token, value in bias:
        out[token] += value
    return out


@dataclass(frozen=True)
class TokenProbs:
    """One generated token's probability and the ``n_probs`` likeliest tokens at that step (descending).

    Pre-sampling (llama-server's default): natural log-probabilities of the model's raw distribution (a
    softmax of the logits after ``logit_bias``, before penalties, grammar and sampler). Post-sampling
    (``post_sampling_probs``): probabilities of the distribution the token was drawn from, after the sampler
    chain; tokens it ruled out (probability 0) are left out, and greedy sampling gives the chosen token 1.0.
    Source: llama.cpp
    ``tools/server/server-common`` (``completion_token_output``) and its tests (``test_n_probs*``).
    """

    token: int
    value: float  # log-probability (pre-sampling) or probability (post-sampling)
    top: tuple[tuple[int, float], ...]
    post_sampling: bool = False


def logprobs_of(logits: np.ndarray, token: int, n: int) -> TokenProbs:
    """Pre-sampling :class:`TokenProbs` of ``token`` from one step's raw ``logits`` (vocabulary-sized)."""
    x = logits.astype(np.float64)
    peak = x.max()
    log_z = peak + np.log(np.exp(x - peak).sum())
    n = min(n, x.shape[0])
    top = np.argpartition(-x, n - 1)[:n] if n else np.zeros(0, dtype=np.int64)
    top = top[np.argsort(-x[top], kind="stable")]
    return TokenProbs(token, float(x[token] - log_z), tuple((int(i), float(x[i] - log_z)) for i in top))


def sampled_probs_of(ids: np.ndarray, probs: np.ndarray, token: int, n: int) -> TokenProbs:
    """Post-sampling :class:`TokenProbs`: ``ids``/``probs`` are the candidates the sampler chain kept and
    their probabilities (empty or all zero for greedy sampling: the chosen token had probability 1)."""
    keep = probs > 0
    ids, probs = ids[keep], probs[keep]
    if ids.size == 0:
        return TokenProbs(token, 1.0, ((token, 1.0),), post_sampling=True)
    order = np.argsort(-probs, kind="stable")[:n]
    chosen = probs[ids == token]
    return TokenProbs(
        token,
        float(chosen[0]) if chosen.size else 0.0,
        tuple((int(ids[i]), float(probs[i])) for i in order),
        post_sampling=True,
    )


class EngineSlot(ABC):
    """One sequence's worth of state (KV cache). Not thread-safe: one request at a time."""

    def __init__(self) -> None:
        self.cached_tokens: list[int] = []
        self.last_cache_n = 0  # prompt tokens reused from the cache by the latest generate()
        self.last_probs: TokenProbs | None = None  # the latest yielded token's, when params.n_probs > 0
        # (tokens generated by the running request, tokens it may still generate): (0, -1) when idle; one
        # attribute, replaced whole, so GET /slots never reads half an update
        self.progress: tuple[int, int] = (0, -1)

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
        The slot's ``cached_tokens`` must describe its KV cache once iteration ends. With
        ``params.n_probs > 0``, :attr:`last_probs` holds each yielded token's :class:`TokenProbs` when it is
        yielded.
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
        """Load weights and tokenizer (slow; in a worker thread: at start-up, and again after :meth:`unload`)."""

    def unload(self) -> None:
        """Free the weights and caches until the next :meth:`load` (llama-server's sleep,
        ``--sleep-idle-seconds``); only while no request runs. Engines that cannot say so
        (NotSupportedError)."""
        raise NotSupportedError(f"the {self.name} engine cannot unload its model (--sleep-idle-seconds)")

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

    def decode_counts(self) -> tuple[int, int]:
        """(llama_decode calls, sequences they held in all): llama-server's ``n_decode_total`` and the sum
        behind ``n_busy_slots_per_decode``; (0, 0) for an engine that does not batch its slots."""
        return 0, 0

    @functools.cached_property
    def end_of_generation_tokens(self) -> tuple[int, ...]:
        """Every end-of-generation token id (EOS, EOT, ...): what ``ignore_eos`` bans. Needs the model loaded."""
        return tuple(t for t in range(self.vocab_size) if self.is_end_of_generation(t))

    def load_embeddings(self, pooling: Pooling | None) -> Pooling:
        """Get ready to embed with ``pooling`` (None: the model's own) and return the pooling in effect;
        the default engine has no embeddings (a 501)."""
        raise NotSupportedError(f"the {self.name} engine does not compute embeddings")

    def embed(self, tokens: list[int]) -> np.ndarray:
        """The raw (unnormalised) output embeddings of one prompt, evaluated alone: shape (1, n_embd) when
        pooled, (len(tokens), n_embd) with pooling ``none``, (1, 1) with ``rank`` (the relevance score).
        Thread-safe. Needs :meth:`load_embeddings`."""
        raise NotSupportedError(f"the {self.name} engine does not compute embeddings")

    def rerank_prompt(self, query: str, document: str) -> list[int]:
        """The tokens a reranker scores for (query, document), as llama-server's ``format_prompt_rerank``."""
        raise NotSupportedError(f"the {self.name} engine does not rerank")

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self.token_bytes(t) for t in tokens).decode("utf-8", errors="replace")
