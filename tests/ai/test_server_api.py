"""The llama.cpp server API, field for field, against the real server with the embedded model."""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

CHATML_PROMPT = (
    "<|im_start|>system\nYou are a security analyst.<|im_end|>\n<|im_start|>user\n"
    "Analyze: A person detected at 14:30 at the front door.<|im_end|>\n<|im_start|>assistant\n"
)
TIMING_KEYS = {
    "prompt_n",
    "prompt_ms",
    "prompt_per_second",
    "predicted_n",
    "predicted_ms",
    "predicted_per_second",
    "cache_n",
}


def complete(client: httpx.Client, **body: object) -> dict:
    """POST /completion. Where outputs are compared, callers pass cache_prompt=False: llama.cpp's logits
    depend slightly on how a prompt was split between cache and new batch, which can flip a greedy pick."""
    r = client.post("/completion", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def sse_events(response: httpx.Response) -> list[dict | str]:
    events: list[dict | str] = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


# The spec's "Testing" section, verbatim but for the port.
SPEC_CURLS = [
    "curl -s http://localhost:8091/health",
    """curl -X POST http://localhost:8091/completion \\
  -H "Content-Type: application/json" \\
  -d '{
    "prompt": "<|im_start|>system\\nYou are a security analyst.<|im_end|>\\n<|im_start|>user\\nAnalyze: A person detected at 14:30 at the front door.<|im_end|>\\n<|im_start|>assistant\\n",
    "temperature": 0.7,
    "max_tokens": 500,
    "stop": ["<|im_end|>"]
  }'""",
    """curl -X POST http://localhost:8091/v1/chat/completions \\
  -H "Content-Type: application/json" \\
  -d '{
    "messages": [{"role": "user", "content": "What is a security risk?"}],
    "max_tokens": 100
  }'""",
]


@pytest.mark.parametrize("command", SPEC_CURLS, ids=["health", "completion", "chat"])
def test_spec_curl_commands_work_verbatim(server_url: str, command: str) -> None:
    command = command.replace("http://localhost:8091", server_url.replace("127.0.0.1", "localhost"))
    out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, check=True).stdout
    body = json.loads(out)
    if "/health" in command:
        assert body["status"] == "healthy" and body["model_loaded"] is True
    elif "/v1/chat/completions" not in command:
        assert body["content"].strip() and body["stop"] is True
        assert body["tokens_predicted"] <= 500
    else:
        assert body["choices"][0]["message"]["content"].strip()
        assert body["usage"]["completion_tokens"] <= 100


def test_health_has_spec_fields(client: httpx.Client) -> None:
    body = client.get("/health").json()
    for key in (
        "status",
        "model",
        "model_loaded",
        "device",
        "cuda_available",
        "vram_used_gb",
        "quantization",
        "quantization_details",
        "attention_implementation",
        "flash_attention_available",
        "engine",
    ):
        assert key in body, key
    assert body["engine"] == "llamacpp" and body["quantization"] == "Q4_1"


def test_completion_response_fields(client: httpx.Client) -> None:
    body = complete(client, prompt=CHATML_PROMPT, n_predict=8, temperature=0)
    for key in (
        "content",
        "stop",
        "stop_type",
        "stopping_word",
        "tokens_predicted",
        "tokens_evaluated",
        "tokens_cached",
        "truncated",
        "model",
        "timings",
    ):
        assert key in body, key
    assert TIMING_KEYS <= body["timings"].keys()
    assert body["stop_type"] == "limit" and body["tokens_predicted"] == 8
    assert body["timings"]["predicted_n"] == 8
    assert body["tokens_evaluated"] == body["timings"]["prompt_n"] + body["timings"]["cache_n"]


def test_max_tokens_is_an_alias_of_n_predict(client: httpx.Client) -> None:
    assert complete(client, prompt="Hello", max_tokens=3, temperature=0)["tokens_predicted"] == 3


def test_greedy_is_deterministic_and_seed_reproducible(client: httpx.Client) -> None:
    def run(**kw: object) -> str:
        return complete(client, prompt=CHATML_PROMPT, n_predict=20, cache_prompt=False, **kw)["content"]

    assert run(temperature=0) == run(temperature=0)
    s1, s2 = run(temperature=1.0, seed=42), run(temperature=1.0, seed=42)
    assert s1 == s2
    others = {run(temperature=1.0, seed=s) for s in (1, 2, 3)}
    assert len(others | {s1}) > 1


