"""Health (database, Redis, LLM server) and Prometheus metrics."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from backend.api.services import Services
from backend.services.metrics import REGISTRY

router = APIRouter(tags=["system"])

LLM_HEALTH_TIMEOUT_SECONDS = 2.0


async def _check_database(services: Services) -> str:
    try:
        async with services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return "ok"


async def _check_redis(services: Services) -> str:
    if services.redis is None:
        return "disabled"
    try:
        await services.redis.ping()
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return "ok"


async def _check_llm(services: Services) -> str:
    settings = services.settings
    headers = {}
    if settings.llm_api_key is not None:
        headers["Authorization"] = f"Bearer {settings.llm_api_key.get_secret_value()}"
    try:
        async with httpx.AsyncClient(timeout=LLM_HEALTH_TIMEOUT_SECONDS) as client:
            answer = await client.get(f"{settings.llm_url.rstrip('/')}/health", headers=headers)
    except httpx.HTTPError as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return "ok" if answer.status_code == 200 else f"error: HTTP {answer.status_code}"


@router.get("/health")
async def health(services: Services, response: Response) -> dict[str, object]:
    """503 ``unavailable`` when the database is down; ``degraded`` (200) when Redis, the LLM or the MQTT broker
    is unreachable: without Redis, ingest and batching go on in this process and broadcasts wait in an outbox;
    without the LLM, events are stored ``not_assessed`` and retried; without the broker, the link reconnects
    with backoff and Home Assistant states wait in its queue. ``integrations``: the MQTT link, Frigate ingest
    counters and notification counters. Always open, even with an API key set."""
    checks = {
        "database": await _check_database(services),
        "redis": await _check_redis(services),
        "llm": await _check_llm(services),
    }
    integrations = services.integrations
    if integrations is not None and integrations.link is not None:
        link = integrations.link
        checks["mqtt"] = "ok" if link.connected else f"error: {link.last_error or 'connecting'}"
    essential_ok = checks["database"] == "ok"
    if not essential_ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    all_ok = (
        essential_ok
        and checks["llm"] == "ok"
        and checks["redis"] in ("ok", "disabled")
        and checks.get("mqtt", "ok") == "ok"
    )
    overall = "ok" if all_ok else ("degraded" if essential_ok else "unavailable")
    answer: dict[str, object] = {
        "status": overall,
        "checks": checks,
        "events_waiting_for_redis": services.broadcaster.pending,
    }
    if integrations is not None:
        answer["integrations"] = integrations.status()
    return answer


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
