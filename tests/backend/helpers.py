"""Test doubles and data builders for the storage, batching and API tests.

``StubAnalyzer`` stands in for ``NemotronAnalyzer`` (built by another team): it stores a fixed assessment
through ``event_store.save_event``, or fails on demand. Databases and Redis are never faked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db.session import run_unit_of_work
from backend.domain.scenario import DetectionIn
from backend.models import Camera, Detection, Event, table_of, utcnow
from backend.services.detection_rows import detection_row, detector_id
from backend.services.event_store import Assessed, fast_path_key, save_event


def detection(
    detection_id: str,
    detected_at: datetime,
    object_type: str = "person",
    confidence: float = 0.5,
    **extra: Any,
) -> DetectionIn:
    return DetectionIn.model_validate(
        {"id": detection_id, "detected_at": detected_at, "object_type": object_type, "confidence": confidence, **extra}
    )


def detection_json(camera_id: str, detection_id: str, detected_at: str, **extra: Any) -> dict[str, Any]:
    return {
        "camera_id": camera_id,
        "id": detection_id,
        "detected_at": detected_at,
        "object_type": "person",
        "confidence": 0.5,
        **extra,
    }


async def add_camera(session: AsyncSession, camera_id: str, name: str | None = None) -> None:
    session.add(Camera(id=camera_id, name=name or camera_id.replace("_", " ").title()))
    await session.commit()


async def store_detections(
    session: AsyncSession, camera_id: str, detections: Sequence[DetectionIn], batch_id: str | None = None
) -> list[int]:
    """Stores detections directly (history); returns their primary keys in order."""
    rows = [detection_row(camera_id, d, batch_id=batch_id, fast_path=False, created_at=utcnow()) for d in detections]
    await session.execute(insert(table_of(Detection)), rows)
    await session.commit()
    ids = [d.id for d in detections]
    found = await session.execute(
        select(Detection.detection_id, Detection.id).where(
            Detection.camera_id == camera_id, Detection.detection_id.in_(ids)
        )
    )
    pk_of = dict(found.all())
    return [pk_of[i] for i in ids]


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 10, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class StubAnalyzer:
    """The analyzer's interface with a fixed assessment; the first ``failures`` calls raise ``error`` (an
    injected fault: a RuntimeError stands for a bug, an LLMUnavailableError for an outage; a plain OSError such as
    ConnectionError would read as a storage outage, see ``backend.services.outages``)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        failures: int = 0,
        delay: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.sessions = sessions
        self.failures = failures
        self.delay = delay
        self.error = error or RuntimeError("analyzer bug (injected)")
        self.batch_calls: list[tuple[str, str, list[int]]] = []
        self.fast_calls: list[tuple[str, int]] = []

    async def _maybe_fail(self) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            raise self.error

    async def analyze_batch(self, batch_id: str, camera_id: str, detection_ids: list[int]) -> Event:
        self.batch_calls.append((batch_id, camera_id, list(detection_ids)))
        await self._maybe_fail()
        return await run_unit_of_work(
            self.sessions,
            save_event,
            batch_id=batch_id,
            camera_id=camera_id,
            kind="batch",
            detection_pks=detection_ids,
            outcome=Assessed(risk_score=20, risk_level="low", summary="stub batch", template="stub"),
        )

    async def analyze_detection_fast_path(self, camera_id: str, detection_id: int) -> Event:
        self.fast_calls.append((camera_id, detection_id))
        await self._maybe_fail()
        external = await run_unit_of_work(self.sessions, detector_id, detection_id)
        assert external is not None
        return await run_unit_of_work(
            self.sessions,
            save_event,
            batch_id=fast_path_key(camera_id, external),
            camera_id=camera_id,
            kind="fast_path",
            detection_pks=[detection_id],
            outcome=Assessed(risk_score=90, risk_level="critical", summary="stub fast path"),
        )


FRIGATE_CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "frigate_config"


class FrigateAPI:
    """A stand-in for Frigate's HTTP API on 127.0.0.1 (``url``): answers GET /api/config with ``config`` (or
    ``status`` and ``body``, to inject a fault); ``requests`` holds the paths asked for. The ``frigate`` fixture
    (conftest) serves it on a thread."""

    def __init__(self) -> None:
        self.config: dict[str, Any] | None = None
        self.status = 200
        self.body: bytes | None = None
        self.requests: list[str] = []
        frigate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                frigate.requests.append(self.path)
                body = frigate.body if frigate.body is not None else json.dumps(frigate.config).encode()
                status = frigate.status if self.path == "/api/config" else 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self, fixture: str | dict[str, Any]) -> None:
        """Answer with a config: a file name under tests/fixtures/frigate_config, or the config itself."""
        self.config = json.loads((FRIGATE_CONFIGS / fixture).read_text()) if isinstance(fixture, str) else fixture
        self.status, self.body = 200, None
