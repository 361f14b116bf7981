"""Phone notifications for the events that matter, through Apprise (issue #10, point 3).

Apprise (``apprise``, one URL scheme for ntfy, Pushover, Telegram, e-mail, Home Assistant notify, json:// ...)
does the delivery; what is ours is the policy: which events reach a phone, when, and how often. The policy is a
pure function, :func:`decide`, of (notice, state, now, policy) returning what to send and the next state;
:class:`Notifier` holds that state, counts outcomes and sends in the background.

Rules (a demanding home owner: every alarm matters, false alarms and repeats cost trust):

1. **Level.** An assessed event notifies when its level is at least NOTIFY_MIN_LEVEL (default high), in the
   order of ``backend.domain.risk_levels.LEVEL_ORDER``; below it: ``below_level``.
2. **Excluded cameras.** A camera in NOTIFY_EXCLUDE_CAMERAS (camera ids) never notifies: ``excluded``.
3. **Quiet hours.** During NOTIFY_QUIET_HOURS ("22:00-07:00", the home's local time from TIMEZONE; the span may
   cross midnight, start inclusive, end exclusive) everything below critical is held back: ``held_quiet``.
   Critical always goes out. A held-back event is NOT sent later (no morning digest): it is counted, and
   remembered, so an unchanged re-store of it after quiet hours stays silent too; only a rise of its level is
   judged again. Quiet hours are judged at the moment the phone would ring (``now``), not at the event's time.
4. **Cooldown, one incident = one notification.** After a message on a camera, another event on that camera
   within NOTIFY_COOLDOWN_SECONDS (default 300, counted from the last message sent on that camera) sends
   nothing (``cooldown``), unless its level is higher than the highest level already announced in the
   incident: an escalation is news, sent as an update of the incident ("Update: CRITICAL risk - Front Door").
   A long incident can therefore ring again once per cooldown. Corrections (rule 6) ignore the cooldown.
5. **Not assessed.** An event with status "not_assessed" (the LLM was down; no level) or any status without a
   level is never notified (no level, no basis): ``not_assessed``, and it leaves the state untouched. When the
   same event id later arrives assessed it is judged as a new arrival; if it had been announced before at
   another level, the message is an update or a correction (rule 6).
6. **Re-assessment of an announced event** (the state remembers, per event id, the level the phone was last
   told, and per camera the current incident):
   * same level: nothing (``unchanged``);
   * higher: an update, "Update: CRITICAL risk - Front Door" (quiet hours still hold back a rise to below
     critical; the cooldown does not apply);
   * lower: a short correction, "Update: now LOW - Front Door", sent at once whatever the level, quiet hours or
     cooldown: a wrong alarm is never left standing silently.
   An event that was judged but never announced (held, cooled down, below level) and comes back at the same
   level is ``unchanged`` as well.

The message: title "HIGH risk - Front Door" (level, camera name), body with the event's local time (TIMEZONE),
score, summary, recommended action and the Frigate snapshot and clip links when FRIGATE_URL is set. Links only,
no attachments: an attachment would make Apprise download the snapshot, which needs Frigate reachable from this
service and delays the alarm; a link is opened by the phone when the owner wants it. Apprise ``notify_type``:
failure for critical, warning for high, info below. Camera-derived text (summaries quote OCR, names) is
untrusted: it is cleaned with ``text_safety.sanitize_untrusted`` and sent with ``body_format=text`` so no target
interprets markup in it.

Sending never blocks and never fails the event pipeline: ``on_event`` decides at once and schedules the
delivery as a task. Each target (one NOTIFY_URLS entry) is delivered separately, in decision order, and retried
on failure (tenacity: 3 attempts, exponential backoff 1 s, 2 s); a target still failing is logged (never with
its URL, which holds tokens) and counted as ``failed``, never raised. ``drain()`` waits for deliveries in flight
(tests, shutdown).

State is kept in memory only: a restart forgets incidents and announced levels (worst case, one repeat
notification after a restart). Event records are forgotten after ``NotifyPolicy.memory`` (24 h) or beyond
``NotifyPolicy.max_events``, oldest first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING

import apprise
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from backend.domain.risk_levels import LEVEL_ORDER, RiskLevel
from backend.services.event_notice import EventNotice
from backend.services.text_safety import sanitize_untrusted

if TYPE_CHECKING:
    from backend.config.settings import BackendSettings

__all__ = [
    "Decision",
    "EventRecord",
    "Incident",
    "Message",
    "MessageKind",
    "Notifier",
    "NotifyPolicy",
    "NotifyState",
    "Outcome",
    "decide",
    "in_quiet_hours",
    "prune",
]

logger = logging.getLogger(__name__)

RETRY_ATTEMPTS = 3  # per target and message (the brief: 3 attempts, exponential backoff)
RETRY_WAIT_SECONDS = 1.0  # first backoff; doubles per attempt (1 s, 2 s)
RETRY_WAIT_MAX_SECONDS = 30.0
EVENT_MEMORY = timedelta(hours=24)  # how long a re-assessment of an event is recognised as such
MAX_EVENTS = 10_000
# lengths of untrusted text in a message (Pushover caps a message at 1024 characters; Apprise splits or
# truncates per service beyond that)
MAX_SUMMARY_CHARS = 600
MAX_ACTION_CHARS = 240
MAX_NAME_CHARS = 64
MAX_URL_CHARS = 500


class Outcome(StrEnum):
    """What ``decide`` made of a notice; every value but SEND is a reason for silence."""

    SEND = "send"
    BELOW_LEVEL = "below_level"
    EXCLUDED = "excluded"
    HELD_QUIET = "held_quiet"
    COOLDOWN = "cooldown"
    NOT_ASSESSED = "not_assessed"
    UNCHANGED = "unchanged"


class MessageKind(StrEnum):
    NEW = "new"  # first message of an incident
    UPDATE = "update"  # a rise: of an announced event, or of the camera's incident within the cooldown
    CORRECTION = "correction"  # an announced event re-assessed lower


@dataclass(frozen=True)
class Message:
    """One notification: ``title`` and ``body`` plain text, ``notify_type`` Apprise's (failure / warning /
    info by level), about ``event_id`` on ``camera_id`` at ``level``."""

    kind: MessageKind
    title: str
    body: str
    notify_type: apprise.NotifyType
    event_id: int
    camera_id: str
    level: RiskLevel


@dataclass(frozen=True)
class NotifyPolicy:
    """The settings ``decide`` applies (NOTIFY_MIN_LEVEL, NOTIFY_EXCLUDE_CAMERAS, NOTIFY_QUIET_HOURS in
    TIMEZONE, NOTIFY_COOLDOWN_SECONDS); ``memory`` and ``max_events`` bound the per-event state."""

    min_level: RiskLevel = RiskLevel.HIGH
    exclude_cameras: frozenset[str] = frozenset()
    quiet_hours: tuple[time, time] | None = None  # local (start, end); may cross midnight
    home_zone: tzinfo = UTC
    cooldown: timedelta = timedelta(seconds=300)
    memory: timedelta = EVENT_MEMORY
    max_events: int = MAX_EVENTS


@dataclass(frozen=True)
class EventRecord:
    """What is known of one event: its camera, the last level judged (``seen``), the level the phone was last
    told (``announced``, None: never announced) and when the record last changed (``at``, UTC)."""

    camera_id: str
    seen: RiskLevel
    announced: RiskLevel | None
    at: datetime


@dataclass(frozen=True)
class Incident:
    """A camera's current incident: the event of its last message, the highest level announced in it, and
    when that last message was decided (the cooldown runs from there)."""

    event_id: int
    level: RiskLevel
    sent_at: datetime


@dataclass(frozen=True)
class NotifyState:
    """Immutable notification state: event records keyed by event id, incidents keyed by camera id."""

    events: Mapping[int, EventRecord] = field(default_factory=dict)
    incidents: Mapping[str, Incident] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """``decide``'s answer: the outcome, the message to send when SEND, the next state, a reason for logs."""

    outcome: Outcome
    state: NotifyState
    message: Message | None = None
    reason: str = ""


