"""Anthropic's Messages API, llama-server's ``/metrics`` and its CORS rules, against the real server with the
embedded model (ports 18645-18646).

- ``/v1/messages``: Anthropic's message shape and usage, its named stream events with block indices in order,
  a tool call as a ``tool_use`` block (forced with ``tool_choice: any``; the grammar makes it well formed)
  streamed with ``input_json_delta``, tool results and ``thinking`` history translated, images refused as
  llama-server refuses them, a bad field named in the 400; ``/v1/messages/count_tokens``.
- ``/metrics``: off by default (llama-server's 501), with ``--metrics`` the ``Process-Start-Time-Unix``
  header (in that case) and llama-server's exposition (``# TYPE`` lines with the ``_total`` names), counters
  that add up to the answers' timings, a throughput window that each scrape restarts.
- CORS: the request's Origin echoed by default, ``--cors-origins localhost`` echoing local origins only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from ai.nemotron.cors import CorsPolicy, origin_is_local
from ai.nemotron.launch import ServerProcess

WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather in a location",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}
HELLO = [{"role": "user", "content": "Say hello"}]
RED_PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="


@pytest.fixture(scope="module")
def api() -> Iterator[httpx.Client]:
    """--metrics and --cors-origins localhost."""
    server = ServerProcess("--ctx-size", "2048", "--metrics", "--cors-origins", "localhost", port=18645)
    with server, httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def plain() -> Iterator[httpx.Client]:
    """llama-server's defaults: no /metrics, any origin."""
    server = ServerProcess("--ctx-size", "1024", port=18646)
    with server, httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


def events(response: httpx.Response) -> list[tuple[str, dict]]:
    """(event name, data) of each server-sent event."""
    assert response.status_code == 200, response.text
    out, name = [], ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            out.append((name, json.loads(line.removeprefix("data: "))))
    return out


def message(client: httpx.Client, **body: object) -> dict:
    r = client.post("/v1/messages", json={"max_tokens": 16, "messages": HELLO, **body})
    assert r.status_code == 200, r.text
    return r.json()


# --- /v1/messages -----------------------------------------------------------------------------------------


def test_message_shape(api: httpx.Client) -> None:
    body = message(api, system=[{"type": "text", "text": "Be brief."}], temperature=0)
    assert set(body) == {"id", "type", "role", "content", "model", "stop_reason", "stop_sequence", "usage"}
    assert body["id"].startswith("msg_") and body["type"] == "message" and body["role"] == "assistant"
    assert [block["type"] for block in body["content"]] == ["text"] and body["content"][0]["text"]
    assert body["stop_reason"] in ("end_turn", "max_tokens")
    usage = body["usage"]
    assert set(usage) == {"cache_read_input_tokens", "input_tokens", "output_tokens"}
    assert 0 < usage["output_tokens"] <= 16 and usage["input_tokens"] + usage["cache_read_input_tokens"] > 5
    again = message(api, system=[{"type": "text", "text": "Be brief."}], temperature=0)
    assert again["usage"]["cache_read_input_tokens"] > 0  # the same prompt: read from the slot's cache


def test_stop_sequence_is_reported(api: httpx.Client) -> None:
    body = message(api, max_tokens=64, stop_sequences=[" "], temperature=0)
    assert body["stop_reason"] == "end_turn"
    assert body["stop_sequence"] == " "
    assert " " not in body["content"][0]["text"]


def test_stream_events(api: httpx.Client) -> None:
    with api.stream("POST", "/v1/messages", json={"max_tokens": 12, "stream": True, "messages": HELLO}) as r:
        seen = events(r)
    assert all(name == data["type"] for name, data in seen)
    kinds = [data["type"] for _, data in seen]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    start = seen[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] > 0
    assert kinds[1] == "content_block_start" and seen[1][1]["index"] == 0
    deltas = [data for _, data in seen if data["type"] == "content_block_delta"]
    assert deltas and all(d["index"] == 0 and d["delta"]["type"] == "text_delta" for d in deltas)
    assert [data["index"] for _, data in seen if data["type"] == "content_block_stop"] == [0]
    end = seen[-2][1]
    assert end["delta"]["stop_reason"] in ("end_turn", "max_tokens") and end["usage"]["output_tokens"] > 0
    assert all("timings" not in data for _, data in seen)  # no timings, and no [DONE] (every data is JSON)


