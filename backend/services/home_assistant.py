"""Home Assistant over MQTT discovery: every camera appears in Home Assistant as a device, with no YAML.

Published over the service's one MQTT connection (``backend.services.mqtt_link.MQTTLink``). Home Assistant's
rules are from its MQTT documentation (home-assistant.io/integrations/mqtt, "MQTT Discovery") and, where the
page is thin, from the integration's source (homeassistant/components/mqtt: ``discovery.py``, ``schemas.py``,
``sensor.py``, ``binary_sensor.py``, ``event.py``).

**Discovery: device-based** (HA 2024.11+, "Device discovery payload"). One retained message per camera on
``<HA_DISCOVERY_PREFIX>/device/<ns>_<camera>/config`` carries the device, the origin and all four components,
so a camera's entities appear (and could be removed: an empty retained payload) together, and the shared
``availability`` / ``qos`` are given once. Older Home Assistant versions ignore the ``device`` topic. The
payload (``DeviceDiscovery``)::

    {"device": {"identifiers": ["<ns>_<camera>"], "name": <camera name>, "manufacturer": ..., "model": ...},
     "origin": {"name": "nemotron-risk-service", "sw_version": ...},
     "availability": [{"topic": "<HA_STATE_PREFIX>/availability"}], "qos": 1,
     "components": {
        "risk_level":     sensor, device_class enum, options low/medium/high/critical/not_assessed,
                          json_attributes_topic: the latest event's details,
        "risk_score":     sensor, state_class measurement, no unit (a score 0-100 is dimensionless),
        "threat":         binary_sensor, device_class safety ("on means unsafe"), off_delay = hold,
        "security_event": event, event_types low/medium/high/critical}}

Each component has ``unique_id`` (``<ns>_<camera>_<component>``, unique per install and camera) and
``default_entity_id`` (``<platform>.<ns>_<camera>_<component>``: HA 2025.10 replaced ``object_id`` with it;
older versions ignore it and name entities from device + entity name). ``<ns>`` is HA_STATE_PREFIX as a topic
segment, so two installs on one broker stay apart.

**Topics and payloads** (``<sp>`` = HA_STATE_PREFIX, ``<cam>`` = the camera id as a topic segment):

* ``<sp>/availability``: ``online`` / ``offline``, retained. "online" from every connect; "offline" from
  ``close()`` and, when the connection dies, from the broker (the link's last will, ``availability_topic``).
* ``<sp>/camera/<cam>/level``: ``low|medium|high|critical|not_assessed``, retained. ``not_assessed`` is our
  fifth option: the camera's latest event has no level (the LLM was unreachable and the event waits for a
  re-assessment, or its assessment failed for good; ``status`` in the attributes says which). Home Assistant's
  own ``unknown`` is left for "no event seen yet", so the two cannot be confused.
* ``<sp>/camera/<cam>/score``: ``0``..``100``, or ``None`` (HA's "no value" payload) when not assessed.
* ``<sp>/camera/<cam>/attributes``: JSON (``CameraState``), retained: the latest event (id, status, level,
  score, summary, recommended action, started/ended/updated times, snapshot and clip links) and the threat
  hold (``threat_event_id``, ``threat_until``).
* ``<sp>/camera/<cam>/threat``: ``ON`` / ``OFF``, retained.
* ``<sp>/camera/<cam>/event``: JSON (``EventMessage``), **not** retained (HA's MQTT event entity ignores
  retained messages: an event is an instant), QoS 1: ``{"event_type": <level>, "level", "score", "summary",
  "recommended_action", "started_at", "event_id", "snapshot_url", "clip_url", "camera_id", "camera_name"}``.

**Rules.**

* *Newest wins.* A camera's level/score/attributes follow its latest event, ordered by (``started_at``,
  event id, ``updated_at``): a re-assessment of an older event never overwrites a newer event's state (a newer
  assessment of the same event does).
* *Threat.* On while one of the camera's high or critical events (``LEVEL_ORDER`` from ``high`` up) is younger
  than HA_THREAT_HOLD_SECONDS, age counted from the event's ``ended_at`` (else ``started_at``; never later than
  now): the hold runs from the last moment the activity was seen. A re-assessment that lowers such an event
  withdraws it. We publish ``OFF`` ourselves when the hold runs out (a timer per camera), retained, so any late
  subscriber reads the truth; ``off_delay`` (the hold, rounded up) is Home Assistant's own backstop should our
  ``OFF`` never come. ``expire_after`` was rejected: on expiry it makes the entity *unavailable*, not off
  (binary_sensor.mqtt docs), and availability is already the will's job.
* *Event entity.* Fires when an event gets a level: a new assessed event, a not-assessed one once assessed, and
  again only if a re-assessment changes the level. Older events fire too (it is about the event, not the
  camera's state).
* *Restart.* Our own retained ``attributes`` topics are read back at connect (``CameraState``): the newest-wins
  order and a running threat hold survive a restart, and a threat left ``ON`` by a crash is switched off when
  its hold is over. Once the broker has replayed them (we publish a marker to ``<sp>/sync/<client id>`` and
  wait for it to come back), every camera without a threat gets an explicit ``OFF``, not "unknown".
* *Re-announce.* Discovery configs go out (retained) from ``announce_camera``, on a camera's first event, on
  every (re)connect, and when Home Assistant's birth message ``<HA_DISCOVERY_PREFIX>/status`` = ``online``
  arrives (HA MQTT docs, "Birth and last will messages"). On reconnect the current states are sent again too,
  so a broker that lost its retained messages is repaired.
* *Untrusted text.* Camera names, summaries and actions are cleaned (``sanitize_untrusted``: no control
  characters, bounded length) and every payload is built by ``json.dumps`` of a pydantic model; topic and id
  segments only use ``[a-zA-Z0-9_-]`` (HA's discovery topic rule): ``topic_segment``.

**Wiring.** ``__init__`` registers the subscriptions (HA status, our attributes, availability, sync marker) and
the ``on_connect`` callback on the link, so create the publisher *before* ``link.start()`` (MQTTLink subscribes
at connect time only). Errors: ``ValueError`` for a prefix that is empty or holds MQTT wildcards, or a hold that
is not positive; a lost connection never raises (``MQTTLink.publish`` queues until the next connect).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backend.config.settings import BackendSettings
from backend.domain.risk_levels import LEVEL_ORDER, RiskLevel
from backend.services.event_notice import EventNotice
from backend.services.mqtt_link import MQTTLink, MQTTMessage
from backend.services.text_safety import sanitize_untrusted

logger = logging.getLogger(__name__)

NOT_ASSESSED = "not_assessed"
LEVEL_OPTIONS: tuple[str, ...] = (*(level.value for level in LEVEL_ORDER), NOT_ASSESSED)
EVENT_TYPES: tuple[str, ...] = tuple(level.value for level in LEVEL_ORDER)
THREAT_LEVELS: frozenset[str] = frozenset(level.value for level in LEVEL_ORDER[LEVEL_ORDER.index(RiskLevel.HIGH) :])

PAYLOAD_ONLINE = "online"
PAYLOAD_OFFLINE = "offline"
PAYLOAD_ON = "ON"  # binary_sensor.mqtt defaults for payload_on / payload_off
PAYLOAD_OFF = "OFF"
PAYLOAD_NONE = "None"  # sensor.mqtt: this payload clears the value (state "unknown")

SERVICE_PACKAGE = "nemotron-risk-service"
MANUFACTURER = "Nemotron risk service"
MODEL = "LLM camera risk assessment"
NAME_MAX = 100
TEXT_MAX = 1000
CLOSE_CONFIRM_SECONDS = 5.0
FIRED_MEMORY = 4096  # (event id, level) pairs remembered so an event fires once per level

_SEGMENT_OK = re.compile(r"[A-Za-z0-9_-]+")
_SEGMENT_BAD = re.compile(r"[^A-Za-z0-9_-]+")
_ENTITY_BAD = re.compile(r"[^a-z0-9]+")
_MIN_TIME = datetime.min.replace(tzinfo=UTC)


# --- names and topics ------------------------------------------------------------------------------------------


def topic_segment(raw: str, max_len: int = 48) -> str:
    """``raw`` as one MQTT topic / HA id segment of ``[a-zA-Z0-9_-]`` (HA MQTT docs, "Discovery topic").

    A ``raw`` that already fits is kept as is; anything else is cleaned and suffixed with 8 hex digits of its
    SHA-256, so two ids that clean to the same text ("front door", "front_door") still get different segments.
    """
    if _SEGMENT_OK.fullmatch(raw) and len(raw) <= max_len:
        return raw
    cleaned = _SEGMENT_BAD.sub("_", raw).strip("_")[:max_len] or "x"
    return f"{cleaned}-{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:8]}"


def _entity_slug(segment: str) -> str:
    """An entity id's object part: lowercase ``[a-z0-9_]`` (what HA accepts in ``<domain>.<object>``)."""
    return _ENTITY_BAD.sub("_", segment.lower()).strip("_") or "x"


