"""Continuous batching in the llama.cpp engine: the slots are sequences of one context and decode together.

On the real engine with the embedded model: concurrent greedy streams give the tokens each gives alone,
they share ``llama_decode`` calls (counted by wrapping the real function), decoding ahead of a caller never
runs past a slot's context, a cancelled stream leaves the batch while the others go on, and each slot keeps
its own prompt cache."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import llama_cpp
import pytest

from ai.nemotron.constraints import Constraint
from ai.nemotron.engines.base import SamplingParams
from ai.nemotron.engines.llamacpp import LlamaCppEngine, LlamaCppSlot
from ai.nemotron.errors import ServerError
from ai.nemotron.generation import run_completion
from ai.nemotron.guidance import Guide
from ai.nemotron.launch import ServerProcess

GREEDY = SamplingParams(temperature=0.0)
RISK_SCHEMA = {
    "type": "object",
    "properties": {
        "risk_score": {"type": "integer", "minimum": 0, "maximum": 100},
        "risk_level": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
        "summary": {"type": "string", "maxLength": 80},
    },
    "required": ["risk_score", "risk_level", "summary"],
}
TOPICS = ["cats", "the sea", "a red car", "winter"]


@pytest.fixture(scope="module")
def engine(model_path: Path) -> LlamaCppEngine:
    engine = LlamaCppEngine(str(model_path), n_ctx=256, threads=2, parallel=4)
    engine.load()
    return engine


@pytest.fixture(scope="module")
def slots(engine: LlamaCppEngine) -> list[LlamaCppSlot]:
    return [engine.new_slot() for _ in range(4)]


def prompt(engine: LlamaCppEngine, topic: str) -> list[int]:
    return engine.tokenize(
        f"<|im_start|>user\nWrite about {topic}.<|im_end|>\n<|im_start|>assistant\n", add_special=True
    )


def generate(engine: LlamaCppEngine, slot: LlamaCppSlot, tokens: list[int], n: int, **kw: object) -> list[int]:
    return run_completion(engine, slot, tokens, n_predict=n, stop=[], params=GREEDY, **kw).tokens  # type: ignore[arg-type]


def in_threads(*jobs: Callable[[], None]) -> None:
    """Run ``jobs`` at once; an exception in any of them fails the test."""
    errors: list[BaseException] = []

    def guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors


def concurrently(engine: LlamaCppEngine, slots: list[LlamaCppSlot], n: int) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in slots]

    def job(i: int) -> Callable[[], None]:
        def run() -> None:
            out[i] = generate(engine, slots[i], prompt(engine, TOPICS[i]), n)

        return run

    in_threads(*(job(i) for i in range(len(slots))))
    return out


def test_a_slot_past_the_context_is_refused(engine: LlamaCppEngine, slots: list[LlamaCppSlot]) -> None:
    with pytest.raises(ValueError, match="4 slot"):
        engine.new_slot()


def test_concurrent_streams_share_decode_steps_and_match_each_alone(
    engine: LlamaCppEngine, slots: list[LlamaCppSlot], monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = [generate(engine, slots[i], prompt(engine, TOPICS[i]), 32) for i in range(4)]
    for slot in slots:
        slot.cached_tokens = []  # cold again, but the KV cells are dropped by the next request anyway
    calls = []
    real = llama_cpp.llama_decode

    def counted(ctx: object, batch: llama_cpp.llama_batch) -> int:
        calls.append(batch.n_tokens)
        return int(real(ctx, batch))  # type: ignore[arg-type]

    monkeypatch.setattr(llama_cpp, "llama_decode", counted)
    together = concurrently(engine, slots, 32)
    # greedy: batching changes no token (for short prompts: past 256 cells, llama.cpp's CPU flash attention
    # lets another sequence of the batch shift the logits slightly, so long ones may differ)
    assert together == alone
    # 4 streams x 32 tokens, decoded one by one, would take 4 x 33 calls; batched, a step holds several
    assert len(calls) < 2 * 33, calls
    assert max(calls) >= 4


def test_decoding_ahead_never_runs_past_a_slots_context(engine: LlamaCppEngine, slots: list[LlamaCppSlot]) -> None:
    """Two streams run to the end of their 256-token context together: no decode error for either."""
    results: list[int] = []

    def job(i: int) -> Callable[[], None]:
        def run() -> None:
            tokens = prompt(engine, TOPICS[i])
            result = run_completion(engine, slots[i], tokens, n_predict=-1, stop=[], params=SamplingParams(seed=i))
            results.append(len(tokens) + result.tokens_predicted)

        return run

    in_threads(job(0), job(1))
    assert len(results) == 2 and all(n <= engine.n_ctx for n in results)


def test_a_cancelled_stream_leaves_while_the_others_go_on(engine: LlamaCppEngine, slots: list[LlamaCppSlot]) -> None:
    cancel = threading.Event()
    got: dict[str, list[int]] = {}

    def cancelled() -> None:
        iterator = slots[0].generate(prompt(engine, TOPICS[0]), GREEDY, None, cancel)
        got["cancelled"] = [next(iterator) for _ in range(3)]
        cancel.set()
        got["cancelled"] += list(iterator)  # ends at once

    def other() -> None:
        got["other"] = generate(engine, slots[1], prompt(engine, TOPICS[1]), 40)

    in_threads(cancelled, other)
    assert len(got["cancelled"]) == 3  # nothing after the cancel: what was decoded ahead is dropped
    assert len(got["other"]) == 40


def test_each_slot_keeps_its_own_prompt_cache(engine: LlamaCppEngine, slots: list[LlamaCppSlot]) -> None:
    first = prompt(engine, TOPICS[2])
    generate(engine, slots[2], first, 4)
    generate(engine, slots[3], prompt(engine, TOPICS[3]), 4)  # another slot: leaves slot 2's cells alone
    result = run_completion(engine, slots[2], [*first, 42], n_predict=4, stop=[], params=GREEDY)
    assert result.tokens_cached == len(first)


@pytest.mark.parametrize(
    "constraint",
    [
        Constraint(kind="json_schema", value=RISK_SCHEMA),
        Constraint(kind="regex", value=r"risk=(low|medium|high|critical), score=[0-9]{1,2}"),
        Constraint(kind="choice", value=["a stranger at the door", "a delivery", "nothing"]),
    ],
)
def test_greedy_grammar_checks_give_the_tokens_of_masking_first(
    engine: LlamaCppEngine, slots: list[LlamaCppSlot], constraint: Constraint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Greedy constrained decoding checks the likeliest tokens one by one (and the drawn one first, as
    llama.cpp's rejection sampling); masking the whole vocabulary first must give the same answer."""
    compiled = engine.compile_constraint(constraint)
    tokens = engine.tokenize(
        "<|im_start|>user\nA man in a hoodie tried the back door at 3am. Rate it.<|im_end|>\n<|im_start|>assistant\n",
        add_special=True,
    )

    def answer() -> list[int]:
        return run_completion(
            engine, slots[0], tokens, n_predict=60, stop=[], params=GREEDY, constraint=compiled
        ).tokens

    fast = answer()
    monkeypatch.setattr(LlamaCppSlot, "_likeliest_allowed", lambda *a: None)
    monkeypatch.setattr(Guide, "allows", lambda *a: False)  # every step masks the vocabulary
    assert answer() == fast and fast


