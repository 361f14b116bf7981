"""Embeddings (``--embedding``): ``/embedding``, ``/embeddings`` and ``/v1/embeddings`` as llama-server serves
them, against the real server with the embedded model; the vectors are checked against llama-cpp-python's
own ``Llama.embed`` on the same weights (another code path), and every bad input is a 400 naming the field."""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Iterator
from pathlib import Path

import httpx
import llama_cpp
import numpy as np
import pytest

from ai.nemotron.launch import ServerProcess

TEXT = "A person walks up the driveway carrying a parcel."
N_EMBD = 576  # SmolLM2-135M's hidden size


@pytest.fixture(scope="module")
def mean_server() -> Iterator[httpx.Client]:
    server = ServerProcess("--embedding", "--pooling", "mean", "--ctx-size", "1024")
    with server, httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def reference(model_path: Path) -> Iterator[llama_cpp.Llama]:
    """llama-cpp-python's own embedding path (mean pooling) on the same GGUF."""
    llm = llama_cpp.Llama(
        model_path=str(model_path),
        embedding=True,
        pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
        n_ctx=512,
        verbose=False,
    )
    yield llm
    llm.close()


def embed(client: httpx.Client, path: str = "/v1/embeddings", **body: object) -> dict:
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_off_without_the_flag_is_llama_servers_501(client: httpx.Client) -> None:
    for path in ("/embedding", "/embeddings", "/v1/embeddings"):
        r = client.post(path, json={"input": TEXT})
        assert r.status_code == 501 and "--embeddings" in r.json()["error"]["message"]
    assert client.post("/rerank", json={"query": "q", "documents": ["d"]}).status_code == 501


def test_openai_answer_matches_llama_cpp_pythons_own_embedding(
    mean_server: httpx.Client, reference: llama_cpp.Llama
) -> None:
    answer = embed(mean_server, input=TEXT, model="text-embedding-3-small")
    assert answer["object"] == "list" and answer["model"] == "text-embedding-3-small"
    (item,) = answer["data"]
    assert item["object"] == "embedding" and item["index"] == 0 and len(item["embedding"]) == N_EMBD
    assert abs(norm(item["embedding"]) - 1) < 1e-3  # euclidean by default
    expected = np.asarray(reference.embed(TEXT, normalize=True), dtype=np.float64)
    assert float(np.dot(expected, np.asarray(item["embedding"]))) > 0.9999
    tokens = mean_server.post("/tokenize", json={"content": TEXT, "add_special": True}).json()["tokens"]
    assert answer["usage"] == {"prompt_tokens": len(tokens), "total_tokens": len(tokens)}


def test_a_list_is_several_prompts_each_alone(mean_server: httpx.Client) -> None:
    texts = [TEXT, "This is a test", TEXT, "Two cars pass on the street at night."]
    data = embed(mean_server, input=texts)["data"]
    assert [d["index"] for d in data] == [0, 1, 2, 3]
    assert data[0]["embedding"] == data[2]["embedding"]  # the same prompt, the same vector, whatever its batch
    assert data[0]["embedding"] != data[1]["embedding"]
    alone = embed(mean_server, input="This is a test")["data"][0]["embedding"]
    assert np.allclose(alone, data[1]["embedding"], atol=1e-5)


def test_prompt_shapes_of_llama_server(mean_server: httpx.Client) -> None:
    parts = {"content": [{"type": "text", "text": "hello "}, {"type": "text", "text": "world"}]}
    a, b, c = (
        d["embedding"]
        for d in embed(mean_server, input=["hello world", parts, {"prompt_string": "hello world"}])["data"]
    )
    assert a == b == c
    assert len(embed(mean_server, input=[12, 34, "string", 56])["data"]) == 1  # numbers: one mixed prompt
    assert len(embed(mean_server, input=[[12, 34, 56], [12, "string", 34]])["data"]) == 2


def test_content_field_answers_llama_servers_own_shape(mean_server: httpx.Client) -> None:
    for path in ("/embedding", "/embeddings", "/v1/embeddings"):
        answer = embed(mean_server, path, content=[TEXT, "This is a test"])
        assert [item["index"] for item in answer] == [0, 1]
        assert all(len(item["embedding"]) == 1 and len(item["embedding"][0]) == N_EMBD for item in answer)