def test_stop_string_ends_generation_and_is_not_returned(client: httpx.Client) -> None:
    full = complete(client, prompt=CHATML_PROMPT, n_predict=40, temperature=0, cache_prompt=False)["content"]
    words = re.findall(r"[A-Za-z]{4,}", full)
    assert len(words) >= 3, full
    stop = words[2]
    body = complete(
        client, prompt=CHATML_PROMPT, n_predict=40, temperature=0, stop=[stop, "zzzz-never"], cache_prompt=False
    )
    assert body["stop_type"] == "word" and body["stopping_word"] == stop
    assert body["content"] == full[: full.index(stop)]
    assert stop not in body["content"]


def test_eos_stop_type(client: httpx.Client) -> None:
    body = complete(
        client, prompt="<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n", temperature=0, n_predict=200
    )
    assert body["stop_type"] == "eos"
    assert "<|im_end|>" not in body["content"]


def test_completion_streaming_matches_non_streaming(client: httpx.Client) -> None:
    want = complete(client, prompt=CHATML_PROMPT, n_predict=24, temperature=0, cache_prompt=False)
    body = {"prompt": CHATML_PROMPT, "n_predict": 24, "temperature": 0, "stream": True, "cache_prompt": False}
    with client.stream("POST", "/completion", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    pieces = [e for e in events if isinstance(e, dict) and not e["stop"]]
    final = events[-1]
    assert len(pieces) > 1
    assert "".join(p["content"] for p in pieces) == want["content"]
    assert isinstance(final, dict) and final["stop"] is True and final["stop_type"] == "limit"
    assert final["tokens_predicted"] == 24 and TIMING_KEYS <= final["timings"].keys()


def test_streaming_never_leaks_a_stop_string(client: httpx.Client) -> None:
    full = complete(client, prompt=CHATML_PROMPT, n_predict=40, temperature=0, cache_prompt=False)["content"]
    stop = re.findall(r"[A-Za-z]{5,}", full)[1]
    body = {
        "prompt": CHATML_PROMPT,
        "n_predict": 40,
        "temperature": 0,
        "stream": True,
        "stop": [stop],
        "cache_prompt": False,
    }
    with client.stream("POST", "/completion", json=body) as r:
        events = sse_events(r)
    text = "".join(e["content"] for e in events if isinstance(e, dict) and not e["stop"])
    assert text == full[: full.index(stop)]
    assert events[-1]["stop_type"] == "word"


def test_chat_completions_shape_and_streaming(client: httpx.Client) -> None:
    body = {
        "messages": [{"role": "user", "content": "Name a colour."}],
        "max_tokens": 12,
        "temperature": 0,
        "cache_prompt": False,
    }
    r = client.post("/v1/chat/completions", json=body).json()
    assert r["object"] == "chat.completion" and r["choices"][0]["message"]["role"] == "assistant"
    assert r["choices"][0]["finish_reason"] in ("stop", "length")
    assert r["usage"]["total_tokens"] == r["usage"]["prompt_tokens"] + r["usage"]["completion_tokens"]
    with client.stream(
        "POST", "/v1/chat/completions", json={**body, "stream": True, "stream_options": {"include_usage": True}}
    ) as resp:
        events = sse_events(resp)
    assert events[-1] == "[DONE]"
    chunks = [e for e in events if isinstance(e, dict)]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}  # llama-server's role chunk
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:] if c["choices"])
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == r["choices"][0]["message"]["content"]
    # the finish chunk, then the usage in a chunk of its own with no choices (OpenAI's and llama-server's shape)
    assert chunks[-2]["choices"][0]["finish_reason"] == r["choices"][0]["finish_reason"]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == r["usage"]


def test_openai_completions(client: httpx.Client) -> None:
    body = {"prompt": "The front door", "max_tokens": 5, "temperature": 0, "cache_prompt": False}
    r = client.post("/v1/completions", json=body).json()
    assert r["object"] == "text_completion" and r["choices"][0]["finish_reason"] == "length"
    assert r["usage"]["completion_tokens"] == 5
    with client.stream("POST", "/v1/completions", json={**body, "stream": True}) as s:
        events = sse_events(s)
    assert events[-1] == "[DONE]"
    assert "".join(e["choices"][0]["text"] for e in events if isinstance(e, dict)) == r["choices"][0]["text"]


