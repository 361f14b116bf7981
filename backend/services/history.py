"""The analyzer's input for one batch, built from the database (the shape of ``detections.json``).

Besides the camera, its zones and the batch's detections, it learns from stored history:

* ``baseline``: for this camera, the batch's local weekday and hour ("is this normal for 3am on a Tuesday?"),
  the average number of detections per object type in that same hour of the same weekday over the last
  ``baseline_weeks`` weeks before the batch. Weeks before the camera's first stored detection do not count;
  ``sample_days`` is the number of days of history used. Object types of the batch that were never seen in
  that hour get 0.0. No baseline at all when there is not yet one earlier same-weekday hour of history.
* ``cross_camera``: other cameras' detections from ``cross_camera_minutes`` before the batch's first detection
  to as long after its last one, the first sighting of each (camera, object type, track) only.
* ``household``: the known faces and plates (``HouseholdEntry`` rows) unless one is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from backend.api.schemas.detections import (
    Baseline,
    CameraIn,
    CrossCameraSighting,
    Household,
    ScenarioInput,
    ZoneIn,
)
from backend.models import Camera, Detection, HouseholdEntry, Zone
from backend.services.detection_rows import detection_in, with_offset

CROSS_CAMERA_LIMIT = 50
WEEK = timedelta(days=7)


class ScenarioDataMissing(LookupError):
    """The camera or some of the batch's detections are not in the database."""


async def load_batch_scenario(
    session: AsyncSession,
    camera_id: str,
    detection_ids: Sequence[int] | Sequence[str],
    household: Household | None = None,
    *,
    baseline_weeks: int = 4,
    cross_camera_minutes: float = 10.0,
) -> ScenarioInput:
    """``detection_ids``: database primary keys (int) or the detectors' ids (str) of this camera's detections."""
    camera = await session.get(Camera, camera_id)
    if camera is None:
        raise ScenarioDataMissing(f"unknown camera {camera_id!r}")
    rows = await _load_detections(session, camera_id, detection_ids)
    detections = [detection_in(row) for row in rows]
    first, last = detections[0].detected_at, detections[-1].detected_at
    object_types = sorted({d.object_type for d in detections})
    return ScenarioInput(
        camera=CameraIn(
            id=camera.id, name=camera.name, frame_width=camera.frame_width, frame_height=camera.frame_height
        ),
        zones=await load_zones(session, camera_id),
        detections=detections,
        baseline=await learn_baseline(session, camera_id, first, object_types, weeks=baseline_weeks),
        cross_camera=await cross_camera_sightings(
            session, camera_id, first, last, timedelta(minutes=cross_camera_minutes)
        ),
        household=household if household is not None else await load_household(session),
    )


async def _load_detections(
    session: AsyncSession, camera_id: str, detection_ids: Sequence[int] | Sequence[str]
) -> list[Detection]:
    ids = list(detection_ids)
    if not ids:
        raise ScenarioDataMissing("a batch needs at least one detection")
    key: InstrumentedAttribute[Any]
    if all(isinstance(i, int) for i in ids):
        key = Detection.id
    elif all(isinstance(i, str) for i in ids):
        key = Detection.detection_id
    else:
        raise TypeError("detection_ids must be all primary keys (int) or all detector ids (str)")
    query = (
        select(Detection)
        .where(Detection.camera_id == camera_id, key.in_(ids))
        .order_by(Detection.detected_at, Detection.id)
    )
    rows = list((await session.scalars(query)).all())
    if len(rows) != len(set(ids)):
        found = {getattr(row, key.key) for row in rows}
        missing = [i for i in ids if i not in found]
        raise ScenarioDataMissing(f"detections not found for camera {camera_id!r}: {missing[:20]}")
    return rows


async def load_zones(session: AsyncSession, camera_id: str) -> list[ZoneIn]:
    zones = await session.scalars(select(Zone).where(Zone.camera_id == camera_id).order_by(Zone.id))
    return [
        ZoneIn.model_validate({"id": z.zone_id, "name": z.name, "zone_type": z.zone_type, "polygon": z.polygon})
        for z in zones
    ]


async def load_household(session: AsyncSession) -> Household:
    entries = (
        await session.execute(select(HouseholdEntry.kind, HouseholdEntry.value).order_by(HouseholdEntry.id))
    ).all()
    return Household(
        known_faces=[value for kind, value in entries if kind == "face"],
        known_plates=[value for kind, value in entries if kind == "plate"],
    )


async def learn_baseline(
    session: AsyncSession, camera_id: str, at: datetime, object_types: Sequence[str], *, weeks: int = 4
) -> Baseline | None:
    """Detections per hour usual for ``camera_id`` in the local hour and weekday of ``at`` (aware, local offset)."""
    slot_start = at.replace(minute=0, second=0, microsecond=0)
    history_start = await session.scalar(
        select(func.min(Detection.detected_at)).where(
            Detection.camera_id == camera_id, Detection.detected_at < slot_start
        )
    )
    if history_start is None:
        return None
    first_hour = history_start.astimezone(at.tzinfo).replace(minute=0, second=0, microsecond=0)
    slots = sum(1 for k in range(1, weeks + 1) if slot_start - k * WEEK >= first_hour)
    if slots == 0:
        return None
    counts = dict(
        (
            await session.execute(
                select(Detection.object_type, func.count())
                .where(
                    Detection.camera_id == camera_id,
                    Detection.detected_at >= slot_start - weeks * WEEK,
                    Detection.detected_at < slot_start,
                    Detection.local_weekday == slot_start.weekday(),
                    Detection.local_hour == slot_start.hour,
                )
                .group_by(Detection.object_type)
            )
        ).all()
    )
    expected = {t: round(counts.get(t, 0) / slots, 3) for t in sorted(set(counts) | set(object_types))}
    history_days = math.ceil((slot_start - history_start).total_seconds() / 86400)
    return Baseline(sample_days=min(history_days, weeks * 7), expected_per_hour=expected)


async def cross_camera_sightings(
    session: AsyncSession, camera_id: str, first: datetime, last: datetime, margin: timedelta
) -> list[CrossCameraSighting]:
    cameras = dict((await session.execute(select(Camera.id, Camera.name).where(Camera.id != camera_id))).all())
    if not cameras:
        return []
    rows = await session.scalars(
        select(Detection)
        .where(
            Detection.camera_id.in_(cameras),
            Detection.detected_at >= first - margin,
            Detection.detected_at <= last + margin,
        )
        .order_by(Detection.detected_at, Detection.id)
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
                camera_name=cameras[row.camera_id],
                detected_at=with_offset(row.detected_at, row.utc_offset_minutes),
                object_type=row.object_type,
                confidence=row.confidence,
            )
        )
        if len(sightings) == CROSS_CAMERA_LIMIT:
            break
    return sightings
