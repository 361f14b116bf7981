"""Bad input is a 4xx naming the field, never a 5xx, on SQLite and on PostgreSQL (issue 9's minimal inputs).

NUL characters are refused (422 ``string_nul``) on both databases; lone surrogates are refused by pydantic and
the answer still encodes (U+FFFD in the echo); integers and dates are bounded by the columns they go to; an error
answer echoes at most a few kB of the input.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from backend.api.app import create_app
from backend.api.errors import ECHO_BUDGET, MAX_ERRORS, safe_errors
from backend.config.settings import BackendSettings
from backend.db.session import create_engine_from_url, create_session_factory
from backend.domain.scenario import INT32_MAX
from backend.models import Camera, Detection, HouseholdEntry
from tests.backend.helpers import StubAnalyzer

JSON = {"Content-Type": "application/json"}
DETECTION = {
    "camera_id": "cam1",
    "id": "d1",
    "detected_at": "2026-03-10T03:12:00+00:00",
    "object_type": "person",
    "confidence": 0.5,
}


@pytest.fixture
def redis_url() -> str | None:
    """Validation does not depend on Redis: these tests run on each database without it."""
    return None


@pytest.fixture
async def client(backend_settings: BackendSettings) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine_from_url(backend_settings.database_url)
    app = create_app(backend_settings, analyzer=StubAnalyzer(create_session_factory(engine)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://backend") as c:
            assert (await c.post("/api/cameras", json={"id": "cam1", "name": "Cam 1"})).status_code == 200
            yield c
    await engine.dispose()


async def count(db_url: str, model: type) -> int:
    engine = create_engine_from_url(db_url)
    async with create_session_factory(engine)() as session:
        n = await session.scalar(select(func.count()).select_from(model)) or 0
    await engine.dispose()
    return n


def only_error(answer: httpx.Response, status: int = 422) -> dict[str, Any]:
    """The single error of a FastAPI-shaped error answer (which must parse as JSON)."""
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert isinstance(detail, list) and len(detail) == 1, detail
    error: dict[str, Any] = detail[0]
    return error


# ----------------------------------------------------------------------------------------------- NUL characters


async def test_nul_in_a_camera_name_is_refused_and_nothing_is_stored(client: httpx.AsyncClient, db_url: str) -> None:
    error = only_error(await client.post("/api/cameras", content='{"id":"cam2","name":"a\\u0000b"}', headers=JSON))
    assert (error["type"], error["loc"]) == ("string_nul", ["body", "name"])
    assert await count(db_url, Camera) == 1  # only cam1 of the fixture


@pytest.mark.parametrize(
    ("enrichment", "loc"),
    [
        ({"ocr_text": ["GATE 4", "a\u0000b"]}, ["enrichment", "ocr_text", 1]),
        (
            {"vision": {"attributes": {"hat\u0000": "red"}}},
            ["enrichment", "vision", "attributes", "hat\u0000", "[key]"],
        ),
        ({"vision": {"caption": "a person\u0000"}}, ["enrichment", "vision", "caption"]),
        ({"license_plate": {"text": "AB\u000012"}}, ["enrichment", "license_plate", "text"]),
    ],
    ids=["ocr_text", "attribute_key", "caption", "plate"],
)
async def test_nul_anywhere_in_a_detection_is_refused(
    client: httpx.AsyncClient, db_url: str, enrichment: dict[str, Any], loc: list[Any]
) -> None:
    error = only_error(await client.post("/api/detections", json={**DETECTION, "enrichment": enrichment}))
    assert (error["type"], error["loc"]) == ("string_nul", ["body", *loc])
    assert await count(db_url, Detection) == 0


async def test_one_nul_in_a_bulk_names_its_index_and_stores_nothing(client: httpx.AsyncClient, db_url: str) -> None:
    detections = [{**DETECTION, "id": f"d{i}"} for i in range(5)]
    detections[3]["enrichment"] = {"ocr_text": ["\u0000"]}
    error = only_error(await client.post("/api/detections/bulk", json={"detections": detections}))
    assert error["loc"] == ["body", "detections", 3, "enrichment", "ocr_text", 0]
    assert await count(db_url, Detection) == 0


async def test_nul_in_review_notes_zone_names_and_the_household_is_refused(
    client: httpx.AsyncClient, db_url: str
) -> None:
    error = only_error(await client.post("/api/events/1/review", json={"notes": "ok\u0000"}))
    assert (error["type"], error["loc"]) == ("string_nul", ["body", "notes"])
    zone = {"id": "porch", "name": "Po\u0000rch", "polygon": [[0, 0], [1, 0], [1, 1]]}
    error = only_error(await client.put("/api/cameras/cam1/zones", json=[zone]))
    assert error["loc"] == ["body", 0, "name"]
    error = only_error(await client.put("/api/household", json={"known_faces": ["Ann\u0000"]}))
    assert error["loc"] == ["body", "known_faces", 0]
    assert await count(db_url, HouseholdEntry) == 0


async def test_nul_in_path_and_query_identifiers_is_422(client: httpx.AsyncClient) -> None:
    zone = {"id": "porch", "name": "Porch", "polygon": [[0, 0], [1, 0], [1, 1]]}
    assert (await client.put("/api/cameras/a%00b/zones", json=[zone])).status_code == 422
    error = only_error(await client.get("/api/events", params={"camera_id": "a\u0000b"}))
    assert error["loc"] == ["query", "camera_id"]


# ----------------------------------------------------------------------------------------------- lone surrogates


async def test_a_lone_surrogate_is_a_422_that_renders(client: httpx.AsyncClient, db_url: str) -> None:
    answer = await client.post("/api/cameras", content='{"id":"cam2","name":"a\\ud800b"}', headers=JSON)
    error = only_error(answer)
    assert (error["type"], error["loc"], error["input"]) == ("string_unicode", ["body", "name"], "a\ufffdb")
    answer.content.decode("utf-8")  # strict UTF-8: nothing unencodable went out
    assert await count(db_url, Camera) == 1


async def test_a_lone_surrogate_in_a_map_key_or_ocr_text_is_a_422(client: httpx.AsyncClient) -> None:
    body = json.dumps({**DETECTION, "enrichment": {"vision": {"attributes": {"x": "y"}}}}).replace('"x"', '"\\udc00"')
    error = only_error(await client.post("/api/detections", content=body, headers=JSON))
    assert error["loc"][:4] == ["body", "enrichment", "vision", "attributes"] and "\ufffd" in error["loc"][4]
    body = json.dumps({**DETECTION, "enrichment": {"ocr_text": ["OK"]}}).replace('"OK"', '"\\ud83d b"')
    error = only_error(await client.post("/api/detections", content=body, headers=JSON))
    assert error["loc"] == ["body", "enrichment", "ocr_text", 0]


async def test_a_surrogate_pair_is_text_not_an_error(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/cameras", content='{"id":"cam2","name":"cat \\ud83d\\udc08"}', headers=JSON)
    assert answer.status_code == 200 and answer.json()["name"] == "cat \U0001f408"


# ----------------------------------------------------------------------------------------------- integers


@pytest.mark.parametrize("track_id", [2**63, 2**31, -(2**31) - 1], ids=["int64_overflow", "int32_overflow", "below"])
async def test_track_ids_outside_32_bits_are_422(client: httpx.AsyncClient, db_url: str, track_id: int) -> None:
    error = only_error(await client.post("/api/detections", json={**DETECTION, "track_id": track_id}))
    assert error["loc"] == ["body", "track_id"]
    assert await count(db_url, Detection) == 0


async def test_the_largest_track_id_is_stored_and_read_back(client: httpx.AsyncClient, db_url: str) -> None:
    answer = await client.post("/api/detections", json={**DETECTION, "track_id": INT32_MAX})
    assert answer.status_code == 201, answer.text
    engine = create_engine_from_url(db_url)
    async with create_session_factory(engine)() as session:
        assert await session.scalar(select(Detection.track_id)) == INT32_MAX
    await engine.dispose()


@pytest.mark.parametrize(
    ("path", "params", "loc"),
    [
        ("/api/events", {"offset": str(2**63)}, ["query", "offset"]),
        ("/api/events", {"offset": str(2**31)}, ["query", "offset"]),
        ("/api/events", {"limit": str(2**63)}, ["query", "limit"]),
        (f"/api/events/{2**31}", {}, ["path", "event_id"]),
        (f"/api/events/{2**63}", {}, ["path", "event_id"]),
    ],
    ids=["offset_int64", "offset_int32", "limit", "event_id_int32", "event_id_int64"],
)
async def test_query_and_path_integers_out_of_range_are_422(
    client: httpx.AsyncClient, path: str, params: dict[str, str], loc: list[str]
) -> None:
    assert only_error(await client.get(path, params=params))["loc"] == loc


async def test_integers_at_the_bounds_are_answered(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/events", params={"offset": str(INT32_MAX)})).json()["events"] == []
    assert (await client.get(f"/api/events/{INT32_MAX}")).status_code == 404
    answer = await client.post(f"/api/events/{INT32_MAX}/review", json={})
    assert answer.status_code == 404


# ----------------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    "detected_at",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31T23:59:59+00:00", "9000-01-01T00:00:00Z"],
    ids=["year1_plus14", "year9999_minus14", "before_1970", "year9000"],
)
async def test_detection_times_outside_1970_to_9000_are_422(
    client: httpx.AsyncClient, db_url: str, detected_at: str
) -> None:
    error = only_error(await client.post("/api/detections", json={**DETECTION, "detected_at": detected_at}))
    assert (error["type"], error["loc"]) == ("datetime_out_of_range", ["body", "detected_at"])
    assert "1970" in error["msg"] and "9000" in error["msg"]
    assert await count(db_url, Detection) == 0


async def test_times_at_the_edges_are_stored(client: httpx.AsyncClient) -> None:
    early = {**DETECTION, "id": "early", "detected_at": "1970-01-01T00:00:00+00:00"}
    late = {**DETECTION, "id": "late", "detected_at": "8999-12-31T09:59:59-14:00"}  # 23:59:59 UTC
    assert (await client.post("/api/detections/bulk", json={"detections": [early, late]})).status_code == 201


@pytest.mark.parametrize("name", ["since", "until"])
async def test_event_filters_outside_the_date_range_are_422(client: httpx.AsyncClient, name: str) -> None:
    error = only_error(await client.get("/api/events", params={name: "9999-12-31T23:59:59-23:59"}))
    assert (error["type"], error["loc"]) == ("datetime_out_of_range", ["query", name])
    assert (await client.get("/api/events", params={name: "2026-03-10T00:00:00-23:59"})).status_code == 200


async def test_reid_first_seen_and_cross_camera_times_are_bounded_too(client: httpx.AsyncClient) -> None:
    enrichment = {"reid": {"seen_before": True, "first_seen": "0001-01-01T00:00:00+00:30"}}
    error = only_error(await client.post("/api/detections", json={**DETECTION, "enrichment": enrichment}))
    assert error["loc"] == ["body", "enrichment", "reid", "first_seen"]


# ----------------------------------------------------------------------------------------------- lengths after case changes


async def test_lengths_are_checked_after_case_changes(client: httpx.AsyncClient, db_url: str) -> None:
    # "İ".lower() is two characters: 40 of them fit the 64 allowed before lowering, not the column after it
    error = only_error(await client.post("/api/detections", json={**DETECTION, "object_type": "\u0130" * 40}))
    assert (error["type"], error["loc"]) == ("string_too_long", ["body", "object_type"])
    # "ß".upper() is "SS": a plate of 300 becomes 600 characters, more than the column's 500
    error = only_error(await client.put("/api/household", json={"known_plates": ["\u00df" * 300]}))
    assert error["loc"] == ["body", "known_plates", 0]
    assert (await client.put("/api/household", json={"known_plates": ["\u00df" * 250]})).status_code == 200
    assert await count(db_url, HouseholdEntry) == 1


# ----------------------------------------------------------------------------------------------- error bodies


async def test_a_huge_input_is_not_echoed_back(client: httpx.AsyncClient) -> None:
    name = "x" * 3_000_000
    answer = await client.post("/api/cameras", json={"id": "cam2", "name": name})
    error = only_error(answer)
    assert error["loc"] == ["body", "name"] and error["input"].endswith("…")
    assert len(answer.content) < ECHO_BUDGET + 1000


async def test_many_errors_are_capped(client: httpx.AsyncClient) -> None:
    detections = [{**DETECTION, "id": f"d{i}", "confidence": 2, "object_type": ""} for i in range(400)]
    answer = await client.post("/api/detections/bulk", json={"detections": detections})
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert len(detail) == MAX_ERRORS + 1 and detail[-1]["type"] == "too_many_errors"
    assert len(answer.content) < 20_000


async def test_nan_and_infinity_tokens_render_as_text(client: httpx.AsyncClient) -> None:
    body = json.dumps(DETECTION).replace('"confidence": 0.5', '"confidence": NaN')
    error = only_error(await client.post("/api/detections", content=body, headers=JSON))
    assert (error["loc"], error["input"]) == (["body", "confidence"], "nan")
    body = json.dumps({**DETECTION, "enrichment": {"dwell_seconds": 1}}).replace(
        '"dwell_seconds": 1', '"dwell_seconds": 1e999'
    )
    error = only_error(await client.post("/api/detections", content=body, headers=JSON))
    assert (error["loc"], error["input"]) == (["body", "enrichment", "dwell_seconds"], "inf")


async def test_malformed_json_and_huge_numbers_are_4xx(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/cameras", content="{", headers=JSON)).status_code == 422
    digits = '{"id": "cam2", "name": "x", "frame_width": 1' + "0" * 5000 + "}"
    assert (await client.post("/api/cameras", content=digits, headers=JSON)).status_code == 400
    deep = '{"id": "cam2", "name": "x", "z": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert (await client.post("/api/cameras", content=deep, headers=JSON)).status_code in (400, 422)
    assert (await client.post("/api/cameras", content=b"\xff\xfe{", headers=JSON)).status_code in (400, 422)


def test_safe_errors_encode_whatever_they_hold() -> None:
    errors = [
        {"type": "x", "loc": ("body", "a\ud800", 3), "msg": "m\udfff", "input": {"k\ud800": [float("inf")] * 100}},
        {"type": "y", "loc": ("body",), "msg": "m", "input": b"\xff" * 10_000, "ctx": {"error": ValueError("v")}},
    ]
    safe = safe_errors(errors)
    text = json.dumps(safe, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")
    assert safe[0]["loc"] == ["body", "a\ufffd", 3] and safe[0]["msg"] == "m\ufffd"
    assert safe[1]["ctx"] == {"error": "v"}
    assert len(text) < ECHO_BUDGET + 1000