def test_metrics_show_the_slots_decoding_together() -> None:
    """llama-server's ``n_decode_total`` and ``n_busy_slots_per_decode``: four concurrent requests of 48
    tokens take about 48 decode calls, not 4 x 48."""

    def value(text: str, name: str) -> float:
        match = re.search(rf"^llamacpp:{name} (\S+)$", text, re.MULTILINE)
        assert match, name
        return float(match.group(1))

    server = ServerProcess("--parallel", "4", "--ctx-size", "2048", "--metrics")
    with server, httpx.Client(base_url=server.url, timeout=120) as c:
        before = value(c.get("/metrics").text, "n_decode_total")

        def ask(i: int) -> Callable[[], None]:
            def run() -> None:
                body = {"prompt": f"Story {i}:", "n_predict": 48, "temperature": 0, "ignore_eos": True}
                assert c.post("/completion", json=body).json()["tokens_predicted"] == 48

            return run

        in_threads(*(ask(i) for i in range(4)))
        metrics = c.get("/metrics").text
        assert value(metrics, "n_decode_total") - before < 2 * 49
        assert value(metrics, "n_busy_slots_per_decode") > 1.5


def test_a_unified_cache_is_shared_and_idle_caches_make_room(model_path: Path) -> None:
    """``--kv-unified``: the slots share one pool of cells, each may use it all. A request that finds the pool
    held by an idle slot's prompt cache evicts it; two running requests that outgrow the pool get llama-server's
    'context size has been exceeded'."""
    engine = LlamaCppEngine(str(model_path), n_ctx=256, threads=2, parallel=2, kv_unified=True)
    engine.load()
    pool = llama_cpp.llama_n_ctx(engine.decoder.ctx)
    first, second = engine.new_slot(), engine.new_slot()
    long_a = engine.tokenize("alpha " * (pool * 2 // 3), add_special=True)[: pool * 2 // 3]
    long_b = engine.tokenize("bravo " * (pool * 2 // 3), add_special=True)[: pool * 2 // 3]
    generate(engine, first, long_a, 4)
    assert len(first.cached_tokens) >= len(long_a)
    assert len(generate(engine, second, long_b, 4)) == 4  # the pool could not hold both: the idle cache went
    assert first.cached_tokens == []
    errors: list[str] = []

    def run(slot: LlamaCppSlot, tokens: list[int]) -> Callable[[], None]:
        def job() -> None:
            try:
                run_completion(engine, slot, tokens[: pool // 2], n_predict=pool, stop=[], params=GREEDY)
            except ServerError as exc:
                errors.append(exc.message)

        return job

    in_threads(run(first, long_a), run(second, long_b))
    assert errors and all("context size has been exceeded" in e for e in errors)


def test_a_memory_that_cannot_be_cut_partway_is_recomputed_whole(
    engine: LlamaCppEngine, slots: list[LlamaCppSlot], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recurrent and hybrid models (Nemotron-H) refuse to cut a sequence partway (``llama_memory_seq_rm``
    returns false); the request then drops the whole sequence and evaluates its prompt from the start, and
    gives the cold answer. The refusal is injected: the bundled model's memory can always be cut."""
    real = llama_cpp.llama_memory_seq_rm

    def refusing(memory: object, seq: int, p0: int, p1: int) -> bool:
        return False if p0 > 0 else bool(real(memory, seq, p0, p1))  # type: ignore[arg-type]

    first = prompt(engine, TOPICS[0])
    cold = run_completion(engine, slots[0], [*first, 42], n_predict=8, stop=[], params=GREEDY)
    generate(engine, slots[0], first, 4)  # the slot now caches `first` and what followed
    monkeypatch.setattr(llama_cpp, "llama_memory_seq_rm", refusing)
    warm = run_completion(engine, slots[0], [*first, 42], n_predict=8, stop=[], params=GREEDY)
    assert warm.tokens == cold.tokens and warm.tokens_cached == 0
