"""Events (and the detections behind them) as the API and the WebSocket show them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.domain.risk_levels import MAX_SCORE, MIN_SCORE, RiskLevel
from backend.domain.scenario import Text
from backend.models import Detection, Event
from backend.services.detection_rows import with_offset

# Levels and score bounds come from the one table (RiskLevel is also the level filter of GET /api/events).
RiskScore = Annotated[int, Field(ge=MIN_SCORE, le=MAX_SCORE)]
EventStatusName = Literal["assessed", "not_assessed", "failed"]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    batch_id: str
    camera_id: str
    kind: str
    status: str
    risk_score: RiskScore | None
    risk_level: RiskLevel | None
    summary: str
    reasoning: str
    risk_factors: list[Any]
    recommended_action: str
    template: str
    decided_by: dict[str, Any]
    level_corrected: bool
    correction_note: str
    llm_model: str
    llm_latency_ms: int | None
    attempts: int
    next_retry_at: datetime | None
    error: str
    started_at: datetime | None
    ended_at: datetime | None
    reviewed: bool
    reviewed_at: datetime | None
    notes: str
    created_at: datetime
    updated_at: datetime


class DetectionOut(BaseModel):
    pk: int
    id: str  # the detector's id
    camera_id: str
    detected_at: datetime  # in the UTC offset it was posted with
    object_type: str
    confidence: float
    bbox: dict[str, Any] | None  # within the camera frame
    bbox_clipped_from: dict[str, Any] | None  # the box as posted when it reached outside the frame; else None
    track_id: int | None
    enrichment: dict[str, Any]
    batch_id: str | None
    fast_path: bool

    @classmethod
    def from_row(cls, row: Detection) -> DetectionOut:
        return cls(
            pk=row.id,
            id=row.detection_id,
            camera_id=row.camera_id,
            detected_at=with_offset(row.detected_at, row.utc_offset_minutes),
            object_type=row.object_type,
            confidence=row.confidence,
            bbox=row.bbox,
            bbox_clipped_from=row.bbox_clipped_from,
            track_id=row.track_id,
            enrichment=row.enrichment,
            batch_id=row.batch_id,
            fast_path=row.fast_path,
        )


class EventDetailOut(EventOut):
    detections: list[DetectionOut]

    @classmethod
    def from_event(cls, event: Event) -> EventDetailOut:
        base = EventOut.model_validate(event).model_dump()
        return cls(**base, detections=[DetectionOut.from_row(d) for d in event.detections])


class EventListOut(BaseModel):
    events: list[EventOut]
    limit: int
    offset: int


class ReviewIn(BaseModel):
    notes: Text | None = Field(default=None, max_length=10_000)


def event_message(event: Event) -> dict[str, Any]:
    """The WebSocket message announcing a new or updated event."""
    return {"type": "event", "event": EventOut.model_validate(event).model_dump(mode="json")}
