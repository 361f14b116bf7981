"""The fault harness's bookkeeping (bench/faults/ledger.py): lost and duplicated counted from plain rows."""

from __future__ import annotations

from bench.faults.ledger import (
    BatchRow,
    DetectionRow,
    EventRow,
    Snapshot,
    Timeline,
    assessed_on_time,
    count_duplicated,
    count_lost,
    is_drained,
    is_settled,
)


def _event(event_id: int, batch_id: str, status: str = "assessed", kind: str = "batch", retry: str | None = None):
    return EventRow(event_id, batch_id, kind, status, 1, retry, "")


def _healthy() -> Snapshot:
    return Snapshot(
        detections=(DetectionRow(1, "cam", "d1", "b1", False), DetectionRow(2, "cam", "d2", "b1", True)),
        batches=(BatchRow("b1", "cam", "analyzed"),),
        events=(_event(10, "b1"), _event(11, "fast:cam:d2", kind="fast_path")),
        links=((10, 1), (10, 2), (11, 2)),
    )


def test_a_healthy_run_has_nothing_lost_or_duplicated() -> None:
    snapshot = _healthy()
    assert count_lost({("cam", "d1"), ("cam", "d2")}, snapshot).total == 0
    assert count_duplicated(snapshot).total == 0  # a fast-path detection also in its batch event is by design
    assert is_drained(snapshot)
    assert is_settled(snapshot)


def test_each_kind_of_loss_is_counted() -> None:
    snapshot = Snapshot(
        detections=(DetectionRow(1, "cam", "d1", "b1", False), DetectionRow(2, "cam", "d2", "b2", False)),
        batches=(BatchRow("b1", "cam", "analyzed"), BatchRow("b2", "cam", "closed")),
        events=(_event(10, "b1", status="not_assessed"),),
        links=((10, 1),),
    )
    lost = count_lost({("cam", "d1"), ("cam", "d2"), ("cam", "d3")}, snapshot)
    assert (lost.acked_not_stored, lost.detections_in_no_event, lost.batches_without_event) == (1, 1, 1)
    assert lost.events_not_assessed == 1
    assert lost.total == 4
    assert "1 acked not stored" in lost.describe()
    assert not is_drained(snapshot)
    assert not is_settled(snapshot)  # a closed batch still waits for its analysis


def test_duplicates_are_counted() -> None:
    snapshot = Snapshot(
        detections=(DetectionRow(1, "cam", "d1", "b1", False), DetectionRow(2, "cam", "d1", "b1", False)),
        batches=(BatchRow("b1", "cam", "analyzed"), BatchRow("b2", "cam", "analyzed")),
        events=(_event(10, "b1"), _event(11, "b1"), _event(12, "b2")),
        links=((10, 1), (12, 1)),
    )
    dup = count_duplicated(snapshot)
    assert (dup.events_per_batch, dup.detections_stored_twice, dup.detections_in_two_batch_events) == (1, 1, 1)


def test_settled_means_nothing_left_to_retry() -> None:
    waiting = Snapshot(
        batches=(BatchRow("b1", "cam", "analyzed"),), events=(_event(1, "b1", "not_assessed", retry="x"),)
    )
    given_up = Snapshot(batches=(BatchRow("b1", "cam", "analyzed"),), events=(_event(1, "b1", "not_assessed"),))
    failed = Snapshot(batches=(BatchRow("b1", "cam", "analyzed"),), events=(_event(1, "b1", "failed"),))
    assert not is_settled(waiting)
    assert is_settled(given_up) and not is_drained(given_up)
    assert is_settled(failed)


def test_assessed_on_time_counts_from_the_later_of_fault_end_and_first_sight() -> None:
    timeline = Timeline()
    timeline.observe(Snapshot(events=(_event(1, "a", "not_assessed"), _event(2, "b", "not_assessed"))), now=10.0)
    timeline.observe(Snapshot(events=(_event(1, "a"), _event(2, "b", "not_assessed"), _event(3, "c"))), now=300.0)
    timeline.observe(Snapshot(events=(_event(2, "b"),)), now=400.0)
    # fault ended at 100: event 1 assessed at 300 (200 s later), event 2 at 400 (300 s: late), event 3 seen assessed
    assert assessed_on_time(timeline.first_seen, timeline.first_assessed, fault_end=100.0) == (2, 3)
    assert assessed_on_time(timeline.first_seen, timeline.first_assessed, fault_end=100.0, window=100.0) == (1, 3)
