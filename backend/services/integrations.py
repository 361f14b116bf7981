"""The home setup the service joins (issue #10): Frigate in over MQTT, Home Assistant and phones out.

Built from settings by the app (``HomeIntegrations.from_settings``), started after the batcher and the
dispatcher exist, told of every stored or re-assessed event (``on_event``), stopped at shutdown:

* with MQTT_URL: one ``MQTTLink`` (last will = Home Assistant availability "offline"), Frigate's topics under
  FRIGATE_TOPIC_PREFIX into ``FrigateIngest``, and ``HomeAssistantPublisher`` (discovery under
  HA_DISCOVERY_PREFIX, states under HA_STATE_PREFIX);
* with FRIGATE_URL: Frigate's cameras, detect resolutions and zones imported at start (``import_frigate_config``;
  retried in the background with backoff while Frigate is unreachable), and snapshot / clip links on events;
* with NOTIFY_URLS: ``Notifier`` (Apprise).

Nothing delivered is dropped while the database is down: a Frigate message whose handling meets a storage
outage is retried, in order, with backoff (1 s doubling to 30 s), holding back the messages behind it in the
link's inbox. ``status()`` is what ``/health`` shows under ``integrations``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.config.settings import BackendSettings
from backend.domain.errors import StorageUnavailableError
from backend.models import Camera, Event
from backend.services.analysis_dispatch import AnalysisDispatcher
from backend.services.batcher import Batcher
from backend.services.event_notice import EventNotice, notice_for
from backend.services.frigate_config import FrigateConfigError, ImportReport, import_frigate_config
from backend.services.frigate_ingest import TOPICS, FrigateIngest
from backend.services.home_assistant import HomeAssistantPublisher, availability_topic
from backend.services.ingest import FastPathRule
from backend.services.mqtt_link import MQTTLink, MQTTMessage, Will
from backend.services.notifications import Notifier
from backend.services.outages import storage_outage

logger = logging.getLogger(__name__)

OUTAGE_RETRY_FIRST_SECONDS = 1.0
OUTAGE_RETRY_MAX_SECONDS = 30.0
NOTIFY_DRAIN_SECONDS = 5.0  # at shutdown, how long notifications still being sent may take


@dataclass
class HomeIntegrations:
    """See the module docstring; every part is None when its setting is unset."""

    settings: BackendSettings
    sessions: async_sessionmaker[AsyncSession]
    link: MQTTLink | None = None
    frigate: FrigateIngest | None = None
    home_assistant: HomeAssistantPublisher | None = None
    notifier: Notifier | None = None
    frigate_config: dict[str, Any] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def from_settings(
        cls,
        settings: BackendSettings,
        sessions: async_sessionmaker[AsyncSession],
        batcher: Batcher,
        rule: FastPathRule,
        dispatcher: AnalysisDispatcher,
    ) -> HomeIntegrations:
        """The parts the settings ask for. Raises ValueError for a malformed MQTT_URL or NOTIFY_URLS entry."""
        integrations = cls(settings, sessions, notifier=Notifier.from_settings(settings))
        if settings.mqtt_url is not None:
            link = MQTTLink(
                settings.mqtt_url.get_secret_value(),
                client_id=settings.mqtt_client_id,
                will=Will(availability_topic(settings.ha_state_prefix), "offline", retain=True),
                reconnect_max_seconds=settings.mqtt_reconnect_max_seconds,
            )
            integrations.link = link
            integrations.home_assistant = HomeAssistantPublisher.from_settings(settings, link)  # subscribes now
            frigate = FrigateIngest(sessions, batcher, rule, settings, reassess=dispatcher.reassess)
            integrations.frigate = frigate
            prefix = settings.frigate_topic_prefix.strip("/")
            for topic in TOPICS:
                link.subscribe(f"{prefix}/{topic}", integrations._handle_frigate)
        return integrations

    async def start(self) -> None:
        """Imports Frigate's config (in the background if Frigate is not up yet), announces the known cameras
        to Home Assistant and connects to the broker (a broker that is down does not stop the start)."""
        if self.settings.frigate_url is not None:
            self._tasks.append(asyncio.create_task(self._import_frigate_config()))
        await self._announce_cameras()
        if self.link is not None:
            await self.link.start()
            logger.info("MQTT link started", extra={"broker": str(self.link.address)})

    async def on_event(self, event: Event) -> None:
        """Tells Home Assistant and the notifier of a stored or re-assessed event; never raises (an output
        that fails must not fail the analysis that stored the event)."""
        if self.home_assistant is None and self.notifier is None:
            return
        try:
            async with self.sessions() as session:
                notice = await notice_for(session, event, self.settings.frigate_url)
            await self.announce(notice)
        except Exception:
            logger.exception("event outputs failed", extra={"event_id": event.id, "camera_id": event.camera_id})

    async def announce(self, notice: EventNotice) -> None:
        if self.home_assistant is not None:
            await self.home_assistant.on_event(notice)
        if self.notifier is not None:
            self.notifier.on_event(notice)

    async def stop(self) -> None:
        """Stops the Frigate work, says "offline" to Home Assistant, disconnects, lets notifications finish."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.link is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await self.link.drain()
        if self.frigate is not None:
            await self.frigate.stop()
        if self.home_assistant is not None:
            await self.home_assistant.close()
        if self.link is not None:
            await self.link.stop()
        if self.notifier is not None:
            await self.notifier.drain(grace_seconds=NOTIFY_DRAIN_SECONDS)

    def status(self) -> dict[str, object]:
        """For /health: ``{"mqtt": {...} | "disabled", "frigate": {...}, "notifications": {...}}``."""
        return {
            "mqtt": self.link.status() if self.link is not None else "disabled",
            "frigate": {**(self.frigate.stats() if self.frigate is not None else {}), **self.frigate_config}
            if self.frigate is not None or self.frigate_config
            else "disabled",
            "notifications": self.notifier.stats() if self.notifier is not None else "disabled",
        }

    @property
    def degraded(self) -> bool:
        """True while MQTT is configured but the broker is not connected."""
        return self.link is not None and not self.link.connected

    # --- internals -----------------------------------------------------------------------------------------

    async def _announce_cameras(self) -> None:
        """Home Assistant discovery for every camera in the database (announcing one twice is harmless)."""
        if self.home_assistant is None:
            return
        async with self.sessions() as session:
            cameras = (await session.execute(select(Camera.id, Camera.name))).all()
        for camera_id, name in cameras:
            await self.home_assistant.announce_camera(camera_id, name)

    async def _handle_frigate(self, message: MQTTMessage) -> None:
        """One Frigate message, retried while storage is down (the messages behind it wait in the inbox)."""
        assert self.frigate is not None
        delay = OUTAGE_RETRY_FIRST_SECONDS
        while True:
            try:
                await self.frigate.handle(message)
                return
            except StorageUnavailableError as exc:
                error: BaseException = exc
            except Exception as exc:
                outage = storage_outage(exc)
                if outage is None:
                    raise
                error = outage
            logger.warning(
                "Frigate message waits for storage",
                extra={"topic": message.topic, "error": str(error), "retry_in_s": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, OUTAGE_RETRY_MAX_SECONDS)

    async def _import_frigate_config(self) -> None:
        assert self.settings.frigate_url is not None
        delay = OUTAGE_RETRY_FIRST_SECONDS
        frame = (self.settings.frigate_detect_width, self.settings.frigate_detect_height)
        while True:
            try:
                report = await import_frigate_config(self.sessions, self.settings.frigate_url, default_frame=frame)
            except FrigateConfigError as exc:
                self.frigate_config = {"config_import": f"error: {exc}"}
                if not exc.retryable:
                    logger.error("Frigate config not imported", extra={"error": str(exc)})
                    return
                logger.warning("Frigate unreachable: config import retried", extra={"retry_in_s": delay})
            except Exception as exc:
                if storage_outage(exc) is None:
                    raise
                logger.warning("storage down: Frigate config import retried", extra={"retry_in_s": delay})
            else:
                imported = _report_dict(report)
                self.frigate_config = {"config_import": "ok", "config": imported}
                logger.info("Frigate config imported", extra=imported)
                await self._announce_cameras()  # the cameras Frigate's config added
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, OUTAGE_RETRY_MAX_SECONDS)


def _report_dict(report: ImportReport) -> dict[str, object]:
    return {"cameras": len(report.cameras), "zones": report.zone_count}
