"""The detection data contract (../shared/contracts/scenario-format.md) as pydantic models.

These models validate everything a detector posts and everything an evaluation scenario's
``detections.json`` holds. Free text in them (names, OCR, captions, plates) is untrusted camera data.

Bounds shared by every field, so that what validates here can be stored on SQLite and on PostgreSQL alike:

* every string type (``Text``, ``Identifier``, ``ShortText``, ``Key``, ``ObjectType``, ``PlateText``) ends with
  the one check ``NoNul``: the NUL character (U+0000) is **refused** with a 422 naming the field (type
  ``string_nul``). PostgreSQL cannot store it in text or JSONB, SQLite would; it is refused on both rather than
  stripped (a stripped string is not what the detector sent, and a retrying detector learns why at once).
  Lone surrogates never get this far: pydantic refuses them (``string_unicode``). Lengths are checked after
  any case change (``at_most``), so they fit their columns.
* integers stored in 32-bit columns (``Int32``: ``track_id``) lie in -2**31 .. 2**31-1;
* instants (``Instant``) carry a UTC offset and lie between 1970-01-01 and 9000-01-01 UTC
  (type ``datetime_out_of_range``), checked without overflowing at the year-1 and year-9999 edges.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)
SHORT_TEXT_MAX = 500  # the String(500) columns
KEY_MAX = 100


def refuse_nul(text: str) -> str:
    """``text`` unchanged; a NUL character is refused (PostgreSQL cannot store it, so neither database gets it)."""
    if "\x00" in text:
        raise PydanticCustomError("string_nul", "Text must not contain the NUL character (\\u0000)")
    return text


def instant_in_range(moment: datetime) -> datetime:
    """``moment`` unchanged when it lies in [1970-01-01, 9000-01-01) UTC; refused otherwise (also when converting
    it to UTC would leave the calendar, e.g. ``0001-01-01T00:00:00+14:00``)."""
    offset = moment.utcoffset()
    try:
        utc = moment.replace(tzinfo=None) - offset if offset is not None else None
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_INSTANT.replace(tzinfo=None) <= utc < LATEST_INSTANT.replace(tzinfo=None):
        raise PydanticCustomError(
            "datetime_out_of_range",
            "Datetime must lie between {earliest} and {latest} (UTC)",
            {"earliest": EARLIEST_INSTANT.isoformat(), "latest": LATEST_INSTANT.isoformat()},
        )
    return moment


def at_most(limit: int) -> AfterValidator:
    """A length check after transformations (``to_lower`` can lengthen text: "İ".lower() is two characters)."""

    def check(text: str) -> str:
        if len(text) > limit:
            raise PydanticCustomError(
                "string_too_long", "String should have at most {max_length} characters", {"max_length": limit}
            )
        return text

    return AfterValidator(check)


NoNul = AfterValidator(refuse_nul)  # the one text check: every string type below ends with it
Text = Annotated[str, NoNul]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$"), NoNul]
ShortText = Annotated[str, StringConstraints(max_length=SHORT_TEXT_MAX), NoNul]
Key = Annotated[str, StringConstraints(max_length=KEY_MAX), NoNul]  # keys of free-form maps
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
Instant = Annotated[AwareDatetime, AfterValidator(instant_in_range)]
ObjectType = Annotated[str, StringConstraints(min_length=1, max_length=64, to_lower=True), at_most(64), NoNul]
ZoneType = Literal["entry_point", "driveway", "yard", "sidewalk", "street", "other"]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


def normalise_plate(text: str) -> str:
    """The comparison form of a licence plate: upper case, no spaces or dashes ("abc-12 34" -> "ABC1234").
    Known plates and plates read by a detector are both compared in this form."""
    return text.upper().replace(" ", "").replace("-", "")


# a known plate in comparison form; upper-casing can lengthen it ("ß" -> "SS"), so its length is checked again
PlateText = Annotated[ShortText, AfterValidator(normalise_plate), at_most(SHORT_TEXT_MAX)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class CameraIn(_Model):
    id: Identifier
    name: ShortText
    frame_width: int = Field(default=1920, gt=0, le=16384)
    frame_height: int = Field(default=1080, gt=0, le=16384)


class ZoneIn(_Model):
    """A zone of a camera: a polygon in frame coordinates (0-1), or no polygon (an empty list) for a zone known
    by name only, which detections name in ``DetectionIn.zones`` (Frigate's ``current_zones``)."""

    id: Identifier
    name: ShortText
    zone_type: ZoneType = "other"
    polygon: list[tuple[Unit, Unit]] = Field(default_factory=list, max_length=64)

    @model_validator(mode="after")
    def _polygon_or_none(self) -> ZoneIn:
        if 0 < len(self.polygon) < 3:
            raise PydanticCustomError(
                "polygon_too_short", "polygon needs at least 3 points (or none, for a zone known by name only)"
            )
        return self


class BoxOutsideFrame(ValueError):
    """A detection's box does not overlap its camera's frame at all: nothing of it can be kept."""

    def __init__(self, frame_width: int, frame_height: int) -> None:
        super().__init__(f"box lies wholly outside the {frame_width}x{frame_height} frame")
        self.frame_width, self.frame_height = frame_width, frame_height


def _clip_span(start: float, length: float, limit: int) -> tuple[float, float] | None:
    """``[start, start + length]`` cut to ``[0, limit]`` as (start, length); None when nothing of it is left."""
    end = start + length
    if start >= 0 and end <= limit:
        return start, length
    start, end = max(start, 0.0), min(end, float(limit))
    return (start, end - start) if end > start else None


class BBox(_Model):
    """A box in pixels of the camera frame, (x, y) its top-left corner. Trackers predict boxes that reach a
    little past the frame's edge (negative x or y, x + width beyond the frame width): they are valid here and
    cut to the frame by :meth:`clipped_to` where the frame is known (ingest, ``ScenarioInput``)."""

    x: float = Field(allow_inf_nan=False)
    y: float = Field(allow_inf_nan=False)
    width: float = Field(gt=0, allow_inf_nan=False)
    height: float = Field(gt=0, allow_inf_nan=False)

    def clipped_to(self, frame_width: int, frame_height: int) -> BBox:
        """The part of this box inside the ``frame_width`` x ``frame_height`` frame (the box itself when it lies
        within). Raises :class:`BoxOutsideFrame` when it does not overlap the frame (an edge touched is no overlap)."""
        across = _clip_span(self.x, self.width, frame_width)
        down = _clip_span(self.y, self.height, frame_height)
        if across is None or down is None:
            raise BoxOutsideFrame(frame_width, frame_height)
        if across == (self.x, self.width) and down == (self.y, self.height):
            return self
        return BBox(x=across[0], y=down[0], width=across[1], height=down[1])


class LicensePlate(_Model):
    text: ShortText
    confidence: Unit = 1.0


class Face(_Model):
    detected: bool = True
    matched_name: ShortText | None = None
    confidence: Unit = 1.0


class Vision(_Model):
    caption: ShortText | None = None
    attributes: dict[Key, ShortText] = Field(default_factory=dict)


class ReId(_Model):
    seen_before: bool = False
    first_seen: Instant | None = None
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
    distance_m: float = Field(ge=0, allow_inf_nan=False)


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
    dwell_seconds: float | None = Field(default=None, ge=0, le=86_400 * 7, allow_inf_nan=False)


class DetectionIn(_Model):
    id: Identifier
    detected_at: Instant
    object_type: ObjectType
    confidence: Unit
    bbox: BBox | None = None
    # the box as the detector posted it, when it reached outside the frame and ``bbox`` is its clipped part;
    # None when nothing was clipped. Set by ``clipped_to``; a note sent in is kept (a clipped detection re-posted).
    bbox_clipped_from: BBox | None = None
    track_id: Int32 | None = None
    # the zones the detector itself places the object in (Frigate's ``current_zones``), by zone id; None: the
    # zones are found from the box and the camera's zone polygons. A name not yet known for the camera is a zone
    # known by name only.
    zones: list[Identifier] | None = Field(default=None, max_length=64)
    # the detector's own id for the tracked object (Frigate's event id): links to its snapshot and clip
    external_id: Identifier | None = None
    enrichment: Enrichment = Field(default_factory=Enrichment)

    def clipped_to(self, frame_width: int, frame_height: int) -> DetectionIn:
        """This detection with its box cut to the frame and the posted box noted in ``bbox_clipped_from`` (the
        detection itself when nothing is cut). Raises :class:`BoxOutsideFrame` for a box wholly outside."""
        if self.bbox is None:
            return self
        clipped = self.bbox.clipped_to(frame_width, frame_height)
        if clipped is self.bbox:
            return self
        return self.model_copy(update={"bbox": clipped, "bbox_clipped_from": self.bbox_clipped_from or self.bbox})


class Baseline(_Model):
    sample_days: int = Field(default=0, ge=0, le=INT32_MAX)
    expected_per_hour: dict[Key, Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(default_factory=dict)


class CrossCameraSighting(_Model):
    camera_id: Identifier
    camera_name: ShortText = ""
    detected_at: Instant
    object_type: ObjectType
    confidence: Unit = 1.0


class Household(_Model):
    known_faces: list[ShortText] = Field(default_factory=list)
    known_plates: list[PlateText] = Field(default_factory=list)  # normalised (``normalise_plate``)


class ScenarioInput(_Model):
    """Everything the analyzer may know about one batch: the shape of ``detections.json``."""

    camera: CameraIn
    zones: list[ZoneIn] = Field(default_factory=list)
    detections: list[DetectionIn] = Field(min_length=1)
    baseline: Baseline | None = None
    cross_camera: list[CrossCameraSighting] = Field(default_factory=list)
    household: Household = Field(default_factory=Household)

    @model_validator(mode="after")
    def _clip_boxes_to_the_frame(self) -> ScenarioInput:
        """Boxes reaching past the camera frame's edge are clipped to it (``DetectionIn.bbox_clipped_from`` keeps
        the box as given); a box wholly outside the frame is refused."""
        width, height = self.camera.frame_width, self.camera.frame_height
        for index, detection in enumerate(self.detections):
            try:
                self.detections[index] = detection.clipped_to(width, height)
            except BoxOutsideFrame as exc:
                raise PydanticCustomError(
                    "bbox_outside_frame", "detections[{index}].bbox: {reason}", {"index": index, "reason": str(exc)}
                ) from None
        return self
