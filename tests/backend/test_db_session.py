"""``run_unit_of_work``: one synchronous unit of work, in a worker thread on an SQLite file, through
``AsyncSession.run_sync`` elsewhere; it sees what the async engine wrote and leaves nothing half-written."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from backend.db.session import (
    _thread_sessions,
    create_engine_from_url,
    create_session_factory,
    init_db,
    run_unit_of_work,
)
from backend.models import Base, Camera
from tests.backend.helpers import add_camera

Sessions = async_sessionmaker[AsyncSession]


def _add_two_then_fail(session: Session) -> None:
    session.add_all([Camera(id="a", name="A"), Camera(id="b", name="B")])
    session.flush()
    raise RuntimeError("failed half-way")


def _camera_names(session: Session, add: str | None = None) -> tuple[list[str], int]:
    if add is not None:
        session.add(Camera(id=add, name=add.title()))
        session.commit()
    names = list(session.scalars(select(Camera.name).order_by(Camera.id)))
    return names, threading.get_ident()


async def test_unit_of_work_sees_async_writes_and_commits(sessions: Sessions, db_url: str) -> None:
    async with sessions() as session:
        await add_camera(session, "front_door", "Front door")
    names, thread = await run_unit_of_work(sessions, _camera_names, add="porch")
    assert names == ["Front door", "Porch"]
    # an SQLite file: a worker thread of its own; PostgreSQL: the event loop's thread (greenlet)
    assert (thread != threading.get_ident()) == db_url.startswith("sqlite")
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Camera)) == 2


async def test_a_failing_unit_of_work_writes_nothing(sessions: Sessions) -> None:
    with pytest.raises(RuntimeError, match="half-way"):
        await run_unit_of_work(sessions, _add_two_then_fail)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Camera)) == 0


async def test_in_memory_sqlite_runs_on_its_one_connection() -> None:
    url = "sqlite+aiosqlite://"
    engine = create_engine_from_url(url)
    async with engine.begin() as connection:  # the schema on the one shared in-memory connection
        await connection.run_sync(Base.metadata.create_all)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        await add_camera(session, "front_door", "Front door")
    names, thread = await run_unit_of_work(sessions, _camera_names)
    assert names == ["Front door"]
    assert thread == threading.get_ident()
    await engine.dispose()


async def test_disposing_the_engine_closes_the_worker_thread_connections(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nemotron.db'}"
    await init_db(url)
    engine = create_engine_from_url(url)
    await run_unit_of_work(create_session_factory(engine), _camera_names)
    thread_sessions = _thread_sessions(engine)
    assert thread_sessions is not None
    pool = thread_sessions.kw["bind"].pool
    assert pool.checkedin() == 1
    await engine.dispose()
    assert thread_sessions.kw["bind"].pool.checkedin() == 0
