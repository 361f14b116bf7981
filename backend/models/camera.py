"""Cameras, their zones, and the household's known faces and plates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, utcnow


class Camera(Base):
    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    frame_width: Mapped[int] = mapped_column(default=1920)
    frame_height: Mapped[int] = mapped_column(default=1080)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Zone(Base):
    """A polygon in normalized frame coordinates (0-1), empty for a zone known by name only (a detector such as
    Frigate names the zones an object is in); ``id`` is unique per camera. ``zone_type_source``: "set" (API,
    scenario) or "guessed" (from the name of a zone first heard of from a detector)."""

    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("camera_id", "zone_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    zone_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(500))
    zone_type: Mapped[str] = mapped_column(String(32), default="other")
    polygon: Mapped[list[Any]]
    zone_type_source: Mapped[str] = mapped_column(String(16), default="set", server_default="set")


class HouseholdEntry(Base):
    """A known face (a name) or a known licence plate (normalized: upper case, no spaces or dashes)."""

    __tablename__ = "household_entries"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "face" | "plate"
    value: Mapped[str] = mapped_column(String(500))
