"""Frigate's MQTT messages in (backend.domain.frigate, backend.services.frigate_ingest), without a broker.

Messages come from the per-version fixtures (tests/fixtures/frigate/<version>/mqtt_session.json, written from
Frigate's MQTT docs and source for 0.14 to 0.17) and are handed to ``FrigateIngest.handle`` as the MQTT link
would. Storage is real (SQLite and PostgreSQL); the analyzer is a stub that reads each batch as the real one does
(``history.load_batch_scenario``) and writes the captions it read into the event's summary, so a test can see
whether a description reached the analysis. The batch timers never run: only Frigate's review end closes
batches here.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from backend.api.schemas.events import event_message
from backend.config.settings import BackendSettings
from backend.db.session import run_unit_of_work
from backend.domain.errors import LLMAnswerUnusableError, LLMUnavailableError
from backend.domain.frigate import (
    FrigateMessageError,
    decode_payload,
    detection_key,
    object_key,
    parse_event,
    parse_object_update,
    parse_review,
    to_detection,
    track_id_for,
)
from backend.domain.scenario import DetectionIn, ScenarioInput
from backend.models import Batch, Camera, Detection, Event, Zone
from backend.services.analysis_dispatch import AnalysisDispatcher
from backend.services.batch_state import BatchRules, MemoryBatchState
from backend.services.batcher import Batcher
from backend.services.event_store import Assessed, save_event
from backend.services.frigate_ingest import FrigateIngest
from backend.services.history import load_batch_scenario
from backend.services.ingest import FastPathRule
from backend.services.mqtt_link import MQTTMessage
from tests.backend.helpers import FakeClock, StubAnalyzer

Sessions = async_sessionmaker[AsyncSession]
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "frigate"
VERSIONS = ("0.14", "0.15", "0.16", "0.17")
PARIS = ZoneInfo("Europe/Paris")
RULES = BatchRules(window_seconds=90, idle_seconds=30, max_detections=50)
NO_FAST_PATH = FastPathRule(threshold=0.95, object_types=frozenset({"knife"}))
LEASE = 300.0


def session_of(version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / version / "mqtt_session.json").read_text())
    return data


def messages_of(version: str, suffix: str | None = None) -> list[dict[str, Any]]:
    return [m for m in session_of(version)["messages"] if suffix is None or m["topic"].endswith(suffix)]


def events_of(version: str, label: str) -> list[dict[str, Any]]:
    """The frigate/events payloads of the fixture's objects with ``label``, in order."""
    return [m["payload"] for m in messages_of(version, "/events") if m["payload"]["after"]["label"] == label]


def mqtt(topic: str, payload: Any, *, retain: bool = False) -> MQTTMessage:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return MQTTMessage(topic, body, retain=retain)


def same_names(names: list[str]) -> dict[str, str]:
    return {name: name for name in names}


# --- the analyzer stand-in ----------------------------------------------------------------------------------------


class ReadingAnalyzer(StubAnalyzer):
    """Reads the batch as ``NemotronAnalyzer`` does (``load_batch_scenario``) and stores an assessment whose summary
    lists the captions it read; ``fail_next`` makes the next analyses raise that error."""

    def __init__(self, sessions: Sessions) -> None:
        super().__init__(sessions)
        self.seen: list[ScenarioInput] = []
        self.fail_next: list[Exception] = []
        self.loaded = asyncio.Event()  # set once an analysis has read its batch
        self.gate: asyncio.Event | None = None  # when set: analyses wait for it after reading their batch

    async def analyze_batch(self, batch_id: str, camera_id: str, detection_ids: list[int]) -> Event:
        self.batch_calls.append((batch_id, camera_id, list(detection_ids)))
        if self.fail_next:
            raise self.fail_next.pop(0)

        def load(session: Session) -> ScenarioInput:
            return load_batch_scenario(session.connection(), camera_id, detection_ids)

        scenario = await run_unit_of_work(self.sessions, load)
        self.seen.append(scenario)
        self.loaded.set()
        if self.gate is not None:
            await self.gate.wait()
        captions = sorted(
            {
                d.enrichment.vision.caption
                for d in scenario.detections
                if d.enrichment.vision and d.enrichment.vision.caption
            }
        )
        return await run_unit_of_work(
            self.sessions,
            save_event,
            batch_id=batch_id,
            camera_id=camera_id,
            kind="batch",
            detection_pks=detection_ids,
            outcome=Assessed(risk_score=20, risk_level="low", summary=f"captions: {captions}", template="stub"),
        )


