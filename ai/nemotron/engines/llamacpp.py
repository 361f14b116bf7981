"""The default engine: llama.cpp in-process through llama-cpp-python, for any GGUF file.

The slots are the sequences of one batched llama.cpp context (:class:`BatchDecoder`), as llama-server's.
Constraints compile to llguidance grammars (:mod:`ai.nemotron.guidance`, the HF engine's constraint engine
too): the sampler chain draws, the step's grammar mask checks the token drawn, and only a refused token makes
the chain draw again from the masked vocabulary (llama.cpp's ``common_sampler_sample``), so every sampled
token is allowed by the grammar; a grammar that allows none is a ConstraintError.
"""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp._internals import LlamaContext, LlamaSampler, LlamaTokenDataArray
from llguidance import LLTokenizer

from ai.nemotron.constraints import Constraint
from ai.nemotron.engines.base import (
    PHYSICAL_BATCH,
    POOLING_TYPES,
    Engine,
    EngineSlot,
    Pooling,
    SamplingParams,
    TokenProbs,
    apply_logit_bias,
    logprobs_of,
    sampled_probs_of,
)
from ai.nemotron.errors import ContextOverflowError, ServerError
from ai.nemotron.guidance import Guide, compile_grammar

log = logging.getLogger(__name__)

PROMPT_BATCH = 512  # tokens per llama_decode: the prompt chunk size (llama.cpp's n_ubatch)
GREEDY_CANDIDATES = 64  # likeliest tokens a greedy grammar step checks one by one before masking everything
LOOKAHEAD = 2  # tokens a stream is decoded ahead of its caller (see BatchDecoder._ready)
MAIN_CONTEXT = 256  # the loading context's cells: it only tokenizes
_FTYPE_NAMES = {
    value: name.removeprefix("LLAMA_FTYPE_").removeprefix("MOSTLY_")
    for name, value in vars(llama_cpp).items()
    if name.startswith("LLAMA_FTYPE_") and isinstance(value, int)
}


@dataclass(frozen=True)
class CompiledGrammar:
    """An llguidance grammar checked against this model's vocabulary; each request gets a fresh
    :class:`~ai.nemotron.guidance.Guide` of it."""

    kind: str
    grammar: str


