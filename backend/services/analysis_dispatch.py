"""Hands closed batches and fast-path detections to the analyzer, announces the events, and retries failures.

* An analyzer call that raises still leaves an event: ``not_assessed`` with the error, retried with exponential
  backoff (``event_store``); the WebSocket announces it like any other.
* ``retry_due(now)`` re-runs analyses of not-assessed events whose ``next_retry_at`` has passed, and delivers
  again closed batches whose analysis never completed (their lease ran out: a crash, a lost task); a batch
  delivered ``max_attempts`` times without an event becomes ``failed``.
* At most ``concurrency`` analyses run at once in this process; ``nemotron_batch_queue_depth`` counts those
  running or waiting.
* ``publish(event)`` broadcasts a stored event; the API layer that passes it in decides the message it becomes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from backend.db.session import rows_affected, run_unit_of_work
from backend.models import Batch, BatchStatus, Event, EventKind, EventStatus, utcnow
from backend.services import metrics
from backend.services.batcher import batch_detection_pks
from backend.services.detection_rows import detector_id
from backend.services.event_store import event_detection_pks, events_to_retry, fast_path_key, save_event

logger = logging.getLogger(__name__)

RETRY_POLL_SECONDS = 5.0


class Analyzer(Protocol):
    """``backend.services.nemotron_analyzer.NemotronAnalyzer``: both return the stored Event."""

    async def analyze_batch(self, batch_id: str, camera_id: str, detection_ids: list[int]) -> Event: ...

    async def analyze_detection_fast_path(self, camera_id: str, detection_id: int) -> Event: ...


class AnalysisDispatcher:
    def __init__(
        self,
        analyzer: Analyzer,
        session_factory: async_sessionmaker[AsyncSession],
        publish: Callable[[Event], Awaitable[None]],
        *,
        retry_base_seconds: float = 30.0,
        max_attempts: int = 5,
        lease_seconds: float = 300.0,
        concurrency: int = 2,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._analyzer = analyzer
        self._sessions = session_factory
        self._publish = publish
        self._retry_base = retry_base_seconds
        self._max_attempts = max_attempts
        self._lease = timedelta(seconds=lease_seconds)
        self._slots = asyncio.Semaphore(concurrency)
        self._clock = clock

    async def on_batch_closed(self, batch_id: str, camera_id: str, detection_ids: list[int]) -> Event:
        metrics.QUEUE_DEPTH.inc()
        try:
            async with self._slots:
                try:
                    event = await self._analyzer.analyze_batch(batch_id, camera_id, detection_ids)
                except Exception as exc:
                    event = await self._save_failure(batch_id, camera_id, EventKind.BATCH, detection_ids, exc)
        finally:
            metrics.QUEUE_DEPTH.dec()
        return await self._announce(event, analyzed_batch=batch_id)

    async def on_fast_path(self, camera_id: str, detection_id: int) -> Event:
        metrics.QUEUE_DEPTH.inc()
        try:
            async with self._slots:
                try:
                    event = await self._analyzer.analyze_detection_fast_path(camera_id, detection_id)
                except Exception as exc:
                    external_id = await run_unit_of_work(self._sessions, detector_id, detection_id)
                    key = fast_path_key(camera_id, external_id or str(detection_id))
                    event = await self._save_failure(key, camera_id, EventKind.FAST_PATH, [detection_id], exc)
        finally:
            metrics.QUEUE_DEPTH.dec()
        return await self._announce(event)

    async def _save_failure(
        self, batch_id: str, camera_id: str, kind: EventKind, detection_ids: list[int], exc: Exception
    ) -> Event:
        metrics.ANALYSIS_FAILURES.labels(kind.value).inc()
        logger.warning(
            "analysis failed",
            extra={"batch_id": batch_id, "camera_id": camera_id, "kind": kind.value, "error": repr(exc)},
            exc_info=exc,
        )
        return await run_unit_of_work(
            self._sessions,
            save_event,
            batch_id=batch_id,
            camera_id=camera_id,
            kind=kind,
            detection_pks=detection_ids,
            assessment={"status": EventStatus.NOT_ASSESSED, "error": f"{type(exc).__name__}: {exc}"},
            retry_base_seconds=self._retry_base,
            max_attempts=self._max_attempts,
            now=self._clock(),
        )

    async def _announce(self, event: Event, analyzed_batch: str | None = None) -> Event:
        """Counts and broadcasts the event as stored now (the analyzer's instance may be detached or stale);
        ``analyzed_batch`` is marked analyzed in the same unit of work."""
        identity = inspect(event).identity
        if identity is None:
            raise LookupError("the analyzer returned an event that was never stored")
        stored = await run_unit_of_work(self._sessions, _stored_event, identity[0], analyzed_batch)
        if stored is None:
            raise LookupError(f"the analyzer returned event {identity[0]}, which is not stored")
        metrics.EVENTS.labels(stored.risk_level or "none", stored.status).inc()
        logger.info(
            "event stored",
            extra={
                "event_id": stored.id,
                "batch_id": stored.batch_id,
                "camera_id": stored.camera_id,
                "status": stored.status,
                "risk_level": stored.risk_level,
                "risk_score": stored.risk_score,
                "attempts": stored.attempts,
            },
        )
        await self.announce(stored)
        return stored

    async def announce(self, event: Event) -> None:
        """Broadcasts a new or updated event; a broadcast failure is logged, never raised."""
        try:
            await self._publish(event)
        except Exception:
            logger.exception("event broadcast failed", extra={"event_id": event.id})

    async def retry_due(self, now: datetime | None = None) -> int:
        """Re-runs every due retry (one at a time); returns how many were started."""
        now = now or self._clock()
        async with self._sessions() as session:
            events = await events_to_retry(session, now, lease_seconds=self._lease.total_seconds())
            event_work = [(event, await event_detection_pks(session, event.id)) for event in events]
            batches = await self._claim_undelivered_batches(session, now)
        for event, pks in event_work:
            if not pks:
                continue
            logger.info("retrying analysis", extra={"event_id": event.id, "attempt": event.attempts + 1})
            if event.kind == EventKind.FAST_PATH:
                await self.on_fast_path(event.camera_id, pks[0])
            else:
                await self.on_batch_closed(event.batch_id, event.camera_id, pks)
        for batch_id, camera_id, pks in batches:
            logger.info("redelivering batch", extra={"batch_id": batch_id, "camera_id": camera_id})
            await self.on_batch_closed(batch_id, camera_id, pks)
        return len(event_work) + len(batches)

    async def _claim_undelivered_batches(
        self, session: AsyncSession, now: datetime
    ) -> list[tuple[str, str, list[int]]]:
        """Closed batches past their lease, each claimed for this caller (attempts + 1, a new lease)."""
        due = (
            await session.execute(
                select(Batch.id, Batch.camera_id, Batch.attempts, Batch.next_retry_at)
                .where(Batch.status == BatchStatus.CLOSED, Batch.next_retry_at <= now)
                .order_by(Batch.next_retry_at)
                .limit(100)
            )
        ).all()
        claimed: list[tuple[str, str, list[int]]] = []
        for batch_id, camera_id, attempts, retry_at in due:
            give_up = attempts + 1 >= self._max_attempts
            changed = await rows_affected(
                session,
                update(Batch)
                .where(Batch.id == batch_id, Batch.status == BatchStatus.CLOSED, Batch.next_retry_at == retry_at)
                .values(
                    attempts=attempts + 1,
                    status=BatchStatus.FAILED if give_up else BatchStatus.CLOSED,
                    next_retry_at=None if give_up else now + self._lease,
                ),
            )
            if changed == 1:
                claimed.append((batch_id, camera_id, await batch_detection_pks(session, batch_id)))
        await session.commit()
        return claimed

    async def run(self) -> None:
        """The background retry loop (cancel to stop)."""
        while True:
            await asyncio.sleep(RETRY_POLL_SECONDS)
            try:
                await self.retry_due()
            except Exception:
                logger.exception("retry pass failed")


def _stored_event(session: Session, event_id: int, analyzed_batch: str | None) -> Event | None:
    if analyzed_batch is not None:
        session.execute(
            update(Batch)
            .where(Batch.id == analyzed_batch, Batch.status.in_([BatchStatus.CLOSED, BatchStatus.FAILED]))
            .values(status=BatchStatus.ANALYZED, next_retry_at=None)
        )
    stored = session.get(Event, event_id)
    session.commit()
    return stored
