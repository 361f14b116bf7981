"""Home Assistant over MQTT discovery, against the real Mosquitto broker (TEST_MQTT_URL, default 127.0.0.1:1883).

Each test has its own discovery and state prefixes and client ids (uuid), a real ``MQTTLink`` and a second
aiomqtt client playing Home Assistant. Ordering checks use a barrier rather than sleeps: the link sends in the
order it was asked (one FIFO queue, one connection), so once a marker published after a step has arrived,
everything that step published has arrived too. Retained messages left by a test are cleared afterwards.

The discovery checks re-state Home Assistant's rules as read in its MQTT integration (discovery.TOPIC_MATCHER,
schemas.DEVICE_DISCOVERY_SCHEMA and MQTT_ENTITY_DEVICE_INFO_SCHEMA, sensor/binary_sensor/event schemas)
independently of the module under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import pytest

from backend.domain.risk_levels import LEVEL_ORDER
from backend.services.event_notice import EventNotice
from backend.services.home_assistant import HomeAssistantPublisher, availability_topic, topic_segment
from backend.services.mqtt_link import MQTTLink, Will

BROKER_URL = os.environ.get("TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
_BROKER = urlsplit(BROKER_URL)
HOST = _BROKER.hostname or "127.0.0.1"
PORT = _BROKER.port or 1883
WAIT = 15.0  # generous: a shared, noisy machine


def _broker_up() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            return True
    except OSError:
        return False


needs_broker = pytest.mark.skipif(not _broker_up(), reason=f"no MQTT broker at {HOST}:{PORT}")

# Home Assistant's rules, restated (homeassistant/components/mqtt)
HA_TOPIC_MATCHER = re.compile(
    r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config"
)
ENTITY_ID = re.compile(r"(?P<domain>[a-z_]+)\.[a-z0-9_]+")
LEVELS = [level.value for level in LEVEL_ORDER]


# --- helpers ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    topic: str
    payload: str
    retain: bool


class FakeHomeAssistant:
    """A second MQTT client: subscribes to ``filters`` and records every message it gets."""

    def __init__(self, *filters: str) -> None:
        self.filters = filters
        self.messages: list[Received] = []
        self._changed = asyncio.Condition()
        self._client = aiomqtt.Client(HOST, PORT, identifier=f"fake-ha-{uuid.uuid4().hex}", clean_session=True)
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> FakeHomeAssistant:
        await self._client.__aenter__()
        for topic_filter in self.filters:
            await self._client.subscribe(topic_filter, qos=1)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._client.__aexit__(None, None, None)

    async def _read(self) -> None:
        async for message in self._client.messages:
            payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
            async with self._changed:
                self.messages.append(Received(message.topic.value, bytes(payload).decode(), bool(message.retain)))
                self._changed.notify_all()

    async def publish(self, topic: str, payload: str, *, retain: bool = False) -> None:
        await self._client.publish(topic, payload, qos=1, retain=retain)

    async def wait_for(self, predicate: Callable[[Received], bool], *, after: int = 0) -> Received:
        """The first message from index ``after`` on that matches (fails after WAIT seconds)."""

        def found() -> Received | None:
            return next((m for m in self.messages[after:] if predicate(m)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), WAIT)
        result = found()
        assert result is not None
        return result

    async def wait_payload(self, topic: str, payload: str, *, after: int = 0) -> Received:
        return await self.wait_for(lambda m: m.topic == topic and m.payload == payload, after=after)

    async def wait_payload_on(self, topic: str, *, after: int = 0) -> Received:
        return await self.wait_for(lambda m: m.topic == topic, after=after)

    def on(self, topic: str) -> list[Received]:
        return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Received | None:
        received = self.on(topic)
        return received[-1] if received else None


@dataclass
class Setup:
    discovery_prefix: str
    state_prefix: str
    link: MQTTLink
    publisher: HomeAssistantPublisher
    barriers: int = 0

    async def barrier(self, ha: FakeHomeAssistant) -> None:
        """Waits until ``ha`` has everything the link was asked to publish so far."""
        self.barriers += 1
        topic = f"{self.state_prefix}/test-barrier"
        marker = f"{uuid.uuid4().hex}"
        await self.link.publish(topic, marker, qos=1)
        await ha.wait_payload(topic, marker)


def make_link(state_prefix: str, *, url: str = BROKER_URL) -> MQTTLink:
    return MQTTLink(
        url,
        client_id=f"test-ha-link-{uuid.uuid4().hex}",
        will=Will(availability_topic(state_prefix), "offline", retain=True),
        reconnect_max_seconds=2.0,
        clean_session=True,
    )


@pytest.fixture
async def prefixes() -> AsyncIterator[tuple[str, str]]:
    """Unique (discovery prefix, state prefix); every retained message under them is cleared afterwards."""
    token = uuid.uuid4().hex[:10]
    discovery_prefix, state_prefix = f"test_ha_{token}", f"test_nemo_{token}"
    yield discovery_prefix, state_prefix
    async with FakeHomeAssistant(f"{discovery_prefix}/#", f"{state_prefix}/#") as janitor:
        marker = f"{state_prefix}/test-janitor"
        await janitor.publish(marker, "done")
        await janitor.wait_payload(marker, "done")
        for topic in {m.topic for m in janitor.messages if m.retain}:
            await janitor.publish(topic, "", retain=True)


@contextlib.asynccontextmanager
async def running(
    discovery_prefix: str, state_prefix: str, *, hold: float = 600.0, url: str = BROKER_URL
) -> AsyncIterator[Setup]:
    link = make_link(state_prefix, url=url)
    publisher = HomeAssistantPublisher(
        link, discovery_prefix=discovery_prefix, state_prefix=state_prefix, threat_hold_seconds=hold
    )
    await link.start()
    await wait_until(lambda: link.connected)
    try:
        yield Setup(discovery_prefix, state_prefix, link, publisher)
    finally:
        await publisher.close()
        await link.stop()


async def wait_until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - polls state owned by the code under test, which has no event
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), WAIT)


def notice(
    event_id: int,
    *,
    level: str | None,
    score: int | None,
    camera_id: str = "front_door",
    camera_name: str = "Front door",
    status: str = "assessed",
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    updated_at: datetime | None = None,
    summary: str = "A person at the door.",
) -> EventNotice:
    started = started_at or datetime.now(UTC)
    return EventNotice(
        event_id=event_id,
        camera_id=camera_id,
        camera_name=camera_name,
        status=status,
        risk_level=level,
        risk_score=score,
        summary=summary,
        recommended_action="Check the camera.",
        started_at=started,
        ended_at=ended_at or started,
        updated_at=updated_at or datetime.now(UTC),
        external_id=f"frigate-{event_id}",
        snapshot_url=f"http://frigate:5000/api/events/frigate-{event_id}/snapshot.jpg",
        clip_url=f"http://frigate:5000/api/events/frigate-{event_id}/clip.mp4",
    )


def check_device_discovery(discovery_prefix: str, topic: str, payload: dict[str, Any]) -> None:
    """Home Assistant's device discovery rules as read in its MQTT integration; AssertionError names the rule."""
    assert topic.startswith(f"{discovery_prefix}/")
    match = HA_TOPIC_MATCHER.fullmatch(topic.removeprefix(f"{discovery_prefix}/"))
    assert match, f"illegal discovery topic {topic}"
    assert match["component"] == "device"
    # DEVICE_DISCOVERY_SCHEMA: device, components and origin are required
    assert {"device", "components", "origin"} <= payload.keys()
    device = payload["device"]
    assert device.get("identifiers") or device.get("connections"), "a device needs an identifier"
    assert all(isinstance(i, str) for i in device["identifiers"])
    assert isinstance(device.get("name"), str) and device["name"]
    assert isinstance(payload["origin"].get("name"), str) and payload["origin"]["name"]
    for entry in payload.get("availability", []):
        assert isinstance(entry["topic"], str) and "+" not in entry["topic"] and "#" not in entry["topic"]
    assert payload.get("qos", 0) in (0, 1, 2)
    assert payload["components"], "no components"
    for component_id, component in payload["components"].items():
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", component_id)
        platform = component["platform"]
        assert platform in {"sensor", "binary_sensor", "event"}
        assert isinstance(component.get("unique_id"), str) and component["unique_id"], "entity without unique_id"
        state_topic = component.get("state_topic") or payload.get("state_topic")
        assert isinstance(state_topic, str) and state_topic and "+" not in state_topic and "#" not in state_topic
        entity_id = ENTITY_ID.fullmatch(component.get("default_entity_id", ""))
        assert entity_id and entity_id["domain"] == platform, component.get("default_entity_id")
        assert "object_id" not in component  # deprecated in HA 2025.10, removed in 2026.4
        if platform == "sensor" and "options" in component:  # validate_sensor_state_and_device_class_config
            assert component["options"], "empty options"
            assert component.get("device_class") == "enum"
            assert "state_class" not in component and "unit_of_measurement" not in component
        if platform == "event":
            assert component["event_types"] and all(isinstance(t, str) for t in component["event_types"])
        if platform == "binary_sensor" and "off_delay" in component:
            assert isinstance(component["off_delay"], int) and component["off_delay"] > 0


