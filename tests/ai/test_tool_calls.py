"""Tool calling (issue #11): ``tools`` / ``tool_choice`` / ``parallel_tool_calls`` against the real server with
the embedded model, and the plan's schema, history and parsing on their own (ai.nemotron.tools)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from ai.nemotron.errors import InvalidRequestError
from ai.nemotron.tools import history_messages, plan_tools, with_system_note

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather now in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 40}, "unit": {"enum": ["c", "f"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
ALARM = {
    "type": "function",
    "function": {
        "name": "set_alarm",
        "description": "Arm or disarm the house alarm",
        "parameters": {
            "type": "object",
            "properties": {"armed": {"type": "boolean"}, "zone": {"$ref": "#/$defs/Zone"}},
            "required": ["armed", "zone"],
            "$defs": {"Zone": {"type": "string", "enum": ["house", "garage"]}},
        },
    },
}
TOOLS = [WEATHER, ALARM]
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]
SEEDS = range(5)


def _arguments_follow_their_schema(call: dict[str, Any]) -> None:
    assert call["type"] == "function" and call["id"].startswith("call_")
    tool = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}[call["function"]["name"]]
    jsonschema.validate(json.loads(call["function"]["arguments"]), tool)


def _chat(client: httpx.Client, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/chat/completions", json={"messages": QUESTION, "max_tokens": 80, **body})
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]


@pytest.mark.parametrize("seed", SEEDS)
def test_tool_choice_required_always_yields_a_call_whose_arguments_follow_the_tool_schema(
    client: httpx.Client, seed: int
) -> None:
    choice = _chat(client, tools=TOOLS, tool_choice="required", seed=seed)
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    _arguments_follow_their_schema(call)


def test_a_named_tool_choice_calls_that_tool(client: httpx.Client) -> None:
    for seed in SEEDS:
        choice = _chat(
            client, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "set_alarm"}}, seed=seed
        )
        (call,) = choice["message"]["tool_calls"]
        assert call["function"]["name"] == "set_alarm"
        _arguments_follow_their_schema(call)  # the $ref into the tool's own $defs is enforced


def test_tool_choice_none_and_no_tools_answer_in_text(client: httpx.Client) -> None:
    for body in ({"tools": TOOLS, "tool_choice": "none"}, {}):
        choice = _chat(client, max_tokens=12, **body)
        assert "tool_calls" not in choice["message"] and isinstance(choice["message"]["content"], str)


def test_auto_answers_with_a_call_or_with_text(client: httpx.Client) -> None:
    for seed in SEEDS:
        choice = _chat(client, tools=TOOLS, seed=seed, max_tokens=120)
        calls = choice["message"].get("tool_calls")
        if calls:
            assert choice["finish_reason"] == "tool_calls"
            for call in calls:
                _arguments_follow_their_schema(call)
        else:
            assert isinstance(choice["message"]["content"], str)


def test_streamed_tool_call_arrives_as_tool_call_deltas(client: httpx.Client) -> None:
    body = {"messages": QUESTION, "tools": TOOLS, "tool_choice": "required", "max_tokens": 80, "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        assert resp.status_code == 200
        chunks = [json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: {")]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    calls = [tc for d in deltas for tc in d.get("tool_calls") or []]
    assert [c["index"] for c in calls] == [0]
    _arguments_follow_their_schema({k: v for k, v in calls[0].items() if k != "index"})
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_a_conversation_with_earlier_calls_and_results_renders_and_answers(client: httpx.Client) -> None:
    first = _chat(client, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "get_weather"}})
    call = first["message"]["tool_calls"][0]
    history = [
        *QUESTION,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "18 C and sunny"},
    ]
    r = client.post("/v1/chat/completions", json={"messages": history, "tools": TOOLS, "max_tokens": 40})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["finish_reason"] in {"stop", "length", "tool_calls"}


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"tools": TOOLS, "tool_choice": "always"}, "tool_choice"),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "no tool named 'nope'"),
        ({"tools": [{"type": "function", "function": {"name": "a b"}}]}, "tools[0].function.name"),
        ({"tools": [WEATHER, WEATHER]}, "same name"),
        ({"tools": "get_weather"}, "tools"),
        ({"tool_choice": "required"}, "no 'tools'"),
        ({"tools": TOOLS, "grammar": 'root ::= "x"'}, "grammar"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "not": {}}}}]},
            "not",
        ),
    ],
)
def test_malformed_tools_are_a_400_naming_what_is_wrong(client: httpx.Client, body: dict, names: str) -> None:
    r = client.post("/v1/chat/completions", json={"messages": QUESTION, "max_tokens": 4, **body})
    assert r.status_code == 400, r.text
    assert names in r.json()["error"]["message"]


# --- the plan on its own ------------------------------------------------------------------------------------


def _plan(**body: Any) -> Any:
    plan = plan_tools({"tools": TOOLS, **body}, None)
    assert plan is not None
    return plan


def test_the_schema_admits_exactly_the_shapes_of_each_choice() -> None:
    call = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}
    alarm = {"name": "set_alarm", "arguments": {"armed": True, "zone": "garage"}}
    required = _plan(tool_choice="required").schema()
    jsonschema.validate({"tool_call": call}, required)
    for wrong in ({"response": "hi"}, {"tool_call": {"name": "get_weather", "arguments": {"city": 3}}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, required)
    with pytest.raises(jsonschema.ValidationError):  # the tool's $defs followed it to the root
        jsonschema.validate(
            {"tool_call": {"name": "set_alarm", "arguments": {"armed": True, "zone": "moon"}}}, required
        )
    auto = _plan().schema()
    jsonschema.validate({"response": "It is sunny."}, auto)
    jsonschema.validate({"tool_call": alarm}, auto)
    parallel = _plan(tool_choice="required", parallel_tool_calls=True).schema()
    jsonschema.validate({"tool_calls": [call, alarm]}, parallel)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tool_calls": []}, parallel)
    named = _plan(tool_choice={"type": "function", "function": {"name": "set_alarm"}}).schema()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"tool_call": call}, named)


def test_the_plain_answer_under_auto_takes_the_response_format_schema() -> None:
    shape = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    plan = plan_tools({"tools": TOOLS}, shape)
    assert plan is not None
    jsonschema.validate({"response": {"ok": True}}, plan.schema())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"response": "free text"}, plan.schema())
    assert plan.parse('{"response": {"ok": true}}') == ('{"ok": true}', [])


def test_parse_reads_calls_and_leaves_a_cut_off_answer_as_text() -> None:
    plan = _plan(parallel_tool_calls=True)
    content, calls = plan.parse('{"tool_calls": [{"name": "set_alarm", "arguments": {"armed": false}}]}')
    assert content is None and calls[0]["function"] == {"name": "set_alarm", "arguments": '{"armed": false}'}
    assert plan.parse('{"tool_calls": [{"name": "set_al') == ('{"tool_calls": [{"name": "set_al', [])


def test_history_writes_calls_and_results_back_in_the_answer_format() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "-3 C"},
    ]
    out = history_messages(messages, tool_role=False)
    assert json.loads(out[1]["content"]) == {"tool_call": {"name": "get_weather", "arguments": {"city": "Oslo"}}}
    assert out[2]["role"] == "user"
    assert json.loads(out[2]["content"])["tool_response"] == {"tool": "get_weather", "content": "-3 C", "id": "call_1"}
    assert history_messages(messages, tool_role=True)[2]["role"] == "tool"
    noted = with_system_note(out, "NOTE")
    assert noted[0] == {"role": "system", "content": "NOTE"} and noted[1:] == out


def test_plan_refuses_what_it_cannot_honour() -> None:
    with pytest.raises(InvalidRequestError, match="recursive"):
        plan_tools(
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"$ref": "#"}}}]}, None
        ).schema()  # type: ignore[union-attr]
    assert plan_tools({"tools": TOOLS, "tool_choice": "none"}, None) is None
