"""A Frigate evening and night, replayed through a real MQTT broker (``demo --frigate``, the replay test, the
Frigate benchmark).

The messages have the shapes of Frigate 0.16's MQTT API (docs.frigate.video, "MQTT": ``frigate/events`` with
``type`` new / update / end and ``before`` / ``after`` tracked objects, ``frigate/reviews`` with ``data.detections``,
``frigate/tracked_object_update`` for GenAI descriptions and plate reads; the fixtures under
tests/fixtures/frigate/ hold one session per supported version). Four cameras, four incidents:

1. ``front_door`` 14:05, a delivery: a courier with a delivery logo walks up to the porch and back;
2. ``driveway`` 18:30, a resident coming home: a car with a known plate parks, Alice (a face Frigate recognised,
   known to the household) walks to the front steps; the parked car is still tracked after the review ends;
3. ``side_gate`` 03:10 and ``backyard`` 03:11, a night visitor: an unknown person at the side gate, then across
   the lawn and the patio to the back door, staying there; a GenAI description says what they do;
4. Frigate's own repeats: a re-delivered "new", a repeated update, an update older than one already sent, and a
   false positive.

Times are the home's (``TIMEZONE``, Europe/Paris here) on ``day``. ``publish`` sends each message with QoS 1 and,
when the broker goes away, reconnects and sends it again until the broker acknowledges it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt

from backend.services.mqtt_link import BrokerAddress

HOME_ZONE = ZoneInfo("Europe/Paris")
DETECT = (1280, 720)  # Frigate's default detect resolution: the boxes below are pixels of it
HOUSEHOLD = {"known_faces": ["Alice"], "known_plates": ["KX482LM"]}

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Frame:
    """One frame of a tracked object: ``at`` seconds after its start, its box ``[x1, y1, x2, y2]`` in detect
    pixels, the zones it is in, its score, and whether it has stopped moving."""

    at: float
    box: Box
    zones: tuple[str, ...]
    score: float
    stationary: bool = False


@dataclass(frozen=True)
class TrackedObject:
    id: str
    camera: str
    label: str
    start: float  # epoch seconds
    frames: tuple[Frame, ...]
    sub_label: str | None = None
    sub_label_score: float | None = None
    plate: str | None = None
    logo: str | None = None


@dataclass(frozen=True)
class Incident:
    """What one part of the session is, for the reader of the replay's results."""

    name: str
    cameras: tuple[str, ...]
    objects: tuple[str, ...]
    review_ids: tuple[str, ...]
    threat: bool  # what a home owner would want to be told about at once


@dataclass
class ReplaySession:
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    objects: dict[str, TrackedObject] = field(default_factory=dict)
    false_positive_ids: list[str] = field(default_factory=list)

    def frames_expected(self) -> set[tuple[str, float]]:
        """(Frigate id, frame time) of every frame that must be stored once (false positives excluded)."""
        return {
            (obj.id, round(obj.start + frame.at, 6))
            for obj in self.objects.values()
            if obj.id not in self.false_positive_ids
            for frame in obj.frames
        }


def _epoch(day: date, at: time, zone: tzinfo) -> float:
    return datetime.combine(day, at, tzinfo=zone).timestamp()


def _object_state(obj: TrackedObject, frame: Frame, entered: list[str], *, ended: bool) -> dict[str, Any]:
    """Frigate's tracked-object dict (the ``before`` / ``after`` of frigate/events) at ``frame``."""
    x1, y1, x2, y2 = frame.box
    frame_time = round(obj.start + frame.at, 6)
    logo = [{"label": obj.logo, "box": [x1 + 10, y1 + 40, x1 + 60, y1 + 80], "score": 0.81}] if obj.logo else []
    sub_label: Any = [obj.sub_label, obj.sub_label_score] if obj.sub_label and obj.sub_label_score else obj.sub_label
    return {
        "id": obj.id,
        "camera": obj.camera,
        "frame_time": frame_time,
        "snapshot": {"frame_time": frame_time, "box": list(frame.box), "score": frame.score, "attributes": logo},
        "label": obj.label,
        "sub_label": sub_label,
        "top_score": max(f.score for f in obj.frames if f.at <= frame.at),
        "false_positive": False,
        "start_time": obj.start,
        "end_time": frame_time if ended else None,
        "score": frame.score,
        "box": list(frame.box),
        "area": (x2 - x1) * (y2 - y1),
        "ratio": round((x2 - x1) / (y2 - y1), 3),
        "region": [max(x1 - 40, 0), max(y1 - 40, 0), min(x2 + 40, DETECT[0]), min(y2 + 40, DETECT[1])],
        "active": not frame.stationary,
        "stationary": frame.stationary,
        "motionless_count": int(frame.at) if frame.stationary else 0,
        "position_changes": len(entered),
        "current_zones": list(frame.zones),
        "entered_zones": list(entered),
        "has_clip": True,
        "has_snapshot": True,
        "attributes": {obj.logo: 0.81} if obj.logo else {},
        "current_attributes": logo,
        "recognized_license_plate": obj.plate,
        "recognized_license_plate_score": 0.93 if obj.plate else None,
    }