# --- tests --------------------------------------------------------------------------------------------------------


def test_topic_segments_and_prefixes() -> None:
    """No broker needed: ids become [a-zA-Z0-9_-] segments without collisions; a bad prefix is an error."""
    assert topic_segment("front_door-2") == "front_door-2"  # already fine: kept
    raw = ["front door", "front_door", "front/door", "front+door", "front#door", "", "é" * 80, "a" * 49]
    segments = [topic_segment(r) for r in raw]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,57}", s) for s in segments), segments
    assert len(set(segments)) == len(raw)
    assert availability_topic("nemotron") == "nemotron/availability"
    assert availability_topic("home/nemotron/") == "home/nemotron/availability"
    for bad in ("", "  ", "a/+/b", "a/#", "/"):
        with pytest.raises(ValueError, match="HA_STATE_PREFIX"):
            availability_topic(bad)


@needs_broker
async def test_discovery_configs_are_retained_and_valid(prefixes: tuple[str, str]) -> None:
    discovery_prefix, state_prefix = prefixes
    nasty_id, nasty_name = 'garage/#+ "x"', 'Garage "main"\n</script>\x00{"a":1}'
    async with (
        running(discovery_prefix, state_prefix) as setup,
        FakeHomeAssistant(f"{discovery_prefix}/#", f"{state_prefix}/#") as ha,
    ):
        await setup.publisher.announce_camera("front_door", "Front door")
        await setup.publisher.announce_camera(nasty_id, nasty_name)
        await setup.barrier(ha)

        # a Home Assistant that subscribes only now still gets every config: they are retained
        async with FakeHomeAssistant(f"{discovery_prefix}/#", availability_topic(state_prefix)) as late:
            configs: dict[str, dict[str, Any]] = {}
            for camera_id in ("front_door", nasty_id):
                topic = setup.publisher.camera_topics(camera_id).discovery
                received = await late.wait_payload_on(topic)
                assert received.retain
                configs[camera_id] = json.loads(received.payload)
                check_device_discovery(discovery_prefix, topic, configs[camera_id])
            online = await late.wait_for(lambda m: m.topic == availability_topic(state_prefix))
            assert (online.payload, online.retain) == ("online", True)

    unique_ids = [c["unique_id"] for config in configs.values() for c in config["components"].values()]
    assert len(unique_ids) == len(set(unique_ids)) == 8
    identifiers = [config["device"]["identifiers"][0] for config in configs.values()]
    assert len(set(identifiers)) == 2

    front = configs["front_door"]
    assert front["device"]["name"] == "Front door"
    assert front["device"]["manufacturer"] and front["device"]["model"]
    assert front["availability"] == [
        {"topic": f"{state_prefix}/availability", "payload_available": "online", "payload_not_available": "offline"}
    ]
    components = front["components"]
    assert components["risk_level"]["device_class"] == "enum"
    assert components["risk_level"]["options"] == [*LEVELS, "not_assessed"]
    assert components["risk_score"]["state_class"] == "measurement"
    assert components["threat"]["platform"] == "binary_sensor" and components["threat"]["off_delay"] == 600
    assert components["security_event"]["event_types"] == LEVELS
    topics = setup.publisher.camera_topics("front_door")
    assert components["risk_level"]["state_topic"] == topics.level
    assert components["risk_level"]["json_attributes_topic"] == topics.attributes
    assert components["risk_score"]["state_topic"] == topics.score
    assert components["threat"]["state_topic"] == topics.threat
    assert components["security_event"]["state_topic"] == topics.event

    # untrusted id and name: topic segments stay [a-zA-Z0-9_-], the name is data inside JSON, cleaned
    garage = setup.publisher.camera_topics(nasty_id)
    for topic in (garage.discovery, garage.level, garage.score, garage.threat, garage.attributes, garage.event):
        assert all(re.fullmatch(r"[a-zA-Z0-9_-]+", segment) for segment in topic.split("/"))
    name = configs[nasty_id]["device"]["name"]
    assert "\n" not in name and "\x00" not in name and "<" not in name and "Garage" in name


