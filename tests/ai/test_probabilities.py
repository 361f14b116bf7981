"""Token probabilities (issue #11): llama.cpp's ``n_probs`` / ``post_sampling_probs`` and OpenAI's ``logprobs`` /
``top_logprobs``, from the engine's logits, against the real server with the embedded model; and the
arithmetic on its own (ai.nemotron.engines.base)."""

from __future__ import annotations

import json
import math

import httpx
import numpy as np
import pytest

from ai.nemotron.engines.base import logprobs_of, sampled_probs_of

PROMPT = "I believe the meaning of life is"
CHAT = [{"role": "system", "content": "Book"}, {"role": "user", "content": "What is the best book"}]


def test_n_probs_gives_each_token_its_log_probability_and_the_likeliest_tokens(client: httpx.Client) -> None:
    r = client.post("/completion", json={"prompt": PROMPT, "n_probs": 10, "temperature": 0, "n_predict": 5})
    assert r.status_code == 200
    probs = r.json()["completion_probabilities"]
    assert len(probs) == r.json()["tokens_predicted"] == 5
    for tok in probs:
        assert tok["logprob"] <= 0 and isinstance(tok["token"], str) and isinstance(tok["bytes"], list)
        top = tok["top_logprobs"]
        assert len(top) == 10
        assert [t["logprob"] for t in top] == sorted((t["logprob"] for t in top), reverse=True)
        assert sum(math.exp(t["logprob"]) for t in top) <= 1.0 + 1e-6
        assert top[0]["id"] == tok["id"] and top[0]["logprob"] == pytest.approx(tok["logprob"])  # greedy: the top one
    assert "".join(t["token"] for t in probs) == r.json()["content"]


def test_no_probabilities_unless_asked(client: httpx.Client) -> None:
    r = client.post("/completion", json={"prompt": PROMPT, "temperature": 0, "n_predict": 3}).json()
    assert "completion_probabilities" not in r
    chat = client.post("/v1/chat/completions", json={"messages": CHAT, "max_tokens": 3}).json()
    assert chat["choices"][0]["logprobs"] is None


def test_post_sampling_probs_are_the_sampler_distribution(client: httpx.Client) -> None:
    body = {"prompt": "Today was the day. Today I would finally become a", "n_probs": 10, "temperature": 1.0}
    r = client.post("/completion", json={**body, "n_predict": 5, "post_sampling_probs": True, "seed": 3}).json()
    for i, tok in enumerate(r["completion_probabilities"]):
        assert 0 < tok["prob"] <= 1 and "logprob" not in tok
        top = tok["top_probs"]
        assert all(0 < t["prob"] <= 1 for t in top)
        if i == 0:
            assert len(top) == 10  # a vague prompt: many candidates survive the chain
        if len(top) < 10:  # fewer only when they are all there is
            assert sum(t["prob"] for t in top) == pytest.approx(1.0, abs=1e-4)
        assert tok["id"] in {t["id"] for t in top} or len(top) == 10


def test_streamed_chunks_carry_their_tokens_probabilities(client: httpx.Client) -> None:
    body = {"prompt": PROMPT, "n_probs": 3, "temperature": 0, "n_predict": 5, "stream": True}
    with client.stream("POST", "/completion", json=body) as resp:
        chunks = [json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: ")]
    pieces = [c for c in chunks if not c["stop"]]
    assert sum(len(c["completion_probabilities"]) for c in pieces) == 5
    for c in pieces:
        assert len(c["completion_probabilities"]) == len(c["tokens"])
        assert [p["id"] for p in c["completion_probabilities"]] == c["tokens"]


def test_openai_chat_logprobs_add_up_to_the_content_streamed_or_not(client: httpx.Client) -> None:
    body = {"messages": CHAT, "max_tokens": 5, "temperature": 0, "logprobs": True, "top_logprobs": 4}
    choice = client.post("/v1/chat/completions", json=body).json()["choices"][0]
    content = choice["logprobs"]["content"]
    assert "".join(t["token"] for t in content) == choice["message"]["content"]
    assert all(len(t["top_logprobs"]) == 4 and t["logprob"] <= 0 for t in content)
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as resp:
        chunks = [json.loads(line[6:]) for line in resp.iter_lines() if line.startswith("data: {")]
    streamed = [c["choices"][0] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"] is None][1:]
    text = "".join(c["delta"].get("content") or "" for c in streamed)
    tokens = "".join(t["token"] for c in streamed for t in c["logprobs"]["content"])
    assert text == tokens == choice["message"]["content"]


def test_legacy_completions_logprobs(client: httpx.Client) -> None:
    body = {"prompt": PROMPT, "max_tokens": 4, "temperature": 0, "logprobs": 2}
    logprobs = client.post("/v1/completions", json=body).json()["choices"][0]["logprobs"]
    assert len(logprobs["tokens"]) == len(logprobs["token_logprobs"]) == len(logprobs["top_logprobs"]) == 4
    assert all(len(top) <= 2 for top in logprobs["top_logprobs"])
    offsets = [0]
    for token in logprobs["tokens"][:-1]:
        offsets.append(offsets[-1] + len(token))
    assert logprobs["text_offset"] == offsets


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"top_logprobs": 3}, "top_logprobs needs logprobs"),
        ({"logprobs": True, "top_logprobs": -1}, "top_logprobs"),
        ({"n_probs": 100000}, "n_probs"),
    ],
)
def test_bad_probability_fields_are_a_400(client: httpx.Client, body: dict, field: str) -> None:
    r = client.post("/v1/chat/completions", json={"messages": CHAT, "max_tokens": 2, **body})
    assert r.status_code == 400 and field in r.json()["error"]["message"]


def test_logprobs_of_is_a_log_softmax() -> None:
    logits = np.array([2.0, 1.0, 0.0, -1.0, 5.0], dtype=np.float32)
    p = logprobs_of(logits, token=1, n=3)
    expected = logits - np.log(np.exp(logits.astype(np.float64)).sum())
    assert p.value == pytest.approx(expected[1])
    assert [t for t, _ in p.top] == [4, 0, 1] and p.top[0][1] == pytest.approx(expected[4])
    assert sum(math.exp(v) for v in expected) == pytest.approx(1.0)
    assert logprobs_of(logits, token=2, n=0).top == ()


def test_sampled_probs_leave_out_what_the_chain_ruled_out_and_greedy_is_certain() -> None:
    ids, probs = np.array([7, 3, 9]), np.array([0.2, 0.8, 0.0], dtype=np.float32)
    p = sampled_probs_of(ids, probs, token=7, n=5)
    assert p.post_sampling and p.value == pytest.approx(0.2) and [t for t, _ in p.top] == [3, 7]
    greedy = sampled_probs_of(ids, np.zeros(3, dtype=np.float32), token=3, n=5)
    assert greedy.value == 1.0 and greedy.top == ((3, 1.0),)
