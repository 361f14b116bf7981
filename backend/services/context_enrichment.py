"""Facts derived from one batch (a :class:`ScenarioInput`) before prompting; pure, no I/O.

The model is better at weighing facts than at computing them: instead of polygons and raw timestamps it
gets "in zone porch (entry_point)", "night", "3 people where 0.1 are usual this hour". Everything here is
deterministic so it can be unit-tested and shown to users next to the model's verdict.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from backend.domain.scenario import (
    CrossCameraSighting,
    DetectionIn,
    Enrichment,
    ScenarioInput,
    ZoneIn,
    ZoneType,
    normalise_plate,
)

# How much being inside a zone of each type raises risk: doors/windows first, the open street last.
ZONE_RISK_WEIGHTS: dict[ZoneType, float] = {
    "entry_point": 1.0,
    "yard": 0.6,
    "driveway": 0.6,
    "other": 0.4,
    "sidewalk": 0.2,
    "street": 0.1,
}
NIGHT_START_HOUR = 21  # local hour at which night begins (inclusive)
NIGHT_END_HOUR = 6  # local hour at which night ends (exclusive)
# Default window, in minutes either side of the batch, in which other cameras' sightings are context; the
# analyzer passes the CROSS_CAMERA_MINUTES setting (``BackendSettings.cross_camera_minutes``) to build_context.
CROSS_CAMERA_MINUTES = 10.0
# An object type the baseline has never seen still gets this expectation: "less than once a day or so".
MIN_EXPECTED_PER_HOUR = 0.05
NO_HISTORY = "no history"
# A face match below this confidence is not taken as a household member (it would explain a stranger away).
FACE_MATCH_CONFIDENCE = 0.6
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Point = tuple[float, float]


class _Facts(BaseModel):
    model_config = ConfigDict(frozen=True)


class ZoneHit(_Facts):
    zone: ZoneIn
    weight: float


class DetectionFacts(_Facts):
    """One detection and what follows from it."""

    detection: DetectionIn
    offset_s: float  # seconds after the batch's first detection
    hour: int  # local hour, from the timestamp's own UTC offset
    weekday: str
    is_night: bool
    # the zones the detector named (``DetectionIn.zones``), else those whose polygon holds the bbox centre;
    # empty outside all zones, or without either
    zones: tuple[ZoneHit, ...]
    zone_risk_weight: float  # the highest weight among ``zones``; 0.0 outside every zone
    face: Literal["known", "unknown"] | None  # None: no face detected
    plate: str | None  # normalised plate text (upper case, no spaces or dashes)
    plate_known: bool | None

    @property
    def object_key(self) -> tuple[str, int | str]:
        """The object this detection belongs to: its type and track, or the detection itself when untracked."""
        d = self.detection
        return d.object_type, d.track_id if d.track_id is not None else d.id

    @property
    def local_time(self) -> datetime:
        """The detection time in its own UTC offset (the camera's local time, per the contract)."""
        return self.detection.detected_at


class TypeBaseline(_Facts):
    object_type: str
    observed: int  # distinct objects: tracks, plus detections without a track
    observed_per_hour: float  # observed / BaselineComparison.hours
    expected_per_hour: float
    deviation: float


class BaselineComparison(_Facts):
    sample_days: int
    hours: float  # the window compared: the batch's duration, at least one hour
    per_type: tuple[TypeBaseline, ...]
    deviation_score: float  # the largest per-type deviation


class CameraSightings(_Facts):
    camera_id: str
    camera_name: str
    counts_by_type: dict[str, int]
    first_offset_s: float  # relative to our batch start; negative = before it
    last_offset_s: float


class Identities(_Facts):
    known_faces: tuple[str, ...]  # household names matched at least once
    unknown_faces: int  # detections with a face that matched no household member
    known_plates: tuple[str, ...]
    unknown_plates: tuple[str, ...]


class AnalysisContext(_Facts):
    """The batch plus everything derived from it; what prompt building and template selection read."""

    scenario: ScenarioInput
    detections: tuple[DetectionFacts, ...]  # in time order
    window_start: datetime
    window_end: datetime
    duration_s: float
    is_night: bool  # any detection at night
    counts_by_type: dict[str, int]
    baseline: BaselineComparison | None  # None: no history
    baseline_note: str
    cross_camera: tuple[CameraSightings, ...]  # sightings within ``cross_camera_minutes`` of the window
    cross_camera_minutes: float  # the window either side that ``cross_camera`` was filtered with
    identities: Identities
    enrichment_kinds: frozenset[str]  # Enrichment field names carrying data in at least one detection

    @property
    def deviation_score(self) -> float | None:
        """0 = normal for this camera and hour, 1 = highly unusual; None without history."""
        return None if self.baseline is None else self.baseline.deviation_score


def point_in_polygon(point: Point, polygon: list[Point] | tuple[Point, ...]) -> bool:
    """Ray casting (even-odd rule). Points exactly on an edge may fall either way, which is fine for
    bbox centres; polygons may be concave and in either winding order."""
    x, y = point
    inside = False
    count = len(polygon)
    for index in range(count):
        x1, y1 = polygon[index]
        x2, y2 = polygon[(index + 1) % count]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def poisson_deviation(observed: int, expected: float) -> float:
    """How unusual ``observed`` objects are when ``expected`` per hour are usual: P(X < observed) for
    X ~ Poisson(expected). 0 when nothing was seen (absence is not a threat); approaches 1 when a normal
    hour would almost never show this many. Example: 1 person where 0.1 are usual gives 0.90."""
    if observed <= 0:
        return 0.0
    rate = max(expected, MIN_EXPECTED_PER_HOUR)
    # Summed in log space so large rates and counts neither overflow nor underflow.
    total = sum(math.exp(-rate + k * math.log(rate) - math.lgamma(k + 1)) for k in range(observed))
    return min(1.0, total)


def _zone_hits(detection: DetectionIn, scenario: ScenarioInput) -> tuple[ZoneHit, ...]:
    """The camera's zones the detection is in, each with its type's weight (:data:`ZONE_RISK_WEIGHTS`).

    When the detector names the zones itself (``DetectionIn.zones``, Frigate's ``current_zones``: zone ids),
    those are the zones, polygon or not, box or not; a named id the camera does not know is no hit. Otherwise
    the zones whose polygon holds the box centre; a zone known by name only (empty polygon) never holds a box.
    """
    if detection.zones is not None:
        named = set(detection.zones)
        return tuple(_hit(zone) for zone in scenario.zones if zone.id in named)
    box = detection.bbox
    if box is None:
        return ()
    centre = (
        (box.x + box.width / 2) / scenario.camera.frame_width,
        (box.y + box.height / 2) / scenario.camera.frame_height,
    )
    return tuple(
        _hit(zone) for zone in scenario.zones if len(zone.polygon) >= 3 and point_in_polygon(centre, zone.polygon)
    )


def _hit(zone: ZoneIn) -> ZoneHit:
    return ZoneHit(zone=zone, weight=ZONE_RISK_WEIGHTS[zone.zone_type])


def _face_status(enrichment: Enrichment, known: set[str]) -> Literal["known", "unknown"] | None:
    face = enrichment.face
    if face is None or not face.detected:
        return None
    name = (face.matched_name or "").casefold()
    return "known" if name and name in known and face.confidence >= FACE_MATCH_CONFIDENCE else "unknown"


def _detection_facts(detection: DetectionIn, start: datetime, scenario: ScenarioInput) -> DetectionFacts:
    local = detection.detected_at
    zones = _zone_hits(detection, scenario)
    plate = detection.enrichment.license_plate
    plate_text = normalise_plate(plate.text) if plate is not None else None
    known_faces = {name.casefold() for name in scenario.household.known_faces}
    return DetectionFacts(
        detection=detection,
        offset_s=(local - start).total_seconds(),
        hour=local.hour,
        weekday=_WEEKDAYS[local.weekday()],
        is_night=local.hour >= NIGHT_START_HOUR or local.hour < NIGHT_END_HOUR,
        zones=zones,
        zone_risk_weight=max((hit.weight for hit in zones), default=0.0),
        face=_face_status(detection.enrichment, known_faces),
        plate=plate_text,
        plate_known=None if plate_text is None else plate_text in scenario.household.known_plates,
    )


def _object_counts(detections: tuple[DetectionIn, ...]) -> Counter[str]:
    """Distinct objects per type: one per track, one per untracked detection (a track is one visit)."""
    tracks: set[tuple[str, int]] = set()
    counts: Counter[str] = Counter()
    for detection in detections:
        if detection.track_id is None:
            counts[detection.object_type] += 1
        elif (detection.object_type, detection.track_id) not in tracks:
            tracks.add((detection.object_type, detection.track_id))
            counts[detection.object_type] += 1
    return counts


def _baseline(scenario: ScenarioInput, duration_s: float) -> BaselineComparison | None:
    """Observed objects vs the usual count. The window is the batch's duration but at least one hour: a
    2-minute visit is one visit in that hour, not 30 visits an hour."""
    baseline = scenario.baseline
    if baseline is None or not baseline.expected_per_hour:
        return None
    hours = max(1.0, duration_s / 3600)
    per_type = []
    for object_type, observed in sorted(_object_counts(tuple(scenario.detections)).items()):
        expected = baseline.expected_per_hour.get(object_type, 0.0)
        per_type.append(
            TypeBaseline(
                object_type=object_type,
                observed=observed,
                observed_per_hour=observed / hours,
                expected_per_hour=expected,
                deviation=poisson_deviation(observed, expected * hours),
            )
        )
    return BaselineComparison(
        sample_days=baseline.sample_days,
        hours=hours,
        per_type=tuple(per_type),
        deviation_score=max((entry.deviation for entry in per_type), default=0.0),
    )


def _cross_camera(
    scenario: ScenarioInput, start: datetime, end: datetime, minutes: float
) -> tuple[CameraSightings, ...]:
    margin = timedelta(minutes=minutes)
    near = [sighting for sighting in scenario.cross_camera if start - margin <= sighting.detected_at <= end + margin]
    by_camera: dict[str, list[CrossCameraSighting]] = {}
    for sighting in sorted(near, key=lambda s: s.detected_at):
        by_camera.setdefault(sighting.camera_id, []).append(sighting)
    return tuple(
        CameraSightings(
            camera_id=camera_id,
            camera_name=sightings[0].camera_name,
            counts_by_type=dict(Counter(s.object_type for s in sightings)),
            first_offset_s=(sightings[0].detected_at - start).total_seconds(),
            last_offset_s=(sightings[-1].detected_at - start).total_seconds(),
        )
        for camera_id, sightings in by_camera.items()
    )


def _identities(facts: tuple[DetectionFacts, ...]) -> Identities:
    faces = [f.detection.enrichment.face for f in facts if f.face == "known"]
    return Identities(
        known_faces=tuple(dict.fromkeys(face.matched_name for face in faces if face and face.matched_name)),
        unknown_faces=sum(1 for f in facts if f.face == "unknown"),
        known_plates=tuple(dict.fromkeys(f.plate for f in facts if f.plate and f.plate_known)),
        unknown_plates=tuple(dict.fromkeys(f.plate for f in facts if f.plate and not f.plate_known)),
    )


def _has_data(enrichment: Enrichment, kind: str) -> bool:
    value = getattr(enrichment, kind)
    if kind == "vision":
        return value is not None and bool(value.caption or value.attributes)
    return value is not None and value != []


def _enrichment_kinds(detections: tuple[DetectionIn, ...]) -> frozenset[str]:
    return frozenset(  # a field never set holds its empty default: only the set ones can carry data
        kind
        for detection in detections
        for kind in detection.enrichment.model_fields_set
        if _has_data(detection.enrichment, kind)
    )


def build_context(scenario: ScenarioInput, *, cross_camera_minutes: float = CROSS_CAMERA_MINUTES) -> AnalysisContext:
    """All derived facts of one batch; other cameras' sightings count within ``cross_camera_minutes`` either
    side of the batch (production passes ``BackendSettings.cross_camera_minutes``)."""
    if not math.isfinite(cross_camera_minutes) or cross_camera_minutes < 0:
        raise ValueError(f"cross_camera_minutes must be a finite number >= 0, got {cross_camera_minutes!r}")
    ordered = tuple(sorted(scenario.detections, key=lambda d: d.detected_at))
    start, end = ordered[0].detected_at, ordered[-1].detected_at
    facts = tuple(_detection_facts(detection, start, scenario) for detection in ordered)
    baseline = _baseline(scenario, (end - start).total_seconds())
    return AnalysisContext(
        scenario=scenario,
        detections=facts,
        window_start=start,
        window_end=end,
        duration_s=(end - start).total_seconds(),
        is_night=any(f.is_night for f in facts),
        counts_by_type=dict(Counter(d.object_type for d in ordered)),
        baseline=baseline,
        baseline_note=NO_HISTORY if baseline is None else f"{baseline.sample_days} days of history",
        cross_camera=_cross_camera(scenario, start, end, cross_camera_minutes),
        cross_camera_minutes=cross_camera_minutes,
        identities=_identities(facts),
        enrichment_kinds=_enrichment_kinds(ordered),
    )
