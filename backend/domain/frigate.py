"""Frigate's MQTT messages (Frigate NVR 0.14 to 0.17) as pydantic models, and their translation into detections.

Pure: no I/O. ``backend.services.frigate_ingest`` decodes the payloads with :func:`decode_payload`, validates them
with the models below and stores what :func:`to_detection` makes of them.

Sources (docs.frigate.video "Integrations > MQTT", docs/docs/integrations/mqtt.md in blakeblackshear/frigate, 0.14
to 0.17; where the docs are thin, Frigate's source: ``TrackedObject.to_dict`` in frigate/object_processing.py (0.14)
and frigate/track/tracked_object.py (0.15+), the events maintainer in frigate/events/maintainer.py, the
dispatcher in frigate/comms/dispatcher.py, ``DEFAULT_ATTRIBUTE_LABEL_MAP`` in frigate/const.py):

* ``<prefix>/events`` (:class:`FrigateEventMessage`): ``{"type": "new"|"update"|"end", "before": {...},
  "after": {...}}``, one message when a tracked object stops being a false positive, on a better snapshot, a
  zone change, and at its end (``end_time`` set). The object (:class:`FrigateObject`): ``id``
  ("1607123955.475377-mxklsc": the start time and a random suffix), ``camera``, ``frame_time`` (epoch seconds
  of the frame described), ``label``, ``sub_label`` (a string up to 0.13; ``[name, score]`` from 0.14: a
  recognised face, a known plate's name, or in 0.17 a classification), ``score``/``top_score`` (0-1),
  ``false_positive``, ``start_time``/``end_time`` (epoch s), ``box`` ``[x1, y1, x2, y2]`` in pixels of the
  camera's detect resolution, ``stationary``, ``current_zones``/``entered_zones`` (zone names), ``attributes``
  (``{label: top score}``: "face", "license_plate", delivery logos "amazon", "ups" ...), and from 0.16
  ``recognized_license_plate`` (a string and ``recognized_license_plate_score`` in the docs; ``[plate, score]``
  in the source, which the events maintainer indexes ``[0]``/``[1]``: both are read). Snapshot details
  (``snapshot_time`` up to 0.14, a ``snapshot`` object later), ``area``, ``ratio``, ``region``, speed fields,
  ``path_data`` and anything newer are ignored.
* ``<prefix>/reviews`` (:class:`FrigateReviewMessage`, 0.14+): ``{"type": "new"|"update"|"end", "before",
  "after": {"id", "camera", "start_time", "end_time", "severity": "alert"|"detection", "data": {"detections":
  [tracked object ids], "objects", "sub_labels", "zones", "audio"}}}``.
* ``<prefix>/tracked_object_update`` (:class:`FrigateObjectUpdate`; 0.14's GenAI used ``event_update``): type
  ``"description"`` (``id``, ``description``, and ``camera`` in the dispatcher's message since 0.15), and from
  0.16 ``"face"`` (``id``, ``name``, ``score``, ``camera``, ``timestamp``) and ``"lpr"`` (``id``, ``name`` (a known
  plate's name or null), ``plate``, ``score``, ``camera``, ``timestamp``); 0.17's ``"classification"`` and
  anything newer is read as an update of another type (the service ignores it).

Every model ignores unknown fields (``extra="ignore"``) and reads an optional field of an unexpected shape as
absent, so a Frigate version's additions never refuse a message; what a detection needs (an object's ``id``,
``camera``, ``frame_time``, ``label`` and a score) is required, and a message without it raises
:class:`FrigateMessageError` with the field named.

Everything Frigate sends as text (labels, sub labels, plates, descriptions, zone and camera names) is untrusted
camera data: it is carried as data (length-capped, a NUL character dropping the field), never as instructions.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.domain.scenario import (
    KEY_MAX,
    SHORT_TEXT_MAX,
    BBox,
    DetectionIn,
    Enrichment,
    Face,
    LicensePlate,
    Vision,
    normalise_plate,
)

MAX_PAYLOAD_BYTES = 1_000_000  # a Frigate message is a few kB; anything over 1 MB is refused unread
MAX_DWELL_SECONDS = 86_400 * 7  # Enrichment.dwell_seconds' bound
IDENTIFIER = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# a Frigate id kept as it is in our keys: the Identifier characters without ":" (the key's separator), short
# enough that "<id>:<frame_time with 6 decimals>" fits 64 characters up to the year 9000
_PLAIN_OBJECT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,44}$")
_CAMERA_CHARS = re.compile(r"[^A-Za-z0-9_.:-]")

PERSON_LABELS = frozenset({"person"})
# objects with a licence plate: Frigate's LPR reads car and motorcycle (and a Frigate+ model's plates); the rest
# are the vehicle labels of Frigate+ models
VEHICLE_LABELS = frozenset({"car", "motorcycle", "truck", "bus", "van", "school_bus", "garbage_truck"})
# Frigate's delivery-company attribute labels (frigate/const.py DEFAULT_ATTRIBUTE_LABEL_MAP, Frigate+ models)
DELIVERY_LOGOS = frozenset(
    {
        "amazon",
        "an_post",
        "canada_post",
        "dhl",
        "dpd",
        "fedex",
        "gls",
        "nzpost",
        "postnl",
        "postnord",
        "purolator",
        "royal_mail",
        "ups",
        "usps",
    }
)
# names Frigate's face and plate updates use for "not recognised"
_NO_NAME = frozenset({"", "unknown", "none", "null"})


class FrigateMessageError(ValueError):
    """A message that cannot be used: not JSON, over :data:`MAX_PAYLOAD_BYTES`, or missing what a detection
    needs. ``str(error)`` names the topic kind and the field(s)."""


# --- tolerant field readers -------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A finite number, else None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def clean_text(value: Any, limit: int = SHORT_TEXT_MAX) -> str | None:
    """Untrusted text as we store it: stripped and cut to ``limit`` characters; None for a non-string, an empty
    string or one with a NUL character (the contract refuses NUL; here the field is dropped, not the message)."""
    if not isinstance(value, str) or "\x00" in value:
        return None
    text = value.strip()[:limit].strip()
    return text or None


def _named_score(value: Any) -> tuple[str, float | None] | None:
    """``"name"`` or ``["name", score]`` (Frigate's sub_label and recognized_license_plate) as (name, score)."""
    if isinstance(value, str):
        name = clean_text(value)
        return (name, None) if name else None
    if isinstance(value, list | tuple) and value and isinstance(value[0], str):
        name = clean_text(value[0])
        return (name, _number(value[1]) if len(value) > 1 else None) if name else None
    return None


def _score(value: float) -> float:
    """A score clamped to 0-1 (Frigate's are probabilities; this guards rounding)."""
    return min(1.0, max(0.0, value))


MAX_ZONES = 64  # zones one object can be in (``DetectionIn.zones``); Frigate's own configs hold a handful


def _zone_names(value: Any) -> tuple[str, ...] | None:
    """Zone names in order, without repeats, the first :data:`MAX_ZONES` (more is a malformed or hostile
    message: the object is kept, the extra names are not); None for anything but a list."""
    if not isinstance(value, list | tuple):
        return None
    return tuple(dict.fromkeys(z for z in (clean_text(v, KEY_MAX) for v in value) if z))[:MAX_ZONES]


class _Frigate(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _required_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string is required")
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    return value.strip()


# --- frigate/events ---------------------------------------------------------------------------------------------


class FrigateObject(_Frigate):
    """One tracked object's state (``before``/``after`` of a frigate/events message); see the module docstring.

    Required: ``id``, ``camera``, ``frame_time`` (finite epoch seconds), ``label``, and ``score`` or
    ``top_score``. Optional fields of an unexpected shape read as absent."""

    id: str
    camera: str
    frame_time: float = Field(allow_inf_nan=False)
    label: str
    sub_label: tuple[str, float | None] | None = None
    score: float | None = None
    top_score: float | None = None
    false_positive: bool = False
    start_time: float | None = None
    end_time: float | None = None
    box: tuple[float, float, float, float] | None = None
    stationary: bool | None = None
    current_zones: tuple[str, ...] | None = None
    entered_zones: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()  # attribute labels seen on the object (the keys of Frigate's dict)
    recognized_license_plate: tuple[str, float | None] | None = None
    has_clip: bool | None = None
    has_snapshot: bool | None = None

    @field_validator("id", "camera", "label", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return _required_text(value)

    @field_validator("frame_time", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> float:
        number = _number(value)
        if number is None or number <= 0:
            raise ValueError("epoch seconds (a positive finite number) are required")
        return number

    @field_validator("score", "top_score", "start_time", "end_time", mode="before")
    @classmethod
    def _optional_number(cls, value: Any) -> float | None:
        return _number(value)

    @field_validator("sub_label", mode="before")
    @classmethod
    def _sub_label(cls, value: Any) -> tuple[str, float | None] | None:
        return _named_score(value)

    @field_validator("false_positive", mode="before")
    @classmethod
    def _flag(cls, value: Any) -> bool:
        return value is True

    @field_validator("stationary", "has_clip", "has_snapshot", mode="before")
    @classmethod
    def _optional_flag(cls, value: Any) -> bool | None:
        return value if isinstance(value, bool) else None

    @field_validator("box", mode="before")
    @classmethod
    def _box(cls, value: Any) -> tuple[float, float, float, float] | None:
        if not isinstance(value, list | tuple) or len(value) != 4:
            return None
        numbers = [_number(v) for v in value]
        if any(n is None for n in numbers):
            return None
        x1, y1, x2, y2 = (float(n) for n in numbers if n is not None)
        return (x1, y1, x2, y2)

    @field_validator("current_zones", mode="before")
    @classmethod
    def _current_zones(cls, value: Any) -> tuple[str, ...] | None:
        return _zone_names(value)

    @field_validator("entered_zones", mode="before")
    @classmethod
    def _entered_zones(cls, value: Any) -> tuple[str, ...]:
        return _zone_names(value) or ()

    @field_validator("attributes", mode="before")
    @classmethod
    def _attributes(cls, value: Any) -> tuple[str, ...]:
        """``{"face": 0.86}`` (0.13+) or a list of labels / ``{"label": ...}`` objects: the labels."""
        if isinstance(value, Mapping):
            labels: list[Any] = list(value)
        elif isinstance(value, list | tuple):
            labels = [v.get("label") if isinstance(v, Mapping) else v for v in value]
        else:
            return ()
        return tuple(dict.fromkeys(a.lower() for a in (clean_text(v, KEY_MAX) for v in labels) if a))

    @model_validator(mode="before")
    @classmethod
    def _plate(cls, data: Any) -> Any:
        """``recognized_license_plate`` as ``[plate, score]`` (source) or a string with
        ``recognized_license_plate_score`` (docs)."""
        if not isinstance(data, Mapping):
            return data
        plate = _named_score(data.get("recognized_license_plate"))
        if plate is not None and plate[1] is None:
            plate = (plate[0], _number(data.get("recognized_license_plate_score")))
        return {**data, "recognized_license_plate": plate}

    @model_validator(mode="after")
    def _scored(self) -> FrigateObject:
        if self.score is None and self.top_score is None:
            raise ValueError("score (or top_score) is required")
        return self

    @property
    def object_key(self) -> str:
        return object_key(self.id)


class FrigateEventMessage(_Frigate):
    """A ``<prefix>/events`` message; ``after`` is the state stored (``before`` is the previous one, unused)."""

    type: str = "update"
    after: FrigateObject

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> str:
        return value if isinstance(value, str) else "update"


# --- frigate/reviews --------------------------------------------------------------------------------------------


class FrigateReviewData(_Frigate):
    detections: tuple[str, ...] = ()  # tracked object ids
    objects: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()

    @field_validator("detections", "objects", "zones", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            return ()
        return tuple(dict.fromkeys(s for s in (clean_text(v, 200) for v in value) if s))


class FrigateReview(_Frigate):
    id: str
    camera: str
    start_time: float | None = None
    end_time: float | None = None
    severity: str | None = None
    data: FrigateReviewData = Field(default_factory=FrigateReviewData)

    @field_validator("id", "camera", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return _required_text(value)

    @field_validator("start_time", "end_time", mode="before")
    @classmethod
    def _optional_number(cls, value: Any) -> float | None:
        return _number(value)

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> str | None:
        return clean_text(value, 32)

    @field_validator("data", mode="before")
    @classmethod
    def _data(cls, value: Any) -> Any:
        return value if isinstance(value, Mapping) else {}


class FrigateReviewMessage(_Frigate):
    """A ``<prefix>/reviews`` message (Frigate 0.14+); ``type`` "end" closes the review."""

    type: str
    after: FrigateReview

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> str:
        return _required_text(value)


# --- frigate/tracked_object_update -------------------------------------------------------------------------------

DESCRIPTION_MAX = SHORT_TEXT_MAX  # Vision.caption's bound: a longer GenAI description is cut


class FrigateObjectUpdate(_Frigate):
    """A ``<prefix>/tracked_object_update`` message: ``type`` "description" needs ``description``, "face" a
    ``name``, "lpr" a ``plate``; other types are accepted as they are (the service ignores them)."""

    type: str
    id: str
    camera: str | None = None
    description: str | None = None
    name: str | None = None
    plate: str | None = None
    score: float | None = None
    timestamp: float | None = None

    @field_validator("type", "id", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return _required_text(value)

    @field_validator("camera", "name", "plate", mode="before")
    @classmethod
    def _optional_text(cls, value: Any) -> str | None:
        return clean_text(value)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> str | None:
        return clean_text(value, DESCRIPTION_MAX)

    @field_validator("score", "timestamp", mode="before")
    @classmethod
    def _optional_number(cls, value: Any) -> float | None:
        return _number(value)

    @model_validator(mode="after")
    def _needs(self) -> FrigateObjectUpdate:
        needed = {"description": self.description, "face": self.name, "lpr": self.plate}
        if self.type in needed and needed[self.type] is None:
            field = {"description": "description", "face": "name", "lpr": "plate"}[self.type]
            raise ValueError(f"a {self.type!r} update needs a non-empty {field}")
        return self

    @property
    def object_key(self) -> str:
        return object_key(self.id)


# --- decoding ---------------------------------------------------------------------------------------------------


def decode_payload(payload: bytes, kind: str) -> dict[str, Any]:
    """The JSON object of an MQTT payload. Raises FrigateMessageError for a payload over MAX_PAYLOAD_BYTES,
    one that is not UTF-8 JSON, or JSON that is not an object; ``kind`` names the topic in the message."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise FrigateMessageError(f"{kind} message refused: {len(payload)} bytes, over {MAX_PAYLOAD_BYTES}")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrigateMessageError(f"{kind} message refused: not JSON ({exc})") from None
    except RecursionError:  # brackets nested thousands deep
        raise FrigateMessageError(f"{kind} message refused: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise FrigateMessageError(f"{kind} message refused: JSON {type(data).__name__}, not an object")
    return data


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], data: Any, kind: str) -> M:
    try:
        return model.model_validate(data)
    except (OverflowError, RecursionError) as exc:  # a 400-digit number where a float belongs, deep nesting
        raise FrigateMessageError(f"{kind} message refused: {type(exc).__name__}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'message'}: {error['msg']}" for error in exc.errors()[:5]
        )
        raise FrigateMessageError(f"{kind} message refused: {problems}") from None


def parse_event(data: Any) -> FrigateEventMessage:
    """A frigate/events message; FrigateMessageError names what is missing (e.g. ``after.frame_time``)."""
    return _validated(FrigateEventMessage, data, "frigate/events")


def parse_review(data: Any) -> FrigateReviewMessage:
    return _validated(FrigateReviewMessage, data, "frigate/reviews")


def parse_object_update(data: Any) -> FrigateObjectUpdate:
    return _validated(FrigateObjectUpdate, data, "frigate/tracked_object_update")


# --- keys -------------------------------------------------------------------------------------------------------


def object_key(frigate_id: str) -> str:
    """Our id for a Frigate tracked object (``DetectionIn.external_id``): Frigate's id itself when it is made of
    Identifier characters other than ":" and at most 44 long (every id Frigate makes: "<start time>-<6
    characters>"), else "h-" and 32 hex digits of its SHA-256 (stable: the same id always gives the same key)."""
    if _PLAIN_OBJECT_ID.match(frigate_id):
        return frigate_id
    return "h-" + hashlib.sha256(frigate_id.encode("utf-8")).hexdigest()[:32]


def detection_key(frigate_id: str, frame_time: float) -> str:
    """The detection id of one frame of one tracked object: ``"<object_key>:<frame_time, 6 decimals>"``, e.g.
    "1607123955.475377-mxklsc:1607123962.082975" (an Identifier, at most 64 characters). A repeated or
    re-delivered message gives the same key (stored once); another frame of the object, another key."""
    key = f"{object_key(frigate_id)}:{frame_time:.6f}"
    if not IDENTIFIER.match(key):  # only a frame_time outside the Instant range gets here; to_detection refuses it
        raise FrigateMessageError(f"frame_time {frame_time!r} makes no detection key")
    return key


def track_id_for(frigate_id: str) -> int:
    """A stable 31-bit track id for a Frigate object (the first 4 bytes of the SHA-256 of its id, top bit off):
    every detection of the object shares it, so the analyzer counts the object once."""
    return int.from_bytes(hashlib.sha256(frigate_id.encode("utf-8")).digest()[:4], "big") & 0x7FFF_FFFF


def camera_identifier(camera_name: str) -> str:
    """Our camera id for a Frigate camera name (stripped): the name itself when it is an Identifier (Frigate's
    names are ``[a-zA-Z0-9_-]+``, its config validation), else its Identifier characters (others as "_", at most
    53) + "-" + 10 hex digits of its SHA-256, so two names never share an id. Raises FrigateMessageError for an
    empty name."""
    name = camera_name.strip()
    if IDENTIFIER.match(name):
        return name
    if not name:
        raise FrigateMessageError("an empty camera name makes no camera id")
    slug = _CAMERA_CHARS.sub("_", name).strip("_")[:53] or "camera"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:10]}"


def looks_like_plate(text: str) -> bool:
    """Whether a vehicle's sub label reads as plate characters rather than a name: in comparison form
    (``normalise_plate``) 2 to 10 ASCII letters and digits with at least one digit ("AB-123-CD", "7ABC123";
    not "John's car", "Bob"). Third-party LPR integrations before Frigate 0.16 wrote the plate as the car's
    sub label; Frigate 0.16+ writes a known plate's *name* there and the characters to
    ``recognized_license_plate``."""
    plate = normalise_plate(text)
    return 2 <= len(plate) <= 10 and plate.isascii() and plate.isalnum() and any(c.isdigit() for c in plate)


# --- translation ------------------------------------------------------------------------------------------------


def _bbox(box: tuple[float, float, float, float] | None) -> BBox | None:
    """Frigate's ``[x1, y1, x2, y2]`` (pixels of the detect resolution) as (x, y, width, height) pixels; a box
    without area reads as no box."""
    if box is None:
        return None
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1:
        return None
    return BBox(x=x1, y=y1, width=x2 - x1, height=y2 - y1)


def _enrichment(obj: FrigateObject) -> Enrichment:
    values: dict[str, Any] = {}
    label = obj.label.lower()
    attributes: dict[str, str] = {}
    if obj.sub_label is not None:
        name, score = obj.sub_label
        if label in PERSON_LABELS:  # Frigate's face recognition (or a face integration) names the person
            values["face"] = face_match(name, score)
        elif label in VEHICLE_LABELS and obj.recognized_license_plate is None and looks_like_plate(name):
            values["license_plate"] = plate_read(name, score)
        elif label in VEHICLE_LABELS:
            attributes["known_vehicle"] = name  # 0.16+: the name of a known plate
        else:
            attributes["sub_label"] = name  # e.g. a 0.17 classification of an animal
    if obj.recognized_license_plate is not None and label in VEHICLE_LABELS | {"license_plate"}:
        plate, score = obj.recognized_license_plate
        values["license_plate"] = plate_read(plate, score)
    logos = sorted(a for a in obj.attributes if a in DELIVERY_LOGOS)
    if logos:
        attributes["logo"] = ", ".join(logos)
    for seen in obj.attributes:
        if seen not in DELIVERY_LOGOS:
            attributes.setdefault(seen, "seen")  # "face": a face visible; "license_plate": a plate visible
    if attributes:
        values["vision"] = Vision(attributes=attributes)
    if obj.start_time is not None:
        dwell = obj.frame_time - obj.start_time
        if dwell >= 0:
            values["dwell_seconds"] = min(dwell, MAX_DWELL_SECONDS)
    return Enrichment(**values)


def face_match(name: str, score: float | None) -> Face:
    """A face Frigate named: ``matched_name`` unless the name means "not recognised" ("unknown"); ``confidence``
    its score (a sub label set through Frigate's API without a score: the contract's default, 1.0)."""
    matched = None if name.strip().casefold() in _NO_NAME else name
    return Face(detected=True, matched_name=matched, confidence=1.0 if score is None else _score(score))


def plate_read(plate: str, score: float | None) -> LicensePlate:
    """A plate Frigate read: its characters as sent (compared in ``normalise_plate`` form downstream) and its
    score (none given: the contract's default, 1.0)."""
    return LicensePlate(text=plate, confidence=1.0 if score is None else _score(score))


def to_detection(obj: FrigateObject, *, zone_ids: Mapping[str, str], home_zone: tzinfo) -> DetectionIn:
    """One frame of a Frigate tracked object as a detection (the ``after`` of a frigate/events message).

    * ``id``: :func:`detection_key` (Frigate's id and ``frame_time``); ``external_id``: :func:`object_key`;
      ``track_id``: :func:`track_id_for` (31 bits, stable);
    * ``detected_at``: ``frame_time`` (epoch seconds) in ``home_zone``, so the hour is the home's;
    * ``object_type``: ``label``; ``confidence``: ``score`` (``top_score`` when absent), clamped to 0-1;
    * ``bbox``: ``box`` ``[x1, y1, x2, y2]`` as x, y, width, height in pixels of the detect resolution (the
      camera's frame); None when absent or without area;
    * ``zones``: ``current_zones`` through ``zone_ids`` (Frigate zone name -> our zone id; names missing from it
      are left out); None when Frigate sent no ``current_zones`` (zones are then found from the box);
    * ``enrichment``: ``face`` from a person's ``sub_label`` (:func:`face_match`); ``license_plate`` from
      ``recognized_license_plate`` (0.16+), else from a vehicle's ``sub_label`` that :func:`looks_like_plate`;
      a vehicle's other sub label -> ``vision.attributes["known_vehicle"]``, any other object's ->
      ``vision.attributes["sub_label"]``; ``attributes`` -> ``vision.attributes`` (delivery logos joined under
      "logo", others as ``{label: "seen"}``); ``dwell_seconds`` = ``frame_time - start_time`` (the seconds the
      object has been in view, moving or not: the contract's dwell; capped at 7 days).

    ``false_positive`` is not checked here (the service skips such objects). Raises FrigateMessageError when the
    result is not a valid detection (a ``frame_time`` outside 1970..9000, a label over 64 characters).
    """
    try:
        confidence = obj.score if obj.score is not None else obj.top_score
        zones = None
        if obj.current_zones is not None:
            zones = list(dict.fromkeys(zone_ids[name] for name in obj.current_zones if name in zone_ids))
        return DetectionIn(
            id=detection_key(obj.id, obj.frame_time),
            detected_at=datetime.fromtimestamp(obj.frame_time, tz=home_zone),
            object_type=obj.label[:64],
            confidence=_score(confidence if confidence is not None else 0.0),
            bbox=_bbox(obj.box),
            track_id=track_id_for(obj.id),
            zones=zones,
            external_id=object_key(obj.id),
            enrichment=_enrichment(obj),
        )
    except (ValidationError, ValueError, OverflowError, OSError) as exc:
        if isinstance(exc, FrigateMessageError):
            raise
        raise FrigateMessageError(f"frigate/events object {obj.id!r} makes no valid detection: {exc}") from None
