"""The load: a stream of detections from three cameras, posted as a detector would (retrying what failed), a few
bad inputs among them, and a reader of ``GET /api/events``; every answer the backend gives is tallied.

A detector's retry policy: a 5xx, a refused or reset connection or a timeout is retried with the same payload
(1 s, doubling to 5 s; a ``Retry-After`` up to 5 s is honoured) until ``give_up_seconds``. A 409 to a retry means
the first try was stored (its answer was lost), so the detection counts as acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

CAMERAS = (
    ("front_door", "Front door", [("porch", "Porch", "entry_point", [(0.3, 0.4), (0.7, 0.4), (0.7, 1.0), (0.3, 1.0)])]),
    ("driveway", "Driveway", [("drive", "Driveway", "driveway", [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)])]),
    ("backyard", "Back yard", [("yard", "Yard", "yard", [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])]),
)
OBJECTS = ("person", "person", "person", "car", "dog", "cat", "bicycle", "package")
CAPTIONS = (
    "a person walking up to the front door",
    "a delivery driver leaving a parcel on the porch",
    "a person looking into a parked car",
    "a dog crossing the lawn",
    "a car pulling into the driveway",
    "a person standing by the gate for a while",
)


@dataclass
class Tally:
    """Every answer the backend gave during a run, by kind."""

    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0  # 5xx, except a 503 that carries Retry-After (the wanted answer to an outage)
    unavailable_503: int = 0  # 503 with Retry-After
    server_error_examples: list[str] = field(default_factory=list)
    refused_while_down: int = 0  # connection refused/reset while the harness had the backend down on purpose
    refused_unexpected: int = 0  # ... at any other time
    timeouts: int = 0
    unexpected_4xx: list[str] = field(default_factory=list)  # a good detection refused (not a resend)
    resend_409: int = 0  # a deliberate duplicate refused as a duplicate
    resend_2xx: int = 0  # a deliberate duplicate accepted (idempotent answer)
    gave_up: int = 0  # good detections never acknowledged
    ingest_2xx_during_fault: int = 0
    ingest_tries_during_fault: int = 0

    def answer(self, what: str, response: httpx.Response) -> None:
        code = response.status_code
        self.statuses[code] += 1
        if code >= 500:
            if code == 503 and response.headers.get("retry-after"):
                self.unavailable_503 += 1
            else:
                self.server_errors += 1
                if len(self.server_error_examples) < 8:
                    self.server_error_examples.append(f"{code} {what}: {response.text[:120]!r}")

    def connection_failed(self, backend_down: bool) -> None:
        if backend_down:
            self.refused_while_down += 1
        else:
            self.refused_unexpected += 1


@dataclass(frozen=True)
class Planned:
    at: float  # seconds after the stream starts
    camera_id: str
    payload: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.camera_id, str(self.payload["id"]))


def plan_stream(
    run_id: str, count: int, duration: float, seed: int = 9, fast_path_share: float = 0.03
) -> list[Planned]:
    """``count`` detections over ``duration`` seconds, round robin over the cameras; tracks persist a few frames;
    about ``fast_path_share`` of them are high-confidence people (the fast path)."""
    rng = random.Random(seed)
    plan: list[Planned] = []
    step = duration / max(count, 1)
    tracks = {camera: 1 for camera, _, _ in CAMERAS}
    for i in range(count):
        camera = CAMERAS[i % len(CAMERAS)][0]
        if rng.random() < 0.25:
            tracks[camera] += 1
        fast = rng.random() < fast_path_share
        obj = "person" if fast else rng.choice(OBJECTS)
        payload: dict[str, Any] = {
            "camera_id": camera,
            "id": f"{run_id}-{camera}-{i}",
            "object_type": obj,
            "confidence": 0.93 if fast else round(rng.uniform(0.45, 0.88), 2),
            "bbox": {"x": rng.randint(0, 1600), "y": rng.randint(0, 700), "width": 160, "height": 340},
            "track_id": tracks[camera],
        }
        enrichment: dict[str, Any] = {}
        if rng.random() < 0.3:
            enrichment["vision"] = {"caption": rng.choice(CAPTIONS)}
        if obj == "person" and rng.random() < 0.4:
            enrichment["clothing"] = {"upper": "dark hoodie", "lower": "jeans", "face_covering": rng.random() < 0.2}
        if obj == "car" and rng.random() < 0.5:
            enrichment["vehicle"] = {"type": "sedan", "color": "grey"}
            enrichment["license_plate"] = {"text": f"FLT{rng.randint(100, 999)}", "confidence": 0.8}
        if enrichment:
            payload["enrichment"] = enrichment
        plan.append(Planned(at=i * step, camera_id=camera, payload=payload))
    return plan


def stamp(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with ``detected_at`` = now (the moment it is first sent)."""
    if "detected_at" in payload:
        return payload
    return {**payload, "detected_at": datetime.now(UTC).isoformat()}


