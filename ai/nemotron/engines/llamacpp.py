"""The default engine: llama.cpp in-process through llama-cpp-python, for any GGUF file.

Each slot is its own ``llama_cpp.Llama`` context (the weights are memory-mapped once by the OS), so
slots share nothing but read-only weights. Constraints compile to GBNF and run in llama.cpp's own grammar
sampler, which masks the candidates before the sampler chain draws, so every sampled token is allowed by
the grammar; a grammar that allows none is a ConstraintError (llama.cpp itself would abort the process).
"""

from __future__ import annotations

import ctypes
import os
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp._internals import LlamaSampler, LlamaTokenDataArray
from llama_cpp.llama_grammar import JSON_GBNF

from ai.nemotron.constraints import Constraint
from ai.nemotron.engines.base import (
    PHYSICAL_BATCH,
    POOLING_TYPES,
    Engine,
    EngineSlot,
    Pooling,
    SamplingParams,
    apply_logit_bias,
    logprobs_of,
    sampled_probs_of,
)
from ai.nemotron.engines.llamacpp_schema import schema_grammar
from ai.nemotron.errors import ConstraintError
from ai.nemotron.gbnf import check_nesting, choice_grammar, regex_grammar

_FTYPE_NAMES = {
    value: name.removeprefix("LLAMA_FTYPE_").removeprefix("MOSTLY_")
    for name, value in vars(llama_cpp).items()
    if name.startswith("LLAMA_FTYPE_") and isinstance(value, int)
}


@dataclass(frozen=True)
class CompiledGrammar:
    """A GBNF grammar llama.cpp has parsed once; each request gets a fresh sampler of it."""

    gbnf: str


