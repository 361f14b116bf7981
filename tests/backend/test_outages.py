"""Outages: a database that cannot be reached answers 503 with Retry-After and JSON; Redis down does not stop
ingest (batching falls back to the process, broadcasts wait in an outbox and go out once Redis is back).

"Redis down" is either a URL on a closed port (127.0.0.1:1) or a redis-server of the test's own, stopped and
started again on the same port; the shared Redis is never stopped.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from backend.api.app import REDIS_RETRY_SECONDS, create_app, redis_client
from backend.api.services import AppServices
from backend.config.settings import BackendSettings
from backend.db.session import create_engine_from_url, create_session_factory
from backend.domain.errors import StorageUnavailableError
from backend.models import Camera, Detection, Event, table_of
from backend.services.batch_state import BatchRules, FallbackBatchState, MemoryBatchState, RedisBatchState
from backend.services.broadcaster import Broadcaster
from backend.services.outages import storage_outage
from tests.backend.helpers import StubAnalyzer, detection_json

CLOSED_REDIS = "redis://127.0.0.1:1/0"
RULES = BatchRules(window_seconds=90, idle_seconds=30, max_detections=50)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OwnRedis:
    """A redis-server on a free port, started and stopped by the test (no persistence)."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(command, cwd=self._workdir, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url() -> str | None:
    """Each test sets its own Redis (or none)."""
    return None


@dataclass
class Running:
    client: httpx.AsyncClient
    app: FastAPI

    @property
    def services(self) -> AppServices:
        services: AppServices = self.app.state.services
        return services


