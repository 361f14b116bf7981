"""Phone notifications (issue #10, point 3): the pure decision, then real deliveries through Apprise.

The delivery tests send through Apprise's ``json://`` plugin to a local HTTP sink (``http.server`` in a thread on
127.0.0.1, port 0) and assert what arrives: Apprise's JSON payload carries ``title``, ``message`` (the body)
and ``type`` (info / warning / failure). Times are driven by an injected clock; the home is in Europe/Paris,
in January (UTC+1), so 23:30 local is 22:30 UTC.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import apprise
import pytest
from pydantic import SecretStr

from backend.config.settings import BackendSettings
from backend.domain.risk_levels import RiskLevel
from backend.services.event_notice import EventNotice
from backend.services.notifications import (
    Decision,
    MessageKind,
    Notifier,
    NotifyPolicy,
    NotifyState,
    Outcome,
    decide,
    in_quiet_hours,
    prune,
)

PARIS = ZoneInfo("Europe/Paris")
QUIET = (time(22, 0), time(7, 0))
SCORES = {"low": 10, "medium": 45, "high": 75, "critical": 95}


def local(hour: int, minute: int = 0, day: int = 15) -> datetime:
    """An aware UTC instant at hour:minute Paris time on 2025-01-<day> (CET, UTC+1)."""
    return datetime(2025, 1, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def notice(
    event_id: int = 1,
    level: str | None = "high",
    camera_id: str = "front_door",
    camera_name: str = "Front Door",
    status: str = "assessed",
    **extra: Any,
) -> EventNotice:
    fields: dict[str, Any] = {
        "event_id": event_id,
        "camera_id": camera_id,
        "camera_name": camera_name,
        "status": status if level is not None else "not_assessed",
        "risk_level": level,
        "risk_score": SCORES[level] if level is not None else None,
        "summary": "A person tried the door handle twice.",
        "recommended_action": "Check the front door camera.",
        "started_at": local(23, 30),
        "ended_at": local(23, 31),
        "updated_at": local(23, 32),
        "external_id": "1736980200.5-abc",
        "snapshot_url": "http://frigate:5000/api/events/1736980200.5-abc/snapshot.jpg",
        "clip_url": "http://frigate:5000/api/events/1736980200.5-abc/clip.mp4",
    }
    fields.update(extra)
    return EventNotice(**fields)


def policy(**changes: Any) -> NotifyPolicy:
    base = NotifyPolicy(home_zone=PARIS, cooldown=timedelta(seconds=300))
    return replace(base, **changes)


def run(notices: list[tuple[EventNotice, datetime]], rules: NotifyPolicy) -> list[Decision]:
    """Decisions for notices arriving in order, each at its time, threading the state through."""
    state = NotifyState()
    decisions = []
    for item, at in notices:
        decision = decide(item, state, at, rules)
        state = decision.state
        decisions.append(decision)
    return decisions


# --- the pure decision ------------------------------------------------------------------------------------


def test_min_level_decides() -> None:
    below, at = run([(notice(1, "medium"), local(12)), (notice(2, "high", camera_id="garden"), local(12))], policy())
    assert below.outcome is Outcome.BELOW_LEVEL and below.message is None
    assert at.outcome is Outcome.SEND and at.message is not None
    assert at.message.kind is MessageKind.NEW
    assert at.message.title == "HIGH risk - Front Door"
    assert at.message.notify_type is apprise.NotifyType.WARNING

    (medium,) = run([(notice(1, "medium"), local(12))], policy(min_level=RiskLevel.MEDIUM))
    assert medium.outcome is Outcome.SEND and medium.message is not None
    assert medium.message.notify_type is apprise.NotifyType.INFO


def test_notify_type_by_level() -> None:
    (critical,) = run([(notice(1, "critical"), local(12))], policy())
    assert critical.message is not None and critical.message.notify_type is apprise.NotifyType.FAILURE
    assert critical.message.title == "CRITICAL risk - Front Door"


def test_excluded_camera_never_notifies() -> None:
    (decision,) = run([(notice(1, "critical"), local(12))], policy(exclude_cameras=frozenset({"front_door"})))
    assert decision.outcome is Outcome.EXCLUDED and decision.message is None


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [(21, 59, False), (22, 0, True), (23, 59, True), (0, 30, True), (6, 59, True), (7, 0, False), (12, 0, False)],
)
def test_quiet_hours_across_midnight_in_the_home_zone(hour: int, minute: int, quiet: bool) -> None:
    assert in_quiet_hours(local(hour, minute), policy(quiet_hours=QUIET)) is quiet


def test_quiet_hours_within_a_day_and_none() -> None:
    midday = policy(quiet_hours=(time(12, 0), time(14, 0)))
    assert in_quiet_hours(local(13), midday)
    assert not in_quiet_hours(local(14), midday)
    assert not in_quiet_hours(local(23), midday)
    assert not in_quiet_hours(local(23), policy())


def test_quiet_hours_hold_everything_below_critical_and_never_send_it_later() -> None:
    rules = policy(quiet_hours=QUIET, min_level=RiskLevel.MEDIUM)
    decisions = run(
        [
            (notice(1, "critical", camera_id="a"), local(23, 30)),
            (notice(2, "high", camera_id="b"), local(23, 30)),
            (notice(3, "medium", camera_id="c"), local(2, 0, day=16)),
            (notice(2, "high", camera_id="b"), local(7, 30, day=16)),  # re-stored after quiet hours: still silent
            (notice(2, "critical", camera_id="b"), local(7, 31, day=16)),  # a rise is judged again
        ],
        rules,
    )
    assert [d.outcome for d in decisions] == [
        Outcome.SEND,
        Outcome.HELD_QUIET,
        Outcome.HELD_QUIET,
        Outcome.UNCHANGED,
        Outcome.SEND,
    ]
    last = decisions[-1].message
    assert last is not None and last.kind is MessageKind.NEW and last.title == "CRITICAL risk - Front Door"


def test_cooldown_one_incident_one_message_and_escalation_is_an_update() -> None:
    decisions = run(
        [
            (notice(1, "high"), local(12, 0)),
            (notice(2, "high"), local(12, 2)),  # same camera, same level: cooldown
            (notice(3, "high", camera_id="garden", camera_name="Garden"), local(12, 2)),  # another camera
            (notice(4, "critical"), local(12, 4)),  # escalation within the cooldown: news
            (notice(5, "critical"), local(12, 6)),  # cooldown restarted by the update, not higher
            (notice(6, "high"), local(12, 12)),  # cooldown over: a new incident
        ],
        policy(),
    )
    assert [d.outcome for d in decisions] == [
        Outcome.SEND,
        Outcome.COOLDOWN,
        Outcome.SEND,
        Outcome.SEND,
        Outcome.COOLDOWN,
        Outcome.SEND,
    ]
    escalation = decisions[3].message
    assert escalation is not None and escalation.kind is MessageKind.UPDATE
    assert escalation.title == "Update: CRITICAL risk - Front Door"
    assert "Escalation" in escalation.body and "HIGH" in escalation.body
    fresh = decisions[5].message
    assert fresh is not None and fresh.kind is MessageKind.NEW


def test_cooled_down_event_stays_silent_when_re_stored_after_the_cooldown() -> None:
    decisions = run(
        [(notice(1, "high"), local(12, 0)), (notice(2, "high"), local(12, 1)), (notice(2, "high"), local(12, 30))],
        policy(),
    )
    assert [d.outcome for d in decisions] == [Outcome.SEND, Outcome.COOLDOWN, Outcome.UNCHANGED]


def test_not_assessed_waits_for_the_assessment() -> None:
    state = NotifyState()
    pending = decide(notice(1, None), state, local(12), policy())
    assert pending.outcome is Outcome.NOT_ASSESSED and pending.message is None
    assert pending.state is state  # nothing learnt: no level, no basis
    assessed = decide(notice(1, "high"), pending.state, local(12, 5), policy())
    assert assessed.outcome is Outcome.SEND and assessed.message is not None
    assert assessed.message.kind is MessageKind.NEW


def test_failed_status_or_unknown_level_is_not_a_basis() -> None:
    failed = decide(notice(1, "high", status="failed"), NotifyState(), local(12), policy())
    odd = decide(notice(2, "high", risk_level="extreme"), NotifyState(), local(12), policy())
    assert failed.outcome is Outcome.NOT_ASSESSED and odd.outcome is Outcome.NOT_ASSESSED


def test_re_assessment_up_is_an_update_and_down_is_a_correction() -> None:
    decisions = run(
        [
            (notice(1, "high"), local(12, 0)),
            (notice(1, None), local(12, 1)),  # re-assessment pending
            (notice(1, "critical"), local(12, 2)),
            (notice(1, "critical"), local(12, 3)),
            (notice(1, "low"), local(12, 4)),
        ],
        policy(),
    )
    assert [d.outcome for d in decisions] == [
        Outcome.SEND,
        Outcome.NOT_ASSESSED,
        Outcome.SEND,
        Outcome.UNCHANGED,
        Outcome.SEND,
    ]
    up, down = decisions[2].message, decisions[4].message
    assert up is not None and up.kind is MessageKind.UPDATE and up.title == "Update: CRITICAL risk - Front Door"
    assert "was HIGH, now CRITICAL" in up.body
    assert down is not None and down.kind is MessageKind.CORRECTION
    assert down.title == "Update: now LOW - Front Door"
    assert down.notify_type is apprise.NotifyType.INFO
    assert "was CRITICAL, now LOW" in down.body
    assert "Recommended" not in down.body  # a correction stays short


def test_correction_goes_out_in_quiet_hours_and_a_later_high_is_news_again() -> None:
    rules = policy(quiet_hours=QUIET)
    decisions = run(
        [
            (notice(1, "critical"), local(23, 0)),
            (notice(1, "medium"), local(23, 1)),  # correction, quiet hours or not
            (notice(2, "critical"), local(23, 2)),  # same camera, within the cooldown, above the corrected level
        ],
        rules,
    )
    assert [d.outcome for d in decisions] == [Outcome.SEND, Outcome.SEND, Outcome.SEND]
    correction, again = decisions[1].message, decisions[2].message
    assert correction is not None and correction.title == "Update: now MEDIUM - Front Door"
    assert again is not None and again.kind is MessageKind.UPDATE


def test_correction_of_an_earlier_event_keeps_the_incident_level() -> None:
    decisions = run(
        [
            (notice(1, "high"), local(12, 0)),
            (notice(2, "critical"), local(12, 1)),  # escalation: the incident is now critical (event 2)
            (notice(1, "low"), local(12, 2)),  # event 1 re-assessed: its correction still goes out
            (notice(3, "critical"), local(12, 3)),  # the incident already announced critical: cooldown
        ],
        policy(),
    )
    assert [d.outcome for d in decisions] == [Outcome.SEND, Outcome.SEND, Outcome.SEND, Outcome.COOLDOWN]
    correction = decisions[2].message
    assert correction is not None and correction.kind is MessageKind.CORRECTION and correction.event_id == 1


def test_a_rise_of_an_announced_event_in_quiet_hours_is_held() -> None:
    rules = policy(quiet_hours=QUIET, min_level=RiskLevel.MEDIUM)
    decisions = run(
        [
            (notice(1, "medium"), local(21, 0)),
            (notice(1, "high"), local(23, 0)),  # held: below critical in quiet hours
            (notice(1, "high"), local(8, 0, day=16)),  # not sent later
            (notice(1, "medium"), local(8, 1, day=16)),  # the phone already says medium
            (notice(1, "critical"), local(8, 2, day=16)),
        ],
        rules,
    )
    assert [d.outcome for d in decisions] == [
        Outcome.SEND,
        Outcome.HELD_QUIET,
        Outcome.UNCHANGED,
        Outcome.UNCHANGED,
        Outcome.SEND,
    ]
    last = decisions[-1].message
    assert last is not None and last.kind is MessageKind.UPDATE and "was MEDIUM, now CRITICAL" in last.body


def test_message_body_local_time_score_links_and_untrusted_text() -> None:
    hostile = notice(
        1,
        "high",
        summary='Sign reads "<b>OPEN</b>" <script>x</script>\x07 then a person enters.',
        camera_name="Front\nDoor",
    )
    (decision,) = run([(hostile, local(23, 45))], policy())
    message = decision.message
    assert message is not None
    assert message.title == "HIGH risk - Front Door"
    assert "Wed 15 Jan 23:30 CET" in message.body  # started_at, in the home's zone
    assert "score 75/100" in message.body
    assert "Recommended: Check the front door camera." in message.body
    assert "Snapshot: http://frigate:5000/api/events/1736980200.5-abc/snapshot.jpg" in message.body
    assert "Clip: http://frigate:5000/api/events/1736980200.5-abc/clip.mp4" in message.body
    assert "OPEN" in message.body and "person enters" in message.body
    for markup in ("<b>", "</b>", "<script>", "\x07"):
        assert markup not in message.body


def test_message_without_links_or_score() -> None:
    (decision,) = run([(notice(1, "high", snapshot_url=None, clip_url=None, risk_score=None), local(12))], policy())
    assert decision.message is not None
    assert "Snapshot" not in decision.message.body and "no score" in decision.message.body


def test_prune_forgets_old_events_and_bounds_the_count() -> None:
    state = run([(notice(i, "medium", camera_id=f"c{i}"), local(10, i)) for i in range(5)], policy())[-1].state
    assert len(state.events) == 5
    kept = prune(state, local(10, 10), policy(max_events=2))
    assert sorted(kept.events) == [3, 4]
    assert prune(state, local(10, 10, day=17), policy()).events == {}
    assert prune(state, local(10, 10), policy()) is state


def test_from_settings() -> None:
    assert Notifier.from_settings(BackendSettings(notify_urls=[])) is None
    settings = BackendSettings(
        notify_urls=[SecretStr("json://127.0.0.1:9/hook")],
        notify_min_level="medium",
        notify_exclude_cameras=["garage"],
        notify_quiet_hours="22:00-07:00",
        timezone="Europe/Paris",
        notify_cooldown_seconds=60,
    )
    notifier = Notifier.from_settings(settings)
    assert notifier is not None
    assert notifier.policy.min_level is RiskLevel.MEDIUM
    assert notifier.policy.exclude_cameras == frozenset({"garage"})
    assert notifier.policy.quiet_hours == QUIET
    assert notifier.policy.cooldown == timedelta(seconds=60)
    assert in_quiet_hours(local(23), notifier.policy)


def test_a_url_apprise_rejects_is_named_without_its_secret() -> None:
    with pytest.raises(ValueError, match=r"#1 \(nosuchscheme://\)") as caught:
        Notifier(["nosuchscheme://s3cr3t-token@host"], policy())
    assert "s3cr3t" not in str(caught.value)


def test_on_event_outside_an_event_loop_drops_and_counts_without_raising() -> None:
    notifier = Notifier(["json://127.0.0.1:9/hook"], policy(), clock=Clock(local(12)))
    decision = notifier.on_event(notice(1, "critical"))
    assert decision.outcome is Outcome.SEND
    assert notifier.stats()["failed"] == 1 and notifier.stats()["pending"] == 0


# --- deliveries through Apprise to a local sink ------------------------------------------------------------


class Sink:
    """A local HTTP endpoint recording Apprise json:// posts; ``fail_next`` answers 500 that many times."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []  # the JSON bodies answered 200
        self.requests = 0
        self.fail_next = 0
        self.gate: threading.Event | None = None  # when set, requests wait for it
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if sink.gate is not None:
                    sink.gate.wait(timeout=30)
                with sink._lock:
                    sink.requests += 1
                    failing = sink.fail_next > 0
                    if failing:
                        sink.fail_next -= 1
                    else:
                        sink.received.append(json.loads(body))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def titles(self) -> list[str]:
        return [item["title"] for item in self.received]


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    server.thread.start()
    yield server
    if server.gate is not None:
        server.gate.set()
    server.server.shutdown()
    server.server.server_close()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def notifier_for(urls: list[str], clock: Clock, **changes: Any) -> Notifier:
    return Notifier(urls, policy(**changes), clock=clock, retry_wait_seconds=0.01, retry_wait_max_seconds=0.05)


