"""The decoding loop shared by every engine: token limits, stop strings, UTF-8, streaming, timings.

An engine slot yields token ids; this loop turns them into text the way llama-server does: it stops at
end-of-generation (``stop_type="eos"``), at the token limit or the end of the context (``"limit"``), or
at the first stop string (``"word"``; the stop string is not part of the content), and it streams only
text that can no longer turn out to be the start of a stop string.
"""

from __future__ import annotations

import codecs
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ai.nemotron.engines.base import Engine, EngineSlot, SamplingParams, TokenProbs

StopType = Literal["none", "eos", "limit", "word"]


@dataclass
class Timings:
    prompt_n: int = 0
    prompt_ms: float = 0.0
    predicted_n: int = 0
    predicted_ms: float = 0.0
    cache_n: int = 0

    def as_dict(self) -> dict[str, float | int]:
        def per_second(n: int, ms: float) -> float:
            return 1000.0 * n / ms if ms > 0 else 0.0

        def per_token(n: int, ms: float) -> float:
            return ms / n if n else 0.0

        return {
            "cache_n": self.cache_n,
            "prompt_n": self.prompt_n,
            "prompt_ms": self.prompt_ms,
            "prompt_per_token_ms": per_token(self.prompt_n, self.prompt_ms),
            "prompt_per_second": per_second(self.prompt_n, self.prompt_ms),
            "predicted_n": self.predicted_n,
            "predicted_ms": self.predicted_ms,
            "predicted_per_token_ms": per_token(self.predicted_n, self.predicted_ms),
            "predicted_per_second": per_second(self.predicted_n, self.predicted_ms),
        }


@dataclass
class CompletionResult:
    content: str
    tokens: list[int]
    stop_type: StopType
    stopping_word: str
    tokens_evaluated: int
    truncated: bool
    timings: Timings = field(default_factory=Timings)
    probs: list[TokenProbs] = field(default_factory=list)  # one per token of ``tokens`` when n_probs > 0

    @property
    def tokens_predicted(self) -> int:
        return len(self.tokens)

    @property
    def tokens_cached(self) -> int:
        return self.timings.cache_n


def _held_back(text: str, stops: list[str]) -> int:
    """Length of the longest tail of ``text`` that is a proper prefix of a stop string."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


def _find_stop(text: str, stops: list[str], start: int) -> tuple[int, str] | None:
    """Earliest occurrence at or after ``start`` of any stop string: (position, stop)."""
    best: tuple[int, str] | None = None
    for stop in stops:
        pos = text.find(stop, start)
        if pos != -1 and (best is None or pos < best[0]):
            best = (pos, stop)
    return best


def run_completion(
    engine: Engine,
    slot: EngineSlot,
    prompt_tokens: list[int],
    *,
    n_predict: int,
    stop: list[str],
    params: SamplingParams,
    constraint: Any | None = None,
    cancelled: threading.Event | None = None,
    on_text: Callable[[str, list[int]], None] | None = None,
    probs: list[TokenProbs] | None = None,
) -> CompletionResult:
    """Generate from ``prompt_tokens`` on ``slot``; ``n_predict < 0`` means until EOS or the context ends.

    ``on_text`` receives each piece of content as soon as it is final (for streaming), with the ids of the
    tokens generated since the previous piece (those whose text it completes). ``cancelled`` set
    (the client went away) stops the loop before the next token, and the engine between prompt batches;
    the result then has ``stop_type="none"``. With ``params.n_probs > 0`` each token's
    :class:`TokenProbs` is appended to ``probs`` (the result's ``probs``) before ``on_text`` sees the token.
    """
    stops = [s for s in stop if s]
    room = engine.n_ctx - len(prompt_tokens)
    limit = room if n_predict < 0 else min(n_predict, room)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text, emitted, tokens_sent = "", 0, 0
    tokens: list[int] = []
    probs = [] if probs is None else probs
    stop_type: StopType = "none"
    stopping_word = ""
    timings = Timings()
    started = time.perf_counter()
    first_token_at = started

    iterator = slot.generate(prompt_tokens, params, constraint, cancelled) if limit > 0 else iter(())
    try:
        for token in iterator:
            if not tokens and stop_type == "none":
                first_token_at = time.perf_counter()
                timings.cache_n = slot.last_cache_n
            if engine.is_end_of_generation(token):
                stop_type = "eos"
                break
            tokens.append(token)
            slot.progress = (len(tokens), limit - len(tokens))
            if params.n_probs and slot.last_probs is not None:
                probs.append(slot.last_probs)
            scan_from = max(0, len(text) - max((len(s) for s in stops), default=0))
            text += decoder.decode(engine.token_bytes(token))
            found = _find_stop(text, stops, scan_from)
            if found is not None:
                text = text[: found[0]]
                stop_type, stopping_word = "word", found[1]
                break
            if len(tokens) >= limit:
                stop_type = "limit"
                break
            if cancelled is not None and cancelled.is_set():
                break  # stop_type stays "none": nobody is waiting for the rest
            if on_text is not None:
                safe = len(text) - _held_back(text, stops)
                if safe > emitted:
                    on_text(text[emitted:safe], tokens[tokens_sent:])
                    emitted, tokens_sent = safe, len(tokens)
    finally:
        slot.progress = (0, -1)
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    if stop_type in ("none", "limit", "eos"):
        text += decoder.decode(b"", final=True)
    if on_text is not None and len(text) > emitted:
        on_text(text[emitted:], tokens[tokens_sent:])
    finished = time.perf_counter()
    if limit <= 0:
        stop_type = "limit"
        first_token_at = finished
    timings.prompt_n = len(prompt_tokens) - timings.cache_n
    timings.prompt_ms = (first_token_at - started) * 1000.0
    timings.predicted_n = len(tokens)
    timings.predicted_ms = (finished - first_token_at) * 1000.0
    truncated = stop_type == "limit" and len(tokens) >= room
    return CompletionResult(
        content=text,
        tokens=tokens,
        stop_type=stop_type,
        stopping_word=stopping_word,
        tokens_evaluated=len(prompt_tokens),
        truncated=truncated,
        timings=timings,
        probs=probs,
    )
