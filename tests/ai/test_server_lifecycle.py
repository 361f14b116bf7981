"""Loading, failure, auth and queueing, in-process with the real llama.cpp engine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ai.nemotron.engines.llamacpp import LlamaCppEngine
from ai.nemotron.server import create_app
from ai.nemotron.settings import ServerSettings

PROMPT = "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"


class GatedEngine(LlamaCppEngine):
    """The real engine, whose load waits for the test to open a gate (a slow model load on demand)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.gate = threading.Event()

    def load(self) -> None:
        assert self.gate.wait(60)
        super().load()


def wait_status(client: TestClient, status: int) -> dict:
    for _ in range(600):
        r = client.get("/health")
        if r.status_code == status:
            return r.json()
        threading.Event().wait(0.05)
    raise AssertionError(f"/health never answered {status}")


def test_health_is_503_while_loading_then_200(model_path: Path) -> None:
    engine = GatedEngine(str(model_path), n_ctx=1024)
    with TestClient(create_app(engine, ServerSettings())) as client:
        r = client.get("/health")
        assert r.status_code == 503
        assert r.json() == {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
        assert client.post("/completion", json={"prompt": "hi"}).status_code == 503
        engine.gate.set()
        body = wait_status(client, 200)
        assert body["status"] == "healthy" and body["model_loaded"] is True
        assert client.post("/completion", json={"prompt": "hi", "n_predict": 2}).status_code == 200


def test_a_model_that_fails_to_load_is_never_healthy(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    with TestClient(create_app(LlamaCppEngine(str(broken), n_ctx=512), ServerSettings())) as client:
        for _ in range(100):
            r = client.get("/health")
            assert r.status_code == 503
            if "failed to load" in r.json()["error"]["message"]:
                break
            threading.Event().wait(0.05)
        else:
            raise AssertionError("load failure never reported")
        assert client.post("/completion", json={"prompt": "hi"}).status_code == 503


def test_missing_model_file_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="GGUF model file not found"):
        LlamaCppEngine("/nonexistent/model.gguf", n_ctx=512)


@pytest.fixture(scope="module")
def secured(model_path: Path) -> Iterator[TestClient]:
    app = create_app(LlamaCppEngine(str(model_path), n_ctx=1024), ServerSettings(api_key="s3cret", parallel=1))
    with TestClient(app) as client:
        wait_status(client, 200)
        yield client


def test_api_key_guards_everything_but_health(secured: TestClient) -> None:
    assert secured.get("/health").status_code == 200
    assert secured.get("/v1/models").status_code == 200
    r = secured.post("/completion", json={"prompt": "hi", "n_predict": 1})
    assert r.status_code == 401
    assert r.json()["error"] == {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}
    wrong = secured.post("/completion", json={"prompt": "hi"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = secured.post("/completion", json={"prompt": "hi", "n_predict": 1}, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert secured.get("/metrics").status_code == 401


def test_one_slot_queues_requests_instead_of_cancelling(secured: TestClient) -> None:
    headers = {"Authorization": "Bearer s3cret"}
    body = {"prompt": PROMPT, "n_predict": 12, "temperature": 0, "cache_prompt": False}
    want = secured.post("/completion", json=body, headers=headers).json()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: secured.post("/completion", json=body, headers=headers), range(4)))
    assert [r.status_code for r in results] == [200] * 4
    assert [r.json()["content"] for r in results] == [want["content"]] * 4
    assert [r.json()["tokens_predicted"] for r in results] == [want["tokens_predicted"]] * 4
