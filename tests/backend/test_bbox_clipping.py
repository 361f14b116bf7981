"""Boxes reaching past the camera frame: clipped and noted (domain, ingest API on SQLite and PostgreSQL), and the
boxes still refused (zero or negative size, NaN or infinite numbers, wholly outside the frame) with the field named."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.api.app import create_app
from backend.config.settings import BackendSettings
from backend.domain.scenario import BBox, BoxOutsideFrame, DetectionIn, ScenarioInput
from backend.models import Detection
from tests.backend.helpers import StubAnalyzer, detection_json

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 3, 10, 3, 12, tzinfo=UTC)
FRAME = (1920, 1080)


def _at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def _box(x: float, y: float, width: float, height: float) -> dict[str, float]:
    return {"x": x, "y": y, "width": width, "height": height}


# --- the domain: BBox, DetectionIn, ScenarioInput ----------------------------------------------------------


@pytest.mark.parametrize(
    ("box", "clipped"),
    [
        (_box(812, 340, 120, 380), _box(812, 340, 120, 380)),  # inside: unchanged
        (_box(0, 0, 1920, 1080), _box(0, 0, 1920, 1080)),  # the whole frame
        (_box(953, -6, 110, 906), _box(953, 0, 110, 900)),  # above the top edge
        (_box(1804, 500, 120, 300), _box(1804, 500, 116, 300)),  # x + width = frame width + 4
        (_box(-3.5, 1000, 50, 90.5), _box(0, 1000, 46.5, 80)),  # left and bottom at once
        (_box(-10, -10, 2000, 1200), _box(0, 0, 1920, 1080)),  # larger than the frame on every side
    ],
)
def test_bbox_is_clipped_to_the_frame(box: dict[str, float], clipped: dict[str, float]) -> None:
    assert BBox.model_validate(box).clipped_to(*FRAME).model_dump() == clipped


@pytest.mark.parametrize(
    "box",
    [
        _box(1920, 10, 50, 50),  # starts at the right edge
        _box(-60, 10, 50, 50),  # left of the frame
        _box(10, -300, 50, 250),  # above, its bottom 50 px short of the top edge
        _box(10, 1200, 50, 50),  # below
        _box(-50, 10, 50, 50),  # touches the left edge only: no overlap
    ],
)
def test_bbox_wholly_outside_the_frame_is_refused(box: dict[str, float]) -> None:
    with pytest.raises(BoxOutsideFrame, match="box lies wholly outside the 1920x1080 frame"):
        BBox.model_validate(box).clipped_to(*FRAME)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("width", 0, "greater_than"),
        ("height", -5, "greater_than"),
        ("x", math.nan, "finite_number"),
        ("y", math.inf, "finite_number"),
        ("width", -math.inf, "finite_number"),
    ],
)
def test_bbox_refuses_empty_boxes_and_non_finite_numbers(field: str, value: float, error: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BBox.model_validate(_box(10, 10, 50, 50) | {field: value})
    [problem] = caught.value.errors()
    assert (problem["loc"], problem["type"]) == ((field,), error)


def test_detection_notes_the_posted_box_only_when_it_clips() -> None:
    posted = DetectionIn.model_validate(
        {"id": "d1", "detected_at": _at(0), "object_type": "person", "confidence": 0.9, "bbox": _box(953, -6, 110, 906)}
    )
    clipped = posted.clipped_to(*FRAME)
    assert clipped.bbox == BBox(x=953, y=0, width=110, height=900)
    assert clipped.bbox_clipped_from == posted.bbox and posted.bbox_clipped_from is None  # the original is untouched
    assert clipped.clipped_to(*FRAME) is clipped  # clipping again changes nothing and keeps the note
    inside = posted.model_copy(update={"bbox": BBox(x=1, y=1, width=5, height=5)})
    assert inside.clipped_to(*FRAME) is inside and inside.bbox_clipped_from is None
    no_box = posted.model_copy(update={"bbox": None})
    assert no_box.clipped_to(*FRAME) is no_box


def _scenario(*boxes: dict[str, float]) -> dict[str, Any]:
    return {
        "camera": {"id": "front_door", "name": "Front Door", "frame_width": 1280, "frame_height": 720},
        "detections": [
            {"id": f"d{i}", "detected_at": _at(i), "object_type": "person", "confidence": 0.9, "bbox": box}
            for i, box in enumerate(boxes)
        ],
    }


def test_scenario_clips_boxes_to_its_camera_frame_and_notes_them() -> None:
    scenario = ScenarioInput.model_validate(_scenario(_box(100, 100, 50, 50), _box(1250, -4, 40, 200)))
    inside, edge = scenario.detections
    assert inside.bbox == BBox(x=100, y=100, width=50, height=50) and inside.bbox_clipped_from is None
    assert edge.bbox == BBox(x=1250, y=0, width=30, height=196)
    assert edge.bbox_clipped_from == BBox(x=1250, y=-4, width=40, height=200)
    again = ScenarioInput.model_validate(scenario.model_dump(mode="json"))  # a round trip keeps box and note
    assert again == scenario


def test_scenario_with_a_box_wholly_outside_its_frame_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        ScenarioInput.model_validate(_scenario(_box(100, 100, 50, 50), _box(10, 10, 5, 5), _box(1300, 10, 50, 50)))
    [problem] = caught.value.errors()
    assert problem["type"] == "bbox_outside_frame"
    assert problem["msg"] == "detections[2].bbox: box lies wholly outside the 1280x720 frame"


def test_scenario_with_a_non_finite_box_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        ScenarioInput.model_validate(_scenario(_box(100, 100, 50, 50), _box(10, math.nan, 5, 5)))
    assert [e["loc"] for e in caught.value.errors()] == [("detections", 1, "bbox", "y")]


# --- the ingest API, on SQLite and PostgreSQL -------------------------------------------------------------


@pytest.fixture
def settings(db_url: str) -> BackendSettings:
    return BackendSettings(
        database_url=db_url, redis_url=None, llm_url="http://127.0.0.1:9", batch_tick_seconds=3600, log_level="WARNING"
    )


@pytest.fixture
async def client(settings: BackendSettings, sessions: Sessions) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, analyzer=StubAnalyzer(sessions))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backend") as c:
            c.app = app  # type: ignore[attr-defined]  # for flushing batches
            camera = {"id": "front_door", "name": "Front Door", "frame_width": 1920, "frame_height": 1080}
            assert (await c.post("/api/cameras", json=camera)).status_code == 200
            small = {"id": "driveway", "name": "Driveway", "frame_width": 640, "frame_height": 480}
            assert (await c.post("/api/cameras", json=small)).status_code == 200
            yield c


async def _stored(sessions: Sessions) -> dict[str, tuple[Any, Any]]:
    async with sessions() as session:
        rows = await session.execute(select(Detection.detection_id, Detection.bbox, Detection.bbox_clipped_from))
        return {detection_id: (bbox, note) for detection_id, bbox, note in rows.all()}


async def test_slightly_out_boxes_are_stored_clipped_and_noted(client: httpx.AsyncClient, sessions: Sessions) -> None:
    above = detection_json("front_door", "above", _at(0), bbox=_box(953, -6, 110, 906))
    assert (await client.post("/api/detections", json=above)).status_code == 201
    items = [
        detection_json("front_door", "inside", _at(1), bbox=_box(812, 340, 120, 380)),
        detection_json("front_door", "right", _at(2), bbox=_box(1804, 500, 120, 300)),  # x + width = 1924
        detection_json("driveway", "corner", _at(3), bbox=_box(600, 450, 100, 100)),  # past a 640x480 frame
        detection_json("front_door", "no_box", _at(4)),
    ]
    answer = await client.post("/api/detections/bulk", json={"detections": items})
    assert answer.status_code == 201, answer.text

    assert await _stored(sessions) == {
        "above": (_box(953, 0, 110, 900), _box(953, -6, 110, 906)),
        "inside": (_box(812, 340, 120, 380), None),
        "right": (_box(1804, 500, 116, 300), _box(1804, 500, 120, 300)),
        "corner": (_box(600, 450, 40, 30), _box(600, 450, 100, 100)),
        "no_box": (None, None),
    }
    async with sessions() as session:  # nothing clipped: SQL NULL, not a JSON null
        unclipped = await session.scalars(select(Detection.detection_id).where(Detection.bbox_clipped_from.is_(None)))
        assert sorted(unclipped) == ["inside", "no_box"]

    # and the API's detection output shows the clipped box with its note
    app: FastAPI = client.app  # type: ignore[attr-defined]
    await app.state.services.batcher.flush_all()
    events = (await client.get("/api/events", params={"camera_id": "front_door"})).json()["events"]
    [batch_event] = [e for e in events if e["kind"] == "batch"]
    detail = (await client.get(f"/api/events/{batch_event['id']}")).json()
    shown = {d["id"]: (d["bbox"], d["bbox_clipped_from"]) for d in detail["detections"]}
    assert shown["above"] == (_box(953, 0, 110, 900), _box(953, -6, 110, 906))
    assert shown["right"] == (_box(1804, 500, 116, 300), _box(1804, 500, 120, 300))
    assert shown["inside"] == (_box(812, 340, 120, 380), None)


async def test_a_clipped_detection_reposted_keeps_its_note(client: httpx.AsyncClient, sessions: Sessions) -> None:
    """What the demo does: a scenario's (already clipped) detections posted with their note."""
    scenario = ScenarioInput.model_validate(_scenario(_box(1250, -4, 40, 200)) | {"camera": {"id": "x", "name": "X"}})
    body = scenario.detections[0].model_dump(mode="json") | {"camera_id": "front_door"}
    assert (await client.post("/api/detections", json=body)).status_code == 201
    assert (await _stored(sessions))["d0"] == (_box(1250, 0, 40, 196), _box(1250, -4, 40, 200))