def _rank(level: RiskLevel) -> int:
    return LEVEL_ORDER.index(level)


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC (as stored)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _level_of(notice: EventNotice) -> RiskLevel | None:
    if notice.status != "assessed" or notice.risk_level is None:
        return None
    try:
        return RiskLevel(notice.risk_level.strip().lower())
    except ValueError:
        return None


def in_quiet_hours(now: datetime, policy: NotifyPolicy) -> bool:
    """Whether ``now`` falls in the quiet hours, read in the home's zone; start inclusive, end exclusive,
    a span whose start is after its end crosses midnight. False without quiet hours."""
    if policy.quiet_hours is None:
        return False
    start, end = policy.quiet_hours
    local = _aware(now).astimezone(policy.home_zone).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def _notify_type(level: RiskLevel) -> apprise.NotifyType:
    if level is RiskLevel.CRITICAL:
        return apprise.NotifyType.FAILURE
    if level is RiskLevel.HIGH:
        return apprise.NotifyType.WARNING
    return apprise.NotifyType.INFO


def _local(moment: datetime, zone: tzinfo) -> str:
    return _aware(moment).astimezone(zone).strftime("%a %d %b %H:%M %Z").strip()


def _clean(text: str | None, max_len: int) -> str:
    return sanitize_untrusted(text, max_len) if text else ""