class Poster:
    """Posts detections as a detector would; keeps the acknowledged keys and tallies every answer."""

    def __init__(
        self,
        base_url: str,
        tally: Tally,
        backend_down: Callable[[], bool],
        fault_active: Callable[[], bool] = lambda: False,
        give_up_seconds: float = 240.0,
        timeout: float = 15.0,
    ) -> None:
        self.base_url = base_url
        self.tally = tally
        self.backend_down = backend_down
        self.fault_active = fault_active
        self.give_up = give_up_seconds
        self.acked: set[tuple[str, str]] = set()
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def send(self, payloads: list[dict[str, Any]], *, resend: bool = False, race: bool = False) -> int | None:
        """Posts one detection (single route) or several (bulk); retries transient failures. Returns the final
        status, or None when it gave up. ``resend``: a deliberate duplicate of something already acknowledged;
        ``race``: one of two identical posts sent at once (one 2xx and one 409 expected, in either order)."""
        keys = [(str(p["camera_id"]), str(p["id"])) for p in payloads]
        path, body = (
            ("/api/detections", payloads[0])
            if len(payloads) == 1
            else ("/api/detections/bulk", {"detections": payloads})
        )
        deadline = time.monotonic() + self.give_up
        delay, retried = 1.0, False
        while time.monotonic() < deadline:
            during_fault = self.fault_active()
            if during_fault:
                self.tally.ingest_tries_during_fault += 1
            try:
                response = await self.client.post(path, json=body)
            except httpx.TimeoutException:
                self.tally.timeouts += 1
            except httpx.TransportError:
                self.tally.connection_failed(self.backend_down())
            else:
                self.tally.answer(f"POST {path}", response)
                code = response.status_code
                if 200 <= code < 300:
                    if during_fault:
                        self.tally.ingest_2xx_during_fault += 1
                    if resend:
                        self.tally.resend_2xx += 1
                    self.acked.update(keys)
                    return code
                if code == 409:
                    if resend or race:
                        self.tally.resend_409 += 1
                    elif retried:
                        self.acked.update(keys)  # the earlier try was stored; its answer was lost
                    else:
                        self.tally.unexpected_4xx.append(f"409 {keys[0]}: {response.text[:100]!r}")
                    return code
                if code < 500:
                    self.tally.unexpected_4xx.append(f"{code} {keys[0]}: {response.text[:100]!r}")
                    return code
                retry_after = response.headers.get("retry-after", "")
                if retry_after.isdigit():
                    delay = max(delay, min(float(retry_after), 5.0))
            retried = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        if not resend:
            self.tally.gave_up += len(payloads)
        return None


