"""Settings from the environment, the fast-path rule, schema set-up, JSON logs and event fan-out."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from sqlalchemy import Connection, text

from backend.config.logging import JsonFormatter
from backend.config.settings import DEFAULT_SQLITE_PATH, BackendSettings, normalize_database_url
from backend.db.session import alembic_config, create_engine_from_url, init_db
from backend.models import Base
from backend.services.broadcaster import Broadcaster
from backend.services.fast_path import fast_path_trigger
from tests.backend.helpers import detection

TYPES = frozenset({"person", "knife", "gun", "weapon"})


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "FAST_PATH_OBJECT_TYPES", "BATCH_WINDOW_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    settings = BackendSettings()
    assert settings.database_url == f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}"
    assert DEFAULT_SQLITE_PATH.is_absolute() and DEFAULT_SQLITE_PATH.parts[-2:] == ("var", "nemotron.db")
    assert settings.redis_url is None
    assert (settings.batch_window_seconds, settings.batch_idle_seconds, settings.batch_max_detections) == (90, 30, 50)
    assert settings.fast_path_confidence == 0.9 and "person" in settings.fast_path_object_types
    assert (settings.host, settings.port, settings.llm_url) == ("127.0.0.1", 8000, "http://127.0.0.1:8091")
    assert settings.use_reasoning is False


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@db:5432/nemotron")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("FAST_PATH_OBJECT_TYPES", "Person, knife")
    monkeypatch.setenv("BATCH_IDLE_SECONDS", "12.5")
    monkeypatch.setenv("LLM_API_KEY", "secret")
    monkeypatch.setenv("log_level", "debug")
    settings = BackendSettings()
    assert settings.database_url == "postgresql+asyncpg://postgres@db:5432/nemotron"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.fast_path_object_types == ["person", "knife"]
    assert settings.batch_idle_seconds == 12.5
    assert settings.llm_api_key is not None and settings.llm_api_key.get_secret_value() == "secret"
    assert "secret" not in repr(settings)
    assert settings.log_level == "DEBUG"
    monkeypatch.setenv("FAST_PATH_OBJECT_TYPES", '["gun"]')
    assert BackendSettings().fast_path_object_types == ["gun"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
        ("sqlite+aiosqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db"),
    ],
)
def test_database_urls_get_async_drivers(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://h/db", "not a url"])
def test_unsupported_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        normalize_database_url(url)


@pytest.mark.parametrize(
    ("object_type", "confidence", "enrichment", "trigger"),
    [
        ("person", 0.95, {}, "person"),
        ("person", 0.9, {}, "person"),
        ("person", 0.89, {}, None),
        ("car", 0.99, {}, None),
        ("car", 0.3, {"weapon": {"detected": True, "type": "gun", "confidence": 0.91}}, "weapon"),
        ("car", 0.3, {"weapon": {"detected": True, "confidence": 0.5}}, None),
        ("person", 0.5, {"violence": {"detected": True, "confidence": 0.97}}, "violence"),
        ("person", 0.99, {"violence": {"detected": False, "confidence": 0.97}}, "person"),
    ],
)
def test_fast_path_rule(
    object_type: str, confidence: float, enrichment: dict[str, object], trigger: str | None
) -> None:
    d = detection("d1", datetime(2026, 3, 10, tzinfo=UTC), object_type, confidence, enrichment=enrichment)
    assert fast_path_trigger(d, 0.9, TYPES) == trigger


async def test_init_db_creates_the_folder_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'nemotron.db'}"
    await init_db(url)
    await init_db(url)
    engine = create_engine_from_url(url)
    async with engine.connect() as connection:
        version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    await engine.dispose()


async def test_migrations_build_exactly_the_models_schema(db_url: str) -> None:
    """Tables, columns, indexes and constraints after ``alembic upgrade head`` are those the models declare."""

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    engine = create_engine_from_url(db_url)
    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    await engine.dispose()


def test_json_log_lines_carry_extra_fields() -> None:
    record = logging.makeLogRecord({"name": "backend.x", "levelname": "INFO", "msg": "batch closed", "batch_id": "b1"})
    line = json.loads(JsonFormatter().format(record))
    assert (line["msg"], line["batch_id"], line["level"]) == ("batch closed", "b1", "INFO")


async def test_in_process_fan_out_drops_oldest_for_slow_subscribers() -> None:
    broadcaster = Broadcaster(queue_size=2)
    with_room, slow = broadcaster.subscribe(), broadcaster.subscribe()
    for i in range(3):
        await broadcaster.publish({"n": i})
    assert [await anext(slow) for _ in range(2)] == [{"n": 1}, {"n": 2}]
    with_room.close()
    await broadcaster.publish({"n": 3})
    assert with_room.queue.qsize() == 2 and await anext(slow) == {"n": 3}


async def test_redis_fan_out_reaches_other_processes(redis_url: str | None, redis_prefix: str) -> None:
    if redis_url is None:
        pytest.skip("cross-process fan-out needs Redis")
    clients = [Redis.from_url(redis_url, decode_responses=True) for _ in range(2)]
    sender, receiver = (Broadcaster(c, channel=f"{redis_prefix}events") for c in clients)
    await receiver.start()
    try:
        async with receiver.subscribe() as subscription:
            await sender.publish({"type": "event", "event": {"id": 1}})
            assert await asyncio.wait_for(anext(subscription), timeout=5) == {"type": "event", "event": {"id": 1}}
    finally:
        await receiver.stop()
        for client in clients:
            await client.aclose()
