"""Which batch is open for each camera, and when it is due: in this process, or in Redis for several processes.

A batch is due ``window`` seconds after it opened, ``idle`` seconds after its last detection, or as soon as it
holds ``max_detections``. Every operation is atomic (a Lua script in Redis), so concurrent ingests and tickers
agree: a batch is handed out as due, expired or full to exactly one caller, which must then close it.
Times are POSIX seconds. The database rows stay the durable record (see ``batcher``).

``FallbackBatchState`` keeps batching going while Redis is unreachable: the state of this process takes over
(ingest answers 2xx, batches still close on time), Redis is tried again every ``retry_seconds``, and once it
answers the batches opened meanwhile are handed to it (``restore``); one that Redis cannot take (it has another
open batch for the camera) stays here until due. During an outage each process batches its own detections, so a
camera may get more, smaller batches; nothing is lost or analysed twice (one event per batch row).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

ScriptArg = str | int | float
T = TypeVar("T")
# what an unreachable Redis raises (a refused or reset connection, a timeout); anything else is a bug, not an outage
REDIS_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)


@dataclass(frozen=True)
class BatchRules:
    window_seconds: float
    idle_seconds: float
    max_detections: int


@dataclass(frozen=True)
class Placement:
    """Where ``taken`` of the offered detections went."""

    batch_id: str
    opened: bool  # batch_id is the candidate: a new batch
    taken: int
    full: bool  # the batch reached max_detections and left the open state: the caller closes it
    expired: str | None  # a due batch that was still open for the camera left the open state: the caller closes it


Placements = dict[str, list[Placement]]  # each camera's placements, in the order its detections fill them


class BatchState(Protocol):
    async def place(self, counts: Mapping[str, int], new_id: Callable[[], str], now: float) -> Placements:
        """Puts ``counts[camera]`` detections (at least one) of each camera, in order, into the camera's open batch
        and as many new ones (ids from ``new_id``) as they fill: one atomic step for the whole request."""
        ...

    async def pop_due(self, now: float) -> list[tuple[str, str]]:
        """Removes and returns (camera_id, batch_id) of every due batch."""
        ...

    async def pop_all(self) -> list[tuple[str, str]]: ...

    async def discard(self, camera_id: str, batch_id: str) -> None:
        """Forgets the batch if it is the camera's open one."""
        ...

    async def restore(self, camera_id: str, batch_id: str, opened: float, last: float, count: int) -> str:
        """Makes the batch the camera's open one unless one is open already; returns the open batch's id."""
        ...


@dataclass
class _OpenBatch:
    batch_id: str
    opened: float
    last: float
    count: int


class MemoryBatchState:
    """Open batches of this process only."""

    def __init__(self, rules: BatchRules) -> None:
        self._rules = rules
        self._open: dict[str, _OpenBatch] = {}

    def _is_due(self, batch: _OpenBatch, now: float) -> bool:
        r = self._rules
        return now >= min(batch.opened + r.window_seconds, batch.last + r.idle_seconds) or (
            batch.count >= r.max_detections
        )

    async def place(self, counts: Mapping[str, int], new_id: Callable[[], str], now: float) -> Placements:
        return {camera_id: self._place(camera_id, count, new_id, now) for camera_id, count in _checked(counts)}

    def _place(self, camera_id: str, count: int, new_id: Callable[[], str], now: float) -> list[Placement]:
        expired = None
        batch = self._open.pop(camera_id, None)
        if batch is not None and self._is_due(batch, now):
            expired, batch = batch.batch_id, None
        placements = []
        while count:
            opened = batch is None
            if batch is None:
                batch = _OpenBatch(new_id(), now, now, 0)
            taken = min(count, self._rules.max_detections - batch.count)
            batch.count += taken
            batch.last = max(batch.last, now)
            count -= taken
            full = batch.count >= self._rules.max_detections
            placements.append(Placement(batch.batch_id, opened, taken, full, expired))
            expired = None
            if full:
                batch = None
        if batch is not None:
            self._open[camera_id] = batch
        return placements

    async def pop_due(self, now: float) -> list[tuple[str, str]]:
        due = [(camera, b.batch_id) for camera, b in self._open.items() if self._is_due(b, now)]
        for camera, _ in due:
            del self._open[camera]
        return due

    async def pop_all(self) -> list[tuple[str, str]]:
        batches = [(camera, b.batch_id) for camera, b in self._open.items()]
        self._open.clear()
        return batches

    async def discard(self, camera_id: str, batch_id: str) -> None:
        batch = self._open.get(camera_id)
        if batch is not None and batch.batch_id == batch_id:
            del self._open[camera_id]

    async def restore(self, camera_id: str, batch_id: str, opened: float, last: float, count: int) -> str:
        batch = self._open.setdefault(camera_id, _OpenBatch(batch_id, opened, last, count))
        return batch.batch_id

    def open_batches(self) -> list[tuple[str, str, float, float, int]]:
        """(camera_id, batch_id, opened, last, count) of every open batch."""
        return [(camera, b.batch_id, b.opened, b.last, b.count) for camera, b in self._open.items()]