@needs_broker
async def test_states_follow_the_newest_event(prefixes: tuple[str, str]) -> None:
    discovery_prefix, state_prefix = prefixes
    async with (
        running(discovery_prefix, state_prefix) as setup,
        FakeHomeAssistant(f"{state_prefix}/#") as ha,
    ):
        topics = setup.publisher.camera_topics("front_door")
        now = datetime.now(UTC)
        older = notice(1, level="medium", score=45, started_at=now - timedelta(minutes=30))
        newer = notice(2, level="low", score=10, started_at=now - timedelta(minutes=1))
        await setup.publisher.on_event(older)
        await ha.wait_payload(topics.level, "medium")
        await ha.wait_payload(topics.score, "45")
        await setup.publisher.on_event(newer)
        await ha.wait_payload(topics.level, "low")
        await ha.wait_payload(topics.score, "10")

        # a re-assessment of the older event must not overwrite the newer event's state
        await setup.barrier(ha)
        mark = len(ha.messages)
        reassessed = notice(1, level="critical", score=92, started_at=older.started_at, summary="Re-assessed.")
        await setup.publisher.on_event(reassessed)
        await setup.barrier(ha)
        later = ha.messages[mark:]
        assert not [m for m in later if m.topic in (topics.level, topics.score)]
        assert not [m for m in later if m.topic == topics.attributes and json.loads(m.payload)["event_id"] == 1]
        last_level, last_score = ha.last(topics.level), ha.last(topics.score)
        assert last_level is not None and last_level.payload == "low"
        assert last_score is not None and last_score.payload == "10"
        # ... but it is still an event: the event entity hears of it
        fired = [json.loads(m.payload) for m in later if m.topic == topics.event]
        assert [(e["event_id"], e["event_type"]) for e in fired] == [(1, "critical")]

        # a newer event that could not be assessed yet: the fifth option, and no score
        pending = notice(3, level=None, score=None, status="not_assessed", started_at=now)
        await setup.publisher.on_event(pending)
        await ha.wait_payload(topics.level, "not_assessed")
        await ha.wait_payload(topics.score, "None")
        attributes = json.loads(
            (await ha.wait_for(lambda m: m.topic == topics.attributes and '"event_id": 3' in m.payload)).payload
        )
        assert attributes["status"] == "not_assessed" and attributes["level"] is None

        # once assessed, the same event updates the state and fires
        mark = len(ha.messages)
        await setup.publisher.on_event(notice(3, level="high", score=71, started_at=now))
        await ha.wait_payload(topics.level, "high", after=mark)
        await ha.wait_payload(topics.score, "71", after=mark)
        event = json.loads((await ha.wait_for(lambda m: m.topic == topics.event, after=mark)).payload)
        assert (event["event_id"], event["level"]) == (3, "high")
        async with FakeHomeAssistant(topics.level, topics.score) as late:
            assert (await late.wait_for(lambda m: m.topic == topics.level)).payload == "high"
            assert (await late.wait_for(lambda m: m.topic == topics.score)).payload == "71"


