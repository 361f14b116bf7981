"""Async engines and sessions, and schema set-up (``alembic upgrade head``) for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, CursorResult, Engine, Executable, create_engine, event, make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from backend.config.settings import normalize_database_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK_ID = 0x6E656D6F  # PostgreSQL advisory lock: one process migrates at a time
_P = ParamSpec("_P")
_T = TypeVar("_T")
# the plain sqlite3 sessions of each aiosqlite engine (see run_unit_of_work): disposed and dropped with it
_THREAD_SESSIONS: weakref.WeakKeyDictionary[Engine, sessionmaker[Session]] = weakref.WeakKeyDictionary()


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


def _thread_sessions(engine: AsyncEngine) -> sessionmaker[Session] | None:
    """Sessions on a plain sqlite3 (pysqlite) engine for the same SQLite file; None for other databases."""
    if engine.dialect.name != "sqlite" or _is_sqlite_memory(engine.url.database):
        return None  # PostgreSQL has no thread hops; an in-memory database is private to its one connection
    factory = _THREAD_SESSIONS.get(engine.sync_engine)
    if factory is None:
        sync_engine = create_engine(engine.url.set(drivername="sqlite+pysqlite"))
        event.listen(sync_engine, "connect", _sqlite_pragmas)
        factory = sessionmaker(sync_engine, expire_on_commit=False)
        _THREAD_SESSIONS[engine.sync_engine] = factory
        event.listen(engine.sync_engine, "engine_disposed", lambda _engine: sync_engine.dispose())
    return factory


async def run_unit_of_work(
    sessions: async_sessionmaker[AsyncSession],
    work: Callable[Concatenate[Session, _P], _T],
    /,
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _T:
    """Runs ``work(session, *args, **kwargs)`` with a synchronous ORM Session, as one unit of work.

    On an SQLite file it runs in one worker thread, on a plain sqlite3 connection to the same file (WAL, same
    pragmas). aiosqlite hops to its own thread about four times per statement (cursor, execute, fetch,
    close), 0.1 ms each on a busy 2-core machine; a dozen statements cost 10 ms that way and about 1 ms here.
    Elsewhere (PostgreSQL, in-memory SQLite) it is ``AsyncSession.run_sync`` on the async engine.
    """
    engine = sessions.kw.get("bind")
    thread_sessions = _thread_sessions(engine) if isinstance(engine, AsyncEngine) else None
    if thread_sessions is None:
        async with sessions() as session:
            return await session.run_sync(work, *args, **kwargs)

    def in_thread() -> _T:
        with thread_sessions() as session:
            return work(session, *args, **kwargs)

    return await asyncio.to_thread(in_thread)


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
