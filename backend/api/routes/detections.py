"""Detection ingest: one at a time or in bulk, all or nothing.

Errors: invalid input → 422 (FastAPI's detail, ``loc`` naming index and field); unknown camera → 422 with
``loc`` ``[..., "camera_id"]`` and type ``unknown_camera``; a detection id already stored for its camera, or
repeated in the request → 409 with type ``duplicate_detection`` (never skipped: resending is an error).
In every error case nothing is written.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from backend.api.schemas.ingest import BulkDetectionsIn, CameraDetectionIn, IngestOut
from backend.api.services import Services, Session
from backend.services.ingest import DuplicateDetections, IngestRejected, UnknownCameras, ingest_detections

router = APIRouter(prefix="/api/detections", tags=["detections"])

MAX_REPORTED_PROBLEMS = 100


def _rejection(exc: IngestRejected, loc_prefix: list[str | int] | None) -> HTTPException:
    """``loc_prefix`` None: a single detection (``["body", field]``); else ``prefix + [index, field]``."""
    unknown = isinstance(exc, UnknownCameras)
    field, kind = ("camera_id", "unknown_camera") if unknown else ("id", "duplicate_detection")
    detail: list[dict[str, Any]] = []
    for index, camera_id, detection_id in exc.problems[:MAX_REPORTED_PROBLEMS]:
        loc = ["body", field] if loc_prefix is None else [*loc_prefix, index, field]
        msg = (
            f"unknown camera {camera_id!r}"
            if unknown
            else f"detection id {detection_id!r} already stored or repeated for camera {camera_id!r}"
        )
        detail.append({"loc": loc, "msg": msg, "type": kind, "input": camera_id if unknown else detection_id})
    if not detail:
        detail.append({"loc": ["body"], "msg": str(exc), "type": "duplicate_detection"})
    code = status.HTTP_422_UNPROCESSABLE_CONTENT if unknown else status.HTTP_409_CONFLICT
    return HTTPException(code, detail)


@router.post("", status_code=status.HTTP_201_CREATED)
async def post_detection(body: CameraDetectionIn, services: Services, session: Session) -> IngestOut:
    try:
        result = await ingest_detections(session, services.batcher, [(body.camera_id, body)], services.fast_path_rule)
    except (UnknownCameras, DuplicateDetections) as exc:
        raise _rejection(exc, None) from exc
    return IngestOut(stored=result.stored, batch_ids=result.batch_ids, fast_path=result.fast_path)


@router.post("/bulk", status_code=status.HTTP_201_CREATED)
async def post_detections_bulk(body: BulkDetectionsIn, services: Services, session: Session) -> IngestOut:
    items = [(d.camera_id, d) for d in body.detections]
    try:
        result = await ingest_detections(
            session, services.batcher, items, services.fast_path_rule, analyze=body.analyze
        )
    except (UnknownCameras, DuplicateDetections) as exc:
        raise _rejection(exc, ["body", "detections"]) from exc
    return IngestOut(stored=result.stored, batch_ids=result.batch_ids, fast_path=result.fast_path)
