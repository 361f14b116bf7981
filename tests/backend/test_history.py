"""The analyzer's input from the database: baseline learned from history, cross-camera window, household."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.domain.scenario import Household
from backend.models import HouseholdEntry, Zone
from backend.services.history import ScenarioDataMissing, learn_baseline, load_batch_scenario
from tests.backend.helpers import add_camera, detection, store_detections

Sessions = async_sessionmaker[AsyncSession]
EST = timezone(timedelta(hours=-5))
CST = timezone(timedelta(hours=-6))
BATCH_AT = datetime(2026, 3, 10, 3, 12, 4, tzinfo=EST)  # a Tuesday, 3am local
WEEK = timedelta(days=7)


def _at(weeks_back: int, hour: int, minute: int, tz: timezone = EST, days: int = 0) -> datetime:
    local = datetime(2026, 3, 10, hour, minute, tzinfo=tz) - weeks_back * WEEK + timedelta(days=days)
    return local


async def _seed_history(sessions: Sessions) -> None:
    history = [
        # the same weekday and hour, 1 to 4 weeks back: 5 persons, 2 cars
        ("w1-p", _at(1, 3, 5), "person"),
        ("w1-c1", _at(1, 3, 30), "car"),
        ("w1-c2", _at(1, 3, 31), "car"),
        ("w3-p1", _at(3, 3, 10), "person"),
        ("w3-p2", _at(3, 3, 50), "person"),
        ("w3-dst", _at(3, 3, 40, tz=CST), "person"),  # posted in another UTC offset: still 3am local
        ("w4-p", _at(4, 3, 59), "person"),
        # not counted: another hour, another weekday, more than 4 weeks back, earlier this same hour today
        ("w1-4am", _at(1, 4, 10), "person"),
        ("w1-mon", _at(1, 3, 20, days=-1), "person"),
        ("w5-p", _at(5, 3, 10), "person"),
        ("today", _at(0, 3, 1), "person"),
    ]
    async with sessions() as session:
        await add_camera(session, "front_door")
        await store_detections(session, "front_door", [detection(i, at, t) for i, at, t in history])


async def test_baseline_learned_from_same_weekday_and_hour(sessions: Sessions) -> None:
    await _seed_history(sessions)
    async with sessions() as session:
        baseline = await (await session.connection()).run_sync(
            learn_baseline, "front_door", BATCH_AT, ["person", "dog"], weeks=4
        )
    assert baseline is not None
    assert baseline.sample_days == 28  # 5 weeks of history, capped at the 4 weeks used
    assert baseline.expected_per_hour == {"person": 1.25, "car": 0.5, "dog": 0.0}


async def test_baseline_counts_only_weeks_with_history(sessions: Sessions) -> None:
    async with sessions() as session:
        await add_camera(session, "front_door")
        start = _at(1, 10, 0, days=-1)  # history began 8 days before the batch hour: one comparable hour
        await store_detections(
            session,
            "front_door",
            [detection("first", start), detection("w1", _at(1, 3, 15)), detection("w1b", _at(1, 3, 16))],
        )
        baseline = await (await session.connection()).run_sync(
            learn_baseline, "front_door", BATCH_AT, ["person"], weeks=4
        )
    assert baseline is not None
    assert baseline.sample_days == 8
    assert baseline.expected_per_hour == {"person": 2.0}


async def test_no_baseline_without_history(sessions: Sessions) -> None:
    async with sessions() as session:
        await add_camera(session, "front_door")
        assert await (await session.connection()).run_sync(learn_baseline, "front_door", BATCH_AT, ["person"]) is None
        await store_detections(session, "front_door", [detection("recent", BATCH_AT - timedelta(days=3))])
        assert (
            await (await session.connection()).run_sync(learn_baseline, "front_door", BATCH_AT, ["person"]) is None
        )  # no earlier Tuesday 3am


async def test_scenario_from_database(sessions: Sessions) -> None:
    await _seed_history(sessions)
    async with sessions() as session:
        await add_camera(session, "driveway", "Driveway")
        await add_camera(session, "backyard", "Back Yard")
        session.add(
            Zone(
                camera_id="front_door",
                zone_id="porch",
                name="Porch",
                zone_type="entry_point",
                polygon=[[0.3, 0.4], [0.7, 0.4], [0.7, 1.0], [0.3, 1.0]],
            )
        )
        session.add_all([HouseholdEntry(kind="face", value="Alice"), HouseholdEntry(kind="plate", value="ABC1234")])
        await session.commit()
        batch = await store_detections(
            session,
            "front_door",
            [
                detection("b1", BATCH_AT, "person", 0.94, track_id=7, enrichment={"face": {"matched_name": None}}),
                detection("b2", BATCH_AT + timedelta(seconds=56), "person", 0.9, track_id=7),
            ],
        )
        first, last = BATCH_AT, BATCH_AT + timedelta(seconds=56)
        await store_detections(
            session,
            "driveway",
            [
                detection("in-before", first - timedelta(minutes=9, seconds=30), "person", 0.9),
                detection("out-before", first - timedelta(minutes=11), "person"),
                detection("in-after", last + timedelta(minutes=9, seconds=30), "car", 0.8),
                detection("out-after", last + timedelta(minutes=11), "car"),
            ],
        )
        await store_detections(
            session,
            "backyard",
            [
                detection("t5a", first + timedelta(minutes=3), "person", 0.7, track_id=5),
                detection("t5b", first + timedelta(minutes=3, seconds=10), "person", 0.7, track_id=5),
            ],
        )
        scenario = await (await session.connection()).run_sync(load_batch_scenario, "front_door", batch)
        by_external = await (await session.connection()).run_sync(load_batch_scenario, "front_door", ["b2", "b1"])
        faceless = await (await session.connection()).run_sync(load_batch_scenario, "front_door", ["b2"])

    assert scenario == by_external
    assert scenario.camera.id == "front_door"
    assert [z.id for z in scenario.zones] == ["porch"]
    assert [d.id for d in scenario.detections] == ["b1", "b2"]
    assert scenario.detections[0].detected_at == BATCH_AT
    assert scenario.detections[0].detected_at.utcoffset() == timedelta(hours=-5)  # local time kept
    assert scenario.detections[0].enrichment.face is not None
    assert scenario.baseline is not None and scenario.baseline.expected_per_hour["person"] == 1.25
    sightings = [(s.camera_id, s.camera_name, s.object_type) for s in scenario.cross_camera]
    assert sightings == [
        ("driveway", "Driveway", "person"),
        ("backyard", "Back Yard", "person"),
        ("driveway", "Driveway", "car"),
    ]
    assert scenario.household.known_faces == ["Alice"] and scenario.household.known_plates == ["ABC1234"]
    assert faceless.household == Household()  # no face or plate to match: the household is not read


async def test_missing_data_is_an_error(sessions: Sessions) -> None:
    async with sessions() as session:
        await add_camera(session, "front_door")
        await add_camera(session, "porch")
        pks = await store_detections(session, "front_door", [detection("d1", BATCH_AT)])
        elsewhere = await store_detections(session, "porch", [detection("p1", BATCH_AT)])
        with pytest.raises(ScenarioDataMissing, match="unknown camera"):
            await (await session.connection()).run_sync(load_batch_scenario, "nowhere", pks)
        with pytest.raises(ScenarioDataMissing, match=rf"not found for camera 'front_door': \[{elsewhere[0]}\]"):
            await (await session.connection()).run_sync(load_batch_scenario, "front_door", pks + elsewhere)
        with pytest.raises(ScenarioDataMissing, match="not found"):
            await (await session.connection()).run_sync(load_batch_scenario, "front_door", ["d1", "d2"])
        with pytest.raises(ScenarioDataMissing, match="at least one"):
            await (await session.connection()).run_sync(load_batch_scenario, "front_door", [])