def _event_time(notice: EventNotice, now: datetime) -> datetime:
    return notice.started_at or notice.updated_at or now


def _message(
    notice: EventNotice,
    level: RiskLevel,
    kind: MessageKind,
    now: datetime,
    policy: NotifyPolicy,
    lead: str = "",
) -> Message:
    camera = _clean(notice.camera_name, MAX_NAME_CHARS) or _clean(notice.camera_id, MAX_NAME_CHARS) or "camera"
    name = level.value.upper()
    if kind is MessageKind.CORRECTION:
        title = f"Update: now {name} - {camera}"
    elif kind is MessageKind.UPDATE:
        title = f"Update: {name} risk - {camera}"
    else:
        title = f"{name} risk - {camera}"
    score = f"score {notice.risk_score}/100" if notice.risk_score is not None else "no score"
    lines = [f"{camera}, {_local(_event_time(notice, now), policy.home_zone)}, {score}"]
    if lead:
        lines.append(lead)
    summary = _clean(notice.summary, MAX_SUMMARY_CHARS)
    if summary:
        lines.append(summary)
    if kind is not MessageKind.CORRECTION:  # a correction stays short: what it is now, and why
        action = _clean(notice.recommended_action, MAX_ACTION_CHARS)
        if action:
            lines.append(f"Recommended: {action}")
    for label, url in (("Snapshot", notice.snapshot_url), ("Clip", notice.clip_url)):
        cleaned = _clean(url, MAX_URL_CHARS)
        if cleaned:
            lines.append(f"{label}: {cleaned}")
    return Message(
        kind=kind,
        title=title,
        body="\n".join(lines),
        notify_type=_notify_type(level),
        event_id=notice.event_id,
        camera_id=notice.camera_id,
        level=level,
    )


def _with(
    state: NotifyState,
    event_id: int,
    record: EventRecord,
    camera_id: str | None = None,
    incident: Incident | None = None,
) -> NotifyState:
    events = dict(state.events)
    events.pop(event_id, None)  # re-inserted last: dict order is least recently changed first (prune)
    events[event_id] = record
    incidents = state.incidents
    if camera_id is not None and incident is not None:
        incidents = {**state.incidents, camera_id: incident}
    return NotifyState(events=events, incidents=incidents)


