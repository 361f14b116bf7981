"""llama-server's behaviour, point by point, against the real server with the embedded model.

- ``reasoning_format`` (request field and ``--reasoning-format``; default ``auto``): a leading
  ``<think>...</think>`` block of a chat answer goes to ``message.reasoning_content`` (streamed as
  ``delta.reasoning_content``), the answer stays in ``content``; ``none`` leaves the text as it is;
  an unclosed block (cut by the token limit) is all reasoning; ``/completion`` is never parsed.
  The bundled model never thinks on its own, so a grammar makes it write a think block.
- Shapes: CORS preflight on any route (no API key needed), the usage of a streamed chat in a last chunk
  with ``"choices": []``, ``system_fingerprint`` ``b<build>``, token ids in streamed ``/completion`` chunks.
- Flags: ``--alias``, ``--seed``, ``--temp``, ``-n``, and ``--ctx-size`` divided among ``--parallel`` slots.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from ai.nemotron.launch import ServerProcess

THINK = "Two and two."
ANSWER = "Four."
RAW = f"<think>\n{THINK}\n</think>\n\n{ANSWER}"
THINK_GRAMMAR = "root ::= " + json.dumps(RAW)
QUESTION = [{"role": "user", "content": "What is 2+2?"}]
FINGERPRINT = re.compile(r"^b\d+$")


def sse_events(response: httpx.Response) -> list[dict | str]:
    assert response.status_code == 200
    events: list[dict | str] = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def chat(client: httpx.Client, **body: object) -> dict:
    r = client.post("/v1/chat/completions", json={"messages": QUESTION, **body})
    assert r.status_code == 200, r.text
    return r.json()


# --- reasoning_format -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [None, "auto", "deepseek"])
def test_think_block_moves_to_reasoning_content(client: httpx.Client, fmt: str | None) -> None:
    body: dict[str, object] = {"grammar": THINK_GRAMMAR, "max_tokens": 64, "temperature": 0}
    if fmt is not None:  # None: the server's default, which is llama-server's 'auto'
        body["reasoning_format"] = fmt
    message = chat(client, **body)["choices"][0]["message"]
    assert message == {"role": "assistant", "content": ANSWER, "reasoning_content": THINK}


def test_reasoning_format_none_leaves_the_text_alone(client: httpx.Client) -> None:
    r = chat(client, grammar=THINK_GRAMMAR, max_tokens=64, reasoning_format="none")
    message = r["choices"][0]["message"]
    assert message["content"] == RAW and "reasoning_content" not in message


def test_reasoning_format_deepseek_legacy_keeps_tags_in_content(client: httpx.Client) -> None:
    message = chat(client, grammar=THINK_GRAMMAR, max_tokens=64, reasoning_format="deepseek-legacy")["choices"][0][
        "message"
    ]
    assert message["content"] == RAW and message["reasoning_content"] == THINK


def test_answer_without_think_block_has_no_reasoning_content(client: httpx.Client) -> None:
    message = chat(client, grammar='root ::= "Four."', max_tokens=16)["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Four."}


def test_unclosed_think_block_is_all_reasoning(client: httpx.Client) -> None:
    grammar = 'root ::= "<think>I need to add two and two, which takes a while to do carefully.</think>Four."'
    r = chat(client, grammar=grammar, max_tokens=8, temperature=0)
    assert r["choices"][0]["finish_reason"] == "length"
    message = r["choices"][0]["message"]
    assert message["content"] == ""
    assert message["reasoning_content"] and "I need to add two and two".startswith(message["reasoning_content"])


def test_streamed_reasoning_then_content_and_usage_chunk(client: httpx.Client) -> None:
    body = {
        "messages": QUESTION,
        "grammar": THINK_GRAMMAR,
        "max_tokens": 64,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        events = sse_events(resp)
    assert events[-1] == "[DONE]"
    chunks = [e for e in events if isinstance(e, dict)]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": None}  # a role chunk first, as llama-server
    kinds = [k for d in deltas for k in ("reasoning_content", "content") if d.get(k) is not None]
    first_content = kinds.index("content")
    assert set(kinds[:first_content]) == {"reasoning_content"} and set(kinds[first_content:]) == {"content"}
    assert "".join(d.get("reasoning_content", "") for d in deltas) == THINK
    assert "".join(d.get("content") or "" for d in deltas) == ANSWER
    # the finish chunk, then the usage alone with "choices": [] (OpenAI's shape), then [DONE]
    finish, usage = chunks[-2], chunks[-1]
    assert finish["choices"][0]["finish_reason"] == "stop" and finish["choices"][0]["delta"] == {}
    assert "usage" not in finish
    assert usage["choices"] == [] and usage["object"] == "chat.completion.chunk"
    assert usage["id"] == finish["id"] and usage["usage"]["completion_tokens"] > 0
    assert usage["usage"]["total_tokens"] == usage["usage"]["prompt_tokens"] + usage["usage"]["completion_tokens"]
    assert all(FINGERPRINT.match(c["system_fingerprint"]) for c in chunks)


def test_streamed_reasoning_format_none_streams_raw_content(client: httpx.Client) -> None:
    body = {"messages": QUESTION, "grammar": THINK_GRAMMAR, "max_tokens": 64, "stream": True}
    with client.stream("POST", "/v1/chat/completions", json={**body, "reasoning_format": "none"}) as resp:
        chunks = [e for e in sse_events(resp) if isinstance(e, dict)]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert all("reasoning_content" not in d for d in deltas)
    assert "".join(d.get("content") or "" for d in deltas) == RAW
    # without include_usage there is no usage chunk: the finish chunk is the last
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and "usage" not in chunks[-1]


def test_completion_endpoints_do_not_parse_reasoning(client: httpx.Client) -> None:
    prompt = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    r = client.post("/completion", json={"prompt": prompt, "grammar": THINK_GRAMMAR, "n_predict": 64})
    assert r.status_code == 200 and r.json()["content"] == RAW and "reasoning_content" not in r.json()
    r = client.post("/v1/completions", json={"prompt": prompt, "grammar": THINK_GRAMMAR, "max_tokens": 64})
    assert r.status_code == 200 and r.json()["choices"][0]["text"] == RAW


@pytest.mark.parametrize("bad", ["deepseek2", "", 3, None])
def test_unknown_reasoning_format_is_a_400(client: httpx.Client, bad: object) -> None:
    r = client.post("/v1/chat/completions", json={"messages": QUESTION, "max_tokens": 1, "reasoning_format": bad})
    if bad is None:  # null is the default, as an absent field
        assert r.status_code == 200
        return
    assert r.status_code == 400 and "reasoning_format" in r.json()["error"]["message"]


# --- shapes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/completion", "/v1/models", "/health", "/no/such/route"])
def test_cors_preflight(client: httpx.Client, path: str) -> None:
    r = client.options(
        path,
        headers={
            "Origin": "http://frontend.example:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert r.status_code == 200 and r.content == b""
    assert r.headers["access-control-allow-origin"] == "http://frontend.example:3000"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "POST" in r.headers["access-control-allow-methods"] and "GET" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "*"


def test_cors_origin_on_answers(client: httpx.Client) -> None:
    r = client.get("/v1/models", headers={"Origin": "http://frontend.example"})
    assert r.headers["access-control-allow-origin"] == "http://frontend.example"
    r = client.post("/tokenize", json={"content": 3}, headers={"Origin": "http://frontend.example"})
    assert r.status_code == 400 and r.headers["access-control-allow-origin"] == "http://frontend.example"
    assert client.get("/health").headers["access-control-allow-origin"] == "*"  # no Origin sent


def test_system_fingerprint_on_chat_and_completions(client: httpx.Client) -> None:
    r = chat(client, max_tokens=2)
    assert FINGERPRINT.match(r["system_fingerprint"])
    c = client.post("/v1/completions", json={"prompt": "The door", "max_tokens": 2}).json()
    assert c["system_fingerprint"] == r["system_fingerprint"]
    with client.stream("POST", "/v1/completions", json={"prompt": "The door", "max_tokens": 2, "stream": True}) as s:
        chunks = [e for e in sse_events(s) if isinstance(e, dict)]
    assert {ch["system_fingerprint"] for ch in chunks} == {r["system_fingerprint"]}


def test_streamed_completion_chunks_carry_their_token_ids(client: httpx.Client) -> None:
    body = {"prompt": "The front door", "n_predict": 6, "temperature": 0, "cache_prompt": False}
    with client.stream("POST", "/completion", json={**body, "stream": True}) as s:
        chunks = [e for e in sse_events(s) if isinstance(e, dict)]
    pieces, last = chunks[:-1], chunks[-1]
    assert pieces and all(p["tokens"] and all(isinstance(t, int) for t in p["tokens"]) for p in pieces)
    assert last["stop"] is True and last["tokens"] == []  # llama-server's last chunk repeats none of them
    ids = [t for p in pieces for t in p["tokens"]]
    assert len(ids) == last["tokens_predicted"] == 6
    text = "".join(p["content"] for p in pieces)
    assert client.post("/detokenize", json={"tokens": ids}).json()["content"] == text
    # not streamed: 'tokens' stays empty unless return_tokens asks for them, as in llama-server
    plain = client.post("/completion", json=body).json()
    assert plain["tokens"] == []
    full = client.post("/completion", json={**body, "return_tokens": True}).json()
    assert full["tokens"] == ids and full["content"] == text


# --- flags ---------------------------------------------------------------------------------------------------

ALIAS = "nemotron-test-alias"
KEY = "shape-test-key"


@pytest.fixture(scope="module")
def flagged() -> Iterator[httpx.Client]:
    """A server with the flags llama-server has: alias, default seed/temperature/n_predict, reasoning
    format, an API key, and 2048 tokens of context over two slots (1024 each)."""
    args = ["--alias", ALIAS, "--seed", "1234", "--temp", "0.9", "-n", "5", "--reasoning-format", "none", "--no-slots"]
    server = ServerProcess(*args, "--ctx-size", "2048", "--parallel", "2", "--api-key", KEY)
    auth = {"Authorization": f"Bearer {KEY}"}
    with server, httpx.Client(base_url=server.url, timeout=300, headers=auth) as c:
        yield c


def test_alias_is_the_model_id(flagged: httpx.Client) -> None:
    models = flagged.get("/v1/models").json()["data"]
    assert [m["id"] for m in models] == [ALIAS]
    assert flagged.get("/props").json()["model_alias"] == ALIAS
    assert chat(flagged, max_tokens=1)["model"] == ALIAS
    assert flagged.post("/v1/completions", json={"prompt": "Hi", "max_tokens": 1}).json()["model"] == ALIAS
    assert flagged.post("/completion", json={"prompt": "Hi", "n_predict": 1}).json()["model"] == ALIAS


def test_ctx_size_is_divided_among_slots(flagged: httpx.Client) -> None:
    props = flagged.get("/props").json()
    assert props["total_slots"] == 2 and props["default_generation_settings"]["n_ctx"] == 1024
    args = flagged.get("/v1/models").json()["data"][0]["status"]["args"]
    assert args[args.index("--ctx-size") + 1] == "1024"
    tokens = flagged.post("/tokenize", json={"content": "door " * 1100}).json()["tokens"]
    assert 1024 < len(tokens) < 2048  # fits the whole --ctx-size, not one slot
    r = flagged.post("/completion", json={"prompt": tokens, "n_predict": 1})
    assert r.status_code == 400 and r.json()["error"]["type"] == "exceed_context_size_error"


def test_default_n_predict_seed_and_temperature(flagged: httpx.Client) -> None:
    body = {"prompt": "The front door of the house", "cache_prompt": False}
    first = flagged.post("/completion", json=body).json()
    assert first["tokens_predicted"] == 5 and first["stop_type"] == "limit"  # -n 5, not the end of the context
    settings = first["generation_settings"]
    assert settings["seed"] == 1234 and settings["temperature"] == pytest.approx(0.9)
    assert flagged.post("/completion", json=body).json()["content"] == first["content"]  # same default seed
    given = flagged.post("/completion", json={**body, "seed": 7, "temperature": 0.0}).json()["generation_settings"]
    assert given["seed"] == 7 and given["temperature"] == 0.0  # a request's own values win
    props = flagged.get("/props").json()["default_generation_settings"]["params"]
    assert props["seed"] == 1234 and props["temperature"] == pytest.approx(0.9) and props["n_predict"] == 5
    usage = chat(flagged)["usage"]
    assert usage["completion_tokens"] <= 5


def test_reasoning_format_flag_sets_the_default(flagged: httpx.Client) -> None:
    grammar = 'root ::= "<think>x</think>y"'
    r = chat(flagged, grammar=grammar, max_tokens=32, temperature=0)
    assert r["choices"][0]["message"] == {
        "role": "assistant",
        "content": "<think>x</think>y",
    }  # --reasoning-format none
    assert r["usage"]["completion_tokens"] > 5  # the request's own max_tokens wins over -n 5, as in llama-server
    r = chat(flagged, grammar=grammar, max_tokens=32, temperature=0, reasoning_format="deepseek")
    assert r["choices"][0]["message"] == {"role": "assistant", "content": "y", "reasoning_content": "x"}


def test_preflight_needs_no_api_key(flagged: httpx.Client) -> None:
    no_key = {"Origin": "http://frontend.example"}
    r = httpx.options(f"{flagged.base_url}/v1/chat/completions", headers=no_key)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://frontend.example"
    assert "POST" in r.headers["access-control-allow-methods"]
    r = httpx.post(f"{flagged.base_url}/v1/chat/completions", json={"messages": QUESTION}, headers=no_key)
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "http://frontend.example"


@pytest.mark.parametrize(
    "args",
    [
        ("--ctx-size", "100", "--parallel", "2"),  # 50 tokens a slot
        ("--reasoning-format", "deepseek2"),
        ("--seed", "-5"),
        ("--temp", "-1"),
    ],
)
def test_bad_flags_are_refused_at_start(args: tuple[str, ...]) -> None:
    from ai.nemotron.cli import parse_args

    with pytest.raises(SystemExit) as exc:
        parse_args(list(args))
    assert exc.value.code == 2


# --- GET /slots and the context error's counts -------------------------------------------------------------


def test_slots_report_each_slot_idle_and_busy(client: httpx.Client) -> None:
    slots = client.get("/slots").json()
    assert [s["id"] for s in slots] == [0, 1]
    assert all(s["n_ctx"] == 4096 and "params" not in s for s in slots)  # 8192 over two slots
    assert all(s["is_processing"] is False and s["next_token"][0]["n_remain"] == -1 for s in slots)
    # a grammar with no end: the answer runs to n_predict, however the model samples
    body = {"prompt": "Count.", "n_predict": 150, "stream": True, "grammar": 'root ::= ("tick " | "tock ") root'}
    with client.stream("POST", "/completion", json=body) as resp:
        lines = (line for line in resp.iter_lines() if line.startswith("data: "))
        for _ in range(3):  # a few tokens in: the slot is working
            next(lines)
        busy = [s for s in client.get("/slots").json() if s["is_processing"]]
        assert len(busy) == 1 and 0 < busy[0]["next_token"][0]["n_decoded"] <= 150
        assert busy[0]["next_token"][0]["n_remain"] == 150 - busy[0]["next_token"][0]["n_decoded"]
        for _ in lines:
            pass
    assert not any(s["is_processing"] for s in client.get("/slots").json())


def test_no_slots_flag_makes_slots_a_501(flagged: httpx.Client) -> None:
    r = flagged.get("/slots")
    assert r.status_code == 501 and r.json()["error"]["type"] == "not_supported_error"


@pytest.mark.parametrize("stream", [False, True])
def test_context_overflow_names_the_counts(client: httpx.Client, stream: bool) -> None:
    messages = [{"role": "system", "content": "Book"}, {"role": "user", "content": "What is the best book"}] * 400
    r = client.post("/v1/chat/completions", json={"messages": messages, "stream": stream})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "exceed_context_size_error"
    assert error["n_prompt_tokens"] > error["n_ctx"] == 4096


# --- /apply-template and the chat-template flags ------------------------------------------------------------


def test_apply_template_is_the_prompt_a_chat_becomes(client: httpx.Client) -> None:
    messages = [{"role": "system", "content": "You are a test."}, {"role": "user", "content": "Hi there"}]
    r = client.post("/apply-template", json={"messages": messages})
    assert r.status_code == 200
    prompt = r.json()["prompt"]
    assert prompt.endswith("<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n")
    assert "<|im_start|>system\nYou are a test.<|im_end|>" in prompt
    bare = client.post("/apply-template", json={"messages": messages, "add_generation_prompt": False}).json()
    assert bare["prompt"] == prompt.removesuffix("<|im_start|>assistant\n")
    tool = {"type": "function", "function": {"name": "lights", "parameters": {"type": "object"}}}
    with_tools = client.post("/apply-template", json={"messages": messages, "tools": [tool]}).json()["prompt"]
    assert "- lights()" in with_tools and "tool_call" in with_tools  # the tools' note the model would see
    assert client.post("/apply-template", json={"messages": []}).status_code == 400


TEMPLATE = (
    "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}[assistant] {{ strftime_now('%Y') }}{% endif %}"
)


def test_chat_template_file_replaces_the_models_template(tmp_path: Path) -> None:
    path = tmp_path / "t.jinja"
    path.write_text(TEMPLATE, encoding="utf-8")
    server = ServerProcess("--chat-template-file", str(path), "--ctx-size", "1024")
    with server, httpx.Client(base_url=server.url, timeout=120) as c:
        prompt = c.post("/apply-template", json={"messages": QUESTION}).json()["prompt"]
        assert prompt == f"[user] What is 2+2?\n[assistant] {datetime.now().year}"
        assert c.get("/props").json()["chat_template"] == TEMPLATE
        assert chat(c, max_tokens=2)["choices"][0]["message"]["content"] is not None


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--chat-template", "llama9"], "unknown built-in chat template"),
        (["--chat-template", "{% for m in messages %}"], "does not compile"),
        (["--chat-template-file", "/nonexistent.jinja"], "--chat-template-file"),
        (["--no-jinja"], "--no-jinja"),
    ],
)
def test_bad_template_flags_stop_the_server_with_a_reason(
    args: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from ai.nemotron.cli import parse_args

    with pytest.raises(SystemExit):
        parse_args(args)
    assert names in capsys.readouterr().err


def test_chat_template_chatml_is_built_in() -> None:
    from ai.nemotron.chat import CHATML_TEMPLATE
    from ai.nemotron.cli import parse_args

    assert parse_args(["--chat-template", "chatml"]).chat_template == CHATML_TEMPLATE


# --- logit_bias ---------------------------------------------------------------------------------------------


def test_logit_bias_bans_and_steers_tokens(client: httpx.Client) -> None:
    plain = chat(client, max_tokens=6, temperature=0)["choices"][0]["message"]["content"]
    first = client.post("/tokenize", json={"content": plain}).json()["tokens"][0]
    for bias in ({str(first): -100}, [[first, False]]):
        steered = chat(client, max_tokens=6, temperature=0, logit_bias=bias)["choices"][0]["message"]["content"]
        assert client.post("/tokenize", json={"content": steered}).json()["tokens"][0] != first
    word = client.post("/detokenize", json={"tokens": [first]}).json()["content"]
    by_text = chat(client, max_tokens=6, temperature=0, logit_bias={word: False})["choices"][0]["message"]["content"]
    assert not by_text.startswith(plain[:8])


@pytest.mark.parametrize(
    ("bias", "names"),
    [
        ([[10**9, 1]], "out of range"),
        ({"5": True}, "a number or false"),
        ([[5]], "logit_bias[0]"),
        ([[None, 1]], "an id or text"),
    ],
)
def test_bad_logit_bias_is_a_400(client: httpx.Client, bias: object, names: str) -> None:
    r = client.post("/completion", json={"prompt": "x", "n_predict": 1, "logit_bias": bias})
    assert r.status_code == 400 and names in r.json()["error"]["message"]


# --- prompt forms and response_fields (/completion) ----------------------------------------------------------


def test_prompt_as_tokens_mixed_or_a_batch(client: httpx.Client) -> None:
    text = "I believe the meaning of life is"
    tokens = client.post("/tokenize", json={"content": text, "add_special": True}).json()["tokens"]
    body = {"n_predict": 6, "temperature": 0}
    one = client.post("/completion", json={**body, "prompt": tokens}).json()
    assert (
        isinstance(one, dict)
        and one["content"] == client.post("/completion", json={**body, "prompt": text}).json()["content"]
    )
    alone = client.post("/completion", json={**body, "prompt": [text]}).json()  # one prompt in a list: one answer
    assert isinstance(alone, dict) and alone["content"] == one["content"]
    batch = client.post("/completion", json={**body, "prompt": [tokens, text]}).json()
    assert isinstance(batch, list) and [b["index"] for b in batch] == [0, 1]
    assert batch[0]["content"] == batch[1]["content"] == one["content"]
    mixed = client.post("/completion", json={**body, "prompt": [tokens[0], text]})
    assert mixed.status_code == 200 and isinstance(mixed.json()["content"], str)
    as_json = client.post("/completion", json={**body, "prompt": [tokens, {"prompt_string": text}]}).json()
    assert [a["content"] for a in as_json] == [one["content"]] * 2
    media = {"prompt_string": f"{text} <__media__>", "multimodal_data": ["iVBORw0KGgo="]}
    refused = client.post("/completion", json={**body, "prompt": media})
    assert refused.status_code == 400 and "multimodal_data" in refused.json()["error"]["message"]
    for bad, names in (([tokens, tokens], "cannot be streamed"), ([], "empty")):
        r = client.post("/completion", json={**body, "prompt": bad, "stream": bad != []})
        assert r.status_code == 400 and names in r.json()["error"]["message"]


def test_response_fields_keep_only_the_named_fields_flat(client: httpx.Client) -> None:
    fields = ["content", "generation_settings/n_predict", "prompt", "no/such"]
    body = {"prompt": "I believe", "n_predict": 5, "response_fields": fields}
    answer = client.post("/completion", json=body).json()
    assert set(answer) == {"content", "generation_settings/n_predict", "prompt"}
    assert answer["generation_settings/n_predict"] == 5 and answer["prompt"] == "I believe"


# --- assistant prefill, continue_final_message, verbose -----------------------------------------------------

PREFILL = [*QUESTION, {"role": "assistant", "content": "The answer is"}]


def test_a_last_assistant_message_is_continued(client: httpx.Client) -> None:
    r = client.post("/v1/chat/completions", json={"messages": PREFILL, "max_tokens": 4, "verbose": True}).json()
    prompt = r["__verbose"]["prompt"]
    assert prompt.endswith("<|im_start|>assistant\nThe answer is")  # no end of turn before the continuation
    assert not r["choices"][0]["message"]["content"].startswith("The answer is")  # only the continuation
    explicit = {"messages": PREFILL, "add_generation_prompt": False, "continue_final_message": True}
    assert client.post("/apply-template", json=explicit).json()["prompt"] == prompt
    plain = client.post("/v1/chat/completions", json={"messages": QUESTION, "max_tokens": 1}).json()
    assert "__verbose" not in plain


@pytest.mark.parametrize(
    ("messages", "extra", "names"),
    [
        (PREFILL, {"add_generation_prompt": True, "continue_final_message": True}, "Cannot set both"),
        ([*PREFILL, {"role": "assistant", "content": "x"}], {}, "2 or more assistant messages"),
    ],
)
def test_impossible_continuations_are_a_400(client: httpx.Client, messages: list, extra: dict, names: str) -> None:
    r = client.post("/v1/chat/completions", json={"messages": messages, "max_tokens": 1, **extra})
    assert r.status_code == 400 and names in r.json()["error"]["message"]


def test_input_tokens_counts_the_prompt_a_chat_becomes(client: httpx.Client) -> None:
    messages = [{"role": "system", "content": "Book"}, {"role": "user", "content": "What is the best book"}]
    for path in ("/chat/completions/input_tokens", "/v1/chat/completions/input_tokens"):
        counted = client.post(path, json={"messages": messages}).json()["input_tokens"]
        prompt = client.post("/apply-template", json={"messages": messages}).json()["prompt"]
        assert counted == len(client.post("/tokenize", json={"content": prompt, "add_special": True}).json()["tokens"])
        answer = client.post("/v1/chat/completions", json={"messages": messages, "max_tokens": 1}).json()
        assert counted == answer["usage"]["prompt_tokens"]


def test_ignore_eos_bans_every_end_token_and_generates_to_the_limit(client: httpx.Client) -> None:
    """llama-server's ``ignore_eos``: a -inf bias (``null`` in ``generation_settings.logit_bias``) on every
    end-of-generation token, so a greedy answer that would end at ``<|im_end|>`` runs to ``n_predict``."""
    prompt = "<|im_start|>user\nSay OK.<|im_end|>\n<|im_start|>assistant\n"
    body = {"prompt": prompt, "n_predict": 48, "temperature": 0}
    plain = client.post("/completion", json=body).json()
    assert plain["stop_type"] == "eos" and plain["tokens_predicted"] < 48
    assert plain["generation_settings"]["logit_bias"] == [] and plain["generation_settings"]["ignore_eos"] is False
    forced = client.post("/completion", json={**body, "ignore_eos": True}).json()
    assert forced["tokens_predicted"] == 48 and forced["stop_type"] == "limit"
    im_end = client.post("/tokenize", json={"content": "<|im_end|>"}).json()["tokens"]
    banned = forced["generation_settings"]["logit_bias"]
    assert all(entry["bias"] is None for entry in banned) and set(im_end) <= {e["token"] for e in banned}
    given = client.post("/completion", json={**body, "n_predict": 1, "logit_bias": [[im_end[0], -2.5]]}).json()
    assert given["generation_settings"]["logit_bias"] == [{"bias": -2.5, "token": im_end[0]}]


def test_several_aliases_and_tags_as_llama_server() -> None:
    """``--alias a,b,c``: every name in ``aliases``, the first in sorted order is the id used in answers;
    ``--tags`` are listed as given (sorted, unique)."""
    server = ServerProcess("--alias", "tinyllama-2,fim,code", "--tags", "chat,fim,small,chat", "--ctx-size", "1024")
    with server, httpx.Client(base_url=server.url, timeout=120) as c:
        (model,) = c.get("/v1/models").json()["data"]
        assert model["id"] == "code" and model["aliases"] == ["code", "fim", "tinyllama-2"]
        assert model["tags"] == ["chat", "fim", "small"]
        assert chat(c, max_tokens=1)["model"] == "code"
    plain = ServerProcess("--ctx-size", "1024")
    with plain, httpx.Client(base_url=plain.url, timeout=120) as c:
        (model,) = c.get("/v1/models").json()["data"]
        assert model["aliases"] == [] and model["tags"] == [] and model["id"].startswith("SmolLM2")
