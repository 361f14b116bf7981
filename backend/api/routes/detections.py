"""Detection ingest: one at a time or in bulk, all or nothing.

Errors: invalid input → 422 (FastAPI's detail, ``loc`` naming index and field; a bbox with a zero, negative,
NaN or infinite number among them); unknown camera → 422 with ``loc`` ``[..., "camera_id"]`` and type
``unknown_camera``; a bbox wholly outside its camera's frame → 422 with ``loc`` ``[..., "bbox"]`` and type
``bbox_outside_frame``; a detection id already stored for its camera, or repeated in the request → 409 with type
``duplicate_detection`` (never skipped: resending is an error). In every error case nothing is written.

A bbox that only reaches past the frame's edge is stored clipped to the frame; the detection's
``bbox_clipped_from`` keeps the box as posted. Text with a NUL character, a lone surrogate, a ``track_id``
outside 32 bits or a time outside 1970..9000 UTC is a 422 naming the field (``backend.domain.scenario``).

While Redis is unreachable, ingest still stores and answers 201 (batching falls back to this process); while
the database is unreachable, it answers 503 with ``Retry-After`` and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from backend.api.schemas.ingest import BulkDetectionsIn, CameraDetectionIn, IngestOut
from backend.api.services import Services, Session
from backend.services.ingest import (
    BoxesOutsideFrame,
    DuplicateDetections,
    IngestRejected,
    UnknownCameras,
    ingest_detections,
)

router = APIRouter(prefix="/api/detections", tags=["detections"])

MAX_REPORTED_PROBLEMS = 100


def _rejection(exc: IngestRejected, loc_prefix: list[str | int] | None) -> HTTPException:
    """``loc_prefix`` None: a single detection (``["body", field]``); else ``prefix + [index, field]``."""
    unknown, outside = isinstance(exc, UnknownCameras), isinstance(exc, BoxesOutsideFrame)
    if unknown:
        field, kind = "camera_id", "unknown_camera"
    elif outside:
        field, kind = "bbox", "bbox_outside_frame"
    else:
        field, kind = "id", "duplicate_detection"
    detail: list[dict[str, Any]] = []
    for index, camera_id, detection_id in exc.problems[:MAX_REPORTED_PROBLEMS]:
        loc = ["body", field] if loc_prefix is None else [*loc_prefix, index, field]
        if unknown:
            msg = f"unknown camera {camera_id!r}"
        elif isinstance(exc, BoxesOutsideFrame):
            width, height = exc.frames[camera_id]
            msg = f"box lies wholly outside the {width}x{height} frame of camera {camera_id!r}"
        else:
            msg = f"detection id {detection_id!r} already stored or repeated for camera {camera_id!r}"
        detail.append({"loc": loc, "msg": msg, "type": kind, "input": camera_id if unknown else detection_id})
    if not detail:
        detail.append({"loc": ["body"], "msg": str(exc), "type": "duplicate_detection"})
    code = status.HTTP_422_UNPROCESSABLE_CONTENT if unknown or outside else status.HTTP_409_CONFLICT
    return HTTPException(code, detail)


@router.post("", status_code=status.HTTP_201_CREATED)
async def post_detection(body: CameraDetectionIn, services: Services, session: Session) -> IngestOut:
    try:
        result = await ingest_detections(session, services.batcher, [(body.camera_id, body)], services.fast_path_rule)
    except (UnknownCameras, BoxesOutsideFrame, DuplicateDetections) as exc:
        raise _rejection(exc, None) from exc
    return IngestOut(stored=result.stored, batch_ids=result.batch_ids, fast_path=result.fast_path)


@router.post("/bulk", status_code=status.HTTP_201_CREATED)
async def post_detections_bulk(body: BulkDetectionsIn, services: Services, session: Session) -> IngestOut:
    items = [(d.camera_id, d) for d in body.detections]
    try:
        result = await ingest_detections(
            session, services.batcher, items, services.fast_path_rule, analyze=body.analyze
        )
    except (UnknownCameras, BoxesOutsideFrame, DuplicateDetections) as exc:
        raise _rejection(exc, ["body", "detections"]) from exc
    return IngestOut(stored=result.stored, batch_ids=result.batch_ids, fast_path=result.fast_path)
