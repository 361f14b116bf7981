"""Bad input is a 4xx in llama.cpp's error shape naming the field, never a 5xx or a dropped connection.

Each minimal input below once gave a 500 (or killed the server, so that every later request was refused):
lone surrogates (Python's JSON parser accepts them, UTF-8 encoders do not), numbers that are not finite,
numbers past what llama.cpp stores, deep nesting, grammars that overflow llama.cpp's parser stack or allow
no token at all. All run against the real server with the embedded model.
"""

from __future__ import annotations

import json

import httpx
import pytest
import torch

from ai.nemotron.engines.base import SamplingParams
from ai.nemotron.engines.hf import apply_repeat_penalty, sample_token

CHAT = "/v1/chat/completions"
SURROGATE = "a\\ud83d b"  # as written in JSON text: a high surrogate without its pair
BIG = 2**64


def _deep(levels: int, leaf: str = "{}") -> str:
    return '{"items": ' * levels + leaf + "}" * levels


# (route, raw JSON body, words the message must contain: the field and what is wrong)
CASES: list[tuple[str, str | bytes, list[str]]] = [
    ("/tokenize", f'{{"content": "{SURROGATE}"}}', ["'content'", "surrogate"]),
    ("/completion", f'{{"prompt": "{SURROGATE}", "n_predict": 1}}', ["'prompt'", "surrogate"]),
    ("/v1/completions", f'{{"prompt": ["{SURROGATE}"], "max_tokens": 1}}', ["'prompt.0'", "surrogate"]),
    (CHAT, f'{{"messages": [{{"role": "user", "content": "{SURROGATE}"}}]}}', ["'messages.0.content'"]),
    (
        CHAT,
        f'{{"messages": [{{"role": "user", "content": [{{"type": "text", "text": "{SURROGATE}"}}]}}]}}',
        ["'messages.0.content.0.text'", "surrogate"],
    ),
    ("/completion", f'{{"prompt": "hi", "stop": ["x", "{SURROGATE}"]}}', ["'stop.1'", "surrogate"]),
    ("/completion", f'{{"prompt": "hi", "stop": "{SURROGATE}"}}', ["'stop'", "surrogate"]),
    ("/completion", f'{{"prompt": "hi", "grammar": "root ::= \\"{SURROGATE}\\""}}', ["'grammar'", "surrogate"]),
    ("/completion", f'{{"prompt": "hi", "json_schema": {{"enum": ["{SURROGATE}"]}}}}', ["'json_schema.enum.0'"]),
    # a schema given as a string is JSON inside JSON: its escapes are only read when it is parsed
    ("/completion", '{"prompt": "hi", "json_schema": "{\\"enum\\": [\\"a\\\\ud83d\\"]}"}', ["json_schema", "enum.0"]),
    ("/completion", f'{{"prompt": "hi", "nvext": {{"guided_regex": "{SURROGATE}"}}}}', ["'nvext.guided_regex'"]),
    ("/completion", '{"prompt": "hi", "a\\udc00b": 1}', ["'body'", "key", "surrogate"]),
    ("/completion", f'{{"prompt": "hi", "stream": true, "stream_options": {{"{SURROGATE}": 1}}}}', ["key"]),
    # numbers that are not finite: 1e999 parses as Infinity
    ("/completion", '{"prompt": "hi", "temperature": 1e999}', ["'temperature'", "finite"]),
    ("/completion", '{"prompt": "hi", "repeat_penalty": 1e999}', ["'repeat_penalty'", "finite"]),
    ("/completion", '{"prompt": "hi", "top_p": NaN}', ["'top_p'", "finite"]),
    ("/completion", '{"prompt": "hi", "min_p": -Infinity}', ["'min_p'", "finite"]),
    (CHAT, '{"messages": [{"role": "user", "content": "hi"}], "temperature": -1e999}', ["'temperature'"]),
    ("/completion", '{"prompt": "hi", "logit_bias": [[1, 1e999]]}', ["'logit_bias.0.1'", "finite"]),
    # integers past what llama.cpp stores (int32 counts, uint32 seed)
    ("/completion", f'{{"prompt": "hi", "seed": {BIG}}}', ["'seed'"]),
    ("/completion", f'{{"prompt": "hi", "top_k": {2**31}}}', ["'top_k'"]),
    ("/completion", f'{{"prompt": "hi", "n_predict": {BIG}}}', ["'n_predict'"]),
    ("/completion", '{"prompt": "hi", "n_predict": -2}', ["'n_predict'"]),
    (CHAT, f'{{"messages": [{{"role": "user", "content": "hi"}}], "max_tokens": {BIG}}}', ["'max_tokens'"]),
    ("/v1/completions", '{"prompt": "hi", "max_tokens": -1}', ["'max_tokens'"]),
    ("/completion", '{"prompt": "hi", "n_predict": 1' + "0" * 5000 + "}", ["not valid JSON"]),
    ("/completion", '{"prompt": [1, -1]}', ["prompt"]),
    ("/detokenize", f'{{"tokens": [{BIG}]}}', ["'tokens.0'"]),
    # wrong types and shapes
    ("/completion", '{"prompt": 5}', ["'prompt"]),
    ("/completion", '{"prompt": "hi", "stream": "maybe"}', ["'stream'"]),
    ("/completion", '{"prompt": "hi", "stop": 5}', ["'stop'"]),
    (CHAT, '{"messages": "hi"}', ["'messages'"]),
    (CHAT, '{"messages": [{"role": "user", "content": [{"text": "no type"}]}]}', ["'messages.0.content"]),
    (CHAT, '{"messages": [{"role": "robot", "content": "hi"}]}', ["'messages.0.role'"]),
    ("/completion", '{"prompt": "hi", "grammar": 7}', ["'grammar'"]),
    ("/completion", '{"prompt": "hi", "json_schema": [1]}', ["'json_schema'"]),
    ("/completion", '{"prompt": "hi", "nvext": "json"}', ["'nvext'"]),
    ("/completion", "[]", ["JSON object"]),
    ("/completion", '"prompt"', ["JSON object"]),
    ("/completion", "", ["not valid JSON"]),
    ("/tokenize", b'{"content": "\xff\xfe"}', ["not valid JSON"]),  # not UTF-8
    # nesting: JSON too deep for Python's parser, a schema too deep for the recursive readers
    ("/completion", "[" * 100_000, ["nests too deeply"]),
    ("/completion", '{"prompt": "hi", "json_schema": ' + _deep(200) + "}", ["'json_schema.items", "deeper"]),
    ("/completion", '{"prompt": "hi", "json_schema": "' + _deep(3000).replace('"', '\\"') + '"}', ["json_schema"]),
    # grammars: llama.cpp's recursive parser overflows its stack near 20,000 nested groups (a dead server)
    (
        "/completion",
        json.dumps({"prompt": "hi", "grammar": "root ::= " + "(" * 20_000 + '"a"' + ")" * 20_000}),
        ["nests"],
    ),
    ("/completion", json.dumps({"prompt": "hi", "nvext": {"guided_regex": "(" * 5000 + "a" + ")" * 5000}}), ["nest"]),
    (
        "/completion",
        json.dumps({"prompt": "hi", "json_schema": {"type": "string", "pattern": "^" + "(" * 2000 + ")" * 2000 + "$"}}),
        ["json_schema"],
    ),
]


