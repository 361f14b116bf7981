"""The default engine: llama.cpp in-process through llama-cpp-python, for any GGUF file.

Each slot is its own ``llama_cpp.Llama`` context (the weights are memory-mapped once by the OS), so
slots share nothing but read-only weights. Constraints compile to GBNF and run inside llama.cpp's own
grammar sampler, so every sampled token is allowed by the grammar.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cpp
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

from ai.nemotron.constraints import Constraint
from ai.nemotron.engines.base import Engine, EngineSlot, SamplingParams
from ai.nemotron.engines.llamacpp_schema import schema_grammar
from ai.nemotron.errors import ConstraintError
from ai.nemotron.gbnf import choice_grammar, regex_grammar

_FTYPE_NAMES = {
    value: name.removeprefix("LLAMA_FTYPE_").removeprefix("MOSTLY_")
    for name, value in vars(llama_cpp).items()
    if name.startswith("LLAMA_FTYPE_") and isinstance(value, int)
}


class LlamaCppSlot(EngineSlot):
    def __init__(self, engine: LlamaCppEngine) -> None:
        super().__init__()
        self.llm = engine.new_context()

    def generate(
        self, prompt_tokens: list[int], params: SamplingParams, constraint: LlamaGrammar | None
    ) -> Iterator[int]:
        llm = self.llm
        reuse = self.common_prefix(prompt_tokens)
        self.last_cache_n = reuse
        llm.n_tokens = reuse  # eval() drops every cached position from here on
        self.cached_tokens = prompt_tokens[:reuse]
        llm.set_seed(params.seed if params.seed is not None else random.randrange(2**31))
        try:
            yield from llm.generate(
                prompt_tokens[reuse:],
                top_k=params.top_k,
                top_p=params.top_p,
                min_p=params.min_p,
                temp=params.temperature,
                repeat_penalty=params.repeat_penalty,
                reset=False,
                grammar=constraint,
            )
        finally:
            self.cached_tokens = [int(t) for t in llm.input_ids[: llm.n_tokens]]


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

    def compile_constraint(self, constraint: Constraint) -> LlamaGrammar:
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
        self._check_grammar(gbnf, constraint.kind)
        return LlamaGrammar.from_string(gbnf, verbose=False)

    def _check_grammar(self, gbnf: str, kind: str) -> None:
        """llama.cpp returns no sampler for a grammar it cannot parse: find that out before decoding."""
        sampler = llama_cpp.llama_sampler_init_grammar(self.main._model.vocab, gbnf.encode(), b"root")
        if not sampler:
            what = "the GBNF grammar" if kind == "grammar" else f"the {kind} constraint's grammar"
            raise ConstraintError(f"{what} failed to parse (llama.cpp GBNF syntax, with a 'root' rule)")
        llama_cpp.llama_sampler_free(sampler)

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