def decide(notice: EventNotice, state: NotifyState, now: datetime, policy: NotifyPolicy) -> Decision:
    """Whether and what to notify for ``notice`` arriving at ``now`` (aware; naive is taken as UTC), given
    ``state``: a pure function (the module docstring's rules 1-6). Returns the outcome, the message when the
    outcome is SEND, and the next state (``state`` itself when nothing is learnt). Never raises for a notice."""
    now = _aware(now)
    level = _level_of(notice)
    if level is None:
        return Decision(Outcome.NOT_ASSESSED, state, reason=f"status {notice.status!r}, level {notice.risk_level!r}")
    if notice.camera_id in policy.exclude_cameras:
        return Decision(Outcome.EXCLUDED, state, reason=f"camera {notice.camera_id!r} is excluded")

    record = state.events.get(notice.event_id)
    quiet = level is not RiskLevel.CRITICAL and in_quiet_hours(now, policy)
    incident = state.incidents.get(notice.camera_id)
    active = incident is not None and now - _aware(incident.sent_at) < policy.cooldown
    seen = EventRecord(notice.camera_id, level, record.announced if record else None, now)

    if record is not None and record.announced is not None:
        announced = record.announced
        if level == announced or level == record.seen:
            return Decision(Outcome.UNCHANGED, _with(state, notice.event_id, seen), reason=f"still {level.value}")
        if _rank(level) < _rank(announced):
            lead = f"Re-assessed: was {announced.value.upper()}, now {level.value.upper()}."
            message = _message(notice, level, MessageKind.CORRECTION, now, policy, lead)
            corrected = replace(seen, announced=level)
            if incident is not None and incident.event_id == notice.event_id:
                return Decision(
                    Outcome.SEND,
                    _with(state, notice.event_id, corrected, notice.camera_id, replace(incident, level=level)),
                    message,
                    reason="correction",
                )
            return Decision(Outcome.SEND, _with(state, notice.event_id, corrected), message, reason="correction")
        if quiet:
            return Decision(Outcome.HELD_QUIET, _with(state, notice.event_id, seen), reason="rise in quiet hours")
        lead = f"Re-assessed: was {announced.value.upper()}, now {level.value.upper()}."
        message = _message(notice, level, MessageKind.UPDATE, now, policy, lead)
        top = incident.level if active and incident is not None and _rank(incident.level) > _rank(level) else level
        return Decision(
            Outcome.SEND,
            _with(
                state,
                notice.event_id,
                replace(seen, announced=level),
                notice.camera_id,
                Incident(notice.event_id, top, now),
            ),
            message,
            reason="re-assessed higher",
        )

    if record is not None and record.seen == level:
        return Decision(Outcome.UNCHANGED, _with(state, notice.event_id, seen), reason=f"still {level.value}")
    if _rank(level) < _rank(policy.min_level):
        return Decision(
            Outcome.BELOW_LEVEL,
            _with(state, notice.event_id, seen),
            reason=f"{level.value} < {policy.min_level.value}",
        )
    if quiet:
        return Decision(Outcome.HELD_QUIET, _with(state, notice.event_id, seen), reason="quiet hours")
    if active and incident is not None:
        if _rank(level) <= _rank(incident.level):
            return Decision(
                Outcome.COOLDOWN,
                _with(state, notice.event_id, seen),
                reason=f"incident at {incident.level.value} since {incident.sent_at.isoformat()}",
            )
        lead = (
            f"Escalation: this camera's {incident.level.value.upper()} alert of "
            f"{_local(incident.sent_at, policy.home_zone)} is now {level.value.upper()}."
        )
        message = _message(notice, level, MessageKind.UPDATE, now, policy, lead)
        reason = "incident escalated"
    else:
        message = _message(notice, level, MessageKind.NEW, now, policy)
        reason = "new incident"
    return Decision(
        Outcome.SEND,
        _with(
            state,
            notice.event_id,
            replace(seen, announced=level),
            notice.camera_id,
            Incident(notice.event_id, level, now),
        ),
        message,
        reason=reason,
    )