def _ids() -> list[str]:
    return [f"{i}-{route.strip('/').replace('/', '_')}" for i, (route, _, _) in enumerate(CASES)]


@pytest.mark.parametrize(("route", "raw", "says"), CASES, ids=_ids())
def test_bad_input_is_a_400_naming_the_field(
    client: httpx.Client, route: str, raw: str | bytes, says: list[str]
) -> None:
    data = raw if isinstance(raw, bytes) else raw.encode()
    r = client.post(route, content=data, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    body = json.loads(r.content.decode("utf-8"))  # the reply itself is valid UTF-8 JSON
    assert body.keys() == {"error"} and body["error"].keys() == {"code", "message", "type"}
    assert body["error"]["code"] == 400 and body["error"]["type"] == "invalid_request_error"
    for word in says:
        assert word in body["error"]["message"], body["error"]["message"]
    assert client.get("/health").json()["status"] == "healthy"  # and the server lives on


@pytest.mark.parametrize(
    "constraint",
    [
        {"json_schema": {"type": "integer", "minimum": 5, "maximum": 4}},
        {
            "json_schema": {
                "type": "object",
                "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 4}},
                "required": ["n"],
            }
        },
        {"grammar": 'root ::= "a" [^\\x00-\\U0010FFFF]'},
    ],
    ids=["empty-range", "empty-range-inside", "empty-class"],
)
def test_a_constraint_nothing_can_satisfy_is_a_400_not_a_crash(client: httpx.Client, constraint: dict) -> None:
    """Refused when it is compiled, before anything is decoded or streamed, naming what is unsatisfiable (the
    engine also refuses, mid-answer, a grammar that allows no token next: ai.nemotron.guidance.Guide)."""
    for stream in (False, True):
        r = client.post("/completion", json={"prompt": "hi", "n_predict": 8, "stream": stream, **constraint})
        assert r.status_code == 400 and r.headers["content-type"].startswith("application/json"), r.text
        message = r.json()["error"]["message"]
        assert message.startswith(next(iter(constraint))), message
    assert client.post("/completion", json={"prompt": "hi", "n_predict": 2}).status_code == 200


def test_streaming_requests_fail_before_the_stream_starts(client: httpx.Client) -> None:
    r = client.post("/completion", json={"prompt": "hi", "stream": True, "temperature": -1})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/json")
    assert "'temperature'" in r.json()["error"]["message"]


def test_body_over_the_limit_is_a_413(client: httpx.Client) -> None:
    r = client.post("/completion", content=b'{"prompt": "' + b"x" * (9 * 1024 * 1024) + b'"}')
    assert r.status_code == 413
    assert r.json()["error"]["code"] == 413 and "limit" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "extreme",
    [
        {"temperature": 5e-324},
        {"temperature": 1.7e308, "top_k": 0, "top_p": 1.0, "min_p": 0.0},
        {"repeat_penalty": 5e-324},
        {"repeat_penalty": 1.7e308},
        {"top_k": 2**31 - 1},
        {"seed": 2**32 - 1},
        {"seed": -(2**63)},
        {"n_predict": 2**31 - 1, "grammar": 'root ::= "ok"'},  # the grammar ends it
    ],
    ids=lambda e: "-".join(f"{k}={v}" for k, v in e.items() if k != "grammar"),
)
def test_extreme_values_in_range_generate(client: httpx.Client, extreme: dict) -> None:
    """Every value the schema admits is one the engine takes (llama.cpp runs samplers in float32)."""
    body = {"prompt": "The front door camera saw", "n_predict": 3, "cache_prompt": False, **extreme}
    r = client.post("/completion", json=body)
    assert r.status_code == 200, r.text
    assert 1 <= r.json()["tokens_predicted"] <= 3
    assert r.json()["generation_settings"]["temperature"] == body.get("temperature", 0.8)