class LlamaCppSlot(EngineSlot):
    """One sequence (``seq_id``) of the engine's shared context: its KV cells, its sampler state."""

    def __init__(self, engine: LlamaCppEngine, seq_id: int) -> None:
        super().__init__()
        self.engine = engine
        self.seq_id = seq_id
        n_vocab = engine.main.n_vocab()
        self._candidates = LlamaTokenDataArray(n_vocab=n_vocab)
        self._probs: tuple[int, bool] = (0, False)  # the running request's (n_probs, post_sampling_probs)
        self._bias: tuple[tuple[int, float], ...] = ()  # the running request's logit_bias
        self._greedy = False  # the running request decodes greedily (see _likeliest_allowed)

    def generate(
        self,
        prompt_tokens: list[int],
        params: SamplingParams,
        constraint: CompiledGrammar | None,
        cancelled: threading.Event | None = None,
    ) -> Iterator[int]:
        """The request joins the engine's batch (:class:`BatchDecoder`): its prompt is evaluated in chunks
        beside the other slots' tokens, then each next token is decoded in the same ``llama_decode`` as every
        other slot's, as llama-server does. The cached prefix of this slot's sequence is kept, the rest of
        its cells dropped. The decoder runs at most LOOKAHEAD tokens ahead of this iterator, so little is
        computed past a stop; a cancelled request leaves the batch before its next step."""
        decoder = self.engine.decoder
        self._probs = (params.n_probs, params.post_sampling_probs)
        self._bias = params.logit_bias
        # greedy with nothing in the chain that changes the logits: the grammar can be checked token by token
        self._greedy = params.temperature == 0.0 and params.repeat_penalty == 1.0
        self.last_probs = None
        seed = params.seed if params.seed is not None else random.randrange(2**31)
        chain = _sampler_chain(self.engine.main, params, seed)
        grammar = self.engine.new_guide(constraint) if constraint is not None else None
        request = decoder.start(self, prompt_tokens, chain, grammar)
        try:
            while True:
                token, probs = decoder.next(request, cancelled)
                if token is None:
                    return
                self.last_probs = probs
                yield token
        finally:
            decoder.finish(request)
            chain.close()

    def sample(self, request: _Request, index: int) -> tuple[int, TokenProbs | None]:
        """What llama.cpp's ``common_sampler_sample`` does (llama-server's sampling), grammar included, on
        the logits of batch position ``index``.

        The chain samples first, unconstrained; the grammar's mask for this step then checks the token drawn,
        and when it allows it that token stands (rejection sampling: the chain runs over the masked vocabulary
        only when needed). Only when the grammar refuses it are the candidates masked and drawn again; a
        grammar that then leaves none is a ConstraintError (llama.cpp's chain would take whatever it drew).
        Greedy decoding gives the same tokens either way (tested).
        """
        chain, grammar, cur = request.chain, request.grammar, self._candidates
        ctx = self.engine.decoder.ctx
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, index), shape=(cur.n_vocab,))
        if self._bias:
            logits = apply_logit_bias(logits, self._bias)
        n_probs, post_sampling = self._probs
        raw = logits if n_probs and not post_sampling else None  # the samplers change the candidates, not this
        cur.copy_logits(logits)
        cur_p = ctypes.byref(cur.candidates)
        llama_cpp.llama_sampler_apply(chain.sampler, cur_p)
        token = int(cur.candidates.data[cur.candidates.selected].id)
        if grammar is not None and not grammar.allows(token):
            fallback = self._likeliest_allowed(grammar, logits) if self._greedy else None
            token = fallback if fallback is not None else self._masked(chain, grammar, logits)
        probs = None
        if raw is not None:
            probs = logprobs_of(raw, token, n_probs)
        elif n_probs:
            kept = cur.candidates_data[: cur.candidates.size]
            probs = sampled_probs_of(np.asarray(kept["id"]), np.asarray(kept["p"]), token, n_probs)
        if grammar is not None:
            grammar.accept(token)
        chain.accept(token)
        return token, probs

    def _masked(self, chain: LlamaSampler, grammar: Guide, logits: np.ndarray) -> int:
        """The token the chain draws from the candidates the grammar allows (the whole vocabulary masked);
        a ConstraintError when it allows none."""
        cur = self._candidates
        cur.copy_logits(np.where(grammar.allowed(), logits, -np.inf).astype(np.float32))
        llama_cpp.llama_sampler_apply(chain.sampler, ctypes.byref(cur.candidates))
        return int(cur.candidates.data[cur.candidates.selected].id)

    def _likeliest_allowed(self, grammar: Guide, logits: np.ndarray) -> int | None:
        """Greedy decoding's answer under the grammar without masking the whole vocabulary: the likeliest of
        the GREEDY_CANDIDATES likeliest tokens that the grammar allows (one cheap check each), or None when
        it allows none of them (then the whole vocabulary is masked). The same token as masking first."""
        top = np.argpartition(-logits, GREEDY_CANDIDATES)[:GREEDY_CANDIDATES]
        for token in top[np.argsort(-logits[top], kind="stable")]:
            if grammar.allows(int(token)):
                return int(token)
        return None


