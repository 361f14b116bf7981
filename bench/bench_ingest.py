"""Bulk detection ingest through the REST API (in-process ASGI), into SQLite and into PostgreSQL.

    python -m bench.bench_ingest [--requests 20] [--size 1000] [--backends sqlite,postgresql]
                                 [--states memory,redis] [--repeat 3]

Each run gets a fresh database (a temporary SQLite file; a ``bench_nemotron_<random>`` PostgreSQL database,
dropped afterwards). Two modes: ``history`` (``analyze: false``: stored only) and ``batched`` (batches of 50 are
formed, closed and handed to an analyzer while ingest goes on), each with the open-batch state in this process
(``memory``) or in Redis (``--redis-url``). The analyzer is a fixed stand-in that stores a low-risk event: the
LLM is not what this measures. ``drain`` is the time until those analyses finished. The configurations run
interleaved, ``--repeat`` times each, and the median is reported with the slowest and fastest run, so that a
noisy machine shows as spread rather than as a difference between configurations.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import random
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.api.app import create_app
from backend.api.services import AppServices
from backend.config.settings import BackendSettings
from backend.db.session import create_engine_from_url, create_session_factory, run_unit_of_work
from backend.models import Event
from backend.services.detection_rows import detector_id
from backend.services.event_store import Assessed, fast_path_key, save_event

CAMERAS = ("front_door", "driveway", "backyard", "garage")
OBJECTS = ("person", "car", "dog", "cat", "bicycle", "truck")


class FixedAnalyzer:
    """Stores a fixed assessment (default: low risk) at once: ingest and batching are measured, not the LLM.
    ``sessions`` may be set after construction (an app's own session factory, once it has started)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        outcome: Assessed | None = None,
    ) -> None:
        self.sessions = sessions
        self.outcome = outcome or Assessed(risk_score=5, risk_level="low", summary="benchmark")

    async def _save(self, batch_id: str, camera_id: str, kind: str, detection_ids: list[int]) -> Event:
        assert self.sessions is not None, "FixedAnalyzer.sessions is not set"
        return await run_unit_of_work(
            self.sessions,
            save_event,
            batch_id=batch_id,
            camera_id=camera_id,
            kind=kind,
            detection_pks=detection_ids,
            outcome=self.outcome,
        )

    async def analyze_batch(self, batch_id: str, camera_id: str, detection_ids: list[int]) -> Event:
        return await self._save(batch_id, camera_id, "batch", detection_ids)

    async def analyze_detection_fast_path(self, camera_id: str, detection_id: int) -> Event:
        assert self.sessions is not None, "FixedAnalyzer.sessions is not set"
        external = await run_unit_of_work(self.sessions, detector_id, detection_id)
        key = fast_path_key(camera_id, external or str(detection_id))
        return await self._save(key, camera_id, "fast_path", [detection_id])


def _detections(request: int, size: int, rng: random.Random) -> list[dict[str, Any]]:
    start = datetime(2026, 3, 10, 3, 0, tzinfo=UTC) + timedelta(minutes=request)
    items = []
    for i in range(size):
        item: dict[str, Any] = {
            "camera_id": CAMERAS[i % len(CAMERAS)],
            "id": f"r{request}-d{i}",
            "detected_at": (start + timedelta(milliseconds=50 * i)).isoformat(),
            "object_type": rng.choice(OBJECTS),
            "confidence": round(rng.uniform(0.4, 0.95), 3),
            "bbox": {"x": rng.randint(0, 1700), "y": rng.randint(0, 800), "width": 120, "height": 260},
            "track_id": rng.randint(1, 40),
        }
        if i % 3 == 0:
            item["enrichment"] = {
                "clothing": {"upper": "dark hoodie", "lower": "jeans", "face_covering": False},
                "vehicle": {"type": "sedan", "color": "white"},
                "weather": {"condition": "clear", "visibility": "good"},
            }
        items.append(item)
    return items


@dataclass
class Run:
    backend: str
    mode: str
    state: str
    detections: int
    seconds: float
    drain_seconds: float

    @property
    def rate(self) -> float:
        return self.detections / self.seconds


def _cells(runs: list[Run]) -> list[str]:
    rates = sorted(run.rate for run in runs)
    first = runs[0]
    return [
        first.backend,
        first.state,
        first.mode,
        str(first.detections),
        f"{statistics.median(rates):,.0f}",
        f"{rates[0]:,.0f}-{rates[-1]:,.0f}",
        f"{statistics.median(run.drain_seconds for run in runs):.2f}",
    ]


async def _run(database_url: str, backend: str, mode: str, requests: int, size: int, redis_url: str | None) -> Run:
    settings = BackendSettings(
        database_url=database_url,
        redis_url=redis_url,
        redis_key_prefix=f"bench-{secrets.token_hex(4)}:",
        log_level="WARNING",
        batch_tick_seconds=3600,
    )
    engine = create_engine_from_url(database_url)
    app = create_app(settings, analyzer=FixedAnalyzer(create_session_factory(engine)))
    rng = random.Random(7)
    bodies = [{"detections": _detections(r, size, rng), "analyze": mode == "batched"} for r in range(requests)]
    async with app.router.lifespan_context(app):
        services: AppServices = app.state.services
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            for camera_id in CAMERAS:
                (await client.post("/api/cameras", json={"id": camera_id, "name": camera_id})).raise_for_status()
            started = time.perf_counter()
            for body in bodies:
                (await client.post("/api/detections/bulk", json=body)).raise_for_status()
            seconds = time.perf_counter() - started
            drain_started = time.perf_counter()
            await services.batcher.flush_all()
            drain_seconds = time.perf_counter() - drain_started
    await engine.dispose()
    return Run(backend, mode, "redis" if redis_url else "memory", requests * size, seconds, drain_seconds)


async def _with_postgres(admin_url: str, work: Callable[[str], Awaitable[Run]]) -> Run:
    name = f"bench_nemotron_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    server = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        return await work(f"{server}/{name}")
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--size", type=int, default=1000, help="detections per request")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--modes", default="history,batched")
    parser.add_argument("--states", default="memory,redis", help="where open batches are kept")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each configuration (median reported)")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    configs = list(itertools.product(args.backends.split(","), args.states.split(","), args.modes.split(",")))

    async def run(backend: str, state: str, mode: str) -> Run:
        redis_url = args.redis_url if state == "redis" else None
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
                return await _run(url, backend, mode, args.requests, args.size, redis_url)

        async def work(url: str) -> Run:
            return await _run(url, backend, mode, args.requests, args.size, redis_url)

        return await _with_postgres(args.pg_admin_url, work)

    runs: dict[tuple[str, str, str], list[Run]] = {config: [] for config in configs}
    for _ in range(args.repeat):
        for config in configs:
            runs[config].append(await run(*config))

    print(
        f"## Bulk ingest ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores, "
        f"{args.requests} requests x {args.size} detections, median of {args.repeat})"
    )
    header = ["database", "batch state", "mode", "detections", "detections/s", "min-max", "drain s"]
    table = [header, *(_cells(runs[config]) for config in configs)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, line in enumerate(table):
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    asyncio.run(main())
