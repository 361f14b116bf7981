"""Frigate in, Home Assistant and phones out, end to end (issue #10): a replayed Frigate session goes through a
real Mosquitto broker into the service (real analyzer, real embedded LLM server), and the test reads back the
stored events, the Home Assistant discovery and state topics, and the notifications a local HTTP sink received
through Apprise's json:// target. One run restarts the broker (kill -9) in the middle of the replay.

The broker is a private Mosquitto (its own port and persistence), so killing it touches nothing else."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from ai.nemotron.launch import ServerProcess
from backend.api.app import create_app
from backend.api.services import AppServices
from backend.config.settings import BackendSettings
from backend.domain.risk_levels import LEVEL_ORDER, RiskLevel
from backend.frigate_replay import HOME_ZONE, HOUSEHOLD, NotificationSink, ReplaySession, build_session, publish
from backend.models import Detection
from backend.services.mqtt_link import MQTTMessage
from tests.backend.mqtt_broker import MOSQUITTO, PrivateBroker

pytestmark = pytest.mark.skipif(not Path(MOSQUITTO).exists(), reason="mosquitto is not installed")

WAIT = 600.0  # seconds: generous, the LLM runs on two shared CPU cores


@pytest.fixture(scope="module")
def llm_url() -> Iterator[str]:
    with ServerProcess("--ctx-size", "4096") as server:
        yield server.url


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    private = PrivateBroker(tmp_path / "broker")
    private.start()
    yield private
    private.kill()


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {WAIT} s for {what}")
        time.sleep(0.5)


def _at_least(level: str | None, minimum: RiskLevel) -> bool:
    return level is not None and LEVEL_ORDER.index(RiskLevel(level)) >= LEVEL_ORDER.index(minimum)


async def _retained(url_port: int, filters: list[str], settle: float = 3.0) -> dict[str, bytes]:
    """Every retained message under ``filters`` (what Home Assistant reads when it connects)."""
    found: dict[str, bytes] = {}
    async with aiomqtt.Client("127.0.0.1", url_port, identifier=f"ha-{uuid.uuid4().hex[:8]}") as client:
        for topic_filter in filters:
            await client.subscribe(topic_filter, qos=1)
        try:
            async with asyncio.timeout(settle):
                async for message in client.messages:
                    if message.retain and isinstance(message.payload, bytes | bytearray):
                        found[message.topic.value] = bytes(message.payload)
        except TimeoutError:
            pass
    return found


@pytest.mark.parametrize(
    ("db_url", "redis_url", "restart", "quiet"),
    [("sqlite", None, False, False), ("postgresql", "redis", True, True)],
    indirect=["db_url", "redis_url"],
    ids=["sqlite-steady", "pg-redis-broker-killed-quiet-hours"],
)
def test_a_frigate_session_through_the_broker(
    backend_settings: BackendSettings,
    llm_url: str,
    broker: PrivateBroker,
    restart: bool,
    quiet: bool,
) -> None:
    run = f"t{uuid.uuid4().hex[:8]}"
    session: ReplaySession = build_session(prefix=f"{run}/frigate")
    now = datetime.now(UTC).astimezone(HOME_ZONE).time()  # quiet hours are the home's (TIMEZONE below)
    # quiet hours around now: only critical may ring; otherwise quiet hours far from now (never active)
    start = (datetime.combine(datetime.now(UTC).date(), now) - timedelta(hours=1)).strftime("%H:%M")
    end = (datetime.combine(datetime.now(UTC).date(), now) + timedelta(hours=1)).strftime("%H:%M")
    with NotificationSink() as sink:
        settings = backend_settings.model_copy(
            update={
                "llm_url": llm_url,
                "mqtt_url": SecretStr(broker.url),
                "mqtt_client_id": f"{run}-service",
                "mqtt_reconnect_max_seconds": 1.0,
                "frigate_topic_prefix": f"{run}/frigate",
                "ha_discovery_prefix": f"{run}/homeassistant",
                "ha_state_prefix": f"{run}/nemotron",
                "timezone": "Europe/Paris",
                "notify_urls": [SecretStr(sink.url)],
                "notify_min_level": "high",
                "notify_quiet_hours": f"{start}-{end}" if quiet else None,
                # only Frigate's review ends may close these batches: an idle timeout would hide a missed one
                "batch_idle_seconds": 3600.0,
                "batch_window_seconds": 7200.0,
            }
        )
        app = create_app(settings)
        with TestClient(app) as client:
            services: AppServices = app.state.services
            integrations = services.integrations
            assert integrations is not None and integrations.link is not None and integrations.frigate is not None
            link, frigate = integrations.link, integrations.frigate
            delivered: list[MQTTMessage] = []

            async def record(message: MQTTMessage) -> None:  # after the ingest's own handler, in the same order
                delivered.append(message)

            link.subscribe(f"{run}/frigate/#", record)
            _wait(lambda: link.connected, "the service's MQTT connection")
            assert client.put("/api/household", json=HOUSEHOLD).status_code == 200

            killed_at = len(session.messages) // 2

            async def maybe_restart(index: int, topic: str, payload: dict[str, Any]) -> None:
                if restart and index == killed_at:
                    broker.kill()  # no clean shutdown: whatever the broker had not saved is gone
                    await asyncio.sleep(1.0)
                    broker.start()
                    # Frigate goes on once the broker is back; our link comes back on its own backoff. A message
                    # sent before it has subscribed again is queued for its session (if the broker saved that
                    # session before the kill): wait for the link, so that what follows is certainly delivered
                    await asyncio.to_thread(_wait, lambda: link.connects >= 2 and link.connected, "the link back")

            reconnects = asyncio.run(publish(broker.url, session.messages, on_sent=maybe_restart))
            if restart:
                assert reconnects >= 1
                _wait(lambda: link.connects >= 2, "the service's reconnect")
            expected_frames = session.frames_expected()

            last_review_end = session.messages[-1]
            assert last_review_end[1]["type"] == "end"
            _wait(
                lambda: any(
                    m.topic.endswith("/reviews") and m.payload == json.dumps(last_review_end[1]).encode()
                    for m in list(delivered)
                ),
                "the last review's end to be delivered",
            )
            assert client.portal is not None
            client.portal.call(link.drain)
            client.portal.call(frigate.drain)

            def settled() -> bool:
                items = client.get("/api/events", params={"limit": 200}).json()["events"]
                return bool(items) and all(e["status"] == "assessed" for e in items)

            _wait(settled, "every event assessed")
            client.portal.call(services.batcher.drain)
            client.portal.call(frigate.drain)
            _wait(settled, "every re-assessment done")
            assert integrations.notifier is not None
            client.portal.call(integrations.notifier.drain)

            # --- every Frigate frame the broker delivered is stored once; false positives never -----------------
            stats = frigate.stats()
            delivered_frames = {
                (payload["after"]["id"], round(payload["after"]["frame_time"], 6))
                for m in delivered
                if m.topic.endswith("/events")
                for payload in [json.loads(m.payload)]
                if not payload["after"].get("false_positive")
            }
            assert delivered_frames <= expected_frames
            if not restart:
                assert delivered_frames == expected_frames
            with_keys = {f"{obj}:{frame_time:.6f}" for obj, frame_time in delivered_frames}
            stored = client.portal.call(_stored_detection_ids, services)
            assert len(stored) == len(set(stored))  # nothing twice
            assert with_keys <= set(stored), sorted(with_keys - set(stored))  # nothing delivered is lost
            assert not any(fp in key for fp in session.false_positive_ids for key in stored)
            assert stats["false_positives"] >= 1 and stats["duplicates"] >= 3  # the repeats were seen and skipped
            assert stats["errors"] == 0 and stats["malformed"] == 0

            # --- batches closed by Frigate's review ends (the idle timeout is an hour) ---------------------------
            events = client.get("/api/events", params={"limit": 200}).json()["events"]
            batch_events = [e for e in events if e["kind"] == "batch"]
            # a review's end the broker lost in the kill (acknowledged to Frigate, not yet saved) leaves its batch to
            # the idle timeout: the cameras whose review ended here are those whose end was delivered
            ended = {
                payload["after"]["camera"]
                for m in delivered
                if m.topic.endswith("/reviews")
                for payload in [json.loads(m.payload)]
                if payload["type"] == "end"
            }
            assert restart or ended == {"front_door", "driveway", "side_gate", "backyard"}
            assert {e["camera_id"] for e in batch_events} == ended
            assert stats["batches_closed_by_review"] >= len(ended)
            by_camera = {
                camera: [e for e in batch_events if e["camera_id"] == camera]
                for camera in ("front_door", "driveway", "side_gate", "backyard")
            }

            # --- verdicts carry Frigate's zones and faces --------------------------------------------------------
            backyard = max(by_camera["backyard"], key=lambda e: e["risk_score"])
            factors = " ".join(str(f) for f in backyard["risk_factors"]).lower()
            assert "entry point" in factors or "back door" in factors, backyard["risk_factors"]
            assert _at_least(backyard["risk_level"], RiskLevel.HIGH), backyard
            driveway = by_camera["driveway"][0]
            assert (
                "alice" in " ".join(str(f) for f in driveway["risk_factors"]).lower()
                or "household" in " ".join(str(f) for f in driveway["risk_factors"]).lower()
            ), driveway["risk_factors"]
            assert not _at_least(driveway["risk_level"], RiskLevel.HIGH), driveway

            # --- Home Assistant: retained discovery per camera, states of the latest events -----------------------
            retained = asyncio.run(_retained(broker.port, [f"{run}/homeassistant/#", f"{run}/nemotron/#"]))
            configs = {t: json.loads(p) for t, p in retained.items() if t.endswith("/config")}
            assert len(configs) == 4, sorted(configs)
            assert retained.get(f"{run}/nemotron/availability") == b"online"
            level_topics = {t: p.decode() for t, p in retained.items() if t.endswith("/level")}
            assert len(level_topics) == 4
            latest = {
                camera: max(
                    (e for e in events if e["camera_id"] == camera),
                    key=lambda e: (e["started_at"], e["id"]),
                )
                for camera in by_camera
            }
            for camera, event in latest.items():
                topic = next(t for t in level_topics if f"/{camera}/" in t)
                assert level_topics[topic] == event["risk_level"], (camera, level_topics[topic], event)

            # --- notifications: one per incident at or above the level; none below critical in quiet hours ---------
            notified = [item for item in sink.received if not str(item.get("title", "")).startswith("Update")]
            alarming = {e["camera_id"] for e in events if _at_least(e["risk_level"], RiskLevel.HIGH)}
            if quiet:
                assert all("CRITICAL" in str(item.get("title", "")) for item in sink.received), sink.received
                critical = {e["camera_id"] for e in events if e["risk_level"] == RiskLevel.CRITICAL}
                assert len(notified) == len(critical)
            else:
                assert alarming, "the night visitor should have raised an alarm"
                titles = [str(item["title"]) for item in notified]
                for camera in alarming:
                    name = camera.replace("_", " ").lower()
                    assert sum(name in title.lower() for title in titles) == 1, (camera, titles)
                assert len(notified) == len(alarming)


async def _stored_detection_ids(services: AppServices) -> list[str]:
    async with services.sessions() as session:
        return list(await session.scalars(select(Detection.detection_id)))
