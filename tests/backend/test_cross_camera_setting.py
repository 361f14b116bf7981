"""CROSS_CAMERA_MINUTES (BackendSettings.cross_camera_minutes) sets the cross-camera window of the analyzer:
which other cameras' sightings the context keeps, and the window the prompt says it looked at."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from backend.config.settings import BackendSettings
from backend.domain.scenario import ScenarioInput
from backend.services.nemotron_analyzer import NemotronAnalyzer
from backend.services.prompts import estimate_tokens

START = datetime.fromisoformat("2026-03-10T14:12:00-05:00")


class Sent(Exception):  # not an error: the prompt, caught on its way to the LLM
    def __init__(self, user: str) -> None:
        self.user = user


class CatchingLLM:
    """Stops the analysis with the prompt the analyzer sends: what happens after the answer is not this test's."""

    async def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def complete(self, *, system: str, user: str, chatml: str, **_: Any) -> None:
        raise Sent(user)


def _scenario() -> ScenarioInput:
    sighting = {
        "camera_id": "driveway",
        "camera_name": "Driveway",
        "detected_at": (START - timedelta(minutes=12)).isoformat(),
        "object_type": "person",
    }
    detection = {"id": "d1", "detected_at": START.isoformat(), "object_type": "person", "confidence": 0.9}
    return ScenarioInput.model_validate(
        {"camera": {"id": "front_door", "name": "Front Door"}, "detections": [detection], "cross_camera": [sighting]}
    )


async def _prompt_with(settings: BackendSettings) -> str:
    analyzer = NemotronAnalyzer(settings=settings, llm_client=CatchingLLM())  # type: ignore[arg-type]
    with pytest.raises(Sent) as sent:
        await analyzer.assess(_scenario(), template="enriched")  # the template that shows the section either way
    return sent.value.user


@pytest.mark.parametrize(
    ("minutes", "line"),
    [
        (15, 'Other cameras within 15 min: driveway "Driveway" person x1 at -720s'),
        (10, "Other cameras within 10 min: no sightings"),
    ],
)
async def test_the_setting_is_the_window_of_context_and_prompt(minutes: float, line: str) -> None:
    """A sighting 12 minutes before the batch: in with 15 minutes, out with 10."""
    user = await _prompt_with(BackendSettings(cross_camera_minutes=minutes, llm_url="http://127.0.0.1:9"))
    assert line in user


async def test_the_environment_variable_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSS_CAMERA_MINUTES", "15")
    user = await _prompt_with(BackendSettings(llm_url="http://127.0.0.1:9"))
    assert 'Other cameras within 15 min: driveway "Driveway"' in user
    monkeypatch.delenv("CROSS_CAMERA_MINUTES")
    assert "Other cameras within 10 min: no sightings" in await _prompt_with(
        BackendSettings(llm_url="http://127.0.0.1:9")
    )
