"""MQTTLink against real Mosquitto brokers: the shared one (127.0.0.1:1883) for routing, private ones for
restarts. Nothing here is timed: waits are generous deadlines for messages to arrive. The last will is tested
with Home Assistant's availability (tests/backend/test_home_assistant.py, through a TCP relay that drops the
connection)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt
import pytest

from backend.services.mqtt_link import BrokerAddress, MQTTLink, MQTTMessage
from tests.backend.mqtt_broker import SHARED_BROKER, PrivateBroker, port_open

pytestmark = pytest.mark.skipif(not port_open(*SHARED_BROKER), reason="Mosquitto is not running on 127.0.0.1:1883")

WAIT = 30.0


def _id() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[PrivateBroker]:
    private = PrivateBroker(tmp_path / "broker")
    private.start()
    try:
        yield private
    finally:
        private.kill()


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Polls ``condition`` until it holds (a TimeoutError after WAIT seconds names ``what``)."""
    try:
        async with asyncio.timeout(WAIT):
            while not condition():  # noqa: ASYNC110 - polling state that other tasks change
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise TimeoutError(f"waited {WAIT} s for {what}") from None


class ResilientPublisher:
    """A Frigate stand-in: publishes QoS 1 and, when the broker goes away, reconnects and sends the message
    again until the broker acknowledges it (a message is 'published' once acknowledged)."""

    def __init__(self, url: str) -> None:
        self.address = BrokerAddress.parse(url)
        self.acknowledged: list[int] = []

    async def send_all(self, topic: str, count: int, pause: float = 0.0, on_sent: object = None) -> None:
        seq = 0
        while seq < count:
            try:
                async with aiomqtt.Client(self.address.hostname, self.address.port, identifier=_id()) as client:
                    while seq < count:
                        await client.publish(topic, json.dumps({"seq": seq}), qos=1, timeout=5)
                        self.acknowledged.append(seq)
                        if on_sent is not None:
                            await on_sent(seq)  # type: ignore[operator]
                        seq += 1
                        await asyncio.sleep(pause)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.2)


async def test_messages_reach_their_handler_in_order_and_publishes_are_received() -> None:
    prefix = _id()
    seen: list[tuple[str, int]] = []
    running = 0
    overlap = False

    async def handler(message: MQTTMessage) -> None:
        nonlocal running, overlap
        running += 1
        overlap = overlap or running > 1
        await asyncio.sleep(0.001)  # handlers must not run concurrently even when they await
        seen.append((message.topic, json.loads(message.payload)["seq"]))
        running -= 1

    link = MQTTLink(f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}", client_id=_id(), clean_session=True)
    link.subscribe(f"{prefix}/events", handler)
    link.subscribe(f"{prefix}/+/state", handler)
    await link.start()
    try:
        async with asyncio.timeout(WAIT):
            await link.wait_connected()
        for seq in range(50):
            await link.publish(
                f"{prefix}/events" if seq % 2 else f"{prefix}/cam{seq % 3}/state", json.dumps({"seq": seq})
            )
        await link.publish(f"{prefix}/unrelated", json.dumps({"seq": -1}))
        await _until(lambda: len(seen) >= 50, "50 messages")
        await link.drain()
    finally:
        await link.stop()
    assert [seq for _, seq in seen] == list(range(50))  # one connection, QoS 1: the broker keeps the order
    assert not overlap
    assert all(topic.startswith(prefix) and not topic.endswith("unrelated") for topic, _ in seen)
    assert link.status()["handled"] == 50


async def test_a_handler_that_raises_does_not_stop_the_next_message() -> None:
    prefix = _id()
    seen: list[int] = []

    async def handler(message: MQTTMessage) -> None:
        seq = json.loads(message.payload)["seq"]
        if seq == 1:
            raise ValueError("a malformed message")
        seen.append(seq)

    link = MQTTLink(f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}", client_id=_id(), clean_session=True)
    link.subscribe(f"{prefix}/#", handler)
    await link.start()
    try:
        async with asyncio.timeout(WAIT):
            await link.wait_connected()
        for seq in range(3):
            await link.publish(f"{prefix}/x", json.dumps({"seq": seq}))
        await _until(lambda: len(seen) >= 2, "the messages after the failing one")
    finally:
        await link.stop()
    assert seen == [0, 2]


