"""The LLM client: retries, circuit breaker, API and structured-output discovery.

Faults (5xx, refused connections) and servers we can't run here (vLLM/NIM without /completion) are
injected with httpx.MockTransport; everything else runs against the real embedded LLM server.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from ai.nemotron.launch import ServerProcess
from backend.services.llm_client import (
    CircuitBreaker,
    LLMClient,
    LLMRequestError,
    LLMUnavailableError,
)

CHATML = "<|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\n"


def scripted(responses: list[Callable[[httpx.Request], httpx.Response]]) -> tuple[httpx.MockTransport, list[str]]:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return responses[min(len(calls) - 1, len(responses) - 1)](request)

    return httpx.MockTransport(handler), calls


def completion(text: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(200, json={"content": text, "tokens_evaluated": 5, "tokens_predicted": 3})


def status(code: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(code, json={"error": {"code": code, "message": "x", "type": "t"}})


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def client_with(transport: httpx.MockTransport, **kw: object) -> LLMClient:
    return LLMClient(
        "http://llm.test", api="completion", structured="json_schema", backoff=0.001, transport=transport, **kw
    )  # type: ignore[arg-type]


async def test_retries_5xx_then_succeeds() -> None:
    transport, calls = scripted([status(503), status(500), completion('{"a": 1}')])
    reply = await client_with(transport).complete(system="s", user="u", chatml=CHATML, schema={})
    assert reply.text == '{"a": 1}'
    assert len(calls) == 3


async def test_never_retries_4xx() -> None:
    transport, calls = scripted([status(400), completion("never")])
    with pytest.raises(LLMRequestError, match="400"):
        await client_with(transport).complete(system="s", user="u", chatml=CHATML)
    assert len(calls) == 1


async def test_connection_errors_retry_then_fail_and_open_the_breaker() -> None:
    transport, calls = scripted([refuse])
    client = client_with(transport, max_retries=2, breaker=CircuitBreaker(threshold=2, cooldown=60))
    for _ in range(2):
        with pytest.raises(LLMUnavailableError, match="after 3 tries"):
            await client.complete(system="s", user="u", chatml=CHATML)
    assert len(calls) == 6
    assert client.breaker.state == "open"
    with pytest.raises(LLMUnavailableError, match="circuit breaker open"):
        await client.complete(system="s", user="u", chatml=CHATML)
    assert len(calls) == 6  # failed fast, nothing sent


async def test_breaker_lets_a_trial_through_after_cooldown() -> None:
    transport, _ = scripted([refuse, completion("ok")])
    client = client_with(transport, max_retries=0, breaker=CircuitBreaker(threshold=1, cooldown=0.0))
    with pytest.raises(LLMUnavailableError):
        await client.complete(system="s", user="u", chatml=CHATML)
    assert client.breaker.state == "half-open"
    assert (await client.complete(system="s", user="u", chatml=CHATML)).text == "ok"
    assert client.breaker.state == "closed"


async def test_chat_only_server_with_nvext_is_detected() -> None:
    """A NIM-like server: no /completion, chat API, enforces nvext.guided_json and nothing else."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/completion":
            return httpx.Response(404, json={"detail": "Not Found"})
        body = json.loads(request.content)
        schema = body.get("nvext", {}).get("guided_json")
        if schema and "probe" in schema.get("properties", {}):
            content = json.dumps({"probe": schema["properties"]["probe"]["enum"][0]})
        else:
            content = "Hello! How can I help?"
        return httpx.Response(
            200,
            json={
                "model": "nim",
                "choices": [{"message": {"content": content}}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 4},
            },
        )

    client = LLMClient("http://nim.test", transport=httpx.MockTransport(handler), backoff=0.001)
    reply = await client.complete(system="s", user="u", chatml=CHATML, schema={"type": "object"})
    assert (reply.api, reply.structured) == ("chat", "nvext")


@pytest.fixture(scope="module")
async def real_llm() -> AsyncIterator[str]:
    with ServerProcess("--ctx-size", "2048") as server:
        yield server.url


async def test_real_server_is_detected_as_completion_with_json_schema(real_llm: str) -> None:
    client = LLMClient(real_llm)
    schema = {
        "type": "object",
        "properties": {"level": {"enum": ["low", "high"]}},
        "required": ["level"],
        "additionalProperties": False,
    }
    reply = await client.complete(system="s", user="u", chatml=CHATML, schema=schema)
    assert (reply.api, reply.structured) == ("completion", "json_schema")
    assert json.loads(reply.text)["level"] in ("low", "high")
    async with httpx.AsyncClient() as http:
        tokens = (await http.post(f"{real_llm}/tokenize", json={"content": "front door camera"})).json()["tokens"]
    assert await client.count_tokens("front door camera") == len(tokens)
    assert await client.healthy()
    await client.aclose()
