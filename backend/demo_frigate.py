"""``python -m backend demo --frigate``: an evening and a night of Frigate, replayed through an MQTT broker into
the service, with what Home Assistant and a phone would receive printed as it happens.

The broker: MQTT_URL if set; else Mosquitto on 127.0.0.1:1883 if it answers; else a private ``mosquitto`` started
for the demo (its binary on PATH). Topics live under ``nemotron-demo/`` (Frigate's, Home Assistant discovery's
and our states), so a real Frigate or Home Assistant on the same broker neither feeds nor sees the demo. The
notifications go to a local Apprise ``json://`` endpoint. The session is :mod:`backend.frigate_replay`; the
database is the demo's own SQLite file (var/frigate-demo.db), the LLM the embedded one, as ``make demo``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time as clock
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import uvicorn
import websockets
from rich.console import Console

from ai.nemotron.launch import REPO, free_port, llm_server_at, port_in_use
from backend.demo import LEVEL_STYLE, show
from backend.frigate_replay import HOME_ZONE, HOUSEHOLD, NotificationSink, build_session, publish
from backend.services.mqtt_link import BrokerAddress

console = Console()
PREFIX = "nemotron-demo"
DEMO_DB = REPO / "var" / "frigate-demo.db"


@contextmanager
def broker_url() -> Iterator[str | None]:
    """The broker to use (see the module docstring); None when there is none and none can be started."""
    if os.environ.get("MQTT_URL"):
        yield os.environ["MQTT_URL"]
        return
    if port_in_use(1883):
        yield "mqtt://127.0.0.1:1883"
        return
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        yield None
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = clock.monotonic() + 10
            while not port_in_use(port) and clock.monotonic() < deadline:
                clock.sleep(0.05)
            yield f"mqtt://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def _print_notification(item: dict[str, Any]) -> None:
    title = str(item.get("title", ""))
    level = next((name for name in LEVEL_STYLE if name.upper() in title), "")
    style = LEVEL_STYLE.get(level, "white")
    body = str(item.get("message", "")).replace("\n", " | ")
    console.print(f"  [bold]phone[/] [{style}]{title}[/] [dim]{body}[/]")


async def _watch_home_assistant(url: str, stop: asyncio.Event) -> None:
    """Prints what Home Assistant would see: devices discovered, entity states as they change."""
    address = BrokerAddress.parse(url)
    announced: set[str] = set()
    states: dict[str, str] = {}
    async with aiomqtt.Client(
        address.hostname, address.port, username=address.username, password=address.password
    ) as client:
        await client.subscribe(f"{PREFIX}/homeassistant/#", qos=1)
        await client.subscribe(f"{PREFIX}/nemotron/#", qos=1)
        async for message in client.messages:
            if stop.is_set():
                return
            topic = message.topic.value
            payload = message.payload.decode() if isinstance(message.payload, bytes | bytearray) else ""
            if topic.endswith("/config") and payload:
                config = json.loads(payload)
                device = config.get("device", {}).get("name", "?")
                if device not in announced:
                    announced.add(device)
                    entities = ", ".join(c.get("name", "?") for c in config.get("components", {}).values())
                    console.print(f"  [bold]Home Assistant[/] discovered [cyan]{device}[/]: {entities}")
            elif topic.endswith(("/level", "/threat")) and "/camera/" in topic:
                camera = topic.split("/camera/", 1)[1].split("/", 1)[0]
                name = topic.rsplit("/", 1)[1]
                if states.get(topic) != payload:
                    states[topic] = payload
                    if name == "level":
                        console.print(f"  [bold]Home Assistant[/] [cyan]{camera}[/] risk level: {payload.upper()}")
                    elif payload == "ON":  # on while the activity was seen in the last HA_THREAT_HOLD_SECONDS
                        console.print(f"  [bold]Home Assistant[/] [cyan]{camera}[/] threat: [bold red]ON[/]")


async def _clear_retained(url: str) -> int:
    """Removes what earlier demo runs left retained under ``nemotron-demo/`` (discovery configs, states), so
    that what is printed is this run's. Returns how many topics it cleared."""
    address = BrokerAddress.parse(url)
    stale: set[str] = set()
    async with aiomqtt.Client(
        address.hostname, address.port, username=address.username, password=address.password
    ) as client:
        await client.subscribe(f"{PREFIX}/#", qos=1)
        try:
            async with asyncio.timeout(1.5):
                async for message in client.messages:
                    if message.retain and message.payload:
                        stale.add(message.topic.value)
        except TimeoutError:
            pass
        for topic in stale:
            await client.publish(topic, b"", qos=1, retain=True)
    return len(stale)


