"""Sleep mode (``--sleep-idle-seconds``) on the real server with the embedded model, the Sleeper's ordering on
its own, and the Responses API's token count (``/v1/responses/input_tokens``)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from ai.nemotron.errors import InvalidRequestError
from ai.nemotron.launch import ServerProcess
from ai.nemotron.responses import chat_body
from ai.nemotron.sleep import Sleeper


@pytest.fixture(scope="module")
def sleepy() -> Iterator[httpx.Client]:
    server = ServerProcess("--sleep-idle-seconds", "1", "--metrics", "--ctx-size", "2048")
    with server, httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


def _sleeping(client: httpx.Client) -> bool:
    return bool(client.get("/props").json()["is_sleeping"])


def _wait_for_sleep(client: httpx.Client, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not _sleeping(client):
        assert time.monotonic() < deadline, "the server did not go to sleep"
        time.sleep(0.2)


def _metric(client: httpx.Client, name: str) -> float:
    match = re.search(rf"^llamacpp:{name} (\S+)$", client.get("/metrics").text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


def test_the_model_sleeps_when_idle_and_wakes_for_the_next_request(sleepy: httpx.Client) -> None:
    _wait_for_sleep(sleepy)
    for path in ("/health", "/props", "/v1/models", "/metrics", "/slots"):  # answered asleep, without waking
        assert sleepy.get(path).status_code == 200, path
    assert _sleeping(sleepy)
    assert sleepy.get("/v1/models").json()["data"][0]["id"] == "SmolLM2-135M-Instruct.Q4_1"
    decoded = _metric(sleepy, "n_decode_total")
    r = sleepy.post("/completion", json={"prompt": "Hello", "n_predict": 4, "temperature": 0})
    assert r.status_code == 200 and r.json()["tokens_predicted"] == 4
    assert not _sleeping(sleepy)
    assert _metric(sleepy, "n_decode_total") > decoded  # counters go on across the reload


def test_structured_output_works_after_a_reload(sleepy: httpx.Client) -> None:
    """llguidance's view of the vocabulary points into the model: it is rebuilt after a reload."""
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 9}}, "required": ["n"]}
    for _ in range(2):
        _wait_for_sleep(sleepy)
        r = sleepy.post("/completion", json={"prompt": "A number:", "n_predict": 12, "json_schema": schema})
        assert r.status_code == 200, r.text
        assert 1 <= json.loads(r.json()["content"])["n"] <= 9


def test_a_request_refused_for_bad_input_still_wakes_and_is_answered(sleepy: httpx.Client) -> None:
    _wait_for_sleep(sleepy)
    r = sleepy.post("/completion", json={"prompt": "x", "n_predict": -5, "temperature": -1})
    assert r.status_code == 400
    assert sleepy.post("/tokenize", json={"content": "hi"}).json()["tokens"]


def test_the_sleeper_never_unloads_under_a_running_request() -> None:
    """Ordering on its own (no model): a request that enters while the model unloads waits for the unload,
    then reloads it; a running request keeps the model loaded however long it runs."""
    events: list[str] = []

    def unload() -> None:
        events.append("unload")
        time.sleep(0.05)

    def load() -> None:
        events.append("load")

    async def scenario() -> None:
        sleeper = Sleeper(0.01, unload, load, lambda: True)
        await sleeper.enter()
        await asyncio.sleep(0.05)
        assert not await sleeper.sleep_if_idle()  # running: no sleep, however idle
        sleeper.leave()
        await asyncio.sleep(0.02)
        sleeping = asyncio.create_task(sleeper.sleep_if_idle())
        await asyncio.sleep(0)  # the unload has started
        await sleeper.enter()  # waits for it, then loads
        assert await sleeping and not sleeper.sleeping
        sleeper.leave()

    asyncio.run(scenario())
    assert events == ["unload", "load"]


def test_a_sleeper_needs_a_positive_idle_time() -> None:
    with pytest.raises(ValueError, match="positive"):
        Sleeper(0, lambda: None, lambda: None, lambda: True)


# --- the Responses API's token count --------------------------------------------------------------------------


def test_responses_input_becomes_chat_messages() -> None:
    body = chat_body(
        {
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello"}]},
                {"role": "developer", "content": "More"},
            ],
            "temperature": 0,
        }
    )
    assert body["temperature"] == 0 and "input" not in body
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("system", "Be brief."),
        ("user", [{"type": "text", "text": "Hi"}]),
        ("assistant", "Hello"),
        ("developer", [{"type": "text", "text": "More"}]),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "input"),
        ({"input": "x", "previous_response_id": "r1"}, "previous_response_id"),
        ({"input": [{"role": "user", "content": [{"type": "input_file"}]}]}, "input.0.content.0.type"),
        ({"input": [{"type": "function_call", "name": "f"}]}, "input.0"),
        ({"input": 5}, "input"),
    ],
)
def test_responses_input_that_cannot_be_converted_names_the_field(body: dict, field: str) -> None:
    with pytest.raises(InvalidRequestError, match=re.escape(field)):
        chat_body(body)


def test_responses_input_tokens_counts_the_chat_prompt(sleepy: httpx.Client) -> None:
    text = sleepy.post("/v1/responses/input_tokens", json={"input": "Hello world"})
    chat = sleepy.post(
        "/v1/chat/completions/input_tokens", json={"messages": [{"role": "user", "content": "Hello world"}]}
    )
    assert text.status_code == chat.status_code == 200
    assert text.json()["input_tokens"] == chat.json()["input_tokens"] > 2
    bad = sleepy.post("/v1/responses/input_tokens", json={"input": [{"type": "function_call"}]})
    assert bad.status_code == 400 and "input.0" in bad.json()["error"]["message"]


def test_a_failed_wake_is_a_503_and_unhealthy_until_a_load_succeeds() -> None:
    """Found by review: a reload that fails (the model file gone) used to be a 500 that reset the connection
    while /health said healthy."""
    attempts: list[str] = []

    def load() -> None:
        attempts.append("load")
        if len(attempts) == 1:
            raise ValueError("Model path does not exist")

    async def scenario() -> None:
        sleeper = Sleeper(0.01, lambda: None, load, lambda: True)
        sleeper.sleeping = True
        with pytest.raises(ValueError, match="does not exist"):
            await sleeper.enter()
        assert sleeper.sleeping and "does not exist" in sleeper.wake_error
        await sleeper.enter()
        assert not sleeper.sleeping and sleeper.wake_error == ""
        sleeper.leave()

    asyncio.run(scenario())


def test_the_sleeper_waits_while_a_slot_is_busy() -> None:
    """Found by review: a slot still decoding after its client left is not idle."""
    busy = [True]
    unloaded: list[bool] = []

    async def scenario() -> None:
        sleeper = Sleeper(0.01, lambda: unloaded.append(True), lambda: None, lambda: True, busy=lambda: busy[0])
        await asyncio.sleep(0.03)
        assert not await sleeper.sleep_if_idle()
        busy[0] = False
        assert await sleeper.sleep_if_idle()

    asyncio.run(scenario())
    assert unloaded == [True]
