"""Storing posted detections: all or nothing, batched in the same transaction, fast paths fired after commit.

A request is refused as a whole (nothing written) when a camera is unknown (``UnknownCameras``), a box lies
wholly outside its camera's frame (``BoxesOutsideFrame``) or a detection id is already stored for its camera or
repeated in the request (``DuplicateDetections``): ids are unique per camera and never silently skipped. A box
that only reaches past the frame's edge is stored clipped to the frame, the box as posted in
``bbox_clipped_from``. Rows go in with one multi-row ``INSERT`` per chunk (executemany).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, String, bindparam, func, insert, null, select, tuple_
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.domain.scenario import BoxOutsideFrame, DetectionIn
from backend.models import Camera, Detection, table_of
from backend.services import metrics
from backend.services.batcher import Assignment, Batcher
from backend.services.detection_rows import detection_row
from backend.services.fast_path import fast_path_trigger

logger = logging.getLogger(__name__)

INSERT_CHUNK = 1000
SQLITE_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class FastPathRule:
    threshold: float
    object_types: Collection[str]


class IngestRejected(Exception):
    """The request is refused as a whole; ``problems`` are (index in the request, camera id, detection id)."""

    def __init__(self, message: str, problems: list[tuple[int, str, str]]) -> None:
        super().__init__(message)
        self.problems = problems


class UnknownCameras(IngestRejected):
    pass


class DuplicateDetections(IngestRejected):
    pass


class BoxesOutsideFrame(IngestRejected):
    """Boxes that do not overlap their camera's frame; ``frames``: each such camera's (width, height)."""

    def __init__(self, message: str, problems: list[tuple[int, str, str]], frames: dict[str, tuple[int, int]]) -> None:
        super().__init__(message, problems)
        self.frames = frames


@dataclass
class IngestResult:
    stored: int
    batch_ids: list[str] = field(default_factory=list)
    fast_path: list[str] = field(default_factory=list)  # detection ids sent to fast-path analysis


async def ingest_detections(
    session: AsyncSession,
    batcher: Batcher,
    items: Sequence[tuple[str, DetectionIn]],
    rule: FastPathRule,
    *,
    analyze: bool = True,
    now: datetime | None = None,
) -> IngestResult:
    """Stores ``(camera_id, detection)`` pairs in one transaction.

    ``analyze=False`` stores them as history only: no batch, no fast path (e.g. back-filling baselines).
    A detection fires the fast path at most once per request for each (camera, trigger) (see ``fast_path``).
    """
    now = now or batcher.clock()
    _reject_repeats(items)
    by_camera: dict[str, list[int]] = defaultdict(list)
    for index, (camera_id, _) in enumerate(items):
        by_camera[camera_id].append(index)

    batch_of: list[str | None] = [None] * len(items)
    assignments: list[Assignment] = []
    fired: list[tuple[str, str]] = []
    try:
        async with session.begin():
            frames = await _reject_unknown_cameras(session, items, by_camera)
            items = _clip_to_frames(items, frames)
            await _reject_stored(session, items, by_camera)
            if analyze:
                counts = {camera_id: len(indexes) for camera_id, indexes in by_camera.items()}
                assignments = await batcher.assign(session, counts, now)
                for assignment in assignments:
                    for index, batch_id in zip(by_camera[assignment.camera_id], assignment.batch_ids, strict=True):
                        batch_of[index] = batch_id
            rows, fired = _rows(items, batch_of, rule, analyze, now)
            for start in range(0, len(rows), INSERT_CHUNK):
                await session.execute(insert(table_of(Detection)), rows[start : start + INSERT_CHUNK])
    except IntegrityError as exc:  # a concurrent request stored the same ids first
        raise DuplicateDetections("detection ids stored by a concurrent request", []) from exc

    fast_path_pks = await _primary_keys(session, fired)
    await session.commit()
    batcher.dispatch(assignments, fast_path_pks)
    metrics.DETECTIONS_INGESTED.labels(str(analyze).lower()).inc(len(items))
    batch_ids = sorted({b for b in batch_of if b is not None})
    logger.info(
        "detections ingested",
        extra={"count": len(items), "cameras": len(by_camera), "batches": len(batch_ids), "fast_path": len(fired)},
    )
    return IngestResult(stored=len(items), batch_ids=batch_ids, fast_path=[d for _, d in fired])


def _reject_repeats(items: Sequence[tuple[str, DetectionIn]]) -> None:
    seen: set[tuple[str, str]] = set()
    repeats = []
    for index, (camera_id, detection) in enumerate(items):
        key = (camera_id, detection.id)
        if key in seen:
            repeats.append((index, camera_id, detection.id))
        seen.add(key)
    if repeats:
        raise DuplicateDetections("detection ids repeated in the request", repeats)


async def _reject_unknown_cameras(
    session: AsyncSession, items: Sequence[tuple[str, DetectionIn]], by_camera: dict[str, list[int]]
) -> dict[str, tuple[int, int]]:
    """The frame size (width, height) of each camera of the request."""
    found = await session.execute(
        select(Camera.id, Camera.frame_width, Camera.frame_height).where(Camera.id.in_(list(by_camera)))
    )
    known = {camera_id: (width, height) for camera_id, width, height in found.all()}
    unknown = [
        (i, camera_id, items[i][1].id)
        for camera_id, indexes in by_camera.items()
        if camera_id not in known
        for i in indexes
    ]
    if unknown:
        raise UnknownCameras("unknown cameras", sorted(unknown))
    return known


def _clip_to_frames(
    items: Sequence[tuple[str, DetectionIn]], frames: dict[str, tuple[int, int]]
) -> list[tuple[str, DetectionIn]]:
    """Each box cut to its camera's frame (``DetectionIn.clipped_to``); refuses boxes wholly outside it."""
    clipped: list[tuple[str, DetectionIn]] = []
    outside: list[tuple[int, str, str]] = []
    for index, (camera_id, detection) in enumerate(items):
        try:
            clipped.append((camera_id, detection.clipped_to(*frames[camera_id])))
        except BoxOutsideFrame:
            outside.append((index, camera_id, detection.id))
    if outside:
        used = {camera_id for _, camera_id, _ in outside}
        raise BoxesOutsideFrame("boxes wholly outside the camera frame", outside, {c: frames[c] for c in sorted(used)})
    return clipped


