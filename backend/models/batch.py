"""Batches: one camera's detections grouped for one analysis (the durable record of the batcher)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base


class BatchStatus(StrEnum):
    OPEN = "open"  # taking detections
    CLOSED = "closed"  # handed to the analyzer; redelivered if not analyzed by next_retry_at
    ANALYZED = "analyzed"  # its event is stored (the event tracks any further retries)
    FAILED = "failed"  # delivery gave up after the maximum number of attempts


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (Index(None, "status", "next_retry_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.OPEN)
    opened_at: Mapped[datetime]
    last_detection_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    detection_count: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    next_retry_at: Mapped[datetime | None]