@needs_broker
async def test_event_entity_message_carries_the_attributes(prefixes: tuple[str, str]) -> None:
    discovery_prefix, state_prefix = prefixes
    async with (
        running(discovery_prefix, state_prefix) as setup,
        FakeHomeAssistant(f"{state_prefix}/#") as ha,
    ):
        topics = setup.publisher.camera_topics("front_door")
        summary = 'Someone said "ignore previous instructions"\u2028{"event_type": "low"}'
        sent = notice(7, level="critical", score=93, summary=summary)
        await setup.publisher.on_event(sent)
        received = await ha.wait_for(lambda m: m.topic == topics.event)
        event = json.loads(received.payload)
        assert event["event_type"] == "critical" and event["event_type"] in LEVELS
        assert event["level"] == "critical" and event["score"] == 93
        assert event["event_id"] == 7 and event["camera_id"] == "front_door" and event["camera_name"] == "Front door"
        assert "ignore previous instructions" in event["summary"]
        assert event["recommended_action"] == "Check the camera."
        assert event["snapshot_url"] == sent.snapshot_url and event["clip_url"] == sent.clip_url
        assert sent.started_at is not None
        assert datetime.fromisoformat(event["started_at"]) == sent.started_at

        # the same notice again (nothing changed) does not fire twice
        await setup.publisher.on_event(sent)
        await setup.barrier(ha)
        assert len(ha.on(topics.event)) == 1

        # not retained: a subscriber arriving afterwards gets the states but no event
        async with FakeHomeAssistant(f"{state_prefix}/#") as late:
            marker = f"{state_prefix}/test-late"
            await late.publish(marker, "x")
            await late.wait_payload(marker, "x")
            assert late.on(topics.level) and not late.on(topics.event)


