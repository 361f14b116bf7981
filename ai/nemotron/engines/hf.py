"""HuggingFace Transformers engine (``python ai/nemotron/model_hf.py``).

Loads a local HF folder, a cached hub model or a ``.gguf`` file with transformers, applying what the spec asks
for where the machine allows it: BitsAndBytes 4/8-bit quantization (CUDA only), FlashAttention-2 (flash-attn
installed, CUDA, SM 8.0+) with SDPA and then eager attention as fallbacks, and ``torch.compile``. Whatever
could not be applied is recorded with its reason and reported by ``/health`` instead of failing the start.

Each slot keeps its own transformers KV cache and reuses the longest common prefix of the next prompt.
Structured output is enforced with llguidance: every sampling step masks the logits with the grammar's
allowed tokens, and once the grammar is complete only an end-of-generation token can follow.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import llguidance
import llguidance.hf
import numpy as np
import torch
from llguidance import LLMatcher
from pydantic import BaseModel, Field
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig, PreTrainedTokenizerFast
from transformers.cache_utils import DynamicLayer

from ai.nemotron.constraints import Constraint
from ai.nemotron.engines.base import (
    Engine,
    EngineSlot,
    Pooling,
    SamplingParams,
    apply_logit_bias,
    logprobs_of,
)
from ai.nemotron.errors import (
    ConstraintError,
    ContextOverflowError,
    InvalidRequestError,
    NotSupportedError,
    ServerError,
)
from ai.nemotron.guidance import compile_grammar

log = logging.getLogger(__name__)

QuantizationMode = Literal["4bit", "8bit", "none"]
QuantType = Literal["nf4", "fp4"]
ComputeDtype = Literal["float16", "bfloat16"]

PREFILL_CHUNK = 512  # prompt tokens evaluated per forward pass (bounds activation memory)
REPEAT_LAST_N = 64  # llama.cpp's default penalty window
FLASH_ATTENTION_MIN_SM = (8, 0)
# Turn/sequence terminators besides the tokenizer's eos token, as llama.cpp's vocab marks them end-of-generation.
END_TOKEN_TEXTS = (
    "<|im_end|>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<end_of_turn>",
    "</s>",
    "<|return|>",
)
# Compact JSON with the usual separators; a schema's own "x-guidance" options still override these.


class HFOptions(BaseModel):
    """The engine's settings (the spec's NEMOTRON_* variables), validated."""

    quantization: QuantizationMode = "4bit"
    quant_type: QuantType = "nf4"
    double_quant: bool = True
    compute_dtype: ComputeDtype = "float16"
    use_flash_attention: bool = True
    max_new_tokens: int = Field(default=1536, ge=1)
    use_compile: bool = True
    threads: int | None = Field(default=None, ge=1)


class QuantizationDetails(BaseModel):
    mode: QuantizationMode
    quant_type: str | None
    double_quant: bool | None
    compute_dtype: str


class HFHealth(BaseModel):
    """The spec's /health fields for this engine, plus ``notes``: why anything requested was not applied."""

    device: str
    cuda_available: bool
    vram_used_gb: float
    quantization: QuantizationMode
    quantization_details: QuantizationDetails
    attention_implementation: str
    flash_attention_available: bool
    notes: list[str]


@dataclass(frozen=True)
class ModelSource:
    """Where transformers loads from: ``from_pretrained(location, **kwargs)``."""

    location: str
    kwargs: dict[str, Any]

    @property
    def is_gguf(self) -> bool:
        return "gguf_file" in self.kwargs


@dataclass(frozen=True)
class Machine:
    """What the host offers, probed once at load (kept separate so the decisions are testable anywhere)."""

    cuda_available: bool
    cuda_capability: tuple[int, int] | None
    bf16_supported: bool
    flash_attn_error: str | None  # None when flash_attn imports
    bitsandbytes_error: str | None  # None when bitsandbytes imports


@dataclass
class LoadPlan:
    """The device, dtype, quantization and attention choices for one machine, with reasons for each downgrade."""

    device: str
    dtype: torch.dtype
    quantization: QuantizationMode
    attention_candidates: list[str]
    flash_attention_available: bool
    use_compile: bool
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CompiledGrammar:
    """An llguidance grammar, validated against this engine's tokenizer; a fresh matcher is made per request."""

    kind: str
    grammar: str


