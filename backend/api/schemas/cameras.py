"""Cameras and their zones as the API shows and changes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backend.api.schemas.detections import CameraIn, ShortText, ZoneIn, ZoneType

# where a zone's type came from: "set" through the API (or a scenario, or an import that kept it), "guessed"
# from the zone's name (a zone first heard of from a detector; backend.services.zones.guess_zone_type)
ZoneTypeSource = Literal["set", "guessed"]
NonBlankText = Annotated[ShortText, StringConstraints(min_length=1)]


class ZoneOut(ZoneIn):
    """A zone as stored: ``polygon`` empty for a zone known by name only."""

    zone_type_source: ZoneTypeSource = "set"


class CameraOut(CameraIn):
    created_at: datetime
    zones: list[ZoneOut]


class CameraListOut(BaseModel):
    cameras: list[CameraOut]


class ZonePatch(BaseModel):
    """``PATCH /api/cameras/{camera_id}/zones/{zone_id}``: the zone's type (its source becomes "set", so it is
    never guessed over again) and, optionally, its name. Polygons change through ``PUT .../zones``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    zone_type: ZoneType
    name: NonBlankText | None = None


class CameraPatch(BaseModel):
    """``PATCH /api/cameras/{camera_id}``: the fields given change, the others stay (unlike ``POST /api/cameras``,
    where an omitted frame size is the 1920x1080 default). Frame sizes in pixels, 1-16384."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: NonBlankText | None = None
    frame_width: int | None = Field(default=None, gt=0, le=16384)
    frame_height: int | None = Field(default=None, gt=0, le=16384)
