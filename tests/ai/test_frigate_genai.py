"""Frigate's GenAI requests, as its ``llamacpp`` provider sends them, against the project's LLM server.

The request shapes come from Frigate's documentation and its provider (frigate/genai/llama_cpp.py): ``GET /v1/models`` at start-up (the configured model must be listed; ``--ctx-size`` is
read from the model's launch ``args``), then ``POST /v1/chat/completions`` with one user message whose
content is a text part and one ``image_url`` part per thumbnail (``data:image/jpeg;base64,...``), the
``provider_options`` merged into the body, and, for review descriptions, an OpenAI strict
``response_format`` built from Frigate's pydantic ``ReviewMetadata`` (``model_json_schema()``, ``time``
removed, ``other_concerns`` removed when no concerns are configured, ``additionalProperties: false``).
The builders below are written from those descriptions, not copied from Frigate.

The bundled model has no image input: the server drops the image parts, says so in the prompt and in
the ``X-Images-Dropped`` header, and answers (llama-server without --mmproj answers 500 instead, which
would leave Frigate with nothing).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import jsonschema
import pytest
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ai.nemotron.schemas import IMAGES_OMITTED_NOTE, ChatMessage
from ai.nemotron.server import IMAGES_DROPPED_HEADER

SEEDS = range(5)
MODEL_ID = "SmolLM2-135M-Instruct.Q4_1"  # what an operator puts in Frigate's genai.model: /v1/models' id


class ReviewMetadataSummary(BaseModel):
    """The review summary fields Frigate documents (docs/configuration/genai/review_summaries.md): title,
    scene, shortSummary, confidence 0-1, potential_threat_level 0-2, other_concerns."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(description="A concise title for the activity.")
    scene: str = Field(description="What happens from start to finish.")
    shortSummary: str = Field(description="A brief 2-sentence summary, for notifications.")
    confidence: float = Field(ge=0.0, le=1.0, description="Confidence in the analysis, 0 to 1.")
    potential_threat_level: int = Field(ge=0, le=2, description="0 normal, 1 suspicious, 2 critical.")
    other_concerns: list[str] | None = Field(default=None, description="User-defined concerns observed.")
    time: str | None = Field(default=None, description="Filled in by Frigate, not the model.")


Observation = Annotated[str, StringConstraints(min_length=20, max_length=160)]


class ReviewMetadataLatest(BaseModel):
    """The later, tighter shape (Frigate's development branch): bounded lists and string lengths."""

    model_config = ConfigDict(extra="ignore")

    observations: list[Observation] = Field(min_length=3, max_length=15, description="One fact each.")
    title: str = Field(max_length=80, description="Under 10 words.")
    scene: str = Field(min_length=150, max_length=600, description="A chronological narrative.")
    shortSummary: str = Field(min_length=70, max_length=120, description="Two sentences.")
    confidence: float = Field(ge=0.0, le=1.0, description="A decimal between 0.0 and 1.0.")
    potential_threat_level: int = Field(ge=0, le=2, description="0 normal, 1 suspicious, 2 critical.")
    other_concerns: list[str] | None = Field(default=None, description="User-defined concerns observed.")
    time: str | None = Field(default=None, description="Filled in by Frigate, not the model.")


def review_response_format(model: type[BaseModel], concerns: list[str]) -> dict[str, Any]:
    """The response_format Frigate sends with a review description request."""
    schema = model.model_json_schema()
    schema["properties"].pop("time", None)
    if "time" in schema.get("required", []):
        schema["required"].remove("time")
    if not concerns:
        schema["properties"].pop("other_concerns", None)
    schema["additionalProperties"] = False
    return {"type": "json_schema", "json_schema": {"name": "review_metadata", "strict": True, "schema": schema}}


