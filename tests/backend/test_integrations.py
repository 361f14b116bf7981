"""The home integrations as the app runs them (no LLM needed): Frigate's config imported at start when
FRIGATE_URL is set (and retried while Frigate is down), /health showing the broker link, a broker that is down
making the service degraded but not unavailable, and snapshot links built from FRIGATE_URL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

from backend.api.app import create_app
from backend.api.services import AppServices
from backend.config.settings import BackendSettings
from backend.services.event_notice import frigate_links
from tests.backend.helpers import FrigateAPI, StubAnalyzer
from tests.backend.mqtt_broker import free_port


def _wait(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {seconds} s for {what}")
        time.sleep(0.1)


def _app(settings: BackendSettings) -> Any:
    from backend.db.session import create_engine_from_url, create_session_factory

    engine = create_engine_from_url(settings.database_url)
    return create_app(settings, analyzer=StubAnalyzer(create_session_factory(engine)))


def test_frigate_config_is_imported_at_start_and_retried_while_frigate_is_down(
    backend_settings: BackendSettings, frigate: FrigateAPI
) -> None:
    frigate.serve("frigate_0_16.json")
    frigate.status = 503  # Frigate is not up yet
    settings = backend_settings.model_copy(update={"frigate_url": frigate.url})
    with TestClient(_app(settings)) as client:
        _wait(lambda: len(frigate.requests) >= 1, "a first try")
        health = client.get("/health").json()
        assert str(health["integrations"]["frigate"]["config_import"]).startswith("error")
        assert client.get("/api/cameras").json()["cameras"] == []
        frigate.status = 200  # Frigate comes up: the import is retried with backoff
        _wait(lambda: bool(client.get("/api/cameras").json()["cameras"]), "the cameras imported")
        cameras = {c["id"]: c for c in client.get("/api/cameras").json()["cameras"]}
        assert frigate.config is not None and set(cameras) == set(frigate.config["cameras"])
        assert all(c["frame_width"] > 0 for c in cameras.values())
        assert any(c["zones"] for c in cameras.values())
        health = client.get("/health").json()
        assert health["integrations"]["frigate"]["config_import"] == "ok"
        assert health["integrations"]["mqtt"] == "disabled"  # no MQTT_URL: no link
        assert health["status"] in ("ok", "degraded")  # the LLM URL of the fixture is unreachable


def test_a_broker_that_is_down_degrades_the_service_but_ingest_goes_on(backend_settings: BackendSettings) -> None:
    nothing_there = f"mqtt://127.0.0.1:{free_port()}"
    settings = backend_settings.model_copy(
        update={"mqtt_url": SecretStr(nothing_there), "mqtt_reconnect_max_seconds": 0.5}
    )
    with TestClient(_app(settings)) as client:
        services: AppServices = client.app.state.services  # type: ignore[attr-defined]
        assert services.integrations is not None and services.integrations.link is not None
        _wait(
            lambda: bool(
                services.integrations and services.integrations.link and services.integrations.link.last_error
            ),
            "a failed connect",
        )
        health = client.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "degraded"
        assert body["checks"]["mqtt"].startswith("error")
        assert body["integrations"]["mqtt"]["connected"] is False
        assert "password" not in json.dumps(body)
        # the REST API is not held up by the broker
        assert client.post("/api/cameras", json={"id": "porch", "name": "Porch"}).status_code == 200


def test_snapshot_and_clip_links_need_frigate_url_and_an_object() -> None:
    assert frigate_links(None, "1.0-abc") == (None, None)
    assert frigate_links("http://frigate:5000/", None) == (None, None)
    assert frigate_links("http://frigate:5000/", "1.0-abc") == (
        "http://frigate:5000/api/events/1.0-abc/snapshot.jpg",
        "http://frigate:5000/api/events/1.0-abc/clip.mp4",
    )