def resolve_model_source(model: str) -> ModelSource:
    """A ``.gguf`` file, a local folder, or a hub name that must already be in the local HF cache."""
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"GGUF model file not found: {path}")
        return ModelSource(str(path.parent), {"gguf_file": path.name})
    if path.is_dir():
        return ModelSource(str(path), {})
    if path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1:
        raise FileNotFoundError(f"model folder not found: {path}")
    return ModelSource(model, {"local_files_only": True})


def _import_error(module: str) -> str | None:
    try:
        importlib.import_module(module)
    except Exception as exc:  # a broken CUDA extension raises more than ImportError
        return f"{type(exc).__name__}: {exc}"
    return None


def probe_machine() -> Machine:
    cuda = torch.cuda.is_available()
    return Machine(
        cuda_available=cuda,
        cuda_capability=torch.cuda.get_device_capability(0) if cuda else None,
        bf16_supported=cuda and torch.cuda.is_bf16_supported(),
        flash_attn_error=_import_error("flash_attn"),
        bitsandbytes_error=_import_error("bitsandbytes"),
    )


def _plan_dtype(options: HFOptions, machine: Machine, notes: list[str]) -> torch.dtype:
    if not machine.cuda_available:
        notes.append(
            f"compute dtype {options.compute_dtype} requested; running in float32 on CPU "
            "(half precision is slow or unsupported for several CPU kernels)"
        )
        return torch.float32
    if options.compute_dtype == "bfloat16" and not machine.bf16_supported:
        notes.append("compute dtype bfloat16 requested but this GPU does not support it; using float16")
        return torch.float16
    return getattr(torch, options.compute_dtype)


def _plan_quantization(options: HFOptions, machine: Machine, source: ModelSource, notes: list[str]) -> QuantizationMode:
    mode = options.quantization
    if mode == "none":
        return mode
    reason = None
    if not machine.cuda_available:
        reason = "CUDA is not available (BitsAndBytes needs a CUDA GPU)"
    elif source.is_gguf:
        reason = "transformers cannot combine BitsAndBytes with a GGUF file (its weights are dequantized)"
    elif machine.bitsandbytes_error is not None:
        reason = f"bitsandbytes is not importable ({machine.bitsandbytes_error})"
    if reason is None:
        return mode
    notes.append(f"{mode} quantization requested but {reason}; loaded unquantized")
    return "none"


def _flash_attention_problem(machine: Machine) -> str | None:
    if machine.flash_attn_error is not None:
        return f"flash-attn is not importable ({machine.flash_attn_error})"
    if not machine.cuda_available or machine.cuda_capability is None:
        return "CUDA is not available"
    if machine.cuda_capability < FLASH_ATTENTION_MIN_SM:
        major, minor = machine.cuda_capability
        return f"the GPU is SM {major}.{minor}, FlashAttention-2 needs SM 8.0 or newer"
    return None


def _plan_attention(options: HFOptions, machine: Machine, notes: list[str]) -> tuple[list[str], bool]:
    problem = _flash_attention_problem(machine)
    if not options.use_flash_attention:
        notes.append("FlashAttention-2 disabled by configuration (use_flash_attention=false); using SDPA")
        return ["sdpa", "eager"], problem is None
    if problem is not None:
        notes.append(f"FlashAttention-2 unavailable: {problem}; using SDPA")
        return ["sdpa", "eager"], False
    return ["flash_attention_2", "sdpa", "eager"], True


def plan_load(options: HFOptions, machine: Machine, source: ModelSource) -> LoadPlan:
    """Decide device, dtype, quantization, attention and compilation; every downgrade gets a note."""
    notes: list[str] = []
    dtype = _plan_dtype(options, machine, notes)
    quantization = _plan_quantization(options, machine, source, notes)
    candidates, flash_available = _plan_attention(options, machine, notes)
    use_compile = options.use_compile and machine.cuda_available
    if options.use_compile and not machine.cuda_available:
        notes.append(
            "torch.compile requested but skipped on CPU (it is applied on CUDA only: inductor's CPU "
            "build takes minutes and recompiles as the KV cache grows)"
        )
    return LoadPlan(
        device="cuda:0" if machine.cuda_available else "cpu",
        dtype=dtype,
        quantization=quantization,
        attention_candidates=candidates,
        flash_attention_available=flash_available,
        use_compile=use_compile,
        notes=notes,
    )


def _bnb_config(mode: QuantizationMode, options: HFOptions, dtype: torch.dtype) -> BitsAndBytesConfig:
    if mode == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=options.quant_type,
        bnb_4bit_use_double_quant=options.double_quant,
        bnb_4bit_compute_dtype=dtype,
    )


