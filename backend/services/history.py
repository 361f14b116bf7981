"""The analyzer's input for one batch, built from the database (the shape of ``detections.json``).

Besides the camera, its zones and the batch's detections, it learns from stored history:

* ``baseline``: for this camera, the batch's local weekday and hour ("is this normal for 3am on a Tuesday?"),
  the average number of detections per object type in that same hour of the same weekday over the last
  ``baseline_weeks`` weeks before the batch. Weeks before the camera's first stored detection do not count;
  ``sample_days`` is the number of days of history used. Object types of the batch that were never seen in
  that hour get 0.0. No baseline at all when there is not yet one earlier same-weekday hour of history.
* ``cross_camera``: other cameras' detections from ``cross_camera_minutes`` before the batch's first detection
  to as long after its last one, the first sighting of each (camera, object type, track) only: at most
  ``CROSS_CAMERA_LIMIT`` sightings, from the first ``CROSS_CAMERA_SCAN`` detections.
* ``household``: the known faces and plates (``HouseholdEntry`` rows) unless one is given; they serve only to
  match faces and plates, so a batch without either gets an empty one without a query.

The functions run Core statements, built once, on a synchronous ``Connection``: the analyzer runs the whole
load as one unit of work (``backend.db.session.run_unit_of_work``); async callers use
``AsyncConnection.run_sync``. On SQLite, SQLAlchemy's per-statement overhead is most of the cost (a Session
doubles it, building a statement doubles it again), so none of that is paid per batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select, true
from sqlalchemy.orm import InstrumentedAttribute

from backend.domain.scenario import (
    Baseline,
    CameraIn,
    CrossCameraSighting,
    DetectionIn,
    Household,
    ScenarioInput,
    ZoneIn,
)
from backend.models import Camera, Detection, HouseholdEntry, Zone
from backend.services.detection_rows import DETECTION_COLUMNS, detection_in, with_offset

CROSS_CAMERA_LIMIT = 50
CROSS_CAMERA_SCAN = 1000  # detections read at most: a busy street camera must not slow every batch down
WEEK = timedelta(days=7)

_CAMERA_EXISTS = select(Camera.id).where(Camera.id == bindparam("camera_id"))
_BATCH = select(  # the batch's detections, each with its camera's columns (no query of its own for the camera)
    *DETECTION_COLUMNS, Camera.name.label("camera_name"), Camera.frame_width, Camera.frame_height
).join(Camera, Camera.id == Detection.camera_id)
_BATCH_BY_PK = _BATCH.where(Detection.id.in_(bindparam("ids", expanding=True)))
_BATCH_BY_EXTERNAL_ID = _BATCH.where(  # the unique (camera_id, detection_id) index
    Detection.camera_id == bindparam("camera_id"), Detection.detection_id.in_(bindparam("ids", expanding=True))
)
_ZONES = (
    select(Zone.zone_id, Zone.name, Zone.zone_type, Zone.polygon)
    .where(Zone.camera_id == bindparam("camera_id"))
    .order_by(Zone.id)
)
_HOUSEHOLD = select(HouseholdEntry.kind, HouseholdEntry.value).order_by(HouseholdEntry.id)
_HISTORY_START = (
    select(func.min(Detection.detected_at).label("start"))
    .where(Detection.camera_id == bindparam("camera_id"), Detection.detected_at < bindparam("before"))
    .subquery()
)
_HOUR_SLOT_COUNTS = (  # the (camera_id, local_weekday, local_hour, detected_at) index
    select(Detection.object_type, func.count().label("n"))
    .where(
        Detection.camera_id == bindparam("camera_id"),
        Detection.local_weekday == bindparam("weekday"),
        Detection.local_hour == bindparam("hour"),
        Detection.detected_at >= bindparam("since"),
        Detection.detected_at < bindparam("before"),
    )
    .group_by(Detection.object_type)
    .subquery()
)
_BASELINE = (  # one row per object type seen in the hour slots, or one row of NULLs, each with the history start
    select(_HISTORY_START.c.start, _HOUR_SLOT_COUNTS.c.object_type, _HOUR_SLOT_COUNTS.c.n)
    .select_from(_HISTORY_START)
    .outerjoin(_HOUR_SLOT_COUNTS, true())
)
_OTHER_CAMERAS_SIGHTINGS = (
    select(
        Detection.camera_id,
        Camera.name,
        Detection.detected_at,
        Detection.utc_offset_minutes,
        Detection.object_type,
        Detection.confidence,
        Detection.track_id,
    )
    .join(Camera, Camera.id == Detection.camera_id)
    .where(
        # IN (other cameras) rather than != so that the (camera_id, detected_at) index serves the time range
        Detection.camera_id.in_(select(Camera.id).where(Camera.id != bindparam("camera_id"))),
        Detection.detected_at >= bindparam("since"),
        Detection.detected_at <= bindparam("until"),
    )
    .order_by(Detection.detected_at, Detection.id)
    .limit(CROSS_CAMERA_SCAN)
)


class ScenarioDataMissing(LookupError):
    """The camera or some of the batch's detections are not in the database."""


