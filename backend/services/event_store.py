"""Storing, listing and reviewing events: exactly one event per batch, even under concurrent deliveries.

``save_event`` takes a typed outcome, ``Assessed`` or ``NotAssessed``, and inserts with the unique ``batch_id``
(``INSERT ... ON CONFLICT DO NOTHING``); when the row is already there it loads it, and a ``not_assessed`` row
is updated in place by a later outcome (the retry path). What a failure does depends on its kind
(``backend.domain.errors``):

* retryable (the LLM or storage unavailable): the event stays ``not_assessed``, due again at once, and its
  ``attempts`` are not used up: the dispatcher waits for the LLM to be healthy before it retries;
* deterministic (answers unusable, prompt over budget, a refused request, a bug): ``attempts`` + 1 and
  ``next_retry_at`` with exponential backoff; at ``max_attempts`` the event becomes ``failed`` (terminal, with
  its reason in ``error``).

``attempts`` counts the analyses that used up the budget: deterministic failures and the one that succeeded.
``error`` is cleared when the event is assessed. ``events_to_retry`` hands due events out oldest first
(by first detection), each to one caller only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Insert, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from backend.db.session import rows_affected
from backend.domain.errors import is_retryable
from backend.domain.risk_levels import MAX_SCORE, MIN_SCORE, RiskLevel, level_for_score
from backend.models import Detection, Event, EventDetection, EventKind, EventStatus, table_of, utcnow

MAX_ERROR_CHARS = 2000  # a stored error is cut to this length


def fast_path_key(camera_id: str, detection_id: str) -> str:
    """The ``batch_id`` of the fast-path event of one detection (its external id)."""
    return f"fast:{camera_id}:{detection_id}"


@functools.cache
def insert_ignoring_conflicts(dialect: str, table: Table, conflict_columns: tuple[str, ...]) -> Insert:
    """``INSERT ... ON CONFLICT (conflict_columns) DO NOTHING`` for ``dialect``, the values given as execution
    parameters: built once, since building and cache-keying a statement costs more than running it on SQLite."""
    insert: Callable[[Table], postgresql.Insert | sqlite.Insert]
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:
        raise NotImplementedError(f"unsupported database dialect {dialect!r}")
    return insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))


@functools.cache
def _insert_event(dialect: str) -> ExecutableReturnsRows:
    """The event INSERT (ignoring a conflicting ``batch_id``) that returns the new row as an Event."""
    table = table_of(Event)
    return select(Event).from_statement(insert_ignoring_conflicts(dialect, table, ("batch_id",)).returning(*table.c))


def retry_delay(attempts: int, base_seconds: float) -> timedelta:
    """Exponential backoff: base, 2*base, 4*base, ... after the 1st, 2nd, 3rd failed attempt."""
    return timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0))


class Assessed(BaseModel):
    """A verdict to store: ``risk_score`` 0-100 and the ``risk_level`` of its band (``backend.domain.risk_levels``);
    ``started_at``/``ended_at`` default to the first and last detection time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    risk_score: int = Field(ge=MIN_SCORE, le=MAX_SCORE, strict=True)
    risk_level: RiskLevel
    summary: str = ""
    reasoning: str = ""
    risk_factors: list[str] = Field(default_factory=list)
    recommended_action: str = ""
    template: str = ""
    decided_by: dict[str, Any] = Field(default_factory=dict)
    level_corrected: bool = False
    correction_note: str = ""
    llm_model: str = ""
    llm_latency_ms: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @model_validator(mode="after")
    def _level_is_the_band(self) -> Assessed:
        band = level_for_score(self.risk_score)
        if self.risk_level != band:
            raise ValueError(f"risk_level {self.risk_level!r} is not the band of risk_score {self.risk_score} ({band})")
        return self

    def columns(self) -> dict[str, Any]:
        values = self.model_dump(exclude_none=True, exclude={"risk_level"})
        return {**values, "risk_level": str(self.risk_level), "error": ""}