def event_messages(obj: TrackedObject, *, end: bool = True) -> list[dict[str, Any]]:
    """frigate/events payloads for ``obj``: "new" at its first frame, "update" at each next, "end" repeating the
    last frame with its end time (unless ``end`` is False: still tracked)."""
    payloads: list[dict[str, Any]] = []
    entered: list[str] = []
    before: dict[str, Any] | None = None
    for index, frame in enumerate(obj.frames):
        entered += [z for z in frame.zones if z not in entered]
        after = _object_state(obj, frame, entered, ended=False)
        payloads.append({"type": "new" if index == 0 else "update", "before": before or after, "after": after})
        before = after
    if end and before is not None:
        last = _object_state(obj, obj.frames[-1], entered, ended=True)
        payloads.append({"type": "end", "before": before, "after": last})
    return payloads


def review_message(
    kind: str, review_id: str, camera: str, start: float, end: float | None, objects: list[TrackedObject]
) -> dict[str, Any]:
    """A frigate/reviews payload: one review segment (severity alert: a person or car in a zone)."""
    data = {
        "detections": [o.id for o in objects],
        "objects": sorted({o.label for o in objects}),
        "sub_labels": sorted({o.sub_label for o in objects if o.sub_label}),
        "zones": sorted({z for o in objects for f in o.frames for z in f.zones}),
        "audio": [],
    }
    state = {"id": review_id, "camera": camera, "start_time": start, "end_time": end, "severity": "alert", "data": data}
    return {"type": kind, "before": state, "after": state}


def build_session(
    day: date = date(2026, 11, 28), zone: tzinfo = HOME_ZONE, prefix: str = "frigate", salt: str = ""
) -> ReplaySession:
    """The session described in the module docstring, its times on ``day`` (the night visitor the night after).
    Frigate's ids are "<start epoch>-<6 random characters>"; ``salt`` (a few [a-z0-9]) makes them new for a
    replay into a database that holds an earlier one."""
    session = ReplaySession()

    def ident(start: float, name: str) -> str:
        return f"{start:.6f}-{name}{salt}"

    events, reviews, updates = f"{prefix}/events", f"{prefix}/reviews", f"{prefix}/tracked_object_update"

    def add(obj: TrackedObject) -> TrackedObject:
        session.objects[obj.id] = obj
        return obj

    # 1. a delivery at the front door
    t = _epoch(day, time(14, 5), zone)
    courier = add(
        TrackedObject(
            ident(t, "dlv001"),
            "front_door",
            "person",
            t,
            (
                Frame(0, (980, 200, 1080, 520), (), 0.78),
                Frame(6, (760, 230, 880, 600), ("walkway",), 0.86),
                Frame(14, (560, 260, 700, 690), ("porch",), 0.91),
                Frame(24, (780, 230, 890, 600), ("walkway",), 0.88),
            ),
            logo="amazon",
        )
    )
    fp = add(
        TrackedObject(ident(t + 3, "fp0001"), "front_door", "dog", t + 3, (Frame(0, (100, 600, 180, 700), (), 0.62),))
    )
    session.false_positive_ids.append(fp.id)
    courier_messages = event_messages(courier)
    session.messages += [(reviews, review_message("new", ident(t, "rv0001"), "front_door", t, None, [courier]))]
    session.messages += [(events, courier_messages[0]), (events, courier_messages[0])]  # a re-delivered "new"
    false_positive = event_messages(fp)[0]
    false_positive["after"]["false_positive"] = True
    session.messages += [(events, false_positive)]
    session.messages += [(events, m) for m in courier_messages[1:]]
    session.messages += [(reviews, review_message("end", ident(t, "rv0001"), "front_door", t, t + 30, [courier]))]
    session.messages += [
        (
            updates,
            {
                "type": "description",
                "id": courier.id,
                "camera": "front_door",
                "description": "A courier in a uniform leaves a parcel on the porch and walks back to the street.",
            },
        )
    ]
    delivery = Incident("a delivery", ("front_door",), (courier.id,), (ident(t, "rv0001"),), threat=False)
    session.incidents.append(delivery)

    # 2. a resident coming home
    t = _epoch(day, time(18, 30), zone)
    car = add(
        TrackedObject(
            ident(t, "car001"),
            "driveway",
            "car",
            t,
            (
                Frame(0, (160, 300, 520, 540), ("street",), 0.80),
                Frame(4, (420, 320, 860, 640), ("driveway",), 0.92),
                Frame(12, (430, 320, 870, 640), ("driveway",), 0.93, stationary=True),
                Frame(75, (430, 320, 870, 640), ("driveway",), 0.93, stationary=True),  # after the review's end
            ),
            plate="KX482LM",
        )
    )
    alice = add(
        TrackedObject(
            ident(t + 15, "alc001"),
            "driveway",
            "person",
            t + 15,
            (
                Frame(0, (700, 260, 800, 560), ("driveway",), 0.84),
                Frame(8, (900, 220, 990, 480), ("front_steps",), 0.9),
            ),
            sub_label="Alice",
            sub_label_score=0.94,
        )
    )
    car_messages = event_messages(car, end=False)
    alice_messages = event_messages(alice)
    review = ident(t, "rv0002")
    session.messages += [(reviews, review_message("new", review, "driveway", t, None, [car]))]
    session.messages += [(events, car_messages[0]), (events, car_messages[1])]
    session.messages += [
        (
            updates,
            {"type": "lpr", "id": car.id, "camera": "driveway", "plate": "KX482LM", "score": 0.93, "timestamp": t + 4},
        )
    ]
    session.messages += [(events, car_messages[2]), (events, alice_messages[0]), (events, alice_messages[1])]
    session.messages += [(events, alice_messages[1])]  # Frigate repeats an update: stored once
    session.messages += [(events, alice_messages[2])]
    session.messages += [(reviews, review_message("end", review, "driveway", t, t + 40, [car, alice]))]
    session.messages += [(events, car_messages[3])]  # the parked car, still tracked after the review's end
    session.incidents.append(Incident("Alice comes home", ("driveway",), (car.id, alice.id), (review,), threat=False))

    # 3. a night visitor, the night after
    night = date.fromordinal(day.toordinal() + 1)
    t = _epoch(night, time(3, 10, 5), zone)
    gate = add(
        TrackedObject(
            ident(t, "ngt001"),
            "side_gate",
            "person",
            t,
            (
                Frame(0, (300, 180, 400, 520), ("side_gate",), 0.74),
                Frame(9, (520, 200, 620, 560), ("side_gate",), 0.81),
            ),
        )
    )
    t2 = t + 85
    visitor = add(
        TrackedObject(
            ident(t2, "ngt002"),
            "backyard",
            "person",
            t2,
            (
                Frame(0, (80, 260, 170, 560), ("lawn",), 0.71),
                Frame(10, (380, 240, 480, 560), ("patio",), 0.83),
                Frame(22, (640, 200, 740, 520), ("back_door",), 0.88),
                Frame(40, (650, 205, 745, 525), ("back_door",), 0.9, stationary=True),
                Frame(70, (652, 205, 748, 527), ("back_door",), 0.9, stationary=True),
            ),
        )
    )
    gate_review, yard_review = ident(t, "rv0003"), ident(t2, "rv0004")
    gate_messages, visitor_messages = event_messages(gate), event_messages(visitor)
    session.messages += [(reviews, review_message("new", gate_review, "side_gate", t, None, [gate]))]
    session.messages += [(events, m) for m in gate_messages]
    session.messages += [(reviews, review_message("end", gate_review, "side_gate", t, t + 12, [gate]))]
    session.messages += [(reviews, review_message("new", yard_review, "backyard", t2, None, [visitor]))]
    session.messages += [(events, visitor_messages[i]) for i in (0, 1, 2, 4)]
    session.messages += [(events, visitor_messages[3])]  # out of order: an older frame after a newer one
    session.messages += [
        (
            updates,
            {
                "type": "description",
                "id": visitor.id,
                "camera": "backyard",
                "description": "A person in dark clothes with the hood up tries the handle of the back door, "
                "then looks through the glass and waits beside it.",
            },
        )
    ]
    session.messages += [(events, visitor_messages[5])]
    session.messages += [(reviews, review_message("end", yard_review, "backyard", t2, t2 + 75, [visitor]))]
    session.incidents.append(
        Incident(
            "a night visitor",
            ("side_gate", "backyard"),
            (gate.id, visitor.id),
            (gate_review, yard_review),
            threat=True,
        )
    )
    return session


