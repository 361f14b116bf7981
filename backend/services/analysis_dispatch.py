"""Hands closed batches and fast-path detections to the analyzer, announces the events, and retries failures
by their kind (``backend.domain.errors``).

* An analysis that raises still leaves an event, ``not_assessed`` with the reason (``event_store.NotAssessed``).
  A **retryable** failure (the LLM down, silent or busy; an open circuit breaker) uses up nothing: the event is
  due again at once, and the LLM health gate holds every analysis back until a health probe says the LLM is
  back (probes back off 1, 2, 4 ... ``health_backoff_max`` seconds). A **deterministic** failure (answers
  unusable, prompt over budget, a refused request, a bug) costs an attempt and backs off; at
  ``max_attempts`` the event is ``failed``, a terminal state the API and the WebSocket show with its reason.
* ``retry_due(now)`` claims due retries **oldest first** (by first detection) as analysis slots free up, so a
  backlog drains in order at ``concurrency``; it also delivers again closed batches whose analysis never
  completed (their lease ran out: a crash, a lost task), never one still queued in this process.
* A batch waiting for a slot renews its lease when it gets one (``batch_lifecycle.start_delivery``); if it
  was done meanwhile, it is neither analyzed nor announced again.
* ``nemotron_batch_queue_depth`` counts analyses running or waiting; ``publish(event)`` broadcasts a stored
  event, and the API layer that passes it in decides the message it becomes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from backend.db.session import rows_affected, run_unit_of_work
from backend.domain.errors import LLMUnavailableError
from backend.models import Event, EventKind, EventStatus, utcnow
from backend.services import batch_lifecycle, metrics
from backend.services.batcher import batch_detection_pks
from backend.services.detection_rows import detector_id
from backend.services.event_store import NotAssessed, event_detection_pks, events_to_retry, fast_path_key, save_event
from backend.services.outages import storage_outage

logger = logging.getLogger(__name__)

RETRY_POLL_SECONDS = 1.0
FIRST_PROBE_DELAY_SECONDS = 1.0


class Analyzer(Protocol):
    """``backend.services.nemotron_analyzer.NemotronAnalyzer``: both return the stored Event."""

    async def analyze_batch(self, batch_id: str, camera_id: str, detection_ids: list[int]) -> Event: ...

    async def analyze_detection_fast_path(self, camera_id: str, detection_id: int) -> Event: ...


class LLMHealthGate:
    """Whether analyses may go to the LLM now.

    Open until an analysis fails as unavailable; then closed until ``probe()`` (the LLM's ``/health``) answers
    True. Probes are spaced 1, 2, 4 ... seconds apart, capped at ``max_delay``; the spacing keeps growing while
    the LLM passes its health probe but still fails analyses (busy, loading), and starts again at 1 s after an
    analysis succeeds. Without a probe the gate opens again after each delay (one trial analysis). ``reason``
    keeps the last unavailability, for the events that wait meanwhile.
    """

    def __init__(
        self,
        probe: Callable[[], Awaitable[bool]] | None = None,
        *,
        max_delay: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._max_delay = max_delay
        self._clock = clock
        self.healthy = True
        self.reason = ""
        self._delay = FIRST_PROBE_DELAY_SECONDS
        self._next_probe = 0.0
        self._lock = asyncio.Lock()

    def unavailable(self, reason: str) -> None:
        if self.healthy:
            self._next_probe = self._clock() + self._delay
            logger.warning("LLM unavailable: analyses wait for it", extra={"error": reason})
        self.healthy = False
        self.reason = reason

    def succeeded(self) -> None:
        """An analysis got its answer: the next outage starts probing at 1 s again."""
        self._delay = FIRST_PROBE_DELAY_SECONDS

    async def ready(self) -> bool:
        """True when analyses may go: healthy, or a due probe just said so."""
        if self.healthy:
            return True
        async with self._lock:
            if self.healthy or self._clock() < self._next_probe:
                return self.healthy
            ok = True if self._probe is None else await self._probe()
            self._delay = min(self._delay * 2, self._max_delay)
            if ok:
                self.healthy = True
                logger.info("LLM healthy again: analyses resume")
            else:
                self._next_probe = self._clock() + self._delay
            return ok


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
        health: LLMHealthGate | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._analyzer = analyzer
        self._sessions = session_factory
        self._publish = publish
        self._retry_base = retry_base_seconds
        self._max_attempts = max_attempts
        self._lease = timedelta(seconds=lease_seconds)
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self.health = health or LLMHealthGate()
        self._clock = clock
        self._queued: set[str] = set()  # batch ids (or fast-path keys) waiting for or holding a slot here
        self._retries: set[asyncio.Task[object]] = set()

    async def on_batch_closed(self, batch_id: str, camera_id: str, detection_ids: list[int]) -> Event | None:
        """Analyzes a closed batch and announces its event; None when the batch turned out done already."""
        return await self._deliver(batch_id, camera_id, EventKind.BATCH, detection_ids)

    async def on_fast_path(self, camera_id: str, detection_id: int) -> Event | None:
        external_id = await run_unit_of_work(self._sessions, detector_id, detection_id)
        key = fast_path_key(camera_id, external_id or str(detection_id))
        return await self._deliver(key, camera_id, EventKind.FAST_PATH, [detection_id])

    async def _deliver(
        self, key: str, camera_id: str, kind: EventKind, pks: list[int], *, retry: bool = False
    ) -> Event | None:
        """One analysis when a slot is free. A batch's delivery (not the retry of its stored event) is skipped,
        returning None, when the batch got its event meanwhile."""
        metrics.QUEUE_DEPTH.inc()
        self._queued.add(key)
        try:
            async with self._slots:
                if kind == EventKind.BATCH and not retry and not await self._still_due(key):
                    return None
                event = await self._analyze(key, camera_id, kind, pks)
        finally:
            self._queued.discard(key)
            metrics.QUEUE_DEPTH.dec()
        return await self._announce(event, analyzed_batch=key if kind == EventKind.BATCH else None)

    async def _still_due(self, batch_id: str) -> bool:
        async with self._sessions() as session:
            return await batch_lifecycle.start_delivery(session, batch_id, self._clock(), self._lease)

    async def _analyze(self, key: str, camera_id: str, kind: EventKind, pks: list[int]) -> Event:
        if not await self.health.ready():  # the LLM is down: do not spend the analysis, just record the wait
            return await self._save_failure(key, camera_id, kind, pks, LLMUnavailableError(self.health.reason))
        try:
            if kind == EventKind.FAST_PATH:
                event = await self._analyzer.analyze_detection_fast_path(camera_id, pks[0])
            else:
                event = await self._analyzer.analyze_batch(key, camera_id, pks)
        except Exception as raised:
            exc = storage_outage(raised) or raised  # a database or Redis outage is retryable, not a spent attempt
            if isinstance(exc, LLMUnavailableError):
                self.health.unavailable(str(exc))
            return await self._save_failure(key, camera_id, kind, pks, exc)
        self.health.succeeded()
        return event

    async def _save_failure(
        self, batch_id: str, camera_id: str, kind: EventKind, detection_ids: list[int], exc: Exception
    ) -> Event:
        outcome = NotAssessed.of(exc)
        metrics.ANALYSIS_FAILURES.labels(kind.value).inc()
        logger.warning(
            "analysis failed",
            extra={
                "batch_id": batch_id,
                "camera_id": camera_id,
                "kind": kind.value,
                "error": outcome.error,
                "retryable": outcome.retryable,
            },
            exc_info=None if outcome.retryable else exc,
        )
        return await run_unit_of_work(
            self._sessions,
            save_event,
            batch_id=batch_id,
            camera_id=camera_id,
            kind=kind,
            detection_pks=detection_ids,
            outcome=outcome,
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

    async def reassess(self, batch_id: str) -> None:
        """Analyzes again the batch (or fast-path) event ``batch_id`` because its detections changed after it was
        assessed (Frigate's GenAI description, a face or a plate arrived later: ``frigate_ingest``); the new
        verdict replaces the old one in the same event row (one event per batch) and is announced as an update.

        Only an ``assessed`` event is re-assessed: a ``not_assessed`` one is analyzed again anyway (its retry reads
        the detections as they are then), a ``failed`` one is terminal, and a batch without an event yet is still
        to be analyzed. How:

        * the event is reopened: ``not_assessed``, ``attempts`` 0 (a fresh attempt budget) and ``next_retry_at``
          one lease ahead, in one conditional UPDATE (one of concurrent re-assessments wins; the others return),
          so that a process dying mid-way leaves it for the retry loop, never stuck;
        * it is analyzed in an analysis slot as any delivery is (``event_store.save_event`` then updates the
          ``not_assessed`` row in place: ``assessed``, the new verdict, ``attempts`` 1) and announced;
        * a retryable failure (the LLM unavailable) leaves it ``not_assessed`` and due at once: the retry loop
          re-assesses it when the LLM is back (the previous verdict's columns stay in the row meanwhile); it is
          announced so;
        * a deterministic failure (an unusable answer, a refused request) or an error puts the previous state
          back (``assessed``, its attempts, no retry; logged, not announced): the old verdict stands.
        """
        async with self._sessions() as session:
            event = await session.scalar(select(Event).where(Event.batch_id == batch_id))
            if event is None or event.status != EventStatus.ASSESSED:
                return
            event_id, camera_id, kind, attempts = event.id, event.camera_id, EventKind(event.kind), event.attempts
            pks = await event_detection_pks(session, event_id)
            if not pks:
                return
            reopened = await rows_affected(
                session,
                update(Event)
                .where(Event.id == event_id, Event.status == EventStatus.ASSESSED, Event.attempts == attempts)
                .values(status=EventStatus.NOT_ASSESSED, attempts=0, next_retry_at=self._clock() + self._lease)
                .execution_options(synchronize_session=False),
            )
            await session.commit()
        if reopened != 1:
            return
        logger.info("re-assessing event", extra={"event_id": event_id, "batch_id": batch_id, "camera_id": camera_id})

        async def restore(reason: str) -> None:
            async with self._sessions() as session:
                await session.execute(
                    update(Event)
                    .where(Event.id == event_id, Event.status != EventStatus.ASSESSED)
                    .values(status=EventStatus.ASSESSED, attempts=attempts, next_retry_at=None, error="")
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
            logger.warning(
                "re-assessment failed: the previous verdict stands",
                extra={"event_id": event_id, "batch_id": batch_id, "error": reason},
            )

        metrics.QUEUE_DEPTH.inc()
        self._queued.add(batch_id)
        try:
            async with self._slots:
                stored = await self._analyze(batch_id, camera_id, kind, pks)
        except BaseException as exc:
            try:
                await restore(f"{type(exc).__name__}: {exc}")
            except Exception:  # the event stays reopened: the retry loop re-assesses it after the lease
                logger.exception("re-assessment failed and the event could not be restored")
            raise
        finally:
            self._queued.discard(batch_id)
            metrics.QUEUE_DEPTH.dec()
        if stored.status != EventStatus.ASSESSED and not (
            stored.status == EventStatus.NOT_ASSESSED and stored.attempts == 0  # retryable: the retry loop goes on
        ):
            await restore(stored.error)
            return
        await self._announce(stored)

    async def retry_due(self, now: datetime | None = None, *, wait: bool = True) -> int:
        """Starts due retries, oldest first, as many as analysis slots are free (all due ones when the loop is
        not running: ``wait`` then waits for them); returns how many were started. Nothing starts while the
        LLM health gate is closed."""
        now = now or self._clock()
        if not await self.health.ready():
            return 0
        free = max(0, self._concurrency - len(self._retries))
        limit = free if not wait else 100
        if limit == 0:
            return 0
        async with self._sessions() as session:
            events = await events_to_retry(session, now, lease_seconds=self._lease.total_seconds(), limit=limit)
            event_work = [(event, await event_detection_pks(session, event.id)) for event in events]
            batches = await batch_lifecycle.claim_undelivered(
                session,
                now,
                self._lease,
                self._max_attempts,
                limit=max(0, limit - len(event_work)),
                exclude=frozenset(self._queued),
            )
            batch_work = [(b, c, await batch_detection_pks(session, b)) for b, c in batches]
        started: list[asyncio.Task[object]] = []
        for event, pks in event_work:
            if not pks:
                continue
            logger.info("retrying analysis", extra={"event_id": event.id, "attempts": event.attempts})
            kind = EventKind(event.kind)
            started.append(self._start(self._deliver(event.batch_id, event.camera_id, kind, pks, retry=True)))
        for batch_id, camera_id, pks in batch_work:
            logger.info("redelivering batch", extra={"batch_id": batch_id, "camera_id": camera_id})
            started.append(self._start(self._deliver(batch_id, camera_id, EventKind.BATCH, pks)))
        if wait and started:
            await asyncio.gather(*started, return_exceptions=True)
        return len(started)

    def _start(self, work: Awaitable[object]) -> asyncio.Task[object]:
        async def run() -> object:
            return await work

        task = asyncio.create_task(run())
        self._retries.add(task)
        task.add_done_callback(self._retry_done)
        return task

    def _retry_done(self, task: asyncio.Task[object]) -> None:
        self._retries.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("retry failed", exc_info=task.exception())

    async def run(self) -> None:
        """The background retry loop (cancel to stop): claims due work as slots free up."""
        try:
            while True:
                await asyncio.sleep(RETRY_POLL_SECONDS)
                try:
                    await self.retry_due(wait=False)
                except Exception:
                    logger.exception("retry pass failed")
        finally:
            for task in list(self._retries):
                task.cancel()
            await asyncio.gather(*self._retries, return_exceptions=True)


def _stored_event(session: Session, event_id: int, analyzed_batch: str | None) -> Event | None:
    if analyzed_batch is not None:
        batch_lifecycle.mark_analyzed(session, analyzed_batch)
    stored = session.get(Event, event_id)
    session.commit()
    return stored
