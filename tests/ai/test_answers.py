"""The answers' models (ai.nemotron.answers) against real answers of the server with the embedded model, and
/openapi.json naming them: a model that disagrees with what a route sends fails here."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from ai.nemotron.answers import (
    ChatCompletionAnswer,
    CompletionAnswer,
    DetokenizeAnswer,
    TemplateAnswer,
    TextCompletionAnswer,
    TokenCountAnswer,
    TokenizeAnswer,
)

CHAT = [{"role": "user", "content": "Hi"}]
TOOL = {
    "type": "function",
    "function": {"name": "ping", "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}}},
}

CALLS: list[tuple[str, dict[str, Any], type[BaseModel]]] = [
    ("/completion", {"prompt": "Hi", "n_predict": 3}, CompletionAnswer),
    ("/completion", {"prompt": "Hi", "n_predict": 3, "n_probs": 2, "return_tokens": True}, CompletionAnswer),
    ("/v1/chat/completions", {"messages": CHAT, "max_tokens": 3}, ChatCompletionAnswer),
    (
        "/v1/chat/completions",
        {"messages": CHAT, "max_tokens": 3, "logprobs": True, "top_logprobs": 2},
        ChatCompletionAnswer,
    ),
    (
        "/v1/chat/completions",
        {"messages": CHAT, "max_tokens": 40, "tools": [TOOL], "tool_choice": "required"},
        ChatCompletionAnswer,
    ),
    ("/v1/completions", {"prompt": "Hi", "max_tokens": 3}, TextCompletionAnswer),
    ("/tokenize", {"content": "Hi there"}, TokenizeAnswer),
    ("/tokenize", {"content": "Hi there", "with_pieces": True}, TokenizeAnswer),
    ("/detokenize", {"tokens": [1, 2, 3]}, DetokenizeAnswer),
    ("/apply-template", {"messages": CHAT}, TemplateAnswer),
    ("/v1/chat/completions/input_tokens", {"messages": CHAT}, TokenCountAnswer),
    ("/v1/messages/count_tokens", {"messages": CHAT, "model": "x"}, TokenCountAnswer),
]


@pytest.mark.parametrize(("path", "body", "model"), CALLS, ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(CALLS)])
def test_real_answers_match_their_models(client: httpx.Client, path: str, body: dict, model: type[BaseModel]) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    answer = model.model_validate(r.json())  # every required field there, with its type
    if model is ChatCompletionAnswer and "tools" in body:
        assert isinstance(answer, ChatCompletionAnswer)
        assert answer.choices[0].message.tool_calls and answer.choices[0].finish_reason == "tool_calls"
    if model is CompletionAnswer and body.get("n_probs"):
        assert isinstance(answer, CompletionAnswer) and answer.completion_probabilities


def test_a_model_refuses_an_answer_that_lacks_a_field(client: httpx.Client) -> None:
    """The check above can fail: the same answer without one of its fields is refused."""
    body = client.post("/completion", json={"prompt": "Hi", "n_predict": 2}).json()
    del body["timings"]
    with pytest.raises(ValueError, match="timings"):
        CompletionAnswer.model_validate(body)


def test_openapi_names_each_answer(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    for path, _, model in CALLS:
        ok = spec["paths"][path]["post"]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        assert model.__name__ in components
    assert {"content", "stop_type", "timings"} <= set(components["CompletionAnswer"]["required"])
    choice = components["ChatChoice"]["properties"]["message"]
    assert choice == {"$ref": "#/components/schemas/AssistantMessage"}
