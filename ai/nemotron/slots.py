"""The slot pool: N independent KV caches, one request each; extra requests wait their turn.

A request gets the free slot whose cache shares the longest prefix with its prompt (what llama-server
does), so the analyzer's static system prompt stays cached. A slot goes back to the pool only once its
worker thread has finished, even if the client went away, so two requests never touch one cache. A request
whose client leaves while it waits for a slot leaves the queue at once (``acquire``'s ``abandoned``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TypeVar

from ai.nemotron.engines.base import EngineSlot

T = TypeVar("T")


class SlotPool:
    def __init__(self, slots: list[EngineSlot]) -> None:
        self.slots = slots
        self._free = list(slots)
        # one worker thread per slot: every slot can generate at once (the default executor has only
        # cpu_count + 4 threads, which would keep slots of a wide --parallel out of the batch)
        self.executor = ThreadPoolExecutor(max_workers=max(1, len(slots)), thread_name_prefix="slot")
        self._cond = asyncio.Condition()
        self.deferred = 0  # requests waiting for a slot

    @property
    def processing(self) -> int:
        return len(self.slots) - len(self._free)

    def busy(self, slot: EngineSlot) -> bool:
        """Whether a request holds ``slot`` now."""
        return slot not in self._free

    @asynccontextmanager
    async def acquire(
        self, prompt_tokens: list[int], abandoned: Callable[[], bool] = lambda: False
    ) -> AsyncIterator[EngineSlot]:
        """The free slot sharing the longest prefix with ``prompt_tokens``; waits while all are busy.

        Raises :class:`Abandoned` instead when ``abandoned()`` turns true first (call :meth:`wake` after
        making it true, so that the waiter looks again).
        """
        async with self._cond:
            self.deferred += 1
            try:
                await self._cond.wait_for(lambda: bool(self._free) or abandoned())
            finally:
                self.deferred -= 1
            if abandoned():
                raise Abandoned
            slot = max(self._free, key=lambda s: s.common_prefix(prompt_tokens))
            self._free.remove(slot)
        try:
            yield slot
        finally:
            async with self._cond:
                self._free.append(slot)
                self._cond.notify_all()  # a woken waiter may be abandoned: let every waiter look

    async def wake(self) -> None:
        """Make waiting requests check whether they were abandoned."""
        async with self._cond:
            self._cond.notify_all()


class Abandoned(Exception):
    """The request was abandoned (its client left) while it waited for a slot."""


async def run_in_thread(fn: Callable[[], T], cancelled: threading.Event, executor: Executor | None = None) -> T:
    """Run ``fn`` in a worker thread of ``executor`` (default: the loop's); if the caller is cancelled, signal
    ``cancelled`` and still wait for the thread to finish before re-raising, so the slot it uses is never
    handed out mid-request."""
    future = asyncio.get_running_loop().run_in_executor(executor, fn)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        cancelled.set()
        await asyncio.wait([future])
        raise
