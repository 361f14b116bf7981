"""Work a service starts and does not wait for at once (batch deliveries, re-assessments).

``BackgroundTasks`` keeps each task referenced until it ends (asyncio keeps only weak references), waits for
all of them and any they start (``drain``: tests, shutdown, demos) or cancels them (``stop``). A task that ends
with an exception is logged with ``failure_message`` (None: the work logs its own failures).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any


class BackgroundTasks:
    def __init__(self, logger: logging.Logger, failure_message: str | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._logger = logger
        self._failure_message = failure_message

    def spawn(self, work: Coroutine[Any, Any, object]) -> asyncio.Task[Any]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if self._failure_message and not task.cancelled() and task.exception() is not None:
            self._logger.error(self._failure_message, exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Waits until every task started so far (and any it started) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Cancels the tasks in progress and waits for them to end."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
