"""The risk analyzer: a batch of detections in, one stored, risk-scored Event out.

Flow (spec "Integration Flow"): load the batch from the database with its context (zones, baseline
learned from history, cross-camera activity, household), derive the facts, pick the prompt template
from the enrichment present, fit the prompt to the model's context, ask the LLM (structured output in
whatever form the server enforces), parse and validate the answer, and store the Event, exactly one per
batch. :meth:`NemotronAnalyzer.assess` is the part without the database: the evaluation runs it on
scenario files, so it measures the very code production runs.

Failures are raised as the backend's kinds (``backend.domain.errors``), never turned into a made-up score:
``LLMUnavailableError`` (retryable), ``LLMAnswerUnusableError`` and ``LLMRequestError`` (not). The
dispatcher stores the event ``not_assessed`` with the reason and retries it by its kind; the same row
becomes assessed later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from backend.config.settings import BackendSettings, get_settings
from backend.db.session import run_unit_of_work
from backend.domain.errors import LLMAnswerUnusableError
from backend.domain.llm_response import RISK_ANALYSIS_JSON_SCHEMA
from backend.domain.risk_levels import LEVEL_ACTIONS, RiskLevel
from backend.domain.scenario import Enrichment, ScenarioInput
from backend.models import Event, EventKind, EventStatus
from backend.services import metrics
from backend.services.context_enrichment import AnalysisContext, build_context
from backend.services.detection_rows import detector_id
from backend.services.event_store import Assessed, fast_path_key, save_event
from backend.services.evidence_risk import EvidenceAssessment, assess_evidence, combine
from backend.services.history import load_batch_scenario
from backend.services.llm_client import LLMClient
from backend.services.model_trust import TrustStore, resolve_trust
from backend.services.outages import storage_outage
from backend.services.prompt_variants import get_prompt_variant
from backend.services.prompts import RenderedPrompt, estimate_tokens, instruction_texts
from backend.services.risk_parsing import RiskParseError, extract_reasoning_and_response, parse_risk_response
from backend.services.semantic import TextReading, get_reader
from backend.services.summaries import (
    action_problems,
    camera_texts,
    evidence_numbers,
    evidence_summary,
    summary_problems,
)

__all__ = ["NemotronAnalyzer", "RiskAssessment", "extract_reasoning_and_response"]

log = logging.getLogger(__name__)
PARSE_ATTEMPTS = 2  # a fresh sample when the first answer is unusable
_ASSESSED_EVENT_ID = select(Event.id).where(
    Event.batch_id == bindparam("batch_id"), Event.status == EventStatus.ASSESSED
)


def _read_summary(summary: str, own: str) -> tuple[TextReading, float]:
    """The model's summary read by meaning, and its cosine similarity to the evidence's own summary (both
    unit vectors from the semantic layer): how much it is about this event (blocking; run in a thread)."""
    reader = get_reader()
    reading = reader.read_many([summary])[0]
    vectors = reader.embed([summary, own])
    return reading, float(vectors[0] @ vectors[1])


class RiskAssessment(BaseModel):
    """What the analysis decided, and which part decided what (``decided_by``): the LLM's own score, the
    evidence checklist's score and floors, the trust they were met with, the final score, and whether the
    summary is the model's or was written from the evidence."""

    risk_score: int
    risk_level: str
    summary: str
    reasoning: str = ""
    risk_factors: list[str] = Field(default_factory=list)
    recommended_action: str = ""
    template: str
    level_corrected: bool = False
    correction_note: str = ""
    llm_model: str = ""
    llm_latency_ms: int = 0
    decided_by: dict[str, Any] = Field(default_factory=dict)
    llm_score: int
    evidence_score: int
    evidence_floor: int = 0
    prompt_tokens: int | None = None
    cached_tokens: int | None = None

    def outcome(self, **times: Any) -> Assessed:
        """The verdict as the event store takes it (``started_at``/``ended_at`` may be given)."""
        fields = self.model_dump(
            exclude={"prompt_tokens", "cached_tokens", "llm_score", "evidence_score", "evidence_floor"}
        )
        return Assessed(**fields, **times)


