"""Events: one risk assessment per batch (or per fast-path detection), with the detections behind it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Base, BigId, utcnow
from backend.models.detection import Detection


class EventKind(StrEnum):
    BATCH = "batch"
    FAST_PATH = "fast_path"


class EventStatus(StrEnum):
    ASSESSED = "assessed"
    NOT_ASSESSED = "not_assessed"  # not assessed yet: waiting for the LLM to come back, or retried at next_retry_at
    # terminal: a deterministic failure (unusable answers, prompt over budget) RETRY_MAX_ATTEMPTS times
    FAILED = "failed"


class EventDetection(Base):
    __tablename__ = "event_detections"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    detection_id: Mapped[int] = mapped_column(BigId, ForeignKey("detections.id", ondelete="CASCADE"), primary_key=True)


class Event(Base):
    """``batch_id`` is unique: it is what guarantees one event per batch. Fast-path events use
    ``fast:<camera id>:<detection id>`` (see ``event_store.fast_path_key``); it names no Batch row."""

    __tablename__ = "events"
    __table_args__ = (
        Index(None, "camera_id", "started_at"),
        Index(None, "risk_level", "started_at"),
        Index(None, "status", "next_retry_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(160), unique=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    risk_score: Mapped[int | None]
    risk_level: Mapped[str | None] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text, default="")
    reasoning: Mapped[str] = mapped_column(Text, default="")
    risk_factors: Mapped[list[Any]] = mapped_column(default=list)
    recommended_action: Mapped[str] = mapped_column(Text, default="")
    template: Mapped[str] = mapped_column(String(64), default="")
    decided_by: Mapped[dict[str, Any]] = mapped_column(default=dict)
    level_corrected: Mapped[bool] = mapped_column(default=False)
    correction_note: Mapped[str] = mapped_column(Text, default="")
    llm_model: Mapped[str] = mapped_column(String(200), default="")
    llm_latency_ms: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=1)
    next_retry_at: Mapped[datetime | None]
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None]  # first detection
    ended_at: Mapped[datetime | None]  # last detection
    reviewed: Mapped[bool] = mapped_column(default=False)
    reviewed_at: Mapped[datetime | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    detections: Mapped[list[Detection]] = relationship(
        secondary="event_detections", order_by=(Detection.detected_at, Detection.id), viewonly=True, lazy="raise"
    )