def load_batch_scenario(
    connection: Connection,
    camera_id: str,
    detection_ids: Sequence[int] | Sequence[str],
    household: Household | None = None,
    *,
    baseline_weeks: int = 4,
    cross_camera_minutes: float = 10.0,
) -> ScenarioInput:
    """``detection_ids``: database primary keys (int) or the detectors' ids (str) of this camera's detections."""
    rows = _load_batch(connection, camera_id, detection_ids)
    camera = rows[0]
    detections = [detection_in(row) for row in rows]
    first, last = detections[0].detected_at, detections[-1].detected_at
    object_types = sorted({d.object_type for d in detections})
    return ScenarioInput(
        camera=CameraIn(
            id=camera_id, name=camera.camera_name, frame_width=camera.frame_width, frame_height=camera.frame_height
        ),
        zones=load_zones(connection, camera_id),
        detections=detections,
        baseline=learn_baseline(connection, camera_id, first, object_types, weeks=baseline_weeks),
        cross_camera=cross_camera_sightings(
            connection, camera_id, first, last, timedelta(minutes=cross_camera_minutes)
        ),
        household=household if household is not None else _household_to_match(connection, detections),
    )


def _load_batch(connection: Connection, camera_id: str, detection_ids: Sequence[int] | Sequence[str]) -> list[Row[Any]]:
    """The batch's detections in time order, looked up by key (never by scanning the camera's history)."""
    ids = list(detection_ids)
    if not ids:
        raise ScenarioDataMissing("a batch needs at least one detection")
    key: InstrumentedAttribute[Any]
    if all(isinstance(i, int) for i in ids):
        key, query = Detection.id, _BATCH_BY_PK
    elif all(isinstance(i, str) for i in ids):
        key, query = Detection.detection_id, _BATCH_BY_EXTERNAL_ID
    else:
        raise TypeError("detection_ids must be all primary keys (int) or all detector ids (str)")
    found_rows = connection.execute(query, {"camera_id": camera_id, "ids": ids})
    rows = [row for row in found_rows if row.camera_id == camera_id]
    if len(rows) != len(set(ids)):
        if not rows and connection.scalar(_CAMERA_EXISTS, {"camera_id": camera_id}) is None:
            raise ScenarioDataMissing(f"unknown camera {camera_id!r}")
        found = {getattr(row, key.key) for row in rows}
        missing = [i for i in ids if i not in found]
        raise ScenarioDataMissing(f"detections not found for camera {camera_id!r}: {missing[:20]}")
    return sorted(rows, key=lambda row: (row.detected_at, row.id))


def load_zones(connection: Connection, camera_id: str) -> list[ZoneIn]:
    return [
        ZoneIn.model_validate({"id": z.zone_id, "name": z.name, "zone_type": z.zone_type, "polygon": z.polygon})
        for z in connection.execute(_ZONES, {"camera_id": camera_id})
    ]


def _household_to_match(connection: Connection, detections: Sequence[DetectionIn]) -> Household:
    """The household, read only when some detection has a face or a plate to match against it."""
    if any(d.enrichment.face is not None or d.enrichment.license_plate is not None for d in detections):
        return load_household(connection)
    return Household()


def load_household(connection: Connection) -> Household:
    entries = connection.execute(_HOUSEHOLD).all()
    return Household(
        known_faces=[value for kind, value in entries if kind == "face"],
        known_plates=[value for kind, value in entries if kind == "plate"],
    )


def learn_baseline(
    connection: Connection, camera_id: str, at: datetime, object_types: Sequence[str], *, weeks: int = 4
) -> Baseline | None:
    """Detections per hour usual for ``camera_id`` in the local hour and weekday of ``at`` (aware, local offset)."""
    slot_start = at.replace(minute=0, second=0, microsecond=0)
    rows = connection.execute(
        _BASELINE,
        {
            "camera_id": camera_id,
            "weekday": slot_start.weekday(),
            "hour": slot_start.hour,
            "since": slot_start - weeks * WEEK,
            "before": slot_start,
        },
    ).all()
    history_start = rows[0].start
    if history_start is None:
        return None
    first_hour = history_start.astimezone(at.tzinfo).replace(minute=0, second=0, microsecond=0)
    slots = sum(1 for k in range(1, weeks + 1) if slot_start - k * WEEK >= first_hour)
    if slots == 0:
        return None
    counts: dict[str, int] = {row.object_type: row.n for row in rows if row.object_type is not None}
    expected = {t: round(counts.get(t, 0) / slots, 3) for t in sorted(set(counts) | set(object_types))}
    history_days = math.ceil((slot_start - history_start).total_seconds() / 86400)
    return Baseline(sample_days=min(history_days, weeks * 7), expected_per_hour=expected)


def cross_camera_sightings(
    connection: Connection, camera_id: str, first: datetime, last: datetime, margin: timedelta
) -> list[CrossCameraSighting]:
    rows = connection.execute(
        _OTHER_CAMERAS_SIGHTINGS, {"camera_id": camera_id, "since": first - margin, "until": last + margin}
    )
    sightings: list[CrossCameraSighting] = []
    seen_tracks: set[tuple[str, str, int]] = set()
    for row in rows:
        if row.track_id is not None:
            track = (row.camera_id, row.object_type, row.track_id)
            if track in seen_tracks:
                continue
            seen_tracks.add(track)
        sightings.append(
            CrossCameraSighting(
                camera_id=row.camera_id,
                camera_name=row.name,
                detected_at=with_offset(row.detected_at, row.utc_offset_minutes),
                object_type=row.object_type,
                confidence=row.confidence,
            )
        )
        if len(sightings) == CROSS_CAMERA_LIMIT:
            break
    return sightings