def _check_prefix(prefix: str, what: str) -> str:
    cleaned = prefix.strip().strip("/")
    if not cleaned or any(ch in cleaned for ch in "+#\x00"):
        raise ValueError(f"{what} must be a non-empty MQTT topic without wildcards, got {prefix!r}")
    return cleaned


def availability_topic(state_prefix: str) -> str:
    """``<state_prefix>/availability``: where ``online`` / ``offline`` (retained) say whether we are up.

    The lead builds the link's last will from it: ``Will(availability_topic(prefix), "offline", retain=True)``.
    Raises ValueError for an empty prefix or one with MQTT wildcards.
    """
    return f"{_check_prefix(state_prefix, 'HA_STATE_PREFIX')}/availability"


@dataclass(frozen=True)
class CameraTopics:
    """Every topic and id of one camera (see the module docstring for the payloads)."""

    camera_id: str
    segment: str  # the camera id as a topic segment
    node: str  # <ns>_<segment>: the discovery object id and the device identifier
    discovery: str
    level: str
    score: str
    threat: str
    attributes: str
    event: str

    def unique_id(self, component: str) -> str:
        return f"{self.node}_{component}"

    def default_entity_id(self, platform: str, component: str) -> str:
        return f"{platform}.{_entity_slug(self.node)}_{component}"


