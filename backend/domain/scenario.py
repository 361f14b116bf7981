"""The detection data contract (../shared/contracts/scenario-format.md) as pydantic models.

These models validate everything a detector posts and everything an evaluation scenario's
``detections.json`` holds. Free text in them (names, OCR, captions, plates) is untrusted camera data.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
ShortText = Annotated[str, StringConstraints(max_length=500)]
ZoneType = Literal["entry_point", "driveway", "yard", "sidewalk", "street", "other"]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


def normalise_plate(text: str) -> str:
    """The comparison form of a licence plate: upper case, no spaces or dashes ("abc-12 34" -> "ABC1234").
    Known plates and plates read by a detector are both compared in this form."""
    return text.upper().replace(" ", "").replace("-", "")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class CameraIn(_Model):
    id: Identifier
    name: ShortText
    frame_width: int = Field(default=1920, gt=0, le=16384)
    frame_height: int = Field(default=1080, gt=0, le=16384)


class ZoneIn(_Model):
    id: Identifier
    name: ShortText
    zone_type: ZoneType = "other"
    polygon: list[tuple[Unit, Unit]] = Field(min_length=3, max_length=64)


class BBox(_Model):
    x: float = Field(ge=0)
    y: float = Field(ge=0)
    width: float = Field(gt=0)
    height: float = Field(gt=0)


class LicensePlate(_Model):
    text: ShortText
    confidence: Unit = 1.0


class Face(_Model):
    detected: bool = True
    matched_name: ShortText | None = None
    confidence: Unit = 1.0


class Vision(_Model):
    caption: ShortText | None = None
    attributes: dict[str, ShortText] = Field(default_factory=dict)


class ReId(_Model):
    seen_before: bool = False
    first_seen: AwareDatetime | None = None
    cameras: list[ShortText] = Field(default_factory=list)


class Flag(_Model):
    detected: bool = False
    confidence: Unit = 0.0


class Weapon(Flag):
    type: ShortText | None = None


class Weather(_Model):
    condition: ShortText | None = None
    visibility: ShortText | None = None


class Clothing(_Model):
    upper: ShortText | None = None
    lower: ShortText | None = None
    face_covering: bool = False


class Vehicle(_Model):
    type: ShortText | None = None
    color: ShortText | None = None
    damage: bool = False


class Pet(_Model):
    type: ShortText | None = None


class Pose(_Model):
    posture: ShortText | None = None
    action: ShortText | None = None


class ImageQuality(_Model):
    blur: Unit = 0.0
    brightness: Unit = 0.5
    tampering: bool = False


class Depth(_Model):
    distance_m: float = Field(ge=0)


class Enrichment(_Model):
    """Per-detection enrichment results; every key optional (contract table)."""

    license_plate: LicensePlate | None = None
    face: Face | None = None
    ocr_text: list[ShortText] = Field(default_factory=list, max_length=50)
    vision: Vision | None = None
    reid: ReId | None = None
    violence: Flag | None = None
    weapon: Weapon | None = None
    weather: Weather | None = None
    clothing: Clothing | None = None
    vehicle: Vehicle | None = None
    pet: Pet | None = None
    pose: Pose | None = None
    image_quality: ImageQuality | None = None
    depth: Depth | None = None
    dwell_seconds: float | None = Field(default=None, ge=0)


class DetectionIn(_Model):
    id: Identifier
    detected_at: AwareDatetime
    object_type: Annotated[str, StringConstraints(min_length=1, max_length=64, to_lower=True)]
    confidence: Unit
    bbox: BBox | None = None
    track_id: int | None = None
    enrichment: Enrichment = Field(default_factory=Enrichment)


class Baseline(_Model):
    sample_days: int = Field(default=0, ge=0)
    expected_per_hour: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)


class CrossCameraSighting(_Model):
    camera_id: Identifier
    camera_name: ShortText = ""
    detected_at: AwareDatetime
    object_type: Annotated[str, StringConstraints(min_length=1, max_length=64, to_lower=True)]
    confidence: Unit = 1.0


class Household(_Model):
    known_faces: list[ShortText] = Field(default_factory=list)
    known_plates: list[ShortText] = Field(default_factory=list)

    @field_validator("known_plates")
    @classmethod
    def _normalise_plates(cls, plates: list[str]) -> list[str]:
        return [normalise_plate(p) for p in plates]


class ScenarioInput(_Model):
    """Everything the analyzer may know about one batch: the shape of ``detections.json``."""

    camera: CameraIn
    zones: list[ZoneIn] = Field(default_factory=list)
    detections: list[DetectionIn] = Field(min_length=1)
    baseline: Baseline | None = None
    cross_camera: list[CrossCameraSighting] = Field(default_factory=list)
    household: Household = Field(default_factory=Household)
