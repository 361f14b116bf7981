"""Structured output is enforced while decoding: every request form, many seeds, always valid."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from ai.nemotron.launch import ServerProcess

RISK_SCHEMA = {
    "type": "object",
    "properties": {
        "risk_score": {"type": "integer", "minimum": 0, "maximum": 100},
        "risk_level": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
        "summary": {"type": "string", "maxLength": 60},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["risk_score", "risk_level", "summary", "confidence"],
    "additionalProperties": False,
}
ASK = "Rate the risk of a stranger at the back door at 3am. Answer in JSON."
CHATML = f"<|im_start|>user\n{ASK}<|im_end|>\n<|im_start|>assistant\n"
MESSAGES = [{"role": "user", "content": ASK}]
SEEDS = range(6)

# (endpoint, the part of the request body that asks for the schema)
FORMS: dict[str, tuple[str, dict[str, Any]]] = {
    "llama.cpp json_schema": ("/completion", {"json_schema": RISK_SCHEMA}),
    "llama.cpp response_format (old shape)": (
        "/completion",
        {"response_format": {"type": "json_object", "schema": RISK_SCHEMA}},
    ),
    "OpenAI response_format json_schema": (
        "/v1/chat/completions",
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "risk", "schema": RISK_SCHEMA, "strict": True},
            }
        },
    ),
    "NIM nvext.guided_json (chat)": ("/v1/chat/completions", {"nvext": {"guided_json": RISK_SCHEMA}}),
    "NIM nvext.guided_json (completion)": ("/completion", {"nvext": {"guided_json": json.dumps(RISK_SCHEMA)}}),
    "vLLM guided_json": ("/v1/completions", {"guided_json": RISK_SCHEMA}),
    "vLLM structured_outputs.json": ("/v1/chat/completions", {"structured_outputs": {"json": RISK_SCHEMA}}),
}


def generate(client: httpx.Client, endpoint: str, extra: dict, seed: int, max_tokens: int = 120) -> str:
    body: dict = {"temperature": 1.0, "seed": seed, "max_tokens": max_tokens, **extra}
    if endpoint == "/v1/chat/completions":
        body["messages"] = MESSAGES
    else:
        body["prompt"] = CHATML
    r = client.post(endpoint, json=body)
    assert r.status_code == 200, r.text
    data = r.json()
    if endpoint == "/completion":
        assert data["stop_type"] == "eos", data
        return data["content"]
    choice = data["choices"][0]
    assert choice["finish_reason"] == "stop", data
    return choice["message"]["content"] if "message" in choice else choice["text"]


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_schema_is_enforced_for_every_seed(client: httpx.Client, form: str) -> None:
    endpoint, extra = FORMS[form]
    for seed in SEEDS:
        text = generate(client, endpoint, extra, seed)
        jsonschema.validate(json.loads(text), RISK_SCHEMA)


def test_json_object_gives_a_json_object(client: httpx.Client) -> None:
    body = {
        "messages": [{"role": "user", "content": "Give a JSON object with the key level set to low."}],
        "response_format": {"type": "json_object"},
        "max_tokens": 200,
        "temperature": 0.7,
    }
    finished = 0
    for seed in range(4):
        choice = client.post("/v1/chat/completions", json={**body, "seed": seed}).json()["choices"][0]
        text = choice["message"]["content"]
        assert text.startswith("{"), text
        if choice["finish_reason"] == "stop":  # a free-form object may outrun max_tokens: then it's cut
            finished += 1
            assert isinstance(json.loads(text), dict)
    assert finished >= 2


@pytest.mark.parametrize("where", ["nvext", "top", "structured_outputs"])
def test_choice_and_regex(client: httpx.Client, where: str) -> None:
    choices = ["low", "medium", "high", "critical"]
    score = "[0-9]|[1-9][0-9]|100"

    def wrap(kind: str, value: object) -> dict:
        if where == "nvext":
            return {"nvext": {f"guided_{kind}": value}}
        if where == "top":
            return {f"guided_{kind}": value}
        return {"structured_outputs": {kind: value}}

    for seed in range(6):
        assert generate(client, "/completion", wrap("choice", choices), seed, 10) in choices
        assert re.fullmatch(score, generate(client, "/completion", wrap("regex", score), seed, 10))


def test_gbnf_grammar(client: httpx.Client) -> None:
    grammar = 'root ::= "level=" ("low" | "high") ";score=" [0-9]{1,2}'
    for seed in range(5):
        text = generate(client, "/completion", {"grammar": grammar}, seed, 20)
        assert re.fullmatch(r"level=(low|high);score=[0-9]{1,2}", text), text


def test_regex_with_classes_and_repeats(client: httpx.Client) -> None:
    pattern = r"[A-Z]{3}-\d{4}( \(unknown\))?"
    for seed in range(5):
        text = generate(client, "/completion", {"nvext": {"guided_regex": pattern}}, seed, 20)
        assert re.fullmatch(pattern, text), text


@pytest.fixture(scope="module")
def hf_client(model_path: Path) -> Iterator[httpx.Client]:
    """The server on the HF Transformers engine, the same embedded model loaded from its GGUF."""
    with (
        ServerProcess("--engine", "hf", "--model", str(model_path), "--ctx-size", "2048", "--threads", "1") as s,
        httpx.Client(base_url=s.url, timeout=300) as client,
    ):
        yield client


@pytest.mark.slow
@pytest.mark.parametrize(
    "form", ["llama.cpp json_schema", "OpenAI response_format json_schema", "NIM nvext.guided_json (chat)"]
)
def test_hf_engine_enforces_the_schema_too(hf_client: httpx.Client, form: str) -> None:
    assert hf_client.get("/health").json()["engine"] == "hf"
    endpoint, extra = FORMS[form]
    for seed in range(3):
        jsonschema.validate(json.loads(generate(hf_client, endpoint, extra, seed)), RISK_SCHEMA)


def test_hf_engine_choice_and_regex(hf_client: httpx.Client) -> None:
    for seed in range(3):
        assert generate(hf_client, "/completion", {"nvext": {"guided_choice": ["low", "high"]}}, seed, 8) in (
            "low",
            "high",
        )
        assert re.fullmatch(
            "[0-9]|[1-9][0-9]|100",
            generate(hf_client, "/completion", {"guided_regex": "[0-9]|[1-9][0-9]|100"}, seed, 8),
        )
