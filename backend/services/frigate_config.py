"""Cameras and zone polygons from Frigate's own configuration (``GET {FRIGATE_URL}/api/config``).

Frigate's MQTT events name the zones an object is in, not their shape, and give boxes in pixels of the
camera's detect resolution. With ``FRIGATE_URL`` set, :func:`import_frigate_config` reads Frigate's config once
and, per Frigate camera:

* upserts the camera: id = the Frigate camera name as an ``Identifier`` (:func:`backend.services.zones.
  as_identifier`; Frigate's own names, ``^[a-zA-Z0-9_-]+$``, are kept as they are), name = its
  ``friendly_name`` or a readable form of the name ("front_door" -> "Front Door", as Frigate's UI shows it) for
  a new camera (an existing camera keeps its name), frame size = ``detect.width`` x ``detect.height``;
* upserts each zone: id as for cameras, so it matches the id :func:`backend.services.zones.ensure_zones` gives
  the same name heard over MQTT; polygon normalised to 0-1; a zone whose type was "set" keeps its type and
  name (only its polygon follows Frigate), any other gets its type guessed from the name
  (:func:`backend.services.zones.guess_zone_type`) and Frigate's name. Zones and cameras Frigate does not list
  are left alone.

Zone ``coordinates`` (Frigate docs, "Zones"; frigate/config/camera/zone.py): a comma-separated string
``"x1,y1,x2,y2,..."`` or a list of ``"x,y"`` strings; relative to the frame (0-1) since Frigate 0.14 (the UI
saves them so, and ``/api/config`` serves them so), in pixels of the detect resolution before, which Frigate
tells apart by any value above 1, as here. Points a little outside the frame are clamped to it; a polygon of
more than 64 points (``ZoneIn``'s limit) is cut to 64 evenly spaced ones.

All of it is one transaction: an unreachable Frigate (:class:`FrigateUnreachableError`, retryable) or a config
that is not what Frigate serves (:class:`FrigateConfigInvalidError`) writes nothing. Names in the config are
untrusted text.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any, Final, cast

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.domain.errors import ServiceError
from backend.domain.scenario import ZoneType
from backend.models import Camera, Zone, table_of, utcnow
from backend.services.event_store import insert_ignoring_conflicts
from backend.services.zones import as_identifier, display_name, guess_zone_type

CONFIG_PATH: Final = "/api/config"
TIMEOUT_SECONDS: Final = 10.0
MAX_CONFIG_BYTES: Final = 8 * 1024 * 1024  # a config with a hundred cameras is well under 1 MB
MAX_POLYGON_POINTS: Final = 64  # ZoneIn.polygon's limit
MAX_FRAME: Final = 16384  # CameraIn's limit on frame sizes
# Frigate's default detect resolution (docs.frigate.video, "detect: width 1280, height 720"): a camera whose
# config gives none (Frigate then probes the stream) gets FRIGATE_DETECT_WIDTH/HEIGHT, these by default.
DEFAULT_FRAME: Final = (1280, 720)


class FrigateConfigError(ServiceError):
    """Frigate's config could not be imported (base of the two kinds below)."""

    http_status = 502
    kind = "frigate_config_error"


class FrigateUnreachableError(FrigateConfigError):
    """Frigate did not answer ``/api/config`` (connection refused, timeout, 5xx): try again later."""

    retryable = True
    http_status = 503
    kind = "frigate_unreachable"


class FrigateConfigInvalidError(FrigateConfigError, ValueError):
    """Frigate answered, but not with a config this module can read (not JSON, no cameras, a bad zone, a 4xx
    such as 401 from Frigate's authenticated port 8971: use the internal port 5000). The message names where."""

    kind = "frigate_config_invalid"


class ImportedZone(BaseModel):
    model_config = ConfigDict(frozen=True)

    zone_id: str
    name: str  # Frigate's name (or friendly_name) of the zone
    zone_type: ZoneType  # the type the import gave it: kept (set) or guessed
    type_kept: bool  # True: a set type was kept, not guessed over
    points: int  # polygon points stored
    points_in_config: int  # points in Frigate's config (more than ``points`` when cut to MAX_POLYGON_POINTS)


