"""Event fan-out to WebSocket clients: in this process, or through Redis pub/sub across processes.

With Redis, ``publish`` goes to the channel and one listener per process hands each message to the local
subscribers; without it, ``publish`` hands it to them directly. A subscriber that falls more than
``queue_size`` messages behind loses the oldest ones.

Redis outages: a message whose publish fails (connection refused or reset, timeout) goes to an in-memory
outbox, and so does every later message until the outbox is empty again, so the order holds. A background task
publishes the outbox, oldest first, once Redis answers and this process's listener has subscribed again (its
own clients then get every message). The outbox keeps the newest ``outbox_size`` messages; an update to an
event carries the whole event, so a dropped older message is superseded by a newer one for the same event. The
listener re-subscribes after a lost connection. What the outbox cannot cover: a message published by another
process whose Redis connection stayed up while this process's listener was disconnected; pub/sub keeps no
history. The database stays the record: ``GET /api/events`` shows every event as stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

PUBLISH_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


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
    def __init__(
        self,
        redis: Redis | None = None,
        channel: str = "events",
        queue_size: int = 1000,
        *,
        outbox_size: int = 10_000,
        retry_seconds: float = 1.0,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._queue_size = queue_size
        self._retry_seconds = retry_seconds
        self._subscribers: set[Subscription] = set()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()  # this process's listener is subscribed (or there is none)
        self._outbox: deque[str] = deque(maxlen=outbox_size)
        self._dropped = 0
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        """Messages waiting in the outbox for Redis to come back."""
        return len(self._outbox)

    async def start(self) -> None:
        """With Redis: subscribes to the channel (before returning, when Redis answers) and starts relaying it
        locally; when Redis is down the listener keeps trying in the background."""
        if self._redis is None or self._listener is not None:
            return
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._channel)
        except (RedisError, OSError) as exc:
            logger.warning("event channel unreachable at start; retrying in the background", extra={"error": repr(exc)})
            await _close_quietly(pubsub)
            self._listener = asyncio.create_task(self._relay(None))
            return
        self._listening.set()
        self._listener = asyncio.create_task(self._relay(pubsub))

    async def stop(self) -> None:
        for task in (self._listener, self._flusher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._listener = self._flusher = None
        self._listening.clear()

    async def publish(self, message: dict[str, Any]) -> None:
        """Delivers (no Redis) or publishes the message; while Redis is unreachable it waits in the outbox.
        Raises only for errors that are not an outage (a message that is not JSON, a Redis error reply)."""
        if self._redis is None:
            self._deliver(message)
            return
        data = json.dumps(message, default=str)
        if self._outbox or (self._listener is not None and not self._listening.is_set()):
            self._queue(data)  # behind older messages, or until this process's own clients can hear it
            return
        try:
            await self._redis.publish(self._channel, data)
        except PUBLISH_OUTAGE_ERRORS as exc:
            logger.warning("event channel unreachable: messages wait in the outbox", extra={"error": repr(exc)})
            self._queue(data)

    def _queue(self, data: str) -> None:
        if len(self._outbox) == self._outbox.maxlen:
            self._dropped += 1
            logger.warning("event outbox full: the oldest message was dropped", extra={"dropped": self._dropped})
        self._outbox.append(data)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_outbox())

    async def _flush_outbox(self) -> None:
        """Publishes the outbox oldest first once Redis answers and the listener (if started) is subscribed."""
        assert self._redis is not None
        while self._outbox:
            if self._listener is not None and not self._listening.is_set():
                await asyncio.sleep(self._retry_seconds)
                continue
            try:
                await self._redis.publish(self._channel, self._outbox[0])
            except PUBLISH_OUTAGE_ERRORS:
                await asyncio.sleep(self._retry_seconds)
                continue
            self._outbox.popleft()
        logger.info("event outbox published")

    def subscribe(self) -> Subscription:
        subscription = Subscription(self, self._queue_size)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def _deliver(self, message: dict[str, Any]) -> None:
        for subscription in list(self._subscribers):
            subscription.put(message)

    async def _relay(self, pubsub: PubSub | None) -> None:
        """Relays the channel to local subscribers; after a lost connection it subscribes again (a new
        ``PubSub``), retrying every ``retry_seconds``."""
        assert self._redis is not None
        try:
            while True:
                try:
                    if pubsub is None:
                        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                        await pubsub.subscribe(self._channel)
                        self._listening.set()
                        logger.info("event channel subscribed again")
                    received = await pubsub.get_message(timeout=1.0)
                except (RedisError, OSError) as exc:
                    if self._listening.is_set():
                        logger.warning("event channel unreachable, retrying", extra={"error": repr(exc)})
                    self._listening.clear()
                    await _close_quietly(pubsub)
                    pubsub = None
                    await asyncio.sleep(self._retry_seconds)
                    continue
                if received is not None and received.get("type") == "message" and self._subscribers:
                    self._deliver(json.loads(received["data"]))
        finally:
            await _close_quietly(pubsub)


async def _close_quietly(pubsub: PubSub | None) -> None:
    if pubsub is not None:
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()
