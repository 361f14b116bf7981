"""Access: the API key (HTTP and WebSocket), the WebSocket's Origin, CORS, JSON-only writes and the body limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.pool import NullPool
from starlette.testclient import WebSocketDenialResponse

from backend.api.app import create_app
from backend.api.services import AppServices
from backend.config.settings import BackendSettings
from backend.db.session import create_engine_from_url, create_session_factory
from backend.models import Camera, Event
from tests.backend.helpers import StubAnalyzer, detection_json

KEY = "s3cret-key-\u00e9"  # not ASCII: compared as bytes
AUTH = {b"Authorization": f"Bearer {KEY}".encode()}  # the UTF-8 bytes on the wire
UI = "https://ui.example"


@pytest.fixture
def redis_url() -> str | None:
    """Access checks do not depend on Redis."""
    return None


@asynccontextmanager
async def running(settings: BackendSettings) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine_from_url(settings.database_url)
    app = create_app(settings, analyzer=StubAnalyzer(create_session_factory(engine)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backend") as client:
            _APPS[id(client)] = app
            yield client
            del _APPS[id(client)]
    await engine.dispose()


_APPS: dict[int, FastAPI] = {}


def services(client: httpx.AsyncClient) -> AppServices:
    found: AppServices = _APPS[id(client)].state.services
    return found


@pytest.fixture
def keyed(backend_settings: BackendSettings) -> BackendSettings:
    return backend_settings.model_copy(update={"api_key": SecretStr(KEY)})


async def stored_cameras(db_url: str) -> list[str]:
    engine = create_engine_from_url(db_url)
    async with create_session_factory(engine)() as session:
        ids = list((await session.scalars(select(Camera.id))).all())
    await engine.dispose()
    return ids


# ----------------------------------------------------------------------------------------------- the API key


async def test_without_the_key_reads_and_writes_are_refused(keyed: BackendSettings, db_url: str) -> None:
    async with running(keyed) as client:
        for answer in (
            await client.get("/api/cameras"),
            await client.get("/api/events"),
            await client.get("/api/events/1"),
            await client.post("/api/cameras", json={"id": "cam1", "name": "Cam"}),
            await client.put("/api/household", json={"known_faces": ["Mallory"]}),
            await client.post("/api/detections", json=detection_json("cam1", "d1", "2026-03-10T03:00:00Z")),
            await client.post("/api/events/1/review", json={}),
            await client.get("/docs"),
            await client.get("/openapi.json"),
            await client.get("/no/such/route"),
        ):
            assert answer.status_code == 401, (answer.request.url, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert "API key" in answer.json()["detail"]
    assert await stored_cameras(db_url) == []


async def test_a_wrong_key_is_refused_and_the_right_one_accepted(keyed: BackendSettings, db_url: str) -> None:
    async with running(keyed) as client:
        for wrong in ("Bearer nope", f"Bearer {KEY[:-1]}", f"Basic {KEY}", f"Bearer {KEY}x", "Bearer"):
            answer = await client.get("/api/cameras", headers={b"Authorization": wrong.encode()})
            assert answer.status_code == 401, wrong
        refused = await client.get("/api/cameras", headers={"Authorization": "Bearer nope"})
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        created = await client.post("/api/cameras", json={"id": "cam1", "name": "Cam"}, headers=AUTH)
        assert created.status_code == 200
        assert (await client.get("/api/cameras", headers=AUTH)).json()["cameras"][0]["id"] == "cam1"
    assert await stored_cameras(db_url) == ["cam1"]


async def test_health_and_metrics_stay_open_with_a_key(keyed: BackendSettings) -> None:
    async with running(keyed) as client:
        health = await client.get("/health")
        assert health.status_code == 200 and health.json()["checks"]["database"] == "ok"
        assert (await client.get("/metrics")).status_code == 200


async def test_the_key_can_come_from_a_file(backend_settings: BackendSettings, tmp_path: Path) -> None:
    key_file = tmp_path / "api_key"
    key_file.write_text("from-a-file\n", encoding="utf-8")
    settings = backend_settings.model_copy(update={"api_key_file": key_file})
    async with running(settings) as client:
        assert (await client.get("/api/cameras")).status_code == 401
        answer = await client.get("/api/cameras", headers={"Authorization": "Bearer from-a-file"})
        assert answer.status_code == 200


def test_an_unreadable_key_file_stops_the_start(backend_settings: BackendSettings, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        create_app(backend_settings.model_copy(update={"api_key_file": tmp_path / "missing"}))
    empty = tmp_path / "empty"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        create_app(backend_settings.model_copy(update={"api_key_file": empty}))


async def test_without_a_key_the_api_is_open(backend_settings: BackendSettings) -> None:
    async with running(backend_settings) as client:
        assert (await client.get("/api/cameras")).status_code == 200


# ----------------------------------------------------------------------------------------------- the WebSocket


@pytest.fixture
def ws_client(keyed: BackendSettings) -> Iterator[TestClient]:
    engine = create_engine_from_url(keyed.database_url, poolclass=NullPool)
    app = create_app(keyed, analyzer=StubAnalyzer(create_session_factory(engine)))
    with TestClient(app) as client:
        yield client


def test_the_websocket_needs_the_key(ws_client: TestClient) -> None:
    with pytest.raises(WebSocketDenialResponse) as refused, ws_client.websocket_connect("/ws/events"):
        pass
    assert refused.value.status_code == 401 and refused.value.headers["www-authenticate"] == "Bearer"
    with pytest.raises(WebSocketDenialResponse) as refused, ws_client.websocket_connect("/ws/events?api_key=nope"):
        pass
    assert refused.value.status_code == 401


def test_the_websocket_takes_the_key_as_header_or_query(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/ws/events", headers=AUTH) as ws:
        assert ws.receive_json() == {"type": "subscribed"}
    with ws_client.websocket_connect("/ws/events", params={"api_key": KEY}) as ws:
        assert ws.receive_json() == {"type": "subscribed"}


def test_the_websocket_refuses_a_foreign_origin_even_with_the_key(ws_client: TestClient) -> None:
    headers = {**AUTH, b"Origin": b"https://evil.example"}
    with pytest.raises(WebSocketDenialResponse) as refused, ws_client.websocket_connect("/ws/events", headers=headers):
        pass
    assert refused.value.status_code == 403
    same_host = {**AUTH, b"Origin": b"http://testserver"}  # the page the server itself serves
    with ws_client.websocket_connect("/ws/events", headers=same_host) as ws:
        assert ws.receive_json() == {"type": "subscribed"}


def test_without_a_key_the_websocket_still_checks_the_origin(backend_settings: BackendSettings) -> None:
    engine = create_engine_from_url(backend_settings.database_url, poolclass=NullPool)
    app = create_app(backend_settings, analyzer=StubAnalyzer(create_session_factory(engine)))
    with TestClient(app) as client:
        with client.websocket_connect("/ws/events") as ws:
            assert ws.receive_json() == {"type": "subscribed"}
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            client.websocket_connect("/ws/events", headers={"Origin": "http://192.168.1.66:8080"}),
        ):
            pass
        assert refused.value.status_code == 403


def test_allowed_origins_open_the_websocket_to_those_origins(keyed: BackendSettings) -> None:
    settings = keyed.model_copy(update={"allowed_origins": [UI]})
    engine = create_engine_from_url(settings.database_url, poolclass=NullPool)
    app = create_app(settings, analyzer=StubAnalyzer(create_session_factory(engine)))
    with TestClient(app) as client:
        with client.websocket_connect("/ws/events", headers={"Origin": UI}, params={"api_key": KEY}) as ws:
            assert ws.receive_json() == {"type": "subscribed"}
        for origin in ("http://testserver", "https://ui.example.evil"):
            with (
                pytest.raises(WebSocketDenialResponse) as refused,
                client.websocket_connect("/ws/events", headers={"Origin": origin}, params={"api_key": KEY}),
            ):
                pass
            assert refused.value.status_code == 403


async def test_a_server_without_the_denial_extension_closes_with_1008(keyed: BackendSettings) -> None:
    app = create_app(keyed)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws/events", "headers": [], "query_string": b"", "extensions": {}}
    await app(scope, receive, send)
    assert [(m["type"], m["code"]) for m in sent] == [("websocket.close", 1008)]


# ----------------------------------------------------------------------------------------------- CORS


async def test_cors_answers_only_the_allowed_origins(keyed: BackendSettings) -> None:
    settings = keyed.model_copy(update={"allowed_origins": [UI]})
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with running(settings) as client:
        allowed = await client.options("/api/cameras", headers={"Origin": UI, **preflight})
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == UI
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        other = await client.options("/api/cameras", headers={"Origin": "https://evil.example", **preflight})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        read = await client.get("/api/cameras", headers={b"Origin": UI.encode(), **AUTH})
        assert read.status_code == 200 and read.headers["access-control-allow-origin"] == UI
        refused = await client.get("/api/cameras", headers={"Origin": UI})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == UI


async def test_no_cors_without_allowed_origins(backend_settings: BackendSettings) -> None:
    preflight = {"Origin": UI, "Access-Control-Request-Method": "POST"}
    async with running(backend_settings) as client:
        answer = await client.options("/api/cameras", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
        read = await client.get("/api/cameras", headers={"Origin": UI})
        assert "access-control-allow-origin" not in read.headers


# ----------------------------------------------------------------------------------------------- JSON-only writes


async def test_writes_take_json_only(backend_settings: BackendSettings, db_url: str) -> None:
    async with running(backend_settings) as client:
        assert (await client.post("/api/cameras", json={"id": "cam1", "name": "Cam"})).status_code == 200
        await client.post("/api/detections", json=detection_json("cam1", "d1", "2026-03-10T03:00:00Z"))
        await services(client).batcher.flush_all()
        event_id = (await client.get("/api/events")).json()["events"][0]["id"]

        form = await client.post(f"/api/events/{event_id}/review", data={"notes": "forged"})
        assert form.status_code == 415 and "application/json" in form.json()["detail"]
        bare = await client.post(f"/api/events/{event_id}/review")  # a no-cors fetch: no body, no type
        assert bare.status_code == 415
        text_plain = await client.post(
            "/api/cameras", content=b'{"id": "cam2", "name": "x"}', headers={"Content-Type": "text/plain"}
        )
        assert text_plain.status_code == 415
        multipart = await client.put("/api/household", files={"known_faces": ("a", b"Mallory")})
        assert multipart.status_code == 415
        assert (await client.get("/api/events")).json()["events"][0]["reviewed"] is False

        typed = {"Content-Type": "application/json; charset=utf-8"}
        assert (await client.post(f"/api/events/{event_id}/review", headers=typed)).status_code == 200
        problem = {"Content-Type": "application/merge-patch+json"}
        assert (
            await client.post("/api/cameras", content=b'{"id":"cam3","name":"y"}', headers=problem)
        ).status_code == 200
    assert sorted(await stored_cameras(db_url)) == ["cam1", "cam3"]
    engine = create_engine_from_url(db_url)
    async with create_session_factory(engine)() as session:
        assert await session.scalar(select(Event.reviewed)) is True
    await engine.dispose()


# ----------------------------------------------------------------------------------------------- body size


async def test_a_declared_body_over_the_limit_is_413_unread(backend_settings: BackendSettings, db_url: str) -> None:
    settings = backend_settings.model_copy(update={"max_body_bytes": 4096})
    async with running(settings) as client:
        big = {"id": "cam1", "name": "x" * 400, "padding": "y" * 10_000}
        answer = await client.post("/api/cameras", json=big)
        assert answer.status_code == 413 and "4096" in answer.json()["detail"]
        assert (await client.post("/api/cameras", json={"id": "cam1", "name": "x" * 400})).status_code == 200


async def test_a_streamed_body_is_cut_off_at_the_limit(backend_settings: BackendSettings, db_url: str) -> None:
    """A chunked body (no Content-Length) is refused once the chunks pass the limit; the rest is never read."""
    settings = backend_settings.model_copy(update={"max_body_bytes": 4096})
    pulled = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulled
        yield b'{"id": "cam1", "name": "'
        for _ in range(1000):
            pulled += 1
            yield b"x" * 1024
        yield b'"}'

    async with running(settings) as client:
        answer = await client.post("/api/cameras", content=chunks(), headers={"Content-Type": "application/json"})
        assert answer.status_code == 413
        assert answer.request.headers.get("transfer-encoding") == "chunked"
    assert pulled < 10  # about 4 of 1000 chunks were read
    assert await stored_cameras(db_url) == []


# ----------------------------------------------------------------------------------------------- deployment


def test_the_compose_llm_server_demands_a_key() -> None:
    """The production compose file publishes the LLM port, so the server must require LLM_API_KEY."""
    compose = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.prod.yml").read_text())
    service = compose["services"]["ai-llm"]
    published = [str(port) for port in service["ports"]]
    local_only = all(port.startswith("127.0.0.1:") for port in published)
    key = str(service.get("environment", {}).get("LLAMA_API_KEY", ""))
    assert local_only or key.startswith("${LLM_API_KEY:?"), (published, key)
