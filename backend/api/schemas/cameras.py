"""Cameras as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from backend.api.schemas.detections import CameraIn, ZoneIn


class CameraOut(CameraIn):
    created_at: datetime
    zones: list[ZoneIn]


class CameraListOut(BaseModel):
    cameras: list[CameraOut]