async def test_publishes_wait_for_a_broker_that_starts_late(broker: PrivateBroker) -> None:
    broker.stop()
    topic = f"{_id()}/late"
    link = MQTTLink(broker.url, client_id=_id(), reconnect_max_seconds=0.5)
    await link.start()
    try:
        await link.publish(topic, "kept while the broker was down", retain=True)
        await asyncio.sleep(0.5)
        assert not link.connected and link.status()["last_error"]
        broker.start()
        async with asyncio.timeout(WAIT):
            await link.wait_connected()
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier=_id()) as reader:
            await reader.subscribe(topic, qos=1)
            async with asyncio.timeout(WAIT):
                message = await anext(aiter(reader.messages))
        assert message.payload == b"kept while the broker was down" and message.retain
    finally:
        await link.stop()


@pytest.mark.parametrize("restart", ["clean", "kill -9"])
async def test_a_broker_restart_mid_stream_loses_nothing_it_delivered(broker: PrivateBroker, restart: str) -> None:
    topic = f"{_id()}/events"
    handled: list[int] = []

    async def handler(message: MQTTMessage) -> None:
        handled.append(json.loads(message.payload)["seq"])

    link = MQTTLink(broker.url, client_id=_id(), reconnect_max_seconds=0.5)
    link.subscribe(topic, handler)
    await link.start()
    publisher = ResilientPublisher(broker.url)

    async def restart_midway(seq: int) -> None:
        if seq == 100:
            await asyncio.to_thread(broker.stop if restart == "clean" else broker.kill)
            await asyncio.to_thread(broker.start)
            # a broker killed with -9 may restart without our session (it saves it once a second): then what
            # is published before we subscribe again is delivered to nobody; wait for our link to be back
            await _until(lambda: link.status()["connects"] >= 2 and link.connected, "the link back")

    try:
        async with asyncio.timeout(WAIT):
            await link.wait_connected()
        await publisher.send_all(topic, 200, on_sent=restart_midway)
        await _until(lambda: link.connected and 199 in handled, "the last message after the restart")
        await link.drain()
    finally:
        await link.stop()
    status = link.status()
    assert status["connects"] >= 2  # it did reconnect
    assert status["handled"] == status["received"] == len(handled)  # every delivered message was handled
    assert set(range(101, 200)) <= set(handled)  # everything published after the restart arrived
    if restart == "clean":  # a clean stop saves the broker's queue: nothing at all is lost
        assert set(handled) == set(range(200))


async def test_the_broker_keeps_our_session_while_we_are_away(broker: PrivateBroker) -> None:
    topic, client_id = f"{_id()}/events", _id()
    handled: list[int] = []

    async def handler(message: MQTTMessage) -> None:
        handled.append(json.loads(message.payload)["seq"])

    first = MQTTLink(broker.url, client_id=client_id)
    first.subscribe(topic, handler)
    await first.start()
    async with asyncio.timeout(WAIT):
        await first.wait_connected()
    await first.stop()  # the service restarts: meanwhile Frigate goes on publishing

    await ResilientPublisher(broker.url).send_all(topic, 20)

    second = MQTTLink(broker.url, client_id=client_id)
    second.subscribe(topic, handler)
    await second.start()
    try:
        await _until(lambda: len(handled) >= 20, "the messages queued while away")
    finally:
        await second.stop()
    assert sorted(handled) == list(range(20))


def test_broker_urls() -> None:
    address = BrokerAddress.parse("mqtts://frigate:p%40ss@broker.lan")
    assert (address.hostname, address.port, address.username, address.password, address.tls) == (
        "broker.lan",
        8883,
        "frigate",
        "p@ss",
        True,
    )
    assert "p@ss" not in str(address)
    with pytest.raises(ValueError, match="MQTT_URL"):
        BrokerAddress.parse("http://broker.lan")
