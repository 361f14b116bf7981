"""Building blocks of synthetic scenarios: camera layouts, bboxes inside zones, tracks over time, enrichment.

Every choice draws from the one ``random.Random`` a :class:`Scene` is given, so a seed fixes the whole data
set. The output is exactly the shape of ``detections.json`` (/work/shared/contracts/scenario-format.md).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

Json = dict[str, Any]
Point = tuple[float, float]
# Per-detection enrichment: called with (index within the track, seconds since the track began).
Enricher = Callable[[int, float], Json]

FRAMES = ((1920, 1080), (2560, 1440), (1280, 720), (3840, 2160))
# UTC offsets in minutes: the Americas, Europe, India, Australia.
UTC_OFFSETS = (-480, -420, -360, -300, -240, 0, 60, 120, 330, 600)
NIGHT_HOURS = (21, 22, 23, 0, 1, 2, 3, 4)
DAY_HOURS = tuple(range(8, 18))
EVENING_HOURS = (18, 19, 20)
NAMES = ("Alice", "Bob", "Priya", "Marcus", "Elena", "Kenji", "Fatima", "Tom", "Grace", "Diego", "Sofia", "Amara")


def rect(x0: float, y0: float, x1: float, y1: float) -> tuple[Point, ...]:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


@dataclass(frozen=True)
class ZoneSpec:
    zone_type: str
    polygon: tuple[Point, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """One kind of camera mount and what its frame shows."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    zones: tuple[ZoneSpec, ...]


# The back door sits in a notch of a U-shaped lawn: a concave polygon, as real zone editors produce.
_LAWN_AROUND_DOOR = (
    (0.0, 0.35),
    (0.4, 0.35),
    (0.4, 0.75),
    (0.6, 0.75),
    (0.6, 0.35),
    (1.0, 0.35),
    (1.0, 1.0),
    (0.0, 1.0),
)

LAYOUTS: dict[str, Layout] = {
    "front": Layout(
        ("front_door", "doorbell", "cam_front", "porch_cam"),
        ("Front Door", "Doorbell", "Porch"),
        (
            ZoneSpec("entry_point", rect(0.35, 0.45, 0.70, 1.0), ("Porch", "Front steps", "Front door")),
            ZoneSpec("yard", rect(0.0, 0.55, 0.35, 1.0), ("Front lawn", "Garden bed")),
            ZoneSpec("sidewalk", rect(0.0, 0.30, 1.0, 0.45), ("Sidewalk", "Footpath")),
            ZoneSpec("street", rect(0.0, 0.12, 1.0, 0.30), ("Street", "Road")),
        ),
    ),
    "driveway": Layout(
        ("driveway", "cam_drive", "carport"),
        ("Driveway", "Carport", "Drive"),
        (
            ZoneSpec("driveway", rect(0.20, 0.45, 0.80, 1.0), ("Driveway", "Parking pad")),
            ZoneSpec("entry_point", rect(0.85, 0.40, 1.0, 0.90), ("Side door", "Mudroom door")),
            ZoneSpec("street", rect(0.0, 0.18, 1.0, 0.40), ("Street", "Cul-de-sac")),
        ),
    ),
    "backyard": Layout(
        ("backyard", "cam_back", "garden"),
        ("Backyard", "Back Garden", "Rear"),
        (
            ZoneSpec("entry_point", rect(0.40, 0.28, 0.60, 0.72), ("Back door", "Patio door")),
            ZoneSpec("yard", _LAWN_AROUND_DOOR, ("Lawn", "Back garden")),
            ZoneSpec("other", rect(0.70, 0.10, 1.0, 0.33), ("Shed", "Pool deck")),
        ),
    ),
    "side_gate": Layout(
        ("side_gate", "cam_side", "gate"),
        ("Side Gate", "Side Passage", "Gate"),
        (
            ZoneSpec("entry_point", rect(0.40, 0.25, 0.65, 0.95), ("Side gate", "Gate")),
            ZoneSpec("yard", rect(0.0, 0.45, 0.40, 1.0), ("Side path", "Passage")),
            ZoneSpec("other", rect(0.65, 0.50, 1.0, 1.0), ("Trash bins", "Utility area")),
        ),
    ),
    "garage": Layout(
        ("garage", "cam_garage"),
        ("Garage", "Garage Door"),
        (
            ZoneSpec("entry_point", rect(0.25, 0.15, 0.75, 0.65), ("Garage door", "Roller door")),
            ZoneSpec("driveway", rect(0.05, 0.65, 0.95, 1.0), ("Apron", "Driveway")),
        ),
    ),
    "street": Layout(
        ("street_view", "cam_street", "front_yard"),
        ("Street View", "Front Yard", "Curb"),
        (
            ZoneSpec("street", rect(0.0, 0.25, 1.0, 0.55), ("Street", "Road")),
            ZoneSpec("sidewalk", rect(0.0, 0.55, 1.0, 0.72), ("Sidewalk", "Pavement")),
            ZoneSpec("yard", rect(0.0, 0.72, 1.0, 1.0), ("Front lawn", "Verge garden")),
        ),
    ),
}
OTHER_CAMERAS = {
    "front_door": "Front Door",
    "driveway": "Driveway",
    "backyard": "Backyard",
    "side_gate": "Side Gate",
    "garage": "Garage",
    "street_view": "Street View",
}