class LlamaCppSlot(EngineSlot):
    def __init__(self, engine: LlamaCppEngine) -> None:
        super().__init__()
        self.engine = engine
        self.llm = engine.new_context()
        self._candidates = LlamaTokenDataArray(n_vocab=self.llm.n_vocab())
        self._one_data = (llama_cpp.llama_token_data * 1)()  # one candidate: the grammar's check of a token
        self._one = llama_cpp.llama_token_data_array(data=self._one_data, size=1, selected=-1, sorted=False)
        self._probs: tuple[int, bool] = (0, False)  # the running request's (n_probs, post_sampling_probs)
        self._bias: tuple[tuple[int, float], ...] = ()  # the running request's logit_bias

    def generate(
        self,
        prompt_tokens: list[int],
        params: SamplingParams,
        constraint: CompiledGrammar | None,
        cancelled: threading.Event | None = None,
    ) -> Iterator[int]:
        """llama-cpp-python's ``Llama.generate`` loop, with two differences.

        The grammar is not in the sampler chain: llama.cpp's chain accepts whatever it drew, and the
        grammar sampler throws a C++ exception (which aborts the process) on a token it does not allow,
        which is what it draws when the grammar allows none. Here the grammar masks the candidates first,
        and a grammar that leaves none is a ConstraintError. And the prompt is evaluated one batch at a
        time (the same batches ``eval`` makes), so a cancelled request stops between batches.
        """
        llm = self.llm
        reuse = self.common_prefix(prompt_tokens)
        self.last_cache_n = reuse
        llm.n_tokens = reuse  # eval() drops every cached position from here on
        self.cached_tokens = prompt_tokens[:reuse]
        seed = params.seed if params.seed is not None else random.randrange(2**31)
        chain = _sampler_chain(llm, params, seed)
        self._probs = (params.n_probs, params.post_sampling_probs)
        self._bias = params.logit_bias
        self.last_probs = None
        grammar = self.engine.grammar_sampler(constraint.gbnf) if constraint is not None else None
        try:
            pending = prompt_tokens[reuse:]
            while len(pending) > llm.n_batch:
                if cancelled is not None and cancelled.is_set():
                    return
                llm.eval(pending[: llm.n_batch])
                pending = pending[llm.n_batch :]
            while True:
                if cancelled is not None and cancelled.is_set():
                    return
                llm.eval(pending)
                token = self._sample(chain, grammar)
                yield token
                pending = [token]
        finally:
            chain.close()
            if grammar is not None:
                llama_cpp.llama_sampler_free(grammar)
            self.cached_tokens = [int(t) for t in llm.input_ids[: llm.n_tokens]]

    def _sample(self, chain: LlamaSampler, grammar: llama_cpp.llama_sampler_p | None) -> int:
        """What llama.cpp's ``common_sampler_sample`` does (llama-server's sampling), grammar included.

        The chain samples first, unconstrained; the grammar then checks only the token drawn, and when it
        allows it that token stands (grammar-based rejection sampling: one grammar check per token instead
        of one per vocabulary entry, which is what made constrained decoding slow). Only when the grammar
        refuses it are the candidates masked by the grammar and drawn again; a grammar that then leaves none
        is a ConstraintError (llama.cpp's chain would take whatever it drew; its grammar sampler would abort
        the process on it). Greedy decoding gives the same tokens either way.
        """
        llm, cur = self.llm, self._candidates
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(cur.n_vocab,))
        if self._bias:
            logits = apply_logit_bias(logits, self._bias)
        n_probs, post_sampling = self._probs
        raw = logits if n_probs and not post_sampling else None  # the samplers change the candidates, not this
        cur.copy_logits(logits)
        cur_p = ctypes.byref(cur.candidates)
        llama_cpp.llama_sampler_apply(chain.sampler, cur_p)
        token = int(cur.candidates.data[cur.candidates.selected].id)
        if grammar is not None and not self._allows(grammar, token):
            cur.copy_logits(logits)
            llama_cpp.llama_sampler_apply(grammar, cur_p)
            if not np.isfinite(cur.candidates_data.logit).any():
                done = self.engine.detokenize(list(llm.input_ids[self.last_cache_n : llm.n_tokens]))
                raise ConstraintError(
                    "the grammar allows no token this model can produce next (after "
                    f"{done[-40:]!r}): it needs text no token spells, or it has no end"
                )
            llama_cpp.llama_sampler_apply(chain.sampler, cur_p)
            token = int(cur.candidates.data[cur.candidates.selected].id)
        if raw is not None:
            self.last_probs = logprobs_of(raw, token, n_probs)
        elif n_probs:
            kept = cur.candidates_data[: cur.candidates.size]
            self.last_probs = sampled_probs_of(np.asarray(kept["id"]), np.asarray(kept["p"]), token, n_probs)
        if grammar is not None:
            llama_cpp.llama_sampler_accept(grammar, token)
        chain.accept(token)
        return token

    def _allows(self, grammar: llama_cpp.llama_sampler_p, token: int) -> bool:
        """Whether ``grammar``, in its current state, allows ``token`` next (a one-candidate check)."""
        self._one_data[0] = llama_cpp.llama_token_data(token, 1.0, 0.0)
        self._one.size, self._one.selected, self._one.sorted = 1, -1, False
        llama_cpp.llama_sampler_apply(grammar, ctypes.byref(self._one))
        return bool(np.isfinite(self._one_data[0].logit))


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

    def __init__(self, model: str, n_ctx: int, gpu_layers: int = 0, threads: int | None = None) -> None:
        if not Path(model).is_file():
            raise FileNotFoundError(f"GGUF model file not found: {model}")
        super().__init__(model, n_ctx)
        self.gpu_layers = gpu_layers
        self.threads = threads or max(1, min(os.cpu_count() or 1, 8))
        self._main: llama_cpp.Llama | None = None
        self._pieces: list[bytes] = []
        self._embedder: llama_cpp.Llama | None = None  # a context of its own that outputs embeddings
        self._embed_lock = threading.Lock()

    def new_context(self) -> llama_cpp.Llama:
        return llama_cpp.Llama(
            model_path=self.model_path,
            n_ctx=self.n_ctx,
            n_batch=min(512, self.n_ctx),
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
        self._main = self.new_context()
        vocab = self._main._model.vocab
        pieces = []
        buf = (llama_cpp.ctypes.c_char * 256)()
        for token in range(self._main.n_vocab()):
            n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, True)
            pieces.append(buf.raw[: max(n, 0)])
        self._pieces = pieces

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

    def new_slot(self) -> LlamaCppSlot:
        return LlamaCppSlot(self)

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
        return self.main.metadata.get("tokenizer.chat_template")

    @property
    def special_tokens(self) -> dict[str, str]:
        def text(token: int) -> str:
            return self._pieces[token].decode("utf-8", errors="replace") if 0 <= token < len(self._pieces) else ""

        return {"bos_token": text(self.main.token_bos()), "eos_token": text(self.main.token_eos())}

    def compile_constraint(self, constraint: Constraint) -> CompiledGrammar:
        if constraint.kind == "json_schema":
            gbnf = schema_grammar(constraint.value)
        elif constraint.kind == "json_object":
            gbnf = JSON_GBNF  # its root is a JSON object
        elif constraint.kind == "choice":
            gbnf = choice_grammar(constraint.value)
        elif constraint.kind == "regex":
            gbnf = regex_grammar(constraint.value)
        else:
            gbnf = constraint.value
        what = "the GBNF grammar" if constraint.kind == "grammar" else f"the {constraint.kind} constraint's grammar"
        check_nesting(gbnf, what)
        # llama.cpp returns no sampler for a grammar it cannot parse: find that out before decoding.
        llama_cpp.llama_sampler_free(self.grammar_sampler(gbnf, what))
        return CompiledGrammar(gbnf)

    def grammar_sampler(self, gbnf: str, what: str = "the grammar") -> llama_cpp.llama_sampler_p:
        """A new llama.cpp grammar sampler (the caller frees it), or a ConstraintError."""
        sampler = llama_cpp.llama_sampler_init_grammar(self.main._model.vocab, gbnf.encode(), b"root")
        if not sampler:
            raise ConstraintError(f"{what} failed to parse (llama.cpp GBNF syntax, with a 'root' rule)")
        return sampler

    def health_details(self) -> dict[str, Any]:
        gpu = bool(llama_cpp.llama_supports_gpu_offload())
        ftype = _FTYPE_NAMES.get(int(self.main.metadata.get("general.file_type", -1)), "unknown")
        return {
            "device": "cuda:0" if gpu and self.gpu_layers else "cpu",
            "cuda_available": gpu,
            "vram_used_gb": 0.0,
            "quantization": ftype,
            "quantization_details": {"mode": "gguf", "file_type": ftype},
            "attention_implementation": "llama.cpp",
            "flash_attention_available": False,
        }