def test_nul_and_control_characters_are_text(client: httpx.Client) -> None:
    r = client.post("/completion", json={"prompt": "camera\u0000one\u0007", "n_predict": 2})
    assert r.status_code == 200, r.text
    tokens = client.post("/tokenize", json={"content": "a\u0000b"}).json()["tokens"]
    assert client.post("/detokenize", json={"tokens": tokens}).json()["content"] == "a\u0000b"


@pytest.mark.parametrize("temperature", [5e-324, 1e-30, 1.7e308])
@pytest.mark.parametrize("penalty", [5e-324, 1.0, 1.7e308])
def test_hf_sampling_takes_extreme_values(temperature: float, penalty: float) -> None:
    """The HF engine samples in float64 from the best logit down: no inf or NaN probabilities."""
    logits = torch.tensor([3.0, -2.0, 1.0, 0.5, float("-inf")])
    penalised = apply_repeat_penalty(logits, [0, 1, 4], penalty)
    assert torch.isfinite(penalised[:4]).all() and penalised[4] == float("-inf")  # a masked token stays masked
    params = SamplingParams(temperature=temperature, top_k=0, top_p=1.0, min_p=0.0)
    picks = {sample_token(penalised, params, torch.Generator().manual_seed(s)) for s in range(20)}
    assert picks and 4 not in picks
    if temperature < 1e-20:  # effectively greedy
        assert picks == {int(torch.argmax(penalised))}


def test_openapi_describes_every_request_body(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    want = {
        "/completion": "CompletionRequest",
        "/completions": "CompletionRequest",
        "/v1/completions": "OpenAICompletionRequest",
        "/v1/chat/completions": "ChatCompletionRequest",
        "/chat/completions": "ChatCompletionRequest",
        "/tokenize": "TokenizeRequest",
        "/detokenize": "DetokenizeRequest",
    }
    for path, model in want.items():
        body = spec["paths"][path]["post"]["requestBody"]
        assert body["required"] is True
        assert body["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model}"}
        assert "400" in spec["paths"][path]["post"]["responses"]
    completion = schemas["CompletionRequest"]
    assert {"prompt"} <= set(completion["required"])
    assert {"n_predict", "temperature", "grammar", "json_schema", "stop", "seed"} <= completion["properties"].keys()
    assert schemas["ChatCompletionRequest"]["properties"]["messages"]["items"] == {
        "$ref": "#/components/schemas/ChatMessage"
    }
    assert "ChatMessage" in schemas and "ErrorBody" in schemas
    refs = json.dumps(spec).count('"$ref": "#/$defs')
    assert refs == 0  # every reference resolves inside the document


@pytest.mark.parametrize(
    "constraint",
    [
        {"json_schema": {"type": "object", "properties": {"summary": {"type": "string", "maxLength": 600}}}},
        {"grammar": "root ::= " + "(" * 200 + "[a-z ]+" + ")" * 200},
    ],
    ids=["maxLength-600", "groups-200"],
)
def test_deep_but_legitimate_grammars_are_taken(client: httpx.Client, constraint: dict) -> None:
    """A long string (the analyzer's risk schema has a maxLength of 600: llguidance keeps the count, no
    nesting) and a GBNF grammar 200 groups deep are served; deeper ones are a 400 saying they nest too deeply
    (the GBNF-to-Lark converter recurses once per group)."""
    r = client.post("/completion", json={"prompt": "Summary:", "n_predict": 6, **constraint})
    assert r.status_code == 200, r.text
    assert r.json()["tokens_predicted"] >= 1


def test_a_grammar_past_the_constraint_engines_limits_is_a_400(client: httpx.Client) -> None:
    """A grammar that forces the same text forever makes llguidance compute an endless forced run: the request
    is refused naming the limit (llama-server's GBNF sampler would decode it); the server goes on."""
    body = {"prompt": "Count.", "n_predict": 8, "grammar": 'root ::= "tick " root'}
    r = client.post("/completion", json=body)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error", r.text
    assert "cannot be followed further" in r.json()["error"]["message"]
    assert len(r.json()["error"]["message"]) < 600
    assert client.post("/completion", json={"prompt": "hi", "n_predict": 2}).status_code == 200
