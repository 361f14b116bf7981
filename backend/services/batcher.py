"""Groups each camera's detections into batches and hands closed batches (and fast-path detections) over.

A batch closes ``BATCH_WINDOW_SECONDS`` after it opened, ``BATCH_IDLE_SECONDS`` after its last detection, or
when it holds ``BATCH_MAX_DETECTIONS``; it is then handed to ``on_batch_closed(batch_id, camera_id,
detection_pks)``. The open-batch state lives in ``batch_state`` (this process or Redis); the ``batches`` rows and
``detections.batch_id`` are the durable record, written in the ingest's own transaction:

* ``assign`` (inside the ingest transaction) places detections, upserting their Batch rows in one statement; an
  upsert refused because the batch was closed meanwhile (another process) moves the detections to a fresh batch.
* ``dispatch`` (after the commit) closes batches that filled up or expired and fires the fast paths.
* ``flush_due(now)`` closes due batches; it is driven by ``run()`` and callable from tests with any clock.
  It also closes open rows the state lost (a rolled-back ingest, a Redis restart) once overdue.
* ``recover()`` (start-up) puts the database's open batches back into the state.

Closing is ``batch_lifecycle.close`` (every status change of a batch lives there): one closer wins, and on
PostgreSQL it waits for an ingest still adding to the batch. A closed batch gets a delivery lease of
``ANALYSIS_LEASE_SECONDS``: if its analysis never completes, the retry loop delivers it again (the event store
keeps one event per batch).
Callbacks run as background tasks; ``drain()`` waits for them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.models import Batch, BatchStatus, Detection, table_of, utcnow
from backend.services import batch_lifecycle, metrics
from backend.services.background import BackgroundTasks
from backend.services.batch_state import BatchRules, BatchState, Placement

logger = logging.getLogger(__name__)

BatchClosedCallback = Callable[[str, str, list[int]], Coroutine[Any, Any, object]]
FastPathCallback = Callable[[str, int], Coroutine[Any, Any, object]]


def new_batch_id() -> str:
    return uuid.uuid4().hex


async def batch_detection_pks(session: AsyncSession, batch_id: str) -> list[int]:
    """The batch's detections, in time order."""
    query = select(Detection.id).where(Detection.batch_id == batch_id).order_by(Detection.detected_at, Detection.id)
    return list((await session.scalars(query)).all())


@dataclass
class Assignment:
    """One camera's detections placed into batches: ``batch_ids[i]`` is the batch of the i-th detection."""

    camera_id: str
    batch_ids: list[str] = field(default_factory=list)
    to_close: list[str] = field(default_factory=list)


