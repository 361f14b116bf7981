"""SQLAlchemy ORM models (SQLite and PostgreSQL)."""

from backend.models.base import Base, UTCDateTime, table_of, utcnow
from backend.models.batch import Batch, BatchStatus
from backend.models.camera import Camera, HouseholdEntry, Zone
from backend.models.detection import Detection
from backend.models.event import Event, EventDetection, EventKind, EventStatus

__all__ = [
    "Base",
    "Batch",
    "BatchStatus",
    "Camera",
    "Detection",
    "Event",
    "EventDetection",
    "EventKind",
    "EventStatus",
    "HouseholdEntry",
    "UTCDateTime",
    "Zone",
    "table_of",
    "utcnow",
]
