"""The HF Transformers engine on the real embedded model (SmolLM2-135M-Instruct, loaded from its GGUF).

CPU only here: the load degrades (no quantization, no FlashAttention-2, no torch.compile, float32) and
says why; the GPU decisions themselves are checked on :func:`plan_load` with described machines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
import torch
from pydantic import ValidationError

from ai.nemotron.constraints import Constraint
from ai.nemotron.engines.base import SamplingParams
from ai.nemotron.engines.hf import (
    HFEngine,
    HFOptions,
    HFSlot,
    Machine,
    ModelSource,
    apply_repeat_penalty,
    plan_load,
    resolve_model_source,
    sample_token,
)
from ai.nemotron.errors import ConstraintError, ContextOverflowError, NotSupportedError
from ai.nemotron.generation import CompletionResult, run_completion
from ai.nemotron.model_hf import HFServerSettings

SYSTEM = (
    "You are a home security analyst. You read camera detections and judge how risky they are. "
    "Be brief, factual and calm; never invent detections that are not listed."
)
RISK_SCHEMA = {
    "type": "object",
    "properties": {
        "risk_score": {"type": "integer", "minimum": 0, "maximum": 100},
        "risk_level": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
        "summary": {"type": "string", "maxLength": 32},
    },
    "required": ["risk_score", "risk_level", "summary"],
    "additionalProperties": False,
}
SCORE_REGEX = "[0-9]|[1-9][0-9]|100"
LEVELS = ["low", "medium", "high", "critical"]
GBNF = """
root  ::= "risk=" level ", score=" score
level ::= "low" | "medium" | "high" | "critical"
score ::= [0-9] | [1-9] [0-9] | "100"
"""
GBNF_AS_REGEX = r"risk=(low|medium|high|critical), score=([0-9]|[1-9][0-9]|100)"
SEEDS = range(20)
SCHEMA_SEEDS = range(12)  # the longest answers: fewer seeds keep the module near a minute and a half
HOT = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0}  # sample from the whole (masked) vocabulary


def chatml(user: str) -> str:
    return f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def engine(model_path: Path) -> Iterator[HFEngine]:
    """The embedded GGUF through transformers, with the spec's defaults (4bit, FA2, compile) requested.

    One torch thread: on a small shared machine two OpenMP threads that wait on each other decode
    several times slower than one. The process-wide setting is restored afterwards.
    """
    threads = torch.get_num_threads()
    engine = HFEngine(str(model_path), n_ctx=1024, threads=1)
    engine.load()
    yield engine
    torch.set_num_threads(threads)


def complete(
    engine: HFEngine,
    prompt: str,
    *,
    slot: HFSlot | None = None,
    n_predict: int = 24,
    constraint: Constraint | None = None,
    **sampling: float | int,
) -> CompletionResult:
    compiled = engine.compile_constraint(constraint) if constraint is not None else None
    return run_completion(
        engine,
        slot or engine.new_slot(),
        engine.tokenize(prompt, add_special=True),
        n_predict=n_predict,
        stop=[],
        params=SamplingParams(**sampling),
        constraint=compiled,
    )


# --- load, health, machine decisions -------------------------------------------------------------------


def test_health_on_cpu_reports_every_degradation(engine: HFEngine) -> None:
    health = engine.health_details()
    assert set(health) == {
        "device",
        "cuda_available",
        "vram_used_gb",
        "quantization",
        "quantization_details",
        "attention_implementation",
        "flash_attention_available",
        "notes",
    }
    assert health["device"] == "cpu"
    assert health["cuda_available"] is False
    assert health["vram_used_gb"] == 0.0
    assert health["quantization"] == "none"
    assert health["quantization_details"] == {
        "mode": "none",
        "quant_type": None,
        "double_quant": None,
        "compute_dtype": "torch.float32",
    }
    assert health["attention_implementation"] in ("sdpa", "eager")
    assert health["flash_attention_available"] is False
    notes = "\n".join(health["notes"])
    assert "4bit quantization requested but CUDA is not available" in notes
    assert "FlashAttention-2 unavailable" in notes
    assert "torch.compile requested but skipped on CPU" in notes
    assert "float32 on CPU" in notes
    assert engine.max_new_tokens == 1536


GPU_SM90 = Machine(
    cuda_available=True, cuda_capability=(9, 0), bf16_supported=True, flash_attn_error=None, bitsandbytes_error=None
)
FOLDER = ModelSource("/models/nemotron", {})


@pytest.mark.parametrize(
    ("options", "machine", "source", "expected", "note"),
    [
        pytest.param(
            HFOptions(),
            GPU_SM90,
            FOLDER,
            ("cuda:0", torch.float16, "4bit", ["flash_attention_2", "sdpa", "eager"], True),
            None,
            id="ampere+ with everything: no downgrade",
        ),
        pytest.param(
            HFOptions(quantization="8bit", compute_dtype="bfloat16"),
            replace(GPU_SM90, cuda_capability=(7, 5), bf16_supported=False),
            FOLDER,
            ("cuda:0", torch.float16, "8bit", ["sdpa", "eager"], False),
            "SM 7.5",
            id="turing: no FA2, no bf16",
        ),
        pytest.param(
            HFOptions(),
            replace(GPU_SM90, flash_attn_error="ModuleNotFoundError: flash_attn"),
            FOLDER,
            ("cuda:0", torch.float16, "4bit", ["sdpa", "eager"], False),
            "flash-attn is not importable",
            id="flash-attn missing falls back to SDPA",
        ),
        pytest.param(
            HFOptions(),
            replace(GPU_SM90, bitsandbytes_error="ModuleNotFoundError: bitsandbytes"),
            FOLDER,
            ("cuda:0", torch.float16, "none", ["flash_attention_2", "sdpa", "eager"], True),
            "bitsandbytes is not importable",
            id="bitsandbytes missing: unquantized",
        ),
        pytest.param(
            HFOptions(),
            GPU_SM90,
            ModelSource("/models", {"gguf_file": "m.gguf"}),
            ("cuda:0", torch.float16, "none", ["flash_attention_2", "sdpa", "eager"], True),
            "GGUF",
            id="gguf can't be bnb-quantized",
        ),
        pytest.param(
            HFOptions(use_flash_attention=False, quantization="none", use_compile=False),
            GPU_SM90,
            FOLDER,
            ("cuda:0", torch.float16, "none", ["sdpa", "eager"], True),
            "disabled by configuration",
            id="FA2 switched off",
        ),
    ],
)
def test_plan_load_for_gpu_machines(
    options: HFOptions,
    machine: Machine,
    source: ModelSource,
    expected: tuple[str, torch.dtype, str, list[str], bool],
    note: str | None,
) -> None:
    plan = plan_load(options, machine, source)
    got = (plan.device, plan.dtype, plan.quantization, plan.attention_candidates, plan.flash_attention_available)
    assert got == expected
    assert plan.use_compile == options.use_compile
    if note is None:
        assert plan.notes == []
    else:
        assert any(note in n for n in plan.notes), plan.notes


def test_server_settings_read_the_spec_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    spec_variables = (
        "MODEL_PATH",
        "QUANTIZATION",
        "4BIT_QUANT_TYPE",
        "4BIT_DOUBLE_QUANT",
        "COMPUTE_DTYPE",
        "USE_FLASH_ATTENTION",
        "MAX_NEW_TOKENS",
        "USE_COMPILE",
    )
    for name in spec_variables:
        monkeypatch.delenv(f"NEMOTRON_{name}", raising=False)
    defaults = HFServerSettings()
    assert defaults.model_path == "nvidia/Nemotron-3-Nano-30B-A3B"
    assert defaults.engine_options() == {
        "quantization": "4bit",
        "quant_type": "nf4",
        "double_quant": True,
        "compute_dtype": "float16",
        "use_flash_attention": True,
        "max_new_tokens": 1536,
        "use_compile": True,
    }
    monkeypatch.setenv("NEMOTRON_QUANTIZATION", "8bit")
    monkeypatch.setenv("NEMOTRON_4BIT_QUANT_TYPE", "fp4")
    monkeypatch.setenv("NEMOTRON_4BIT_DOUBLE_QUANT", "false")
    monkeypatch.setenv("NEMOTRON_USE_COMPILE", "false")
    options = HFServerSettings().engine_options()
    assert (options["quantization"], options["quant_type"], options["double_quant"]) == ("8bit", "fp4", False)
    assert options["use_compile"] is False
    monkeypatch.setenv("NEMOTRON_QUANTIZATION", "3bit")
    with pytest.raises(ValidationError, match="quantization"):
        HFServerSettings()


def test_model_sources(tmp_path: Path) -> None:
    assert resolve_model_source(str(tmp_path)) == ModelSource(str(tmp_path), {})
    assert resolve_model_source("nvidia/Nemotron-3-Nano-30B-A3B") == ModelSource(
        "nvidia/Nemotron-3-Nano-30B-A3B", {"local_files_only": True}
    )
    with pytest.raises(FileNotFoundError, match="GGUF model file not found"):
        resolve_model_source(str(tmp_path / "missing.gguf"))
    with pytest.raises(FileNotFoundError, match="model folder not found"):
        resolve_model_source(str(tmp_path / "missing"))


def test_uncached_hub_model_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match=r"not .* in the local cache"):
        HFEngine("nobody-here/no-such-model", n_ctx=512).load()


def test_bad_options_are_rejected(model_path: Path) -> None:
    with pytest.raises(ValidationError, match="quantization"):
        HFEngine(str(model_path), n_ctx=512, quantization="2bit")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="compute_dtype"):
        HFEngine(str(model_path), n_ctx=512, compute_dtype="float8")  # type: ignore[arg-type]


# --- tokenizer ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["Person at the front door, 03:12.", "café crème, naïve résumé", "日本の家 – 監視カメラ", "🙂 dog 🐕‍🦺 ok"]
)
def test_tokenize_detokenize_round_trip(engine: HFEngine, text: str) -> None:
    tokens = engine.tokenize(text, add_special=False)
    assert engine.detokenize(tokens) == text
    assert b"".join(engine.token_bytes(t) for t in tokens) == text.encode()


def test_token_bytes_split_multibyte_characters(engine: HFEngine) -> None:
    pieces = [engine.token_bytes(t) for t in engine.tokenize("😀", add_special=False)]
    assert len(pieces) > 1  # the emoji's four bytes span tokens: no piece is valid UTF-8 on its own
    assert b"".join(pieces).decode() == "😀"
    assert engine.token_bytes(engine.vocab_size + 5) == b""


def test_special_tokens_and_end_of_generation(engine: HFEngine) -> None:
    assert engine.tokenize("<|im_end|>", add_special=False) == [2]
    literal = engine.tokenize("<|im_end|>", add_special=False, parse_special=False)
    assert len(literal) > 1
    assert engine.detokenize(literal) == "<|im_end|>"
    assert engine.tokenize("<|im_end|>", add_special=False) == [2]  # the literal mode did not stick
    assert engine.is_end_of_generation(2)  # <|im_end|>
    assert engine.is_end_of_generation(0)  # <|endoftext|>
    assert not engine.is_end_of_generation(engine.tokenize("Hello", add_special=False)[0])
    assert engine.special_tokens == {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"}
    assert "<|im_start|>" in (engine.chat_template or "")
    assert engine.vocab_size == 49152
    assert engine.model_name == "SmolLM2-135M-Instruct.Q4_1"


# --- sampling ------------------------------------------------------------------------------------------------


def test_repeat_penalty_follows_llama_cpp() -> None:
    logits = torch.tensor([2.0, -2.0, 1.0])
    assert apply_repeat_penalty(logits, [0, 1, 0], 2.0).tolist() == [1.0, -4.0, 1.0]
    assert logits.tolist() == [2.0, -2.0, 1.0]  # the input is left alone


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(temperature=0.0),
        SamplingParams(temperature=5.0, top_k=1),
        SamplingParams(temperature=5.0, top_k=0, top_p=0.01, min_p=0.0),
        SamplingParams(temperature=5.0, top_k=0, top_p=1.0, min_p=0.99),
    ],
    ids=["greedy", "top_k=1", "tiny top_p", "high min_p"],
)
def test_truncating_samplers_leave_only_the_best_token(params: SamplingParams) -> None:
    logits = torch.tensor([0.5, 3.0, float("-inf"), 1.0, 2.9])
    for seed in range(20):
        assert sample_token(logits, params, torch.Generator().manual_seed(seed)) == 1


def test_sampling_never_picks_a_masked_token() -> None:
    logits = torch.tensor([0.0, float("-inf"), 0.0, float("-inf")])
    picks = {sample_token(logits, SamplingParams(temperature=2.0), torch.Generator().manual_seed(s)) for s in range(50)}
    assert picks == {0, 2}


# --- generation and the KV cache -------------------------------------------------------------------------


def test_greedy_is_deterministic(engine: HFEngine) -> None:
    prompt = chatml("A person is at the front door at 3am. What should I do?")
    first = complete(engine, prompt, temperature=0.0)
    second = complete(engine, prompt, temperature=0.0)
    assert first.tokens == second.tokens
    assert first.content.strip()


def test_seeded_sampling_is_reproducible(engine: HFEngine) -> None:
    prompt = chatml("Describe a quiet street at night.")
    runs = [complete(engine, prompt, n_predict=16, seed=seed, **HOT).tokens for seed in (7, 7, 8)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_n_probs_are_log_probabilities_of_the_raw_distribution(engine: HFEngine) -> None:
    prompt = chatml("Describe a quiet street at night.")
    result = complete(engine, prompt, n_predict=4, temperature=0.0, n_probs=5)
    assert len(result.probs) == len(result.tokens)
    for token, probs in zip(result.tokens, result.probs, strict=True):
        assert probs.token == token and probs.value <= 0 and len(probs.top) == 5
        assert probs.top[0] == (token, pytest.approx(probs.value))  # greedy picks the likeliest


def test_post_sampling_probs_are_not_supported_and_say_so(engine: HFEngine) -> None:
    with pytest.raises(NotSupportedError, match="post_sampling_probs"):
        complete(engine, chatml("Hi"), n_predict=2, n_probs=3, post_sampling_probs=True)


def test_prefix_cache_is_reused_and_changes_nothing(engine: HFEngine) -> None:
    slot = engine.new_slot()
    first = engine.tokenize(chatml("Detections: person, 02:10, back yard. Risk?"), add_special=True)
    second = engine.tokenize(chatml("Detections: cat, 14:00, driveway. Risk?"), add_special=True)
    shared = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)
    assert shared > 40  # the system prompt and more

    greedy = SamplingParams(temperature=0.0)
    run_completion(engine, slot, first, n_predict=8, stop=[], params=greedy)
    warm = run_completion(engine, slot, second, n_predict=12, stop=[], params=greedy)
    cold = run_completion(engine, engine.new_slot(), second, n_predict=12, stop=[], params=greedy)

    assert slot.last_cache_n == shared
    assert warm.timings.cache_n == shared
    assert warm.timings.prompt_n == len(second) - shared
    assert cold.timings.cache_n == 0
    assert warm.tokens == cold.tokens
    # The caller stopped after 12 tokens: the last one was sampled but never evaluated.
    assert slot.cached_tokens == second + warm.tokens[:-1]

    again = run_completion(engine, slot, second + warm.tokens, n_predict=2, stop=[], params=greedy)
    assert again.timings.cache_n == len(second) + len(warm.tokens) - 1


def test_prompt_that_fills_the_context_is_refused(engine: HFEngine) -> None:
    with pytest.raises(ContextOverflowError):
        engine.new_slot().generate(list(range(100, 100 + engine.n_ctx)), SamplingParams(), None)


# --- structured output: enforced for every seed ------------------------------------------------------------


@pytest.mark.slow
def test_json_schema_is_enforced_for_every_seed(engine: HFEngine) -> None:
    constraint = Constraint("json_schema", RISK_SCHEMA)
    prompt = chatml("Detections: person, 03:10, back door, crouching. Rate the risk as JSON.")
    slot = engine.new_slot()
    for seed in SCHEMA_SEEDS:
        result = complete(engine, prompt, slot=slot, n_predict=96, constraint=constraint, seed=seed, **HOT)
        assert result.stop_type == "eos", (seed, result.content)
        jsonschema.validate(json.loads(result.content), RISK_SCHEMA)


@pytest.mark.slow
def test_json_object_is_enforced(engine: HFEngine) -> None:
    prompt = chatml('Reply with a JSON object like {"camera": "front", "person": true}.')
    slot = engine.new_slot()
    for seed in range(5):
        result = complete(
            engine, prompt, slot=slot, n_predict=64, constraint=Constraint("json_object"), seed=seed, temperature=0.5
        )
        assert result.stop_type == "eos", (seed, result.content)
        assert isinstance(json.loads(result.content), dict)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("constraint", "pattern"),
    [
        pytest.param(Constraint("choice", LEVELS), "|".join(LEVELS), id="choice"),
        pytest.param(Constraint("regex", SCORE_REGEX), SCORE_REGEX, id="regex"),
        pytest.param(Constraint("grammar", GBNF), GBNF_AS_REGEX, id="gbnf"),
    ],
)
def test_short_constraints_are_enforced_for_every_seed(engine: HFEngine, constraint: Constraint, pattern: str) -> None:
    prompt = chatml("Detections: car, 23:40, driveway, engine running. Give the risk.")
    slot = engine.new_slot()
    for seed in SEEDS:
        result = complete(engine, prompt, slot=slot, n_predict=16, constraint=constraint, seed=seed, **HOT)
        assert result.stop_type == "eos", (seed, result.content)
        assert re.fullmatch(pattern, result.content), (seed, result.content)


@pytest.mark.parametrize(
    ("constraint", "reason"),
    [
        pytest.param(Constraint("json_schema", {"type": "string", "format": "weird"}), "Unknown format", id="format"),
        pytest.param(Constraint("json_schema", {"type": "integer", "minimum": "x"}), "minimum", id="bad-minimum"),
        pytest.param(Constraint("regex", "a(?=b)"), "look-around", id="lookahead"),
        pytest.param(Constraint("regex", "(a)\\1"), "regex", id="backreference"),
        pytest.param(Constraint("grammar", "root ::= undefined-rule"), "not found", id="undefined-rule"),
        pytest.param(Constraint("grammar", 'root ::= "open'), "Unexpected end", id="unterminated"),
    ],
)
def test_unenforceable_constraints_are_refused(engine: HFEngine, constraint: Constraint, reason: str) -> None:
    with pytest.raises(ConstraintError, match=reason):
        engine.compile_constraint(constraint)


@pytest.mark.parametrize("pooling", ["mean", "last", "none"])
def test_embeddings_agree_with_llama_cpp_on_the_same_weights(engine: HFEngine, model_path: Path, pooling: str) -> None:
    """The hf engine's embeddings (last hidden state, pooled) point where llama.cpp's do for the same GGUF:
    two implementations of one model. Measured: 0.996-0.9999 (per-token rows with ``none``); an unrelated
    sentence's last-token vector sits at 0.85, so a wrong layer, norm or pooling falls below 0.99."""
    import llama_cpp
    import numpy as np

    from ai.nemotron.engines.llamacpp import LlamaCppEngine

    text = "A person walks up the driveway carrying a parcel."
    reference = LlamaCppEngine(str(model_path), n_ctx=512, threads=1)
    reference.load()
    assert reference.load_embeddings(pooling) == pooling  # type: ignore[arg-type]
    assert engine.load_embeddings(pooling) == pooling  # type: ignore[arg-type]
    tokens = reference.tokenize(text, add_special=True)
    ours, theirs = engine.embed(tokens), reference.embed(tokens)
    assert ours.shape == theirs.shape == ((len(tokens), 576) if pooling == "none" else (1, 576))
    cosines = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosines.min() > 0.99, cosines
    assert llama_cpp.LLAMA_POOLING_TYPE_MEAN == 1  # the id POOLING_TYPES.index("mean") hands llama.cpp