@asynccontextmanager
async def running(settings: BackendSettings) -> AsyncIterator[Running]:
    engine = create_engine_from_url(settings.database_url)
    app = create_app(settings, analyzer=StubAnalyzer(create_session_factory(engine)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backend") as client:
            assert (await client.post("/api/cameras", json={"id": "cam1", "name": "Cam 1"})).status_code == 200
            yield Running(client, app)
    await engine.dispose()


async def count(db_url: str, model: type) -> int:
    engine = create_engine_from_url(db_url)
    async with create_session_factory(engine)() as session:
        n = await session.scalar(select(func.count()).select_from(model)) or 0
    await engine.dispose()
    return n


# ----------------------------------------------------------------------------------------------- Redis down


async def test_ingest_works_with_redis_down_from_the_start(backend_settings: BackendSettings, db_url: str) -> None:
    settings = backend_settings.model_copy(update={"redis_url": CLOSED_REDIS})
    async with running(settings) as api:
        c = api.client
        single = await c.post("/api/detections", json=detection_json("cam1", "d1", "2026-03-10T03:00:00Z"))
        assert single.status_code == 201, single.text
        bulk = [detection_json("cam1", f"b{i}", "2026-03-10T03:00:10Z") for i in range(60)]
        answer = await c.post("/api/detections/bulk", json={"detections": bulk})
        assert answer.status_code == 201 and len(answer.json()["batch_ids"]) == 2  # 49 fill d1's batch, 11 open one
        health = await c.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert health.json()["checks"]["redis"].startswith("error")
        await api.services.batcher.flush_all()  # the full batch closed at ingest, the other one now
        assert api.services.broadcaster.pending == 2  # both events wait for Redis
    assert await count(db_url, Detection) == 61
    assert await count(db_url, Event) == 2


async def test_redis_stopping_and_coming_back(backend_settings: BackendSettings, own_redis: OwnRedis) -> None:
    """While Redis is stopped: ingest answers 201, its batch lives in the process, event updates wait in the
    outbox. Once Redis is back: the outbox reaches this process's WebSocket subscribers in order and the batch
    opened during the outage is handed to Redis."""
    settings = backend_settings.model_copy(update={"redis_url": own_redis.url})
    async with running(settings) as api:
        c, services = api.client, api.services
        state = services.batcher._state
        assert isinstance(state, FallbackBatchState)
        async with services.broadcaster.subscribe() as subscription:
            assert (
                await c.post("/api/detections", json=detection_json("cam1", "d1", "2026-03-10T03:00:00Z"))
            ).status_code == 201
            await services.batcher.flush_all()
            first = await asyncio.wait_for(anext(subscription), 10)
            event_id = first["event"]["id"]

            own_redis.stop()
            during = await c.post("/api/detections", json=detection_json("cam1", "d2", "2026-03-10T03:05:00Z"))
            assert during.status_code == 201, during.text
            outage_batch = during.json()["batch_ids"][0]
            assert not state.primary_up
            for note in ("one", "two"):
                assert (await c.post(f"/api/events/{event_id}/review", json={"notes": note})).status_code == 200
            assert services.broadcaster.pending == 2
            assert subscription.queue.empty()

            own_redis.start()
            notes = [(await asyncio.wait_for(anext(subscription), 15))["event"]["notes"] for _ in range(2)]
            assert notes == ["one", "two"]
            assert services.broadcaster.pending == 0

            await asyncio.sleep(REDIS_RETRY_SECONDS)  # batching tries Redis again this long after it failed
            after = await c.post("/api/detections", json=detection_json("cam1", "d3", "2026-03-10T03:05:05Z"))
            assert after.status_code == 201
            assert state.primary_up
            assert after.json()["batch_ids"] == [outage_batch]  # the outage's batch, now shared through Redis
            shared = Redis.from_url(own_redis.url, decode_responses=True)
            assert await shared.hget(f"{settings.redis_key_prefix}batch:cam1", "batch_id") == outage_batch
            await shared.aclose()


async def test_fallback_state_places_in_memory_while_redis_is_down(own_redis: OwnRedis, tmp_path: Path) -> None:
    client = redis_client(own_redis.url)
    clock = [0.0]
    state = FallbackBatchState(
        RedisBatchState(client, RULES, "t:"), MemoryBatchState(RULES), retry_seconds=5, clock=lambda: clock[0]
    )
    ids = iter(f"b{i}" for i in range(100))
    try:
        placed = await state.place({"cam": 3}, lambda: next(ids), now=1000.0)
        assert placed["cam"][0].batch_id == "b0" and state.primary_up
        own_redis.stop()
        placed = await state.place({"other": 2}, lambda: next(ids), now=1001.0)
        assert not state.primary_up and state.fallback.open_batches()[0][:2] == ("other", placed["other"][0].batch_id)
        assert await state.pop_due(now=1001.0 + 31) == [("other", placed["other"][0].batch_id)]  # due from memory
        own_redis.start()
        later = (await state.place({"other": 1}, lambda: next(ids), now=1040.0))["other"][0]
        assert not state.primary_up and later.opened  # not retried before retry_seconds: a new batch in memory
        clock[0] = 6.0
        again = (await state.place({"other": 1}, lambda: next(ids), now=1041.0))["other"][0]
        assert state.primary_up and state.fallback.open_batches() == []
        assert (again.batch_id, again.opened) == (later.batch_id, False)  # handed to Redis, joined there
        shared = Redis.from_url(own_redis.url, decode_responses=True)
        assert await shared.hget("t:batch:other", "count") == "2"
        await shared.aclose()
    finally:
        await client.aclose()


async def test_the_outbox_keeps_order_and_survives_a_restart(own_redis: OwnRedis) -> None:
    sender_client, receiver_client = redis_client(own_redis.url), redis_client(own_redis.url)
    sender = Broadcaster(sender_client, channel="t-events", retry_seconds=0.2)
    receiver = Broadcaster(receiver_client, channel="t-events", retry_seconds=0.2)
    await receiver.start()
    try:
        async with receiver.subscribe() as subscription:
            await sender.publish({"n": 0})
            assert await asyncio.wait_for(anext(subscription), 5) == {"n": 0}
            own_redis.stop()
            for n in range(1, 4):
                await sender.publish({"n": n})
            assert sender.pending == 3
            own_redis.start()
            got = [await asyncio.wait_for(anext(subscription), 15) for _ in range(3)]
            assert got == [{"n": 1}, {"n": 2}, {"n": 3}]
            assert sender.pending == 0
    finally:
        await sender.stop()
        await receiver.stop()
        await sender_client.aclose()
        await receiver_client.aclose()


# ----------------------------------------------------------------------------------------------- database down


def _unreachable(db_url: str, tmp_path: Path) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    return "postgresql+asyncpg://postgres@127.0.0.1:1/nemotron"


async def test_a_database_outage_answers_503_with_retry_after(
    backend_settings: BackendSettings, db_url: str, tmp_path: Path
) -> None:
    async with running(backend_settings) as api:
        services = api.services
        good_engine, good_sessions = services.engine, services.sessions
        dead_engine = create_engine_from_url(_unreachable(db_url, tmp_path))
        services.engine, services.sessions = dead_engine, create_session_factory(dead_engine)
        try:
            c = api.client
            for answer in (
                await c.get("/api/cameras"),
                await c.get("/api/events"),
                await c.post("/api/cameras", json={"id": "cam2", "name": "Cam 2"}),
                await c.post("/api/detections", json=detection_json("cam1", "d1", "2026-03-10T03:00:00Z")),
                await c.put("/api/household", json={"known_faces": ["Ann"]}),
            ):
                assert answer.status_code == 503, answer.text
                assert answer.headers["retry-after"].isdigit()
                body = answer.json()
                assert body["kind"] == "storage_unavailable" and body["retryable"] is True
                assert "unavailable" in body["detail"]
            health = await c.get("/health")
            assert health.status_code == 503 and health.json()["status"] == "unavailable"
        finally:
            services.engine, services.sessions = good_engine, good_sessions
            await dead_engine.dispose()
        assert (await api.client.get("/api/cameras")).status_code == 200
    assert await count(db_url, Detection) == 0


async def test_postgresql_dropping_connections_gives_no_5xx(backend_settings: BackendSettings, db_url: str) -> None:
    """What a restart does to the pool: every server connection dies; the next requests still answer."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    database = db_url.rsplit("/", 1)[1]
    async with running(backend_settings) as api:
        c = api.client
        assert (
            await c.post("/api/detections", json=detection_json("cam1", "d0", "2026-03-10T03:00:00Z"))
        ).status_code == 201
        admin = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        finally:
            await admin.close()
        assert killed >= 1
        codes = [
            (await c.post("/api/detections", json=detection_json("cam1", f"d{i}", "2026-03-10T03:00:01Z"))).status_code
            for i in range(1, 6)
        ]
        assert all(code in (201, 503) for code in codes), codes
        assert codes[-1] == 201


async def test_storage_outage_classifies_real_failures(db_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConnectionRefusedError) as refused:
        await asyncpg.connect("postgresql://postgres@127.0.0.1:1/x", timeout=2)
    assert isinstance(storage_outage(refused.value), StorageUnavailableError)

    client = Redis.from_url(CLOSED_REDIS, socket_connect_timeout=0.5)
    with pytest.raises(redis.RedisError) as redis_down:
        await client.ping()
    await client.aclose()
    outage = storage_outage(redis_down.value)
    assert outage is not None and str(outage).startswith("Redis unavailable")

    dead = create_engine_from_url(_unreachable(db_url, tmp_path))
    with pytest.raises((OSError, DBAPIError)) as db_down:
        async with dead.connect() as connection:
            await connection.execute(select(1))
    await dead.dispose()
    assert storage_outage(db_down.value) is not None

    engine = create_engine_from_url(db_url)
    async with create_session_factory(engine)() as session:
        session.add(Camera(id="cam1", name="Cam 1"))
        await session.commit()
        with pytest.raises(IntegrityError) as duplicate:
            await session.execute(insert(table_of(Camera)).values(id="cam1", name="again"))
    await engine.dispose()
    assert storage_outage(duplicate.value) is None  # a constraint is not an outage
    assert storage_outage(ValueError("x")) is None


async def test_a_missing_database_is_an_outage_not_a_bug() -> None:
    """A PostgreSQL database being restored or renamed: what arrives meanwhile waits (the review of issue #10
    lost 20 Frigate messages this way), it is not dropped as a failure."""
    with pytest.raises(asyncpg.InvalidCatalogNameError) as missing:
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/missing_{secrets.token_hex(4)}", timeout=3)
    assert isinstance(storage_outage(missing.value), StorageUnavailableError)