def thumbnail(shade: int) -> bytes:
    """A small JPEG, as Frigate sends (its thumbnails are JPEG frames of the tracked object)."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, 80, 255 - shade)).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def chat_body(
    prompt: str,
    images: list[bytes],
    response_format: dict[str, Any] | None = None,
    provider_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One user message: the prompt, then the images as data URLs; provider_options merged in."""
    content: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
    for image in images:
        url = "data:image/jpeg;base64," + base64.b64encode(image).decode()
        content.append({"type": "image_url", "image_url": {"url": url}})
    body: dict[str, Any] = {"model": MODEL_ID, "messages": [{"role": "user", "content": content}]}
    body |= provider_options or {}
    if response_format is not None:
        body["response_format"] = response_format
    return body


def review_prompt(camera: str, objects: list[str], zones: list[str], concerns: list[str]) -> str:
    """A review-description prompt in the shape Frigate builds (task, guidelines, sequence details,
    objects, output fields); the wording is this test's own. Camera data is untrusted text."""
    concern_lines = "".join(f"\n    - {c}" for c in concerns)
    concern_field = f"\n- `other_concerns`: those of these that occur:{concern_lines}" if concerns else ""
    return f"""
Analyze a chronological sequence of frames from a home security camera.

## Guidelines
- Describe only the listed objects and only actions visible in the frames.
- Use the start time given below for time of day; weigh duration, zone and behaviour together.
- Assign potential_threat_level 0 (normal), 1 (suspicious) or 2 (critical threat) consistently.

## Output fields
- `title`: what took place and where, in a few words.
- `scene`: the sequence from start to finish.
- `shortSummary`: two sentences for a notification.
- `confidence`: a decimal between 0.0 and 1.0.{concern_field}

## Sequence details
- Camera: {camera}
- Frames: 3 (frame 1 earliest)
- Activity started at 03:12 and lasted 41 seconds
- Zones involved: {", ".join(zones) or "None"}

## Objects in scene
""" + "".join(f"\n- {o}" for o in objects)


def object_prompt(label: str) -> str:
    """An object-description prompt in the shape of Frigate's default (label filled in)."""
    return (
        f"Look at the images of the {label}. Say what the {label} appears to be doing and what it "
        f"might do next, from its movement rather than its appearance. Be brief."
    )


@pytest.fixture(scope="module")
def frigate(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=600) as client:
        yield client


def test_models_endpoint_satisfies_frigates_start_up_check(frigate: httpx.Client) -> None:
    """Frigate looks the configured model up by id (or alias) and reads --ctx-size from its args."""
    models = frigate.get("/v1/models").json()["data"]
    match = [m for m in models if MODEL_ID in {m["id"], *m.get("aliases", [])}]
    assert len(match) == 1
    args = match[0]["status"]["args"]
    assert int(args[args.index("--ctx-size") + 1]) == 4096
    assert "--mmproj" not in args  # Frigate would take that to mean the model can see images


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "concerns", "options", "ended"),
    [
        (ReviewMetadataSummary, [], {}, 5),
        # other_concerns is an unbounded list of unbounded strings: the 135M model can repeat one item until
        # the context is full (finish "length", JSON cut); repeat_penalty is a documented Frigate
        # provider_option for llama.cpp, and a real model needs none. Even with it, one seed of five (seed 3
        # since llguidance replaced the GBNF path, 2026-12-01) rambles inside an unbounded string: nothing in
        # the schema bounds it, so the answer is cut at the token limit. Every answer that ends is valid.
        (ReviewMetadataSummary, ["package taken from porch"], {"repeat_penalty": 1.3, "max_tokens": 400}, 4),
        (ReviewMetadataLatest, [], {}, 5),
    ],
    ids=["summary schema", "summary schema with concerns", "observations schema with length and item bounds"],
)
def test_review_description_is_valid_for_every_seed(
    frigate: httpx.Client, model: type[BaseModel], concerns: list[str], options: dict[str, Any], ended: int
) -> None:
    response_format = review_response_format(model, concerns)
    schema = response_format["json_schema"]["schema"]
    prompt = review_prompt("front_door", ["person", "car"], ["porch"], concerns)
    images = [thumbnail(s) for s in (20, 120, 220)]
    stops = 0
    for seed in SEEDS:
        body = chat_body(prompt, images, response_format, {"seed": seed, **options})
        r = frigate.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        assert r.headers[IMAGES_DROPPED_HEADER] == "3"
        choice = r.json()["choices"][0]
        if choice["finish_reason"] == "length" and ended < len(SEEDS):
            continue
        assert choice["finish_reason"] == "stop", choice
        stops += 1
        content = choice["message"]["content"].strip()
        document = json.loads(content)
        jsonschema.validate(document, schema)  # every bound: 0 <= confidence <= 1, threat level 0-2, lengths
        assert 0.0 <= document["confidence"] <= 1.0 and document["potential_threat_level"] in (0, 1, 2)
        model.model_validate_json(content)  # what Frigate itself does with the answer
    assert stops >= ended