def test_forced_tool_call_is_a_tool_use_block(api: httpx.Client) -> None:
    body = message(
        api,
        max_tokens=96,
        tools=[WEATHER],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
    )
    calls = [block for block in body["content"] if block["type"] == "tool_use"]
    assert body["stop_reason"] == "tool_use" and len(calls) == 1
    assert calls[0]["name"] == "get_weather" and isinstance(calls[0]["input"]["location"], str)
    assert calls[0]["id"]


def test_streamed_tool_call(api: httpx.Client) -> None:
    request = {
        "max_tokens": 96,
        "stream": True,
        "tools": [WEATHER],
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "messages": [{"role": "user", "content": "Weather in Rome?"}],
    }
    with api.stream("POST", "/v1/messages", json=request) as r:
        seen = [data for _, data in events(r)]
    starts = [e for e in seen if e["type"] == "content_block_start"]
    assert [e["content_block"]["type"] for e in starts] == ["tool_use"] and starts[0]["index"] == 0
    assert starts[0]["content_block"]["name"] == "get_weather"
    partial = "".join(e["delta"]["partial_json"] for e in seen if e["type"] == "content_block_delta")
    assert "location" in json.loads(partial)
    assert [e["index"] for e in seen if e["type"] == "content_block_stop"] == [0]
    assert next(e for e in seen if e["type"] == "message_delta")["delta"]["stop_reason"] == "tool_use"


def test_tool_results_and_history(api: httpx.Client) -> None:
    history = [
        {"role": "user", "content": "What's the weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should look it up.", "signature": ""},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Here it is:"},
                {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True, "content": "City not found"},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "Sunny"}]},
            ],
        },
    ]
    body = message(api, messages=history, tools=[WEATHER])
    assert body["type"] == "message" and body["content"]


