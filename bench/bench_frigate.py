"""Frigate over MQTT, measured (issue #10): message to stored detection, and a review's end to Home Assistant.

    python -m bench.bench_frigate [--mqtt-url mqtt://127.0.0.1:1883] [--messages 600] [--rate 20]
                                  [--reviews 40] [--database-url sqlite:///...]

The backend runs in this process (uvicorn) on a fresh database with the MQTT link, Frigate ingest and Home
Assistant publisher of the product; a Frigate stand-in publishes over the real broker (QoS 1). Two figures:

* **message -> stored detection**: from just before Frigate's ``frigate/events`` message is published to the
  moment the ingest's handler returns, its detection committed (broker transit, the link's inbox, parsing, zone
  look-up, the ingest transaction). ``--messages`` frames at ``--rate`` per second (Frigate publishes an update
  when something changes, a few per second per object at most), then the same number in one burst.
* **review end -> Home Assistant state**: from just before a ``frigate/reviews`` "end" is published to the
  arrival, at a separate MQTT subscriber (Home Assistant's place), of the camera's new retained risk level.
  LLM time excluded: the analyzer is a fixed stand-in that stores an assessment at once, so this is the
  service's own path (batch close, event store, state publish, broker). ``--reviews`` incidents, one camera each.

Printed as a table with the date, the machine and the broker; p50 / p90 / p99 / max in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import uvicorn
from pydantic import SecretStr

from ai.nemotron.launch import free_port
from backend.api.app import create_app
from backend.api.services import AppServices
from backend.config.settings import BackendSettings
from backend.frigate_replay import Frame, TrackedObject, event_messages, review_message
from backend.services.event_store import Assessed
from backend.services.mqtt_link import BrokerAddress, MQTTMessage
from bench.bench_ingest import FixedAnalyzer


def _quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"n": len(ordered), "p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "max": ordered[-1]}


def _frame_messages(prefix: str, count: int, start: float) -> list[dict[str, Any]]:
    """``count`` frigate/events payloads: 20 objects on 4 cameras, each a run of updates."""
    payloads: list[dict[str, Any]] = []
    per_object = max(count // 20, 1)
    for index in range(20):
        frames = tuple(
            Frame(i * 0.5, (100 + 10 * i % 900, 200, 220 + 10 * i % 900, 560), ("yard",), 0.8)
            for i in range(per_object)
        )
        obj = TrackedObject(
            f"{start + index:.6f}-b{prefix[-4:]}{index:02d}", f"bench_cam{index % 4}", "person", start + index, frames
        )
        payloads += event_messages(obj, end=False)
    return payloads[:count]


async def _measure_ingest(
    url: str, prefix: str, services: AppServices, count: int, rate: float, burst: bool, warm: bool = False
) -> list[float]:
    """Milliseconds from publish to the handler's return, for each message (see the module docstring)."""
    integrations = services.integrations
    assert integrations is not None and integrations.frigate is not None and integrations.link is not None
    frigate = integrations.frigate
    sent: dict[tuple[str, float], float] = {}
    done: dict[tuple[str, float], float] = {}
    original = frigate.handle

    async def timed(message: MQTTMessage) -> None:
        await original(message)
        if message.topic.endswith("/events"):
            after = json.loads(message.payload)["after"]
            done.setdefault((after["id"], after["frame_time"]), time.perf_counter())

    frigate.handle = timed  # type: ignore[method-assign]
    try:
        payloads = _frame_messages(
            prefix, count, time.time() - 3600 + (0 if not burst else 1800) - (900 if warm else 0)
        )
        address = BrokerAddress.parse(url)
        async with aiomqtt.Client(
            address.hostname, address.port, username=address.username, password=address.password
        ) as client:
            for payload in payloads:
                key = (payload["after"]["id"], payload["after"]["frame_time"])
                sent[key] = time.perf_counter()
                await client.publish(f"{prefix}/events", json.dumps(payload), qos=1)
                if not burst:
                    await asyncio.sleep(1 / rate)
        async with asyncio.timeout(300):
            while len(done) < len(sent):  # noqa: ASYNC110 - polling what the handler records
                await asyncio.sleep(0.05)
    finally:
        frigate.handle = original  # type: ignore[method-assign]
    return [(done[key] - sent[key]) * 1000 for key in sent]


