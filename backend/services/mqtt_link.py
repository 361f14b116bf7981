"""The service's one MQTT connection: Frigate's topics in, Home Assistant's discovery and states out.

Built on aiomqtt (the asyncio client over Eclipse paho-mqtt, the reference Python MQTT client): a well-kept
library for the protocol; what is ours is the policy around it:

* **Reconnect with backoff.** A lost or refused connection is retried after 1 s, doubling up to
  ``reconnect_max_seconds`` (MQTT_RECONNECT_MAX_SECONDS); every subscription is made again on each connect,
  and each ``on_connect`` callback runs (Home Assistant: re-announce availability and discovery configs).
* **A persistent session.** The client id is fixed (MQTT_CLIENT_ID) and ``clean_session`` is off (MQTT 3.1.1),
  so while the service is away the broker queues QoS 1 messages for it and delivers them on reconnect.
* **Nothing delivered is dropped.** Each received message goes at once into this link's own queue, which
  outlives connections; one consumer task hands messages to their handler in the order received, so a
  broker restart cannot discard a message the broker already delivered, and handlers never run concurrently
  (Frigate's update of an object never overtakes its "new"). A handler that raises is logged and the next
  message goes on.
* **Publishes wait for the connection.** ``publish`` queues while disconnected and is sent on reconnect (QoS 1
  messages the broker did not acknowledge are sent again by the next connection).
* **Availability.** A last will (``will``) makes the broker publish "offline" when the connection dies; the
  caller publishes "online" from ``on_connect``.

``status()`` is what ``/health`` shows: connected or not, since when, reconnects, the last error.

Errors: ``MQTTLink(url)`` raises ValueError for a URL that is not ``mqtt://`` or ``mqtts://``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.client import topic_matches_sub

logger = logging.getLogger(__name__)

Handler = Callable[["MQTTMessage"], Awaitable[None]]
ConnectCallback = Callable[[], Awaitable[None]]

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
KEEPALIVE_SECONDS = 30
FIRST_RECONNECT_SECONDS = 1.0
PUBLISH_QUEUE_MAX = 10_000  # messages waiting for a connection; beyond this the oldest is dropped


@dataclass(frozen=True)
class MQTTMessage:
    """A received message: ``topic`` as published, ``payload`` raw bytes, ``retain`` the broker's flag,
    ``received_at`` when this link got it (UTC)."""

    topic: str
    payload: bytes
    retain: bool = False
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Will:
    """The last will: what the broker publishes for us when our connection dies."""

    topic: str
    payload: str
    retain: bool = True
    qos: int = 1


@dataclass(frozen=True)
class _Outgoing:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is, parsed from MQTT_URL (``mqtt://user:pass@host:1883``, ``mqtts://`` for TLS)."""

    hostname: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("MQTT_URL must look like mqtt://[user:password@]host[:port] (or mqtts:// for TLS)")
        return cls(
            hostname=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "mqtts",
        )

    def __str__(self) -> str:  # never the password
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.hostname}:{self.port}"


