"""Sleep mode, as llama-server's ``--sleep-idle-seconds``: after that many seconds without a request that needs
the model, the model is unloaded (its weights, KV cache and embeddings context freed); the next such request
reloads it before it is served. ``/health``, ``/props`` (``is_sleeping``), ``/models``, ``/metrics`` and
``/slots`` answer from what was kept and never wake it; a CORS preflight does not either.

One :class:`Sleeper` per server, driven by :class:`SleepMiddleware` (pure ASGI, so that a streamed answer
counts as running until its last byte is sent) and by :meth:`Sleeper.watch`, a task of the server's lifespan.
Unloading and loading run in a worker thread under one asyncio lock, which every waking request also takes:
a request never meets a model that is being unloaded, and the model is unloaded only while no request runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

# Paths answered without the model: they neither wake it nor keep it awake (llama-server's list).
READ_ONLY_PATHS = frozenset(
    {"/health", "/v1/health", "/props", "/models", "/v1/models", "/metrics", "/slots"}
    | {"/openapi.json", "/docs", "/redoc", "/favicon.ico"}  # the API's description and a browser's icon
)


class Sleeper:
    """Tracks requests that need the model and unloads it after ``idle_seconds`` without one.

    ``unload`` and ``load`` are blocking callables (run in a worker thread); ``ready`` says whether the model has
    loaded at all (nothing sleeps before the first load ends)."""

    def __init__(
        self,
        idle_seconds: float,
        unload: Callable[[], None],
        load: Callable[[], None],
        ready: Callable[[], bool],
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        if idle_seconds <= 0:
            raise ValueError(f"idle_seconds must be positive, got {idle_seconds}")
        self.idle_seconds = idle_seconds
        self.sleeping = False
        self._unload, self._load, self._ready, self._busy = unload, load, ready, busy
        self.wake_error = ""  # why the last wake failed ("" once a load succeeds): /health is unhealthy meanwhile
        self._running = 0
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def enter(self) -> None:
        """A request that needs the model starts: wake the model first when it sleeps (the request waits for
        the load; a failed load is raised to it and the model stays asleep)."""
        async with self._lock:
            if self.sleeping:
                log.info("waking up: loading the model")
                try:
                    await asyncio.to_thread(self._load)
                except Exception as exc:
                    self.wake_error = f"{type(exc).__name__}: {exc}"
                    raise
                self.sleeping, self.wake_error = False, ""
            self._running += 1

    def leave(self) -> None:
        """That request has finished (its answer sent, or its client gone)."""
        self._running -= 1
        self._last = time.monotonic()

    async def sleep_if_idle(self) -> bool:
        """Unload the model when it is loaded, idle for ``idle_seconds`` and no request runs; whether it did."""
        if self.sleeping or self._running or self._busy() or not self._ready():
            return False
        if time.monotonic() - self._last < self.idle_seconds:
            return False
        async with self._lock:
            if self.sleeping or self._running or self._busy():
                return False
            log.info("idle for %.0f s: unloading the model until the next request", self.idle_seconds)
            try:
                await asyncio.to_thread(self._unload)
            except RuntimeError as exc:  # a slot still decoding after its client left: not idle yet
                log.debug("not unloading yet: %s", exc)
                self._last = time.monotonic()
                return False
            self.sleeping = True
            return True

    async def watch(self) -> None:
        """Check for idleness until cancelled (a few times per ``idle_seconds``, at least once a second)."""
        while True:
            await asyncio.sleep(min(1.0, self.idle_seconds / 4))
            try:
                await self.sleep_if_idle()
            except Exception:  # a model that fails to unload stays loaded; the server goes on
                log.exception("the model could not be unloaded")
                self._last = time.monotonic()


class SleepMiddleware:
    """Wakes the model for every HTTP request except :data:`READ_ONLY_PATHS` and CORS preflights, and counts it
    as running until its answer's last message is sent."""

    def __init__(self, app: ASGIApp, sleeper: Sleeper) -> None:
        self.app = app
        self.sleeper = sleeper

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in READ_ONLY_PATHS or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        try:
            await self.sleeper.enter()
        except Exception as exc:  # the model could not be loaded again: a 503 in llama.cpp's shape, not a crash
            body = {"error": {"code": 503, "message": f"Model failed to load: {exc}", "type": "unavailable_error"}}
            await JSONResponse(body, status_code=503)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.sleeper.leave()