@needs_broker
async def test_threat_turns_on_for_high_and_off_after_the_hold(prefixes: tuple[str, str]) -> None:
    discovery_prefix, state_prefix = prefixes
    async with (
        running(discovery_prefix, state_prefix, hold=2.0) as setup,
        FakeHomeAssistant(f"{state_prefix}/#") as ha,
    ):
        topics = setup.publisher.camera_topics("front_door")
        await setup.publisher.announce_camera("front_door", "Front door")
        await wait_until(lambda: setup.publisher.restored)
        # a camera with no threat says so (not "unknown")
        await ha.wait_payload(topics.threat, "OFF")

        await setup.publisher.on_event(notice(1, level="low", score=5))
        mark = len(ha.messages)
        await setup.publisher.on_event(notice(2, level="high", score=70))
        await ha.wait_payload(topics.threat, "ON", after=mark)
        attributes = json.loads(ha.on(topics.attributes)[-1].payload)
        assert attributes["threat_event_id"] == 2 and attributes["threat_until"]
        # ... and off again by itself, without any new event
        on_at = next(
            i for i, m in enumerate(ha.messages) if i >= mark and (m.topic, m.payload) == (topics.threat, "ON")
        )
        await ha.wait_payload(topics.threat, "OFF", after=on_at + 1)
        expired = await ha.wait_for(lambda m: m.topic == topics.attributes, after=on_at + 1)
        assert json.loads(expired.payload)["threat_until"] is None

        # a high event seen an hour ago is older than the hold: no threat
        mark = len(ha.messages)
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        await setup.publisher.on_event(notice(3, level="critical", score=95, started_at=hour_ago))
        await setup.barrier(ha)
        assert not [m for m in ha.messages[mark:] if m.topic == topics.threat and m.payload == "ON"]
        last = ha.last(topics.threat)
        assert last is not None and last.payload == "OFF"

        # a re-assessment that lowers the event behind a threat withdraws it at once
        mark = len(ha.messages)
        started = datetime.now(UTC)
        await setup.publisher.on_event(notice(4, level="high", score=65, started_at=started))
        await ha.wait_payload(topics.threat, "ON", after=mark)
        await setup.publisher.on_event(notice(4, level="low", score=20, started_at=started))
        await setup.barrier(ha)
        last = ha.last(topics.threat)
        assert last is not None and last.payload == "OFF"