def _as_ids(value: Any) -> set[int]:
    if value is None:
        return set()
    if isinstance(value, int):
        return {value}
    return {int(v) for v in value}


def end_token_ids(tokenizer: PreTrainedTokenizerFast, generation_eos: Any) -> frozenset[int]:
    """EOS ids of the tokenizer and generation config, plus any known turn/sequence terminator tokens."""
    ids = _as_ids(tokenizer.eos_token_id) | _as_ids(generation_eos)
    added = tokenizer.added_tokens_encoder
    ids |= {added[text] for text in END_TOKEN_TEXTS if text in added}
    return frozenset(ids)


def _allowed_tokens(matcher: LLMatcher, n_vocab: int) -> torch.Tensor:
    """The matcher's next-token bitmask (bit i of little-endian word j = token 32j+i) as a bool tensor."""
    packed = np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8)
    bits = np.unpackbits(packed, bitorder="little")[:n_vocab]
    return torch.from_numpy(bits.astype(bool))


def apply_repeat_penalty(logits: torch.Tensor, recent: list[int], penalty: float) -> torch.Tensor:
    """llama.cpp's repetition penalty: divide positive logits of recent tokens, multiply negative ones."""
    if penalty == 1.0 or not recent:
        return logits
    ids = torch.tensor(sorted(set(recent)), dtype=torch.long)
    picked = logits[ids].double()  # float32 would turn an extreme penalty (1e-300, 1e300) into 0 or inf
    penalised = torch.where(picked > 0, picked / penalty, picked * penalty)
    limit = torch.finfo(logits.dtype).max
    penalised = torch.where(torch.isinf(picked), picked, penalised.clamp(-limit, limit))  # masked stays masked
    logits = logits.clone()
    logits[ids] = penalised.to(logits.dtype)
    return logits


