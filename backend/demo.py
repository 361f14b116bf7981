"""The main job on the embedded default, end to end, as a newcomer sees it (``make demo``).

It starts the project's LLM server with the bundled model (unless one answers at LLM_URL) and the
backend on SQLite without Redis, then plays a few camera scenarios from data/synthetic through the REST
API exactly as a detector would post them, and prints each risk event the moment the WebSocket
announces it. Batches close after a few idle seconds here (BATCH_IDLE_SECONDS) so the demo is quick.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from itertools import zip_longest
from typing import Any

import httpx
import uvicorn
import websockets
from rich.console import Console
from rich.table import Table

from ai.nemotron.launch import REPO, free_port, llm_server_at, port_in_use
from backend.domain.risk_levels import RiskLevel
from backend.domain.scenario import ScenarioInput

DATASET = REPO / "data" / "synthetic"
LEVEL_STYLE: dict[str, str] = {  # rich styles, one per level of the one table
    RiskLevel.LOW: "green",
    RiskLevel.MEDIUM: "yellow",
    RiskLevel.HIGH: "bold red",
    RiskLevel.CRITICAL: "bold white on red",
}
DEMO_SETTINGS = {
    "BATCH_IDLE_SECONDS": "3",
    "BATCH_WINDOW_SECONDS": "20",
    "BATCH_TICK_SECONDS": "0.5",
    "LOG_LEVEL": "WARNING",
}
console = Console()


def pick_scenarios(count: int) -> list[tuple[str, ScenarioInput]]:
    """A varied handful, normal, suspicious and threat scenarios in turn (only detections.json is read)."""
    folders = [
        sorted(p.parent for p in (DATASET / c).glob("*/detections.json")) for c in ("normal", "suspicious", "threats")
    ]
    interleaved = [f for group in zip_longest(*folders) for f in group if f is not None]
    if not interleaved:
        raise FileNotFoundError(f"no scenarios under {DATASET}")
    return [
        (f"{f.parent.name}/{f.name}", ScenarioInput.model_validate_json((f / "detections.json").read_text()))
        for f in interleaved[:count]
    ]


async def feed(client: httpx.AsyncClient, scenario: ScenarioInput, run: str) -> int:
    """Post one scenario as a detector and its installer would: camera, zones, household, detections."""
    camera = scenario.camera.model_dump(mode="json")
    (await client.post("/api/cameras", json=camera)).raise_for_status()
    zones = [z.model_dump(mode="json") for z in scenario.zones]
    (await client.put(f"/api/cameras/{scenario.camera.id}/zones", json=zones)).raise_for_status()
    (await client.put("/api/household", json=scenario.household.model_dump(mode="json"))).raise_for_status()
    detections = [
        {**d.model_dump(mode="json"), "id": f"{run}-{d.id}", "camera_id": scenario.camera.id}
        for d in scenario.detections
    ]
    (await client.post("/api/detections/bulk", json={"detections": detections})).raise_for_status()
    return len(detections)


def show(event: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    level = event.get("risk_level") or "-"
    score = "-" if event.get("risk_score") is None else str(event["risk_score"])
    status = "" if event.get("status") == "assessed" else f" [magenta]{event.get('status')}[/]"
    table.add_row(
        f"[{LEVEL_STYLE.get(level, 'white')}]{level.upper():>8}[/] {score:>3}",
        f"[cyan]{event.get('camera_id')}[/] ({event.get('kind')}){status}",
        event.get("summary") or event.get("error") or "",
    )
    console.print(table)


async def _run(scenarios: list[tuple[str, ScenarioInput]], keep_running: bool, api: str, port: int) -> int:
    from backend.api.app import create_app
    from backend.config.settings import get_settings

    server = uvicorn.Server(
        uvicorn.Config(create_app(get_settings()), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            return 1
        await asyncio.sleep(0.1)
    console.print(f"Backend at {api}  (API docs: [link]{api}/docs[/link])\n")
    expected = {s.camera.id for _, s in scenarios}
    seen: set[str] = set()
    run = uuid.uuid4().hex[:6]
    async with (
        websockets.connect(f"ws://127.0.0.1:{port}/ws/events") as ws,
        httpx.AsyncClient(base_url=api, timeout=60) as client,
    ):
        for name, scenario in scenarios:
            n = await feed(client, scenario, run)
            console.print(f"[dim]posted {n:>3} detections from {scenario.camera.name!r} ({name})[/]")
        console.print("\n[bold]Risk events as they arrive[/] (batches close after a few idle seconds):")
        try:
            async with asyncio.timeout(600):
                while not expected <= seen:
                    message = json.loads(await ws.recv())
                    if message.get("type") != "event":
                        continue
                    event = message["event"]
                    show(event)
                    if event.get("kind") == "batch":
                        seen.add(event.get("camera_id"))
        except TimeoutError:
            console.print("[red]timed out waiting for events[/]")
            return 1
    if keep_running:
        console.print(f"\nAll events: {api}/api/events   API docs: {api}/docs   Serving until Ctrl-C.")
        await serving
    else:
        console.print("\nTo browse the events and the API docs, run: .venv/bin/python -m backend demo --keep-running")
    server.should_exit = True
    await serving
    return 0


def run_demo(scenarios: int = 4, keep_running: bool = False, llm_url: str | None = None) -> int:
    for key, value in DEMO_SETTINGS.items():
        os.environ.setdefault(key, value)
    url = llm_url or os.environ.get("LLM_URL", "http://127.0.0.1:8091")
    chosen = pick_scenarios(scenarios)
    port = free_port() if port_in_use(8000) else 8000
    log = REPO / "var" / "llm-server.log"
    log.parent.mkdir(exist_ok=True)
    console.print(f"Starting (LLM server log: {log}) ...")
    with llm_server_at(url, log_file=log) as llm:
        os.environ["LLM_URL"] = llm
        console.print(f"LLM server at {llm}")
        return asyncio.run(_run(chosen, keep_running, f"http://127.0.0.1:{port}", port))