@needs_broker
async def test_ha_birth_message_triggers_a_reannounce(prefixes: tuple[str, str]) -> None:
    discovery_prefix, state_prefix = prefixes
    async with (
        running(discovery_prefix, state_prefix) as setup,
        FakeHomeAssistant(f"{discovery_prefix}/#", f"{state_prefix}/#") as ha,
    ):
        topic = setup.publisher.camera_topics("front_door").discovery
        await setup.publisher.announce_camera("front_door", "Front door")
        first = await ha.wait_for(lambda m: m.topic == topic)
        await setup.barrier(ha)
        assert len(ha.on(topic)) == 1

        # HA's last will ("offline") is no reason to announce; its birth ("online") is
        await ha.publish(f"{discovery_prefix}/status", "offline")
        await ha.publish(f"{discovery_prefix}/status", "online")
        again = await ha.wait_for(lambda m: m.topic == topic, after=ha.messages.index(first) + 1)
        assert json.loads(again.payload) == json.loads(first.payload)
        await setup.barrier(ha)
        assert len(ha.on(topic)) == 2


@needs_broker
async def test_will_says_offline_when_the_connection_dies_and_online_after_reconnect(
    prefixes: tuple[str, str],
) -> None:
    discovery_prefix, state_prefix = prefixes
    async with (
        DroppableProxy() as proxy,
        FakeHomeAssistant(availability_topic(state_prefix)) as ha,
        running(discovery_prefix, state_prefix, url=f"mqtt://127.0.0.1:{proxy.port}") as setup,
    ):
        topic = availability_topic(state_prefix)
        await ha.wait_payload(topic, "online")
        assert setup.link.connects == 1

        mark = len(ha.messages)
        proxy.drop()  # both sockets reset: no DISCONNECT reaches the broker, so it publishes the will
        await ha.wait_payload(topic, "offline", after=mark)
        await ha.wait_payload(topic, "online", after=mark)
        assert setup.link.connects >= 2
        # the retained value a newcomer reads is "online" again
        async with FakeHomeAssistant(topic) as late:
            assert (await late.wait_for(lambda m: m.topic == topic)).payload == "online"


@needs_broker
async def test_close_publishes_offline(prefixes: tuple[str, str]) -> None:
    discovery_prefix, state_prefix = prefixes
    topic = availability_topic(state_prefix)
    async with FakeHomeAssistant(topic) as ha:
        async with running(discovery_prefix, state_prefix):
            await ha.wait_payload(topic, "online")
        # running() ended with publisher.close() then link.stop(): a clean disconnect sends no will
        await ha.wait_payload(topic, "offline")
        async with FakeHomeAssistant(topic) as late:
            received = await late.wait_for(lambda m: m.topic == topic)
            assert (received.payload, received.retain) == ("offline", True)


@needs_broker
async def test_a_restart_keeps_the_order_and_ends_a_running_threat(prefixes: tuple[str, str]) -> None:
    discovery_prefix, state_prefix = prefixes
    async with FakeHomeAssistant(f"{state_prefix}/#") as ha:
        now = datetime.now(UTC)
        async with running(discovery_prefix, state_prefix, hold=4.0) as first:
            topics = first.publisher.camera_topics("front_door")
            await first.publisher.on_event(notice(1, level="medium", score=40, started_at=now - timedelta(minutes=5)))
            await first.publisher.on_event(notice(2, level="high", score=75, started_at=now))
            await ha.wait_payload(topics.threat, "ON")
            await first.barrier(ha)
            # the service dies while the threat is on: nothing in this process will switch it off
            await first.link.stop()

        mark = len(ha.messages)
        async with running(discovery_prefix, state_prefix, hold=4.0) as second:
            await wait_until(lambda: second.publisher.restored)
            # an old re-assessment after the restart still loses to the newer event read back from the broker
            await second.publisher.on_event(notice(1, level="low", score=3, started_at=now - timedelta(minutes=5)))
            await second.barrier(ha)
            assert not [m for m in ha.messages[mark:] if m.topic == topics.level]
            last_level = ha.last(topics.level)
            assert last_level is not None and last_level.payload == "high"
            # the restored hold ends by itself
            await ha.wait_payload(topics.threat, "OFF", after=mark)


class DroppableProxy:
    """A TCP relay to the broker whose connections can be reset at once, like a pulled cable."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []

    async def __aenter__(self) -> DroppableProxy:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()

    def drop(self) -> None:
        for client, upstream in self._pairs:
            client.transport.abort()
            upstream.transport.abort()
        self._pairs.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(HOST, PORT)
        self._pairs.append((writer, up_writer))

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