class NemotronAnalyzer:
    def __init__(
        self,
        redis_client: Any | None = None,
        use_enriched_context: bool = True,
        use_enrichment_pipeline: bool = True,
        *,
        session_factory: async_sessionmaker[AsyncSession] | None = None,
        settings: BackendSettings | None = None,
        llm_client: LLMClient | None = None,
        reasoning: bool | None = None,
        prompt_variant: str = "current",
    ) -> None:
        self.settings = settings or get_settings()
        self.redis = redis_client
        self.use_enriched_context = use_enriched_context
        self.use_enrichment_pipeline = use_enrichment_pipeline
        self.sessions = session_factory
        self.llm = llm_client or LLMClient.from_settings(self.settings)
        reasoning = self.settings.use_reasoning if reasoning is None else reasoning
        self.prompt_variant = get_prompt_variant("cot" if reasoning and prompt_variant == "current" else prompt_variant)
        self._flights: dict[str, tuple[asyncio.Lock, int]] = {}
        self._trust_store = TrustStore(self.settings.llm_trust_file)

    # --- the part without a database: scenario in, assessment out ---------------------------------------

    def _scope(self, scenario: ScenarioInput) -> ScenarioInput:
        """Drop the context kinds this analyzer was told not to use."""
        update: dict[str, Any] = {}
        if not self.use_enriched_context:
            update.update(zones=[], baseline=None, cross_camera=[])
        if not self.use_enrichment_pipeline:
            update["detections"] = [d.model_copy(update={"enrichment": Enrichment()}) for d in scenario.detections]
        return scenario.model_copy(update=update) if update else scenario

    async def _fit_prompt(
        self, ctx: AnalysisContext, evidence: EvidenceAssessment, template: str | None
    ) -> RenderedPrompt:
        """The prompt, summarized only if the server's tokenizer says it doesn't fit the budget."""
        budget = self.settings.llm_prompt_token_budget
        shown = evidence.prompt_summary()
        prompt = self.prompt_variant.build(ctx, template, evidence=shown)  # type: ignore[arg-type]
        for _ in range(3):
            real = await self.llm.count_tokens(prompt.chatml)
            if real <= budget:
                return prompt
            ratio = real / max(1, estimate_tokens(prompt.chatml)) * 1.05  # calibrate the estimate on this text

            def calibrated(text: str, ratio: float = ratio) -> int:
                return math.ceil(estimate_tokens(text) * ratio)

            prompt = self.prompt_variant.build(
                ctx,
                template,  # type: ignore[arg-type]
                token_budget=budget,
                count_tokens=calibrated,
                evidence=shown,
            )
            budget -= max(0, real - budget) // 4  # tighten further if the calibrated fit still overshoots
        return prompt

    async def assess(self, scenario: ScenarioInput, *, template: str | None = None) -> RiskAssessment:
        """Prompt the LLM about one batch, validate its answer, meet its score with the evidence by the model's
        trust (never below the floors) and check its summary. Raises LLMUnavailableError (retryable),
        LLMRequestError, PromptOverBudgetError or LLMAnswerUnusableError (after PARSE_ATTEMPTS samples)."""
        ctx = build_context(self._scope(scenario), cross_camera_minutes=self.settings.cross_camera_minutes)
        evidence = await asyncio.to_thread(assess_evidence, ctx)  # CPU (sentence embeddings): off the event loop
        prompt = await self._fit_prompt(ctx, evidence, template)
        problems: list[str] = []
        for attempt in range(1, PARSE_ATTEMPTS + 1):
            started = time.perf_counter()
            try:
                reply = await self.llm.complete(
                    system=prompt.system, user=prompt.user, chatml=prompt.chatml, schema=RISK_ANALYSIS_JSON_SCHEMA
                )
            finally:
                metrics.LLM_LATENCY.observe(time.perf_counter() - started)
            try:
                parsed = parse_risk_response(reply.text)
            except RiskParseError as exc:
                metrics.LLM_PARSE_FAILURES.inc()
                problems.append(f"attempt {attempt}: {exc}")
                log.warning("unusable LLM answer", extra={"attempt": attempt, "error": str(exc)})
                continue
            trust, trust_source = resolve_trust(self.settings, reply.model, self._trust_store)
            final = combine(evidence, parsed.risk_score, parsed.raw_level, trust=trust, trust_source=trust_source)
            factors = list(dict.fromkeys([*final.risk_factors, *parsed.risk_factors]))
            notes = [parsed.correction_note or ""] if parsed.level_corrected else []
            if final.risk_score != parsed.risk_score:
                notes.append(
                    f"LLM score {parsed.risk_score} met with the evidence score {evidence.score} at trust {trust:g}"
                    + (f", floor {evidence.floor}" if evidence.floor else "")
                )
            own_summary = evidence_summary(ctx, evidence, final.risk_level)
            reading, relevance = (
                await asyncio.to_thread(_read_summary, parsed.summary, own_summary) if parsed.summary else (None, None)
            )
            found = [f.concept for f in evidence.findings]
            numbers = evidence_numbers(ctx, final.risk_score)
            instructions = instruction_texts(prompt)
            rejected = summary_problems(
                parsed.summary,
                final.risk_level,
                camera_texts(ctx),
                reading,
                found,
                numbers=numbers,
                instructions=instructions,
                relevance=relevance,
            )
            summary = parsed.summary if not rejected else own_summary
            action_rejected = action_problems(
                parsed.recommended_action or "", final.risk_level, camera_texts(ctx), numbers, instructions
            )
            action = LEVEL_ACTIONS[RiskLevel(final.risk_level)] if action_rejected else parsed.recommended_action
            decided_by = {
                **final.decided_by,
                "summary": "evidence" if rejected else "llm",
                "summary_rejected": rejected,
                "recommended_action": "level" if action_rejected else "llm",
                "recommended_action_rejected": action_rejected,
                "template": prompt.template,
                "prompt_variant": self.prompt_variant.key,
                "structured_output": reply.structured,
                "api": reply.api,
                "prompt_summarized": prompt.summarized,
                "detections_shown": prompt.detections_shown,
                "detections_total": prompt.detections_total,
                "attempts": attempt,
            }
            return RiskAssessment(
                risk_score=final.risk_score,
                risk_level=final.risk_level,
                summary=summary,
                reasoning=parsed.reasoning,
                risk_factors=factors[:12],
                recommended_action=action or "",
                template=prompt.template,
                level_corrected=final.decided_by["risk_level"] == "score_band",
                correction_note="; ".join(n for n in notes if n),
                llm_model=reply.model,
                llm_latency_ms=round(reply.latency_ms),
                decided_by=decided_by,
                llm_score=parsed.risk_score,
                evidence_score=evidence.score,
                evidence_floor=evidence.floor,
                prompt_tokens=reply.prompt_tokens,
                cached_tokens=reply.cached_tokens,
            )
        raise LLMAnswerUnusableError("unusable LLM answers: " + "; ".join(problems))

    # --- the production path: database in, stored Event out ---------------------------------------------

    def _sessions(self) -> async_sessionmaker[AsyncSession]:
        if self.sessions is None:
            raise RuntimeError("NemotronAnalyzer needs session_factory= to analyze stored batches")
        return self.sessions

    @asynccontextmanager
    async def _single_flight(self, key: str) -> AsyncIterator[None]:
        """One analysis of a batch at a time in this process (Redis adds the same across processes);
        the database's unique batch_id is what guarantees one event even without it."""
        lock, users = self._flights.get(key, (asyncio.Lock(), 0))
        self._flights[key] = (lock, users + 1)
        try:
            async with lock, self._redis_lock(key):
                yield
        finally:
            lock, users = self._flights[key]
            if users == 1:
                del self._flights[key]
            else:
                self._flights[key] = (lock, users - 1)

    @asynccontextmanager
    async def _redis_lock(self, key: str) -> AsyncIterator[None]:
        if self.redis is None:
            yield
            return
        name = f"{self.settings.redis_key_prefix}analyzing:{key}"
        acquired = False
        try:
            for _ in range(600):  # wait up to a minute for another process's analysis of the same batch
                acquired = bool(await self.redis.set(name, "1", nx=True, ex=300))
                if acquired:
                    break
                await asyncio.sleep(0.1)
        except Exception as exc:
            if storage_outage(exc) is None:
                raise
            # Redis is down: go on without the cross-process lock; the unique batch_id still keeps one event
            log.warning("Redis unreachable: analysing without the cross-process lock", extra={"batch_id": key})
        try:
            yield
        finally:
            if acquired:
                with contextlib.suppress(Exception):  # the lock expires by itself (ex=300) if Redis went away
                    await self.redis.delete(name)

    def _load(self, session: Session, key: str, camera_id: str, detection_pks: list[int]) -> Event | ScenarioInput:
        """The batch's assessed Event if it has one already (delivered twice: the first analysis stands),
        else the batch with its context. One unit of work: it runs in one database round of its own."""
        connection = session.connection()
        if (event_id := connection.scalar(_ASSESSED_EVENT_ID, {"batch_id": key})) is not None:
            return session.get_one(Event, event_id)
        return load_batch_scenario(
            connection,
            camera_id,
            detection_pks,
            baseline_weeks=self.settings.baseline_weeks,
            cross_camera_minutes=self.settings.cross_camera_minutes,
        )

    async def _analyze(self, key: str, camera_id: str, kind: EventKind, detection_pks: list[int]) -> Event:
        async with self._single_flight(key):
            loaded = await run_unit_of_work(self._sessions(), self._load, key, camera_id, detection_pks)
            if isinstance(loaded, Event):
                return loaded
            verdict = await self.assess(loaded)  # a failure propagates, by its kind, to the dispatcher
            outcome = verdict.outcome(
                started_at=loaded.detections[0].detected_at, ended_at=loaded.detections[-1].detected_at
            )
            return await run_unit_of_work(
                self._sessions(),
                save_event,
                batch_id=key,
                camera_id=camera_id,
                kind=kind,
                detection_pks=detection_pks,
                outcome=outcome,
                retry_base_seconds=self.settings.retry_interval_seconds,
                max_attempts=self.settings.retry_max_attempts,
            )

    async def analyze_batch(self, batch_id: str, camera_id: str, detection_ids: list[int]) -> Event:
        """Analyze a closed batch (detection database ids) and return its stored Event."""
        return await self._analyze(batch_id, camera_id, EventKind.BATCH, list(detection_ids))

    async def analyze_detection_fast_path(self, camera_id: str, detection_id: int) -> Event:
        """A first verdict on one high-confidence critical detection, before its batch closes."""
        external = await run_unit_of_work(self._sessions(), detector_id, detection_id)
        if external is None:
            raise LookupError(f"detection {detection_id} of camera {camera_id!r} is not stored")
        return await self._analyze(fast_path_key(camera_id, external), camera_id, EventKind.FAST_PATH, [detection_id])
