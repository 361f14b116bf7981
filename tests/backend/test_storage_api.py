"""The REST API and WebSocket on SQLite and PostgreSQL (with and without Redis where it matters)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from backend.api.app import create_app
from backend.api.services import AppServices
from backend.config.settings import BackendSettings
from backend.db.session import create_engine_from_url, create_session_factory
from backend.models import Batch, Detection, Event
from tests.backend.helpers import StubAnalyzer, detection_json

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 10, 3, 12, tzinfo=UTC)


def _at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).astimezone(UTC).isoformat()


@dataclass
class Api:
    client: httpx.AsyncClient
    app: FastAPI
    analyzer: StubAnalyzer
    sessions: Sessions

    @property
    def services(self) -> AppServices:
        services: AppServices = self.app.state.services
        return services

    async def count(self, model: type) -> int:
        async with self.sessions() as session:
            return await session.scalar(select(func.count()).select_from(model)) or 0


@asynccontextmanager
async def running_api(settings: BackendSettings, sessions: Sessions) -> AsyncIterator[Api]:
    analyzer = StubAnalyzer(sessions)
    app = create_app(settings, analyzer=analyzer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backend") as client:
            yield Api(client, app, analyzer, sessions)


@pytest.fixture
async def api(backend_settings: BackendSettings, sessions: Sessions) -> AsyncIterator[Api]:
    async with running_api(backend_settings, sessions) as running:
        for camera_id in ("front_door", "driveway"):
            answer = await running.client.post("/api/cameras", json={"id": camera_id, "name": camera_id.title()})
            assert answer.status_code == 200
        yield running


async def test_cameras_zones_and_household(api: Api) -> None:
    c = api.client
    updated = await c.post("/api/cameras", json={"id": "front_door", "name": "Front Door", "frame_width": 1280})
    assert updated.json()["name"] == "Front Door" and updated.json()["frame_width"] == 1280
    porch = {"id": "porch", "name": "Porch", "zone_type": "entry_point", "polygon": [[0.3, 0.4], [0.7, 0.4], [0.7, 1]]}
    zones = await c.put("/api/cameras/front_door/zones", json=[porch])
    assert zones.status_code == 200 and zones.json()["zones"][0]["id"] == "porch"
    assert (await c.put("/api/cameras/front_door/zones", json=[porch, porch])).status_code == 422
    assert (await c.put("/api/cameras/nowhere/zones", json=[porch])).status_code == 404
    cameras = (await c.get("/api/cameras")).json()["cameras"]
    assert [cam["id"] for cam in cameras] == ["driveway", "front_door"]
    assert cameras[1]["zones"][0]["polygon"] == [[0.3, 0.4], [0.7, 0.4], [0.7, 1.0]]
    household = await c.put("/api/household", json={"known_faces": ["Alice"], "known_plates": ["abc-1234"]})
    assert household.json() == {"known_faces": ["Alice"], "known_plates": ["ABC1234"]}


async def test_invalid_detection_is_422_naming_the_field(api: Api) -> None:
    single = await api.client.post("/api/detections", json=detection_json("front_door", "d1", _at(0), confidence=1.5))
    assert single.status_code == 422
    assert single.json()["detail"][0]["loc"] == ["body", "confidence"]

    items = [detection_json("front_door", f"d{i}", _at(i)) for i in range(5)]
    items[3]["detected_at"] = "2026-03-10T03:12:00"  # no UTC offset
    bulk = await api.client.post("/api/detections/bulk", json={"detections": items})
    assert bulk.status_code == 422
    assert bulk.json()["detail"][0]["loc"] == ["body", "detections", 3, "detected_at"]
    assert await api.count(Detection) == 0


async def test_bulk_rejections_write_nothing(api: Api) -> None:
    c = api.client
    items = [detection_json("front_door", f"d{i}", _at(i)) for i in range(4)]

    unknown = await c.post("/api/detections/bulk", json={"detections": [*items, detection_json("attic", "x", _at(9))]})
    assert unknown.status_code == 422
    [problem] = unknown.json()["detail"]
    assert problem["loc"] == ["body", "detections", 4, "camera_id"] and "attic" in problem["msg"]

    repeated = await c.post("/api/detections/bulk", json={"detections": [*items, items[1]]})
    assert repeated.status_code == 409
    assert repeated.json()["detail"][0]["loc"] == ["body", "detections", 4, "id"]

    too_many = await c.post("/api/detections/bulk", json={"detections": [items[0]] * 5001})
    assert too_many.status_code == 422
    assert await api.count(Detection) == 0 and await api.count(Batch) == 0

    assert (await c.post("/api/detections/bulk", json={"detections": items[:2]})).status_code == 201
    again = await c.post("/api/detections/bulk", json={"detections": items[1:]})
    assert again.status_code == 409
    assert again.json()["detail"][0]["loc"] == ["body", "detections", 0, "id"]  # d1 is already stored
    single_again = await c.post("/api/detections", json=items[0])
    assert single_again.status_code == 409 and single_again.json()["detail"][0]["loc"] == ["body", "id"]
    assert await api.count(Detection) == 2


async def test_bulk_ingest_of_2000_detections(api: Api) -> None:
    items = [
        detection_json("front_door" if i % 2 else "driveway", f"d{i}", _at(i / 10), object_type="car")
        for i in range(2000)
    ]
    answer = await api.client.post("/api/detections/bulk", json={"detections": items})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["stored"] == 2000 and len(body["batch_ids"]) == 40  # 50 per batch
    await api.services.batcher.drain()
    assert await api.count(Detection) == 2000
    assert await api.count(Event) == 40
    assert sum(len(pks) for _, _, pks in api.analyzer.batch_calls) == 2000


async def test_events_listing_detail_and_review(api: Api) -> None:
    c = api.client
    await c.post(
        "/api/detections", json=detection_json("front_door", "f1", _at(0), object_type="person", confidence=0.97)
    )
    await c.post("/api/detections", json=detection_json("driveway", "g1", _at(600), object_type="car"))
    await api.services.batcher.flush_all()

    events = (await c.get("/api/events")).json()["events"]
    assert events[0]["camera_id"] == "driveway"  # newest first
    assert sorted((e["camera_id"], e["kind"]) for e in events) == [
        ("driveway", "batch"),
        ("front_door", "batch"),
        ("front_door", "fast_path"),
    ]
    critical = (await c.get("/api/events", params={"level": "critical"})).json()["events"]
    assert [e["batch_id"] for e in critical] == ["fast:front_door:f1"]
    front = (await c.get("/api/events", params={"camera_id": "front_door", "limit": 1})).json()
    assert len(front["events"]) == 1 and front["limit"] == 1
    late = (await c.get("/api/events", params={"since": _at(300)})).json()["events"]
    assert [e["camera_id"] for e in late] == ["driveway"]
    assert (await c.get("/api/events", params={"level": "severe"})).status_code == 422

    detail = (await c.get(f"/api/events/{critical[0]['id']}")).json()
    assert [d["id"] for d in detail["detections"]] == ["f1"]
    assert detail["detections"][0]["fast_path"] is True
    assert (await c.get("/api/events/999999")).status_code == 404

    reviewed = await c.post(f"/api/events/{critical[0]['id']}/review", json={"notes": "it was the gardener"})
    assert reviewed.status_code == 200 and reviewed.json()["reviewed"] is True
    assert (await c.post("/api/events/999999/review", headers={"Content-Type": "application/json"})).status_code == 404
    open_ones = (await c.get("/api/events", params={"reviewed": "false"})).json()["events"]
    assert len(open_ones) == 2
    assert (await c.get("/api/events", params={"status": "assessed"})).json()["events"][0]["status"] == "assessed"


async def test_open_batch_is_recovered_by_a_restarted_app(
    backend_settings: BackendSettings, sessions: Sessions
) -> None:
    async with running_api(backend_settings, sessions) as first:
        await first.client.post("/api/cameras", json={"id": "front_door", "name": "Front Door"})
        answer = await first.client.post("/api/detections", json=detection_json("front_door", "d1", _at(0)))
        [batch_id] = answer.json()["batch_ids"]
    async with running_api(backend_settings, sessions) as second:
        await second.services.batcher.flush_all()
        assert second.analyzer.batch_calls[0][0] == batch_id
        assert await second.count(Event) == 1


async def test_health_and_metrics(api: Api) -> None:
    health = await api.client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] in ("ok", "disabled")
    assert body["checks"]["llm"].startswith("error")  # nothing listens on the test LLM URL
    assert body["status"] == "degraded"

    await api.client.post("/api/detections", json=detection_json("front_door", "d1", _at(0)))
    await api.services.batcher.flush_all()
    metrics = (await api.client.get("/metrics")).text
    for name in (
        'nemotron_batches_total{action="opened"}',
        'nemotron_batches_total{action="closed"}',
        'nemotron_events_total{level="low",status="assessed"}',
        "nemotron_llm_latency_seconds_bucket",
        "nemotron_llm_parse_failures_total",
        "nemotron_batch_queue_depth",
    ):
        assert name in metrics


def test_websocket_receives_new_and_updated_events(backend_settings: BackendSettings) -> None:
    # The app runs in TestClient's own event loop: the stub opens connections there (no pooling across loops).
    engine = create_engine_from_url(backend_settings.database_url, poolclass=NullPool)
    analyzer = StubAnalyzer(create_session_factory(engine), failures=1)
    app = create_app(backend_settings, analyzer=analyzer)
    with TestClient(app) as client, client.websocket_connect("/ws/events") as ws:
        assert ws.receive_json() == {"type": "subscribed"}
        client.post("/api/cameras", json={"id": "front_door", "name": "Front Door"})
        assert client.post("/api/detections", json=detection_json("front_door", "d1", _at(0))).status_code == 201
        services: AppServices = app.state.services
        assert client.portal is not None
        client.portal.call(services.batcher.flush_all)

        failed: dict[str, Any] = ws.receive_json()
        assert failed["type"] == "event" and failed["event"]["status"] == "not_assessed"
        client.portal.call(services.dispatcher.retry_due, datetime.now(UTC) + timedelta(hours=1))
        assessed = ws.receive_json()["event"]
        assert (assessed["id"], assessed["status"], assessed["attempts"]) == (failed["event"]["id"], "assessed", 2)
        client.post(f"/api/events/{assessed['id']}/review", json={"notes": "ok"})
        assert ws.receive_json()["event"]["reviewed"] is True
