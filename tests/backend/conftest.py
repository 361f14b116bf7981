"""Shared backend fixtures: real databases and Redis, no mocks of them.

* ``db_url``: an empty, migrated database, once on SQLite (a fresh file) and once on PostgreSQL (one database
  ``test_nemotron_<random>`` per test session on TEST_PG_ADMIN_URL's server, emptied before each test and
  dropped at the end). The PostgreSQL case is skipped when the server is unreachable.
* ``redis_url``: None (in-process state) and a real Redis (TEST_REDIS_URL), skipped when unreachable; pair it
  with ``redis_prefix``, a unique key prefix whose keys are deleted after the test.
* ``backend_settings``: BackendSettings on those, with the background batch loop effectively off (tests drive
  ``flush_due`` themselves) and an unreachable LLM URL.

Test doubles and data builders live in ``tests/backend/helpers.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.config.settings import BackendSettings
from backend.db.session import create_engine_from_url, create_session_factory, init_db
from tests.backend.helpers import FrigateAPI

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TABLES = "event_detections, events, detections, batches, zones, household_entries, cameras"

T = TypeVar("T")


def _run_in_own_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to completion on a private event loop (usable from sync fixtures inside a running loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _pg_url(database: str) -> str:
    server = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{server}/{database}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of this session's migrated PostgreSQL database."""
    name = f"test_nemotron_{secrets.token_hex(4)}"

    async def create() -> None:
        connection = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        await init_db(_pg_url(name))

    async def drop() -> None:
        connection = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    try:
        _run_in_own_loop(create())
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL unavailable at {PG_ADMIN_URL}: {exc}")
    yield _pg_url(name)
    _run_in_own_loop(drop())


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database at the latest schema revision."""
    if request.param == "sqlite":
        sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'nemotron.db'}"
        await init_db(sqlite_url)
        return sqlite_url
    url: str = request.getfixturevalue("pg_database")
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await connection.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()
    return url


@pytest.fixture(params=[None, "redis"], ids=["memory", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    if request.param is None:
        return None
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis unavailable at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix (and pub/sub channel prefix) of this test only; its keys are deleted afterwards."""
    prefix = f"test-nemotron-{secrets.token_hex(4)}:"
    yield prefix
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
    except redis.RedisError:
        pass  # no Redis: nothing was written


@pytest.fixture
def backend_settings(db_url: str, redis_url: str | None, redis_prefix: str, tmp_path: Path) -> BackendSettings:
    return BackendSettings(
        llm_trust_file=tmp_path / "model_trust.json",  # not the developer's measured trusts
        database_url=db_url,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        redis_events_channel=f"{redis_prefix}events",
        llm_url="http://127.0.0.1:9",
        batch_tick_seconds=3600,
        log_level="WARNING",
    )


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine_from_url(db_url)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture(autouse=True)
def _backend_logs_reach_caplog(monkeypatch: pytest.MonkeyPatch) -> None:
    """An app started by an earlier test set the ``backend`` logger to its own JSON handler without propagation
    (``backend.config.logging``); each test sees the records through pytest's ``caplog`` again."""
    monkeypatch.setattr(logging.getLogger("backend"), "propagate", True)


@pytest.fixture
def frigate() -> Iterator[FrigateAPI]:
    """Frigate's HTTP API stand-in (``tests.backend.helpers.FrigateAPI``), served on a thread."""
    server = FrigateAPI()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    thread.join()