def test_base64_is_the_float_vector(mean_server: httpx.Client) -> None:
    plain = embed(mean_server, input=TEXT)["data"][0]["embedding"]
    item = embed(mean_server, input=TEXT, encoding_format="base64")["data"][0]
    assert item["encoding_format"] == "base64"
    raw = base64.b64decode(item["embedding"])
    assert np.allclose(struct.unpack(f"<{len(raw) // 4}f", raw), plain, atol=1e-6)


@pytest.mark.parametrize(
    ("value", "check"),
    [
        (-1, lambda v: abs(norm(v) - 1) > 1e-2),  # raw: not unit length
        (0, lambda v: abs(max(abs(x) for x in v) - 32760) < 1e-2),  # int16 range
        (1, lambda v: abs(sum(abs(x) for x in v) - 1) < 1e-4),  # taxicab
        (3, lambda v: abs(sum(abs(x) ** 3 for x in v) - 1) < 1e-4),  # p-norm
    ],
)
def test_embd_normalize(mean_server: httpx.Client, value: int, check: object) -> None:
    vector = embed(mean_server, input=TEXT, embd_normalize=value)["data"][0]["embedding"]
    assert check(vector)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({}, '"input" or "content"'),
        ({"input": []}, '"input" must not be empty'),
        ({"input": {"content": "string"}}, "input.content"),
        ({"input": {"content": [{"type": "unknown"}]}}, "input.content[0]"),
        (
            {"input": ["ok", {"content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}]},
            "input[1].content[0]",
        ),
        ({"input": {"content": [{"type": "input_audio", "input_audio": {"data": "AAAA"}}]}}, "multimodal"),
        ({"input": "This is a test " * 200}, "too large"),
        ({"input": [1.5, 2]}, "token ids or text"),
        ({"input": TEXT, "encoding_format": "int8"}, "encoding_format"),
        ({"input": TEXT, "embd_normalize": -2}, "embd_normalize"),
        ({"input": [TEXT, "\ud800"]}, "surrogate"),
    ],
)
def test_bad_input_is_a_400_naming_it(mean_server: httpx.Client, body: dict, names: str) -> None:
    r = mean_server.post("/v1/embeddings", content=json.dumps(body))  # ASCII JSON: a lone surrogate escaped
    assert r.status_code == 400, r.text
    assert names in r.json()["error"]["message"]


def test_generation_still_works_beside_embeddings(mean_server: httpx.Client) -> None:
    r = mean_server.post("/completion", json={"prompt": "Hello", "n_predict": 4, "temperature": 0})
    assert r.status_code == 200 and r.json()["tokens_predicted"] >= 1


def test_pooling_none_gives_each_tokens_vector_on_llama_servers_endpoints_only() -> None:
    server = ServerProcess("--embedding", "--pooling", "none", "--ctx-size", "1024")
    with server, httpx.Client(base_url=server.url, timeout=120) as c:
        tokens = c.post("/tokenize", json={"content": "hello hello hello", "add_special": True}).json()["tokens"]
        (item,) = embed(c, "/embeddings", input="hello hello hello")
        assert len(item["embedding"]) == len(tokens)
        assert all(abs(norm(row) - 1) > 1e-3 for row in item["embedding"])  # unnormalised, as llama.cpp
        r = c.post("/v1/embeddings", json={"input": "hello"})
        assert r.status_code == 400 and "not OAI compatible" in r.json()["error"]["message"]


# --- reranking ---------------------------------------------------------------------------------------------

QUERY = "Who is at the front door?"
DOCUMENTS = ["A courier leaves a parcel at the front door.", "The lawn was mowed on Sunday.", "Rain is expected."]


@pytest.fixture(scope="module")
def rerank_server() -> Iterator[httpx.Client]:
    server = ServerProcess("--reranking", "--ctx-size", "1024")
    with server, httpx.Client(base_url=server.url, timeout=120) as c:
        yield c


def test_rerank_answers_jina_and_tei_shapes_best_first(rerank_server: httpx.Client) -> None:
    jina = rerank_server.post("/rerank", json={"query": QUERY, "documents": DOCUMENTS, "model": "m"}).json()
    assert jina["object"] == "list" and jina["model"] == "m"
    scores = [r["relevance_score"] for r in jina["results"]]
    assert sorted(r["index"] for r in jina["results"]) == [0, 1, 2] and scores == sorted(scores, reverse=True)
    tokens = [len(_rerank_tokens(rerank_server, d)) for d in DOCUMENTS]
    assert jina["usage"] == {"prompt_tokens": sum(tokens), "total_tokens": sum(tokens)}
    top = rerank_server.post("/v1/rerank", json={"query": QUERY, "documents": DOCUMENTS, "top_n": 2}).json()
    assert top["results"] == jina["results"][:2]
    tei = rerank_server.post("/reranking", json={"query": QUERY, "texts": DOCUMENTS, "return_text": True}).json()
    assert [(r["index"], r["score"]) for r in tei] == [(r["index"], r["relevance_score"]) for r in jina["results"]]
    assert all(r["text"] == DOCUMENTS[r["index"]] for r in tei)


def _rerank_tokens(client: httpx.Client, document: str) -> list[int]:
    """The rerank prompt of SmolLM2 (no rerank template, no BOS/EOS/SEP added): query then document."""
    return [t for text in (QUERY, document) for t in client.post("/tokenize", json={"content": text}).json()["tokens"]]


def test_a_documents_score_does_not_depend_on_its_batch(rerank_server: httpx.Client) -> None:
    """Each document is scored alone (llama-server's scores of a causal model change with the batch)."""
    together = rerank_server.post("/rerank", json={"query": QUERY, "documents": DOCUMENTS}).json()["results"]
    for result in together:
        alone = rerank_server.post("/rerank", json={"query": QUERY, "documents": [DOCUMENTS[result["index"]]]})
        assert alone.json()["results"][0]["relevance_score"] == pytest.approx(result["relevance_score"], abs=1e-4)


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"documents": DOCUMENTS}, "query"),
        ({"query": QUERY, "documents": []}, '"documents" must be a non-empty string array'),
        ({"query": QUERY}, '"documents" must be a non-empty string array'),
        ({"query": QUERY, "documents": [1, 2, 3]}, "documents.0"),
        ({"query": QUERY, "documents": 123}, "documents"),
        ({"query": QUERY, "documents": DOCUMENTS, "top_n": -1}, "top_n"),
        ({"query": QUERY, "documents": ["word " * 600]}, "documents[0]"),
    ],
)
def test_bad_rerank_input_is_a_400_naming_it(rerank_server: httpx.Client, body: dict, names: str) -> None:
    r = rerank_server.post("/rerank", json=body)
    assert r.status_code == 400, r.text
    assert names in r.json()["error"]["message"]


