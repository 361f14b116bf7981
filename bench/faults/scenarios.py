"""The fault scenarios: a stream of detections into a fresh backend (and database), one fault injected while it
runs, then observation until every event is assessed (or nothing more can happen, or the observation limit)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.faults.feed import Feed
from bench.faults.ledger import (
    RECOVERY_WINDOW_SECONDS,
    Snapshot,
    Timeline,
    assessed_on_time,
    count_duplicated,
    count_lost,
    first_after,
    is_settled,
    percent,
)
from bench.faults.load import Poster, Tally, plan_stream, read_events_loop, send_bad_inputs, setup_cameras, stamp
from bench.faults.procs import Backend, LLMServer, PrivatePostgres, PrivateRedis
from bench.faults.store import PostgresReader, Reader, SqliteReader

BACKEND_PORT = 18940
SETTLE_SECONDS = 20.0  # nothing pending for this long: the run is over even if not everything is assessed


@dataclass(frozen=True)
class Scenario:
    name: str
    database: str  # "sqlite" or "postgresql+redis"
    fault: str  # llm_kill, backend_kill9, postgres_restart, redis_stop, duplicates
    detections: int = 120
    duration: float = 60.0
    fault_at: float = 20.0  # seconds after the stream starts
    fault_seconds: float = 60.0
    fast_path_share: float = 0.05  # high-confidence people: each is an event of its own, at once
    long: bool = False  # the 10-minute outages: --long
    default: bool = True  # in the default set (else: --all, or --only)


SCENARIOS = [
    Scenario("llm-kill-60s/sqlite", "sqlite", "llm_kill", 230, 90.0, 20.0, 60.0),
    Scenario("llm-kill-60s/postgresql+redis", "postgresql+redis", "llm_kill", 230, 90.0, 20.0, 60.0),
    Scenario("backend-kill9/sqlite", "sqlite", "backend_kill9", 90, 45.0, 10.0, 5.0, fast_path_share=0.03),
    Scenario(
        "postgresql-restart-x2/postgresql+redis",
        "postgresql+redis",
        "postgres_restart",
        90,
        45.0,
        10.0,
        3.0,
        fast_path_share=0.03,
    ),
    Scenario(
        "redis-stop-20s/postgresql+redis", "postgresql+redis", "redis_stop", 90, 45.0, 15.0, 20.0, fast_path_share=0.03
    ),
    Scenario("duplicates/sqlite", "sqlite", "duplicates", 90, 45.0, 0.0, 0.0, fast_path_share=0.03),
    Scenario(
        "duplicates/postgresql+redis",
        "postgresql+redis",
        "duplicates",
        90,
        45.0,
        0.0,
        0.0,
        fast_path_share=0.03,
        default=False,
    ),
    Scenario("llm-kill-10min/sqlite", "sqlite", "llm_kill", 230, 90.0, 20.0, 600.0, long=True),
    Scenario("llm-kill-10min/postgresql+redis", "postgresql+redis", "llm_kill", 230, 90.0, 20.0, 600.0, long=True),
]


@dataclass
class Row:
    test: str
    load: str
    faults: str
    bad_inputs: str
    lost: str
    duplicated: str
    server_errors: str
    assessed_after_recovery: str
    seconds_to_drain: str
    notes: str = ""
    wall_seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    COLUMNS = (
        "test",
        "load",
        "faults",
        "bad inputs",
        "lost",
        "duplicated",
        "5xx",
        "assessed after recovery",
        "seconds to drain",
        "notes",
    )

    def cells(self) -> list[str]:
        return [
            self.test,
            self.load,
            self.faults,
            self.bad_inputs,
            self.lost,
            self.duplicated,
            self.server_errors,
            self.assessed_after_recovery,
            self.seconds_to_drain,
            self.notes,
        ]


@dataclass
class Harness:
    """What the scenarios share: the LLM server, the private PostgreSQL cluster and Redis, the backend's settings."""

    work_dir: Path
    log_dir: Path
    llm: LLMServer
    backend_env: dict[str, str]
    observe_seconds: float
    postgres: PrivatePostgres | None = None
    redis: PrivateRedis | None = None
    runs: int = 0


class _Flags:
    def __init__(self) -> None:
        self.backend_down = False
        self.fault_active = False