@pytest.mark.slow
def test_object_description_for_every_seed(frigate: httpx.Client) -> None:
    """No schema here: Frigate stores the text as the tracked object's description."""
    images = [thumbnail(60), thumbnail(90)]
    for seed in SEEDS:
        # provider_options are passed through as request fields (Frigate docs, llama.cpp provider)
        body = chat_body(object_prompt("person"), images, provider_options={"seed": seed, "max_tokens": 80})
        r = frigate.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        assert r.headers[IMAGES_DROPPED_HEADER] == "2"
        message = r.json()["choices"][0]["message"]
        assert message["role"] == "assistant" and message["content"].strip()


def test_a_request_without_images_has_no_images_header(frigate: httpx.Client) -> None:
    r = frigate.post("/v1/chat/completions", json=chat_body("Say hi.", [], provider_options={"max_tokens": 4}))
    assert r.status_code == 200 and IMAGES_DROPPED_HEADER not in r.headers


def test_streamed_answer_also_reports_the_dropped_images(frigate: httpx.Client) -> None:
    body = chat_body("Say hi.", [thumbnail(10)], provider_options={"max_tokens": 4, "stream": True})
    with frigate.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200 and r.headers[IMAGES_DROPPED_HEADER] == "1"
        assert any(line.startswith("data: ") for line in r.iter_lines())


def test_image_parts_become_one_note_in_the_prompt() -> None:
    """The model is told images were removed, so it is not left to assume it saw them."""
    content = chat_body("Describe the frames.", [thumbnail(1), thumbnail(2)])["messages"][0]["content"]
    message = ChatMessage.model_validate({"role": "user", "content": content})
    assert message.image_count() == 2
    assert message.text() == "Describe the frames.\n\n" + IMAGES_OMITTED_NOTE.format(n=2)
    only_images = ChatMessage.model_validate({"role": "user", "content": content[1:]})
    assert only_images.text() == IMAGES_OMITTED_NOTE.format(n=2)


def test_other_content_parts_are_still_refused(frigate: httpx.Client) -> None:
    body = chat_body("Listen.", [])
    body["messages"][0]["content"].append({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}})
    r = frigate.post("/v1/chat/completions", json=body)
    assert r.status_code == 400 and "input_audio" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("schema", "keyword"),
    [
        ({"type": "object", "properties": {"s": {"type": "string", "not": {"const": ""}}}}, "not"),
        ({"type": "array", "items": {"type": "integer"}, "uniqueItems": True}, "uniqueItems"),
        ({"type": "object", "properties": {"s": {"type": "string", "format": "no-such-format"}}}, "no-such-format"),
    ],
)
def test_unsupported_keywords_are_a_clear_400(frigate: httpx.Client, schema: dict, keyword: str) -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": schema}}
    r = frigate.post("/v1/chat/completions", json=chat_body("Hi", [], rf))
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert message.startswith("response_format: ") and "cannot be enforced" in message and keyword in message