class NotAssessed(BaseModel):
    """No verdict this time: ``error`` says why (cut to MAX_ERROR_CHARS); ``retryable`` is the failure kind's
    (``backend.domain.errors.ServiceError.retryable``): True never uses up an attempt."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    error: str
    retryable: bool
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @classmethod
    def of(cls, exc: BaseException, **times: datetime | None) -> NotAssessed:
        """The outcome of an exception, by its kind (``is_retryable``)."""
        return cls(error=f"{type(exc).__name__}: {exc}", retryable=is_retryable(exc), **times)

    def columns(self) -> dict[str, Any]:
        values = self.model_dump(exclude_none=True, exclude={"retryable", "error"})
        return {**values, "error": self.error[:MAX_ERROR_CHARS]}


Outcome = Assessed | NotAssessed


def _schedule(outcome: Outcome, attempts: int, now: datetime, base_seconds: float, max_attempts: int) -> dict[str, Any]:
    """Status, attempts and next retry time after ``outcome``; ``attempts`` is the count before it."""
    if isinstance(outcome, Assessed):
        return {"status": EventStatus.ASSESSED, "attempts": attempts + 1, "next_retry_at": None}
    if outcome.retryable:  # due at once; the dispatcher waits for the LLM's health before it retries
        return {"status": EventStatus.NOT_ASSESSED, "attempts": attempts, "next_retry_at": now}
    attempts += 1
    if attempts >= max_attempts:
        return {"status": EventStatus.FAILED, "attempts": attempts, "next_retry_at": None}
    return {
        "status": EventStatus.NOT_ASSESSED,
        "attempts": attempts,
        "next_retry_at": now + retry_delay(attempts, base_seconds),
    }


def _detection_window(session: Session, detection_pks: Sequence[int]) -> tuple[datetime | None, ...]:
    if not detection_pks:
        return (None, None)
    row = session.execute(
        select(func.min(Detection.detected_at), func.max(Detection.detected_at)).where(Detection.id.in_(detection_pks))
    ).one()
    return tuple(row)


def _link_detections(session: Session, event_id: int, detection_pks: Iterable[int]) -> None:
    rows = [{"event_id": event_id, "detection_id": pk} for pk in sorted(set(detection_pks))]
    if rows:
        links = insert_ignoring_conflicts(
            session.get_bind().dialect.name, table_of(EventDetection), ("event_id", "detection_id")
        )
        session.connection().execute(links, rows)


def save_event(
    session: Session,
    *,
    batch_id: str,
    camera_id: str,
    kind: str,
    detection_pks: Sequence[int],
    outcome: Outcome,
    retry_base_seconds: float = 30.0,
    max_attempts: int = 5,
    now: datetime | None = None,
) -> Event:
    """Stores the outcome of one batch's (or fast-path detection's) analysis and commits; idempotent per
    ``batch_id``.

    If the event exists: an ``assessed`` or ``failed`` one is returned unchanged; a ``not_assessed`` one is
    updated in place by the new outcome (see the module docstring for attempts and retry times). Returns the
    stored row, never a second one.

    A unit of work on a synchronous Session: ``run_unit_of_work(sessions, save_event, ...)`` from async code.
    """
    if kind not in (EventKind.BATCH, EventKind.FAST_PATH):
        raise ValueError(f"event kind must be 'batch' or 'fast_path', not {kind!r}")
    values = outcome.columns()  # the status and the retry schedule come from _schedule
    now = now or utcnow()
    if "started_at" not in values or "ended_at" not in values:
        first, last = _detection_window(session, detection_pks)
        values.setdefault("started_at", first)
        values.setdefault("ended_at", last)

    new_values = {
        "error": "",
        **values,
        **_schedule(outcome, 0, now, retry_base_seconds, max_attempts),
        "batch_id": batch_id,
        "camera_id": camera_id,
        "kind": kind,
        "created_at": now,
        "updated_at": now,
    }
    event: Event | None = session.scalars(_insert_event(session.get_bind().dialect.name), new_values).one_or_none()
    if event is None:  # the batch has its event already
        event_id = _update_unassessed(session, batch_id, outcome, values, now, retry_base_seconds, max_attempts)
    else:
        event_id = event.id
    _link_detections(session, event_id, detection_pks)
    session.commit()
    if event is None:
        event = session.get(Event, event_id, populate_existing=True)
        assert event is not None  # committed above
    return event


def _update_unassessed(
    session: Session,
    batch_id: str,
    outcome: Outcome,
    values: dict[str, Any],
    now: datetime,
    retry_base_seconds: float,
    max_attempts: int,
) -> int:
    """The existing event's id, after replacing its content if it was not assessed yet (one writer wins)."""
    existing = session.execute(select(Event.id, Event.attempts).where(Event.batch_id == batch_id)).one()
    session.execute(
        update(Event)
        .where(Event.id == existing.id, Event.status == EventStatus.NOT_ASSESSED, Event.attempts == existing.attempts)
        .values(
            **values,
            **_schedule(outcome, existing.attempts, now, retry_base_seconds, max_attempts),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return int(existing.id)


async def get_event(session: AsyncSession, event_id: int, *, with_detections: bool = False) -> Event | None:
    options = [selectinload(Event.detections)] if with_detections else []
    return await session.get(Event, event_id, options=options, populate_existing=True)


async def list_events(
    session: AsyncSession,
    camera_id: str | None = None,
    level: RiskLevel | str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    reviewed: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Event]:
    """Events newest first (by first detection time); ``since``/``until`` bound that time (inclusive, exclusive)."""
    query = select(Event)
    if camera_id is not None:
        query = query.where(Event.camera_id == camera_id)
    if level is not None:
        query = query.where(Event.risk_level == str(level))  # stored as the plain name
    if status is not None:
        query = query.where(Event.status == status)
    if since is not None:
        query = query.where(Event.started_at >= since)
    if until is not None:
        query = query.where(Event.started_at < until)
    if reviewed is not None:
        query = query.where(Event.reviewed.is_(reviewed))
    query = query.order_by(Event.started_at.desc(), Event.id.desc()).limit(limit).offset(offset)
    return list((await session.scalars(query)).all())


async def mark_reviewed(session: AsyncSession, event_id: int, notes: str | None = None) -> Event | None:
    """Marks an event reviewed (keeping the first review time) and commits; None if there is no such event."""
    event = await session.get(Event, event_id)
    if event is None:
        return None
    event.reviewed = True
    event.reviewed_at = event.reviewed_at or utcnow()
    if notes is not None:
        event.notes = notes
    await session.commit()
    return event


async def events_to_retry(
    session: AsyncSession, now: datetime, *, lease_seconds: float = 300.0, limit: int = 100
) -> list[Event]:
    """Up to ``limit`` not-assessed events whose retry time has come, oldest first (by first detection), each
    claimed for this caller only and committed.

    Claiming moves ``next_retry_at`` ``lease_seconds`` ahead: if the retry never saves a result, the event is
    handed out again then; a saved result sets the real next retry (or none).
    """
    due = (
        await session.execute(
            select(Event.id, Event.next_retry_at)
            .where(Event.status == EventStatus.NOT_ASSESSED, Event.next_retry_at <= now)
            .order_by(Event.started_at, Event.id)
            .limit(limit)
        )
    ).all()
    claimed: list[int] = []
    lease_until = now + timedelta(seconds=lease_seconds)
    for event_id, retry_at in due:
        changed = await rows_affected(
            session,
            update(Event)
            .where(Event.id == event_id, Event.next_retry_at == retry_at, Event.status == EventStatus.NOT_ASSESSED)
            .values(next_retry_at=lease_until)
            .execution_options(synchronize_session=False),
        )
        if changed == 1:
            claimed.append(event_id)
    await session.commit()
    if not claimed:
        return []
    events = await session.scalars(select(Event).where(Event.id.in_(claimed)).order_by(Event.started_at, Event.id))
    return list(events.all())


async def event_detection_pks(session: AsyncSession, event_id: int) -> list[int]:
    """The detections behind an event, in time order."""
    rows = await session.scalars(
        select(EventDetection.detection_id)
        .join(Detection, Detection.id == EventDetection.detection_id)
        .where(EventDetection.event_id == event_id)
        .order_by(Detection.detected_at, Detection.id)
    )
    return list(rows.all())