async def setup_cameras(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        for camera_id, name, zones in CAMERAS:
            (await client.post("/api/cameras", json={"id": camera_id, "name": name})).raise_for_status()
            body = [{"id": z, "name": n, "zone_type": t, "polygon": p} for z, n, t, p in zones]
            (await client.put(f"/api/cameras/{camera_id}/zones", json=body)).raise_for_status()


@dataclass(frozen=True)
class BadInput:
    name: str
    method: str
    path: str
    body: bytes | None = None  # raw JSON text (some of these cannot be written by json.dumps)


def bad_inputs(run_id: str) -> list[BadInput]:
    """The issue's minimal bad inputs to the backend (each should be a 4xx naming the field)."""

    def detection(suffix: str, **fields: Any) -> bytes:
        det = {
            "camera_id": "front_door",
            "id": f"{run_id}-bad-{suffix}",
            "detected_at": datetime.now(UTC).isoformat(),
            "object_type": "person",
            "confidence": 0.6,
            "bbox": {"x": 10, "y": 10, "width": 100, "height": 200},
        }
        det.update(fields)
        return json.dumps(det).encode()

    def raw(suffix: str, field_name: str, literal: str) -> bytes:
        return detection(suffix, **{field_name: "__RAW__"}).replace(b'"__RAW__"', literal.encode())

    items: list[BadInput] = []
    for name, body in {
        "NUL in ocr_text": detection("nul", enrichment={"ocr_text": ["a\u0000b"]}),
        "lone surrogate in object_type": raw("surrogate", "object_type", '"a\\ud800b"'),
        "track_id 2^63": raw("trk63", "track_id", "9223372036854775808"),
        "track_id 2^31": raw("trk31", "track_id", "2147483648"),
        "detected_at year 1 +14:00": detection("y1", detected_at="0001-01-01T00:00:00+14:00"),
        "detected_at year 9999 -14:00": detection("y9999", detected_at="9999-12-31T23:59:59-14:00"),
        "confidence NaN": raw("nan", "confidence", "NaN"),
        "unknown camera": detection("unknown", camera_id="no_such_camera"),
        "bbox outside frame": detection("outside", bbox={"x": 5000, "y": 5000, "width": 10, "height": 10}),
    }.items():
        items.append(BadInput(name, "POST", "/api/detections", body))
    items += [
        BadInput("NUL in camera name", "POST", "/api/cameras", b'{"id": "badcam", "name": "a\\u0000b"}'),
        BadInput("events offset 2^63", "GET", "/api/events?offset=9223372036854775808"),
        BadInput("events since year 9999", "GET", "/api/events?since=9999-12-31T23:59:59-23:59"),
        BadInput("event id 2^31", "GET", "/api/events/2147483648"),
        BadInput("review notes with NUL", "POST", "/api/events/1/review", b'{"notes": "a\\u0000b"}'),
    ]
    return items


@dataclass
class BadInputResult:
    sent: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # answered 2xx (stored as sent, or cleaned)

    def cell(self) -> str:
        if not self.sent:
            return "-"
        classes = ", ".join(f"{n} {c}" for c, n in sorted(self.by_class.items()))
        return f"{self.sent} ({classes})"


async def send_bad_inputs(poster: Poster, run_id: str) -> BadInputResult:
    """Each on a connection of its own, so that a connection the server breaks is blamed on the input that broke it."""
    result = BadInputResult()
    headers = {"content-type": "application/json"}
    for item in bad_inputs(run_id):
        result.sent += 1
        try:
            async with httpx.AsyncClient(base_url=poster.base_url, timeout=15) as client:
                response = await client.request(item.method, item.path, content=item.body, headers=headers)
        except httpx.HTTPError as exc:
            result.by_class["no answer"] += 1
            result.server_errors.append(f"{item.name}: no answer ({type(exc).__name__})")
            poster.tally.connection_failed(False)
            continue
        poster.tally.answer(f"bad input {item.name}", response)
        code = response.status_code
        result.by_class[f"{code // 100}xx"] += 1
        if code >= 500:
            result.server_errors.append(f"{item.name}: {code}")
        elif 200 <= code < 300:
            result.accepted.append(item.name)
    return result


async def read_events_loop(
    base_url: str, tally: Tally, backend_down: Callable[[], bool], stop: asyncio.Event, every: float = 2.0
) -> None:
    """Reads ``GET /api/events`` as a dashboard would, counting its answers."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        while not stop.is_set():
            try:
                tally.answer("GET /api/events", await client.get("/api/events", params={"limit": 50}))
            except httpx.TimeoutException:
                tally.timeouts += 1
            except httpx.TransportError:
                tally.connection_failed(backend_down())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