BAD_BOXES = [
    pytest.param(_box(10, 10, -5, 50), "width", "greater_than", id="negative-width"),
    pytest.param(_box(10, 10, 50, 0), "height", "greater_than", id="zero-height"),
    pytest.param(_box(math.nan, 10, 50, 50), "x", "finite_number", id="nan-x"),
    pytest.param(_box(10, math.inf, 50, 50), "y", "finite_number", id="infinite-y"),
    pytest.param(_box(10, 10, 50, -math.inf), "height", "finite_number", id="minus-infinite-height"),
]


def _body(payload: Any) -> dict[str, Any]:
    """JSON as Python writes it: NaN and Infinity as the bare tokens a careless client sends."""
    return {"content": json.dumps(payload), "headers": {"content-type": "application/json"}}


@pytest.mark.parametrize(("box", "field", "kind"), BAD_BOXES)
async def test_bad_boxes_are_422_naming_the_field(
    client: httpx.AsyncClient, sessions: Sessions, box: dict[str, float], field: str, kind: str
) -> None:
    single = await client.post("/api/detections", **_body(detection_json("front_door", "d1", _at(0), bbox=box)))
    assert single.status_code == 422, single.text
    [problem] = single.json()["detail"]
    assert (problem["loc"], problem["type"]) == (["body", "bbox", field], kind)

    items = [detection_json("front_door", f"d{i}", _at(i), bbox=_box(10, 10, 50, 50)) for i in range(5)]
    items[3]["bbox"] = box
    bulk = await client.post("/api/detections/bulk", **_body({"detections": items}))
    assert bulk.status_code == 422, bulk.text
    [problem] = bulk.json()["detail"]
    assert (problem["loc"], problem["type"]) == (["body", "detections", 3, "bbox", field], kind)
    assert await _stored(sessions) == {}