def prune(state: NotifyState, now: datetime, policy: NotifyPolicy) -> NotifyState:
    """``state`` without event records unchanged for longer than ``policy.memory`` and, beyond
    ``policy.max_events``, without the least recently changed ones; incidents past their cooldown go too."""
    now = _aware(now)
    horizon = now - policy.memory
    events = {key: rec for key, rec in state.events.items() if _aware(rec.at) >= horizon}
    if len(events) > policy.max_events:
        events = dict(list(events.items())[len(events) - policy.max_events :])
    incidents = {camera: inc for camera, inc in state.incidents.items() if now - _aware(inc.sent_at) < policy.cooldown}
    if len(events) == len(state.events) and len(incidents) == len(state.incidents):
        return state
    return NotifyState(events=events, incidents=incidents)


class _DeliveryFailed(Exception):
    """Apprise reported the target's notification as not delivered."""


@dataclass
class _Target:
    """One NOTIFY_URLS entry: its own Apprise instance (a retry re-sends to this target only), a label safe
    to log (position and scheme, never the URL: it holds tokens), and a lock keeping its messages in order."""

    label: str
    apprise: apprise.Apprise
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _utc_now() -> datetime:
    return datetime.now(UTC)


_COUNTERS = ("sent", "failed", "held_quiet", "cooldown", "below_level", "excluded", "not_assessed", "unchanged")