# --- the harness --------------------------------------------------------------------------------------------------


@dataclass
class Rig:
    sessions: Sessions
    clock: FakeClock
    analyzer: ReadingAnalyzer
    dispatcher: AnalysisDispatcher
    batcher: Batcher
    ingest: FrigateIngest
    published: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, topic: str, payload: Any, *, retain: bool = False) -> None:
        await self.ingest.handle(mqtt(topic, payload, retain=retain))

    async def replay(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            await self.send(message["topic"], message["payload"])

    async def settle(self) -> None:
        """Waits for analyses, then for the re-assessments they lead to."""
        await self.batcher.drain()
        await self.ingest.drain()
        await self.batcher.drain()

    async def rows(self, *, external_id: str | None = None) -> list[Detection]:
        async with self.sessions() as session:
            query = select(Detection).order_by(Detection.detected_at, Detection.id)
            if external_id is not None:
                query = query.where(Detection.external_id == external_id)
            return list((await session.scalars(query)).all())

    async def batches(self) -> list[Batch]:
        async with self.sessions() as session:
            return list((await session.scalars(select(Batch).order_by(Batch.opened_at, Batch.id))).all())

    async def events(self) -> list[Event]:
        async with self.sessions() as session:
            return list((await session.scalars(select(Event).order_by(Event.id))).all())


def make_settings(db_url: str, tmp_path: Path) -> BackendSettings:
    return BackendSettings(
        llm_trust_file=tmp_path / "model_trust.json",
        database_url=db_url,
        llm_url="http://127.0.0.1:9",
        batch_tick_seconds=3600,
        log_level="WARNING",
        timezone="Europe/Paris",
        frigate_topic_prefix="frigate",
    )


@pytest.fixture
async def rig(sessions: Sessions, db_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    clock = FakeClock()
    analyzer = ReadingAnalyzer(sessions)
    published: list[dict[str, Any]] = []

    async def publish(event: Event) -> None:
        published.append(event_message(event))

    dispatcher = AnalysisDispatcher(
        analyzer, sessions, publish, retry_base_seconds=10, lease_seconds=LEASE, clock=clock
    )
    batcher = Batcher(
        sessions,
        MemoryBatchState(RULES),
        RULES,
        on_batch_closed=dispatcher.on_batch_closed,
        on_fast_path=dispatcher.on_fast_path,
        analysis_lease_seconds=LEASE,
        clock=clock,
    )
    ingest = FrigateIngest(
        sessions,
        batcher,
        NO_FAST_PATH,
        make_settings(db_url, tmp_path),
        reassess=dispatcher.reassess,
        poll_seconds=0.01,
        caption_wait_seconds=30,
    )
    r = Rig(sessions, clock, analyzer, dispatcher, batcher, ingest, published)
    yield r
    await ingest.stop()
    await batcher.stop()


# --- translation, per version (no database) ----------------------------------------------------------------------


def translate(payload: dict[str, Any]) -> DetectionIn:
    obj = parse_event(payload).after
    return to_detection(obj, zone_ids=same_names(list(obj.current_zones or ())), home_zone=PARIS)


def test_translation_0_14_night_visitor() -> None:
    person = events_of("0.14", "person")
    first_update = person[1]["after"]
    d = translate(person[1])
    assert d.id == f"{first_update['id']}:{first_update['frame_time']:.6f}"
    assert d.external_id == first_update["id"]
    assert (d.detected_at.hour, d.detected_at.utcoffset()) == (3, timedelta(hours=2))  # July in Paris
    assert d.detected_at.timestamp() == pytest.approx(first_update["frame_time"])
    assert (d.object_type, d.confidence) == ("person", 0.84)
    assert d.bbox is not None and (d.bbox.x, d.bbox.y, d.bbox.width, d.bbox.height) == (540, 210, 112, 302)
    assert d.zones == ["patio"]
    assert d.enrichment.face is None  # a face seen, nobody named
    assert d.enrichment.vision is not None and d.enrichment.vision.attributes == {"face": "seen"}
    assert d.enrichment.dwell_seconds == pytest.approx(first_update["frame_time"] - first_update["start_time"])
    tracks = {translate(p).track_id for p in person}
    cat_tracks = {translate(p).track_id for p in events_of("0.14", "cat")}
    assert len(tracks) == 1 and len(cat_tracks) == 1 and tracks != cat_tracks
    assert tracks == {track_id_for(first_update["id"])}
    assert 0 <= track_id_for(first_update["id"]) < 2**31
    new = translate(person[0])
    assert new.zones == []  # Frigate said: in no zone (not "unknown")
    end = translate(person[-1])
    assert end.zones == ["back_door"] and end.id != d.id
    [legacy] = messages_of("0.14", "/event_update")
    assert "type" not in legacy["payload"]  # 0.14's description message: the service supplies the type


def test_translation_0_15_named_resident_and_plate_in_a_sub_label() -> None:
    person = translate(events_of("0.15", "person")[1])
    assert (person.detected_at.hour, person.detected_at.minute, person.detected_at.utcoffset()) == (
        3,
        0,
        timedelta(hours=1),
    )
    assert person.enrichment.face is not None
    assert (person.enrichment.face.matched_name, person.enrichment.face.confidence) == ("Alice", 0.91)
    assert person.zones == ["walkway", "porch"]
    car = translate(events_of("0.15", "car")[1])
    assert car.enrichment.license_plate is not None
    assert (car.enrichment.license_plate.text, car.enrichment.license_plate.confidence) == ("AB-123-CD", 1.0)
    assert car.enrichment.vision is not None and car.enrichment.vision.attributes == {"license_plate": "seen"}
    [description] = messages_of("0.15", "/tracked_object_update")
    update = parse_object_update(description["payload"])
    assert (update.type, update.camera) == ("description", None)  # 0.15 names no camera


def test_translation_0_16_plate_read_and_face_recognised() -> None:
    car = translate(events_of("0.16", "car")[1])
    assert car.detected_at.hour == 22
    assert car.enrichment.license_plate is not None
    assert (car.enrichment.license_plate.text, car.enrichment.license_plate.confidence) == ("KX482LM", 0.933451)
    assert car.zones == ["driveway"]
    person = translate(events_of("0.16", "person")[1])
    assert person.enrichment.face is not None
    assert (person.enrichment.face.matched_name, person.enrichment.face.confidence) == ("Bob", 0.88)
    kinds = [parse_object_update(m["payload"]).type for m in messages_of("0.16", "/tracked_object_update")]
    assert kinds == ["lpr", "face", "description"]


def test_translation_0_17_delivery_logos_and_plate_as_a_pair() -> None:
    van = translate(events_of("0.17", "car")[1])
    assert van.detected_at.hour == 14
    assert van.enrichment.license_plate is not None
    assert (van.enrichment.license_plate.text, van.enrichment.license_plate.confidence) == ("UPS4412", 0.84)
    assert van.enrichment.vision is not None
    assert van.enrichment.vision.attributes == {"logo": "ups", "license_plate": "seen"}
    courier = translate(events_of("0.17", "person")[1])
    assert courier.enrichment.vision is not None
    assert courier.enrichment.vision.attributes == {"logo": "amazon", "face": "seen"}
    assert courier.enrichment.face is None
    kinds = [parse_object_update(m["payload"]).type for m in messages_of("0.17", "/tracked_object_update")]
    assert kinds == ["classification", "description"]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_fixture_message_parses(version: str) -> None:
    for message in session_of(version)["messages"]:
        payload = decode_payload(json.dumps(message["payload"]).encode(), message["topic"])
        if message["topic"].endswith("/events"):
            assert len(translate(payload).id) <= 64
        elif message["topic"].endswith("/reviews"):
            assert parse_review(payload).after.data.detections
        else:
            payload.setdefault("type", "description")
            assert parse_object_update(payload).id


def test_keys_fit_identifiers_whatever_the_frigate_id() -> None:
    assert detection_key("1607123955.475377-mxklsc", 1607123962.0829751) == (
        "1607123955.475377-mxklsc:1607123962.082975"
    )
    odd = "a camera's object / with spaces and a very long id that no Frigate makes " * 2
    key = detection_key(odd, 1607123962.5)
    assert len(key) <= 64 and key.startswith("h-") and key == detection_key(odd, 1607123962.5)
    assert object_key(odd) != object_key(odd + "x")


def test_a_message_without_what_a_detection_needs_is_refused_with_the_field_named() -> None:
    payload = copy.deepcopy(events_of("0.16", "car")[0])
    del payload["after"]["frame_time"]
    with pytest.raises(FrigateMessageError, match=r"after\.frame_time"):
        parse_event(payload)
    payload = copy.deepcopy(events_of("0.16", "car")[0])
    payload["after"]["id"] = ""
    with pytest.raises(FrigateMessageError, match=r"after\.id"):
        parse_event(payload)
    payload = copy.deepcopy(events_of("0.16", "car")[0])
    payload["after"]["sub_label"] = {"unexpected": "shape"}  # an optional field of an odd shape reads as absent
    payload["after"]["attributes"] = 42
    assert parse_event(payload).after.sub_label is None


# --- the service: whole fixture sessions ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_fixture_session(rig: Rig, version: str) -> None:
    messages = messages_of(version)
    await rig.replay(messages)
    await rig.settle()
    stats = rig.ingest.stats()
    assert (stats["malformed"], stats["errors"], stats["duplicates"]) == (0, 0, 0)

    events = [m["payload"]["after"] for m in messages if m["topic"].endswith("/events")]
    rows = await rig.rows()
    assert sorted(r.detection_id for r in rows) == sorted(detection_key(e["id"], e["frame_time"]) for e in events)
    assert stats["stored"] == len(events)
    camera_names = {e["camera"] for e in events}
    async with rig.sessions() as session:
        cameras = (await session.scalars(select(Camera))).all()
        zones = {(z.camera_id, z.zone_id) for z in (await session.scalars(select(Zone))).all()}
    assert {(c.id, c.frame_width, c.frame_height) for c in cameras} == {(name, 1280, 720) for name in camera_names}
    assert {(e["camera"], z) for e in events for z in e["current_zones"]} <= zones
    by_key = {r.detection_id: r for r in rows}
    for e in events:
        row = by_key[detection_key(e["id"], e["frame_time"])]
        assert row.zones == e["current_zones"]
        assert row.local_hour == datetime.fromtimestamp(e["frame_time"], PARIS).hour

    # frames of an object whose review had ended are history only; the others went to batches that the review's
    # end closed (no timer ran) and that were analysed
    ended: set[str] = set()
    late: set[str] = set()
    for m in messages:
        if m["topic"].endswith("/reviews") and m["payload"]["type"] == "end":
            ended |= set(m["payload"]["after"]["data"]["detections"])
        elif m["topic"].endswith("/events") and m["payload"]["after"]["id"] in ended:
            late.add(detection_key(m["payload"]["after"]["id"], m["payload"]["after"]["frame_time"]))
    assert {r.detection_id for r in rows if r.batch_id is None} == late
    assert stats["history_only"] == len(late)
    assert stats["batches_closed_by_review"] >= 1
    assert all(b.status == "analyzed" for b in await rig.batches())
    analysed = {pk for _, _, pks in rig.analyzer.batch_calls for pk in pks}
    assert {r.id for r in rows if r.batch_id is not None} <= analysed

    # the GenAI description is the caption of every detection of its object, and the assessment saw it
    descriptions = [
        m["payload"]
        for m in messages
        if m["topic"].endswith(("/tracked_object_update", "/event_update"))
        and m["payload"].get("type", "description") == "description"
    ]
    assert descriptions
    for description in descriptions:
        own = await rig.rows(external_id=description["id"])
        assert own and {r.enrichment["vision"]["caption"] for r in own} == {description["description"]}
        batch_ids = {r.batch_id for r in own if r.batch_id is not None}
        for event in await rig.events():
            if event.batch_id in batch_ids:
                assert description["description"] in event.summary
                assert event.status == "assessed"
    assert stats["captions_applied"] == len(descriptions)


async def test_a_plate_and_a_face_from_updates_reach_the_stored_detections(rig: Rig) -> None:
    messages = messages_of("0.16")
    await rig.replay(messages)
    await rig.settle()
    car_id = events_of("0.16", "car")[0]["after"]["id"]
    person_id = events_of("0.16", "person")[0]["after"]["id"]
    car_rows = await rig.rows(external_id=car_id)
    # the lpr update (plate "KX482LM") arrived after the car's first frame: that frame has it too now
    assert [r.enrichment.get("license_plate", {}).get("text") for r in car_rows] == ["KX482LM"] * len(car_rows)
    person_rows = await rig.rows(external_id=person_id)
    assert [r.enrichment.get("face", {}).get("matched_name") for r in person_rows] == ["Bob"] * len(person_rows)
    stats = rig.ingest.stats()
    assert (stats["plates_applied"], stats["faces_applied"]) == (1, 1)


# --- the service: one behaviour at a time ---------------------------------------------------------------------------


async def test_repeats_and_redeliveries_store_once(rig: Rig) -> None:
    payload = events_of("0.15", "person")[1]
    for retain in (False, False, True):  # a repeat, and a re-delivery after a broker restart
        await rig.send("frigate/events", payload, retain=retain)
    rows = await rig.rows()
    assert len(rows) == 1
    stats = rig.ingest.stats()
    assert (stats["stored"], stats["duplicates"], stats["errors"]) == (1, 2, 0)
    assert stats["messages"]["events"] == 3


async def test_an_out_of_order_update_is_stored_once_as_its_own_frame(rig: Rig) -> None:
    person = events_of("0.14", "person")
    newer, older = person[2], person[1]
    await rig.send("frigate/events", newer)
    await rig.send("frigate/events", older)  # arrives late
    await rig.send("frigate/events", older)  # and once more
    rows = await rig.rows()
    assert [r.detection_id for r in rows] == [
        detection_key(older["after"]["id"], older["after"]["frame_time"]),
        detection_key(newer["after"]["id"], newer["after"]["frame_time"]),
    ]
    assert rows[0].detected_at < rows[1].detected_at
    stats = rig.ingest.stats()
    assert (stats["stored"], stats["duplicates"], stats["errors"]) == (2, 1, 0)


async def test_a_false_positive_is_ignored(rig: Rig) -> None:
    payload = copy.deepcopy(events_of("0.17", "person")[0])
    payload["after"]["false_positive"] = True
    await rig.send("frigate/events", payload)
    assert await rig.rows() == []
    assert await rig.batches() == []
    assert rig.ingest.stats()["false_positives"] == 1


async def test_review_end_closes_the_batch_at_once_and_later_frames_are_history(rig: Rig) -> None:
    person = events_of("0.15", "person")
    await rig.replay([{"topic": "frigate/events", "payload": p} for p in person[:2]])
    [batch] = await rig.batches()
    assert batch.status == "open"
    review_end = next(m for m in messages_of("0.15", "/reviews") if m["payload"]["type"] == "end")
    await rig.send(review_end["topic"], review_end["payload"])  # no timer has run, the clock has not moved
    [batch] = await rig.batches()
    assert batch.status != "open"
    await rig.settle()
    rows = await rig.rows()
    assert rig.analyzer.batch_calls == [(batch.id, "front_door", [r.id for r in rows])]
    assert [len(s.detections) for s in rig.analyzer.seen] == [2]
    [event] = await rig.events()
    assert (event.batch_id, event.status) == (batch.id, "assessed")

    await rig.send("frigate/events", person[2])  # the person's "end", after the review's: history only
    end_row = (await rig.rows())[-1]
    assert end_row.detection_id == detection_key(person[2]["after"]["id"], person[2]["after"]["frame_time"])
    assert end_row.batch_id is None
    assert len(await rig.batches()) == 1
    car = events_of("0.15", "car")[0]
    await rig.send("frigate/events", car)  # another object: a batch of its own
    [car_row] = await rig.rows(external_id=car["after"]["id"])
    statuses = {b.id: b.status for b in await rig.batches()}
    assert statuses == {batch.id: "analyzed", car_row.batch_id: "open"}
    assert rig.ingest.stats()["batches_closed_by_review"] == 1


async def test_a_review_end_for_objects_never_stored_does_nothing(rig: Rig) -> None:
    await rig.send("frigate/events", events_of("0.17", "car")[0])
    review_end = next(m for m in messages_of("0.15", "/reviews") if m["payload"]["type"] == "end")
    await rig.send(review_end["topic"], review_end["payload"])  # another camera's objects
    [batch] = await rig.batches()
    assert batch.status == "open"
    stats = rig.ingest.stats()
    assert (stats["batches_closed_by_review"], stats["errors"]) == (0, 0)


async def test_a_new_review_of_the_object_makes_its_frames_analysed_again(rig: Rig) -> None:
    car = events_of("0.16", "car")
    reviews = messages_of("0.16", "/reviews")
    await rig.send("frigate/events", car[0])
    end = next(m for m in reviews if m["payload"]["type"] == "end")
    await rig.send(end["topic"], end["payload"])
    again = next(m for m in reviews if m["payload"]["type"] == "update")  # a review naming the car, later
    await rig.send(again["topic"], again["payload"])
    await rig.send("frigate/events", car[2])
    assert (await rig.rows())[-1].batch_id is not None


async def test_a_description_before_the_analysis_is_in_what_the_analyzer_reads(rig: Rig) -> None:
    person = events_of("0.15", "person")
    [description] = messages_of("0.15", "/tracked_object_update")
    await rig.replay([{"topic": "frigate/events", "payload": p} for p in person[:2]])
    await rig.send(description["topic"], description["payload"])  # the batch is still open
    review_end = next(m for m in messages_of("0.15", "/reviews") if m["payload"]["type"] == "end")
    await rig.send(review_end["topic"], review_end["payload"])
    await rig.settle()
    [scenario] = rig.analyzer.seen  # one analysis, no re-assessment needed
    text = description["payload"]["description"]
    assert [d.enrichment.vision.caption if d.enrichment.vision else None for d in scenario.detections] == [text, text]
    [event] = await rig.events()
    assert text in event.summary
    assert rig.ingest.stats()["reassessments"] == 0


async def test_a_description_after_the_assessment_reassesses_the_same_event(rig: Rig) -> None:
    person = events_of("0.15", "person")
    [description] = messages_of("0.15", "/tracked_object_update")
    review_end = next(m for m in messages_of("0.15", "/reviews") if m["payload"]["type"] == "end")
    await rig.replay([{"topic": "frigate/events", "payload": p} for p in person[:2]])
    await rig.send(review_end["topic"], review_end["payload"])
    await rig.settle()
    [before] = await rig.events()
    assert (before.status, before.summary) == ("assessed", "captions: []")

    await rig.send(description["topic"], description["payload"])
    await rig.settle()
    [after] = await rig.events()
    text = description["payload"]["description"]
    assert (after.id, after.batch_id, after.status) == (before.id, before.batch_id, "assessed")
    assert after.summary == f"captions: [{text!r}]"
    assert len(rig.analyzer.batch_calls) == 2
    announced = [m["event"] for m in rig.published if m["event"]["id"] == before.id]
    assert [a["summary"] for a in announced] == ["captions: []", after.summary]
    assert rig.ingest.stats()["reassessments"] == 1

    await rig.send(description["topic"], description["payload"])  # the same description again: nothing new
    await rig.settle()
    assert len(rig.analyzer.batch_calls) == 2


async def test_a_description_during_the_analysis_reassesses_once_the_event_is_stored(rig: Rig) -> None:
    person = events_of("0.15", "person")
    [description] = messages_of("0.15", "/tracked_object_update")
    review_end = next(m for m in messages_of("0.15", "/reviews") if m["payload"]["type"] == "end")
    rig.analyzer.gate = asyncio.Event()
    await rig.replay([{"topic": "frigate/events", "payload": p} for p in person[:2]])
    await rig.send(review_end["topic"], review_end["payload"])
    await rig.analyzer.loaded.wait()  # the analysis has read the batch, without the caption
    await rig.send(description["topic"], description["payload"])
    [batch] = await rig.batches()
    assert batch.status == "closed" and await rig.events() == []  # its event is not stored yet
    rig.analyzer.gate.set()
    await rig.settle()
    text = description["payload"]["description"]
    assert [s.detections[0].enrichment.vision is None for s in rig.analyzer.seen] == [True, False]
    [event] = await rig.events()
    assert (event.status, event.summary) == ("assessed", f"captions: [{text!r}]")
    assert rig.ingest.stats()["reassessments"] == 1


async def test_a_description_for_an_object_not_stored_yet_reaches_its_first_detection(rig: Rig) -> None:
    [description] = messages_of("0.15", "/tracked_object_update")
    await rig.send(description["topic"], description["payload"])
    assert rig.ingest.stats()["updates_pending"] == 1
    await rig.send("frigate/events", events_of("0.15", "person")[0])
    [row] = await rig.rows()
    assert row.enrichment["vision"]["caption"] == description["payload"]["description"]


async def test_home_time_zone_gives_the_local_hour(rig: Rig) -> None:
    payload = copy.deepcopy(events_of("0.16", "car")[0])
    three_am = datetime(2025, 1, 15, 3, 0, 0, tzinfo=PARIS)
    payload["after"]["frame_time"] = three_am.timestamp()
    payload["after"]["start_time"] = three_am.timestamp() - 2
    await rig.send("frigate/events", payload)
    [row] = await rig.rows()
    assert (row.local_hour, row.utc_offset_minutes) == (3, 60)
    assert row.detected_at == datetime(2025, 1, 15, 2, 0, 0, tzinfo=UTC)


async def test_malformed_payloads_are_logged_and_skipped(rig: Rig) -> None:
    no_frame = copy.deepcopy(events_of("0.16", "car")[0])
    del no_frame["after"]["frame_time"]
    bad_review = copy.deepcopy(messages_of("0.16", "/reviews")[0]["payload"])
    del bad_review["after"]["camera"]
    malformed = [
        ("frigate/events", b"{not json"),
        ("frigate/events", b"\xff\xfe"),
        ("frigate/events", b"[1, 2]"),
        ("frigate/events", b" " * 1_000_001),
        ("frigate/events", no_frame),
        ("frigate/reviews", bad_review),
        ("frigate/tracked_object_update", {"type": "description", "id": "1.2-abc"}),
        ("frigate/tracked_object_update", {"type": "lpr", "id": "1.2-abc", "plate": None}),
    ]
    for topic, payload in malformed:
        await rig.send(topic, payload)  # never raises
    await rig.send("frigate/front_door/person", b"1")  # another topic: ignored
    await rig.send("frigate/tracked_object_update", {"type": "classification", "id": "1.2-abc", "sub_label": "x"})
    stats = rig.ingest.stats()
    assert (stats["malformed"], stats["errors"], stats["stored"]) == (len(malformed), 0, 0)
    assert stats["messages"] == {"events": 5, "reviews": 1, "tracked_object_update": 3, "other": 1}
    assert stats["updates_ignored"] == 1
    assert await rig.rows() == []
    await rig.send("frigate/events", events_of("0.16", "car")[0])  # and the next good message goes in
    assert len(await rig.rows()) == 1


async def test_a_box_outside_a_smaller_frame_is_dropped_not_the_detection(rig: Rig) -> None:
    payload = copy.deepcopy(events_of("0.16", "car")[0])
    async with rig.sessions() as session:
        session.add(Camera(id="driveway", name="Driveway", frame_width=640, frame_height=360))
        await session.commit()
    payload["after"]["box"] = [700, 400, 900, 500]  # pixels of Frigate's 1280x720, beyond our 640x360
    await rig.send("frigate/events", payload)
    [row] = await rig.rows()
    assert row.bbox is None
    assert rig.ingest.stats()["boxes_dropped"] == 1


# --- AnalysisDispatcher.reassess when the new analysis fails ------------------------------------------------------


async def _assessed_batch(rig: Rig) -> Event:
    person = events_of("0.15", "person")
    review_end = next(m for m in messages_of("0.15", "/reviews") if m["payload"]["type"] == "end")
    await rig.replay([{"topic": "frigate/events", "payload": p} for p in person[:2]])
    await rig.send(review_end["topic"], review_end["payload"])
    await rig.settle()
    [event] = await rig.events()
    return event


async def test_a_reassessment_that_fails_for_good_keeps_the_previous_verdict(rig: Rig) -> None:
    before = await _assessed_batch(rig)
    rig.analyzer.fail_next = [LLMAnswerUnusableError("unusable answer (injected)")]
    await rig.dispatcher.reassess(before.batch_id)
    [after] = await rig.events()
    assert (after.status, after.summary, after.attempts, after.next_retry_at) == (
        "assessed",
        before.summary,
        before.attempts,
        None,
    )
    assert len(rig.analyzer.batch_calls) == 2


async def test_a_reassessment_during_an_llm_outage_is_retried_when_it_is_back(rig: Rig) -> None:
    before = await _assessed_batch(rig)
    rig.analyzer.fail_next = [LLMUnavailableError("LLM down (injected)")]
    await rig.dispatcher.reassess(before.batch_id)
    [waiting] = await rig.events()
    assert (waiting.status, waiting.attempts) == ("not_assessed", 0)
    rig.dispatcher.health.healthy = True  # the health probe said so
    assert await rig.dispatcher.retry_due(rig.clock.now + timedelta(seconds=1)) == 1
    [after] = await rig.events()
    assert (after.id, after.status, after.attempts) == (before.id, "assessed", 1)
    assert len(rig.analyzer.batch_calls) == 3


async def test_reassess_leaves_an_event_that_is_not_assessed_alone(rig: Rig) -> None:
    await rig.dispatcher.reassess("no-such-batch")
    before = await _assessed_batch(rig)
    async with rig.sessions() as session:
        event = await session.get_one(Event, before.id)
        event.status = "failed"
        await session.commit()
    await rig.dispatcher.reassess(before.batch_id)
    [after] = await rig.events()
    assert after.status == "failed"
    assert len(rig.analyzer.batch_calls) == 1


async def test_hostile_payloads_are_skipped_as_malformed_and_a_zone_flood_is_cut(rig: Rig) -> None:
    """From the review of issue #10: a frame from the future would pin a camera's "newest event" in Home
    Assistant; brackets nested 100,000 deep and 400-digit numbers are malformed, not errors; an object in 80
    zones is kept with the first 64 (it used to be dropped after its 80 zones were created)."""
    future = copy.deepcopy(events_of("0.16", "car")[0])
    future["after"]["frame_time"] = 32503680000.0  # the year 3000
    huge_box = copy.deepcopy(events_of("0.16", "car")[0])
    huge_box["after"]["box"] = [10**400, 1, 2, 3]
    huge_box["after"]["frame_time"] = huge_box["after"]["frame_time"] + 0.5
    for payload in (future, b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000, huge_box):
        await rig.send("frigate/events", payload)
    stats = rig.ingest.stats()
    assert (stats["malformed"], stats["errors"], stats["stored"]) == (4, 0, 0)

    crowded = copy.deepcopy(events_of("0.16", "car")[0])
    crowded["after"]["current_zones"] = [f"zone_{i}" for i in range(80)]
    await rig.send("frigate/events", crowded)
    [row] = await rig.rows()
    assert row.zones is not None and len(row.zones) == 64
    async with rig.sessions() as session:
        assert len((await session.scalars(select(Zone).where(Zone.camera_id == row.camera_id))).all()) == 64