def test_models_props_tokenize_detokenize(client: httpx.Client) -> None:
    models = client.get("/v1/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == "SmolLM2-135M-Instruct.Q4_1"
    props = client.get("/props").json()
    assert props["total_slots"] == 2 and props["default_generation_settings"]["n_ctx"] == 4096
    assert "<|im_start|>" in props["chat_template"]
    text = "Person at the porch, 03:12 — café 日本 🚪"
    tokens = client.post("/tokenize", json={"content": text}).json()["tokens"]
    assert all(isinstance(t, int) for t in tokens) and len(tokens) > 5
    assert client.post("/detokenize", json={"tokens": tokens}).json()["content"] == text
    pieces = client.post("/tokenize", json={"content": "hello world", "with_pieces": True}).json()["tokens"]
    assert "".join(p["piece"] for p in pieces) == "hello world"
    special = client.post("/tokenize", json={"content": "<|im_start|>"}).json()["tokens"]
    assert len(special) == 1


def test_metrics_use_llamacpp_names(client: httpx.Client) -> None:
    complete(client, prompt="Hi", n_predict=2)
    text = client.get("/metrics").text
    for name in (
        "llamacpp:prompt_tokens_total",
        "llamacpp:tokens_predicted_total",
        "llamacpp:requests_processing",
        "llamacpp:requests_deferred",
        "llamacpp:prompt_tokens_seconds",
        "llamacpp:predicted_tokens_seconds",
    ):
        assert name in text, name
    predicted = float(re.search(r"^llamacpp:tokens_predicted_total (\S+)$", text, re.M).group(1))
    assert predicted >= 2


@pytest.mark.parametrize(
    ("body", "status", "kind", "says"),
    [
        ({"prompt": "x", "n_predict": "many"}, 400, "invalid_request_error", "n_predict"),
        ({"n_predict": 3}, 400, "invalid_request_error", "prompt"),
        ({"prompt": "x", "temperature": -1}, 400, "invalid_request_error", "temperature"),
        ({"prompt": "x", "grammar": "root ::= nothing-defined"}, 400, "invalid_request_error", "grammar"),
        ({"prompt": "x", "json_schema": {"type": "nonsense"}}, 400, "invalid_request_error", "json_schema"),
        (
            {"prompt": "x", "json_schema": {}, "nvext": {"guided_choice": ["a"]}},
            400,
            "invalid_request_error",
            "conflicting",
        ),
        ({"prompt": "x", "nvext": {"guided_regex": "(a)\\1"}}, 400, "invalid_request_error", "guided_regex"),
        ({"prompt": "x", "response_format": {"type": "xml"}}, 400, "invalid_request_error", "response_format"),
        ({"prompt": [999999]}, 400, "invalid_request_error", "out of range"),
        ({"prompt": "word " * 5000}, 400, "exceed_context_size_error", "context"),
    ],
)
def test_errors_have_llama_cpp_shape(client: httpx.Client, body: dict, status: int, kind: str, says: str) -> None:
    r = client.post("/completion", json=body)
    assert r.status_code == status
    error = r.json()["error"]
    assert error["code"] == status and error["type"] == kind
    assert says in error["message"]


def test_malformed_json_and_unknown_route(client: httpx.Client) -> None:
    r = client.post("/completion", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = client.get("/no/such/route")
    assert r.status_code == 404 and r.json()["error"]["code"] == 404


def test_prompt_cache_reuses_a_shared_prefix(client: httpx.Client) -> None:
    prefix = "<|im_start|>system\n" + " ".join(f"Rule {i}: report what the camera sees." for i in range(60))
    first = complete(client, prompt=prefix + "\nCase A<|im_end|>", n_predict=4, temperature=0)
    second = complete(client, prompt=prefix + "\nCase B, a different case<|im_end|>", n_predict=4, temperature=0)
    shared = len(client.post("/tokenize", json={"content": prefix + "\nCase"}).json()["tokens"])
    assert second["timings"]["cache_n"] >= shared - 2
    assert second["timings"]["prompt_n"] < first["timings"]["prompt_n"] / 5
    cold = complete(
        client, prompt=prefix + "\nCase B, a different case<|im_end|>", n_predict=4, temperature=0, cache_prompt=False
    )
    assert cold["timings"]["cache_n"] == 0 and cold["timings"]["prompt_n"] == second["tokens_evaluated"]


def test_parallel_requests_never_mix_state(client: httpx.Client, server_url: str) -> None:
    prompts = [
        f"<|im_start|>user\nDescribe camera {name} in one line.<|im_end|>\n<|im_start|>assistant\n"
        for name in ("north", "south", "garage", "porch")
    ]
    sequential = [
        complete(client, prompt=p, n_predict=16, temperature=0, cache_prompt=False)["content"] for p in prompts
    ]

    def one(p: str) -> str:
        with httpx.Client(base_url=server_url, timeout=120) as c:
            return complete(c, prompt=p, n_predict=16, temperature=0, cache_prompt=False)["content"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(one, prompts * 2))
    assert concurrent == sequential * 2


def test_client_disconnect_frees_the_slot(client: httpx.Client, server_url: str) -> None:
    with (
        httpx.Client(base_url=server_url, timeout=60) as c,
        c.stream("POST", "/completion", json={"prompt": CHATML_PROMPT, "n_predict": 400, "stream": True}) as r,
    ):
        next(r.iter_lines())
    for _ in range(3):  # both slots are usable afterwards
        assert complete(client, prompt="Hello", n_predict=2)["tokens_predicted"] == 2