def test_a_reranking_server_serves_no_embeddings(rerank_server: httpx.Client) -> None:
    assert rerank_server.post("/v1/embeddings", json={"input": "a"}).status_code == 501


def test_rank_pooling_of_a_model_without_a_classifier_is_its_last_tokens_first_value(model_path: Path) -> None:
    """llama.cpp's rank pooling takes the last token's output (causal attention) through the classifier head;
    SmolLM2 has none, so the score is that output's first value: checked against ``last`` pooling."""
    from ai.nemotron.engines.llamacpp import LlamaCppEngine

    ranker, embedder = (LlamaCppEngine(str(model_path), n_ctx=512, threads=1) for _ in range(2))
    for engine, pooling in ((ranker, "rank"), (embedder, "last")):
        engine.load()
        assert engine.load_embeddings(pooling) == pooling  # type: ignore[arg-type]
    tokens = ranker.rerank_prompt(QUERY, DOCUMENTS[0])
    assert tokens == ranker.tokenize(QUERY, add_special=False) + ranker.tokenize(DOCUMENTS[0], add_special=False)
    score = ranker.embed(tokens)
    assert score.shape == (1, 1)
    assert float(score[0, 0]) == pytest.approx(float(embedder.embed(tokens)[0, 0]), abs=1e-3)