class MQTTLink:
    """One MQTT connection kept up for the life of the service; see the module docstring.

    Register ``subscribe`` handlers and ``on_connect`` callbacks before ``start()``; ``stop()`` disconnects
    cleanly (the broker then does not publish the will: the caller publishes "offline" first if it wants).
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        will: Will | None = None,
        reconnect_max_seconds: float = 30.0,
        clean_session: bool = False,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.client_id = client_id
        self.will = will
        self.reconnect_max_seconds = reconnect_max_seconds
        self.clean_session = clean_session
        self._handlers: list[tuple[str, int, Handler]] = []
        self._on_connect: list[ConnectCallback] = []
        self._inbox: asyncio.Queue[MQTTMessage] = asyncio.Queue()
        self._outbox: asyncio.Queue[_Outgoing] = asyncio.Queue(maxsize=PUBLISH_QUEUE_MAX)
        self._client: aiomqtt.Client | None = None
        self._unsent: _Outgoing | None = None
        self._connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.connected_since: datetime | None = None
        self.connects = 0
        self.received = 0
        self.handled = 0
        self.last_error: str = ""

    # --- set-up --------------------------------------------------------------------------------------------

    def subscribe(self, topic_filter: str, handler: Handler, *, qos: int = 1) -> None:
        """Calls ``handler`` for each message on ``topic_filter`` (MQTT wildcards ``+`` and ``#``)."""
        self._handlers.append((topic_filter, qos, handler))

    def on_connect(self, callback: ConnectCallback) -> None:
        """Runs ``callback`` after each successful connect (the first and every reconnect)."""
        self._on_connect.append(callback)

    async def start(self) -> None:
        """Starts connecting (in the background: a broker that is down does not stop the service)."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._run()), asyncio.create_task(self._consume())]

    async def stop(self) -> None:
        """Stops the consumer and disconnects; messages still queued in the inbox are handled first (up to
        a few seconds), so a clean stop loses nothing that was delivered."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), timeout=5.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._connected.clear()

    # --- use -----------------------------------------------------------------------------------------------

    async def publish(self, topic: str, payload: str | bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Sends ``payload`` now if connected, else on the next connect. Never raises for a lost connection."""
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        message = _Outgoing(topic, data, qos, retain)
        if self._outbox.full():  # a long outage: drop the oldest rather than grow without bound
            with contextlib.suppress(asyncio.QueueEmpty):
                self._outbox.get_nowait()
            logger.warning("MQTT publish queue full: the oldest waiting message was dropped")
        self._outbox.put_nowait(message)

    async def drain(self) -> None:
        """Waits until every message received so far has been handled (tests, shutdown)."""
        await self._inbox.join()

    async def wait_connected(self) -> None:
        """Returns once connected (wrap it in ``asyncio.timeout``)."""
        await self._connected.wait()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def status(self) -> dict[str, object]:
        """For /health: ``{"broker", "connected", "since", "connects", "received", "handled", "last_error"}``."""
        return {
            "broker": str(self.address),
            "connected": self.connected,
            "since": self.connected_since.isoformat() if self.connected_since else None,
            "connects": self.connects,
            "received": self.received,
            "handled": self.handled,
            "last_error": self.last_error,
        }

    # --- the connection ------------------------------------------------------------------------------------

    def _client_for(self) -> aiomqtt.Client:
        will = (
            aiomqtt.Will(self.will.topic, self.will.payload, qos=self.will.qos, retain=self.will.retain)
            if self.will
            else None
        )
        return aiomqtt.Client(
            hostname=self.address.hostname,
            port=self.address.port,
            username=self.address.username,
            password=self.address.password,
            identifier=self.client_id,
            clean_session=self.clean_session,
            protocol=aiomqtt.ProtocolVersion.V311,
            keepalive=KEEPALIVE_SECONDS,
            will=will,
            tls_context=ssl.create_default_context() if self.address.tls else None,
        )

    async def _run(self) -> None:
        delay = FIRST_RECONNECT_SECONDS
        while True:
            try:
                async with self._client_for() as client:
                    self._client = client
                    for topic_filter, qos, _ in self._handlers:
                        await client.subscribe(topic_filter, qos=qos)
                    self._connected.set()
                    self.connected_since = datetime.now(UTC)
                    self.connects += 1
                    delay = FIRST_RECONNECT_SECONDS
                    logger.info("MQTT connected", extra={"broker": str(self.address), "connects": self.connects})
                    await self._connected_session(client)
            except aiomqtt.MqttError as exc:
                self.last_error = str(exc) or type(exc).__name__
            finally:
                was_connected = self._connected.is_set()
                self._connected.clear()
                self._client = None
                self.connected_since = None
            logger.warning(
                "MQTT connection lost" if was_connected else "MQTT broker unreachable",
                extra={"broker": str(self.address), "error": self.last_error, "retry_in_s": delay},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max_seconds)

    async def _connected_session(self, client: aiomqtt.Client) -> None:
        """Runs while connected: callbacks, the publisher and the receiver; returns (raises) when the link dies."""
        for callback in self._on_connect:
            try:
                await callback()
            except aiomqtt.MqttError:
                raise
            except Exception:
                logger.exception("MQTT on_connect callback failed")
        tasks = [asyncio.create_task(self._send(client)), asyncio.create_task(self._receive(client))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # the MqttError that ended the connection (both loops only end by raising)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
            self.received += 1
            self._inbox.put_nowait(MQTTMessage(message.topic.value, bytes(payload), bool(message.retain)))
        raise aiomqtt.MqttError("message stream ended")

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            message = self._unsent or await self._outbox.get()
            self._unsent = message  # until the broker has it: a lost connection sends it first next time
            await client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
            self._unsent = None

    async def _consume(self) -> None:
        while True:
            message = await self._inbox.get()
            try:
                for topic_filter, _, handler in self._handlers:
                    if topic_matches_sub(topic_filter, message.topic):
                        try:
                            await handler(message)
                        except Exception:
                            logger.exception("MQTT message handler failed", extra={"topic": message.topic})
                self.handled += 1
            finally:
                self._inbox.task_done()
