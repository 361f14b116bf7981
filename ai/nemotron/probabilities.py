"""Token probabilities in the shapes clients read: llama.cpp's ``completion_probabilities`` (``n_probs``,
``post_sampling_probs``), OpenAI chat ``logprobs.content`` (``logprobs``, ``top_logprobs``) and OpenAI's legacy
completions ``logprobs`` (``tokens`` / ``token_logprobs`` / ``top_logprobs`` / ``text_offset``).

The numbers come from the engine (:class:`ai.nemotron.engines.base.TokenProbs`: natural log-probabilities of
the raw distribution, or the sampler's probabilities after its chain). A token's ``token`` is its text (bytes
that are not whole UTF-8 characters become U+FFFD) and ``bytes`` its raw bytes, as llama-server and OpenAI
give them. Sources: llama.cpp ``tools/server`` (``completion_token_output::to_json`` and its tests
``test_n_probs*``, ``test_logprobs*``); OpenAI's Chat Completions and Completions references.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ai.nemotron.engines.base import TokenProbs


class _Vocabulary(Protocol):
    def token_bytes(self, token: int) -> bytes: ...


def _piece(engine: _Vocabulary, token: int) -> tuple[str, list[int]]:
    raw = engine.token_bytes(token)
    return raw.decode("utf-8", errors="replace"), list(raw)


def completion_probabilities(engine: _Vocabulary, probs: Sequence[TokenProbs]) -> list[dict[str, Any]]:
    """llama.cpp's ``completion_probabilities``: ``{id, token, bytes, logprob, top_logprobs: [...]}`` per token,
    or ``{id, token, bytes, prob, top_probs: [...]}`` after sampling."""
    out = []
    for p in probs:
        key, top_key = ("prob", "top_probs") if p.post_sampling else ("logprob", "top_logprobs")
        text, raw = _piece(engine, p.token)
        top = []
        for token, value in p.top:
            t_text, t_raw = _piece(engine, token)
            top.append({"id": token, "token": t_text, "bytes": t_raw, key: value})
        out.append({"id": p.token, "token": text, "bytes": raw, key: p.value, top_key: top})
    return out


def chat_logprobs(engine: _Vocabulary, probs: Sequence[TokenProbs], top_n: int) -> dict[str, Any]:
    """OpenAI chat ``logprobs``: ``{"content": [{token, logprob, bytes, top_logprobs: [{token, logprob,
    bytes}] (top_n of them)}]}``; llama-server adds each token's ``id``, and so do we."""
    content = []
    for p in probs:
        text, raw = _piece(engine, p.token)
        top = []
        for token, value in p.top[:top_n]:
            t_text, t_raw = _piece(engine, token)
            top.append({"id": token, "token": t_text, "logprob": value, "bytes": t_raw})
        content.append({"id": p.token, "token": text, "logprob": p.value, "bytes": raw, "top_logprobs": top})
    return {"content": content}


def legacy_logprobs(engine: _Vocabulary, probs: Sequence[TokenProbs], top_n: int, offset: int) -> dict[str, Any]:
    """OpenAI's legacy completions ``logprobs``: parallel lists of each token's text, log-probability, its
    ``top_n`` likeliest tokens as ``{text: logprob}``, and its character offset (from ``offset``)."""
    tokens, token_logprobs, tops, offsets = [], [], [], []
    for p in probs:
        text, _ = _piece(engine, p.token)
        tokens.append(text)
        token_logprobs.append(p.value)
        tops.append({_piece(engine, token)[0]: value for token, value in p.top[:top_n]})
        offsets.append(offset)
        offset += len(text)
    return {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": tops, "text_offset": offsets}


class Cursor:
    """Hands out a growing list of :class:`TokenProbs` in order, for streamed chunks (each takes its tokens')."""

    def __init__(self, probs: list[TokenProbs]) -> None:
        self._probs = probs
        self._taken = 0

    def take(self, n: int) -> list[TokenProbs]:
        out = self._probs[self._taken : self._taken + n]
        self._taken += len(out)
        return out

    @property
    def offset(self) -> int:
        return self._taken
