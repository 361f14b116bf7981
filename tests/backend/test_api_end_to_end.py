"""The whole product over HTTP: detections posted to the REST API, batched, analysed by the real analyzer
with the real embedded LLM server, stored and announced on the WebSocket; SQLite and PostgreSQL + Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ai.nemotron.launch import ServerProcess
from backend.api.app import create_app
from backend.api.services import AppServices
from backend.config.settings import BackendSettings
from backend.domain.risk_levels import level_for_score

NIGHT = datetime(2026, 3, 10, 2, 40, tzinfo=UTC)
PORCH = {
    "id": "porch",
    "name": "Porch",
    "zone_type": "entry_point",
    "polygon": [[0.3, 0.4], [0.7, 0.4], [0.7, 1.0], [0.3, 1.0]],
}


@pytest.fixture(scope="module")
def llm_url() -> Iterator[str]:
    with ServerProcess("--ctx-size", "4096") as server:
        yield server.url


def detections() -> list[dict]:
    return [
        {
            "camera_id": "front_door",
            "id": f"e2e-{i}",
            "detected_at": (NIGHT + timedelta(seconds=15 * i)).isoformat(),
            "object_type": "person",
            "confidence": 0.8,
            "track_id": 3,
            "bbox": {"x": 900, "y": 500, "width": 120, "height": 380},
            "enrichment": {
                "clothing": {"face_covering": True},
                "pose": {"action": "trying_door_handle"},
                "dwell_seconds": 15 * i,
            },
        }
        for i in range(5)
    ]


@pytest.mark.parametrize(
    ("db_url", "redis_url"), [("sqlite", None), ("postgresql", "redis")], indirect=True, ids=["sqlite", "pg-redis"]
)
def test_detections_in_risk_event_out(backend_settings: BackendSettings, llm_url: str) -> None:
    settings = backend_settings.model_copy(update={"llm_url": llm_url, "fast_path_confidence": 0.99})
    app = create_app(settings)
    with TestClient(app) as client, client.websocket_connect("/ws/events") as ws:
        assert ws.receive_json() == {"type": "subscribed"}
        assert client.post("/api/cameras", json={"id": "front_door", "name": "Front Door"}).status_code == 200
        assert client.put("/api/cameras/front_door/zones", json=[PORCH]).status_code == 200
        posted = client.post("/api/detections/bulk", json={"detections": detections()})
        assert posted.status_code == 201
        services: AppServices = app.state.services
        assert client.portal is not None
        client.portal.call(services.batcher.flush_all)
        event = ws.receive_json()["event"]
        assert event["status"] == "assessed", event["error"]
        assert event["kind"] == "batch"
        assert event["risk_level"] == level_for_score(event["risk_score"])
        # a masked stranger trying the door at night: with the embedded model's default trust (0) the evidence
        # decides, and it is an alarm whatever the model says; the summary agrees with the level
        assert event["risk_level"] in ("high", "critical")
        assert event["decided_by"]["trust"] == 0.0 and event["decided_by"]["trust_source"] == "default"
        assert event["decided_by"]["evidence_score"] >= 60
        assert event["decided_by"]["summary"] in ("llm", "evidence")
        if event["decided_by"]["summary"] == "evidence":
            assert f"{event['risk_level'].capitalize()}:" in event["summary"]
        listed = client.get("/api/events", params={"camera_id": "front_door", "level": event["risk_level"]}).json()
        assert [e["id"] for e in listed["events"]] == [event["id"]]
        detail = client.get(f"/api/events/{event['id']}").json()
        assert sorted(d["id"] for d in detail["detections"]) == sorted(d["id"] for d in detections())