async def test_box_wholly_outside_the_frame_is_422_naming_the_field(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    outside = _box(700, 10, 50, 50)  # inside 1920x1080, but wholly outside the driveway's 640x480
    single = await client.post("/api/detections", json=detection_json("driveway", "d1", _at(0), bbox=outside))
    assert single.status_code == 422
    [problem] = single.json()["detail"]
    assert problem["loc"] == ["body", "bbox"] and problem["type"] == "bbox_outside_frame"
    assert problem["msg"] == "box lies wholly outside the 640x480 frame of camera 'driveway'"

    items = [detection_json("front_door", f"d{i}", _at(i), bbox=_box(953, -6, 110, 906)) for i in range(5)]
    items[1] = detection_json("driveway", "d1", _at(1), bbox=outside)
    items[4]["bbox"] = _box(10, -120, 50, 100)  # above the frame
    bulk = await client.post("/api/detections/bulk", json={"detections": items})
    assert bulk.status_code == 422
    detail = bulk.json()["detail"]
    assert [(p["loc"], p["msg"]) for p in detail] == [
        (["body", "detections", 1, "bbox"], "box lies wholly outside the 640x480 frame of camera 'driveway'"),
        (["body", "detections", 4, "bbox"], "box lies wholly outside the 1920x1080 frame of camera 'front_door'"),
    ]
    assert await _stored(sessions) == {}  # the whole request is refused
