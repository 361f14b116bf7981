"""Which failures are storage outages: the database or Redis cannot be reached right now.

``storage_outage(exc)`` turns such a failure into the one error kind for it, ``StorageUnavailableError``
(retryable, HTTP 503), and returns None for anything else (a bug, a constraint, bad input), which must not be
retried blindly nor reported as an outage. It looks through the exception's chain (SQLAlchemy wraps the driver's
error in ``orig``, drivers chain theirs as ``__cause__``):

* SQLAlchemy: a disconnect it detected (``connection_invalidated``), a pool timeout;
* PostgreSQL (asyncpg): SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, crash, starting up),
  53300 (too many connections), 3D000 (the database is missing: being restored or renamed), and asyncpg's
  "connection is closed";
* SQLite: "database is locked" (after the busy timeout), "unable to open database file", "disk I/O error";
* Redis: connection refused or reset, timeouts;
* plain ``OSError`` (refused, reset, unreachable, ``TimeoutError``) raised while connecting.
"""

from __future__ import annotations

import sqlite3

import asyncpg  # type: ignore[import-untyped]
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from backend.domain.errors import StorageUnavailableError

# 3D000: the database does not exist (yet, or any more: being restored or renamed); the service cannot have
# asked for a wrong name after it started, since it migrated that database at start-up
_PG_OUTAGE_STATES = ("08", "57P01", "57P02", "57P03", "53300", "3D000")
_SQLITE_OUTAGE_TEXTS = ("database is locked", "unable to open database file", "disk i/o error", "database is busy")
_MAX_CHAIN = 10


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, SQLAlchemy's ``orig``, and the causes behind them (each once; not ``__context__``: an error
    raised while handling another is not caused by it)."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending and len(seen) < _MAX_CHAIN:
        current = pending.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending += [getattr(current, "orig", None), current.__cause__]
    return seen


def _what(exc: BaseException) -> str | None:
    """'database' or 'Redis' when ``exc`` itself says that part is unreachable; None otherwise."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return "Redis"
    if isinstance(exc, PoolTimeoutError):
        return "database"
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "database"
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return "database" if state.startswith(_PG_OUTAGE_STATES) else None
    if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
        return "database"
    if isinstance(exc, sqlite3.OperationalError):
        return "database" if any(text in str(exc).lower() for text in _SQLITE_OUTAGE_TEXTS) else None
    if isinstance(exc, OSError):
        return "storage"
    return None


def storage_outage(exc: BaseException) -> StorageUnavailableError | None:
    """A ``StorageUnavailableError`` (chained to ``exc``) when ``exc`` means the database or Redis is unreachable;
    None otherwise."""
    if isinstance(exc, StorageUnavailableError):
        return exc
    for link in _chain(exc):
        what = _what(link)
        if what is not None:
            outage = StorageUnavailableError(f"{what} unavailable: {type(link).__name__}")
            outage.__cause__ = exc
            return outage
    return None
