"""Detections as posted by the detectors, each in at most one batch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, BigId, utcnow


class Detection(Base):
    """``detected_at`` is stored as UTC; ``utc_offset_minutes`` keeps the offset it was posted with, and
    ``local_weekday``/``local_hour`` (Monday = 0) the camera's local time derived from it (baseline look-ups).
    ``bbox`` lies within the camera frame: a box posted reaching past its edge is stored clipped, and the box as
    posted in ``bbox_clipped_from`` (NULL when nothing was clipped)."""

    __tablename__ = "detections"
    __table_args__ = (
        UniqueConstraint("camera_id", "detection_id"),
        Index(None, "camera_id", "detected_at"),
        Index(None, "camera_id", "local_weekday", "local_hour", "detected_at"),  # baseline hour slots
        Index("ix_detections_camera_id_external_id", "camera_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    detection_id: Mapped[str] = mapped_column(String(64))
    detected_at: Mapped[datetime]
    utc_offset_minutes: Mapped[int] = mapped_column(SmallInteger)
    local_weekday: Mapped[int] = mapped_column(SmallInteger)
    local_hour: Mapped[int] = mapped_column(SmallInteger)
    object_type: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float]
    bbox: Mapped[dict[str, Any] | None]
    bbox_clipped_from: Mapped[dict[str, Any] | None]  # the posted box when it reached outside the frame
    track_id: Mapped[int | None]
    zones: Mapped[list[Any] | None]  # zone ids the detector placed the object in; NULL: from the box (0004)
    external_id: Mapped[str | None] = mapped_column(String(64))  # the detector's object id (Frigate's event id)
    enrichment: Mapped[dict[str, Any]]
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="SET NULL"), index=True)
    fast_path: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
