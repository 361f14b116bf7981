"""Event fan-out to WebSocket clients: in this process, or through Redis pub/sub across processes.

With Redis, ``publish`` goes to the channel and one listener per process hands each message to the local
subscribers; without it, ``publish`` hands it to them directly. A subscriber that falls more than
``queue_size`` messages behind loses the oldest ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class Subscription:
    """An async iterator of published messages; registered from creation until ``close()`` (or ``async with``)."""

    def __init__(self, broadcaster: Broadcaster, queue_size: int) -> None:
        self._broadcaster = broadcaster
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=queue_size)

    def put(self, message: dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(message)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return await self.queue.get()

    def close(self) -> None:
        self._broadcaster.unsubscribe(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Broadcaster:
    def __init__(self, redis: Redis | None = None, channel: str = "events", queue_size: int = 1000) -> None:
        self._redis = redis
        self._channel = channel
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """With Redis: subscribes to the channel (before returning) and starts relaying it locally."""
        if self._redis is None or self._listener is not None:
            return
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._channel)
        self._listener = asyncio.create_task(self._relay(pubsub))

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    async def publish(self, message: dict[str, Any]) -> None:
        if self._redis is None:
            self._deliver(message)
        else:
            await self._redis.publish(self._channel, json.dumps(message, default=str))

    def subscribe(self) -> Subscription:
        subscription = Subscription(self, self._queue_size)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def _deliver(self, message: dict[str, Any]) -> None:
        for subscription in list(self._subscribers):
            subscription.put(message)

    async def _relay(self, pubsub: PubSub) -> None:
        try:
            while True:
                try:
                    received = await pubsub.get_message(timeout=1.0)
                except RedisError:
                    logger.warning("event channel unreachable, retrying", exc_info=True)
                    await asyncio.sleep(1.0)
                    continue
                if received is not None and received.get("type") == "message" and self._subscribers:
                    self._deliver(json.loads(received["data"]))
        finally:
            await pubsub.aclose()