async def _measure_reviews(url: str, prefix: str, ha_prefix: str, reviews: int) -> list[float]:
    """Milliseconds from a review's end being published to the camera's new level reaching a subscriber."""
    address = BrokerAddress.parse(url)
    arrived: dict[str, float] = {}
    latencies: list[float] = []
    async with (
        aiomqtt.Client(address.hostname, address.port, username=address.username, password=address.password) as ha,
        aiomqtt.Client(address.hostname, address.port, username=address.username, password=address.password) as pub,
    ):
        await ha.subscribe(f"{ha_prefix}/camera/+/level", qos=1)

        async def listen() -> None:
            async for message in ha.messages:
                camera = message.topic.value.split("/camera/", 1)[1].split("/", 1)[0]
                if message.payload == b"high":
                    arrived.setdefault(camera, time.perf_counter())

        listener = asyncio.create_task(listen())
        base = time.time() - 600
        for index in range(reviews):
            camera = f"rv{prefix[-4:]}{index:03d}"
            t = base + index
            obj = TrackedObject(
                f"{t:.6f}-r{prefix[-4:]}{index:03d}",
                camera,
                "person",
                t,
                (Frame(0, (300, 200, 400, 520), ("porch",), 0.8), Frame(2, (320, 200, 420, 520), ("porch",), 0.82)),
            )
            for payload in event_messages(obj):
                await pub.publish(f"{prefix}/events", json.dumps(payload), qos=1)
            await asyncio.sleep(0.3)  # the frames are stored before the review ends, as in Frigate
            end = review_message("end", f"{t:.6f}-v{index:03d}", camera, t, t + 3, [obj])
            started = time.perf_counter()
            await pub.publish(f"{prefix}/reviews", json.dumps(end), qos=1)
            async with asyncio.timeout(60):
                while camera not in arrived:  # noqa: ASYNC110 - polling what the listener records
                    await asyncio.sleep(0.002)
            latencies.append((arrived[camera] - started) * 1000)
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    return latencies


async def _run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    run = secrets.token_hex(3)
    prefix, ha_prefix = f"bench{run}/frigate", f"bench{run}/nemotron"
    with tempfile.TemporaryDirectory() as folder:
        database = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        settings = BackendSettings(
            database_url=database,
            llm_url="http://127.0.0.1:9",  # never called: the analyzer is the stand-in
            mqtt_url=SecretStr(args.mqtt_url),
            mqtt_client_id=f"bench-{run}",
            frigate_topic_prefix=prefix,
            ha_discovery_prefix=f"bench{run}/homeassistant",
            ha_state_prefix=ha_prefix,
            timezone="Europe/Paris",
            batch_idle_seconds=3600,
            batch_window_seconds=7200,
            fast_path_confidence=1.0,
            log_level="WARNING",
        )
        # stores a fixed high-risk assessment at once: the service's path is measured, not the LLM
        analyzer = FixedAnalyzer(outcome=Assessed(risk_score=70, risk_level="high", summary="A benchmark event."))
        app = create_app(settings, analyzer=analyzer)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
            await asyncio.sleep(0.05)
        services: AppServices = app.state.services
        analyzer.sessions = services.sessions
        assert services.integrations is not None and services.integrations.link is not None
        async with asyncio.timeout(30):
            await services.integrations.link.wait_connected()
        # first sight of the cameras and of the zone: cameras created, the zone's type guessed by the embedding
        # model (loaded once); measured apart, then the steady state
        first = _quantiles(await _measure_ingest(args.mqtt_url, prefix, services, 40, args.rate, burst=True, warm=True))
        results = {
            "first sight of 4 cameras and a zone (40 messages)": first,
            f"message -> stored detection, {args.rate:g}/s": _quantiles(
                await _measure_ingest(args.mqtt_url, prefix, services, args.messages, args.rate, burst=False)
            ),
            f"message -> stored detection, burst of {args.messages}": _quantiles(
                await _measure_ingest(args.mqtt_url, prefix, services, args.messages, args.rate, burst=True)
            ),
            "review end -> Home Assistant state (LLM excluded)": _quantiles(
                await _measure_reviews(args.mqtt_url, prefix, ha_prefix, args.reviews)
            ),
        }
        server.should_exit = True
        await serving
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mqtt-url", default=os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883"))
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second in the paced run")
    parser.add_argument("--reviews", type=int, default=40)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    results = asyncio.run(_run(args))
    load = os.getloadavg()[0]
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} vCPU, "
        f"Python {platform.python_version()}, broker {BrokerAddress.parse(args.mqtt_url)}, "
        f"database {'SQLite (temporary file)' if not args.database_url else args.database_url.split('://')[0]}, "
        f"load average {load:.1f}"
    )
    print("| path | n | p50 ms | p90 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, q in results.items():
        print(f"| {name} | {q['n']:.0f} | {q['p50']:.1f} | {q['p90']:.1f} | {q['p99']:.1f} | {q['max']:.1f} |")


if __name__ == "__main__":
    main()