async def _reject_stored(
    session: AsyncSession, items: Sequence[tuple[str, DetectionIn]], by_camera: dict[str, list[int]]
) -> None:
    stored: list[tuple[int, str, str]] = []
    postgres = session.get_bind().dialect.name == "postgresql"
    for camera_id, indexes in by_camera.items():
        index_of = {items[i][1].id: i for i in indexes}
        ids = list(index_of)
        chunk = len(ids) if postgres else SQLITE_LOOKUP_CHUNK
        for start in range(0, len(ids), chunk):
            query = (_stored_ids_pg if postgres else _stored_ids_sqlite)(camera_id, ids[start : start + chunk])
            stored.extend((index_of[d], camera_id, d) for d in await session.scalars(query))
    if stored:
        raise DuplicateDetections("detection ids already stored", sorted(stored))


def _stored_ids_pg(camera_id: str, ids: list[str]) -> Select[str]:
    """A join with ``unnest(array)``: one parameter, and a plan that stays an index lookup per id even once
    PostgreSQL switches the prepared statement to a generic plan (``IN``/``= ANY`` then scan the whole camera)."""
    wanted = func.unnest(bindparam("ids", ids, type_=postgresql.ARRAY(String()))).table_valued("id").render_derived()
    return (
        select(Detection.detection_id)
        .join(wanted, Detection.detection_id == wanted.c.id)
        .where(Detection.camera_id == camera_id)
    )


def _stored_ids_sqlite(camera_id: str, ids: list[str]) -> Select[str]:
    return select(Detection.detection_id).where(Detection.camera_id == camera_id, Detection.detection_id.in_(ids))


def _rows(
    items: Sequence[tuple[str, DetectionIn]],
    batch_of: Sequence[str | None],
    rule: FastPathRule,
    analyze: bool,
    now: datetime,
) -> tuple[list[dict[str, object]], list[tuple[str, str]]]:
    rows = []
    fired: list[tuple[str, str]] = []
    triggers_fired: set[tuple[str, str]] = set()
    for (camera_id, detection), batch_id in zip(items, batch_of, strict=True):
        trigger = fast_path_trigger(detection, rule.threshold, rule.object_types) if analyze else None
        if trigger is not None and (camera_id, trigger) not in triggers_fired:
            triggers_fired.add((camera_id, trigger))
            fired.append((camera_id, detection.id))
        fast = trigger is not None
        row = detection_row(camera_id, detection, batch_id=batch_id, fast_path=fast, created_at=now)
        note = detection.bbox_clipped_from
        row["bbox_clipped_from"] = note.model_dump(mode="json") if note is not None else null()  # SQL NULL
        rows.append(row)
    return rows, fired


async def _primary_keys(session: AsyncSession, detections: Sequence[tuple[str, str]]) -> list[tuple[str, int]]:
    if not detections:
        return []
    rows = await session.execute(
        select(Detection.camera_id, Detection.detection_id, Detection.id).where(
            tuple_(Detection.camera_id, Detection.detection_id).in_(list(detections))
        )
    )
    pk_of = {(camera_id, detection_id): pk for camera_id, detection_id, pk in rows.all()}
    return [(camera_id, pk_of[(camera_id, detection_id)]) for camera_id, detection_id in detections]
