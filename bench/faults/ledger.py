"""The harness's bookkeeping: what was acknowledged, what the database holds, and what that makes lost or doubled.

Pure functions over plain rows (no I/O), so that they can be unit-tested (``tests/bench_faults``).

Definitions (issue 9):

* **lost**: a detection acknowledged with a 2xx that is not stored; a stored detection that is in no event; a
  closed batch with no event (or a batch left ``open``/``failed`` at the end); an event never assessed
  (``not_assessed`` or ``failed`` at the end).
* **duplicated**: two events for one batch; a detection stored twice (same camera and detector id); a
  detection in two batch events.
* **assessed after recovery**: the share of events assessed within ``window`` seconds of the later of the fault's
  end and the event's first appearance (an event that was assessed before the fault ended counts as on time).
* **seconds to drain**: from the fault's end until every event is assessed and nothing is pending.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

ASSESSED = "assessed"
RECOVERY_WINDOW_SECONDS = 240.0


@dataclass(frozen=True)
class DetectionRow:
    pk: int
    camera_id: str
    detection_id: str
    batch_id: str | None
    fast_path: bool


@dataclass(frozen=True)
class BatchRow:
    id: str
    camera_id: str
    status: str


@dataclass(frozen=True)
class EventRow:
    id: int
    batch_id: str
    kind: str
    status: str
    attempts: int
    next_retry_at: str | None
    error: str
    llm_latency_ms: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """The rows of one database at one moment (``links``: (event id, detection pk))."""

    detections: tuple[DetectionRow, ...] = ()
    batches: tuple[BatchRow, ...] = ()
    events: tuple[EventRow, ...] = ()
    links: tuple[tuple[int, int], ...] = ()


@dataclass
class Lost:
    acked_not_stored: int = 0
    detections_in_no_event: int = 0
    batches_without_event: int = 0
    events_not_assessed: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return (
            self.acked_not_stored + self.detections_in_no_event + self.batches_without_event + self.events_not_assessed
        )

    def describe(self) -> str:
        parts = [
            (self.acked_not_stored, "acked not stored"),
            (self.detections_in_no_event, "detections in no event"),
            (self.batches_without_event, "batches without event"),
            (self.events_not_assessed, "events never assessed"),
        ]
        return ", ".join(f"{n} {what}" for n, what in parts if n)


@dataclass
class Duplicated:
    events_per_batch: int = 0
    detections_stored_twice: int = 0
    detections_in_two_batch_events: int = 0

    @property
    def total(self) -> int:
        return self.events_per_batch + self.detections_stored_twice + self.detections_in_two_batch_events

    def describe(self) -> str:
        parts = [
            (self.events_per_batch, "extra events for a batch"),
            (self.detections_stored_twice, "detections stored twice"),
            (self.detections_in_two_batch_events, "detections in two batch events"),
        ]
        return ", ".join(f"{n} {what}" for n, what in parts if n)


def count_lost(acked: Iterable[tuple[str, str]], snapshot: Snapshot) -> Lost:
    """``acked``: (camera id, detector id) of every detection the backend answered 2xx for (or 409 to a resend of
    one it had stored)."""
    lost = Lost()
    stored = {(d.camera_id, d.detection_id) for d in snapshot.detections}
    for key in sorted(set(acked)):
        if key not in stored:
            lost.acked_not_stored += 1
            if len(lost.examples) < 5:
                lost.examples.append(f"detection {key[0]}/{key[1]} acked, not stored")
    linked = {pk for _, pk in snapshot.links}
    for d in snapshot.detections:
        if d.pk not in linked:
            lost.detections_in_no_event += 1
    events_by_batch = {e.batch_id for e in snapshot.events}
    for b in snapshot.batches:
        if b.id not in events_by_batch:
            lost.batches_without_event += 1
            if len(lost.examples) < 5:
                lost.examples.append(f"batch {b.id[:8]} ({b.status}) has no event")
    for e in snapshot.events:
        if e.status != ASSESSED:
            lost.events_not_assessed += 1
            if len(lost.examples) < 5:
                lost.examples.append(f"event {e.id} {e.status} after {e.attempts} attempts: {e.error[:80]}")
    return lost


def count_duplicated(snapshot: Snapshot) -> Duplicated:
    dup = Duplicated()
    per_batch = Counter(e.batch_id for e in snapshot.events)
    dup.events_per_batch = sum(n - 1 for n in per_batch.values() if n > 1)
    per_detection = Counter((d.camera_id, d.detection_id) for d in snapshot.detections)
    dup.detections_stored_twice = sum(n - 1 for n in per_detection.values() if n > 1)
    batch_events = {e.id for e in snapshot.events if e.kind == "batch"}
    in_batch_events = Counter(pk for event_id, pk in snapshot.links if event_id in batch_events)
    dup.detections_in_two_batch_events = sum(n - 1 for n in in_batch_events.values() if n > 1)
    return dup


def is_settled(snapshot: Snapshot) -> bool:
    """Nothing more will happen by itself: no open or closed-but-unanalysed batch, and every event assessed or
    given up for good (``failed``, or ``not_assessed`` with no retry scheduled)."""
    events_by_batch = {e.batch_id for e in snapshot.events}
    for b in snapshot.batches:
        if b.status == "open" or (b.status == "closed" and b.id not in events_by_batch):
            return False
    return all(e.status == ASSESSED or e.status == "failed" or e.next_retry_at is None for e in snapshot.events)


def is_drained(snapshot: Snapshot) -> bool:
    """Every batch has its event and every event is assessed."""
    events_by_batch = {e.batch_id for e in snapshot.events}
    if any(b.id not in events_by_batch for b in snapshot.batches):
        return False
    return all(e.status == ASSESSED for e in snapshot.events)


@dataclass
class Timeline:
    """When the harness first saw each event, and first saw it assessed (monotonic seconds)."""

    first_seen: dict[int, float] = field(default_factory=dict)
    first_assessed: dict[int, float] = field(default_factory=dict)
    drained_at: float | None = None  # the first poll (after the fault's end) that found everything assessed

    def observe(self, snapshot: Snapshot, now: float) -> None:
        for e in snapshot.events:
            self.first_seen.setdefault(e.id, now)
            if e.status == ASSESSED:
                self.first_assessed.setdefault(e.id, now)


def assessed_on_time(
    first_seen: Mapping[int, float],
    first_assessed: Mapping[int, float],
    fault_end: float,
    window: float = RECOVERY_WINDOW_SECONDS,
) -> tuple[int, int]:
    """(events assessed within ``window`` s of max(fault end, first seen), all events)."""
    on_time = 0
    for event_id, seen in first_seen.items():
        done = first_assessed.get(event_id)
        if done is not None and done <= max(fault_end, seen) + window:
            on_time += 1
    return on_time, len(first_seen)


def first_after(first_assessed: Mapping[int, float], fault_end: float) -> float | None:
    """Seconds from the fault's end to the first event assessed after it (None: none was)."""
    after = [t for t in first_assessed.values() if t > fault_end]
    return min(after) - fault_end if after else None


def percent(part: int, whole: int) -> str:
    return "-" if whole == 0 else f"{100.0 * part / whole:.0f}% ({part}/{whole})"