class _Request:
    """One slot's generation inside the batch: what is left to evaluate, and what the caller waits for."""

    def __init__(
        self,
        slot: LlamaCppSlot,
        evaluated: list[int],
        pending: list[int],
        chain: LlamaSampler,
        grammar: Guide | None,
    ) -> None:
        self.slot = slot
        self.evaluated = evaluated  # the tokens in this sequence's KV cells, in order
        self.pending = pending  # prompt tokens still to evaluate, then the last sampled token
        self.chain = chain
        self.grammar = grammar
        self.wanted = False  # the caller asked for the next token (guarded by the decoder's lock)
        self.streaming = False  # the prompt is done and the caller has taken a token: decode ahead
        self.trim = True  # the sequence's cells past the cached prefix are still to be cut (BatchDecoder._trim)
        self.closed = False
        self.results: queue.SimpleQueue[tuple[int, TokenProbs | None] | BaseException] = queue.SimpleQueue()


class BatchDecoder:
    """Continuous batching on one llama.cpp context, as llama-server's slots: every slot is a sequence id of
    the context (``n_seq_max`` = slots, each with its own ``n_ctx`` cells: a non-unified KV cache), and one
    thread runs ``llama_decode`` on a batch holding every waiting slot's next token plus prompt chunks, up to
    PROMPT_BATCH tokens, generating slots first so that a long prompt never stalls the streams; then it
    samples each slot whose last token was in the batch, on that token's logits.

    A slot's request waits in :meth:`next`; the thread decodes a stream at most LOOKAHEAD tokens ahead of its
    caller (see :meth:`_ready`). :meth:`finish` waits until the thread no longer holds the request and sets the
    slot's prompt cache to the tokens in its cells."""

    def __init__(self, engine: LlamaCppEngine, n_seq: int) -> None:
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = engine.n_ctx if engine.kv_unified else engine.n_ctx * n_seq
        params.n_batch = params.n_ubatch = PROMPT_BATCH
        params.n_seq_max = n_seq
        params.kv_unified = engine.kv_unified
        params.n_threads = params.n_threads_batch = engine.threads
        params.no_perf = True
        self.context = LlamaContext(model=engine.main._model, params=params, verbose=False)
        self.ctx = self.context.ctx
        self.n_seq = n_seq
        self.n_ctx_seq = engine.n_ctx  # each sequence's cells: decoding ahead never goes past them
        self._batch = llama_cpp.llama_batch_init(PROMPT_BATCH, 0, 1)
        self._lock = threading.Condition()
        self._active: dict[int, _Request] = {}
        self._slots: dict[int, LlamaCppSlot] = {}  # every slot that has generated, by sequence id
        self._busy: set[int] = set()  # sequences in the step being decoded
        self.n_decode = 0  # llama_decode calls, and the sequences they held in all (for /metrics)
        self.n_busy_slots = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="llama-batch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the decoder thread and free the batch and the context's cells (the KV cache). Only when no
        request is in the batch: a request still in it is a RuntimeError. Every slot's cache is emptied."""
        with self._lock:
            if self._active:
                raise RuntimeError(f"{len(self._active)} request(s) still in the batch")
            self._closed = True
            self._lock.notify_all()
        self._thread.join()
        for slot in self._slots.values():
            slot.cached_tokens = []
        llama_cpp.llama_batch_free(self._batch)
        self.context.close()

    def start(self, slot: LlamaCppSlot, prompt: list[int], chain: LlamaSampler, grammar: Guide | None) -> _Request:
        """Join the batch: the slot will keep the cells of its cached prefix (``slot.last_cache_n`` tokens) and
        drop the rest. Decided under the lock, so that an eviction of idle caches cannot slip in between; the
        cells themselves are cut by the decoder thread (:meth:`_trim`), never while a decode runs."""
        if not prompt:
            raise ValueError("an empty prompt has nothing to decode")
        with self._lock:
            reuse = slot.common_prefix(prompt)
            slot.last_cache_n = reuse
            request = _Request(slot, prompt[:reuse], prompt[reuse:], chain, grammar)
            self._slots[slot.seq_id] = slot
            self._active[slot.seq_id] = request
            self._lock.notify_all()
        return request

    def next(self, request: _Request, cancelled: threading.Event | None) -> tuple[int | None, TokenProbs | None]:
        """The request's next token and its probabilities; (None, None) once ``cancelled`` is set."""
        if cancelled is not None and cancelled.is_set():
            return None, None  # tokens decoded ahead are dropped with the request
        with self._lock:
            request.wanted = True
            self._lock.notify_all()
        while True:
            try:
                item = request.results.get(timeout=0.05)
            except queue.Empty:
                if cancelled is not None and cancelled.is_set():
                    return None, None
                continue
            if isinstance(item, BaseException):
                raise item
            return item

    def finish(self, request: _Request) -> None:
        """Leave the batch; the slot's ``cached_tokens`` become the tokens in its cells, set under the lock so
        that an eviction never sees the slot idle with its old cache."""
        with self._lock:
            request.closed = True
            self._lock.wait_for(lambda: request.slot.seq_id not in self._busy)
            if self._active.get(request.slot.seq_id) is request:
                del self._active[request.slot.seq_id]
            request.slot.cached_tokens = [] if request.trim else list(request.evaluated)

    def _ready(self) -> list[_Request]:
        """Requests with tokens to evaluate whose caller has asked, or is at most LOOKAHEAD tokens behind:
        a stream is decoded ahead of its caller so that every stream joins every step (waiting for each
        caller to ask would split the batch); what is decoded past a stop is at most LOOKAHEAD tokens."""
        return [
            r
            for r in self._active.values()
            if r.pending
            and not r.closed
            and (r.wanted or (r.streaming and r.results.qsize() < LOOKAHEAD and len(r.evaluated) + 1 < self.n_ctx_seq))
        ]

    def _run(self) -> None:
        while True:
            try:
                with self._lock:
                    self._lock.wait_for(lambda: self._closed or self._ready())
                    if self._closed:
                        return
                    self._trim()
                    self._refuse_past_context()
                    ready = sorted(self._ready(), key=lambda r: len(r.pending) > 1)  # streams before prompts
                    plan = self._fill(ready)
                    self._busy = {r.slot.seq_id for r, _ in plan}
                if plan:
                    self._step(plan)
            except Exception as exc:  # the thread must outlive any one step: fail the requests, not the server
                log.exception("batch decoder step failed")
                with self._lock:
                    for request in self._active.values():
                        request.wanted = request.streaming = False
                        request.results.put(RuntimeError(f"the decoder failed: {exc}"))
            finally:
                with self._lock:
                    self._busy = set()
                    self._lock.notify_all()

    def _trim(self) -> None:
        """Cut each new request's sequence to its cached prefix (on this thread: no decode runs meanwhile). A
        model whose memory cannot be cut partway (recurrent and hybrid models, Nemotron-H among them: llama.cpp
        refuses) loses the whole sequence and evaluates the prompt from the start, as llama-server does."""
        memory = self.context.memory
        for request in self._active.values():
            if not request.trim:
                continue
            request.trim = False
            seq = request.slot.seq_id
            if not llama_cpp.llama_memory_seq_rm(memory, seq, len(request.evaluated), -1):
                llama_cpp.llama_memory_seq_rm(memory, seq, -1, -1)
                request.pending = request.evaluated + request.pending
                request.evaluated = []
                request.slot.last_cache_n = 0

    def _evict_idle(self) -> bool:
        """Drop the cells of every slot no request holds (their prompt caches); whether any were dropped."""
        with self._lock:
            idle = [slot for seq, slot in self._slots.items() if seq not in self._active and slot.cached_tokens]
            for slot in idle:
                llama_cpp.llama_memory_seq_rm(self.context.memory, slot.seq_id, 0, -1)
                slot.cached_tokens = []
        return bool(idle)

    def _refuse_past_context(self) -> None:
        """A request asking for a token its sequence has no cell for gets a ContextOverflowError (the
        generation loop stops before that; this keeps one request's overflow from failing the whole batch)."""
        for r in self._ready():
            if len(r.evaluated) + len(r.pending) > self.n_ctx_seq:
                r.wanted = False
                r.results.put(
                    ContextOverflowError(
                        f"the slot's context of {self.n_ctx_seq} tokens is full",
                        n_prompt_tokens=len(r.evaluated),
                        n_ctx=self.n_ctx_seq,
                    )
                )

    def _fill(self, ready: list[_Request]) -> list[tuple[_Request, int]]:
        """Write the batch: each request's pending tokens (as many as fit), logits at a request's last one."""
        batch, n, plan = self._batch, 0, []
        for request in ready:
            take = min(len(request.pending), PROMPT_BATCH - n)
            if take <= 0:
                break
            for j, token in enumerate(request.pending[:take]):
                batch.token[n] = token
                batch.pos[n] = len(request.evaluated) + j
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = request.slot.seq_id
                batch.logits[n] = j == take - 1 and take == len(request.pending)
                n += 1
            plan.append((request, take))
        batch.n_tokens = n
        return plan

    def _step(self, plan: list[tuple[_Request, int]]) -> None:
        code = llama_cpp.llama_decode(self.ctx, self._batch)
        if code == 1 and self._evict_idle():  # no free cells: idle slots' prompt caches make room
            code = llama_cpp.llama_decode(self.ctx, self._batch)
        self.n_decode += 1
        self.n_busy_slots += len(plan)
        if code != 0:
            # 1: no KV cells for the batch (the slots of a unified cache used them all), as llama-server
            error: Exception = (
                ServerError("the context size has been exceeded: the slots' shared KV cells are full")
                if code == 1
                else RuntimeError(f"llama_decode returned {code}")
            )
            for request, _ in plan:
                llama_cpp.llama_memory_seq_rm(self.context.memory, request.slot.seq_id, len(request.evaluated), -1)
                with self._lock:
                    request.wanted = request.streaming = False  # not decoded again: its caller gets the error
                request.results.put(error)
            return
        index = 0
        for request, take in plan:
            request.evaluated += request.pending[:take]
            request.pending = request.pending[take:]
            index += take
            if request.pending:
                continue  # a prompt chunk: more of it next step
            try:
                token, probs = request.slot.sample(request, index - 1)
            except Exception as exc:  # a grammar with no way on: the request's error, not the thread's
                request.results.put(exc)
                continue
            with self._lock:
                request.wanted = False
                request.streaming = True
            request.pending = [token]
            request.results.put((token, probs))