def sample_token(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
    """llama.cpp's order: top-k, top-p, min-p, temperature, then a draw; greedy when temperature <= 0."""
    if params.temperature <= 0:
        return int(torch.argmax(logits))
    logits = logits.clone()
    if 0 < params.top_k < logits.numel():
        kth = torch.topk(logits, params.top_k).values[-1]
        logits[logits < kth] = float("-inf")
    if params.top_p < 1.0:
        probs = torch.softmax(logits, dim=-1)
        sorted_probs, order = torch.sort(probs, descending=True)
        beyond = (torch.cumsum(sorted_probs, dim=-1) - sorted_probs) >= params.top_p
        logits[order[beyond]] = float("-inf")
    if params.min_p > 0:
        probs = torch.softmax(logits, dim=-1)
        logits[probs < params.min_p * probs.max()] = float("-inf")
    # In float64 and from the best logit down: any positive temperature (5e-324 or 1e308) gives probabilities.
    scaled = (logits.double() - logits.max().double()) / params.temperature
    probs = torch.softmax(scaled, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def _generator(seed: int | None) -> torch.Generator:
    generator = torch.Generator()
    if seed is None or seed < 0:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


class _Guide:
    """One request's grammar state: masks logits before sampling and advances on the chosen token."""

    def __init__(self, matcher: LLMatcher, n_vocab: int, end_mask: torch.Tensor) -> None:
        self._matcher = matcher
        self._n_vocab = n_vocab
        self._end_mask = end_mask

    def constrain(self, logits: torch.Tensor) -> torch.Tensor:
        # Once the grammar is complete, only an end-of-generation token may follow.
        stopped = self._matcher.is_stopped()
        allowed = self._end_mask if stopped else _allowed_tokens(self._matcher, self._n_vocab)
        if not bool(allowed.any()):
            raise ConstraintError(
                f"structured output: the grammar allows no token this model can produce next "
                f"({self._matcher.get_error()})"
            )
        return logits.masked_fill(~allowed, float("-inf"))

    def advance(self, token: int) -> None:
        if not self._matcher.consume_token(token):
            raise ServerError(f"structured output: token {token} was rejected ({self._matcher.get_error()})")


@dataclass
class _Loaded:
    """Everything load() produces."""

    model: Any
    tokenizer: PreTrainedTokenizerFast
    ll_tokenizer: llguidance.LLTokenizer
    plan: LoadPlan
    attention: str
    n_vocab: int
    end_ids: frozenset[int]
    end_mask: torch.Tensor
    pieces: list[bytes]


class HFEngine(Engine):
    """A transformers causal LM with per-slot KV caches and llguidance-enforced structured output."""

    name = "hf"

    def __init__(
        self,
        model: str,
        n_ctx: int,
        quantization: QuantizationMode = "4bit",
        quant_type: QuantType = "nf4",
        double_quant: bool = True,
        compute_dtype: ComputeDtype = "float16",
        use_flash_attention: bool = True,
        max_new_tokens: int = 1536,
        use_compile: bool = True,
        threads: int | None = None,
    ) -> None:
        super().__init__(model, n_ctx)
        self.options = HFOptions(
            quantization=quantization,
            quant_type=quant_type,
            double_quant=double_quant,
            compute_dtype=compute_dtype,
            use_flash_attention=use_flash_attention,
            max_new_tokens=max_new_tokens,
            use_compile=use_compile,
            threads=threads,
        )
        self.max_new_tokens = self.options.max_new_tokens
        self._state: _Loaded | None = None
        self._tokenize_lock = threading.Lock()
        self._pooling: Pooling | None = None  # set by load_embeddings

    # --- loading -----------------------------------------------------------------------------------------

    def load(self) -> None:
        source = resolve_model_source(self.model_path)
        if self.options.threads is not None:
            torch.set_num_threads(self.options.threads)
        tokenizer = self._load_tokenizer(source)
        plan = plan_load(self.options, probe_machine(), source)
        model = self._load_model(source, plan)
        if plan.use_compile:
            self._compile(model, plan)
        n_vocab = model.config.get_text_config().vocab_size  # the logits' width
        end_ids = end_token_ids(tokenizer, model.generation_config.eos_token_id)
        ll_tokenizer = llguidance.hf.from_tokenizer(tokenizer, n_vocab=n_vocab, eos_token=sorted(end_ids))
        end_mask = torch.zeros(n_vocab, dtype=torch.bool)
        end_mask[sorted(end_ids)] = True
        pieces = [ll_tokenizer.decode_bytes([i]) for i in range(min(len(tokenizer), n_vocab))]
        pieces += [b""] * (n_vocab - len(pieces))  # padding rows of the output layer have no text
        self._state = _Loaded(
            model=model,
            tokenizer=tokenizer,
            ll_tokenizer=ll_tokenizer,
            plan=plan,
            attention=model.config._attn_implementation,
            n_vocab=n_vocab,
            end_ids=end_ids,
            end_mask=end_mask,
            pieces=pieces,
        )
        for note in plan.notes:
            log.warning("hf engine: %s", note)

    def _load_tokenizer(self, source: ModelSource) -> PreTrainedTokenizerFast:
        try:
            tokenizer = AutoTokenizer.from_pretrained(source.location, **source.kwargs)
        except OSError as exc:
            raise FileNotFoundError(
                f"cannot load model {self.model_path!r}: it is not a .gguf file, a local folder, or a "
                f"HuggingFace model already in the local cache (downloads are off; fetch it first with "
                f"`hf download {self.model_path}`): {exc}"
            ) from exc
        if not isinstance(tokenizer, PreTrainedTokenizerFast):
            raise ValueError(
                f"model {self.model_path!r} has a {type(tokenizer).__name__}; the hf engine needs a fast "
                "(tokenizers) tokenizer for token bytes and structured output"
            )
        return tokenizer

    def _load_model(self, source: ModelSource, plan: LoadPlan) -> Any:
        kwargs: dict[str, Any] = {"dtype": plan.dtype, **source.kwargs}
        if plan.device != "cpu":
            kwargs["device_map"] = {"": plan.device}
        if plan.quantization != "none":
            kwargs["quantization_config"] = _bnb_config(plan.quantization, self.options, plan.dtype)
        last_error: Exception | None = None
        for attention in plan.attention_candidates:
            try:
                model = AutoModelForCausalLM.from_pretrained(source.location, attn_implementation=attention, **kwargs)
            except (ImportError, ValueError, RuntimeError) as exc:
                plan.notes.append(f"attention {attention!r} failed to load ({exc}); trying the next one")
                last_error = exc
                continue
            return model.eval()
        raise RuntimeError(f"could not load {self.model_path!r} with any attention implementation") from last_error

    def _compile(self, model: Any, plan: LoadPlan) -> None:
        """Compile the forward pass and run it once; on any failure keep the eager forward and say why."""
        eager_forward = model.forward
        model.forward = torch.compile(eager_forward, dynamic=True)
        try:
            with torch.inference_mode():
                ids = torch.zeros((1, 4), dtype=torch.long, device=plan.device)
                out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
                model(input_ids=ids[:, :1], past_key_values=out.past_key_values, use_cache=True, logits_to_keep=1)
        except Exception as exc:  # dynamo/inductor failures have many types
            model.forward = eager_forward
            plan.notes.append(f"torch.compile failed ({type(exc).__name__}: {exc}); running eager")

    @property
    def _loaded(self) -> _Loaded:
        if self._state is None:
            raise RuntimeError("the hf engine is not loaded yet: call load() first")
        return self._state

    # --- Engine interface ----------------------------------------------------------------------------------

    def new_slot(self) -> HFSlot:
        return HFSlot(self)

    def load_embeddings(self, pooling: Pooling | None) -> Pooling:
        """Embeddings are the last hidden state (after the final norm, what llama.cpp's embedding mode
        outputs for a generative model); a causal LM has no pooling of its own, so None means ``none``."""
        if pooling == "rank":
            raise NotSupportedError("the hf engine has no reranking (pooling 'rank'): use the llamacpp engine")
        self._pooling = pooling or "none"
        return self._pooling

    def embed(self, tokens: list[int]) -> np.ndarray:
        if self._pooling is None:
            raise RuntimeError("embeddings are not loaded (start the server with --embedding)")
        state = self._loaded
        with torch.inference_mode():
            ids = torch.tensor([tokens], dtype=torch.long, device=state.plan.device)
            hidden = state.model(input_ids=ids, output_hidden_states=True, use_cache=False).hidden_states[-1][0]
        rows = hidden.float().cpu().numpy()
        if self._pooling == "mean":
            return rows.mean(axis=0, keepdims=True)
        if self._pooling == "cls":
            return rows[:1]
        if self._pooling == "last":
            return rows[-1:]
        return rows

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool = True) -> list[int]:
        # split_special_tokens flips a flag on the shared Rust tokenizer, hence the lock.
        with self._tokenize_lock:
            return list(
                self._loaded.tokenizer.encode(
                    text, add_special_tokens=add_special, split_special_tokens=not parse_special
                )
            )

    def token_bytes(self, token: int) -> bytes:
        pieces = self._loaded.pieces
        return pieces[token] if 0 <= token < len(pieces) else b""

    def is_end_of_generation(self, token: int) -> bool:
        return token in self._loaded.end_ids

    @property
    def vocab_size(self) -> int:
        return self._loaded.n_vocab

    @property
    def chat_template(self) -> str | None:
        template = self._loaded.tokenizer.chat_template
        return template if isinstance(template, str) else None

    @property
    def special_tokens(self) -> dict[str, str]:
        tokenizer = self._loaded.tokenizer
        return {"bos_token": tokenizer.bos_token or "", "eos_token": tokenizer.eos_token or ""}

    @property
    def model(self) -> Any:
        return self._loaded.model

    @property
    def device(self) -> str:
        return self._loaded.plan.device

    def compile_constraint(self, constraint: Constraint) -> CompiledGrammar:
        return CompiledGrammar(kind=constraint.kind, grammar=compile_grammar(constraint, self._loaded.ll_tokenizer))

    def new_guide(self, compiled: CompiledGrammar) -> _Guide:
        """A fresh grammar state for one request."""
        matcher = LLMatcher(self._loaded.ll_tokenizer, compiled.grammar, log_level=0)
        if matcher.is_error():
            raise ConstraintError(f"{compiled.kind} constraint cannot be enforced: {matcher.get_error()}")
        return _Guide(matcher, self._loaded.n_vocab, self._loaded.end_mask)

    def health_details(self) -> dict[str, Any]:
        state = self._loaded
        plan = state.plan
        four_bit = plan.quantization == "4bit"
        on_cuda = plan.device != "cpu"
        health = HFHealth(
            device=plan.device,
            cuda_available=torch.cuda.is_available(),
            vram_used_gb=round(torch.cuda.memory_allocated(plan.device) / 2**30, 2) if on_cuda else 0.0,
            quantization=plan.quantization,
            quantization_details=QuantizationDetails(
                mode=plan.quantization,
                quant_type=self.options.quant_type if four_bit else None,
                double_quant=self.options.double_quant if four_bit else None,
                compute_dtype=str(plan.dtype),
            ),
            attention_implementation=state.attention,
            flash_attention_available=plan.flash_attention_available,
            notes=list(plan.notes),
        )
        return health.model_dump()


class HFSlot(EngineSlot):
    """One sequence: a transformers KV cache whose contents ``cached_tokens`` always describes."""

    def __init__(self, engine: HFEngine) -> None:
        super().__init__()
        self._engine = engine
        self._cache: Any = None  # created by the model on the first forward pass
        self.last_cache_n = 0  # prompt tokens reused from the cache by the latest generate()

    def generate(
        self,
        prompt_tokens: list[int],
        params: SamplingParams,
        constraint: Any | None,
        cancelled: threading.Event | None = None,
    ) -> Iterator[int]:
        """Prepare the cache and the grammar now; evaluate and sample lazily, token by token.

        The iterator ends early only when the context is full, or after the end-of-generation token that
        completes a constrained answer (no token may follow it).
        """
        if not prompt_tokens:
            raise InvalidRequestError("the prompt is empty: nothing to evaluate")
        if len(prompt_tokens) >= self._engine.n_ctx:
            raise ContextOverflowError(
                f"the prompt has {len(prompt_tokens)} tokens; the context holds {self._engine.n_ctx}"
            )
        if params.post_sampling_probs and params.n_probs:
            raise NotSupportedError(
                "post_sampling_probs is not supported by the hf engine (its n_probs are pre-sampling)"
            )
        guide = self._engine.new_guide(constraint) if constraint is not None else None
        self.last_cache_n = self._reuse_prefix(prompt_tokens)
        self.last_probs = None
        return self._decode(prompt_tokens[self.last_cache_n :], list(prompt_tokens), params, guide, cancelled)

    def _decode(
        self,
        pending: list[int],
        history: list[int],
        params: SamplingParams,
        guide: _Guide | None,
        cancelled: threading.Event | None,
    ) -> Iterator[int]:
        generator = _generator(params.seed)
        while len(self.cached_tokens) + len(pending) <= self._engine.n_ctx:
            logits = self._evaluate(pending, cancelled)
            if logits is None:
                return
            if params.logit_bias:
                logits = torch.from_numpy(apply_logit_bias(logits.numpy(), params.logit_bias))
            raw = logits.numpy().copy() if params.n_probs else None
            if guide is not None:
                logits = guide.constrain(logits)
            logits = apply_repeat_penalty(logits, history[-REPEAT_LAST_N:], params.repeat_penalty)
            token = sample_token(logits, params, generator)
            if raw is not None:
                self.last_probs = logprobs_of(raw, token, params.n_probs)
            if guide is not None:
                guide.advance(token)
            history.append(token)
            pending = [token]
            yield token
            if guide is not None and self._engine.is_end_of_generation(token):
                return

    def _reuse_prefix(self, prompt_tokens: list[int]) -> int:
        """Crop the cache to the prompt's common prefix (or drop it when it can't be cropped)."""
        keep = self.common_prefix(prompt_tokens)
        if keep == 0 or (keep < len(self.cached_tokens) and not self._croppable()):
            self._reset()
            return 0
        if keep < len(self.cached_tokens):
            with torch.inference_mode():
                self._cache.crop(keep - self._cache.get_seq_length())  # a negative count: tokens to remove
            del self.cached_tokens[keep:]
        return keep

    def _croppable(self) -> bool:
        """Only full-attention KV layers can be cut back; sliding-window and recurrent states can't."""
        layers = getattr(self._cache, "layers", None)
        if not layers:
            return False
        return all(type(layer) is DynamicLayer for layer in layers)

    def _reset(self) -> None:
        self._cache = None
        self.cached_tokens = []

    def _evaluate(self, tokens: list[int], cancelled: threading.Event | None = None) -> torch.Tensor | None:
        """Run ``tokens`` through the model (in chunks); return the last position's logits on the CPU,
        or None when ``cancelled`` was set before a chunk."""
        logits = torch.empty(0)
        for start in range(0, len(tokens), PREFILL_CHUNK):
            if cancelled is not None and cancelled.is_set():
                return None
            logits = self._forward(tokens[start : start + PREFILL_CHUNK])
        return logits

    def _forward(self, chunk: list[int]) -> torch.Tensor:
        ids = torch.tensor([chunk], dtype=torch.long, device=self._engine.device)
        try:
            with torch.inference_mode():
                out = self._engine.model(input_ids=ids, past_key_values=self._cache, use_cache=True, logits_to_keep=1)
        except BaseException:
            self._reset()  # a failed pass may have updated some layers: the cache no longer matches
            raise
        self._cache = out.past_key_values
        self.cached_tokens.extend(chunk)
        return out.logits[0, -1].float().cpu()
