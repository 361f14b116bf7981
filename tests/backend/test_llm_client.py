"""The LLM client: retries, circuit breaker, API and structured-output discovery.

Faults (5xx, refused connections) and servers we can't run here (vLLM/NIM without /completion) are
injected with httpx.MockTransport; everything else runs against the real embedded LLM server.
"""

from __future__ import annotations

import asyncio
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


# --- streaming and the silence timeout (issue #9) --------------------------------------------------------


class SlowStream:
    """A raw HTTP server that streams llama.cpp ``/completion`` events, one token after each of ``gaps``
    seconds: a slow model, or one that falls silent. Counts the requests it got."""

    def __init__(self, gaps: list[float]) -> None:
        self.gaps = gaps
        self.requests = 0
        self.client_left = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")),
            0,
        )
        await reader.readexactly(length)
        self.requests += 1
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
        try:
            for gap in self.gaps:
                await asyncio.sleep(gap)
                writer.write(b'data: {"content": "x"}\n\n')
                await writer.drain()
            writer.write(b'data: {"content": "", "stop": true, "model": "slow", "tokens_predicted": 1}\n\n')
            await writer.drain()
        except ConnectionError:
            self.client_left.set()
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()


async def test_a_slow_model_that_keeps_writing_is_never_cut_off() -> None:
    """Eight tokens 0.3 s apart: 2.4 s in all, more than twice the 1 s silence timeout."""
    async with SlowStream([0.3] * 8) as url:
        client = LLMClient(url, api="completion", structured="json_schema", idle_timeout=1.0)
        reply = await client.complete(system="s", user="u", chatml=CHATML)
        await client.aclose()
    assert (reply.text, reply.model) == ("x" * 8, "slow")


async def test_silence_fails_as_unavailable_and_is_not_sent_again() -> None:
    stream = SlowStream([0.05, 5.0])
    async with stream as url:
        client = LLMClient(url, api="completion", structured="json_schema", idle_timeout=0.5, max_retries=3)
        with pytest.raises(LLMUnavailableError, match=r"no answer for 0\.5 s") as failure:
            await client.complete(system="s", user="u", chatml=CHATML)
        await client.aclose()
    assert failure.value.retryable
    assert stream.requests == 1  # a server still busy with it does not get it again


async def test_a_streamed_error_event_is_a_refusal_of_its_kind() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = b'data: {"error": {"code": 400, "message": "bad grammar", "type": "invalid_request_error"}}\n\n'
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = client_with(httpx.MockTransport(handler))
    with pytest.raises(LLMRequestError, match="bad grammar"):
        await client.complete(system="s", user="u", chatml=CHATML)


async def test_a_healthy_probe_closes_the_breaker_so_waiting_work_goes_at_once() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        return httpx.Response(200, json={"content": "ok"})

    client = client_with(httpx.MockTransport(handler), breaker=CircuitBreaker(threshold=1, cooldown=600))
    client.breaker.failure()
    assert client.breaker.state == "open"
    assert await client.healthy()
    assert client.breaker.state == "closed"
    assert (await client.complete(system="s", user="u", chatml=CHATML)).text == "ok"