class ImportedCamera(BaseModel):
    model_config = ConfigDict(frozen=True)

    camera_id: str
    frigate_name: str
    frame_width: int  # pixels, Frigate's detect width
    frame_height: int
    frame_defaulted: bool  # True: the config gave no detect size, the default was used
    zones: tuple[ImportedZone, ...]


class ImportReport(BaseModel):
    """What an import wrote: every camera and zone of Frigate's config, sorted by id."""

    model_config = ConfigDict(frozen=True)

    frigate_url: str
    cameras: tuple[ImportedCamera, ...]

    @property
    def zone_count(self) -> int:
        return sum(len(camera.zones) for camera in self.cameras)


# --- Frigate's config, as far as it is read here (every other key is ignored) ---------------------------


class _FrigateModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Detect(_FrigateModel):
    width: int | None = Field(default=None, gt=0, le=MAX_FRAME)
    height: int | None = Field(default=None, gt=0, le=MAX_FRAME)


class _Zone(_FrigateModel):
    coordinates: str | list[str | list[float]]
    friendly_name: str | None = None


class _Camera(_FrigateModel):
    friendly_name: str | None = None
    detect: _Detect = Field(default_factory=_Detect)
    zones: dict[str, _Zone] = Field(default_factory=dict)


class _Config(_FrigateModel):
    cameras: dict[str, _Camera]


# --- reading ---------------------------------------------------------------------------------------------


