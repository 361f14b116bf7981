"""Cameras, their zones, and the household (known faces and plates)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, status
from sqlalchemy import delete, select

from backend.api.schemas.cameras import CameraListOut, CameraOut, CameraPatch, ZoneOut, ZonePatch
from backend.api.schemas.detections import CameraIn, Household, Identifier, ZoneIn
from backend.api.services import Session
from backend.models import Camera, HouseholdEntry, Zone
from backend.services.history import load_household

router = APIRouter(prefix="/api", tags=["cameras"])

MAX_ZONES = 100


def _zone_out(zone: Zone) -> ZoneOut:
    return ZoneOut.model_validate(
        {
            "id": zone.zone_id,
            "name": zone.name,
            "zone_type": zone.zone_type,
            "polygon": zone.polygon,
            "zone_type_source": zone.zone_type_source,
        }
    )


async def _cameras_out(session: Session, cameras: Sequence[Camera]) -> list[CameraOut]:
    """The cameras with their zones (in the order they were stored), zones read in one query."""
    ids = [camera.id for camera in cameras]
    zones: dict[str, list[ZoneOut]] = {camera_id: [] for camera_id in ids}
    if ids:
        for zone in await session.scalars(select(Zone).where(Zone.camera_id.in_(ids)).order_by(Zone.id)):
            zones[zone.camera_id].append(_zone_out(zone))
    return [
        CameraOut(
            id=camera.id,
            name=camera.name,
            frame_width=camera.frame_width,
            frame_height=camera.frame_height,
            created_at=camera.created_at,
            zones=zones[camera.id],
        )
        for camera in cameras
    ]


async def _camera_out(session: Session, camera: Camera) -> CameraOut:
    return (await _cameras_out(session, [camera]))[0]


async def _camera(session: Session, camera_id: str) -> Camera:
    camera = await session.get(Camera, camera_id)
    if camera is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown camera {camera_id!r}")
    return camera


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


@router.patch("/cameras/{camera_id}")
async def update_camera(camera_id: Identifier, body: CameraPatch, session: Session) -> CameraOut:
    """Changes the camera's name and/or frame size (pixels); fields left out stay as they are. 404: no such
    camera."""
    camera = await _camera(session, camera_id)
    if body.name is not None:
        camera.name = body.name
    if body.frame_width is not None:
        camera.frame_width = body.frame_width
    if body.frame_height is not None:
        camera.frame_height = body.frame_height
    await session.commit()
    return await _camera_out(session, camera)


@router.get("/cameras")
async def list_cameras(session: Session) -> CameraListOut:
    """Every camera with its zones; each zone's ``zone_type_source`` says whether its type was set or guessed."""
    cameras = (await session.scalars(select(Camera).order_by(Camera.id))).all()
    return CameraListOut(cameras=await _cameras_out(session, cameras))


@router.put("/cameras/{camera_id}/zones")
async def replace_zones(
    camera_id: Identifier, zones: Annotated[list[ZoneIn], Body(max_length=MAX_ZONES)], session: Session
) -> CameraOut:
    """Replaces all zones of the camera with the posted list; their types count as set. A zone with an empty
    polygon is known by name only (detections name it in ``zones``)."""
    camera = await _camera(session, camera_id)
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
            camera_id=camera_id,
            zone_id=z.id,
            name=z.name,
            zone_type=z.zone_type,
            polygon=[list(p) for p in z.polygon],
            zone_type_source="set",
        )
        for z in zones
    )
    await session.commit()
    return await _camera_out(session, camera)


@router.patch("/cameras/{camera_id}/zones/{zone_id}")
async def update_zone(camera_id: Identifier, zone_id: Identifier, body: ZonePatch, session: Session) -> ZoneOut:
    """Sets the zone's type (its source becomes "set": an import or a detector naming the zone never guesses
    over it) and, when given, its name. 404: no such camera, or no such zone on it; 422: a type not in
    entry_point, driveway, yard, sidewalk, street, other."""
    zone = await session.scalar(select(Zone).where(Zone.camera_id == camera_id, Zone.zone_id == zone_id))
    if zone is None:
        await _camera(session, camera_id)
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown zone {zone_id!r} of camera {camera_id!r}")
    zone.zone_type, zone.zone_type_source = body.zone_type, "set"
    if body.name is not None:
        zone.name = body.name
    await session.commit()
    return _zone_out(zone)


@router.put("/household")
async def replace_household(body: Household, session: Session) -> Household:
    """Replaces the known faces and plates (plates are normalized: upper case, no spaces or dashes)."""
    await session.execute(delete(HouseholdEntry))
    entries = {("face", name) for name in body.known_faces} | {("plate", plate) for plate in body.known_plates}
    session.add_all(HouseholdEntry(kind=kind, value=value) for kind, value in sorted(entries))
    await session.commit()
    return await (await session.connection()).run_sync(load_household)
