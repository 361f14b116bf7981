"""Which batch is open for each camera, and when it is due: in this process, or in Redis for several processes.

A batch is due ``window`` seconds after it opened, ``idle`` seconds after its last detection, or as soon as it
holds ``max_detections``. Every operation is atomic (a Lua script in Redis), so concurrent ingests and tickers
agree: a batch is handed out as due, expired or full to exactly one caller, which must then close it.
Times are POSIX seconds. The database rows stay the durable record (see ``batcher``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

ScriptArg = str | int | float


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


class BatchState(Protocol):
    async def place(self, camera_id: str, candidate_id: str, count: int, now: float) -> Placement:
        """Puts up to ``count`` detections in the camera's open batch (a new one, ``candidate_id``, if none)."""
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

    async def place(self, camera_id: str, candidate_id: str, count: int, now: float) -> Placement:
        expired = None
        batch = self._open.pop(camera_id, None)
        if batch is not None and self._is_due(batch, now):
            expired, batch = batch.batch_id, None
        opened = batch is None
        if batch is None:
            batch = _OpenBatch(candidate_id, now, now, 0)
        taken = min(count, self._rules.max_detections - batch.count)
        batch.count += taken
        batch.last = max(batch.last, now)
        full = batch.count >= self._rules.max_detections
        if not full:
            self._open[camera_id] = batch
        return Placement(batch.batch_id, opened, taken, full, expired)

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


# KEYS: camera hash, deadlines zset. ARGV: camera, candidate, count, now, window, idle, max.
_PLACE = """
local hkey, zkey = KEYS[1], KEYS[2]
local camera, candidate = ARGV[1], ARGV[2]
local count, now = tonumber(ARGV[3]), tonumber(ARGV[4])
local window, idle, max = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local cur = redis.call('HMGET', hkey, 'batch_id', 'opened', 'last', 'count')
local batch_id, opened, last, n = cur[1], tonumber(cur[2]), tonumber(cur[3]), tonumber(cur[4])
local expired = ''
if batch_id and (now >= math.min(opened + window, last + idle) or n >= max) then
  expired = batch_id
  redis.call('DEL', hkey)
  redis.call('ZREM', zkey, camera .. '|' .. batch_id)
  batch_id = false
end
local opened_new = 0
if not batch_id then
  batch_id, opened, last, n, opened_new = candidate, now, now, 0, 1
end
local taken = math.min(count, max - n)
n = n + taken
last = math.max(last, now)
local full = 0
if n >= max then
  full = 1
  redis.call('DEL', hkey)
  redis.call('ZREM', zkey, camera .. '|' .. batch_id)
else
  redis.call('HSET', hkey, 'batch_id', batch_id, 'opened', string.format('%.6f', opened),
             'last', string.format('%.6f', last), 'count', n)
  redis.call('ZADD', zkey, string.format('%.6f', math.min(opened + window, last + idle)), camera .. '|' .. batch_id)
end
return {batch_id, opened_new, taken, full, expired}
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

    async def place(self, camera_id: str, candidate_id: str, count: int, now: float) -> Placement:
        r = self._rules
        args: list[ScriptArg] = [camera_id, candidate_id, count, f"{now:.6f}"]
        args += [r.window_seconds, r.idle_seconds, r.max_detections]
        batch_id, opened, taken, full, expired = await self._place(keys=self._keys(camera_id), args=args)
        return Placement(_text(batch_id), int(opened) == 1, int(taken), int(full) == 1, _text(expired) or None)

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
