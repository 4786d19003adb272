"""The MQTT side: the embedded amqtt broker (in-process) or an external broker's URL.

The embedded broker authenticates every client (a device: its ICCID and device token; the
emulator's own login) before the CONNECT can touch a stored session (`amqtt_broker`), and
confines each device to its own topic root (`mqtt_auth`). It
stores device reports through the `IngestGate` before acknowledging them, so nothing the
broker accepted can be missed. The packet-logging plugin is left out so that a device's
credentials can never reach a log. External brokers: see `mqtt_client` and `mosquitto`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator.errors import BadRequest

if TYPE_CHECKING:
    from emulator.backend import Backend

DEFAULT_EMBEDDED_PORT = 1883
_EMBEDDED = re.compile(r"^embedded(?::(\d{1,5}))?$")
_EXTERNAL = re.compile(r"^(mqtts?)://([^:/\s]+|\[[0-9a-fA-F:]+\]):(\d{1,5})/?$")


@dataclass(frozen=True)
class MqttSetting:
    """`--mqtt`: an embedded broker on `port` (0: any free port) or an external URL."""

    embedded: bool
    host: str
    port: int
    tls: bool = False

    @property
    def url(self) -> str:
        """`mqtt://HOST:PORT` (`mqtts://` with TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"


def parse_mqtt(value: str, bind_host: str = "127.0.0.1") -> MqttSetting:
    """Parse `embedded[:PORT]` or `mqtt://HOST:PORT`."""
    if match := _EMBEDDED.match(value):
        port = int(match.group(1)) if match.group(1) else DEFAULT_EMBEDDED_PORT
        if port > 65535:
            raise BadRequest(f"--mqtt: port out of range in {value!r}")
        return MqttSetting(True, bind_host, port)
    if match := _EXTERNAL.match(value):
        port = int(match.group(3))
        if not 0 < port <= 65535:
            raise BadRequest(f"--mqtt: port out of range in {value!r}")
        return MqttSetting(False, match.group(2).strip("[]"), port, match.group(1) == "mqtts")
    raise BadRequest(f"--mqtt must be embedded[:PORT] or mqtt://HOST:PORT, not {value!r}")


class EmbeddedBroker:
    """An amqtt broker in the running event loop that ingests device reports.

    `start()` starts the ingest writer before the listener, so the very first device
    message is stored; `stop()` closes the listener and every session, then stores what
    is still queued before returning.
    """

    def __init__(self, host: str, port: int, backend: Backend) -> None:
        from emulator.ingest import BatchWriter
        from emulator.models.credentials import ingest_login
        from emulator.mqtt_auth import IngestGate

        self.host = host
        self.requested_port = port
        self.port = port
        self.writer = BatchWriter(backend.devices)
        self.gate = IngestGate(backend, self.writer, ingest_login(backend.store))
        self._broker: Any = None

    async def start(self) -> None:
        """Listen; with port 0 the actual port is known afterwards."""
        from emulator.amqtt_broker import GuardedBroker

        plugin_config = {"gate": self.gate}
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.requested_port}"}},
            "plugins": {
                "emulator.mqtt_auth.DeviceAuthPlugin": plugin_config,
                "emulator.mqtt_auth.DeviceTopicPlugin": plugin_config,
            },
        }
        self.writer.start()
        try:
            self._broker = GuardedBroker(config, topic_check=self.gate.permits)
            self.gate.broker = self._broker
            await self._broker.start()
        except BaseException:
            self._broker = None
            self.writer.stop()
            raise
        server = self._broker._servers["default"].instance
        self.port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close the listener and every session; store what is queued; stop the writer."""
        if self._broker is not None:
            broker, self._broker = self._broker, None
            _drop_connections(broker)
            await broker.shutdown()
            await self.gate.close()
        if self.writer.running:
            await asyncio.to_thread(self.writer.stop)

    async def publish(self, topic: str, payload: bytes) -> None:
        """Publish as the emulator (QoS 1); ConnectionError when the broker is stopped."""
        await self.gate.publish(topic, payload)

    @property
    def url(self) -> str:
        """`mqtt://HOST:PORT`."""
        return f"mqtt://{self.host}:{self.port}"

    def status(self) -> dict[str, object]:
        """For `GET /_emulator/mqtt`."""
        return {
            "url": self.url,
            "embedded": True,
            "connected": self._broker is not None,
            "ingest": self.writer.counts.to_dict(),
        }


def _drop_connections(broker: Any) -> None:
    """Abort every client connection before `Broker.shutdown()`.

    amqtt's shutdown cancels each session's reader task and waits for it; on Python 3.11
    `asyncio.wait_for` can swallow that cancellation when a packet arrives at the same
    moment, and the wait never ends while the client keeps its connection open. An
    aborted connection ends the reader with EOF whatever happened to the cancellation.
    (Devices see a lost connection and reconnect later; their will says "offline".)
    """
    for _, handler in list(broker._sessions.values()):
        writer = getattr(getattr(handler, "writer", None), "_writer", None)
        transport = getattr(writer, "transport", None)
        if transport is not None:
            transport.abort()
