"""Detection ingest requests and answers (``POST /api/detections``, ``POST /api/detections/bulk``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from backend.api.schemas.detections import DetectionIn, Identifier

MAX_BULK_DETECTIONS = 5000


class CameraDetectionIn(DetectionIn):
    camera_id: Identifier


class BulkDetectionsIn(BaseModel):
    detections: list[CameraDetectionIn] = Field(min_length=1, max_length=MAX_BULK_DETECTIONS)
    analyze: bool = True  # False: store as history only (no batch, no fast path)


class IngestOut(BaseModel):
    stored: int
    batch_ids: list[str]
    fast_path: list[str]  # detection ids sent to fast-path analysis
