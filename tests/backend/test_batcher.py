"""Batching on SQLite and PostgreSQL, with in-process and Redis state, driven by an injected clock (no sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.api.schemas.events import event_message
from backend.domain.errors import LLMAnswerUnusableError, LLMUnavailableError
from backend.domain.scenario import DetectionIn
from backend.models import Batch, Detection, Event
from backend.services.analysis_dispatch import AnalysisDispatcher, LLMHealthGate
from backend.services.batch_state import BatchRules, BatchState, MemoryBatchState, RedisBatchState
from backend.services.batcher import Batcher
from backend.services.ingest import FastPathRule, IngestResult, ingest_detections
from tests.backend.helpers import FakeClock, StubAnalyzer, add_camera, detection

Sessions = async_sessionmaker[AsyncSession]
RULES = BatchRules(window_seconds=90, idle_seconds=30, max_detections=5)
FAST = FastPathRule(threshold=0.9, object_types=frozenset({"person", "knife", "gun", "weapon"}))
LEASE = 300.0


@dataclass
class Harness:
    sessions: Sessions
    clock: FakeClock
    analyzer: StubAnalyzer
    dispatcher: AnalysisDispatcher
    redis: Redis | None
    prefix: str
    published: list[dict[str, Any]]
    state: BatchState = field(init=False)
    batcher: Batcher = field(init=False)
    counter: int = 0

    def __post_init__(self) -> None:
        self.state = self.new_state()
        self.batcher = self.new_batcher(self.state)

    def new_state(self) -> BatchState:
        if self.redis is None:
            return MemoryBatchState(RULES)
        return RedisBatchState(self.redis, RULES, self.prefix)

    def new_batcher(self, state: BatchState | None = None) -> Batcher:
        return Batcher(
            self.sessions,
            state or self.new_state(),
            RULES,
            on_batch_closed=self.dispatcher.on_batch_closed,
            on_fast_path=self.dispatcher.on_fast_path,
            analysis_lease_seconds=LEASE,
            clock=self.clock,
        )

    async def ingest(
        self, *detections: DetectionIn, camera_id: str = "front_door", via: Batcher | None = None
    ) -> IngestResult:
        async with self.sessions() as session:
            return await ingest_detections(session, via or self.batcher, [(camera_id, d) for d in detections], FAST)

    def det(self, object_type: str = "car", confidence: float = 0.5, **extra: Any) -> DetectionIn:
        self.counter += 1
        return detection(f"d{self.counter}", self.clock.now, object_type, confidence, **extra)

    async def batches(self) -> list[Batch]:
        async with self.sessions() as session:
            return list((await session.scalars(select(Batch).order_by(Batch.opened_at, Batch.id))).all())

    async def events(self) -> list[Event]:
        async with self.sessions() as session:
            return list((await session.scalars(select(Event).order_by(Event.id))).all())


@pytest.fixture
async def harness(sessions: Sessions, redis_url: str | None, redis_prefix: str) -> AsyncIterator[Harness]:
    clock = FakeClock()
    analyzer = StubAnalyzer(sessions)
    redis = Redis.from_url(redis_url, decode_responses=True) if redis_url else None
    published: list[dict[str, Any]] = []

    async def publish(event: Event) -> None:
        published.append(event_message(event))

    dispatcher = AnalysisDispatcher(
        analyzer, sessions, publish, retry_base_seconds=10, lease_seconds=LEASE, clock=clock
    )
    h = Harness(sessions, clock, analyzer, dispatcher, redis, redis_prefix, published)
    async with sessions() as session:
        await add_camera(session, "front_door")
        await add_camera(session, "driveway")
    yield h
    await h.batcher.stop()
    if redis is not None:
        await redis.aclose()


async def test_batch_closes_when_window_ends(harness: Harness) -> None:
    h = harness
    opened = h.clock.now
    for _ in range(4):
        await h.ingest(h.det())
        h.clock.advance(25)  # never idle for 30 s
    assert await h.batcher.flush_due(opened + timedelta(seconds=89)) == []
    closed = await h.batcher.flush_due(opened + timedelta(seconds=90))
    await h.batcher.drain()
    assert len(closed) == 1
    assert [len(pks) for _, _, pks in h.analyzer.batch_calls] == [4]
    [batch] = await h.batches()
    assert (batch.id, batch.status, batch.detection_count) == (closed[0], "analyzed", 4)
    [event] = await h.events()
    assert (event.batch_id, event.kind, event.status) == (batch.id, "batch", "assessed")
    assert h.published[-1]["event"]["id"] == event.id


async def test_batch_closes_when_idle(harness: Harness) -> None:
    h = harness
    await h.ingest(h.det())
    h.clock.advance(10)
    await h.ingest(h.det(), h.det())
    assert await h.batcher.flush_due(h.clock.now + timedelta(seconds=29)) == []
    assert len(await h.batcher.flush_due(h.clock.now + timedelta(seconds=30))) == 1
    await h.batcher.drain()
    assert [len(pks) for _, _, pks in h.analyzer.batch_calls] == [3]


async def test_batch_closes_when_full_and_overflow_opens_new_ones(harness: Harness) -> None:
    h = harness
    result = await h.ingest(*(h.det() for _ in range(12)))
    assert len(result.batch_ids) == 3
    await h.batcher.drain()  # two full batches were closed by the ingest itself
    assert sorted(len(pks) for _, _, pks in h.analyzer.batch_calls) == [5, 5]
    h.clock.advance(30)
    await h.batcher.flush_due()
    await h.batcher.drain()
    assert sorted(len(pks) for _, _, pks in h.analyzer.batch_calls) == [2, 5, 5]
    assert {b.status for b in await h.batches()} == {"analyzed"}
    assert len(await h.events()) == 3


async def test_cameras_are_batched_separately(harness: Harness) -> None:
    h = harness
    front = await h.ingest(h.det(), h.det())
    drive = await h.ingest(h.det(), camera_id="driveway")
    assert set(front.batch_ids).isdisjoint(drive.batch_ids)
    h.clock.advance(30)
    assert len(await h.batcher.flush_due()) == 2


async def test_fast_path_fires_and_detection_still_joins_its_batch(harness: Harness) -> None:
    h = harness
    calm = await h.ingest(h.det("person", 0.5))
    assert calm.fast_path == []
    person = h.det("person", 0.95)
    armed = h.det("car", 0.4, enrichment={"weapon": {"detected": True, "type": "gun", "confidence": 0.93}})
    result = await h.ingest(person, armed)
    assert result.fast_path == [person.id, armed.id]
    await h.batcher.drain()
    assert len(h.analyzer.fast_calls) == 2
    fast_events = [e for e in await h.events() if e.kind == "fast_path"]
    assert sorted(e.batch_id for e in fast_events) == sorted(f"fast:front_door:{d.id}" for d in (person, armed))

    async with h.sessions() as session:
        flags = dict((await session.execute(select(Detection.detection_id, Detection.fast_path))).all())
    assert flags == {"d1": False, person.id: True, armed.id: True}
    h.clock.advance(30)
    await h.batcher.flush_due()
    await h.batcher.drain()
    [(_, _, pks)] = h.analyzer.batch_calls
    assert len(pks) == 3  # the fast-path detections are in the batch too
    assert {e.kind for e in await h.events()} == {"batch", "fast_path"}


async def test_batch_delivered_twice_concurrently_gives_one_event(harness: Harness) -> None:
    h = harness
    await h.ingest(h.det(), h.det())
    h.clock.advance(30)
    [batch_id] = await h.batcher.flush_due()
    await h.batcher.drain()
    [(_, camera_id, pks)] = h.analyzer.batch_calls
    published = len(h.published)
    again = await asyncio.gather(
        h.dispatcher.on_batch_closed(batch_id, camera_id, pks), h.dispatcher.on_batch_closed(batch_id, camera_id, pks)
    )
    assert again == [None, None]  # the batch has its event: neither analyzed nor announced again
    assert len(h.analyzer.batch_calls) == 1
    assert len(h.published) == published
    assert len(await h.events()) == 1


async def test_concurrent_flushes_close_a_batch_once(harness: Harness) -> None:
    h = harness
    await h.ingest(h.det())
    other = h.new_batcher(h.new_state()) if h.redis is not None else h.batcher
    h.clock.advance(30)
    closed = await asyncio.gather(h.batcher.flush_due(), other.flush_due())
    await h.batcher.drain()
    await other.drain()
    assert sum(len(c) for c in closed) == 1
    assert len(h.analyzer.batch_calls) == 1


async def test_open_batch_survives_restart(harness: Harness) -> None:
    h = harness
    first = await h.ingest(h.det(), h.det())
    await h.batcher.stop()
    if h.redis is not None:  # the worst case: the shared state is gone too
        await h.redis.delete(*[k async for k in h.redis.scan_iter(match=f"{h.prefix}*")])
    restarted = h.new_batcher()
    assert await restarted.recover() == 1
    h.clock.advance(10)
    again = await h.ingest(h.det(), via=restarted)
    assert again.batch_ids == first.batch_ids  # still the same open batch
    assert await restarted.flush_due(h.clock.now + timedelta(seconds=29)) == []
    assert await restarted.flush_due(h.clock.now + timedelta(seconds=30)) == first.batch_ids
    await restarted.drain()
    [(batch_id, _, pks)] = h.analyzer.batch_calls
    assert (batch_id, len(pks)) == (first.batch_ids[0], 3)


async def test_processes_sharing_redis_agree_on_the_open_batch(harness: Harness) -> None:
    h = harness
    if h.redis is None:
        pytest.skip("several processes share batch state only through Redis")
    other = h.new_batcher()
    a = await h.ingest(h.det())
    b = await h.ingest(h.det(), via=other)
    assert a.batch_ids == b.batch_ids
    [batch] = await h.batches()
    assert batch.detection_count == 2


async def test_open_row_lost_by_the_state_is_closed_when_overdue(harness: Harness) -> None:
    h = harness
    result = await h.ingest(h.det())
    await h.state.discard("front_door", result.batch_ids[0])  # e.g. a Redis restart
    assert await h.batcher.flush_due(h.clock.now + timedelta(seconds=59)) == []
    assert await h.batcher.flush_due(h.clock.now + timedelta(seconds=60)) == result.batch_ids
    await h.batcher.drain()
    assert len(h.analyzer.batch_calls) == 1


async def test_failed_analysis_is_stored_and_retried_with_backoff(harness: Harness) -> None:
    h = harness
    h.analyzer.failures = 1
    await h.ingest(h.det())
    h.clock.advance(30)
    await h.batcher.flush_due()
    await h.batcher.drain()
    [failed] = await h.events()
    assert (failed.status, failed.attempts) == ("not_assessed", 1)
    assert "analyzer bug (injected)" in failed.error
    assert h.published[-1]["event"]["status"] == "not_assessed"

    assert await h.dispatcher.retry_due(h.clock.now + timedelta(seconds=9)) == 0
    assert await h.dispatcher.retry_due(h.clock.now + timedelta(seconds=10)) == 1
    [retried] = await h.events()
    assert (retried.id, retried.status, retried.attempts) == (failed.id, "assessed", 2)
    assert h.published[-1]["event"]["status"] == "assessed"


async def test_closed_batch_never_analyzed_is_redelivered_after_its_lease(harness: Harness) -> None:
    h = harness
    lost: list[str] = []

    async def crash(batch_id: str, camera_id: str, pks: list[int]) -> None:
        lost.append(batch_id)  # the process died before analysis

    forgetful = Batcher(
        h.sessions,
        h.new_state(),
        RULES,
        on_batch_closed=crash,
        on_fast_path=h.dispatcher.on_fast_path,
        analysis_lease_seconds=LEASE,
        clock=h.clock,
    )
    await h.ingest(h.det(), via=forgetful)
    h.clock.advance(30)
    await forgetful.flush_due()
    await forgetful.drain()
    assert len(lost) == 1 and await h.events() == []
    assert await h.dispatcher.retry_due(h.clock.now + timedelta(seconds=LEASE - 1)) == 0
    assert await h.dispatcher.retry_due(h.clock.now + timedelta(seconds=LEASE)) == 1
    [batch] = await h.batches()
    assert (batch.status, batch.attempts) == ("analyzed", 1)
    assert len(await h.events()) == 1


async def test_flush_all_closes_everything_and_waits(harness: Harness) -> None:
    h = harness
    await h.ingest(h.det())
    await h.ingest(h.det(), camera_id="driveway")
    assert len(await h.batcher.flush_all()) == 2
    assert len(await h.events()) == 2
    async with h.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Batch).where(Batch.status == "open")) == 0


async def test_history_only_ingest_makes_no_batch(harness: Harness) -> None:
    h = harness
    async with h.sessions() as session:
        result = await ingest_detections(
            session, h.batcher, [("front_door", h.det("person", 0.99))], FAST, analyze=False
        )
    assert (result.batch_ids, result.fast_path) == ([], [])
    assert await h.batches() == []


async def test_detections_for_a_batch_closed_elsewhere_go_to_a_new_batch(harness: Harness) -> None:
    h = harness
    first = await h.ingest(h.det())
    async with h.sessions() as session:  # another process closed it; this process's state has not caught up
        await session.execute(update(Batch).values(status="closed"))
        await session.commit()
    h.clock.advance(5)
    result = await h.ingest(h.det(), h.det())
    assert len(result.batch_ids) == 1 and result.batch_ids != first.batch_ids
    [_, fresh] = await h.batches()
    assert (fresh.id, fresh.status, fresh.detection_count) == (result.batch_ids[0], "open", 2)


async def test_one_request_places_every_camera_in_one_step(harness: Harness) -> None:
    """Several cameras and several batches per camera in one call (one Redis round trip), in detection order."""
    state = harness.state
    ids = iter(f"b{i}" for i in range(100))
    t0 = harness.clock.now.timestamp()
    first = await state.place({"front_door": 3}, ids.__next__, t0)
    assert [(p.batch_id, p.opened, p.taken, p.full) for p in first["front_door"]] == [("b0", True, 3, False)]

    placed = await state.place({"front_door": 9, "driveway": 2}, ids.__next__, t0 + 1)
    assert [(p.batch_id, p.opened, p.taken, p.full, p.expired) for p in placed["front_door"]] == [
        ("b0", False, 2, True, None),  # the open batch fills up
        ("b1", True, 5, True, None),
        ("b2", True, 2, False, None),
    ]
    assert [(p.batch_id, p.taken, p.full) for p in placed["driveway"]] == [("b3", 2, False)]

    later = await state.place({"front_door": 1}, ids.__next__, t0 + 1 + RULES.idle_seconds)
    [again] = later["front_door"]
    assert (again.opened, again.taken, again.expired) == (True, 1, "b2")  # the idle batch left; a new one opened
    assert await state.pop_due(t0 + 1 + RULES.idle_seconds) == [("driveway", "b3")]
    with pytest.raises(ValueError, match="at least one"):
        await state.place({"front_door": 0}, ids.__next__, t0 + 2)


async def test_an_llm_outage_holds_retries_until_the_health_probe_passes_then_drains_oldest_first(
    harness: Harness,
) -> None:
    h = harness
    healthy = False
    probes: list[bool] = []

    async def probe() -> bool:
        probes.append(healthy)
        return healthy

    h.dispatcher.health = LLMHealthGate(probe, max_delay=30.0, clock=lambda: h.clock.now.timestamp())
    h.analyzer.error = LLMUnavailableError("LLM request /completion failed after 4 tries: ConnectError")
    h.analyzer.failures = 2
    for camera_id in ("front_door", "driveway"):
        await h.ingest(h.det(), camera_id=camera_id)
        h.clock.advance(5)
    h.clock.advance(30)
    await h.batcher.flush_due()
    await h.batcher.drain()
    events = await h.events()
    assert [(e.status, e.attempts) for e in events] == [("not_assessed", 0), ("not_assessed", 0)]
    assert all("LLMUnavailableError" in e.error for e in events)
    for _ in range(10):  # any number of passes while the LLM is down spends nothing
        assert await h.dispatcher.retry_due(h.clock.advance(60)) == 0
    assert probes and not any(probes)
    healthy = True
    h.analyzer.failures = 0  # (the second analysis may or may not have met the outage: it raced the gate)
    h.analyzer.batch_calls.clear()
    assert await h.dispatcher.retry_due(h.clock.advance(1)) == 0  # the LLM is back, but no probe is due yet
    assert await h.dispatcher.retry_due(h.clock.advance(30)) == 2  # the capped probe delay has passed
    assert [camera for _, camera, _ in h.analyzer.batch_calls] == ["front_door", "driveway"]  # oldest first
    assert [(e.status, e.attempts, e.error) for e in await h.events()] == [("assessed", 1, "")] * 2


async def test_a_deterministic_failure_ends_failed_and_is_announced_with_its_reason(harness: Harness) -> None:
    h = harness
    h.analyzer.error = LLMAnswerUnusableError("unusable LLM answers: attempt 1: no JSON object")
    h.analyzer.failures = 5
    await h.ingest(h.det())
    h.clock.advance(30)
    await h.batcher.flush_due()
    await h.batcher.drain()
    for _ in range(4):
        await h.dispatcher.retry_due(h.clock.advance(10_000))
    [event] = await h.events()
    assert (event.status, event.attempts, event.next_retry_at) == ("failed", 5, None)
    assert "no JSON object" in event.error
    assert h.published[-1]["event"]["status"] == "failed"
    assert await h.dispatcher.retry_due(h.clock.advance(10_000)) == 0


async def test_a_batch_queued_past_its_lease_is_analyzed_and_announced_once(harness: Harness) -> None:
    h = harness
    h.analyzer.delay = 0.3
    await h.ingest(h.det())
    h.clock.advance(30)
    await h.batcher.flush_due()
    await asyncio.sleep(0.05)  # the delivery holds its slot
    h.clock.advance(LEASE + 1)  # its lease runs out while it is still in this process
    assert await h.dispatcher.retry_due() == 0  # not claimed again: it is queued here
    await h.batcher.drain()
    assert len(h.analyzer.batch_calls) == 1
    assert len(h.published) == 1