def _sampler_chain(llm: llama_cpp.Llama, params: SamplingParams, seed: int) -> LlamaSampler:
    """``Llama._init_sampler``'s chain (llama-server's order and defaults), without the grammar."""
    chain = LlamaSampler()
    chain.add_penalties(
        n_vocab=llm.n_vocab(),
        penalty_last_n=llm.last_n_tokens_size,
        penalty_repeat=params.repeat_penalty,
        penalty_freq=0.0,
        penalty_present=0.0,
    )
    if params.temperature == 0.0:
        chain.add_greedy()
    else:
        chain.add_top_k(params.top_k)
        chain.add_typical(1.0, 1)
        chain.add_top_p(params.top_p, 1)
        chain.add_min_p(params.min_p, 1)
        chain.add_temp(params.temperature)
        chain.add_dist(seed)
    return chain


class LlamaCppEngine(Engine):
    name = "llamacpp"

    def __init__(
        self,
        model: str,
        n_ctx: int,
        gpu_layers: int = 0,
        threads: int | None = None,
        parallel: int | None = None,
        kv_unified: bool = False,
    ) -> None:
        """``n_ctx``: each slot's context. ``parallel``: the slots (sequences of the one batched context),
        allocated at load; None: as many as :meth:`new_slot` made before the first generation.
        ``kv_unified``: the slots share ``n_ctx`` cells instead of having ``n_ctx`` each."""
        if not Path(model).is_file():
            raise FileNotFoundError(f"GGUF model file not found: {model}")
        super().__init__(model, n_ctx)
        self.parallel = parallel
        self.kv_unified = kv_unified
        self._decoder: BatchDecoder | None = None
        self._decoder_lock = threading.Lock()
        self._slots = 0
        self.gpu_layers = gpu_layers
        self.threads = threads or max(1, min(os.cpu_count() or 1, 8))
        self._main: llama_cpp.Llama | None = None
        self._pieces: list[bytes] = []
        self._end_ids: frozenset[int] = frozenset()
        self._ll_tokenizer: LLTokenizer | None = None
        self._ll_lock = threading.Lock()
        self._embedder: llama_cpp.Llama | None = None  # a context of its own that outputs embeddings
        self._embed_lock = threading.Lock()
        # kept across unload(), for what is answered while the model sleeps (/props, /health, /metrics)
        self._metadata: dict[str, str] = {}
        self._special: dict[str, str] = {}
        self._decoded_before = (0, 0)  # decode counts of contexts freed by unload()
        self._counts_lock = threading.Lock()

    def new_context(self) -> llama_cpp.Llama:
        """The model and a small context of its own: tokenizer, vocabulary and metadata (the slots decode in
        the :class:`BatchDecoder`'s context)."""
        return llama_cpp.Llama(
            model_path=self.model_path,
            n_ctx=MAIN_CONTEXT,
            n_batch=MAIN_CONTEXT,
            n_threads=self.threads,
            n_gpu_layers=self.gpu_layers,
            verbose=False,
        )

    @property
    def main(self) -> llama_cpp.Llama:
        if self._main is None:
            raise RuntimeError("the model is not loaded yet")
        return self._main

    def load(self) -> None:
        if self._main is not None:  # a second load (after a failed one): free what is there first
            self.unload()
        self._main = self.new_context()
        if self.parallel is not None:
            try:
                self._decoder = BatchDecoder(self, self.parallel)
            except BaseException:
                self._main.close()
                self._main = None
                raise
        vocab = self._main._model.vocab
        pieces = []
        buf = (llama_cpp.ctypes.c_char * 256)()
        for token in range(self._main.n_vocab()):
            n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, True)
            pieces.append(buf.raw[: max(n, 0)])
        self._pieces = pieces
        self._end_ids = frozenset(t for t in range(len(pieces)) if llama_cpp.llama_vocab_is_eog(vocab, t))
        self._metadata = dict(self._main.metadata)

        def text(token: int) -> str:
            return pieces[token].decode("utf-8", errors="replace") if 0 <= token < len(pieces) else ""

        self._special = {"bos_token": text(self._main.token_bos()), "eos_token": text(self._main.token_eos())}

    def unload(self) -> None:
        """Free the model, its batched context (the KV cache) and the embeddings context, as llama-server's
        sleep does; :meth:`load` (and :meth:`load_embeddings`) bring them back. The slots stay (their caches
        emptied), and so do what /props, /health and /metrics read. Only when no request is running: the
        decoder refuses to close with one in its batch (RuntimeError)."""
        with self._decoder_lock:
            decoder = self._decoder
            if decoder is not None:
                decoder.close()  # RuntimeError while a request is in its batch: nothing is freed then
                with self._counts_lock:  # one step, so that /metrics never sees the counters go back
                    n_decode, n_busy = self._decoded_before
                    self._decoded_before = (n_decode + decoder.n_decode, n_busy + decoder.n_busy_slots)
                    self._decoder = None
        with self._embed_lock:
            if self._embedder is not None:
                self._embedder.close()
                self._embedder = None
        with self._ll_lock:
            self._ll_tokenizer = None  # it points into the vocabulary being freed
        if self._main is not None:
            self._main.close()
            self._main = None

    def _guidance_tokenizer(self, vocab: llama_cpp.llama_vocab_p, pieces: list[bytes]) -> LLTokenizer:
        """llguidance's view of this vocabulary: each token's bytes, control tokens (and user-defined ones
        written like ``<tag>``) marked with a leading 0xff so that no grammar spells them by accident, and
        llama.cpp's own tokenizer for the grammar's literal strings (as ``llguidance.llamacpp`` builds it,
        from the pieces already read instead of reading the vocabulary twice)."""
        tokens = []
        for token, piece in enumerate(pieces):
            attr = llama_cpp.llama_vocab_get_attr(vocab, token)
            special = attr & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL or (
                attr & llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED and piece.startswith(b"<") and piece.endswith(b">")
            )
            tokens.append(b"\xff" + piece if special else piece)
        tokenize = ctypes.cast(llama_cpp.llama_cpp._lib.llama_tokenize, ctypes.c_void_p).value
        return LLTokenizer.from_llamacpp(  # type: ignore[attr-defined]
            tokens=tokens, vocab_ptr=vocab, tokenize_fptr=tokenize, eos_token=sorted(self._end_ids) or None
        )

    @property
    def ll_tokenizer(self) -> LLTokenizer:
        """llguidance's tokenizer, built on the first constraint: ~0.5-0.7 s for a 49k vocabulary on this VM,
        holding the GIL, so it is not paid at start-up (where it would delay /health) by a server that never
        constrains anything."""
        with self._ll_lock:
            if self._ll_tokenizer is None:
                self._ll_tokenizer = self._guidance_tokenizer(self.main._model.vocab, self._pieces)
            return self._ll_tokenizer

    def load_embeddings(self, pooling: Pooling | None) -> Pooling:
        """A context of its own with llama.cpp's embeddings on (``--embedding``): the generation slots are
        untouched. ``pooling`` None takes the model's (``none`` for a generative model)."""
        llm = llama_cpp.Llama(
            model_path=self.model_path,
            n_ctx=max(self.n_ctx, PHYSICAL_BATCH),
            n_batch=PHYSICAL_BATCH,
            n_ubatch=PHYSICAL_BATCH,
            n_threads=self.threads,
            n_gpu_layers=self.gpu_layers,
            embedding=True,
            pooling_type=POOLING_TYPES.index(pooling) if pooling else llama_cpp.LLAMA_POOLING_TYPE_UNSPECIFIED,
            verbose=False,
        )
        effective = int(llama_cpp.llama_pooling_type(llm.ctx))
        if not 0 <= effective < len(POOLING_TYPES):
            raise ValueError(f"llama.cpp reports pooling type {effective}, which this server does not know")
        self._embedder = llm
        return POOLING_TYPES[effective]

    def embed(self, tokens: list[int]) -> np.ndarray:
        llm = self._embedder
        if llm is None:
            raise RuntimeError("embeddings are not loaded (start the server with --embedding)")
        n_embd = llm.n_embd()
        with self._embed_lock:
            llm._batch.reset()
            llm._ctx.kv_cache_clear()
            llm._batch.add_sequence(tokens, 0, True)  # every token an output, as llama.cpp's embedding mode wants
            try:
                llm._ctx.decode(llm._batch)
                pooling = llama_cpp.llama_pooling_type(llm.ctx)
                if pooling == llama_cpp.LLAMA_POOLING_TYPE_NONE:
                    rows = llama_cpp.llama_get_embeddings(llm.ctx)
                    out = np.ctypeslib.as_array(rows, shape=(len(tokens) * n_embd,)).reshape(len(tokens), n_embd)
                elif pooling == llama_cpp.LLAMA_POOLING_TYPE_RANK:  # n_cls_out scores; the first is relevance
                    out = np.ctypeslib.as_array(llama_cpp.llama_get_embeddings_seq(llm.ctx, 0), shape=(1, 1))
                else:
                    out = np.ctypeslib.as_array(llama_cpp.llama_get_embeddings_seq(llm.ctx, 0), shape=(1, n_embd))
                return out.copy()
            finally:
                llm._batch.reset()
                llm._ctx.kv_cache_clear()

    def rerank_prompt(self, query: str, document: str) -> list[int]:
        """The model's ``rerank`` chat template with ``{query}`` and ``{document}`` filled in, else BOS,
        query, EOS, SEP, document, EOS, each special token only where the vocabulary adds it."""
        template = self.main.metadata.get("tokenizer.chat_template.rerank")
        if template:
            text = template.replace("{query}", query).replace("{document}", document)
            return self.tokenize(text, add_special=False, parse_special=True)
        vocab = self.main._model.vocab
        eos = llama_cpp.llama_vocab_eos(vocab)
        if eos == llama_cpp.LLAMA_TOKEN_NULL:
            eos = llama_cpp.llama_vocab_sep(vocab)
        add_eos = [eos] if llama_cpp.llama_vocab_get_add_eos(vocab) else []
        return [
            *([llama_cpp.llama_vocab_bos(vocab)] if llama_cpp.llama_vocab_get_add_bos(vocab) else []),
            *self.tokenize(query, add_special=False, parse_special=False),
            *add_eos,
            *([llama_cpp.llama_vocab_sep(vocab)] if llama_cpp.llama_vocab_get_add_sep(vocab) else []),
            *self.tokenize(document, add_special=False, parse_special=False),
            *add_eos,
        ]

    @property
    def decoder(self) -> BatchDecoder:
        """The batched context, made on first use for the slots made so far when ``parallel`` was None."""
        decoder = self._decoder  # read on every sampled token: no lock once it exists
        if decoder is not None:
            return decoder
        with self._decoder_lock:
            if self._decoder is None:
                self._decoder = BatchDecoder(self, max(self._slots, 1))
            return self._decoder

    def decode_counts(self) -> tuple[int, int]:
        with self._counts_lock:
            decoder, (n_decode, n_busy) = self._decoder, self._decoded_before
        return (
            (n_decode + decoder.n_decode, n_busy + decoder.n_busy_slots) if decoder is not None else (n_decode, n_busy)
        )

    def new_slot(self) -> LlamaCppSlot:
        """The next slot: a sequence of the batched context; a ValueError once the context has no more."""
        n_seq = self._decoder.n_seq if self._decoder is not None else None
        if n_seq is not None and self._slots >= n_seq:
            raise ValueError(f"the llamacpp engine's context holds {n_seq} slot(s) (--parallel)")
        self._slots += 1
        return LlamaCppSlot(self, self._slots - 1)

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool = True) -> list[int]:
        return self.main.tokenize(text.encode("utf-8"), add_bos=add_special, special=parse_special)

    def token_bytes(self, token: int) -> bytes:
        return self._pieces[token]

    def is_end_of_generation(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.main._model.vocab, token))

    @property
    def vocab_size(self) -> int:
        return len(self._pieces)

    @property
    def chat_template(self) -> str | None:
        return self._metadata.get("tokenizer.chat_template")

    @property
    def special_tokens(self) -> dict[str, str]:
        return dict(self._special)

    def compile_constraint(self, constraint: Constraint) -> CompiledGrammar:
        return CompiledGrammar(constraint.kind, compile_grammar(constraint, self.ll_tokenizer))

    def new_guide(self, compiled: CompiledGrammar) -> Guide:
        """A fresh grammar state for one request."""
        return Guide(self.ll_tokenizer, compiled.grammar, len(self._pieces), self._end_ids)

    def health_details(self) -> dict[str, Any]:
        gpu = bool(llama_cpp.llama_supports_gpu_offload())
        ftype = _FTYPE_NAMES.get(int(self._metadata.get("general.file_type", -1)), "unknown")
        return {
            "device": "cuda:0" if gpu and self.gpu_layers else "cpu",
            "cuda_available": gpu,
            "vram_used_gb": 0.0,
            "quantization": ftype,
            "quantization_details": {"mode": "gguf", "file_type": ftype},
            "attention_implementation": "llama.cpp",
            "flash_attention_available": False,
        }