# Object size as (min, max) share of the frame height, and width as a multiple of the height.
_SIZES: dict[str, tuple[float, float, float]] = {
    "person": (0.22, 0.45, 0.38),
    "car": (0.12, 0.22, 2.1),
    "truck": (0.15, 0.26, 2.4),
    "bicycle": (0.12, 0.2, 1.5),
    "package": (0.04, 0.07, 1.3),
    "dog": (0.07, 0.14, 1.4),
    "cat": (0.05, 0.09, 1.3),
    "deer": (0.15, 0.28, 1.1),
}
_DEFAULT_SIZE = (0.06, 0.12, 1.3)


def inside(point: Point, polygon: tuple[Point, ...]) -> bool:
    """Even-odd ray casting, the rule the service itself uses."""
    x, y = point
    hit = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def local_start(rng: random.Random, hours: tuple[int, ...]) -> datetime:
    """A local time in 2026 at one of ``hours``, with a UTC offset drawn from several regions."""
    offset = timezone(timedelta(minutes=rng.choice(UTC_OFFSETS)))
    day = datetime(2026, 1, 5, tzinfo=offset) + timedelta(days=rng.randrange(290))
    return day.replace(hour=rng.choice(hours), minute=rng.randrange(60), second=rng.randrange(60))


def plate(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    style = rng.randrange(3)
    if style == 0:
        return "".join(rng.choice(letters) for _ in range(3)) + f"{rng.randrange(10000):04d}"
    if style == 1:
        return f"{rng.randrange(1, 10)}" + "".join(rng.choice(letters) for _ in range(3)) + f"{rng.randrange(1000):03d}"
    return "".join(rng.choice(letters) for _ in range(2)) + f"-{rng.randrange(1000, 10000)}"


def shown_plate(rng: random.Random, text: str) -> str:
    """How a plate reader may print a plate: with or without its dash, sometimes with a space."""
    bare = text.replace("-", "")
    return rng.choice([text, bare, bare[:3] + " " + bare[3:]])


class Scene:
    """One camera's batch under construction."""

    def __init__(self, rng: random.Random, layout: str, start: datetime, *, zones: bool = True) -> None:
        self.rng = rng
        spec = LAYOUTS[layout]
        self.width, self.height = rng.choice(FRAMES)
        self.camera: Json = {
            "id": rng.choice(spec.ids),
            "name": rng.choice(spec.names),
            "frame_width": self.width,
            "frame_height": self.height,
        }
        self.polygons = {zone.zone_type: zone.polygon for zone in spec.zones}
        short_ids = rng.random() < 0.4
        self.zones: list[Json] = [
            {
                "id": f"z{index + 1}" if short_ids else zone.names[0].lower().replace(" ", "_").replace("-", "_"),
                "name": rng.choice(zone.names),
                "zone_type": zone.zone_type,
                "polygon": [list(p) for p in zone.polygon],
            }
            for index, zone in enumerate(spec.zones)
        ]
        self.configured_zones = zones
        self.start = start
        self.detections: list[Json] = []
        self.cross_camera: list[Json] = []
        self.baseline: Json | None = None
        self.household: Json | None = None
        self.common: Json = {}  # enrichment every detection carries (weather, image quality)
        self._next_track = rng.randint(1, 400)

    @property
    def night(self) -> bool:
        return self.start.hour >= 21 or self.start.hour < 6

    # --- geometry ---------------------------------------------------------------------------------------

    def _centre(self, zone_type: str | None) -> Point:
        polygon = self.polygons.get(zone_type) if zone_type else None
        for _ in range(1000):
            point = (self.rng.uniform(0.03, 0.97), self.rng.uniform(0.05, 0.97))
            if polygon is None:
                if not any(inside(point, p) for p in self.polygons.values()):
                    return point
            elif inside(point, polygon) and _clear_of_edges(point, polygon):
                return point
        raise ValueError(f"no room for an object in zone {zone_type!r}")

    def bbox(self, object_type: str, zone_type: str | None) -> Json:
        """A pixel bbox whose centre lies in the zone (None: outside every zone), sized for the object."""
        cx, cy = self._centre(zone_type)
        low, high, aspect = _SIZES.get(object_type, _DEFAULT_SIZE)
        height = self.rng.uniform(low, high) * self.height
        width = height * aspect * self.rng.uniform(0.85, 1.15)
        # Keep the centre where it is: shrink the box instead of shifting it at the frame edges.
        width = min(width, 2 * min(cx * self.width, (1 - cx) * self.width) * 0.98)
        height = min(height, 2 * min(cy * self.height, (1 - cy) * self.height) * 0.98)
        return {
            "x": round(cx * self.width - width / 2, 1),
            "y": round(cy * self.height - height / 2, 1),
            "width": round(width, 1),
            "height": round(height, 1),
        }

    # --- detections -------------------------------------------------------------------------------------

    def track(
        self,
        object_type: str,
        zone_type: str | None,
        *,
        at: float = 0.0,
        duration: float = 20.0,
        count: int = 4,
        confidence: tuple[float, float] = (0.75, 0.96),
        enrich: Enricher | None = None,
        zones_along: tuple[str | None, ...] = (),
        tracked: bool = True,
    ) -> int:
        """``count`` detections of one object from ``at`` seconds over ``duration`` seconds; returns its track id.

        ``zones_along`` walks the object through zones (first detections in the first zone, ...); otherwise
        every detection is in ``zone_type``. ``dwell_seconds`` grows along the track.
        """
        track_id = self._next_track
        self._next_track += self.rng.randint(1, 9)
        offsets = sorted(self.rng.uniform(0, duration) for _ in range(max(0, count - 2)))
        offsets = [0.0, *offsets, duration] if count > 1 else [0.0]
        path = zones_along or (zone_type,)
        for index, offset in enumerate(offsets):
            zone = path[min(len(path) - 1, index * len(path) // len(offsets))]
            enrichment = dict(self.common)
            if enrich is not None:
                enrichment |= enrich(index, offset)
            if count > 1 and self.rng.random() < 0.7:
                enrichment.setdefault("dwell_seconds", round(offset, 1))
            when = self.start + timedelta(seconds=at + offset)
            self.detections.append(
                {
                    "id": f"det_{len(self.detections) + 1:03d}",
                    "detected_at": when.isoformat(timespec="seconds"),
                    "object_type": object_type,
                    "confidence": round(self.rng.uniform(*confidence), 2),
                    "bbox": self.bbox(object_type, zone),
                    **({"track_id": track_id} if tracked else {}),
                    "enrichment": enrichment,
                }
            )
        return track_id

    def cross(self, camera_id: str, object_type: str, offset_s: float, confidence: float = 0.85) -> None:
        """A sighting on another camera of the house, ``offset_s`` seconds from this batch's start."""
        when = self.start + timedelta(seconds=offset_s)
        self.cross_camera.append(
            {
                "camera_id": camera_id,
                "camera_name": OTHER_CAMERAS.get(camera_id, camera_id.replace("_", " ").title()),
                "detected_at": when.isoformat(timespec="seconds"),
                "object_type": object_type,
                "confidence": round(confidence, 2),
            }
        )

    def other_camera(self) -> str:
        own = self.camera["id"]
        return self.rng.choice([camera for camera in OTHER_CAMERAS if camera != own])

    def set_baseline(self, per_hour: dict[str, float], chance: float = 0.75) -> None:
        """Usual detections per hour for this camera and hour; absent (no history) with 1 - ``chance``."""
        if self.rng.random() < chance:
            jittered = {kind: round(rate * self.rng.uniform(0.7, 1.3), 3) for kind, rate in per_hour.items()}
            self.baseline = {"sample_days": self.rng.choice((7, 14, 30, 45, 60)), "expected_per_hour": jittered}

    def set_household(self, faces: list[str], plates: list[str]) -> None:
        self.household = {"known_faces": faces, "known_plates": plates}

    def to_json(self) -> Json:
        scenario: Json = {"camera": self.camera}
        if self.configured_zones:
            scenario["zones"] = self.zones
        scenario["detections"] = sorted(self.detections, key=lambda d: (d["detected_at"], d["id"]))
        if self.baseline is not None:
            scenario["baseline"] = self.baseline
        if self.cross_camera:
            scenario["cross_camera"] = sorted(self.cross_camera, key=lambda c: c["detected_at"])
        if self.household is not None:
            scenario["household"] = self.household
        return scenario


def _clear_of_edges(point: Point, polygon: tuple[Point, ...], margin: float = 0.02) -> bool:
    """Centres a little inside the zone, so rounding bboxes to 0.1 px cannot move them across an edge."""
    x, y = point
    return all(inside((x + dx, y + dy), polygon) for dx in (-margin, margin) for dy in (-margin, margin))


# --- enrichment snippets ------------------------------------------------------------------------------------


def face(rng: random.Random, name: str | None) -> Json:
    return {"detected": True, "matched_name": name, "confidence": round(rng.uniform(0.6, 0.97), 2)}


def clear_flags(rng: random.Random) -> Json:
    """The model zoo ran and found neither violence nor a weapon."""
    return {
        "violence": {"detected": False, "confidence": round(rng.uniform(0.0, 0.09), 2)},
        "weapon": {"detected": False, "type": None, "confidence": round(rng.uniform(0.0, 0.08), 2)},
    }


def night_image(rng: random.Random) -> Json:
    return {
        "blur": round(rng.uniform(0.05, 0.35), 2),
        "brightness": round(rng.uniform(0.08, 0.3), 2),
        "tampering": False,
    }


def day_image(rng: random.Random) -> Json:
    return {"blur": round(rng.uniform(0.0, 0.2), 2), "brightness": round(rng.uniform(0.45, 0.8), 2), "tampering": False}


def weather(rng: random.Random, condition: str | None = None) -> Json:
    condition = condition or rng.choice(("rain", "fog", "snow", "clear", "overcast"))
    visibility = {"rain": ("moderate", "poor"), "fog": ("poor",), "snow": ("moderate", "poor")}.get(
        condition, ("good",)
    )
    return {"condition": condition, "visibility": rng.choice(visibility)}


def depth(rng: random.Random, near: float, far: float) -> Json:
    return {"distance_m": round(rng.uniform(near, far), 1)}


def sometimes(rng: random.Random, chance: float, value: Json) -> Json:
    return value if rng.random() < chance else {}