# --- payloads (pydantic at the boundary) --------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json(self, *, drop_none: bool = True) -> str:
        """The JSON payload (``json.dumps``, never string building); ``drop_none`` leaves out unset options."""
        return json.dumps(self.model_dump(mode="json", exclude_none=drop_none), ensure_ascii=False, sort_keys=True)


class DeviceInfo(_Model):
    """HA ``device`` map (schemas.MQTT_ENTITY_DEVICE_INFO_SCHEMA): at least one identifier."""

    identifiers: Annotated[list[str], Field(min_length=1)]
    name: str
    manufacturer: str
    model: str
    sw_version: str | None = None


class OriginInfo(_Model):
    """HA ``origin`` map (schemas.MQTT_ORIGIN_INFO_SCHEMA): ``name`` required in device discovery."""

    name: str
    sw_version: str | None = None


class Availability(_Model):
    topic: str
    payload_available: str = PAYLOAD_ONLINE
    payload_not_available: str = PAYLOAD_OFFLINE


class _Component(_Model):
    unique_id: str
    default_entity_id: str
    name: str
    state_topic: str
    icon: str | None = None


class SensorComponent(_Component):
    """sensor.mqtt. ``options`` only with ``device_class: enum`` and then without ``state_class`` and
    ``unit_of_measurement`` (sensor.validate_sensor_state_and_device_class_config)."""

    platform: Literal["sensor"] = "sensor"
    device_class: Literal["enum"] | None = None
    options: list[str] | None = None
    state_class: Literal["measurement"] | None = None
    unit_of_measurement: str | None = None
    suggested_display_precision: int | None = None
    json_attributes_topic: str | None = None


