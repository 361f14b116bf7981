"""Detections between the API contract (``DetectionIn``) and the ``detections`` table."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from backend.domain.scenario import DetectionIn
from backend.models import Detection

# what ``detection_in`` reads (plus the keys a batch is looked up by): select these, not whole ORM rows
DETECTION_COLUMNS = (
    Detection.id,
    Detection.camera_id,
    Detection.detection_id,
    Detection.detected_at,
    Detection.utc_offset_minutes,
    Detection.object_type,
    Detection.confidence,
    Detection.bbox,
    Detection.track_id,
    Detection.zones,
    Detection.external_id,
    Detection.enrichment,
)

_DETECTOR_ID = select(Detection.detection_id).where(Detection.id == bindparam("pk"))


def detector_id(session: Session, detection_pk: int) -> str | None:
    """The id the detector gave the stored detection ``detection_pk``; None if there is no such row."""
    return session.connection().scalar(_DETECTOR_ID, {"pk": detection_pk})


def utc_offset_minutes(moment: datetime) -> int:
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {moment!r}: a UTC offset is required")
    return int(offset.total_seconds() // 60)


def with_offset(instant: datetime, offset_minutes: int) -> datetime:
    """The instant in the fixed UTC offset it was posted with: the camera's local time."""
    return instant.astimezone(timezone(timedelta(minutes=offset_minutes)))


def detection_row(
    camera_id: str, detection: DetectionIn, *, batch_id: str | None, fast_path: bool, created_at: datetime
) -> dict[str, Any]:
    """The column values of one detection (enrichment keeps only what the detector sent)."""
    local = detection.detected_at
    return {
        "camera_id": camera_id,
        "detection_id": detection.id,
        "detected_at": local,
        "utc_offset_minutes": utc_offset_minutes(local),
        "local_weekday": local.weekday(),
        "local_hour": local.hour,
        "object_type": detection.object_type,
        "confidence": detection.confidence,
        "bbox": detection.bbox.model_dump(mode="json") if detection.bbox else None,
        "track_id": detection.track_id,
        "zones": detection.zones,
        "external_id": detection.external_id,
        "enrichment": detection.enrichment.model_dump(mode="json", exclude_unset=True),
        "batch_id": batch_id,
        "fast_path": fast_path,
        "created_at": created_at,
    }


def detection_in(row: Detection | Row[Any]) -> DetectionIn:
    """A stored detection back in contract form, ``detected_at`` in its original UTC offset."""
    return DetectionIn.model_validate(
        {
            "id": row.detection_id,
            "detected_at": with_offset(row.detected_at, row.utc_offset_minutes),
            "object_type": row.object_type,
            "confidence": row.confidence,
            "bbox": row.bbox,
            "track_id": row.track_id,
            "zones": row.zones,
            "external_id": row.external_id,
            "enrichment": row.enrichment,
        }
    )