async def publish(
    url: str,
    messages: list[tuple[str, dict[str, Any]]],
    *,
    pause: float = 0.0,
    on_sent: Callable[[int, str, dict[str, Any]], Awaitable[None]] | None = None,
) -> int:
    """Publishes ``messages`` in order with QoS 1, as Frigate would; a lost broker is waited for and the message
    not acknowledged is sent again. Returns how many reconnects it took. ``on_sent(index, topic, payload)`` runs
    after each acknowledged message (the demo prints, the test restarts the broker)."""
    address = BrokerAddress.parse(url)
    index, reconnects = 0, -1
    while index < len(messages):
        reconnects += 1
        try:
            async with aiomqtt.Client(
                address.hostname, address.port, username=address.username, password=address.password
            ) as client:
                while index < len(messages):
                    topic, payload = messages[index]
                    await client.publish(topic, json.dumps(payload), qos=1, timeout=10)
                    if on_sent is not None:
                        await on_sent(index, topic, payload)
                    index += 1
                    if pause:
                        await asyncio.sleep(pause)
        except aiomqtt.MqttError:
            await asyncio.sleep(0.5)
    return reconnects


class NotificationSink:
    """A local HTTP endpoint that receives Apprise ``json://`` notifications (``url``), as a phone would:
    ``received`` holds each JSON body (title, message, type). ``on_receive`` is called from the server thread."""

    def __init__(self, on_receive: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    item = json.loads(body)
                except ValueError:
                    item = {"raw": body.decode("utf-8", "replace")}
                with sink._lock:
                    sink.received.append(item)
                if on_receive is not None:
                    on_receive(item)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self._server.server_address[1]}/notify"

    def __enter__(self) -> NotificationSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
