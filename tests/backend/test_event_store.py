"""Event store on SQLite and PostgreSQL: one event per batch under concurrency, retries, listing, review."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db.session import run_unit_of_work
from backend.domain.risk_levels import LEVEL_ORDER, RiskLevel, band_for_level
from backend.models import Event, EventDetection
from backend.services.event_store import (
    Assessed,
    NotAssessed,
    Outcome,
    event_detection_pks,
    events_to_retry,
    list_events,
    mark_reviewed,
    retry_delay,
    save_event,
)
from tests.backend.helpers import add_camera, detection, store_detections

T0 = datetime(2026, 3, 10, 3, 12, tzinfo=UTC)
ASSESSED: dict[str, Any] = {
    "risk_score": 72,
    "risk_level": "high",
    "summary": "someone at the back door",
    "risk_factors": ["night"],
}
FAILED: dict[str, Any] = {"status": "not_assessed", "error": "LLMAnswerUnusableError: no JSON", "retryable": False}
UNAVAILABLE: dict[str, Any] = {"status": "not_assessed", "error": "LLMUnavailableError: refused", "retryable": True}

Sessions = async_sessionmaker[AsyncSession]


async def _setup(sessions: Sessions, camera_id: str = "front_door", n: int = 3) -> list[int]:
    async with sessions() as session:
        await add_camera(session, camera_id)
        return await store_detections(
            session, camera_id, [detection(f"d{i}", T0 + timedelta(seconds=10 * i)) for i in range(n)]
        )


def _outcome(assessment: dict[str, Any]) -> Outcome:
    if assessment.get("status") == "not_assessed":
        return NotAssessed(error=assessment["error"], retryable=assessment["retryable"])
    return Assessed(**assessment)


async def _save(
    sessions: Sessions, pks: list[int], assessment: dict[str, Any], batch_id: str = "b1", **options: Any
) -> Event:
    outcome = _outcome(assessment)
    return await run_unit_of_work(
        sessions,
        save_event,
        batch_id=batch_id,
        camera_id="front_door",
        kind="batch",
        detection_pks=pks,
        outcome=outcome,
        **options,
    )


async def _count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_save_event_stores_assessment_and_detection_window(sessions: Sessions) -> None:
    pks = await _setup(sessions)
    event = await _save(sessions, pks, ASSESSED)
    assert event.id is not None
    assert (event.status, event.risk_score, event.risk_level, event.attempts) == ("assessed", 72, "high", 1)
    assert event.risk_factors == ["night"]
    assert event.started_at == T0 and event.ended_at == T0 + timedelta(seconds=20)
    assert event.next_retry_at is None
    async with sessions() as session:
        assert await event_detection_pks(session, event.id) == pks


async def test_same_batch_saved_twice_gives_one_event(sessions: Sessions) -> None:
    pks = await _setup(sessions)
    first = await _save(sessions, pks, ASSESSED)
    second = await _save(sessions, pks, {**ASSESSED, "risk_score": 10, "risk_level": "low"})
    assert second.id == first.id
    assert (second.risk_score, second.attempts) == (72, 1)  # an assessed event is never overwritten
    assert await _count(sessions, Event) == 1
    assert await _count(sessions, EventDetection) == 3


async def test_concurrent_saves_of_one_batch_give_one_event(sessions: Sessions) -> None:
    pks = await _setup(sessions)
    events = await asyncio.gather(*(_save(sessions, pks, ASSESSED) for _ in range(6)))
    assert len({e.id for e in events}) == 1
    assert await _count(sessions, Event) == 1


async def test_not_assessed_event_is_updated_in_place_by_retry(sessions: Sessions) -> None:
    pks = await _setup(sessions)
    failed = await _save(sessions, pks, FAILED)
    assert (failed.status, failed.risk_level, failed.attempts) == ("not_assessed", None, 1)
    assert failed.error.startswith("LLMAnswerUnusableError")
    assert failed.next_retry_at is not None
    retried = await _save(sessions, pks, ASSESSED)
    assert retried.id == failed.id
    assert (retried.status, retried.risk_level, retried.attempts, retried.next_retry_at) == (
        "assessed",
        "high",
        2,
        None,
    )
    assert retried.error == ""  # the earlier failure's text is cleared
    assert await _count(sessions, Event) == 1


async def test_retryable_failures_never_use_up_an_event(sessions: Sessions) -> None:
    """An LLM outage of any length: the event stays due (at once) with no attempt spent, then is assessed."""
    pks = await _setup(sessions)
    now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    for _ in range(20):  # far more than max_attempts
        event = await _save(sessions, pks, UNAVAILABLE, max_attempts=3, now=now)
        assert (event.status, event.attempts, event.next_retry_at) == ("not_assessed", 0, now)
    assert event.error.startswith("LLMUnavailableError")
    assessed = await _save(sessions, pks, ASSESSED, max_attempts=3, now=now)
    assert (assessed.status, assessed.attempts, assessed.error) == ("assessed", 1, "")


async def test_deterministic_failures_end_failed_with_the_reason(sessions: Sessions) -> None:
    pks = await _setup(sessions)
    now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    for attempt in (1, 2):
        event = await _save(sessions, pks, FAILED, max_attempts=3, now=now)
        assert (event.status, event.attempts) == ("not_assessed", attempt)
    event = await _save(sessions, pks, FAILED, max_attempts=3, now=now)
    assert (event.status, event.attempts, event.next_retry_at) == ("failed", 3, None)
    assert "no JSON" in event.error
    again = await _save(sessions, pks, ASSESSED, max_attempts=3, now=now)  # terminal: a late result changes nothing
    assert (again.status, again.risk_score) == ("failed", None)
    async with sessions() as session:
        assert await events_to_retry(session, now + timedelta(days=1)) == []


async def test_concurrent_failure_and_success_end_assessed(sessions: Sessions) -> None:
    pks = await _setup(sessions)
    await _save(sessions, pks, FAILED)
    events = await asyncio.gather(
        _save(sessions, pks, ASSESSED), _save(sessions, pks, FAILED), _save(sessions, pks, ASSESSED)
    )
    assert len({e.id for e in events}) == 1
    async with sessions() as session:
        stored = (await session.scalars(select(Event))).one()
    assert stored.status == "assessed"


@pytest.mark.parametrize(
    ("assessment", "message"),
    [
        ({"risk_score": 50}, "risk_level"),
        ({"risk_score": 101, "risk_level": "high"}, "risk_score"),
        ({"risk_score": 10, "risk_level": "low", "colour": "red"}, "colour"),
        ({"status": "maybe"}, "status"),
        ({"risk_score": -1, "risk_level": "low"}, "risk_score"),
        ({"risk_score": True, "risk_level": "low"}, "risk_score"),
        ({"risk_score": 50, "risk_level": "severe"}, "risk_level"),
        ({"risk_score": 50, "risk_level": "HIGH"}, "risk_level"),
        ({"risk_score": 50, "risk_level": "high"}, "not the band of risk_score 50 \\(medium\\)"),
        ({"risk_score": 85, "risk_level": "high"}, "not the band"),
    ],
)
async def test_invalid_assessments_are_refused(sessions: Sessions, assessment: dict[str, Any], message: str) -> None:
    pks = await _setup(sessions)
    with pytest.raises(ValueError, match=message):
        await _save(sessions, pks, assessment)
    assert await _count(sessions, Event) == 0


async def test_retry_backoff_and_claiming(sessions: Sessions) -> None:
    pks = await _setup(sessions)
    now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    event = await _save(sessions, pks, FAILED, retry_base_seconds=10, max_attempts=3, now=now)
    assert event.next_retry_at == now + timedelta(seconds=10)
    assert retry_delay(3, 10) == timedelta(seconds=40)

    async with sessions() as session:
        assert await events_to_retry(session, now + timedelta(seconds=9)) == []
    async with sessions() as a, sessions() as b:
        claims = await asyncio.gather(
            events_to_retry(a, now + timedelta(seconds=10)), events_to_retry(b, now + timedelta(seconds=10))
        )
    assert sorted(len(c) for c in claims) == [0, 1]  # one caller only

    for attempt, delay in ((2, 20), (3, None)):
        event = await _save(sessions, pks, FAILED, retry_base_seconds=10, max_attempts=3, now=now)
        assert event.attempts == attempt
        assert event.next_retry_at == (now + timedelta(seconds=delay) if delay else None)


@pytest.mark.parametrize("level", LEVEL_ORDER)
async def test_every_band_edge_of_the_one_table_is_stored(sessions: Sessions, level: RiskLevel) -> None:
    pks = await _setup(sessions)
    for n, score in enumerate(band_for_level(level)):
        event = await _save(sessions, pks, {"risk_score": score, "risk_level": level}, batch_id=f"{level}-{n}")
        assert (event.risk_score, event.risk_level) == (score, str(level))
        assert type(event.risk_level) is str  # the plain name, whether given as the enum or as text


async def test_list_events_filters_and_review(sessions: Sessions) -> None:
    async with sessions() as session:
        await add_camera(session, "front_door")
        await add_camera(session, "driveway")
        front = await store_detections(
            session, "front_door", [detection(f"f{i}", T0 + timedelta(hours=i)) for i in range(3)]
        )
        drive = await store_detections(session, "driveway", [detection("g0", T0 + timedelta(hours=5))])
    levels = [("low", 10), ("high", 70), ("critical", 95)]
    for i, (level, score) in enumerate(levels):
        await run_unit_of_work(
            sessions,
            save_event,
            batch_id=f"front-{i}",
            camera_id="front_door",
            kind="batch",
            detection_pks=[front[i]],
            outcome=Assessed(risk_score=score, risk_level=level),
        )
    await run_unit_of_work(
        sessions,
        save_event,
        batch_id="drive-0",
        camera_id="driveway",
        kind="batch",
        detection_pks=drive,
        outcome=_outcome(FAILED),
    )

    async with sessions() as session:
        everything = await list_events(session)
        assert [e.batch_id for e in everything] == ["drive-0", "front-2", "front-1", "front-0"]  # newest first
        assert [e.batch_id for e in await list_events(session, camera_id="front_door", level="high")] == ["front-1"]
        assert [e.batch_id for e in await list_events(session, level=RiskLevel.CRITICAL)] == ["front-2"]
        assert [e.batch_id for e in await list_events(session, status="not_assessed")] == ["drive-0"]
        window = await list_events(session, since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=5))
        assert [e.batch_id for e in window] == ["front-2", "front-1"]
        assert [e.batch_id for e in await list_events(session, limit=2, offset=1)] == ["front-2", "front-1"]

        reviewed = await mark_reviewed(session, everything[1].id, notes="checked: neighbour")
        assert reviewed is not None and reviewed.reviewed and reviewed.reviewed_at is not None
        assert await mark_reviewed(session, 999_999) is None
    async with sessions() as session:
        assert [e.notes for e in await list_events(session, reviewed=True)] == ["checked: neighbour"]
        assert len(await list_events(session, reviewed=False)) == 3
