"""The FastAPI application: ``create_app(settings, analyzer)``; run with ``python -m backend.api``.

The lifespan migrates the database, connects Redis (if REDIS_URL is set), starts the broadcaster, recovers
open batches, starts the home integrations (MQTT_URL: Frigate in, Home Assistant out; NOTIFY_URLS: phones;
``backend.services.integrations``), and runs two loops: the batcher (closes due batches) and the retry loop
(re-runs failed analyses). Closed batches and fast-path detections go to the analyzer; every stored event is broadcast.

Redis is optional at run time too: while it is unreachable, batching falls back to this process
(``FallbackBatchState``) and broadcasts wait in the broadcaster's outbox, so ingest keeps answering 2xx. Its
client fails fast (``REDIS_*`` below) instead of redis-py's default of ten retries per command.

Around the routes (outermost first): CORS for ``ALLOWED_ORIGINS`` only, the API key and the WebSocket origin,
JSON-only writes, the body-size limit (``backend.api.security``); errors always answer JSON
(``backend.api.errors``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.middleware.cors import CORSMiddleware

from backend.api.errors import install_error_handlers
from backend.api.routes import cameras, detections, events, system
from backend.api.schemas.events import event_message
from backend.api.security import ApiKeyMiddleware, BodyLimitMiddleware, JsonOnlyMiddleware
from backend.api.services import AppServices
from backend.config.logging import configure_logging
from backend.config.settings import BackendSettings, get_settings
from backend.db.session import create_engine_from_url, create_session_factory, init_db
from backend.models import Event
from backend.services.analysis_dispatch import AnalysisDispatcher, Analyzer, LLMHealthGate
from backend.services.batch_state import (
    BatchRules,
    BatchState,
    FallbackBatchState,
    MemoryBatchState,
    RedisBatchState,
)
from backend.services.batcher import Batcher
from backend.services.broadcaster import Broadcaster
from backend.services.ingest import FastPathRule
from backend.services.integrations import HomeIntegrations
from backend.services.llm_client import LLMClient
from backend.services.semantic import get_reader

logger = logging.getLogger(__name__)

REDIS_CONNECT_TIMEOUT_SECONDS = 1.0
REDIS_SOCKET_TIMEOUT_SECONDS = 2.0
REDIS_RETRIES = 2  # quick retries of a command (a pooled connection that Redis closed reconnects); then an outage
REDIS_RETRY_SECONDS = 2.0  # while Redis is down, how often batching tries it again


def redis_client(url: str) -> Redis:
    """A client that fails fast when Redis is unreachable (the callers fall back; see the module docstring)."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
        socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), REDIS_RETRIES),
    )


def _default_analyzer(
    settings: BackendSettings, redis: Redis | None, sessions: async_sessionmaker[AsyncSession], llm: LLMClient
) -> Analyzer:
    from backend.services.nemotron_analyzer import NemotronAnalyzer

    analyzer: Analyzer = NemotronAnalyzer(
        redis_client=redis,
        use_enriched_context=True,
        use_enrichment_pipeline=True,
        session_factory=sessions,
        settings=settings,
        llm_client=llm,
    )
    return analyzer


def create_app(settings: BackendSettings | None = None, analyzer: Analyzer | None = None) -> FastAPI:
    """The app; ``analyzer`` defaults to ``NemotronAnalyzer`` built from ``settings`` at start-up."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        await init_db(settings.database_url)
        engine = create_engine_from_url(settings.database_url)
        sessions = create_session_factory(engine)
        redis = redis_client(settings.redis_url) if settings.redis_url else None
        broadcaster = Broadcaster(redis, settings.redis_events_channel)
        await broadcaster.start()

        integrations: HomeIntegrations | None = None  # built below: it needs the batcher and the dispatcher

        async def publish_event(event: Event) -> None:
            await broadcaster.publish(event_message(event))
            if integrations is not None:
                await integrations.on_event(event)

        llm = LLMClient.from_settings(settings)  # owned here: closed at shutdown
        dispatcher = AnalysisDispatcher(
            analyzer or _default_analyzer(settings, redis, sessions, llm),
            sessions,
            publish_event,
            health=LLMHealthGate(llm.healthy, max_delay=settings.llm_health_backoff_max_seconds),
            retry_base_seconds=settings.retry_interval_seconds,
            max_attempts=settings.retry_max_attempts,
            lease_seconds=settings.analysis_lease_seconds,
            concurrency=settings.analysis_concurrency,
        )
        rules = BatchRules(settings.batch_window_seconds, settings.batch_idle_seconds, settings.batch_max_detections)
        state: BatchState = (
            FallbackBatchState(
                RedisBatchState(redis, rules, settings.redis_key_prefix),
                MemoryBatchState(rules),
                retry_seconds=REDIS_RETRY_SECONDS,
            )
            if redis is not None
            else MemoryBatchState(rules)
        )
        batcher = Batcher(
            sessions,
            state,
            rules,
            on_batch_closed=dispatcher.on_batch_closed,
            on_fast_path=dispatcher.on_fast_path,
            analysis_lease_seconds=settings.analysis_lease_seconds,
            tick_seconds=settings.batch_tick_seconds,
        )
        fast_path_rule = FastPathRule(settings.fast_path_confidence, frozenset(settings.fast_path_object_types))
        integrations = HomeIntegrations.from_settings(settings, sessions, batcher, fast_path_rule, dispatcher)
        app.state.services = AppServices(
            settings=settings,
            engine=engine,
            sessions=sessions,
            redis=redis,
            broadcaster=broadcaster,
            dispatcher=dispatcher,
            batcher=batcher,
            fast_path_rule=fast_path_rule,
            integrations=integrations,
        )
        await batcher.recover()
        await integrations.start()
        loops = [
            asyncio.create_task(batcher.run()),
            asyncio.create_task(dispatcher.run()),
            asyncio.create_task(_warm_semantic_reader()),
        ]
        logger.info("backend started", extra={"database": engine.url.get_backend_name(), "redis": redis is not None})
        try:
            yield
        finally:
            for loop in loops:
                loop.cancel()
            for loop in loops:
                with contextlib.suppress(asyncio.CancelledError):
                    await loop
            await integrations.stop()
            await batcher.stop()
            await broadcaster.stop()
            await llm.aclose()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()
            logger.info("backend stopped")

    async def _warm_semantic_reader() -> None:
        """Loads the sentence-embedding model (a few seconds) before the first batch needs it; a failure is
        logged here, and each analysis that needs it raises it again."""
        try:
            await asyncio.to_thread(get_reader)
        except Exception:
            logger.exception("the sentence-embedding model could not be loaded")

    api_key = settings.resolved_api_key()  # an unreadable or empty API_KEY_FILE stops the start: fail closed
    app = FastAPI(title="Nemotron risk service", version="0.1.0", lifespan=lifespan)
    for module in (cameras, detections, events, system):
        app.include_router(module.router)
    install_error_handlers(app)
    # add_middleware wraps: the last added runs first
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(JsonOnlyMiddleware)
    app.add_middleware(ApiKeyMiddleware, api_key=api_key, allowed_origins=settings.allowed_origins)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