# KEYS: deadlines zset, then each camera's hash. ARGV: now, window, idle, max, then for each camera: camera, count,
# number of candidate ids, candidate ids (new batches take them in order).
# Returns per placement: camera position (1-based), batch id, opened (0/1), taken, full (0/1), expired batch id or ''.
_PLACE = """
local zkey = KEYS[1]
local now, window, idle, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
local arg = 5
for k = 2, #KEYS do
  local hkey, camera, count = KEYS[k], ARGV[arg], tonumber(ARGV[arg + 1])
  local candidate = arg + 3
  arg = candidate + tonumber(ARGV[arg + 2])
  local cur = redis.call('HMGET', hkey, 'batch_id', 'opened', 'last', 'count')
  local batch_id, opened, last, n = cur[1], tonumber(cur[2]), tonumber(cur[3]), tonumber(cur[4])
  local expired = ''
  if batch_id and (now >= math.min(opened + window, last + idle) or n >= max) then
    expired = batch_id
    redis.call('ZREM', zkey, camera .. '|' .. batch_id)
    batch_id = false
  end
  while count > 0 do
    local opened_new = 0
    if not batch_id then
      batch_id, opened, last, n, opened_new = ARGV[candidate], now, now, 0, 1
      candidate = candidate + 1
    end
    local taken = math.min(count, max - n)
    n, count, last = n + taken, count - taken, math.max(last, now)
    local full = 0
    if n >= max then
      full = 1
      redis.call('ZREM', zkey, camera .. '|' .. batch_id)
    end
    table.insert(out, k - 1)
    table.insert(out, batch_id)
    table.insert(out, opened_new)
    table.insert(out, taken)
    table.insert(out, full)
    table.insert(out, expired)
    expired = ''
    if full == 1 then batch_id = false end
  end
  if batch_id then
    redis.call('HSET', hkey, 'batch_id', batch_id, 'opened', string.format('%.6f', opened),
               'last', string.format('%.6f', last), 'count', n)
    redis.call('ZADD', zkey, string.format('%.6f', math.min(opened + window, last + idle)), camera .. '|' .. batch_id)
  else
    redis.call('DEL', hkey)
  end
end
return out
"""

# KEYS: deadlines zset. ARGV: camera hash key prefix, max score ('+inf' for all).
_POP_DUE = """
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local out = {}
for _, member in ipairs(members) do
  redis.call('ZREM', KEYS[1], member)
  local sep = string.find(member, '|', 1, true)
  local camera, batch_id = string.sub(member, 1, sep - 1), string.sub(member, sep + 1)
  local hkey = ARGV[1] .. camera
  if redis.call('HGET', hkey, 'batch_id') == batch_id then redis.call('DEL', hkey) end
  table.insert(out, camera)
  table.insert(out, batch_id)
end
return out
"""

# KEYS: camera hash, deadlines zset. ARGV: camera, batch id.
_DISCARD = """
if redis.call('HGET', KEYS[1], 'batch_id') == ARGV[2] then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[1] .. '|' .. ARGV[2])
return 1
"""

# KEYS: camera hash, deadlines zset. ARGV: camera, batch id, opened, last, count, deadline.
_RESTORE = """
local current = redis.call('HGET', KEYS[1], 'batch_id')
if current then return current end
redis.call('HSET', KEYS[1], 'batch_id', ARGV[2], 'opened', ARGV[3], 'last', ARGV[4], 'count', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1] .. '|' .. ARGV[2])
return ARGV[2]
"""


