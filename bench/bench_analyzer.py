"""Analyzer benchmarks (issue: risk analyzer backend). Run from the repo root:

    python -m bench.bench_analyzer [--batches 30]

- analyzer time per batch OUTSIDE the LLM call (load from SQLite, context, evidence, prompt, parse, store),
  p50 and p99: the production ``analyze_batch`` path with the real embedded LLM server; the time spent
  waiting in the LLM client (tokenize + completion) is measured and subtracted;
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

from ai.nemotron.launch import ServerProcess
from backend.api.schemas.detections import DetectionIn, ScenarioInput
from backend.config.prompt_variants import get_prompt_variant
from backend.config.settings import BackendSettings
from backend.db.session import create_engine_from_url, create_session_factory, init_db
from backend.models import Camera, Detection
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

    async def complete(self, **kwargs: Any) -> LLMReply:  # type: ignore[override]
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


async def run(batches: int, llm_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await init_db(url)
        engine = create_engine_from_url(url)
        sessions = create_session_factory(engine)
        async with sessions() as session:
            session.add(Camera(id="driveway", name="Driveway"))
            await session.commit()
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
                await session.execute(insert(Detection.__table__), rows)
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
                    scenario = await load_batch_scenario(session, "driveway", pks)
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
    args = p.parse_args()
    with ServerProcess("--ctx-size", "4096") as server:
        r = asyncio.run(run(args.batches, server.url))
    print(f"## Analyzer ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores)")
    print(
        f"analyzer time per batch outside the LLM: p50 {r['outside_p50_ms']:.1f} ms, p99 {r['outside_p99_ms']:.1f} ms "
        f"({r['batches']} batches of 10, SQLite; target p50 <= 5 ms)"
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