class BinarySensorComponent(_Component):
    platform: Literal["binary_sensor"] = "binary_sensor"
    device_class: Literal["safety"] = "safety"
    payload_on: str = PAYLOAD_ON
    payload_off: str = PAYLOAD_OFF
    off_delay: Annotated[int, Field(ge=1)]


class EventComponent(_Component):
    """event.mqtt: ``event_types`` required; the state topic carries JSON with ``event_type``."""

    platform: Literal["event"] = "event"
    event_types: Annotated[list[str], Field(min_length=1)]


Component = Annotated[SensorComponent | BinarySensorComponent | EventComponent, Field(discriminator="platform")]


class DeviceDiscovery(_Model):
    """A device-based discovery payload (schemas.DEVICE_DISCOVERY_SCHEMA: device, origin, components)."""

    device: DeviceInfo
    origin: OriginInfo
    availability: list[Availability]
    qos: Literal[0, 1, 2] = 1
    components: dict[str, Component]


class CameraState(_Model):
    """The retained ``attributes`` of a camera: its latest event and its threat hold. Read back at connect."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    camera_id: str
    camera_name: str
    event_id: int
    status: str
    level: str | None = None
    score: int | None = None
    summary: str = ""
    recommended_action: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    updated_at: datetime | None = None
    snapshot_url: str | None = None
    clip_url: str | None = None
    threat_event_id: int | None = None
    threat_until: datetime | None = None

    def order_key(self) -> tuple[datetime, int, datetime]:
        return (self.started_at or _MIN_TIME, self.event_id, self.updated_at or _MIN_TIME)


class EventMessage(_Model):
    """What the ``event`` entity receives; every key but ``event_type`` becomes an attribute (event.mqtt)."""

    event_type: str
    level: str
    score: int | None
    summary: str
    recommended_action: str
    started_at: datetime | None
    event_id: int
    camera_id: str
    camera_name: str
    snapshot_url: str | None
    clip_url: str | None


# --- per-camera memory --------------------------------------------------------------------------------------------


@dataclass
class _Camera:
    topics: CameraTopics
    name: str
    announced: bool = False
    latest: CameraState | None = None
    holds: dict[int, datetime] = field(default_factory=dict)  # high/critical event id -> hold end
    threat_published: str | None = None  # last ON/OFF we published (None: not yet in this process)
    timer: asyncio.Task[None] | None = None

    def threat_until(self, now: datetime) -> tuple[int | None, datetime | None]:
        live = {event_id: until for event_id, until in self.holds.items() if until > now}
        self.holds = live
        if not live:
            return None, None
        event_id = max(live, key=lambda key: live[key])
        return event_id, live[event_id]


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _version() -> str | None:
    try:
        return metadata.version(SERVICE_PACKAGE)
    except metadata.PackageNotFoundError:
        return None


class HomeAssistantPublisher:
    """Publishes discovery configs, states and events for Home Assistant; see the module docstring.

    Create it before ``link.start()``: ``__init__`` registers its subscriptions and ``on_connect`` callback.
    """

    def __init__(
        self,
        link: MQTTLink,
        *,
        discovery_prefix: str = "homeassistant",
        state_prefix: str = "nemotron",
        threat_hold_seconds: float = 600.0,
    ) -> None:
        if not threat_hold_seconds > 0:
            raise ValueError(f"threat_hold_seconds must be > 0, got {threat_hold_seconds}")
        self._link = link
        self.discovery_prefix = _check_prefix(discovery_prefix, "HA_DISCOVERY_PREFIX")
        self.state_prefix = _check_prefix(state_prefix, "HA_STATE_PREFIX")
        self.hold = timedelta(seconds=threat_hold_seconds)
        self.namespace = topic_segment(self.state_prefix.replace("/", "_"))
        self.availability_topic = availability_topic(self.state_prefix)
        self.ha_status_topic = f"{self.discovery_prefix}/status"
        # per client id, not per process: with the link's persistent session a per-process topic would leave one
        # stale subscription in the broker per restart
        self._sync_topic = f"{self.state_prefix}/sync/{topic_segment(link.client_id)}"
        self._cameras: dict[str, _Camera] = {}
        self._fired: OrderedDict[tuple[int, str], None] = OrderedDict()
        self._lock = asyncio.Lock()
        self._restored = False
        self._offline_echo = asyncio.Event()
        self._closing = False
        self._origin = OriginInfo(name=SERVICE_PACKAGE, sw_version=_version())

        if link.connected:
            logger.warning("HomeAssistantPublisher created on a connected link: its subscriptions wait for a reconnect")
        link.subscribe(self.ha_status_topic, self._on_ha_status)
        link.subscribe(f"{self.state_prefix}/camera/+/attributes", self._on_own_attributes)
        link.subscribe(self.availability_topic, self._on_availability_echo)
        link.subscribe(self._sync_topic, self._on_sync)
        link.on_connect(self._on_connect)

    @classmethod
    def from_settings(cls, settings: BackendSettings, link: MQTTLink) -> HomeAssistantPublisher:
        """From HA_DISCOVERY_PREFIX, HA_STATE_PREFIX and HA_THREAT_HOLD_SECONDS."""
        return cls(
            link,
            discovery_prefix=settings.ha_discovery_prefix,
            state_prefix=settings.ha_state_prefix,
            threat_hold_seconds=settings.ha_threat_hold_seconds,
        )

    # --- public ----------------------------------------------------------------------------------------------

    @property
    def restored(self) -> bool:
        """True once, after a connect, the broker has replayed our retained camera states (see "Restart")."""
        return self._restored

    def camera_topics(self, camera_id: str) -> CameraTopics:
        """The topics and ids of ``camera_id`` (pure: nothing is published)."""
        segment = topic_segment(camera_id)
        node = f"{self.namespace}_{segment}"
        base = f"{self.state_prefix}/camera/{segment}"
        return CameraTopics(
            camera_id=camera_id,
            segment=segment,
            node=node,
            discovery=f"{self.discovery_prefix}/device/{node}/config",
            level=f"{base}/level",
            score=f"{base}/score",
            threat=f"{base}/threat",
            attributes=f"{base}/attributes",
            event=f"{base}/event",
        )

    def discovery_config(self, camera_id: str, camera_name: str) -> DeviceDiscovery:
        """The device discovery payload of one camera (pure)."""
        topics = self.camera_topics(camera_id)
        name = sanitize_untrusted(camera_name, NAME_MAX) or camera_id
        return DeviceDiscovery(
            device=DeviceInfo(
                identifiers=[topics.node], name=name, manufacturer=MANUFACTURER, model=MODEL, sw_version=_version()
            ),
            origin=self._origin,
            availability=[Availability(topic=self.availability_topic)],
            components={
                "risk_level": SensorComponent(
                    unique_id=topics.unique_id("risk_level"),
                    default_entity_id=topics.default_entity_id("sensor", "risk_level"),
                    name="Risk level",
                    state_topic=topics.level,
                    device_class="enum",
                    options=list(LEVEL_OPTIONS),
                    json_attributes_topic=topics.attributes,
                    icon="mdi:shield-alert-outline",
                ),
                "risk_score": SensorComponent(
                    unique_id=topics.unique_id("risk_score"),
                    default_entity_id=topics.default_entity_id("sensor", "risk_score"),
                    name="Risk score",
                    state_topic=topics.score,
                    state_class="measurement",
                    suggested_display_precision=0,
                    icon="mdi:gauge",
                ),
                "threat": BinarySensorComponent(
                    unique_id=topics.unique_id("threat"),
                    default_entity_id=topics.default_entity_id("binary_sensor", "threat"),
                    name="Threat",
                    state_topic=topics.threat,
                    off_delay=max(1, math.ceil(self.hold.total_seconds())),
                ),
                "security_event": EventComponent(
                    unique_id=topics.unique_id("security_event"),
                    default_entity_id=topics.default_entity_id("event", "security_event"),
                    name="Security event",
                    state_topic=topics.event,
                    event_types=list(EVENT_TYPES),
                    icon="mdi:cctv",
                ),
            },
        )

    async def announce_camera(self, camera_id: str, camera_name: str) -> None:
        """Publishes the camera's discovery config (retained) and remembers it for re-announces."""
        async with self._lock:
            await self._announce(camera_id, camera_name)

    async def on_event(self, notice: EventNotice) -> None:
        """A stored or re-assessed event: announces a new camera, updates its states (newest event wins),
        its threat hold, and fires the event entity when the event gets (or changes) its level."""
        async with self._lock:
            camera = self._cameras.get(notice.camera_id)
            if camera is None or not camera.announced or camera.name != notice.camera_name:
                await self._announce(notice.camera_id, notice.camera_name)
                camera = self._cameras[notice.camera_id]
            now = datetime.now(UTC)
            level = notice.risk_level if notice.risk_level in EVENT_TYPES else None
            threat_changed = self._update_holds(camera, notice.event_id, level, notice, now)
            state = self._state_of(notice, camera, level, now)
            if camera.latest is None or state.order_key() >= camera.latest.order_key():
                camera.latest = state
                await self._publish_state(camera)
            elif threat_changed:
                camera.latest = self._with_threat(camera.latest, camera, now)
                await self._publish_attributes(camera)
            if threat_changed:
                await self._reconcile_threat(camera, force_on=level in THREAT_LEVELS)
            if level is not None and (notice.event_id, level) not in self._fired:
                self._fired[(notice.event_id, level)] = None
                while len(self._fired) > FIRED_MEMORY:
                    self._fired.popitem(last=False)
                await self._publish_event(camera, state, level)

    async def close(self) -> None:
        """Clean shutdown: stops the threat timers and publishes ``offline`` (retained), waiting up to a few
        seconds until the broker has it (MQTTLink.stop() drops what is still queued). Call before link.stop()."""
        async with self._lock:
            self._closing = True
            for camera in self._cameras.values():
                if camera.timer is not None:
                    camera.timer.cancel()
                    camera.timer = None
            self._offline_echo.clear()
            await self._link.publish(self.availability_topic, PAYLOAD_OFFLINE, qos=1, retain=True)
        if self._link.connected:
            try:
                await asyncio.wait_for(self._offline_echo.wait(), CLOSE_CONFIRM_SECONDS)
            except TimeoutError:
                logger.warning("Home Assistant 'offline' not confirmed by the broker before shutdown")

    # --- link callbacks --------------------------------------------------------------------------------------

    async def _on_connect(self) -> None:
        """Each (re)connect: online, every camera's discovery config and known states, then the sync marker."""
        async with self._lock:
            self._closing = False
            await self._link.publish(self.availability_topic, PAYLOAD_ONLINE, qos=1, retain=True)
            for camera in self._cameras.values():
                if camera.announced:
                    await self._publish_discovery(camera)
                if camera.latest is not None:
                    await self._publish_state(camera)
                if camera.threat_published is not None:
                    await self._link.publish(camera.topics.threat, camera.threat_published, qos=1, retain=True)
            await self._link.publish(self._sync_topic, b"sync", qos=1, retain=False)

    async def _on_ha_status(self, message: MQTTMessage) -> None:
        """Home Assistant's birth message: announce everything again (HA MQTT docs, "Birth and last will")."""
        if message.payload.strip().decode("utf-8", "replace") != PAYLOAD_ONLINE:
            return
        async with self._lock:
            if self._closing:
                return
            await self._link.publish(self.availability_topic, PAYLOAD_ONLINE, qos=1, retain=True)
            for camera in self._cameras.values():
                if camera.announced:
                    await self._publish_discovery(camera)

    async def _on_own_attributes(self, message: MQTTMessage) -> None:
        """Our retained camera state, replayed by the broker at subscribe: restores order and threat holds.
        Live echoes of our own publishes (retain flag off) are ignored."""
        if not message.retain or not message.payload:
            return
        try:
            restored = CameraState.model_validate_json(message.payload)
        except ValidationError:
            logger.warning("Unreadable retained camera state ignored", extra={"topic": message.topic})
            return
        if message.topic != self.camera_topics(restored.camera_id).attributes:
            return  # not ours (another camera id claims this topic)
        async with self._lock:
            camera = self._camera(restored.camera_id, restored.camera_name)
            now = datetime.now(UTC)
            if restored.threat_event_id is not None and restored.threat_until is not None:
                until = _aware(restored.threat_until)
                if until is not None and until > now and restored.threat_event_id not in camera.holds:
                    camera.holds[restored.threat_event_id] = until
            if camera.latest is None or restored.order_key() > camera.latest.order_key():
                clobbered = camera.latest is not None  # we published an older state in this process: repair it
                camera.latest = self._with_threat(restored, camera, now)
                if clobbered:
                    await self._publish_state(camera)
            if self._restored:
                await self._reconcile_threat(camera)

    async def _on_sync(self, message: MQTTMessage) -> None:
        """Our marker came back: every retained state the broker had has been read. Threats get an explicit
        state (ON with its timer, or OFF) from here on."""
        async with self._lock:
            self._restored = True
            if self._closing:
                return
            for camera in self._cameras.values():
                await self._reconcile_threat(camera)

    async def _on_availability_echo(self, message: MQTTMessage) -> None:
        if not message.retain and message.payload == PAYLOAD_OFFLINE.encode():
            self._offline_echo.set()

    # --- internals (called with the lock held) -----------------------------------------------------------------

    def _camera(self, camera_id: str, camera_name: str) -> _Camera:
        camera = self._cameras.get(camera_id)
        if camera is None:
            topics = self.camera_topics(camera_id)
            camera = _Camera(topics=topics, name=camera_name)
            self._cameras[camera_id] = camera
        return camera

    async def _announce(self, camera_id: str, camera_name: str) -> None:
        camera = self._camera(camera_id, camera_name)
        camera.name = camera_name
        camera.announced = True
        await self._publish_discovery(camera)
        if self._restored and camera.threat_published is None:
            await self._reconcile_threat(camera)

    async def _publish_discovery(self, camera: _Camera) -> None:
        config = self.discovery_config(camera.topics.camera_id, camera.name)
        await self._link.publish(camera.topics.discovery, config.to_json(), qos=1, retain=True)

    async def _publish_state(self, camera: _Camera) -> None:
        state = camera.latest
        if state is None:
            return
        topics = camera.topics
        level = state.level if state.level in EVENT_TYPES else NOT_ASSESSED
        score = str(state.score) if state.level in EVENT_TYPES and state.score is not None else PAYLOAD_NONE
        await self._link.publish(topics.level, level, qos=1, retain=True)
        await self._link.publish(topics.score, score, qos=1, retain=True)
        await self._publish_attributes(camera)

    async def _publish_attributes(self, camera: _Camera) -> None:
        if camera.latest is not None:  # nulls kept: the read-back at connect needs every field
            payload = camera.latest.to_json(drop_none=False)
            await self._link.publish(camera.topics.attributes, payload, qos=1, retain=True)

    async def _publish_event(self, camera: _Camera, state: CameraState, level: str) -> None:
        message = EventMessage(
            event_type=level,
            level=level,
            score=state.score,
            summary=state.summary,
            recommended_action=state.recommended_action,
            started_at=state.started_at,
            event_id=state.event_id,
            camera_id=state.camera_id,
            camera_name=state.camera_name,
            snapshot_url=state.snapshot_url,
            clip_url=state.clip_url,
        )
        # exclude_none would drop "score"/links: keep them as null so every event has the same attributes
        payload = json.dumps(message.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
        await self._link.publish(camera.topics.event, payload, qos=1, retain=False)

    def _state_of(self, notice: EventNotice, camera: _Camera, level: str | None, now: datetime) -> CameraState:
        threat_event_id, threat_until = camera.threat_until(now)
        return CameraState(
            camera_id=notice.camera_id,
            camera_name=sanitize_untrusted(notice.camera_name, NAME_MAX) or notice.camera_id,
            event_id=notice.event_id,
            status=notice.status,
            level=level,
            score=notice.risk_score if level is not None else None,
            summary=sanitize_untrusted(notice.summary or "", TEXT_MAX),
            recommended_action=sanitize_untrusted(notice.recommended_action or "", TEXT_MAX),
            started_at=_aware(notice.started_at),
            ended_at=_aware(notice.ended_at),
            updated_at=_aware(notice.updated_at),
            snapshot_url=notice.snapshot_url,
            clip_url=notice.clip_url,
            threat_event_id=threat_event_id,
            threat_until=threat_until,
        )

    @staticmethod
    def _with_threat(state: CameraState, camera: _Camera, now: datetime) -> CameraState:
        threat_event_id, threat_until = camera.threat_until(now)
        return state.model_copy(update={"threat_event_id": threat_event_id, "threat_until": threat_until})

    def _update_holds(
        self, camera: _Camera, event_id: int, level: str | None, notice: EventNotice, now: datetime
    ) -> bool:
        """Adds, extends or withdraws this event's hold; True when the camera's threat may have changed."""
        if level in THREAT_LEVELS:
            seen = _aware(notice.ended_at) or _aware(notice.started_at) or now
            until = min(seen, now) + self.hold
            if until <= now:
                return camera.holds.pop(event_id, None) is not None
            previous = camera.holds.get(event_id)
            camera.holds[event_id] = until
            return previous != until
        return camera.holds.pop(event_id, None) is not None

    async def _reconcile_threat(self, camera: _Camera, *, force_on: bool = False) -> None:
        """Publishes ON/OFF when it differs from what we last said (ON again when ``force_on``: a longer hold
        restarts HA's off_delay), and (re)arms the timer that ends the hold. Before the retained states are read
        back, OFF waits: the broker may still tell us about a running hold."""
        now = datetime.now(UTC)
        _, until = camera.threat_until(now)
        desired = PAYLOAD_ON if until is not None else PAYLOAD_OFF
        if desired == PAYLOAD_OFF and not self._restored:
            return
        if desired != camera.threat_published or (force_on and desired == PAYLOAD_ON):
            camera.threat_published = desired
            await self._link.publish(camera.topics.threat, desired, qos=1, retain=True)
        if camera.timer is not None and camera.timer is not asyncio.current_task():
            camera.timer.cancel()
        camera.timer = None
        if until is not None and not self._closing:
            camera.timer = asyncio.create_task(self._threat_timer(camera, until))

    async def _threat_timer(self, camera: _Camera, until: datetime) -> None:
        await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.01)
        async with self._lock:
            if camera.timer is not asyncio.current_task():
                return  # replaced meanwhile
            latest = camera.latest
            await self._reconcile_threat(camera)
            if latest is not None and camera.latest is latest:
                camera.latest = self._with_threat(latest, camera, datetime.now(UTC))
                if camera.latest != latest:
                    await self._publish_attributes(camera)
