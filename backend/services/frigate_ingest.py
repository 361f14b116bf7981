"""Frigate in: its MQTT messages become stored detections, closed batches, captions and re-assessments.

``FrigateIngest.handle(message)`` is the handler the MQTT link (``backend.services.mqtt_link``) calls for each
message of ``<FRIGATE_TOPIC_PREFIX>/events``, ``/reviews``, ``/tracked_object_update`` and 0.14's
``/event_update`` (:data:`TOPICS`; other topics are counted and ignored). The link hands messages over one at a
time, in the order received. Message shapes and their translation: ``backend.domain.frigate`` (Frigate 0.14 to
0.17).

* **events** (a tracked object's new/update/end state): the ``after`` state is one detection, its id the key
  ``"<Frigate id>:<frame_time>"`` (``detection_key``). A camera seen for the first time is created (id from its
  name, ``camera_identifier``; frame FRIGATE_DETECT_WIDTH x FRIGATE_DETECT_HEIGHT, Frigate's detect
  resolution; an existing camera is left as it is); ``current_zones`` become zone ids through
  ``zones.ensure_zones`` (zones known by name only, created on first sight). The detection is stored through
  ``ingest.ingest_detections``, the REST API's path, so batching, the fast path, clipping to the frame and the
  analysis work as for posted detections. What a ``tracked_object_update`` gave the object earlier (caption,
  face, plate) is carried to the new detection when the message lacks it. Skipped, never an error: a key
  already stored (a repeat, a re-delivery after a broker restart, a duplicate out-of-order update: one row per
  frame), a ``false_positive`` object. An out-of-order update of an older frame not stored yet is stored as
  the frame it is (its own ``detected_at``). A box wholly outside the camera's frame (the camera's frame is not
  Frigate's detect resolution) is dropped and the detection stored without it (logged, ``boxes_dropped``).
* **reviews**: on ``type`` "end", the open batches holding detections of the review's tracked objects
  (``data.detections``) are closed at once (``Batcher.close_now``) and analysed, instead of waiting for the
  idle or window timer. Those objects are then *reviewed*: a later events message of one of them (its "end",
  a late update) is stored as history only (``analyze=False``: no batch, no fast path), so the review's end
  does not open a batch of its own for the object's last frames. A later review "new"/"update" naming the
  object (it moves again) makes its detections analysed again. A review end whose objects we never stored
  does nothing. The reviewed set lives in this process (the last ``memory`` objects): after a restart a late
  update opens an ordinary batch.
* **tracked_object_update** (and 0.14's ``<prefix>/event_update``, a description without a ``type``):
  ``description`` (GenAI) becomes ``enrichment.vision.caption`` (untrusted text,
  cut to 500 characters); ``face`` sets ``enrichment.face`` (``matched_name`` the name unless "unknown");
  ``lpr`` sets ``enrichment.license_plate`` (and a known plate's name ``vision.attributes["known_vehicle"]``).
  The object's stored detections are updated (their enrichment JSON) and its later ones inherit it; an update
  for an object with nothing stored yet waits in memory for its first detection. Then, for each batch of those
  detections whose content changed: still open, nothing (its analysis reads the detections when it closes);
  closed and being analysed, its event is re-assessed once stored (we cannot tell whether the analysis read the
  update: it may have loaded the batch before); analysed, its event is re-assessed
  (``AnalysisDispatcher.reassess``: the same event row, announced as an update; a ``not_assessed`` event needs
  nothing, its retry reads the detections as they are then; ``failed`` is terminal). Fast-path events of those
  detections are re-assessed likewise. Re-assessments of one batch never run concurrently: a request while one
  runs makes it run once more after.

Every handler is idempotent and never raises: a payload over 1 MB, malformed JSON or a message without what it
needs is logged and skipped (``malformed``), an unexpected error is logged with the topic and skipped
(``errors``); the link's next message goes on. A storage outage while a message is handled loses that message
(logged): the broker has already delivered it. ``stats()`` gives the counters for /health.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.config.settings import BackendSettings
from backend.domain.errors import StorageUnavailableError
from backend.domain.frigate import (
    FrigateEventMessage,
    FrigateMessageError,
    FrigateObjectUpdate,
    FrigateReviewMessage,
    camera_identifier,
    clean_text,
    decode_payload,
    detection_key,
    face_match,
    object_key,
    parse_event,
    parse_object_update,
    parse_review,
    plate_read,
    to_detection,
)
from backend.domain.scenario import DetectionIn, Enrichment, Face, LicensePlate, Vision
from backend.models import Batch, BatchStatus, Camera, Detection, table_of, utcnow
from backend.services.background import BackgroundTasks
from backend.services.batcher import Batcher
from backend.services.event_store import fast_path_key, insert_ignoring_conflicts
from backend.services.ingest import (
    BoxesOutsideFrame,
    DuplicateDetections,
    FastPathRule,
    IngestResult,
    UnknownCameras,
    ingest_detections,
)
from backend.services.mqtt_link import MQTTMessage
from backend.services.outages import storage_outage
from backend.services.zones import ensure_zones

logger = logging.getLogger(__name__)

Reassess = Callable[[str], Awaitable[None]]
K = TypeVar("K")
V = TypeVar("V")

REVIEW_CLOSE_REASON = "frigate_review_end"
MAX_CLOCK_AHEAD_SECONDS = 300.0  # a frame_time this far past our clock is refused (Frigate and we both run NTP)
KINDS = ("events", "reviews", "tracked_object_update")
# Frigate 0.14 published GenAI descriptions as {"id", "description"} on <prefix>/event_update (renamed
# tracked_object_update, with a "type", in 0.15: PR blakeblackshear/frigate#15055)
LEGACY_DESCRIPTION_TOPIC = "event_update"
TOPICS = (*KINDS, LEGACY_DESCRIPTION_TOPIC)  # the topics to subscribe to, under FRIGATE_TOPIC_PREFIX


class _Recent(Generic[K, V]):
    """A dict that keeps its last ``size`` keys (least recently set dropped first)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def __setitem__(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def pop(self, key: K) -> V | None:
        return self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items


@dataclass(frozen=True)
class _Notes:
    """What tracked_object_update messages said of an object: applied to its stored and later detections."""

    caption: str | None = None
    face: Face | None = None
    plate: LicensePlate | None = None
    known_vehicle: str | None = None

    def merged(self, newer: _Notes) -> _Notes:
        return _Notes(
            caption=newer.caption or self.caption,
            face=newer.face or self.face,
            plate=newer.plate or self.plate,
            known_vehicle=newer.known_vehicle or self.known_vehicle,
        )

    def apply(self, enrichment: Enrichment, *, overwrite: bool) -> Enrichment:
        """``enrichment`` with these notes; ``overwrite`` False keeps what it has (a newer message's own face or
        plate wins over an older update's)."""
        changes: dict[str, Any] = {}
        vision = enrichment.vision or Vision()
        vision_changes: dict[str, Any] = {}
        if self.caption and vision.caption != self.caption and (overwrite or not vision.caption):
            vision_changes["caption"] = self.caption
        known = vision.attributes.get("known_vehicle")
        if self.known_vehicle and known != self.known_vehicle and (overwrite or known is None):
            vision_changes["attributes"] = {**vision.attributes, "known_vehicle": self.known_vehicle}
        if vision_changes:
            changes["vision"] = vision.model_copy(update=vision_changes)
        if self.face and enrichment.face != self.face and (overwrite or enrichment.face is None):
            changes["face"] = self.face
        if self.plate and enrichment.license_plate != self.plate and (overwrite or enrichment.license_plate is None):
            changes["license_plate"] = self.plate
        return enrichment.model_copy(update=changes) if changes else enrichment


def _notes_of(update: FrigateObjectUpdate) -> _Notes | None:
    """The notes of a description, face or lpr update; None for another type (0.17's classification, newer)."""
    if update.type == "description":
        return _Notes(caption=update.description)
    if update.type == "face" and update.name is not None:
        return _Notes(face=face_match(update.name, update.score))
    if update.type == "lpr" and update.plate is not None:
        name = update.name if update.name and update.name.strip().casefold() not in {"unknown", "none"} else None
        return _Notes(plate=plate_read(update.plate, update.score), known_vehicle=name)
    return None


_APPLIED_STAT = {"description": "captions_applied", "face": "faces_applied", "lpr": "plates_applied"}


class FrigateIngest:
    """Turns Frigate's MQTT messages into detections (see the module docstring).

    ``sessions``: the database; ``batcher`` and ``rule``: as the REST ingest uses them; ``settings``:
    FRIGATE_TOPIC_PREFIX, FRIGATE_DETECT_WIDTH/HEIGHT and TIMEZONE (``home_zone()``: Frigate's epoch seconds
    become the home's local time); ``reassess``: ``AnalysisDispatcher.reassess`` (None: no re-assessments).
    ``caption_wait_seconds``/``poll_seconds``: how long and how often to wait for a closed batch's event before
    re-assessing it; ``memory``: how many objects the in-process sets remember.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        batcher: Batcher,
        rule: FastPathRule,
        settings: BackendSettings,
        *,
        reassess: Reassess | None = None,
        caption_wait_seconds: float = 900.0,
        poll_seconds: float = 1.0,
        memory: int = 10_000,
    ) -> None:
        self._sessions = sessions
        self._batcher = batcher
        self._rule = rule
        self._settings = settings
        self._reassess = reassess
        self._wait = caption_wait_seconds
        self._poll = poll_seconds
        self._home_zone = settings.home_zone()
        prefix = settings.frigate_topic_prefix.strip("/")
        self._topics = {f"{prefix}/{kind}": kind for kind in KINDS}
        self._topics[f"{prefix}/{LEGACY_DESCRIPTION_TOPIC}"] = "tracked_object_update"  # Frigate 0.14
        self._counters: Counter[str] = Counter()
        self._messages: Counter[str] = Counter(dict.fromkeys((*KINDS, "other"), 0))
        self._cameras: set[str] = set()  # cameras known to exist
        self._zones: dict[str, dict[str, str]] = {}  # camera id -> Frigate zone name -> zone id
        self._camera_of: _Recent[str, str] = _Recent(memory)  # object key -> camera id
        self._reviewed: _Recent[str, bool] = _Recent(memory)  # object keys whose review ended
        self._pending: _Recent[str, _Notes] = _Recent(memory)  # notes of objects with nothing stored yet
        self._reassessing: set[str] = set()
        self._again: set[str] = set()
        self._waiting: set[str] = set()
        self._tasks = BackgroundTasks(logger)  # re-assessments log their own failures

    # --- the handler -----------------------------------------------------------------------------------------

    async def handle(self, message: MQTTMessage) -> None:
        """Handles one MQTT message (see the module docstring). Raises only ``StorageUnavailableError`` (the
        database or Redis is down: the message is not handled, and handling it again later is safe, every step
        being idempotent) and cancellation; anything else is logged and counted."""
        kind = self._topics.get(message.topic, "other")
        self._messages[kind] += 1
        if kind == "other":
            return
        try:
            data = decode_payload(message.payload, message.topic)
            if kind == "events":
                await self._on_event(parse_event(data), message.received_at)
            elif kind == "reviews":
                await self._on_review(parse_review(data))
            else:
                if message.topic.endswith(f"/{LEGACY_DESCRIPTION_TOPIC}"):
                    data.setdefault("type", "description")
                await self._on_object_update(parse_object_update(data))
        except FrigateMessageError as exc:
            self._counters["malformed"] += 1
            logger.warning(
                "Frigate message skipped",
                extra={"topic": message.topic, "bytes": len(message.payload), "error": str(exc)},
            )
        except Exception as exc:
            outage = exc if isinstance(exc, StorageUnavailableError) else storage_outage(exc)
            if outage is not None:  # not this message's fault: the caller retries it once storage is back
                self._counters["storage_outages"] += 1
                raise outage from exc
            self._counters["errors"] += 1
            logger.exception(
                "Frigate message failed", extra={"topic": message.topic, "error": f"{type(exc).__name__}: {exc}"}
            )

    def stats(self) -> dict[str, Any]:
        """Counters for /health: ``messages`` by kind (events, reviews, tracked_object_update, other), ``stored``
        (of them ``history_only``), ``duplicates``, ``false_positives``, ``malformed``, ``errors``,
        ``boxes_dropped``, ``batches_closed_by_review``, ``captions_applied``, ``faces_applied``,
        ``plates_applied``, ``updates_pending`` (for objects not stored yet), ``updates_ignored`` (other update
        types), ``reassessments`` (run), ``reassessments_failed``."""
        names = (
            "stored",
            "history_only",
            "duplicates",
            "false_positives",
            "malformed",
            "errors",
            "storage_outages",
            "boxes_dropped",
            "batches_closed_by_review",
            "captions_applied",
            "faces_applied",
            "plates_applied",
            "updates_pending",
            "updates_ignored",
            "reassessments",
            "reassessments_failed",
        )
        return {"messages": dict(self._messages), **{name: self._counters[name] for name in names}}

    async def drain(self) -> None:
        """Waits for the background work started so far (re-assessments and the waits before them)."""
        await self._tasks.drain()

    async def stop(self) -> None:
        """Cancels the background work (a re-assessment cut short leaves its event to the retry loop)."""
        await self._tasks.stop()

    # --- frigate/events --------------------------------------------------------------------------------------

    async def _on_event(self, message: FrigateEventMessage, received_at: datetime) -> None:
        obj = message.after
        if obj.false_positive:
            self._counters["false_positives"] += 1
            return
        if obj.frame_time > received_at.timestamp() + MAX_CLOCK_AHEAD_SECONDS:
            # a frame from the future (a clock jump, a forged message) would pin "the newest event" of its camera
            raise FrigateMessageError(
                f"frame_time {obj.frame_time:.0f} is more than {MAX_CLOCK_AHEAD_SECONDS:.0f} s ahead of this clock"
            )
        camera_id = camera_identifier(obj.camera)
        key = detection_key(obj.id, obj.frame_time)
        owner = object_key(obj.id)
        self._camera_of[owner] = camera_id
        if await self._is_stored(camera_id, key):
            self._counters["duplicates"] += 1
            logger.debug("Frigate detection already stored", extra={"camera_id": camera_id, "detection_id": key})
            return
        await self._ensure_camera(camera_id, obj.camera)
        zone_ids = await self._zone_ids(camera_id, obj.current_zones or ())
        detection = to_detection(obj, zone_ids=zone_ids, home_zone=self._home_zone)
        detection = await self._with_notes(camera_id, owner, detection)
        analyze = owner not in self._reviewed
        result = await self._ingest(camera_id, obj.camera, detection, analyze=analyze)
        if result is not None:
            logger.info(
                "Frigate detection stored",
                extra={
                    "camera_id": camera_id,
                    "detection_id": key,
                    "frigate_type": message.type,
                    "object_type": detection.object_type,
                    "analyze": analyze,
                    "batch_ids": result.batch_ids,
                },
            )

    async def _is_stored(self, camera_id: str, key: str) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(
                select(Detection.id).where(Detection.camera_id == camera_id, Detection.detection_id == key)
            )
        return found is not None

    async def _ensure_camera(self, camera_id: str, name: str) -> None:
        """Creates the camera at Frigate's detect resolution unless it exists (ON CONFLICT DO NOTHING)."""
        if camera_id in self._cameras:
            return
        row = {
            "id": camera_id,
            "name": clean_text(name) or camera_id,
            "frame_width": self._settings.frigate_detect_width,
            "frame_height": self._settings.frigate_detect_height,
            "created_at": utcnow(),
        }
        async with self._sessions() as session:
            dialect = session.get_bind().dialect.name
            await session.execute(insert_ignoring_conflicts(dialect, table_of(Camera), ("id",)), [row])
            await session.commit()
        self._cameras.add(camera_id)

    async def _zone_ids(self, camera_id: str, names: Iterable[str]) -> dict[str, str]:
        """Frigate zone name -> our zone id, creating the zones not known yet (``ensure_zones``)."""
        known = self._zones.setdefault(camera_id, {})
        missing = [name for name in names if name not in known]
        if missing:
            async with self._sessions() as session:
                known.update(await ensure_zones(session, camera_id, missing))
        return known

    async def _with_notes(self, camera_id: str, owner: str, detection: DetectionIn) -> DetectionIn:
        """The detection with what earlier updates said of its object (its latest stored detection's caption, face
        and plate, or notes waiting for its first detection), where the message itself says nothing."""
        async with self._sessions() as session:
            stored = await session.scalar(
                select(Detection.enrichment)
                .where(Detection.camera_id == camera_id, Detection.external_id == owner)
                .order_by(Detection.detected_at.desc(), Detection.id.desc())
                .limit(1)
            )
        notes = self._pending.get(owner) or _Notes()
        if stored:
            earlier = Enrichment.model_validate(stored)
            notes = notes.merged(
                _Notes(
                    caption=earlier.vision.caption if earlier.vision else None,
                    face=earlier.face,
                    plate=earlier.license_plate,
                )
            )
        enrichment = notes.apply(detection.enrichment, overwrite=False)
        if enrichment is detection.enrichment:
            return detection
        return detection.model_copy(update={"enrichment": enrichment})

    async def _ingest(
        self, camera_id: str, camera_name: str, detection: DetectionIn, *, analyze: bool
    ) -> IngestResult | None:
        """Stores through the REST API's path; None when the key was stored meanwhile."""
        for _ in range(3):
            try:
                async with self._sessions() as session:
                    result = await ingest_detections(
                        session, self._batcher, [(camera_id, detection)], self._rule, analyze=analyze
                    )
            except DuplicateDetections:
                self._counters["duplicates"] += 1
                return None
            except BoxesOutsideFrame as exc:
                width, height = exc.frames.get(camera_id, (0, 0))
                logger.warning(
                    "Frigate box outside the camera's frame: stored without it (set the camera's frame to Frigate's "
                    "detect resolution)",
                    extra={"camera_id": camera_id, "detection_id": detection.id, "frame": f"{width}x{height}"},
                )
                self._counters["boxes_dropped"] += 1
                detection = detection.model_copy(update={"bbox": None})
            except UnknownCameras:  # deleted since we saw it: create it again
                self._cameras.discard(camera_id)
                self._zones.pop(camera_id, None)
                await self._ensure_camera(camera_id, camera_name)
            else:
                self._counters["stored"] += 1
                if not analyze:
                    self._counters["history_only"] += 1
                self._pending.pop(detection.external_id or "")
                return result
        raise RuntimeError(f"detection {detection.id!r} of camera {camera_id!r} could not be stored")

    # --- frigate/reviews -------------------------------------------------------------------------------------

    async def _on_review(self, message: FrigateReviewMessage) -> None:
        review = message.after
        owners = list(dict.fromkeys(object_key(i) for i in review.data.detections))
        if message.type != "end":
            for owner in owners:  # the object is part of an ongoing review (again): analyse its detections
                self._reviewed.pop(owner)
            return
        if not owners:
            return
        camera_id = camera_identifier(review.camera)
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(Detection.external_id, Detection.batch_id, Batch.status)
                    .outerjoin(Batch, Batch.id == Detection.batch_id)
                    .where(Detection.camera_id == camera_id, Detection.external_id.in_(owners))
                    .distinct()
                )
            ).all()
        for stored_owner, _, _ in rows:
            if stored_owner is not None:
                self._reviewed[stored_owner] = True
        open_batches = sorted({batch_id for _, batch_id, status in rows if batch_id and status == BatchStatus.OPEN})
        if not open_batches:
            return
        closed = await self._batcher.close_now([(camera_id, b) for b in open_batches], REVIEW_CLOSE_REASON)
        self._counters["batches_closed_by_review"] += len(closed)
        logger.info(
            "Frigate review ended: batches closed",
            extra={"camera_id": camera_id, "review_id": review.id, "batch_ids": closed, "objects": len(owners)},
        )

    # --- frigate/tracked_object_update -----------------------------------------------------------------------

    async def _on_object_update(self, update_message: FrigateObjectUpdate) -> None:
        notes = _notes_of(update_message)
        if notes is None:
            self._counters["updates_ignored"] += 1
            return
        owner = object_key(update_message.id)
        camera_id = camera_identifier(update_message.camera) if update_message.camera else self._camera_of.get(owner)
        async with self._sessions() as session:
            query = select(
                Detection.id, Detection.camera_id, Detection.detection_id, Detection.enrichment, Detection.batch_id
            ).where(Detection.external_id == owner)
            if camera_id is not None:
                query = query.where(Detection.camera_id == camera_id)
            else:  # a 0.14/0.15 description names no camera: every camera's (camera_id, external_id) index
                query = query.where(Detection.camera_id.in_(select(Camera.id).scalar_subquery()))
            rows = (await session.execute(query.add_columns(Detection.fast_path))).all()
            changed: list[tuple[str, str, str | None, bool]] = []
            for pk, row_camera, detection_id, stored, batch_id, fast in rows:
                before = Enrichment.model_validate(stored)
                after = notes.apply(before, overwrite=True)
                if after is before:
                    continue
                await session.execute(
                    update(Detection)
                    .where(Detection.id == pk)
                    .values(enrichment=after.model_dump(mode="json", exclude_unset=True))
                    .execution_options(synchronize_session=False)
                )
                changed.append((row_camera, detection_id, batch_id, fast))
            await session.commit()
        if not rows:
            previous = self._pending.get(owner)
            self._pending[owner] = previous.merged(notes) if previous else notes
            self._counters["updates_pending"] += 1
            logger.info(
                "Frigate update for an object not stored yet: kept for its first detection",
                extra={"object_id": owner, "update_type": update_message.type},
            )
            return
        if not changed:
            return  # a repeat: nothing new
        self._counters[_APPLIED_STAT[update_message.type]] += 1
        logger.info(
            "Frigate update applied",
            extra={"object_id": owner, "update_type": update_message.type, "detections": len(changed)},
        )
        batches = sorted({batch_id for _, _, batch_id, _ in changed if batch_id})
        fast_keys = sorted({fast_path_key(cam, detection_id) for cam, detection_id, _, fast in changed if fast})
        await self._after_change(batches, fast_keys)

    async def _after_change(self, batch_ids: Sequence[str], fast_keys: Sequence[str]) -> None:
        """Re-assessments for the batches whose detections changed (see the module docstring)."""
        if self._reassess is None:
            return
        for key in fast_keys:
            self._request_reassess(key)
        if not batch_ids:
            return
        async with self._sessions() as session:
            statuses = dict(
                (await session.execute(select(Batch.id, Batch.status).where(Batch.id.in_(batch_ids)))).all()
            )
        for batch_id in batch_ids:
            status = statuses.get(batch_id)
            if status == BatchStatus.ANALYZED:
                self._request_reassess(batch_id)
            elif status == BatchStatus.CLOSED and batch_id not in self._waiting:
                self._waiting.add(batch_id)
                self._spawn(self._reassess_when_analyzed(batch_id))
            # open: its analysis reads the detections when it closes; failed: delivery gave up

    async def _reassess_when_analyzed(self, batch_id: str) -> None:
        """Waits (polling) for a closed batch's event, then has it re-assessed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        try:
            while True:
                async with self._sessions() as session:
                    status = await session.scalar(select(Batch.status).where(Batch.id == batch_id))
                if status == BatchStatus.ANALYZED:
                    self._request_reassess(batch_id)
                    return
                if status != BatchStatus.CLOSED or loop.time() >= deadline:
                    return
                await asyncio.sleep(self._poll)
        finally:
            self._waiting.discard(batch_id)

    def _request_reassess(self, key: str) -> None:
        if key in self._reassessing:
            self._again.add(key)  # runs once more after the current one: it may have read the old detections
            return
        self._reassessing.add(key)
        self._spawn(self._run_reassess(key))

    async def _run_reassess(self, key: str) -> None:
        assert self._reassess is not None  # only requested when set
        try:
            while True:
                self._again.discard(key)
                try:
                    await self._reassess(key)
                    self._counters["reassessments"] += 1
                except Exception as exc:
                    self._counters["reassessments_failed"] += 1
                    logger.warning(
                        "re-assessment failed", extra={"batch_id": key, "error": f"{type(exc).__name__}: {exc}"}
                    )
                if key not in self._again:
                    return
        finally:
            self._reassessing.discard(key)

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        self._tasks.spawn(work)