async def _sleep_until(t0: float, offset: float) -> None:
    delay = t0 + offset - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def run_stream_scenario(harness: Harness, scenario: Scenario) -> Row:
    harness.runs += 1
    index = harness.runs
    started = time.monotonic()
    run_id = f"r{int(time.time()) % 100000}x{index}"
    reader: Reader
    env = dict(harness.backend_env)
    env["LLM_URL"] = harness.llm.url
    if scenario.database == "sqlite":
        path = harness.work_dir / f"{run_id}.db"
        env["DATABASE_URL"], env["REDIS_URL"] = f"sqlite:///{path}", ""
        reader = SqliteReader(str(path))
    else:
        if harness.postgres is None or harness.redis is None:
            raise RuntimeError("PostgreSQL + Redis scenarios need the private cluster and Redis")
        database = f"faults_{run_id}"
        await asyncio.to_thread(harness.postgres.create_database, database)
        await harness.redis.flush()
        env["DATABASE_URL"], env["REDIS_URL"] = harness.postgres.url(database), harness.redis.url
        reader = PostgresReader(harness.postgres.url(database))
    if not harness.llm.process.alive():
        await harness.llm.start()

    backend = Backend(BACKEND_PORT + index % 8, env, harness.log_dir / f"backend-{index}-{scenario.fault}.log")
    await backend.start()
    await setup_cameras(backend.url)

    flags = _Flags()
    tally = Tally()
    poster = Poster(backend.url, tally, lambda: flags.backend_down, lambda: flags.fault_active)
    feed = Feed(backend.url.replace("http://", "ws://") + "/ws/events")
    timeline = Timeline()
    stop = asyncio.Event()
    last: dict[str, Snapshot] = {}
    stream_done = asyncio.Event()
    sends: list[asyncio.Task[Any]] = []
    dup_notes: dict[str, int] = {"concurrent pairs": 0, "resent after ack": 0, "bulk re-sends": 0}

    loads: list[float] = []

    async def observe() -> None:
        while not stop.is_set():
            loads.append(load_average())
            snapshot = await reader.read()
            if snapshot is not None:
                last["snapshot"] = snapshot
                timeline.observe(snapshot, time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    plan = plan_stream(run_id, scenario.detections, scenario.duration, fast_path_share=scenario.fast_path_share)
    t0 = time.monotonic()

    async def stream() -> None:
        acked_payloads: list[dict[str, Any]] = []
        last_bulk = t0
        for i, item in enumerate(plan):
            await _sleep_until(t0, item.at)
            payload = stamp(item.payload)
            if scenario.fault != "duplicates":
                sends.append(asyncio.create_task(poster.send([payload])))
                continue
            sends.append(asyncio.create_task(_send_duplicated(poster, payload, i % 3, dup_notes, acked_payloads)))
            if time.monotonic() - last_bulk >= 10 and acked_payloads:
                last_bulk = time.monotonic()
                dup_notes["bulk re-sends"] += 1
                sends.append(asyncio.create_task(poster.send(acked_payloads[-10:], resend=True)))
        stream_done.set()

    fault_text, fault = _fault(scenario, harness, backend, flags, t0)
    crashes_before = len(harness.llm.crashes)
    background = [
        asyncio.create_task(harness.llm.supervise(stop)),
        asyncio.create_task(observe()),
        asyncio.create_task(feed.run(stop)),
        asyncio.create_task(read_events_loop(backend.url, tally, lambda: flags.backend_down, stop)),
    ]
    try:
        stream_task = asyncio.create_task(stream())
        fault_end = await fault()
        await stream_task
        fault_end = max(fault_end, time.monotonic()) if scenario.fault == "duplicates" else fault_end
        await asyncio.gather(*sends)
        drained_at, stopped_because = await _watch(reader, poster, timeline, last, fault_end, harness.observe_seconds)
        stop.set()
        await asyncio.gather(*background)
        final = last.get("snapshot") or Snapshot()
        bad = await send_bad_inputs(poster, run_id)
    finally:
        stop.set()
        for task in background:
            task.cancel()
        await poster.aclose()
        await reader.close()
        backend.stop()

    lost = count_lost(poster.acked, final)
    dup = count_duplicated(final)
    on_time, events = assessed_on_time(timeline.first_seen, timeline.first_assessed, fault_end)
    assessed_ids = {e.id for e in final.events if e.status == "assessed"}
    notes = []
    crashes = harness.llm.crashes[crashes_before:]
    if crashes:
        signals = ", ".join(sorted({_exit_text(code) for code in crashes}))
        notes.append(f"LLM server crashed {len(crashes)} times on its own ({signals}); restarted each time")
        if -signal.SIGILL in crashes:
            notes.append("SIGILL: llama.cpp built with instructions this CPU/VM refuses (see RELIABILITY.md)")
    if lost.total:
        notes.append(f"lost: {lost.describe()}")
    if dup.total:
        notes.append(f"duplicated: {dup.describe()}")
    if tally.server_errors:
        notes.append("5xx e.g. " + "; ".join(tally.server_error_examples[:3]))
    if bad.server_errors:
        notes.append("bad inputs with 5xx: " + ", ".join(bad.server_errors))
    if bad.accepted:
        notes.append("bad inputs accepted (2xx): " + ", ".join(bad.accepted))
    if tally.unavailable_503:
        notes.append(f"{tally.unavailable_503} x 503 with Retry-After")
    if tally.refused_while_down:
        notes.append(f"{tally.refused_while_down} connections refused while the backend was down")
    if tally.refused_unexpected:
        notes.append(f"{tally.refused_unexpected} connections refused/reset with the backend up")
    if tally.timeouts:
        notes.append(f"{tally.timeouts} client timeouts")
    if tally.gave_up:
        notes.append(f"{tally.gave_up} detections never acknowledged")
    if tally.unexpected_4xx:
        notes.append(f"{len(tally.unexpected_4xx)} good detections refused, e.g. {tally.unexpected_4xx[0]}")
    if tally.ingest_tries_during_fault and scenario.fault in ("redis_stop", "postgres_restart"):
        notes.append(
            f"ingest during the fault: {tally.ingest_2xx_during_fault}/{tally.ingest_tries_during_fault} tries 2xx"
        )
    unannounced = feed.unannounced(assessed_ids)
    if unannounced:
        notes.append(f"{unannounced} assessed events never announced on /ws/events")
    first = first_after(timeline.first_assessed, fault_end)
    if scenario.fault != "duplicates":
        notes.append("first assessment after the fault: " + ("none" if first is None else f"{first:.0f} s"))
    latencies = sorted(e.llm_latency_ms / 1000 for e in final.events if e.llm_latency_ms is not None)
    if latencies:
        notes.append(f"LLM time per assessment p50 {latencies[len(latencies) // 2]:.0f} s, max {latencies[-1]:.0f} s")
    if loads:
        notes.append(f"load average {sum(loads) / len(loads):.1f} on {os.cpu_count()} vCPU")
    attempts = sorted((e.attempts for e in final.events), reverse=True)[:1]
    if attempts and attempts[0] > 1:
        notes.append(f"max attempts {attempts[0]}")
    stale_errors = sum(1 for e in final.events if e.status == "assessed" and e.error)
    if stale_errors:
        notes.append(f"{stale_errors} assessed events keep an old error")
    if scenario.fault == "duplicates":
        dups = ", ".join(f"{n} {what}" for what, n in dup_notes.items())
        notes.append(f"resends answered 409: {tally.resend_409}, 2xx: {tally.resend_2xx}")
        fault_text = f"{dups}"
    notes.append(f"ended: {stopped_because}")
    if lost.examples:
        notes.append("e.g. " + "; ".join(lost.examples[:2]))

    fast = sum(1 for p in plan if p.payload["confidence"] >= 0.9)
    drain = "never" if drained_at is None else f"{max(drained_at - fault_end, 0.0):.0f}"
    return Row(
        test=scenario.name,
        load=f"{len(plan)} det. / 3 cameras / {scenario.duration:.0f} s ({fast} fast-path); {len(final.events)} events",
        faults=fault_text,
        bad_inputs=bad.cell(),
        lost=str(lost.total),
        duplicated=str(dup.total),
        server_errors=str(tally.server_errors)
        + (f" + {tally.refused_unexpected} no answer" if tally.refused_unexpected else ""),
        assessed_after_recovery=percent(on_time, events),
        seconds_to_drain=drain,
        notes="; ".join(notes),
        wall_seconds=time.monotonic() - started,
        details={
            "statuses": dict(tally.statuses),
            "lost": lost.__dict__,
            "duplicated": dup.__dict__,
            "events": len(final.events),
            "events_by_status": _count_by(final, "status"),
            "acked": len(poster.acked),
            "bad_inputs": {"by_class": dict(bad.by_class), "server_errors": bad.server_errors},
            "feed_messages": feed.messages,
            "first_assessed_after_fault_s": first,
            "llm_latency_s": latencies,
            "load_average_mean": sum(loads) / len(loads) if loads else None,
        },
    )


def load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def _exit_text(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-code).name
    return f"exit {code}"


def _count_by(snapshot: Snapshot, attr: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in snapshot.events:
        key = str(getattr(event, attr))
        counts[key] = counts.get(key, 0) + 1
    return counts


async def _send_duplicated(
    poster: Poster, payload: dict[str, Any], mode: int, notes: dict[str, int], acked: list[dict[str, Any]]
) -> None:
    """mode 0: the same detection posted twice at once; 1: posted again after its 2xx; 2: posted once."""
    if mode == 0:
        notes["concurrent pairs"] += 1
        codes = await asyncio.gather(poster.send([payload], race=True), poster.send([payload], race=True))
        if all(code is not None and 200 <= code < 300 for code in codes):
            poster.tally.resend_2xx += 1  # both accepted: the database must still hold it once
    elif mode == 1:
        code = await poster.send([payload])
        if code is not None and 200 <= code < 300:
            notes["resent after ack"] += 1
            await poster.send([payload], resend=True)
    else:
        await poster.send([payload])
    if (str(payload["camera_id"]), str(payload["id"])) in poster.acked:
        acked.append(payload)


async def _watch(
    reader: Reader, poster: Poster, timeline: Timeline, last: dict[str, Snapshot], fault_end: float, limit: float
) -> tuple[float | None, str]:
    """Waits until every acknowledged detection is in an assessed event (drained), nothing can progress any more
    for SETTLE_SECONDS (settled), or ``limit`` seconds after the fault's end. Returns (drained at, why it ended)."""
    settled_since: float | None = None
    while True:
        now = time.monotonic()
        snapshot = await reader.read()
        if snapshot is not None:
            last["snapshot"] = snapshot
            timeline.observe(snapshot, now)
            lost = count_lost(poster.acked, snapshot)
            if lost.total == 0:
                return now, "drained"
            if is_settled(snapshot):
                settled_since = settled_since or now
                if now - settled_since >= SETTLE_SECONDS:
                    return None, f"settled {now - fault_end:.0f} s after the fault, nothing left to retry"
            else:
                settled_since = None
        if now - fault_end >= limit:
            return None, f"observation limit {limit:.0f} s"
        await asyncio.sleep(1.0)


def _fault(
    scenario: Scenario, harness: Harness, backend: Backend, flags: _Flags, t0: float
) -> tuple[str, Callable[[], Awaitable[float]]]:
    """(what the fault does, a coroutine function that injects it and returns when it ended)."""
    at, seconds = scenario.fault_at, scenario.fault_seconds

    if scenario.fault == "llm_kill":

        async def llm_kill() -> float:
            await _sleep_until(t0, at)
            harness.llm.kill()
            flags.fault_active = True
            await asyncio.sleep(seconds)
            await harness.llm.start()
            flags.fault_active = False
            return time.monotonic()

        return f"LLM server SIGKILL at +{at:.0f} s, restarted after {seconds:.0f} s", llm_kill

    if scenario.fault == "backend_kill9":

        async def backend_kill() -> float:
            await _sleep_until(t0, at)
            for _ in range(150):  # up to 30 s for an analysis to be in flight
                if await harness.llm.busy():
                    break
                await asyncio.sleep(0.2)
            flags.backend_down = flags.fault_active = True
            backend.kill9()
            await asyncio.sleep(seconds)
            await backend.start()
            flags.backend_down = flags.fault_active = False
            return time.monotonic()

        return (
            f"backend kill -9 while the LLM is generating (~+{at:.0f} s), restarted {seconds:.0f} s later",
            backend_kill,
        )

    if scenario.fault == "postgres_restart":
        postgres = harness.postgres
        if postgres is None:
            raise RuntimeError("no private PostgreSQL")

        async def restart_twice() -> float:
            for offset in (at, at + 15.0):
                await _sleep_until(t0, offset)
                flags.fault_active = True
                await asyncio.to_thread(postgres.stop, "fast")
                await asyncio.sleep(seconds)
                await asyncio.to_thread(postgres.start)
                flags.fault_active = False
            return time.monotonic()

        return f"PostgreSQL stopped (fast) {seconds:.0f} s at +{at:.0f} s and +{at + 15:.0f} s", restart_twice

    if scenario.fault == "redis_stop":
        redis = harness.redis
        if redis is None:
            raise RuntimeError("no private Redis")

        async def redis_stop() -> float:
            await _sleep_until(t0, at)
            flags.fault_active = True
            redis.stop()
            await asyncio.sleep(seconds)
            await redis.start()
            flags.fault_active = False
            return time.monotonic()

        return f"Redis stopped at +{at:.0f} s for {seconds:.0f} s", redis_stop

    if scenario.fault == "duplicates":

        async def nothing() -> float:
            return time.monotonic()

        return "duplicates", nothing

    raise ValueError(f"unknown fault {scenario.fault!r}")


__all__ = ["RECOVERY_WINDOW_SECONDS", "SCENARIOS", "Harness", "Row", "Scenario", "run_stream_scenario"]
