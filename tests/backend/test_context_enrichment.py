"""Derived batch facts: zones, local time, baseline deviation, cross-camera window, identities."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from backend.domain.scenario import ScenarioInput
from backend.services.context_enrichment import (
    CROSS_CAMERA_MINUTES,
    NO_HISTORY,
    build_context,
    normalise_plate,
    point_in_polygon,
    poisson_deviation,
)

PORCH = {
    "id": "porch",
    "name": "Porch",
    "zone_type": "entry_point",
    "polygon": [[0.30, 0.40], [0.70, 0.40], [0.70, 1.00], [0.30, 1.00]],
}
STREET = {"id": "street", "name": "Street", "zone_type": "street", "polygon": [[0, 0], [1, 0], [1, 0.2], [0, 0.2]]}


_ids = itertools.count()


def _detection(when: str = "2026-03-10T03:12:04-05:00", **fields: Any) -> dict[str, Any]:
    return {"id": f"d{next(_ids)}", "detected_at": when, "object_type": "person", "confidence": 0.9, **fields}


def _scenario(*detections: dict[str, Any], **fields: Any) -> ScenarioInput:
    base = {"camera": {"id": "front_door", "name": "Front Door", "frame_width": 1000, "frame_height": 1000}}
    return ScenarioInput.model_validate(base | {"detections": list(detections) or [_detection()]} | fields)


# --- geometry -----------------------------------------------------------------------------------------

SQUARE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
# A "U": the notch between x=0.4 and x=0.6 above y=0.5 is outside.
U_SHAPE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.6, 1.0), (0.6, 0.5), (0.4, 0.5), (0.4, 1.0), (0.0, 1.0)]


@pytest.mark.parametrize(
    ("point", "polygon", "inside"),
    [
        ((0.5, 0.5), SQUARE, True),
        ((1.5, 0.5), SQUARE, False),
        ((-0.1, 0.5), SQUARE, False),
        ((0.5, 0.25), U_SHAPE, True),
        ((0.5, 0.75), U_SHAPE, False),  # in the notch
        ((0.2, 0.75), U_SHAPE, True),
        ((0.8, 0.9), U_SHAPE, True),
        ((0.5, 0.5), list(reversed(SQUARE)), True),  # winding order does not matter
        ((0.5, 0.2), [(0.0, 0.0), (1.0, 0.0), (0.5, 1.0)], True),
        ((0.9, 0.9), [(0.0, 0.0), (1.0, 0.0), (0.5, 1.0)], False),
    ],
)
def test_point_in_polygon(point: tuple[float, float], polygon: list[tuple[float, float]], inside: bool) -> None:
    assert point_in_polygon(point, polygon) is inside


def test_zone_hit_uses_the_bbox_centre_in_normalised_coordinates() -> None:
    inside = _detection(bbox={"x": 450, "y": 500, "width": 100, "height": 300})  # centre (0.5, 0.65)
    edge_box = _detection("2026-03-10T03:12:05-05:00", bbox={"x": 200, "y": 500, "width": 150, "height": 300})
    no_bbox = _detection("2026-03-10T03:12:06-05:00")
    ctx = build_context(_scenario(inside, edge_box, no_bbox, zones=[PORCH, STREET]))
    first, second, third = ctx.detections
    assert [hit.zone.id for hit in first.zones] == ["porch"]
    assert first.zone_risk_weight == 1.0
    assert second.zones == ()  # overlaps the porch, but its centre (0.275, 0.65) is outside
    assert second.zone_risk_weight == 0.0
    assert third.zones == ()


def test_zone_weights_rank_entry_points_first() -> None:
    street_box = _detection(bbox={"x": 450, "y": 50, "width": 100, "height": 50})
    porch_box = _detection("2026-03-10T03:12:05-05:00", bbox={"x": 450, "y": 500, "width": 100, "height": 300})
    street, porch = build_context(_scenario(street_box, porch_box, zones=[PORCH, STREET])).detections
    assert porch.zone_risk_weight > street.zone_risk_weight > 0


# --- time ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "hour", "weekday", "night"),
    [
        ("2026-03-10T03:12:04-05:00", 3, "Tue", True),
        ("2026-03-10T20:59:59-05:00", 20, "Tue", False),
        ("2026-03-10T21:00:00-05:00", 21, "Tue", True),
        ("2026-03-10T05:59:59+09:00", 5, "Tue", True),
        ("2026-03-10T06:00:00+00:00", 6, "Tue", False),
        ("2026-03-14T14:30:00+01:00", 14, "Sat", False),
    ],
)
def test_local_time_uses_the_timestamps_own_offset(when: str, hour: int, weekday: str, night: bool) -> None:
    facts = build_context(_scenario(_detection(when))).detections[0]
    assert (facts.hour, facts.weekday, facts.is_night) == (hour, weekday, night)


def test_window_is_sorted_and_offsets_are_relative_to_the_first_detection() -> None:
    late = _detection("2026-03-10T03:14:10-05:00", object_type="car")
    early = _detection("2026-03-10T08:12:04+00:00")  # 03:12:04-05:00, another offset
    ctx = build_context(_scenario(late, early))
    assert ctx.window_start.isoformat() == "2026-03-10T08:12:04+00:00"  # keeps its own offset
    assert ctx.window_end.isoformat() == "2026-03-10T03:14:10-05:00"
    assert ctx.duration_s == 126
    assert [f.offset_s for f in ctx.detections] == [0, 126]
    assert ctx.counts_by_type == {"car": 1, "person": 1}


# --- baseline -----------------------------------------------------------------------------------------


def test_poisson_deviation() -> None:
    assert poisson_deviation(0, 0.1) == 0.0
    assert poisson_deviation(1, 0.1) == pytest.approx(math.exp(-0.1))
    assert poisson_deviation(2, 5.0) < 0.1  # fewer than usual is normal
    assert poisson_deviation(1, 0.0) == pytest.approx(math.exp(-0.05))  # never seen before: floor rate
    assert poisson_deviation(2000, 800.0) == pytest.approx(1.0)  # no overflow on large counts
    assert 0.0 <= poisson_deviation(30, 30.0) <= 1.0


def test_no_baseline_means_no_history() -> None:
    for scenario in (_scenario(), _scenario(baseline={"sample_days": 0, "expected_per_hour": {}})):
        ctx = build_context(scenario)
        assert ctx.baseline is None
        assert ctx.deviation_score is None
        assert ctx.baseline_note == NO_HISTORY


def test_baseline_counts_tracks_not_frames() -> None:
    frames = [_detection(f"2026-03-10T03:12:{s:02d}-05:00", track_id=7) for s in range(10)]
    car = _detection("2026-03-10T03:12:30-05:00", object_type="car")
    ctx = build_context(_scenario(*frames, car, baseline={"sample_days": 30, "expected_per_hour": {"person": 0.1}}))
    assert ctx.baseline is not None
    per_type = {entry.object_type: entry for entry in ctx.baseline.per_type}
    assert per_type["person"].observed == 1
    assert per_type["person"].deviation == pytest.approx(math.exp(-0.1))
    assert per_type["car"].expected_per_hour == 0.0  # not in the baseline: never seen at this hour
    assert ctx.deviation_score == pytest.approx(math.exp(-0.05))  # the most unusual type
    assert ctx.baseline_note == "30 days of history"


def test_usual_activity_has_a_low_deviation() -> None:
    people = [_detection(f"2026-03-10T13:12:{s:02d}-05:00", track_id=s) for s in range(3)]
    ctx = build_context(_scenario(*people, baseline={"sample_days": 30, "expected_per_hour": {"person": 6.0}}))
    assert ctx.deviation_score is not None
    assert ctx.deviation_score < 0.1


def test_batches_longer_than_an_hour_compare_with_the_whole_window() -> None:
    visits = [_detection(f"2026-03-10T1{h}:00:00-05:00", track_id=h) for h in (2, 3, 5)]  # 12:00 .. 15:00
    ctx = build_context(_scenario(*visits, baseline={"sample_days": 30, "expected_per_hour": {"person": 1.0}}))
    assert ctx.baseline is not None
    assert ctx.baseline.hours == 3.0
    (person,) = ctx.baseline.per_type
    assert person.observed_per_hour == 1.0
    assert person.deviation == pytest.approx(poisson_deviation(3, 3.0))  # 3 seen where 3 are usual in 3 hours
    assert person.deviation < 0.5


# --- cross-camera -------------------------------------------------------------------------------------


def _sighting(camera: str, when: str, kind: str = "person") -> dict[str, Any]:
    return {"camera_id": camera, "camera_name": camera.title(), "detected_at": when, "object_type": kind}


def test_cross_camera_window_is_ten_minutes_either_side() -> None:
    first = _detection("2026-03-10T03:12:00-05:00")
    last = _detection("2026-03-10T03:14:00-05:00")
    sightings = [
        _sighting("driveway", "2026-03-10T03:02:00-05:00"),  # exactly 10 min before: in
        _sighting("driveway", "2026-03-10T03:01:59-05:00"),  # just outside
        _sighting("driveway", "2026-03-10T03:13:00-05:00", "car"),
        _sighting("backyard", "2026-03-10T08:24:00+00:00"),  # 03:24:00-05:00, exactly 10 min after
        _sighting("garage", "2026-03-10T03:24:01-05:00"),  # just outside
    ]
    ctx = build_context(_scenario(first, last, cross_camera=sightings))
    cams = {cam.camera_id: cam for cam in ctx.cross_camera}
    assert set(cams) == {"driveway", "backyard"}
    assert cams["driveway"].counts_by_type == {"person": 1, "car": 1}
    assert (cams["driveway"].first_offset_s, cams["driveway"].last_offset_s) == (-600, 60)
    assert cams["backyard"].first_offset_s == 720
    assert cams["backyard"].camera_name == "Backyard"
    assert ctx.cross_camera_minutes == CROSS_CAMERA_MINUTES == 10


@pytest.mark.parametrize(("minutes", "seen"), [(15, True), (10, False), (12, True), (11.9, False)])
def test_cross_camera_window_is_the_minutes_given(minutes: float, seen: bool) -> None:
    """A sighting 12 minutes before the batch: in with a 15-minute window, out with 10 (CROSS_CAMERA_MINUTES)."""
    batch = _detection("2026-03-10T03:12:00-05:00")
    early = _sighting("driveway", "2026-03-10T03:00:00-05:00")  # 12 min before
    late = _sighting("garage", "2026-03-10T08:24:00+00:00")  # 03:24-05:00, 12 min after
    ctx = build_context(_scenario(batch, cross_camera=[early, late]), cross_camera_minutes=minutes)
    assert ctx.cross_camera_minutes == minutes
    assert {cam.camera_id for cam in ctx.cross_camera} == ({"driveway", "garage"} if seen else set())


@pytest.mark.parametrize("minutes", [-1, math.inf, math.nan])
def test_cross_camera_window_must_be_a_finite_non_negative_number(minutes: float) -> None:
    with pytest.raises(ValueError, match="cross_camera_minutes"):
        build_context(_scenario(), cross_camera_minutes=minutes)


def test_cross_camera_window_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        build_context(_scenario(), 15)  # type: ignore[misc]


# --- identities and enrichment kinds ------------------------------------------------------------------


def test_known_and_unknown_faces_and_plates() -> None:
    detections = [
        _detection("2026-03-10T03:12:00-05:00", enrichment={"face": {"detected": True, "matched_name": "alice"}}),
        _detection("2026-03-10T03:12:01-05:00", enrichment={"face": {"detected": True, "matched_name": None}}),
        _detection("2026-03-10T03:12:02-05:00", enrichment={"face": {"detected": True, "matched_name": "Mallory"}}),
        _detection("2026-03-10T03:12:03-05:00", enrichment={"face": {"detected": False}}),
        _detection("2026-03-10T03:12:04-05:00", object_type="car", enrichment={"license_plate": {"text": "abc 12-34"}}),
        _detection("2026-03-10T03:12:05-05:00", object_type="car", enrichment={"license_plate": {"text": "XYZ 999"}}),
    ]
    household = {"known_faces": ["Alice", "Bob"], "known_plates": ["ABC-1234"]}
    ctx = build_context(_scenario(*detections, household=household))
    assert [f.face for f in ctx.detections] == ["known", "unknown", "unknown", None, None, None]
    assert [(f.plate, f.plate_known) for f in ctx.detections[4:]] == [("ABC1234", True), ("XYZ999", False)]
    assert ctx.identities.known_faces == ("alice",)
    assert ctx.identities.unknown_faces == 2
    assert ctx.identities.known_plates == ("ABC1234",)
    assert ctx.identities.unknown_plates == ("XYZ999",)


def test_normalise_plate() -> None:
    assert normalise_plate(" ab-c 12 3 ") == "ABC123"


def test_enrichment_kinds_present() -> None:
    detections = [
        _detection("2026-03-10T03:12:00-05:00", enrichment={"ocr_text": [], "vision": {"caption": None}}),
        _detection("2026-03-10T03:12:01-05:00", enrichment={"weapon": {"detected": False}, "dwell_seconds": 5}),
        _detection("2026-03-10T03:12:02-05:00", enrichment={"vision": {"attributes": {"carrying": "box"}}}),
    ]
    ctx = build_context(_scenario(*detections))
    assert ctx.enrichment_kinds == frozenset({"weapon", "dwell_seconds", "vision"})