class Batcher:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        state: BatchState,
        rules: BatchRules,
        *,
        on_batch_closed: BatchClosedCallback,
        on_fast_path: FastPathCallback,
        analysis_lease_seconds: float = 300.0,
        tick_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = session_factory
        self._state = state
        self._rules = rules
        self._on_batch_closed = on_batch_closed
        self._on_fast_path = on_fast_path
        self._lease = timedelta(seconds=analysis_lease_seconds)
        self._tick = tick_seconds
        self.clock = clock
        self._tasks = BackgroundTasks(logger, "batch delivery failed")

    # --- ingest side ---------------------------------------------------------------------------------------

    async def assign(self, session: AsyncSession, counts: dict[str, int], now: datetime) -> list[Assignment]:
        """Places ``counts[camera_id]`` detections of each camera (in order); upserts the Batch rows in ``session``."""
        plan = await self._state.place({c: n for c, n in counts.items() if n}, new_batch_id, now.timestamp())
        expired = [(camera_id, p.expired) for camera_id, ps in plan.items() for p in ps if p.expired]
        pending = [(camera_id, p) for camera_id, ps in plan.items() for p in ps]
        while pending:
            accepted = await self._upsert_batches(session, pending, now)
            refused = [(camera_id, p) for camera_id, p in pending if p.batch_id not in accepted]
            pending = []
            for camera_id, placed in refused:  # closed by another process meanwhile: these go to a new batch
                await self._state.discard(camera_id, placed.batch_id)
                again = (await self._state.place({camera_id: placed.taken}, new_batch_id, now.timestamp()))[camera_id]
                position = plan[camera_id].index(placed)
                plan[camera_id][position : position + 1] = again
                expired += [(camera_id, p.expired) for p in again if p.expired]
                pending += [(camera_id, p) for p in again]

        assignments = {camera_id: Assignment(camera_id) for camera_id in plan}
        for camera_id, batch_id in expired:
            assignments[camera_id].to_close.append(batch_id)
        for camera_id, placements in plan.items():
            assignment = assignments[camera_id]
            for placed in placements:
                if placed.opened:
                    metrics.BATCHES.labels("opened").inc()
                    logger.info("batch opened", extra={"batch_id": placed.batch_id, "camera_id": camera_id})
                if placed.full:
                    assignment.to_close.append(placed.batch_id)
                assignment.batch_ids.extend([placed.batch_id] * placed.taken)
        return list(assignments.values())

    async def _upsert_batches(
        self, session: AsyncSession, placements: Sequence[tuple[str, Placement]], now: datetime
    ) -> set[str]:
        """One multi-row upsert; returns the ids it inserted or added to (an id already closed is refused)."""
        dialect = session.get_bind().dialect.name
        table = table_of(Batch)
        rows = [
            {
                "id": placed.batch_id,
                "camera_id": camera_id,
                "status": BatchStatus.OPEN,
                "opened_at": now,
                "last_detection_at": now,
                "detection_count": placed.taken,
                "attempts": 0,
            }
            for camera_id, placed in sorted(placements, key=lambda item: item[1].batch_id)  # lock order: see _close
        ]
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(rows)
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={
                "detection_count": table.c.detection_count + insert.excluded.detection_count,
                "last_detection_at": insert.excluded.last_detection_at,
            },
            where=table.c.status == BatchStatus.OPEN,
        ).returning(table.c.id)
        return set((await session.scalars(upsert)).all())

    def dispatch(self, assignments: Sequence[Assignment], fast_path: Sequence[tuple[str, int]]) -> None:
        """After the ingest commit: closes the batches it filled or found expired, and fires the fast paths."""
        for camera_id, detection_pk in fast_path:
            metrics.FAST_PATH.inc()
            logger.info("fast path", extra={"camera_id": camera_id, "detection_pk": detection_pk})
            self._spawn(self._on_fast_path(camera_id, detection_pk))
        to_close = [(a.camera_id, batch_id) for a in assignments for batch_id in a.to_close]
        if to_close:
            self._spawn(self._close(to_close, self.clock(), "full_or_expired"))

    # --- closing -------------------------------------------------------------------------------------------

    async def flush_due(self, now: datetime | None = None) -> list[str]:
        """Closes every batch due at ``now`` (default: the clock) and starts its delivery; returns their ids."""
        now = now or self.clock()
        due = await self._state.pop_due(now.timestamp())
        due += await self._overdue_rows(now, exclude={batch_id for _, batch_id in due})
        return await self._close(due, now, "due")

    async def flush_all(self) -> list[str]:
        """Closes every open batch now and waits for all deliveries (shutdown, demos)."""
        now = self.clock()
        batches = await self._state.pop_all()
        batches += await self._open_rows(exclude={batch_id for _, batch_id in batches})
        closed = await self._close(batches, now, "flush")
        await self.drain()
        return closed

    async def close_now(self, batches: Sequence[tuple[str, str]], reason: str) -> list[str]:
        """Closes the given ``(camera_id, batch_id)`` batches at once, whatever their due time (e.g. Frigate's
        review of their objects ended: ``frigate_ingest``), and starts their deliveries; returns the ids it
        closed, sorted. Each batch is first dropped from the open-batch state (a later detection of the camera
        opens a new batch), then closed as ``flush_due`` closes a due one (``_close``: one closer wins, so a
        batch already closed or unknown is left out of the result; a batch without detections is done at once).
        ``reason`` is logged with each closed batch."""
        for camera_id, batch_id in batches:
            await self._state.discard(camera_id, batch_id)
        return await self._close(batches, self.clock(), reason)

    async def _close(self, batches: Sequence[tuple[str, str]], now: datetime, reason: str) -> list[str]:
        """Marks the batches closed (those still open: one closer wins) in one transaction, starts the delivery
        of each, and returns their ids. A batch without detections (a rolled-back ingest) is done at once."""
        if not batches:
            return []
        camera_of = {batch_id: camera_id for camera_id, batch_id in batches}
        async with self._sessions() as session:
            pks = await batch_lifecycle.close(session, list(camera_of), now, self._lease)
            await session.commit()
        for batch_id, detections in pks.items():
            metrics.BATCHES.labels("closed").inc()
            logger.info(
                "batch closed",
                extra={
                    "batch_id": batch_id,
                    "camera_id": camera_of[batch_id],
                    "detections": len(detections),
                    "reason": reason,
                },
            )
            if detections:
                self._spawn(self._on_batch_closed(batch_id, camera_of[batch_id], detections))
        return sorted(pks)

    async def _overdue_rows(self, now: datetime, exclude: set[str]) -> list[tuple[str, str]]:
        """Open rows the state no longer knows, one idle period past their due time."""
        grace = timedelta(seconds=self._rules.idle_seconds)
        window, idle = timedelta(seconds=self._rules.window_seconds), timedelta(seconds=self._rules.idle_seconds)
        async with self._sessions() as session:
            rows = await session.execute(
                select(Batch.camera_id, Batch.id).where(
                    Batch.status == BatchStatus.OPEN,
                    or_(Batch.opened_at <= now - window - grace, Batch.last_detection_at <= now - idle - grace),
                )
            )
            overdue = [(camera_id, batch_id) for camera_id, batch_id in rows.all() if batch_id not in exclude]
        for camera_id, batch_id in overdue:
            await self._state.discard(camera_id, batch_id)
        return overdue

    async def _open_rows(self, exclude: set[str]) -> list[tuple[str, str]]:
        async with self._sessions() as session:
            rows = await session.execute(select(Batch.camera_id, Batch.id).where(Batch.status == BatchStatus.OPEN))
            return [(camera_id, batch_id) for camera_id, batch_id in rows.all() if batch_id not in exclude]

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def recover(self) -> int:
        """Start-up: the database's open batches become open in the state again (due ones close at the next
        tick); an open row of a camera that already has another open batch is closed. Returns how many."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(Batch).where(Batch.status == BatchStatus.OPEN).order_by(Batch.opened_at.desc())
                )
            ).all()
        now = self.clock()
        for row in rows:
            current = await self._state.restore(
                row.camera_id,
                row.id,
                row.opened_at.timestamp(),
                row.last_detection_at.timestamp(),
                row.detection_count,
            )
            if current != row.id:
                await self._close([(row.camera_id, row.id)], now, "superseded")
        if rows:
            logger.info("batches recovered", extra={"count": len(rows)})
        return len(rows)

    async def run(self) -> None:
        """The background loop: ``flush_due`` every tick, forever (cancel to stop)."""
        while True:
            await asyncio.sleep(self._tick)
            try:
                await self.flush_due()
            except Exception:
                logger.exception("batch flush failed")

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        self._tasks.spawn(coro)

    async def drain(self) -> None:
        """Waits until every delivery started so far (and any it started) has finished."""
        await self._tasks.drain()

    async def stop(self) -> None:
        """Cancels deliveries in progress (their batches stay closed and are redelivered after the lease)."""
        await self._tasks.stop()
