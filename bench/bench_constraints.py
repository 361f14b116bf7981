"""The constraint engine's cost per token: llguidance (what both engines use, ai/nemotron/guidance.py) against
llama.cpp's own grammar sampler on the GBNF that llama.cpp's JSON-schema converter writes (llama-cpp-python's
``llama_grammar.json_schema_to_gbnf``, a copy of llama.cpp's ``json_schema_to_grammar``), on the analyzer's
risk schema with the bundled model's vocabulary (49,152 tokens). No decoding: one valid answer is replayed
token by token, so the figures are the constraint's own cost.

Two figures, as the llama.cpp engine samples (rejection sampling, llama.cpp's ``common_sampler_sample``):

* check + accept, per token: is the drawn token allowed, then advance (what nearly every token costs);
* full mask, per step: which of the whole vocabulary is allowed (what a refused token costs).

Rounds are interleaved; median and range are printed. Usage::

    .venv/bin/python -m bench.bench_constraints [--rounds 5]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import statistics
import time
from collections.abc import Callable

import llama_cpp
import numpy as np
from llama_cpp.llama_grammar import json_schema_to_gbnf

from ai.nemotron.constraints import Constraint
from ai.nemotron.engines.llamacpp import LlamaCppEngine
from ai.nemotron.settings import embedded_model_path
from backend.domain.llm_response import RISK_ANALYSIS_JSON_SCHEMA

ANSWER = {
    "risk_score": 72,
    "risk_level": "high",
    "summary": "A person in dark clothing tried the back door handle at 03:10 and looked through the kitchen "
    "window before leaving.",
    "reasoning": "Unknown person at an entry point at night, trying the door.",
    "risk_factors": ["night", "entry point"],
    "recommended_action": "check the back door",
}
MASK_STEPS = 40


class _GBNF:
    """llama.cpp's grammar sampler over a GBNF grammar: one-candidate checks and whole-vocabulary masks."""

    def __init__(self, engine: LlamaCppEngine, gbnf: str) -> None:
        self.vocab = engine.main._model.vocab
        self.gbnf = gbnf.encode()
        self.n_vocab = engine.vocab_size
        self.one_data = (llama_cpp.llama_token_data * 1)()
        self.one = llama_cpp.llama_token_data_array(data=self.one_data, size=1, selected=-1, sorted=False)
        self.cands = np.zeros(self.n_vocab, dtype=[("id", np.int32), ("logit", np.float32), ("p", np.float32)])

    def check_and_accept(self, tokens: list[int]) -> float:
        sampler = llama_cpp.llama_sampler_init_grammar(self.vocab, self.gbnf, b"root")
        started = time.perf_counter()
        for token in tokens:
            self.one_data[0] = llama_cpp.llama_token_data(token, 1.0, 0.0)
            self.one.size, self.one.selected, self.one.sorted = 1, -1, False
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(self.one))
            if not np.isfinite(self.one_data[0].logit):
                raise AssertionError(f"llama.cpp's grammar refused token {token} of a valid answer")
            llama_cpp.llama_sampler_accept(sampler, token)
        elapsed = time.perf_counter() - started
        llama_cpp.llama_sampler_free(sampler)
        return elapsed / len(tokens)

    def mask(self, tokens: list[int]) -> float:
        sampler = llama_cpp.llama_sampler_init_grammar(self.vocab, self.gbnf, b"root")
        total = 0.0
        for token in tokens[:MASK_STEPS]:
            self.cands["id"], self.cands["logit"], self.cands["p"] = np.arange(self.n_vocab), 0.0, 0.0
            data = self.cands.ctypes.data_as(llama_cpp.llama_token_data_p)
            array = llama_cpp.llama_token_data_array(data=data, size=self.n_vocab, selected=-1, sorted=False)
            started = time.perf_counter()
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
            total += time.perf_counter() - started
            llama_cpp.llama_sampler_accept(sampler, token)
        llama_cpp.llama_sampler_free(sampler)
        return total / MASK_STEPS


class _Guidance:
    """The engine's own constraint path (ai.nemotron.guidance.Guide)."""

    def __init__(self, engine: LlamaCppEngine) -> None:
        self.engine = engine
        self.compiled = engine.compile_constraint(Constraint("json_schema", RISK_ANALYSIS_JSON_SCHEMA))

    def check_and_accept(self, tokens: list[int]) -> float:
        guide = self.engine.new_guide(self.compiled)
        started = time.perf_counter()
        for token in tokens:
            if not guide.allows(token):
                raise AssertionError(f"llguidance refused token {token} of a valid answer")
            guide.accept(token)
        return (time.perf_counter() - started) / len(tokens)

    def mask(self, tokens: list[int]) -> float:
        guide = self.engine.new_guide(self.compiled)
        total = 0.0
        for token in tokens[:MASK_STEPS]:
            started = time.perf_counter()
            allowed = guide.allowed()
            total += time.perf_counter() - started
            if not allowed[token]:
                raise AssertionError(f"llguidance's mask refused token {token} of a valid answer")
            guide.accept(token)
        return total / MASK_STEPS


def _summary(values: list[float], scale: float) -> str:
    scaled = [v * scale for v in values]
    return f"{statistics.median(scaled):.2f} ({min(scaled):.2f}-{max(scaled):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    engine = LlamaCppEngine(str(embedded_model_path()), n_ctx=256)
    engine.load()
    text = json.dumps(ANSWER)
    tokens = [*engine.tokenize(text, add_special=False, parse_special=False), engine.main.token_eos()]
    started = time.perf_counter()
    guidance = _Guidance(engine)  # builds llguidance's view of the vocabulary (once per server)
    first = time.perf_counter() - started
    gbnf = _GBNF(engine, json_schema_to_gbnf(json.dumps(RISK_ANALYSIS_JSON_SCHEMA)))
    runs: dict[str, list[float]] = {"gbnf_check": [], "llg_check": [], "gbnf_mask": [], "llg_mask": []}
    steps: list[tuple[str, Callable[[list[int]], float]]] = [
        ("gbnf_check", gbnf.check_and_accept),
        ("llg_check", guidance.check_and_accept),
        ("gbnf_mask", gbnf.mask),
        ("llg_mask", guidance.mask),
    ]
    for _ in range(args.rounds):
        for name, run in steps:
            runs[name].append(run(tokens))
    print(f"answer: {len(tokens)} tokens; llguidance's first constraint (vocabulary view + compile): {first:.2f} s")
    print(
        f"check + accept, us per token: llama.cpp GBNF {_summary(runs['gbnf_check'], 1e6)}, "
        f"llguidance {_summary(runs['llg_check'], 1e6)}"
    )
    print(
        f"full mask, ms per step:       llama.cpp GBNF {_summary(runs['gbnf_mask'], 1e3)}, "
        f"llguidance {_summary(runs['llg_mask'], 1e3)}"
    )
    check = statistics.median(runs["gbnf_check"]) / statistics.median(runs["llg_check"])
    mask = statistics.median(runs["gbnf_mask"]) / statistics.median(runs["llg_mask"])
    print(f"llguidance faster by: check {check:.1f}x, mask {mask:.0f}x")


if __name__ == "__main__":
    main()
