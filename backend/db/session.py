"""Async engines and sessions, and schema set-up (``alembic upgrade head``) for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, CursorResult, Executable, event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from backend.config.settings import normalize_database_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK_ID = 0x6E656D6F  # PostgreSQL advisory lock: one process migrates at a time


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _is_sqlite_memory(database: str | None) -> bool:
    return not database or database == ":memory:"


def create_engine_from_url(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if _is_sqlite_memory(parsed.database):
            kwargs.setdefault("poolclass", StaticPool)  # one shared connection, or each sees an empty database
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def rows_affected(session: AsyncSession, statement: Executable) -> int:
    """Runs an UPDATE/DELETE and returns how many rows it changed."""
    result = cast(CursorResult[Any], await session.execute(statement))
    return result.rowcount


def alembic_config(url: str | None = None) -> Config:
    """The migration configuration, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", normalize_database_url(url).replace("%", "%%"))
    return config


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def upgrade_schema(engine: AsyncEngine) -> None:
    """Runs ``alembic upgrade head`` on ``engine`` (serialized across processes on PostgreSQL)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        await connection.run_sync(_upgrade, config)


async def init_db(url: str) -> None:
    """Creates the SQLite file's folder if needed and brings the schema to the latest revision."""
    parsed = make_url(normalize_database_url(url))
    if parsed.get_backend_name() == "sqlite" and not _is_sqlite_memory(parsed.database):
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine_from_url(url)
    try:
        await upgrade_schema(engine)
    finally:
        await engine.dispose()