async def fetch_frigate_config(frigate_url: str, http: httpx.AsyncClient | None = None) -> dict[str, Any]:
    """Frigate's config as JSON (``GET {frigate_url}/api/config``). Raises :class:`FrigateUnreachableError`
    (no connection, timeout, 5xx) or :class:`FrigateConfigInvalidError` (4xx, not a JSON object, over
    ``MAX_CONFIG_BYTES``)."""
    url = frigate_url.rstrip("/") + CONFIG_PATH
    client = http or httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
    try:
        async with client.stream("GET", url) as response:
            if response.status_code >= 500:
                raise FrigateUnreachableError(f"Frigate answered {url} with HTTP {response.status_code}")
            if response.status_code != 200:
                hint = (
                    " (authentication required: use Frigate's internal port 5000)"
                    if response.status_code in (401, 403)
                    else ""
                )
                raise FrigateConfigInvalidError(f"Frigate answered {url} with HTTP {response.status_code}{hint}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_CONFIG_BYTES:
                    raise FrigateConfigInvalidError(f"{url}: the config is over {MAX_CONFIG_BYTES} bytes")
    except httpx.TransportError as exc:  # refused, reset, DNS, timeouts
        raise FrigateUnreachableError(f"Frigate unreachable at {url}: {type(exc).__name__}: {exc}") from exc
    except httpx.InvalidURL as exc:
        raise FrigateConfigInvalidError(f"FRIGATE_URL {frigate_url!r} is not a URL: {exc}") from exc
    finally:
        if http is None:
            await client.aclose()
    try:
        config = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrigateConfigInvalidError(f"{url} did not answer JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise FrigateConfigInvalidError(f"{url} answered JSON that is not an object")
    return config


def _parse(config: dict[str, Any]) -> _Config:
    try:
        return _Config.model_validate(config)
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()[:5]
        )
        raise FrigateConfigInvalidError(f"Frigate's config is not as expected: {where}") from None


def _numbers(coordinates: str | list[str | list[float]], where: str) -> list[float]:
    """The flat list x1, y1, x2, y2, ... of a zone's ``coordinates`` in any of Frigate's three forms."""
    parts: list[Any]
    if isinstance(coordinates, str):
        parts = coordinates.split(",")
    else:
        parts = []
        for point in coordinates:
            pair = point.split(",") if isinstance(point, str) else point
            if len(pair) != 2:
                raise FrigateConfigInvalidError(f"{where}: point {point!r} is not one x,y pair")
            parts += pair
    try:
        numbers = [float(part) for part in parts]
    except (TypeError, ValueError):
        raise FrigateConfigInvalidError(f"{where}: coordinates are not numbers: {coordinates!r:.200}") from None
    if not all(math.isfinite(n) for n in numbers):
        raise FrigateConfigInvalidError(f"{where}: coordinates must be finite numbers")
    if len(numbers) % 2 or len(numbers) < 6:
        raise FrigateConfigInvalidError(f"{where}: a zone needs at least 3 x,y points, got {len(numbers)} numbers")
    return numbers


def normalised_polygon(
    coordinates: str | list[str | list[float]], frame_width: int, frame_height: int, where: str = "zone"
) -> tuple[list[list[float]], int]:
    """(polygon in frame coordinates 0-1 as [[x, y], ...] of at most MAX_POLYGON_POINTS points, points in the
    config). Pixel coordinates (any value above 1, Frigate before 0.14) are divided by the detect size; every
    point is clamped to the frame and rounded to 4 decimals (0.1 pixel at 1280 across). Raises
    :class:`FrigateConfigInvalidError` naming ``where``."""
    numbers = _numbers(coordinates, where)
    if any(n < 0 for n in numbers):
        raise FrigateConfigInvalidError(f"{where}: negative coordinates")
    pixels = any(n > 1.0 for n in numbers)
    scale_x, scale_y = (float(frame_width), float(frame_height)) if pixels else (1.0, 1.0)
    points = [
        [round(min(numbers[i] / scale_x, 1.0), 4), round(min(numbers[i + 1] / scale_y, 1.0), 4)]
        for i in range(0, len(numbers), 2)
    ]
    count = len(points)
    if count > MAX_POLYGON_POINTS:
        points = [points[i * count // MAX_POLYGON_POINTS] for i in range(MAX_POLYGON_POINTS)]
    return points, count


class _PlannedZone(BaseModel):
    zone_id: str
    frigate_name: str
    name: str
    polygon: list[list[float]]
    points_in_config: int


class _PlannedCamera(BaseModel):
    camera_id: str
    frigate_name: str
    name: str
    frame_width: int
    frame_height: int
    frame_defaulted: bool
    zones: list[_PlannedZone]


def _plan(config: _Config, default_frame: tuple[int, int]) -> list[_PlannedCamera]:
    """Everything to write, checked before anything is written."""
    cameras = []
    seen: dict[str, str] = {}
    for frigate_name, camera in config.cameras.items():
        camera_id = as_identifier(frigate_name, fallback="camera")
        if camera_id in seen:  # only a digest clash could do this
            raise FrigateConfigInvalidError(f"cameras {seen[camera_id]!r} and {frigate_name!r} share id {camera_id!r}")
        seen[camera_id] = frigate_name
        width, height = camera.detect.width, camera.detect.height
        defaulted = width is None or height is None
        width, height = (width or default_frame[0], height or default_frame[1])
        zones = []
        for zone_name, zone in camera.zones.items():
            where = f"cameras.{frigate_name}.zones.{zone_name}.coordinates"
            polygon, count = normalised_polygon(zone.coordinates, width, height, where)
            zone_id = as_identifier(zone_name)
            zones.append(
                _PlannedZone(
                    zone_id=zone_id,
                    frigate_name=zone_name,
                    name=display_name(zone.friendly_name or zone_name) or zone_id,
                    polygon=polygon,
                    points_in_config=count,
                )
            )
        readable = camera.friendly_name or frigate_name.replace("_", " ").title()
        cameras.append(
            _PlannedCamera(
                camera_id=camera_id,
                frigate_name=frigate_name,
                name=display_name(readable) or camera_id,
                frame_width=width,
                frame_height=height,
                frame_defaulted=defaulted,
                zones=zones,
            )
        )
    for planned in cameras:  # written in key order: see ensure_zones (concurrent writers lock rows in one order)
        planned.zones.sort(key=lambda zone: zone.zone_id)
    return sorted(cameras, key=lambda planned: planned.camera_id)


async def _set_types(
    sessions: async_sessionmaker[AsyncSession], cameras: list[_PlannedCamera]
) -> dict[tuple[str, str], ZoneType]:
    """(camera id, zone id) -> type, for the planned zones that exist with a type that was set."""
    pairs = {(camera.camera_id, zone.zone_id) for camera in cameras for zone in camera.zones}
    if not pairs:
        return {}
    async with sessions() as session:
        rows = await session.execute(
            select(Zone.camera_id, Zone.zone_id, Zone.zone_type).where(
                Zone.camera_id.in_({camera_id for camera_id, _ in pairs}), Zone.zone_type_source == "set"
            )
        )
        return {
            (row.camera_id, row.zone_id): cast(ZoneType, row.zone_type)
            for row in rows
            if (row.camera_id, row.zone_id) in pairs
        }


async def _guess_types(names: list[str]) -> dict[str, ZoneType]:
    """name -> guessed type, off the event loop (the model's first load takes seconds)."""
    guesses = await asyncio.to_thread(lambda: [guess_zone_type(name) for name in names])
    return dict(zip(names, guesses, strict=True))


async def import_frigate_config(
    sessions: async_sessionmaker[AsyncSession],
    frigate_url: str,
    http: httpx.AsyncClient | None = None,
    *,
    default_frame: tuple[int, int] = DEFAULT_FRAME,
) -> ImportReport:
    """Reads ``{frigate_url}/api/config`` and upserts its cameras and zones (module docstring), in one
    transaction. ``http``: the client to use (a new one with a 10 s timeout otherwise); ``default_frame``:
    (width, height) in pixels for a camera whose config gives no detect size (pass FRIGATE_DETECT_WIDTH/HEIGHT).
    Idempotent: importing the same config again changes nothing. Raises :class:`FrigateUnreachableError` or
    :class:`FrigateConfigInvalidError` before anything is written; a database error rolls everything back."""
    planned = _plan(_parse(await fetch_frigate_config(frigate_url, http)), default_frame)
    kept = await _set_types(sessions, planned)
    guesses = await _guess_types(
        sorted({z.frigate_name for c in planned for z in c.zones if (c.camera_id, z.zone_id) not in kept})
    )
    report = []
    async with sessions() as session, session.begin():
        dialect = (await session.connection()).dialect.name
        add_camera = insert_ignoring_conflicts(dialect, table_of(Camera), ("id",))
        add_zone = insert_ignoring_conflicts(dialect, table_of(Zone), ("camera_id", "zone_id"))
        for camera in planned:
            frame = {"frame_width": camera.frame_width, "frame_height": camera.frame_height}
            await session.execute(
                add_camera, [{"id": camera.camera_id, "name": camera.name, "created_at": utcnow(), **frame}]
            )
            await session.execute(update(Camera).where(Camera.id == camera.camera_id).values(**frame))
            zones = []
            for zone in camera.zones:
                kept_type = kept.get((camera.camera_id, zone.zone_id))
                zone_type = kept_type or guesses[zone.frigate_name]
                row = {"camera_id": camera.camera_id, "zone_id": zone.zone_id, "name": zone.name}
                await session.execute(
                    add_zone,
                    [{**row, "zone_type": zone_type, "polygon": zone.polygon, "zone_type_source": "guessed"}],
                )
                key = (Zone.camera_id == camera.camera_id, Zone.zone_id == zone.zone_id)
                await session.execute(update(Zone).where(*key).values(polygon=zone.polygon))
                await session.execute(  # only where the type is not set (a PATCH meanwhile included)
                    update(Zone).where(*key, Zone.zone_type_source != "set").values(name=zone.name, zone_type=zone_type)
                )
                zones.append(
                    ImportedZone(
                        zone_id=zone.zone_id,
                        name=zone.name,
                        zone_type=zone_type,
                        type_kept=kept_type is not None,
                        points=len(zone.polygon),
                        points_in_config=zone.points_in_config,
                    )
                )
            report.append(
                ImportedCamera(
                    camera_id=camera.camera_id,
                    frigate_name=camera.frigate_name,
                    frame_width=camera.frame_width,
                    frame_height=camera.frame_height,
                    frame_defaulted=camera.frame_defaulted,
                    zones=tuple(zones),
                )
            )
    return ImportReport(frigate_url=frigate_url, cameras=tuple(report))
