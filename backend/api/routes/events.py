"""Events: listing with filters, one event with its detections, review, and the live WebSocket feed."""

from __future__ import annotations

import contextlib
from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException, Path, Query, WebSocket, WebSocketDisconnect, status

from backend.api.schemas.detections import Identifier, Instant
from backend.api.schemas.events import (
    EventDetailOut,
    EventListOut,
    EventOut,
    EventStatusName,
    ReviewIn,
    RiskLevel,
)
from backend.api.services import Services, Session, get_services
from backend.domain.scenario import INT32_MAX
from backend.services.event_store import get_event, list_events, mark_reviewed

router = APIRouter(tags=["events"])

# event ids are 32-bit integers (``events.id``); offsets past the last id find nothing either
EventId = Annotated[int, Path(ge=1, le=INT32_MAX)]


@router.get("/api/events")
async def get_events(
    session: Session,
    camera_id: Identifier | None = None,
    level: RiskLevel | None = None,
    status_: Annotated[EventStatusName | None, Query(alias="status")] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    reviewed: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
) -> EventListOut:
    """Newest first; ``since``/``until`` bound the event's first detection time (inclusive, exclusive)."""
    events = await list_events(
        session,
        camera_id=camera_id,
        level=level,
        status=status_,
        since=since,
        until=until,
        reviewed=reviewed,
        limit=limit,
        offset=offset,
    )
    return EventListOut(events=[EventOut.model_validate(e) for e in events], limit=limit, offset=offset)


@router.get("/api/events/{event_id}")
async def get_one_event(event_id: EventId, session: Session) -> EventDetailOut:
    event = await get_event(session, event_id, with_detections=True)
    if event is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no event {event_id}")
    return EventDetailOut.from_event(event)


@router.post("/api/events/{event_id}/review")
async def review_event(
    event_id: EventId, session: Session, services: Services, body: ReviewIn | None = None
) -> EventOut:
    event = await mark_reviewed(session, event_id, notes=body.notes if body else None)
    if event is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no event {event_id}")
    await services.dispatcher.announce(event)
    return EventOut.model_validate(event)


@router.websocket("/ws/events")
async def events_feed(websocket: WebSocket) -> None:
    """Sends ``{"type": "subscribed"}`` once listening, then ``{"type": "event", "event": {...}}`` for each
    new or updated event (not-assessed ones included). Client messages are ignored."""
    broadcaster = get_services(websocket).broadcaster
    await websocket.accept()
    async with broadcaster.subscribe() as subscription, anyio.create_task_group() as tasks:

        async def forward() -> None:
            with contextlib.suppress(WebSocketDisconnect):
                async for message in subscription:
                    await websocket.send_json(message)
            tasks.cancel_scope.cancel()

        await websocket.send_json({"type": "subscribed"})
        tasks.start_soon(forward)
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()
        tasks.cancel_scope.cancel()