def _checked(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    if any(count < 1 for count in counts.values()):
        raise ValueError(f"each camera places at least one detection: {dict(counts)}")
    return list(counts.items())


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBatchState:
    """Open batches shared by every process using the same Redis and ``key_prefix``.

    ``<prefix>batch:<camera>``: hash (batch_id, opened, last, count) of the camera's open batch;
    ``<prefix>batch-deadlines``: sorted set of ``<camera>|<batch_id>`` scored by due time.
    """

    def __init__(self, redis: Redis, rules: BatchRules, key_prefix: str = "nemotron:") -> None:
        self._rules = rules
        self._camera_prefix = f"{key_prefix}batch:"
        self._deadlines = f"{key_prefix}batch-deadlines"
        self._place = redis.register_script(_PLACE)
        self._pop_due = redis.register_script(_POP_DUE)
        self._discard = redis.register_script(_DISCARD)
        self._restore = redis.register_script(_RESTORE)

    def _keys(self, camera_id: str) -> list[str]:
        return [self._camera_prefix + camera_id, self._deadlines]

    async def place(self, counts: Mapping[str, int], new_id: Callable[[], str], now: float) -> Placements:
        r = self._rules
        cameras = [camera_id for camera_id, _ in _checked(counts)]
        args: list[ScriptArg] = [f"{now:.6f}", r.window_seconds, r.idle_seconds, r.max_detections]
        for camera_id in cameras:
            candidates = [new_id() for _ in range(-(-counts[camera_id] // r.max_detections))]  # enough to hold all
            args += [camera_id, counts[camera_id], len(candidates), *candidates]
        keys = [self._deadlines, *(self._camera_prefix + camera_id for camera_id in cameras)]
        flat = await self._place(keys=keys, args=args)
        placements: Placements = {camera_id: [] for camera_id in cameras}
        for i in range(0, len(flat), 6):
            position, batch_id, opened, taken, full, expired = flat[i : i + 6]
            placements[cameras[int(position) - 1]].append(
                Placement(_text(batch_id), int(opened) == 1, int(taken), int(full) == 1, _text(expired) or None)
            )
        return placements

    async def pop_due(self, now: float) -> list[tuple[str, str]]:
        return await self._pop(f"{now:.6f}")

    async def pop_all(self) -> list[tuple[str, str]]:
        return await self._pop("+inf")

    async def _pop(self, max_score: str) -> list[tuple[str, str]]:
        flat = [_text(v) for v in await self._pop_due(keys=[self._deadlines], args=[self._camera_prefix, max_score])]
        return list(zip(flat[::2], flat[1::2], strict=True))

    async def discard(self, camera_id: str, batch_id: str) -> None:
        await self._discard(keys=self._keys(camera_id), args=[camera_id, batch_id])

    async def restore(self, camera_id: str, batch_id: str, opened: float, last: float, count: int) -> str:
        deadline = min(opened + self._rules.window_seconds, last + self._rules.idle_seconds)
        if count >= self._rules.max_detections:
            deadline = 0.0
        args: list[ScriptArg] = [camera_id, batch_id, f"{opened:.6f}", f"{last:.6f}", count, f"{deadline:.6f}"]
        return _text(await self._restore(keys=self._keys(camera_id), args=args))


class FallbackBatchState:
    """``primary`` (Redis) while it answers; this process's ``MemoryBatchState`` while it does not (see the module
    docstring). Only connection failures and timeouts (``REDIS_OUTAGE_ERRORS``) switch over; other errors raise."""

    def __init__(
        self,
        primary: BatchState,
        fallback: MemoryBatchState,
        *,
        retry_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._retry_at: float | None = None  # None: the primary is up
        self._reconnecting = asyncio.Lock()

    @property
    def primary_up(self) -> bool:
        return self._retry_at is None

    def _went_down(self, exc: BaseException) -> None:
        if self._retry_at is None:
            logger.warning("Redis unreachable: batching in this process until it answers", extra={"error": repr(exc)})
        self._retry_at = self._clock() + self._retry_seconds

    async def _primary_usable(self) -> bool:
        """True when the primary is up, or was down, is due for a try, and took back this process's batches."""
        if self._retry_at is None:
            return True
        if self._clock() < self._retry_at:
            return False
        async with self._reconnecting:
            if self._retry_at is None:
                return True
            try:
                await self._hand_back()
            except REDIS_OUTAGE_ERRORS as exc:
                self._went_down(exc)
                return False
            self._retry_at = None
            logger.info("Redis answers again: batching shared through it")
            return True

    async def _hand_back(self) -> None:
        """Each batch opened here during the outage becomes the camera's open batch in the primary, unless the
        primary has another one for the camera (then it stays here until due)."""
        for camera_id, batch_id, opened, last, count in self.fallback.open_batches():
            if await self.primary.restore(camera_id, batch_id, opened, last, count) == batch_id:
                await self.fallback.discard(camera_id, batch_id)

    async def _on_primary(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """``call()`` on the primary; None when it is (or just went) down."""
        if not await self._primary_usable():
            return None
        try:
            return await call()
        except REDIS_OUTAGE_ERRORS as exc:
            self._went_down(exc)
            return None

    async def place(self, counts: Mapping[str, int], new_id: Callable[[], str], now: float) -> Placements:
        placed = await self._on_primary(lambda: self.primary.place(counts, new_id, now))
        return placed if placed is not None else await self.fallback.place(counts, new_id, now)

    async def pop_due(self, now: float) -> list[tuple[str, str]]:
        due = await self.fallback.pop_due(now)
        return due + (await self._on_primary(lambda: self.primary.pop_due(now)) or [])

    async def pop_all(self) -> list[tuple[str, str]]:
        batches = await self.fallback.pop_all()
        return batches + (await self._on_primary(self.primary.pop_all) or [])

    async def discard(self, camera_id: str, batch_id: str) -> None:
        await self.fallback.discard(camera_id, batch_id)
        await self._on_primary(lambda: self.primary.discard(camera_id, batch_id))

    async def restore(self, camera_id: str, batch_id: str, opened: float, last: float, count: int) -> str:
        current = await self._on_primary(lambda: self.primary.restore(camera_id, batch_id, opened, last, count))
        return current if current is not None else await self.fallback.restore(camera_id, batch_id, opened, last, count)
