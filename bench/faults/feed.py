"""A WebSocket client on ``/ws/events`` for the whole run (reconnecting when the backend goes away): which events
were announced as assessed. An event assessed in the database but never announced so is a broadcast lost."""

from __future__ import annotations

import asyncio
import contextlib
import json

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException


class Feed:
    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self.announced_assessed: set[int] = set()
        self.messages = 0
        self.connections = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError, WebSocketException, TimeoutError):
                async with connect(self.ws_url, open_timeout=5, max_size=None) as ws:
                    self.connections += 1
                    while not stop.is_set():
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 1.0)
                        except TimeoutError:
                            continue
                        self._take(raw)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    def _take(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("type") != "event":
            return
        event = message.get("event") or {}
        self.messages += 1
        if event.get("status") == "assessed" and isinstance(event.get("id"), int):
            self.announced_assessed.add(event["id"])

    def unannounced(self, assessed_ids: set[int]) -> int:
        return len(assessed_ids - self.announced_assessed)
