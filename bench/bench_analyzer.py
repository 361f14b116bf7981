"""Analyzer benchmarks (issue: risk analyzer backend). Run from the repo root:

    python -m bench.bench_analyzer [--batches 30]

- analyzer time per batch OUTSIDE the LLM call (load from SQLite, context, evidence, prompt, parse, store),
  p50 and p99: the production ``analyze_batch`` path with the real embedded LLM server; the time spent
  waiting in the LLM client (tokenize + completion) is measured and subtracted. The database holds what a
  month-old installation has: ``--history-days`` of detections on three cameras (600 a day each), zones
  and household entries, so the baseline and cross-camera look-ups read real history;
- prompt tokens per plain detection (the server's own tokenizer, marginal cost of one more line);
- end-to-end time of a 10-detection batch with a warm prefix cache, and the share of it outside the LLM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ai.nemotron.launch import ServerProcess
from backend.config.prompt_variants import get_prompt_variant
from backend.config.settings import BackendSettings
from backend.db.session import create_engine_from_url, create_session_factory, init_db
from backend.domain.scenario import DetectionIn, ScenarioInput
from backend.models import Camera, Detection, HouseholdEntry, Zone, table_of
from backend.services.context_enrichment import build_context
from backend.services.detection_rows import detection_row
from backend.services.evidence_risk import assess_evidence, combine
from backend.services.history import load_batch_scenario
from backend.services.llm_client import LLMClient, LLMReply
from backend.services.nemotron_analyzer import NemotronAnalyzer
from backend.services.prompts import build_prompt
from backend.services.risk_parsing import parse_risk_response

START = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


class TimedLLMClient(LLMClient):
    """The real client, keeping count of the seconds spent waiting for the server."""

    waited = 0.0

    async def complete(self, **kwargs: Any) -> LLMReply:
        started = time.perf_counter()
        try:
            return await super().complete(**kwargs)
        finally:
            self.waited += time.perf_counter() - started

    async def count_tokens(self, text: str) -> int:
        started = time.perf_counter()
        try:
            return await super().count_tokens(text)
        finally:
            self.waited += time.perf_counter() - started


def plain_detections(n: int, offset: int = 0) -> list[DetectionIn]:
    kinds = ("person", "car", "dog")
    return [
        DetectionIn(
            id=f"d{offset + i}",
            detected_at=START + timedelta(seconds=7 * i),
            object_type=kinds[i % 3],
            confidence=0.6 + (i % 4) / 10,
            track_id=offset + i,
        )
        for i in range(n)
    ]


async def tokens_per_detection(llm: LLMClient) -> float:
    def scenario(n: int) -> ScenarioInput:
        return ScenarioInput(camera={"id": "driveway", "name": "Driveway"}, detections=plain_detections(n))

    counts = {}
    for n in (10, 50):
        counts[n] = await llm.count_tokens(build_prompt(build_context(scenario(n)), "basic").chatml)
    return (counts[50] - counts[10]) / 40


def compute_only_ms(scenario: ScenarioInput, answer: str) -> float:
    """The analyzer's own work on a loaded batch, without database or LLM: context, evidence, prompt, parse."""
    started = time.perf_counter()
    ctx = build_context(scenario)
    evidence = assess_evidence(ctx)
    get_prompt_variant("current").build(ctx, None, evidence=evidence.prompt_summary())
    parsed = parse_risk_response(answer)
    combine(evidence, parsed.risk_score, parsed.raw_level)
    return (time.perf_counter() - started) * 1000


CAMERAS = {"driveway": "Driveway", "porch": "Front porch", "garden": "Back garden"}
HISTORY_PER_DAY = 600  # detections per camera per day


