"""Event fan-out to WebSocket clients: in this process, or through a Redis stream across processes.

With Redis, ``publish`` appends the message to the stream ``channel`` (``XADD``, the newest ``stream_length``
kept) and one listener per process reads it from where it last read (``XREAD``) and hands each message to the
local subscribers; without Redis, ``publish`` hands it to them directly. A subscriber that falls more than
``queue_size`` messages behind loses the oldest ones.

Redis outages (connection refused or reset, timeouts):

* a message whose publish fails goes to an in-memory outbox, and so does every later one until the outbox is
  empty again, so the order holds; a background task publishes the outbox, oldest first, once Redis answers.
  The outbox keeps the newest ``outbox_size`` messages (an update carries the whole event, so a dropped older
  message is superseded by a newer one for the same event); ``pending`` counts what waits.
* a listener that lost Redis reads on from the last id it delivered once Redis answers, so it also gets what
  other processes published meanwhile (a stream keeps history; pub/sub would not). After a Redis restart
  without persistence the new stream's ids are later in time than the last one read, so nothing new is missed.

The database stays the record: ``GET /api/events`` shows every event as stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

OUTAGE_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
READ_BLOCK_MS = 1000
READ_COUNT = 500


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


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(reply: Any) -> list[tuple[str, str]]:
    """(id, data) of an ``XREAD`` reply of one stream (RESP2 list or RESP3 mapping)."""
    streams = reply.values() if isinstance(reply, dict) else [entries for _, entries in reply or []]
    out: list[tuple[str, str]] = []
    for entries in streams:
        for entry_id, fields in entries:
            data = fields.get("data", fields.get(b"data")) if isinstance(fields, dict) else None
            if data is not None:
                out.append((_text(entry_id), _text(data)))
    return out


STOP_SECONDS = 5.0


class Broadcaster:
    def __init__(
        self,
        redis: Redis | None = None,
        channel: str = "events",
        queue_size: int = 1000,
        *,
        outbox_size: int = 10_000,
        stream_length: int = 10_000,
        retry_seconds: float = 1.0,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._queue_size = queue_size
        self._stream_length = stream_length
        self._retry_seconds = retry_seconds
        self._subscribers: set[Subscription] = set()
        self._listener: asyncio.Task[None] | None = None
        self._outbox: deque[str] = deque(maxlen=outbox_size)
        self._dropped = 0
        self._flusher: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Messages waiting in the outbox for Redis to come back."""
        return len(self._outbox)

    async def start(self) -> None:
        """With Redis: starts relaying the stream locally; every message published after this returns is relayed.
        When Redis is down, the listener starts from now (by the clock) and waits for it in the background."""
        if self._redis is None or self._listener is not None:
            return
        try:
            newest = await self._redis.xrevrange(self._channel, count=1)
            last_id = _text(newest[0][0]) if newest else "0-0"
        except OUTAGE_ERRORS as exc:
            logger.warning("event stream unreachable at start; retrying in the background", extra={"error": repr(exc)})
            last_id = f"{int(time.time() * 1000)}-0"
        self._listener = asyncio.create_task(self._relay(last_id))

    async def stop(self) -> None:
        """Cancels the relay and the outbox flusher, waiting at most STOP_SECONDS for each: a task cancelled
        inside redis-py's blocking XREAD has been seen never to end (an intermittent hang of the test suite),
        and a shutdown must not wait on it."""
        for task in (self._listener, self._flusher):
            if task is not None:
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
                if not done:
                    logger.warning("event stream task did not stop in time: left behind", extra={"task": repr(task)})
        self._listener = self._flusher = None

    async def publish(self, message: dict[str, Any]) -> None:
        """Delivers (no Redis) or publishes the message; while Redis is unreachable it waits in the outbox.
        Raises only for errors that are not an outage (a message that is not JSON, an error reply)."""
        if self._redis is None:
            self._deliver(message)
            return
        data = json.dumps(message, default=str)
        if self._outbox:
            self._queue(data)  # behind the older messages
            return
        try:
            await self._append(data)
        except OUTAGE_ERRORS as exc:
            logger.warning("event stream unreachable: messages wait in the outbox", extra={"error": repr(exc)})
            self._queue(data)

    async def _append(self, data: str) -> None:
        assert self._redis is not None
        await self._redis.xadd(self._channel, {"data": data}, maxlen=self._stream_length, approximate=True)

    def _queue(self, data: str) -> None:
        if len(self._outbox) == self._outbox.maxlen:
            self._dropped += 1
            logger.warning("event outbox full: the oldest message was dropped", extra={"dropped": self._dropped})
        self._outbox.append(data)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_outbox())

    async def _flush_outbox(self) -> None:
        """Publishes the outbox oldest first, retrying every ``retry_seconds`` until Redis answers."""
        while self._outbox:
            try:
                await self._append(self._outbox[0])
            except OUTAGE_ERRORS:
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

    async def _relay(self, last_id: str) -> None:
        """Reads the stream after ``last_id`` and hands each message to the local subscribers, forever; after a
        lost connection it reads on from the last id it saw, retrying every ``retry_seconds``."""
        assert self._redis is not None
        reachable = True
        while True:
            try:
                reply = await self._redis.xread({self._channel: last_id}, count=READ_COUNT, block=READ_BLOCK_MS)
            except (RedisError, OSError) as exc:
                if reachable:
                    logger.warning("event stream unreachable, retrying", extra={"error": repr(exc)})
                reachable = False
                await asyncio.sleep(self._retry_seconds)
                continue
            if not reachable:
                logger.info("event stream reachable again")
                reachable = True
            for entry_id, data in _entries(reply):
                last_id = entry_id
                if self._subscribers:
                    try:
                        self._deliver(json.loads(data))
                    except ValueError:
                        logger.warning("event stream entry is not JSON: skipped", extra={"entry_id": entry_id})