async def test_delivery_min_level_and_payload(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    original = apprise.Apprise.async_notify

    async def spy(self: apprise.Apprise, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(apprise.Apprise, "async_notify", spy)
    clock = Clock(local(12))
    notifier = notifier_for([sink.url], clock)
    notifier.on_event(notice(1, "medium"))
    notifier.on_event(notice(2, "high", camera_id="garden", camera_name="Garden"))
    await notifier.drain()
    assert len(sink.received) == 1
    (payload,) = sink.received
    assert payload["title"] == "HIGH risk - Garden"
    assert payload["type"] == "warning"
    assert "score 75/100" in payload["message"]
    assert "A person tried the door handle twice." in payload["message"]
    assert "Snapshot: http://frigate:5000/api/events/1736980200.5-abc/snapshot.jpg" in payload["message"]
    assert payload["attachments"] == []  # links only
    assert [call["body_format"] for call in calls] == [apprise.NotifyFormat.TEXT]  # no markup interpretation
    stats = notifier.stats()
    assert stats["sent"] == 1 and stats["below_level"] == 1 and stats["failed"] == 0


async def test_delivery_excluded_camera(sink: Sink) -> None:
    notifier = notifier_for([sink.url], Clock(local(12)), exclude_cameras=frozenset({"garage"}))
    notifier.on_event(notice(1, "critical", camera_id="garage", camera_name="Garage"))
    notifier.on_event(notice(2, "critical"))
    await notifier.drain()
    assert sink.titles() == ["CRITICAL risk - Front Door"]
    assert notifier.stats()["excluded"] == 1


async def test_delivery_quiet_hours_across_midnight(sink: Sink) -> None:
    clock = Clock(local(23, 30))
    notifier = notifier_for([sink.url], clock, quiet_hours=QUIET, min_level=RiskLevel.MEDIUM)
    notifier.on_event(notice(1, "critical", camera_id="a", camera_name="Drive"))
    notifier.on_event(notice(2, "high", camera_id="b", camera_name="Garden"))
    notifier.on_event(notice(3, "medium", camera_id="c", camera_name="Yard"))
    clock.now = local(6, 59, day=16)
    notifier.on_event(notice(4, "high", camera_id="d", camera_name="Porch"))
    clock.now = local(7, 0, day=16)
    notifier.on_event(notice(5, "high", camera_id="e", camera_name="Gate"))
    await notifier.drain()
    assert sink.titles() == ["CRITICAL risk - Drive", "HIGH risk - Gate"]
    assert [item["type"] for item in sink.received] == ["failure", "warning"]
    assert notifier.stats()["held_quiet"] == 3


async def test_delivery_cooldown_and_escalation(sink: Sink) -> None:
    clock = Clock(local(12))
    notifier = notifier_for([sink.url], clock)
    for event_id, minute in ((1, 0), (2, 1), (3, 2)):
        clock.now = local(12, minute)
        notifier.on_event(notice(event_id, "high"))
    clock.now = local(12, 3)
    notifier.on_event(notice(4, "critical"))
    await notifier.drain()
    assert sink.titles() == ["HIGH risk - Front Door", "Update: CRITICAL risk - Front Door"]
    assert sink.received[1]["type"] == "failure"
    assert notifier.stats()["cooldown"] == 2 and notifier.stats()["sent"] == 2


async def test_delivery_not_assessed_then_assessed(sink: Sink) -> None:
    notifier = notifier_for([sink.url], Clock(local(12)))
    notifier.on_event(notice(1, None))
    await notifier.drain()
    assert sink.received == []
    notifier.on_event(notice(1, "high"))
    await notifier.drain()
    assert sink.titles() == ["HIGH risk - Front Door"]
    assert notifier.stats()["not_assessed"] == 1


async def test_delivery_re_assessment_down_sends_a_correction(sink: Sink) -> None:
    clock = Clock(local(12))
    notifier = notifier_for([sink.url], clock)
    notifier.on_event(notice(1, "high"))
    clock.now = local(12, 1)
    notifier.on_event(notice(1, "low", summary="A neighbour collecting a parcel."))
    await notifier.drain()
    assert sink.titles() == ["HIGH risk - Front Door", "Update: now LOW - Front Door"]
    correction = sink.received[1]
    assert correction["type"] == "info"
    assert "was HIGH, now LOW" in correction["message"] and "neighbour" in correction["message"]


async def test_on_event_does_not_wait_for_the_delivery(sink: Sink) -> None:
    sink.gate = threading.Event()
    notifier = notifier_for([sink.url], Clock(local(12)))
    decision = notifier.on_event(notice(1, "high"))
    assert decision.outcome is Outcome.SEND
    assert sink.received == [] and notifier.stats()["pending"] == 1  # the sink is still holding the request
    sink.gate.set()
    await notifier.drain()
    assert sink.titles() == ["HIGH risk - Front Door"]
    assert notifier.stats()["pending"] == 0


async def test_delivery_retried_until_the_sink_recovers(sink: Sink) -> None:
    sink.fail_next = 2
    notifier = notifier_for([sink.url], Clock(local(12)))
    notifier.on_event(notice(1, "critical"))
    await notifier.drain()
    assert sink.requests == 3  # two failures, then the retry that worked
    assert sink.titles() == ["CRITICAL risk - Front Door"]
    assert notifier.stats()["sent"] == 1 and notifier.stats()["failed"] == 0


async def test_a_sink_failing_every_attempt_is_given_up_after_three(sink: Sink) -> None:
    sink.fail_next = 5
    notifier = notifier_for([sink.url], Clock(local(12)))
    notifier.on_event(notice(1, "critical"))
    await notifier.drain()
    assert sink.requests == 3 and sink.received == []
    assert notifier.stats()["failed"] == 1


async def test_a_sink_that_is_down_is_logged_and_does_not_stop_the_others(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    down = f"json://127.0.0.1:{port}/hook"
    notifier = notifier_for([down, sink.url], Clock(local(12)))
    with caplog.at_level(logging.ERROR, logger="backend.services.notifications"):
        decision = notifier.on_event(notice(1, "critical"))
        await notifier.drain()  # no exception
    assert decision.outcome is Outcome.SEND
    assert sink.titles() == ["CRITICAL risk - Front Door"]
    assert notifier.stats()["failed"] == 1 and notifier.stats()["sent"] == 1
    errors = [r.getMessage() for r in caplog.records if r.name == "backend.services.notifications"]
    assert any("#1 (json://) failed after 3 attempts" in message for message in errors)
    assert not any(f":{port}" in message for message in errors)  # the URL (tokens) is never logged
