"""Reads the backend's tables straight from its database (SQLite file or PostgreSQL), read-only, into a Snapshot.

The harness judges the backend by what it stored, not by what its API says: a read that fails (the database
restarting) returns None and the poll is simply skipped.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.faults.ledger import BatchRow, DetectionRow, EventRow, Snapshot

QUERIES = {
    "detections": "SELECT id, camera_id, detection_id, batch_id, fast_path FROM detections",
    "batches": "SELECT id, camera_id, status FROM batches",
    "events": "SELECT id, batch_id, kind, status, attempts, next_retry_at, error, llm_latency_ms FROM events",
    "links": "SELECT event_id, detection_id FROM event_detections",
}


def _snapshot(rows: dict[str, list[Any]]) -> Snapshot:
    return Snapshot(
        detections=tuple(DetectionRow(int(r[0]), str(r[1]), str(r[2]), r[3], bool(r[4])) for r in rows["detections"]),
        batches=tuple(BatchRow(str(r[0]), str(r[1]), str(r[2])) for r in rows["batches"]),
        events=tuple(
            EventRow(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                int(r[4]),
                None if r[5] is None else str(r[5]),
                r[6] or "",
                r[7],
            )
            for r in rows["events"]
        ),
        links=tuple((int(r[0]), int(r[1])) for r in rows["links"]),
    )


class SqliteReader:
    def __init__(self, path: str) -> None:
        self.path = path

    def _read(self) -> Snapshot:
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10, isolation_level=None)
        try:
            connection.execute("BEGIN")  # one read transaction: every table from the same moment
            rows = {name: connection.execute(sql).fetchall() for name, sql in QUERIES.items()}
        finally:
            connection.close()
        return _snapshot(rows)

    async def read(self) -> Snapshot | None:
        try:
            return await asyncio.to_thread(self._read)
        except sqlite3.Error:
            return None

    async def close(self) -> None:
        return None


class PostgresReader:
    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one connection, one query at a time

    async def read(self) -> Snapshot | None:
        async with self._lock:
            return await self._read()

    async def _read(self) -> Snapshot | None:
        try:
            if self._connection is None or self._connection.is_closed():
                self._connection = await asyncpg.connect(self.url, timeout=3)
            async with self._connection.transaction(isolation="repeatable_read", readonly=True):
                rows = {name: list(await self._connection.fetch(sql)) for name, sql in QUERIES.items()}
        except Exception:  # the server restarting, a dropped connection: this poll is skipped
            await self.close()
            return None
        return _snapshot(rows)

    async def close(self) -> None:
        if self._connection is not None:
            try:
                await asyncio.wait_for(self._connection.close(), 2)
            except Exception:
                self._connection.terminate()
            self._connection = None


Reader = SqliteReader | PostgresReader