async def _run(url: str, keep_running: bool, port: int) -> int:
    from backend.api.app import create_app
    from backend.config.settings import BackendSettings

    api = f"http://127.0.0.1:{port}"
    await _clear_retained(url)
    with NotificationSink(on_receive=_print_notification) as sink:
        settings = BackendSettings(
            database_url=f"sqlite:///{DEMO_DB}",
            mqtt_url=url,  # pydantic makes it a SecretStr
            mqtt_client_id="nemotron-demo",  # one broker session for every run, not one left behind per run
            frigate_topic_prefix=f"{PREFIX}/frigate",
            ha_discovery_prefix=f"{PREFIX}/homeassistant",
            ha_state_prefix=f"{PREFIX}/nemotron",
            timezone=HOME_ZONE.key,
            notify_urls=[sink.url],
            notify_min_level="high",
        )
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                return 1
            await asyncio.sleep(0.1)
        stop = asyncio.Event()
        watcher = asyncio.create_task(_watch_home_assistant(url, stop))
        yesterday = (datetime.now(HOME_ZONE) - timedelta(days=1)).date()
        session = build_session(day=yesterday, prefix=f"{PREFIX}/frigate", salt=secrets.token_hex(2)[:3])
        console.print(f"Backend at {api}; MQTT broker {url.split('@')[-1]}; home time zone {HOME_ZONE.key}\n")
        console.print("[bold]Replaying Frigate[/] (a delivery, Alice coming home, a night visitor):")
        for incident in session.incidents:
            console.print(f"  [dim]- {incident.name} on {', '.join(incident.cameras)}[/]")
        async with (
            websockets.connect(f"ws://127.0.0.1:{port}/ws/events") as ws,
            httpx.AsyncClient(base_url=api, timeout=60) as client,
        ):
            (await client.put("/api/household", json=HOUSEHOLD)).raise_for_status()
            await publish(url, session.messages, pause=0.05)
            console.print(f"  [dim]{len(session.messages)} Frigate messages sent[/]\n")
            console.print("[bold]As it happens[/] (each event as stored; Home Assistant; the phone):")
            cameras = {camera for incident in session.incidents for camera in incident.cameras}
            assessed: set[str] = set()
            try:
                async with asyncio.timeout(900):
                    while True:
                        try:
                            async with asyncio.timeout(20 if cameras <= assessed else 900):
                                message = json.loads(await ws.recv())
                        except TimeoutError:
                            break  # every camera assessed and nothing new for 20 s: the night is over
                        if message.get("type") != "event":
                            continue
                        event = message["event"]
                        show(event)
                        if event.get("kind") == "batch" and event.get("status") == "assessed":
                            assessed.add(event.get("camera_id"))
            except TimeoutError:
                console.print("[red]timed out waiting for events[/]")
            health = (await client.get("/health")).json()
        stop.set()
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        frigate = health.get("integrations", {}).get("frigate", {})
        notes = health.get("integrations", {}).get("notifications", {})
        console.print(
            f"\n[bold]Summary[/]: {frigate.get('stored', 0)} Frigate frames stored "
            f"({frigate.get('duplicates', 0)} repeats and {frigate.get('false_positives', 0)} false positive skipped), "
            f"{frigate.get('batches_closed_by_review', 0)} batches closed by Frigate's reviews, "
            f"{len(sink.received)} phone notification(s) "
            f"({notes.get('below_level', 0)} event(s) below {settings.notify_min_level} stayed quiet)."
        )
        console.print(
            "[dim]The replay is of last night: Home Assistant's threat sensor, on for "
            f"{settings.ha_threat_hold_seconds / 60:g} minutes after a high or critical activity was last seen, "
            "stays off; live from Frigate it turns on at once.[/]"
        )
        if keep_running:
            console.print(f"\nAll events: {api}/api/events   API docs: {api}/docs   Serving until Ctrl-C.")
            await serving
        server.should_exit = True
        await serving
    return 0


def run_frigate_demo(keep_running: bool = False, llm_url: str | None = None) -> int:
    """Starts the LLM server (unless one answers), the backend and, if needed, a broker; replays the session."""
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    url = llm_url or os.environ.get("LLM_URL", "http://127.0.0.1:8091")
    DEMO_DB.parent.mkdir(exist_ok=True)
    log = REPO / "var" / "llm-server.log"
    with broker_url() as mqtt:
        if mqtt is None:
            console.print(
                "[red]No MQTT broker[/]: set MQTT_URL, run Mosquitto on 127.0.0.1:1883, or install it "
                "(Debian/Ubuntu: sudo apt install mosquitto)."
            )
            return 1
        console.print(f"Starting (LLM server log: {log}) ...")
        with llm_server_at(url, log_file=log) as llm:
            os.environ["LLM_URL"] = llm
            console.print(f"LLM server at {llm}")
            port = free_port() if port_in_use(8000) else 8000
            return asyncio.run(_run(mqtt, keep_running, port))