def test_images_are_refused_as_llama_server_refuses_them(api: httpx.Client) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": RED_PIXEL}}
    tool_result = {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "x"}, image]}
    for content in ([image, {"type": "text", "text": "What is this?"}], [tool_result]):
        r = api.post("/v1/messages", json={"max_tokens": 4, "messages": [{"role": "user", "content": content}]})
        assert r.status_code == 500
        assert r.json()["error"]["message"].startswith("image input is not supported")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"max_tokens": 4}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages.0.content.0"),
        ({"messages": HELLO, "top_p": 2}, "top_p"),
        ({"messages": HELLO, "tool_choice": {"type": "tool"}}, "tool_choice"),
        ({"messages": HELLO, "tools": [{"name": "bad name!"}]}, "tools.0.name"),
    ],
)
def test_bad_fields_are_named(api: httpx.Client, body: dict, field: str) -> None:
    r = api.post("/v1/messages", json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and f"'{field}'" in error["message"]


def test_empty_messages_are_answered(api: httpx.Client) -> None:
    assert message(api, messages=[])["type"] == "message"


def test_count_tokens(api: httpx.Client) -> None:
    def count(**body: object) -> int:
        r = api.post("/v1/messages/count_tokens", json={"messages": HELLO, **body})
        assert r.status_code == 200, r.text
        assert set(r.json()) == {"input_tokens"}
        return int(r.json()["input_tokens"])

    plain = count()
    assert plain > 0
    assert count(system="Be brief.") < count(system=[{"type": "text", "text": "Be brief. Answer in French."}])
    # the prompt a /v1/messages request becomes: its input tokens are the count
    usage = message(api, max_tokens=1)["usage"]
    assert usage["input_tokens"] + usage["cache_read_input_tokens"] == plain


# --- /metrics ---------------------------------------------------------------------------------------------


def metrics(client: httpx.Client) -> dict[str, tuple[str, float]]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert "Process-Start-Time-Unix" in {name.decode() for name, _ in r.headers.raw}  # in llama-server's case
    types, out = {}, {}
    for line in r.text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line.startswith("llamacpp:") and "{" not in line:
            name, value = line.split(" ", 1)
            out[name] = (types[name], float(value))
    return out


def test_metrics_are_off_by_default(plain: httpx.Client) -> None:
    r = plain.get("/metrics")
    assert r.status_code == 501
    assert r.json()["error"] == {
        "code": 501,
        "message": "This server does not support metrics endpoint. Start it with `--metrics`",
        "type": "not_supported_error",
    }


def test_metrics_add_up_to_the_timings(api: httpx.Client) -> None:
    before = metrics(api)
    timings = [
        api.post("/completion", json={"prompt": "the quick brown fox", "n_predict": n}).json()["timings"]
        for n in (1, 8)
    ]
    after = metrics(api)
    for name, key in (("tokens_predicted_total", "predicted_n"), ("prompt_tokens_cached_total", "cache_n")):
        kind, value = after[f"llamacpp:{name}"]
        assert kind == "counter"
        assert value - before[f"llamacpp:{name}"][1] == sum(t[key] for t in timings)
    assert after["llamacpp:n_decode_total"][1] > before["llamacpp:n_decode_total"][1]
    assert after["llamacpp:predicted_tokens_seconds"][0] == "gauge"
    assert after["llamacpp:predicted_tokens_seconds"][1] > 0
    assert metrics(api)["llamacpp:predicted_tokens_seconds"][1] == 0  # a new window: nothing ran since
    # the generation rate is over decode steps: the first token costs none
    assert timings[0]["predicted_per_second"] == 0.0
    assert timings[1]["predicted_per_second"] == pytest.approx(1e3 * 7 / timings[1]["predicted_ms"])


# --- CORS -------------------------------------------------------------------------------------------------


def preflight(client: httpx.Client, origin: str) -> dict[str, str]:
    r = client.options("/completions", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert r.status_code == 200 and r.text == ""
    return {k.decode(): v.decode() for k, v in r.headers.raw}  # the names as sent, like a plain dict would


def test_cors_defaults_echo_the_origin(plain: httpx.Client) -> None:
    headers = preflight(plain, "https://web.example.org")
    assert headers["Access-Control-Allow-Origin"] == "https://web.example.org"
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Access-Control-Allow-Methods"] == "GET, POST, DELETE, OPTIONS"
    assert headers["Access-Control-Allow-Headers"] == "*"
    r = plain.get("/health", headers={"Origin": "https://web.example.org"})
    assert r.headers["access-control-allow-origin"] == "https://web.example.org"


def test_cors_localhost_only(api: httpx.Client) -> None:
    assert preflight(api, "http://127.0.0.1:3000")["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
    assert "Access-Control-Allow-Origin" not in preflight(api, "http://localhost.evil.com")


@pytest.mark.parametrize(
    ("origin", "local"),
    [
        ("http://localhost", True),
        ("https://localhost:8080", True),
        ("http://[::1]:3000", True),
        ("http://127.0.0.1", True),
        ("http://notlocalhost", False),
        ("http://localhost.evil.com", False),
        ("ftp://localhost", False),
        ("http://localhost/path", False),
        ("http://localhost:port", False),
    ],
)
def test_origin_is_local(origin: str, local: bool) -> None:
    assert origin_is_local(origin) is local


def test_cors_origin_lists() -> None:
    assert CorsPolicy("https://a.example").allowed_origin("https://b.example") == "https://a.example"
    listed = CorsPolicy("https://a.example, https://b.example")
    assert listed.allowed_origin("https://b.example") == "https://b.example"
    assert listed.allowed_origin("https://c.example") is None
    assert CorsPolicy(credentials=False).allowed_origin("https://c.example") == "*"