async def seed_history(session: AsyncSession, days: int) -> int:
    """Cameras, zones, household entries and ``days`` of detections before START; returns the row count."""
    session.add_all(Camera(id=cid, name=name) for cid, name in CAMERAS.items())
    square = [[0.1, 0.1], [0.6, 0.1], [0.6, 0.9], [0.1, 0.9]]
    session.add_all(
        Zone(camera_id="driveway", zone_id=f"z{i}", name=f"zone {i}", zone_type=kind, polygon=square)
        for i, kind in enumerate(("driveway", "entry_point", "street"))
    )
    session.add_all([HouseholdEntry(kind="face", value="Alex"), HouseholdEntry(kind="plate", value="AB123CD")])
    await session.flush()
    step = timedelta(days=1) / HISTORY_PER_DAY
    kinds = ("person", "car", "dog", "cat")
    total = 0
    for camera_id in CAMERAS:
        rows = [
            detection_row(
                camera_id,
                DetectionIn(
                    id=f"h{i}",
                    detected_at=START - step * (i + 1),
                    object_type=kinds[i % 4],
                    confidence=0.7,
                    track_id=i // 3,
                ),
                batch_id=None,
                fast_path=False,
                created_at=START,
            )
            for i in range(days * HISTORY_PER_DAY)
        ]
        for chunk in range(0, len(rows), 5000):
            await session.execute(insert(table_of(Detection)), rows[chunk : chunk + 5000])
        total += len(rows)
    await session.commit()
    return total


async def run(batches: int, llm_url: str, history_days: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await init_db(url)
        engine = create_engine_from_url(url)
        sessions = create_session_factory(engine)
        async with sessions() as session:
            history_rows = await seed_history(session, history_days)
        llm = TimedLLMClient(llm_url)
        analyzer = NemotronAnalyzer(
            session_factory=sessions, settings=BackendSettings(database_url=url), llm_client=llm
        )
        outside, total, compute = [], [], []
        for b in range(batches + 1):  # the first one warms the prefix cache and the structured-output probe
            async with sessions() as session:
                rows = [
                    detection_row("driveway", d, batch_id=None, fast_path=False, created_at=START)
                    for d in plain_detections(10, offset=100 * b)
                ]
                await session.execute(insert(table_of(Detection)), rows)
                await session.commit()
                pks = list(
                    (
                        await session.scalars(
                            select(Detection.id).where(Detection.detection_id.in_([r["detection_id"] for r in rows]))
                        )
                    ).all()
                )
            llm.waited = 0.0
            started = time.perf_counter()
            event = await analyzer.analyze_batch(f"bench-{b}", "driveway", pks)
            elapsed = time.perf_counter() - started
            assert event.status == "assessed", event.error
            if b:
                outside.append((elapsed - llm.waited) * 1000)
                total.append(elapsed * 1000)
                async with sessions() as session:
                    scenario = await (await session.connection()).run_sync(load_batch_scenario, "driveway", pks)
                compute.append(
                    compute_only_ms(
                        scenario,
                        f'{{"risk_score": {event.risk_score}, "risk_level": '
                        f'"{event.risk_level}", "summary": "{event.summary[:40]}"}}',
                    )
                )
        per_det = await tokens_per_detection(llm)
        await engine.dispose()
    q, qc = statistics.quantiles(outside, n=100), statistics.quantiles(compute, n=100)
    return {
        "batches": batches,
        "history_rows": history_rows,
        "compute_p50_ms": statistics.median(compute),
        "compute_p99_ms": qc[98],
        "outside_p50_ms": statistics.median(outside),
        "outside_p99_ms": q[98],
        "e2e_p50_ms": statistics.median(total),
        "outside_share": statistics.median(outside) / statistics.median(total),
        "tokens_per_plain_detection": per_det,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--history-days", type=int, default=28, help="days of stored detections before the batches")
    args = p.parse_args()
    with ServerProcess("--ctx-size", "4096") as server:
        r = asyncio.run(run(args.batches, server.url, args.history_days))
    print(f"## Analyzer ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores)")
    print(
        f"analyzer time per batch outside the LLM: p50 {r['outside_p50_ms']:.1f} ms, p99 {r['outside_p99_ms']:.1f} ms "
        f"({r['batches']} batches of 10; SQLite holding {r['history_rows']:,} detections; target p50 <= 5 ms)"
    )
    print(
        f"  of which the analyzer's own work (context, evidence, prompt, parse; no database): "
        f"p50 {r['compute_p50_ms']:.2f} ms, p99 {r['compute_p99_ms']:.2f} ms"
    )
    print(f"prompt tokens per plain detection: {r['tokens_per_plain_detection']:.1f} (target <= 12)")
    print(
        f"10-detection batch end to end, warm prefix cache: p50 {r['e2e_p50_ms'] / 1000:.2f} s, "
        f"{r['outside_share']:.1%} of it outside the LLM"
    )


if __name__ == "__main__":
    main()
