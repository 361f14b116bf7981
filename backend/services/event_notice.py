"""What the outputs (Home Assistant, phone notifications) are told about a stored or re-assessed event.

``EventNotice`` is built once per stored event (``notice_for``) and handed to every output, so they all say
the same thing: the level, score and summary of the event, its camera, its time, and links to Frigate's
snapshot and clip of the tracked object behind it when FRIGATE_URL is set (Frigate HTTP API:
``/api/events/<id>/snapshot.jpg``, ``/api/events/<id>/clip.mp4``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import Camera, Detection, Event, EventDetection


@dataclass(frozen=True)
class EventNotice:
    """One event as the outputs show it.

    ``status``: "assessed", "not_assessed" (the LLM could not be reached yet: level and score are None and the
    event will be re-announced once assessed) or "failed". ``risk_score`` 0-100, ``risk_level`` low / medium /
    high / critical (``backend.domain.risk_levels``). Times are aware datetimes (UTC as stored).
    ``external_id``: the detector's id of the object behind the event (Frigate's event id), the highest-
    confidence one when several; the links point at it.
    """

    event_id: int
    camera_id: str
    camera_name: str
    status: str
    risk_level: str | None
    risk_score: int | None
    summary: str
    recommended_action: str
    started_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime | None
    external_id: str | None = None
    snapshot_url: str | None = None
    clip_url: str | None = None


def frigate_links(frigate_url: str | None, external_id: str | None) -> tuple[str | None, str | None]:
    """(snapshot URL, clip URL) of a Frigate event, or (None, None) without FRIGATE_URL or an id."""
    if not frigate_url or not external_id:
        return None, None
    base = frigate_url.rstrip("/")
    return f"{base}/api/events/{external_id}/snapshot.jpg", f"{base}/api/events/{external_id}/clip.mp4"


async def notice_for(session: AsyncSession, event: Event, frigate_url: str | None) -> EventNotice:
    """The notice of a stored ``event`` (reads its camera's name and its detections' external ids)."""
    camera_name = await session.scalar(select(Camera.name).where(Camera.id == event.camera_id))
    external = await session.scalar(
        select(Detection.external_id)
        .join(EventDetection, EventDetection.detection_id == Detection.id)
        .where(EventDetection.event_id == event.id, Detection.external_id.is_not(None))
        .order_by(Detection.confidence.desc(), Detection.id)
        .limit(1)
    )
    snapshot, clip = frigate_links(frigate_url, external)
    return EventNotice(
        event_id=event.id,
        camera_id=event.camera_id,
        camera_name=camera_name or event.camera_id,
        status=event.status,
        risk_level=event.risk_level,
        risk_score=event.risk_score,
        summary=event.summary,
        recommended_action=event.recommended_action,
        started_at=event.started_at,
        ended_at=event.ended_at,
        updated_at=event.updated_at,
        external_id=external,
        snapshot_url=snapshot,
        clip_url=clip,
    )
