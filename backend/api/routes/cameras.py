"""Cameras, their zones, and the household (known faces and plates)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, status
from sqlalchemy import delete, select

from backend.api.schemas.cameras import CameraListOut, CameraOut
from backend.api.schemas.detections import CameraIn, Household, Identifier, ZoneIn
from backend.api.services import Session
from backend.models import Camera, HouseholdEntry, Zone
from backend.services.history import load_household, load_zones

router = APIRouter(prefix="/api", tags=["cameras"])

MAX_ZONES = 100


async def _camera_out(session: Session, camera: Camera) -> CameraOut:
    return CameraOut(
        id=camera.id,
        name=camera.name,
        frame_width=camera.frame_width,
        frame_height=camera.frame_height,
        created_at=camera.created_at,
        zones=await (await session.connection()).run_sync(load_zones, camera.id),
    )


@router.post("/cameras")
async def upsert_camera(body: CameraIn, session: Session) -> CameraOut:
    """Creates the camera, or updates its name and frame size."""
    camera = await session.get(Camera, body.id)
    if camera is None:
        camera = Camera(id=body.id)
        session.add(camera)
    camera.name, camera.frame_width, camera.frame_height = body.name, body.frame_width, body.frame_height
    await session.commit()
    return await _camera_out(session, camera)


@router.get("/cameras")
async def list_cameras(session: Session) -> CameraListOut:
    cameras = (await session.scalars(select(Camera).order_by(Camera.id))).all()
    return CameraListOut(cameras=[await _camera_out(session, c) for c in cameras])


@router.put("/cameras/{camera_id}/zones")
async def replace_zones(
    camera_id: Identifier, zones: Annotated[list[ZoneIn], Body(max_length=MAX_ZONES)], session: Session
) -> CameraOut:
    """Replaces all zones of the camera with the posted list."""
    camera = await session.get(Camera, camera_id)
    if camera is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown camera {camera_id!r}")
    seen: set[str] = set()
    for index, zone in enumerate(zones):
        if zone.id in seen:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [{"loc": ["body", index, "id"], "msg": f"zone id {zone.id!r} repeated", "type": "duplicate_zone"}],
            )
        seen.add(zone.id)
    await session.execute(delete(Zone).where(Zone.camera_id == camera_id))
    session.add_all(
        Zone(
            camera_id=camera_id, zone_id=z.id, name=z.name, zone_type=z.zone_type, polygon=[list(p) for p in z.polygon]
        )
        for z in zones
    )
    await session.commit()
    return await _camera_out(session, camera)


@router.put("/household")
async def replace_household(body: Household, session: Session) -> Household:
    """Replaces the known faces and plates (plates are normalized: upper case, no spaces or dashes)."""
    await session.execute(delete(HouseholdEntry))
    entries = {("face", name) for name in body.known_faces} | {("plate", plate) for plate in body.known_plates}
    session.add_all(HouseholdEntry(kind=kind, value=value) for kind, value in sorted(entries))
    await session.commit()
    return await (await session.connection()).run_sync(load_household)