class Notifier:
    """Decides (``decide``) and delivers phone notifications for every stored or re-assessed event.

    ``urls``: Apprise URLs, one target each; ``policy``: the rules' settings; ``clock``: aware "now" (tests
    inject one); ``retry_attempts``, ``retry_wait_seconds``, ``retry_wait_max_seconds``: per-target tenacity
    retries (exponential: wait, 2 x wait, ... capped). Raises ValueError naming the position and scheme of a
    URL Apprise does not accept (never the URL itself).
    """

    def __init__(
        self,
        urls: Sequence[str],
        policy: NotifyPolicy,
        *,
        clock: Callable[[], datetime] = _utc_now,
        retry_attempts: int = RETRY_ATTEMPTS,
        retry_wait_seconds: float = RETRY_WAIT_SECONDS,
        retry_wait_max_seconds: float = RETRY_WAIT_MAX_SECONDS,
    ) -> None:
        if retry_attempts < 1:
            raise ValueError(f"retry_attempts must be at least 1, got {retry_attempts}")
        self.policy = policy
        self._clock = clock
        self._attempts = retry_attempts
        self._wait = retry_wait_seconds
        self._wait_max = retry_wait_max_seconds
        self._targets: list[_Target] = []
        for position, url in enumerate(urls, start=1):
            scheme = url.partition("://")[0] if "://" in url else "?"
            label = f"#{position} ({scheme}://)"
            target = apprise.Apprise()
            if not target.add(url):
                raise ValueError(f"NOTIFY_URLS entry {label} is not a URL Apprise accepts")
            self._targets.append(_Target(label, target))
        self._state = NotifyState()
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, settings: BackendSettings, *, clock: Callable[[], datetime] = _utc_now) -> Notifier | None:
        """A notifier on NOTIFY_URLS with NOTIFY_MIN_LEVEL, NOTIFY_EXCLUDE_CAMERAS, NOTIFY_QUIET_HOURS (in
        TIMEZONE) and NOTIFY_COOLDOWN_SECONDS; None when NOTIFY_URLS is empty. ValueError: a URL Apprise
        does not accept."""
        urls = [secret.get_secret_value().strip() for secret in settings.notify_urls]
        urls = [url for url in urls if url]
        if not urls:
            return None
        policy = NotifyPolicy(
            min_level=RiskLevel(settings.notify_min_level),
            exclude_cameras=frozenset(settings.notify_exclude_cameras),
            quiet_hours=settings.quiet_hours(),
            home_zone=settings.home_zone(),
            cooldown=timedelta(seconds=settings.notify_cooldown_seconds),
        )
        return cls(urls, policy, clock=clock)

    @property
    def state(self) -> NotifyState:
        """The current decision state (read-only snapshot)."""
        return self._state

    def stats(self) -> dict[str, int]:
        """Counters since start: ``sent`` / ``failed`` deliveries (per target and message, after retries),
        silences by reason (``held_quiet``, ``cooldown``, ``below_level``, ``excluded``, ``not_assessed``,
        ``unchanged``), and ``pending``: messages scheduled and not yet finished (all targets)."""
        return {**self._counts, "pending": sum(1 for task in self._tasks if not task.done())}

    def on_event(self, notice: EventNotice) -> Decision:
        """Judges ``notice`` now (``decide`` at the clock's time) and, when a message is due, schedules its
        delivery on the running loop without waiting for it. Returns the decision. Never raises: without a
        running event loop a due message is dropped, logged and counted as failed."""
        now = _aware(self._clock())
        decision = decide(notice, prune(self._state, now, self.policy), now, self.policy)
        self._state = decision.state
        if decision.message is None:
            self._counts[decision.outcome.value] = self._counts.get(decision.outcome.value, 0) + 1
            logger.debug(
                "event %s on %s: no notification (%s: %s)",
                notice.event_id,
                notice.camera_id,
                decision.outcome.value,
                decision.reason,
            )
            return decision
        logger.info(
            "event %s on %s: notifying (%s, %s)",
            notice.event_id,
            notice.camera_id,
            decision.message.kind.value,
            decision.reason,
        )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the event loop: the message cannot go, the caller must not fail
            self._counts["failed"] += len(self._targets)
            logger.error("event %s: notification dropped, no running event loop to send it", notice.event_id)
            return decision
        task = loop.create_task(self._send(decision.message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return decision

    async def drain(self, grace_seconds: float | None = None) -> None:
        """Waits for every delivery scheduled so far; with ``grace_seconds``, deliveries still running
        after it are cancelled and counted as failed. Never raises for a delivery."""
        pending = [task for task in self._tasks if not task.done()]
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace_seconds)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
            logger.warning("notifications: %d deliveries cancelled at drain after %s s", len(late), grace_seconds)

    async def _send(self, message: Message) -> None:
        await asyncio.gather(*(self._deliver(target, message) for target in self._targets))

    async def _deliver(self, target: _Target, message: Message) -> None:
        """Delivers ``message`` to one target, after that target's earlier messages (its lock is FIFO), with
        retries; counts ``sent`` or ``failed`` and logs a failure, never raises it (cancellation aside)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._wait, min=self._wait, max=self._wait_max),
            retry=retry_if_exception_type(Exception),
            before_sleep=lambda state: logger.warning(
                "notification for event %s to %s failed (attempt %d/%d): %s; retrying",
                message.event_id,
                target.label,
                state.attempt_number,
                self._attempts,
                state.outcome.exception() if state.outcome else "",
            ),
            reraise=True,
        )
        try:
            async with target.lock:
                await retrying(self._attempt, target, message)
        except asyncio.CancelledError:
            self._counts["failed"] += 1
            raise
        except Exception as exc:  # a phone service down must never fail the event pipeline
            self._counts["failed"] += 1
            logger.error(
                "notification for event %s to %s failed after %d attempts: %s",
                message.event_id,
                target.label,
                self._attempts,
                exc,
            )
        else:
            self._counts["sent"] += 1

    @staticmethod
    async def _attempt(target: _Target, message: Message) -> None:
        delivered = await target.apprise.async_notify(
            body=message.body,
            title=message.title,
            notify_type=message.notify_type,
            body_format=apprise.NotifyFormat.TEXT,
        )
        if not delivered:
            raise _DeliveryFailed(f"{target.label} did not accept the notification")
