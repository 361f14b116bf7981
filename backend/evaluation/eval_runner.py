"""Run the production analyzer over labelled scenarios and score it four ways.

Each scenario goes through :meth:`NemotronAnalyzer.assess`, the code production runs, against a real LLM
server; only its ``detections.json`` is given to it. From each run come four verdicts, measured side by
side: ``combined`` (what an event records: the model's score met with the evidence by the model's trust,
never below the floors), ``llm_only`` (the model's own score and its band), ``evidence_only`` (the
checklist alone) and ``oracle`` (what a perfect model would get at trust 1: the middle of the labelled
range met with the floors; it needs only the labels, and measures how much room the floors leave a correct
model).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from backend.domain.errors import ServiceError
from backend.domain.risk_levels import level_for_score
from backend.evaluation.prompt_eval_dataset import EvalSample
from backend.evaluation.prompt_evaluator import calculate_metrics, evaluate_batch
from backend.services.context_enrichment import build_context
from backend.services.evidence_risk import assess_evidence, blend
from backend.services.nemotron_analyzer import NemotronAnalyzer, RiskAssessment

SCORERS = ("combined", "llm_only", "evidence_only", "oracle")
ORACLE_TRUST = 1.0
UNAVAILABLE_WAIT_SECONDS = 600.0  # how long one scenario waits for an unavailable LLM to come back
PROBE_CAP_SECONDS = 30.0


class Prediction(BaseModel):
    scenario_id: str
    category: str
    expected_min: int
    expected_max: int
    expected_level: str
    status: str  # assessed | not_assessed (a deterministic failure, or the LLM never came back)
    risk_score: int | None
    risk_level: str | None
    llm_score: int | None
    evidence_score: int
    evidence_floor: int = 0
    llm_model: str = ""
    trust: float | None = None
    template: str | None = None
    seconds: float
    error: str = ""

    def as_scorer(self, scorer: str) -> dict[str, Any]:
        """This prediction as one scorer's verdict, the shape evaluate_batch takes."""
        if scorer == "evidence_only":
            return {
                "risk_score": self.evidence_score,
                "risk_level": level_for_score(self.evidence_score),
                "status": "assessed",
            }
        if scorer == "oracle":
            oracle = blend(
                self.evidence_score, self.evidence_floor, (self.expected_min + self.expected_max) // 2, ORACLE_TRUST
            )
            return {"risk_score": oracle, "risk_level": level_for_score(oracle), "status": "assessed"}
        score = self.risk_score if scorer == "combined" else self.llm_score
        level = None if score is None else level_for_score(score)
        return {"risk_score": score, "risk_level": level, "status": self.status}


async def _assess_when_available(analyzer: NemotronAnalyzer, sample: EvalSample) -> RiskAssessment:
    """``analyzer.assess`` by the failure's kind: a retryable one (the LLM down or busy) waits for the server's
    health, probing 1, 2, 4 ... PROBE_CAP_SECONDS apart, up to UNAVAILABLE_WAIT_SECONDS, then tries again; a
    deterministic one is raised at once (the scenario is scored as not assessed)."""
    deadline = time.monotonic() + UNAVAILABLE_WAIT_SECONDS
    while True:
        try:
            return await analyzer.assess(sample.inputs)
        except ServiceError as exc:
            if not exc.retryable or time.monotonic() >= deadline:
                raise
            delay = 1.0
            while time.monotonic() < deadline and not await analyzer.llm.healthy():
                await asyncio.sleep(delay)
                delay = min(delay * 2, PROBE_CAP_SECONDS)


async def predict(analyzer: NemotronAnalyzer, sample: EvalSample) -> Prediction:
    started = time.perf_counter()
    common = {
        "scenario_id": sample.scenario_id,
        "category": sample.category,
        "expected_min": sample.expected_min,
        "expected_max": sample.expected_max,
        "expected_level": sample.expected_level,
    }
    try:
        verdict = await _assess_when_available(analyzer, sample)
    except ServiceError as exc:
        ctx = build_context(sample.inputs, cross_camera_minutes=analyzer.settings.cross_camera_minutes)
        evidence = await asyncio.to_thread(assess_evidence, ctx)
        return Prediction(
            **common,
            evidence_score=evidence.score,
            evidence_floor=evidence.floor,
            status="not_assessed",
            risk_score=None,
            risk_level=None,
            llm_score=None,
            seconds=time.perf_counter() - started,
            error=str(exc),
        )
    return Prediction(
        **common,
        status="assessed",
        risk_score=verdict.risk_score,
        risk_level=verdict.risk_level,
        llm_score=verdict.llm_score,
        evidence_score=verdict.evidence_score,
        evidence_floor=verdict.evidence_floor,
        llm_model=verdict.llm_model,
        trust=verdict.decided_by.get("trust"),
        template=verdict.template,
        seconds=time.perf_counter() - started,
    )


async def run_predictions(
    analyzer: NemotronAnalyzer,
    samples: list[EvalSample],
    *,
    concurrency: int = 1,
    on_done: Callable[[Prediction], None] | None = None,
) -> list[Prediction]:
    """Predictions aligned with ``samples``."""
    gate = asyncio.Semaphore(concurrency)

    async def one(sample: EvalSample) -> Prediction:
        async with gate:
            prediction = await predict(analyzer, sample)
        if on_done is not None:
            on_done(prediction)
        return prediction

    return list(await asyncio.gather(*(one(s) for s in samples)))


def score_all(samples: list[EvalSample], predictions: list[Prediction]) -> dict[str, dict[str, Any]]:
    """calculate_metrics for each of the four scorers."""
    return {
        scorer: calculate_metrics(evaluate_batch(samples, [p.as_scorer(scorer) for p in predictions]))
        for scorer in SCORERS
    }
